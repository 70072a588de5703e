/*
 * What leaves the server as files: evidence pictures (pixelated; the original only for the roles
 * the config allows, with a reason, audited), event clips (pixelated WebM, clip.c) and the
 * statistics (JSON or CSV). Evidence names must be 32 hex digits and ".jpg" or ".webm", and known
 * to the store, before any file is opened. A clip is audited as an evidence view like a picture,
 * through audit_repeat.c: a browser playing it in a loop asks for it again and again, and the
 * trail gets one row per user, clip and window with the count, not one row per loop.
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
#include <vigie/server.h>
#include <vigie/version.h>

#include "api.h"

/* 1: a picture, 2: a clip, 0: not an evidence name */
static int valid_evidence_name(const char *s)
{
    if (!s || strlen(s) < 33) return 0;
    int kind = !strcmp(s + 32, ".jpg") ? 1 : !strcmp(s + 32, ".webm") ? 2 : 0;
    if (!kind) return 0;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return kind;
}

/* A "Range: bytes=..." header's one range over @len bytes: 1 with [*a, *b] (inclusive), 0 when
 * there is none or it is not one this server answers in parts (several ranges: the whole is
 * sent), -1 when it cannot be satisfied (RFC 9110 14.1.2). */
static int byte_range(const char *h, size_t len, size_t *a, size_t *b)
{
    char *end;
    if (!h || strncmp(h, "bytes=", 6) || strchr(h, ',')) return 0;
    h += 6;
    if (*h == '-') { /* the last N bytes */
        unsigned long long n = strtoull(h + 1, &end, 10);
        if (end == h + 1 || *end) return 0;
        if (n == 0 || len == 0) return -1;
        *a = n >= len ? 0 : len - (size_t)n;
        *b = len - 1;
        return 1;
    }
    if (*h < '0' || *h > '9') return 0;
    unsigned long long x = strtoull(h, &end, 10), y;
    if (*end != '-') return 0;
    h = end + 1;
    if (!*h)
        y = len ? len - 1 : 0;
    else {
        if (*h < '0' || *h > '9') return 0;
        y = strtoull(h, &end, 10);
        if (*end) return 0;
    }
    if (x >= len) return -1;
    if (y < x) return 0;
    *a = (size_t)x;
    *b = y >= len ? len - 1 : (size_t)y;
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
    int what = valid_evidence_name(name);
    if (!what) {
        vg__api_error(r, 400, "not an evidence name (32 hexadecimal digits and .jpg or .webm)");
        return;
    }
    if (what == 2 && original) {
        vg__api_error(r, 404, "clips are kept pixelated only: there is no original of %s", name);
        return;
    }
    if (original) {
        if (!s->cfg->keep_original || !(s->cfg->original_roles & (1u << x->ses.role))) {
            vg__api_error(r, 403, "unblurred evidence is not available to the role %s here",
                          vg_role_name(x->ses.role));
            vg__api_refused(s, q, &x->ses, "evidence_original_refused",
                            "the role may not see unblurred evidence here");
            return;
        }
        b = vg__api_body_json(q, r);
        if (b) reason = vg__api_member_str(b, "reason", 500, 1, r);
        if (!reason || strlen(reason) < 3) {
            if (reason) vg__api_error(r, 400, "say why the unblurred picture is needed (reason)");
            vg__api_refused(s, q, &x->ses, "evidence_original_refused", "no reason given");
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
        vg__api_error(r, 404, "the %s %s is no longer on disk", what == 2 ? "clip" : "picture",
                      name);
        json_decref(b);
        return;
    }
    snprintf(target, sizeof(target), "evidence/%s", name);
    const char *size = q->query(q->opaque, "size");
    if (what == 2) {
        if (size) {
            vg_free(data);
            vg__api_error(r, 400, "size: a clip has no thumbnail");
            return;
        }
        /* the player asks for parts (a seek, the timeline): answered with 206; without that
         * Chromium cannot seek in it */
        size_t a = 0, z = 0;
        int part = byte_range(q->header(q->opaque, "Range"), len, &a, &z);
        r->accept_ranges = 1;
        if (part < 0) {
            vg_free(data);
            snprintf(r->content_range, sizeof(r->content_range), "bytes */%zu", len);
            vg__api_error(r, 416, "the range asked for is past the clip's %zu bytes", len);
            return;
        }
        vg__audit_repeat(s, x->ses.user, "evidence_view", target, q->client,
                         json_pack("{s:I,s:s}", "event", (json_int_t)event, "kind", "clip"));
        if (part > 0) {
            memmove(data, data + a, z - a + 1);
            snprintf(r->content_range, sizeof(r->content_range), "bytes %zu-%zu/%zu", a, z, len);
            vg__api_set_body(r, 206, "video/webm", (char *)data, z - a + 1);
        } else
            vg__api_set_body(r, 200, "video/webm", (char *)data, len);
        r->private_max_age = 600; /* played in a loop: the browser keeps it */
        return;
    }
    if (!original && size && !strcmp(size, "thumb")) {
        /* the queue's thumbnails: small, kept by the browser a few minutes (the names never
         * change), and audited as what they are — pictures glanced at in a list, one row per
         * user and window with the count (audit_repeat.c), not one per row shown */
        uint8_t *th = NULL;
        size_t thn = 0;
        int ret = vg__evidence_thumb(data, len, 320, &th, &thn);
        vg_free(data);
        if (ret < 0) {
            vg__api_error(r, 500, "cannot make the thumbnail of %s", name);
            return;
        }
        vg__audit_repeat(s, x->ses.user, "evidence_thumbnails", "", q->client,
                         json_pack("{s:s,s:I}", "from", q->client, "event", (json_int_t)event));
        vg__api_jpeg(r, th, thn);
        r->private_max_age = 600;
        return;
    }
    if (size && strcmp(size, "thumb")) {
        vg_free(data);
        vg__api_error(r, 400, "size: 'thumb' or nothing");
        json_decref(b);
        return;
    }
    vg__api_audit(s, x->ses.user, original ? "evidence_view_original" : "evidence_view", target,
                  original ? json_pack("{s:I,s:s}", "event", (json_int_t)event, "reason", reason)
                           : json_pack("{s:I}", "event", (json_int_t)event));
    vg__api_jpeg(r, data, len);
    json_decref(b);
}

static int stats_json_row(void *opaque, const vg_store_stats_row_t *r)
{
    json_t *o = json_object();
    if (!o) return VG_ENOMEM;
    json_object_set_new(o, "camera", json_string(r->camera));
    json_object_set_new(o, "type", json_string(r->type));
    json_object_set_new(o, "alerts", json_integer(r->alerts));
    json_object_set_new(o, "acknowledged", json_integer(r->acknowledged));
    json_object_set_new(o, "confirmed", json_integer(r->confirmed));
    json_object_set_new(o, "false_alerts", json_integer(r->false_alerts));
    json_object_set_new(o, "not_relevant", json_integer(r->not_relevant));
    json_object_set_new(o, "confirmed_rate", vg__api_num(r->confirmed_rate));
    json_object_set_new(o, "camera_hours", json_real(r->camera_hours));
    json_object_set_new(o, "false_alerts_per_camera_hour",
                        vg__api_num(r->false_alerts_per_camera_hour));
    json_object_set_new(o, "median_decide_s", vg__api_num(r->median_decide_s));
    return json_array_append_new(opaque, o) == 0 ? 0 : VG_ENOMEM;
}

static int stats_csv_row(void *opaque, const vg_store_stats_row_t *r)
{
    vg_api_text_t *t = opaque;
    vg__api_text_add(t, "%s,%s,%lld,%lld,%lld,%lld,%lld,", r->camera, r->type, (long long)r->alerts,
                     (long long)r->acknowledged, (long long)r->confirmed,
                     (long long)r->false_alerts, (long long)r->not_relevant);
    if (!isnan(r->confirmed_rate)) vg__api_text_add(t, "%.4f", r->confirmed_rate);
    vg__api_text_add(t, ",%.4f,", r->camera_hours);
    if (!isnan(r->false_alerts_per_camera_hour))
        vg__api_text_add(t, "%.4f", r->false_alerts_per_camera_hour);
    vg__api_text_add(t, ",");
    if (!isnan(r->median_decide_s)) vg__api_text_add(t, "%.1f", r->median_decide_s);
    vg__api_text_add(t, "\n");
    return t->failed ? VG_ENOMEM : 0;
}

void vg__api_stats(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x)
{
    int csv = x->variant, ret;
    const char *from = q->query(q->opaque, "from"), *to = q->query(q->opaque, "to");
    char f2[32], t2[32];
    if (!vg__api_iso_time_ok(from) || !vg__api_iso_time_ok(to)) {
        vg__api_error(r, 400, "from/to: ISO 8601 UTC times, e.g. 2026-11-26T00:00:00Z");
        return;
    }
    /* as the store writes its times (2026-11-26T00:00:00.000Z), so that an event of that very
     * second compares right (the report's figures are the same) */
    if (from && vg__iso_time_norm(from, 0, f2) == 0) from = f2;
    if (to && vg__iso_time_norm(to, 0, t2) == 0) to = t2;
    if (!csv) {
        json_t *arr = json_array();
        ret = arr ? vg_store_stats(s->store, from, to, stats_json_row, arr) : VG_ENOMEM;
        char *txt =
            ret < 0 ? NULL
                    : json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
        if (ret < 0)
            vg__api_store_error(r, ret);
        else
            vg__api_reply_json(r, 200, txt ? vg_strdup(txt) : NULL);
        free(txt);
        json_decref(arr);
        return;
    }
    vg_api_text_t out = {0};
    vg__api_text_add(&out, "camera,type,alerts,acknowledged,confirmed,false_alerts,not_relevant,"
                           "confirmed_rate,camera_hours,false_alerts_per_camera_hour,"
                           "median_decide_s\n");
    ret = vg_store_stats(s->store, from, to, stats_csv_row, &out);
    if (ret < 0 || out.failed) {
        vg_free(out.p);
        vg__api_store_error(r, out.failed ? VG_ENOMEM : ret);
        return;
    }
    vg__api_audit(s, x->ses.user, "stats_export", "",
                  json_pack("{s:s?,s:s?}", "from", from, "to", to));
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-stats.csv\"");
    vg__api_set_body(r, 200, "text/csv; charset=utf-8", out.p, out.n);
}

/* The evaluation report (report.c) of a period as a download: the HTML page or its table as
 * CSV, in the language asked for; audited as report_export with the period. */
void vg__api_report(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x)
{
    const vg_server_config_t *cfg = atomic_load(&s->cfg);
    vg_report_params_t p = {0};
    vg_report_result_t res;
    char err[1024];
    char *html = NULL, *csv = NULL;
    p.from = q->query(q->opaque, "from");
    p.to = q->query(q->opaque, "to");
    p.lang = q->query(q->opaque, "lang");
    p.site = cfg->path;
    p.anchors = s->anchors;
    if (s->audit_key) {
        p.pks = (const uint8_t(*)[32])s->audit_pk;
        p.npk = 1;
    }
    const char **cams = vg_calloc((size_t)cfg->nb_cameras + 1, sizeof(*cams));
    if (!cams) {
        vg__api_store_error(r, VG_ENOMEM);
        return;
    }
    for (int i = 0; i < cfg->nb_cameras; i++) cams[i] = cfg->cameras[i].name;
    p.cameras = cams;
    p.nb_cameras = cfg->nb_cameras;
    int ret = vg_report_make(s->store, &p, x->variant ? NULL : &html, x->variant ? &csv : NULL,
                             &res, err, sizeof(err));
    vg_free(cams);
    if (ret == VG_EINVAL || ret == VG_ENOENT) {
        vg__api_error(r, ret == VG_EINVAL ? 400 : 404, "%s", err);
        return;
    }
    if (ret < 0) {
        vg__api_store_error(r, ret);
        return;
    }
    vg__api_audit(s, x->ses.user, "report_export", "",
                  json_pack("{s:s,s:s,s:s,s:b}", "from", res.from, "to", res.to, "format",
                            x->variant ? "csv" : "html", "audit_ok", res.audit_ok));
    char day[11];
    memcpy(day, res.from, 10);
    day[10] = 0;
    snprintf(r->disposition, sizeof(r->disposition), "attachment; filename=\"vigie-report-%s.%s\"",
             day, x->variant ? "csv" : "html");
    if (x->variant)
        vg__api_set_body(r, 200, "text/csv; charset=utf-8", csv, strlen(csv));
    else
        vg__api_set_body(r, 200, "text/html; charset=utf-8", html, strlen(html));
}
