/*
 * Abandoned objects (include/vigie/abandoned.h says what counts; notes on the method here).
 *
 * Each frame:
 * 1. Object pixels: the static foreground (VG_MASK_STATIC) outside ignore masks and fixtures;
 *    minus shadows and reflections (darker than the long-term background by a shadow's ratio,
 *    motion.shadow_min..max, with no edge the background lacked and the floor's texture kept:
 *    a shadow keeps the floor's grain, an object as dark keeps its outline and hides the
 *    grain), settled per connected region of static pixels (settle_shadows: an object-sized
 *    region whose inside is for a quarter unlike a shadow is an object, its smooth dark body
 *    included); holes filled (a uniform bag whose inside looked like a shadow); an opening of
 *    1 pixel (specks, thin bridges to static debris) and a closing of 2 (an object's pieces
 *    join); minus the people on it: the current detector result's person boxes (grown by a
 *    tenth on each side) and the "still persons" remembered from earlier results — a person
 *    box under which the mask was mostly static is kept while the mask under it stays static,
 *    so that a sleeping person the detector misses in later looks is still cut out. Cut pixels
 *    are marked apart from background, so that their border is not taken for the object's
 *    outline.
 * 2. Connected components of what is left (8-connectivity, vigie's labelling) are the blobs; a
 *    blob's bottom rows that differ from the background far less than its body (a reflection
 *    fading away below it) are trimmed.
 * 3. Candidates persist across frames: a blob continues the candidate it overlaps most (share of
 *    the smaller box); a backpack, handbag or suitcase the detector saw over static pixels
 *    gives the candidate it lies on its box too (the object whole where the mask holds a
 *    part); a candidate is present while some blob covers half of it (a passer-by in front for
 *    a moment does not restart its clock); of two candidates that overlap by half (the older's
 *    box grown by a quarter: a handle), the younger goes. A candidate whose event is open keeps
 *    its box. One unseen for end_after + 1 s with no open event is forgotten.
 * 4. Per candidate: detector looks (results whose region holds its centre) with and without
 *    person boxes covering person_share of it (a person for good once they did in two looks and
 *    a quarter of them); along its outline, the step (mean of 2 pixels inside minus 2 outside)
 *    in the picture and in the long-term background: the shares of outline pixels with a clear
 *    step only in the picture (new: an object's edge) and only in the background (old: a ghost,
 *    the floor uncovered where something left), averaged over time; its size; whether it
 *    touches the picture's edge; its owner and the owner's distance. A step, not a gradient: a
 *    textured floor has gradients everywhere but no step along a line. Validity has a
 *    hysteresis (a measure must fall to 80 % of its bar to undo it). Someone other than the
 *    owner attends it only if they stopped (the latest look saw them where a look 1-3 s earlier
 *    did; a box the detect stage carried over from an older look proves nothing) and are there
 *    (a tenth of their box unlike the background: not a false person on the empty floor).
 * 5. The condition "a valid object, present, unattended" drives a vg_rule_t (on_time =
 *    unattended_time, off_time = end_after): one start, one end, a cooldown.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/abandoned.h>
#include <vigie/box.h>
#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/vision.h>

#include "../core/raster.h"
#include "events_priv.h"

#define COMP         "abandoned"
#define MAX_CANDS    64
#define MAX_STILL    64
#define CUT          1    /* object-image level of pixels cut out as a person */
#define SHADOW       2    /* object-image level of pixels that look like a shadow, until settled */
#define SMOOTH       6    /* grey levels of gradient below which a shadow-dark pixel is a shadow */
#define MISSES_MAX   3    /* looks finding nobody at a remembered person's place forget them */
#define OPEN_RADIUS  1    /* px of the opening that cuts objects from static debris */
#define CLOSE_RADIUS 2    /* px of the closing that joins an object's pieces */
#define ROI_MARGIN   8    /* px around the static pixels where their processing runs */
#define PRESENT_HOLD 0.5  /* s an object may be hidden without its clock restarting */
#define SHADOW_KEEP  0.25 /* share of a region's inside unlike a shadow: an object */
#define PERSON_FG    0.1  /* share of a person box unlike the background for them to attend */
#define LUG_STATIC   0.3  /* share of a luggage box the static foreground must cover */
#define ATTEND_HOLD  1.0  /* s an attending person counts after they were last seen */

/* ---- options ---- */

#define OFF(x) offsetof(vg_abandon_params_t, x)
const vg_option_t vg__abandon_options[] = {
    {.name = "unattended_time",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(unattended_time),
     .def.d = 30,
     .min = 0,
     .max = 86400,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time an object stays unattended before it is abandoned"},
    {.name = "owner_distance",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(owner_distance),
     .def.d = 3,
     .min = 0.1,
     .max = 100,
     .unit = "m",
     .flags = VG_OPT_LIVE,
     .help = "an owner farther than this from the object has left it (calibrated scenes)"},
    {.name = "owner_distance_px",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(owner_distance_px),
     .def.d = 200,
     .min = 1,
     .max = 10000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help = "the same without calibration, in input pixels"},
    {.name = "min_size",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_size),
     .def.d = 0.15,
     .min = 0,
     .max = 100,
     .unit = "m",
     .flags = VG_OPT_LIVE,
     .help = "smallest object, its width on the ground (calibrated scenes)"},
    {.name = "max_size",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(max_size),
     .def.d = 1.5,
     .min = 0,
     .max = 100,
     .unit = "m",
     .flags = VG_OPT_LIVE,
     .help = "largest object, its width on the ground (calibrated scenes)"},
    {.name = "min_size_px",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_size_px),
     .def.d = 12,
     .min = 1,
     .max = 10000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help =
         "without calibration: smallest object, the side of a square of its box's area, in input "
         "pixels"},
    {.name = "max_size_px",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(max_size_px),
     .def.d = 250,
     .min = 1,
     .max = 10000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help = "without calibration: largest object, the larger side of its box in input pixels"},
    {.name = "contrast_min",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(contrast_min),
     .def.d = 8,
     .min = 0,
     .max = 255,
     .unit = "grey levels",
     .flags = VG_OPT_LIVE,
     .help = "step in grey levels across an object's outline that makes an edge"},
    {.name = "edge_share",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(edge_share),
     .def.d = 0.3,
     .min = 0,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "share of the object's outline where the picture has an edge (at least "
             "contrast_min) that the background did not: a puddle, a patch of light or a "
             "reflection has few"},
    {.name = "ghost_ratio",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(ghost_ratio),
     .def.d = 1.5,
     .min = 0,
     .max = 100,
     .flags = VG_OPT_LIVE,
     .help = "outline pixels with a new edge must outnumber those where the background had an "
             "edge the picture lost by this factor (else it is a ghost: the floor uncovered "
             "where something left)"},
    {.name = "border",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(border),
     .def.d = 8,
     .min = 0,
     .max = 1000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help = "an object this close to the edge of the picture (inside any black bars) is partly "
             "out of view: vigie cannot tell a bag from a person's shoulder there, and raises "
             "nothing"},
    {.name = "looks_min",
     .type = VG_OPT_INT,
     .offset = OFF(looks_min),
     .def.i = 2,
     .min = 1,
     .max = 1000,
     .flags = VG_OPT_LIVE,
     .help = "detector looks that must find no person on an object before it may count"},
    {.name = "person_share",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(person_share),
     .def.d = 0.5,
     .min = 0.05,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "share of an object's box that person boxes must cover for a look to call it a "
             "person"},
    {.name = "person_memory",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(person_memory),
     .def.d = 3,
     .min = 0.1,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "a detector result's persons count for this long"},
    {.name = "still_speed",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(still_speed),
     .def.d = 0.4,
     .min = 0,
     .max = 100,
     .unit = "heights/s",
     .flags = VG_OPT_LIVE,
     .help = "before the detector has looked twice: a person slower than this on the tracker is "
             "standing by the object (attending it), not walking past"},
    {.name = "end_after",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(end_after),
     .def.d = 2,
     .min = 0,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time an object must be gone (or attended) before its event ends"},
    {.name = "cooldown",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(cooldown),
     .def.d = 60,
     .min = 0,
     .max = 86400,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "after an event ends, the same object cannot raise another for this long"},
    {.name = "rate",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(rate),
     .def.d = 5,
     .min = 0,
     .max = 1000,
     .unit = "1/s",
     .flags = VG_OPT_LIVE,
     .help = "frames a second the stage analyses (0: every frame); a frame bringing a new "
             "detector look is always analysed"},
    {.name = NULL},
};
#undef OFF

const vg_option_group_t vg_abandon_option_group = {
    "abandoned_object", "abandoned objects: static, not a person, left by their owner",
    vg__abandon_options};

/* ---- state ---- */

typedef struct cand {
    int id;
    double box[4]; /* analysis pixels, last seen */
    int area;
    double first_seen, last_seen;
    int looks, person_looks, is_person;
    int64_t last_look;         /* results counter of the last look counted */
    double contrast;           /* running mean */
    double contrast_bg;        /* the same on the long-term background */
    double edge_new, edge_old; /* shares of its outline with a new edge, with an edge gone */
    double size;
    int ncontrast;       /* frames the outline measures average over (at most 30) */
    int64_t measured_at; /* the frame of their last sample */
    int64_t owner;       /* tracker id, 0 if unknown */
    double owner_dist;   /* NAN when not in view */
    int attended;
    double last_attended;
    int zone; /* index of the zone holding its foot point, -1 none */
    int valid;
    int dead;            /* merged into an older candidate */
    const char *why_not; /* when not valid */
    vg_rule_t rule;
    double lug_box[4]; /* the detector's luggage box on it (analysis pixels), the last one */
    double lug_t;      /* when seen; -INFINITY never */
    int lug_cls;       /* its COCO class */
    int seen;          /* a blob continued it this frame (its box follows that blob) */
    int present;       /* some blob covers it this frame */
} cand_t;

/* the persons of a recent detector look (to tell people standing from people walking past) */
#define PAST_LOOKS   8
#define PAST_PERSONS 32
typedef struct past_look {
    double t;
    int n;
    double box[PAST_PERSONS][4];
} past_look_t;

typedef struct still {
    double box[4]; /* analysis pixels */
    double t;      /* last confirmed by a detector look */
} still_t;

struct vg_abandon {
    vg_abandon_params_t p;
    const vg_scene_t *scene;
    vg_abandon_params_t *zp; /* per zone */
    vg_calib_t calib;
    int w, h, in_w, in_h;
    vg_image_t obj, ignore; /* owned pixels */
    uint8_t *obj_px, *ignore_px, *tmp;
    int32_t *stack;
    int has_ignore;
    vg_objects_t blobs;
    cand_t cand[MAX_CANDS];
    int ncand, next_id;
    still_t still[MAX_STILL];
    int nstill;
    int warned_full;
    past_look_t looks[PAST_LOOKS]; /* the last looks, oldest first */
    int nlooks;
    double content[4]; /* analysis pixels: inside the black bars */
    int roi[4];        /* this frame's static pixels' box, with a margin */
    int has_roi;
    int has_content;
};

const char *vg_abandon_state_name(vg_abandon_state_t s)
{
    static const char *const names[] = {"candidate", "person",     "rejected",
                                        "attended",  "unattended", "abandoned"};
    return (unsigned)s < sizeof(names) / sizeof(*names) ? names[s] : "?";
}

static int alloc_image(vg_image_t *img, uint8_t **px, int w, int h)
{
    *px = vg_calloc((size_t)w * h + 16, 1);
    if (!*px) return VG_ENOMEM;
    memset(img, 0, sizeof(*img));
    img->w = w, img->h = h, img->stride = w, img->fmt = VG_PIX_GRAY8, img->data = *px;
    return 0;
}

/* Per zone: the camera's values @p with the zone's own settings over them, into @zp. */
static int zone_params(const vg_scene_t *scene, const vg_abandon_params_t *p,
                       vg_abandon_params_t *zp, char *err, size_t errlen)
{
    for (int k = 0; k < scene->nb_zones; k++) {
        zp[k] = *p;
        if (scene->zones[k].settings &&
            vg_settings_apply(scene->zones[k].settings, &vg_abandon_option_group, &zp[k], err,
                              errlen) < 0)
            return VG_EINVAL;
    }
    return 0;
}

int vg_abandon_set_params(vg_abandon_t *ab, const vg_abandon_params_t *p, char *err, size_t errlen)
{
    int nz = ab->scene->nb_zones;
    vg_abandon_params_t *zp = NULL;
    if (nz && !(zp = vg_calloc((size_t)nz, sizeof(*zp)))) return VG_ENOMEM;
    int ret = zp ? zone_params(ab->scene, p, zp, err, errlen) : 0;
    if (ret < 0) {
        vg_free(zp);
        return ret;
    }
    if (zp) {
        memcpy(ab->zp, zp, (size_t)nz * sizeof(*zp));
        vg_free(zp);
    }
    ab->p = *p;
    return 0;
}

int vg_abandon_new(vg_abandon_t **out, const vg_scene_t *scene, const vg_abandon_params_t *p, int w,
                   int h, int in_w, int in_h, char *err, size_t errlen)
{
    if (w < 3 || h < 3 || in_w < 1 || in_h < 1) {
        snprintf(err, errlen, "abandoned_object: bad frame size %dx%d", w, h);
        return VG_EINVAL;
    }
    vg_abandon_t *ab = vg_calloc(1, sizeof(*ab));
    int ret = VG_ENOMEM;
    if (!ab) return VG_ENOMEM;
    ab->p = *p;
    ab->scene = scene;
    ab->w = w, ab->h = h, ab->in_w = in_w, ab->in_h = in_h;
    vg_objects_init(&ab->blobs);
    if (scene->nb_zones) {
        ab->zp = vg_calloc((size_t)scene->nb_zones, sizeof(*ab->zp));
        if (!ab->zp) goto fail;
        if ((ret = zone_params(scene, p, ab->zp, err, errlen)) < 0) goto fail;
    }
    if (scene->nb_calib &&
        (ret = vg_calib_fit(&ab->calib, scene->calib, scene->nb_calib, err, errlen)) < 0)
        goto fail;
    ret = VG_ENOMEM;
    if (alloc_image(&ab->obj, &ab->obj_px, w, h) < 0) goto fail;
    if (!(ab->tmp = vg_malloc(2 * (size_t)w * h))) goto fail;
    if (!(ab->stack = vg_malloc((size_t)w * h * sizeof(int32_t)))) goto fail;
    if (scene->nb_ignore || scene->nb_fixtures) {
        if (alloc_image(&ab->ignore, &ab->ignore_px, w, h) < 0) goto fail;
        double sx = (double)w / in_w, sy = (double)h / in_h;
        for (int i = 0; i < scene->nb_ignore; i++)
            vg__fill_polygon(&ab->ignore, &scene->ignore[i], sx, sy, 255);
        for (int i = 0; i < scene->nb_fixtures; i++)
            vg__fill_polygon(&ab->ignore, &scene->fixtures[i].polygon, sx, sy, 255);
        ab->has_ignore = 1;
    }
    ab->next_id = 1;
    *out = ab;
    return 0;
fail:
    vg_abandon_free(&ab);
    return ret;
}

void vg_abandon_free(vg_abandon_t **pab)
{
    vg_abandon_t *ab = *pab;
    if (!ab) return;
    vg_free(ab->zp);
    vg_free(ab->obj_px);
    vg_free(ab->ignore_px);
    vg_free(ab->tmp);
    vg_free(ab->stack);
    vg_objects_close(&ab->blobs);
    vg_free(ab);
    *pab = NULL;
}

/* ---- geometry ---- */

/* Distance between two foot points given in input pixels: metres on the ground with a
 * calibration, else pixels. NAN if a point does not project. */
static double foot_distance(const vg_abandon_t *ab, double x0, double y0, double x1, double y1)
{
    if (!ab->calib.valid) return hypot(x1 - x0, y1 - y0);
    double g0x, g0y, g1x, g1y;
    if (vg_calib_to_ground(&ab->calib, x0, y0, &g0x, &g0y) < 0 ||
        vg_calib_to_ground(&ab->calib, x1, y1, &g1x, &g1y) < 0)
        return NAN;
    return hypot(g1x - g0x, g1y - g0y);
}

/* The picture's content: inside the black bars some cameras and encoders add (columns and rows
 * at the edges, up to an eighth of the picture, whose mean is below 24 grey levels). Set once,
 * from the first frame that is not dark as a whole; the whole picture until then. */
static double col_mean(const vg_image_t *g, int x)
{
    int64_t s = 0;
    for (int y = 0; y < g->h; y++) s += vg_image_row(g, y)[x];
    return (double)s / g->h;
}

static double row_mean(const vg_image_t *g, int y)
{
    int64_t s = 0;
    const uint8_t *r = vg_image_row(g, y);
    for (int x = 0; x < g->w; x++) s += r[x];
    return (double)s / g->w;
}

static void find_content(vg_abandon_t *ab, const vg_image_t *g)
{
    int w = g->w, h = g->h;
    int x0 = 0, x1 = w, y0 = 0, y1 = h;
    ab->content[0] = 0, ab->content[1] = 0, ab->content[2] = w, ab->content[3] = h;
    /* a dark picture (night, a black first frame) tells nothing about bars: try a later one */
    double all = 0;
    for (int y = 0; y < h; y++) all += row_mean(g, y);
    if (all / h < 48) return;
    while (x0 < w / 8 && col_mean(g, x0) < 24) x0++;
    while (x1 > w - w / 8 && col_mean(g, x1 - 1) < 24) x1--;
    while (y0 < h / 8 && row_mean(g, y0) < 24) y0++;
    while (y1 > h - h / 8 && row_mean(g, y1 - 1) < 24) y1--;
    ab->content[0] = x0, ab->content[1] = y0, ab->content[2] = x1 - x0, ab->content[3] = y1 - y0;
    ab->has_content = 1;
}

/* Whether box @b (analysis pixels) reaches within @margin input pixels of the content's edge. */
static int at_edge(const vg_abandon_t *ab, const vg_abandon_input_t *in, const double *b,
                   double margin)
{
    const double *c = ab->content;
    double mx = margin / in->sx, my = margin / in->sy;
    return b[0] < c[0] + mx || b[1] < c[1] + my || b[0] + b[2] > c[0] + c[2] - mx ||
           b[1] + b[3] > c[1] + c[3] - my;
}

/* ---- step 1: the object image ---- */

static void cut_box(vg_image_t *img, const double *b, double grow)
{
    int x0 = (int)floor(b[0] - grow * b[2]), y0 = (int)floor(b[1] - grow * b[3]);
    int x1 = (int)ceil(b[0] + b[2] * (1 + grow)), y1 = (int)ceil(b[1] + b[3] * (1 + grow));
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->w) x1 = img->w;
    if (y1 > img->h) y1 = img->h;
    for (int y = y0; y < y1; y++) {
        uint8_t *r = vg_image_row(img, y);
        for (int x = x0; x < x1; x++)
            if (r[x]) r[x] = CUT;
    }
}

/* @b grown by @f of its size on each side, into @out (returned) */
static const double *grown(const double *b, double f, double *out)
{
    out[0] = b[0] - f * b[2], out[1] = b[1] - f * b[3];
    out[2] = b[2] * (1 + 2 * f), out[3] = b[3] * (1 + 2 * f);
    return out;
}

/* shares of box @b (analysis pixels) that the mask holds static, and foreground (moving or
 * static) */
static double static_share(const vg_image_t *mask, const double *b)
{
    return vg__box_share(mask, b, VG_MASK_STATIC, VG_MASK_STATIC);
}

static double fg_share(const vg_image_t *mask, const double *b)
{
    return vg__box_share(mask, b, VG_MASK_STATIC, 255);
}

/* Opening of radius OPEN_RADIUS: scattered pixels and thin bridges between an object and the static
 * debris around it (a lighting change, a reflection) go. */
static void open_objects(vg_abandon_t *ab, vg_image_t *o)
{
    size_t n = (size_t)o->w * o->h;
    uint8_t *orig = ab->tmp, *tmp = ab->tmp + n;
    for (int y = 0; y < o->h; y++)
        memcpy(orig + (size_t)y * o->w, vg_image_row(o, y), (size_t)o->w);
    for (int k = 0; k < OPEN_RADIUS; k++) vg_mask_morph3(o, tmp, NULL, 0, CUT);
    for (int k = 0; k < OPEN_RADIUS; k++) vg_mask_morph3(o, tmp, orig, 1, CUT);
}

/* Fill the holes of the object pixels: background not connected to the picture's border (the
 * inside of a uniform bag that the shadow test took for floor, say) becomes object. */
static void fill_holes(vg_abandon_t *ab, vg_image_t *o)
{
    vg_mask_fill_holes(o, ab->tmp, ab->stack);
}

/* Closing of radius CLOSE_RADIUS: the pieces of one object that the shadow test broke apart
 * (a uniform bag whose inside looked like a shadow) join again. */
static void close_objects(vg_abandon_t *ab, vg_image_t *o)
{
    for (int k = 0; k < CLOSE_RADIUS; k++) vg_mask_morph3(o, ab->tmp, NULL, 1, CUT);
    for (int k = 0; k < CLOSE_RADIUS; k++) vg_mask_morph3(o, ab->tmp, NULL, 0, CUT);
}

/*
 * A shadow is darker than the floor by a shadow's ratio all over, with no edge of its own inside;
 * the per-pixel test cannot tell it from the smooth inside of a dark object on a smooth floor (a
 * bag's body, between its outline and its darkest folds). So the test is settled per connected
 * region of static pixels: a region whose inside (pixels whose four neighbours are static too:
 * a shadow's soft outline is not its inside) is for at least SHADOW_KEEP of its pixels not
 * shadow-like (darker than any shadow, lighter than the floor, or with an edge of its own) is an
 * object and keeps all its pixels; otherwise its shadow-like pixels go.
 */
static int size_ok(const vg_abandon_t *ab, const vg_abandon_params_t *p, const double *ib,
                   double *size);

/* whether box @ib (input pixels) is larger than the largest object (the camera's setting) */
static int too_large(const vg_abandon_t *ab, const double *ib)
{
    double size = INFINITY;
    if (size_ok(ab, &ab->p, ib, &size)) return 0;
    return !(size <= (ab->calib.valid ? ab->p.max_size : ab->p.max_size_px));
}

static void settle_shadows(vg_abandon_t *ab, const vg_abandon_input_t *in)
{
    vg_image_t *o = &ab->obj;
    int w = ab->w, x0 = ab->roi[0], y0 = ab->roi[1], x1 = x0 + ab->roi[2], y1 = y0 + ab->roi[3];
    uint8_t *seen = ab->tmp;
    int32_t *list = ab->stack;
    for (int y = y0; y < y1; y++) memset(seen + (size_t)y * w + x0, 0, (size_t)(x1 - x0));
    /* only regions holding a shadow-like pixel can change: floods start from those (the flood
     * takes the whole region, whichever of its pixels it starts from) */
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *row = vg_image_row(o, y);
            const uint8_t *nx = memchr(row + x, SHADOW, (size_t)(x1 - x));
            if (!nx) break;
            x = (int)(nx - row);
            size_t i0 = (size_t)y * w + x;
            if (seen[i0]) continue;
            /* flood the region (8-connectivity), listing its pixels */
            int head = 0, tail = 0, inside = 0, kept = 0, shadowy = 0;
            int rx0 = x, rx1 = x, ry0 = y, ry1 = y;
            list[tail++] = (int32_t)i0;
            seen[i0] = 1;
            while (head < tail) {
                int32_t i = list[head++];
                int px = i % w, py = i / w, n4 = 0;
                uint8_t v = vg_image_row(o, py)[px];
                shadowy += v == SHADOW;
                if (px < rx0) rx0 = px;
                if (px > rx1) rx1 = px;
                if (py < ry0) ry0 = py;
                if (py > ry1) ry1 = py;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int qx = px + dx, qy = py + dy;
                        if ((!dx && !dy) || qx < x0 || qy < y0 || qx >= x1 || qy >= y1) continue;
                        if (!vg_image_row(o, qy)[qx]) continue;
                        n4 += !dx || !dy;
                        size_t q = (size_t)qy * w + qx;
                        if (!seen[q]) seen[q] = 1, list[tail++] = (int32_t)q;
                    }
                if (n4 == 4) inside++, kept += v != SHADOW;
            }
            if (!shadowy) continue;
            double ib[4] = {rx0 * in->sx, ry0 * in->sy, (rx1 - rx0 + 1) * in->sx,
                            (ry1 - ry0 + 1) * in->sy};
            int object = inside > 0 && kept >= SHADOW_KEEP * inside && !too_large(ab, ib);
            for (int k = 0; k < tail; k++) {
                uint8_t *v = vg_image_row(o, list[k] / w) + list[k] % w;
                if (*v == SHADOW) *v = object ? 255 : 0;
            }
        }
}

static void object_image(vg_abandon_t *ab, const vg_abandon_input_t *in, int fresh)
{
    vg_image_t *o = &ab->obj;
    int bx0 = ab->w, by0 = ab->h, bx1 = -1, by1 = -1;
    for (int y = 0; y < ab->h; y++) {
        const uint8_t *m = vg_image_row(in->mask, y);
        const uint8_t *ig = ab->has_ignore ? vg_image_row(&ab->ignore, y) : NULL;
        uint8_t *r = vg_image_row(o, y);
        memset(r, 0, (size_t)ab->w);
        if (!memchr(m, VG_MASK_STATIC, (size_t)ab->w)) continue;
        if (ig)
            for (int x = 0; x < ab->w; x++)
                r[x] = (uint8_t)((m[x] == VG_MASK_STATIC && !ig[x]) * 255);
        else
            for (int x = 0; x < ab->w; x++) r[x] = (uint8_t)((m[x] == VG_MASK_STATIC) * 255);
        const uint8_t *first = memchr(r, 255, (size_t)ab->w);
        if (!first) continue;
        const uint8_t *last = memrchr(r, 255, (size_t)ab->w);
        if (first - r < bx0) bx0 = (int)(first - r);
        if (last - r > bx1) bx1 = (int)(last - r);
        if (y < by0) by0 = y;
        by1 = y;
    }
    /* the work below is limited to the static pixels' box and a margin (ROI_MARGIN) */
    ab->has_roi = bx1 >= 0;
    if (!ab->has_roi) return;
    bx0 = bx0 - ROI_MARGIN < 0 ? 0 : bx0 - ROI_MARGIN;
    by0 = by0 - ROI_MARGIN < 0 ? 0 : by0 - ROI_MARGIN;
    bx1 = bx1 + ROI_MARGIN >= ab->w ? ab->w - 1 : bx1 + ROI_MARGIN;
    by1 = by1 + ROI_MARGIN >= ab->h ? ab->h - 1 : by1 + ROI_MARGIN;
    ab->roi[0] = bx0, ab->roi[1] = by0, ab->roi[2] = bx1 - bx0 + 1, ab->roi[3] = by1 - by0 + 1;
    vg_image_t view = {.w = ab->roi[2],
                       .h = ab->roi[3],
                       .stride = o->stride,
                       .fmt = VG_PIX_GRAY8,
                       .data = (uint8_t *)vg_image_row(o, by0) + bx0};
    for (int y = by0; y <= by1; y++) {
        uint8_t *r = vg_image_row(o, y);
        /* shadows and reflections: darker than the background by a shadow's ratio, with no
         * edge the background lacked (a shadow keeps the floor's texture; an object darker by
         * the same ratio keeps its outline, a new edge) */
        if (in->background && y > 0 && y < ab->h - 1) {
            const uint8_t *g = vg_image_row(in->gray, y), *b = vg_image_row(in->background, y);
            const uint8_t *gu = g - in->gray->stride, *gd = g + in->gray->stride;
            const uint8_t *bu = b - in->background->stride, *bd = b + in->background->stride;
            int xe = bx1 < ab->w - 2 ? bx1 : ab->w - 2; /* the last column tested */
            for (int x = bx0 > 1 ? bx0 : 1; x <= xe; x++) {
                if (!r[x]) { /* to the next static pixel at once */
                    const uint8_t *nx = memchr(r + x, 255, (size_t)(xe - x + 1));
                    if (!nx) break;
                    x = (int)(nx - r);
                }
                if (g[x] < ab->p.shadow_min * b[x] || g[x] > ab->p.shadow_max * b[x]) continue;
                int gc = abs(g[x + 1] - g[x - 1]) + abs(gd[x] - gu[x]);
                int gb = abs(b[x + 1] - b[x - 1]) + abs(bd[x] - bu[x]);
                /* the floor's texture hidden (clear in the background, lost in the picture)
                 * is no shadow either */
                int lost = gb >= 4 * SMOOTH && 2 * gc * b[x] < g[x] * gb;
                if (gc < 2 * SMOOTH + gb && !lost) r[x] = SHADOW;
            }
        }
    }
    settle_shadows(ab, in);
    fill_holes(ab, &view);
    open_objects(ab, &view);
    close_objects(ab, &view);
    /* still persons: forget those whose place is no longer static, remember new ones */
    int k = 0;
    for (int i = 0; i < ab->nstill; i++)
        if (static_share(in->mask, ab->still[i].box) >= 0.3) ab->still[k++] = ab->still[i];
    ab->nstill = k;
    if (in->look)
        for (int i = 0; i < in->npersons; i++) {
            const double *b = in->persons[i].box;
            if (static_share(in->mask, b) < 0.5) continue;
            int j;
            for (j = 0; j < ab->nstill; j++)
                if (vg_box_overlap_small(ab->still[j].box, b) > 0.7) break;
            if (j == ab->nstill) {
                if (ab->nstill == MAX_STILL) continue;
                ab->nstill++;
            }
            memcpy(ab->still[j].box, b, sizeof(ab->still[j].box));
            ab->still[j].t = in->t;
        }
    if (fresh)
        for (int i = 0; i < in->npersons; i++) cut_box(o, in->persons[i].box, 0.1);
    for (int i = 0; i < ab->nstill; i++) cut_box(o, ab->still[i].box, 0.1);
}

/*
 * Reflections on a shiny floor and cast shadows hang below an object and fade away from it: the
 * rows at the bottom of a blob whose mean difference from the long-term background is less than
 * half of the blob's typical row (its median) are not the object. Trims @bb in place.
 */
static void trim_reflection(const vg_abandon_t *ab, const vg_abandon_input_t *in, double *bb)
{
    int x0 = (int)bb[0], y0 = (int)bb[1], w = (int)bb[2], h = (int)bb[3];
    if (h < 8 || h > 4096) return;
    double rows[4096], sorted[4096];
    int n = 0;
    for (int y = y0; y < y0 + h; y++) {
        const uint8_t *r = vg_image_row(&ab->obj, y), *g = vg_image_row(in->gray, y),
                      *b = vg_image_row(in->background, y);
        double sum = 0;
        int cnt = 0;
        for (int x = x0; x < x0 + w; x++)
            if (r[x] == 255) sum += abs(g[x] - b[x]), cnt++;
        rows[y - y0] = cnt ? sum / cnt : 0;
        if (cnt) sorted[n++] = rows[y - y0];
    }
    if (n < 8) return;
    /* median by insertion sort: blobs are small */
    for (int i = 1; i < n; i++) {
        double v = sorted[i];
        int j = i - 1;
        while (j >= 0 && sorted[j] > v) sorted[j + 1] = sorted[j], j--;
        sorted[j + 1] = v;
    }
    double med = sorted[n / 2];
    int keep = h;
    while (keep > h / 3 && rows[keep - 1] < 0.5 * med) keep--;
    bb[3] = keep;
}

/* ---- step 4: a candidate's measures ---- */

/* Along the outline of the object pixels in box @b: the step across the outline (the mean of
 * STEP pixels inside minus STEP pixels outside, along the axis to the outside) in the picture
 * @g and in the background @bg (may be NULL), their means, and the shares of outline pixels
 * where the picture has a clear step the background lacks (new: an object's edge) and the
 * reverse (old: a ghost's outline, where something that left had its edge). A step rather than
 * a gradient: a textured floor has gradients everywhere but no step along a line. */
typedef struct edges {
    double cur, bg, fresh, old;
} edges_t;

#define STEP 2

static int px_at(const vg_image_t *g, int x, int y)
{
    x = x < 0 ? 0 : x >= g->w ? g->w - 1 : x;
    y = y < 0 ? 0 : y >= g->h ? g->h - 1 : y;
    return vg_image_row(g, y)[x];
}

/* mean of STEP pixels from (x, y) along (dx, dy), starting at the first */
static double run_mean(const vg_image_t *g, int x, int y, int dx, int dy)
{
    int s = 0;
    for (int k = 0; k < STEP; k++) s += px_at(g, x + k * dx, y + k * dy);
    return (double)s / STEP;
}

static edges_t outline_edges(const vg_abandon_t *ab, const vg_image_t *g, const vg_image_t *bg,
                             const double *b, double strong)
{
    edges_t e = {0, 0, 0, 0};
    const vg_image_t *o = &ab->obj;
    int x0 = (int)b[0], y0 = (int)b[1], x1 = (int)(b[0] + b[2]), y1 = (int)(b[1] + b[3]);
    if (x0 < 1) x0 = 1;
    if (y0 < 1) y0 = 1;
    if (x1 > ab->w - 1) x1 = ab->w - 1;
    if (y1 > ab->h - 1) y1 = ab->h - 1;
    int n = 0, nf = 0, no = 0;
    for (int y = y0; y < y1; y++) {
        const uint8_t *r = vg_image_row(o, y), *ru = vg_image_row(o, y - 1),
                      *rd = vg_image_row(o, y + 1);
        for (int x = x0; x < x1; x++) {
            if (r[x] != 255) continue;
            /* the outside: a background neighbour (a cut one does not count) */
            int dx = 0, dy = 0;
            if (!r[x - 1])
                dx = -1;
            else if (!r[x + 1])
                dx = 1;
            else if (!ru[x])
                dy = -1;
            else if (!rd[x])
                dy = 1;
            else
                continue;
            double gc = fabs(run_mean(g, x, y, -dx, -dy) - run_mean(g, x + dx, y + dy, dx, dy));
            double gb = 0;
            if (bg) gb = fabs(run_mean(bg, x, y, -dx, -dy) - run_mean(bg, x + dx, y + dy, dx, dy));
            e.cur += gc, e.bg += gb;
            nf += gc >= strong && gc >= 1.5 * gb + 2;
            no += gb >= strong && gb >= 1.5 * gc + 2;
            n++;
        }
    }
    if (n) e.cur /= n, e.bg /= n, e.fresh = (double)nf / n, e.old = (double)no / n;
    return e;
}

static const vg_abandon_params_t *params_of(const vg_abandon_t *ab, const cand_t *c)
{
    return c->zone >= 0 ? &ab->zp[c->zone] : &ab->p;
}

static void to_input(const vg_abandon_t *ab, const vg_abandon_input_t *in, const double *b,
                     double *o)
{
    o[0] = b[0] * in->sx, o[1] = b[1] * in->sy, o[2] = b[2] * in->sx, o[3] = b[3] * in->sy;
    (void)ab;
}

static int size_ok(const vg_abandon_t *ab, const vg_abandon_params_t *p, const double *ib,
                   double *size)
{
    if (ab->calib.valid) {
        double ax, ay, bx, by;
        if (vg_calib_to_ground(&ab->calib, ib[0], ib[1] + ib[3], &ax, &ay) < 0 ||
            vg_calib_to_ground(&ab->calib, ib[0] + ib[2], ib[1] + ib[3], &bx, &by) < 0)
            return 0;
        *size = hypot(bx - ax, by - ay);
        return *size >= p->min_size && *size <= p->max_size;
    }
    *size = fmax(ib[2], ib[3]);
    return sqrt(ib[2] * ib[3]) >= p->min_size_px && *size <= p->max_size_px;
}

/* the track that best covers box @b (analysis pixels), or NULL */
static const vg_track_t *track_of(const vg_abandon_input_t *in, const double *b)
{
    const vg_track_t *best = NULL;
    double bo = 0.5 * b[2] * b[3];
    for (int i = 0; i < in->ntracks; i++) {
        double o = vg_box_inter(in->tracks[i].box, b);
        if (o > bo) bo = o, best = &in->tracks[i];
    }
    return best;
}

/* The track whose box matches person box @b (IoU >= 0.3, the best), or NULL. */
static const vg_track_t *track_matching(const vg_abandon_input_t *in, const double *b)
{
    const vg_track_t *best = NULL;
    double bi = 0.3;
    for (int i = 0; i < in->ntracks; i++) {
        const double *t = in->tracks[i].box;
        double o = vg_box_iou(t, b);
        if (o > bi) bi = o, best = &in->tracks[i];
    }
    return best;
}

/* whether person @q was seen by the latest look (not carried over from an earlier one) */
static int seen_in_look(const vg_abandon_input_t *in, const vg_abandon_person_t *q)
{
    return q->t == 0 || q->t >= in->look_t - 1e-6;
}

/* Whether someone attends candidate @c; sets its owner distance. */
static int attended(vg_abandon_t *ab, const vg_abandon_input_t *in, cand_t *c, int fresh_persons)
{
    const vg_abandon_params_t *p = params_of(ab, c);
    double limit = ab->calib.valid ? p->owner_distance : p->owner_distance_px;
    double fx = (c->box[0] + c->box[2] / 2) * in->sx, fy = (c->box[1] + c->box[3]) * in->sy;
    int att = 0;
    c->owner_dist = NAN;
    /* the owner's track, unless the track is now the object itself */
    if (c->owner) {
        for (int i = 0; i < in->ntracks; i++) {
            const vg_track_t *tr = &in->tracks[i];
            if (tr->id != c->owner) continue;
            if (vg_box_inter(tr->box, c->box) >= 0.8 * tr->box[2] * tr->box[3]) break;
            /* a person box on the track is a better place than a merged blob's box */
            const double *pb = tr->box;
            for (int j = 0; fresh_persons && j < in->npersons; j++)
                if (vg_box_inter(in->persons[j].box, tr->box) >=
                    0.5 * in->persons[j].box[2] * in->persons[j].box[3])
                    pb = in->persons[j].box;
            double d =
                foot_distance(ab, fx, fy, (pb[0] + pb[2] / 2) * in->sx, (pb[1] + pb[3]) * in->sy);
            c->owner_dist = d;
            if (d <= limit) att = 1;
            break;
        }
    }
    /* anyone standing by it */
    for (int j = 0; fresh_persons && j < in->npersons && !att; j++) {
        const double *pb = in->persons[j].box;
        double d =
            foot_distance(ab, fx, fy, (pb[0] + pb[2] / 2) * in->sx, (pb[1] + pb[3]) * in->sy);
        if (!(d <= limit)) continue;
        /* standing: the detector saw them at the same place one to three seconds ago (a box
         * overlapping by half: a walker has moved a body height by then), or, before there is
         * such a look, slow on the tracker (a track followed for a second: a new one's velocity
         * is not known yet); or already part of the static foreground */
        int earlier = 0, same = 0;
        /* a box carried over from an earlier look (outside the last one's region, or not found
         * again in it) was not seen again: it cannot say that they stayed */
        int seen_now = seen_in_look(in, &in->persons[j]);
        for (int l = 0; seen_now && l < ab->nlooks; l++) {
            const past_look_t *pl = &ab->looks[l];
            if (in->look_t - pl->t < 1.0 || in->look_t - pl->t > 3.0) continue;
            earlier = 1;
            for (int q = 0; q < pl->n && !same; q++) {
                double o = vg_box_inter(pl->box[q], pb);
                same = o >= 0.5 * (pl->box[q][2] * pl->box[q][3] + pb[2] * pb[3] - o);
            }
        }
        const vg_track_t *tr = earlier ? NULL : track_matching(in, pb);
        double fg = fg_share(in->mask, pb);
        int stopped =
            same || (tr && tr->state != VG_TRACK_TENTATIVE && in->t - tr->t_first >= 1.0 &&
                     tr->speed <= p->still_speed * fmax(pb[3], 1));
        if ((stopped && fg >= PERSON_FG) || static_share(in->mask, pb) >= 0.5) att = 1;
    }
    return att;
}

static int emit_event(vg_abandon_t *ab, const vg_abandon_input_t *in, cand_t *c,
                      vg_event_phase_t phase, int64_t frame, double t, vg_emit_fn emit,
                      void *opaque)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_ABANDONED_OBJECT, phase);
    ev.event_id = c->rule.event_id;
    ev.t = t;
    ev.frame = frame;
    double ib[4];
    double sx = in ? in->sx : (double)ab->in_w / ab->w, sy = in ? in->sy : (double)ab->in_h / ab->h;
    ib[0] = c->box[0] * sx, ib[1] = c->box[1] * sy, ib[2] = c->box[2] * sx, ib[3] = c->box[3] * sy;
    vg_event_set_box(&ev, ib[0], ib[1], ib[2], ib[3]);
    if (c->zone >= 0) vg_event_set_zone(&ev, ab->scene->zones[c->zone].name);
    double q = c->edge_new / 0.6;
    ev.score = 0.5 + 0.25 * fmin(1, q) + 0.25 * fmin(1, (c->looks - c->person_looks) / 10.0);
    if (phase == VG_PHASE_START) {
        const vg_abandon_params_t *p = params_of(ab, c);
        double size = 0;
        size_ok(ab, p, ib, &size);
        vg_event_detail_num(&ev, "put_down_at", c->first_seen - (in ? in->static_time : 0));
        vg_event_detail_num(&ev, "unattended_since", c->rule.since);
        if (c->owner)
            vg_event_detail_int(&ev, "owner", c->owner);
        else
            vg_event_detail_str(&ev, "owner", "unknown");
        if (!isnan(c->owner_dist)) vg_event_detail_num(&ev, "owner_distance", c->owner_dist);
        if (c->lug_cls) vg_event_detail_str(&ev, "detector_class", vg_coco_name(c->lug_cls));
        vg_event_detail_bool(&ev, "calibrated", ab->calib.valid);
        vg_event_detail_str(&ev, "unit", ab->calib.valid ? "m" : "px");
        vg_event_detail_num(&ev, "size", size);
        vg_event_detail_int(&ev, "looks", c->looks);
        vg_event_detail_num(&ev, "contrast", c->contrast);
        char why[256];
        snprintf(why, sizeof(why),
                 "still since %.1f s; no person on it in %d of %d detector looks; an edge in the "
                 "picture (contrast %.1f); %s %.2g %s",
                 c->first_seen, c->looks - c->person_looks, c->looks, c->contrast,
                 ab->calib.valid ? "width" : "size", size, ab->calib.valid ? "m" : "px");
        vg_event_detail_str(&ev, "reason", why);
    } else {
        vg_event_detail_num(&ev, "duration", t - c->rule.started);
    }
    int ret = emit(opaque, &ev);
    if (phase == VG_PHASE_START && ret >= 0) c->rule.event_id = ev.event_id;
    return ret;
}

int vg_abandon_update(vg_abandon_t *ab, const vg_abandon_input_t *in, vg_emit_fn emit, void *opaque)
{
    if (in->gray->w != ab->w || in->gray->h != ab->h || in->mask->w != ab->w ||
        in->mask->h != ab->h || in->gray->fmt != VG_PIX_GRAY8 || in->mask->fmt != VG_PIX_GRAY8 ||
        (in->background && (in->background->w != ab->w || in->background->h != ab->h ||
                            in->background->fmt != VG_PIX_GRAY8)) ||
        in->npersons < 0 || (in->npersons && !in->persons) || in->nluggage < 0 ||
        (in->nluggage && !in->luggage) || in->ntracks < 0 || (in->ntracks && !in->tracks))
        return VG_EINVAL;
    int fresh = in->look_region[2] > 0 && in->t - in->look_t <= ab->p.person_memory;
    if (!ab->has_content) find_content(ab, in->gray);
    if (in->look) { /* remember this look's persons */
        if (ab->nlooks == PAST_LOOKS) {
            memmove(ab->looks, ab->looks + 1, (PAST_LOOKS - 1) * sizeof(*ab->looks));
            ab->nlooks--;
        }
        past_look_t *pl = &ab->looks[ab->nlooks++];
        pl->t = in->look_t;
        pl->n = 0; /* the persons this look saw (not those carried over from earlier ones) */
        for (int i = 0; i < in->npersons && pl->n < PAST_PERSONS; i++) {
            if (seen_in_look(in, &in->persons[i]))
                memcpy(pl->box[pl->n++], in->persons[i].box, sizeof(pl->box[0]));
        }
    }
    object_image(ab, in, fresh);
    int min_area = (int)(ab->p.min_size_px * ab->p.min_size_px / (in->sx * in->sy) / 4);
    ab->blobs.n = 0;
    if (ab->has_roi) {
        const int *r = ab->roi;
        vg_image_t view = {.w = r[2],
                           .h = r[3],
                           .stride = ab->obj.stride,
                           .fmt = VG_PIX_GRAY8,
                           .data = (uint8_t *)vg_image_row(&ab->obj, r[1]) + r[0]};
        int ret = vg_components(&view, NULL, min_area < 4 ? 4 : min_area, &ab->blobs);
        if (ret < 0) return ret;
        for (int i = 0; i < ab->blobs.n; i++) {
            vg_object_t *b = &ab->blobs.obj[i];
            b->x += r[0], b->y += r[1], b->cx += r[0], b->cy += r[1];
            b->foot_x += r[0], b->foot_y += r[1];
        }
    }
    int ret;

    for (int i = 0; i < ab->ncand; i++) ab->cand[i].seen = ab->cand[i].present = 0;
    for (int b = 0; b < ab->blobs.n; b++) {
        const vg_object_t *o = &ab->blobs.obj[b];
        double bb[4] = {o->x, o->y, o->w, o->h};
        if (in->background) trim_reflection(ab, in, bb);
        int best = -1;
        double bo = 0.5;
        for (int i = 0; i < ab->ncand; i++) {
            double ov = vg_box_overlap_small(ab->cand[i].box, bb);
            if (ov > bo) bo = ov, best = i;
            /* an object is there as long as some blob covers it */
            if (ov > 0.5) ab->cand[i].present = 1, ab->cand[i].last_seen = in->t;
        }
        cand_t *c;
        if (best >= 0) {
            c = &ab->cand[best];
            if (c->rule.active) continue;
            if (c->seen && o->area <= c->area) continue; /* a second, smaller piece */
        } else {
            if (ab->ncand == MAX_CANDS) {
                if (!ab->warned_full)
                    vg_log(COMP, VG_LOG_WARNING,
                           "more than %d still objects in view: the smallest are not followed",
                           MAX_CANDS);
                ab->warned_full = 1;
                continue;
            }
            c = &ab->cand[ab->ncand++];
            memset(c, 0, sizeof(*c));
            c->id = ab->next_id++;
            c->first_seen = in->t;
            c->owner_dist = NAN;
            c->last_attended = -INFINITY;
            c->lug_t = -INFINITY;
            c->zone = -1;
            vg_rule_init(&c->rule);
            /* the owner: the person the tracker saw it split from, else the nearest person in
             * view now */
            const vg_track_t *self = track_of(in, bb);
            double fx = (o->x + o->w / 2.0) * in->sx, fy = (o->y + o->h) * in->sy, bd = INFINITY;
            for (int j = 0; fresh && j < in->npersons; j++) {
                const double *pb = in->persons[j].box;
                double d = foot_distance(ab, fx, fy, (pb[0] + pb[2] / 2) * in->sx,
                                         (pb[1] + pb[3]) * in->sy);
                const vg_track_t *tr = track_of(in, pb);
                if (tr && d < bd) bd = d, c->owner = tr->id;
            }
            double limit = ab->calib.valid ? ab->p.owner_distance : ab->p.owner_distance_px;
            if (!(bd <= limit)) c->owner = 0;
            if (self && self->owner) c->owner = self->owner;
        }
        /* an established object keeps its box: a reflection or a person joining its blob
         * later does not make it another object */
        if (!c->rule.active) memcpy(c->box, bb, sizeof(c->box));
        c->area = o->area;
        c->last_seen = in->t;
        c->seen = 1;
    }

    /* one object, one candidate: of two that overlap by half (the older's box grown by a quarter
     * on each side: a handle, a strap), the younger goes (unless its event
     * is open) */
    for (int i = 0; i < ab->ncand; i++)
        for (int j = 0; j < ab->ncand; j++) {
            cand_t *a = &ab->cand[i], *b = &ab->cand[j];
            double ga[4];
            if (i == j || !(a->seen || a->present) || !(b->seen || b->present) || b->rule.active ||
                b->dead)
                continue;
            if (b->first_seen < a->first_seen || (b->first_seen == a->first_seen && j < i))
                continue;
            if (a->dead || vg_box_overlap_small(grown(a->box, 0.25, ga), b->box) <= 0.5) continue;
            b->dead = 1;
        }
    /* the detector's luggage on a still object: the whole object where the mask holds a part */
    for (int l = 0; in->look && l < in->nluggage; l++) {
        const vg_abandon_person_t *q = &in->luggage[l];
        if (!seen_in_look(in, q) || static_share(in->mask, q->box) < LUG_STATIC) continue;
        cand_t *best = NULL;
        double bo = 0.5;
        for (int i = 0; i < ab->ncand; i++) {
            cand_t *c = &ab->cand[i];
            double ov = vg_box_overlap_small(c->box, q->box);
            if (!c->dead && (c->seen || c->present) && ov > bo) bo = ov, best = c;
        }
        if (!best) continue;
        memcpy(best->lug_box, q->box, sizeof(best->lug_box));
        best->lug_t = in->t, best->lug_cls = q->cls;
    }
    for (int i = 0; i < ab->ncand; i++) {
        cand_t *c = &ab->cand[i];
        if (c->dead) continue;
        if (!c->rule.active && c->seen && in->t - c->lug_t <= params_of(ab, c)->person_memory)
            vg_box_union(c->box, c->lug_box, c->box);
        if (c->seen || c->present) {
            double ib[4];
            to_input(ab, in, c->box, ib);
            double fx = ib[0] + ib[2] / 2, fy = ib[1] + ib[3];
            c->zone = -1;
            for (int z = 0; z < ab->scene->nb_zones; z++)
                if (vg_polygon_contains(&ab->scene->zones[z].polygon, fx, fy)) {
                    c->zone = z;
                    break;
                }
            const vg_abandon_params_t *p = params_of(ab, c);
            double cx = c->box[0] + c->box[2] / 2, cy = c->box[1] + c->box[3] / 2;
            if (in->look && in->results_id != c->last_look &&
                vg_box_contains(in->look_region, cx, cy)) {
                c->last_look = in->results_id;
                c->looks++;
                double cov = 0;
                for (int j = 0; j < in->npersons; j++) {
                    double pb[4] = {in->persons[j].box[0] - 0.1 * in->persons[j].box[2],
                                    in->persons[j].box[1] - 0.2 * in->persons[j].box[3],
                                    in->persons[j].box[2] * 1.2, in->persons[j].box[3] * 1.3};
                    cov = fmax(cov, vg_box_inter(pb, c->box) / fmax(c->box[2] * c->box[3], 1));
                }
                if (cov >= p->person_share) c->person_looks++;
                if (c->person_looks >= 2 && c->person_looks * 4 >= c->looks) c->is_person = 1;
            }
            edges_t e = outline_edges(ab, in->gray, in->background, c->box, p->contrast_min);
            /* a running mean over the last 30 frames or so: a sample stands for the frames
             * since the previous one (abandoned_object.rate analyses one in several), so that
             * the average spans the same time at any rate */
            int m = c->ncontrast ? (int)(in->frame - c->measured_at) : 1;
            m = m < 1 ? 1 : m > 30 ? 30 : m;
            double k = c->ncontrast;
            c->contrast = (c->contrast * k + e.cur * m) / (k + m);
            c->contrast_bg = (c->contrast_bg * k + e.bg * m) / (k + m);
            c->edge_new = (c->edge_new * k + e.fresh * m) / (k + m);
            c->edge_old = (c->edge_old * k + e.old * m) / (k + m);
            c->ncontrast = c->ncontrast + m > 30 ? 30 : c->ncontrast + m;
            c->measured_at = in->frame;
            /* hysteresis: an object keeps its standing unless a measure falls clearly short */
            double slack = c->valid ? 0.8 : 1.0;
            c->valid = 0;
            if (c->is_person)
                c->why_not = "person";
            else if (!size_ok(ab, p, ib, &c->size) && !c->rule.active)
                c->why_not = "size";
            else if (at_edge(ab, in, c->box, p->border) && !c->rule.active)
                c->why_not = "at the edge";
            else if (in->background && c->edge_new < slack * p->ghost_ratio * c->edge_old)
                c->why_not = "ghost";
            else if (c->edge_new < slack * p->edge_share)
                c->why_not = "no edge";
            else if (c->looks - c->person_looks < p->looks_min)
                c->why_not = "not looked at";
            else
                c->valid = 1, c->why_not = NULL;
            if (attended(ab, in, c, fresh)) c->last_attended = in->t;
            /* a person looked away from by the detector for a moment still attends */
            c->attended = in->t - c->last_attended < ATTEND_HOLD;
        }
        const vg_abandon_params_t *p = params_of(ab, c);
        vg_rule_timing_t tm = {p->unattended_time, p->end_after, p->cooldown};
        /* a blob missing for a frame or two (a passer-by in front) does not reset the clock */
        int cond = in->t - c->last_seen <= PRESENT_HOLD && c->valid && !c->attended;
        double ib[4];
        to_input(ab, in, c->box, ib);
        vg_rule_action_t act = vg_rule_update(&c->rule, &tm, cond, in->t, 1, in->frame, ib);
        if (act == VG_RULE_START) {
            if ((ret = emit_event(ab, in, c, VG_PHASE_START, in->frame, in->t, emit, opaque)) < 0)
                return ret;
        } else if (act == VG_RULE_END) {
            if ((ret = emit_event(ab, in, c, VG_PHASE_END, in->frame, in->t, emit, opaque)) < 0)
                return ret;
        }
    }
    /* forget candidates long gone */
    int k = 0;
    for (int i = 0; i < ab->ncand; i++) {
        cand_t *c = &ab->cand[i];
        if (c->dead || (!c->rule.active && in->t - c->last_seen > params_of(ab, c)->end_after + 1))
            continue;
        ab->cand[k++] = *c;
    }
    ab->ncand = k;
    return 0;
}

int vg_abandon_flush(vg_abandon_t *ab, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    for (int i = 0; i < ab->ncand; i++) {
        cand_t *c = &ab->cand[i];
        if (!c->rule.active) continue;
        c->rule.active = 0;
        int ret = emit_event(ab, NULL, c, VG_PHASE_END, frame, t, emit, opaque);
        if (ret < 0) return ret;
    }
    return 0;
}

int vg_abandon_candidates(const vg_abandon_t *ab, vg_abandon_info_t *out, int max)
{
    int n = 0;
    for (int i = 0; i < ab->ncand && n < max; i++) {
        const cand_t *c = &ab->cand[i];
        vg_abandon_info_t *o = &out[n++];
        memset(o, 0, sizeof(*o));
        o->id = c->id;
        double sx = (double)ab->in_w / ab->w, sy = (double)ab->in_h / ab->h;
        o->box[0] = c->box[0] * sx, o->box[1] = c->box[1] * sy;
        o->box[2] = c->box[2] * sx, o->box[3] = c->box[3] * sy;
        o->first_seen = c->first_seen;
        o->unattended_since = c->rule.since;
        o->owner = c->owner;
        o->owner_distance = c->owner_dist;
        o->looks = c->looks, o->person_looks = c->person_looks;
        o->contrast = c->contrast;
        o->contrast_bg = c->contrast_bg;
        o->edge_new = c->edge_new, o->edge_old = c->edge_old;
        o->size = c->size;
        o->attended = c->attended;
        o->last_seen = c->last_seen;
        o->reason = c->why_not;
        if (c->rule.active)
            o->state = VG_ABANDON_ABANDONED;
        else if (c->is_person)
            o->state = VG_ABANDON_PERSON;
        else if (!c->valid && c->why_not && strcmp(c->why_not, "not looked at"))
            o->state = VG_ABANDON_REJECTED;
        else if (!c->valid)
            o->state = VG_ABANDON_CANDIDATE;
        else
            o->state = c->attended ? VG_ABANDON_ATTENDED : VG_ABANDON_UNATTENDED;
    }
    return n;
}
