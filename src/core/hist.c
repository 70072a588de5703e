/*
 * Time histograms (include/vigie/hist.h): a bucket found by a short linear scan (14 bounds; the
 * common values, a few milliseconds, are found in the first few).
 */
#include <vigie/hist.h>

const double vg_hist_le[VG_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void vg_hist_add(vg_hist_t *h, double seconds)
{
    int i = 0;
    while (i < VG_HIST_BUCKETS && seconds > vg_hist_le[i]) i++;
    if (i < VG_HIST_BUCKETS) h->bucket[i]++;
    h->count++;
    h->sum += seconds;
}

void vg_hist_merge(vg_hist_t *a, const vg_hist_t *b)
{
    for (int i = 0; i < VG_HIST_BUCKETS; i++) a->bucket[i] += b->bucket[i];
    a->count += b->count;
    a->sum += b->sum;
}
