/* Internals of `vigie serve` shared by its files (server.c, cameras.c, writer.c, keeper.c,
 * snap.c, evidence.c, http.c and the API). */
#ifndef VG_SERVER_PRIV_H
#define VG_SERVER_PRIV_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <vigie/event.h>
#include <vigie/frame.h>
#include <vigie/server.h>
#include <vigie/pipeline.h>
#include <vigie/store.h>

#define VG_MAX_PERSON_BOXES 128

/* What is kept of a frame for a picture: the frame (a reference), the person boxes and, when the
 * detector had nothing for it, a copy of the foreground mask. */
typedef struct vg_snap {
    vg_frame_t *frame;
    float boxes[VG_MAX_PERSON_BOXES][4];
    int nb;
    uint8_t *fg; /* w*h bytes, or NULL */
    int fg_w, fg_h;
    /* a region left as it is in the pixelated picture (analysis pixels): the object a weapon
     * alert is about, for the operator to check (the person round it stays pixelated) */
    float keep[4];
    int has_keep;
    /* the detector has not looked at this camera yet (its first seconds): nobody is known, so
     * the whole picture is pixelated */
    int blind;
} vg_snap_t;

/* clip.c: a picture of the clip ring (a pixelated JPEG, shared by reference) and a clip being
 * captured; the ring of a camera (its analysis thread only). */
typedef struct vg_clip_frame vg_clip_frame_t;
typedef struct vg_clip_cap vg_clip_cap_t;
typedef struct vg_clip_ring {
    vg_clip_frame_t **f; /* oldest first */
    int n, cap;
    double next_t;       /* when the next picture is due (frame time) */
    vg_clip_cap_t *caps; /* captures open */
    int nb_caps, warned;
    size_t bytes, peak_bytes;
} vg_clip_ring_t;

/* One event record on its way to the store (a start carries its frame for the evidence). */
typedef struct vg_job {
    struct vg_job *next;
    struct vg_cam *cam;
    int64_t run;
    vg_event_t ev;
    char wall[32];
    vg_snap_t snap;
    char evidence[64]; /* set once its picture is written (kept across retries) */
    int64_t evidence_bytes;
    int tries;
    int is_count; /* a count sample (count), not an event */
    vg_count_t count;
    int priority;   /* a start's vg_priority_t (its zone's, its type's); 0: its type's */
    double arrived; /* its frame's vg_frame_t.arrived (0: unknown): the latency's origin */
} vg_job_t;

typedef struct vg_cam {
    struct vg_server *srv;
    /* its entry in the config in force (a reload may point it at the new config's: atomic) */
    _Atomic(const vg_server_camera_t *) cfg;
    pthread_t th;
    int started;
    atomic_int gone;      /* removed from the config by a reload: its slot stays, unused */
    atomic_int cancel;    /* stop opening its input: the server stops or the camera goes */
    char scene_sha[65];   /* SHA-256 of its scene file when last (re)started ("" without one) */
    pthread_mutex_t lock; /* the fields below */
    pthread_cond_t cond;  /* wakes a camera waiting to retry */
    char status[16];      /* starting, running, reconnecting, failed, ended, stopped */
    char message[512];
    char since[32];
    double fps;
    int64_t frames, dropped, events, restarts;
    int in_w, in_h;
    int view;              /* vg_view_state_t of its last frame (camera_motion; 0: fixed camera) */
    int64_t view_held;     /* frames held while the camera moved (camera_motion) */
    _Atomic double mem_mb; /* the memory its running pipeline is expected to take (written under
                              cameras.c's mem_lock, read anywhere) */
    double last_frame;     /* monotonic time frames last advanced (under lock) */
    double stall_after;    /* its input.timeout: no frame for longer is a stall (under lock) */
    /* the camera's technical alert (health.c, keeper thread only) */
    int fault_open;
    int64_t fault_run, fault_next_id, fault_id;
    vg_snap_t still;
    double still_t;
    vg_pipeline_t *pipe;
    atomic_int restart;
    /* cluster (cluster.c): an analysis node runs the camera only while it holds its lease (1
     * without a cluster); a console node shows which node runs it (under lock) */
    atomic_int held;
    char node[64];
    /* footage (`footage:`): the file playing now, and the files done (vg_server_progress) */
    atomic_int footage_i, footage_done;
    /* analysis thread only */
    vg_job_t *pend_head, *pend_tail;
    vg_clip_ring_t clips;
    _Atomic int64_t clip_bytes; /* the ring's bytes now (read by the API) */
    int64_t run;
    double last_touch;
} vg_cam_t;

struct vg_server {
    /* the config in force: the one given to vg_server_new, then each one a reload applied (they
     * stay allocated until the server is freed, so a pointer read before a reload stays good) */
    _Atomic(const vg_server_config_t *) cfg;
    vg_server_config_t **reloaded; /* the configs reloads loaded (the keeper's), freed at the end */
    int nb_reloaded;
    atomic_int reload_req; /* SIGHUP: the keeper re-reads the config (reload.c) */
    vg_store_t *store;
    char dir_evidence[4096], dir_originals[4096], anchors[4096];
    vg_cam_t *cams; /* VG_SERVER_CAM_SLOTS slots: a pointer to a camera stays good until the end */
    atomic_int nb_cams; /* slots in use, removed cameras included (see vg__cam_live) */
    atomic_int stopping;
    int stop_pipe[2];

    pthread_t writer;
    int writer_started;
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    vg_job_t *jhead, *jtail;
    int jcount;
    int wstop;

    pthread_mutex_t hlock; /* the live stream's hub (http.c) */
    pthread_cond_t hcond;
    int64_t head;
    struct vg_http *http; /* http.c's state */

    pthread_t keeper; /* retention and anchors */
    int keeper_started;
    pthread_mutex_t klock;
    pthread_cond_t kcond;
    int kstop;

    pthread_t clipper; /* event clips (clip.c) */
    int clip_started, clip_stop, clip_busy;
    double clip_stop_by; /* monotonic: past it, a stopping clipper makes no more clips */
    pthread_mutex_t clip_lock;
    pthread_cond_t clip_cond;
    vg_clip_cap_t *clip_head, *clip_tail;
    int clip_count;
    atomic_llong clip_made, clip_failed;

    pthread_mutex_t llock; /* login limiter (limiter.c) */
    struct vg_limiter *limiter;

    pthread_mutex_t alock; /* repeated audit rows (audit_repeat.c) */
    struct vg_audit_repeat *repeats;

    int port;
    struct vg_mqtt *mqtt;       /* the MQTT publisher (mqtt.c), NULL without `mqtt:` */
    struct vg_metrics *metrics; /* metrics.c */
    char *metrics_token;        /* the scrapers' bearer token (`metrics: {token_file}`), or NULL */
    vg_audit_key_t *audit_key;  /* signs the anchors (`audit: {signing_key}`), or NULL */
    uint8_t audit_pk[32];       /* its public key, for GET /api/audit/verify */
    struct vg_cluster *cluster; /* cluster.c, NULL without `cluster:` */
};

/* Camera slots: the config's cameras and those reloads add (a removed camera keeps its slot). */
#define VG_SERVER_CAM_SLOTS 1024

/* A camera of the config in force (not removed by a reload). */
static inline int vg__cam_live(const vg_cam_t *c)
{
    return !atomic_load(&c->gone);
}

/* reload.c: re-read the config and apply what can be applied live (keeper thread); the SHA-256
 * of a camera's scene file ("" without one, or unreadable). */
void vg__server_reload(vg_server_t *s);
void vg__cam_scene_sha(const vg_server_camera_t *cam, char sha[65]);
/* server.c: set up the slot @c for @cfg and start its thread (0 or an error). */
int vg__cam_start(vg_server_t *s, vg_cam_t *c, const vg_server_camera_t *cfg);

typedef struct vg_metrics vg_metrics_t;
/* metrics.c: GET /metrics (Prometheus text); the counters it keeps: an event record written
 * (its type, phase, and how long the store took), an API request answered (its route pattern
 * and status). */
int vg__metrics_new(vg_server_t *s);
void vg__metrics_free(vg_server_t *s);
void vg__metrics_event(vg_server_t *s, int type, int phase, double commit_s);
/* an event's latency: from its frame's arrival to its record committed and announced to the
 * live streams */
void vg__metrics_latency(vg_server_t *s, double latency_s);
void vg__metrics_http(vg_server_t *s, const char *route, int status);

typedef struct vg_mqtt vg_mqtt_t;
/* What the MQTT publisher has done (for /metrics and the logs). */
typedef struct vg_mqtt_stats {
    int enabled, connected;
    int64_t backlog; /* feed records the broker has not acknowledged */
    int64_t published, acknowledged, dropped, connects;
} vg_mqtt_stats_t;

/* Monotonic seconds, and an absolute CLOCK_REALTIME deadline @seconds from now (condvars). */
static inline double vg__now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void vg__abs_deadline(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double t = ts->tv_sec + ts->tv_nsec * 1e-9 + seconds;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

/* snap.c: the frame, person boxes and (without detections) the mask of @a's frame. */
int vg__snap_take(vg_snap_t *snap, const vg_analysis_t *a);
/* writer.c: hand a list of jobs, in order, to the writer; the writer thread; free a job. */
void vg__writer_push(vg_server_t *s, vg_job_t *head, vg_job_t *tail);
void *vg__writer_main(void *server);
void vg__job_free(vg_job_t *j);
/* mqtt.c: start the publisher (nothing without `mqtt:`; an unreachable broker is retried, not an
 * error); stop it (a moment for the last records, "offline", disconnect); a camera's status and
 * a count sample to their retained topics (dropped while disconnected: state, not history);
 * its figures. */
int vg__mqtt_start(vg_server_t *s, char *err, size_t errlen);
void vg__mqtt_stop(vg_server_t *s);
void vg__mqtt_status(vg_server_t *s, const char *camera, const char *status);
void vg__mqtt_count(vg_server_t *s, const char *camera, const char *zone, const char *json);
void vg__mqtt_stats(vg_server_t *s, vg_mqtt_stats_t *st);
/* cluster.c: NATS JetStream (`cluster:`; docs/scale.md). Start after the writer; stop after it
 * (an analysis node sends what the writer committed last). */
int vg__cluster_start(vg_server_t *s, char *err, size_t errlen);
void vg__cluster_stop(vg_server_t *s);
typedef struct vg_cluster_stats {
    int on, role, connected, cameras, nodes;
    int64_t waiting; /* analysis: feed records the stream has not acknowledged */
    int64_t sent, received, duplicates, failures;
    int64_t counts; /* console: count samples received */
} vg_cluster_stats_t;
void vg__cluster_stats(vg_server_t *s, vg_cluster_stats_t *st);
/* A console node: @camera's fixtures changed (a decision); sent to its analysis node. */
void vg__cluster_fixtures_changed(vg_server_t *s, const char *camera);
/* A console node: @camera's scene was saved; sent to its analysis node. */
void vg__cluster_scene_changed(vg_server_t *s, const char *camera);
/* A console node: camera @c's latest still (pixelated), asked of the node that runs it. 0 with
 * the JPEG in *@jpg (vg_free it), or an error with the reason in @why. */
int vg__cluster_still(vg_server_t *s, struct vg_cam *c, uint8_t **jpg, size_t *len, char *why,
                      size_t whylen);
/* A console node: cameras are analysed elsewhere (no camera thread here). */
static inline int vg__cluster_console(const vg_server_t *s)
{
    const vg_server_config_t *cfg = atomic_load(&s->cfg);
    return cfg->cluster && cfg->cluster->role == VG_CLUSTER_CONSOLE;
}

/* Wake the threads waiting on the hub's condition (the MQTT publisher) without a new record. */
void vg__hub_wake(vg_server_t *s);
/* keeper.c: the keeper thread. */
void *vg__keeper_main(void *server);
/* health.c: raise or end each camera's technical alert (camera_fault) from its state. */
void vg__cam_health(vg_server_t *s);
/* End the technical alerts still open (at stop, once the keeper has stopped). */
void vg__cam_health_end(vg_server_t *s);
/* End @c's technical alert if one is open (keeper thread: a camera removed by a reload). */
void vg__cam_health_end_one(vg_server_t *s, vg_cam_t *c);
/* cameras.c: a camera's thread. */
void *vg__cam_main(void *cam);

/* evidence.c */
/* Copy back into @img, from @orig (same size and format), the box @keep (x, y, w, h) grown by
 * @grow of its longer side each way: an object shown as it is in a pixelated picture. */
void vg__evidence_restore(vg_image_t *img, const vg_image_t *orig, const float keep[4], float grow);
void vg__evidence_pixelate(vg_image_t *img, const float (*boxes)[4], int nb, const vg_image_t *fg,
                           int bs);
int vg__evidence_jpeg(const vg_image_t *img, int quality, uint8_t **out, size_t *len);
/* A JPEG at most @max_w wide (libjpeg's DCT scaling: 1/2, 1/4, 1/8) of the JPEG @jpg. */
int vg__evidence_thumb(const uint8_t *jpg, size_t len, int max_w, uint8_t **out, size_t *olen);
int vg__write_file(const char *path, const void *data, size_t len, int mode);

/* snap.c: a pixelated JPEG of @snap (vg_free *out); _q: of JPEG quality @q (1..100). */
int vg__server_snap_jpeg(vg_server_t *s, const vg_snap_t *snap, int pixelate, uint8_t **out,
                         size_t *len);
int vg__server_snap_jpeg_q(vg_server_t *s, const vg_snap_t *snap, int pixelate, int q,
                           uint8_t **out, size_t *len);
/* report.c: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.mmm]Z" as the store's times are written
 * ("YYYY-MM-DDTHH:MM:SS.mmmZ", so that they compare as strings); @end_of_day: a date alone is the
 * end of that day (else its start). 0, or VG_EINVAL for what is not a date. */
int vg__iso_time_norm(const char *in, int end_of_day, char out[32]);
/* evidence.c: a new evidence file name: 32 random hexadecimal digits and @ext (".jpg"). */
void vg__evidence_name(char out[64], const char *ext);

/* clip.c (event clips; docs/server.md "Evidence"). Camera analysis thread: keep @a's picture in
 * the camera's ring when one is due, append it to the clips being captured and hand over those
 * that are complete; open the clip of the event start @j (its frame is @a's); hand over every
 * open clip and empty the ring (the camera's pipeline ended). The clipper thread: started after
 * the writer, stopped once the cameras have (the clips queued are made first). */
void vg__clip_frame(vg_cam_t *c, const vg_analysis_t *a);
void vg__clip_event(vg_cam_t *c, const vg_job_t *j, const vg_analysis_t *a);
void vg__clip_close(vg_cam_t *c);
int vg__clipper_start(vg_server_t *s);
int vg__clipper_busy(vg_server_t *s); /* clips queued or being made */
void vg__clipper_stop(vg_server_t *s);
void vg__snap_clear(vg_snap_t *snap);
/* Copy @src into @dst with a new frame reference. */
int vg__snap_copy(vg_snap_t *dst, const vg_snap_t *src);
/* cameras.c */
vg_cam_t *vg__server_cam(vg_server_t *s, const char *name);
/* The camera's scene: saved through the API, else its file, else empty; with the fixtures added
 * by decisions when @with_fixtures. */
int vg__server_cam_scene(vg_cam_t *c, vg_scene_t **out, int with_fixtures, char *err,
                         size_t errlen);
/* scene_json.c: @sc in the scene file's schema as JSON, with @extra's members (may be NULL). */
char *vg__scene_json(const vg_scene_t *sc, json_t *extra);
/* cameras.c: the memory the camera would take with @scene (and its config's settings) for an
 * input of @in_w x @in_h (0: not known), checked against its budget (limits.camera_memory_mb
 * and pipeline.memory_limit) and, with the other cameras', limits.memory_mb. 0, or VG_ERANGE
 * with the figures in @err. @reserve: record it as the camera's when it fits. */
int vg__server_cam_memory(vg_cam_t *c, const vg_scene_t *scene, int in_w, int in_h, int reserve,
                          char *err, size_t errlen);
/* Restart @cam's pipeline (a new scene or fixture). */
void vg__server_cam_restart(vg_cam_t *cam);

/* limiter.c: the login limiter. Before checking a password: 0 when the attempt may go ahead (it
 * is then counted as a failure until vg__limiter_end says otherwise), else VG_EAGAIN with the
 * seconds to wait in *@retry and the reason in @why. @known: the name is a user's. */
int vg__limiter_begin(vg_server_t *s, const char *name, int known, const char *addr, double *retry,
                      char *why, size_t whylen);
/* After the check: @ok or not; returns 1 when this failure starts a lockout. */
int vg__limiter_end(vg_server_t *s, const char *name, int known, const char *addr, int ok);
void vg__limiter_free(vg_server_t *s);

/* audit_repeat.c: an audit row that a client can repeat at will (failed logins, refused
 * actions). The first of each kind (@actor, @action, @target, @from) in a window of
 * audit.repeat_window seconds is written at once; the repeats are counted and written as one
 * row with "repeated": N when the window ends (vg__audit_repeat_flush, from the keeper twice a
 * second, and at stop). Takes @details. */
void vg__audit_repeat(vg_server_t *s, const char *actor, const char *action, const char *target,
                      const char *from, json_t *details);
/* Write the windows that ended (all of them when @all). */
void vg__audit_repeat_flush(vg_server_t *s, int all);
void vg__audit_repeat_free(vg_server_t *s);

/* http.c: a request reduced to what the API reads, and its answer. */
typedef struct vg_http_req {
    const char *method;
    const char *path;
    const char *(*query)(void *opaque, const char *key);
    const char *(*header)(void *opaque, const char *key);
    const char *(*cookie)(void *opaque, const char *key);
    void *opaque;
    const char *body;
    size_t body_len;
    int body_too_large;
    const char *client; /* address, for the login limiter and the audit */
} vg_http_req_t;

typedef struct vg_http_resp {
    int status;
    const char *type; /* Content-Type */
    uint8_t *body;    /* vg_malloc'd */
    size_t len;
    char set_cookie[256];
    char allow[64];
    char retry_after[16];
    int stream; /* 1: the live stream, from feed seq stream_after */
    int64_t stream_after;
    char stream_login[65]; /* the session that opened it (limits per login) */
    char disposition[128];
    int private_max_age;    /* > 0: the browser may keep it that many seconds (else no-store) */
    int accept_ranges;      /* says "Accept-Ranges: bytes" (a clip: the player seeks in it) */
    char content_range[96]; /* a part (206) or a range refused (416): its Content-Range */
} vg_http_resp_t;

/* Answer @req (any thread). */
void vg__http_handle(vg_server_t *s, const vg_http_req_t *req, vg_http_resp_t *resp);
void vg__metrics_handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r);
void vg__http_resp_free(vg_http_resp_t *resp);
int vg__http_start(vg_server_t *s, char *err, size_t errlen);
void vg__http_stop(vg_server_t *s);
/* The writer tells the live streams that the feed grew up to @seq. */
void vg__hub_notify(vg_server_t *s, int64_t seq);

#endif
