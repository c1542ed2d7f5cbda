/* disagree text: the raw-text path. `teach` trains four sparse teachers
 * that each see a different view of the mail (word unigrams, character
 * n-grams, headers only, body only) and writes their probabilities;
 * `distill` trains a sparse student (embedding bag or softmax regression)
 * from labels and those probabilities; `eval` and `predict` apply a saved
 * text model to a JSONL/CSV file of raw texts; `featurize` writes texts as
 * dense hashed n-gram features for the active-learning commands.
 */
#include "cli/cli.h"
#include "core/internal.h"
#include "text/student.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Teachers text teach trains, one per view. */
#define TEXT_VIEWS 4
/* Most teacher files text distill takes. */
#define TEXT_MAX_TEACHERS 64

/* ------------------------------------------------------------------------
 * Shared pieces
 */

/* Options every action shares: training and featurizer settings. */
#define TRAIN_OPTS                                                                          \
    {"epochs", "E", "passes over the training texts (default: teach 5, distill 1)", NULL},  \
    {"batch", "B", "minibatch size (default 32)", NULL},                                   \
    {"optimizer", "sgd|adam", "optimizer (default adam)", NULL},                           \
    {"lr", "LR", "learning rate (default: teach 0.02, distill 0.1)", NULL},                \
    {"weight-decay", "WD", "L2 weight decay on touched rows (default 0)", NULL},           \
    {"bits", "B", "hash buckets 2^B (default 18)", NULL},                                  \
    {"seed", "S", "random seed (default 1)", NULL},                                        \
    {"threads", "N", "OpenMP threads (default: all)", NULL},                               \
    {"json", "FILE", "write the figures as JSON", NULL}

/* Options of every action that reads texts: where the text and label are,
 * and what to do with invalid UTF-8. */
#define INPUT_OPTS                                                                          \
    {"text-key", "KEY", "JSON key or CSV column of the text (default text)", NULL},         \
    {"label-key", "KEY", "JSON key or CSV column of the label (default label)", NULL},      \
    {"invalid-utf8", "error|replace",                                                       \
     "invalid UTF-8: an error naming line and byte, or U+FFFD, counted (default error)",    \
     NULL}

/* --text-part: which part of each mail the features read. */
static int parse_part(const cli_cmd *cmd, dg_text_part *part)
{
    const char *s = cli_get(cmd, "text-part");

    if (!s || strcmp(s, "all") == 0)
        *part = DG_TEXT_ALL;
    else if (strcmp(s, "body") == 0)
        *part = DG_TEXT_BODY;
    else
        return cli_error("%s: --text-part expects body or all, got '%s'", cmd->name, s);
    return 0;
}

/* The reader settings of this run, from INPUT_OPTS (see text_input). */
static dg_text_opts input_base;

/* Fills input_base from the command's INPUT_OPTS; returns 0 or 1. */
static int text_input(const cli_cmd *cmd)
{
    const char *s = cli_get(cmd, "invalid-utf8");

    input_base = dg_text_defaults();
    if (cli_get(cmd, "text-key"))
        input_base.text_key = cli_get(cmd, "text-key");
    if (cli_get(cmd, "label-key"))
        input_base.label_key = cli_get(cmd, "label-key");
    if (s && strcmp(s, "replace") == 0)
        input_base.invalid_utf8 = DG_UTF8_REPLACE;
    else if (s && strcmp(s, "error") != 0)
        return cli_error("%s: --invalid-utf8 expects error or replace, got '%s'", cmd->name, s);
    return 0;
}

/* Reads path into *c with o; in replace mode, says how many invalid
 * sequences were replaced. */
static int read_texts(const char *path, const dg_text_opts *o, dg_corpus **c)
{
    dg_error err;

    if (dg_read_text(path, o, c, &err) != 0)
        return cli_fail(&err);
    if (dg_corpus_replaced(*c) > 0)
        fprintf(stderr, "disagree: warning: %s: %lld invalid UTF-8 sequences replaced by U+FFFD\n",
                path, (long long)dg_corpus_replaced(*c));
    return 0;
}

/* Reads a test file whose labels share the training corpus's class ids. */
static int read_test(const char *test, const dg_corpus *tr, dg_corpus **te)
{
    dg_text_opts o = input_base;

    o.classes = dg_corpus_class_names(tr);
    o.n_classes = dg_corpus_classes(tr);
    return read_texts(test, &o, te);
}

/* Reads the training text file, then (when test is not NULL) the test file. */
static int read_pair(const char *train, const char *test, dg_corpus **tr, dg_corpus **te)
{
    if (read_texts(train, &input_base, tr) != 0)
        return 1;
    if (dg_corpus_classes(*tr) < 2)
        return cli_error("%s: expected labelled texts of at least 2 classes, found %d", train,
                         dg_corpus_classes(*tr));
    return test ? read_test(test, *tr, te) : 0;
}

/* Fills the training options shared by teach and distill from cmd, with
 * these defaults for epochs and learning rate. */
static int train_opts(const cli_cmd *cmd, dg_distill_opts *o, int *bits, int epochs, double lr)
{
    const char *s;

    o->method = DG_CE;
    o->epochs = epochs;
    o->batch = 32;
    o->optimizer = DG_ADAM;
    o->lr = lr;
    o->momentum = 0.9;
    o->weight_decay = 0.0;
    o->schedule = DG_LR_COSINE;
    *bits = 18;
    if ((s = cli_get(cmd, "optimizer"))) {
        if (strcmp(s, "sgd") == 0)
            o->optimizer = DG_SGD;
        else if (strcmp(s, "adam") != 0)
            return cli_error("text %s: --optimizer expects sgd or adam, got '%s'", cmd->name,
                             s);
    }
    if (cli_int(cmd, "epochs", 1, 100000, &o->epochs) ||
        cli_int(cmd, "batch", 1, 1 << 20, &o->batch) ||
        cli_double(cmd, "lr", 1e-9, 1e3, &o->lr) ||
        cli_double(cmd, "weight-decay", 0, 1e3, &o->weight_decay) ||
        cli_int(cmd, "bits", 1, DG_HASH_BITS_MAX, bits) || cli_u64(cmd, "seed", &o->seed) ||
        cli_int(cmd, "threads", 0, 4096, &o->threads))
        return 1;
    return 0;
}

/* F1 of class `pos` from a C x C confusion (rows truth); NaN when undefined. */
static double class_f1(const dg_eval_report *r, int pos)
{
    int64_t tp = r->confusion[pos * r->C + pos], fp = 0, fn = 0;

    for (int c = 0; c < r->C; c++)
        if (c != pos) {
            fp += r->confusion[c * r->C + pos];
            fn += r->confusion[pos * r->C + c];
        }
    return 2 * tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0 / 0.0;
}

/* The class named `name` among C names, or the last class when name is
 * NULL; -1 (after an error) when absent. */
static int class_index(const char *const *names, int C, const char *name)
{
    if (!name)
        return C - 1;
    for (int c = 0; c < C; c++)
        if (strcmp(names[c], name) == 0)
            return c;
    cli_error("text: --positive '%s' is not one of the %d classes", name, C);
    return -1;
}

static long long file_bytes(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Fits the featurizer on train, transforms train (and test when given),
 * on `threads` threads (0: all). */
static int featurize(const dg_featurizer_opts *fo, const dg_corpus *train, const dg_corpus *test,
                     int threads, dg_featurizer **f, dg_csr *X, dg_csr *Xt)
{
    dg_error err;

    memset(X, 0, sizeof *X);
    if (Xt)
        memset(Xt, 0, sizeof *Xt);
    if (dg__text_fit_transform(fo, train, threads, f, X, &err) != 0 ||
        (test && dg__text_transform(fo, *f, test, threads, Xt, &err) != 0))
        return cli_fail(&err);
    return 0;
}

/* ------------------------------------------------------------------------
 * text teach
 */

static cli_opt teach_opts[] = {
    {"train", "FILE", "labelled training texts (.jsonl, .csv, .tsv)", NULL},
    {"test", "FILE", "test texts; their probabilities are written too", NULL},
    {"out", "DIR", "where tK.train.npy, tK.test.npy and tK.dgt go", NULL},
    TRAIN_OPTS,
    INPUT_OPTS,
};

static cli_cmd teach_cmd = {
    "text teach", "Train four sparse softmax-regression teachers on four views of each text "
             "(word unigrams, character 3-5-grams, mail headers, mail body) and write their "
             "probabilities on the training and test texts as DIR/tK.{train,test}.npy.",
    teach_opts, (int)(sizeof teach_opts / sizeof teach_opts[0])};

/* The four views: featurizer settings over bits. */
static void view_opts(int view, int bits, dg_featurizer_opts *fo, const char **name)
{
    static const char *const names[TEXT_VIEWS] = {"words", "chars", "headers", "body"};

    *fo = dg_featurizer_defaults();
    fo->bits = bits;
    fo->sublinear_tf = 1;
    fo->word_min = 1;
    fo->word_max = view == 0 ? 1 : 2;
    if (view == 1) {
        fo->word_min = fo->word_max = 0;
        fo->char_min = 3;
        fo->char_max = 5;
    }
    fo->part = view == 2 ? DG_TEXT_HEADERS : view == 3 ? DG_TEXT_BODY : DG_TEXT_ALL;
    *name = names[view];
}

/* Probabilities of m on X written to path (N x C .npy). */
static int write_probs(const dg_text_model *m, const dg_csr *X, const char *path)
{
    float *p = malloc(sizeof(float) * (size_t)X->rows * (size_t)dg_text_model_classes(m));
    dg_error err;
    int rc = 0;

    if (!p)
        return cli_error("out of memory");
    if (dg_text_model_predict_proba(m, X, p, &err) != 0 ||
        dg_write_npy(path, p, X->rows, dg_text_model_classes(m), &err) != 0)
        rc = cli_fail(&err);
    free(p);
    return rc;
}

/* Accuracy and F1 of class pos of m on X against y. */
static int score(const dg_text_model *m, const dg_csr *X, const int32_t *y, int pos,
                 double *acc, double *f1)
{
    int C = dg_text_model_classes(m);
    float *p = malloc(sizeof(float) * (size_t)X->rows * (size_t)C);
    dg_eval_report r = {0};
    dg_error err;
    int rc = 0;

    if (!p)
        return cli_error("out of memory");
    if (dg_text_model_predict_proba(m, X, p, &err) != 0 ||
        dg_evaluate(p, y, X->rows, C, &r, &err) != 0)
        rc = cli_fail(&err);
    else {
        *acc = r.accuracy;
        *f1 = class_f1(&r, pos);
    }
    dg_eval_report_free(&r);
    free(p);
    return rc;
}

static int text_teach(int argc, char **argv)
{
    const char *train, *test = NULL, *dir;
    dg_corpus *tr = NULL, *te = NULL;
    dg_distill_opts o = dg_distill_defaults();
    int bits, rc = 1, parsed;
    FILE *json = NULL;
    dg__outfile jo;
    dg_error err;

    if ((parsed = cli_parse(&teach_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (text_input(&teach_cmd))
        return 2;
    if (cli_require(&teach_cmd, "train", &train) || cli_require(&teach_cmd, "out", &dir) ||
        train_opts(&teach_cmd, &o, &bits, 5, 0.02))
        return 2;
    test = cli_get(&teach_cmd, "test");
    if (mkdir(dir, 0777) != 0 && file_bytes(dir) < 0)
        return cli_error("text teach: cannot create folder %s", dir);
    if (read_pair(train, test, &tr, &te) != 0)
        goto done;
    if (cli_get(&teach_cmd, "json")) {
        if (dg__out_open(&jo, cli_get(&teach_cmd, "json"), &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        json = jo.fp;
        fprintf(json, "{\n  \"teachers\": [");
    }
    printf("%-8s %-8s %10s %10s %9s\n", "teacher", "view", "test acc", "test F1", "seconds");
    for (int v = 0; v < TEXT_VIEWS; v++) {
        dg_featurizer_opts fo;
        dg_featurizer *f = NULL;
        dg_text_model *m = NULL;
        dg_csr X, Xt;
        const char *name;
        char path[4096];
        double t0 = cli_now(), acc = 0.0 / 0.0, f1 = 0.0 / 0.0, secs;
        int C = dg_corpus_classes(tr), bad = 0;

        view_opts(v, bits, &fo, &name);
        bad = featurize(&fo, tr, te, o.threads, &f, &X, &Xt);
        if (!bad && dg_text_model_create(DG_TEXT_LINEAR, &fo, f, C, dg_corpus_class_names(tr),
                                         0, o.seed + (uint64_t)v, &m, &err) != 0)
            bad = cli_fail(&err);
        if (!bad && dg_text_train(m, &X, dg_corpus_labels(tr), NULL, &o, NULL, NULL, &err))
            bad = cli_fail(&err);
        secs = cli_now() - t0;
        snprintf(path, sizeof path, "%s/t%d.train.npy", dir, v);
        bad = bad || write_probs(m, &X, path);
        snprintf(path, sizeof path, "%s/t%d.dgt", dir, v);
        if (!bad && dg_text_model_save(m, path, &err) != 0)
            bad = cli_fail(&err);
        if (!bad && te) {
            snprintf(path, sizeof path, "%s/t%d.test.npy", dir, v);
            bad = write_probs(m, &Xt, path) ||
                  score(m, &Xt, dg_corpus_labels(te), C - 1, &acc, &f1);
        }
        if (!bad) {
            printf("t%-7d %-8s %10.4f %10.4f %9.2f\n", v, name, acc, f1, secs);
            if (json) {
                fprintf(json, "%s\n    {\"view\": ", v ? "," : "");
                cli_json_str(json, name);
                fprintf(json, ", \"test_accuracy\": ");
                cli_json_num(json, acc);
                fprintf(json, ", \"test_f1\": ");
                cli_json_num(json, f1);
                fprintf(json, ", \"seconds\": ");
                cli_json_num(json, secs);
                fprintf(json, "}");
            }
        }
        dg_text_model_free(m);
        dg_featurizer_free(f);
        dg_csr_free(&X);
        dg_csr_free(&Xt);
        if (bad)
            goto done;
    }
    rc = 0;

done:
    if (json) {
        fprintf(json, "\n  ]\n}\n");
        if (rc == 0 && dg__out_commit(&jo, &err) != 0)
            rc = cli_fail(&err);
        else if (rc != 0)
            dg__out_abort(&jo);
    }
    dg_corpus_free(tr);
    dg_corpus_free(te);
    return rc;
}

/* ------------------------------------------------------------------------
 * text distill
 */

static cli_opt distill_opts[] = {
    {"train", "FILE", "labelled training texts (.jsonl, .csv, .tsv)", NULL},
    {"teachers", "T1,T2,...", "teacher probabilities on the training texts (N x C .npy)", NULL},
    {"test", "FILE", "test texts to score the student on", NULL},
    {"out", "MODEL", "where the student goes (.dgt)", NULL},
    {"student", "bag|linear", "embedding bag or softmax regression (default bag)", NULL},
    {"dim", "E", "embedding dim of the bag (default 32)", NULL},
    {"words", "MIN-MAX", "word n-gram orders, 0-0 for none (default 1-2)", NULL},
    {"text-part", "body|all", "mail: features from the body only, or headers and body "
                              "(default all)", NULL},
    {"chars", "MIN-MAX", "char n-gram orders, 0-0 for none (default 0-0)", NULL},
    {"method", "aekd|avg-loss|avg-prob|ce", "teacher weighting (default aekd)", NULL},
    {"tolerance", "C", "AE-KD cap in [1/M, 1] (default 0.6)", NULL},
    {"temperature", "T", "softening temperature (default 4)", NULL},
    {"alpha", "A", "weight of the KD term (default 0.9)", NULL},
    {"gamma", "G", "weight of the label term (default 1)", NULL},
    {"positive", "CLASS", "class whose F1 is reported (default: the last class)", NULL},
    TRAIN_OPTS,
    INPUT_OPTS,
};

static cli_cmd distill_cmd = {
    "text distill", "Train a sparse text student (embedding bag or softmax regression over hashed "
               "n-grams) from labels and teachers' probabilities, and score it on --test.",
    distill_opts, (int)(sizeof distill_opts / sizeof distill_opts[0])};

/* "1-2" -> 1, 2; "0" or "0-0" -> none. cmd names the command in errors. */
static int parse_range(const char *cmd, const char *what, const char *s, int *lo, int *hi)
{
    char *end;
    long a = strtol(s, &end, 10), b = a;

    if (end != s && *end == '-')
        b = strtol(end + 1, &end, 10);
    if (end == s || *end || a < 0 || b < a || b > 8)
        return cli_error("%s: --%s expects MIN-MAX orders such as 1-2, got '%s'", cmd, what,
                         s);
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

static int parse_method(const char *s, dg_method *m)
{
    static const char *const names[] = {"ce", "avg-loss", "avg-prob", "aekd"};

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (dg_method)i;
            return 0;
        }
    return cli_error("text distill: --method expects aekd, avg-loss, avg-prob or ce, got '%s'",
                     s);
}

/* Parses the student and featurizer options of text distill. */
static int distill_setup(dg_distill_opts *o, dg_featurizer_opts *fo, dg_text_student *kind,
                         int *dim)
{
    const cli_cmd *cmd = &distill_cmd;
    const char *s;
    int bits;

    /* distill's defaults were chosen on validation mail carved from the
     * training set (bench/text/TUNING.md): one epoch at lr 0.1 */
    if (train_opts(cmd, o, &bits, 1, 0.1))
        return 1;
    o->method = DG_AEKD;
    *fo = dg_featurizer_defaults();
    fo->bits = bits;
    fo->sublinear_tf = 1;
    *kind = DG_TEXT_BAG;
    *dim = 32;
    if ((s = cli_get(cmd, "student"))) {
        if (strcmp(s, "linear") == 0)
            *kind = DG_TEXT_LINEAR;
        else if (strcmp(s, "bag") != 0)
            return cli_error("text distill: --student expects bag or linear, got '%s'", s);
    }
    if (((s = cli_get(cmd, "method")) && parse_method(s, &o->method)) ||
        parse_part(cmd, &fo->part) ||
        ((s = cli_get(cmd, "words")) &&
         parse_range(cmd->name, "words", s, &fo->word_min, &fo->word_max)) ||
        ((s = cli_get(cmd, "chars")) &&
         parse_range(cmd->name, "chars", s, &fo->char_min, &fo->char_max)) ||
        cli_int(cmd, "dim", 1, DG_TEXT_DIM_MAX, dim) ||
        cli_double(cmd, "tolerance", 0, 1, &o->tolerance) ||
        cli_double(cmd, "temperature", 1e-6, 1e6, &o->temperature) ||
        cli_double(cmd, "alpha", 0, 1e6, &o->alpha) || cli_double(cmd, "gamma", 0, 1e6, &o->gamma))
        return 1;
    if (o->method != DG_CE && !cli_get(cmd, "teachers"))
        return cli_error("text distill: --teachers is required unless --method ce");
    return 0;
}

static int text_distill(int argc, char **argv)
{
    const char *train, *out, *test;
    dg_corpus *tr = NULL, *te = NULL;
    dg_distill_opts o = dg_distill_defaults();
    dg_featurizer_opts fo;
    dg_featurizer *f = NULL;
    dg_teachers *t = NULL;
    dg_text_model *m = NULL;
    dg_text_student kind;
    dg_csr X = {0}, Xt = {0};
    char **paths = NULL, *buf = NULL;
    int n_paths = 0, dim, rc = 1, parsed, pos = 0;
    double t0, train_secs, acc = 0.0 / 0.0, f1 = 0.0 / 0.0;
    dg_error err;

    if ((parsed = cli_parse(&distill_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (text_input(&distill_cmd))
        return 2;
    if (cli_require(&distill_cmd, "train", &train) || cli_require(&distill_cmd, "out", &out) ||
        distill_setup(&o, &fo, &kind, &dim))
        return 2;
    test = cli_get(&distill_cmd, "test");
    /* the training time runs from reading the training texts to the saved
     * model; the test texts are read and scored afterwards */
    t0 = cli_now();
    if (read_pair(train, NULL, &tr, NULL) != 0)
        goto done;
    if ((pos = class_index(dg_corpus_class_names(tr), dg_corpus_classes(tr),
                           cli_get(&distill_cmd, "positive"))) < 0)
        goto done;
    if (o.method != DG_CE) {
        if (cli_split(cli_get(&distill_cmd, "teachers"), ',', &paths, &n_paths, &buf) != 0)
            goto done;
        if (n_paths > TEXT_MAX_TEACHERS) {
            cli_error("text distill: at most %d teachers, got %d", TEXT_MAX_TEACHERS, n_paths);
            goto done;
        }
        if (dg_teachers_load((const char *const *)paths, n_paths, DG_TEACHER_AUTO, &t, &err)) {
            cli_fail(&err);
            goto done;
        }
    }
    if (featurize(&fo, tr, NULL, o.threads, &f, &X, NULL) != 0)
        goto done;
    if (dg_text_model_create(kind, &fo, f, dg_corpus_classes(tr), dg_corpus_class_names(tr),
                             dim, o.seed, &m, &err) != 0 ||
        dg_text_train(m, &X, dg_corpus_labels(tr), t, &o, NULL, NULL, &err) != 0 ||
        dg_text_model_save(m, out, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    train_secs = cli_now() - t0;
    if (test) {
        if (read_test(test, tr, &te) != 0)
            goto done;
        if (dg__text_transform(&fo, f, te, o.threads, &Xt, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        if (score(m, &Xt, dg_corpus_labels(te), pos, &acc, &f1) != 0)
            goto done;
    }

    printf("%-10s %-8s %10s %10s %10s %12s %12s\n", "student", "method", "test acc",
           "test F1", "seconds", "params", "bytes");
    printf("%-10s %-8s %10.4f %10.4f %10.2f %12lld %12lld\n",
           kind == DG_TEXT_BAG ? "bag" : "linear",
           cli_get(&distill_cmd, "method") ? cli_get(&distill_cmd, "method") : "aekd", acc, f1,
           train_secs, (long long)dg_text_model_param_count(m), file_bytes(out));
    if (cli_get(&distill_cmd, "json")) {
        dg__outfile jo;

        if (dg__out_open(&jo, cli_get(&distill_cmd, "json"), &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        fprintf(jo.fp, "{\n  \"student\": \"%s\",\n  \"test_accuracy\": ",
                kind == DG_TEXT_BAG ? "bag" : "linear");
        cli_json_num(jo.fp, acc);
        fprintf(jo.fp, ",\n  \"test_f1\": ");
        cli_json_num(jo.fp, f1);
        fprintf(jo.fp, ",\n  \"seconds\": ");
        cli_json_num(jo.fp, train_secs);
        fprintf(jo.fp, ",\n  \"params\": %lld,\n  \"bytes\": %lld\n}\n",
                (long long)dg_text_model_param_count(m), file_bytes(out));
        if (dg__out_commit(&jo, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
    }
    rc = 0;

done:
    free(paths);
    free(buf);
    dg_teachers_free(t);
    dg_text_model_free(m);
    dg_featurizer_free(f);
    dg_csr_free(&X);
    dg_csr_free(&Xt);
    dg_corpus_free(tr);
    dg_corpus_free(te);
    return rc;
}

/* ------------------------------------------------------------------------
 * text eval and text predict
 */

static cli_opt apply_opts[] = {
    {"model", "MODEL", "a text model written by text distill or text teach", NULL},
    {"data", "FILE", "texts (.jsonl, .csv, .tsv); eval needs their labels", NULL},
    {"out", "FILE", "predict: where the N x C probabilities go (.npy, or .csv with a header "
                    "of class names)", NULL},
    {"positive", "CLASS", "eval: class whose F1 is reported (default: the last class)", NULL},
    {"json", "FILE", "eval: write the figures as JSON", NULL},
    INPUT_OPTS,
};

static cli_cmd apply_cmd = {
    "text eval|predict", "eval: score a text model on labelled texts (accuracy, macro-F1, F1 of "
                    "--positive, log-loss). predict: write its class probabilities.",
    apply_opts, (int)(sizeof apply_opts / sizeof apply_opts[0])};

static int text_apply(int predict, int argc, char **argv)
{
    const char *model_path, *data, *out = NULL;
    dg_text_model *m = NULL;
    dg_corpus *c = NULL;
    dg_text_opts to;
    dg_eval_report r = {0};
    float *p = NULL;
    int rc = 1, parsed, C, pos;
    dg_error err;

    if ((parsed = cli_parse(&apply_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (text_input(&apply_cmd))
        return 2;
    to = input_base;
    if (cli_require(&apply_cmd, "model", &model_path) || cli_require(&apply_cmd, "data", &data) ||
        (predict && cli_require(&apply_cmd, "out", &out)))
        return 2;
    if (dg_text_model_load(model_path, &m, &err) != 0)
        return cli_fail(&err);
    C = dg_text_model_classes(m);
    to.classes = dg_text_model_class_names(m);
    to.n_classes = C;
    if (predict)
        to.label_key = NULL;
    if (read_texts(data, &to, &c) != 0)
        goto done;
    if (!(p = malloc(sizeof(float) * (size_t)dg_corpus_size(c) * (size_t)C))) {
        cli_error("out of memory");
        goto done;
    }
    if (dg_text_model_predict_corpus(m, c, p, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    if (predict) {
        size_t len = strlen(out);
        int csv = len > 4 && strcmp(out + len - 4, ".csv") == 0;

        /* a .csv gets a header of the class names, in the model's order */
        if ((csv ? dg_write_csv(out, p, dg_corpus_size(c), C, to.classes, &err)
                 : dg_write_npy(out, p, dg_corpus_size(c), C, &err)) != 0) {
            cli_fail(&err);
            goto done;
        }
        printf("wrote %lld x %d probabilities to %s (columns:", (long long)dg_corpus_size(c), C,
               out);
        for (int k = 0; k < C; k++)
            printf(" %s", to.classes[k]);
        printf(")\n");
        rc = 0;
        goto done;
    }
    if ((pos = class_index(to.classes, C, cli_get(&apply_cmd, "positive"))) < 0)
        goto done;
    if (dg_evaluate(p, dg_corpus_labels(c), dg_corpus_size(c), C, &r, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    printf("%-10s %10s %10s %10s %10s\n", "rows", "accuracy", "macro F1", "F1", "log-loss");
    printf("%-10lld %10.4f %10.4f %10.4f %10.4f\n", (long long)r.n, r.accuracy, r.macro_f1,
           class_f1(&r, pos), r.log_loss);
    if (cli_get(&apply_cmd, "json")) {
        dg__outfile jo;

        if (dg__out_open(&jo, cli_get(&apply_cmd, "json"), &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        fprintf(jo.fp, "{\n  \"rows\": %lld,\n  \"accuracy\": ", (long long)r.n);
        cli_json_num(jo.fp, r.accuracy);
        fprintf(jo.fp, ",\n  \"macro_f1\": ");
        cli_json_num(jo.fp, r.macro_f1);
        fprintf(jo.fp, ",\n  \"f1\": ");
        cli_json_num(jo.fp, class_f1(&r, pos));
        fprintf(jo.fp, ",\n  \"log_loss\": ");
        cli_json_num(jo.fp, r.log_loss);
        fprintf(jo.fp, "\n}\n");
        if (dg__out_commit(&jo, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
    }
    rc = 0;

done:
    dg_eval_report_free(&r);
    free(p);
    dg_corpus_free(c);
    dg_text_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------------
 * text featurize
 */

/* Most hash bits text featurize densifies: 2^16 columns are 256 KiB of
 * float32 per text. Limit: larger vocabularies collide more in the hashed
 * columns, since the dense students cannot take sparse input. */
#define TEXT_DENSE_BITS_MAX 16
/* text featurize's default: 2^14 columns, 64 KiB per text. */
#define TEXT_DENSE_BITS_DEFAULT 14

static cli_opt featurize_opts[] = {
    {"train", "FILE", "labelled training texts (.jsonl, .csv, .tsv); the idf is fitted here",
     NULL},
    {"test", "FILE", "labelled test texts, featurized with the training idf", NULL},
    {"out-prefix", "P", "writes P.train.npy, P.train-labels.npy (and P.test*.npy)", NULL},
    {"bits", "B", "2^B dense columns, at most 16 (default 14)", NULL},
    {"words", "MIN-MAX", "word n-gram orders, 0-0 for none (default 1-2)", NULL},
    {"text-part", "body|all", "mail: features from the body only, or headers and body "
                              "(default all)", NULL},
    {"chars", "MIN-MAX", "char n-gram orders, 0-0 for none (default 0-0)", NULL},
    {"tfidf", NULL, "weight by the training idf (default: sublinear tf only)", NULL},
    {"threads", "N", "OpenMP threads (default: all)", NULL},
    INPUT_OPTS,
};

static cli_cmd featurize_cmd = {
    "text featurize", "Turn texts into dense float32 features for simulate, query and estimate: "
                 "hashed word/char n-grams, sublinear tf (times the training idf with "
                 "--tfidf), unit-L2 rows, written with their class ids as .npy files.",
    featurize_opts, (int)(sizeof featurize_opts / sizeof featurize_opts[0])};

/* The class ids of c, after checking every text has one. */
static const int32_t *all_labels(const dg_corpus *c, const char *path)
{
    const int32_t *y = dg_corpus_labels(c);

    for (int64_t i = 0; i < dg_corpus_size(c); i++)
        if (y[i] < 0) {
            cli_error("%s: text %lld: expected a label, found none", path, (long long)i + 1);
            return NULL;
        }
    return y;
}

/* X (N x V CSR) as a dense N x V float32 matrix written to path. */
static int write_dense(const dg_csr *X, const char *path)
{
    float *d = calloc((size_t)X->rows * (size_t)X->cols, sizeof *d);
    dg_error err;
    int rc = 0;

    if (!d)
        return cli_error("out of memory for a %lld x %lld dense matrix", (long long)X->rows,
                         (long long)X->cols);
    for (int64_t r = 0; r < X->rows; r++)
        for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++)
            d[r * X->cols + X->col[k]] = X->val[k];
    if (dg_write_npy(path, d, X->rows, X->cols, &err) != 0)
        rc = cli_fail(&err);
    free(d);
    return rc;
}

/* Writes P.<part>.npy and P.<part>-labels.npy; on failure neither is left. */
static int write_part(const char *prefix, const char *part, const dg_csr *X, const int32_t *y)
{
    char xp[4096], yp[4096];
    dg_error err;

    snprintf(xp, sizeof xp, "%s.%s.npy", prefix, part);
    snprintf(yp, sizeof yp, "%s.%s-labels.npy", prefix, part);
    if (write_dense(X, xp) != 0)
        return 1;
    if (dg_write_npy_labels(yp, y, X->rows, &err) != 0) {
        remove(xp);
        return cli_fail(&err);
    }
    return 0;
}

static int text_featurize(int argc, char **argv)
{
    const cli_cmd *cmd = &featurize_cmd;
    const char *train, *test, *prefix, *s;
    const int32_t *y = NULL, *yt = NULL;
    dg_featurizer_opts fo = dg_featurizer_defaults();
    dg_featurizer *f = NULL;
    dg_corpus *tr = NULL, *te = NULL;
    dg_csr X = {0}, Xt = {0};
    int threads = 0, rc = 1, parsed;

    if ((parsed = cli_parse(&featurize_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (text_input(&featurize_cmd))
        return 2;
    fo.bits = TEXT_DENSE_BITS_DEFAULT;
    fo.word_min = 1;
    fo.word_max = 2;
    fo.char_min = fo.char_max = 0;
    fo.sublinear_tf = 1;
    fo.idf = cli_get(cmd, "tfidf") != NULL;
    if (cli_require(cmd, "train", &train) || cli_require(cmd, "out-prefix", &prefix) ||
        cli_int(cmd, "bits", 1, DG_HASH_BITS_MAX, &fo.bits) || parse_part(cmd, &fo.part) ||
        cli_int(cmd, "threads", 0, 4096, &threads) ||
        ((s = cli_get(cmd, "words")) &&
         parse_range(cmd->name, "words", s, &fo.word_min, &fo.word_max)) ||
        ((s = cli_get(cmd, "chars")) &&
         parse_range(cmd->name, "chars", s, &fo.char_min, &fo.char_max)))
        return 2;
    if (fo.word_max == 0 && fo.char_max == 0)
        return cli_error("text featurize: --words and --chars are both 0-0: no features");
    test = cli_get(cmd, "test");
    if (read_pair(train, test, &tr, &te) != 0)
        goto done;
    if (fo.bits > TEXT_DENSE_BITS_MAX) {
        cli_error("text featurize: --bits %d would make a dense %lld x %lld float32 matrix of "
                  "%lld bytes; at most %d bits (%lld bytes here)", fo.bits,
                  (long long)dg_corpus_size(tr), 1LL << fo.bits,
                  (long long)dg_corpus_size(tr) * (4LL << fo.bits), TEXT_DENSE_BITS_MAX,
                  (long long)dg_corpus_size(tr) * (4LL << TEXT_DENSE_BITS_MAX));
        goto done;
    }
    if (!(y = all_labels(tr, train)) || (te && !(yt = all_labels(te, test))))
        goto done;
    if (featurize(&fo, tr, te, threads, &f, &X, te ? &Xt : NULL) != 0)
        goto done;
    if (write_part(prefix, "train", &X, y) != 0)
        goto done;
    if (te && write_part(prefix, "test", &Xt, yt) != 0) {
        char p[4096];

        snprintf(p, sizeof p, "%s.train.npy", prefix);
        remove(p);
        snprintf(p, sizeof p, "%s.train-labels.npy", prefix);
        remove(p);
        goto done;
    }
    printf("%-6s %8s %8s %10s\n", "part", "rows", "columns", "nonzeros");
    printf("%-6s %8lld %8lld %10lld\n", "train", (long long)X.rows, (long long)X.cols,
           (long long)X.nnz);
    if (te)
        printf("%-6s %8lld %8lld %10lld\n", "test", (long long)Xt.rows, (long long)Xt.cols,
               (long long)Xt.nnz);
    rc = 0;

done:
    dg_featurizer_free(f);
    dg_csr_free(&X);
    dg_csr_free(&Xt);
    dg_corpus_free(tr);
    dg_corpus_free(te);
    return rc;
}

/* ------------------------------------------------------------------------
 * Dispatch
 */

static void text_usage(FILE *fp)
{
    fprintf(fp, "usage: disagree text ACTION [options]   (disagree text ACTION --help)\n\n"
                "  teach    train four teachers on four views of the texts, write their "
                "probabilities\n"
                "  distill  train a sparse student (embedding bag or softmax regression) from "
                "labels and teachers\n"
                "  eval     score a text model on labelled texts\n"
                "  predict  write a text model's class probabilities for texts\n"
                "  featurize  write texts as dense hashed n-gram features (.npy) for "
                "simulate, query and estimate\n");
}

int cmd_text(int argc, char **argv)
{
    if (argc < 1) {
        text_usage(stderr);
        return 2;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        text_usage(stdout);
        return 0;
    }
    if (strcmp(argv[0], "teach") == 0)
        return text_teach(argc - 1, argv + 1);
    if (strcmp(argv[0], "distill") == 0)
        return text_distill(argc - 1, argv + 1);
    if (strcmp(argv[0], "eval") == 0)
        return text_apply(0, argc - 1, argv + 1);
    if (strcmp(argv[0], "predict") == 0)
        return text_apply(1, argc - 1, argv + 1);
    if (strcmp(argv[0], "featurize") == 0)
        return text_featurize(argc - 1, argv + 1);
    fprintf(stderr, "disagree: error: text: unknown action '%s'\n\n", argv[0]);
    text_usage(stderr);
    return 2;
}
