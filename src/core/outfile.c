/* Atomic output: write to a temporary beside the target, fsync, rename.
 * Readers of `path` see either the old file or the complete new one.
 */
#include "core/internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int dg__out_open(dg__outfile *o, const char *path, dg_error *err)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path)
        return dg__fail(err, DG_EINVAL, "%s: path too long", path);
    strcpy(o->path, path);
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
