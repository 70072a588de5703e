/*
 * vigie — the shared inference thread.
 *
 * CNN inference is the costly part of vigie's analysis, and a server runs many cameras on a few
 * cores. So one inference thread per process runs the detector for every camera, and no camera
 * ever waits for it: a camera (a client) submits a frame, or a region of it, and goes on with
 * its next frames; it collects the detections later, when they are ready. A client has at most
 * one request in flight; a submit while it is pending is refused (VG_EBUSY), and the camera
 * simply asks again later. The thread serves pending clients in the order they asked, so a busy
 * camera cannot starve the others.
 *
 * vg_infer_acquire() returns the process's service (created by the first caller, with its
 * detector options; released with the last client's owner). For offline evaluation, where every
 * run must give the same events, a client may wait for its result (vg_infer_wait).
 */
#ifndef VIGIE_INFER_H
#define VIGIE_INFER_H

#include <stdint.h>

#include <vigie/detect.h>
#include <vigie/frame.h>
#include <vigie/hist.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_infer vg_infer_t;
typedef struct vg_infer_client vg_infer_client_t;

/**
 * The process's inference service, created with @p on first use (its thread started and its
 * model loaded), else the running one with a reference added; a later caller's different model
 * is refused (VG_EINVAL, said in @err). Errors as vg_detector_new.
 */
int vg_infer_acquire(vg_infer_t **out, const vg_detector_params_t *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/** Drop a reference; the last one stops the thread and frees the service. */
void vg_infer_release(vg_infer_t **s);

/** A client of @s (one per camera). */
int vg_infer_client_new(vg_infer_t *s, vg_infer_client_t **out) __attribute__((warn_unused_result));
/** Free a client; a request in flight is cancelled (waits for it if it is running). */
void vg_infer_client_free(vg_infer_client_t **c);

/**
 * Ask for the detections in @frame (a reference is taken; it needs a colour image), in the
 * region @region (x, y, w, h in its pixels; NULL for the whole frame). Never blocks. Returns 0,
 * VG_EBUSY while this client's previous request is pending or unread, VG_EINVAL (no colour
 * image, an empty region).
 */
int vg_infer_submit(vg_infer_client_t *c, vg_frame_t *frame, const float *region);

/** vg_infer_submit_flags: */
enum {
    /** the pose of the persons found (at most VG_INFER_POSE_MAX, best first, centred in the
     * region, at least 0.8 of their height wide: a narrower box is someone standing, whose
     * posture is plain): vg_detection_t.pose, pose_turn, torso. A box wider than tall is also tried
     * with the crop turned a quarter either way (people lying are rare in the pose model's training
     * pictures) and the most confident of the three is kept. The pose model is loaded on the first
     * such request; if it cannot be, one error is logged and poses stay 0. */
    VG_INFER_POSE = 1,
    /** the wrists of the persons found (at most VG_INFER_HANDS_MAX, best first, centred in the
     * region, whatever their shape): vg_detection_t.pose and wrist, wrist_score — for what a
     * person holds (the weapon stage's close looks). The pose model runs on the crop as it is. */
    VG_INFER_HANDS = 2,
};
#define VG_INFER_POSE_MAX  3
#define VG_INFER_HANDS_MAX 2

/** vg_infer_submit, asking for more than boxes (VG_INFER_POSE). */
int vg_infer_submit_flags(vg_infer_client_t *c, vg_frame_t *frame, const float *region,
                          unsigned flags);

/**
 * A request still waiting its turn (queued, not yet running) is moved to @frame, a newer one
 * (its reference taken, the older dropped), and to @region when not NULL (else the one asked
 * stays): the request keeps its place in the queue, and its result says what the camera sees
 * now rather than when it asked — on a box where the detector is behind, seconds later. Returns
 * 0 when moved, VG_EBUSY when the request runs or ran already (nothing changes), VG_EAGAIN with
 * nothing asked, VG_EINVAL as vg_infer_submit.
 */
int vg_infer_refresh(vg_infer_client_t *c, vg_frame_t *frame, const float *region)
    __attribute__((warn_unused_result));

/** What a finished request found. */
typedef struct vg_infer_result {
    int64_t frame_index; /**< the frame it was asked for */
    double t;            /**< that frame's time */
    float region[4];     /**< where it looked (x, y, w, h) */
    int n;               /**< detections, in frame pixels, best first */
    vg_detection_t *det; /**< owned by the client, valid until its next submit */
    int error;           /**< 0, or the detector's error */
    double latency;      /**< seconds from submit to done (wall time) */
} vg_infer_result_t;

/**
 * Collect the result of the request in flight: 1 and *@out when it is done (the client may then
 * submit again), 0 while it is pending, VG_EAGAIN when nothing was asked. Never blocks.
 */
int vg_infer_poll(vg_infer_client_t *c, vg_infer_result_t *out);
/** Wait until the request in flight is done (offline runs); then vg_infer_poll returns it. */
void vg_infer_wait(vg_infer_client_t *c);

/** Counters of the service since it started. */
typedef struct vg_infer_stats {
    int64_t requests, done; /**< accepted, finished */
    int64_t refused;        /**< submits refused while the client's request was pending */
    double busy;            /**< seconds spent in the detector (and the pose model) */
    int clients;
    int64_t poses;     /**< pose model runs (each turn of a crop counts) */
    double pose_busy;  /**< seconds of busy spent in the pose model */
    vg_hist_t wait;    /**< per request: from its submit to the service taking it up (queue) */
    vg_hist_t run;     /**< per request: in the models */
    int64_t refreshed; /**< queued requests moved to a newer frame (vg_infer_refresh) */
} vg_infer_stats_t;
void vg_infer_get_stats(vg_infer_t *s, vg_infer_stats_t *st);
/** The counters of the process's running service into @st: 1, or 0 when none runs. Any thread. */
int vg_infer_running_stats(vg_infer_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif
