/*
 * The MQTT publisher of `vigie serve` (libmosquitto; `mqtt:` in the config, docs/server.md
 * "MQTT"): events and decisions to a broker, in the shape Frigate users already consume.
 *
 * Topics, under the prefix (default "vigie"):
 * - `available`: "online" (retained) once connected; "offline" (retained) as the Last Will and
 *   when the server stops;
 * - `events`: one message per feed record, in order — an event's start, update and end, and each
 *   operator action on it (ack, decision, claim; shift notes too): the store's record (the event
 *   record plus its store id `id`, `camera`, `zone`, `phase`) with `seq`, the feed's sequence
 *   number, and `evidence_url` when it has a picture;
 * - `<camera>/<type>`: the number of open events of that type on the camera (retained), after
 *   each start and end;
 * - `<camera>/status`: running, reconnecting, failed, ended, ... (retained), on each change and
 *   on (re)connection;
 * - `<camera>/<zone>/count`: each people-count sample of a zone (retained: the last one).
 * - With `discovery: yes`, Home Assistant MQTT discovery messages (retained) make each camera a
 *   device with a status sensor and one sensor per event type.
 *
 * Nothing is lost when the broker is down. The outbox is the store's feed (the live stream's
 * durable log, written in the same transaction as the event): the publisher keeps a cursor, the
 * highest sequence number the broker has acknowledged (PUBACK, QoS 1) with every lower one,
 * saved in the store (meta `mqtt_acked`). Messages go out in order, at most 64 awaiting their
 * acknowledgement; after a disconnection, or a restart of vigie (kill -9 included), publishing
 * resumes after the cursor: at least once, and a duplicate carries the same `seq` and `id`. A
 * broker down for long: past `max_backlog` messages waiting, the oldest are skipped (counted,
 * logged once per outage; the store and the API keep them). The first start with MQTT begins
 * at the feed's head (history is not replayed). Counts, statuses and discovery are state, not
 * history: sent again on each connection, never queued.
 *
 * Threads: libmosquitto's network thread (mosquitto_loop_start: connection, reconnection with
 * backoff 1 to 30 s, callbacks) and the publisher thread, which waits on the hub's condition
 * (a new feed record) or a second, and publishes. The state below is under m->lock; the
 * callbacks take it briefly and never call into the store.
 */
#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "server_priv.h"

#define COMP   "mqtt"
#define WINDOW 64

typedef struct inflight {
    int mid;
    int64_t seq;
    int done;
} inflight_t;

struct vg_mqtt {
    vg_server_t *s;
    const vg_server_mqtt_t *cfg;
    struct mosquitto *mosq;
    pthread_t th;
    int started, loop_started;
    pthread_mutex_t lock;
    int connected, stop, refused;
    int64_t acked, saved, sent;
    inflight_t fly[WINDOW];
    int nfly; /* in order of seq */
    int64_t published, acks, dropped, connects;
    int outage_logged;
    int offline_mid, offline_acked; /* the "offline" of a clean stop */
    char last_log[256];
    char topic_avail[128];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void topic(const vg_mqtt_t *m, char *buf, size_t len, const char *a, const char *b,
                  const char *c)
{
    snprintf(buf, len, "%s/%s%s%s%s%s", m->cfg->prefix, a, b ? "/" : "", b ? b : "", c ? "/" : "",
             c ? c : "");
    /* a zone or type name is a topic level: no wildcard or separator in it */
    for (char *p = buf + strlen(m->cfg->prefix) + 1; *p; p++)
        if (*p == '+' || *p == '#' || *p == ' ') *p = '_';
}

static int publish(vg_mqtt_t *m, const char *t, const char *payload, int retain, int *mid)
{
    int rc =
        mosquitto_publish(m->mosq, mid, t, (int)strlen(payload), payload, m->cfg->qos, retain != 0);
    return rc == MOSQ_ERR_SUCCESS ? 0 : VG_EAGAIN;
}

/* ---- callbacks (libmosquitto's thread) ---- */

/* libmosquitto's own errors (TLS: an expired or unknown certificate; DNS): to the log, once each
 * until another comes. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    vg_mqtt_t *m = obj;
    (void)mosq;
    if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) || !str) return;
    pthread_mutex_lock(&m->lock);
    int again = !strcmp(m->last_log, str);
    if (!again) snprintf(m->last_log, sizeof(m->last_log), "%s", str);
    pthread_mutex_unlock(&m->lock);
    if (!again) vg_log(COMP, VG_LOG_ERROR, "%s:%d: %s (retrying)", m->cfg->host, m->cfg->port, str);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    vg_mqtt_t *m = obj;
    (void)mosq;
    pthread_mutex_lock(&m->lock);
    if (rc == 0) {
        m->connected = 1;
        m->connects++;
        m->refused = 0;
        m->last_log[0] = 0;
        m->nfly = 0;
        m->sent = m->acked; /* what was in flight goes again */
        m->outage_logged = 0;
    } else if (!m->refused) {
        m->refused = 1;
        vg_log(COMP, VG_LOG_ERROR,
               "%s:%d refused the connection: %s (check mqtt.user, "
               "mqtt.password_file and the broker's access rules); retrying",
               m->cfg->host, m->cfg->port, mosquitto_connack_string(rc));
    }
    pthread_mutex_unlock(&m->lock);
    if (rc == 0) {
        vg_log(COMP, VG_LOG_INFO, "connected to %s:%d", m->cfg->host, m->cfg->port);
        vg__hub_wake(m->s); /* the publisher sends the state and the backlog */
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    vg_mqtt_t *m = obj;
    (void)mosq;
    pthread_mutex_lock(&m->lock);
    int was = m->connected;
    m->connected = 0;
    m->nfly = 0;
    m->sent = m->acked;
    pthread_mutex_unlock(&m->lock);
    if (was && rc != 0)
        vg_log(COMP, VG_LOG_WARNING, "lost the broker %s:%d (%s); messages wait in the store",
               m->cfg->host, m->cfg->port, mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    vg_mqtt_t *m = obj;
    (void)mosq;
    pthread_mutex_lock(&m->lock);
    m->acks++;
    if (m->offline_mid && mid == m->offline_mid) m->offline_acked = 1;
    for (int i = 0; i < m->nfly; i++)
        if (m->fly[i].mid == mid) m->fly[i].done = 1;
    int k = 0;
    while (k < m->nfly && m->fly[k].done) m->acked = m->fly[k++].seq;
    if (k) {
        memmove(m->fly, m->fly + k, (size_t)(m->nfly - k) * sizeof(m->fly[0]));
        m->nfly -= k;
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- the publisher ---- */

typedef struct batch {
    vg_mqtt_t *m;
    int failed;
    char cams[16][64], types[16][32]; /* open counts to send after the batch */
    int nct;
} batch_t;

/* One feed record (the store's lock held: nothing but libmosquitto here). */
static void send_record(void *opaque, int64_t seq, const char *json)
{
    batch_t *b = opaque;
    vg_mqtt_t *m = b->m;
    if (b->failed) return;
    json_t *o = json_loads(json, 0, NULL);
    char t[256], *txt = NULL;
    const char *payload = json;
    if (o) {
        const char *ev = json_string_value(json_object_get(o, "evidence"));
        if (ev) {
            char url[160];
            snprintf(url, sizeof(url), "/api/evidence/%s", ev);
            json_object_set_new(o, "evidence_url", json_string(url));
        }
        const char *ph = json_string_value(json_object_get(o, "phase"));
        const char *cam = json_string_value(json_object_get(o, "camera"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (ph && cam && type && (!strcmp(ph, "start") || !strcmp(ph, "end")) && b->nct < 16) {
            int dup = 0;
            for (int i = 0; i < b->nct; i++)
                dup |= !strcmp(b->cams[i], cam) && !strcmp(b->types[i], type);
            if (!dup) {
                snprintf(b->cams[b->nct], sizeof(b->cams[0]), "%s", cam);
                snprintf(b->types[b->nct], sizeof(b->types[0]), "%s", type);
                b->nct++;
            }
        }
        txt = json_dumps(o, JSON_COMPACT);
        if (txt) payload = txt;
        json_decref(o);
    }
    topic(m, t, sizeof(t), "events", NULL, NULL);
    int mid = 0;
    pthread_mutex_lock(&m->lock);
    if (!m->connected || m->nfly >= WINDOW || publish(m, t, payload, 0, &mid) < 0) {
        b->failed = 1;
    } else {
        if (m->cfg->qos == 0) { /* no acknowledgement will come: sent is done */
            m->acked = seq;
        } else {
            m->fly[m->nfly++] = (inflight_t){mid, seq, 0};
        }
        m->sent = seq;
        m->published++;
    }
    pthread_mutex_unlock(&m->lock);
    free(txt);
}

/* The state topics: availability, each camera's status, discovery. */
static void send_state(vg_mqtt_t *m)
{
    char t[256];
    publish(m, m->topic_avail, "online", 1, NULL);
    for (int i = 0; i < m->s->nb_cams; i++) {
        vg_cam_t *c = &m->s->cams[i];
        if (!vg__cam_live(c)) continue;
        char status[16];
        pthread_mutex_lock(&c->lock);
        snprintf(status, sizeof(status), "%s", c->status);
        pthread_mutex_unlock(&c->lock);
        topic(m, t, sizeof(t), c->cfg->name, "status", NULL);
        publish(m, t, status[0] ? status : "starting", 1, NULL);
        for (int k = 0; k < VG_EVENT_NB; k++) {
            int n = vg_store_open_events(m->s->store, c->cfg->name, vg_event_type_name(k));
            char v[16];
            snprintf(v, sizeof(v), "%d", n < 0 ? 0 : n);
            topic(m, t, sizeof(t), c->cfg->name, vg_event_type_name(k), NULL);
            publish(m, t, v, 1, NULL);
        }
        if (!m->cfg->discovery) continue;
        /* Home Assistant: the camera as a device, a sensor per event type and its status */
        char payload[1024], dev[256], id[160];
        snprintf(dev, sizeof(dev),
                 "\"device\":{\"identifiers\":[\"vigie_%s\"],\"name\":\"vigie %s\","
                 "\"manufacturer\":\"vigie\"},\"availability_topic\":\"%s\"",
                 c->cfg->name, c->cfg->name, m->topic_avail);
        for (int k = -1; k < VG_EVENT_NB; k++) {
            const char *what = k < 0 ? "status" : vg_event_type_name(k);
            snprintf(id, sizeof(id), "vigie_%s_%s", c->cfg->name, what);
            char state[256];
            topic(m, state, sizeof(state), c->cfg->name, what, NULL);
            snprintf(payload, sizeof(payload),
                     "{\"name\":\"%s\",\"unique_id\":\"%s\",\"state_topic\":\"%s\",%s%s}", what, id,
                     state, dev, k < 0 ? "" : ",\"state_class\":\"measurement\"");
            snprintf(t, sizeof(t), "homeassistant/sensor/%s/config", id);
            publish(m, t, payload, 1, NULL);
        }
    }
}

static void *mqtt_main(void *opaque)
{
    vg_mqtt_t *m = opaque;
    vg_server_t *s = m->s;
    int64_t connects_seen = 0;
    for (;;) {
        pthread_mutex_lock(&s->hlock);
        struct timespec dl;
        vg__abs_deadline(&dl, 1.0);
        pthread_mutex_lock(&m->lock);
        int idle = !m->stop && (m->sent >= s->head || !m->connected || m->nfly >= WINDOW) &&
                   m->connects == connects_seen;
        pthread_mutex_unlock(&m->lock);
        if (idle) pthread_cond_timedwait(&s->hcond, &s->hlock, &dl);
        pthread_mutex_unlock(&s->hlock);

        int64_t head = vg_store_feed_head(s->store);
        pthread_mutex_lock(&m->lock);
        int stop = m->stop, connected = m->connected, fresh = m->connects != connects_seen;
        connects_seen = m->connects;
        /* a long outage: keep the newest max_backlog waiting */
        if (head - m->acked > m->cfg->max_backlog) {
            int64_t skip = head - m->cfg->max_backlog - m->acked;
            m->dropped += skip;
            m->acked += skip;
            if (m->sent < m->acked) m->sent = m->acked;
            if (!m->outage_logged)
                vg_log(COMP, VG_LOG_WARNING,
                       "the broker has been away for more than %d messages: the oldest are skipped "
                       "(the store keeps them); %lld skipped so far",
                       m->cfg->max_backlog, (long long)m->dropped);
            m->outage_logged = 1;
        }
        int64_t acked = m->acked, sent = m->sent;
        int room = WINDOW - m->nfly;
        pthread_mutex_unlock(&m->lock);
        if (acked != m->saved) { /* the cursor survives a restart */
            char v[32];
            snprintf(v, sizeof(v), "%lld", (long long)acked);
            if (vg_store_meta_set(s->store, "mqtt_acked", v) == 0) m->saved = acked;
        }
        if (connected && fresh) send_state(m);
        if (connected && room > 0 && sent < head) {
            batch_t b = {m, 0, {{0}}, {{0}}, 0};
            vg_store_feed_read(s->store, sent, room, send_record, &b);
            for (int i = 0; i < b.nct; i++) {
                char t[256], v[16];
                int n = vg_store_open_events(s->store, b.cams[i], b.types[i]);
                snprintf(v, sizeof(v), "%d", n < 0 ? 0 : n);
                topic(m, t, sizeof(t), b.cams[i], b.types[i], NULL);
                publish(m, t, v, 1, NULL);
            }
        }
        if (stop) break;
    }
    return NULL;
}

/* ---- start, stop, hooks ---- */

int vg__mqtt_start(vg_server_t *s, char *err, size_t errlen)
{
    const vg_server_mqtt_t *cfg = s->cfg->mqtt;
    if (!cfg) return 0;
    pthread_once(&lib_once, lib_init);
    vg_mqtt_t *m = vg_calloc(1, sizeof(*m));
    if (!m) return VG_ENOMEM;
    m->s = s, m->cfg = cfg;
    pthread_mutex_init(&m->lock, NULL);
    s->mqtt = m;
    topic(m, m->topic_avail, sizeof(m->topic_avail), "available", NULL, NULL);
    char v[32] = "";
    if (vg_store_meta_get(s->store, "mqtt_acked", v, sizeof(v)) == 0 && v[0]) {
        m->acked = strtoll(v, NULL, 10);
    } else { /* the first start with MQTT: from now on, history is not replayed */
        m->acked = vg_store_feed_head(s->store);
    }
    m->saved = m->sent = m->acked;
    m->mosq = mosquitto_new(cfg->client_id, true, m);
    if (!m->mosq) {
        snprintf(err, errlen, "mqtt: cannot create the client");
        return VG_ENOMEM;
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_log_callback_set(m->mosq, on_log);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_reconnect_delay_set(m->mosq, 1, 30, true);
    mosquitto_max_inflight_messages_set(m->mosq, WINDOW);
    mosquitto_will_set(m->mosq, m->topic_avail, 7, "offline", 1, true);
    int rc;
    if (cfg->user) {
        char pw[512] = "";
        if (cfg->password_file) {
            FILE *f = fopen(cfg->password_file, "r");
            if (!f || !fgets(pw, sizeof(pw), f)) {
                if (f) fclose(f);
                snprintf(err, errlen, "mqtt.password_file %s: cannot read it: %s",
                         cfg->password_file, strerror(errno));
                return VG_ENOENT;
            }
            fclose(f);
            pw[strcspn(pw, "\r\n")] = 0;
        }
        rc = mosquitto_username_pw_set(m->mosq, cfg->user, cfg->password_file ? pw : NULL);
        memset(pw, 0, sizeof(pw));
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "mqtt.user: %s", mosquitto_strerror(rc));
            return VG_EINVAL;
        }
    }
    if (cfg->ca) {
        rc = mosquitto_tls_set(m->mosq, cfg->ca, NULL, cfg->cert, cfg->key, NULL);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(m->mosq, 1, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "mqtt.tls: %s (check the ca, cert and key files)",
                     mosquitto_strerror(rc));
            return VG_EINVAL;
        }
    }
    /* an unreachable broker at start is no reason not to watch: the network thread retries */
    rc = mosquitto_connect_async(m->mosq, cfg->host, cfg->port, (int)cfg->keepalive);
    if (rc != MOSQ_ERR_SUCCESS)
        vg_log(COMP, VG_LOG_WARNING, "%s:%d: %s; retrying", cfg->host, cfg->port,
               rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    if (mosquitto_loop_start(m->mosq) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "mqtt: cannot start the network thread");
        return VG_ENOMEM;
    }
    m->loop_started = 1;
    if (pthread_create(&m->th, NULL, mqtt_main, m) != 0) {
        snprintf(err, errlen, "mqtt: cannot start a thread");
        return VG_ENOMEM;
    }
    m->started = 1;
    return 0;
}

void vg__mqtt_stop(vg_server_t *s)
{
    vg_mqtt_t *m = s->mqtt;
    if (!m) return;
    /* a moment for what the writer just committed (the last ends) to go out */
    double until = vg__now_mono() + 2.0;
    while (m->started && vg__now_mono() < until) {
        pthread_mutex_lock(&m->lock);
        int done = !m->connected || (m->acked >= s->head && !m->nfly);
        pthread_mutex_unlock(&m->lock);
        if (done) break;
        vg__hub_wake(s);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    int connected = m->connected;
    pthread_mutex_unlock(&m->lock);
    vg__hub_wake(s);
    if (m->started) pthread_join(m->th, NULL);
    if (m->acked != m->saved) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)m->acked);
        vg_store_meta_set(s->store, "mqtt_acked", v);
    }
    if (m->mosq && connected) { /* "offline", acknowledged (a second at most), then goodbye */
        int mid = 0;
        pthread_mutex_lock(&m->lock);
        int ok = publish(m, m->topic_avail, "offline", 1, &mid) == 0;
        m->offline_mid = mid;
        pthread_mutex_unlock(&m->lock);
        for (int i = 0; ok && i < 50; i++) {
            pthread_mutex_lock(&m->lock);
            int done = m->offline_acked || !m->connected || m->cfg->qos == 0;
            pthread_mutex_unlock(&m->lock);
            if (done) break;
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* the network thread ends by itself once told to disconnect (it wakes from a reconnection
     * wait too): no thread cancelled with libmosquitto's locks held */
    mosquitto_disconnect(m->mosq);
    if (m->loop_started) mosquitto_loop_stop(m->mosq, false);
    mosquitto_destroy(m->mosq);
    pthread_mutex_destroy(&m->lock);
    vg_free(m);
    s->mqtt = NULL;
}

void vg__mqtt_status(vg_server_t *s, const char *camera, const char *status)
{
    vg_mqtt_t *m = s->mqtt;
    char t[256];
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    int connected = m->connected;
    pthread_mutex_unlock(&m->lock);
    if (!connected) return; /* sent with the state on the next connection */
    topic(m, t, sizeof(t), camera, "status", NULL);
    publish(m, t, status, 1, NULL);
}

void vg__mqtt_count(vg_server_t *s, const char *camera, const char *zone, const char *json)
{
    vg_mqtt_t *m = s->mqtt;
    char t[256];
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    int connected = m->connected;
    pthread_mutex_unlock(&m->lock);
    if (!connected) return;
    topic(m, t, sizeof(t), camera, zone, "count");
    publish(m, t, json, 1, NULL);
}

void vg__mqtt_stats(vg_server_t *s, vg_mqtt_stats_t *st)
{
    vg_mqtt_t *m = s->mqtt;
    memset(st, 0, sizeof(*st));
    if (!m) return;
    int64_t head = vg_store_feed_head(s->store);
    pthread_mutex_lock(&m->lock);
    st->enabled = 1;
    st->connected = m->connected;
    st->backlog = head > m->acked ? head - m->acked : 0;
    st->published = m->published;
    st->acknowledged = m->acks;
    st->dropped = m->dropped;
    st->connects = m->connects;
    pthread_mutex_unlock(&m->lock);
}
