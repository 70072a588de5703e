/*
 * Crowd movement (the "crowd_movement" stage, crowd_stage.c, is its adapter): a sudden change in
 * how a crowd moves — people breaking into a run, a dispersal from a point, a convergence on one, a
 * group walking against a one-way stream — from the optical flow of moving people, compared with
 * what this camera normally sees.
 *
 * Method, each frame after the first:
 * - Optical flow between the previous and this analysis picture (src/vision/flow.c): a grid of
 *   vectors every 16 analysis pixels (the stage publishes it in VG_SLOT_FLOW).
 * - A cell moves when at least a quarter of its pixels are moving foreground (the motion core's
 *   mask) and its vector is at least crowd_movement.moving_px pixels a frame; cells in a detector
 *   box of a vehicle are left out (a passing car is not a crowd). A camera shake moves the
 *   background cells too: when their median motion exceeds crowd_movement.shake_px the frame is
 *   skipped (nothing learned, nothing decided).
 * - Per subject (the whole picture, and each `watch` zone by its cells' centres): the moving
 *   cells' mean speed (px/s in input pixels, or m/s with the scene's calibration), its spread,
 *   the share of cells moving faster than run_ratio times the baseline ("fast share"), the
 *   divergence (mean outward component of the vectors from the moving cells' centroid, as a share
 *   of the mean speed), the dominant direction with the entropy of 8 direction bins (centred on
 *   the compass points), the share of cells going against the normal direction (the opposite
 *   3-bin sector of the learned one), and what share of the fast cells and of the counter cells
 *   their largest rigid body holds (body_share: a vehicle is one body, a crowd many people);
 *   each averaged over SMOOTH seconds (the flow of one frame is noisy).
 * - Baseline: the mean speed learned online from the frames with a crowd (>= min_cells moving
 *   cells): their plain mean until baseline_time seconds of them, then an exponential average over
 *   baseline_time; frozen while the speed is unusual (>= disperse_ratio x baseline) or an event is
 *   open; nothing is decided during the first `warmup` seconds of such frames. A long time
 *   constant follows the time of day without absorbing a sudden change. The normal directions
 *   (a histogram of 8 shares) are learned alongside, from frames with no condition.
 * - Conditions: dispersal — divergence >= divergence, speed >= disperse_ratio x baseline and
 *   directions spread (entropy >= `entropy` bits: out from a point goes every way, unlike two
 *   groups walking towards each other); convergence — the same inward; else counter_flow — the
 *   normal flow is one-way (>= `oneway` of it within the best 3-bin sector) and >= counter_share
 *   of the moving cells go against it, no rigid body holding over max_body of them; else running —
 * speed >= run_ratio x baseline and fast share >= fast_share (one runner among walkers is a small
 *   share), no rigid body holding over max_body of the fast cells (a vehicle, a lone runner). The
 *   shared rule machine (vg_rule_t) needs the condition for min_duration, ends it after end_after
 *   without, and keeps cooldown between two events of a subject. details.kind says which
 *   condition started it.
 */
#include <math.h>
#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <vigie/calib.h>
#include <vigie/crowd.h>
#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/flow.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/rules.h>
#include <vigie/track.h>
#include <vigie/vision.h>

#include "events_priv.h"

#define MAX_SUBJECTS 65  /* the picture and up to 64 watch zones */
#define SMOOTH       0.3 /* s: the frame statistics are averaged this long (flow is noisy) */
#define MAX_VEHICLES 64

#define OFF(x) offsetof(vg_crowd_params_t, x)
#define D(n_, f_, def_, lo_, hi_, u_, fl_, h_)                                                     \
    {                                                                                              \
        .name = n_, .type = VG_OPT_DOUBLE, .offset = OFF(f_), .def.d = def_, .min = lo_,           \
        .max = hi_, .unit = u_, .flags = fl_, .help = h_                                           \
    }
const vg_option_t vg__crowd_options[] = {
    D("baseline_time", baseline_time, 120, 5, 86400, "s", VG_OPT_LIVE,
      "time constant of the normal speed learned on this camera"),
    D("warmup", warmup, 10, 0, 3600, "s", VG_OPT_LIVE,
      "scene time with a crowd in view before anything is decided"),
    D("run_ratio", run_ratio, 2.5, 1.1, 100, NULL, VG_OPT_LIVE,
      "running: the crowd's speed over its normal speed at least this"),
    D("fast_share", fast_share, 0.3, 0, 1, NULL, VG_OPT_LIVE,
      "running: share of the moving cells that must be that fast (one runner is not a crowd)"),
    D("disperse_ratio", disperse_ratio, 1.5, 1, 100, NULL, VG_OPT_LIVE,
      "dispersal or convergence: the crowd's speed over its normal speed at least this"),
    D("divergence", divergence, 0.5, 0.05, 1, NULL, VG_OPT_LIVE,
      "dispersal (convergence): mean outward (inward) motion as a share of the speed"),
    D("entropy", entropy, 2.0, 0, 3, "bits", VG_OPT_LIVE,
      "dispersal or convergence: least entropy of the 8 directions of motion (many directions)"),
    D("moving_px", moving_px, 0.3, 0, 100, "px/frame", VG_OPT_LIVE,
      "least motion of a moving cell, analysis pixels a frame"),
    D("shake_px", shake_px, 1.5, 0.1, 100, "px/frame", VG_OPT_LIVE,
      "median motion of the background beyond which the camera shook (frame skipped)"),
    D("min_duration", min_duration, 0.5, 0, 60, "s", VG_OPT_LIVE,
      "the condition must hold this long before an event starts"),
    D("end_after", end_after, 3.0, 0, 600, "s", VG_OPT_LIVE,
      "an event ends after this long without its condition"),
    D("cooldown", cooldown, 30, 0, 86400, "s", VG_OPT_LIVE,
      "least time between two events of the same place"),
    {.name = "min_cells",
     .type = VG_OPT_INT,
     .offset = OFF(min_cells),
     .def.i = 12,
     .min = 1,
     .max = 100000,
     .flags = VG_OPT_LIVE,
     .help = "moving 16-pixel cells that make a crowd (fewer: not judged, not learned)"},
    D("oneway", oneway, 0.75, 0.3, 1, NULL, VG_OPT_LIVE,
      "counter-flow: the normal flow's share within 67 degrees of its main direction at least "
      "this (a one-way stream; two-way scenes have no counter-flow)"),
    D("counter_share", counter_share, 0.25, 0.05, 1, NULL, VG_OPT_LIVE,
      "counter-flow: share of the moving cells going against the normal direction at least this "
      "(one person walking the wrong way is wrong_way's)"),
    D("max_body", max_body, 0.85, 0.05, 1, NULL, VG_OPT_LIVE,
      "running, counter-flow: the largest body moving rigidly may hold at most this share of "
      "the fast (counter) cells (a vehicle or a lone runner holds them all)"),
    {.name = NULL},
};
#undef D
#undef OFF
const vg_option_group_t vg_crowd_option_group = {
    "crowd_movement", "crowd movement: people breaking into a run, a dispersal, a convergence",
    vg__crowd_options};

typedef struct subject {
    int zone; /* -1: the whole picture */
    double baseline, warm;
    double s_mean, s_fast, s_div, s_ent; /* the frame statistics averaged over SMOOTH seconds */
    double s_counter;                    /* share against the normal direction, averaged */
    double s_body, s_cbody; /* share of the fast (counter) cells on the largest rigid body */
    double dirs[8];         /* the normal flow's direction histogram (shares) */
    int has_dirs;
    int has_smooth;
    int has_baseline;
    vg_rule_t rule;
    const char *kind;
} subject_t;

struct vg_crowd {
    vg_crowd_params_t p;
    const vg_scene_t *scene;
    char camera[64];
    vg_flow_t *flow; /* holds the previous analysis picture's pyramid */
    int w, h;
    double prev_t;
    int has_prev;
    vg_calib_t calib;
    subject_t sub[MAX_SUBJECTS];
    int nsub;
    float *vec; /* per cell: vx, vy (px/frame, analysis) */
    uint8_t *moving;
    int gw, gh;
    double step;
    float *bg;     /* scratch: background magnitudes */
    float *spd;    /* per moving cell: its speed (m/s or input px/s), once per frame */
    uint8_t *sel;  /* scratch: the moving cells of the subject being judged */
    int disabled;  /* the picture is too small for the flow: said once, nothing done */
    uint8_t *flag; /* per cell: bit 0 fast, bit 1 against the normal direction */
    int *stack;    /* scratch for the components */
    uint16_t *fgn; /* per cell: its moving-foreground samples, and all its samples */
    uint16_t *tot;
    uint8_t *want; /* per cell: the flow is searched there (foreground in or beside the cell) */
};

/* The moving-foreground pixels among @m's x0, x0 + 2, ... below x1 (a cell's samples). */
static inline int fg_samples(const uint8_t *m, int x0, int x1)
{
#ifdef __SSE2__
    if (x1 - x0 == 16) { /* the usual cell: its 16 pixels compared at once, the even ones kept */
        __m128i v = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(m + x0)),
                                   _mm_set1_epi8((char)VG_MASK_FG));
        return __builtin_popcount((unsigned)_mm_movemask_epi8(v) & 0x5555u);
    }
#endif
    int n = 0;
    for (int x = x0; x < x1; x += 2) n += m[x] == VG_MASK_FG;
    return n;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/*
 * The share of the cells flagged @bit (in 8-connected components of at least 2 cells) that the
 * largest rigid body holds: a component moving as one (>= 60 % of its cells within 35 % of its
 * median vector). A vehicle, or a lone runner, is one body holding nearly all; a crowd breaking
 * into a run is many people, apart (or, where they touch, not moving as one). 1 when no cell is
 * flagged. Clears @bit.
 */
static double body_share(vg_crowd_t *c, int bit)
{
    int best = 0, total = 0, gw = c->gw, gh = c->gh, ncell = gw * gh;
    int *comp = c->stack + ncell; /* the component's cells */
    for (int k0 = 0; k0 < ncell; k0++) {
        if (!(c->flag[k0] & bit)) continue;
        int sp = 0, n = 0;
        c->flag[k0] &= (uint8_t)~bit;
        c->stack[sp++] = k0;
        while (sp) {
            int k = c->stack[--sp], i = k % gw, j = k / gw;
            comp[n++] = k;
            for (int dj = -1; dj <= 1; dj++)
                for (int di = -1; di <= 1; di++) {
                    int ii = i + di, jj = j + dj, kk = jj * gw + ii;
                    if (ii < 0 || jj < 0 || ii >= gw || jj >= gh || !(c->flag[kk] & bit)) continue;
                    c->flag[kk] &= (uint8_t)~bit;
                    c->stack[sp++] = kk;
                }
        }
        if (n < 2) continue;
        total += n;
        if (n <= best) continue; /* cannot be the largest */
        for (int q = 0; q < n; q++) c->bg[q] = c->vec[2 * comp[q]];
        qsort(c->bg, (size_t)n, sizeof(float), cmp_float);
        double mx = c->bg[n / 2];
        for (int q = 0; q < n; q++) c->bg[q] = c->vec[2 * comp[q] + 1];
        qsort(c->bg, (size_t)n, sizeof(float), cmp_float);
        double my = c->bg[n / 2], tol = 0.35 * hypot(mx, my);
        int rigid = 0;
        for (int q = 0; q < n; q++)
            rigid += hypot(c->vec[2 * comp[q]] - mx, c->vec[2 * comp[q] + 1] - my) <= tol;
        if (rigid >= 0.6 * n) best = n;
    }
    return total ? (double)best / total : 1;
}

/* Speed of a vector @v (analysis px/frame) at analysis point (x, y), per second, in m (calibrated)
 * or input pixels. */
static double speed_of(const vg_crowd_t *c, const vg_frame_t *f, double x, double y, const float *v,
                       double dt)
{
    double sx = (double)f->in_w / f->image.w, sy = (double)f->in_h / f->image.h;
    if (c->calib.valid) {
        double g0x, g0y, g1x, g1y;
        if (vg_calib_to_ground(&c->calib, x * sx, y * sy, &g0x, &g0y) == 0 &&
            vg_calib_to_ground(&c->calib, (x + v[0]) * sx, (y + v[1]) * sy, &g1x, &g1y) == 0)
            return hypot(g1x - g0x, g1y - g0y) / dt;
    }
    return hypot(v[0] * sx, v[1] * sy) / dt;
}

static int judge(vg_crowd_t *c, const vg_crowd_input_t *in, subject_t *s, double dt,
                 vg_emit_fn emit, void *opaque)
{
    const vg_crowd_params_t *p = &c->p;
    const vg_frame_t *f = in->frame;
    const vg_zone_t *z = s->zone >= 0 ? &c->scene->zones[s->zone] : NULL;
    double sx = (double)f->in_w / f->image.w, sy = (double)f->in_h / f->image.h;
    int n = 0;
    double sum = 0, sum2 = 0, mx = 0, my = 0, box[4] = {1e9, 1e9, -1e9, -1e9};
    double hist[8] = {0};
    /* pass 1: speeds and centroid */
    for (int j = 0; j < c->gh; j++)
        for (int i = 0; i < c->gw; i++) {
            int k = j * c->gw + i;
            if (!c->moving[k]) continue;
            double x = (i + 0.5) * c->step, y = (j + 0.5) * c->step;
            c->sel[k] = !z || vg_polygon_contains(&z->polygon, x * sx, y * sy);
            if (!c->sel[k]) continue;
            double v = c->spd[k];
            n++;
            sum += v;
            sum2 += v * v;
            mx += x;
            my += y;
            box[0] = fmin(box[0], x - c->step / 2);
            box[1] = fmin(box[1], y - c->step / 2);
            box[2] = fmax(box[2], x + c->step / 2);
            box[3] = fmax(box[3], y + c->step / 2);
            double ang = atan2(c->vec[2 * k + 1], c->vec[2 * k]);
            hist[((int)floor((ang + M_PI + M_PI / 8) / (2 * M_PI) * 8)) & 7] += 1;
        }
    int crowd = n >= p->min_cells;
    double mean = n ? sum / n : 0, spread = n ? sqrt(fmax(0, sum2 / n - mean * mean)) : 0;
    double fast = 0, div = 0, counter = 0;
    double body = 1, cbody = 1;
    /* the normal direction: the baseline histogram's best 3-bin sector */
    int nd = 0;
    double oneway = 0;
    if (s->has_dirs)
        for (int b = 0; b < 8; b++) {
            double w = s->dirs[(b + 7) & 7] + s->dirs[b] + s->dirs[(b + 1) & 7];
            if (w > oneway) oneway = w, nd = b;
        }
    if (crowd) {
        mx /= n;
        my /= n;
        double thr = s->has_baseline ? p->run_ratio * s->baseline : INFINITY;
        for (int j = 0; j < c->gh; j++)
            for (int i = 0; i < c->gw; i++) {
                int k = j * c->gw + i;
                if (!c->moving[k] || !c->sel[k]) continue;
                double x = (i + 0.5) * c->step, y = (j + 0.5) * c->step;
                if (c->spd[k] >= thr) {
                    fast += 1;
                    c->flag[k] |= 1;
                }
                double ang = atan2(c->vec[2 * k + 1], c->vec[2 * k]);
                int bin = ((int)floor((ang + M_PI + M_PI / 8) / (2 * M_PI) * 8)) & 7;
                int off = (bin - nd + 8) & 7;
                if (s->has_dirs && off >= 3 && off <= 5) {
                    counter += 1;
                    c->flag[k] |= 2;
                }
                double rx = x - mx, ry = y - my, r = hypot(rx, ry);
                double m = hypot(c->vec[2 * k], c->vec[2 * k + 1]);
                if (r > 1e-6 && m > 1e-9)
                    div += (c->vec[2 * k] * rx + c->vec[2 * k + 1] * ry) / r / m;
            }
        fast /= n;
        div /= n;
        counter /= n;
        body = body_share(c, 1);
        cbody = body_share(c, 2);
    }
    double entropy = 0;
    for (int b = 0; b < 8 && n; b++)
        if (hist[b] > 0) entropy -= hist[b] / n * log2(hist[b] / n);
    int dir_bin = 0;
    for (int b = 1; b < 8; b++)
        if (hist[b] > hist[dir_bin]) dir_bin = b;

    /* smooth, learn, then decide */
    if (crowd) {
        double k = s->has_smooth ? 1 - exp(-dt / SMOOTH) : 1;
        s->s_mean += k * (mean - s->s_mean);
        s->s_fast += k * (fast - s->s_fast);
        s->s_div += k * (div - s->s_div);
        s->s_ent += k * (entropy - s->s_ent);
        s->s_counter = s->has_smooth ? s->s_counter + k * (counter - s->s_counter) : counter;
        s->s_body = s->has_smooth ? s->s_body + k * (body - s->s_body) : body;
        s->s_cbody = s->has_smooth ? s->s_cbody + k * (cbody - s->s_cbody) : cbody;
        s->has_smooth = 1;
    } else
        s->has_smooth = 0;
    int ready = s->has_baseline && s->warm >= p->warmup && s->baseline > 0;
    double ratio = ready && crowd ? s->s_mean / s->baseline : 0;
    const char *kind = NULL;
    if (crowd && ready) {
        /* a dispersal (convergence) goes out from (in to) a point: in many directions */
        int radial = ratio >= p->disperse_ratio && s->s_ent >= p->entropy;
        if (radial && s->s_div >= p->divergence)
            kind = "dispersal";
        else if (radial && s->s_div <= -p->divergence)
            kind = "convergence";
        else if (s->has_dirs && oneway >= p->oneway && s->s_counter >= p->counter_share &&
                 s->s_cbody <= p->max_body)
            kind = "counter_flow";
        else if (ratio >= p->run_ratio && s->s_fast >= p->fast_share && s->s_body <= p->max_body)
            kind = "running";
    }
    if (crowd && !s->rule.active && ratio < p->disperse_ratio) {
        /* a plain mean of what was seen until baseline_time of it, then an exponential
         * average: the first frames do not weigh for minutes */
        s->warm += dt;
        double k = s->warm < p->baseline_time ? dt / s->warm : 1 - exp(-dt / p->baseline_time);
        s->baseline = s->has_baseline ? s->baseline + k * (mean - s->baseline) : mean;
        s->has_baseline = 1;
        if (!kind && n) { /* the normal directions, learned like the speed */
            for (int b = 0; b < 8; b++)
                s->dirs[b] =
                    s->has_dirs ? s->dirs[b] + k * (hist[b] / n - s->dirs[b]) : hist[b] / n;
            s->has_dirs = 1;
        }
    }
    vg_rule_timing_t tm = {p->min_duration, p->end_after, p->cooldown};
    double ibox[4] = {box[0] * sx, box[1] * sy, (box[2] - box[0]) * sx, (box[3] - box[1]) * sy};
    double score = kind ? fmin(1.0, 0.5 + 0.5 * (ratio - 1) / (2 * p->run_ratio)) : 0;
    if (!s->rule.active) s->kind = kind; /* the kind when it starts */
    if (!crowd) memset(ibox, 0, sizeof(ibox));
    vg_log("crowd", VG_LOG_DEBUG,
           "crowd movement, camera %s: t %.1f moving cells %d speed %.1f (smoothed %.1f) baseline "
           "%.1f fast %.2f "
           "divergence %.2f entropy %.2f counter %.2f body %.2f/%.2f oneway %.2f",
           c->camera, f->t, n, mean, s->s_mean, s->baseline, s->s_fast, s->s_div, s->s_ent,
           s->s_counter, s->s_body, s->s_cbody, oneway);
    vg_rule_action_t act = vg_rule_update(&s->rule, &tm, kind != NULL, f->t, score, f->index, ibox);
    if (act == VG_RULE_NONE) return 0;
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_CROWD_MOVEMENT,
                  act == VG_RULE_START ? VG_PHASE_START : VG_PHASE_END);
    ev.t = f->t;
    ev.frame = f->index;
    ev.score = act == VG_RULE_START ? score : s->rule.best_score;
    if (act == VG_RULE_END) ev.event_id = s->rule.event_id;
    if (crowd) vg_event_set_box(&ev, ibox[0], ibox[1], ibox[2], ibox[3]);
    if (z) vg_event_set_zone(&ev, z->name);
    vg_event_detail_str(&ev, "kind", s->kind ? s->kind : "running");
    if (act == VG_RULE_START) {
        static const char *const dirs[8] = {"W", "NW", "N", "NE", "E", "SE", "S", "SW"};
        vg_event_detail_num(&ev, "speed", s->s_mean);
        vg_event_detail_num(&ev, "baseline", s->baseline);
        vg_event_detail_num(&ev, "ratio", ratio);
        vg_event_detail_str(&ev, "speed_unit", c->calib.valid ? "m/s" : "px/s");
        vg_event_detail_num(&ev, "spread", spread);
        vg_event_detail_num(&ev, "fast_share", s->s_fast);
        vg_event_detail_num(&ev, "divergence", s->s_div);
        vg_event_detail_str(&ev, "direction", dirs[dir_bin]);
        vg_event_detail_num(&ev, "direction_entropy", s->s_ent);
        vg_event_detail_num(&ev, "counter_share", s->s_counter);
        if (s->has_dirs) vg_event_detail_str(&ev, "normal_direction", dirs[nd]);
        vg_event_detail_int(&ev, "moving_cells", n);
        vg_event_detail_bool(&ev, "calibrated", c->calib.valid);
    }
    int ret = emit(opaque, &ev);
    if (act == VG_RULE_START) s->rule.event_id = ev.event_id;
    if (act == VG_RULE_END) s->kind = NULL;
    return ret;
}

int vg_crowd_update(vg_crowd_t *c, const vg_crowd_input_t *in, vg_emit_fn emit, void *opaque)
{
    const vg_crowd_params_t *p = &c->p;
    const vg_frame_t *f = in->frame;
    const vg_image_t *mask = in->mask;
    const vg_detections_t *det = in->det;
    int ret, fresh = 0;
    if (!mask) return 0; /* needs the motion stage */
    if (c->disabled) return 0;
    if (!c->flow) {
        if ((ret = vg_flow_new(&c->flow, NULL, f->image.w, f->image.h)) == VG_EINVAL) {
            vg_log("crowd", VG_LOG_WARNING,
                   "camera %s: %dx%d pictures are too small for crowd movement (40x40 at least): "
                   "none will be raised",
                   c->camera, f->image.w, f->image.h);
            c->disabled = 1;
            return 0;
        }
        if (ret < 0) return ret;
        c->w = f->image.w;
        c->h = f->image.h;
        int gw, gh;
        double step;
        vg_flow_grid(c->flow, &gw, &gh, &step);
        c->gw = gw, c->gh = gh, c->step = step;
        c->vec = vg_malloc(sizeof(float) * 2 * (size_t)gw * gh);
        c->moving = vg_malloc((size_t)gw * gh);
        c->bg = vg_malloc(sizeof(float) * (size_t)gw * gh);
        c->spd = vg_malloc(sizeof(float) * (size_t)gw * gh);
        c->sel = vg_malloc((size_t)gw * gh);
        c->flag = vg_calloc((size_t)gw * gh, 1);
        c->stack = vg_malloc(sizeof(int) * 2 * (size_t)gw * gh);
        c->fgn = vg_malloc(sizeof(uint16_t) * (size_t)gw * gh);
        c->tot = vg_malloc(sizeof(uint16_t) * (size_t)gw * gh);
        c->want = vg_malloc((size_t)gw * gh);
        if (!c->fgn || !c->tot || !c->want || !c->vec || !c->moving || !c->bg || !c->spd ||
            !c->sel || !c->flag || !c->stack)
            return VG_ENOMEM;
    }
    double dt = f->t - c->prev_t;
    int gw = c->gw, gh = c->gh;
    const double step = c->step;
    /* each cell's moving foreground (every other pixel of every other row), and the cells the
     * flow is searched at: those with foreground in or beside them. A moving cell has all its
     * neighbours searched, so its vector is exactly the whole grid's (vg_flow_next); the others
     * only count for the background's median below, where the coarser level's vector serves. */
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            int k = j * gw + i, fg = 0, tot = 0;
            int x0 = (int)(i * step), y0 = (int)(j * step);
            int x1 = x0 + (int)step < c->w ? x0 + (int)step : c->w;
            for (int y = y0; y < y0 + (int)step && y < c->h; y += 2) {
                fg += fg_samples(vg_image_row(mask, y), x0, x1);
                tot += (x1 - x0 + 1) / 2;
            }
            c->fgn[k] = (uint16_t)fg;
            c->tot[k] = (uint16_t)tot;
        }
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            int any = 0;
            for (int jj = j > 0 ? j - 1 : 0; jj <= j + 1 && jj < gh && !any; jj++)
                for (int ii = i > 0 ? i - 1 : 0; ii <= i + 1 && ii < gw; ii++)
                    if (c->fgn[jj * gw + ii]) {
                        any = 1;
                        break;
                    }
            c->want[j * gw + i] = (uint8_t)any;
        }
    if (!c->has_prev || f->discontinuity || !(dt > 0 && dt < 2)) vg_flow_reset(c->flow);
    if ((ret = vg_flow_next(c->flow, &f->image, c->want, in->pool)) < 0) return ret;
    if (ret > 0) {
        double gstep;
        const float *g = vg_flow_grid(c->flow, &gw, &gh, &gstep);
        int nbg = 0; /* the grid is in analysis pixels a frame: the flow's own full size */
        for (int k = 0; k < gw * gh; k++) {
            c->vec[2 * k] = g[2 * k];
            c->vec[2 * k + 1] = g[2 * k + 1];
            int fg = c->fgn[k], tot = c->tot[k];
            double mag = hypot(c->vec[2 * k], c->vec[2 * k + 1]);
            c->moving[k] = tot && fg * 4 >= tot && mag >= p->moving_px;
            if (!fg) c->bg[nbg++] = (float)mag;
        }
        /* cells on a vehicle are not the crowd (a box a cell wider, stretched by a fifth of a
         * second of the vehicle's motion) */
        double vb[MAX_VEHICLES][4];
        int nv = vg_vehicle_boxes(det, in->tracks, 0, step, 0.2, vb, MAX_VEHICLES);
        for (int v = 0; v < nv; v++)
            for (int j = 0; j < gh; j++)
                for (int i = 0; i < gw; i++) {
                    double x = (i + 0.5) * step, y = (j + 0.5) * step;
                    if (x >= vb[v][0] && x <= vb[v][0] + vb[v][2] && y >= vb[v][1] &&
                        y <= vb[v][1] + vb[v][3])
                        c->moving[j * gw + i] = 0;
                }
        int shake = 0;
        if (nbg >= 8) {
            qsort(c->bg, (size_t)nbg, sizeof(float), cmp_float);
            shake = c->bg[nbg / 2] > p->shake_px;
        }
        if (!shake) /* each moving cell's speed, once for every subject */
            for (int j = 0; j < gh; j++)
                for (int i = 0; i < gw; i++)
                    if (c->moving[j * gw + i])
                        c->spd[j * gw + i] =
                            (float)speed_of(c, f, (i + 0.5) * step, (j + 0.5) * step,
                                            &c->vec[2 * (j * gw + i)], dt);
        if (!shake)
            for (int s = 0; s < c->nsub; s++)
                if ((ret = judge(c, in, &c->sub[s], dt, emit, opaque)) < 0) return ret;
        fresh = 1;
    }
    c->prev_t = f->t;
    c->has_prev = 1;
    return fresh;
}

int vg_crowd_flush(vg_crowd_t *c, vg_emit_fn emit, void *opaque)
{
    for (int s = 0; s < c->nsub; s++) {
        subject_t *sb = &c->sub[s];
        if (!sb->rule.active) continue;
        vg_event_t ev;
        vg_event_init(&ev, VG_EVENT_CROWD_MOVEMENT, VG_PHASE_END);
        ev.event_id = sb->rule.event_id;
        ev.t = c->prev_t;
        ev.score = sb->rule.best_score;
        if (sb->zone >= 0) vg_event_set_zone(&ev, c->scene->zones[sb->zone].name);
        vg_event_detail_str(&ev, "kind", sb->kind ? sb->kind : "running");
        sb->rule.active = 0;
        int ret = emit(opaque, &ev);
        if (ret < 0) return ret;
    }
    return 0;
}

void vg_crowd_free(vg_crowd_t **pc)
{
    vg_crowd_t *c = *pc;
    if (!c) return;
    vg_flow_free(&c->flow);
    vg_free(c->fgn);
    vg_free(c->tot);
    vg_free(c->want);
    vg_free(c->vec);
    vg_free(c->moving);
    vg_free(c->bg);
    vg_free(c->spd);
    vg_free(c->sel);
    vg_free(c->flag);
    vg_free(c->stack);
    vg_free(c);
    *pc = NULL;
}

int vg_crowd_new(vg_crowd_t **out, const vg_scene_t *scene, const char *camera,
                 const vg_crowd_params_t *p)
{
    vg_crowd_t *c = vg_calloc(1, sizeof(*c));
    char err[256];
    if (!c) return VG_ENOMEM;
    c->p = *p;
    c->scene = scene;
    snprintf(c->camera, sizeof(c->camera), "%s", camera ? camera : "");
    c->nsub = 0;
    c->sub[c->nsub++] = (subject_t){.zone = -1};
    for (int k = 0; k < scene->nb_zones && c->nsub < MAX_SUBJECTS; k++)
        if (scene->zones[k].kind == VG_ZONE_WATCH) c->sub[c->nsub++] = (subject_t){.zone = k};
    for (int i = 0; i < c->nsub; i++) vg_rule_init(&c->sub[i].rule);
    if (vg_calib_fit(&c->calib, scene->calib, scene->nb_calib, err, sizeof(err)) < 0)
        c->calib.valid = 0;
    *out = c;
    return 0;
}

void vg_crowd_set_params(vg_crowd_t *c, const vg_crowd_params_t *p)
{
    c->p = *p;
}

const vg_flow_t *vg_crowd_flow(const vg_crowd_t *c)
{
    return c->flow;
}
