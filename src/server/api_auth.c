/*
 * Login, logout and who am I (docs/server.md). Sessions: cookie `vigie_session` (HttpOnly,
 * SameSite=Strict, Path=/), 64 hex characters; the store keeps its SHA-256; a user has at most
 * limits.logins_per_user open (a new login ends the oldest, audited). Login needs
 * Content-Type: application/json, which a cross-site form cannot send. The login limiter
 * (limiter.c) counts an attempt before the password is checked and answers 429 with Retry-After;
 * failures and refusals are audited through audit_repeat.c (one row per kind and window, with
 * the count), a lockout always in a row of its own. /api/me also says what the role may do,
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

/* A failed or refused login, audited through audit_repeat.c: keyed by the name when it is a
 * user's (each account's failures stay visible), else by the address alone (a client inventing
 * names makes one kind of row, with the count). */
static void audit_login(vg_server_t *s, const char *user, int known, const char *action,
                        const char *from, json_t *details)
{
    if (!known) json_object_set_new(details, "name", json_string(user));
    vg__audit_repeat(s, known ? user : "(unknown user)", action, "", from, details);
}

void vg__api_login(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    json_t *b = vg__api_body_json(q, r);
    const char *user, *pw;
    char token[65], csrf[65], why[200];
    double retry;
    if (!b) return;
    user = vg__api_member_str(b, "user", 64, 1, r);
    pw = user ? vg__api_member_str(b, "password", 1024, 1, r) : NULL;
    if (!user || !pw) {
        json_decref(b);
        return;
    }
    int known = vg_store_user_exists(s->store, user);
    if (known < 0) {
        vg__api_store_error(r, known);
        json_decref(b);
        return;
    }
    /* the attempt is counted before the password is checked (limiter.c) */
    if (vg__limiter_begin(s, user, known, q->client, &retry, why, sizeof(why)) < 0) {
        snprintf(r->retry_after, sizeof(r->retry_after), "%.0f", ceil(retry));
        vg__api_error(r, 429, "%s", why);
        audit_login(s, user, known, "login_refused", q->client,
                    json_pack("{s:s,s:s}", "from", q->client, "why", why));
        json_decref(b);
        return;
    }
    int role = vg_store_user_check(s->store, user, pw);
    int locked = vg__limiter_end(s, user, known, q->client, role >= 0);
    if (role < 0) {
        json_t *d = json_pack("{s:s,s:b}", "from", q->client, "lockout", locked);
        if (locked) /* a lockout is never folded into a count */
            vg__api_audit(s, known ? user : "(unknown user)", "login_failed", "", d);
        else
            audit_login(s, user, known, "login_failed", q->client, d);
        vg__api_error(r, 401, "wrong user name or password");
        json_decref(b);
        return;
    }
    if (vg_store_session_new(s->store, user, (int)(s->cfg->session_hours * 3600), token, csrf) <
        0) {
        vg__api_error(r, 503, "cannot open a session: the store is unavailable");
        json_decref(b);
        return;
    }
    int ended = vg_store_session_trim(s->store, user, s->cfg->max_logins_user);
    snprintf(r->set_cookie, sizeof(r->set_cookie),
             "vigie_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s", token,
             (int)(s->cfg->session_hours * 3600), s->cfg->tls_cert ? "; Secure" : "");
    json_t *d = json_pack("{s:s,s:s}", "from", q->client, "role", vg_role_name(role));
    if (ended > 0) json_object_set_new(d, "ended_oldest_logins", json_integer(ended));
    vg__api_audit(s, user, "login", "", d);
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
             "vigie_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
             s->cfg->tls_cert ? "; Secure" : "");
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
