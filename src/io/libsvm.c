/* LIBSVM / SVMlight text: one row per line, "label idx:val idx:val ...
 * # comment", 1-based strictly increasing indices. Densified to N x D
 * floats, D = max(largest index, n_features); missing entries are 0.
 * Two passes over the file in memory: count and check, then fill.
 */
#include "io/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Limit: larger indices are refused, since the matrix is stored dense. */
#define LIBSVM_MAX_INDEX ((int64_t)1 << 24)
#define LIBSVM_QUOTE_MAX 40

/* What pass 1 learns about the file. */
typedef struct libsvm_scan {
    int64_t rows, max_index;
    int other_labels;   /* a label other than -1 and +1 appeared */
    int saw_minus, saw_plus;
} libsvm_scan;

/* How many bytes of a token [s, e) an error message quotes. */
static int quote_len(const char *s, const char *e)
{
    return e - s < LIBSVM_QUOTE_MAX ? (int)(e - s) : LIBSVM_QUOTE_MAX;
}

/* Parses the digits [s, e) as an index; -1 when not all digits, and stops
 * (returning a value above the limit) once the limit is passed. */
static int64_t parse_index(const char *s, const char *e)
{
    int64_t idx = 0;

    if (s == e)
        return -1;
    for (; s < e; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        idx = idx * 10 + (*s - '0');
        if (idx > LIBSVM_MAX_INDEX)
            break;
    }
    return idx;
}

/* Parses [s, e) as a whole number; 0 when it is not one. */
static int parse_span(const char *s, const char *e, double *out)
{
    char *end;

    if (s == e || isspace((unsigned char)*s))
        return 0;
    *out = strtod(s, &end);
    return end == e;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses the line [s, e) (comment already cut) as row `row`; writes into
 * X_row (D floats) and *label when they are not NULL, else only checks and
 * records into scan. Returns 0, or 1 for a blank line, or a DG_E* code. */
static int parse_line(const char *path, int64_t line, const char *s, const char *e,
                      float *X_row, int32_t *label, libsvm_scan *scan, dg_error *err)
{
    const char *start = s, *tok;
    int64_t prev = 0;
    double v;

    while (s < e && is_blank(*s))
        s++;
    if (s == e)
        return 1;

    /* The label. */
    tok = s;
    while (s < e && !is_blank(*s))
        s++;
    if (!parse_span(tok, s, &v) || v != floor(v) || v < -1 || v > INT32_MAX)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld, column %lld: expected an integer "
                        "label (>= 0, or -1), found '%.*s'", path, (long long)line,
                        (long long)(tok - start + 1), quote_len(tok, s), tok);
    if (label)
        *label = (int32_t)v;
    scan->saw_minus |= v == -1;
    scan->saw_plus |= v == 1;
    scan->other_labels |= v != -1 && v != 1;

    /* The index:value pairs. */
    for (;;) {
        const char *colon;
        int64_t idx;

        while (s < e && is_blank(*s))
            s++;
        if (s == e)
            return 0;
        tok = s;
        while (s < e && !is_blank(*s))
            s++;
        colon = memchr(tok, ':', (size_t)(s - tok));
        idx = colon ? parse_index(tok, colon) : -1;
        if (idx < 0 || !parse_span(colon + 1, s, &v))
            return dg__fail(err, DG_EFORMAT, "%s: line %lld, column %lld: expected "
                            "index:value, found '%.*s'", path, (long long)line,
                            (long long)(tok - start + 1), quote_len(tok, s), tok);
        if (idx < 1 || idx > LIBSVM_MAX_INDEX || idx <= prev)
            return dg__fail(err, DG_EFORMAT, "%s: line %lld, column %lld: index %lld, expected "
                            "an index in %lld..%lld, above the previous one", path,
                            (long long)line, (long long)(tok - start + 1),
                            idx > LIBSVM_MAX_INDEX ? (long long)LIBSVM_MAX_INDEX + 1 :
                            (long long)idx, (long long)prev + 1, (long long)LIBSVM_MAX_INDEX);
        if (!isfinite((float)v))
            return dg__fail(err, DG_EFORMAT, "%s: line %lld, column %lld: value '%.*s' is not "
                            "a finite float32 number", path, (long long)line,
                            (long long)(colon + 1 - start + 1), quote_len(colon + 1, s),
                            colon + 1);
        if (X_row)
            X_row[idx - 1] = (float)v;
        if (idx > scan->max_index)
            scan->max_index = idx;
        prev = idx;
    }
}

/* One pass over all lines; fills X (rows x D) and y when not NULL. */
static int scan_file(const char *path, const dg__bytes *b, int64_t D, float *X, int32_t *y,
                     libsvm_scan *scan, dg_error *err)
{
    const char *p = (const char *)b->data, *end = p + b->len;
    int64_t line = 0;
    int rc;

    memset(scan, 0, sizeof *scan);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *cut;

        line++;
        if (!eol)
            eol = end;
        cut = memchr(p, '#', (size_t)(eol - p));
        if (!cut)
            cut = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (memchr(p, '\0', (size_t)(cut - p)))
            return dg__fail(err, DG_EFORMAT, "%s: line %lld: NUL byte, expected text", path,
                            (long long)line);
        rc = parse_line(path, line, p, cut, X ? X + scan->rows * D : NULL,
                        y ? y + scan->rows : NULL, scan, err);
        if (rc < 0)
            return rc;
        scan->rows += rc == 0;
        p = eol + 1;
    }
    return 0;
}

int dg_read_libsvm(const char *path, int64_t n_features, dg_matrix *features,
                   dg_labels *labels, dg_error *err)
{
    libsvm_scan scan;
    dg__bytes b;
    int64_t D, count;
    float *X = NULL;
    int32_t *y = NULL;
    int rc;

    memset(features, 0, sizeof *features);
    if (labels)
        memset(labels, 0, sizeof *labels);
    if (n_features < 0 || n_features > LIBSVM_MAX_INDEX)
        return dg__fail(err, DG_EINVAL, "%s: n_features %lld, expected 0..%lld", path,
                        (long long)n_features, (long long)LIBSVM_MAX_INDEX);
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    if ((rc = scan_file(path, &b, 0, NULL, NULL, &scan, err)) != 0)
        goto done;
    if (scan.rows == 0) {
        rc = dg__fail(err, DG_EFORMAT, "%s: %s, expected LIBSVM rows \"label index:value ...\"",
                      path, b.len ? "no rows, only blank or comment lines" : "file is empty");
        goto done;
    }
    D = scan.max_index > n_features ? scan.max_index : n_features;
    if (!dg__mul_le(scan.rows, D, (int64_t)(SIZE_MAX / 2) / sizeof(float), &count)) {
        rc = dg__fail(err, DG_ENOMEM, "%s: %lld rows x %lld features overflow a size", path,
                      (long long)scan.rows, (long long)D);
        goto done;
    }
    X = dg__alloc((size_t)count, sizeof *X, 1, err);
    y = X ? dg__alloc((size_t)scan.rows, sizeof *y, 0, err) : NULL;
    if (!y) {
        rc = DG_ENOMEM;
        goto done;
    }
    if ((rc = scan_file(path, &b, D, X, y, &scan, err)) != 0)
        goto done;

    /* Binary files label their classes -1 and +1; read those as 0 and 1.
     * Limit: so a file whose only labels are +1 and -1 (no label) would be
     * misread as two classes; write such files with 1 and -1 plus a 0. */
    if (scan.saw_minus && scan.saw_plus && !scan.other_labels)
        for (int64_t i = 0; i < scan.rows; i++)
            y[i] = y[i] > 0;

    features->rows = scan.rows;
    features->cols = D;
    features->data = X;
    X = NULL;
    if (labels) {
        labels->n = scan.rows;
        labels->data = y;
        y = NULL;
    }
done:
    free(X);
    free(y);
    dg__bytes_free(&b);
    return rc;
}
