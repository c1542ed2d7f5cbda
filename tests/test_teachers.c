/* Teacher files as labelers write them: rows keyed by id in any order,
 * classes named in any order, abstentions (empty CSV rows, JSON null,
 * missing ids); the readers of ids, class lists and named labels; and the
 * errors, each naming the file, the line and the id or class.
 */
#include "check.h"
#include "core/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_ 30
#define D_ 4
#define C_ 3
#define M_ 3

static char dir[] = "/tmp/dg_test_teachersXXXXXX";

/* dir/name, in a static buffer per call site slot. */
static const char *path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

static void write_file(const char *path, const char *fmt, ...)
{
    FILE *fp = fopen(path, "w");
    va_list ap;

    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    fclose(fp);
}

/* A deterministic uniform in [0, 1). */
static double next_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Random probability rows (N x C), a few with exact zeros. */
static void random_probs(uint64_t *s, float *p)
{
    for (int n = 0; n < N_; n++) {
        double row[C_], sum = 0.0;

        for (int c = 0; c < C_; c++)
            sum += row[c] = (n % 7 == 2 && c == 1) ? 0.0 : 0.05 + next_uniform(s);
        for (int c = 0; c < C_; c++)
            p[n * C_ + c] = (float)(row[c] / sum);
    }
}

/* Reads a whole file into a malloc'd buffer. */
static char *slurp(const char *path, long *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)*len + 1);
    if (fread(buf, 1, (size_t)*len, fp) != (size_t)*len)
        *len = -1;
    fclose(fp);
    return buf;
}

/* Distils a small student from t and saves it to path. */
static int distil_to(const dg_dataset *ds, const dg_teachers *t, const char *path)
{
    dg_distill_opts o = dg_distill_defaults();
    dg_model *model = NULL;
    dg_error err;
    int rc;

    o.method = DG_AEKD;
    o.epochs = 3;
    o.batch = 8;
    o.hidden[0] = 8;
    o.n_hidden = 1;
    o.threads = 1;
    o.seed = 7;
    o.checkpoint = NULL;
    rc = dg_distill(ds, t, &o, &model, &err);
    if (rc == 0)
        rc = dg_model_save(model, path, &err);
    if (rc)
        fprintf(stderr, "  distil: %s\n", err.msg);
    dg_model_free(model);
    return rc;
}

/* ------------------------------------------------------------------------
 * The acceptance case: three messy teachers give the same student as the
 * same outputs aligned by hand.
 */

static void test_shuffled_reordered_and_abstaining_teachers_distil_like_hand_aligned_arrays(void)
{
    static const char *const classes[C_] = {"ant", "bee", "cat"};
    float P[M_][N_ * C_], X[N_ * D_];
    unsigned char mask3[N_];
    char ids_buf[N_][16], p1[256], p2[256], p3[256], m1[256], m2[256], m3[256];
    const char *ids[N_], *paths[M_];
    int64_t perm[N_];
    uint64_t s = 42;
    dg_align_opts al = dg_align_defaults();
    dg_teachers *from_files = NULL, *by_hand = NULL, *no_mask = NULL;
    dg_dataset *ds = NULL;
    dg_matrix Xm = {N_, D_, NULL};
    dg_labels y = {N_, NULL};
    dg_error err;
    FILE *fp;

    for (int m = 0; m < M_; m++)
        random_probs(&s, P[m]);
    for (int i = 0; i < N_ * D_; i++)
        X[i] = (float)(next_uniform(&s) * 2.0 - 1.0);
    for (int n = 0; n < N_; n++) {
        snprintf(ids_buf[n], sizeof ids_buf[n], "doc-%d", n * 7 + 3);
        ids[n] = ids_buf[n];
        perm[n] = n;
        mask3[n] = n % 3 != 0;
    }
    for (int n = N_ - 1; n > 0; n--) {
        int64_t k = (int64_t)(next_uniform(&s) * (n + 1)), tmp = perm[n];

        perm[n] = perm[k];
        perm[k] = tmp;
    }

    /* teacher 1: CSV, rows shuffled */
    fp = fopen(path_of(p1, sizeof p1, "t1.csv"), "w");
    fprintf(fp, "id,ant,bee,cat\n");
    for (int i = 0; i < N_; i++) {
        int64_t n = perm[i];

        fprintf(fp, "%s,%.9g,%.9g,%.9g\n", ids[n], P[0][n * C_], P[0][n * C_ + 1],
                P[0][n * C_ + 2]);
    }
    fclose(fp);

    /* teacher 2: JSONL, classes in another order, rows reversed, extra keys */
    fp = fopen(path_of(p2, sizeof p2, "t2.jsonl"), "w");
    for (int n = N_ - 1; n >= 0; n--)
        fprintf(fp, "{\"model\": \"llm\", \"probs\": {\"cat\": %.9g, \"ant\": %.9g, \"bee\": "
                "%.9g}, \"id\": \"%s\", \"meta\": [1, {\"x\": null}]}\n",
                P[1][n * C_ + 2], P[1][n * C_], P[1][n * C_ + 1], ids[n]);
    fclose(fp);

    /* teacher 3: CSV with the id column in the middle; abstains on every
     * third row, half by empty cells and half by leaving the row out */
    fp = fopen(path_of(p3, sizeof p3, "t3.csv"), "w");
    fprintf(fp, "bee,id,cat,ant\n");
    for (int n = 0; n < N_; n++) {
        if (n % 6 == 3)
            continue;
        if (n % 3 == 0)
            fprintf(fp, ",%s,,\n", ids[n]);
        else
            fprintf(fp, "%.9g,%s,%.9g,%.9g\n", P[2][n * C_ + 1], ids[n], P[2][n * C_ + 2],
                    P[2][n * C_]);
    }
    fclose(fp);

    paths[0] = p1;
    paths[1] = p2;
    paths[2] = p3;
    al.N = N_;
    al.ids = ids;
    al.ids_source = "ids.txt";
    al.classes = classes;
    al.C = C_;
    al.allow_missing = 1;
    CHECK(dg_teachers_load_aligned(paths, M_, DG_TEACHER_AUTO, &al, &from_files, &err) == 0);
    if (!from_files) {
        fprintf(stderr, "  load: %s\n", err.msg);
        return;
    }

    {
        const float *outputs[M_] = {P[0], P[1], P[2]};
        const unsigned char *present[M_] = {NULL, NULL, mask3};

        CHECK(dg_teachers_from_arrays_masked(outputs, present, M_, N_, C_, DG_TEACHER_AUTO,
                                             &by_hand, &err) == 0);
        CHECK(dg_teachers_from_arrays(outputs, M_, N_, C_, DG_TEACHER_AUTO, &no_mask, &err) ==
              0);
    }

    /* the same stored outputs and abstentions, bit for bit */
    CHECK(memcmp(from_files->logp, by_hand->logp, sizeof(float) * M_ * N_ * C_) == 0);
    for (int m = 0; m < M_; m++) {
        unsigned char a[N_], b[N_];

        CHECK(dg_teachers_present(from_files, m, a) == 0);
        CHECK(dg_teachers_present(by_hand, m, b) == 0);
        CHECK(memcmp(a, b, N_) == 0);
        if (m == 2)
            CHECK(a[0] == 0 && a[1] == 1 && a[3] == 0 && a[6] == 0 && a[7] == 1);
    }

    /* and the same student, byte for byte; without the mask it differs */
    Xm.data = malloc(sizeof X);
    memcpy(Xm.data, X, sizeof X);
    y.data = malloc(sizeof(int32_t) * N_);
    for (int n = 0; n < N_; n++)
        y.data[n] = n % 4 == 0 ? n % C_ : -1;
    CHECK(dg_dataset_from_arrays(&Xm, &y, C_, &ds, &err) == 0);
    CHECK(distil_to(ds, from_files, path_of(m1, sizeof m1, "files.dgm")) == 0);
    CHECK(distil_to(ds, by_hand, path_of(m2, sizeof m2, "hand.dgm")) == 0);
    CHECK(distil_to(ds, no_mask, path_of(m3, sizeof m3, "nomask.dgm")) == 0);
    {
        long la = 0, lb = 0, lc = 0;
        char *a = slurp(m1, &la), *b = slurp(m2, &lb), *c = slurp(m3, &lc);

        CHECK(a && b && c && la > 0 && la == lb && la == lc);
        CHECK(a && b && memcmp(a, b, (size_t)la) == 0);
        CHECK(a && c && memcmp(a, c, (size_t)la) != 0);
        free(a);
        free(b);
        free(c);
    }
    dg_dataset_free(ds);
    dg_teachers_free(from_files);
    dg_teachers_free(by_hand);
    dg_teachers_free(no_mask);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    unlink(m1);
    unlink(m2);
    unlink(m3);
}

/* ------------------------------------------------------------------------
 * Row-number ids, hard labels, null abstentions, the sorted class rule
 */

static void test_jsonl_hard_labels_are_one_hot_and_null_abstains(void)
{
    char p[256];
    const char *paths[1] = {path_of(p, sizeof p, "hard.jsonl")};
    dg_align_opts al = dg_align_defaults();
    dg_teachers *t = NULL;
    dg_error err;
    float probs[4 * 2];
    unsigned char present[4];

    /* no class list: the names seen, sorted (bee < wasp); ids are row numbers */
    write_file(paths[0], "{\"id\": 2, \"label\": \"wasp\"}\n\n{\"id\": 0, \"label\": \"bee\"}\n"
               "{\"id\": \"3\", \"probs\": null}\r\n{\"id\": 1, \"probs\": {\"wasp\": 0.25, "
               "\"bee\": 0.75}}\n");
    al.N = 4;
    CHECK(dg_teachers_load_aligned(paths, 1, DG_TEACHER_AUTO, &al, &t, &err) == 0);
    if (t) {
        CHECK(dg_teachers_classes(t) == 2 && dg_teachers_rows(t) == 4);
        CHECK(dg_teachers_probs(t, 0, probs) == 0);
        CHECK(probs[0] == 1.0f && probs[1] == 0.0f);
        CHECK_NEAR(probs[2], 0.75, 1e-7);
        CHECK(probs[4] == 0.0f && probs[5] == 1.0f);
        CHECK(probs[6] == 0.0f && probs[7] == 0.0f);
        CHECK(dg_teachers_present(t, 0, present) == 0);
        CHECK(present[0] && present[1] && present[2] && !present[3]);
        dg_teachers_free(t);
    }

    /* a hard label cannot be read as logits */
    CHECK(dg_teachers_load_aligned(paths, 1, DG_TEACHER_LOGIT, &al, &t, &err) == DG_EINVAL);
    CHECK(strstr(err.msg, paths[0]) && strstr(err.msg, "line 1"));
    unlink(paths[0]);
}

static void test_named_positional_csv_columns_follow_the_class_list(void)
{
    char p[256];
    const char *paths[1] = {path_of(p, sizeof p, "pos.csv")};
    static const char *const classes[3] = {"c", "a", "b"};
    dg_align_opts al = dg_align_defaults();
    dg_teachers *t = NULL;
    dg_error err;
    float probs[2 * 3];

    write_file(paths[0], "a,b,c\n0.5,0.25,0.25\n0.125,0.375,0.5\n");
    al.classes = classes;
    al.C = 3;
    CHECK(dg_teachers_load_aligned(paths, 1, DG_TEACHER_AUTO, &al, &t, &err) == 0);
    if (t) {
        CHECK(dg_teachers_probs(t, 0, probs) == 0);
        CHECK(probs[0] == 0.25f && probs[1] == 0.5f && probs[2] == 0.25f);
        CHECK(probs[3] == 0.5f && probs[4] == 0.125f && probs[5] == 0.375f);
        dg_teachers_free(t);
    }
    unlink(paths[0]);
}

static void test_class_names_sort_numerically_only_when_all_are_integers(void)
{
    char *ints[4] = {"10", "2", "-1", "0"}, *words[3] = {"dog", "Cat", "ant"};
    char *mixed[3] = {"10", "9", "x"};

    dg_class_names_sort(ints, 4);
    CHECK(strcmp(ints[0], "-1") == 0 && strcmp(ints[1], "0") == 0 && strcmp(ints[2], "2") == 0 &&
          strcmp(ints[3], "10") == 0);
    dg_class_names_sort(words, 3);
    CHECK(strcmp(words[0], "Cat") == 0 && strcmp(words[1], "ant") == 0 &&
          strcmp(words[2], "dog") == 0);
    dg_class_names_sort(mixed, 3);
    CHECK(strcmp(mixed[0], "10") == 0 && strcmp(mixed[1], "9") == 0);
}

static void test_ids_class_lists_and_named_labels_are_read_from_files(void)
{
    char a[256], b[256], c[256], d[256];
    char **names = NULL;
    int64_t n = 0;
    int C = 0;
    dg_labels y;
    dg_error err;

    write_file(path_of(a, sizeof a, "ids.txt"), "x1\r\nx2\nx3\n");
    CHECK(dg_read_ids(a, NULL, &names, &n, &err) == 0 && n == 3);
    CHECK(names && strcmp(names[1], "x2") == 0);
    dg_names_free(names, n);
    write_file(a, "x1\nx2\nx1\n");
    CHECK(dg_read_ids(a, NULL, &names, &n, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, a) && strstr(err.msg, "line 3") && strstr(err.msg, "'x1'") &&
          strstr(err.msg, "line 1"));

    write_file(path_of(b, sizeof b, "data.csv"), "text,doc\nhello,\"q,1\"\nbye,q2\n");
    CHECK(dg_read_ids(b, "doc", &names, &n, &err) == 0 && n == 2);
    CHECK(names && strcmp(names[0], "q,1") == 0);
    dg_names_free(names, n);
    write_file(path_of(d, sizeof d, "data.jsonl"), "{\"text\": \"hi\", \"id\": 17}\n"
               "{\"id\": \"\\u00e9t\\u00e9\"}\n");
    CHECK(dg_read_ids(d, NULL, &names, &n, &err) == 0 && n == 2);
    CHECK(names && strcmp(names[0], "17") == 0 && strcmp(names[1], "\xc3\xa9t\xc3\xa9") == 0);
    dg_names_free(names, n);

    CHECK(dg_read_class_names("cat, dog ,eel", &names, &C, &err) == 0 && C == 3);
    CHECK(names && strcmp(names[1], "dog") == 0);
    dg_names_free(names, C);
    write_file(path_of(c, sizeof c, "classes.txt"), "spam\nham\n\n");
    CHECK(dg_read_class_names(c, &names, &C, &err) == 0 && C == 2);
    CHECK(names && strcmp(names[0], "spam") == 0 && strcmp(names[1], "ham") == 0);
    dg_names_free(names, C);
    CHECK(dg_read_class_names("a,b,a", &names, &C, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "'a'") != NULL);
    CHECK(dg_read_class_names("/nonexistent/classes", &names, &C, &err) == DG_EIO);

    /* labels as names: a given list, or the file's own names sorted */
    write_file(c, "spam\nham\n\nspam\n");
    {
        static const char *const list[3] = {"ham", "eggs", "spam"};

        CHECK(dg_load_labels_named(c, list, 3, &y, NULL, NULL, &err) == 0 && y.n == 4);
        CHECK(y.data && y.data[0] == 2 && y.data[1] == 0 && y.data[2] == -1 && y.data[3] == 2);
        dg_labels_free(&y);
        CHECK(dg_load_labels_named(c, list + 1, 2, &y, NULL, NULL, &err) == DG_EFORMAT);
        CHECK(strstr(err.msg, c) && strstr(err.msg, "line 2") && strstr(err.msg, "'ham'"));
    }
    CHECK(dg_load_labels_named(c, NULL, 0, &y, &names, &C, &err) == 0 && C == 2);
    CHECK(names && strcmp(names[0], "ham") == 0 && y.data[0] == 1 && y.data[1] == 0);
    dg_names_free(names, C);
    dg_labels_free(&y);
    unlink(a);
    unlink(b);
    unlink(c);
    unlink(d);
}

/* ------------------------------------------------------------------------
 * Errors: each names the file, the line (or data row) and the id or class
 */

/* Loads one teacher file with ids "k0".."k3" and the classes x, y. */
static int load_one(const char *path, int allow_missing, dg_error *err)
{
    static const char *const ids[4] = {"k0", "k1", "k2", "k3"};
    static const char *const classes[2] = {"x", "y"};
    dg_align_opts al = dg_align_defaults();
    dg_teachers *t = NULL;
    int rc;

    al.N = 4;
    al.ids = ids;
    al.ids_source = "ids.txt";
    al.classes = classes;
    al.C = 2;
    al.allow_missing = allow_missing;
    rc = dg_teachers_load_aligned(&path, 1, DG_TEACHER_AUTO, &al, &t, err);
    dg_teachers_free(t);
    return rc;
}

static void test_missing_id_is_an_error_naming_file_row_and_id_unless_allowed(void)
{
    char p[256], q[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "miss.csv"), "id,x,y\nk0,1,0\nk1,0,1\nk3,0.5,0.5\n");
    CHECK(load_one(p, 0, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "'k2'") && strstr(err.msg, "row 3") &&
          strstr(err.msg, "ids.txt"));
    CHECK(load_one(p, 1, &err) == 0);
    write_file(path_of(q, sizeof q, "miss.jsonl"), "{\"id\": \"k0\", \"label\": \"x\"}\n");
    CHECK(load_one(q, 0, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, q) && strstr(err.msg, "'k1'") && strstr(err.msg, "row 2"));
    unlink(p);
    unlink(q);
}

static void test_duplicate_id_is_an_error_naming_file_line_and_id(void)
{
    char p[256], q[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "dup.csv"), "id,x,y\nk0,1,0\nk1,0,1\nk0,0.5,0.5\n");
    CHECK(load_one(p, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "line 4") && strstr(err.msg, "'k0'") &&
          strstr(err.msg, "line 2"));
    write_file(path_of(q, sizeof q, "dup.jsonl"),
               "{\"id\": \"k1\", \"probs\": null}\n{\"id\": \"k1\", \"label\": \"y\"}\n");
    CHECK(load_one(q, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, q) && strstr(err.msg, "line 2") && strstr(err.msg, "'k1'"));
    unlink(p);
    unlink(q);
}

static void test_id_not_in_the_data_is_an_error_naming_file_line_and_id(void)
{
    char p[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "extra.csv"), "id,x,y\nk0,1,0\nk9,0,1\n");
    CHECK(load_one(p, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "line 3") && strstr(err.msg, "'k9'") &&
          strstr(err.msg, "ids.txt"));
    unlink(p);
}

static void test_unknown_class_is_an_error_naming_file_line_and_class(void)
{
    char p[256], q[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "unk.csv"), "id,x,y,zebra\nk0,1,0,0\n");
    CHECK(load_one(p, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "line 1") && strstr(err.msg, "'zebra'"));
    write_file(path_of(q, sizeof q, "unk.jsonl"), "{\"id\": \"k0\", \"label\": \"x\"}\n"
               "{\"id\": \"k1\", \"label\": \"zebra\"}\n");
    CHECK(load_one(q, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, q) && strstr(err.msg, "line 2") && strstr(err.msg, "'zebra'"));
    unlink(p);
    unlink(q);
}

static void test_missing_class_is_an_error_naming_file_line_and_class(void)
{
    char p[256], q[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "few.csv"), "y,id\n1,k0\n");
    CHECK(load_one(p, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "line 1") && strstr(err.msg, "'x'"));
    write_file(path_of(q, sizeof q, "few.jsonl"), "{\"id\": \"k0\", \"probs\": {\"x\": 0.5, "
               "\"y\": 0.5}}\n\n{\"id\": \"k2\", \"probs\": {\"y\": 1}}\n");
    CHECK(load_one(q, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, q) && strstr(err.msg, "line 3") && strstr(err.msg, "'x'"));
    unlink(p);
    unlink(q);
}

static void test_partly_empty_csv_row_and_bad_json_are_located_errors(void)
{
    char p[256], q[256];
    dg_error err;

    write_file(path_of(p, sizeof p, "half.csv"), "id,x,y\nk0,1,0\nk1,,1\n");
    CHECK(load_one(p, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "line 3") && strstr(err.msg, "field 2"));
    write_file(path_of(q, sizeof q, "bad.jsonl"), "{\"id\": \"k0\", \"probs\": {\"x\": 1,}}\n");
    CHECK(load_one(q, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, q) && strstr(err.msg, "line 1, byte 31"));
    write_file(q, "{\"id\": \"k0\"}\n");
    CHECK(load_one(q, 1, &err) == DG_EFORMAT);
    CHECK(strstr(err.msg, "line 1") && strstr(err.msg, "\"probs\""));
    unlink(p);
    unlink(q);
}

static void test_keyed_file_without_a_row_count_is_refused(void)
{
    char p[256];
    const char *paths[1] = {path_of(p, sizeof p, "nocount.csv")};
    dg_teachers *t = NULL;
    dg_error err;

    write_file(paths[0], "id,x,y\n0,1,0\n");
    CHECK(dg_teachers_load(paths, 1, DG_TEACHER_AUTO, &t, &err) == DG_EINVAL);
    CHECK(t == NULL && strstr(err.msg, paths[0]) && strstr(err.msg, "row count"));
    unlink(paths[0]);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_shuffled_reordered_and_abstaining_teachers_distil_like_hand_aligned_arrays);
    RUN(test_jsonl_hard_labels_are_one_hot_and_null_abstains);
    RUN(test_named_positional_csv_columns_follow_the_class_list);
    RUN(test_class_names_sort_numerically_only_when_all_are_integers);
    RUN(test_ids_class_lists_and_named_labels_are_read_from_files);
    RUN(test_missing_id_is_an_error_naming_file_row_and_id_unless_allowed);
    RUN(test_duplicate_id_is_an_error_naming_file_line_and_id);
    RUN(test_id_not_in_the_data_is_an_error_naming_file_line_and_id);
    RUN(test_unknown_class_is_an_error_naming_file_line_and_class);
    RUN(test_missing_class_is_an_error_naming_file_line_and_class);
    RUN(test_partly_empty_csv_row_and_bad_json_are_located_errors);
    RUN(test_keyed_file_without_a_row_count_is_refused);
    rmdir(dir);
    return check_summary();
}
