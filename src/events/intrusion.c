/*
 * The intrusion event: a tracked object whose foot point is inside a `forbidden` zone; or, in a
 * `pedestrian_only` zone, anything that is not a walking person. Lines are line_crossing.c's.
 *
 * Intrusion score in a pedestrian_only zone: the larger of the detector's confidence that the
 * track is a non-pedestrian class (bicycle, car, motorcycle, bus, truck, skateboard) and a
 * logistic of the speed ratio to walk_speed_max (0.5 at the limit, 0.95 at 1.5 times it). The
 * frame score (for frame-level evaluation) also takes the detector's own vehicle boxes, tracked
 * or not.
 */
#include <math.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/rules.h>

#include "zone_rules_priv.h"

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

int vg__intrusion_zone_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                            int64_t frame, double t, int *cls_io, double *class_score_io,
                            double *frame_score, vg_emit_fn emit, void *opaque)
{
    const vg_zone_t *zn = &z->scene->zones[k];
    const vg_intrusion_params_t *zp = &z->zip[k];
    const vg_track_label_t *lb = m->lb;
    vg_rule_timing_t tm = {zp->min_dwell, zp->end_after, zp->cooldown};
    /* a vehicle class seen on the track in enough looks (one sighting may be a mistake)
     * wins over its, often person, label. Also asking for a share of the looks lowered
     * UCSD Ped2's frame AUC (0.875 -> 0.860): kept out. */
    int veh = lb && lb->vehicle_cls >= 0 && lb->vehicle_looks >= zp->class_looks;
    int cls = lb ? (veh ? lb->vehicle_cls : lb->cls) : -1;
    double class_score = lb ? (veh ? lb->vehicle : lb->score) : 0;
    /* a vehicle label that the detector's later looks keep contradicting fades: half
     * its weight after class_fade looks in a row without a vehicle on the track */
    if (veh && zp->class_fade > 0)
        class_score *= pow(0.5, (double)lb->vehicle_misses / zp->class_fade);
    *cls_io = cls;
    *class_score_io = class_score;
    if (zn->kind != VG_ZONE_FORBIDDEN && zn->kind != VG_ZONE_PEDESTRIAN_ONLY) return 0;
    int inside = !m->lost && vg_polygon_contains(&zn->polygon, m->fx, m->fy);
    double s = inside ? 1.0 : 0;
    const char *reason = "in_zone";
    if (zn->kind == VG_ZONE_PEDESTRIAN_ONLY && inside) {
        double vmax = z->calib.valid ? zp->walk_speed_max : zp->walk_heights;
        double s_speed = 1 / (1 + exp(-6 * (m->speed / vmax - 1)));
        double s_class =
            vg_coco_is_vehicle(cls) && class_score >= zp->class_score ? class_score : 0;
        s = s_class >= s_speed ? s_class : s_speed;
        reason = s_class >= s_speed ? "class" : "speed";
        if (s > *frame_score) *frame_score = s;
    }
    int cond = inside && s >= (zn->kind == VG_ZONE_FORBIDDEN ? 0.5 : zp->score_min);
    /* a track that went lost keeps its open event until end_after (it may be
     * occluded): lost counts as "absent", so the end comes after end_after */
    vg_rule_action_t act = vg_rule_update(&ts->intr[k], &tm, cond, t, s, frame, m->box);
    if (!act) return 0;
    zone_hit_t h = {
        VG_EVENT_INTRUSION, zn->name, vg_zone_kind_name(zn->kind), reason, cls, class_score,
        m->speed,           -1};
    return vg__zone_send(z, emit, opaque, &ts->intr[k], act, &h, ts, frame, t);
}

/* The frame's score also takes the detector's own boxes: a bicycle, car... whose foot point
 * is in a pedestrian_only zone, tracked or not (a cyclist in a crowd often is not). One that
 * the previous detector result did not also see there (overlapping by a third) counts half:
 * single sightings are mostly mistakes (UCSD Ped2: a bicycle imagined on a walker). */
void vg__intrusion_frame_score(vg_zone_rules_t *z, const vg_detections_t *det, double sx, double sy,
                               double *frame_score)
{
    const vg_scene_t *sc = z->scene;
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
                vg_polygon_contains(&sc->zones[k].polygon, fx, fy) && ds > *frame_score)
                *frame_score = ds;
    }
}
