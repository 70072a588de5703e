/*
 * Multi-object tracker (SORT-like: Bewley et al. 2016, "Simple online and realtime tracking",
 * with coasting through occlusions and split ownership).
 *
 * Method
 * - Each track filters its box centre and size with four independent Kalman filters (state:
 *   value and rate; process noise from a white acceleration of tracker.process_noise pixels/s^2;
 *   measurement noise tracker.measure_noise pixels). The centre is constant-velocity; the size's
 *   rate is not extrapolated (a box shrinking into an occluder must not vanish while it coasts).
 *   Time steps are scene seconds, so frame rate does not matter.
 * - Association: predicted boxes against this frame's objects, optimal assignment (Hungarian).
 *   Cost 1 - IoU where the boxes overlap by at least tracker.min_iou; otherwise, within
 *   tracker.gate box diagonals (widened while a track coasts), 1 + distance/gate; beyond, no
 *   match. Overlap always beats distance.
 * - Life: a new object starts a tentative track; tracker.confirm_hits matches confirm it. An
 *   unmatched confirmed track coasts on its prediction (VG_TRACK_LOST) and dies after
 *   tracker.max_lost seconds unseen; a tentative one after tracker.max_tentative (all of them at
 *   once after a gap in the pictures longer than max_lost: none is matched across it). A lost track
 *   whose prediction lies inside another matched track's box is recorded as merged into it.
 * - Ownership: a new object born next to a confirmed, larger track (within
 *   tracker.owner_distance of its height) records that track as its owner — the person who put
 *   a bag down; and an ownerless object moving with a larger track beside it (same velocity
 *   within a third of the speed) is carried by it. The owner never changes afterwards.
 * - Ids: from 1, incremented, never reused, local to this tracker (one camera, one run). No
 *   appearance features are used or stored.
 */
#include <math.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/track.h>

#include "hungarian.h"
#include "track_priv.h"

#define OFF(x) offsetof(vg_tracker_params_t, x)
const vg_option_t vg__tracker_options[] = {
    {.name = "min_iou",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(min_iou),
     .def.d = 0.1,
     .min = 0,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "box overlap (IoU) for a match by overlap"},
    {.name = "gate",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(gate),
     .def.d = 1.0,
     .min = 0,
     .max = 10,
     .flags = VG_OPT_LIVE,
     .help = "farthest match by distance, in box diagonals (widens while a track coasts)"},
    {.name = "confirm_hits",
     .type = VG_OPT_INT,
     .offset = OFF(confirm_hits),
     .def.i = 3,
     .min = 1,
     .max = 100,
     .flags = VG_OPT_LIVE,
     .help = "matches that confirm a new track"},
    {.name = "max_lost",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(max_lost),
     .def.d = 2.0,
     .min = 0,
     .max = 600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "a confirmed track unseen this long ends (it coasts until then)"},
    {.name = "max_tentative",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(max_tentative),
     .def.d = 0.3,
     .min = 0,
     .max = 60,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "an unconfirmed track unseen this long is dropped"},
    {.name = "owner_distance",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(owner_distance),
     .def.d = 0.5,
     .min = 0,
     .max = 10,
     .flags = VG_OPT_LIVE,
     .help = "a new object this close to a larger track (in its heights) records it as owner"},
    {.name = "process_noise",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(process_noise),
     .def.d = 200,
     .min = 0.01,
     .max = 1e6,
     .unit = "px/s2",
     .flags = VG_OPT_LIVE,
     .help = "Kalman acceleration noise"},
    {.name = "measure_noise",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(measure_noise),
     .def.d = 3,
     .min = 0.01,
     .max = 1000,
     .unit = "px",
     .flags = VG_OPT_LIVE,
     .help = "Kalman measurement noise"},
    {.name = NULL},
};
#undef OFF

const vg_option_group_t vg_tracker_option_group = {"tracker", "multi-object tracker",
                                                   vg__tracker_options};

void vg_tracker_params_default(vg_tracker_params_t *p)
{
    memset(p, 0, sizeof(*p));
    vg_opt_defaults(p, vg__tracker_options);
}

typedef struct kf {
    double x, v;          /* value, rate */
    double p00, p01, p11; /* covariance */
} kf_t;

typedef struct trk {
    vg_track_t pub;
    kf_t kf[4]; /* cx, cy, w, h */
} trk_t;

struct vg_tracker {
    vg_tracker_params_t p;
    trk_t *t;
    int n, cap;
    vg_track_t *out; /* public copies, refreshed at the end of each update */
    int nout, out_cap;
    int64_t *ended;
    int nended, ended_cap;
    int64_t next_id;
    double t_last;
    int started;
};

static void kf_init(kf_t *k, double x, double r)
{
    k->x = x;
    k->v = 0;
    k->p00 = r * r;
    k->p01 = 0;
    k->p11 = 1e4; /* unknown speed: up to ~100 px/s */
}

static void kf_predict(kf_t *k, double dt, double q)
{
    double dt2 = dt * dt, q2 = q * q;
    k->x += k->v * dt;
    k->p00 += dt * (2 * k->p01 + dt * k->p11) + q2 * dt2 * dt2 / 4;
    k->p01 += dt * k->p11 + q2 * dt2 * dt / 2;
    k->p11 += q2 * dt2;
}

static void kf_update(kf_t *k, double z, double r)
{
    double s = k->p00 + r * r, k0 = k->p00 / s, k1 = k->p01 / s, y = z - k->x;
    k->x += k0 * y;
    k->v += k1 * y;
    double p00 = (1 - k0) * k->p00, p01 = (1 - k0) * k->p01, p11 = k->p11 - k1 * k->p01;
    k->p00 = p00, k->p01 = p01, k->p11 = p11;
}

static void sync_pub(trk_t *t)
{
    double w = fmax(t->kf[2].x, 1), h = fmax(t->kf[3].x, 1);
    t->pub.box[0] = t->kf[0].x - w / 2;
    t->pub.box[1] = t->kf[1].x - h / 2;
    t->pub.box[2] = w;
    t->pub.box[3] = h;
    t->pub.vx = t->kf[0].v;
    t->pub.vy = t->kf[1].v;
    t->pub.speed = hypot(t->pub.vx, t->pub.vy);
    t->pub.heading = atan2(t->pub.vy, t->pub.vx);
}

int vg_tracker_new(vg_tracker_t **out, const vg_tracker_params_t *p)
{
    vg_tracker_t *t = vg_calloc(1, sizeof(*t));
    if (!t) return VG_ENOMEM;
    if (p)
        t->p = *p;
    else
        vg_tracker_params_default(&t->p);
    t->next_id = 1;
    *out = t;
    return 0;
}

void vg_tracker_free(vg_tracker_t **pt)
{
    vg_tracker_t *t = *pt;
    if (!t) return;
    vg_free(t->t);
    vg_free(t->out);
    vg_free(t->ended);
    vg_free(t);
    *pt = NULL;
}

static int push_ended(vg_tracker_t *tr, int64_t id)
{
    if (tr->nended == tr->ended_cap) {
        int cap = tr->ended_cap ? tr->ended_cap * 2 : 16;
        int64_t *e = vg_realloc(tr->ended, (size_t)cap * sizeof(*e));
        if (!e) return VG_ENOMEM;
        tr->ended = e;
        tr->ended_cap = cap;
    }
    tr->ended[tr->nended++] = id;
    return 0;
}

int vg_tracker_update(vg_tracker_t *tr, const vg_objects_t *objs, double t)
{
    const vg_tracker_params_t *p = &tr->p;
    int nobj = objs ? objs->n : 0, ret = 0;
    double dt = tr->started ? t - tr->t_last : 0;
    if (!(dt >= 0)) dt = 0;
    tr->started = 1;
    tr->t_last = t;
    tr->nended = 0;
    /* A gap in the pictures longer than max_lost (frames held while the camera moved, an input
     * that came back): every track is older than that, and predicted over the gap its
     * uncertainty would let it match anything anywhere (a stale track "crossing" a line to a
     * newcomer). They end here, before any association. */
    if (dt > p->max_lost) {
        for (int i = 0; i < tr->n; i++)
            if (tr->t[i].pub.state != VG_TRACK_TENTATIVE &&
                (ret = push_ended(tr, tr->t[i].pub.id)) < 0)
                return ret;
        tr->n = 0;
    }

    for (int i = 0; i < tr->n; i++) {
        for (int k = 0; k < 4; k++) kf_predict(&tr->t[i].kf[k], dt, p->process_noise);
        /* sizes are not extrapolated: a box shrinking into an occluder must not vanish */
        tr->t[i].kf[2].v = tr->t[i].kf[3].v = 0;
        sync_pub(&tr->t[i]);
        tr->t[i].pub.object = -1;
    }

    /* association */
    const double forbid = 3;
    double *cost = NULL;
    int *assign = NULL;
    char *taken = NULL;
    if (tr->n && nobj) {
        cost = vg_malloc((size_t)tr->n * nobj * sizeof(double));
        assign = vg_malloc((size_t)tr->n * sizeof(int));
        if (!cost || !assign) {
            ret = VG_ENOMEM;
            goto done;
        }
        for (int i = 0; i < tr->n; i++) {
            const vg_track_t *tk = &tr->t[i].pub;
            double diag = hypot(tk->box[2], tk->box[3]);
            double gate = p->gate * diag * (1 + fmax(0, t - tk->t_seen));
            double cx = tk->box[0] + tk->box[2] / 2, cy = tk->box[1] + tk->box[3] / 2;
            for (int j = 0; j < nobj; j++) {
                const vg_object_t *o = &objs->obj[j];
                double ob[4] = {o->x, o->y, o->w, o->h};
                double ov = vg_box_iou(tk->box, ob);
                double d = hypot(o->x + o->w / 2.0 - cx, o->y + o->h / 2.0 - cy);
                double c = forbid;
                if (ov >= p->min_iou && ov > 0)
                    c = 1 - ov;
                else if (gate > 0 && d <= gate)
                    c = 1 + d / gate * 0.999;
                cost[(size_t)i * nobj + j] = c;
            }
        }
        if ((ret = vg__hungarian(cost, tr->n, nobj, forbid, assign)) < 0) goto done;
    }
    taken = vg_calloc((size_t)nobj + 1, 1);
    if (!taken) {
        ret = VG_ENOMEM;
        goto done;
    }

    /* matched tracks */
    for (int i = 0; i < tr->n; i++) {
        int j = assign ? assign[i] : -1;
        trk_t *tk = &tr->t[i];
        if (j < 0) continue;
        const vg_object_t *o = &objs->obj[j];
        double z[4] = {o->x + o->w / 2.0, o->y + o->h / 2.0, o->w, o->h};
        for (int k = 0; k < 4; k++) kf_update(&tk->kf[k], z[k], p->measure_noise);
        tk->pub.hits++;
        tk->pub.t_seen = t;
        tk->pub.object = j;
        tk->pub.static_frac = o->static_frac;
        tk->pub.merged_into = 0;
        if (tk->pub.state == VG_TRACK_LOST ||
            (tk->pub.state == VG_TRACK_TENTATIVE && tk->pub.hits >= p->confirm_hits))
            tk->pub.state = VG_TRACK_CONFIRMED;
        sync_pub(tk);
        taken[j] = 1;
    }

    /* unmatched tracks: coast, merge or end */
    int w = 0;
    for (int i = 0; i < tr->n; i++) {
        trk_t *tk = &tr->t[i];
        if (tk->pub.object < 0) {
            double unseen = t - tk->pub.t_seen;
            int dead = tk->pub.state == VG_TRACK_TENTATIVE ? unseen > p->max_tentative
                                                           : unseen > p->max_lost;
            if (dead) {
                if (tk->pub.state != VG_TRACK_TENTATIVE && (ret = push_ended(tr, tk->pub.id)) < 0)
                    goto done;
                continue;
            }
            if (tk->pub.state == VG_TRACK_CONFIRMED) tk->pub.state = VG_TRACK_LOST;
            tk->pub.merged_into = 0;
            double cx = tk->pub.box[0] + tk->pub.box[2] / 2,
                   cy = tk->pub.box[1] + tk->pub.box[3] / 2;
            for (int k = 0; k < tr->n; k++) {
                const vg_track_t *o = &tr->t[k].pub;
                if (k == i || o->object < 0) continue;
                if (cx >= o->box[0] && cx <= o->box[0] + o->box[2] && cy >= o->box[1] &&
                    cy <= o->box[1] + o->box[3])
                    tk->pub.merged_into = o->id;
            }
        }
        tr->t[w++] = *tk;
    }
    tr->n = w;

    /* new objects: tentative tracks, with an owner when they split off a larger track */
    for (int j = 0; j < nobj; j++) {
        if (taken[j]) continue;
        if (tr->n == tr->cap) {
            int cap = tr->cap ? tr->cap * 2 : 16;
            trk_t *nt = vg_realloc(tr->t, (size_t)cap * sizeof(*nt));
            if (!nt) {
                ret = VG_ENOMEM;
                goto done;
            }
            tr->t = nt;
            tr->cap = cap;
        }
        const vg_object_t *o = &objs->obj[j];
        trk_t *tk = &tr->t[tr->n++];
        memset(tk, 0, sizeof(*tk));
        kf_init(&tk->kf[0], o->x + o->w / 2.0, p->measure_noise);
        kf_init(&tk->kf[1], o->y + o->h / 2.0, p->measure_noise);
        kf_init(&tk->kf[2], o->w, p->measure_noise);
        kf_init(&tk->kf[3], o->h, p->measure_noise);
        tk->pub.id = tr->next_id++;
        tk->pub.state = p->confirm_hits <= 1 ? VG_TRACK_CONFIRMED : VG_TRACK_TENTATIVE;
        tk->pub.hits = 1;
        tk->pub.t_first = tk->pub.t_seen = t;
        tk->pub.object = j;
        tk->pub.static_frac = o->static_frac;
        sync_pub(tk);
        double ob[4] = {o->x, o->y, o->w, o->h}, best = INFINITY;
        for (int k = 0; k < tr->n - 1; k++) {
            const vg_track_t *ow = &tr->t[k].pub;
            if (ow->state == VG_TRACK_TENTATIVE || ow->box[2] * ow->box[3] <= (double)o->w * o->h)
                continue;
            double gap = vg_box_gap(ow->box, ob);
            if (gap <= p->owner_distance * ow->box[3] && gap < best) {
                best = gap;
                tk->pub.owner = ow->id;
            }
        }
    }
    /* Carried objects: an ownerless track moving with a larger confirmed track right beside it
     * (same velocity within a third of the speed, both clearly moving) is carried by it. */
    for (int i = 0; i < tr->n; i++) {
        vg_track_t *a = &tr->t[i].pub;
        if (a->owner || a->object < 0 || a->speed < 5) continue;
        double best = INFINITY;
        for (int k = 0; k < tr->n; k++) {
            const vg_track_t *o = &tr->t[k].pub;
            if (k == i || o->state != VG_TRACK_CONFIRMED || o->object < 0 || o->speed < 5 ||
                o->box[2] * o->box[3] <= a->box[2] * a->box[3])
                continue;
            double dv = hypot(a->vx - o->vx, a->vy - o->vy);
            double gap = vg_box_gap(o->box, a->box);
            if (dv <= fmax(a->speed, o->speed) / 3 && gap <= p->owner_distance * o->box[3] &&
                gap < best) {
                best = gap;
                a->owner = o->id;
            }
        }
    }

    if (tr->out_cap < tr->n) {
        vg_track_t *o = vg_realloc(tr->out, (size_t)tr->cap * sizeof(*o));
        if (!o) {
            ret = VG_ENOMEM;
            goto done;
        }
        tr->out = o;
        tr->out_cap = tr->cap;
    }
    for (int i = 0; i < tr->n; i++) tr->out[i] = tr->t[i].pub;
    tr->nout = tr->n;
    ret = tr->n;
done:
    vg_free(cost);
    vg_free(assign);
    vg_free(taken);
    return ret;
}

const vg_track_t *vg_tracker_tracks(const vg_tracker_t *tr, int *n)
{
    *n = tr->nout;
    return tr->out;
}

const int64_t *vg_tracker_ended(const vg_tracker_t *tr, int *n)
{
    *n = tr->nended;
    return tr->ended;
}
