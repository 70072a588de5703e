/*
 * `GET /metrics`: vigie serve's figures in the Prometheus text format (version 0.0.4), for a
 * supervision dashboard. No personal data: counts, times, states; camera names and event types
 * are the only labels. Who may read it: a supervisor, auditor or admin session, or a scraper with
 * the bearer token of `metrics: {token_file: F}` (compared in constant time; a scraper has no
 * login). docs/server.md lists every metric.
 *
 * The counters kept here (events written by type and phase, the writer's commit times, HTTP
 * requests by route and status) are updated under one mutex; the others are read where they
 * live (each camera's counters under its lock, the inference service's, the MQTT publisher's).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/infer.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "api.h"
#include "server_priv.h"

#define NB_PHASES  3
#define NB_BUCKETS 8
static const double commit_le[NB_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};

#define MAX_HTTP 128
typedef struct http_count {
    char route[64];
    int status;
    int64_t n;
} http_count_t;

struct vg_metrics {
    pthread_mutex_t lock;
    int64_t events[VG_EVENT_NB][NB_PHASES];
    int64_t commit_bucket[NB_BUCKETS], commits;
    double commit_sum;
    vg_hist_t latency; /* an event's frame arrival -> committed and announced */
    http_count_t http[MAX_HTTP];
    int nhttp;
    double started;
};

int vg__metrics_new(vg_server_t *s)
{
    vg_metrics_t *m = vg_calloc(1, sizeof(*m));
    if (!m) return VG_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    m->started = vg__now_mono();
    s->metrics = m;
    return 0;
}

void vg__metrics_free(vg_server_t *s)
{
    if (!s->metrics) return;
    pthread_mutex_destroy(&s->metrics->lock);
    vg_free(s->metrics);
    s->metrics = NULL;
}

void vg__metrics_event(vg_server_t *s, int type, int phase, double commit_s)
{
    vg_metrics_t *m = s->metrics;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    if (type >= 0 && type < VG_EVENT_NB && phase >= 0 && phase < NB_PHASES)
        m->events[type][phase]++;
    for (int b = 0; b < NB_BUCKETS; b++)
        if (commit_s <= commit_le[b]) m->commit_bucket[b]++;
    m->commits++;
    m->commit_sum += commit_s;
    pthread_mutex_unlock(&m->lock);
}

void vg__metrics_latency(vg_server_t *s, double latency_s)
{
    vg_metrics_t *m = s->metrics;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    vg_hist_add(&m->latency, latency_s);
    pthread_mutex_unlock(&m->lock);
}

void vg__metrics_http(vg_server_t *s, const char *route, int status)
{
    vg_metrics_t *m = s->metrics;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    int i = 0;
    while (i < m->nhttp && (m->http[i].status != status || strcmp(m->http[i].route, route))) i++;
    if (i == m->nhttp && m->nhttp < MAX_HTTP) {
        snprintf(m->http[i].route, sizeof(m->http[i].route), "%s", route);
        m->http[i].status = status;
        m->nhttp++;
    }
    if (i < m->nhttp) m->http[i].n++;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the text ---- */

typedef struct out {
    char *p;
    size_t n, cap;
    int oom;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = o->cap - o->n;
        va_start(ap, fmt);
        int k = o->p ? vsnprintf(o->p + o->n, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) {
            o->n += (size_t)k;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 16384;
        char *p = vg_realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p, o->cap = cap;
    }
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram's series (cumulative buckets, sum, count) with @labels ("" or 'k="v",...'). */
static void hist_put(out_t *o, const char *name, const char *labels, const vg_hist_t *h)
{
    int64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int b = 0; b < VG_HIST_BUCKETS; b++) {
        cum += h->bucket[b];
        put(o, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, labels, sep, vg_hist_le[b], (long long)cum);
    }
    put(o, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, labels, sep, (long long)h->count);
    if (labels[0])
        put(o, "%s_sum{%s} %.6f\n%s_count{%s} %lld\n", name, labels, h->sum, name, labels,
            (long long)h->count);
    else
        put(o, "%s_sum %.6f\n%s_count %lld\n", name, h->sum, name, (long long)h->count);
}

#define MAX_STAGES 32

/* Each live camera's running pipeline: decode and stage time histograms, queue depth. */
static void render_pipelines(vg_server_t *s, out_t *o)
{
    vg_stage_time_t st[MAX_STAGES];
    char lab[160];
    for (int part = 0; part < 3; part++) {
        if (part == 0)
            head(o, "vigie_camera_decode_seconds", "histogram",
                 "CPU time to read each frame (demux, decode, scale), since the pipeline started.");
        else if (part == 1)
            head(o, "vigie_camera_queue", "gauge",
                 "Frames decoded and waiting for analysis (pipeline.queue at most).");
        else
            head(o, "vigie_stage_seconds", "histogram",
                 "Time of each analyser on each frame, since the pipeline started.");
        for (int i = 0; i < s->nb_cams; i++) {
            vg_cam_t *c = &s->cams[i];
            if (!vg__cam_live(c)) continue;
            vg_ingest_stats_t is;
            int n = 0;
            pthread_mutex_lock(&c->lock); /* the pipeline lives while c->pipe is set */
            if (c->pipe) {
                vg_pipeline_ingest_stats(c->pipe, &is);
                if (part == 2) n = vg_pipeline_times(c->pipe, st, MAX_STAGES, NULL);
            }
            int have = c->pipe != NULL;
            pthread_mutex_unlock(&c->lock);
            if (!have) continue;
            if (part == 0) {
                snprintf(lab, sizeof(lab), "camera=\"%s\"", c->cfg->name);
                hist_put(o, "vigie_camera_decode_seconds", lab, &is.decode);
            } else if (part == 1) {
                put(o, "vigie_camera_queue{camera=\"%s\"} %d\n", c->cfg->name, is.queued);
            } else {
                for (int k = 0; k < n; k++) {
                    snprintf(lab, sizeof(lab), "camera=\"%s\",stage=\"%s\"", c->cfg->name,
                             st[k].name);
                    hist_put(o, "vigie_stage_seconds", lab, &st[k].hist);
                }
            }
        }
    }
}

static void render(vg_server_t *s, out_t *o)
{
    static const char *const statuses[] = {"starting", "running", "reconnecting", "failed", "ended",
                                           "stopped",  NULL};
    vg_metrics_t *m = s->metrics;
    head(o, "vigie_uptime_seconds", "gauge", "Seconds since vigie serve started.");
    put(o, "vigie_uptime_seconds %.3f\n", vg__now_mono() - m->started);
    /* cameras */
    struct {
        const char *name, *type, *help;
    } cam[] = {
        {"vigie_camera_frames_total", "counter", "Frames analysed."},
        {"vigie_camera_frames_dropped_total", "counter",
         "Frames dropped because analysis fell behind."},
        {"vigie_camera_events_total", "counter", "Events the camera's analysers raised."},
        {"vigie_camera_restarts_total", "counter", "Restarts after an input failure."},
        {"vigie_camera_fps", "gauge", "Frames analysed per second, recently."},
        {"vigie_camera_memory_bytes", "gauge", "Memory its running pipeline is expected to take."},
        {"vigie_camera_clip_ring_bytes", "gauge",
         "Memory its ring of pixelated pictures for event clips holds now."},
        {"vigie_camera_held_frames_total", "counter",
         "Frames not analysed because the camera moved too fast or looked away from its "
         "scene's view (camera_motion)."},
        {"vigie_camera_held", "gauge",
         "1 while the camera moves or looks away from its scene's view: not analysed "
         "(camera_motion)."},
    };
    for (int k = 0; k < 9; k++) {
        head(o, cam[k].name, cam[k].type, cam[k].help);
        for (int i = 0; i < s->nb_cams; i++) {
            vg_cam_t *c = &s->cams[i];
            if (!vg__cam_live(c)) continue;
            double v;
            pthread_mutex_lock(&c->lock);
            v = k == 0   ? (double)c->frames
                : k == 1 ? (double)c->dropped
                : k == 2 ? (double)c->events
                : k == 3 ? (double)c->restarts
                : k == 4 ? c->fps
                : k == 5 ? c->mem_mb * 1048576.0
                : k == 6 ? (double)atomic_load(&c->clip_bytes)
                : k == 7 ? (double)c->view_held
                         : (double)(c->view == VG_VIEW_MOVING || c->view == VG_VIEW_OFF);
            pthread_mutex_unlock(&c->lock);
            put(o, "%s{camera=\"%s\"} %.17g\n", cam[k].name, c->cfg->name, v);
        }
    }
    head(o, "vigie_camera_status", "gauge", "1 for the camera's current state.");
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c)) continue;
        char st[16];
        pthread_mutex_lock(&c->lock);
        snprintf(st, sizeof(st), "%s", c->status);
        pthread_mutex_unlock(&c->lock);
        for (int k = 0; statuses[k]; k++)
            put(o, "vigie_camera_status{camera=\"%s\",status=\"%s\"} %d\n", c->cfg->name,
                statuses[k], !strcmp(st, statuses[k]));
    }
    render_pipelines(s, o);
    /* events and the writer */
    pthread_mutex_lock(&m->lock);
    head(o, "vigie_events_total", "counter",
         "Event records written to the store, by type and phase.");
    for (int t = 0; t < VG_EVENT_NB; t++)
        for (int p = 0; p < NB_PHASES; p++)
            put(o, "vigie_events_total{type=\"%s\",phase=\"%s\"} %lld\n", vg_event_type_name(t),
                vg_event_phase_name(p), (long long)m->events[t][p]);
    head(o, "vigie_store_commit_seconds", "histogram",
         "Time to record an event in the store (its picture included).");
    for (int b = 0; b < NB_BUCKETS; b++)
        put(o, "vigie_store_commit_seconds_bucket{le=\"%g\"} %lld\n", commit_le[b],
            (long long)m->commit_bucket[b]);
    put(o, "vigie_store_commit_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)m->commits);
    put(o, "vigie_store_commit_seconds_sum %.6f\nvigie_store_commit_seconds_count %lld\n",
        m->commit_sum, (long long)m->commits);
    head(o, "vigie_event_latency_seconds", "histogram",
         "From the frame that raised an event (its arrival from the camera) to its record "
         "committed and announced to the live streams (retried writes left out).");
    hist_put(o, "vigie_event_latency_seconds", "", &m->latency);
    head(o, "vigie_http_requests_total", "counter", "API requests answered, by route and status.");
    for (int i = 0; i < m->nhttp; i++)
        put(o, "vigie_http_requests_total{route=\"%s\",status=\"%d\"} %lld\n", m->http[i].route,
            m->http[i].status, (long long)m->http[i].n);
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_lock(&s->wlock);
    int waiting = s->jcount;
    pthread_mutex_unlock(&s->wlock);
    head(o, "vigie_store_queue", "gauge", "Records waiting for the store writer.");
    put(o, "vigie_store_queue %d\n", waiting);
    /* the inference thread */
    vg_infer_stats_t is;
    if (vg_infer_running_stats(&is)) {
        head(o, "vigie_detector_requests_total", "counter", "Detector requests accepted.");
        put(o, "vigie_detector_requests_total %lld\n", (long long)is.requests);
        head(o, "vigie_detector_done_total", "counter", "Detector requests done.");
        put(o, "vigie_detector_done_total %lld\n", (long long)is.done);
        head(o, "vigie_detector_refused_total", "counter",
             "Requests refused while the camera's previous one was pending.");
        put(o, "vigie_detector_refused_total %lld\n", (long long)is.refused);
        head(o, "vigie_detector_refreshed_total", "counter",
             "Queued detector requests moved to a newer frame of their camera.");
        put(o, "vigie_detector_refreshed_total %lld\n", (long long)is.refreshed);
        head(o, "vigie_detector_busy_seconds_total", "counter",
             "Seconds the inference thread spent in the models.");
        put(o, "vigie_detector_busy_seconds_total %.6f\n", is.busy);
        head(o, "vigie_pose_runs_total", "counter", "Pose model runs.");
        put(o, "vigie_pose_runs_total %lld\n", (long long)is.poses);
        head(o, "vigie_detector_wait_seconds", "histogram",
             "Time a detector request waited for the inference thread (its queue).");
        hist_put(o, "vigie_detector_wait_seconds", "", &is.wait);
        head(o, "vigie_detector_seconds", "histogram",
             "Time of each detector request in the models.");
        hist_put(o, "vigie_detector_seconds", "", &is.run);
    }
    /* event clips (clip.c) */
    head(o, "vigie_clips_total", "counter",
         "Event clips made (result=made) or not (result=failed: the event kept its still).");
    put(o, "vigie_clips_total{result=\"made\"} %lld\n", (long long)atomic_load(&s->clip_made));
    put(o, "vigie_clips_total{result=\"failed\"} %lld\n", (long long)atomic_load(&s->clip_failed));
    /* MQTT */
    vg_mqtt_stats_t ms;
    vg__mqtt_stats(s, &ms);
    if (ms.enabled) {
        head(o, "vigie_mqtt_connected", "gauge", "1 while connected to the broker.");
        put(o, "vigie_mqtt_connected %d\n", ms.connected);
        head(o, "vigie_mqtt_outbox", "gauge", "Feed records the broker has not acknowledged.");
        put(o, "vigie_mqtt_outbox %lld\n", (long long)ms.backlog);
        head(o, "vigie_mqtt_published_total", "counter", "Event messages published.");
        put(o, "vigie_mqtt_published_total %lld\n", (long long)ms.published);
        head(o, "vigie_mqtt_dropped_total", "counter",
             "Event messages skipped past mqtt.max_backlog during an outage.");
        put(o, "vigie_mqtt_dropped_total %lld\n", (long long)ms.dropped);
        head(o, "vigie_mqtt_connections_total", "counter", "Connections to the broker made.");
        put(o, "vigie_mqtt_connections_total %lld\n", (long long)ms.connects);
    }
    /* cluster (NATS JetStream) */
    vg_cluster_stats_t cs;
    vg__cluster_stats(s, &cs);
    if (cs.on) {
        head(o, "vigie_cluster_connected", "gauge", "1 while connected to NATS.");
        put(o, "vigie_cluster_connected %d\n", cs.connected);
        if (cs.role == VG_CLUSTER_ANALYSIS) {
            head(o, "vigie_cluster_cameras", "gauge", "Cameras whose lease this node holds.");
            put(o, "vigie_cluster_cameras %d\n", cs.cameras);
            head(o, "vigie_cluster_nodes", "gauge", "Analysis nodes alive on the site.");
            put(o, "vigie_cluster_nodes %d\n", cs.nodes);
            head(o, "vigie_cluster_waiting", "gauge",
                 "Feed records in the local store the stream has not acknowledged.");
            put(o, "vigie_cluster_waiting %lld\n", (long long)cs.waiting);
            head(o, "vigie_cluster_sent_total", "counter",
                 "Event records the stream acknowledged.");
            put(o, "vigie_cluster_sent_total %lld\n", (long long)cs.sent);
            head(o, "vigie_cluster_send_failures_total", "counter",
                 "Sends that failed (NATS unreachable, no stream), tried again.");
            put(o, "vigie_cluster_send_failures_total %lld\n", (long long)cs.failures);
        } else {
            head(o, "vigie_cluster_received_total", "counter",
                 "Event records received and written to the store.");
            put(o, "vigie_cluster_received_total %lld\n", (long long)cs.received);
            head(o, "vigie_cluster_counts_received_total", "counter",
                 "Count samples (people per zone) received and written to the store.");
            put(o, "vigie_cluster_counts_received_total %lld\n", (long long)cs.counts);
        }
        head(o, "vigie_cluster_duplicates_total", "counter",
             "Records sent or received again, kept once.");
        put(o, "vigie_cluster_duplicates_total %lld\n", (long long)cs.duplicates);
    }
}

static int bearer_ok(vg_server_t *s, const vg_http_req_t *q)
{
    const char *tok = s->metrics_token, *h = q->header(q->opaque, "Authorization");
    if (!tok || !tok[0] || !h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t n = strlen(tok);
    unsigned d = strlen(h) != n;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(h[i] ? h[i] : 0) ^ (unsigned char)tok[i];
    return d == 0;
}

void vg__metrics_handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    if (strcmp(q->method, "GET")) {
        snprintf(r->allow, sizeof(r->allow), "GET");
        vg__api_error(r, 405, "%.16s is not allowed here; use GET", q->method);
        return;
    }
    if (!bearer_ok(s, q) && vg__api_session(s, q, r,
                                            (1u << VG_ROLE_SUPERVISOR) | (1u << VG_ROLE_AUDITOR) |
                                                (1u << VG_ROLE_ADMIN)) < 0)
        return;
    out_t o = {0};
    render(s, &o);
    if (o.oom) {
        vg_free(o.p);
        vg__api_error(r, 503, "out of memory");
        return;
    }
    r->status = 200;
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    r->body = (uint8_t *)o.p;
    r->len = o.n;
}
