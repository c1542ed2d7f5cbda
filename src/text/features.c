/* Text features: NFKC + case folding (utf8proc), word tokens by Unicode
 * category, word and character n-grams hashed with FNV-1a into 2^b
 * columns, then optional sublinear TF, IDF fitted on a training corpus,
 * and L2 row normalisation, into a dg_csr (N x 2^b).
 */
#include "text/text.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
/* Longest word n-gram and char n-gram orders offered. */
#define WORD_NGRAM_MAX 3
#define CHAR_NGRAM_MAX 8

struct dg_featurizer {
    dg_featurizer_opts opts;
    int64_t columns; /* 2^bits */
    float *idf;      /* columns weights, NULL without idf */
};

/* A token: bytes [start, end) of the (normalised) text. */
typedef struct span {
    size_t start, end;
} span;

/* Per-text scratch, reused across texts. */
typedef struct work {
    span *tok;
    size_t ntok, tok_cap;
    uint32_t *bucket;
    size_t nbucket, bucket_cap;
    size_t *cp_off; /* byte offsets of one token's code points, plus its end */
    size_t cp_cap;
} work;

dg_featurizer_opts dg_featurizer_defaults(void)
{
    dg_featurizer_opts o;

    memset(&o, 0, sizeof o);
    o.bits = 20;
    o.word_min = 1;
    o.word_max = 2;
    o.normalize = 1;
    o.idf = 1;
    o.l2 = 1;
    o.part = DG_TEXT_ALL;
    return o;
}

/* Grows *p (elements of size bytes, capacity *cap) to hold need. */
static int reserve(void **p, size_t *cap, size_t need, size_t size, dg_error *err)
{
    size_t c = *cap ? *cap : 64;
    void *q;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    q = dg__alloc(c, size, 0, err);
    if (!q)
        return DG_ENOMEM;
    if (*p)
        memcpy(q, *p, *cap * size);
    free(*p);
    *p = q;
    *cap = c;
    return 0;
}

int dg_text_normalize(const char *text, size_t len, char **out, size_t *out_len, dg_error *err)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n;

    *out = NULL;
    *out_len = 0;
    if (len > (size_t)(PTRDIFF_MAX / 4))
        return dg__fail(err, DG_EINVAL, "text of %zu bytes is too long to normalise", len);
    n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &dst,
                     UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0)
        return dg__fail(err, n == UTF8PROC_ERROR_NOMEM ? DG_ENOMEM : DG_EINVAL,
                        "normalising a text of %zu bytes: %s", len, utf8proc_errmsg(n));
    *out = (char *)dst;
    *out_len = (size_t)n;
    return 0;
}

/* Letters and numbers start or continue a token; marks only continue one. */
static int token_class(int32_t cp)
{
    utf8proc_category_t cat = utf8proc_category(cp);

    if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
        (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO))
        return 2;
    return cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
}

/* Splits s[0..n) (valid UTF-8) into w->tok. */
static int tokenize(const char *s, size_t n, work *w, dg_error *err)
{
    size_t i = 0, start = 0;
    int in_token = 0, rc;

    w->ntok = 0;
    while (i <= n) {
        int32_t cp = 0;
        size_t bad = 0;
        const char *why = "";
        int len = 0, cls = 0;

        if (i < n) {
            len = dg__utf8_decode((const unsigned char *)s + i, n - i, &cp, &bad, &why);
            if (len == 0)
                return dg__fail(err, DG_EINVAL, "text byte %zu: invalid UTF-8: %s", i + 1, why);
            cls = token_class(cp);
        }
        if (in_token && cls == 0) {
            if ((rc = reserve((void **)&w->tok, &w->tok_cap, w->ntok + 1, sizeof *w->tok, err)))
                return rc;
            w->tok[w->ntok].start = start;
            w->tok[w->ntok].end = i;
            w->ntok++;
            in_token = 0;
        } else if (!in_token && cls == 2) {
            in_token = 1;
            start = i;
        }
        if (i == n)
            break;
        i += (size_t)len;
    }
    return 0;
}

int dg_text_tokens(const char *text, size_t len, int normalize, char ***tokens, int64_t *n,
                   dg_error *err)
{
    char *norm = NULL, **list = NULL;
    size_t norm_len = 0;
    work w;
    int rc;

    memset(&w, 0, sizeof w);
    *tokens = NULL;
    *n = 0;
    if (normalize && (rc = dg_text_normalize(text, len, &norm, &norm_len, err)))
        return rc;
    if (normalize)
        text = norm, len = norm_len;
    rc = tokenize(text, len, &w, err);
    if (!rc && !(list = dg__alloc(w.ntok, sizeof *list, 1, err)))
        rc = DG_ENOMEM;
    for (size_t k = 0; !rc && k < w.ntok; k++) {
        size_t tl = w.tok[k].end - w.tok[k].start;

        if (!(list[k] = dg__alloc(tl + 1, 1, 0, err))) {
            rc = DG_ENOMEM;
            break;
        }
        memcpy(list[k], text + w.tok[k].start, tl);
        list[k][tl] = '\0';
    }
    if (rc)
        dg_text_tokens_free(list, list ? (int64_t)w.ntok : 0);
    else
        *tokens = list, *n = (int64_t)w.ntok;
    free(norm);
    free(w.tok);
    return rc;
}

void dg_text_tokens_free(char **tokens, int64_t n)
{
    for (int64_t k = 0; tokens && k < n; k++)
        free(tokens[k]);
    free(tokens);
}

/* ------------------------------------------------------------ hashing */

static uint64_t fnv(uint64_t h, const char *bytes, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        h ^= (unsigned char)bytes[k];
        h *= FNV_PRIME;
    }
    return h;
}

/* Xor-folds h to bits bits. The top bits alone would be poor: FNV's last
 * multiply moves the last byte into bits >= 40 only through a small
 * multiple of 2^40, so "a" and "b" would share their top 20 bits. */
static uint32_t fold_bits(uint64_t h, int bits)
{
    return (uint32_t)(((h >> bits) ^ h) & (((uint64_t)1 << bits) - 1));
}

uint32_t dg_ngram_bucket(char kind, const char *bytes, size_t len, int bits)
{
    return fold_bits(fnv(fnv(FNV_OFFSET, &kind, 1), bytes, len), bits);
}

/* Appends the bucket of every word and char n-gram of s's tokens. */
static int ngram_buckets(const dg_featurizer_opts *o, const char *s, work *w, dg_error *err)
{
    const char word = DG_NGRAM_WORD, chr = DG_NGRAM_CHAR, sep = DG_NGRAM_SEP, pad = ' ';
    int rc;

    w->nbucket = 0;

    /* Word n-grams: tokens i .. i+n-1 joined by the separator byte. */
    for (int n = o->word_min; n >= 1 && n <= o->word_max; n++)
        for (size_t i = 0; i + (size_t)n <= w->ntok; i++) {
            uint64_t h = fnv(FNV_OFFSET, &word, 1);

            for (size_t j = i; j < i + (size_t)n; j++) {
                if (j > i)
                    h = fnv(h, &sep, 1);
                h = fnv(h, s + w->tok[j].start, w->tok[j].end - w->tok[j].start);
            }
            if ((rc = reserve((void **)&w->bucket, &w->bucket_cap, w->nbucket + 1,
                              sizeof *w->bucket, err)))
                return rc;
            w->bucket[w->nbucket++] = fold_bits(h, o->bits);
        }

    /* Char n-grams within " token ": padded position j is a space at both
     * ends and token code point j-1 in between. */
    for (size_t t = 0; o->char_min >= 1 && t < w->ntok; t++) {
        size_t k = 0, i = w->tok[t].start, L;

        while (i < w->tok[t].end) {
            int32_t cp;
            size_t bad;
            const char *why;

            if ((rc = reserve((void **)&w->cp_off, &w->cp_cap, k + 2, sizeof *w->cp_off, err)))
                return rc;
            w->cp_off[k++] = i;
            i += (size_t)dg__utf8_decode((const unsigned char *)s + i, w->tok[t].end - i, &cp,
                                         &bad, &why);
        }
        w->cp_off[k] = w->tok[t].end;
        L = k + 2;
        for (int n = o->char_min; n <= o->char_max; n++)
            for (size_t a = 0; a + (size_t)n <= L; a++) {
                uint64_t h = fnv(FNV_OFFSET, &chr, 1);

                for (size_t j = a; j < a + (size_t)n; j++)
                    h = j == 0 || j == L - 1
                            ? fnv(h, &pad, 1)
                            : fnv(h, s + w->cp_off[j - 1], w->cp_off[j] - w->cp_off[j - 1]);
                if ((rc = reserve((void **)&w->bucket, &w->bucket_cap, w->nbucket + 1,
                                  sizeof *w->bucket, err)))
                    return rc;
                w->bucket[w->nbucket++] = fold_bits(h, o->bits);
            }
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Text i of c seen through opts->part, normalised when asked, tokenised,
 * and hashed: w->bucket sorted, with repeats (their counts are the tf). */
static int text_buckets(const dg_featurizer_opts *o, const dg_corpus *c, int64_t i, work *w,
                        dg_error *err)
{
    size_t len, start, span_len, norm_len = 0;
    const char *text = dg_corpus_text(c, i, &len);
    char *norm = NULL;
    int rc;

    dg_text_span(text, len, o->part, &start, &span_len);
    text += start;
    if (o->normalize) {
        if ((rc = dg_text_normalize(text, span_len, &norm, &norm_len, err)))
            return rc;
        text = norm, span_len = norm_len;
    }
    rc = tokenize(text, span_len, w, err);
    if (!rc)
        rc = ngram_buckets(o, text, w, err);
    if (!rc && w->nbucket > 0) /* an empty view has no bucket array to sort */
        qsort(w->bucket, w->nbucket, sizeof *w->bucket, cmp_u32);
    free(norm);
    return rc;
}

static void work_free(work *w)
{
    free(w->tok);
    free(w->bucket);
    free(w->cp_off);
}

/* ---------------------------------------------------------- featurizer */

static int check_opts(const dg_featurizer_opts *o, dg_error *err)
{
    if (o->bits < 1 || o->bits > DG_HASH_BITS_MAX)
        return dg__fail(err, DG_EINVAL, "featurizer: expected bits in [1, %d], found %d",
                        DG_HASH_BITS_MAX, o->bits);
    if (!(o->word_min == 0 && o->word_max == 0) &&
        !(o->word_min >= 1 && o->word_min <= o->word_max && o->word_max <= WORD_NGRAM_MAX))
        return dg__fail(err, DG_EINVAL, "featurizer: expected word n-gram orders 1 <= min <= "
                        "max <= %d (or both 0), found %d..%d", WORD_NGRAM_MAX, o->word_min,
                        o->word_max);
    if (!(o->char_min == 0 && o->char_max == 0) &&
        !(o->char_min >= 1 && o->char_min <= o->char_max && o->char_max <= CHAR_NGRAM_MAX))
        return dg__fail(err, DG_EINVAL, "featurizer: expected char n-gram orders 1 <= min <= "
                        "max <= %d (or both 0), found %d..%d", CHAR_NGRAM_MAX, o->char_min,
                        o->char_max);
    if (o->word_max == 0 && o->char_max == 0)
        return dg__fail(err, DG_EINVAL, "featurizer: expected word or char n-grams, found "
                        "both turned off");
    if (o->part < DG_TEXT_ALL || o->part > DG_TEXT_HEADERS)
        return dg__fail(err, DG_EINVAL, "featurizer: unknown text part %d", (int)o->part);
    return 0;
}

/* A featurizer with valid opts and, when opts->idf, an idf vector to fill. */
static int featurizer_new(const dg_featurizer_opts *opts, dg_featurizer **out, dg_error *err)
{
    dg_featurizer *f;
    int rc;

    *out = NULL;
    if ((rc = check_opts(opts, err)))
        return rc;
    if (!(f = dg__alloc(1, sizeof *f, 1, err)))
        return DG_ENOMEM;
    f->opts = *opts;
    f->columns = (int64_t)1 << opts->bits;
    if (opts->idf && !(f->idf = dg__alloc((size_t)f->columns, sizeof *f->idf, 0, err))) {
        free(f);
        return DG_ENOMEM;
    }
    *out = f;
    return 0;
}

int dg_featurizer_fit(const dg_featurizer_opts *opts, const dg_corpus *train,
                      dg_featurizer **out, dg_error *err)
{
    dg_featurizer *f;
    int32_t *df;
    work w;
    int64_t N;
    int rc;

    if ((rc = featurizer_new(opts, &f, err)))
        return rc;
    if (!opts->idf) {
        *out = f;
        return 0;
    }
    if (!train || dg_corpus_size(train) > INT32_MAX) {
        dg_featurizer_free(f);
        return dg__fail(err, DG_EINVAL, "featurizer: idf needs a training corpus of 1 to %d "
                        "texts", INT32_MAX);
    }
    if (!(df = dg__alloc((size_t)f->columns, sizeof *df, 1, err))) {
        dg_featurizer_free(f);
        return DG_ENOMEM;
    }

    /* Document frequency: each distinct bucket of a text counts once. */
    memset(&w, 0, sizeof w);
    N = dg_corpus_size(train);
    for (int64_t i = 0; i < N && !rc; i++) {
        rc = text_buckets(opts, train, i, &w, err);
        for (size_t k = 0; !rc && k < w.nbucket; k++)
            if (k == 0 || w.bucket[k] != w.bucket[k - 1])
                df[w.bucket[k]]++;
    }
    for (int64_t j = 0; !rc && j < f->columns; j++)
        f->idf[j] = (float)(log((1.0 + (double)N) / (1.0 + (double)df[j])) + 1.0);
    work_free(&w);
    free(df);
    if (rc) {
        dg_featurizer_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int dg_featurizer_from_idf(const dg_featurizer_opts *opts, const float *idf, int64_t n,
                           dg_featurizer **out, dg_error *err)
{
    dg_featurizer *f;
    int rc;

    if ((rc = featurizer_new(opts, &f, err)))
        return rc;
    if (opts->idf && (!idf || n != f->columns)) {
        dg_featurizer_free(f);
        return dg__fail(err, DG_EMISMATCH, "featurizer: expected an idf vector of 2^%d = %"
                        PRId64 " weights, found %" PRId64, opts->bits, (int64_t)1 << opts->bits,
                        idf ? n : 0);
    }
    for (int64_t j = 0; opts->idf && j < n; j++)
        if (!isfinite(idf[j]) || idf[j] < 0) {
            dg_featurizer_free(f);
            return dg__fail(err, DG_EINVAL, "featurizer: idf weight %" PRId64 " is %g, "
                            "expected a finite value >= 0", j, (double)idf[j]);
        }
    if (opts->idf)
        memcpy(f->idf, idf, (size_t)n * sizeof *idf);
    *out = f;
    return 0;
}

const float *dg_featurizer_idf(const dg_featurizer *f)
{
    return f->idf;
}

int64_t dg_featurizer_columns(const dg_featurizer *f)
{
    return f->columns;
}

void dg_featurizer_free(dg_featurizer *f)
{
    if (!f)
        return;
    free(f->idf);
    free(f);
}

int dg_featurizer_transform(const dg_featurizer *f, const dg_corpus *c, dg_csr *out,
                            dg_error *err)
{
    const dg_featurizer_opts *o = &f->opts;
    int64_t N = dg_corpus_size(c);
    size_t nnz = 0, col_cap = 0, val_cap = 0;
    work w;
    int rc = 0;

    memset(out, 0, sizeof *out);
    memset(&w, 0, sizeof w);
    if (!(out->row_ptr = dg__alloc((size_t)N + 1, sizeof *out->row_ptr, 1, err)))
        return DG_ENOMEM;
    for (int64_t i = 0; i < N; i++) {
        size_t row_start = nnz;
        double norm2 = 0.0;

        /* pass 1: distinct sorted buckets with their counts. */
        if ((rc = text_buckets(o, c, i, &w, err)))
            break;
        if ((rc = reserve((void **)&out->col, &col_cap, nnz + w.nbucket, sizeof *out->col,
                          err)) ||
            (rc = reserve((void **)&out->val, &val_cap, nnz + w.nbucket, sizeof *out->val,
                          err)))
            break;
        for (size_t k = 0; k < w.nbucket; k++) {
            if (k > 0 && w.bucket[k] == w.bucket[k - 1]) {
                out->val[nnz - 1] += 1.0f;
                continue;
            }
            out->col[nnz] = (int32_t)w.bucket[k];
            out->val[nnz++] = 1.0f;
        }

        /* pass 2: weights, tf' * idf, then the row's L2 norm. */
        for (size_t k = row_start; k < nnz; k++) {
            double v = out->val[k];

            if (o->sublinear_tf)
                v = 1.0 + log(v);
            if (f->idf)
                v *= f->idf[out->col[k]];
            out->val[k] = (float)v;
            norm2 += v * v;
        }
        if (o->l2 && norm2 > 0.0)
            for (size_t k = row_start; k < nnz; k++)
                out->val[k] = (float)(out->val[k] / sqrt(norm2));
        out->row_ptr[i + 1] = (int64_t)nnz;
    }
    work_free(&w);
    if (rc) {
        dg_csr_free(out);
        return rc;
    }
    out->rows = N;
    out->cols = f->columns;
    out->nnz = (int64_t)nnz;
    return 0;
}
