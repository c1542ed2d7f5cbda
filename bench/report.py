"""Writes bench/RESULTS.md (to stdout) from the raw records bench/run.sh
collected: one line per (label, threads, metric, value, command). Every
figure is given as the median, min and max over the runs, with its exact
command; the machine, OpenBLAS build and load come first. The profile
prose lives in bench/profile_notes.md and is appended under "Profile".
"""
import collections
import datetime
import os
import statistics
import subprocess
import sys

N_TRAIN, D, C, M_RSS = 60000, 784, 10, 20


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def load(path):
    recs = collections.defaultdict(list)
    cmds = {}
    with open(path) as f:
        for line in f:
            label, threads, metric, value, cmd = line.rstrip("\n").split("\t")
            key = (label, int(threads), metric)
            recs[key].append(float(value))
            cmds[key] = cmd
    return recs, cmds


def stat(recs, label, threads, metric):
    v = recs.get((label, threads, metric))
    if not v:
        return None
    return statistics.median(v), min(v), max(v), len(v)


def paired(recs, label, metric, other=None, threads=(1, 2)):
    """Per-round ratios of a figure: label's at threads[1] over label's at
    threads[0], or other's over label's at threads[0]. Both run within the
    same round, so drift between rounds cancels. Returns (median, min, max,
    n) like stat, or None."""
    a = recs.get((label, threads[0], metric))
    b = recs.get((other, threads[0], metric) if other else (label, threads[1], metric))
    if not a or not b or len(a) != len(b):
        return None
    r = [y / x for x, y in zip(a, b)]
    return statistics.median(r), min(r), max(r), len(r)


def fmt(s, digits=0):
    if s is None:
        return "n/a"
    med, lo, hi, _ = s
    return f"{med:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def med(recs, label, threads, metric):
    s = stat(recs, label, threads, metric)
    return s[0] if s else float("nan")


def machine(bin_dir):
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    info = dict(line.split(" ", 1) for line in sh(f"{bin_dir}/sgemm --info").splitlines())
    flags = sh("grep -m1 flags /proc/cpuinfo").split()
    simd = " ".join(f for f in ("avx2", "fma", "avx512f") if f in flags)
    versions = sh("/usr/bin/python3 -c 'import torch, numpy, sklearn; "
                  "print(torch.__version__, numpy.__version__, sklearn.__version__)'").split()
    env = ", ".join(f"{k}={os.environ.get(k, '(unset)')}"
                    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                              "OMP_NUM_THREADS", "OMP_WAIT_POLICY"))
    load_start = open(f"{bin_dir}/load_start.txt").read().strip()
    load_end = open(f"{bin_dir}/load_end.txt").read().strip()
    rows = [
        ("CPU", f"{cpu} ({simd}); {sh('nproc')} cores online; "
                f"{sh('lscpu | grep -i hypervisor').split(':')[-1].strip() or 'bare metal'}"),
        ("Cores", sh("lscpu | grep -E '^(Thread|Core|Socket)' | tr -s ' ' | paste -sd';'")),
        ("OpenBLAS", f"{info.get('openblas_config', '?')}; "
                     f"core {info.get('openblas_corename', '?')}"),
        ("Environment", env),
        ("Peers", "PyTorch {} / NumPy {} / scikit-learn {} (Debian, /usr/bin/python3); "
                  "torch calls the system libblas.so.3 = OpenBLAS pthreads".format(*versions)
         if len(versions) == 3 else "?"),
        ("Load at start", load_start),
        ("Load at end", load_end),
        ("Commit", sh("git rev-parse --short HEAD")),
    ]
    return rows


def main():
    bin_dir = sys.argv[1]
    recs, cmds = load(f"{bin_dir}/raw.tsv")
    runs = max(len(v) for v in recs.values())
    out = []
    w = out.append

    w("# Benchmark results\n")
    w(f"Written by `make bench` (bench/run.sh) on {datetime.date.today()}: {runs} rounds, "
      "each round running every figure once with ours and the peer alternating, "
      f"{os.environ.get('BENCH_SECONDS', '?')} s of timed rounds. Figures are "
      "**median (min–max)** over the rounds. The load averages below tell whether "
      "other work shared this 2-core machine during the run; ours and the peers "
      "alternate within each round, so the ratios hold up better than single "
      "numbers when it did.\n")
    w("## Machine\n")
    w("| | |\n| --- | --- |")
    for k, v in machine(bin_dir):
        w(f"| {k} | {v} |")
    w("")

    # -------------------------------------------------------------- targets
    def ratio(a, b):
        return a / b if a and b else float("nan")

    big1 = med(recs, "ours big ce", 1, "images_per_s")
    scale = paired(recs, "ours big ce", "images_per_s")
    rows = [
        ("784-512-256-10 vs PyTorch, 1 thread", ">= 1.2x",
         ratio(big1, med(recs, "torch big ce", 1, "images_per_s")), 1.2, "x"),
        ("784-512-256-10 of the sgemm rate, 1 thread", ">= 0.75",
         med(recs, "ours big ce", 1, "frac_of_sgemm"), 0.75, ""),
        ("784-512-256-10, 2 threads vs 1 (per round, median)", ">= 1.6x",
         scale[0] if scale else float("nan"), 1.6, "x"),
        ("784-128-10 vs PyTorch, 1 thread", ">= 2x",
         ratio(med(recs, "ours small ce", 1, "images_per_s"),
               med(recs, "torch small ce", 1, "images_per_s")), 2.0, "x"),
    ]
    for size in ("big", "small"):
        over = paired(recs, f"ours {size} avg-loss M=5", "epoch_s", f"ours {size} aekd M=5")
        rows.append((f"aekd over avg-loss per epoch, M=5, {size}, 1 thread (per round, median)",
                     "<= +5%", over[0] - 1 if over else float("nan"), None, "%"))
        rows.append((f"aekd vs official-style step, M=5, {size}, 1 thread", ">= 3x",
                     ratio(med(recs, f"torch {size} aekd-official M=5", 1, "epoch_s"),
                           med(recs, f"ours {size} aekd M=5", 1, "epoch_s")), 3.0, "x"))
    for t in (1, 2):
        rows.append((f"pool scoring / memory-read floor, {t} thread{'s' if t > 1 else ''}",
                     "<= 2x", ratio(med(recs, "ours pool consensus-kl", t, "score_ms"),
                                    med(recs, "ours pool consensus-kl", t, "floor_ms")),
                     None, "x"))
    rows.append(("pool scoring vs NumPy, 1 thread each", ">= 5x",
                 ratio(med(recs, "numpy pool consensus-kl", 1, "score_ms"),
                       med(recs, "ours pool consensus-kl", 1, "score_ms")), 5.0, "x"))
    data_bytes = (N_TRAIN * D * 4 + N_TRAIN * 4 + M_RSS * N_TRAIN * C * 4) / 2**20
    rows.append(("peak RSS / (data + teacher bytes)", "<= 1.5x",
                 ratio(med(recs, "ours cli distill rss", 2, "peak_rss_mb"), data_bytes),
                 None, "x"))
    w("## Targets\n")
    w("Each line is computed from the medians below; the two-thread speed-up and AE-KD's "
      "overhead are medians of the per-round ratios (the tables below give their spread).\n")
    w("| figure | target | measured | met |\n| --- | --- | --- | --- |")
    for name, target, value, floor, unit in rows:
        if unit == "%":
            shown, met = f"{100 * value:+.1f}%", value <= 0.05
        else:
            shown = f"{value:.2f}{unit}"
            met = value >= floor if floor is not None else value <= float(
                target.split()[-1].rstrip("x"))
        w(f"| {name} | {target} | {shown} | {'yes' if met else 'no'} |")
    w("")

    # ---------------------------------------------------------------- sgemm
    w("## sgemm rate (GFLOP/s)\n")
    w("`bench/sgemm --threads T`: cblas_sgemm on one shape, m x k x n, for 0.25 s after a "
      "warm-up. `sgemm_mix` (from train_dense) is the rate of exactly the calls one training "
      "step makes, back to back, with no other work: the ceiling for that MLP.\n")
    w("| shape | 1 thread | 2 threads |\n| --- | --- | --- |")
    for metric in ("sgemm_256x784x512", "sgemm_128x512x256", "sgemm_512x128x784",
                   "sgemm_128x256x512"):
        w(f"| {metric[6:]} | {fmt(stat(recs, 'sgemm', 1, metric), 1)} | "
          f"{fmt(stat(recs, 'sgemm', 2, metric), 1)} |")
    for size, name in (("big", "step mix 784-512-256-10, B=128"),
                       ("small", "step mix 784-128-10, B=64")):
        w(f"| {name} | {fmt(stat(recs, f'ours {size} ce', 1, 'sgemm_mix_gflops'), 1)} | "
          f"{fmt(stat(recs, f'ours {size} ce', 2, 'sgemm_mix_gflops'), 1)} |")
    w("")

    # ------------------------------------------------------------- training
    w("## Training throughput on Fashion-MNIST train (images/s, one epoch of 60,000)\n")
    w("Ours: `build/bench/train_dense` (dg_distill, 1 epoch, SGD momentum 0.9, constant lr). "
      "PyTorch: `bench/torch_mlp.py`, the same sizes, optimizer and losses, with "
      "`torch.set_num_threads(T)` and `OPENBLAS_NUM_THREADS=T`. GFLOP/s counts the matrix "
      "work done (forward and dW on every layer, dX on every layer but the first) and the "
      "fraction is of the step-mix sgemm rate measured in the same process. The official-style "
      "AE-KD (one retained-graph backward per teacher, then OneClassSVM(nu=1/(C·M), "
      "kernel='precomputed') on the Gram matrix) is timed over its first 40 batches, the "
      "other PyTorch runs over their first 200, and scaled to an epoch; ours always run "
      "the whole epoch.\n")
    w("| MLP | method | T | ours images/s | ours GFLOP/s | of sgemm | PyTorch images/s "
      "| ours / PyTorch |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, name in (("big", "784-512-256-10 B=128"), ("small", "784-128-10 B=64")):
        for t in (1, 2):
            for meth, peer in (("ce", "ce"), ("avg-loss M=5", "avg-loss M=5"),
                               ("aekd M=5", "aekd-official M=5"),
                               ("avg-loss M=20", "avg-loss M=20"),
                               ("aekd M=20", "aekd-official M=20")):
                ours, theirs = f"ours {size} {meth}", f"torch {size} {peer}"
                ratio = med(recs, ours, t, "images_per_s") / med(recs, theirs, t, "images_per_s")
                peer_note = " (official)" if "official" in peer else ""
                w(f"| {name} | {meth} | {t} | {fmt(stat(recs, ours, t, 'images_per_s'))} | "
                  f"{fmt(stat(recs, ours, t, 'gflops'), 1)} | "
                  f"{fmt(stat(recs, ours, t, 'frac_of_sgemm'), 2)} | "
                  f"{fmt(stat(recs, theirs, t, 'images_per_s'))}{peer_note} | {ratio:.2f} |")
    w("")
    w("AE-KD against avg-loss (same teachers, our trainer; epoch seconds, medians):\n")
    w("| MLP | T | M | avg-loss s | aekd s | aekd overhead | per round | "
      "official-style AE-KD s | ours / official |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in ("big", "small"):
        for t in (1, 2):
            for M in (5, 20):
                avg = med(recs, f"ours {size} avg-loss M={M}", t, "epoch_s")
                ae = med(recs, f"ours {size} aekd M={M}", t, "epoch_s")
                off = med(recs, f"torch {size} aekd-official M={M}", t, "epoch_s")
                pr = paired(recs, f"ours {size} avg-loss M={M}", "epoch_s",
                            f"ours {size} aekd M={M}", (t, t))
                per_round = (f"{100 * (pr[0] - 1):+.0f}% ({100 * (pr[1] - 1):+.0f}% to "
                             f"{100 * (pr[2] - 1):+.0f}%)" if pr else "n/a")
                w(f"| {size} | {t} | {M} | {avg:.2f} | {ae:.2f} | {100 * (ae / avg - 1):+.0f}% "
                  f"| {per_round} | {off:.2f} | {off / ae:.1f}x faster |")
    w("")
    w("PyTorch thread pools (`ce`, 2 threads unless noted; images/s): torch's OpenMP pool "
      "and OpenBLAS's own pthreads are separate, so `set_num_threads(2)` with OpenBLAS at 2 "
      "puts up to 4 busy threads on 2 cores.\n")
    w("| MLP | torch2 + blas2 (default) | torch2 + blas2, OMP_WAIT_POLICY=passive "
      "| torch2 + blas1 |")
    w("| --- | --- | --- | --- |")
    for size in ("big", "small"):
        w(f"| {size} | {fmt(stat(recs, f'torch {size} ce', 2, 'images_per_s'))} | "
          f"{fmt(stat(recs, f'torch {size} ce torch2+blas2 passive', 2, 'images_per_s'))} | "
          f"{fmt(stat(recs, f'torch {size} ce torch2+blas1', 2, 'images_per_s'))} |")
    w("")
    w("Ours, two threads against one (images/s, medians): the run's two OpenMP threads share "
      "each step, each calling OpenBLAS at one thread on its part; beside it what OpenBLAS's "
      "own two threads gain on the step's sgemm calls alone (the step-mix rate). `2 / 1` is "
      "the ratio of the medians; `per round` the median (min–max) of the ratios of the two "
      "runs made back to back in each round.\n")
    w("| MLP | method | 1 thread | 2 threads | 2 / 1 | per round | sgemm step mix 2 / 1 |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for size, name in (("big", "784-512-256-10 B=128"), ("small", "784-128-10 B=64")):
        mix = (med(recs, f"ours {size} ce", 2, "sgemm_mix_gflops") /
               med(recs, f"ours {size} ce", 1, "sgemm_mix_gflops"))
        for meth in ("ce", "avg-loss M=5", "aekd M=5", "avg-loss M=20", "aekd M=20"):
            one = med(recs, f"ours {size} {meth}", 1, "images_per_s")
            two = med(recs, f"ours {size} {meth}", 2, "images_per_s")
            w(f"| {name} | {meth} | {one:,.0f} | {two:,.0f} | {two / one:.2f} | "
              f"{fmt(paired(recs, f'ours {size} {meth}', 'images_per_s'), 2)} | {mix:.2f} |")
    w("")
    w("Ours at 2 threads, aekd M=20, images/s: the default against "
      "`OMP_WAIT_POLICY=passive` (libgomp's threads sleep at once at a barrier instead of "
      "spinning first).\n")
    w("| MLP | default | OMP_WAIT_POLICY=passive |\n| --- | --- | --- |")
    for size in ("big", "small"):
        w(f"| {size} | {fmt(stat(recs, f'ours {size} aekd M=20', 2, 'images_per_s'))} | "
          f"{fmt(stat(recs, f'ours {size} aekd M=20 passive', 2, 'images_per_s'))} |")
    w("")

    # ----------------------------------------------------------------- pool
    w("## Pool scoring: consensus KL of 1,000,000 x 10 from 5 teachers, top-1000 (ms)\n")
    w("Ours: dg_acq_scores(DG_ACQ_CONSENSUS_KL) then dg_select_batch(TOPK); the floor is "
      "the best of 3 parallel SIMD sums over the same 200 MB of float32 with the same "
      "threads. NumPy: float32 whole-array expressions, one thread, argpartition.\n")
    w("| implementation | T | score | select | score + select | read floor | score / floor |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for label, t in (("ours pool consensus-kl", 1), ("ours pool consensus-kl", 2),
                     ("numpy pool consensus-kl", 1)):
        sc = med(recs, label, t, "score_ms")
        fl = med(recs, label, t, "floor_ms")
        w(f"| {label.split()[0]} | {t} | {fmt(stat(recs, label, t, 'score_ms'), 1)} | "
          f"{fmt(stat(recs, label, t, 'select_ms'), 1)} | "
          f"{fmt(stat(recs, label, t, 'score_select_ms'), 1)} | "
          f"{fmt(stat(recs, label, t, 'floor_ms'), 1)} | {sc / fl:.1f} |")
    w("")

    # --------------------------------------------------------------- memory
    data_mb = (N_TRAIN * D * 4 + N_TRAIN * 4) / 2**20
    teach_mb = M_RSS * N_TRAIN * C * 4 / 2**20
    rss = stat(recs, "ours cli distill rss", 2, "peak_rss_mb")
    w("## Peak memory of distilling 60,000 x 784 from 20 teachers\n")
    w("`/usr/bin/time -f %M build/disagree distill --data train-images-idx3-ubyte.gz "
      "--labels train-labels-idx1-ubyte.gz --teachers teacher00.npy,...,teacher19.npy "
      "--method aekd --hidden 128 --batch 64 --epochs 1 --threads 2 --out student.model` "
      "(teachers: 20 float32 .npy files of 60,000 x 10 written by "
      "`train_dense --write-teachers`).\n")
    w(f"| | MB |\n| --- | --- |\n| features as float32 + labels | {data_mb:.1f} |\n"
      f"| teacher arrays as float32 | {teach_mb:.1f} |\n"
      f"| sum | {data_mb + teach_mb:.1f} |\n| peak RSS (median (min–max)) | {fmt(rss, 1)} |\n"
      f"| ratio peak / sum | {rss[0] / (data_mb + teach_mb):.2f} |\n" if rss else "n/a\n")

    # -------------------------------------------------------------- profile
    w("## Profile\n")
    w("`train_dense --profile`: one epoch of the trainer's own step (the internal calls "
      "dg_distill makes, shared among T threads the same way), each section timed by thread 0 "
      "from one barrier to the next, so a section includes waiting for the slower thread; one "
      "run each. `forward` and `backward` include the sgemm calls, `backward` the optimizer "
      "step fused into it; `soften once` is the per-run softening of the targets (and their "
      "sum q ln q) before the first epoch.\n")
    sections = ("gather", "forward", "kd_step", "backward")
    w("| configuration | T | " + " | ".join(sections) +
      " | total ms | soften once ms | page faults in loop |")
    w("| --- | --- | " + " | ".join("---" for _ in sections) + " | --- | --- | --- |")
    for (label, t, metric) in sorted(k for k in recs if k[0].startswith("profile")
                                     and k[2] == "profile_total_ms"):
        cells = [f"{med(recs, label, t, f'profile_{s}_ms'):.0f} ms "
                 f"({med(recs, label, t, f'profile_{s}_pct'):.0f}%)" for s in sections]
        w(f"| {label[8:]} | {t} | " + " | ".join(cells) +
          f" | {med(recs, label, t, metric):.0f} | "
          f"{med(recs, label, t, 'profile_soften_once_ms'):.0f} | "
          f"{med(recs, label, t, 'profile_loop_page_faults'):.0f} |")
    w("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_notes.md")
    if os.path.exists(notes):
        w(open(notes).read().rstrip() + "\n")

    # ---------------------------------------------------------- all records
    w("## Every figure\n")
    w("| label | T | metric | runs | median | min | max | command |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(recs):
        label, t, metric = key
        if metric in ("check_sum", "picked", "top_score") or metric.endswith("_pct"):
            continue
        s = stat(recs, *key)
        w(f"| {label} | {t} | {metric} | {s[3]} | {s[0]:g} | {s[1]:g} | {s[2]:g} | "
          f"`{cmds[key]}` |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
