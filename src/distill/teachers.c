/* Teachers: M matrices of N x C outputs (probabilities or logits) with an
 * optional M x N mask of abstentions, copied from arrays or handed over by
 * the file readers in align.c, checked, and stored as log-probabilities;
 * plus the softened targets softmax(logp / T) that the trainer takes.
 *
 * Legend: M teachers, N rows, C classes, B rows in a batch, T temperature.
 */
#include "distill/align.h"
#include "distill/distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A row counts as probabilities when it sums to 1 within this. */
#define PROB_SUM_TOL 1e-3

static int answered(const unsigned char *present, int64_t n)
{
    return !present || present[n];
}

/* "row 3" or "line 7" for row n in messages. */
static void where(char *out, size_t cap, const int64_t *line, int64_t n)
{
    if (line)
        snprintf(out, cap, "line %lld", (long long)line[n]);
    else
        snprintf(out, cap, "row %lld", (long long)n + 1);
}

/* 1 when every answered row of x (N x C) is non-negative and sums to
 * 1 +- tol. */
static int looks_like_probs(const float *x, const unsigned char *present, int64_t N, int C)
{
    for (int64_t n = 0; n < N; n++) {
        double sum = 0.0;

        if (!answered(present, n))
            continue;
        for (int c = 0; c < C; c++) {
            if (x[n * C + c] < 0.0f)
                return 0;
            sum += x[n * C + c];
        }
        if (fabs(sum - 1.0) > PROB_SUM_TOL)
            return 0;
    }
    return 1;
}

/* Checks the answered rows of x (N x C) from `source` and writes their
 * log-probabilities into logp (N x C): log p with exact zeros as -inf for
 * probabilities, the log-softmax for logits. Columns count from 1. */
static int to_logp(const float *x, const unsigned char *present, const int64_t *line,
                   int64_t N, int C, dg_teacher_format format, const char *source, float *logp,
                   dg_error *err)
{
    char at[48];
    int as_probs;

    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < C && answered(present, n); c++)
            if (!isfinite(x[n * C + c])) {
                where(at, sizeof at, line, n);
                return dg__fail(err, DG_EFORMAT,
                                "%s: %s, column %d: value is %g, expected a finite number",
                                source, at, c + 1, (double)x[n * C + c]);
            }
    if (format == DG_TEACHER_PROB) {
        for (int64_t n = 0; n < N; n++) {
            double sum = 0.0;

            if (!answered(present, n))
                continue;
            where(at, sizeof at, line, n);
            for (int c = 0; c < C; c++) {
                if (x[n * C + c] < 0.0f)
                    return dg__fail(err, DG_EFORMAT,
                                    "%s: %s, column %d: probability %g is negative, "
                                    "expected >= 0",
                                    source, at, c + 1, (double)x[n * C + c]);
                sum += x[n * C + c];
            }
            if (fabs(sum - 1.0) > PROB_SUM_TOL)
                return dg__fail(err, DG_EFORMAT,
                                "%s: %s: probabilities sum to %.6g, expected 1 +- %g", source,
                                at, sum, PROB_SUM_TOL);
        }
    }
    as_probs = format == DG_TEACHER_PROB ||
               (format == DG_TEACHER_AUTO && looks_like_probs(x, present, N, C));

    for (int64_t n = 0; n < N; n++) {
        const float *x_n = x + n * C;
        float *logp_n = logp + n * C;
        double max = -INFINITY, sum = 0.0, log_norm;

        /* an abstained row is never read; keep it a harmless uniform */
        if (!answered(present, n)) {
            memset(logp_n, 0, sizeof(float) * (size_t)C);
            continue;
        }
        if (as_probs) {
            for (int c = 0; c < C; c++)
                logp_n[c] = x_n[c] == 0.0f ? -INFINITY : (float)log((double)x_n[c]);
            continue;
        }
        for (int c = 0; c < C; c++)
            max = fmax(max, x_n[c]);
        for (int c = 0; c < C; c++)
            sum += exp((double)x_n[c] - max);
        log_norm = max + log(sum);
        for (int c = 0; c < C; c++)
            logp_n[c] = (float)((double)x_n[c] - log_norm);
    }
    return 0;
}

int dg__teachers_alloc(int M, int64_t N, int C, dg_teachers **out, dg_error *err)
{
    dg_teachers *t;

    if (M < 1 || N < 1 || C < 1)
        return dg__fail(err, DG_EINVAL,
                        "teachers: need M >= 1, N >= 1 and C >= 1, got M = %d, N = %lld, C = %d",
                        M, (long long)N, C);
    if ((uint64_t)N > SIZE_MAX / (uint64_t)M / (uint64_t)C)
        return dg__fail(err, DG_ENOMEM, "teachers: %d x %lld x %d outputs overflow memory", M,
                        (long long)N, C);
    if (!(t = dg__alloc(1, sizeof *t, 1, err)))
        return DG_ENOMEM;
    if (!(t->logp = dg__alloc((size_t)M * (size_t)N * (size_t)C, sizeof(float), 0, err))) {
        free(t);
        return DG_ENOMEM;
    }
    t->M = M;
    t->N = N;
    t->C = C;
    *out = t;
    return 0;
}

int dg__teachers_fill(dg_teachers *t, int m, const float *x, const unsigned char *present,
                      const int64_t *line, dg_teacher_format format, const char *source,
                      dg_error *err)
{
    int rc = to_logp(x, present, line, t->N, t->C, format, source,
                     t->logp + (size_t)m * t->N * t->C, err);

    if (rc != 0 || !present)
        return rc;

    /* the mask is made on the first abstention, every other teacher all 1 */
    for (int64_t n = 0; n < t->N && !t->present; n++)
        if (!present[n]) {
            if (!(t->present = dg__alloc((size_t)t->M * (size_t)t->N, 1, 0, err)))
                return DG_ENOMEM;
            memset(t->present, 1, (size_t)t->M * (size_t)t->N);
        }
    if (t->present)
        for (int64_t n = 0; n < t->N; n++)
            t->present[(size_t)m * t->N + n] = present[n] ? 1 : 0;
    return 0;
}

int dg_teachers_from_arrays_masked(const float *const *outputs,
                                   const unsigned char *const *present, int M, int64_t N, int C,
                                   dg_teacher_format format, dg_teachers **out, dg_error *err)
{
    dg_teachers *t;
    char name[64];
    int rc;

    *out = NULL;
    if (format != DG_TEACHER_AUTO && format != DG_TEACHER_PROB && format != DG_TEACHER_LOGIT)
        return dg__fail(err, DG_EINVAL, "teachers: unknown format %d", (int)format);
    if (!outputs)
        return dg__fail(err, DG_EINVAL, "teachers: no arrays given");
    if ((rc = dg__teachers_alloc(M, N, C, &t, err)) != 0)
        return rc;
    for (int m = 0; m < M; m++) {
        snprintf(name, sizeof name, "teacher %d", m + 1);
        if (!outputs[m])
            rc = dg__fail(err, DG_EINVAL, "%s: no array given", name);
        else
            rc = dg__teachers_fill(t, m, outputs[m], present ? present[m] : NULL, NULL, format,
                                   name, err);
        if (rc != 0) {
            dg_teachers_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

int dg_teachers_from_arrays(const float *const *outputs, int M, int64_t N, int C,
                            dg_teacher_format format, dg_teachers **out, dg_error *err)
{
    return dg_teachers_from_arrays_masked(outputs, NULL, M, N, C, format, out, err);
}

void dg_teachers_free(dg_teachers *t)
{
    if (!t)
        return;
    free(t->logp);
    free(t->present);
    free(t);
}

int dg_teachers_count(const dg_teachers *t)
{
    return t->M;
}

int64_t dg_teachers_rows(const dg_teachers *t)
{
    return t->N;
}

int dg_teachers_classes(const dg_teachers *t)
{
    return t->C;
}

int dg_teachers_present(const dg_teachers *t, int m, unsigned char *present)
{
    if (m < 0 || m >= t->M)
        return DG_EINVAL;
    if (t->present)
        memcpy(present, t->present + (size_t)m * t->N, (size_t)t->N);
    else
        memset(present, 1, (size_t)t->N);
    return 0;
}

int dg_teachers_probs(const dg_teachers *t, int m, float *out)
{
    const float *logp;

    if (m < 0 || m >= t->M)
        return DG_EINVAL;
    logp = t->logp + (size_t)m * t->N * t->C;
    dg__softmax_rows(logp, t->N, t->C, 1.0, out);
    if (t->present)
        for (int64_t n = 0; n < t->N; n++)
            if (!t->present[(size_t)m * t->N + n])
                memset(out + n * t->C, 0, sizeof(float) * (size_t)t->C);
    return 0;
}

void dg__teacher_soften(const dg_teachers *t, int m, const int64_t *rows, int64_t B, double T,
                        float *q, unsigned char *present)
{
    const float *logp = t->logp + (size_t)m * t->N * t->C;
    const unsigned char *answered = t->present ? t->present + (size_t)m * t->N : NULL;

    /* q is (B, C); a row the teacher abstained on stays all zero */
    for (int64_t b = 0; b < B; b++) {
        int64_t n = rows[b];
        int here = !answered || answered[n];

        if (present)
            present[b] = (unsigned char)here;
        if (here)
            dg__softmax_rows(logp + n * t->C, 1, t->C, T, q + b * t->C);
        else
            memset(q + b * t->C, 0, sizeof(float) * (size_t)t->C);
    }
}
