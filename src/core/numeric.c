/* Small numeric helpers shared by the losses, the evaluator and the
 * acquisition scores.
 */
#include "core/internal.h"

#include <math.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

void dg__softmax_rows(const float *x, int64_t rows, int cols, double T, float *out)
{
    /* x is (rows, cols), out is (rows, cols). Computed in double per row:
     * subtract the max so exp never overflows; -inf entries give exp = 0. */
    for (int64_t r = 0; r < rows; r++) {
        const float *x_r = x + r * cols;
        float *out_r = out + r * cols;
        double max = -INFINITY;
        double sum = 0.0;

        for (int c = 0; c < cols; c++)
            if (x_r[c] > max)
                max = x_r[c];
        if (max == -INFINITY) {
            for (int c = 0; c < cols; c++)
                out_r[c] = 1.0f / (float)cols;
            continue;
        }

        for (int c = 0; c < cols; c++) {
            double e = x_r[c] == -INFINITY ? 0.0 : exp(((double)x_r[c] - max) / T);

            out_r[c] = (float)e;
            sum += e;
        }
        for (int c = 0; c < cols; c++)
            out_r[c] = (float)(out_r[c] / sum);
    }
}

int dg__argmax(const float *x, int n)
{
    int best = 0;

    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* MXCSR bits: flush-to-zero (15) and denormals-are-zero (6). */
#define MXCSR_FTZ_DAZ 0x8040u

unsigned int dg__flush_subnormals_begin(void)
{
#if defined(__SSE__)
    unsigned int saved = _mm_getcsr();

    _mm_setcsr(saved | MXCSR_FTZ_DAZ);
    return saved;
#else
    return 0;
#endif
}

void dg__flush_subnormals_end(unsigned int saved)
{
#if defined(__SSE__)
    _mm_setcsr(saved);
#else
    (void)saved;
#endif
}
