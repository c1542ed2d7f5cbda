/* Whole-file input for every reader: open, refuse directories, and read
 * everything through zlib, which passes raw files through unchanged and
 * inflates gzip ones. Also the checked multiply and suffix test.
 */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* First buffer when the size is unknown (pipes, gzip), and the most one
 * gzread call may ask for (its count is an int). */
#define READ_INITIAL_CAP ((size_t)1 << 16)
#define READ_MAX_CALL ((size_t)1 << 30)
/* zlib's own input buffer; larger than its 8 KiB default for speed. */
#define READ_GZ_BUFFER (1u << 17)

/* Limit: a file is read whole into memory (a gzip file at its inflated
 * size), so the largest input is bounded by available memory. */
int dg__read_all(const char *path, dg__bytes *out, dg_error *err)
{
    struct stat st;
    gzFile gz;
    unsigned char *buf, *grown;
    size_t cap, len = 0;
    const char *why;
    int fd, n, zerr;

    out->data = NULL;
    out->len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dg__fail(err, DG_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        n = errno;
        close(fd);
        return dg__fail(err, DG_EIO, "%s: cannot stat: %s", path, strerror(n));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return dg__fail(err, DG_EIO, "%s: is a directory, expected a data file", path);
    }

    /* A regular file's size is the exact size of raw content and a good
     * first guess for gzip content. */
    cap = READ_INITIAL_CAP;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX / 2)
        cap = (size_t)st.st_size + 1;
    buf = dg__alloc(cap, 1, 0, err);
    gz = buf ? gzdopen(fd, "rb") : NULL;
    if (!gz) {
        free(buf);
        close(fd);
        return buf ? dg__fail(err, DG_ENOMEM, "%s: cannot start reading", path) : DG_ENOMEM;
    }
    gzbuffer(gz, READ_GZ_BUFFER);

    for (;;) {
        size_t want;

        if (cap - len < 2) {
            if (cap > SIZE_MAX / 2 || !(grown = realloc(buf, cap * 2))) {
                free(buf);
                gzclose(gz);
                return dg__fail(err, DG_ENOMEM, "%s: out of memory after reading %zu bytes",
                                path, len);
            }
            buf = grown;
            cap *= 2;
        }
        want = cap - len - 1;
        if (want > READ_MAX_CALL)
            want = READ_MAX_CALL;
        n = gzread(gz, buf + len, (unsigned)want);
        if (n < 0) {
            /* zlib's message lives in the gzFile: format it before closing. */
            why = gzerror(gz, &zerr);
            if (zerr == Z_ERRNO)
                why = strerror(errno);
            n = dg__fail(err, zerr == Z_DATA_ERROR ? DG_EFORMAT : DG_EIO,
                         "%s: cannot read after %zu bytes: %s", path, len, why);
            free(buf);
            gzclose(gz);
            return n;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }

    /* zlib reports a stream that stops mid-way only as a soft error. */
    gzerror(gz, &zerr);
    gzclose(gz);
    if (zerr == Z_BUF_ERROR) {
        free(buf);
        return dg__fail(err, DG_EFORMAT,
                        "%s: gzip stream truncated: it ends after %zu uncompressed bytes, "
                        "expected more data and a trailer", path, len);
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return 0;
}

void dg__bytes_free(dg__bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int dg__has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);

    return n >= k && strcasecmp(path + n - k, suffix) == 0;
}

int dg__mul_le(int64_t a, int64_t b, int64_t limit, int64_t *out)
{
    if (a < 0 || b < 0)
        return 0;
    if (a != 0 && b > limit / a)
        return 0;
    if (a * b > limit)
        return 0;
    *out = a * b;
    return 1;
}
