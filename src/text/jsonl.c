/* JSONL reader: one JSON object per line into a dg_corpus. The strict
 * JSON cursor of io/json.h reads the text, label, id and group keys and
 * skips any other value up to a nesting cap. Errors name the file, line and
 * byte.
 */
#include "io/json.h"
#include "text/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of arrays/objects inside one line, its object included;
 * deeper input is rejected rather than risking the stack. */
#define JSONL_MAX_DEPTH 256
/* Most characters of a rejected number quoted in an error message. */
#define NUMBER_SHOWN 40

/* What a known key held. */
typedef struct field {
    int seen;
    int kind; /* 's' string, 'i' integer, 'n' null */
    int64_t k;
    dg__buf str;
} field;

/* The value of a known key: a string, an integer (when allowed), or null. */
static int parse_field(dg__json *j, const char *key, int allow_int, field *f)
{
    size_t start, end;
    int integral, rc;

    dg__json_ws(j);
    start = j->i;
    if (f->seen)
        return dg__json_fail(j, "key \"%s\" appears twice in the object", key);
    f->seen = 1;
    f->str.n = 0;
    if (dg__json_at(j, '"')) {
        f->kind = 's';
        return dg__json_string(j, &f->str);
    }
    if (dg__json_at(j, 'n')) {
        f->kind = 'n';
        return dg__json_literal(j, "null");
    }
    if (allow_int && (dg__json_at(j, '-') || (j->i < j->n && j->s[j->i] >= '0' &&
                                                j->s[j->i] <= '9'))) {
        if ((rc = dg__json_number(j, NULL, &integral)))
            return rc;
        if (integral) {
            errno = 0;
            f->k = strtoll(j->s + start, NULL, 10);
            if (errno == 0 && f->k >= INT32_MIN && f->k <= INT32_MAX) {
                f->kind = 'i';
                return dg__buf_put(&f->str, j->s + start, j->i - start, j->err);
            }
        }
        end = j->i;
        j->i = start;
        return dg__json_fail(j, "expected a string or an integer for \"%s\", found the number "
                             "%.*s", key,
                             (int)(end - start < NUMBER_SHOWN ? end - start : NUMBER_SHOWN),
                             j->s + start);
    }
    if (j->i >= j->n)
        return dg__json_fail(j, "expected a value for \"%s\", found the end of the line", key);
    return dg__json_fail(j, "expected a string%s for \"%s\"",
                         allow_int ? ", integer or null" : "", key);
}

/* One line: an object whose known keys fill text/label/id/group. */
static int parse_line(dg__json *j, const dg_text_opts *o, field f[4])
{
    const char *keys[4] = {o->text_key, o->label_key, o->id_key, o->group_key};
    dg__buf key = {0};
    int64_t count = 0;
    int done = 0, rc;

    for (int k = 0; k < 4; k++)
        f[k].seen = 0;
    if ((rc = dg__json_expect(j, '{', "to start an object")))
        return rc;
    while ((rc = dg__json_member(j, '}', &count, &key, &done)) == 0 && !done) {
        int which = -1;

        for (int k = 0; k < 4 && which < 0; k++)
            if (keys[k] && strlen(keys[k]) == key.n && memcmp(keys[k], key.p, key.n) == 0)
                which = k;
        rc = which < 0 ? dg__json_skip(j) : parse_field(j, key.p, which > 0, &f[which]);
        if (rc)
            break;
    }
    dg__buf_free(&key);
    if (rc || (rc = dg__json_end(j)))
        return rc;
    if (!f[0].seen || f[0].kind != 's') {
        j->i = 0;
        return dg__json_fail(j, f[0].seen ? "\"%s\" must be a string"
                                          : "no \"%s\" key in the object", o->text_key);
    }
    return 0;
}

/* Adds the parsed line to the corpus. */
static int add_line(const dg__json *j, dg_corpus *c, field f[4])
{
    char where[DG_ERROR_MSG / 2];
    int32_t label = -1;
    int rc = 0;

    snprintf(where, sizeof where, "%s: line %" PRId64, j->path, j->line);
    if (f[1].seen && f[1].kind == 's')
        rc = dg__corpus_label_name(c, f[1].str.p, where, &label, j->err);
    else if (f[1].seen && f[1].kind == 'i')
        rc = dg__corpus_label_int(c, f[1].k, where, &label, j->err);
    if (rc)
        return rc;
    return dg__corpus_push(c, f[0].str.p, f[0].str.n, label,
                           f[2].seen && f[2].kind != 'n' ? f[2].str.p : NULL,
                           f[3].seen && f[3].kind != 'n' ? f[3].str.p : NULL, j->err);
}

int dg_read_jsonl(const char *path, const dg_text_opts *opts, dg_corpus **out, dg_error *err)
{
    dg_text_opts o = opts ? *opts : dg_text_defaults();
    size_t pos = 0;
    dg__buf clean = {0};
    dg_corpus *c = NULL;
    field f[4];
    dg__json j;
    int rc;

    *out = NULL;
    memset(f, 0, sizeof f);
    if (!o.text_key)
        return dg__fail(err, DG_EINVAL, "%s: no text key given", path);
    if ((rc = dg_corpus_create(&o, &c, err)))
        goto done;
    if ((rc = dg__read_text_file(path, o.invalid_utf8, &clean, &c->replaced, err)))
        goto done;

    /* one object per non-blank line */
    memset(&j, 0, sizeof j);
    j.path = path;
    j.max_depth = JSONL_MAX_DEPTH;
    j.replaced = c->utf8_mode == DG_UTF8_REPLACE ? &c->replaced : NULL;
    j.err = err;
    while (dg__json_next_line(&j, clean.p, clean.n, &pos))
        if ((rc = parse_line(&j, &o, f)) || (rc = add_line(&j, c, f)))
            goto done;

done:
    for (int k = 0; k < 4; k++)
        dg__buf_free(&f[k].str);
    dg__buf_free(&clean);
    if (rc) {
        dg_corpus_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
