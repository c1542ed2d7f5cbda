/* Parallel featurizing for the text students: tokenises a corpus once, in
 * contiguous chunks on several threads, into raw n-gram counts, then fits
 * the idf from those counts and applies the featurizer's weighting. Gives
 * the same matrix as dg_featurizer_fit + dg_featurizer_transform (a test
 * checks it) at a fraction of the wall time: tokenising is the slow part.
 */
#include "text/student.h"
#include "text/text.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Texts below which one thread does all the work. */
#define PAR_MIN_TEXTS 64
/* Most chunks a corpus is cut into. */
#define PAR_MAX_CHUNKS 256

/* Rows [lo, hi) of c as their own corpus (texts only). */
static int sub_corpus(const dg_corpus *c, int64_t lo, int64_t hi, dg_corpus **out,
                      dg_error *err)
{
    dg_text_opts o = dg_text_defaults();
    int rc;

    o.label_key = NULL;
    if ((rc = dg_corpus_create(&o, out, err)) != 0)
        return rc;
    for (int64_t i = lo; i < hi; i++) {
        size_t len;
        const char *t = dg_corpus_text(c, i, &len);

        if ((rc = dg_corpus_add(*out, t, len, NULL, NULL, NULL, err)) != 0)
            return rc;
    }
    return 0;
}

/* Raw n-gram counts (N x 2^bits, no tf, idf or L2) of c under fo's
 * tokenisation, in `chunks` slices transformed concurrently. */
static int raw_counts(const dg_featurizer_opts *fo, const dg_corpus *c, int threads, dg_csr *X,
                      dg_error *err)
{
    dg_featurizer_opts raw = *fo;
    dg_featurizer *f = NULL;
    int64_t N = dg_corpus_size(c), nnz = 0;
    int chunks = threads > 0 ? threads : omp_get_max_threads(), rc = 0;
    dg_csr part[PAR_MAX_CHUNKS];
    dg_error errs[PAR_MAX_CHUNKS];
    int rcs[PAR_MAX_CHUNKS];

    raw.idf = 0;
    raw.l2 = 0;
    raw.sublinear_tf = 0;
    chunks = N < PAR_MIN_TEXTS ? 1 : chunks < PAR_MAX_CHUNKS ? chunks : PAR_MAX_CHUNKS;
    memset(X, 0, sizeof *X);
    memset(part, 0, sizeof part);
    if ((rc = dg_featurizer_fit(&raw, NULL, &f, err)) != 0)
        return rc;

    /* pass 1: each chunk tokenised on its own thread (the featurizer is
     * only read); chunk k holds rows [k N / chunks, (k+1) N / chunks) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(chunks)
    for (int k = 0; k < chunks; k++) {
        dg_corpus *sub = NULL;

        rcs[k] = sub_corpus(c, N * k / chunks, N * (k + 1) / chunks, &sub, &errs[k]);
        if (rcs[k] == 0)
            rcs[k] = dg_featurizer_transform(f, sub, &part[k], &errs[k]);
        dg_corpus_free(sub);
    }
    dg_featurizer_free(f);
    for (int k = 0; k < chunks && rc == 0; k++)
        if (rcs[k] != 0) {
            rc = rcs[k];
            if (err)
                *err = errs[k];
        }

    /* pass 2: the chunks stacked in order */
    for (int k = 0; k < chunks; k++)
        nnz += part[k].nnz;
    if (rc == 0) {
        X->rows = N;
        X->cols = (int64_t)1 << fo->bits;
        X->nnz = nnz;
        X->row_ptr = dg__alloc((size_t)N + 1, sizeof *X->row_ptr, 1, err);
        X->col = dg__alloc((size_t)(nnz > 0 ? nnz : 1), sizeof *X->col, 0, err);
        X->val = dg__alloc((size_t)(nnz > 0 ? nnz : 1), sizeof *X->val, 0, err);
        if (!X->row_ptr || !X->col || !X->val)
            rc = DG_ENOMEM;
    }
    for (int64_t k = 0, row = 0; k < chunks && rc == 0; k++) {
        int64_t base = X->row_ptr[row];

        memcpy(X->col + base, part[k].col, sizeof *X->col * (size_t)part[k].nnz);
        memcpy(X->val + base, part[k].val, sizeof *X->val * (size_t)part[k].nnz);
        for (int64_t r = 0; r < part[k].rows; r++)
            X->row_ptr[row + r + 1] = base + part[k].row_ptr[r + 1];
        row += part[k].rows;
    }
    for (int k = 0; k < chunks; k++)
        dg_csr_free(&part[k]);
    if (rc != 0)
        dg_csr_free(X);
    return rc;
}

/* Applies fo's weighting to raw counts in place, as features.c does:
 * tf -> 1 + ln(tf) when sublinear, times idf (2^bits, or NULL), then each
 * non-empty row scaled to unit L2 norm when fo->l2. */
static void weigh(const dg_featurizer_opts *fo, const float *idf, dg_csr *X)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < X->rows; r++) {
        double norm2 = 0.0;

        for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++) {
            double v = X->val[k];

            if (fo->sublinear_tf)
                v = 1.0 + log(v);
            if (idf)
                v *= idf[X->col[k]];
            X->val[k] = (float)v;
            norm2 += v * v;
        }
        if (fo->l2 && norm2 > 0.0)
            for (int64_t k = X->row_ptr[r]; k < X->row_ptr[r + 1]; k++)
                X->val[k] = (float)(X->val[k] / sqrt(norm2));
    }
}

int dg__text_fit_transform(const dg_featurizer_opts *fo, const dg_corpus *c, int threads,
                           dg_featurizer **f, dg_csr *X, dg_error *err)
{
    int64_t V = (int64_t)1 << (fo->bits >= 1 && fo->bits <= DG_HASH_BITS_MAX ? fo->bits : 1);
    int64_t N = dg_corpus_size(c);
    float *idf = NULL;
    int32_t *df = NULL;
    int rc;

    *f = NULL;
    /* raw_counts checks the options before anything else */
    if ((rc = raw_counts(fo, c, threads, X, err)) != 0)
        return rc;
    if (fo->idf) {
        /* document frequency: a CSR row holds each bucket once */
        df = dg__alloc((size_t)V, sizeof *df, 1, err);
        idf = dg__alloc((size_t)V, sizeof *idf, 0, err);
        if (!df || !idf) {
            rc = DG_ENOMEM;
            goto done;
        }
        for (int64_t k = 0; k < X->nnz; k++)
            df[X->col[k]]++;
        for (int64_t j = 0; j < V; j++)
            idf[j] = (float)(log((1.0 + (double)N) / (1.0 + (double)df[j])) + 1.0);
    }
    if ((rc = dg_featurizer_from_idf(fo, idf, V, f, err)) != 0)
        goto done;
    weigh(fo, idf, X);

done:
    if (rc != 0)
        dg_csr_free(X);
    free(df);
    free(idf);
    return rc;
}

int dg__text_transform(const dg_featurizer_opts *fo, const dg_featurizer *f,
                       const dg_corpus *c, int threads, dg_csr *X, dg_error *err)
{
    int rc;

    if ((rc = raw_counts(fo, c, threads, X, err)) != 0)
        return rc;
    weigh(fo, dg_featurizer_idf(f), X);
    return 0;
}
