/*
 * The camera supervisor of `vigie serve`: one thread per camera runs vg_pipeline_run (which
 * starts the camera's ingest thread) over its input with every analyser plus the server's own
 * last stage, "serve". Events reported by the analysers wait in the camera's pending list until
 * the "serve" stage of the same frame attaches the frame and the person boxes to the starts and
 * hands the whole list, in order, to the writer. A camera that cannot start (bad scene, input
 * unreachable) or stops with an error is marked failed and tried again after 1, 2, 4 ... 60 s; a
 * file that ends without loop is "ended". A scene saved through the API or a fixture from a
 * decision restarts that camera's pipeline only (or is applied live when only live options
 * change). Nothing a camera does can stop another.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/scene.h>
#include <vigie/source.h>

#include "server_priv.h"

#define COMP "serve"

/* ---- cameras ---- */

/* The camera's thread should end: the server stops, or a reload removed the camera. */
static int cam_quit(const vg_cam_t *c)
{
    return atomic_load(&c->srv->stopping) || atomic_load(&c->gone);
}

static void cam_status(vg_cam_t *c, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cam_status(vg_cam_t *c, const char *status, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&c->lock);
    int changed = strcmp(c->status, status) != 0;
    if (changed) vg_store_now(c->since);
    snprintf(c->status, sizeof(c->status), "%s", status);
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->lock);
    if (changed) vg__mqtt_status(c->srv, c->cfg->name, status);
}

/* A new job at the end of the camera's pending list (analysis thread), stamped now. */
static vg_job_t *pend_new(vg_cam_t *c)
{
    vg_job_t *j = vg_calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->cam = c;
    j->run = c->run;
    vg_store_now(j->wall);
    if (c->pend_tail)
        c->pend_tail->next = j;
    else
        c->pend_head = j;
    c->pend_tail = j;
    return j;
}

static int cam_sink(void *opaque, const vg_event_t *ev)
{
    vg_job_t *j = pend_new(opaque);
    if (!j) return VG_ENOMEM;
    j->ev = *ev;
    return 0;
}

static int cam_count_sink(void *opaque, const vg_count_t *cnt)
{
    vg_job_t *j = pend_new(opaque);
    if (!j) return VG_ENOMEM;
    j->is_count = 1;
    j->count = *cnt;
    return 0;
}

/* The priority of an alert (docs/server.md, "Priorities"): its event type's (the config's
 * `priorities`), unless its zone or line in the scene has one; a type ranked high stays high. */
static int priority_of(const vg_server_config_t *cfg, const vg_scene_t *sc, const vg_event_t *ev)
{
    int p = cfg->priority[ev->type];
    if (p == VG_PRIORITY_HIGH || !sc || !ev->zone[0]) return p;
    for (int i = 0; i < sc->nb_zones; i++)
        if (!strcmp(sc->zones[i].name, ev->zone) && sc->zones[i].priority)
            return sc->zones[i].priority;
    for (int i = 0; i < sc->nb_lines; i++)
        if (!strcmp(sc->lines[i].name, ev->zone) && sc->lines[i].priority)
            return sc->lines[i].priority;
    return p;
}

/* Hand the pending events to the writer; starts get the frame (when @a has one) and their
 * priority. */
static int cam_flush_pending(vg_cam_t *c, const vg_analysis_t *a)
{
    int ret = 0;
    for (vg_job_t *j = c->pend_head; j; j = j->next) {
        if (a && a->frame) j->arrived = a->frame->arrived;
        if (j->is_count || j->ev.phase != VG_PHASE_START) continue;
        j->priority = priority_of(c->srv->cfg, a ? a->scene : NULL, &j->ev);
        if (a && a->frame && !j->snap.frame) {
            ret = vg__snap_take(&j->snap, a);
            if (ret < 0) break;
            if (j->ev.type == VG_EVENT_WEAPON && j->ev.has_box && a->frame->in_w > 0 &&
                a->frame->in_h > 0) { /* the object stays as it is in the picture */
                float sx = (float)a->frame->image.w / a->frame->in_w,
                      sy = (float)a->frame->image.h / a->frame->in_h;
                j->snap.keep[0] = (float)j->ev.box[0] * sx,
                j->snap.keep[1] = (float)j->ev.box[1] * sy;
                j->snap.keep[2] = (float)j->ev.box[2] * sx,
                j->snap.keep[3] = (float)j->ev.box[3] * sy;
                j->snap.has_keep = 1;
            }
            vg__clip_event(c, j, a);
        }
    }
    vg__writer_push(c->srv, c->pend_head, c->pend_tail);
    c->pend_head = c->pend_tail = NULL;
    return ret;
}

static int serve_process(vg_stage_t *st, vg_analysis_t *a)
{
    vg_cam_t *c = vg_pipeline_user(a->pipeline);
    int ret;
    if (!c) return 0;
    if ((ret = cam_flush_pending(c, a)) < 0) return ret;
    if (!atomic_load(&c->held)) { /* its lease lost: not one frame more */
        vg_pipeline_stop(a->pipeline);
        return 0;
    }
    vg__clip_frame(c, a);
    atomic_store(&c->clip_bytes, (int64_t)c->clips.bytes);
    /* A still for the console: once a second. */
    if (a->frame->t - c->still_t >= 1.0 || a->frame->t < c->still_t) {
        vg_snap_t snap;
        if (vg__snap_take(&snap, a) == 0) {
            pthread_mutex_lock(&c->lock);
            vg__snap_clear(&c->still);
            c->still = snap;
            c->in_w = a->frame->in_w;
            c->in_h = a->frame->in_h;
            pthread_mutex_unlock(&c->lock);
            c->still_t = a->frame->t;
        }
    }
    return 0;
}

static int serve_flush(vg_stage_t *st, vg_analysis_t *a)
{
    vg_cam_t *c = vg_pipeline_user(a->pipeline);
    return c ? cam_flush_pending(c, a) : 0; /* no frame now: starts keep their priority */
}

static const vg_stage_class_t serve_stage = {
    .name = "serve",
    .help = "vigie serve: hands events with their frame to the store writer",
    .process = serve_process,
    .flush = serve_flush,
};

static void cam_progress(void *opaque, const vg_progress_t *p)
{
    vg_cam_t *c = opaque;
    double now = vg__now_mono();
    pthread_mutex_lock(&c->lock);
    if (p->frames > c->frames || c->last_frame == 0) c->last_frame = now;
    c->fps = p->fps;
    c->frames = p->frames;
    c->dropped = p->dropped;
    c->events = p->events;
    c->view = p->view;
    c->view_held = p->held;
    pthread_mutex_unlock(&c->lock);
    if (now - c->last_touch >= 10 || p->final) {
        vg_store_run_touch(c->srv->store, c->run);
        c->last_touch = now;
    }
}

static void add_fixture(void *opaque, const double b[4])
{
    vg_scene_t *sc = opaque;
    vg_fixture_t *nf = vg_realloc(sc->fixtures, (size_t)(sc->nb_fixtures + 1) * sizeof(*nf));
    if (!nf) return;
    sc->fixtures = nf;
    vg_fixture_t *f = &nf[sc->nb_fixtures];
    char name[64];
    snprintf(name, sizeof(name), "decision-%d", sc->nb_fixtures + 1);
    f->name = vg_strdup(name);
    f->polygon.pts = vg_malloc(4 * sizeof(vg_point_t));
    if (!f->name || !f->polygon.pts) {
        vg_free(f->name);
        vg_free(f->polygon.pts);
        return;
    }
    f->polygon.n = 4;
    f->polygon.pts[0] = (vg_point_t){b[0], b[1]};
    f->polygon.pts[1] = (vg_point_t){b[0] + b[2], b[1]};
    f->polygon.pts[2] = (vg_point_t){b[0] + b[2], b[1] + b[3]};
    f->polygon.pts[3] = (vg_point_t){b[0], b[1] + b[3]};
    sc->nb_fixtures++;
}

int vg__server_cam_scene(vg_cam_t *c, vg_scene_t **out, int with_fixtures, char *err, size_t errlen)
{
    char *yaml = NULL, name[128];
    int ret;
    if (vg_store_scene_get(c->srv->store, c->cfg->name, &yaml) == 0) {
        snprintf(name, sizeof(name), "scene of '%s' (saved in the store)", c->cfg->name);
        ret = vg_scene_parse(out, yaml, strlen(yaml), name, err, errlen);
        vg_free(yaml);
    } else if (c->cfg->scene[0])
        ret = vg_scene_load(out, c->cfg->scene, err, errlen);
    else
        ret = vg_scene_new_empty(out);
    if (ret < 0) return ret;
    if (with_fixtures) vg_store_fixtures(c->srv->store, c->cfg->name, add_fixture, *out);
    return 0;
}

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;

int vg__server_cam_memory(vg_cam_t *c, const vg_scene_t *scene, int in_w, int in_h, int reserve,
                          char *err, size_t errlen)
{
    const vg_server_config_t *cfg = c->srv->cfg;
    vg_settings_t *all = NULL;
    double limit = 0, need;
    if (vg_settings_new(&all) < 0 || (scene && vg_settings_merge(all, scene->settings) < 0) ||
        vg_settings_merge(all, c->cfg->settings) < 0) {
        vg_settings_free(&all);
        snprintf(err, errlen, "out of memory");
        return VG_ENOMEM;
    }
    need = vg_pipeline_memory_mb(all, in_w, in_h, 1, &limit);
    vg_settings_free(&all);
    if (cfg->camera_memory_mb < limit) limit = cfg->camera_memory_mb;
    if (need > limit) {
        snprintf(err, errlen,
                 "these settings would need about %.0f MB (analysis size from input.width/height/"
                 "upscale, pipeline.queue), more than this camera's budget of %.0f MB "
                 "(limits.camera_memory_mb, pipeline.memory_limit)",
                 need, limit);
        return VG_ERANGE;
    }
    pthread_mutex_lock(&mem_lock);
    double others = 0;
    for (int i = 0; i < c->srv->nb_cams; i++)
        if (&c->srv->cams[i] != c) others += c->srv->cams[i].mem_mb; /* 0 once a camera ends */
    int fits = others + need <= cfg->memory_mb;
    if (fits && reserve) c->mem_mb = need;
    pthread_mutex_unlock(&mem_lock);
    if (!fits) {
        snprintf(err, errlen,
                 "these settings would need about %.0f MB, and with the other cameras' %.0f MB "
                 "that is more than the server's budget of %.0f MB (limits.memory_mb)",
                 need, others, cfg->memory_mb);
        return VG_ERANGE;
    }
    return 0;
}

static void cam_memory_release(vg_cam_t *c)
{
    pthread_mutex_lock(&mem_lock);
    c->mem_mb = 0;
    pthread_mutex_unlock(&mem_lock);
}

/* What the camera reads now: its input, or the footage file whose turn it is. */
static const char *cam_input(const vg_cam_t *c)
{
    const vg_server_camera_t *cfg = c->cfg;
    int i = atomic_load(&c->footage_i);
    return cfg->footage && i < cfg->nb_footage ? cfg->footage[i] : cfg->input;
}

/* One start of the camera's pipeline: 0 at the end of a file, VG_ESTOPPED, or an error. */
static int cam_run_once(vg_cam_t *c)
{
    vg_scene_t *scene = NULL;
    vg_pipeline_t *pipe = NULL;
    vg_source_t *src = NULL;
    vg_source_params_t sp;
    char err[1024] = "";
    int ret;

    memset(&sp, 0, sizeof(sp));
    cam_status(c, "starting", "opening %s", cam_input(c));
    if ((ret = vg__server_cam_scene(c, &scene, 1, err, sizeof(err))) < 0) goto fail;
    static const vg_stage_class_t *const extra[] = {&serve_stage, NULL};
    vg_pipeline_spec_t spec = {scene, c->cfg->name, c->cfg->settings, NULL, extra};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &spec, &sp, err, sizeof(err))) < 0) goto fail;
    vg_pipeline_set_user(pipe, c);
    sp.color = 1;
    if (sp.threads == 0) {
        /* input.threads auto: with at least as many cameras as cores, the cameras are the
         * parallelism; a decoder's own frame threads only add their cost (FFmpeg's H.264 at 720p:
         * 7 % more CPU with two than with one) */
        const vg_server_config_t *scfg = c->srv->cfg;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (cores >= 1 && scfg && scfg->nb_cameras >= cores) sp.threads = 1;
    }
    if (c->cfg->loop) sp.loop = 1;
    if (c->cfg->realtime) sp.realtime = 1;
    if ((ret = vg_source_open_cancellable(&src, cam_input(c), &sp, NULL, &c->cancel)) < 0) {
        snprintf(err, sizeof(err), "cannot open %s: %s", cam_input(c), vg_strerror(ret));
        goto fail;
    }
    vg_source_info_t info;
    vg_source_get_info(src, &info);
    if ((ret = vg__server_cam_memory(c, scene, info.in_w, info.in_h, 1, err, sizeof(err))) < 0)
        goto fail;
    if (scene->width && (scene->width != info.in_w || scene->height != info.in_h)) {
        snprintf(err, sizeof(err),
                 "the scene was drawn for %dx%d pictures but the input is %dx%d; redraw the "
                 "scene or fix its size",
                 scene->width, scene->height, info.in_w, info.in_h);
        ret = VG_ESYNTAX;
        goto fail;
    }
    c->run = vg_store_run_start(c->srv->store, c->cfg->name);
    if (c->run < 0) {
        ret = (int)c->run;
        snprintf(err, sizeof(err), "cannot record the camera's run in the store");
        goto fail;
    }
    c->last_touch = vg__now_mono();
    c->still_t = -1e9;
    pthread_mutex_lock(&c->lock);
    c->pipe = pipe;
    c->in_w = info.in_w;
    c->in_h = info.in_h;
    c->frames = 0;
    c->last_frame = vg__now_mono();
    c->stall_after = sp.timeout > 0 ? sp.timeout : 5;
    pthread_mutex_unlock(&c->lock);
    if (cam_quit(c) || atomic_load(&c->restart)) vg_pipeline_stop(pipe);
    cam_status(c, "running", "%s %dx%d", info.codec, info.in_w, info.in_h);
    vg_log(COMP, VG_LOG_INFO, "camera '%s': running (%s, %dx%d)", c->cfg->name, cam_input(c),
           info.in_w, info.in_h);
    vg_event_sink_t sink = {cam_sink, c};
    vg_count_sink_t counts = {cam_count_sink, c};
    vg_pipeline_set_count_sink(pipe, &counts);
    ret = vg_pipeline_run(pipe, src, &sink, cam_progress, c);
    cam_flush_pending(c, NULL); /* what a failing stage left */
    vg__clip_close(c);          /* the clips open are made with what they have */
    atomic_store(&c->clip_bytes, 0);
    pthread_mutex_lock(&c->lock);
    c->pipe = NULL;
    pthread_mutex_unlock(&c->lock);
    if (ret < 0 && ret != VG_ESTOPPED)
        snprintf(err, sizeof(err), "%s stopped: %s", cam_input(c), vg_strerror(ret));
fail:
    cam_memory_release(c);
    if (ret < 0 && ret != VG_ESTOPPED) cam_status(c, "failed", "%s", err);
    vg_source_free(&src);
    vg_pipeline_free(&pipe);
    vg_scene_free(&scene);
    vg_opt_free(&sp, vg_source_option_group.options);
    return ret;
}

/* Wait @seconds (INFINITY: until stop or restart). */
static void cam_sleep(vg_cam_t *c, double seconds)
{
    struct timespec ts;
    double end = vg__now_mono() + seconds;
    pthread_mutex_lock(&c->lock);
    while (!cam_quit(c) && !atomic_load(&c->restart)) {
        double left = end - vg__now_mono();
        if (left <= 0) break;
        vg__abs_deadline(&ts, left > 1 ? 1 : left);
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
}

void *vg__cam_main(void *opaque)
{
    vg_cam_t *c = opaque;
    double backoff = 1;
    vg_log_set_camera(c->cfg->name);
    while (!cam_quit(c)) {
        if (!atomic_load(&c->held)) { /* a cluster node without its lease: another runs it */
            cam_status(c, "standby", "another node of the cluster runs it, or none yet");
            cam_sleep(c, 1);
            atomic_store(&c->restart, 0);
            backoff = 1;
            continue;
        }
        double t0 = vg__now_mono();
        int ret = cam_run_once(c);
        if (cam_quit(c)) break;
        if (!atomic_load(&c->held)) continue; /* its lease lost: stopped at once */
        if (atomic_exchange(&c->restart, 0)) {
            backoff = 1;
            pthread_mutex_lock(&c->lock);
            c->restarts++;
            pthread_mutex_unlock(&c->lock);
            vg_log(COMP, VG_LOG_INFO, "camera '%s': restarting with its new scene", c->cfg->name);
            continue;
        }
        const vg_server_camera_t *cc = c->cfg;
        if (ret == 0 && cc->footage) { /* the next file of its footage */
            atomic_fetch_add(&c->footage_done, 1);
            int next = atomic_load(&c->footage_i) + 1;
            if (next < cc->nb_footage || cc->loop) {
                atomic_store(&c->footage_i, next % cc->nb_footage);
                backoff = 1;
                continue;
            }
        }
        if (ret == 0) {
            cam_status(c, "ended",
                       c->cfg->footage ? "its footage has been played (%d files)"
                                       : "the input ended (loop: true plays a file again)",
                       c->cfg->nb_footage);
            vg_log(COMP, VG_LOG_INFO, "camera '%s': the input ended", c->cfg->name);
            cam_sleep(c, INFINITY);
            atomic_store(&c->restart, 0);
            continue;
        }
        if (vg__now_mono() - t0 > 120) backoff = 1; /* it ran a while: a new failure */
        pthread_mutex_lock(&c->lock);
        vg_log(COMP, VG_LOG_ERROR, "camera '%s': %s; trying again in %.0f s", c->cfg->name,
               c->message, backoff);
        pthread_mutex_unlock(&c->lock);
        cam_sleep(c, backoff);
        atomic_store(&c->restart, 0);
        backoff = fmin(backoff * 2, 60);
    }
    if (atomic_load(&c->gone))
        cam_status(c, "removed", "removed from the config");
    else
        cam_status(c, "stopped", "the server is stopping");
    return NULL;
}

vg_cam_t *vg__server_cam(vg_server_t *s, const char *name)
{
    for (int i = 0; name && i < s->nb_cams; i++)
        if (vg__cam_live(&s->cams[i]) && !strcmp(s->cams[i].cfg->name, name)) return &s->cams[i];
    return NULL;
}

void vg__server_cam_restart(vg_cam_t *c)
{
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->restart, 1);
    if (strcmp(c->status, "restarting")) vg_store_now(c->since);
    snprintf(c->status, sizeof(c->status), "restarting");
    snprintf(c->message, sizeof(c->message), "restarting with a new scene");
    if (c->pipe) vg_pipeline_stop(c->pipe);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}
