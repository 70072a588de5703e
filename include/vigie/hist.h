/*
 * vigie — time histograms: fixed buckets, cheap to fill on a hot path, read as Prometheus
 * histograms (vigie serve's GET /metrics).
 *
 * The bucket bounds are the same for every histogram (seconds, from half a millisecond to ten
 * seconds), so that histograms of different cameras and stages add up and compare. Buckets are
 * kept per bucket (not cumulative): bucket[i] counts values in (le[i-1], le[i]]; values above
 * the last bound are only in count. The owner serialises vg_hist_add with its readers.
 */
#ifndef VIGIE_HIST_H
#define VIGIE_HIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VG_HIST_BUCKETS 14

/** The upper bounds of the buckets, seconds. */
extern const double vg_hist_le[VG_HIST_BUCKETS];

typedef struct vg_hist {
    int64_t bucket[VG_HIST_BUCKETS];
    int64_t count;
    double sum;
} vg_hist_t;

/** Count @seconds in @h. */
void vg_hist_add(vg_hist_t *h, double seconds);
/** Add @b's counts into @a. */
void vg_hist_merge(vg_hist_t *a, const vg_hist_t *b);

#ifdef __cplusplus
}
#endif
#endif
