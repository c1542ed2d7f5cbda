/* Internal to src/io: reading a whole file (raw or gzip) into memory, and
 * the small checked-arithmetic and naming helpers the format readers share.
 * Formats parse from memory, so every reader sees the exact byte count.
 */
#ifndef DG_IO_H
#define DG_IO_H

#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>

/* A whole file in memory: len bytes, followed by one NUL not counted in len
 * (so text parsers may call strtod safely at the last byte). */
typedef struct dg__bytes {
    unsigned char *data;
    size_t len;
} dg__bytes;

/* Reads all of `path`; gzip content is decompressed (detected by content),
 * and a truncated or corrupt gzip stream is an error. Free with
 * dg__bytes_free. */
int dg__read_all(const char *path, dg__bytes *out, dg_error *err);
void dg__bytes_free(dg__bytes *b);

/* 1 when `path` ends with `suffix`, ignoring ASCII case. */
int dg__has_suffix(const char *path, const char *suffix);

/* *out = a * b for a, b >= 0; returns 0 (and leaves *out alone) when the
 * product would exceed `limit`. */
int dg__mul_le(int64_t a, int64_t b, int64_t limit, int64_t *out);

/* Features plus, when the format carries them (a LIBSVM file, or a CSV
 * file with csv->label_column set), labels. y may be NULL; y->n is 0 when
 * the file holds no labels. X is N x D. */
int dg__load_features_labels(const char *path, const dg_csv_opts *csv, dg_matrix *X,
                             dg_labels *y, dg_error *err);

/* Calls fn for every record of a CSV/TSV file (blank lines skipped) with
 * its 1-based starting line and its n unescaped cells; stops at the first
 * non-zero return, which it passes on. delimiter 0: '\t' for .tsv, else ','.
 * Quoting, CRLF and a BOM as in dg_read_csv. */
typedef int (*dg__csv_record_fn)(void *user, int64_t line, const char *const *cells,
                                 int64_t n, dg_error *err);
int dg__csv_records(const char *path, char delimiter, dg__csv_record_fn fn, void *user,
                    dg_error *err);

#endif /* DG_IO_H */
