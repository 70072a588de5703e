/*
 * The events' routes: the list, one event, acknowledgement, decisions (a "not relevant" decision
 * on a fixture adds it to the camera's scene), the live stream and its head.
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

void vg__api_events(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x)
{
    char *json = NULL;
    const char *cam = q->query(q->opaque, "camera"), *type = q->query(q->opaque, "type"),
               *lim = q->query(q->opaque, "limit");
    int limit = 100;
    if (type && vg_event_type_from_name(type) < 0) {
        vg__api_error(r, 400, "type '%.64s' is not an event type", type);
        return;
    }
    if (lim) {
        int64_t v = vg__api_parse_id(lim);
        if (v < 1 || v > 1000) {
            vg__api_error(r, 400, "limit: use 1 to 1000");
            return;
        }
        limit = (int)v;
    }
    const char *bef = q->query(q->opaque, "before");
    int64_t before = 0;
    if (bef && (before = vg__api_parse_id(bef)) < 0) {
        vg__api_error(r, 400, "before: an event id (the oldest of the previous page)");
        return;
    }
    if (vg_store_events_page_json(s->store, 0, before, cam, type, limit, &json) < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    vg__api_reply_json(r, 200, json);
}

void vg__api_event(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    int64_t id = x->id;
    char *json = NULL;
    int ret = vg_store_events_json(s->store, id, NULL, NULL, 1, &json);
    if (ret == VG_ENOENT)
        vg__api_error(r, 404, "no event %lld", (long long)id);
    else if (ret < 0)
        vg__api_error(r, 503, "the store is unavailable");
    else
        vg__api_reply_json(r, 200, json);
}

void vg__api_ack(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const vg_route_ctx_t *x)
{
    int64_t id = x->id;
    char target[32];
    snprintf(target, sizeof(target), "event/%lld", (long long)id);
    int ret = vg_store_event_ack(s->store, id, x->ses.user);
    if (ret == VG_ENOENT) {
        vg__api_error(r, 404, "no event %lld", (long long)id);
        return;
    }
    if (ret == VG_EBUSY) {
        vg__api_error(r, 409, "event %lld was already acknowledged", (long long)id);
        return;
    }
    if (ret < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    vg__api_audit(s, x->ses.user, "event_ack", target, NULL);
    vg__api_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

void vg__api_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x)
{
    int64_t id = x->id;
    char target[32], camera[64], type[64];
    double box[4];
    int has_box = 0, reason = -1;
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    const char *qual = vg__api_member_str(b, "qualification", 32, 1, r);
    const char *rs = qual ? vg__api_member_str(b, "reason", 32, 0, r) : NULL;
    const char *note = qual && r->status != 400 ? vg__api_member_str(b, "note", 2000, 0, r) : NULL;
    if (!qual || r->status == 400) {
        json_decref(b);
        return;
    }
    int qv = vg_qualification_from_name(qual);
    if (qv < 0) {
        vg__api_error(r, 400, "qualification: use confirmed, false_alert or not_relevant");
        json_decref(b);
        return;
    }
    if (qv == VG_QUAL_FALSE_ALERT) {
        reason = vg_false_reason_from_name(rs);
        if (reason < 0) {
            vg__api_error(r, 400,
                          "a false_alert needs a reason: person_not_object, fixture, "
                          "reflection_or_light, weather or other");
            json_decref(b);
            return;
        }
    } else if (rs) {
        vg__api_error(r, 400, "a reason goes with false_alert only");
        json_decref(b);
        return;
    }
    snprintf(target, sizeof(target), "event/%lld", (long long)id);
    int ret = vg_store_event_qualify(s->store, id, x->ses.user, qv, reason, note);
    if (ret == VG_ENOENT)
        vg__api_error(r, 404, "no event %lld", (long long)id);
    else if (ret == VG_EAGAIN)
        vg__api_error(r, 409, "acknowledge event %lld first", (long long)id);
    else if (ret < 0)
        vg__api_error(r, 503, "the store is unavailable");
    if (ret < 0) {
        json_decref(b);
        return;
    }
    vg__api_audit(s, x->ses.user, "event_decision", target,
                  json_pack("{s:s,s:s?,s:s}", "qualification", qual, "reason",
                            reason >= 0 ? vg_false_reason_name(reason) : NULL, "note",
                            note ? note : ""));
    /* A fixture taken for an abandoned object: the place becomes a fixture of the camera. */
    int fixture = 0;
    if (reason == VG_FALSE_FIXTURE &&
        vg_store_event_info(s->store, id, camera, type, box, &has_box) == 0 && has_box &&
        !strcmp(type, "abandoned_object")) {
        if (vg_store_fixture_add(s->store, camera, box, id, x->ses.user) == 0) {
            fixture = 1;
            vg__api_audit(s, x->ses.user, "fixture_add", camera,
                          json_pack("{s:I,s:[f,f,f,f]}", "event", (json_int_t)id, "box", box[0],
                                    box[1], box[2], box[3]));
            vg_cam_t *c = vg__server_cam(s, camera);
            if (c) vg__server_cam_restart(c);
        }
    }
    vg__api_pack(r, 200, json_pack("{s:b,s:b}", "ok", 1, "fixture_added", fixture));
    json_decref(b);
}

void vg__api_stream(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x)
{
    const char *last = q->header(q->opaque, "Last-Event-ID");
    const char *after = q->query(q->opaque, "after");
    int64_t from = -1;
    if (last && *last && (from = strcmp(last, "0") ? vg__api_parse_id(last) : 0) < 0) {
        vg__api_error(r, 400, "Last-Event-ID: '%.40s' is not a message number", last);
        return;
    }
    if (from < 0 && after && (from = strcmp(after, "0") ? vg__api_parse_id(after) : 0) < 0) {
        vg__api_error(r, 400, "after: '%.40s' is not a message number (0 for all)", after);
        return;
    }
    if (from < 0) from = vg_store_feed_head(s->store);
    r->status = 200;
    r->type = "text/event-stream";
    r->stream = 1;
    r->stream_after = from;
    snprintf(r->stream_login, sizeof(r->stream_login), "%s", x->ses.token);
}

void vg__api_feed_head(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                       const vg_route_ctx_t *x)
{
    vg__api_pack(r, 200, json_pack("{s:I}", "seq", (json_int_t)vg_store_feed_head(s->store)));
}
