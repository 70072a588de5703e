/* The monotonic clock and the helpers that accept NULL for it. */
#include <time.h>

#include <vigie/clock.h>

static double mono_now(void *opaque)
{
    struct timespec ts;
    (void)opaque;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void mono_sleep(void *opaque, double seconds)
{
    struct timespec ts;
    (void)opaque;
    if (seconds <= 0) return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const vg_clock_t monotonic = {mono_now, mono_sleep, NULL};

const vg_clock_t *vg_clock_monotonic(void)
{
    return &monotonic;
}

double vg_clock_now(const vg_clock_t *c)
{
    if (!c) c = &monotonic;
    return c->now(c->opaque);
}

void vg_clock_sleep(const vg_clock_t *c, double seconds)
{
    if (!c) c = &monotonic;
    if (c->sleep)
        c->sleep(c->opaque, seconds);
    else
        mono_sleep(NULL, seconds);
}
