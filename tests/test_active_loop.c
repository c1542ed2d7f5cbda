/* Tests of the active-learning loop: Cohen's kappa and the cost crossing
 * points against hand-computed values, reliability weights, the committee
 * vote, and small simulations on synthetic blobs (deterministic, never a
 * row labelled twice, the estimate mode learning from the committee).
 */
#include "check.h"
#include "disagree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Hand-computed pieces
 */

static void kappa_matches_hand_computed_values(void)
{
    /* agree on 4 of 6 rows: p_o = 2/3; marginals (2,2,2) and (2,3,1):
     * p_e = (4 + 6 + 2) / 36 = 1/3; kappa = (2/3 - 1/3) / (2/3) = 0.5 */
    int32_t a[6] = {0, 0, 1, 1, 2, 2}, b[6] = {0, 1, 1, 1, 2, 0};
    /* always disagreeing over two balanced classes: p_o = 0, p_e = 1/2 */
    int32_t c[2] = {0, 1}, d[2] = {1, 0};
    int32_t same[3] = {2, 2, 2}, bad[3] = {0, 3, 1};

    CHECK_NEAR(dg_cohen_kappa(a, b, 6, 3), 0.5, 1e-12);
    CHECK_NEAR(dg_cohen_kappa(b, a, 6, 3), 0.5, 1e-12);
    CHECK_NEAR(dg_cohen_kappa(a, a, 6, 3), 1.0, 1e-12);
    CHECK_NEAR(dg_cohen_kappa(c, d, 2, 2), -1.0, 1e-12);
    CHECK_NEAR(dg_cohen_kappa(same, same, 3, 3), 1.0, 1e-12);
    CHECK(isnan(dg_cohen_kappa(same, bad, 3, 3)));
    CHECK(isnan(dg_cohen_kappa(a, b, 0, 3)));
}

static void crossing_is_the_first_point_at_or_above_the_target(void)
{
    int64_t labels[5] = {100, 200, 300, 400, 500};
    double acc[5] = {0.5, NAN, 0.7, 0.69, 0.9};

    CHECK(dg_al_crossing(labels, acc, 5, 0.7) == 300);   /* equal counts, NaN skipped */
    CHECK(dg_al_crossing(labels, acc, 5, 0.69) == 300);  /* not the later dip */
    CHECK(dg_al_crossing(labels, acc, 5, 0.8) == 500);
    CHECK(dg_al_crossing(labels, acc, 5, 0.95) == -1);
    CHECK(dg_al_crossing(labels, acc, 5, 0.1) == 100);
}

static void reliability_weights_are_the_lower_bound_above_chance(void)
{
    dg_teacher_reliability r[3] = {{50, 0.7, 0.6, 0.8, 0.1},
                                   {50, 0.1, 0.05, 0.2, 0.1},
                                   {0, NAN, 0.0, 1.0, NAN}};
    double w[3];

    dg_reliability_weights(r, 3, 10, w);
    CHECK_NEAR(w[0], 0.5, 1e-12);  /* 0.6 - 1/10 */
    CHECK_NEAR(w[1], 0.01, 1e-12); /* below chance: the floor */
    CHECK_NEAR(w[2], 1.0, 1e-12);  /* never scored: equal weight */
}

static void vote_is_the_argmax_of_the_mean_probability(void)
{
    /* row 0: teacher 0 sure of class 0, teacher 1 leans to 1: mean (0.6, 0.4)
     * row 1: 0.45/0.55 and 0.9/0.1: mean (0.675, 0.325), though teacher 0
     *        alone would say 1
     * row 2: an exact tie (0.5, 0.5): the first class */
    float t0[6] = {0.9f, 0.1f, 0.45f, 0.55f, 0.5f, 0.5f};
    float t1[6] = {0.3f, 0.7f, 0.9f, 0.1f, 0.5f, 0.5f};
    const float *outs[2] = {t0, t1};
    dg_teachers *t = NULL;
    dg_error err;
    int32_t vote[3] = {-7, -7, -7};

    CHECK(dg_teachers_from_arrays(outs, 2, 3, 2, DG_TEACHER_PROB, &t, &err) == 0);
    CHECK(dg_teachers_vote(t, vote, &err) == 0);
    CHECK(vote[0] == 0 && vote[1] == 0 && vote[2] == 0);
    dg_teachers_free(t);
}

/* ------------------------------------------------------------------------
 * Simulations on three Gaussian blobs in 2-D
 */

#define BLOB_C 3
#define POOL_N 300
#define TEST_N 150

/* N rows of 2-D points around three centres, labels n % 3. */
static dg_dataset *blobs(int64_t N, uint64_t seed)
{
    static const float centre[BLOB_C][2] = {{0.0f, 0.0f}, {4.0f, 0.0f}, {0.0f, 4.0f}};
    dg_matrix X = {N, 2, malloc(sizeof(float) * (size_t)N * 2)};
    dg_labels y = {N, malloc(sizeof(int32_t) * (size_t)N)};
    dg_dataset *ds = NULL;
    dg_error err;
    uint64_t s = seed;

    for (int64_t n = 0; n < N; n++) {
        int c = (int)(n % BLOB_C);

        for (int d = 0; d < 2; d++) {
            double u1, u2;

            /* a tiny LCG and Box-Muller: the test owns its data */
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            u1 = ((double)(s >> 11) + 1.0) / 9007199254740993.0;
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            u2 = (double)(s >> 11) / 9007199254740992.0;
            X.data[n * 2 + d] = centre[c][d] + (float)(sqrt(-2.0 * log(u1)) * cos(6.283185 * u2));
        }
        y.data[n] = c;
    }
    if (dg_dataset_from_arrays(&X, &y, BLOB_C, &ds, &err) != 0) {
        dg_matrix_free(&X);
        dg_labels_free(&y);
        return NULL;
    }
    return ds;
}

/* Teachers that put `sure` on class (label + shift) % C of every row. */
static dg_teachers *shifted_teachers(const dg_dataset *ds, int M, int shift, float sure)
{
    int64_t N = dg_dataset_rows(ds);
    float *p = malloc(sizeof(float) * (size_t)N * BLOB_C);
    const float *outs[8];
    dg_teachers *t = NULL;
    dg_error err;

    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < BLOB_C; c++)
            p[n * BLOB_C + c] = c == (dg_dataset_labels(ds)[n] + shift) % BLOB_C
                                    ? sure : (1.0f - sure) / (BLOB_C - 1);
    for (int m = 0; m < M; m++)
        outs[m] = p;
    dg_teachers_from_arrays(outs, M, N, BLOB_C, DG_TEACHER_PROB, &t, &err);
    free(p);
    return t;
}

static dg_al_opts small_opts(dg_acq_kind kind)
{
    dg_al_opts o = dg_al_defaults();

    o.strategy = kind;
    o.initial = 6;
    o.batch = 8;
    o.budget = 46;
    o.stop_rows = 40;
    o.steps = 40;
    o.kd_rows = 50;
    o.train.hidden[0] = 8;
    o.train.batch = 16;
    o.seed = 7;
    return o;
}

static int all_distinct(const int64_t *rows, int64_t n, int64_t N)
{
    unsigned char *seen = calloc((size_t)N, 1);
    int ok = seen != NULL;

    for (int64_t i = 0; ok && i < n; i++) {
        if (rows[i] < 0 || rows[i] >= N || seen[rows[i]])
            ok = 0;
        else
            seen[rows[i]] = 1;
    }
    free(seen);
    return ok;
}

static void simulation_is_deterministic_and_never_labels_a_row_twice(void)
{
    dg_dataset *pool = blobs(POOL_N, 11), *test = blobs(TEST_N, 12);
    dg_al_opts o = small_opts(DG_ACQ_ENTROPY);
    dg_al_result a, b;
    dg_error err;

    CHECK(dg_al_simulate(pool, NULL, test, &o, &a, &err) == 0);
    CHECK(dg_al_simulate(pool, NULL, test, &o, &b, &err) == 0);
    /* 6 initial, then 8 a round up to 46: rounds at 6, 14, ..., 46 */
    CHECK(a.n_rounds == 6 && a.n_labelled == 46);
    CHECK(a.rounds[0].labels == 6 && a.rounds[5].labels == 46);
    CHECK(a.stop_budget == 5);
    CHECK(all_distinct(a.labelled, a.n_labelled, POOL_N));
    CHECK(b.n_labelled == a.n_labelled &&
          memcmp(a.labelled, b.labelled, sizeof(int64_t) * (size_t)a.n_labelled) == 0);
    for (int r = 0; r < a.n_rounds && r < b.n_rounds; r++)
        CHECK(a.rounds[r].accuracy == b.rounds[r].accuracy);
    CHECK(isnan(a.rounds[0].kappa) && a.rounds[1].kappa <= 1.0);
    /* well separated blobs: 46 labels are plenty */
    CHECK(a.rounds[a.n_rounds - 1].accuracy > 0.9);
    CHECK(a.M == 0 && a.reliability == NULL);
    dg_al_result_free(&a);
    dg_al_result_free(&b);

    /* another seed draws another initial set */
    o.seed = 8;
    CHECK(dg_al_simulate(pool, NULL, test, &o, &b, &err) == 0);
    o.seed = 7;
    CHECK(dg_al_simulate(pool, NULL, test, &o, &a, &err) == 0);
    CHECK(memcmp(a.labelled, b.labelled, sizeof(int64_t) * 6) != 0);
    dg_al_result_free(&a);
    dg_al_result_free(&b);
    dg_dataset_free(pool);
    dg_dataset_free(test);
}

static void committee_strategies_with_distillation_label_distinct_rows(void)
{
    static const dg_acq_kind kinds[3] = {DG_ACQ_CONSENSUS_KL, DG_ACQ_GRADIENT_CONFLICT,
                                         DG_ACQ_RANDOM};
    dg_dataset *pool = blobs(POOL_N, 21), *test = blobs(TEST_N, 22);
    dg_teachers *t = shifted_teachers(pool, 2, 0, 0.8f);

    for (int k = 0; k < 3; k++) {
        dg_al_opts o = small_opts(kinds[k]);
        dg_al_result r;
        dg_error err;

        o.train.method = DG_AVG_LOSS;
        o.reliability = 1;
        o.select = k == 1 ? DG_SELECT_DIVERSE : DG_SELECT_TOPK;
        CHECK(dg_al_simulate(pool, t, test, &o, &r, &err) == 0);
        CHECK(r.n_labelled == 46);
        CHECK(all_distinct(r.labelled, r.n_labelled, POOL_N));
        /* the teachers are right on every labelled row */
        CHECK(r.M == 2 && r.reliability && r.reliability[0].n == 46);
        CHECK(r.reliability && r.reliability[0].accuracy == 1.0);
        dg_al_result_free(&r);
    }
    dg_teachers_free(t);
    dg_dataset_free(pool);
    dg_dataset_free(test);
}

static void estimate_mode_learns_from_the_committee_vote(void)
{
    /* the committee is consistently wrong: it says class (y + 1) % 3 */
    dg_dataset *pool = blobs(POOL_N, 31), *test = blobs(TEST_N, 32);
    dg_teachers *t = shifted_teachers(pool, 1, 1, 0.9f);
    dg_teachers *tt = shifted_teachers(test, 1, 1, 0.9f);
    int32_t *vote = malloc(sizeof(int32_t) * POOL_N), *test_vote = malloc(sizeof(int32_t) * TEST_N);
    dg_al_opts o = small_opts(DG_ACQ_MARGIN);
    dg_al_result gold, est;
    dg_error err;

    CHECK(dg_teachers_vote(t, vote, &err) == 0 && dg_teachers_vote(tt, test_vote, &err) == 0);
    CHECK(vote[0] == 1 && vote[1] == 2 && vote[2] == 0);
    CHECK(dg_al_simulate(pool, t, test, &o, &gold, &err) == 0);
    o.answers = vote;
    o.test_labels = test_vote;
    CHECK(dg_al_simulate(pool, t, test, &o, &est, &err) == 0);

    /* against gold the teacher is always wrong, against its own vote always
     * right; the student learns whichever answers it is given, and is
     * scored against the matching truth */
    CHECK(gold.reliability && gold.reliability[0].accuracy == 0.0);
    CHECK(est.reliability && est.reliability[0].accuracy == 1.0);
    CHECK(gold.rounds[gold.n_rounds - 1].accuracy > 0.9);
    CHECK(est.rounds[est.n_rounds - 1].accuracy > 0.9);
    dg_al_result_free(&gold);
    dg_al_result_free(&est);
    free(vote);
    free(test_vote);
    dg_teachers_free(t);
    dg_teachers_free(tt);
    dg_dataset_free(pool);
    dg_dataset_free(test);
}

static void reference_trains_on_every_answer(void)
{
    dg_dataset *pool = blobs(POOL_N, 41), *test = blobs(TEST_N, 42);
    dg_al_opts o = small_opts(DG_ACQ_ENTROPY);
    double acc = -1.0;
    dg_error err;

    o.train.epochs = 20;
    CHECK(dg_al_reference(pool, NULL, test, &o, &acc, &err) == 0);
    CHECK(acc > 0.9 && acc <= 1.0);
    dg_dataset_free(pool);
    dg_dataset_free(test);
}

static void bad_options_are_rejected_with_a_reason(void)
{
    dg_dataset *pool = blobs(POOL_N, 51), *test = blobs(TEST_N, 52);
    dg_al_opts o = small_opts(DG_ACQ_CONSENSUS_KL);
    dg_al_result r;
    dg_error err;

    CHECK(dg_al_simulate(pool, NULL, test, &o, &r, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "needs teachers") != NULL);
    o = small_opts(DG_ACQ_ENTROPY);
    o.stop_rows = POOL_N;
    CHECK(dg_al_simulate(pool, NULL, test, &o, &r, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "stop-set") != NULL);
    o = small_opts(DG_ACQ_ENTROPY);
    o.budget = 3;
    CHECK(dg_al_simulate(pool, NULL, test, &o, &r, &err) == DG_EINVAL);
    dg_dataset_free(pool);
    dg_dataset_free(test);
}

int main(void)
{
    RUN(kappa_matches_hand_computed_values);
    RUN(crossing_is_the_first_point_at_or_above_the_target);
    RUN(reliability_weights_are_the_lower_bound_above_chance);
    RUN(vote_is_the_argmax_of_the_mean_probability);
    RUN(simulation_is_deterministic_and_never_labels_a_row_twice);
    RUN(committee_strategies_with_distillation_label_distinct_rows);
    RUN(estimate_mode_learns_from_the_committee_vote);
    RUN(reference_trains_on_every_answer);
    RUN(bad_options_are_rejected_with_a_reason);
    return check_summary();
}
