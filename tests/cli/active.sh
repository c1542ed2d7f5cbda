#!/bin/sh
# End-to-end checks of the active-learning commands on tiny made-up data:
# query writes K rows with the right columns, warns and takes the whole pool
# when K is larger, fails on an empty pool; simulate and estimate write
# their curves, plot and cost table. Prints "N passed, N failed" last.
BIN=${DG_BIN:-build/disagree}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0

check() {
    # $1: description; the rest: a command whose success means the check holds
    what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $what"
    else
        failed=$((failed + 1))
        echo "FAIL $what"
    fi
}

# blobs N SEED PREFIX: N rows of 2-D points around three centres, labels
# n % 3; features in PREFIX.csv, labels in PREFIX.y.txt, and two teachers'
# probabilities (one always right and sure, one a little noisier) in
# PREFIX.t0.csv and PREFIX.t1.csv
blobs() {
    awk -v n="$1" -v seed="$2" -v p="$3" 'BEGIN {
        srand(seed);
        print "x0,x1" > (p ".csv");
        print "c0,c1,c2" > (p ".t0.csv");
        print "c0,c1,c2" > (p ".t1.csv");
        for (i = 0; i < n; i++) {
            c = i % 3;
            printf "%.4f,%.4f\n", (c == 1) * 4 + rand() * 2 - 1, (c == 2) * 4 + rand() * 2 - 1 \
                > (p ".csv");
            print c > (p ".y.txt");
            printf "%.2f,%.2f,%.2f\n", (c == 0) * 0.8 + 0.1, (c == 1) * 0.8 + 0.1, \
                (c == 2) * 0.8 + 0.1 > (p ".t0.csv");
            s = (i % 7 == 0) ? (c + 1) % 3 : c;
            printf "%.2f,%.2f,%.2f\n", (s == 0) * 0.6 + 0.2, (s == 1) * 0.6 + 0.2, \
                (s == 2) * 0.6 + 0.2 > (p ".t1.csv");
        }
    }'
}

blobs 90 1 "$dir/pool"
blobs 45 2 "$dir/test"
"$BIN" distill --method ce --data "$dir/pool.csv" --labels "$dir/pool.y.txt" --hidden 8 \
    --epochs 3 --out "$dir/m.dgm" >/dev/null 2>&1
check "a student to query with" test -s "$dir/m.dgm"

# query: K rows with the student's and each teacher's label and confidence
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" \
    --teachers "$dir/pool.t0.csv,$dir/pool.t1.csv" --strategy consensus-kl --batch 5 \
    --out "$dir/q.csv" >"$dir/q.out" 2>&1
check "query succeeds" test $? -eq 0
check "query header names every column" test "$(head -n 1 "$dir/q.csv")" = \
    "row,score,student_label,student_confidence,t0_label,t0_confidence,t1_label,t1_confidence"
check "query writes K rows" test "$(tail -n +2 "$dir/q.csv" | wc -l)" -eq 5
check "query rows are distinct" test "$(tail -n +2 "$dir/q.csv" | cut -d, -f1 | sort -u | wc -l)" \
    -eq 5
# the noisy teacher disagrees on rows 0, 7, 14, ...: those lead consensus-kl
check "query picks where the committee disagrees" \
    test "$(tail -n +2 "$dir/q.csv" | awk -F, '$1 % 7 != 0' | wc -l)" -eq 0

# probability files, one with a row summing to 0.9: auto would read that
# whole file as logits; --teacher-format prob refuses it, naming the row
rows=$(($(wc -l <"$dir/pool.csv") - 1))
awk -v n="$rows" 'BEGIN { print "c0,c1,c2"; for (i = 1; i <= n; i++) print "0.8,0.1,0.1" }' \
    >"$dir/pool.good.csv"
awk 'NR == 4 { print "0.7,0.1,0.1"; next } { print }' "$dir/pool.good.csv" >"$dir/pool.bad.csv"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" --teacher-format prob \
    --teachers "$dir/pool.good.csv,$dir/pool.bad.csv" --strategy consensus-kl --batch 5 \
    --out "$dir/qb.csv" >/dev/null 2>"$dir/qb.err"
check "query --teacher-format prob refuses a row not summing to 1" test $? -ne 0
check "the refusal names the file and the row" grep -q "pool.bad.csv: row 3" "$dir/qb.err"
check "the refused query writes nothing" test ! -e "$dir/qb.csv"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" --teacher-format prob \
    --teachers "$dir/pool.good.csv,$dir/pool.good.csv" --strategy consensus-kl --batch 5 \
    --out "$dir/qg.csv" >/dev/null 2>&1
check "query --teacher-format prob reads good probabilities" test -s "$dir/qg.csv"
"$BIN" simulate --data "$dir/pool.csv" --labels "$dir/pool.y.txt" --test "$dir/test.csv" \
    --test-labels "$dir/test.y.txt" --teachers "$dir/pool.good.csv,$dir/pool.bad.csv" \
    --teacher-format prob --strategies consensus-kl --initial 6 --batch 6 --budget 12 \
    --out "$dir/simb" >/dev/null 2>"$dir/simb.err"
check "simulate --teacher-format prob refuses it too" test $? -ne 0
check "simulate names the row" grep -q "pool.bad.csv: row 3" "$dir/simb.err"

# labels with -1: reliability is reported; a single labelled class says so
awk '{ print (NR <= 4) ? $0 : -1 }' "$dir/pool.y.txt" >"$dir/lab.txt"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" \
    --teachers "$dir/pool.t0.csv,$dir/pool.t1.csv" --labelled "$dir/lab.txt" --reliability \
    --strategy vote-entropy --batch 3 --out "$dir/r.jsonl" >"$dir/r.out" 2>&1
check "query with labels reports reliability" grep -q "Wilson" "$dir/r.out"
check "query writes JSONL" test "$(grep -c '"teachers"' "$dir/r.jsonl")" -eq 3
check "labelled rows are never picked" \
    test "$(grep -cE '"row": [0-3],' "$dir/r.jsonl")" -eq 0
awk '{ print (NR % 3 == 1) ? 0 : -1 }' "$dir/pool.y.txt" >"$dir/one.txt"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" \
    --teachers "$dir/pool.t0.csv,$dir/pool.t1.csv" --labelled "$dir/one.txt" \
    --strategy entropy --batch 3 --out "$dir/one.csv" >"$dir/one.out" 2>&1
check "a single labelled class works" test $? -eq 0
check "a single labelled class is said" grep -q "single class" "$dir/one.out"

# K larger than the pool: a warning, and every unlabelled row
printf '0\n1\n2\n' >"$dir/ids.txt"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/pool.csv" --labelled "$dir/ids.txt" \
    --strategy margin --batch 500 --out "$dir/all.csv" >/dev/null 2>"$dir/all.err"
check "K beyond the pool succeeds" test $? -eq 0
check "K beyond the pool warns" grep -q "warning" "$dir/all.err"
check "K beyond the pool takes every unlabelled row" \
    test "$(tail -n +2 "$dir/all.csv" | wc -l)" -eq 87

# an empty pool is an error, and leaves no output
echo "x0,x1" >"$dir/empty.csv"
"$BIN" query --model "$dir/m.dgm" --pool "$dir/empty.csv" --strategy entropy --batch 2 \
    --out "$dir/e.csv" >/dev/null 2>"$dir/e.err"
check "an empty pool fails" test $? -ne 0
check "an empty pool says why" grep -q "error" "$dir/e.err"
check "an empty pool writes nothing" test ! -e "$dir/e.csv"

# simulate: curves, plot, cost table, stopping rules, the estimate beside
"$BIN" simulate --data "$dir/pool.csv" --labels "$dir/pool.y.txt" --test "$dir/test.csv" \
    --test-labels "$dir/test.y.txt" --teachers "$dir/pool.t0.csv,$dir/pool.t1.csv" \
    --test-teachers "$dir/test.t0.csv,$dir/test.t1.csv" --strategies random,entropy,consensus-kl \
    --initial 6 --batch 6 --budget 24 --repeats 2 --stop-rows 20 --steps 30 --epochs 5 \
    --hidden 8 --out "$dir/sim" >"$dir/sim.out" 2>"$dir/sim.err"
check "simulate succeeds" test $? -eq 0
for f in curves.csv curves.json curves.svg cost.json cost.md; do
    check "simulate writes $f" test -s "$dir/sim/$f"
done
check "curves.csv has a row per mode, strategy, rep and round" \
    test "$(tail -n +2 "$dir/sim/curves.csv" | wc -l)" -eq $((2 * 3 * 2 * 4))
check "curves.svg is an SVG with a legend entry per strategy" \
    test "$(grep -c '<polyline' "$dir/sim/curves.svg")" -eq 3
check "the cost table is printed" grep -q "ratio" "$dir/sim.out"
check "the estimate sits beside it" grep -q "est. ratio" "$dir/sim.out"
check "the stopping rules are printed" grep -q "stable predictions" "$dir/sim.out"
check "reliability is reported at the end of each run" grep -q "Wilson" "$dir/sim.out"
check "progress goes to stderr, one line per round" grep -q "round 4/4" "$dir/sim.err"

# AE-KD over a single teacher: its cap is raised to 1/M = 1, as in distill
"$BIN" simulate --data "$dir/pool.csv" --labels "$dir/pool.y.txt" --test "$dir/test.csv" \
    --test-labels "$dir/test.y.txt" --teachers "$dir/pool.t0.csv" \
    --test-teachers "$dir/test.t0.csv" --strategies random --distill aekd --kd-rows 20 \
    --initial 6 --batch 6 --budget 12 --repeats 1 --stop-rows 10 --steps 20 --epochs 3 \
    --hidden 8 --out "$dir/sim1" >/dev/null 2>"$dir/sim1.err"
check "simulate distils AE-KD from one teacher" test $? -eq 0

# estimate: no labels at all
"$BIN" estimate --data "$dir/pool.csv" --test "$dir/test.csv" \
    --teachers "$dir/pool.t0.csv,$dir/pool.t1.csv" \
    --test-teachers "$dir/test.t0.csv,$dir/test.t1.csv" --strategies random,margin \
    --initial 6 --batch 6 --budget 18 --repeats 1 --stop-rows 10 --steps 20 --epochs 3 \
    --hidden 8 --distill avg-loss --kd-rows 20 --out "$dir/est" >"$dir/est.out" 2>&1
check "estimate succeeds without labels" test $? -eq 0
check "estimate reports committee answers" grep -q "estimate answers" "$dir/est.out"
check "estimate writes its curves" test -s "$dir/est/curves.svg"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
