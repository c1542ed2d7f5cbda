/* NumPy .npy arrays: reading versions 1.0-3.0 in either byte order and any
 * plain numeric dtype into float32 matrices or int32 labels, and writing
 * '<f4' matrices and '<i4' label vectors as version 1.0 files.
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE in v1, u32 LE in
 * v2/v3), a Python dict literal padded to 64 bytes, then the raw data.
 */
#include "io/io.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* NumPy itself refuses headers over 10000 bytes unless told otherwise. */
#define NPY_MAX_HEADER (1 << 20)
#define NPY_MAX_NDIM 2
#define NPY_WRITE_CHUNK 4096

/* A parsed .npy file: dtype, shape (1-D arrays are N x 1), and where the
 * data starts inside the file's bytes. */
typedef struct npy_array {
    char kind;  /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int size;   /* bytes per element */
    int big;    /* 1 when the data is big-endian */
    int ndim;
    int64_t rows, cols;
    const unsigned char *data;
} npy_array;

/* The header parser's cursor: header bytes [p, end), offset of p in the
 * file is p - file. */
typedef struct npy_cursor {
    const char *path;
    const unsigned char *file, *p, *end;
} npy_cursor;

static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;

    memcpy(&first, &one, 1);
    return first == 0;
}

static void skip_space(npy_cursor *c)
{
    while (c->p < c->end && isspace(*c->p))
        c->p++;
}

/* Fails naming the byte at the cursor and what was expected there. */
static int expected(npy_cursor *c, const char *what, dg_error *err)
{
    int n = (int)(c->end - c->p);

    return dg__fail(err, DG_EFORMAT, "%s: npy header, byte %lld: expected %s, found '%.*s'",
                    c->path, (long long)(c->p - c->file), what, n > 16 ? 16 : n,
                    (const char *)c->p);
}

/* A quoted Python string literal (no escapes) into out[cap]. */
static int parse_string(npy_cursor *c, char *out, size_t cap, dg_error *err)
{
    unsigned char quote;
    size_t n = 0;

    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return expected(c, "a quoted string", err);
    quote = *c->p++;
    while (c->p < c->end && *c->p != quote) {
        if (n + 1 >= cap)
            return expected(c, "a shorter string", err);
        out[n++] = (char)*c->p++;
    }
    if (c->p >= c->end)
        return expected(c, "a closing quote", err);
    c->p++;
    out[n] = '\0';
    return 0;
}

static int parse_bool(npy_cursor *c, int *out, dg_error *err)
{
    size_t left = (size_t)(c->end - c->p);

    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = 1;
        return 0;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = 0;
        return 0;
    }
    return expected(c, "True or False", err);
}

/* A shape tuple such as "()", "(5,)", "(3, 4)" or "(3L, 4L)". */
static int parse_shape(npy_cursor *c, int64_t *shape, int *ndim, dg_error *err)
{
    *ndim = 0;
    if (c->p >= c->end || *c->p != '(')
        return expected(c, "a shape tuple '('", err);
    c->p++;
    for (;;) {
        int64_t v = 0;

        skip_space(c);
        if (c->p < c->end && *c->p == ')')
            break;
        if (c->p >= c->end || !isdigit(*c->p))
            return expected(c, "a non-negative dimension", err);
        while (c->p < c->end && isdigit(*c->p)) {
            if (v > (INT64_MAX - 9) / 10)
                return expected(c, "a dimension below 2^63", err);
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L')
            c->p++;
        if (*ndim == NPY_MAX_NDIM)
            return dg__fail(err, DG_EFORMAT,
                            "%s: npy header, byte %lld: more than %d dimensions, expected "
                            "a 1-D or 2-D array", c->path, (long long)(c->p - c->file),
                            NPY_MAX_NDIM);
        shape[(*ndim)++] = v;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ')')
            break;
        return expected(c, "',' or ')' in the shape", err);
    }
    c->p++;
    return 0;
}

/* A dtype string such as '<f4', '>i8' or '|b1'. */
static int parse_descr(npy_cursor *c, const char *descr, npy_array *a, dg_error *err)
{
    static const char *const accepted = "<f4 >f4 <f8 >f8 [<>]i1/2/4/8 [<>]u1/2/4/8 |b1 |u1 |i1";
    char order = descr[0], kind = descr[0] ? descr[1] : 0;
    int size = kind ? descr[2] - '0' : 0;
    int ok = strlen(descr) == 3;

    ok = ok && (kind == 'f' ? size == 4 || size == 8 :
                kind == 'i' || kind == 'u' ? size == 1 || size == 2 || size == 4 || size == 8 :
                kind == 'b' ? size == 1 : 0);
    ok = ok && (order == '<' || order == '>' || order == '=' || order == '|');
    ok = ok && (order != '|' || size == 1);
    if (!ok)
        return dg__fail(err, DG_EFORMAT,
                        "%s: npy header, byte %lld: dtype '%s' is not supported, expected "
                        "one of %s", c->path, (long long)(c->p - c->file), descr, accepted);
    a->kind = kind;
    a->size = size;
    a->big = order == '>' || (order == '=' && host_is_big_endian());
    return 0;
}

/* The header dict: 'descr', 'fortran_order' and 'shape' in any order. */
static int parse_header(npy_cursor *c, npy_array *a, dg_error *err)
{
    int seen_descr = 0, seen_order = 0, seen_shape = 0, fortran = 0, rc;
    int64_t shape[NPY_MAX_NDIM];
    char key[32], descr[32];

    skip_space(c);
    if (c->p >= c->end || *c->p != '{')
        return expected(c, "'{' opening the header dict", err);
    c->p++;
    for (;;) {
        const unsigned char *key_at;

        skip_space(c);
        if (c->p < c->end && *c->p == '}')
            break;
        key_at = c->p;
        if ((rc = parse_string(c, key, sizeof key, err)) != 0)
            return rc;
        skip_space(c);
        if (c->p >= c->end || *c->p != ':')
            return expected(c, "':' after a key", err);
        c->p++;
        skip_space(c);
        if (strcmp(key, "descr") == 0 && !seen_descr++) {
            if ((rc = parse_string(c, descr, sizeof descr, err)) != 0 ||
                (rc = parse_descr(c, descr, a, err)) != 0)
                return rc;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order++) {
            if ((rc = parse_bool(c, &fortran, err)) != 0)
                return rc;
        } else if (strcmp(key, "shape") == 0 && !seen_shape++) {
            if ((rc = parse_shape(c, shape, &a->ndim, err)) != 0)
                return rc;
        } else {
            c->p = key_at;
            return expected(c, "one each of the keys 'descr', 'fortran_order', 'shape'", err);
        }
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}')
            break;
        return expected(c, "',' or '}' in the header dict", err);
    }
    c->p++;
    skip_space(c);
    if (c->p != c->end)
        return expected(c, "only spaces after the header dict", err);
    if (!seen_descr || !seen_order || !seen_shape)
        return dg__fail(err, DG_EFORMAT, "%s: npy header lacks the key '%s'", c->path,
                        !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    if (fortran)
        return dg__fail(err, DG_EFORMAT,
                        "%s: npy array is in Fortran order, expected C order "
                        "(save it with numpy.ascontiguousarray)", c->path);
    if (a->ndim == 0)
        return dg__fail(err, DG_EFORMAT, "%s: npy array is a scalar, expected 1-D or 2-D",
                        c->path);
    a->rows = shape[0];
    a->cols = a->ndim == 2 ? shape[1] : 1;
    return 0;
}

/* Parses the preamble and header of b and checks the data length. */
static int npy_open(const char *path, const dg__bytes *b, npy_array *a, dg_error *err)
{
    const unsigned char *p = b->data;
    size_t prefix, header_len, data_at;
    int64_t count, bytes;
    npy_cursor c;
    int rc;

    memset(a, 0, sizeof *a);
    if (b->len < NPY_MAGIC_LEN + 2 || memcmp(p, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return dg__fail(err, DG_EFORMAT, "%s: byte 0: expected the npy magic \\x93NUMPY%s",
                        path, b->len < NPY_MAGIC_LEN + 2 ? ", file is too short" : "");
    if (p[6] < 1 || p[6] > 3)
        return dg__fail(err, DG_EFORMAT,
                        "%s: byte 6: npy format version %d.%d, expected 1.0, 2.0 or 3.0",
                        path, p[6], p[7]);
    prefix = p[6] == 1 ? 10 : 12;
    if (b->len < prefix)
        return dg__fail(err, DG_EFORMAT, "%s: file ends after %zu bytes, inside the npy preamble",
                        path, b->len);
    header_len = p[6] == 1 ? (size_t)p[8] | (size_t)p[9] << 8
                           : (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 |
                                 (size_t)p[11] << 24;
    if (header_len > NPY_MAX_HEADER)
        return dg__fail(err, DG_EFORMAT, "%s: byte 8: npy header of %zu bytes, expected at most %d",
                        path, header_len, NPY_MAX_HEADER);
    data_at = prefix + header_len;
    if (b->len < data_at)
        return dg__fail(err, DG_EFORMAT,
                        "%s: npy header should end at byte %zu, file ends after %zu bytes", path,
                        data_at, b->len);

    c.path = path;
    c.file = p;
    c.p = p + prefix;
    c.end = p + data_at;
    if ((rc = parse_header(&c, a, err)) != 0)
        return rc;

    if (!dg__mul_le(a->rows, a->cols, INT64_MAX, &count) ||
        !dg__mul_le(count, a->size > (int)sizeof(float) ? a->size : (int)sizeof(float),
                    (int64_t)(SIZE_MAX / 2), &bytes))
        return dg__fail(err, DG_ENOMEM, "%s: npy shape %lld x %lld of %d-byte elements "
                        "overflows a size", path, (long long)a->rows, (long long)a->cols,
                        a->size);
    bytes = count * a->size;
    if ((uint64_t)bytes != b->len - data_at)
        return dg__fail(err, DG_EFORMAT,
                        "%s: npy shape %lld x %lld needs %lld data bytes from byte %zu, file %s "
                        "%zu", path, (long long)a->rows, (long long)a->cols, (long long)bytes,
                        data_at, (uint64_t)bytes > b->len - data_at ? "ends after" : "has",
                        b->len - data_at);
    a->data = p + data_at;
    return 0;
}

/* Element i's bits, byte order resolved, in the low a->size bytes. */
static uint64_t npy_bits(const npy_array *a, int64_t i)
{
    const unsigned char *p = a->data + i * a->size;
    uint64_t u = 0;

    for (int k = 0; k < a->size; k++)
        u = u << 8 | p[a->big ? k : a->size - 1 - k];
    return u;
}

/* Element i of an integer or bool array, exactly. */
static int npy_int(const npy_array *a, int64_t i, int64_t *value)
{
    uint64_t u = npy_bits(a, i);
    int shift = 64 - 8 * a->size;

    if (a->kind == 'u' || a->kind == 'b') {
        if (u > INT64_MAX)
            return 0;
        *value = (int64_t)u;
        return 1;
    }
    /* Sign-extend from the element's width. */
    if (shift > 0 && (u >> (8 * a->size - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * a->size);
    memcpy(value, &u, sizeof *value);
    return 1;
}

static double npy_double(const npy_array *a, int64_t i)
{
    uint64_t u = npy_bits(a, i);
    int64_t v;

    if (a->kind == 'f' && a->size == 4) {
        uint32_t w = (uint32_t)u;
        float f;

        memcpy(&f, &w, sizeof f);
        return f;
    }
    if (a->kind == 'f') {
        double d;

        memcpy(&d, &u, sizeof d);
        return d;
    }
    if (a->kind == 'u')
        return (double)u;
    npy_int(a, i, &v);
    return (double)v;
}

int dg_read_npy(const char *path, dg_matrix *out, dg_error *err)
{
    npy_array a;
    dg__bytes b;
    float *data = NULL;
    int64_t count;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    rc = npy_open(path, &b, &a, err);
    count = a.rows * a.cols;
    if (rc == 0 && !(data = dg__alloc((size_t)count, sizeof(float), 0, err)))
        rc = DG_ENOMEM;
    for (int64_t i = 0; rc == 0 && i < count; i++) {
        double d = npy_double(&a, i);

        data[i] = (float)d;
        if (!isfinite(data[i]))
            rc = dg__fail(err, DG_EFORMAT,
                          "%s: element [%lld, %lld] (0-based row, column) is %g, expected a "
                          "finite float32 value", path, (long long)(i / a.cols),
                          (long long)(i % a.cols), d);
    }
    dg__bytes_free(&b);
    if (rc != 0) {
        free(data);
        return rc;
    }
    out->rows = a.rows;
    out->cols = a.cols;
    out->data = data;
    return 0;
}

int dg_read_npy_labels(const char *path, dg_labels *out, dg_error *err)
{
    npy_array a;
    dg__bytes b;
    int32_t *data = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    rc = npy_open(path, &b, &a, err);
    if (rc == 0 && a.cols != 1)
        rc = dg__fail(err, DG_EFORMAT,
                      "%s: npy shape %lld x %lld, expected labels as a 1-D array or N x 1", path,
                      (long long)a.rows, (long long)a.cols);
    if (rc == 0 && !(data = dg__alloc((size_t)a.rows, sizeof *data, 0, err)))
        rc = DG_ENOMEM;
    for (int64_t i = 0; rc == 0 && i < a.rows; i++) {
        double d = a.kind == 'f' ? npy_double(&a, i) : 0;
        int64_t v;
        int ok = a.kind == 'f' ? d == floor(d) && d >= -1 && d <= INT32_MAX
                               : npy_int(&a, i, &v) && v >= -1 && v <= INT32_MAX;

        if (!ok)
            rc = dg__fail(err, DG_EFORMAT,
                          "%s: element %lld (0-based) is %.17g, expected a class id: an "
                          "integer >= 0, or -1 for no label", path, (long long)i,
                          npy_double(&a, i));
        else
            data[i] = (int32_t)(a.kind == 'f' ? d : v);
    }
    dg__bytes_free(&b);
    if (rc != 0) {
        free(data);
        return rc;
    }
    out->n = a.rows;
    out->data = data;
    return 0;
}

/* Writes a version 1.0 file of `count` 4-byte little-endian elements taken
 * from src (host order), under the given descr and shape text. */
static int npy_write(const char *path, const char *descr, const char *shape, const void *src,
                     int64_t count, dg_error *err)
{
    unsigned char chunk[NPY_WRITE_CHUNK * 4];
    char dict[160];
    dg__outfile o;
    size_t dict_len, pad;
    int rc;

    /* NumPy pads the dict with spaces and one newline so that magic,
     * version, length and dict together fill a multiple of 64 bytes. */
    dict_len = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                descr, shape);
    pad = NPY_ALIGN - (NPY_MAGIC_LEN + 4 + dict_len + 1) % NPY_ALIGN;
    if (pad == NPY_ALIGN)
        pad = 0;
    if ((rc = dg__out_open(&o, path, err)) != 0)
        return rc;
    fwrite(NPY_MAGIC "\x01\x00", 1, NPY_MAGIC_LEN + 2, o.fp);
    fputc((int)((dict_len + pad + 1) & 0xff), o.fp);
    fputc((int)((dict_len + pad + 1) >> 8), o.fp);
    fwrite(dict, 1, dict_len, o.fp);
    for (size_t k = 0; k < pad; k++)
        fputc(' ', o.fp);
    fputc('\n', o.fp);

    for (int64_t start = 0; start < count; start += NPY_WRITE_CHUNK) {
        int64_t n = count - start < NPY_WRITE_CHUNK ? count - start : NPY_WRITE_CHUNK;

        for (int64_t i = 0; i < n; i++) {
            uint32_t w;

            memcpy(&w, (const unsigned char *)src + 4 * (start + i), 4);
            for (int k = 0; k < 4; k++)
                chunk[4 * i + k] = (unsigned char)(w >> (8 * k));
        }
        if (fwrite(chunk, 4, (size_t)n, o.fp) != (size_t)n)
            break;
    }
    return dg__out_commit(&o, err);
}

int dg_write_npy(const char *path, const float *data, int64_t rows, int64_t cols,
                 dg_error *err)
{
    char shape[64];
    int64_t count;

    if (!dg__mul_le(rows, cols, INT64_MAX / 4, &count) || (count > 0 && !data))
        return dg__fail(err, DG_EINVAL, "%s: cannot write a %lld x %lld matrix%s", path,
                        (long long)rows, (long long)cols, data ? "" : " from NULL");
    snprintf(shape, sizeof shape, "(%lld, %lld)", (long long)rows, (long long)cols);
    return npy_write(path, "<f4", shape, data, count, err);
}

int dg_write_npy_labels(const char *path, const int32_t *labels, int64_t n, dg_error *err)
{
    char shape[64];

    if (n < 0 || n > INT64_MAX / 4 || (n > 0 && !labels))
        return dg__fail(err, DG_EINVAL, "%s: cannot write %lld labels%s", path, (long long)n,
                        labels ? "" : " from NULL");
    snprintf(shape, sizeof shape, "(%lld,)", (long long)n);
    return npy_write(path, "<i4", shape, labels, n, err);
}
