/*
 * The rule engine every event type shares (<vigie/rules.h>): the state machine that turns a
 * condition evaluated frame after frame into start and end records (on_time, off_time,
 * cooldown, the evidence frame and box where the condition was strongest), and where the
 * vehicles are this frame — what the crowd analysers leave out of a crowd.
 */
#include <math.h>
#include <string.h>

#include <vigie/rules.h>

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
