/* Internal interface of the text path: a growable byte buffer, strict UTF-8
 * decoding and repair, whole-file reading, and the corpus layout shared by
 * the JSONL and CSV readers and the featurizer. Not part of the public API.
 */
#ifndef DG_TEXT_H
#define DG_TEXT_H

#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>

/* Most distinct class labels a corpus may hold; more almost always means
 * the label key names a free-text column. */
#define DG_TEXT_MAX_CLASSES 4096

/* ------------------------------------------------------------ byte buffer */

typedef struct dg__buf {
    char *p;
    size_t n, cap;
} dg__buf;

/* Appends n bytes (the buffer stays NUL-terminated past p[n]). */
int dg__buf_put(dg__buf *b, const void *data, size_t n, dg_error *err);
void dg__buf_free(dg__buf *b);

/* ------------------------------------------------------------------ UTF-8 */

/* Decodes one code point at s[0..n), n >= 1. Returns its length (1-4) and
 * sets *cp; or returns 0 for invalid input, with *bad the length of the
 * maximal invalid subpart (>= 1) and *why a reason. Overlong forms,
 * encoded surrogates, code points above U+10FFFF, stray continuation bytes
 * and truncated sequences are invalid. */
int dg__utf8_decode(const unsigned char *s, size_t n, int32_t *cp, size_t *bad,
                    const char **why);
/* Encodes cp (<= U+10FFFF, not a surrogate) into out[0..4); returns bytes. */
int dg__utf8_encode(int32_t cp, unsigned char *out);
/* Checks s[0..n). Valid text is appended to out unchanged (out may be NULL
 * to only check). In DG_UTF8_ERROR mode the first invalid byte stops it:
 * returns -1 with *bad_at its offset and *why a reason. In DG_UTF8_REPLACE
 * mode each maximal invalid subpart becomes U+FFFD and *replaced grows. */
int dg__utf8_clean(const char *s, size_t n, dg_utf8_mode mode, dg__buf *out, int64_t *replaced,
                   size_t *bad_at, const char **why, dg_error *err);

/* The whole file at path into *data (NUL-terminated, *len bytes). */
int dg__read_file(const char *path, char **data, size_t *len, dg_error *err);
/* Reads path and checks or repairs its UTF-8 (a leading BOM dropped) into
 * *clean; an invalid byte in DG_UTF8_ERROR mode fails naming its line and
 * byte (both 1-based, bytes counted after the BOM on line 1).
 * Limit: in DG_UTF8_REPLACE mode later syntax errors count bytes in the
 * repaired text, so each earlier U+FFFD on that line may shift them. */
int dg__read_text_file(const char *path, dg_utf8_mode mode, dg__buf *clean, int64_t *replaced,
                       dg_error *err);

/* ----------------------------------------------------------------- corpus */

enum { DG__LABELS_NONE = 0, DG__LABELS_NAMED, DG__LABELS_INTEGER };

struct dg_corpus {
    int64_t n, cap;
    int64_t *text_off, *text_len; /* into arena */
    int64_t *id_off, *group_off;  /* into arena, -1: none */
    int32_t *label;               /* -1: none */
    dg__buf arena;                /* all strings, each NUL-terminated */

    char **names; /* C class names */
    int C;
    int fixed;      /* names were given: no new class may appear */
    int label_kind; /* DG__LABELS_*: what free (not fixed) labels have been */

    dg_utf8_mode utf8_mode;
    int64_t replaced;
};

/* Class id of a string label; `where` prefixes the error ("f: line 3"). */
int dg__corpus_label_name(dg_corpus *c, const char *name, const char *where, int32_t *id,
                          dg_error *err);
/* Class id of an integer label (-1: none). */
int dg__corpus_label_int(dg_corpus *c, int64_t k, const char *where, int32_t *id,
                         dg_error *err);
/* Appends an already valid text with a resolved class id. */
int dg__corpus_push(dg_corpus *c, const char *text, size_t len, int32_t label, const char *id,
                    const char *group, dg_error *err);

#endif /* DG_TEXT_H */
