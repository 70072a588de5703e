/*
 * vigie — injectable clock.
 *
 * Wall-time decisions inside the engine (stall deadlines, reconnection backoff, progress rate)
 * read the time through a vg_clock_t so that tests can drive time by hand. Scene time is always
 * the frames' presentation time, never a clock.
 */
#ifndef VIGIE_CLOCK_H
#define VIGIE_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_clock {
    /** Seconds on a monotonic scale. Must be thread-safe. */
    double (*now)(void *opaque);
    /** Wait for @seconds (or less if woken); may be NULL, then a real sleep is used. */
    void (*sleep)(void *opaque, double seconds);
    void *opaque;
} vg_clock_t;

/** The system's monotonic clock (CLOCK_MONOTONIC) with real sleeps. */
const vg_clock_t *vg_clock_monotonic(void);

/** Read @clock (NULL means the monotonic clock). */
double vg_clock_now(const vg_clock_t *clock);
/** Sleep on @clock (NULL means the monotonic clock). */
void vg_clock_sleep(const vg_clock_t *clock, double seconds);

#ifdef __cplusplus
}
#endif
#endif
