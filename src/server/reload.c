/*
 * SIGHUP: `vigie serve` re-reads its config file and applies what it can without a restart.
 *
 * The keeper thread does it (vg_server_reload only raises a flag, from the signal handler). The
 * new file is parsed with the same strict parser; an error leaves everything running as it was
 * (logged, audited as `config_reload_failed` with the reason). Otherwise:
 *
 *  - cameras: one no longer in the file is stopped (its open events end, as at a stop; its
 *    technical alert too) and marked removed; a new one gets a slot and its thread; one whose
 *    input, scene file (its path or its content, by SHA-256), loop, realtime or settings changed
 *    restarts its pipeline; the others go on untouched (their frames never stop).
 *  - what is read as it is used (instructions, priorities, retention, audit intervals, sessions,
 *    login limits, stream limits, memory budgets, evidence roles and pixelation) takes effect.
 *  - what the server set up at start (listen address, TLS, storage, keep_original, MQTT, the
 *    metrics token, the signing key, HTTP threads, connection limits and timeouts, body limit)
 *    keeps its running value; the keys that changed are named in the log and the audit row as
 *    needing a restart.
 *
 * The audit row `config_reload` holds both SHA-256 of the file, the cameras added, removed and
 * restarted, and the keys left for a restart. Configs stay allocated until the server is freed
 * (a pointer read before a reload stays good): a few kilobytes per reload.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/opt.h>
#include <vigie/server.h>
#include <vigie/store.h>

#include "core/sha256.h"
#include "server_priv.h"

#define COMP "serve"

void vg__cam_scene_sha(const vg_server_camera_t *cam, char sha[65])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sha[0] = 0;
    if (!cam->scene || !cam->scene[0]) return;
    if (vg_file_read(cam->scene, 1 << 22, &buf, &len) < 0) {
        snprintf(sha, 65, "unreadable");
        return;
    }
    vg__sha256_hex(buf, len, sha);
    vg_free(buf);
}

/* An audit row of the system with @d (consumed) as its details. */
static void audit(vg_server_t *s, const char *action, const char *target, json_t *d)
{
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    vg_store_audit(s->store, "system", action, target, text);
    free(text);
    json_decref(d);
}

static int str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

static int settings_differ(const vg_settings_t *a, const vg_settings_t *b)
{
    size_t n = vg_settings_count(a);
    if (n != vg_settings_count(b)) return 1;
    for (size_t i = 0; i < n; i++) {
        const char *ka, *va, *kb, *vb;
        vg_settings_get(a, i, &ka, &va, NULL);
        vg_settings_get(b, i, &kb, &vb, NULL);
        if (strcmp(ka, kb) || strcmp(va, vb)) return 1;
    }
    return 0;
}

/* Keep @old's value of a string key set up at start; name it in @later when the file changed it. */
static void keep_str(char **now, const char *old, const char *key, json_t *later)
{
    if (!str_differs(*now, old)) return;
    json_array_append_new(later, json_string(key));
    vg_free(*now);
    *now = old ? vg_strdup(old) : NULL;
}

#define KEEP_NUM(field, key)                                                                       \
    do {                                                                                           \
        if (nc->field != old->field) {                                                             \
            json_array_append_new(later, json_string(key));                                        \
            nc->field = old->field;                                                                \
        }                                                                                          \
    } while (0)

static int mqtt_differs(const vg_server_mqtt_t *a, const vg_server_mqtt_t *b)
{
    if (!a || !b) return a != b;
    return str_differs(a->host, b->host) || a->port != b->port ||
           str_differs(a->prefix, b->prefix) || str_differs(a->client_id, b->client_id) ||
           str_differs(a->user, b->user) || str_differs(a->password_file, b->password_file) ||
           str_differs(a->ca, b->ca) || str_differs(a->cert, b->cert) ||
           str_differs(a->key, b->key) || a->qos != b->qos || a->keepalive != b->keepalive ||
           a->discovery != b->discovery || a->max_backlog != b->max_backlog;
}

/* The keys of @nc that only a restart applies get @old's values back (listed in @later). */
static void keep_start_settings(vg_server_config_t *nc, const vg_server_config_t *old,
                                json_t *later)
{
    keep_str(&nc->listen_addr, old->listen_addr, "listen", later);
    KEEP_NUM(port, "listen");
    KEEP_NUM(ipv6, "listen");
    keep_str(&nc->storage, old->storage, "storage", later);
    keep_str(&nc->tls_cert, old->tls_cert, "tls.cert", later);
    keep_str(&nc->tls_key, old->tls_key, "tls.key", later);
    KEEP_NUM(insecure, "insecure");
    keep_str(&nc->audit_key, old->audit_key, "audit.signing_key", later);
    keep_str(&nc->metrics_token_file, old->metrics_token_file, "metrics.token_file", later);
    KEEP_NUM(keep_original, "evidence.keep_original");
    KEEP_NUM(http_threads, "limits.threads");
    KEEP_NUM(max_connections, "limits.connections");
    KEEP_NUM(max_per_address, "limits.connections_per_address");
    KEEP_NUM(header_timeout, "limits.header_timeout");
    KEEP_NUM(body_timeout, "limits.body_timeout");
    KEEP_NUM(body_limit, "security.body_limit");
    /* the publisher holds its settings from start; the new ones are only named */
    if (mqtt_differs(nc->mqtt, old->mqtt)) json_array_append_new(later, json_string("mqtt"));
    /* "listen" may have been named twice (address and port) */
    size_t i, j;
    for (i = 0; i < json_array_size(later); i++)
        for (j = i + 1; j < json_array_size(later);)
            if (json_equal(json_array_get(later, i), json_array_get(later, j)))
                json_array_remove(later, j);
            else
                j++;
}

static const vg_server_camera_t *find_cam(const vg_server_config_t *c, const char *name)
{
    for (int i = 0; i < c->nb_cameras; i++)
        if (!strcmp(c->cameras[i].name, name)) return &c->cameras[i];
    return NULL;
}

/* Stop a camera the new config no longer has (keeper thread). */
static void cam_remove(vg_server_t *s, vg_cam_t *c)
{
    atomic_store(&c->gone, 1);
    atomic_store(&c->cancel, 1);
    pthread_mutex_lock(&c->lock);
    if (c->pipe) vg_pipeline_stop(c->pipe);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->started) pthread_join(c->th, NULL);
    c->started = 0;
    vg__cam_health_end_one(s, c);
    pthread_mutex_lock(&c->lock); /* a request may be copying its still */
    vg__snap_clear(&c->still);
    pthread_mutex_unlock(&c->lock);
}

void vg__server_reload(vg_server_t *s)
{
    const vg_server_config_t *old = s->cfg;
    vg_server_config_t *nc = NULL;
    char err[1024];
    if (vg_server_config_load(&nc, old->path, err, sizeof(err)) < 0) {
        vg_log(COMP, VG_LOG_ERROR,
               "SIGHUP: the config was not reloaded: %s; the running config "
               "stays in force",
               err);
        audit(s, "config_reload_failed", old->path, json_pack("{s:s}", "error", err));
        return;
    }
    vg_server_config_t **list = vg_realloc(s->reloaded, (s->nb_reloaded + 1) * sizeof(*list));
    if (!list) {
        vg_log(COMP, VG_LOG_ERROR, "SIGHUP: out of memory; the running config stays in force");
        vg_server_config_free(&nc);
        return;
    }
    s->reloaded = list;
    json_t *added = json_array(), *removed = json_array(), *restarted = json_array();
    json_t *later = json_array(), *refused = json_array();
    keep_start_settings(nc, old, later);

    /* cameras gone from the file */
    int n = s->nb_cams;
    for (int i = 0; i < n; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c) || find_cam(nc, c->cfg->name)) continue;
        vg_log(COMP, VG_LOG_INFO, "SIGHUP: camera '%s' removed", c->cfg->name);
        cam_remove(s, c);
        json_array_append_new(removed, json_string(c->cfg->name));
    }
    /* the new config is in force from here: what is read as it is used takes it */
    s->reloaded[s->nb_reloaded++] = nc;
    atomic_store(&s->cfg, nc);
    /* cameras kept (changed or not) and added */
    for (int j = 0; j < nc->nb_cameras; j++) {
        const vg_server_camera_t *nw = &nc->cameras[j];
        vg_cam_t *c = vg__server_cam(s, nw->name);
        if (c) {
            const vg_server_camera_t *was = c->cfg;
            char sha[65];
            vg__cam_scene_sha(nw, sha);
            int changed = strcmp(was->input, nw->input) || strcmp(was->scene, nw->scene) ||
                          strcmp(sha, c->scene_sha) || was->loop != nw->loop ||
                          was->realtime != nw->realtime ||
                          settings_differ(was->settings, nw->settings);
            atomic_store(&c->cfg, nw);
            if (!changed) continue;
            snprintf(c->scene_sha, sizeof(c->scene_sha), "%s", sha);
            vg_log(COMP, VG_LOG_INFO, "SIGHUP: camera '%s' changed: restarting it", nw->name);
            vg__server_cam_restart(c);
            json_array_append_new(restarted, json_string(nw->name));
            continue;
        }
        int slot = s->nb_cams;
        if (slot >= VG_SERVER_CAM_SLOTS) {
            vg_log(COMP, VG_LOG_ERROR,
                   "SIGHUP: camera '%s' not added: %d cameras were added and removed since the "
                   "start, the most one run holds; restart vigie serve to add it",
                   nw->name, VG_SERVER_CAM_SLOTS);
            json_array_append_new(refused, json_string(nw->name));
            continue;
        }
        if (vg__cam_start(s, &s->cams[slot], nw) < 0) {
            vg_log(COMP, VG_LOG_ERROR, "SIGHUP: camera '%s' not added: cannot start a thread",
                   nw->name);
            json_array_append_new(refused, json_string(nw->name));
            continue;
        }
        atomic_store(&s->nb_cams, slot + 1);
        vg_log(COMP, VG_LOG_INFO, "SIGHUP: camera '%s' added (%s)", nw->name, nw->input);
        json_array_append_new(added, json_string(nw->name));
    }
    if (json_array_size(later)) {
        char *k = json_dumps(later, JSON_COMPACT);
        vg_log(COMP, VG_LOG_WARNING,
               "SIGHUP: %s changed in the file but only apply at a restart: the running values "
               "stay until then",
               k ? k : "?");
        free(k);
    }
    json_t *d =
        json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "before", old->sha256, "after", nc->sha256, "added",
                  added, "removed", removed, "restarted", restarted, "restart_needed", later);
    if (json_array_size(refused))
        json_object_set_new(d, "refused", refused);
    else
        json_decref(refused);
    vg_log(COMP, VG_LOG_INFO,
           "SIGHUP: config reloaded (%zu camera%s added, %zu removed, %zu restarted)",
           json_array_size(added), json_array_size(added) == 1 ? "" : "s", json_array_size(removed),
           json_array_size(restarted));
    audit(s, "config_reload", nc->path, d); /* d holds the arrays: last */
    vg_store_meta_set(s->store, "config_sha256", nc->sha256);
}

void vg_server_reload(vg_server_t *s)
{
    atomic_store(&s->reload_req, 1);
}
