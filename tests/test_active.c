/* Active learning: acquisition scores on rows worked out by hand, teacher
 * reliability, and batch selection (top-k order and ties, labelled rows and
 * exact copies never picked, diversity over clusters, class balance).
 */
#include "active/active.h"
#include "check.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define LN2 0.69314718055994531
#define LN3 1.09861228866810969

/* Scores of `kind` for N rows of C classes; the student and M teacher
 * blocks are given row-major. Returns the status. */
static int score(dg_acq_kind kind, int64_t N, int C, const float *student, int M,
                 const float *teachers, double *out)
{
    dg_acq_input in = dg_acq_defaults();
    dg_error err;

    in.N = N;
    in.C = C;
    in.student = student;
    in.M = M;
    in.teachers = teachers;
    in.temperature = 1.0;
    return dg_acq_scores(kind, &in, out, &err);
}

/* ------------------------------------------------------------------------
 * Student scores
 */

static void test_student_scores_match_hand_values(void)
{
    /* row 0 (0.5, 0.5, 0): least confidence 0.5, margin 1 - 0 = 1, entropy ln 2
     * row 1 (1, 0, 0):     0, 1 - 1 = 0, entropy 0 (zeros give finite scores)
     * row 2 (.7, .2, .1):  0.3, 1 - 0.5 = 0.5,
     *   entropy .7*0.3566749 + .2*1.6094379 + .1*2.3025851 = 0.8018186 */
    float s[9] = {0.5f, 0.5f, 0.0f, 1.0f, 0.0f, 0.0f, 0.7f, 0.2f, 0.1f};
    double lc[3], margin[3], ent[3];

    CHECK(score(DG_ACQ_LEAST_CONFIDENCE, 3, 3, s, 0, NULL, lc) == 0);
    CHECK(score(DG_ACQ_MARGIN, 3, 3, s, 0, NULL, margin) == 0);
    CHECK(score(DG_ACQ_ENTROPY, 3, 3, s, 0, NULL, ent) == 0);
    CHECK_NEAR(lc[0], 0.5, 1e-7);
    CHECK_NEAR(lc[1], 0.0, 1e-7);
    CHECK_NEAR(lc[2], 0.3, 1e-7);
    CHECK_NEAR(margin[0], 1.0, 1e-7);
    CHECK_NEAR(margin[1], 0.0, 1e-7);
    CHECK_NEAR(margin[2], 0.5, 1e-7);
    CHECK_NEAR(ent[0], LN2, 1e-7);
    CHECK(ent[1] == 0.0);
    CHECK_NEAR(ent[2], 0.8018186, 1e-6);
}

static void test_random_scores_follow_the_seed(void)
{
    dg_acq_input in = dg_acq_defaults();
    double a[100], b[100], c[100];
    int differ = 0;

    in.N = 100;
    in.seed = 7;
    CHECK(dg_acq_scores(DG_ACQ_RANDOM, &in, a, NULL) == 0);
    CHECK(dg_acq_scores(DG_ACQ_RANDOM, &in, b, NULL) == 0);
    in.seed = 8;
    CHECK(dg_acq_scores(DG_ACQ_RANDOM, &in, c, NULL) == 0);
    for (int i = 0; i < 100; i++) {
        CHECK(a[i] == b[i]);
        CHECK(a[i] >= 0.0 && a[i] < 1.0);
        differ += a[i] != c[i];
    }
    CHECK(differ > 95);
}

/* ------------------------------------------------------------------------
 * Committee scores
 */

static void test_consensus_kl_is_the_generalised_js_divergence(void)
{
    /* two teachers, C = 2: row 0 (1,0) vs (0,1): pbar = (.5,.5) and each
     * member's KL to it is ln 2, so the mean is ln 2; row 1 both (.5,.5): 0 */
    float t[8] = {1, 0, 0.5f, 0.5f, /* teacher 1 */ 0, 1, 0.5f, 0.5f /* teacher 2 */};
    float s[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    double w[2] = {3.0, 1.0}, kl[2];
    dg_acq_input in = dg_acq_defaults();

    /* consensus KL is summed in float with a polynomial log: 1e-6 */
    CHECK(score(DG_ACQ_CONSENSUS_KL, 2, 2, NULL, 2, t, kl) == 0);
    CHECK_NEAR(kl[0], LN2, 1e-6);
    CHECK_NEAR(kl[1], 0.0, 1e-6);

    /* weights 3:1 -> shares .75/.25, pbar = (.75,.25):
     * .75 ln(1/.75) + .25 ln(1/.25) = .2157616 + .3465736 = .5623351 = H(.75,.25) */
    in.N = 2;
    in.C = 2;
    in.M = 2;
    in.teachers = t;
    in.weights = w;
    CHECK(dg_acq_scores(DG_ACQ_CONSENSUS_KL, &in, kl, NULL) == 0);
    CHECK_NEAR(kl[0], 0.5623351446, 1e-6);

    /* the student (.5,.5) as a third member, shares 1/3 each: pbar stays
     * (.5,.5), the teachers contribute ln 2 each, the student 0: 2/3 ln 2 */
    in.weights = NULL;
    in.student = s;
    in.include_student = 1;
    CHECK(dg_acq_scores(DG_ACQ_CONSENSUS_KL, &in, kl, NULL) == 0);
    CHECK_NEAR(kl[0], 2.0 / 3.0 * LN2, 1e-6);
}

static void test_vote_entropy_counts_argmax_votes(void)
{
    /* three teachers, C = 3, four rows; argmax votes per row:
     *   row 0: 0,0,0 -> entropy 0
     *   row 1: 0,1,2 -> ln 3
     *   row 2: 0,0,1 -> H(2/3, 1/3) = 0.6365142
     *   row 3: 0,0, and a tie (.5,.5,0) split half to 0 and 1:
     *          votes (5/6, 1/6) -> 0.4505612 */
    float t[3 * 12] = {
        /* teacher 1 */ .8f, .1f, .1f, .6f, .3f, .1f, .5f, .4f, .1f, 1,   0,   0,
        /* teacher 2 */ .7f, .2f, .1f, .2f, .7f, .1f, .9f, .0f, .1f, .9f, .1f, 0,
        /* teacher 3 */ .9f, .0f, .1f, .1f, .2f, .7f, .3f, .6f, .1f, .5f, .5f, 0,
    };
    double v[4];

    CHECK(score(DG_ACQ_VOTE_ENTROPY, 4, 3, NULL, 3, t, v) == 0);
    CHECK_NEAR(v[0], 0.0, 1e-12);
    CHECK_NEAR(v[1], LN3, 1e-12);
    CHECK_NEAR(v[2], 0.6365141683, 1e-9);
    CHECK_NEAR(v[3], 0.4505612088, 1e-9);
}

static void test_student_kl_measures_teachers_mean_against_student(void)
{
    /* teachers (.8,.2) and (.4,.6): pbar = (.6,.4).
     * row 0, student (.9,.1): KL(pbar || s) = .6 ln(.6/.9) + .4 ln(.4/.1)
     *   = -.2432791 + .5545177 = .3112387; the other direction would give
     *   KL(s || pbar) = .2262912.
     * row 1, student (1, 0): ln s_1 is read through the 1e-12 floor:
     *   .6 ln .6 + .4 (ln .4 - ln 1e-12) = 10.3793968, finite. */
    float t[8] = {.8f, .2f, .8f, .2f, .4f, .6f, .4f, .6f};
    float s[4] = {.9f, .1f, 1.0f, 0.0f};
    double kl[2];

    CHECK(score(DG_ACQ_STUDENT_KL, 2, 2, s, 2, t, kl) == 0);
    CHECK_NEAR(kl[0], 0.3112387, 1e-6);
    CHECK_NEAR(kl[1], 10.3793968, 1e-5);
}

static void test_gradient_conflict_is_zero_when_teachers_agree(void)
{
    /* three identical teachers (.7,.2,.1), student (.2,.3,.5): every pull
     * is the same vector, so nothing cancels */
    float t[9] = {.7f, .2f, .1f, .7f, .2f, .1f, .7f, .2f, .1f};
    float s[3] = {.2f, .3f, .5f};
    double g;

    CHECK(score(DG_ACQ_GRADIENT_CONFLICT, 1, 3, s, 3, t, &g) == 0);
    CHECK_NEAR(g, 0.0, 1e-9);
}

static void test_gradient_conflict_grows_when_teachers_split(void)
{
    /* T = 1, C = 2, one row per case:
     * row 0: student (.5,.5), teachers (1,0) and (0,1): g = (-.5,.5) and
     *   (.5,-.5) cancel, g* = 0, score = mean |g| = sqrt(.5) = .7071068
     *   (|mean g| - |g*| would be 0 here);
     * row 1: student (.2,.8), teachers (.9,.1), (.7,.3): g = (-.7,.7) and
     *   (-.5,.5) point one way; g* = g_2, score = (.98995 + .70711)/2 - .70711
     *   = .1 sqrt 2 = .1414214;
     * row 2: both teachers (1,0), student (0,1): they agree, score 0. */
    float t[12] = {1, 0, .9f, .1f, 1, 0, /* teacher 2 */ 0, 1, .7f, .3f, 1, 0};
    float s[6] = {.5f, .5f, .2f, .8f, 0, 1};
    double g[3];

    CHECK(score(DG_ACQ_GRADIENT_CONFLICT, 3, 2, s, 2, t, g) == 0);
    CHECK_NEAR(g[0], sqrt(0.5), 1e-7);
    CHECK_NEAR(g[1], 0.1 * sqrt(2.0), 1e-6);
    CHECK_NEAR(g[2], 0.0, 1e-12);
}

static void test_gradient_conflict_softens_at_the_temperature(void)
{
    /* T = 2: (.9,.1) softens to (sqrt .9, sqrt .1)/sum = (.75,.25), and
     * (.1,.9) to (.25,.75); with student (.5,.5), g = (-.25,.25), (.25,-.25),
     * score .25 sqrt 2 = .3535534 (at T = 1 it would be .4 sqrt 2) */
    float t[4] = {.9f, .1f, .1f, .9f};
    float s[2] = {.5f, .5f};
    dg_acq_input in = dg_acq_defaults();
    double g;

    in.N = 1;
    in.C = 2;
    in.M = 2;
    in.student = s;
    in.teachers = t;
    in.temperature = 2.0;
    CHECK(dg_acq_scores(DG_ACQ_GRADIENT_CONFLICT, &in, &g, NULL) == 0);
    CHECK_NEAR(g, 0.25 * sqrt(2.0), 1e-7);
}

static void test_one_hot_rows_give_finite_scores(void)
{
    /* every probability is 0 or 1: no log of zero may leak out */
    float t[3 * 6] = {1, 0, 0, 0, 1, 0, /* */ 0, 1, 0, 0, 0, 1, /* */ 0, 0, 1, 1, 0, 0};
    float s[6] = {0, 0, 1, 1, 0, 0};
    double v[2];

    for (int k = DG_ACQ_RANDOM; k <= DG_ACQ_GRADIENT_CONFLICT; k++) {
        CHECK(score((dg_acq_kind)k, 2, 3, s, 3, t, v) == 0);
        CHECK(isfinite(v[0]) && isfinite(v[1]) && v[0] >= 0.0 && v[1] >= 0.0);
    }
}

static void test_invalid_probability_row_is_named(void)
{
    float t[2 * 6] = {1, 0, 0, 1,    .5f, .5f, /* teacher 2, row 3 sums to .5 */ 1,
                      0, 0, 1, .25f, .25f};
    dg_acq_input in = dg_acq_defaults();
    double v[3];
    dg_error err;

    in.N = 3;
    in.C = 2;
    in.M = 2;
    in.teachers = t;
    CHECK(dg_acq_scores(DG_ACQ_CONSENSUS_KL, &in, v, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "teacher 2") && strstr(err.msg, "row 3") && strstr(err.msg, "0.5"));
    CHECK(score(DG_ACQ_ENTROPY, 3, 2, NULL, 0, NULL, v) == DG_EINVAL);
}

/* Reference consensus KL in the entropy form H(pbar) - mean H(p_m). */
static double consensus_reference(const float *t, int64_t N, int C, int M, int64_t n)
{
    double pbar[16] = {0}, h = 0.0;

    for (int m = 0; m < M; m++)
        for (int c = 0; c < C; c++) {
            double p = t[((int64_t)m * N + n) * C + c];

            pbar[c] += p / M;
            if (p > 0)
                h += p * log(p) / M;
        }
    for (int c = 0; c < C; c++)
        if (pbar[c] > 0)
            h -= pbar[c] * log(pbar[c]);
    return h;
}

static void test_committee_scores_agree_with_reference_and_threads(void)
{
    /* the 1,000,000 x 10 x 5 workload at a small size: 3000 x 10 x 5 random
     * rows, one thread against two threads, and against the entropy form */
    enum { N = 3000, C = 10, M = 5 };
    float *t = malloc(sizeof(float) * N * C * M);
    double *one = malloc(sizeof(double) * N), *two = malloc(sizeof(double) * N);
    int saved = omp_get_max_threads(), same = 1;
    dg__rng r;

    dg__rng_seed(&r, 3);
    for (int64_t row = 0; row < (int64_t)N * M; row++) {
        double sum = 0.0;

        for (int c = 0; c < C; c++) {
            /* a quarter of the entries exactly zero */
            t[row * C + c] = dg__rng_uniform(&r) < 0.25 ? 0.0f : (float)dg__rng_uniform(&r);
            sum += t[row * C + c];
        }
        if (sum == 0.0) {
            t[row * C] = 1.0f;
            sum = 1.0;
        }
        for (int c = 0; c < C; c++)
            t[row * C + c] = (float)(t[row * C + c] / sum);
    }
    omp_set_num_threads(1);
    CHECK(score(DG_ACQ_CONSENSUS_KL, N, C, NULL, M, t, one) == 0);
    omp_set_num_threads(2);
    CHECK(score(DG_ACQ_CONSENSUS_KL, N, C, NULL, M, t, two) == 0);
    omp_set_num_threads(saved);
    for (int64_t n = 0; n < N; n++) {
        same &= one[n] == two[n];
        CHECK_NEAR(one[n], consensus_reference(t, N, C, M, n), 1e-5);
    }
    CHECK(same);
    free(t);
    free(one);
    free(two);
}

/* Both consensus-KL block kernels against the weighted entropy form in
 * double: an odd class count, a row count that leaves partial vectors,
 * unequal shares, zeros and subnormal entries; then every kind of invalid
 * entry is flagged. */
enum { CKL_ROWS = 37, CKL_C = 7, CKL_J = 3 };

static int run_ckl_kernel(int avx512, float p[CKL_J][CKL_ROWS * CKL_C], double *scores)
{
    static float pbar[CKL_ROWS * CKL_C], acc[CKL_ROWS * CKL_C];
    const float *member[CKL_J] = {p[0], p[1], p[2]};
    static const float w[CKL_J] = {0.5f, 0.3f, 0.2f};

    memset(pbar, 0, sizeof pbar);
    memset(acc, 0, sizeof acc);
#if DG__HAVE_CKL_AVX512
    if (avx512) {
        float table[2 * DG__CKL_TABLE];

        dg__ckl_table(table);
        return dg__ckl_block_avx512(member, w, CKL_J, CKL_ROWS, CKL_C, table, pbar, acc, scores);
    }
#endif
    (void)avx512;
    return dg__ckl_block_portable(member, w, CKL_J, CKL_ROWS, CKL_C, pbar, acc, scores);
}

static void check_ckl_kernel(int avx512)
{
    enum { ROWS = CKL_ROWS, C = CKL_C, J = CKL_J };
    static float p[J][ROWS * C];
    static const double w[J] = {0.5, 0.3, 0.2};
    const float bad_values[] = {-0.01f, -1e-8f, -1e-40f, 1.5f, 1.0000001f, NAN, INFINITY};
    float *cell = &p[2][(ROWS - 1) * C + 3], saved;
    double scores[ROWS];
    dg__rng r;

    dg__rng_seed(&r, 11);
    for (int j = 0; j < J; j++)
        for (int n = 0; n < ROWS; n++) {
            float *row = p[j] + n * C;
            double sum = 0.0;

            for (int c = 0; c < C; c++) {
                double u = dg__rng_uniform(&r);

                row[c] = u < 0.2 ? 0.0f : u < 0.3 ? 1e-40f : (float)dg__rng_uniform(&r);
                sum += row[c];
            }
            if (sum == 0.0) {
                row[0] = 1.0f;
                sum = 1.0;
            }
            for (int c = 0; c < C; c++)
                row[c] = (float)(row[c] / sum);
        }
    for (int c = 0; c < C; c++) /* a one-hot row */
        p[1][5 * C + c] = c == 2 ? 1.0f : 0.0f;
    CHECK(run_ckl_kernel(avx512, p, scores) == 0);
    for (int n = 0; n < ROWS; n++) {
        double ref = 0.0;

        for (int c = 0; c < C; c++) {
            double q = 0.0;

            for (int j = 0; j < J; j++) {
                double x = p[j][n * C + c];

                q += w[j] * x;
                ref += x > 0 ? w[j] * x * log(x) : 0.0;
            }
            ref -= q > 0 ? q * log(q) : 0.0;
        }
        CHECK_NEAR(scores[n], fmax(ref, 0.0), 2e-6);
    }

    /* each invalid entry alone, in the last, partial vector: out of
     * [0, 1], not a number, or a row no longer summing to 1 */
    saved = *cell;
    for (size_t k = 0; k <= sizeof bad_values / sizeof bad_values[0]; k++) {
        *cell = k < sizeof bad_values / sizeof bad_values[0] ? bad_values[k] : saved + 0.002f;
        CHECK(run_ckl_kernel(avx512, p, scores) == 1);
    }
    *cell = saved;
    CHECK(run_ckl_kernel(avx512, p, scores) == 0);
}

static void test_consensus_kl_kernels_agree_with_reference(void)
{
    check_ckl_kernel(0);
#if DG__HAVE_CKL_AVX512
    if (__builtin_cpu_supports("avx512f"))
        check_ckl_kernel(1);
#endif
}

static void test_names_round_trip(void)
{
    dg_acq_kind k;
    dg_select_mode m;
    dg_error err;

    for (int i = DG_ACQ_RANDOM; i <= DG_ACQ_GRADIENT_CONFLICT; i++) {
        CHECK(dg_acq_parse(dg_acq_name((dg_acq_kind)i), &k, NULL) == 0);
        CHECK((int)k == i);
    }
    for (int i = DG_SELECT_TOPK; i <= DG_SELECT_BALANCED; i++) {
        CHECK(dg_select_parse(dg_select_name((dg_select_mode)i), &m, NULL) == 0);
        CHECK((int)m == i);
    }
    CHECK(dg_acq_parse("bald", &k, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "\"bald\"") && strstr(err.msg, "consensus-kl"));
}

/* ------------------------------------------------------------------------
 * Teacher reliability
 */

static void test_reliability_gives_wilson_interval_and_ece(void)
{
    /* 12 rows, C = 2, labels: ten labelled 0 then two unlabelled (-1).
     * teacher 1: (.9,.1) on rows 0-7 (right), (.1,.9) on rows 8-9 (wrong),
     *   anything on 10-11: n = 10, accuracy .8; every confidence .9 falls in
     *   bin 13 of 15, so ECE = |.8 - .9| = .1; Wilson 95% for 8/10:
     *   centre (.8 + z^2/20)/(1 + z^2/10) = .716738, half .226577.
     * teacher 2: (1,0) everywhere: accuracy 1, ECE 0, Wilson [.722467, 1]. */
    float t[2 * 24];
    int32_t y[12];
    dg_teacher_reliability rel[2];

    for (int i = 0; i < 12; i++) {
        int right = i < 8 || i >= 10;

        y[i] = i < 10 ? 0 : -1;
        t[2 * i] = right ? .9f : .1f;
        t[2 * i + 1] = right ? .1f : .9f;
        t[24 + 2 * i] = 1.0f;
        t[24 + 2 * i + 1] = 0.0f;
    }
    CHECK(dg_teacher_reliability_eval(t, 2, 12, 2, y, rel, NULL) == 0);
    CHECK(rel[0].n == 10);
    CHECK_NEAR(rel[0].accuracy, 0.8, 1e-12);
    CHECK_NEAR(rel[0].ece, 0.1, 1e-6);
    CHECK_NEAR(rel[0].acc_low, 0.4901625, 1e-6);
    CHECK_NEAR(rel[0].acc_high, 0.9433178, 1e-6);
    CHECK_NEAR(rel[1].accuracy, 1.0, 1e-12);
    CHECK_NEAR(rel[1].ece, 0.0, 1e-12);
    CHECK_NEAR(rel[1].acc_low, 0.7224672, 1e-6);
    CHECK_NEAR(rel[1].acc_high, 1.0, 1e-12);

    for (int i = 0; i < 12; i++)
        y[i] = -1;
    CHECK(dg_teacher_reliability_eval(t, 2, 12, 2, y, rel, NULL) == 0);
    CHECK(rel[0].n == 0 && isnan(rel[0].accuracy) && rel[0].acc_low == 0.0);
}

/* ------------------------------------------------------------------------
 * Batch selection
 */

static int pick(const double *scores, int64_t N, int64_t K, const dg_select_opts *o,
                int64_t *picked, int64_t *n)
{
    dg_error err;
    int rc = dg_select_batch(scores, N, K, o, picked, n, &err);

    if (rc != 0)
        fprintf(stderr, "  select: %s\n", err.msg);
    return rc;
}

static void test_topk_returns_best_with_seeded_tie_order(void)
{
    /* rows 1 and 3 tie at .9, then row 5 at .7 */
    double s[6] = {.1, .9, .5, .9, .3, .7};
    dg_select_opts o = dg_select_defaults();
    int64_t p[3], q[3], n;
    int orders[2] = {0, 0};

    for (uint64_t seed = 0; seed < 16; seed++) {
        o.seed = seed;
        CHECK(pick(s, 6, 3, &o, p, &n) == 0 && n == 3);
        CHECK(pick(s, 6, 3, &o, q, &n) == 0);
        CHECK(memcmp(p, q, sizeof p) == 0);
        CHECK((p[0] == 1 && p[1] == 3) || (p[0] == 3 && p[1] == 1));
        CHECK(p[2] == 5);
        orders[p[0] == 3]++;
    }
    CHECK(orders[0] > 0 && orders[1] > 0); /* the seed, not the row id, breaks ties */
}

/* Rank order of the library: score down, then seeded hash up, then id. */
static uint64_t ref_seed;
static const double *ref_scores;
static int ref_cmp(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    uint64_t hi = dg__row_hash(ref_seed, DG__SALT_TIES, (uint64_t)i);
    uint64_t hj = dg__row_hash(ref_seed, DG__SALT_TIES, (uint64_t)j);

    if (ref_scores[i] != ref_scores[j])
        return ref_scores[i] > ref_scores[j] ? -1 : 1;
    if (hi != hj)
        return hi < hj ? -1 : 1;
    return i < j ? -1 : i > j;
}

static void test_topk_matches_a_full_sort(void)
{
    /* 5000 rows with scores from 20 levels (many ties), every 7th labelled,
     * against a full sort of the unlabelled rows */
    enum { N = 5000, K = 300 };
    static double s[N];
    static unsigned char lab[N];
    static int64_t ref[N], p[K];
    dg_select_opts o = dg_select_defaults();
    int64_t n_ref = 0, n;
    dg__rng r;

    dg__rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        s[i] = (double)dg__rng_below(&r, 20);
        lab[i] = i % 7 == 0;
        if (!lab[i])
            ref[n_ref++] = i;
    }
    ref_seed = o.seed = 99;
    ref_scores = s;
    qsort(ref, (size_t)n_ref, sizeof *ref, ref_cmp);
    o.labelled = lab;
    CHECK(pick(s, N, K, &o, p, &n) == 0 && n == K);
    CHECK(memcmp(p, ref, sizeof p) == 0);
}

static void test_labelled_rows_and_copies_are_never_picked(void)
{
    /* 12 rows, D = 2. Rows 0-3 are copies of each other (best scores);
     * row 4 is labelled and row 5 copies it; rows 6 and 7 differ only in
     * the sign of a zero (the same vector). Every mode may take one of
     * rows 0-3, none of 4 and 5, one of 6 and 7. */
    float x[24] = {1,           1, 1, 1, 1, 1, 1, 1, /* 4 */ 2, 2, 2, 2, /* 6 */ 0.0f, 3, -0.0f, 3,
                   /* 8.. */ 4, 0, 5, 0, 6, 0, 7, 0};
    double s[12] = {10, 9.9, 9.8, 9.7, 20, 9.6, 9.5, 9.4, 1, 2, 3, 4};
    unsigned char lab[12] = {0, 0, 0, 0, 1};
    int32_t pred[12] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 1};
    dg_select_opts o = dg_select_defaults();
    int64_t p[12], n;

    o.labelled = lab;
    o.features = x;
    o.D = 2;
    o.embedding = x;
    o.H = 2;
    o.predicted = pred;
    for (int mode = DG_SELECT_TOPK; mode <= DG_SELECT_BALANCED; mode++) {
        int first_four = 0, six_seven = 0;

        o.mode = (dg_select_mode)mode;
        CHECK(pick(s, 12, 12, &o, p, &n) == 0);
        CHECK(n == 6); /* one of 0-3, one of 6-7, rows 8-11 */
        for (int64_t i = 0; i < n; i++) {
            CHECK(p[i] != 4 && p[i] != 5);
            first_four += p[i] <= 3;
            six_seven += p[i] == 6 || p[i] == 7;
        }
        CHECK(first_four == 1 && six_seven == 1);
    }
    o.mode = DG_SELECT_TOPK;
    CHECK(pick(s, 12, 3, &o, p, &n) == 0 && n == 3);
    CHECK(p[0] == 0 && p[1] == 6 && p[2] == 11);
}

static void test_k_beyond_available_returns_all(void)
{
    double s[5] = {.5, .4, .3, .2, .1};
    unsigned char lab[5] = {1, 0, 1, 0, 0};
    dg_select_opts o = dg_select_defaults();
    int64_t p[10], n = -1;

    o.labelled = lab;
    CHECK(pick(s, 5, 10, &o, p, &n) == 0);
    CHECK(n == 3 && p[0] == 1 && p[1] == 3 && p[2] == 4);
    CHECK(pick(s, 5, 0, &o, p, &n) == 0 && n == 0);
}

/* Five clusters of 40 rows in 2-D, 100 apart, unit spread; cluster 0 holds
 * every high score (.9-1), the rest .2-.5. */
static void five_clusters(float *emb, double *s, int *cluster)
{
    dg__rng r;

    dg__rng_seed(&r, 5);
    for (int i = 0; i < 200; i++) {
        int k = i % 5;

        cluster[i] = k;
        emb[2 * i] = (float)(100.0 * k + dg__rng_normal(&r));
        emb[2 * i + 1] = (float)(50.0 * (k % 2) + dg__rng_normal(&r));
        s[i] = k == 0 ? 0.9 + 0.1 * dg__rng_uniform(&r) : 0.2 + 0.3 * dg__rng_uniform(&r);
    }
}

static int clusters_hit(const int64_t *p, int64_t n, const int *cluster)
{
    int seen[5] = {0}, count = 0;

    for (int64_t i = 0; i < n; i++)
        seen[cluster[p[i]]] = 1;
    for (int k = 0; k < 5; k++)
        count += seen[k];
    return count;
}

static void test_diverse_spreads_over_clusters_where_topk_does_not(void)
{
    float emb[400];
    double s[200], zero[200];
    int cluster[200];
    dg_select_opts o = dg_select_defaults();
    int64_t p[10], q[10], n;

    five_clusters(emb, s, cluster);
    CHECK(pick(s, 200, 10, &o, p, &n) == 0 && n == 10);
    CHECK(clusters_hit(p, n, cluster) == 1);

    o.mode = DG_SELECT_DIVERSE;
    o.embedding = emb;
    o.H = 2;
    CHECK(pick(s, 200, 10, &o, p, &n) == 0 && n == 10);
    CHECK(clusters_hit(p, n, cluster) >= 4);
    CHECK(cluster[p[0]] == 0); /* the first pick is the best score */
    CHECK(pick(s, 200, 10, &o, q, &n) == 0);
    CHECK(memcmp(p, q, sizeof p) == 0);

    /* with every score 0 the mode is plain farthest-first: one per cluster */
    for (int i = 0; i < 200; i++)
        zero[i] = 0.0;
    CHECK(pick(zero, 200, 5, &o, p, &n) == 0 && n == 5);
    CHECK(clusters_hit(p, n, cluster) == 5);

    /* a pool of the 60 best rows (40 from cluster 0) still spreads */
    o.pool = 60;
    CHECK(pick(s, 200, 10, &o, p, &n) == 0 && n == 10);
    CHECK(clusters_hit(p, n, cluster) >= 2);
}

static void test_balanced_round_robins_over_predicted_classes(void)
{
    /* classes 0,1,2; class 0 holds the four best scores. K = 6 -> two per
     * class, each round best first: round 1 = rows 0 (.99), 4 (.5), 6 (.3);
     * round 2 = rows 1 (.98), 5 (.4), 7 (.2). */
    double s[9] = {.99, .98, .97, .96, .5, .4, .3, .2, .1};
    int32_t pred[9] = {0, 0, 0, 0, 1, 1, 2, 2, 2};
    int64_t want[6] = {0, 4, 6, 1, 5, 7}, p[6], n;
    dg_select_opts o = dg_select_defaults();

    o.mode = DG_SELECT_BALANCED;
    o.predicted = pred;
    CHECK(pick(s, 9, 6, &o, p, &n) == 0 && n == 6);
    CHECK(memcmp(p, want, sizeof want) == 0);
}

int main(void)
{
    RUN(test_student_scores_match_hand_values);
    RUN(test_random_scores_follow_the_seed);
    RUN(test_consensus_kl_is_the_generalised_js_divergence);
    RUN(test_consensus_kl_kernels_agree_with_reference);
    RUN(test_vote_entropy_counts_argmax_votes);
    RUN(test_student_kl_measures_teachers_mean_against_student);
    RUN(test_gradient_conflict_is_zero_when_teachers_agree);
    RUN(test_gradient_conflict_grows_when_teachers_split);
    RUN(test_gradient_conflict_softens_at_the_temperature);
    RUN(test_one_hot_rows_give_finite_scores);
    RUN(test_invalid_probability_row_is_named);
    RUN(test_committee_scores_agree_with_reference_and_threads);
    RUN(test_names_round_trip);
    RUN(test_reliability_gives_wilson_interval_and_ece);
    RUN(test_topk_returns_best_with_seeded_tie_order);
    RUN(test_topk_matches_a_full_sort);
    RUN(test_labelled_rows_and_copies_are_never_picked);
    RUN(test_k_beyond_available_returns_all);
    RUN(test_diverse_spreads_over_clusters_where_topk_does_not);
    RUN(test_balanced_round_robins_over_predicted_classes);
    return check_summary();
}
