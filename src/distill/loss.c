/* The student's loss on one minibatch and its gradient w.r.t. the logits:
 * cross-entropy on the labelled rows plus the teachers' KD terms, weighted
 * per batch by ce, avg-loss, avg-prob or AE-KD (teacher gradient summaries,
 * their Gram matrix, the capped-simplex QP in qp.c). Called by the trainer
 * once per batch; all memory comes from dg__kd_work.
 *
 * Legend: B rows in the batch, C classes, M teachers, T temperature.
 */
#include "distill/distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A cap this close below 1/M is taken as 1/M, as in qp.c. */
#define CAP_SLACK 1e-12

/* What one thread of a team keeps apart: its row scratch, its partial
 * sums, and its first error. */
struct dg__kd_part {
    double *row;       /* dz, q, grad (C each), divisor, weights (M each) */
    double *g_row;     /* (M, C) per-example summaries */
    double *qp_work;   /* DG__QP_WORK(M) */
    double *g_mean;    /* (M, C) partial sums of the batch-mean summaries */
    int64_t *answered; /* (M) rows each teacher answered in this part */
    double *a_sum;     /* (M) per-example weights summed over the part's rows */
    double *G, *G_all; /* (M, M) each, for the per-example solves */
    double ce, kd;
    int64_t rows_weighed;
    int rc;
    dg_error err;
};

static void part_free(dg__kd_part *p)
{
    free(p->row);
    free(p->g_row);
    free(p->qp_work);
    free(p->g_mean);
    free(p->answered);
    free(p->a_sum);
    free(p->G);
    free(p->G_all);
}

int dg__kd_work_init_parts(dg__kd_work *w, int64_t B, int C, int M, int parts, dg_error *err)
{
    size_t Ma = M > 0 ? (size_t)M : 1;

    memset(w, 0, sizeof *w);
    if (B < 1 || C < 1 || M < 0 || parts < 1)
        return dg__fail(err, DG_EINVAL,
                        "distillation work: need B >= 1, C >= 1, M >= 0, parts >= 1, got "
                        "%lld, %d, %d, %d",
                        (long long)B, C, M, parts);
    if ((uint64_t)B > SIZE_MAX / 4 / (uint64_t)C / (uint64_t)Ma / sizeof(double))
        return dg__fail(err, DG_ENOMEM, "distillation work: %lld x %d x %d overflows memory",
                        (long long)B, C, M);
    w->B = B;
    w->C = C;
    w->M = M;
    w->parts = parts;
    w->G = dg__alloc(Ma * Ma, sizeof(double), 1, err);
    w->G_all = dg__alloc(Ma * Ma, sizeof(double), 1, err);
    w->g = dg__alloc(Ma * (size_t)B * (size_t)C, sizeof(double), 1, err);
    w->a = dg__alloc(Ma, sizeof(double), 1, err);
    w->s = dg__alloc((size_t)B * (size_t)C, sizeof(double), 1, err);
    w->logs = dg__alloc((size_t)B * (size_t)C, sizeof(double), 1, err);
    w->divisor = dg__alloc(Ma, sizeof(double), 1, err);
    w->qp_work = dg__alloc(DG__QP_WORK(Ma), sizeof(double), 1, err);
    w->part = dg__alloc((size_t)parts, sizeof *w->part, 1, err);
    if (!w->G || !w->G_all || !w->g || !w->a || !w->s || !w->logs || !w->divisor || !w->qp_work ||
        !w->part) {
        dg__kd_work_free(w);
        return DG_ENOMEM;
    }
    for (int k = 0; k < parts; k++) {
        dg__kd_part *p = &w->part[k];

        p->row = dg__alloc(3 * (size_t)C + 2 * Ma, sizeof(double), 1, err);
        p->g_row = dg__alloc(Ma * (size_t)C, sizeof(double), 1, err);
        p->qp_work = dg__alloc(DG__QP_WORK(Ma), sizeof(double), 1, err);
        p->g_mean = dg__alloc(Ma * (size_t)C, sizeof(double), 1, err);
        p->answered = dg__alloc(Ma, sizeof(int64_t), 1, err);
        p->a_sum = dg__alloc(Ma, sizeof(double), 1, err);
        p->G = dg__alloc(Ma * Ma, sizeof(double), 1, err);
        p->G_all = dg__alloc(Ma * Ma, sizeof(double), 1, err);
        if (!p->row || !p->g_row || !p->qp_work || !p->g_mean || !p->answered || !p->a_sum ||
            !p->G || !p->G_all) {
            dg__kd_work_free(w);
            return DG_ENOMEM;
        }
    }
    return 0;
}

int dg__kd_work_init(dg__kd_work *w, int64_t B, int C, int M, dg_error *err)
{
    return dg__kd_work_init_parts(w, B, C, M, 1, err);
}

void dg__kd_work_free(dg__kd_work *w)
{
    for (int k = 0; w->part && k < w->parts; k++)
        part_free(&w->part[k]);
    free(w->part);
    free(w->G);
    free(w->G_all);
    free(w->g);
    free(w->a);
    free(w->s);
    free(w->logs);
    free(w->divisor);
    free(w->qp_work);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------------
 * One row, one target
 */

/* For the target q_b (C, summing to ~1) against the softened student s_b:
 * writes grad_b (C) = s_b * sum(q_b) - q_b, which is T/(T^2) times the
 * gradient of T^2 KL(q_b || s_b) w.r.t. z_b (exact even when q_b is off 1
 * by rounding). q_b may be float or double (qf or qd). The AE-KD summaries
 * need only this, not the KL value and its logs. */
static void kd_grad_row(const double *s_b, const float *qf, const double *qd, int C, double *grad_b)
{
    double qsum = 0.0;

    for (int c = 0; c < C; c++)
        qsum += qf ? (double)qf[c] : qd[c];
    for (int c = 0; c < C; c++)
        grad_b[c] = s_b[c] * qsum - (qf ? (double)qf[c] : qd[c]);
}

/* KL(q_b || s_b) with 0 log 0 = 0, from the student's log logs_b (C).
 * qlogq, when not NULL, points at sum_c q ln q for this target, saving its
 * C logs: KL = qlogq - sum_c q logs. */
static double kl_value(const double *logs_b, const float *qf, const double *qd, const double *qlogq,
                       int C)
{
    double kl = 0.0;

    if (qlogq) {
        double cross = 0.0;

        for (int c = 0; c < C; c++) {
            double q = qf ? (double)qf[c] : qd[c];

            cross += q > 0.0 ? q * logs_b[c] : 0.0;
        }
        return *qlogq - cross;
    }
    for (int c = 0; c < C; c++) {
        double q = qf ? (double)qf[c] : qd[c];

        if (q > 0.0)
            kl += q * (log(q) - logs_b[c]);
    }
    return kl;
}

/* kd_grad_row and kl_value at once. */
static double kl_row(const double *s_b, const double *logs_b, const float *qf, const double *qd,
                     const double *qlogq, int C, double *grad_b)
{
    kd_grad_row(s_b, qf, qd, C, grad_b);
    return kl_value(logs_b, qf, qd, qlogq, C);
}

/* ------------------------------------------------------------------------
 * Teacher weights from gradient summaries
 */

/* g is (M, len), one summary per teacher; divisor (M) holds each teacher's
 * divisor (its norm when normalising, else 1), or 0 for a teacher left out
 * (absent from the batch or row, or a zero gradient under normalisation).
 * Writes a (M): the QP's weights on the Gram of g_m / divisor_m, divided by
 * divisor_m and renormalised when `rescale` is set (normalising, or a
 * prior folded into the divisor); 0 for teachers left out,
 * uniform when all are. G holds (K, K) for the K kept teachers. */
static int weigh(const double *g, int M, int64_t len, const double *divisor, int rescale,
                 double cap, double *G, double *G_all, double *qp_work, double *a, dg_error *err)
{
    int K = 0, rc;
    double sum = 0.0;

    for (int m = 0; m < M; m++)
        K += divisor[m] > 0.0;
    if (K == 0) {
        for (int m = 0; m < M; m++)
            a[m] = 1.0 / M;
        return 0;
    }

    /* pass 1: Gram of all summaries (its lower half; the dot products in
     * SIMD lanes, which at these sizes beat a dsyrk call and its packing),
     * then of the kept ones scaled, compacted to K x K */
    for (int i = 0; i < M; i++)
        for (int j = 0; j <= i; j++) {
            const double *g_i = g + i * len, *g_j = g + j * len;
            double dot = 0.0;

#pragma omp simd reduction(+ : dot)
            for (int64_t e = 0; e < len; e++)
                dot += g_i[e] * g_j[e];
            G_all[i * M + j] = dot;
        }
    for (int i = 0, ki = 0; i < M; i++) {
        if (!(divisor[i] > 0.0))
            continue;
        for (int j = 0, kj = 0; j <= i; j++) {
            double dot;

            if (!(divisor[j] > 0.0))
                continue;
            dot = G_all[i * M + j] / (divisor[i] * divisor[j]);
            G[ki * K + kj] = dot;
            G[kj * K + ki] = dot;
            kj++;
        }
        ki++;
    }

    /* pass 2: the QP; fewer kept teachers may need a larger cap */
    if ((rc = dg__qp_solve(G, K, cap < 1.0 / K ? 1.0 / K : cap, a, qp_work, err)) != 0)
        return rc;

    /* pass 3: spread the K weights back over M slots, from the end so the
     * compact values are read before they are overwritten */
    for (int m = M - 1, k = K - 1; m >= 0; m--)
        a[m] = divisor[m] > 0.0 ? a[k--] : 0.0;
    if (!rescale)
        return 0;
    for (int m = 0; m < M; m++) {
        if (divisor[m] > 0.0)
            a[m] /= divisor[m];
        sum += a[m];
    }
    for (int m = 0; m < M; m++)
        a[m] /= sum;
    return 0;
}

/* Euclidean norm of x (n). */
static double norm(const double *x, int64_t n)
{
    double ss = 0.0;

    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    return sqrt(ss);
}

/* ------------------------------------------------------------------------
 * The batch step
 */

/* Rows [r0, r1) of z: each must be finite; with `soften`, also the
 * softened student s = softmax(z / T) and log s, in double from a stable
 * log-softmax (the CE-only method needs neither). */
static int soften_student(const float *z, int64_t r0, int64_t r1, int C, double T, int soften,
                          double *s, double *logs, dg_error *err)
{
    for (int64_t b = r0; b < r1; b++) {
        const float *z_b = z + b * C;
        double max = -INFINITY, sum = 0.0, log_norm;

        for (int c = 0; c < C; c++) {
            if (!isfinite(z_b[c]))
                return dg__fail(err, DG_ENUMERIC, "student logit at batch row %lld, class %d is %g",
                                (long long)b + 1, c, (double)z_b[c]);
            max = fmax(max, z_b[c] / T);
        }
        if (!soften)
            continue;
        for (int c = 0; c < C; c++)
            sum += exp(z_b[c] / T - max);
        log_norm = max + log(sum);
        for (int c = 0; c < C; c++) {
            logs[b * C + c] = z_b[c] / T - log_norm;
            s[b * C + c] = exp(logs[b * C + c]);
        }
    }
    return 0;
}

static int is_present(const dg__kd_batch *bt, int m, int64_t b)
{
    return !bt->present || bt->present[m * bt->B + b];
}

/* AE-KD's batch-level summaries, the part over rows [r0, r1): for
 * DG_AEKD_FULL the rows' entries of w->g (B*C per teacher); for
 * DG_AEKD_MEAN the part's sums over its rows (C per teacher). Only rows a
 * teacher answered enter its summary; p->answered counts them. */
static void aekd_summaries_part(const dg__kd_batch *bt, const dg_distill_opts *o, dg__kd_work *w,
                                int64_t r0, int64_t r1, dg__kd_part *p)
{
    int64_t B = bt->B;
    int C = bt->C, M = bt->M, full = o->aekd_grad == DG_AEKD_FULL;
    double coef = o->temperature / (double)B, *grad_b = p->row + 2 * C;

    for (int m = 0; m < M; m++) {
        double *g_m = full ? w->g + m * B * C : p->g_mean + m * C;

        p->answered[m] = 0;
        if (!full)
            memset(g_m, 0, sizeof(double) * (size_t)C);
        for (int64_t b = r0; b < r1; b++) {
            if (!is_present(bt, m, b)) {
                if (full)
                    memset(g_m + b * C, 0, sizeof(double) * (size_t)C);
                continue;
            }
            p->answered[m]++;
            kd_grad_row(w->s + b * C, bt->q + (m * B + b) * C, NULL, C, grad_b);
            for (int c = 0; c < C; c++) {
                if (full)
                    g_m[b * C + c] = coef * grad_b[c];
                else
                    g_m[c] += coef * grad_b[c];
            }
        }
    }
}

/* AE-KD's batch weights from the parts' summaries, into w->a. */
static int aekd_batch_weights(const dg__kd_batch *bt, const dg_distill_opts *o, dg__kd_work *w,
                              int parts, dg_error *err)
{
    int64_t len = o->aekd_grad == DG_AEKD_FULL ? bt->B * bt->C : bt->C;
    int C = bt->C, M = bt->M;

    for (int m = 0; m < M; m++) {
        double *g_m = w->g + m * len;
        int64_t answered = 0;

        for (int k = 0; k < parts; k++)
            answered += w->part[k].answered[m];
        if (o->aekd_grad != DG_AEKD_FULL) {
            /* the mean over the rows this teacher answered (parts summed in
             * order): one that abstained on some rows must not look
             * shorter, and so more agreeable, to the min-norm solve */
            for (int c = 0; c < C; c++) {
                g_m[c] = 0.0;
                for (int k = 0; k < parts; k++)
                    g_m[c] += w->part[k].g_mean[m * C + c];
                if (answered > 0)
                    g_m[c] /= (double)answered;
            }
        }
        w->divisor[m] = !answered ? 0.0 : o->aekd_normalize ? norm(g_m, len) : 1.0;
        if (o->teacher_prior)
            w->divisor[m] *= o->teacher_prior[m];
    }
    return weigh(w->g, M, len, w->divisor, o->aekd_normalize || o->teacher_prior, o->tolerance,
                 w->G, w->G_all, w->qp_work, w->a, err);
}

/* AE-KD per example: the weights of row b from its own C-vectors, into a,
 * with the part's scratch. */
static int aekd_row_weights(const dg__kd_batch *bt, const dg_distill_opts *o, int64_t b,
                            const double *s_b, dg__kd_part *p, double *divisor, double *a,
                            dg_error *err)
{
    int C = bt->C, M = bt->M;
    double coef = o->temperature / (double)bt->B;

    for (int m = 0; m < M; m++) {
        double *g_m = p->g_row + m * C;

        divisor[m] = 0.0;
        if (!is_present(bt, m, b)) {
            memset(g_m, 0, sizeof(double) * (size_t)C);
            continue;
        }
        kd_grad_row(s_b, bt->q + (m * bt->B + b) * C, NULL, C, g_m);
        for (int c = 0; c < C; c++)
            g_m[c] *= coef;
        divisor[m] = o->aekd_normalize ? norm(g_m, C) : 1.0;
        if (o->teacher_prior)
            divisor[m] *= o->teacher_prior[m];
    }
    return weigh(p->g_row, M, C, divisor, o->aekd_normalize || o->teacher_prior, o->tolerance, p->G,
                 p->G_all, p->qp_work, a, err);
}

/* Checks the batch against the work's sizes and the options. */
static int check_step(const dg__kd_batch *bt, const dg_distill_opts *o, const dg__kd_work *w,
                      int parts, dg_error *err)
{
    if (parts < 1 || parts > w->parts)
        return dg__fail(err, DG_EINVAL, "distillation step in %d parts, work sized for %d", parts,
                        w->parts);
    if (bt->B < 1 || bt->B > w->B || bt->C != w->C || bt->M < 0 || bt->M > w->M)
        return dg__fail(err, DG_EINVAL,
                        "distillation batch of B = %lld, C = %d, M = %d does not fit work "
                        "sized for B <= %lld, C = %d, M <= %d",
                        (long long)bt->B, bt->C, bt->M, (long long)w->B, w->C, w->M);
    if (!(o->temperature > 0.0) || !isfinite(o->temperature))
        return dg__fail(err, DG_EINVAL, "temperature must be a finite number > 0, got %g",
                        o->temperature);
    if (o->method != DG_CE && o->method != DG_AVG_LOSS && o->method != DG_AVG_PROB &&
        o->method != DG_AEKD)
        return dg__fail(err, DG_EINVAL, "unknown distillation method %d", (int)o->method);
    if (o->method != DG_CE && (bt->M < 1 || !bt->q))
        return dg__fail(err, DG_EINVAL, "method needs teachers; only 'ce' trains without");
    if (o->method == DG_AEKD && o->aekd_grad != DG_AEKD_MEAN && o->aekd_grad != DG_AEKD_FULL &&
        o->aekd_grad != DG_AEKD_PER_EXAMPLE)
        return dg__fail(err, DG_EINVAL, "unknown AE-KD gradient summary %d", (int)o->aekd_grad);
    if (o->method == DG_AEKD &&
        (!isfinite(o->tolerance) || o->tolerance > 1.0 || o->tolerance < 1.0 / bt->M - CAP_SLACK))
        return dg__fail(err, DG_EINVAL,
                        "tolerance must be in [1/M, 1] = [%.4g, 1] for %d teachers, got %g",
                        1.0 / bt->M, bt->M, o->tolerance);
    return 0;
}

/* The first failing part's status, its error copied to err; 0 if none.
 * Parts take rows in order, so this is the first failing row's. */
static int first_failure(const dg__kd_work *w, int parts, dg_error *err)
{
    for (int k = 0; k < parts; k++)
        if (w->part[k].rc != 0) {
            if (err)
                *err = w->part[k].err;
            return w->part[k].rc;
        }
    return 0;
}

/* Pass 3 over rows [r0, r1): CE at temperature 1, then the KD terms at T,
 * into dz and the part's sums. */
static int loss_rows(const dg__kd_batch *bt, const dg_distill_opts *opts, dg__kd_work *w,
                     int64_t r0, int64_t r1, float *dz, dg__kd_part *p)
{
    int64_t B = bt->B;
    int C = bt->C, M = bt->M, rc;
    dg_method method = opts->method;
    int per_example = method == DG_AEKD && opts->aekd_grad == DG_AEKD_PER_EXAMPLE;
    int full_summaries = method == DG_AEKD && opts->aekd_grad == DG_AEKD_FULL;
    double T = opts->temperature, coef = T / (double)B;
    double *dz_row = p->row, *q_row = dz_row + C, *grad_row = q_row + C;
    double *divisor = grad_row + C, *row_a = divisor + M;

    for (int64_t b = r0; b < r1; b++) {
        const double *s_b = w->s + b * C, *logs_b = w->logs + b * C, *a = w->a;
        int32_t y_b = bt->y ? bt->y[b] : -1;
        int n_present = 0;

        memset(dz_row, 0, sizeof(double) * (size_t)C);
        if (y_b >= 0) {
            const float *z_b = bt->z + b * C;
            double max = -INFINITY, sum = 0.0, log_norm;

            for (int c = 0; c < C; c++)
                max = fmax(max, z_b[c]);
            for (int c = 0; c < C; c++)
                sum += exp(z_b[c] - max);
            log_norm = max + log(sum);
            p->ce += log_norm - z_b[y_b];
            for (int c = 0; c < C; c++)
                dz_row[c] = opts->gamma * (exp(z_b[c] - log_norm) - (c == y_b)) / (double)B;
        }
        for (int m = 0; m < M && method != DG_CE; m++)
            n_present += is_present(bt, m, b);

        if (method == DG_AVG_PROB) {
            /* one target: the (prior-weighted) mean of the teachers that
             * answered this row */
            double share = 0.0;

            memset(q_row, 0, sizeof(double) * (size_t)C);
            for (int m = 0; m < M; m++) {
                if (!is_present(bt, m, b))
                    continue;
                share += a[m];
                for (int c = 0; c < C; c++)
                    q_row[c] += a[m] * bt->q[(m * B + b) * C + c];
            }
            for (int c = 0; c < C; c++)
                q_row[c] = share > 0.0 ? q_row[c] / share : 0.0;
            if (share > 0.0) {
                p->kd += T * T / (double)B * kl_row(s_b, logs_b, NULL, q_row, NULL, C, grad_row);
                for (int c = 0; c < C; c++)
                    dz_row[c] += opts->alpha * coef * grad_row[c];
            }
        } else if (method != DG_CE && n_present) {
            if (per_example) {
                rc = aekd_row_weights(bt, opts, b, s_b, p, divisor, row_a, &p->err);
                if (rc != 0)
                    return rc;
                for (int m = 0; m < M; m++)
                    p->a_sum[m] += row_a[m];
                p->rows_weighed++;
                a = row_a;
            }
            for (int m = 0; m < M; m++) {
                const float *q_mb = bt->q + (m * B + b) * C;
                const double *qlogq = bt->qlogq ? bt->qlogq + m * B + b : NULL;
                double kl;

                if (!is_present(bt, m, b))
                    continue;
                if (full_summaries) {
                    /* the batch summaries already hold coef times this
                     * row's gradient */
                    const double *g_mb = w->g + (m * B + b) * C;

                    kl = kl_value(logs_b, q_mb, NULL, qlogq, C);
                    for (int c = 0; c < C; c++)
                        dz_row[c] += opts->alpha * a[m] * g_mb[c];
                } else {
                    kl = kl_row(s_b, logs_b, q_mb, NULL, qlogq, C, grad_row);
                    for (int c = 0; c < C; c++)
                        dz_row[c] += opts->alpha * a[m] * coef * grad_row[c];
                }
                p->kd += a[m] * (T * T / (double)B) * kl;
            }
        }
        for (int c = 0; c < C; c++)
            dz[b * C + c] = (float)dz_row[c];
    }
    return 0;
}

/* A barrier among the team, when there is one. */
#define TEAM_BARRIER(parts)                                                                        \
    do {                                                                                           \
        if ((parts) > 1) {                                                                         \
            _Pragma("omp barrier")                                                                 \
        }                                                                                          \
    } while (0)

int dg__kd_step_part(const dg__kd_batch *bt, const dg_distill_opts *opts, dg__kd_work *w, float *dz,
                     double *loss, double *weights, dg_error *err, int part, int parts)
{
    int64_t B = bt->B, r0 = B * part / parts, r1 = B * (part + 1) / parts;
    int M = bt->M, rc;
    dg_method method = opts->method;
    int per_example = method == DG_AEKD && opts->aekd_grad == DG_AEKD_PER_EXAMPLE;
    dg__kd_part *p;

    /* every part checks the same things and returns the same status */
    if ((rc = check_step(bt, opts, w, parts, part == 0 ? err : NULL)) != 0)
        return rc;
    p = &w->part[part];
    p->rc = 0;
    p->ce = p->kd = 0.0;
    p->rows_weighed = 0;
    for (int m = 0; m < M; m++)
        p->a_sum[m] = 0.0;

    /* pass 1: the softened student, each part its rows; a non-finite
     * logit stops the step, the first one named whatever the parts */
    p->rc = soften_student(bt->z, r0, r1, bt->C, opts->temperature, method != DG_CE, w->s, w->logs,
                           &p->err);

    /* pass 2: the batch's teacher weights (per-example ones come per row):
     * the prior, then for AE-KD the summaries by parts and one solve */
    if (part == 0) {
        double prior_sum = 0.0;

        for (int m = 0; m < M; m++) {
            w->a[m] = method == DG_CE ? 0.0 : opts->teacher_prior ? opts->teacher_prior[m] : 1.0;
            prior_sum += w->a[m];
        }
        for (int m = 0; m < M; m++)
            w->a[m] = prior_sum > 0.0 ? w->a[m] / prior_sum : 0.0;
    }
    if (method == DG_AEKD && !per_example && p->rc == 0)
        aekd_summaries_part(bt, opts, w, r0, r1, p);
    TEAM_BARRIER(parts);
    if (part == 0) {
        w->rc = first_failure(w, parts, err);
        if (w->rc == 0 && method == DG_AEKD && !per_example)
            w->rc = aekd_batch_weights(bt, opts, w, parts, err);
    }
    TEAM_BARRIER(parts);
    if ((rc = w->rc) != 0)
        return rc;

    /* pass 3: row by row, the loss and its gradient */
    p->rc = loss_rows(bt, opts, w, r0, r1, dz, p);
    TEAM_BARRIER(parts);

    /* pass 4: the loss and the weights to report, the parts summed in order */
    if (part == 0 && (w->rc = first_failure(w, parts, err)) == 0) {
        double ce = 0.0, kd = 0.0;
        int64_t rows_weighed = 0;

        for (int k = 0; k < parts; k++) {
            ce += w->part[k].ce;
            kd += w->part[k].kd;
            rows_weighed += w->part[k].rows_weighed;
        }
        *loss = opts->alpha * kd + opts->gamma * ce / (double)B;
        for (int m = 0; m < M; m++) {
            double a_sum = 0.0;

            for (int k = 0; k < parts; k++)
                a_sum += w->part[k].a_sum[m];
            weights[m] = !per_example   ? w->a[m]
                         : rows_weighed ? a_sum / (double)rows_weighed
                                        : 1.0 / M;
        }
    }
    TEAM_BARRIER(parts);
    return w->rc;
}

int dg__kd_step(const dg__kd_batch *bt, const dg_distill_opts *opts, dg__kd_work *w, float *dz,
                double *loss, double *weights, dg_error *err)
{
    return dg__kd_step_part(bt, opts, w, dz, loss, weights, err, 0, 1);
}
