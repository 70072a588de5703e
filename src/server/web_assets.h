/* The console's files (web/), embedded in the binary by cmake/embed.cmake. */
#ifndef VG_WEB_ASSETS_H
#define VG_WEB_ASSETS_H

#include <stddef.h>

typedef struct vg_web_file {
    const char *path; /* "/app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} vg_web_file_t;

/* Terminated by an entry whose path is NULL. */
extern const vg_web_file_t vg__web_files[];

#endif
