/* Fuzz target: teacher outputs through dg_teachers_load (one positional
 * .npy in auto format, two identical .csv strictly as probabilities) and
 * dg_teachers_load_aligned (keyed .csv and .jsonl against 5 data rows and
 * classes a, b, c, missing ids allowed), plus dg_read_ids on the same
 * bytes. Loaded teachers must give their probabilities and presence.
 */
#include "disagree.h"
#include "fuzz_file.h"

#define FUZZ_ROWS 5

static void check_loaded(dg_teachers *t)
{
    int64_t N = dg_teachers_rows(t);
    int M = dg_teachers_count(t);
    float *p = malloc(sizeof(float) * (size_t)N * (size_t)dg_teachers_classes(t));
    unsigned char *present = malloc((size_t)N);

    if (p && present &&
        (dg_teachers_probs(t, M - 1, p) != 0 || dg_teachers_present(t, M - 1, present) != 0))
        abort();
    free(p);
    free(present);
    dg_teachers_free(t);
}

static void load(const char *const *paths, int M, dg_teacher_format format,
                 const dg_align_opts *align)
{
    dg_teachers *t = NULL;
    dg_error err;

    if (dg_teachers_load_aligned(paths, M, format, align, &t, &err) == 0)
        check_loaded(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const classes[] = {"a", "b", "c"};
    dg_align_opts keyed = dg_align_defaults();
    const char *npy[1], *csv[2], *jsonl[1];
    dg_teachers *t = NULL;
    char **ids = NULL;
    int64_t n_ids = 0;
    dg_error err;

    npy[0] = fuzz_file(".npy", data, size);
    csv[0] = csv[1] = fuzz_file(".csv", data, size);
    jsonl[0] = fuzz_file(".jsonl", data, size);
    if (dg_teachers_load(npy, 1, DG_TEACHER_AUTO, &t, &err) == 0)
        check_loaded(t);
    load(csv, 2, DG_TEACHER_PROB, NULL);

    keyed.N = FUZZ_ROWS;
    keyed.classes = classes;
    keyed.C = 3;
    keyed.allow_missing = 1;
    load(csv, 1, DG_TEACHER_AUTO, &keyed);
    load(jsonl, 1, DG_TEACHER_AUTO, &keyed);
    if (dg_read_ids(csv[0], NULL, &ids, &n_ids, &err) == 0)
        dg_names_free(ids, n_ids);
    return 0;
}
