#!/bin/sh
# Picks simulate's --lr for the softmax-regression student of run.sh on
# validation mail only (bench/text/split-val: a seeded, stratified 20% of
# the training mail, val.jsonl, is scored; the other 80%, fit.jsonl, is
# the pool). It prints the full-data reference accuracy (the 95% target /
# 0.95) and the accuracy at a 300-label random budget for each rate; the
# test mail is never read. Usage: bench/text/al/tune.sh [THREADS] [OUT]
set -e
threads="${1:-2}"
out="${2:-out/demo-text-al/tune}"
bin=build/disagree
mkdir -p "$out"
sh scripts/fetch-spamassassin data/spam
[ -f data/spam/val/fit.jsonl ] || sh bench/text/split-val data/spam data/spam/val 1
$bin text featurize --train data/spam/val/fit.jsonl --test data/spam/val/val.jsonl --bits 14 \
    --words 1-2 --tfidf --threads "$threads" --out-prefix "$out/val" > /dev/null
echo "lr reference-accuracy accuracy-at-300-random-labels"
for lr in 0.05 0.5 2 5; do
    $bin simulate --data "$out/val.train.npy" --labels "$out/val.train-labels.npy" \
        --test "$out/val.test.npy" --test-labels "$out/val.test-labels.npy" \
        --strategies random --hidden 0 --initial 30 --batch 30 --budget 300 --repeats 1 \
        --lr "$lr" --no-estimate --threads "$threads" --out "$out/lr$lr" > "$out/lr$lr.txt"
    awk -v lr="$lr" '$1 == "random" && $2 == "95%" { ref = $3 / 0.95 }
        $1 == "random" && $2 == "budget" { fin = $NF }
        END { printf "%s %.4f %.4f\n", lr, ref, fin }' "$out/lr$lr.txt"
done
