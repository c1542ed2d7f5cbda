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

/* Doubles of dg__kd_work.scratch: the softened student and its log
 * (B, C) each, three C-vectors for one row, three M-vectors, the QP's own. */
static size_t scratch_doubles(int64_t B, int C, int M)
{
    return 2 * (size_t)B * (size_t)C + 3 * (size_t)C + 3 * (size_t)M + DG__QP_WORK(M);
}

int dg__kd_work_init(dg__kd_work *w, int64_t B, int C, int M, dg_error *err)
{
    int Ma = M > 0 ? M : 1;

    memset(w, 0, sizeof *w);
    if (B < 1 || C < 1 || M < 0)
        return dg__fail(err, DG_EINVAL,
                        "distillation work: need B >= 1, C >= 1, M >= 0, got %lld, %d, %d",
                        (long long)B, C, M);
    if ((uint64_t)B > SIZE_MAX / 4 / (uint64_t)C / (uint64_t)Ma / sizeof(double))
        return dg__fail(err, DG_ENOMEM, "distillation work: %lld x %d x %d overflows memory",
                        (long long)B, C, M);
    w->B = B;
    w->C = C;
    w->M = M;
    w->G = dg__alloc((size_t)Ma * (size_t)Ma, sizeof(double), 1, err);
    w->g = dg__alloc((size_t)Ma * (size_t)B * (size_t)C, sizeof(double), 1, err);
    w->a = dg__alloc((size_t)Ma, sizeof(double), 1, err);
    w->scratch = dg__alloc(scratch_doubles(B, C, Ma), sizeof(double), 1, err);
    if (!w->G || !w->g || !w->a || !w->scratch) {
        dg__kd_work_free(w);
        return DG_ENOMEM;
    }
    return 0;
}

void dg__kd_work_free(dg__kd_work *w)
{
    free(w->G);
    free(w->g);
    free(w->a);
    free(w->scratch);
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
static void kd_grad_row(const double *s_b, const float *qf, const double *qd, int C,
                        double *grad_b)
{
    double qsum = 0.0;

    for (int c = 0; c < C; c++)
        qsum += qf ? (double)qf[c] : qd[c];
    for (int c = 0; c < C; c++)
        grad_b[c] = s_b[c] * qsum - (qf ? (double)qf[c] : qd[c]);
}

/* As kd_grad_row, and returns KL(q_b || s_b) with 0 log 0 = 0, from the
 * student's log logs_b (C). */
static double kl_row(const double *s_b, const double *logs_b, const float *qf, const double *qd,
                     int C, double *grad_b)
{
    double kl = 0.0;

    for (int c = 0; c < C; c++) {
        double q = qf ? (double)qf[c] : qd[c];

        if (q > 0.0)
            kl += q * (log(q) - logs_b[c]);
    }
    kd_grad_row(s_b, qf, qd, C, grad_b);
    return kl;
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
                 double cap, double *G, double *qp_work, double *a, dg_error *err)
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

    /* pass 1: Gram of the kept (scaled) summaries, compacted to K x K */
    for (int i = 0, ki = 0; i < M; i++) {
        if (!(divisor[i] > 0.0))
            continue;
        for (int j = 0, kj = 0; j <= i; j++) {
            double dot = 0.0;

            if (!(divisor[j] > 0.0))
                continue;
            for (int64_t e = 0; e < len; e++)
                dot += g[i * len + e] * g[j * len + e];
            dot /= divisor[i] * divisor[j];
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

/* The softened student s = softmax(z / T) and log s, (B, C) each, in
 * double from a stable log-softmax. */
static int soften_student(const float *z, int64_t B, int C, double T, double *s, double *logs,
                          dg_error *err)
{
    for (int64_t b = 0; b < B; b++) {
        const float *z_b = z + b * C;
        double max = -INFINITY, sum = 0.0, log_norm;

        for (int c = 0; c < C; c++) {
            if (!isfinite(z_b[c]))
                return dg__fail(err, DG_ENUMERIC,
                                "student logit at batch row %lld, class %d is %g",
                                (long long)b + 1, c, (double)z_b[c]);
            max = fmax(max, z_b[c] / T);
        }
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

/* AE-KD's batch-level summaries for DG_AEKD_MEAN (C per teacher) and
 * DG_AEKD_FULL (B*C per teacher) into w->g, then the weights into w->a.
 * Only rows a teacher answered enter its summary. */
static int aekd_batch_weights(const dg__kd_batch *bt, const dg_distill_opts *o, dg__kd_work *w,
                              const double *s, double *grad_b, double *divisor,
                              double *qp_work, dg_error *err)
{
    int64_t B = bt->B, len = o->aekd_grad == DG_AEKD_FULL ? B * bt->C : bt->C;
    int C = bt->C, M = bt->M;
    double coef = o->temperature / (double)B;

    for (int m = 0; m < M; m++) {
        double *g_m = w->g + m * len;
        int64_t answered = 0;

        memset(g_m, 0, sizeof(double) * (size_t)len);
        for (int64_t b = 0; b < B; b++) {
            const float *q_mb = bt->q + (m * B + b) * C;

            if (!is_present(bt, m, b))
                continue;
            answered++;
            kd_grad_row(s + b * C, q_mb, NULL, C, grad_b);
            for (int c = 0; c < C; c++) {
                if (o->aekd_grad == DG_AEKD_FULL)
                    g_m[b * C + c] = coef * grad_b[c];
                else
                    g_m[c] += coef * grad_b[c];
            }
        }
        /* the mean over the rows this teacher answered: one that abstained
         * on some rows must not look shorter, and so more agreeable, to the
         * min-norm solve */
        if (o->aekd_grad != DG_AEKD_FULL && answered > 0)
            for (int c = 0; c < C; c++)
                g_m[c] /= (double)answered;
        divisor[m] = !answered ? 0.0 : o->aekd_normalize ? norm(g_m, len) : 1.0;
        if (o->teacher_prior)
            divisor[m] *= o->teacher_prior[m];
    }
    return weigh(w->g, M, len, divisor, o->aekd_normalize || o->teacher_prior, o->tolerance,
                 w->G, qp_work, w->a, err);
}

/* AE-KD per example: the weights of row b from its own C-vectors, into a. */
static int aekd_row_weights(const dg__kd_batch *bt, const dg_distill_opts *o, dg__kd_work *w,
                            int64_t b, const double *s_b, double *divisor, double *qp_work,
                            double *a, dg_error *err)
{
    int C = bt->C, M = bt->M;
    double coef = o->temperature / (double)bt->B;

    for (int m = 0; m < M; m++) {
        double *g_m = w->g + m * C;

        divisor[m] = 0.0;
        if (!is_present(bt, m, b))
            continue;
        kd_grad_row(s_b, bt->q + (m * bt->B + b) * C, NULL, C, g_m);
        for (int c = 0; c < C; c++)
            g_m[c] *= coef;
        divisor[m] = o->aekd_normalize ? norm(g_m, C) : 1.0;
        if (o->teacher_prior)
            divisor[m] *= o->teacher_prior[m];
    }
    return weigh(w->g, M, C, divisor, o->aekd_normalize || o->teacher_prior, o->tolerance, w->G,
                 qp_work, a, err);
}

/* Checks the batch against the work's sizes and the options. */
static int check_step(const dg__kd_batch *bt, const dg_distill_opts *o, const dg__kd_work *w,
                      dg_error *err)
{
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
    if (o->method == DG_AEKD && o->aekd_grad != DG_AEKD_MEAN &&
        o->aekd_grad != DG_AEKD_FULL && o->aekd_grad != DG_AEKD_PER_EXAMPLE)
        return dg__fail(err, DG_EINVAL, "unknown AE-KD gradient summary %d", (int)o->aekd_grad);
    if (o->method == DG_AEKD && (!isfinite(o->tolerance) || o->tolerance > 1.0 ||
                                 o->tolerance < 1.0 / bt->M - CAP_SLACK))
        return dg__fail(err, DG_EINVAL,
                        "tolerance must be in [1/M, 1] = [%.4g, 1] for %d teachers, got %g",
                        1.0 / bt->M, bt->M, o->tolerance);
    return 0;
}

int dg__kd_step(const dg__kd_batch *bt, const dg_distill_opts *opts, dg__kd_work *w, float *dz,
                double *loss, double *weights, dg_error *err)
{
    int64_t B = bt->B, rows_weighed = 0;
    int C = bt->C, M = bt->M, rc;
    dg_method method = opts->method;
    int per_example = method == DG_AEKD && opts->aekd_grad == DG_AEKD_PER_EXAMPLE;
    double T = opts->temperature, coef = T / (double)B, ce = 0.0, kd = 0.0, prior_sum = 0.0;
    double *s, *logs, *dz_row, *q_row, *grad_row, *divisor, *row_a, *a_sum, *qp_work;

    if ((rc = check_step(bt, opts, w, err)) != 0)
        return rc;
    s = w->scratch;
    logs = s + B * C;
    dz_row = logs + B * C;
    q_row = dz_row + C;
    grad_row = q_row + C;
    divisor = grad_row + C;
    row_a = divisor + w->M;
    a_sum = row_a + w->M;
    qp_work = a_sum + w->M;

    /* pass 1: the softened student */
    if ((rc = soften_student(bt->z, B, C, T, s, logs, err)) != 0)
        return rc;

    /* pass 2: the batch's teacher weights (per-example ones come per row) */
    for (int m = 0; m < M; m++) {
        w->a[m] = method == DG_CE ? 0.0 : opts->teacher_prior ? opts->teacher_prior[m] : 1.0;
        prior_sum += w->a[m];
        a_sum[m] = 0.0;
    }
    for (int m = 0; m < M; m++)
        w->a[m] = prior_sum > 0.0 ? w->a[m] / prior_sum : 0.0;
    if (method == DG_AEKD && !per_example &&
        (rc = aekd_batch_weights(bt, opts, w, s, grad_row, divisor, qp_work, err)) != 0)
        return rc;

    /* pass 3: row by row, CE at temperature 1, then the KD terms at T */
    for (int64_t b = 0; b < B; b++) {
        const double *s_b = s + b * C, *logs_b = logs + b * C, *a = w->a;
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
            ce += log_norm - z_b[y_b];
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
                kd += T * T / (double)B * kl_row(s_b, logs_b, NULL, q_row, C, grad_row);
                for (int c = 0; c < C; c++)
                    dz_row[c] += opts->alpha * coef * grad_row[c];
            }
        } else if (method != DG_CE && n_present) {
            if (per_example) {
                rc = aekd_row_weights(bt, opts, w, b, s_b, divisor, qp_work, row_a, err);
                if (rc != 0)
                    return rc;
                for (int m = 0; m < M; m++)
                    a_sum[m] += row_a[m];
                rows_weighed++;
                a = row_a;
            }
            for (int m = 0; m < M; m++) {
                double kl;

                if (!is_present(bt, m, b))
                    continue;
                kl = kl_row(s_b, logs_b, bt->q + (m * B + b) * C, NULL, C, grad_row);
                kd += a[m] * (T * T / (double)B) * kl;
                for (int c = 0; c < C; c++)
                    dz_row[c] += opts->alpha * a[m] * coef * grad_row[c];
            }
        }
        for (int c = 0; c < C; c++)
            dz[b * C + c] = (float)dz_row[c];
    }

    /* pass 4: the loss and the weights to report */
    *loss = opts->alpha * kd + opts->gamma * ce / (double)B;
    for (int m = 0; m < M; m++)
        weights[m] = !per_example ? w->a[m] : rows_weighed ? a_sum[m] / (double)rows_weighed
                                                           : 1.0 / M;
    return 0;
}
