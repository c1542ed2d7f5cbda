/* Atomic output: write to a temporary beside the target, fsync, rename.
 * Readers of `path` see either the old file or the complete new one, and
 * writing `path` again clears the temporaries of runs killed meanwhile.
 */
#include "core/internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Removes temporaries of `path` ("path.tmp.PID") left by a process that
 * no longer exists, e.g. a run killed before its rename; a PID that is
 * alive (perhaps reused) keeps its file. Best effort: errors are ignored. */
static void remove_stale(const char *path)
{
    char dir[4096], stale[4096 + 256];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    struct dirent *e;
    DIR *d;

    if (slash && (size_t)(slash - path) >= sizeof dir)
        return;
    if (slash) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (!dir[0])
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        const char *tail = e->d_name + base_len;
        char *end;
        long pid;

        if (strncmp(e->d_name, base, base_len) != 0 || strncmp(tail, ".tmp.", 5) != 0)
            continue;
        errno = 0;
        pid = strtol(tail + 5, &end, 10);
        if (errno || *end || end == tail + 5 || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
        remove(stale);
    }
    closedir(d);
}

int dg__out_open(dg__outfile *o, const char *path, dg_error *err)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path)
        return dg__fail(err, DG_EINVAL, "%s: path too long", path);
    strcpy(o->path, path);
    remove_stale(path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    o->fp = fopen(o->tmp, "wb");
    if (!o->fp)
        return dg__fail(err, DG_EIO, "%s: cannot create file: %s", path, strerror(errno));
    return 0;
}

int dg__out_commit(dg__outfile *o, dg_error *err)
{
    int failed = 0;
    int saved = 0;

    if (fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0)
        failed = 1, saved = errno;
    if (fclose(o->fp) != 0 && !failed)
        failed = 1, saved = errno;
    o->fp = NULL;
    if (!failed && rename(o->tmp, o->path) != 0)
        failed = 1, saved = errno;
    if (failed) {
        remove(o->tmp);
        return dg__fail(err, DG_EIO, "%s: cannot write file: %s", o->path,
                        strerror(saved ? saved : EIO));
    }
    return 0;
}

void dg__out_abort(dg__outfile *o)
{
    if (o->fp) {
        fclose(o->fp);
        o->fp = NULL;
    }
    if (o->tmp[0])
        remove(o->tmp);
}
