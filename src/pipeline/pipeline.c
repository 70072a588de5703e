/*
 * The per-camera frame pipeline.
 *
 * An ingest thread reads the source and pushes frames into a small bounded queue; the analysis
 * thread (the caller of vg_pipeline_run) pops them, blacks out the scene's privacy masks — before
 * any stage sees a pixel — and runs the stages in order, each a named function of the camera
 * loop. Files use a blocking queue (every frame is analysed); live inputs drop the oldest frame
 * when analysis falls behind and count it (pipeline.drop). The source's terminal status (end,
 * error, stop) travels to the analysis thread after the last frame, so the run's result is the
 * source's first error, a stage's or the sink's.
 *
 * Stopping: vg_pipeline_stop() sets an atomic flag and interrupts the source; both threads see
 * it and wind down; stages are flushed so open events get their end record.
 *
 * A camera that moves (camera_motion.mode moving or drone; docs/motion.md): before the privacy
 * masks, each frame's motion against the scene's view is measured (src/vision/egomotion.c) and
 * the frame resampled into that view, so that every stage, the masks and the zones work in the
 * scene's coordinates; while the camera moves too fast or looks elsewhere the frame is held (no
 * stage runs) and the first frame analysed after is marked as a discontinuity.
 *
 * Privacy masks are filled by scanline polygon rasterisation in analysis pixels (scene
 * coordinates are input pixels, scaled by the frame's analysis/input ratio), on the grey and the
 * colour images.
 *
 * Where the time goes: each stage's process call is timed (wall clock, and the analysis thread's
 * CPU clock), and the ingest thread's CPU time is read as it ends (vg_pipeline_times; vigie
 * analyze --profile prints them).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vigie/clock.h>
#include <vigie/egomotion.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/pipeline.h>

#include "../core/raster.h"

#define COMP "pipeline"

static const char *const drop_names[] = {"auto", "never", "oldest", NULL};

#define OFF(x) offsetof(vg_pipeline_params_t, x)
static const vg_option_t pipeline_options[] = {
    {.name = "queue",
     .type = VG_OPT_INT,
     .offset = OFF(queue),
     .def.i = 8,
     .min = 1,
     .max = 1024,
     .help = "frames buffered between ingest and analysis"},
    {.name = "drop",
     .type = VG_OPT_ENUM,
     .offset = OFF(drop),
     .def.i = VG_DROP_AUTO,
     .choices = drop_names,
     .help = "when analysis falls behind: auto (drop the oldest frame for live inputs, never "
             "for files), never, oldest"},
    {.name = "threads",
     .type = VG_OPT_INT,
     .offset = OFF(threads),
     .def.i = 0,
     .min = 0,
     .max = 256,
     .help = "slice-job threads for analysis stages (0: one per core)"},
    {.name = "memory_limit",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(memory_limit),
     .def.d = 2048,
     .min = 64,
     .max = 1e6,
     .unit = "MB",
     .help = "refuse settings expected to need more memory than this (input size, queue; "
             "vigie serve also has limits.camera_memory_mb)"},
    {.name = NULL},
};
#undef OFF

const vg_option_group_t vg_pipeline_option_group = {"pipeline", "frame pipeline", pipeline_options};

/* The memory model, fitted on `vigie analyze --to 6` of vtest.avi (768x576) at analysis widths
 * 640, 1536 and 3072 with queues of 8 and 64 (maximum RSS): about 96 MB whatever the size, 115
 * bytes of analysers' state per analysis pixel, and 2 bytes per pixel of each frame in flight
 * (3 more with colour). Frames in flight: the queue and the few the stages hold. */
#define MEM_FIXED_MB        96.0
#define MEM_STATE_PER_PX    115.0
#define MEM_FRAME_PER_PX    2.0
#define MEM_COLOR_PER_PX    3.0
#define MEM_FRAMES_IN_STAGE 4

double vg_pipeline_memory_mb(const vg_settings_t *settings, int in_w, int in_h, int color,
                             double *limit_mb)
{
    vg_source_params_t sp;
    vg_pipeline_params_t pp;
    char err[256];
    int w, h;
    memset(&sp, 0, sizeof(sp));
    memset(&pp, 0, sizeof(pp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    vg_opt_defaults(&pp, pipeline_options);
    if (settings) {
        vg_settings_apply(settings, &vg_source_option_group, &sp, err, sizeof(err));
        vg_settings_apply(settings, &vg_pipeline_option_group, &pp, err, sizeof(err));
    }
    if (in_w <= 0 || in_h <= 0) {
        in_w = sp.width > 0 ? sp.width : 1920;
        in_h = sp.height > 0 ? sp.height : (int)((double)in_w * 9 / 16 + 0.5);
    }
    vg_source_output_size(&sp, in_w, in_h, &w, &h);
    double px = (double)w * h;
    double frame = MEM_FRAME_PER_PX + (color || sp.color ? MEM_COLOR_PER_PX : 0);
    double mb =
        MEM_FIXED_MB + px * (MEM_STATE_PER_PX + (pp.queue + MEM_FRAMES_IN_STAGE) * frame) / 1e6;
    if (limit_mb) *limit_mb = pp.memory_limit;
    vg_opt_free(&sp, vg_source_option_group.options);
    vg_opt_free(&pp, pipeline_options);
    return mb;
}

struct vg_pipeline {
    vg_pipeline_params_t p;
    const vg_scene_t *scene;
    vg_scene_t *own_scene;
    char *camera;
    vg_stage_t *stages;
    int nb_stages;
    vg_pool_t *pool;
    atomic_int stop;
    vg_source_t *_Atomic src;
    int64_t next_event_id;
    int64_t events;
    const vg_event_sink_t *sink;
    const vg_count_sink_t *count_sink;
    void *user;
    vg_settings_t *settings;   /* the values in force (copy) */
    pthread_mutex_t live_lock; /* pending, below */
    vg_settings_t *pending;    /* new values waiting for the next frame */
    atomic_int has_pending;
    vg_stage_host_t host;   /* what the stages' vg_stage_emit* reach */
    vg_stage_time_t *times; /* per stage, beside stages (under times_lock) */
    double ingest_cpu;      /* s of the ingest thread's CPU, of finished runs (times_lock) */
    pthread_mutex_t times_lock;
    vg_hist_t decode;  /* ingest CPU per frame read (times_lock) */
    vg_queue_t *run_q; /* the running queue, for its depth (times_lock) */
    /* the camera's own motion (camera_motion.mode moving or drone) */
    vg_ego_params_t ego_p;
    vg_ego_t *ego;
    vg_frame_t *view_last;    /* the last frame given to the stages, in the scene's view */
    vg_frame_t *spare;        /* a frame to resample into, once nobody else holds it */
    int was_paused;           /* frames were held since the last analysed one */
    double margin[4];         /* left, right, top, bottom: px of the view kept frozen */
    double margin_t[4];       /* when each was last reached */
    vg_ego_result_t view;     /* the last frame's estimate (times_lock) */
    vg_stage_time_t ego_time; /* (times_lock) */
    int64_t held;             /* frames not analysed while the camera moved (times_lock) */
};

/* ---- live option changes ---- */

static int stage_takes(const vg_pipeline_t *p, const char *group)
{
    for (int i = 0; i < p->nb_stages; i++) {
        const char *const *g = p->stages[i].cls->live_groups;
        for (; g && *g; g++)
            if (!strcmp(*g, group)) return 1;
    }
    return 0;
}

/* Is the change of @key (either value may be NULL: absent) one the pipeline can take live? */
static int live_change_ok(const vg_pipeline_t *p, const char *key, char *err, size_t errlen)
{
    const vg_option_group_t *const *groups = vg_option_groups();
    const char *dot = strchr(key, '.');
    if (dot) {
        for (int g = 0; groups[g]; g++) {
            size_t n = strlen(groups[g]->name);
            if ((size_t)(dot - key) != n || strncmp(key, groups[g]->name, n)) continue;
            const vg_option_t *o = vg_opt_find(groups[g]->options, dot + 1);
            if (o && (o->flags & VG_OPT_LIVE) && stage_takes(p, groups[g]->name)) return 1;
        }
    }
    snprintf(err, errlen, "%s cannot change while camera '%s' runs: it needs a restart", key,
             p->camera);
    return 0;
}

static int changed(const vg_settings_t *a, const vg_settings_t *b, const char *key)
{
    const char *va = vg_settings_lookup(a, key), *vb = vg_settings_lookup(b, key);
    return (va == NULL) != (vb == NULL) || (va && strcmp(va, vb));
}

int vg_pipeline_update(vg_pipeline_t *p, const vg_settings_t *settings, char *err, size_t errlen)
{
    vg_settings_t *copy = NULL;
    int ret = vg_settings_validate(settings, vg_option_groups(), err, errlen);
    if (ret < 0) return ret;
    for (int pass = 0; pass < 2; pass++) {
        const vg_settings_t *s = pass ? p->settings : settings;
        for (size_t i = 0; i < vg_settings_count(s); i++) {
            const char *key;
            vg_settings_get(s, i, &key, NULL, NULL);
            if (changed(p->settings, settings, key) && !live_change_ok(p, key, err, errlen))
                return VG_EBUSY;
        }
    }
    if ((ret = vg_settings_new(&copy)) < 0 || (ret = vg_settings_merge(copy, settings)) < 0) {
        vg_settings_free(&copy);
        return ret;
    }
    pthread_mutex_lock(&p->live_lock);
    vg_settings_free(&p->pending);
    p->pending = copy;
    atomic_store(&p->has_pending, 1);
    pthread_mutex_unlock(&p->live_lock);
    return 0;
}

/* On the analysis thread, between two frames. */
static void apply_pending(vg_pipeline_t *p)
{
    vg_settings_t *s;
    pthread_mutex_lock(&p->live_lock);
    s = p->pending;
    p->pending = NULL;
    atomic_store(&p->has_pending, 0);
    pthread_mutex_unlock(&p->live_lock);
    if (!s) return;
    for (int i = 0; i < p->nb_stages; i++) {
        vg_stage_t *st = &p->stages[i];
        char err[512] = "";
        if (st->cls->update && st->cls->update(st, s, err, sizeof(err)) < 0)
            vg_log(COMP, VG_LOG_ERROR, "camera '%s': analyser '%s' could not take new options: %s",
                   p->camera, st->cls->name, err);
    }
    vg_settings_free(&p->settings);
    p->settings = s;
    vg_log(COMP, VG_LOG_INFO, "camera '%s': new option values in force", p->camera);
}

/* ---- the stages' host ---- */

static int64_t host_new_event_id(void *opaque)
{
    vg_pipeline_t *p = opaque;
    return p->next_event_id++;
}

static int host_emit(void *opaque, vg_event_t *ev)
{
    vg_pipeline_t *p = opaque;
    if (!ev->event_id) ev->event_id = host_new_event_id(p);
    vg_event_set_camera(ev, p->camera);
    p->events++;
    return p->sink && p->sink->write ? p->sink->write(p->sink->opaque, ev) : 0;
}

static int host_emit_count(void *opaque, vg_count_t *c)
{
    vg_pipeline_t *p = opaque;
    snprintf(c->camera, sizeof(c->camera), "%s", p->camera);
    return p->count_sink && p->count_sink->write ? p->count_sink->write(p->count_sink->opaque, c)
                                                 : 0;
}

void vg_pipeline_set_user(vg_pipeline_t *p, void *user)
{
    p->user = user;
}

void *vg_pipeline_user(const vg_pipeline_t *p)
{
    return p->user;
}

int vg_pipeline_new(vg_pipeline_t **out, const vg_scene_t *scene, const char *camera,
                    const vg_settings_t *settings, char *err, size_t errlen)
{
    vg_pipeline_t *p = vg_calloc(1, sizeof(*p));
    int ret;
    if (!p) return VG_ENOMEM;
    atomic_init(&p->stop, 0);
    atomic_init(&p->has_pending, 0);
    pthread_mutex_init(&p->live_lock, NULL);
    pthread_mutex_init(&p->times_lock, NULL);
    p->next_event_id = 1;
    p->host = (vg_stage_host_t){host_emit, host_emit_count, host_new_event_id, p};
    if ((ret = vg_settings_new(&p->settings)) < 0) goto fail;
    if (settings && (ret = vg_settings_merge(p->settings, settings)) < 0) goto fail;
    if ((ret = vg_opt_defaults(&p->p, pipeline_options)) < 0) goto fail;
    if ((ret = vg_settings_apply(settings, &vg_pipeline_option_group, &p->p, err, errlen)) < 0)
        goto fail;
    vg_ego_params_default(&p->ego_p);
    if ((ret = vg_settings_apply(settings, &vg_ego_option_group, &p->ego_p, err, errlen)) < 0)
        goto fail;
    p->ego_time.name = "camera_motion";
    if (!scene) {
        if ((ret = vg_scene_new_empty(&p->own_scene)) < 0) goto fail;
        scene = p->own_scene;
    }
    p->scene = scene;
    p->camera = vg_strdup(camera ? camera : "");
    if (!p->camera) {
        ret = VG_ENOMEM;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    vg_pipeline_free(&p);
    return ret;
}

int vg_pipeline_add_stage(vg_pipeline_t *p, const vg_stage_class_t *cls,
                          const vg_settings_t *settings, char *err, size_t errlen)
{
    vg_stage_t *stages, *st;
    vg_stage_time_t *times;
    vg_option_group_t g = {cls->name, cls->help, cls->options};
    int ret;
    times = vg_realloc(p->times, (size_t)(p->nb_stages + 1) * sizeof(*times));
    if (!times) return VG_ENOMEM;
    p->times = times;
    memset(&times[p->nb_stages], 0, sizeof(*times));
    times[p->nb_stages].name = cls->name;
    stages = vg_realloc(p->stages, (size_t)(p->nb_stages + 1) * sizeof(*stages));
    if (!stages) return VG_ENOMEM;
    p->stages = stages;
    st = &stages[p->nb_stages];
    memset(st, 0, sizeof(*st));
    st->cls = cls;
    st->params = vg_calloc(1, cls->params_size ? cls->params_size : 1);
    st->priv = vg_calloc(1, cls->priv_size ? cls->priv_size : 1);
    if (!st->params || !st->priv) {
        ret = VG_ENOMEM;
        goto fail;
    }
    if (cls->options) {
        if ((ret = vg_opt_defaults(st->params, cls->options)) < 0) goto fail;
        if ((ret = vg_settings_apply(settings, &g, st->params, err, errlen)) < 0) goto fail;
    }
    if (cls->configure && (ret = cls->configure(st, settings, err, errlen)) < 0) {
        if (cls->close) cls->close(st);
        goto fail;
    }
    p->nb_stages++;
    return 0;
fail:
    if (cls->options) vg_opt_free(st->params, cls->options);
    vg_free(st->params);
    vg_free(st->priv);
    return ret;
}

int vg_pipeline_times(const vg_pipeline_t *p, vg_stage_time_t *out, int max, double *ingest_cpu)
{
    vg_pipeline_t *mp = (vg_pipeline_t *)p; /* the lock only */
    int n = p->nb_stages < max ? p->nb_stages : max;
    pthread_mutex_lock(&mp->times_lock);
    if (n > 0) memcpy(out, p->times, (size_t)n * sizeof(*out));
    if (ingest_cpu) *ingest_cpu = p->ingest_cpu;
    pthread_mutex_unlock(&mp->times_lock);
    return n < 0 ? 0 : n;
}

void vg_pipeline_ingest_stats(const vg_pipeline_t *p, vg_ingest_stats_t *st)
{
    vg_pipeline_t *mp = (vg_pipeline_t *)p;
    pthread_mutex_lock(&mp->times_lock);
    st->decode = p->decode;
    st->queued = p->run_q ? (int)vg_queue_size(p->run_q) : 0;
    st->queue = p->p.queue;
    pthread_mutex_unlock(&mp->times_lock);
}

int vg_pipeline_needs_color(const vg_pipeline_t *p)
{
    for (int i = 0; i < p->nb_stages; i++)
        if (p->stages[i].cls->flags & VG_STAGE_NEEDS_COLOR) return 1;
    return 0;
}

int vg_pipeline_needs_chroma(const vg_pipeline_t *p)
{
    for (int i = 0; i < p->nb_stages; i++)
        if (p->stages[i].cls->flags & VG_STAGE_NEEDS_CHROMA) return 1;
    return 0;
}

void vg_pipeline_stop(vg_pipeline_t *p)
{
    vg_source_t *s;
    atomic_store(&p->stop, 1);
    s = atomic_load(&p->src);
    if (s) vg_source_interrupt(s);
}

void vg_pipeline_free(vg_pipeline_t **pp)
{
    vg_pipeline_t *p = *pp;
    if (!p) return;
    for (int i = 0; i < p->nb_stages; i++) {
        vg_stage_t *st = &p->stages[i];
        if (st->cls->close) st->cls->close(st);
        if (st->cls->options) vg_opt_free(st->params, st->cls->options);
        vg_free(st->params);
        vg_free(st->priv);
    }
    vg_free(p->stages);
    vg_free(p->times);
    vg_ego_free(&p->ego);
    vg_frame_unref(&p->view_last);
    vg_frame_unref(&p->spare);
    vg_settings_free(&p->settings);
    vg_settings_free(&p->pending);
    pthread_mutex_destroy(&p->live_lock);
    pthread_mutex_destroy(&p->times_lock);
    vg_pool_free(&p->pool);
    vg_scene_free(&p->own_scene);
    vg_opt_free(&p->p, pipeline_options);
    vg_free(p->camera);
    vg_free(p);
    *pp = NULL;
}

void vg_pipeline_set_count_sink(vg_pipeline_t *p, const vg_count_sink_t *sink)
{
    p->count_sink = sink;
}

/* ---- privacy masks ---- */

static void apply_privacy(const vg_scene_t *scene, vg_frame_t *f)
{
    double sx = (double)f->image.w / f->in_w, sy = (double)f->image.h / f->in_h;
    for (int i = 0; i < scene->nb_privacy; i++) {
        vg__fill_polygon(&f->image, &scene->privacy[i], sx, sy, 0);
        if (f->color.data) vg__fill_polygon(&f->color, &scene->privacy[i], sx, sy, 0);
    }
}

/* ---- threads ---- */

typedef struct ingest {
    vg_pipeline_t *p;
    vg_source_t *src;
    vg_queue_t *q;
    int status; /* the source's terminal status, read after join or after the queue closes */
    double cpu; /* s of this thread's CPU, set as it ends */
} ingest_t;

static double thread_cpu(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void free_frame_item(void *item)
{
    vg_frame_t *f = item;
    vg_frame_unref(&f);
}

static void *ingest_main(void *opaque)
{
    ingest_t *in = opaque;
    int ret;
    vg_log_set_camera(in->p->camera);
    for (;;) {
        vg_frame_t *f = NULL;
        if (atomic_load(&in->p->stop)) {
            ret = VG_ESTOPPED;
            break;
        }
        double c0 = thread_cpu();
        ret = vg_source_read(in->src, &f);
        if (ret < 0) break;
        double c1 = thread_cpu();
        pthread_mutex_lock(&in->p->times_lock);
        vg_hist_add(&in->p->decode, c1 - c0);
        pthread_mutex_unlock(&in->p->times_lock);
        if (vg_queue_push(in->q, f) < 0) {
            vg_frame_unref(&f);
            ret = VG_ESTOPPED;
            break;
        }
    }
    in->status = ret;
    in->cpu = thread_cpu();
    vg_queue_close(in->q);
    return NULL;
}

static int run_stages(vg_pipeline_t *p, vg_analysis_t *a, int phase)
{
    for (int i = 0; i < p->nb_stages; i++) {
        vg_stage_t *st = &p->stages[i];
        int ret = 0;
        if (phase == 0 && st->cls->init) ret = st->cls->init(st, a);
        if (phase == 1) {
            /* timed: where the time goes (vg_pipeline_times); two clock reads a stage a frame */
            double w0 = vg_clock_now(NULL), c0 = thread_cpu();
            ret = st->cls->process(st, a);
            double c1 = thread_cpu(), w1 = vg_clock_now(NULL);
            pthread_mutex_lock(&p->times_lock);
            vg_stage_time_t *tm = &p->times[i];
            tm->cpu += c1 - c0;
            tm->wall += w1 - w0;
            tm->frames++;
            vg_hist_add(&tm->hist, w1 - w0);
            pthread_mutex_unlock(&p->times_lock);
        }
        if (phase == 2 && st->cls->flush) ret = st->cls->flush(st, a);
        if (ret < 0) {
            if (a->frame)
                vg_log(COMP, VG_LOG_ERROR, "camera '%s': analyser '%s' failed at frame %lld: %s",
                       p->camera, st->cls->name, (long long)a->frame->index, vg_strerror(ret));
            else
                vg_log(COMP, VG_LOG_ERROR, "camera '%s': analyser '%s' failed: %s", p->camera,
                       st->cls->name, vg_strerror(ret));
            return ret;
        }
    }
    return 0;
}

/* ---- the camera's own motion ---- */

/* How far the view's edges are uncovered by a frame taken with @m (left, right, top, bottom, px,
 * one more for the bilinear neighbour). */
static void uncovered(const double m[9], int w, int h, double out[4])
{
    double u[4], v[4];
    for (int k = 0; k < 4; k++) {
        double x = k & 1 ? w - 1 : 0, y = k & 2 ? h - 1 : 0, d = m[6] * x + m[7] * y + m[8];
        u[k] = (m[0] * x + m[1] * y + m[2]) / d, v[k] = (m[3] * x + m[4] * y + m[5]) / d;
    }
    double xl = fmin(u[0], u[2]), xr = fmax(u[1], u[3]);
    double yt = fmin(v[0], v[1]), yb = fmax(v[2], v[3]);
    out[0] = xl < 0 ? ceil(-xl) + 1 : 0;
    out[1] = xr > w - 1 ? ceil(xr - (w - 1)) + 1 : 0;
    out[2] = yt < 0 ? ceil(-yt) + 1 : 0;
    out[3] = yb > h - 1 ? ceil(yb - (h - 1)) + 1 : 0;
    for (int k = 0; k < 4; k++) {
        double lim = (k < 2 ? w : h) / 4.0;
        if (out[k] > lim) out[k] = lim;
    }
}

/* The bands of @dst outside the view's inner rectangle (margins l, r, t, b, px) from @src. */
static void freeze_bands(vg_image_t *dst, const vg_image_t *src, int l, int r, int t, int b)
{
    int bpp = vg_pix_fmt_bpp(dst->fmt);
    if (l + r >= dst->w || t + b >= dst->h) {
        vg_image_copy(dst, src);
        return;
    }
    for (int y = 0; y < dst->h; y++) {
        uint8_t *o = vg_image_row(dst, y);
        const uint8_t *i = vg_image_row(src, y);
        if (y < t || y >= dst->h - b) {
            memcpy(o, i, (size_t)dst->w * bpp);
            continue;
        }
        if (l) memcpy(o, i, (size_t)l * bpp);
        if (r) memcpy(o + (dst->w - r) * bpp, i + (dst->w - r) * bpp, (size_t)r * bpp);
    }
}

/* A margin the camera's motion uncovers stays frozen this long after it was last reached: a
 * shake uncovers its edges by turns, and a strip that came and went with it would look, to the
 * stages, like something appearing and vanishing there. */
#define MARGIN_HOLD 3.0

/*
 * Measure *@pf's motion against the scene's view; resample it into the view when it moved (the
 * parts of the view it does not cover keep the last analysed frame's pixels: no edge for the
 * background model to see), or say it is to be held (*@held: the camera moves or looks
 * elsewhere). *@pf may be replaced by the resampled frame.
 */
static int stabilise(vg_pipeline_t *p, vg_frame_t **pf, int *held, vg_pool_t *pool)
{
    vg_frame_t *f = *pf, *o = NULL;
    vg_ego_result_t r;
    int ret;
    double w0 = vg_clock_now(NULL), c0 = thread_cpu();
    *held = 0;
    if (!p->ego && (ret = vg_ego_new(&p->ego, &p->ego_p, f->image.w, f->image.h)) < 0) return ret;
    if ((ret = vg_ego_estimate(p->ego, &f->image, f->t, &r, pool)) < 0) return ret;
    int frozen = 0;
    if (r.state == VG_VIEW_STILL || r.state == VG_VIEW_COMPENSATED) {
        double cur[4];
        uncovered(r.h, f->image.w, f->image.h, cur);
        for (int k = 0; k < 4; k++) {
            if (cur[k] >= p->margin[k] || f->t - p->margin_t[k] > MARGIN_HOLD ||
                f->t < p->margin_t[k])
                p->margin[k] = cur[k], p->margin_t[k] = f->t;
            frozen |= p->margin[k] > 0;
        }
    }
    if (r.state == VG_VIEW_MOVING || r.state == VG_VIEW_OFF) {
        *held = 1;
        p->was_paused = 1;
    } else if ((r.state == VG_VIEW_COMPENSATED || frozen) && p->view_last &&
               p->view_last->image.w == f->image.w && p->view_last->image.h == f->image.h &&
               !p->view_last->color.data == !f->color.data &&
               !p->view_last->cb.data == !f->cb.data) {
        if (p->spare && vg_frame_is_writable(p->spare)) {
            o = p->spare;
            p->spare = NULL;
        } else {
            vg_frame_unref(&p->spare);
            int with = (f->color.data ? VG_FRAME_COLOR : 0) | (f->cb.data ? VG_FRAME_CHROMA : 0);
            if ((ret = vg_frame_new(&o, f->image.w, f->image.h, with)) < 0) return ret;
        }
        /* a similarity (mode moving) takes the affine warp's shift path; a homography (drone),
         * the perspective one */
        vg_warp_perspective(&o->image, &f->image, r.h);
        if (f->color.data) vg_warp_perspective(&o->color, &f->color, r.h);
        if (f->cb.data) {
            double hc[9];
            vg_ego_scale_h(hc, r.h, 2);
            vg_warp_perspective(&o->cb, &f->cb, hc);
            vg_warp_perspective(&o->cr, &f->cr, hc);
        }
        {
            /* what the frame does not cover lies within the margins (the corners' extents),
             * and a pixel more for the fixed point's rounding: from the last analysed frame */
            int l = (int)fmax(p->margin[0], 1), rt = (int)fmax(p->margin[1], 1),
                t = (int)fmax(p->margin[2], 1), b = (int)fmax(p->margin[3], 1);
            freeze_bands(&o->image, &p->view_last->image, l, rt, t, b);
            if (o->color.data) freeze_bands(&o->color, &p->view_last->color, l, rt, t, b);
            if (o->cb.data) {
                int hl = (l + 1) / 2, hr = (rt + 1) / 2, ht = (t + 1) / 2, hb = (b + 1) / 2;
                freeze_bands(&o->cb, &p->view_last->cb, hl, hr, ht, hb);
                freeze_bands(&o->cr, &p->view_last->cr, hl, hr, ht, hb);
            }
        }
        vg_frame_copy_props(o, f);
        vg_frame_unref(pf);
        *pf = f = o;
    }
    if (!*held) {
        if (p->was_paused) f->discontinuity = 1; /* frames were held since the last analysed */
        p->was_paused = 0;
        vg_frame_unref(&p->spare);
        p->spare = p->view_last;
        p->view_last = vg_frame_ref(f);
    }
    double c1 = thread_cpu(), w1 = vg_clock_now(NULL);
    pthread_mutex_lock(&p->times_lock);
    p->view = r;
    p->held += *held;
    p->ego_time.cpu += c1 - c0;
    p->ego_time.wall += w1 - w0;
    p->ego_time.frames++;
    vg_hist_add(&p->ego_time.hist, w1 - w0);
    pthread_mutex_unlock(&p->times_lock);
    return 0;
}

int vg_pipeline_view(const vg_pipeline_t *p, vg_ego_result_t *r, vg_stage_time_t *tm, int64_t *held)
{
    vg_pipeline_t *mp = (vg_pipeline_t *)p; /* the lock only */
    pthread_mutex_lock(&mp->times_lock);
    if (r) *r = p->view;
    if (tm) *tm = p->ego_time;
    if (held) *held = p->held;
    pthread_mutex_unlock(&mp->times_lock);
    return p->ego_p.mode;
}

int vg_pipeline_run(vg_pipeline_t *p, vg_source_t *src, const vg_event_sink_t *sink,
                    vg_progress_fn progress, void *popaque)
{
    vg_source_info_t info;
    ingest_t in = {p, src, NULL, 0, 0};
    vg_analysis_t a;
    pthread_t th;
    int ret, status = 0, mode, stage_failed = 0;
    double start = vg_clock_now(NULL), last_report = start;
    vg_progress_t pr;

    memset(&a, 0, sizeof(a));
    memset(&pr, 0, sizeof(pr));
    vg_source_get_info(src, &info);
    mode = p->p.drop == VG_DROP_OLDEST ||
                   (p->p.drop == VG_DROP_AUTO &&
                    (info.kind == VG_SOURCE_NETWORK || info.kind == VG_SOURCE_DEVICE))
               ? VG_QUEUE_DROP_OLDEST
               : VG_QUEUE_BLOCK;
    if (!p->pool && p->nb_stages) {
        int n = p->p.threads;
        if (!n) {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c < 1 ? 1 : c > 64 ? 64 : (int)c;
        }
        if ((ret = vg_pool_new(&p->pool, n)) < 0) return ret;
    }
    if ((ret = vg_queue_new(&in.q, (size_t)p->p.queue, mode, free_frame_item)) < 0) return ret;
    p->sink = sink;
    a.scene = p->scene;
    a.camera = p->camera;
    a.pool = p->pool;
    a.pipeline = p;
    a.host = &p->host;
    if ((ret = run_stages(p, &a, 0)) < 0) {
        vg_queue_free(&in.q);
        return ret;
    }
    atomic_store(&p->src, src);
    pthread_mutex_lock(&p->times_lock);
    p->run_q = in.q;
    pthread_mutex_unlock(&p->times_lock);
    if (atomic_load(&p->stop)) vg_source_interrupt(src);
    if (pthread_create(&th, NULL, ingest_main, &in) != 0) {
        atomic_store(&p->src, NULL);
        pthread_mutex_lock(&p->times_lock);
        p->run_q = NULL;
        pthread_mutex_unlock(&p->times_lock);
        vg_queue_free(&in.q);
        return VG_ENOMEM;
    }
    pr.duration = info.duration;
    for (;;) {
        void *item;
        ret = vg_queue_pop(in.q, &item, -1);
        if (ret == VG_ECLOSED) break;
        vg_frame_t *f = item;
        int held = 0;
        ret = 0;
        if (p->ego_p.mode != VG_CAMERA_FIXED && (ret = stabilise(p, &f, &held, p->pool)) < 0)
            vg_log(COMP, VG_LOG_ERROR,
                   "camera '%s': measuring the camera's motion failed at frame %lld: %s", p->camera,
                   (long long)f->index, vg_strerror(ret));
        if (!held && ret == 0) {
            apply_privacy(p->scene, f);
            if (atomic_load(&p->has_pending)) apply_pending(p);
            memset(a.slot, 0, sizeof(a.slot));
            a.frame = f;
            ret = run_stages(p, &a, 1);
            if (p->ego && ret == 0) vg_ego_set_foreground(p->ego, a.slot[VG_SLOT_FOREGROUND]);
        }
        pr.frames++;
        pr.t = f->t;
        vg_frame_unref(&f);
        a.frame = NULL;
        if (ret < 0) {
            status = ret;
            stage_failed = 1;
            vg_pipeline_stop(p);
            break;
        }
        double now = vg_clock_now(NULL);
        if (p->ego) {
            pr.view = (int)p->view.state; /* this thread writes it: no lock to read */
            pr.held = p->held;
        }
        if (progress && now - last_report >= 0.5) {
            pr.elapsed = now - start;
            pr.fps = pr.elapsed > 0 ? pr.frames / pr.elapsed : 0;
            pr.dropped = (int64_t)vg_queue_dropped(in.q);
            pr.events = p->events;
            progress(popaque, &pr);
            last_report = now;
        }
    }
    vg_queue_close(in.q); /* unblocks the ingest thread if analysis stopped first */
    pthread_join(th, NULL);
    pthread_mutex_lock(&p->times_lock);
    p->ingest_cpu += in.cpu;
    p->run_q = NULL;
    pthread_mutex_unlock(&p->times_lock);
    atomic_store(&p->src, NULL);
    if (!status && in.status != VG_EOF) status = in.status;
    /* End open events whatever happened, unless a stage itself failed. */
    a.frame = NULL;
    if (!stage_failed) {
        int fr = run_stages(p, &a, 2);
        if (!status) status = fr;
    }
    pr.elapsed = vg_clock_now(NULL) - start;
    pr.fps = pr.elapsed > 0 ? pr.frames / pr.elapsed : 0;
    pr.dropped = (int64_t)vg_queue_dropped(in.q);
    pr.events = p->events;
    pr.final = 1;
    if (progress) progress(popaque, &pr);
    vg_queue_free(&in.q);
    return status;
}

/* ---- assembly ---- */

int vg_pipeline_new_for_scene(vg_pipeline_t **out, const vg_pipeline_spec_t *spec,
                              vg_source_params_t *input, char *err, size_t errlen)
{
    const vg_stage_class_t *cls[64];
    const vg_scene_t *scene = spec->scene;
    const char *camera = spec->camera;
    vg_settings_t *all = NULL;
    vg_pipeline_t *p = NULL;
    vg_source_params_t in;
    int n, ret, have_input = 0;

    if ((ret = vg_settings_new(&all)) < 0) goto fail;
    if ((scene && (ret = vg_settings_merge(all, scene->settings)) < 0) ||
        (spec->settings && (ret = vg_settings_merge(all, spec->settings)) < 0))
        goto fail;
    if ((ret = vg_settings_validate(all, vg_option_groups(), err, errlen)) < 0) goto fail;
    for (int z = 0; scene && z < scene->nb_zones; z++)
        if ((ret = vg_settings_validate(scene->zones[z].settings, vg_option_groups(), err,
                                        errlen)) < 0)
            goto fail;
    if ((ret = n = vg_stage_select(spec->analysers, cls, 64, err, errlen)) < 0) goto fail;
    if (!camera) camera = scene && scene->camera ? scene->camera : "";
    if ((ret = vg_pipeline_new(&p, scene, camera, all, err, errlen)) < 0) goto fail;
    for (int i = 0; i < n; i++)
        if ((ret = vg_pipeline_add_stage(p, cls[i], all, err, errlen)) < 0) goto fail;
    for (const vg_stage_class_t *const *x = spec->extra; x && *x; x++)
        if ((ret = vg_pipeline_add_stage(p, *x, all, err, errlen)) < 0) goto fail;
    if (input) {
        memset(&in, 0, sizeof(in));
        have_input = 1;
        if ((ret = vg_opt_defaults(&in, vg_source_option_group.options)) < 0 ||
            (ret = vg_settings_apply(all, &vg_source_option_group, &in, err, errlen)) < 0)
            goto fail;
        if (vg_pipeline_needs_color(p)) in.color = 1;
        if (vg_pipeline_needs_chroma(p)) in.chroma = 1;
        *input = in;
    }
    vg_settings_free(&all);
    *out = p;
    return 0;
fail:
    if (ret == VG_ENOMEM && err && errlen && !err[0]) snprintf(err, errlen, "out of memory");
    if (have_input) vg_opt_free(&in, vg_source_option_group.options);
    vg_pipeline_free(&p);
    vg_settings_free(&all);
    return ret;
}
