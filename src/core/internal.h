/* Internal helpers shared across modules: error filling, logging, RNG,
 * checked allocation, atomic file output, and the layouts of the opaque
 * public handles. Nothing here is part of the public API.
 */
#ifndef DG_INTERNAL_H
#define DG_INTERNAL_H

#include "disagree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

/* Fills err (when not NULL) with code and a printf-style message; returns
 * code so callers can write `return dg__fail(err, DG_EINVAL, ...)`. */
int dg__fail(dg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Resets err to DG_OK with an empty message. */
void dg__clear(dg_error *err);

/* --------------------------------------------------------------- logging */

void dg__log(dg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define dg__warn(...) dg__log(DG_LOG_WARN, __VA_ARGS__)
#define dg__info(...) dg__log(DG_LOG_INFO, __VA_ARGS__)
#define dg__debug(...) dg__log(DG_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------- RNG */

/* xoshiro256** seeded through splitmix64: fast, and the same stream on
 * every platform for a given seed. */
typedef struct dg__rng {
    uint64_t s[4];
} dg__rng;

void dg__rng_seed(dg__rng *r, uint64_t seed);
uint64_t dg__rng_next(dg__rng *r);
/* Uniform in [0, 1). */
double dg__rng_uniform(dg__rng *r);
/* Uniform integer in [0, n), without modulo bias. n > 0. */
uint64_t dg__rng_below(dg__rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call). */
double dg__rng_normal(dg__rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void dg__rng_shuffle(dg__rng *r, int64_t *idx, int64_t n);

/* ------------------------------------------------------------ allocation */

/* malloc of n*size bytes with overflow check; NULL (and err filled, when
 * given) on failure. Zeroed when `zero` is set. */
void *dg__alloc(size_t n, size_t size, int zero, dg_error *err);

/* ------------------------------------------------------ atomic file output */

/* An output file written to "<path>.tmp.<pid>" and renamed over `path` on
 * commit, after fflush and fsync. Abort removes the temporary; a crash
 * leaves at most the temporary, never a half-written `path`. */
typedef struct dg__outfile {
    FILE *fp;
    char path[4096];
    char tmp[4200];
} dg__outfile;

int dg__out_open(dg__outfile *o, const char *path, dg_error *err);
int dg__out_commit(dg__outfile *o, dg_error *err);
void dg__out_abort(dg__outfile *o);

/* ----------------------------------------------- small numeric helpers */

/* Row-wise stable softmax of x/T into out (rows x cols); entries equal to
 * -inf stay exactly 0. Rows of all -inf become uniform. x and out may alias. */
void dg__softmax_rows(const float *x, int64_t rows, int cols, double T, float *out);
/* Training loops run between these two: subnormal floats are flushed to
 * zero on this thread. Moments and weights of units that stop learning
 * decay into subnormals, which x86 processes some hundred times slower (an
 * Adam epoch grew 4x over six epochs); no value below FLT_MIN changes a
 * trained model. _end restores the state _begin returned. */
unsigned int dg__flush_subnormals_begin(void);
void dg__flush_subnormals_end(unsigned int saved);
/* ln x for positive normal floats, within about 2e-7 relative: x = 2^e m
 * with m in [sqrt(1/2), sqrt(2)), ln x = e ln 2 + ln m, ln m by the Cephes
 * logf polynomial. Branch-free and inline, so loops over it vectorise
 * (libm's log is a call per element and dominated pool scoring). A
 * subnormal x is read as if its exponent were -127, off by at most 20 -
 * harmless where, as in the scores, it multiplies a probability that small. */
static inline float dg__fast_logf(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    /* Offsetting the bits by those of sqrt(1/2) puts the mantissa in
     * [sqrt(1/2), sqrt(2)) and the exponent in the top bits, no branch. */
    uint32_t ix = v.u - 0x3f3504f3u;
    float t, z, y, fe;

    fe = (float)((int32_t)ix >> 23);
    v.u = (ix & 0x007fffffu) + 0x3f3504f3u;
    t = v.f - 1.0f;
    z = t * t;
    y = t * z *
        (3.3333331174e-1f +
         t * (-2.4999993993e-1f +
              t * (2.0000714765e-1f +
                   t * (-1.6668057665e-1f +
                        t * (1.4249322787e-1f +
                             t * (-1.2420140846e-1f +
                                  t * (1.1676998740e-1f +
                                       t * (-1.1514610310e-1f + t * 7.0376836292e-2f))))))));
    y += -2.12194440e-4f * fe - 0.5f * z;
    return t + y + 0.693359375f * fe;
}

/* Index of the largest entry (first on ties). */
int dg__argmax(const float *x, int n);

/* ------------------------------------------------- opaque handle layouts */

struct dg_dataset {
    dg_matrix X;  /* N x D */
    dg_labels y;  /* n == N, or n == 0 when there are no labels */
    int C;        /* number of classes */
    char source[4096];
};

struct dg_teachers {
    int M;
    int64_t N;
    int C;
    /* M blocks of N x C log-probabilities (log-softmax of logits, or log p
     * for probabilities with exact zeros stored as -inf). Softening at
     * temperature T is softmax(logp / T). */
    float *logp;
    /* M x N: 1 when teacher m gave an output for row n, 0 when it
     * abstained. NULL means every teacher answered every row. */
    unsigned char *present;
};

#endif /* DG_INTERNAL_H */
