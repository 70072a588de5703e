/*
 * vigie — body pose on person crops (for falls): 17 keypoints in frame pixels with scores.
 *
 * vg_pose_t runs MoveNet SinglePose Lightning (Google, 2021; Apache-2.0; registered in the model
 * table) on a square crop around one person box from the detector, and decodes its heatmaps in C.
 * It says where body parts are, nothing about who the person is: no face or appearance features
 * are computed or kept (docs/privacy.md). A pose estimator belongs to one thread.
 */
#ifndef VIGIE_POSE_H
#define VIGIE_POSE_H

#include <vigie/detect.h>
#include <vigie/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The keypoints, in MoveNet's (COCO's) order. */
enum {
    VG_KP_NOSE,
    VG_KP_LEFT_EYE,
    VG_KP_RIGHT_EYE,
    VG_KP_LEFT_EAR,
    VG_KP_RIGHT_EAR,
    VG_KP_LEFT_SHOULDER,
    VG_KP_RIGHT_SHOULDER,
    VG_KP_LEFT_ELBOW,
    VG_KP_RIGHT_ELBOW,
    VG_KP_LEFT_WRIST,
    VG_KP_RIGHT_WRIST,
    VG_KP_LEFT_HIP,
    VG_KP_RIGHT_HIP,
    VG_KP_LEFT_KNEE,
    VG_KP_RIGHT_KNEE,
    VG_KP_LEFT_ANKLE,
    VG_KP_RIGHT_ANKLE,
    VG_KP_COUNT
};

typedef struct vg_keypoint {
    float x, y;  /**< frame pixels */
    float score; /**< 0..1, the heatmap's value there */
} vg_keypoint_t;

typedef struct vg_pose_result {
    vg_keypoint_t kp[VG_KP_COUNT];
    float score; /**< mean of the keypoints' scores */
    /** The square crop the model saw, in frame pixels (may reach outside the frame). */
    float crop_x, crop_y, crop_side;
    int turn; /**< the crop was turned by this many degrees (0, 90, -90) before the model */
} vg_pose_result_t;

typedef struct vg_pose vg_pose_t;

/** Load MoveNet Lightning from @models_dir. Errors as vg_model_load, with a message in @err. */
int vg_pose_new(vg_pose_t **out, const char *models_dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void vg_pose_free(vg_pose_t **p);

/**
 * The pose of the person in @box (frame pixels of @img, VG_PIX_BGR24 of any size): the model
 * sees a square crop centred on the box, 1.25 times its longer side (black outside the frame),
 * resized to 192x192. Returns 0, or VG_EINVAL (wrong image or an empty box), VG_ENOMEM,
 * VG_EFORMAT.
 */
int vg_pose_run(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box,
                vg_pose_result_t *out);

/**
 * vg_pose_run with the crop turned by @turn degrees (0, 90 or -90) before the model sees it: a
 * person lying across the picture stands up in the turned crop, as in the model's training
 * pictures. Keypoints come back in frame pixels (turned back). VG_EINVAL for another @turn.
 */
int vg_pose_run_turned(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box, int turn,
                       vg_pose_result_t *out);

/**
 * The pose of @box as vg_pose_run, and for a box wider than tall also with the crop turned by 90
 * and -90 degrees: the most confident of them in @out (its turn said). @unturned (may be NULL)
 * gets the score of the crop as it is. Returns the number of model runs (1 or 3) or an error
 * as vg_pose_run.
 */
int vg_pose_run_best(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box,
                     vg_pose_result_t *out, float *unturned);

/**
 * The torso of @r: the middle of the hips (@hip, x and y) and of the shoulders (@neck), from the
 * keypoints scored at least @min_score (one side is enough). Returns 1, or 0 when no shoulder or
 * no hip is that sure (@hip and @neck then untouched).
 */
int vg_pose_torso(const vg_pose_result_t *r, float min_score, float *hip, float *neck);

/** Keypoint name ("left_ankle"), or "?". */
const char *vg_keypoint_name(int k);

#ifdef __cplusplus
}
#endif
#endif
