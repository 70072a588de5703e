/*
 * vigie — event rules over tracks: the shared mechanism and the zone events.
 *
 * Every event type is a condition evaluated on a subject (a track in a zone, a track against a
 * line, a zone) frame after frame, and the same state machine turns it into events
 * (vg_rule_t): an event starts once its condition has held for on_time seconds, and ends once it
 * has been absent for off_time seconds; a subject whose event ended cannot start a new one for
 * cooldown seconds, so that one flickering object does not make a burst of alerts. Each event has
 * one start and one end record, and its evidence: the frame and box where the condition was
 * strongest.
 *
 * The zone events (vg_zone_rules_t):
 * - intrusion: a tracked object whose foot point is inside a `forbidden` zone; or, in a
 *   `pedestrian_only` zone, anything that is not a walking person — the detector names it
 *   (bicycle, car, motorcycle, skateboard...) or it moves faster than any pedestrian
 *   (intrusion.walk_speed_max, in m/s with a calibration, else in body heights per second);
 *   or a line crossed in its forbidden direction.
 * - wrong_way: a track inside a zone with an allowed direction that moves against it (outside
 *   the zone's tolerance) over wrong_way.min_distance — once per track.
 * Positions are foot points (bottom centre of the box) in input pixels, or metres on the ground
 * with the scene's calibration (vigie/calib.h).
 */
#ifndef VIGIE_RULES_H
#define VIGIE_RULES_H

#include <stdint.h>

#include <vigie/calib.h>
#include <vigie/detect.h>
#include <vigie/event.h>
#include <vigie/opt.h>
#include <vigie/scene.h>
#include <vigie/track.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the state machine ---- */

typedef struct vg_rule_timing {
    double on_time;  /**< s the condition must hold before the event starts */
    double off_time; /**< s it must be absent before the event ends */
    double cooldown; /**< s after an end before the same subject can start again */
} vg_rule_timing_t;

typedef enum vg_rule_action { VG_RULE_NONE = 0, VG_RULE_START, VG_RULE_END } vg_rule_action_t;

typedef struct vg_rule {
    int active;        /**< an event is open */
    double since;      /**< the condition holds since (NAN when it does not) */
    double absent;     /**< while active: the condition is absent since (NAN when present) */
    double ended;      /**< time of the last end (-INFINITY before any) */
    int64_t event_id;  /**< of the open event (set by the caller on START) */
    double best_score; /**< evidence: the strongest frame of the event so far */
    int64_t best_frame;
    double best_box[4];
    double started; /**< start time of the open event */
} vg_rule_t;

void vg_rule_init(vg_rule_t *r);
/**
 * Feed the condition at time @t (seconds, non-decreasing), with a @score and where it holds
 * (@frame, @box; evidence). Returns VG_RULE_START when the event starts now, VG_RULE_END when it
 * ends now, else VG_RULE_NONE.
 */
vg_rule_action_t vg_rule_update(vg_rule_t *r, const vg_rule_timing_t *tm, int cond, double t,
                                double score, int64_t frame, const double *box);

/* ---- zone events ---- */

/** Options of the "intrusion" group. */
typedef struct vg_intrusion_params {
    double min_dwell;      /**< s inside before the event starts (on_time) */
    double end_after;      /**< s outside before it ends (off_time) */
    double cooldown;       /**< s */
    double walk_speed_max; /**< pedestrian_only: faster than this is not walking (m/s) */
    double walk_heights;   /**< the same without calibration: body heights per second */
    double class_score;    /**< pedestrian_only: a detector label this sure names the object */
    double score_min;      /**< pedestrian_only: the intrusion score an event needs */
    int class_looks;       /**< pedestrian_only: detector looks that must agree on a vehicle */
    int class_fade;        /**< pedestrian_only: looks without a vehicle that halve its label */
    double score_smooth;   /**< s: time constant of the frame score's average (zones stage) */
} vg_intrusion_params_t;

/** Options of the "wrong_way" group. */
typedef struct vg_wrong_way_params {
    double min_distance; /**< m (or px without calibration) travelled against the direction */
    double min_distance_px;
    double min_speed; /**< m/s (body heights/s without calibration): slower is standing */
} vg_wrong_way_params_t;

extern const vg_option_group_t vg_intrusion_option_group, vg_wrong_way_option_group;

typedef struct vg_zone_rules vg_zone_rules_t;

/** Rules for the zones and lines of @scene (borrowed, must outlive them). */
int vg_zone_rules_new(vg_zone_rules_t **out, const vg_scene_t *scene,
                      const vg_intrusion_params_t *ip, const vg_wrong_way_params_t *wp, char *err,
                      size_t errlen) __attribute__((warn_unused_result));
void vg_zone_rules_free(vg_zone_rules_t **z);
/**
 * Take new camera-wide values (the zones' own settings still apply over them), keeping every
 * track's and rule's state. Returns 0, or VG_EINVAL with why in @err (then nothing changed).
 */
int vg_zone_rules_set_params(vg_zone_rules_t *z, const vg_intrusion_params_t *ip,
                             const vg_wrong_way_params_t *wp, char *err, size_t errlen);

/** Where events go: the callback gets a filled record (event_id 0 on a start: the sink numbers
 * it and writes the id back). */
typedef int (*vg_emit_fn)(void *opaque, vg_event_t *ev);

/**
 * One frame: the live tracks (boxes in analysis pixels, scaled by @sx, @sy to input pixels),
 * their labels from the detect stage (@det may be NULL), frame @frame at time @t. Emits starts and
 * ends; *@score (may be NULL) gets the frame's intrusion score, the highest over the tracks in
 * the zones (0..1), for frame-level evaluation. Returns 0 or the first emit error.
 */
int vg_zone_rules_update(vg_zone_rules_t *z, const vg_track_t *tracks, int n,
                         const vg_detections_t *det, double sx, double sy, int64_t frame, double t,
                         vg_emit_fn emit, void *opaque, double *score);
/** End every open event (end of the input). */
int vg_zone_rules_flush(vg_zone_rules_t *z, int64_t frame, double t, vg_emit_fn emit, void *opaque);
/** The calibration in use (valid 0 when the scene has none). */
const vg_calib_t *vg_zone_rules_calib(const vg_zone_rules_t *z);

/* ---- vehicles in view ---- */

/**
 * Where the vehicles are in this frame (analysis pixels, x y w h) for stages that must leave
 * them out of a crowd: the vehicle detections of the last detector result (@det, may be NULL:
 * none), and the box of this frame of each track (@tr, may be NULL) the detector labelled a
 * vehicle at least 0.4 sure and more than a person — a detection comes from an earlier frame, a
 * fast car has moved on from its box, the track has not. Track boxes are grown by @margin pixels
 * and stretched by @lead seconds of the track's motion. @motor_only: cars, buses and trucks only
 * (vg_coco_is_motor_vehicle), else every vg_coco_is_vehicle class. Returns the count (at most
 * @max).
 */
int vg_vehicle_boxes(const vg_detections_t *det, const vg_tracker_t *tr, int motor_only,
                     double margin, double lead, double (*out)[4], int max);

#ifdef __cplusplus
}
#endif
#endif
