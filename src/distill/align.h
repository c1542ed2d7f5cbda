/* Internal interface between the teacher handle (teachers.c: storage and
 * the probability/logit conversion) and the file readers that align
 * teacher rows and classes to the data (align.c).
 *
 * Legend: M teachers, N rows, C classes.
 */
#ifndef DG_ALIGN_H
#define DG_ALIGN_H

#include "core/internal.h"

/* An empty handle for M teachers of N x C outputs; present stays NULL. */
int dg__teachers_alloc(int M, int64_t N, int C, dg_teachers **out, dg_error *err);

/* Checks x (N x C) and stores it as teacher m's log-probabilities. Rows
 * with present[n] == 0 are skipped and marked abstained (present NULL:
 * every row answered). Messages name `source` and, when line is not NULL,
 * line[n] of the file, else the 1-based row. */
int dg__teachers_fill(dg_teachers *t, int m, const float *x, const unsigned char *present,
                      const int64_t *line, dg_teacher_format format, const char *source,
                      dg_error *err);

#endif /* DG_ALIGN_H */
