/* disagree distill: train a student from labels and the teachers' outputs
 * on the same rows, print one row per epoch, save the model atomically and
 * optionally the same figures as JSON.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cli_opt opts[] = {
    {"data", "FILE", "training features (IDX, .npy, .csv, LIBSVM)", NULL},
    {"labels", "FILE", "training labels (IDX, .npy, text); rows may be -1 (none)", NULL},
    {"label-column", "NAME|INDEX", "label column of a CSV --data", NULL},
    {"teachers", "T1,T2,...", "teacher outputs on --data, one N x C file each", NULL},
    {"teacher-format", "prob|logit|auto", "how to read teacher files (default auto)", NULL},
    {"test", "FILE", "test features", NULL},
    {"test-labels", "FILE", "test labels (default: --label-column of a CSV --test)", NULL},
    {"test-teachers", "T1,T2,...", "teacher outputs on --test, reported beside the student",
     NULL},
    {"ids", "FILE", "ids of the --data rows (one per line, or the id column of a .csv or "
     "key of a .jsonl); default: row numbers 0..N-1", NULL},
    {"test-ids", "FILE", "ids of the --test rows, as --ids", NULL},
    {"id-key", "NAME", "id column of keyed teacher files and id files (default id)", NULL},
    {"classes", "FILE|a,b,c", "class names in class-id order (one per line, or a comma list); "
     "default: the first teacher file's names, sorted", NULL},
    {"allow-missing", NULL, "a teacher file keyed by id may leave rows out: it abstains there",
     NULL},
    {"method", "aekd|avg-loss|avg-prob|ce", "teacher weighting (default aekd)", NULL},
    {"tolerance", "C", "AE-KD cap on a teacher's weight, in [1/M, 1] (default 0.6)", NULL},
    {"aekd-grad", "mean|full|per-example",
     "AE-KD gradient summary (default full; mean is the official code's)", NULL},
    {"aekd-normalize", "on|off", "solve on unit-norm teacher gradients (default on)", NULL},
    {"temperature", "T", "softening temperature > 0 (default 4)", NULL},
    {"alpha", "A", "weight of the KD term (default 0.9)", NULL},
    {"gamma", "G", "weight of the label cross-entropy (default 1)", NULL},
    {"hidden", "256,128", "student hidden sizes; 0 for softmax regression (default 128)", NULL},
    {"epochs", "E", "epochs (default 10)", NULL},
    {"batch", "B", "minibatch size (default 64)", NULL},
    {"optimizer", "sgd|adam", "optimizer (default sgd with momentum 0.9)", NULL},
    {"lr", "LR", "learning rate (default 0.05 for sgd, 0.001 for adam)", NULL},
    {"momentum", "MU", "SGD momentum (default 0.9)", NULL},
    {"weight-decay", "WD", "L2 weight decay (default 5e-4)", NULL},
    {"schedule", "constant|step|cosine", "learning-rate schedule (default cosine)", NULL},
    {"seed", "S", "random seed (default 1)", NULL},
    {"threads", "N", "threads for BLAS and OpenMP (default: all cores)", NULL},
    {"out", "MODEL", "where to write the student model", NULL},
    {"json", "FILE", "write the per-epoch and final figures as JSON", NULL},
    {"weights-log", "FILE", "write every batch's teacher weights as CSV", NULL},
    {"checkpoint", "FILE", "checkpoint every epoch here (default MODEL.ckpt)", NULL},
    {"resume", NULL, "continue from the checkpoint if one exists", NULL},
    {"reliability", NULL,
     "weight the teachers by their reliability on the labelled rows, max(Wilson lower bound "
     "of accuracy - 1/C, 0.01): avg-loss and avg-prob use it as weights; aekd solves on "
     "gradients divided by it and maps the weights back, so they equal it where the "
     "teachers do not conflict", NULL},
};

static cli_cmd cmd = {"distill", "Distil a student from labels and a committee of teachers.",
                      opts, (int)(sizeof opts / sizeof opts[0])};

typedef struct epoch_log {
    dg_epoch_report *rows;
    double *weights; /* (epochs, M) */
    int n, cap, M;
} epoch_log;

/* An accuracy for the table, or "-" when there is none (NaN). */
static const char *fmt_acc(double acc, char *buf)
{
    if (isnan(acc))
        return "-";
    snprintf(buf, 16, "%.4f", acc);
    return buf;
}

static void on_epoch(const dg_epoch_report *r, void *user)
{
    epoch_log *log = user;
    char train[16], test[16];

    if (r->epoch == 1 || log->n == 0) {
        printf("%5s %9s %9s %9s %8s", "epoch", "loss", "train", "test", "seconds");
        for (int m = 0; m < r->M; m++)
            printf("   w%-4d", m);
        printf("\n");
    }
    printf("%5d %9.4f %9s %9s %8.2f", r->epoch, r->loss, fmt_acc(r->train_acc, train),
           fmt_acc(r->test_acc, test), r->seconds);
    for (int m = 0; m < r->M; m++)
        printf(" %7.4f", r->mean_weight[m]);
    printf("\n");
    fflush(stdout);
    if (log->n < log->cap) {
        log->rows[log->n] = *r;
        for (int m = 0; m < r->M; m++)
            log->weights[(int64_t)log->n * log->M + m] = r->mean_weight[m];
        log->rows[log->n].mean_weight = NULL;
        log->n++;
    }
}

static int parse_method(const char *s, dg_method *m)
{
    static const char *const names[] = {"ce", "avg-loss", "avg-prob", "aekd"};

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (dg_method)i;
            return 0;
        }
    return cli_error("distill: --method expects aekd, avg-loss, avg-prob or ce, got '%s'", s);
}

/* Loads a comma list of teacher files on the rows of ds. Files keyed by id
 * are matched to the ids in ids_path (NULL: row numbers) and, with
 * --classes, to that class list; --allow-missing lets them skip rows. */
static int load_teachers(const char *list, dg_teacher_format fmt, const dg_dataset *ds,
                         const char *ids_path, dg_teachers **out)
{
    dg_align_opts al = dg_align_defaults();
    char **items = NULL, *buf = NULL, **ids = NULL, **classes = NULL;
    const char *spec = cli_get(&cmd, "classes");
    int64_t n_ids = 0;
    int n = 0, C = 0, rc = 0;
    dg_error err;

    al.N = dg_dataset_rows(ds);
    al.data_source = dg_dataset_source(ds);
    al.allow_missing = cli_get(&cmd, "allow-missing") != NULL;
    if (cli_get(&cmd, "id-key"))
        al.id_key = cli_get(&cmd, "id-key");
    if (ids_path && (rc = dg_read_ids(ids_path, al.id_key, &ids, &n_ids, &err)) == 0 &&
        n_ids != al.N) {
        rc = cli_error("distill: %s has %lld ids but the data has %lld rows", ids_path,
                       (long long)n_ids, (long long)al.N);
        goto done;
    }
    if (rc == 0 && spec && (rc = dg_read_class_names(spec, &classes, &C, &err)) == 0) {
        al.classes = (const char *const *)classes;
        al.C = C;
    }
    if (rc != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    al.ids = (const char *const *)ids;
    al.ids_source = ids_path;
    if (cli_split(list, ',', &items, &n, &buf) != 0) {
        rc = 1;
        goto done;
    }
    if (dg_teachers_load_aligned((const char *const *)items, n, fmt, &al, out, &err) != 0)
        rc = cli_fail(&err);

done:
    free(items);
    free(buf);
    dg_names_free(ids, n_ids);
    dg_names_free(classes, C);
    return rc;
}

/* Checks teachers loaded from `list` against the data they describe (read
 * from `data`, labels from `labels` or NULL), naming the files: rows must
 * match, and no label may reach past the teachers' classes; with `exact`
 * the labels must span exactly the teachers' classes. */
static int check_teachers(const dg_teachers *t, const char *list, const dg_dataset *ds,
                          const char *data, const char *labels, int exact)
{
    int C = dg_teachers_classes(t), labels_C = dg_dataset_classes(ds);

    if (dg_teachers_rows(t) != dg_dataset_rows(ds))
        return cli_error("distill: teachers %s have %lld rows but %s has %lld", list,
                         (long long)dg_teachers_rows(t), data,
                         (long long)dg_dataset_rows(ds));
    if (dg_dataset_labels(ds) && (labels_C > C || (exact && labels_C != C)))
        return cli_error("distill: labels in %s go up to %d but teachers %s have %d classes "
                         "(0..%d)", labels ? labels : data, labels_C - 1, list, C, C - 1);
    return 0;
}

/* Whether every row of ds has a label. Fully labelled training data must
 * span the teachers' classes exactly (anything else is most likely a file
 * from another task); with unlabelled rows, labels may leave classes out. */
static int fully_labelled(const dg_dataset *ds)
{
    const int32_t *y = dg_dataset_labels(ds);

    for (int64_t i = 0; y && i < dg_dataset_rows(ds); i++)
        if (y[i] < 0)
            return 0;
    return y != NULL;
}

/* Test accuracy of each teacher and of their mean probability. */
static int report_teachers(const dg_teachers *t, const dg_dataset *test, FILE *json)
{
    int64_t N = dg_teachers_rows(t);
    int C = dg_teachers_classes(t), M = dg_teachers_count(t);
    float *p = malloc(sizeof(float) * (size_t)(N * C));
    float *mean = calloc((size_t)(N * C), sizeof(float));
    dg_eval_report rep;
    dg_error err;

    if (!p || !mean) {
        free(p);
        free(mean);
        return cli_error("out of memory");
    }
    if (json)
        fprintf(json, "  \"teachers_test_accuracy\": [");
    for (int m = 0; m < M; m++) {
        dg_teachers_probs(t, m, p);
        for (int64_t i = 0; i < N * C; i++)
            mean[i] += p[i] / (float)M;
        if (dg_evaluate(p, dg_dataset_labels(test), N, C, &rep, &err) != 0) {
            free(p);
            free(mean);
            return cli_fail(&err);
        }
        printf("teacher %d test accuracy %.4f\n", m, rep.accuracy);
        if (json) {
            fprintf(json, "%s", m ? ", " : "");
            cli_json_num(json, rep.accuracy);
        }
        dg_eval_report_free(&rep);
    }
    if (json)
        fprintf(json, "],\n");
    if (dg_evaluate(mean, dg_dataset_labels(test), N, C, &rep, &err) == 0) {
        printf("ensemble (mean probability) test accuracy %.4f\n", rep.accuracy);
        if (json) {
            fprintf(json, "  \"ensemble_test_accuracy\": ");
            cli_json_num(json, rep.accuracy);
            fprintf(json, ",\n");
        }
        dg_eval_report_free(&rep);
    }
    free(p);
    free(mean);
    return 0;
}

/* Each teacher's accuracy (Wilson 95% interval) and calibration on the
 * labelled training rows, printed and written to JSON; fills prior (M)
 * with the reliability weights. Limit: teachers scored on rows they were
 * trained on look better than they are on new rows. */
static int report_reliability(const dg_teachers *t, const dg_dataset *train, double *prior,
                              FILE *json)
{
    int64_t N = dg_teachers_rows(t);
    int C = dg_teachers_classes(t), M = dg_teachers_count(t);
    float *p = malloc(sizeof(float) * (size_t)M * (size_t)N * (size_t)C);
    dg_teacher_reliability *r = calloc((size_t)M, sizeof *r);
    dg_error err;
    int rc = 0;

    if (!p || !r) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (int m = 0; m < M; m++)
        dg_teachers_probs(t, m, p + (int64_t)m * N * C);
    if (dg_teacher_reliability_eval(p, M, N, C, dg_dataset_labels(train), r, &err) != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    dg_reliability_weights(r, M, C, prior);
    printf("teacher reliability on %lld labelled training rows:\n", (long long)r[0].n);
    printf("%8s %9s %19s %7s %7s\n", "teacher", "accuracy", "95% interval", "ECE", "prior");
    for (int m = 0; m < M; m++)
        printf("%8d %9.4f    [%.4f, %.4f] %7.4f %7.4f\n", m, r[m].accuracy, r[m].acc_low,
               r[m].acc_high, r[m].ece, prior[m]);
    if (json) {
        fprintf(json, "  \"teacher_reliability\": [");
        for (int m = 0; m < M; m++) {
            fprintf(json, "%s{\"accuracy\": ", m ? ", " : "");
            cli_json_num(json, r[m].accuracy);
            fprintf(json, ", \"low\": ");
            cli_json_num(json, r[m].acc_low);
            fprintf(json, ", \"high\": ");
            cli_json_num(json, r[m].acc_high);
            fprintf(json, ", \"ece\": ");
            cli_json_num(json, r[m].ece);
            fprintf(json, ", \"prior\": ");
            cli_json_num(json, prior[m]);
            fprintf(json, "}");
        }
        fprintf(json, "],\n");
    }

done:
    free(p);
    free(r);
    return rc;
}

static void write_epochs(FILE *fp, const epoch_log *log)
{
    fprintf(fp, "  \"epochs\": [\n");
    for (int e = 0; e < log->n; e++) {
        const dg_epoch_report *r = &log->rows[e];

        fprintf(fp, "    {\"epoch\": %d, \"loss\": ", r->epoch);
        cli_json_num(fp, r->loss);
        fprintf(fp, ", \"train_accuracy\": ");
        cli_json_num(fp, r->train_acc);
        fprintf(fp, ", \"test_accuracy\": ");
        cli_json_num(fp, r->test_acc);
        fprintf(fp, ", \"seconds\": ");
        cli_json_num(fp, r->seconds);
        fprintf(fp, ", \"mean_weights\": [");
        for (int m = 0; m < log->M; m++) {
            fprintf(fp, "%s", m ? ", " : "");
            cli_json_num(fp, log->weights[(int64_t)e * log->M + m]);
        }
        fprintf(fp, "]}%s\n", e + 1 < log->n ? "," : "");
    }
    fprintf(fp, "  ],\n");
}

int cmd_distill(int argc, char **argv)
{
    const char *data, *out, *s;
    dg_distill_opts o = dg_distill_defaults();
    dg_dataset *train = NULL, *test = NULL;
    dg_teachers *teachers = NULL, *test_teachers = NULL;
    dg_teacher_format fmt = DG_TEACHER_AUTO;
    dg_model *model = NULL;
    dg_error err;
    epoch_log log = {0};
    double *prior = NULL;
    char ckpt[4200];
    dg__outfile json;
    int have_json = 0, rc = 1, parsed;
    double t0;

    if ((parsed = cli_parse(&cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_require(&cmd, "data", &data) || cli_require(&cmd, "out", &out))
        return 2;
    if ((s = cli_get(&cmd, "method")) && parse_method(s, &o.method))
        return 2;
    if (o.method != DG_CE && !cli_get(&cmd, "teachers"))
        return cli_error("distill: --teachers is required for --method %s (only ce trains "
                         "without)", cli_get(&cmd, "method") ? cli_get(&cmd, "method") : "aekd"),
               2;
    if ((s = cli_get(&cmd, "optimizer"))) {
        if (strcmp(s, "adam") == 0)
            o.optimizer = DG_ADAM, o.lr = 1e-3;
        else if (strcmp(s, "sgd") != 0)
            return cli_error("distill: --optimizer expects sgd or adam, got '%s'", s), 2;
    }
    if ((s = cli_get(&cmd, "schedule"))) {
        if (strcmp(s, "constant") == 0)
            o.schedule = DG_LR_CONSTANT;
        else if (strcmp(s, "step") == 0)
            o.schedule = DG_LR_STEP;
        else if (strcmp(s, "cosine") == 0)
            o.schedule = DG_LR_COSINE;
        else
            return cli_error("distill: --schedule expects constant, step or cosine, got '%s'",
                             s), 2;
    }
    if ((s = cli_get(&cmd, "aekd-grad"))) {
        if (strcmp(s, "mean") == 0)
            o.aekd_grad = DG_AEKD_MEAN;
        else if (strcmp(s, "full") == 0)
            o.aekd_grad = DG_AEKD_FULL;
        else if (strcmp(s, "per-example") == 0)
            o.aekd_grad = DG_AEKD_PER_EXAMPLE;
        else
            return cli_error("distill: --aekd-grad expects mean, full or per-example, got '%s'",
                             s), 2;
    }
    if ((s = cli_get(&cmd, "aekd-normalize"))) {
        if (strcmp(s, "on") != 0 && strcmp(s, "off") != 0)
            return cli_error("distill: --aekd-normalize expects on or off, got '%s'", s), 2;
        o.aekd_normalize = strcmp(s, "on") == 0;
    }
    o.resume = cli_get(&cmd, "resume") != NULL;
    o.weights_log = cli_get(&cmd, "weights-log");
    if ((s = cli_get(&cmd, "hidden")) && cli_sizes("distill: --hidden", s, o.hidden,
                                                   DG_MAX_LAYERS - 1, &o.n_hidden))
        return 2;
    if (cli_double(&cmd, "temperature", -1e300, 1e300, &o.temperature) ||
        cli_double(&cmd, "alpha", 0, 1e6, &o.alpha) ||
        cli_double(&cmd, "gamma", 0, 1e6, &o.gamma) ||
        cli_double(&cmd, "tolerance", -1e300, 1e300, &o.tolerance) ||
        cli_double(&cmd, "lr", 1e-12, 1e3, &o.lr) ||
        cli_double(&cmd, "momentum", 0, 0.999999, &o.momentum) ||
        cli_double(&cmd, "weight-decay", 0, 1e3, &o.weight_decay) ||
        cli_int(&cmd, "epochs", 1, 1000000, &o.epochs) ||
        cli_int(&cmd, "batch", 1, 1 << 24, &o.batch) ||
        cli_int(&cmd, "threads", 1, 4096, &o.threads) || cli_u64(&cmd, "seed", &o.seed) ||
        cli_teacher_format(cli_get(&cmd, "teacher-format"), &fmt))
        return 2;
    if (!(o.temperature > 0))
        return cli_error("distill: --temperature must be > 0, got %g", o.temperature), 2;
    if (cli_get(&cmd, "test-labels") && !cli_get(&cmd, "test"))
        return cli_error("distill: --test-labels needs --test"), 2;
    if (cli_get(&cmd, "test") && !cli_get(&cmd, "test-labels") && !cli_get(&cmd, "label-column"))
        return cli_error("distill: --test needs --test-labels (or a CSV --label-column present in "
                         "both files)"), 2;
    if (o.method == DG_AEKD && cli_get(&cmd, "tolerance")) {
        /* checked before any file is read: M is the length of the list */
        int M = 1;

        for (s = cli_get(&cmd, "teachers"); *s; s++)
            M += *s == ',';
        if (o.tolerance < 1.0 / M - 1e-12 || o.tolerance > 1.0)
            return cli_error("distill: --tolerance must be in [1/M, 1] = [%.4g, 1] for %d "
                             "teachers, got %g", 1.0 / M, M, o.tolerance), 2;
    }
    if (strlen(out) > 4000)
        return cli_error("distill: --out path too long"), 2;
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    o.checkpoint = cli_get(&cmd, "checkpoint") ? cli_get(&cmd, "checkpoint") : ckpt;

    if (cli_load_train_test(&cmd, &train, &test))
        goto done;
    if (o.method != DG_CE && (load_teachers(cli_get(&cmd, "teachers"), fmt, train,
                                            cli_get(&cmd, "ids"), &teachers) ||
                              check_teachers(teachers, cli_get(&cmd, "teachers"), train, data,
                                             cli_get(&cmd, "labels"), fully_labelled(train))))
        goto done;
    /* The default cap cannot go below the plain average 1/M (one teacher: 1). */
    if (teachers && !cli_get(&cmd, "tolerance"))
        o.tolerance = fmax(o.tolerance, 1.0 / dg_teachers_count(teachers));
    if (cli_get(&cmd, "test-teachers")) {
        if (!test) {
            cli_error("distill: --test-teachers needs --test and --test-labels");
            goto done;
        }
        if (load_teachers(cli_get(&cmd, "test-teachers"), fmt, test,
                          cli_get(&cmd, "test-ids"), &test_teachers) ||
            check_teachers(test_teachers, cli_get(&cmd, "test-teachers"), test,
                           cli_get(&cmd, "test"), cli_get(&cmd, "test-labels"), 0))
            goto done;
    }
    if (cli_get(&cmd, "json")) {
        if (dg__out_open(&json, cli_get(&cmd, "json"), &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        have_json = 1;
        fprintf(json.fp, "{\n  \"method\": ");
        cli_json_str(json.fp, cli_get(&cmd, "method") ? cli_get(&cmd, "method") : "aekd");
        fprintf(json.fp, ",\n  \"teachers\": %d,\n  \"temperature\": %g,\n  \"alpha\": %g,\n"
                         "  \"gamma\": %g,\n  \"tolerance\": %g,\n  \"seed\": %llu,\n",
                teachers ? dg_teachers_count(teachers) : 0, o.temperature, o.alpha, o.gamma,
                o.tolerance, (unsigned long long)o.seed);
    }

    log.cap = o.epochs;
    log.M = teachers ? dg_teachers_count(teachers) : 0;
    log.rows = calloc((size_t)log.cap, sizeof *log.rows);
    log.weights = calloc((size_t)log.cap * (size_t)(log.M + 1), sizeof(double));
    if (!log.rows || !log.weights) {
        cli_error("out of memory");
        goto done;
    }
    if (teachers && dg_dataset_labels(train)) {
        prior = calloc((size_t)dg_teachers_count(teachers), sizeof *prior);
        if (!prior) {
            cli_error("out of memory");
            goto done;
        }
        if (report_reliability(teachers, train, prior, have_json ? json.fp : NULL))
            goto done;
        if (cli_get(&cmd, "reliability"))
            o.teacher_prior = prior;
    } else if (cli_get(&cmd, "reliability")) {
        cli_error("distill: --reliability needs teachers and labelled training rows");
        goto done;
    }
    o.test = test;
    o.on_epoch = on_epoch;
    o.on_epoch_user = &log;
    t0 = cli_now();
    if (dg_distill(train, teachers, &o, &model, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    if (dg_model_save(model, out, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    remove(o.checkpoint);
    printf("student: %lld parameters, trained in %.1fs, saved to %s\n",
           (long long)dg_model_param_count(model), cli_now() - t0, out);
    if (test_teachers && report_teachers(test_teachers, test, have_json ? json.fp : NULL))
        goto done;
    if (have_json) {
        write_epochs(json.fp, &log);
        fprintf(json.fp, "  \"parameters\": %lld,\n  \"train_seconds\": ",
                (long long)dg_model_param_count(model));
        cli_json_num(json.fp, cli_now() - t0);
        fprintf(json.fp, ",\n  \"final_test_accuracy\": ");
        cli_json_num(json.fp, log.n ? log.rows[log.n - 1].test_acc : NAN);
        fprintf(json.fp, "\n}\n");
        have_json = 0;
        if (dg__out_commit(&json, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
    }
    rc = 0;

done:
    if (have_json)
        dg__out_abort(&json);
    free(log.rows);
    free(log.weights);
    free(prior);
    dg_model_free(model);
    dg_teachers_free(teachers);
    dg_teachers_free(test_teachers);
    dg_dataset_free(train);
    dg_dataset_free(test);
    return rc;
}
