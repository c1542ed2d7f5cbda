/* Consensus-KL scoring of a synthetic pool of N = 1,000,000 rows from
 * M = 5 teachers over C = 10 classes, and the top-K = 1000 pick, through
 * dg_acq_scores and dg_select_batch; beside it the memory-read floor (one
 * summing pass over the same float32 bytes with the same threads).
 *   bench/pool_score --threads T [--rows N]
 */
#include "bench.h"
#include "disagree.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define POOL_ROWS 1000000
#define POOL_CLASSES 10
#define POOL_TEACHERS 5
#define POOL_PICK 1000
#define FLOOR_PASSES 3

/* splitmix64: a cheap, seeded stream so generating 50M values stays quick. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fills p, (M*N) rows of C, with flat-Dirichlet rows (normalised
 * exponentials), rows in parallel so the pages land on the threads' nodes. */
static void fill_pool(float *p, int64_t rows, int C)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *p_r = p + r * C;
        double sum = 0.0;

        for (int c = 0; c < C; c++) {
            double u = (double)(mix((uint64_t)(r * C + c)) >> 11) * 0x1.0p-53;

            p_r[c] = (float)-log1p(-u);
            sum += p_r[c];
        }
        for (int c = 0; c < C; c++)
            p_r[c] = (float)(p_r[c] / sum);
    }
}

/* One read of n floats, summed in parallel and in SIMD lanes so the adds
 * keep up with memory: what any score must pay. */
static double read_floor(const float *p, int64_t n)
{
    double total = 0.0;

#pragma omp parallel for simd schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < n; i++)
        total += p[i];
    return total;
}

int main(int argc, char **argv)
{
    int threads = 1;
    int64_t N = POOL_ROWS, n_picked = 0;
    int M = POOL_TEACHERS, C = POOL_CLASSES;
    float *pool;
    double *scores, t0, floor_s, score_s, select_s, sum;
    int64_t *picked;
    dg_acq_input in = dg_acq_defaults();
    dg_select_opts so = dg_select_defaults();
    dg_error err;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rows") == 0)
            N = atoll(argv[i + 1]);
    }
    if (threads < 1 || N < POOL_PICK) {
        fprintf(stderr, "usage: pool_score --threads T [--rows N >= %d]\n", POOL_PICK);
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    pool = malloc(sizeof(float) * (size_t)M * (size_t)N * (size_t)C);
    scores = malloc(sizeof(double) * (size_t)N);
    picked = malloc(sizeof(int64_t) * POOL_PICK);
    bench_check(!pool || !scores || !picked, "pool", "out of memory");
    fill_pool(pool, (int64_t)M * N, C);

    /* floor first, the best of FLOOR_PASSES (its sum is printed so the
     * pass cannot be dropped) */
    floor_s = INFINITY;
    for (int pass = 0; pass < FLOOR_PASSES; pass++) {
        t0 = bench_now();
        sum = read_floor(pool, (int64_t)M * N * C);
        floor_s = fmin(floor_s, bench_now() - t0);
    }

    in.N = N;
    in.C = C;
    in.M = M;
    in.teachers = pool;
    t0 = bench_now();
    bench_check(dg_acq_scores(DG_ACQ_CONSENSUS_KL, &in, scores, &err), "scores", err.msg);
    score_s = bench_now() - t0;

    t0 = bench_now();
    bench_check(dg_select_batch(scores, N, POOL_PICK, &so, picked, &n_picked, &err), "select",
                err.msg);
    select_s = bench_now() - t0;

    printf("floor_ms %.1f\n", 1e3 * floor_s);
    printf("floor_gb_per_s %.2f\n", 4.0 * (double)M * N * C / floor_s / 1e9);
    printf("score_ms %.1f\n", 1e3 * score_s);
    printf("select_ms %.1f\n", 1e3 * select_s);
    printf("score_select_ms %.1f\n", 1e3 * (score_s + select_s));
    printf("score_over_floor %.2f\n", score_s / floor_s);
    printf("check_sum %.0f\ntop_score %.6f\npicked %lld\n", sum, scores[picked[0]],
           (long long)n_picked);
    free(pool);
    free(scores);
    free(picked);
    return 0;
}
