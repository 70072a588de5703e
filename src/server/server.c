/*
 * `vigie serve`: cameras, the store writer, the live stream's hub, retention and anchors.
 *
 * Cameras: one thread per camera runs vg_pipeline_run (which starts the camera's ingest thread)
 * over its input with every analyser plus the server's own last stage, "serve". Events reported
 * by the analysers wait in the camera's pending list until the "serve" stage of the same frame
 * attaches the frame and the person boxes to the starts and hands the whole list, in order, to
 * the writer. A camera that cannot start (bad scene, input unreachable) or stops with an error is
 * marked failed and tried again after 1, 2, 4 ... 60 s; a file that ends without loop is "ended".
 * A scene saved through the API or a fixture from a decision restarts that camera's pipeline
 * only. Nothing a camera does can stop another.
 *
 * Writer: one thread takes jobs in order. For a start it pixelates a copy of the frame, encodes
 * it (and the original when the config keeps originals), writes the files, then records the
 * event, its evidence row and its feed record in one transaction. Only after the commit does it
 * wake the live streams, so every event a client saw is in the store (kill -9 included). When the
 * database is busy or the disk full the job stays at the head of the queue and is retried every
 * second: committed events are never lost, new ones wait in memory (a picture that cannot be
 * written leaves its event without evidence, logged).
 *
 * Keeper: one thread runs retention every retention.every seconds (and once at start), and
 * writes an audit anchor every audit.anchor_every seconds; anchors also at start and stop.
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

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void abs_deadline(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double t = ts->tv_sec + ts->tv_nsec * 1e-9 + seconds;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

/* ---- snapshots ---- */

void vg__snap_clear(vg_snap_t *snap)
{
    vg_frame_unref(&snap->frame);
    vg_free(snap->fg);
    memset(snap, 0, sizeof(*snap));
}

int vg__snap_copy(vg_snap_t *dst, const vg_snap_t *src)
{
    *dst = *src;
    dst->fg = NULL;
    if (src->fg) {
        dst->fg = vg_malloc((size_t)src->fg_w * src->fg_h);
        if (!dst->fg) {
            memset(dst, 0, sizeof(*dst));
            return VG_ENOMEM;
        }
        memcpy(dst->fg, src->fg, (size_t)src->fg_w * src->fg_h);
    }
    if (src->frame) dst->frame = vg_frame_ref(src->frame);
    return 0;
}

/* Fill @snap from the analysis of the current frame. */
static int snap_take(vg_snap_t *snap, const vg_analysis_t *a)
{
    const vg_detections_t *d = a->slot[VG_SLOT_DETECTIONS];
    const vg_image_t *fg = a->slot[VG_SLOT_FOREGROUND];
    memset(snap, 0, sizeof(*snap));
    snap->frame = vg_frame_ref(a->frame);
    if (d && d->frame_index >= 0) {
        for (int i = 0; i < d->n && snap->nb < VG_MAX_PERSON_BOXES; i++)
            if (d->det[i].cls == 0) {
                snap->boxes[snap->nb][0] = d->det[i].x;
                snap->boxes[snap->nb][1] = d->det[i].y;
                snap->boxes[snap->nb][2] = d->det[i].w;
                snap->boxes[snap->nb][3] = d->det[i].h;
                snap->nb++;
            }
    }
    /* Detector results come a few frames late (the inference thread runs beside the analysis):
     * a walking person has moved on from their box. The foreground is this frame's, so both
     * are pixelated. */
    if (fg && fg->fmt == VG_PIX_GRAY8) {
        snap->fg = vg_malloc((size_t)fg->w * fg->h);
        if (!snap->fg) {
            vg__snap_clear(snap);
            return VG_ENOMEM;
        }
        for (int y = 0; y < fg->h; y++)
            memcpy(snap->fg + (size_t)y * fg->w, vg_image_row(fg, y), (size_t)fg->w);
        snap->fg_w = fg->w;
        snap->fg_h = fg->h;
    }
    return 0;
}

int vg__server_snap_jpeg(vg_server_t *s, const vg_snap_t *snap, int pixelate, uint8_t **out,
                         size_t *len)
{
    const vg_frame_t *f = snap->frame;
    const vg_image_t *src = f->color.data ? &f->color : &f->image;
    int bpp = src->fmt == VG_PIX_BGR24 ? 3 : 1;
    vg_image_t copy = {src->w, src->h, (ptrdiff_t)src->w * bpp, src->fmt, NULL};
    vg_image_t fg = {snap->fg_w, snap->fg_h, snap->fg_w, VG_PIX_GRAY8, snap->fg};
    int ret;
    copy.data = vg_malloc((size_t)copy.stride * copy.h);
    if (!copy.data) return VG_ENOMEM;
    vg_image_copy(&copy, src);
    if (pixelate)
        vg__evidence_pixelate(&copy, (const float(*)[4])snap->boxes, snap->nb,
                              snap->fg ? &fg : NULL, s->cfg->pixel_block);
    ret = vg__evidence_jpeg(&copy, 85, out, len);
    vg_free(copy.data);
    return ret;
}

/* ---- the hub ---- */

void vg__hub_notify(vg_server_t *s, int64_t seq)
{
    pthread_mutex_lock(&s->hlock);
    if (seq > s->head) s->head = seq;
    pthread_cond_broadcast(&s->hcond);
    pthread_mutex_unlock(&s->hlock);
}

/* ---- the writer ---- */

static void job_free(vg_job_t *j)
{
    vg__snap_clear(&j->snap);
    vg_free(j);
}

static void push_jobs(vg_server_t *s, vg_job_t *head, vg_job_t *tail)
{
    if (!head) return;
    pthread_mutex_lock(&s->wlock);
    if (s->jtail)
        s->jtail->next = head;
    else
        s->jhead = head;
    s->jtail = tail;
    for (vg_job_t *j = head; j; j = j->next) s->jcount++;
    /* A long outage of the store: keep every event, drop the pictures of the oldest. */
    if (s->jcount > 2000)
        for (vg_job_t *j = s->jhead; j && s->jcount > 2000; j = j->next)
            if (j->snap.frame) {
                vg__snap_clear(&j->snap);
                break;
            }
    pthread_cond_signal(&s->wcond);
    pthread_mutex_unlock(&s->wlock);
}

static void random_name(char out[64])
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* never fails on Linux >= 3.17 for 16 bytes; fall back to time and address */
        uint64_t t = (uint64_t)(now_mono() * 1e9) ^ (uint64_t)(uintptr_t)out;
        memcpy(b, &t, 8);
        memcpy(b + 8, &t, 8);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
    snprintf(out + 32, 32, ".jpg");
}

static void write_evidence(vg_server_t *s, vg_job_t *j)
{
    uint8_t *jpg = NULL;
    size_t len = 0;
    char name[64], path[4200];
    int ret;
    random_name(name);
    ret = vg__server_snap_jpeg(s, &j->snap, 1, &jpg, &len);
    if (ret == 0) {
        snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, name);
        ret = vg__write_file(path, jpg, len, 0640);
        if (ret < 0)
            vg_log(COMP, VG_LOG_ERROR,
                   "camera '%s': event %lld: cannot write the evidence picture %s: %s (the event "
                   "is kept without it)",
                   j->cam->cfg->name, (long long)j->ev.event_id, path, strerror(errno));
    }
    vg_free(jpg);
    if (ret < 0) return;
    snprintf(j->evidence, sizeof(j->evidence), "%s", name);
    j->evidence_bytes = (int64_t)len;
    if (s->cfg->keep_original && vg__server_snap_jpeg(s, &j->snap, 0, &jpg, &len) == 0) {
        snprintf(path, sizeof(path), "%s/%s", s->dir_originals, name);
        if (vg__write_file(path, jpg, len, 0600) < 0)
            vg_log(COMP, VG_LOG_ERROR, "camera '%s': cannot write the original picture %s: %s",
                   j->cam->cfg->name, path, strerror(errno));
        vg_free(jpg);
    }
}

static int write_job(vg_server_t *s, vg_job_t *j)
{
    int64_t seq = 0, id;
    if (j->is_count) return vg_store_count_put(s->store, j->run, &j->count, j->wall);
    if (j->ev.phase == VG_PHASE_START && j->snap.frame && !j->evidence[0]) {
        write_evidence(s, j);
        vg__snap_clear(&j->snap); /* the picture is on disk (or could not be): free the frame */
    }
    id = vg_store_event_put(s->store, j->run, &j->ev, j->wall, j->evidence[0] ? j->evidence : NULL,
                            j->evidence_bytes, &seq);
    if (id == VG_ENOENT) {
        vg_log(COMP, VG_LOG_WARNING, "camera '%s': %s of event %lld whose start is not stored",
               j->cam->cfg->name, vg_event_phase_name(j->ev.phase), (long long)j->ev.event_id);
        return 0;
    }
    if (id < 0) return (int)id;
    if (j->ev.phase == VG_PHASE_START && j->evidence[0] && s->cfg->keep_original)
        vg_store_evidence_add(s->store, id, "original", j->evidence, 0);
    vg__hub_notify(s, seq);
    return 0;
}

static void *writer_main(void *opaque)
{
    vg_server_t *s = opaque;
    for (;;) {
        vg_job_t *j;
        pthread_mutex_lock(&s->wlock);
        while (!s->jhead && !s->wstop) pthread_cond_wait(&s->wcond, &s->wlock);
        j = s->jhead;
        pthread_mutex_unlock(&s->wlock);
        if (!j) break;
        int ret = write_job(s, j);
        if (ret < 0) {
            j->tries++;
            if (j->tries == 1 || j->tries % 60 == 0) {
                pthread_mutex_lock(&s->wlock);
                int waiting = s->jcount;
                pthread_mutex_unlock(&s->wlock);
                vg_log(COMP, VG_LOG_ERROR,
                       "cannot record events in the store: %s; %d waiting in memory, retrying "
                       "every second (free disk space or release the database)",
                       vg_strerror(ret), waiting);
            }
            struct timespec ts;
            abs_deadline(&ts, 1.0);
            pthread_mutex_lock(&s->wlock);
            int give_up = s->wstop && j->tries > 30;
            if (!give_up) pthread_cond_timedwait(&s->wcond, &s->wlock, &ts);
            pthread_mutex_unlock(&s->wlock);
            if (!give_up) continue;
            char line[VG_EVENT_DETAILS_MAX + 1024];
            if (j->is_count)
                snprintf(line, sizeof(line), "count sample of camera %s, zone '%s' at %.1f s",
                         j->count.camera, j->count.zone, j->count.t);
            else
                vg_event_to_json(&j->ev, line, sizeof(line));
            vg_log(COMP, VG_LOG_ERROR, "shutting down with the store unwritable: lost: %s", line);
        }
        pthread_mutex_lock(&s->wlock);
        s->jhead = j->next;
        if (!s->jhead) s->jtail = NULL;
        s->jcount--;
        pthread_mutex_unlock(&s->wlock);
        job_free(j);
    }
    return NULL;
}

/* ---- cameras ---- */

static void cam_status(vg_cam_t *c, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cam_status(vg_cam_t *c, const char *status, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&c->lock);
    if (strcmp(c->status, status)) vg_store_now(c->since);
    snprintf(c->status, sizeof(c->status), "%s", status);
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->lock);
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

/* Hand the pending events to the writer; starts get the frame (when @a has one). */
static int cam_flush_pending(vg_cam_t *c, const vg_analysis_t *a)
{
    int ret = 0;
    for (vg_job_t *j = c->pend_head; j; j = j->next)
        if (a && a->frame && !j->is_count && j->ev.phase == VG_PHASE_START && !j->snap.frame) {
            ret = snap_take(&j->snap, a);
            if (ret < 0) break;
        }
    push_jobs(c->srv, c->pend_head, c->pend_tail);
    c->pend_head = c->pend_tail = NULL;
    return ret;
}

static int serve_process(vg_stage_t *st, vg_analysis_t *a)
{
    vg_cam_t *c = vg_pipeline_user(a->pipeline);
    int ret;
    if (!c) return 0;
    if ((ret = cam_flush_pending(c, a)) < 0) return ret;
    /* A still for the console: once a second. */
    if (a->frame->t - c->still_t >= 1.0 || a->frame->t < c->still_t) {
        vg_snap_t snap;
        if (snap_take(&snap, a) == 0) {
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
    return c ? cam_flush_pending(c, NULL) : 0;
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
    double now = now_mono();
    pthread_mutex_lock(&c->lock);
    c->fps = p->fps;
    c->frames = p->frames;
    c->dropped = p->dropped;
    c->events = p->events;
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
    cam_status(c, "starting", "opening %s", c->cfg->input);
    if ((ret = vg__server_cam_scene(c, &scene, 1, err, sizeof(err))) < 0) goto fail;
    static const vg_stage_class_t *const extra[] = {&serve_stage, NULL};
    vg_pipeline_spec_t spec = {scene, c->cfg->name, c->cfg->settings, NULL, extra};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &spec, &sp, err, sizeof(err))) < 0) goto fail;
    vg_pipeline_set_user(pipe, c);
    sp.color = 1;
    if (c->cfg->loop) sp.loop = 1;
    if (c->cfg->realtime) sp.realtime = 1;
    if ((ret = vg_source_open(&src, c->cfg->input, &sp, NULL)) < 0) {
        snprintf(err, sizeof(err), "cannot open %s: %s", c->cfg->input, vg_strerror(ret));
        goto fail;
    }
    vg_source_info_t info;
    vg_source_get_info(src, &info);
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
    c->last_touch = now_mono();
    c->still_t = -1e9;
    pthread_mutex_lock(&c->lock);
    c->pipe = pipe;
    c->in_w = info.in_w;
    c->in_h = info.in_h;
    pthread_mutex_unlock(&c->lock);
    if (atomic_load(&c->srv->stopping) || atomic_load(&c->restart)) vg_pipeline_stop(pipe);
    cam_status(c, "running", "%s %dx%d", info.codec, info.in_w, info.in_h);
    vg_log(COMP, VG_LOG_INFO, "camera '%s': running (%s, %dx%d)", c->cfg->name, c->cfg->input,
           info.in_w, info.in_h);
    vg_event_sink_t sink = {cam_sink, c};
    vg_count_sink_t counts = {cam_count_sink, c};
    vg_pipeline_set_count_sink(pipe, &counts);
    ret = vg_pipeline_run(pipe, src, &sink, cam_progress, c);
    cam_flush_pending(c, NULL); /* what a failing stage left */
    pthread_mutex_lock(&c->lock);
    c->pipe = NULL;
    pthread_mutex_unlock(&c->lock);
    if (ret < 0 && ret != VG_ESTOPPED)
        snprintf(err, sizeof(err), "%s stopped: %s", c->cfg->input, vg_strerror(ret));
fail:
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
    double end = now_mono() + seconds;
    pthread_mutex_lock(&c->lock);
    while (!atomic_load(&c->srv->stopping) && !atomic_load(&c->restart)) {
        double left = end - now_mono();
        if (left <= 0) break;
        abs_deadline(&ts, left > 1 ? 1 : left);
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
}

static void *cam_main(void *opaque)
{
    vg_cam_t *c = opaque;
    double backoff = 1;
    while (!atomic_load(&c->srv->stopping)) {
        double t0 = now_mono();
        int ret = cam_run_once(c);
        if (atomic_load(&c->srv->stopping)) break;
        if (atomic_exchange(&c->restart, 0)) {
            backoff = 1;
            pthread_mutex_lock(&c->lock);
            c->restarts++;
            pthread_mutex_unlock(&c->lock);
            vg_log(COMP, VG_LOG_INFO, "camera '%s': restarting with its new scene", c->cfg->name);
            continue;
        }
        if (ret == 0) {
            cam_status(c, "ended", "the input ended (loop: true plays a file again)");
            vg_log(COMP, VG_LOG_INFO, "camera '%s': the input ended", c->cfg->name);
            cam_sleep(c, INFINITY);
            atomic_store(&c->restart, 0);
            continue;
        }
        if (now_mono() - t0 > 120) backoff = 1; /* it ran a while: a new failure */
        pthread_mutex_lock(&c->lock);
        vg_log(COMP, VG_LOG_ERROR, "camera '%s': %s; trying again in %.0f s", c->cfg->name,
               c->message, backoff);
        pthread_mutex_unlock(&c->lock);
        cam_sleep(c, backoff);
        atomic_store(&c->restart, 0);
        backoff = fmin(backoff * 2, 60);
    }
    cam_status(c, "stopped", "the server is stopping");
    return NULL;
}

vg_cam_t *vg__server_cam(vg_server_t *s, const char *name)
{
    for (int i = 0; name && i < s->nb_cams; i++)
        if (!strcmp(s->cams[i].cfg->name, name)) return &s->cams[i];
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

/* ---- keeper: retention and anchors ---- */

static int unlink_evidence(void *opaque, const char *name)
{
    vg_server_t *s = opaque;
    char path[4200];
    int ok = 1;
    if (strchr(name, '/') || name[0] == '.') return VG_EINVAL;
    snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, name);
    if (unlink(path) != 0 && errno != ENOENT) ok = 0;
    snprintf(path, sizeof(path), "%s/%s", s->dir_originals, name);
    if (unlink(path) != 0 && errno != ENOENT) ok = 0;
    if (!ok) vg_log(COMP, VG_LOG_ERROR, "retention: cannot remove %s: %s", name, strerror(errno));
    return ok ? 0 : VG_EIO;
}

static void *keeper_main(void *opaque)
{
    vg_server_t *s = opaque;
    double next_ret = now_mono() + 2, next_anchor = now_mono() + s->cfg->anchor_every;
    pthread_mutex_lock(&s->klock);
    while (!s->kstop) {
        double now = now_mono();
        if (now >= next_ret) {
            vg_retention_result_t r;
            pthread_mutex_unlock(&s->klock);
            if (vg_store_retention(s->store, s->cfg->evidence_days, s->cfg->audit_days,
                                   unlink_evidence, s, &r) == 0 &&
                (r.evidence_files || r.events_cleared || r.audit_rows))
                vg_log(COMP, VG_LOG_INFO,
                       "retention: %lld evidence pictures purged, %lld events cleared, %lld "
                       "audit rows purged",
                       (long long)r.evidence_files, (long long)r.events_cleared,
                       (long long)r.audit_rows);
            int64_t purged = 0;
            if (vg_store_purge_counts(s->store, s->cfg->counts_days, &purged) == 0 && purged)
                vg_log(COMP, VG_LOG_INFO, "retention: %lld count samples purged",
                       (long long)purged);
            pthread_mutex_lock(&s->klock);
            next_ret = now_mono() + s->cfg->retention_every;
            continue;
        }
        if (now >= next_anchor) {
            pthread_mutex_unlock(&s->klock);
            vg_store_audit_anchor(s->store, s->anchors);
            pthread_mutex_lock(&s->klock);
            next_anchor = now_mono() + s->cfg->anchor_every;
            continue;
        }
        struct timespec ts;
        abs_deadline(&ts, fmin(next_ret, next_anchor) - now);
        pthread_cond_timedwait(&s->kcond, &s->klock, &ts);
    }
    pthread_mutex_unlock(&s->klock);
    return NULL;
}

/* ---- lifecycle ---- */

static int make_dir(const char *path, int mode, char *err, size_t errlen)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && access(path, W_OK | X_OK) == 0) return 0;
        snprintf(err, errlen,
                 "%s: not a writable directory; fix the storage path or its "
                 "permissions",
                 path);
        return VG_EACCES;
    }
    snprintf(err, errlen, "%s: cannot create the directory: %s", path, strerror(errno));
    return errno == EACCES ? VG_EACCES : VG_EIO;
}

int vg_server_new(vg_server_t **out, const vg_server_config_t *cfg, char *err, size_t errlen)
{
    vg_server_t *s = vg_calloc(1, sizeof(*s));
    char db[4200];
    int ret;
    if (!s) return VG_ENOMEM;
    s->cfg = cfg;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_cond_init(&s->wcond, NULL);
    pthread_mutex_init(&s->hlock, NULL);
    pthread_cond_init(&s->hcond, NULL);
    pthread_mutex_init(&s->klock, NULL);
    pthread_cond_init(&s->kcond, NULL);
    pthread_mutex_init(&s->llock, NULL);
    snprintf(s->dir_evidence, sizeof(s->dir_evidence), "%s/evidence", cfg->storage);
    snprintf(s->dir_originals, sizeof(s->dir_originals), "%s/originals", cfg->storage);
    vg_server_config_anchors(cfg, s->anchors, sizeof(s->anchors));
    if ((ret = make_dir(cfg->storage, 0750, err, errlen)) < 0 ||
        (ret = make_dir(s->dir_evidence, 0750, err, errlen)) < 0 ||
        (cfg->keep_original && (ret = make_dir(s->dir_originals, 0700, err, errlen)) < 0))
        goto fail;
    vg_server_config_db(cfg, db, sizeof(db));
    if ((ret = vg_store_open(&s->store, db, err, errlen)) < 0) goto fail;
    if (pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
        ret = VG_EIO;
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    s->head = vg_store_feed_head(s->store);
    s->nb_cams = cfg->nb_cameras;
    s->cams = vg_calloc(s->nb_cams ? s->nb_cams : 1, sizeof(*s->cams));
    if (!s->cams) {
        ret = VG_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        c->srv = s;
        c->cfg = &cfg->cameras[i];
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        atomic_init(&c->restart, 0);
        snprintf(c->status, sizeof(c->status), "starting");
        vg_store_now(c->since);
    }
    *out = s;
    return 0;
fail:
    vg_server_free(&s);
    return ret;
}

int vg_server_port(const vg_server_t *s)
{
    return s->port;
}

int vg_server_start(vg_server_t *s, char *err, size_t errlen)
{
    char details[4600], old[80] = "";
    int ret;
    if ((ret = vg__http_start(s, err, errlen)) < 0) return ret;
    /* The configuration is audited: each start, and a change since the last one. */
    vg_store_meta_get(s->store, "config_sha256", old, sizeof(old));
    {
        char q[4200];
        vg_json_quote(q, sizeof(q), s->cfg->path);
        snprintf(details, sizeof(details), "{\"config\":%s,\"sha256\":\"%s\",\"cameras\":%d}", q,
                 s->cfg->sha256, s->nb_cams);
    }
    if (old[0] && strcmp(old, s->cfg->sha256)) {
        char d2[256];
        snprintf(d2, sizeof(d2), "{\"before\":\"%s\",\"after\":\"%s\"}", old, s->cfg->sha256);
        vg_store_audit(s->store, "system", "config_change", s->cfg->path, d2);
    }
    vg_store_meta_set(s->store, "config_sha256", s->cfg->sha256);
    vg_store_audit(s->store, "system", "server_start", "", details);
    vg_store_audit_anchor(s->store, s->anchors);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) goto nothread;
    s->writer_started = 1;
    if (pthread_create(&s->keeper, NULL, keeper_main, s) != 0) goto nothread;
    s->keeper_started = 1;
    for (int i = 0; i < s->nb_cams; i++) {
        if (pthread_create(&s->cams[i].th, NULL, cam_main, &s->cams[i]) != 0) goto nothread;
        s->cams[i].started = 1;
    }
    vg_log(COMP, VG_LOG_INFO, "listening on http://%s:%d/ with %d camera%s; storage %s",
           s->cfg->listen_addr, s->port, s->nb_cams, s->nb_cams == 1 ? "" : "s", s->cfg->storage);
    return 0;
nothread:
    snprintf(err, errlen, "cannot start a thread");
    return VG_ENOMEM;
}

void vg_server_wait(vg_server_t *s)
{
    char b;
    while (read(s->stop_pipe[0], &b, 1) < 0 && errno == EINTR)
        ;
}

void vg_server_stop(vg_server_t *s)
{
    char b = 1;
    atomic_store(&s->stopping, 1);
    if (write(s->stop_pipe[1], &b, 1) < 0) {
        /* nothing to do: the flag is set */
    }
}

void vg_server_free(vg_server_t **ps)
{
    vg_server_t *s = *ps;
    if (!s) return;
    atomic_store(&s->stopping, 1);
    /* Live streams end, then the HTTP server; cameras end their open events; the writer drains. */
    vg__hub_notify(s, 0);
    vg__http_stop(s);
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        pthread_mutex_lock(&c->lock);
        if (c->pipe) vg_pipeline_stop(c->pipe);
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    for (int i = 0; i < s->nb_cams; i++)
        if (s->cams[i].started) pthread_join(s->cams[i].th, NULL);
    if (s->writer_started) {
        pthread_mutex_lock(&s->wlock);
        s->wstop = 1;
        pthread_cond_broadcast(&s->wcond);
        pthread_mutex_unlock(&s->wlock);
        pthread_join(s->writer, NULL);
    }
    if (s->keeper_started) {
        pthread_mutex_lock(&s->klock);
        s->kstop = 1;
        pthread_cond_broadcast(&s->kcond);
        pthread_mutex_unlock(&s->klock);
        pthread_join(s->keeper, NULL);
    }
    if (s->store && s->writer_started) {
        vg_store_audit(s->store, "system", "server_stop", "", NULL);
        vg_store_audit_anchor(s->store, s->anchors);
    }
    while (s->jhead) {
        vg_job_t *j = s->jhead;
        s->jhead = j->next;
        job_free(j);
    }
    for (int i = 0; s->cams && i < s->nb_cams; i++) {
        vg__snap_clear(&s->cams[i].still);
        pthread_mutex_destroy(&s->cams[i].lock);
        pthread_cond_destroy(&s->cams[i].cond);
    }
    vg_free(s->cams);
    vg_store_close(&s->store);
    if (s->stop_pipe[0] >= 0) close(s->stop_pipe[0]);
    if (s->stop_pipe[1] >= 0) close(s->stop_pipe[1]);
    pthread_mutex_destroy(&s->wlock);
    pthread_cond_destroy(&s->wcond);
    pthread_mutex_destroy(&s->hlock);
    pthread_cond_destroy(&s->hcond);
    pthread_mutex_destroy(&s->klock);
    pthread_cond_destroy(&s->kcond);
    pthread_mutex_destroy(&s->llock);
    vg_free(s);
    *ps = NULL;
}
