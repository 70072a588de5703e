/*
 * vigie — crowd movement: a sudden change in how a crowd moves (people breaking into a run, a
 * dispersal from a point, a convergence on one, a group walking against a one-way stream), from
 * the optical flow of the moving foreground compared with what the camera normally sees. The
 * method is described at the top of src/events/crowd.c; the "crowd_movement" stage runs it.
 */
#ifndef VIGIE_CROWD_H
#define VIGIE_CROWD_H

#include <vigie/detect.h>
#include <vigie/flow.h>
#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/queue.h>
#include <vigie/rules.h>
#include <vigie/scene.h>
#include <vigie/track.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "crowd_movement" group (vigie options crowd_movement). */
typedef struct vg_crowd_params {
    double baseline_time, warmup, run_ratio, fast_share, disperse_ratio, divergence, entropy;
    double moving_px, shake_px, min_duration, end_after, cooldown;
    int min_cells;
    double oneway, counter_share;
    double max_body;
} vg_crowd_params_t;

extern const vg_option_group_t vg_crowd_option_group;

typedef struct vg_crowd vg_crowd_t;

/** One frame's input (all borrowed for the call). */
typedef struct vg_crowd_input {
    const vg_frame_t *frame;    /**< the analysis picture, its time, index and input size */
    const vg_image_t *mask;     /**< the motion core's foreground (NULL: nothing is done) */
    const vg_detections_t *det; /**< the detector's results (may be NULL) */
    const vg_tracker_t *tracks; /**< the tracker (may be NULL) */
    vg_pool_t *pool;            /**< slice jobs for the flow (may be NULL) */
} vg_crowd_input_t;

/**
 * A crowd movement detector for @scene (borrowed, must outlive it: the whole picture and each
 * `watch` zone are judged apart) of camera @camera (copied, for messages), with @p (copied).
 * Returns 0 or VG_ENOMEM.
 */
int vg_crowd_new(vg_crowd_t **out, const vg_scene_t *scene, const char *camera,
                 const vg_crowd_params_t *p) __attribute__((warn_unused_result));
/** New option values, kept between frames (what it has learned stays). */
void vg_crowd_set_params(vg_crowd_t *c, const vg_crowd_params_t *p);
/**
 * One frame: starts and ends go to @emit. Returns 1 when it computed this frame's optical flow
 * (vg_crowd_flow), 0 when not (the first frame, a cut, a picture too small), or a negative
 * error (the first error of @emit).
 */
int vg_crowd_update(vg_crowd_t *c, const vg_crowd_input_t *in, vg_emit_fn emit, void *opaque);
/** The optical flow of the last frame vg_crowd_update computed one for (NULL before). */
const vg_flow_t *vg_crowd_flow(const vg_crowd_t *c);
/** End every open event (end of the input). */
int vg_crowd_flush(vg_crowd_t *c, vg_emit_fn emit, void *opaque);
void vg_crowd_free(vg_crowd_t **c);

#ifdef __cplusplus
}
#endif
#endif
