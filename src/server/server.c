/*
 * `vigie serve`'s lifecycle: the server object, its storage folders and store, and the order in
 * which its parts start and stop — the HTTP layer (http.c, the API in api*.c), the writer and
 * the hub (writer.c), the keeper (keeper.c), the cameras (cameras.c). The parts below the HTTP
 * layer never call it; the API calls the cameras and the store.
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

/* The anchors' signing key: refused inside the storage folder (whoever can rewrite the database
 * and the anchors there would hold the key too), or readable by others. */
static int load_audit_key(vg_server_t *s, char *err, size_t errlen)
{
    const vg_server_config_t *cfg = s->cfg;
    char *store = realpath(cfg->storage, NULL), *key = realpath(cfg->audit_key, NULL);
    char hex[65];
    int inside = 0, ret;
    if (store && key) {
        size_t n = strlen(store);
        inside = !strncmp(key, store, n) && (key[n] == '/' || !strcmp(store, "/"));
    }
    free(store);
    free(key);
    if (inside) {
        snprintf(err, errlen,
                 "audit.signing_key %s is inside the storage folder %s: keep it where the "
                 "database's users cannot reach it (e.g. /etc/vigie/audit.key, readable by vigie "
                 "alone)",
                 cfg->audit_key, cfg->storage);
        return VG_EINVAL;
    }
    if ((ret = vg_audit_key_load(&s->audit_key, cfg->audit_key, err, errlen)) < 0) return ret;
    vg_audit_key_public_hex(s->audit_key, hex);
    for (int i = 0; i < 32; i++) sscanf(hex + 2 * i, "%2hhx", &s->audit_pk[i]);
    vg_log(COMP, VG_LOG_INFO, "audit anchors signed by %s (public key %s)", cfg->audit_key, hex);
    return 0;
}

/* A camera slot made ready for @cfg (its thread not started). */
static void cam_init(vg_server_t *s, vg_cam_t *c, const vg_server_camera_t *cfg)
{
    c->srv = s;
    atomic_store(&c->cfg, cfg);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    atomic_init(&c->restart, 0);
    atomic_init(&c->gone, 0);
    atomic_init(&c->cancel, 0);
    /* an analysis node of a cluster waits for the camera's lease (cluster.c) */
    atomic_init(&c->held,
                !(cfg && s->cfg->cluster && s->cfg->cluster->role == VG_CLUSTER_ANALYSIS));
    snprintf(c->status, sizeof(c->status), "starting");
    vg_store_now(c->since);
    vg__cam_scene_sha(cfg, c->scene_sha);
}

int vg__cam_start(vg_server_t *s, vg_cam_t *c, const vg_server_camera_t *cfg)
{
    cam_init(s, c, cfg);
    if (pthread_create(&c->th, NULL, vg__cam_main, c) != 0) return VG_ENOMEM;
    c->started = 1;
    return 0;
}

int vg_server_new(vg_server_t **out, const vg_server_config_t *cfg, char *err, size_t errlen)
{
    vg_server_t *s = vg_calloc(1, sizeof(*s));
    char db[4200];
    int ret;
    if (!s) return VG_ENOMEM;
    s->cfg = cfg;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    if (vg__metrics_new(s) < 0) {
        vg_free(s);
        return VG_ENOMEM;
    }
    if (cfg->metrics_token_file) { /* read once; a scraper sends it as a bearer token */
        char tok[256] = "";
        FILE *f = fopen(cfg->metrics_token_file, "r");
        if (!f || !fgets(tok, sizeof(tok), f) ||
            (tok[strcspn(tok, "\r\n")] = 0, strlen(tok) < 16)) {
            if (f) fclose(f);
            snprintf(err, errlen,
                     "metrics.token_file %s: cannot read a token of 16 characters "
                     "or more from it",
                     cfg->metrics_token_file);
            vg__metrics_free(s);
            vg_free(s);
            return VG_EINVAL;
        }
        fclose(f);
        s->metrics_token = vg_strdup(tok);
    }
    pthread_mutex_init(&s->wlock, NULL);
    pthread_cond_init(&s->wcond, NULL);
    pthread_mutex_init(&s->hlock, NULL);
    pthread_cond_init(&s->hcond, NULL);
    pthread_mutex_init(&s->klock, NULL);
    pthread_cond_init(&s->kcond, NULL);
    pthread_mutex_init(&s->llock, NULL);
    pthread_mutex_init(&s->clip_lock, NULL);
    pthread_cond_init(&s->clip_cond, NULL);
    pthread_mutex_init(&s->alock, NULL);
    snprintf(s->dir_evidence, sizeof(s->dir_evidence), "%s/evidence", cfg->storage);
    snprintf(s->dir_originals, sizeof(s->dir_originals), "%s/originals", cfg->storage);
    vg_server_config_anchors(cfg, s->anchors, sizeof(s->anchors));
    if ((ret = make_dir(cfg->storage, 0750, err, errlen)) < 0 ||
        (ret = make_dir(s->dir_evidence, 0750, err, errlen)) < 0 ||
        (cfg->keep_original && (ret = make_dir(s->dir_originals, 0700, err, errlen)) < 0))
        goto fail;
    if (cfg->audit_key && (ret = load_audit_key(s, err, errlen)) < 0) goto fail;
    vg_server_config_db(cfg, db, sizeof(db));
    if ((ret = vg_store_open(&s->store, db, err, errlen)) < 0) goto fail;
    if (pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
        ret = VG_EIO;
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    s->head = vg_store_feed_head(s->store);
    s->cams = vg_calloc(VG_SERVER_CAM_SLOTS, sizeof(*s->cams));
    if (!s->cams) {
        ret = VG_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < cfg->nb_cameras; i++) cam_init(s, &s->cams[i], &cfg->cameras[i]);
    atomic_store(&s->nb_cams, cfg->nb_cameras);
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
    vg_store_audit_anchor_signed(s->store, s->anchors, s->audit_key);
    if (pthread_create(&s->writer, NULL, vg__writer_main, s) != 0) goto nothread;
    s->writer_started = 1;
    if (vg__clipper_start(s) < 0) goto nothread;
    if ((ret = vg__mqtt_start(s, err, errlen)) < 0) return ret;
    if ((ret = vg__cluster_start(s, err, errlen)) < 0) return ret;
    const vg_server_config_t *cfg0 = s->cfg;
    for (int i = 0; i < s->nb_cams && cfg0->review; i++) {
        vg_cam_t *c = &s->cams[i];
        pthread_mutex_lock(&c->lock);
        snprintf(c->status, sizeof(c->status), "review");
        snprintf(c->message, sizeof(c->message), "not analysed: the server reviews its store");
        pthread_mutex_unlock(&c->lock);
    }
    for (int i = 0; i < s->nb_cams && !vg__cluster_console(s) && !cfg0->review; i++) {
        if (pthread_create(&s->cams[i].th, NULL, vg__cam_main, &s->cams[i]) != 0) goto nothread;
        s->cams[i].started = 1;
    }
    /* the keeper last: it owns reloads, which add and remove cameras */
    if (pthread_create(&s->keeper, NULL, vg__keeper_main, s) != 0) goto nothread;
    s->keeper_started = 1;
    const vg_server_config_t *cfg = s->cfg;
    vg_log(COMP, VG_LOG_INFO, "listening on %s://%s%s%s:%d/ with %d camera%s; storage %s",
           cfg->tls_cert ? "https" : "http", cfg->ipv6 ? "[" : "", cfg->listen_addr,
           cfg->ipv6 ? "]" : "", s->port, s->nb_cams, s->nb_cams == 1 ? "" : "s", cfg->storage);
    if (cfg->insecure && !cfg->tls_cert)
        vg_log(COMP, VG_LOG_WARNING,
               "INSECURE: plain HTTP on %s (insecure: true): passwords, session cookies and "
               "evidence cross the network in clear unless something else encrypts the link",
               cfg->listen_addr);
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

void vg_server_progress(vg_server_t *s, vg_server_progress_t *p)
{
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < atomic_load(&s->nb_cams); i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c)) continue;
        const vg_server_camera_t *cc = c->cfg;
        p->cameras++;
        p->files += cc->nb_footage;
        p->files_done += atomic_load(&c->footage_done);
        pthread_mutex_lock(&c->lock);
        if (!strcmp(c->status, "ended")) p->ended++;
        if (!strcmp(c->status, "failed")) {
            if (!p->failed)
                snprintf(p->failure, sizeof(p->failure), "%s: %s", cc->name, c->message);
            p->failed++;
        }
        p->frames += c->frames;
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_lock(&s->wlock);
    p->busy = s->jcount > 0;
    pthread_mutex_unlock(&s->wlock);
    if (vg__clipper_busy(s)) p->busy = 1;
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
    /* the keeper first: a reload in progress ends before the cameras are stopped */
    if (s->keeper_started) {
        pthread_mutex_lock(&s->klock);
        s->kstop = 1;
        pthread_cond_broadcast(&s->kcond);
        pthread_mutex_unlock(&s->klock);
        pthread_join(s->keeper, NULL);
    }
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        atomic_store(&c->cancel, 1);
        pthread_mutex_lock(&c->lock);
        if (c->pipe) vg_pipeline_stop(c->pipe);
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    for (int i = 0; i < s->nb_cams; i++)
        if (s->cams[i].started) pthread_join(s->cams[i].th, NULL);
    /* the technical alerts still open end too (the keeper, their owner, has stopped) */
    if (s->writer_started) vg__cam_health_end(s);
    if (s->writer_started) {
        pthread_mutex_lock(&s->wlock);
        s->wstop = 1;
        pthread_cond_broadcast(&s->wcond);
        pthread_mutex_unlock(&s->wlock);
        pthread_join(s->writer, NULL);
    }
    vg__clipper_stop(s); /* the cameras have handed over their last clips */
    vg__mqtt_stop(s);    /* after the writer: the last ends go out */
    vg__cluster_stop(s);
    if (s->store && s->writer_started) {
        vg__audit_repeat_flush(s, 1);
        vg_store_audit(s->store, "system", "server_stop", "", NULL);
        vg_store_audit_anchor_signed(s->store, s->anchors, s->audit_key);
    }
    while (s->jhead) {
        vg_job_t *j = s->jhead;
        s->jhead = j->next;
        vg__job_free(j);
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
    pthread_mutex_destroy(&s->clip_lock);
    pthread_cond_destroy(&s->clip_cond);
    pthread_mutex_destroy(&s->alock);
    vg__limiter_free(s);
    vg__audit_repeat_free(s);
    vg__metrics_free(s);
    vg_free(s->metrics_token);
    vg_audit_key_free(&s->audit_key);
    for (int i = 0; i < s->nb_reloaded; i++) vg_server_config_free(&s->reloaded[i]);
    vg_free(s->reloaded);
    vg_free(s);
    *ps = NULL;
}
