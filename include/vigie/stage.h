/*
 * vigie — analysis stages and the frame pipeline.
 *
 * A camera's pipeline is a source, an ingest thread, a small bounded queue, and an analysis thread
 * that runs a fixed sequence of named stages over each frame (the Motion daemon's per-camera loop,
 * without its god-object). A stage is a class — name, help, option table, callbacks — and an
 * instance. Later modules (background model, tracker, detector, event rules) are stages; they
 * share per-frame results through the vg_analysis_t passed to each stage, and report events
 * through vg_stage_emit().
 *
 * Threads: vg_pipeline_run() runs the analysis on the calling thread and the source on an ingest
 * thread of its own. vg_pipeline_stop() may be called from any thread or a signal handler.
 */
#ifndef VIGIE_STAGE_H
#define VIGIE_STAGE_H

#include <vigie/event.h>
#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/queue.h>
#include <vigie/scene.h>
#include <vigie/source.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_stage vg_stage_t;
typedef struct vg_pipeline vg_pipeline_t;

/** Slots through which stages pass per-frame results to later stages. Extended, never renumbered.
 */
enum vg_slot {
    VG_SLOT_FOREGROUND = 0, /**< motion core: foreground mask */
    VG_SLOT_OBJECTS,        /**< motion core: foreground objects */
    VG_SLOT_TRACKS,         /**< tracker: live tracks */
    VG_SLOT_DETECTIONS,     /**< detector: classified boxes */
    VG_SLOT_FLOW,           /**< optical flow */
    VG_SLOT_SCORES, /**< event rules: const double[VG_EVENT_NB], this frame's score per event type
                     */
    VG_SLOT_BGS,    /**< motion core: its background model (const vg_bgs_t *), for stages that
                       read the long-term background */
    VG_SLOT_NB = 16
};

/** What a stage sees for one frame. */
typedef struct vg_analysis {
    vg_frame_t *frame;       /**< borrowed; the privacy masks are already applied */
    const vg_scene_t *scene; /**< borrowed, never NULL (empty when none was given) */
    const char *camera;
    vg_pool_t *pool;        /**< slice-job pool of the analysis thread (may be NULL) */
    void *slot[VG_SLOT_NB]; /**< results of earlier stages for this frame, owned by them */
    vg_pipeline_t *pipeline;
} vg_analysis_t;

typedef struct vg_stage_class {
    const char *name; /**< also the option group name */
    const char *help;
    const vg_option_t *options; /**< may be NULL */
    size_t params_size;         /**< size of the params struct the options live in */
    size_t priv_size;           /**< zeroed private state allocated for each instance */
    unsigned flags;             /**< VG_STAGE_NEEDS_COLOR */
    /** Called once before the first frame; @a->frame is NULL. */
    int (*init)(vg_stage_t *st, vg_analysis_t *a);
    /** Called for each frame in order. Return 0 or a negative error (stops the pipeline). */
    int (*process)(vg_stage_t *st, vg_analysis_t *a);
    /** Called once at the end of the input: end open events. May be NULL. */
    int (*flush)(vg_stage_t *st, vg_analysis_t *a);
    /** Release private state. May be NULL. */
    void (*close)(vg_stage_t *st);
    /**
     * Called when the stage is added, after its own options: for a stage that also reads
     * another option group from @settings (may be NULL), into its private state. Returns 0 or
     * a negative error with a message in @err. May be NULL.
     */
    int (*configure)(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen);
    /**
     * Option groups whose options flagged VG_OPT_LIVE this stage takes while running (its own
     * and those it reads in configure), NULL-terminated; NULL: none.
     */
    const char *const *live_groups;
    /**
     * Take new option values while running: called on the analysis thread between two frames
     * with the whole new @settings, of which only options of @live_groups flagged live differ
     * from the stage's current ones (vg_pipeline_update checked it). May be NULL.
     */
    int (*update)(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen);
} vg_stage_class_t;

#define VG_STAGE_NEEDS_COLOR (1u << 0)

struct vg_stage {
    const vg_stage_class_t *cls;
    void *params; /**< the class's params struct, options applied */
    void *priv;   /**< the class's private state */
    void *data;   /**< free for the program's use */
};

/**
 * Report @ev from a stage: the pipeline stamps the camera name and, when ev->event_id is 0 on a
 * start, a new id unique in the run. Returns the sink's result.
 */
int vg_stage_emit(vg_analysis_t *a, vg_event_t *ev);
/** A new event id, unique in the run. */
int64_t vg_stage_new_event_id(vg_analysis_t *a);

/**
 * One sample of a count time series: the people of a zone (or of the whole picture, zone "") at
 * scene time t, as a stage that counts (density) reports it every few seconds — for plots and
 * statistics, not an alert.
 */
typedef struct vg_count {
    double t;      /**< scene time, seconds */
    int64_t frame; /**< frame index */
    char camera[VG_EVENT_NAME_MAX];
    char zone[VG_EVENT_NAME_MAX]; /**< "" for the whole picture */
    double count;                 /**< people (an estimate: not an integer) */
    double count_detector;        /**< people the detector separated */
    double count_occupancy;       /**< people the occupancy estimate saw (-1: none) */
    double area;                  /**< m² on the ground (0: not calibrated) */
    double density;               /**< persons per m² (-1: not calibrated) */
} vg_count_t;

/** Where count samples go; write() is called from the analysis thread. */
typedef struct vg_count_sink {
    int (*write)(void *opaque, const vg_count_t *c);
    void *opaque;
} vg_count_sink_t;

/** Report a count sample from a stage: the pipeline stamps the camera. Returns the sink's result
 * (0 when the program set no count sink). */
int vg_stage_emit_count(vg_analysis_t *a, vg_count_t *c);

/** The built-in analysis stages, NULL-terminated. */
const vg_stage_class_t *const *vg_stage_classes(void);
const vg_stage_class_t *vg_stage_class_find(const char *name);

/** Options of the "pipeline" group. */
typedef struct vg_pipeline_params {
    int queue;   /**< frames between ingest and analysis */
    int drop;    /**< enum vg_drop: when analysis falls behind */
    int threads; /**< slice-job threads for analysis stages (0: one per core) */
} vg_pipeline_params_t;

enum vg_drop { VG_DROP_AUTO = 0, VG_DROP_NEVER, VG_DROP_OLDEST };

extern const vg_option_group_t vg_pipeline_option_group;

/** Progress, reported about twice a second and once at the end. */
typedef struct vg_progress {
    int64_t frames;  /**< frames analysed */
    double t;        /**< scene time of the last frame */
    double duration; /**< input duration (0 if unknown) */
    double fps;      /**< frames per second of wall time so far */
    double elapsed;  /**< wall seconds */
    int64_t dropped; /**< frames dropped by the queue */
    int64_t events;
    int final; /**< 1 for the last report */
} vg_progress_t;
typedef void (*vg_progress_fn)(void *opaque, const vg_progress_t *p);

/**
 * Create a pipeline for the camera @camera (copied) over @scene (borrowed; must outlive the
 * pipeline; NULL for an empty scene), taking "pipeline.*" options from @settings (may be NULL).
 */
int vg_pipeline_new(vg_pipeline_t **out, const vg_scene_t *scene, const char *camera,
                    const vg_settings_t *settings, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/** Append a stage of class @cls, its options taken from @settings (may be NULL). */
int vg_pipeline_add_stage(vg_pipeline_t *p, const vg_stage_class_t *cls,
                          const vg_settings_t *settings, char *err, size_t errlen);
/** 1 if some stage wants colour frames (set input.color). */
int vg_pipeline_needs_color(const vg_pipeline_t *p);
/**
 * Run every frame of @src (borrowed) through the stages until the end of the input, an error or
 * vg_pipeline_stop(). Events go to @sink; progress to @progress (may be NULL). Returns 0 at the
 * end of the input, VG_ESTOPPED when stopped, or the first error of the source, a stage or the
 * sink. Open events are flushed (ended) in every case where the stages still can.
 */
int vg_pipeline_run(vg_pipeline_t *p, vg_source_t *src, const vg_event_sink_t *sink,
                    vg_progress_fn progress, void *progress_opaque);
/**
 * Change option values of a running pipeline: @settings (copied) is the whole new set (the same
 * kind of set vg_pipeline_new and vg_pipeline_add_stage were given). Every option whose value
 * differs from the current set must be flagged VG_OPT_LIVE and be in a group that one of the
 * pipeline's stages takes live; otherwise nothing changes and VG_EBUSY is returned with the
 * first such option named in @err ("needs a restart"). VG_EOPTION/VG_EINVAL/VG_ERANGE for an
 * unknown option or a bad value. The new values apply before the next frame. Any thread.
 */
int vg_pipeline_update(vg_pipeline_t *p, const vg_settings_t *settings, char *err, size_t errlen);
/** Send count samples to @sink (borrowed; NULL: dropped). Set before vg_pipeline_run. */
void vg_pipeline_set_count_sink(vg_pipeline_t *p, const vg_count_sink_t *sink);
/** A pointer for the program's use (stages it adds reach it through a->pipeline); NULL at first. */
void vg_pipeline_set_user(vg_pipeline_t *p, void *user);
void *vg_pipeline_user(const vg_pipeline_t *p);
/** Ask a running pipeline to stop soon. Any thread; async-signal-safe. */
void vg_pipeline_stop(vg_pipeline_t *p);
void vg_pipeline_free(vg_pipeline_t **p);

/** Every option group of the library (input, pipeline, each stage), NULL-terminated. */
const vg_option_group_t *const *vg_option_groups(void);

#ifdef __cplusplus
}
#endif
#endif
