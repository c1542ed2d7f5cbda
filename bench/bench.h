/* Helpers shared by the benchmark programs: a monotonic clock, the rate of
 * a fixed list of sgemm calls (the machine's ceiling for our matrix work),
 * and one-line "metric value" output that bench/run.sh collects.
 * Header-only so each benchmark stays one translation unit.
 */
#ifndef DG_BENCH_H
#define DG_BENCH_H

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds each sgemm rate is measured over, after one warm-up call. */
#define BENCH_SGEMM_SECONDS 0.25

static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One row-major sgemm: C (m, n) = op(A) op(B), with op(A) (m, k) and
 * op(B) (k, n); ta/tb say whether A is stored (k, m) and B (n, k). */
typedef struct bench_gemm {
    int m, n, k;
    int ta, tb;
} bench_gemm;

static inline double bench_gemm_flops(const bench_gemm *g, int count)
{
    double f = 0.0;

    for (int i = 0; i < count; i++)
        f += 2.0 * g[i].m * g[i].n * g[i].k;
    return f;
}

/* GFLOP/s of running the `count` calls in g back to back, repeated for
 * BENCH_SGEMM_SECONDS, on random operands, with the OpenBLAS thread count
 * already set by the caller. Returns a negative value when out of memory. */
static inline double bench_sgemm_rate(const bench_gemm *g, int count)
{
    size_t most = 0;
    float *A, *B, *C;
    double t0, t, flops = bench_gemm_flops(g, count);
    long reps = 0;

    for (int i = 0; i < count; i++) {
        size_t a = (size_t)g[i].m * g[i].k, b = (size_t)g[i].k * g[i].n;
        size_t c = (size_t)g[i].m * g[i].n;

        most = a > most ? a : most;
        most = b > most ? b : most;
        most = c > most ? c : most;
    }
    A = malloc(most * sizeof *A);
    B = malloc(most * sizeof *B);
    C = calloc(most, sizeof *C);
    if (!A || !B || !C) {
        free(A);
        free(B);
        free(C);
        return -1.0;
    }
    for (size_t i = 0; i < most; i++) {
        A[i] = (float)((i * 7919u) % 1000u) / 1000.0f - 0.5f;
        B[i] = (float)((i * 104729u) % 1000u) / 1000.0f - 0.5f;
    }

    /* the first round warms caches and OpenBLAS's thread pool */
    for (int pass = 0; pass < 2; pass++) {
        t0 = bench_now();
        reps = 0;
        do {
            for (int i = 0; i < count; i++) {
                const bench_gemm *x = &g[i];

                cblas_sgemm(CblasRowMajor, x->ta ? CblasTrans : CblasNoTrans,
                            x->tb ? CblasTrans : CblasNoTrans, x->m, x->n, x->k, 1.0f, A,
                            x->ta ? x->m : x->k, B, x->tb ? x->k : x->n, 0.0f, C, x->n);
            }
            reps++;
            t = bench_now() - t0;
        } while (pass == 1 && t < BENCH_SGEMM_SECONDS);
    }
    free(A);
    free(B);
    free(C);
    return flops * (double)reps / t / 1e9;
}

/* Exits with a message when a library call failed (benchmarks are
 * programs, not library code, so they may stop here). */
static inline void bench_check(int rc, const char *what, const char *msg)
{
    if (rc != 0) {
        fprintf(stderr, "bench: %s: %s\n", what, msg);
        exit(1);
    }
}

#endif /* DG_BENCH_H */
