/* The one logger: library code reports through dg__log, which is silent
 * until the caller (the CLI, or an embedding program) configures a level.
 */
#include "core/internal.h"

#include <stdio.h>

static dg_log_level log_level = DG_LOG_QUIET;
static dg_log_sink log_sink = NULL;
static void *log_user = NULL;

void dg_log_configure(dg_log_level level, dg_log_sink sink, void *user)
{
    log_level = level;
    log_sink = sink;
    log_user = user;
}

void dg__log(dg_log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"", "error", "warning", "info", "debug"};
    char msg[1024];
    va_list ap;

    if (level == DG_LOG_QUIET || level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_sink)
        log_sink(level, msg, log_user);
    else
        fprintf(stderr, "disagree: %s: %s\n", prefix[level], msg);
}
