/*
 * A person on the ground after a fall (include/vigie/fall.h says what counts; the method here).
 *
 * From the detector's persons, look by look (the detect stage looks at the whole frame every
 * detect.every seconds and at new tracks' regions between): the box's shape is the posture —
 * standing when no wider than upright_aspect of its height, lying when at least lying_aspect
 * wide (in input pixels). Each person seen is followed from look to look (the next box overlaps
 * the last, or its centre lies within the last grown by half: a falling person's box moves down
 * and widens), with their standing height (the tallest standing box of the last 10 s).
 *
 * Each look's boxes go to the people they continue best, best pairs first; a box that is a piece
 * of the person it lies over (smaller than FRAGMENT of their height both ways; upright but under
 * half their height: a leg, an arm) is nobody, and so is a box a region look's crop cut at its
 * edge. The detect stage looks again at a track a quarter second apart while its box changes
 * shape (detect.reshape), so a fall, over in a second, is seen in several looks.
 *
 * A fall is seen when a person is first found lying within fall_time of a look that saw them
 * standing at three quarters of their standing height at least, with their box's top (the
 * head) at least `drop` of that height lower, against where they stood; or lying within SETTLE
 * of a look that saw them falling (not yet lying, the head down by half their height within
 * half of fall_time: the fast part of a fall). A stumble, a collapse, a fall off a chair. Lying
 * down slowly passes through looks that are neither (kneeling, sitting) for longer than
 * fall_time, and someone lying when first seen fell out of view: neither is a fall (with
 * lying_no_fall, the second raises a lower-scored event of kind lying_no_fall after the same
 * ground time). Once lying for ground_time after a fall — not inside a `rest` zone, not under
 * an ignore mask — the event starts on the lying box.
 *
 * People lying on a floor are often named dog or cat by the detector (COCO has few people
 * lying): such a box, lying-shaped and at least STANDIN_LONG of their height long, continues
 * someone followed who lies there or is falling, and never starts anyone. A first lying box
 * must be unlike the background (LYING_FG: not a pattern on the floor); later ones where they
 * already lie need not be (someone lying still fades into the background model).
 *
 * While it is open the place is watched rather than the person: a lying person found there again
 * keeps it; the person standing up there (their standing height again) or the place left empty
 * (no person box on it and, with the motion mask, no foreground) for end_after ends it; a place
 * hidden by others gathering round (person boxes or foreground over it, the fallen person not
 * seen) stays open for up to hidden_time. A cooldown keeps a place that just ended from raising
 * again at once.
 *
 * The pose: the looks detect.reshape asks for carry MoveNet poses of wide person boxes (crops
 * turned a quarter where that is surer). The torso's angle from the local vertical (vg_calib_up
 * where the scene is calibrated, else the picture's) is shown in the event, not decided on: on
 * the falls clips people lying along the camera's axis had torsos 19-24 degrees from the
 * vertical, like someone sitting, and someone bending had 59 (docs/evaluation.md).
 *
 * What the box cannot tell, said plainly in docs/events.md: a fall straight towards or away from
 * the camera keeps a tall box; people lying where the detector does not find them (half hidden,
 * at the edge) are not followed; a camera looking straight down (fisheye ceiling views) sees
 * nobody standing, so no fall is ever seen (after UPRIGHT_WARN looks at people with nobody
 * standing, the stage says so once).
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/calib.h>
#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/fall.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/stage.h>
#include <vigie/vision.h>

#include "../core/raster.h"
#include "events_priv.h"

#define MAX_PEOPLE   64
#define STATURE_KEEP 10.0 /* s a standing height is remembered */
#define TALL         0.75 /* of the standing height: a standing look that counts for a fall */
#define OCCUPIED     0.3  /* share of a place covered (boxes or foreground): someone is there */
#define FRAGMENT     0.3  /* of the standing height: a box smaller both ways is a piece of them */
#define PIECE        0.5  /* of the standing height: an upright box shorter is a piece of them */
#define STANDIN_LONG 0.6  /* of the standing height: the least width of a stand-in lying box */
#define STANDIN_FG   0.4  /* share of a stand-in box unlike the background, new there */
#define FALLING_DROP 0.5  /* of the standing height: the head this low, not lying: falling */
#define SETTLE       3.0  /* s: seen falling, then lying within this long, is a fall */
#define REACH        0.25 /* of the standing height: a fall lands within this of where they stood */
#define LYING_FG     0.2  /* share of a lying box unlike the background: someone is there */
#define UPRIGHT_WARN 200  /* looks at people with nobody standing: the view cannot see falls */

#define OFF(x) offsetof(vg_fall_params_t, x)
#define D(n_, f_, def_, lo_, hi_, u_, h_)                                                          \
    {                                                                                              \
        .name = n_, .type = VG_OPT_DOUBLE, .offset = OFF(f_), .def.d = def_, .min = lo_,           \
        .max = hi_, .unit = u_, .flags = VG_OPT_LIVE, .help = h_                                   \
    }
const vg_option_t vg__fall_options[] = {
    D("ground_time", ground_time, 3, 0, 600, "s",
      "on the ground this long after a fall raises the event (seconds: whoever trips is up "
      "again within two or three, and the operator of a public place must know at once)"),
    D("fall_time", fall_time, 2, 0.2, 10, "s",
      "the longest a fall takes from standing to lying (lying down more slowly is no fall)"),
    D("upright_aspect", upright_aspect, 0.8, 0.1, 2, NULL,
      "a person box no wider than this share of its height is someone standing"),
    D("lying_aspect", lying_aspect, 1.2, 0.5, 10, NULL,
      "a person box at least this share of its height wide is someone lying"),
    D("drop", drop, 0.3, 0, 1, NULL,
      "in a fall the head (the box's top) drops by at least this share of the standing height"),
    D("end_after", end_after, 5, 0, 3600, "s",
      "nobody lying at the place this long (up again, or gone) ends the event"),
    D("hidden_time", hidden_time, 60, 0, 3600, "s",
      "the place hidden by people round it keeps the event open this long"),
    {.name = "lying_no_fall",
     .type = VG_OPT_BOOL,
     .offset = OFF(lying_no_fall),
     .def.i = 0,
     .min = 0,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "also raise someone lying on the ground with no fall in view (kind lying_no_fall, "
             "lower score)"},
    D("cooldown", cooldown, 30, 0, 86400, "s",
      "after an event ends, its place cannot raise another for this long"),
    {.name = NULL},
};
#undef D
#undef OFF

const vg_option_group_t vg_fall_option_group = {"fall", "a person on the ground after a fall",
                                                vg__fall_options};

typedef enum { P_OTHER = 0, P_UPRIGHT, P_LYING } posture_t;

typedef struct person {
    double box[4];       /* analysis pixels, last seen */
    double last_seen;    /* look time */
    double stature;      /* tallest standing box height of the last STATURE_KEEP s (px) */
    double stature_t;    /* when it was seen */
    double up_t;         /* last look that saw them standing tall, -INFINITY never */
    double up_top, up_h; /* that box's top and height */
    double up_box[4];    /* and the box */
    double lying_since;  /* first look of the current lying run, -1 not lying */
    double down_t;       /* last time they were seen lying, or their place was occupied */
    int raised;          /* this lying run raised its event */
    int fall;            /* a fall was seen into this lying run */
    double fall_duration, fall_drop;
    double falling_t;    /* a look that saw them falling since up_t, else -INFINITY */
    double falling_drop; /* how far the head was down then (of up_h) */
    int seen;            /* matched this look */
    int torso_seen;      /* the pose found their torso on a look of this lying run: */
    double torso;        /* its angle from the local vertical then (degrees) */
} person_t;

typedef struct open_event {
    int64_t id;
    double box[4]; /* the place, analysis pixels */
    double started, last_down, up_since;
    int kind_fall;
    int active;
} open_event_t;

typedef struct cooling {
    double box[4];
    double until;
} cooling_t;

struct vg_fall {
    vg_fall_params_t p;
    const vg_scene_t *scene;
    person_t people[MAX_PEOPLE];
    int npeople;
    open_event_t ev[MAX_PEOPLE];
    int nev;
    cooling_t cool[MAX_PEOPLE];
    int ncool;
    double sx, sy;        /* the last input's scale (for the flush) */
    int64_t looks_people; /* looks that saw someone */
    int upright_seen;     /* one of them saw someone standing */
    int warned_upright;   /* nobody standing in UPRIGHT_WARN looks: said once */
};

int vg_fall_new(vg_fall_t **out, const vg_scene_t *scene, const vg_fall_params_t *p)
{
    vg_fall_t *f = vg_calloc(1, sizeof(*f));
    if (!f) return VG_ENOMEM;
    f->p = *p;
    f->scene = scene;
    f->sx = f->sy = 1;
    *out = f;
    return 0;
}

void vg_fall_set_params(vg_fall_t *f, const vg_fall_params_t *p)
{
    f->p = *p;
}

void vg_fall_free(vg_fall_t **pf)
{
    vg_free(*pf);
    *pf = NULL;
}

static posture_t posture(const vg_fall_params_t *p, const vg_fall_input_t *in, const double *b)
{
    double a = b[2] * in->sx / fmax(b[3] * in->sy, 1e-6);
    return a <= p->upright_aspect ? P_UPRIGHT : a >= p->lying_aspect ? P_LYING : P_OTHER;
}

/* the box's foot point (bottom centre) in input pixels lies in a zone of @kind, or an ignore
 * mask when @kind is -1 */
static int foot_in(const vg_fall_t *f, const vg_fall_input_t *in, const double *b, int kind)
{
    double x = (b[0] + b[2] / 2) * in->sx, y = (b[1] + b[3]) * in->sy;
    if (kind < 0) {
        for (int i = 0; i < f->scene->nb_ignore; i++)
            if (vg_polygon_contains(&f->scene->ignore[i], x, y)) return 1;
        return 0;
    }
    for (int i = 0; i < f->scene->nb_zones; i++)
        if ((int)f->scene->zones[i].kind == kind &&
            vg_polygon_contains(&f->scene->zones[i].polygon, x, y))
            return 1;
    return 0;
}

/* share of @b that @mask (may be NULL: 0) holds as foreground, moving or static */
static double fg_share(const vg_image_t *mask, const double *b)
{
    return mask ? vg__box_share(mask, b, VG_MASK_STATIC, 255) : 0;
}

/* how well box @b continues person @q: 0 not at all. Its centre within the last box grown by
 * half the person's size on each side (a falling person's box moves down and widens), or an
 * overlap; a standing box (@upright) must overlap the last one (who gets up rises from where
 * they lay). */
static double match_score(const person_t *q, const double *b, int upright)
{
    if (upright && vg_box_inter(q->box, b) <= 0) return 0;
    /* who gets up from lying stands on where they lay, not beside it (a chair there) */
    double cx = b[0] + b[2] / 2;
    if (upright && q->lying_since >= 0 && (cx < q->box[0] || cx > q->box[0] + q->box[2])) return 0;
    double iou = vg_box_iou(q->box, b), g[4];
    double m = 0.5 * fmax(fmax(q->box[2], q->box[3]), q->stature);
    g[0] = q->box[0] - m, g[1] = q->box[1] - m, g[2] = q->box[2] + 2 * m, g[3] = q->box[3] + 2 * m;
    int inside = vg_box_contains(g, b[0] + b[2] / 2, b[1] + b[3] / 2);
    /* someone lying does not jump: their next box overlaps where they lie */
    if (!upright && q->lying_since >= 0 && iou < 0.1) return 0;
    return iou >= 0.1 || inside ? iou + 0.1 * inside + 1e-3 : 0;
}

static int emit_start(const vg_fall_input_t *in, open_event_t *e, const person_t *q,
                      vg_emit_fn emit, void *opaque)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_FALL, VG_PHASE_START);
    ev.t = in->t;
    ev.frame = in->frame;
    vg_event_set_box(&ev, e->box[0] * in->sx, e->box[1] * in->sy, e->box[2] * in->sx,
                     e->box[3] * in->sy);
    double ground = in->t - q->lying_since;
    ev.score = e->kind_fall ? 0.9 : 0.5;
    vg_event_detail_str(&ev, "kind", e->kind_fall ? "fall" : "lying_no_fall");
    if (e->kind_fall) {
        vg_event_detail_num(&ev, "fall_duration", floor(q->fall_duration * 10 + 0.5) / 10);
        vg_event_detail_num(&ev, "head_drop", floor(q->fall_drop * 100 + 0.5) / 100);
    }
    vg_event_detail_num(&ev, "on_ground", floor(ground * 10 + 0.5) / 10);
    vg_event_detail_num(&ev, "aspect",
                        floor(q->box[2] * in->sx / (q->box[3] * in->sy) * 100 + 0.5) / 100);
    /* the pose, when one was taken while they lay: shown, not decisive (docs/events.md: a
     * torso foreshortened along the camera's axis looks upright in the picture) */
    vg_event_detail_str(&ev, "seen_by", q->torso_seen ? "box, pose" : "box");
    if (q->torso_seen) vg_event_detail_num(&ev, "torso_angle", floor(q->torso + 0.5));
    char why[320], pose[64] = "";
    if (q->torso_seen)
        snprintf(pose, sizeof(pose), "; torso %.0f degrees from the vertical", q->torso);
    if (e->kind_fall)
        snprintf(why, sizeof(why),
                 "standing, then lying %.1f s later with the head %.0f %% of their height "
                 "lower; on the ground for %.1f s%s",
                 q->fall_duration, q->fall_drop * 100, ground, pose);
    else
        snprintf(why, sizeof(why), "lying on the ground for %.1f s (no fall seen)%s", ground, pose);
    vg_event_detail_str(&ev, "reason", why);
    int ret = emit(opaque, &ev);
    if (ret >= 0) e->id = ev.event_id;
    return ret;
}

static int emit_end(vg_fall_t *f, open_event_t *e, int64_t frame, double t, double sx, double sy,
                    const char *why, vg_emit_fn emit, void *opaque)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_FALL, VG_PHASE_END);
    ev.event_id = e->id;
    ev.t = t;
    ev.frame = frame;
    vg_event_set_box(&ev, e->box[0] * sx, e->box[1] * sy, e->box[2] * sx, e->box[3] * sy);
    vg_event_detail_num(&ev, "duration", t - e->started);
    vg_event_detail_str(&ev, "reason", why);
    e->active = 0;
    if (f->ncool < MAX_PEOPLE) {
        memcpy(f->cool[f->ncool].box, e->box, sizeof(e->box));
        f->cool[f->ncool++].until = t + f->p.cooldown;
    }
    return emit(opaque, &ev);
}

/* a stand-in box @b (a class the detector gives people lying on a floor: dog, cat) may continue
 * person @q: someone lying, or standing within fall_time, as long as the box is (their height
 * at least STANDIN_LONG wide), and either where they already lie or unlike the background */
static int standin_fits(const vg_fall_t *f, const vg_fall_input_t *in, const person_t *q,
                        const double *b)
{
    if (q->seen || !(q->stature > 0) || b[2] < STANDIN_LONG * q->stature) return 0;
    if (q->lying_since >= 0 && vg_box_iou(q->box, b) >= 0.3) return 1;
    if (q->lying_since < 0 && in->t - q->up_t > f->p.fall_time && in->t - q->falling_t > SETTLE)
        return 0;
    return !in->mask || fg_share(in->mask, b) >= STANDIN_FG;
}

/* the persons of a new look: follow each, note standing and lying */
/* where they stood: a fall lands against the standing box grown by REACH of their height (a fall
 * forward), not further */
static int near_stand(const person_t *q, const double *b)
{
    double r = REACH * q->up_h,
           g[4] = {q->up_box[0] - r, q->up_box[1] - r, q->up_box[2] + 2 * r, q->up_box[3] + 2 * r};
    return vg_box_inter(g, b) > 0;
}

/* box @b, of posture @pos, is person @q this look: note standing, falling and lying */
static void observe(vg_fall_t *f, const vg_fall_input_t *in, person_t *q, const vg_fall_person_t *o,
                    posture_t pos)
{
    const double *b = o->box;
    const vg_fall_params_t *p = &f->p;
    int who = (int)(q - f->people), debug = vg_log_get_level() >= VG_LOG_DEBUG;
    double last[4];
    memcpy(last, q->box, sizeof(last));
    q->seen = 1;
    if (debug)
        vg_log("fall", VG_LOG_DEBUG,
               "t=%.2f person %d box %.0f,%.0f %.0fx%.0f %s stature %.0f pose %.2f torso %.0f",
               in->t, who, b[0], b[1], b[2], b[3],
               pos == P_UPRIGHT ? "upright"
               : pos == P_LYING ? "lying"
                                : "other",
               q->stature, o->pose, o->torso_seen ? o->torso : -1.0);
    memcpy(q->box, b, sizeof(q->box));
    q->last_seen = in->t;
    double drop = q->up_h > 0 ? (b[1] - q->up_top) / q->up_h : 0;
    if (pos == P_UPRIGHT) {
        if (in->t - q->stature_t > STATURE_KEEP || b[3] >= q->stature)
            q->stature = b[3], q->stature_t = in->t;
        if (b[3] >= TALL * q->stature)
            q->up_t = in->t, q->up_top = b[1], q->up_h = b[3],
            memcpy(q->up_box, b, sizeof(q->up_box));
        q->lying_since = -1, q->fall = 0, q->raised = 0, q->falling_t = -INFINITY;
        q->torso_seen = 0;
    } else if (pos == P_LYING && in->mask && fg_share(in->mask, b) < LYING_FG &&
               (q->lying_since < 0 || vg_box_iou(last, b) < 0.3)) {
        /* nothing there unlike the floor: a pattern on it taken for someone lying (once down
         * where they were, someone lying still fades into the background: the detector seeing
         * them there again is enough) */
    } else if (pos == P_LYING) {
        q->down_t = in->t;
        if (o->torso_seen) q->torso_seen = 1, q->torso = o->torso;
        if (q->lying_since >= 0) return;
        q->lying_since = in->t;
        /* straight from standing to lying within fall_time, or lying soon after a look that
         * saw them falling (the head down by half their height within half of fall_time) */
        int straight = in->t - q->up_t <= p->fall_time && drop >= p->drop && near_stand(q, b);
        int settled = in->t - q->falling_t <= SETTLE;
        q->fall = straight || settled;
        if (straight)
            q->fall_duration = in->t - q->up_t, q->fall_drop = drop;
        else if (settled)
            q->fall_duration = q->falling_t - q->up_t, q->fall_drop = q->falling_drop;
        else
            q->fall_duration = in->t - q->up_t, q->fall_drop = drop;
        q->falling_t = -INFINITY;
        if (debug)
            vg_log("fall", VG_LOG_DEBUG,
                   "t=%.2f person %d lying: %.1f s after standing, head %.2f lower, %s: %s", in->t,
                   who, in->t - q->up_t, drop, near_stand(q, b) ? "where they stood" : "away",
                   q->fall ? "a fall" : "no fall");
    } else if (q->lying_since < 0 && in->t - q->up_t <= p->fall_time / 2 && drop >= FALLING_DROP &&
               near_stand(q, b)) {
        /* on the way down, or down but not (yet) seen lying: falling */
        if (q->falling_t < q->up_t) q->falling_t = in->t, q->falling_drop = drop;
        if (debug)
            vg_log("fall", VG_LOG_DEBUG,
                   "t=%.2f person %d falling: head %.2f lower %.1f s after "
                   "standing",
                   in->t, who, drop, in->t - q->up_t);
    } /* else: kneeling, sitting, bending; or a look between lying ones (a knee raised, a box
       * cut short) that leaves them down */
}

/* may box @b of posture @pos be person @q at all: a piece of them (a region look's crop finds an
 * arm, a head; standing at less than half their height: a leg) is not their posture */
static int piece_of(const person_t *q, const vg_fall_input_t *in, const double *b, posture_t pos)
{
    if (!(q->stature > 0)) return 0;
    if (b[3] < FRAGMENT * q->stature && b[2] < FRAGMENT * q->stature) return 1;
    /* (someone far off is a new person: this one was seen within STATURE_KEEP) */
    return pos == P_UPRIGHT && in->t - q->stature_t <= STATURE_KEEP && b[3] < PIECE * q->stature;
}

typedef struct pair {
    double score;
    int box, person;
} pair_t;

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : x->box - y->box;
}

/* the persons of a new look: each box goes to the person it continues best (best pairs first),
 * the others are new people; then the stand-ins, which only continue someone */
static void follow(vg_fall_t *f, const vg_fall_input_t *in)
{
    const vg_fall_params_t *p = &f->p;
    pair_t pairs[4 * MAX_PEOPLE];
    signed char used[4 * MAX_PEOPLE];
    for (int i = 0; i < f->npeople; i++) f->people[i].seen = 0;
    int nb = in->npersons < 4 * MAX_PEOPLE ? in->npersons : 4 * MAX_PEOPLE;
    for (int pass = 0; pass < 2; pass++) {
        int np = 0;
        for (int j = 0; j < nb; j++) {
            const double *b = in->persons[j].box;
            posture_t pos = posture(p, in, b);
            used[j] = !in->persons[j].standin != !pass || foot_in(f, in, b, -1) ||
                      (pass && pos != P_LYING);
            if (used[j]) continue;
            /* a box that is a piece of the person it lies best over is nobody */
            double bs = 0;
            const person_t *bq = NULL;
            for (int i = 0; i < f->npeople; i++) {
                const person_t *q = &f->people[i];
                double s = q->seen ? 0 : match_score(q, b, pos == P_UPRIGHT);
                if (pass && !standin_fits(f, in, q, b)) s = 0;
                if (s > bs) bs = s, bq = q;
                if (s > 0 && np < 4 * MAX_PEOPLE)
                    pairs[np++] = (pair_t){.score = s, .box = j, .person = i};
            }
            if (bq && piece_of(bq, in, b, pos)) used[j] = 1;
        }
        qsort(pairs, (size_t)np, sizeof(pairs[0]), pair_cmp);
        for (int k = 0; k < np; k++) {
            person_t *q = &f->people[pairs[k].person];
            int j = pairs[k].box;
            if (used[j] || q->seen) continue;
            used[j] = 1;
            observe(f, in, q, &in->persons[j], posture(p, in, in->persons[j].box));
        }
        for (int j = 0; !pass && j < nb; j++) {
            if (used[j] || f->npeople == MAX_PEOPLE) continue;
            person_t *q = &f->people[f->npeople++];
            memset(q, 0, sizeof(*q));
            q->up_t = q->falling_t = -INFINITY;
            q->lying_since = -1;
            observe(f, in, q, &in->persons[j], posture(p, in, in->persons[j].box));
        }
    }
}

/* Every frame: someone lying stays down while their place is occupied (the detector often misses
 * people lying on the floor: the motion mask still holds them); a place empty for end_after ends
 * the lying run. People unseen for long are forgotten (an open event watches its place). */
static void still_down(vg_fall_t *f, const vg_fall_input_t *in)
{
    const vg_fall_params_t *p = &f->p;
    int k = 0;
    for (int i = 0; i < f->npeople; i++) {
        person_t *q = &f->people[i];
        if (q->lying_since >= 0) {
            if (fg_share(in->mask, q->box) >= OCCUPIED) q->down_t = in->t;
            if (in->t - q->down_t > p->end_after) {
                if (vg_log_get_level() >= VG_LOG_DEBUG)
                    vg_log("fall", VG_LOG_DEBUG, "t=%.2f person %d: place empty, not lying", in->t,
                           i);
                q->lying_since = -1, q->fall = 0, q->raised = 0;
            }
        }
        double seen = fmax(q->last_seen, q->lying_since >= 0 ? q->down_t : -INFINITY);
        if (in->t - seen <= fmax(p->hidden_time, p->fall_time) + 1) f->people[k++] = *q;
    }
    f->npeople = k;
}

int vg_fall_update(vg_fall_t *f, const vg_fall_input_t *in, vg_emit_fn emit, void *opaque)
{
    const vg_fall_params_t *p = &f->p;
    int ret;
    if (in->npersons < 0 || (in->npersons && !in->persons) || !(in->sx > 0) || !(in->sy > 0))
        return VG_EINVAL;
    f->sx = in->sx, f->sy = in->sy;
    if (in->look) follow(f, in);
    if (in->look && in->npersons > 0 && !f->upright_seen) {
        for (int j = 0; j < in->npersons && !f->upright_seen; j++)
            f->upright_seen =
                !in->persons[j].standin && posture(p, in, in->persons[j].box) == P_UPRIGHT;
        if (!f->upright_seen && ++f->looks_people == UPRIGHT_WARN && !f->warned_upright) {
            f->warned_upright = 1;
            vg_log("fall", VG_LOG_WARNING,
                   "%d looks at people and nobody seen standing (a camera looking straight "
                   "down, a fisheye?): a fall is raised only for someone seen standing first, "
                   "so none will be here; fall.lying_no_fall raises people lying instead",
                   UPRIGHT_WARN);
        }
    }
    still_down(f, in);
    int k = 0;
    for (int i = 0; i < f->ncool; i++)
        if (f->cool[i].until > in->t) f->cool[k++] = f->cool[i];
    f->ncool = k;
    /* open events: the place, not the person (judged at looks) */
    for (int i = 0; in->look && i < f->nev; i++) {
        open_event_t *e = &f->ev[i];
        if (!e->active) continue;
        int down = 0, up = 0, standing = 0;
        double cover = fg_share(in->mask, e->box);
        for (int j = 0; j < f->npeople; j++) {
            const person_t *q = &f->people[j];
            if (!q->seen) continue;
            double in_place = vg_box_inter(q->box, e->box) / fmax(e->box[2] * e->box[3], 1);
            cover += in_place;
            if (vg_box_iou(q->box, e->box) >= 0.2 && posture(p, in, q->box) == P_LYING) {
                down = 1;
                memcpy(e->box, q->box, sizeof(e->box));
            } else if (in_place > 0 && posture(p, in, q->box) == P_UPRIGHT &&
                       q->box[1] + q->box[3] >= e->box[1]) /* feet on the place */
                standing++;
        }
        /* one person standing on the place: up again; more: people round them (hidden) */
        up = standing == 1;
        if (standing) cover = fmax(cover, OCCUPIED);
        if (down) {
            e->last_down = in->t, e->up_since = -1;
            continue;
        }
        const char *why = NULL;
        if (up && e->up_since < 0) e->up_since = in->t;
        if (up && in->t - e->up_since >= p->end_after && in->t - e->last_down >= p->end_after)
            why = "got up";
        else if (cover < OCCUPIED && in->t - e->last_down >= p->end_after)
            why = "gone";
        else if (in->t - e->last_down >= p->hidden_time)
            why = "hidden too long";
        if (why && (ret = emit_end(f, e, in->frame, in->t, in->sx, in->sy, why, emit, opaque)) < 0)
            return ret;
    }
    k = 0;
    for (int i = 0; i < f->nev; i++)
        if (f->ev[i].active) f->ev[k++] = f->ev[i];
    f->nev = k;
    /* new events: lying after a fall for ground_time */
    for (int j = 0; j < f->npeople; j++) {
        person_t *q = &f->people[j];
        if (q->lying_since < 0 || q->raised || in->t - q->lying_since < p->ground_time ||
            in->t - q->down_t > 0.5)
            continue;
        if (!q->fall && !p->lying_no_fall) continue;
        if (foot_in(f, in, q->box, VG_ZONE_REST)) continue;
        int taken = 0;
        /* near an open event: the same fall (a piece of the person followed on its own) */
        for (int i = 0; i < f->nev && !taken; i++) {
            const double *e = f->ev[i].box;
            double m = 0.5 * fmax(e[2], e[3]),
                   g[4] = {e[0] - m, e[1] - m, e[2] + 2 * m, e[3] + 2 * m};
            taken = vg_box_inter(g, q->box) > 0;
        }
        for (int i = 0; i < f->ncool && !taken; i++)
            taken = vg_box_iou(f->cool[i].box, q->box) >= 0.2;
        if (taken || f->nev == MAX_PEOPLE) continue;
        open_event_t *e = &f->ev[f->nev++];
        memset(e, 0, sizeof(*e));
        memcpy(e->box, q->box, sizeof(e->box));
        e->started = e->last_down = in->t;
        e->up_since = -1;
        e->kind_fall = q->fall;
        e->active = 1;
        q->raised = 1;
        if ((ret = emit_start(in, e, q, emit, opaque)) < 0) return ret;
    }
    return 0;
}

int vg_fall_flush(vg_fall_t *f, int64_t frame, double t, vg_emit_fn emit, void *opaque)
{
    for (int i = 0; i < f->nev; i++) {
        if (!f->ev[i].active) continue;
        int ret = emit_end(f, &f->ev[i], frame, t, f->sx, f->sy, "end of input", emit, opaque);
        if (ret < 0) return ret;
    }
    f->nev = 0;
    return 0;
}

/* ---- the "fall" stage: the detector's persons of each new look ---- */

typedef struct fall_stage {
    vg_fall_t *f;
    vg_calib_t calib; /* the scene's ground calibration: the local vertical */
    vg_fall_person_t *persons;
    int cap;
    int64_t last_results;
    int64_t last_frame;
    double last_t;
    int warned;
} fall_stage_t;

static int stage_emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

/* the two shapes must not overlap: a box cannot be someone standing and someone lying */
static int check_params(const vg_fall_params_t *p, char *err, size_t errlen)
{
    if (p->lying_aspect > p->upright_aspect) return 0;
    snprintf(err, errlen,
             "fall.lying_aspect (%g) must be larger than fall.upright_aspect (%g): a box cannot "
             "be someone standing and someone lying",
             p->lying_aspect, p->upright_aspect);
    return VG_EINVAL;
}

/* called with the stage's own options applied: refuse shapes that overlap before any frame */
static int fall_configure(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    (void)settings;
    return check_params(st->params, err, errlen);
}

static int fall_init(vg_stage_t *st, vg_analysis_t *a)
{
    fall_stage_t *s = st->priv;
    s->last_results = -1;
    char err[256];
    if (vg_calib_fit(&s->calib, a->scene->calib, a->scene->nb_calib, err, sizeof(err)) < 0)
        s->calib.valid = 0; /* the scene's loader has said why */
    return vg_fall_new(&s->f, a->scene, st->params);
}

/* a box the look's region cut (an edge on the region's edge, inside the frame): a piece of
 * someone, of no use for their posture. A region look around a moving arm or leg finds the
 * person it belongs to cut at the crop's edge. */
static int cut_by_region(const vg_detections_t *det, const vg_detection_t *d, int w, int h)
{
    const float *r = det->region, e = 2;
    return (r[0] > e && d->x <= r[0] + e) || (r[1] > e && d->y <= r[1] + e) ||
           (r[0] + r[2] < w - e && d->x + d->w >= r[0] + r[2] - e) ||
           (r[1] + r[3] < h - e && d->y + d->h >= r[1] + r[3] - e);
}

static int fall_process(vg_stage_t *st, vg_analysis_t *a)
{
    fall_stage_t *s = st->priv;
    const vg_detections_t *det = a->slot[VG_SLOT_DETECTIONS];
    const vg_frame_t *fr = a->frame;
    if (!det) return 0;
    int look = det->frame_index >= 0 && det->results != s->last_results, np = 0;
    s->last_results = det->results;
    s->last_frame = fr->index, s->last_t = fr->t;
    if (look && det->n > s->cap) {
        vg_fall_person_t *n = vg_realloc(s->persons, (size_t)det->n * sizeof(*n));
        if (!n) return VG_ENOMEM;
        s->persons = n, s->cap = det->n;
    }
    for (int i = 0; look && i < det->n; i++) {
        const vg_detection_t *d = &det->det[i];
        /* persons this look saw (not those carried over from an earlier one) */
        int standin = d->cls == 15 || d->cls == 16; /* COCO cat, dog */
        if ((d->cls != 0 && !standin) || (d->t != 0 && d->t < det->t - 1e-6)) continue;
        if (cut_by_region(det, d, fr->image.w, fr->image.h)) continue;
        vg_fall_person_t *o = &s->persons[np++];
        o->box[0] = d->x, o->box[1] = d->y, o->box[2] = d->w, o->box[3] = d->h;
        o->score = d->score;
        o->standin = standin;
        o->pose = d->pose;
        o->torso_seen = 0;
        if (d->pose > 0 && (d->torso[0] || d->torso[1] || d->torso[2] || d->torso[3])) {
            /* hip to shoulders in input pixels, against the local vertical at the hips */
            double sx = (double)fr->in_w / fr->image.w, sy = (double)fr->in_h / fr->image.h;
            double tx = (d->torso[2] - d->torso[0]) * sx, ty = (d->torso[3] - d->torso[1]) * sy;
            double ux = 0, uy = -1, len = hypot(tx, ty);
            if (s->calib.valid && vg_calib_up(&s->calib, fr->in_w / 2.0, fr->in_h / 2.0,
                                              d->torso[0] * sx, d->torso[1] * sy, &ux, &uy) < 0)
                ux = 0, uy = -1;
            if (len > 0) {
                double c = (tx * ux + ty * uy) / len;
                o->torso = acos(fmax(-1, fmin(1, c))) * 180 / M_PI;
                o->torso_seen = 1;
            }
        }
    }
    vg_fall_input_t in = {
        .frame = fr->index,
        .t = fr->t,
        .sx = (double)fr->in_w / fr->image.w,
        .sy = (double)fr->in_h / fr->image.h,
        .look = look,
        .persons = s->persons,
        .npersons = np,
        .mask = a->slot[VG_SLOT_FOREGROUND],
    };
    return vg_fall_update(s->f, &in, stage_emit, a);
}

static int fall_flush(vg_stage_t *st, vg_analysis_t *a)
{
    fall_stage_t *s = st->priv;
    return s->f ? vg_fall_flush(s->f, s->last_frame, s->last_t, stage_emit, a) : 0;
}

static void fall_close(vg_stage_t *st)
{
    fall_stage_t *s = st->priv;
    vg_fall_free(&s->f);
    vg_free(s->persons);
    s->persons = NULL;
}

static const char *const fall_live[] = {"fall", NULL};

static int fall_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    fall_stage_t *s = st->priv;
    vg_fall_params_t p;
    int ret;
    if ((ret = vg_opt_defaults(&p, vg__fall_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_fall_option_group, &p, err, errlen)) < 0 ||
        (ret = check_params(&p, err, errlen)) < 0)
        return ret;
    if (s->f) vg_fall_set_params(s->f, &p);
    *(vg_fall_params_t *)st->params = p;
    return 0;
}

const vg_stage_class_t vg__fall_stage = {
    .name = "fall",
    .help = "a person on the ground after a fall: fall",
    .options = vg__fall_options,
    .params_size = sizeof(vg_fall_params_t),
    .priv_size = sizeof(fall_stage_t),
    .init = fall_init,
    .process = fall_process,
    .flush = fall_flush,
    .close = fall_close,
    .configure = fall_configure,
    .live_groups = fall_live,
    .update = fall_update,
    .needs = VG_SLOT_BIT(VG_SLOT_DETECTIONS),
    .uses = VG_SLOT_BIT(VG_SLOT_FOREGROUND),
};
