/*
 * vigie — object detector: what a moving or static object is (person, bag, bicycle, car, ...).
 *
 * vg_detector_t runs a registered model (NanoDet-g 416 by default) on a colour frame of any size
 * and returns boxes in the frame's pixels with a COCO class and a score, after per-class
 * non-maximum suppression. The decoder of each model is C code. A detector belongs to one thread.
 */
#ifndef VIGIE_DETECT_H
#define VIGIE_DETECT_H

#include <vigie/frame.h>
#include <vigie/opt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_detection {
    float x, y, w, h; /**< frame pixels */
    float score;      /**< 0..1 */
    int cls;          /**< COCO-80 class, 0-based (0 = person) */
    double t;       /**< time of the frame it was seen in (the detect stage sets it; 0: unknown) */
    int reshape;    /**< found by a region look asked early because its track changed shape
                         (detect.reshape): a look for postures, see vg_detections_t.reshape */
    float pose;     /**< 0: no pose was asked; else the pose model's mean keypoint score on this
                         box (persons of looks that ask for postures: VG_INFER_POSE) */
    int pose_turn;  /**< the pose's crop was turned by this (0, 90, -90 degrees): the best turn */
    float torso[4]; /**< with a pose whose shoulders and hips were found: the middle of the hips
                         (x, y) then of the shoulders (x, y), frame pixels; else all 0 */
    float wrist[4]; /**< with a pose (VG_INFER_POSE or VG_INFER_HANDS): the left then the
                         right wrist (x, y, frame pixels); 0 where not asked */
    float wrist_score[2]; /**< their keypoint scores (0: no pose, or not found) */
} vg_detection_t;

/** Options of the "detector" group. */
typedef struct vg_detector_params {
    char *model;      /**< registered model name */
    char *models_dir; /**< where scripts/setup put the models */
    double score_min; /**< keep detections at least this confident */
    double nms_iou;   /**< suppress same-class boxes overlapping more than this */
    int max_detections;
    int nice;      /**< the inference thread's niceness above the process's (Linux; 0: the same) */
    int precision; /**< vg_precision_t: the convolutions' arithmetic (float, or int8) */
} vg_detector_params_t;

extern const vg_option_group_t vg_detector_option_group;

typedef struct vg_detector vg_detector_t;

/** Load the model named in @p (copied; NULL for defaults). Errors as vg_model_load, in @err. */
int vg_detector_new(vg_detector_t **out, const vg_detector_params_t *p, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void vg_detector_free(vg_detector_t **d);

/**
 * Detect objects in @img (VG_PIX_BGR24, any size) into @out (room for @max). Returns the number
 * of detections, best first, or VG_EINVAL / VG_ENOMEM / VG_EFORMAT.
 */
int vg_detector_run(vg_detector_t *d, const vg_image_t *img, vg_detection_t *out, int max);

/**
 * vg_detector_run over @tiles x @tiles overlapping tiles of @img (each a quarter larger than its
 * share on every side, so that a person cut by one tile's edge is whole in its neighbour), each
 * at the detector's input size: small, far people become large enough to be found. The tiles'
 * detections are merged (a box overlapping a better one of its class by IoU > 0.5, or lying 70 %
 * inside it, is the same object). @tiles 1 is vg_detector_run. Returns the count, best first.
 */
int vg_detector_run_tiled(vg_detector_t *d, const vg_image_t *img, int tiles, vg_detection_t *out,
                          int max);

/**
 * vg_detector_run_tiled at @tiles x @tiles (1 allowed), refined by a pass over (@tiles + 1)^2
 * finer tiles that only adds small objects: from the finer pass, a box cut by an inner edge of
 * its tile or taller than a quarter of its tile is left to the coarse pass (big people split by
 * fine tiles would be found twice, as halves). For counting people in crowded stills, where the
 * far ones are a few pixels tall. Returns the count, best first, or VG_EINVAL / VG_ENOMEM.
 */
int vg_detector_run_refined(vg_detector_t *d, const vg_image_t *img, int tiles, vg_detection_t *out,
                            int max);

/** What a class past COCO's 80 serves (a site model's: docs/nn.md "Site models"). */
enum { VG_USE_NONE = -1, VG_USE_PERSON, VG_USE_VEHICLE, VG_USE_WEAPON, VG_USE_FIRE };
/** The use of class @cls when a site model made it (>= 80), else VG_USE_NONE. Any thread. */
int vg_detect_class_use(int cls);

/** COCO-80 class name ("person"), or "?" . */
const char *vg_coco_name(int cls);
/** 1 for the COCO classes vigie takes for a vehicle: bicycle, car, motorcycle, bus, truck,
 * skateboard (a cyclist is a person and a bicycle). */
int vg_coco_is_vehicle(int cls);
/** 1 for a motor vehicle that carries no one in view: car, bus, truck. */
int vg_coco_is_motor_vehicle(int cls);

/** What the detection stage knows about a track (see vg_detections_t). */
typedef struct vg_track_label {
    int64_t track;   /**< tracker id */
    int cls;         /**< the class with the most evidence (summed scores), -1 if none yet */
    float score;     /**< its best single score */
    float person;    /**< best score of a "person" detection on this track (0 if never) */
    float vehicle;   /**< best score of a vehicle class on it: bicycle, car, motorcycle, bus, truck,
                          skateboard (a cyclist is a person and a bicycle: both are kept) */
    int vehicle_cls; /**< that class, -1 if none */
    int vehicle_looks; /**< looks in which a vehicle class covered it (one sighting may be wrong) */
    int looks;         /**< detector results that covered the track */
    double t;          /**< scene time of the last look */
    int vehicle_misses; /**< looks in a row, since the last that saw a vehicle class on it, that
                           saw none (evidence that later looks contradict fades) */
    double look_box[4]; /**< the track's box (analysis pixels) at its last look */
} vg_track_label_t;

/**
 * The detection stage's results (VG_SLOT_DETECTIONS): the last finished detector request, and
 * a label per live track from every request so far. Detections come from an earlier frame than
 * the current one (the inference thread works behind the cameras): see frame_index and t.
 */
typedef struct vg_detections {
    int n;
    const vg_detection_t *det; /**< analysis pixels of the frame they were found in */
    int64_t frame_index;       /**< that frame, or -1 before the first result */
    double t;
    int nlabels;
    const vg_track_label_t *labels;
    float region[4]; /**< where the last result looked (analysis pixels; the whole frame for a
                        whole-frame look); det holds that result and earlier regions' finds */
    int64_t results; /**< detector results so far: a new one arrived when this changes */
    int reshape;     /**< the last result is a region asked early because its track changed
                          shape (detect.reshape), or a close look a stage asked for
                          (vg_detections_ask): frequent looks around one track, which stages
                          that weigh looks over time (abandoned objects) leave out */
    struct vg_detect_asks *asks; /**< the detect stage's queue of close looks (vg_detections_ask) */
    int64_t ask_tag;    /**< the last result answers the close look asked with this tag (0: it
                             was not asked for by a stage) */
    unsigned ask_flags; /**< and that look's VG_INFER_* flags */
} vg_detections_t;

#define VG_DETECT_ASKS_MAX 8

/**
 * Ask the detect stage that published @d for a close look at @region (x, y, w, h, analysis
 * pixels: the detector sees it at its own resolution) with VG_INFER_* @flags (VG_INFER_HANDS:
 * the persons' wrists). Served before the routine looks, in the order asked, from the next
 * frame on; its result is published with ask_tag = @tag (non-zero, the asker's own). An ask
 * with a @tag already waiting replaces that one. Returns 0, VG_EINVAL (an empty region, tag 0,
 * no queue: the detect stage is not running), VG_EBUSY (VG_DETECT_ASKS_MAX asks wait).
 */
int vg_detections_ask(const vg_detections_t *d, const float region[4], unsigned flags, int64_t tag);

/** The label of track @id, or NULL when the detector has not seen it yet. */
const vg_track_label_t *vg_detections_label(const vg_detections_t *d, int64_t id);

#ifdef __cplusplus
}
#endif
#endif
