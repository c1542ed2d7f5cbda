/* Internal: a hash index from names (ids or class names) to their
 * positions, shared by the readers of names (names.c) and the teacher
 * alignment (distill/align.c), and how much of a name messages quote.
 */
#ifndef DG_NAMES_H
#define DG_NAMES_H

#include "core/internal.h"

/* Most bytes of an id or name quoted in an error message. */
#define DG__QUOTE_MAX 60

/* An open-addressing index over names[0..n): string -> position. */
typedef struct dg__name_index {
    const char *const *names;
    int64_t *slot; /* positions, -1 empty; mask + 1 slots */
    uint64_t mask;
} dg__name_index;

/* Indexes names[0..n) (which must outlive the index); on a repeat *dup
 * gets its second position and *first the earlier one, and DG_EFORMAT is
 * returned (err untouched). Free with dg__name_index_free even on error. */
int dg__name_index_build(dg__name_index *ix, const char *const *names, int64_t n,
                         int64_t *first, int64_t *dup, dg_error *err);
/* Position of s, or -1. */
int64_t dg__name_find(const dg__name_index *ix, const char *s);
void dg__name_index_free(dg__name_index *ix);

#endif /* DG_NAMES_H */
