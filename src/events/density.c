/*
 * Density (the "density" stage, density_stage.c, is its adapter): how many people a zone holds, in
 * persons per square metre, and the `density` event when that passes the zone's threshold
 * (crowd-safety practice: a warning from 4 p/m², an alert from 5 — people touch, a crowd can no
 * longer move freely).
 *
 * Subjects: each `watch` zone; with none, the whole picture. Each frame, per subject:
 * - Detector count: the detector's persons (score >= density.person_score) whose foot point lies
 *   in the zone. Where people are separable this is the best count; it fails in dense crowds,
 *   where people hide each other.
 * - Occupancy count, for the dense crowds: from the share c of the zone's pixels that hold
 *   people — the motion core's foreground (moving and static: people who stand still stay
 *   counted) or, with density.texture (off by default: the edges of each person widen it,
 *   1.3x on small people), pixels whose local texture differs from the long-term background (a
 *   crowd replaces the floor's texture with its own; for scenes where static foreground melts).
 * People at density D on the ground, each hiding a silhouette of S pixels, cover a pixel with the
 * probability c = 1 - exp(-D S a), a being the ground area of a pixel (a Boolean model: overlaps
 *   included); so a 16-pixel cell of P pixels with coverage c holds -ln(1 - c) P / S people.
 *   S is the silhouette of a person of density.person_area m² at that place: the ground-plane
 *   calibration gives the scale there (the largest singular value of the ground-to-image
 *   Jacobian, px per metre; an upright person is about as tall in pixels per metre as the ground
 *   is wide across the view). Coverage is capped at density.coverage_max (beyond, the picture
 *   cannot tell). Without a calibration there is no occupancy count (and no p/m²).
 * - Scene calibration of the occupancy: where the detector does see people (>= 3 in the zone,
 *   sparse: under 1.5 p/m²) the ratio of its count to the occupancy count of that same frame is
 *   learned (a slow average, within 1/3..3): shadows, bags and the camera's own geometry are
 *   folded into it. Count = max(detector count, scale x occupancy count).
 * - Cars, buses and trucks hold no one: the pixels of the detector's vehicles (and of the tracks
 *   it labelled so, at their box of this frame) are left out of the occupancy.
 * - The count is averaged over density.smooth seconds; p/m² = count / the zone's ground area.
 * Event (per subject, with the zone's own thresholds): starts when the density has stayed >=
 * warn for min_duration; an `update` record says when it rises to the alert level (>= alert for
 * min_duration) or falls back below alert - hysteresis; it ends once below warn - hysteresis for
 * end_after, and cannot start again before cooldown. Hysteresis and durations make a crowd that
 * hovers at the threshold one event, not a flapping series. details: count (and both
 * estimates), area, density, level, trend (least-squares slope of the last minute, p/m² per
 * minute) and the occupancy scale.
 * Count series: every density.interval seconds each subject's count, density and area go to the
 * caller's count sink (the stage: the pipeline's, vg_stage_emit_count), for the console and
 * statistics.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <vigie/calib.h>
#include <vigie/density.h>
#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/rules.h>
#include <vigie/track.h>
#include <vigie/vision.h>

#include "../core/raster.h"
#include "events_priv.h"

#define MAX_SUBJECTS 64
#define CELL         16 /* analysis pixels */
#define TREND_N      60 /* one sample a second: the last minute */
#define HIST_N       64 /* occupancy counts of the last frames, to meet the detector's */

#define OFF(x) offsetof(vg_density_params_t, x)
#define D(n_, f_, def_, lo_, hi_, u_, fl_, h_)                                                     \
    {                                                                                              \
        .name = n_, .type = VG_OPT_DOUBLE, .offset = OFF(f_), .def.d = def_, .min = lo_,           \
        .max = hi_, .unit = u_, .flags = fl_, .help = h_                                           \
    }
const vg_option_t vg__density_options[] = {
    D("warn", warn, 4, 0.1, 20, "p/m²", VG_OPT_LIVE,
      "density at which the event starts (warning level)"),
    D("alert", alert, 5, 0.1, 20, "p/m²", VG_OPT_LIVE,
      "density of the alert level (the event's update says so)"),
    D("hysteresis", hysteresis, 0.5, 0, 10, "p/m²", VG_OPT_LIVE,
      "a level is left only this far below its threshold (no flapping)"),
    D("min_duration", min_duration, 3, 0, 600, "s", VG_OPT_LIVE,
      "a threshold must be passed this long before the event starts or rises"),
    D("end_after", end_after, 10, 0, 3600, "s", VG_OPT_LIVE,
      "the event ends after this long below warn - hysteresis"),
    D("cooldown", cooldown, 60, 0, 86400, "s", VG_OPT_LIVE,
      "least time between the end of an event and the next in the same zone"),
    D("smooth", smooth, 2, 0, 600, "s", VG_OPT_LIVE, "time constant of the count's average"),
    D("interval", interval, 5, 0.1, 3600, "s", VG_OPT_LIVE,
      "one sample of each zone's count series every this long"),
    D("person_area", person_area, 0.5, 0.05, 5, "m²", VG_OPT_LIVE,
      "area a standing person hides, as seen by this camera (0.5: an oblique street view; a "
      "camera looking down sees about 0.2)"),
    D("person_score", person_score, 0.4, 0.01, 1, NULL, VG_OPT_LIVE,
      "detector persons at least this sure are counted"),
    D("coverage_max", coverage_max, 0.98, 0.5, 0.999, NULL, VG_OPT_LIVE,
      "share of a cell's pixels covered beyond which the occupancy cannot tell more"),
    D("texture", texture, 0, 0, 255, "grey levels", VG_OPT_LIVE,
      "also count as holding people a pixel whose texture (gradient) differs from the long-term "
      "background's by this much (0: off, the foreground only; try 24 where a standing crowd "
      "melts into the background)"),
    {.name = NULL},
};
#undef D
#undef OFF
const vg_option_group_t vg_density_option_group = {
    "density",
    "people per zone and per m²: the density event above a zone's threshold, count series",
    vg__density_options};

typedef struct subject {
    int zone;               /* -1: the whole picture */
    vg_density_params_t p;  /* the zone's own values */
    double area;            /* m², 0 when unknown */
    uint8_t *in;            /* per sample point (2-px grid): inside the subject */
    int ci0, cj0, ci1, cj1; /* the cells it touches (a zone costs its own cells only) */
    double count, det, occ; /* smoothed count; this frame's detector and occupancy counts */
    int has_count;
    double hist_occ[HIST_N]; /* raw occupancy count of frame index % HIST_N */
    int64_t hist_frame[HIST_N];
    double scale; /* learned detector / occupancy ratio */
    int scale_n;
    double trend_t[TREND_N], trend_d[TREND_N];
    int trend_n, trend_i;
    double next_trend, next_sample;
    /* event state */
    int active, level;
    double above_since, below_since, alert_since, calm_since, ended;
    int64_t event_id;
    double best_score;
} subject_t;

struct vg_density {
    vg_density_params_t p;
    char camera[64];
    vg_calib_t calib;
    int w, h, sw, sh; /* analysis size; sample grid (every 2 px) */
    double sx, sy;    /* analysis -> input pixels */
    int gw, gh;       /* cells */
    float *inv_s;     /* per cell: 1 / silhouette area in sample points (0: off the ground) */
    uint8_t *occ;     /* per sample point: holds people */
    uint8_t *lt;      /* long-term background */
    subject_t sub[MAX_SUBJECTS];
    int nsub;
    int64_t last_results;
    double prev_t;
    int has_prev;
    const vg_scene_t *scene; /* borrowed */
    int ready;
};

/* Each subject's values: the stage's with its zone's own settings over them. */
static int subject_params(vg_density_t *c, const vg_density_params_t *p, char *err, size_t errlen)
{
    static const vg_option_group_t g = {"density", NULL, vg__density_options};
    const vg_scene_t *scene = c->scene;
    for (int i = 0; i < c->nsub; i++) {
        vg_density_params_t zp = *p; /* numbers only: a plain copy is a full one */
        const vg_zone_t *z = c->sub[i].zone >= 0 ? &scene->zones[c->sub[i].zone] : NULL;
        if (z && z->settings && vg_settings_apply(z->settings, &g, &zp, err, errlen) < 0)
            return VG_EINVAL;
        c->sub[i].p = zp;
    }
    return 0;
}

/* Pixels a person hides around input point (x, y), from the calibration; 0 off the ground. */
static double silhouette(const vg_calib_t *cal, double x, double y, double person_area)
{
    double gx, gy, ix[3], iy[3];
    const double dm = 0.25; /* m */
    if (vg_calib_to_ground(cal, x, y, &gx, &gy) < 0 ||
        vg_calib_to_image(cal, gx, gy, &ix[0], &iy[0]) < 0 ||
        vg_calib_to_image(cal, gx + dm, gy, &ix[1], &iy[1]) < 0 ||
        vg_calib_to_image(cal, gx, gy + dm, &ix[2], &iy[2]) < 0)
        return 0;
    /* J = [du/dX du/dY; dv/dX dv/dY]; its largest singular value */
    double a = (ix[1] - ix[0]) / dm, b = (ix[2] - ix[0]) / dm;
    double cc = (iy[1] - iy[0]) / dm, d = (iy[2] - iy[0]) / dm;
    double t = a * a + b * b + cc * cc + d * d, det = a * d - b * cc;
    double l = 0.5 * (t + sqrt(fmax(0, t * t - 4 * det * det)));
    return l * person_area;
}

static int setup(vg_density_t *c, const vg_density_input_t *in)
{
    const vg_density_params_t *p = &c->p;
    const vg_frame_t *f = in->frame;
    char err[256];
    c->w = f->image.w, c->h = f->image.h;
    c->sw = (c->w + 1) / 2, c->sh = (c->h + 1) / 2;
    c->sx = (double)f->in_w / c->w, c->sy = (double)f->in_h / c->h;
    c->gw = (c->w + CELL - 1) / CELL, c->gh = (c->h + CELL - 1) / CELL;
    c->inv_s = vg_calloc((size_t)c->gw * c->gh, sizeof(float));
    c->occ = vg_malloc((size_t)c->sw * c->sh);
    c->lt = vg_malloc((size_t)c->w * c->h);
    if (!c->inv_s || !c->occ || !c->lt) return VG_ENOMEM;
    if (subject_params(c, p, err, sizeof(err)) < 0) {
        vg_log("density", VG_LOG_ERROR, "camera %s: %s", c->camera, err);
        return VG_EINVAL;
    }
    vg_image_t full = {c->w, c->h, c->w, VG_PIX_GRAY8, c->lt};
    for (int i = 0; i < c->nsub; i++) {
        subject_t *s = &c->sub[i];
        s->in = vg_malloc((size_t)c->sw * c->sh);
        if (!s->in) return VG_ENOMEM;
        const vg_zone_t *z = s->zone >= 0 ? &c->scene->zones[s->zone] : NULL;
        memset(c->lt, z ? 0 : 1, (size_t)c->w * c->h);
        if (z) vg__fill_polygon(&full, &z->polygon, 1 / c->sx, 1 / c->sy, 1);
        s->ci0 = c->gw, s->cj0 = c->gh, s->ci1 = -1, s->cj1 = -1;
        for (int y = 0; y < c->sh; y++)
            for (int x = 0; x < c->sw; x++) {
                uint8_t v = c->lt[(size_t)(2 * y) * c->w + 2 * x];
                s->in[(size_t)y * c->sw + x] = v;
                if (!v) continue;
                int ci = x / (CELL / 2), cj = y / (CELL / 2);
                s->ci0 = ci < s->ci0 ? ci : s->ci0, s->ci1 = ci > s->ci1 ? ci : s->ci1;
                s->cj0 = cj < s->cj0 ? cj : s->cj0, s->cj1 = cj > s->cj1 ? cj : s->cj1;
            }
        if (c->calib.valid) {
            vg_point_t corners[4] = {{0, 0}, {f->in_w, 0}, {f->in_w, f->in_h}, {0, f->in_h}};
            vg_polygon_t pic = {4, corners};
            if (vg_calib_area(&c->calib, z ? &z->polygon : &pic, &s->area) < 0 || s->area <= 0) {
                s->area = 0;
                vg_log("density", VG_LOG_WARNING,
                       "camera %s: %s reaches beyond the horizon of the ground calibration: it "
                       "has no area, so its people are counted but not per m² (no density "
                       "event); draw the zone on the ground",
                       c->camera, z ? z->name : "the picture");
            }
        }
    }
    if (!c->calib.valid)
        vg_log("density", VG_LOG_INFO,
               "camera %s: no ground calibration in the scene: density counts the detector's "
               "persons only, and cannot say persons per m² (no density event); add "
               "calibration points (docs/scene.md)",
               c->camera);
    c->ready = 1;
    return 0;
}

/* The silhouette size per cell, from density.person_area (again when it changes live). */
static void cell_sizes(vg_density_t *c, double person_area)
{
    for (int j = 0; j < c->gh; j++)
        for (int i = 0; i < c->gw; i++) {
            double x = fmin((i + 0.5) * CELL, c->w - 1), y = fmin((j + 0.5) * CELL, c->h - 1);
            double s =
                c->calib.valid ? silhouette(&c->calib, x * c->sx, y * c->sy, person_area) : 0;
            /* in sample points: one sample stands for 2x2 analysis pixels */
            double pts = s / (c->sx * c->sy) / 4;
            c->inv_s[j * c->gw + i] = pts > 0.5 ? (float)(1 / pts) : 0;
        }
}

/* Which sample points hold people: foreground, or texture unlike the long-term background. */
static void occupancy(vg_density_t *c, const vg_density_input_t *in, double texture)
{
    const vg_image_t *mask = in->mask;
    const vg_bgs_t *bgs = in->bgs;
    const vg_image_t *im = &in->frame->image;
    int tex = texture > 0 && bgs;
    vg_image_t lt = {c->w, c->h, c->w, VG_PIX_GRAY8, c->lt};
    if (tex && vg_bgs_long_term(bgs, &lt) < 0) tex = 0;
    if (!tex) { /* (the default) the foreground alone: a loop the compiler vectorises */
        for (int y = 0; y < c->sh; y++) {
            const uint8_t *restrict m = vg_image_row(mask, 2 * y);
            uint8_t *restrict o = c->occ + (size_t)y * c->sw;
            for (int x = 0; x < c->sw; x++) o[x] = m[2 * x] >= VG_MASK_STATIC;
        }
        return;
    }
    for (int y = 0; y < c->sh; y++) {
        int yy = 2 * y, ym = yy > 0 ? yy - 1 : yy, yp = yy + 1 < c->h ? yy + 1 : yy;
        const uint8_t *m = vg_image_row(mask, yy);
        const uint8_t *r = vg_image_row(im, yy), *ru = vg_image_row(im, ym),
                      *rd = vg_image_row(im, yp);
        const uint8_t *b = c->lt + (size_t)yy * c->w, *bu = c->lt + (size_t)ym * c->w,
                      *bd = c->lt + (size_t)yp * c->w;
        uint8_t *o = c->occ + (size_t)y * c->sw;
        for (int x = 0; x < c->sw; x++) {
            int xx = 2 * x, xm = xx > 0 ? xx - 1 : xx, xp = xx + 1 < c->w ? xx + 1 : xx;
            int on = m[xx] >= VG_MASK_STATIC;
            if (!on && tex) {
                int gi = abs(r[xp] - r[xm]) + abs(rd[xx] - ru[xx]);
                int gb = abs(b[xp] - b[xm]) + abs(bd[xx] - bu[xx]);
                on = abs(gi - gb) >= texture;
            }
            o[x] = (uint8_t)on;
        }
    }
}

/* Sample points of analysis box (x, y, w, h) hold no one. */
static void clear_box(vg_density_t *c, double x, double y, double w, double h)
{
    int x0 = (int)floor(x / 2), y0 = (int)floor(y / 2);
    int x1 = (int)ceil((x + w) / 2), y1 = (int)ceil((y + h) / 2);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->sw ? c->sw : x1, y1 = y1 > c->sh ? c->sh : y1;
    for (int yy = y0; yy < y1; yy++)
        memset(c->occ + (size_t)yy * c->sw + x0, 0, (size_t)(x1 > x0 ? x1 - x0 : 0));
}

/* A car, bus or truck in the picture is not a crowd: its pixels hold no one (a cyclist is
 * counted). */
static void clear_vehicles(vg_density_t *c, const vg_density_input_t *in)
{
    double vb[64][4];
    int n = vg_vehicle_boxes(in->det, in->tracks, 1, 4, 0.2, vb, 64);
    for (int v = 0; v < n; v++) clear_box(c, vb[v][0], vb[v][1], vb[v][2], vb[v][3]);
}

/* The occupancy count of subject @s: Boolean-model inversion per cell. */
static double occupancy_count(const vg_density_t *c, const subject_t *s, double cmax)
{
    double sum = 0;
    int per = CELL / 2; /* sample points per cell side */
    for (int j = s->cj0; j <= s->cj1; j++)
        for (int i = s->ci0; i <= s->ci1; i++) {
            float inv = c->inv_s[j * c->gw + i];
            if (inv <= 0) continue;
            int tot = 0, on = 0;
            for (int y = j * per; y < (j + 1) * per && y < c->sh; y++)
                for (int x = i * per; x < (i + 1) * per && x < c->sw; x++) {
                    size_t k = (size_t)y * c->sw + x;
                    if (!s->in[k]) continue;
                    tot++;
                    on += c->occ[k];
                }
            if (!tot || !on) continue;
            double cov = fmin((double)on / tot, cmax);
            sum += -log(1 - cov) * tot * inv;
        }
    return sum;
}

/* Detector persons whose foot point lies in subject @s; NAN when no detector result yet. */
static double detector_count(const vg_density_t *c, const vg_detections_t *det, const subject_t *s,
                             double score)
{
    if (!det || det->frame_index < 0) return NAN;
    int n = 0;
    for (int k = 0; k < det->n; k++) {
        const vg_detection_t *d = &det->det[k];
        if (d->cls != 0 || d->score < score) continue;
        int x = (int)((d->x + d->w / 2) / 2), y = (int)((d->y + d->h) / 2);
        x = x < 0 ? 0 : x >= c->sw ? c->sw - 1 : x;
        y = y < 0 ? 0 : y >= c->sh ? c->sh - 1 : y;
        n += s->in[(size_t)y * c->sw + x] != 0;
    }
    return n;
}

static double trend(const subject_t *s)
{
    if (s->trend_n < 5) return 0;
    double mt = 0, md = 0, stt = 0, std_ = 0;
    for (int i = 0; i < s->trend_n; i++) mt += s->trend_t[i], md += s->trend_d[i];
    mt /= s->trend_n, md /= s->trend_n;
    for (int i = 0; i < s->trend_n; i++) {
        stt += (s->trend_t[i] - mt) * (s->trend_t[i] - mt);
        std_ += (s->trend_t[i] - mt) * (s->trend_d[i] - md);
    }
    return stt > 0 ? std_ / stt * 60 : 0; /* per minute */
}

static const char *const level_names[3] = {"none", "warning", "alert"};

static int report(vg_density_t *c, const vg_frame_t *f, subject_t *s, vg_event_phase_t phase,
                  double density, vg_emit_fn emit, void *opaque)
{
    const vg_zone_t *z = s->zone >= 0 ? &c->scene->zones[s->zone] : NULL;
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_DENSITY, phase);
    ev.t = f ? f->t : 0;
    ev.frame = f ? f->index : 0;
    double score =
        fmin(1, fmax(0.5, 0.5 + 0.5 * (density - s->p.warn) / fmax(0.1, s->p.alert - s->p.warn)));
    if (phase == VG_PHASE_START) s->best_score = score;
    s->best_score = fmax(s->best_score, score);
    ev.score = phase == VG_PHASE_END ? s->best_score : score;
    if (phase != VG_PHASE_START) ev.event_id = s->event_id;
    if (z) {
        double x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
        for (int i = 0; i < z->polygon.n; i++) {
            x0 = fmin(x0, z->polygon.pts[i].x), y0 = fmin(y0, z->polygon.pts[i].y);
            x1 = fmax(x1, z->polygon.pts[i].x), y1 = fmax(y1, z->polygon.pts[i].y);
        }
        vg_event_set_box(&ev, x0, y0, x1 - x0, y1 - y0);
        vg_event_set_zone(&ev, z->name);
    } else if (f)
        vg_event_set_box(&ev, 0, 0, f->in_w, f->in_h);
    double tr = trend(s);
    vg_event_detail_str(&ev, "level", level_names[s->level]);
    vg_event_detail_num(&ev, "density", density);
    vg_event_detail_num(&ev, "count", s->count);
    vg_event_detail_num(&ev, "count_detector", isnan(s->det) ? 0 : s->det);
    vg_event_detail_num(&ev, "count_occupancy", s->occ);
    vg_event_detail_num(&ev, "area", s->area);
    vg_event_detail_num(&ev, "trend_per_min", tr);
    vg_event_detail_str(&ev, "trend", tr > 0.5 ? "rising" : tr < -0.5 ? "falling" : "steady");
    vg_event_detail_num(&ev, "warn", s->p.warn);
    vg_event_detail_num(&ev, "alert", s->p.alert);
    vg_event_detail_num(&ev, "occupancy_scale", s->scale);
    vg_event_detail_bool(&ev, "calibrated", c->calib.valid);
    int ret = emit(opaque, &ev);
    if (phase == VG_PHASE_START) s->event_id = ev.event_id;
    return ret;
}

/* The event's state machine for subject @s at time @t with density @d. */
static int decide(vg_density_t *c, const vg_frame_t *f, subject_t *s, double t, double d,
                  vg_emit_fn emit, void *opaque)
{
    const vg_density_params_t *p = &s->p;
    double warn = p->warn, alert = fmax(p->alert, p->warn);
    if (d >= warn) {
        if (isnan(s->above_since)) s->above_since = t;
        s->below_since = NAN;
    } else {
        s->above_since = NAN;
        if (d < warn - p->hysteresis) {
            if (isnan(s->below_since)) s->below_since = t;
        } else
            s->below_since = NAN;
    }
    if (d >= alert) {
        if (isnan(s->alert_since)) s->alert_since = t;
    } else
        s->alert_since = NAN;
    if (d < alert - p->hysteresis) {
        if (isnan(s->calm_since)) s->calm_since = t;
    } else
        s->calm_since = NAN;

    if (!s->active) {
        if (!isnan(s->above_since) && t - s->above_since >= p->min_duration &&
            t - s->ended >= p->cooldown) {
            s->active = 1;
            s->level = !isnan(s->alert_since) && t - s->alert_since >= p->min_duration ? 2 : 1;
            return report(c, f, s, VG_PHASE_START, d, emit, opaque);
        }
        return 0;
    }
    if (!isnan(s->below_since) && t - s->below_since >= p->end_after) {
        int ret = report(c, f, s, VG_PHASE_END, d, emit, opaque);
        s->active = 0;
        s->level = 0;
        s->ended = t;
        return ret;
    }
    if (s->level == 1 && !isnan(s->alert_since) && t - s->alert_since >= p->min_duration) {
        s->level = 2;
        return report(c, f, s, VG_PHASE_UPDATE, d, emit, opaque);
    }
    if (s->level == 2 && !isnan(s->calm_since) && t - s->calm_since >= p->end_after) {
        s->level = 1;
        return report(c, f, s, VG_PHASE_UPDATE, d, emit, opaque);
    }
    return 0;
}

int vg_density_update(vg_density_t *c, const vg_density_input_t *in, vg_emit_fn emit,
                      vg_count_fn count, void *opaque)
{
    const vg_density_params_t *p = &c->p;
    const vg_frame_t *f = in->frame;
    const vg_detections_t *det = in->det;
    int ret;
    if (!in->mask) return 0; /* needs the motion stage */
    if (!c->ready) {
        if ((ret = setup(c, in)) < 0) return ret;
        cell_sizes(c, p->person_area);
    }
    if (f->image.w != c->w || f->image.h != c->h) return VG_EINVAL;
    occupancy(c, in, p->texture);
    clear_vehicles(c, in);
    int fresh = det && det->results != c->last_results && det->frame_index >= 0;
    if (det) c->last_results = det->results;
    for (int i = 0; i < c->nsub; i++) {
        subject_t *s = &c->sub[i];
        double occ = c->calib.valid ? occupancy_count(c, s, s->p.coverage_max) : -1;
        double dn = detector_count(c, det, s, s->p.person_score);
        s->hist_occ[f->index % HIST_N] = occ;
        s->hist_frame[f->index % HIST_N] = f->index;
        /* learn the occupancy's scale where the detector separates people */
        if (fresh && occ >= 0 && dn >= 3 && s->area > 0 && dn / s->area < 1.5) {
            int h = (int)(det->frame_index % HIST_N);
            if (s->hist_frame[h] == det->frame_index && s->hist_occ[h] > 0.5) {
                double r = fmin(3, fmax(1.0 / 3, dn / s->hist_occ[h]));
                s->scale_n++;
                s->scale += (r - s->scale) / (s->scale_n < 20 ? s->scale_n : 20);
            }
        }
        s->det = dn;
        s->occ = occ;
        double raw = fmax(isnan(dn) ? 0 : dn, occ >= 0 ? s->scale * occ : 0);
        double dt = c->has_prev ? f->t - c->prev_t : 0;
        double k = s->has_count && s->p.smooth > 0 ? 1 - exp(-fmax(0, dt) / s->p.smooth) : 1;
        s->count = s->has_count ? s->count + k * (raw - s->count) : raw;
        s->has_count = 1;
        double d = s->area > 0 ? s->count / s->area : -1;
        if (d >= 0 && f->t >= s->next_trend) {
            s->trend_t[s->trend_i] = f->t;
            s->trend_d[s->trend_i] = d;
            s->trend_i = (s->trend_i + 1) % TREND_N;
            if (s->trend_n < TREND_N) s->trend_n++;
            s->next_trend = f->t + 1;
        }
        if (f->t >= s->next_sample) {
            vg_count_t cs = {.t = f->t,
                             .frame = f->index,
                             .count = s->count,
                             .count_detector = isnan(dn) ? 0 : dn,
                             .count_occupancy = occ,
                             .area = s->area,
                             .density = d};
            if (s->zone >= 0)
                snprintf(cs.zone, sizeof(cs.zone), "%s", c->scene->zones[s->zone].name);
            if (count && (ret = count(opaque, &cs)) < 0) return ret;
            s->next_sample = f->t + s->p.interval;
        }
        vg_log("density", VG_LOG_DEBUG,
               "density, camera %s zone %s: t %.1f detector %.1f occupancy %.1f (scale %.2f) count "
               "%.1f density %.2f",
               c->camera, s->zone >= 0 ? c->scene->zones[s->zone].name : "-", f->t,
               isnan(dn) ? -1 : dn, occ, s->scale, s->count, d);
        if (d >= 0 && (ret = decide(c, f, s, f->t, d, emit, opaque)) < 0) return ret;
    }
    c->prev_t = f->t;
    c->has_prev = 1;
    return 0;
}

int vg_density_flush(vg_density_t *c, vg_emit_fn emit, void *opaque)
{
    for (int i = 0; i < c->nsub; i++) {
        subject_t *s = &c->sub[i];
        if (!s->active) continue;
        vg_event_t ev;
        vg_event_init(&ev, VG_EVENT_DENSITY, VG_PHASE_END);
        ev.event_id = s->event_id;
        ev.t = c->prev_t;
        ev.score = s->best_score;
        if (s->zone >= 0) vg_event_set_zone(&ev, c->scene->zones[s->zone].name);
        vg_event_detail_str(&ev, "level", level_names[s->level]);
        vg_event_detail_num(&ev, "density", s->area > 0 ? s->count / s->area : 0);
        vg_event_detail_num(&ev, "count", s->count);
        s->active = 0;
        int ret = emit(opaque, &ev);
        if (ret < 0) return ret;
    }
    return 0;
}

void vg_density_free(vg_density_t **pc)
{
    vg_density_t *c = *pc;
    if (!c) return;
    vg_free(c->inv_s);
    vg_free(c->occ);
    vg_free(c->lt);
    for (int i = 0; i < c->nsub; i++) vg_free(c->sub[i].in);
    vg_free(c);
    *pc = NULL;
}

int vg_density_new(vg_density_t **out, const vg_scene_t *scene, const char *camera,
                   const vg_density_params_t *p)
{
    vg_density_t *c = vg_calloc(1, sizeof(*c));
    char err[256];
    if (!c) return VG_ENOMEM;
    c->p = *p;
    snprintf(c->camera, sizeof(c->camera), "%s", camera ? camera : "");
    c->scene = scene;
    if (vg_calib_fit(&c->calib, scene->calib, scene->nb_calib, err, sizeof(err)) < 0)
        c->calib.valid = 0;
    c->nsub = 0;
    for (int k = 0; k < scene->nb_zones && c->nsub < MAX_SUBJECTS; k++)
        if (scene->zones[k].kind == VG_ZONE_WATCH) c->sub[c->nsub++].zone = k;
    if (!c->nsub) c->sub[c->nsub++].zone = -1;
    for (int i = 0; i < c->nsub; i++) {
        subject_t *s = &c->sub[i];
        s->scale = 1;
        s->ended = -INFINITY;
        s->above_since = s->below_since = s->alert_since = s->calm_since = NAN;
        for (int k = 0; k < HIST_N; k++) s->hist_frame[k] = -1;
    }
    *out = c;
    return 0;
}

int vg_density_set_params(vg_density_t *c, const vg_density_params_t *p, char *err, size_t errlen)
{
    int ret;
    if (c->ready && (ret = subject_params(c, p, err, errlen)) < 0) return ret;
    if (c->ready && p->person_area != c->p.person_area) cell_sizes(c, p->person_area);
    c->p = *p;
    return 0;
}
