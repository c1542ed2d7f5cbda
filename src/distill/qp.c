/* The capped-simplex QP behind AE-KD: min 1/2 a'Ga subject to sum(a) = 1
 * and 0 <= a_m <= cap, for an M x M positive semi-definite Gram matrix G.
 * Solved exactly by a primal active-set method (finite, deterministic, no
 * step sizes to tune), called once per minibatch by the weighting.
 *
 * Legend: M teachers, F the free set (0 < a_m < cap), n = |F|.
 */
#include "distill/distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A ridge (RIDGE/2) ||a - uniform||^2 is added to the objective, in units
 * of G's largest diagonal. It makes the problem strictly convex, so among
 * several minimisers (G = 0, identical teachers, rank-deficient G) the
 * solver returns the one nearest the plain average, and it moves the
 * objective by at most RIDGE of G's scale.
 * Limit: in directions where G is singular the nearest-to-uniform choice is
 * resolved to about 1e-16 / RIDGE = 1e-6, not to full precision. */
#define RIDGE 1e-10
/* A cap this close to 1/M is taken as 1/M (the plain average). */
#define CAP_SLACK 1e-12
/* Sign tolerance on the multipliers of the bounds, in units of G's scale. */
#define KKT_TOL 1e-11
/* Active-set changes allowed before giving up; each change adds or drops
 * one bound and the method terminates long before this in exact math. */
#define MAX_ITER(M) (20 * (M) + 100)

enum { FREE = 0, AT_ZERO, AT_CAP };

/* Cholesky factorisation of the n x n symmetric matrix R in place (lower
 * triangle, row-major). Returns -1 when a pivot falls below min_pivot. */
static int cholesky(double *R, int n, double min_pivot)
{
    for (int j = 0; j < n; j++) {
        double d = R[j * n + j];

        for (int k = 0; k < j; k++)
            d -= R[j * n + k] * R[j * n + k];
        if (!(d >= min_pivot))
            return -1;
        d = sqrt(d);
        R[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double v = R[i * n + j];

            for (int k = 0; k < j; k++)
                v -= R[i * n + k] * R[j * n + k];
            R[i * n + j] = v / d;
        }
    }
    return 0;
}

/* Solves L L' x = x in place for the factor L (n x n) from cholesky(). */
static void cholesky_solve(const double *L, int n, double *x)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            x[i] -= L[i * n + k] * x[k];
        x[i] /= L[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        for (int k = i + 1; k < n; k++)
            x[i] -= L[k * n + i] * x[k];
        x[i] /= L[i * n + i];
    }
}

/* Checks G (M x M), M and cap; 0 or DG_EINVAL naming the bad value. */
static int check_args(const double *G, int M, double cap, dg_error *err)
{
    if (M < 1)
        return dg__fail(err, DG_EINVAL, "capped-simplex QP: M = %d teachers, expected >= 1", M);
    if (!isfinite(cap) || cap < 1.0 / M - CAP_SLACK || cap > 1.0)
        return dg__fail(err, DG_EINVAL,
                        "capped-simplex QP: cap %g outside [1/M, 1] = [%.6g, 1] for M = %d",
                        cap, 1.0 / M, M);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            if (!isfinite(G[i * M + j]))
                return dg__fail(err, DG_EINVAL,
                                "capped-simplex QP: G[%d][%d] is %g, expected a finite number",
                                i, j, G[i * M + j]);
    for (int i = 0; i < M; i++)
        if (G[i * M + i] < 0.0)
            return dg__fail(err, DG_EINVAL,
                            "capped-simplex QP: G[%d][%d] = %g is negative; a Gram matrix "
                            "has a non-negative diagonal",
                            i, i, G[i * M + i]);
    return 0;
}

/* Gradient of the ridged objective at a: grad = H a + RIDGE (a - 1/M).
 * H is (M, M), scaled so its largest diagonal is 1. */
static void gradient(const double *H, int M, const double *a, double *grad)
{
    for (int i = 0; i < M; i++) {
        double v = 0.0;

        for (int j = 0; j < M; j++)
            v += H[i * M + j] * a[j];
        grad[i] = v + RIDGE * (a[i] - 1.0 / M);
    }
}

/* Newton step p (M) that minimises the ridged objective over the current
 * face: a_m fixed outside the free list F (n entries), sum(p) = 0. Uses
 * the null-space basis e_i - e_k with k the last free index, whose reduced
 * Hessian R ((n-1) x (n-1)) has exact zeros where teachers are identical.
 * Returns -1 when R is not positive definite (G was not PSD). */
static int face_step(const double *H, int M, const int *F, int n, const double *grad, double *R,
                     double *p)
{
    int k = F[n - 1], r = n - 1;
    double sum = 0.0;

    memset(p, 0, sizeof(double) * (size_t)M);
    if (r == 0)
        return 0;
    for (int i = 0; i < r; i++) {
        int fi = F[i];

        for (int j = 0; j <= i; j++) {
            int fj = F[j];
            double v = H[fi * M + fj] - H[fi * M + k] - H[k * M + fj] + H[k * M + k];

            v += RIDGE * (i == j ? 2.0 : 1.0);
            R[i * r + j] = v;
            R[j * r + i] = v;
        }
        p[fi] = -(grad[fi] - grad[k]);
    }
    if (cholesky(R, r, 0.5 * RIDGE) != 0)
        return -1;

    /* solve in a compact copy held in the free slots' order */
    for (int i = 0; i < r; i++)
        R[r * r + i] = p[F[i]];
    cholesky_solve(R, r, R + r * r);
    for (int i = 0; i < r; i++) {
        p[F[i]] = R[r * r + i];
        sum += R[r * r + i];
    }
    p[k] = -sum;
    return 0;
}

int dg__qp_solve(const double *G, int M, double cap, double *a, double *work, dg_error *err)
{
    double *H = work, *R = H + (size_t)M * M, *grad, *p, scale = 0.0;
    int *F;
    unsigned char *status;
    int rc, at_face_optimum = 0;

    if ((rc = check_args(G, M, cap, err)) != 0)
        return rc;
    if (cap <= 1.0 / M + CAP_SLACK) {
        for (int m = 0; m < M; m++)
            a[m] = 1.0 / M;
        return 0;
    }

    /* R holds (M-1)^2 + (M-1) doubles: the reduced Hessian and its rhs */
    grad = R + (size_t)M * M;
    p = grad + M;
    F = (int *)(p + M);
    status = (unsigned char *)(F + M);

    /* pass 1: symmetrise and scale G so its largest diagonal is 1 */
    for (int i = 0; i < M; i++)
        if (G[i * M + i] > scale)
            scale = G[i * M + i];
    if (scale == 0.0)
        scale = 1.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            H[i * M + j] = 0.5 * (G[i * M + j] + G[j * M + i]) / scale;

    /* pass 2: start from the plain average, strictly inside the box */
    for (int m = 0; m < M; m++) {
        a[m] = 1.0 / M;
        status[m] = FREE;
    }

    /* pass 3: active set. On a face, take the Newton step to the face's
     * minimum, stopping at the first bound it crosses; at a face's minimum,
     * release the bound whose multiplier has the wrong sign, or stop. */
    for (int iter = 0; iter < MAX_ITER(M); iter++) {
        int n = 0, worst = -1;
        double tau, lo = -INFINITY, hi = INFINITY, worst_v = -KKT_TOL;

        gradient(H, M, a, grad);
        for (int m = 0; m < M; m++)
            if (status[m] == FREE)
                F[n++] = m;

        if (n >= 2 && !at_face_optimum) {
            double alpha = 1.0;
            int block = -1;

            if (face_step(H, M, F, n, grad, R, p) != 0)
                return dg__fail(err, DG_EINVAL,
                                "capped-simplex QP: G is not positive semi-definite "
                                "(a reduced pivot is below %g of its scale %g)",
                                0.5 * RIDGE, scale);
            for (int i = 0; i < n; i++) {
                int m = F[i];
                double limit = p[m] < 0.0 ? -a[m] / p[m]
                               : p[m] > 0.0 ? (cap - a[m]) / p[m] : INFINITY;

                if (limit < alpha) {
                    alpha = limit;
                    block = m;
                }
            }
            for (int i = 0; i < n; i++)
                a[F[i]] += alpha * p[F[i]];
            if (block >= 0) {
                status[block] = p[block] < 0.0 ? AT_ZERO : AT_CAP;
                a[block] = status[block] == AT_ZERO ? 0.0 : cap;
            } else {
                at_face_optimum = 1;
            }
            continue;
        }

        /* tau is the multiplier of sum(a) = 1: the common gradient of the
         * free entries, or a value between the capped and zero gradients */
        for (int m = 0; m < M; m++) {
            if (status[m] == AT_CAP && grad[m] > lo)
                lo = grad[m];
            if (status[m] == AT_ZERO && grad[m] < hi)
                hi = grad[m];
        }
        if (n > 0) {
            tau = 0.0;
            for (int i = 0; i < n; i++)
                tau += grad[F[i]];
            tau /= n;
        } else {
            tau = isinf(lo) ? hi : isinf(hi) ? lo : 0.5 * (lo + hi);
        }
        for (int m = 0; m < M; m++) {
            double v = status[m] == AT_ZERO  ? grad[m] - tau
                       : status[m] == AT_CAP ? tau - grad[m]
                                             : 0.0;

            if (v < worst_v) {
                worst_v = v;
                worst = m;
            }
        }
        if (worst < 0)
            return 0;
        status[worst] = FREE;
        at_face_optimum = 0;
    }
    /* Limit: reaching here needs a cycle of degenerate steps; the iterate is
     * feasible but its KKT residual may exceed the tolerance. */
    dg__warn("capped-simplex QP: no convergence in %d active-set changes (M = %d)",
             MAX_ITER(M), M);
    return 0;
}

int dg_capped_simplex_qp(const double *G, int M, double cap, double *a, dg_error *err)
{
    double *work;
    int rc;

    if (M < 1)
        return dg__fail(err, DG_EINVAL, "capped-simplex QP: M = %d teachers, expected >= 1", M);
    if (!(work = dg__alloc(DG__QP_WORK(M), sizeof(double), 0, err)))
        return DG_ENOMEM;
    rc = dg__qp_solve(G, M, cap, a, work, err);
    free(work);
    return rc;
}
