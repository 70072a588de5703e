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
    vg__api_feed_changed(s);
    vg__api_pack(r, 200, json_pack("{s:b}", "ok", 1));
}

static int decision_body(json_t *b, vg_http_resp_t *r, int *qv, int *reason, const char **note);

/* Qualify event @id for @user (acknowledged before), audit it (@incident: its incident's first
 * event, 0 for none), and turn a fixture taken for an abandoned object, or a light or
 * reflection taken for a fire, into a fixture of the camera (*@fixture): neither analyser looks
 * there again. */
static int decide_one(vg_server_t *s, const char *user, int64_t id, int qv, int reason,
                      const char *note, int64_t incident, int *fixture)
{
    char target[32], camera[64], type[64];
    double box[4];
    int has_box = 0;
    snprintf(target, sizeof(target), "event/%lld", (long long)id);
    int ret = vg_store_event_qualify(s->store, id, user, qv, reason, note);
    if (ret < 0) return ret;
    json_t *d =
        json_pack("{s:s,s:s?,s:s}", "qualification", vg_qualification_name(qv), "reason",
                  reason >= 0 ? vg_false_reason_name(reason) : NULL, "note", note ? note : "");
    if (incident) json_object_set_new(d, "incident", json_integer(incident));
    vg__api_audit(s, user, "event_decision", target, d);
    vg__api_feed_changed(s);
    *fixture = 0;
    if ((reason == VG_FALSE_FIXTURE || reason == VG_FALSE_REFLECTION_OR_LIGHT) &&
        vg_store_event_info(s->store, id, camera, type, box, &has_box) == 0 && has_box &&
        ((reason == VG_FALSE_FIXTURE && !strcmp(type, "abandoned_object")) ||
         !strcmp(type, "fire"))) {
        if (vg_store_fixture_add(s->store, camera, box, id, user) == 0) {
            *fixture = 1;
            vg__api_audit(s, user, "fixture_add", camera,
                          json_pack("{s:I,s:[f,f,f,f]}", "event", (json_int_t)id, "box", box[0],
                                    box[1], box[2], box[3]));
            vg_cam_t *c = vg__server_cam(s, camera);
            if (c && !vg__cluster_console(s)) vg__server_cam_restart(c);
            vg__cluster_fixtures_changed(s, camera); /* a cluster: to the node that runs it */
        }
    }
    return 0;
}

void vg__api_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x)
{
    int64_t id = x->id;
    int qv = -1, reason = -1;
    const char *note = NULL;
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    if (decision_body(b, r, &qv, &reason, &note) < 0) {
        json_decref(b);
        return;
    }
    int fixture = 0;
    int ret = decide_one(s, x->ses.user, id, qv, reason, note, 0, &fixture);
    if (ret == VG_ENOENT)
        vg__api_error(r, 404, "no event %lld", (long long)id);
    else if (ret == VG_EAGAIN)
        vg__api_error(r, 409, "acknowledge event %lld first", (long long)id);
    else if (ret < 0)
        vg__api_error(r, 503, "the store is unavailable");
    else
        vg__api_pack(r, 200, json_pack("{s:b,s:b}", "ok", 1, "fixture_added", fixture));
    json_decref(b);
}

/* Parse and check a decision's body: 0, or an error already answered. */
static int decision_body(json_t *b, vg_http_resp_t *r, int *qv, int *reason, const char **note)
{
    const char *qual = vg__api_member_str(b, "qualification", 32, 1, r);
    const char *rs = qual ? vg__api_member_str(b, "reason", 32, 0, r) : NULL;
    *note = qual && r->status != 400 ? vg__api_member_str(b, "note", 2000, 0, r) : NULL;
    *reason = -1;
    if (!qual || r->status == 400) return -1;
    if ((*qv = vg_qualification_from_name(qual)) < 0) {
        vg__api_error(r, 400, "qualification: use confirmed, false_alert or not_relevant");
        return -1;
    }
    if (*qv == VG_QUAL_FALSE_ALERT) {
        if ((*reason = vg_false_reason_from_name(rs)) < 0) {
            vg__api_error(r, 400,
                          "a false_alert needs a reason: person_not_object, fixture, "
                          "reflection_or_light, weather or other");
            return -1;
        }
    } else if (rs) {
        vg__api_error(r, 400, "a reason goes with false_alert only");
        return -1;
    }
    return 0;
}

/* An incident (alerts of one camera, type and zone that followed each other closely, grouped
 * by the console) decided once: each alert not yet decided is acknowledged (when it was not)
 * and qualified, and each is audited as if decided alone, with the incident named; an alert
 * someone already decided keeps that decision (listed in "skipped"). */
void vg__api_incident_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                               const vg_route_ctx_t *x)
{
    int qv = -1, reason = -1;
    const char *note = NULL;
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    json_t *ids = json_object_get(b, "ids");
    if (!json_is_array(ids) || !json_array_size(ids) || json_array_size(ids) > 500) {
        vg__api_error(r, 400, "'ids': the incident's event ids, 1 to 500");
        json_decref(b);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) if (!json_is_integer(v) || json_integer_value(v) < 1)
    {
        vg__api_error(r, 400, "'ids': positive event ids");
        json_decref(b);
        return;
    }
    if (decision_body(b, r, &qv, &reason, &note) < 0) {
        json_decref(b);
        return;
    }
    int64_t head = json_integer_value(json_array_get(ids, 0));
    json_t *done = json_array(), *skipped = json_array();
    json_array_foreach(ids, i, v)
    {
        int64_t id = json_integer_value(v);
        char target[32], *one = NULL;
        snprintf(target, sizeof(target), "event/%lld", (long long)id);
        /* an alert someone already decided keeps that decision */
        if (vg_store_events_json(s->store, id, NULL, NULL, 1, &one) < 0) {
            json_array_append_new(skipped, json_integer(id));
            continue;
        }
        json_t *row = json_loads(one, 0, NULL);
        vg_free(one);
        int already = !row || !json_is_null(json_object_get(row, "qualification"));
        json_decref(row);
        if (already) {
            json_array_append_new(skipped, json_integer(id));
            continue;
        }
        int ret = vg_store_event_ack(s->store, id, x->ses.user);
        if (ret == 0)
            vg__api_audit(s, x->ses.user, "event_ack", target,
                          json_pack("{s:I}", "incident", (json_int_t)head));
        int fixture = 0;
        ret = ret == 0 || ret == VG_EBUSY
                  ? decide_one(s, x->ses.user, id, qv, reason, note, head, &fixture)
                  : ret;
        json_array_append_new(ret == 0 ? done : skipped, json_integer(id));
    }
    vg__api_pack(r, 200, json_pack("{s:b,s:o,s:o}", "ok", 1, "decided", done, "skipped", skipped));
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

/* What to do for each event type (the config's instructions), for the alert page. */
void vg__api_instructions(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                          const vg_route_ctx_t *x)
{
    json_t *o = json_object();
    for (int i = 0; o && s->cfg->instructions && i < VG_EVENT_NB; i++)
        if (s->cfg->instructions[i])
            json_object_set_new(o, vg_event_type_name(i), json_string(s->cfg->instructions[i]));
    vg__api_pack(r, 200, o);
}
