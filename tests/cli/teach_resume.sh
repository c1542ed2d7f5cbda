#!/bin/sh
# Kills `teach` with SIGKILL while its second member is training, after
# that member's first checkpoint, then reruns with --resume: the finished
# member is kept, the interrupted one continues, and every model file is
# byte-identical to an uninterrupted run (same seed, one thread).
. "$(dirname "$0")/../cli_lib.sh"

awk 'BEGIN { srand(4); printf "f1"; for (j = 2; j <= 16; j++) printf ",f%d", j
    print ",label"
    for (i = 0; i < 6000; i++) { y = i % 4
        for (j = 1; j <= 16; j++) printf "%.3f,", rand() + (j % 4 == y) * 0.5
        print y } }' >"$W/d.csv"
set -- teach --data "$W/d.csv" --label-column label --members 2 --hidden 512,512 \
    --batch 16 --epochs 4 --threads 1 --seed 9

"$BIN" "$@" --out "$W/ref" >/dev/null 2>"$W/ref.err"
check reference $? "uninterrupted teach failed: $(head -c 300 "$W/ref.err")"

"$BIN" "$@" --out "$W/run" >/dev/null 2>&1 &
pid=$!
# Wait for member 1's first checkpoint (member 0 is then finished).
i=0
while [ ! -e "$W/run/t1.ckpt" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.2
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
pid=
[ -e "$W/run/t1.ckpt" ] && [ -e "$W/run/t0.dgm" ] && [ ! -e "$W/run/t1.dgm" ]
check killed-mid-member $? "expected t0.dgm and t1.ckpt but no t1.dgm after the kill"

"$BIN" "$@" --out "$W/run" --resume >"$W/resume.out" 2>"$W/resume.err"
check resume $? "resumed teach failed: $(head -c 300 "$W/resume.err")"
for f in t0.dgm t1.dgm t0.train.npy t1.train.npy; do
    cmp -s "$W/ref/$f" "$W/run/$f"
    check "resume-identical-$f" $? "$f differs from the uninterrupted run"
done
[ ! -e "$W/run/t1.ckpt" ]
check resume-drops-checkpoint $? "checkpoint left after the member finished"

finish
