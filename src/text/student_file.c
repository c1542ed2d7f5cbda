/* The text model file: the student's kind and sizes, the featurizer's
 * options, the class names, the parameters, the featurizer's idf, and a
 * CRC-32 of everything before it. Saving is atomic; loading checks every
 * field, the checksum and the exact length before a model is handed out.
 */
#include "text/student.h"
#include "text/text.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Layout, every integer and float little-endian:
 *   magic "DGTEXT\0\0" (8) | version u32 | kind u32 | C u32 | E u32 |
 *   featurizer: bits word_min word_max char_min char_max normalize
 *               sublinear_tf idf l2 part, u32 each |
 *   C names: length u32, bytes | n_params u64 | params f32 x n_params |
 *   idf f32 x 2^bits (only when idf is on) | crc32 u32 */
#define TEXT_MAGIC "DGTEXT\0\0"
#define TEXT_MAGIC_LEN 8
#define TEXT_VERSION 1u
#define TEXT_FOPTS 10
/* Longest class name accepted from a file. */
#define TEXT_NAME_MAX 4096
/* Floats converted per fwrite/fread: bounds the staging buffer. */
#define TEXT_IO_CHUNK 4096

/* ------------------------------------------------------------------------
 * Writing
 */

typedef struct writer {
    FILE *fp;
    uint32_t crc;
    int bad;
} writer;

static void put_bytes(writer *w, const void *p, size_t n)
{
    w->crc = (uint32_t)crc32(w->crc, p, (uInt)n);
    if (fwrite(p, 1, n, w->fp) != n)
        w->bad = 1;
}

static void put_u32(writer *w, uint32_t v)
{
    unsigned char b[4];

    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, 4);
}

static void put_floats(writer *w, const float *x, int64_t n)
{
    unsigned char buf[4 * TEXT_IO_CHUNK];

    for (int64_t start = 0; start < n; start += TEXT_IO_CHUNK) {
        int64_t len = n - start < TEXT_IO_CHUNK ? n - start : TEXT_IO_CHUNK;

        for (int64_t i = 0; i < len; i++) {
            uint32_t bits;

            memcpy(&bits, x + start + i, 4);
            for (int k = 0; k < 4; k++)
                buf[4 * i + k] = (unsigned char)(bits >> (8 * k));
        }
        put_bytes(w, buf, (size_t)(4 * len));
    }
}

static void fopts_pack(const dg_featurizer_opts *f, uint32_t *v)
{
    v[0] = (uint32_t)f->bits;
    v[1] = (uint32_t)f->word_min;
    v[2] = (uint32_t)f->word_max;
    v[3] = (uint32_t)f->char_min;
    v[4] = (uint32_t)f->char_max;
    v[5] = (uint32_t)f->normalize;
    v[6] = (uint32_t)f->sublinear_tf;
    v[7] = (uint32_t)f->idf;
    v[8] = (uint32_t)f->l2;
    v[9] = (uint32_t)f->part;
}

int dg_text_model_save(const dg_text_model *m, const char *path, dg_error *err)
{
    dg__outfile out;
    writer w;
    uint32_t fo[TEXT_FOPTS], crc_le;
    int rc;

    dg__clear(err);
    if (!m || !path)
        return dg__fail(err, DG_EINVAL, "dg_text_model_save: model and path required");
    if ((rc = dg__out_open(&out, path, err)) != 0)
        return rc;
    w.fp = out.fp;
    w.crc = 0;
    w.bad = 0;
    put_bytes(&w, TEXT_MAGIC, TEXT_MAGIC_LEN);
    put_u32(&w, TEXT_VERSION);
    put_u32(&w, (uint32_t)m->kind);
    put_u32(&w, (uint32_t)m->C);
    put_u32(&w, (uint32_t)m->E);
    fopts_pack(&m->fopts, fo);
    for (int i = 0; i < TEXT_FOPTS; i++)
        put_u32(&w, fo[i]);
    for (int c = 0; c < m->C; c++) {
        size_t len = strlen(m->names[c]);

        put_u32(&w, (uint32_t)len);
        put_bytes(&w, m->names[c], len);
    }
    put_u32(&w, (uint32_t)((uint64_t)m->n_params & 0xffffffffu));
    put_u32(&w, (uint32_t)((uint64_t)m->n_params >> 32));
    put_floats(&w, m->params, m->n_params);
    if (m->fopts.idf)
        put_floats(&w, dg_featurizer_idf(m->feat), m->V);
    crc_le = w.crc;
    put_u32(&w, crc_le);
    if (w.bad) {
        dg__out_abort(&out);
        return dg__fail(err, DG_EIO, "%s: cannot write the text model", path);
    }
    return dg__out_commit(&out, err);
}

/* ------------------------------------------------------------------------
 * Reading
 */

typedef struct reader {
    FILE *fp;
    const char *path;
    uint32_t crc;
    long at; /* bytes read so far */
} reader;

/* Reads n bytes or fails naming the byte offset and what was expected. */
static int get_bytes(reader *r, void *p, size_t n, const char *what, dg_error *err)
{
    if (fread(p, 1, n, r->fp) != n)
        return dg__fail(err, DG_EFORMAT, "%s: byte %ld: expected %s, found the end of the file",
                        r->path, r->at, what);
    r->crc = (uint32_t)crc32(r->crc, p, (uInt)n);
    r->at += (long)n;
    return 0;
}

static int get_u32(reader *r, uint32_t *v, const char *what, dg_error *err)
{
    unsigned char b[4];
    int rc;

    if ((rc = get_bytes(r, b, 4, what, err)) != 0)
        return rc;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int get_floats(reader *r, float *x, int64_t n, const char *what, dg_error *err)
{
    unsigned char buf[4 * TEXT_IO_CHUNK];
    int rc;

    for (int64_t start = 0; start < n; start += TEXT_IO_CHUNK) {
        int64_t len = n - start < TEXT_IO_CHUNK ? n - start : TEXT_IO_CHUNK;

        if ((rc = get_bytes(r, buf, (size_t)(4 * len), what, err)) != 0)
            return rc;
        for (int64_t i = 0; i < len; i++) {
            uint32_t bits = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
                            (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;

            memcpy(x + start + i, &bits, 4);
        }
    }
    return 0;
}

static void fopts_unpack(const uint32_t *v, dg_featurizer_opts *f)
{
    f->bits = (int)v[0];
    f->word_min = (int)v[1];
    f->word_max = (int)v[2];
    f->char_min = (int)v[3];
    f->char_max = (int)v[4];
    f->normalize = (int)v[5];
    f->sublinear_tf = (int)v[6];
    f->idf = (int)v[7];
    f->l2 = (int)v[8];
    f->part = (dg_text_part)v[9];
}

/* Frees names[0..n) and the array. */
static void names_free(char **names, int n)
{
    if (!names)
        return;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Reads the body after the magic and version; r's CRC covers all read. */
static int read_body(reader *r, dg_text_model **out, dg_error *err)
{
    uint32_t kind, C, E, fo[TEXT_FOPTS], lo, hi, stored, crc;
    dg_featurizer_opts fopts;
    dg_featurizer *f = NULL;
    float *idf = NULL;
    char **names = NULL;
    dg_text_model *m = NULL;
    int rc;
    char extra;

    if ((rc = get_u32(r, &kind, "the student kind", err)) ||
        (rc = get_u32(r, &C, "the class count", err)) ||
        (rc = get_u32(r, &E, "the embedding dim", err)))
        return rc;
    if (kind > DG_TEXT_BAG)
        return dg__fail(err, DG_EFORMAT, "%s: expected student kind 0 or 1, found %u", r->path,
                        kind);
    if (C < 2 || C > DG_TEXT_MAX_CLASSES)
        return dg__fail(err, DG_EFORMAT, "%s: expected 2..%d classes, found %u", r->path,
                        DG_TEXT_MAX_CLASSES, C);
    if (kind == DG_TEXT_BAG ? (E < 1 || E > DG_TEXT_DIM_MAX) : E != 0)
        return dg__fail(err, DG_EFORMAT, "%s: embedding dim %u does not fit student kind %u",
                        r->path, E, kind);
    for (int i = 0; i < TEXT_FOPTS; i++)
        if ((rc = get_u32(r, &fo[i], "the featurizer options", err)))
            return rc;
    memset(&fopts, 0, sizeof fopts);
    fopts_unpack(fo, &fopts);
    if (fo[0] < 1 || fo[0] > DG_HASH_BITS_MAX || fo[7] > 1)
        return dg__fail(err, DG_EFORMAT, "%s: expected hash bits in [1, %d] and an idf flag, "
                        "found %u and %u", r->path, DG_HASH_BITS_MAX, fo[0], fo[7]);

    /* class names */
    if (!(names = dg__alloc(C, sizeof *names, 1, err)))
        return DG_ENOMEM;
    for (uint32_t c = 0; c < C && rc == 0; c++) {
        uint32_t len;

        if ((rc = get_u32(r, &len, "a class name length", err)))
            break;
        if (len > TEXT_NAME_MAX) {
            rc = dg__fail(err, DG_EFORMAT, "%s: byte %ld: class name of %u bytes, expected at "
                          "most %d", r->path, r->at - 4, len, TEXT_NAME_MAX);
            break;
        }
        if (!(names[c] = dg__alloc(len + 1, 1, 1, err)))
            rc = DG_ENOMEM;
        else
            rc = get_bytes(r, names[c], len, "a class name", err);
    }

    /* the idf (read after the parameters) and the model */
    if (rc == 0 && fopts.idf &&
        !(idf = dg__alloc((size_t)1 << fopts.bits, sizeof(float), 1, err)))
        rc = DG_ENOMEM;
    if (rc == 0)
        rc = dg_featurizer_from_idf(&fopts, idf, (int64_t)1 << fopts.bits, &f, err);
    if (rc == 0)
        rc = dg_text_model_create((dg_text_student)kind, &fopts, f, (int)C,
                                  (const char *const *)names, (int)(E ? E : 1), 0, &m, err);
    if (rc == 0 && (rc = get_u32(r, &lo, "the parameter count", err)) == 0 &&
        (rc = get_u32(r, &hi, "the parameter count", err)) == 0 &&
        ((uint64_t)hi << 32 | lo) != (uint64_t)m->n_params)
        rc = dg__fail(err, DG_EFORMAT, "%s: expected %lld parameters for these sizes, found "
                      "%llu", r->path, (long long)m->n_params,
                      (unsigned long long)((uint64_t)hi << 32 | lo));
    if (rc == 0)
        rc = get_floats(r, m->params, m->n_params, "the parameters", err);
    if (rc == 0 && fopts.idf) {
        rc = get_floats(r, idf, m->V, "the idf weights", err);
        dg_featurizer_free(m->feat);
        m->feat = NULL;
        if (rc == 0)
            rc = dg_featurizer_from_idf(&fopts, idf, m->V, &m->feat, err);
    }
    crc = r->crc;
    if (rc == 0 && (rc = get_u32(r, &stored, "the checksum", err)) == 0) {
        if (stored != crc)
            rc = dg__fail(err, DG_EFORMAT, "%s: checksum mismatch: file is corrupted", r->path);
        else if (fread(&extra, 1, 1, r->fp) == 1)
            rc = dg__fail(err, DG_EFORMAT, "%s: byte %ld: expected the end of the file, found "
                          "more bytes", r->path, r->at);
    }
    names_free(names, (int)C);
    dg_featurizer_free(f);
    free(idf);
    if (rc != 0) {
        dg_text_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int dg_text_model_load(const char *path, dg_text_model **out, dg_error *err)
{
    reader r;
    char magic[TEXT_MAGIC_LEN];
    uint32_t version;
    int rc;

    dg__clear(err);
    if (!path || !out)
        return dg__fail(err, DG_EINVAL, "dg_text_model_load: path and output required");
    *out = NULL;
    r.path = path;
    r.crc = 0;
    r.at = 0;
    if (!(r.fp = fopen(path, "rb")))
        return dg__fail(err, DG_EIO, "%s: cannot open the text model", path);
    rc = get_bytes(&r, magic, TEXT_MAGIC_LEN, "the magic \"DGTEXT\"", err);
    if (rc == 0 && memcmp(magic, TEXT_MAGIC, TEXT_MAGIC_LEN) != 0)
        rc = dg__fail(err, DG_EFORMAT, "%s: byte 0: expected the magic \"DGTEXT\", found "
                      "another file type", path);
    if (rc == 0 && (rc = get_u32(&r, &version, "the version", err)) == 0 &&
        version != TEXT_VERSION)
        rc = dg__fail(err, DG_EFORMAT, "%s: byte 8: expected version %u, found %u", path,
                      TEXT_VERSION, version);
    if (rc == 0)
        rc = read_body(&r, out, err);
    fclose(r.fp);
    return rc;
}
