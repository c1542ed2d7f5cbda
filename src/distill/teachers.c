/* Teachers: M matrices of N x C outputs (probabilities or logits), read
 * from .npy/.csv files or copied from arrays, checked, and stored as
 * log-probabilities; plus the softened targets softmax(logp / T) that the
 * trainer takes per batch.
 *
 * Legend: M teachers, N rows, C classes, B rows in a batch, T temperature.
 */
#include "distill/distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A row counts as probabilities when it sums to 1 within this. */
#define PROB_SUM_TOL 1e-3

/* 1 when every row of x (N x C) is non-negative and sums to 1 +- tol. */
static int looks_like_probs(const float *x, int64_t N, int C)
{
    for (int64_t n = 0; n < N; n++) {
        double sum = 0.0;

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

/* Checks x (N x C) from `source` and writes its log-probabilities into
 * logp (N x C): log p with exact zeros as -inf for probabilities, the
 * log-softmax for logits. Rows and columns in messages count from 1. */
static int to_logp(const float *x, int64_t N, int C, dg_teacher_format format,
                   const char *source, float *logp, dg_error *err)
{
    int as_probs;

    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            if (!isfinite(x[n * C + c]))
                return dg__fail(err, DG_EFORMAT,
                                "%s: row %lld, column %d: value is %g, expected a finite "
                                "number",
                                source, (long long)n + 1, c + 1, (double)x[n * C + c]);
    if (format == DG_TEACHER_PROB) {
        for (int64_t n = 0; n < N; n++) {
            double sum = 0.0;

            for (int c = 0; c < C; c++) {
                if (x[n * C + c] < 0.0f)
                    return dg__fail(err, DG_EFORMAT,
                                    "%s: row %lld, column %d: probability %g is negative, "
                                    "expected >= 0",
                                    source, (long long)n + 1, c + 1, (double)x[n * C + c]);
                sum += x[n * C + c];
            }
            if (fabs(sum - 1.0) > PROB_SUM_TOL)
                return dg__fail(err, DG_EFORMAT,
                                "%s: row %lld: probabilities sum to %.6g, expected 1 +- %g",
                                source, (long long)n + 1, sum, PROB_SUM_TOL);
        }
    }
    as_probs = format == DG_TEACHER_PROB ||
               (format == DG_TEACHER_AUTO && looks_like_probs(x, N, C));

    for (int64_t n = 0; n < N; n++) {
        const float *x_n = x + n * C;
        float *logp_n = logp + n * C;
        double max = -INFINITY, sum = 0.0, log_norm;

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

/* An empty handle for M teachers of N x C outputs. */
static int teachers_alloc(int M, int64_t N, int C, dg_teachers **out, dg_error *err)
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

int dg_teachers_from_arrays(const float *const *outputs, int M, int64_t N, int C,
                            dg_teacher_format format, dg_teachers **out, dg_error *err)
{
    dg_teachers *t;
    char name[64];
    int rc;

    *out = NULL;
    if (format != DG_TEACHER_AUTO && format != DG_TEACHER_PROB && format != DG_TEACHER_LOGIT)
        return dg__fail(err, DG_EINVAL, "teachers: unknown format %d", (int)format);
    if ((rc = teachers_alloc(M, N, C, &t, err)) != 0)
        return rc;
    for (int m = 0; m < M; m++) {
        snprintf(name, sizeof name, "teacher %d", m + 1);
        if (!outputs[m])
            rc = dg__fail(err, DG_EINVAL, "%s: no array given", name);
        else
            rc = to_logp(outputs[m], N, C, format, name, t->logp + (size_t)m * N * C, err);
        if (rc != 0) {
            dg_teachers_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

/* Reads one teacher file (.npy, or .csv/.tsv with an optional header of
 * class names) into x (N x C). */
static int read_outputs(const char *path, dg_matrix *x, dg_error *err)
{
    size_t len = strlen(path);
    dg_csv_opts csv = dg_csv_defaults();

    if (len >= 4 && strcmp(path + len - 4, ".npy") == 0)
        return dg_read_npy(path, x, err);
    if (len >= 4 && (strcmp(path + len - 4, ".csv") == 0 || strcmp(path + len - 4, ".tsv") == 0))
        return dg_read_csv(path, &csv, x, NULL, NULL, err);
    return dg__fail(err, DG_EINVAL, "%s: teacher outputs must be a .npy, .csv or .tsv file",
                    path);
}

int dg_teachers_load(const char *const *paths, int M, dg_teacher_format format,
                     dg_teachers **out, dg_error *err)
{
    dg_teachers *t = NULL;
    dg_matrix x = {0, 0, NULL};
    int rc = 0;

    *out = NULL;
    if (M < 1)
        return dg__fail(err, DG_EINVAL, "teachers: need at least one file, got %d", M);
    if (format != DG_TEACHER_AUTO && format != DG_TEACHER_PROB && format != DG_TEACHER_LOGIT)
        return dg__fail(err, DG_EINVAL, "teachers: unknown format %d", (int)format);
    for (int m = 0; m < M && rc == 0; m++) {
        if ((rc = read_outputs(paths[m], &x, err)) != 0)
            break;
        if (m == 0 && x.cols > INT32_MAX)
            rc = dg__fail(err, DG_EFORMAT, "%s: %lld columns, expected at most %d classes",
                          paths[0], (long long)x.cols, INT32_MAX);
        else if (m == 0)
            rc = teachers_alloc(M, x.rows, (int)x.cols, &t, err);
        else if (x.rows != t->N)
            rc = dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld rows but %s has %lld",
                          paths[m], (long long)x.rows, paths[0], (long long)t->N);
        else if (x.cols != t->C)
            rc = dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld classes but %s has %d",
                          paths[m], (long long)x.cols, paths[0], t->C);
        if (rc == 0)
            rc = to_logp(x.data, t->N, t->C, format, paths[m],
                         t->logp + (size_t)m * t->N * t->C, err);
        dg_matrix_free(&x);
    }
    if (rc != 0) {
        dg_teachers_free(t);
        return rc;
    }
    *out = t;
    return 0;
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
