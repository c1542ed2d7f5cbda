/* Teacher files as real labelers write them: rows keyed by id in any
 * order, with gaps and abstentions (CSV with an id column, or JSONL of
 * {"id", "probs" | "label"}), and classes named in any order; each is
 * aligned to the data's ids and class list and handed to teachers.c. Also
 * the readers of data ids, class lists and labels given as class names.
 *
 * Legend: M teachers, N data rows, C classes.
 */
#include "distill/align.h"
#include "io/io.h"
#include "text/text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Deepest JSON nesting skipped inside one line. */
#define JSON_MAX_DEPTH 64
/* Most class names an error message lists. */
#define NAMES_SHOWN 8
/* Most bytes of an id or name quoted in an error message. */
#define QUOTE_MAX 60
/* Longest decimal integer compared numerically when sorting names. */
#define INT_NAME_MAX 18

dg_align_opts dg_align_defaults(void)
{
    dg_align_opts o;

    memset(&o, 0, sizeof o);
    o.id_key = "id";
    return o;
}

/* ------------------------------------------------------------------------
 * A hash index over n strings (ids or class names): string -> position.
 */

typedef struct name_index {
    const char *const *names;
    int64_t *slot; /* positions, -1 empty; mask + 1 slots */
    uint64_t mask;
} name_index;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int64_t index_find(const name_index *ix, const char *s)
{
    for (uint64_t k = fnv1a(s) & ix->mask;; k = (k + 1) & ix->mask) {
        if (ix->slot[k] < 0)
            return -1;
        if (strcmp(ix->names[ix->slot[k]], s) == 0)
            return ix->slot[k];
    }
}

/* Indexes names[0..n); on a repeat *dup gets its second position and
 * *first the earlier one, and DG_EFORMAT is returned (err untouched). */
static int index_build(name_index *ix, const char *const *names, int64_t n, int64_t *first,
                       int64_t *dup, dg_error *err)
{
    uint64_t cap = 2;

    while (cap < 2 * (uint64_t)n)
        cap *= 2;
    ix->names = names;
    ix->mask = cap - 1;
    if (!(ix->slot = dg__alloc(cap, sizeof *ix->slot, 0, err)))
        return DG_ENOMEM;
    memset(ix->slot, 0xff, cap * sizeof *ix->slot);
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = fnv1a(names[i]) & ix->mask;

        for (; ix->slot[k] >= 0; k = (k + 1) & ix->mask)
            if (strcmp(names[ix->slot[k]], names[i]) == 0) {
                *first = ix->slot[k];
                *dup = i;
                return DG_EFORMAT;
            }
        ix->slot[k] = i;
    }
    return 0;
}

static void index_free(name_index *ix)
{
    free(ix->slot);
    ix->slot = NULL;
}

/* ------------------------------------------------------------------------
 * Class names: their one sort order, and lists from files.
 */

static int is_int_name(const char *s)
{
    size_t len = strlen(s), i = s[0] == '-';

    if (len <= i || len - i > INT_NAME_MAX)
        return 0;
    for (; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_numeric(const void *a, const void *b)
{
    long long x = strtoll(*(char *const *)a, NULL, 10), y = strtoll(*(char *const *)b, NULL, 10);

    return x < y ? -1 : x > y ? 1 : cmp_bytes(a, b);
}

void dg_class_names_sort(char **names, int C)
{
    int numeric = 1;

    for (int k = 0; k < C && numeric; k++)
        numeric = is_int_name(names[k]);
    qsort(names, (size_t)C, sizeof *names, numeric ? cmp_numeric : cmp_bytes);
}

/* Copies s[0..len) without surrounding blanks into a new string. */
static char *trimmed_copy(const char *s, size_t len)
{
    char *out;

    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if ((out = malloc(len + 1))) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* The lines of a UTF-8 text file (BOM and CR dropped), trimmed, with their
 * 1-based numbers; a final line end adds no empty line. */
static int read_lines(const char *path, char ***lines, int64_t **lineno, int64_t *n,
                      dg_error *err)
{
    dg__buf text = {0};
    int64_t count = 0, cap = 0, line = 1;
    char **l = NULL;
    int64_t *no = NULL;
    size_t pos = 0;
    int rc;

    if ((rc = dg__read_text_file(path, DG_UTF8_ERROR, &text, NULL, err)))
        return rc;
    if (memchr(text.p, '\0', text.n))
        rc = dg__fail(err, DG_EFORMAT, "%s: NUL byte in the file, expected text", path);
    while (rc == 0 && pos < text.n) {
        const char *nl = memchr(text.p + pos, '\n', text.n - pos);
        size_t end = nl ? (size_t)(nl - text.p) : text.n;

        if (count == cap) {
            int64_t new_cap = cap ? 2 * cap : 64;
            char **gl = realloc(l, (size_t)new_cap * sizeof *l);
            int64_t *gn = gl ? realloc(no, (size_t)new_cap * sizeof *no) : NULL;

            if (gl)
                l = gl;
            if (!gn) {
                rc = dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld lines", path,
                              (long long)count);
                break;
            }
            no = gn;
            cap = new_cap;
        }
        if (!(l[count] = trimmed_copy(text.p + pos, end - pos))) {
            rc = dg__fail(err, DG_ENOMEM, "%s: out of memory on line %lld", path,
                          (long long)line);
            break;
        }
        no[count++] = line++;
        pos = end + 1;
    }
    dg__buf_free(&text);
    if (rc) {
        dg_names_free(l, count);
        free(no);
        return rc;
    }
    *lines = l;
    *lineno = no;
    *n = count;
    return 0;
}

/* Splits "a,b,c" into trimmed names. */
static int split_list(const char *s, char ***names, int *C, dg_error *err)
{
    int n = 1, k = 0;
    char **out;

    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (!(out = dg__alloc((size_t)n, sizeof *out, 1, err)))
        return DG_ENOMEM;
    for (const char *p = s;; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (!(out[k] = trimmed_copy(p, len))) {
            dg_names_free(out, k);
            return dg__fail(err, DG_ENOMEM, "out of memory reading class names");
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *names = out;
    *C = n;
    return 0;
}

/* Empty or repeated names in a list read from `source` are errors. */
static int check_names(const char *source, char *const *names, int64_t n, const char *what,
                       const int64_t *lineno, dg_error *err)
{
    name_index ix;
    int64_t first, dup;
    int rc;

    for (int64_t i = 0; i < n; i++)
        if (!names[i][0])
            return lineno ? dg__fail(err, DG_EFORMAT, "%s: line %lld: empty %s", source,
                                     (long long)lineno[i], what)
                          : dg__fail(err, DG_EFORMAT, "%s: %s %lld is empty", source, what,
                                     (long long)i + 1);
    rc = index_build(&ix, (const char *const *)names, n, &first, &dup, err);
    index_free(&ix);
    if (rc == DG_EFORMAT)
        return lineno ? dg__fail(err, DG_EFORMAT, "%s: line %lld: %s '%.*s' repeats line %lld",
                                 source, (long long)lineno[dup], what, QUOTE_MAX, names[dup],
                                 (long long)lineno[first])
                      : dg__fail(err, DG_EFORMAT, "%s: %s '%.*s' is given twice (%lld and "
                                 "%lld)", source, what, QUOTE_MAX, names[dup],
                                 (long long)first + 1, (long long)dup + 1);
    return rc;
}

int dg_read_class_names(const char *spec, char ***names, int *C, dg_error *err)
{
    char **lines = NULL;
    int64_t *lineno = NULL, n = 0;
    FILE *fp = fopen(spec, "rb");
    int rc;

    *names = NULL;
    *C = 0;
    if (!fp && !strchr(spec, ','))
        return dg__fail(err, DG_EIO, "%s: cannot open (%s), and it is not a comma list of "
                        "class names", spec, strerror(errno));
    if (!fp) {
        if ((rc = split_list(spec, names, C, err)) == 0 &&
            (rc = check_names("class list", *names, *C, "class name", NULL, err)) != 0) {
            dg_names_free(*names, *C);
            *names = NULL;
            *C = 0;
        }
        return rc;
    }
    fclose(fp);
    if ((rc = read_lines(spec, &lines, &lineno, &n, err)))
        return rc;

    /* blank lines carry no name; one line "a,b,c" is a list */
    {
        int64_t k = 0;

        for (int64_t i = 0; i < n; i++) {
            if (!lines[i][0]) {
                free(lines[i]);
                continue;
            }
            lines[k] = lines[i];
            lineno[k++] = lineno[i];
        }
        n = k;
    }
    if (n == 1 && strchr(lines[0], ',')) {
        char **list;
        int count;

        if ((rc = split_list(lines[0], &list, &count, err)) == 0) {
            dg_names_free(lines, n);
            lines = list;
            n = count;
            rc = check_names(spec, lines, n, "class name", NULL, err);
        }
    } else if (n == 0) {
        rc = dg__fail(err, DG_EFORMAT, "%s: no class names in the file", spec);
    } else if (n > INT32_MAX) {
        rc = dg__fail(err, DG_EFORMAT, "%s: %lld class names, expected at most %d", spec,
                      (long long)n, INT32_MAX);
    } else {
        rc = check_names(spec, lines, n, "class name", lineno, err);
    }
    free(lineno);
    if (rc) {
        dg_names_free(lines, n);
        return rc;
    }
    *names = lines;
    *C = (int)n;
    return 0;
}

int dg_load_labels_named(const char *path, const char *const *classes, int C, dg_labels *out,
                         char ***names_out, int *C_out, dg_error *err)
{
    char **lines = NULL, **distinct = NULL;
    int64_t *lineno = NULL, n = 0, first, dup;
    int n_distinct = 0, rc;
    name_index ix = {0};

    memset(out, 0, sizeof *out);
    if ((rc = read_lines(path, &lines, &lineno, &n, err)))
        return rc;

    /* without a list the classes are this file's distinct names, sorted */
    if (!classes) {
        if (!(distinct = dg__alloc((size_t)n + 1, sizeof *distinct, 1, err))) {
            rc = DG_ENOMEM;
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            int seen = 0;

            if (!lines[i][0])
                continue;
            for (int k = 0; k < n_distinct && !seen; k++)
                seen = strcmp(distinct[k], lines[i]) == 0;
            if (!seen)
                distinct[n_distinct++] = lines[i];
        }
        dg_class_names_sort(distinct, n_distinct);
        classes = (const char *const *)distinct;
        C = n_distinct;
    }
    if ((rc = index_build(&ix, classes, C, &first, &dup, err)) != 0) {
        if (rc == DG_EFORMAT)
            rc = dg__fail(err, DG_EINVAL, "class list: name '%.*s' is given twice", QUOTE_MAX,
                          classes[dup]);
        goto done;
    }
    if (!(out->data = dg__alloc((size_t)n + 1, sizeof *out->data, 0, err))) {
        rc = DG_ENOMEM;
        goto done;
    }
    out->n = n;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        int64_t k = lines[i][0] ? index_find(&ix, lines[i]) : -1;

        if (lines[i][0] && k < 0)
            rc = dg__fail(err, DG_EFORMAT, "%s: line %lld: label '%.*s' is not one of the %d "
                          "classes", path, (long long)lineno[i], QUOTE_MAX, lines[i], C);
        out->data[i] = (int32_t)k;
    }
    if (rc == 0 && distinct && names_out) {
        char **copy = dg__alloc((size_t)n_distinct + 1, sizeof *copy, 1, err);

        for (int k = 0; copy && k < n_distinct; k++)
            if (!(copy[k] = strdup(distinct[k]))) {
                dg_names_free(copy, k);
                copy = NULL;
            }
        if (!copy)
            rc = dg__fail(err, DG_ENOMEM, "%s: out of memory copying class names", path);
        else
            *names_out = copy;
    }
    if (rc == 0 && C_out)
        *C_out = C;

done:
    index_free(&ix);
    free(distinct);
    dg_names_free(lines, n);
    free(lineno);
    if (rc)
        dg_labels_free(out);
    return rc;
}

/* ------------------------------------------------------------------------
 * A strict JSON reader for one JSONL line: the id, and "probs" (an object
 * of numbers, or null) or "label" (a string, or null); other keys skipped.
 */

typedef struct jp {
    const char *s; /* the line, without its line end */
    size_t n, i;
    const char *path;
    int64_t line;
    dg_error *err;
} jp;

/* What one teacher line said. */
typedef struct jrow {
    dg__buf id;      /* NUL-terminated when has_id */
    int has_id;
    int kind;        /* 0 neither key, 'p' probs, 'l' label, 'n' null (abstains) */
    dg__buf names;   /* the probs keys (or the label), each NUL-terminated */
    size_t *name_at; /* offsets into names */
    double *value;
    int64_t n, cap;
} jrow;

static int jp_fail(jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails with "path: line L, byte B: message", B the 1-based cursor. */
static int jp_fail(jp *p, const char *fmt, ...)
{
    char msg[DG_ERROR_MSG];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dg__fail(p->err, DG_EFORMAT, "%s: line %lld, byte %zu: %s", p->path,
                    (long long)p->line, p->i + 1, msg);
}

static void jp_ws(jp *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static int jp_at(jp *p, char ch)
{
    jp_ws(p);
    return p->i < p->n && p->s[p->i] == ch;
}

static int jp_expect(jp *p, char ch, const char *what)
{
    if (!jp_at(p, ch))
        return jp_fail(p, "expected '%c' %s", ch, what);
    p->i++;
    return 0;
}

/* Four hex digits at the cursor. */
static int jp_hex4(jp *p, int32_t *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++, p->i++) {
        char ch = p->i < p->n ? p->s[p->i] : '\0';

        if (!isxdigit((unsigned char)ch))
            return jp_fail(p, "expected 4 hex digits after \\u");
        *v = *v * 16 + (isdigit((unsigned char)ch) ? ch - '0' : (tolower(ch) - 'a' + 10));
    }
    return 0;
}

/* A string at the cursor; its bytes (NUL-terminated) go to out when not
 * NULL. A NUL or lone surrogate escape is rejected. */
static int jp_string(jp *p, dg__buf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    int rc;

    if ((rc = jp_expect(p, '"', "to start a string")))
        return rc;
    for (;;) {
        size_t run = p->i;
        unsigned char enc[4];
        int32_t cp, lo;
        const char *hit;

        while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' &&
               (unsigned char)p->s[p->i] >= 0x20)
            p->i++;
        if (out && (rc = dg__buf_put(out, p->s + run, p->i - run, p->err)))
            return rc;
        if (p->i >= p->n)
            return jp_fail(p, "unterminated string");
        if (p->s[p->i] == '"') {
            p->i++;
            return out ? dg__buf_put(out, "", 1, p->err) : 0;
        }
        if ((unsigned char)p->s[p->i] < 0x20)
            return jp_fail(p, "control character inside a string (expected it escaped)");
        if (++p->i >= p->n)
            return jp_fail(p, "unterminated escape");
        if (p->s[p->i] != 'u') {
            if (!p->s[p->i] || !(hit = strchr(from, p->s[p->i])))
                return jp_fail(p, "invalid escape");
            p->i++;
            if (out && (rc = dg__buf_put(out, to + (hit - from), 1, p->err)))
                return rc;
            continue;
        }
        p->i++;
        if ((rc = jp_hex4(p, &cp)))
            return rc;
        if (cp >= 0xD800 && cp <= 0xDBFF && p->i + 1 < p->n && p->s[p->i] == '\\' &&
            p->s[p->i + 1] == 'u') {
            p->i += 2;
            if ((rc = jp_hex4(p, &lo)))
                return rc;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return jp_fail(p, "expected a low surrogate after \\u%04X", (unsigned)cp);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
            return jp_fail(p, "escape \\u%04X is a lone surrogate or NUL", (unsigned)cp);
        if (out && (rc = dg__buf_put(out, enc, (size_t)dg__utf8_encode(cp, enc), p->err)))
            return rc;
    }
}

/* A number at the cursor into *v; *integral when it has no fraction or
 * exponent. */
static int jp_number(jp *p, double *v, int *integral)
{
    size_t start;
    char *end;

    jp_ws(p);
    start = p->i;
    *integral = 1;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !isdigit((unsigned char)p->s[p->i]))
        return jp_fail(p, "expected a number");
    if (p->s[p->i] == '0')
        p->i++;
    else
        while (p->i < p->n && isdigit((unsigned char)p->s[p->i]))
            p->i++;
    if (p->i < p->n && p->s[p->i] == '.') {
        *integral = 0;
        if (++p->i >= p->n || !isdigit((unsigned char)p->s[p->i]))
            return jp_fail(p, "expected a digit after the decimal point");
        while (p->i < p->n && isdigit((unsigned char)p->s[p->i]))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        *integral = 0;
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || !isdigit((unsigned char)p->s[p->i]))
            return jp_fail(p, "expected a digit in the exponent");
        while (p->i < p->n && isdigit((unsigned char)p->s[p->i]))
            p->i++;
    }
    /* the line's bytes run on past the number, so strtod stops at its end */
    *v = strtod(p->s + start, &end);
    return 0;
}

static int jp_literal(jp *p, const char *word)
{
    size_t len = strlen(word);

    jp_ws(p);
    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
        return jp_fail(p, "expected %s", word);
    p->i += len;
    return 0;
}

/* Any JSON value at the cursor, skipped. */
static int jp_skip(jp *p, int depth)
{
    double v;
    int integral, rc;
    char close;

    jp_ws(p);
    if (p->i >= p->n)
        return jp_fail(p, "expected a JSON value, found the end of the line");
    switch (p->s[p->i]) {
    case '"':
        return jp_string(p, NULL);
    case 't':
        return jp_literal(p, "true");
    case 'f':
        return jp_literal(p, "false");
    case 'n':
        return jp_literal(p, "null");
    case '{':
    case '[':
        break;
    default:
        return jp_number(p, &v, &integral);
    }
    if (depth >= JSON_MAX_DEPTH)
        return jp_fail(p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    close = p->s[p->i++] == '{' ? '}' : ']';
    if (jp_at(p, close)) {
        p->i++;
        return 0;
    }
    for (;;) {
        if (close == '}' && ((rc = jp_string(p, NULL)) || (rc = jp_expect(p, ':', "after a key"))))
            return rc;
        if ((rc = jp_skip(p, depth + 1)))
            return rc;
        if (jp_at(p, ',')) {
            p->i++;
            continue;
        }
        return jp_expect(p, close, "or ',' after a value");
    }
}

/* Appends one (name, value) pair to the row; the name is the string at the
 * cursor (probs keys) or already in row->names (label). */
static int jrow_push(jp *p, jrow *r, size_t name_at, double value)
{
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 16;
        size_t *at = realloc(r->name_at, (size_t)cap * sizeof *at);
        double *v = at ? realloc(r->value, (size_t)cap * sizeof *v) : NULL;

        if (at)
            r->name_at = at;
        if (!v)
            return dg__fail(p->err, DG_ENOMEM, "%s: line %lld: out of memory", p->path,
                            (long long)p->line);
        r->value = v;
        r->cap = cap;
    }
    r->name_at[r->n] = name_at;
    r->value[r->n++] = value;
    return 0;
}

/* The id: a string, or an integer kept as its spelling. */
static int jp_id(jp *p, jrow *r)
{
    size_t start;
    double v;
    int integral, rc;

    if (r->has_id)
        return jp_fail(p, "the id key appears twice");
    r->has_id = 1;
    r->id.n = 0;
    if (jp_at(p, '"'))
        return jp_string(p, &r->id);
    start = p->i;
    if ((rc = jp_number(p, &v, &integral)))
        return rc;
    if (!integral) {
        p->i = start;
        return jp_fail(p, "expected a string or an integer id");
    }
    if ((rc = dg__buf_put(&r->id, p->s + start, p->i - start, p->err)))
        return rc;
    return dg__buf_put(&r->id, "", 0, p->err);
}

/* "probs": null or {"name": number, ...}; "label": null or "name". */
static int jp_outputs(jp *p, jrow *r, int is_label)
{
    double v;
    int integral, rc;

    if (r->kind)
        return jp_fail(p, "\"probs\" or \"label\" given twice");
    if (jp_at(p, 'n')) {
        r->kind = 'n';
        return jp_literal(p, "null");
    }
    r->kind = is_label ? 'l' : 'p';
    if (is_label) {
        if (!jp_at(p, '"'))
            return jp_fail(p, "expected a class name string or null for \"label\"");
        if ((rc = jp_string(p, &r->names)))
            return rc;
        return jrow_push(p, r, 0, 1.0);
    }
    if ((rc = jp_expect(p, '{', "or null for \"probs\"")))
        return rc;
    if (jp_at(p, '}')) {
        p->i++;
        return 0;
    }
    for (;;) {
        size_t at = r->names.n;

        if ((rc = jp_string(p, &r->names)) || (rc = jp_expect(p, ':', "after a class name")))
            return rc;
        jp_ws(p);
        if ((rc = jp_number(p, &v, &integral)) || (rc = jrow_push(p, r, at, v)))
            return rc;
        if (jp_at(p, ',')) {
            p->i++;
            continue;
        }
        return jp_expect(p, '}', "or ',' after a probability");
    }
}

/* Parses the line as one object into r. */
static int jp_row(jp *p, const char *id_key, jrow *r)
{
    dg__buf key = {0};
    int rc;

    r->has_id = 0;
    r->kind = 0;
    r->n = 0;
    r->names.n = 0;
    if ((rc = jp_expect(p, '{', "to start an object")))
        return rc;
    if (jp_at(p, '}'))
        p->i++;
    else
        for (;;) {
            key.n = 0;
            if ((rc = jp_string(p, &key)) || (rc = jp_expect(p, ':', "after a key")))
                break;
            if (strcmp(key.p, id_key) == 0)
                rc = jp_id(p, r);
            else if (strcmp(key.p, "probs") == 0 || strcmp(key.p, "label") == 0)
                rc = jp_outputs(p, r, key.p[0] == 'l');
            else
                rc = jp_skip(p, 1);
            if (rc)
                break;
            if (jp_at(p, ',')) {
                p->i++;
                continue;
            }
            rc = jp_expect(p, '}', "or ',' after a value");
            break;
        }
    dg__buf_free(&key);
    jp_ws(p);
    if (rc == 0 && p->i < p->n)
        rc = jp_fail(p, "expected the end of the line after the object");
    if (rc == 0 && !r->has_id) {
        p->i = 0;
        rc = jp_fail(p, "no \"%s\" key in the object", id_key);
    }
    return rc;
}

static void jrow_free(jrow *r)
{
    dg__buf_free(&r->id);
    dg__buf_free(&r->names);
    free(r->name_at);
    free(r->value);
}

typedef int (*jsonl_fn)(void *user, jp *p, jrow *r);

/* Calls fn for every non-blank line of a JSONL file, parsed. */
static int jsonl_each(const char *path, const char *id_key, jsonl_fn fn, void *user,
                      dg_error *err)
{
    dg__buf text = {0};
    jrow row;
    jp p;
    size_t pos = 0;
    int rc;

    memset(&row, 0, sizeof row);
    if ((rc = dg__read_text_file(path, DG_UTF8_ERROR, &text, NULL, err)))
        return rc;
    p.path = path;
    p.err = err;
    for (p.line = 1; rc == 0 && pos < text.n; p.line++) {
        const char *nl = memchr(text.p + pos, '\n', text.n - pos);
        size_t end = nl ? (size_t)(nl - text.p) : text.n;

        p.s = text.p + pos;
        p.n = end - pos;
        p.i = 0;
        pos = end + 1;
        jp_ws(&p);
        if (p.i == p.n)
            continue;
        p.i = 0;
        if ((rc = jp_row(&p, id_key, &row)) == 0)
            rc = fn(user, &p, &row);
    }
    jrow_free(&row);
    dg__buf_free(&text);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------
 * Data ids
 */

typedef struct id_list {
    const char *path, *key;
    char **ids;
    int64_t *line;
    int64_t n, cap;
    int64_t key_col; /* CSV: the id column, -1 before the header */
} id_list;

static int ids_push(id_list *l, const char *id, int64_t line, dg_error *err)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        char **ids = realloc(l->ids, (size_t)cap * sizeof *ids);
        int64_t *lines = ids ? realloc(l->line, (size_t)cap * sizeof *lines) : NULL;

        if (ids)
            l->ids = ids;
        if (!lines)
            return dg__fail(err, DG_ENOMEM, "%s: out of memory after %lld ids", l->path,
                            (long long)l->n);
        l->line = lines;
        l->cap = cap;
    }
    if (!(l->ids[l->n] = trimmed_copy(id, strlen(id))))
        return dg__fail(err, DG_ENOMEM, "%s: out of memory on line %lld", l->path,
                        (long long)line);
    l->line[l->n++] = line;
    return 0;
}

/* Finds column `name` in a CSV header; an error names the file and line. */
static int header_column(const char *path, int64_t line, const char *const *cells, int64_t n,
                         const char *name, int64_t *col, dg_error *err)
{
    for (int64_t j = 0; j < n; j++)
        if (strcmp(cells[j], name) == 0) {
            *col = j;
            return 0;
        }
    return dg__fail(err, DG_EFORMAT, "%s: line %lld: no column named '%s' in the header",
                    path, (long long)line, name);
}

static int ids_csv_record(void *user, int64_t line, const char *const *cells, int64_t n,
                          dg_error *err)
{
    id_list *l = user;

    if (l->key_col < 0)
        return header_column(l->path, line, cells, n, l->key, &l->key_col, err);
    if (l->key_col >= n)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld has %lld fields, expected the id in "
                        "field %lld", l->path, (long long)line, (long long)n,
                        (long long)l->key_col + 1);
    return ids_push(l, cells[l->key_col], line, err);
}

static int ids_json_row(void *user, jp *p, jrow *r)
{
    return ids_push(user, r->id.p, p->line, p->err);
}

int dg_read_ids(const char *path, const char *key, char ***ids, int64_t *n, dg_error *err)
{
    id_list l;
    int rc;

    memset(&l, 0, sizeof l);
    l.path = path;
    l.key = key ? key : "id";
    l.key_col = -1;
    *ids = NULL;
    *n = 0;
    if (dg__has_suffix(path, ".csv") || dg__has_suffix(path, ".tsv"))
        rc = dg__csv_records(path, 0, ids_csv_record, &l, err);
    else if (dg__has_suffix(path, ".jsonl") || dg__has_suffix(path, ".ndjson") ||
             dg__has_suffix(path, ".json"))
        rc = jsonl_each(path, l.key, ids_json_row, &l, err);
    else
        rc = read_lines(path, &l.ids, &l.line, &l.n, err);
    if (rc == 0 && l.n == 0)
        rc = dg__fail(err, DG_EFORMAT, "%s: no ids in the file", path);
    if (rc == 0)
        rc = check_names(path, l.ids, l.n, "id", l.line, err);
    free(l.line);
    if (rc) {
        dg_names_free(l.ids, l.n);
        return rc;
    }
    *ids = l.ids;
    *n = l.n;
    return 0;
}

/* ------------------------------------------------------------------------
 * Aligning teacher files
 */

/* What the files are aligned to, learnt from the options or the files. */
typedef struct target {
    const dg_align_opts *o;
    int64_t N;             /* 0 until known */
    const char *N_source;  /* file N came from; NULL: the data */
    int C;                 /* 0 until known */
    const char *C_source;
    char **names;          /* C class names, or NULL while only the count is known */
    int own_names;
    name_index classes;
    name_index ids;        /* over o->ids when given */
} target;

/* One teacher file aligned: x (N x C), present (N), line (N, 0: none). */
typedef struct aligned {
    const char *path;
    target *t;
    float *x;
    unsigned char *present;
    int64_t *line;
    int64_t *col_class;    /* keyed CSV: class id of each field, -1 for the id */
    int64_t n_cols;
    int keyed, hard;
    char **seen;           /* JSONL first pass: distinct class names seen */
    int64_t n_seen, cap_seen;
} aligned;

/* "cat, dog, ..." for messages. */
static void list_names(const target *t, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (int k = 0; k < t->C && k < NAMES_SHOWN && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%.*s", k ? ", " : "", QUOTE_MAX / 2,
                                t->names[k]);
    if (t->C > NAMES_SHOWN && len < cap)
        snprintf(out + len, cap - len, ", ...");
}

/* Makes `names` (n, from `source`) the class list, sorted, when none is
 * known yet; only a count must agree. */
static int adopt_classes(target *t, const char *const *names, int64_t n, const char *source,
                         dg_error *err)
{
    int64_t first, dup;
    int rc;

    if (t->names)
        return 0;
    if (t->C && n != t->C)
        return dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld classes but %s has %d",
                        source, (long long)n, t->C_source, t->C);
    if (n < 1 || n > INT32_MAX)
        return dg__fail(err, DG_EFORMAT, "%s: %lld class names, expected 1 to %d", source,
                        (long long)n, INT32_MAX);
    if (!(t->names = dg__alloc((size_t)n, sizeof *t->names, 1, err)))
        return DG_ENOMEM;
    t->own_names = 1;
    t->C = (int)n;
    t->C_source = source;
    for (int64_t k = 0; k < n; k++)
        if (!(t->names[k] = strdup(names[k])))
            return dg__fail(err, DG_ENOMEM, "%s: out of memory copying class names", source);
    dg_class_names_sort(t->names, t->C);
    rc = index_build(&t->classes, (const char *const *)t->names, t->C, &first, &dup, err);
    if (rc == DG_EFORMAT)
        return dg__fail(err, DG_EFORMAT, "%s: class '%.*s' is named twice", source, QUOTE_MAX,
                        t->names[dup]);
    return rc;
}

/* Class id of `name` in a file's header or line; unknown is an error. */
static int class_of(target *t, const char *path, int64_t line, const char *name, int64_t *k,
                    dg_error *err)
{
    char shown[DG_ERROR_MSG / 2];

    if ((*k = index_find(&t->classes, name)) >= 0)
        return 0;
    list_names(t, shown, sizeof shown);
    return dg__fail(err, DG_EFORMAT, "%s: line %lld: class '%.*s' is not one of the %d "
                    "classes (%s)", path, (long long)line, QUOTE_MAX, name, t->C, shown);
}

/* filled (C) marks the classes a header or line gave; the first one left
 * out is an error. */
static int check_all_classes(target *t, const char *path, int64_t line,
                             const unsigned char *filled, dg_error *err)
{
    for (int k = 0; k < t->C; k++)
        if (!filled[k])
            return dg__fail(err, DG_EFORMAT, "%s: line %lld: no value for class '%.*s'", path,
                            (long long)line, QUOTE_MAX, t->names[k]);
    return 0;
}

static int rows_alloc(aligned *a, dg_error *err)
{
    size_t N = (size_t)a->t->N, C = (size_t)a->t->C;

    if (!(a->x = dg__alloc(N * C, sizeof *a->x, 1, err)) ||
        !(a->present = dg__alloc(N, 1, 1, err)) ||
        !(a->line = dg__alloc(N, sizeof *a->line, 1, err)))
        return DG_ENOMEM;
    return 0;
}

/* The data row of a teacher line's id: checks it is in the data and seen
 * once, and records the line. */
static int row_of(aligned *a, int64_t line, const char *id, int64_t *row, dg_error *err)
{
    const target *t = a->t;
    char *end;
    long long n = -1;

    if (t->o->ids) {
        n = index_find(&t->ids, id);
    } else if (isdigit((unsigned char)id[0]) && (id[0] != '0' || !id[1])) {
        errno = 0;
        n = strtoll(id, &end, 10);
        if (*end || errno || n >= t->N)
            n = -1;
    }
    if (n < 0)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld: id '%.*s' is not in the data (%s)",
                        a->path, (long long)line, QUOTE_MAX, id,
                        t->o->ids ? (t->o->ids_source ? t->o->ids_source : "the data's ids")
                                  : "ids are the row numbers 0 .. N-1");
    if (a->line[n])
        return dg__fail(err, DG_EFORMAT, "%s: line %lld: id '%.*s' repeats line %lld", a->path,
                        (long long)line, QUOTE_MAX, id, (long long)a->line[n]);
    a->line[n] = line;
    *row = n;
    return 0;
}

/* After a keyed file: data rows it has no line for abstain, or fail. */
static int check_missing(aligned *a, dg_error *err)
{
    const target *t = a->t;

    for (int64_t n = 0; n < t->N; n++) {
        char id[32];

        if (a->line[n] || t->o->allow_missing)
            continue;
        snprintf(id, sizeof id, "%lld", (long long)n);
        return dg__fail(err, DG_EFORMAT, "%s: no line for id '%.*s' (row %lld of %s); to let "
                        "the teacher abstain there, allow missing rows (--allow-missing)", a->path, QUOTE_MAX,
                        t->o->ids ? t->o->ids[n] : id, (long long)n + 1,
                        t->o->ids_source ? t->o->ids_source : "the data");
    }
    return 0;
}

static int keyed_needs_rows(aligned *a, dg_error *err)
{
    if (a->t->N > 0)
        return 0;
    return dg__fail(err, DG_EINVAL, "%s: rows are keyed by id, so the data's row count must be "
                    "known first (give N, ids, or a positional teacher file before it)", a->path);
}

/* Keyed CSV: the header maps fields to classes, each row fills one data
 * row; a row whose class cells are all empty abstains. */
static int keyed_csv_record(void *user, int64_t line, const char *const *cells, int64_t n,
                            dg_error *err)
{
    aligned *a = user;
    target *t = a->t;
    int64_t id_col = -1, row, filled = 0;
    unsigned char *seen;
    int rc;

    if (!a->col_class) {
        for (int64_t j = 0; j < n && id_col < 0; j++)
            if (strcmp(cells[j], t->o->id_key) == 0)
                id_col = j;
        if (id_col < 0)
            return 1; /* positional: read the usual way */
        a->keyed = 1;
        if ((rc = keyed_needs_rows(a, err)))
            return rc;
        {
            const char **names = dg__alloc((size_t)n, sizeof *names, 0, err);
            int64_t k = 0;

            if (!names)
                return DG_ENOMEM;
            for (int64_t j = 0; j < n; j++)
                if (j != id_col)
                    names[k++] = cells[j];
            rc = adopt_classes(t, names, k, a->path, err);
            free(names);
            if (rc)
                return rc;
        }
        if (!(a->col_class = dg__alloc((size_t)n, sizeof *a->col_class, 0, err)) ||
            !(seen = dg__alloc((size_t)t->C, 1, 1, err)))
            return DG_ENOMEM;
        a->n_cols = n;
        for (int64_t j = 0; j < n && rc == 0; j++) {
            a->col_class[j] = -1;
            if (j == id_col)
                continue;
            if ((rc = class_of(t, a->path, line, cells[j], &a->col_class[j], err)) == 0 &&
                seen[a->col_class[j]])
                rc = dg__fail(err, DG_EFORMAT, "%s: line %lld: class '%.*s' has two columns",
                              a->path, (long long)line, QUOTE_MAX, cells[j]);
            if (rc == 0)
                seen[a->col_class[j]] = 1;
        }
        if (rc == 0)
            rc = check_all_classes(t, a->path, line, seen, err);
        free(seen);
        return rc ? rc : rows_alloc(a, err);
    }

    if (n != a->n_cols)
        return dg__fail(err, DG_EFORMAT, "%s: line %lld has %lld fields, expected %lld as in "
                        "the header", a->path, (long long)line, (long long)n,
                        (long long)a->n_cols);
    for (int64_t j = 0; j < n; j++)
        if (a->col_class[j] < 0 && (rc = row_of(a, line, cells[j], &row, err)))
            return rc;
    for (int64_t j = 0; j < n; j++) {
        const char *s = cells[j];

        while (isspace((unsigned char)*s))
            s++;
        filled += a->col_class[j] >= 0 && *s;
    }
    if (filled == 0)
        return 0;
    for (int64_t j = 0; j < n; j++) {
        char *end;
        double v;

        if (a->col_class[j] < 0)
            continue;
        v = strtod(cells[j], &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == cells[j] || *end)
            return dg__fail(err, DG_EFORMAT, "%s: line %lld, field %lld: expected a number "
                            "(or every class cell empty to abstain), found '%.*s'", a->path,
                            (long long)line, (long long)j + 1, QUOTE_MAX, cells[j]);
        a->x[row * t->C + a->col_class[j]] = (float)v;
    }
    a->present[row] = 1;
    return 0;
}

/* JSONL first pass without a class list: gathers the names used. */
static int jsonl_gather(void *user, jp *p, jrow *r)
{
    aligned *a = user;

    for (int64_t i = 0; i < r->n; i++) {
        const char *name = r->names.p + r->name_at[i];
        int known = 0;

        for (int64_t k = 0; k < a->n_seen && !known; k++)
            known = strcmp(a->seen[k], name) == 0;
        if (known)
            continue;
        if (a->n_seen == a->cap_seen) {
            int64_t cap = a->cap_seen ? 2 * a->cap_seen : 16;
            char **grown = realloc(a->seen, (size_t)cap * sizeof *grown);

            if (!grown)
                return dg__fail(p->err, DG_ENOMEM, "%s: out of memory", a->path);
            a->seen = grown;
            a->cap_seen = cap;
        }
        if (!(a->seen[a->n_seen] = strdup(name)))
            return dg__fail(p->err, DG_ENOMEM, "%s: out of memory", a->path);
        a->n_seen++;
    }
    return 0;
}

/* JSONL: one data row per line, from "probs" or a one-hot "label". */
static int jsonl_row(void *user, jp *p, jrow *r)
{
    aligned *a = user;
    target *t = a->t;
    unsigned char *filled;
    int64_t row, k;
    int rc;

    if (!r->kind) {
        p->i = 0;
        return jp_fail(p, "no \"probs\" or \"label\" key (null abstains)");
    }
    if ((rc = row_of(a, p->line, r->id.p, &row, p->err)) || r->kind == 'n')
        return rc;
    if (!(filled = dg__alloc((size_t)t->C, 1, 1, p->err)))
        return DG_ENOMEM;
    for (int64_t i = 0; i < r->n && rc == 0; i++) {
        const char *name = r->names.p + r->name_at[i];

        if ((rc = class_of(t, a->path, p->line, name, &k, p->err)) == 0 && filled[k])
            rc = dg__fail(p->err, DG_EFORMAT, "%s: line %lld: class '%.*s' given twice",
                          a->path, (long long)p->line, QUOTE_MAX, name);
        if (rc == 0) {
            filled[k] = 1;
            a->x[row * t->C + k] = (float)r->value[i];
        }
    }
    if (rc == 0 && r->kind == 'p')
        rc = check_all_classes(t, a->path, p->line, filled, p->err);
    free(filled);
    if (r->kind == 'l' && !a->hard)
        a->hard = (int)p->line;
    a->present[row] = 1;
    return rc;
}

static int read_jsonl(aligned *a, dg_error *err)
{
    int rc;

    a->keyed = 1;
    if ((rc = keyed_needs_rows(a, err)))
        return rc;
    if (!a->t->names) {
        if ((rc = jsonl_each(a->path, a->t->o->id_key, jsonl_gather, a, err)))
            return rc;
        if ((rc = adopt_classes(a->t, (const char *const *)a->seen, a->n_seen, a->path, err)))
            return rc;
    }
    if ((rc = rows_alloc(a, err)))
        return rc;
    return jsonl_each(a->path, a->t->o->id_key, jsonl_row, a, err);
}

/* A positional file (.npy, CSV without an id column): N rows in data
 * order; named columns are put in class-id order. */
static int read_positional(aligned *a, dg_error *err)
{
    target *t = a->t;
    dg_csv_opts csv = dg_csv_defaults();
    dg_matrix m = {0, 0, NULL};
    char **names = NULL;
    int rc;

    if (dg__has_suffix(a->path, ".npy"))
        rc = dg_read_npy(a->path, &m, err);
    else
        rc = dg_read_csv(a->path, &csv, &m, NULL, &names, err);
    if (rc)
        return rc;
    if (names)
        rc = adopt_classes(t, (const char *const *)names, m.cols, a->path, err);
    if (rc == 0 && t->N && m.rows != t->N)
        rc = t->N_source ? dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld rows but %s has "
                                    "%lld", a->path, (long long)m.rows, t->N_source,
                                    (long long)t->N)
                         : dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld rows but the data "
                                    "has %lld", a->path, (long long)m.rows, (long long)t->N);
    if (rc == 0 && t->C && m.cols != t->C)
        rc = dg__fail(err, DG_EMISMATCH, "teachers: %s has %lld classes but %s has %d", a->path,
                      (long long)m.cols, t->C_source, t->C);
    if (rc == 0 && m.cols > INT32_MAX)
        rc = dg__fail(err, DG_EFORMAT, "%s: %lld columns, expected at most %d classes", a->path,
                      (long long)m.cols, INT32_MAX);
    if (rc == 0 && !t->N) {
        t->N = m.rows;
        t->N_source = a->path;
    }
    if (rc == 0 && !t->C) {
        t->C = (int)m.cols;
        t->C_source = a->path;
    }
    if (rc == 0 && (rc = rows_alloc(a, err)) == 0) {
        unsigned char *seen = dg__alloc((size_t)t->C, 1, 1, err);
        int64_t *col_class = dg__alloc((size_t)t->C, sizeof *col_class, 0, err);

        for (int64_t j = 0; seen && col_class && j < t->C && rc == 0; j++) {
            col_class[j] = j;
            if (names && (rc = class_of(t, a->path, 1, names[j], &col_class[j], err)) == 0 &&
                seen[col_class[j]])
                rc = dg__fail(err, DG_EFORMAT, "%s: line 1: class '%.*s' has two columns",
                              a->path, QUOTE_MAX, names[j]);
            if (rc == 0)
                seen[col_class[j]] = 1;
        }
        if (!seen || !col_class)
            rc = DG_ENOMEM;
        for (int64_t n = 0; n < t->N && rc == 0; n++)
            for (int64_t j = 0; j < t->C; j++)
                a->x[n * t->C + col_class[j]] = m.data[n * m.cols + j];
        memset(a->present, 1, (size_t)t->N);
        free(seen);
        free(col_class);
    }
    dg_names_free(names, m.cols);
    dg_matrix_free(&m);
    return rc;
}

/* Reads one teacher file into a (x, present, line) per its kind. */
static int read_teacher(aligned *a, dg_error *err)
{
    int rc;

    if (dg__has_suffix(a->path, ".jsonl") || dg__has_suffix(a->path, ".ndjson") ||
        dg__has_suffix(a->path, ".json"))
        return read_jsonl(a, err);
    if (dg__has_suffix(a->path, ".csv") || dg__has_suffix(a->path, ".tsv")) {
        if ((rc = dg__csv_records(a->path, 0, keyed_csv_record, a, err)))
            return rc;
        if (a->keyed && !a->x)
            return dg__fail(err, DG_EFORMAT, "%s: only a header, expected rows", a->path);
        if (a->keyed)
            return 0;
        return read_positional(a, err);
    }
    if (dg__has_suffix(a->path, ".npy"))
        return read_positional(a, err);
    return dg__fail(err, DG_EINVAL, "%s: teacher outputs must be a .npy, .csv, .tsv or .jsonl "
                    "file", a->path);
}

static void aligned_free(aligned *a)
{
    free(a->x);
    free(a->present);
    free(a->line);
    free(a->col_class);
    dg_names_free(a->seen, a->n_seen);
}

/* Checks the options and indexes the given ids and classes. */
static int target_init(target *t, const dg_align_opts *o, dg_error *err)
{
    int64_t first, dup;
    int rc;

    memset(t, 0, sizeof *t);
    t->o = o;
    t->N = o->N;
    if (o->N < 0 || (o->ids && o->N < 1))
        return dg__fail(err, DG_EINVAL, "teachers: data ids need N >= 1 rows, got %lld",
                        (long long)o->N);
    if (!o->id_key || !o->id_key[0])
        return dg__fail(err, DG_EINVAL, "teachers: no id key given");
    if (o->ids) {
        rc = index_build(&t->ids, o->ids, o->N, &first, &dup, err);
        if (rc == DG_EFORMAT)
            return dg__fail(err, DG_EINVAL, "%s: id '%.*s' of row %lld repeats row %lld",
                            o->ids_source ? o->ids_source : "data ids", QUOTE_MAX, o->ids[dup],
                            (long long)dup + 1, (long long)first + 1);
        if (rc)
            return rc;
    }
    if (o->classes) {
        if (o->C < 1)
            return dg__fail(err, DG_EINVAL, "teachers: a class list needs C >= 1, got %d", o->C);
        t->names = (char **)o->classes;
        t->C = o->C;
        t->C_source = "the class list";
        rc = index_build(&t->classes, o->classes, o->C, &first, &dup, err);
        if (rc == DG_EFORMAT)
            return dg__fail(err, DG_EINVAL, "class list: '%.*s' is given twice", QUOTE_MAX,
                            o->classes[dup]);
        return rc;
    }
    return 0;
}

static void target_free(target *t)
{
    index_free(&t->ids);
    index_free(&t->classes);
    if (t->own_names)
        dg_names_free(t->names, t->C);
}

int dg_teachers_load_aligned(const char *const *paths, int M, dg_teacher_format format,
                             const dg_align_opts *align, dg_teachers **out, dg_error *err)
{
    dg_align_opts defaults = dg_align_defaults();
    dg_teachers *teachers = NULL;
    target t;
    int rc;

    *out = NULL;
    if (M < 1)
        return dg__fail(err, DG_EINVAL, "teachers: need at least one file, got %d", M);
    if (format != DG_TEACHER_AUTO && format != DG_TEACHER_PROB && format != DG_TEACHER_LOGIT)
        return dg__fail(err, DG_EINVAL, "teachers: unknown format %d", (int)format);
    if ((rc = target_init(&t, align ? align : &defaults, err)) == 0)
        for (int m = 0; m < M && rc == 0; m++) {
            aligned a;
            dg_teacher_format fmt = format;

            memset(&a, 0, sizeof a);
            a.path = paths[m];
            a.t = &t;
            rc = read_teacher(&a, err);
            if (rc == 0 && a.keyed && (rc = check_missing(&a, err)) == 0 && a.hard) {
                /* a hard label is a one-hot probability row */
                if (format == DG_TEACHER_LOGIT)
                    rc = dg__fail(err, DG_EINVAL, "%s: line %d: a hard label is a probability "
                                  "row, so the file cannot be read as logits", a.path, a.hard);
                fmt = DG_TEACHER_PROB;
            }
            if (rc == 0 && !teachers)
                rc = dg__teachers_alloc(M, t.N, t.C, &teachers, err);
            if (rc == 0)
                rc = dg__teachers_fill(teachers, m, a.x, a.present, a.keyed ? a.line : NULL, fmt,
                                       a.path, err);
            aligned_free(&a);
        }
    target_free(&t);
    if (rc) {
        dg_teachers_free(teachers);
        return rc;
    }
    *out = teachers;
    return 0;
}

int dg_teachers_load(const char *const *paths, int M, dg_teacher_format format,
                     dg_teachers **out, dg_error *err)
{
    return dg_teachers_load_aligned(paths, M, format, NULL, out, err);
}
