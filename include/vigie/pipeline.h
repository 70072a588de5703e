/*
 * vigie — the frame pipeline and the registry of analysers.
 *
 * A camera's pipeline is a source, an ingest thread, a small bounded queue, and an analysis thread
 * that runs a sequence of stages (<vigie/stage.h>) over each frame. This module sits above every
 * analyser: the registry lists the built-in stage classes (one line each, src/pipeline/registry.c),
 * orders a selection of them from the slots each class declares it needs, uses and provides, and
 * gathers every option group from the classes. vg_pipeline_new_for_scene() is the one way
 * programs assemble a camera's pipeline from a scene, settings and an analyser list.
 *
 * Threads: vg_pipeline_run() runs the analysis on the calling thread and the source on an ingest
 * thread of its own. vg_pipeline_stop() may be called from any thread or a signal handler.
 */
#ifndef VIGIE_PIPELINE_H
#define VIGIE_PIPELINE_H

#include <vigie/egomotion.h>
#include <vigie/event.h>
#include <vigie/hist.h>
#include <vigie/opt.h>
#include <vigie/scene.h>
#include <vigie/source.h>
#include <vigie/stage.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "pipeline" group. */
typedef struct vg_pipeline_params {
    int queue;           /**< frames between ingest and analysis */
    int drop;            /**< enum vg_drop: when analysis falls behind */
    int threads;         /**< slice-job threads for analysis stages (0: one per core) */
    double memory_limit; /**< MB a camera's settings may be expected to need */
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
    int view;  /**< vg_view_state_t of the last frame (VG_VIEW_FIXED: camera_motion.mode fixed) */
    int64_t held; /**< frames not analysed while the camera moved (in @frames) */
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
/** 1 if some stage wants the chroma planes (set input.chroma). */
int vg_pipeline_needs_chroma(const vg_pipeline_t *p);
/**
 * Run every frame of @src (borrowed) through the stages until the end of the input, an error or
 * vg_pipeline_stop(). Events go to @sink; progress to @progress (may be NULL). Returns 0 at the
 * end of the input, VG_ESTOPPED when stopped, or the first error of the source, a stage or the
 * sink. Open events are flushed (ended) in every case where the stages still can.
 */
int vg_pipeline_run(vg_pipeline_t *p, vg_source_t *src, const vg_event_sink_t *sink,
                    vg_progress_fn progress, void *progress_opaque);
/** Where a pipeline's time went (vg_pipeline_times), since its first frame. */
typedef struct vg_stage_time {
    const char *name; /**< the stage class's name (static) */
    double wall;      /**< s in its process callback (wall clock: includes its slice jobs) */
    double cpu;       /**< s of the analysis thread's CPU in it (slice jobs on the pool's other
                           threads are not in it: wall says how long the frame waited) */
    int64_t frames;   /**< process calls */
    vg_hist_t hist;   /**< wall time of each process call */
} vg_stage_time_t;

/**
 * The time of each stage of @p (up to @max, in run order) into @out; *@ingest_cpu (may be NULL)
 * gets the CPU seconds of the ingest thread (demuxing, decoding, scaling: FFmpeg's own decoder
 * threads, with input.threads above 1, are not in it) of the runs finished so far. Returns the
 * number of stages. Any thread, at any time (a copy taken under the pipeline's lock).
 */
int vg_pipeline_times(const vg_pipeline_t *p, vg_stage_time_t *out, int max, double *ingest_cpu);

/**
 * The camera's own motion (camera_motion): the last frame's estimate into @r, the time spent
 * measuring and resampling into @tm (name "camera_motion"), the frames held while the camera
 * moved into @held (each may be NULL). Returns camera_motion.mode (VG_CAMERA_FIXED: nothing is
 * measured, @r is zeros). Any thread.
 */
int vg_pipeline_view(const vg_pipeline_t *p, vg_ego_result_t *r, vg_stage_time_t *tm,
                     int64_t *held);

/** The ingest side of a running pipeline (vg_pipeline_ingest_stats). */
typedef struct vg_ingest_stats {
    vg_hist_t decode; /**< CPU time of the ingest thread per frame read (demux, decode, scale) */
    int queued;       /**< frames waiting for analysis now (0 when not running) */
    int queue;        /**< the queue's capacity (pipeline.queue) */
} vg_ingest_stats_t;
/** Copy @p's ingest figures into @st (since its first frame). Any thread. */
void vg_pipeline_ingest_stats(const vg_pipeline_t *p, vg_ingest_stats_t *st);

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

/** Every option group of the library (input, pipeline, each stage's own and those it reads),
 * NULL-terminated, each once. Immutable; any thread. */
const vg_option_group_t *const *vg_option_groups(void);

/** The built-in analysis stages in the order they run (the registry's, ordered by their slots),
 * NULL-terminated. */
const vg_stage_class_t *const *vg_stage_classes(void);
/** The built-in stage called @name, or NULL. */
const vg_stage_class_t *vg_stage_class_find(const char *name);

/**
 * Order the @n stage classes of @cls in place so that each runs after the stages that provide a
 * slot it needs or uses (a stable sort: otherwise the given order is kept). Returns 0, or
 * VG_EINVAL with a message in @err when a stage needs a slot that no earlier stage provides
 * ("analyser 'zones' needs the tracks that 'tracker' provides: add it") or the classes' slots
 * form a cycle.
 */
int vg_stage_order(const vg_stage_class_t **cls, int n, char *err, size_t errlen);

/**
 * Pick the built-in analysers named in @list (comma-separated; NULL or "all": every one;
 * "none": none) into @out (room for @max), ordered by vg_stage_order. Returns their number, or
 * VG_EINVAL with a message in @err naming an unknown analyser (and those there are) or a
 * missing need.
 */
int vg_stage_select(const char *list, const vg_stage_class_t **out, int max, char *err,
                    size_t errlen);

/**
 * Memory, MB, that a camera with @settings (merged: scene then program) is expected to take for
 * an input of @in_w x @in_h pixels (0 x 0: not known yet — then the analysis size the settings
 * ask for, else 1920x1080), with colour frames kept when @color (vigie serve). A model fitted on
 * measurements (docs/server.md#memory): a fixed part, the analysers' state per analysis pixel,
 * and the frames the queue holds. *@limit_mb (may be NULL) gets the settings'
 * pipeline.memory_limit. Settings that do not parse count as their defaults (validate first).
 */
double vg_pipeline_memory_mb(const vg_settings_t *settings, int in_w, int in_h, int color,
                             double *limit_mb);

/** How vg_pipeline_new_for_scene assembles a camera's pipeline. */
typedef struct vg_pipeline_spec {
    const vg_scene_t *scene;       /**< borrowed, must outlive the pipeline; NULL: empty */
    const char *camera;            /**< camera name in events; NULL: the scene's, else "" */
    const vg_settings_t *settings; /**< options that win over the scene's (may be NULL) */
    const char *analysers;         /**< as vg_stage_select's @list; NULL: all */
    /** The program's own stages, run after the analysers in this order, NULL-terminated (may
     * be NULL): vigie serve's store stage, an evaluation's collector. */
    const vg_stage_class_t *const *extra;
} vg_pipeline_spec_t;

/**
 * Assemble a camera's pipeline: the scene's settings overridden by @spec->settings, every one
 * checked against the option groups (the scene's per-zone settings too), the analysers selected
 * and ordered, then the program's own stages. When @input is not NULL it receives the "input.*"
 * options of that merged set, with colour frames asked for where a stage needs them (release it
 * with vg_opt_free(input, vg_source_option_group.options)). Returns 0;
 * VG_ENOMEM; or VG_EOPTION, VG_ERANGE, VG_EINVAL with a message in @err for a bad option value,
 * an unknown analyser or a missing need (nothing is created then).
 */
int vg_pipeline_new_for_scene(vg_pipeline_t **out, const vg_pipeline_spec_t *spec,
                              vg_source_params_t *input, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
