/*
 * The zone rules object (<vigie/rules.h>): per track a small state (found by id, dropped when
 * the track is gone and none of its events is open) that the zone events share — one vg_rule_t
 * per zone for intrusion (intrusion.c) and for wrong way (wrong_way.c), the side of each line it
 * was last seen on (line_crossing.c), the distance it has travelled against each zone's
 * direction. This file keeps that state, works out how each track moves, hands it to each event
 * type's step, and writes the records.
 *
 * Speeds come from the tracker's filtered velocity at the foot point; with a calibration the
 * foot point and the point one second ahead are projected to the ground and their distance is
 * the speed in m/s; without, the speed is in body heights per second (the box height), which
 * makes a walking person about 0.5-1 whatever its distance to the camera.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/rules.h>

#include "zone_rules_priv.h"

#define COMP "rules"

/* Per zone: the camera's values with the zone's own settings over them. */
static int zone_params(const vg_scene_t *scene, int nz, const vg_intrusion_params_t *ip,
                       const vg_wrong_way_params_t *wp, vg_intrusion_params_t *zip,
                       vg_wrong_way_params_t *zwp, char *err, size_t errlen)
{
    for (int k = 0; k < nz; k++) {
        zip[k] = *ip; /* numbers only: a plain copy is a full one */
        zwp[k] = *wp;
        const vg_settings_t *zs = scene->zones[k].settings;
        if (zs && (vg_settings_apply(zs, &vg_intrusion_option_group, &zip[k], err, errlen) < 0 ||
                   vg_settings_apply(zs, &vg_wrong_way_option_group, &zwp[k], err, errlen) < 0))
            return VG_EINVAL;
    }
    return 0;
}

int vg_zone_rules_set_params(vg_zone_rules_t *z, const vg_intrusion_params_t *ip,
                             const vg_wrong_way_params_t *wp, char *err, size_t errlen)
{
    vg_intrusion_params_t zip[MAX_ZONES];
    vg_wrong_way_params_t zwp[MAX_ZONES];
    int ret = zone_params(z->scene, z->nz, ip, wp, zip, zwp, err, errlen);
    if (ret < 0) return ret;
    z->ip = *ip;
    z->wp = *wp;
    memcpy(z->zip, zip, sizeof(zip[0]) * (size_t)z->nz);
    memcpy(z->zwp, zwp, sizeof(zwp[0]) * (size_t)z->nz);
    return 0;
}

int vg_zone_rules_new(vg_zone_rules_t **out, const vg_scene_t *scene,
                      const vg_intrusion_params_t *ip, const vg_wrong_way_params_t *wp, char *err,
                      size_t errlen)
{
    vg_zone_rules_t *z = vg_calloc(1, sizeof(*z));
    if (!z) return VG_ENOMEM;
    z->scene = scene;
    z->ip = *ip;
    z->wp = *wp;
    z->nz = scene->nb_zones;
    z->nl = scene->nb_lines;
    z->cur_frame = -1;
    if (z->nz > MAX_ZONES || z->nl > MAX_LINES) {
        snprintf(err, errlen, "%s: at most %d zones and %d lines", scene->path, MAX_ZONES,
                 MAX_LINES);
        vg_free(z);
        return VG_EINVAL;
    }
    int ret = vg_calib_fit(&z->calib, scene->calib, scene->nb_calib, err, errlen);
    if (ret == 0) ret = zone_params(scene, z->nz, ip, wp, z->zip, z->zwp, err, errlen);
    if (ret < 0) {
        vg_free(z);
        return ret;
    }
    if (!z->calib.valid && (z->nz || z->nl))
        vg_log(COMP, VG_LOG_INFO,
               "%s: no ground calibration: speeds in body heights per second, distances in "
               "pixels",
               scene->path[0] ? scene->path : "scene");
    *out = z;
    return 0;
}

void vg_zone_rules_free(vg_zone_rules_t **pz)
{
    vg_zone_rules_t *z = *pz;
    if (!z) return;
    vg_free(z->ts);
    vg_free(z);
    *pz = NULL;
}

const vg_calib_t *vg_zone_rules_calib(const vg_zone_rules_t *z)
{
    return &z->calib;
}

static track_state_t *state_of(vg_zone_rules_t *z, int64_t id)
{
    for (int i = 0; i < z->nts; i++)
        if (z->ts[i].id == id) return &z->ts[i];
    if (z->nts == z->capts) {
        int cap = z->capts ? 2 * z->capts : 16;
        track_state_t *n = vg_realloc(z->ts, (size_t)cap * sizeof(*n));
        if (!n) return NULL;
        z->ts = n, z->capts = cap;
    }
    track_state_t *s = &z->ts[z->nts++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    for (int k = 0; k < MAX_ZONES; k++) vg_rule_init(&s->intr[k]), vg_rule_init(&s->ww[k]);
    for (int k = 0; k < MAX_LINES; k++) vg_rule_init(&s->line[k]);
    return s;
}

int vg__zone_send(vg_zone_rules_t *z, vg_emit_fn emit, void *opaque, vg_rule_t *r,
                  vg_rule_action_t act, const zone_hit_t *h, const track_state_t *ts, int64_t frame,
                  double t)
{
    vg_event_t ev;
    vg_event_init(&ev, h->type, act == VG_RULE_START ? VG_PHASE_START : VG_PHASE_END);
    ev.event_id = act == VG_RULE_START ? 0 : r->event_id;
    ev.frame = act == VG_RULE_START ? r->best_frame : frame;
    ev.t = t;
    ev.score = r->best_score > 1 ? 1 : r->best_score;
    vg_event_set_zone(&ev, h->name);
    vg_event_set_box(&ev, r->best_box[0], r->best_box[1], r->best_box[2], r->best_box[3]);
    const char *unit_speed = z->calib.valid ? "m/s" : "heights/s";
    vg_event_detail_int(&ev, "track", ts->id);
    if (act == VG_RULE_START) {
        if (h->kind) vg_event_detail_str(&ev, "kind", h->kind);
        if (h->reason) vg_event_detail_str(&ev, "reason", h->reason);
        vg_event_detail_str(&ev, "class", h->cls >= 0 ? vg_coco_name(h->cls) : "unknown");
        if (h->cls >= 0) vg_event_detail_num(&ev, "class_score", h->class_score);
        vg_event_detail_num(&ev, "speed", h->speed);
        vg_event_detail_str(&ev, "speed_unit", unit_speed);
        if (h->distance >= 0) {
            vg_event_detail_num(&ev, "distance", h->distance);
            vg_event_detail_str(&ev, "distance_unit", z->calib.valid ? "m" : "px");
        }
        vg_event_detail_bool(&ev, "calibrated", z->calib.valid);
        if (ts->npath >= 2) { /* where it came from: the operator sees the way it went */
            char path[PATH_N * 24 + 4];
            size_t n = 0;
            for (int i = 0; i < ts->npath; i++) {
                const float *pt = ts->path[(ts->path_head + i) % PATH_N];
                n += (size_t)snprintf(path + n, sizeof(path) - n, "%s[%.0f,%.0f]", i ? "," : "[",
                                      pt[0], pt[1]);
            }
            snprintf(path + n, sizeof(path) - n, "]");
            vg_event_detail_json(&ev, "path", path);
        }
    } else {
        vg_event_detail_num(&ev, "duration", t - r->started);
        vg_event_detail_int(&ev, "evidence_frame", r->best_frame);
    }
    int ret = emit(opaque, &ev);
    if (act == VG_RULE_START) r->event_id = ev.event_id;
    return ret;
}

int vg__zone_send_end(vg_zone_rules_t *z, vg_emit_fn emit, void *opaque, vg_event_type_t type,
                      vg_rule_t *r, vg_rule_action_t act, const char *name, const track_state_t *ts,
                      int64_t frame, double t)
{
    zone_hit_t h = {type, name, NULL, NULL, -1, 0, 0, -1};
    return vg__zone_send(z, emit, opaque, r, act, &h, ts, frame, t);
}

int vg_zone_rules_update(vg_zone_rules_t *z, const vg_track_t *tracks, int n,
                         const vg_detections_t *det, double sx, double sy, int64_t frame, double t,
                         vg_emit_fn emit, void *opaque, double *score_out)
{
    const vg_scene_t *sc = z->scene;
    double frame_score = 0;
    vg_rule_timing_t tm_line = {0, z->ip.end_after, z->ip.cooldown};
    int ret;
    for (int i = 0; i < n; i++) {
        const vg_track_t *tk = &tracks[i];
        if (tk->state == VG_TRACK_TENTATIVE) continue;
        track_state_t *ts = state_of(z, tk->id);
        if (!ts) return VG_ENOMEM;
        ts->seen_frame = frame;
        track_motion_t m = {.tk = tk};
        m.box[0] = tk->box[0] * sx, m.box[1] = tk->box[1] * sy;
        m.box[2] = tk->box[2] * sx, m.box[3] = tk->box[3] * sy;
        m.fx = m.box[0] + m.box[2] / 2, m.fy = m.box[1] + m.box[3]; /* foot point */
        m.vx = tk->vx * sx, m.vy = tk->vy * sy;                     /* input px/s */
        /* speed, and the step since the last frame, on the ground or in pixels */
        m.gx = m.fx, m.gy = m.fy;
        if (z->calib.valid && vg_calib_to_ground(&z->calib, m.fx, m.fy, &m.gx, &m.gy) == 0) {
            double ax, ay;
            if (vg_calib_to_ground(&z->calib, m.fx + m.vx, m.fy + m.vy, &ax, &ay) == 0)
                m.speed = hypot(ax - m.gx, ay - m.gy);
            else
                m.speed = 0;
        } else {
            m.speed = m.box[3] > 1 ? hypot(m.vx, m.vy) / m.box[3] : 0;
            m.gx = m.fx, m.gy = m.fy;
        }
        m.lb = det ? vg_detections_label(det, tk->id) : NULL;
        m.lost = tk->state == VG_TRACK_LOST;
        int cls = m.lb ? m.lb->cls : -1;
        double class_score = m.lb ? m.lb->score : 0;
        if (!m.lost && (!ts->npath || t - ts->path_t >= PATH_STEP)) {
            int at = (ts->path_head + ts->npath) % PATH_N;
            if (ts->npath == PATH_N)
                ts->path_head = (ts->path_head + 1) % PATH_N;
            else
                ts->npath++;
            ts->path[at][0] = (float)m.fx, ts->path[at][1] = (float)m.fy;
            ts->path_t = t;
        }
        /* zones: intrusion, then wrong way, zone by zone; the class as each zone judges it (its
         * class_looks and class_fade), and the lines then report it as the last zone did */
        for (int k = 0; k < z->nz; k++) {
            if ((ret = vg__intrusion_zone_step(z, ts, k, &m, frame, t, &cls, &class_score,
                                               &frame_score, emit, opaque)) < 0)
                return ret;
            if (sc->zones[k].has_direction &&
                (ret = vg__wrong_way_zone_step(z, ts, k, &m, frame, t, cls, class_score, emit,
                                               opaque)) < 0)
                return ret;
        }
        for (int k = 0; k < z->nl; k++)
            if ((ret = vg__line_step(z, ts, k, &m, frame, t, cls, class_score, emit, opaque)) < 0)
                return ret;
        if (!m.lost) {
            ts->px = m.fx, ts->py = m.fy, ts->gx = m.gx, ts->gy = m.gy, ts->t = t;
            ts->has_prev = 1;
        }
    }
    vg__intrusion_frame_score(z, det, sx, sy, &frame_score);
    /* tracks that are gone: their conditions are absent; drop them once nothing is open */
    for (int i = 0; i < z->nts; i++) {
        track_state_t *ts = &z->ts[i];
        if (ts->seen_frame == frame) continue;
        int open = 0;
        for (int k = 0; k < z->nz; k++) {
            vg_rule_timing_t tm = {z->zip[k].min_dwell, z->zip[k].end_after, z->zip[k].cooldown};
            vg_rule_timing_t tm_ww = {0, z->zip[k].end_after, 1e18};
            vg_rule_action_t a1 = vg_rule_update(&ts->intr[k], &tm, 0, t, 0, frame, NULL);
            if (a1 && (ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_INTRUSION, &ts->intr[k],
                                               a1, sc->zones[k].name, ts, frame, t)) < 0)
                return ret;
            vg_rule_action_t a2 = vg_rule_update(&ts->ww[k], &tm_ww, 0, t, 0, frame, NULL);
            if (a2 && (ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_WRONG_WAY, &ts->ww[k], a2,
                                               sc->zones[k].name, ts, frame, t)) < 0)
                return ret;
            open |= ts->intr[k].active | ts->ww[k].active;
        }
        for (int k = 0; k < z->nl; k++) {
            vg_rule_action_t a = vg_rule_update(&ts->line[k], &tm_line, 0, t, 0, frame, NULL);
            if (a && (ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_INTRUSION, &ts->line[k], a,
                                              sc->lines[k].name, ts, frame, t)) < 0)
                return ret;
            open |= ts->line[k].active;
        }
        if (!open) z->ts[i--] = z->ts[--z->nts];
    }
    if (score_out) *score_out = frame_score;
    return 0;
}

int vg_zone_rules_flush(vg_zone_rules_t *z, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    int ret;
    for (int i = 0; i < z->nts; i++) {
        track_state_t *ts = &z->ts[i];
        for (int k = 0; k < z->nz; k++) {
            if (ts->intr[k].active) {
                ts->intr[k].active = 0;
                if ((ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_INTRUSION, &ts->intr[k],
                                             VG_RULE_END, z->scene->zones[k].name, ts, frame, t)) <
                    0)
                    return ret;
            }
            if (ts->ww[k].active) {
                ts->ww[k].active = 0;
                if ((ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_WRONG_WAY, &ts->ww[k],
                                             VG_RULE_END, z->scene->zones[k].name, ts, frame, t)) <
                    0)
                    return ret;
            }
        }
        for (int k = 0; k < z->nl; k++)
            if (ts->line[k].active) {
                ts->line[k].active = 0;
                if ((ret = vg__zone_send_end(z, emit, opaque, VG_EVENT_INTRUSION, &ts->line[k],
                                             VG_RULE_END, z->scene->lines[k].name, ts, frame, t)) <
                    0)
                    return ret;
            }
    }
    z->nts = 0;
    return 0;
}
