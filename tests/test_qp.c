/* The capped-simplex QP: closed form for two teachers, brute force for
 * three, the KKT conditions on random (also rank-deficient) Gram matrices,
 * degenerate inputs, argument checks and determinism.
 */
#include "check.h"
#include "distill/distill.h"

#include <stdlib.h>
#include <string.h>

#define MAX_M 50

/* G = A'A for a random k x M matrix A: PSD, of rank min(k, M). */
static void random_gram(dg__rng *r, int M, int k, double *G)
{
    double A[MAX_M * MAX_M];

    for (int i = 0; i < k * M; i++)
        A[i] = dg__rng_normal(r);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double v = 0.0;

            for (int t = 0; t < k; t++)
                v += A[t * M + i] * A[t * M + j];
            G[i * M + j] = v;
        }
}

static double objective(const double *G, int M, const double *a)
{
    double f = 0.0;

    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            f += 0.5 * a[i] * G[i * M + j] * a[j];
    return f;
}

static void test_two_teachers_match_closed_form(void)
{
    dg__rng r;
    const double caps[] = {0.5, 0.6, 0.8, 1.0};

    dg__rng_seed(&r, 11);
    for (int trial = 0; trial < 50; trial++) {
        double G[4], a[2];

        random_gram(&r, 2, 3, G);
        for (int c = 0; c < 4; c++) {
            double cap = caps[c];
            double a1 = (G[3] - G[1]) / (G[0] + G[3] - 2.0 * G[1]);

            a1 = a1 < 1.0 - cap ? 1.0 - cap : a1 > cap ? cap : a1;
            CHECK(dg_capped_simplex_qp(G, 2, cap, a, NULL) == 0);
            CHECK_NEAR(a[0], a1, 1e-8);
            CHECK_NEAR(a[1], 1.0 - a1, 1e-8);
        }
    }
}

/* Best objective over a grid on {a1, a2 >= 0, a3 = 1 - a1 - a2} within the
 * cap: a pass over the whole triangle, then three passes that zoom into a
 * window of +-3 steps around the previous best with 200 finer steps. */
static double grid_best(const double *G, double cap)
{
    double best = INFINITY, c1 = 0.5, c2 = 0.5, h = 1.0 / 200;

    for (int pass = 0; pass < 4; pass++) {
        double lo1 = pass == 0 ? 0.0 : c1 - 3.0 * h, lo2 = pass == 0 ? 0.0 : c2 - 3.0 * h;

        if (pass > 0)
            h *= 6.0 / 200;
        for (int i = 0; i <= 200; i++)
            for (int j = 0; j <= 200; j++) {
                double a[3] = {lo1 + i * h, lo2 + j * h, 0.0}, f;

                a[2] = 1.0 - a[0] - a[1];
                if (a[0] < 0 || a[1] < 0 || a[2] < 0 || a[0] > cap || a[1] > cap || a[2] > cap)
                    continue;
                f = objective(G, 3, a);
                if (f < best) {
                    best = f;
                    c1 = a[0];
                    c2 = a[1];
                }
            }
    }
    return best;
}

static void test_three_teachers_match_grid_search(void)
{
    dg__rng r;
    const double caps[] = {0.34, 0.5, 0.6, 1.0};

    dg__rng_seed(&r, 12);
    for (int trial = 0; trial < 12; trial++) {
        double G[9], a[3];

        random_gram(&r, 3, trial % 3 + 1, G);
        for (int c = 0; c < 4; c++) {
            double f_grid = grid_best(G, caps[c]), f;

            CHECK(dg_capped_simplex_qp(G, 3, caps[c], a, NULL) == 0);
            f = objective(G, 3, a);
            CHECK(f <= f_grid + 1e-12);
            CHECK_NEAR(f, f_grid, 1e-6);
        }
    }
}

/* Feasibility and the KKT conditions of min 1/2 a'Ga on the capped simplex:
 * a tau with (Ga)_m = tau where 0 < a_m < cap, >= tau at 0, <= tau at cap. */
static void check_kkt(const double *G, int M, double cap, const double *a)
{
    double grad[MAX_M], sum = 0.0, scale = 1e-300, tau = 0.0, lo = -INFINITY, hi = INFINITY;
    int n_free = 0;

    for (int m = 0; m < M; m++) {
        grad[m] = 0.0;
        for (int j = 0; j < M; j++)
            grad[m] += G[m * M + j] * a[j];
        if (G[m * M + m] > scale)
            scale = G[m * M + m];
        sum += a[m];
        CHECK(a[m] >= -1e-9 && a[m] <= cap + 1e-9);
    }
    CHECK_NEAR(sum, 1.0, 1e-9);
    for (int m = 0; m < M; m++) {
        if (a[m] <= 1e-12)
            hi = fmin(hi, grad[m]);
        else if (a[m] >= cap - 1e-12)
            lo = fmax(lo, grad[m]);
        else {
            tau += grad[m];
            n_free++;
        }
    }
    if (n_free > 0) {
        tau /= n_free;
        for (int m = 0; m < M; m++)
            if (a[m] > 1e-12 && a[m] < cap - 1e-12)
                CHECK_NEAR(grad[m] / scale, tau / scale, 1e-7);
        CHECK(hi >= tau - 1e-7 * scale);
        CHECK(lo <= tau + 1e-7 * scale);
    } else {
        CHECK(lo <= hi + 1e-7 * scale);
    }
}

static void test_kkt_holds_on_random_psd_gram(void)
{
    const int Ms[] = {2, 3, 5, 10, 20, 50};
    const double cap_factor[] = {1.0, 1.5, 3.0};
    const double caps[] = {0.3, 0.6, 1.0};
    dg__rng r;
    static double G[MAX_M * MAX_M];

    dg__rng_seed(&r, 13);
    for (int i = 0; i < 6; i++) {
        int M = Ms[i];

        for (int rank = 0; rank < 3; rank++) {
            int k = rank == 0 ? M : rank == 1 ? (M + 1) / 2 : 1;

            random_gram(&r, M, k, G);
            for (int c = 0; c < 6; c++) {
                double cap = c < 3 ? cap_factor[c] / M : caps[c - 3], a[MAX_M];

                if (cap > 1.0 || cap < 1.0 / M)
                    continue;
                CHECK(dg_capped_simplex_qp(G, M, cap, a, NULL) == 0);
                check_kkt(G, M, cap, a);
            }
        }
    }
}

static void test_cap_one_over_m_gives_exact_uniform(void)
{
    dg__rng r;
    double G[10 * 10], a[10];

    dg__rng_seed(&r, 14);
    random_gram(&r, 10, 10, G);
    CHECK(dg_capped_simplex_qp(G, 10, 1.0 / 10, a, NULL) == 0);
    for (int m = 0; m < 10; m++)
        CHECK(a[m] == 1.0 / 10);
}

static void test_bad_arguments_are_rejected_with_the_value(void)
{
    double G[4] = {1, 0, 0, 1}, a[2];
    dg_error err;

    CHECK(dg_capped_simplex_qp(G, 2, 0.49, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "0.49") != NULL);
    CHECK(dg_capped_simplex_qp(G, 2, 1.01, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "1.01") != NULL);
    CHECK(dg_capped_simplex_qp(G, 0, 1.0, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "M = 0") != NULL);
    G[1] = NAN;
    CHECK(dg_capped_simplex_qp(G, 2, 0.6, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "G[0][1]") != NULL);
    G[1] = 0.0;
    G[3] = INFINITY;
    CHECK(dg_capped_simplex_qp(G, 2, 0.6, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "G[1][1]") != NULL);
}

static void test_indefinite_matrix_is_rejected(void)
{
    double G[4] = {1, 2, 2, 1}, a[2];
    dg_error err;

    CHECK(dg_capped_simplex_qp(G, 2, 1.0, a, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "positive semi-definite") != NULL);
}

static void test_degenerate_gram_gives_weights_nearest_uniform(void)
{
    double G[5 * 5], a[5];
    /* teachers 0 and 1 pull along e1, teacher 2 along e2: the minimum puts
     * 1/2 on teacher 2 and 1/2 on {0, 1}, split evenly as nearest uniform */
    double G3[9] = {1, 1, 0, 1, 1, 0, 0, 0, 1}, a3[3];

    for (int i = 0; i < 25; i++)
        G[i] = 3.5;
    CHECK(dg_capped_simplex_qp(G, 5, 0.6, a, NULL) == 0);
    for (int m = 0; m < 5; m++)
        CHECK_NEAR(a[m], 0.2, 1e-12);

    memset(G, 0, sizeof G);
    CHECK(dg_capped_simplex_qp(G, 5, 1.0, a, NULL) == 0);
    for (int m = 0; m < 5; m++)
        CHECK(a[m] == 0.2);

    CHECK(dg_capped_simplex_qp(G3, 3, 1.0, a3, NULL) == 0);
    CHECK_NEAR(a3[0], 0.25, 1e-6);
    CHECK_NEAR(a3[1], 0.25, 1e-6);
    CHECK_NEAR(a3[2], 0.5, 1e-6);
}

static void test_singular_gram_gives_finite_feasible_weights(void)
{
    dg__rng r;
    double G[20 * 20], a[20];

    dg__rng_seed(&r, 15);
    for (int trial = 0; trial < 20; trial++) {
        random_gram(&r, 20, 2, G);
        CHECK(dg_capped_simplex_qp(G, 20, 0.6, a, NULL) == 0);
        for (int m = 0; m < 20; m++)
            CHECK(isfinite(a[m]));
        check_kkt(G, 20, 0.6, a);
    }
}

static void test_same_input_gives_bit_identical_weights(void)
{
    dg__rng r;
    double G[30 * 30], a[30], b[30];

    dg__rng_seed(&r, 16);
    random_gram(&r, 30, 7, G);
    CHECK(dg_capped_simplex_qp(G, 30, 0.2, a, NULL) == 0);
    CHECK(dg_capped_simplex_qp(G, 30, 0.2, b, NULL) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

int main(void)
{
    RUN(test_two_teachers_match_closed_form);
    RUN(test_three_teachers_match_grid_search);
    RUN(test_kkt_holds_on_random_psd_gram);
    RUN(test_cap_one_over_m_gives_exact_uniform);
    RUN(test_bad_arguments_are_rejected_with_the_value);
    RUN(test_indefinite_matrix_is_rejected);
    RUN(test_degenerate_gram_gives_weights_nearest_uniform);
    RUN(test_singular_gram_gives_finite_feasible_weights);
    RUN(test_same_input_gives_bit_identical_weights);
    return check_summary();
}
