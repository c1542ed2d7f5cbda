/* disagree demo: the main job end to end on Fashion-MNIST. Five teachers
 * (one trained on deliberately noisy labels), then students distilled from
 * the same teachers and seed with ce, avg-loss, avg-prob and aekd, and one
 * table with every model's test accuracy, size and wall time.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#define DEMO_MEMBERS 5
#define DEMO_METHODS 4

static cli_opt opts[] = {
    {"data-dir", "DIR", "Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)",
     NULL},
    {"out", "DIR", "folder for teachers and students (default demo-out)", NULL},
    {"teacher-epochs", "E", "epochs per teacher (default 20)", NULL},
    {"epochs", "E", "epochs per student (default 10)", NULL},
    {"threads", "N", "threads for BLAS and OpenMP (default: all cores)", NULL},
    {"seed", "S", "random seed (default 1)", NULL},
    {"resume", NULL, "keep the teachers a previous run finished in --out", NULL},
};

static cli_cmd cmd = {"demo", "Teach 5 teachers (one noisy) on Fashion-MNIST and distil students "
                              "with ce, avg-loss, avg-prob and aekd; print one table.",
                      opts, (int)(sizeof opts / sizeof opts[0])};

typedef struct student_row {
    const char *method;
    double acc, seconds;
    int64_t params;
    double weights[DEMO_MEMBERS];
} student_row;

static void keep_weights(const dg_epoch_report *r, void *user)
{
    student_row *row = user;

    for (int m = 0; m < r->M && m < DEMO_MEMBERS; m++)
        row->weights[m] = r->mean_weight[m];
    fprintf(stderr, "  %s epoch %d: loss %.4f, test acc %.4f (%.1fs)\n", row->method, r->epoch,
            r->loss, r->test_acc, r->seconds);
}

/* Test accuracy of a probability matrix (N x C). */
static double accuracy(const float *p, const dg_dataset *test)
{
    dg_eval_report rep;
    dg_error err;
    double acc = -1.0;

    if (dg_evaluate(p, dg_dataset_labels(test), dg_dataset_rows(test), dg_dataset_classes(test),
                    &rep, &err) == 0) {
        acc = rep.accuracy;
        dg_eval_report_free(&rep);
    }
    return acc;
}

/* The mean probability of the teachers' test outputs. */
static double ensemble_accuracy(const dg_teachers *t, const dg_dataset *test)
{
    int64_t n = dg_teachers_rows(t) * dg_teachers_classes(t);
    float *p = malloc(sizeof(float) * (size_t)n), *mean = calloc((size_t)n, sizeof(float));
    double acc = -1.0;

    if (p && mean) {
        for (int m = 0; m < dg_teachers_count(t); m++) {
            dg_teachers_probs(t, m, p);
            for (int64_t i = 0; i < n; i++)
                mean[i] += p[i] / (float)dg_teachers_count(t);
        }
        acc = accuracy(mean, test);
    }
    free(p);
    free(mean);
    return acc;
}

int cmd_demo(int argc, char **argv)
{
    static const char *const methods[DEMO_METHODS] = {"ce", "avg-loss", "avg-prob", "aekd"};
    const char *dir = "/usr/share/datasets/fashion-mnist", *out = "demo-out";
    teach_spec spec = {DEMO_MEMBERS, 20, 128, 0, 1, 0.05, 1, "256/128/512/256,128/64", 4, 0.4, 0};
    char paths[2][DEMO_MEMBERS][4200], path[4200];
    const char *train_paths[DEMO_MEMBERS], *test_paths[DEMO_MEMBERS];
    teach_result tres[DEMO_MEMBERS];
    student_row srows[DEMO_METHODS];
    dg_dataset *train = NULL, *test = NULL;
    dg_teachers *teachers = NULL, *test_teachers = NULL;
    dg_error err;
    int epochs = 10, rc = 1, parsed;
    double t0, load_s, teach_s, start = cli_now();

    if ((parsed = cli_parse(&cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_get(&cmd, "data-dir"))
        dir = cli_get(&cmd, "data-dir");
    if (cli_get(&cmd, "out"))
        out = cli_get(&cmd, "out");
    if (cli_int(&cmd, "teacher-epochs", 1, 1000, &spec.epochs) ||
        cli_int(&cmd, "epochs", 1, 1000, &epochs) ||
        cli_int(&cmd, "threads", 1, 4096, &spec.threads) ||
        cli_u64(&cmd, "seed", &spec.seed))
        return 2;
    spec.resume = cli_get(&cmd, "resume") != NULL;

    /* stage 1: read the data */
    t0 = cli_now();
    fprintf(stderr, "demo: reading Fashion-MNIST from %s\n", dir);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(paths[0][0], sizeof paths[0][0], "%s/train-labels-idx1-ubyte.gz", dir);
    if (cli_load_dataset(path, paths[0][0], NULL, &train))
        goto done;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(paths[0][0], sizeof paths[0][0], "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (cli_load_dataset(path, paths[0][0], NULL, &test))
        goto done;
    load_s = cli_now() - t0;

    /* stage 2: the committee */
    t0 = cli_now();
    fprintf(stderr, "demo: teaching %d teachers (t4 on 40%% flipped labels) into %s/\n",
            DEMO_MEMBERS, out);
    if (cli_teach_run(train, test, &spec, out, tres))
        goto done;
    teach_s = cli_now() - t0;
    for (int k = 0; k < DEMO_MEMBERS; k++) {
        snprintf(paths[0][k], sizeof paths[0][k], "%s/t%d.train.npy", out, k);
        snprintf(paths[1][k], sizeof paths[1][k], "%s/t%d.test.npy", out, k);
        train_paths[k] = paths[0][k];
        test_paths[k] = paths[1][k];
    }
    if (dg_teachers_load(train_paths, DEMO_MEMBERS, DG_TEACHER_AUTO, &teachers, &err) != 0 ||
        dg_teachers_load(test_paths, DEMO_MEMBERS, DG_TEACHER_AUTO, &test_teachers, &err) != 0) {
        cli_fail(&err);
        goto done;
    }

    /* stage 3: one student per method, same teachers and seed */
    for (int s = 0; s < DEMO_METHODS; s++) {
        dg_distill_opts o = dg_distill_defaults();
        dg_model *model = NULL;
        float *p;

        memset(&srows[s], 0, sizeof srows[s]);
        srows[s].method = methods[s];
        o.method = (dg_method)s;
        o.epochs = epochs;
        o.seed = spec.seed;
        o.threads = spec.threads;
        o.test = test;
        o.on_epoch = keep_weights;
        o.on_epoch_user = &srows[s];
        t0 = cli_now();
        fprintf(stderr, "demo: distilling a 784-128-10 student with %s\n", methods[s]);
        if (dg_distill(train, teachers, &o, &model, &err) != 0) {
            cli_fail(&err);
            goto done;
        }
        srows[s].seconds = cli_now() - t0;
        srows[s].params = dg_model_param_count(model);
        snprintf(path, sizeof path, "%s/student-%s.dgm", out, methods[s]);
        p = malloc(sizeof(float) * (size_t)dg_dataset_rows(test) * 10);
        if (!p || dg_model_save(model, path, &err) != 0 ||
            dg_model_predict_proba(model, dg_dataset_features(test), dg_dataset_rows(test), p,
                                   &err) != 0) {
            free(p);
            dg_model_free(model);
            if (!p)
                cli_error("out of memory");
            else
                cli_fail(&err);
            goto done;
        }
        srows[s].acc = accuracy(p, test);
        free(p);
        dg_model_free(model);
    }

    /* the table */
    printf("\nFashion-MNIST: %lld train, %lld test rows; read in %.1fs\n\n",
           (long long)dg_dataset_rows(train), (long long)dg_dataset_rows(test), load_s);
    printf("%-22s %-10s %10s %9s %9s %13s\n", "model", "hidden", "params", "test acc",
           "seconds", "aekd weight");
    for (int k = 0; k < DEMO_MEMBERS; k++) {
        char name[32];

        snprintf(name, sizeof name, "teacher t%d%s", k, k == spec.noisy_member ? " (noisy)" : "");
        printf("%-22s %-10s %10lld %9.4f %9.1f %13.3f\n", name, tres[k].hidden,
               (long long)tres[k].params, tres[k].test_acc, tres[k].seconds,
               srows[DEMO_METHODS - 1].weights[k]);
    }
    printf("%-22s %-10s %10s %9.4f %9.1f\n", "ensemble (mean prob)", "-", "-",
           ensemble_accuracy(test_teachers, test), teach_s);
    for (int s = 0; s < DEMO_METHODS; s++) {
        char name[32];

        snprintf(name, sizeof name, "student %s", methods[s]);
        printf("%-22s %-10s %10lld %9.4f %9.1f\n", name, "128", (long long)srows[s].params,
               srows[s].acc, srows[s].seconds);
    }
    printf("\ntotal wall time %.1fs; aekd weight: the teacher's mean weight in the aekd "
           "student's last epoch\n", cli_now() - start);
    rc = 0;

done:
    dg_teachers_free(teachers);
    dg_teachers_free(test_teachers);
    dg_dataset_free(train);
    dg_dataset_free(test);
    return rc;
}
