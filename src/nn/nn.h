/* Internal interface of the network layer: the MLP's layout in one
 * contiguous parameter buffer, its forward and backward passes over a
 * minibatch, and the optimizers. Used by the trainer and active learning.
 *
 * Legend: B rows in the batch, D inputs, H_l width of layer l, C classes.
 */
#ifndef DG_NN_H
#define DG_NN_H

#include "core/internal.h"

struct dg_model {
    int n_layers;                     /* dense layers: hidden count + 1 */
    int64_t sizes[DG_MAX_LAYERS + 2]; /* sizes[0] = D, ..., sizes[n_layers] = C */
    int64_t n_params;
    /* Layer l occupies W_l (sizes[l+1] x sizes[l], row-major) followed by
     * b_l (sizes[l+1]); layers follow each other in order. */
    float *params;
    float *grads; /* same layout as params */
};

/* Parameters implied by sizes[0..n_layers] (weights and biases of every
 * layer), or -1 when the count overflows int64. */
int64_t dg__mlp_param_count(const int64_t *sizes, int n_layers);
/* A model with sizes[0..n_layers] (already validated by the caller:
 * 1 <= n_layers <= DG_MAX_LAYERS, each size in [1, INT32_MAX]); params and
 * grads zeroed. Used by dg_mlp_create and the model file loader. */
int dg__mlp_alloc(const int64_t *sizes, int n_layers, dg_model **out, dg_error *err);

/* Offsets of layer l's weights and bias inside params/grads. */
int64_t dg__mlp_weight_offset(const dg_model *m, int l);
int64_t dg__mlp_bias_offset(const dg_model *m, int l);

/* Scratch for one batch of at most `cap` rows: the post-ReLU output of each
 * hidden layer and the logits, plus gradient buffers. Allocated once per
 * training run so the batch loop never allocates. */
typedef struct dg__mlp_work {
    int64_t cap;
    float *acts[DG_MAX_LAYERS + 1];  /* acts[l] is (cap, sizes[l+1]); last = logits */
    float *dacts[DG_MAX_LAYERS + 1]; /* gradients w.r.t. acts, same shapes */
} dg__mlp_work;

int dg__mlp_work_init(dg__mlp_work *w, const dg_model *m, int64_t cap, dg_error *err);
void dg__mlp_work_free(dg__mlp_work *w);

/* X is (B, D), B <= w->cap. Returns the logits (B, C), owned by w. */
const float *dg__mlp_forward(const dg_model *m, const float *X, int64_t B, dg__mlp_work *w);

/* After dg__mlp_forward on the same X: dlogits is (B, C), the gradient of
 * the loss w.r.t. the logits. Overwrites m->grads with dloss/dparams. */
void dg__mlp_backward(dg_model *m, const float *X, int64_t B, const float *dlogits,
                      dg__mlp_work *w);

/* The last hidden layer's activations (B, H) from the latest forward, and
 * H; with no hidden layer, the input X itself and D. */
const float *dg__mlp_last_hidden(const dg_model *m, const float *X, const dg__mlp_work *w,
                                 int64_t *H);

/* Optimizer state over a flat parameter vector of n floats.
 * SGD: v = momentum*v + (g + wd*p); p -= lr*v.
 * Adam: bias-corrected moments (beta1 0.9, beta2 0.999, eps 1e-8),
 * weight decay added to the gradient (L2). */
typedef struct dg__optim {
    dg_optimizer kind;
    int64_t n;
    int64_t t; /* steps taken */
    double momentum, weight_decay, beta1, beta2, eps;
    float *m1; /* SGD velocity or Adam first moment */
    float *m2; /* Adam second moment (NULL for SGD) */
} dg__optim;

int dg__optim_init(dg__optim *o, dg_optimizer kind, int64_t n, double momentum, double weight_decay,
                   dg_error *err);
void dg__optim_step(dg__optim *o, float *params, const float *grads, double lr);

/* Step number `step` (1-based; o->t + 1 for the next one) applied to the
 * parameters [i0, i1) only, leaving o->t alone: threads sharing a step
 * each apply their own range, then one of them counts it (o->t++). */
void dg__optim_apply(const dg__optim *o, int64_t step, float *params, const float *grads, double lr,
                     int64_t i0, int64_t i1);

void dg__optim_free(dg__optim *o);

/* The forward and backward passes shared among the `parts` threads of an
 * OpenMP team, each thread calling with its own part = omp_get_thread_num()
 * and parts = omp_get_num_threads(), and OpenBLAS at one thread. Part k
 * owns the output units [u0, u1) of every layer (a contiguous, balanced
 * slice): it computes those columns of each layer's outputs in the forward
 * pass and of each input gradient, and those rows of dW and db, so that it
 * packs only its own rows of W (splitting the batch's rows instead made
 * every thread pack all of W: 1.47x on two threads instead of 1.6x).
 * Barriers sit between the layers inside; the caller puts one between
 * writing the batch X and the forward pass, and between the forward pass
 * and writing dlogits, as every part reads all rows of both. With opt, the
 * backward pass also applies optimizer step `step` at rate lr to the
 * parameters whose gradient the part computed, each layer as soon as no
 * part reads its weights (model->params then hold the stepped model when
 * every part returns; the gradients stay in model->grads). With parts = 1
 * both are the single-thread calls above. Every float is computed by the
 * same thread and the same sgemm call shape whenever parts is the same, so
 * results are deterministic for a thread count; across thread counts they
 * differ in the last bits, because OpenBLAS picks its kernel (and so its
 * summation order) by the shape. */
void dg__mlp_forward_part(const dg_model *m, const float *X, int64_t B, dg__mlp_work *w, int part,
                          int parts);
void dg__mlp_backward_part(dg_model *m, const float *X, int64_t B, const float *dlogits,
                           dg__mlp_work *w, int part, int parts, const dg__optim *opt, int64_t step,
                           double lr);

/* Learning rate for 0-based `epoch` of `epochs` under the schedule in opts
 * (constant, step: lr*step_gamma^(epoch/step_every), cosine: from lr down
 * to 0 over the run). */
double dg__lr_at(const dg_distill_opts *opts, int epoch);

#endif /* DG_NN_H */
