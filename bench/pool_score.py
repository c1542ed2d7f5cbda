"""The NumPy side of bench/pool_score: consensus KL (the generalised
Jensen-Shannon divergence with equal teacher shares) of a synthetic
1,000,000 x 10 pool from 5 teachers, and the top-1000 pick, written as a
NumPy user would (float32, whole-array operations, zeros kept finite).
Prints "metric value" lines. Run with /usr/bin/python3.
"""
import argparse
import time

import numpy as np


def consensus_kl(p):
    """p is (M, N, C) probabilities; returns (N) sum_m (1/M) KL(p_m || pbar)."""
    pbar = p.mean(axis=0)
    log_p = np.log(np.where(p > 0, p, 1.0))
    log_pbar = np.log(np.where(pbar > 0, pbar, 1.0))
    return (p * (log_p - log_pbar)).sum(axis=2).mean(axis=0)


def top_k(scores, k):
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    M, N, C, K = 5, a.rows, 10, 1000

    rng = np.random.default_rng(1)
    p = rng.exponential(size=(M, N, C)).astype(np.float32)
    p /= p.sum(axis=2, keepdims=True)

    t0 = time.perf_counter()
    total = p.sum(dtype=np.float64)
    floor_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = consensus_kl(p)
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    picked = top_k(scores, K)
    select_s = time.perf_counter() - t0
    print(f"floor_ms {1e3 * floor_s:.1f}")
    print(f"score_ms {1e3 * score_s:.1f}")
    print(f"select_ms {1e3 * select_s:.1f}")
    print(f"score_select_ms {1e3 * (score_s + select_s):.1f}")
    print(f"check_sum {total:.0f}")
    print(f"picked {len(picked)}")


if __name__ == "__main__":
    main()
