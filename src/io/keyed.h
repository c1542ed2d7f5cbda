/* Internal: JSONL lines keyed by id, as labelers write teacher outputs and
 * data ids: {"<id key>": "k" | 17, "probs": {"class": p, ...} | null} or
 * {"<id key>": .., "label": "class" | null}, other keys skipped. Read by the
 * id-list reader (names.c) and the teacher alignment (distill/align.c).
 */
#ifndef DG_KEYED_H
#define DG_KEYED_H

#include "io/json.h"

/* What one line said. */
typedef struct dg__keyed_row {
    dg__buf id;      /* the id (an integer as written), NUL-terminated */
    int has_id;
    int kind;        /* 0 neither key, 'p' probs, 'l' label, 'n' null (abstains) */
    dg__buf names;   /* the probs keys (or the label), each NUL-terminated */
    size_t *name_at; /* n offsets into names */
    double *value;   /* n values (1 for a label) */
    int64_t n, cap;
    dg__buf key;     /* scratch: the member key being read */
} dg__keyed_row;

/* Called per parsed line; j is at that line (j->line, j->err) so that the
 * callee may fail with dg__json_fail. A negative return stops the reading
 * and is passed on; a positive one stops it without error. */
typedef int (*dg__keyed_fn)(void *user, dg__json *j, dg__keyed_row *r);

/* Calls fn for every non-blank line of the JSONL file at path (strict
 * UTF-8), parsed with id_key as the id's key. */
int dg__keyed_jsonl_each(const char *path, const char *id_key, dg__keyed_fn fn, void *user,
                         dg_error *err);

#endif /* DG_KEYED_H */
