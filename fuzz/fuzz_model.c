/* Fuzz target: model files through dg_model_load; a model that loads must
 * also answer for one all-zero row.
 */
#include "disagree.h"
#include "fuzz_file.h"

/* Widest input the target feeds a loaded model (bounds the test row). */
#define FUZZ_MAX_INPUTS 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(".dgm", data, size);
    dg_model *m = NULL;
    dg_error err;

    if (dg_model_load(path, &m, &err) != 0)
        return 0;
    if (dg_model_inputs(m) <= FUZZ_MAX_INPUTS) {
        float *x = calloc((size_t)dg_model_inputs(m) + 1, sizeof(float));
        float *p = calloc((size_t)dg_model_classes(m) + 1, sizeof(float));

        if (x && p && dg_model_predict_proba(m, x, 1, p, &err) != 0)
            abort();
        free(x);
        free(p);
    }
    dg_model_free(m);
    return 0;
}
