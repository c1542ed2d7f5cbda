/* Evaluation of predicted probabilities against gold labels: accuracy,
 * macro-F1, log-loss, expected calibration error and the confusion matrix.
 */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ECE_BINS 15
/* log-loss of a zero probability is infinite; the metric caps it here, the
 * same floor scikit-learn's log_loss uses, so one confident mistake does
 * not turn the whole figure into inf. */
#define LOGLOSS_FLOOR 1e-15

int dg_evaluate(const float *probs, const int32_t *labels, int64_t N, int C,
                dg_eval_report *out, dg_error *err)
{
    double conf_sum[ECE_BINS] = {0}, hit_sum[ECE_BINS] = {0}, f1_sum = 0.0, ll = 0.0;
    int64_t count[ECE_BINS] = {0}, hits = 0, n = 0;
    int f1_classes = 0;

    /* probs is (N, C), labels (N); rows labelled -1 are skipped */
    memset(out, 0, sizeof *out);
    if (C < 2)
        return dg__fail(err, DG_EINVAL, "evaluation needs at least 2 classes, got %d", C);
    out->confusion = dg__alloc((size_t)C * (size_t)C, sizeof(int64_t), 1, err);
    if (!out->confusion)
        return DG_ENOMEM;
    out->C = C;

    /* pass 1: confusion, log-loss and calibration bins */
    for (int64_t i = 0; i < N; i++) {
        const float *p_i = probs + i * C;
        int32_t y = labels[i];
        int pred;
        int bin;

        if (y < 0)
            continue;
        if (y >= C) {
            dg_eval_report_free(out);
            return dg__fail(err, DG_EINVAL, "label %d at row %lld outside [0, %d)", y,
                            (long long)i + 1, C);
        }
        pred = dg__argmax(p_i, C);
        n++;
        hits += pred == y;
        out->confusion[(int64_t)y * C + pred]++;
        ll -= log(fmax((double)p_i[y], LOGLOSS_FLOOR));
        bin = (int)(p_i[pred] * ECE_BINS);
        bin = bin < 0 ? 0 : bin >= ECE_BINS ? ECE_BINS - 1 : bin;
        count[bin]++;
        conf_sum[bin] += p_i[pred];
        hit_sum[bin] += pred == y;
    }
    out->n = n;
    if (n == 0) {
        dg_eval_report_free(out);
        return dg__fail(err, DG_EINVAL, "no labelled rows to evaluate");
    }
    out->accuracy = (double)hits / (double)n;
    out->log_loss = ll / (double)n;

    /* pass 2: ECE = sum over bins of |accuracy - confidence| weighted by
     * the bin's share of rows */
    for (int k = 0; k < ECE_BINS; k++)
        if (count[k])
            out->ece += fabs(hit_sum[k] - conf_sum[k]) / (double)n;

    /* pass 3: macro-F1 over the classes that occur in truth or prediction */
    for (int c = 0; c < C; c++) {
        int64_t tp = out->confusion[(int64_t)c * C + c], truth = 0, pred = 0;

        for (int k = 0; k < C; k++) {
            truth += out->confusion[(int64_t)c * C + k];
            pred += out->confusion[(int64_t)k * C + c];
        }
        if (truth + pred == 0)
            continue;
        f1_classes++;
        f1_sum += 2.0 * (double)tp / (double)(truth + pred);
    }
    out->macro_f1 = f1_sum / f1_classes;
    return 0;
}

void dg_eval_report_free(dg_eval_report *r)
{
    if (!r)
        return;
    free(r->confusion);
    r->confusion = NULL;
}
