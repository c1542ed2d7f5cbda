/* Compressed sparse row matrices: building one from unordered triplets
 * (sorting columns and summing duplicates within each row), and freeing.
 * The featurizer fills dg_csr directly, row by row, with the same rules.
 */
#include "text/text.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void dg_csr_free(dg_csr *m)
{
    if (!m)
        return;
    free(m->row_ptr);
    free(m->col);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* Orders triplet indices by column; ties keep input order. */
typedef struct {
    int32_t col;
    int64_t at;
} col_at;

static int cmp_col_at(const void *a, const void *b)
{
    const col_at *x = a, *y = b;

    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

int dg_csr_from_triplets(int64_t rows, int64_t cols, const int64_t *row, const int32_t *col,
                         const float *val, int64_t n, dg_csr *out, dg_error *err)
{
    int64_t *count = NULL;
    col_at *order = NULL;
    int64_t k, r;

    memset(out, 0, sizeof *out);
    if (rows < 0 || cols < 0 || cols > INT32_MAX || n < 0)
        return dg__fail(err, DG_EINVAL, "sparse matrix: expected rows >= 0, 0 <= cols <= %d "
                        "and n >= 0, found %" PRId64 " x %" PRId64 " with %" PRId64 " entries",
                        INT32_MAX, rows, cols, n);
    for (k = 0; k < n; k++)
        if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
            return dg__fail(err, DG_EINVAL, "sparse matrix: entry %" PRId64 " at (%" PRId64
                            ", %d) lies outside %" PRId64 " x %" PRId64, k, row[k], col[k],
                            rows, cols);

    /* pass 1: bucket the triplets by row (counting sort), stable. */
    count = dg__alloc((size_t)rows + 1, sizeof *count, 1, err);
    order = dg__alloc((size_t)n, sizeof *order, 0, err);
    out->row_ptr = dg__alloc((size_t)rows + 1, sizeof *out->row_ptr, 1, err);
    out->col = dg__alloc((size_t)n, sizeof *out->col, 0, err);
    out->val = dg__alloc((size_t)n, sizeof *out->val, 0, err);
    if (!count || !order || !out->row_ptr || !out->col || !out->val) {
        free(count);
        free(order);
        dg_csr_free(out);
        return DG_ENOMEM;
    }
    for (k = 0; k < n; k++)
        count[row[k] + 1]++;
    for (r = 0; r < rows; r++)
        count[r + 1] += count[r];
    for (k = 0; k < n; k++) {
        int64_t slot = count[row[k]]++;

        order[slot].col = col[k];
        order[slot].at = k;
    }

    /* pass 2: within each row sort by column and sum equal columns. */
    out->rows = rows;
    out->cols = cols;
    for (r = 0, k = 0; r < rows; r++) {
        int64_t begin = r ? count[r - 1] : 0, end = count[r];

        qsort(order + begin, (size_t)(end - begin), sizeof *order, cmp_col_at);
        for (int64_t j = begin; j < end; j++) {
            if (k > out->row_ptr[r] && out->col[k - 1] == order[j].col) {
                out->val[k - 1] += val[order[j].at];
                continue;
            }
            out->col[k] = order[j].col;
            out->val[k] = val[order[j].at];
            k++;
        }
        out->row_ptr[r + 1] = k;
    }
    out->nnz = k;
    free(count);
    free(order);
    return 0;
}
