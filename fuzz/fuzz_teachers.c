/* Fuzz target: teacher outputs through dg_teachers_load, as one .npy
 * teacher in auto format and as two identical .csv teachers read strictly
 * as probabilities; loaded teachers must give their probabilities.
 */
#include "disagree.h"
#include "fuzz_file.h"

static void load(const char *const *paths, int M, dg_teacher_format format)
{
    dg_teachers *t = NULL;
    dg_error err;
    float *p;

    if (dg_teachers_load(paths, M, format, &t, &err) != 0)
        return;
    p = malloc(sizeof(float) * (size_t)dg_teachers_rows(t) * (size_t)dg_teachers_classes(t));
    if (p && dg_teachers_probs(t, M - 1, p) != 0)
        abort();
    free(p);
    dg_teachers_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *npy[1], *csv[2];

    npy[0] = fuzz_file(".npy", data, size);
    csv[0] = csv[1] = fuzz_file(".csv", data, size);
    load(npy, 1, DG_TEACHER_AUTO);
    load(csv, 2, DG_TEACHER_PROB);
    return 0;
}
