#!/bin/sh
# The main job end to end through the CLI on a tiny generated problem:
# teach a committee, distil with every method, evaluate, predict, and read
# labels spelled as class names. Needs DG_BIN (the binary).
. "$(dirname "$0")/../cli_lib.sh"

# 900 training and 300 test rows, 6 features, 3 well-separated classes.
blobs() {
    awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed); print "f1,f2,f3,f4,f5,f6,label"
        for (i = 0; i < n; i++) { y = i % 3
            for (j = 1; j <= 6; j++) printf "%.4f,", rand() + (j % 3 == y) * 1.5
            print y } }'
}
blobs 1 900 >"$W/train.csv"
blobs 2 300 >"$W/test.csv"
cut -d, -f7 "$W/train.csv" | tail -n +2 | sed 's/^0$/cat/; s/^1$/dog/; s/^2$/eel/' >"$W/names.txt"
cut -d, -f1-6 "$W/train.csv" >"$W/train-x.csv"

for cmd in teach distill eval predict demo; do
    "$BIN" $cmd --help >"$W/help" 2>&1
    check "help-$cmd" $? "--help exited non-zero"
    grep -q -- "--" "$W/help"
    check "help-$cmd-lists-options" $? "no options in --help"
done

"$BIN" teach --data "$W/train.csv" --label-column label --test "$W/test.csv" \
    --members 3 --hidden 8/16/8,8 --epochs 3 --seed 2 \
    --out "$W/t" >"$W/teach.out" 2>"$W/teach.err"
check teach $? "teach failed: $(head -c 300 "$W/teach.err")"
for k in 0 1 2; do
    for f in t$k.dgm t$k.train.npy t$k.test.npy; do
        [ -s "$W/t/$f" ]
        check "teach-writes-$f" $? "missing $W/t/$f"
    done
done
grep -q "^t2 " "$W/teach.out"
check teach-table $? "no row per teacher in the teach table"

T="$W/t/t0.train.npy,$W/t/t1.train.npy,$W/t/t2.train.npy"
for method in ce avg-loss avg-prob aekd; do
    "$BIN" distill --data "$W/train.csv" --label-column label --teachers "$T" \
        --test "$W/test.csv" --method $method --hidden 8 \
        --epochs 4 --seed 5 --out "$W/s-$method.dgm" --json "$W/s-$method.json" \
        --weights-log "$W/w-$method.csv" >"$W/d.out" 2>"$W/d.err"
    check "distill-$method" $? "distill failed: $(head -c 300 "$W/d.err")"
    [ -s "$W/s-$method.dgm" ] && [ ! -e "$W/s-$method.dgm.ckpt" ]
    check "distill-$method-saves-and-drops-checkpoint" $? "model missing or checkpoint left"
    grep -q '"final_test_accuracy"' "$W/s-$method.json"
    check "distill-$method-json" $? "JSON lacks the final figures"
    acc=$(sed -n 's/.*"final_test_accuracy": \([0-9.]*\).*/\1/p' "$W/s-$method.json")
    awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }'
    check "distill-$method-learns" $? "test accuracy $acc, expected > 0.9"
done
# 900 rows in batches of 64 make 15 batches per epoch, 4 epochs: 60 rows
# of weights plus the header, each weight row summing to 1.
[ "$(wc -l <"$W/w-aekd.csv")" -eq 61 ]
check weights-log-rows $? "expected 61 lines in the weights log, got $(wc -l <"$W/w-aekd.csv")"
awk -F, 'NR > 1 { s = $3 + $4 + $5; if (s < 0.999 || s > 1.001) bad = 1 } END { exit bad }' \
    "$W/w-aekd.csv"
check weights-log-sums $? "a batch's weights do not sum to 1"

"$BIN" eval --model "$W/s-aekd.dgm" --data "$W/test.csv" --label-column label \
    --json "$W/eval.json" >"$W/eval.out" 2>"$W/eval.err"
check eval $? "eval failed: $(head -c 300 "$W/eval.err")"
grep -q '"confusion"' "$W/eval.json" && grep -q '^accuracy' "$W/eval.out"
check eval-report $? "eval printed or wrote no figures"

"$BIN" predict --model "$W/s-aekd.dgm" --data "$W/test.csv" --label-column label \
    --out "$W/p.csv" >/dev/null 2>"$W/p.err"
check predict-csv $? "predict failed: $(head -c 300 "$W/p.err")"
[ "$(wc -l <"$W/p.csv")" -eq 300 ] && [ "$(head -n 1 "$W/p.csv" | tr ',' '\n' | wc -l)" -eq 3 ]
check predict-shape $? "expected 300 rows of 3 probabilities"
"$BIN" predict --model "$W/s-aekd.dgm" --data "$W/test.csv" --label-column label \
    --out "$W/p.npy" >/dev/null 2>&1
[ "$(head -c 6 "$W/p.npy" | od -An -c | tr -d ' ')" = "223NUMPY" ]
check predict-npy $? "predict did not write an npy file"

# Labels as class names: the first file read fixes the sorted list.
"$BIN" distill --data "$W/train-x.csv" --labels "$W/names.txt" --method ce --hidden 8 \
    --epochs 3 --out "$W/named.dgm" >"$W/n.out" 2>"$W/n.err"
check named-labels $? "distill with named labels failed: $(head -c 300 "$W/n.err")"
grep -q "classes (ids in this order): cat,dog,eel" "$W/n.out"
check named-labels-order $? "class list not printed in sorted order"
"$BIN" eval --model "$W/named.dgm" --data "$W/train-x.csv" --labels "$W/names.txt" \
    >/dev/null 2>"$W/e.err"
[ $? -ne 0 ] && grep -q "pass --classes" "$W/e.err"
check named-labels-eval-needs-list $? "eval without --classes should refuse named labels"
"$BIN" eval --model "$W/named.dgm" --data "$W/train-x.csv" --labels "$W/names.txt" \
    --classes cat,dog,eel >"$W/e.out" 2>"$W/e.err"
acc=$(sed -n 's/^accuracy *//p' "$W/e.out")
awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }'
check named-labels-eval $? "named-label accuracy $acc, expected > 0.9"

# Distilling from the teachers alone, with no labels anywhere.
"$BIN" distill --data "$W/train-x.csv" --teachers "$T" --method aekd --hidden 8 --epochs 3 \
    --out "$W/nolabels.dgm" >/dev/null 2>"$W/nl.err"
check distill-without-labels $? "teachers-only distillation failed: $(head -c 300 "$W/nl.err")"
"$BIN" distill --data "$W/train-x.csv" --method ce --out "$W/ce.dgm" >/dev/null 2>"$W/ce.err"
[ $? -ne 0 ] && grep -q "has no labels" "$W/ce.err" && [ ! -e "$W/ce.dgm" ]
check ce-without-labels-says-so $? "expected 'has no labels', got: $(head -c 300 "$W/ce.err")"

# Mistakes a user makes, each answered with what to do.
"$BIN" eval --model "$W/s-aekd.dgm" --data "$W/test-images-idx3.gz" --labels "$W/x.txt" \
    >/dev/null 2>"$W/m.err"
grep -q "cannot open file" "$W/m.err"
check missing-file-says-missing $? "got: $(head -c 300 "$W/m.err")"
"$BIN" predict --model "$W/s-aekd.dgm" --data "$W/test.csv" --out "$W/p2.npy" >/dev/null \
    2>"$W/lc.err"
grep -q -- "--label-column" "$W/lc.err" && [ ! -e "$W/p2.npy" ]
check predict-hints-label-column $? "got: $(head -c 300 "$W/lc.err")"
"$BIN" query --model "$W/s-aekd.dgm" --pool "$W/train-x.csv" --strategy consensus-kl \
    --batch 5 --out "$W/q.csv" >/dev/null 2>"$W/q.err"
grep -q -- "--teachers" "$W/q.err" && [ ! -e "$W/q.csv" ]
check query-committee-needs-teachers $? "got: $(head -c 300 "$W/q.err")"
"$BIN" distill --data "$W/train.csv" --label-column label --teachers "$T" --tolerance 0.2 \
    --out "$W/tol.dgm" >"$W/tol.out" 2>"$W/tol.err"
grep -q "1/M, 1" "$W/tol.err" && [ ! -s "$W/tol.out" ]
check tolerance-refused-before-reading $? "got: $(head -c 300 "$W/tol.err")"

finish
