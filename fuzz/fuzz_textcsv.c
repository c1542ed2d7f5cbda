/* Fuzz target: CSV text corpora (header naming the text, label, id and
 * group columns) through dg_read_text_csv, strict and replacing UTF-8.
 */
#include "disagree.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(".csv", data, size);
    dg_text_opts o = dg_text_defaults();
    dg_corpus *c = NULL;
    dg_error err;

    if (dg_read_text_csv(path, &o, &c, &err) == 0)
        dg_corpus_free(c);
    o.invalid_utf8 = DG_UTF8_REPLACE;
    if (dg_read_text_csv(path, &o, &c, &err) == 0)
        dg_corpus_free(c);
    return 0;
}
