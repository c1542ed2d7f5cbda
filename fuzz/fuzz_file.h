/* Shared by the fuzz targets: the readers take paths, so every input is
 * written over one temporary file per suffix, made once per process in
 * /tmp with mkstemps and removed at exit.
 */
#ifndef DG_FUZZ_FILE_H
#define DG_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 4

static struct {
    char path[64];
    int fd;
} fuzz_files[FUZZ_MAX_FILES];
static int fuzz_n_files;

static void fuzz_remove_files(void)
{
    for (int i = 0; i < fuzz_n_files; i++) {
        close(fuzz_files[i].fd);
        unlink(fuzz_files[i].path);
    }
}

/* Writes data[0..size) as the whole content of this process's temporary
 * file ending in `suffix` and returns its path; aborts when /tmp fails,
 * since a target that cannot write its input tests nothing. */
static const char *fuzz_file(const char *suffix, const uint8_t *data, size_t size)
{
    int i;

    for (i = 0; i < fuzz_n_files; i++)
        if (strcmp(fuzz_files[i].path + strlen(fuzz_files[i].path) - strlen(suffix), suffix) == 0)
            break;
    if (i == fuzz_n_files) {
        if (i == FUZZ_MAX_FILES)
            abort();
        snprintf(fuzz_files[i].path, sizeof fuzz_files[i].path, "/tmp/dgfuzz.XXXXXX%s", suffix);
        fuzz_files[i].fd = mkstemps(fuzz_files[i].path, (int)strlen(suffix));
        if (fuzz_files[i].fd < 0)
            abort();
        if (fuzz_n_files++ == 0)
            atexit(fuzz_remove_files);
    }
    if (ftruncate(fuzz_files[i].fd, 0) != 0 ||
        (size > 0 && pwrite(fuzz_files[i].fd, data, size, 0) != (ssize_t)size))
        abort();
    return fuzz_files[i].path;
}

#endif
