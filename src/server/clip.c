/*
 * Event clips (issue #27): a few seconds before and after each event start, pixelated exactly as
 * the stills, as VP9 in WebM (what every Chromium plays, with or without the proprietary codecs).
 *
 * The ring. Each camera's analysis thread keeps the last evidence.clip_before seconds of its
 * pictures at evidence.clip_fps, each already pixelated (vg__server_snap_jpeg on the frame's snap:
 * the same person boxes, foreground and block size as the still) and encoded as a JPEG. Nothing
 * unpixelated stays in memory, and the memory is bounded: clip_fps * clip_before JPEGs of the
 * analysis size (docs/benchmarks.md gives the figure), each held by reference (vg_clip_frame_t)
 * so that clips which overlap share their pictures. Frames whose picture is not due are not
 * touched: the cost is one pixelation and one JPEG per clip frame, not per frame.
 *
 * A capture. An event start (cam_flush_pending) opens one on the ring's pictures from
 * t - clip_before; the ring's next pictures are appended until t + clip_after, then the capture
 * goes to the clipper. An event that starts while a capture of its camera is still open shares
 * it (issue #24: in a storm, one encoding for the events of a few seconds, not one each): the
 * capture goes on to the new event's t + clip_after, as long as it spans no more than
 * SHARED_MAX_S seconds (or clip_before + clip_after if longer) and MAX_SHARED events; each event
 * then has the pictures its own clip would have had and more, and its own `at`. A camera that
 * stops (end of file, restart, server stop) hands its open captures over as they are: a shorter
 * clip, not none. At most MAX_OPEN captures per camera are open at once: the later starts keep
 * their still only, said once in the log. A
 * replay (`footage:`, vigie calibrate) has no pace to keep: it may open MAX_OPEN_REPLAY, and
 * waits for room in the clipper's queue rather than lose a clip.
 *
 * The clipper: one thread for the server, at a lower priority than the analysis (nice 10), a FIFO
 * of at most MAX_QUEUED captures (beyond, a live camera's newest is dropped and logged: the event
 * keeps its still); when the server stops it makes those queued for STOP_GRACE seconds at most
 * (on a busy machine a niced thread could take minutes: a stop must not), the rest keep their
 * stills. For each:
 * decode the JPEGs, draw the box of the last event started by each picture (the first event's
 * before it: one box at a time, each event's from its own start), encode VP9 (libvpx through
 * libavcodec: realtime, one thread, constant quality), mux WebM to NAME.tmp in
 * the evidence folder, fsync, rename; each further event sharing it gets a name of its own for
 * the same file (a hard link; a copy where the file system has none), so that retention, exports
 * and the evidence rows' unique names work as for any clip; then each event's evidence row (kind
 * "clip", `at` = seconds into the clip where that event starts) once the writer has stored the
 * event, which it normally has long before (the clip waits clip_after seconds).
 * Clips are purged with the evidence (retention.c removes every evidence row's file). Only
 * pixelated clips exist: evidence.keep_original keeps original stills, never original clips.
 *
 * A weapon alert's still keeps the object unpixelated; its clip does not (the ring is pixelated
 * before anyone knows an event will come).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "server_priv.h"

#define COMP            "clip"
#define MAX_OPEN        8   /* captures open at once per camera */
#define MAX_OPEN_REPLAY 256 /* the same for a replay (footage): every alert gets its clip */
#define MAX_QUEUED      32  /* captures waiting for the clipper */
#define MAX_SHARED      16  /* events sharing one capture */
#define SHARED_MAX_S    30  /* a shared capture's longest span (or clip_before + clip_after) */
#define JPEG_Q          80
#define STOP_GRACE      10 /* seconds the clipper may go on once the server stops */

struct vg_clip_frame {
    atomic_int refs;
    double t;
    size_t len;
    uint8_t jpg[];
};

/* One event of a capture: its clip's pictures are those of [t - clip_before, t + clip_after]. */
typedef struct clip_ev {
    int64_t event_id;
    double t;
    float box[4]; /* analysis pixels */
    int has_box;
} clip_ev_t;

struct vg_clip_cap {
    struct vg_clip_cap *next;
    vg_server_t *srv;
    char camera[64];
    int64_t run;
    double t_event, t_end; /* the first event's time; the end of the last one's clip */
    clip_ev_t ev[MAX_SHARED];
    int nev;
    vg_clip_frame_t **f;
    int n, cap;
};

static vg_clip_frame_t *frame_ref(vg_clip_frame_t *f)
{
    atomic_fetch_add(&f->refs, 1);
    return f;
}

static void frame_unref(vg_clip_frame_t *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) vg_free(f);
}

static int cap_append(vg_clip_cap_t *k, vg_clip_frame_t *f)
{
    if (k->n == k->cap) {
        int nc = k->cap ? k->cap * 2 : 64;
        vg_clip_frame_t **nf = vg_realloc(k->f, (size_t)nc * sizeof(*nf));
        if (!nf) return VG_ENOMEM;
        k->f = nf;
        k->cap = nc;
    }
    k->f[k->n++] = frame_ref(f);
    return 0;
}

static void cap_free(vg_clip_cap_t *k)
{
    if (!k) return;
    for (int i = 0; i < k->n; i++) frame_unref(k->f[i]);
    vg_free(k->f);
    vg_free(k);
}

/* ---- the clipper's queue ---- */

/* @wait: a replay (footage) waits for room rather than lose a clip: it has no pace to keep */
static void clipper_push(vg_server_t *s, vg_clip_cap_t *k, int wait)
{
    pthread_mutex_lock(&s->clip_lock);
    while (wait && s->clip_started && s->clip_count >= MAX_QUEUED && !s->clip_stop &&
           !atomic_load(&s->stopping)) {
        struct timespec ts;
        vg__abs_deadline(&ts, 0.5);
        pthread_cond_timedwait(&s->clip_cond, &s->clip_lock, &ts);
    }
    if (s->clip_count >= MAX_QUEUED || !s->clip_started) {
        pthread_mutex_unlock(&s->clip_lock);
        vg_log(COMP, VG_LOG_WARNING,
               "camera '%s': event %lld%s: %s; the event keeps its still picture", k->camera,
               (long long)k->ev[0].event_id, k->nev > 1 ? " and the events sharing its clip" : "",
               s->clip_started ? "too many clips waiting to be encoded, this one is dropped"
                               : "no clip encoder running");
        atomic_fetch_add(&s->clip_failed, k->nev);
        cap_free(k);
        return;
    }
    k->next = NULL;
    if (s->clip_tail)
        s->clip_tail->next = k;
    else
        s->clip_head = k;
    s->clip_tail = k;
    s->clip_count++;
    pthread_cond_broadcast(&s->clip_cond); /* the clipper (replays may wait on it too) */
    pthread_mutex_unlock(&s->clip_lock);
}

/* ---- the camera side (its analysis thread only) ---- */

static void ring_trim(vg_clip_ring_t *r, double keep_from)
{
    int k = 0;
    while (k < r->n && r->f[k]->t < keep_from) {
        r->bytes -= r->f[k]->len;
        frame_unref(r->f[k]);
        k++;
    }
    if (k) {
        memmove(r->f, r->f + k, (size_t)(r->n - k) * sizeof(*r->f));
        r->n -= k;
    }
}

/* Hand over the captures whose end has come (all of them when @all). */
static void caps_finish(vg_cam_t *c, double t, int all)
{
    vg_clip_ring_t *r = &c->clips;
    vg_clip_cap_t **pp = &r->caps;
    while (*pp) {
        vg_clip_cap_t *k = *pp;
        if (all || t >= k->t_end) {
            *pp = k->next;
            r->nb_caps--;
            if (k->n)
                clipper_push(c->srv, k, c->cfg->footage != NULL);
            else
                cap_free(k);
        } else
            pp = &k->next;
    }
}

void vg__clip_frame(vg_cam_t *c, const vg_analysis_t *a)
{
    const vg_server_config_t *cfg = c->srv->cfg;
    vg_clip_ring_t *r = &c->clips;
    double t = a->frame->t;
    if (cfg->clip_fps <= 0 || cfg->clip_before + cfg->clip_after <= 0) {
        if (r->n || r->caps) vg__clip_close(c); /* turned off by a reload */
        return;
    }
    if (r->n && t < r->f[r->n - 1]->t) { /* time went back (a file played again): start over */
        caps_finish(c, t, 1);
        ring_trim(r, INFINITY);
        r->next_t = -INFINITY;
    }
    if (t + 1e-6 < r->next_t) return;
    double step = 1.0 / cfg->clip_fps;
    r->next_t = fmax(r->next_t + step, t + 0.5 * step);
    vg_snap_t snap;
    uint8_t *jpg = NULL;
    size_t len = 0;
    if (vg__snap_take(&snap, a) < 0) return;
    int ret = vg__server_snap_jpeg_q(c->srv, &snap, 1, JPEG_Q, &jpg, &len);
    vg__snap_clear(&snap);
    if (ret < 0) return;
    vg_clip_frame_t *f = vg_malloc(sizeof(*f) + len);
    if (!f) {
        vg_free(jpg);
        return;
    }
    atomic_init(&f->refs, 1);
    f->t = t;
    f->len = len;
    memcpy(f->jpg, jpg, len);
    vg_free(jpg);
    if (r->n == r->cap) {
        int nc = r->cap ? r->cap * 2 : 32;
        vg_clip_frame_t **nf = vg_realloc(r->f, (size_t)nc * sizeof(*nf));
        if (!nf) {
            frame_unref(f);
            return;
        }
        r->f = nf;
        r->cap = nc;
    }
    r->f[r->n++] = f;
    r->bytes += len;
    if (r->bytes > r->peak_bytes) r->peak_bytes = r->bytes;
    for (vg_clip_cap_t *k = r->caps; k; k = k->next)
        if (t >= k->t_event - cfg->clip_before && t <= k->t_end) cap_append(k, f);
    caps_finish(c, t, 0);
    ring_trim(r, t - cfg->clip_before - 0.5 * step);
}

void vg__clip_event(vg_cam_t *c, const vg_job_t *j, const vg_analysis_t *a)
{
    const vg_server_config_t *cfg = c->srv->cfg;
    vg_clip_ring_t *r = &c->clips;
    if (cfg->clip_fps <= 0 || cfg->clip_before + cfg->clip_after <= 0 || !a || !a->frame) return;
    clip_ev_t e = {.event_id = j->ev.event_id, .t = a->frame->t};
    if (j->ev.has_box && a->frame->in_w > 0 && a->frame->in_h > 0) {
        float sx = (float)a->frame->image.w / a->frame->in_w,
              sy = (float)a->frame->image.h / a->frame->in_h;
        e.box[0] = (float)j->ev.box[0] * sx;
        e.box[1] = (float)j->ev.box[1] * sy;
        e.box[2] = (float)j->ev.box[2] * sx;
        e.box[3] = (float)j->ev.box[3] * sy;
        e.has_box = 1;
    }
    /* an event while a capture is open shares it (a storm: one encoding, not one per event),
     * the capture going on to this event's clip_after, as long as the whole stays short */
    double span = fmax(SHARED_MAX_S, cfg->clip_before + cfg->clip_after);
    for (vg_clip_cap_t *k = r->caps; k; k = k->next)
        if (k->run == j->run && k->nev < MAX_SHARED && e.t <= k->t_end &&
            e.t + cfg->clip_after - (k->t_event - cfg->clip_before) <= span) {
            k->ev[k->nev++] = e;
            k->t_end = fmax(k->t_end, e.t + cfg->clip_after);
            return;
        }
    if (r->nb_caps >= (c->cfg->footage ? MAX_OPEN_REPLAY : MAX_OPEN)) {
        if (!r->warned)
            vg_log(COMP, VG_LOG_WARNING,
                   "camera '%s': %d clips already being captured; the next events keep their "
                   "still only until one is done (said once)",
                   c->cfg->name, MAX_OPEN);
        r->warned = 1;
        atomic_fetch_add(&c->srv->clip_failed, 1);
        return;
    }
    vg_clip_cap_t *k = vg_calloc(1, sizeof(*k));
    if (!k) return;
    k->srv = c->srv;
    snprintf(k->camera, sizeof(k->camera), "%s", c->cfg->name);
    k->run = j->run;
    k->ev[0] = e;
    k->nev = 1;
    k->t_event = e.t;
    k->t_end = e.t + cfg->clip_after;
    for (int i = 0; i < r->n; i++)
        if (r->f[i]->t >= k->t_event - cfg->clip_before - 1e-6 && cap_append(k, r->f[i]) < 0) {
            cap_free(k);
            return;
        }
    k->next = r->caps;
    r->caps = k;
    r->nb_caps++;
}

void vg__clip_close(vg_cam_t *c)
{
    vg_clip_ring_t *r = &c->clips;
    caps_finish(c, 0, 1);
    ring_trim(r, INFINITY);
    vg_free(r->f);
    size_t peak = r->peak_bytes;
    memset(r, 0, sizeof(*r));
    r->peak_bytes = peak;
    r->next_t = -INFINITY;
}

/* ---- the clipper: JPEGs to VP9 in WebM ---- */

static void draw_box(uint8_t *bgr, int w, int h, const float b[4])
{
    static const uint8_t col[3] = {0, 200, 255}; /* BGR: amber, as the console's boxes */
    int x0 = (int)floorf(b[0]), y0 = (int)floorf(b[1]);
    int x1 = (int)ceilf(b[0] + b[2]) - 1, y1 = (int)ceilf(b[1] + b[3]) - 1;
    for (int th = 0; th < 2; th++) {
        for (int x = x0 - th; x <= x1 + th; x++)
            for (int side = 0; side < 2; side++) {
                int y = side ? y1 + th : y0 - th;
                if (x >= 0 && x < w && y >= 0 && y < h)
                    memcpy(bgr + ((size_t)y * w + x) * 3, col, 3);
            }
        for (int y = y0 - th; y <= y1 + th; y++)
            for (int side = 0; side < 2; side++) {
                int x = side ? x1 + th : x0 - th;
                if (x >= 0 && x < w && y >= 0 && y < h)
                    memcpy(bgr + ((size_t)y * w + x) * 3, col, 3);
            }
    }
}

typedef struct enc {
    AVFormatContext *fmt;
    AVCodecContext *cc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *yuv;
    AVPacket *pkt;
    int header;
} enc_t;

static void enc_free(enc_t *e)
{
    avcodec_free_context(&e->cc);
    if (e->fmt) {
        if (e->fmt->pb) avio_closep(&e->fmt->pb);
        avformat_free_context(e->fmt);
    }
    sws_freeContext(e->sws);
    av_frame_free(&e->yuv);
    av_packet_free(&e->pkt);
    memset(e, 0, sizeof(*e));
}

static int enc_open(enc_t *e, const char *path, int w, int h, double fps, char *err, size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libvpx-vp9");
    int ret;
    if (!codec) {
        snprintf(err, errlen, "this FFmpeg has no VP9 encoder (libvpx-vp9)");
        return VG_ENOSYS;
    }
    if ((ret = avformat_alloc_output_context2(&e->fmt, NULL, "webm", path)) < 0 || !e->fmt) {
        snprintf(err, errlen, "no WebM muxer: %s", av_err2str(ret));
        return VG_ENOSYS;
    }
    e->cc = avcodec_alloc_context3(codec);
    e->st = avformat_new_stream(e->fmt, NULL);
    e->yuv = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->cc || !e->st || !e->yuv || !e->pkt) return VG_ENOMEM;
    e->cc->width = w;
    e->cc->height = h;
    e->cc->pix_fmt = AV_PIX_FMT_YUV420P;
    e->cc->time_base = (AVRational){1, 1000};
    e->cc->framerate = (AVRational){(int)lrint(fps * 1000), 1000};
    e->cc->gop_size = (int)lrint(fps * 2);
    e->cc->bit_rate = 0;
    e->cc->thread_count = 1;
    e->cc->color_range = AVCOL_RANGE_MPEG;
    if (e->fmt->oformat->flags & AVFMT_GLOBALHEADER) e->cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(e->cc->priv_data, "deadline", "realtime", 0);
    av_opt_set_int(e->cc->priv_data, "cpu-used", 8, 0);
    av_opt_set_int(e->cc->priv_data, "crf", 30, 0);
    av_opt_set_int(e->cc->priv_data, "lag-in-frames", 0, 0);
    if ((ret = avcodec_open2(e->cc, codec, NULL)) < 0) {
        snprintf(err, errlen, "cannot open the VP9 encoder: %s", av_err2str(ret));
        return VG_EINVAL;
    }
    if ((ret = avcodec_parameters_from_context(e->st->codecpar, e->cc)) < 0) return VG_ENOMEM;
    e->st->time_base = e->cc->time_base;
    e->yuv->format = AV_PIX_FMT_YUV420P;
    e->yuv->width = w;
    e->yuv->height = h;
    if (av_frame_get_buffer(e->yuv, 0) < 0) return VG_ENOMEM;
    e->sws = sws_getContext(w, h, AV_PIX_FMT_BGR24, w, h, AV_PIX_FMT_YUV420P, SWS_POINT, NULL, NULL,
                            NULL);
    if (!e->sws) return VG_ENOMEM;
    if ((ret = avio_open(&e->fmt->pb, path, AVIO_FLAG_WRITE)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, av_err2str(ret));
        return VG_EIO;
    }
    if ((ret = avformat_write_header(e->fmt, NULL)) < 0) {
        snprintf(err, errlen, "cannot write the WebM header: %s", av_err2str(ret));
        return VG_EIO;
    }
    e->header = 1;
    return 0;
}

/* Send @frame (NULL: drain) and write what comes out. */
static int enc_send(enc_t *e, AVFrame *frame, int64_t dur)
{
    int ret = avcodec_send_frame(e->cc, frame);
    if (ret < 0) return VG_EINVAL;
    for (;;) {
        ret = avcodec_receive_packet(e->cc, e->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return VG_EINVAL;
        if (e->pkt->duration <= 0) e->pkt->duration = dur;
        av_packet_rescale_ts(e->pkt, e->cc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        if (av_interleaved_write_frame(e->fmt, e->pkt) < 0) return VG_EIO;
    }
}

/* The server stops and the clipper's grace is over: what is left is not made. */
static int past_grace(vg_server_t *s)
{
    pthread_mutex_lock(&s->clip_lock);
    int past = s->clip_stop && vg__now_mono() > s->clip_stop_by;
    pthread_mutex_unlock(&s->clip_lock);
    return past;
}

/* Encode @k into @path. 0, or an error with its reason in @err. */
static int encode_clip(vg_clip_cap_t *k, const char *path, double fps, char *err, size_t errlen)
{
    tjhandle tj = tjInitDecompress();
    enc_t e = {0};
    uint8_t *bgr = NULL;
    int w = 0, h = 0, ret = 0, sub, cs, written = 0;
    int64_t dur = (int64_t)lrint(1000.0 / fps), last_pts = -1;
    if (!tj) return VG_ENOMEM;
    for (int i = 0; i < k->n && ret == 0; i++) {
        int fw, fh;
        if (past_grace(k->srv)) {
            snprintf(err, errlen, "the server stopped before it was made");
            ret = VG_ESTOPPED;
            break;
        }
        if (tjDecompressHeader3(tj, k->f[i]->jpg, (unsigned long)k->f[i]->len, &fw, &fh, &sub,
                                &cs) != 0)
            continue;
        if (!bgr) {
            w = fw & ~1;
            h = fh & ~1;
            bgr = vg_malloc((size_t)fw * fh * 3);
            if (!bgr) {
                ret = VG_ENOMEM;
                break;
            }
            if ((ret = enc_open(&e, path, w, h, fps, err, errlen)) < 0) break;
        }
        if ((fw & ~1) != w || (fh & ~1) != h) continue; /* another size: not this clip's */
        if (tjDecompress2(tj, k->f[i]->jpg, (unsigned long)k->f[i]->len, bgr, fw, fw * 3, fh,
                          TJPF_BGR, 0) != 0)
            continue;
        /* the box of the last event started by this picture (the first event's before it): one
         * box at a time, each event's on its own start, as in a clip of its own */
        int v = 0;
        while (v + 1 < k->nev && k->ev[v + 1].t <= k->f[i]->t + 1e-6) v++;
        if (k->ev[v].has_box) draw_box(bgr, fw, fh, k->ev[v].box);
        if ((ret = av_frame_make_writable(e.yuv)) < 0) {
            ret = VG_ENOMEM;
            break;
        }
        const uint8_t *src[1] = {bgr};
        int sstride[1] = {fw * 3};
        sws_scale(e.sws, src, sstride, 0, h, e.yuv->data, e.yuv->linesize);
        int64_t pts = (int64_t)llrint((k->f[i]->t - k->f[0]->t) * 1000.0);
        if (pts <= last_pts) pts = last_pts + 1;
        e.yuv->pts = last_pts = pts;
        if ((ret = enc_send(&e, e.yuv, dur)) < 0) snprintf(err, errlen, "VP9 encoding failed");
        written++;
    }
    if (ret == 0 && !written) {
        snprintf(err, errlen, "no picture could be read back");
        ret = VG_EINVAL;
    }
    if (ret == 0 && (ret = enc_send(&e, NULL, dur)) < 0) snprintf(err, errlen, "VP9 flush failed");
    if (ret == 0 && av_write_trailer(e.fmt) < 0) {
        snprintf(err, errlen, "cannot finish the WebM file");
        ret = VG_EIO;
    }
    enc_free(&e);
    vg_free(bgr);
    tjDestroy(tj);
    return ret;
}

static int file_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return VG_EIO;
    int ok = fsync(fd) == 0;
    close(fd);
    return ok ? 0 : VG_EIO;
}

/* @path under a second name @to: a hard link (the same file, no copy; each name is removed on
 * its own by retention), else a copy where the file system has no links. */
static int file_twin(const char *path, const char *to)
{
    if (link(path, to) == 0) return 0;
    uint8_t *d = NULL;
    size_t n = 0;
    int ret = vg_file_read(path, (size_t)1 << 30, &d, &n);
    if (ret == 0) ret = vg__write_file(to, d, n, 0640);
    vg_free(d);
    return ret < 0 ? VG_EIO : 0;
}

/* Event @v of @k gets clip file @name (in the evidence folder as @path). */
static void clip_record(vg_server_t *s, vg_clip_cap_t *k, int v, const char *name, const char *path,
                        int64_t bytes)
{
    double at = fmax(0, k->ev[v].t - k->f[0]->t);
    /* the event is in the store long before (its clip waited clip_after seconds); a store that
     * is busy or full makes the writer retry: so does this, as long as the server runs */
    int64_t id = -1;
    for (int tries = 0;; tries++) {
        id = vg_store_event_id(s->store, k->run, k->ev[v].event_id);
        if (id >= 0 || tries >= 120 || (tries >= 2 && atomic_load(&s->stopping))) break;
        pthread_mutex_lock(&s->clip_lock);
        struct timespec ts;
        vg__abs_deadline(&ts, 0.5);
        if (!s->clip_stop) pthread_cond_timedwait(&s->clip_cond, &s->clip_lock, &ts);
        pthread_mutex_unlock(&s->clip_lock);
    }
    if (id < 0 || vg_store_evidence_add_at(s->store, id, "clip", name, bytes, at) < 0) {
        vg_log(COMP, VG_LOG_ERROR,
               "camera '%s': event %lld: its clip could not be recorded in the store (removed)",
               k->camera, (long long)k->ev[v].event_id);
        unlink(path);
        atomic_fetch_add(&s->clip_failed, 1);
        return;
    }
    atomic_fetch_add(&s->clip_made, 1);
}

static void clip_one(vg_server_t *s, vg_clip_cap_t *k)
{
    const vg_server_config_t *cfg = s->cfg;
    char name[64], path[4200], tmp[4300], err[4600] = "";
    struct stat sb;
    vg__evidence_name(name, ".webm");
    snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    double t0 = vg__now_mono();
    int ret = encode_clip(k, tmp, cfg->clip_fps, err, sizeof(err));
    if (ret == 0 && (file_sync(tmp) < 0 || chmod(tmp, 0640) != 0 || rename(tmp, path) != 0)) {
        snprintf(err, sizeof(err), "cannot write %s: %s", path, strerror(errno));
        ret = VG_EIO;
    }
    if (ret < 0) {
        unlink(tmp);
        for (int v = 0; v < k->nev; v++) {
            vg_log(COMP, VG_LOG_ERROR,
                   "camera '%s': event %lld: no clip: %s (the event keeps its still)", k->camera,
                   (long long)k->ev[v].event_id, err);
            atomic_fetch_add(&s->clip_failed, 1);
        }
        return;
    }
    double took = vg__now_mono() - t0;
    int64_t bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
    /* the events sharing the clip: each its own name for the same file, made before the first
     * is recorded (whose failure removes its name) */
    char(*names)[64] = k->nev > 1 ? vg_calloc((size_t)k->nev, 64) : NULL;
    for (int v = 1; v < k->nev; v++) {
        char p2[4200];
        if (!names) break;
        vg__evidence_name(names[v], ".webm");
        snprintf(p2, sizeof(p2), "%s/%s", s->dir_evidence, names[v]);
        if (file_twin(path, p2) < 0) {
            vg_log(COMP, VG_LOG_ERROR,
                   "camera '%s': event %lld: no clip: cannot write %s (the event keeps its still)",
                   k->camera, (long long)k->ev[v].event_id, p2);
            atomic_fetch_add(&s->clip_failed, 1);
            names[v][0] = 0;
        }
    }
    if (k->nev > 1 && !names)
        for (int v = 1; v < k->nev; v++) atomic_fetch_add(&s->clip_failed, 1);
    clip_record(s, k, 0, name, path, bytes);
    for (int v = 1; names && v < k->nev; v++) {
        if (!names[v][0]) continue;
        char p2[4200];
        snprintf(p2, sizeof(p2), "%s/%s", s->dir_evidence, names[v]);
        clip_record(s, k, v, names[v], p2, bytes);
    }
    vg_free(names);
    vg_log(COMP, VG_LOG_VERBOSE,
           "camera '%s': event %lld: clip %s (shared by %d event(s)), %d pictures, %.1f s, %lld "
           "bytes, encoded in %.2f s",
           k->camera, (long long)k->ev[0].event_id, name, k->nev, k->n,
           k->f[k->n - 1]->t - k->f[0]->t, (long long)bytes, took);
}

static void *clipper_main(void *opaque)
{
    vg_server_t *s = opaque;
    vg_log_set_camera(NULL);
    /* the analysis first: a storm of events makes many clips, and a late clip harms no one
     * while a late frame does (Linux: nice applies to this thread alone) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        vg_log(COMP, VG_LOG_VERBOSE, "cannot lower the clip encoder's priority: %s",
               strerror(errno));
    pthread_mutex_lock(&s->clip_lock);
    for (;;) {
        while (!s->clip_head && !s->clip_stop) pthread_cond_wait(&s->clip_cond, &s->clip_lock);
        vg_clip_cap_t *k = s->clip_head;
        if (!k) break; /* stopping, nothing left */
        s->clip_head = k->next;
        if (!s->clip_head) s->clip_tail = NULL;
        s->clip_count--;
        s->clip_busy = 1;
        pthread_cond_broadcast(&s->clip_cond); /* room for a replay waiting to hand one over */
        if (s->clip_stop && vg__now_mono() > s->clip_stop_by) { /* a stop does not wait longer */
            for (int v = 0; v < k->nev; v++) {
                vg_log(COMP, VG_LOG_WARNING,
                       "camera '%s': event %lld: no clip, the server stopped before it was made "
                       "(the event keeps its still)",
                       k->camera, (long long)k->ev[v].event_id);
                atomic_fetch_add(&s->clip_failed, 1);
            }
            cap_free(k);
            s->clip_busy = 0;
            continue;
        }
        pthread_mutex_unlock(&s->clip_lock);
        clip_one(s, k);
        cap_free(k);
        pthread_mutex_lock(&s->clip_lock);
        s->clip_busy = 0;
    }
    pthread_mutex_unlock(&s->clip_lock);
    return NULL;
}

int vg__clipper_start(vg_server_t *s)
{
    pthread_mutex_lock(&s->clip_lock);
    s->clip_stop = 0;
    pthread_mutex_unlock(&s->clip_lock);
    if (pthread_create(&s->clipper, NULL, clipper_main, s) != 0) return VG_ENOMEM;
    s->clip_started = 1;
    return 0;
}

void vg__clipper_stop(vg_server_t *s)
{
    if (!s->clip_started) return;
    pthread_mutex_lock(&s->clip_lock);
    s->clip_stop = 1; /* the clips queued are still made, for STOP_GRACE seconds at most */
    s->clip_stop_by = vg__now_mono() + STOP_GRACE;
    pthread_cond_broadcast(&s->clip_cond);
    pthread_mutex_unlock(&s->clip_lock);
    pthread_join(s->clipper, NULL);
    s->clip_started = 0;
}

size_t vg__clip_ring_peak(const vg_cam_t *c)
{
    return c->clips.peak_bytes;
}

int vg__clipper_busy(vg_server_t *s)
{
    pthread_mutex_lock(&s->clip_lock);
    int busy = s->clip_count > 0 || s->clip_busy;
    pthread_mutex_unlock(&s->clip_lock);
    return busy;
}
