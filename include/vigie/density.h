/*
 * vigie — density: how many people a zone holds, in persons per square metre, and the `density`
 * event when that passes the zone's threshold (a warning from 4 p/m², an alert from 5), with the
 * zone's count series. The method is described at the top of src/events/density.c; the
 * "density" stage runs it.
 */
#ifndef VIGIE_DENSITY_H
#define VIGIE_DENSITY_H

#include <vigie/detect.h>
#include <vigie/event.h>
#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/rules.h>
#include <vigie/scene.h>
#include <vigie/track.h>
#include <vigie/vision.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "density" group (vigie options density); a zone's own settings override them. */
typedef struct vg_density_params {
    double warn, alert, hysteresis, min_duration, end_after, cooldown, smooth, interval;
    double person_area, person_score, coverage_max, texture;
} vg_density_params_t;

extern const vg_option_group_t vg_density_option_group;

typedef struct vg_density vg_density_t;

/** Where count samples go (the camera is the caller's to stamp). */
typedef int (*vg_count_fn)(void *opaque, vg_count_t *c);

/** One frame's input (all borrowed for the call). */
typedef struct vg_density_input {
    const vg_frame_t *frame;    /**< the analysis picture, its time, index and input size */
    const vg_image_t *mask;     /**< the motion core's foreground (NULL: nothing is done) */
    const vg_bgs_t *bgs;        /**< its background model, for density.texture (may be NULL) */
    const vg_detections_t *det; /**< the detector's results (may be NULL) */
    const vg_tracker_t *tracks; /**< the tracker (may be NULL) */
} vg_density_input_t;

/**
 * A density estimator for @scene (borrowed, must outlive it: each `watch` zone, else the whole
 * picture) of camera @camera (copied, for messages), with @p (copied). 0 or VG_ENOMEM.
 */
int vg_density_new(vg_density_t **out, const vg_scene_t *scene, const char *camera,
                   const vg_density_params_t *p) __attribute__((warn_unused_result));
/**
 * New option values (each zone's own settings applied over them again), kept between frames.
 * VG_EINVAL with a message in @err when a zone's settings do not apply (nothing changes).
 */
int vg_density_set_params(vg_density_t *d, const vg_density_params_t *p, char *err, size_t errlen);
/**
 * One frame: event records go to @emit, count samples (every density.interval seconds per
 * subject) to @count (may be NULL). 0, or a negative error (the first of a sink; VG_EINVAL for a
 * frame of another size, or a zone whose settings do not apply).
 */
int vg_density_update(vg_density_t *d, const vg_density_input_t *in, vg_emit_fn emit,
                      vg_count_fn count, void *opaque);
/** End every open event (end of the input). */
int vg_density_flush(vg_density_t *d, vg_emit_fn emit, void *opaque);
void vg_density_free(vg_density_t **d);

#ifdef __cplusplus
}
#endif
#endif
