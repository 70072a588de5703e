/*
 * Scale-out on NATS JetStream (`cluster:` in the config; docs/scale.md): analysis nodes lease
 * cameras and send their events; console nodes keep the store, the audit trail and the API.
 *
 * Names, under the site (`cluster.site`, default "vigie"):
 * - the stream `<SITE>_EVENTS` (subjects `<site>.events.>`, file storage, `replicas`, kept
 *   `stream_days`, a duplicate window of two minutes): one message per event record or count
 *   sample, on `<site>.events.<node>`;
 * - the key-value bucket `<site>_leases` whose TTL is the lease: key `node.<node>` says a node is
 *   alive, key `cam.<camera>` (dots written '=') which node analyses the camera, with its status;
 * - the bucket `<site>_cameras` (no TTL): what the console decided per camera, `fix.<camera>`
 *   (its fixtures) and `scene.<camera>` (a scene saved through the console), applied by the node
 *   that runs it once a lease;
 * - `<site>.still.<node>.<camera>`: a request for a camera's latest still, answered by its node.
 *
 * Leases. A node takes a free camera with a create (fails when the key exists), renews it every
 * quarter of the lease with an update on the revision it holds (fails when another took it; a
 * refusal whose key still holds this node's value — a write whose answer was lost — is kept),
 * and lets it go by renewing it until its analysis has stopped, then deleting the key. The
 * bucket's TTL removes a key not renewed for `lease` seconds: a node that dies loses its cameras
 * to the others within the lease. A node that finds another holding a camera it runs stops it at
 * once. Each node aims at its share, ceil(cameras / live nodes): it takes free cameras up to it
 * and gives up those above it, so two nodes end with half each. A second node with the same name
 * cannot create its `node.` key and takes no camera (said in its log every minute) until the
 * first is gone. Renewals wait on the buckets only, each request a quarter lease at most.
 *
 * NATS unreachable: a site is never blind because NATS is down. A node goes on analysing what it
 * runs (events wait in its store); one that starts without NATS analyses, after one lease, the
 * cameras it held when it last ran (meta `cluster_held`: nodes that were balanced stay disjoint).
 * When NATS answers, each camera it runs is leased again, or stopped within a quarter lease if
 * another node holds it. The price, stated in docs/scale.md: a node cut off alone while the
 * others reach NATS runs its cameras on while they take them over, until it is back.
 *
 * Events, analysis side. The outbox is the node's own store, as for MQTT: the writer commits each
 * record locally (kill -9 loses nothing committed), then the publisher sends the feed's records
 * after its cursor (meta `cluster_sent`), each with its blurred picture, publish with
 * acknowledgement and the message id `<store id>.<feed seq>` (JetStream drops a duplicate within
 * the window; the console drops any later one). NATS unreachable: analysis goes on, records wait
 * in the local store (bounded by its retention and disk; metric vigie_cluster_waiting, a log line
 * a minute). A stream that vanished is made again and the whole local feed is sent again: the
 * console keeps each record once.
 *
 * Events, console side. A durable pull consumer (`console-<node>`, explicit acks, 10 s ack wait)
 * reads the stream; each record is written to the store with its message id in one transaction
 * (vg_store_event_put_remote), then acknowledged: a console that restarts resumes where its
 * consumer was, and a record delivered twice is kept once; an update or end before its start is
 * delivered again until the start is there. Cameras' statuses come from the lease keys (which
 * node runs each one).
 *
 * Message: a JSON header {"node","run":"<store id>.<run>","id","record":{feed record}} and a
 * newline, then the JPEG picture (event starts with evidence). A picture that would pass the
 * servers' max_payload goes in parts, each message with the header, "part" and "parts"; the
 * console keeps each part on disk and the record once it has them all.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "server_priv.h"

#define COMP  "cluster"
#define BATCH 64

typedef struct lease {
    uint64_t rev;   /* the revision this node wrote last */
    double renewed; /* monotonic time of the last successful create or update */
    int held;
    int releasing; /* given up: still renewed until its analysis has stopped, then deleted */
} lease_t;

typedef struct vg_cluster {
    vg_server_t *srv;
    const vg_server_cluster_t *cfg;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    jsCtx *jskv;  /* for the buckets: requests wait a quarter lease at most */
    kvStore *kv;  /* leases (TTL: the lease) */
    kvStore *fkv; /* what the console decides per camera: fixtures, scenes (no TTL) */
    natsSubscription *sub;
    natsSubscription *still_sub; /* analysis: requests for stills */
    char still_prefix[128];
    char stream[80], bucket[80], fbucket[80], subj_all[80], subj_mine[128], durable[96];
    char uid[40]; /* this store's id: message ids stay unique if another store replaces it */
    pthread_t th_lease, th_main;
    int th_lease_on, th_main_on;
    pthread_mutex_t lock;  /* stop, the cursor */
    pthread_mutex_t elock; /* ensure(): the stream's and buckets' state below */
    pthread_cond_t cond;
    int stop;
    /* the NATS library's callbacks that take this structure have all returned: the connection's
     * last (closed) and the still subscription's last (complete); it is freed only then */
    int nc_closed, still_done;
    int ready;                /* the stream and buckets are there */
    double checked;           /* when the stream was last checked (monotonic) */
    int64_t stream_created;   /* the stream this node knows (its creation time, ns) */
    uint64_t last_stream_seq; /* the stream's sequence of the last record this node sent */
    int resubscribe;          /* console: the stream is a new one */
    int send_failing;         /* the last send failed (publisher) */
    lease_t *leases;          /* per camera slot (analysis) */
    uint64_t *fix_rev;        /* per camera slot: the fixtures key's revision applied (analysis) */
    uint64_t *scene_rev;      /* per camera slot: the scene key's revision applied (analysis) */
    atomic_int *fix_dirty; /* per camera slot: 1 its fixtures, 2 its scene to publish (console) */
    int nb_leases;
    uint64_t node_rev;
    double node_renewed;
    int node_held;
    double started;  /* monotonic */
    int ever_ready;  /* NATS answered since the start */
    int failed_open; /* started the cameras held last time, NATS unreachable */
    unsigned rounds; /* lease rounds done */
    char held_saved[8192];
    double said_name, said_down, said_forget, said_waiting, said_send;
    /* figures */
    atomic_int connected, cameras, nodes;
    _Atomic int64_t waiting, sent, received, duplicates, failures, counts;
    int64_t cursor;  /* analysis: feed records up to it are in the stream */
    int64_t ccursor; /* analysis: count samples (counts.id) up to it are in the stream */
} vg_cluster_t;

static int quitting(vg_cluster_t *k)
{
    pthread_mutex_lock(&k->lock);
    int q = k->stop;
    pthread_mutex_unlock(&k->lock);
    return q;
}

static void nap(vg_cluster_t *k, double seconds)
{
    struct timespec ts;
    vg__abs_deadline(&ts, seconds);
    pthread_mutex_lock(&k->lock);
    if (!k->stop) pthread_cond_timedwait(&k->cond, &k->lock, &ts);
    pthread_mutex_unlock(&k->lock);
}

static const char *nats_why(natsStatus st)
{
    const char *e = nats_GetLastError(NULL);
    return e && *e ? e : natsStatus_GetText(st);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    vg_cluster_t *k = closure;
    (void)nc;
    atomic_store(&k->connected, 0);
    vg_log(COMP, VG_LOG_WARNING, "disconnected from NATS; reconnecting (analysis goes on)");
}

/* The connection's last callback (the library delivers them in order, on one thread): after it
 * none touches @closure. */
static void on_closed(natsConnection *nc, void *closure)
{
    vg_cluster_t *k = closure;
    (void)nc;
    pthread_mutex_lock(&k->lock);
    k->nc_closed = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

/* The still subscription's last callback: no request is being answered any more. */
static void on_still_done(void *closure)
{
    vg_cluster_t *k = closure;
    pthread_mutex_lock(&k->lock);
    k->still_done = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

/* Waits up to @seconds for *@flag (set under k->lock); returns it. */
static int wait_flag(vg_cluster_t *k, const int *flag, double seconds)
{
    struct timespec ts;
    vg__abs_deadline(&ts, seconds);
    pthread_mutex_lock(&k->lock);
    while (!*flag && pthread_cond_timedwait(&k->cond, &k->lock, &ts) == 0) {
    }
    int v = *flag;
    pthread_mutex_unlock(&k->lock);
    return v;
}

static void on_connected(natsConnection *nc, void *closure)
{
    vg_cluster_t *k = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    atomic_store(&k->connected, 1);
    vg_log(COMP, VG_LOG_INFO, "connected to NATS at %s", url);
}

/* The stream is not the one this node knew (deleted and made again, by it or another node):
 * an analysis node sends its whole local feed again (the console keeps each record once), a
 * console subscribes again. */
static void stream_renewed(vg_cluster_t *k)
{
    vg_log(COMP, VG_LOG_WARNING, "stream %s was deleted and made again: %s", k->stream,
           k->cfg->role == VG_CLUSTER_ANALYSIS
               ? "this node sends its records again (the console keeps each once)"
               : "reading it again from its start");
    pthread_mutex_lock(&k->lock);
    k->cursor = 0;
    k->ccursor = 0;
    pthread_mutex_unlock(&k->lock);
    k->resubscribe = 1;
}

/* The two buckets: found, or made (with the key-value context, whose requests wait a quarter
 * lease at most: a renewal round never waits on one slow answer for a whole lease). */
static natsStatus buckets_locked(vg_cluster_t *k)
{
    natsStatus st = NATS_OK;
    for (int b = 0; b < 2 && st == NATS_OK; b++) {
        kvStore **kv = b ? &k->fkv : &k->kv;
        const char *name = b ? k->fbucket : k->bucket;
        if (*kv) continue;
        st = js_KeyValue(kv, k->jskv, name);
        if (st == NATS_NOT_FOUND) {
            kvConfig kc;
            kvConfig_Init(&kc);
            kc.Bucket = name;
            kc.History = 1;
            kc.TTL = b ? 0 : (int64_t)(k->cfg->lease * 1e9); /* leases expire, decisions not */
            kc.Replicas = k->cfg->replicas;
            kc.StorageType = js_FileStorage;
            st = js_CreateKeyValue(kv, k->jskv, &kc);
        }
        if (st != NATS_OK) *kv = NULL;
    }
    return st;
}

static void not_ready(vg_cluster_t *k, natsStatus st)
{
    double now = vg__now_mono();
    if (now - k->said_down > 60) {
        k->said_down = now;
        vg_log(COMP, VG_LOG_WARNING,
               "JetStream not ready (stream %s, buckets %s, %s): %s; trying again every second",
               k->stream, k->bucket, k->fbucket, nats_why(st));
    }
}

/* The buckets only (the lease thread: renewals do not wait on the stream). 0 or -1. */
static int ensure_kv(vg_cluster_t *k)
{
    if (!atomic_load(&k->connected)) return -1;
    pthread_mutex_lock(&k->elock);
    natsStatus st = buckets_locked(k);
    if (st != NATS_OK) not_ready(k, st);
    pthread_mutex_unlock(&k->elock);
    return st == NATS_OK ? 0 : -1;
}

static int ensure_locked(vg_cluster_t *k);

static int ensure(vg_cluster_t *k)
{
    pthread_mutex_lock(&k->elock);
    int r = ensure_locked(k);
    pthread_mutex_unlock(&k->elock);
    return r;
}

/* Check the stream at the next ensure (it may be gone or new). */
static void recheck(vg_cluster_t *k)
{
    pthread_mutex_lock(&k->elock);
    k->checked = -1e9;
    pthread_mutex_unlock(&k->elock);
}

/* The stream and the buckets: found, or made; the stream checked again every 5 s. 0, or -1
 * (logged once a minute). */
static int ensure_locked(vg_cluster_t *k)
{
    jsErrCode je = 0;
    jsStreamInfo *si = NULL;
    natsStatus st = NATS_OK;
    double now = vg__now_mono();
    if (k->ready && now - k->checked < 5) return 0;
    if (!atomic_load(&k->connected)) return -1;
    st = js_GetStreamInfo(&si, k->js, k->stream, NULL, &je);
    if (st == NATS_NOT_FOUND) {
        jsStreamConfig sc;
        const char *subjects[] = {k->subj_all};
        jsStreamConfig_Init(&sc);
        sc.Name = k->stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Replicas = k->cfg->replicas;
        sc.MaxAge = (int64_t)(k->cfg->stream_days * 86400e9);
        sc.Duplicates = (int64_t)120e9;
        st = js_AddStream(&si, k->js, &sc, NULL, &je);
        if (st == NATS_OK)
            vg_log(COMP, VG_LOG_INFO, "stream %s created (%d replica%s, kept %g days)", k->stream,
                   k->cfg->replicas, k->cfg->replicas > 1 ? "s" : "", k->cfg->stream_days);
        else if (je == JSStreamNameExistErr) /* made by another node meanwhile */
            st = js_GetStreamInfo(&si, k->js, k->stream, NULL, &je);
    }
    if (st == NATS_OK && si) {
        if (k->stream_created && si->Created != k->stream_created) stream_renewed(k);
        k->stream_created = si->Created;
    }
    if (si) jsStreamInfo_Destroy(si);
    if (st == NATS_OK) st = buckets_locked(k);
    if (st != NATS_OK) {
        k->ready = 0;
        not_ready(k, st);
        return -1;
    }
    k->ready = 1;
    k->checked = now;
    return 0;
}

/* ---- analysis: leases ---- */

/* A camera's key in a bucket: "<prefix>.<camera>", the camera's dots written '='. */
static void obj_key(const char *prefix, const char *name, char *key, size_t len)
{
    size_t n = strlen(prefix) + 1;
    snprintf(key, len, "%s.%s", prefix, name);
    for (char *p = key + (n < len ? n : 0); *p; p++)
        if (*p == '.') *p = '=';
}

static void cam_key(const char *name, char *key, size_t len)
{
    obj_key("cam", name, key, len);
}

static void lease_value(vg_cluster_t *k, vg_cam_t *c, char *buf, size_t len)
{
    json_t *o = json_object();
    pthread_mutex_lock(&c->lock);
    json_object_set_new(o, "node", json_string(k->cfg->node));
    json_object_set_new(o, "store", json_string(k->uid));
    json_object_set_new(o, "status", json_string(c->status));
    json_object_set_new(o, "message", json_string(c->message));
    json_object_set_new(o, "fps", json_real(c->fps));
    json_object_set_new(o, "width", json_integer(c->in_w));
    json_object_set_new(o, "height", json_integer(c->in_h));
    pthread_mutex_unlock(&c->lock);
    char *s = json_dumps(o, JSON_COMPACT);
    snprintf(buf, len, "%s", s ? s : "{}");
    free(s);
    json_decref(o);
}

/* Stop analysing camera @i: its pipeline is told to stop (it does within a frame). */
static void cam_stop(vg_cluster_t *k, int i)
{
    vg_cam_t *c = &k->srv->cams[i];
    atomic_store(&c->held, 0);
    pthread_mutex_lock(&c->lock);
    if (c->pipe) vg_pipeline_stop(c->pipe);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Whether camera @i's pipeline has ended. */
static int cam_stopped(vg_cluster_t *k, int i)
{
    vg_cam_t *c = &k->srv->cams[i];
    pthread_mutex_lock(&c->lock);
    int stopped = c->pipe == NULL;
    pthread_mutex_unlock(&c->lock);
    return stopped;
}

static void lease_lost(vg_cluster_t *k, int i, const char *why)
{
    vg_cam_t *c = &k->srv->cams[i];
    k->leases[i].held = 0;
    k->leases[i].releasing = 0;
    cam_stop(k, i);
    vg_log(COMP, VG_LOG_WARNING, "camera '%s': lease lost (%s): its analysis stopped", c->cfg->name,
           why);
}

/* Live analysis nodes: their `node.` keys (each counted once: a listing may repeat a key updated
 * while it runs). */
static int live_nodes(vg_cluster_t *k)
{
    kvKeysList kl = {0};
    kvWatchOptions o;
    int n = 0;
    /* a deadline (a key that expires while the listing runs would leave it waiting for good):
     * past it, the last count stands */
    kvWatchOptions_Init(&o);
    o.Timeout = (int64_t)fmax(500, k->cfg->lease * 1000 / 4);
    if (kvStore_Keys(&kl, k->kv, &o) != NATS_OK)
        return atomic_load(&k->nodes) > 0 ? atomic_load(&k->nodes) : 1;
    for (int i = 0; i < kl.Count; i++) {
        if (strncmp(kl.Keys[i], "node.", 5)) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(kl.Keys[i], kl.Keys[j]);
        n += !seen;
    }
    kvKeysList_Destroy(&kl);
    return n > 0 ? n : 1;
}

/* After an update refused on @key: whether the key still holds this node's value (the previous
 * update went through but its answer was lost), with its revision in *@rev. */
static int still_mine(vg_cluster_t *k, kvStore *kv, const char *key, uint64_t *rev)
{
    kvEntry *e = NULL;
    int mine = 0;
    if (kvStore_Get(&e, kv, key) != NATS_OK || !e) return 0;
    json_t *o = json_loads(kvEntry_ValueString(e), 0, NULL);
    const char *node = json_string_value(json_object_get(o, "node"));
    const char *store = json_string_value(json_object_get(o, "store"));
    mine = node && store && !strcmp(node, k->cfg->node) && !strcmp(store, k->uid);
    if (mine) *rev = kvEntry_Revision(e);
    json_decref(o);
    kvEntry_Destroy(e);
    return mine;
}

/* Let camera @i run (@held: with its lease; else without, NATS unreachable). */
static void cam_run(vg_cluster_t *k, int i, int held, uint64_t rev, double now)
{
    vg_cam_t *c = &k->srv->cams[i];
    k->leases[i].held = held;
    k->leases[i].rev = rev;
    k->leases[i].renewed = now;
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->held, 1);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* The cameras this node holds, kept in its store (meta `cluster_held`, names separated by
 * newlines): what it analyses when it starts with NATS unreachable. */
static void save_held(vg_cluster_t *k)
{
    char buf[8192] = "";
    size_t n = 0;
    for (int i = 0; i < k->nb_leases; i++)
        if (k->leases[i].held && vg__cam_live(&k->srv->cams[i]))
            n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, "%s\n",
                                  k->srv->cams[i].cfg->name);
    if (n < sizeof(buf) && strcmp(buf, k->held_saved)) {
        vg_store_meta_set(k->srv->store, "cluster_held", buf);
        snprintf(k->held_saved, sizeof(k->held_saved), "%s", buf);
    }
}

/* NATS unreachable since the start for a lease: analyse the cameras held last time. */
static void fail_open(vg_cluster_t *k, double now)
{
    char buf[8192] = "", names[1024] = "";
    int n = 0;
    k->failed_open = 1;
    if (vg_store_meta_get(k->srv->store, "cluster_held", buf, sizeof(buf)) < 0) buf[0] = 0;
    for (int i = 0; i < k->nb_leases; i++) {
        vg_cam_t *c = &k->srv->cams[i];
        char line[80];
        snprintf(line, sizeof(line), "%s\n", c->cfg->name);
        if (!vg__cam_live(c) || !strstr(buf, line) ||
            (strstr(buf, line) != buf && strstr(buf, line)[-1] != '\n'))
            continue;
        cam_run(k, i, 0, 0, now);
        n++;
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", n > 1 ? ", " : "",
                 c->cfg->name);
    }
    vg_log(COMP, VG_LOG_WARNING,
           "NATS unreachable since the start (%.0f s): analysing the %d camera%s this node held "
           "last%s%s%s; events wait in its store; each camera is given its lease, or stopped if "
           "another node holds it, once NATS answers",
           now - k->started, n, n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
}

/* Fixtures decided on the console (an operator's "fixture" or "reflection or light" on an
 * abandoned object or fire alert): the bucket's key `fix.<camera>` holds all of a camera's, as
 * [[x,y,w,h],...]. Those this node's store lacks are added, and the camera restarts with them. */
typedef struct fixlist {
    double (*b)[4];
    int n;
} fixlist_t;

static void fix_collect(void *opaque, const double box[4])
{
    fixlist_t *l = opaque;
    void *p = vg_realloc(l->b, (size_t)(l->n + 1) * sizeof(*l->b));
    if (!p) return;
    l->b = p;
    memcpy(l->b[l->n++], box, sizeof(*l->b));
}

static void fixtures_apply(vg_cluster_t *k, int i)
{
    vg_cam_t *c = &k->srv->cams[i];
    char key[128];
    kvEntry *e = NULL;
    obj_key("fix", c->cfg->name, key, sizeof(key));
    if (!k->fkv || kvStore_Get(&e, k->fkv, key) != NATS_OK || !e) return;
    uint64_t rev = kvEntry_Revision(e);
    if (rev == k->fix_rev[i]) {
        kvEntry_Destroy(e);
        return;
    }
    json_t *arr = json_loads(kvEntry_ValueString(e), 0, NULL);
    kvEntry_Destroy(e);
    fixlist_t have = {NULL, 0};
    vg_store_fixtures(k->srv->store, c->cfg->name, fix_collect, &have);
    int added = 0, failed = 0;
    size_t j;
    json_t *b;
    json_array_foreach(arr, j, b)
    {
        double box[4];
        if (json_unpack(b, "[FFFF]", &box[0], &box[1], &box[2], &box[3]) < 0) continue;
        int known = 0;
        for (int m = 0; m < have.n && !known; m++)
            known = fabs(have.b[m][0] - box[0]) < 0.01 && fabs(have.b[m][1] - box[1]) < 0.01 &&
                    fabs(have.b[m][2] - box[2]) < 0.01 && fabs(have.b[m][3] - box[3]) < 0.01;
        if (known) continue;
        if (vg_store_fixture_add(k->srv->store, c->cfg->name, box, 0, "console") == 0)
            added++;
        else
            failed = 1;
    }
    json_decref(arr);
    vg_free(have.b);
    if (!failed) k->fix_rev[i] = rev; /* (else tried again next round) */
    if (added) {
        vg_log(COMP, VG_LOG_INFO,
               "camera '%s': %d fixture%s decided on the console: restarting with %s", c->cfg->name,
               added, added > 1 ? "s" : "", added > 1 ? "them" : "it");
        vg__server_cam_restart(c);
    }
}

/* A scene saved through the console (key `scene.<camera>`, its YAML): kept in this node's store
 * (which vg__server_cam_scene reads before the config's file) and the camera restarted. */
static void scene_apply(vg_cluster_t *k, int i)
{
    vg_cam_t *c = &k->srv->cams[i];
    char key[128], *mine = NULL;
    kvEntry *e = NULL;
    obj_key("scene", c->cfg->name, key, sizeof(key));
    if (!k->fkv || kvStore_Get(&e, k->fkv, key) != NATS_OK || !e) return;
    uint64_t rev = kvEntry_Revision(e);
    if (rev != k->scene_rev[i]) {
        const char *yaml = kvEntry_ValueString(e);
        int same = vg_store_scene_get(k->srv->store, c->cfg->name, &mine) == 0 && yaml &&
                   !strcmp(mine, yaml);
        if (same || (yaml && vg_store_scene_put(k->srv->store, c->cfg->name, yaml, "console") == 0))
            k->scene_rev[i] = rev;
        if (!same && k->scene_rev[i] == rev) {
            vg_log(COMP, VG_LOG_INFO,
                   "camera '%s': its scene was changed on the console: restarting", c->cfg->name);
            vg__server_cam_restart(c);
        }
        vg_free(mine);
    }
    kvEntry_Destroy(e);
}

/* One round; returns 0, or -1 when NATS does not answer. */
static int lease_round(vg_cluster_t *k)
{
    vg_server_t *s = k->srv;
    const double lease = k->cfg->lease, now = vg__now_mono();
    char key[128], val[1024];
    int ncam = 0, held = 0;
    if (ensure_kv(k) < 0) {
        /* NATS unreachable: what runs goes on (a site is never blind because NATS is down) */
        if (!k->failed_open && !k->ever_ready && now - k->started > lease) fail_open(k, now);
        return -1;
    }
    k->ever_ready = 1;
    /* this node's key */
    snprintf(key, sizeof(key), "node.%s", k->cfg->node);
    snprintf(val, sizeof(val), "{\"node\":\"%s\",\"store\":\"%s\"}", k->cfg->node, k->uid);
    uint64_t rev = 0;
    natsStatus st = NATS_ERR;
    if (k->node_held) st = kvStore_Update(&rev, k->kv, key, val, (int)strlen(val), k->node_rev);
    if (st == NATS_ERR) /* (a write whose answer was lost is still this node's) */
        st = still_mine(k, k->kv, key, &k->node_rev)
                 ? kvStore_Update(&rev, k->kv, key, val, (int)strlen(val), k->node_rev)
                 : kvStore_Create(&rev, k->kv, key, val, (int)strlen(val));
    if (st == NATS_OK) {
        k->node_held = 1;
        k->node_rev = rev;
        k->node_renewed = now;
    } else if (st != NATS_ERR) {
        if (k->node_held && now - k->node_renewed > lease) k->node_held = 0; /* NATS slow */
    } else if (!k->node_held || now - k->node_renewed > lease) {
        k->node_held = 0;
        if (now - k->said_name > 60) {
            k->said_name = now;
            vg_log(COMP, VG_LOG_ERROR,
                   "another node named '%s' is alive on site '%s' (its key %s exists): this one "
                   "takes no camera until it is gone (%.0f s after it stops); give each node its "
                   "own cluster.node",
                   k->cfg->node, k->cfg->site, key, lease);
        }
    }
    /* renew what it holds (and what it runs without NATS, or winds down) */
    for (int i = 0; i < k->nb_leases; i++) {
        vg_cam_t *c = &s->cams[i];
        lease_t *l = &k->leases[i];
        if (!vg__cam_live(c)) continue;
        ncam++;
        int running = atomic_load(&c->held);
        if (!l->held && !running && !l->releasing) continue;
        cam_key(c->cfg->name, key, sizeof(key));
        if (l->releasing && cam_stopped(k, i)) { /* given up and stopped: free for the others */
            kvStore_Delete(k->kv, key);
            l->releasing = 0;
            continue;
        }
        lease_value(k, c, val, sizeof(val));
        st = NATS_ERR;
        if (l->held || l->releasing)
            st = kvStore_Update(&rev, k->kv, key, val, (int)strlen(val), l->rev);
        /* not held (running without NATS), or expired while NATS was away: take it if free; a
         * write whose answer was lost is still this node's */
        if (st == NATS_ERR)
            st = still_mine(k, k->kv, key, &l->rev)
                     ? kvStore_Update(&rev, k->kv, key, val, (int)strlen(val), l->rev)
                     : kvStore_Create(&rev, k->kv, key, val, (int)strlen(val));
        if (st == NATS_OK) {
            if (!l->held && !l->releasing)
                vg_log(COMP, VG_LOG_INFO, "camera '%s': leased by this node (%s)", c->cfg->name,
                       k->cfg->node);
            if (!l->releasing) l->held = 1;
            l->rev = rev;
            l->renewed = now;
            held += l->held;
        } else if (st == NATS_ERR) {
            lease_lost(k, i, "another node holds it");
        } else if (l->held) {
            held++; /* a timeout: tried again next round; it runs on meanwhile */
        }
    }
    if (!k->node_held) { /* not a node of the site (its name taken): hold nothing */
        for (int i = 0; i < k->nb_leases; i++)
            if (k->leases[i].held || atomic_load(&s->cams[i].held)) {
                int had = k->leases[i].held;
                lease_lost(k, i, "this node's name is another's");
                k->leases[i].releasing = had; /* its key deleted once stopped */
            }
        atomic_store(&k->cameras, 0);
        save_held(k);
        return 0;
    }
    int nodes = live_nodes(k);
    int share = (ncam + nodes - 1) / nodes;
    atomic_store(&k->nodes, nodes);
    /* above its share: give up the last ones (renewed until their analysis stopped, then
     * deleted: never two nodes on one camera) */
    for (int i = k->nb_leases - 1; i >= 0 && held > share; i--) {
        if (!k->leases[i].held) continue;
        k->leases[i].held = 0;
        k->leases[i].releasing = 1;
        held--;
        cam_stop(k, i);
        vg_log(COMP, VG_LOG_INFO, "camera '%s': given up to balance %d nodes", s->cams[i].cfg->name,
               nodes);
    }
    /* below it: take free cameras */
    for (int i = 0; i < k->nb_leases && held < share; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c) || k->leases[i].held || k->leases[i].releasing) continue;
        cam_key(c->cfg->name, key, sizeof(key));
        lease_value(k, c, val, sizeof(val));
        st = kvStore_Create(&rev, k->kv, key, val, (int)strlen(val));
        if (st == NATS_ERR && still_mine(k, k->kv, key, &rev)) st = NATS_OK; /* a lost answer */
        if (st != NATS_OK) continue; /* another node holds it */
        cam_run(k, i, 1, rev, now);
        held++;
        vg_log(COMP, VG_LOG_INFO, "camera '%s': leased by this node (%s)", c->cfg->name,
               k->cfg->node);
    }
    atomic_store(&k->cameras, held);
    save_held(k);
    /* what the console decided for its cameras: checked once a lease (renewals come first) */
    if (k->rounds++ % 4 == 0)
        for (int i = 0; i < k->nb_leases; i++)
            if (k->leases[i].held) {
                scene_apply(k, i);
                fixtures_apply(k, i);
            }
    return 0;
}

static void *lease_main(void *opaque)
{
    vg_cluster_t *k = opaque;
    while (!quitting(k)) {
        double t0 = vg__now_mono();
        int ok = lease_round(k) == 0;
        double took = vg__now_mono() - t0, left = k->cfg->lease / 4 - took;
        if (took > k->cfg->lease / 2)
            vg_log(COMP, VG_LOG_WARNING,
                   "renewing the leases took %.1f s (lease %.0f s): NATS answers slowly", took,
                   k->cfg->lease);
        nap(k, ok ? fmax(left, 0.05) : 1);
    }
    /* stopping (the cameras have stopped): let them go so that others take them at once */
    for (int i = 0; i < k->nb_leases; i++) {
        if (!k->leases[i].held && !k->leases[i].releasing) continue;
        char key[128];
        cam_stop(k, i);
        for (double t0 = vg__now_mono(); !cam_stopped(k, i) && vg__now_mono() - t0 < 10;) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (cam_stopped(k, i) && k->kv) {
            cam_key(k->srv->cams[i].cfg->name, key, sizeof(key));
            kvStore_Delete(k->kv, key);
        }
        k->leases[i].held = k->leases[i].releasing = 0;
    }
    if (k->node_held && k->kv) {
        char key[128];
        snprintf(key, sizeof(key), "node.%s", k->cfg->node);
        kvStore_Delete(k->kv, key);
    }
    return NULL;
}

/* ---- analysis: the publisher ---- */

typedef struct rec {
    int64_t seq;
    char *json;
} rec_t;

typedef struct batch {
    rec_t r[BATCH];
    int n;
} batch_t;

static void collect(void *opaque, int64_t seq, const char *json)
{
    batch_t *b = opaque;
    if (b->n < BATCH) {
        b->r[b->n].seq = seq;
        b->r[b->n].json = vg_strdup(json);
        b->n++;
    }
}

/* Send feed record @r. 0 (sent, or not an event's: skipped), or -1 (try again later). */
/* Publish one message with id @mid. 0, or -1 (counted, logged once a minute). */
static int publish(vg_cluster_t *k, const char *mid, const uint8_t *data, size_t len)
{
    jsPubOptions po;
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    jsPubOptions_Init(&po);
    po.MsgId = mid;
    po.MaxWait = 5000;
    natsStatus st = js_Publish(&pa, k->js, k->subj_mine, data, (int)len, &po, &je);
    if (st == NATS_OK) {
        k->send_failing = 0;
        if (pa->Duplicate) atomic_fetch_add(&k->duplicates, 1);
        /* a sequence below the last one: a new stream (deleted and made again) */
        if (pa->Sequence < k->last_stream_seq) recheck(k);
        k->last_stream_seq = pa->Sequence;
    } else {
        atomic_fetch_add(&k->failures, 1);
        if (st == NATS_NO_RESPONDERS || je == JSStreamNotFoundErr) recheck(k);
        if (!k->send_failing || vg__now_mono() - k->said_send > 60) {
            k->send_failing = 1;
            k->said_send = vg__now_mono();
            vg_log(COMP, VG_LOG_WARNING,
                   "cannot send events to stream %s: %s; they wait in the local store (%lld "
                   "now), sent when it answers",
                   k->stream, nats_why(st), (long long)atomic_load(&k->waiting));
        }
    }
    if (pa) jsPubAck_Destroy(pa);
    return st == NATS_OK ? 0 : -1;
}

/* Send feed record @r. 0 (sent, or not an event's: skipped), or -1 (try again later). A picture
 * that would pass the servers' max_payload goes in parts, each a message with the header and
 * "part", "parts" (ids <record id>.p<i>); the console keeps the record once it has them all. */
static int send_record(vg_cluster_t *k, const rec_t *r)
{
    vg_server_t *s = k->srv;
    json_t *rec = r->json ? json_loads(r->json, 0, NULL) : NULL;
    const char *phase = json_string_value(json_object_get(rec, "phase"));
    int ret = 0;
    if (!phase || (strcmp(phase, "start") && strcmp(phase, "update") && strcmp(phase, "end"))) {
        json_decref(rec);
        return 0; /* an operator's action (none on an analysis node) */
    }
    int64_t id = json_integer_value(json_object_get(rec, "id"));
    int64_t run = vg_store_event_run(s->store, id);
    if (run < 0) run = 0;
    char runs[64], mid[96];
    snprintf(runs, sizeof(runs), "%s.%lld", k->uid, (long long)run);
    snprintf(mid, sizeof(mid), "%s.%lld", k->uid, (long long)r->seq);
    uint8_t *pic = NULL;
    size_t npic = 0;
    const char *ev = json_string_value(json_object_get(rec, "evidence"));
    if (ev && !strcmp(phase, "start")) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, ev);
        if (vg_file_read(path, 32 << 20, &pic, &npic) < 0) pic = NULL, npic = 0;
    }
    int64_t maxp = natsConnection_GetMaxPayload(k->nc);
    if (maxp <= 0) maxp = 1 << 20;
    size_t room = maxp > 8192 ? (size_t)maxp - 4096 : 4096; /* (the header's line fits in 4 kB) */
    int parts = npic > room ? (int)((npic + room - 1) / room) : 1;
    for (int p = 0; p < parts && ret == 0; p++) {
        json_t *h = json_pack("{s:s,s:s,s:s,s:O}", "node", k->cfg->node, "run", runs, "id", mid,
                              "record", rec);
        char pid[112];
        snprintf(pid, sizeof(pid), "%s", mid);
        if (parts > 1) {
            json_object_set_new(h, "part", json_integer(p));
            json_object_set_new(h, "parts", json_integer(parts));
            snprintf(pid, sizeof(pid), "%s.p%d", mid, p);
        }
        char *hs = json_dumps(h, JSON_COMPACT);
        json_decref(h);
        size_t nh = hs ? strlen(hs) : 0, off = (size_t)p * room;
        size_t n = npic ? (npic - off < room ? npic - off : room) : 0;
        uint8_t *data = hs ? vg_malloc(nh + 1 + n) : NULL;
        if (data) {
            memcpy(data, hs, nh);
            data[nh] = '\n';
            if (n) memcpy(data + nh + 1, pic + off, n);
            ret = publish(k, pid, data, nh + 1 + n);
        } else {
            ret = -1;
        }
        vg_free(data);
        free(hs);
    }
    if (ret == 0) atomic_fetch_add(&k->sent, 1);
    vg_free(pic);
    json_decref(rec);
    return ret;
}

/* Count samples: each as {"node","run","count":{...,"wall"}}, message id <store id>.c<id>. */
typedef struct cbatch {
    vg_cluster_t *k;
    int64_t last; /* the last one sent */
    int sent, failed;
} cbatch_t;

static int send_count(void *opaque, int64_t id, int64_t run, const vg_count_t *c, const char *wall)
{
    cbatch_t *b = opaque;
    vg_cluster_t *k = b->k;
    char runs[64], mid[96];
    snprintf(runs, sizeof(runs), "%s.%lld", k->uid, (long long)run);
    snprintf(mid, sizeof(mid), "%s.c%lld", k->uid, (long long)id);
    json_t *h =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f}}", "node", k->cfg->node, "run",
                  runs, "count", "camera", c->camera, "zone", c->zone, "wall", wall ? wall : "",
                  "t", c->t, "count", c->count, "count_detector", c->count_detector,
                  "count_occupancy", c->count_occupancy, "area", c->area, "density", c->density);
    char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!hs) return VG_ENOMEM;
    size_t n = strlen(hs);
    hs[n] = '\n'; /* (the header's line, in place of its terminator; no picture) */
    int r = publish(k, mid, (const uint8_t *)hs, n + 1);
    free(hs);
    if (r < 0) {
        b->failed = 1;
        return -1;
    }
    b->last = id;
    b->sent++;
    return 0;
}

/* Send the count samples after the cursor (64 at most). */
static void send_counts(vg_cluster_t *k)
{
    pthread_mutex_lock(&k->lock);
    cbatch_t b = {k, k->ccursor, 0, 0};
    pthread_mutex_unlock(&k->lock);
    int64_t from = b.last;
    vg_store_counts_after(k->srv->store, from, BATCH, send_count, &b);
    if (!b.sent) return;
    pthread_mutex_lock(&k->lock);
    if (k->ccursor == from) k->ccursor = b.last; /* (else rewound meanwhile) */
    pthread_mutex_unlock(&k->lock);
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)b.last);
    vg_store_meta_set(k->srv->store, "cluster_counts_sent", v);
}

static void save_cursor(vg_cluster_t *k, int64_t cursor)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)cursor);
    vg_store_meta_set(k->srv->store, "cluster_sent", v);
}

static void *publish_main(void *opaque)
{
    vg_cluster_t *k = opaque;
    vg_server_t *s = k->srv;
    int64_t saved = -1;
    double stop_at = 0;
    for (;;) {
        /* stopping: what the writer committed last goes out, for 10 s at most (the rest waits in
         * the store for the next start) */
        int stop = quitting(k);
        if (stop && !stop_at) stop_at = vg__now_mono();
        int give_up = stop && vg__now_mono() - stop_at > 10;
        pthread_mutex_lock(&s->hlock);
        int64_t head = s->head;
        pthread_mutex_unlock(&s->hlock);
        pthread_mutex_lock(&k->lock);
        int64_t cursor = k->cursor;
        pthread_mutex_unlock(&k->lock);
        atomic_store(&k->waiting, head > cursor ? head - cursor : 0);
        if (cursor != saved) {
            save_cursor(k, cursor);
            saved = cursor;
        }
        int down = head > cursor && ensure(k) < 0;
        if (down && vg__now_mono() - k->said_waiting > 60) {
            k->said_waiting = vg__now_mono();
            vg_log(COMP, VG_LOG_WARNING,
                   "NATS does not answer: %lld event records wait in the local store (metric "
                   "vigie_cluster_waiting); analysis goes on, they are sent when it answers",
                   (long long)(head - cursor));
        }
        if (!down && ensure(k) == 0) send_counts(k);
        if (head <= cursor || down) {
            if (stop && (head <= cursor || give_up)) break;
            struct timespec ts;
            vg__abs_deadline(&ts, 1.0);
            pthread_mutex_lock(&s->hlock);
            if (s->head <= cursor) pthread_cond_timedwait(&s->hcond, &s->hlock, &ts);
            pthread_mutex_unlock(&s->hlock);
            continue;
        }
        pthread_mutex_lock(&k->lock); /* (ensure may have rewound it) */
        cursor = k->cursor;
        pthread_mutex_unlock(&k->lock);
        batch_t b = {.n = 0};
        vg_store_feed_read(s->store, cursor, BATCH, collect, &b);
        int failed = 0, rewound = 0;
        for (int i = 0; i < b.n; i++) {
            if (!failed && !rewound && send_record(k, &b.r[i]) == 0) {
                pthread_mutex_lock(&k->lock);
                if (k->cursor == cursor) /* (else rewound meanwhile: the batch is dropped) */
                    k->cursor = b.r[i].seq;
                else
                    rewound = 1;
                cursor = b.r[i].seq;
                pthread_mutex_unlock(&k->lock);
            } else {
                failed = 1;
            }
            vg_free(b.r[i].json);
        }
        if (failed) {
            if (give_up) break;
            nap(k, stop ? 0.2 : 1);
        }
    }
    save_cursor(k, k->cursor);
    return NULL;
}

/* ---- console: the consumer ---- */

static int evidence_name_ok(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l < 5 || l > 60 || strcmp(n + l - 4, ".jpg")) return 0;
    for (size_t i = 0; i + 4 < l; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) return 0;
    return 1;
}

/* One message: 0 (kept, or a duplicate, or one that can never be kept: acknowledged), or -1
 * (the store cannot write now, or an end before its start: delivered again a second later). */
static int receive(vg_cluster_t *k, natsMsg *m)
{
    vg_server_t *s = k->srv;
    const char *data = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    const char *nl = data ? memchr(data, '\n', (size_t)len) : NULL;
    const char *mid = NULL;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &mid) != NATS_OK || !mid || !nl) {
        vg_log(COMP, VG_LOG_WARNING, "a message on %s is not vigie's: dropped",
               natsMsg_GetSubject(m));
        return 0;
    }
    json_t *h = json_loadb(data, (size_t)(nl - data), 0, NULL);
    json_t *rec = json_object_get(h, "record"), *cnt = json_object_get(h, "count");
    const char *node = json_string_value(json_object_get(h, "node"));
    const char *run = json_string_value(json_object_get(h, "run"));
    char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    vg_event_t ev;
    char err[256];
    int ret = 0;
    if (cnt && node && run) { /* a count sample */
        vg_count_t c;
        const char *cam = json_string_value(json_object_get(cnt, "camera"));
        const char *zone = json_string_value(json_object_get(cnt, "zone"));
        const char *wall = json_string_value(json_object_get(cnt, "wall"));
        memset(&c, 0, sizeof(c));
        snprintf(c.camera, sizeof(c.camera), "%s", cam ? cam : "");
        snprintf(c.zone, sizeof(c.zone), "%s", zone ? zone : "");
        c.t = json_number_value(json_object_get(cnt, "t"));
        c.count = json_number_value(json_object_get(cnt, "count"));
        c.count_detector = json_number_value(json_object_get(cnt, "count_detector"));
        c.count_occupancy = json_number_value(json_object_get(cnt, "count_occupancy"));
        c.area = json_number_value(json_object_get(cnt, "area"));
        c.density = json_number_value(json_object_get(cnt, "density"));
        int dup = 0;
        if (!cam || !wall) {
            vg_log(COMP, VG_LOG_WARNING, "message %s: not a count sample: dropped", mid);
        } else if (vg_store_count_put_remote(s->store, mid, run, node, &c, wall, &dup) < 0) {
            ret = -1;
        } else if (dup) {
            atomic_fetch_add(&k->duplicates, 1);
        } else {
            atomic_fetch_add(&k->counts, 1);
            char js[256]; /* MQTT: as a single machine sends it (writer.c) */
            snprintf(js, sizeof(js), "{\"wall\":\"%s\",\"t\":%.3f,\"count\":%.2f", wall, c.t,
                     c.count);
            if (c.density >= 0)
                snprintf(js + strlen(js), sizeof(js) - strlen(js), ",\"density\":%.3f", c.density);
            snprintf(js + strlen(js), sizeof(js) - strlen(js), "}");
            vg__mqtt_count(s, c.camera, c.zone[0] ? c.zone : "all", js);
        }
        goto out;
    }
    if (!node || !run || !line || vg_event_from_json(&ev, line, err, sizeof(err)) < 0) {
        vg_log(COMP, VG_LOG_WARNING, "message %s: not an event record: dropped", mid);
        goto out;
    }
    const char *wall = json_string_value(json_object_get(rec, "wall"));
    const char *evidence = json_string_value(json_object_get(rec, "evidence"));
    const char *priority = json_string_value(json_object_get(rec, "priority"));
    const char *rid = json_string_value(json_object_get(h, "id"));
    int part = (int)json_integer_value(json_object_get(h, "part"));
    int parts = (int)json_integer_value(json_object_get(h, "parts"));
    char now[32];
    if (!wall) vg_store_now(now), wall = now;
    if (rid) mid = rid; /* the record's id (a part's message id ends in .p<i>) */
    size_t npic = (size_t)(data + len - (nl + 1));
    if (!evidence_name_ok(evidence) || !npic) evidence = NULL;
    if (parts > 1 && evidence) { /* a picture in parts: each kept on disk until all are here */
        char path[4200], ppath[4300];
        int have = 0;
        if (part < 0 || part >= parts || parts > 1024) goto out;
        if (vg_store_cluster_received(s->store, mid) == 1) goto out; /* kept before */
        snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, evidence);
        snprintf(ppath, sizeof(ppath), "%s.part%d", path, part);
        if (vg__write_file(ppath, nl + 1, npic, 0600) < 0) {
            ret = -1;
            goto out;
        }
        for (int i = 0; i < parts; i++) {
            struct stat sb;
            snprintf(ppath, sizeof(ppath), "%s.part%d", path, i);
            have += stat(ppath, &sb) == 0;
        }
        if (have < parts) goto out; /* (acknowledged: the part is on disk) */
        uint8_t *whole = NULL;
        size_t nw = 0;
        int ok = 1;
        for (int i = 0; i < parts && ok; i++) {
            uint8_t *d = NULL;
            size_t nd = 0;
            snprintf(ppath, sizeof(ppath), "%s.part%d", path, i);
            ok = vg_file_read(ppath, 32 << 20, &d, &nd) == 0;
            uint8_t *w = ok ? vg_realloc(whole, nw + nd) : NULL;
            if (w) {
                memcpy(w + nw, d, nd);
                whole = w;
                nw += nd;
            } else {
                ok = 0;
            }
            vg_free(d);
        }
        if (!ok || vg__write_file(path, whole, nw, 0640) < 0) {
            vg_free(whole);
            ret = -1;
            goto out;
        }
        vg_free(whole);
        for (int i = 0; i < parts; i++) {
            snprintf(ppath, sizeof(ppath), "%s.part%d", path, i);
            unlink(ppath);
        }
        npic = nw;
    } else if (evidence) { /* the node's random name: writing it again is harmless */
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, evidence);
        if (stat(path, &sb) != 0 && vg__write_file(path, nl + 1, npic, 0640) < 0) {
            vg_log(COMP, VG_LOG_ERROR, "cannot write the evidence picture %s: %s", path,
                   strerror(errno));
            ret = -1;
            goto out;
        }
    }
    int64_t seq = 0;
    int dup = 0;
    int64_t id = vg_store_event_put_remote(s->store, mid, run, node, &ev, wall, evidence,
                                           evidence ? (int64_t)npic : 0, priority, &seq, &dup);
    if (id == VG_ENOENT) {
        /* its start not here yet: delivered again after it (a start delivered before a console
         * restart comes back only after the ack wait, behind later records); given up after
         * 60 deliveries (a start older than the stream) */
        jsMsgMetaData *meta = NULL;
        uint64_t tries = natsMsg_GetMetaData(&meta, m) == NATS_OK ? meta->NumDelivered : 0;
        if (meta) jsMsgMetaData_Destroy(meta);
        if (tries < 60)
            ret = -1;
        else
            vg_log(COMP, VG_LOG_WARNING,
                   "message %s: %s of an event whose start never came: dropped", mid,
                   vg_event_phase_name(ev.phase));
    } else if (id < 0) {
        ret = -1;
    } else if (dup) {
        atomic_fetch_add(&k->duplicates, 1);
    } else {
        atomic_fetch_add(&k->received, 1);
        vg__hub_notify(s, seq);
        vg__metrics_event(s, ev.type, ev.phase, 0);
    }
out:
    free(line);
    json_decref(h);
    return ret;
}

/* The cameras' statuses from their lease keys. */
static void console_statuses(vg_cluster_t *k)
{
    vg_server_t *s = k->srv;
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c)) continue;
        char key[128], status[16] = "unassigned", msg[512] = "no analysis node holds it";
        char node[64] = "";
        kvEntry *e = NULL;
        cam_key(c->cfg->name, key, sizeof(key));
        if (kvStore_Get(&e, k->kv, key) == NATS_OK && e) {
            json_t *o = json_loads(kvEntry_ValueString(e), 0, NULL);
            const char *n = json_string_value(json_object_get(o, "node"));
            const char *st = json_string_value(json_object_get(o, "status"));
            const char *ms = json_string_value(json_object_get(o, "message"));
            if (n) {
                snprintf(node, sizeof(node), "%s", n);
                snprintf(status, sizeof(status), "%s", st ? st : "starting");
                snprintf(msg, sizeof(msg), "%s", ms ? ms : "");
                pthread_mutex_lock(&c->lock);
                c->fps = json_real_value(json_object_get(o, "fps"));
                c->in_w = (int)json_integer_value(json_object_get(o, "width"));
                c->in_h = (int)json_integer_value(json_object_get(o, "height"));
                pthread_mutex_unlock(&c->lock);
            }
            json_decref(o);
            kvEntry_Destroy(e);
        }
        pthread_mutex_lock(&c->lock);
        /* (health.c: unassigned longer than two leases is a technical alert) */
        if (node[0] || c->last_frame == 0) c->last_frame = vg__now_mono();
        c->stall_after = 2 * k->cfg->lease;
        if (strcmp(c->status, status)) vg_store_now(c->since);
        snprintf(c->status, sizeof(c->status), "%s", status);
        snprintf(c->message, sizeof(c->message), "%s", msg);
        snprintf(c->node, sizeof(c->node), "%s", node);
        pthread_mutex_unlock(&c->lock);
    }
}

/* Console: the fixtures of the cameras marked dirty (all of them at the start) to the bucket. */
static void fixtures_publish(vg_cluster_t *k)
{
    vg_server_t *s = k->srv;
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c) || !atomic_load(&k->fix_dirty[i])) continue;
        if (atomic_load(&k->fix_dirty[i]) & 2) { /* its scene, saved through the console */
            char *yaml = NULL, key[128];
            uint64_t rev;
            obj_key("scene", c->cfg->name, key, sizeof(key));
            int r = vg_store_scene_get(s->store, c->cfg->name, &yaml);
            if (r == VG_ENOENT || (r == 0 && kvStore_PutString(&rev, k->fkv, key, yaml) == NATS_OK))
                atomic_fetch_and(&k->fix_dirty[i], ~2);
            vg_free(yaml);
        }
        if (!(atomic_load(&k->fix_dirty[i]) & 1)) continue;
        fixlist_t l = {NULL, 0};
        vg_store_fixtures(s->store, c->cfg->name, fix_collect, &l);
        json_t *arr = json_array();
        for (int j = 0; j < l.n; j++)
            json_array_append_new(arr,
                                  json_pack("[ffff]", l.b[j][0], l.b[j][1], l.b[j][2], l.b[j][3]));
        vg_free(l.b);
        char *txt = json_dumps(arr, JSON_COMPACT), key[128];
        json_decref(arr);
        obj_key("fix", c->cfg->name, key, sizeof(key));
        uint64_t rev;
        int ok = txt && (l.n == 0 || kvStore_PutString(&rev, k->fkv, key, txt) == NATS_OK);
        free(txt);
        if (ok) atomic_fetch_and(&k->fix_dirty[i], ~1);
    }
}

static void mark(vg_server_t *s, const char *camera, int what)
{
    vg_cluster_t *k = s->cluster;
    if (!k || !k->fix_dirty) return;
    for (int i = 0; i < s->nb_cams; i++)
        if (vg__cam_live(&s->cams[i]) && !strcmp(s->cams[i].cfg->name, camera))
            atomic_fetch_or(&k->fix_dirty[i], what);
}

void vg__cluster_fixtures_changed(vg_server_t *s, const char *camera)
{
    mark(s, camera, 1);
}

void vg__cluster_scene_changed(vg_server_t *s, const char *camera)
{
    mark(s, camera, 2);
}

static void *consume_main(void *opaque)
{
    vg_cluster_t *k = opaque;
    double last_status = 0;
    while (!quitting(k)) {
        if (ensure(k) < 0) {
            nap(k, 1);
            continue;
        }
        if (vg__now_mono() - last_status >= 1) {
            console_statuses(k);
            fixtures_publish(k);
            last_status = vg__now_mono();
        }
        if (vg__now_mono() - k->said_forget > 3600) { /* past the stream's age: no duplicate */
            k->said_forget = vg__now_mono();
            vg_store_cluster_forget(k->srv->store,
                                    (double)time(NULL) - (k->cfg->stream_days + 1) * 86400);
        }
        if (k->resubscribe && k->sub) {
            natsSubscription_Destroy(k->sub);
            k->sub = NULL;
        }
        k->resubscribe = 0;
        if (!k->sub) {
            jsSubOptions so;
            jsErrCode je = 0;
            jsSubOptions_Init(&so);
            so.Stream = k->stream;
            so.Config.Durable = k->durable;
            so.Config.AckPolicy = js_AckExplicit;
            so.Config.DeliverPolicy = js_DeliverAll;
            so.Config.AckWait =
                (int64_t)10e9; /* unacknowledged (a console killed): again in 10 s */
            so.Config.MaxAckPending = 4 * BATCH;
            natsStatus st =
                js_PullSubscribe(&k->sub, k->js, k->subj_all, k->durable, NULL, &so, &je);
            if (st != NATS_OK) {
                k->sub = NULL;
                recheck(k); /* check the stream again */
                if (vg__now_mono() - k->said_down > 60) {
                    k->said_down = vg__now_mono();
                    vg_log(COMP, VG_LOG_WARNING, "cannot read stream %s: %s; trying again",
                           k->stream, nats_why(st));
                }
                nap(k, 1);
                continue;
            }
            vg_log(COMP, VG_LOG_INFO, "reading stream %s as consumer %s", k->stream, k->durable);
        }
        natsMsgList list = {0};
        jsErrCode je = 0;
        natsStatus st = natsSubscription_Fetch(&list, k->sub, BATCH, 1000, &je);
        if (st == NATS_TIMEOUT) continue;
        if (st != NATS_OK) {
            if (vg__now_mono() - k->said_down > 60) {
                k->said_down = vg__now_mono();
                vg_log(COMP, VG_LOG_WARNING, "reading stream %s: %s; trying again", k->stream,
                       nats_why(st));
            }
            /* its consumer or stream gone: subscribe again (after checking the stream) */
            natsSubscription_Destroy(k->sub);
            k->sub = NULL;
            recheck(k);
            nap(k, 1);
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            if (receive(k, m) == 0)
                natsMsg_Ack(m, NULL);
            else
                natsMsg_NakWithDelay(m, 1000, NULL);
        }
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

/* ---- stills: the console asks the node that runs a camera (request and reply) ---- */

/* Analysis: a request on `<site>.still.<node>.<camera>`: the camera's latest still, pixelated as
 * on a single machine (empty: no picture, or not run here). On the NATS library's thread. */
static void on_still(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    vg_cluster_t *k = closure;
    const char *reply = natsMsg_GetReply(m), *subj = natsMsg_GetSubject(m);
    size_t pre = strlen(k->still_prefix);
    (void)sub;
    if (reply && subj && strlen(subj) > pre && !strncmp(subj, k->still_prefix, pre)) {
        vg_cam_t *c = vg__server_cam(k->srv, subj + pre);
        uint8_t *jpg = NULL;
        size_t len = 0;
        vg_snap_t snap;
        int have = 0;
        if (c && atomic_load(&c->held)) {
            pthread_mutex_lock(&c->lock);
            have = c->still.frame && vg__snap_copy(&snap, &c->still) == 0;
            pthread_mutex_unlock(&c->lock);
        }
        if (have) {
            if (vg__server_snap_jpeg(k->srv, &snap, 1, &jpg, &len) < 0) jpg = NULL, len = 0;
            vg__snap_clear(&snap);
        }
        natsConnection_Publish(nc, reply, jpg, (int)len);
        vg_free(jpg);
    }
    natsMsg_Destroy(m);
}

int vg__cluster_still(vg_server_t *s, vg_cam_t *c, uint8_t **jpg, size_t *len, char *why,
                      size_t whylen)
{
    vg_cluster_t *k = s->cluster;
    char node[64], subj[256];
    natsMsg *reply = NULL;
    pthread_mutex_lock(&c->lock);
    snprintf(node, sizeof(node), "%s", c->node);
    pthread_mutex_unlock(&c->lock);
    if (!k || !node[0]) {
        snprintf(why, whylen, "no analysis node runs camera '%s'", c->cfg->name);
        return VG_ENOENT;
    }
    snprintf(subj, sizeof(subj), "%s.still.%s.%s", k->cfg->site, node, c->cfg->name);
    natsStatus st = natsConnection_Request(&reply, k->nc, subj, NULL, 0, 3000);
    int n = reply ? natsMsg_GetDataLength(reply) : 0;
    if (st != NATS_OK || n <= 0) {
        snprintf(why, whylen, "node '%s' %s a picture of camera '%s'", node,
                 st == NATS_OK ? "has no" : "did not send", c->cfg->name);
        natsMsg_Destroy(reply);
        return st == NATS_OK ? VG_ENOENT : VG_EIO;
    }
    *jpg = vg_malloc((size_t)n);
    if (*jpg) memcpy(*jpg, natsMsg_GetData(reply), (size_t)n);
    *len = (size_t)n;
    natsMsg_Destroy(reply);
    return *jpg ? 0 : VG_ENOMEM;
}

/* ---- start, stop, figures ---- */

static void store_uid(vg_cluster_t *k)
{
    char v[40] = "";
    if (vg_store_meta_get(k->srv->store, "store_id", v, sizeof(v)) == 0 && strlen(v) == 16) {
        snprintf(k->uid, sizeof(k->uid), "%s", v);
        return;
    }
    uint8_t b[8] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)k;
        memcpy(b, &t, 8);
    }
    for (int i = 0; i < 8; i++) snprintf(k->uid + 2 * i, 3, "%02x", b[i]);
    vg_store_meta_set(k->srv->store, "store_id", k->uid);
}

int vg__cluster_start(vg_server_t *s, char *err, size_t errlen)
{
    const vg_server_config_t *cfg = atomic_load(&s->cfg);
    const vg_server_cluster_t *cc = cfg->cluster;
    natsStatus st;
    if (!cc) return 0;
    vg_cluster_t *k = vg_calloc(1, sizeof(*k));
    if (!k) return VG_ENOMEM;
    k->srv = s;
    k->cfg = cc;
    k->started = vg__now_mono();
    pthread_mutex_init(&k->lock, NULL);
    pthread_mutex_init(&k->elock, NULL);
    pthread_cond_init(&k->cond, NULL);
    s->cluster = k;
    snprintf(k->stream, sizeof(k->stream), "%s_EVENTS", cc->site);
    for (char *p = k->stream; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    snprintf(k->bucket, sizeof(k->bucket), "%s_leases", cc->site);
    snprintf(k->fbucket, sizeof(k->fbucket), "%s_cameras", cc->site);
    snprintf(k->subj_all, sizeof(k->subj_all), "%s.events.>", cc->site);
    snprintf(k->subj_mine, sizeof(k->subj_mine), "%s.events.%s", cc->site, cc->node);
    snprintf(k->durable, sizeof(k->durable), "console-%s", cc->node);
    store_uid(k);
    if (cc->role == VG_CLUSTER_ANALYSIS) {
        char v[32] = "";
        if (vg_store_meta_get(s->store, "cluster_sent", v, sizeof(v)) == 0)
            k->cursor = strtoll(v, NULL, 10);
        if (vg_store_meta_get(s->store, "cluster_counts_sent", v, sizeof(v)) == 0)
            k->ccursor = strtoll(v, NULL, 10);
        k->nb_leases = s->nb_cams;
        k->leases = vg_calloc(VG_SERVER_CAM_SLOTS, sizeof(*k->leases));
        if (!k->leases) return VG_ENOMEM;
        if (vg_store_meta_get(s->store, "cluster_held", k->held_saved, sizeof(k->held_saved)) < 0)
            k->held_saved[0] = 0;
        k->fix_rev = vg_calloc(VG_SERVER_CAM_SLOTS, sizeof(*k->fix_rev));
        k->scene_rev = vg_calloc(VG_SERVER_CAM_SLOTS, sizeof(*k->scene_rev));
        if (!k->fix_rev || !k->scene_rev) return VG_ENOMEM;
    } else {
        k->fix_dirty = vg_calloc(VG_SERVER_CAM_SLOTS, sizeof(*k->fix_dirty));
        if (!k->fix_dirty) return VG_ENOMEM;
        for (int i = 0; i < s->nb_cams; i++) atomic_init(&k->fix_dirty[i], 3);
    }
    if ((st = natsOptions_Create(&k->opts)) != NATS_OK) goto nats_fail;
    natsOptions_SetServers(k->opts, (const char **)cc->servers, cc->nb_servers);
    {
        char name[128];
        snprintf(name, sizeof(name), "vigie %s %s", cc->site, cc->node);
        natsOptions_SetName(k->opts, name);
    }
    natsOptions_SetMaxReconnect(k->opts, -1);
    natsOptions_SetReconnectWait(k->opts, 500);
    natsOptions_SetTimeout(k->opts, 2000);
    natsOptions_SetDisconnectedCB(k->opts, on_disconnected, k);
    natsOptions_SetReconnectedCB(k->opts, on_connected, k);
    natsOptions_SetClosedCB(k->opts, on_closed, k);
    /* NATS unreachable at start: the connection keeps trying; analysis starts anyway */
    natsOptions_SetRetryOnFailedConnect(k->opts, true, on_connected, k);
    st = natsConnection_Connect(&k->nc, k->opts);
    if (st == NATS_OK) {
        atomic_store(&k->connected, 1);
        on_connected(k->nc, k);
    } else if (st == NATS_NOT_YET_CONNECTED) {
        vg_log(COMP, VG_LOG_WARNING, "NATS (%s%s) unreachable: trying again in the background; %s",
               cc->servers[0], cc->nb_servers > 1 ? ", ..." : "",
               cc->role == VG_CLUSTER_ANALYSIS
                   ? "after one lease without it, this node analyses the cameras it held last"
                   : "the console shows what its store has");
    } else {
        goto nats_fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if ((st = natsConnection_JetStream(&k->js, k->nc, &jo)) != NATS_OK) goto nats_fail;
    jo.Wait = (int64_t)fmax(500, cc->lease * 1000 / 4);
    if ((st = natsConnection_JetStream(&k->jskv, k->nc, &jo)) != NATS_OK) goto nats_fail;
    if (cc->role == VG_CLUSTER_ANALYSIS) {
        char subj[160];
        snprintf(k->still_prefix, sizeof(k->still_prefix), "%s.still.%s.", cc->site, cc->node);
        snprintf(subj, sizeof(subj), "%s>", k->still_prefix);
        if ((st = natsConnection_Subscribe(&k->still_sub, k->nc, subj, on_still, k)) != NATS_OK)
            goto nats_fail;
        if ((st = natsSubscription_SetOnCompleteCB(k->still_sub, on_still_done, k)) != NATS_OK)
            goto nats_fail;
        if (pthread_create(&k->th_lease, NULL, lease_main, k) != 0) goto nothread;
        k->th_lease_on = 1;
        if (pthread_create(&k->th_main, NULL, publish_main, k) != 0) goto nothread;
    } else if (pthread_create(&k->th_main, NULL, consume_main, k) != 0) {
        goto nothread;
    }
    k->th_main_on = 1;
    vg_log(COMP, VG_LOG_INFO, "node '%s' of site '%s' (%s), lease %.0f s, NATS %s%s", cc->node,
           cc->site, cc->role == VG_CLUSTER_ANALYSIS ? "analysis" : "console", cc->lease,
           cc->servers[0], cc->nb_servers > 1 ? " and others" : "");
    return 0;
nats_fail:
    snprintf(err, errlen, "cluster: cannot use NATS (%s): %s", cc->servers[0], nats_why(st));
    return VG_EIO;
nothread:
    snprintf(err, errlen, "cluster: cannot start a thread");
    return VG_ENOMEM;
}

void vg__cluster_stop(vg_server_t *s)
{
    vg_cluster_t *k = s->cluster;
    if (!k) return;
    pthread_mutex_lock(&k->lock);
    k->stop = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
    vg__hub_wake(s);
    if (k->th_lease_on) pthread_join(k->th_lease, NULL);
    if (k->th_main_on) pthread_join(k->th_main, NULL);
    if (k->sub) natsSubscription_Destroy(k->sub);
    /* The library's threads call back into @k (a still request, a disconnection seen by
     * Close): it is freed only once their last callbacks have returned. Should they not come
     * (a library that never calls them), @k is left allocated rather than freed under them. */
    int safe = 1;
    if (k->still_sub) natsSubscription_Unsubscribe(k->still_sub); /* (Close ends it otherwise) */
    if (k->kv) kvStore_Destroy(k->kv);
    if (k->fkv) kvStore_Destroy(k->fkv);
    if (k->js) jsCtx_Destroy(k->js);
    if (k->jskv) jsCtx_Destroy(k->jskv);
    if (k->nc) {
        natsConnection_Close(k->nc);
        safe &= wait_flag(k, &k->nc_closed, 30);
    }
    if (k->still_sub) {
        safe &= wait_flag(k, &k->still_done, 30);
        natsSubscription_Destroy(k->still_sub);
    }
    if (k->nc) natsConnection_Destroy(k->nc);
    if (k->opts) natsOptions_Destroy(k->opts);
    vg_free(k->leases);
    vg_free(k->fix_rev);
    vg_free(k->scene_rev);
    vg_free((void *)k->fix_dirty);
    s->cluster = NULL;
    if (!safe) {
        vg_log(COMP, VG_LOG_WARNING,
               "the NATS library did not say it was done with this node's "
               "connection; its state is left in memory");
        return;
    }
    pthread_mutex_destroy(&k->lock);
    pthread_mutex_destroy(&k->elock);
    pthread_cond_destroy(&k->cond);
    vg_free(k);
}

void vg__cluster_stats(vg_server_t *s, vg_cluster_stats_t *st)
{
    vg_cluster_t *k = s->cluster;
    memset(st, 0, sizeof(*st));
    if (!k) return;
    st->on = 1;
    st->role = k->cfg->role;
    st->connected = atomic_load(&k->connected);
    st->cameras = atomic_load(&k->cameras);
    st->nodes = atomic_load(&k->nodes);
    st->waiting = atomic_load(&k->waiting);
    st->sent = atomic_load(&k->sent);
    st->received = atomic_load(&k->received);
    st->counts = atomic_load(&k->counts);
    st->duplicates = atomic_load(&k->duplicates);
    st->failures = atomic_load(&k->failures);
}
