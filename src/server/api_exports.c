/*
 * What leaves the server as files: evidence pictures (pixelated; the original only for the roles
 * the config allows, with a reason, audited) and the statistics (JSON or CSV). Evidence names
 * must be 32 hex digits and ".jpg", and known to the store, before any file is opened.
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

static int valid_evidence_name(const char *s)
{
    if (!s || strlen(s) != 36 || strcmp(s + 32, ".jpg")) return 0;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

void vg__api_evidence(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x)
{
    const char *name = x->name;
    int original = x->variant;
    int64_t event;
    char kind[16], path[4200], target[64];
    uint8_t *data;
    size_t len;
    const char *reason = NULL;
    json_t *b = NULL;
    if (!valid_evidence_name(name)) {
        vg__api_error(r, 400, "not an evidence name (32 hexadecimal digits and .jpg)");
        return;
    }
    if (original) {
        if (!s->cfg->keep_original || !(s->cfg->original_roles & (1u << x->ses.role))) {
            vg__api_error(r, 403, "unblurred evidence is not available to the role %s here",
                          vg_role_name(x->ses.role));
            return;
        }
        b = vg__api_body_json(q, r);
        if (!b) return;
        reason = vg__api_member_str(b, "reason", 500, 1, r);
        if (!reason || strlen(reason) < 3) {
            if (reason) vg__api_error(r, 400, "say why the unblurred picture is needed (reason)");
            json_decref(b);
            return;
        }
    }
    if (vg_store_evidence_find(s->store, name, &event, kind) < 0) {
        vg__api_error(r, 404, "no evidence called %s (purged after its retention, or never)", name);
        json_decref(b);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", original ? s->dir_originals : s->dir_evidence, name);
    if (vg_file_read(path, 64u << 20, &data, &len) < 0) {
        vg__api_error(r, 404, "the picture %s is no longer on disk", name);
        json_decref(b);
        return;
    }
    snprintf(target, sizeof(target), "evidence/%s", name);
    vg__api_audit(s, x->ses.user, original ? "evidence_view_original" : "evidence_view", target,
                  original ? json_pack("{s:I,s:s}", "event", (json_int_t)event, "reason", reason)
                           : json_pack("{s:I}", "event", (json_int_t)event));
    vg__api_jpeg(r, data, len);
    json_decref(b);
}

void vg__api_stats(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    int csv = x->variant;
    char *json = NULL;
    const char *from = q->query(q->opaque, "from"), *to = q->query(q->opaque, "to");
    if (!vg__api_iso_time_ok(from) || !vg__api_iso_time_ok(to)) {
        vg__api_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    if (vg_store_stats_json(s->store, from, to, &json) < 0) {
        vg__api_error(r, 503, "the store is unavailable");
        return;
    }
    if (!csv) {
        vg__api_reply_json(r, 200, json);
        return;
    }
    json_t *arr = json_loads(json, 0, NULL), *o;
    size_t i, cap = 256 + json_array_size(arr) * 256, n = 0;
    char *out = vg_malloc(cap);
    vg_free(json);
    if (!arr || !out) {
        json_decref(arr);
        vg_free(out);
        vg__api_error(r, 500, "out of memory");
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
    vg__api_audit(s, x->ses.user, "stats_export", "",
                  json_pack("{s:s?,s:s?}", "from", from, "to", to));
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-stats.csv\"");
    vg__api_set_body(r, 200, "text/csv; charset=utf-8", out, n);
}
