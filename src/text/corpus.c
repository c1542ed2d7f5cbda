/* The text corpus handle: texts, class ids, ids and groups in one string
 * arena; class-name mapping (first appearance, integer ids, or a given
 * list); the mail header/body views; and reading a corpus by extension.
 */
#include "text/text.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest decimal spelling of an integer class id, with its NUL. */
#define INT_NAME_MAX 24

dg_text_opts dg_text_defaults(void)
{
    dg_text_opts o;

    memset(&o, 0, sizeof o);
    o.text_key = "text";
    o.label_key = "label";
    o.id_key = "id";
    o.group_key = "group";
    o.invalid_utf8 = DG_UTF8_ERROR;
    return o;
}

/* Appends a copy of name to c->names (caller checked the class limit). */
static int add_name(dg_corpus *c, const char *name, dg_error *err)
{
    char **names = realloc(c->names, (size_t)(c->C + 1) * sizeof *names);
    char *copy;

    if (!names)
        return dg__fail(err, DG_ENOMEM, "out of memory adding class %d", c->C);
    c->names = names;
    copy = malloc(strlen(name) + 1);
    if (!copy)
        return dg__fail(err, DG_ENOMEM, "out of memory adding class %d", c->C);
    strcpy(copy, name);
    c->names[c->C++] = copy;
    return 0;
}

int dg_corpus_create(const dg_text_opts *opts, dg_corpus **out, dg_error *err)
{
    dg_text_opts o = opts ? *opts : dg_text_defaults();
    dg_corpus *c;
    int rc;

    *out = NULL;
    if (o.classes && (o.n_classes < 1 || o.n_classes > DG_TEXT_MAX_CLASSES))
        return dg__fail(err, DG_EINVAL, "class list: expected 1 to %d names, found %d",
                        DG_TEXT_MAX_CLASSES, o.n_classes);
    c = dg__alloc(1, sizeof *c, 1, err);
    if (!c)
        return DG_ENOMEM;
    c->utf8_mode = o.invalid_utf8;
    for (int k = 0; o.classes && k < o.n_classes; k++) {
        for (int j = 0; j < k; j++)
            if (strcmp(o.classes[j], o.classes[k]) == 0) {
                dg_corpus_free(c);
                return dg__fail(err, DG_EINVAL, "class list: name \"%s\" appears twice",
                                o.classes[k]);
            }
        if ((rc = add_name(c, o.classes[k], err))) {
            dg_corpus_free(c);
            return rc;
        }
    }
    c->fixed = o.classes != NULL;
    if ((rc = dg__buf_put(&c->arena, "", 0, err))) {
        dg_corpus_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void dg_corpus_free(dg_corpus *c)
{
    if (!c)
        return;
    free(c->text_off);
    free(c->text_len);
    free(c->id_off);
    free(c->group_off);
    free(c->label);
    dg__buf_free(&c->arena);
    for (int k = 0; k < c->C; k++)
        free(c->names[k]);
    free(c->names);
    free(c);
}

int dg__corpus_label_name(dg_corpus *c, const char *name, const char *where, int32_t *id,
                          dg_error *err)
{
    for (int k = 0; k < c->C; k++)
        if (strcmp(c->names[k], name) == 0) {
            *id = k;
            return 0;
        }
    if (c->fixed)
        return dg__fail(err, DG_EFORMAT, "%s: label \"%s\" is not one of the %d given classes",
                        where, name, c->C);
    if (c->label_kind == DG__LABELS_INTEGER)
        return dg__fail(err, DG_EFORMAT,
                        "%s: expected an integer label like the earlier rows, found \"%s\"",
                        where, name);
    if (c->C >= DG_TEXT_MAX_CLASSES)
        return dg__fail(err, DG_EFORMAT, "%s: label \"%s\" would be class %d; at most %d "
                        "distinct labels are allowed", where, name, c->C + 1,
                        DG_TEXT_MAX_CLASSES);
    c->label_kind = DG__LABELS_NAMED;
    *id = c->C;
    return add_name(c, name, err);
}

int dg__corpus_label_int(dg_corpus *c, int64_t k, const char *where, int32_t *id,
                         dg_error *err)
{
    char name[INT_NAME_MAX];
    int rc;

    if (k == -1) {
        *id = -1;
        return 0;
    }
    if (k < 0 || k >= (c->fixed ? c->C : DG_TEXT_MAX_CLASSES))
        return dg__fail(err, DG_EFORMAT, "%s: expected a class id in [0, %d) or -1, found %"
                        PRId64, where, c->fixed ? c->C : DG_TEXT_MAX_CLASSES, k);
    if (!c->fixed) {
        if (c->label_kind == DG__LABELS_NAMED)
            return dg__fail(err, DG_EFORMAT,
                            "%s: expected a string label like the earlier rows, found %" PRId64,
                            where, k);
        c->label_kind = DG__LABELS_INTEGER;
        while (c->C <= k) {
            snprintf(name, sizeof name, "%d", c->C);
            if ((rc = add_name(c, name, err)))
                return rc;
        }
    }
    *id = (int32_t)k;
    return 0;
}

/* Copies s (NUL-terminated) into the arena; *off is its offset, -1 for NULL. */
static int arena_put(dg_corpus *c, const char *s, size_t len, int64_t *off, dg_error *err)
{
    int rc;

    *off = -1;
    if (!s)
        return 0;
    *off = (int64_t)c->arena.n;
    if ((rc = dg__buf_put(&c->arena, s, len, err)))
        return rc;
    return dg__buf_put(&c->arena, "", 1, err);
}

/* Grows one per-text array to cap elements of size bytes. */
static int grow(void **p, int64_t cap, size_t size, dg_error *err)
{
    void *q = realloc(*p, (size_t)cap * size);

    if (!q)
        return dg__fail(err, DG_ENOMEM, "out of memory growing a corpus to %" PRId64 " texts",
                        cap);
    *p = q;
    return 0;
}

int dg__corpus_push(dg_corpus *c, const char *text, size_t len, int32_t label, const char *id,
                    const char *group, dg_error *err)
{
    int rc;

    if (c->n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 64;

        if ((rc = grow((void **)&c->text_off, cap, sizeof(int64_t), err)) ||
            (rc = grow((void **)&c->text_len, cap, sizeof(int64_t), err)) ||
            (rc = grow((void **)&c->id_off, cap, sizeof(int64_t), err)) ||
            (rc = grow((void **)&c->group_off, cap, sizeof(int64_t), err)) ||
            (rc = grow((void **)&c->label, cap, sizeof(int32_t), err)))
            return rc;
        c->cap = cap;
    }
    if ((rc = arena_put(c, text, len, &c->text_off[c->n], err)) ||
        (rc = arena_put(c, id, id ? strlen(id) : 0, &c->id_off[c->n], err)) ||
        (rc = arena_put(c, group, group ? strlen(group) : 0, &c->group_off[c->n], err)))
        return rc;
    c->text_len[c->n] = (int64_t)len;
    c->label[c->n] = label;
    c->n++;
    return 0;
}

int dg_corpus_add(dg_corpus *c, const char *text, size_t len, const char *label,
                  const char *id, const char *group, dg_error *err)
{
    char where[64];
    dg__buf clean = {0};
    const char *why = "";
    size_t bad_at = 0;
    int32_t class_id = -1;
    int rc;

    snprintf(where, sizeof where, "text %" PRId64, c->n);
    rc = dg__utf8_clean(text, len, c->utf8_mode, &clean, &c->replaced, &bad_at, &why, err);
    if (rc == -1)
        rc = dg__fail(err, DG_EFORMAT, "%s: byte %zu: invalid UTF-8: %s", where, bad_at + 1,
                      why);
    if (!rc && label)
        rc = dg__corpus_label_name(c, label, where, &class_id, err);
    if (!rc)
        rc = dg__corpus_push(c, clean.p, clean.n, class_id, id, group, err);
    dg__buf_free(&clean);
    return rc;
}

int64_t dg_corpus_size(const dg_corpus *c)
{
    return c->n;
}

const char *dg_corpus_text(const dg_corpus *c, int64_t i, size_t *len)
{
    if (len)
        *len = (size_t)c->text_len[i];
    return c->arena.p + c->text_off[i];
}

const int32_t *dg_corpus_labels(const dg_corpus *c)
{
    return c->label;
}

int dg_corpus_classes(const dg_corpus *c)
{
    return c->C;
}

const char *const *dg_corpus_class_names(const dg_corpus *c)
{
    return (const char *const *)c->names;
}

const char *dg_corpus_id(const dg_corpus *c, int64_t i)
{
    return c->id_off[i] < 0 ? NULL : c->arena.p + c->id_off[i];
}

const char *dg_corpus_group(const dg_corpus *c, int64_t i)
{
    return c->group_off[i] < 0 ? NULL : c->arena.p + c->group_off[i];
}

int64_t dg_corpus_replaced(const dg_corpus *c)
{
    return c->replaced;
}

void dg_text_span(const char *text, size_t len, dg_text_part part, size_t *start,
                  size_t *span)
{
    size_t i, header_end = len, body_start = len;

    /* The header block ends at the first line that is empty (LF or CRLF),
     * which may be the very first line. */
    if (len >= 1 && text[0] == '\n')
        header_end = 0, body_start = 1;
    else if (len >= 2 && text[0] == '\r' && text[1] == '\n')
        header_end = 0, body_start = 2;
    for (i = 0; header_end == len && i < len; i++) {
        if (text[i] != '\n')
            continue;
        if (i + 1 < len && text[i + 1] == '\n') {
            header_end = i + 1;
            body_start = i + 2;
            break;
        }
        if (i + 2 < len && text[i + 1] == '\r' && text[i + 2] == '\n') {
            header_end = i + 1;
            body_start = i + 3;
            break;
        }
    }
    switch (part) {
    case DG_TEXT_BODY:
        *start = body_start;
        *span = len - body_start;
        break;
    case DG_TEXT_HEADERS:
        *start = 0;
        *span = header_end;
        break;
    default:
        *start = 0;
        *span = len;
    }
}

/* Whether path ends in ext (case-insensitive). */
static int ends_with(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);

    return n >= m && strcasecmp(path + n - m, ext) == 0;
}

int dg_read_text(const char *path, const dg_text_opts *opts, dg_corpus **out, dg_error *err)
{
    if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json"))
        return dg_read_jsonl(path, opts, out, err);
    if (ends_with(path, ".csv") || ends_with(path, ".tsv") || ends_with(path, ".tab"))
        return dg_read_text_csv(path, opts, out, err);
    *out = NULL;
    return dg__fail(err, DG_EINVAL, "%s: expected a text file ending in .jsonl, .ndjson, "
                    ".json, .csv, .tsv or .tab", path);
}
