/* Acquisition scores for active learning: for every pool row, how much a
 * gold label would be worth, read from the student's probabilities (least
 * confidence, margin, entropy), from the committee of teachers (vote
 * entropy, consensus KL, student-to-teachers KL, AE-KD gradient conflict);
 * and each teacher's reliability measured on the rows already labelled.
 */
#include "active/active.h"
#include "distill/distill.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Legend: N pool rows, C classes, M teachers, J committee members in use,
 * T temperature. Teacher m's row n starts at teachers + (m*N + n)*C.
 */

#define PROB_SUM_TOL DG__PROB_SUM_TOL
/* Student-to-teachers KL reads ln s_c through this floor: a class the
 * student rules out entirely (s_c = 0 after float underflow) costs
 * ln(1e12) ~ 27.6 per unit of the teachers' mass on it, not infinity. */
#define STUDENT_LOG_FLOOR 1e-12
/* Wilson interval at 95%: the standard normal's 97.5% quantile. */
#define WILSON_Z 1.959963984540054

static const char *const ACQ_NAMES[] = {
    "random",       "least-confidence", "margin",     "entropy",
    "vote-entropy", "consensus-kl",     "student-kl", "gradient-conflict",
};
#define ACQ_KINDS ((int)(sizeof ACQ_NAMES / sizeof ACQ_NAMES[0]))

/* Everything a row kernel reads; built once per call.
 * Limit: every teacher must give a full probability row for every pool
 * row; a teacher that abstained on some rows (dg_teachers' `present`) has
 * to be filled in by the caller (e.g. with the other teachers' mean), or it
 * votes as whatever row it is given. */
typedef struct committee {
    int64_t N;
    int C, M;
    const float *student;  /* (N, C) or NULL */
    const float *teachers; /* (M, N, C) or NULL */
    double *w_teacher;     /* (M) teacher shares, summing to 1 */
    double *w_member;      /* (M + 1) committee shares summing to 1; [M] is the student,
                            * 0 when it is not a member */
    double T;
    uint64_t seed;
} committee;

dg_acq_input dg_acq_defaults(void)
{
    dg_acq_input in;

    memset(&in, 0, sizeof in);
    in.temperature = 4.0;
    return in;
}

const char *dg_acq_name(dg_acq_kind kind)
{
    return (int)kind >= 0 && (int)kind < ACQ_KINDS ? ACQ_NAMES[kind] : "unknown";
}

int dg_acq_parse(const char *name, dg_acq_kind *out, dg_error *err)
{
    for (int k = 0; k < ACQ_KINDS; k++)
        if (name && strcmp(name, ACQ_NAMES[k]) == 0) {
            *out = (dg_acq_kind)k;
            return 0;
        }
    return dg__fail(err, DG_EINVAL,
                    "acquisition score \"%s\": expected one of random, least-confidence, "
                    "margin, entropy, vote-entropy, consensus-kl, student-kl, "
                    "gradient-conflict",
                    name ? name : "(null)");
}

/* ------------------------------------------------------------------------
 * Row helpers
 */

/* 1 when p (C) is finite, non-negative and sums to 1 within PROB_SUM_TOL. */
static int row_valid(const float *p, int C)
{
    double sum = 0.0;

    for (int c = 0; c < C; c++) {
        if (!(p[c] >= 0.0f) || !isfinite(p[c]))
            return 0;
        sum += p[c];
    }
    return fabs(sum - 1.0) <= PROB_SUM_TOL;
}

/* Fills err for the invalid row p (C) of the matrix `what`, row n. */
static int fail_row(dg_error *err, const char *what, int64_t n, const float *p, int C)
{
    double sum = 0.0;

    for (int c = 0; c < C; c++) {
        if (!(p[c] >= 0.0f) || !isfinite(p[c]))
            return dg__fail(err, DG_EINVAL,
                            "%s probabilities: row %lld, class %d: expected a finite "
                            "non-negative probability, found %g",
                            what, (long long)n + 1, c, (double)p[c]);
        sum += p[c];
    }
    return dg__fail(err, DG_EINVAL,
                    "%s probabilities: row %lld: expected a sum of 1 +- %g, found %.6g", what,
                    (long long)n + 1, PROB_SUM_TOL, sum);
}

/* Entropy (natural log) of the distribution v (C); 0 ln 0 counts as 0. */
static double entropy(const double *v, int C)
{
    double h = 0.0;

    for (int c = 0; c < C; c++)
        if (v[c] > 0.0)
            h -= v[c] * log(v[c]);
    return h > 0.0 ? h : 0.0;
}

/* out (C) = p^(1/T) normalised, computed as softmax(ln p / T) so that
 * zeros stay exactly zero. p must be a valid row (some entry > 0). */
static void soften(const float *p, int C, double T, double *out)
{
    double max = -INFINITY, sum = 0.0;

    for (int c = 0; c < C; c++)
        if (p[c] > 0.0f) {
            out[c] = log(p[c]) / T;
            max = fmax(max, out[c]);
        }
    for (int c = 0; c < C; c++) {
        out[c] = p[c] > 0.0f ? exp(out[c] - max) : 0.0;
        sum += out[c];
    }
    for (int c = 0; c < C; c++)
        out[c] /= sum;
}

/* Rows a thread scores at once for consensus KL: long enough runs of each
 * member's rows for the prefetcher (measured best of 256 to 4096 on the
 * 1,000,000 x 10 x 5 pool), with 2 x (1024, C) floats of scratch in L2. */
#define CKL_BLOCK 1024

static const float *member_row(const committee *cm, int j, int64_t n)
{
    return j < cm->M ? cm->teachers + ((int64_t)j * cm->N + n) * cm->C : cm->student + n * cm->C;
}

/* pbar (C) = sum over the first `members` members j (teachers, then the
 * student) of w[j] p_j for row n, skipping zero weights. 0 when a weighted
 * member's row is invalid, else 1. */
static int weighted_mean(const committee *cm, int64_t n, const double *w, int members, double *pbar)
{
    memset(pbar, 0, (size_t)cm->C * sizeof *pbar);
    for (int j = 0; j < members; j++) {
        const float *p;

        if (w[j] == 0.0)
            continue;
        p = member_row(cm, j, n);
        if (!row_valid(p, cm->C))
            return 0;
        for (int c = 0; c < cm->C; c++)
            pbar[c] += w[j] * p[c];
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Row kernels: each returns the score of row n, or NaN when an input row
 * is invalid (or, for the conflict, when the QP fails; err says why).
 */

static double least_confidence_row(const float *s, int C)
{
    double top = 0.0;

    if (!row_valid(s, C))
        return NAN;
    for (int c = 0; c < C; c++)
        top = fmax(top, s[c]);
    return 1.0 - top;
}

/* 1 - (top1 - top2) rather than -(top1 - top2): the same order, but the
 * score stays in [0, 1] like the other uncertainty scores, so score-weighted
 * selection (which needs non-negative weights) can use it unchanged. */
static double margin_row(const float *s, int C)
{
    double top1 = -1.0, top2 = -1.0;

    if (!row_valid(s, C))
        return NAN;
    for (int c = 0; c < C; c++) {
        if (s[c] > top1) {
            top2 = top1;
            top1 = s[c];
        } else if (s[c] > top2) {
            top2 = s[c];
        }
    }
    return 1.0 - (top1 - top2);
}

static double entropy_row(const float *s, int C)
{
    double h = 0.0;

    if (!row_valid(s, C))
        return NAN;
    for (int c = 0; c < C; c++)
        if (s[c] > 0.0f)
            h -= s[c] * log(s[c]);
    return h > 0.0 ? h : 0.0;
}

/* Each member votes its share for its argmax class; a member whose top
 * probability is shared by t classes splits its vote t ways, so a member
 * without an opinion does not pretend to have one. work is (C). */
static double vote_entropy_row(const committee *cm, int64_t n, double *votes)
{
    int C = cm->C;

    memset(votes, 0, (size_t)C * sizeof *votes);
    for (int j = 0; j <= cm->M; j++) {
        const float *p;
        float top = -1.0f;
        int ties = 0;

        if (cm->w_member[j] == 0.0)
            continue;
        p = member_row(cm, j, n);
        if (!row_valid(p, C))
            return NAN;
        for (int c = 0; c < C; c++)
            top = fmaxf(top, p[c]);
        for (int c = 0; c < C; c++)
            ties += p[c] == top;
        for (int c = 0; c < C; c++)
            if (p[c] == top)
                votes[c] += cm->w_member[j] / ties;
    }
    return entropy(votes, C);
}

/* sum_j w_j KL(p_j || pbar), pbar = sum_j w_j p_j. Each member row is read
 * from memory once (pass 1) and again from L1 cache (pass 3). pbar_c >=
 * w_j p_jc > 0 wherever a term is counted, so the score is always finite.
 * work is (2C). */
static double consensus_kl_row(const committee *cm, int64_t n, double *work)
{
    int C = cm->C;
    double *pbar = work, *log_pbar = work + C, kl = 0.0;

    /* pass 1: validate each member row and accumulate the committee mean */
    if (!weighted_mean(cm, n, cm->w_member, cm->M + 1, pbar))
        return NAN;

    /* pass 2: ln pbar once per class, not once per member */
    for (int c = 0; c < C; c++)
        log_pbar[c] = pbar[c] > 0.0 ? log(pbar[c]) : 0.0;

    /* pass 3: the weighted divergences of the members from the mean */
    for (int j = 0; j <= cm->M; j++) {
        const float *p;
        double inner = 0.0;

        if (cm->w_member[j] == 0.0)
            continue;
        p = member_row(cm, j, n);
        for (int c = 0; c < C; c++)
            if (p[c] > 0.0f)
                inner += p[c] * (log(p[c]) - log_pbar[c]);
        kl += cm->w_member[j] * inner;
    }
    return kl > 0.0 ? kl : 0.0;
}

/* Consensus KL of one block of rows by the generalised Jensen-Shannon
 * identity (sum_j w_j p_jc = pbar_c):
 *   sum_j w_j KL(p_j || pbar) = sum_c (sum_j w_j p_jc ln p_jc - pbar_c ln pbar_c).
 * Member by member, the block is one contiguous run of rows x C floats,
 * read once from memory by a loop the compiler vectorises with
 * dg__fast_logf; the per-class terms are accumulated elementwise across
 * members and summed over the classes of a row once at the end, so the
 * only per-row work per member is the sum that validates the row. Per row,
 * the scalar kernel above called libm's log 60 times (M = 5, C = 10) and
 * ran at 12x the time of reading the pool. p ln p at p = 0 is 0 * finite
 * = 0. Float sums: about 1e-6 off, far below any gap that reorders rows.
 * Declared in active.h. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* An AVX2 build of this function beside the baseline one, picked when the
 * program starts by what the processor has: twice the lanes. The loops
 * are elementwise, without contracted multiply-adds, so both give the
 * same bits. */
__attribute__((target_clones("avx2", "default")))
#endif
int dg__ckl_block_portable(const float *const *member, const float *w, int J, int64_t rows, int C,
                           float *pbar, float *acc, double *scores)
{
    int64_t len = rows * C;
    int bad = 0;

    /* pass 1: per member, the mean and the weighted p ln p, elementwise;
     * every entry must lie in [0, 1] (NaN fails) and every row sum to 1 */
    for (int j = 0; j < J; j++) {
        const float *p = member[j];
        float wj = w[j], lo = 0.0f, hi = 0.0f, dev = 0.0f;

        /* the smallest entry must be >= 0 and the largest <= 1 (|p - 1/2|
         * <= 1/2 would let -3e-8 round through); a NaN escapes min and max
         * but reaches pbar, and so its row's score, which pass 2 checks */
#pragma omp simd reduction(min : lo) reduction(max : hi)
        for (int64_t i = 0; i < len; i++) {
            float x = p[i];

            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
            pbar[i] += wj * x;
            acc[i] += wj * (x * dg__fast_logf(x));
        }
        bad |= lo < 0.0f || hi > 1.0f;
#pragma omp simd reduction(max : dev)
        for (int64_t r = 0; r < rows; r++) {
            float sum = 0.0f, d;

            for (int c = 0; c < C; c++)
                sum += p[r * C + c];
            d = fabsf(sum - 1.0f);
            dev = d > dev ? d : dev;
        }
        bad |= dev > (float)PROB_SUM_TOL;
    }

    /* pass 2: minus the mean's pbar ln pbar, then one sum per row */
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        acc[i] -= pbar[i] * dg__fast_logf(pbar[i]);
    for (int64_t r = 0; r < rows; r++) {
        float row = 0.0f;

        for (int c = 0; c < C; c++)
            row += acc[r * C + c];
        bad |= isnan(row);
        scores[r] = row > 0.0f ? row : 0.0;
    }
    return bad;
}

/* Consensus KL of rows [start, start + rows), rows <= CKL_BLOCK, into
 * scores[0, rows), NaN for a row with an invalid member row. table is
 * dg__ckl_table's when the processor has AVX-512F, else NULL. scratch
 * holds CKL_BLOCK_WORK(M, C) doubles. */
#define CKL_BLOCK_WORK(M, C) ((size_t)CKL_BLOCK * (size_t)(C) + 2 * ((size_t)(M) + 1))

static void consensus_kl_block(const committee *cm, int64_t start, int64_t rows, const float *table,
                               double *scratch, double *scores)
{
    float *pbar = (float *)scratch, *acc = pbar + rows * cm->C;
    const float **member = (const float **)(scratch + CKL_BLOCK * (size_t)cm->C);
    float *w = (float *)(member + cm->M + 1);
    int J = 0, bad;

    for (int j = 0; j <= cm->M; j++)
        if (cm->w_member[j] != 0.0) {
            member[J] = member_row(cm, j, start);
            w[J++] = (float)cm->w_member[j];
        }
    memset(pbar, 0, (size_t)(rows * cm->C) * sizeof *pbar);
    memset(acc, 0, (size_t)(rows * cm->C) * sizeof *acc);
#if DG__HAVE_CKL_AVX512
    if (table)
        bad = dg__ckl_block_avx512(member, w, J, rows, cm->C, table, pbar, acc, scores);
    else
#endif
        bad = dg__ckl_block_portable(member, w, J, rows, cm->C, pbar, acc, scores);
    (void)table;

    /* an invalid entry somewhere in the block: find its rows (rare) */
    if (bad)
        for (int64_t r = 0; r < rows; r++) {
            scores[r] = fmax(scores[r], 0.0);
            for (int j = 0; j <= cm->M; j++)
                if (cm->w_member[j] != 0.0 && !row_valid(member_row(cm, j, start + r), cm->C)) {
                    scores[r] = NAN;
                    break;
                }
        }
}

/* KL(pbar || s) with pbar the teachers' weighted mean. This direction is
 * the distillation loss itself (the student is trained on KL(q || s)), so
 * the score is the part of the committee's knowledge the student has not
 * absorbed on this row; it also punishes most where the student is sure
 * and the teachers are not, the case a label settles. The other direction
 * would reward rows where the student spreads mass the teachers rule out,
 * which the KD loss never asks it to fix. work is (C). */
static double student_kl_row(const committee *cm, int64_t n, double *pbar)
{
    int C = cm->C;
    const float *s = cm->student + n * C;
    double kl = 0.0;

    if (!row_valid(s, C))
        return NAN;
    if (!weighted_mean(cm, n, cm->w_teacher, cm->M, pbar))
        return NAN;
    for (int c = 0; c < C; c++)
        if (pbar[c] > 0.0)
            kl += pbar[c] * (log(pbar[c]) - log(fmax(s[c], STUDENT_LOG_FLOOR)));
    return kl > 0.0 ? kl : 0.0;
}

/* Gradient conflict, the AE-KD view of one row. At temperature T teacher m
 * pulls the student's logits along g_m = s - q_m (its KD logit gradient up
 * to the factor T/B). The score is
 *     sum_m w_m |g_m|  -  |g*|,   g* = min-norm point of hull{g_m},
 * the part of the teachers' pull that the best convex reweighting (AE-KD
 * with cap 1, the MGDA point) cancels out. Since g_m - g_k = q_k - q_m, it
 * is 0 exactly when all teachers give the same target, whatever the
 * student; when the teachers agree with each other but not the student,
 * the pulls point one way and the score stays small (student-kl covers
 * that case); when they pull in opposite directions around the student,
 * g* = 0 and the score is their whole mean pull. The mean gradient |gbar|
 * in place of the weighted mean norm would not do: for two teachers
 * pulling equally in opposite ways gbar = g* = 0 and it would score the
 * strongest conflict as none. Teachers with weight 0 are not in the hull.
 * work holds s (C), g (M, C), G (M, M), a (M), g* (C) and the QP's own
 * DG__QP_WORK(M), so the row loop never allocates. */
static double conflict_row(const committee *cm, int64_t n, double *work, dg_error *err)
{
    int C = cm->C, M = cm->M, J = 0;
    double *s = work, *g = s + C, *G = g + (size_t)M * C, *a = G + (size_t)M * M;
    double *gstar = a + M, *qp_work = gstar + C, mean_norm = 0.0, norm_star = 0.0;
    const float *s_row = cm->student + n * C;

    /* pass 1: softened student, then one gradient per teacher in use */
    if (!row_valid(s_row, C))
        return NAN;
    soften(s_row, C, cm->T, s);
    for (int m = 0; m < M; m++) {
        const float *p = member_row(cm, m, n);
        double *g_j = g + (size_t)J * C, norm = 0.0;

        if (cm->w_teacher[m] == 0.0)
            continue;
        if (!row_valid(p, C))
            return NAN;
        soften(p, C, cm->T, g_j);
        for (int c = 0; c < C; c++) {
            g_j[c] = s[c] - g_j[c];
            norm += g_j[c] * g_j[c];
        }
        mean_norm += cm->w_teacher[m] * sqrt(norm);
        J++;
    }
    if (J == 1)
        return 0.0; /* the hull is one point: g* = g_1 and the score is 0 exactly */

    /* pass 2: Gram matrix and the min-norm weights (cap 1: the whole hull) */
    for (int i = 0; i < J; i++)
        for (int k = 0; k <= i; k++) {
            double dot = 0.0;

            for (int c = 0; c < C; c++)
                dot += g[(size_t)i * C + c] * g[(size_t)k * C + c];
            G[i * J + k] = G[k * J + i] = dot;
        }
    if (dg__qp_solve(G, J, 1.0, a, qp_work, err) != 0)
        return NAN;

    /* pass 3: g* itself, summed from the gradients (more accurate than
     * sqrt(a'Ga) when the teachers nearly cancel) */
    memset(gstar, 0, (size_t)C * sizeof *gstar);
    for (int j = 0; j < J; j++)
        for (int c = 0; c < C; c++)
            gstar[c] += a[j] * g[(size_t)j * C + c];
    for (int c = 0; c < C; c++)
        norm_star += gstar[c] * gstar[c];
    return fmax(0.0, mean_norm - sqrt(norm_star));
}

static double score_row(dg_acq_kind kind, const committee *cm, int64_t n, double *work,
                        dg_error *err)
{
    const float *s = cm->student ? cm->student + n * cm->C : NULL;

    switch (kind) {
    case DG_ACQ_RANDOM:
        return (double)(dg__row_hash(cm->seed, DG__SALT_RANDOM, (uint64_t)n) >> 11) * 0x1.0p-53;
    case DG_ACQ_LEAST_CONFIDENCE:
        return least_confidence_row(s, cm->C);
    case DG_ACQ_MARGIN:
        return margin_row(s, cm->C);
    case DG_ACQ_ENTROPY:
        return entropy_row(s, cm->C);
    case DG_ACQ_VOTE_ENTROPY:
        return vote_entropy_row(cm, n, work);
    case DG_ACQ_CONSENSUS_KL:
        return consensus_kl_row(cm, n, work);
    case DG_ACQ_STUDENT_KL:
        return student_kl_row(cm, n, work);
    case DG_ACQ_GRADIENT_CONFLICT:
        return conflict_row(cm, n, work, err);
    }
    return NAN;
}

/* ------------------------------------------------------------------------
 * Driver
 */

static int uses_student(dg_acq_kind kind, int include_student)
{
    return kind == DG_ACQ_LEAST_CONFIDENCE || kind == DG_ACQ_MARGIN || kind == DG_ACQ_ENTROPY ||
           kind == DG_ACQ_STUDENT_KL || kind == DG_ACQ_GRADIENT_CONFLICT ||
           (include_student && (kind == DG_ACQ_VOTE_ENTROPY || kind == DG_ACQ_CONSENSUS_KL));
}

static int uses_teachers(dg_acq_kind kind)
{
    return kind == DG_ACQ_VOTE_ENTROPY || kind == DG_ACQ_CONSENSUS_KL ||
           kind == DG_ACQ_STUDENT_KL || kind == DG_ACQ_GRADIENT_CONFLICT;
}

static int check_input(dg_acq_kind kind, const dg_acq_input *in, const double *scores,
                       dg_error *err)
{
    double wsum = 0.0;

    if ((int)kind < 0 || (int)kind >= ACQ_KINDS)
        return dg__fail(err, DG_EINVAL, "acquisition score: expected a kind in [0, %d), found %d",
                        ACQ_KINDS, (int)kind);
    if (!in || in->N < 0 || (in->N > 0 && !scores))
        return dg__fail(err, DG_EINVAL, "%s: expected N >= 0 rows and a score array",
                        ACQ_NAMES[kind]);
    if (kind == DG_ACQ_RANDOM)
        return 0;
    if (in->C < 2)
        return dg__fail(err, DG_EINVAL, "%s: expected at least 2 classes, found %d",
                        ACQ_NAMES[kind], in->C);
    if (uses_student(kind, in->include_student) && !in->student)
        return dg__fail(err, DG_EINVAL, "%s: expected the student's N x C probabilities",
                        ACQ_NAMES[kind]);
    if (!uses_teachers(kind))
        return 0;
    if (in->M < 1 || !in->teachers)
        return dg__fail(err, DG_EINVAL,
                        "%s: expected M >= 1 teachers' N x C probabilities, found M = %d%s",
                        ACQ_NAMES[kind], in->M, in->teachers ? "" : " and no matrix");
    for (int m = 0; in->weights && m < in->M; m++) {
        if (!(in->weights[m] >= 0.0) || !isfinite(in->weights[m]))
            return dg__fail(err, DG_EINVAL,
                            "%s: teacher %d weight: expected a finite value >= 0, found %g",
                            ACQ_NAMES[kind], m + 1, in->weights[m]);
        wsum += in->weights[m];
    }
    if (in->weights && !(wsum > 0.0))
        return dg__fail(err, DG_EINVAL, "%s: teacher weights: expected a positive sum, found 0",
                        ACQ_NAMES[kind]);
    if (kind == DG_ACQ_GRADIENT_CONFLICT &&
        (!(in->temperature > 0.0) || !isfinite(in->temperature)))
        return dg__fail(err, DG_EINVAL, "%s: expected a temperature > 0, found %g", ACQ_NAMES[kind],
                        in->temperature);
    return 0;
}

/* Normalised teacher shares (M) and committee shares (M + 1) into w. */
static void fill_weights(const dg_acq_input *in, dg_acq_kind kind, double *w_teacher,
                         double *w_member)
{
    double sum = 0.0;
    int with_student = in->include_student && in->student &&
                       (kind == DG_ACQ_VOTE_ENTROPY || kind == DG_ACQ_CONSENSUS_KL);
    double teacher_share = with_student ? (double)in->M / (in->M + 1) : 1.0;

    for (int m = 0; m < in->M; m++)
        sum += in->weights ? in->weights[m] : 1.0;
    for (int m = 0; m < in->M; m++) {
        w_teacher[m] = (in->weights ? in->weights[m] : 1.0) / sum;
        w_member[m] = w_teacher[m] * teacher_share;
    }
    w_member[in->M] = with_student ? 1.0 / (in->M + 1) : 0.0;
}

/* Row n failed in the parallel pass: find which input row is invalid and
 * say so; if none is, the QP failed, and a serial rerun gives its reason. */
static int explain_row(dg_acq_kind kind, const committee *cm, int64_t n, double *work,
                       dg_error *err)
{
    dg_error qp_err;
    char what[32];

    if (cm->student && (uses_student(kind, 0) || cm->w_member[cm->M] > 0.0) &&
        !row_valid(cm->student + n * cm->C, cm->C))
        return fail_row(err, "student", n, cm->student + n * cm->C, cm->C);
    for (int m = 0; uses_teachers(kind) && m < cm->M; m++)
        if (cm->w_teacher[m] > 0.0 && !row_valid(member_row(cm, m, n), cm->C)) {
            snprintf(what, sizeof what, "teacher %d", m + 1);
            return fail_row(err, what, n, member_row(cm, m, n), cm->C);
        }
    dg__clear(&qp_err);
    score_row(kind, cm, n, work, &qp_err);
    return dg__fail(err, qp_err.code ? qp_err.code : DG_ENUMERIC, "%s: row %lld: %s",
                    ACQ_NAMES[kind], (long long)n + 1,
                    qp_err.code ? qp_err.msg : "score is not a number");
}

int dg_acq_scores(dg_acq_kind kind, const dg_acq_input *in, double *scores, dg_error *err)
{
    committee cm;
    double *weights, *work;
    const float *table = NULL;
    size_t per_thread;
    int64_t bad;
    int rc, threads;
#if DG__HAVE_CKL_AVX512
    float log_table[2 * DG__CKL_TABLE];
#endif

    rc = check_input(kind, in, scores, err);
    if (rc != 0 || in->N == 0)
        return rc;

    /* per-call setup: shares and one scratch block per thread, so the
     * row loop never allocates */
    weights = dg__alloc((size_t)(2 * in->M + 1), sizeof *weights, 1, err);
    if (!weights)
        return DG_ENOMEM;
    cm = (committee){in->N,   in->C,           in->M,           in->student, in->teachers,
                     weights, weights + in->M, in->temperature, in->seed};
    if (uses_teachers(kind))
        fill_weights(in, kind, cm.w_teacher, cm.w_member);
    threads = omp_get_max_threads();
    per_thread = 2 * (size_t)in->C + (size_t)in->M * (size_t)in->C + (size_t)in->M * (size_t)in->M +
                 (size_t)in->M + DG__QP_WORK(in->M);
    if (kind == DG_ACQ_CONSENSUS_KL && per_thread < CKL_BLOCK_WORK(in->M, in->C))
        per_thread = CKL_BLOCK_WORK(in->M, in->C);
    work = dg__alloc((size_t)threads, per_thread * sizeof *work, 0, err);
    if (!work) {
        free(weights);
        return DG_ENOMEM;
    }

#if DG__HAVE_CKL_AVX512
    /* the AVX-512 kernel where the processor has it: its log and sums
     * differ from the portable kernel's in the last bits */
    if (kind == DG_ACQ_CONSENSUS_KL && __builtin_cpu_supports("avx512f")) {
        dg__ckl_table(log_table);
        table = log_table;
    }
#endif

    /* one pass over the rows; static schedule, and every row's value
     * depends on that row alone, so results do not depend on threads */
    bad = in->N;
#pragma omp parallel reduction(min : bad)
    {
        double *work_t = work + (size_t)omp_get_thread_num() * per_thread;
        dg_error local;

        if (kind == DG_ACQ_CONSENSUS_KL) {
#pragma omp for schedule(static)
            for (int64_t start = 0; start < in->N; start += CKL_BLOCK) {
                int64_t rows = in->N - start < CKL_BLOCK ? in->N - start : CKL_BLOCK;

                consensus_kl_block(&cm, start, rows, table, work_t, scores + start);
                for (int64_t r = 0; r < rows; r++)
                    if (isnan(scores[start + r]) && start + r < bad)
                        bad = start + r;
            }
        } else {
#pragma omp for schedule(static)
            for (int64_t n = 0; n < in->N; n++) {
                scores[n] = score_row(kind, &cm, n, work_t, &local);
                if (isnan(scores[n]) && n < bad)
                    bad = n;
            }
        }
    }
    rc = bad < in->N ? explain_row(kind, &cm, bad, work, err) : 0;
    free(work);
    free(weights);
    return rc;
}

/* ------------------------------------------------------------------------
 * Teacher reliability on the labelled rows
 */

int dg_teacher_reliability_eval(const float *teachers, int M, int64_t N, int C,
                                const int32_t *labels, dg_teacher_reliability *out, dg_error *err)
{
    int64_t n = 0;

    if (M < 1 || N < 0 || C < 2 || !out || (N > 0 && (!teachers || !labels)))
        return dg__fail(err, DG_EINVAL,
                        "teacher reliability: expected M >= 1 teachers' N x C probabilities "
                        "with C >= 2 and N labels, found M = %d, N = %lld, C = %d",
                        M, (long long)N, C);
    for (int64_t i = 0; i < N; i++) {
        if (labels[i] < -1 || labels[i] >= C)
            return dg__fail(err, DG_EINVAL,
                            "teacher reliability: labels: row %lld: expected a class in "
                            "[0, %d) or -1, found %d",
                            (long long)i + 1, C, labels[i]);
        n += labels[i] >= 0;
    }

    for (int m = 0; m < M; m++) {
        dg_eval_report rep;
        double p, z2 = WILSON_Z * WILSON_Z, denom, centre, half;
        int rc;

        out[m] = (dg_teacher_reliability){0, NAN, 0.0, 1.0, NAN};
        if (n == 0)
            continue;
        rc = dg_evaluate(teachers + (int64_t)m * N * C, labels, N, C, &rep, err);
        if (rc != 0)
            return rc;
        p = rep.accuracy;
        out[m].n = rep.n;
        out[m].accuracy = p;
        out[m].ece = rep.ece;
        dg_eval_report_free(&rep);

        /* Wilson score interval: stays inside [0, 1] and is not empty at
         * p = 0 or 1, unlike the normal approximation */
        denom = 1.0 + z2 / n;
        centre = (p + z2 / (2.0 * n)) / denom;
        half = WILSON_Z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom;
        out[m].acc_low = fmax(0.0, centre - half);
        out[m].acc_high = fmin(1.0, centre + half);
    }
    return 0;
}
