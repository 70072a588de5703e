/*
 * vigie — multi-object tracking inside one camera's view.
 *
 * Tracks follow foreground objects from frame to frame: a constant-velocity Kalman filter per
 * box coordinate predicts, an optimal assignment (Hungarian algorithm) on box overlap and
 * distance matches, tracks are born tentative, confirmed after a few hits, coast through short
 * occlusions and die after tracker.max_lost seconds unseen. A new object that splits off an
 * existing track (a bag put down) records that track as its owner. No appearance features: only
 * geometry and motion. Ids are unique within a tracker and never reused; they die with it.
 */
#ifndef VIGIE_TRACK_H
#define VIGIE_TRACK_H

#include <stdint.h>

#include <vigie/opt.h>
#include <vigie/vision.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_track_state {
    VG_TRACK_TENTATIVE = 0,
    VG_TRACK_CONFIRMED,
    VG_TRACK_LOST, /**< confirmed, unseen since t_seen, coasting on its prediction */
} vg_track_state_t;

typedef struct vg_track {
    int64_t id;
    vg_track_state_t state;
    double box[4];          /**< x, y, w, h (analysis pixels), filtered */
    double vx, vy;          /**< centre velocity, pixels per second */
    double speed;           /**< pixels per second */
    double heading;         /**< radians, atan2(vy, vx), image axes (y down) */
    int hits;               /**< frames matched */
    double t_first, t_seen; /**< first seen, last matched (scene seconds) */
    int64_t owner;          /**< track it split from (a person who put it down), or 0 */
    int64_t merged_into;    /**< while lost inside another track's box: that track, else 0 */
    double static_frac;     /**< of its last matched object */
    int object;             /**< index of the object matched this frame, or -1 */
} vg_track_t;

/** Options of the "tracker" group. */
typedef struct vg_tracker_params {
    double min_iou;        /**< overlap for a match when the boxes touch */
    double gate;           /**< max centre distance for a match, in box diagonals */
    int confirm_hits;      /**< hits to confirm a track */
    double max_lost;       /**< s: a confirmed track unseen this long dies */
    double max_tentative;  /**< s: an unconfirmed track unseen this long dies */
    double owner_distance; /**< a new track within this many owner heights records its owner */
    double process_noise;  /**< Kalman acceleration noise, pixels/s^2 */
    double measure_noise;  /**< Kalman measurement noise, pixels */
} vg_tracker_params_t;

extern const vg_option_group_t vg_tracker_option_group;
void vg_tracker_params_default(vg_tracker_params_t *p);

typedef struct vg_tracker vg_tracker_t;

int vg_tracker_new(vg_tracker_t **out, const vg_tracker_params_t *p)
    __attribute__((warn_unused_result));
void vg_tracker_free(vg_tracker_t **t);

/**
 * Advance to scene time @t (seconds) with this frame's @objs. Returns the number of live tracks
 * or VG_ENOMEM. Tracks are readable with vg_tracker_tracks() until the next update.
 */
int vg_tracker_update(vg_tracker_t *tr, const vg_objects_t *objs, double t);
/** The live tracks (tentative, confirmed and lost) in id order. */
const vg_track_t *vg_tracker_tracks(const vg_tracker_t *tr, int *n);
/** Ids that ended in the last update (for event rules that close events), and their count. */
const int64_t *vg_tracker_ended(const vg_tracker_t *tr, int *n);

#ifdef __cplusplus
}
#endif
#endif
