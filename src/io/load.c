/* Choosing a reader by file name: features from .npy, .csv/.tsv, LIBSVM
 * (.svm/.libsvm/.txt) or IDX (*-ubyte, *-ubyte.gz); labels from IDX, .npy
 * or a text/CSV file of one integer per line.
 */
#include "io/io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef enum { FMT_UNKNOWN = 0, FMT_NPY, FMT_CSV, FMT_LIBSVM, FMT_IDX } file_format;

/* IDX is recognised by "-ubyte" in the file's name (the MNIST naming),
 * anything else by its extension. */
static file_format format_of(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    if (strstr(base, "-ubyte"))
        return FMT_IDX;
    if (dg__has_suffix(base, ".npy"))
        return FMT_NPY;
    if (dg__has_suffix(base, ".csv") || dg__has_suffix(base, ".tsv"))
        return FMT_CSV;
    if (dg__has_suffix(base, ".svm") || dg__has_suffix(base, ".libsvm") ||
        dg__has_suffix(base, ".txt"))
        return FMT_LIBSVM;
    return FMT_UNKNOWN;
}

int dg__load_features_labels(const char *path, const dg_csv_opts *csv, dg_matrix *X,
                             dg_labels *y, dg_error *err)
{
    dg_csv_opts defaults = dg_csv_defaults();

    memset(X, 0, sizeof *X);
    if (y)
        memset(y, 0, sizeof *y);
    if (csv && csv->label_column && format_of(path) != FMT_CSV &&
        format_of(path) != FMT_UNKNOWN)
        return dg__fail(err, DG_EINVAL,
                        "%s: a label column applies to CSV or TSV files only; give this "
                        "file's labels in a labels file instead", path);
    switch (format_of(path)) {
    case FMT_NPY:
        return dg_read_npy(path, X, err);
    case FMT_CSV:
        return dg_read_csv(path, csv ? csv : &defaults, X, y, NULL, err);
    case FMT_LIBSVM:
        return dg_read_libsvm(path, 0, X, y, err);
    case FMT_IDX:
        return dg_read_idx_images(path, X, err);
    case FMT_UNKNOWN:
        break;
    }
    if (access(path, F_OK) != 0)
        return dg__fail(err, DG_EIO, "%s: cannot open file: %s", path, strerror(errno));
    return dg__fail(err, DG_EINVAL,
                    "%s: unknown feature file type, expected .npy, .csv, .tsv, .svm, .libsvm, "
                    ".txt (LIBSVM) or an IDX file named *-ubyte or *-ubyte.gz", path);
}

int dg_load_features(const char *path, const dg_csv_opts *csv, dg_matrix *out, dg_error *err)
{
    return dg__load_features_labels(path, csv, out, NULL, err);
}

/* One integer per line, with an optional header line: a CSV whose only
 * column is the label column. */
static int load_text_labels(const char *path, dg_labels *out, dg_error *err)
{
    dg_csv_opts o = dg_csv_defaults();
    dg_matrix extra;
    int64_t cols;
    int rc;

    o.label_column = "0";
    if ((rc = dg_read_csv(path, &o, &extra, out, NULL, err)) != 0)
        return rc;
    cols = extra.cols;
    dg_matrix_free(&extra);
    if (cols != 0) {
        dg_labels_free(out);
        return dg__fail(err, DG_EFORMAT, "%s: %lld columns, expected one label per line",
                        path, (long long)cols + 1);
    }
    return 0;
}

int dg_load_labels(const char *path, dg_labels *out, dg_error *err)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    memset(out, 0, sizeof *out);
    if (strstr(base, "-ubyte"))
        return dg_read_idx_labels(path, out, err);
    if (dg__has_suffix(base, ".npy"))
        return dg_read_npy_labels(path, out, err);
    if (dg__has_suffix(base, ".csv") || dg__has_suffix(base, ".tsv") ||
        dg__has_suffix(base, ".txt"))
        return load_text_labels(path, out, err);
    if (access(path, F_OK) != 0)
        return dg__fail(err, DG_EIO, "%s: cannot open file: %s", path, strerror(errno));
    return dg__fail(err, DG_EINVAL,
                    "%s: unknown label file type, expected .npy, .csv, .tsv, .txt (one integer "
                    "per line) or an IDX file named *-ubyte or *-ubyte.gz", path);
}
