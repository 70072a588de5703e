/*
 * vigie — optical flow: pyramidal Lucas–Kanade on a grid of patches, in the manner of DIS
 * (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016) without its
 * densification weights or variational refinement: for crowd statistics (speed, spread,
 * divergence, direction) a grid of vectors is what is used, and a dense field comes from it by
 * bilinear interpolation. src/vision/flow.c has the method; docs/flow.md the measurements.
 *
 * Deterministic: every grid point is computed alone, so the result does not depend on the number
 * of slice jobs.
 */
#ifndef VIGIE_FLOW_H
#define VIGIE_FLOW_H

#include <stddef.h>

#include <vigie/frame.h>
#include <vigie/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_flow_params {
    int finest;     /**< finest pyramid level computed (0: full size, 2: a quarter) */
    int patch;      /**< patch side, pixels of its level (even, 4..32) */
    int stride;     /**< grid step, pixels of its level */
    int iterations; /**< Gauss-Newton steps per patch and level */
    int min_side;   /**< the coarsest level is the last whose smaller side is >= this */
} vg_flow_params_t;

/** finest 2, patch 8, stride 4, 5 iterations, coarsest side >= 16. */
extern const vg_flow_params_t vg_flow_default_params;

typedef struct vg_flow vg_flow_t;

/**
 * A flow estimator for GRAY8 pictures of @w x @h (copied parameters; NULL for the defaults).
 * Returns 0, VG_EINVAL (size < 16 or bad parameters) or VG_ENOMEM.
 */
int vg_flow_new(vg_flow_t **out, const vg_flow_params_t *p, int w, int h)
    __attribute__((warn_unused_result));
void vg_flow_free(vg_flow_t **f);

/**
 * The flow from @a to @b (GRAY8, the size given to vg_flow_new; borrowed): where each grid point
 * of @a went in @b. Slice jobs on @pool (may be NULL). Returns 0 or VG_EINVAL (size or format).
 */
int vg_flow_run(vg_flow_t *f, const vg_image_t *a, const vg_image_t *b, vg_pool_t *pool);

/**
 * For a stream of pictures: the flow from the picture given last (to vg_flow_next, or as
 * vg_flow_run's @b) to @b, whose pyramid is then kept for the next call, so that each picture's
 * is made once. Returns 1 with the flow computed, 0 when there was no last picture (the first
 * call, or the first after vg_flow_reset: @b is kept, nothing computed), or VG_EINVAL.
 *
 * @want (may be NULL: every point), gw x gh bytes over the grid of vg_flow_grid: the finest
 * level is searched only at the points where it is non-zero; the others keep the coarser
 * level's vector carried down (where their search would start). A point whose eight
 * neighbours and itself are all wanted gets exactly the vector it would get with @want NULL
 * (the 3x3 median sees only searched points): a caller that wants the flow where things move
 * marks those points and the points around them.
 */
int vg_flow_next(vg_flow_t *f, const vg_image_t *b, const uint8_t *want, vg_pool_t *pool);

/** Forget the last picture (a cut in the stream): the next vg_flow_next computes nothing. */
void vg_flow_reset(vg_flow_t *f);

/**
 * The grid of the last run: *gw x *gh vectors (dx, dy), in pixels of the full-size picture, row
 * by row; grid point (i, j) stands at ((i + 0.5) * *step, (j + 0.5) * *step) full-size pixels.
 */
const float *vg_flow_grid(const vg_flow_t *f, int *gw, int *gh, double *step);

/** The last run's flow at every full-size pixel (2 floats each; @stride floats a row). */
void vg_flow_dense(const vg_flow_t *f, float *out, ptrdiff_t stride);

#ifdef __cplusplus
}
#endif
#endif
