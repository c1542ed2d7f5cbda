/* Consensus KL of a block of pool rows in AVX-512: the same sums as the
 * portable block kernel in scores.c, with a natural log that costs about
 * a third of the polynomial one (a 32-entry table held in registers, then
 * three terms of ln(1 + r) for |r| <= 1/65), with the rows' sums taken by
 * strided loads, rows in the lanes. Built only for x86-64 with GCC or
 * Clang; dg_acq_scores calls it when the processor has AVX-512F.
 */
#include "active/active.h"

#include <math.h>

#if DG__HAVE_CKL_AVX512
#include <immintrin.h>

void dg__ckl_table(float table[2 * DG__CKL_TABLE])
{
    /* entry k covers mantissas m in [1 + k/32, 1 + (k+1)/32): inv ~ 1/m at
     * the middle, and ln exactly -ln(inv) so that rounding inv to float
     * costs nothing: ln m = ln(m inv) + ln(1/inv) */
    for (int k = 0; k < DG__CKL_TABLE; k++) {
        float inv = (float)(1.0 / (1.0 + (k + 0.5) / DG__CKL_TABLE));

        table[k] = inv;
        table[DG__CKL_TABLE + k] = (float)-log((double)inv);
    }
}

typedef struct log_table {
    __m512 inv_lo, inv_hi, ln_lo, ln_hi;
} log_table;

/* ln x for x > 0 (lanes with x <= 0 give garbage the caller masks out).
 * x = 2^e m with m in [1, 2); the top 5 bits of m pick the entry; r = m inv
 * - 1 lies within 1/65 of 0, where r - r^2/2 + r^3/3 is off by at most
 * r^4/4 < 1.5e-8, below float rounding of the result. Subnormal x are
 * normalised by getexp/getmant. */
__attribute__((target("avx512f"))) static inline __m512 log16(__m512 x, const log_table *t)
{
    __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512 e = _mm512_getexp_ps(x);
    __m512i k = _mm512_srli_epi32(_mm512_castps_si512(m), 23 - 5); /* low 5 bits: entry */
    __m512 inv = _mm512_permutex2var_ps(t->inv_lo, k, t->inv_hi);
    __m512 ln = _mm512_permutex2var_ps(t->ln_lo, k, t->ln_hi);
    __m512 r = _mm512_fmsub_ps(m, inv, _mm512_set1_ps(1.0f));
    __m512 poly = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0f / 3.0f), _mm512_set1_ps(-0.5f));

    poly = _mm512_fmadd_ps(_mm512_mul_ps(r, r), poly, r);
    return _mm512_add_ps(_mm512_fmadd_ps(e, _mm512_set1_ps(0.69314718056f), ln), poly);
}

/* Lanes' mask for the n - i elements left, at most 16. */
static inline __mmask16 tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* The sums of the 16 rows of the (rows, C) block at base whose lanes are
 * live, one strided load per class; stride holds lane * C. */
__attribute__((target("avx512f"))) static inline __m512 row_sums16(const float *base, int C,
                                                                   __m512i stride, __mmask16 live)
{
    __m512 sum = _mm512_setzero_ps();

    for (int c = 0; c < C; c++)
        sum = _mm512_add_ps(
            sum, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, stride, base + c, 4));
    return sum;
}

__attribute__((target("avx512f"))) int dg__ckl_block_avx512(const float *const *member,
                                                            const float *w, int J, int64_t rows,
                                                            int C, const float *table, float *pbar,
                                                            float *acc, double *scores)
{
    const log_table t = {_mm512_loadu_ps(table), _mm512_loadu_ps(table + 16),
                         _mm512_loadu_ps(table + DG__CKL_TABLE),
                         _mm512_loadu_ps(table + DG__CKL_TABLE + 16)};
    const __m512 zero = _mm512_setzero_ps();
    const __m512 one = _mm512_set1_ps(1.0f), tol = _mm512_set1_ps((float)DG__PROB_SUM_TOL);
    const __m512i stride =
        _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                           _mm512_set1_epi32(C));
    int64_t len = rows * C;
    __mmask16 bad = 0;

    /* pass 1: per member, pbar += w p and acc += w p ln p, elementwise;
     * every entry must lie in [0, 1] (NaN fails) */
    for (int j = 0; j < J; j++) {
        const __m512 wj = _mm512_set1_ps(w[j]);
        const float *p = member[j];

        for (int64_t i = 0; i < len; i += 16) {
            __mmask16 live = tail_mask(len - i);
            __m512 x = _mm512_maskz_loadu_ps(live, p + i);
            __mmask16 pos = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
            __m512 plogp = _mm512_maskz_mul_ps(pos, x, log16(x, &t));

            /* below 0, above 1, or NaN */
            bad |= _mm512_mask_cmp_ps_mask(live, x, zero, _CMP_NGE_UQ) |
                   _mm512_mask_cmp_ps_mask(live, x, one, _CMP_NLE_UQ);
            _mm512_mask_storeu_ps(pbar + i, live,
                                  _mm512_fmadd_ps(wj, x, _mm512_maskz_loadu_ps(live, pbar + i)));
            _mm512_mask_storeu_ps(acc + i, live,
                                  _mm512_fmadd_ps(wj, plogp, _mm512_maskz_loadu_ps(live, acc + i)));
        }
        /* and every row must sum to 1 (NaN fails) */
        for (int64_t r = 0; r < rows; r += 16) {
            __mmask16 live = tail_mask(rows - r);
            __m512 off = _mm512_abs_ps(_mm512_sub_ps(row_sums16(p + r * C, C, stride, live), one));

            bad |= _mm512_mask_cmp_ps_mask(live, off, tol, _CMP_NLE_UQ);
        }
    }

    /* pass 2: minus pbar ln pbar, then the sum of each row */
    for (int64_t i = 0; i < len; i += 16) {
        __mmask16 live = tail_mask(len - i);
        __m512 q = _mm512_maskz_loadu_ps(live, pbar + i);
        __mmask16 pos = _mm512_cmp_ps_mask(q, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 qlogq = _mm512_maskz_mul_ps(pos, q, log16(q, &t));

        _mm512_mask_storeu_ps(acc + i, live,
                              _mm512_sub_ps(_mm512_maskz_loadu_ps(live, acc + i), qlogq));
    }
    for (int64_t r = 0; r < rows; r += 16) {
        __mmask16 live = tail_mask(rows - r);
        __m512 row = _mm512_max_ps(row_sums16(acc + r * C, C, stride, live), _mm512_setzero_ps());

        _mm512_mask_storeu_pd(scores + r, (__mmask8)live,
                              _mm512_cvtps_pd(_mm512_castps512_ps256(row)));
        _mm512_mask_storeu_pd(
            scores + r + 8, (__mmask8)(live >> 8),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(row), 1))));
    }
    return bad != 0;
}
#endif
