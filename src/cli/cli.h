/* Shared pieces of the command-line tool: option parsing, reading the
 * common inputs, printing errors, JSON output, and the subcommands.
 */
#ifndef DG_CLI_H
#define DG_CLI_H

#include "disagree.h"

#include <stdio.h>

/* One option of a subcommand. `value` is set by cli_parse (flags get "1"). */
typedef struct cli_opt {
    const char *name;   /* without the leading "--" */
    const char *arg;    /* placeholder shown in help, NULL for a flag */
    const char *help;
    const char *value;
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    cli_opt *opts;
    int n_opts;
} cli_cmd;

/* Parses argv[0..argc) as "--name value", "--name=value" or "--flag".
 * Returns 0, 1 when --help was asked (help printed), or -1 after printing
 * an error (unknown, duplicate or valueless option, stray argument). */
int cli_parse(cli_cmd *cmd, int argc, char **argv);
const char *cli_get(const cli_cmd *cmd, const char *name);
void cli_usage(const cli_cmd *cmd, FILE *fp);

/* Prints "disagree: error: <message>" to stderr; returns 1 (the exit code). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const dg_error *err);
/* Errors for a missing required option. */
int cli_require(const cli_cmd *cmd, const char *name, const char **out);

/* Typed option values: 0 on success (or when absent: *out keeps its
 * default), else an error is printed and 1 returned. */
int cli_int(const cli_cmd *cmd, const char *name, long lo, long hi, int *out);
int cli_u64(const cli_cmd *cmd, const char *name, uint64_t *out);
int cli_double(const cli_cmd *cmd, const char *name, double lo, double hi, double *out);
/* "256,128" -> sizes; "" or "0" -> no hidden layer. */
int cli_sizes(const char *what, const char *text, int *sizes, int max, int *n);
/* Splits text at each sep into *n pointers (*items, caller frees) into a
 * copy of text (*buf, caller frees). */
int cli_split(const char *text, char sep, char ***items, int *n, char **buf);

/* The training set from --data/--labels/--label-column (and --classes)
 * and, with --test, the test set from --test/--test-labels (or the same
 * label column), checked to have the same width. *test stays NULL without
 * --test. Returns 0 or 1 after printing the error. */
int cli_load_train_test(const cli_cmd *cmd, dg_dataset **train, dg_dataset **test);
/* Class names for label files that spell classes by name: spec is a file
 * or "a,b,c" (NULL: the first named file read fixes the sorted list).
 * With required set, a named label file without a list is an error (eval
 * and predict must use the training run's ids). Returns 0 or 1. */
int cli_use_classes(const char *spec, int required);
/* Reads features (+ labels from a file or a CSV label column; labels may be
 * integers or class names, see cli_use_classes). */
int cli_load_dataset(const char *data, const char *labels, const char *label_column,
                     dg_dataset **out);

/* Parses a --teacher-format value (NULL: auto) into *f; returns 0, or 1
 * after an error naming the value. */
int cli_teacher_format(const char *s, dg_teacher_format *f);

/* Creates the folder dir unless it exists; an error (returns 1) when it
 * cannot be made or a file of that name is in the way. */
int cli_ensure_dir(const char *dir);
/* Wall clock in seconds. */
double cli_now(void);
/* Whether stderr is a terminal (progress bars only then). */
int cli_tty(void);

/* JSON output through an atomic file. */
void cli_json_str(FILE *fp, const char *s);
void cli_json_num(FILE *fp, double x);

/* A committee to train: members differ in architecture (cycling through
 * `arch`, "256/128/256,128": one hidden-size list per member, separated by
 * '/'), seed, and bootstrap sample; one member may get noisy labels. */
typedef struct teach_spec {
    int members, epochs, batch, threads, bootstrap;
    double lr;
    uint64_t seed;
    const char *arch;
    int noisy_member; /* -1: none */
    double noise;     /* fraction of that member's training labels flipped */
    int resume;       /* keep finished members, continue one from DIR/tK.ckpt */
} teach_spec;

/* One trained member's figures. */
typedef struct teach_result {
    char hidden[64];
    int64_t params;
    double test_acc, seconds;
} teach_result;

/* Trains every member, writing DIR/tK.dgm, DIR/tK.train.npy and (with a
 * test set) DIR/tK.test.npy; fills results[members]. Each member
 * checkpoints every epoch to DIR/tK.ckpt (removed when it finishes); with
 * spec->resume, members whose files are all there are kept and the one in
 * progress continues from its checkpoint. Prints nothing but errors.
 * Returns 0 or an exit status. */
int cli_teach_run(const dg_dataset *train, const dg_dataset *test, const teach_spec *spec,
                  const char *dir, teach_result *results);

/* Subcommands: each returns the process exit status. */
int cmd_teach(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_text(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_estimate(int argc, char **argv);

/* One learning curve to plot: n points of labels and the mean, lowest and
 * highest accuracy over repetitions. */
typedef struct cli_curve {
    const char *name;
    int n;
    const int64_t *labels;
    const double *mean, *lo, *hi;
} cli_curve;

/* Writes the curves as an SVG (atomically) with a dashed line at the
 * reference accuracy and at 98% of it (none when reference is NaN).
 * Returns 0 or 1 after printing an error. */
int cli_curves_svg(const char *path, const char *title, const cli_curve *curves, int n,
                   double reference);
/* Writes s with the XML special characters escaped. */
void cli_xml_text(FILE *fp, const char *s);

#endif
