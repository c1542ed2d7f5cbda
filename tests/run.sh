#!/bin/sh
# Runs every test program in BUILD/tests and every CLI test script in
# tests/cli/, adds up their "N passed, N failed" lines, and prints the total
# as the last line. Exits non-zero when anything failed or crashed.
BUILD=${1:-build}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tally() {
    # $1: name, $2: exit status; reads the program's output from $log
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $1: no summary line (exit $2)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $1: exit $2 with no failed test"
        failed=$((failed + 1))
    fi
    echo "$1: $line"
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" >"$log" 2>&1
    rc=$?
    grep -E '^FAIL|^  ' "$log"
    tally "$(basename "$t")" "$rc"
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    DG_BIN="$BUILD/disagree" sh "$t" >"$log" 2>&1
    rc=$?
    grep -E '^FAIL|^  ' "$log"
    tally "$(basename "$t")" "$rc"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
