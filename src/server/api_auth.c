/*
 * Login, logout and who am I (docs/server.md). Sessions: cookie `vigie_session` (HttpOnly,
 * SameSite=Strict, Path=/), 64 hex characters; the store keeps its SHA-256. Login needs
 * Content-Type: application/json, which a cross-site form cannot send. The login limiter:
 * security.login_failures failures for one name (four times as many from one address) within
 * security.login_lockout seconds lock that name (address) out for that long (429, with
 * Retry-After); failures and refusals are audited. /api/me also says what the role may do,
 * from the route table (vg__api_can), so that the console shows only that.
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

void vg__api_login(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    json_t *b = vg__api_body_json(q, r);
    const char *user, *pw;
    char kip[80], kuser[80], token[65], csrf[65];
    double now = vg__now_mono(), left;
    if (!b) return;
    user = vg__api_member_str(b, "user", 64, 1, r);
    pw = user ? vg__api_member_str(b, "password", 1024, 1, r) : NULL;
    if (!user || !pw) {
        json_decref(b);
        return;
    }
    snprintf(kip, sizeof(kip), "ip:%s", q->client);
    snprintf(kuser, sizeof(kuser), "user:%.64s", user);
    left = fmax(limiter_locked(s, kip, now), limiter_locked(s, kuser, now));
    if (left > 0) {
        snprintf(r->retry_after, sizeof(r->retry_after), "%.0f", ceil(left));
        vg__api_error(r, 429, "too many failed logins: try again in %.0f s", ceil(left));
        vg__api_audit(
            s, user, "login_refused", "",
            json_pack("{s:s,s:s}", "from", q->client, "why", "locked out after failed logins"));
        json_decref(b);
        return;
    }
    int role = vg_store_user_check(s->store, user, pw);
    if (role < 0) {
        int l1 = limiter_fail(s, kip, now), l2 = limiter_fail(s, kuser, now);
        vg__api_audit(s, user, "login_failed", "",
                      json_pack("{s:s,s:b}", "from", q->client, "lockout", l1 || l2));
        vg__api_error(r, 401, "wrong user name or password");
        json_decref(b);
        return;
    }
    limiter_clear(s, kip);
    limiter_clear(s, kuser);
    if (vg_store_session_new(s->store, user, (int)(s->cfg->session_hours * 3600), token, csrf) <
        0) {
        vg__api_error(r, 503, "cannot open a session: the store is unavailable");
        json_decref(b);
        return;
    }
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             "vigie_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d", token,
             (int)(s->cfg->session_hours * 3600));
    vg__api_audit(s, user, "login", "",
                  json_pack("{s:s,s:s}", "from", q->client, "role", vg_role_name(role)));
    vg__api_pack(r, 200,
                 json_pack("{s:s,s:s,s:s,s:o}", "user", user, "role", vg_role_name(role), "csrf",
                           csrf, "can", vg__api_can(role)));
    json_decref(b);
}

void vg__api_logout(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x)
{
    vg_store_session_end(s->store, x->ses.token);
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             "vigie_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    vg__api_audit(s, x->ses.user, "logout", "", NULL);
    vg__api_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

void vg__api_me(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const vg_route_ctx_t *x)
{
    vg__api_pack(r, 200,
                 json_pack("{s:s,s:s,s:s,s:s,s:o}", "user", x->ses.user, "role",
                           vg_role_name(x->ses.role), "csrf", x->ses.csrf, "version",
                           VG_VERSION_STRING, "can", vg__api_can(x->ses.role)));
}
