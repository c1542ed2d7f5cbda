/* The disagree command: dispatches to one file per subcommand. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"teach", cmd_teach, "train a committee of differing teachers and write their outputs"},
    {"distill", cmd_distill, "distil one student from labels and the teachers' outputs"},
    {"eval", cmd_eval, "score a model: accuracy, macro-F1, log-loss, ECE, confusion"},
    {"predict", cmd_predict, "write a model's class probabilities"},
    {"demo", cmd_demo, "the whole job on Fashion-MNIST, with one summary table"},
    {"query", cmd_query, "pick the next rows to label, with every model's prediction"},
    {"simulate", cmd_simulate, "simulate active learning with gold labels: curves and cost"},
    {"estimate", cmd_estimate, "estimate active learning's saving from the committee's vote"},
    {"text", cmd_text, "raw text: teach on four views, distil a sparse student, eval"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "disagree %s: distil disagreeing teachers into one small student\n\n"
                "usage: disagree COMMAND [options]   (disagree COMMAND --help for options)\n\n",
            DG_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("disagree %s\n", DG_VERSION);
        return 0;
    }
    dg_log_configure(DG_LOG_WARN, NULL, NULL);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "disagree: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
