#!/bin/sh
# The text commands end to end on a tiny generated corpus: teach, distill,
# eval and predict (.npy and .csv), configurable keys, and invalid UTF-8,
# which is an error naming the line and byte unless replacement is asked
# for. Needs DG_BIN (the binary).
. "$(dirname "$0")/../cli_lib.sh"

# N mail-like texts alternating spam/ham, separable by word; $3 names the
# text key (default "text").
corpus() {
    awk -v seed="$1" -v n="$2" -v key="${3:-text}" 'BEGIN { srand(seed)
        split("cheap pills winner prize casino offer free bonus", s, " ")
        split("meeting agenda lunch report minutes review project team", h, " ")
        for (i = 0; i < n; i++) { spam = i % 2; t = ""
            for (j = 0; j < 5; j++) { k = int(rand() * 8) + 1; t = t (spam ? s[k] : h[k]) " " }
            printf "{\"%s\":\"Subject: note %d\\n\\n%s\",\"label\":\"%s\"}\n", key, i, t,
                spam ? "spam" : "ham" } }'
}
corpus 1 60 >"$W/train.jsonl"
corpus 2 30 >"$W/test.jsonl"
corpus 3 30 body >"$W/keyed.jsonl"

"$BIN" text teach --train "$W/train.jsonl" --test "$W/test.jsonl" --out "$W/t" --bits 10 \
    --epochs 3 --threads 1 >/dev/null 2>"$W/e"
check teach $? "text teach failed: $(head -c 300 "$W/e")"
T="$W/t/t0.train.npy,$W/t/t1.train.npy,$W/t/t2.train.npy,$W/t/t3.train.npy"
"$BIN" text distill --train "$W/train.jsonl" --teachers "$T" --test "$W/test.jsonl" \
    --bits 10 --epochs 5 --threads 1 --out "$W/s.dgt" >"$W/d.out" 2>"$W/e"
check distill $? "text distill failed: $(head -c 300 "$W/e")"

# The class words sit in the body: the body alone still separates them,
# and a wrong --text-part value is refused.
"$BIN" text distill --train "$W/train.jsonl" --teachers "$T" --test "$W/test.jsonl" \
    --bits 10 --epochs 5 --threads 1 --text-part body --out "$W/b.dgt" >"$W/b.out" 2>"$W/e"
check text-part-body $? "distill --text-part body failed: $(head -c 300 "$W/e")"
"$BIN" text distill --train "$W/train.jsonl" --teachers "$T" --text-part headers \
    --out "$W/h.dgt" >/dev/null 2>"$W/e"
[ $? -ne 0 ] && grep -q "body or all" "$W/e" && [ ! -e "$W/h.dgt" ]
check text-part-refuses-other-values $? "got: $(head -c 300 "$W/e")"

"$BIN" text eval --model "$W/s.dgt" --data "$W/test.jsonl" >"$W/ev.out" 2>"$W/e"
check eval $? "text eval failed: $(head -c 300 "$W/e")"
acc=$(awk '$1 == "rows" { getline; print $2 }' "$W/ev.out")
awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }'
check eval-accuracy $? "accuracy '$acc' on separable texts, expected > 0.9"

"$BIN" text predict --model "$W/s.dgt" --data "$W/test.jsonl" --out "$W/p.csv" >"$W/p.out" 2>"$W/e"
check predict-csv $? "text predict failed: $(head -c 300 "$W/e")"
[ "$(head -n 1 "$W/p.csv")" = "ham,spam" ] && [ "$(wc -l <"$W/p.csv")" -eq 31 ]
check predict-csv-is-csv $? "expected a ham,spam header and 30 rows, got: $(head -c 80 "$W/p.csv")"
"$BIN" text predict --model "$W/s.dgt" --data "$W/test.jsonl" --out "$W/p.npy" >/dev/null 2>&1
[ "$(head -c 6 "$W/p.npy" | od -An -c | tr -d ' ')" = "223NUMPY" ]
check predict-npy $? "predict .npy did not write an npy file"

"$BIN" text eval --model "$W/s.dgt" --data "$W/keyed.jsonl" --text-key body >/dev/null 2>"$W/e"
check text-key $? "--text-key body failed: $(head -c 300 "$W/e")"
"$BIN" text eval --model "$W/s.dgt" --data "$W/keyed.jsonl" >/dev/null 2>"$W/e"
[ $? -ne 0 ] && grep -q "disagree: error:.*text" "$W/e"
check missing-text-key-is-an-error $? "got: $(head -c 300 "$W/e")"

# Line 3 holds the bytes ff fe inside the text.
{ head -n 2 "$W/test.jsonl"; printf '{"text":"bad \377\376 bytes","label":"ham"}\n'; } \
    >"$W/bad.jsonl"
"$BIN" text eval --model "$W/s.dgt" --data "$W/bad.jsonl" >/dev/null 2>"$W/e"
[ $? -ne 0 ] && grep -q "line 3" "$W/e" && grep -q "byte" "$W/e"
check invalid-utf8-is-an-error $? "got: $(head -c 300 "$W/e")"
"$BIN" text eval --model "$W/s.dgt" --data "$W/bad.jsonl" --invalid-utf8 replace \
    >/dev/null 2>"$W/e"
[ $? -eq 0 ] && grep -q "replaced" "$W/e"
check invalid-utf8-replace-counts $? "got: $(head -c 300 "$W/e")"

finish
