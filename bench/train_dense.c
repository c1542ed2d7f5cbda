/* Training throughput of dg_distill on Fashion-MNIST train (60,000 x 784)
 * with synthetic teachers, against the sgemm rate of the very calls one
 * training step makes. --profile times each section of the step instead,
 * through the trainer's internal functions, as dg_distill shares them
 * among --threads threads; --write-teachers saves the
 * synthetic teachers as .npy files for the CLI's memory benchmark.
 * Legend: N rows, D inputs, C classes, M teachers, B batch.
 */
#include "bench.h"
#include "distill/distill.h"
#include "nn/nn.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/resource.h>

#define DATA_DIR "/usr/share/datasets/fashion-mnist"
/* Seed of the synthetic teachers: every run and program sees the same. */
#define TEACHER_SEED 20240611u

typedef struct args {
    const char *data_dir;
    const char *method;
    const char *write_dir;
    int hidden[DG_MAX_LAYERS];
    int n_hidden;
    int batch, M, threads, epochs, profile;
} args;

static void usage(void)
{
    fprintf(stderr,
            "usage: train_dense [--hidden 512,256] [--batch 128] [--method ce|avg-loss|aekd]\n"
            "                   [--teachers M] [--threads T] [--epochs E] [--profile]\n"
            "                   [--data-dir DIR] [--write-teachers DIR]\n");
    exit(2);
}

static args parse(int argc, char **argv)
{
    args a = {DATA_DIR, "ce", NULL, {128}, 1, 64, 5, 1, 1, 0};

    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(k, "--profile") == 0) {
            a.profile = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(k, "--hidden") == 0) {
            char *end = (char *)v;

            a.n_hidden = 0;
            while (*end && a.n_hidden < DG_MAX_LAYERS - 1) {
                a.hidden[a.n_hidden++] = (int)strtol(end, &end, 10);
                end += *end == ',';
            }
        } else if (strcmp(k, "--batch") == 0) {
            a.batch = atoi(v);
        } else if (strcmp(k, "--method") == 0) {
            a.method = v;
        } else if (strcmp(k, "--teachers") == 0) {
            a.M = atoi(v);
        } else if (strcmp(k, "--threads") == 0) {
            a.threads = atoi(v);
        } else if (strcmp(k, "--epochs") == 0) {
            a.epochs = atoi(v);
        } else if (strcmp(k, "--data-dir") == 0) {
            a.data_dir = v;
        } else if (strcmp(k, "--write-teachers") == 0) {
            a.write_dir = v;
        } else {
            usage();
        }
    }
    if (a.batch < 1 || a.M < 1 || a.threads < 1 || a.epochs < 1)
        usage();
    return a;
}

/* M blocks of N x C probability rows, each row C exponential draws
 * normalised (a flat Dirichlet): teachers that disagree everywhere, which
 * costs the weighting as much as real ones. Caller frees. */
static float *synthetic_teachers(int M, int64_t N, int C)
{
    float *p = malloc(sizeof(float) * (size_t)M * (size_t)N * (size_t)C);
    dg__rng rng;

    if (!p)
        return NULL;
    dg__rng_seed(&rng, TEACHER_SEED);
    for (int64_t row = 0; row < (int64_t)M * N; row++) {
        float *p_row = p + row * C;
        double sum = 0.0;

        for (int c = 0; c < C; c++) {
            p_row[c] = (float)-log(1.0 - dg__rng_uniform(&rng));
            sum += p_row[c];
        }
        for (int c = 0; c < C; c++)
            p_row[c] = (float)(p_row[c] / sum);
    }
    return p;
}

/* The sgemm calls of one full training step of an MLP with sizes
 * [0..L] at batch B, in the trainer's order, into g (room for 3 L). */
static int step_gemms(const int64_t *sizes, int L, int B, bench_gemm *g)
{
    int n = 0;

    for (int l = 0; l < L; l++)
        g[n++] = (bench_gemm){B, (int)sizes[l + 1], (int)sizes[l], 0, 1};
    for (int l = L - 1; l >= 0; l--) {
        g[n++] = (bench_gemm){(int)sizes[l + 1], (int)sizes[l], B, 1, 0};
        if (l > 0)
            g[n++] = (bench_gemm){B, (int)sizes[l], (int)sizes[l + 1], 0, 0};
    }
    return n;
}

static void on_epoch(const dg_epoch_report *r, void *user)
{
    *(double *)user = r->seconds;
}

/* --profile: the trainer's step as dg_distill runs it (targets softened
 * once per run, then per batch: each thread gathers its rows, the shared
 * forward pass, the shared loss step, the shared backward pass with the
 * optimizer step fused in), each section timed by thread 0 from one
 * barrier to the next, so a section includes waiting for the slower
 * thread; one epoch. */
static void profile(const dg_dataset *ds, const dg_teachers *t, const dg_distill_opts *o, int M)
{
    enum { GATHER, FORWARD, KD, BACKWARD, N_SECTIONS };
    static const char *NAMES[] = {"gather", "forward", "kd_step", "backward"};
    int64_t N = dg_dataset_rows(ds), D = dg_dataset_cols(ds), B = o->batch;
    int C = dg_dataset_classes(ds), team = o->threads, Mk = o->method == DG_CE ? 0 : M;
    const int32_t *y = dg_dataset_labels(ds);
    double sec[N_SECTIONS] = {0}, total = 0.0, soften_s, loss;
    dg_model *model = NULL;
    dg__mlp_work mw;
    dg__kd_work kw;
    dg__optim opt;
    dg_error err;
    float *xb = malloc(sizeof(float) * (size_t)(B * D)), *dz = malloc(sizeof(float) * B * C);
    float *q = malloc(sizeof(float) * (size_t)(M * B * C));
    float *qall = NULL;
    double *h = malloc(sizeof(double) * (size_t)(M * B));
    double *hall = NULL;
    unsigned char *pres = malloc((size_t)(M * B)), *pall = NULL;
    int32_t *yb = malloc(sizeof(int32_t) * (size_t)B);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)N);
    double *w = malloc(sizeof(double) * (size_t)M);
    dg__rng rng;
    struct rusage ru0, ru1;

    bench_check(!xb || !dz || !q || !h || !pres || !yb || !order || !w, "profile", "out of memory");
    bench_check(dg_mlp_create(D, o->hidden, o->n_hidden, C, o->seed, &model, &err), "model",
                err.msg);
    bench_check(
        dg__mlp_work_init(&mw, model, B, &err) ||
            dg__kd_work_init_parts(&kw, B, C, M, team, &err) ||
            dg__optim_init(&opt, DG_SGD, model->n_params, o->momentum, o->weight_decay, &err),
        "work", err.msg);
    if (team > 1)
        openblas_set_num_threads(1);

    /* once per run, as the trainer does: soften, and each target's q ln q */
    soften_s = bench_now();
    if (Mk > 0)
        bench_check(dg__targets_cache(t, Mk, o->temperature, team, &qall, &hall, &pall, &err),
                    "targets", err.msg);
    soften_s = bench_now() - soften_s;
    for (int64_t i = 0; i < N; i++)
        order[i] = i;
    dg__rng_seed(&rng, o->seed);
    dg__rng_shuffle(&rng, order, N);

    /* page faults during the loop show whether a step touches new memory */
    getrusage(RUSAGE_SELF, &ru0);
    for (int64_t start = 0; start < N; start += B) {
        int64_t rows = N - start < B ? N - start : B;
        const int64_t *idx = order + start;
        dg__kd_batch kb = {rows, C, Mk, mw.acts[model->n_layers - 1], yb, q, pres, h};

#pragma omp parallel num_threads(team) if (team > 1)
        {
            int part = omp_get_thread_num(), parts = omp_get_num_threads();
            int64_t r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
            double t0 = bench_now(), t1;

            for (int64_t r = r0; r < r1; r++) {
                memcpy(xb + r * D, dg_dataset_features(ds) + idx[r] * D, sizeof(float) * D);
                yb[r] = y[idx[r]];
                for (int m = 0; m < Mk; m++) {
                    int64_t from = idx[r] * Mk + m, to = m * rows + r;

                    for (int c = 0; c < C; c++)
                        q[to * C + c] = qall[from * C + c];
                    pres[to] = pall[from];
                    h[to] = hall[from];
                }
            }
#pragma omp barrier
            t1 = bench_now();
            dg__mlp_forward_part(model, xb, rows, &mw, part, parts);
#pragma omp barrier
            if (part == 0) {
                sec[GATHER] += t1 - t0;
                t0 = bench_now();
                sec[FORWARD] += t0 - t1;
            }
            bench_check(dg__kd_step_part(&kb, o, &kw, dz, &loss, w, &err, part, parts), "kd step",
                        err.msg);
            t1 = bench_now();
            dg__mlp_backward_part(model, xb, rows, dz, &mw, part, parts, &opt, opt.t + 1, o->lr);
#pragma omp barrier
            if (part == 0) {
                sec[KD] += t1 - t0;
                sec[BACKWARD] += bench_now() - t1;
            }
        }
        opt.t++;
    }
    getrusage(RUSAGE_SELF, &ru1);
    for (int s = 0; s < N_SECTIONS; s++)
        total += sec[s];
    for (int s = 0; s < N_SECTIONS; s++)
        printf("profile_%s_ms %.1f\nprofile_%s_pct %.1f\n", NAMES[s], 1e3 * sec[s], NAMES[s],
               100.0 * sec[s] / total);
    printf("profile_total_ms %.1f\n", 1e3 * total);
    printf("profile_soften_once_ms %.1f\n", 1e3 * soften_s);
    printf("profile_loop_page_faults %ld\n", ru1.ru_minflt - ru0.ru_minflt);

    dg__optim_free(&opt);
    dg__kd_work_free(&kw);
    dg__mlp_work_free(&mw);
    dg_model_free(model);
    free(xb);
    free(dz);
    free(q);
    free(qall);
    free(h);
    free(hall);
    free(pres);
    free(pall);
    free(yb);
    free(order);
    free(w);
}

int main(int argc, char **argv)
{
    args a = parse(argc, argv);
    char images[4096], labels[4096];
    dg_dataset *ds = NULL;
    dg_teachers *t = NULL;
    dg_model *model = NULL;
    dg_error err;
    dg_distill_opts o = dg_distill_defaults();
    int64_t sizes[DG_MAX_LAYERS + 2], N, D;
    int C, L, n_gemm;
    bench_gemm g[3 * DG_MAX_LAYERS];
    double epoch_s = 0.0, flops_per_image = 0.0, mix_rate;
    struct rusage ru;

    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", a.data_dir);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", a.data_dir);
    bench_check(dg_dataset_load(images, labels, NULL, &ds, &err), "data", err.msg);
    N = dg_dataset_rows(ds);
    D = dg_dataset_cols(ds);
    C = dg_dataset_classes(ds);

    if (strcmp(a.method, "ce") == 0)
        o.method = DG_CE;
    else if (strcmp(a.method, "avg-loss") == 0)
        o.method = DG_AVG_LOSS;
    else if (strcmp(a.method, "aekd") == 0)
        o.method = DG_AEKD;
    else
        usage();
    if (o.method != DG_CE || a.write_dir) {
        float *p = synthetic_teachers(a.M, N, C);
        const float **ptrs = malloc(sizeof *ptrs * (size_t)a.M);

        bench_check(!p || !ptrs, "teachers", "out of memory");
        for (int m = 0; m < a.M; m++)
            ptrs[m] = p + (size_t)m * N * C;
        for (int m = 0; a.write_dir && m < a.M; m++) {
            char path[4200];

            snprintf(path, sizeof path, "%s/teacher%02d.npy", a.write_dir, m);
            bench_check(dg_write_npy(path, ptrs[m], N, C, &err), "write", err.msg);
        }
        if (a.write_dir)
            return 0;
        bench_check(dg_teachers_from_arrays(ptrs, a.M, N, C, DG_TEACHER_PROB, &t, &err), "teachers",
                    err.msg);
        free(ptrs);
        free(p);
    }

    memcpy(o.hidden, a.hidden, sizeof o.hidden);
    o.n_hidden = a.n_hidden;
    o.batch = a.batch;
    o.epochs = a.epochs;
    o.threads = a.threads;
    o.schedule = DG_LR_CONSTANT;
    o.on_epoch = on_epoch;
    o.on_epoch_user = &epoch_s;
    openblas_set_num_threads(a.threads);
    omp_set_num_threads(a.threads);

    /* the matrix work per image: forward and dW on every layer, dX on every
     * layer but the first */
    sizes[0] = D;
    for (int l = 0; l < a.n_hidden; l++)
        sizes[l + 1] = a.hidden[l];
    L = a.n_hidden + 1;
    sizes[L] = C;
    for (int l = 0; l < L; l++)
        flops_per_image += 2.0 * (double)sizes[l] * (double)sizes[l + 1] * (l > 0 ? 3 : 2);
    n_gemm = step_gemms(sizes, L, a.batch, g);

    /* training first, the sgemm rate after: OpenBLAS's worker threads keep
     * polling for a while after a multi-threaded call, and would share the
     * cores with the epoch */
    if (a.profile) {
        profile(ds, t, &o, a.M);
        mix_rate = bench_sgemm_rate(g, n_gemm);
    } else {
        bench_check(dg_distill(ds, t, &o, &model, &err), "distill", err.msg);
        openblas_set_num_threads(a.threads);
        mix_rate = bench_sgemm_rate(g, n_gemm);
        printf("images_per_s %.1f\n", (double)N / epoch_s);
        printf("epoch_s %.3f\n", epoch_s);
        printf("gflops %.2f\n", flops_per_image * (double)N / epoch_s / 1e9);
        printf("frac_of_sgemm %.3f\n", flops_per_image * (double)N / epoch_s / 1e9 / mix_rate);
    }
    printf("sgemm_mix_gflops %.2f\n", mix_rate);
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024.0);

    dg_model_free(model);
    dg_teachers_free(t);
    dg_dataset_free(ds);
    return 0;
}
