/* Fuzz target: JSONL text corpora through dg_read_jsonl, strict about
 * UTF-8, and replacing invalid UTF-8 with labels limited to two classes.
 */
#include "disagree.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const classes[] = {"ham", "spam"};
    const char *path = fuzz_file(".jsonl", data, size);
    dg_text_opts o = dg_text_defaults();
    dg_corpus *c = NULL;
    dg_error err;

    if (dg_read_jsonl(path, &o, &c, &err) == 0)
        dg_corpus_free(c);
    o.invalid_utf8 = DG_UTF8_REPLACE;
    o.classes = classes;
    o.n_classes = 2;
    if (dg_read_jsonl(path, &o, &c, &err) == 0)
        dg_corpus_free(c);
    return 0;
}
