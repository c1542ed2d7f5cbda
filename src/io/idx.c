/* IDX files in the MNIST layout, raw or gzip: unsigned-byte images
 * (N x H x W, read as N x H*W floats in [0, 1]) and labels (N bytes).
 * Header: magic 0 0 type ndim, then ndim big-endian u32 sizes.
 */
#include "io/io.h"

#include <string.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_IMAGES_NDIM 3
#define IDX_LABELS_NDIM 1
#define IDX_PIXEL_MAX 255.0f

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the magic and reads `ndim` sizes into dims; what names the file's
 * contents in messages ("images", "labels"). */
static int idx_header(const char *path, const dg__bytes *b, int ndim, const char *what,
                      uint32_t *dims, dg_error *err)
{
    size_t header = 4 + 4 * (size_t)ndim;
    const unsigned char *p = b->data;

    if (b->len < 4)
        return dg__fail(err, DG_EFORMAT,
                        "%s: file has %zu bytes, expected at least the 4-byte IDX magic",
                        path, b->len);
    if (p[0] != 0 || p[1] != 0)
        return dg__fail(err, DG_EFORMAT,
                        "%s: byte 0: expected IDX magic 0x000008%02x (%s), found 0x%08x",
                        path, ndim, what, (unsigned)be32(p));
    if (p[2] != IDX_TYPE_UBYTE)
        return dg__fail(err, DG_EFORMAT,
                        "%s: byte 2: expected data type 0x08 (unsigned byte), found 0x%02x",
                        path, p[2]);
    if (p[3] != ndim)
        return dg__fail(err, DG_EFORMAT,
                        "%s: byte 3: expected %d dimension%s (IDX %s, magic 0x000008%02x), "
                        "found %d", path, ndim, ndim == 1 ? "" : "s", what, ndim, p[3]);
    if (b->len < header)
        return dg__fail(err, DG_EFORMAT,
                        "%s: expected a %zu-byte header, file ends after %zu bytes", path,
                        header, b->len);
    for (int k = 0; k < ndim; k++)
        dims[k] = be32(p + 4 + 4 * k);
    return 0;
}

/* Checks that exactly `expected` payload bytes follow the header. */
static int idx_payload(const char *path, const dg__bytes *b, size_t header, int64_t expected,
                       const char *what, dg_error *err)
{
    size_t have = b->len - header;

    if ((uint64_t)expected > have)
        return dg__fail(err, DG_EFORMAT,
                        "%s: expected %lld bytes of %s data after the %zu-byte header, "
                        "file ends after %zu", path, (long long)expected, what, header, have);
    if ((uint64_t)expected < have)
        return dg__fail(err, DG_EFORMAT,
                        "%s: expected %lld bytes of %s data after the %zu-byte header, "
                        "found %zu (%zu extra bytes at the end)", path, (long long)expected,
                        what, header, have, have - (size_t)expected);
    return 0;
}

int dg_read_idx_images(const char *path, dg_matrix *out, dg_error *err)
{
    const size_t header = 4 + 4 * IDX_IMAGES_NDIM;
    dg__bytes b;
    uint32_t dims[IDX_IMAGES_NDIM];
    int64_t D, count;
    const unsigned char *px;
    float *data = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    rc = idx_header(path, &b, IDX_IMAGES_NDIM, "images", dims, err);
    if (rc == 0 && (dims[1] == 0 || dims[2] == 0))
        rc = dg__fail(err, DG_EFORMAT, "%s: image size %u x %u, expected both sizes > 0",
                      path, (unsigned)dims[1], (unsigned)dims[2]);
    if (rc == 0 && (!dg__mul_le(dims[1], dims[2], INT64_MAX, &D) ||
                    !dg__mul_le(dims[0], D, (int64_t)(SIZE_MAX / sizeof(float)) / 2, &count)))
        rc = dg__fail(err, DG_ENOMEM, "%s: %u images of %u x %u pixels overflow a size", path,
                      (unsigned)dims[0], (unsigned)dims[1], (unsigned)dims[2]);
    if (rc == 0)
        rc = idx_payload(path, &b, header, count, "pixel", err);
    if (rc == 0 && !(data = dg__alloc((size_t)count, sizeof(float), 0, err)))
        rc = DG_ENOMEM;
    if (rc != 0) {
        dg__bytes_free(&b);
        return rc;
    }

    px = b.data + header;
    for (int64_t i = 0; i < count; i++)
        data[i] = (float)px[i] / IDX_PIXEL_MAX;
    dg__bytes_free(&b);
    out->rows = dims[0];
    out->cols = D;
    out->data = data;
    return 0;
}

int dg_read_idx_labels(const char *path, dg_labels *out, dg_error *err)
{
    const size_t header = 4 + 4 * IDX_LABELS_NDIM;
    dg__bytes b;
    uint32_t n;
    int32_t *data = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = dg__read_all(path, &b, err)) != 0)
        return rc;
    rc = idx_header(path, &b, IDX_LABELS_NDIM, "labels", &n, err);
    if (rc == 0)
        rc = idx_payload(path, &b, header, n, "label", err);
    if (rc == 0 && !(data = dg__alloc(n, sizeof *data, 0, err)))
        rc = DG_ENOMEM;
    if (rc != 0) {
        dg__bytes_free(&b);
        return rc;
    }

    for (uint32_t i = 0; i < n; i++)
        data[i] = b.data[header + i];
    dg__bytes_free(&b);
    out->n = n;
    out->data = data;
    return 0;
}
