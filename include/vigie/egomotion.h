/*
 * vigie — the camera's own motion: how the picture moved against the scene's view, and the
 * picture carried back into it.
 *
 * A camera on a shaking mast, a pan-tilt-zoom camera an operator moves, a drone: every rule of
 * vigie is drawn on one view of the scene (zones, lines, the ground's calibration) and learns
 * that view (the background model). The estimator measures, frame by frame, the similarity
 * (shift, rotation, zoom) that takes a pixel of the scene's view to where it is in the frame; the
 * pipeline then resamples the frame into the scene's view (vg_warp_affine), so that every stage
 * sees a still camera, or holds the analysis while the camera moves too fast or looks elsewhere.
 * src/vision/egomotion.c has the method; docs/motion.md ("Cameras that move") the measurements.
 */
#ifndef VIGIE_EGOMOTION_H
#define VIGIE_EGOMOTION_H

#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/** camera_motion.mode: fixed, moving (a similarity), drone (a homography), auto (a similarity
 * until a homography explains the picture clearly better, then that). Extended, never renumbered.
 */
enum vg_camera_motion { VG_CAMERA_FIXED = 0, VG_CAMERA_MOVING, VG_CAMERA_DRONE, VG_CAMERA_AUTO };

/** What the estimator made of a frame (vg_ego_result_t.state). Extended, never renumbered. */
typedef enum vg_view_state {
    VG_VIEW_FIXED = 0,   /**< no estimation (a fixed camera): the picture as it came */
    VG_VIEW_STILL,       /**< measured within camera_motion.deadband: the picture as it came */
    VG_VIEW_COMPENSATED, /**< moved, and carried back into the scene's view */
    VG_VIEW_MOVING,      /**< moving too fast, or not measurable, or settling: not analysed */
    VG_VIEW_OFF, /**< steady but too little of the scene's view in the frame: not analysed */
} vg_view_state_t;

/** Options of the "camera_motion" group. */
typedef struct vg_ego_params {
    int mode;              /**< enum vg_camera_motion */
    double deadband;       /**< px: below this the picture is left as it came */
    double min_inliers;    /**< share of measured points that must agree on one motion */
    double min_overlap;    /**< share of the scene's view that must be in the frame */
    double max_speed;      /**< picture widths a second beyond which the camera is moving */
    double settle;         /**< s of steady, measured view before analysis resumes */
    double reference_time; /**< s: time constant of the reference picture's update */
} vg_ego_params_t;

extern const vg_option_group_t vg_ego_option_group;
/** Fill @p with defaults (no strings: nothing to free). */
void vg_ego_params_default(vg_ego_params_t *p);

/** A frame's estimate. */
typedef struct vg_ego_result {
    vg_view_state_t state;
    /** The scene's pixel (x, y) is at (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]) in the
     * frame (pixels of the analysis image; a similarity: m[4] = m[0], m[3] = -m[1]). */
    double m[6];
    int fit;        /**< 1 when this frame's motion was measured and trusted */
    int points;     /**< points measured (textured, off the foreground) */
    double inliers; /**< share of them that agree with m */
    double overlap; /**< share of the scene's view inside the frame */
    double offset;  /**< px: the largest displacement of a corner of the view */
    double speed;   /**< px/s: a corner's over the last half second */
    double since;   /**< scene time the state began */
    /** The same motion as a 3 x 3 homography, row by row (h[8] = 1): the scene's pixel (x, y)
     * is at ((h0 x + h1 y + h2) / w, (h3 x + h4 y + h5) / w), w = h6 x + h7 y + h8. With mode
     * drone only this says it all (m is its top rows). */
    double h[9];
    /** 1 when the motion was fitted as a homography (mode drone, or auto having chosen it). */
    int homography;
} vg_ego_result_t;

typedef struct vg_ego vg_ego_t;

/** An estimator for GRAY8 frames of @w x @h (parameters copied; NULL: the defaults). The
 * first frame it sees is the scene's view. Returns 0, VG_EINVAL or VG_ENOMEM. */
int vg_ego_new(vg_ego_t **out, const vg_ego_params_t *p, int w, int h)
    __attribute__((warn_unused_result));
void vg_ego_free(vg_ego_t **e);
/** Take new parameter values (same mode). */
void vg_ego_set_params(vg_ego_t *e, const vg_ego_params_t *p);

/**
 * Measure @grey (the frame, GRAY8 of the size given, at scene time @t) against the scene's view:
 * fills @r. Slice jobs on @pool (may be NULL). Returns 0 or VG_EINVAL (size or format).
 */
int vg_ego_estimate(vg_ego_t *e, const vg_image_t *grey, double t, vg_ego_result_t *r,
                    vg_pool_t *pool);

/** The foreground found on the last analysed frame (a mask in the scene's view, the frame's
 * size; nonzero: foreground; NULL: none): its pixels are not measured on the next frame. */
void vg_ego_set_foreground(vg_ego_t *e, const vg_image_t *mask);

/**
 * Resample: each pixel (x, y) of @dst takes @src's value at m(x, y) (bilinear); pixels whose
 * source lies outside @src are left as they are. GRAY8 or BGR24, @dst and @src of the same
 * format (sizes may differ). Returns the number of pixels written, or VG_EINVAL.
 */
int64_t vg_warp_affine(vg_image_t *dst, const vg_image_t *src, const double m[6]);

/** Resample through the homography @h (as vg_warp_affine; per pixel, no shift path). */
int64_t vg_warp_perspective(vg_image_t *dst, const vg_image_t *src, const double h[9]);

/** The same homography as @h on a picture @s times smaller (vg_ego_scale's pixel centres). */
void vg_ego_scale_h(double out[9], const double h[9], double s);

/** The largest displacement of the four corners of a @w x @h view under the homography @h. */
double vg_ego_offset_h(const double h[9], int w, int hh);

/** The same motion as @m on a picture @s times smaller (a pixel standing for @s x @s, centres
 * kept: what the chroma planes of 4:2:0 need with @s = 2). */
void vg_ego_scale(double out[6], const double m[6], double s);

/** The largest displacement of the four corners of a @w x @h view under @m, px. */
double vg_ego_offset(const double m[6], int w, int h);

#ifdef __cplusplus
}
#endif
#endif
