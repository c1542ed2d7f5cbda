/* The training loop: shuffled minibatches of the training rows, the
 * student's forward pass, the teacher weighting and loss (distill.h), the
 * backward pass and an optimizer step. Reports every epoch, checkpoints
 * atomically, and resumes bit-identically from a checkpoint.
 *
 * Legend: N training rows, D features, C classes, M teachers, B batch.
 */
#include "distill/distill.h"
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#define CKPT_MAGIC "DGCKPT\0\0"
#define CKPT_VERSION 2u

dg_distill_opts dg_distill_defaults(void)
{
    dg_distill_opts o;

    memset(&o, 0, sizeof o);
    o.method = DG_AEKD;
    o.temperature = 4.0;
    o.alpha = 0.9;
    o.gamma = 1.0;
    o.tolerance = 0.6;
    /* Chosen on validation data (bench/aekd/): the whole-batch gradient on
     * unit-norm summaries beat the official batch mean at every setting. */
    o.aekd_grad = DG_AEKD_FULL;
    o.aekd_normalize = 1;
    o.hidden[0] = 128;
    o.n_hidden = 1;
    o.epochs = 10;
    o.batch = 64;
    o.optimizer = DG_SGD;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 5e-4;
    o.schedule = DG_LR_COSINE;
    o.step_every = 10;
    o.step_gamma = 0.1;
    o.seed = 1;
    return o;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The run's class count: the teachers' when there are teachers (labels
 * may leave classes out, or be absent), else the data's. */
static int classes_of(const dg_dataset *train, const dg_teachers *t)
{
    return t ? t->C : train->C;
}

/* Checks every option against the data; M is 0 without teachers. */
static int check_opts(const dg_dataset *train, const dg_teachers *t, const dg_distill_opts *o,
                      dg_error *err)
{
    int64_t N = train->X.rows;
    int M = t ? t->M : 0;

    if (!(o->temperature > 0.0) || !isfinite(o->temperature))
        return dg__fail(err, DG_EINVAL, "temperature must be > 0, got %g", o->temperature);
    if (!(o->alpha >= 0.0) || !(o->gamma >= 0.0) || !isfinite(o->alpha) || !isfinite(o->gamma))
        return dg__fail(err, DG_EINVAL, "alpha and gamma must be >= 0, got %g and %g", o->alpha,
                        o->gamma);
    if (o->epochs < 1)
        return dg__fail(err, DG_EINVAL, "epochs must be >= 1, got %d", o->epochs);
    if (o->batch < 1)
        return dg__fail(err, DG_EINVAL, "batch must be >= 1, got %d", o->batch);
    if (!(o->lr > 0.0) || !isfinite(o->lr))
        return dg__fail(err, DG_EINVAL, "learning rate must be > 0, got %g", o->lr);
    if (!(o->momentum >= 0.0 && o->momentum < 1.0) ||
        !(o->weight_decay >= 0.0 && isfinite(o->weight_decay)))
        return dg__fail(err, DG_EINVAL,
                        "momentum must be in [0, 1) and weight decay >= 0, got %g and %g",
                        o->momentum, o->weight_decay);
    if (o->n_hidden < 0 || o->n_hidden > DG_MAX_LAYERS - 1)
        return dg__fail(err, DG_EINVAL, "between 0 and %d hidden layers, got %d", DG_MAX_LAYERS - 1,
                        o->n_hidden);
    for (int l = 0; l < o->n_hidden; l++)
        if (o->hidden[l] < 1)
            return dg__fail(err, DG_EINVAL, "hidden layer %d has size %d, expected >= 1", l + 1,
                            o->hidden[l]);
    if (o->schedule == DG_LR_STEP && (o->step_every < 1 || !(o->step_gamma > 0.0)))
        return dg__fail(err, DG_EINVAL, "step schedule needs step_every >= 1 and gamma > 0");
    if (o->method == DG_CE && train->y.n == 0 && !o->labels)
        return dg__fail(err, DG_EINVAL,
                        "%s has no labels, and method 'ce' trains on labels alone: give labels "
                        "(--labels, or --label-column for CSV) or teachers",
                        train->source);
    if (o->method != DG_CE && !t)
        return dg__fail(err, DG_EINVAL, "method needs teachers; only 'ce' trains without");
    if (t && t->N != N)
        return dg__fail(err, DG_EMISMATCH, "teachers have %lld rows but %s has %lld",
                        (long long)t->N, train->source, (long long)N);
    if (t && train->C > t->C)
        return dg__fail(err, DG_EMISMATCH,
                        "labels of %s go up to class %d but the teachers have %d classes "
                        "(0..%d)",
                        train->source, train->C - 1, t->C, t->C - 1);
    if (o->method == DG_AEKD && !(o->tolerance >= 1.0 / M - 1e-12 && o->tolerance <= 1.0))
        return dg__fail(err, DG_EINVAL,
                        "tolerance must be in [1/M, 1] = [%.4g, 1] for %d teachers, got %g",
                        1.0 / M, M, o->tolerance);
    if (o->rows)
        for (int64_t i = 0; i < o->n_rows; i++)
            if (o->rows[i] < 0 || o->rows[i] >= N)
                return dg__fail(err, DG_EINVAL, "training row id %lld outside [0, %lld)",
                                (long long)o->rows[i], (long long)N);
    if (o->test && (o->test->X.cols != train->X.cols || o->test->C > classes_of(train, t)))
        return dg__fail(err, DG_EMISMATCH,
                        "test set %s has %lld features and %d classes, %s has %lld and %d",
                        o->test->source, (long long)o->test->X.cols, o->test->C, train->source,
                        (long long)train->X.cols, classes_of(train, t));
    if (o->rows && o->n_rows < 1)
        return dg__fail(err, DG_EINVAL, "no training rows selected");
    if (o->teacher_prior && t) {
        double sum = 0.0;

        for (int m = 0; m < M; m++) {
            if (!(o->teacher_prior[m] >= 0.0 && isfinite(o->teacher_prior[m])))
                return dg__fail(err, DG_EINVAL,
                                "teacher %d's prior weight is %g, expected a "
                                "finite number >= 0",
                                m + 1, o->teacher_prior[m]);
            sum += o->teacher_prior[m];
        }
        if (!(sum > 0.0))
            return dg__fail(err, DG_EINVAL, "teacher prior weights are all 0");
    }
    if (o->labels)
        for (int64_t n = 0; n < N; n++)
            if (o->labels[n] < -1 || o->labels[n] >= classes_of(train, t))
                return dg__fail(err, DG_EINVAL, "label %d at row %lld outside [0, %d)",
                                o->labels[n], (long long)n + 1, classes_of(train, t));
    return 0;
}

/* ------------------------------------------------------------------------
 * Checkpoints: magic, version, sizes, the epochs done, the shuffling RNG,
 * the parameters and the optimizer's moments, then a CRC-32 of it all.
 * Enough to continue so that the result is bit-identical to a run that was
 * never interrupted.
 */

typedef struct ckpt_state {
    int epochs_done;
    dg__rng rng;
    uint64_t fingerprint; /* of the options and data a run's result depends on */
} ckpt_state;

static uint64_t fnv_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* A 64-bit FNV-1a of everything a run's weights depend on besides the data
 * values: a checkpoint resumes only a run with the same fingerprint, since
 * continuing under another seed, schedule, method or thread count (the
 * threads' shares are summed in their order) would silently give a hybrid
 * of two runs. */
static uint64_t run_fingerprint(const dg_distill_opts *o, int64_t N, int64_t n_rows, int C, int M,
                                int team)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int ints[] = {team,
                  (int)o->method,
                  (int)o->aekd_grad,
                  o->aekd_normalize,
                  o->n_hidden,
                  o->epochs,
                  o->batch,
                  (int)o->optimizer,
                  (int)o->schedule,
                  o->step_every,
                  C,
                  M,
                  o->teacher_prior != NULL};
    double reals[] = {o->temperature, o->alpha,    o->gamma,        o->tolerance,
                      o->lr,          o->momentum, o->weight_decay, o->step_gamma};

    h = fnv_mix(h, ints, sizeof ints);
    h = fnv_mix(h, reals, sizeof reals);
    h = fnv_mix(h, o->hidden, sizeof(int) * (size_t)o->n_hidden);
    h = fnv_mix(h, &o->seed, sizeof o->seed);
    h = fnv_mix(h, &N, sizeof N);
    h = fnv_mix(h, &n_rows, sizeof n_rows);
    if (o->teacher_prior)
        h = fnv_mix(h, o->teacher_prior, sizeof(double) * (size_t)M);
    if (o->rows)
        h = fnv_mix(h, o->rows, sizeof(int64_t) * (size_t)n_rows);
    if (o->labels)
        h = fnv_mix(h, o->labels, sizeof(int32_t) * (size_t)N);
    return h;
}

/* zlib's CRC-32 over any length (zlib takes at most uInt bytes a call). */
static uint32_t crc_update(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;

        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return crc;
}

static int write_all(FILE *fp, const void *p, size_t n, uint32_t *crc)
{
    *crc = crc_update(*crc, p, n);
    return fwrite(p, 1, n, fp) == n ? 0 : -1;
}

static int ckpt_save(const char *path, const dg_model *m, const dg__optim *opt,
                     const ckpt_state *st, dg_error *err)
{
    dg__outfile out;
    uint32_t crc = 0, version = CKPT_VERSION;
    int64_t n = m->n_params, t = opt->t;
    int rc = 0;
    int has_m2 = opt->m2 != NULL;

    if ((rc = dg__out_open(&out, path, err)) != 0)
        return rc;
    rc |= write_all(out.fp, CKPT_MAGIC, 8, &crc);
    rc |= write_all(out.fp, &version, sizeof version, &crc);
    rc |= write_all(out.fp, &n, sizeof n, &crc);
    rc |= write_all(out.fp, &st->fingerprint, sizeof st->fingerprint, &crc);
    rc |= write_all(out.fp, &st->epochs_done, sizeof st->epochs_done, &crc);
    rc |= write_all(out.fp, st->rng.s, sizeof st->rng.s, &crc);
    rc |= write_all(out.fp, &t, sizeof t, &crc);
    rc |= write_all(out.fp, &has_m2, sizeof has_m2, &crc);
    rc |= write_all(out.fp, m->params, sizeof(float) * (size_t)n, &crc);
    rc |= write_all(out.fp, opt->m1, sizeof(float) * (size_t)n, &crc);
    if (has_m2)
        rc |= write_all(out.fp, opt->m2, sizeof(float) * (size_t)n, &crc);
    if (rc != 0 || fwrite(&crc, sizeof crc, 1, out.fp) != 1) {
        dg__out_abort(&out);
        return dg__fail(err, DG_EIO, "%s: cannot write checkpoint", path);
    }
    return dg__out_commit(&out, err);
}

static int read_all(FILE *fp, void *p, size_t n, uint32_t *crc)
{
    if (fread(p, 1, n, fp) != n)
        return -1;
    *crc = crc_update(*crc, p, n);
    return 0;
}

/* Loads a checkpoint written by a run whose fingerprint equals
 * st->fingerprint (the caller's); fills m, opt and st only on success. */
static int ckpt_load(const char *path, dg_model *m, dg__optim *opt, ckpt_state *st, dg_error *err)
{
    FILE *fp = fopen(path, "rb");
    char magic[8];
    uint32_t crc = 0, version = 0, stored = 0;
    int64_t n = 0, t = 0;
    int has_m2 = 0, rc = 0;
    float *scratch;
    ckpt_state got;

    if (!fp)
        return dg__fail(err, DG_EIO, "%s: cannot open checkpoint", path);
    rc |= read_all(fp, magic, 8, &crc);
    rc |= read_all(fp, &version, sizeof version, &crc);
    rc |= read_all(fp, &n, sizeof n, &crc);
    if (rc || memcmp(magic, CKPT_MAGIC, 8) != 0 || version != CKPT_VERSION) {
        fclose(fp);
        return dg__fail(err, DG_EFORMAT, "%s: not a disagree checkpoint (version %u)", path,
                        CKPT_VERSION);
    }
    if (n != m->n_params) {
        fclose(fp);
        return dg__fail(err, DG_EMISMATCH,
                        "%s: checkpoint holds %lld parameters, this run's model has %lld", path,
                        (long long)n, (long long)m->n_params);
    }
    /* Everything is read into scratch and taken only once the checksum
     * matches, so a bad file leaves the caller's model untouched. */
    scratch = dg__alloc((size_t)n * 3, sizeof(float), 0, err);
    if (!scratch) {
        fclose(fp);
        return DG_ENOMEM;
    }
    rc |= read_all(fp, &got.fingerprint, sizeof got.fingerprint, &crc);
    rc |= read_all(fp, &got.epochs_done, sizeof got.epochs_done, &crc);
    rc |= read_all(fp, got.rng.s, sizeof got.rng.s, &crc);
    rc |= read_all(fp, &t, sizeof t, &crc);
    rc |= read_all(fp, &has_m2, sizeof has_m2, &crc);
    if (!rc && has_m2 != (opt->m2 != NULL))
        rc = -1;
    for (int k = 0; !rc && k < (has_m2 ? 3 : 2); k++)
        rc |= read_all(fp, scratch + (size_t)k * (size_t)n, sizeof(float) * (size_t)n, &crc);
    if (!rc && fread(&stored, sizeof stored, 1, fp) != 1)
        rc = -1;
    fclose(fp);
    if (rc)
        rc = dg__fail(err, DG_EFORMAT, "%s: checkpoint truncated or made by another optimizer",
                      path);
    else if (stored != crc)
        rc = dg__fail(err, DG_EFORMAT, "%s: checkpoint checksum mismatch: file is corrupted", path);
    else if (got.fingerprint != st->fingerprint)
        rc = dg__fail(err, DG_EMISMATCH,
                      "%s: checkpoint comes from a run with other options, data or thread "
                      "count; resume with the same ones (--threads included), or remove it to "
                      "start afresh",
                      path);
    else if (got.epochs_done < 0 || t < 0)
        rc = dg__fail(err, DG_EFORMAT, "%s: checkpoint at epoch %d, expected >= 0", path,
                      got.epochs_done);
    if (rc == 0) {
        memcpy(m->params, scratch, sizeof(float) * (size_t)n);
        memcpy(opt->m1, scratch + n, sizeof(float) * (size_t)n);
        if (has_m2)
            memcpy(opt->m2, scratch + 2 * n, sizeof(float) * (size_t)n);
        opt->t = t;
        *st = got;
    }
    free(scratch);
    return rc;
}

/* ------------------------------------------------------------------------
 * The loop
 */

typedef struct train_bufs {
    dg__mlp_work mlp;
    dg__kd_work kd;
    float *xb;             /* (B, D) gathered batch */
    int32_t *yb;           /* (B) */
    float *q;              /* (M, B, C) softened targets */
    unsigned char *pres;   /* (M, B) */
    float *dz;             /* (B, C) */
    double *w;             /* (M) batch weights */
    double *wsum;          /* (M) epoch weight sums */
    int64_t *order;        /* (n_rows) */
    double *hq;            /* (M, B) sum_c q ln q of each target in the batch */
    float *qcache;         /* (N, M, C) every row's softened targets, made once */
    double *hcache;        /* (N, M) their sum_c q ln q, made once */
    unsigned char *pcache; /* (N, M) whether teacher m answered row n */
} train_bufs;

static void bufs_free(train_bufs *b)
{
    dg__mlp_work_free(&b->mlp);
    dg__kd_work_free(&b->kd);
    free(b->xb);
    free(b->yb);
    free(b->q);
    free(b->pres);
    free(b->dz);
    free(b->w);
    free(b->wsum);
    free(b->order);
    free(b->hq);
    free(b->qcache);
    free(b->hcache);
    free(b->pcache);
    memset(b, 0, sizeof *b);
}

static int bufs_init(train_bufs *b, const dg_model *m, int64_t B, int64_t D, int C, int M,
                     int64_t n_rows, int parts, dg_error *err)
{
    int Mq = M > 0 ? M : 1;

    memset(b, 0, sizeof *b);
    if (dg__mlp_work_init(&b->mlp, m, B, err) != 0 ||
        dg__kd_work_init_parts(&b->kd, B, C, Mq, parts, err) != 0)
        return err ? err->code : DG_ENOMEM;
    b->xb = dg__alloc((size_t)(B * D), sizeof(float), 0, err);
    b->yb = dg__alloc((size_t)B, sizeof(int32_t), 0, err);
    b->q = dg__alloc((size_t)(Mq * B * C), sizeof(float), 1, err);
    b->pres = dg__alloc((size_t)(Mq * B), 1, 1, err);
    b->hq = dg__alloc((size_t)(Mq * B), sizeof(double), 1, err);
    b->dz = dg__alloc((size_t)(B * C), sizeof(float), 0, err);
    b->w = dg__alloc((size_t)Mq, sizeof(double), 1, err);
    b->wsum = dg__alloc((size_t)Mq, sizeof(double), 1, err);
    b->order = dg__alloc((size_t)n_rows, sizeof(int64_t), 0, err);
    if (!b->xb || !b->yb || !b->q || !b->pres || !b->hq || !b->dz || !b->w || !b->wsum || !b->order)
        return DG_ENOMEM;
    return 0;
}

/* Rows softened at a time while filling the caches. */
#define CACHE_CHUNK 1024

/* Softening every teacher's outputs once for the run instead of once per
 * batch per epoch: the exp per element dominated small students' steps
 * (36% of a 784-128-10 AE-KD step with 20 teachers). Laid out row by row,
 * so that a batch row's targets from all teachers are one run of memory
 * (teacher by teacher, a 20-teacher batch gather missed the cache 20 times
 * a row). */
int dg__targets_cache(const dg_teachers *t, int M, double T, int team, float **qcache,
                      double **hcache, unsigned char **pcache, dg_error *err)
{
    int64_t N = t->N, C = t->C;
    int64_t *rows = dg__alloc((size_t)team * CACHE_CHUNK, sizeof(int64_t), 0, err);
    float *q = dg__alloc((size_t)team * CACHE_CHUNK * (size_t)C, sizeof(float), 0, err);
    unsigned char *here = dg__alloc((size_t)team * CACHE_CHUNK, 1, 0, err);
    int rc = 0;

    float *qc = *qcache = dg__alloc((size_t)(M * N * C), sizeof(float), 0, err);
    double *hc = *hcache = dg__alloc((size_t)(M * N), sizeof(double), 0, err);
    unsigned char *pc = *pcache = dg__alloc((size_t)(M * N), 1, 0, err);

    if (!rows || !q || !here || !qc || !hc || !pc) {
        rc = DG_ENOMEM;
        goto done;
    }
    /* chunks of rows shared among the run's threads, each with its own
     * scratch and flushing subnormals as the caller does; every value
     * depends on its row alone */
#pragma omp parallel num_threads(team) if (team > 1)
    {
        int part = omp_get_thread_num();
        unsigned int fpu = part > 0 ? dg__flush_subnormals_begin() : 0;
        int64_t *rows_t = rows + (size_t)part * CACHE_CHUNK;
        float *q_t = q + (size_t)part * CACHE_CHUNK * (size_t)C;
        unsigned char *here_t = here + (size_t)part * CACHE_CHUNK;

#pragma omp for schedule(static)
        for (int64_t n0 = 0; n0 < N; n0 += CACHE_CHUNK) {
            int64_t len = N - n0 < CACHE_CHUNK ? N - n0 : CACHE_CHUNK;

            for (int64_t r = 0; r < len; r++)
                rows_t[r] = n0 + r;
            for (int m = 0; m < M; m++) {
                dg__teacher_soften(t, m, rows_t, len, T, q_t, here_t);
                for (int64_t r = 0; r < len; r++) {
                    int64_t slot = (n0 + r) * M + m;
                    const float *q_r = q_t + r * C;
                    double h = 0.0;

                    /* and each target's sum q ln q, the part of its KL
                     * that does not change with the student: each
                     * batch's KL then takes no log */
                    for (int64_t c = 0; c < C; c++) {
                        qc[slot * C + c] = q_r[c];
                        h += q_r[c] > 0.0f ? (double)q_r[c] * log((double)q_r[c]) : 0.0;
                    }
                    hc[slot] = h;
                    pc[slot] = here_t[r];
                }
            }
        }
        if (part > 0)
            dg__flush_subnormals_end(fpu);
    }
done:
    free(rows);
    free(q);
    free(here);
    return rc;
}

/* Accuracy of the model on a labelled dataset, in chunks of the batch
 * buffers already allocated (no allocation per call). NaN without labels. */
static double accuracy_on(const dg_model *m, const dg_dataset *ds, train_bufs *b, int team)
{
    int64_t N = ds->X.rows, D = ds->X.cols, cap = b->mlp.cap, hits = 0, seen = 0;
    int C = (int)m->sizes[m->n_layers];

    if (ds->y.n == 0)
        return NAN;
    for (int64_t start = 0; start < N; start += cap) {
        int64_t rows = N - start < cap ? N - start : cap;
        const float *z = b->mlp.acts[m->n_layers - 1];

        /* the run's threads split each chunk, as in training */
#pragma omp parallel num_threads(team) if (team > 1)
        {
            int part = omp_get_thread_num();
            unsigned int fpu = part > 0 ? dg__flush_subnormals_begin() : 0;

            dg__mlp_forward_part(m, ds->X.data + start * D, rows, &b->mlp, part,
                                 omp_get_num_threads());
            if (part > 0)
                dg__flush_subnormals_end(fpu);
        }

        for (int64_t r = 0; r < rows; r++) {
            int32_t y = ds->y.data[start + r];

            if (y < 0)
                continue;
            seen++;
            hits += dg__argmax(z + r * C, C) == y;
        }
    }
    return seen ? (double)hits / (double)seen : NAN;
}

static int log_weights_header(FILE *fp, int M)
{
    fprintf(fp, "epoch,batch");
    for (int m = 0; m < M; m++)
        fprintf(fp, ",w%d", m);
    return fputc('\n', fp) == EOF ? -1 : 0;
}

static int run(dg_model *model, const dg_dataset *train, const dg_teachers *t,
               const dg_distill_opts *o, dg_error *err)
{
    int64_t N = train->X.rows, D = train->X.cols;
    int C = classes_of(train, o->method != DG_CE ? t : NULL);
    int M = (t && o->method != DG_CE) ? t->M : 0;
    int64_t n_rows = o->rows ? o->n_rows : N;
    int64_t B = o->batch < n_rows ? o->batch : n_rows;
    const int32_t *labels = o->labels ? o->labels : (train->y.n ? train->y.data : NULL);
    train_bufs b;
    dg__optim opt;
    ckpt_state st;
    dg__outfile wlog;
    int rc, have_wlog = 0, team, blas_threads, dynamic;
    double *mean_w = NULL;
    unsigned int fpu;

    if (model->sizes[0] != D || model->sizes[model->n_layers] != C)
        return dg__fail(err, DG_EMISMATCH,
                        "model takes %lld inputs and %lld classes, %s has %lld and %d",
                        (long long)model->sizes[0], (long long)model->sizes[model->n_layers],
                        train->source, (long long)D, C);
    if (o->method == DG_CE && !labels)
        return dg__fail(err, DG_EINVAL, "%s: method 'ce' needs labels", train->source);
    if (o->threads > 0) {
        openblas_set_num_threads(o->threads);
        omp_set_num_threads(o->threads);
    }
    /* The run's threads share each step as a team, each calling OpenBLAS
     * on its own part at one thread: two threads then train the 784-512-
     * 256-10 MLP about 1.6x as fast as one, where OpenBLAS's own threads on
     * the whole step's products gave 1.3x (its small products scale
     * poorly, and the loss and optimizer stayed serial). */
    team = omp_get_max_threads();
    blas_threads = openblas_get_num_threads();
    if (team > 1)
        openblas_set_num_threads(1);
    /* every region gets the whole team, whatever the load (OMP_DYNAMIC
     * would let libgomp shrink it, and the results depend on its size) */
    dynamic = omp_get_dynamic();
    omp_set_dynamic(0);
    fpu = dg__flush_subnormals_begin();

    memset(&opt, 0, sizeof opt);
    if ((rc = bufs_init(&b, model, B, D, C, M, n_rows, team, err)) != 0 ||
        (M > 0 && (rc = dg__targets_cache(t, M, o->temperature, team, &b.qcache, &b.hcache,
                                          &b.pcache, err)) != 0) ||
        (rc = dg__optim_init(&opt, o->optimizer, model->n_params, o->momentum, o->weight_decay,
                             err)) != 0)
        goto done;
    mean_w = dg__alloc((size_t)(M > 0 ? M : 1), sizeof(double), 1, err);
    if (!mean_w) {
        rc = DG_ENOMEM;
        goto done;
    }

    st.epochs_done = 0;
    dg__rng_seed(&st.rng, o->seed ^ 0x5eed5eed5eedULL);
    st.fingerprint = run_fingerprint(o, N, n_rows, C, M, team);
    if (o->checkpoint && o->resume) {
        struct stat sb;

        if (stat(o->checkpoint, &sb) == 0 &&
            (rc = ckpt_load(o->checkpoint, model, &opt, &st, err)) != 0)
            goto done;
        if (st.epochs_done > o->epochs) {
            rc = dg__fail(err, DG_EINVAL, "%s: checkpoint is at epoch %d, past --epochs %d",
                          o->checkpoint, st.epochs_done, o->epochs);
            goto done;
        }
    }
    if (o->weights_log) {
        /* Limit: a resumed run's weights log holds only the epochs it ran. */
        if ((rc = dg__out_open(&wlog, o->weights_log, err)) != 0)
            goto done;
        have_wlog = 1;
        log_weights_header(wlog.fp, M);
    }

    for (int epoch = st.epochs_done; epoch < o->epochs; epoch++) {
        double t0 = now_seconds(), loss_sum = 0.0, lr = dg__lr_at(o, epoch);
        int64_t hits = 0, seen = 0, n_batches = 0;
        dg_epoch_report rep;

        /* pass 1: this epoch's order, drawn from the run's RNG so that a
         * resumed run draws exactly what an uninterrupted one would */
        for (int64_t i = 0; i < n_rows; i++)
            b.order[i] = o->rows ? o->rows[i] : i;
        dg__rng_shuffle(&st.rng, b.order, n_rows);
        memset(b.wsum, 0, sizeof(double) * (size_t)(M > 0 ? M : 1));

        for (int64_t start = 0; start < n_rows; start += B, n_batches++) {
            int64_t rows = n_rows - start < B ? n_rows - start : B;
            const int64_t *idx = b.order + start;
            const float *z;
            dg__kd_batch kb;
            double loss;
            int kd_rc;

            /* passes 2-3, shared among the run's threads: each gathers its
             * own rows of the batch; the forward pass, the loss gradient and
             * the backward pass with the optimizer step are split as
             * dg__mlp_forward_part, dg__kd_step_part and
             * dg__mlp_backward_part say. */
            kb.B = rows;
            kb.C = C;
            kb.M = M;
            kb.z = b.mlp.acts[model->n_layers - 1];
            kb.y = b.yb;
            kb.q = b.q;
            kb.present = b.pres;
            kb.qlogq = b.hq;
            kd_rc = 0;
            loss = 0.0;
#pragma omp parallel num_threads(team) if (team > 1)
            {
                int part = omp_get_thread_num(), parts = omp_get_num_threads(), rc_part;
                int64_t r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
                /* every thread flushes subnormals, as the caller's does:
                 * the same bits whichever thread computes a part */
                unsigned int fpu_part = part > 0 ? dg__flush_subnormals_begin() : 0;

                /* pass 2: gather the rows' features, labels and targets */
                for (int64_t r = r0; r < r1; r++) {
                    memcpy(b.xb + r * D, train->X.data + idx[r] * D, sizeof(float) * (size_t)D);
                    b.yb[r] = labels ? labels[idx[r]] : -1;
                }
                for (int64_t r = r0; r < r1; r++)
                    for (int m = 0; m < M; m++) {
                        int64_t from = idx[r] * M + m, to = (int64_t)m * rows + r;

                        for (int c = 0; c < C; c++)
                            b.q[to * C + c] = b.qcache[from * C + c];
                        b.pres[to] = b.pcache[from];
                        b.hq[to] = b.hcache[from];
                    }

                    /* pass 3: forward (every part reads all rows of the batch),
                     * weighting and loss gradient, backward, step */
#pragma omp barrier
                dg__mlp_forward_part(model, b.xb, rows, &b.mlp, part, parts);
#pragma omp barrier
                rc_part = dg__kd_step_part(&kb, o, &b.kd, b.dz, &loss, b.w, err, part, parts);
                if (part == 0)
                    kd_rc = rc_part;
                if (rc_part == 0 && isfinite(loss))
                    dg__mlp_backward_part(model, b.xb, rows, b.dz, &b.mlp, part, parts, &opt,
                                          opt.t + 1, lr);
                if (part > 0)
                    dg__flush_subnormals_end(fpu_part);
            }
            z = kb.z;
            if ((rc = kd_rc) != 0) {
                char why[DG_ERROR_MSG];

                snprintf(why, sizeof why, "%s", err ? err->msg : "");
                rc = dg__fail(err, rc, "training stopped at epoch %d, batch %lld: %s%s%s",
                              epoch + 1, (long long)n_batches + 1, why,
                              rc == DG_ENUMERIC ? "; try a smaller learning rate" : "",
                              rc == DG_ENUMERIC && o->checkpoint && st.epochs_done > 0
                                  ? " (last good checkpoint kept)"
                                  : "");
                goto done;
            }
            if (!isfinite(loss)) {
                rc = dg__fail(err, DG_ENUMERIC,
                              "training diverged: loss is %g at epoch %d, batch %lld; "
                              "try a smaller learning rate%s",
                              loss, epoch + 1, (long long)n_batches + 1,
                              o->checkpoint && st.epochs_done > 0 ? " (last good checkpoint kept)"
                                                                  : "");
                goto done;
            }
            opt.t++;

            loss_sum += loss;
            for (int64_t r = 0; r < rows; r++)
                if (b.yb[r] >= 0) {
                    seen++;
                    hits += dg__argmax(z + r * C, C) == b.yb[r];
                }
            for (int m = 0; m < M; m++)
                b.wsum[m] += b.w[m];
            if (have_wlog) {
                fprintf(wlog.fp, "%d,%lld", epoch + 1, (long long)n_batches + 1);
                for (int m = 0; m < M; m++)
                    fprintf(wlog.fp, ",%.6g", b.w[m]);
                fputc('\n', wlog.fp);
            }
        }

        /* pass 4: report, then checkpoint the finished epoch */
        for (int m = 0; m < M; m++)
            mean_w[m] = b.wsum[m] / (double)n_batches;
        rep.epoch = epoch + 1;
        rep.loss = loss_sum / (double)n_batches;
        rep.train_acc = seen ? (double)hits / (double)seen : NAN;
        rep.test_acc = o->test ? accuracy_on(model, o->test, &b, team) : NAN;
        rep.seconds = now_seconds() - t0;
        rep.M = M;
        rep.mean_weight = mean_w;
        dg__info("epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.2fs", rep.epoch, rep.loss,
                 rep.train_acc, rep.test_acc, rep.seconds);
        if (o->on_epoch)
            o->on_epoch(&rep, o->on_epoch_user);
        st.epochs_done = epoch + 1;
        if (o->checkpoint && (rc = ckpt_save(o->checkpoint, model, &opt, &st, err)) != 0)
            goto done;
    }
    rc = 0;

done:
    omp_set_dynamic(dynamic);
    openblas_set_num_threads(blas_threads);
    dg__flush_subnormals_end(fpu);
    if (have_wlog) {
        if (rc == 0)
            rc = dg__out_commit(&wlog, err);
        else
            dg__out_abort(&wlog);
    }
    free(mean_w);
    dg__optim_free(&opt);
    bufs_free(&b);
    return rc;
}

int dg_distill_into(dg_model *model, const dg_dataset *train, const dg_teachers *teachers,
                    const dg_distill_opts *opts, dg_error *err)
{
    int rc;

    dg__clear(err);
    if (!model || !train || !opts)
        return dg__fail(err, DG_EINVAL, "dg_distill_into: model, data and options required");
    if ((rc = check_opts(train, opts->method == DG_CE ? NULL : teachers, opts, err)) != 0)
        return rc;
    return run(model, train, opts->method == DG_CE ? NULL : teachers, opts, err);
}

int dg_distill(const dg_dataset *train, const dg_teachers *teachers, const dg_distill_opts *opts,
               dg_model **out, dg_error *err)
{
    dg_model *model = NULL;
    int rc;

    dg__clear(err);
    *out = NULL;
    if (!train || !opts)
        return dg__fail(err, DG_EINVAL, "dg_distill: data and options required");
    if ((rc = check_opts(train, opts->method == DG_CE ? NULL : teachers, opts, err)) != 0)
        return rc;
    if ((rc = dg_mlp_create(train->X.cols, opts->hidden, opts->n_hidden,
                            classes_of(train, opts->method == DG_CE ? NULL : teachers), opts->seed,
                            &model, err)) != 0)
        return rc;
    if ((rc = run(model, train, opts->method == DG_CE ? NULL : teachers, opts, err)) != 0) {
        dg_model_free(model);
        return rc;
    }
    *out = model;
    return 0;
}
