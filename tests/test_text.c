/* The text path: JSONL and CSV readers (escapes, UTF-8 errors, labels),
 * mail views, NFKC + casefold tokens, FNV-1a n-gram buckets, CSR building,
 * and TF-IDF + L2 values checked by hand.
 */
#include "check.h"
#include "disagree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[64];

/* Writes len bytes to tmp_dir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *data, size_t len)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    fp = fopen(path, "wb");
    fwrite(data, 1, len, fp);
    fclose(fp);
    return path;
}

static dg_corpus *read_jsonl(const char *data, size_t len, const dg_text_opts *o, dg_error *err)
{
    dg_corpus *c = NULL;

    dg_read_jsonl(write_file("t.jsonl", data, len), o, &c, err);
    return c;
}

/* Independent FNV-1a 64 over a kind byte and bytes, xor-folded to bits. */
static uint32_t fnv_bucket(char kind, const char *s, size_t n, int bits)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    h = (h ^ (unsigned char)kind) * 0x100000001b3ULL;
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)s[k]) * 0x100000001b3ULL;
    return (uint32_t)(((h >> bits) ^ h) & ((1ULL << bits) - 1));
}

/* ------------------------------------------------------------- JSONL */

static void test_jsonl_decodes_escapes_and_surrogate_pairs(void)
{
    const char in[] = "{\"text\": \"a\\\"b\\\\c\\/d\\n\\t\\b\\f\\r\\u00e9\\ud83d\\ude00\", "
                      "\"label\": \"spam\"}\n";
    dg_error err;
    dg_corpus *c = read_jsonl(in, sizeof in - 1, NULL, &err);
    size_t len;
    const char *t;

    CHECK(c != NULL);
    if (!c)
        return;
    t = dg_corpus_text(c, 0, &len);
    /* \u00e9 is C3 A9; the pair D83D DE00 is U+1F600, F0 9F 98 80. */
    CHECK(len == 18);
    CHECK(memcmp(t, "a\"b\\c/d\n\t\b\f\r\xC3\xA9\xF0\x9F\x98\x80", 18) == 0);
    CHECK(dg_corpus_labels(c)[0] == 0);
    dg_corpus_free(c);
}

static void test_jsonl_skips_nested_unknown_keys_and_keeps_ids(void)
{
    const char in[] =
        "\xEF\xBB\xBF{\"meta\": {\"a\": [1, 2.5e-3, {\"b\": null}], \"c\": true}, \"text\": "
        "\"first\", \"id\": \"m1\", \"group\": 2003, \"x\": false, \"label\": \"ham\"}\r\n"
        "\r\n"
        "{\"label\": \"spam\", \"text\": \"\", \"id\": 7, \"deep\": [[[[]]]], \"n\": -0.5}\r\n"
        "{\"text\": \"third\", \"label\": \"ham\", \"group\": null}\n";
    dg_error err;
    dg_corpus *c = read_jsonl(in, sizeof in - 1, NULL, &err);
    size_t len;

    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK(dg_corpus_size(c) == 3);
    CHECK(strcmp(dg_corpus_text(c, 0, &len), "first") == 0);
    CHECK(dg_corpus_text(c, 1, &len)[0] == '\0' && len == 0);
    CHECK(strcmp(dg_corpus_id(c, 0), "m1") == 0 && strcmp(dg_corpus_id(c, 1), "7") == 0);
    CHECK(dg_corpus_id(c, 2) == NULL);
    CHECK(strcmp(dg_corpus_group(c, 0), "2003") == 0 && dg_corpus_group(c, 2) == NULL);
    /* ham first, so ham = 0 and spam = 1. */
    CHECK(dg_corpus_classes(c) == 2);
    CHECK(strcmp(dg_corpus_class_names(c)[0], "ham") == 0);
    CHECK(dg_corpus_labels(c)[0] == 0 && dg_corpus_labels(c)[1] == 1 &&
          dg_corpus_labels(c)[2] == 0);
    dg_corpus_free(c);
}

static void test_jsonl_integer_labels_are_class_ids(void)
{
    const char in[] = "{\"text\": \"a\", \"label\": 2}\n{\"text\": \"b\", \"label\": -1}\n"
                      "{\"text\": \"c\", \"label\": null}\n{\"text\": \"d\"}\n";
    const char mixed[] = "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"x\"}\n";
    dg_error err;
    dg_corpus *c = read_jsonl(in, sizeof in - 1, NULL, &err);

    CHECK(c != NULL);
    if (!c)
        return;
    CHECK(dg_corpus_classes(c) == 3);
    CHECK(strcmp(dg_corpus_class_names(c)[2], "2") == 0);
    CHECK(dg_corpus_labels(c)[0] == 2);
    for (int i = 1; i < 4; i++)
        CHECK(dg_corpus_labels(c)[i] == -1);
    dg_corpus_free(c);

    CHECK(read_jsonl(mixed, sizeof mixed - 1, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "line 2") != NULL);
}

static void test_given_class_list_fixes_ids(void)
{
    const char *classes[] = {"ham", "spam"};
    const char in[] = "{\"text\": \"a\", \"label\": \"spam\"}\n{\"text\": \"b\", \"label\": 0}\n";
    const char bad[] = "{\"text\": \"a\", \"label\": \"eggs\"}\n";
    dg_text_opts o = dg_text_defaults();
    dg_error err;
    dg_corpus *c;

    o.classes = classes;
    o.n_classes = 2;
    c = read_jsonl(in, sizeof in - 1, &o, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK(dg_corpus_labels(c)[0] == 1 && dg_corpus_labels(c)[1] == 0);
        dg_corpus_free(c);
    }
    CHECK(read_jsonl(bad, sizeof bad - 1, &o, &err) == NULL);
    CHECK(strstr(err.msg, "\"eggs\" is not one of the 2 given classes") != NULL);
}

static void test_jsonl_malformed_lines_name_line_and_byte(void)
{
    static const struct {
        const char *line;
        const char *expect;
    } cases[] = {
        {"{\"text\": \"a\" \"label\": 1}", "line 2, byte 14: expected ',' or '}' after a value"},
        {"{\"text\": \"a\",}", "line 2, byte 14: expected '\"' to start a key"},
        {"{\"text\" \"a\"}", "line 2, byte 9: expected ':' after a key"},
        {"{\"text\": \"abc", "line 2, byte 14: unterminated string"},
        {"{\"text\": \"a\\qb\"}", "line 2, byte 13: invalid escape"},
        {"{\"text\": \"\\u12G4\"}", "line 2, byte 15: expected 4 hex digits"},
        {"{\"text\": \"a\"} x", "line 2, byte 15: expected the end of the line"},
        {"[\"text\"]", "line 2, byte 1: expected '{'"},
        {"{\"x\": tru, \"text\": \"a\"}", "line 2, byte 7: expected a JSON value"},
        {"{\"x\": [1, 2}", "line 2, byte 12: expected ',' or ']' after a value"},
        {"{\"x\": 01}", "line 2, byte 8: expected ',' or '}'"},
        {"{\"x\": -}", "line 2, byte 8: expected a digit"},
        {"{\"label\": 1}", "line 2, byte 1: no \"text\" key"},
        {"{\"text\": 5}", "line 2, byte 10: expected a string for \"text\""},
        {"{\"text\": \"a\", \"label\": 1.5}", "line 2, byte 24: expected a string or an integer"},
        {"{\"text\": \"a\", \"text\": \"b\"}", "key \"text\" appears twice"},
        {"{\"text\": \"a\tb\"}", "line 2, byte 12: control character 0x09"},
        {"{\"text\": \"\\ud800x\"}", "line 2, byte 11: lone UTF-16 surrogate \\uD800"},
        {"{", "line 2, byte 2: expected '\"' to start a key, found the end of the line"},
    };
    char buf[256];
    dg_error err;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = snprintf(buf, sizeof buf, "{\"text\": \"ok\"}\n%s\n", cases[k].line);
        dg_corpus *c = read_jsonl(buf, (size_t)n, NULL, &err);

        CHECK(c == NULL);
        dg_corpus_free(c);
        if (!strstr(err.msg, cases[k].expect) || !strstr(err.msg, "t.jsonl: ")) {
            fprintf(stderr, "  case %zu: got \"%s\"\n", k, err.msg);
            CHECK(0);
        }
    }
}

static void test_deep_nesting_is_an_error_not_a_crash(void)
{
    static char buf[20000];
    size_t n = 0;
    dg_error err;

    n += (size_t)sprintf(buf, "{\"text\": \"a\", \"x\": ");
    for (int k = 0; k < 5000; k++)
        buf[n++] = '[';
    buf[n++] = '}';
    buf[n++] = '\n';
    CHECK(read_jsonl(buf, n, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "nesting deeper than") != NULL);
}

static void test_mutated_lines_fail_cleanly_or_parse(void)
{
    const char base[] = "{\"text\": \"a\\u00e9\\ud83d\\ude00 b\", \"x\": [1, {\"y\": null}], "
                        "\"label\": 3, \"id\": \"q\"}";
    const char alphabet[] = "{}[]\",:\\u0e-+.tfn \x80\xC3\xED";
    uint64_t state = 12345;
    char buf[sizeof base + 8];
    int failed = 0, parsed = 0;
    dg_error err;

    /* Each line is the base with three bytes overwritten (deterministic
     * LCG); every outcome must be a corpus or a message naming the line. */
    for (int trial = 0; trial < 3000; trial++) {
        dg_corpus *c;

        memcpy(buf, base, sizeof base);
        for (int k = 0; k < 3; k++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[(state >> 33) % (sizeof base - 1)] =
                alphabet[(state >> 17) % (sizeof alphabet - 1)];
        }
        c = read_jsonl(buf, strlen(buf), NULL, &err);
        if (c) {
            parsed++;
            dg_corpus_free(c);
        } else if (strstr(err.msg, "t.jsonl: line 1") || strstr(err.msg, "text 0")) {
            failed++;
        } else {
            fprintf(stderr, "  trial %d: unexpected message \"%s\"\n", trial, err.msg);
            CHECK(0);
        }
    }
    CHECK(failed > 1000 && parsed > 10);
}

/* ------------------------------------------------------------- UTF-8 */

static void test_invalid_utf8_names_line_and_byte(void)
{
    static const struct {
        const char *bytes;
        const char *why;
    } cases[] = {
        {"\xC0\xAF", "overlong"},          /* '/' in two bytes */
        {"\xE0\x80\xAF", "overlong"},      /* '/' in three bytes */
        {"\x80", "continuation byte"},     /* lone continuation */
        {"\xE2\x82", "truncated"},         /* euro sign missing its last byte */
        {"\xED\xA0\x80", "surrogate"},     /* U+D800 encoded */
        {"\xF4\x90\x80\x80", "above U+10FFFF"},
    };
    char buf[128];
    dg_error err;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = snprintf(buf, sizeof buf, "{\"text\": \"ok\"}\n{\"text\": \"ab%s\"}\n",
                         cases[k].bytes);

        CHECK(read_jsonl(buf, (size_t)n, NULL, &err) == NULL);
        if (!strstr(err.msg, "line 2, byte 13: invalid UTF-8") ||
            !strstr(err.msg, cases[k].why)) {
            fprintf(stderr, "  case %zu: got \"%s\"\n", k, err.msg);
            CHECK(0);
        }
    }
}

static void test_replace_mode_substitutes_and_counts(void)
{
    /* Maximal subparts: C0 | AF (2), E2 82 (1, truncated by '"'), ED | A0 | 80 (3),
     * and the lone \udc00 escape (1): 7 replacements in all. */
    const char in[] = "{\"text\": \"a\xC0\xAF" "b\xE2\x82\" , \"label\": \"x\"}\n"
                      "{\"text\": \"\xED\xA0\x80\\udc00z\"}\n";
    dg_text_opts o = dg_text_defaults();
    dg_error err;
    dg_corpus *c;
    size_t len;

    o.invalid_utf8 = DG_UTF8_REPLACE;
    c = read_jsonl(in, sizeof in - 1, &o, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK(dg_corpus_replaced(c) == 7);
    CHECK(strcmp(dg_corpus_text(c, 0, &len), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD") == 0);
    CHECK(len == 11);
    dg_corpus_text(c, 1, &len);
    CHECK(len == 13);
    dg_corpus_free(c);
}

/* --------------------------------------------------------------- CSV */

static void test_csv_quoted_newlines_crlf_and_bom(void)
{
    const char in[] = "\xEF\xBB\xBFid,text,label\r\n"
                      "1,\"line one\r\nline \"\"two\"\", still\",spam\r\n"
                      "\r\n"
                      "2,plain,ham\r\n"
                      "3,\"\",\r\n";
    dg_error err;
    dg_corpus *c = NULL;
    size_t len;

    CHECK(dg_read_text(write_file("t.csv", in, sizeof in - 1), NULL, &c, &err) == 0);
    if (!c) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK(dg_corpus_size(c) == 3);
    CHECK(strcmp(dg_corpus_text(c, 0, &len), "line one\r\nline \"two\", still") == 0);
    CHECK(strcmp(dg_corpus_text(c, 1, &len), "plain") == 0);
    CHECK(dg_corpus_text(c, 2, &len)[0] == '\0');
    CHECK(strcmp(dg_corpus_id(c, 1), "2") == 0);
    CHECK(dg_corpus_labels(c)[0] == 0 && dg_corpus_labels(c)[1] == 1 &&
          dg_corpus_labels(c)[2] == -1);
    dg_corpus_free(c);
}

static void test_csv_errors_name_the_line(void)
{
    const char short_row[] = "text,label\n\"two\nlines\",a\nonly\n";
    const char open_quote[] = "text\tlabel\nok\t1\n\"never closed\t1\n";
    const char no_text[] = "body,label\nx,1\n";
    dg_error err;
    dg_corpus *c = NULL;

    CHECK(dg_read_text(write_file("a.csv", short_row, sizeof short_row - 1), NULL, &c, &err) < 0);
    CHECK(strstr(err.msg, "a.csv: line 4: expected 2 fields as in the header, found 1") != NULL);
    CHECK(dg_read_text(write_file("b.tsv", open_quote, sizeof open_quote - 1), NULL, &c, &err) <
          0);
    CHECK(strstr(err.msg, "b.tsv: line 3, byte 1: quoted field never closed") != NULL);
    CHECK(dg_read_text(write_file("c.csv", no_text, sizeof no_text - 1), NULL, &c, &err) < 0);
    CHECK(strstr(err.msg, "expected a column named \"text\"") != NULL);
    CHECK(c == NULL);
}

/* -------------------------------------------------------- mail views */

static void test_mail_views_split_at_first_blank_line(void)
{
    const char mail[] = "From: a@b\r\nSubject: hi\r\n\r\nBody line\r\n\r\nmore";
    size_t start, span;

    dg_text_span(mail, sizeof mail - 1, DG_TEXT_HEADERS, &start, &span);
    CHECK(start == 0 && span == 24);
    dg_text_span(mail, sizeof mail - 1, DG_TEXT_BODY, &start, &span);
    CHECK(start == 26 && memcmp(mail + start, "Body line", 9) == 0);
    CHECK(start + span == sizeof mail - 1);
    dg_text_span("no blank line", 13, DG_TEXT_BODY, &start, &span);
    CHECK(span == 0);
    dg_text_span("no blank line", 13, DG_TEXT_HEADERS, &start, &span);
    CHECK(start == 0 && span == 13);
    dg_text_span("\nbody", 5, DG_TEXT_BODY, &start, &span);
    CHECK(start == 1 && span == 4);
}

/* ------------------------------------------------------------ tokens */

static void test_tokens_after_nfkc_casefold(void)
{
    const char in[] = "Hello, WORLD! \xC3\x9Cn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xEF\xAC\x81ne 42"
                      " Stra\xC3\x9F" "e_x";
    /* U+FB01 (fi ligature) becomes "fi" under NFKC; casefold maps U+00DC to
     * U+00FC and sharp s to "ss"; '_' (Pc) separates. */
    const char *expect[] = {"hello", "world", "\xC3\xBCn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9",
                            "fine", "42", "strasse", "x"};
    char **tok = NULL;
    int64_t n = 0;
    dg_error err;

    CHECK(dg_text_tokens(in, sizeof in - 1, 1, &tok, &n, &err) == 0);
    CHECK(n == 7);
    for (int64_t k = 0; k < n && k < 7; k++)
        CHECK(strcmp(tok[k], expect[k]) == 0);
    dg_text_tokens_free(tok, n);

    /* Decomposed input: U+0065 U+0301 composes to U+00E9 under NFKC. */
    CHECK(dg_text_tokens("Cafe\xCC\x81!", 7, 1, &tok, &n, &err) == 0);
    CHECK(n == 1 && strcmp(tok[0], "caf\xC3\xA9") == 0);
    dg_text_tokens_free(tok, n);

    /* Without normalisation the combining mark stays inside the token. */
    CHECK(dg_text_tokens("Cafe\xCC\x81!", 7, 0, &tok, &n, &err) == 0);
    CHECK(n == 1 && strcmp(tok[0], "Cafe\xCC\x81") == 0);
    dg_text_tokens_free(tok, n);
}

/* ------------------------------------------------------------ hashing */

static void test_bucket_ids_are_folded_fnv1a(void)
{
    const uint64_t a = 0xaf63dc4c8601ec8cULL, foobar = 0x85944171f73967e8ULL;

    /* Published FNV-1a 64 test vectors "a" and "foobar", folded to 24 bits;
     * the kind byte is simply the first byte hashed. */
    CHECK(dg_ngram_bucket('a', "", 0, 24) == (((a >> 24) ^ a) & 0xFFFFFF));
    CHECK(dg_ngram_bucket('f', "oobar", 5, 24) == (((foobar >> 24) ^ foobar) & 0xFFFFFF));
    /* Computed independently (Python, same definition): FNV-1a("Wspam") =
     * 0xa007a71e320e345b, folded to 20 bits 1038203; FNV-1a("Cspam") =
     * 0x3389370bfee68a1f -> 407025; "W" "free" 0x1F "money" -> 54178. So
     * word unigram "spam" is column 1038203 of 2^20. */
    CHECK(dg_ngram_bucket(DG_NGRAM_WORD, "spam", 4, 20) == 1038203u);
    CHECK(dg_ngram_bucket(DG_NGRAM_CHAR, "spam", 4, 20) == 407025u);
    CHECK(dg_ngram_bucket(DG_NGRAM_WORD, "free\x1Fmoney", 10, 20) == 54178u);
    CHECK(fnv_bucket('W', "spam", 4, 20) == 1038203u);
    CHECK(dg_ngram_bucket(DG_NGRAM_WORD, "spam", 4, 1) == 0u);
    /* Single letters differing only in the last byte land apart. */
    CHECK(dg_ngram_bucket(DG_NGRAM_WORD, "a", 1, 20) == 622601u);
    CHECK(dg_ngram_bucket(DG_NGRAM_WORD, "b", 1, 20) == 626016u);
}

static dg_corpus *corpus_of(const char *const *texts, int n)
{
    dg_corpus *c = NULL;

    dg_corpus_create(NULL, &c, NULL);
    for (int i = 0; i < n; i++)
        dg_corpus_add(c, texts[i], strlen(texts[i]), NULL, NULL, NULL, NULL);
    return c;
}

/* Value stored at column col of row r, or -1 when absent. */
static double csr_at(const dg_csr *m, int64_t r, uint32_t col)
{
    for (int64_t k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++)
        if ((uint32_t)m->col[k] == col)
            return m->val[k];
    return -1.0;
}

static void test_word_ngram_counts_on_a_short_text(void)
{
    const char *texts[] = {"The cat, the CAT sat."};
    dg_featurizer_opts o = dg_featurizer_defaults();
    dg_corpus *c = corpus_of(texts, 1);
    dg_featurizer *f = NULL;
    dg_csr m;
    dg_error err;

    o.idf = 0;
    o.l2 = 0;
    CHECK(dg_featurizer_fit(&o, NULL, &f, &err) == 0);
    CHECK(dg_featurizer_transform(f, c, &m, &err) == 0);
    /* the:2 cat:2 sat:1, "the cat":2 "cat the":1 "cat sat":1. */
    CHECK(m.rows == 1 && m.cols == 1 << 20 && m.nnz == 6);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "the", 3, 20)) == 2.0);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "cat", 3, 20)) == 2.0);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "sat", 3, 20)) == 1.0);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "the\x1F" "cat", 7, 20)) == 2.0);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "cat\x1F" "the", 7, 20)) == 1.0);
    CHECK(csr_at(&m, 0, fnv_bucket('W', "cat\x1F" "sat", 7, 20)) == 1.0);
    dg_csr_free(&m);
    dg_featurizer_free(f);

    /* Char 3-grams of "ab ab": " ab" and "ab " twice each. */
    o.word_min = o.word_max = 0;
    o.char_min = o.char_max = 3;
    dg_corpus_free(c);
    texts[0] = "ab AB";
    c = corpus_of(texts, 1);
    CHECK(dg_featurizer_fit(&o, NULL, &f, &err) == 0);
    CHECK(dg_featurizer_transform(f, c, &m, &err) == 0);
    CHECK(m.nnz == 2);
    CHECK(csr_at(&m, 0, fnv_bucket('C', " ab", 3, 20)) == 2.0);
    CHECK(csr_at(&m, 0, fnv_bucket('C', "ab ", 3, 20)) == 2.0);
    dg_csr_free(&m);
    dg_featurizer_free(f);
    dg_corpus_free(c);
}

static void test_csr_from_triplets_sorts_and_merges(void)
{
    const int64_t row[] = {2, 0, 2, 0, 2, 0};
    const int32_t col[] = {5, 3, 1, 3, 5, 0};
    const float val[] = {1, 2, 3, 4, 5, 6};
    dg_csr m;
    dg_error err;

    CHECK(dg_csr_from_triplets(4, 8, row, col, val, 6, &m, &err) == 0);
    CHECK(m.nnz == 4);
    CHECK(m.row_ptr[0] == 0 && m.row_ptr[1] == 2 && m.row_ptr[2] == 2 && m.row_ptr[3] == 4 &&
          m.row_ptr[4] == 4);
    CHECK(m.col[0] == 0 && m.val[0] == 6 && m.col[1] == 3 && m.val[1] == 6);
    CHECK(m.col[2] == 1 && m.val[2] == 3 && m.col[3] == 5 && m.val[3] == 6);
    dg_csr_free(&m);
    CHECK(dg_csr_from_triplets(2, 8, row, col, val, 6, &m, &err) == DG_EINVAL);
}

static void test_tfidf_l2_values_by_hand(void)
{
    const char *train[] = {"a b", "a c", "a a"};
    const char *test[] = {"b z"};
    dg_featurizer_opts o = dg_featurizer_defaults();
    dg_corpus *c = corpus_of(train, 3), *t = corpus_of(test, 1);
    dg_featurizer *f = NULL, *g = NULL;
    dg_csr m, mt;
    dg_error err;
    uint32_t a = fnv_bucket('W', "a", 1, 20), b = fnv_bucket('W', "b", 1, 20),
             z = fnv_bucket('W', "z", 1, 20);
    /* idf = ln((1 + N) / (1 + df)) + 1 with N = 3: a (df 3) -> 1, b (df 1)
     * -> 1 + ln 2 = 1.693147, z (df 0) -> 1 + ln 4 = 2.386294. Row "a b":
     * (1, 1.693147) / 1.966404 = (0.508543, 0.861037). */
    double norm_ab = sqrt(1.0 + (1.0 + log(2.0)) * (1.0 + log(2.0)));
    double norm_bz = sqrt(pow(1.0 + log(2.0), 2) + pow(1.0 + log(4.0), 2));

    o.word_max = 1;
    CHECK(dg_featurizer_fit(&o, c, &f, &err) == 0);
    CHECK_NEAR(dg_featurizer_idf(f)[a], 1.0, 1e-6);
    CHECK_NEAR(dg_featurizer_idf(f)[b], 1.693147, 1e-6);
    CHECK_NEAR(dg_featurizer_idf(f)[z], 2.386294, 1e-6);
    CHECK(dg_featurizer_transform(f, c, &m, &err) == 0);
    CHECK_NEAR(csr_at(&m, 0, a), 0.508543, 1e-6);
    CHECK_NEAR(csr_at(&m, 0, b), 0.861037, 1e-6);
    CHECK_NEAR(csr_at(&m, 0, a), 1.0 / norm_ab, 1e-6);
    CHECK_NEAR(csr_at(&m, 2, a), 1.0, 1e-6); /* "a a": a single column, unit length */
    for (int64_t r = 0; r < m.rows; r++)
        for (int64_t k = m.row_ptr[r] + 1; k < m.row_ptr[r + 1]; k++)
            CHECK(m.col[k - 1] < m.col[k]);

    /* The same weights from the saved idf vector, applied to a test text. */
    CHECK(dg_featurizer_from_idf(&o, dg_featurizer_idf(f), dg_featurizer_columns(f), &g,
                                 &err) == 0);
    CHECK(dg_featurizer_transform(g, t, &mt, &err) == 0);
    CHECK_NEAR(csr_at(&mt, 0, b), (1.0 + log(2.0)) / norm_bz, 1e-6);
    CHECK_NEAR(csr_at(&mt, 0, z), (1.0 + log(4.0)) / norm_bz, 1e-6);
    dg_csr_free(&mt);

    /* Sublinear tf: "a a" has tf 1 + ln 2 before idf; without l2 it shows. */
    o.sublinear_tf = 1;
    o.l2 = 0;
    dg_featurizer_free(g);
    CHECK(dg_featurizer_fit(&o, c, &g, &err) == 0);
    CHECK(dg_featurizer_transform(g, c, &mt, &err) == 0);
    CHECK_NEAR(csr_at(&mt, 2, a), 1.0 + log(2.0), 1e-6);
    dg_csr_free(&mt);
    dg_csr_free(&m);
    dg_featurizer_free(f);
    dg_featurizer_free(g);
    dg_corpus_free(c);
    dg_corpus_free(t);
}

static void test_body_view_drops_headers_from_features(void)
{
    const char *mail[] = {"Subject: spam\n\nhello"};
    dg_featurizer_opts o = dg_featurizer_defaults();
    dg_corpus *c = corpus_of(mail, 1);
    dg_featurizer *f = NULL;
    dg_csr m;
    dg_error err;

    o.idf = 0;
    o.word_max = 1;
    o.part = DG_TEXT_BODY;
    CHECK(dg_featurizer_fit(&o, NULL, &f, &err) == 0);
    CHECK(dg_featurizer_transform(f, c, &m, &err) == 0);
    CHECK(m.nnz == 1 && m.col[0] == (int32_t)fnv_bucket('W', "hello", 5, 20));
    dg_csr_free(&m);
    dg_featurizer_free(f);
    o.bits = 25;
    CHECK(dg_featurizer_fit(&o, NULL, &f, &err) == DG_EINVAL);
    dg_corpus_free(c);
}

static void test_mail_without_a_body_gives_an_empty_row(void)
{
    /* no blank line: the body view is empty, and the row has no entries */
    const char *mail[] = {"Subject: only headers", "Subject: x\n\nbody"};
    dg_featurizer_opts o = dg_featurizer_defaults();
    dg_corpus *c = corpus_of(mail, 2);
    dg_featurizer *f = NULL;
    dg_csr m;
    dg_error err;

    o.idf = 0;
    o.part = DG_TEXT_BODY;
    CHECK(dg_featurizer_fit(&o, NULL, &f, &err) == 0);
    CHECK(dg_featurizer_transform(f, c, &m, &err) == 0);
    CHECK(m.rows == 2 && m.row_ptr[1] == 0 && m.row_ptr[2] > 0);
    dg_csr_free(&m);
    dg_featurizer_free(f);
    dg_corpus_free(c);
}

int main(void)
{
    char cmd[128];

    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/dg_text_XXXXXX");
    if (!mkdtemp(tmp_dir))
        return 1;
    RUN(test_jsonl_decodes_escapes_and_surrogate_pairs);
    RUN(test_mail_without_a_body_gives_an_empty_row);
    RUN(test_jsonl_skips_nested_unknown_keys_and_keeps_ids);
    RUN(test_jsonl_integer_labels_are_class_ids);
    RUN(test_given_class_list_fixes_ids);
    RUN(test_jsonl_malformed_lines_name_line_and_byte);
    RUN(test_deep_nesting_is_an_error_not_a_crash);
    RUN(test_mutated_lines_fail_cleanly_or_parse);
    RUN(test_invalid_utf8_names_line_and_byte);
    RUN(test_replace_mode_substitutes_and_counts);
    RUN(test_csv_quoted_newlines_crlf_and_bom);
    RUN(test_csv_errors_name_the_line);
    RUN(test_mail_views_split_at_first_blank_line);
    RUN(test_tokens_after_nfkc_casefold);
    RUN(test_bucket_ids_are_folded_fnv1a);
    RUN(test_word_ngram_counts_on_a_short_text);
    RUN(test_csr_from_triplets_sorts_and_merges);
    RUN(test_tfidf_l2_values_by_hand);
    RUN(test_body_view_drops_headers_from_features);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
