/* Chooses distillation defaults on validation data: Fashion-MNIST's
 * training set is split into 50,000 rows to train on and 10,000 held out;
 * five teachers (one on 40% flipped labels) are trained on the 50,000, then
 * a student per method and AE-KD variant, over several seeds. Choices are
 * read off the validation column; the test column is reported, not used.
 *
 * usage: variants DATA_DIR SEEDS STUDENT_EPOCHS TEACHER_EPOCHS > table.md
 */
#include "disagree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEMBERS 5
#define TRAIN_ROWS 50000

typedef struct variant {
    const char *name;
    dg_method method;
    dg_aekd_grad grad;
    int normalize;
    double tolerance;
} variant;

static const variant variants[] = {
    {"ce", DG_CE, DG_AEKD_MEAN, 0, 0.6},
    {"avg-loss", DG_AVG_LOSS, DG_AEKD_MEAN, 0, 0.6},
    {"avg-prob", DG_AVG_PROB, DG_AEKD_MEAN, 0, 0.6},
    {"aekd mean C=0.6 (official)", DG_AEKD, DG_AEKD_MEAN, 0, 0.6},
    {"aekd mean C=1", DG_AEKD, DG_AEKD_MEAN, 0, 1.0},
    {"aekd full C=0.6", DG_AEKD, DG_AEKD_FULL, 0, 0.6},
    {"aekd normalized C=0.6", DG_AEKD, DG_AEKD_MEAN, 1, 0.6},
    {"aekd full normalized C=0.6", DG_AEKD, DG_AEKD_FULL, 1, 0.6},
    {"aekd per-example C=0.6", DG_AEKD, DG_AEKD_PER_EXAMPLE, 0, 0.6},
    {"aekd mean C=0.3", DG_AEKD, DG_AEKD_MEAN, 0, 0.3},
};
#define N_VARIANTS (int)(sizeof variants / sizeof variants[0])

static void die(const dg_error *err)
{
    fprintf(stderr, "variants: %s\n", err->msg);
    exit(1);
}

/* Accuracy of a model on rows [start, start+n) of ds. */
static double accuracy(const dg_model *m, const dg_dataset *ds, int64_t start, int64_t n)
{
    int C = dg_dataset_classes(ds);
    float *p = malloc(sizeof(float) * (size_t)(n * C));
    dg_eval_report r;
    dg_error err;
    double acc;

    if (dg_model_predict_proba(m, dg_dataset_features(ds) + start * dg_dataset_cols(ds), n, p,
                               &err) != 0 ||
        dg_evaluate(p, dg_dataset_labels(ds) + start, n, C, &r, &err) != 0)
        die(&err);
    acc = r.accuracy;
    dg_eval_report_free(&r);
    free(p);
    return acc;
}

int main(int argc, char **argv)
{
    static const int hidden[MEMBERS][2] = {{256, 0}, {128, 0}, {512, 0}, {256, 128}, {64, 0}};
    char a[4096], b[4096];
    int seeds = argc > 2 ? atoi(argv[2]) : 3, epochs = argc > 3 ? atoi(argv[3]) : 10;
    int teacher_epochs = argc > 4 ? atoi(argv[4]) : 5;
    dg_dataset *train, *test;
    dg_teachers *teachers;
    dg_error err;
    float *probs[MEMBERS];
    int64_t rows[TRAIN_ROWS];
    int32_t *noisy, *val_hidden;
    double val[N_VARIANTS][16], tst[N_VARIANTS][16], teacher_val[MEMBERS];
    int64_t N;

    if (argc < 2 || seeds < 1 || seeds > 16 || epochs < 1 || teacher_epochs < 1) {
        fprintf(stderr, "usage: variants DATA_DIR [SEEDS<=16] [STUDENT_EPOCHS] "
                        "[TEACHER_EPOCHS]\n");
        return 2;
    }
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", argv[1]);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", argv[1]);
    if (dg_dataset_load(a, b, NULL, &train, &err) != 0)
        die(&err);
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", argv[1]);
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", argv[1]);
    if (dg_dataset_load(a, b, NULL, &test, &err) != 0)
        die(&err);
    N = dg_dataset_rows(train);

    /* The held-out rows keep their labels for scoring but are hidden from
     * every teacher and student: training uses rows[0, TRAIN_ROWS) only. */
    for (int64_t i = 0; i < TRAIN_ROWS; i++)
        rows[i] = i;
    noisy = malloc(sizeof(int32_t) * (size_t)N);
    val_hidden = malloc(sizeof(int32_t) * (size_t)N);
    memcpy(val_hidden, dg_dataset_labels(train), sizeof(int32_t) * (size_t)N);
    for (int64_t i = TRAIN_ROWS; i < N; i++)
        val_hidden[i] = -1;

    for (int k = 0; k < MEMBERS; k++) {
        dg_distill_opts o = dg_distill_defaults();
        dg_model *m;

        o.method = DG_CE;
        o.epochs = teacher_epochs;
        o.batch = 128;
        o.seed = 1000 + (uint64_t)k;
        o.hidden[0] = hidden[k][0];
        o.hidden[1] = hidden[k][1];
        o.n_hidden = hidden[k][1] ? 2 : 1;
        o.rows = rows;
        o.n_rows = TRAIN_ROWS;
        o.labels = val_hidden;
        if (k == MEMBERS - 1) {
            /* the deliberately bad teacher: 40% of its labels flipped */
            srand(7);
            memcpy(noisy, val_hidden, sizeof(int32_t) * (size_t)N);
            for (int64_t i = 0; i < TRAIN_ROWS; i++)
                if (rand() % 10 < 4)
                    noisy[i] = (noisy[i] + 1 + rand() % 9) % 10;
            o.labels = noisy;
        }
        if (dg_distill(train, NULL, &o, &m, &err) != 0)
            die(&err);
        probs[k] = malloc(sizeof(float) * (size_t)N * 10);
        if (dg_model_predict_proba(m, dg_dataset_features(train), N, probs[k], &err) != 0)
            die(&err);
        teacher_val[k] = accuracy(m, train, TRAIN_ROWS, N - TRAIN_ROWS);
        fprintf(stderr, "teacher %d: validation accuracy %.4f\n", k, teacher_val[k]);
        dg_model_free(m);
    }
    if (dg_teachers_from_arrays((const float *const *)probs, MEMBERS, N, 10, DG_TEACHER_PROB,
                                &teachers, &err) != 0)
        die(&err);

    for (int v = 0; v < N_VARIANTS; v++)
        for (int s = 0; s < seeds; s++) {
            dg_distill_opts o = dg_distill_defaults();
            dg_model *m;

            o.method = variants[v].method;
            o.aekd_grad = variants[v].grad;
            o.aekd_normalize = variants[v].normalize;
            o.tolerance = variants[v].tolerance;
            o.epochs = epochs;
            o.seed = 1 + (uint64_t)s;
            o.rows = rows;
            o.n_rows = TRAIN_ROWS;
            o.labels = val_hidden;
            if (dg_distill(train, teachers, &o, &m, &err) != 0)
                die(&err);
            val[v][s] = accuracy(m, train, TRAIN_ROWS, N - TRAIN_ROWS);
            tst[v][s] = accuracy(m, test, 0, dg_dataset_rows(test));
            fprintf(stderr, "%s seed %d: validation %.4f test %.4f\n", variants[v].name, s + 1,
                    val[v][s], tst[v][s]);
            dg_model_free(m);
        }

    printf("Teachers trained %d epochs; validation accuracy:", teacher_epochs);
    for (int k = 0; k < MEMBERS; k++)
        printf(" %.4f", teacher_val[k]);
    printf(" (the last on 40%% flipped labels). Students: %d epochs.\n\n", epochs);
    printf("| method | validation acc (mean of %d seeds) | min | max | test acc (mean) |\n",
           seeds);
    printf("| --- | --- | --- | --- | --- |\n");
    for (int v = 0; v < N_VARIANTS; v++) {
        double vm = 0, tm = 0, lo = 1, hi = 0;

        for (int s = 0; s < seeds; s++) {
            vm += val[v][s] / seeds;
            tm += tst[v][s] / seeds;
            lo = fmin(lo, val[v][s]);
            hi = fmax(hi, val[v][s]);
        }
        printf("| %s | %.4f | %.4f | %.4f | %.4f |\n", variants[v].name, vm, lo, hi, tm);
    }
    return 0;
}
