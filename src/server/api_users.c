/*
 * Users (admin only): the list, a new user, disabling one (their sessions end at once).
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

void vg__api_users(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    char *json = NULL, err[256];
    if (!strcmp(q->method, "GET")) {
        if (vg_store_users_json(s->store, &json) < 0)
            vg__api_error(r, 503, "the store is unavailable");
        else
            vg__api_reply_json(r, 200, json);
        return;
    }
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    const char *name = vg__api_member_str(b, "name", 64, 1, r);
    const char *role = name ? vg__api_member_str(b, "role", 16, 1, r) : NULL;
    const char *pw = role ? vg__api_member_str(b, "password", 1024, 1, r) : NULL;
    if (pw) {
        int ret = vg_store_user_add(s->store, name, vg_role_from_name(role), pw, err, sizeof(err));
        if (ret < 0)
            vg__api_error(r, ret == VG_EBUSY ? 409 : 400, "%s", err);
        else {
            vg__api_audit(s, x->ses.user, "user_add", name, json_pack("{s:s}", "role", role));
            vg__api_pack(r, 201, json_pack("{s:b}", "ok", 1));
        }
    }
    json_decref(b);
}

void vg__api_user_disable(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                          const vg_route_ctx_t *x)
{
    const char *name = x->name;
    if (!strcmp(name, x->ses.user)) {
        vg__api_error(r, 400, "an admin cannot disable their own account");
        return;
    }
    int ret = vg_store_user_disable(s->store, name, 1);
    if (ret == VG_ENOENT)
        vg__api_error(r, 404, "no user called %.64s", name);
    else if (ret < 0)
        vg__api_error(r, 503, "the store is unavailable");
    else {
        vg__api_audit(s, x->ses.user, "user_disable", name, NULL);
        vg__api_pack(r, 200, json_pack("{s:b}", "ok", 1));
    }
}
