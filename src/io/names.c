/* Lists of names read from files: data ids (CSV column, JSONL key, or one
 * per line), class lists (a file or "a,b,c"), labels spelled as class
 * names, and the one sort order of class names; plus the name index the
 * teacher alignment looks ids and classes up in.
 */
#include "io/io.h"
#include "io/keyed.h"
#include "io/names.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Longest decimal integer compared numerically when sorting names. */
#define INT_NAME_MAX 18

/* ------------------------------------------------------------------------
 * A hash index over n strings (ids or class names): string -> position.
 */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

int64_t dg__name_find(const dg__name_index *ix, const char *s)
{
    for (uint64_t k = fnv1a(s) & ix->mask;; k = (k + 1) & ix->mask) {
        if (ix->slot[k] < 0)
            return -1;
        if (strcmp(ix->names[ix->slot[k]], s) == 0)
            return ix->slot[k];
    }
}

int dg__name_index_build(dg__name_index *ix, const char *const *names, int64_t n,
                         int64_t *first, int64_t *dup, dg_error *err)
{
    uint64_t cap = 2;

    while (cap < 2 * (uint64_t)n)
        cap *= 2;
    ix->names = names;
    ix->mask = cap - 1;
    if (!(ix->slot = dg__alloc(cap, sizeof *ix->slot, 0, err)))
        return DG_ENOMEM;
    memset(ix->slot, 0xff, cap * sizeof *ix->slot);
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = fnv1a(names[i]) & ix->mask;

        for (; ix->slot[k] >= 0; k = (k + 1) & ix->mask)
            if (strcmp(names[ix->slot[k]], names[i]) == 0) {
                *first = ix->slot[k];
                *dup = i;
                return DG_EFORMAT;
            }
        ix->slot[k] = i;
    }
    return 0;
}

void dg__name_index_free(dg__name_index *ix)
{
    free(ix->slot);
    ix->slot = NULL;
}

/* ------------------------------------------------------------------------
 * Class names: their one sort order, and lists from files.
 */

static int is_int_name(const char *s)
{
    size_t len = strlen(s), i = s[0] == '-';

    if (len <= i || len - i > INT_NAME_MAX)
        return 0;
    for (; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_numeric(const void *a, const void *b)
{
    long long x = strtoll(*(char *const *)a, NULL, 10), y = strtoll(*(char *const *)b, NULL, 10);

    return x < y ? -1 : x > y ? 1 : cmp_bytes(a, b);
}

void dg_class_names_sort(char **names, int C)
{
    int numeric = 1;

    for (int k = 0; k < C && numeric; k++)
        numeric = is_int_name(names[k]);
    qsort(names, (size_t)C, sizeof *names, numeric ? cmp_numeric : cmp_bytes);
}

/* Copies s[0..len) without surrounding blanks into a new string. */
static char *trimmed_copy(const char *s, size_t len)
{
    char *out;

    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if ((out = malloc(len + 1))) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* The lines of a UTF-8 text file (BOM and CR dropped), trimmed, with their
 * 1-based numbers; a final line end adds no empty line. */
static int read_lines(const char *path, char ***lines, int64_t **lineno, int64_t *n,
                      dg_error *err)
{
    dg__buf text = {0};
    int64_t count = 0, cap = 0, line = 1;
    char **l = NULL;
    int64_t *no = NULL;
    size_t pos = 0;
    int rc;

    if ((rc = dg__read_text_file(path, DG_UTF8_ERROR, &text, NULL, err)))
        return rc;
    if (memchr(text.p, '\0', text.n))
        rc = dg__fail(err, DG_EFORMAT, "%s: NUL byte in the file, expected text", path);
    while (rc == 0 && pos < text.n) {
        const char *nl = memchr(text.p + pos, '\n', text.n - pos);
        size_t end = nl ? (size_t)(nl - text.p) : text.n;

        if (count == cap) {
            int64_t new_cap = cap ? 2 * cap : 64;
            char **gl = realloc(l, (size_t)new_cap * sizeof *l);
            int64_t *gn = gl ? realloc(no, (size_t)new_cap * sizeof *no) : NULL;

            if (gl)
                l = gl;
            if (!gn) {
                rc = dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld lines", path,
                              (long long)count);
                break;
            }
            no = gn;
            cap = new_cap;
        }
        if (!(l[count] = trimmed_copy(text.p + pos, end - pos))) {
            rc = dg__fail(err, DG_ENOMEM, "%s: out of memory on line %lld", path,
                          (long long)line);
            break;
        }
        no[count++] = line++;
        pos = end + 1;
    }
    dg__buf_free(&text);
    if (rc) {
        dg_names_free(l, count);
        free(no);
        return rc;
    }
    *lines = l;
    *lineno = no;
    *n = count;
    return 0;
}

/* Splits "a,b,c" into trimmed names. */
static int split_list(const char *s, char ***names, int *C, dg_error *err)
{
    int n = 1, k = 0;
    char **out;

    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (!(out = dg__alloc((size_t)n, sizeof *out, 1, err)))
        return DG_ENOMEM;
    for (const char *p = s;; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (!(out[k] = trimmed_copy(p, len))) {
            dg_names_free(out, k);
            return dg__fail(err, DG_ENOMEM, "out of memory reading class names");
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *names = out;
    *C = n;
    return 0;
}

/* Empty or repeated names in a list read from `source` are errors. */
static int check_names(const char *source, char *const *names, int64_t n, const char *what,
                       const int64_t *lineno, dg_error *err)
{
    dg__name_index ix;
    int64_t first, dup;
    int rc;

    for (int64_t i = 0; i < n; i++)
        if (!names[i][0])
            return lineno ? dg__fail(err, DG_EFORMAT, "%s: line %lld: empty %s", source,
                                     (long long)lineno[i], what)
                          : dg__fail(err, DG_EFORMAT, "%s: %s %lld is empty", source, what,
                                     (long long)i + 1);
    rc = dg__name_index_build(&ix, (const char *const *)names, n, &first, &dup, err);
    dg__name_index_free(&ix);
    if (rc == DG_EFORMAT)
        return lineno ? dg__fail(err, DG_EFORMAT, "%s: line %lld: %s '%.*s' repeats line %lld",
                                 source, (long long)lineno[dup], what, DG__QUOTE_MAX, names[dup],
                                 (long long)lineno[first])
                      : dg__fail(err, DG_EFORMAT, "%s: %s '%.*s' is given twice (%lld and "
                                 "%lld)", source, what, DG__QUOTE_MAX, names[dup],
                                 (long long)first + 1, (long long)dup + 1);
    return rc;
}

int dg_read_class_names(const char *spec, char ***names, int *C, dg_error *err)
{
    char **lines = NULL;
    int64_t *lineno = NULL, n = 0;
    FILE *fp = fopen(spec, "rb");
    int rc;

    *names = NULL;
    *C = 0;
    if (!fp && !strchr(spec, ','))
        return dg__fail(err, DG_EIO, "%s: cannot open (%s), and it is not a comma list of "
                        "class names", spec, strerror(errno));
    if (!fp) {
        if ((rc = split_list(spec, names, C, err)) == 0 &&
            (rc = check_names("class list", *names, *C, "class name", NULL, err)) != 0) {
            dg_names_free(*names, *C);
            *names = NULL;
            *C = 0;
        }
        return rc;
    }
    fclose(fp);
    if ((rc = read_lines(spec, &lines, &lineno, &n, err)))
        return rc;

    /* blank lines carry no name; one line "a,b,c" is a list */
    {
        int64_t k = 0;

        for (int64_t i = 0; i < n; i++) {
            if (!lines[i][0]) {
                free(lines[i]);
                continue;
            }
            lines[k] = lines[i];
            lineno[k++] = lineno[i];
        }
        n = k;
    }
    if (n == 1 && strchr(lines[0], ',')) {
        char **list;
        int count;

        if ((rc = split_list(lines[0], &list, &count, err)) == 0) {
            dg_names_free(lines, n);
            lines = list;
            n = count;
            rc = check_names(spec, lines, n, "class name", NULL, err);
        }
    } else if (n == 0) {
        rc = dg__fail(err, DG_EFORMAT, "%s: no class names in the file", spec);
    } else if (n > INT32_MAX) {
        rc = dg__fail(err, DG_EFORMAT, "%s: %lld class names, expected at most %d", spec,
                      (long long)n, INT32_MAX);
    } else {
        rc = check_names(spec, lines, n, "class name", lineno, err);
    }
    free(lineno);
    if (rc) {
        dg_names_free(lines, n);
        return rc;
    }
    *names = lines;
    *C = (int)n;
    return 0;
}

int dg_load_labels_named(const char *path, const char *const *classes, int C, dg_labels *out,
                         char ***names_out, int *C_out, dg_error *err)
{
    char **lines = NULL, **distinct = NULL;
    int64_t *lineno = NULL, n = 0, first, dup;
    int n_distinct = 0, rc;
    dg__name_index ix = {0};

    memset(out, 0, sizeof *out);
    if ((rc = read_lines(path, &lines, &lineno, &n, err)))
        return rc;

    /* without a list the classes are this file's distinct names, sorted */
    if (!classes) {
        if (!(distinct = dg__alloc((size_t)n + 1, sizeof *distinct, 1, err))) {
            rc = DG_ENOMEM;
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            int seen = 0;

            if (!lines[i][0])
                continue;
            for (int k = 0; k < n_distinct && !seen; k++)
                seen = strcmp(distinct[k], lines[i]) == 0;
            if (!seen)
                distinct[n_distinct++] = lines[i];
        }
        dg_class_names_sort(distinct, n_distinct);
        classes = (const char *const *)distinct;
        C = n_distinct;
    }
    if ((rc = dg__name_index_build(&ix, classes, C, &first, &dup, err)) != 0) {
        if (rc == DG_EFORMAT)
            rc = dg__fail(err, DG_EINVAL, "class list: name '%.*s' is given twice", DG__QUOTE_MAX,
                          classes[dup]);
        goto done;
    }
    if (!(out->data = dg__alloc((size_t)n + 1, sizeof *out->data, 0, err))) {
        rc = DG_ENOMEM;
        goto done;
    }
    out->n = n;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        int64_t k = lines[i][0] ? dg__name_find(&ix, lines[i]) : -1;

        if (lines[i][0] && k < 0)
            rc = dg__fail(err, DG_EFORMAT, "%s: line %lld: label '%.*s' is not one of the %d "
                          "classes", path, (long long)lineno[i], DG__QUOTE_MAX, lines[i], C);
        out->data[i] = (int32_t)k;
    }
    if (rc == 0 && distinct && names_out) {
        char **copy = dg__alloc((size_t)n_distinct + 1, sizeof *copy, 1, err);

        for (int k = 0; copy && k < n_distinct; k++)
            if (!(copy[k] = strdup(distinct[k]))) {
                dg_names_free(copy, k);
                copy = NULL;
            }
        if (!copy)
            rc = dg__fail(err, DG_ENOMEM, "%s: out of memory copying class names", path);
        else
            *names_out = copy;
    }
    if (rc == 0 && C_out)
        *C_out = C;

done:
    dg__name_index_free(&ix);
    free(distinct);
    dg_names_free(lines, n);
    free(lineno);
    if (rc)
        dg_labels_free(out);
    return rc;
}

/* ------------------------------------------------------------------------
 * Data ids
 */

typedef struct id_list {
    const char *path, *key;
    char **ids;
    int64_t *line;
    int64_t n, cap;
    int64_t key_col; /* CSV: the id column, -1 before the header */
} id_list;

static int ids_push(id_list *l, const char *id, int64_t line, dg_error *err)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        char **ids = realloc(l->ids, (size_t)cap * sizeof *ids);
        int64_t *lines = ids ? realloc(l->line, (size_t)cap * sizeof *lines) : NULL;

        if (ids)
            l->ids = ids;
        if (!lines)
            return dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld ids", l->path,
                            (long long)l->n);
        l->line = lines;
        l->cap = cap;
    }
    if (!(l->ids[l->n] = trimmed_copy(id, strlen(id))))
        return dg__fail(err, DG_ENOMEM, "%s: out of memory on line %lld", l->path,
                        (long long)line);
    l->line[l->n++] = line;
    return 0;
}

/* Finds column `name` in a CSV header; an error names the file and line. */
static int header_column(const char *path, int64_t line, const char *const *cells, int64_t n,
                         const char *name, int64_t *col, dg_error *err)
{
    for (int64_t j = 0; j < n; j++)
        if (strcmp(cells[j], name) == 0) {
            *col = j;
            return 0;
        }
    return dg__fail(err, DG_EFORMAT, "%s: line %lld: no column named '%s' in the header",
                    path, (long long)line, name);
}

static int ids_csv_record(void *user, int64_t line, const char *const *cells, int64_t n,
                          dg_error *err)
{
    id_list *l = user;

    if (l->key_col < 0)
        return header_column(l->path, line, cells, n, l->key, &l->key_col, err);
    if (l->key_col >= n)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld has %lld fields, expected the id in "
                        "field %lld", l->path, (long long)line, (long long)n,
                        (long long)l->key_col + 1);
    return ids_push(l, cells[l->key_col], line, err);
}

static int ids_json_row(void *user, dg__json *j, dg__keyed_row *r)
{
    return ids_push(user, r->id.p, j->line, j->err);
}

int dg_read_ids(const char *path, const char *key, char ***ids, int64_t *n, dg_error *err)
{
    id_list l;
    int rc;

    memset(&l, 0, sizeof l);
    l.path = path;
    l.key = key ? key : "id";
    l.key_col = -1;
    *ids = NULL;
    *n = 0;
    if (dg__has_suffix(path, ".csv") || dg__has_suffix(path, ".tsv"))
        rc = dg__csv_records(path, 0, ids_csv_record, &l, err);
    else if (dg__has_suffix(path, ".jsonl") || dg__has_suffix(path, ".ndjson") ||
             dg__has_suffix(path, ".json"))
        rc = dg__keyed_jsonl_each(path, l.key, ids_json_row, &l, err);
    else
        rc = read_lines(path, &l.ids, &l.line, &l.n, err);
    if (rc == 0 && l.n == 0)
        rc = dg__fail(err, DG_EFORMAT, "%s: no ids in the file", path);
    if (rc == 0)
        rc = check_names(path, l.ids, l.n, "id", l.line, err);
    free(l.line);
    if (rc) {
        dg_names_free(l.ids, l.n);
        return rc;
    }
    *ids = l.ids;
    *n = l.n;
    return 0;
}
