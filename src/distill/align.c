/* Teacher files as real labelers write them: rows keyed by id in any
 * order, with gaps and abstentions (CSV with an id column, or JSONL of
 * {"id", "probs" | "label"} read by io/keyed.c), and classes named in any
 * order; each is aligned to the data's ids and class list and handed to
 * teachers.c. Positional files (.npy, CSV without ids) pass through here too.
 *
 * Legend: M teachers, N data rows, C classes.
 */
#include "distill/align.h"
#include "io/io.h"
#include "io/keyed.h"
#include "io/names.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Most class names an error message lists. */
#define NAMES_SHOWN 8

dg_align_opts dg_align_defaults(void)
{
    dg_align_opts o;

    memset(&o, 0, sizeof o);
    o.id_key = "id";
    return o;
}

/* ------------------------------------------------------------------------
 * Aligning teacher files
 */

/* What the files are aligned to, learnt from the options or the files. */
typedef struct target {
    const dg_align_opts *o;
    int64_t N;             /* 0 until known */
    const char *N_source;  /* file N came from; NULL: the data */
    int C;                 /* 0 until known */
    const char *C_source;
    char **names;          /* C class names, or NULL while only the count is known */
    int own_names;
    dg__name_index classes;
    dg__name_index ids;    /* over o->ids when given */
} target;

/* One teacher file aligned: x (N x C), present (N), line (N, 0: none). */
typedef struct aligned {
    const char *path;
    target *t;
    float *x;
    unsigned char *present;
    int64_t *line;
    int64_t *col_class;    /* keyed CSV: class id of each field, -1 for the id */
    int64_t n_cols;
    int keyed, hard;
    char **seen;           /* JSONL first pass: distinct class names seen */
    int64_t n_seen, cap_seen;
} aligned;

/* "cat, dog, ..." for messages. */
static void list_names(const target *t, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (int k = 0; k < t->C && k < NAMES_SHOWN && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%.*s", k ? ", " : "", DG__QUOTE_MAX / 2,
                                t->names[k]);
    if (t->C > NAMES_SHOWN && len < cap)
        snprintf(out + len, cap - len, ", ...");
}

/* Makes `names` (n, from `source`) the class list, sorted, when none is
 * known yet; only a count must agree. */
static int adopt_classes(target *t, const char *const *names, int64_t n, const char *source,
                         dg_error *err)
{
    int64_t first, dup;
    int rc;

    if (t->names)
        return 0;
    if (t->C && n != t->C)
        return dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld classes but %s has %d",
                        source, (long long)n, t->C_source, t->C);
    if (n < 1 || n > INT32_MAX)
        return dg__fail(err, DG_EFORMAT, "%s: %lld class names, expected 1 to %d", source,
                        (long long)n, INT32_MAX);
    if (!(t->names = dg__alloc((size_t)n, sizeof *t->names, 1, err)))
        return DG_ENOMEM;
    t->own_names = 1;
    t->C = (int)n;
    t->C_source = source;
    for (int64_t k = 0; k < n; k++)
        if (!(t->names[k] = strdup(names[k])))
            return dg__fail(err, DG_ENOMEM, "%s: out of memory copying class names", source);
    dg_class_names_sort(t->names, t->C);
    rc = dg__name_index_build(&t->classes, (const char *const *)t->names, t->C, &first, &dup,
                              err);
    if (rc == DG_EFORMAT)
        return dg__fail(err, DG_EFORMAT, "%s: class '%.*s' is named twice", source, DG__QUOTE_MAX,
                        t->names[dup]);
    return rc;
}

/* Class id of `name` in a file's header or line; unknown is an error. */
static int class_of(target *t, const char *path, int64_t line, const char *name, int64_t *k,
                    dg_error *err)
{
    char shown[DG_ERROR_MSG / 2];

    if ((*k = dg__name_find(&t->classes, name)) >= 0)
        return 0;
    list_names(t, shown, sizeof shown);
    return dg__fail(err, DG_EFORMAT, "%s: line %lld: class '%.*s' is not one of the %d "
                    "classes (%s)", path, (long long)line, DG__QUOTE_MAX, name, t->C, shown);
}

/* filled (C) marks the classes a header or line gave; the first one left
 * out is an error. */
static int check_all_classes(target *t, const char *path, int64_t line,
                             const unsigned char *filled, dg_error *err)
{
    for (int k = 0; k < t->C; k++)
        if (!filled[k])
            return dg__fail(err, DG_EFORMAT, "%s: line %lld: no value for class '%.*s'", path,
                            (long long)line, DG__QUOTE_MAX, t->names[k]);
    return 0;
}

static int rows_alloc(aligned *a, dg_error *err)
{
    size_t N = (size_t)a->t->N, C = (size_t)a->t->C;

    if (!(a->x = dg__alloc(N * C, sizeof *a->x, 1, err)) ||
        !(a->present = dg__alloc(N, 1, 1, err)) ||
        !(a->line = dg__alloc(N, sizeof *a->line, 1, err)))
        return DG_ENOMEM;
    return 0;
}

/* The data row of a teacher line's id: checks it is in the data and seen
 * once, and records the line. */
static int row_of(aligned *a, int64_t line, const char *id, int64_t *row, dg_error *err)
{
    const target *t = a->t;
    char *end;
    long long n = -1;

    if (t->o->ids) {
        n = dg__name_find(&t->ids, id);
    } else if (isdigit((unsigned char)id[0]) && (id[0] != '0' || !id[1])) {
        errno = 0;
        n = strtoll(id, &end, 10);
        if (*end || errno || n >= t->N)
            n = -1;
    }
    if (n < 0)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld: id '%.*s' is not in the data (%s)",
                        a->path, (long long)line, DG__QUOTE_MAX, id,
                        t->o->ids ? (t->o->ids_source ? t->o->ids_source : "the data's ids")
                                  : "ids are the row numbers 0 .. N-1");
    if (a->line[n])
        return dg__fail(err, DG_EFORMAT, "%s: line %lld: id '%.*s' repeats line %lld", a->path,
                        (long long)line, DG__QUOTE_MAX, id, (long long)a->line[n]);
    a->line[n] = line;
    *row = n;
    return 0;
}

/* After a keyed file: data rows it has no line for abstain, or fail. */
static int check_missing(aligned *a, dg_error *err)
{
    const target *t = a->t;

    for (int64_t n = 0; n < t->N; n++) {
        char id[32];

        if (a->line[n] || t->o->allow_missing)
            continue;
        snprintf(id, sizeof id, "%lld", (long long)n);
        return dg__fail(err, DG_EFORMAT, "%s: no line for id '%.*s' (row %lld of %s); to let "
                        "the teacher abstain there, allow missing rows (--allow-missing)",
                        a->path, DG__QUOTE_MAX, t->o->ids ? t->o->ids[n] : id, (long long)n + 1,
                        t->o->ids_source ? t->o->ids_source : "the data");
    }
    return 0;
}

static int keyed_needs_rows(aligned *a, dg_error *err)
{
    if (a->t->N > 0)
        return 0;
    return dg__fail(err, DG_EINVAL, "%s: rows are keyed by id, so the data's row count must be "
                    "known first (give N, ids, or a positional teacher file before it)", a->path);
}

/* Keyed CSV: the header maps fields to classes, each row fills one data
 * row; a row whose class cells are all empty abstains. */
static int keyed_csv_record(void *user, int64_t line, const char *const *cells, int64_t n,
                            dg_error *err)
{
    aligned *a = user;
    target *t = a->t;
    int64_t id_col = -1, row, filled = 0;
    unsigned char *seen;
    int rc;

    if (!a->col_class) {
        for (int64_t j = 0; j < n && id_col < 0; j++)
            if (strcmp(cells[j], t->o->id_key) == 0)
                id_col = j;
        if (id_col < 0)
            return 1; /* positional: read the usual way */
        a->keyed = 1;
        if ((rc = keyed_needs_rows(a, err)))
            return rc;
        {
            const char **names = dg__alloc((size_t)n, sizeof *names, 0, err);
            int64_t k = 0;

            if (!names)
                return DG_ENOMEM;
            for (int64_t j = 0; j < n; j++)
                if (j != id_col)
                    names[k++] = cells[j];
            rc = adopt_classes(t, names, k, a->path, err);
            free(names);
            if (rc)
                return rc;
        }
        if (!(a->col_class = dg__alloc((size_t)n, sizeof *a->col_class, 0, err)) ||
            !(seen = dg__alloc((size_t)t->C, 1, 1, err)))
            return DG_ENOMEM;
        a->n_cols = n;
        for (int64_t j = 0; j < n && rc == 0; j++) {
            a->col_class[j] = -1;
            if (j == id_col)
                continue;
            if ((rc = class_of(t, a->path, line, cells[j], &a->col_class[j], err)) == 0 &&
                seen[a->col_class[j]])
                rc = dg__fail(err, DG_EFORMAT, "%s: line %lld: class '%.*s' has two columns",
                              a->path, (long long)line, DG__QUOTE_MAX, cells[j]);
            if (rc == 0)
                seen[a->col_class[j]] = 1;
        }
        if (rc == 0)
            rc = check_all_classes(t, a->path, line, seen, err);
        free(seen);
        return rc ? rc : rows_alloc(a, err);
    }

    if (n != a->n_cols)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld has %lld fields, expected %lld as in "
                        "the header", a->path, (long long)line, (long long)n,
                        (long long)a->n_cols);
    for (int64_t j = 0; j < n; j++)
        if (a->col_class[j] < 0 && (rc = row_of(a, line, cells[j], &row, err)))
            return rc;
    for (int64_t j = 0; j < n; j++) {
        const char *s = cells[j];

        while (isspace((unsigned char)*s))
            s++;
        filled += a->col_class[j] >= 0 && *s;
    }
    if (filled == 0)
        return 0;
    for (int64_t j = 0; j < n; j++) {
        char *end;
        double v;

        if (a->col_class[j] < 0)
            continue;
        v = strtod(cells[j], &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == cells[j] || *end)
            return dg__fail(err, DG_EFORMAT, "%s: line %lld, field %lld: expected a number "
                            "(or every class cell empty to abstain), found '%.*s'", a->path,
                            (long long)line, (long long)j + 1, DG__QUOTE_MAX, cells[j]);
        a->x[row * t->C + a->col_class[j]] = (float)v;
    }
    a->present[row] = 1;
    return 0;
}

/* JSONL first pass without a class list: gathers the names used. */
static int jsonl_gather(void *user, dg__json *j, dg__keyed_row *r)
{
    aligned *a = user;

    for (int64_t i = 0; i < r->n; i++) {
        const char *name = r->names.p + r->name_at[i];
        int known = 0;

        for (int64_t k = 0; k < a->n_seen && !known; k++)
            known = strcmp(a->seen[k], name) == 0;
        if (known)
            continue;
        if (a->n_seen == a->cap_seen) {
            int64_t cap = a->cap_seen ? 2 * a->cap_seen : 16;
            char **grown = realloc(a->seen, (size_t)cap * sizeof *grown);

            if (!grown)
                return dg__fail(j->err, DG_ENOMEM, "%s: out of memory", a->path);
            a->seen = grown;
            a->cap_seen = cap;
        }
        if (!(a->seen[a->n_seen] = strdup(name)))
            return dg__fail(j->err, DG_ENOMEM, "%s: out of memory", a->path);
        a->n_seen++;
    }
    return 0;
}

/* JSONL: one data row per line, from "probs" or a one-hot "label". */
static int jsonl_row(void *user, dg__json *j, dg__keyed_row *r)
{
    aligned *a = user;
    target *t = a->t;
    unsigned char *filled;
    int64_t row, k;
    int rc;

    if (!r->kind) {
        j->i = 0;
        return dg__json_fail(j, "no \"probs\" or \"label\" key (null abstains)");
    }
    if ((rc = row_of(a, j->line, r->id.p, &row, j->err)) || r->kind == 'n')
        return rc;
    if (!(filled = dg__alloc((size_t)t->C, 1, 1, j->err)))
        return DG_ENOMEM;
    for (int64_t i = 0; i < r->n && rc == 0; i++) {
        const char *name = r->names.p + r->name_at[i];

        if ((rc = class_of(t, a->path, j->line, name, &k, j->err)) == 0 && filled[k])
            rc = dg__fail(j->err, DG_EFORMAT, "%s: line %lld: class '%.*s' given twice",
                          a->path, (long long)j->line, DG__QUOTE_MAX, name);
        if (rc == 0) {
            filled[k] = 1;
            a->x[row * t->C + k] = (float)r->value[i];
        }
    }
    if (rc == 0 && r->kind == 'p')
        rc = check_all_classes(t, a->path, j->line, filled, j->err);
    free(filled);
    if (r->kind == 'l' && !a->hard)
        a->hard = (int)j->line;
    a->present[row] = 1;
    return rc;
}

static int read_jsonl(aligned *a, dg_error *err)
{
    int rc;

    a->keyed = 1;
    if ((rc = keyed_needs_rows(a, err)))
        return rc;
    if (!a->t->names) {
        if ((rc = dg__keyed_jsonl_each(a->path, a->t->o->id_key, jsonl_gather, a, err)))
            return rc;
        if ((rc = adopt_classes(a->t, (const char *const *)a->seen, a->n_seen, a->path, err)))
            return rc;
    }
    if ((rc = rows_alloc(a, err)))
        return rc;
    return dg__keyed_jsonl_each(a->path, a->t->o->id_key, jsonl_row, a, err);
}

/* A positional file (.npy, CSV without an id column): N rows in data
 * order; named columns are put in class-id order. */
static int read_positional(aligned *a, dg_error *err)
{
    target *t = a->t;
    dg_csv_opts csv = dg_csv_defaults();
    dg_matrix m = {0, 0, NULL};
    char **names = NULL;
    int rc;

    if (dg__has_suffix(a->path, ".npy"))
        rc = dg_read_npy(a->path, &m, err);
    else
        rc = dg_read_csv(a->path, &csv, &m, NULL, &names, err);
    if (rc)
        return rc;
    if (names)
        rc = adopt_classes(t, (const char *const *)names, m.cols, a->path, err);
    if (rc == 0 && t->N && m.rows != t->N)
        rc = t->N_source ? dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld rows but %s has "
                                    "%lld", a->path, (long long)m.rows, t->N_source,
                                    (long long)t->N)
                         : dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld rows but the data "
                                    "has %lld", a->path, (long long)m.rows, (long long)t->N);
    if (rc == 0 && t->C && m.cols != t->C)
        rc = dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld classes but %s has %d", a->path,
                      (long long)m.cols, t->C_source, t->C);
    if (rc == 0 && m.cols > INT32_MAX)
        rc = dg__fail(err, DG_EFORMAT, "%s: %lld columns, expected at most %d classes", a->path,
                      (long long)m.cols, INT32_MAX);
    if (rc == 0 && !t->N) {
        t->N = m.rows;
        t->N_source = a->path;
    }
    if (rc == 0 && !t->C) {
        t->C = (int)m.cols;
        t->C_source = a->path;
    }
    if (rc == 0 && (rc = rows_alloc(a, err)) == 0) {
        unsigned char *seen = dg__alloc((size_t)t->C, 1, 1, err);
        int64_t *col_class = dg__alloc((size_t)t->C, sizeof *col_class, 0, err);

        for (int64_t j = 0; seen && col_class && j < t->C && rc == 0; j++) {
            col_class[j] = j;
            if (names && (rc = class_of(t, a->path, 1, names[j], &col_class[j], err)) == 0 &&
                seen[col_class[j]])
                rc = dg__fail(err, DG_EFORMAT, "%s: line 1: class '%.*s' has two columns",
                              a->path, DG__QUOTE_MAX, names[j]);
            if (rc == 0)
                seen[col_class[j]] = 1;
        }
        if (!seen || !col_class)
            rc = DG_ENOMEM;
        for (int64_t n = 0; n < t->N && rc == 0; n++)
            for (int64_t j = 0; j < t->C; j++)
                a->x[n * t->C + col_class[j]] = m.data[n * m.cols + j];
        memset(a->present, 1, (size_t)t->N);
        free(seen);
        free(col_class);
    }
    dg_names_free(names, m.cols);
    dg_matrix_free(&m);
    return rc;
}

/* Reads one teacher file into a (x, present, line) per its kind. */
static int read_teacher(aligned *a, dg_error *err)
{
    int rc;

    if (dg__has_suffix(a->path, ".jsonl") || dg__has_suffix(a->path, ".ndjson") ||
        dg__has_suffix(a->path, ".json"))
        return read_jsonl(a, err);
    if (dg__has_suffix(a->path, ".csv") || dg__has_suffix(a->path, ".tsv")) {
        if ((rc = dg__csv_records(a->path, 0, keyed_csv_record, a, err)))
            return rc;
        if (a->keyed && !a->x)
            return dg__fail(err, DG_EFORMAT, "%s: only a header, expected rows", a->path);
        if (a->keyed)
            return 0;
        return read_positional(a, err);
    }
    if (dg__has_suffix(a->path, ".npy"))
        return read_positional(a, err);
    return dg__fail(err, DG_EINVAL, "%s: teacher outputs must be a .npy, .csv, .tsv or .jsonl "
                    "file", a->path);
}

static void aligned_free(aligned *a)
{
    free(a->x);
    free(a->present);
    free(a->line);
    free(a->col_class);
    dg_names_free(a->seen, a->n_seen);
}

/* Checks the options and indexes the given ids and classes. */
static int target_init(target *t, const dg_align_opts *o, dg_error *err)
{
    int64_t first, dup;
    int rc;

    memset(t, 0, sizeof *t);
    t->o = o;
    t->N = o->N;
    t->N_source = o->N ? o->data_source : NULL;
    if (o->N < 0 || (o->ids && o->N < 1))
        return dg__fail(err, DG_EINVAL, "teachers: data ids need N >= 1 rows, got %lld",
                        (long long)o->N);
    if (!o->id_key || !o->id_key[0])
        return dg__fail(err, DG_EINVAL, "teachers: no id key given");
    if (o->ids) {
        rc = dg__name_index_build(&t->ids, o->ids, o->N, &first, &dup, err);
        if (rc == DG_EFORMAT)
            return dg__fail(err, DG_EINVAL, "%s: id '%.*s' of row %lld repeats row %lld",
                            o->ids_source ? o->ids_source : "data ids", DG__QUOTE_MAX, o->ids[dup],
                            (long long)dup + 1, (long long)first + 1);
        if (rc)
            return rc;
    }
    if (o->classes) {
        if (o->C < 1)
            return dg__fail(err, DG_EINVAL, "teachers: a class list needs C >= 1, got %d", o->C);
        t->names = (char **)o->classes;
        t->C = o->C;
        t->C_source = "the class list";
        rc = dg__name_index_build(&t->classes, o->classes, o->C, &first, &dup, err);
        if (rc == DG_EFORMAT)
            return dg__fail(err, DG_EINVAL, "class list: '%.*s' is given twice", DG__QUOTE_MAX,
                            o->classes[dup]);
        return rc;
    }
    return 0;
}

static void target_free(target *t)
{
    dg__name_index_free(&t->ids);
    dg__name_index_free(&t->classes);
    if (t->own_names)
        dg_names_free(t->names, t->C);
}

int dg_teachers_load_aligned(const char *const *paths, int M, dg_teacher_format format,
                             const dg_align_opts *align, dg_teachers **out, dg_error *err)
{
    dg_align_opts defaults = dg_align_defaults();
    dg_teachers *teachers = NULL;
    target t;
    int rc;

    *out = NULL;
    if (M < 1)
        return dg__fail(err, DG_EINVAL, "teachers: need at least one file, got %d", M);
    if (format != DG_TEACHER_AUTO && format != DG_TEACHER_PROB && format != DG_TEACHER_LOGIT)
        return dg__fail(err, DG_EINVAL, "teachers: unknown format %d", (int)format);
    if ((rc = target_init(&t, align ? align : &defaults, err)) == 0)
        for (int m = 0; m < M && rc == 0; m++) {
            aligned a;
            dg_teacher_format fmt = format;

            memset(&a, 0, sizeof a);
            a.path = paths[m];
            a.t = &t;
            rc = read_teacher(&a, err);
            if (rc == 0 && a.keyed && (rc = check_missing(&a, err)) == 0 && a.hard) {
                /* a hard label is a one-hot probability row */
                if (format == DG_TEACHER_LOGIT)
                    rc = dg__fail(err, DG_EINVAL, "%s: line %d: a hard label is a probability "
                                  "row, so the file cannot be read as logits", a.path, a.hard);
                fmt = DG_TEACHER_PROB;
            }
            if (rc == 0 && !teachers)
                rc = dg__teachers_alloc(M, t.N, t.C, &teachers, err);
            if (rc == 0)
                rc = dg__teachers_fill(teachers, m, a.x, a.present, a.keyed ? a.line : NULL, fmt,
                                       a.path, err);
            aligned_free(&a);
        }
    target_free(&t);
    if (rc) {
        dg_teachers_free(teachers);
        return rc;
    }
    *out = teachers;
    return 0;
}

int dg_teachers_load(const char *const *paths, int M, dg_teacher_format format,
                     dg_teachers **out, dg_error *err)
{
    return dg_teachers_load_aligned(paths, M, format, NULL, out, err);
}
