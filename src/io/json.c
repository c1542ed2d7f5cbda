/* A strict JSON (RFC 8259) cursor over one JSONL line: strings with every
 * escape and UTF-16 surrogate pairs, numbers, literals, object members and
 * skipping of any value up to a nesting cap. The text corpus reader and the
 * teacher/id readers build their line grammars on it.
 */
#include "io/json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Room for how the byte at the cursor is described in a message. */
#define FOUND_MAX 16

int dg__json_next_line(dg__json *j, const char *text, size_t len, size_t *pos)
{
    while (*pos < len) {
        const char *nl = memchr(text + *pos, '\n', len - *pos);
        size_t end = nl ? (size_t)(nl - text) : len;

        j->s = text + *pos;
        j->n = end - *pos;
        j->i = 0;
        j->line++;
        *pos = end + 1;
        if (j->n && j->s[j->n - 1] == '\r')
            j->n--;
        dg__json_ws(j);
        if (j->i < j->n) {
            j->i = 0;
            return 1;
        }
    }
    return 0;
}

int dg__json_fail(dg__json *j, const char *fmt, ...)
{
    char msg[DG_ERROR_MSG];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dg__fail(j->err, DG_EFORMAT, "%s: line %lld, byte %zu: %s", j->path,
                    (long long)j->line, j->i + 1, msg);
}

/* Describes the byte at the cursor for messages; tmp holds FOUND_MAX. */
static const char *found(const dg__json *j, char *tmp)
{
    unsigned char ch;

    if (j->i >= j->n)
        return "the end of the line";
    ch = (unsigned char)j->s[j->i];
    if (ch >= 0x20 && ch < 0x7F)
        snprintf(tmp, FOUND_MAX, "'%c'", ch);
    else
        snprintf(tmp, FOUND_MAX, "byte 0x%02X", ch);
    return tmp;
}

void dg__json_ws(dg__json *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\r' ||
                           j->s[j->i] == '\n'))
        j->i++;
}

int dg__json_at(dg__json *j, char ch)
{
    dg__json_ws(j);
    return j->i < j->n && j->s[j->i] == ch;
}

int dg__json_expect(dg__json *j, char ch, const char *what)
{
    char tmp[FOUND_MAX];

    if (!dg__json_at(j, ch))
        return dg__json_fail(j, "expected '%c' %s, found %s", ch, what, found(j, tmp));
    j->i++;
    return 0;
}

int dg__json_end(dg__json *j)
{
    char tmp[FOUND_MAX];

    dg__json_ws(j);
    if (j->i < j->n)
        return dg__json_fail(j, "expected the end of the line after the object, found %s",
                             found(j, tmp));
    return 0;
}

/* ------------------------------------------------------------------ strings */

/* Four hex digits at the cursor into *v. */
static int hex4(dg__json *j, int32_t *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++, j->i++) {
        char ch = j->i < j->n ? j->s[j->i] : '\0';
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;

        if (d < 0)
            return dg__json_fail(j, "expected 4 hex digits after \\u");
        *v = *v * 16 + d;
    }
    return 0;
}

/* A \u escape (cursor after the 'u'), joining a surrogate pair; a lone
 * surrogate is an error or U+FFFD as j->replaced says. */
static int unicode_escape(dg__json *j, dg__buf *out)
{
    unsigned char enc[4];
    size_t at = j->i;
    int32_t cp, lo;
    int rc;

    if ((rc = hex4(j, &cp)))
        return rc;
    if (cp >= 0xD800 && cp <= 0xDBFF && j->i + 1 < j->n && j->s[j->i] == '\\' &&
        j->s[j->i + 1] == 'u') {
        size_t back = j->i;

        j->i += 2;
        if ((rc = hex4(j, &lo)))
            return rc;
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
            j->i = back;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        if (!j->replaced) {
            j->i = at - 2;
            return dg__json_fail(j, "lone UTF-16 surrogate \\u%04X (expected a %s surrogate to "
                                 "pair with)", (unsigned)cp,
                                 cp < 0xDC00 ? "following low" : "preceding high");
        }
        (*j->replaced)++;
        cp = 0xFFFD;
    }
    if (cp == 0 && j->no_nul) {
        j->i = at - 2;
        return dg__json_fail(j, "escape \\u0000 is a NUL byte, which this string cannot hold");
    }
    return out ? dg__buf_put(out, enc, (size_t)dg__utf8_encode(cp, enc), j->err) : 0;
}

int dg__json_string(dg__json *j, dg__buf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    int rc;

    if ((rc = dg__json_expect(j, '"', "to start a string")))
        return rc;
    for (;;) {
        size_t run = j->i;
        const char *hit;
        unsigned char ch;

        while (j->i < j->n && j->s[j->i] != '"' && j->s[j->i] != '\\' &&
               (unsigned char)j->s[j->i] >= 0x20)
            j->i++;
        if (out && (rc = dg__buf_put(out, j->s + run, j->i - run, j->err)))
            return rc;
        if (j->i >= j->n)
            return dg__json_fail(j, "unterminated string (expected '\"' before the end of "
                                 "the line)");
        ch = (unsigned char)j->s[j->i];
        if (ch == '"') {
            j->i++;
            return out ? dg__buf_put(out, "", 0, j->err) : 0;
        }
        if (ch < 0x20)
            return dg__json_fail(j, "control character 0x%02X inside a string (expected it "
                                 "escaped)", ch);

        /* a backslash escape */
        if (++j->i >= j->n)
            return dg__json_fail(j, "unterminated escape at the end of the line");
        ch = (unsigned char)j->s[j->i++];
        if (ch == 'u') {
            if ((rc = unicode_escape(j, out)))
                return rc;
            continue;
        }
        if (!ch || !(hit = strchr(from, ch))) {
            j->i--;
            return dg__json_fail(j, "invalid escape (expected one of \\\" \\\\ \\/ \\b \\f \\n "
                                 "\\r \\t \\u)");
        }
        if (out && (rc = dg__buf_put(out, to + (hit - from), 1, j->err)))
            return rc;
    }
}

/* ---------------------------------------------------------- other values */

static int at_digit(const dg__json *j)
{
    return j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9';
}

int dg__json_number(dg__json *j, double *v, int *integral)
{
    char tmp[FOUND_MAX];
    size_t start;
    char *end;

    dg__json_ws(j);
    start = j->i;
    *integral = 1;
    if (j->i < j->n && j->s[j->i] == '-') {
        j->i++;
        if (!at_digit(j))
            return dg__json_fail(j, "expected a digit after '-', found %s", found(j, tmp));
    }
    if (!at_digit(j))
        return dg__json_fail(j, "expected a number, found %s", found(j, tmp));
    if (j->s[j->i] == '0')
        j->i++;
    else
        while (at_digit(j))
            j->i++;
    if (j->i < j->n && j->s[j->i] == '.') {
        *integral = 0;
        j->i++;
        if (!at_digit(j))
            return dg__json_fail(j, "expected a digit after the decimal point, found %s",
                                 found(j, tmp));
        while (at_digit(j))
            j->i++;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        *integral = 0;
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (!at_digit(j))
            return dg__json_fail(j, "expected a digit in the exponent, found %s", found(j, tmp));
        while (at_digit(j))
            j->i++;
    }
    if (!v)
        return 0;

    /* The line's bytes run on past the number (a NUL ends the text), so
     * strtod stops at or after its end. It reads further only where the
     * number is 0 or -0 and digits or a hex "x" follow, which the caller
     * then rejects; the value is the zero the grammar read. */
    *v = strtod(j->s + start, &end);
    if (end != j->s + j->i)
        *v = j->s[start] == '-' ? -0.0 : 0.0;
    return 0;
}

int dg__json_literal(dg__json *j, const char *word)
{
    size_t len = strlen(word);

    dg__json_ws(j);
    if (j->n - j->i < len || memcmp(j->s + j->i, word, len) != 0)
        return dg__json_fail(j, "expected a JSON value (%s)", word);
    j->i += len;
    return 0;
}

int dg__json_member(dg__json *j, char close, int64_t *count, dg__buf *key, int *done)
{
    char tmp[FOUND_MAX];
    int rc;

    *done = dg__json_at(j, close);
    if (*done) {
        j->i++;
        return 0;
    }
    if (*count > 0) {
        if (!dg__json_at(j, ','))
            return dg__json_fail(j, "expected ',' or '%c' after a value, found %s", close,
                                 found(j, tmp));
        j->i++;
    }
    (*count)++;
    if (close != '}')
        return 0;
    if (!dg__json_at(j, '"'))
        return dg__json_fail(j, "expected '\"' to start a key, found %s", found(j, tmp));
    if (key)
        key->n = 0;
    if ((rc = dg__json_string(j, key)))
        return rc;
    return dg__json_expect(j, ':', "after a key");
}

/* Any value at the cursor, skipped; depth counts the containers around it. */
static int skip_value(dg__json *j, int depth)
{
    char close, tmp[FOUND_MAX];
    int64_t count = 0;
    int done = 0, integral, rc;

    dg__json_ws(j);
    if (j->i >= j->n)
        return dg__json_fail(j, "expected a JSON value, found the end of the line");
    switch (j->s[j->i]) {
    case '"':
        return dg__json_string(j, NULL);
    case 't':
        return dg__json_literal(j, "true");
    case 'f':
        return dg__json_literal(j, "false");
    case 'n':
        return dg__json_literal(j, "null");
    case '{':
    case '[':
        break;
    default:
        if (j->s[j->i] == '-' || at_digit(j))
            return dg__json_number(j, NULL, &integral);
        return dg__json_fail(j, "expected a JSON value, found %s", found(j, tmp));
    }
    if (depth >= j->max_depth)
        return dg__json_fail(j, "nesting deeper than %d levels", j->max_depth);
    close = j->s[j->i++] == '{' ? '}' : ']';
    while ((rc = dg__json_member(j, close, &count, NULL, &done)) == 0 && !done)
        if ((rc = skip_value(j, depth + 1)))
            return rc;
    return rc;
}

int dg__json_skip(dg__json *j)
{
    return skip_value(j, 1);
}
