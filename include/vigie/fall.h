/*
 * A person on the ground after a fall (decree 2023-828 art. 3, item 5): the `fall` event.
 *
 * The alert is a person who is on the ground now, qualified by a fall that was seen: someone
 * standing who, within fall.fall_time, lies on the ground (their box turned wider than tall, their
 * head dropped), and stays there for fall.ground_time. Lying down slowly, lying with no fall in
 * view, or lying inside a `rest` zone (a bed, a bench, a lawn) raise nothing by default. The
 * event ends when the person gets up or leaves; people gathering round do not end it. Method and
 * figures: src/events/fall.c, docs/evaluation.md.
 */
#ifndef VIGIE_FALL_H
#define VIGIE_FALL_H

#include <stdint.h>

#include <vigie/image.h>
#include <vigie/opt.h>
#include <vigie/rules.h>
#include <vigie/scene.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "fall" group. */
typedef struct vg_fall_params {
    double ground_time;    /**< s on the ground after the fall before the event */
    double fall_time;      /**< s: the longest a fall takes, standing to lying */
    double upright_aspect; /**< box width over height at most this: standing */
    double lying_aspect;   /**< box width over height at least this: lying */
    double drop;           /**< the head drops by this share of the standing height */
    double end_after;      /**< s with nobody lying there (up, or gone) before the end */
    double hidden_time;    /**< s the place may stay hidden (people round it) with the event open */
    int lying_no_fall;     /**< also raise lying with no fall in view (lower score) */
    double cooldown;       /**< s after an end before the same place raises again */
} vg_fall_params_t;

extern const vg_option_group_t vg_fall_option_group;

/** A person the detector saw, in analysis pixels. */
typedef struct vg_fall_person {
    double box[4];
    float score;
    int standin;    /**< not a person box but one of a class the detector gives people lying on a
                         floor (dog, cat): it only continues someone followed who lies or is
                         falling, never starts a person */
    int torso_seen; /**< the pose model found their torso (looks that ask for poses) */
    double torso;   /**< then its angle from the local vertical, degrees: 0 upright, 90 lying,
                         180 head down (the fall stage measures it against the vertical the
                         scene's ground calibration gives there, else the image's) */
    float pose;     /**< the pose's confidence (0: no pose asked) */
} vg_fall_person_t;

/** One frame's input; arrays and images are borrowed for the call. */
typedef struct vg_fall_input {
    int64_t frame;
    double t;
    double sx, sy; /**< analysis -> input pixels */
    int look;      /**< 1 when @persons are a new detector look (those it saw then) */
    const vg_fall_person_t *persons;
    int npersons;
    const vg_image_t *mask; /**< the motion core's mask (may be NULL): is a place occupied */
} vg_fall_input_t;

typedef struct vg_fall vg_fall_t;

/** A fall detector for @scene (borrowed: its rest zones and ignore masks). VG_ENOMEM. */
int vg_fall_new(vg_fall_t **out, const vg_scene_t *scene, const vg_fall_params_t *p)
    __attribute__((warn_unused_result));
/** New option values; people followed keep their state. */
void vg_fall_set_params(vg_fall_t *f, const vg_fall_params_t *p);
/** One frame: follows the persons of each look and emits start and end records. */
int vg_fall_update(vg_fall_t *f, const vg_fall_input_t *in, vg_emit_fn emit, void *opaque);
/** End of input: open events end at (@frame, @t). */
int vg_fall_flush(vg_fall_t *f, int64_t frame, double t, vg_emit_fn emit, void *opaque);
void vg_fall_free(vg_fall_t **f);

#ifdef __cplusplus
}
#endif
#endif
