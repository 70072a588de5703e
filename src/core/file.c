/*
 * Reading a whole file: the one copy every loader uses (scene, server config, models, evidence).
 * The buffer doubles as it fills, up to the caller's limit, so that a file of unknown size (a
 * pipe) reads as well as a regular one; errno is kept for the caller's message.
 */
#include <errno.h>
#include <stdio.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/mem.h>

int vg_file_read(const char *path, size_t limit, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    if (!f) return errno == EACCES ? VG_EACCES : VG_ENOENT;
    for (;;) {
        if (cap - n < 4096 && cap < limit + 2) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > limit + 2) ncap = limit + 2; /* room for one byte too many and the NUL */
            uint8_t *nb = vg_realloc(buf, ncap);
            if (!nb) {
                ret = VG_ENOMEM;
                break;
            }
            buf = nb, cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > limit) {
            ret = VG_ERANGE;
            break;
        }
        if (!got) break;
    }
    if (!ret && ferror(f)) ret = VG_EIO;
    int saved = errno;
    fclose(f);
    errno = saved;
    if (ret < 0) {
        vg_free(buf);
        return ret;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}
