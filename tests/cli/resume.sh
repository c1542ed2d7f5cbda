#!/bin/sh
# Kills a distill run with SIGKILL in the middle of an epoch, after its
# first checkpoint, and checks that no half-written model or JSON is left,
# that --resume then finishes it with a model byte-identical to a run never
# interrupted (same seed, one thread), and that a damaged checkpoint is
# refused cleanly. Needs DG_BIN (the binary).
. "$(dirname "$0")/../cli_lib.sh"
case $W in *[!A-Za-z0-9_./-]*) echo "FAIL setup: temp folder '$W' needs quoting"
    echo "0 passed, 1 failed"; exit 1 ;; esac

# 6000 rows, 16 features, 4 classes, and two teachers that disagree (one
# is unsure on every 7th row, the other wrong on every 5th). With a
# 512,512 student an epoch takes a few tenths of a second on one thread.
awk 'BEGIN { srand(11); printf "f1"; for (j = 2; j <= 16; j++) printf ",f%d", j
    print ",label"
    for (i = 0; i < 6000; i++) { y = i % 4
        for (j = 1; j <= 16; j++) printf "%.3f,", rand() + (j % 4 == y) * 0.5
        print y } }' >"$W/d.csv"
teacher() {
    awk -v seed="$1" -v every="$2" -v shift_by="$3" 'BEGIN { srand(seed); print "c0,c1,c2,c3"
        for (i = 0; i < 6000; i++) { y = (i % every == 0) ? (i + shift_by) % 4 : i % 4; s = 0
            for (c = 0; c < 4; c++) { p[c] = rand() + (c == y) * 2; s += p[c] }
            printf "%.6f,%.6f,%.6f,%.6f\n", p[0] / s, p[1] / s, p[2] / s, p[3] / s } }'
}
teacher 5 7 2 >"$W/ta.csv"
teacher 9 5 1 >"$W/tb.csv"

# scenario NAME OPTIONS...: reference run, killed run, resumed run.
scenario() {
    name=$1
    shift
    set -- --data "$W/d.csv" --label-column label --teachers "$W/ta.csv,$W/tb.csv" \
        --hidden 512,512 --batch 16 --epochs 4 --threads 1 --seed 3 "$@"
    mkdir "$W/$name"
    cd "$W/$name" || return

    "$BIN" distill "$@" --out ref.dgm >ref.out 2>ref.err
    check "$name-reference" $? "uninterrupted run failed: $(head -c 300 ref.err)"

    "$BIN" distill "$@" --out run.dgm --json run.json --checkpoint run.ckpt \
        >run.out 2>run.err &
    pid=$!
    tries=0
    while [ ! -f run.ckpt ] && kill -0 "$pid" 2>/dev/null && [ $tries -lt 6000 ]; do
        sleep 0.01
        tries=$((tries + 1))
    done
    # Into the next epoch, well before its end, then SIGKILL.
    sleep 0.08
    kill -0 "$pid" 2>/dev/null
    alive=$?
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    check "$name-killed-mid-run" $alive "the run ended before it could be killed (too fast?)"
    [ -f run.ckpt ]
    check "$name-checkpoint-kept" $? "no checkpoint after the kill"
    leftover=$(ls | grep -v -e '^ref\.' -e '^run\.out$' -e '^run\.err$' -e '^run\.ckpt$' \
        -e '\.tmp\.[0-9]*$')
    [ -z "$leftover" ]
    check "$name-nothing-half-written" $? "after the kill: $leftover"
    cp run.ckpt bad.ckpt 2>/dev/null

    "$BIN" distill "$@" --out run.dgm --json run.json --checkpoint run.ckpt --resume \
        >resume.out 2>resume.err
    check "$name-resume-runs" $? "resumed run failed: $(head -c 300 resume.err)"
    first=$(awk '$1 == "epoch" { table = 1; next } table && $1 ~ /^[0-9]+$/ { print $1; exit }' \
        resume.out)
    [ "${first:-0}" -ge 2 ]
    check "$name-resume-skips-done-epochs" $? "resumed run began at epoch '$first'"
    cmp -s ref.dgm run.dgm
    check "$name-resume-identical" $? "resumed model differs from the uninterrupted one"
    [ -s run.json ] && [ ! -f run.ckpt ]
    check "$name-resume-finishes" $? "no JSON, or the checkpoint was not removed"

    # A damaged copy of the kill's checkpoint is refused, naming it, and
    # nothing is written.
    printf '\377\377\377\377' | dd of=bad.ckpt bs=1 seek=100 conv=notrunc 2>/dev/null
    "$BIN" distill "$@" --out bad.dgm --json bad.json --checkpoint bad.ckpt --resume \
        >/dev/null 2>bad.err
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ ! -f bad.dgm ] && [ ! -f bad.json ] &&
        [ "$(grep -c '^disagree: error:.*bad\.ckpt' bad.err)" -eq 1 ]
    check "$name-damaged-checkpoint" $? "exit $rc: $(head -c 300 bad.err)"
    cd "$W" || return
}

scenario aekd-sgd --method aekd
scenario avgprob-adam --method avg-prob --optimizer adam --lr 0.001

finish
