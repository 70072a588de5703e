/*
 * A fire start: flames (include/vigie/fire.h says what counts; the method here).
 *
 * Where: on a grid of cells, one per chroma sample (2x2 analysis pixels), so that colour is read
 * straight from the frame's Cb, Cr planes (input.chroma: no colour conversion of the picture).
 * A cell is a candidate when the motion core's mask has foreground on it and its colour may be
 * flame (vg_fire_color: red at least green at least blue, bright, saturated — or a bright
 * yellow-white core; saturated blue never). Only candidate cells and the boxes of regions
 * already followed have their colour read: a camera with no candidates pays for one pass over
 * the mask.
 *
 * Regions: candidates grown by one cell and joined 8-connected; each component goes to the
 * region whose box it touches, else starts one. Every frame, at the full analysis rate, each
 * region's box is measured whether moving or not (the bright core of a flame is background to
 * the motion core, its outline is not): the flame-coloured cells, how many of them changed
 * since the last frame (flips: the outline changing shape), their centroid, top and bottom rows,
 * and compactness (perimeter squared over area).
 *
 * Cues over the last fire.window seconds, each told in the event:
 * - colour: flame-coloured cells at least the minimum size;
 * - flicker: the median share of the region's flame cells that change from one frame to the next
 *   is at least fire.flicker_min — a flame's outline changes every frame; a steady sign, a lit
 *   window, a lamp do not change at all;
 * - no switching: a region that changes as a whole (a flip share of SWITCH or more) on SWITCHING
 *   of its frames or more switches on and off: a beacon, a blinking sign, a strobe;
 * - broadband: the spectrum of the flame area (1 Hz up to half the frame rate) has no one
 *   frequency holding more than fire.peak_max of its energy — beacons and blinking signs keep one
 *   strict frequency, flames spread over 1-13 Hz;
 * - shape: the compactness varies (coefficient of variation at least SHAPE_VAR) — a rigid outline
 *   (a sign, a window, a lamp) does not;
 * - in place: the centroid moves less than MOVE_MAX of the region's size over the window (a
 *   flame's base stays; orange clothing and car lights travel with their carrier) and the region
 *   lies on no person or vehicle box of the detector's last look (OVERLAP of its area or more);
 * - not under an ignore mask or on a fixture (a place an operator marked "reflection or light").
 * Reported, not decided on: whether the base stays while the tip moves (the spread of the bottom
 * row against the top row's), and the growth of the area since the region was first seen.
 *
 * Persistence: the event starts when the cues have agreed for fire.min_duration (gaps shorter
 * than GAP forgiven) on a region followed for at least fire.window; `update` records follow as
 * its box grows by half; `end` after fire.end_after with no flame colour moving there.
 *
 * Stands aside, saying so once: when the frames carry no chroma or their chroma is grey (a grey
 * or infrared camera: colour is the first cue), and when the analysis rate is under
 * fire.min_rate (flicker up to a few hertz needs several frames per period).
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

#define MAX_REGIONS 32
#define HIST        128  /* samples kept per region: the window at most this many frames */
#define SWITCH      0.7  /* flip share of a frame where the region changed as a whole */
#define SWITCHING   0.2  /* share of the window's frames switching: on/off, not fire */
#define SHAPE_VAR   0.05 /* least coefficient of variation of the compactness */
#define MOVE_MAX    0.5  /* of the region's size: the most its centroid travels in the window */
#define FLIP_DY     6    /* luma change (levels) with a change of colour: a flip */
#define PASSING     0.5  /* of its size a second: a track moving this fast passes by */
#define OVERLAP     0.5  /* share of a region on a person or vehicle box: theirs */
#define GAP         0.5  /* s of disagreement forgiven inside min_duration */
#define GROW        1.5  /* box area this many times the last reported: an update */
#define GREY_EVERY  1.0  /* s between checks of the chroma */
#define GREY_SPREAD 3    /* chroma within this of 128 everywhere sampled: grey */
#define LUT_SHIFT   2    /* colour table: 64 levels per plane */
#define SAT         0.4  /* (R - B) / R of a flame's colour */
#define SAT_CORE    0.3  /* ... of its bright (luma >= 190) yellow-white core */

#define OFF(x) offsetof(vg_fire_params_t, x)
#define D(n_, f_, def_, lo_, hi_, u_, h_)                                                          \
    {                                                                                              \
        .name = n_, .type = VG_OPT_DOUBLE, .offset = OFF(f_), .def.d = def_, .min = lo_,           \
        .max = hi_, .unit = u_, .flags = VG_OPT_LIVE, .help = h_                                   \
    }
const vg_option_t vg__fire_options[] = {
    D("min_duration", min_duration, 0.3, 0, 60, "s",
      "the cues must agree this long (after a window of history) before a fire is raised"),
    D("window", window, 0.8, 0.4, 4, "s",
      "history the flicker, spectrum, shape and movement cues are measured over"),
    D("min_size", min_size, 16, 4, 4096, "px",
      "side of the smallest flame seen, in input pixels (smaller fires are not seen)"),
    D("flicker_min", flicker_min, 0.1, 0, 1, NULL,
      "a flame's outline changes by at least this share of its cells from frame to frame"),
    D("peak_max", peak_max, 0.5, 0.05, 1, NULL,
      "the largest share of the flicker's energy at one frequency (more: a beacon, a blinking "
      "sign)"),
    D("end_after", end_after, 5, 0, 3600, "s", "no flame at the place this long ends the event"),
    D("min_rate", min_rate, 8, 4, 240, "fps",
      "slower inputs cannot show flicker: the fire analyser stands aside (with a warning)"),
    {.name = "smoke",
     .type = VG_OPT_BOOL,
     .offset = OFF(smoke),
     .def.i = 1,
     .min = 0,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "also watch for smoke: a grey veil hiding the background's edges, swirling in place "
             "(kind smoke)"},
    D("smoke_window", smoke_window, 4, 1, 12, "s", "history the smoke cues are measured over"),
    D("smoke_min_size", smoke_min_size, 48, 16, 4096, "px",
      "side of the smallest smoke seen, in input pixels"),
    D("smoke_min_duration", smoke_min_duration, 3, 0, 120, "s",
      "the smoke cues must agree this long (after a window of history) before a fire is raised"),
    {.name = NULL},
};
#undef D
#undef OFF

const vg_option_group_t vg_fire_option_group = {"fire", "a fire start: flames and smoke",
                                                vg__fire_options};

typedef struct sample {
    float area, flips, uni; /* flame cells; changed since the last frame; in either frame */
    float cx, cy, top, bot; /* centroid, top and bottom rows (cells) */
    float compact;          /* perimeter^2 / area */
    int x0, y0, x1, y1;     /* extent of the flame cells (cells, inclusive) */
    float mx, my, mn;       /* centroid and count of the moving candidates matched (mn 0: none) */
} sample_t;

typedef struct cues {
    double area, flicker, switching, peak, peak_hz, shape, move, base, growth;
    int on_person, on_vehicle, ok;
} cues_t;

typedef struct region {
    int used;
    int x0, y0, x1, y1;     /* box measured (cells, inclusive) */
    int ax0, ay0, ax1, ay1; /* components matched since the last box refresh */
    int acc;                /* ... any */
    int lx0, ly0, lx1, ly1; /* the components matched last: what the next frame's continue */
    double mx, my, mn;      /* their moving candidates' centroid sum and count this frame */
    int64_t refresh;        /* analysed frame (seq) of the last box refresh */
    int seen;               /* a component matched this frame */
    double born, last_seen; /* s */
    sample_t h[HIST];
    int nh, head;
    double area0;             /* mean area of the first window */
    double agree_since, miss; /* cues agreeing since (-1 not); when they last failed */
    double disturbed_until;   /* a passer-by crossed it: its changes are theirs until then */
    double person_until, vehicle_until; /* on a person's, a vehicle's box: theirs until then */
    cues_t c;                           /* the last cues */
    int open;                           /* an event is open */
    int64_t id;
    double started, box_area; /* its start, the last reported box area (input px) */
} region_t;

struct vg_fire {
    vg_fire_params_t p;
    const vg_scene_t *scene;
    uint8_t lut[1 << (3 * (8 - LUT_SHIFT))];
    int cw, ch;
    uint8_t *cand;  /* cw*ch: candidate (1), grown (2) */
    int cy0, cy1;   /* rows holding candidates this frame */
    int32_t *label; /* cw*ch: the frame's number (gen) on cells a component took */
    int32_t gen;
    int32_t *stack;
    int64_t *c_at, *p_at;   /* each cell's last reading and the one before: their frames, */
    uint8_t *c_col, *p_col; /* flame colour (0, 1) */
    uint8_t *c_y, *p_y;     /* and luma */
    uint8_t *ignore;        /* cw*ch: under an ignore mask or a fixture */
    region_t r[MAX_REGIONS];
    double rate;            /* analysis frames per second, measured */
    double t_first, t_last; /* of the frames counted */
    int64_t frames;         /* frames seen */
    int grey, warned_grey, warned_rate;
    double sx, sy; /* cell -> input pixels */
    int64_t last_frame, prev_frame;
    int64_t seq;         /* frames analysed: windows count these, not frame numbers */
    double grey_checked; /* t of the last look at the chroma */
    double last_t;
    vg_smoke_t *smoke; /* smoke.c */
};

int vg_fire_color(int y, int cb, int cr)
{
    double dcb = cb - 128, dcr = cr - 128;
    double r = y + 1.402 * dcr, g = y - 0.344 * dcb - 0.714 * dcr, b = y + 1.772 * dcb;
    if (r < 130 || r < g || g < b) return 0;
    double sat = (r - b) / fmax(r, 1);
    if (y >= 190) return sat >= SAT_CORE && dcr > dcb; /* a bright yellow-white core */
    return sat >= SAT && dcr - dcb >= 30;              /* red, orange, yellow */
}

static void build_lut(vg_fire_t *f)
{
    int n = 1 << (8 - LUT_SHIFT), half = 1 << LUT_SHIFT >> 1;
    for (int y = 0; y < n; y++)
        for (int cb = 0; cb < n; cb++)
            for (int cr = 0; cr < n; cr++)
                f->lut[(y * n + cb) * n + cr] = (uint8_t)vg_fire_color(
                    (y << LUT_SHIFT) + half, (cb << LUT_SHIFT) + half, (cr << LUT_SHIFT) + half);
}

int vg_fire_new(vg_fire_t **out, const vg_scene_t *scene, const vg_fire_params_t *p)
{
    vg_fire_t *f = vg_calloc(1, sizeof(*f));
    if (!f) return VG_ENOMEM;
    f->p = *p;
    f->scene = scene;
    f->t_first = -1;
    build_lut(f);
    if (vg__smoke_new(&f->smoke, scene) < 0) {
        vg_free(f);
        return VG_ENOMEM;
    }

    *out = f;
    return 0;
}

void vg_fire_set_params(vg_fire_t *f, const vg_fire_params_t *p)
{
    f->p = *p;
}

static void free_grid(vg_fire_t *f)
{
    vg_free(f->cand), vg_free(f->label), vg_free(f->stack), vg_free(f->ignore);
    vg_free(f->c_at), vg_free(f->p_at), vg_free(f->c_col), vg_free(f->p_col);
    vg_free(f->c_y), vg_free(f->p_y);
    f->cand = f->ignore = f->c_col = f->p_col = f->c_y = f->p_y = NULL;
    f->label = f->stack = NULL, f->c_at = f->p_at = NULL;
}

void vg_fire_free(vg_fire_t **pf)
{
    if (!*pf) return;
    free_grid(*pf);
    vg__smoke_free(&(*pf)->smoke);
    vg_free(*pf);
    *pf = NULL;
}

static inline int cell_color_y(const vg_fire_t *f, const vg_frame_t *fr, int x, int y, int *luma)
{
    const uint8_t *y0 = vg_image_row(&fr->image, 2 * y) + 2 * x;
    int yy = 2 * y + 1 < fr->image.h ? 1 : 0, xx = 2 * x + 1 < fr->image.w ? 1 : 0;
    const uint8_t *y1 = y0 + yy * fr->image.stride;
    int l = (y0[0] + y0[xx] + y1[0] + y1[xx] + 2) >> 2;
    int cb = vg_image_row(&fr->cb, y)[x], cr = vg_image_row(&fr->cr, y)[x];
    int n = 1 << (8 - LUT_SHIFT);
    *luma = l;
    return f->lut[((l >> LUT_SHIFT) * n + (cb >> LUT_SHIFT)) * n + (cr >> LUT_SHIFT)];
}

static inline int cell_color(const vg_fire_t *f, const vg_frame_t *fr, int x, int y)
{
    int l;
    return cell_color_y(f, fr, x, y, &l);
}

/* cell @i (x, y) read on this frame, once however many regions measure it: its colour; the
 * last frame's reading kept as the one before */
static inline int cell_read(vg_fire_t *f, const vg_frame_t *fr, size_t i, int x, int y)
{
    if (f->c_at[i] == fr->index) return f->c_col[i];
    f->p_at[i] = f->c_at[i], f->p_col[i] = f->c_col[i], f->p_y[i] = f->c_y[i];
    int l = 0, c = f->ignore[i] ? 0 : cell_color_y(f, fr, x, y, &l);
    f->c_at[i] = fr->index, f->c_col[i] = (uint8_t)c, f->c_y[i] = (uint8_t)l;
    return c;
}

/* the grid for frames of this size: scratch, and the cells under ignore masks or fixtures */
static int setup_grid(vg_fire_t *f, const vg_frame_t *fr)
{
    int cw = fr->cb.w, ch = fr->cb.h;
    size_t n = (size_t)cw * ch;
    free_grid(f);
    f->cw = cw, f->ch = ch;
    f->cand = vg_calloc(n, 1), f->label = vg_calloc(n, sizeof(int32_t));
    f->stack = vg_calloc(n, sizeof(int32_t)), f->ignore = vg_calloc(n, 1);
    f->c_at = vg_calloc(n, sizeof(int64_t)), f->p_at = vg_calloc(n, sizeof(int64_t));
    f->c_col = vg_calloc(n, 1), f->p_col = vg_calloc(n, 1);
    f->c_y = vg_calloc(n, 1), f->p_y = vg_calloc(n, 1);
    if (!f->cand || !f->label || !f->stack || !f->ignore || !f->c_at || !f->p_at || !f->c_col ||
        !f->p_col || !f->c_y || !f->p_y)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++) f->c_at[i] = f->p_at[i] = -2;
    f->cy0 = ch, f->cy1 = -1, f->gen = 0;
    f->sx = 2.0 * fr->in_w / fr->image.w, f->sy = 2.0 * fr->in_h / fr->image.h;
    vg__cells_ignored(f->scene, f->ignore, cw, ch, f->sx, f->sy);
    return 0;
}

void vg__cells_ignored(const vg_scene_t *sc, uint8_t *out, int cw, int ch, double sx, double sy)
{
    for (int y = 0; sc && y < ch; y++)
        for (int x = 0; x < cw; x++) {
            double px = (x + 0.5) * sx, py = (y + 0.5) * sy;
            int ig = 0;
            for (int i = 0; i < sc->nb_ignore && !ig; i++)
                ig = vg_polygon_contains(&sc->ignore[i], px, py);
            for (int i = 0; i < sc->nb_fixtures && !ig; i++)
                ig = vg_polygon_contains(&sc->fixtures[i].polygon, px, py);
            out[(size_t)y * cw + x] = (uint8_t)ig;
        }
}

/* is the chroma grey everywhere sampled (a grey or infrared picture)? */
static int chroma_grey(const vg_frame_t *fr)
{
    for (int y = 0; y < fr->cb.h; y++) {
        const uint8_t *b = vg_image_row(&fr->cb, y), *r = vg_image_row(&fr->cr, y);
        for (int x = 0; x < fr->cb.w; x++)
            if (abs(b[x] - 128) > GREY_SPREAD || abs(r[x] - 128) > GREY_SPREAD) return 0;
    }
    return 1;
}

_Static_assert(VG_MASK_STATIC == 128 && VG_MASK_FG >= 128 && VG_MASK_SHADOW < 128,
               "find_candidates tests bit 7 of the mask's labels");

/* candidates: foreground cells of flame colour, not ignored; then grown by one cell (2). Their
 * rows in f->cy0..cy1 (cy0 > cy1: none) */
static void find_candidates(vg_fire_t *f, const vg_frame_t *fr, const vg_image_t *mask)
{
    int cw = f->cw, ch = f->ch;
    if (f->cy0 <= f->cy1) /* clear what the last frame marked */
        memset(
            f->cand + (size_t)(f->cy0 > 0 ? f->cy0 - 1 : 0) * cw, 0,
            (size_t)((f->cy1 + 1 < ch ? f->cy1 + 1 : ch - 1) - (f->cy0 > 0 ? f->cy0 - 1 : 0) + 1) *
                cw);
    f->cy0 = ch, f->cy1 = -1;
    for (int y = 0; y < ch; y++) {
        const uint8_t *m0 = vg_image_row(mask, 2 * y);
        const uint8_t *m1 = 2 * y + 1 < mask->h ? m0 + mask->stride : m0;
        for (int x = 0; x < cw; x++) {
            /* eight cells at once where none of their 32 mask pixels is static or moving
             * foreground (bit 7: 128 or 255), as most of a picture is */
            if (!(x & 7) && 2 * x + 16 <= mask->w) {
                uint64_t a0, a1, b0, b1;
                memcpy(&a0, m0 + 2 * x, 8), memcpy(&a1, m0 + 2 * x + 8, 8);
                memcpy(&b0, m1 + 2 * x, 8), memcpy(&b1, m1 + 2 * x + 8, 8);
                if (!((a0 | a1 | b0 | b1) & 0x8080808080808080ull)) {
                    x += 7;
                    continue;
                }
            }
            int xx = 2 * x + 1 < mask->w ? 2 * x + 1 : 2 * x;
            if ((m0[2 * x] | m0[xx] | m1[2 * x] | m1[xx]) < VG_MASK_STATIC) continue;
            size_t i = (size_t)y * cw + x;
            if (!f->ignore[i] && cell_color(f, fr, x, y)) {
                f->cand[i] = 1;
                f->cy0 = y < f->cy0 ? y : f->cy0, f->cy1 = y;
            }
        }
    }
    for (int y = f->cy0; y <= f->cy1; y++)
        for (int x = 0; x < cw; x++) {
            if (f->cand[(size_t)y * cw + x] != 1) continue;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int u = x + dx, v = y + dy;
                    if (u < 0 || v < 0 || u >= cw || v >= ch) continue;
                    uint8_t *c = &f->cand[(size_t)v * cw + u];
                    if (!*c) *c = 2;
                }
        }
}

typedef struct comp {
    int x0, y0, x1, y1, n;
    double sx, sy; /* sums of the candidate cells' coordinates */
} comp_t;

/* 8-connected components of the grown candidates, with their candidate cell counts */
static int components(vg_fire_t *f, comp_t *out, int max)
{
    int cw = f->cw, ch = f->ch, nc = 0;
    if (f->cy0 > f->cy1) return 0;
    int32_t gen = ++f->gen; /* labels of this frame: no clearing */
    size_t s_from = (size_t)(f->cy0 > 0 ? f->cy0 - 1 : 0) * cw;
    size_t s_to = (size_t)(f->cy1 + 2 < ch ? f->cy1 + 2 : ch) * cw;
    for (size_t s0 = s_from; s0 < s_to; s0++) {
        if (!f->cand[s0] || f->label[s0] == gen) continue;
        comp_t c = {cw, ch, -1, -1, 0, 0, 0};
        int sp = 0;
        f->stack[sp++] = (int32_t)s0;
        f->label[s0] = gen;
        while (sp) {
            int i = f->stack[--sp], x = i % cw, y = i / cw;
            c.x0 = x < c.x0 ? x : c.x0, c.x1 = x > c.x1 ? x : c.x1;
            c.y0 = y < c.y0 ? y : c.y0, c.y1 = y > c.y1 ? y : c.y1;
            if (f->cand[i] == 1) c.n++, c.sx += x, c.sy += y;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int u = x + dx, v = y + dy;
                    if (u < 0 || v < 0 || u >= cw || v >= ch) continue;
                    size_t j = (size_t)v * cw + u;
                    if (f->cand[j] && f->label[j] != gen)
                        f->label[j] = gen, f->stack[sp++] = (int32_t)j;
                }
        }
        if (nc < max) out[nc++] = c;
    }
    return nc;
}

static double median(float *v, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: n <= HIST */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            float t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n ? (n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0;
}

static const sample_t *hist_at(const region_t *g, int k) /* k-th of the last n, oldest first */
{
    return &g->h[(g->head - g->nh + k + HIST) % HIST];
}

/* measure region @g's box on this frame into its history */
static void measure(vg_fire_t *f, const vg_frame_t *fr, region_t *g)
{
    int cw = f->cw;
    sample_t s = {0};
    s.x0 = g->x1, s.y0 = g->y1, s.x1 = g->x0 - 1, s.y1 = g->y0 - 1;
    double sx = 0, sy = 0, perim = 0;
    int top = -1, bot = -1;
    for (int y = g->y0; y <= g->y1; y++)
        for (int x = g->x0; x <= g->x1; x++) {
            size_t i = (size_t)y * cw + x;
            int c = cell_read(f, fr, i, x, y);
            if (f->p_at[i] == f->prev_frame) { /* read on the frame analysed before */
                int p = f->p_col[i];
                /* a change of colour with the light: a flame's edge coming or going, not a
                 * colour at the rule's threshold toggling with noise or exposure */
                s.flips += (float)(c != p && abs(f->c_y[i] - f->p_y[i]) >= FLIP_DY);
                s.uni += (float)(c || p);
            } else {
                s.uni += (float)c;
            }
            if (!c) continue;
            s.area++;
            sx += x, sy += y;
            if (top < 0) top = y;
            bot = y;
            s.x0 = x < s.x0 ? x : s.x0, s.x1 = x > s.x1 ? x : s.x1;
            s.y0 = y < s.y0 ? y : s.y0, s.y1 = y > s.y1 ? y : s.y1;
        }
    for (int y = g->y0; y <= g->y1; y++)
        for (int x = g->x0; x <= g->x1; x++) {
            size_t i = (size_t)y * cw + x;
            if (!f->c_col[i]) continue; /* every cell of the box was read this frame */
            int edge = x == g->x0 || x == g->x1 || y == g->y0 || y == g->y1 || !f->c_col[i - 1] ||
                       !f->c_col[i + 1] || !f->c_col[i - cw] || !f->c_col[i + cw];
            perim += edge;
        }
    if (s.area > 0) {
        s.cx = (float)(sx / s.area), s.cy = (float)(sy / s.area);
        s.top = (float)top, s.bot = (float)bot;
        s.compact = (float)(perim * perim / s.area);
    } else {
        s.cx = (float)(g->x0 + g->x1) / 2, s.cy = (float)(g->y0 + g->y1) / 2;
        s.top = s.bot = s.cy;
    }
    if (g->seen && g->mn > 0)
        s.mx = (float)(g->mx / g->mn), s.my = (float)(g->my / g->mn), s.mn = (float)g->mn;
    g->h[g->head] = s;
    g->head = (g->head + 1) % HIST;
    if (g->nh < HIST) g->nh++;
}

/* the cues over the last @n samples */
static void judge(vg_fire_t *f, region_t *g, int n, const vg_fire_input_t *in, int min_cells)
{
    double fr_t = in->frame->t;
    cues_t c = {0};
    float fl[HIST], a[HIST];
    double ma = 0, mc = 0, mc2 = 0, top = 0, top2 = 0, bot = 0, bot2 = 0;
    int nf = 0, sw = 0, nfull = 0, son = 0, soff = 0;
    for (int k = 0; k < n; k++) {
        const sample_t *s = hist_at(g, g->nh - n + k);
        a[k] = s->area;
        ma += s->area;
        if (s->area > 0) {
            nfull++;
            mc += s->compact, mc2 += (double)s->compact * s->compact;
            top += s->top, top2 += (double)s->top * s->top;
            bot += s->bot, bot2 += (double)s->bot * s->bot;
        }
        if (k > 0 && s->uni > 0) {
            fl[nf++] = s->flips / s->uni;
            /* changed as a whole: on or off (a region appearing once is neither repeated) */
            if (s->flips / s->uni >= SWITCH) {
                if (s->area > a[k - 1])
                    son++;
                else
                    soff++;
            }
        }
    }
    sw = 2 * (son < soff ? son : soff);
    ma /= n;
    c.area = ma;
    c.flicker = median(fl, nf);
    c.switching = nf ? (double)sw / nf : 0;
    if (nfull > 1) {
        mc /= nfull, mc2 /= nfull, top /= nfull, top2 /= nfull, bot /= nfull, bot2 /= nfull;
        c.shape = mc > 0 ? sqrt(fmax(mc2 - mc * mc, 0)) / mc : 0;
        c.base = sqrt(fmax(bot2 - bot * bot, 0)) <= sqrt(fmax(top2 - top * top, 0)) + 0.25;
    }
    /* the flame area's spectrum, 1 Hz up to half the rate, its linear trend (growth) taken
     * out: the strongest bin's share */
    double st = 0, stt = 0, sa = 0;
    for (int k = 0; k < n; k++) st += k, stt += (double)k * k, sa += k * (a[k] - ma);
    double slope = n > 1 ? sa / (stt - st * st / n) : 0, tm = st / n;
    for (int k = 0; k < n; k++) a[k] = (float)(a[k] - ma - slope * (k - tm));
    double band = 0, best = 0, best_hz = 0;
    for (int k = 1; k <= n / 2; k++) {
        double hz = k * f->rate / n;
        if (hz < 1 - 1e-9) continue;
        double re = 0, im = 0;
        for (int j = 0; j < n; j++) {
            double w = 2 * M_PI * k * j / n;
            re += a[j] * cos(w), im -= a[j] * sin(w);
        }
        double e = re * re + im * im;
        band += e;
        if (e > best) best = e, best_hz = hz;
    }
    c.peak = band > 0 ? best / band : 1;
    c.peak_hz = best_hz;
    /* travel of the moving candidates' centroid: the first quarter's against the last
     * quarter's, over their size (orange clothing walks away; a flame stays) */
    int q = n / 4 > 0 ? n / 4 : 1, q1 = 0, q2 = 0;
    double x1 = 0, y1 = 0, x2 = 0, y2 = 0, mm = 0;
    int nm = 0;
    for (int k = 0; k < n; k++) {
        const sample_t *s = hist_at(g, g->nh - n + k);
        if (s->mn > 0) mm += s->mn, nm++;
    }
    for (int k = 0; k < q; k++) {
        const sample_t *s = hist_at(g, g->nh - n + k), *e = hist_at(g, g->nh - 1 - k);
        if (s->mn > 0) x1 += s->mx, y1 += s->my, q1++;
        if (e->mn > 0) x2 += e->mx, y2 += e->my, q2++;
    }
    c.move = q1 && q2 ? hypot(x2 / q2 - x1 / q1, y2 / q2 - y1 / q1) / sqrt(fmax(mm / nm, 1)) : 0;
    if (g->area0 <= 0 && g->nh >= n) g->area0 = ma;
    c.growth = g->area0 > 0 ? ma / g->area0 : 1;
    /* context: on a person or vehicle box of the detector's last look */
    double rb[4] = {g->x0 * 2.0, g->y0 * 2.0, (g->x1 - g->x0 + 1) * 2.0, (g->y1 - g->y0 + 1) * 2.0};
    double on_p = 0, on_v = 0; /* the region's share under person, vehicle boxes (summed:
                                  a region over two people walking together is theirs) */
    for (int i = 0; i < in->nboxes; i++) {
        double inter = vg_box_inter(rb, in->boxes + 4 * i) / (rb[2] * rb[3]);
        if (in->box_vehicle && in->box_vehicle[i]) {
            /* a vehicle's lights move with it; a vehicle standing still that burns is a fire
             * (and a region look at a burning building may name it a bus) */
            int moving = 0;
            for (int k = 0; k < in->npassing && !moving; k++)
                moving = vg_box_iou(in->boxes + 4 * i, in->passing + 4 * k) >= 0.3;
            if (moving) on_v += inter;
        } else {
            on_p += inter;
        }
    }
    if (on_v >= OVERLAP) g->vehicle_until = fr_t + 2 * f->p.window;
    if (on_p >= OVERLAP) g->person_until = fr_t + 2 * f->p.window;
    /* theirs for two windows after a look saw it on them (a look a second apart may miss
     * someone bending, or box them apart) */
    c.on_person = fr_t < g->person_until, c.on_vehicle = fr_t < g->vehicle_until;
    const vg_fire_params_t *p = &f->p;
    c.ok = ma >= min_cells && c.flicker >= p->flicker_min && c.switching < SWITCHING &&
           c.peak <= p->peak_max && c.shape >= SHAPE_VAR && c.move <= MOVE_MAX && !c.on_person &&
           fr_t >= g->disturbed_until && !c.on_vehicle;
    g->c = c;
}

/* the flame's extent over the last @n samples, input pixels */
static void flame_box(const vg_fire_t *f, const region_t *g, int n, double *b)
{
    int x0 = g->x1, y0 = g->y1, x1 = g->x0, y1 = g->y0, any = 0;
    for (int k = 0; k < n; k++) {
        const sample_t *s = hist_at(g, g->nh - n + k);
        if (s->area <= 0) continue;
        any = 1;
        x0 = s->x0 < x0 ? s->x0 : x0, y0 = s->y0 < y0 ? s->y0 : y0;
        x1 = s->x1 > x1 ? s->x1 : x1, y1 = s->y1 > y1 ? s->y1 : y1;
    }
    if (!any) x0 = g->x0, y0 = g->y0, x1 = g->x1, y1 = g->y1;
    b[0] = x0 * f->sx, b[1] = y0 * f->sy;
    b[2] = (x1 - x0 + 1) * f->sx, b[3] = (y1 - y0 + 1) * f->sy;
}

static double round2(double v)
{
    return floor(v * 100 + 0.5) / 100;
}

static void add_cues(vg_event_t *ev, const cues_t *c, double since)
{
    vg_event_detail_str(ev, "kind", "flame");
    vg_event_detail_num(ev, "flicker", round2(c->flicker));
    vg_event_detail_num(ev, "peak_share", round2(c->peak));
    vg_event_detail_num(ev, "peak_hz", floor(c->peak_hz * 10 + 0.5) / 10);
    vg_event_detail_num(ev, "shape_variation", round2(c->shape));
    vg_event_detail_num(ev, "travel", round2(c->move));
    vg_event_detail_bool(ev, "base_anchored", (int)c->base);
    vg_event_detail_num(ev, "growth", round2(c->growth));
    vg_event_detail_num(ev, "seen_for", floor(since * 10 + 0.5) / 10);
}

static int emit_start(vg_fire_t *f, region_t *g, const vg_frame_t *fr, int n, vg_emit_fn emit,
                      void *opaque)
{
    vg_event_t ev;
    double b[4];
    vg_event_init(&ev, VG_EVENT_FIRE, VG_PHASE_START);
    ev.t = fr->t;
    ev.frame = fr->index;
    flame_box(f, g, n, b);
    vg_event_set_box(&ev, b[0], b[1], b[2], b[3]);
    ev.score = fmin(0.95, 0.6 + 0.5 * (g->c.flicker - f->p.flicker_min) + 0.2 * (1 - g->c.peak));
    add_cues(&ev, &g->c, fr->t - g->born);
    char why[256];
    snprintf(why, sizeof(why),
             "flame colour over %.0f px, its outline changing by %.0f %% a frame, no single "
             "frequency (the strongest holds %.0f %%), shape varying %.0f %%, staying in place",
             g->c.area * f->sx * f->sy, g->c.flicker * 100, g->c.peak * 100, g->c.shape * 100);
    vg_event_detail_str(&ev, "reason", why);
    int ret = emit(opaque, &ev);
    if (ret < 0) return ret;
    g->open = 1, g->id = ev.event_id, g->started = fr->t, g->box_area = b[2] * b[3];
    return 0;
}

static int emit_update(vg_fire_t *f, region_t *g, const vg_frame_t *fr, int n, vg_emit_fn emit,
                       void *opaque)
{
    double b[4];
    flame_box(f, g, n, b);
    if (b[2] * b[3] < GROW * g->box_area) return 0;
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_FIRE, VG_PHASE_UPDATE);
    ev.event_id = g->id;
    ev.t = fr->t;
    ev.frame = fr->index;
    vg_event_set_box(&ev, b[0], b[1], b[2], b[3]);
    ev.score = 0.9;
    add_cues(&ev, &g->c, fr->t - g->born);
    vg_event_detail_str(&ev, "reason", "the fire grew");
    g->box_area = b[2] * b[3];
    return emit(opaque, &ev);
}

static int emit_end(vg_fire_t *f, region_t *g, int64_t frame, double t, const char *why,
                    vg_emit_fn emit, void *opaque)
{
    vg_event_t ev;
    double b[4];
    vg_event_init(&ev, VG_EVENT_FIRE, VG_PHASE_END);
    ev.event_id = g->id;
    ev.t = t;
    ev.frame = frame;
    flame_box(f, g, g->nh < 1 ? 1 : g->nh, b);
    vg_event_set_box(&ev, b[0], b[1], b[2], b[3]);
    vg_event_detail_num(&ev, "duration", floor((t - g->started) * 10 + 0.5) / 10);
    vg_event_detail_str(&ev, "reason", why);
    g->open = 0;
    return emit(opaque, &ev);
}

static int overlap_boxes(int ax0, int ay0, int ax1, int ay1, int bx0, int by0, int bx1, int by1,
                         int grow)
{
    int ix = (ax1 < bx1 + grow ? ax1 : bx1 + grow) - (ax0 > bx0 - grow ? ax0 : bx0 - grow);
    int iy = (ay1 < by1 + grow ? ay1 : by1 + grow) - (ay0 > by0 - grow ? ay0 : by0 - grow);
    return ix < 0 || iy < 0 ? 0 : (ix + 1) * (iy + 1);
}

/* the region a component continues: the one whose last components' box, grown by two cells, it
 * overlaps most (a flame, orange clothing walking); else the one whose measured box it overlaps
 * most (a new tongue of a fire followed); -1 none */
static int region_for(const vg_fire_t *f, const comp_t *c)
{
    for (int pass = 0; pass < 2; pass++) {
        int best = -1, bo = 0;
        for (int i = 0; i < MAX_REGIONS; i++) {
            const region_t *g = &f->r[i];
            if (!g->used) continue;
            int o =
                pass ? overlap_boxes(c->x0, c->y0, c->x1, c->y1, g->x0, g->y0, g->x1, g->y1, 0)
                     : overlap_boxes(c->x0, c->y0, c->x1, c->y1, g->lx0, g->ly0, g->lx1, g->ly1, 2);
            if (o > bo) bo = o, best = i;
        }
        if (best >= 0) return best;
    }
    return -1;
}

/* two regions whose measured boxes overlap by half the smaller are one fire: the younger (or
 * the one with no event) joins the other */
static void merge_regions(vg_fire_t *f)
{
    for (int i = 0; i < MAX_REGIONS; i++)
        for (int j = 0; j < MAX_REGIONS; j++) {
            region_t *a = &f->r[i], *b = &f->r[j];
            if (i == j || !a->used || !b->used || b->open) continue;
            if (!a->open && (a->born > b->born || (a->born == b->born && i > j))) continue;
            int o = overlap_boxes(a->x0, a->y0, a->x1, a->y1, b->x0, b->y0, b->x1, b->y1, 0);
            int sa = (a->x1 - a->x0 + 1) * (a->y1 - a->y0 + 1);
            int sb = (b->x1 - b->x0 + 1) * (b->y1 - b->y0 + 1);
            if (2 * o < (sa < sb ? sa : sb)) continue;
            a->x0 = b->x0 < a->x0 ? b->x0 : a->x0, a->y0 = b->y0 < a->y0 ? b->y0 : a->y0;
            a->x1 = b->x1 > a->x1 ? b->x1 : a->x1, a->y1 = b->y1 > a->y1 ? b->y1 : a->y1;
            if (b->seen) {
                if (!a->seen)
                    a->lx0 = b->lx0, a->ly0 = b->ly0, a->lx1 = b->lx1, a->ly1 = b->ly1,
                    a->mx = a->my = a->mn = 0;
                a->lx0 = b->lx0 < a->lx0 ? b->lx0 : a->lx0,
                a->ly0 = b->ly0 < a->ly0 ? b->ly0 : a->ly0;
                a->lx1 = b->lx1 > a->lx1 ? b->lx1 : a->lx1,
                a->ly1 = b->ly1 > a->ly1 ? b->ly1 : a->ly1;
                a->mx += b->mx, a->my += b->my, a->mn += b->mn;
                a->seen = 1, a->last_seen = b->last_seen;
            }
            b->used = 0;
        }
}

int vg_fire_update(vg_fire_t *f, const vg_fire_input_t *in, vg_emit_fn emit, void *opaque)
{
    const vg_frame_t *fr = in->frame;
    int ret;
    /* the frame analysed before this one (not index - 1: frames are skipped when analysis falls
     * behind a live camera, or by input.max_rate) */
    f->prev_frame = f->frames ? f->last_frame : -3;
    f->seq++;
    f->last_frame = fr->index, f->last_t = fr->t;
    /* the analysis rate, over the frames so far */
    if (f->t_first < 0 || fr->discontinuity) f->t_first = fr->t, f->frames = 0;
    f->frames++;
    if (f->frames > 1 && fr->t > f->t_first) f->rate = (f->frames - 1) / (fr->t - f->t_first);
    if (!fr->cb.data || !in->mask) {
        if (!f->warned_grey)
            vg_log("fire", VG_LOG_WARNING,
                   "the frames carry no colour: the fire analyser stands aside (a bug: please "
                   "report)");
        f->warned_grey = 1;
        return 0;
    }
    if (f->frames == 1 || fr->t - f->grey_checked >= GREY_EVERY || fr->t < f->grey_checked) {
        f->grey_checked = fr->t;
        int grey = chroma_grey(fr);
        if (grey && !f->grey && !f->warned_grey) {
            vg_log("fire", VG_LOG_WARNING,
                   "the picture has no colour (a grey or infrared camera): fire is told by "
                   "colour first, so the fire analyser stands aside while it stays grey");
            f->warned_grey = 1;
        } else if (!grey && f->grey) {
            vg_log("fire", VG_LOG_INFO, "the picture has colour again: fire is watched again");
        }
        f->grey = grey;
    }
    if (f->grey) return 0;
    /* smoke is slow: it needs no more than a few frames a second, and goes on below min_rate */
    if ((ret = f->p.smoke ? vg__smoke_update(f->smoke, &f->p, in, emit, opaque)
                          : vg__smoke_flush(f->smoke, fr->index, fr->t, emit, opaque)) < 0)
        return ret; /* (smoke turned off live: its open events end) */
    if (f->frames >= 10 && f->rate < f->p.min_rate) {
        if (!f->warned_rate)
            vg_log("fire", VG_LOG_WARNING,
                   "the input is too slow for fire: %.1f frames per second, where flames "
                   "flickering at up to a dozen hertz need fire.min_rate (%g) at least: the "
                   "fire analyser stands aside (give it the camera's full frame rate)",
                   f->rate, f->p.min_rate);
        f->warned_rate = 1;
        return 0;
    }
    if (f->frames < 2 || f->rate <= 0) return 0;
    if (f->cw != fr->cb.w || f->ch != fr->cb.h) {
        /* a new picture size (the first frame, or the input changed): regions followed on the
         * old grid end here */
        for (int i = 0; i < MAX_REGIONS; i++) {
            region_t *g = &f->r[i];
            if (g->used && g->open &&
                (ret = emit_end(f, g, fr->index, fr->t, "the picture changed size", emit, opaque)) <
                    0)
                return ret;
            g->used = 0;
        }
        if ((ret = setup_grid(f, fr)) < 0) return ret;
    }

    int n = (int)lround(f->p.window * f->rate);
    n = n < 8 ? 8 : n > HIST ? HIST : n;
    double side = f->p.min_size / (0.5 * (f->sx + f->sy));
    int min_cells = (int)fmax(2, 0.25 * side * side);

    find_candidates(f, fr, in->mask);
    comp_t comps[256];
    int nc = components(f, comps, 256);
    for (int i = 0; i < MAX_REGIONS; i++) f->r[i].seen = 0, f->r[i].mn = 0;
    for (int k = 0; k < nc; k++) {
        comp_t *c = &comps[k];
        if (c->n < (min_cells + 1) / 2) continue;
        int i = region_for(f, c);
        if (i < 0) {
            for (i = 0; i < MAX_REGIONS && f->r[i].used; i++) {
            }
            if (i == MAX_REGIONS) continue;
            region_t *g = &f->r[i];
            memset(g, 0, sizeof(*g));
            g->used = 1, g->born = fr->t, g->agree_since = -1, g->refresh = f->seq;
            g->x0 = c->x0, g->y0 = c->y0, g->x1 = c->x1, g->y1 = c->y1;
        }
        region_t *g = &f->r[i];
        if (!g->seen)
            g->lx0 = c->x0, g->ly0 = c->y0, g->lx1 = c->x1, g->ly1 = c->y1, g->mx = g->my = 0;
        g->seen = 1, g->last_seen = fr->t;
        g->lx0 = c->x0 < g->lx0 ? c->x0 : g->lx0, g->ly0 = c->y0 < g->ly0 ? c->y0 : g->ly0;
        g->lx1 = c->x1 > g->lx1 ? c->x1 : g->lx1, g->ly1 = c->y1 > g->ly1 ? c->y1 : g->ly1;
        g->mx += c->sx, g->my += c->sy, g->mn += c->n;
        if (!g->acc) g->ax0 = c->x0, g->ay0 = c->y0, g->ax1 = c->x1, g->ay1 = c->y1;
        g->acc = 1;
        g->ax0 = c->x0 < g->ax0 ? c->x0 : g->ax0, g->ay0 = c->y0 < g->ay0 ? c->y0 : g->ay0;
        g->ax1 = c->x1 > g->ax1 ? c->x1 : g->ax1, g->ay1 = c->y1 > g->ay1 ? c->y1 : g->ay1;
        g->x0 = g->ax0 < g->x0 ? g->ax0 : g->x0, g->y0 = g->ay0 < g->y0 ? g->ay0 : g->y0;
        g->x1 = g->ax1 > g->x1 ? g->ax1 : g->x1, g->y1 = g->ay1 > g->y1 ? g->ay1 : g->y1;
    }
    merge_regions(f);
    int debug = vg_log_get_level() >= VG_LOG_DEBUG;
    for (int i = 0; i < MAX_REGIONS; i++) {
        region_t *g = &f->r[i];
        if (!g->used) continue;
        /* the box follows what was matched over the last window: grown at once, shrunk at
         * each window's end to what the window saw */
        if (f->seq - g->refresh >= n && g->acc) {
            g->x0 = g->ax0, g->y0 = g->ay0, g->x1 = g->ax1, g->y1 = g->ay1;
            g->acc = 0, g->refresh = f->seq;
        }
        measure(f, fr, g);
        double rb[4] = {g->x0 * 2.0 - 4, g->y0 * 2.0 - 4, (g->x1 - g->x0 + 1) * 2.0 + 8,
                        (g->y1 - g->y0 + 1) * 2.0 + 8};
        /* something larger than the region moving over it (a passer-by over an orange cone,
         * feet on a red rug): the changes there are its own for a window */
        for (int k = 0; k < in->npassing; k++) {
            const double *pb = in->passing + 4 * k;
            if (vg_box_inter(rb, pb) >= 0.5 * rb[2] * rb[3] && pb[2] * pb[3] >= 1.5 * rb[2] * rb[3])
                g->disturbed_until = fr->t + f->p.window;
        }
        if (g->nh >= n) {
            judge(f, g, n, in, min_cells);
            if (debug)
                vg_log("fire", VG_LOG_DEBUG,
                       "t=%.2f region %d box %d,%d-%d,%d area %.1f flicker %.2f switching %.2f "
                       "peak %.2f@%.1fHz shape %.2f move %.2f person %d vehicle %d passer "
                       "%d: %s",
                       fr->t, i, g->x0 * 2, g->y0 * 2, g->x1 * 2, g->y1 * 2, g->c.area,
                       g->c.flicker, g->c.switching, g->c.peak, g->c.peak_hz, g->c.shape, g->c.move,
                       g->c.on_person, g->c.on_vehicle, fr->t < g->disturbed_until,
                       g->c.ok ? "fire" : "no");
            if (g->c.ok) {
                if (g->agree_since < 0) g->agree_since = fr->t;
                g->miss = -1;
            } else if (g->agree_since >= 0) {
                if (g->miss < 0) g->miss = fr->t;
                if (fr->t - g->miss > GAP) g->agree_since = -1;
            }
            if (!g->open && g->agree_since >= 0 && g->c.ok &&
                fr->t - g->agree_since >= f->p.min_duration) {
                if ((ret = emit_start(f, g, fr, n, emit, opaque)) < 0) return ret;
            } else if (g->open && g->c.ok) {
                if ((ret = emit_update(f, g, fr, n, emit, opaque)) < 0) return ret;
            }
        }
        if (fr->t - g->last_seen > f->p.end_after) {
            if (g->open && (ret = emit_end(f, g, fr->index, fr->t, "no flame there any more", emit,
                                           opaque)) < 0)
                return ret;
            g->used = 0;
        }
    }
    return 0;
}

int vg_fire_flush(vg_fire_t *f, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    int sret = vg__smoke_flush(f->smoke, frame, t, emit, opaque);
    if (sret < 0) return sret;
    for (int i = 0; i < MAX_REGIONS; i++) {
        region_t *g = &f->r[i];
        if (!g->used || !g->open) continue;
        int ret = emit_end(f, g, frame, t, "end of the input", emit, opaque);
        if (ret < 0) return ret;
    }
    return 0;
}

/* ---- the "fire" stage ---- */

#include <vigie/detect.h>
#include <vigie/stage.h>
#include <vigie/track.h>

typedef struct fire_stage {
    vg_fire_t *f;
    double *boxes;
    int *vehicle;
    int cap;
    double *passing;
    int pcap;
    struct seen_track {
        int64_t id;
        double x, y;  /* its centre when first seen moving */
    } * first, *next; /* live tracks' first centres; the next frame's table, built aside */
    int nfirst, fcap;
    int64_t last_frame;
    double last_t;
    int warned_context; /* no detector: said once */
} fire_stage_t;

static int stage_emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

static int fire_init(vg_stage_t *st, vg_analysis_t *a)
{
    fire_stage_t *s = st->priv;
    return vg_fire_new(&s->f, a->scene, st->params);
}

/* COCO: bicycle, car, motorcycle, bus, train, truck */
static int is_vehicle(int cls)
{
    return cls == 1 || cls == 2 || cls == 3 || cls == 5 || cls == 6 || cls == 7;
}

static int fire_process(vg_stage_t *st, vg_analysis_t *a)
{
    fire_stage_t *s = st->priv;
    const vg_detections_t *det = a->slot[VG_SLOT_DETECTIONS];
    int nb = 0;
    s->last_frame = a->frame->index, s->last_t = a->frame->t;
    if (!det && !s->warned_context) {
        vg_log("fire", VG_LOG_WARNING,
               "the detector is not running: people and vehicles in flame colours (orange "
               "clothing, skin in warm light, tail lights) cannot be told from fire; add 'detect' "
               "to the analysers");
        s->warned_context = 1;
    }
    if (det && det->n > s->cap) {
        double *b = vg_realloc(s->boxes, (size_t)det->n * 4 * sizeof(*b));
        if (!b) return VG_ENOMEM;
        s->boxes = b;
        int *v = vg_realloc(s->vehicle, (size_t)det->n * sizeof(*v));
        if (!v) return VG_ENOMEM;
        s->vehicle = v, s->cap = det->n;
    }
    for (int i = 0; det && i < det->n; i++) {
        const vg_detection_t *d = &det->det[i];
        if (d->cls != 0 && !is_vehicle(d->cls)) continue;
        double *b = s->boxes + 4 * nb;
        b[0] = d->x, b[1] = d->y, b[2] = d->w, b[3] = d->h;
        s->vehicle[nb++] = is_vehicle(d->cls);
    }
    /* tracks moving by: confirmed, at half their size a second or faster */
    const vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
    int nt = 0, np = 0;
    const vg_track_t *tk = tr ? vg_tracker_tracks(tr, &nt) : NULL;
    if (nt > s->pcap) {
        double *p = vg_realloc(s->passing, (size_t)nt * 4 * sizeof(*p));
        if (!p) return VG_ENOMEM;
        s->passing = p, s->pcap = nt;
    }
    if (nt > s->fcap) {
        struct seen_track *q = vg_realloc(s->first, (size_t)nt * sizeof(*q));
        if (!q) return VG_ENOMEM;
        s->first = q;
        if (!(q = vg_realloc(s->next, (size_t)nt * sizeof(*q)))) return VG_ENOMEM;
        s->next = q, s->fcap = nt;
    }
    /* where each live track was first seen (the table keeps live tracks only, in their order) */
    int nf = 0;
    for (int i = 0; i < nt; i++) {
        const vg_track_t *k = &tk[i];
        double cx = k->box[0] + k->box[2] / 2, cy = k->box[1] + k->box[3] / 2, fx = cx, fy = cy;
        for (int j = 0; j < s->nfirst; j++)
            if (s->first[j].id == k->id) fx = s->first[j].x, fy = s->first[j].y;
        struct seen_track e = {k->id, fx, fy};
        /* a passer-by: confirmed, seen now, moving at PASSING of its size a second, and away
         * from where it was first seen by half its size (a flickering flame's blob jitters in
         * place) */
        double size = sqrt(k->box[2] * k->box[3]);
        if (k->state == VG_TRACK_CONFIRMED && k->t_seen >= a->frame->t - 1e-6 &&
            k->speed >= PASSING * size && hypot(cx - fx, cy - fy) >= 0.5 * size)
            memcpy(s->passing + 4 * np++, k->box, 4 * sizeof(double));
        s->next[nf++] = e; /* entries of dead tracks drop out */
    }
    struct seen_track *sw = s->first;
    s->first = s->next, s->next = sw, s->nfirst = nf;
    vg_fire_input_t in = {
        a->frame, a->slot[VG_SLOT_FOREGROUND], s->boxes, nb, s->vehicle, s->passing, np};
    return vg_fire_update(s->f, &in, stage_emit, a);
}

static int fire_flush(vg_stage_t *st, vg_analysis_t *a)
{
    fire_stage_t *s = st->priv;
    return s->f ? vg_fire_flush(s->f, s->last_frame, s->last_t, stage_emit, a) : 0;
}

static void fire_close(vg_stage_t *st)
{
    fire_stage_t *s = st->priv;
    vg_fire_free(&s->f);
    vg_free(s->boxes), vg_free(s->vehicle), vg_free(s->passing), vg_free(s->first);
    vg_free(s->next);
    s->boxes = NULL, s->vehicle = NULL, s->passing = NULL, s->first = s->next = NULL;
}

static const char *const fire_live[] = {"fire", NULL};

static int fire_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    fire_stage_t *s = st->priv;
    vg_fire_params_t p;
    int ret;
    memset(&p, 0, sizeof(p));
    if ((ret = vg_opt_defaults(&p, vg__fire_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_fire_option_group, &p, err, errlen)) < 0)
        return ret;
    if (s->f) vg_fire_set_params(s->f, &p);
    *(vg_fire_params_t *)st->params = p;
    return 0;
}

const vg_stage_class_t vg__fire_stage = {
    .name = "fire",
    .help = "a fire start: fire (flames and smoke)",
    .options = vg__fire_options,
    .params_size = sizeof(vg_fire_params_t),
    .priv_size = sizeof(fire_stage_t),
    .flags = VG_STAGE_NEEDS_CHROMA,
    .init = fire_init,
    .process = fire_process,
    .flush = fire_flush,
    .close = fire_close,
    .live_groups = fire_live,
    .update = fire_update,
    .needs = VG_SLOT_BIT(VG_SLOT_FOREGROUND),
    .uses = VG_SLOT_BIT(VG_SLOT_DETECTIONS) | VG_SLOT_BIT(VG_SLOT_TRACKS),
};
