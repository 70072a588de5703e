/*
 * Event rules: the shared state machine and the zone events (intrusion, wrong_way). See
 * include/vigie/rules.h for what they mean; notes on the method here.
 *
 * Per track the rules keep a small state (found by id, dropped when the track is gone and none
 * of its events is open): one vg_rule_t per zone for intrusion and for wrong way, the side of
 * each line it was last seen on, and the distance it has travelled against each zone's
 * direction. Speeds come from the tracker's filtered velocity at the foot point; with a
 * calibration the foot point and the point one second ahead are projected to the ground and
 * their distance is the speed in m/s; without, the speed is in body heights per second (the box
 * height), which makes a walking person about 0.5-1 whatever its distance to the camera.
 *
 * Intrusion score in a pedestrian_only zone: the larger of the detector's confidence that the
 * track is a non-pedestrian class (bicycle, car, motorcycle, bus, truck, skateboard) and a
 * logistic of the speed ratio to walk_speed_max (0.5 at the limit, 0.95 at 1.5 times it).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/rules.h>

#define COMP "rules"

void vg_rule_init(vg_rule_t *r)
{
    memset(r, 0, sizeof(*r));
    r->since = NAN;
    r->absent = NAN;
    r->ended = -INFINITY;
    r->best_frame = -1;
}

vg_rule_action_t vg_rule_update(vg_rule_t *r, const vg_rule_timing_t *tm, int cond, double t,
                                double score, int64_t frame, const double *box)
{
    const double eps = 1e-9;
    if (cond) {
        if (isnan(r->since)) r->since = t;
        r->absent = NAN;
        if (r->active) {
            if (score > r->best_score) {
                r->best_score = score, r->best_frame = frame;
                if (box) memcpy(r->best_box, box, sizeof(r->best_box));
            }
            return VG_RULE_NONE;
        }
        if (t - r->since + eps >= tm->on_time && t - r->ended + eps >= tm->cooldown) {
            r->active = 1;
            r->started = t;
            r->best_score = score, r->best_frame = frame;
            if (box) memcpy(r->best_box, box, sizeof(r->best_box));
            return VG_RULE_START;
        }
        return VG_RULE_NONE;
    }
    r->since = NAN;
    if (!r->active) return VG_RULE_NONE;
    if (isnan(r->absent)) r->absent = t;
    if (t - r->absent + eps >= tm->off_time) {
        r->active = 0;
        r->ended = t;
        r->absent = NAN;
        return VG_RULE_END;
    }
    return VG_RULE_NONE;
}

/* ---- options ---- */

#define OFF(x) offsetof(vg_intrusion_params_t, x)
static const vg_option_t intrusion_options[] = {
    {.name = "min_dwell",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_dwell),
     .def.d = 1.0,
     .min = 0,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time inside a zone (or with its condition) before an intrusion starts"},
    {.name = "end_after",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(end_after),
     .def.d = 2.0,
     .min = 0,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time without the condition before an intrusion ends"},
    {.name = "cooldown",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(cooldown),
     .def.d = 10.0,
     .min = 0,
     .max = 86400,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "after an intrusion ends, the same object cannot raise another for this long"},
    {.name = "walk_speed_max",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(walk_speed_max),
     .def.d = 2.5,
     .min = 0.5,
     .max = 20,
     .unit = "m/s",
     .flags = VG_OPT_LIVE,
     .help = "pedestrian_only zones: faster is not a walking person (calibrated scenes)"},
    {.name = "walk_heights",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(walk_heights),
     .def.d = 1.5,
     .min = 0.2,
     .max = 20,
     .unit = "heights/s",
     .flags = VG_OPT_LIVE,
     .help = "the same without calibration, in body heights per second"},
    {.name = "class_score",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(class_score),
     .def.d = 0.4,
     .min = 0.05,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "pedestrian_only zones: a detector label (bicycle, car...) at least this sure names "
             "the object"},
    {.name = "class_looks",
     .type = VG_OPT_INT,
     .offset = OFF(class_looks),
     .def.i = 2,
     .min = 1,
     .max = 100,
     .flags = VG_OPT_LIVE,
     .help = "pedestrian_only zones: detector looks that must see a vehicle class on a track "
             "before it counts (one sighting may be a mistake)"},
    {.name = "class_fade",
     .type = VG_OPT_INT,
     .offset = OFF(class_fade),
     .def.i = 10,
     .min = 0,
     .max = 1000,
     .flags = VG_OPT_LIVE,
     .help = "pedestrian_only zones: a vehicle label loses half its weight after this many "
             "detector looks in a row see no vehicle on the track (0: never)"},
    {.name = "score_smooth",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(score_smooth),
     .def.d = 0.4,
     .min = 0,
     .max = 60,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "the frame's intrusion score (for frame-level evaluation and display, not events) is "
             "an exponential average over this time: one frame's detector mistake weighs less "
             "(0: the raw score)"},
    {.name = "score_min",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(score_min),
     .def.d = 0.5,
     .min = 0.01,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "pedestrian_only zones: intrusion score (class or speed) an event needs"},
    {.name = NULL},
};
#undef OFF
const vg_option_group_t vg_intrusion_option_group = {
    "intrusion", "forbidden and pedestrian-only zones, forbidden line crossings",
    intrusion_options};

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

/* ---- zone rules ---- */

enum { MAX_ZONES = 64, MAX_LINES = 64 };

typedef struct track_state {
    int64_t id;
    int64_t seen_frame; /* last frame it was in the tracker's list */
    vg_rule_t intr[MAX_ZONES];
    vg_rule_t ww[MAX_ZONES];
    int ww_done[MAX_ZONES];
    double against[MAX_ZONES]; /* distance travelled against each zone's direction */
    vg_rule_t line[MAX_LINES];
    int side[MAX_LINES]; /* -1 left, 1 right, 0 unknown */
    double px, py;       /* last foot point (input pixels) */
    double gx, gy;       /* and on the ground (when calibrated) */
    double t;            /* time of the last frame it was seen */
    int has_prev;
} track_state_t;

#define MAX_VEH 64

struct vg_zone_rules {
    const vg_scene_t *scene;
    vg_intrusion_params_t ip;
    vg_wrong_way_params_t wp;
    vg_calib_t calib;
    int nz, nl;
    /* per zone: the camera's values with the zone's own settings over them */
    vg_intrusion_params_t zip[MAX_ZONES];
    vg_wrong_way_params_t zwp[MAX_ZONES];
    track_state_t *ts;
    int nts, capts;
    /* vehicle detections of the previous detector result and of the current one (analysis
     * pixels), to weigh a detection seen only once */
    float prev[MAX_VEH][4], cur[MAX_VEH][4];
    int nprev, ncur;
    int64_t cur_frame;
};

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

typedef struct emitter {
    vg_zone_rules_t *z;
    vg_emit_fn emit;
    void *opaque;
    const char *kind_detail;
} emitter_t;

/* Start or end record of rule @r (event @type, zone or line @name) for track @ts. */
static int send(vg_zone_rules_t *z, vg_emit_fn emit, void *opaque, vg_event_type_t type,
                vg_rule_t *r, vg_rule_action_t act, const char *name, const track_state_t *ts,
                int64_t frame, double t, const char *kind, const char *reason, int cls,
                double class_score, double speed, double distance)
{
    vg_event_t ev;
    vg_event_init(&ev, type, act == VG_RULE_START ? VG_PHASE_START : VG_PHASE_END);
    ev.event_id = act == VG_RULE_START ? 0 : r->event_id;
    ev.frame = act == VG_RULE_START ? r->best_frame : frame;
    ev.t = t;
    ev.score = r->best_score > 1 ? 1 : r->best_score;
    vg_event_set_zone(&ev, name);
    vg_event_set_box(&ev, r->best_box[0], r->best_box[1], r->best_box[2], r->best_box[3]);
    const char *unit_speed = z->calib.valid ? "m/s" : "heights/s";
    vg_event_detail_int(&ev, "track", ts->id);
    if (act == VG_RULE_START) {
        if (kind) vg_event_detail_str(&ev, "kind", kind);
        if (reason) vg_event_detail_str(&ev, "reason", reason);
        vg_event_detail_str(&ev, "class", cls >= 0 ? vg_coco_name(cls) : "unknown");
        if (cls >= 0) vg_event_detail_num(&ev, "class_score", class_score);
        vg_event_detail_num(&ev, "speed", speed);
        vg_event_detail_str(&ev, "speed_unit", unit_speed);
        if (distance >= 0) {
            vg_event_detail_num(&ev, "distance", distance);
            vg_event_detail_str(&ev, "distance_unit", z->calib.valid ? "m" : "px");
        }
        vg_event_detail_bool(&ev, "calibrated", z->calib.valid);
    } else {
        vg_event_detail_num(&ev, "duration", t - r->started);
        vg_event_detail_int(&ev, "evidence_frame", r->best_frame);
    }
    int ret = emit(opaque, &ev);
    if (act == VG_RULE_START) r->event_id = ev.event_id;
    return ret;
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
        double box[4] = {tk->box[0] * sx, tk->box[1] * sy, tk->box[2] * sx, tk->box[3] * sy};
        double fx = box[0] + box[2] / 2, fy = box[1] + box[3]; /* foot point */
        double vx = tk->vx * sx, vy = tk->vy * sy;             /* input px/s */
        /* speed, and the step since the last frame, on the ground or in pixels */
        double speed, gx = fx, gy = fy;
        if (z->calib.valid && vg_calib_to_ground(&z->calib, fx, fy, &gx, &gy) == 0) {
            double ax, ay;
            if (vg_calib_to_ground(&z->calib, fx + vx, fy + vy, &ax, &ay) == 0)
                speed = hypot(ax - gx, ay - gy);
            else
                speed = 0;
        } else {
            speed = box[3] > 1 ? hypot(vx, vy) / box[3] : 0;
            gx = fx, gy = fy;
        }
        const vg_track_label_t *lb = det ? vg_detections_label(det, tk->id) : NULL;
        int lost = tk->state == VG_TRACK_LOST, cls = lb ? lb->cls : -1;
        double class_score = lb ? lb->score : 0;
        /* zones */
        for (int k = 0; k < z->nz; k++) {
            const vg_zone_t *zn = &sc->zones[k];
            const vg_intrusion_params_t *zp = &z->zip[k];
            const vg_wrong_way_params_t *wq = &z->zwp[k];
            vg_rule_timing_t tm = {zp->min_dwell, zp->end_after, zp->cooldown};
            vg_rule_timing_t tm_ww = {0, zp->end_after, 1e18}; /* once per track */
            /* a vehicle class seen on the track in enough looks (one sighting may be a mistake)
             * wins over its, often person, label. Also asking for a share of the looks lowered
             * UCSD Ped2's frame AUC (0.875 -> 0.860): kept out. */
            int veh = lb && lb->vehicle_cls >= 0 && lb->vehicle_looks >= zp->class_looks;
            cls = lb ? (veh ? lb->vehicle_cls : lb->cls) : -1;
            class_score = lb ? (veh ? lb->vehicle : lb->score) : 0;
            /* a vehicle label that the detector's later looks keep contradicting fades: half
             * its weight after class_fade looks in a row without a vehicle on the track */
            if (veh && zp->class_fade > 0)
                class_score *= pow(0.5, (double)lb->vehicle_misses / zp->class_fade);
            int inside = !lost && vg_polygon_contains(&zn->polygon, fx, fy);
            if (zn->kind == VG_ZONE_FORBIDDEN || zn->kind == VG_ZONE_PEDESTRIAN_ONLY) {
                double s = inside ? 1.0 : 0;
                const char *reason = "in_zone";
                if (zn->kind == VG_ZONE_PEDESTRIAN_ONLY && inside) {
                    double vmax = z->calib.valid ? zp->walk_speed_max : zp->walk_heights;
                    double s_speed = 1 / (1 + exp(-6 * (speed / vmax - 1)));
                    double s_class =
                        vg_coco_is_vehicle(cls) && class_score >= zp->class_score ? class_score : 0;
                    s = s_class >= s_speed ? s_class : s_speed;
                    reason = s_class >= s_speed ? "class" : "speed";
                    if (s > frame_score) frame_score = s;
                }
                int cond = inside && s >= (zn->kind == VG_ZONE_FORBIDDEN ? 0.5 : zp->score_min);
                /* a track that went lost keeps its open event until end_after (it may be
                 * occluded): lost counts as "absent", so the end comes after end_after */
                vg_rule_action_t act = vg_rule_update(&ts->intr[k], &tm, cond, t, s, frame, box);
                if (act && (ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->intr[k], act,
                                       zn->name, ts, frame, t, vg_zone_kind_name(zn->kind), reason,
                                       cls, class_score, speed, -1)) < 0)
                    return ret;
            }
            if (zn->has_direction) {
                /* distance against the allowed direction: the tracker's filtered velocity times
                 * the time since the last frame (the foot point itself jumps with segmentation:
                 * a box clipped by the frame's edge, a shadow joining) */
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
                              speed >= wq->min_speed && tk->hits >= 5;
                if (against)
                    ts->against[k] += -along;
                else if (!inside)
                    ts->against[k] = 0; /* left the zone: start again */
                double need = z->calib.valid ? wq->min_distance : wq->min_distance_px;
                int cond = !ts->ww_done[k] && inside && ts->against[k] >= need;
                if (ts->ww[k].active) cond = inside; /* open until it leaves */
                vg_rule_action_t act =
                    vg_rule_update(&ts->ww[k], &tm_ww, cond, t,
                                   fmin(1, ts->against[k] / need / 2 + 0.5), frame, box);
                if (act == VG_RULE_START) ts->ww_done[k] = 1;
                if (act &&
                    (ret = send(z, emit, opaque, VG_EVENT_WRONG_WAY, &ts->ww[k], act, zn->name, ts,
                                frame, t, NULL, NULL, cls, class_score, speed, ts->against[k])) < 0)
                    return ret;
            }
        }
        /* lines: a crossing is a change of side between two frames across the segment */
        for (int k = 0; k < z->nl; k++) {
            const vg_line_t *ln = &sc->lines[k];
            double ax = ln->a.x, ay = ln->a.y, bx = ln->b.x, by = ln->b.y;
            double cr = (bx - ax) * (fy - ay) - (by - ay) * (fx - ax);
            int side = cr > 0 ? 1 : cr < 0 ? -1 : 0, crossed = 0;
            if (!lost && side && ts->side[k] && side != ts->side[k] && ts->has_prev) {
                /* the step must cut the segment itself, not its extension */
                double ex = fx - ts->px, ey = fy - ts->py;
                double den = (bx - ax) * ey - (by - ay) * ex;
                if (fabs(den) > 1e-12) {
                    double u = ((ts->px - ax) * ey - (ts->py - ay) * ex) / den;
                    if (u >= 0 && u <= 1) {
                        int ltr = ts->side[k] < 0 && side > 0;
                        crossed = ln->forbidden == VG_CROSS_BOTH ||
                                  (ln->forbidden == VG_CROSS_LEFT_TO_RIGHT && ltr) ||
                                  (ln->forbidden == VG_CROSS_RIGHT_TO_LEFT && !ltr);
                    }
                }
            }
            if (side && !lost) ts->side[k] = side;
            vg_rule_action_t act =
                vg_rule_update(&ts->line[k], &tm_line, crossed, t, 1.0, frame, box);
            if (act && (ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->line[k], act, ln->name,
                                   ts, frame, t, "line", vg_crossing_name(ln->forbidden), cls,
                                   class_score, speed, -1)) < 0)
                return ret;
        }
        if (!lost) {
            ts->px = fx, ts->py = fy, ts->gx = gx, ts->gy = gy, ts->t = t;
            ts->has_prev = 1;
        }
    }
    /* the frame's score also takes the detector's own boxes: a bicycle, car... whose foot point
     * is in a pedestrian_only zone, tracked or not (a cyclist in a crowd often is not). One that
     * the previous detector result did not also see there (overlapping by a third) counts half:
     * single sightings are mostly mistakes (UCSD Ped2: a bicycle imagined on a walker). */
    if (det && det->frame_index >= 0 && det->frame_index != z->cur_frame) {
        memcpy(z->prev, z->cur, sizeof(z->prev));
        z->nprev = z->ncur;
        z->ncur = 0;
        for (int i = 0; i < det->n && z->ncur < MAX_VEH; i++)
            if (vg_coco_is_vehicle(det->det[i].cls)) {
                float *b = z->cur[z->ncur++];
                b[0] = det->det[i].x, b[1] = det->det[i].y, b[2] = det->det[i].w;
                b[3] = det->det[i].h;
            }
        z->cur_frame = det->frame_index;
    }
    for (int i = 0; det && i < det->n; i++) {
        const vg_detection_t *d = &det->det[i];
        if (!vg_coco_is_vehicle(d->cls)) continue;
        double fx = (d->x + d->w / 2) * sx, fy = (d->y + d->h) * sy;
        int again = 0;
        for (int j = 0; j < z->nprev && !again; j++) {
            const float *b = z->prev[j];
            const double bd[4] = {b[0], b[1], b[2], b[3]}, dd[4] = {d->x, d->y, d->w, d->h};
            double in = vg_box_inter(bd, dd);
            again = in >= (b[2] * b[3] + d->w * d->h - in) / 3; /* IoU >= 1/3, areas in float */
        }
        double ds = again ? d->score : d->score / 2;
        for (int k = 0; k < z->nz; k++)
            if (sc->zones[k].kind == VG_ZONE_PEDESTRIAN_ONLY && d->score >= z->zip[k].class_score &&
                vg_polygon_contains(&sc->zones[k].polygon, fx, fy) && ds > frame_score)
                frame_score = ds;
    }
    /* tracks that are gone: their conditions are absent; drop them once nothing is open */
    for (int i = 0; i < z->nts; i++) {
        track_state_t *ts = &z->ts[i];
        if (ts->seen_frame == frame) continue;
        int open = 0;
        for (int k = 0; k < z->nz; k++) {
            vg_rule_timing_t tm = {z->zip[k].min_dwell, z->zip[k].end_after, z->zip[k].cooldown};
            vg_rule_timing_t tm_ww = {0, z->zip[k].end_after, 1e18};
            vg_rule_action_t a1 = vg_rule_update(&ts->intr[k], &tm, 0, t, 0, frame, NULL);
            if (a1 && (ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->intr[k], a1,
                                  sc->zones[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) < 0)
                return ret;
            vg_rule_action_t a2 = vg_rule_update(&ts->ww[k], &tm_ww, 0, t, 0, frame, NULL);
            if (a2 && (ret = send(z, emit, opaque, VG_EVENT_WRONG_WAY, &ts->ww[k], a2,
                                  sc->zones[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) < 0)
                return ret;
            open |= ts->intr[k].active | ts->ww[k].active;
        }
        for (int k = 0; k < z->nl; k++) {
            vg_rule_action_t a = vg_rule_update(&ts->line[k], &tm_line, 0, t, 0, frame, NULL);
            if (a && (ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->line[k], a,
                                 sc->lines[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) < 0)
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
                if ((ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->intr[k], VG_RULE_END,
                                z->scene->zones[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) <
                    0)
                    return ret;
            }
            if (ts->ww[k].active) {
                ts->ww[k].active = 0;
                if ((ret = send(z, emit, opaque, VG_EVENT_WRONG_WAY, &ts->ww[k], VG_RULE_END,
                                z->scene->zones[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) <
                    0)
                    return ret;
            }
        }
        for (int k = 0; k < z->nl; k++)
            if (ts->line[k].active) {
                ts->line[k].active = 0;
                if ((ret = send(z, emit, opaque, VG_EVENT_INTRUSION, &ts->line[k], VG_RULE_END,
                                z->scene->lines[k].name, ts, frame, t, NULL, NULL, -1, 0, 0, -1)) <
                    0)
                    return ret;
            }
    }
    z->nts = 0;
    return 0;
}

/* ---- vehicles in view ---- */

int vg_vehicle_boxes(const vg_detections_t *det, const vg_tracker_t *tr, int motor_only,
                     double margin, double lead, double (*out)[4], int max)
{
    int n = 0, nt = 0;
    if (!det) return 0;
    for (int d = 0; d < det->n && n < max; d++) {
        const vg_detection_t *q = &det->det[d];
        if (motor_only ? !vg_coco_is_motor_vehicle(q->cls) : !vg_coco_is_vehicle(q->cls)) continue;
        out[n][0] = q->x, out[n][1] = q->y, out[n][2] = q->w, out[n][3] = q->h;
        n++;
    }
    const vg_track_t *t = tr ? vg_tracker_tracks(tr, &nt) : NULL;
    for (int i = 0; i < nt && n < max; i++) {
        const vg_track_label_t *l = vg_detections_label(det, t[i].id);
        if (!l || l->vehicle < 0.4f || l->vehicle < l->person ||
            (motor_only && !vg_coco_is_motor_vehicle(l->vehicle_cls)))
            continue;
        const double *b = t[i].box;
        double mx = t[i].vx * lead, my = t[i].vy * lead;
        out[n][0] = b[0] - margin + fmin(0, mx);
        out[n][1] = b[1] - margin + fmin(0, my);
        out[n][2] = b[2] + 2 * margin + fabs(mx);
        out[n][3] = b[3] + 2 * margin + fabs(my);
        n++;
    }
    return n;
}
