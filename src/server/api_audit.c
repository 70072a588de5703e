/*
 * The audit trail (auditor only): its rows, and the verification of its hash chain.
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

void vg__api_audit_rows(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                        const vg_route_ctx_t *x)
{
    int verify = x->variant;
    char *json = NULL;
    if (verify) {
        vg_audit_report_t rep;
        /* with a signing key, only the anchors it signed are trusted */
        if (vg_store_audit_verify_signed(s->store, s->anchors, (const uint8_t(*)[32])s->audit_pk,
                                         s->audit_key ? 1 : 0, &rep) < 0) {
            vg__api_error(r, 503, "the store is unavailable");
            return;
        }
        vg__api_audit(s, x->ses.user, "audit_verify", "",
                      json_pack("{s:b,s:I}", "ok", rep.ok, "rows", (json_int_t)rep.rows));
        vg__api_pack(r, 200,
                     json_pack("{s:b,s:I,s:I,s:I,s:s,s:I,s:I,s:b}", "ok", rep.ok, "rows",
                               (json_int_t)rep.rows, "head", (json_int_t)rep.head, "bad_row",
                               (json_int_t)rep.bad_seq, "what", rep.what, "anchors",
                               (json_int_t)rep.anchors, "signed_anchors",
                               (json_int_t)rep.signed_anchors, "signed", s->audit_key != NULL));
        return;
    }
    const char *after = q->query(q->opaque, "after"), *lim = q->query(q->opaque, "limit");
    const char *bef = q->query(q->opaque, "before");
    int64_t a = after ? vg__api_parse_id(after) : 0, l = lim ? vg__api_parse_id(lim) : 200;
    int64_t b = bef ? vg__api_parse_id(bef) : 0;
    vg_audit_query_t aq = {a < 0 ? 0 : a,
                           b,
                           q->query(q->opaque, "actor"),
                           q->query(q->opaque, "action"),
                           q->query(q->opaque, "from"),
                           q->query(q->opaque, "to")};
    if ((after && a < 0 && strcmp(after, "0")) || (bef && b < 0) || l < 1 || l > 5000) {
        vg__api_error(r, 400, "after, before: row numbers; limit: 1 to 5000");
        return;
    }
    if (!vg__api_iso_time_ok(aq.from) || !vg__api_iso_time_ok(aq.to)) {
        vg__api_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    if (vg_store_audit_query_json(s->store, &aq, (int)l, &json) < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    /* what was looked at: the filters, as given */
    json_t *d =
        json_pack("{s:I,s:I}", "after", (json_int_t)(a < 0 ? 0 : a), "limit", (json_int_t)l);
    const char *actor = q->query(q->opaque, "actor"), *action = q->query(q->opaque, "action");
    if (actor) json_object_set_new(d, "actor", json_stringn(actor, strnlen(actor, 64)));
    if (action) json_object_set_new(d, "action", json_stringn(action, strnlen(action, 64)));
    if (aq.before) json_object_set_new(d, "before", json_integer(aq.before));
    if (aq.from) json_object_set_new(d, "from", json_string(aq.from));
    if (aq.to) json_object_set_new(d, "to", json_string(aq.to));
    vg__api_audit(s, x->ses.user, "audit_view", "", d);
    vg__api_reply_json(r, 200, json);
}
