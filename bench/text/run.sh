#!/bin/sh
# The text demo and benchmark: SpamAssassin split by collection date (train
# on the older mail, test on the later), four teachers on four views, an
# embedding-bag student distilled with avg-loss and AE-KD, and fastText
# (Debian's `fasttext supervised`) with the same dim, hash buckets and threads.
# Epochs, lr (and fastText's wordNgrams) come from bench/text/tuned.env,
# picked on validation mail by bench/text/tune.sh (run first when missing);
# both tools' defaults are reported too. Everything trains on the full
# training set and is scored once on the test set. Writes RESULTS.md.
# Usage: bench/text/run.sh [THREADS] [OUT]   (defaults: 2, out/demo-text)
# Training time is each process's wall clock, reading the training file to the
# saved model (test scoring runs afterwards, untimed); each model is trained
# REPS times, alternating, and the median, min and max kept, of the time and
# of the test accuracy (fastText on several threads is not deterministic).
set -e
threads="${1:-2}"
out="${2:-out/demo-text}"
reps=3
bin=build/disagree
data=data/spam
here=$(dirname "$0")
. "$here/common.sh"

command -v fasttext >/dev/null || { echo "run.sh: fasttext missing: make deps-bench" >&2; exit 1; }
sh scripts/fetch-spamassassin "$data"
[ -f "$here/tuned.env" ] || sh "$here/tune.sh" "$threads"
. "$here/tuned.env"
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# name|kind|method-or-ngrams|epochs|lr  (kind: st = bag student, ft = fastText)
models="ft-tuned|ft|$ft_ngrams|$ft_epoch|$ft_lr
aekd-tuned|st|aekd|$aekd_epochs|$aekd_lr
avg-tuned|st|avg-loss|$avg_epochs|$avg_lr
ft-default|ft|$ft_default_ngrams|$ft_default_epoch|$ft_default_lr
aekd-default|st|aekd|$st_default_epochs|$st_default_lr
avg-default|st|avg-loss|$st_default_epochs|$st_default_lr"

# Scores model NAME of KIND on the test set, untimed: prints "accuracy spam-F1".
score() { # name kind
    if [ "$2" = ft ]; then
        fasttext predict "$out/$1.bin" $data/test.ft.txt > "$out/$1.pred"
        ft_scores $data/test.ft.txt "$out/$1.pred"
    else
        $bin text eval --model "$out/$1.dgt" --data $data/test.jsonl --positive spam \
            --json "$out/$1.test.json" > /dev/null
        echo "$(json "$out/$1.test.json" accuracy) $(json "$out/$1.test.json" f1)"
    fi
}

runs="$out/runs.txt"  # name seconds accuracy spam-F1, one line per run
: > "$runs"
echo "== $reps rounds, $threads threads: teachers, then each model in turn"
for r in $(seq $reps); do
    s=$(now)
    $bin text teach --train $data/train.jsonl --test $data/test.jsonl --out "$out/teach" \
        --bits $bits --epochs $teach_epochs --threads "$threads" --json "$out/teach.json" \
        > /dev/null
    echo "teachers $(since "$s") - -" >> "$runs"
    teachers=$(ls "$out"/teach/t*.train.npy | tr '\n' ',' | sed 's/,$//')
    echo "$models" | while IFS='|' read -r name kind x e lr; do
        if [ "$kind" = ft ]; then
            secs=$(ft_train $data/train.ft.txt "$out/$name" "$e" "$lr" "$x")
        else
            secs=$(st_train $data/train.jsonl "$teachers" "$x" "$e" "$lr" "$out/$name.dgt" \
                "$out/$name.train.json")
        fi
        sc=$(score "$name" "$kind")
        echo "$name $secs $sc" >> "$runs"
        echo "round $r: $name $secs s, test accuracy and spam F1 $sc"
    done
done

# median (min-max) of column COL over one model's runs, with DIGITS decimals
spread() { # name col digits
    awk -v m="$1" -v k="$2" '$1 == m { print $k }' "$runs" | sort -g | awk -v d="$3" '
    { v[NR] = $1 }
    END { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          f = "%." d "f"; printf f " (" f "-" f ")", med, v[1], v[NR] }'; }
median() { s=$(spread "$@"); echo "${s%% *}"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

scores="$out/scores.txt"  # name median-accuracy median-seconds
: > "$scores"
table="$out/table.md"
{
    echo "| model | settings | test accuracy, median (min-max) | test spam F1, median |" \
        "train s, median (min-max) | size MiB |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    echo "$models" | while IFS='|' read -r name kind x e lr; do
        case $name in *-tuned) how="picked on validation" ;; *) how="defaults" ;; esac
        if [ "$kind" = ft ]; then
            model="$out/$name.bin" label="fastText" set="epoch $e, lr $lr, wordNgrams $x"
        else
            model="$out/$name.dgt" label="bag student, $x"
            set="epochs $e, lr $lr, word 1-2-grams"
        fi
        echo "$name $(median "$name" 3 4) $(median "$name" 2 2)" >> "$scores"
        printf '| %s | %s; %s | %s | %s | %s | %s |\n' "$label" "$how" "$set" \
            "$(spread "$name" 3 4)" "$(median "$name" 4 4)" "$(spread "$name" 2 2)" \
            "$(mib "$(bytes "$model")")"
    done
    printf '| teachers (4 views, for the students) | defaults; epochs %s | | | %s | |\n' \
        $teach_epochs "$(spread teachers 2 2)"
} > "$table"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
cat "$table"
echo "(load average before: $load_before; after: $load_after)"

# The verdicts, from the figures: aekd (tuned) against fastText (tuned).
get() { awk -v m="$1" -v k="$2" '$1 == m { print $k }' "$scores"; }
teach_med=$(median teachers 2 2)
verdict=$(awk -v a="$(get aekd-tuned 2)" -v f="$(get ft-tuned 2)" \
    -v ta="$(get aekd-tuned 3)" -v tf="$(get ft-tuned 3)" -v tt="$teach_med" 'BEGIN {
    d = (a - f) * 100
    if (d >= 0) acc = "better than fastText"
    else if (d >= -1) acc = "within 1 point of fastText"
    else acc = "more than 1 point below fastText"
    alone = ta <= tf ? "no more time" : "more time"
    both = ta + tt <= tf ? "still no more than fastText" : "more than fastText"
    printf "- Accuracy (medians): the aekd bag student scores %.4f against fastText %.4f, ", a, f
    printf "%+.2f points: %s.\n", d, acc
    printf "- Time: the student alone trains in %.2f s (median) against fastText %.2f s ", ta, tf
    printf "on the same threads: %s. ", alone
    printf "With its four teachers (%.2f s) it needs %.2f s: %s.\n", tt, ta + tt, both }')
echo "$verdict"
aekd_vs_avg=$(awk -v a="$(get aekd-tuned 2)" -v v="$(get avg-tuned 2)" 'BEGIN {
    printf "- AE-KD against plain averaging (avg-loss), both picked on validation: "
    printf "%.4f against %.4f, %+.2f points.", a, v, (a - v) * 100 }')
echo "$aekd_vs_avg"

# fastText's errors on the test set, by true class
ft_errors=$(cut -d' ' -f1 $data/test.ft.txt | paste -d' ' - "$out/ft-tuned.pred" | awk '
    $1 == "__label__spam" { ns++; ms += $2 != $1 } $1 == "__label__ham" { nh++; mh += $2 != $1 }
    END { printf "%d of %d test spam called ham, %d of %d test ham called spam", ms, ns, mh, nh }')

n_tr=$(wc -l < $data/train.jsonl | tr -d ' ')
n_te=$(wc -l < $data/test.jsonl | tr -d ' ')
pct() { awk -v n="$(grep -c '"label":"spam"' "$1")" -v d="$(wc -l < "$1")" \
    'BEGIN { printf "%.1f%%", 100 * n / d }'; }
grid_table=$(sed -n '/^| model | epochs/,/^$/p' "$here/TUNING.md")
tmp="$here/RESULTS.md.tmp.$$"
{
    echo "# Text distillation against fastText on SpamAssassin"
    echo
    echo "Command: \`make demo-text\` (runs \`sh bench/text/run.sh $threads\`)," \
        "$(date -u +%Y-%m-%d), on"
    echo "$(machine), $threads threads for every tool (load average before: $load_before;"
    echo "after: $load_after; the machine was shared, so times are noisy)."
    echo "Settings: picked on validation mail by \`sh bench/text/tune.sh 2\` (see"
    echo "[TUNING.md](TUNING.md) and \`tuned.env\`); the test set only scores the final models"
    echo "and fed nothing back."
    echo
    echo "Data: train easy-ham-1, hard-ham-1, spam-1 ($n_tr mails, $(pct $data/train.jsonl) spam);"
    echo "test easy-ham-2, spam-2 ($n_te mails, $(pct $data/test.jsonl) spam). **The split is by"
    echo "collection date and the spam share triples from train to test**, so every model meets"
    echo "a class prior and vocabulary it never saw; validation (20% of the training mail, same"
    echo "~15% spam) cannot see that shift, which is why validation accuracy (~0.98) is far above"
    echo "test accuracy. Validation is also optimistic: it is a random draw from the same"
    echo "collections, so mails of one thread or spam run can fall on both sides."
    echo
    echo "All models: dim $dim, 2^$bits hash buckets, $threads threads. Students: word 1-2-grams,"
    echo "Adam, batch 32, distilled from four softmax-regression teachers (words, chars,"
    echo "headers, body). Train s: wall clock of the process from reading the training file"
    echo "to the saved model, $reps rounds each, run alternating (teachers, then the six"
    echo "models in table order, each round), median and (min-max); each round's models"
    echo "are scored on the test set (untimed), and accuracy is given the same way, since"
    echo "fastText on several threads is not deterministic (the students are). The students"
    echo "normalise and tokenise raw mail inside that time; fastText reads text that"
    echo "scripts/fetch-spamassassin already lower-cased and split (untimed)."
    echo
    cat "$table"
    echo
    echo "$verdict"
    echo "$aekd_vs_avg"
    echo "- fastText (picked on validation, last round): $ft_errors. Its errors are the shift:"
    echo "  trained where spam is rare, it calls much of the later spam ham. Validation"
    echo "  mail has the training prior, so the setting it picks need not be the best on"
    echo "  the shifted test set (compare the defaults row); the same holds for the students."
    echo "  No setting was changed after seeing the test figures."
    echo
    echo "Validation grid (from [TUNING.md](TUNING.md); fit on 80% of the training mail,"
    echo "scored on the other 20%):"
    echo
    echo "$grid_table"
    echo
    echo "Teachers on the full training set, scored on the test set:"
    echo
    echo '```'
    cat "$out/teach.json"
    echo '```'
} > "$tmp"
mv "$tmp" "$here/RESULTS.md"
echo "run.sh: wrote $here/RESULTS.md"
