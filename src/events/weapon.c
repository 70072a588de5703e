/*
 * A weapon in view, for an operator to check (include/vigie/weapon.h says what counts; the
 * method here).
 *
 * Sources: the boxes of the detector's looks (the detect stage's whole frames, its regions round
 * tracks, and the close looks this stage asks for) of the classes in weapon.classes. Of the
 * built-in COCO detector's classes, knife and baseball bat are kept by default; scissors are
 * not (the detector names pencils, lighters and box edges scissors on the project's still
 * pictures, and scissors in a hand are a tool far more often than a threat: a site may add them).
 * COCO has no firearm: a handgun is seen only by a site model that has one.
 *
 * Each weapon box of a look is given to a person of the same look: held when a wrist of that
 * person (keypoint score at least WRIST_MIN) lies on the box or within weapon.reach of their
 * height from it, the nearest such person; near when it lies on the person's box grown by reach.
 * A person box shorter than the object, or than HOLDER_MIN, holds nothing (a piece of someone, or
 * a mistake of the detector's at low scores).
 * A box near nobody is lying around (counted, not raised with weapon.require_held). The person
 * is followed by their track (the live track overlapping their box most, by half of the smaller
 * box at least), else by their box (a person with no track: IoU with where they were).
 *
 * Routine looks carry no wrists (the pose model is not run on every walker), so a weapon near a
 * person asks the detect stage for a close look: a crop round the person's box grown by
 * weapon.margin, at the detector's full resolution, with their wrists (VG_INFER_HANDS) — again
 * every weapon.close_gap while the person has a sighting among their last weapon.looks looks
 * and no event yet (so a one-frame mistake costs a few close looks and is weighed down by them).
 * Every look that covers a followed person's box is one of their looks: agreeing when it saw
 * the weapon held (or near, without require_held). The event starts when weapon.agree of the
 * last weapon.looks agree and one of those was a close look; its box is the weapon's, its
 * details say the kind, who holds it (held_by: the track id, which lives inside this camera's
 * view only), the wrist, the person's box, the looks and agreeing looks. While open, close looks
 * come every second; it ends when the person's track ends or weapon.end_after passes with no
 * look seeing it held.
 *
 * No face, no appearance: the pose model's wrists and the boxes are all that is read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/infer.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/stage.h>
#include <vigie/track.h>
#include <vigie/weapon.h>

#define WRIST_MIN  0.2                /* a wrist keypoint this sure counts */
#define RING       16                 /* the most looks weighed (weapon.looks' maximum) */
#define OPEN_GAP   1.0                /* s between close looks at someone with an open event */
#define TAG_BASE   (INT64_C(1) << 40) /* this stage's close-look tags: TAG_BASE + serial */
#define CLOSE_MIN  96                 /* px: the smallest crop of a close look */
#define MAX_CANDS  64                 /* people followed at once (beyond, new sightings wait) */
#define LOOK_SCALE 0.25 /* a look counts for a person at least this share of its crop tall */
#define ASK_LOST   2.0  /* s: a close look not back by then is asked again */
#define HOLDER_MIN 24   /* px: a person box shorter than this has no wrists worth reading */

#define OFF(x) offsetof(vg_weapon_params_t, x)
static const vg_option_t vg__weapon_options[] = {
    {.name = "classes",
     .type = VG_OPT_STRING,
     .offset = OFF(classes),
     .def.s = "knife,baseball bat",
     .max = 256,
     .help = "detector classes taken for weapons, comma-separated COCO names (knife, baseball "
             "bat, scissors); firearms need a site model"},
    {.name = "score_min",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(score_min),
     .def.d = 0.3,
     .min = 0.05,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "a weapon-class box counts from this detector score"},
    {.name = "require_held",
     .type = VG_OPT_BOOL,
     .offset = OFF(require_held),
     .def.i = 1,
     .flags = VG_OPT_LIVE,
     .help = "only a weapon a person's wrist is on counts (a knife on a stall does not)"},
    {.name = "reach",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(reach),
     .def.d = 0.15,
     .min = 0,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "held: a wrist within this share of the person's height of the weapon's box"},
    {.name = "looks",
     .type = VG_OPT_INT,
     .offset = OFF(looks),
     .def.i = 4,
     .min = 1,
     .max = RING,
     .flags = VG_OPT_LIVE,
     .help = "the last looks at a person weighed (m of k-of-m)"},
    {.name = "agree",
     .type = VG_OPT_INT,
     .offset = OFF(agree),
     .def.i = 2,
     .min = 1,
     .max = RING,
     .flags = VG_OPT_LIVE,
     .help = "looks of those that must see the weapon held, one of them close (k of k-of-m)"},
    {.name = "close_gap",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(close_gap),
     .def.d = 0.25,
     .min = 0,
     .max = 60,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time between two close looks at one person"},
    {.name = "margin",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(margin),
     .def.d = 0.25,
     .min = 0,
     .max = 2,
     .flags = VG_OPT_LIVE,
     .help = "a close look's crop is the person's box grown by this share on each side"},
    {.name = "end_after",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(end_after),
     .def.d = 5,
     .min = 0.5,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "end the event after this long with no look seeing the weapon held"},
    {.name = NULL},
};
#undef OFF

const vg_option_group_t vg_weapon_option_group = {
    "weapon", "a weapon held in view (a candidate for an operator to check)", vg__weapon_options};

typedef struct cand {
    int64_t track;  /* the person's track, 0 when they have none */
    int64_t tag;    /* this person's close looks */
    double pbox[4]; /* the person's box at the last look (analysis pixels) */
    double wbox[4]; /* the weapon's, at the last look that saw it */
    int cls;
    float wscore;       /* best score of the weapon, of looks that saw it held */
    int wrist;          /* 0 left, 1 right: the wrist on it (-1: none yet) */
    uint8_t ring[RING]; /* per look, newest at (nlooks - 1) % RING: bit 0 agrees, 1 close,
                           2 saw the weapon near (asks for close looks) */
    int nlooks;
    int close_looks; /* close looks at this person */
    double last_agree, last_near, last_ask, first_seen, last_look;
    int64_t event_id;
    int open;
    int asked; /* a close look is asked and not back */
} cand_t;

struct vg_weapon {
    vg_weapon_params_t p;
    const vg_scene_t *scene;
    uint8_t weapon_cls[80];
    cand_t *c;
    int n, cap;
    int64_t next_tag;
    double sx, sy; /* of the last frame: for the ends at the end of input */
    vg_weapon_stats_t st;
};

const char *vg_weapon_kind(int cls)
{
    switch (cls) {
    case 43:
        return "knife";
    case 34:
        return "bat";
    case 76:
        return "scissors";
    default:
        return NULL;
    }
}

/* @list of COCO names into @set; VG_EINVAL naming an unknown one */
int vg_weapon_parse_classes(const char *list, uint8_t set[80], char *err, size_t errlen)
{
    memset(set, 0, 80);
    const char *s = list ? list : "";
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && s[len - 1] == ' ') len--;
        int found = -1;
        for (int c = 0; c < 80 && found < 0; c++)
            if (strlen(vg_coco_name(c)) == len && !strncmp(vg_coco_name(c), s, len)) found = c;
        if (found < 0 || found == 0) {
            snprintf(err, errlen,
                     "weapon.classes: '%.*s' is not a class of the detector (COCO names, "
                     "such as knife, baseball bat, scissors; a person cannot be a weapon)",
                     (int)len, s);
            return VG_EINVAL;
        }
        set[found] = 1;
        s += len;
        while (*s && *s != ',') s++;
    }
    return 0;
}

int vg_weapon_new(vg_weapon_t **out, const vg_scene_t *scene, const vg_weapon_params_t *p,
                  char *err, size_t errlen)
{
    vg_weapon_t *w = vg_calloc(1, sizeof(*w));
    if (!w) return VG_ENOMEM;
    int ret = vg_weapon_parse_classes(p->classes, w->weapon_cls, err, errlen);
    if (ret < 0) {
        vg_free(w);
        return ret;
    }
    w->p = *p;
    w->p.classes = NULL; /* borrowed no further than here */
    if (w->p.agree > w->p.looks) w->p.agree = w->p.looks;
    w->scene = scene;
    w->next_tag = TAG_BASE + 1;
    *out = w;
    return 0;
}

void vg_weapon_free(vg_weapon_t **pw)
{
    vg_weapon_t *w = *pw;
    if (!w) return;
    vg_free(w->c);
    vg_free(w);
    *pw = NULL;
}

void vg_weapon_get_stats(const vg_weapon_t *w, vg_weapon_stats_t *st)
{
    *st = w->st;
}

/* distance from (x, y) to box @b (0 inside) */
static double dist_to_box(double x, double y, const double *b)
{
    double dx = fmax(0, fmax(b[0] - x, x - (b[0] + b[2])));
    double dy = fmax(0, fmax(b[1] - y, y - (b[1] + b[3])));
    return hypot(dx, dy);
}

int vg_weapon_holder(double reach, const double wbox[4], const vg_detection_t *det, int n,
                     int *wrist, int *near)
{
    int held = -1, best = -1;
    double best_held = INFINITY, best_near = 0.5 - 1e-9;
    *wrist = -1;
    for (int j = 0; j < n; j++) {
        const vg_detection_t *q = &det[j];
        /* a person box smaller than what it would hold is a piece, or a mistake: nobody's
         * holder (a 5 x 27 px "person" gave a knife box of 66 x 53 a wrist) */
        if (q->cls != 0 || !(q->h >= HOLDER_MIN) || q->h < fmax(wbox[2], wbox[3])) continue;
        double r = reach * q->h;
        for (int s = 0; s < 2; s++) {
            if (!(q->wrist_score[s] >= WRIST_MIN)) continue;
            double dd = dist_to_box(q->wrist[2 * s], q->wrist[2 * s + 1], wbox);
            if (dd <= r && dd / q->h < best_held) best_held = dd / q->h, held = j, *wrist = s;
        }
        double pb[4] = {q->x - r, q->y - r, q->w + 2 * r, q->h + 2 * r};
        double o = vg_box_overlap_small(pb, wbox);
        if (o > best_near) best_near = o, best = j;
    }
    if (near) *near = best;
    return held;
}

static void det_box(const vg_detection_t *d, double *b)
{
    b[0] = d->x, b[1] = d->y, b[2] = d->w, b[3] = d->h;
}

static int in_region(const float *r, const double *b)
{
    double cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2;
    return cx >= r[0] && cy >= r[1] && cx <= r[0] + r[2] && cy <= r[1] + r[3];
}

static int ignored(const vg_weapon_t *w, const vg_weapon_input_t *in, const double *b)
{
    double cx = (b[0] + b[2] / 2) * in->sx, cy = (b[1] + b[3] / 2) * in->sy;
    for (int i = 0; w->scene && i < w->scene->nb_ignore; i++)
        if (vg_polygon_contains(&w->scene->ignore[i], cx, cy)) return 1;
    return 0;
}

/* the live track that is this person: overlapping their box by half of the smaller at least */
static int64_t track_of(const vg_weapon_input_t *in, const double *pb)
{
    int64_t best = 0;
    double bo = 0.5;
    for (int i = 0; i < in->ntracks; i++) {
        double o = vg_box_overlap_small(in->tracks[i].box, pb);
        if (o >= bo) bo = o, best = in->tracks[i].id;
    }
    return best;
}

static const double *track_box(const vg_weapon_input_t *in, int64_t id)
{
    for (int i = 0; id && i < in->ntracks; i++)
        if (in->tracks[i].id == id) return in->tracks[i].box;
    return NULL;
}

/* the person followed who is @pb (track @tr), or a new one; NULL when out of memory or when
 * MAX_CANDS are followed (*@full then set) */
static cand_t *cand_for(vg_weapon_t *w, const vg_weapon_input_t *in, int64_t tr, const double *pb,
                        int *full)
{
    cand_t *best = NULL;
    double bi = 0.3;
    for (int i = 0; i < w->n; i++) {
        cand_t *c = &w->c[i];
        if (tr && c->track == tr) return c;
        if (c->track && tr) continue;
        double iou = vg_box_iou(c->pbox, pb);
        if (iou >= bi) bi = iou, best = c;
    }
    if (best) {
        if (!best->track) best->track = tr;
        return best;
    }
    if (w->n == MAX_CANDS) { /* they are forgotten end_after after their last sighting */
        *full = 1;
        return NULL;
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 8;
        cand_t *n = vg_realloc(w->c, (size_t)cap * sizeof(*n));
        if (!n) return NULL;
        w->c = n, w->cap = cap;
    }
    cand_t *c = &w->c[w->n++];
    memset(c, 0, sizeof(*c));
    c->track = tr;
    c->tag = w->next_tag++;
    c->wrist = -1;
    c->first_seen = in->t;
    c->last_agree = c->last_near = c->last_ask = c->last_look = -INFINITY;
    memcpy(c->pbox, pb, sizeof(c->pbox));
    return c;
}

static int count_bits(const cand_t *c, int looks, unsigned bits)
{
    int k = 0, n = c->nlooks < looks ? c->nlooks : looks;
    for (int i = 0; i < n; i++) {
        unsigned v = c->ring[(c->nlooks - 1 - i) % RING];
        k += (v & bits) == bits;
    }
    return k;
}

static void push_look(cand_t *c, unsigned v, double t)
{
    c->ring[c->nlooks % RING] = (uint8_t)v;
    c->nlooks++;
    c->last_look = t;
}

static void event_box(const vg_weapon_input_t *in, const double *b, double *o)
{
    o[0] = b[0] * in->sx, o[1] = b[1] * in->sy, o[2] = b[2] * in->sx, o[3] = b[3] * in->sy;
}

static int emit_start(vg_weapon_t *w, const vg_weapon_input_t *in, cand_t *c, vg_emit_fn emit,
                      void *opaque)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_WEAPON, VG_PHASE_START);
    ev.frame = in->frame, ev.t = in->t;
    double b[4], pb[4];
    event_box(in, c->wbox, b);
    event_box(in, c->pbox, pb);
    vg_event_set_box(&ev, b[0], b[1], b[2], b[3]);
    int k = count_bits(c, w->p.looks, 1), m = c->nlooks < w->p.looks ? c->nlooks : w->p.looks;
    ev.score = c->wscore;
    char pj[96];
    snprintf(pj, sizeof(pj), "[%.0f,%.0f,%.0f,%.0f]", pb[0], pb[1], pb[2], pb[3]);
    const char *kind = vg_weapon_kind(c->cls);
    int ret;
    if ((ret = vg_event_detail_str(&ev, "kind", kind ? kind : vg_coco_name(c->cls))) < 0 ||
        (ret = vg_event_detail_str(&ev, "class", vg_coco_name(c->cls))) < 0 ||
        (ret = vg_event_detail_str(&ev, "source", "built-in detector (COCO)")) < 0 ||
        (c->track && (ret = vg_event_detail_int(&ev, "held_by", c->track)) < 0) ||
        (c->wrist >= 0 &&
         (ret = vg_event_detail_str(&ev, "wrist", c->wrist ? "right" : "left")) < 0) ||
        (ret = vg_event_detail_json(&ev, "person_box", pj)) < 0 ||
        (ret = vg_event_detail_int(&ev, "looks", m)) < 0 ||
        (ret = vg_event_detail_int(&ev, "agreeing", k)) < 0 ||
        (ret = vg_event_detail_int(&ev, "close_looks", c->close_looks)) < 0 ||
        (ret = vg_event_detail_bool(&ev, "held", c->wrist >= 0)) < 0 ||
        (ret = vg_event_detail_num(&ev, "seen_for", in->t - c->first_seen)) < 0 ||
        (ret = vg_event_detail_str(&ev, "check", "a candidate: check the picture before acting")) <
            0)
        return ret;
    if ((ret = emit(opaque, &ev)) < 0) return ret;
    c->event_id = ev.event_id;
    c->open = 1;
    w->st.events++;
    return 0;
}

static int emit_end(cand_t *c, int64_t frame, double t, double sx, double sy, const char *why,
                    vg_emit_fn emit, void *opaque)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_WEAPON, VG_PHASE_END);
    ev.event_id = c->event_id;
    ev.frame = frame, ev.t = t;
    vg_event_set_box(&ev, c->wbox[0] * sx, c->wbox[1] * sy, c->wbox[2] * sx, c->wbox[3] * sy);
    ev.score = c->wscore;
    int ret;
    if ((ret = vg_event_detail_str(&ev, "reason", why)) < 0 ||
        (c->track && (ret = vg_event_detail_int(&ev, "held_by", c->track)) < 0))
        return ret;
    c->open = 0;
    return emit(opaque, &ev);
}

/* Weigh one look: give each weapon box to the person holding it (or near it), and count the look
 * for every followed person it covered. */
static int weigh_look(vg_weapon_t *w, const vg_weapon_input_t *in)
{
    const vg_weapon_params_t *p = &w->p;
    int close = in->ask_tag >= TAG_BASE && (in->ask_flags & VG_INFER_HANDS);
    /* per followed person, what this look said: 0 nothing yet, else bits as in cand_t.ring */
    unsigned seen[MAX_CANDS] = {0};
    int covered[MAX_CANDS] = {0};
    double side = fmax(in->region[2], in->region[3]);
    for (int i = 0; i < w->n; i++) {
        if (w->c[i].tag == in->ask_tag) w->c[i].asked = 0, w->c[i].close_looks++;
        const double *tb = track_box(in, w->c[i].track), *b = tb ? tb : w->c[i].pbox;
        /* a look too coarse to see what someone holds says nothing about it */
        covered[i] = in_region(in->region, b) && b[3] >= LOOK_SCALE * side;
    }
    if (close) w->st.close_seen++;
    for (int k = 0; k < in->ndet; k++) {
        const vg_detection_t *d = &in->det[k];
        /* a COCO class named in weapon.classes, or a site model's weapon-use class */
        int weapon = d->cls >= 0 && ((d->cls < 80 && w->weapon_cls[d->cls]) ||
                                     vg_detect_class_use(d->cls) == VG_USE_WEAPON);
        if (!weapon || d->score < p->score_min) continue;
        double wb[4];
        det_box(d, wb);
        if (ignored(w, in, wb)) continue;
        w->st.sightings++;
        /* the person holding it (a wrist on it), else the one it lies on */
        int near = -1, wrist = -1;
        int held = vg_weapon_holder(p->reach, wb, in->det, in->ndet, &wrist, &near);
        if (held < 0 && near < 0) {
            w->st.unheld++;
            continue;
        }
        int j = held >= 0 ? held : near;
        double pb[4];
        det_box(&in->det[j], pb);
        int full = 0;
        cand_t *c = cand_for(w, in, track_of(in, pb), pb, &full);
        if (!c && full) continue;
        if (!c) return VG_ENOMEM;
        int ci = (int)(c - w->c);
        memcpy(c->pbox, pb, sizeof(c->pbox));
        unsigned v = 4; /* near */
        c->last_near = in->t;
        if (held >= 0 || !p->require_held) {
            v |= 1;
            w->st.held += held >= 0;
            if (held >= 0) c->wrist = wrist;
            c->last_agree = in->t;
            memcpy(c->wbox, wb, sizeof(c->wbox));
            if (d->score > c->wscore || c->cls != d->cls) c->wscore = d->score;
            c->cls = d->cls;
        } else if (!c->open && c->nlooks == 0) {
            memcpy(c->wbox, wb, sizeof(c->wbox));
            c->cls = d->cls;
        }
        if (close && c->tag == in->ask_tag) v |= 2;
        if (ci < MAX_CANDS) seen[ci] |= v, covered[ci] = 1;
    }
    for (int i = 0; i < w->n && i < MAX_CANDS; i++) {
        cand_t *c = &w->c[i];
        /* a close look at someone else covers this person only when it saw them */
        if (close && c->tag != in->ask_tag && !seen[i]) continue;
        if (!covered[i] && !seen[i]) continue;
        unsigned v = seen[i];
        if (close && c->tag == in->ask_tag) v |= 2;
        push_look(c, v, in->t);
    }
    return 0;
}

/* a close look's crop round the person: their box grown by margin, at least CLOSE_MIN, in the
 * picture */
static void close_region(const vg_weapon_params_t *p, const vg_weapon_input_t *in, const double *b,
                         float *r)
{
    double mx = b[2] * p->margin, my = b[3] * p->margin;
    double x0 = b[0] - mx, y0 = b[1] - my, x1 = b[0] + b[2] + mx, y1 = b[1] + b[3] + my;
    if (x1 - x0 < CLOSE_MIN) x0 -= (CLOSE_MIN - (x1 - x0)) / 2, x1 = x0 + CLOSE_MIN;
    if (y1 - y0 < CLOSE_MIN) y0 -= (CLOSE_MIN - (y1 - y0)) / 2, y1 = y0 + CLOSE_MIN;
    x0 = fmax(0, x0), y0 = fmax(0, y0);
    x1 = fmin(in->w, x1), y1 = fmin(in->h, y1);
    r[0] = (float)x0, r[1] = (float)y0, r[2] = (float)(x1 - x0), r[3] = (float)(y1 - y0);
}

int vg_weapon_update(vg_weapon_t *w, const vg_weapon_input_t *in, vg_emit_fn emit,
                     vg_weapon_ask_fn ask, void *opaque)
{
    const vg_weapon_params_t *p = &w->p;
    int ret;
    w->sx = in->sx, w->sy = in->sy;
    if (in->look && (ret = weigh_look(w, in)) < 0) return ret;
    for (int i = 0; i < w->n;) {
        cand_t *c = &w->c[i];
        int ended = 0;
        for (int e = 0; e < in->nended && c->track; e++) ended |= in->ended[e] == c->track;
        const double *tb = track_box(in, c->track);
        if (tb) memcpy(c->pbox, tb, sizeof(c->pbox));
        if (c->open) {
            const char *why = ended                                  ? "the person left"
                              : in->t - c->last_agree > p->end_after ? "not seen held any more"
                                                                     : NULL;
            if (why && (ret = emit_end(c, in->frame, in->t, in->sx, in->sy, why, emit, opaque)) < 0)
                return ret;
        } else if (count_bits(c, p->looks, 1) >= p->agree && count_bits(c, p->looks, 3) >= 1) {
            if ((ret = emit_start(w, in, c, emit, opaque)) < 0) return ret;
        }
        /* forget a person gone, or with no sighting for end_after */
        if (!c->open && (ended || in->t - fmax(c->last_near, c->first_seen) > p->end_after)) {
            w->c[i] = w->c[--w->n];
            continue;
        }
        /* close looks while unsure (a sighting among the last looks), and to keep an event */
        int unsure = !c->open && count_bits(c, p->looks, 4) >= 1;
        double gap = c->open ? OPEN_GAP : p->close_gap;
        if (c->asked && in->t - c->last_ask > ASK_LOST) c->asked = 0; /* dropped: ask again */
        if (ask && (unsure || c->open) && !c->asked && in->t - c->last_ask >= gap) {
            float r[4];
            close_region(p, in, c->pbox, r);
            if (r[2] >= 1 && r[3] >= 1) {
                ret = ask(opaque, r, VG_INFER_HANDS, c->tag);
                if (ret == 0) c->asked = 1, c->last_ask = in->t, w->st.close_asked++;
            }
        }
        i++;
    }
    return 0;
}

int vg_weapon_flush(vg_weapon_t *w, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    for (int i = 0; i < w->n; i++) {
        cand_t *c = &w->c[i];
        if (!c->open) continue;
        int ret = emit_end(c, frame, t, w->sx, w->sy, "end of input", emit, opaque);
        if (ret < 0) return ret;
    }
    return 0;
}

/* ---- the "weapon" stage: the detector's looks, the tracker's people ---- */

typedef struct weapon_stage {
    vg_weapon_t *w;
    vg_weapon_track_t *tracks;
    int cap_tracks;
    vg_detection_t *det;
    int cap_det;
    int64_t last_results;
    int64_t last_frame;
    double last_t;
    int warned;
} weapon_stage_t;

static int stage_emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

static int stage_ask(void *opaque, const float region[4], unsigned flags, int64_t tag)
{
    const vg_analysis_t *a = opaque;
    return vg_detections_ask(a->slot[VG_SLOT_DETECTIONS], region, flags, tag);
}

static int weapon_init(vg_stage_t *st, vg_analysis_t *a)
{
    weapon_stage_t *s = st->priv;
    char err[512] = "";
    s->last_results = -1;
    int ret = vg_weapon_new(&s->w, a->scene, st->params, err, sizeof(err));
    if (ret == VG_EINVAL) {
        vg_log("weapon", VG_LOG_ERROR, "%s", err);
        return VG_EOPTION;
    }
    return ret;
}

/* refuse an unknown class before any frame */
static int weapon_configure(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    const vg_weapon_params_t *p = st->params;
    uint8_t set[80];
    (void)settings;
    return vg_weapon_parse_classes(p->classes, set, err, errlen);
}

static int weapon_process(vg_stage_t *st, vg_analysis_t *a)
{
    weapon_stage_t *s = st->priv;
    const vg_detections_t *det = a->slot[VG_SLOT_DETECTIONS];
    const vg_frame_t *fr = a->frame;
    s->last_frame = fr->index, s->last_t = fr->t;
    if (!det) return 0;
    if (!s->warned && !a->slot[VG_SLOT_TRACKS]) {
        s->warned = 1;
        vg_log("weapon", VG_LOG_WARNING,
               "camera %s: the tracker is not running: weapons are followed by box only",
               a->camera);
    }
    int look = det->frame_index >= 0 && det->results != s->last_results, nd = 0;
    s->last_results = det->results;
    if (look && det->n > s->cap_det) {
        vg_detection_t *n = vg_realloc(s->det, (size_t)det->n * sizeof(*n));
        if (!n) return VG_ENOMEM;
        s->det = n, s->cap_det = det->n;
    }
    /* the boxes this look found (not those carried over from earlier looks) */
    for (int i = 0; look && i < det->n; i++)
        if (!(det->det[i].t != 0 && det->det[i].t < det->t - 1e-6)) s->det[nd++] = det->det[i];
    int nt = 0, ntr = 0, ne = 0;
    const vg_track_t *t =
        a->slot[VG_SLOT_TRACKS] ? vg_tracker_tracks(a->slot[VG_SLOT_TRACKS], &nt) : NULL;
    const int64_t *ended =
        a->slot[VG_SLOT_TRACKS] ? vg_tracker_ended(a->slot[VG_SLOT_TRACKS], &ne) : NULL;
    if (nt > s->cap_tracks) {
        vg_weapon_track_t *n = vg_realloc(s->tracks, (size_t)nt * sizeof(*n));
        if (!n) return VG_ENOMEM;
        s->tracks = n, s->cap_tracks = nt;
    }
    for (int i = 0; i < nt; i++) {
        if (t[i].state != VG_TRACK_CONFIRMED && t[i].state != VG_TRACK_LOST) continue;
        s->tracks[ntr].id = t[i].id;
        memcpy(s->tracks[ntr++].box, t[i].box, sizeof(t[i].box));
    }
    vg_weapon_input_t in = {
        .frame = fr->index,
        .t = fr->t,
        .sx = (double)fr->in_w / fr->image.w,
        .sy = (double)fr->in_h / fr->image.h,
        .w = fr->image.w,
        .h = fr->image.h,
        .look = look,
        .ask_tag = det->ask_tag,
        .ask_flags = det->ask_flags,
        .det = s->det,
        .ndet = nd,
        .tracks = s->tracks,
        .ntracks = ntr,
        .ended = ended,
        .nended = ne,
    };
    memcpy(in.region, det->region, sizeof(in.region));
    return vg_weapon_update(s->w, &in, stage_emit, stage_ask, a);
}

static int weapon_flush(vg_stage_t *st, vg_analysis_t *a)
{
    weapon_stage_t *s = st->priv;
    if (!s->w) return 0;
    vg_weapon_stats_t ws;
    vg_weapon_get_stats(s->w, &ws);
    vg_log("weapon", VG_LOG_INFO,
           "camera %s: %lld weapon-class boxes (%lld near nobody), %lld close looks asked, "
           "%lld back, %lld looks saw one held, %lld events",
           a->camera, (long long)ws.sightings, (long long)ws.unheld, (long long)ws.close_asked,
           (long long)ws.close_seen, (long long)ws.held, (long long)ws.events);
    return vg_weapon_flush(s->w, s->last_frame, s->last_t, stage_emit, a);
}

static void weapon_close(vg_stage_t *st)
{
    weapon_stage_t *s = st->priv;
    vg_weapon_free(&s->w);
    vg_free(s->tracks);
    vg_free(s->det);
    s->tracks = NULL, s->det = NULL;
}

static const char *const weapon_live[] = {"weapon", NULL};

/* New numbers while running; the classes are read at the start only (not live). */
static int weapon_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    weapon_stage_t *s = st->priv;
    vg_weapon_params_t p;
    int ret;
    memset(&p, 0, sizeof(p));
    if ((ret = vg_opt_defaults(&p, vg__weapon_options)) < 0) return ret;
    if ((ret = vg_settings_apply(settings, &vg_weapon_option_group, &p, err, errlen)) < 0) {
        vg_opt_free(&p, vg__weapon_options);
        return ret;
    }
    vg_weapon_params_t *cur = st->params;
    char *classes = cur->classes;
    cur->score_min = p.score_min, cur->require_held = p.require_held, cur->reach = p.reach;
    cur->looks = p.looks, cur->agree = p.agree, cur->close_gap = p.close_gap;
    cur->margin = p.margin, cur->end_after = p.end_after;
    cur->classes = classes;
    if (s->w) {
        vg_weapon_params_t q = *cur;
        if (q.agree > q.looks) q.agree = q.looks;
        q.classes = NULL;
        s->w->p = q;
    }
    vg_opt_free(&p, vg__weapon_options);
    return 0;
}

const vg_stage_class_t vg__weapon_stage = {
    .name = "weapon",
    .help = "a weapon held in view, for an operator to check: weapon",
    .options = vg__weapon_options,
    .params_size = sizeof(vg_weapon_params_t),
    .priv_size = sizeof(weapon_stage_t),
    .init = weapon_init,
    .process = weapon_process,
    .flush = weapon_flush,
    .close = weapon_close,
    .configure = weapon_configure,
    .live_groups = weapon_live,
    .update = weapon_update,
    .needs = VG_SLOT_BIT(VG_SLOT_DETECTIONS),
    .uses = VG_SLOT_BIT(VG_SLOT_TRACKS),
};
