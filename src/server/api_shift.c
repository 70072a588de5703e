/*
 * What operators of one shift share and hand on (issue #18): who handles an alert (claim, take
 * over, release: every consoles sees it on the live stream) and the shift hand-over notes (what
 * one shift leaves to the next: a camera to watch, a call pending). Both are audited; a note is
 * text an operator wrote, shown to operators and supervisors only.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/store.h>

#include "api.h"

#define NOTE_MAX 2000

void vg__api_claim(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    static const char *const actions[] = {"take", "take_over", "release", NULL};
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    const char *a = json_string_value(json_object_get(b, "action"));
    int mode = -1;
    for (int i = 0; a && actions[i]; i++)
        if (!strcmp(a, actions[i])) mode = i;
    if (mode < 0) {
        vg__api_error(r, 400, "action: one of take, take_over, release");
        json_decref(b);
        return;
    }
    json_decref(b);
    char holder[64] = "", target[32];
    snprintf(target, sizeof(target), "event/%lld", (long long)x->id);
    int ret = vg_store_event_claim(s->store, x->id, x->ses.user, mode,
                                   x->ses.role == VG_ROLE_SUPERVISOR, holder);
    if (ret == VG_ENOENT) {
        vg__api_error(r, 404, "no event %lld", (long long)x->id);
        return;
    }
    if (ret == VG_EBUSY) {
        vg__api_pack(r, 409,
                     json_pack("{s:s,s:s}", "error",
                               "someone else handles this alert: take it over "
                               "(action take_over) if you must",
                               "claimed_by", holder));
        return;
    }
    if (ret == VG_EACCES) {
        vg__api_error(r, 403, "only %s or a supervisor may release this alert", holder);
        return;
    }
    if (ret < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    vg__api_feed_changed(s);
    vg__api_audit(s, x->ses.user, "event_claim", target,
                  json_pack("{s:s,s:s}", "action", actions[mode], "claimed_by", holder));
    vg__api_pack(r, 200, json_pack("{s:s?}", "claimed_by", holder[0] ? holder : NULL));
}

void vg__api_handover(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x)
{
    if (!strcmp(q->method, "GET")) {
        const char *bef = q->query(q->opaque, "before"), *lim = q->query(q->opaque, "limit");
        int64_t before = 0, limit = 50;
        if (bef && (before = vg__api_parse_id(bef)) < 0) {
            vg__api_error(r, 400, "before: a note id (the oldest of the previous page)");
            return;
        }
        if (lim && ((limit = vg__api_parse_id(lim)) < 1 || limit > 500)) {
            vg__api_error(r, 400, "limit: use 1 to 500");
            return;
        }
        char *json = NULL;
        if (vg_store_handover_json(s->store, before, (int)limit, &json) < 0) {
            vg__api_error(r, 503, "the store is unavailable");
            return;
        }
        vg__api_reply_json(r, 200, json);
        return;
    }
    json_t *b = vg__api_body_json(q, r);
    if (!b) return;
    const char *text = json_string_value(json_object_get(b, "text"));
    size_t len = text ? strlen(text) : 0, blank = 0;
    for (size_t i = 0; i < len; i++)
        blank += text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r';
    if (!text || blank == len || len > NOTE_MAX) {
        vg__api_error(r, 400, "text: the note, 1 to %d bytes, not only spaces", NOTE_MAX);
        json_decref(b);
        return;
    }
    int64_t id = vg_store_handover_add(s->store, x->ses.user, text);
    json_decref(b);
    if (id < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    char target[32];
    snprintf(target, sizeof(target), "handover/%lld", (long long)id);
    vg__api_feed_changed(s);
    vg__api_audit(s, x->ses.user, "handover_note", target, NULL);
    vg__api_pack(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
}
