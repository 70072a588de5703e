/*
 * vigie — `vigie serve`: a long-running service that analyses cameras, keeps events and evidence
 * in the store, protects privacy and answers an HTTP API (docs/server.md).
 *
 * Threads: per camera an analysis thread (running its pipeline, whose ingest thread it starts),
 * the shared inference thread (vg_infer), one store writer thread (events, evidence pictures,
 * the live stream's notifications), one retention thread, and the HTTP server's threads.
 * A camera that fails is reported and retried with backoff; it never stops the others.
 */
#ifndef VIGIE_SERVER_H
#define VIGIE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <vigie/opt.h>
#include <vigie/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_server_camera {
    char *name;
    char *input;             /**< file, URL or device (as vigie analyze takes) */
    char *scene;             /**< scene file, "" for none */
    int loop;                /**< files: start again at the end (demonstrations) */
    int realtime;            /**< files: at their own pace (default 1) */
    vg_settings_t *settings; /**< "settings:" of the camera (option names as in --set) */
    int line;                /**< in the config file */
    /** `footage:` recorded files of this camera played one after the other, one run each, then
     *  the camera ends (replay, `vigie calibrate`): folders given are listed (video files, by
     *  name); input is the first. NULL: a live input. realtime defaults to 0 with footage. */
    char **footage;
    int nb_footage;
} vg_server_camera_t;

/** The MQTT publisher (`mqtt:` in the config; docs/server.md "MQTT"). */
typedef struct vg_server_mqtt {
    char *host;            /**< the broker */
    int port;              /**< 1883, or 8883 with TLS */
    char *prefix;          /**< topics under it (default "vigie") */
    char *client_id;       /**< default "vigie-" and the host name */
    char *user;            /**< NULL: anonymous */
    char *password_file;   /**< the password, first line of this file (kept out of the config) */
    char *ca, *cert, *key; /**< TLS: the CA that signs the broker's certificate (TLS is on when
                                set); a client certificate and key (optional) */
    int qos;               /**< 0 or 1 (default 1: at least once) */
    double keepalive;      /**< seconds */
    int discovery;         /**< publish Home Assistant MQTT discovery messages */
    int max_backlog; /**< messages waiting for the broker beyond which the oldest are skipped */
} vg_server_mqtt_t;

/** What a node of a cluster does (`cluster: {role}`). */
enum vg_cluster_role {
    VG_CLUSTER_ANALYSIS = 1, /**< analyses the cameras it leases, sends their events */
    VG_CLUSTER_CONSOLE = 2,  /**< keeps the store, the audit trail and the API; analyses nothing */
};

/** Scale-out on NATS JetStream (`cluster:` in the config; docs/scale.md). */
typedef struct vg_server_cluster {
    char **servers; /**< NATS URLs (nats://host:port) */
    int nb_servers;
    char *node;         /**< this node's name, unique on the site */
    int role;           /**< enum vg_cluster_role */
    char *site;         /**< names the stream and buckets (default "vigie") */
    double lease;       /**< seconds a camera's lease lasts without renewal (default 10) */
    int replicas;       /**< of the stream and bucket vigie creates (default 1) */
    double stream_days; /**< how long the stream keeps messages (default 7) */
} vg_server_cluster_t;

typedef struct vg_server_config {
    char *path;              /**< the file it was read from */
    char *sha256;            /**< of the file's bytes (audited when it changes) */
    char *listen_addr;       /**< IPv4 address to listen on (default 127.0.0.1) */
    int port;                /**< 0: any free port (vg_server_port says which) */
    char *storage;           /**< directory of the database, evidence and anchors */
    double evidence_days;    /**< retention of evidence pictures */
    double audit_days;       /**< retention of the audit trail (0: forever) */
    double counts_days;      /**< retention of the count series (0: forever) */
    double retention_every;  /**< seconds between retention runs */
    double anchor_every;     /**< seconds between audit anchors */
    double repeat_window;    /**< repeats of one audited refusal within it make one row */
    int keep_original;       /**< also store the unblurred picture */
    unsigned original_roles; /**< bit per enum vg_role allowed to read originals (with a reason) */
    int pixel_block;         /**< pixelation block, analysis pixels */
    double session_hours;    /**< a login lasts this long */
    int body_limit;          /**< largest request body, bytes */
    int login_failures;      /**< failed logins per address or name before a lockout */
    double login_lockout;    /**< seconds of that lockout (and of the counting window) */
    int login_parallel;      /**< logins checked at once for one name or one address */
    /* limits: what any client can make the server hold (docs/server.md#limits) */
    int max_connections;       /**< open connections in all */
    int max_per_address;       /**< open connections from one address */
    int max_streams;           /**< live streams in all */
    int max_streams_address;   /**< live streams from one address */
    int max_streams_login;     /**< live streams of one login */
    int max_logins_user;       /**< open logins per user (a new one ends the oldest) */
    double header_timeout;     /**< seconds a client has to send a request's headers */
    double body_timeout;       /**< seconds it has to send the body after them */
    int http_threads;          /**< threads answering requests */
    double memory_mb;          /**< memory budget of all the cameras together, MB */
    double camera_memory_mb;   /**< memory budget of one camera, MB */
    char **instructions;       /**< per event type (VG_EVENT_NB entries, NULL: none): what an
                                    operator checks and whom they call, shown with each alert */
    int priority[VG_EVENT_NB]; /**< per event type: its alerts' vg_priority_t (`priorities:`);
                                    a zone's or line's own priority (scene) may change it, never
                                    lowering a type ranked high */
    int nb_cameras;
    vg_server_camera_t *cameras;
    vg_server_mqtt_t *mqtt;   /**< NULL: no MQTT */
    char *metrics_token_file; /**< `metrics: {token_file}`: GET /metrics's bearer token */
    int ipv6;                 /**< listen_addr is an IPv6 address (`listen: [::1]:8443`) */
    char *tls_cert, *tls_key; /**< `tls: {cert, key}`: HTTPS (PEM files) */
    int insecure;             /**< `insecure: true`: plain HTTP on an address other than loopback */
    char *
        audit_key; /**< `audit: {signing_key}`: Ed25519 key signing the anchors (outside storage) */
    vg_server_cluster_t *cluster;   /**< NULL: a single machine, no NATS */
    double clip_before, clip_after; /**< seconds of an event's clip before and after its start
                                         (both 0: no clips) */
    double clip_fps;                /**< pictures a second in clips (0: no clips) */
    int review; /**< the console and API over the store only, no camera analysed (`vigie serve
                     --review`: labelling a calibration's alerts, looking back at an archive) */
} vg_server_config_t;

/**
 * Read and check the config file at @path (YAML; docs/server.md). Relative paths in it are
 * taken from the file's directory. Returns 0, or VG_ENOENT/VG_ESYNTAX/VG_ENOMEM with
 * "PATH:LINE: KEY: what is wrong" in @err.
 */
int vg_server_config_load(vg_server_config_t **out, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void vg_server_config_free(vg_server_config_t **c);
/** The database file of @c's storage into @buf. */
void vg_server_config_db(const vg_server_config_t *c, char *buf, size_t len);
/** The anchors file of @c's storage into @buf. */
void vg_server_config_anchors(const vg_server_config_t *c, char *buf, size_t len);

typedef struct vg_server vg_server_t;

/**
 * Create a server for @cfg (borrowed; must outlive the server): creates the storage directories,
 * opens the database. Nothing runs yet. Returns 0 or an error with the reason in @err.
 */
int vg_server_new(vg_server_t **out, const vg_server_config_t *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/** Start listening and the cameras. Returns 0 or an error (address in use, ...) in @err. */
int vg_server_start(vg_server_t *s, char *err, size_t errlen);
/** The TCP port listened on (after vg_server_start). */
int vg_server_port(const vg_server_t *s);
/** Block until vg_server_stop() is called. */
void vg_server_wait(vg_server_t *s);
/** Ask the server to stop. Any thread; async-signal-safe. */
void vg_server_stop(vg_server_t *s);
/** Ask the server to re-read its config file and apply what it can (cameras added, removed or
 *  changed; settings read as they are used), audited; within half a second. Any thread;
 *  async-signal-safe (SIGHUP). */
void vg_server_reload(vg_server_t *s);
/** Where a server's cameras stand (vg_server_progress): a replay (`footage:`) is done when every
 *  camera ended and nothing waits to be written. */
typedef struct vg_server_progress {
    int cameras;           /**< in the config */
    int ended;             /**< cameras whose input or footage ended */
    int failed;            /**< cameras failed now (retrying) */
    int64_t frames;        /**< frames analysed, all cameras, current runs */
    int files, files_done; /**< footage files in all, played to their end */
    int busy;              /**< records or clips still waiting to be written */
    char failure[640];     /**< the first failed camera: "NAME: why" */
} vg_server_progress_t;
/** Fill @p. Any thread. */
void vg_server_progress(vg_server_t *s, vg_server_progress_t *p);
/** Stop everything (cameras end their open events, the writer drains), write an anchor, free. */
void vg_server_free(vg_server_t **s);

/* ---- the evaluation report (src/server/report.c; docs/report.md) ---- */

typedef struct vg_report_params {
    const char *from, *to; /**< the period: "YYYY-MM-DD" (to: that whole day) or an ISO UTC time
                                "YYYY-MM-DDTHH:MM:SS[.mmm]Z"; NULL: the store's first record /
                                now */
    const char *lang;      /**< "en" (default) or "fr" */
    const char *site;      /**< named in the title (the config file, say); may be NULL */
    const char *anchors;   /**< the anchors file the audit trail is checked against (may be NULL) */
    const uint8_t (*pks)[32]; /**< public keys of signed anchors (vg_store_audit_verify_signed) */
    int npk;
    const char *const *cameras; /**< the cameras configured over the period (availability: hours
                                     analysed against the period's), may be NULL */
    int nb_cameras;
} vg_report_params_t;

/** What a report found, for the caller to say (vg_report_make fills it when not NULL). */
typedef struct vg_report_result {
    char from[32], to[32]; /**< the period, ISO UTC times, end excluded */
    int64_t alerts;        /**< event starts in the period, all cameras and types */
    int cameras;           /**< cameras in the report */
    int audit_ok;          /**< 1 when the audit trail verifies */
    int64_t bad_seq;       /**< else its first broken row */
} vg_report_result_t;

/**
 * The evaluation report of @p's period from the store @st: per camera and event type the alerts,
 * confirmed, false alerts per camera-hour, time to decide (median, 90th percentile); per camera
 * its availability; evidence views and exports; the audit trail's verification. One
 * self-contained HTML page (charts in SVG, no network) in *@html and the per camera-type table as
 * CSV in *@csv (vg_free both; either may be NULL when not wanted). Returns 0; VG_EINVAL with what
 * is wrong in @err (a date that is not one, a period that ends before it starts, an unknown
 * language); VG_ENOENT when nothing was recorded in the period (@err says what the store holds);
 * VG_ENOMEM, VG_EIO.
 */
int vg_report_make(vg_store_t *st, const vg_report_params_t *p, char **html, char **csv,
                   vg_report_result_t *res, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
