/* disagree query: the next batch for a person to label. Scores every pool
 * row with the chosen acquisition strategy (student and/or committee),
 * picks K rows with the batch selection, and writes each with the student's
 * and every teacher's prediction and confidence, so the annotator sees why
 * it was picked. With gold labels for some rows, reports each teacher's
 * reliability and can weight the committee by it.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cli_opt opts[] = {
    {"model", "MODEL", "the current student (from distill)", NULL},
    {"pool", "FILE", "pool features (IDX, .npy, .csv, LIBSVM)", NULL},
    {"teachers", "T1,T2,...", "teacher outputs on the pool rows (committee strategies)", NULL},
    {"teacher-format", "prob|logit|auto", "how to read teacher files (default auto: a file is "
                                          "probabilities when every row sums to 1)", NULL},
    {"labelled", "FILE", "rows already labelled (.txt/.csv/.npy): either one 0-based row id a "
                         "line, or exactly one label a pool row with -1 for none (a file of "
                         "pool length whose values all lie in [-1, C) is read as labels)",
     NULL},
    {"strategy", "S", "random, least-confidence, margin, entropy, vote-entropy, consensus-kl, "
                      "student-kl, gradient-conflict", NULL},
    {"batch", "K", "rows to pick", NULL},
    {"select", "topk|diverse|balanced", "batch selection (default topk)", NULL},
    {"reliability", NULL, "weight the committee by each teacher's reliability on the labelled "
                          "rows: w = max(Wilson lower bound of accuracy - 1/C, 0.01), shares "
                          "normalised; needs --labelled with labels", NULL},
    {"temperature", "T", "softening for gradient-conflict (default 4)", NULL},
    {"seed", "S", "seed for random scores and ties (default 1)", NULL},
    {"out", "FILE", ".csv or .jsonl: row, score, student and teacher predictions", NULL},
};

static cli_cmd cmd = {"query", "Pick the next rows for a person to label, and say why.", opts,
                      (int)(sizeof opts / sizeof opts[0])};

/* What --labelled said: a mask, and the labels when the file held them. */
typedef struct labelled_set {
    unsigned char *mask; /* N */
    int32_t *labels;     /* N (-1: none), or NULL when the file held row ids */
    int64_t count;
} labelled_set;

static int read_labelled(const char *path, int64_t N, int C, labelled_set *ls)
{
    dg_labels v = {0, NULL};
    dg_error err;
    int as_labels = 1;

    if (dg_load_labels(path, &v, &err) != 0)
        return cli_fail(&err);
    ls->mask = calloc((size_t)(N ? N : 1), 1);
    if (!ls->mask) {
        dg_labels_free(&v);
        return cli_error("out of memory");
    }
    if (v.n != N)
        as_labels = 0;
    for (int64_t i = 0; as_labels && i < v.n; i++)
        as_labels = v.data[i] >= -1 && v.data[i] < C;
    if (as_labels) {
        ls->labels = v.data;
        for (int64_t i = 0; i < N; i++) {
            ls->mask[i] = v.data[i] >= 0;
            ls->count += ls->mask[i];
        }
        return 0;
    }
    for (int64_t i = 0; i < v.n; i++) {
        if (v.data[i] < 0 || v.data[i] >= N) {
            cli_error("%s: line %lld: expected a row id in [0, %lld), found %d (or one label "
                      "in [-1, %d) per pool row)", path, (long long)i + 1, (long long)N,
                      v.data[i], C);
            dg_labels_free(&v);
            return 1;
        }
        ls->count += !ls->mask[v.data[i]];
        ls->mask[v.data[i]] = 1;
    }
    dg_labels_free(&v);
    return 0;
}

/* Prints each teacher's reliability on the labelled rows; fills w (M)
 * with the committee weights. */
static int report_reliability(const float *tp, int M, int64_t N, int C, const labelled_set *ls,
                              double *w)
{
    dg_teacher_reliability *rel = calloc((size_t)M, sizeof *rel);
    int64_t *per_class = calloc((size_t)C, sizeof *per_class);
    int classes = 0, only = -1;
    dg_error err;

    if (!rel || !per_class) {
        free(rel);
        free(per_class);
        return cli_error("out of memory");
    }
    for (int64_t i = 0; i < N; i++)
        if (ls->labels[i] >= 0 && per_class[ls->labels[i]]++ == 0) {
            classes++;
            only = ls->labels[i];
        }
    if (classes == 1)
        printf("note: the labelled rows hold a single class (%d); reliability below measures "
               "that class only\n", only);
    if (dg_teacher_reliability_eval(tp, M, N, C, ls->labels, rel, &err) != 0) {
        free(rel);
        free(per_class);
        return cli_fail(&err);
    }
    dg_reliability_weights(rel, M, C, w);
    printf("%-8s %6s %9s %19s %7s %8s\n", "teacher", "rows", "accuracy", "Wilson 95%", "ECE",
           "weight");
    for (int m = 0; m < M; m++)
        printf("t%-7d %6lld %9.4f   [%.4f, %.4f] %7.4f %8.4f\n", m, (long long)rel[m].n,
               rel[m].accuracy, rel[m].acc_low, rel[m].acc_high, rel[m].ece, w[m]);
    free(rel);
    free(per_class);
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Writes the picked rows as CSV or JSONL. probs (N x C) of the student,
 * tp (M, N, C) of the teachers. */
static int write_picks(const char *path, int jsonl, const int64_t *picked, int64_t K,
                       const double *scores, const float *probs, const float *tp, int M,
                       int64_t N, int C)
{
    dg__outfile o;
    dg_error err;

    if (dg__out_open(&o, path, &err) != 0)
        return cli_fail(&err);
    if (!jsonl) {
        fprintf(o.fp, "row,score,student_label,student_confidence");
        for (int m = 0; m < M; m++)
            fprintf(o.fp, ",t%d_label,t%d_confidence", m, m);
        fputc('\n', o.fp);
    }
    for (int64_t k = 0; k < K; k++) {
        int64_t r = picked[k];
        const float *s = probs + r * C;
        int y = dg__argmax(s, C);

        if (jsonl)
            fprintf(o.fp, "{\"row\": %lld, \"score\": %.6g, \"student\": {\"label\": %d, "
                          "\"confidence\": %.6g}, \"teachers\": [",
                    (long long)r, scores[r], y, s[y]);
        else
            fprintf(o.fp, "%lld,%.6g,%d,%.6g", (long long)r, scores[r], y, s[y]);
        for (int m = 0; m < M; m++) {
            const float *t = tp + ((size_t)m * N + r) * C;
            int ty = dg__argmax(t, C);

            if (jsonl)
                fprintf(o.fp, "%s{\"label\": %d, \"confidence\": %.6g}", m ? ", " : "", ty,
                        t[ty]);
            else
                fprintf(o.fp, ",%d,%.6g", ty, t[ty]);
        }
        fputs(jsonl ? "]}\n" : "\n", o.fp);
    }
    if (ferror(o.fp)) {
        dg__out_abort(&o);
        return cli_error("%s: write failed", path);
    }
    return dg__out_commit(&o, &err) != 0 ? cli_fail(&err) : 0;
}

int cmd_query(int argc, char **argv)
{
    const char *model_path, *pool_path, *strategy, *out, *s;
    dg_model *model = NULL;
    dg_dataset *pool = NULL;
    dg_teachers *t = NULL;
    dg_teacher_format fmt = DG_TEACHER_AUTO;
    dg_acq_input in = dg_acq_defaults();
    dg_select_opts so = dg_select_defaults();
    dg_acq_kind kind;
    labelled_set ls = {NULL, NULL, 0};
    float *probs = NULL, *tp = NULL, *embed = NULL;
    double *scores = NULL, *w = NULL;
    int64_t *picked = NULL, N, K64, n_picked = 0, available;
    int32_t *predicted = NULL;
    int K = 0, C, M = 0, jsonl, rc = 1, parsed;
    uint64_t seed = 1;
    dg_error err;

    if ((parsed = cli_parse(&cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if (cli_require(&cmd, "model", &model_path) || cli_require(&cmd, "pool", &pool_path) ||
        cli_require(&cmd, "strategy", &strategy) || cli_require(&cmd, "out", &out) ||
        cli_require(&cmd, "batch", &s) || cli_int(&cmd, "batch", 1, 1 << 30, &K) ||
        cli_u64(&cmd, "seed", &seed) ||
        cli_double(&cmd, "temperature", 1e-6, 1e6, &in.temperature) ||
        cli_teacher_format(cli_get(&cmd, "teacher-format"), &fmt))
        return 2;
    if (dg_acq_parse(strategy, &kind, &err) != 0)
        return cli_fail(&err), 2;
    if ((kind == DG_ACQ_VOTE_ENTROPY || kind == DG_ACQ_CONSENSUS_KL ||
         kind == DG_ACQ_STUDENT_KL || kind == DG_ACQ_GRADIENT_CONFLICT) &&
        !cli_get(&cmd, "teachers"))
        return cli_error("query: --strategy %s scores the committee: give the teachers' outputs "
                         "on the pool with --teachers", strategy), 2;
    if ((s = cli_get(&cmd, "select")) && dg_select_parse(s, &so.mode, &err) != 0)
        return cli_fail(&err), 2;
    jsonl = has_suffix(out, ".jsonl");
    if (!jsonl && !has_suffix(out, ".csv"))
        return cli_error("query: --out must end in .csv or .jsonl, got '%s'", out), 2;

    if (dg_model_load(model_path, &model, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    if (cli_load_dataset(pool_path, NULL, NULL, &pool))
        goto done;
    N = dg_dataset_rows(pool);
    C = dg_model_classes(model);
    if (N == 0) {
        cli_error("query: %s: the pool is empty, nothing to pick", pool_path);
        goto done;
    }
    if (dg_dataset_cols(pool) != dg_model_inputs(model)) {
        cli_error("query: %s has %lld features but %s takes %lld", pool_path,
                  (long long)dg_dataset_cols(pool), model_path,
                  (long long)dg_model_inputs(model));
        goto done;
    }
    if ((s = cli_get(&cmd, "teachers"))) {
        char **items = NULL, *buf = NULL;
        int n = 0;

        if (cli_split(s, ',', &items, &n, &buf))
            goto done;
        rc = dg_teachers_load((const char *const *)items, n, fmt, &t, &err);
        free(items);
        free(buf);
        if (rc != 0) {
            rc = 1;
            cli_fail(&err);
            goto done;
        }
        rc = 1;
        M = dg_teachers_count(t);
        if (dg_teachers_rows(t) != N || dg_teachers_classes(t) != C) {
            cli_error("query: teachers have %lld rows and %d classes, %s has %lld rows and %s "
                      "%d classes", (long long)dg_teachers_rows(t), dg_teachers_classes(t),
                      pool_path, (long long)N, model_path, C);
            goto done;
        }
    }
    if (cli_get(&cmd, "labelled") && read_labelled(cli_get(&cmd, "labelled"), N, C, &ls))
        goto done;
    if (cli_get(&cmd, "reliability") && (!ls.labels || !t || ls.count == 0)) {
        cli_error("query: --reliability needs --teachers and a --labelled file with at least "
                  "one label");
        goto done;
    }

    /* pass 1: everyone's probabilities on the pool */
    probs = malloc(sizeof(float) * (size_t)N * (size_t)C);
    scores = malloc(sizeof(double) * (size_t)N);
    picked = malloc(sizeof(int64_t) * (size_t)K);
    if (t) {
        tp = malloc(sizeof(float) * (size_t)M * (size_t)N * (size_t)C);
        w = malloc(sizeof(double) * (size_t)M);
    }
    if (!probs || !scores || !picked || (t && (!tp || !w))) {
        cli_error("out of memory");
        goto done;
    }
    if (dg_model_predict_proba(model, dg_dataset_features(pool), N, probs, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    for (int m = 0; m < M; m++)
        dg_teachers_probs(t, m, tp + (size_t)m * N * C);

    /* pass 2: reliability from the gold labels, when there are some */
    if (t && ls.labels && ls.count > 0 && report_reliability(tp, M, N, C, &ls, w))
        goto done;

    /* pass 3: scores and the batch */
    in.N = N;
    in.C = C;
    in.student = probs;
    in.M = M;
    in.teachers = tp;
    in.weights = cli_get(&cmd, "reliability") ? w : NULL;
    in.seed = seed;
    if (dg_acq_scores(kind, &in, scores, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    available = N - ls.count;
    if (available == 0) {
        cli_error("query: every one of the %lld pool rows is already labelled", (long long)N);
        goto done;
    }
    K64 = K;
    if (K64 > available) {
        fprintf(stderr, "disagree: warning: --batch %d exceeds the %lld unlabelled pool rows; "
                        "taking them all\n", K, (long long)available);
        K64 = available;
    }
    so.seed = seed;
    so.labelled = ls.mask;
    so.features = dg_dataset_features(pool);
    so.D = dg_dataset_cols(pool);
    if (so.mode == DG_SELECT_DIVERSE) {
        int64_t H = dg_model_embed_width(model);

        embed = malloc(sizeof(float) * (size_t)N * (size_t)H);
        if (!embed || dg_model_embed(model, dg_dataset_features(pool), N, embed, &err) != 0) {
            embed ? cli_fail(&err) : cli_error("out of memory");
            goto done;
        }
        so.embedding = embed;
        so.H = H;
    }
    if (so.mode == DG_SELECT_BALANCED) {
        predicted = malloc(sizeof(int32_t) * (size_t)N);
        if (!predicted) {
            cli_error("out of memory");
            goto done;
        }
        for (int64_t i = 0; i < N; i++)
            predicted[i] = dg__argmax(probs + i * C, C);
        so.predicted = predicted;
    }
    if (dg_select_batch(scores, N, K64, &so, picked, &n_picked, &err) != 0) {
        cli_fail(&err);
        goto done;
    }
    if (write_picks(out, jsonl, picked, n_picked, scores, probs, tp, M, N, C))
        goto done;
    printf("picked %lld of %lld unlabelled rows by %s (%s) into %s\n", (long long)n_picked,
           (long long)available, dg_acq_name(kind), dg_select_name(so.mode), out);
    rc = 0;

done:
    free(ls.mask);
    free(ls.labels);
    free(probs);
    free(tp);
    free(embed);
    free(scores);
    free(w);
    free(picked);
    free(predicted);
    dg_teachers_free(t);
    dg_dataset_free(pool);
    dg_model_free(model);
    return rc;
}
