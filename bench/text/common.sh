# Helpers shared by bench/text/tune.sh and bench/text/run.sh (sourced, not
# run): the shared model settings, a wall clock, JSON and fastText scoring,
# and the two ways to train (a distilled bag student, fastText supervised).
# Expects $bin, $threads and $out to be set by the caller.

dim=32          # embedding dim, both tools
bits=18         # 2^18 hash buckets, both tools
teach_epochs=5  # the teachers keep text teach's defaults: they are not tuned

# Defaults, reported for reference: text distill's (Adam, batch 32) and
# fastText's own; dim, buckets and threads are the shared ones above.
st_default_epochs=5
st_default_lr=0.02
ft_default_epoch=5
ft_default_lr=0.1
ft_default_ngrams=1

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# The number after "key": in a one-level JSON file.
json() { sed -n "s/.*\"$2\": *\([-0-9.eE+naN]*\).*/\1/p" "$1" | head -n 1; }
bytes() { wc -c < "$1" | tr -d ' '; }

# Accuracy and spam F1 of fastText predictions: ft_scores TRUTH.ft.txt PRED
ft_scores() {
    cut -d' ' -f1 "$1" | paste -d' ' - "$2" | awk '
        { n++; t = $1; p = $2; hit += t == p
          if (p == "__label__spam" && t == "__label__spam") tp++
          else if (p == "__label__spam") fp++
          else if (t == "__label__spam") fn++ }
        END { printf "%.4f %.4f", hit / n, 2 * tp / (2 * tp + fp + fn) }'
}

# Trains fastText and prints its wall seconds:
# ft_train TRAIN.ft.txt MODEL_PREFIX EPOCH LR NGRAMS
ft_train() {
    s=$(now)
    fasttext supervised -input "$1" -output "$2" -dim $dim -bucket $((1 << bits)) \
        -epoch "$3" -lr "$4" -wordNgrams "$5" -thread "$threads" -verbose 0
    since "$s"
}

# Distils a bag student (word 1-2-grams) and prints its wall seconds, from
# reading the training mail to the saved model; --test, when given, is scored
# after the clock stops (and the score goes to JSON).
# st_train TRAIN.jsonl TEACHERS METHOD EPOCHS LR MODEL JSON [TEST.jsonl]
st_train() {
    s=$(now)
    $bin text distill --train "$1" --teachers "$2" --method "$3" --student bag --dim $dim \
        --words 1-2 --bits $bits --epochs "$4" --lr "$5" --threads "$threads" \
        --positive spam --out "$6" --json "$7" ${8:+--test "$8"} > /dev/null
    since "$s"
}

# The machine, for the reports.
machine() {
    printf '%s, %s cores' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        "$(nproc)"
}
