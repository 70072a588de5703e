/*
 * vigie — abandoned objects: static objects that are really objects, with an owner.
 *
 * Candidates come from the motion core's static foreground (VG_MASK_STATIC: a region that
 * appeared, is not part of the long-term background and has stayed still for
 * motion.static_time). A candidate is an object only when:
 * - it is not a person: the detector's person boxes are cut out of the static region, and a
 *   region that person boxes covered in some of the detector's looks is a person (standing,
 *   sitting or lying), whatever happens later; the object must also have been looked at, with
 *   no person on it, at least abandoned_object.looks_min times;
 * - it has an outline in the current picture that the long-term background lacks (a step of
 *   abandoned_object.contrast_min grey levels on edge_share of it): a puddle, a patch of light
 *   or a reflection has little, and a "ghost" where a removed object uncovered the floor has its
 *   step in the background instead (ghost_ratio);
 * - its size is plausible for a bag (calibrated metres, else input pixels), it is not on a
 *   fixture (a place the operator marked "not an object") and not cut by the picture's edge.
 * Owner logic after PETS 2006 / AVSS 2007: the owner is the person nearest to the object when it
 * was first seen (its tracker id), if one was within abandoned_object.owner_distance (metres
 * on the ground plane; input pixels without calibration). The object is attended while the owner
 * is within that distance, or while any person stands within it (the detector saw them at the
 * same place one to three seconds before; passers-by do not count):
 * without appearance features (by design) vigie cannot tell a returning owner from anyone else
 * who stops by the object. Unattended for abandoned_object.unattended_time, it is abandoned:
 * one event starts (the shared rule state machine), and it ends when the object is gone or
 * attended again.
 */
#ifndef VIGIE_ABANDONED_H
#define VIGIE_ABANDONED_H

#include <stdint.h>

#include <vigie/calib.h>
#include <vigie/detect.h>
#include <vigie/event.h>
#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/rules.h>
#include <vigie/scene.h>
#include <vigie/track.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "abandoned_object" group (also the stage's). */
typedef struct vg_abandon_params {
    double unattended_time;    /**< s unattended before the object is abandoned */
    double owner_distance;     /**< m (calibrated): farther than this, the owner has left it */
    double owner_distance_px;  /**< the same without calibration, input pixels */
    double min_size, max_size; /**< m: the object's width on the ground (calibrated) */
    double min_size_px, max_size_px; /**< the larger side of its box, input pixels */
    double contrast_min;             /**< grey levels: the gradient that makes an edge */
    double edge_share;               /**< share of the outline with an edge the background lacks */
    double ghost_ratio;   /**< new edges must outnumber the background's lost ones by this */
    double border;        /**< input pixels from the picture's edge where nothing is raised */
    int looks_min;        /**< detector looks with no person on it before it may count */
    double person_share;  /**< a look whose person boxes cover this share of it: a person */
    double person_memory; /**< s a detector result stays current */
    double still_speed;   /**< body heights per second: slower is standing, not walking past */
    double end_after;     /**< s gone (or attended) before the event ends */
    double cooldown;      /**< s after an end before the same object raises again */
    double shadow_min, shadow_max; /**< motion.shadow_*: darker by this ratio is a shadow or a
                                      reflection, not the object (set from the motion group) */
    double rate; /**< frames a second the stage analyses (0: every frame; a frame bringing a new
                      detector look always is) */
} vg_abandon_params_t;

extern const vg_option_group_t vg_abandon_option_group;

/** A person seen by the detector (analysis pixels). */
typedef struct vg_abandon_person {
    double box[4];
    float score;
    double t; /**< when the detector saw it; 0: in the look of look_t (a box carried over from an
                   earlier look is older) */
    int cls;  /**< COCO class (luggage only) */
} vg_abandon_person_t;

/** One frame's input. Images and arrays are borrowed for the call. */
typedef struct vg_abandon_input {
    const vg_image_t *gray;       /**< the frame, GRAY8, analysis size */
    const vg_image_t *mask;       /**< the motion core's mask (VG_MASK_* levels), same size */
    const vg_image_t *background; /**< its long-term background, same size (NULL: none) */
    int64_t frame;
    double t;
    double sx, sy; /**< analysis -> input pixels */
    const vg_track_t *tracks;
    int ntracks;
    /** The detector's latest result: its persons and the region it covered. */
    const vg_abandon_person_t *persons;
    int npersons;
    double look_region[4]; /**< analysis pixels; w = 0: no result yet */
    double look_t;         /**< time of the frame the result is from */
    int look;              /**< 1 when the result is new this frame */
    int64_t results_id;    /**< the result's number (counts each look once per candidate) */
    double static_time;    /**< motion.static_time: how long after it was put down an object
                              turns static (to date the put-down) */
    /** The same result's luggage (backpack, handbag, suitcase): box and score as for persons,
     *  the COCO class in cls. A second source of an object's extent. */
    const vg_abandon_person_t *luggage;
    int nluggage;
} vg_abandon_input_t;

typedef struct vg_abandon vg_abandon_t;

/**
 * A detector of abandoned objects for @scene (borrowed: its zones' abandoned_object.* settings,
 * fixtures, ignore masks and calibration) and frames of @w x @h analysis pixels showing
 * @in_w x @in_h input pixels. VG_EINVAL (with a message) on a bad zone setting or
 * calibration, VG_ENOMEM.
 */
int vg_abandon_new(vg_abandon_t **out, const vg_scene_t *scene, const vg_abandon_params_t *p, int w,
                   int h, int in_w, int in_h, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void vg_abandon_free(vg_abandon_t **ab);
/**
 * Take new camera-wide values @p (the zones' own settings still apply over them), keeping every
 * candidate's state. Returns 0, or VG_EINVAL with why in @err (then nothing changed).
 */
int vg_abandon_set_params(vg_abandon_t *ab, const vg_abandon_params_t *p, char *err, size_t errlen);

/** Advance one frame; starts and ends go to @emit. Returns 0, VG_EINVAL (an image not GRAY8 of
 * the detector's size, a count without its array),
 * VG_ENOMEM or the first emit error. */
int vg_abandon_update(vg_abandon_t *ab, const vg_abandon_input_t *in, vg_emit_fn emit,
                      void *opaque);
/** End every open event (end of the input). */
int vg_abandon_flush(vg_abandon_t *ab, int64_t frame, double t, vg_emit_fn emit, void *opaque);

/** What the detector thinks of its candidates now (for tests and pictures). */
typedef enum vg_abandon_state {
    VG_ABANDON_CANDIDATE = 0, /**< static, not yet known to be an object */
    VG_ABANDON_PERSON,        /**< a person: never an event */
    VG_ABANDON_REJECTED,      /**< no contour, implausible size or on a fixture */
    VG_ABANDON_ATTENDED,
    VG_ABANDON_UNATTENDED,
    VG_ABANDON_ABANDONED, /**< its event is open */
} vg_abandon_state_t;

typedef struct vg_abandon_info {
    int id;
    vg_abandon_state_t state;
    double box[4];                       /**< input pixels */
    double first_seen, unattended_since; /**< s (NAN when attended) */
    int64_t owner;                       /**< tracker id, 0 if unknown */
    double owner_distance;               /**< m or px, NAN when the owner is not in view */
    int looks, person_looks;
    double contrast, contrast_bg;
    double edge_new, edge_old; /**< shares of its outline with a new edge, with a lost one */
    int attended;              /**< someone attends it now */
    double last_seen;          /**< s: a blob covered it last then */
    double size;               /**< m (calibrated) or px */
    const char *reason;        /**< why it is not an object (yet): "person", "size", "at the edge",
                                  "no edge", "ghost", "not looked at"; NULL when it is one */
} vg_abandon_info_t;

/** The current candidates (at most @max written); returns their count. */
int vg_abandon_candidates(const vg_abandon_t *ab, vg_abandon_info_t *out, int max);
const char *vg_abandon_state_name(vg_abandon_state_t s);

#ifdef __cplusplus
}
#endif
#endif
