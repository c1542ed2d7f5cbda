/* disagree eval and disagree predict: apply a saved model to a dataset,
 * either scoring it against labels or writing its probabilities.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

/* Loads the model and data and computes probabilities (N x C). */
static int model_probs(const char *model_path, const dg_dataset *ds, dg_model **model,
                       float **probs)
{
    dg_error err;
    int64_t N = dg_dataset_rows(ds);

    if (dg_model_load(model_path, model, &err) != 0)
        return cli_fail(&err);
    if (dg_model_inputs(*model) != dg_dataset_cols(ds))
        return cli_error("%s takes %lld features but %s has %lld%s", model_path,
                         (long long)dg_model_inputs(*model), dg_dataset_source(ds),
                         (long long)dg_dataset_cols(ds),
                         dg_dataset_cols(ds) == dg_model_inputs(*model) + 1
                             ? " (if one CSV column is the label, name it with --label-column)"
                             : "");
    *probs = malloc(sizeof(float) * (size_t)N * (size_t)dg_model_classes(*model));
    if (!*probs)
        return cli_error("out of memory");
    if (dg_model_predict_proba(*model, dg_dataset_features(ds), N, *probs, &err) != 0)
        return cli_fail(&err);
    return 0;
}

static cli_opt eval_opts[] = {
    {"model", "MODEL", "a model written by distill or teach", NULL},
    {"data", "FILE", "features (IDX, .npy, .csv, LIBSVM)", NULL},
    {"labels", "FILE", "gold labels (IDX, .npy, text)", NULL},
    {"label-column", "NAME|INDEX", "label column of a CSV --data", NULL},
    {"classes", "FILE|a,b,c", "class names in id order, for labels written as names", NULL},
    {"json", "FILE", "write the figures and the confusion matrix as JSON", NULL},
};

static cli_cmd eval_cmd = {"eval", "Score a model against gold labels: accuracy, macro-F1, "
                                   "log-loss, expected calibration error, confusion matrix.",
                           eval_opts, (int)(sizeof eval_opts / sizeof eval_opts[0])};

static int write_eval_json(const char *path, const dg_eval_report *r)
{
    dg__outfile o;
    dg_error err;

    if (dg__out_open(&o, path, &err) != 0)
        return cli_fail(&err);
    fprintf(o.fp, "{\n  \"rows\": %lld,\n  \"accuracy\": ", (long long)r->n);
    cli_json_num(o.fp, r->accuracy);
    fprintf(o.fp, ",\n  \"macro_f1\": ");
    cli_json_num(o.fp, r->macro_f1);
    fprintf(o.fp, ",\n  \"log_loss\": ");
    cli_json_num(o.fp, r->log_loss);
    fprintf(o.fp, ",\n  \"ece\": ");
    cli_json_num(o.fp, r->ece);
    fprintf(o.fp, ",\n  \"confusion\": [");
    for (int i = 0; i < r->C; i++) {
        fprintf(o.fp, "%s\n    [", i ? "," : "");
        for (int j = 0; j < r->C; j++)
            fprintf(o.fp, "%s%lld", j ? ", " : "", (long long)r->confusion[i * r->C + j]);
        fprintf(o.fp, "]");
    }
    fprintf(o.fp, "\n  ]\n}\n");
    if (dg__out_commit(&o, &err) != 0)
        return cli_fail(&err);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    const char *model_path, *data;
    dg_dataset *ds = NULL;
    dg_model *model = NULL;
    float *probs = NULL;
    dg_eval_report r = {0};
    dg_error err;
    int rc = 1, parsed;

    if ((parsed = cli_parse(&eval_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_require(&eval_cmd, "model", &model_path) || cli_require(&eval_cmd, "data", &data))
        return 2;
    if (!cli_get(&eval_cmd, "labels") && !cli_get(&eval_cmd, "label-column"))
        return cli_error("eval: --labels (or --label-column for CSV data) is required"), 2;
    if (cli_use_classes(cli_get(&eval_cmd, "classes"), 1) ||
        cli_load_dataset(data, cli_get(&eval_cmd, "labels"), cli_get(&eval_cmd, "label-column"),
                         &ds) ||
        model_probs(model_path, ds, &model, &probs))
        goto done;
    if (dg_dataset_classes(ds) > dg_model_classes(model)) {
        cli_error("%s has labels up to %d but %s predicts %d classes",
                  cli_get(&eval_cmd, "labels") ? cli_get(&eval_cmd, "labels") : data,
                  dg_dataset_classes(ds) - 1, model_path, dg_model_classes(model));
        goto done;
    }
    if (dg_evaluate(probs, dg_dataset_labels(ds), dg_dataset_rows(ds), dg_model_classes(model),
                    &r, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    printf("rows       %lld\naccuracy   %.4f\nmacro-F1   %.4f\nlog-loss   %.4f\nECE        %.4f\n",
           (long long)r.n, r.accuracy, r.macro_f1, r.log_loss, r.ece);
    printf("\nconfusion (rows: truth, columns: prediction)\n     ");
    for (int j = 0; j < r.C; j++)
        printf(" %6d", j);
    printf("\n");
    for (int i = 0; i < r.C; i++) {
        printf("%4d ", i);
        for (int j = 0; j < r.C; j++)
            printf(" %6lld", (long long)r.confusion[i * r.C + j]);
        printf("\n");
    }
    if (cli_get(&eval_cmd, "json") && write_eval_json(cli_get(&eval_cmd, "json"), &r))
        goto done;
    rc = 0;

done:
    dg_eval_report_free(&r);
    free(probs);
    dg_model_free(model);
    dg_dataset_free(ds);
    return rc;
}

static cli_opt predict_opts[] = {
    {"model", "MODEL", "a model written by distill or teach", NULL},
    {"data", "FILE", "features (IDX, .npy, .csv, LIBSVM)", NULL},
    {"label-column", "NAME|INDEX", "label column of a CSV --data, ignored for prediction", NULL},
    {"out", "PROBS", "N x C probabilities, .npy (float32) or .csv", NULL},
};

static cli_cmd predict_cmd = {"predict", "Write a model's class probabilities for every row.",
                              predict_opts,
                              (int)(sizeof predict_opts / sizeof predict_opts[0])};

int cmd_predict(int argc, char **argv)
{
    const char *model_path, *data, *out;
    dg_dataset *ds = NULL;
    dg_model *model = NULL;
    float *probs = NULL;
    dg_error err;
    int rc = 1, parsed;
    size_t len;

    if ((parsed = cli_parse(&predict_cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_require(&predict_cmd, "model", &model_path) ||
        cli_require(&predict_cmd, "data", &data) || cli_require(&predict_cmd, "out", &out))
        return 2;
    len = strlen(out);
    if (cli_load_dataset(data, NULL, cli_get(&predict_cmd, "label-column"), &ds) ||
        model_probs(model_path, ds, &model, &probs))
        goto done;
    if (len > 4 && strcmp(out + len - 4, ".csv") == 0)
        rc = dg_write_csv(out, probs, dg_dataset_rows(ds), dg_model_classes(model), NULL, &err);
    else
        rc = dg_write_npy(out, probs, dg_dataset_rows(ds), dg_model_classes(model), &err);
    if (rc != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    printf("wrote %lld x %d probabilities to %s\n", (long long)dg_dataset_rows(ds),
           dg_model_classes(model), out);

done:
    free(probs);
    dg_model_free(model);
    dg_dataset_free(ds);
    return rc;
}
