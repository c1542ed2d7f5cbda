/* The disagree command: dispatches to one file per subcommand. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("disagree %s\n", DG_VERSION);
    return 0;
}
