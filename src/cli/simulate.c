/* disagree simulate and disagree estimate: run the labelling loop for each
 * strategy and repetition (dg_al_simulate), with gold answers (simulate) or
 * the committee's vote standing in for them (estimate, and beside simulate
 * when the teachers are given), then write the curves (CSV, JSON, SVG), the
 * labels each strategy needs against random sampling, and the stopping
 * rules' verdicts.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STRATEGIES 16
#define N_TARGETS 3
#define BAR_WIDTH 30

static const double TARGETS[N_TARGETS] = {0.95, 0.98, 0.99};

/* The options both commands share; simulate adds the gold labels. */
#define SHARED_OPTS                                                                            \
    {"data", "FILE", "pool features (IDX, .npy, .csv, LIBSVM)", NULL},                         \
    {"test", "FILE", "test features the student is scored on", NULL},                          \
    {"teachers", "T1,T2,...", "teacher outputs on the pool (committee scores, --distill, "     \
                              "the estimate)", NULL},                                          \
    {"test-teachers", "T1,T2,...", "teacher outputs on --test (the estimate's test truth)",    \
     NULL},                                                                                    \
    {"teacher-format", "prob|logit|auto", "how to read teacher files (default auto: a file "   \
                                          "is probabilities when every row sums to 1)", NULL}, \
    {"strategies", "S1,S2,...", "random, least-confidence, margin, entropy, vote-entropy, "    \
                                "consensus-kl, student-kl, gradient-conflict", NULL},          \
    {"select", "topk|diverse|balanced", "batch selection (default topk)", NULL},               \
    {"initial", "N", "random labels to start from (default 100)", NULL},                       \
    {"batch", "K", "labels added per round (default 100)", NULL},                              \
    {"budget", "N", "labels at most (default 3000)", NULL},                                    \
    {"repeats", "R", "repetitions, each with its own initial set (default 3)", NULL},          \
    {"distill", "none|avg-loss|avg-prob|aekd", "also distil the teachers over the pool: "      \
                                               "labelled rows CE+KD, others KD (default none)", \
     NULL},                                                                                    \
    {"kd-rows", "N", "unlabelled pool rows drawn afresh each round for KD (default 2000)",     \
     NULL},                                                                                    \
    {"steps", "N", "minibatch steps per round; each round retrains from scratch (default 300)",\
     NULL},                                                                                    \
    {"epochs", "E", "epochs of the full-data reference student (default 10)", NULL},           \
    {"hidden", "128", "student hidden sizes; 0 for softmax regression (default 128)", NULL},   \
    {"lr", "LR", "SGD learning rate (default 0.05)", NULL},                                    \
    {"stop-rows", "N", "held-out stop set carved from the pool, never labelled (default 1000)",\
     NULL},                                                                                    \
    {"kappa", "K", "stabilising predictions: Cohen's kappa on the stop set between rounds "    \
                   ">= K ... (default 0.99)", NULL},                                           \
    {"kappa-rounds", "N", "... for N rounds in a row (default 3)", NULL},                      \
    {"uncertainty", "U", "stop when the stop set's mean entropy/ln C falls to U (default 0.1)",\
     NULL},                                                                                    \
    {"reliability", NULL, "weight committee scores by each teacher's Wilson lower bound of "   \
                          "accuracy above chance, max(low - 1/C, 0.01), on the rows labelled " \
                          "so far", NULL},                                                     \
    {"seed", "S", "random seed; repetition r uses S + r (default 1)", NULL},                   \
    {"threads", "N", "threads for BLAS and OpenMP (default: all cores)", NULL},                \
    {"out", "DIR", "folder for curves.csv, curves.json, curves.svg, cost.json, cost.md", NULL}

static cli_opt sim_opts[] = {
    SHARED_OPTS,
    {"labels", "FILE", "gold labels of the pool", NULL},
    {"test-labels", "FILE", "gold labels of the test set", NULL},
    {"no-estimate", NULL, "skip the committee-vote estimate run beside the gold one", NULL},
};

static cli_opt est_opts[] = {SHARED_OPTS};

static cli_cmd sim_cmd = {
    "simulate",
    "Simulate active learning with gold labels: learning curves per strategy, the labels "
    "each needs to reach 95/98/99% of the full-data accuracy against random sampling, and "
    "when the stopping rules would stop. With --teachers and --test-teachers the estimate "
    "(committee vote as answers) runs beside it, so its error shows.",
    sim_opts, (int)(sizeof sim_opts / sizeof sim_opts[0])};

static cli_cmd est_cmd = {
    "estimate",
    "Estimate the labels active learning saves before labelling anything: the simulation "
    "with the committee's vote (argmax of the mean teacher probability) as the answers on "
    "the pool and the truth on the test set.",
    est_opts, (int)(sizeof est_opts / sizeof est_opts[0])};

/* One answer source: gold labels, or the committee's vote. */
typedef struct arm {
    const char *mode;        /* "gold" or "estimate" */
    const int32_t *answers;  /* pool answers */
    const int32_t *truth;    /* test truth */
    double full_acc;         /* the reference student on every answer */
    dg_al_result *res;       /* (strategy, repetition) */
} arm;

typedef struct experiment {
    cli_cmd *cmd;
    dg_dataset *pool, *test;
    dg_teachers *t, *tt;
    int S, R;
    dg_acq_kind kinds[MAX_STRATEGIES];
    dg_al_opts base;
    const char *out, *distill;
    arm arms[2];
    int n_arms;
    int32_t *vote, *test_vote;
} experiment;

/* What the progress callback needs to say where the run is. */
typedef struct progress {
    const char *mode, *strategy;
    int rep, R, rounds;
} progress;

static void on_round(const dg_al_round *r, void *user)
{
    const progress *p = user;

    if (cli_tty()) {
        int filled = (int)((double)BAR_WIDTH * (r->round + 1) / p->rounds);

        fprintf(stderr, "\r%-8s %-18s rep %d/%d [%.*s%*s] %5lld labels, acc %.4f", p->mode,
                p->strategy, p->rep + 1, p->R, filled, "##############################",
                BAR_WIDTH - filled, "", (long long)r->labels, r->accuracy);
        if (r->round + 1 >= p->rounds)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s %s rep %d/%d round %d/%d: %lld labels, acc %.4f, kappa %.4f, "
                        "%.2fs\n",
                p->mode, p->strategy, p->rep + 1, p->R, r->round + 1, p->rounds,
                (long long)r->labels, r->accuracy, r->kappa, r->seconds);
    }
}

static int parse_method(const char *s, dg_method *m)
{
    static const char *const names[] = {"none", "avg-loss", "avg-prob", "aekd"};

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (dg_method)i;
            return 0;
        }
    return cli_error("--distill expects none, avg-loss, avg-prob or aekd, got '%s'", s);
}

static int load_teachers(const char *list, const char *format, dg_teachers **out)
{
    char **items = NULL, *buf = NULL;
    int n = 0, rc;
    dg_teacher_format fmt;
    dg_error err;

    if (cli_teacher_format(format, &fmt) || cli_split(list, ',', &items, &n, &buf) != 0)
        return 1;
    rc = dg_teachers_load((const char *const *)items, n, fmt, out, &err);
    free(items);
    free(buf);
    return rc ? cli_fail(&err) : 0;
}

/* Reads every option into ex; returns 0, or an exit status. */
static int configure(experiment *ex, int estimate)
{
    cli_cmd *cmd = ex->cmd;
    dg_al_opts *o = &ex->base;
    const char *s, *need[] = {"data", "test", "strategies", "out"};
    char **names = NULL, *buf = NULL;
    dg_error err;
    int n = 0;

    *o = dg_al_defaults();
    o->train.hidden[0] = 128;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (cli_require(cmd, need[i], &s))
            return 2;
    ex->out = cli_get(cmd, "out");
    ex->R = 3;
    ex->distill = cli_get(cmd, "distill") ? cli_get(cmd, "distill") : "none";
    if (parse_method(ex->distill, &o->train.method))
        return 2;
    if ((s = cli_get(cmd, "select"))) {
        if (dg_select_parse(s, &o->select, &err) != 0)
            return cli_fail(&err), 2;
    }
    if ((s = cli_get(cmd, "hidden")) &&
        cli_sizes("--hidden", s, o->train.hidden, DG_MAX_LAYERS - 1, &o->train.n_hidden))
        return 2;
    {
        int initial = 100, batch = 100, budget = 3000, stop = 1000, kd = 2000;

        if (cli_int(cmd, "initial", 1, 1 << 30, &initial) ||
            cli_int(cmd, "batch", 1, 1 << 30, &batch) ||
            cli_int(cmd, "budget", 1, 1 << 30, &budget) ||
            cli_int(cmd, "stop-rows", 0, 1 << 30, &stop) ||
            cli_int(cmd, "kd-rows", 0, 1 << 30, &kd) ||
            cli_int(cmd, "repeats", 1, 1000, &ex->R) ||
            cli_int(cmd, "steps", 1, 1 << 30, &o->steps) ||
            cli_int(cmd, "epochs", 1, 100000, &o->train.epochs) ||
            cli_int(cmd, "kappa-rounds", 1, 1000, &o->kappa_rounds) ||
            cli_int(cmd, "threads", 1, 4096, &o->train.threads) ||
            cli_double(cmd, "kappa", -1.0, 1.0, &o->kappa_threshold) ||
            cli_double(cmd, "uncertainty", 0.0, 1.0, &o->uncertainty_threshold) ||
            cli_double(cmd, "lr", 1e-12, 1e3, &o->train.lr) || cli_u64(cmd, "seed", &o->seed))
            return 2;
        if (budget < initial)
            return cli_error("%s: --budget %d is below --initial %d", cmd->name, budget,
                             initial), 2;
        o->initial = initial;
        o->batch = batch;
        o->budget = budget;
        o->stop_rows = stop;
        o->kd_rows = kd;
    }
    o->reliability = cli_get(cmd, "reliability") != NULL;

    if (cli_split(cli_get(cmd, "strategies"), ',', &names, &n, &buf))
        return 2;
    if (n > MAX_STRATEGIES) {
        free(names);
        free(buf);
        return cli_error("%s: at most %d strategies, got %d", cmd->name, MAX_STRATEGIES, n), 2;
    }
    for (int i = 0; i < n; i++)
        if (dg_acq_parse(names[i], &ex->kinds[i], &err) != 0) {
            free(names);
            free(buf);
            return cli_fail(&err), 2;
        }
    ex->S = n;
    free(names);
    free(buf);
    if (estimate && (!cli_get(cmd, "teachers") || !cli_get(cmd, "test-teachers")))
        return cli_error("estimate: --teachers and --test-teachers are required: the "
                         "committee's vote stands in for the labels"), 2;
    if (!estimate && (!cli_get(cmd, "labels") || !cli_get(cmd, "test-labels")))
        return cli_error("simulate: --labels and --test-labels are required (without labels, "
                         "use disagree estimate)"), 2;
    return 0;
}

/* A dataset of the features at path whose labels are the committee's vote
 * (estimate: no label is read from anywhere). */
static int load_voted(const char *path, const dg_teachers *t, dg_dataset **out)
{
    dg_csv_opts csv = dg_csv_defaults();
    dg_matrix X = {0, 0, NULL};
    dg_labels y = {0, NULL};
    dg_error err;

    if (dg_load_features(path, &csv, &X, &err) != 0)
        return cli_fail(&err);
    if (X.rows != dg_teachers_rows(t)) {
        cli_error("%s has %lld rows but its teachers have %lld", path, (long long)X.rows,
                  (long long)dg_teachers_rows(t));
        dg_matrix_free(&X);
        return 1;
    }
    y.n = X.rows;
    y.data = malloc(sizeof(int32_t) * (size_t)(X.rows ? X.rows : 1));
    if (!y.data || dg_teachers_vote(t, y.data, &err) != 0 ||
        dg_dataset_from_arrays(&X, &y, dg_teachers_classes(t), out, &err) != 0) {
        dg_matrix_free(&X);
        dg_labels_free(&y);
        return y.data ? cli_fail(&err) : cli_error("out of memory");
    }
    snprintf((*out)->source, sizeof (*out)->source, "%s", path);
    return 0;
}

/* Loads the data and teachers and fills the arms. */
static int load(experiment *ex, int estimate)
{
    cli_cmd *cmd = ex->cmd;
    dg_error err;

    if (cli_get(cmd, "teachers") &&
        load_teachers(cli_get(cmd, "teachers"), cli_get(cmd, "teacher-format"), &ex->t))
        return 1;
    if (cli_get(cmd, "test-teachers") &&
        load_teachers(cli_get(cmd, "test-teachers"), cli_get(cmd, "teacher-format"), &ex->tt))
        return 1;
    /* AE-KD's cap can be no lower than 1/M (a single teacher takes it all),
     * as distill's default does */
    if (ex->t)
        ex->base.train.tolerance = fmax(ex->base.train.tolerance, 1.0 / dg_teachers_count(ex->t));
    if (estimate) {
        if (load_voted(cli_get(cmd, "data"), ex->t, &ex->pool) ||
            load_voted(cli_get(cmd, "test"), ex->tt, &ex->test))
            return 1;
        ex->arms[ex->n_arms++] = (arm){"estimate", dg_dataset_labels(ex->pool),
                                       dg_dataset_labels(ex->test), NAN, NULL};
        return 0;
    }
    if (cli_load_dataset(cli_get(cmd, "data"), cli_get(cmd, "labels"), NULL, &ex->pool) ||
        cli_load_dataset(cli_get(cmd, "test"), cli_get(cmd, "test-labels"), NULL, &ex->test))
        return 1;
    if (ex->tt && dg_teachers_rows(ex->tt) != dg_dataset_rows(ex->test))
        return cli_error("%s: --test-teachers have %lld rows but %s has %lld", cmd->name,
                         (long long)dg_teachers_rows(ex->tt), cli_get(cmd, "test"),
                         (long long)dg_dataset_rows(ex->test));
    ex->arms[ex->n_arms++] = (arm){"gold", dg_dataset_labels(ex->pool),
                                   dg_dataset_labels(ex->test), NAN, NULL};
    if (!ex->t || !ex->tt || cli_get(cmd, "no-estimate"))
        return 0;

    /* the estimate beside the gold run: the committee's vote as answers */
    ex->vote = malloc(sizeof(int32_t) * (size_t)dg_dataset_rows(ex->pool));
    ex->test_vote = malloc(sizeof(int32_t) * (size_t)dg_dataset_rows(ex->test));
    if (!ex->vote || !ex->test_vote)
        return cli_error("out of memory");
    if (dg_teachers_vote(ex->t, ex->vote, &err) != 0 ||
        dg_teachers_vote(ex->tt, ex->test_vote, &err) != 0)
        return cli_fail(&err);
    ex->arms[ex->n_arms++] = (arm){"estimate", ex->vote, ex->test_vote, NAN, NULL};
    return 0;
}

static void print_reliability(const dg_al_result *r, const char *strategy, int rep)
{
    printf("teacher reliability after %s rep %d (%lld gold labels):\n", strategy, rep + 1,
           (long long)r->n_labelled);
    for (int m = 0; m < r->M; m++)
        printf("  teacher %d: accuracy %.4f [%.4f, %.4f] (Wilson 95%%), ECE %.4f\n", m,
               r->reliability[m].accuracy, r->reliability[m].acc_low,
               r->reliability[m].acc_high, r->reliability[m].ece);
}

/* Runs the reference and every (strategy, repetition) of one arm. */
static int run_arm(experiment *ex, arm *a)
{
    dg_al_opts o = ex->base;
    dg_error err;
    int rounds = 1 + (int)((o.budget - o.initial + o.batch - 1) / o.batch);

    o.answers = a->answers;
    o.test_labels = a->truth;
    fprintf(stderr, "%s: full-data reference (%d epochs on %lld rows)\n", a->mode,
            o.train.epochs, (long long)dg_dataset_rows(ex->pool));
    if (dg_al_reference(ex->pool, ex->t, ex->test, &o, &a->full_acc, &err) != 0)
        return cli_fail(&err);
    a->res = calloc((size_t)ex->S * (size_t)ex->R, sizeof *a->res);
    if (!a->res)
        return cli_error("out of memory");
    for (int s = 0; s < ex->S; s++)
        for (int r = 0; r < ex->R; r++) {
            progress p = {a->mode, dg_acq_name(ex->kinds[s]), r, ex->R, rounds};
            dg_al_result *res = &a->res[s * ex->R + r];

            o.strategy = ex->kinds[s];
            o.seed = ex->base.seed + (uint64_t)r;
            o.on_round = on_round;
            o.on_round_user = &p;
            if (dg_al_simulate(ex->pool, ex->t, ex->test, &o, res, &err) != 0)
                return cli_fail(&err);
            if (strcmp(a->mode, "gold") == 0 && res->M > 0)
                print_reliability(res, p.strategy, r);
        }
    return 0;
}

/* ------------------------------------------------------------------------
 * Summaries: the mean curve, crossing points, the stopping rules
 */

/* One strategy's curve over repetitions (points shared by every rep). */
typedef struct summary {
    int n;
    int64_t *labels;
    double *mean, *lo, *hi;
    int64_t cross[N_TARGETS];              /* on the mean curve, -1: not reached */
    int64_t cross_lo[N_TARGETS], cross_hi[N_TARGETS]; /* over reps; hi -1: some rep missed */
} summary;

static void summary_free(summary *sm)
{
    free(sm->labels);
    free(sm->mean);
    free(sm->lo);
    free(sm->hi);
}

static int summarise(const experiment *ex, const arm *a, int s, summary *sm)
{
    const dg_al_result *res = a->res + s * ex->R;

    memset(sm, 0, sizeof *sm);
    sm->n = res[0].n_rounds;
    for (int r = 1; r < ex->R; r++)
        sm->n = res[r].n_rounds < sm->n ? res[r].n_rounds : sm->n;
    sm->labels = malloc(sizeof(int64_t) * (size_t)sm->n);
    sm->mean = malloc(sizeof(double) * (size_t)sm->n);
    sm->lo = malloc(sizeof(double) * (size_t)sm->n);
    sm->hi = malloc(sizeof(double) * (size_t)sm->n);
    if (!sm->labels || !sm->mean || !sm->lo || !sm->hi)
        return cli_error("out of memory");
    for (int i = 0; i < sm->n; i++) {
        sm->labels[i] = res[0].rounds[i].labels;
        sm->mean[i] = 0.0;
        sm->lo[i] = INFINITY;
        sm->hi[i] = -INFINITY;
        for (int r = 0; r < ex->R; r++) {
            double acc = res[r].rounds[i].accuracy;

            sm->mean[i] += acc / ex->R;
            sm->lo[i] = fmin(sm->lo[i], acc);
            sm->hi[i] = fmax(sm->hi[i], acc);
        }
    }
    for (int k = 0; k < N_TARGETS; k++) {
        double target = TARGETS[k] * a->full_acc;

        sm->cross[k] = dg_al_crossing(sm->labels, sm->mean, sm->n, target);
        sm->cross_lo[k] = -1;
        sm->cross_hi[k] = 0;
        for (int r = 0; r < ex->R; r++) {
            double *acc = malloc(sizeof(double) * (size_t)sm->n);
            int64_t c;

            if (!acc)
                return cli_error("out of memory");
            for (int i = 0; i < sm->n; i++)
                acc[i] = res[r].rounds[i].accuracy;
            c = dg_al_crossing(sm->labels, acc, sm->n, target);
            free(acc);
            if (c >= 0 && (sm->cross_lo[k] < 0 || c < sm->cross_lo[k]))
                sm->cross_lo[k] = c;
            if (c < 0 || sm->cross_hi[k] < 0)
                sm->cross_hi[k] = -1;
            else if (c > sm->cross_hi[k])
                sm->cross_hi[k] = c;
        }
    }
    return 0;
}

/* Index of the random strategy, or -1. */
static int random_index(const experiment *ex)
{
    for (int s = 0; s < ex->S; s++)
        if (ex->kinds[s] == DG_ACQ_RANDOM)
            return s;
    return -1;
}

static double ratio(int64_t labels, int64_t random_labels)
{
    return labels > 0 && random_labels > 0 ? (double)labels / (double)random_labels : NAN;
}

static void fmt_labels(char *buf, size_t n, int64_t labels)
{
    if (labels < 0)
        snprintf(buf, n, "not reached");
    else
        snprintf(buf, n, "%lld", (long long)labels);
}

static void fmt_ratio(char *buf, size_t n, double x)
{
    if (isfinite(x))
        snprintf(buf, n, "%.2f", x);
    else
        snprintf(buf, n, "-");
}

/* The cost table, one row per (strategy, target), as text (md = 0) or
 * markdown (md = 1). sm[arm][strategy]. */
static void cost_table(FILE *fp, const experiment *ex, summary (*sm)[MAX_STRATEGIES], int md)
{
    int rnd = random_index(ex), est = ex->n_arms > 1;
    const arm *a = &ex->arms[0];

    fprintf(fp, "%sfull-data accuracy (%s answers): %.4f", md ? "" : "", a->mode, a->full_acc);
    if (est)
        fprintf(fp, "; with the committee's vote as answers and truth: %.4f",
                ex->arms[1].full_acc);
    fprintf(fp, "\n\n");
    if (md)
        fprintf(fp, "| strategy | target | accuracy | labels | spread over reps | "
                    "ratio to random |%s\n| --- | --- | --- | --- | --- | --- |%s\n",
                est ? " estimate: labels | estimate: ratio |" : "",
                est ? " --- | --- |" : "");
    else
        fprintf(fp, "%-18s %6s %8s %12s %20s %7s%s\n", "strategy", "target", "accuracy",
                "labels", "spread (min-max)", "ratio",
                est ? "   est. labels est. ratio" : "");
    for (int s = 0; s < ex->S; s++)
        for (int k = 0; k < N_TARGETS; k++) {
            const summary *g = &sm[0][s];
            char lab[32], lo[32], hi[32], spread[72], rat[16], elab[32] = "", erat[16] = "";

            fmt_labels(lab, sizeof lab, g->cross[k]);
            /* min-max over repetitions; "never" when some repetition missed */
            snprintf(lo, sizeof lo, "%lld", (long long)g->cross_lo[k]);
            snprintf(hi, sizeof hi, "%lld", (long long)g->cross_hi[k]);
            if (g->cross_lo[k] < 0)
                snprintf(spread, sizeof spread, "-");
            else
                snprintf(spread, sizeof spread, "%s-%s", lo, g->cross_hi[k] < 0 ? "never" : hi);
            fmt_ratio(rat, sizeof rat, rnd < 0 ? NAN : ratio(g->cross[k], sm[0][rnd].cross[k]));
            if (est) {
                fmt_labels(elab, sizeof elab, sm[1][s].cross[k]);
                fmt_ratio(erat, sizeof erat,
                          rnd < 0 ? NAN : ratio(sm[1][s].cross[k], sm[1][rnd].cross[k]));
            }
            if (md)
                fprintf(fp, "| %s | %.0f%% | %.4f | %s | %s | %s |%s%s%s%s%s\n",
                        dg_acq_name(ex->kinds[s]), 100 * TARGETS[k], TARGETS[k] * a->full_acc,
                        lab, spread, rat, est ? " " : "", elab, est ? " | " : "", erat,
                        est ? " |" : "");
            else
                fprintf(fp, "%-18s %5.0f%% %8.4f %12s %20s %7s%*s%*s\n",
                        dg_acq_name(ex->kinds[s]), 100 * TARGETS[k], TARGETS[k] * a->full_acc,
                        lab, spread, rat, est ? 14 : 0, elab, est ? 11 : 0, erat);
        }
}

/* The stopping rules of the first arm: per strategy and rule, in how many
 * repetitions it fired and the mean labels and accuracy then. */
static void stop_table(FILE *fp, const experiment *ex, int md)
{
    static const char *const rules[3] = {"stable predictions", "low uncertainty", "budget"};
    const arm *a = &ex->arms[0];

    if (md)
        fprintf(fp, "\n| strategy | stopping rule | fired | round | labels | accuracy then | "
                    "final accuracy |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    else
        fprintf(fp, "\nstopping rules (kappa >= %g on %lld stop rows for %d rounds; mean "
                    "entropy/ln C <= %g), mean over repetitions that fired\n"
                    "%-18s %-19s %6s %6s %8s %9s %9s\n",
                ex->base.kappa_threshold, (long long)ex->base.stop_rows, ex->base.kappa_rounds,
                ex->base.uncertainty_threshold, "strategy", "rule", "fired", "round", "labels",
                "accuracy", "final");
    for (int s = 0; s < ex->S; s++)
        for (int rule = 0; rule < 3; rule++) {
            double round = 0, labels = 0, acc = 0, final = 0;
            int fired = 0;

            for (int r = 0; r < ex->R; r++) {
                const dg_al_result *res = &a->res[s * ex->R + r];
                int at = rule == 0 ? res->stop_kappa : rule == 1 ? res->stop_uncertainty
                                                                 : res->stop_budget;

                final += res->rounds[res->n_rounds - 1].accuracy / ex->R;
                if (at < 0)
                    continue;
                fired++;
                round += at;
                labels += (double)res->rounds[at].labels;
                acc += res->rounds[at].accuracy;
            }
            if (fired)
                round /= fired, labels /= fired, acc /= fired;
            if (md)
                fprintf(fp, "| %s | %s | %d/%d | %.1f | %.0f | %.4f | %.4f |\n",
                        dg_acq_name(ex->kinds[s]), rules[rule], fired, ex->R,
                        fired ? round : NAN, fired ? labels : NAN, fired ? acc : NAN, final);
            else if (fired)
                fprintf(fp, "%-18s %-19s %4d/%d %6.1f %8.0f %9.4f %9.4f\n",
                        dg_acq_name(ex->kinds[s]), rules[rule], fired, ex->R, round, labels,
                        acc, final);
            else
                fprintf(fp, "%-18s %-19s %4d/%d %6s %8s %9s %9.4f\n",
                        dg_acq_name(ex->kinds[s]), rules[rule], fired, ex->R, "-", "never",
                        "-", final);
        }
}

/* ------------------------------------------------------------------------
 * Output files
 */

static int open_out(const experiment *ex, const char *name, dg__outfile *o)
{
    char path[4200];
    dg_error err;

    snprintf(path, sizeof path, "%s/%s", ex->out, name);
    return dg__out_open(o, path, &err) != 0 ? cli_fail(&err) : 0;
}

static int close_out(dg__outfile *o)
{
    dg_error err;

    if (ferror(o->fp)) {
        dg__out_abort(o);
        return cli_error("%s: write failed", o->path);
    }
    return dg__out_commit(o, &err) != 0 ? cli_fail(&err) : 0;
}

static int write_curves(const experiment *ex)
{
    dg__outfile csv, json;

    if (open_out(ex, "curves.csv", &csv))
        return 1;
    if (open_out(ex, "curves.json", &json)) {
        dg__out_abort(&csv);
        return 1;
    }
    fprintf(csv.fp, "mode,strategy,repetition,round,labels,accuracy,kappa,uncertainty\n");
    fprintf(json.fp, "{\n  \"distill\": ");
    cli_json_str(json.fp, ex->distill);
    fprintf(json.fp, ",\n  \"full_data_accuracy\": {");
    for (int i = 0; i < ex->n_arms; i++) {
        fprintf(json.fp, "%s\"%s\": ", i ? ", " : "", ex->arms[i].mode);
        cli_json_num(json.fp, ex->arms[i].full_acc);
    }
    fprintf(json.fp, "},\n  \"points\": [\n");
    for (int i = 0, first = 1; i < ex->n_arms; i++)
        for (int s = 0; s < ex->S; s++)
            for (int r = 0; r < ex->R; r++) {
                const dg_al_result *res = &ex->arms[i].res[s * ex->R + r];

                for (int k = 0; k < res->n_rounds; k++) {
                    const dg_al_round *p = &res->rounds[k];

                    fprintf(csv.fp, "%s,%s,%d,%d,%lld,%.6f,%.6f,%.6f\n", ex->arms[i].mode,
                            dg_acq_name(ex->kinds[s]), r + 1, p->round, (long long)p->labels,
                            p->accuracy, p->kappa, p->uncertainty);
                    fprintf(json.fp, "%s    {\"mode\": \"%s\", \"strategy\": \"%s\", "
                                     "\"repetition\": %d, \"labels\": %lld, \"accuracy\": ",
                            first ? "" : ",\n", ex->arms[i].mode, dg_acq_name(ex->kinds[s]),
                            r + 1, (long long)p->labels);
                    cli_json_num(json.fp, p->accuracy);
                    fprintf(json.fp, ", \"kappa\": ");
                    cli_json_num(json.fp, p->kappa);
                    fprintf(json.fp, ", \"uncertainty\": ");
                    cli_json_num(json.fp, p->uncertainty);
                    fprintf(json.fp, "}");
                    first = 0;
                }
            }
    fprintf(json.fp, "\n  ]\n}\n");
    if (close_out(&csv)) {
        dg__out_abort(&json);
        return 1;
    }
    return close_out(&json);
}

static void json_labels(FILE *fp, int64_t labels)
{
    if (labels < 0)
        fprintf(fp, "\"not reached within budget\"");
    else
        fprintf(fp, "%lld", (long long)labels);
}

static int write_cost_json(const experiment *ex, summary (*sm)[MAX_STRATEGIES])
{
    dg__outfile o;
    int rnd = random_index(ex);

    if (open_out(ex, "cost.json", &o))
        return 1;
    fprintf(o.fp, "{\n  \"distill\": ");
    cli_json_str(o.fp, ex->distill);
    fprintf(o.fp, ",\n  \"repeats\": %d,\n  \"arms\": [\n", ex->R);
    for (int i = 0; i < ex->n_arms; i++) {
        fprintf(o.fp, "    {\"mode\": \"%s\", \"full_data_accuracy\": ", ex->arms[i].mode);
        cli_json_num(o.fp, ex->arms[i].full_acc);
        fprintf(o.fp, ", \"strategies\": [\n");
        for (int s = 0; s < ex->S; s++) {
            const summary *g = &sm[i][s];

            fprintf(o.fp, "      {\"strategy\": \"%s\", \"targets\": [", dg_acq_name(ex->kinds[s]));
            for (int k = 0; k < N_TARGETS; k++) {
                fprintf(o.fp, "%s{\"share\": %.2f, \"labels\": ", k ? ", " : "", TARGETS[k]);
                json_labels(o.fp, g->cross[k]);
                fprintf(o.fp, ", \"min\": ");
                json_labels(o.fp, g->cross_lo[k]);
                fprintf(o.fp, ", \"max\": ");
                json_labels(o.fp, g->cross_hi[k]);
                fprintf(o.fp, ", \"ratio_to_random\": ");
                cli_json_num(o.fp, rnd < 0 ? NAN : ratio(g->cross[k], sm[i][rnd].cross[k]));
                fprintf(o.fp, "}");
            }
            fprintf(o.fp, "], \"stop\": [");
            for (int r = 0; r < ex->R; r++) {
                const dg_al_result *res = &ex->arms[i].res[s * ex->R + r];

                fprintf(o.fp, "%s{\"kappa_round\": %d, \"uncertainty_round\": %d, "
                              "\"budget_round\": %d, \"final_accuracy\": ",
                        r ? ", " : "", res->stop_kappa, res->stop_uncertainty,
                        res->stop_budget);
                cli_json_num(o.fp, res->rounds[res->n_rounds - 1].accuracy);
                fprintf(o.fp, ", \"teachers\": [");
                for (int m = 0; m < res->M; m++) {
                    fprintf(o.fp, "%s{\"accuracy\": ", m ? ", " : "");
                    cli_json_num(o.fp, res->reliability[m].accuracy);
                    fprintf(o.fp, ", \"low\": ");
                    cli_json_num(o.fp, res->reliability[m].acc_low);
                    fprintf(o.fp, ", \"high\": ");
                    cli_json_num(o.fp, res->reliability[m].acc_high);
                    fprintf(o.fp, ", \"ece\": ");
                    cli_json_num(o.fp, res->reliability[m].ece);
                    fprintf(o.fp, "}");
                }
                fprintf(o.fp, "]}");
            }
            fprintf(o.fp, "]}%s\n", s + 1 < ex->S ? "," : "");
        }
        fprintf(o.fp, "    ]}%s\n", i + 1 < ex->n_arms ? "," : "");
    }
    fprintf(o.fp, "  ]\n}\n");
    return close_out(&o);
}

static int write_reports(experiment *ex)
{
    summary sm[2][MAX_STRATEGIES];
    cli_curve curves[MAX_STRATEGIES];
    char path[4200], title[256];
    dg__outfile md;
    int rc = 1, done[2] = {0, 0};

    for (int i = 0; i < ex->n_arms; i++) {
        for (int s = 0; s < ex->S; s++, done[i]++)
            if (summarise(ex, &ex->arms[i], s, &sm[i][s])) {
                summary_free(&sm[i][s]);
                goto out;
            }
    }
    cost_table(stdout, ex, sm, 0);
    stop_table(stdout, ex, 0);
    if (write_curves(ex) || write_cost_json(ex, sm) || open_out(ex, "cost.md", &md))
        goto out;
    fprintf(md.fp, "# Labels to reach a share of the full-data accuracy\n\n"
                   "distill: %s; %d repetitions; initial %lld, batch %lld, budget %lld. "
                   "Labels: first point of the mean curve at or above the target; spread: "
                   "the same per repetition.\n\n",
            ex->distill, ex->R, (long long)ex->base.initial, (long long)ex->base.batch,
            (long long)ex->base.budget);
    cost_table(md.fp, ex, sm, 1);
    stop_table(md.fp, ex, 1);
    if (close_out(&md))
        goto out;

    for (int s = 0; s < ex->S; s++)
        curves[s] = (cli_curve){dg_acq_name(ex->kinds[s]), sm[0][s].n, sm[0][s].labels,
                                sm[0][s].mean, sm[0][s].lo, sm[0][s].hi};
    snprintf(path, sizeof path, "%s/curves.svg", ex->out);
    snprintf(title, sizeof title, "test accuracy by labels (%s answers, distill %s, %d reps)",
             ex->arms[0].mode, ex->distill, ex->R);
    if (cli_curves_svg(path, title, curves, ex->S, ex->arms[0].full_acc))
        goto out;
    printf("\nwrote %s/curves.csv, curves.json, curves.svg, cost.json, cost.md\n", ex->out);
    rc = 0;

out:
    for (int i = 0; i < ex->n_arms; i++)
        for (int s = 0; s < done[i]; s++)
            summary_free(&sm[i][s]);
    return rc;
}

/* Both commands: estimate = 1 runs the committee-vote arm alone. */
static int run(cli_cmd *cmd, int argc, char **argv, int estimate)
{
    experiment ex;
    int rc = 1, parsed;
    double t0 = cli_now();

    memset(&ex, 0, sizeof ex);
    ex.cmd = cmd;
    if ((parsed = cli_parse(cmd, argc, argv)) != 0)
        return parsed > 0 ? 0 : 2;
    if ((rc = configure(&ex, estimate)) != 0)
        return rc;
    rc = 1;
    if (load(&ex, estimate) || cli_ensure_dir(ex.out))
        goto done;
    for (int i = 0; i < ex.n_arms; i++)
        if (run_arm(&ex, &ex.arms[i]))
            goto done;
    if (write_reports(&ex))
        goto done;
    fprintf(stderr, "%s: done in %.1fs\n", cmd->name, cli_now() - t0);
    rc = 0;

done:
    for (int i = 0; i < ex.n_arms; i++) {
        for (int k = 0; ex.arms[i].res && k < ex.S * ex.R; k++)
            dg_al_result_free(&ex.arms[i].res[k]);
        free(ex.arms[i].res);
    }
    free(ex.vote);
    free(ex.test_vote);
    dg_teachers_free(ex.t);
    dg_teachers_free(ex.tt);
    dg_dataset_free(ex.pool);
    dg_dataset_free(ex.test);
    return rc;
}

int cmd_simulate(int argc, char **argv)
{
    return run(&sim_cmd, argc, argv, 0);
}

int cmd_estimate(int argc, char **argv)
{
    return run(&est_cmd, argc, argv, 1);
}
