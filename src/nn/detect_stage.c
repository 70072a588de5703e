/*
 * The "detect" stage: what the moving and still things are, from the shared inference thread.
 *
 * Per frame, without ever waiting for the detector (unless detect.wait asks it, for offline
 * evaluations that must give the same events every run):
 * 1. collect the result of the request in flight, if it is done: it becomes the published
 *    detections (VG_SLOT_DETECTIONS, a vg_detections_t), and each live track it covers gets
 *    evidence: the detections overlapping the track's current box (intersection over the
 *    smaller box >= detect.match) add their score to their class, and the best "person" score
 *    is kept apart — so that rules can ask "is this object a person?";
 * 2. if nothing is in flight, ask for something: the whole frame when detect.every seconds have
 *    passed since the last whole frame; otherwise, on demand, a region around a confirmed track
 *    the detector has not looked at yet, or not for detect.recheck seconds (the region is the
 *    box grown by detect.margin on each side, at least 96 pixels: small objects get the
 *    detector's full resolution). Tracks take turns, oldest look first. A track whose box
 *    changed shape since its last look (height or width by more than detect.reshape of what
 *    it was: someone falling, sitting down, coming fully into view, a bag set down) is looked
 *    at again after RESHAPE_GAP rather than after detect.recheck, so that a fall, over in a
 *    second, is seen through more than the whole-frame looks every detect.every seconds.
 * 3. before those routine looks, the close looks later stages asked for (vg_detections_ask: the
 *    weapon stage asks for the hands of a person seen near a knife), in the order asked; their
 *    results are published with the asker's tag and counted as early looks (reshape).
 * Requests refused because the inference thread is busy with other cameras are simply asked
 * again on a later frame. A request waiting its turn behind other cameras' is moved to each new
 * frame (vg_infer_refresh; a track's region follows the track; a close look keeps its frame): on a
 * box where the detector is behind, a look comes late but is about the present, so that its boxes
 * land on the tracks and the persons where they are now, not where they were seconds before.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/error.h>
#include <vigie/stage.h>
#include <vigie/infer.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/track.h>

#define RESHAPE_GAP 0.25 /* s: the shortest time between two looks at a track changing shape */

typedef struct detect_params {
    double every;   /**< s between whole-frame requests (0: only regions) */
    int regions;    /**< ask for regions around tracks not looked at yet */
    double recheck; /**< s after which a track's region is asked for again */
    double margin;  /**< region = track box grown by this fraction on each side */
    double reshape; /**< a box changed by this share since its last look is looked at again */
    int pose;       /**< those looks also ask for the persons' poses (VG_INFER_POSE) */
    double match;   /**< overlap (of the smaller box) for a detection to label a track */
    int wait;       /**< wait for each result (reproducible offline runs) */
    int tiles;      /**< a whole frame is looked at in this many overlapping vertical strips */
} detect_params_t;

#define OFF(x) offsetof(detect_params_t, x)
static const vg_option_t vg__detect_options[] = {
    {.name = "every",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(every),
     .def.d = 1.0,
     .min = 0,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "time between detections on the whole frame (0: only on regions)"},
    {.name = "regions",
     .type = VG_OPT_BOOL,
     .offset = OFF(regions),
     .def.i = 1,
     .flags = VG_OPT_LIVE,
     .help = "between whole frames, detect in a region around each new track"},
    {.name = "recheck",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(recheck),
     .def.d = 5.0,
     .min = 0.1,
     .max = 3600,
     .unit = "s",
     .flags = VG_OPT_LIVE,
     .help = "look again at a track's region after this long"},
    {.name = "margin",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(margin),
     .def.d = 0.5,
     .min = 0,
     .max = 4,
     .flags = VG_OPT_LIVE,
     .help = "a track's region is its box grown by this fraction on each side"},
    {.name = "reshape",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(reshape),
     .def.d = 0.4,
     .min = 0,
     .max = 10,
     .flags = VG_OPT_LIVE,
     .help = "look again soon at a track whose box height or width changed by more than this "
             "share since its last look (a fall, someone sitting down; 0: never)"},
    {.name = "pose",
     .type = VG_OPT_BOOL,
     .offset = OFF(pose),
     .def.i = 1,
     .flags = VG_OPT_LIVE,
     .help = "in the looks detect.reshape asks for, also the pose of the persons found (torso "
             "angle for falls; the pose model runs only there)"},
    {.name = "match",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(match),
     .def.d = 0.5,
     .min = 0.05,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "overlap (share of the smaller box) for a detection to label a track"},
    {.name = "wait",
     .type = VG_OPT_BOOL,
     .offset = OFF(wait),
     .def.i = 0,
     .help = "wait for each detection (offline evaluation: the same events every run)"},
    {.name = "tiles",
     .type = VG_OPT_INT,
     .offset = OFF(tiles),
     .def.i = 1,
     .min = 1,
     .max = 8,
     .flags = VG_OPT_LIVE,
     .help = "look at a whole frame in this many overlapping strips, side by side (small, far "
             "objects get the detector's resolution; costs a detection per strip)"},
    {.name = NULL},
};
#undef OFF

/* close looks asked by later stages (vg_detections_ask), served first come first */
struct vg_detect_asks {
    struct {
        float region[4];
        unsigned flags;
        int64_t tag;
    } q[VG_DETECT_ASKS_MAX];
    int n;
    int64_t asked, served;
};

typedef struct detect_stage {
    vg_detector_params_t dp; /* the "detector" group, from the pipeline's settings */
    struct vg_detect_asks asks;
    int64_t pending_tag; /* the request in flight is this close look (0: none) */
    unsigned pending_flags;
    int dp_set;
    vg_infer_t *svc;
    vg_infer_client_t *cl;
    int pending_whole;   /* the request in flight is a whole frame (or its first strip) */
    int pending_reshape; /* or a region asked early because its track changed shape */
    int pick_reshape;    /* choose() picked such a region */
    int tiles_left;      /* strips of the current whole frame still to ask for */
    int64_t pending_id;  /* or the track it looks at */
    int pending_what;    /* what choose() picked for the request in flight; 0: none */
    double last_whole;   /* scene time of the last whole-frame request */
    vg_detection_t *det;
    int ndet, capdet;
    vg_track_label_t *labels;
    int nlabels, caplabels;
    vg_detections_t pub;
    int64_t results, whole, regions;
} detect_stage_t;

int vg_detections_ask(const vg_detections_t *d, const float region[4], unsigned flags, int64_t tag)
{
    if (!d || !d->asks || !tag || !(region[2] >= 1) || !(region[3] >= 1)) return VG_EINVAL;
    struct vg_detect_asks *q = d->asks;
    int i = 0;
    while (i < q->n && q->q[i].tag != tag) i++;
    if (i == q->n) {
        if (q->n == VG_DETECT_ASKS_MAX) return VG_EBUSY;
        q->n++;
        q->asked++;
    }
    memcpy(q->q[i].region, region, sizeof(q->q[i].region));
    q->q[i].flags = flags;
    q->q[i].tag = tag;
    return 0;
}

/* Take the oldest close look asked for out of the queue. */
static void pop_ask(struct vg_detect_asks *q)
{
    memmove(&q->q[0], &q->q[1], (size_t)(q->n - 1) * sizeof(q->q[0]));
    q->n--;
}

const vg_track_label_t *vg_detections_label(const vg_detections_t *d, int64_t id)
{
    for (int i = 0; d && i < d->nlabels; i++)
        if (d->labels[i].track == id) return &d->labels[i];
    return NULL;
}

static vg_track_label_t *label_of(detect_stage_t *d, int64_t id, int create)
{
    for (int i = 0; i < d->nlabels; i++)
        if (d->labels[i].track == id) return &d->labels[i];
    if (!create) return NULL;
    if (d->nlabels == d->caplabels) {
        int cap = d->caplabels ? 2 * d->caplabels : 32;
        vg_track_label_t *l = vg_realloc(d->labels, (size_t)cap * sizeof(*l));
        if (!l) return NULL;
        d->labels = l, d->caplabels = cap;
    }
    vg_track_label_t *l = &d->labels[d->nlabels++];
    memset(l, 0, sizeof(*l));
    l->track = id;
    l->cls = -1;
    l->vehicle_cls = -1;
    return l;
}

/* Intersection over the smaller box. */
static double overlap_small(const double *b, const vg_detection_t *q)
{
    const double qb[4] = {q->x, q->y, q->w, q->h};
    return vg_box_overlap_small(b, qb);
}

/* Evidence from a finished request for the tracks it covered. Per-class sums are kept in the
 * label only as the winner (cls) and its total, the best score and the person score. */
static void label_tracks(detect_stage_t *d, const detect_params_t *p, const vg_infer_result_t *r,
                         vg_tracker_t *tr, double now)
{
    int nt = 0;
    const vg_track_t *t = tr ? vg_tracker_tracks(tr, &nt) : NULL;
    for (int i = 0; i < nt; i++) {
        const double *b = t[i].box;
        /* the track must lie in the region looked at */
        double cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2;
        if (cx < r->region[0] || cy < r->region[1] || cx > r->region[0] + r->region[2] ||
            cy > r->region[1] + r->region[3])
            continue;
        if (t[i].state != VG_TRACK_CONFIRMED && t[i].state != VG_TRACK_LOST) continue;
        vg_track_label_t *l = label_of(d, t[i].id, 1);
        if (!l) return;
        l->looks++;
        l->t = now;
        memcpy(l->look_box, b, sizeof(l->look_box));
        float best = 0;
        int best_cls = -1, vehicle_seen = 0;
        for (int k = 0; k < r->n; k++) {
            if (overlap_small(b, &r->det[k]) < p->match) continue;
            if (r->det[k].cls == 0 && r->det[k].score > l->person) l->person = r->det[k].score;
            int c = r->det[k].cls;
            if (vg_coco_is_vehicle(c) && r->det[k].score > l->vehicle)
                l->vehicle = r->det[k].score, l->vehicle_cls = c;
            if (vg_coco_is_vehicle(c)) vehicle_seen = 1;
            if (r->det[k].score > best) best = r->det[k].score, best_cls = r->det[k].cls;
        }
        l->vehicle_looks += vehicle_seen;
        l->vehicle_misses = vehicle_seen ? 0 : l->vehicle_misses + 1;
        /* the label follows the best-scoring class seen; a person once seen stays a person
         * candidate through l->person, whatever the label */
        if (best_cls >= 0 && (l->cls < 0 || best >= l->score || best_cls == l->cls)) {
            if (best_cls != l->cls) l->score = 0;
            l->cls = best_cls;
            if (best > l->score) l->score = best;
        }
    }
}

/* Drop the labels of tracks that ended. */
static void forget_ended(detect_stage_t *d, vg_tracker_t *tr)
{
    int ne = 0;
    const int64_t *ended = tr ? vg_tracker_ended(tr, &ne) : NULL;
    for (int e = 0; e < ne; e++)
        for (int i = 0; i < d->nlabels; i++)
            if (d->labels[i].track == ended[e]) {
                d->labels[i] = d->labels[--d->nlabels];
                break;
            }
}

static int detect_configure(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    detect_stage_t *d = st->priv;
    int ret = vg_opt_defaults(&d->dp, vg_detector_option_group.options);
    if (ret < 0) return ret;
    d->dp_set = 1;
    return vg_settings_apply(settings, &vg_detector_option_group, &d->dp, err, errlen);
}

static int detect_init(vg_stage_t *st, vg_analysis_t *a)
{
    detect_stage_t *d = st->priv;
    char err[1024] = "";
    (void)a;
    int ret = vg_infer_acquire(&d->svc, &d->dp, err, sizeof(err));
    if (ret < 0) {
        vg_log("detect", VG_LOG_ERROR, "%s", err[0] ? err : "cannot start the detector");
        return ret == VG_EINVAL ? VG_EOPTION : ret;
    }
    if ((ret = vg_infer_client_new(d->svc, &d->cl)) < 0) return ret;
    d->last_whole = -INFINITY;
    d->pub.frame_index = -1;
    return 0;
}

static int collect(detect_stage_t *d, const detect_params_t *p, vg_analysis_t *a)
{
    vg_infer_result_t r;
    int got = vg_infer_poll(d->cl, &r);
    if (got <= 0) return 0;
    d->pending_what = 0;
    d->results++;
    if (r.error < 0) {
        vg_log("detect", VG_LOG_WARNING, "camera %s: detector error on frame %lld: %s", a->camera,
               (long long)r.frame_index, vg_strerror(r.error));
        return 0;
    }
    if (d->pending_whole || d->ndet == 0 || d->pub.frame_index < 0) {
        /* a whole frame replaces the published list; a region's detections are added to it
         * where they are new, and replace the old box where they are not (same class
         * overlapping by half: the same object, seen again where it is now) */
        if (d->pending_whole) d->ndet = 0;
    }
    for (int k = 0; k < r.n; k++) {
        int dup = 0;
        if (!d->pending_whole)
            for (int i = 0; i < d->ndet && !dup; i++) {
                double b[4] = {d->det[i].x, d->det[i].y, d->det[i].w, d->det[i].h};
                dup = d->det[i].cls == r.det[k].cls && overlap_small(b, &r.det[k]) > 0.5;
                if (dup) /* where it is now */
                    d->det[i] = r.det[k], d->det[i].t = r.t, d->det[i].reshape = d->pending_reshape;
            }
        if (dup) continue;
        if (d->ndet == d->capdet) {
            int cap = d->capdet ? 2 * d->capdet : 64;
            vg_detection_t *n = vg_realloc(d->det, (size_t)cap * sizeof(*n));
            if (!n) return VG_ENOMEM;
            d->det = n, d->capdet = cap;
        }
        d->det[d->ndet] = r.det[k];
        d->det[d->ndet].reshape = d->pending_reshape;
        d->det[d->ndet++].t = r.t;
    }
    d->pub.frame_index = r.frame_index;
    d->pub.t = r.t;
    memcpy(d->pub.region, r.region, sizeof(d->pub.region));
    d->pub.results = d->results;
    d->pub.reshape = d->pending_reshape;
    d->pub.ask_tag = d->pending_tag;
    d->pub.ask_flags = d->pending_flags;
    label_tracks(d, p, &r, a->slot[VG_SLOT_TRACKS], a->frame->t);
    return 0;
}

/* the track's box changed shape since its last look (@l): height or width by more than
 * detect.reshape of what it was, either way */
static int reshaped(const detect_params_t *p, const vg_track_label_t *l, const vg_track_t *t)
{
    if (!(p->reshape > 0) || !(l->look_box[2] > 0) || !(l->look_box[3] > 0)) return 0;
    double rw = t->box[2] / l->look_box[2], rh = t->box[3] / l->look_box[3];
    double lo = 1 / (1 + p->reshape), hi = 1 + p->reshape;
    return rw > hi || rw < lo || rh > hi || rh < lo;
}

/* the region looked at for a track's box @b: grown by detect.margin on each side, square, at
 * least 96 pixels (small objects get the detector's full resolution) */
static void track_region(const detect_params_t *p, const double *b, float *region)
{
    double side = fmax(b[2], b[3]) * (1 + 2 * p->margin);
    if (side < 96) side = 96;
    double cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2;
    region[0] = (float)(cx - side / 2), region[1] = (float)(cy - side / 2);
    region[2] = region[3] = (float)side;
}

/* The next thing to ask for, if any: 1 whole frame, 2 a region (in @region), 3 and 4 a strip
 * of a whole frame, 5 the oldest close look asked for (in @region), 0 nothing. */
static int choose(detect_stage_t *d, const detect_params_t *p, vg_analysis_t *a, float *region,
                  int64_t *track)
{
    double now = a->frame->t;
    const vg_image_t *img = &a->frame->color;
    if (d->tiles_left <= 0 && d->asks.n > 0) {
        memcpy(region, d->asks.q[0].region, 4 * sizeof(float));
        return 5;
    }
    if (d->tiles_left > 0 || (p->every > 0 && now - d->last_whole >= p->every)) {
        if (p->tiles <= 1) return 1;
        /* strip i of n, overlapping its neighbours by a quarter of a strip */
        if (d->tiles_left <= 0) d->tiles_left = p->tiles;
        int i = p->tiles - d->tiles_left;
        double sw = (double)img->w / p->tiles, ov = sw / 4;
        double x0 = i * sw - ov, x1 = (i + 1) * sw + ov;
        if (x0 < 0) x0 = 0;
        if (x1 > img->w) x1 = img->w;
        region[0] = (float)x0, region[1] = 0;
        region[2] = (float)(x1 - x0), region[3] = (float)img->h;
        return i == 0 ? 3 : 4; /* 3: the first strip (a new list), 4: the next ones */
    }
    vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
    if (!p->regions || !tr) return 0;
    int nt = 0;
    const vg_track_t *t = vg_tracker_tracks(tr, &nt);
    int pick = -1;
    double oldest = INFINITY;
    for (int i = 0; i < nt; i++) {
        if (t[i].state != VG_TRACK_CONFIRMED || t[i].object < 0) continue;
        const vg_track_label_t *l = label_of(d, t[i].id, 0);
        double seen = l ? l->t : -INFINITY;
        int early = l && now - seen < p->recheck;
        if (early && !(now - seen >= RESHAPE_GAP && reshaped(p, l, &t[i]))) continue;
        if (seen < oldest) oldest = seen, pick = i, d->pick_reshape = early;
    }
    if (pick < 0) return 0;
    track_region(p, t[pick].box, region);
    *track = t[pick].id;
    return 2;
}

/* A request still queued (the detector serving other cameras first) is moved to this frame, so
 * that its result is about now: a whole frame or a strip stays where it was, a track's region
 * follows the track. A close look (its region is where a stage saw hands on that frame) and a
 * region whose track has ended keep the frame they were asked on: region and picture agree. */
static void refresh(detect_stage_t *d, const detect_params_t *p, vg_analysis_t *a)
{
    float region[4];
    const float *r = NULL;
    if (d->pending_what == 5) return;
    if (d->pending_what == 2) {
        vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
        int nt = 0;
        const vg_track_t *t = tr ? vg_tracker_tracks(tr, &nt) : NULL;
        for (int i = 0; i < nt && !r; i++)
            if (t[i].id == d->pending_id) track_region(p, t[i].box, region), r = region;
        if (!r) return;
    }
    /* VG_EBUSY (running or done: its result comes as it is) and VG_EINVAL (a track's region now
     * off the frame: the request stays as asked) change nothing */
    int ret = vg_infer_refresh(d->cl, a->frame, r);
    (void)ret;
}

static int detect_process(vg_stage_t *st, vg_analysis_t *a)
{
    detect_stage_t *d = st->priv;
    const detect_params_t *p = st->params;
    int ret;
    forget_ended(d, a->slot[VG_SLOT_TRACKS]);
    if ((ret = collect(d, p, a)) < 0) return ret;
    if (d->pending_what && !p->wait) refresh(d, p, a);
    float region[4];
    int64_t track = 0;
    int what;
    /* with detect.wait, every strip of a whole frame is asked for and read in this frame */
    do {
        what = choose(d, p, a, region, &track);
        if (!what) break;
        int early = what == 2 && d->pick_reshape;
        unsigned flags = what == 5 ? d->asks.q[0].flags : early && p->pose ? VG_INFER_POSE : 0;
        ret = vg_infer_submit_flags(d->cl, a->frame, what == 1 ? NULL : region, flags);
        if (what == 5 && ret != VG_EBUSY) { /* served, or a region off the frame: dropped */
            d->pending_tag = ret == 0 ? d->asks.q[0].tag : 0;
            d->pending_flags = flags;
            if (ret == 0) d->asks.served++;
            pop_ask(&d->asks);
            if (ret == VG_EINVAL) continue;
        } else if (ret == 0) {
            d->pending_tag = 0;
            d->pending_flags = flags;
        }
        if (ret == 0) {
            d->pending_whole = what == 1 || what == 3;
            d->pending_reshape = early || what == 5;
            d->pending_id = track;
            d->pending_what = what;
            if (what == 3 || what == 4) d->tiles_left--;
            if (what == 1 || what == 3)
                d->last_whole = a->frame->t, d->whole++;
            else if (what == 2)
                d->regions++;
            if (what == 2) {
                /* the track counts as looked at from now, so that others get their turn */
                vg_track_label_t *l = label_of(d, track, 1);
                if (l) l->t = a->frame->t;
            }
            if (p->wait) {
                vg_infer_wait(d->cl);
                if ((ret = collect(d, p, a)) < 0) return ret;
            }
        } else if (ret != VG_EBUSY) {
            if (ret != VG_EINVAL) return ret;
            if (what == 3 || what == 4) d->tiles_left = 0; /* a region off the frame: skip it */
            break;
        } else {
            break;
        }
    } while (p->wait && d->tiles_left > 0);
    d->pub.n = d->ndet;
    d->pub.det = d->det;
    d->pub.nlabels = d->nlabels;
    d->pub.labels = d->labels;
    d->pub.asks = &d->asks;
    a->slot[VG_SLOT_DETECTIONS] = &d->pub;
    return 0;
}

static int detect_flush(vg_stage_t *st, vg_analysis_t *a)
{
    detect_stage_t *d = st->priv;
    (void)a;
    vg_log("detect", VG_LOG_INFO,
           "%lld detector results (%lld whole frames, %lld regions, %lld close looks asked), %d "
           "tracks labelled",
           (long long)d->results, (long long)d->whole, (long long)d->regions,
           (long long)d->asks.served, d->nlabels);
    return 0;
}

static void detect_close(vg_stage_t *st)
{
    detect_stage_t *d = st->priv;
    vg_infer_client_free(&d->cl);
    vg_infer_release(&d->svc);
    vg_free(d->det);
    vg_free(d->labels);
    if (d->dp_set) vg_opt_free(&d->dp, vg_detector_option_group.options);
}

/* New detect.* values while running: read from the params at every frame. */
static int detect_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    static const vg_option_group_t g = {"detect", NULL, vg__detect_options};
    detect_params_t p; /* numbers only: nothing to free */
    int ret;
    if ((ret = vg_opt_defaults(&p, vg__detect_options)) < 0 ||
        (ret = vg_settings_apply(settings, &g, &p, err, errlen)) < 0)
        return ret;
    *(detect_params_t *)st->params = p;
    return 0;
}

static const char *const detect_live[] = {"detect", NULL};

static const vg_option_group_t *const detect_reads[] = {&vg_detector_option_group, NULL};

const vg_stage_class_t vg__detect_stage = {
    .name = "detect",
    .help = "object classes (person, vehicle, bag...) from the shared inference thread",
    .options = vg__detect_options,
    .params_size = sizeof(detect_params_t),
    .priv_size = sizeof(detect_stage_t),
    .flags = VG_STAGE_NEEDS_COLOR,
    .init = detect_init,
    .process = detect_process,
    .flush = detect_flush,
    .close = detect_close,
    .configure = detect_configure,
    .live_groups = detect_live,
    .update = detect_update,
    .reads = detect_reads,
    .uses = VG_SLOT_BIT(VG_SLOT_TRACKS),
    .provides = VG_SLOT_BIT(VG_SLOT_DETECTIONS),
};
