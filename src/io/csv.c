/* CSV and TSV: numeric feature columns plus an optional integer label
 * column, read from memory into an N x D float matrix; and the CSV writer.
 * Handles quoted fields with "" escapes, CRLF or CR line ends, a UTF-8 BOM,
 * and guesses whether the first row is a header.
 */
#include "io/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_BOM "\xef\xbb\xbf"
#define CSV_MAX_FIELDS ((int64_t)1 << 24)
/* How much of an offending cell an error message quotes. */
#define CSV_QUOTE_MAX 40

/* The reader: a cursor over the file's bytes and the current record, whose
 * fields are stored unescaped and NUL-terminated in buf at offsets field[]. */
typedef struct csv_reader {
    const char *path;
    const char *p, *end, *line_start;
    char delim;
    int64_t line;        /* 1-based line of the cursor */
    int64_t record_line; /* line where the current record starts */
    char *buf;
    size_t buf_len, buf_cap;
    size_t *field;
    int64_t n_fields, field_cap;
} csv_reader;

/* Where the reader stands, to come back to it. */
typedef struct csv_mark {
    const char *p, *line_start;
    int64_t line;
} csv_mark;

dg_csv_opts dg_csv_defaults(void)
{
    dg_csv_opts o;

    o.label_column = NULL;
    o.header = -1;
    o.delimiter = 0;
    o.allow_nan = 0;
    return o;
}

void dg_names_free(char **names, int64_t n)
{
    if (!names)
        return;
    for (int64_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static csv_mark csv_tell(const csv_reader *r)
{
    csv_mark m = {r->p, r->line_start, r->line};

    return m;
}

static void csv_seek(csv_reader *r, csv_mark m)
{
    r->p = m.p;
    r->line_start = m.line_start;
    r->line = m.line;
}

static int csv_push(csv_reader *r, char c, dg_error *err)
{
    if (r->buf_len == r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
        char *grown = cap > r->buf_cap ? realloc(r->buf, cap) : NULL;

        if (!grown)
            return dg__fail(err, DG_ENOMEM, "%s: line %lld: out of memory for a record",
                            r->path, (long long)r->record_line);
        r->buf = grown;
        r->buf_cap = cap;
    }
    r->buf[r->buf_len++] = c;
    return 0;
}

static int csv_new_field(csv_reader *r, dg_error *err)
{
    if (r->n_fields == r->field_cap) {
        int64_t cap = r->field_cap ? r->field_cap * 2 : 64;
        size_t *grown;

        if (r->n_fields >= CSV_MAX_FIELDS)
            return dg__fail(err, DG_EFORMAT, "%s: line %lld has more than %lld fields",
                            r->path, (long long)r->record_line, (long long)CSV_MAX_FIELDS);
        if (!(grown = realloc(r->field, (size_t)cap * sizeof *grown)))
            return dg__fail(err, DG_ENOMEM, "%s: line %lld: out of memory for a record",
                            r->path, (long long)r->record_line);
        r->field = grown;
        r->field_cap = cap;
    }
    r->field[r->n_fields++] = r->buf_len;
    return 0;
}

/* Steps over one line end ("\n", "\r\n" or "\r") at the cursor. */
static void csv_newline(csv_reader *r)
{
    if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n')
        r->p++;
    r->p++;
    r->line++;
    r->line_start = r->p;
}

/* Reads the next record, skipping blank lines: 1 when one was read, 0 at
 * the end of the file, a DG_E* code on error. */
static int csv_next(csv_reader *r, dg_error *err)
{
    int rc;

    while (r->p < r->end && (*r->p == '\n' || *r->p == '\r'))
        csv_newline(r);
    if (r->p == r->end)
        return 0;
    r->record_line = r->line;
    r->n_fields = 0;
    r->buf_len = 0;
    for (;;) {
        if ((rc = csv_new_field(r, err)) != 0)
            return rc;
        if (r->p < r->end && *r->p == '"') {
            int64_t open_line = r->line, open_col = r->p - r->line_start + 1;

            r->p++;
            for (;;) {
                if (r->p == r->end)
                    return dg__fail(err, DG_EFORMAT,
                                    "%s: line %lld, byte %lld: quoted field is never closed",
                                    r->path, (long long)open_line, (long long)open_col);
                if (*r->p == '"' && !(r->p + 1 < r->end && r->p[1] == '"')) {
                    r->p++;
                    break;
                }
                if (*r->p == '"')
                    r->p++;
                if ((rc = csv_push(r, *r->p, err)) != 0)
                    return rc;
                if (*r->p == '\n' || (*r->p == '\r' && !(r->p + 1 < r->end && r->p[1] == '\n')))
                    r->line++, r->line_start = r->p + 1;
                r->p++;
            }
            if (r->p < r->end && *r->p != r->delim && *r->p != '\n' && *r->p != '\r')
                return dg__fail(err, DG_EFORMAT,
                                "%s: line %lld, byte %lld: expected '%c' or a line end after "
                                "a closing quote, found '%c'", r->path, (long long)r->line,
                                (long long)(r->p - r->line_start + 1),
                                r->delim == '\t' ? ' ' : r->delim, *r->p);
        } else {
            while (r->p < r->end && *r->p != r->delim && *r->p != '\n' && *r->p != '\r')
                if ((rc = csv_push(r, *r->p++, err)) != 0)
                    return rc;
        }
        if ((rc = csv_push(r, '\0', err)) != 0)
            return rc;
        if (r->p < r->end && *r->p == r->delim) {
            r->p++;
            continue;
        }
        if (r->p < r->end)
            csv_newline(r);
        return 1;
    }
}

static const char *csv_field(const csv_reader *r, int64_t j)
{
    return r->buf + r->field[j];
}

/* Parses a whole cell as a number, blanks around it allowed. */
static int parse_number(const char *s, double *out)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    if (end == s)
        return 0;
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0';
}

/* "column 'name' (field 3)", or "field 3" without a header. */
static void column_name(char *out, size_t cap, char *const *names, int64_t j)
{
    if (names)
        snprintf(out, cap, "column '%.*s' (field %lld)", CSV_QUOTE_MAX, names[j],
                 (long long)j + 1);
    else
        snprintf(out, cap, "field %lld", (long long)j + 1);
}

/* Finds the label column by name (needs a header) or 0-based index. */
static int find_label_column(const char *path, const char *spec, char *const *names,
                             int64_t ncols, int64_t *out, dg_error *err)
{
    char *end;
    long long idx;

    for (int64_t j = 0; names && j < ncols; j++)
        if (strcmp(names[j], spec) == 0) {
            *out = j;
            return 0;
        }
    errno = 0;
    idx = strtoll(spec, &end, 10);
    if (isdigit((unsigned char)spec[0]) && *end == '\0' && errno == 0) {
        if (idx >= ncols)
            return dg__fail(err, DG_EINVAL,
                            "%s: label column %lld is out of range: the file has %lld columns "
                            "(0-based indices 0..%lld)", path, idx, (long long)ncols,
                            (long long)ncols - 1);
        *out = idx;
        return 0;
    }
    if (!names)
        return dg__fail(err, DG_EINVAL,
                        "%s: label column '%s' is a name but the file has no header row; "
                        "give a 0-based column index", path, spec);
    return dg__fail(err, DG_EINVAL, "%s: no column named '%s' in the header on line 1", path,
                    spec);
}

/* Copies the current record's fields into a new array of strings. */
static char **copy_fields(const csv_reader *r, dg_error *err)
{
    char **names = dg__alloc((size_t)r->n_fields, sizeof *names, 1, err);

    for (int64_t j = 0; names && j < r->n_fields; j++)
        if (!(names[j] = strdup(csv_field(r, j)))) {
            dg_names_free(names, j);
            dg__fail(err, DG_ENOMEM, "%s: out of memory copying the header", r->path);
            return NULL;
        }
    return names;
}

/* The header guess: the first row has a non-empty, non-numeric cell in a
 * column whose cell in the second row is numeric (or, with one row only,
 * any non-numeric cell). */
static int looks_like_header(char *const *first, int64_t n_first, const csv_reader *second,
                             int have_second)
{
    double v;

    for (int64_t j = 0; j < n_first; j++) {
        int text = first[j][0] != '\0' && !parse_number(first[j], &v);

        if (text && !have_second)
            return 1;
        if (text && j < second->n_fields && parse_number(csv_field(second, j), &v))
            return 1;
    }
    return 0;
}

/* Parses one label cell: an integer >= 0, -1, or empty (no label: -1). */
static int parse_label(const char *s, int32_t *out)
{
    double v;
    const char *t = s;

    while (isspace((unsigned char)*t))
        t++;
    if (!*t) {
        *out = -1;
        return 1;
    }
    if (!parse_number(s, &v) || v != floor(v) || v < -1 || v > INT32_MAX)
        return 0;
    *out = (int32_t)v;
    return 1;
}

/* Grows X (cap rows of D floats) and y (cap labels) for one more row. */
static int grow_rows(const char *path, int64_t rows, int64_t D, int want_labels,
                     int64_t *cap, float **X, int32_t **y, dg_error *err)
{
    int64_t new_cap, bytes;
    void *grown;

    if (rows < *cap)
        return 0;
    new_cap = *cap ? *cap * 2 : 1024;
    if (!dg__mul_le(new_cap, D > 0 ? D : 1, (int64_t)(SIZE_MAX / 2) / sizeof(float), &bytes))
        return dg__fail(err, DG_ENOMEM, "%s: %lld rows of %lld columns overflow a size", path,
                        (long long)new_cap, (long long)D);
    if (!(grown = realloc(*X, (size_t)bytes * sizeof(float))))
        return dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld rows", path,
                        (long long)rows);
    *X = grown;
    if (want_labels) {
        if (!(grown = realloc(*y, (size_t)new_cap * sizeof(int32_t))))
            return dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld rows", path,
                            (long long)rows);
        *y = grown;
    }
    *cap = new_cap;
    return 0;
}

/* Reads every data row after the header decision into X (N x D) and y. */
/* first_line is where the first record (header or data) starts. */
static int read_rows(csv_reader *r, const dg_csv_opts *o, char *const *names, int64_t ncols,
                     int64_t label_col, int64_t first_line, dg_matrix *X, dg_labels *y,
                     dg_error *err)
{
    int64_t D = ncols - (label_col >= 0), rows = 0, cap = 0;
    float *data = NULL;
    int32_t *labels = NULL;
    char where[CSV_QUOTE_MAX + 40];
    int rc;

    while ((rc = csv_next(r, err)) > 0) {
        float *row;
        int64_t k = 0;

        if (r->n_fields != ncols) {
            rc = dg__fail(err, DG_EFORMAT, "%s: line %lld has %lld fields, expected %lld (as "
                          "on line %lld)", r->path, (long long)r->record_line,
                          (long long)r->n_fields, (long long)ncols, (long long)first_line);
            break;
        }
        if ((rc = grow_rows(r->path, rows, D, label_col >= 0, &cap, &data, &labels, err)))
            break;
        row = data + rows * D;
        for (int64_t j = 0; j < ncols && rc == 0; j++) {
            const char *cell = csv_field(r, j);
            double v;

            column_name(where, sizeof where, names, j);
            if (j == label_col) {
                if (!parse_label(cell, &labels[rows]))
                    rc = dg__fail(err, DG_EFORMAT, "%s: line %lld, %s: expected a class id "
                                  "(an integer >= 0), found '%.*s'", r->path,
                                  (long long)r->record_line, where, CSV_QUOTE_MAX, cell);
                continue;
            }
            if (!parse_number(cell, &v))
                rc = dg__fail(err, DG_EFORMAT, "%s: line %lld, %s: expected a number, found "
                              "'%.*s'", r->path, (long long)r->record_line, where,
                              CSV_QUOTE_MAX, cell);
            else if (!o->allow_nan && !isfinite((float)v))
                rc = dg__fail(err, DG_EFORMAT, "%s: line %lld, %s: expected a finite float32 "
                              "number, found '%.*s' (NaN and Inf need allow_nan)", r->path,
                              (long long)r->record_line, where, CSV_QUOTE_MAX, cell);
            else
                row[k++] = (float)v;
        }
        if (rc != 0)
            break;
        rows++;
    }
    if (rc == 0 && rows == 0)
        rc = dg__fail(err, DG_EFORMAT, "%s: no data rows after the header on line %lld",
                      r->path, (long long)first_line);
    if (rc != 0) {
        free(data);
        free(labels);
        return rc;
    }
    X->rows = rows;
    X->cols = D;
    X->data = data;
    if (y) {
        y->n = label_col >= 0 ? rows : 0;
        y->data = labels;
    } else {
        free(labels);
    }
    return 0;
}

int dg__csv_records(const char *path, char delimiter, dg__csv_record_fn fn, void *user,
                    dg_error *err)
{
    csv_reader r;
    dg__bytes b;
    const char **cells = NULL;
    int64_t cells_cap = 0;
    int rc;

    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.p = r.line_start = (const char *)b.data;
    r.end = r.p + b.len;
    r.line = 1;
    r.delim = delimiter ? delimiter : dg__has_suffix(path, ".tsv") ? '\t' : ',';
    if (b.len >= 3 && memcmp(r.p, CSV_BOM, 3) == 0)
        r.p += 3;
    if (memchr(r.p, '\0', (size_t)(r.end - r.p)))
        rc = dg__fail(err, DG_EFORMAT, "%s: NUL byte in the file, expected text", path);

    /* Hand each record to fn as an array of NUL-terminated cells. */
    while (rc == 0 && (rc = csv_next(&r, err)) > 0) {
        if (r.n_fields > cells_cap) {
            const char **grown = realloc(cells, (size_t)r.n_fields * sizeof *cells);

            if (!grown) {
                rc = dg__fail(err, DG_ENOMEM, "%s: out of memory for a record", path);
                break;
            }
            cells = grown;
            cells_cap = r.n_fields;
        }
        for (int64_t j = 0; j < r.n_fields; j++)
            cells[j] = csv_field(&r, j);
        rc = fn(user, r.record_line, cells, r.n_fields, err);
    }
    free(cells);
    free(r.buf);
    free(r.field);
    dg__bytes_free(&b);
    return rc < 0 ? rc : 0;
}

int dg_read_csv(const char *path, const dg_csv_opts *opts, dg_matrix *features,
                dg_labels *labels, char ***names, dg_error *err)
{
    dg_csv_opts o = opts ? *opts : dg_csv_defaults();
    csv_reader r;
    csv_mark start, after_first;
    dg__bytes b;
    char **first = NULL;
    int64_t ncols = 0, label_col = -1, first_line = 1;
    const char *nul;
    int rc, header;

    memset(features, 0, sizeof *features);
    if (labels)
        memset(labels, 0, sizeof *labels);
    if (names)
        *names = NULL;
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.p = r.line_start = (const char *)b.data;
    r.end = r.p + b.len;
    r.line = 1;
    r.delim = o.delimiter ? o.delimiter : dg__has_suffix(path, ".tsv") ? '\t' : ',';
    if (b.len >= 3 && memcmp(r.p, CSV_BOM, 3) == 0)
        r.p += 3;

    /* A NUL byte means a binary file; the field buffer could not hold it. */
    if ((nul = memchr(r.p, '\0', (size_t)(r.end - r.p))) != NULL) {
        int64_t line = 1;

        for (const char *q = r.p; q < nul; q++)
            line += *q == '\n';
        rc = dg__fail(err, DG_EFORMAT, "%s: line %lld, byte %lld of the file: NUL byte, "
                      "expected text", path, (long long)line, (long long)(nul - r.p));
        goto done;
    }

    start = csv_tell(&r);
    if ((rc = csv_next(&r, err)) <= 0) {
        if (rc == 0)
            rc = dg__fail(err, DG_EFORMAT, "%s: file is empty, expected CSV rows", path);
        goto done;
    }
    ncols = r.n_fields;
    first_line = r.record_line;
    if (!(first = copy_fields(&r, err))) {
        rc = DG_ENOMEM;
        goto done;
    }
    after_first = csv_tell(&r);
    header = o.header;
    if (header < 0) {
        if ((rc = csv_next(&r, err)) < 0)
            goto done;
        header = looks_like_header(first, ncols, &r, rc > 0);
    }
    if (!header) {
        dg_names_free(first, ncols);
        first = NULL;
    }
    csv_seek(&r, header ? after_first : start);

    if (o.label_column &&
        (rc = find_label_column(path, o.label_column, first, ncols, &label_col, err)) != 0)
        goto done;
    rc = read_rows(&r, &o, first, ncols, label_col, first_line, features, labels, err);
    if (rc != 0)
        goto done;

    /* Hand over the feature columns' names, the label column's dropped. */
    if (names && first) {
        int64_t k = 0;

        for (int64_t j = 0; j < ncols; j++) {
            if (j == label_col)
                free(first[j]);
            else
                first[k++] = first[j];
        }
        *names = first;
        first = NULL;
    }

done:
    dg_names_free(first, ncols);
    free(r.buf);
    free(r.field);
    dg__bytes_free(&b);
    return rc < 0 ? rc : 0;
}

/* Writes one cell, quoted when it holds a delimiter, quote or line end. */
static void write_cell(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

int dg_write_csv(const char *path, const float *data, int64_t rows, int64_t cols,
                 const char *const *header, dg_error *err)
{
    dg__outfile o;
    int64_t count;
    int rc;

    if (!dg__mul_le(rows, cols, INT64_MAX, &count) || cols == 0 || (count > 0 && !data))
        return dg__fail(err, DG_EINVAL, "%s: cannot write a %lld x %lld matrix%s", path,
                        (long long)rows, (long long)cols, data ? "" : " from NULL");
    if ((rc = dg__out_open(&o, path, err)) != 0)
        return rc;
    for (int64_t j = 0; header && j < cols; j++) {
        write_cell(o.fp, header[j] ? header[j] : "");
        fputc(j + 1 < cols ? ',' : '\n', o.fp);
    }
    /* %.9g: nine significant digits read back to the same float32. */
    for (int64_t i = 0; i < rows && !ferror(o.fp); i++)
        for (int64_t j = 0; j < cols; j++)
            fprintf(o.fp, j + 1 < cols ? "%.9g," : "%.9g\n", data[i * cols + j]);
    return dg__out_commit(&o, err);
}
