/* Strict UTF-8: decoding with the reason a sequence is invalid, repair by
 * U+FFFD substitution of maximal invalid subparts (as the Unicode standard
 * recommends), plus the byte buffer and whole-file reading the text
 * readers share.
 */
#include "text/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Smallest buffer growth, so short appends do not realloc every time. */
#define BUF_MIN_CAP 256

int dg__buf_put(dg__buf *b, const void *data, size_t n, dg_error *err)
{
    if (n + 1 > b->cap - b->n || !b->p) {
        size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
        char *p;

        if (n > SIZE_MAX / 4 - b->n)
            return dg__fail(err, DG_ENOMEM, "text buffer of %zu bytes overflows", b->n + n);
        while (cap < b->n + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p)
            return dg__fail(err, DG_ENOMEM, "out of memory growing a text buffer to %zu bytes",
                            cap);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

void dg__buf_free(dg__buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int dg__utf8_decode(const unsigned char *s, size_t n, int32_t *cp, size_t *bad,
                    const char **why)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    int need;
    int32_t v;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC0) {
        *bad = 1;
        *why = "a continuation byte without a lead byte";
        return 0;
    }
    if (c < 0xC2 || (c >= 0xF5)) {
        *bad = 1;
        *why = c < 0xC2 ? "an overlong 2-byte encoding" : "a byte that never occurs in UTF-8";
        return 0;
    }
    if (c < 0xE0) {
        need = 1;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    }

    /* The second byte carries the overlong/surrogate/range checks; the
     * rest need only be continuation bytes. */
    for (int k = 1; k <= need; k++) {
        unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;

        if ((size_t)k >= n) {
            *bad = (size_t)k;
            *why = "a sequence truncated by the end of the text";
            return 0;
        }
        if (s[k] < lo_k || s[k] > hi_k) {
            *bad = (size_t)k;
            if (k > 1 || s[k] < 0x80 || s[k] > 0xBF)
                *why = "a truncated sequence (expected a continuation byte)";
            else if (c == 0xED)
                *why = "a UTF-16 surrogate encoded in UTF-8";
            else if (c == 0xF4)
                *why = "a code point above U+10FFFF";
            else
                *why = "an overlong encoding";
            return 0;
        }
        v = (v << 6) | (s[k] & 0x3F);
    }
    *cp = v;
    return need + 1;
}

int dg__utf8_encode(int32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int dg__utf8_clean(const char *s, size_t n, dg_utf8_mode mode, dg__buf *out, int64_t *replaced,
                   size_t *bad_at, const char **why, dg_error *err)
{
    static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the valid bytes not yet copied */
    int rc;

    while (i < n) {
        int32_t cp;
        size_t bad = 0;
        int len;

        /* ASCII fast path. */
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        len = dg__utf8_decode(u + i, n - i, &cp, &bad, why);
        if (len > 0) {
            i += (size_t)len;
            continue;
        }
        if (mode == DG_UTF8_ERROR) {
            *bad_at = i;
            return -1;
        }
        if (out && ((rc = dg__buf_put(out, s + run, i - run, err)) ||
                    (rc = dg__buf_put(out, fffd, sizeof fffd, err))))
            return rc;
        (*replaced)++;
        i += bad;
        run = i;
    }
    if (out)
        return dg__buf_put(out, s + run, n - run, err);
    return 0;
}

int dg__read_file(const char *path, char **data, size_t *len, dg_error *err)
{
    dg__buf b = {0};
    char chunk[65536];
    FILE *fp = fopen(path, "rb");
    size_t got;
    int rc = 0;

    if (!fp)
        return dg__fail(err, DG_EIO, "%s: cannot open: %s", path, strerror(errno));
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if ((rc = dg__buf_put(&b, chunk, got, err)))
            break;
    if (!rc && ferror(fp))
        rc = dg__fail(err, DG_EIO, "%s: read error after %zu bytes", path, b.n);
    fclose(fp);
    if (!rc && !b.p)
        rc = dg__buf_put(&b, "", 0, err);
    if (rc) {
        dg__buf_free(&b);
        return rc;
    }
    *data = b.p;
    *len = b.n;
    return 0;
}

int dg__read_text_file(const char *path, dg_utf8_mode mode, dg__buf *clean, int64_t *replaced,
                       dg_error *err)
{
    char *data = NULL;
    size_t len = 0, pos, bad_at = 0, line_start = 0;
    const char *why = "";
    int64_t line = 1;
    int rc;

    if ((rc = dg__read_file(path, &data, &len, err)))
        return rc;
    pos = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    rc = dg__utf8_clean(data + pos, len - pos, mode, clean, replaced, &bad_at, &why, err);
    if (rc == -1) {
        for (size_t k = 0; k < bad_at; k++)
            if (data[pos + k] == '\n')
                line++, line_start = k + 1;
        rc = dg__fail(err, DG_EFORMAT, "%s: line %" PRId64 ", byte %zu: invalid UTF-8: %s", path,
                      line, bad_at - line_start + 1, why);
    }
    free(data);
    if (rc)
        dg__buf_free(clean);
    return rc;
}
