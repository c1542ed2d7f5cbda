/* The model file: a small header of layer sizes, the parameters as
 * little-endian float32, and a CRC-32 of everything before it. Saving is
 * atomic; loading trusts nothing in the file and checks every field, the
 * exact length and the checksum before a model is handed out.
 */
#include "nn/nn.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Layout, every integer little-endian:
 *   magic "DGMODEL\0" (8) | version u32 | n_layers u32 |
 *   sizes i64 x (n_layers + 1) | n_params i64 | params f32 x n_params | crc32 u32 */
#define MODEL_MAGIC "DGMODEL\0"
#define MODEL_MAGIC_LEN 8
#define MODEL_VERSION 1u
/* Largest header: magic, version, n_layers, DG_MAX_LAYERS + 1 sizes, n_params. */
#define MODEL_HEADER_MAX (MODEL_MAGIC_LEN + 4 + 4 + 8 * (DG_MAX_LAYERS + 1) + 8)
/* Parameters converted per fwrite/fread: bounds the staging buffer. */
#define MODEL_IO_CHUNK 4096

/* ------------------------------------------------------------------------
 * Little-endian encoding, byte by byte so the host's order never matters
 */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Size in bytes of the header for n_layers layers. */
static int64_t header_len(uint32_t n_layers)
{
    return MODEL_MAGIC_LEN + 4 + 4 + 8 * ((int64_t)n_layers + 1) + 8;
}

/* ------------------------------------------------------------------------
 * Saving
 */

int dg_model_save(const dg_model *m, const char *path, dg_error *err)
{
    unsigned char header[MODEL_HEADER_MAX];
    unsigned char bytes[4 * MODEL_IO_CHUNK];
    unsigned char tail[4];
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t hlen;
    dg__outfile o;
    int rc;

    if (!m || !path)
        return dg__fail(err, DG_EINVAL, "dg_model_save: NULL model or path");
    hlen = header_len((uint32_t)m->n_layers);

    /* pass 1: header. */
    memcpy(header, MODEL_MAGIC, MODEL_MAGIC_LEN);
    put_u32(header + 8, MODEL_VERSION);
    put_u32(header + 12, (uint32_t)m->n_layers);
    for (int l = 0; l <= m->n_layers; l++)
        put_u64(header + 16 + 8 * l, (uint64_t)m->sizes[l]);
    put_u64(header + hlen - 8, (uint64_t)m->n_params);

    rc = dg__out_open(&o, path, err);
    if (rc)
        return rc;
    crc = crc32(crc, header, (uInt)hlen);
    if (fwrite(header, 1, (size_t)hlen, o.fp) != (size_t)hlen)
        goto write_failed;

    /* pass 2: parameters in chunks, each float's bits in little-endian. */
    for (int64_t i0 = 0; i0 < m->n_params; i0 += MODEL_IO_CHUNK) {
        int64_t count = m->n_params - i0 < MODEL_IO_CHUNK ? m->n_params - i0 : MODEL_IO_CHUNK;

        for (int64_t i = 0; i < count; i++) {
            uint32_t bits;

            memcpy(&bits, &m->params[i0 + i], sizeof bits);
            put_u32(bytes + 4 * i, bits);
        }
        crc = crc32(crc, bytes, (uInt)(4 * count));
        if (fwrite(bytes, 1, (size_t)(4 * count), o.fp) != (size_t)(4 * count))
            goto write_failed;
    }

    /* pass 3: checksum of everything above. */
    put_u32(tail, (uint32_t)crc);
    if (fwrite(tail, 1, sizeof tail, o.fp) != sizeof tail)
        goto write_failed;
    return dg__out_commit(&o, err);

write_failed:
    rc = dg__fail(err, DG_EIO, "%s: cannot write file: %s", path, strerror(errno));
    dg__out_abort(&o);
    return rc;
}

/* ------------------------------------------------------------------------
 * Loading
 */

/* Fails unless the file (len bytes) holds `need` bytes to read `what`. */
static int need_bytes(const char *path, int64_t len, int64_t need, const char *what,
                      dg_error *err)
{
    if (len >= need)
        return 0;
    return dg__fail(err, DG_EFORMAT, "%s: truncated at byte %lld, expected at least %lld "
                    "bytes to hold the %s", path, (long long)len, (long long)need, what);
}

/* Reads and checks the header of a file of len bytes; fills sizes and
 * n_layers. The caller has read min(len, MODEL_HEADER_MAX) bytes into h. */
static int parse_header(const char *path, const unsigned char *h, int64_t len,
                        int64_t *sizes, int *n_layers, dg_error *err)
{
    uint32_t version, layers;
    int64_t hlen, n_params, implied, total;
    int rc;

    if ((rc = need_bytes(path, len, MODEL_MAGIC_LEN, "magic", err)))
        return rc;
    if (memcmp(h, MODEL_MAGIC, MODEL_MAGIC_LEN) != 0)
        return dg__fail(err, DG_EFORMAT, "%s: byte 0: expected magic \"DGMODEL\\0\": not a "
                        "disagree model file", path);
    if ((rc = need_bytes(path, len, 16, "version and layer count", err)))
        return rc;
    version = get_u32(h + 8);
    if (version != MODEL_VERSION)
        return dg__fail(err, DG_EFORMAT, "%s: byte 8: version %u, expected %u", path, version,
                        MODEL_VERSION);
    layers = get_u32(h + 12);
    if (layers < 1 || layers > DG_MAX_LAYERS)
        return dg__fail(err, DG_EFORMAT, "%s: byte 12: n_layers %u, expected 1..%d", path,
                        layers, DG_MAX_LAYERS);
    hlen = header_len(layers);
    if ((rc = need_bytes(path, len, hlen, "layer sizes", err)))
        return rc;

    for (uint32_t l = 0; l <= layers; l++) {
        uint64_t size = get_u64(h + 16 + 8 * l);

        if (size < 1 || size > INT32_MAX)
            return dg__fail(err, DG_EFORMAT, "%s: byte %u: size %u is %llu, expected 1..%d",
                            path, 16 + 8 * l, l, (unsigned long long)size, INT32_MAX);
        sizes[l] = (int64_t)size;
    }
    if (sizes[layers] < 2)
        return dg__fail(err, DG_EFORMAT, "%s: byte %u: class count %lld, expected at least 2",
                        path, 16 + 8 * layers, (long long)sizes[layers]);

    /* The count must match the sizes, and the whole file must fit in an
     * int64 byte count; only then is the length compared, so a hostile
     * header can never make us allocate more than the file holds. */
    implied = dg__mlp_param_count(sizes, (int)layers);
    if (implied < 0 || implied > (INT64_MAX - hlen - 4) / 4)
        return dg__fail(err, DG_EFORMAT, "%s: byte 16: layer sizes imply more parameters "
                        "than a file can hold", path);
    n_params = (int64_t)get_u64(h + hlen - 8);
    if (n_params != implied)
        return dg__fail(err, DG_EFORMAT, "%s: byte %lld: n_params %lld, expected %lld from "
                        "the layer sizes", path, (long long)(hlen - 8), (long long)n_params,
                        (long long)implied);
    total = hlen + 4 * n_params + 4;
    if (len < total)
        return dg__fail(err, DG_EFORMAT, "%s: truncated at byte %lld, expected %lld bytes",
                        path, (long long)len, (long long)total);
    if (len > total)
        return dg__fail(err, DG_EFORMAT, "%s: %lld bytes, expected %lld: unexpected data "
                        "after byte %lld", path, (long long)len, (long long)total,
                        (long long)total);
    *n_layers = (int)layers;
    return 0;
}

/* Reads exactly n bytes at byte `offset` (for the error message). */
static int read_exact(FILE *fp, const char *path, void *buf, size_t n, int64_t offset,
                      dg_error *err)
{
    size_t got = fread(buf, 1, n, fp);

    if (got == n)
        return 0;
    if (ferror(fp))
        return dg__fail(err, DG_EIO, "%s: read error at byte %lld: %s", path,
                        (long long)offset, strerror(errno));
    return dg__fail(err, DG_EFORMAT, "%s: truncated at byte %lld while reading", path,
                    (long long)(offset + (int64_t)got));
}

/* Reads the parameters and checksum after a checked header of hlen bytes
 * into m->params. */
static int read_body(FILE *fp, const char *path, const unsigned char *header, int64_t hlen,
                     dg_model *m, dg_error *err)
{
    unsigned char bytes[4 * MODEL_IO_CHUNK];
    uLong crc = crc32(crc32(0L, Z_NULL, 0), header, (uInt)hlen);
    int64_t offset = hlen;
    uint32_t stored;
    int rc;

    for (int64_t i0 = 0; i0 < m->n_params; i0 += MODEL_IO_CHUNK) {
        int64_t count = m->n_params - i0 < MODEL_IO_CHUNK ? m->n_params - i0 : MODEL_IO_CHUNK;

        rc = read_exact(fp, path, bytes, (size_t)(4 * count), offset, err);
        if (rc)
            return rc;
        crc = crc32(crc, bytes, (uInt)(4 * count));
        for (int64_t i = 0; i < count; i++) {
            uint32_t bits = get_u32(bytes + 4 * i);

            memcpy(&m->params[i0 + i], &bits, sizeof bits);
        }
        offset += 4 * count;
    }
    rc = read_exact(fp, path, bytes, 4, offset, err);
    if (rc)
        return rc;
    stored = get_u32(bytes);
    if (stored != (uint32_t)crc)
        return dg__fail(err, DG_EFORMAT, "%s: checksum mismatch: file is corrupted (byte %lld "
                        "stores %08x, contents give %08x)", path, (long long)offset,
                        (unsigned)stored, (unsigned)crc);
    return 0;
}

int dg_model_load(const char *path, dg_model **out, dg_error *err)
{
    unsigned char header[MODEL_HEADER_MAX];
    int64_t sizes[DG_MAX_LAYERS + 2];
    int64_t len, hlen;
    int n_layers = 0;
    dg_error alloc_err;
    struct stat st;
    dg_model *m = NULL;
    FILE *fp;
    int rc;

    if (!out || !path)
        return dg__fail(err, DG_EINVAL, "dg_model_load: NULL path or output");
    *out = NULL;
    fp = fopen(path, "rb");
    if (!fp)
        return dg__fail(err, DG_EIO, "%s: cannot open file: %s", path, strerror(errno));
    /* Limit: the exact length is taken from fstat, so only regular files
     * load (a pipe or terminal is refused rather than read). */
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = dg__fail(err, DG_EIO, "%s: not a regular file", path);
        goto done;
    }
    len = (int64_t)st.st_size;

    hlen = len < MODEL_HEADER_MAX ? len : MODEL_HEADER_MAX;
    rc = read_exact(fp, path, header, (size_t)hlen, 0, err);
    if (!rc)
        rc = parse_header(path, header, len, sizes, &n_layers, err);
    if (rc)
        goto done;
    rc = dg__mlp_alloc(sizes, n_layers, &m, &alloc_err);
    if (rc) {
        dg__fail(err, rc, "%s: %s", path, alloc_err.msg);
        goto done;
    }

    /* The header was read with a fixed-size look-ahead: rewind to its end. */
    hlen = header_len((uint32_t)n_layers);
    if (fseek(fp, (long)hlen, SEEK_SET) != 0) {
        rc = dg__fail(err, DG_EIO, "%s: cannot seek to byte %lld: %s", path, (long long)hlen,
                      strerror(errno));
        goto done;
    }
    rc = read_body(fp, path, header, hlen, m, err);

done:
    fclose(fp);
    if (rc) {
        dg_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
