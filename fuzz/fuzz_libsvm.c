/* Fuzz target: LIBSVM / SVMlight text through dg_read_libsvm, with the
 * width taken from the file and with a fixed minimum width.
 */
#include "disagree.h"
#include "fuzz_file.h"

static void read_with(const char *path, int64_t n_features)
{
    dg_matrix X;
    dg_labels y;
    dg_error err;

    if (dg_read_libsvm(path, n_features, &X, &y, &err) != 0)
        return;
    dg_matrix_free(&X);
    dg_labels_free(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(".svm", data, size);

    read_with(path, 0);
    read_with(path, 7);
    return 0;
}
