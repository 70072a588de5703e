/*
 * The HTTP API of `vigie serve` (docs/server.md), on libmicrohttpd.
 *
 * Two layers: the MHD glue (a thread per connection, body collection with a size limit, the live
 * stream as a blocking content reader), and vg__http_handle(), which sees a request reduced to
 * method, path, query/header/cookie lookups and body, and fills a response. The second layer is
 * what the fuzz target drives.
 *
 * Security:
 * - Sessions: cookie `vigie_session` (HttpOnly, SameSite=Strict, Path=/), 64 hex characters; the
 *   store keeps its SHA-256. A session lasts security.session_hours.
 * - CSRF: every POST/PUT needs the header X-CSRF-Token equal to the session's token (returned
 *   by login and /api/me). A cross-site form cannot set a header; a cross-site script cannot read
 *   the token. Login itself needs Content-Type: application/json, which a form cannot send.
 * - Login limiter: security.login_failures failures for one name (four times as many from one
 *   address) within security.login_lockout seconds lock that name (address) out for that long
 *   (429, with Retry-After); failures and refusals are audited.
 * - Roles: operator (live events, blurred evidence, decisions), supervisor (the same, plus scenes,
 *   fixtures, statistics and unblurred evidence with a reason where the config allows it), auditor
 *   (audit trail, its verification, statistics; no events or evidence), admin (users).
 * - Bodies over security.body_limit: 413, read and dropped. Evidence names must be 32 hex digits
 *   and ".jpg", and must be known to the store, before any file is opened.
 * - Everything that reads personal data or changes anything is audited with the user.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/scene.h>
#include <vigie/version.h>

#include "core/sha256.h"
#include "server_priv.h"
#include "web_assets.h"

#define COMP "http"

#define R_OP  (1u << VG_ROLE_OPERATOR)
#define R_SUP (1u << VG_ROLE_SUPERVISOR)
#define R_AUD (1u << VG_ROLE_AUDITOR)
#define R_ADM (1u << VG_ROLE_ADMIN)
#define R_ANY (R_OP | R_SUP | R_AUD | R_ADM)

typedef struct session {
    char user[65];
    int role;
    char csrf[65];
    char token[65];
} session_t;

/* ---- responses ---- */

static void set_body(vg_http_resp_t *r, int status, const char *type, char *body, size_t len)
{
    vg_free(r->body);
    r->status = status;
    r->type = type;
    r->body = (uint8_t *)body;
    r->len = len;
}

static void reply_json(vg_http_resp_t *r, int status, char *json)
{
    if (!json) {
        set_body(r, 500, "application/json", vg_strdup("{\"error\":\"out of memory\"}"), 25);
        return;
    }
    set_body(r, status, "application/json", json, strlen(json));
}

static void reply_error(vg_http_resp_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(vg_http_resp_t *r, int status, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:i}", "error", msg, "status", status);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    reply_json(r, status, txt ? vg_strdup(txt) : NULL);
    free(txt);
}

static void reply_pack(vg_http_resp_t *r, int status, json_t *o)
{
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    reply_json(r, status, txt ? vg_strdup(txt) : NULL);
    free(txt);
}

void vg__http_resp_free(vg_http_resp_t *r)
{
    vg_free(r->body);
    r->body = NULL;
}

/* ---- request helpers ---- */

static int64_t parse_id(const char *s)
{
    int64_t v = 0;
    if (!s || !*s || strlen(s) > 15) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v > 0 ? v : -1;
}

static int valid_evidence_name(const char *s)
{
    if (!s || strlen(s) != 36 || strcmp(s + 32, ".jpg")) return 0;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int same_token(const char *a, const char *b)
{
    size_t n = strlen(b);
    unsigned d = 0;
    if (!a || strlen(a) != n) return 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)a[i] ^ (unsigned char)b[i];
    return d == 0;
}

static json_t *body_json(const vg_http_req_t *q, vg_http_resp_t *r)
{
    const char *ct = q->header(q->opaque, "Content-Type");
    json_error_t je;
    if (!ct || strncmp(ct, "application/json", 16)) {
        reply_error(r, 415, "send the body as JSON with Content-Type: application/json");
        return NULL;
    }
    json_t *j = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        reply_error(r, 400, "the body is not a JSON object: %s (line %d, column %d)",
                    j ? "another JSON value" : je.text, je.line, je.column);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A string member of @o, at most @max bytes; NULL (and 400) when missing or wrong. */
static const char *member_str(json_t *o, const char *key, size_t max, int required,
                              vg_http_resp_t *r)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) reply_error(r, 400, "'%s' is missing", key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        reply_error(r, 400, "'%s' must be a string of at most %zu characters", key, max);
        return NULL;
    }
    return json_string_value(v);
}

static void audit(vg_server_t *s, const char *actor, const char *action, const char *target,
                  json_t *details)
{
    char *txt = details ? json_dumps(details, JSON_COMPACT) : NULL;
    json_decref(details);
    vg_store_audit(s->store, actor, action, target ? target : "", txt);
    free(txt);
}

static int get_session(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, session_t *ses,
                       unsigned roles)
{
    const char *tok = q->cookie(q->opaque, "vigie_session");
    if (!tok || vg_store_session_get(s->store, tok, ses->user, &ses->role, ses->csrf) < 0) {
        reply_error(r, 401, "log in first (POST /api/login)");
        return -1;
    }
    snprintf(ses->token, sizeof(ses->token), "%s", tok);
    if (!(roles & (1u << ses->role))) {
        reply_error(r, 403, "the role %s may not do this", vg_role_name(ses->role));
        return -1;
    }
    if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD") &&
        !same_token(q->header(q->opaque, "X-CSRF-Token"), ses->csrf)) {
        reply_error(r, 403, "missing or wrong X-CSRF-Token header (it comes with the login)");
        return -1;
    }
    return 0;
}

/* ---- login limiter ---- */

static vg_limiter_entry_t *limiter_find(vg_server_t *s, const char *key, int create)
{
    vg_limiter_entry_t *free_e = NULL, *oldest = NULL;
    for (int i = 0; i < 256; i++) {
        vg_limiter_entry_t *e = &s->limiter[i];
        if (!strcmp(e->key, key)) return e;
        if (!e->key[0] && !free_e) free_e = e;
        if (!oldest || e->first < oldest->first) oldest = e;
    }
    if (!create) return NULL;
    vg_limiter_entry_t *e = free_e ? free_e : oldest;
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    return e;
}

static double limiter_locked(vg_server_t *s, const char *key, double now)
{
    double left = 0;
    pthread_mutex_lock(&s->llock);
    vg_limiter_entry_t *e = limiter_find(s, key, 0);
    if (e && e->locked_until > now) left = e->locked_until - now;
    pthread_mutex_unlock(&s->llock);
    return left;
}

/* Count a failure; returns 1 when it starts a lockout. An address gets four times a name's
 * allowance: one control room behind one address must not lock its colleagues out. */
static int limiter_fail(vg_server_t *s, const char *key, double now)
{
    int allowed = s->cfg->login_failures * (strncmp(key, "ip:", 3) ? 1 : 4);
    int locked = 0;
    pthread_mutex_lock(&s->llock);
    vg_limiter_entry_t *e = limiter_find(s, key, 1);
    if (now - e->first > s->cfg->login_lockout) {
        e->first = now;
        e->failures = 0;
    }
    if (++e->failures >= allowed) {
        e->locked_until = now + s->cfg->login_lockout;
        e->failures = 0;
        e->first = now;
        locked = 1;
    }
    pthread_mutex_unlock(&s->llock);
    return locked;
}

static void limiter_clear(vg_server_t *s, const char *key)
{
    pthread_mutex_lock(&s->llock);
    vg_limiter_entry_t *e = limiter_find(s, key, 0);
    if (e) memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&s->llock);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- handlers ---- */

static void h_login(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    json_t *b = body_json(q, r);
    const char *user, *pw;
    char kip[80], kuser[80], token[65], csrf[65];
    double now = wall_now(), left;
    if (!b) return;
    user = member_str(b, "user", 64, 1, r);
    pw = user ? member_str(b, "password", 1024, 1, r) : NULL;
    if (!user || !pw) {
        json_decref(b);
        return;
    }
    snprintf(kip, sizeof(kip), "ip:%s", q->client);
    snprintf(kuser, sizeof(kuser), "user:%.64s", user);
    left = fmax(limiter_locked(s, kip, now), limiter_locked(s, kuser, now));
    if (left > 0) {
        snprintf(r->retry_after, sizeof(r->retry_after), "%.0f", ceil(left));
        reply_error(r, 429, "too many failed logins: try again in %.0f s", ceil(left));
        audit(s, user, "login_refused", "",
              json_pack("{s:s,s:s}", "from", q->client, "why", "locked out after failed logins"));
        json_decref(b);
        return;
    }
    int role = vg_store_user_check(s->store, user, pw);
    if (role < 0) {
        int l1 = limiter_fail(s, kip, now), l2 = limiter_fail(s, kuser, now);
        audit(s, user, "login_failed", "",
              json_pack("{s:s,s:b}", "from", q->client, "lockout", l1 || l2));
        reply_error(r, 401, "wrong user name or password");
        json_decref(b);
        return;
    }
    limiter_clear(s, kip);
    limiter_clear(s, kuser);
    if (vg_store_session_new(s->store, user, (int)(s->cfg->session_hours * 3600), token, csrf) <
        0) {
        reply_error(r, 503, "cannot open a session: the store is unavailable");
        json_decref(b);
        return;
    }
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             "vigie_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d", token,
             (int)(s->cfg->session_hours * 3600));
    audit(s, user, "login", "",
          json_pack("{s:s,s:s}", "from", q->client, "role", vg_role_name(role)));
    reply_pack(r, 200,
               json_pack("{s:s,s:s,s:s}", "user", user, "role", vg_role_name(role), "csrf", csrf));
    json_decref(b);
}

static void h_logout(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_ANY) < 0) return;
    vg_store_session_end(s->store, ses.token);
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             "vigie_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    audit(s, ses.user, "logout", "", NULL);
    reply_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_me(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_ANY) < 0) return;
    reply_pack(r, 200,
               json_pack("{s:s,s:s,s:s,s:s}", "user", ses.user, "role", vg_role_name(ses.role),
                         "csrf", ses.csrf, "version", VG_VERSION_STRING));
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

static void h_cameras(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_ANY) < 0) return;
    json_t *arr = json_array();
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        char url[1024];
        shown_url(c->cfg->input, url, sizeof(url));
        pthread_mutex_lock(&c->lock);
        json_array_append_new(
            arr,
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:i,s:i}", "name", c->cfg->name,
                      "input", url, "status", c->status, "message", c->message, "since", c->since,
                      "fps", c->fps, "frames", (json_int_t)c->frames, "dropped",
                      (json_int_t)c->dropped, "events", (json_int_t)c->events, "restarts",
                      (json_int_t)c->restarts, "width", c->in_w, "height", c->in_h));
        pthread_mutex_unlock(&c->lock);
    }
    reply_pack(r, 200, arr);
}

static void reply_jpeg(vg_http_resp_t *r, uint8_t *jpg, size_t len)
{
    set_body(r, 200, "image/jpeg", (char *)jpg, len);
}

static void h_still(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, vg_cam_t *c)
{
    session_t ses;
    vg_snap_t snap;
    uint8_t *jpg;
    size_t len;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    pthread_mutex_lock(&c->lock);
    int have = c->still.frame != NULL, ret = have ? vg__snap_copy(&snap, &c->still) : 0;
    pthread_mutex_unlock(&c->lock);
    if (!have || ret < 0) {
        reply_error(r, 503, "camera '%s' has no picture yet (%s)", c->cfg->name, c->status);
        return;
    }
    ret = vg__server_snap_jpeg(s, &snap, 1, &jpg, &len);
    vg__snap_clear(&snap);
    if (ret < 0) {
        reply_error(r, 500, "cannot encode the picture: %s", vg_strerror(ret));
        return;
    }
    reply_jpeg(r, jpg, len);
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
    json_t *strip = json_pack("{s:n}", "settings");
    char *a = vg__scene_json(cur, strip), *b = vg__scene_json(next, strip);
    json_decref(strip);
    int same = a && b && !strcmp(a, b);
    vg_free(a);
    vg_free(b);
    vg_scene_free(&cur);
    if (!same) snprintf(why, len, "zones, lines, masks, fixtures or calibration changed");
    return same ? 0 : -1;
}

static void h_scene(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, vg_cam_t *c)
{
    session_t ses;
    if (!strcmp(q->method, "GET")) {
        char *yaml = NULL;
        if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
        if (vg_store_scene_get(s->store, c->cfg->name, &yaml) < 0 && c->cfg->scene[0]) {
            uint8_t *text;
            size_t len;
            if (vg_file_read(c->cfg->scene, 16u << 20, &text, &len) == 0) yaml = (char *)text;
        }
        set_body(r, 200, "application/yaml", yaml ? yaml : vg_strdup(""), yaml ? strlen(yaml) : 0);
        return;
    }
    if (get_session(s, q, r, &ses, R_SUP) < 0) return;
    /* PUT: the body is the new scene (YAML), checked as the scene parser and options check. */
    char err[1024] = "", *text = vg_malloc(q->body_len + 1), name[128];
    vg_scene_t *scene = NULL;
    if (!text) {
        reply_error(r, 500, "out of memory");
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
    if (ret == 0 && scene->width && in_w && (scene->width != in_w || scene->height != in_h)) {
        snprintf(err, sizeof(err), "%s: drawn for %dx%d but the camera gives %dx%d", name,
                 scene->width, scene->height, in_w, in_h);
        ret = VG_ESYNTAX;
    }
    if (ret < 0) {
        vg_scene_free(&scene);
        reply_error(r, 400, "%s", err[0] ? err : "the scene is not valid text");
        vg_free(text);
        return;
    }
    /* Live when only camera-wide options flagged live changed; else the camera restarts. */
    char why[512] = "";
    int live = scene_live_change(c, scene, why, sizeof(why)) == 0;
    if (vg_store_scene_put(s->store, c->cfg->name, text, ses.user) < 0) {
        vg_scene_free(&scene);
        reply_error(r, 503, "cannot save the scene: the store is unavailable");
        vg_free(text);
        return;
    }
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
    audit(s, ses.user, "scene_change", c->cfg->name,
          json_pack("{s:s,s:I,s:s,s:s}", "sha256", sha, "bytes", (json_int_t)q->body_len, "applied",
                    live ? "live" : "restart", "why", why));
    vg_free(text);
    if (!live) vg__server_cam_restart(c);
    reply_pack(r, 200,
               json_pack("{s:b,s:s,s:s}", "ok", 1, "applied", live ? "live" : "restart", "why",
                         live ? "" : why));
}

static void h_events(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    char *json = NULL;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    const char *cam = q->query(q->opaque, "camera"), *type = q->query(q->opaque, "type"),
               *lim = q->query(q->opaque, "limit");
    int limit = 100;
    if (type && vg_event_type_from_name(type) < 0) {
        reply_error(r, 400, "type '%.64s' is not an event type", type);
        return;
    }
    if (lim) {
        int64_t v = parse_id(lim);
        if (v < 1 || v > 1000) {
            reply_error(r, 400, "limit: use 1 to 1000");
            return;
        }
        limit = (int)v;
    }
    if (vg_store_events_json(s->store, 0, cam, type, limit, &json) < 0) {
        reply_error(r, 503, "the store is unavailable");
        return;
    }
    reply_json(r, 200, json);
}

static void h_event(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, int64_t id)
{
    session_t ses;
    char *json = NULL;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    int ret = vg_store_events_json(s->store, id, NULL, NULL, 1, &json);
    if (ret == VG_ENOENT)
        reply_error(r, 404, "no event %lld", (long long)id);
    else if (ret < 0)
        reply_error(r, 503, "the store is unavailable");
    else
        reply_json(r, 200, json);
}

static void h_ack(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, int64_t id)
{
    session_t ses;
    char target[32];
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    snprintf(target, sizeof(target), "event/%lld", (long long)id);
    int ret = vg_store_event_ack(s->store, id, ses.user);
    if (ret == VG_ENOENT) {
        reply_error(r, 404, "no event %lld", (long long)id);
        return;
    }
    if (ret == VG_EBUSY) {
        reply_error(r, 409, "event %lld was already acknowledged", (long long)id);
        return;
    }
    if (ret < 0) {
        reply_error(r, 503, "the store is unavailable");
        return;
    }
    audit(s, ses.user, "event_ack", target, NULL);
    reply_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, int64_t id)
{
    session_t ses;
    char target[32], camera[64], type[64];
    double box[4];
    int has_box = 0, reason = -1;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    json_t *b = body_json(q, r);
    if (!b) return;
    const char *qual = member_str(b, "qualification", 32, 1, r);
    const char *rs = qual ? member_str(b, "reason", 32, 0, r) : NULL;
    const char *note = qual && r->status != 400 ? member_str(b, "note", 2000, 0, r) : NULL;
    if (!qual || r->status == 400) {
        json_decref(b);
        return;
    }
    int qv = vg_qualification_from_name(qual);
    if (qv < 0) {
        reply_error(r, 400, "qualification: use confirmed, false_alert or not_relevant");
        json_decref(b);
        return;
    }
    if (qv == VG_QUAL_FALSE_ALERT) {
        reason = vg_false_reason_from_name(rs);
        if (reason < 0) {
            reply_error(r, 400,
                        "a false_alert needs a reason: person_not_object, fixture, "
                        "reflection_or_light, weather or other");
            json_decref(b);
            return;
        }
    } else if (rs) {
        reply_error(r, 400, "a reason goes with false_alert only");
        json_decref(b);
        return;
    }
    snprintf(target, sizeof(target), "event/%lld", (long long)id);
    int ret = vg_store_event_qualify(s->store, id, ses.user, qv, reason, note);
    if (ret == VG_ENOENT)
        reply_error(r, 404, "no event %lld", (long long)id);
    else if (ret == VG_EAGAIN)
        reply_error(r, 409, "acknowledge event %lld first", (long long)id);
    else if (ret < 0)
        reply_error(r, 503, "the store is unavailable");
    if (ret < 0) {
        json_decref(b);
        return;
    }
    audit(s, ses.user, "event_decision", target,
          json_pack("{s:s,s:s?,s:s}", "qualification", qual, "reason",
                    reason >= 0 ? vg_false_reason_name(reason) : NULL, "note", note ? note : ""));
    /* A fixture taken for an abandoned object: the place becomes a fixture of the camera. */
    int fixture = 0;
    if (reason == VG_FALSE_FIXTURE &&
        vg_store_event_info(s->store, id, camera, type, box, &has_box) == 0 && has_box &&
        !strcmp(type, "abandoned_object")) {
        if (vg_store_fixture_add(s->store, camera, box, id, ses.user) == 0) {
            fixture = 1;
            audit(s, ses.user, "fixture_add", camera,
                  json_pack("{s:I,s:[f,f,f,f]}", "event", (json_int_t)id, "box", box[0], box[1],
                            box[2], box[3]));
            vg_cam_t *c = vg__server_cam(s, camera);
            if (c) vg__server_cam_restart(c);
        }
    }
    reply_pack(r, 200, json_pack("{s:b,s:b}", "ok", 1, "fixture_added", fixture));
    json_decref(b);
}

static void h_evidence(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const char *name,
                       int original)
{
    session_t ses;
    int64_t event;
    char kind[16], path[4200], target[64];
    uint8_t *data;
    size_t len;
    const char *reason = NULL;
    json_t *b = NULL;
    if (get_session(s, q, r, &ses, original ? R_SUP | R_ADM : R_OP | R_SUP) < 0) return;
    if (!valid_evidence_name(name)) {
        reply_error(r, 400, "not an evidence name (32 hexadecimal digits and .jpg)");
        return;
    }
    if (original) {
        if (!s->cfg->keep_original || !(s->cfg->original_roles & (1u << ses.role))) {
            reply_error(r, 403, "unblurred evidence is not available to the role %s here",
                        vg_role_name(ses.role));
            return;
        }
        b = body_json(q, r);
        if (!b) return;
        reason = member_str(b, "reason", 500, 1, r);
        if (!reason || strlen(reason) < 3) {
            if (reason) reply_error(r, 400, "say why the unblurred picture is needed (reason)");
            json_decref(b);
            return;
        }
    }
    if (vg_store_evidence_find(s->store, name, &event, kind) < 0) {
        reply_error(r, 404, "no evidence called %s (purged after its retention, or never)", name);
        json_decref(b);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", original ? s->dir_originals : s->dir_evidence, name);
    if (vg_file_read(path, 64u << 20, &data, &len) < 0) {
        reply_error(r, 404, "the picture %s is no longer on disk", name);
        json_decref(b);
        return;
    }
    snprintf(target, sizeof(target), "evidence/%s", name);
    audit(s, ses.user, original ? "evidence_view_original" : "evidence_view", target,
          original ? json_pack("{s:I,s:s}", "event", (json_int_t)event, "reason", reason)
                   : json_pack("{s:I}", "event", (json_int_t)event));
    reply_jpeg(r, data, len);
    json_decref(b);
}

/* NULL (not given) or a time as the store writes them: digits, '-', ':', '.', 'T', 'Z'. */
static int iso_time_ok(const char *t)
{
    return !t || (strlen(t) <= 30 && strspn(t, "0123456789-:.TZ") == strlen(t));
}

static void h_stats(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, int csv)
{
    session_t ses;
    char *json = NULL;
    if (get_session(s, q, r, &ses, R_SUP | R_AUD) < 0) return;
    const char *from = q->query(q->opaque, "from"), *to = q->query(q->opaque, "to");
    if (!iso_time_ok(from) || !iso_time_ok(to)) {
        reply_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    if (vg_store_stats_json(s->store, from, to, &json) < 0) {
        reply_error(r, 503, "the store is unavailable");
        return;
    }
    if (!csv) {
        reply_json(r, 200, json);
        return;
    }
    json_t *arr = json_loads(json, 0, NULL), *o;
    size_t i, cap = 256 + json_array_size(arr) * 256, n = 0;
    char *out = vg_malloc(cap);
    vg_free(json);
    if (!arr || !out) {
        json_decref(arr);
        vg_free(out);
        reply_error(r, 500, "out of memory");
        return;
    }
    n += snprintf(out + n, cap - n,
                  "camera,type,alerts,acknowledged,confirmed,false_alerts,not_relevant,"
                  "confirmed_rate,camera_hours,false_alerts_per_camera_hour,median_decide_s\n");
    json_array_foreach(arr, i, o)
    {
        json_t *cr = json_object_get(o, "confirmed_rate"),
               *fph = json_object_get(o, "false_alerts_per_camera_hour"),
               *md = json_object_get(o, "median_decide_s");
        char a[32] = "", b2[32] = "", c2[32] = "";
        if (json_is_number(cr)) snprintf(a, sizeof(a), "%.4f", json_number_value(cr));
        if (json_is_number(fph)) snprintf(b2, sizeof(b2), "%.4f", json_number_value(fph));
        if (json_is_number(md)) snprintf(c2, sizeof(c2), "%.1f", json_number_value(md));
        n += snprintf(out + n, cap - n, "%s,%s,%lld,%lld,%lld,%lld,%lld,%s,%.4f,%s,%s\n",
                      json_string_value(json_object_get(o, "camera")),
                      json_string_value(json_object_get(o, "type")),
                      (long long)json_integer_value(json_object_get(o, "alerts")),
                      (long long)json_integer_value(json_object_get(o, "acknowledged")),
                      (long long)json_integer_value(json_object_get(o, "confirmed")),
                      (long long)json_integer_value(json_object_get(o, "false_alerts")),
                      (long long)json_integer_value(json_object_get(o, "not_relevant")), a,
                      json_number_value(json_object_get(o, "camera_hours")), b2, c2);
        if (n >= cap) n = cap - 1;
    }
    json_decref(arr);
    audit(s, ses.user, "stats_export", "", json_pack("{s:s?,s:s?}", "from", from, "to", to));
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-stats.csv\"");
    set_body(r, 200, "text/csv; charset=utf-8", out, n);
}

static void h_audit(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, int verify)
{
    session_t ses;
    char *json = NULL;
    if (get_session(s, q, r, &ses, R_AUD) < 0) return;
    if (verify) {
        vg_audit_report_t rep;
        if (vg_store_audit_verify(s->store, s->anchors, &rep) < 0) {
            reply_error(r, 503, "the store is unavailable");
            return;
        }
        audit(s, ses.user, "audit_verify", "",
              json_pack("{s:b,s:I}", "ok", rep.ok, "rows", (json_int_t)rep.rows));
        reply_pack(r, 200,
                   json_pack("{s:b,s:I,s:I,s:I,s:s}", "ok", rep.ok, "rows", (json_int_t)rep.rows,
                             "head", (json_int_t)rep.head, "bad_row", (json_int_t)rep.bad_seq,
                             "what", rep.what));
        return;
    }
    const char *after = q->query(q->opaque, "after"), *lim = q->query(q->opaque, "limit");
    int64_t a = after ? parse_id(after) : 0, l = lim ? parse_id(lim) : 200;
    if ((after && a < 0 && strcmp(after, "0")) || l < 1 || l > 5000) {
        reply_error(r, 400, "after: a row number; limit: 1 to 5000");
        return;
    }
    if (vg_store_audit_json(s->store, a < 0 ? 0 : a, q->query(q->opaque, "actor"),
                            q->query(q->opaque, "action"), (int)l, &json) < 0) {
        reply_error(r, 503, "the store is unavailable");
        return;
    }
    audit(s, ses.user, "audit_view", "", NULL);
    reply_json(r, 200, json);
}

static void h_users(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    char *json = NULL, err[256];
    if (get_session(s, q, r, &ses, R_ADM) < 0) return;
    if (!strcmp(q->method, "GET")) {
        if (vg_store_users_json(s->store, &json) < 0)
            reply_error(r, 503, "the store is unavailable");
        else
            reply_json(r, 200, json);
        return;
    }
    json_t *b = body_json(q, r);
    if (!b) return;
    const char *name = member_str(b, "name", 64, 1, r);
    const char *role = name ? member_str(b, "role", 16, 1, r) : NULL;
    const char *pw = role ? member_str(b, "password", 1024, 1, r) : NULL;
    if (pw) {
        int ret = vg_store_user_add(s->store, name, vg_role_from_name(role), pw, err, sizeof(err));
        if (ret < 0)
            reply_error(r, ret == VG_EBUSY ? 409 : 400, "%s", err);
        else {
            audit(s, ses.user, "user_add", name, json_pack("{s:s}", "role", role));
            reply_pack(r, 201, json_pack("{s:b}", "ok", 1));
        }
    }
    json_decref(b);
}

static void h_user_disable(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                           const char *name)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_ADM) < 0) return;
    if (!strcmp(name, ses.user)) {
        reply_error(r, 400, "an admin cannot disable their own account");
        return;
    }
    int ret = vg_store_user_disable(s->store, name, 1);
    if (ret == VG_ENOENT)
        reply_error(r, 404, "no user called %.64s", name);
    else if (ret < 0)
        reply_error(r, 503, "the store is unavailable");
    else {
        audit(s, ses.user, "user_disable", name, NULL);
        reply_pack(r, 200, json_pack("{s:b}", "ok", 1));
    }
}

static void h_stream(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    const char *last = q->header(q->opaque, "Last-Event-ID");
    const char *after = q->query(q->opaque, "after");
    int64_t from = -1;
    if (last && *last) from = parse_id(last);
    if (from < 0 && after) from = strcmp(after, "0") ? parse_id(after) : 0;
    if (from < 0) from = vg_store_feed_head(s->store);
    r->status = 200;
    r->type = "text/event-stream";
    r->stream = 1;
    r->stream_after = from;
}

/* The console's files, embedded in the binary (web/, cmake/embed.cmake). */
static int h_static(const char *path, vg_http_resp_t *r)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (const vg_web_file_t *f = vg__web_files; f->path; f++)
        if (!strcmp(f->path, path)) {
            char *copy = vg_malloc(f->len ? f->len : 1);
            if (!copy) {
                reply_error(r, 500, "out of memory");
                return 1;
            }
            memcpy(copy, f->data, f->len);
            set_body(r, 200, f->type, copy, f->len);
            return 1;
        }
    return 0;
}

static void h_feed_head(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    reply_pack(r, 200, json_pack("{s:I}", "seq", (json_int_t)vg_store_feed_head(s->store)));
}

static void add_decision_fixture(void *opaque, const double b[4])
{
    json_t *a = opaque;
    char name[32];
    snprintf(name, sizeof(name), "decision-%zu", json_array_size(a) + 1);
    json_array_append_new(a, json_pack("{s:s,s:[[f,f],[f,f],[f,f],[f,f]]}", "name", name, "polygon",
                                       b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3],
                                       b[0], b[1] + b[3]));
}

/* @json's count samples as CSV (names quoted), newly allocated into @out/@n; 0 or VG_ENOMEM. */
static int counts_csv(const char *json, char **out, size_t *n)
{
    json_t *arr = json_loads(json, 0, NULL), *o;
    size_t i, cap = 256 + json_array_size(arr) * (2 * VG_EVENT_NAME_MAX + 400), len = 0;
    char *buf = arr ? vg_malloc(cap) : NULL;
    if (!buf) {
        json_decref(arr);
        return VG_ENOMEM;
    }
    len += snprintf(buf, cap, "wall,zone,count,count_detector,count_occupancy,area_m2,density\n");
    json_array_foreach(arr, i, o)
    {
        char zone[2 * VG_EVENT_NAME_MAX + 3], num[3][32];
        const char *z = json_string_value(json_object_get(o, "zone"));
        size_t k = 0;
        zone[k++] = '"';
        for (; z && *z && k < sizeof(zone) - 3; z++) {
            if (*z == '"') zone[k++] = '"';
            zone[k++] = *z;
        }
        zone[k++] = '"';
        zone[k] = 0;
        static const char *const opt[3] = {"count_occupancy", "area", "density"};
        for (int m = 0; m < 3; m++) {
            json_t *v = json_object_get(o, opt[m]);
            num[m][0] = 0;
            if (json_is_number(v)) snprintf(num[m], sizeof(num[m]), "%.3f", json_number_value(v));
        }
        len += snprintf(buf + len, cap - len, "%s,%s,%.2f,%.0f,%s,%s,%s\n",
                        json_string_value(json_object_get(o, "wall")), zone,
                        json_number_value(json_object_get(o, "count")),
                        json_number_value(json_object_get(o, "count_detector")), num[0], num[1],
                        num[2]);
        if (len >= cap) len = cap - 1;
    }
    json_decref(arr);
    *out = buf;
    *n = len;
    return 0;
}

/* A camera's count series (density stage): operators and supervisors follow a crowd, auditors
 * check the statistics; anonymous aggregates, not evidence. The CSV export is audited. */
static void h_counts(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, vg_cam_t *c,
                     int csv)
{
    session_t ses;
    char *json = NULL;
    if (get_session(s, q, r, &ses, R_OP | R_SUP | R_AUD) < 0) return;
    const char *from = q->query(q->opaque, "from"), *to = q->query(q->opaque, "to");
    const char *zone = q->query(q->opaque, "zone"), *lim = q->query(q->opaque, "limit");
    if (!iso_time_ok(from) || !iso_time_ok(to)) {
        reply_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    int limit = csv ? 100000 : 2000;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || v < 1 || v > 100000) {
            reply_error(r, 400, "limit: a number of samples from 1 to 100000");
            return;
        }
        limit = (int)v;
    }
    if (zone && strlen(zone) >= VG_EVENT_NAME_MAX) {
        reply_error(r, 400, "zone: a zone name (at most 63 characters)");
        return;
    }
    if (vg_store_counts_json(s->store, c->cfg->name, zone, from, to, limit, &json) < 0) {
        reply_error(r, 503, "the store is unavailable");
        return;
    }
    if (!csv) {
        reply_json(r, 200, json);
        return;
    }
    char *out = NULL, target[128];
    size_t n = 0;
    int ret = counts_csv(json, &out, &n);
    vg_free(json);
    if (ret < 0) {
        reply_error(r, 500, "out of memory");
        return;
    }
    snprintf(target, sizeof(target), "cameras/%s", c->cfg->name);
    audit(s, ses.user, "counts_export", target,
          json_pack("{s:s?,s:s?,s:s?}", "zone", zone, "from", from, "to", to));
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-counts-%s.csv\"",
             c->cfg->name);
    set_body(r, 200, "text/csv; charset=utf-8", out, n);
}

static void h_scene_json(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, vg_cam_t *c)
{
    session_t ses;
    vg_scene_t *scene = NULL;
    char err[1024];
    if (get_session(s, q, r, &ses, R_OP | R_SUP) < 0) return;
    if (vg__server_cam_scene(c, &scene, 0, err, sizeof(err)) < 0) {
        reply_error(r, 409, "the camera's scene cannot be read: %s", err);
        return;
    }
    json_t *fx = json_array();
    vg_store_fixtures(s->store, c->cfg->name, add_decision_fixture, fx);
    json_t *extra = json_pack("{s:o}", "decision_fixtures", fx);
    reply_json(r, 200, vg__scene_json(scene, extra));
    json_decref(extra);
    vg_scene_free(&scene);
}

/* The option tables, for the scene editor: name, type, default, range, unit, live, help. */
static void h_options(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    session_t ses;
    if (get_session(s, q, r, &ses, R_SUP) < 0) return;
    json_t *arr = json_array();
    const vg_option_group_t *const *groups = vg_option_groups();
    for (int g = 0; groups[g]; g++) {
        json_t *opts = json_array();
        for (const vg_option_t *o = groups[g]->options; o && o->name; o++) {
            char def[128], range[256];
            vg_opt_format_default(o, def, sizeof(def));
            vg_opt_format_range(o, range, sizeof(range));
            json_array_append_new(opts, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:b,s:s}", "name", o->name,
                                                  "type", vg_opt_type_name(o->type), "default", def,
                                                  "range", range, "unit", o->unit, "live",
                                                  !!(o->flags & VG_OPT_LIVE), "help",
                                                  o->help ? o->help : ""));
        }
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:o}", "group", groups[g]->name, "help",
                                        groups[g]->help ? groups[g]->help : "", "options", opts));
    }
    reply_pack(r, 200, arr);
}

/* ---- routing ---- */

static int split(const char *path, char seg[6][80])
{
    int n = 0;
    const char *p = path;
    if (*p != '/') return -1;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == 6 || len >= 80) return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = 0;
        if (!strcmp(seg[n], "..") || !strcmp(seg[n], ".")) return -1;
        n++;
        p += len;
    }
    return n;
}

static int method_ok(const vg_http_req_t *q, vg_http_resp_t *r, const char *allow)
{
    char m[16];
    snprintf(m, sizeof(m), "%s", q->method);
    const char *p = strstr(allow, m);
    size_t n = strlen(m);
    if (n && p && (p == allow || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    snprintf(r->allow, sizeof(r->allow), "%s", allow);
    for (char *c = r->allow; *c; c++)
        if (*c == ' ') *c = ',';
    reply_error(r, 405, "%.16s is not allowed here; use %s", q->method, allow);
    return 0;
}

void vg__http_handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    char seg[6][80];
    int n;
    memset(r, 0, sizeof(*r));
    if (q->body_too_large) {
        reply_error(r, 413, "the body is larger than %d bytes", s->cfg->body_limit);
        return;
    }
    n = split(q->path, seg);
    if (n < 0) {
        reply_error(r, 400, "malformed path");
        return;
    }
    if (n == 0 || (n == 1 && strcmp(seg[0], "api"))) {
        /* the console's files */
        if (!method_ok(q, r, "GET")) return;
        if (h_static(q->path, r)) return;
        goto not_found;
    }
    if (strcmp(seg[0], "api") || n < 2) goto not_found;
    if (n == 2 && !strcmp(seg[1], "options")) {
        if (method_ok(q, r, "GET")) h_options(s, q, r);
        return;
    }
    if (n == 3 && !strcmp(seg[1], "feed") && !strcmp(seg[2], "head")) {
        if (method_ok(q, r, "GET")) h_feed_head(s, q, r);
        return;
    }
    if (n == 2 && !strcmp(seg[1], "health")) {
        if (method_ok(q, r, "GET")) reply_pack(r, 200, json_pack("{s:b}", "ok", 1));
        return;
    }
    if (n == 2 && !strcmp(seg[1], "login")) {
        if (method_ok(q, r, "POST")) h_login(s, q, r);
        return;
    }
    if (n == 2 && !strcmp(seg[1], "logout")) {
        if (method_ok(q, r, "POST")) h_logout(s, q, r);
        return;
    }
    if (n == 2 && !strcmp(seg[1], "me")) {
        if (method_ok(q, r, "GET")) h_me(s, q, r);
        return;
    }
    if (!strcmp(seg[1], "cameras")) {
        if (n == 2) {
            if (method_ok(q, r, "GET")) h_cameras(s, q, r);
            return;
        }
        vg_cam_t *c = vg__server_cam(s, seg[2]);
        if (n != 4 || !c) goto not_found;
        if (!strcmp(seg[3], "still")) {
            if (method_ok(q, r, "GET")) h_still(s, q, r, c);
            return;
        }
        if (!strcmp(seg[3], "scene")) {
            if (method_ok(q, r, "GET PUT")) h_scene(s, q, r, c);
            return;
        }
        if (!strcmp(seg[3], "scene.json")) {
            if (method_ok(q, r, "GET")) h_scene_json(s, q, r, c);
            return;
        }
        if (!strcmp(seg[3], "counts") || !strcmp(seg[3], "counts.csv")) {
            if (method_ok(q, r, "GET")) h_counts(s, q, r, c, !strcmp(seg[3], "counts.csv"));
            return;
        }
        goto not_found;
    }
    if (!strcmp(seg[1], "events")) {
        if (n == 2) {
            if (method_ok(q, r, "GET")) h_events(s, q, r);
            return;
        }
        if (n == 3 && !strcmp(seg[2], "stream")) {
            if (method_ok(q, r, "GET")) h_stream(s, q, r);
            return;
        }
        int64_t id = parse_id(seg[2]);
        if (id < 0) goto not_found;
        if (n == 3) {
            if (method_ok(q, r, "GET")) h_event(s, q, r, id);
            return;
        }
        if (n == 4 && !strcmp(seg[3], "ack")) {
            if (method_ok(q, r, "POST")) h_ack(s, q, r, id);
            return;
        }
        if (n == 4 && !strcmp(seg[3], "decision")) {
            if (method_ok(q, r, "POST")) h_decision(s, q, r, id);
            return;
        }
        goto not_found;
    }
    if (!strcmp(seg[1], "evidence") && (n == 3 || (n == 4 && !strcmp(seg[3], "original")))) {
        if (method_ok(q, r, n == 3 ? "GET" : "POST")) h_evidence(s, q, r, seg[2], n == 4);
        return;
    }
    if (n == 2 && (!strcmp(seg[1], "stats") || !strcmp(seg[1], "stats.csv"))) {
        if (method_ok(q, r, "GET")) h_stats(s, q, r, !strcmp(seg[1], "stats.csv"));
        return;
    }
    if (!strcmp(seg[1], "audit") && (n == 2 || (n == 3 && !strcmp(seg[2], "verify")))) {
        if (method_ok(q, r, "GET")) h_audit(s, q, r, n == 3);
        return;
    }
    if (!strcmp(seg[1], "users")) {
        if (n == 2) {
            if (method_ok(q, r, "GET POST")) h_users(s, q, r);
            return;
        }
        if (n == 4 && !strcmp(seg[3], "disable")) {
            if (method_ok(q, r, "POST")) h_user_disable(s, q, r, seg[2]);
            return;
        }
    }
not_found:
    reply_error(r, 404, "no such resource: %.200s", q->path);
}

/* ---- libmicrohttpd glue ---- */

typedef struct conn {
    char *body;
    size_t len, cap;
    int too_large;
} conn_t;

typedef struct stream {
    vg_server_t *s;
    int64_t last;
    char *out;
    size_t out_len, out_pos;
} stream_t;

static const char *mhd_query(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_GET_ARGUMENT_KIND, k);
}
static const char *mhd_header(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_HEADER_KIND, k);
}
static const char *mhd_cookie(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_COOKIE_KIND, k);
}

static void append_msg(void *opaque, int64_t seq, const char *json)
{
    stream_t *st = opaque;
    size_t need = strlen(json) + 64;
    if (st->out_len + need > st->out_pos + (1u << 20) && st->out_len) return;
    char *nb = vg_realloc(st->out, st->out_len + need);
    if (!nb) return;
    st->out = nb;
    st->out_len +=
        snprintf(st->out + st->out_len, need, "id: %lld\ndata: %s\n\n", (long long)seq, json);
    st->last = seq;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_t *st = cls;
    vg_server_t *s = st->s;
    (void)pos;
    if (st->out_pos >= st->out_len) {
        st->out_len = st->out_pos = 0;
        int64_t head;
        double waited = 0;
        pthread_mutex_lock(&s->hlock);
        while (s->head <= st->last && !atomic_load(&s->stopping) && waited < 15) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->hcond, &s->hlock, &ts);
            waited += 1;
        }
        head = s->head;
        pthread_mutex_unlock(&s->hlock);
        if (atomic_load(&s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
        if (head > st->last) vg_store_feed_read(s->store, st->last, 200, append_msg, st);
        if (st->out_pos >= st->out_len) {
            static const char ka[] = ": keep-alive\n\n";
            vg_free(st->out);
            st->out = vg_strdup(ka);
            if (!st->out) return MHD_CONTENT_READER_END_WITH_ERROR;
            st->out_len = sizeof(ka) - 1;
            st->out_pos = 0;
        }
    }
    size_t n = st->out_len - st->out_pos;
    if (n > max) n = max;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *st = cls;
    vg_free(st->out);
    vg_free(st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    vg_server_t *s = cls;
    conn_t *c = *con_cls;
    (void)version;
    if (!c) {
        c = vg_calloc(1, sizeof(*c));
        if (!c) return MHD_NO;
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!c->too_large && c->len + n > (size_t)s->cfg->body_limit) {
            c->too_large = 1;
            vg_free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
        }
        if (!c->too_large) {
            if (c->len + n + 1 > c->cap) {
                size_t nc = (c->len + n + 1) * 2;
                char *nb = vg_realloc(c->body, nc);
                if (!nb) return MHD_NO;
                c->body = nb;
                c->cap = nc;
            }
            memcpy(c->body + c->len, upload_data, n);
            c->len += n;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    char client[64] = "unknown";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, client,
                  sizeof(client));
    vg_http_req_t q = {method, url,     mhd_query, mhd_header,   mhd_cookie,
                       con,    c->body, c->len,    c->too_large, client};
    vg_http_resp_t r;
    vg__http_handle(s, &q, &r);
    struct MHD_Response *resp;
    if (r.stream) {
        stream_t *st = vg_calloc(1, sizeof(*st));
        if (!st) return MHD_NO;
        st->s = s;
        st->last = r.stream_after;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                 stream_free);
        if (!resp) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else {
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_COPY);
        vg__http_resp_free(&r);
        if (!resp) return MHD_NO;
        if (r.type) MHD_add_response_header(resp, "Content-Type", r.type);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'");
    if (r.set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", r.set_cookie);
    if (r.allow[0]) MHD_add_response_header(resp, "Allow", r.allow);
    if (r.retry_after[0]) MHD_add_response_header(resp, "Retry-After", r.retry_after);
    if (r.disposition[0]) MHD_add_response_header(resp, "Content-Disposition", r.disposition);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_t *c = *con_cls;
    (void)cls;
    (void)con;
    (void)toe;
    if (c) {
        vg_free(c->body);
        vg_free(c);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    vg_log(COMP, VG_LOG_VERBOSE, "%s", msg);
}

int vg__http_start(vg_server_t *s, char *err, size_t errlen)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg->port);
    if (inet_pton(AF_INET, s->cfg->listen_addr, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "%s: listen: '%s' is not an IPv4 address", s->cfg->path,
                 s->cfg->listen_addr);
        return VG_EINVAL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 128u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d: %s (is another server using the port? change listen: "
                 "in %s)",
                 s->cfg->listen_addr, s->cfg->port, strerror(errno), s->cfg->path);
        return VG_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg->port;
    s->mhd = d;
    return 0;
}

void vg__http_stop(vg_server_t *s)
{
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
