/* Text students: sparse softmax regression and a fastText-style embedding
 * bag over hashed n-gram rows (dg_csr), their forward and sparse backward
 * passes, and the training loop that feeds their logits to dg__kd_step
 * (every distillation method) and applies lazy SGD or Adam updates to the
 * touched table rows only, so an epoch costs O(nnz * R), not O(V * R).
 *
 * Legend: N rows, V = 2^bits buckets, R sparse-row width (C or E),
 * E embedding dim, C classes, M teachers, B batch.
 */
#include "distill/distill.h"
#include "nn/nn.h"
#include "text/student.h"
#include "text/text.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rows predicted per chunk (bounds the bag's scratch during prediction). */
#define PREDICT_CHUNK 1024
/* Adam's fixed constants, as in src/nn/optim.c. */
#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8

/* ------------------------------------------------------------------------
 * The model
 */

int64_t dg__text_row_width(const dg_text_model *m)
{
    return m->kind == DG_TEXT_BAG ? m->E : m->C;
}

static char *dup_str(const char *s, dg_error *err)
{
    size_t n = strlen(s) + 1;
    char *p = dg__alloc(n, 1, 0, err);

    if (p)
        memcpy(p, s, n);
    return p;
}

void dg_text_model_free(dg_text_model *m)
{
    if (!m)
        return;
    if (m->names)
        for (int c = 0; c < m->C; c++)
            free(m->names[c]);
    free(m->names);
    free(m->params);
    dg_featurizer_free(m->feat);
    free(m);
}

int dg_text_model_create(dg_text_student kind, const dg_featurizer_opts *fopts,
                         const dg_featurizer *f, int C, const char *const *names, int dim,
                         uint64_t seed, dg_text_model **out, dg_error *err)
{
    dg_text_model *m;
    int64_t V, R, table;
    int rc;

    *out = NULL;
    if (!fopts || !f || !names)
        return dg__fail(err, DG_EINVAL, "text model: featurizer options, featurizer and "
                        "class names required");
    if (kind != DG_TEXT_LINEAR && kind != DG_TEXT_BAG)
        return dg__fail(err, DG_EINVAL, "text model: unknown student kind %d", (int)kind);
    if (C < 2 || C > DG_TEXT_MAX_CLASSES)
        return dg__fail(err, DG_EINVAL, "text model: expected 2..%d classes, found %d",
                        DG_TEXT_MAX_CLASSES, C);
    if (kind == DG_TEXT_BAG && (dim < 1 || dim > DG_TEXT_DIM_MAX))
        return dg__fail(err, DG_EINVAL, "text model: expected embedding dim in [1, %d], "
                        "found %d", DG_TEXT_DIM_MAX, dim);
    V = dg_featurizer_columns(f);
    if (V != (int64_t)1 << fopts->bits)
        return dg__fail(err, DG_EMISMATCH, "text model: featurizer has %lld columns but its "
                        "options say 2^%d", (long long)V, fopts->bits);
    if (!(m = dg__alloc(1, sizeof *m, 1, err)))
        return DG_ENOMEM;
    m->kind = kind;
    m->C = C;
    m->E = kind == DG_TEXT_BAG ? dim : 0;
    m->V = V;
    m->fopts = *fopts;
    R = dg__text_row_width(m);
    table = V * R;
    m->n_params = table + (kind == DG_TEXT_BAG ? (int64_t)C * m->E : 0) + C;
    if ((rc = dg_featurizer_from_idf(fopts, dg_featurizer_idf(f), V, &m->feat, err)) != 0) {
        dg_text_model_free(m);
        return rc;
    }
    m->params = dg__alloc((size_t)m->n_params, sizeof(float), 1, err);
    m->names = dg__alloc((size_t)C, sizeof(char *), 1, err);
    if (!m->params || !m->names) {
        dg_text_model_free(m);
        return DG_ENOMEM;
    }
    for (int c = 0; c < C; c++)
        if (!(m->names[c] = dup_str(names[c], err))) {
            dg_text_model_free(m);
            return DG_ENOMEM;
        }
    if (kind == DG_TEXT_BAG) {
        dg__rng rng;

        /* fastText's start: small random embeddings, a zero output layer */
        dg__rng_seed(&rng, seed);
        for (int64_t i = 0; i < table; i++)
            m->params[i] = (float)((2.0 * dg__rng_uniform(&rng) - 1.0) / m->E);
    }
    *out = m;
    return 0;
}

dg_text_student dg_text_model_kind(const dg_text_model *m) { return m->kind; }
int dg_text_model_classes(const dg_text_model *m) { return m->C; }
const char *const *dg_text_model_class_names(const dg_text_model *m)
{
    return (const char *const *)m->names;
}
int64_t dg_text_model_param_count(const dg_text_model *m) { return m->n_params; }
const dg_featurizer *dg_text_model_featurizer(const dg_text_model *m) { return m->feat; }

/* ------------------------------------------------------------------------
 * Forward and backward
 */

/* Row r of X through the model: h_r (E, bag only) and z_r (C). */
static void row_forward(const dg_text_model *m, const dg_csr *X, int64_t r, float *h_r,
                        float *z_r)
{
    int C = m->C, E = m->E;
    const float *table = m->params, *bias = m->params + (m->n_params - C);

    memcpy(z_r, bias, sizeof(float) * (size_t)C);
    if (m->kind == DG_TEXT_LINEAR) {
        for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++) {
            const float *w_j = table + (int64_t)X->col[k] * C;
            float v = X->val[k];

            for (int c = 0; c < C; c++)
                z_r[c] += v * w_j[c];
        }
        return;
    }

    /* bag: pass 1, the weighted mean of the bucket embeddings */
    double norm = 0.0;
    const float *W = table + m->V * E;

    memset(h_r, 0, sizeof(float) * (size_t)E);
    for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++) {
        const float *e_j = table + (int64_t)X->col[k] * E;
        float v = X->val[k];

        norm += fabs(v);
        for (int e = 0; e < E; e++)
            h_r[e] += v * e_j[e];
    }
    if (norm > 0.0)
        for (int e = 0; e < E; e++)
            h_r[e] = (float)(h_r[e] / norm);

    /* pass 2: the output layer, z = W h + b */
    for (int c = 0; c < C; c++) {
        const float *w_c = W + (int64_t)c * E;
        float acc = 0.0f;

        for (int e = 0; e < E; e++)
            acc += w_c[e] * h_r[e];
        z_r[c] += acc;
    }
}

void dg__text_forward(const dg_text_model *m, const dg_csr *X, const int64_t *rows, int64_t B,
                      float *h, float *z)
{
    /* serial: a minibatch is O(B * nnz * E) flops, less than the cost of
     * waking a thread team once per batch on a busy machine */
    for (int64_t b = 0; b < B; b++)
        row_forward(m, X, rows[b], h ? h + b * m->E : NULL, z + b * m->C);
}

int dg__text_grad_init(dg__text_grad *g, const dg_text_model *m, int64_t cap, dg_error *err)
{
    int64_t R = dg__text_row_width(m);

    memset(g, 0, sizeof *g);
    cap = cap < m->V ? cap : m->V;
    cap = cap > 1 ? cap : 1;
    g->cap = cap;
    g->slot = dg__alloc((size_t)m->V, sizeof(int32_t), 0, err);
    g->touched = dg__alloc((size_t)cap, sizeof(int32_t), 0, err);
    g->rows = dg__alloc((size_t)cap * (size_t)R, sizeof(float), 0, err);
    g->dense = dg__alloc((size_t)(m->n_params - m->V * R), sizeof(float), 1, err);
    if (!g->slot || !g->touched || !g->rows || !g->dense) {
        dg__text_grad_free(g);
        return DG_ENOMEM;
    }
    for (int64_t v = 0; v < m->V; v++)
        g->slot[v] = -1;
    return 0;
}

void dg__text_grad_free(dg__text_grad *g)
{
    free(g->slot);
    free(g->touched);
    free(g->rows);
    free(g->dense);
    memset(g, 0, sizeof *g);
}

/* Clears what the previous batch touched: O(touched * R), never O(V). */
static void grad_reset(dg__text_grad *g, const dg_text_model *m)
{
    for (int64_t i = 0; i < g->n_touched; i++)
        g->slot[g->touched[i]] = -1;
    g->n_touched = 0;
    memset(g->dense, 0, sizeof(float) * (size_t)(m->n_params - m->V * dg__text_row_width(m)));
}

/* The gradient row (R) of bucket j, zeroed on first touch. */
static float *grad_row(dg__text_grad *g, int32_t j, int64_t R)
{
    if (g->slot[j] < 0) {
        g->slot[j] = (int32_t)g->n_touched;
        g->touched[g->n_touched++] = j;
        memset(g->rows + (int64_t)g->slot[j] * R, 0, sizeof(float) * (size_t)R);
    }
    return g->rows + (int64_t)g->slot[j] * R;
}

void dg__text_backward(const dg_text_model *m, const dg_csr *X, const int64_t *rows, int64_t B,
                       const float *h, const float *dz, dg__text_grad *g)
{
    int C = m->C, E = m->E;
    int64_t R = dg__text_row_width(m);
    float *dW = g->dense, *db = g->dense + (m->kind == DG_TEXT_BAG ? (int64_t)C * E : 0);
    const float *W = m->params + m->V * E;
    float dh[DG_TEXT_DIM_MAX];

    grad_reset(g, m);
    /* serial over rows, in batch order: the sums into shared table rows are
     * then the same whatever the thread count */
    for (int64_t b = 0; b < B; b++) {
        const float *dz_b = dz + b * C;
        int64_t r = rows[b];
        double norm = 0.0;

        for (int c = 0; c < C; c++)
            db[c] += dz_b[c];
        if (m->kind == DG_TEXT_LINEAR) {
            for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++) {
                float *g_j = grad_row(g, X->col[k], R), v = X->val[k];

                for (int c = 0; c < C; c++)
                    g_j[c] += v * dz_b[c];
            }
            continue;
        }

        /* bag: pass 1, dW += dz_b h_b' and dh = W' dz_b */
        const float *h_b = h + b * E;

        memset(dh, 0, sizeof(float) * (size_t)E);
        for (int c = 0; c < C; c++)
            for (int e = 0; e < E; e++) {
                dW[(int64_t)c * E + e] += dz_b[c] * h_b[e];
                dh[e] += dz_b[c] * W[(int64_t)c * E + e];
            }

        /* pass 2: each bucket's embedding gets x_j / norm of dh */
        for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++)
            norm += fabs(X->val[k]);
        if (!(norm > 0.0))
            continue;
        for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++) {
            float *g_j = grad_row(g, X->col[k], R);
            float share = (float)(X->val[k] / norm);

            for (int e = 0; e < E; e++)
                g_j[e] += share * dh[e];
        }
    }
}

/* ------------------------------------------------------------------------
 * Sparse optimizer: the update rules of dg__optim (src/nn/nn.h) applied
 * only to the rows a batch touched, plus the dense tail every step.
 * Limit: updates are lazy: momentum, Adam moments and weight decay of a
 * row advance only on steps that touch it, as in fastText and lazy Adam;
 * results differ from dense Adam on the same data.
 */

typedef struct sparse_optim {
    dg_optimizer kind;
    double momentum, weight_decay, lr, bc1, bc2; /* bc: Adam bias corrections */
    int64_t t;
    float *m1, *m2; /* (n_params) each; m2 only for Adam */
} sparse_optim;

/* One update of n parameters p with gradient g and their moments, in
 * float: this loop runs over every touched row of every batch. */
static void optim_block(const sparse_optim *o, float *p, const float *g, float *m1, float *m2,
                        int64_t n)
{
    float wd = (float)o->weight_decay, lr = (float)o->lr, mom = (float)o->momentum;
    float b1 = (float)ADAM_BETA1, b2 = (float)ADAM_BETA2, eps = (float)ADAM_EPS;
    float step = (float)(o->lr / o->bc1), inv_bc2 = (float)(1.0 / o->bc2);

    if (o->kind == DG_SGD) {
        for (int64_t i = 0; i < n; i++) {
            m1[i] = mom * m1[i] + g[i] + wd * p[i];
            p[i] -= lr * m1[i];
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];

        m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
        m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m1[i] / (sqrtf(m2[i] * inv_bc2) + eps);
    }
}

static void optim_step(sparse_optim *o, dg_text_model *m, const dg__text_grad *g, double lr)
{
    int64_t R = dg__text_row_width(m), table = m->V * R;

    o->t++;
    o->lr = lr;
    o->bc1 = 1.0 - pow(ADAM_BETA1, (double)o->t);
    o->bc2 = 1.0 - pow(ADAM_BETA2, (double)o->t);
    for (int64_t i = 0; i < g->n_touched; i++) {
        int64_t off = (int64_t)g->touched[i] * R;

        optim_block(o, m->params + off, g->rows + i * R, o->m1 + off, o->m2 ? o->m2 + off : NULL,
                    R);
    }
    optim_block(o, m->params + table, g->dense, o->m1 + table, o->m2 ? o->m2 + table : NULL,
                m->n_params - table);
}

/* ------------------------------------------------------------------------
 * Training
 */

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_train(const dg_text_model *m, const dg_csr *X, const int32_t *labels,
                       const dg_teachers *t, const dg_distill_opts *o, const dg_csr *test_X,
                       dg_error *err)
{
    int M = t ? t->M : 0;

    if (X->cols != m->V)
        return dg__fail(err, DG_EMISMATCH, "text training: features have %lld columns, the "
                        "model expects %lld (2^bits)", (long long)X->cols, (long long)m->V);
    if (test_X && test_X->cols != m->V)
        return dg__fail(err, DG_EMISMATCH, "text training: test features have %lld columns, "
                        "the model expects %lld", (long long)test_X->cols, (long long)m->V);
    if (X->rows < 1)
        return dg__fail(err, DG_EINVAL, "text training: no training rows");
    if (!(o->temperature > 0.0) || !isfinite(o->temperature) || !(o->alpha >= 0.0) ||
        !(o->gamma >= 0.0) || !isfinite(o->alpha) || !isfinite(o->gamma))
        return dg__fail(err, DG_EINVAL, "text training: expected temperature > 0 and alpha, "
                        "gamma >= 0, found %g, %g, %g", o->temperature, o->alpha, o->gamma);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0.0) || !isfinite(o->lr))
        return dg__fail(err, DG_EINVAL, "text training: expected epochs >= 1, batch >= 1 and "
                        "lr > 0, found %d, %d, %g", o->epochs, o->batch, o->lr);
    if (o->momentum < 0.0 || o->momentum >= 1.0 || !(o->weight_decay >= 0.0))
        return dg__fail(err, DG_EINVAL, "text training: expected momentum in [0, 1) and "
                        "weight decay >= 0, found %g and %g", o->momentum, o->weight_decay);
    if (o->schedule == DG_LR_STEP && (o->step_every < 1 || !(o->step_gamma > 0.0)))
        return dg__fail(err, DG_EINVAL, "text training: step schedule needs step_every >= 1 "
                        "and step_gamma > 0");
    if (o->checkpoint || o->resume || o->weights_log)
        return dg__fail(err, DG_EINVAL, "text training: checkpoints and weight logs are not "
                        "available for text students");
    if (o->method != DG_CE && !t)
        return dg__fail(err, DG_EINVAL, "text training: the method needs teachers; only "
                        "'ce' trains without");
    if (o->method == DG_CE && !labels)
        return dg__fail(err, DG_EINVAL, "text training: method 'ce' needs labels");
    if (t && (t->N != X->rows || t->C != m->C))
        return dg__fail(err, DG_EMISMATCH, "text training: teachers give %lld rows x %d "
                        "classes, the data has %lld rows and the model %d classes",
                        (long long)t->N, t->C, (long long)X->rows, m->C);
    if (o->method == DG_AEKD && (o->tolerance < 1.0 / M - 1e-12 || o->tolerance > 1.0))
        return dg__fail(err, DG_EINVAL, "text training: tolerance must be in [1/M, 1] = "
                        "[%.4g, 1] for %d teachers, found %g", 1.0 / M, M, o->tolerance);
    if (labels)
        for (int64_t n = 0; n < X->rows; n++)
            if (labels[n] < -1 || labels[n] >= m->C)
                return dg__fail(err, DG_EINVAL, "text training: row %lld: expected a label "
                                "in [-1, %d), found %d", (long long)n + 1, m->C, labels[n]);
    if (o->rows && o->n_rows < 1)
        return dg__fail(err, DG_EINVAL, "text training: no training rows selected");
    if (o->rows)
        for (int64_t i = 0; i < o->n_rows; i++)
            if (o->rows[i] < 0 || o->rows[i] >= X->rows)
                return dg__fail(err, DG_EINVAL, "text training: row id %lld outside [0, %lld)",
                                (long long)o->rows[i], (long long)X->rows);
    return 0;
}

typedef struct text_bufs {
    dg__text_grad grad;
    dg__kd_work kd;
    sparse_optim opt;
    float *h, *z, *dz, *q;  /* (B, E), (B, C), (B, C), (M, B, C) */
    int32_t *yb;            /* (B) */
    unsigned char *pres;    /* (M, B) */
    double *w, *wsum, *mean_w; /* (M) each */
    int64_t *order;         /* (n_rows) */
} text_bufs;

static void bufs_free(text_bufs *b)
{
    dg__text_grad_free(&b->grad);
    dg__kd_work_free(&b->kd);
    free(b->opt.m1);
    free(b->opt.m2);
    free(b->h);
    free(b->z);
    free(b->dz);
    free(b->q);
    free(b->yb);
    free(b->pres);
    free(b->w);
    free(b->wsum);
    free(b->mean_w);
    free(b->order);
}

/* Most nonzeros in any row of X: bounds the buckets a batch can touch. */
static int64_t max_row_nnz(const dg_csr *X)
{
    int64_t most = 0;

    for (int64_t r = 0; r < X->rows; r++)
        if (X->row_ptr[r + 1] - X->row_ptr[r] > most)
            most = X->row_ptr[r + 1] - X->row_ptr[r];
    return most;
}

static int bufs_init(text_bufs *b, const dg_text_model *m, const dg_csr *X, int64_t B, int M,
                     int64_t n_rows, const dg_distill_opts *o, dg_error *err)
{
    int Mq = M > 0 ? M : 1, C = m->C;
    int64_t E = m->E > 0 ? m->E : 1, cap = max_row_nnz(X);

    memset(b, 0, sizeof *b);
    cap = cap > m->V / B ? m->V : cap * B;
    if (dg__text_grad_init(&b->grad, m, cap, err) != 0 ||
        dg__kd_work_init(&b->kd, B, C, Mq, err) != 0)
        return err ? err->code : DG_ENOMEM;
    b->opt.kind = o->optimizer;
    b->opt.momentum = o->momentum;
    b->opt.weight_decay = o->weight_decay;
    b->opt.m1 = dg__alloc((size_t)m->n_params, sizeof(float), 1, err);
    if (o->optimizer == DG_ADAM)
        b->opt.m2 = dg__alloc((size_t)m->n_params, sizeof(float), 1, err);
    b->h = dg__alloc((size_t)(B * E), sizeof(float), 0, err);
    b->z = dg__alloc((size_t)(B * C), sizeof(float), 0, err);
    b->dz = dg__alloc((size_t)(B * C), sizeof(float), 0, err);
    b->q = dg__alloc((size_t)(Mq * B * C), sizeof(float), 1, err);
    b->yb = dg__alloc((size_t)B, sizeof(int32_t), 0, err);
    b->pres = dg__alloc((size_t)(Mq * B), 1, 1, err);
    b->w = dg__alloc((size_t)Mq, sizeof(double), 1, err);
    b->wsum = dg__alloc((size_t)Mq, sizeof(double), 1, err);
    b->mean_w = dg__alloc((size_t)Mq, sizeof(double), 1, err);
    b->order = dg__alloc((size_t)n_rows, sizeof(int64_t), 0, err);
    if (!b->opt.m1 || (o->optimizer == DG_ADAM && !b->opt.m2) || !b->h || !b->z || !b->dz ||
        !b->q || !b->yb || !b->pres || !b->w || !b->wsum || !b->mean_w || !b->order)
        return DG_ENOMEM;
    return 0;
}

/* Accuracy on labelled rows of X, in batches of the training buffers (the
 * order buffer, free between epochs, holds the row ids). */
static double accuracy_on(const dg_text_model *m, const dg_csr *X, const int32_t *y,
                          text_bufs *b, int64_t B)
{
    int64_t hits = 0, seen = 0;

    for (int64_t start = 0; start < X->rows; start += B) {
        int64_t rows = X->rows - start < B ? X->rows - start : B;

        for (int64_t r = 0; r < rows; r++)
            b->order[r] = start + r;
        dg__text_forward(m, X, b->order, rows, b->h, b->z);
        for (int64_t r = 0; r < rows; r++)
            if (y[start + r] >= 0) {
                seen++;
                hits += dg__argmax(b->z + r * m->C, m->C) == y[start + r];
            }
    }
    return seen ? (double)hits / (double)seen : NAN;
}

int dg_text_train(dg_text_model *m, const dg_csr *X, const int32_t *labels,
                  const dg_teachers *teachers, const dg_distill_opts *o,
                  const dg_csr *test_X, const int32_t *test_y, dg_error *err)
{
    const dg_teachers *t = o && o->method != DG_CE ? teachers : NULL;
    int M = t ? t->M : 0, C, rc;
    int64_t n_rows, B;
    text_bufs b;
    dg__rng rng;

    dg__clear(err);
    if (!m || !X || !o)
        return dg__fail(err, DG_EINVAL, "dg_text_train: model, features and options required");
    if ((rc = check_train(m, X, labels, t, o, test_X, err)) != 0)
        return rc;
    C = m->C;
    n_rows = o->rows ? o->n_rows : X->rows;
    B = o->batch < n_rows ? o->batch : n_rows;
    if ((rc = bufs_init(&b, m, X, B, M, n_rows, o, err)) != 0) {
        bufs_free(&b);
        return rc;
    }
    /* Limit: the loop runs on one thread (opts->threads is not used): its
     * scatter into shared table rows stays deterministic and a minibatch
     * is too small to pay for a thread team. */
    dg__rng_seed(&rng, o->seed ^ 0x7e477e477e47ULL);

    for (int epoch = 0; epoch < o->epochs && rc == 0; epoch++) {
        double t0 = now_seconds(), loss_sum = 0.0, lr = dg__lr_at(o, epoch);
        int64_t hits = 0, seen = 0, n_batches = 0;
        dg_epoch_report rep;

        /* pass 1: this epoch's order */
        for (int64_t i = 0; i < n_rows; i++)
            b.order[i] = o->rows ? o->rows[i] : i;
        dg__rng_shuffle(&rng, b.order, n_rows);
        memset(b.wsum, 0, sizeof(double) * (size_t)(M > 0 ? M : 1));

        for (int64_t start = 0; start < n_rows; start += B, n_batches++) {
            int64_t rows = n_rows - start < B ? n_rows - start : B;
            const int64_t *idx = b.order + start;
            dg__kd_batch kb;
            double loss;

            /* pass 2: labels and softened targets of the batch */
            for (int64_t r = 0; r < rows; r++)
                b.yb[r] = labels ? labels[idx[r]] : -1;
            for (int m_ = 0; m_ < M; m_++)
                dg__teacher_soften(t, m_, idx, rows, o->temperature,
                                   b.q + (int64_t)m_ * rows * C, b.pres + (int64_t)m_ * rows);

            /* pass 3: forward, weighting and loss gradient, sparse backward, step */
            dg__text_forward(m, X, idx, rows, b.h, b.z);
            kb.B = rows;
            kb.C = C;
            kb.M = M;
            kb.z = b.z;
            kb.y = b.yb;
            kb.q = b.q;
            kb.present = b.pres;
            kb.qlogq = NULL;
            if ((rc = dg__kd_step(&kb, o, &b.kd, b.dz, &loss, b.w, err)) != 0)
                break;
            if (!isfinite(loss)) {
                rc = dg__fail(err, DG_ENUMERIC, "text training diverged: loss is %g at epoch "
                              "%d, batch %lld; try a smaller learning rate", loss, epoch + 1,
                              (long long)n_batches + 1);
                break;
            }
            dg__text_backward(m, X, idx, rows, b.h, b.dz, &b.grad);
            optim_step(&b.opt, m, &b.grad, lr);

            loss_sum += loss;
            for (int64_t r = 0; r < rows; r++)
                if (b.yb[r] >= 0) {
                    seen++;
                    hits += dg__argmax(b.z + r * C, C) == b.yb[r];
                }
            for (int m_ = 0; m_ < M; m_++)
                b.wsum[m_] += b.w[m_];
        }
        if (rc != 0)
            break;

        /* pass 4: report */
        for (int m_ = 0; m_ < M; m_++)
            b.mean_w[m_] = b.wsum[m_] / (double)n_batches;
        rep.epoch = epoch + 1;
        rep.loss = loss_sum / (double)n_batches;
        rep.train_acc = seen ? (double)hits / (double)seen : NAN;
        rep.test_acc = test_X && test_y ? accuracy_on(m, test_X, test_y, &b, B) : NAN;
        rep.seconds = now_seconds() - t0;
        rep.M = M;
        rep.mean_weight = b.mean_w;
        dg__info("text epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.2fs", rep.epoch,
                 rep.loss, rep.train_acc, rep.test_acc, rep.seconds);
        if (o->on_epoch)
            o->on_epoch(&rep, o->on_epoch_user);
    }
    bufs_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------
 * Prediction
 */

int dg_text_model_predict_proba(const dg_text_model *m, const dg_csr *X, float *probs,
                                dg_error *err)
{
    int64_t chunk = PREDICT_CHUNK, E = m->E > 0 ? m->E : 1;
    float *h;

    dg__clear(err);
    if (X->cols != m->V)
        return dg__fail(err, DG_EMISMATCH, "text predict: features have %lld columns, the "
                        "model expects %lld (2^bits)", (long long)X->cols, (long long)m->V);
    if (!(h = dg__alloc((size_t)(chunk * E), sizeof *h, 0, err)))
        return DG_ENOMEM;
    for (int64_t start = 0; start < X->rows; start += chunk) {
        int64_t rows = X->rows - start < chunk ? X->rows - start : chunk;

        /* rows are independent: any thread count gives the same logits */
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            row_forward(m, X, start + r, h + r * E, probs + (start + r) * m->C);
    }
    dg__softmax_rows(probs, X->rows, m->C, 1.0, probs);
    free(h);
    return 0;
}

int dg_text_model_predict_corpus(const dg_text_model *m, const dg_corpus *c, float *probs,
                                 dg_error *err)
{
    dg_csr X;
    int rc;

    if ((rc = dg__text_transform(&m->fopts, m->feat, c, 0, &X, err)) != 0)
        return rc;
    rc = dg_text_model_predict_proba(m, &X, probs, err);
    dg_csr_free(&X);
    return rc;
}
