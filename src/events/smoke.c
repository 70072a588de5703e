/*
 * A fire start seen by its smoke: the `fire` event of kind `smoke` (the fire stage runs it beside
 * the flames, fire.c; options fire.smoke*).
 *
 * What smoke does to a picture, and what this reads: it veils what is behind it — the edges of a
 * textured background lose their contrast where it passes — without colour of its own (grey to
 * white), and it never holds still: its density swirls, so the veiling comes and goes from one
 * moment to the next while the place stays the same. A shadow darkens; a person or a car covers
 * texture with its own, moves on, and is in the detector's boxes; a light dimming lowers every
 * edge with the brightness; a parked object hides texture but then holds still. None of these is
 * smoke.
 *
 * How: on cells of CELL x CELL analysis pixels, SAMPLE_HZ times a second (smoke is slow: the
 * full frame rate is not needed, and the cost stays a fraction of the flames'), each cell's
 * sharpness (mean absolute luma difference two pixels apart, on a 4 x 4 lattice of points), mean
 * luma and colour (mean distance of Cb, Cr from grey on a few chroma samples). Each cell keeps
 * its recent sharpest (a peak that halves in about HALF_LIFE seconds) and its usual luma (a slow
 * average). A cell is veiled when it is grey, its background is textured (recent sharpest at
 * least E_MIN), its sharpness is under LOSS of its recent sharpest, and it is not darker than
 * usual by more than DARKER levels, and it is not under a person's or a vehicle's box of the
 * detector's last look (grown by a cell: what changes there is theirs). Veiled cells joined
 * 8-connected make components, followed as regions (by box overlap). Over fire.smoke_window seconds
 * a region is smoke when:
 * - present: veiled cells of at least fire.smoke_min_size in PRESENT of the samples;
 * - swirling: the median over those samples of its cells' sharpness change from one sample to
 *   the next (as a share of their recent sharpest) is at least TURB — veiling that comes and
 *   goes; a covered or parked thing holds still;
 * - local: under WHOLE of the picture's cells (fog, a camera's exposure, lights: the picture);
 * - nobody's: less than OVERLAP of its box on a person or vehicle the detector saw, and nothing
 *   larger than it moving over it during the window (a passer-by);
 * - not under an ignore mask or on a fixture.
 * The event starts after fire.smoke_min_duration of agreement (gaps under GAP forgiven); its
 * details: veiled share, swirl, how far its top rose over the window; `update` as its box grows
 * by half; `end` after fire.end_after with no veiled cells there.
 *
 * Limits (docs/events.md): smoke over a flat background (a clear sky, a plain wall) veils no
 * edges and is not seen; black smoke over a light background darkens and is taken for a shadow;
 * smoke thinner than LOSS leaves too much contrast. The cost: one pass over a sixteenth of the
 * luma pixels and a few chroma samples per cell, SAMPLE_HZ times a second.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/fire.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/vision.h>

#include "events_priv.h"

#define CELL      8    /* analysis pixels per cell side */
#define SAMPLE_HZ 5.0  /* samples a second */
#define HALF_LIFE 30.0 /* s for a cell's recent sharpest to halve */
#define AVG_S     10.0 /* s: time constant of a cell's usual luma */
#define WARM      3.0  /* s of samples before any cell may be veiled */
#define GREY_MAX  8    /* mean |Cb-128| + |Cr-128| of a grey cell */
#define E_MIN     3.0  /* least recent sharpest of a textured cell (levels) */
#define LOSS      0.6  /* sharpness under this share of the recent sharpest: veiled */
#define DARKER    8    /* levels darker than usual: a shadow */
#define M_MIN     80   /* least luma of a veiled cell: smoke in daylight or lit is grey to white */
#define PRESENT   0.6  /* share of the window's samples the region must be seen in */
#define TURB      0.1  /* least median swirl */
#define WHOLE     0.2  /* share of the picture's cells: a change of the whole picture */
#define OVERLAP   0.5  /* share of its box on a person or vehicle: theirs */
#define GAP       1.0  /* s of disagreement forgiven */
#define GROW      1.5  /* box area this many times the last reported: an update */
#define MAX_SREG  16
#define SHIST     64 /* samples kept per region */

typedef struct ssample {
    float cells; /* veiled cells in the region's box */
    float swirl; /* mean sharpness change of its veiled cells, share of their recent sharpest */
    int x0, y0, x1, y1;
} ssample_t;

typedef struct sregion {
    int used, seen, open;
    int x0, y0, x1, y1; /* the last components' box (cells) */
    double born, last_seen, agree_since, miss, disturbed_until;
    ssample_t h[SHIST];
    int nh, head;
    double present, swirl, rise, share; /* the last cues */
    int on_box, ok;
    int64_t id;
    double started, box_area;
} sregion_t;

struct vg_smoke {
    const vg_scene_t *scene;
    int cw, ch, w, h;    /* cells; the analysis size they were made for */
    float *emax, *mavg;  /* per cell: recent sharpest, usual luma */
    float *e, *eprev;    /* this sample's sharpness and the last one's */
    uint8_t *veil, *ign; /* veiled this sample; under an ignore mask or fixture */
    int32_t *label, *stack;
    int32_t gen;
    double t_last, t_first; /* of the last sample, of the first */
    double sx, sy;          /* cell -> input pixels */
    sregion_t r[MAX_SREG];
};

void vg__smoke_free(vg_smoke_t **ps)
{
    vg_smoke_t *s = *ps;
    if (!s) return;
    vg_free(s->emax), vg_free(s->mavg), vg_free(s->e), vg_free(s->eprev);
    vg_free(s->veil), vg_free(s->ign), vg_free(s->label), vg_free(s->stack);
    vg_free(s);
    *ps = NULL;
}

int vg__smoke_new(vg_smoke_t **out, const vg_scene_t *scene)
{
    vg_smoke_t *s = vg_calloc(1, sizeof(*s));
    if (!s) return VG_ENOMEM;
    s->scene = scene;
    s->t_last = s->t_first = -1;
    *out = s;
    return 0;
}

/* The grid for pictures of @w x @h: state, and the cells under ignore masks or fixtures. */
static int setup(vg_smoke_t *s, const vg_frame_t *fr)
{
    int w = fr->image.w, h = fr->image.h, cw = w / CELL, ch = h / CELL;
    size_t n = (size_t)cw * ch;
    vg_free(s->emax), vg_free(s->mavg), vg_free(s->e), vg_free(s->eprev);
    vg_free(s->veil), vg_free(s->ign), vg_free(s->label), vg_free(s->stack);
    s->w = w, s->h = h, s->cw = cw, s->ch = ch;
    s->emax = vg_calloc(n ? n : 1, sizeof(float)), s->mavg = vg_calloc(n ? n : 1, sizeof(float));
    s->e = vg_calloc(n ? n : 1, sizeof(float)), s->eprev = vg_calloc(n ? n : 1, sizeof(float));
    s->veil = vg_calloc(n ? n : 1, 1), s->ign = vg_calloc(n ? n : 1, 1);
    s->label = vg_calloc(n ? n : 1, sizeof(int32_t));
    s->stack = vg_calloc(n ? n : 1, sizeof(int32_t));
    if (!s->emax || !s->mavg || !s->e || !s->eprev || !s->veil || !s->ign || !s->label || !s->stack)
        return VG_ENOMEM;
    s->t_first = -1;
    memset(s->r, 0, sizeof(s->r));
    /* analysis -> input pixels, from the frame's own scale */
    double in_w = fr->in_w > 0 ? fr->in_w : w, in_h = fr->in_h > 0 ? fr->in_h : h;
    s->sx = CELL * in_w / w, s->sy = CELL * in_h / h;
    vg__cells_ignored(s->scene, s->ign, cw, ch, s->sx, s->sy);
    return 0;
}

/* The cells under a person's or a vehicle's box (grown by a cell) of the detector's last look:
 * what changes there is theirs. Marked 2 in @s->veil before the sample. */
static void mark_covered(vg_smoke_t *s, const vg_fire_input_t *in)
{
    memset(s->veil, 0, (size_t)s->cw * s->ch);
    for (int k = 0; k < in->nboxes; k++) {
        const double *b = in->boxes + 4 * k;
        int x0 = (int)floor(b[0] / CELL) - 1, y0 = (int)floor(b[1] / CELL) - 1;
        int x1 = (int)floor((b[0] + b[2]) / CELL) + 1, y1 = (int)floor((b[1] + b[3]) / CELL) + 1;
        x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
        x1 = x1 >= s->cw ? s->cw - 1 : x1, y1 = y1 >= s->ch ? s->ch - 1 : y1;
        for (int y = y0; y <= y1; y++)
            memset(s->veil + (size_t)y * s->cw + x0, 2, (size_t)(x1 - x0 + 1) * (x1 >= x0));
    }
}

/* One sample of every cell: sharpness, luma, colour; veiled or not (never under a person's or
 * vehicle's box: mark_covered); the cell's memory. */
static void sample_cells(vg_smoke_t *s, const vg_frame_t *fr, double dt, int warm)
{
    const vg_image_t *im = &fr->image;
    double decay = pow(0.5, dt / HALF_LIFE), a = 1 - exp(-dt / AVG_S);
    for (int cy = 0; cy < s->ch; cy++) {
        for (int cx = 0; cx < s->cw; cx++) {
            size_t i = (size_t)cy * s->cw + cx;
            int sum = 0, grad = 0;
            for (int k = 0; k < 4; k++) {
                int y = cy * CELL + 2 * k;
                const uint8_t *row = vg_image_row(im, y) + cx * CELL;
                const uint8_t *down = vg_image_row(im, y + 2 < im->h ? y + 2 : y) + cx * CELL;
                for (int j = 0; j < 8; j += 2) {
                    int v = row[j], r = cx * CELL + j + 2 < im->w ? row[j + 2] : v;
                    sum += v;
                    grad += abs(r - v) + abs(down[j] - v);
                }
            }
            float e = grad / 32.0f, m = sum / 16.0f;
            int dev = 0;
            if (fr->cb.data) {
                int ccx = cx * CELL / 2, ccy = cy * CELL / 2;
                for (int k = 0; k < 2; k++) {
                    const uint8_t *cb = vg_image_row(&fr->cb, ccy + 2 * k) + ccx;
                    const uint8_t *cr = vg_image_row(&fr->cr, ccy + 2 * k) + ccx;
                    dev +=
                        abs(cb[0] - 128) + abs(cr[0] - 128) + abs(cb[2] - 128) + abs(cr[2] - 128);
                }
                dev /= 4;
            }
            s->eprev[i] = s->e[i];
            s->e[i] = e;
            int veiled = warm && !s->ign[i] && s->veil[i] != 2 && dev <= GREY_MAX &&
                         s->emax[i] >= E_MIN && e < LOSS * s->emax[i] && m >= M_MIN &&
                         m >= s->mavg[i] - DARKER;
            s->veil[i] = (uint8_t)veiled;
            if (s->emax[i] == 0 && s->mavg[i] == 0) {
                s->emax[i] = e, s->mavg[i] = m, s->eprev[i] = e;
                continue;
            }
            s->emax[i] = e > s->emax[i] * decay ? e : (float)(s->emax[i] * decay);
            s->mavg[i] += (float)(a * (m - s->mavg[i]));
        }
    }
}

typedef struct scomp {
    int n, x0, y0, x1, y1;
} scomp_t;

static int components(vg_smoke_t *s, scomp_t *out, int max)
{
    int nc = 0;
    s->gen++;
    for (int y = 0; y < s->ch; y++)
        for (int x = 0; x < s->cw; x++) {
            size_t i = (size_t)y * s->cw + x;
            if (!s->veil[i] || s->label[i] == s->gen || nc == max) continue;
            scomp_t c = {0, x, y, x, y};
            int sp = 0;
            s->stack[sp++] = (int32_t)i;
            s->label[i] = s->gen;
            while (sp) {
                int j = s->stack[--sp], jx = j % s->cw, jy = j / s->cw;
                c.n++;
                c.x0 = jx < c.x0 ? jx : c.x0, c.x1 = jx > c.x1 ? jx : c.x1;
                c.y0 = jy < c.y0 ? jy : c.y0, c.y1 = jy > c.y1 ? jy : c.y1;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int nx = jx + dx, ny = jy + dy;
                        if (nx < 0 || ny < 0 || nx >= s->cw || ny >= s->ch) continue;
                        size_t k = (size_t)ny * s->cw + nx;
                        if (s->veil[k] && s->label[k] != s->gen) {
                            s->label[k] = s->gen;
                            s->stack[sp++] = (int32_t)k;
                        }
                    }
            }
            out[nc++] = c;
        }
    return nc;
}

static int box_overlap(int ax0, int ay0, int ax1, int ay1, int bx0, int by0, int bx1, int by1)
{
    int ix = (ax1 < bx1 ? ax1 : bx1) - (ax0 > bx0 ? ax0 : bx0);
    int iy = (ay1 < by1 ? ay1 : by1) - (ay0 > by0 ? ay0 : by0);
    return ix < 0 || iy < 0 ? 0 : (ix + 1) * (iy + 1);
}

/* Two regions whose boxes (grown by a cell) overlap by half the smaller are one smoke: the
 * younger, or the one with no event, joins the other (its history goes; the other's goes on). */
static void merge_regions(vg_smoke_t *s)
{
    for (int i = 0; i < MAX_SREG; i++)
        for (int j = 0; j < MAX_SREG; j++) {
            sregion_t *a = &s->r[i], *b = &s->r[j];
            if (i == j || !a->used || !b->used || b->open) continue;
            if (!a->open && (a->born > b->born || (a->born == b->born && i > j))) continue;
            int o =
                box_overlap(a->x0 - 1, a->y0 - 1, a->x1 + 1, a->y1 + 1, b->x0, b->y0, b->x1, b->y1);
            int sa = (a->x1 - a->x0 + 1) * (a->y1 - a->y0 + 1);
            int sb = (b->x1 - b->x0 + 1) * (b->y1 - b->y0 + 1);
            if (2 * o < (sa < sb ? sa : sb)) continue;
            a->x0 = b->x0 < a->x0 ? b->x0 : a->x0, a->y0 = b->y0 < a->y0 ? b->y0 : a->y0;
            a->x1 = b->x1 > a->x1 ? b->x1 : a->x1, a->y1 = b->y1 > a->y1 ? b->y1 : a->y1;
            if (b->seen) a->seen = 1, a->last_seen = fmax(a->last_seen, b->last_seen);
            b->used = 0;
        }
}

static const ssample_t *sh_at(const sregion_t *g, int k) /* k-th of the last nh, oldest first */
{
    return &g->h[(g->head - g->nh + k + 2 * SHIST) % SHIST];
}

static float median_f(float *v, int n)
{
    for (int i = 1; i < n; i++) /* n is small: insertion sort */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            float t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n ? (n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2])) : 0;
}

/* Measure region @g on this sample: its veiled cells inside its box (grown by a cell), their swirl.
 */
static void measure(vg_smoke_t *s, sregion_t *g)
{
    ssample_t m = {0, 0, g->x1, g->y1, g->x0, g->y0};
    double swirl = 0;
    for (int y = g->y0 - 1; y <= g->y1 + 1; y++)
        for (int x = g->x0 - 1; x <= g->x1 + 1; x++) {
            if (x < 0 || y < 0 || x >= s->cw || y >= s->ch) continue;
            size_t i = (size_t)y * s->cw + x;
            if (!s->veil[i]) continue;
            m.cells++;
            swirl += fabs(s->e[i] - s->eprev[i]) / fmax(s->emax[i], E_MIN);
            m.x0 = x < m.x0 ? x : m.x0, m.y0 = y < m.y0 ? y : m.y0;
            m.x1 = x > m.x1 ? x : m.x1, m.y1 = y > m.y1 ? y : m.y1;
        }
    m.swirl = m.cells ? (float)(swirl / m.cells) : 0;
    if (!m.cells) m.x0 = g->x0, m.y0 = g->y0, m.x1 = g->x1, m.y1 = g->y1;
    g->h[g->head] = m;
    g->head = (g->head + 1) % SHIST;
    if (g->nh < SHIST) g->nh++;
}

static void judge(vg_smoke_t *s, sregion_t *g, int n, const vg_fire_params_t *p,
                  const vg_fire_input_t *in, int min_cells, double t)
{
    float sw[SHIST];
    int present = 0, top0 = -1, top1 = -1;
    double cells = 0;
    for (int k = 0; k < n; k++) {
        const ssample_t *m = sh_at(g, g->nh - n + k);
        if (m->cells < min_cells) continue;
        sw[present++] = m->swirl;
        cells += m->cells;
        if (top0 < 0) top0 = m->y0;
        top1 = m->y0;
    }
    g->present = (double)present / n;
    g->swirl = median_f(sw, present);
    g->rise = top0 >= 0 ? (top0 - top1) * s->sy : 0;
    g->share = present ? cells / present / ((double)s->cw * s->ch) : 0;
    /* on a person's or a vehicle's box (analysis pixels) */
    double rb[4] = {g->x0 * CELL, g->y0 * CELL, (g->x1 - g->x0 + 1) * CELL,
                    (g->y1 - g->y0 + 1) * CELL};
    double on = 0;
    for (int k = 0; k < in->nboxes; k++) on += vg_box_inter(rb, in->boxes + 4 * k);
    g->on_box = on >= OVERLAP * rb[2] * rb[3];
    /* something larger moving over it (a passer-by, a vehicle the detector missed): the changes
     * there are its own for a window (smoke's own drifting blobs, which the tracker may follow,
     * are no larger than the veil) */
    for (int k = 0; k < in->npassing; k++) {
        const double *pb = in->passing + 4 * k;
        if (vg_box_inter(rb, pb) >= 0.5 * rb[2] * rb[3] && pb[2] * pb[3] >= 1.5 * rb[2] * rb[3])
            g->disturbed_until = t + p->smoke_window;
    }
    g->ok = g->present >= PRESENT && g->swirl >= TURB && g->share < WHOLE && !g->on_box &&
            t >= g->disturbed_until;
}

static void smoke_box(const vg_smoke_t *s, const sregion_t *g, int n, double *b)
{
    int x0 = g->x1, y0 = g->y1, x1 = g->x0, y1 = g->y0, any = 0;
    for (int k = 0; k < n; k++) {
        const ssample_t *m = sh_at(g, g->nh - n + k);
        if (!m->cells) continue;
        any = 1;
        x0 = m->x0 < x0 ? m->x0 : x0, y0 = m->y0 < y0 ? m->y0 : y0;
        x1 = m->x1 > x1 ? m->x1 : x1, y1 = m->y1 > y1 ? m->y1 : y1;
    }
    if (!any) x0 = g->x0, y0 = g->y0, x1 = g->x1, y1 = g->y1;
    b[0] = x0 * s->sx, b[1] = y0 * s->sy, b[2] = (x1 - x0 + 1) * s->sx,
    b[3] = (y1 - y0 + 1) * s->sy;
}

static double r2(double v)
{
    return floor(v * 100 + 0.5) / 100;
}

static int emit_phase(vg_smoke_t *s, sregion_t *g, int phase, int64_t frame, double t, int n,
                      const char *why, vg_emit_fn emit, void *opaque)
{
    vg_event_t ev;
    double b[4];
    vg_event_init(&ev, VG_EVENT_FIRE, phase);
    if (phase != VG_PHASE_START) ev.event_id = g->id;
    ev.t = t;
    ev.frame = frame;
    smoke_box(s, g, n, b);
    if (phase == VG_PHASE_UPDATE && b[2] * b[3] < GROW * g->box_area) return 0;
    vg_event_set_box(&ev, b[0], b[1], b[2], b[3]);
    vg_event_detail_str(&ev, "kind", "smoke");
    if (phase != VG_PHASE_END) {
        ev.score = fmin(0.9, 0.5 + g->swirl);
        vg_event_detail_num(&ev, "veiled_share", r2(g->present));
        vg_event_detail_num(&ev, "swirl", r2(g->swirl));
        vg_event_detail_num(&ev, "rise", floor(g->rise + 0.5));
        vg_event_detail_num(&ev, "seen_for", floor((t - g->born) * 10 + 0.5) / 10);
    } else {
        vg_event_detail_num(&ev, "duration", floor((t - g->started) * 10 + 0.5) / 10);
    }
    char text[256];
    if (phase == VG_PHASE_START) {
        snprintf(text, sizeof(text),
                 "a grey veil over %.0f px hiding the background's edges in %.0f %% of the last "
                 "moments, swirling (its density changing by %.0f %% from one moment to the "
                 "next), in place, on nobody",
                 b[2] * b[3], g->present * 100, g->swirl * 100);
        why = text;
    }
    vg_event_detail_str(&ev, "reason", why);
    int ret = emit(opaque, &ev);
    if (ret < 0) return ret;
    if (phase == VG_PHASE_START) g->open = 1, g->id = ev.event_id, g->started = t;
    if (phase == VG_PHASE_END) g->open = 0;
    g->box_area = b[2] * b[3];
    return 0;
}

int vg__smoke_update(vg_smoke_t *s, const vg_fire_params_t *p, const vg_fire_input_t *in,
                     vg_emit_fn emit, void *opaque)
{
    const vg_frame_t *fr = in->frame;
    int ret;
    if (fr->image.w / CELL != s->cw || fr->image.h / CELL != s->ch || !s->emax) {
        for (int i = 0; i < MAX_SREG; i++)
            if (s->r[i].used && s->r[i].open &&
                (ret = emit_phase(s, &s->r[i], VG_PHASE_END, fr->index, fr->t, 1,
                                  "the picture changed size", emit, opaque)) < 0)
                return ret;
        if ((ret = setup(s, fr)) < 0) return ret;
    }
    if (fr->discontinuity) s->t_first = -1;
    if (s->t_last >= 0 && fr->t >= s->t_last && fr->t - s->t_last < 1 / SAMPLE_HZ - 1e-6) return 0;
    double dt = s->t_last >= 0 && fr->t > s->t_last ? fr->t - s->t_last : 1 / SAMPLE_HZ;
    s->t_last = fr->t;
    if (s->t_first < 0) s->t_first = fr->t;
    mark_covered(s, in);
    sample_cells(s, fr, dt, fr->t - s->t_first >= WARM);

    int n = (int)lround(p->smoke_window * SAMPLE_HZ);
    n = n < 4 ? 4 : n > SHIST ? SHIST : n;
    double side = p->smoke_min_size / (0.5 * (s->sx + s->sy));
    int min_cells = (int)fmax(2, 0.5 * side * side);
    scomp_t comps[128];
    int nc = components(s, comps, 128);
    for (int i = 0; i < MAX_SREG; i++) s->r[i].seen = 0;
    for (int k = 0; k < nc; k++) {
        scomp_t *c = &comps[k];
        if (c->n < (min_cells + 1) / 2) continue;
        int best = -1, bo = 0;
        for (int i = 0; i < MAX_SREG; i++) {
            sregion_t *g = &s->r[i];
            if (!g->used) continue;
            int o =
                box_overlap(c->x0, c->y0, c->x1, c->y1, g->x0 - 1, g->y0 - 1, g->x1 + 1, g->y1 + 1);
            if (o > bo) bo = o, best = i;
        }
        if (best < 0) {
            for (best = 0; best < MAX_SREG && s->r[best].used; best++) {
            }
            if (best == MAX_SREG) continue;
            sregion_t *g = &s->r[best];
            memset(g, 0, sizeof(*g));
            g->used = 1, g->born = fr->t, g->agree_since = -1, g->miss = -1;
            g->x0 = c->x0, g->y0 = c->y0, g->x1 = c->x1, g->y1 = c->y1;
        }
        sregion_t *g = &s->r[best];
        if (!g->seen) g->x0 = c->x0, g->y0 = c->y0, g->x1 = c->x1, g->y1 = c->y1;
        g->x0 = c->x0 < g->x0 ? c->x0 : g->x0, g->y0 = c->y0 < g->y0 ? c->y0 : g->y0;
        g->x1 = c->x1 > g->x1 ? c->x1 : g->x1, g->y1 = c->y1 > g->y1 ? c->y1 : g->y1;
        g->seen = 1, g->last_seen = fr->t;
    }
    merge_regions(s);
    int debug = vg_log_get_level() >= VG_LOG_DEBUG;
    for (int i = 0; i < MAX_SREG; i++) {
        sregion_t *g = &s->r[i];
        if (!g->used) continue;
        measure(s, g);
        if (g->nh >= n) {
            judge(s, g, n, p, in, min_cells, fr->t);
            if (debug)
                vg_log("fire", VG_LOG_DEBUG,
                       "t=%.2f smoke region %d box %d,%d-%d,%d present %.2f swirl %.2f share "
                       "%.2f rise %.0f on_box %d disturbed %d: %s",
                       fr->t, i, g->x0 * CELL, g->y0 * CELL, (g->x1 + 1) * CELL, (g->y1 + 1) * CELL,
                       g->present, g->swirl, g->share, g->rise, g->on_box,
                       fr->t < g->disturbed_until, g->ok ? "smoke" : "no");
            if (g->ok) {
                if (g->agree_since < 0) g->agree_since = fr->t;
                g->miss = -1;
            } else if (g->agree_since >= 0) {
                if (g->miss < 0) g->miss = fr->t;
                if (fr->t - g->miss > GAP) g->agree_since = -1;
            }
            if (!g->open && g->ok && g->agree_since >= 0 &&
                fr->t - g->agree_since >= p->smoke_min_duration) {
                if ((ret = emit_phase(s, g, VG_PHASE_START, fr->index, fr->t, n, NULL, emit,
                                      opaque)) < 0)
                    return ret;
            } else if (g->open && g->ok &&
                       (ret = emit_phase(s, g, VG_PHASE_UPDATE, fr->index, fr->t, n,
                                         "the smoke spread", emit, opaque)) < 0) {
                return ret;
            }
        }
        if (fr->t - g->last_seen > p->end_after) {
            if (g->open && (ret = emit_phase(s, g, VG_PHASE_END, fr->index, fr->t, n,
                                             "no smoke there any more", emit, opaque)) < 0)
                return ret;
            g->used = 0;
        }
    }
    return 0;
}

int vg__smoke_flush(vg_smoke_t *s, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    for (int i = 0; s && i < MAX_SREG; i++) {
        sregion_t *g = &s->r[i];
        if (!g->used || !g->open) continue;
        int ret = emit_phase(s, g, VG_PHASE_END, frame, t, 1, "end of the input", emit, opaque);
        if (ret < 0) return ret;
    }
    return 0;
}
