/* Internal interface of distillation: softened teacher targets, the KD and
 * CE losses with their analytic logit gradients, and the per-batch teacher
 * weighting (ce, avg-loss, avg-prob, aekd and its variants).
 *
 * Legend: B rows in the batch, C classes, M teachers, T temperature.
 */
#ifndef DG_DISTILL_H
#define DG_DISTILL_H

#include "core/internal.h"

/* Teacher m's softened distribution q = softmax(logp / T) for the given
 * dataset rows, into q (B, C). Zeros stay exactly zero. When `present` is
 * not NULL it receives (B) 1/0: whether teacher m answered each row (rows it
 * abstained on get an all-zero q). */
void dg__teacher_soften(const dg_teachers *t, int m, const int64_t *rows, int64_t B, double T,
                        float *q, unsigned char *present);

/* Teacher m's softened targets for every row, made once per run by `team`
 * threads, laid out row by row: qcache (N, M, C), hcache (N, M) their sum
 * q ln q, pcache (N, M) whether teacher m answered row n. Costs M x N x C
 * floats (as much as the teachers' own outputs) and M x N doubles; the
 * caller frees the three arrays, also after an error. */
int dg__targets_cache(const dg_teachers *t, int M, double T, int team, float **qcache,
                      double **hcache, unsigned char **pcache, dg_error *err);

/* One batch as the weighting sees it. */
typedef struct dg__kd_batch {
    int64_t B;
    int C, M;
    const float *z;               /* (B, C) student logits */
    const int32_t *y;             /* (B) gold labels, -1 where none; NULL: none */
    const float *q;               /* (M, B, C) softened teacher targets */
    const unsigned char *present; /* (M, B) or NULL: all present */
    const double *qlogq;          /* (M, B) sum_c q ln q of each target, or NULL:
                                   * computed (the trainer caches it per run, so
                                   * the KL needs no log of the targets) */
} dg__kd_batch;

/* What one thread of a team sharing a step keeps apart (loss.c). */
typedef struct dg__kd_part dg__kd_part;

/* Scratch sized for (M, B, C) and up to `parts` threads once per run, so
 * batches do not allocate. */
typedef struct dg__kd_work {
    int64_t B;
    int C, M, parts;
    double *G;         /* (M, M) Gram matrix of the kept teachers */
    double *G_all;     /* (M, M) Gram matrix of all teachers */
    double *g;         /* (M, B*C) per-teacher gradient summaries */
    double *a;         /* (M) weights */
    double *s, *logs;  /* (B, C) the softened student and its log */
    double *divisor;   /* (M) */
    double *qp_work;   /* DG__QP_WORK(M) */
    dg__kd_part *part; /* (parts) */
    int rc;            /* the step's status, shared by the team */
} dg__kd_work;

int dg__kd_work_init(dg__kd_work *w, int64_t B, int C, int M, dg_error *err);
/* The same for steps shared by up to `parts` threads (dg__kd_step_part). */
int dg__kd_work_init_parts(dg__kd_work *w, int64_t B, int C, int M, int parts, dg_error *err);
void dg__kd_work_free(dg__kd_work *w);

/* The student loss on one batch under opts->method:
 *   gamma * CE(z, y)  +  alpha * sum_m a_m L_m,
 *   L_m = T^2 (1/B) sum_b KL(q_{m,b} || softmax(z_b / T)),
 * both terms means over the B rows (an unlabelled row adds no CE but counts
 * in B, so a few labelled rows among many unlabelled ones do not dominate).
 * Writes dz (B, C) = dloss/dz with the weights a held constant, returns the
 * loss in *loss and the teachers' weights this batch in weights (M; for
 * avg-prob the 1/M shares, for ce all zero). Returns 0 or a DG_E* code
 * (the QP can only fail on bad options, which dg_distill checks first). */
int dg__kd_step(const dg__kd_batch *b, const dg_distill_opts *opts, dg__kd_work *w, float *dz,
                double *loss, double *weights, dg_error *err);

/* The same step shared by the `parts` threads of an OpenMP team (parts <=
 * the work's), each calling with its part = omp_get_thread_num(): each
 * takes a contiguous slice of the rows; one solves the batch's QP and
 * sums the parts' losses in part order, so results are deterministic for
 * a thread count. Barriers inside; every thread returns the same status,
 * and *loss, weights and err (shared) are written by part 0 and read by
 * all once it returns. With parts = 1 this is dg__kd_step. */
int dg__kd_step_part(const dg__kd_batch *b, const dg_distill_opts *opts, dg__kd_work *w, float *dz,
                     double *loss, double *weights, dg_error *err, int part, int parts);

/* Doubles of workspace dg__qp_solve needs for M teachers. */
#define DG__QP_WORK(M) (2 * (size_t)(M) * (size_t)(M) + 4 * (size_t)(M))

/* dg_capped_simplex_qp without allocation: G is (M, M), a receives (M),
 * work holds DG__QP_WORK(M) doubles. Among several minimisers it returns
 * the one nearest the plain average 1/M. */
int dg__qp_solve(const double *G, int M, double cap, double *a, double *work, dg_error *err);

#endif /* DG_DISTILL_H */
