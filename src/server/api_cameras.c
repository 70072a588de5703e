/*
 * The cameras' routes: their list and state, stills, scenes (read, saved, applied live or by a
 * restart), the scene as JSON for the console, and each camera's count series (JSON or CSV).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/pipeline.h>
#include <vigie/scene.h>
#include <vigie/version.h>

#include "api.h"
#include "core/sha256.h"

/* A fixture the decisions added, as a zone-like polygon for the console. */
static void add_decision_fixture(void *opaque, const double b[4])
{
    json_t *a = opaque;
    char name[32];
    snprintf(name, sizeof(name), "decision-%zu", json_array_size(a) + 1);
    json_array_append_new(a, json_pack("{s:s,s:[[f,f],[f,f],[f,f],[f,f]]}", "name", name, "polygon",
                                       b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3],
                                       b[0], b[1] + b[3]));
}

/* The input without user:password@ for display. */
static void shown_url(const char *in, char *out, size_t len)
{
    const char *p = strstr(in, "://"), *at = p ? strchr(p + 3, '@') : NULL,
               *slash = p ? strchr(p + 3, '/') : NULL;
    if (p && at && (!slash || at < slash))
        snprintf(out, len, "%.*s***@%s", (int)(p + 3 - in), in, at + 1);
    else
        snprintf(out, len, "%s", in);
}

/* 0 when @next differs from the camera's scene in force only by its settings (then the options
 * may change live, which vg_pipeline_update decides); else why not, in @why. */
static int scene_live_change(vg_cam_t *c, const vg_scene_t *next, char *why, size_t len)
{
    vg_scene_t *cur = NULL;
    char err[512];
    if (vg__server_cam_scene(c, &cur, 0, err, sizeof(err)) < 0) {
        snprintf(why, len, "the scene in force cannot be read");
        return -1;
    }
    char *a = vg__scene_json(cur, NULL), *b = vg__scene_json(next, NULL);
    json_t *ja = a ? json_loads(a, 0, NULL) : NULL, *jb = b ? json_loads(b, 0, NULL) : NULL;
    vg_free(a);
    vg_free(b);
    vg_scene_free(&cur);
    if (!ja || !jb) {
        json_decref(ja);
        json_decref(jb);
        snprintf(why, len, "out of memory");
        return -1;
    }
    /* what changed, besides the camera-wide settings (which may apply live): named */
    static const char *const parts[] = {"camera", "size",     "zones",       "lines",
                                        "masks",  "fixtures", "calibration", NULL};
    size_t n = 0;
    why[0] = 0;
    for (int i = 0; parts[i]; i++) {
        json_t *pa = json_object_get(ja, parts[i]), *pb = json_object_get(jb, parts[i]);
        if ((!pa && !pb) || (pa && pb && json_equal(pa, pb))) continue;
        const char *what = parts[i];
        if (!strcmp(parts[i], "zones") && pa && pb && json_array_size(pa) == json_array_size(pb)) {
            /* the same zones with other settings of their own? */
            json_t *ca = json_deep_copy(pa), *cb = json_deep_copy(pb), *z;
            size_t k;
            json_array_foreach(ca, k, z) json_object_del(z, "settings");
            json_array_foreach(cb, k, z) json_object_del(z, "settings");
            if (json_equal(ca, cb)) what = "a zone's own settings";
            json_decref(ca);
            json_decref(cb);
        }
        n += (size_t)snprintf(why + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", what);
    }
    json_decref(ja);
    json_decref(jb);
    if (!why[0]) return 0;
    if (n < len) snprintf(why + n, len - n, " changed: the camera restarts to apply it");
    return -1;
}

static int count_csv_row(void *opaque, const vg_store_count_row_t *r)
{
    vg_api_text_t *t = opaque;
    const double opt[3] = {r->count_occupancy, r->area, r->density};
    vg__api_text_add(t, "%s,", r->wall);
    vg__api_text_csv_str(t, r->zone);
    vg__api_text_add(t, ",%.2f,%.0f", r->count, r->count_detector);
    for (int m = 0; m < 3; m++)
        isnan(opt[m]) ? vg__api_text_add(t, ",") : vg__api_text_add(t, ",%.3f", opt[m]);
    vg__api_text_add(t, "\n");
    return t->failed ? VG_ENOMEM : 0;
}

static int count_json_row(void *opaque, const vg_store_count_row_t *r)
{
    json_t *o = json_pack("{s:s,s:s,s:f,s:f,s:o,s:o,s:o}", "wall", r->wall, "zone", r->zone,
                          "count", r->count, "count_detector", r->count_detector, "count_occupancy",
                          vg__api_num(r->count_occupancy), "area", vg__api_num(r->area), "density",
                          vg__api_num(r->density));
    return o && json_array_append_new(opaque, o) == 0 ? 0 : VG_ENOMEM;
}

void vg__api_cameras(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                     const vg_route_ctx_t *x)
{
    json_t *arr = json_array();
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c)) continue;
        char url[1024];
        shown_url(c->cfg->input, url, sizeof(url));
        pthread_mutex_lock(&c->lock);
        /* running but no picture for longer than its input.timeout: stalled (its source is
         * still retrying; health.c raises the technical alert on the same rule) */
        const char *status = c->status, *message = c->message;
        char stall[128];
        double quiet = vg__now_mono() - c->last_frame;
        int stalled =
            !strcmp(c->status, "running") && c->last_frame > 0 && quiet > c->stall_after + 1;
        if (stalled) {
            status = "stalled";
            snprintf(stall, sizeof(stall), "no picture for %.0f s (input.timeout %.0f s)", quiet,
                     c->stall_after);
            message = stall;
        }
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:i,s:i}", "name", c->cfg->name,
                      "input", url, "status", status, "message", message, "since", c->since, "fps",
                      stalled ? 0.0 : c->fps, "frames", (json_int_t)c->frames, "dropped",
                      (json_int_t)c->dropped, "events", (json_int_t)c->events, "restarts",
                      (json_int_t)c->restarts, "width", c->in_w, "height", c->in_h);
        /* a cluster: the node that runs it (this one's name on an analysis node) */
        const vg_server_config_t *cfg = atomic_load(&s->cfg);
        if (c->node[0])
            json_object_set_new(o, "node", json_string(c->node));
        else if (cfg->cluster && atomic_load(&c->held))
            json_object_set_new(o, "node", json_string(cfg->cluster->node));
        /* the camera's own motion (camera_motion): how its last frame was taken, and the frames
         * not analysed while it moved or looked away from its scene's view */
        static const char *const views[] = {"fixed", "still", "compensated", "moving", "off view"};
        json_object_set_new(o, "view",
                            json_string(c->view >= 0 && c->view <= 4 ? views[c->view] : "fixed"));
        json_object_set_new(o, "held_frames", json_integer(c->view_held));
        /* the memory its clip ring holds now (pixelated JPEGs; clip.c) */
        json_object_set_new(o, "clip_ring_bytes", json_integer(atomic_load(&c->clip_bytes)));
        json_array_append_new(arr, o);
        pthread_mutex_unlock(&c->lock);
    }
    vg__api_pack(r, 200, arr);
}

void vg__api_still(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    vg_cam_t *c = x->cam;
    vg_snap_t snap;
    uint8_t *jpg;
    size_t len;
    if (vg__cluster_console(s)) { /* a cluster's console: from the node that runs it */
        char why[256];
        if (vg__cluster_still(s, c, &jpg, &len, why, sizeof(why)) < 0) {
            vg__api_error(r, 503, "%s", why);
            return;
        }
        vg__api_jpeg(r, jpg, len);
        return;
    }
    pthread_mutex_lock(&c->lock);
    int have = c->still.frame != NULL, ret = have ? vg__snap_copy(&snap, &c->still) : 0;
    pthread_mutex_unlock(&c->lock);
    if (!have || ret < 0) {
        vg__api_error(r, 503, "camera '%s' has no picture yet (%s)", c->cfg->name, c->status);
        return;
    }
    ret = vg__server_snap_jpeg(s, &snap, 1, &jpg, &len);
    vg__snap_clear(&snap);
    if (ret < 0) {
        vg__api_error(r, 500, "cannot encode the picture: %s", vg_strerror(ret));
        return;
    }
    vg__api_jpeg(r, jpg, len);
}

void vg__api_scene(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    vg_cam_t *c = x->cam;
    if (!strcmp(q->method, "GET")) {
        char *yaml = NULL;
        if (vg_store_scene_get(s->store, c->cfg->name, &yaml) < 0 && c->cfg->scene[0]) {
            uint8_t *text;
            size_t len;
            if (vg_file_read(c->cfg->scene, 16u << 20, &text, &len) == 0) yaml = (char *)text;
        }
        vg__api_set_body(r, 200, "application/yaml", yaml ? yaml : vg_strdup(""),
                         yaml ? strlen(yaml) : 0);
        return;
    }
    /* PUT: the body is the new scene (YAML), checked as the scene parser and options check. */
    char err[1024] = "", *text = vg_malloc(q->body_len + 1), name[128];
    vg_scene_t *scene = NULL;
    if (!text) {
        vg__api_error(r, 500, "out of memory");
        return;
    }
    memcpy(text, q->body ? q->body : "", q->body_len);
    text[q->body_len] = 0;
    snprintf(name, sizeof(name), "scene of '%s'", c->cfg->name);
    int ret = strlen(text) != q->body_len
                  ? VG_ESYNTAX
                  : vg_scene_parse(&scene, text, q->body_len, name, err, sizeof(err));
    if (ret == 0) ret = vg_settings_validate(scene->settings, vg_option_groups(), err, sizeof(err));
    for (int z = 0; ret == 0 && z < scene->nb_zones; z++)
        ret = vg_settings_validate(scene->zones[z].settings, vg_option_groups(), err, sizeof(err));
    pthread_mutex_lock(&c->lock);
    int in_w = c->in_w, in_h = c->in_h;
    pthread_mutex_unlock(&c->lock);
    if (ret == 0) ret = vg__server_cam_memory(c, scene, in_w, in_h, 0, err, sizeof(err));
    if (ret == 0 && scene->width && in_w && (scene->width != in_w || scene->height != in_h)) {
        snprintf(err, sizeof(err), "%s: drawn for %dx%d but the camera gives %dx%d", name,
                 scene->width, scene->height, in_w, in_h);
        ret = VG_ESYNTAX;
    }
    if (ret < 0) {
        vg_scene_free(&scene);
        vg__api_error(r, 400, "%s", err[0] ? err : "the scene is not valid text");
        vg__api_refused(s, q, &x->ses, "scene_rejected",
                        err[0] ? err : "the scene is not valid text");
        vg_free(text);
        return;
    }
    /* Live when only camera-wide options flagged live changed; else the camera restarts. */
    char why[512] = "";
    int live = scene_live_change(c, scene, why, sizeof(why)) == 0;
    if (vg_store_scene_put(s->store, c->cfg->name, text, x->ses.user) < 0) {
        vg_scene_free(&scene);
        vg__api_error(r, 503, "cannot save the scene: the store is unavailable");
        vg_free(text);
        return;
    }
    vg__cluster_scene_changed(s, c->cfg->name); /* a cluster's console: to the node running it */
    if (live) {
        vg_settings_t *all = NULL;
        live = vg_settings_new(&all) == 0 && vg_settings_merge(all, scene->settings) == 0 &&
               vg_settings_merge(all, c->cfg->settings) == 0;
        pthread_mutex_lock(&c->lock);
        if (live && !c->pipe)
            snprintf(why, sizeof(why), "the camera is not running: it starts with the new scene");
        live = live && c->pipe && vg_pipeline_update(c->pipe, all, why, sizeof(why)) == 0;
        pthread_mutex_unlock(&c->lock);
        vg_settings_free(&all);
    }
    vg_scene_free(&scene);
    char sha[65];
    vg__sha256_hex(text, q->body_len, sha);
    vg__api_audit(s, x->ses.user, "scene_change", c->cfg->name,
                  json_pack("{s:s,s:I,s:s,s:s}", "sha256", sha, "bytes", (json_int_t)q->body_len,
                            "applied", live ? "live" : "restart", "why", why));
    vg_free(text);
    if (!live) vg__server_cam_restart(c);
    vg__api_pack(r, 200,
                 json_pack("{s:b,s:s,s:s}", "ok", 1, "applied", live ? "live" : "restart", "why",
                           live ? "" : why));
}

void vg__api_scene_json(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                        const vg_route_ctx_t *x)
{
    vg_cam_t *c = x->cam;
    vg_scene_t *scene = NULL;
    char err[1024];
    if (vg__server_cam_scene(c, &scene, 0, err, sizeof(err)) < 0) {
        vg__api_error(r, 409, "the camera's scene cannot be read: %s", err);
        return;
    }
    json_t *fx = json_array();
    vg_store_fixtures(s->store, c->cfg->name, add_decision_fixture, fx);
    json_t *extra = json_pack("{s:o}", "decision_fixtures", fx);
    vg__api_reply_json(r, 200, vg__scene_json(scene, extra));
    json_decref(extra);
    vg_scene_free(&scene);
}

/* A camera's count series (density stage): operators and supervisors follow a crowd, auditors
 * check the statistics; anonymous aggregates, not evidence. The CSV export is audited. */
void vg__api_counts(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x)
{
    vg_cam_t *c = x->cam;
    int csv = x->variant;
    const char *from = q->query(q->opaque, "from"), *to = q->query(q->opaque, "to");
    const char *zone = q->query(q->opaque, "zone"), *lim = q->query(q->opaque, "limit");
    if (!vg__api_iso_time_ok(from) || !vg__api_iso_time_ok(to)) {
        vg__api_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    int limit = csv ? 100000 : 2000;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || v < 1 || v > 100000) {
            vg__api_error(r, 400, "limit: a number of samples from 1 to 100000");
            return;
        }
        limit = (int)v;
    }
    if (zone && strlen(zone) >= VG_EVENT_NAME_MAX) {
        vg__api_error(r, 400, "zone: a zone name (at most 63 characters)");
        return;
    }
    if (!csv) {
        json_t *arr = json_array();
        int ret = arr ? vg_store_counts(s->store, c->cfg->name, zone, from, to, limit,
                                        count_json_row, arr)
                      : VG_ENOMEM;
        if (ret < 0)
            vg__api_store_error(r, ret);
        else
            vg__api_pack(r, 200, json_incref(arr));
        json_decref(arr);
        return;
    }
    char target[128];
    vg_api_text_t out = {0};
    vg__api_text_add(&out, "wall,zone,count,count_detector,count_occupancy,area_m2,density\n");
    int ret = vg_store_counts(s->store, c->cfg->name, zone, from, to, limit, count_csv_row, &out);
    if (ret < 0 || out.failed) {
        vg_free(out.p);
        vg__api_store_error(r, out.failed ? VG_ENOMEM : ret);
        return;
    }
    snprintf(target, sizeof(target), "cameras/%s", c->cfg->name);
    vg__api_audit(s, x->ses.user, "counts_export", target,
                  json_pack("{s:s?,s:s?,s:s?}", "zone", zone, "from", from, "to", to));
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-counts-%s.csv\"",
             c->cfg->name);
    vg__api_set_body(r, 200, "text/csv; charset=utf-8", out.p, out.n);
}
