#!/bin/sh
# Active learning on raw text through the CLI, on a tiny generated corpus:
# text teach writes the teachers' probabilities, text featurize writes the
# texts as dense .npy features and labels, and simulate runs random, entropy
# and consensus-kl on them. Also: featurize's refusals leave no output.
# Needs DG_BIN (the binary).
. "$(dirname "$0")/../cli_lib.sh"

# N texts alternating spam/ham, mail-like (a Subject header, a blank line, a
# body) so that no teacher's view is empty; each body draws 4 words from its
# class's list and 2 from a shared list, so the classes are separable by word.
corpus() {
    awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed)
        split("cheap pills winner prize viagra casino offer free", s, " ")
        split("meeting agenda lunch report minutes review project team", h, " ")
        split("the a today please note", c, " ")
        for (i = 0; i < n; i++) { spam = i % 2; t = ""
            for (j = 0; j < 4; j++) { k = int(rand() * 8) + 1; t = t (spam ? s[k] : h[k]) " " }
            for (j = 0; j < 2; j++) t = t c[int(rand() * 5) + 1] " "
            printf "{\"text\":\"Subject: note %d\\n\\n%s\",\"label\":\"%s\"}\n", i, t,
                spam ? "spam" : "ham" } }'
}
corpus 1 48 >"$W/train.jsonl"
corpus 2 24 >"$W/test.jsonl"

# The .npy header's shape field, e.g. "(48, 256)".
shape() {
    head -c 128 "$1" | LC_ALL=C tr -cd "[:print:]" |
        LC_ALL=C sed -n "s/.*'shape': *(\([^)]*\)).*/(\1)/p" | tr -d ' '
}

"$BIN" text --help | grep -q "featurize"
check text-help-lists-featurize $? "text --help does not list featurize"
"$BIN" text featurize --help >"$W/help" 2>&1 && grep -q -- "--out-prefix" "$W/help"
check featurize-help $? "featurize --help failed or lists no --out-prefix"

"$BIN" text teach --train "$W/train.jsonl" --test "$W/test.jsonl" --out "$W/t" --bits 8 \
    --epochs 2 --threads 1 >/dev/null 2>"$W/teach.err"
check text-teach $? "text teach failed: $(head -c 300 "$W/teach.err")"

"$BIN" text featurize --train "$W/train.jsonl" --test "$W/test.jsonl" --bits 8 --words 1-2 \
    --chars 0-0 --tfidf --threads 1 --out-prefix "$W/f" >"$W/f.out" 2>"$W/f.err"
check featurize $? "featurize failed: $(head -c 300 "$W/f.err")"
[ "$(shape "$W/f.train.npy")" = "(48,256)" ] && [ "$(shape "$W/f.test.npy")" = "(24,256)" ]
check featurize-dense-shape $? "expected (48,256) and (24,256), found $(shape "$W/f.train.npy")" \
    "and $(shape "$W/f.test.npy")"
[ "$(shape "$W/f.train-labels.npy")" = "(48,)" ] && [ "$(shape "$W/f.test-labels.npy")" = "(24,)" ]
check featurize-label-shape $? "expected 48 and 24 labels"
# Row 1 densified: 256 floats after the 128-byte header, unit L2 norm.
ss=$(tail -c +129 "$W/f.train.npy" | head -c 1024 | od -An -v -t f4 |
    awk '{ for (i = 1; i <= NF; i++) { s += $i * $i; nz += $i != 0 } } END { print s, nz }')
awk -v s="${ss% *}" -v nz="${ss#* }" 'BEGIN { exit !(s > 0.999 && s < 1.001 && nz >= 4) }'
check featurize-rows-unit-norm $? "row 1: sum of squares and nonzeros '$ss', expected 1 and >= 4"
# Labels are class ids in order of first appearance: ham (0) then spam (1),
# alternating; little-endian int32 after the 128-byte header.
ids=$(tail -c +129 "$W/f.train-labels.npy" | od -An -v -t d4 | tr -s ' \n' ' ' | cut -c1-16)
[ "$ids" = " 0 1 0 1 0 1 0 1" ]
check featurize-labels-match-texts $? "first labels '$ids', expected 0 1 0 1 0 1 0 1"

T="$W/t/t0.train.npy,$W/t/t1.train.npy,$W/t/t2.train.npy,$W/t/t3.train.npy"
TT="$W/t/t0.test.npy,$W/t/t1.test.npy,$W/t/t2.test.npy,$W/t/t3.test.npy"
"$BIN" simulate --data "$W/f.train.npy" --labels "$W/f.train-labels.npy" \
    --test "$W/f.test.npy" --test-labels "$W/f.test-labels.npy" --teachers "$T" \
    --test-teachers "$TT" --strategies random,entropy,consensus-kl --hidden 0 --lr 2 \
    --initial 6 --batch 6 --budget 18 --repeats 1 --steps 20 --epochs 2 --stop-rows 6 \
    --threads 1 --out "$W/sim" >"$W/sim.out" 2>"$W/sim.err"
check simulate-on-text $? "simulate failed: $(head -c 300 "$W/sim.err")"
for s in random entropy consensus-kl; do
    n=$(grep -c "^gold,$s,1," "$W/sim/curves.csv")
    [ "$n" -ge 3 ]
    check "curves-$s" $? "curves.csv has $n gold rows for $s, expected 3 or more"
done
for f in cost.md cost.json curves.svg; do
    [ -s "$W/sim/$f" ]
    check "simulate-writes-$f" $? "missing $W/sim/$f"
done

# Refusals: an error line, a non-zero exit, and nothing written.
refuse() { # name expected-message args...
    name=$1 msg=$2
    shift 2
    "$BIN" text featurize "$@" --out-prefix "$W/bad" >/dev/null 2>"$W/bad.err"
    st=$?
    [ $st -ne 0 ] && grep -q "^disagree: error: .*$msg" "$W/bad.err"
    check "refuse-$name" $? "exit $st, stderr: $(head -c 300 "$W/bad.err")"
    [ -z "$(ls "$W" | grep '^bad\.')" ] || [ "$(ls "$W" | grep '^bad\.')" = "bad.err" ]
    check "refuse-$name-writes-nothing" $? "left $(ls "$W" | grep '^bad\.' | tr '\n' ' ')"
}
refuse bits-too-large "--bits 17 would make a dense 48 x 131072 float32 matrix of 25165824 bytes" \
    --train "$W/train.jsonl" --bits 17
refuse missing-train "$W/none.jsonl" --train "$W/none.jsonl"
refuse missing-test "$W/none.jsonl" --train "$W/train.jsonl" --test "$W/none.jsonl" --bits 8
refuse no-features "both 0-0" --train "$W/train.jsonl" --words 0-0 --chars 0-0
printf '{"text":"cheap pills","label":"spam"}\n{"text":"no label here"}\n' >"$W/unl.jsonl"
cat "$W/train.jsonl" >>"$W/unl.jsonl"
refuse unlabelled-text "unl.jsonl: text 2: expected a label" --train "$W/unl.jsonl" --bits 8

finish
