/* CSV/TSV text reader: a header row names the columns; the text column
 * (and label, id, group when present) of every record goes into a
 * dg_corpus. Fields follow RFC 4180: quotes around a field allow the
 * delimiter, line breaks and "" (one quote) inside it.
 */
#include "text/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most columns a header may have. */
#define CSV_MAX_COLUMNS 65536
/* Longest integer label spelling accepted as an integer ("-2147483648"). */
#define INT_LABEL_MAX 11

/* Reader state: s[0..n) the cleaned file, i the cursor, line the 1-based
 * line of the cursor and line_start the offset where that line began. */
typedef struct csv {
    const char *s;
    size_t n, i, line_start;
    int64_t line;
    char delim;
    const char *path;
    dg__buf cells;    /* the current record's fields, each NUL-terminated */
    size_t *off;      /* start of field k in cells */
    int nf, cap;      /* fields in the current record, capacity of off */
    dg_error *err;
} csv;

/* Begins a new field at the end of cells. */
static int field_begin(csv *r)
{
    if (r->nf == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        size_t *off;

        if (cap > CSV_MAX_COLUMNS)
            return dg__fail(r->err, DG_EFORMAT, "%s: line %" PRId64 ": more than %d fields",
                            r->path, r->line, CSV_MAX_COLUMNS);
        off = realloc(r->off, (size_t)cap * sizeof *off);
        if (!off)
            return dg__fail(r->err, DG_ENOMEM, "out of memory reading %s", r->path);
        r->off = off;
        r->cap = cap;
    }
    r->off[r->nf++] = r->cells.n;
    return 0;
}

/* Reads one record starting at the cursor into cells/off; the cursor ends
 * after its line break. */
static int read_record(csv *r)
{
    int rc;

    r->nf = 0;
    r->cells.n = 0;
    for (;;) {
        if ((rc = field_begin(r)))
            return rc;
        if (r->i < r->n && r->s[r->i] == '"') {
            int64_t open_line = r->line;
            size_t open_byte = r->i - r->line_start + 1;

            r->i++;
            for (;;) {
                size_t run = r->i;

                while (r->i < r->n && r->s[r->i] != '"') {
                    if (r->s[r->i] == '\n')
                        r->line++, r->line_start = r->i + 1;
                    r->i++;
                }
                if ((rc = dg__buf_put(&r->cells, r->s + run, r->i - run, r->err)))
                    return rc;
                if (r->i >= r->n)
                    return dg__fail(r->err, DG_EFORMAT, "%s: line %" PRId64 ", byte %zu: "
                                    "quoted field never closed (expected '\"' before the end "
                                    "of the file)", r->path, open_line, open_byte);
                if (r->i + 1 < r->n && r->s[r->i + 1] == '"') {
                    if ((rc = dg__buf_put(&r->cells, "\"", 1, r->err)))
                        return rc;
                    r->i += 2;
                    continue;
                }
                r->i++;
                break;
            }
            if (r->i + 1 < r->n && r->s[r->i] == '\r' && r->s[r->i + 1] == '\n')
                r->i++;
            if (r->i < r->n && r->s[r->i] != r->delim && r->s[r->i] != '\n')
                return dg__fail(r->err, DG_EFORMAT, "%s: line %" PRId64 ", byte %zu: expected "
                                "a delimiter or a line end after a closing quote, found '%c'",
                                r->path, r->line, r->i - r->line_start + 1, r->s[r->i]);
        } else {
            size_t run = r->i, end;

            while (r->i < r->n && r->s[r->i] != r->delim && r->s[r->i] != '\n')
                r->i++;
            end = r->i;
            if (end > run && r->s[end - 1] == '\r' && (end == r->n || r->s[end] == '\n'))
                end--;
            if ((rc = dg__buf_put(&r->cells, r->s + run, end - run, r->err)))
                return rc;
        }
        if ((rc = dg__buf_put(&r->cells, "", 1, r->err)))
            return rc;
        if (r->i < r->n && r->s[r->i] == r->delim) {
            r->i++;
            continue;
        }
        if (r->i < r->n) {
            r->i++;
            r->line++;
            r->line_start = r->i;
        }
        return 0;
    }
}

/* Skips lines that are entirely empty (LF or CRLF). */
static void skip_blank_lines(csv *r)
{
    for (;;) {
        if (r->i < r->n && r->s[r->i] == '\n')
            r->i++;
        else if (r->i + 1 < r->n && r->s[r->i] == '\r' && r->s[r->i + 1] == '\n')
            r->i += 2;
        else
            return;
        r->line++;
        r->line_start = r->i;
    }
}

static const char *cell(const csv *r, int k)
{
    return r->cells.p + r->off[k];
}

/* Whether s spells a decimal integer short enough for an int32 label. */
static int is_integer(const char *s)
{
    size_t len = strlen(s), k = s[0] == '-';

    if (len <= k || len > INT_LABEL_MAX)
        return 0;
    for (; k < len; k++)
        if (s[k] < '0' || s[k] > '9')
            return 0;
    return 1;
}

/* The class id of a label cell: empty is none; a given or earlier class
 * name, else an integer spelling, else a new name. */
static int label_of(csv *r, dg_corpus *c, const char *s, const char *where, int32_t *id)
{
    *id = -1;
    if (!s[0])
        return 0;
    for (int k = 0; k < c->C; k++)
        if (strcmp(c->names[k], s) == 0) {
            *id = k;
            return 0;
        }
    if (is_integer(s))
        return dg__corpus_label_int(c, strtoll(s, NULL, 10), where, id, r->err);
    return dg__corpus_label_name(c, s, where, id, r->err);
}

/* Column index of name in the header record, -1 when absent or name NULL. */
static int column(const csv *r, const char *name)
{
    for (int k = 0; name && k < r->nf; k++)
        if (strcmp(cell(r, k), name) == 0)
            return k;
    return -1;
}

/* Whether path ends in ext (case-insensitive). */
static int ends_with(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);

    return n >= m && strcasecmp(path + n - m, ext) == 0;
}

int dg_read_text_csv(const char *path, const dg_text_opts *opts, dg_corpus **out,
                     dg_error *err)
{
    dg_text_opts o = opts ? *opts : dg_text_defaults();
    dg__buf clean = {0};
    dg_corpus *c = NULL;
    csv r;
    int col[4], header_fields, rc;

    *out = NULL;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.err = err;
    r.line = 1;
    r.delim = o.delimiter ? o.delimiter
              : ends_with(path, ".tsv") || ends_with(path, ".tab") ? '\t' : ',';
    if (!o.text_key)
        return dg__fail(err, DG_EINVAL, "%s: no text column given", path);
    if ((rc = dg_corpus_create(&o, &c, err)) ||
        (rc = dg__read_text_file(path, o.invalid_utf8, &clean, &c->replaced, err)))
        goto done;
    r.s = clean.p;
    r.n = clean.n;

    /* The header names the columns. */
    skip_blank_lines(&r);
    if (r.i >= r.n) {
        rc = dg__fail(err, DG_EFORMAT, "%s: line 1: expected a header row naming a \"%s\" "
                      "column, found an empty file", path, o.text_key);
        goto done;
    }
    if ((rc = read_record(&r)))
        goto done;
    col[0] = column(&r, o.text_key);
    col[1] = column(&r, o.label_key);
    col[2] = column(&r, o.id_key);
    col[3] = column(&r, o.group_key);
    header_fields = r.nf;
    if (col[0] < 0) {
        rc = dg__fail(err, DG_EFORMAT, "%s: line 1: expected a column named \"%s\" in the "
                      "header, found %d columns starting with \"%s\"", path, o.text_key, r.nf,
                      cell(&r, 0));
        goto done;
    }

    /* One record per text. */
    for (;;) {
        char where[DG_ERROR_MSG / 2];
        int64_t line;
        int32_t label = -1;

        skip_blank_lines(&r);
        if (r.i >= r.n)
            break;
        line = r.line;
        if ((rc = read_record(&r)))
            goto done;
        snprintf(where, sizeof where, "%s: line %" PRId64, path, line);
        if (r.nf != header_fields) {
            rc = dg__fail(err, DG_EFORMAT, "%s: expected %d fields as in the header, found %d",
                          where, header_fields, r.nf);
            goto done;
        }
        if (col[1] >= 0 && (rc = label_of(&r, c, cell(&r, col[1]), where, &label)))
            goto done;
        /* Limit: a text cell ends at its first NUL byte; JSONL keeps U+0000. */
        rc = dg__corpus_push(c, cell(&r, col[0]), strlen(cell(&r, col[0])), label,
                             col[2] >= 0 ? cell(&r, col[2]) : NULL,
                             col[3] >= 0 ? cell(&r, col[3]) : NULL, err);
        if (rc)
            goto done;
    }

done:
    dg__buf_free(&clean);
    dg__buf_free(&r.cells);
    free(r.off);
    if (rc) {
        dg_corpus_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
