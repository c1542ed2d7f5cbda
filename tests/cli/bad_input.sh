#!/bin/sh
# Feeds the disagree CLI broken files and bad options, one case per call to
# `bad` below, and checks each fails cleanly: a non-zero exit that is not a
# signal, exactly one "disagree: error:" line naming the file or problem,
# no sanitizer report, and no output (model, JSON, probabilities, teacher
# files or *.tmp.* temporaries) left behind; a *.ckpt checkpoint may stay,
# since --resume continues from it. Needs DG_BIN (the binary).
BIN=${DG_BIN:-build/disagree}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
passed=0
failed=0
skipped=0
W=$(mktemp -d) || exit 1
trap 'chmod -R u+rwx "$W" 2>/dev/null; rm -rf "$W"' EXIT
case $W in *[!A-Za-z0-9_./-]*) echo "FAIL setup: temp folder '$W' needs quoting"
    echo "0 passed, 1 failed"; exit 1 ;; esac
O=$W/out
mkdir "$O"
# A private copy, so a rebuild running meanwhile cannot swap the binary.
cp "$BIN" "$W/disagree" || { echo "FAIL setup: no binary $BIN"; echo "0 passed, 1 failed"
    exit 1; }
BIN=$W/disagree

fail() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}

# bad NAME FRAGMENT COMMAND...: COMMAND must fail cleanly and its one error
# line must contain FRAGMENT; every output goes under $O.
bad() {
    name=$1
    frag=$2
    shift 2
    "$@" >"$W/stdout" 2>"$W/stderr"
    rc=$?
    n_err=$(grep -c '^disagree: error:' "$W/stderr")
    left=$(find "$O" -type f ! -name '*.ckpt' | head -n 3)
    tmps=$(find "$W" -name '*.tmp.*' | head -n 3)
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit status 0"
    elif [ "$rc" -ge 128 ]; then
        fail "$name" "killed by a signal (exit $rc): $(head -c 300 "$W/stderr")"
    elif grep -q 'Sanitizer\|runtime error:' "$W/stderr"; then
        fail "$name" "sanitizer report: $(grep -m 1 'Sanitizer\|runtime error:' "$W/stderr")"
    elif [ "$n_err" -ne 1 ]; then
        fail "$name" "$n_err error lines, expected 1: $(head -c 300 "$W/stderr")"
    elif ! grep '^disagree: error:' "$W/stderr" | grep -qF -- "$frag"; then
        fail "$name" "error lacks '$frag': $(grep '^disagree: error:' "$W/stderr")"
    elif [ -n "$left" ]; then
        fail "$name" "output left behind: $left"
    elif [ -n "$tmps" ]; then
        fail "$name" "temporary left behind: $tmps"
    else
        passed=$((passed + 1))
    fi
    [ -z "$DG_VERBOSE" ] || echo "$name: $(grep -m 1 '^disagree: error:' "$W/stderr")"
    rm -rf "$O"
    mkdir "$O"
}

# good NAME COMMAND...: edge input that is valid must still work.
good() {
    name=$1
    shift
    if "$@" >"$W/stdout" 2>"$W/stderr"; then
        passed=$((passed + 1))
    else
        fail "$name" "exit $?: $(head -c 300 "$W/stderr")"
    fi
    rm -rf "$O"
    mkdir "$O"
}

# ---------------------------------------------------------------- valid data
# 60 rows, 4 features and a label column (3 classes) as CSV; the same as IDX
# images (2 x 2 pixels, gzipped) and labels; three teachers taught on it.

awk 'BEGIN { srand(7); print "a,b,c,d,label"
    for (i = 0; i < 60; i++) { y = i % 3
        printf "%.3f,%.3f,%.3f,%.3f,%d\n", y + rand(), rand() - y, rand(), rand() * y, y } }' \
    >"$W/d.csv"

# be32 N: N as 4 big-endian bytes. bytes_of AWKEXPR COUNT: COUNT bytes.
be32() {
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
        $(($1 >> 8 & 255)) $(($1 & 255)))"
}
bytes_of() {
    printf "$(awk -v n="$2" "BEGIN { for (i = 0; i < n; i++) printf \"\\\\%03o\", $1 }")"
}
{ be32 2051; be32 60; be32 2; be32 2; bytes_of '(i * 37) % 256' 240; } >"$W/x-ubyte"
{ be32 2049; be32 60; bytes_of 'i % 3' 60; } >"$W/y-ubyte"
gzip -n -c "$W/x-ubyte" >"$W/x-ubyte.gz"
awk -F, 'NR > 1 { print $5 }' "$W/d.csv" >"$W/y.csv"

"$BIN" teach --data "$W/d.csv" --label-column label --members 3 --epochs 1 --hidden 4/0/3 \
    --threads 1 --out "$W/t" >/dev/null 2>&1
"$BIN" distill --data "$W/d.csv" --label-column label --method ce --epochs 1 --hidden 4 \
    --threads 1 --out "$W/m.dgm" >/dev/null 2>&1
for f in x-ubyte.gz y-ubyte t/t0.train.npy t/t2.train.npy m.dgm; do
    if [ ! -s "$W/$f" ]; then
        echo "FAIL setup: could not build $f with $BIN"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
T0=$W/t/t0.train.npy
TS=$T0,$W/t/t1.train.npy,$W/t/t2.train.npy
DS="--data $W/d.csv --label-column label"
FAST="--hidden 4 --threads 1"
OUT="--out $O/m.dgm --json $O/r.json"

# distill with the valid data, teachers and outputs, plus "$@".
dst() { "$BIN" distill $DS $FAST --epochs 1 $OUT "$@"; }
# distill with valid outputs on other data: dst_data DATA-ARGS..., or on
# another CSV with a label column: dst_csv CSV ARGS...
dst_data() { "$BIN" distill $FAST --epochs 1 $OUT "$@"; }
dst_csv() {
    csv=$1
    shift
    "$BIN" distill --data "$csv" --label-column label $FAST --epochs 1 $OUT "$@"
}
evl() { "$BIN" eval --json "$O/e.json" "$@"; }
prd() { "$BIN" predict --out "$O/p.npy" "$@"; }

# copy_patch SRC DST OFFSET BYTES: DST is SRC with BYTES (printf octal
# escapes) written over it at byte OFFSET.
copy_patch() {
    cp "$1" "$2"
    printf "$4" | dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
# cut SRC K: writes SRC cut to K eighths of its length as cutK.<same name>.
cut() {
    size=$(wc -c <"$1")
    dst_file=$(dirname "$1")/cut$2.$(basename "$1")
    dd if="$1" of="$dst_file" bs=1 count=$((size * $2 / 8)) 2>/dev/null
    echo "$dst_file"
}
# npy_file SHAPE DESCR: a 128-byte version 1.0 npy header (no data).
npy_file() {
    printf '\223NUMPY\001\000\166\000'
    printf '%-117s\n' "{'descr': '$2', 'fortran_order': False, 'shape': $1, }"
}

# ------------------------------------------------------ missing and unreadable

mkdir "$W/dir.csv" "$W/dir.npy" "$W/dir.dgm"
bad missing-data nope.csv dst_csv "$W/nope.csv" --teachers "$TS"
bad missing-labels nolabels.csv dst_data --data "$W/d.csv" --labels "$W/nolabels.csv" \
    --teachers "$TS"
bad missing-teacher gone.npy dst --teachers "$T0,$W/gone.npy"
bad missing-model nomodel.dgm evl --model "$W/nomodel.dgm" $DS
bad missing-model-predict nomodel.dgm prd --model "$W/nomodel.dgm" $DS
bad missing-idx-images nope-ubyte.gz dst_data --method ce --data "$W/nope-ubyte.gz" \
    --labels "$W/y-ubyte"
bad dir-as-data dir.csv dst_csv "$W/dir.csv" --teachers "$TS"
bad dir-as-teacher dir.npy dst --teachers "$T0,$W/dir.npy"
bad dir-as-model dir.dgm evl --model "$W/dir.dgm" $DS
bad dir-as-labels dir.npy dst_data --method ce --data "$W/d.csv" --labels "$W/dir.npy"

# Permissions: root reads a mode-0000 file anyway, so there the cases are
# counted as skipped, not passed.
cp "$W/d.csv" "$W/locked.csv"
cp "$T0" "$W/locked.npy"
cp "$W/m.dgm" "$W/locked.dgm"
chmod 000 "$W/locked.csv" "$W/locked.npy" "$W/locked.dgm"
if [ -r "$W/locked.csv" ]; then
    echo "skip: 3 permission cases (running as root, mode 0000 files stay readable)"
    skipped=$((skipped + 3))
else
    bad unreadable-data locked.csv dst_csv "$W/locked.csv" --teachers "$TS"
    bad unreadable-teacher locked.npy dst --teachers "$T0,$W/locked.npy,$T0"
    bad unreadable-model locked.dgm evl --model "$W/locked.dgm" $DS
fi

# ------------------------------------------------------------------ empty files

: >"$W/empty.csv"
: >"$W/empty.npy"
: >"$W/empty.dgm"
: >"$W/empty-ubyte.gz"
: >"$W/empty-labels.csv"
bad empty-csv-data empty.csv dst_csv "$W/empty.csv" --teachers "$TS"
bad empty-npy-data empty.npy dst_data --method ce --data "$W/empty.npy" --labels "$W/y.csv"
bad empty-teacher empty.npy dst --teachers "$T0,$W/empty.npy"
bad empty-model empty.dgm evl --model "$W/empty.dgm" $DS
bad empty-idx empty-ubyte.gz dst_data --method ce --data "$W/empty-ubyte.gz" \
    --labels "$W/y-ubyte"
bad empty-labels empty-labels.csv dst_data --method ce --data "$W/x-ubyte.gz" \
    --labels "$W/empty-labels.csv"

# ------------------------------------------------- files cut short at k/8

for k in 1 2 3 4 5 6 7; do
    f=$(cut "$T0" $k)
    bad "cut-npy-$k/8" "cut$k.t0.train.npy" dst --teachers "$f,$W/t/t1.train.npy"
    f=$(cut "$W/x-ubyte.gz" $k)
    bad "cut-idx-gz-$k/8" "cut$k.x-ubyte.gz" dst_data --method ce --data "$f" \
        --labels "$W/y-ubyte"
    f=$(cut "$W/m.dgm" $k)
    bad "cut-model-$k/8" "cut$k.m.dgm" evl --model "$f" $DS
    f=$(cut "$W/d.csv" $k)
    bad "cut-csv-$k/8" "cut$k.d.csv" dst_csv "$f" --teachers "$TS"
done

# ------------------------------------------------------------------ wrong magic

copy_patch "$T0" "$W/magic.npy" 1 'NUMPZ'
copy_patch "$W/m.dgm" "$W/magic.dgm" 0 'DGMODEX'
copy_patch "$W/x-ubyte" "$W/magic-ubyte" 2 '\011'
copy_patch "$W/y-ubyte" "$W/magic-labels-ubyte" 3 '\003'
bad magic-npy-teacher magic.npy dst --teachers "$W/magic.npy,$T0"
bad magic-npy-data magic.npy dst_data --method ce --data "$W/magic.npy" --labels "$W/y.csv"
bad magic-model magic.dgm evl --model "$W/magic.dgm" $DS
bad magic-idx-images magic-ubyte dst_data --method ce --data "$W/magic-ubyte" \
    --labels "$W/y-ubyte"
bad magic-idx-labels magic-labels-ubyte dst_data --method ce --data "$W/x-ubyte" \
    --labels "$W/magic-labels-ubyte"
printf 'not a model at all\n' >"$W/text.dgm"
bad text-as-model text.dgm prd --model "$W/text.dgm" $DS

# --------------------------------------------------------------- broken CSV

sed '5s/,[^,]*$//' "$W/d.csv" >"$W/ragged.csv"
sed '7s/^[^,]*,/1.0,2.0,/' "$W/d.csv" >"$W/long-row.csv"
sed '9s/^[^,]*,/abc,/' "$W/d.csv" >"$W/word.csv"
sed '11s/^[^,]*,/nan,/' "$W/d.csv" >"$W/nan.csv"
sed '12s/^[^,]*,/inf,/' "$W/d.csv" >"$W/inf.csv"
sed '13s/^[^,]*,/-Infinity,/' "$W/d.csv" >"$W/ninf.csv"
sed '3s/,[^,]*$/,1.5/' "$W/d.csv" >"$W/frac-label.csv"
sed '4s/,[^,]*$/,-2/' "$W/d.csv" >"$W/neg-label.csv"
sed '6s/^[^,]*,/"0.5,/' "$W/d.csv" >"$W/open-quote.csv"
bad ragged-csv ragged.csv dst_csv "$W/ragged.csv" --teachers "$TS"
bad long-csv-row long-row.csv dst_csv "$W/long-row.csv" --teachers "$TS"
bad non-numeric-cell word.csv dst_csv "$W/word.csv" --teachers "$TS"
bad nan-feature nan.csv dst_csv "$W/nan.csv" --teachers "$TS"
bad inf-feature inf.csv dst_csv "$W/inf.csv" --teachers "$TS"
bad minus-inf-feature ninf.csv prd --model "$W/m.dgm" --data "$W/ninf.csv" \
    --label-column label
bad fractional-label frac-label.csv dst_csv "$W/frac-label.csv" --teachers "$TS"
bad label-below-minus-one neg-label.csv dst_csv "$W/neg-label.csv" --teachers "$TS"
bad unclosed-quote open-quote.csv dst_csv "$W/open-quote.csv" --teachers "$TS"
bad no-such-label-column wrong dst_data --data "$W/d.csv" --teachers "$TS" \
    --label-column wrong

# ----------------------------------------------------- bad teacher outputs
# Each teacher npy has a 128-byte header; its first float sits at byte 128.

copy_patch "$T0" "$W/t-nan.npy" 128 '\000\000\300\177'
copy_patch "$T0" "$W/t-inf.npy" 132 '\000\000\200\177'
copy_patch "$T0" "$W/t-neg.npy" 140 '\000\000\000\277'
copy_patch "$T0" "$W/t-sum.npy" 144 '\000\000\000\100'
bad nan-teacher t-nan.npy dst --teachers "$T0,$W/t-nan.npy"
bad inf-teacher t-inf.npy dst --teachers "$W/t-inf.npy,$T0"
bad nan-teacher-logit t-nan.npy dst --teacher-format logit --teachers "$W/t-nan.npy"
bad negative-prob t-neg.npy dst --teacher-format prob --teachers "$T0,$W/t-neg.npy"
bad prob-row-sum t-sum.npy dst --teacher-format prob --teachers "$W/t-sum.npy,$T0"
awk 'BEGIN { print "c0,c1,c2"; for (i = 0; i < 60; i++) print (i == 30 ? "nan" : "0.2") \
    ",0.3,0.5" }' >"$W/t-nan.csv"
bad nan-teacher-csv t-nan.csv dst --teachers "$W/t-nan.csv,$T0"
awk 'BEGIN { print "c0,c1,c2"; for (i = 0; i < 59; i++) print "0.2,0.3,0.5" }' \
    >"$W/t-59rows.csv"
awk 'BEGIN { print "c0,c1,c2,c3"; for (i = 0; i < 60; i++) print "0.2,0.3,0.4,0.1" }' \
    >"$W/t-4class.csv"
awk 'BEGIN { print "c0,c1"; for (i = 0; i < 60; i++) print "0.2,0.8" }' >"$W/t-2class.csv"
bad teacher-rows-vs-data t-59rows.csv dst --teachers "$W/t-59rows.csv"
bad teacher-classes-vs-data t-4class.csv dst --teachers "$W/t-4class.csv"
bad teacher-rows-vs-teacher t-59rows.csv dst --teachers "$T0,$W/t-59rows.csv"
bad teacher-classes-vs-teacher t-2class.csv dst --teachers "$T0,$W/t-2class.csv"
printf 'c0,c1,c2\n' >"$W/t-header-only.csv"
bad teacher-header-only t-header-only.csv dst --teachers "$W/t-header-only.csv"
bad teacher-wrong-type t0.dgm dst --teachers "$W/t/t0.dgm"
bad test-teachers-rows t-59rows.csv dst --teachers "$TS" --test "$W/x-ubyte.gz" \
    --test-labels "$W/y-ubyte" --test-teachers "$W/t-59rows.csv"

# Teacher files keyed by id (JSONL, and CSV with an id column): 60 rows
# with ids 0..59, classes named "0", "1", "2"; then broken copies.
keyed() {
    awk -v skip="$1" -v dup="$2" -v bad_id="$3" -v cls="$4" 'BEGIN {
        for (i = 0; i < 60; i++) { if (i == skip) continue
            id = (i == dup) ? 0 : (i == bad_id) ? 999 : i
            printf "{\"id\": %d, \"probs\": {\"0\": 0.2, \"1\": 0.3, \"%s\": 0.5}}\n", \
                id, (i == 7 ? cls : "2") } }'
}
keyed -1 -1 -1 2 >"$W/k-ok.jsonl"
keyed 5 -1 -1 2 >"$W/k-gap.jsonl"
keyed -1 9 -1 2 >"$W/k-dup.jsonl"
keyed -1 -1 11 2 >"$W/k-unknown-id.jsonl"
keyed -1 -1 -1 zebra >"$W/k-class.jsonl"
sed '4s/"probs"/"probz"/' "$W/k-ok.jsonl" >"$W/k-nokey.jsonl"
sed '6s/}}$/}/' "$W/k-ok.jsonl" >"$W/k-brace.jsonl"
awk 'BEGIN { print "id,0,1,2"; for (i = 0; i < 60; i++) print (i == 3 ? 2 : i) ",0.2,0.3,0.5" }' \
    >"$W/k-dup.csv"
awk 'BEGIN { for (i = 0; i < 59; i++) print i }' >"$W/ids-59.txt"
good keyed-teacher-works dst --teachers "$W/k-ok.jsonl,$T0"
bad keyed-missing-row k-gap.jsonl dst --teachers "$W/k-gap.jsonl,$T0"
bad keyed-duplicate-id k-dup.jsonl dst --teachers "$W/k-dup.jsonl,$T0"
bad keyed-unknown-id k-unknown-id.jsonl dst --teachers "$T0,$W/k-unknown-id.jsonl"
bad keyed-unknown-class k-class.jsonl dst --teachers "$W/k-class.jsonl" --classes 0,1,2
bad keyed-no-probs k-nokey.jsonl dst --teachers "$W/k-nokey.jsonl,$T0"
bad keyed-bad-json k-brace.jsonl dst --teachers "$W/k-brace.jsonl,$T0"
bad keyed-csv-duplicate-id k-dup.csv dst --teachers "$W/k-dup.csv,$T0"
bad ids-count ids-59.txt dst --teachers "$W/k-ok.jsonl" --ids "$W/ids-59.txt"

# ------------------------------------------------------------- bad labels

awk 'NR == 10 { print 7; next } { print }' "$W/y.csv" >"$W/y-big.csv"
awk 'NR == 10 { print -3; next } { print }' "$W/y.csv" >"$W/y-neg.csv"
head -n 59 "$W/y.csv" >"$W/y-59.csv"
copy_patch "$W/y-ubyte" "$W/y-big-ubyte" 20 '\011'
bad label-out-of-range y-big.csv dst_data --data "$W/x-ubyte.gz" --labels "$W/y-big.csv" \
    --teachers "$TS"
bad label-negative y-neg.csv dst_data --data "$W/x-ubyte.gz" --labels "$W/y-neg.csv" \
    --teachers "$TS"
bad label-count y-59.csv dst_data --data "$W/x-ubyte.gz" --labels "$W/y-59.csv" \
    --teachers "$TS"
bad idx-label-out-of-range y-big-ubyte dst_data --data "$W/x-ubyte.gz" \
    --labels "$W/y-big-ubyte" --teachers "$TS"
bad eval-label-beyond-model y-big.csv evl --model "$W/m.dgm" --data "$W/x-ubyte.gz" \
    --labels "$W/y-big.csv"

# ------------------------------------------------- sizes claiming too much

{ npy_file '(3000000000, 3)' '<f4'; bytes_of 0 48; } >"$W/huge.npy"
{ npy_file '(60, 3000000000)' '<f4'; bytes_of 0 48; } >"$W/wide.npy"
{ npy_file '(-60, 3)' '<f4'; bytes_of 0 48; } >"$W/negative-shape.npy"
{ npy_file '(60, 3)' '<c8'; bytes_of 0 48; } >"$W/complex.npy"
{ be32 2051; be32 2147483648; be32 2; be32 2; bytes_of 1 64; } >"$W/huge-ubyte"
{ be32 2049; be32 4294967295; bytes_of 1 64; } >"$W/huge-labels-ubyte"
{ be32 2051; be32 60; be32 65536; be32 65536; bytes_of 1 64; } >"$W/big-images-ubyte"
bad npy-rows-over-2^31 huge.npy dst --teachers "$W/huge.npy"
bad npy-cols-over-2^31 wide.npy dst --teachers "$W/wide.npy"
bad npy-negative-shape negative-shape.npy dst --teachers "$W/negative-shape.npy"
bad npy-complex-dtype complex.npy dst --teachers "$W/complex.npy"
bad idx-rows-over-2^31 huge-ubyte dst_data --method ce --data "$W/huge-ubyte" \
    --labels "$W/y-ubyte"
bad idx-labels-over-2^31 huge-labels-ubyte dst_data --method ce --data "$W/x-ubyte" \
    --labels "$W/huge-labels-ubyte"
bad idx-huge-images big-images-ubyte prd --model "$W/m.dgm" --data "$W/big-images-ubyte"

# ------------------------------------------------------------ bad options

bad temperature-zero temperature dst --teachers "$TS" --temperature 0
bad temperature-negative temperature dst --teachers "$TS" --temperature -2
bad temperature-nan temperature dst --teachers "$TS" --temperature nan
bad tolerance-below-1/M tolerance dst --teachers "$TS" --tolerance 0.3
bad tolerance-above-1 tolerance dst --teachers "$TS" --tolerance 1.01
bad tolerance-zero tolerance dst --teachers "$TS" --tolerance 0
bad tolerance-one-teacher tolerance dst --teachers "$T0" --tolerance 0.5
bad batch-zero batch "$BIN" distill $DS $FAST --teachers "$TS" --epochs 1 $OUT --batch 0
bad epochs-zero epochs "$BIN" distill $DS $FAST --teachers "$TS" $OUT --epochs 0
bad epochs-word epochs "$BIN" distill $DS $FAST --teachers "$TS" $OUT --epochs two
bad hidden-zero-layer hidden "$BIN" distill $DS --threads 1 --epochs 1 --teachers "$TS" \
    $OUT --hidden 128,0
bad hidden-negative hidden "$BIN" distill $DS --threads 1 --epochs 1 --teachers "$TS" \
    $OUT --hidden -5
bad hidden-trailing-comma hidden "$BIN" distill $DS --threads 1 --epochs 1 \
    --teachers "$TS" $OUT --hidden 4,
bad hidden-too-many hidden "$BIN" distill $DS --threads 1 --epochs 1 --teachers "$TS" \
    $OUT --hidden 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2
bad lr-zero lr dst --teachers "$TS" --lr 0
bad alpha-negative alpha dst --teachers "$TS" --alpha -1
bad momentum-one momentum dst --teachers "$TS" --momentum 1
bad unknown-option --frobnicate dst --teachers "$TS" --frobnicate 3
bad duplicate-option "given twice" dst --teachers "$TS" --teachers "$TS"
bad missing-out "--out" "$BIN" distill $DS --teachers "$TS" --json "$O/r.json"
bad missing-data-option "--data" "$BIN" distill --teachers "$TS" $OUT
bad missing-teachers "--teachers" dst
bad missing-option-value "needs a value" dst --teachers
bad stray-argument "unexpected argument" dst --teachers "$TS" extra
bad method-unknown "--method" dst --teachers "$TS" --method best
bad method-empty "--method" dst --teachers "$TS" --method ""
bad teacher-format-unknown "--teacher-format" dst --teachers "$TS" --teacher-format probs
bad optimizer-unknown "--optimizer" dst --teachers "$TS" --optimizer lbfgs
bad seed-negative "--seed" dst --teachers "$TS" --seed -1
bad flag-with-value "takes no value" dst --teachers "$TS" --resume=yes
bad unknown-command "frobnicate" "$BIN" frobnicate
bad eval-missing-labels "--labels" "$BIN" eval --model "$W/m.dgm" --data "$W/x-ubyte.gz" \
    --json "$O/e.json"
bad predict-feature-count "features" prd --model "$W/m.dgm" --data "$T0"
bad predict-out-folder-missing "$O/no/p.npy" "$BIN" predict --model "$W/m.dgm" $DS \
    --out "$O/no/p.npy"
bad json-folder-missing "$O/no/r.json" "$BIN" distill $DS $FAST --epochs 1 --teachers "$TS" \
    --out "$O/m.dgm" --json "$O/no/r.json"
bad model-folder-missing "$O/no/m.dgm" "$BIN" distill $DS $FAST --epochs 1 --teachers "$TS" \
    --out "$O/no/m.dgm" --json "$O/r.json"
bad unknown-data-type "unknown feature file type" dst_csv "$W/m.dgm" --teachers "$TS"

# teach: nothing may be left in its --out folder when a member cannot train.
bad teach-epochs-zero epochs "$BIN" teach $DS --members 2 --epochs 0 --out "$O/teach"
bad teach-bad-hidden-later "hidden" "$BIN" teach $DS --members 2 --epochs 1 --threads 1 \
    --hidden 3/x --out "$O/teach"
bad teach-noisy-member "--noisy-member" "$BIN" teach $DS --members 2 --epochs 1 \
    --noisy-member 2 --out "$O/teach"
bad teach-no-labels "labels" "$BIN" teach --data "$W/x-ubyte.gz" --members 2 --out "$O/teach"
bad teach-out-is-file "not a folder" "$BIN" teach $DS --members 1 --epochs 1 \
    --out "$W/m.dgm"
bad teach-test-width features "$BIN" teach $DS --members 1 --epochs 1 --test "$T0" \
    --test-labels "$W/y.csv" --out "$O/teach"
# A member whose model cannot be written (a folder is in the way): the
# members written before it are removed too.
teach_blocked() {
    mkdir -p "$O/teach/t1.dgm/x"
    "$BIN" teach $DS --members 2 --epochs 1 --threads 1 --hidden 3 --out "$O/teach"
}
bad teach-later-member-fails t1.dgm teach_blocked
bad distill-test-width features dst --teachers "$TS" --test "$T0" --test-labels "$W/y.csv"

# -------------------------------------------------- valid edge input works

good one-teacher-default-tolerance dst --teachers "$T0"
good hidden-zero-is-softmax-regression "$BIN" distill $DS --teachers "$TS" --epochs 1 \
    --threads 1 --hidden 0 $OUT
good labels-in-own-file dst_data --data "$W/x-ubyte.gz" --labels "$W/y-ubyte" \
    --teachers "$TS"

[ "$skipped" -eq 0 ] || echo "$skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
