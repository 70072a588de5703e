/*
 * The event record and its JSON Lines writer (core: every analyser, the pipeline, the store and
 * the server speak it).
 *
 * Records are serialised by hand into a caller buffer (no allocation on the analysis thread) in
 * a fixed field order, so that two runs over the same input give byte-identical output that can
 * be diffed. Non-finite numbers are written as null: JSON has no NaN. The writer flushes after
 * every record so that a crash or a later error never loses an event already reported.
 */
#include <math.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/event.h>

static const char *const type_names[VG_EVENT_NB + 1] = {
    "abandoned_object", "weapon",  "wrong_way", "intrusion",    "fall",
    "crowd_movement",   "density", "fire",      "camera_fault", NULL,
};
static const char *const phase_names[VG_PHASE_NB] = {"start", "update", "end"};

const char *vg_event_type_name(vg_event_type_t type)
{
    return (unsigned)type < VG_EVENT_NB ? type_names[type] : "unknown";
}

const char *const *vg_event_type_names(void)
{
    return type_names;
}

int vg_event_type_from_name(const char *name)
{
    for (int i = 0; i < VG_EVENT_NB; i++)
        if (!strcmp(name, type_names[i])) return i;
    return VG_EINVAL;
}

const char *vg_event_phase_name(vg_event_phase_t phase)
{
    return (unsigned)phase < VG_PHASE_NB ? phase_names[phase] : "unknown";
}

void vg_event_init(vg_event_t *ev, vg_event_type_t type, vg_event_phase_t phase)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->phase = phase;
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, VG_EVENT_NAME_MAX, "%s", src ? src : "");
}

void vg_event_set_zone(vg_event_t *ev, const char *zone)
{
    copy_name(ev->zone, zone);
}

void vg_event_set_camera(vg_event_t *ev, const char *camera)
{
    copy_name(ev->camera, camera);
}

void vg_event_set_box(vg_event_t *ev, double x, double y, double w, double h)
{
    ev->has_box = 1;
    ev->box[0] = x;
    ev->box[1] = y;
    ev->box[2] = w;
    ev->box[3] = h;
}

int vg_json_quote(char *buf, size_t len, const char *s)
{
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 >= len) goto full;                                                               \
        buf[n++] = (c);                                                                            \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c == '\r') {
            PUT('\\');
            PUT('r');
        } else if (c < 0x20 || c == 0x7f) {
            char u[8];
            snprintf(u, sizeof(u), "\\u%04x", c);
            for (int i = 0; u[i]; i++) PUT(u[i]);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
    buf[n] = 0;
    return (int)n;
full:
    if (len) buf[len - 1] = 0;
    return VG_ERANGE;
#undef PUT
}

static int fmt_number(char *buf, size_t len, double v)
{
    if (!isfinite(v)) return snprintf(buf, len, "null");
    if (v == floor(v) && fabs(v) < 1e15) return snprintf(buf, len, "%.0f", v);
    return snprintf(buf, len, "%.6g", v);
}

/* Appends `"key":` + value text to the details. */
static int add_member(vg_event_t *ev, const char *key, const char *value)
{
    char q[VG_EVENT_NAME_MAX * 2 + 8];
    size_t room = sizeof(ev->details) - ev->details_len;
    int n;
    if (vg_json_quote(q, sizeof(q), key) < 0) return VG_ERANGE;
    n = snprintf(ev->details + ev->details_len, room, "%s%s:%s", ev->details_len ? "," : "", q,
                 value);
    if (n < 0 || (size_t)n >= room) {
        ev->details[ev->details_len] = 0;
        return VG_ERANGE;
    }
    ev->details_len += (size_t)n;
    return 0;
}

int vg_event_detail_num(vg_event_t *ev, const char *key, double v)
{
    char b[48];
    fmt_number(b, sizeof(b), v);
    return add_member(ev, key, b);
}

int vg_event_detail_int(vg_event_t *ev, const char *key, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    return add_member(ev, key, b);
}

int vg_event_detail_str(vg_event_t *ev, const char *key, const char *v)
{
    char b[VG_EVENT_DETAILS_MAX];
    if (vg_json_quote(b, sizeof(b), v ? v : "") < 0) return VG_ERANGE;
    return add_member(ev, key, b);
}

int vg_event_detail_bool(vg_event_t *ev, const char *key, int v)
{
    return add_member(ev, key, v ? "true" : "false");
}

int vg_event_detail_json(vg_event_t *ev, const char *key, const char *json)
{
    return add_member(ev, key, json);
}

int vg_event_to_json(const vg_event_t *ev, char *buf, size_t len)
{
    char cam[VG_EVENT_NAME_MAX * 6 + 4], zone[VG_EVENT_NAME_MAX * 6 + 4], t[48], score[48];
    char box[160] = "";
    int n;

    vg_json_quote(cam, sizeof(cam), ev->camera);
    vg_json_quote(zone, sizeof(zone), ev->zone);
    if (isfinite(ev->t))
        snprintf(t, sizeof(t), "%.3f", ev->t);
    else
        snprintf(t, sizeof(t), "null");
    fmt_number(score, sizeof(score), round(ev->score * 1000.0) / 1000.0);
    if (ev->has_box) {
        char v[4][32];
        for (int i = 0; i < 4; i++) fmt_number(v[i], sizeof(v[i]), round(ev->box[i]));
        snprintf(box, sizeof(box), ",\"box\":[%s,%s,%s,%s]", v[0], v[1], v[2], v[3]);
    }
    n = snprintf(buf, len,
                 "{\"type\":\"%s\",\"phase\":\"%s\",\"event_id\":%lld,\"t\":%s,\"frame\":%lld%s"
                 "%s%s,\"score\":%s,\"camera\":%s,\"details\":{%.*s}}",
                 vg_event_type_name(ev->type), vg_event_phase_name(ev->phase),
                 (long long)ev->event_id, t, (long long)ev->frame, box,
                 ev->zone[0] ? ",\"zone\":" : "", ev->zone[0] ? zone : "", score, cam,
                 (int)ev->details_len, ev->details);
    if (n < 0 || (size_t)n >= len) return VG_ERANGE;
    return n;
}

void vg_event_writer_init(vg_event_writer_t *w, FILE *f)
{
    w->f = f;
    w->count = 0;
}

int vg_event_writer_write(void *opaque, const vg_event_t *ev)
{
    vg_event_writer_t *w = opaque;
    char buf[VG_EVENT_DETAILS_MAX + 1024];
    int n = vg_event_to_json(ev, buf, sizeof(buf));
    if (n < 0) return n;
    buf[n++] = '\n';
    if (fwrite(buf, 1, (size_t)n, w->f) != (size_t)n || fflush(w->f) != 0) return VG_EIO;
    w->count++;
    return 0;
}

int vg_event_from_json(vg_event_t *ev, const char *line, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je), *v;
    int ret = VG_EFORMAT;
    if (!o || !json_is_object(o)) {
        snprintf(err, errlen, "not a JSON object%s%s", o ? "" : ": ", o ? "" : je.text);
        goto end;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *phase = json_string_value(json_object_get(o, "phase"));
    int t = type ? vg_event_type_from_name(type) : -1, ph = -1;
    for (int i = 0; phase && i < VG_PHASE_NB; i++)
        if (!strcmp(phase, vg_event_phase_name((vg_event_phase_t)i))) ph = i;
    if (t < 0 || ph < 0) {
        snprintf(err, errlen, "\"type\" or \"phase\" missing or unknown");
        goto end;
    }
    vg_event_init(ev, (vg_event_type_t)t, (vg_event_phase_t)ph);
    if (!json_is_number(v = json_object_get(o, "t"))) {
        snprintf(err, errlen, "\"t\" missing or not a number");
        goto end;
    }
    ev->t = json_number_value(v);
    ev->event_id = json_integer_value(json_object_get(o, "event_id"));
    ev->frame = json_integer_value(json_object_get(o, "frame"));
    ev->score = json_number_value(json_object_get(o, "score"));
    json_t *box = json_object_get(o, "box");
    if (json_is_array(box) && json_array_size(box) == 4) {
        ev->has_box = 1;
        for (int k = 0; k < 4; k++) ev->box[k] = json_number_value(json_array_get(box, (size_t)k));
    }
    if ((v = json_object_get(o, "zone")) && json_is_string(v))
        vg_event_set_zone(ev, json_string_value(v));
    if ((v = json_object_get(o, "camera")) && json_is_string(v))
        vg_event_set_camera(ev, json_string_value(v));
    if ((v = json_object_get(o, "details")) && json_is_object(v) && json_object_size(v)) {
        char *d = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t n = d ? strlen(d) : 0;
        if (d && n >= 2 && n - 2 < sizeof(ev->details)) { /* the members, without the braces */
            memcpy(ev->details, d + 1, n - 2);
            ev->details[n - 2] = 0;
            ev->details_len = n - 2;
        }
        free(d);
    }
    ret = 0;
end:
    json_decref(o);
    return ret;
}
