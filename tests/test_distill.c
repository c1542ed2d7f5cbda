/* Distillation internals: softened teacher targets, the KD and CE losses
 * against hand-computed values, finite differences of dz for every method,
 * the behaviour of the teacher weights, and loading teacher outputs.
 */
#include "check.h"
#include "distill/distill.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define B_ 4
#define C_ 3
#define M_ 3

/* ------------------------------------------------------------------------
 * A small batch: random logits, three teachers, a row without a label and
 * teacher 3 abstaining on row 2.
 */

typedef struct batch {
    float z[B_ * C_];
    int32_t y[B_];
    float q[M_ * B_ * C_];
    unsigned char present[M_ * B_];
} batch;

static void make_batch(batch *bt, uint64_t seed, double T)
{
    dg__rng r;
    float logits[C_];

    dg__rng_seed(&r, seed);
    for (int i = 0; i < B_ * C_; i++)
        bt->z[i] = (float)(2.0 * dg__rng_normal(&r));
    for (int b = 0; b < B_; b++)
        bt->y[b] = b == 1 ? -1 : (int32_t)dg__rng_below(&r, C_);
    for (int m = 0; m < M_; m++)
        for (int b = 0; b < B_; b++) {
            for (int c = 0; c < C_; c++)
                logits[c] = (float)(3.0 * dg__rng_normal(&r));
            dg__softmax_rows(logits, 1, C_, T, bt->q + (m * B_ + b) * C_);
            bt->present[m * B_ + b] = !(m == 2 && b == 1);
        }
    for (int c = 0; c < C_; c++)
        bt->q[(2 * B_ + 1) * C_ + c] = 0.0f;
}

static dg__kd_batch view(batch *bt, int64_t B)
{
    dg__kd_batch v = {B, C_, M_, bt->z, bt->y, bt->q, bt->present, NULL};

    return v;
}

static dg_distill_opts opts_for(dg_method method, dg_aekd_grad grad, int normalize, double T)
{
    dg_distill_opts o;

    memset(&o, 0, sizeof o);
    o.method = method;
    o.temperature = T;
    o.alpha = 0.9;
    o.gamma = 0.7;
    o.tolerance = 0.6;
    o.aekd_grad = grad;
    o.aekd_normalize = normalize;
    return o;
}

/* KL(q || softmax(z / T)) in double, from scratch. */
static double kl_ref(const double *q, const double *z, double T)
{
    double max = -INFINITY, sum = 0.0, kl = 0.0;

    for (int c = 0; c < C_; c++)
        max = fmax(max, z[c] / T);
    for (int c = 0; c < C_; c++)
        sum += exp(z[c] / T - max);
    for (int c = 0; c < C_; c++)
        if (q[c] > 0)
            kl += q[c] * (log(q[c]) - (z[c] / T - max - log(sum)));
    return kl;
}

/* The student loss with the weights held fixed: A is (M, B), teacher m's
 * weight on row b (ignored for ce and avg-prob). */
static double loss_ref(const batch *bt, const double *z, const dg_distill_opts *o,
                       const double *A)
{
    double T = o->temperature, ce = 0.0, kd = 0.0;

    for (int b = 0; b < B_; b++) {
        const double *z_b = z + b * C_;
        double q[C_], max = -INFINITY, sum = 0.0;
        int n_present = 0;

        if (bt->y[b] >= 0) {
            for (int c = 0; c < C_; c++)
                max = fmax(max, z_b[c]);
            for (int c = 0; c < C_; c++)
                sum += exp(z_b[c] - max);
            ce += max + log(sum) - z_b[bt->y[b]];
        }
        if (o->method == DG_AVG_PROB) {
            memset(q, 0, sizeof q);
            for (int m = 0; m < M_; m++)
                if (bt->present[m * B_ + b]) {
                    n_present++;
                    for (int c = 0; c < C_; c++)
                        q[c] += bt->q[(m * B_ + b) * C_ + c];
                }
            for (int c = 0; c < C_; c++)
                q[c] /= n_present;
            kd += T * T / B_ * kl_ref(q, z_b, T);
        } else if (o->method != DG_CE) {
            for (int m = 0; m < M_; m++) {
                if (!bt->present[m * B_ + b])
                    continue;
                for (int c = 0; c < C_; c++)
                    q[c] = bt->q[(m * B_ + b) * C_ + c];
                kd += A[m * B_ + b] * T * T / B_ * kl_ref(q, z_b, T);
            }
        }
    }
    /* both terms are means over the whole batch: an unlabelled row adds 0
     * to the CE sum but still counts in B */
    return o->gamma * ce / B_ + o->alpha * kd;
}

/* Per-row weights A (M, B): the batch weights on every row, or for
 * per-example AE-KD each row's own weights, got from a one-row batch (the
 * per-row QP does not depend on the batch size). */
static void fixed_weights(batch *bt, const dg_distill_opts *o, const double *batch_w, double *A)
{
    dg__kd_work w;
    double loss, row_w[M_];
    float dz[C_];

    for (int m = 0; m < M_; m++)
        for (int b = 0; b < B_; b++)
            A[m * B_ + b] = batch_w[m];
    if (!(o->method == DG_AEKD && o->aekd_grad == DG_AEKD_PER_EXAMPLE))
        return;
    CHECK(dg__kd_work_init(&w, 1, C_, M_, NULL) == 0);
    for (int b = 0; b < B_; b++) {
        batch one;
        dg__kd_batch v;

        memcpy(one.z, bt->z + b * C_, sizeof(float) * C_);
        one.y[0] = bt->y[b];
        for (int m = 0; m < M_; m++) {
            memcpy(one.q + m * C_, bt->q + (m * B_ + b) * C_, sizeof(float) * C_);
            one.present[m] = bt->present[m * B_ + b];
        }
        v = (dg__kd_batch){1, C_, M_, one.z, one.y, one.q, one.present, NULL};
        CHECK(dg__kd_step(&v, o, &w, dz, &loss, row_w, NULL) == 0);
        for (int m = 0; m < M_; m++)
            A[m * B_ + b] = row_w[m];
    }
    dg__kd_work_free(&w);
}

/* dz from dg__kd_step against central differences of loss_ref. */
static void check_gradient(const dg_distill_opts *o, uint64_t seed)
{
    batch bt;
    dg__kd_work w;
    dg__kd_batch v;
    float dz[B_ * C_];
    double weights[M_], A[M_ * B_], z[B_ * C_], loss, h = 1e-5, wsum = 0.0;

    make_batch(&bt, seed, o->temperature);
    v = view(&bt, B_);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    CHECK(dg__kd_step(&v, o, &w, dz, &loss, weights, NULL) == 0);
    dg__kd_work_free(&w);
    for (int m = 0; m < M_; m++)
        wsum += weights[m];
    CHECK_NEAR(wsum, o->method == DG_CE ? 0.0 : 1.0, 1e-9);

    fixed_weights(&bt, o, weights, A);
    for (int i = 0; i < B_ * C_; i++)
        z[i] = bt.z[i];
    CHECK_NEAR(loss, loss_ref(&bt, z, o, A), 1e-9 * (1.0 + fabs(loss)));
    for (int i = 0; i < B_ * C_; i++) {
        double up, down;

        z[i] = bt.z[i] + h;
        up = loss_ref(&bt, z, o, A);
        z[i] = bt.z[i] - h;
        down = loss_ref(&bt, z, o, A);
        z[i] = bt.z[i];
        CHECK_NEAR(dz[i], (up - down) / (2 * h), 1e-6 + 1e-4 * fabs(dz[i]));
    }
}

static void test_dz_matches_finite_differences_for_every_method(void)
{
    const dg_method methods[] = {DG_CE, DG_AVG_LOSS, DG_AVG_PROB};
    const dg_aekd_grad grads[] = {DG_AEKD_MEAN, DG_AEKD_FULL, DG_AEKD_PER_EXAMPLE};
    const double temps[] = {1.0, 4.0};

    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < 3; i++) {
            dg_distill_opts o = opts_for(methods[i], DG_AEKD_MEAN, 0, temps[t]);

            check_gradient(&o, 100 + i);
        }
        for (int i = 0; i < 3; i++)
            for (int normalize = 0; normalize < 2; normalize++) {
                dg_distill_opts o = opts_for(DG_AEKD, grads[i], normalize, temps[t]);

                check_gradient(&o, 200 + i);
                o.tolerance = 1.0;
                check_gradient(&o, 300 + i);
            }
    }
}

/* The AE-KD weights from the definition: summaries of the per-row logit
 * gradients (T/B)(s_b - q_mb) over the rows each teacher answered, their
 * Gram matrix, the public QP, and the normalisation when asked. */
static void aekd_weights_ref(const batch *bt, const dg_distill_opts *o, double *a)
{
    double T = o->temperature, g[M_][B_ * C_], G[M_ * M_], nrm[M_], row[M_], row_m[M_];
    double sum = 0.0;
    int len = o->aekd_grad == DG_AEKD_FULL ? B_ * C_ : C_, rows = 0;

    int answered[M_] = {0};

    memset(g, 0, sizeof g);
    memset(a, 0, sizeof(double) * M_);
    for (int m = 0; m < M_; m++)
        for (int b = 0; b < B_; b++)
            answered[m] += bt->present[m * B_ + b];
    for (int b = 0; b < B_; b++) {
        double s[C_], ssum = 0.0;
        int keep[M_], K = 0;

        for (int c = 0; c < C_; c++)
            ssum += s[c] = exp(bt->z[b * C_ + c] / T);
        for (int m = 0; m < M_; m++) {
            keep[m] = bt->present[m * B_ + b];
            for (int c = 0; c < C_ && keep[m]; c++) {
                double d = T / B_ * (s[c] / ssum - bt->q[(m * B_ + b) * C_ + c]);

                if (o->aekd_grad == DG_AEKD_FULL)
                    g[m][b * C_ + c] = d;
                else if (o->aekd_grad == DG_AEKD_MEAN)
                    g[m][c] += d / answered[m]; /* mean over the rows m answered */
                else
                    g[m][c] = d;
            }
        }
        if (o->aekd_grad != DG_AEKD_PER_EXAMPLE)
            continue;
        /* one QP per row over the teachers that answered it */
        for (int m = 0; m < M_; m++) {
            double ss = 0.0;

            for (int c = 0; c < C_; c++)
                ss += g[m][c] * g[m][c];
            nrm[m] = o->aekd_normalize ? sqrt(ss) : 1.0;
            K += keep[m];
        }
        for (int i = 0, ki = 0; i < M_; i++)
            for (int j = 0, kj = 0; j < M_ && keep[i]; j++) {
                double dot = 0.0;

                if (!keep[j])
                    continue;
                for (int c = 0; c < C_; c++)
                    dot += g[i][c] * g[j][c];
                G[ki * K + kj++] = dot / (nrm[i] * nrm[j]);
                ki += kj == K;
            }
        CHECK(dg_capped_simplex_qp(G, K, fmax(o->tolerance, 1.0 / K), row, NULL) == 0);
        sum = 0.0;
        for (int m = M_ - 1, k = K - 1; m >= 0; m--) {
            row_m[m] = keep[m] ? row[k--] / nrm[m] : 0.0;
            sum += row_m[m];
        }
        for (int m = 0; m < M_; m++)
            a[m] += row_m[m] / sum;
        rows++;
    }
    if (o->aekd_grad == DG_AEKD_PER_EXAMPLE) {
        for (int m = 0; m < M_; m++)
            a[m] /= rows;
        return;
    }
    sum = 0.0;
    for (int m = 0; m < M_; m++) {
        double ss = 0.0;

        for (int e = 0; e < len; e++)
            ss += g[m][e] * g[m][e];
        nrm[m] = o->aekd_normalize ? sqrt(ss) : 1.0;
    }
    for (int i = 0; i < M_; i++)
        for (int j = 0; j < M_; j++) {
            double dot = 0.0;

            for (int e = 0; e < len; e++)
                dot += g[i][e] * g[j][e];
            G[i * M_ + j] = dot / (nrm[i] * nrm[j]);
        }
    CHECK(dg_capped_simplex_qp(G, M_, o->tolerance, a, NULL) == 0);
    for (int m = 0; m < M_; m++)
        sum += a[m] /= nrm[m];
    for (int m = 0; m < M_; m++)
        a[m] /= sum;
}

static void test_aekd_weights_solve_the_qp_on_the_chosen_summaries(void)
{
    const dg_aekd_grad grads[] = {DG_AEKD_MEAN, DG_AEKD_FULL, DG_AEKD_PER_EXAMPLE};
    batch bt;
    dg__kd_work w;
    dg__kd_batch v;
    float dz[B_ * C_];
    double loss, a[M_], ref[M_];

    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    for (int seed = 0; seed < 5; seed++)
        for (int i = 0; i < 3; i++)
            for (int normalize = 0; normalize < 2; normalize++) {
                dg_distill_opts o = opts_for(DG_AEKD, grads[i], normalize, 2.0);

                o.tolerance = seed % 2 ? 1.0 : 0.5;
                make_batch(&bt, 400 + seed, 2.0);
                v = view(&bt, B_);
                CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
                aekd_weights_ref(&bt, &o, ref);
                for (int m = 0; m < M_; m++)
                    CHECK_NEAR(a[m], ref[m], 1e-6);
            }
    dg__kd_work_free(&w);
}

static void test_teacher_absent_from_the_whole_batch_gets_no_weight(void)
{
    const dg_aekd_grad grads[] = {DG_AEKD_MEAN, DG_AEKD_FULL, DG_AEKD_PER_EXAMPLE};
    batch bt;
    dg__kd_work w;
    dg__kd_batch v;
    float dz[B_ * C_];
    double loss, a[M_];

    make_batch(&bt, 11, 4.0);
    for (int b = 0; b < B_; b++) {
        bt.present[2 * B_ + b] = 0;
        memset(bt.q + (2 * B_ + b) * C_, 0, sizeof(float) * C_);
    }
    v = view(&bt, B_);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    for (int i = 0; i < 3; i++)
        for (int normalize = 0; normalize < 2; normalize++) {
            dg_distill_opts o = opts_for(DG_AEKD, grads[i], normalize, 4.0);

            CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
            CHECK(a[2] == 0.0);
            CHECK_NEAR(a[0] + a[1], 1.0, 1e-12);
        }
    dg__kd_work_free(&w);
}

static void test_kd_loss_matches_hand_computed_value(void)
{
    /* one row, z = (0, 0) so s = (1/2, 1/2); teacher q = (0.8, 0.2), T = 2:
     * L = T^2 KL(q || s) = 4 (0.8 ln 1.6 + 0.2 ln 0.4), dz = T (s - q) */
    float z[2] = {0, 0}, q[2] = {0.8f, 0.2f}, dz[2];
    dg__kd_batch v = {1, 2, 1, z, NULL, q, NULL, NULL};
    dg_distill_opts o = opts_for(DG_AVG_LOSS, DG_AEKD_MEAN, 0, 2.0);
    dg__kd_work w;
    double loss, weight;

    o.alpha = 1.0;
    CHECK(dg__kd_work_init(&w, 1, 2, 1, NULL) == 0);
    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, &weight, NULL) == 0);
    CHECK_NEAR(loss, 4.0 * (0.8 * log(1.6) + 0.2 * log(0.4)), 1e-6);
    CHECK_NEAR(loss, 0.7709790, 1e-6);
    CHECK_NEAR(dz[0], -0.6, 1e-6);
    CHECK_NEAR(dz[1], 0.6, 1e-6);
    CHECK(weight == 1.0);
    dg__kd_work_free(&w);
}

static void test_ce_matches_hand_value_and_ignores_teachers(void)
{
    batch bt, other;
    dg__kd_work w;
    dg__kd_batch v;
    dg_distill_opts o = opts_for(DG_CE, DG_AEKD_MEAN, 0, 4.0);
    float dz[B_ * C_], dz2[B_ * C_];
    double loss, loss2, weights[M_], ce = 0.0;

    make_batch(&bt, 7, 4.0);
    make_batch(&other, 8, 4.0);
    memcpy(other.z, bt.z, sizeof bt.z);
    memcpy(other.y, bt.y, sizeof bt.y);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    v = view(&bt, B_);
    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, weights, NULL) == 0);
    v = view(&other, B_);
    CHECK(dg__kd_step(&v, &o, &w, dz2, &loss2, weights, NULL) == 0);
    CHECK(loss == loss2);
    CHECK(memcmp(dz, dz2, sizeof dz) == 0);
    for (int m = 0; m < M_; m++)
        CHECK(weights[m] == 0.0);

    /* 3 of the 4 rows labelled; the unlabelled row gets no gradient at all,
     * and the mean is still over all 4 rows */
    for (int b = 0; b < B_; b++) {
        double e[C_], sum = 0.0;

        if (bt.y[b] < 0) {
            for (int c = 0; c < C_; c++)
                CHECK(dz[b * C_ + c] == 0.0f);
            continue;
        }
        for (int c = 0; c < C_; c++)
            sum += e[c] = exp(bt.z[b * C_ + c]);
        ce += -log(e[bt.y[b]] / sum);
        for (int c = 0; c < C_; c++)
            CHECK_NEAR(dz[b * C_ + c], o.gamma * (e[c] / sum - (c == bt.y[b])) / B_, 1e-6);
    }
    CHECK_NEAR(loss, o.gamma * ce / B_, 1e-9);
    dg__kd_work_free(&w);
}

static void test_avg_loss_weights_are_one_over_m(void)
{
    batch bt;
    dg__kd_work w;
    dg__kd_batch v;
    dg_distill_opts o = opts_for(DG_AVG_LOSS, DG_AEKD_MEAN, 0, 4.0);
    float dz[B_ * C_];
    double loss, weights[M_];

    make_batch(&bt, 9, 4.0);
    v = view(&bt, B_);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, weights, NULL) == 0);
    for (int m = 0; m < M_; m++)
        CHECK(weights[m] == 1.0 / M_);
    dg__kd_work_free(&w);
}

static void test_aekd_with_cap_one_over_m_equals_avg_loss_exactly(void)
{
    const dg_aekd_grad grads[] = {DG_AEKD_MEAN, DG_AEKD_FULL, DG_AEKD_PER_EXAMPLE};
    batch bt;
    dg__kd_work w;
    dg__kd_batch v;
    dg_distill_opts avg = opts_for(DG_AVG_LOSS, DG_AEKD_MEAN, 0, 4.0);
    float dz[B_ * C_], dz_avg[B_ * C_];
    double loss, loss_avg, weights[M_];

    make_batch(&bt, 10, 4.0);
    memset(bt.present, 1, sizeof bt.present);
    v = view(&bt, B_);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    CHECK(dg__kd_step(&v, &avg, &w, dz_avg, &loss_avg, weights, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        dg_distill_opts o = opts_for(DG_AEKD, grads[i], 0, 4.0);

        o.tolerance = 1.0 / M_;
        CHECK(dg__kd_step(&v, &o, &w, dz, &loss, weights, NULL) == 0);
        CHECK(loss == loss_avg);
        CHECK(memcmp(dz, dz_avg, sizeof dz) == 0);
        for (int m = 0; m < M_; m++)
            CHECK(weights[m] == 1.0 / M_);
    }
    dg__kd_work_free(&w);
}

static void test_aekd_gives_less_weight_to_a_teacher_pulling_against_the_rest(void)
{
    /* student uniform; teachers 1 and 2 pull gently toward class 0, teacher
     * 3 pulls hard the other way. The min-norm combination balances them,
     * so teacher 3 gets the smallest weight; with cap = 1/M all are equal. */
    float z[C_] = {0, 0, 0}, dz[C_];
    float q[M_ * C_] = {0.40f, 0.30f, 0.30f, 0.42f, 0.29f, 0.29f, 0.10f, 0.45f, 0.45f};
    dg__kd_batch v = {1, C_, M_, z, NULL, q, NULL, NULL};
    dg_distill_opts o = opts_for(DG_AEKD, DG_AEKD_MEAN, 0, 1.0);
    dg__kd_work w;
    double loss, a[M_];

    CHECK(dg__kd_work_init(&w, 1, C_, M_, NULL) == 0);
    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
    CHECK(a[2] < a[0] && a[2] < a[1]);
    CHECK(a[2] < 0.25);
    /* the combined pull a1 g1 + a2 g2 + a3 g3 is (nearly) zero */
    CHECK(fabs(dz[0]) < 1e-6 && fabs(dz[1]) < 1e-6 && fabs(dz[2]) < 1e-6);
    o.tolerance = 1.0 / M_;
    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
    CHECK(a[0] == a[2]);
    dg__kd_work_free(&w);
}

/* A larger batch (37 rows, some unlabelled, teachers abstaining here and
 * there) for the step's two ways of being run: with the targets' sum
 * q ln q given (the trainer caches it) and computed, and shared by a team
 * of 2 or 3 threads against one. */
enum { BT = 37, CT = 5, MT = 4 };

static void make_big_batch(float *z, int32_t *y, float *q, unsigned char *present, double *qlogq)
{
    dg__rng r;
    float logits[CT];

    dg__rng_seed(&r, 77);
    for (int i = 0; i < BT * CT; i++)
        z[i] = (float)(2.0 * dg__rng_normal(&r));
    for (int b = 0; b < BT; b++)
        y[b] = b % 5 == 1 ? -1 : (int32_t)dg__rng_below(&r, CT);
    for (int m = 0; m < MT; m++)
        for (int b = 0; b < BT; b++) {
            float *q_mb = q + (m * BT + b) * CT;

            for (int c = 0; c < CT; c++)
                logits[c] = (float)(3.0 * dg__rng_normal(&r));
            dg__softmax_rows(logits, 1, CT, 2.0, q_mb);
            present[m * BT + b] = !((m == 1 && b % 7 == 3) || (m == 3 && b < 5));
            if (!present[m * BT + b])
                memset(q_mb, 0, sizeof(float) * CT);
            qlogq[m * BT + b] = 0.0;
            for (int c = 0; c < CT; c++)
                if (q_mb[c] > 0.0f)
                    qlogq[m * BT + b] += q_mb[c] * log((double)q_mb[c]);
        }
}

/* One step shared by `parts` threads (1: no team). */
static int team_step(const dg__kd_batch *v, const dg_distill_opts *o, dg__kd_work *w, int parts,
                     float *dz, double *loss, double *a, dg_error *err)
{
    int rc = 0;

#pragma omp parallel num_threads(parts) if (parts > 1)
    {
        int got = dg__kd_step_part(v, o, w, dz, loss, a, err, omp_get_thread_num(),
                                   omp_get_num_threads());

        if (omp_get_thread_num() == 0)
            rc = got;
    }
    return rc;
}

static void test_cached_qlogq_and_teams_give_the_same_step(void)
{
    static const dg_method methods[] = {DG_CE, DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD};
    float z[BT * CT], q[MT * BT * CT], dz1[BT * CT], dz2[BT * CT];
    int32_t y[BT];
    unsigned char present[MT * BT];
    double qlogq[MT * BT];
    dg__kd_work w;
    dg_error err;

    make_big_batch(z, y, q, present, qlogq);
    CHECK(dg__kd_work_init_parts(&w, BT, CT, MT, 3, NULL) == 0);
    for (int k = 0; k < 4; k++)
        for (int g = 0; g < 3; g++)
            for (int normalize = 0; normalize < 2; normalize++) {
                dg_distill_opts o = opts_for(methods[k], (dg_aekd_grad)g, normalize, 2.0);
                dg__kd_batch v = {BT, CT, k == 0 ? 0 : MT, z, y, q, present, NULL};
                double loss1, loss2, a1[MT], a2[MT];
                int far = 0;

                CHECK(dg__kd_step(&v, &o, &w, dz1, &loss1, a1, NULL) == 0);
                /* the cached sums: the same gradient, the same loss up to
                 * rounding */
                v.qlogq = qlogq;
                CHECK(team_step(&v, &o, &w, 1, dz2, &loss2, a2, NULL) == 0);
                CHECK(memcmp(dz1, dz2, sizeof dz1) == 0);
                CHECK_NEAR(loss2, loss1, 1e-12 * (1.0 + fabs(loss1)));
                /* teams: each row's gradient is its own, the batch's sums
                 * and the AE-KD summaries are added in another order */
                for (int parts = 2; parts <= 3; parts++) {
                    CHECK(team_step(&v, &o, &w, parts, dz2, &loss2, a2, NULL) == 0);
                    for (int i = 0; i < BT * CT; i++)
                        far += fabsf(dz1[i] - dz2[i]) > 1e-6f * (1e-3f + fabsf(dz1[i]));
                    for (int m = 0; m < v.M; m++)
                        far += fabs(a1[m] - a2[m]) > 1e-9;
                    CHECK_NEAR(loss2, loss1, 1e-10 * (1.0 + fabs(loss1)));
                }
                CHECK(far == 0);
            }

    /* a non-finite logit stops the step naming the first such row,
     * whichever part holds it */
    {
        dg_distill_opts o = opts_for(DG_AEKD, DG_AEKD_FULL, 1, 2.0);
        dg__kd_batch v = {BT, CT, MT, z, y, q, present, qlogq};
        double loss, a[MT];

        z[30 * CT + 2] = NAN;
        for (int parts = 1; parts <= 3; parts++) {
            CHECK(team_step(&v, &o, &w, parts, dz1, &loss, a, &err) == DG_ENUMERIC);
            CHECK(strstr(err.msg, "row 31") != NULL);
        }
        z[3 * CT] = INFINITY;
        for (int parts = 1; parts <= 3; parts++) {
            CHECK(team_step(&v, &o, &w, parts, dz1, &loss, a, &err) == DG_ENUMERIC);
            CHECK(strstr(err.msg, "row 4,") != NULL);
        }
    }
    dg__kd_work_free(&w);
}

static void test_extreme_temperatures_and_certain_teachers_give_no_nan(void)
{
    const float p[M_ * C_] = {1, 0, 0, 0, 1, 0, 0.5f, 0.5f, 0};
    const float *outputs[M_] = {p, p + C_, p + 2 * C_};
    const double temps[] = {0.05, 100.0};
    const dg_method methods[] = {DG_CE, DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD};
    dg_teachers *t;
    int64_t rows[B_] = {0, 0, 0, 0};
    float z[B_ * C_] = {30, -30, 0, -30, 30, 0, 0, 0, 0, 1e4f, -1e4f, 5};
    int32_t y[B_] = {0, 1, -1, 2};
    float q[M_ * B_ * C_], dz[B_ * C_];
    unsigned char present[M_ * B_];
    dg__kd_work w;

    CHECK(dg_teachers_from_arrays(outputs, M_, 1, C_, DG_TEACHER_AUTO, &t, NULL) == 0);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        for (int m = 0; m < M_; m++)
            dg__teacher_soften(t, m, rows, B_, temps[i], q + m * B_ * C_, present + m * B_);
        CHECK(q[1] == 0.0f && q[2] == 0.0f);
        for (int k = 0; k < 4; k++)
            for (int g = 0; g < 3; g++)
                for (int normalize = 0; normalize < 2; normalize++) {
                    dg_distill_opts o = opts_for(methods[k], (dg_aekd_grad)g, normalize, temps[i]);
                    dg__kd_batch v = {B_, C_, M_, z, y, q, present, NULL};
                    double loss = NAN, a[M_];

                    CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
                    CHECK(isfinite(loss));
                    for (int c = 0; c < B_ * C_; c++)
                        CHECK(isfinite(dz[c]));
                    for (int m = 0; m < M_; m++)
                        CHECK(isfinite(a[m]));
                }
    }
    dg__kd_work_free(&w);
    dg_teachers_free(t);
}

static void test_zero_gradient_teacher_under_normalisation_gives_no_nan(void)
{
    /* teacher 1 equals the student exactly: its gradient is zero */
    float z[C_] = {0, 0, 0}, dz[C_];
    float q[M_ * C_] = {1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0.5f, 0.3f, 0.2f, 0.2f, 0.3f, 0.5f};
    dg__kd_batch v = {1, C_, M_, z, NULL, q, NULL, NULL};
    dg_distill_opts o = opts_for(DG_AEKD, DG_AEKD_MEAN, 1, 1.0);
    dg__kd_work w;
    double loss, a[M_];

    CHECK(dg__kd_work_init(&w, 1, C_, M_, NULL) == 0);
    for (int g = 0; g < 3; g++) {
        o.aekd_grad = (dg_aekd_grad)g;
        CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
        CHECK(isfinite(loss) && isfinite(a[0]) && isfinite(a[1]) && isfinite(a[2]));
        CHECK_NEAR(a[0] + a[1] + a[2], 1.0, 1e-12);
    }
    dg__kd_work_free(&w);
}

/* ------------------------------------------------------------------------
 * Softened targets and teacher outputs
 */

static void test_softening_keeps_zeros_and_matches_root_of_p(void)
{
    const float p[2 * 4] = {0.5f, 0.3f, 0.2f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f};
    const float *outputs[1] = {p};
    dg_teachers *t;
    int64_t rows[3] = {1, 0, 1};
    float q[3 * 4];
    unsigned char present[3];
    double r[3] = {sqrt(0.5), sqrt(0.3), sqrt(0.2)}, sum = r[0] + r[1] + r[2];

    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 4, DG_TEACHER_AUTO, &t, NULL) == 0);
    dg__teacher_soften(t, 0, rows, 3, 2.0, q, present);
    for (int c = 0; c < 3; c++)
        CHECK_NEAR(q[4 + c], r[c] / sum, 1e-6);
    CHECK(q[4 + 3] == 0.0f);
    CHECK(q[0] == 0.0f && q[1] == 0.0f && q[2] == 1.0f && q[3] == 0.0f);
    CHECK(present[0] == 1 && present[1] == 1 && present[2] == 1);

    /* the teacher abstains on row 1: all-zero target, present 0 */
    t->present = calloc(2, 1);
    t->present[0] = 1;
    dg__teacher_soften(t, 0, rows, 3, 2.0, q, present);
    CHECK(present[0] == 0 && present[1] == 1 && present[2] == 0);
    for (int c = 0; c < 4; c++)
        CHECK(q[c] == 0.0f && q[8 + c] == 0.0f);
    dg_teachers_free(t);
}

static void test_auto_format_tells_probabilities_from_logits(void)
{
    const float probs[2 * 3] = {0.7f, 0.2f, 0.1f, 0.0f, 0.5f, 0.5f};
    const float logits[2 * 3] = {2.0f, 1.0f, 0.0f, -1.0f, 0.5f, 0.5f};
    const float *outputs[2] = {probs, logits};
    dg_teachers *t;
    float out[2 * 3];
    double e[3] = {exp(2.0), exp(1.0), 1.0}, sum = e[0] + e[1] + e[2];

    CHECK(dg_teachers_from_arrays(outputs, 2, 2, 3, DG_TEACHER_AUTO, &t, NULL) == 0);
    CHECK(dg_teachers_count(t) == 2 && dg_teachers_rows(t) == 2 && dg_teachers_classes(t) == 3);
    CHECK(dg_teachers_probs(t, 0, out) == 0);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(out[i], probs[i], 1e-6);
    CHECK(t->logp[3] == -INFINITY);
    CHECK(dg_teachers_probs(t, 1, out) == 0);
    for (int c = 0; c < 3; c++)
        CHECK_NEAR(out[c], e[c] / sum, 1e-6);
    CHECK(dg_teachers_probs(t, 2, out) == DG_EINVAL);
    dg_teachers_free(t);

    /* forced logits: a probability row is read as logits */
    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 3, DG_TEACHER_LOGIT, &t, NULL) == 0);
    CHECK(dg_teachers_probs(t, 0, out) == 0);
    CHECK_NEAR(out[0], exp(0.7) / (exp(0.7) + exp(0.2) + exp(0.1)), 1e-6);
    dg_teachers_free(t);
}

static void test_prob_format_rejects_negative_entries_and_bad_sums(void)
{
    const float negative[2 * 2] = {0.5f, 0.5f, 1.2f, -0.2f};
    const float bad_sum[2 * 2] = {0.5f, 0.5f, 0.5f, 0.4f};
    const float with_nan[2 * 2] = {0.5f, 0.5f, 0.5f, NAN};
    const float *outputs[1];
    dg_teachers *t = NULL;
    dg_error err;

    outputs[0] = negative;
    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 2, DG_TEACHER_PROB, &t, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "row 2, column 2") && strstr(err.msg, "-0.2"));
    CHECK(t == NULL);
    outputs[0] = bad_sum;
    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 2, DG_TEACHER_PROB, &t, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "row 2") && strstr(err.msg, "0.9"));
    /* under auto the same rows are logits */
    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 2, DG_TEACHER_AUTO, &t, &err) == 0);
    dg_teachers_free(t);
    outputs[0] = with_nan;
    CHECK(dg_teachers_from_arrays(outputs, 1, 2, 2, DG_TEACHER_AUTO, &t, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "teacher 1: row 2, column 2") != NULL);
}

/* Writes a float32 N x C .npy file (version 1.0, little endian). */
static void write_npy(const char *path, const float *x, int N, int C)
{
    char header[128];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", N, C);
    int total = (10 + len + 1 + 63) / 64 * 64;
    FILE *fp = fopen(path, "wb");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};

    pre[8] = (unsigned char)((total - 10) & 0xff);
    pre[9] = (unsigned char)((total - 10) >> 8);
    fwrite(pre, 1, 10, fp);
    fwrite(header, 1, (size_t)len, fp);
    for (int i = 10 + len; i < total - 1; i++)
        fputc(' ', fp);
    fputc('\n', fp);
    fwrite(x, sizeof(float), (size_t)N * C, fp);
    fclose(fp);
}

static void test_files_load_and_mismatches_name_both_sources(void)
{
    char dir[] = "/tmp/dg_teachersXXXXXX", a[64], b[64], c[64], d[64];
    const float x[3 * 2] = {0.9f, 0.1f, 0.2f, 0.8f, 0.5f, 0.5f};
    const char *paths[2];
    dg_teachers *t = NULL;
    dg_error err;
    float out[3 * 2];
    FILE *fp;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(a, sizeof a, "%s/a.npy", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    snprintf(c, sizeof c, "%s/c.npy", dir);
    snprintf(d, sizeof d, "%s/d.npy", dir);
    write_npy(a, x, 3, 2);
    write_npy(c, x, 2, 2);
    write_npy(d, x, 2, 3);
    fp = fopen(b, "w");
    fputs("cat,dog\n3.0,1.0\n0,0\n-1,2\n", fp);
    fclose(fp);

    paths[0] = a;
    paths[1] = b;
    CHECK(dg_teachers_load(paths, 2, DG_TEACHER_AUTO, &t, &err) == 0);
    if (t) {
        CHECK(dg_teachers_rows(t) == 3 && dg_teachers_classes(t) == 2);
        CHECK(dg_teachers_probs(t, 0, out) == 0);
        CHECK_NEAR(out[0], 0.9, 1e-6);
        CHECK(dg_teachers_probs(t, 1, out) == 0);
        CHECK_NEAR(out[0], 1.0 / (1.0 + exp(-2.0)), 1e-6);
        CHECK_NEAR(out[2], 0.5, 1e-6);
        dg_teachers_free(t);
    }

    paths[1] = c;
    CHECK(dg_teachers_load(paths, 2, DG_TEACHER_AUTO, &t, &err) == DG_EMISMATCH);
    CHECK(strstr(err.msg, a) && strstr(err.msg, c) && strstr(err.msg, "3") &&
          strstr(err.msg, "2 rows"));
    paths[0] = c;
    paths[1] = d;
    CHECK(dg_teachers_load(paths, 2, DG_TEACHER_AUTO, &t, &err) == DG_EMISMATCH);
    CHECK(strstr(err.msg, c) && strstr(err.msg, d) && strstr(err.msg, "3 classes") &&
          strstr(err.msg, "has 2"));

    unlink(a);
    unlink(b);
    unlink(c);
    unlink(d);
    rmdir(dir);
}

/* Teacher m answers only row m with a one-hot target on class m, and the
 * student is uniform: the full-batch gradient summaries are orthogonal and
 * of equal length, so nothing conflicts and the prior alone decides. */
static void test_prior_sets_the_weights_where_teachers_do_not_conflict(void)
{
    const double prior[M_] = {1.0, 2.0, 3.0};
    float z[M_ * C_] = {0}, q[M_ * M_ * C_] = {0}, dz[M_ * C_];
    unsigned char present[M_ * M_] = {0};
    dg__kd_batch v = {M_, C_, M_, z, NULL, q, present, NULL};
    dg__kd_work w;
    double loss, a[M_];

    for (int m = 0; m < M_; m++) {
        present[m * M_ + m] = 1;
        q[(m * M_ + m) * C_ + m] = 1.0f;
    }
    CHECK(dg__kd_work_init(&w, M_, C_, M_, NULL) == 0);
    for (int normalize = 0; normalize < 2; normalize++) {
        dg_distill_opts o = opts_for(DG_AEKD, DG_AEKD_FULL, normalize, 4.0);

        o.tolerance = 1.0;
        o.teacher_prior = prior;
        CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
        for (int m = 0; m < M_; m++)
            CHECK_NEAR(a[m], prior[m] / 6.0, 1e-6);

        /* without the prior the same batch gets the plain average */
        o.teacher_prior = NULL;
        CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
        for (int m = 0; m < M_; m++)
            CHECK_NEAR(a[m], 1.0 / 3.0, 1e-6);
    }
    {
        dg_distill_opts o = opts_for(DG_AVG_LOSS, DG_AEKD_MEAN, 0, 4.0);

        o.teacher_prior = prior;
        CHECK(dg__kd_step(&v, &o, &w, dz, &loss, a, NULL) == 0);
        for (int m = 0; m < M_; m++)
            CHECK(a[m] == prior[m] / 6.0);
    }
    dg__kd_work_free(&w);
}

static void test_uniform_prior_changes_nothing(void)
{
    const double prior[M_] = {2.0, 2.0, 2.0};
    const dg_method methods[] = {DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD};
    batch bt;
    dg__kd_batch v;
    dg__kd_work w;
    float dz0[B_ * C_], dz1[B_ * C_];
    double loss0, loss1, a0[M_], a1[M_];

    make_batch(&bt, 21, 4.0);
    v = view(&bt, B_);
    CHECK(dg__kd_work_init(&w, B_, C_, M_, NULL) == 0);
    for (int k = 0; k < 3; k++) {
        dg_distill_opts o = opts_for(methods[k], DG_AEKD_MEAN, 0, 4.0);

        CHECK(dg__kd_step(&v, &o, &w, dz0, &loss0, a0, NULL) == 0);
        o.teacher_prior = prior;
        CHECK(dg__kd_step(&v, &o, &w, dz1, &loss1, a1, NULL) == 0);
        CHECK_NEAR(loss0, loss1, 1e-9);
        for (int m = 0; m < M_; m++)
            CHECK_NEAR(a0[m], a1[m], 1e-9);
        for (int i = 0; i < B_ * C_; i++)
            CHECK_NEAR(dz0[i], dz1[i], 1e-6);
    }
    dg__kd_work_free(&w);
}

int main(void)
{
    RUN(test_kd_loss_matches_hand_computed_value);
    RUN(test_dz_matches_finite_differences_for_every_method);
    RUN(test_ce_matches_hand_value_and_ignores_teachers);
    RUN(test_avg_loss_weights_are_one_over_m);
    RUN(test_aekd_with_cap_one_over_m_equals_avg_loss_exactly);
    RUN(test_aekd_weights_solve_the_qp_on_the_chosen_summaries);
    RUN(test_teacher_absent_from_the_whole_batch_gets_no_weight);
    RUN(test_aekd_gives_less_weight_to_a_teacher_pulling_against_the_rest);
    RUN(test_cached_qlogq_and_teams_give_the_same_step);
    RUN(test_extreme_temperatures_and_certain_teachers_give_no_nan);
    RUN(test_zero_gradient_teacher_under_normalisation_gives_no_nan);
    RUN(test_softening_keeps_zeros_and_matches_root_of_p);
    RUN(test_auto_format_tells_probabilities_from_logits);
    RUN(test_prob_format_rejects_negative_entries_and_bad_sums);
    RUN(test_files_load_and_mismatches_name_both_sources);
    RUN(test_prior_sets_the_weights_where_teachers_do_not_conflict);
    RUN(test_uniform_prior_changes_nothing);
    return check_summary();
}
