/* Internal: a strict JSON (RFC 8259) cursor over one line of a JSONL file,
 * shared by the text corpus reader and the teacher/id readers. It parses
 * strings (escapes, surrogate pairs), numbers, literals and object members,
 * and skips any value up to a nesting cap; every error names the file, the
 * line and the 1-based byte, and what was expected there.
 */
#ifndef DG_JSON_H
#define DG_JSON_H

#include "text/text.h"

/* A cursor over s[0..n), one line without its line end. The caller sets
 * path, max_depth, replaced, no_nul and err; dg__json_next_line sets the
 * rest. */
typedef struct dg__json {
    const char *s;
    size_t n, i;       /* length and cursor */
    const char *path;  /* for messages: "path: line L, byte B: ..." */
    int64_t line;      /* 1-based; 0 before the first line */
    int max_depth;     /* most nesting levels, the line's object included */
    int64_t *replaced; /* NULL: a lone surrogate escape is an error; else it
                        * becomes U+FFFD and *replaced grows */
    int no_nul;        /* 1: the escape \u0000 is an error (C-string callers) */
    dg_error *err;
} dg__json;

/* Moves j to the next non-blank line of text[0..len) at *pos (a '\r'
 * before the '\n' dropped), counting j->line; 0 when the text has ended. */
int dg__json_next_line(dg__json *j, const char *text, size_t len, size_t *pos);

/* Fails with DG_EFORMAT and "path: line L, byte B: <message>", B the
 * 1-based cursor. */
int dg__json_fail(dg__json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves the cursor past spaces, tabs, CR and LF. */
void dg__json_ws(dg__json *j);
/* Skips whitespace, then 1 when the next byte is ch (not consumed). */
int dg__json_at(dg__json *j, char ch);
/* Skips whitespace and consumes ch, or fails "expected 'ch' <what>, found ...". */
int dg__json_expect(dg__json *j, char ch, const char *what);
/* Only whitespace may remain on the line. */
int dg__json_end(dg__json *j);

/* The string after whitespace; its decoded UTF-8 bytes are appended to out
 * (NULL: checked only), which is then allocated and NUL-terminated past
 * out->n even for an empty string. */
int dg__json_string(dg__json *j, dg__buf *out);
/* The number after whitespace. *integral: no fraction or exponent. *v (when
 * v is not NULL) gets its value. */
int dg__json_number(dg__json *j, double *v, int *integral);
/* The literal `word` (true, false or null) after whitespace. */
int dg__json_literal(dg__json *j, const char *word);
/* Skips any value inside the line's object, nesting capped by max_depth. */
int dg__json_skip(dg__json *j);

/* One step through an object or array whose opening byte the cursor has
 * passed; *count is the members read so far (0 at the start) and grows.
 * Consumes the ',' before a member, or the closing byte `close` and sets
 * *done. In an object ('}') it then reads the member's key into key
 * (emptied first; NULL: only checked) and the ':' after it, leaving the
 * cursor before the value. */
int dg__json_member(dg__json *j, char close, int64_t *count, dg__buf *key, int *done);

#endif /* DG_JSON_H */
