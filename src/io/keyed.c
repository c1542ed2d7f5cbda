/* JSONL lines keyed by id: each line is one object holding the id (a
 * string, or an integer kept as written) and "probs" (an object of class
 * name to number, or null) or "label" (a class name, or null); other keys
 * are skipped. Parsed strictly on io/json.h; errors name file, line, byte.
 */
#include "io/keyed.h"

#include <stdlib.h>
#include <string.h>

/* Deepest nesting inside one line, its object included. */
#define KEYED_MAX_DEPTH 64

/* Appends one (name, value) pair; the name starts at names[name_at]. */
static int row_push(dg__json *j, dg__keyed_row *r, size_t name_at, double value)
{
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 16;
        size_t *at = realloc(r->name_at, (size_t)cap * sizeof *at);
        double *v = at ? realloc(r->value, (size_t)cap * sizeof *v) : NULL;

        if (at)
            r->name_at = at;
        if (!v)
            return dg__fail(j->err, DG_ENOMEM, "%s: line %lld: out of memory", j->path,
                            (long long)j->line);
        r->value = v;
        r->cap = cap;
    }
    r->name_at[r->n] = name_at;
    r->value[r->n++] = value;
    return 0;
}

/* The id: a string, or an integer kept as its spelling. */
static int parse_id(dg__json *j, dg__keyed_row *r)
{
    size_t start;
    int integral, rc;

    if (r->has_id)
        return dg__json_fail(j, "the id key appears twice");
    r->has_id = 1;
    r->id.n = 0;
    if (dg__json_at(j, '"'))
        return dg__json_string(j, &r->id);
    start = j->i;
    if (!dg__json_at(j, '-') && (j->i >= j->n || j->s[j->i] < '0' || j->s[j->i] > '9'))
        return dg__json_fail(j, "expected a string or an integer id");
    if ((rc = dg__json_number(j, NULL, &integral)))
        return rc;
    if (!integral) {
        j->i = start;
        return dg__json_fail(j, "expected a string or an integer id, found a number with a "
                             "fraction or exponent");
    }
    return dg__buf_put(&r->id, j->s + start, j->i - start, j->err);
}

/* "probs": null or {"name": number, ...}; "label": null or "name". */
static int parse_outputs(dg__json *j, dg__keyed_row *r, int is_label)
{
    int64_t count = 0;
    int done = 0, integral, rc;
    double v;

    if (r->kind)
        return dg__json_fail(j, "\"probs\" or \"label\" given twice");
    if (dg__json_at(j, 'n')) {
        r->kind = 'n';
        return dg__json_literal(j, "null");
    }
    r->kind = is_label ? 'l' : 'p';
    if (is_label) {
        if (!dg__json_at(j, '"'))
            return dg__json_fail(j, "expected a class name string or null for \"label\"");
        if ((rc = dg__json_string(j, &r->names)) || (rc = dg__buf_put(&r->names, "", 1, j->err)))
            return rc;
        return row_push(j, r, 0, 1.0);
    }
    if ((rc = dg__json_expect(j, '{', "or null for \"probs\"")))
        return rc;
    while ((rc = dg__json_member(j, '}', &count, &r->key, &done)) == 0 && !done) {
        size_t at = r->names.n;

        if ((rc = dg__buf_put(&r->names, r->key.p, r->key.n + 1, j->err)) ||
            (rc = dg__json_number(j, &v, &integral)) || (rc = row_push(j, r, at, v)))
            return rc;
    }
    return rc;
}

/* Parses the line at j as one object into r. */
static int parse_row(dg__json *j, const char *id_key, dg__keyed_row *r)
{
    int64_t count = 0;
    int done = 0, rc;

    r->has_id = 0;
    r->kind = 0;
    r->n = 0;
    r->names.n = 0;
    if ((rc = dg__json_expect(j, '{', "to start an object")))
        return rc;
    while ((rc = dg__json_member(j, '}', &count, &r->key, &done)) == 0 && !done) {
        if (strcmp(r->key.p, id_key) == 0)
            rc = parse_id(j, r);
        else if (strcmp(r->key.p, "probs") == 0 || strcmp(r->key.p, "label") == 0)
            rc = parse_outputs(j, r, r->key.p[0] == 'l');
        else
            rc = dg__json_skip(j);
        if (rc)
            return rc;
    }
    if (rc || (rc = dg__json_end(j)))
        return rc;
    if (!r->has_id) {
        j->i = 0;
        return dg__json_fail(j, "no \"%s\" key in the object", id_key);
    }
    return 0;
}

int dg__keyed_jsonl_each(const char *path, const char *id_key, dg__keyed_fn fn, void *user,
                         dg_error *err)
{
    dg__buf text = {0};
    dg__keyed_row row;
    dg__json j;
    size_t pos = 0;
    int rc;

    memset(&row, 0, sizeof row);
    memset(&j, 0, sizeof j);
    if ((rc = dg__read_text_file(path, DG_UTF8_ERROR, &text, NULL, err)))
        return rc;
    j.path = path;
    j.max_depth = KEYED_MAX_DEPTH;
    j.no_nul = 1;
    j.err = err;
    while (rc == 0 && dg__json_next_line(&j, text.p, text.n, &pos))
        if ((rc = parse_row(&j, id_key, &row)) == 0)
            rc = fn(user, &j, &row);
    dg__buf_free(&row.id);
    dg__buf_free(&row.names);
    dg__buf_free(&row.key);
    free(row.name_at);
    free(row.value);
    dg__buf_free(&text);
    return rc < 0 ? rc : 0;
}
