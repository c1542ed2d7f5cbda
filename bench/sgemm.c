/* The machine's own sgemm rate through cblas_sgemm (OpenBLAS) for the
 * shapes the MLP benchmarks use, at a given OpenBLAS thread count. Prints
 * "metric value" lines (GFLOP/s); --info prints OpenBLAS's build and core.
 *   bench/sgemm --threads 1|2      bench/sgemm --info
 */
#include "bench.h"

#include <string.h>

/* Shapes as (m, n, k, A transposed, B transposed), named by m x k x n. */
static const struct {
    const char *name;
    bench_gemm g;
} SHAPES[] = {
    {"sgemm_256x784x512", {256, 512, 784, 0, 1}},  /* a forward first layer */
    {"sgemm_128x512x256", {128, 256, 512, 0, 1}},  /* a forward second layer */
    {"sgemm_512x128x784", {512, 784, 128, 1, 0}},  /* a dW of the first layer */
    {"sgemm_128x256x512", {128, 512, 256, 0, 0}},  /* a dX of the second layer */
};

int main(int argc, char **argv)
{
    int threads = 1;

    if (argc == 2 && strcmp(argv[1], "--info") == 0) {
        printf("openblas_config %s\n", openblas_get_config());
        printf("openblas_corename %s\n", openblas_get_corename());
        printf("openblas_procs %d\n", openblas_get_num_procs());
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "--threads") != 0 || (threads = atoi(argv[2])) < 1) {
        fprintf(stderr, "usage: sgemm --threads N | sgemm --info\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        double rate = bench_sgemm_rate(&SHAPES[i].g, 1);

        if (rate < 0.0) {
            fprintf(stderr, "sgemm: out of memory\n");
            return 1;
        }
        printf("%s %.2f\n", SHAPES[i].name, rate);
    }
    return 0;
}
