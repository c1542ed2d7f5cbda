/* The multilayer perceptron: creation with He initialisation, forward and
 * backward passes over one minibatch (every matrix product through
 * cblas_sgemm), and chunked inference for the public logits/probabilities
 * calls. The trainer drives forward/backward and the optimizer.
 * Legend: B rows in the batch, N rows in a whole matrix, D inputs, C classes.
 */
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per forward pass in dg_model_logits: bounds its scratch memory to
 * INFER_CHUNK x (sum of layer widths) floats whatever N is. */
#define INFER_CHUNK 1024

/* ------------------------------------------------------------------------
 * Layout and creation
 */

int64_t dg__mlp_param_count(const int64_t *sizes, int n_layers)
{
    int64_t total = 0;

    for (int l = 0; l < n_layers; l++) {
        int64_t in = sizes[l], out = sizes[l + 1];
        int64_t layer;

        /* out * (in + 1) fits exactly when in < INT64_MAX / out. */
        if (in < 0 || out < 0 || (out > 0 && in >= INT64_MAX / out))
            return -1;
        layer = out * in + out;
        if (layer > INT64_MAX - total)
            return -1;
        total += layer;
    }
    return total;
}

int64_t dg__mlp_weight_offset(const dg_model *m, int l)
{
    int64_t off = 0;

    for (int k = 0; k < l; k++)
        off += m->sizes[k + 1] * m->sizes[k] + m->sizes[k + 1];
    return off;
}

int64_t dg__mlp_bias_offset(const dg_model *m, int l)
{
    return dg__mlp_weight_offset(m, l) + m->sizes[l + 1] * m->sizes[l];
}

int dg__mlp_alloc(const int64_t *sizes, int n_layers, dg_model **out, dg_error *err)
{
    int64_t n_params = dg__mlp_param_count(sizes, n_layers);
    dg_model *m;

    *out = NULL;
    if (n_params < 0 || (uint64_t)n_params > SIZE_MAX / sizeof(float))
        return dg__fail(err, DG_ENOMEM,
                        "model: layer sizes imply more parameters than fit "
                        "in memory");
    m = dg__alloc(1, sizeof *m, 1, err);
    if (!m)
        return DG_ENOMEM;
    m->n_layers = n_layers;
    memcpy(m->sizes, sizes, (size_t)(n_layers + 1) * sizeof *sizes);
    m->n_params = n_params;
    m->params = dg__alloc((size_t)n_params, sizeof(float), 1, err);
    m->grads = m->params ? dg__alloc((size_t)n_params, sizeof(float), 1, err) : NULL;
    if (!m->grads) {
        dg_model_free(m);
        return DG_ENOMEM;
    }
    *out = m;
    return 0;
}

int dg_mlp_create(int64_t D, const int *hidden, int n_hidden, int C, uint64_t seed, dg_model **out,
                  dg_error *err)
{
    int64_t sizes[DG_MAX_LAYERS + 2];
    dg_model *m;
    dg__rng rng;
    int rc;

    if (!out)
        return dg__fail(err, DG_EINVAL, "dg_mlp_create: out is NULL");
    *out = NULL;
    /* Widths stay within INT32_MAX so every model can be saved and every
     * dimension passed to BLAS as an int. */
    if (D < 1 || D > INT32_MAX)
        return dg__fail(err, DG_EINVAL, "model: input size D = %lld, expected 1..%d", (long long)D,
                        INT32_MAX);
    if (C < 2)
        return dg__fail(err, DG_EINVAL, "model: class count C = %d, expected at least 2", C);
    if (n_hidden < 0 || n_hidden > DG_MAX_LAYERS - 1)
        return dg__fail(err, DG_EINVAL, "model: %d hidden layers, expected 0..%d", n_hidden,
                        DG_MAX_LAYERS - 1);
    if (n_hidden > 0 && !hidden)
        return dg__fail(err, DG_EINVAL, "model: %d hidden layers but no sizes given", n_hidden);
    sizes[0] = D;
    for (int l = 0; l < n_hidden; l++) {
        if (hidden[l] < 1)
            return dg__fail(err, DG_EINVAL,
                            "model: hidden layer %d has size %d, expected at least 1", l + 1,
                            hidden[l]);
        sizes[l + 1] = hidden[l];
    }
    sizes[n_hidden + 1] = C;

    rc = dg__mlp_alloc(sizes, n_hidden + 1, &m, err);
    if (rc)
        return rc;

    /* He initialisation: weights ~ N(0, 2 / fan_in), drawn layer by layer
     * in storage order so a seed always gives the same model; biases 0. */
    dg__rng_seed(&rng, seed);
    for (int l = 0; l < m->n_layers; l++) {
        float *W = m->params + dg__mlp_weight_offset(m, l);
        int64_t count = m->sizes[l + 1] * m->sizes[l];
        double std = sqrt(2.0 / (double)m->sizes[l]);

        for (int64_t i = 0; i < count; i++)
            W[i] = (float)(std * dg__rng_normal(&rng));
    }
    *out = m;
    return 0;
}

void dg_model_free(dg_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m);
}

int64_t dg_model_inputs(const dg_model *m)
{
    return m->sizes[0];
}

int dg_model_classes(const dg_model *m)
{
    return (int)m->sizes[m->n_layers];
}

int64_t dg_model_param_count(const dg_model *m)
{
    return m->n_params;
}

/* ------------------------------------------------------------------------
 * Scratch buffers
 */

int dg__mlp_work_init(dg__mlp_work *w, const dg_model *m, int64_t cap, dg_error *err)
{
    memset(w, 0, sizeof *w);
    if (cap < 1)
        return dg__fail(err, DG_EINVAL, "model: batch capacity %lld, expected at least 1",
                        (long long)cap);
    w->cap = cap;
    for (int l = 0; l < m->n_layers; l++) {
        int64_t width = m->sizes[l + 1];

        if (cap > INT64_MAX / width) {
            dg__mlp_work_free(w);
            return dg__fail(err, DG_ENOMEM, "model: %lld rows of width %lld overflow",
                            (long long)cap, (long long)width);
        }
        w->acts[l] = dg__alloc((size_t)(cap * width), sizeof(float), 0, err);
        w->dacts[l] = w->acts[l] ? dg__alloc((size_t)(cap * width), sizeof(float), 0, err) : NULL;
        if (!w->dacts[l]) {
            dg__mlp_work_free(w);
            return DG_ENOMEM;
        }
    }
    return 0;
}

void dg__mlp_work_free(dg__mlp_work *w)
{
    for (int l = 0; l < DG_MAX_LAYERS + 1; l++) {
        free(w->acts[l]);
        free(w->dacts[l]);
    }
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------------
 * Forward and backward
 */

/* Rows [lo, hi) of the n items split among `parts`: part k of parts takes
 * a contiguous run, and the runs differ in length by at most one. */
static void slice(int64_t n, int k, int parts, int64_t *lo, int64_t *hi)
{
    *lo = n * k / parts;
    *hi = n * (k + 1) / parts;
}

void dg__mlp_forward_part(const dg_model *m, const float *X, int64_t B, dg__mlp_work *w, int part,
                          int parts)
{
    /* X is (B, D); acts[l] is (B, sizes[l+1]). A batch larger than the
     * scratch can only be a caller bug. Each part computes the output
     * units [u0, u1) of every layer for all rows, so that it packs only its
     * own rows of W (splitting the rows of the batch instead made every
     * thread pack all of W: 1.47x on two threads instead of 1.6x); the next
     * layer reads all units, hence a barrier between layers. */
    if (B > w->cap)
        abort();
    for (int l = 0; l < m->n_layers && B > 0; l++) {
        int64_t in = m->sizes[l], out = m->sizes[l + 1], u0, u1;
        const float *A_in = l == 0 ? X : w->acts[l - 1];
        const float *W = m->params + dg__mlp_weight_offset(m, l);
        const float *b = m->params + dg__mlp_bias_offset(m, l);
        float *Z = w->acts[l];

        if (parts > 1 && l > 0) {
#pragma omp barrier
        }
        slice(out, part, parts, &u0, &u1);
        if (u1 == u0)
            continue;

        /* pass 1: Z[:, u0:u1] (B, u1 - u0) = A_in (B, in) W[u0:u1]^T, W
         * being (out, in). */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)B, (blasint)(u1 - u0),
                    (blasint)in, 1.0f, A_in, (blasint)in, W + u0 * in, (blasint)in, 0.0f, Z + u0,
                    (blasint)out);

        /* pass 2: plus the bias, then ReLU on hidden layers (the last
         * layer stays as logits), in one sweep */
        for (int64_t r = 0; r < B; r++) {
            float *Z_r = Z + r * out;

            if (l < m->n_layers - 1) {
#pragma omp simd
                for (int64_t j = u0; j < u1; j++) {
                    float v = Z_r[j] + b[j];

                    Z_r[j] = v > 0.0f ? v : 0.0f;
                }
            } else {
#pragma omp simd
                for (int64_t j = u0; j < u1; j++)
                    Z_r[j] += b[j];
            }
        }
    }
}

const float *dg__mlp_forward(const dg_model *m, const float *X, int64_t B, dg__mlp_work *w)
{
    dg__mlp_forward_part(m, X, B, w, 0, 1);
    return w->acts[m->n_layers - 1];
}

/* With opt: parameters [i0, i1) of m take step `step` of opt. */
static void apply(const dg__optim *opt, int64_t step, double lr, dg_model *m, int64_t i0,
                  int64_t i1)
{
    if (opt)
        dg__optim_apply(opt, step, m->params, m->grads, lr, i0, i1);
}

/* With opt: layer l's weights rows [u0, u1) and biases [u0, u1) take the
 * step, once nobody reads them any more. */
static void apply_layer(const dg__optim *opt, int64_t step, double lr, dg_model *m, int l, int part,
                        int parts)
{
    int64_t in = m->sizes[l], u0, u1, w0 = dg__mlp_weight_offset(m, l);
    int64_t b0 = dg__mlp_bias_offset(m, l);

    slice(m->sizes[l + 1], part, parts, &u0, &u1);
    apply(opt, step, lr, m, w0 + u0 * in, w0 + u1 * in);
    apply(opt, step, lr, m, b0 + u0, b0 + u1);
}

void dg__mlp_backward_part(dg_model *m, const float *X, int64_t B, const float *dlogits,
                           dg__mlp_work *w, int part, int parts, const dg__optim *opt, int64_t step,
                           double lr)
{
    /* X is (B, D), dlogits is (B, C); acts hold the forward pass on X.
     * Walks the layers from the top: dZ is the gradient w.r.t. layer l's
     * pre-activation output (B, out). Each part takes the output units
     * [u0, u1) of every layer, as in the forward pass: the rows of dW and
     * db, which need only its own columns of dZ (computed by itself in the
     * layer above), and the same columns of the input gradient below, which
     * need all of dZ: a barrier first. A layer's weights are read by every
     * part's input gradient, so they take the optimizer step one barrier
     * later; the first layer's are read by nobody and step at once. */
    const float *dZ = dlogits;
    int64_t u0, u1;

    if (B > w->cap)
        abort();
    if (B == 0) {
        if (part == 0)
            memset(m->grads, 0, (size_t)m->n_params * sizeof(float));
        return;
    }
    for (int l = m->n_layers - 1; l >= 0; l--) {
        int64_t in = m->sizes[l], out = m->sizes[l + 1];
        const float *A_in = l == 0 ? X : w->acts[l - 1];
        const float *W = m->params + dg__mlp_weight_offset(m, l);
        float *dW = m->grads + dg__mlp_weight_offset(m, l);
        float *db = m->grads + dg__mlp_bias_offset(m, l);

        slice(out, part, parts, &u0, &u1);

        /* pass 1: dW[u0:u1] (u1 - u0, in) = dZ[:, u0:u1]^T (u1 - u0, B) A_in (B, in). */
        if (u1 > u0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)(u1 - u0), (blasint)in,
                        (blasint)B, 1.0f, dZ + u0, (blasint)out, A_in, (blasint)in, 0.0f,
                        dW + u0 * in, (blasint)in);

        /* pass 2: db[u0:u1] = column sums of dZ; rows outer so dZ is read
         * in memory order. */
        memset(db + u0, 0, (size_t)(u1 - u0) * sizeof(float));
        for (int64_t r = 0; r < B; r++) {
            const float *dZ_r = dZ + r * out;

            for (int64_t j = u0; j < u1; j++)
                db[j] += dZ_r[j];
        }
        if (l == 0) {
            apply_layer(opt, step, lr, m, 0, part, parts);
            break;
        }

        /* pass 3: below the first layer is the input, whose gradient
         * nobody needs. Otherwise dA_in (B, in) = dZ (B, out) W (out, in),
         * then through the ReLU: zero where the unit was off; this part's
         * columns [i0, i1), after every part has written its dZ. */
        if (parts > 1) {
#pragma omp barrier
        }
        if (l + 1 < m->n_layers)
            apply_layer(opt, step, lr, m, l + 1, part, parts);
        {
            float *dA_in = w->dacts[l - 1];
            int64_t i0, i1;

            slice(in, part, parts, &i0, &i1);
            if (i1 > i0) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)B,
                            (blasint)(i1 - i0), (blasint)out, 1.0f, dZ, (blasint)out, W + i0,
                            (blasint)in, 0.0f, dA_in + i0, (blasint)in);
                for (int64_t r = 0; r < B; r++) {
                    float *dA_r = dA_in + r * in;
                    const float *A_r = A_in + r * in;

#pragma omp simd
                    for (int64_t j = i0; j < i1; j++)
                        dA_r[j] = A_r[j] > 0.0f ? dA_r[j] : 0.0f;
                }
            }
            dZ = dA_in;
        }
    }

    /* the second layer's weights, once every part is past its input
     * gradient */
    if (opt && m->n_layers > 1) {
        if (parts > 1) {
#pragma omp barrier
        }
        apply_layer(opt, step, lr, m, 1, part, parts);
    }
}

void dg__mlp_backward(dg_model *m, const float *X, int64_t B, const float *dlogits, dg__mlp_work *w)
{
    dg__mlp_backward_part(m, X, B, dlogits, w, 0, 1, NULL, 0, 0.0);
}

const float *dg__mlp_last_hidden(const dg_model *m, const float *X, const dg__mlp_work *w,
                                 int64_t *H)
{
    if (m->n_layers == 1) {
        *H = m->sizes[0];
        return X;
    }
    *H = m->sizes[m->n_layers - 1];
    return w->acts[m->n_layers - 2];
}

/* ------------------------------------------------------------------------
 * Inference over a whole matrix
 */

int dg_model_logits(const dg_model *m, const float *X, int64_t N, float *logits, dg_error *err)
{
    /* X is (N, D), logits is (N, C). */
    dg__mlp_work w;
    int64_t C;
    int rc;

    if (!m || (N > 0 && (!X || !logits)))
        return dg__fail(err, DG_EINVAL, "model: NULL model or buffer for %lld rows", (long long)N);
    if (N < 0)
        return dg__fail(err, DG_EINVAL, "model: %lld rows, expected at least 0", (long long)N);
    if (N == 0)
        return 0;
    C = m->sizes[m->n_layers];
    rc = dg__mlp_work_init(&w, m, N < INFER_CHUNK ? N : INFER_CHUNK, err);
    if (rc)
        return rc;
    for (int64_t r0 = 0; r0 < N; r0 += INFER_CHUNK) {
        int64_t rows = N - r0 < INFER_CHUNK ? N - r0 : INFER_CHUNK;
        const float *z = dg__mlp_forward(m, X + r0 * m->sizes[0], rows, &w);

        memcpy(logits + r0 * C, z, (size_t)(rows * C) * sizeof(float));
    }
    dg__mlp_work_free(&w);
    return 0;
}

int dg_model_predict_proba(const dg_model *m, const float *X, int64_t N, float *probs,
                           dg_error *err)
{
    /* X is (N, D), probs is (N, C): logits first, then a stable softmax in
     * place. */
    int rc = dg_model_logits(m, X, N, probs, err);

    if (rc)
        return rc;
    dg__softmax_rows(probs, N, dg_model_classes(m), 1.0, probs);
    return 0;
}
