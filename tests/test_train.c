/* The training loop end to end on small synthetic data: it learns, it is
 * deterministic for a seed, a resumed run is bit-identical to one that was
 * never interrupted, and bad options are refused with a clear message.
 */
#include "check.h"
#include "core/internal.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 600
#define D 8
#define C 3
#define M 3

/* Three Gaussian blobs; labels 0..2. Caller frees with dg_dataset_free. */
static dg_dataset *blobs(uint64_t seed)
{
    dg_matrix X = {N, D, malloc(sizeof(float) * N * D)};
    dg_labels y = {N, malloc(sizeof(int32_t) * N)};
    dg_dataset *ds = NULL;
    dg__rng r;

    dg__rng_seed(&r, seed);
    for (int i = 0; i < N; i++) {
        y.data[i] = i % C;
        for (int d = 0; d < D; d++)
            X.data[i * D + d] = (float)(dg__rng_normal(&r) + (d % C == y.data[i] ? 2.5 : 0.0));
    }
    if (dg_dataset_from_arrays(&X, &y, C, &ds, NULL) != 0)
        return NULL;
    return ds;
}

/* Teachers that know the label with confidence conf, else spread evenly;
 * teacher 2 is wrong (points at the next class) on every row. */
static dg_teachers *teachers_for(const dg_dataset *ds)
{
    float *out[M];
    dg_teachers *t = NULL;
    const int32_t *y = dg_dataset_labels(ds);

    for (int m = 0; m < M; m++) {
        out[m] = malloc(sizeof(float) * N * C);
        for (int i = 0; i < N; i++) {
            int target = m == 2 ? (y[i] + 1) % C : y[i];

            for (int c = 0; c < C; c++)
                out[m][i * C + c] = c == target ? 0.8f : 0.1f;
        }
    }
    dg_teachers_from_arrays((const float *const *)out, M, N, C, DG_TEACHER_PROB, &t, NULL);
    for (int m = 0; m < M; m++)
        free(out[m]);
    return t;
}

static dg_distill_opts small_opts(dg_method method)
{
    dg_distill_opts o = dg_distill_defaults();

    o.method = method;
    o.epochs = 4;
    o.batch = 32;
    o.hidden[0] = 16;
    o.n_hidden = 1;
    o.lr = 0.05;
    o.seed = 3;
    return o;
}

static double train_accuracy(const dg_model *m, const dg_dataset *ds)
{
    int64_t n = dg_dataset_rows(ds);
    float *p = malloc(sizeof(float) * (size_t)n * C);
    dg_eval_report r;
    double acc;

    dg_model_predict_proba(m, dg_dataset_features(ds), n, p, NULL);
    dg_evaluate(p, dg_dataset_labels(ds), n, C, &r, NULL);
    acc = r.accuracy;
    dg_eval_report_free(&r);
    free(p);
    return acc;
}

static void test_ce_learns_separable_blobs(void)
{
    dg_dataset *ds = blobs(1);
    dg_distill_opts o = small_opts(DG_CE);
    dg_model *m = NULL;
    dg_error err;

    CHECK(dg_distill(ds, NULL, &o, &m, &err) == 0);
    CHECK(m && train_accuracy(m, ds) > 0.9);
    dg_model_free(m);
    dg_dataset_free(ds);
}

static void test_every_method_learns_from_a_committee_with_one_wrong_teacher(void)
{
    dg_dataset *ds = blobs(2);
    dg_teachers *t = teachers_for(ds);
    const dg_method methods[] = {DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD};
    for (int k = 0; k < 3; k++) {
        dg_distill_opts o = small_opts(methods[k]);
        dg_model *m = NULL;
        dg_error err;

        CHECK(dg_distill(ds, t, &o, &m, &err) == 0);
        CHECK(m && train_accuracy(m, ds) > 0.85);
        dg_model_free(m);
    }
    dg_teachers_free(t);
    dg_dataset_free(ds);
}

static void test_teachers_alone_teach_unlabelled_rows(void)
{
    dg_dataset *ds = blobs(3);
    dg_teachers *t = teachers_for(ds);
    dg_distill_opts o = small_opts(DG_AVG_PROB);
    int32_t *none = malloc(sizeof(int32_t) * N);
    dg_model *m = NULL;

    /* Two of three teachers are right, so the mean target's argmax is the
     * true class: the student learns the labels it never saw. */
    for (int i = 0; i < N; i++)
        none[i] = -1;
    o.labels = none;
    CHECK(dg_distill(ds, t, &o, &m, NULL) == 0);
    CHECK(m && train_accuracy(m, ds) > 0.85);
    dg_model_free(m);
    free(none);
    dg_teachers_free(t);
    dg_dataset_free(ds);
}

static int same_params(const dg_model *a, const dg_model *b)
{
    return a->n_params == b->n_params &&
           memcmp(a->params, b->params, sizeof(float) * (size_t)a->n_params) == 0;
}

static void test_same_seed_gives_identical_weights(void)
{
    dg_dataset *ds = blobs(4);
    dg_teachers *t = teachers_for(ds);
    dg_distill_opts o = small_opts(DG_AEKD);
    dg_model *a = NULL, *b = NULL, *c = NULL;

    CHECK(dg_distill(ds, t, &o, &a, NULL) == 0);
    CHECK(dg_distill(ds, t, &o, &b, NULL) == 0);
    o.seed = 4;
    CHECK(dg_distill(ds, t, &o, &c, NULL) == 0);
    CHECK(a && b && same_params(a, b));
    CHECK(a && c && !same_params(a, c));
    dg_model_free(a);
    dg_model_free(b);
    dg_model_free(c);
    dg_teachers_free(t);
    dg_dataset_free(ds);
}

/* Two threads share every step (the gather, both passes, the optimizer):
 * run three times they give the same bits, and the same accuracy as one
 * thread up to rounding. Rows are wide enough (600 features) that a part
 * reading rows another part has not finished gathering would show. */
static void test_two_threads_are_deterministic(void)
{
    enum { NW = 512, DW = 600 };
    dg_matrix X = {NW, DW, malloc(sizeof(float) * NW * DW)};
    dg_labels y = {NW, malloc(sizeof(int32_t) * NW)};
    dg_dataset *ds = NULL;
    dg_model *runs[3] = {NULL, NULL, NULL}, *one = NULL;
    dg_distill_opts o = small_opts(DG_CE);
    int saved = omp_get_max_threads();
    dg__rng r;

    dg__rng_seed(&r, 9);
    for (int i = 0; i < NW; i++) {
        y.data[i] = i % C;
        for (int d = 0; d < DW; d++)
            X.data[i * DW + d] = (float)(dg__rng_normal(&r) + (d % C == y.data[i] ? 0.3 : 0.0));
    }
    CHECK(dg_dataset_from_arrays(&X, &y, C, &ds, NULL) == 0);
    o.batch = 64;
    o.epochs = 3;
    o.hidden[0] = 48;
    o.hidden[1] = 24;
    o.n_hidden = 2;
    o.threads = 2;
    for (int k = 0; k < 3; k++)
        CHECK(dg_distill(ds, NULL, &o, &runs[k], NULL) == 0);
    CHECK(runs[0] && runs[1] && runs[2] && same_params(runs[0], runs[1]) &&
          same_params(runs[0], runs[2]));
    o.threads = 1;
    CHECK(dg_distill(ds, NULL, &o, &one, NULL) == 0);
    CHECK(one && runs[0] &&
          fabs(train_accuracy(one, ds) - train_accuracy(runs[0], ds)) < 0.02);
    for (int k = 0; k < 3; k++)
        dg_model_free(runs[k]);
    dg_model_free(one);
    dg_dataset_free(ds);
    omp_set_num_threads(saved); /* o.threads set it for the process */
}

/* Copies the checkpoint aside when epoch 3 reports: the file then holds
 * the state after epoch 2, as if the run had been killed during epoch 3. */
typedef struct snap {
    const char *from, *to;
} snap;

static void snapshot_at_epoch_3(const dg_epoch_report *r, void *user)
{
    snap *s = user;
    char cmd[512];

    if (r->epoch == 3) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", s->from, s->to);
        CHECK(system(cmd) == 0);
    }
}

static void test_resume_from_checkpoint_is_bit_identical(void)
{
    dg_dataset *ds = blobs(5);
    dg_teachers *t = teachers_for(ds);
    dg_distill_opts o = small_opts(DG_AEKD);
    char dir[] = "/tmp/dg_train_XXXXXX", ckpt[64], saved[64];
    dg_model *full = NULL, *resumed = NULL;
    snap s;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    snprintf(saved, sizeof saved, "%s/epoch2.ckpt", dir);
    s.from = ckpt;
    s.to = saved;
    o.optimizer = DG_ADAM;
    o.lr = 0.01;
    o.checkpoint = ckpt;
    o.on_epoch = snapshot_at_epoch_3;
    o.on_epoch_user = &s;
    CHECK(dg_distill(ds, t, &o, &full, NULL) == 0);

    o.checkpoint = saved;
    o.resume = 1;
    o.on_epoch = NULL;
    CHECK(dg_distill(ds, t, &o, &resumed, NULL) == 0);
    CHECK(full && resumed && same_params(full, resumed));

    /* the same checkpoint under another seed or thread count would be a
     * hybrid run: refused */
    {
        dg_model *other = NULL;
        dg_error err;
        int saved = omp_get_max_threads();

        o.threads = saved > 1 ? 1 : 2;
        CHECK(dg_distill(ds, t, &o, &other, &err) == DG_EMISMATCH);
        CHECK(strstr(err.msg, "thread count") != NULL && strstr(err.msg, "--threads"));
        CHECK(other == NULL);
        omp_set_num_threads(saved);
        o.threads = 0;
        o.seed = 99;
        CHECK(dg_distill(ds, t, &o, &other, &err) == DG_EMISMATCH);
        CHECK(strstr(err.msg, "other options") != NULL);
        CHECK(other == NULL);
    }

    remove(ckpt);
    remove(saved);
    rmdir(dir);
    dg_model_free(full);
    dg_model_free(resumed);
    dg_teachers_free(t);
    dg_dataset_free(ds);
}

static void test_bad_options_are_refused_with_the_value(void)
{
    dg_dataset *ds = blobs(6);
    dg_teachers *t = teachers_for(ds);
    dg_model *m = NULL;
    dg_error err;
    dg_distill_opts o;

    o = small_opts(DG_AEKD);
    o.temperature = 0.0;
    CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "temperature"));
    o = small_opts(DG_AEKD);
    o.tolerance = 0.2;
    CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "tolerance"));
    o = small_opts(DG_AEKD);
    o.batch = 0;
    CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "batch"));
    o = small_opts(DG_AEKD);
    o.epochs = 0;
    CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "epochs"));
    o = small_opts(DG_AEKD);
    o.hidden[0] = 0;
    CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "hidden"));
    o = small_opts(DG_AVG_LOSS);
    CHECK(dg_distill(ds, NULL, &o, &m, &err) == DG_EINVAL && strstr(err.msg, "teachers"));
    {
        /* a test set one feature narrower than the training data */
        dg_matrix X = {4, D - 1, calloc(4 * (D - 1), sizeof(float))};
        dg_labels y = {4, calloc(4, sizeof(int32_t))};
        dg_dataset *narrow = NULL;

        CHECK(dg_dataset_from_arrays(&X, &y, C, &narrow, NULL) == 0);
        o = small_opts(DG_AEKD);
        o.test = narrow;
        CHECK(dg_distill(ds, t, &o, &m, &err) == DG_EMISMATCH && strstr(err.msg, "features"));
        dg_dataset_free(narrow);
    }
    CHECK(m == NULL);
    dg_teachers_free(t);
    dg_dataset_free(ds);
}

static void test_divergence_stops_with_epoch_and_batch(void)
{
    dg_dataset *ds = blobs(7);
    dg_distill_opts o = small_opts(DG_CE);
    dg_model *m = NULL;
    dg_error err;
    float *X = (float *)dg_dataset_features(ds);

    /* Huge inputs and a huge step drive the logits to overflow. */
    for (int i = 0; i < N * D; i++)
        X[i] *= 1e18f;
    o.lr = 1e3;
    o.momentum = 0.0;
    o.schedule = DG_LR_CONSTANT;
    CHECK(dg_distill(ds, NULL, &o, &m, &err) == DG_ENUMERIC);
    CHECK(strstr(err.msg, "epoch 1") && strstr(err.msg, "batch"));
    CHECK(m == NULL);
    dg_dataset_free(ds);
}

static void test_distill_into_continues_a_model_of_the_right_shape(void)
{
    dg_dataset *ds = blobs(8);
    dg_distill_opts o = small_opts(DG_CE);
    dg_model *m = NULL, *wrong = NULL;
    dg_error err;
    int hidden[1] = {4};
    double before;

    o.epochs = 1;
    o.lr = 0.001;
    CHECK(dg_distill(ds, NULL, &o, &m, &err) == 0);
    before = train_accuracy(m, ds);
    o.epochs = 5;
    o.lr = 0.05;
    CHECK(dg_distill_into(m, ds, NULL, &o, &err) == 0);
    CHECK(train_accuracy(m, ds) > fmax(before, 0.9));

    CHECK(dg_mlp_create(D + 1, hidden, 1, C, 1, &wrong, &err) == 0);
    CHECK(dg_distill_into(wrong, ds, NULL, &o, &err) == DG_EMISMATCH);
    CHECK(strstr(err.msg, "inputs") != NULL);
    dg_model_free(wrong);
    dg_model_free(m);
    dg_dataset_free(ds);
}

int main(void)
{
    RUN(test_ce_learns_separable_blobs);
    RUN(test_every_method_learns_from_a_committee_with_one_wrong_teacher);
    RUN(test_teachers_alone_teach_unlabelled_rows);
    RUN(test_same_seed_gives_identical_weights);
    RUN(test_two_threads_are_deterministic);
    RUN(test_resume_from_checkpoint_is_bit_identical);
    RUN(test_bad_options_are_refused_with_the_value);
    RUN(test_divergence_stops_with_epoch_and_batch);
    RUN(test_distill_into_continues_a_model_of_the_right_shape);
    return check_summary();
}
