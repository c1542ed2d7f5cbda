/* Error reporting: every failing call fills a dg_error with a code and a
 * message naming where and what was expected, then returns the code.
 */
#include "core/internal.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int dg__fail(dg_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void dg__clear(dg_error *err)
{
    if (err) {
        err->code = DG_OK;
        err->msg[0] = '\0';
    }
}

void *dg__alloc(size_t n, size_t size, int zero, dg_error *err)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size) {
        dg__fail(err, DG_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    if (n * size == 0)
        n = 1, size = 1;
    p = zero ? calloc(n, size) : malloc(n * size);
    if (!p)
        dg__fail(err, DG_ENOMEM, "out of memory allocating %zu bytes", n * size);
    return p;
}

void dg_matrix_free(dg_matrix *m)
{
    if (!m)
        return;
    free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}

void dg_labels_free(dg_labels *y)
{
    if (!y)
        return;
    free(y->data);
    y->data = NULL;
    y->n = 0;
}
