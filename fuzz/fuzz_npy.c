/* Fuzz target: NumPy .npy files through dg_read_npy (matrices) and
 * dg_read_npy_labels (class ids).
 */
#include "disagree.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(".npy", data, size);
    dg_matrix X;
    dg_labels y;
    dg_error err;

    if (dg_read_npy(path, &X, &err) == 0)
        dg_matrix_free(&X);
    if (dg_read_npy_labels(path, &y, &err) == 0)
        dg_labels_free(&y);
    return 0;
}
