/* Fuzz target: numeric CSV through dg_read_csv, with no label column and
 * header names, with a named label column and NaN allowed, and with label
 * column 0 and no header.
 */
#include "disagree.h"
#include "fuzz_file.h"

static void read_with(const char *path, const char *label_column, int header, int allow_nan)
{
    dg_csv_opts o = dg_csv_defaults();
    dg_matrix X;
    dg_labels y;
    char **names = NULL;
    dg_error err;

    o.label_column = label_column;
    o.header = header;
    o.allow_nan = allow_nan;
    if (dg_read_csv(path, &o, &X, label_column ? &y : NULL, &names, &err) != 0)
        return;
    if (names)
        dg_names_free(names, X.cols);
    dg_matrix_free(&X);
    if (label_column)
        dg_labels_free(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(".csv", data, size);

    read_with(path, NULL, -1, 0);
    read_with(path, "label", -1, 1);
    read_with(path, "0", 0, 0);
    return 0;
}
