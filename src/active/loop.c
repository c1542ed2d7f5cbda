/* The active-learning loop as the library runs it: a simulated annotator
 * answers from known labels (gold, or the committee's vote for a cost
 * estimate), the student is retrained each round by the dense trainer, the
 * acquisition scores and batch selection pick the next rows, and the
 * stopping rules watch a held-out stop set.
 */
#include "active/active.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * Legend: N pool rows, D features, C classes, M teachers, K batch,
 * S stop-set rows, H embedding width.
 */

/* A teacher no better than chance keeps this much of a vote. */
#define RELIABILITY_WEIGHT_FLOOR 0.01
/* Rows per forward pass when embedding or predicting in chunks. */
#define EMBED_CHUNK 512
/* Diverse selection: only this many times K best-scored rows compete, so a
 * round costs N + 10*K*K*H rather than N*K*H. */
#define DIVERSE_POOL_FACTOR 10
/* Salts keep the stop/initial draw, the KD rows and the training seeds of
 * one seed unrelated. */
#define SALT_SPLIT 0x53504c4954303031ULL
#define SALT_KD 0x4b44524f57533031ULL
#define SALT_TRAIN 0x545241494e303031ULL

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Small pieces: weights, kappa, crossing points, the committee vote,
 * embeddings
 */

void dg_reliability_weights(const dg_teacher_reliability *r, int M, int C, double *w)
{
    for (int m = 0; m < M; m++)
        w[m] = r[m].n > 0 ? fmax(r[m].acc_low - 1.0 / C, RELIABILITY_WEIGHT_FLOOR) : 1.0;
}

double dg_cohen_kappa(const int32_t *a, const int32_t *b, int64_t N, int C)
{
    int64_t *count_a, *count_b, agree = 0;
    double p_o, p_e = 0.0;

    if (N <= 0 || C < 1)
        return NAN;
    count_a = calloc(2 * (size_t)C, sizeof *count_a);
    if (!count_a)
        return NAN;
    count_b = count_a + C;
    for (int64_t n = 0; n < N; n++) {
        if (a[n] < 0 || a[n] >= C || b[n] < 0 || b[n] >= C) {
            free(count_a);
            return NAN;
        }
        count_a[a[n]]++;
        count_b[b[n]]++;
        agree += a[n] == b[n];
    }
    p_o = (double)agree / (double)N;
    for (int c = 0; c < C; c++)
        p_e += ((double)count_a[c] / (double)N) * ((double)count_b[c] / (double)N);
    free(count_a);

    /* p_e = 1 only when both labelings are one and the same class */
    if (p_e >= 1.0)
        return 1.0;
    return (p_o - p_e) / (1.0 - p_e);
}

int64_t dg_al_crossing(const int64_t *labels, const double *acc, int n, double target)
{
    for (int i = 0; i < n; i++)
        if (acc[i] >= target)
            return labels[i];
    return -1;
}

int dg_teachers_vote(const dg_teachers *t, int32_t *out, dg_error *err)
{
    int64_t N;
    int C;
    float *p, *mean;

    if (!t || !out)
        return dg__fail(err, DG_EINVAL, "teachers vote: expected teachers and an output array");
    N = t->N;
    C = t->C;
    p = dg__alloc((size_t)N * (size_t)C, sizeof(float), 0, err);
    mean = dg__alloc((size_t)N * (size_t)C, sizeof(float), 1, err);
    if (!p || !mean) {
        free(p);
        free(mean);
        return DG_ENOMEM;
    }
    for (int m = 0; m < t->M; m++) {
        dg_teachers_probs(t, m, p);
        for (int64_t i = 0; i < N * C; i++)
            mean[i] += p[i];
    }
    for (int64_t n = 0; n < N; n++)
        out[n] = dg__argmax(mean + n * C, C);
    free(p);
    free(mean);
    return 0;
}

int64_t dg_model_embed_width(const dg_model *m)
{
    return m->n_layers > 1 ? m->sizes[m->n_layers - 1] : m->sizes[0];
}

int dg_model_embed(const dg_model *m, const float *X, int64_t N, float *out, dg_error *err)
{
    dg__mlp_work w;
    int64_t D = m->sizes[0], H = dg_model_embed_width(m);
    int rc;

    if ((rc = dg__mlp_work_init(&w, m, EMBED_CHUNK, err)) != 0)
        return rc;
    for (int64_t start = 0; start < N; start += EMBED_CHUNK) {
        int64_t rows = N - start < EMBED_CHUNK ? N - start : EMBED_CHUNK, width;
        const float *h;

        dg__mlp_forward(m, X + start * D, rows, &w);
        h = dg__mlp_last_hidden(m, X + start * D, &w, &width);
        memcpy(out + start * H, h, sizeof(float) * (size_t)(rows * H));
    }
    dg__mlp_work_free(&w);
    return 0;
}

/* ------------------------------------------------------------------------
 * The simulated loop
 */

dg_al_opts dg_al_defaults(void)
{
    dg_al_opts o;

    memset(&o, 0, sizeof o);
    o.strategy = DG_ACQ_ENTROPY;
    o.select = DG_SELECT_TOPK;
    o.initial = 100;
    o.batch = 100;
    o.budget = 3000;
    o.stop_rows = 1000;
    o.kappa_threshold = 0.99;
    o.kappa_rounds = 3;
    o.uncertainty_threshold = 0.1;
    o.train = dg_distill_defaults();
    o.train.method = DG_CE;
    o.steps = 300;
    o.kd_rows = 2000;
    o.seed = 1;
    return o;
}

void dg_al_result_free(dg_al_result *r)
{
    if (!r)
        return;
    free(r->rounds);
    free(r->labelled);
    free(r->reliability);
    memset(r, 0, sizeof *r);
}

static int strategy_needs_student(dg_acq_kind k)
{
    return k == DG_ACQ_LEAST_CONFIDENCE || k == DG_ACQ_MARGIN || k == DG_ACQ_ENTROPY ||
           k == DG_ACQ_STUDENT_KL || k == DG_ACQ_GRADIENT_CONFLICT;
}

static int strategy_needs_teachers(dg_acq_kind k)
{
    return k == DG_ACQ_VOTE_ENTROPY || k == DG_ACQ_CONSENSUS_KL || k == DG_ACQ_STUDENT_KL ||
           k == DG_ACQ_GRADIENT_CONFLICT;
}

/* Checks what both the loop and the reference need; answers/truth out. */
static int check_inputs(const dg_dataset *pool, const dg_teachers *t, const dg_dataset *test,
                        const dg_al_opts *o, const int32_t **answers, const int32_t **truth,
                        dg_error *err)
{
    if (!pool || !test || !o)
        return dg__fail(err, DG_EINVAL, "active loop: expected a pool, a test set and options");
    *answers = o->answers ? o->answers : dg_dataset_labels(pool);
    *truth = o->test_labels ? o->test_labels : dg_dataset_labels(test);
    if (!*answers)
        return dg__fail(err, DG_EINVAL, "%s: the simulated annotator needs labels for the pool",
                        pool->source);
    if (!*truth)
        return dg__fail(err, DG_EINVAL, "%s: expected test labels to score the student",
                        test->source);
    if (test->X.cols != pool->X.cols || test->C > pool->C)
        return dg__fail(err, DG_EMISMATCH,
                        "%s has %lld features and %d classes, %s has %lld and %d", test->source,
                        (long long)test->X.cols, test->C, pool->source, (long long)pool->X.cols,
                        pool->C);
    if ((o->train.method != DG_CE || strategy_needs_teachers(o->strategy) || o->reliability) &&
        !t)
        return dg__fail(err, DG_EINVAL, "active loop: strategy %s%s needs teachers",
                        dg_acq_name(o->strategy),
                        o->train.method != DG_CE ? " with distillation" : "");
    if (t && (t->N != pool->X.rows || t->C != pool->C))
        return dg__fail(err, DG_EMISMATCH,
                        "teachers have %lld rows and %d classes, %s has %lld and %d",
                        (long long)t->N, t->C, pool->source, (long long)pool->X.rows, pool->C);
    for (int64_t n = 0; n < test->X.rows; n++)
        if ((*truth)[n] < -1 || (*truth)[n] >= pool->C)
            return dg__fail(err, DG_EINVAL, "%s: row %lld: expected a test label in [0, %d), "
                            "found %d", test->source, (long long)n + 1, pool->C, (*truth)[n]);
    return 0;
}

/* Everything one simulation allocates, freed together. */
typedef struct sim {
    int64_t N, D, S, Nt;
    int C, M;
    const int32_t *answers, *truth;
    unsigned char *blocked;  /* N: labelled or in the stop set (never picked) */
    int32_t *masked;         /* N: answers on labelled rows, -1 elsewhere */
    int64_t *stop;           /* S stop-set rows */
    float *stop_X;           /* (S, D) */
    float *stop_probs;       /* (S, C) */
    int32_t *pred, *prev;    /* S: this and the previous round's stop-set predictions */
    float *test_probs;       /* (Nt, C) */
    float *pool_probs;       /* (N, C), when the strategy or selection reads the student */
    float *teacher_probs;    /* (M, N, C), when scores or reliability read the teachers */
    int64_t *rows;           /* N: this round's training rows */
    int64_t *scratch;        /* N: unlabelled candidates for the KD draw */
    double *scores;          /* N */
    int64_t *picked;         /* K */
    float *embed;            /* (N, H), diverse selection only */
    int32_t *predicted;      /* N, balanced selection only */
    double *weights;         /* M */
    dg_teacher_reliability *rel; /* M */
} sim;

static void sim_free(sim *s)
{
    free(s->blocked);
    free(s->masked);
    free(s->stop);
    free(s->stop_X);
    free(s->stop_probs);
    free(s->pred);
    free(s->prev);
    free(s->test_probs);
    free(s->pool_probs);
    free(s->teacher_probs);
    free(s->rows);
    free(s->scratch);
    free(s->scores);
    free(s->picked);
    free(s->embed);
    free(s->predicted);
    free(s->weights);
    free(s->rel);
}

/* Allocates every buffer; the teachers' probabilities whenever there are
 * teachers, since the final reliability report reads them too. */
static int sim_alloc(sim *s, const dg_teachers *t, const dg_al_opts *o, dg_error *err)
{
    int need_pool = strategy_needs_student(o->strategy) || o->select != DG_SELECT_TOPK;
    size_t NC = (size_t)s->N * (size_t)s->C;

    s->blocked = dg__alloc((size_t)s->N, 1, 1, err);
    s->masked = dg__alloc((size_t)s->N, sizeof(int32_t), 0, err);
    s->stop = dg__alloc((size_t)(s->S ? s->S : 1), sizeof(int64_t), 0, err);
    s->stop_X = dg__alloc((size_t)(s->S ? s->S : 1) * (size_t)s->D, sizeof(float), 0, err);
    s->stop_probs = dg__alloc((size_t)(s->S ? s->S : 1) * (size_t)s->C, sizeof(float), 0, err);
    s->pred = dg__alloc((size_t)(s->S ? s->S : 1), sizeof(int32_t), 0, err);
    s->prev = dg__alloc((size_t)(s->S ? s->S : 1), sizeof(int32_t), 0, err);
    s->test_probs = dg__alloc((size_t)s->Nt * (size_t)s->C, sizeof(float), 0, err);
    s->rows = dg__alloc((size_t)s->N, sizeof(int64_t), 0, err);
    s->scratch = dg__alloc((size_t)s->N, sizeof(int64_t), 0, err);
    s->scores = dg__alloc((size_t)s->N, sizeof(double), 0, err);
    s->picked = dg__alloc((size_t)o->batch, sizeof(int64_t), 0, err);
    if (!s->blocked || !s->masked || !s->stop || !s->stop_X || !s->stop_probs || !s->pred ||
        !s->prev || !s->test_probs || !s->rows || !s->scratch || !s->scores || !s->picked)
        return DG_ENOMEM;
    if (need_pool && !(s->pool_probs = dg__alloc(NC, sizeof(float), 0, err)))
        return DG_ENOMEM;
    if (o->select == DG_SELECT_BALANCED &&
        !(s->predicted = dg__alloc((size_t)s->N, sizeof(int32_t), 0, err)))
        return DG_ENOMEM;
    if (t) {
        s->teacher_probs = dg__alloc((size_t)s->M * NC, sizeof(float), 0, err);
        s->weights = dg__alloc((size_t)s->M, sizeof(double), 0, err);
        s->rel = dg__alloc((size_t)s->M, sizeof *s->rel, 1, err);
        if (!s->teacher_probs || !s->weights || !s->rel)
            return DG_ENOMEM;
        for (int m = 0; m < s->M; m++)
            dg_teachers_probs(t, m, s->teacher_probs + (size_t)m * NC);
    }
    return 0;
}

/* Trains this round's student from scratch: the labelled rows, and with a
 * KD method also kd_rows unlabelled rows drawn with rng. */
static int train_round(sim *s, const dg_dataset *pool, const dg_teachers *t, const dg_al_opts *o,
                       const int64_t *labelled, int64_t n_labelled, int round, dg__rng *rng,
                       dg_model **model, dg_error *err)
{
    dg_distill_opts tr = o->train;
    int64_t n_rows = n_labelled;

    memcpy(s->rows, labelled, sizeof(int64_t) * (size_t)n_labelled);
    if (tr.method != DG_CE && o->kd_rows > 0) {
        int64_t n_free = 0, take;

        for (int64_t n = 0; n < s->N; n++)
            if (!s->blocked[n])
                s->scratch[n_free++] = n;
        take = o->kd_rows < n_free ? o->kd_rows : n_free;

        /* partial Fisher-Yates: the first `take` candidates become a
         * uniform sample without replacement */
        for (int64_t i = 0; i < take; i++) {
            int64_t j = i + (int64_t)dg__rng_below(rng, (uint64_t)(n_free - i));
            int64_t tmp = s->scratch[i];

            s->scratch[i] = s->scratch[j];
            s->scratch[j] = tmp;
            s->rows[n_rows++] = s->scratch[i];
        }
    }
    tr.rows = s->rows;
    tr.n_rows = n_rows;
    tr.labels = s->masked;
    tr.test = NULL;
    tr.checkpoint = NULL;
    tr.weights_log = NULL;
    tr.on_epoch = NULL;
    tr.epochs = (int)(((int64_t)o->steps * tr.batch + n_rows - 1) / n_rows);
    if (tr.epochs < 1)
        tr.epochs = 1;
    tr.seed = o->train.seed ^ dg__row_hash(o->seed, SALT_TRAIN, (uint64_t)round);
    return dg_distill(pool, tr.method == DG_CE ? NULL : t, &tr, model, err);
}

/* Share of test rows whose argmax matches the truth (rows with -1 skipped). */
static double test_accuracy(const float *probs, const int32_t *truth, int64_t Nt, int C)
{
    int64_t hits = 0, seen = 0;

    for (int64_t n = 0; n < Nt; n++) {
        if (truth[n] < 0)
            continue;
        seen++;
        hits += dg__argmax(probs + n * C, C) == truth[n];
    }
    return seen ? (double)hits / (double)seen : NAN;
}

/* Stop-set predictions, their mean and largest normalised entropy. */
static void stop_stats(sim *s, double *mean_u, double *max_u)
{
    double sum = 0.0, top = 0.0, lnC = log((double)s->C);

    for (int64_t i = 0; i < s->S; i++) {
        const float *p = s->stop_probs + i * s->C;
        double h = 0.0;

        for (int c = 0; c < s->C; c++)
            if (p[c] > 0.0f)
                h -= (double)p[c] * log((double)p[c]);
        h /= lnC;
        sum += h;
        top = h > top ? h : top;
        s->pred[i] = dg__argmax(p, s->C);
    }
    *mean_u = s->S ? sum / (double)s->S : NAN;
    *max_u = s->S ? top : NAN;
}

/* Scores the pool and picks up to K unblocked rows into s->picked. */
static int pick_batch(sim *s, const dg_model *model, const dg_dataset *pool, const dg_al_opts *o,
                      int round, int64_t K, int64_t *n_picked, dg_error *err)
{
    dg_acq_input in = dg_acq_defaults();
    dg_select_opts so = dg_select_defaults();
    int rc;

    if (s->pool_probs &&
        (rc = dg_model_predict_proba(model, pool->X.data, s->N, s->pool_probs, err)) != 0)
        return rc;
    if (o->reliability) {
        if ((rc = dg_teacher_reliability_eval(s->teacher_probs, s->M, s->N, s->C, s->masked,
                                              s->rel, err)) != 0)
            return rc;
        dg_reliability_weights(s->rel, s->M, s->C, s->weights);
        in.weights = s->weights;
    }
    in.N = s->N;
    in.C = s->C;
    in.student = s->pool_probs;
    in.M = s->teacher_probs ? s->M : 0;
    in.teachers = s->teacher_probs;
    in.temperature = o->train.temperature;
    in.seed = o->seed ^ dg__row_hash(o->seed, DG__SALT_RANDOM, (uint64_t)round);
    if ((rc = dg_acq_scores(o->strategy, &in, s->scores, err)) != 0)
        return rc;

    so.mode = o->select;
    so.seed = in.seed;
    so.labelled = s->blocked;
    so.features = pool->X.data;
    so.D = s->D;
    if (o->select == DG_SELECT_DIVERSE) {
        int64_t H = dg_model_embed_width(model);

        free(s->embed);
        s->embed = dg__alloc((size_t)s->N * (size_t)H, sizeof(float), 0, err);
        if (!s->embed)
            return DG_ENOMEM;
        if ((rc = dg_model_embed(model, pool->X.data, s->N, s->embed, err)) != 0)
            return rc;
        so.embedding = s->embed;
        so.H = H;
        so.pool = DIVERSE_POOL_FACTOR * K;
    }
    if (o->select == DG_SELECT_BALANCED) {
        for (int64_t n = 0; n < s->N; n++)
            s->predicted[n] = dg__argmax(s->pool_probs + n * s->C, s->C);
        so.predicted = s->predicted;
    }
    return dg_select_batch(s->scores, s->N, K, &so, s->picked, n_picked, err);
}

static int check_opts(const dg_dataset *pool, const dg_al_opts *o, dg_error *err)
{
    int64_t N = pool->X.rows;

    if (o->initial < 1 || o->batch < 1 || o->budget < o->initial)
        return dg__fail(err, DG_EINVAL,
                        "active loop: expected initial >= 1, batch >= 1 and budget >= initial, "
                        "got %lld, %lld and %lld", (long long)o->initial, (long long)o->batch,
                        (long long)o->budget);
    if (o->stop_rows < 0 || o->stop_rows + o->initial > N)
        return dg__fail(err, DG_EINVAL,
                        "%s: %lld rows cannot hold %lld stop-set rows and %lld initial labels",
                        pool->source, (long long)N, (long long)o->stop_rows,
                        (long long)o->initial);
    if (o->steps < 1 || o->kd_rows < 0 || o->kappa_rounds < 1)
        return dg__fail(err, DG_EINVAL,
                        "active loop: expected steps >= 1, kd_rows >= 0 and kappa_rounds >= 1");
    return 0;
}

int dg_al_simulate(const dg_dataset *pool, const dg_teachers *teachers, const dg_dataset *test,
                   const dg_al_opts *opts, dg_al_result *out, dg_error *err)
{
    sim s;
    dg__rng split, kd_rng;
    dg_model *model = NULL;
    int64_t *perm = NULL;
    int max_rounds, calm = 0, rc;

    dg__clear(err);
    memset(&s, 0, sizeof s);
    if (out)
        memset(out, 0, sizeof *out);
    if (!out)
        return dg__fail(err, DG_EINVAL, "dg_al_simulate: expected a result to fill");
    if ((rc = check_inputs(pool, teachers, test, opts, &s.answers, &s.truth, err)) != 0 ||
        (rc = check_opts(pool, opts, err)) != 0)
        return rc;
    s.N = pool->X.rows;
    s.D = pool->X.cols;
    s.C = pool->C;
    s.M = teachers ? teachers->M : 0;
    s.S = opts->stop_rows;
    s.Nt = test->X.rows;
    for (int64_t n = 0; n < s.N; n++)
        if (s.answers[n] < 0 || s.answers[n] >= s.C)
            return dg__fail(err, DG_EINVAL,
                            "%s: row %lld: the simulated annotator needs a label in [0, %d), "
                            "found %d", pool->source, (long long)n + 1, s.C, s.answers[n]);

    /* the largest number of rounds: the initial one, then one per batch */
    max_rounds = 1 + (int)((opts->budget - opts->initial + opts->batch - 1) / opts->batch);
    out->rounds = dg__alloc((size_t)max_rounds, sizeof *out->rounds, 1, err);
    out->labelled = dg__alloc((size_t)opts->budget, sizeof(int64_t), 0, err);
    perm = dg__alloc((size_t)s.N, sizeof(int64_t), 0, err);
    if (!out->rounds || !out->labelled || !perm ||
        (rc = sim_alloc(&s, teachers, opts, err)) != 0) {
        rc = rc ? rc : DG_ENOMEM;
        goto done;
    }

    /* the split: one shuffle of the pool gives the stop set, then the
     * initial labels, so every strategy of one seed starts alike */
    dg__rng_seed(&split, opts->seed ^ SALT_SPLIT);
    dg__rng_seed(&kd_rng, opts->seed ^ SALT_KD);
    for (int64_t n = 0; n < s.N; n++) {
        perm[n] = n;
        s.masked[n] = -1;
    }
    dg__rng_shuffle(&split, perm, s.N);
    for (int64_t i = 0; i < s.S; i++) {
        s.stop[i] = perm[i];
        s.blocked[perm[i]] = 1;
        memcpy(s.stop_X + i * s.D, pool->X.data + perm[i] * s.D, sizeof(float) * (size_t)s.D);
    }
    for (int64_t i = 0; i < opts->initial; i++) {
        int64_t r = perm[s.S + i];

        out->labelled[out->n_labelled++] = r;
        s.blocked[r] = 1;
        s.masked[r] = s.answers[r];
    }
    out->stop_kappa = out->stop_uncertainty = out->stop_budget = -1;

    for (int round = 0; round < max_rounds; round++) {
        dg_al_round *r = &out->rounds[round];
        double t0 = now_seconds();
        int64_t K, n_picked = 0;

        /* pass 1: retrain and score the student on the test set */
        if ((rc = train_round(&s, pool, teachers, opts, out->labelled, out->n_labelled, round,
                              &kd_rng, &model, err)) != 0 ||
            (rc = dg_model_predict_proba(model, test->X.data, s.Nt, s.test_probs, err)) != 0)
            goto done;
        r->round = round;
        r->labels = out->n_labelled;
        r->accuracy = test_accuracy(s.test_probs, s.truth, s.Nt, s.C);

        /* pass 2: the stopping rules read the stop set */
        r->kappa = NAN;
        r->uncertainty = r->max_uncertainty = NAN;
        if (s.S > 0) {
            int32_t *swap;

            if ((rc = dg_model_predict_proba(model, s.stop_X, s.S, s.stop_probs, err)) != 0)
                goto done;
            stop_stats(&s, &r->uncertainty, &r->max_uncertainty);
            if (round > 0)
                r->kappa = dg_cohen_kappa(s.pred, s.prev, s.S, s.C);
            calm = r->kappa >= opts->kappa_threshold ? calm + 1 : 0;
            if (calm >= opts->kappa_rounds && out->stop_kappa < 0)
                out->stop_kappa = round;
            if (r->uncertainty <= opts->uncertainty_threshold && out->stop_uncertainty < 0)
                out->stop_uncertainty = round;
            swap = s.prev;
            s.prev = s.pred;
            s.pred = swap;
        }
        out->n_rounds = round + 1;

        /* pass 3: the next batch, unless the budget is spent */
        K = opts->budget - out->n_labelled < opts->batch ? opts->budget - out->n_labelled
                                                          : opts->batch;
        if (K > 0 && (rc = pick_batch(&s, model, pool, opts, round, K, &n_picked, err)) != 0)
            goto done;
        for (int64_t i = 0; i < n_picked; i++) {
            int64_t row = s.picked[i];

            out->labelled[out->n_labelled++] = row;
            s.blocked[row] = 1;
            s.masked[row] = s.answers[row];
        }
        dg_model_free(model);
        model = NULL;
        r->seconds = now_seconds() - t0;
        if (opts->on_round)
            opts->on_round(r, opts->on_round_user);
        if (n_picked == 0)
            break;
    }
    out->stop_budget = out->n_rounds - 1;

    /* the teachers against the answers on every labelled row */
    if (s.teacher_probs) {
        out->M = s.M;
        out->reliability = dg__alloc((size_t)s.M, sizeof *out->reliability, 1, err);
        if (!out->reliability) {
            rc = DG_ENOMEM;
            goto done;
        }
        rc = dg_teacher_reliability_eval(s.teacher_probs, s.M, s.N, s.C, s.masked,
                                         out->reliability, err);
    }

done:
    dg_model_free(model);
    free(perm);
    sim_free(&s);
    if (rc != 0)
        dg_al_result_free(out);
    return rc;
}

int dg_al_reference(const dg_dataset *pool, const dg_teachers *teachers, const dg_dataset *test,
                    const dg_al_opts *opts, double *accuracy, dg_error *err)
{
    const int32_t *answers, *truth;
    dg_distill_opts tr;
    dg_model *model = NULL;
    float *probs;
    int rc;

    dg__clear(err);
    if ((rc = check_inputs(pool, teachers, test, opts, &answers, &truth, err)) != 0)
        return rc;
    probs = dg__alloc((size_t)test->X.rows * (size_t)pool->C, sizeof(float), 0, err);
    if (!probs)
        return DG_ENOMEM;
    tr = opts->train;
    tr.rows = NULL;
    tr.labels = answers;
    tr.test = NULL;
    tr.checkpoint = NULL;
    tr.weights_log = NULL;
    tr.on_epoch = NULL;
    tr.seed = opts->train.seed ^ dg__row_hash(opts->seed, SALT_TRAIN, 0);
    rc = dg_distill(pool, tr.method == DG_CE ? NULL : teachers, &tr, &model, err);
    if (rc == 0)
        rc = dg_model_predict_proba(model, test->X.data, test->X.rows, probs, err);
    if (rc == 0)
        *accuracy = test_accuracy(probs, truth, test->X.rows, pool->C);
    dg_model_free(model);
    free(probs);
    return rc;
}
