/*
 * The wrong_way event: a track inside a zone with an allowed direction that moves against it
 * (outside the zone's tolerance) over wrong_way.min_distance — once per track. The distance
 * against the direction is the tracker's filtered velocity times the time since the last frame
 * (the foot point itself jumps with segmentation: a box clipped by the frame's edge, a shadow
 * joining), on the ground with a calibration.
 */
#include <math.h>

#include <vigie/rules.h>

#include "zone_rules_priv.h"

#define OFF(x) offsetof(vg_wrong_way_params_t, x)
static const vg_option_t wrong_way_options[] = {
    {.name = "min_distance",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_distance),
     .def.d = 5.0,
     .min = 0.1,
     .max = 1000,
     .unit = "m",
     .flags = VG_OPT_LIVE,
     .help = "distance travelled against a zone's direction before wrong_way (calibrated)"},
    {.name = "min_distance_px",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_distance_px),
     .def.d = 60,
     .min = 1,
     .max = 10000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help = "the same without calibration, in input pixels"},
    {.name = "min_speed",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_speed),
     .def.d = 0.3,
     .min = 0,
     .max = 100,
     .unit = "m/s or heights/s",
     .flags = VG_OPT_LIVE,
     .help = "slower than this counts as standing, not travelling"},
    {.name = NULL},
};
#undef OFF
const vg_option_group_t vg_wrong_way_option_group = {
    "wrong_way", "movement against a zone's allowed direction", wrong_way_options};

int vg__wrong_way_zone_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                            int64_t frame, double t, int cls, double class_score, vg_emit_fn emit,
                            void *opaque)
{
    const vg_zone_t *zn = &z->scene->zones[k];
    const vg_wrong_way_params_t *wq = &z->zwp[k];
    vg_rule_timing_t tm_ww = {0, z->zip[k].end_after, 1e18}; /* once per track */
    double fx = m->fx, fy = m->fy, vx = m->vx, vy = m->vy, gx = m->gx, gy = m->gy;
    int inside = !m->lost && vg_polygon_contains(&zn->polygon, fx, fy);
    double dirx = zn->direction[0], diry = zn->direction[1];
    double wx = vx, wy = vy; /* velocity, input px/s, or m/s on the ground */
    if (z->calib.valid) {
        double ax, ay, bx2, by2;
        if (vg_calib_to_ground(&z->calib, fx + dirx, fy + diry, &ax, &ay) == 0) {
            double l = hypot(ax - gx, ay - gy);
            if (l > 0) dirx = (ax - gx) / l, diry = (ay - gy) / l;
        }
        if (vg_calib_to_ground(&z->calib, fx + vx, fy + vy, &bx2, &by2) == 0)
            wx = bx2 - gx, wy = by2 - gy;
    }
    double dt = ts->has_prev ? t - ts->t : 0, v = hypot(wx, wy);
    double along = (wx * dirx + wy * diry) * dt;
    double cos_lim = -cos(zn->tolerance_deg * M_PI / 180);
    int against = inside && dt > 0 && v > 0 && (wx * dirx + wy * diry) / v <= cos_lim &&
                  m->speed >= wq->min_speed && m->tk->hits >= 5;
    if (against)
        ts->against[k] += -along;
    else if (!inside)
        ts->against[k] = 0; /* left the zone: start again */
    double need = z->calib.valid ? wq->min_distance : wq->min_distance_px;
    int cond = !ts->ww_done[k] && inside && ts->against[k] >= need;
    if (ts->ww[k].active) cond = inside; /* open until it leaves */
    vg_rule_action_t act = vg_rule_update(&ts->ww[k], &tm_ww, cond, t,
                                          fmin(1, ts->against[k] / need / 2 + 0.5), frame, m->box);
    if (act == VG_RULE_START) ts->ww_done[k] = 1;
    if (!act) return 0;
    zone_hit_t h = {VG_EVENT_WRONG_WAY, zn->name, NULL,          NULL, cls,
                    class_score,        m->speed, ts->against[k]};
    return vg__zone_send(z, emit, opaque, &ts->ww[k], act, &h, ts, frame, t);
}
