/*
 * Troubleshooting output: one process-wide sink, set by the program before threads start and
 * only read afterwards (so no lock), and thin calls that forward to it.
 */
#include <stdarg.h>
#include <stdio.h>

#include <vigie/debug.h>

static vg_debug_sink_t sink;
static int has_sink;

void vg_debug_set_sink(const vg_debug_sink_t *s)
{
    has_sink = s != NULL;
    if (s) sink = *s;
}

int vg_debug_want(const char *component, int64_t frame)
{
    if (!has_sink) return 0;
    return sink.want ? sink.want(sink.opaque, component, frame) : 1;
}

void vg_debug_picture(const char *component, int64_t frame, const vg_image_t *img)
{
    if (has_sink && sink.picture) sink.picture(sink.opaque, component, frame, img);
}

void vg_debug_text(const char *component, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!has_sink || !sink.text) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sink.text(sink.opaque, component, line);
}
