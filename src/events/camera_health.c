/*
 * The "camera_health" stage: a camera that still sends pictures but can no longer watch — lights
 * out, the lens capped, covered by a hand, a bag or paint, or badly out of focus — is the
 * technical alert camera_fault (issue #18), like a camera that fails or stalls (vigie serve's
 * health check, src/server/health.c, which sees no pixel).
 *
 * Each frame the picture is cut into blocks of b x b pixels (b: 4 at 640 pixels wide, the width
 * over SAMPLES), whose means are averaged over the last frames, and into a grid of cells
 * (CELLS x CELLS) of those blocks; a cell is measured by its mean grey level and its detail, the
 * mean absolute second difference between neighbouring blocks, across and down. Blocks and the
 * average over time take a sensor's noise away (a covered lens does not move), and second
 * differences ignore a smooth shading (the light through a hand, a blurred picture), so only
 * edges and texture count. A cell is blind when it is dark (mean below dark_level) or has no detail
 * (below detail_min). The picture is blind when blind_share of its cells are (a sky or a plain
 * wall is a part of the picture, never nearly all of it). A fault starts when the picture has been
 * blind for `duration` seconds of scene time (someone passing close to the lens blinds it for a
 * second or two), with its reason — "dark" when the whole picture's mean is below dark_level, else
 * "covered" — and ends once it has been seeing again for `recover` seconds. Constants were chosen
 * on the development footage (docs/events.md, "camera_fault"): on none of it is the picture
 * ever blind, on the same footage darkened or blurred it always is.
 *
 * Cost: one read of each pixel and a few operations per block: 0.19 ms a 640 x 480 frame on the
 * development machine (user time of `vigie analyze -a camera_health` against `-a none` over
 * vtest.avi's 795 frames). What it finds: scripts/eval-camera-health.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/mem.h>
#include <vigie/stage.h>

#include "events_priv.h"

#define CELLS   8    /* the grid: CELLS x CELLS cells */
#define SAMPLES 160  /* blocks across the picture's width, about */
#define AVG_TAU 0.25 /* s: time constant of the block means' average over frames */

typedef struct health_params {
    double dark_level, detail_min, blind_share, duration, recover;
} health_params_t;

#define OFF(f) offsetof(health_params_t, f)
#define D(n_, f_, def_, lo_, hi_, u_, h_)                                                          \
    {                                                                                              \
        .name = n_, .type = VG_OPT_DOUBLE, .offset = OFF(f_), .def.d = def_, .min = lo_,           \
        .max = hi_, .unit = u_, .flags = VG_OPT_LIVE, .help = h_                                   \
    }
static const vg_option_t health_options[] = {
    D("dark_level", dark_level, 24, 0, 255, "grey levels",
      "a part of the picture darker than this on average is dark (lights out, lens capped; "
      "video's black is 16)"),
    D("detail_min", detail_min, 1.0, 0, 255, "grey levels",
      "a part of the picture with less detail than this shows nothing (covered or blurred "
      "lens): the mean second difference of neighbouring 4-pixel blocks' grey levels"),
    D("blind_share", blind_share, 0.9, 0.1, 1, NULL,
      "the picture is blind when this share of its parts are dark or show nothing"),
    D("duration", duration, 10, 0, 3600, "s",
      "a blind picture for this long is a camera_fault (someone passing close to the lens is "
      "not)"),
    D("recover", recover, 2, 0, 3600, "s", "a camera_fault ends after seeing again this long"),
    {.name = NULL},
};
#undef D
#undef OFF

typedef struct health {
    int open;           /* a fault is open */
    int64_t id;         /* its event id */
    double blind_from;  /* scene time the picture went blind (-1: it sees) */
    double seen_from;   /* scene time it sees again while a fault is open (-1: blind) */
    double share, mean; /* the last frame's blind share and mean grey level */
    float *avg;         /* block means, averaged over frames (nbx x nby) */
    unsigned *acc;      /* a block row's sums (nbx) */
    int nbx, nby, b, w, h;
    double t_prev;      /* the last frame's time */
    int64_t last_index; /* and its index */
} health_t;

/* Block means of @im folded into h->avg: b x b pixels (b: the picture's width over SAMPLES, at
 * least 4), averaged over the last frames (AVG_TAU; @alpha: the new frame's weight), so that a
 * sensor's noise, averaged over a block and over time, is not taken for detail (a covered lens does
 * not move). */
static int update_blocks(health_t *h, const vg_image_t *im, double alpha)
{
    if (!h->avg || h->w != im->w || h->h != im->h) {
        vg_free(h->avg);
        h->b = im->w / SAMPLES;
        if (h->b < 4) h->b = 4;
        h->nbx = im->w / h->b, h->nby = im->h / h->b;
        h->w = im->w, h->h = im->h;
        vg_free(h->acc);
        h->acc = NULL;
        h->avg = h->nbx > 0 && h->nby > 0
                     ? vg_malloc((size_t)h->nbx * (size_t)h->nby * sizeof(*h->avg))
                     : NULL;
        if (h->avg && !(h->acc = vg_malloc((size_t)h->nbx * sizeof(*h->acc)))) {
            vg_free(h->avg);
            h->avg = NULL;
        }
        if (!h->avg) return h->nbx > 0 && h->nby > 0 ? VG_ENOMEM : 0;
        h->nbx = -h->nbx; /* first frame: taken as it is */
    }
    int first = h->nbx < 0, b = h->b;
    if (first) h->nbx = -h->nbx;
    /* each block row's sums, row by row of pixels (in order in memory; a 4-pixel block, the
     * usual size, as a loop the compiler vectorises) */
    unsigned *acc = h->acc;
    for (int j = 0; j < h->nby; j++) {
        memset(acc, 0, sizeof(unsigned) * (size_t)h->nbx);
        for (int y = 0; y < b; y++) {
            const uint8_t *r = im->data + (size_t)(j * b + y) * im->stride;
            if (b == 4)
                for (int i = 0; i < h->nbx; i++)
                    acc[i] += (unsigned)r[4 * i] + r[4 * i + 1] + r[4 * i + 2] + r[4 * i + 3];
            else
                for (int i = 0; i < h->nbx; i++)
                    for (int x = 0; x < b; x++) acc[i] += r[i * b + x];
        }
        for (int i = 0; i < h->nbx; i++) {
            float v = (float)acc[i] / (float)(b * b), *a = &h->avg[(size_t)j * h->nbx + i];
            *a = first ? v : *a + (float)alpha * (v - *a);
        }
    }
    return 0;
}

/* The share of blind cells and the mean grey level, from the averaged block means: a cell's
 * detail is the mean absolute second difference of its blocks, across and down. */
static double measure(const health_t *h, const health_params_t *p, double *mean_out)
{
    double total = 0;
    int blind = 0, cells = 0;
    for (int cy = 0; cy < CELLS; cy++)
        for (int cx = 0; cx < CELLS; cx++) {
            int i0 = cx * h->nbx / CELLS, i1 = (cx + 1) * h->nbx / CELLS;
            int j0 = cy * h->nby / CELLS, j1 = (cy + 1) * h->nby / CELLS;
            if (i1 <= i0 || j1 <= j0) continue;
            double sum = 0, detail = 0;
            long pairs = 0;
            for (int j = j0; j < j1; j++) {
                const float *r = h->avg + (size_t)j * h->nbx;
                for (int i = i0; i < i1; i++) {
                    sum += r[i];
                    /* second differences: a smooth shading (a hand's, a blur's) has none */
                    if (i > i0 && i + 1 < i1)
                        detail += fabs(2 * r[i] - r[i - 1] - r[i + 1]), pairs++;
                    if (j > j0 && j + 1 < j1)
                        detail += fabs(2 * r[i] - r[i - h->nbx] - r[i + h->nbx]), pairs++;
                }
            }
            cells++;
            double m = sum / ((double)(i1 - i0) * (j1 - j0)),
                   g = pairs ? detail / (double)pairs : 0;
            total += m;
            if (m < p->dark_level || g < p->detail_min) blind++;
        }
    *mean_out = cells ? total / cells : 0;
    return cells ? (double)blind / cells : 0;
}

static int fault(vg_stage_t *st, vg_analysis_t *a, vg_event_phase_t phase, double t, int64_t frame)
{
    health_t *h = st->priv;
    const health_params_t *p = st->params;
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_CAMERA_FAULT, phase);
    ev.event_id = h->id;
    ev.t = t;
    ev.frame = frame;
    ev.score = 1;
    if (phase == VG_PHASE_START) {
        vg_event_detail_str(&ev, "reason", h->mean < p->dark_level ? "dark" : "covered");
        vg_event_detail_num(&ev, "blind_share", floor(h->share * 100 + 0.5) / 100);
        vg_event_detail_num(&ev, "mean_level", floor(h->mean * 10 + 0.5) / 10);
        vg_event_detail_str(&ev, "message",
                            h->mean < p->dark_level
                                ? "the picture is dark: lights out or the lens capped?"
                                : "the picture shows no detail: the lens covered, blurred or "
                                  "turned to a wall?");
    }
    return vg_stage_emit(a, &ev);
}

static int health_init(vg_stage_t *st, vg_analysis_t *a)
{
    health_t *h = st->priv;
    (void)a;
    h->blind_from = h->seen_from = -1;
    return 0;
}

static int health_process(vg_stage_t *st, vg_analysis_t *a)
{
    health_t *h = st->priv;
    const health_params_t *p = st->params;
    const vg_frame_t *f = a->frame;
    double dt = h->avg && f->t > h->t_prev && !f->discontinuity ? f->t - h->t_prev : 1e9;
    if (h->avg && f->t < h->t_prev) { /* time went back (a file playing again): keep what ran */
        if (h->blind_from >= 0) h->blind_from = f->t - (h->t_prev - h->blind_from);
        if (h->seen_from >= 0) h->seen_from = f->t - (h->t_prev - h->seen_from);
    }
    h->t_prev = f->t;
    h->last_index = f->index;
    int ret = update_blocks(h, &f->image, 1 - exp(-dt / AVG_TAU));
    if (ret < 0 || !h->avg) return ret;
    double t = f->t;
    h->share = measure(h, p, &h->mean);
    int blind = h->share >= p->blind_share;
    if (blind) {
        if (h->blind_from < 0) h->blind_from = t;
        h->seen_from = -1;
        if (!h->open && t - h->blind_from >= p->duration) {
            h->open = 1;
            h->id = vg_stage_new_event_id(a);
            return fault(st, a, VG_PHASE_START, t, f->index);
        }
        return 0;
    }
    h->blind_from = -1;
    if (!h->open) return 0;
    if (h->seen_from < 0) h->seen_from = t;
    if (t - h->seen_from >= p->recover) {
        h->open = 0;
        h->seen_from = -1;
        return fault(st, a, VG_PHASE_END, t, f->index);
    }
    return 0;
}

static int health_flush(vg_stage_t *st, vg_analysis_t *a)
{
    health_t *h = st->priv;
    if (!h->open) return 0;
    h->open = 0;
    const vg_frame_t *f = a->frame; /* NULL at the end of the input: the last frame seen */
    return fault(st, a, VG_PHASE_END, f ? f->t : h->t_prev, f ? f->index : h->last_index);
}

static void health_close(vg_stage_t *st)
{
    health_t *h = st->priv;
    vg_free(h->avg);
    vg_free(h->acc);
    h->avg = NULL;
    h->acc = NULL;
}

static const char *const health_live[] = {"camera_health", NULL};

static int health_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    health_params_t p;
    int ret;
    if ((ret = vg_opt_defaults(&p, health_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg__camera_health_group, &p, err, errlen)) < 0)
        return ret;
    *(health_params_t *)st->params = p;
    return 0;
}

const vg_option_group_t vg__camera_health_group = {
    "camera_health", "a camera that sends pictures but cannot watch (dark, covered, blurred)",
    health_options};

const vg_stage_class_t vg__camera_health_stage = {
    .name = "camera_health",
    .help = "a camera that sends pictures but cannot watch (dark, covered, blurred): camera_fault",
    .options = health_options,
    .params_size = sizeof(health_params_t),
    .priv_size = sizeof(health_t),
    .init = health_init,
    .process = health_process,
    .flush = health_flush,
    .close = health_close,
    .live_groups = health_live,
    .update = health_update,
};
