/* Tests of the text students: finite-difference checks of both students'
 * parameter gradients, learning on a tiny synthetic corpus with every
 * distillation method, determinism across thread counts, sparse updates,
 * and the model file (round trip, corruption, truncation).
 */
#include "check.h"
#include "text/student.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const CLASSES[] = {"ham", "spam"};

static const char *const HAM_WORDS[] = {"meeting", "agenda", "project", "review", "lunch",
                                        "kernel", "patch", "release", "notes", "team"};
static const char *const SPAM_WORDS[] = {"cash", "prize", "winner", "viagra", "free",
                                         "offer", "click", "money", "urgent", "casino"};

/* n texts of 6 words each: even rows ham, odd rows spam; each text has 4
 * words of its class and 2 of the other, so no single word decides. */
static dg_corpus *synthetic(int n, uint64_t seed)
{
    dg_text_opts o = dg_text_defaults();
    dg_corpus *c = NULL;
    dg__rng rng;
    dg_error err;

    o.classes = CLASSES;
    o.n_classes = 2;
    dg__rng_seed(&rng, seed);
    if (dg_corpus_create(&o, &c, &err) != 0)
        return NULL;
    for (int i = 0; i < n; i++) {
        char text[256] = "";
        int spam = i % 2;

        for (int w = 0; w < 6; w++) {
            const char *const *own = spam ? SPAM_WORDS : HAM_WORDS;
            const char *const *other = spam ? HAM_WORDS : SPAM_WORDS;
            const char *word = (w < 4 ? own : other)[dg__rng_below(&rng, 10)];

            strcat(text, word);
            strcat(text, " ");
        }
        dg_corpus_add(c, text, strlen(text), CLASSES[spam], NULL, NULL, &err);
    }
    return c;
}

static dg_featurizer_opts small_opts(int bits)
{
    dg_featurizer_opts fo = dg_featurizer_defaults();

    fo.bits = bits;
    fo.word_min = 1;
    fo.word_max = 1;
    return fo;
}

/* A student over corpus c with a fitted featurizer; X receives c's rows. */
static dg_text_model *student_for(dg_text_student kind, const dg_corpus *c, int bits, int dim,
                                  dg_csr *X)
{
    dg_featurizer_opts fo = small_opts(bits);
    dg_featurizer *f = NULL;
    dg_text_model *m = NULL;
    dg_error err;

    if (dg_featurizer_fit(&fo, c, &f, &err) != 0)
        return NULL;
    if (dg_text_model_create(kind, &fo, f, 2, CLASSES, dim, 7, &m, &err) == 0 && X)
        dg_featurizer_transform(f, c, X, &err);
    dg_featurizer_free(f);
    return m;
}

/* ------------------------------------------------------------------------
 * Gradients
 */

/* Sum of r .* z over the rows' logits, in double. */
static double dot_logits(const dg_text_model *m, const dg_csr *X, const int64_t *rows,
                         int64_t B, const float *r, float *h, float *z)
{
    double s = 0.0;

    dg__text_forward(m, X, rows, B, h, z);
    for (int64_t i = 0; i < B * m->C; i++)
        s += (double)r[i] * z[i];
    return s;
}

/* The sparse backward scattered into a dense (n_params) gradient matches
 * central differences of sum(r .* z) for every parameter; untouched table
 * rows get exactly zero. */
static void check_gradient(dg_text_student kind)
{
    dg_corpus *c = synthetic(6, 3);
    dg_csr X;
    dg_text_model *m = student_for(kind, c, 5, 3, &X);
    int64_t rows[4] = {0, 3, 5, 3}, B = 4, R = dg__text_row_width(m), table = m->V * R;
    float r[8], h[12], z[8];
    float *dense = calloc((size_t)m->n_params, sizeof(float));
    dg__text_grad g;
    dg__rng rng;
    dg_error err;
    int bad = 0;

    dg__rng_seed(&rng, 11);
    for (int64_t i = 0; i < m->n_params; i++)
        m->params[i] = (float)(dg__rng_uniform(&rng) - 0.5);
    for (int i = 0; i < 8; i++)
        r[i] = (float)(dg__rng_uniform(&rng) - 0.5);
    CHECK(dg__text_grad_init(&g, m, m->V, &err) == 0);
    dg__text_forward(m, &X, rows, B, h, z);
    dg__text_backward(m, &X, rows, B, h, r, &g);
    for (int64_t i = 0; i < g.n_touched; i++)
        memcpy(dense + (int64_t)g.touched[i] * R, g.rows + i * R, sizeof(float) * (size_t)R);
    memcpy(dense + table, g.dense, sizeof(float) * (size_t)(m->n_params - table));

    for (int64_t p = 0; p < m->n_params; p++) {
        float keep = m->params[p];
        double eps = 1e-2, up, down, numeric;

        m->params[p] = (float)(keep + eps);
        up = dot_logits(m, &X, rows, B, r, h, z);
        m->params[p] = (float)(keep - eps);
        down = dot_logits(m, &X, rows, B, r, h, z);
        m->params[p] = keep;
        numeric = (up - down) / (2 * eps);
        if (fabs(numeric - dense[p]) > 1e-3 + 1e-3 * fabs(numeric)) {
            if (bad++ < 5)
                fprintf(stderr, "  param %lld: analytic %g, numeric %g\n", (long long)p,
                        (double)dense[p], numeric);
        }
    }
    CHECK(bad == 0);
    CHECK(g.n_touched > 0 && g.n_touched < m->V);

    dg__text_grad_free(&g);
    free(dense);
    dg_csr_free(&X);
    dg_text_model_free(m);
    dg_corpus_free(c);
}

static void linear_gradient_matches_finite_differences(void) { check_gradient(DG_TEXT_LINEAR); }
static void bag_gradient_matches_finite_differences(void) { check_gradient(DG_TEXT_BAG); }

/* ------------------------------------------------------------------------
 * Learning
 */

/* Teachers for rows with labels y: one right with confidence 0.8, one
 * right 0.7, one that always says ham (a bad teacher). (3 blocks N x 2.) */
static dg_teachers *make_teachers(const int32_t *y, int64_t N)
{
    float *p[3];
    dg_teachers *t = NULL;
    dg_error err;

    for (int m = 0; m < 3; m++)
        p[m] = malloc(sizeof(float) * 2 * (size_t)N);
    for (int64_t n = 0; n < N; n++) {
        p[0][2 * n + y[n]] = 0.8f;
        p[0][2 * n + 1 - y[n]] = 0.2f;
        p[1][2 * n + y[n]] = 0.7f;
        p[1][2 * n + 1 - y[n]] = 0.3f;
        p[2][2 * n] = 0.9f;
        p[2][2 * n + 1] = 0.1f;
    }
    dg_teachers_from_arrays((const float *const *)p, 3, N, 2, DG_TEACHER_PROB, &t, &err);
    for (int m = 0; m < 3; m++)
        free(p[m]);
    return t;
}

/* Accuracy of m on raw corpus c. */
static double corpus_accuracy(const dg_text_model *m, const dg_corpus *c)
{
    int64_t N = dg_corpus_size(c), hits = 0;
    float *probs = malloc(sizeof(float) * 2 * (size_t)N);
    dg_error err;

    if (dg_text_model_predict_corpus(m, c, probs, &err) != 0) {
        free(probs);
        return -1.0;
    }
    for (int64_t n = 0; n < N; n++)
        hits += (probs[2 * n + 1] > probs[2 * n]) == dg_corpus_labels(c)[n];
    free(probs);
    return (double)hits / (double)N;
}

/* Every student learns the synthetic split from labels or from teachers,
 * with every method and both optimizers, and reaches >= 95% on held-out
 * texts (chance is 50%). */
static void students_learn_with_every_method(void)
{
    dg_corpus *train = synthetic(200, 1), *test = synthetic(100, 2);
    const dg_method methods[] = {DG_CE, DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD};
    dg_teachers *t = make_teachers(dg_corpus_labels(train), 200);

    for (int kind = DG_TEXT_LINEAR; kind <= DG_TEXT_BAG; kind++)
        for (int k = 0; k < 4; k++)
            for (int opt = DG_SGD; opt <= DG_ADAM; opt++) {
                dg_csr X;
                dg_text_model *m = student_for((dg_text_student)kind, train, 10, 16, &X);
                dg_distill_opts o = dg_distill_defaults();
                dg_error err;
                double acc;
                int rc;

                o.method = methods[k];
                o.optimizer = (dg_optimizer)opt;
                o.lr = opt == DG_ADAM ? 0.05 : 0.5;
                o.epochs = 15;
                o.batch = 16;
                rc = dg_text_train(m, &X, dg_corpus_labels(train), t, &o, NULL, NULL, &err);
                CHECK(rc == 0);
                acc = corpus_accuracy(m, test);
                if (acc < 0.95)
                    fprintf(stderr, "  kind %d method %d opt %d: accuracy %.3f (%s)\n", kind,
                            k, opt, acc, rc ? err.msg : "");
                CHECK(acc >= 0.95);
                dg_csr_free(&X);
                dg_text_model_free(m);
            }
    dg_teachers_free(t);
    dg_corpus_free(train);
    dg_corpus_free(test);
}

/* Trains the bag with aekd under `threads` and returns its parameters. */
static float *train_bag(const dg_corpus *c, const dg_teachers *t, int threads, int64_t *n)
{
    dg_csr X;
    dg_text_model *m = student_for(DG_TEXT_BAG, c, 10, 8, &X);
    dg_distill_opts o = dg_distill_defaults();
    dg_error err;
    float *p;

    o.optimizer = DG_ADAM;
    o.lr = 0.02;
    o.epochs = 3;
    o.batch = 64;
    o.threads = threads;
    o.seed = 99;
    dg_text_train(m, &X, dg_corpus_labels(c), t, &o, NULL, NULL, &err);
    *n = m->n_params;
    p = malloc(sizeof(float) * (size_t)*n);
    memcpy(p, m->params, sizeof(float) * (size_t)*n);
    dg_csr_free(&X);
    dg_text_model_free(m);
    return p;
}

/* The same seed gives bit-identical parameters with 1 and 2 threads. */
static void training_is_deterministic_across_thread_counts(void)
{
    dg_corpus *c = synthetic(300, 5);
    dg_teachers *t = make_teachers(dg_corpus_labels(c), 300);
    int64_t n1, n2;
    float *p1 = train_bag(c, t, 1, &n1), *p2 = train_bag(c, t, 2, &n2);

    CHECK(n1 == n2);
    CHECK(memcmp(p1, p2, sizeof(float) * (size_t)n1) == 0);
    free(p1);
    free(p2);
    dg_teachers_free(t);
    dg_corpus_free(c);
}

/* With weight decay, embeddings of buckets no text uses stay exactly at
 * their initial values: updates touch only the batch's rows. */
static void untouched_embeddings_keep_their_values(void)
{
    dg_corpus *c = synthetic(50, 8);
    dg_csr X;
    dg_text_model *m = student_for(DG_TEXT_BAG, c, 12, 4, &X);
    dg_distill_opts o = dg_distill_defaults();
    float *before = malloc(sizeof(float) * (size_t)m->n_params);
    unsigned char *used = calloc((size_t)m->V, 1);
    dg_error err;
    int64_t changed_unused = 0, changed_used = 0;

    memcpy(before, m->params, sizeof(float) * (size_t)m->n_params);
    for (int64_t k = 0; k < X.nnz; k++)
        used[X.col[k]] = 1;
    o.method = DG_CE;
    o.optimizer = DG_ADAM;
    o.weight_decay = 0.01;
    o.epochs = 2;
    CHECK(dg_text_train(m, &X, dg_corpus_labels(c), NULL, &o, NULL, NULL, &err) == 0);
    for (int64_t v = 0; v < m->V; v++)
        for (int e = 0; e < m->E; e++) {
            int diff = m->params[v * m->E + e] != before[v * m->E + e];

            if (used[v])
                changed_used += diff;
            else
                changed_unused += diff;
        }
    CHECK(changed_unused == 0);
    CHECK(changed_used > 0);
    free(before);
    free(used);
    dg_csr_free(&X);
    dg_text_model_free(m);
    dg_corpus_free(c);
}

/* Wrong inputs fail with a message naming what was expected. */
static void bad_training_inputs_are_rejected(void)
{
    dg_corpus *c = synthetic(20, 4);
    dg_csr X;
    dg_text_model *m = student_for(DG_TEXT_LINEAR, c, 8, 0, &X);
    dg_teachers *t = make_teachers(dg_corpus_labels(c), 20);
    dg_distill_opts o = dg_distill_defaults();
    dg_error err;

    o.method = DG_AVG_LOSS;
    CHECK(dg_text_train(m, &X, NULL, NULL, &o, NULL, NULL, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "needs teachers") != NULL);
    o.method = DG_AEKD;
    o.tolerance = 0.2; /* below 1/M = 1/3 */
    CHECK(dg_text_train(m, &X, NULL, t, &o, NULL, NULL, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, "tolerance") != NULL);
    X.cols = 16;
    o.tolerance = 0.6;
    CHECK(dg_text_train(m, &X, NULL, t, &o, NULL, NULL, &err) == DG_EMISMATCH);
    X.cols = m->V;
    dg_teachers_free(t);
    dg_csr_free(&X);
    dg_text_model_free(m);
    dg_corpus_free(c);
}

/* Tokenising once on 3 threads gives the matrix and idf of the serial
 * fit + transform, entry for entry. */
static void parallel_featurizing_matches_the_featurizer(void)
{
    dg_corpus *c = synthetic(301, 9);
    dg_featurizer_opts fo = small_opts(11);
    dg_featurizer *serial = NULL, *par = NULL;
    dg_csr A, B;
    dg_error err;
    int same = 1;

    fo.word_max = 2;
    fo.char_min = 2;
    fo.char_max = 3;
    fo.sublinear_tf = 1;
    CHECK(dg_featurizer_fit(&fo, c, &serial, &err) == 0);
    CHECK(dg_featurizer_transform(serial, c, &A, &err) == 0);
    CHECK(dg__text_fit_transform(&fo, c, 3, &par, &B, &err) == 0);
    CHECK(A.rows == B.rows && A.cols == B.cols && A.nnz == B.nnz);
    for (int64_t r = 0; same && r <= A.rows; r++)
        same = A.row_ptr[r] == B.row_ptr[r];
    for (int64_t k = 0; same && k < A.nnz; k++)
        same = A.col[k] == B.col[k] && fabsf(A.val[k] - B.val[k]) <= 1e-6f;
    CHECK(same);
    CHECK(memcmp(dg_featurizer_idf(serial), dg_featurizer_idf(par), sizeof(float) << 11) == 0);
    dg_csr_free(&B);
    CHECK(dg__text_transform(&fo, par, c, 2, &B, &err) == 0);
    CHECK(B.nnz == A.nnz && memcmp(B.col, A.col, sizeof(int32_t) * (size_t)A.nnz) == 0);
    dg_csr_free(&A);
    dg_csr_free(&B);
    dg_featurizer_free(serial);
    dg_featurizer_free(par);
    dg_corpus_free(c);
}

/* ------------------------------------------------------------------------
 * Model file
 */

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long n;

    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fclose(fp);
    return n;
}

/* Saved and loaded, a trained bag predicts raw text exactly as before,
 * with its featurizer's idf; one flipped byte or a cut file is refused. */
static void model_file_round_trips_and_refuses_damage(void)
{
    char dir[] = "/tmp/dg_text_student_XXXXXX", path[128], cut[160];
    dg_corpus *c = synthetic(40, 6);
    dg_csr X;
    dg_text_model *m = student_for(DG_TEXT_BAG, c, 9, 5, &X), *back = NULL;
    dg_distill_opts o = dg_distill_defaults();
    float p1[80], p2[80];
    dg_error err;
    long size;
    FILE *fp;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/m.dgt", dir);
    snprintf(cut, sizeof cut, "%s/cut.dgt", dir);
    o.method = DG_CE;
    o.epochs = 2;
    CHECK(dg_text_train(m, &X, dg_corpus_labels(c), NULL, &o, NULL, NULL, &err) == 0);
    CHECK(dg_text_model_save(m, path, &err) == 0);
    CHECK(dg_text_model_load(path, &back, &err) == 0);
    CHECK(back && back->kind == DG_TEXT_BAG && back->E == 5 && back->C == 2);
    CHECK(back && strcmp(dg_text_model_class_names(back)[1], "spam") == 0);
    CHECK(back && memcmp(dg_featurizer_idf(back->feat), dg_featurizer_idf(m->feat),
                         sizeof(float) << 9) == 0);
    CHECK(dg_text_model_predict_corpus(m, c, p1, &err) == 0);
    CHECK(back && dg_text_model_predict_corpus(back, c, p2, &err) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    dg_text_model_free(back);
    back = NULL;

    /* a flipped byte in the parameters: checksum mismatch */
    size = file_size(path);
    fp = fopen(path, "r+b");
    fseek(fp, size / 2, SEEK_SET);
    fputc(fgetc(fp) ^ 0x40, fp);
    fclose(fp);
    CHECK(dg_text_model_load(path, &back, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "checksum") != NULL);

    /* a cut copy: names the end of the file */
    fp = fopen(path, "rb");
    {
        char *buf = malloc((size_t)size);
        FILE *out = fopen(cut, "wb");

        CHECK(fread(buf, 1, (size_t)size, fp) == (size_t)size);
        fwrite(buf, 1, (size_t)(size - 10), out);
        fclose(out);
        free(buf);
    }
    fclose(fp);
    CHECK(dg_text_model_load(cut, &back, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "end of the file") != NULL);
    CHECK(back == NULL);

    unlink(path);
    unlink(cut);
    rmdir(dir);
    dg_csr_free(&X);
    dg_text_model_free(m);
    dg_corpus_free(c);
}

int main(void)
{
    RUN(linear_gradient_matches_finite_differences);
    RUN(bag_gradient_matches_finite_differences);
    RUN(students_learn_with_every_method);
    RUN(training_is_deterministic_across_thread_counts);
    RUN(untouched_embeddings_keep_their_values);
    RUN(bad_training_inputs_are_rejected);
    RUN(parallel_featurizing_matches_the_featurizer);
    RUN(model_file_round_trips_and_refuses_damage);
    return check_summary();
}
