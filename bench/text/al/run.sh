#!/bin/sh
# Active learning on the SpamAssassin text data: the four text teachers'
# probabilities (reused from out/demo-text/teach when there), the texts as
# dense hashed word 1-2-gram features (text featurize, 2^14 columns, idf
# from the training mail only), then `disagree simulate` with random,
# entropy, consensus-kl and student-kl on a softmax-regression student.
# The pool is the older (training) mail, the student is scored on the later
# (test) mail. Every simulate setting is a default except the budget sizes
# and --lr 2, picked on validation mail by bench/text/al/tune.sh.
# Usage: bench/text/al/run.sh [THREADS] [OUT]   (defaults: 2, out/demo-text-al)
set -e
threads="${1:-2}"
out="${2:-out/demo-text-al}"
bin=build/disagree
data=data/spam
here=$(dirname "$0")

sh scripts/fetch-spamassassin "$data"
mkdir -p "$out"
teach=out/demo-text/teach
if ! [ -f $teach/t3.train.npy ] || ! [ -f $teach/t3.test.npy ]; then
    teach="$out/teach"
    $bin text teach --train $data/train.jsonl --test $data/test.jsonl --out "$teach" \
        --bits 18 --epochs 5 --threads "$threads"
fi
list() { ls "$teach"/t*."$1".npy | tr '\n' ',' | sed 's/,$//'; }

$bin text featurize --train $data/train.jsonl --test $data/test.jsonl --bits 14 \
    --words 1-2 --tfidf --threads "$threads" --out-prefix "$out/spam"
$bin simulate --data "$out/spam.train.npy" --labels "$out/spam.train-labels.npy" \
    --test "$out/spam.test.npy" --test-labels "$out/spam.test-labels.npy" \
    --teachers "$(list train)" --test-teachers "$(list test)" \
    --strategies random,entropy,consensus-kl,student-kl --hidden 0 --lr 2 \
    --initial 30 --batch 30 --budget 600 --repeats 3 --seed 1 --threads "$threads" \
    --out "$out/sim"
for f in curves.csv cost.md cost.json curves.svg; do cp "$out/sim/$f" "$here/$f"; done
