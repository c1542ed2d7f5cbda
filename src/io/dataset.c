/* Datasets: an N x D feature matrix with optional labels (one per row, -1
 * for an unlabelled row) and a class count, built from arrays the caller
 * hands over or loaded from files.
 */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

#define DATASET_MAX_CLASSES 1000000

/* Takes X and y whatever happens: on success they move into the dataset,
 * on failure they are freed; either way the caller's structs are zeroed. */
int dg_dataset_from_arrays(dg_matrix *X, dg_labels *y, int n_classes, dg_dataset **out,
                           dg_error *err)
{
    dg_labels none = {0, NULL};
    dg_labels *labels = y ? y : &none;
    dg_dataset *ds;
    int64_t count, max_label = -1;
    int rc = 0;

    *out = NULL;
    if (!X)
        return dg__fail(err, DG_EINVAL, "dataset: the feature matrix is NULL");
    if (!dg__mul_le(X->rows, X->cols, INT64_MAX, &count) || (count > 0 && !X->data))
        rc = dg__fail(err, DG_EINVAL, "dataset: feature matrix of %lld x %lld is invalid",
                      (long long)X->rows, (long long)X->cols);
    else if (n_classes < 0 || n_classes > DATASET_MAX_CLASSES)
        rc = dg__fail(err, DG_EINVAL, "dataset: %d classes, expected 0 (infer) to %d",
                      n_classes, DATASET_MAX_CLASSES);
    else if (labels->n != 0 && labels->n != X->rows)
        rc = dg__fail(err, DG_EMISMATCH, "dataset: %lld labels for %lld feature rows",
                      (long long)labels->n, (long long)X->rows);
    else if (labels->n != 0 && !labels->data)
        rc = dg__fail(err, DG_EINVAL, "dataset: %lld labels but no label array",
                      (long long)labels->n);

    for (int64_t i = 0; rc == 0 && i < labels->n; i++) {
        int32_t c = labels->data[i];

        if (c < -1 || c >= DATASET_MAX_CLASSES || (n_classes > 0 && c >= n_classes))
            rc = dg__fail(err, DG_EINVAL, "dataset: label of row %lld (0-based) is %d, "
                          "expected -1 or a class in 0..%d", (long long)i, c,
                          (n_classes > 0 ? n_classes : DATASET_MAX_CLASSES) - 1);
        else if (c > max_label)
            max_label = c;
    }
    if (rc == 0 && !(ds = dg__alloc(1, sizeof *ds, 1, err)))
        rc = DG_ENOMEM;
    if (rc != 0) {
        dg_matrix_free(X);
        dg_labels_free(labels);
        return rc;
    }

    ds->X = *X;
    if (labels->n != 0)
        ds->y = *labels;
    else
        dg_labels_free(labels);
    ds->C = n_classes > 0 ? n_classes : (int)(max_label + 1);
    strcpy(ds->source, "(arrays)");
    memset(X, 0, sizeof *X);
    memset(labels, 0, sizeof *labels);
    *out = ds;
    return 0;
}

int dg_dataset_load(const char *features_path, const char *labels_path,
                    const dg_csv_opts *csv, dg_dataset **out, dg_error *err)
{
    dg_matrix X;
    dg_labels y = {0, NULL};
    int rc;

    *out = NULL;
    rc = dg__load_features_labels(features_path, csv, &X, labels_path ? NULL : &y, err);
    if (rc != 0)
        return rc;
    if (labels_path && (rc = dg_load_labels(labels_path, &y, err)) != 0) {
        dg_matrix_free(&X);
        return rc;
    }
    if (labels_path && y.n != X.rows) {
        rc = dg__fail(err, DG_EMISMATCH, "%s has %lld rows but %s has %lld labels: they must "
                      "match row for row", features_path, (long long)X.rows, labels_path,
                      (long long)y.n);
        dg_matrix_free(&X);
        dg_labels_free(&y);
        return rc;
    }
    if ((rc = dg_dataset_from_arrays(&X, &y, 0, out, err)) != 0)
        return rc;
    snprintf((*out)->source, sizeof (*out)->source, "%s", features_path);
    return 0;
}

void dg_dataset_free(dg_dataset *ds)
{
    if (!ds)
        return;
    dg_matrix_free(&ds->X);
    dg_labels_free(&ds->y);
    free(ds);
}

int64_t dg_dataset_rows(const dg_dataset *ds)
{
    return ds->X.rows;
}

int64_t dg_dataset_cols(const dg_dataset *ds)
{
    return ds->X.cols;
}

int dg_dataset_classes(const dg_dataset *ds)
{
    return ds->C;
}

const float *dg_dataset_features(const dg_dataset *ds)
{
    return ds->X.data;
}

const int32_t *dg_dataset_labels(const dg_dataset *ds)
{
    return ds->y.n ? ds->y.data : NULL;
}

const char *dg_dataset_source(const dg_dataset *ds)
{
    return ds->source;
}
