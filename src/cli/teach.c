/* disagree teach: train a committee of teachers that genuinely differ
 * (architecture, seed, bootstrap sample, optionally one with noisy labels)
 * and write each one's model and its probabilities on the train and test
 * rows, ready for distill.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes a model's probabilities on ds to path (N x C float32 .npy). */
static int write_probs(const dg_model *m, const dg_dataset *ds, const char *path)
{
    int64_t N = dg_dataset_rows(ds);
    int C = dg_model_classes(m);
    float *p = malloc(sizeof(float) * (size_t)N * (size_t)C);
    dg_error err;
    int rc = 0;

    if (!p)
        return cli_error("out of memory");
    if (dg_model_predict_proba(m, dg_dataset_features(ds), N, p, &err) != 0 ||
        dg_write_npy(path, p, N, C, &err) != 0)
        rc = cli_fail(&err);
    free(p);
    return rc;
}

/* Whether member k of a previous run finished: its model and outputs exist. */
static int member_done(const char *dir, int k, int with_test)
{
    static const char *const kinds[] = {"dgm", "train.npy", "test.npy"};
    char path[4200];

    for (int f = 0; f < (with_test ? 3 : 2); f++) {
        snprintf(path, sizeof path, "%s/t%d.%s", dir, k, kinds[f]);
        if (access(path, R_OK) != 0)
            return 0;
    }
    return 1;
}

/* Fills a finished member's figures from its saved model. */
static int keep_member(const char *dir, int k, const char *hidden, const dg_dataset *test,
                       teach_result *res)
{
    char path[4200];
    dg_model *m = NULL;
    dg_error err;
    dg_eval_report rep;
    float *p = NULL;

    snprintf(path, sizeof path, "%s/t%d.dgm", dir, k);
    if (dg_model_load(path, &m, &err) != 0)
        return cli_fail(&err);
    snprintf(res->hidden, sizeof res->hidden, "%s", hidden);
    res->params = dg_model_param_count(m);
    res->seconds = 0.0;
    res->test_acc = -1.0;
    if (test && (p = malloc(sizeof(float) * (size_t)dg_dataset_rows(test) *
                            (size_t)dg_model_classes(m))) &&
        dg_model_predict_proba(m, dg_dataset_features(test), dg_dataset_rows(test), p,
                               &err) == 0 &&
        dg_evaluate(p, dg_dataset_labels(test), dg_dataset_rows(test), dg_model_classes(m), &rep,
                    &err) == 0) {
        res->test_acc = rep.accuracy;
        dg_eval_report_free(&rep);
    }
    free(p);
    dg_model_free(m);
    return 0;
}

/* Progress on stderr, one line per epoch of each member. */
static void teach_progress(const dg_epoch_report *r, void *user)
{
    const int *member = user;

    fprintf(stderr, "teach: t%d epoch %d: loss %.4f, train acc %.4f (%.1fs)\n", *member,
            r->epoch, r->loss, r->train_acc, r->seconds);
}

int cli_teach_run(const dg_dataset *train, const dg_dataset *test, const teach_spec *spec,
                  const char *dir, teach_result *results)
{
    int64_t N = dg_dataset_rows(train);
    int C = dg_dataset_classes(train);
    char **archs = NULL, *arch_buf = NULL, path[4200], ckpt[4200];
    int n_arch = 0, rc = 1, hidden_check[DG_MAX_LAYERS], n_check, reached = -1;
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)N);
    int32_t *noisy = malloc(sizeof(int32_t) * (size_t)N);
    dg_model *model = NULL;
    dg_error err;

    if (!rows || !noisy) {
        cli_error("out of memory");
        goto done;
    }
    if (!dg_dataset_labels(train)) {
        cli_error("teach: %s has no labels; teachers train on labels", dg_dataset_source(train));
        goto done;
    }
    if (C < 2 || N < 1) {
        cli_error("teach: %s has %lld rows and %d classes; teachers need rows of at least 2 "
                  "classes", dg_dataset_source(train), (long long)N, C);
        goto done;
    }
    if (cli_split(spec->arch, '/', &archs, &n_arch, &arch_buf))
        goto done;
    /* Every member's sizes are checked before anything is written. */
    for (int k = 0; k < n_arch; k++)
        if (cli_sizes("teach: --hidden", archs[k], hidden_check, DG_MAX_LAYERS - 1, &n_check))
            goto done;
    if (cli_ensure_dir(dir))
        goto done;

    for (int k = 0; k < spec->members; k++) {
        dg_distill_opts o = dg_distill_defaults();
        const char *hidden = archs[k % n_arch];
        dg__rng rng;
        dg_eval_report rep;
        double t0 = cli_now();

        snprintf(ckpt, sizeof ckpt, "%s/t%d.ckpt", dir, k);
        if (spec->resume && member_done(dir, k, test != NULL)) {
            if (keep_member(dir, k, hidden, test, &results[k]))
                goto done;
            continue;
        }
        reached = k;
        /* Each member gets its own seed, architecture and bootstrap sample. */
        o.method = DG_CE;
        o.gamma = 1.0;
        o.epochs = spec->epochs;
        o.batch = spec->batch;
        o.lr = spec->lr;
        o.threads = spec->threads;
        o.seed = spec->seed * 1000003ULL + (uint64_t)k;
        if (cli_sizes("teach: --hidden", hidden, o.hidden, DG_MAX_LAYERS - 1, &o.n_hidden))
            goto done;
        dg__rng_seed(&rng, o.seed ^ 0xb007ULL);
        for (int64_t i = 0; i < N; i++)
            rows[i] = spec->bootstrap ? (int64_t)dg__rng_below(&rng, (uint64_t)N) : i;
        o.rows = rows;
        o.n_rows = N;
        o.checkpoint = ckpt;
        o.resume = spec->resume;
        o.on_epoch = teach_progress;
        o.on_epoch_user = &k;

        /* The noisy member: flip a fraction of its labels to another class. */
        if (k == spec->noisy_member) {
            memcpy(noisy, dg_dataset_labels(train), sizeof(int32_t) * (size_t)N);
            for (int64_t i = 0; i < N; i++)
                if (noisy[i] >= 0 && dg__rng_uniform(&rng) < spec->noise)
                    noisy[i] = (noisy[i] + 1 + (int32_t)dg__rng_below(&rng, (uint64_t)C - 1)) % C;
            o.labels = noisy;
        }

        if (dg_distill(train, NULL, &o, &model, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        snprintf(path, sizeof path, "%s/t%d.dgm", dir, k);
        if (dg_model_save(model, path, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        snprintf(path, sizeof path, "%s/t%d.train.npy", dir, k);
        if (write_probs(model, train, path))
            goto done;
        results[k].test_acc = -1.0;
        if (test) {
            float *p = malloc(sizeof(float) * (size_t)dg_dataset_rows(test) * (size_t)C);

            snprintf(path, sizeof path, "%s/t%d.test.npy", dir, k);
            if (!p || write_probs(model, test, path)) {
                free(p);
                goto done;
            }
            if (dg_model_predict_proba(model, dg_dataset_features(test), dg_dataset_rows(test),
                                       p, &err) == 0 &&
                dg_evaluate(p, dg_dataset_labels(test), dg_dataset_rows(test), C, &rep,
                            &err) == 0) {
                results[k].test_acc = rep.accuracy;
                dg_eval_report_free(&rep);
            }
            free(p);
        }
        snprintf(results[k].hidden, sizeof results[k].hidden, "%s", hidden);
        results[k].params = dg_model_param_count(model);
        results[k].seconds = cli_now() - t0;
        dg_model_free(model);
        model = NULL;
        remove(ckpt);
    }
    rc = 0;

done:
    /* A failed run leaves no member's files: none of them would match the
     * others. A resumed run keeps them: they are finished work, and the
     * checkpoint of the member in progress is what --resume continues. */
    for (int k = 0; rc != 0 && !spec->resume && k <= reached; k++) {
        static const char *const kinds[] = {"dgm", "train.npy", "test.npy"};

        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/t%d.%s", dir, k, kinds[f]);
            remove(path);
        }
    }
    dg_model_free(model);
    free(archs);
    free(arch_buf);
    free(rows);
    free(noisy);
    return rc;
}

static cli_opt opts[] = {
    {"data", "FILE", "training features (IDX, .npy, .csv, LIBSVM)", NULL},
    {"labels", "FILE", "training labels", NULL},
    {"label-column", "NAME|INDEX", "label column of a CSV --data", NULL},
    {"classes", "FILE|a,b,c", "class names in id order, for labels written as names "
                             "(default: sorted)", NULL},
    {"test", "FILE", "test features (the teachers' outputs on them are written too)", NULL},
    {"test-labels", "FILE", "test labels (default: --label-column of a CSV --test)", NULL},
    {"members", "N", "number of teachers (default 5)", NULL},
    {"hidden", "A/B/...", "hidden sizes per member, cycled (default 256/128/512/256,128/64)",
     NULL},
    {"epochs", "E", "epochs per teacher (default 20)", NULL},
    {"batch", "B", "minibatch size (default 128)", NULL},
    {"lr", "LR", "SGD learning rate (default 0.05)", NULL},
    {"no-bootstrap", NULL, "train every member on all rows instead of a bootstrap sample", NULL},
    {"noisy-member", "K", "member (0-based) whose training labels get noise", NULL},
    {"noise", "P", "fraction of that member's labels flipped (default 0.4)", NULL},
    {"seed", "S", "random seed (default 1)", NULL},
    {"threads", "N", "threads for BLAS and OpenMP", NULL},
    {"out", "DIR", "folder for tK.dgm, tK.train.npy and tK.test.npy", NULL},
    {"resume", NULL, "keep finished members and continue the interrupted one", NULL},
};

static cli_cmd cmd = {"teach", "Train a committee of differing teachers and write their outputs.",
                      opts, (int)(sizeof opts / sizeof opts[0])};

int cmd_teach(int argc, char **argv)
{
    teach_spec spec = {5, 20, 128, 0, 1, 0.05, 1, "256/128/512/256,128/64", -1, 0.4, 0};
    const char *data, *out;
    dg_dataset *train = NULL, *test = NULL;
    teach_result *res = NULL;
    int rc = 1, parsed;

    if ((parsed = cli_parse(&cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_require(&cmd, "data", &data) || cli_require(&cmd, "out", &out))
        return 2;
    if (!cli_get(&cmd, "labels") && !cli_get(&cmd, "label-column"))
        return cli_error("teach: --labels (or --label-column for CSV data) is required"), 2;
    if (cli_int(&cmd, "members", 1, 1000, &spec.members) ||
        cli_int(&cmd, "epochs", 1, 1000000, &spec.epochs) ||
        cli_int(&cmd, "batch", 1, 1 << 24, &spec.batch) ||
        cli_double(&cmd, "lr", 1e-12, 1e3, &spec.lr) ||
        cli_int(&cmd, "noisy-member", 0, spec.members - 1, &spec.noisy_member) ||
        cli_double(&cmd, "noise", 0.0, 1.0, &spec.noise) || cli_u64(&cmd, "seed", &spec.seed) ||
        cli_int(&cmd, "threads", 1, 4096, &spec.threads))
        return 2;
    if (cli_get(&cmd, "hidden"))
        spec.arch = cli_get(&cmd, "hidden");
    spec.bootstrap = cli_get(&cmd, "no-bootstrap") == NULL;
    spec.resume = cli_get(&cmd, "resume") != NULL;
    if (cli_get(&cmd, "test-labels") && !cli_get(&cmd, "test"))
        return cli_error("teach: --test-labels needs --test"), 2;
    if (cli_get(&cmd, "test") && !cli_get(&cmd, "test-labels") && !cli_get(&cmd, "label-column"))
        return cli_error("teach: --test needs --test-labels (or a CSV --label-column present in "
                         "both files)"), 2;

    if (cli_load_train_test(&cmd, &train, &test))
        goto done;
    res = calloc((size_t)spec.members, sizeof *res);
    if (!res) {
        cli_error("out of memory");
        goto done;
    }
    if (cli_teach_run(train, test, &spec, out, res))
        goto done;
    printf("%-8s %-12s %10s %10s %8s\n", "teacher", "hidden", "params", "test acc", "seconds");
    for (int k = 0; k < spec.members; k++) {
        char acc[16] = "-";

        if (res[k].test_acc >= 0)
            snprintf(acc, sizeof acc, "%.4f", res[k].test_acc);
        printf("t%-7d %-12s %10lld %10s %8.1f%s\n", k, res[k].hidden, (long long)res[k].params,
               acc, res[k].seconds, k == spec.noisy_member ? "  (noisy labels)" : "");
    }
    rc = 0;

done:
    free(res);
    dg_dataset_free(train);
    dg_dataset_free(test);
    return rc;
}
