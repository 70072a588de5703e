/*
 * vigie — axis-aligned boxes (core): intersection, IoU, overlap of the smaller box, gap, point
 * inside. A box is double[4] = {x, y, w, h} (the tracker's, the rules', the abandoned-object
 * candidates'); vg_boxf_* take float[4] for the detector's own arithmetic (its NMS runs in
 * float). Every function is pure: any thread.
 */
#ifndef VIGIE_BOX_H
#define VIGIE_BOX_H

#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Area of the intersection of @a and @b (0 when they do not overlap). */
static inline double vg_box_inter(const double *a, const double *b)
{
    double x0 = fmax(a[0], b[0]), y0 = fmax(a[1], b[1]);
    double x1 = fmin(a[0] + a[2], b[0] + b[2]), y1 = fmin(a[1] + a[3], b[1] + b[3]);
    return x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
}

/** Intersection over union (0 for two empty boxes). */
static inline double vg_box_iou(const double *a, const double *b)
{
    double in = vg_box_inter(a, b), uni = a[2] * a[3] + b[2] * b[3] - in;
    return uni > 0 ? in / uni : 0;
}

/** Intersection over the smaller box's area (0 when either is empty). */
static inline double vg_box_overlap_small(const double *a, const double *b)
{
    double m = fmin(a[2] * a[3], b[2] * b[3]);
    return m > 0 ? vg_box_inter(a, b) / m : 0;
}

/** Distance between the boxes' edges (0 when they overlap or touch). */
static inline double vg_box_gap(const double *a, const double *b)
{
    double dx = fmax(0, fmax(a[0] - (b[0] + b[2]), b[0] - (a[0] + a[2])));
    double dy = fmax(0, fmax(a[1] - (b[1] + b[3]), b[1] - (a[1] + a[3])));
    return hypot(dx, dy);
}

/** The smallest box holding @a and @b, into @out (which may be either). */
static inline void vg_box_union(const double *a, const double *b, double *out)
{
    double x0 = fmin(a[0], b[0]), y0 = fmin(a[1], b[1]);
    double x1 = fmax(a[0] + a[2], b[0] + b[2]), y1 = fmax(a[1] + a[3], b[1] + b[3]);
    out[0] = x0, out[1] = y0, out[2] = x1 - x0, out[3] = y1 - y0;
}

/** 1 if (x, y) lies in @r (edges included) and @r is not empty. */
static inline int vg_box_contains(const double *r, double x, double y)
{
    return r[2] > 0 && x >= r[0] && y >= r[1] && x <= r[0] + r[2] && y <= r[1] + r[3];
}

/** Intersection over union in float arithmetic. */
static inline float vg_boxf_iou(const float *a, const float *b)
{
    float x0 = fmaxf(a[0], b[0]), y0 = fmaxf(a[1], b[1]);
    float x1 = fminf(a[0] + a[2], b[0] + b[2]), y1 = fminf(a[1] + a[3], b[1] + b[3]);
    float in = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
    float uni = a[2] * a[3] + b[2] * b[3] - in;
    return uni > 0 ? in / uni : 0;
}

#ifdef __cplusplus
}
#endif
#endif
