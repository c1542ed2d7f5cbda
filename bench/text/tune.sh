#!/bin/sh
# Tunes the text benchmark's models on VALIDATION mail, never on the test
# set: bench/text/split-val holds out a seeded, stratified 20% of the training
# mails; the teachers and every grid point train on the other 80% and are
# scored on that 20%. Students (aekd, avg-loss): epochs x lr; fastText: epoch
# x lr x wordNgrams; all at dim 32, 2^18 buckets, the same threads.
# Each one's best by validation accuracy (ties: higher spam F1, then fewer
# epochs, lower lr, fewer n-gram orders) goes to bench/text/tuned.env, which
# bench/text/run.sh reads; the grid goes to bench/text/TUNING.md.
# Usage: bench/text/tune.sh [THREADS] [OUT]   (defaults: 2, out/tune-text)
set -e
threads="${1:-2}"
out="${2:-out/tune-text}"
bin=build/disagree
data=data/spam
val=$data/val
here=$(dirname "$0")
. "$here/common.sh"
st_epochs_grid="1 2 3 5"
st_lr_grid="0.01 0.03 0.1"
ft_epoch_grid="5 10 25"
ft_lr_grid="0.1 0.5 1.0"
ft_ngrams_grid="1 2"

command -v fasttext >/dev/null || { echo "tune.sh: fasttext missing: make deps-bench" >&2; exit 1; }
sh scripts/fetch-spamassassin "$data"
sh "$here/split-val" "$data" "$val" 1
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(now)

echo "== teachers on the 80% fit split, scored on validation"
$bin text teach --train $val/fit.jsonl --test $val/val.jsonl --out "$out/teach" \
    --bits $bits --epochs $teach_epochs --threads "$threads" --json "$out/teach.json"
teachers=$(ls "$out"/teach/t*.train.npy | tr '\n' ',' | sed 's/,$//')

grid="$out/grid.tsv"  # model epochs lr ngrams val_acc val_f1 train_s
: > "$grid"
echo "== students: epochs {$st_epochs_grid} x lr {$st_lr_grid}"
for m in aekd avg-loss; do
    for e in $st_epochs_grid; do
        for lr in $st_lr_grid; do
            st_train $val/fit.jsonl "$teachers" $m "$e" "$lr" "$out/s.dgt" "$out/s.json" \
                $val/val.jsonl > /dev/null
            printf '%s\t%s\t%s\t2\t%s\t%s\t%s\n' $m "$e" "$lr" \
                "$(json "$out/s.json" test_accuracy)" "$(json "$out/s.json" test_f1)" \
                "$(json "$out/s.json" seconds)" | tee -a "$grid"
        done
    done
done
echo "== fastText: epoch {$ft_epoch_grid} x lr {$ft_lr_grid} x wordNgrams {$ft_ngrams_grid}"
for e in $ft_epoch_grid; do
    for lr in $ft_lr_grid; do
        for n in $ft_ngrams_grid; do
            secs=$(ft_train $val/fit.ft.txt "$out/ft" "$e" "$lr" "$n")
            fasttext predict "$out/ft.bin" $val/val.ft.txt > "$out/ft.pred"
            sc=$(ft_scores $val/val.ft.txt "$out/ft.pred")
            printf 'fasttext\t%s\t%s\t%s\t%s\t%s\t%s\n' "$e" "$lr" "$n" "${sc% *}" "${sc#* }" \
                "$secs" | tee -a "$grid"
        done
    done
done

# best of one model: accuracy, then F1 descending; epochs, lr, n-grams ascending
best() { awk -F'\t' -v m="$1" '$1 == m' "$grid" | sort -t"$(printf '\t')" \
    -k5,5gr -k6,6gr -k2,2g -k3,3g -k4,4g | head -n 1; }
b_aekd=$(best aekd)
b_avg=$(best avg-loss)
b_ft=$(best fasttext)
field() { echo "$1" | cut -f"$2"; }
tmp="$here/tuned.env.tmp.$$"
{
    echo "# Picked by bench/text/tune.sh $threads on validation accuracy; read by run.sh."
    echo "aekd_epochs=$(field "$b_aekd" 2) aekd_lr=$(field "$b_aekd" 3)"
    echo "avg_epochs=$(field "$b_avg" 2) avg_lr=$(field "$b_avg" 3)"
    echo "ft_epoch=$(field "$b_ft" 2) ft_lr=$(field "$b_ft" 3) ft_ngrams=$(field "$b_ft" 4)"
} > "$tmp"
mv "$tmp" "$here/tuned.env"
cat "$here/tuned.env"

n_fit=$(wc -l < $val/fit.jsonl | tr -d ' ')
n_val=$(wc -l < $val/val.jsonl | tr -d ' ')
tmp="$here/TUNING.md.tmp.$$"
{
    echo "# Tuning the text benchmark on validation mail"
    echo
    echo "Command: \`sh bench/text/tune.sh $threads\`, $(date -u +%Y-%m-%d), $(printf '%.0f' "$(since "$t_start")") s"
    echo "in all on $(machine), $threads threads (load average before: $load_before)."
    echo "Validation: \`bench/text/split-val\` (seed 1) holds out a stratified 20% of each"
    echo "training collection (easy-ham-1, hard-ham-1, spam-1): $n_fit mails to fit, $n_val"
    echo "to validate (both ~15% spam). The test mails (easy-ham-2, spam-2) are never read."
    echo "The four teachers (text teach defaults, not tuned) train on the fit split only."
    echo "One run per grid point; fastText on 2 threads is not deterministic, so its"
    echo "validation figures move by a mail or two between runs. With $n_val validation"
    echo "mails one mail is $(awk -v n="$n_val" 'BEGIN { printf "%.4f", 1 / n }') accuracy;" \
        "ties go to the higher spam F1, then the cheaper setting."
    echo "Train s: students' own clock (read mail to saved model), fastText's wall clock."
    echo
    echo "| model | epochs | lr | word n-grams | val accuracy | val spam F1 | train s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    while IFS="$(printf '\t')" read -r m e lr n acc f1 secs; do
        mark=""
        for b in "$b_aekd" "$b_avg" "$b_ft"; do
            [ "$(printf '%s\t%s\t%s\t%s' "$m" "$e" "$lr" "$n")" = "$(echo "$b" | cut -f1-4)" ] \
                && mark=" **picked**"
        done
        [ "$m" = fasttext ] || m="bag student, $m"
        printf '| %s%s | %s | %s | 1-%s | %.4f | %.4f | %.2f |\n' "$m" "$mark" "$e" "$lr" "$n" \
            "$acc" "$f1" "$secs"
    done < "$grid"
    echo
    echo "Teachers on the fit split, scored on validation:"
    echo
    echo '```'
    cat "$out/teach.json"
    echo '```'
    echo
    echo "Picked (bench/text/tuned.env):"
    echo
    echo '```'
    cat "$here/tuned.env"
    echo '```'
} > "$tmp"
mv "$tmp" "$here/TUNING.md"
echo "tune.sh: wrote $here/tuned.env and $here/TUNING.md"
