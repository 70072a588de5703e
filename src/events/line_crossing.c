/*
 * Line crossing (an intrusion event of kind "line"): a crossing is a change of side between two
 * frames across the segment itself (not its extension), in the line's forbidden direction.
 */
#include <math.h>

#include <vigie/rules.h>

#include "zone_rules_priv.h"

int vg__line_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                  int64_t frame, double t, int cls, double class_score, vg_emit_fn emit,
                  void *opaque)
{
    const vg_line_t *ln = &z->scene->lines[k];
    vg_rule_timing_t tm_line = {0, z->ip.end_after, z->ip.cooldown};
    double fx = m->fx, fy = m->fy;
    double ax = ln->a.x, ay = ln->a.y, bx = ln->b.x, by = ln->b.y;
    double cr = (bx - ax) * (fy - ay) - (by - ay) * (fx - ax);
    int side = cr > 0 ? 1 : cr < 0 ? -1 : 0, crossed = 0;
    if (!m->lost && side && ts->side[k] && side != ts->side[k] && ts->has_prev) {
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
    if (side && !m->lost) ts->side[k] = side;
    vg_rule_action_t act = vg_rule_update(&ts->line[k], &tm_line, crossed, t, 1.0, frame, m->box);
    if (!act) return 0;
    zone_hit_t h = {VG_EVENT_INTRUSION, ln->name, "line", vg_crossing_name(ln->forbidden), cls,
                    class_score,        m->speed, -1};
    return vg__zone_send(z, emit, opaque, &ts->line[k], act, &h, ts, frame, t);
}
