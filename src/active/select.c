/* Batch selection for active learning: from N scored pool rows, the K rows
 * a person should label next, as the best scores (top-k), spread over an
 * embedding (diverse) or spread over the student's predicted classes
 * (balanced). Labelled rows, and exact copies of labelled or already
 * picked rows, are never picked.
 */
#include "active/active.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Legend: N pool rows, K rows to pick, D features, H embedding width.
 */

/* Balanced mode keeps a bucket per class id up to the largest one seen;
 * larger ids are an error rather than a huge allocation. */
#define MAX_CLASS_ID (1 << 20)
/* Diverse mode adds this share of the score range to every weight, so rows
 * at the lowest score still compete by distance among themselves (with all
 * scores equal the mode is plain farthest-first, not top-k). */
#define DIVERSE_WEIGHT_FLOOR 1e-6
/* Smallest hash table for duplicate detection (a power of two). */
#define DUPSET_MIN_CAP 16

static const char *const SELECT_NAMES[] = {"topk", "diverse", "balanced"};
#define SELECT_MODES ((int)(sizeof SELECT_NAMES / sizeof SELECT_NAMES[0]))

dg_select_opts dg_select_defaults(void)
{
    dg_select_opts o;

    memset(&o, 0, sizeof o);
    o.mode = DG_SELECT_TOPK;
    return o;
}

const char *dg_select_name(dg_select_mode mode)
{
    return (int)mode >= 0 && (int)mode < SELECT_MODES ? SELECT_NAMES[mode] : "unknown";
}

int dg_select_parse(const char *name, dg_select_mode *out, dg_error *err)
{
    for (int k = 0; k < SELECT_MODES; k++)
        if (name && strcmp(name, SELECT_NAMES[k]) == 0) {
            *out = (dg_select_mode)k;
            return 0;
        }
    return dg__fail(err, DG_EINVAL,
                    "selection mode \"%s\": expected one of topk, diverse, balanced",
                    name ? name : "(null)");
}

/* ------------------------------------------------------------------------
 * Exact duplicates: an open-addressing set of row ids keyed by a hash of
 * the row's feature bits (-0.0 taken as 0.0).
 */

typedef struct dupset {
    int64_t *row;   /* (cap) row id, -1 for an empty slot */
    uint64_t *hash; /* (cap) */
    int64_t cap;    /* a power of two, at least twice the rows stored */
} dupset;

static uint32_t feature_bits(float v)
{
    uint32_t bits;

    if (v == 0.0f)
        v = 0.0f;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

/* features (N, D): hash of row r. */
static uint64_t feature_hash(const float *features, int64_t D, int64_t r)
{
    const float *x = features + r * D;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (int64_t d = 0; d < D; d++)
        h = (h ^ feature_bits(x[d])) * 0x100000001b3ULL;
    return dg__row_hash(h, 0, 0);
}

static int same_features(const float *features, int64_t D, int64_t a, int64_t b)
{
    for (int64_t d = 0; d < D; d++)
        if (feature_bits(features[a * D + d]) != feature_bits(features[b * D + d]))
            return 0;
    return 1;
}

/* Room for `rows` entries. */
static int dupset_init(dupset *set, int64_t rows, dg_error *err)
{
    set->cap = DUPSET_MIN_CAP;
    while (set->cap < 2 * rows)
        set->cap *= 2;
    set->row = dg__alloc((size_t)set->cap, sizeof *set->row, 0, err);
    set->hash = dg__alloc((size_t)set->cap, sizeof *set->hash, 0, err);
    if (!set->row || !set->hash)
        return DG_ENOMEM;
    for (int64_t i = 0; i < set->cap; i++)
        set->row[i] = -1;
    return 0;
}

static void dupset_free(dupset *set)
{
    free(set->row);
    free(set->hash);
}

/* The slot holding a copy of row r (hash h), or the empty slot where it
 * would go. */
static int64_t dupset_slot(const dupset *set, const float *features, int64_t D, int64_t r,
                           uint64_t h)
{
    int64_t i = (int64_t)(h & (uint64_t)(set->cap - 1));

    while (set->row[i] >= 0 &&
           !(set->hash[i] == h && same_features(features, D, set->row[i], r)))
        i = (i + 1) & (set->cap - 1);
    return i;
}

/* ------------------------------------------------------------------------
 * The state of one call, and the order of rows
 */

typedef struct selector {
    const double *scores;    /* (N) */
    uint64_t seed;
    const float *features;   /* (N, D) or NULL: no duplicate check */
    int64_t D;
    dupset labelled, taken;  /* copies already labelled / already in the batch */
    int64_t *picked;         /* (K) the batch so far */
    int64_t n_picked, K;
} selector;

/* 1 when row a ranks before row b: higher score, then the lower seeded
 * hash of the row id, then the lower id. A strict total order, so partial
 * selections and parallel argmaxes agree however the work is split. */
static int ranks_before(const selector *s, int64_t a, int64_t b)
{
    uint64_t ha, hb;

    if (s->scores[a] != s->scores[b])
        return s->scores[a] > s->scores[b];
    ha = dg__row_hash(s->seed, DG__SALT_TIES, (uint64_t)a);
    hb = dg__row_hash(s->seed, DG__SALT_TIES, (uint64_t)b);
    if (ha != hb)
        return ha < hb;
    return a < b;
}

/* 1 when a copy of row r is labelled or already in the batch. */
static int is_copy(const selector *s, int64_t r)
{
    uint64_t h;

    if (!s->features)
        return 0;
    h = feature_hash(s->features, s->D, r);
    return (s->labelled.cap && s->labelled.row[dupset_slot(&s->labelled, s->features, s->D, r,
                                                            h)] >= 0) ||
           s->taken.row[dupset_slot(&s->taken, s->features, s->D, r, h)] >= 0;
}

/* Appends row r to the batch unless it is a copy; 1 when appended. The
 * caller guarantees n_picked < K. */
static int take(selector *s, int64_t r)
{
    int64_t slot;
    uint64_t h;

    if (s->features) {
        if (is_copy(s, r))
            return 0;
        h = feature_hash(s->features, s->D, r);
        slot = dupset_slot(&s->taken, s->features, s->D, r, h);
        s->taken.row[slot] = r;
        s->taken.hash[slot] = h;
    }
    s->picked[s->n_picked++] = r;
    return 1;
}

/* ------------------------------------------------------------------------
 * Partial ranking: a heap whose root is the row ranking last
 */

static void sift_down(const selector *s, int64_t *heap, int64_t n, int64_t i)
{
    for (;;) {
        int64_t left = 2 * i + 1, right = left + 1, last = i, t;

        if (left < n && ranks_before(s, heap[last], heap[left]))
            last = left;
        if (right < n && ranks_before(s, heap[last], heap[right]))
            last = right;
        if (last == i)
            return;
        t = heap[i];
        heap[i] = heap[last];
        heap[last] = t;
        i = last;
    }
}

static void heapify(const selector *s, int64_t *heap, int64_t n)
{
    for (int64_t i = n / 2 - 1; i >= 0; i--)
        sift_down(s, heap, n, i);
}

/* Turns the heap (n) into a list sorted best first. */
static void heap_to_sorted(const selector *s, int64_t *heap, int64_t n)
{
    for (int64_t end = n - 1; end > 0; end--) {
        int64_t t = heap[0];

        heap[0] = heap[end];
        heap[end] = t;
        sift_down(s, heap, end, 0);
    }
}

/* A candidate list handed out best first without sorting all of it: each
 * refill keeps the best `chunk` rows ranking after the last one handed out
 * in a heap (O(n log chunk)), then sorts them. The chunk doubles on each
 * refill, so rows skipped as copies cost O(log) extra passes at most. */
typedef struct ranker {
    const int64_t *rows; /* (n) candidate row ids */
    int64_t n;
    int64_t *buf;        /* (cap) the current sorted chunk */
    int64_t cap, chunk, len, pos;
    int64_t last;        /* last row handed out, -1 before the first */
    int done;            /* the list holds no more rows after buf */
} ranker;

static void ranker_init(ranker *r, const int64_t *rows, int64_t n, int64_t chunk)
{
    memset(r, 0, sizeof *r);
    r->rows = rows;
    r->n = n;
    r->chunk = chunk < 1 ? 1 : chunk;
    if (n > 0 && r->chunk > n)
        r->chunk = n;
    r->last = -1;
    r->done = n == 0;
}

static int ranker_refill(const selector *s, ranker *r, dg_error *err)
{
    int64_t len = 0;

    if (r->cap < r->chunk) {
        free(r->buf);
        r->cap = r->chunk;
        if (!(r->buf = dg__alloc((size_t)r->cap, sizeof *r->buf, 0, err)))
            return DG_ENOMEM;
    }
    for (int64_t i = 0; i < r->n; i++) {
        int64_t x = r->rows[i];

        if (r->last >= 0 && !ranks_before(s, r->last, x))
            continue; /* handed out already */
        if (len < r->chunk) {
            r->buf[len++] = x;
            if (len == r->chunk)
                heapify(s, r->buf, len);
        } else if (ranks_before(s, x, r->buf[0])) {
            r->buf[0] = x;
            sift_down(s, r->buf, len, 0);
        }
    }
    if (len < r->chunk) {
        heapify(s, r->buf, len);
        r->done = 1;
    }
    heap_to_sorted(s, r->buf, len);
    r->len = len;
    r->pos = 0;
    r->chunk = r->chunk > r->n / 2 ? r->n : 2 * r->chunk;
    return 0;
}

/* The next row best first into *row: 1, or 0 when the list is exhausted,
 * or a DG_E* code. */
static int ranker_next(const selector *s, ranker *r, int64_t *row, dg_error *err)
{
    if (r->pos == r->len) {
        int rc;

        if (r->done)
            return 0;
        if ((rc = ranker_refill(s, r, err)) != 0)
            return rc;
        if (r->len == 0)
            return 0;
    }
    *row = r->buf[r->pos++];
    r->last = *row;
    return 1;
}

/* ------------------------------------------------------------------------
 * Modes
 */

static int select_topk(selector *s, const int64_t *avail, int64_t n_avail, dg_error *err)
{
    ranker r;
    int64_t row;
    int rc = 0;

    ranker_init(&r, avail, n_avail, s->K);
    while (s->n_picked < s->K && (rc = ranker_next(s, &r, &row, err)) == 1)
        take(s, row);
    free(r.buf);
    return rc < 0 ? rc : 0;
}

/* Round-robin over the predicted classes (N ids): each round every class
 * with rows left offers its best row that is not a copy; the round's
 * offers join the batch best first, so a cut at K keeps the best. */
static int select_balanced(selector *s, const int64_t *avail, int64_t n_avail,
                           const int32_t *predicted, dg_error *err)
{
    int64_t *start = NULL, *bucket = NULL, *offers = NULL, n_offers, row = -1;
    int n_cls = 0, nonempty = 0, rc = 0;
    ranker *rk = NULL;

    /* pass 1: validate the ids and count the rows per class */
    for (int64_t i = 0; i < n_avail; i++) {
        int32_t c = predicted[avail[i]];

        if (c < 0 || c >= MAX_CLASS_ID)
            return dg__fail(err, DG_EINVAL,
                            "balanced selection: predicted classes: row %lld: expected a class "
                            "id in [0, %d), found %d",
                            (long long)avail[i] + 1, MAX_CLASS_ID, c);
        if (c + 1 > n_cls)
            n_cls = c + 1;
    }
    start = dg__alloc((size_t)n_cls + 1, sizeof *start, 1, err);
    bucket = dg__alloc((size_t)n_avail + 1, sizeof *bucket, 0, err);
    offers = dg__alloc((size_t)n_cls + 1, sizeof *offers, 0, err);
    rk = dg__alloc((size_t)n_cls + 1, sizeof *rk, 1, err);
    if (!start || !bucket || !offers || !rk) {
        rc = DG_ENOMEM;
        goto out;
    }

    /* pass 2: bucket the rows by class, each bucket in row order */
    for (int64_t i = 0; i < n_avail; i++)
        start[predicted[avail[i]] + 1]++;
    for (int c = 0; c < n_cls; c++) {
        nonempty += start[c + 1] > 0;
        start[c + 1] += start[c];
    }
    for (int64_t i = 0; i < n_avail; i++)
        bucket[start[predicted[avail[i]]]++] = avail[i];
    for (int c = n_cls; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;
    for (int c = 0; c < n_cls; c++)
        ranker_init(&rk[c], bucket + start[c], start[c + 1] - start[c],
                    s->K / (nonempty ? nonempty : 1) + 1);

    /* rounds until the batch is full or every class is used up */
    while (s->n_picked < s->K) {
        n_offers = 0;
        for (int c = 0; c < n_cls && rc >= 0; c++)
            while ((rc = ranker_next(s, &rk[c], &row, err)) == 1)
                if (!is_copy(s, row)) {
                    offers[n_offers++] = row;
                    break;
                }
        if (rc < 0)
            goto out;
        if (n_offers == 0)
            break;
        heapify(s, offers, n_offers);
        heap_to_sorted(s, offers, n_offers);
        for (int64_t i = 0; i < n_offers && s->n_picked < s->K; i++)
            take(s, offers[i]); /* a copy offered by two classes joins once */
    }
    rc = 0;

out:
    for (int c = 0; rk && c < n_cls; c++)
        free(rk[c].buf);
    free(rk);
    free(offers);
    free(bucket);
    free(start);
    return rc;
}

/* Diverse mode: greedy farthest-first weighted by score, i.e. the greedy
 * for weighted k-centre. The first pick is the best score; each next pick
 * maximises w_i * d_i, with w_i the row's score (shifted up by the
 * smallest score when that is negative, plus a tiny floor) and d_i its
 * Euclidean distance in the
 * embedding to the nearest row already picked. Chosen over score-weighted
 * k-means++ seeding because it is deterministic without sampling, and
 * because a batch that keeps max_i w_i d_i small covers the high-scoring
 * region: a near-copy of a picked row has d ~ 0 and waits until every
 * region has been visited. A second cluster is visited once its rows'
 * score times their distance beats the remaining spread inside the first.
 * Limit: each pick costs a pass over the candidates, O(n K H) in all; set
 * opts->pool to bound n on large pools. */
typedef struct diverse {
    const int64_t *rows;   /* (n) candidate row ids */
    int64_t n;
    const float *emb;      /* (N, H) */
    int64_t H;
    double *weight2;       /* (n) squared shifted scores */
    double *mind;          /* (n) squared distance to the nearest pick */
    unsigned char *out;    /* (n) picked, or skipped as a copy */
    int any;               /* a row has been picked */
} diverse;

/* Folds the new pick `from` (a row id, or -1) into the distances and
 * returns the index (into rows) of the best remaining candidate, or -1.
 * Every thread scans a static block; the blocks' winners are merged under
 * a strict order (value, then rank), so the result does not depend on
 * the thread count. */
static int64_t diverse_step(const selector *s, diverse *dv, int64_t from)
{
    int64_t best = -1;
    double best_value = 0.0;

#pragma omp parallel
    {
        int64_t best_t = -1;
        double value_t = 0.0;

#pragma omp for schedule(static)
        for (int64_t i = 0; i < dv->n; i++) {
            int64_t r = dv->rows[i];
            double v;

            if (dv->out[i])
                continue;
            if (from >= 0) {
                const float *x = dv->emb + r * dv->H, *y = dv->emb + from * dv->H;
                double d2 = 0.0;

                /* simd: several partial sums instead of one long chain of
                 * dependent adds; the order is fixed at compile time */
#pragma omp simd reduction(+ : d2)
                for (int64_t h = 0; h < dv->H; h++)
                    d2 += ((double)x[h] - y[h]) * ((double)x[h] - y[h]);
                dv->mind[i] = fmin(dv->mind[i], d2);
            }
            /* (w d)^2 ranks as w d does, as w >= 0, and needs no sqrt */
            v = dv->any ? dv->weight2[i] * dv->mind[i] : s->scores[r];
            if (best_t < 0 || v > value_t ||
                (v == value_t && ranks_before(s, r, dv->rows[best_t]))) {
                best_t = i;
                value_t = v;
            }
        }
#pragma omp critical
        if (best_t >= 0 && (best < 0 || value_t > best_value ||
                            (value_t == best_value &&
                             ranks_before(s, dv->rows[best_t], dv->rows[best])))) {
            best = best_t;
            best_value = value_t;
        }
    }
    return best;
}

static int select_diverse(selector *s, const int64_t *avail, int64_t n_avail,
                          const dg_select_opts *o, dg_error *err)
{
    diverse dv = {0};
    ranker pool;
    int64_t *pool_rows = NULL, from = -1, best;
    double low = 0.0, high = 0.0, lift;
    int rc = 0;

    /* candidates: every available row, or the `pool` best of them */
    ranker_init(&pool, avail, n_avail, o->pool);
    dv.rows = avail;
    dv.n = n_avail;
    if (o->pool > 0 && o->pool < n_avail) {
        if (!(pool_rows = dg__alloc((size_t)o->pool, sizeof *pool_rows, 0, err)))
            return DG_ENOMEM;
        for (dv.n = 0; dv.n < o->pool; dv.n++)
            if ((rc = ranker_next(s, &pool, &pool_rows[dv.n], err)) != 1)
                goto out;
        rc = 0;
        dv.rows = pool_rows;
    }
    dv.emb = o->embedding;
    dv.H = o->H;
    dv.weight2 = dg__alloc((size_t)dv.n + 1, sizeof *dv.weight2, 0, err);
    dv.mind = dg__alloc((size_t)dv.n + 1, sizeof *dv.mind, 0, err);
    dv.out = dg__alloc((size_t)dv.n + 1, sizeof *dv.out, 1, err);
    if (!dv.weight2 || !dv.mind || !dv.out) {
        rc = DG_ENOMEM;
        goto out;
    }

    /* the embedding must be finite where distances are taken */
    for (int64_t i = 0; i < dv.n; i++)
        for (int64_t h = 0; h < dv.H; h++)
            if (!isfinite(dv.emb[dv.rows[i] * dv.H + h])) {
                rc = dg__fail(err, DG_EINVAL,
                              "diverse selection: embedding: row %lld, column %lld: expected "
                              "a finite number, found %g",
                              (long long)dv.rows[i] + 1, (long long)h + 1,
                              (double)dv.emb[dv.rows[i] * dv.H + h]);
                goto out;
            }
    /* weights: scores shifted up when some are negative, plus the floor */
    for (int64_t i = 0; i < dv.n; i++) {
        low = fmin(low, s->scores[dv.rows[i]]);
        high = fmax(high, s->scores[dv.rows[i]]);
    }
    lift = DIVERSE_WEIGHT_FLOOR * (high > low ? high - low : 1.0);
    for (int64_t i = 0; i < dv.n; i++) {
        double w = s->scores[dv.rows[i]] - low + lift;

        dv.weight2[i] = w * w;
        dv.mind[i] = INFINITY;
    }

    /* greedy picks; a candidate that is a copy is dropped without a pick */
    while (s->n_picked < s->K && (best = diverse_step(s, &dv, from)) >= 0) {
        dv.out[best] = 1;
        from = -1;
        if (take(s, dv.rows[best])) {
            from = dv.rows[best];
            dv.any = 1;
        }
    }

out:
    free(pool.buf);
    free(pool_rows);
    free(dv.weight2);
    free(dv.mind);
    free(dv.out);
    return rc;
}

/* ------------------------------------------------------------------------
 * Entry point
 */

static int check_opts(const double *scores, int64_t N, int64_t K, const dg_select_opts *o,
                      const int64_t *picked, const int64_t *n_picked, dg_error *err)
{
    if (!o || (int)o->mode < 0 || (int)o->mode >= SELECT_MODES)
        return dg__fail(err, DG_EINVAL, "batch selection: expected options with a mode in "
                                        "topk, diverse, balanced");
    if (N < 0 || K < 0 || !n_picked || (N > 0 && !scores) || (K > 0 && !picked))
        return dg__fail(err, DG_EINVAL,
                        "batch selection: expected N >= 0 scores, K >= 0 and room for K rows, "
                        "found N = %lld, K = %lld",
                        (long long)N, (long long)K);
    if (o->features && o->D < 1)
        return dg__fail(err, DG_EINVAL,
                        "batch selection: features: expected D >= 1 columns, found %lld",
                        (long long)o->D);
    if (o->mode == DG_SELECT_DIVERSE && (!o->embedding || o->H < 1 || o->pool < 0))
        return dg__fail(err, DG_EINVAL,
                        "diverse selection: expected an N x H embedding with H >= 1 and a "
                        "pool >= 0, found H = %lld, pool = %lld%s",
                        (long long)o->H, (long long)o->pool, o->embedding ? "" : ", no matrix");
    if (o->mode == DG_SELECT_BALANCED && !o->predicted)
        return dg__fail(err, DG_EINVAL, "balanced selection: expected N predicted class ids");
    return 0;
}

int dg_select_batch(const double *scores, int64_t N, int64_t K, const dg_select_opts *opts,
                    int64_t *picked, int64_t *n_picked, dg_error *err)
{
    selector s;
    int64_t *avail = NULL, n_avail = 0, n_labelled = 0;
    int rc;

    if ((rc = check_opts(scores, N, K, opts, picked, n_picked, err)) != 0)
        return rc;
    *n_picked = 0;
    memset(&s, 0, sizeof s);
    s.scores = scores;
    s.seed = opts->seed;
    s.features = opts->features;
    s.D = opts->D;
    s.picked = picked;

    /* pass 1: the rows that may be picked, with finite scores */
    if (!(avail = dg__alloc((size_t)N + 1, sizeof *avail, 0, err)))
        return DG_ENOMEM;
    for (int64_t i = 0; i < N; i++) {
        if (opts->labelled && opts->labelled[i]) {
            n_labelled++;
            continue;
        }
        if (!isfinite(scores[i])) {
            rc = dg__fail(err, DG_EINVAL,
                          "batch selection: scores: row %lld: expected a finite number, "
                          "found %g",
                          (long long)i + 1, scores[i]);
            goto out;
        }
        avail[n_avail++] = i;
    }
    s.K = K < n_avail ? K : n_avail;

    /* pass 2: the labelled rows' features, so their copies are skipped */
    if (s.features) {
        if ((rc = dupset_init(&s.taken, s.K, err)) != 0)
            goto out;
        if (n_labelled > 0 && (rc = dupset_init(&s.labelled, n_labelled, err)) != 0)
            goto out;
        for (int64_t i = 0; n_labelled > 0 && i < N; i++)
            if (opts->labelled[i]) {
                uint64_t h = feature_hash(s.features, s.D, i);
                int64_t slot = dupset_slot(&s.labelled, s.features, s.D, i, h);

                s.labelled.row[slot] = i;
                s.labelled.hash[slot] = h;
            }
    }

    switch (opts->mode) {
    case DG_SELECT_TOPK:
        rc = select_topk(&s, avail, n_avail, err);
        break;
    case DG_SELECT_DIVERSE:
        rc = select_diverse(&s, avail, n_avail, opts, err);
        break;
    case DG_SELECT_BALANCED:
        rc = select_balanced(&s, avail, n_avail, opts->predicted, err);
        break;
    }
    *n_picked = rc == 0 ? s.n_picked : 0;

out:
    dupset_free(&s.taken);
    dupset_free(&s.labelled);
    free(avail);
    return rc;
}
