/* Internal interface of the text students: the parameter layout of
 * dg_text_model and its forward and sparse backward passes over CSR rows,
 * exposed for the trainer (student.c) and the gradient checks in tests.
 *
 * Legend: V = 2^bits buckets, R sparse-row width (C linear, E bag),
 * E embedding dim, C classes, B rows in the batch.
 */
#ifndef DG_TEXT_STUDENT_H
#define DG_TEXT_STUDENT_H

#include "core/internal.h"

struct dg_text_model {
    dg_text_student kind;
    int C, E;            /* E: embedding dim of the bag, 0 for the linear student */
    int64_t V;           /* buckets: 2^bits of the featurizer */
    int64_t n_params;
    /* One buffer. Linear: W (V, C) then b (C): z = x W + b.
     * Bag: emb (V, E), then W (C, E), then b (C): h = sum_j x_j emb_j /
     * sum_j |x_j| (the x-weighted mean for x >= 0), z = W h + b.
     * The first V*R floats are the sparse table, the rest the dense tail. */
    float *params;
    dg_featurizer_opts fopts;
    dg_featurizer *feat;
    char **names;        /* C class names */
};

/* Width of one sparse-table row: C for the linear student, E for the bag. */
int64_t dg__text_row_width(const dg_text_model *m);

/* Logits of rows[0..B) of X (N x V): z (B, C); h (B, E) receives the bag
 * means (bag only; ignored and may be NULL for the linear student). */
void dg__text_forward(const dg_text_model *m, const dg_csr *X, const int64_t *rows, int64_t B,
                      float *h, float *z);

/* A sparse gradient: rows of the table touched by the batch, plus the
 * dense tail. */
typedef struct dg__text_grad {
    int32_t *slot;      /* (V) slot of bucket v in `rows`, -1: untouched */
    int32_t *touched;   /* (cap) touched buckets in first-touch order */
    int64_t n_touched, cap;
    float *rows;        /* (cap, R) */
    float *dense;       /* (n_params - V*R) */
} dg__text_grad;

/* Room for `cap` touched rows (at most V are ever needed). */
int dg__text_grad_init(dg__text_grad *g, const dg_text_model *m, int64_t cap, dg_error *err);
void dg__text_grad_free(dg__text_grad *g);

/* Adds to g (reset first) the gradient of sum_bc dz_bc z_bc w.r.t. the
 * parameters, after dg__text_forward on the same rows gave h. The rows'
 * distinct buckets must fit in g->cap. */
void dg__text_backward(const dg_text_model *m, const dg_csr *X, const int64_t *rows, int64_t B,
                       const float *h, const float *dz, dg__text_grad *g);

/* Fits a featurizer with options fo on c and returns c's rows X (N x V),
 * equal to dg_featurizer_fit then dg_featurizer_transform, tokenising once
 * on `threads` threads (0: OpenMP's default). */
int dg__text_fit_transform(const dg_featurizer_opts *fo, const dg_corpus *c, int threads,
                           dg_featurizer **f, dg_csr *X, dg_error *err);
/* dg_featurizer_transform of c by f (whose options are fo) on `threads`. */
int dg__text_transform(const dg_featurizer_opts *fo, const dg_featurizer *f,
                       const dg_corpus *c, int threads, dg_csr *X, dg_error *err);

#endif /* DG_TEXT_STUDENT_H */
