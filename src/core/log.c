/*
 * Logging: a process-wide sink and level (set by the program at start), and vg_log() which
 * formats into a stack buffer and hands the text to the sink. The sink pointer is read under a
 * mutex so that a program may swap it while threads log (tests do). Each thread may name the
 * camera it works for (thread-local), which sinks may keep in a field.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <vigie/log.h>

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_log_sink_fn sink_fn;
static void *sink_opaque;
static atomic_int log_level = VG_LOG_INFO;

static const char *const level_names[] = {"error", "warning", "info", "verbose", "debug"};

const char *vg_log_level_name(int level)
{
    if (level < 0 || level > VG_LOG_DEBUG) return "quiet";
    return level_names[level];
}

void vg_log_set_sink(vg_log_sink_fn sink, void *opaque)
{
    pthread_mutex_lock(&sink_lock);
    sink_fn = sink;
    sink_opaque = opaque;
    pthread_mutex_unlock(&sink_lock);
}

void vg_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int vg_log_get_level(void)
{
    return atomic_load(&log_level);
}

static _Thread_local char thread_camera[64];

void vg_log_set_camera(const char *camera)
{
    snprintf(thread_camera, sizeof(thread_camera), "%s", camera ? camera : "");
}

const char *vg_log_camera(void)
{
    return thread_camera[0] ? thread_camera : NULL;
}

void vg_vlog(const char *component, int level, const char *fmt, va_list ap)
{
    char msg[2048];

    if (level > atomic_load(&log_level)) return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    pthread_mutex_lock(&sink_lock);
    if (sink_fn)
        sink_fn(sink_opaque, level, component, msg);
    else if (component)
        fprintf(stderr, "vigie: %s: %s: %s\n", component, vg_log_level_name(level), msg);
    else
        fprintf(stderr, "vigie: %s: %s\n", vg_log_level_name(level), msg);
    pthread_mutex_unlock(&sink_lock);
}

void vg_log(const char *component, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_vlog(component, level, fmt, ap);
    va_end(ap);
}
