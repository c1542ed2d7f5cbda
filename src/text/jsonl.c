/* JSONL reader: one JSON object per line into a dg_corpus. A small strict
 * JSON parser (RFC 8259) reads the text, label, id and group keys and skips
 * any other value, however nested. Errors name the file, line and byte.
 */
#include "text/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of arrays/objects skipped inside one line; deeper input
 * is rejected rather than risking the stack. */
#define JSON_MAX_DEPTH 256
/* Most characters of a rejected number quoted in an error message. */
#define NUMBER_SHOWN 40

/* Parser state for one line; s[0..n) is the line without its line end. */
typedef struct jp {
    const char *s;
    size_t n, i;
    const char *path;
    int64_t line;
    dg_corpus *c;
    dg_error *err;
} jp;

/* What a known key held. */
typedef struct field {
    int seen;
    int kind; /* 's' string, 'i' integer, 'n' null */
    int64_t k;
    dg__buf str;
} field;

static int jp_fail(jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails with "path: line L, byte B: <message>", B the 1-based current byte. */
static int jp_fail(jp *p, const char *fmt, ...)
{
    char msg[DG_ERROR_MSG];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dg__fail(p->err, DG_EFORMAT, "%s: line %" PRId64 ", byte %zu: %s", p->path, p->line,
                    p->i + 1, msg);
}

static void skip_ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' ||
                           p->s[p->i] == '\n'))
        p->i++;
}

/* Describes the byte at the cursor for messages. */
static const char *found(jp *p, char *tmp, size_t size)
{
    unsigned char ch;

    if (p->i >= p->n)
        return "the end of the line";
    ch = (unsigned char)p->s[p->i];
    if (ch >= 0x20 && ch < 0x7F)
        snprintf(tmp, size, "'%c'", ch);
    else
        snprintf(tmp, size, "byte 0x%02X", ch);
    return tmp;
}

/* Four hex digits at the cursor into *v. */
static int hex4(jp *p, int32_t *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++, p->i++) {
        char ch = p->i < p->n ? p->s[p->i] : '\0';
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return jp_fail(p, "expected 4 hex digits after \\u");
        *v = *v * 16 + d;
    }
    return 0;
}

/* A \u escape (cursor after the 'u'), joining a surrogate pair; a lone
 * surrogate is an error or U+FFFD as the corpus's UTF-8 mode says. */
static int unicode_escape(jp *p, dg__buf *out)
{
    unsigned char enc[4];
    size_t at = p->i;
    int32_t cp, lo;
    int rc;

    if ((rc = hex4(p, &cp)))
        return rc;
    if (cp >= 0xD800 && cp <= 0xDBFF && p->i + 1 < p->n && p->s[p->i] == '\\' &&
        p->s[p->i + 1] == 'u') {
        size_t back = p->i;

        p->i += 2;
        if ((rc = hex4(p, &lo)))
            return rc;
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
            p->i = back;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        if (p->c->utf8_mode == DG_UTF8_ERROR) {
            p->i = at - 2;
            return jp_fail(p, "lone UTF-16 surrogate \\u%04X (expected a %s surrogate to pair "
                           "with)", (unsigned)cp, cp < 0xDC00 ? "following low" : "preceding high");
        }
        p->c->replaced++;
        cp = 0xFFFD;
    }
    return out ? dg__buf_put(out, enc, (size_t)dg__utf8_encode(cp, enc), p->err) : 0;
}

/* A string at the cursor (which is on '"'); its decoded bytes go to out
 * when out is not NULL. */
static int parse_string(jp *p, dg__buf *out)
{
    int rc;

    p->i++;
    for (;;) {
        size_t run = p->i;
        unsigned char ch;

        while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' &&
               (unsigned char)p->s[p->i] >= 0x20)
            p->i++;
        if (out && (rc = dg__buf_put(out, p->s + run, p->i - run, p->err)))
            return rc;
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string (expected '\"' before the end of the line)");
        ch = (unsigned char)p->s[p->i];
        if (ch == '"') {
            p->i++;
            return 0;
        }
        if (ch < 0x20)
            return jp_fail(p, "control character 0x%02X inside a string (expected it escaped)",
                           ch);

        /* A backslash escape. */
        p->i++;
        if (p->i >= p->n)
            return jp_fail(p, "unterminated escape at the end of the line");
        ch = (unsigned char)p->s[p->i++];
        if (ch == 'u') {
            if ((rc = unicode_escape(p, out)))
                return rc;
            continue;
        }
        {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = ch ? strchr(from, ch) : NULL;

            if (!hit) {
                p->i--;
                return jp_fail(p, "invalid escape (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r "
                               "\\t \\u)");
            }
            if (out && (rc = dg__buf_put(out, to + (hit - from), 1, p->err)))
                return rc;
        }
    }
}

static int is_digit(jp *p)
{
    return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

/* A number at the cursor; *integral is set when it has no fraction or
 * exponent. */
static int parse_number(jp *p, int *integral)
{
    *integral = 1;
    if (p->s[p->i] == '-')
        p->i++;
    if (!is_digit(p))
        return jp_fail(p, "expected a digit in a number");
    if (p->s[p->i] == '0')
        p->i++;
    else
        while (is_digit(p))
            p->i++;
    if (p->i < p->n && p->s[p->i] == '.') {
        *integral = 0;
        p->i++;
        if (!is_digit(p))
            return jp_fail(p, "expected a digit after the decimal point");
        while (is_digit(p))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        *integral = 0;
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!is_digit(p))
            return jp_fail(p, "expected a digit in the exponent");
        while (is_digit(p))
            p->i++;
    }
    return 0;
}

/* true, false or null at the cursor. */
static int parse_literal(jp *p, const char *word)
{
    size_t len = strlen(word);

    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
        return jp_fail(p, "expected a JSON value");
    p->i += len;
    return 0;
}

static int skip_value(jp *p, int depth);

/* An object or array at the cursor, skipped. */
static int skip_container(jp *p, int depth)
{
    char close = p->s[p->i] == '{' ? '}' : ']';
    char tmp[16];
    int rc;

    if (depth >= JSON_MAX_DEPTH)
        return jp_fail(p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (close == '}') {
            if (p->i >= p->n || p->s[p->i] != '"')
                return jp_fail(p, "expected '\"' to start a key, found %s",
                               found(p, tmp, sizeof tmp));
            if ((rc = parse_string(p, NULL)))
                return rc;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return jp_fail(p, "expected ':' after a key, found %s",
                               found(p, tmp, sizeof tmp));
            p->i++;
        }
        if ((rc = skip_value(p, depth + 1)))
            return rc;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return jp_fail(p, "expected ',' or '%c' after a value, found %s", close,
                       found(p, tmp, sizeof tmp));
    }
}

/* Any JSON value at the cursor (after whitespace), skipped. */
static int skip_value(jp *p, int depth)
{
    int integral;

    skip_ws(p);
    if (p->i >= p->n)
        return jp_fail(p, "expected a JSON value, found the end of the line");
    switch (p->s[p->i]) {
    case '"':
        return parse_string(p, NULL);
    case '{':
    case '[':
        return skip_container(p, depth);
    case 't':
        return parse_literal(p, "true");
    case 'f':
        return parse_literal(p, "false");
    case 'n':
        return parse_literal(p, "null");
    default:
        if (p->s[p->i] == '-' || is_digit(p))
            return parse_number(p, &integral);
        return jp_fail(p, "expected a JSON value");
    }
}

/* The value of a known key: a string, an integer (when allowed), or null. */
static int parse_field(jp *p, const char *key, int allow_int, field *f)
{
    size_t start, end;
    int integral, rc;

    skip_ws(p);
    start = p->i;
    if (f->seen)
        return jp_fail(p, "key \"%s\" appears twice in the object", key);
    f->seen = 1;
    f->str.n = 0;
    if (p->i < p->n && p->s[p->i] == '"') {
        f->kind = 's';
        if ((rc = parse_string(p, &f->str)))
            return rc;
        return dg__buf_put(&f->str, "", 0, p->err);
    }
    if (p->i < p->n && p->s[p->i] == 'n') {
        f->kind = 'n';
        return parse_literal(p, "null");
    }
    if (allow_int && p->i < p->n && (p->s[p->i] == '-' || is_digit(p))) {
        if ((rc = parse_number(p, &integral)))
            return rc;
        if (integral) {
            errno = 0;
            f->k = strtoll(p->s + start, NULL, 10);
            if (errno == 0 && f->k >= INT32_MIN && f->k <= INT32_MAX) {
                f->kind = 'i';
                return dg__buf_put(&f->str, p->s + start, p->i - start, p->err);
            }
        }
        end = p->i;
        p->i = start;
        return jp_fail(p, "expected a string or an integer for \"%s\", found the number %.*s",
                       key, (int)(end - start < NUMBER_SHOWN ? end - start : NUMBER_SHOWN),
                       p->s + start);
    }
    if (p->i >= p->n)
        return jp_fail(p, "expected a value for \"%s\", found the end of the line", key);
    return jp_fail(p, "expected a string%s for \"%s\"", allow_int ? ", integer or null" : "",
                   key);
}

/* One line: an object whose known keys fill text/label/id/group. */
static int parse_line(jp *p, const dg_text_opts *o, field f[4])
{
    const char *keys[4] = {o->text_key, o->label_key, o->id_key, o->group_key};
    dg__buf key = {0};
    char tmp[16];
    int rc = 0;

    for (int k = 0; k < 4; k++)
        f[k].seen = 0;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != '{')
        return jp_fail(p, "expected '{' to start an object, found %s", found(p, tmp, sizeof tmp));
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}')
        p->i++;
    else
        for (;;) {
            int which = -1;

            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') {
                rc = jp_fail(p, "expected '\"' to start a key, found %s",
                             found(p, tmp, sizeof tmp));
                break;
            }
            key.n = 0;
            if ((rc = parse_string(p, &key)) || (rc = dg__buf_put(&key, "", 0, p->err)))
                break;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                rc = jp_fail(p, "expected ':' after a key, found %s", found(p, tmp, sizeof tmp));
                break;
            }
            p->i++;
            for (int k = 0; k < 4 && which < 0; k++)
                if (keys[k] && strlen(keys[k]) == key.n && memcmp(keys[k], key.p, key.n) == 0)
                    which = k;
            rc = which < 0 ? skip_value(p, 1) : parse_field(p, key.p, which > 0, &f[which]);
            if (rc)
                break;
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == '}') {
                p->i++;
                break;
            }
            rc = jp_fail(p, "expected ',' or '}' after a value, found %s",
                         found(p, tmp, sizeof tmp));
            break;
        }
    dg__buf_free(&key);
    if (rc)
        return rc;
    skip_ws(p);
    if (p->i < p->n)
        return jp_fail(p, "expected the end of the line after the object, found %s",
                       found(p, tmp, sizeof tmp));
    if (!f[0].seen || f[0].kind != 's') {
        p->i = 0;
        return jp_fail(p, f[0].seen ? "\"%s\" must be a string" : "no \"%s\" key in the object",
                       o->text_key);
    }
    return 0;
}

/* Adds the parsed line to the corpus. */
static int add_line(jp *p, field f[4])
{
    char where[DG_ERROR_MSG / 2];
    int32_t label = -1;
    int rc = 0;

    snprintf(where, sizeof where, "%s: line %" PRId64, p->path, p->line);
    if (f[1].seen && f[1].kind == 's')
        rc = dg__corpus_label_name(p->c, f[1].str.p, where, &label, p->err);
    else if (f[1].seen && f[1].kind == 'i')
        rc = dg__corpus_label_int(p->c, f[1].k, where, &label, p->err);
    if (rc)
        return rc;
    return dg__corpus_push(p->c, f[0].str.p, f[0].str.n, label,
                           f[2].seen && f[2].kind != 'n' ? f[2].str.p : NULL,
                           f[3].seen && f[3].kind != 'n' ? f[3].str.p : NULL, p->err);
}

int dg_read_jsonl(const char *path, const dg_text_opts *opts, dg_corpus **out, dg_error *err)
{
    dg_text_opts o = opts ? *opts : dg_text_defaults();
    size_t pos;
    dg__buf clean = {0};
    field f[4];
    jp p;
    int rc;

    *out = NULL;
    memset(f, 0, sizeof f);
    if (!o.text_key)
        return dg__fail(err, DG_EINVAL, "%s: no text key given", path);
    memset(&p, 0, sizeof p);
    p.path = path;
    p.err = err;
    if ((rc = dg_corpus_create(&o, &p.c, err)))
        goto done;

    if ((rc = dg__read_text_file(path, o.invalid_utf8, &clean, &p.c->replaced, err)))
        goto done;

    /* One object per non-blank line. */
    for (pos = 0, p.line = 1; pos < clean.n; p.line++) {
        const char *nl = memchr(clean.p + pos, '\n', clean.n - pos);
        size_t end = nl ? (size_t)(nl - clean.p) : clean.n;

        p.s = clean.p + pos;
        p.n = end - pos;
        p.i = 0;
        pos = end + 1;
        if (p.n && p.s[p.n - 1] == '\r')
            p.n--;
        skip_ws(&p);
        if (p.i == p.n)
            continue;
        p.i = 0;
        if ((rc = parse_line(&p, &o, f)) || (rc = add_line(&p, f)))
            goto done;
    }

done:
    for (int k = 0; k < 4; k++)
        dg__buf_free(&f[k].str);
    dg__buf_free(&clean);
    if (rc) {
        dg_corpus_free(p.c);
        return rc;
    }
    *out = p.c;
    return 0;
}
