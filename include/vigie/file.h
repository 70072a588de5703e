/*
 * vigie — reading a whole file (core): scene and config files, models, evidence pictures.
 */
#ifndef VIGIE_FILE_H
#define VIGIE_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Read the file at @path whole into a new buffer *@data (vg_free it) of *@len bytes, with a NUL
 * after the last byte (so text can be read as a string). Reads in chunks: pipes and special
 * files work too. Returns 0; VG_ENOENT or VG_EACCES when it cannot be opened (errno tells
 * why); VG_ERANGE when it holds more than @limit bytes; VG_EIO on a read error; VG_ENOMEM.
 * Nothing is allocated on failure. Any thread.
 */
int vg_file_read(const char *path, size_t limit, uint8_t **data, size_t *len)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
