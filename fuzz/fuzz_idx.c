/* Fuzz target: IDX images and labels (raw or gzip) through
 * dg_read_idx_images and dg_read_idx_labels.
 */
#include "disagree.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("-ubyte", data, size);
    dg_matrix X;
    dg_labels y;
    dg_error err;

    if (dg_read_idx_images(path, &X, &err) == 0)
        dg_matrix_free(&X);
    if (dg_read_idx_labels(path, &y, &err) == 0)
        dg_labels_free(&y);
    return 0;
}
