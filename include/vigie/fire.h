/*
 * A fire start (decree 2023-828 art. 3, item 8): the `fire` event, of kind `flame` or `smoke`.
 *
 * A classical detector whose every cue can be told to an operator: moving regions of flame
 * colour, followed frame by frame at the full analysis rate, that flicker broadband with an
 * outline changing shape every frame, stay where they are, and are no part of a person or a
 * vehicle the detector saw. A beacon or a blinking sign (whole-region on/off switching at one
 * frequency), a steady sign or window (no change), orange clothing or a car's lights (moving
 * with their carrier) are not fire. Smoke: a grey veil hiding a textured background's edges,
 * swirling in place, on nobody (src/events/smoke.c). Method and figures: src/events/fire.c,
 * docs/evaluation.md.
 */
#ifndef VIGIE_FIRE_H
#define VIGIE_FIRE_H

#include <stdint.h>

#include <vigie/frame.h>
#include <vigie/image.h>
#include <vigie/opt.h>
#include <vigie/rules.h>
#include <vigie/scene.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "fire" group. */
typedef struct vg_fire_params {
    double min_duration; /**< s the cues must agree before the event */
    double window;       /**< s of history the flicker and shape cues are measured over */
    double min_size;     /**< input pixels: the side of the smallest flame seen */
    double flicker_min;  /**< share of a region's outline changing from frame to frame */
    double peak_max;     /**< the largest share of the flicker energy one frequency may hold */
    double end_after;    /**< s with no flame at the place before the event ends */
    double min_rate;     /**< frames per second the flicker needs: slower inputs are refused */
    /* smoke (src/events/smoke.c) */
    int smoke;                 /**< also watch for smoke (kind `smoke`) */
    double smoke_window;       /**< s of history its cues are measured over */
    double smoke_min_size;     /**< input pixels: the side of the smallest smoke seen */
    double smoke_min_duration; /**< s its cues must agree before the event */
} vg_fire_params_t;

extern const vg_option_group_t vg_fire_option_group;

/** One frame's input; arrays and images are borrowed for the call. */
typedef struct vg_fire_input {
    const vg_frame_t *frame; /**< needs its chroma planes (cb, cr) */
    const vg_image_t *mask;  /**< the motion core's mask (VG_MASK_* levels), analysis size */
    const double *boxes;     /**< persons and vehicles the detector saw, x,y,w,h analysis px */
    int nboxes;
    const int *box_vehicle; /**< per box: 1 a vehicle, 0 a person (may be NULL: persons) */
    const double *passing;  /**< boxes of tracks moving by (x,y,w,h analysis px): what changes
                                 under them is theirs (a passer-by over an orange cone) */
    int npassing;
} vg_fire_input_t;

typedef struct vg_fire vg_fire_t;

/** A fire detector for @scene (borrowed: its ignore masks and fixtures). VG_ENOMEM. */
int vg_fire_new(vg_fire_t **out, const vg_scene_t *scene, const vg_fire_params_t *p)
    __attribute__((warn_unused_result));
/** New option values; regions followed keep their state. */
void vg_fire_set_params(vg_fire_t *f, const vg_fire_params_t *p);
/** One frame: follows flame-coloured regions, emits start, update and end records. */
int vg_fire_update(vg_fire_t *f, const vg_fire_input_t *in, vg_emit_fn emit, void *opaque);
/** End of input: open events end at (@frame, @t). */
int vg_fire_flush(vg_fire_t *f, int64_t frame, double t, vg_emit_fn emit, void *opaque);
void vg_fire_free(vg_fire_t **f);

/** 1 when the colour (Y, Cb, Cr as the frame's planes hold them) may be flame. */
int vg_fire_color(int y, int cb, int cr);

#ifdef __cplusplus
}
#endif
#endif
