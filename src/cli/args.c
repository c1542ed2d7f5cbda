/* Option parsing and the helpers every subcommand shares: typed option
 * values, error printing, dataset loading and JSON scalars.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("disagree: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_fail(const dg_error *err)
{
    return cli_error("%s", err->msg[0] ? err->msg : "unknown failure");
}

static cli_opt *find(cli_cmd *cmd, const char *name, size_t len)
{
    for (int i = 0; i < cmd->n_opts; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return &cmd->opts[i];
    return NULL;
}

void cli_usage(const cli_cmd *cmd, FILE *fp)
{
    fprintf(fp, "usage: disagree %s [options]\n\n%s\n\noptions:\n", cmd->name, cmd->summary);
    for (int i = 0; i < cmd->n_opts; i++) {
        char left[64];

        snprintf(left, sizeof left, "--%s%s%s", cmd->opts[i].name, cmd->opts[i].arg ? " " : "",
                 cmd->opts[i].arg ? cmd->opts[i].arg : "");
        if (strlen(left) > 28)
            fprintf(fp, "  %s\n  %-28s %s\n", left, "", cmd->opts[i].help);
        else
            fprintf(fp, "  %-28s %s\n", left, cmd->opts[i].help);
    }
    fprintf(fp, "  %-28s %s\n", "--help", "show this help");
}

int cli_parse(cli_cmd *cmd, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq, *name, *value = NULL;
        cli_opt *o;
        size_t len;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(cmd, stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            cli_error("%s: unexpected argument '%s' (options start with --; see disagree %s "
                      "--help)", cmd->name, a, cmd->name);
            return -1;
        }
        name = a + 2;
        eq = strchr(name, '=');
        len = eq ? (size_t)(eq - name) : strlen(name);
        o = find(cmd, name, len);
        if (!o) {
            cli_error("%s: unknown option '--%.*s' (see disagree %s --help)", cmd->name,
                      (int)len, name, cmd->name);
            return -1;
        }
        if (o->value) {
            cli_error("%s: option --%s given twice", cmd->name, o->name);
            return -1;
        }
        if (!o->arg) {
            if (eq) {
                cli_error("%s: option --%s takes no value", cmd->name, o->name);
                return -1;
            }
            o->value = "1";
            continue;
        }
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        if (!value) {
            cli_error("%s: option --%s needs a value (%s)", cmd->name, o->name, o->arg);
            return -1;
        }
        o->value = value;
    }
    return 0;
}

const char *cli_get(const cli_cmd *cmd, const char *name)
{
    for (int i = 0; i < cmd->n_opts; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return cmd->opts[i].value;
    return NULL;
}

int cli_require(const cli_cmd *cmd, const char *name, const char **out)
{
    *out = cli_get(cmd, name);
    if (!*out || !**out)
        return cli_error("%s: --%s is required (see disagree %s --help)", cmd->name, name,
                         cmd->name);
    return 0;
}

int cli_int(const cli_cmd *cmd, const char *name, long lo, long hi, int *out)
{
    const char *s = cli_get(cmd, name);
    char *end;
    long v;

    if (!s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_error("%s: --%s expects an integer in [%ld, %ld], got '%s'", cmd->name,
                         name, lo, hi, s);
    *out = (int)v;
    return 0;
}

int cli_u64(const cli_cmd *cmd, const char *name, uint64_t *out)
{
    const char *s = cli_get(cmd, name);
    char *end;
    unsigned long long v;

    if (!s)
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return cli_error("%s: --%s expects a non-negative integer, got '%s'", cmd->name, name,
                         s);
    *out = v;
    return 0;
}

int cli_double(const cli_cmd *cmd, const char *name, double lo, double hi, double *out)
{
    const char *s = cli_get(cmd, name);
    char *end;
    double v;

    if (!s)
        return 0;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return cli_error("%s: --%s expects a number in [%g, %g], got '%s'", cmd->name, name, lo,
                         hi, s);
    *out = v;
    return 0;
}

int cli_sizes(const char *what, const char *text, int *sizes, int max, int *n)
{
    const char *p = text;

    *n = 0;
    if (!*text || strcmp(text, "0") == 0 || strcmp(text, "none") == 0)
        return 0;
    while (*p) {
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > INT_MAX / 2 || (*end && *end != ','))
            return cli_error("%s: expected layer sizes like 256,128 (each >= 1), got '%s'",
                             what, text);
        if (*n == max)
            return cli_error("%s: at most %d hidden layers, got '%s'", what, max, text);
        sizes[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return cli_error("%s: trailing comma in '%s'", what, text);
    }
    return 0;
}

int cli_split(const char *text, char sep, char ***items, int *n, char **buf)
{
    size_t len = strlen(text);
    int count = 1;
    char *copy = malloc(len + 1), *p;
    char **out;

    if (!copy)
        return cli_error("out of memory");
    memcpy(copy, text, len + 1);
    for (p = copy; *p; p++)
        count += *p == sep;
    out = calloc((size_t)count, sizeof *out);
    if (!out) {
        free(copy);
        return cli_error("out of memory");
    }
    *n = 0;
    p = copy;
    for (;;) {
        char *next = strchr(p, sep);

        if (next)
            *next = '\0';
        out[(*n)++] = p;
        if (!next)
            break;
        p = next + 1;
    }
    *items = out;
    *buf = copy;
    return 0;
}

/* Class names shared by every named-label file this process reads: the
 * first such file (the training labels: every command reads them first)
 * fixes the list in sorted order, and later files (test, pool) map their
 * names onto it, so a class missing from the test set keeps its id. */
static char **named_classes;
static int named_C;
static int named_need_list;

int cli_use_classes(const char *spec, int required)
{
    dg_error err;

    named_need_list = required;
    if (!spec || named_classes)
        return 0;
    if (dg_read_class_names(spec, &named_classes, &named_C, &err) != 0)
        return cli_fail(&err);
    return 0;
}

/* Labels written as class names, one per line: mapped through the shared
 * class list, then joined to the features. Returns 0 or an exit status. */
static int load_named(const char *data, const char *labels, const dg_csv_opts *csv,
                      dg_dataset **out, const dg_error *int_err)
{
    dg_matrix X = {0};
    dg_labels y = {0};
    dg_error err;
    char **names = NULL;
    int C = 0;

    if (!named_classes && named_need_list)
        return cli_error("%s holds class names: pass --classes with the training run's list "
                         "(distill and teach print it) so the ids match the model's", labels);

    if (dg_load_labels_named(labels, (const char *const *)named_classes, named_C, &y,
                             named_classes ? NULL : &names, named_classes ? NULL : &C,
                             &err) != 0)
        return cli_fail(named_classes ? &err : int_err);
    if (!named_classes) {
        named_classes = names;
        named_C = C;
        printf("classes (ids in this order): ");
        for (int c = 0; c < C; c++)
            printf("%s%s", c ? "," : "", names[c]);
        printf("\n");
    }
    if (dg_load_features(data, csv, &X, &err) != 0) {
        dg_labels_free(&y);
        return cli_fail(&err);
    }
    if (X.rows != y.n) {
        cli_error("%s has %lld rows but %s has %lld labels", data, (long long)X.rows, labels,
                  (long long)y.n);
        dg_matrix_free(&X);
        dg_labels_free(&y);
        return 1;
    }
    if (dg_dataset_from_arrays(&X, &y, named_C, out, &err) != 0)
        return cli_fail(&err);
    snprintf((*out)->source, sizeof (*out)->source, "%s", data);
    return 0;
}

int cli_load_dataset(const char *data, const char *labels, const char *label_column,
                     dg_dataset **out)
{
    dg_csv_opts csv = dg_csv_defaults();
    dg_error err;

    csv.label_column = label_column;
    if (dg_dataset_load(data, labels, &csv, out, &err) == 0)
        return 0;
    /* Integer labels failed: a text file of class names is the other form. */
    if (labels && err.code == DG_EFORMAT && !strstr(labels, "-ubyte") &&
        !strstr(labels, ".npy") && access(labels, R_OK) == 0) {
        dg_labels probe = {0};
        dg_error lerr;

        if (dg_load_labels(labels, &probe, &lerr) != 0)
            return load_named(data, labels, &csv, out, &err);
        dg_labels_free(&probe);
    }
    return cli_fail(&err);
}

double cli_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_tty(void)
{
    return isatty(2);
}

void cli_json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

void cli_json_num(FILE *fp, double x)
{
    if (isfinite(x))
        fprintf(fp, "%.6g", x);
    else
        fputs("null", fp);
}

int cli_teacher_format(const char *s, dg_teacher_format *f)
{
    if (!s || strcmp(s, "auto") == 0)
        *f = DG_TEACHER_AUTO;
    else if (strcmp(s, "prob") == 0)
        *f = DG_TEACHER_PROB;
    else if (strcmp(s, "logit") == 0)
        *f = DG_TEACHER_LOGIT;
    else
        return cli_error("--teacher-format expects prob, logit or auto, got '%s'", s);
    return 0;
}

int cli_ensure_dir(const char *dir)
{
    struct stat sb;

    if (stat(dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? 0 : cli_error("%s exists and is not a folder", dir);
    if (mkdir(dir, 0777) != 0)
        return cli_error("%s: cannot create folder: %s", dir, strerror(errno));
    return 0;
}

int cli_load_train_test(const cli_cmd *cmd, dg_dataset **train, dg_dataset **test)
{
    const char *data = cli_get(cmd, "data"), *test_path = cli_get(cmd, "test");
    const char *test_labels = cli_get(cmd, "test-labels");

    if (cli_use_classes(cli_get(cmd, "classes"), 0) ||
        cli_load_dataset(data, cli_get(cmd, "labels"), cli_get(cmd, "label-column"), train))
        return 1;
    if (test_path && cli_load_dataset(test_path, test_labels,
                                      test_labels ? NULL : cli_get(cmd, "label-column"), test))
        return 1;
    if (*test && dg_dataset_cols(*test) != dg_dataset_cols(*train))
        return cli_error("%s: %s has %lld features but %s has %lld", cmd->name, test_path,
                         (long long)dg_dataset_cols(*test), data,
                         (long long)dg_dataset_cols(*train));
    return 0;
}
