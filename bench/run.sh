#!/bin/sh
# Runs every benchmark, ours and the peers alternating within each round,
# BENCH_RUNS rounds (default 5), then rewrites bench/RESULTS.md from the raw
# records (label, threads, metric, value, exact command).
#   sh bench/run.sh [BUILD]        (make bench builds the programs first)
# Budget: about 10 minutes on 2 otherwise idle cores with the default 5 rounds.
set -eu

BUILD=${1:-build}
BIN=$BUILD/bench
RUNS=${BENCH_RUNS:-5}
PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
WORK=$(mktemp -d /tmp/dg-bench.XXXXXX)
RAW=$BIN/raw.tsv
trap 'rm -rf "$WORK"' EXIT INT TERM

: >"$RAW"

# rec LABEL THREADS CMD...: runs CMD and appends each "metric value" line
# it prints as one record.
rec() {
    label=$1
    threads=$2
    shift 2
    if ! "$@" >"$WORK/out" 2>"$WORK/err"; then
        echo "bench: failed: $*" >&2
        cat "$WORK/err" >&2
        exit 1
    fi
    awk -v l="$label" -v t="$threads" -v c="$*" \
        'NF == 2 { printf "%s\t%s\t%s\t%s\t%s\n", l, t, $1, $2, c }' "$WORK/out" >>"$RAW"
}

# peak RSS (kB from /usr/bin/time) of the CLI distilling 60,000 x 784 from
# 20 teacher files, printed as "peak_rss_mb X"
cli_rss() {
    /usr/bin/time -f "%M" -o "$WORK/rss" "$BUILD/disagree" distill \
        --data "$DATA/train-images-idx3-ubyte.gz" --labels "$DATA/train-labels-idx1-ubyte.gz" \
        --teachers "$TEACHERS" --method aekd --hidden 128 --batch 64 --epochs 1 \
        --threads 2 --out "$WORK/student.model" >/dev/null 2>&1
    awk '{ printf "peak_rss_mb %.1f\n", $1 / 1024 }' "$WORK/rss"
}

"$BIN/train_dense" --teachers 20 --write-teachers "$WORK"
TEACHERS=$(ls "$WORK"/teacher*.npy | paste -sd, -)

uptime >"$BIN/load_start.txt"
start=$(date +%s)
for round in $(seq 1 "$RUNS"); do
    echo "bench: round $round of $RUNS" >&2
    for t in 1 2; do
        rec "sgemm" "$t" "$BIN/sgemm" --threads "$t"
    done

    # MLP training: ours, then PyTorch on the same configuration
    for mlp in "512,256 128 big" "128 64 small"; do
        set -- $mlp
        hidden=$1
        batch=$2
        size=$3
        for t in 1 2; do
            td="$BIN/train_dense --hidden $hidden --batch $batch --threads $t"
            tp="$PY bench/torch_mlp.py --hidden $hidden --batch $batch --threads $t"
            ob="env OPENBLAS_NUM_THREADS=$t"
            rec "ours $size ce" "$t" $td --method ce
            rec "torch $size ce" "$t" $ob $tp --method ce --batches 200
            for M in 5 20; do
                # ours back to back (AE-KD's overhead is a few percent), then
                # the peer's two
                rec "ours $size avg-loss M=$M" "$t" $td --method avg-loss --teachers "$M"
                rec "ours $size aekd M=$M" "$t" $td --method aekd --teachers "$M"
                rec "torch $size avg-loss M=$M" "$t" $ob $tp --method avg-loss --teachers "$M" \
                    --batches 200
                rec "torch $size aekd-official M=$M" "$t" $ob $tp --method aekd-official \
                    --teachers "$M" --batches 40
            done
        done
        # our trainer with libgomp's threads told not to spin
        rec "ours $size aekd M=20 passive" 2 env OMP_WAIT_POLICY=passive "$BIN/train_dense" \
            --hidden "$hidden" --batch "$batch" --threads 2 --method aekd --teachers 20
        # PyTorch's OpenMP pool against OpenBLAS's own threads
        tp="$PY bench/torch_mlp.py --hidden $hidden --batch $batch --threads 2 --method ce \
            --batches 200"
        rec "torch $size ce torch2+blas1" 2 env OPENBLAS_NUM_THREADS=1 $tp
        rec "torch $size ce torch2+blas2 passive" 2 \
            env OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=passive $tp
    done

    # pool scoring: ours at 1 and 2 threads, then NumPy
    for t in 1 2; do
        rec "ours pool consensus-kl" "$t" "$BIN/pool_score" --threads "$t"
    done
    rec "numpy pool consensus-kl" 1 env OPENBLAS_NUM_THREADS=1 $PY bench/pool_score.py

    rec "ours cli distill rss" 2 cli_rss
done
end=$(date +%s)
uptime >"$BIN/load_end.txt"

# one profiled epoch per configuration (sections timed with clock_gettime)
for cfg in "512,256 128 ce 5 1" "512,256 128 ce 5 2" "512,256 128 aekd 20 1" \
    "512,256 128 aekd 20 2" "128 64 ce 5 1" "128 64 aekd 20 1" "128 64 aekd 20 2"; do
    set -- $cfg
    rec "profile mlp-$1 b$2 $3 M=$4" "$5" "$BIN/train_dense" --hidden "$1" --batch "$2" \
        --method "$3" --teachers "$4" --threads "$5" --profile
done

BENCH_SECONDS=$((end - start)) "$PY" bench/report.py "$BIN" >bench/RESULTS.md.tmp
mv bench/RESULTS.md.tmp bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md ($((end - start)) s of timed rounds)" >&2
