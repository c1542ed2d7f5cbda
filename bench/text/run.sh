#!/bin/sh
# The text demo and benchmark: SpamAssassin split by collection date (train
# on the older mail, test on the later), four teachers on four views, an
# embedding-bag student distilled with avg-loss and AE-KD, and fastText
# (Debian's `fasttext supervised`) with the same dim, n-gram orders, hash
# buckets and threads (students 2 epochs, fastText its default 5). Prints
# one table and writes RESULTS.md.
# Usage: bench/text/run.sh [THREADS] [OUT]   (defaults: 2, out/demo-text)
# Training time runs from reading the training file to the saved model, for
# both tools; each is timed REPS times, alternating, and the fastest run
# kept, since other work on the machine only ever adds time.
set -e
threads="${1:-2}"
out="${2:-out/demo-text}"
reps=3
dim=32
bits=18
epochs=5        # teachers
st_epochs=2     # students
ft_epochs=5     # fastText's default
bin=build/disagree
data=data/spam
here=$(dirname "$0")

command -v fasttext >/dev/null || { echo "run.sh: fasttext missing: make deps-bench" >&2; exit 1; }
sh scripts/fetch-spamassassin "$data"
mkdir -p "$out"

now() { date +%s.%N; }
# The number after "key": in a one-level JSON file.
json() { sed -n "s/.*\"$2\": *\([-0-9.eE+naN]*\).*/\1/p" "$1" | head -n 1; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
bytes() { wc -c < "$1" | tr -d ' '; }

echo "== teachers: four views, softmax regression each"
t0=$(now)
$bin text teach --train $data/train.jsonl --test $data/test.jsonl --out "$out/teach" \
    --bits $bits --epochs $epochs --threads "$threads" --json "$out/teach.json"
teach_secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
teachers=$(ls "$out"/teach/t*.train.npy | tr '\n' ',' | sed 's/,$//')

student() { # method json
    $bin text distill --train $data/train.jsonl --test $data/test.jsonl \
        --teachers "$teachers" --method "$1" --student bag --dim $dim --words 1-2 \
        --bits $bits --epochs $st_epochs --lr 0.03 --threads "$threads" \
        --out "$out/$1.dgt" --json "$2" > /dev/null
}

fasttext_run() { # prints wall seconds
    s=$(now)
    fasttext supervised -input $data/train.ft.txt -output "$out/fasttext" -dim $dim \
        -wordNgrams 2 -bucket $((1 << bits)) -epoch $ft_epochs -thread "$threads" -verbose 0
    awk -v a="$s" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

echo "== students and fastText, $reps timed runs each, $threads threads"
best_avg="" best_aekd="" best_ft=""
for r in $(seq $reps); do
    student avg-loss "$out/avg-loss.json"
    best_avg=$(min "$(json "$out/avg-loss.json" seconds)" "$best_avg")
    student aekd "$out/aekd.json"
    best_aekd=$(min "$(json "$out/aekd.json" seconds)" "$best_aekd")
    best_ft=$(min "$(fasttext_run)" "$best_ft")
done

# fastText's accuracy and spam F1 from its predictions on the same test mail
fasttext predict "$out/fasttext.bin" $data/test.ft.txt > "$out/fasttext.pred"
ft_scores=$(cut -d' ' -f1 $data/test.ft.txt | paste -d' ' - "$out/fasttext.pred" | awk '
    { n++; t = $1; p = $2; hit += t == p
      if (p == "__label__spam" && t == "__label__spam") tp++
      else if (p == "__label__spam") fp++
      else if (t == "__label__spam") fn++ }
    END { printf "%.4f %.4f", hit / n, 2 * tp / (2 * tp + fp + fn) }')

row() { # name acc f1 secs bytes
    printf "| %-28s | %8.4f | %8.4f | %9.2f | %10.1f |\n" "$1" "$2" "$3" "$4" \
        "$(awk -v b="$5" 'BEGIN { print b / 1048576 }')"
}
table="$out/table.md"
{
    echo "| model | accuracy | spam F1 | train s | size (MiB) |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    row "fastText (dim $dim, 1-2-grams)" ${ft_scores% *} ${ft_scores#* } "$best_ft" \
        "$(bytes "$out/fasttext.bin")"
    for m in avg-loss aekd; do
        [ $m = aekd ] && secs=$best_aekd || secs=$best_avg
        row "bag student, $m" "$(json "$out/$m.json" test_accuracy)" \
            "$(json "$out/$m.json" test_f1)" "$secs" "$(bytes "$out/$m.dgt")"
    done
} > "$table"
echo
cat "$table"
echo "(teachers: $teach_secs s for all four; per view in $out/teach.json)"

{
    echo "# Text distillation against fastText on SpamAssassin"
    echo
    echo "Command: \`make demo-text\` (runs \`sh bench/text/run.sh $threads\`)," \
        "$(date -u +%Y-%m-%d)."
    echo "Train: easy-ham-1, hard-ham-1, spam-1 (3,250 mails, 15% spam); test: easy-ham-2,"
    echo "spam-2 (2,796 mails, 50% spam): a split by collection date, so a real shift."
    echo "Both models: dim $dim, word 1-2-grams hashed into 2^$bits buckets, $threads threads;"
    echo "students $st_epochs epochs (Adam, lr 0.03, batch 32), fastText $ft_epochs (its defaults)."
    echo "Training time: read the training file to the saved model, fastest"
    echo "of $reps alternating runs. The students also need the four teachers"
    echo "($teach_secs s, not included). fastText reads text lower-cased and split by"
    echo "scripts/fetch-spamassassin (untimed); the students normalise and tokenise the raw"
    echo "mail inside their timed run."
    echo
    cat "$table"
    echo
    echo "Teachers (softmax regression, one view each):"
    echo
    echo '```'
    cat "$out/teach.json"
    echo '```'
} > "$here/RESULTS.md"
echo "run.sh: wrote $here/RESULTS.md"
