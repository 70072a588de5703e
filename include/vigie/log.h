/*
 * vigie — logging.
 *
 * Library code never prints: it calls vg_log(), and the program decides where messages go by
 * installing a sink with vg_log_set_sink(). The sink and the level are process-wide settings
 * (like av_log_set_callback), set once by the program before it starts threads; vg_log() itself
 * is thread-safe and may be called from any thread.
 */
#ifndef VIGIE_LOG_H
#define VIGIE_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vg_log_level {
    VG_LOG_QUIET = -1,
    VG_LOG_ERROR = 0,
    VG_LOG_WARNING = 1,
    VG_LOG_INFO = 2,
    VG_LOG_VERBOSE = 3,
    VG_LOG_DEBUG = 4,
};

/**
 * A sink receives one formatted message (no trailing newline) with the level and the name of
 * the component that logged it ("input", "scene", ...; may be NULL). Called from whichever
 * thread logged; it must be thread-safe.
 */
typedef void (*vg_log_sink_fn)(void *opaque, int level, const char *component, const char *msg);

/** Install the sink (NULL restores the default, which writes to stderr). */
void vg_log_set_sink(vg_log_sink_fn sink, void *opaque);

/** Messages above this level are dropped before formatting. Default VG_LOG_INFO. */
void vg_log_set_level(int level);
int vg_log_get_level(void);

/** Log a message for @component (may be NULL). Thread-safe. */
void vg_log(const char *component, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vg_vlog(const char *component, int level, const char *fmt, va_list ap);

/** Name for a level ("error", "warning", ...). */
const char *vg_log_level_name(int level);

/**
 * The camera the calling thread works for (copied, at most 63 characters; NULL: none), for sinks
 * that keep it in a field of its own (vigie serve's journal sink: VIGIE_CAMERA). A camera's
 * threads set it as they start; threads shared by cameras leave it unset.
 */
void vg_log_set_camera(const char *camera);
/** The calling thread's camera, or NULL. */
const char *vg_log_camera(void);

#ifdef __cplusplus
}
#endif
#endif
