/* Readers, writers and datasets: round trips through every format, files
 * built byte by byte for each npy dtype, byte order and version, and
 * malformed files whose errors must name the file and the position.
 */
#include "check.h"
#include "disagree.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FASHION_LABELS "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"

static char tmpdir[256];

/* ---------------------------------------------------------------- helpers */

/* A path inside this run's temporary folder, in one of 16 rotating static
 * buffers: keep it in a local array if it must outlive 15 more calls. */
static const char *tpath(const char *name)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];

    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    if (!fp) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, len, fp);
    fclose(fp);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static void write_gzip(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");

    gzwrite(gz, data, (unsigned)len);
    gzclose(gz);
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(buf, 1, cap, fp) : 0;

    if (fp)
        fclose(fp);
    return n;
}

/* 1 when err's message contains every given piece; prints it otherwise. */
static int msg_has(const dg_error *err, const char *a, const char *b)
{
    int ok = strstr(err->msg, a) && (!b || strstr(err->msg, b));

    if (!ok)
        fprintf(stderr, "  message was: %s\n", err->msg);
    return ok;
}

/* An npy file, byte by byte: magic, version, header length (2 bytes in
 * version 1, 4 in 2 and 3), the dict padded to 64 bytes, then `data`. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t len)
{
    size_t prefix = major == 1 ? 10 : 12, dict_len = strlen(dict);
    size_t pad = (64 - (prefix + dict_len + 1) % 64) % 64, header_len = dict_len + pad + 1;
    char scratch[600];
    FILE *fp;

    snprintf(scratch, sizeof scratch, "%s.part", path);
    fp = fopen(scratch, "wb");

    fwrite("\x93NUMPY", 1, 6, fp);
    fputc(major, fp);
    fputc(0, fp);
    for (size_t k = 0; k < prefix - 8; k++)
        fputc((int)(header_len >> (8 * k)) & 0xff, fp);
    fputs(dict, fp);
    for (size_t k = 0; k < pad; k++)
        fputc(' ', fp);
    fputc('\n', fp);
    fwrite(data, 1, len, fp);
    fclose(fp);
    rename(scratch, path);
}

/* Encodes v as one element of the given kind/size/byte order into out. */
static void encode(unsigned char *out, char kind, int size, int big, double v)
{
    uint64_t u;

    if (kind == 'f' && size == 4) {
        float f = (float)v;
        uint32_t w;

        memcpy(&w, &f, 4);
        u = w;
    } else if (kind == 'f') {
        memcpy(&u, &v, 8);
    } else if (kind == 'i') {
        int64_t s = (int64_t)v;

        memcpy(&u, &s, 8);
    } else {
        u = (uint64_t)v;
    }
    for (int k = 0; k < size; k++)
        out[big ? size - 1 - k : k] = (unsigned char)(u >> (8 * k));
}

/* ------------------------------------------------------------------- npy */

static void test_npy_write_then_read_gives_the_same_floats(void)
{
    const float X[6] = {0.0f, -0.5f, 1e-7f, 3.4e38f, -123.456f, 1.0f / 3.0f};
    unsigned char bytes[256];
    dg_matrix M = {0};
    dg_error e = {0};
    size_t n, header_len;

    CHECK(dg_write_npy(tpath("w.npy"), X, 3, 2, &e) == 0);
    n = read_file(tpath("w.npy"), bytes, sizeof bytes);
    header_len = bytes[8] | (size_t)bytes[9] << 8;
    CHECK(memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes[10 + header_len - 1] == '\n');
    CHECK(strstr((char *)bytes + 10, "'descr': '<f4'") != NULL);
    CHECK(n == 10 + header_len + 6 * 4);
    /* Little-endian on disk whatever the host: -0.5f is 0xBF000000. */
    CHECK(bytes[10 + header_len + 4] == 0x00 && bytes[10 + header_len + 7] == 0xBF);

    CHECK(dg_read_npy(tpath("w.npy"), &M, &e) == 0);
    CHECK(M.rows == 3 && M.cols == 2);
    for (int i = 0; i < 6 && M.data; i++)
        CHECK(M.data[i] == X[i]);
    dg_matrix_free(&M);
}

static void test_npy_labels_write_then_read(void)
{
    const int32_t y[5] = {0, 9, -1, 3, 2147483647};
    dg_labels back = {0};
    dg_error e = {0};

    CHECK(dg_write_npy_labels(tpath("y.npy"), y, 5, &e) == 0);
    CHECK(dg_read_npy_labels(tpath("y.npy"), &back, &e) == 0);
    CHECK(back.n == 5);
    for (int i = 0; i < 5 && back.data; i++)
        CHECK(back.data[i] == y[i]);
    dg_labels_free(&back);
}

static void test_npy_reads_every_dtype_byte_order_and_version(void)
{
    static const struct { char kind; int size; } types[] = {
        {'f', 4}, {'f', 8}, {'i', 1}, {'i', 2}, {'i', 4}, {'i', 8},
        {'u', 1}, {'u', 2}, {'u', 4}, {'u', 8},
    };
    const double floats[6] = {0.5, -1.25, 7, 100, 0.001, 42};
    const double ints[6] = {0, -5, 7, 100, 127, 42};
    unsigned char data[6 * 8];
    char dict[128];
    dg_matrix M = {0};
    dg_error e = {0};
    int cases = 0;

    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        for (int big = 0; big < 2; big++)
            for (int major = 1; major <= 3; major++) {
                char kind = types[t].kind;
                int size = types[t].size;
                const double *v = kind == 'f' ? floats : ints;

                for (int i = 0; i < 6; i++)
                    encode(data + i * size, kind, size, big,
                           kind == 'u' && v[i] < 0 ? -v[i] : v[i]);
                snprintf(dict, sizeof dict,
                         "{'descr': '%c%c%d', 'fortran_order': False, 'shape': (2, 3), }",
                         size == 1 ? '|' : big ? '>' : '<', kind, size);
                write_npy_raw(tpath("t.npy"), major, dict, data, 6 * (size_t)size);
                if (dg_read_npy(tpath("t.npy"), &M, &e) != 0) {
                    fprintf(stderr, "  %s v%d: %s\n", dict, major, e.msg);
                    CHECK(0);
                    continue;
                }
                CHECK(M.rows == 2 && M.cols == 3);
                for (int i = 0; i < 6; i++) {
                    double want = kind == 'u' && v[i] < 0 ? -v[i] : v[i];

                    CHECK(M.data[i] == (float)want);
                }
                dg_matrix_free(&M);
                cases++;
            }
    CHECK(cases == 60);

    /* Booleans: any non-zero byte is 1. */
    write_npy_raw(tpath("b.npy"), 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                  "\x00\x01\x01", 3);
    CHECK(dg_read_npy(tpath("b.npy"), &M, &e) == 0);
    CHECK(M.rows == 3 && M.cols == 1 && M.data[0] == 0 && M.data[1] == 1 && M.data[2] == 1);
    dg_matrix_free(&M);
}

static void test_npy_header_keys_in_any_order_with_odd_spacing(void)
{
    unsigned char data[8];
    dg_matrix M = {0};
    dg_error e = {0};

    encode(data, 'i', 4, 1, 258);
    encode(data + 4, 'i', 4, 1, -2);
    write_npy_raw(tpath("o.npy"), 1, "{ \"shape\" : ( 2 , ) ,'fortran_order':False,"
                  "  'descr':'>i4'}", data, 8);
    CHECK(dg_read_npy(tpath("o.npy"), &M, &e) == 0);
    CHECK(M.rows == 2 && M.cols == 1);
    CHECK(M.data && M.data[0] == 258.0f && M.data[1] == -2.0f);
    dg_matrix_free(&M);
}

static void test_npy_labels_take_integral_floats_and_name_bad_elements(void)
{
    unsigned char data[4 * 8];
    dg_labels y = {0};
    dg_error e = {0};
    const double good[4] = {2, 0, -1, 5};
    const double bad[4] = {2, 2.5, 0, 1};
    const double negative[4] = {1, 0, 3, -7};

    for (int i = 0; i < 4; i++)
        encode(data + 8 * i, 'f', 8, 0, good[i]);
    write_npy_raw(tpath("l.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)}",
                  data, 32);
    CHECK(dg_read_npy_labels(tpath("l.npy"), &y, &e) == 0);
    CHECK(y.n == 4 && y.data[0] == 2 && y.data[2] == -1 && y.data[3] == 5);
    dg_labels_free(&y);

    for (int i = 0; i < 4; i++)
        encode(data + 8 * i, 'f', 8, 0, bad[i]);
    write_npy_raw(tpath("l.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)}",
                  data, 32);
    CHECK(dg_read_npy_labels(tpath("l.npy"), &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, tpath("l.npy"), "element 1 (0-based) is 2.5"));

    for (int i = 0; i < 4; i++)
        encode(data + 8 * i, 'i', 8, 1, negative[i]);
    write_npy_raw(tpath("l.npy"), 2, "{'descr': '>i8', 'fortran_order': False, 'shape': (4, 1)}",
                  data, 32);
    CHECK(dg_read_npy_labels(tpath("l.npy"), &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, tpath("l.npy"), "element 3 (0-based) is -7"));
    CHECK(y.data == NULL && y.n == 0);
}

static void test_npy_malformed_files_are_errors_naming_file_and_place(void)
{
    unsigned char data[6 * 4] = {0};
    dg_matrix M = {0};
    dg_error e = {0};
    char p[512];

    snprintf(p, sizeof p, "%s", tpath("bad.npy"));

    /* Data shorter than the shape needs. */
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data,
                  20);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "needs 24 data bytes from byte 128, file ends after 20"));
    CHECK(M.data == NULL);

    write_file(p, "\x93NUMPX\x01\x00", 8);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "byte 0: expected the npy magic"));

    write_file(p, "\x93NUMPY\x01\x00\x40", 9);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "inside the npy preamble"));

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "Fortran order"));

    write_npy_raw(p, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "dtype '<c8' is not supported"));

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", data,
                  24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "more than 2 dimensions"));

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False 'shape': (6,), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "byte 50: expected ',' or '}'"));

    /* N x D overflows int64, then N x D x 8 bytes overflows size_t. */
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_ENOMEM);
    CHECK(msg_has(&e, p, "4294967296 x 4294967296"));
    write_npy_raw(p, 3, "{'descr': '<f8', 'fortran_order': False, "
                  "'shape': (1099511627776, 4194304), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_ENOMEM);
    CHECK(msg_has(&e, p, "overflows"));
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (99999999999999999999,), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "dimension below 2^63"));

    /* NaN at row 1, column 2 (0-based). */
    encode(data + 5 * 4, 'f', 4, 0, NAN);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 24);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "element [1, 2]"));
    /* A float64 too large for float32 is as bad as Inf. */
    encode(data, 'f', 8, 0, 1e300);
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", data, 8);
    CHECK(dg_read_npy(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "element [0, 0]"));
    CHECK(M.data == NULL);
}

/* ------------------------------------------------------------------- IDX */

/* Two 2 x 3 images: an IDX header then six bytes each. */
static const unsigned char idx_images[16 + 12] = {
    0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
    0, 51, 102, 153, 204, 255, 255, 0, 1, 2, 3, 4,
};
static const unsigned char idx_labels[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};

static void check_idx_images(const char *path)
{
    dg_matrix M = {0};
    dg_error e = {0};

    CHECK(dg_read_idx_images(path, &M, &e) == 0);
    CHECK(M.rows == 2 && M.cols == 6);
    if (!M.data)
        return;
    CHECK(M.data[0] == 0.0f);
    CHECK_NEAR(M.data[1], 0.2, 1e-7);
    CHECK(M.data[5] == 1.0f && M.data[6] == 1.0f);
    CHECK_NEAR(M.data[11], 4.0 / 255.0, 1e-7);
    dg_matrix_free(&M);
}

static void test_idx_reads_raw_and_gzip_images_and_labels(void)
{
    dg_labels y = {0};
    dg_error e = {0};

    write_file(tpath("img-ubyte"), idx_images, sizeof idx_images);
    write_gzip(tpath("img-ubyte.gz"), idx_images, sizeof idx_images);
    check_idx_images(tpath("img-ubyte"));
    check_idx_images(tpath("img-ubyte.gz"));

    write_gzip(tpath("lab-ubyte.gz"), idx_labels, sizeof idx_labels);
    CHECK(dg_read_idx_labels(tpath("lab-ubyte.gz"), &y, &e) == 0);
    CHECK(y.n == 3 && y.data[0] == 7 && y.data[1] == 0 && y.data[2] == 9);
    dg_labels_free(&y);
}

static void test_idx_malformed_files_are_errors_naming_file_and_place(void)
{
    unsigned char buf[sizeof idx_images];
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};
    char p[512], gz[512];
    unsigned char packed[256];
    size_t n;

    snprintf(p, sizeof p, "%s", tpath("bad-ubyte"));
    snprintf(gz, sizeof gz, "%s", tpath("bad-ubyte.gz"));
    write_file(p, idx_images, sizeof idx_images - 5);
    CHECK(dg_read_idx_images(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "expected 12 bytes of pixel data after the 16-byte header, "
                         "file ends after 7"));

    write_file(p, idx_images, 10);
    CHECK(dg_read_idx_images(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "16-byte header, file ends after 10"));

    memcpy(buf, idx_images, sizeof buf);
    buf[3] = 1;
    write_file(p, buf, sizeof buf);
    CHECK(dg_read_idx_images(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "byte 3: expected 3 dimensions"));
    CHECK(dg_read_idx_labels(tpath("img-ubyte"), &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, tpath("img-ubyte"), "byte 3: expected 1 dimension"));

    write_text(p, "P5\n2 3\n255\n");
    CHECK(dg_read_idx_images(p, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "byte 0: expected IDX magic 0x00000803"));

    /* 0xffffffff images of 0xffffffff x 0xffffffff pixels. */
    memset(buf + 4, 0xff, 12);
    buf[3] = 3;
    write_file(p, buf, sizeof buf);
    CHECK(dg_read_idx_images(p, &M, &e) == DG_ENOMEM);
    CHECK(msg_has(&e, p, "overflow"));

    /* A gzip stream cut short, and one with a damaged body. */
    write_gzip(gz, idx_images, sizeof idx_images);
    n = read_file(gz, packed, sizeof packed);
    write_file(gz, packed, n - 10);
    CHECK(dg_read_idx_images(gz, &M, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, gz, "truncated"));
    packed[n - 3] ^= 0xff;
    write_file(gz, packed, n);
    CHECK(dg_read_idx_images(gz, &M, &e) != 0);
    CHECK(msg_has(&e, gz, NULL));
    CHECK(M.data == NULL);
}

static void test_every_cut_short_file_is_rejected(void)
{
    const float X[6] = {1, 2, 3, 4, 5, 6};
    unsigned char whole[512];
    dg_matrix M = {0};
    dg_error e = {0};
    char npy[512], idx[512], gz[512];
    size_t n_npy, n_gz;
    int rejected = 0, named = 0;

    snprintf(npy, sizeof npy, "%s", tpath("cut.npy"));
    snprintf(idx, sizeof idx, "%s", tpath("cut-ubyte"));
    snprintf(gz, sizeof gz, "%s", tpath("cut-ubyte.gz"));
    dg_write_npy(npy, X, 2, 3, &e);
    n_npy = read_file(npy, whole, sizeof whole);
    for (size_t len = 0; len < n_npy; len++) {
        write_file(npy, whole, len);
        rejected += dg_read_npy(npy, &M, &e) != 0;
        named += strstr(e.msg, npy) != NULL;
    }
    CHECK(rejected == (int)n_npy && named == (int)n_npy);

    rejected = named = 0;
    for (size_t len = 0; len < sizeof idx_images; len++) {
        write_file(idx, idx_images, len);
        rejected += dg_read_idx_images(idx, &M, &e) != 0;
        named += strstr(e.msg, idx) != NULL;
    }
    CHECK(rejected == (int)sizeof idx_images && named == rejected);

    /* Cut inside the gzip stream, from just after its 10-byte header on. */
    write_gzip(gz, idx_images, sizeof idx_images);
    n_gz = read_file(gz, whole, sizeof whole);
    rejected = named = 0;
    for (size_t len = 10; len < n_gz; len++) {
        write_file(gz, whole, len);
        rejected += dg_read_idx_images(gz, &M, &e) != 0;
        named += strstr(e.msg, gz) != NULL;
    }
    CHECK(rejected == (int)(n_gz - 10) && named == rejected);
    CHECK(M.data == NULL);
}

/* ------------------------------------------------------------------- CSV */

static void test_csv_write_then_read_gives_the_same_floats_and_names(void)
{
    const float X[6] = {1.5f, -2.0f, 1.0f / 3.0f, 1e-30f, 3.4e38f, 0.1f};
    const char *const header[3] = {"a", "with, comma", "say \"hi\""};
    dg_matrix M = {0};
    char **names = NULL;
    dg_error e = {0};

    CHECK(dg_write_csv(tpath("w.csv"), X, 2, 3, header, &e) == 0);
    CHECK(dg_read_csv(tpath("w.csv"), NULL, &M, NULL, &names, &e) == 0);
    CHECK(M.rows == 2 && M.cols == 3);
    for (int i = 0; i < 6 && M.data; i++)
        CHECK(M.data[i] == X[i]);
    CHECK(names && strcmp(names[1], "with, comma") == 0 && strcmp(names[2], "say \"hi\"") == 0);
    dg_names_free(names, 3);
    dg_matrix_free(&M);

    /* Without a header the first row is data. */
    CHECK(dg_write_csv(tpath("w.csv"), X, 2, 3, NULL, &e) == 0);
    CHECK(dg_read_csv(tpath("w.csv"), NULL, &M, NULL, &names, &e) == 0);
    CHECK(M.rows == 2 && names == NULL && M.data[0] == 1.5f);
    dg_matrix_free(&M);
}

static void test_csv_bom_crlf_quotes_and_label_column_by_name(void)
{
    dg_csv_opts o = dg_csv_defaults();
    dg_matrix M = {0};
    dg_labels y = {0};
    char **names = NULL;
    dg_error e = {0};

    write_text(tpath("q.csv"), "\xef\xbb\xbf" "x1,\"class\",\"x \"\"2\"\"\"\r\n"
                               "1.5,2,\" -3 \"\r\n\r\n"
                               "4,0,5e-1\r\n");
    o.label_column = "class";
    CHECK(dg_read_csv(tpath("q.csv"), &o, &M, &y, &names, &e) == 0);
    CHECK(M.rows == 2 && M.cols == 2 && y.n == 2);
    if (M.data && y.data && names) {
        CHECK(M.data[0] == 1.5f && M.data[1] == -3.0f && M.data[2] == 4.0f);
        CHECK(M.data[3] == 0.5f);
        CHECK(y.data[0] == 2 && y.data[1] == 0);
        CHECK(strcmp(names[0], "x1") == 0 && strcmp(names[1], "x \"2\"") == 0);
    }
    dg_names_free(names, M.cols);
    dg_matrix_free(&M);
    dg_labels_free(&y);

    /* By 0-based index; an empty label cell is an unlabelled row. */
    write_text(tpath("q.tsv"), "7\t0.5\n\t1.5\n3\t2.5\n");
    o.label_column = "0";
    CHECK(dg_read_csv(tpath("q.tsv"), &o, &M, &y, NULL, &e) == 0);
    CHECK(M.rows == 3 && M.cols == 1 && y.n == 3);
    CHECK(y.data && y.data[0] == 7 && y.data[1] == -1 && y.data[2] == 3);
    CHECK(M.data && M.data[2] == 2.5f);
    dg_matrix_free(&M);
    dg_labels_free(&y);
}

static void test_csv_header_is_guessed_from_the_first_two_rows(void)
{
    dg_matrix M = {0};
    char **names = NULL;
    dg_error e = {0};

    /* A text cell above a number: header. */
    write_text(tpath("h.csv"), "1,b\n2,3\n4,5\n");
    CHECK(dg_read_csv(tpath("h.csv"), NULL, &M, NULL, &names, &e) == 0);
    CHECK(M.rows == 2 && names && strcmp(names[1], "b") == 0);
    dg_names_free(names, M.cols);
    dg_matrix_free(&M);

    /* All numbers: no header, three rows. */
    write_text(tpath("h.csv"), "1,2\n2,3\n4,5\n");
    CHECK(dg_read_csv(tpath("h.csv"), NULL, &M, NULL, &names, &e) == 0);
    CHECK(M.rows == 3 && names == NULL && M.data[0] == 1.0f);
    dg_matrix_free(&M);
}

static void test_csv_bad_rows_are_errors_naming_line_and_column(void)
{
    dg_csv_opts o = dg_csv_defaults();
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};
    char p[512];

    snprintf(p, sizeof p, "%s", tpath("bad.csv"));

    write_text(p, "a,b,c\n1,2,3\n4,5\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 3 has 2 fields, expected 3"));

    write_text(p, "a,b,c\n1,2,3\n\n4,xyz,6\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 4, column 'b' (field 2): expected a number, found 'xyz'"));

    write_text(p, "1,2\n3,nan\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 2, field 2: expected a finite"));
    o.allow_nan = 1;
    CHECK(dg_read_csv(p, &o, &M, NULL, NULL, &e) == 0);
    CHECK(M.rows == 2 && isnan(M.data[3]));
    dg_matrix_free(&M);

    write_text(p, "x,y\n1,2\n3,-2\n");
    o.label_column = "y";
    CHECK(dg_read_csv(p, &o, &M, &y, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 3, column 'y' (field 2): expected a class id"));
    o.label_column = "z";
    CHECK(dg_read_csv(p, &o, &M, &y, NULL, &e) == DG_EINVAL);
    CHECK(msg_has(&e, p, "no column named 'z'"));
    o.label_column = "5";
    CHECK(dg_read_csv(p, &o, &M, &y, NULL, &e) == DG_EINVAL);
    CHECK(msg_has(&e, p, "label column 5 is out of range"));

    write_text(p, "1,2\n3,4\n");
    o.label_column = "y";
    CHECK(dg_read_csv(p, &o, &M, &y, NULL, &e) == DG_EINVAL);
    CHECK(msg_has(&e, p, "no header row"));

    write_text(p, "1,2\n3,\"4\n5,6\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 2, byte 3: quoted field is never closed"));

    write_text(p, "1,\"2\"x\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, byte 6: expected ','"));

    write_file(p, "1,2\n3,\0\n", 8);
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 2"));

    write_text(p, "");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "file is empty"));
    write_text(p, "\xef\xbb\xbf\r\n\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "file is empty"));

    write_text(p, "a,b\n");
    CHECK(dg_read_csv(p, NULL, &M, NULL, NULL, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "no data rows after the header on line 1"));
    CHECK(M.data == NULL && y.data == NULL);
}

/* ---------------------------------------------------------------- LIBSVM */

static void test_libsvm_densifies_sparse_rows(void)
{
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};

    write_text(tpath("s.svm"), "# a comment line\n"
                               "2 1:0.5 4:-1e1   # trailing comment\r\n"
                               "\n"
                               "0\t3:7\n"
                               "1 2:1.25\n");
    CHECK(dg_read_libsvm(tpath("s.svm"), 6, &M, &y, &e) == 0);
    CHECK(M.rows == 3 && M.cols == 6 && y.n == 3);
    if (M.data && y.data) {
        const float want[18] = {0.5f, 0, 0, -10, 0, 0, 0, 0, 7, 0, 0, 0, 0, 1.25f, 0, 0, 0, 0};

        for (int i = 0; i < 18; i++)
            CHECK(M.data[i] == want[i]);
        CHECK(y.data[0] == 2 && y.data[1] == 0 && y.data[2] == 1);
    }
    dg_matrix_free(&M);
    dg_labels_free(&y);

    /* D grows past n_features to the largest index; -1/+1 become 0/1. */
    write_text(tpath("s.svm"), "+1 5:1\n-1 1:2\n");
    CHECK(dg_read_libsvm(tpath("s.svm"), 2, &M, &y, &e) == 0);
    CHECK(M.cols == 5 && y.data && y.data[0] == 1 && y.data[1] == 0);
    dg_matrix_free(&M);
    dg_labels_free(&y);
}

static void test_libsvm_bad_lines_are_errors_naming_line_and_column(void)
{
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};
    char p[512];

    snprintf(p, sizeof p, "%s", tpath("bad.svm"));

    write_text(p, "1 1:1 3:2\n0 2:1 2:5\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 2, column 7: index 2, expected an index in 3.."));

    write_text(p, "1 0:1\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, column 3: index 0"));

    write_text(p, "1 1:1\n1 2:\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 2, column 3: expected index:value, found '2:'"));

    write_text(p, "1 x:1\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, column 3: expected index:value"));

    write_text(p, "cat 1:1\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, column 1: expected an integer label"));

    write_text(p, "1 1:inf\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, column 5: value 'inf'"));

    write_text(p, "1 99999999999999999999:1\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "line 1, column 3"));

    write_text(p, "# only a comment\n\n");
    CHECK(dg_read_libsvm(p, 0, &M, &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, p, "no rows"));
    CHECK(M.data == NULL && y.data == NULL);
}

/* ------------------------------------------------- loading and datasets */

static void test_load_chooses_the_reader_by_file_name(void)
{
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};

    CHECK(dg_load_features(tpath("img-ubyte.gz"), NULL, &M, &e) == 0);
    CHECK(M.rows == 2 && M.cols == 6);
    dg_matrix_free(&M);
    write_text(tpath("f.txt"), "1 2:3\n");
    CHECK(dg_load_features(tpath("f.txt"), NULL, &M, &e) == 0);
    CHECK(M.rows == 1 && M.cols == 2 && M.data[1] == 3.0f);
    dg_matrix_free(&M);

    write_text(tpath("f.parquet"), "PAR1");
    CHECK(dg_load_features(tpath("f.parquet"), NULL, &M, &e) == DG_EINVAL);
    CHECK(msg_has(&e, tpath("f.parquet"), ".npy, .csv, .tsv, .svm"));

    write_text(tpath("y.txt"), "label\n3\n\n-1\n0\n");
    CHECK(dg_load_labels(tpath("y.txt"), &y, &e) == 0);
    CHECK(y.n == 3 && y.data[0] == 3 && y.data[1] == -1 && y.data[2] == 0);
    dg_labels_free(&y);
    write_text(tpath("y.csv"), "3,1\n");
    CHECK(dg_load_labels(tpath("y.csv"), &y, &e) == DG_EFORMAT);
    CHECK(msg_has(&e, tpath("y.csv"), "2 columns, expected one label per line"));
    CHECK(dg_load_labels(tpath("f.parquet"), &y, &e) == DG_EINVAL);
    CHECK(msg_has(&e, tpath("f.parquet"), "unknown label file type"));
}

static void test_missing_files_and_directories_are_named(void)
{
    dg_matrix M = {0};
    dg_labels y = {0};
    dg_error e = {0};

    CHECK(dg_read_npy(tpath("nothing.npy"), &M, &e) == DG_EIO);
    CHECK(msg_has(&e, tpath("nothing.npy"), "cannot open"));
    CHECK(dg_read_csv(tmpdir, NULL, &M, NULL, NULL, &e) == DG_EIO);
    CHECK(msg_has(&e, tmpdir, "is a directory"));
    CHECK(dg_read_idx_labels(tmpdir, &y, &e) == DG_EIO);
    CHECK(dg_read_libsvm(tmpdir, 0, &M, &y, &e) == DG_EIO);
    CHECK(dg_load_labels(tpath("nothing.npy"), &y, &e) == DG_EIO);
    CHECK(M.data == NULL && y.data == NULL);
}

static void test_failed_write_leaves_nothing_behind(void)
{
    const float X[2] = {1, 2};
    dg_error e = {0};
    struct dirent *d;
    DIR *dir;
    int leftovers = 0;

    /* A directory sits at the path: the final rename must fail. */
    mkdir(tpath("taken"), 0700);
    CHECK(dg_write_npy(tpath("taken"), X, 1, 2, &e) == DG_EIO);
    CHECK(msg_has(&e, tpath("taken"), NULL));
    CHECK(dg_write_csv(tpath("taken"), X, 1, 2, NULL, &e) == DG_EIO);
    CHECK(dg_write_npy(tpath("no/such/dir.npy"), X, 1, 2, &e) == DG_EIO);
    CHECK(dg_write_npy(tpath("neg.npy"), X, -1, 2, &e) == DG_EINVAL);
    CHECK(access(tpath("neg.npy"), F_OK) != 0);
    dir = opendir(tmpdir);
    while (dir && (d = readdir(dir)))
        leftovers += strstr(d->d_name, ".tmp.") != NULL;
    if (dir)
        closedir(dir);
    CHECK(leftovers == 0);
    rmdir(tpath("taken"));
}

static void test_dataset_from_arrays_checks_labels_and_takes_ownership(void)
{
    dg_matrix X = {3, 2, NULL};
    dg_labels y = {3, NULL};
    dg_dataset *ds = NULL;
    dg_error e = {0};

    X.data = calloc(6, sizeof(float));
    y.data = malloc(3 * sizeof(int32_t));
    y.data[0] = 4, y.data[1] = -1, y.data[2] = 1;
    CHECK(dg_dataset_from_arrays(&X, &y, 0, &ds, &e) == 0);
    CHECK(X.data == NULL && y.data == NULL);
    CHECK(ds && dg_dataset_rows(ds) == 3 && dg_dataset_cols(ds) == 2);
    CHECK(ds && dg_dataset_classes(ds) == 5 && dg_dataset_labels(ds)[0] == 4);
    dg_dataset_free(ds);

    X.rows = 3, X.cols = 2, X.data = calloc(6, sizeof(float));
    y.n = 3, y.data = malloc(3 * sizeof(int32_t));
    y.data[0] = 0, y.data[1] = 3, y.data[2] = 1;
    CHECK(dg_dataset_from_arrays(&X, &y, 3, &ds, &e) == DG_EINVAL);
    CHECK(msg_has(&e, "row 1 (0-based) is 3", "0..2"));
    CHECK(ds == NULL && X.data == NULL && y.data == NULL);

    X.rows = 3, X.cols = 2, X.data = calloc(6, sizeof(float));
    y.n = 2, y.data = calloc(2, sizeof(int32_t));
    CHECK(dg_dataset_from_arrays(&X, &y, 0, &ds, &e) == DG_EMISMATCH);
    CHECK(msg_has(&e, "2 labels for 3 feature rows", NULL));

    X.rows = 3, X.cols = 2, X.data = calloc(6, sizeof(float));
    CHECK(dg_dataset_from_arrays(&X, NULL, 0, &ds, &e) == 0);
    CHECK(ds && dg_dataset_labels(ds) == NULL && dg_dataset_classes(ds) == 0);
    dg_dataset_free(ds);
}

static void test_dataset_load_pairs_files_and_reports_mismatches(void)
{
    dg_csv_opts o = dg_csv_defaults();
    const int32_t y[2] = {1, 0};
    dg_dataset *ds = NULL;
    dg_error e = {0};

    write_text(tpath("d.csv"), "f1,f2,label\n0.5,1,2\n1.5,2,0\n2.5,3,1\n");
    o.label_column = "label";
    CHECK(dg_dataset_load(tpath("d.csv"), NULL, &o, &ds, &e) == 0);
    CHECK(ds && dg_dataset_rows(ds) == 3 && dg_dataset_cols(ds) == 2);
    CHECK(ds && dg_dataset_classes(ds) == 3 && dg_dataset_labels(ds)[0] == 2);
    CHECK(ds && dg_dataset_features(ds)[2] == 1.5f);
    CHECK(ds && strcmp(dg_dataset_source(ds), tpath("d.csv")) == 0);
    dg_dataset_free(ds);

    CHECK(dg_write_npy_labels(tpath("d2.npy"), y, 2, &e) == 0);
    CHECK(dg_dataset_load(tpath("d.csv"), tpath("d2.npy"), &o, &ds, &e) == DG_EMISMATCH);
    CHECK(msg_has(&e, tpath("d.csv"), "has 3 rows but"));
    CHECK(msg_has(&e, tpath("d2.npy"), "has 2 labels"));
    CHECK(ds == NULL);

    /* Two images but three labels. */
    CHECK(dg_dataset_load(tpath("img-ubyte.gz"), tpath("lab-ubyte.gz"), NULL, &ds, &e) ==
          DG_EMISMATCH);
    CHECK(msg_has(&e, "has 2 rows but", "has 3 labels"));
    CHECK(dg_dataset_load(tpath("s.svm"), NULL, NULL, &ds, &e) == 0);
    CHECK(ds && dg_dataset_rows(ds) == 2 && dg_dataset_classes(ds) == 2);
    dg_dataset_free(ds);
}

static void test_real_fashion_mnist_labels_load(void)
{
    dg_labels y = {0};
    dg_error e = {0};
    int counts[10] = {0}, in_range = 1;

    if (access(FASHION_LABELS, R_OK) != 0)
        return;
    CHECK(dg_load_labels(FASHION_LABELS, &y, &e) == 0);
    CHECK(y.n == 10000);
    for (int64_t i = 0; i < y.n; i++) {
        in_range &= y.data[i] >= 0 && y.data[i] <= 9;
        if (y.data[i] >= 0 && y.data[i] <= 9)
            counts[y.data[i]]++;
    }
    CHECK(in_range);
    /* The test split is balanced: 1000 of each class. */
    for (int k = 0; k < 10; k++)
        CHECK(counts[k] == 1000);
    dg_labels_free(&y);
}

/* Removes every file this run left in tmpdir, then the folder. */
static void clean_tmpdir(void)
{
    struct dirent *d;
    DIR *dir = opendir(tmpdir);

    while (dir && (d = readdir(dir)))
        if (d->d_name[0] != '.')
            unlink(tpath(d->d_name));
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dg-test-io-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_npy_write_then_read_gives_the_same_floats);
    RUN(test_npy_labels_write_then_read);
    RUN(test_npy_reads_every_dtype_byte_order_and_version);
    RUN(test_npy_header_keys_in_any_order_with_odd_spacing);
    RUN(test_npy_labels_take_integral_floats_and_name_bad_elements);
    RUN(test_npy_malformed_files_are_errors_naming_file_and_place);
    RUN(test_idx_reads_raw_and_gzip_images_and_labels);
    RUN(test_idx_malformed_files_are_errors_naming_file_and_place);
    RUN(test_every_cut_short_file_is_rejected);
    RUN(test_csv_write_then_read_gives_the_same_floats_and_names);
    RUN(test_csv_bom_crlf_quotes_and_label_column_by_name);
    RUN(test_csv_header_is_guessed_from_the_first_two_rows);
    RUN(test_csv_bad_rows_are_errors_naming_line_and_column);
    RUN(test_libsvm_densifies_sparse_rows);
    RUN(test_libsvm_bad_lines_are_errors_naming_line_and_column);
    RUN(test_load_chooses_the_reader_by_file_name);
    RUN(test_missing_files_and_directories_are_named);
    RUN(test_failed_write_leaves_nothing_behind);
    RUN(test_dataset_from_arrays_checks_labels_and_takes_ownership);
    RUN(test_dataset_load_pairs_files_and_reports_mismatches);
    RUN(test_real_fashion_mnist_labels_load);
    clean_tmpdir();
    return check_summary();
}
