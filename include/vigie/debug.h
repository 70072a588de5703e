/*
 * vigie — troubleshooting output (core): pictures and measures an analyser can show while it is
 * being tuned (the abandoned-object candidates, say), sent to a sink the program installs, like
 * the log's. The library never reads the environment or writes debugging files itself; with no
 * sink installed nothing is made (vg_debug_want says 0, and costs a load).
 *
 * Threads: the sink is set once by the program before it starts threads; its callbacks may be
 * called from any analysis thread at once and must be thread-safe.
 */
#ifndef VIGIE_DEBUG_H
#define VIGIE_DEBUG_H

#include <stdint.h>

#include <vigie/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_debug_sink {
    /** 1 if the program wants @component's output for frame @frame. May be NULL: always. */
    int (*want)(void *opaque, const char *component, int64_t frame);
    /** A picture of frame @frame (borrowed, valid for the call only). May be NULL. */
    void (*picture)(void *opaque, const char *component, int64_t frame, const vg_image_t *img);
    /** One line of measures (no newline). May be NULL. */
    void (*text)(void *opaque, const char *component, const char *line);
    void *opaque;
} vg_debug_sink_t;

/** Install @sink (copied; NULL: none). Call once, before any analysis thread starts. */
void vg_debug_set_sink(const vg_debug_sink_t *sink);
/** 1 if a sink is installed and wants @component's output for @frame. Any thread. */
int vg_debug_want(const char *component, int64_t frame);
/** Hand @img to the sink's picture callback, if any. Any thread. */
void vg_debug_picture(const char *component, int64_t frame, const vg_image_t *img);
/** Format one line and hand it to the sink's text callback, if any. Any thread. */
void vg_debug_text(const char *component, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
