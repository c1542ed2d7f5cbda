/* The network layer: MLP layout and He initialisation, forward against a
 * naive reference, backward against finite differences, chunked inference,
 * SGD/Adam and the schedules against hand-computed values, the model file
 * (round trip, corruption, truncation, hostile headers) and a tiny training
 * run that must learn a separable problem.
 */
#include "check.h"
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------------
 * Helpers
 */

static void fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed)
{
    dg__rng r;

    dg__rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * dg__rng_uniform(&r));
}

/* He-initialised model whose biases are also set to small random values,
 * so that tests see the bias path too. */
static dg_model *model_with_biases(int64_t D, const int *hidden, int n_hidden, int C,
                                   uint64_t seed)
{
    dg_model *m = NULL;
    dg_error err;

    if (dg_mlp_create(D, hidden, n_hidden, C, seed, &m, &err) != 0)
        return NULL;
    for (int l = 0; l < m->n_layers; l++)
        fill_uniform(m->params + dg__mlp_bias_offset(m, l), m->sizes[l + 1], -0.5, 0.5,
                     seed + 100 + (uint64_t)l);
    return m;
}

/* logits (B, C) of m on X (B, D) computed with plain loops in double. */
static void naive_forward(const dg_model *m, const float *X, int64_t B, double *logits)
{
    double a[64], z[64];

    for (int64_t r = 0; r < B; r++) {
        int64_t width = m->sizes[0];

        for (int64_t i = 0; i < width; i++)
            a[i] = X[r * width + i];
        for (int l = 0; l < m->n_layers; l++) {
            const float *W = m->params + dg__mlp_weight_offset(m, l);
            const float *b = m->params + dg__mlp_bias_offset(m, l);
            int64_t in = m->sizes[l], out = m->sizes[l + 1];

            for (int64_t j = 0; j < out; j++) {
                z[j] = b[j];
                for (int64_t i = 0; i < in; i++)
                    z[j] += (double)W[j * in + i] * a[i];
                if (l < m->n_layers - 1 && z[j] < 0.0)
                    z[j] = 0.0;
            }
            memcpy(a, z, (size_t)out * sizeof *a);
        }
        memcpy(logits + r * m->sizes[m->n_layers], a,
               (size_t)m->sizes[m->n_layers] * sizeof *a);
    }
}

static unsigned char *read_all(const char *path, long *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)*len + 1);
    if (buf && fread(buf, 1, (size_t)*len, fp) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, long len)
{
    FILE *fp = fopen(path, "wb");

    if (!fp)
        return;
    fwrite(buf, 1, (size_t)len, fp);
    fclose(fp);
}

/* Loads path and returns the status; the message goes to msg. */
static int load_status(const char *path, char *msg)
{
    dg_model *m = NULL;
    dg_error err;
    int rc = dg_model_load(path, &m, &err);

    msg[0] = '\0';
    if (rc)
        strcpy(msg, err.msg);
    dg_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------------
 * Creation and layout
 */

static void test_layout_offsets_and_counts(void)
{
    int hidden[1] = {4};
    dg_model *m = NULL;
    dg_error err;

    CHECK(dg_mlp_create(3, hidden, 1, 2, 1, &m, &err) == 0);
    if (!m)
        return;
    /* layer 0: W (4 x 3) + b (4) = 16; layer 1: W (2 x 4) + b (2) = 10. */
    CHECK(dg_model_param_count(m) == 26);
    CHECK(dg_model_inputs(m) == 3);
    CHECK(dg_model_classes(m) == 2);
    CHECK(m->n_layers == 2);
    CHECK(dg__mlp_weight_offset(m, 0) == 0);
    CHECK(dg__mlp_bias_offset(m, 0) == 12);
    CHECK(dg__mlp_weight_offset(m, 1) == 16);
    CHECK(dg__mlp_bias_offset(m, 1) == 24);
    dg_model_free(m);
}

static void test_create_rejects_bad_sizes_naming_the_value(void)
{
    int good[2] = {4, 3}, bad[2] = {4, 0};
    int many[DG_MAX_LAYERS] = {0};
    dg_model *m = (dg_model *)&m;
    dg_error err;

    for (int i = 0; i < DG_MAX_LAYERS; i++)
        many[i] = 2;
    CHECK(dg_mlp_create(0, good, 2, 3, 1, &m, &err) == DG_EINVAL);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "D = 0") != NULL);
    CHECK(dg_mlp_create(5, bad, 2, 3, 1, &m, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "hidden layer 2 has size 0") != NULL);
    CHECK(dg_mlp_create(5, good, 2, 1, 1, &m, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "C = 1") != NULL);
    CHECK(dg_mlp_create(5, many, DG_MAX_LAYERS, 3, 1, &m, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "16 hidden layers") != NULL);
    CHECK(dg_mlp_create(5, many, DG_MAX_LAYERS - 1, 3, 1, &m, &err) == 0);
    CHECK(m && m->n_layers == DG_MAX_LAYERS);
    dg_model_free(m);
}

static void test_he_init_has_the_right_spread_and_is_seeded(void)
{
    int hidden[1] = {500};
    dg_model *a = NULL, *b = NULL, *c = NULL;
    double sum = 0.0, sq = 0.0, mean, std, expected = sqrt(2.0 / 2000.0);
    int64_t n = 500 * 2000, zero_bias = 0;
    dg_error err;

    CHECK(dg_mlp_create(2000, hidden, 1, 3, 11, &a, &err) == 0);
    CHECK(dg_mlp_create(2000, hidden, 1, 3, 11, &b, &err) == 0);
    CHECK(dg_mlp_create(2000, hidden, 1, 3, 12, &c, &err) == 0);
    if (!a || !b || !c)
        return;
    for (int64_t i = 0; i < n; i++) {
        sum += a->params[i];
        sq += (double)a->params[i] * a->params[i];
    }
    mean = sum / (double)n;
    std = sqrt(sq / (double)n - mean * mean);
    CHECK(fabs(std - expected) < 0.05 * expected);
    CHECK(fabs(mean) < 0.01 * expected);
    for (int l = 0; l < a->n_layers; l++)
        for (int64_t j = 0; j < a->sizes[l + 1]; j++)
            zero_bias += a->params[dg__mlp_bias_offset(a, l) + j] == 0.0f;
    CHECK(zero_bias == 503);
    CHECK(memcmp(a->params, b->params, (size_t)a->n_params * sizeof(float)) == 0);
    CHECK(memcmp(a->params, c->params, (size_t)a->n_params * sizeof(float)) != 0);
    dg_model_free(a);
    dg_model_free(b);
    dg_model_free(c);
}

/* ------------------------------------------------------------------------
 * Forward and backward
 */

static void test_forward_matches_naive_loops(void)
{
    int hidden[2] = {5, 6};
    dg_model *m = model_with_biases(7, hidden, 2, 4, 3);
    float X[9 * 7];
    double ref[9 * 4];
    const float *z, *h;
    int64_t H;
    dg__mlp_work w;
    dg_error err;

    if (!m) {
        CHECK(m != NULL);
        return;
    }
    fill_uniform(X, 9 * 7, -1.0, 1.0, 4);
    CHECK(dg__mlp_work_init(&w, m, 16, &err) == 0);
    z = dg__mlp_forward(m, X, 9, &w);
    naive_forward(m, X, 9, ref);
    for (int i = 0; i < 9 * 4; i++)
        CHECK_NEAR(z[i], ref[i], 1e-5 * (1.0 + fabs(ref[i])));

    /* The last hidden layer is the ReLU output feeding the logits. */
    h = dg__mlp_last_hidden(m, X, &w, &H);
    CHECK(H == 6);
    CHECK(h == w.acts[1]);
    for (int i = 0; i < 9 * 6; i++)
        CHECK(h[i] >= 0.0f);
    dg__mlp_work_free(&w);
    dg_model_free(m);
}

/* sum(wt .* logits) over the batch, in double. */
static double weighted_logit_sum(const dg_model *m, const float *X, int64_t B,
                                 const float *wt, dg__mlp_work *w)
{
    const float *z = dg__mlp_forward(m, X, B, w);
    double s = 0.0;

    for (int64_t i = 0; i < B * m->sizes[m->n_layers]; i++)
        s += (double)wt[i] * z[i];
    return s;
}

/* 1 when every hidden unit of the latest forward pass is on exactly where
 * it is in `mask` (B rows of every hidden layer, concatenated); with
 * `record` set, stores the current pattern instead. */
static int same_relu_pattern(const dg_model *m, int64_t B, const dg__mlp_work *w,
                             unsigned char *mask, int record)
{
    int64_t k = 0;
    int same = 1;

    for (int l = 0; l < m->n_layers - 1; l++)
        for (int64_t i = 0; i < B * m->sizes[l + 1]; i++, k++) {
            unsigned char on = w->acts[l][i] > 0.0f;

            if (record)
                mask[k] = on;
            same &= mask[k] == on;
        }
    return same;
}

/* Checks every entry of dg__mlp_backward's gradient against central
 * differences of sum(wt .* logits), whose logit gradient is wt. An entry
 * whose +-h step switches a ReLU on or off has no derivative to compare
 * and is skipped; few may be. */
static void check_gradient(const int *hidden, int n_hidden)
{
    enum { D = 5, C = 3, B = 4 };
    const double h = 1e-2;
    dg_model *m = model_with_biases(D, hidden, n_hidden, C, 21);
    float X[B * D], wt[B * C];
    unsigned char mask[B * 64];
    dg__mlp_work w;
    dg_error err;
    int64_t bad = 0, nonzero = 0, skipped = 0;

    if (!m) {
        CHECK(m != NULL);
        return;
    }
    fill_uniform(X, B * D, -1.0, 1.0, 22);
    fill_uniform(wt, B * C, -1.0, 1.0, 23);
    CHECK(dg__mlp_work_init(&w, m, B, &err) == 0);

    /* Stale values in grads (even NaN) must be overwritten, not accumulated. */
    for (int64_t i = 0; i < m->n_params; i++)
        m->grads[i] = NAN;
    dg__mlp_forward(m, X, B, &w);
    same_relu_pattern(m, B, &w, mask, 1);
    dg__mlp_backward(m, X, B, wt, &w);

    for (int64_t i = 0; i < m->n_params; i++) {
        float saved = m->params[i];
        double plus, minus, fd, g = m->grads[i];
        int smooth;

        m->params[i] = saved + (float)h;
        plus = weighted_logit_sum(m, X, B, wt, &w);
        smooth = same_relu_pattern(m, B, &w, mask, 0);
        m->params[i] = saved - (float)h;
        minus = weighted_logit_sum(m, X, B, wt, &w);
        smooth &= same_relu_pattern(m, B, &w, mask, 0);
        m->params[i] = saved;
        fd = (plus - minus) / (2.0 * h);
        nonzero += g != 0.0;
        if (!smooth) {
            skipped++;
            continue;
        }
        if (!(fabs(fd - g) <= 1e-2 * fmax(fmax(fabs(fd), fabs(g)), 0.1))) {
            if (++bad <= 5)
                fprintf(stderr, "  param %lld: backward %.6g, finite difference %.6g\n",
                        (long long)i, g, fd);
        }
    }
    CHECK(bad == 0);
    CHECK(skipped <= m->n_params / 10);
    CHECK(nonzero > m->n_params / 2);
    dg__mlp_work_free(&w);
    dg_model_free(m);
}

static void test_backward_matches_finite_differences_two_hidden(void)
{
    int hidden[2] = {4, 3};

    check_gradient(hidden, 2);
}

static void test_backward_matches_finite_differences_one_hidden(void)
{
    int hidden[1] = {6};

    check_gradient(hidden, 1);
}

static void test_backward_matches_finite_differences_softmax_regression(void)
{
    check_gradient(NULL, 0);
}

static void test_logits_in_chunks_match_one_big_batch(void)
{
    enum { N = 2500, D = 6, C = 3 };
    int hidden[1] = {8};
    dg_model *m = model_with_biases(D, hidden, 1, C, 5);
    float *X = malloc(sizeof(float) * N * D);
    float *logits = malloc(sizeof(float) * N * C);
    float *probs = malloc(sizeof(float) * N * C);
    const float *z;
    dg__mlp_work w;
    dg_error err;
    int64_t max_diff_rows = 0;

    if (!m || !X || !logits || !probs) {
        CHECK(0);
        goto out;
    }
    fill_uniform(X, N * D, -2.0, 2.0, 6);
    CHECK(dg_model_logits(m, X, N, logits, &err) == 0);
    CHECK(dg_model_predict_proba(m, X, N, probs, &err) == 0);
    CHECK(dg__mlp_work_init(&w, m, N, &err) == 0);
    z = dg__mlp_forward(m, X, N, &w);
    for (int64_t r = 0; r < N; r++) {
        double sum = 0.0, max = -INFINITY, denom = 0.0;

        for (int c = 0; c < C; c++) {
            max_diff_rows += fabsf(logits[r * C + c] - z[r * C + c]) > 1e-5f;
            sum += probs[r * C + c];
            max = fmax(max, logits[r * C + c]);
        }
        CHECK_NEAR(sum, 1.0, 1e-5);
        for (int c = 0; c < C; c++)
            denom += exp(logits[r * C + c] - max);
        CHECK_NEAR(probs[r * C], exp(logits[r * C] - max) / denom, 1e-6);
    }
    CHECK(max_diff_rows == 0);
    CHECK(dg_model_logits(m, X, 0, logits, &err) == 0);
    CHECK(dg_model_logits(m, X, -1, logits, &err) == DG_EINVAL);
    dg__mlp_work_free(&w);
out:
    dg_model_free(m);
    free(X);
    free(logits);
    free(probs);
}

/* ------------------------------------------------------------------------
 * Optimizers and schedules
 */

/* One forward and backward pass of m on X shared by a team of `parts`
 * threads, with an optimizer step fused in when opt is given; logits and
 * grads are copied out. */
static void team_pass(dg_model *m, const float *X, int64_t B, const float *dl, int parts,
                      dg__optim *opt, double lr, float *logits, float *grads)
{
    dg__mlp_work w;
    dg_error err;
    int64_t C = m->sizes[m->n_layers];

    CHECK(dg__mlp_work_init(&w, m, B, &err) == 0);
#pragma omp parallel num_threads(parts)
    {
        int part = omp_get_thread_num(), n = omp_get_num_threads();

        dg__mlp_forward_part(m, X, B, &w, part, n);
#pragma omp barrier
        dg__mlp_backward_part(m, X, B, dl, &w, part, n, opt, opt ? opt->t + 1 : 0, lr);
    }
    if (opt)
        opt->t++;
    memcpy(logits, w.acts[m->n_layers - 1], sizeof(float) * (size_t)(B * C));
    memcpy(grads, m->grads, sizeof(float) * (size_t)m->n_params);
    dg__mlp_work_free(&w);
}

/* The passes shared by 2 and 3 threads (slices of 37 and 19 units that do
 * not divide evenly, a batch of 13) against one thread: the same logits
 * and gradients up to sgemm's summation order, the same bits when run
 * again; and the optimizer step fused into the backward pass, at a large
 * rate so that a weight stepped before its last read would show, equal to
 * a separate step from the same gradients. */
static void test_team_passes_match_one_thread(void)
{
    enum { D = 23, C = 5, B = 13 };
    static const int hidden[2] = {37, 19};
    dg_model *m = model_with_biases(D, hidden, 2, C, 41), *ref = NULL;
    float X[B * D], dl[B * C], z1[B * C], z2[B * C];
    float *g1, *g2, *p0;
    dg_error err;

    if (!m) {
        CHECK(m != NULL);
        return;
    }
    g1 = malloc(sizeof(float) * (size_t)m->n_params);
    g2 = malloc(sizeof(float) * (size_t)m->n_params);
    p0 = malloc(sizeof(float) * (size_t)m->n_params);
    memcpy(p0, m->params, sizeof(float) * (size_t)m->n_params);
    fill_uniform(X, B * D, -1.0, 1.0, 42);
    fill_uniform(dl, B * C, -1.0, 1.0, 43);
    openblas_set_num_threads(1);

    team_pass(m, X, B, dl, 1, NULL, 0.0, z1, g1);
    for (int parts = 2; parts <= 3; parts++) {
        int far = 0, differ = 0;

        team_pass(m, X, B, dl, parts, NULL, 0.0, z2, g2);
        for (int i = 0; i < B * C; i++)
            far += fabsf(z1[i] - z2[i]) > 1e-5f * (1.0f + fabsf(z1[i]));
        for (int64_t i = 0; i < m->n_params; i++)
            far += fabsf(g1[i] - g2[i]) > 1e-5f * (1.0f + fabsf(g1[i]));
        CHECK(far == 0);
        team_pass(m, X, B, dl, parts, NULL, 0.0, z1, g1);
        differ = memcmp(z1, z2, sizeof z1) != 0 ||
                 memcmp(g1, g2, sizeof(float) * (size_t)m->n_params) != 0;
        CHECK(!differ);
    }

    /* fused steps (two, so the velocity is not zero) against separate ones */
    for (int kind = 0; kind < 2; kind++) {
        dg__optim fused, apart;
        dg_optimizer opt_kind = kind == 0 ? DG_SGD : DG_ADAM;

        CHECK(dg_mlp_create(D, hidden, 2, C, 41, &ref, &err) == 0);
        memcpy(m->params, p0, sizeof(float) * (size_t)m->n_params);
        memcpy(ref->params, p0, sizeof(float) * (size_t)m->n_params);
        CHECK(dg__optim_init(&fused, opt_kind, m->n_params, 0.9, 0.01, &err) == 0);
        CHECK(dg__optim_init(&apart, opt_kind, m->n_params, 0.9, 0.01, &err) == 0);
        for (int step = 0; step < 2; step++) {
            /* the fused step leaves its gradients in m->grads: they were
             * computed from the weights before the step, as the separate
             * step's are */
            team_pass(ref, X, B, dl, 2, NULL, 0.0, z1, g1);
            dg__optim_step(&apart, ref->params, g1, 0.5);
            team_pass(m, X, B, dl, 2, &fused, 0.5, z2, g2);
            CHECK(memcmp(g1, g2, sizeof(float) * (size_t)m->n_params) == 0);
            CHECK(memcmp(m->params, ref->params, sizeof(float) * (size_t)m->n_params) == 0);
        }
        CHECK(fused.t == 2);
        dg__optim_free(&fused);
        dg__optim_free(&apart);
        dg_model_free(ref);
        ref = NULL;
    }
    free(g1);
    free(g2);
    free(p0);
    dg_model_free(m);
}

static void test_sgd_momentum_steps_match_hand_values(void)
{
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 1.0f};
    dg__optim o;
    dg_error err;

    /* v1 = g; v2 = 0.9 v1 + g; v3 = 0.9 v2 + g; p -= 0.1 v each step. */
    CHECK(dg__optim_init(&o, DG_SGD, 2, 0.9, 0.0, &err) == 0);
    dg__optim_step(&o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.95, 1e-6);
    CHECK_NEAR(p[1], -2.1, 1e-6);
    dg__optim_step(&o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.855, 1e-6);
    CHECK_NEAR(p[1], -2.29, 1e-6);
    dg__optim_step(&o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.7195, 1e-6);
    CHECK_NEAR(p[1], -2.561, 1e-6);
    CHECK(o.t == 3);
    dg__optim_free(&o);
}

static void test_sgd_weight_decay_pulls_toward_zero(void)
{
    float p[1] = {1.0f}, g[1] = {0.0f};
    dg__optim o;
    dg_error err;

    /* Zero gradient, wd 0.1, lr 0.1, momentum 0.9:
     * v1 = 0.1 -> p = 0.99; v2 = 0.09 + 0.099 = 0.189 -> p = 0.9711. */
    CHECK(dg__optim_init(&o, DG_SGD, 1, 0.9, 0.1, &err) == 0);
    dg__optim_step(&o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.99, 1e-6);
    dg__optim_step(&o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.9711, 1e-6);
    dg__optim_free(&o);
}

static void test_adam_steps_match_hand_values(void)
{
    float p[2] = {1.0f, -0.5f};
    float g[3][2] = {{0.5f, -1.0f}, {-1.0f, 0.25f}, {0.2f, 0.3f}};
    /* Worked by hand with g' = g + 0.1 p, bias-corrected moments, lr 0.1.
     * Step 1 always moves by lr; step 2 for p[0]: m = -0.037, mhat =
     * -0.19474, v = 0.00118774, vhat = 0.59417 -> p = 0.9 + 0.025264. */
    double want[3][2] = {{0.9, -0.4}, {0.925263519, -0.348897394},
                         {0.927555874, -0.325921439}};
    dg__optim o;
    dg_error err;

    CHECK(dg__optim_init(&o, DG_ADAM, 2, 0.0, 0.1, &err) == 0);
    CHECK(o.m2 != NULL);
    for (int t = 0; t < 3; t++) {
        dg__optim_step(&o, p, g[t], 0.1);
        CHECK_NEAR(p[0], want[t][0], 2e-6);
        CHECK_NEAR(p[1], want[t][1], 2e-6);
    }
    dg__optim_free(&o);
}

static void test_optimizer_rejects_bad_options(void)
{
    dg__optim o;
    dg_error err;

    CHECK(dg__optim_init(&o, DG_SGD, 4, 1.0, 0.0, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "momentum 1") != NULL);
    CHECK(dg__optim_init(&o, DG_SGD, 4, 0.5, -1.0, &err) == DG_EINVAL);
    CHECK(dg__optim_init(&o, (dg_optimizer)7, 4, 0.5, 0.0, &err) == DG_EINVAL);
}

static void test_schedules_match_hand_values(void)
{
    dg_distill_opts o;

    memset(&o, 0, sizeof o);
    o.lr = 0.1;
    o.epochs = 10;
    o.step_every = 3;
    o.step_gamma = 0.5;

    o.schedule = DG_LR_CONSTANT;
    CHECK_NEAR(dg__lr_at(&o, 0), 0.1, 1e-15);
    CHECK_NEAR(dg__lr_at(&o, 9), 0.1, 1e-15);

    o.schedule = DG_LR_STEP;
    CHECK_NEAR(dg__lr_at(&o, 0), 0.1, 1e-15);
    CHECK_NEAR(dg__lr_at(&o, 2), 0.1, 1e-15);
    CHECK_NEAR(dg__lr_at(&o, 3), 0.05, 1e-15);
    CHECK_NEAR(dg__lr_at(&o, 7), 0.025, 1e-15);

    /* lr/2 (1 + cos(pi e / 10)): e = 2 -> 0.05 (1 + 0.809017) */
    o.schedule = DG_LR_COSINE;
    CHECK_NEAR(dg__lr_at(&o, 0), 0.1, 1e-15);
    CHECK_NEAR(dg__lr_at(&o, 2), 0.0904508497, 1e-9);
    CHECK_NEAR(dg__lr_at(&o, 5), 0.05, 1e-12);
    CHECK_NEAR(dg__lr_at(&o, 9), 0.0024471742, 1e-9);
    CHECK_NEAR(dg__lr_at(&o, 10), 0.0, 1e-15);
}

/* ------------------------------------------------------------------------
 * Model file
 */

static char tmpdir[64];
static char model_path[128];

static dg_model *saved_model(void)
{
    int hidden[2] = {4, 3};
    dg_model *m = model_with_biases(5, hidden, 2, 3, 31);
    dg_error err;

    if (m && dg_model_save(m, model_path, &err) != 0) {
        dg_model_free(m);
        return NULL;
    }
    return m;
}

static void test_model_file_round_trip_is_bit_identical(void)
{
    dg_model *m = saved_model(), *back = NULL;
    unsigned char *buf;
    long len = 0;
    dg_error err;

    if (!m) {
        CHECK(m != NULL);
        return;
    }
    CHECK(dg_model_load(model_path, &back, &err) == 0);
    if (back) {
        CHECK(back->n_layers == 3);
        CHECK(memcmp(back->sizes, m->sizes, 4 * sizeof(int64_t)) == 0);
        CHECK(back->n_params == m->n_params);
        CHECK(memcmp(back->params, m->params, (size_t)m->n_params * sizeof(float)) == 0);
    }

    /* Byte layout: magic, version 1, n_layers 3, sizes 5 4 3 3, n_params,
     * then the floats and a CRC-32 of all before it, little-endian. */
    buf = read_all(model_path, &len);
    CHECK(buf != NULL);
    if (buf) {
        long hlen = 8 + 4 + 4 + 8 * 4 + 8;
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
        uint32_t first;

        CHECK(len == hlen + 4 * m->n_params + 4);
        CHECK(memcmp(buf, "DGMODEL\0", 8) == 0);
        CHECK(buf[8] == 1 && buf[9] == 0 && buf[12] == 3 && buf[16] == 5 && buf[24] == 4);
        CHECK(buf[hlen - 8] == m->n_params && buf[hlen - 7] == 0);
        memcpy(&first, &m->params[0], 4);
        CHECK(buf[hlen] == (first & 0xff) && buf[hlen + 3] == first >> 24);
        CHECK(buf[len - 4] == (crc & 0xff) && buf[len - 1] == crc >> 24);
    }
    free(buf);
    dg_model_free(back);
    dg_model_free(m);
}

static void test_model_file_any_flipped_byte_is_an_error(void)
{
    dg_model *m = saved_model();
    unsigned char *buf;
    char msg[DG_ERROR_MSG];
    long len = 0, hlen = 8 + 4 + 4 + 8 * 4 + 8;
    int silent = 0, not_checksum = 0;

    buf = read_all(model_path, &len);
    if (!m || !buf) {
        CHECK(0);
        goto out;
    }
    for (long i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        write_all(model_path, buf, len);
        buf[i] ^= 0x10;
        if (load_status(model_path, msg) != DG_EFORMAT)
            silent++;
        else if (i >= hlen && (!strstr(msg, "checksum mismatch: file is corrupted") ||
                               !strstr(msg, model_path)))
            not_checksum++;
    }
    CHECK(silent == 0);
    CHECK(not_checksum == 0);
out:
    free(buf);
    dg_model_free(m);
}

static void test_model_file_truncation_and_trailing_bytes_are_errors(void)
{
    dg_model *m = saved_model();
    unsigned char *buf;
    char msg[DG_ERROR_MSG], want[64];
    long len = 0, hlen = 8 + 4 + 4 + 8 * 4 + 8;
    long cuts[] = {0, 3, 8, 15, 20, hlen - 1, hlen, hlen + 5, 0};

    buf = read_all(model_path, &len);
    if (!m || !buf) {
        CHECK(0);
        goto out;
    }
    cuts[8] = len - 1;
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        write_all(model_path, buf, cuts[k]);
        CHECK(load_status(model_path, msg) == DG_EFORMAT);
        snprintf(want, sizeof want, "truncated at byte %ld", cuts[k]);
        CHECK(strstr(msg, want) != NULL);
    }
    /* Past the header the message also gives the full expected length. */
    snprintf(want, sizeof want, "expected %ld bytes", len);
    CHECK(strstr(msg, want) != NULL);

    buf[len] = 0;
    write_all(model_path, buf, len + 1);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "unexpected data") != NULL);
out:
    free(buf);
    dg_model_free(m);
}

/* Writes a header with the given fields and `extra` zero bytes after it. */
static void write_header(const char *magic, uint32_t version, uint32_t n_layers,
                         const uint64_t *sizes, uint64_t n_params, long extra)
{
    unsigned char buf[512] = {0};
    long off = 16;

    memcpy(buf, magic, 8);
    for (int i = 0; i < 4; i++) {
        buf[8 + i] = (unsigned char)(version >> (8 * i));
        buf[12 + i] = (unsigned char)(n_layers >> (8 * i));
    }
    for (uint32_t l = 0; l <= n_layers && l <= 20; l++, off += 8)
        for (int i = 0; i < 8; i++)
            buf[off + i] = (unsigned char)(sizes[l] >> (8 * i));
    for (int i = 0; i < 8; i++)
        buf[off + i] = (unsigned char)(n_params >> (8 * i));
    write_all(model_path, buf, off + 8 + extra);
}

static void test_model_file_hostile_headers_are_refused(void)
{
    uint64_t sizes[DG_MAX_LAYERS + 2] = {0};
    uint64_t big = ((uint64_t)1 << 31) - 1;
    char msg[DG_ERROR_MSG];

    sizes[0] = 5, sizes[1] = 3;
    write_header("DGMODEX\0", 1, 1, sizes, 18, 76);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "magic") != NULL);

    write_header("DGMODEL\0", 2, 1, sizes, 18, 76);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "byte 8: version 2, expected 1") != NULL);

    write_header("DGMODEL\0", 1, 0, sizes, 18, 76);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "n_layers 0") != NULL);

    write_header("DGMODEL\0", 1, 17, sizes, 18, 76);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "n_layers 17") != NULL);

    /* A valid header for 5 -> 3 whose body is right in length: loads only
     * when the count is right (18 = 15 + 3) and the checksum matches. */
    write_header("DGMODEL\0", 1, 1, sizes, 17, 4 * 17 + 4);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "byte 32: n_params 17, expected 18") != NULL);
    write_header("DGMODEL\0", 1, 1, sizes, 18, 4 * 18 + 4);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "checksum mismatch") != NULL);

    /* Sizes out of range, or one class only. */
    sizes[1] = (uint64_t)1 << 40;
    write_header("DGMODEL\0", 1, 1, sizes, 18, 76);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "byte 24: size 1 is 1099511627776") != NULL);
    sizes[1] = 1;
    write_header("DGMODEL\0", 1, 1, sizes, 6, 28);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "class count 1") != NULL);

    /* Huge but consistent sizes: 2^51 parameters (8 PiB) claimed by a tiny
     * file; refused by length before anything is allocated. */
    sizes[0] = big, sizes[1] = (uint64_t)1 << 20;
    write_header("DGMODEL\0", 1, 1, sizes, (big + 1) << 20, 100);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "truncated at byte 140") != NULL);

    /* Sixteen such layers overflow any byte count. */
    for (int l = 0; l <= DG_MAX_LAYERS; l++)
        sizes[l] = big;
    write_header("DGMODEL\0", 1, DG_MAX_LAYERS, sizes, 1, 0);
    CHECK(load_status(model_path, msg) == DG_EFORMAT);
    CHECK(strstr(msg, "more parameters than a file can hold") != NULL);
}

static void test_model_save_into_missing_folder_leaves_nothing(void)
{
    char path[192], sub[160];
    dg_model *m = saved_model(), *back = NULL;
    dg_error err;

    if (!m) {
        CHECK(0);
        return;
    }
    snprintf(sub, sizeof sub, "%s/missing", tmpdir);
    snprintf(path, sizeof path, "%s/model.dgm", sub);
    CHECK(dg_model_save(m, path, &err) == DG_EIO);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(access(sub, F_OK) != 0);
    CHECK(dg_model_load(path, &back, &err) == DG_EIO);
    CHECK(back == NULL);
    dg_model_free(m);
}

/* ------------------------------------------------------------------------
 * Training sanity
 */

/* Trains on three well separated clusters in 2-D with CE and SGD; returns
 * the training accuracy after `steps` batches of 30. */
static double train_clusters(const int *hidden, int n_hidden, int steps)
{
    enum { N = 300, D = 2, C = 3, B = 30 };
    const float centers[C][D] = {{4.0f, 0.0f}, {-2.0f, 3.5f}, {-2.0f, -3.5f}};
    float X[N * D], probs[N * C], dz[B * C];
    int32_t y[N];
    dg_model *m = NULL;
    dg__mlp_work w;
    dg__optim o;
    dg__rng r;
    dg_error err;
    int correct = 0;

    dg__rng_seed(&r, 41);
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int d = 0; d < D; d++)
            X[i * D + d] = centers[y[i]][d] + (float)(2.0 * dg__rng_uniform(&r) - 1.0);
    }
    if (dg_mlp_create(D, hidden, n_hidden, C, 42, &m, &err) != 0 ||
        dg__mlp_work_init(&w, m, B, &err) != 0 ||
        dg__optim_init(&o, DG_SGD, m->n_params, 0.9, 1e-4, &err) != 0)
        return 0.0;

    for (int s = 0; s < steps; s++) {
        int first = (s * B) % N;
        const float *z = dg__mlp_forward(m, X + first * D, B, &w);

        /* dCE/dz = (softmax(z) - onehot(y)) / B */
        dg__softmax_rows(z, B, C, 1.0, dz);
        for (int b = 0; b < B; b++) {
            dz[b * C + y[first + b]] -= 1.0f;
            for (int c = 0; c < C; c++)
                dz[b * C + c] /= B;
        }
        dg__mlp_backward(m, X + first * D, B, dz, &w);
        dg__optim_step(&o, m->params, m->grads, 0.05);
    }

    if (dg_model_predict_proba(m, X, N, probs, &err) == 0)
        for (int i = 0; i < N; i++)
            correct += dg__argmax(probs + i * C, C) == y[i];
    dg__optim_free(&o);
    dg__mlp_work_free(&w);
    dg_model_free(m);
    return (double)correct / N;
}

static void test_softmax_regression_learns_separable_clusters(void)
{
    double acc = train_clusters(NULL, 0, 300);

    CHECK(acc > 0.95);
}

static void test_mlp_learns_separable_clusters(void)
{
    int hidden[2] = {16, 8};
    double acc = train_clusters(hidden, 2, 300);

    CHECK(acc > 0.95);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dg_test_nn_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(model_path, sizeof model_path, "%s/model.dgm", tmpdir);

    RUN(test_layout_offsets_and_counts);
    RUN(test_create_rejects_bad_sizes_naming_the_value);
    RUN(test_he_init_has_the_right_spread_and_is_seeded);
    RUN(test_forward_matches_naive_loops);
    RUN(test_backward_matches_finite_differences_two_hidden);
    RUN(test_backward_matches_finite_differences_one_hidden);
    RUN(test_backward_matches_finite_differences_softmax_regression);
    RUN(test_logits_in_chunks_match_one_big_batch);
    RUN(test_team_passes_match_one_thread);
    RUN(test_sgd_momentum_steps_match_hand_values);
    RUN(test_sgd_weight_decay_pulls_toward_zero);
    RUN(test_adam_steps_match_hand_values);
    RUN(test_optimizer_rejects_bad_options);
    RUN(test_schedules_match_hand_values);
    RUN(test_model_file_round_trip_is_bit_identical);
    RUN(test_model_file_any_flipped_byte_is_an_error);
    RUN(test_model_file_truncation_and_trailing_bytes_are_errors);
    RUN(test_model_file_hostile_headers_are_refused);
    RUN(test_model_save_into_missing_folder_leaves_nothing);
    RUN(test_softmax_regression_learns_separable_clusters);
    RUN(test_mlp_learns_separable_clusters);

    unlink(model_path);
    rmdir(tmpdir);
    return check_summary();
}
