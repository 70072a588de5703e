/*
 * vigie — the analysis stage interface (core).
 *
 * A camera's pipeline (<vigie/pipeline.h>, a module above every analyser) runs a sequence of
 * named stages over each frame (the Motion daemon's per-camera loop, without its god-object). A
 * stage is a class — name, help, option table, the option groups and slots it reads and
 * provides, callbacks — and an instance. The analysers (background model, tracker, detector,
 * event rules) are stages defined in their own modules against this header alone; they share
 * per-frame results through the vg_analysis_t passed to each stage, and report events through
 * vg_stage_emit(), which reaches whoever runs the stage through the vg_stage_host_t it set.
 *
 * Threads: every callback runs on the camera's analysis thread.
 */
#ifndef VIGIE_STAGE_H
#define VIGIE_STAGE_H

#include <vigie/event.h>
#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/queue.h>
#include <vigie/scene.h>

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

/** The bit of a slot in a stage class's needs, uses and provides masks. */
#define VG_SLOT_BIT(s) (1u << (s))

/**
 * What a stage's emit calls reach: the pipeline that runs it (or a test harness) fills one and
 * points vg_analysis_t.host at it. Each function is called on the analysis thread.
 */
typedef struct vg_stage_host {
    int (*emit)(void *opaque, vg_event_t *ev);
    int (*emit_count)(void *opaque, vg_count_t *c);
    int64_t (*new_event_id)(void *opaque);
    void *opaque;
} vg_stage_host_t;

/** What a stage sees for one frame. */
typedef struct vg_analysis {
    vg_frame_t *frame;       /**< borrowed; the privacy masks are already applied */
    const vg_scene_t *scene; /**< borrowed, never NULL (empty when none was given) */
    const char *camera;
    vg_pool_t *pool;             /**< slice-job pool of the analysis thread (may be NULL) */
    void *slot[VG_SLOT_NB];      /**< results of earlier stages for this frame, owned by them */
    vg_pipeline_t *pipeline;     /**< the running pipeline, opaque here (see <vigie/pipeline.h>) */
    const vg_stage_host_t *host; /**< where vg_stage_emit* go; NULL: nowhere (events dropped) */
} vg_analysis_t;

typedef struct vg_stage_class {
    const char *name; /**< also the option group name */
    const char *help;
    const vg_option_t *options; /**< may be NULL */
    size_t params_size;         /**< size of the params struct the options live in */
    size_t priv_size;           /**< zeroed private state allocated for each instance */
    unsigned flags;             /**< VG_STAGE_NEEDS_COLOR, VG_STAGE_NEEDS_CHROMA */
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
    /**
     * Option groups other than its own that the stage reads (in configure), NULL-terminated;
     * NULL: none. The registry lists them (vigie options, validation) from here.
     */
    const vg_option_group_t *const *reads;
    /**
     * Slots (VG_SLOT_BIT masks): @needs must be provided by an earlier stage (a pipeline
     * assembled without one is refused with a message); @uses are read when an earlier stage
     * provides them; @provides are filled by this stage. The registry orders stages from these.
     */
    unsigned needs, uses, provides;
} vg_stage_class_t;

#define VG_STAGE_NEEDS_COLOR (1u << 0)
/** The stage reads the frame's chroma planes (vg_frame_t.cb, .cr), cheaper than full colour. */
#define VG_STAGE_NEEDS_CHROMA (1u << 1)

struct vg_stage {
    const vg_stage_class_t *cls;
    void *params; /**< the class's params struct, options applied */
    void *priv;   /**< the class's private state */
    void *data;   /**< free for the program's use */
};

/**
 * Report @ev from a stage: the host (the pipeline) stamps the camera name and, when
 * ev->event_id is 0 on a start, a new id unique in the run. Returns the sink's result.
 */
int vg_stage_emit(vg_analysis_t *a, vg_event_t *ev);
/** A new event id, unique in the run. */
int64_t vg_stage_new_event_id(vg_analysis_t *a);

/** Report a count sample from a stage: the host stamps the camera. Returns the sink's result
 * (0 when the program set no count sink). */
int vg_stage_emit_count(vg_analysis_t *a, vg_count_t *c);

#ifdef __cplusplus
}
#endif
#endif
