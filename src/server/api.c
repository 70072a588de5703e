/*
 * The HTTP API of `vigie serve` (docs/server.md): the route table, the dispatcher, and what every
 * handler shares (responses, request parsing, the session check, the audit). Handlers live in
 * one file per area: api_auth.c, api_cameras.c, api_events.c, api_exports.c, api_users.c,
 * api_audit.c, api_console.c. http.c is the libmicrohttpd glue that calls vg__http_handle().
 *
 * Dispatch: the path is split into at most 6 segments of under 80 bytes each ("." and ".."
 * refused: 400); a path that is not under /api is one of the console's files (GET only); else
 * the route table is searched — a path that matches no route is 404, one that matches only with
 * other methods is 405 with Allow. A route with roles then needs a session of one of them (401,
 * 403), and for anything but GET the X-CSRF-Token header equal to the session's token (a
 * cross-site form cannot set a header; a cross-site script cannot read the token). Bodies over
 * security.body_limit: 413, read and dropped (http.c).
 *
 * Roles: operator (live events, blurred evidence, decisions), supervisor (the same, plus scenes,
 * fixtures, statistics and unblurred evidence with a reason where the config allows it), auditor
 * (audit trail, its verification, statistics; no events or evidence), admin (users) — the table
 * below is the reference, and /api/me tells the console what the role may do from it.
 * Everything that reads personal data or changes anything is audited with the user.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "api.h"

/* ---- responses ---- */

void vg__api_set_body(vg_http_resp_t *r, int status, const char *type, char *body, size_t len)
{
    vg_free(r->body);
    r->status = status;
    r->type = type;
    r->body = (uint8_t *)body;
    r->len = len;
}

void vg__api_reply_json(vg_http_resp_t *r, int status, char *json)
{
    if (!json) {
        vg__api_set_body(r, 500, "application/json", vg_strdup("{\"error\":\"out of memory\"}"),
                         25);
        return;
    }
    vg__api_set_body(r, status, "application/json", json, strlen(json));
}

void vg__api_error(vg_http_resp_t *r, int status, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:i}", "error", msg, "status", status);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    vg__api_reply_json(r, status, txt ? vg_strdup(txt) : NULL);
    free(txt);
}

void vg__api_pack(vg_http_resp_t *r, int status, json_t *o)
{
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    vg__api_reply_json(r, status, txt ? vg_strdup(txt) : NULL);
    free(txt);
}

void vg__http_resp_free(vg_http_resp_t *r)
{
    vg_free(r->body);
    r->body = NULL;
}

void vg__api_jpeg(vg_http_resp_t *r, uint8_t *jpg, size_t len)
{
    vg__api_set_body(r, 200, "image/jpeg", (char *)jpg, len);
}

/* ---- text built row by row (the CSV exports) ---- */

void vg__api_text_add(vg_api_text_t *t, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !t->failed; tries++) {
        va_start(ap, fmt);
        int k = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            t->failed = 1;
            return;
        }
        if (t->p && t->n + (size_t)k < t->cap) {
            t->n += (size_t)k;
            return;
        }
        size_t cap = (t->cap ? 2 * t->cap : 4096) + (size_t)k;
        char *np = vg_realloc(t->p, cap);
        if (!np) {
            t->failed = 1;
            return;
        }
        t->p = np, t->cap = cap;
    }
}

void vg__api_text_csv_str(vg_api_text_t *t, const char *s)
{
    vg__api_text_add(t, "\"");
    for (; s && *s; s++) vg__api_text_add(t, *s == '"' ? "\"\"" : "%c", *s);
    vg__api_text_add(t, "\"");
}

json_t *vg__api_num(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

void vg__api_store_error(vg_http_resp_t *r, int err)
{
    if (err == VG_ENOMEM)
        vg__api_error(r, 500, "out of memory");
    else
        vg__api_error(r, 503, "the store is unavailable");
}

/* ---- requests ---- */

int64_t vg__api_parse_id(const char *s)
{
    int64_t v = 0;
    if (!s || !*s || strlen(s) > 15) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v > 0 ? v : -1;
}

static int same_token(const char *a, const char *b)
{
    size_t n = strlen(b);
    unsigned d = 0;
    if (!a || strlen(a) != n) return 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)a[i] ^ (unsigned char)b[i];
    return d == 0;
}

json_t *vg__api_body_json(const vg_http_req_t *q, vg_http_resp_t *r)
{
    const char *ct = q->header(q->opaque, "Content-Type");
    json_error_t je;
    /* application/json, with parameters or not ("; charset=utf-8"), and nothing else */
    size_t ctn = ct ? strcspn(ct, ";") : 0;
    while (ct && ctn && (ct[ctn - 1] == ' ' || ct[ctn - 1] == '\t')) ctn--;
    if (!ct || ctn != 16 || strncasecmp(ct, "application/json", 16)) {
        vg__api_error(r, 415, "send the body as JSON with Content-Type: application/json");
        return NULL;
    }
    json_t *j = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        vg__api_error(r, 400, "the body is not a JSON object: %s (line %d, column %d)",
                      j ? "another JSON value" : je.text, je.line, je.column);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A string member of @o, at most @max bytes; NULL (and 400) when missing or wrong. */
const char *vg__api_member_str(json_t *o, const char *key, size_t max, int required,
                               vg_http_resp_t *r)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) vg__api_error(r, 400, "'%s' is missing", key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        vg__api_error(r, 400, "'%s' must be a string of at most %zu characters", key, max);
        return NULL;
    }
    return json_string_value(v);
}

int vg__api_iso_time_ok(const char *t)
{
    return !t || (strlen(t) <= 30 && strspn(t, "0123456789-:.TZ") == strlen(t));
}

void vg__api_audit(vg_server_t *s, const char *actor, const char *action, const char *target,
                   json_t *details)
{
    char *txt = details ? json_dumps(details, JSON_COMPACT) : NULL;
    json_decref(details);
    vg_store_audit(s->store, actor, action, target ? target : "", txt);
    free(txt);
}

void vg__api_feed_changed(vg_server_t *s)
{
    int64_t head = vg_store_feed_head(s->store);
    if (head > 0) vg__hub_notify(s, head);
}

/* A refusal of a logged-in user, audited (an auditor looks for attempts to reach what a role
 * may not): one row per user, action and path per window, with the count (audit_repeat.c). */
void vg__api_refused(vg_server_t *s, const vg_http_req_t *q, const session_t *ses,
                     const char *action, const char *why)
{
    vg__audit_repeat(
        s, ses->user, action, q->path, q->client,
        json_pack("{s:s,s:s,s:s}", "method", q->method, "from", q->client, "why", why));
}

static int get_session(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, session_t *ses,
                       unsigned roles)
{
    const char *tok = q->cookie(q->opaque, "vigie_session");
    if (!tok || vg_store_session_get(s->store, tok, ses->user, &ses->role, ses->csrf) < 0) {
        vg__api_error(r, 401, "log in first (POST /api/login)");
        return -1;
    }
    snprintf(ses->token, sizeof(ses->token), "%s", tok);
    if (!(roles & (1u << ses->role))) {
        char why[96];
        snprintf(why, sizeof(why), "the role %s may not do this", vg_role_name(ses->role));
        vg__api_error(r, 403, "%s", why);
        vg__api_refused(s, q, ses, "refused", why);
        return -1;
    }
    if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD") &&
        !same_token(q->header(q->opaque, "X-CSRF-Token"), ses->csrf)) {
        vg__api_error(r, 403, "missing or wrong X-CSRF-Token header (it comes with the login)");
        vg__api_refused(s, q, ses, "refused", "missing or wrong X-CSRF-Token header");
        return -1;
    }
    return 0;
}

int vg__api_session(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, unsigned roles)
{
    session_t ses;
    return get_session(s, q, r, &ses, roles);
}

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

static void health(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    (void)s, (void)q, (void)x;
    vg__api_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- the route table ---- */

/* Every route of the API, with the roles that may call it: the one place that says who may do
 * what (docs/server.md's table is this one). Order matters only for the Allow header. */
static const vg_route_t routes[] = {
    {"GET", "/api/health", 0, health, 0},
    {"POST", "/api/login", 0, vg__api_login, 0},
    {"POST", "/api/logout", R_ANY, vg__api_logout, 0},
    {"GET", "/api/me", R_ANY, vg__api_me, 0},
    {"GET", "/api/options", R_SUP, vg__api_options, 0},
    {"GET", "/api/feed/head", R_OP | R_SUP, vg__api_feed_head, 0},
    {"GET", "/api/cameras", R_ANY, vg__api_cameras, 0},
    {"GET", "/api/cameras/:camera/still", R_OP | R_SUP, vg__api_still, 0},
    {"GET", "/api/cameras/:camera/scene", R_OP | R_SUP, vg__api_scene, 0},
    {"PUT", "/api/cameras/:camera/scene", R_SUP, vg__api_scene, 0},
    {"GET", "/api/cameras/:camera/scene.json", R_OP | R_SUP, vg__api_scene_json, 0},
    {"GET", "/api/cameras/:camera/counts", R_OP | R_SUP | R_AUD, vg__api_counts, 0},
    {"GET", "/api/cameras/:camera/counts.csv", R_OP | R_SUP | R_AUD, vg__api_counts, 1},
    {"GET", "/api/events", R_OP | R_SUP, vg__api_events, 0},
    {"GET", "/api/instructions", R_OP | R_SUP, vg__api_instructions, 0},
    {"GET", "/api/events/stream", R_OP | R_SUP, vg__api_stream, 0},
    {"GET", "/api/events/:id", R_OP | R_SUP, vg__api_event, 0},
    {"POST", "/api/events/:id/ack", R_OP | R_SUP, vg__api_ack, 0},
    {"POST", "/api/events/:id/decision", R_OP | R_SUP, vg__api_decision, 0},
    {"POST", "/api/incidents/decision", R_OP | R_SUP, vg__api_incident_decision, 0},
    {"POST", "/api/events/:id/claim", R_OP | R_SUP, vg__api_claim, 0},
    {"GET", "/api/handover", R_OP | R_SUP, vg__api_handover, 0},
    {"POST", "/api/handover", R_OP | R_SUP, vg__api_handover, 0},
    {"GET", "/api/evidence/:name", R_OP | R_SUP, vg__api_evidence, 0},
    {"POST", "/api/evidence/:name/original", R_SUP | R_ADM, vg__api_evidence, 1},
    {"GET", "/api/stats", R_SUP | R_AUD, vg__api_stats, 0},
    {"GET", "/api/stats.csv", R_SUP | R_AUD, vg__api_stats, 1},
    {"GET", "/api/report", R_SUP | R_AUD, vg__api_report, 0},
    {"GET", "/api/report.csv", R_SUP | R_AUD, vg__api_report, 1},
    {"GET", "/api/audit", R_AUD, vg__api_audit_rows, 0},
    {"GET", "/api/audit/verify", R_AUD, vg__api_audit_rows, 1},
    {"GET", "/api/users", R_ADM, vg__api_users, 0},
    {"POST", "/api/users", R_ADM, vg__api_users, 0},
    {"POST", "/api/users/:user/disable", R_ADM, vg__api_user_disable, 0},
};
#define NB_ROUTES (int)(sizeof(routes) / sizeof(*routes))

/* What the console may show a role, each capability the route behind it. */
static const struct {
    const char *name, *method, *path;
} capabilities[] = {
    {"alerts", "GET", "/api/events"},
    {"decide", "POST", "/api/events/:id/decision"},
    {"claim", "POST", "/api/events/:id/claim"},
    {"handover", "GET", "/api/handover"},
    {"cameras", "GET", "/api/cameras"},
    {"still", "GET", "/api/cameras/:camera/still"},
    {"counts", "GET", "/api/cameras/:camera/counts"},
    {"scene_edit", "PUT", "/api/cameras/:camera/scene"},
    {"original", "POST", "/api/evidence/:name/original"},
    {"stats", "GET", "/api/stats"},
    {"report", "GET", "/api/report"},
    {"audit", "GET", "/api/audit"},
    {"users", "GET", "/api/users"},
};

json_t *vg__api_can(int role)
{
    json_t *o = json_object();
    for (size_t c = 0; o && c < sizeof(capabilities) / sizeof(*capabilities); c++) {
        int may = 0;
        for (int i = 0; i < NB_ROUTES; i++)
            if (!strcmp(routes[i].method, capabilities[c].method) &&
                !strcmp(routes[i].path, capabilities[c].path))
                may = (routes[i].roles & (1u << role)) != 0;
        json_object_set_new(o, capabilities[c].name, json_boolean(may));
    }
    return o;
}

/* Does @pattern match the @n segments @seg? Fills @x's parameters. */
static int match(vg_server_t *s, const char *pattern, char seg[6][80], int n, vg_route_ctx_t *x)
{
    char pat[6][80];
    int m = split(pattern, pat);
    if (m != n) return 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(pat[i], ":camera")) {
            x->cam_name = seg[i]; /* resolved once the session is checked */
        } else if (!strcmp(pat[i], ":id")) {
            if ((x->id = vg__api_parse_id(seg[i])) < 0) return 0;
        } else if (!strcmp(pat[i], ":name") || !strcmp(pat[i], ":user")) {
            x->name = seg[i];
        } else if (strcmp(pat[i], seg[i])) {
            return 0;
        }
    }
    return 1;
}

static void handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const char **route);

void vg__http_handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r)
{
    const char *route = NULL;
    if (!strcmp(q->path, "/metrics")) { /* Prometheus' path, outside /api (metrics.c) */
        memset(r, 0, sizeof(*r));
        vg__metrics_handle(s, q, r);
        route = "/metrics";
    } else {
        handle(s, q, r, &route);
    }
    /* requests by route (its pattern: no ids, no names) and status; files are not counted */
    if (route) vg__metrics_http(s, route, r->stream ? 200 : r->status);
}

static void handle(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const char **route)
{
    char seg[6][80], allow[64] = "";
    const vg_route_t *found = NULL;
    vg_route_ctx_t x, any;
    int n;
    memset(r, 0, sizeof(*r));
    if (q->body_too_large) {
        vg__api_error(r, 413, "the body is larger than %d bytes", s->cfg->body_limit);
        return;
    }
    n = split(q->path, seg);
    if (n < 0) {
        vg__api_error(r, 400, "malformed path");
        return;
    }
    if (n == 0 || strcmp(seg[0], "api")) {
        /* the console's files */
        if (strcmp(q->method, "GET")) {
            snprintf(r->allow, sizeof(r->allow), "GET");
            vg__api_error(r, 405, "%.16s is not allowed here; use GET", q->method);
            return;
        }
        if (vg__api_static(q->path, r)) return;
        vg__api_error(r, 404, "no such resource: %.200s", q->path);
        return;
    }
    /* the route of this path and method; the methods the path has, for a 405 */
    for (int i = 0; i < NB_ROUTES; i++) {
        memset(&any, 0, sizeof(any));
        if (!match(s, routes[i].path, seg, n, &any)) continue;
        if (!strcmp(routes[i].method, q->method) && !found) {
            found = &routes[i];
            x = any;
        }
        size_t len = strlen(allow);
        if (!strstr(allow, routes[i].method))
            snprintf(allow + len, sizeof(allow) - len, "%s%s", len ? " " : "", routes[i].method);
    }
    if (!allow[0]) {
        vg__api_error(r, 404, "no such resource: %.200s", q->path);
        return;
    }
    if (!found) {
        snprintf(r->allow, sizeof(r->allow), "%s", allow);
        for (char *c = r->allow; *c; c++)
            if (*c == ' ') *c = ',';
        vg__api_error(r, 405, "%.16s is not allowed here; use %s", q->method, allow);
        return;
    }
    x.variant = found->variant;
    *route = found->path;
    if (found->roles && get_session(s, q, r, &x.ses, found->roles) < 0) return;
    /* only a logged-in user learns which cameras exist */
    if (x.cam_name && !(x.cam = vg__server_cam(s, x.cam_name))) {
        vg__api_error(r, 404, "no camera named '%.80s' (GET /api/cameras lists them)", x.cam_name);
        return;
    }
    found->handler(s, q, r, &x);
}
