/*
 * The "abandoned_object" stage: abandoned objects (src/events/abandoned.c) from the motion core's
 * mask (VG_SLOT_FOREGROUND), the tracker's tracks (VG_SLOT_TRACKS) and the detect stage's
 * persons (VG_SLOT_DETECTIONS). Without the motion stage it does nothing; without the detect
 * stage it cannot tell people from objects and says so once, raising nothing (a person is never
 * an abandoned object, and only the detector can tell). Options: the "abandoned_object" group;
 * it also reads motion.static_time to date when an object was put down.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/abandoned.h>
#include <vigie/debug.h>
#include <vigie/error.h>
#include <vigie/stage.h>
#include <vigie/image.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/vision.h>

#include "events_priv.h"

typedef struct abandoned_stage {
    vg_abandon_t *ab;
    const vg_bgs_t *bgs;
    double static_time, shadow_min, shadow_max;
    uint8_t *lt_px;
    vg_image_t lt; /* the long-term background, each frame */
    vg_abandon_person_t *persons;
    int cap;
    int64_t last_results; /* the last look this stage took (detect.reshape's left out) */
    double look_t;        /* its time */
    float look_region[4]; /* and region (zero before the first) */
    int64_t last_frame;
    double last_t;
    double due;           /* abandoned_object.rate: the time of the next frame analysed */
    int64_t seen_results; /* the detect stage's results counter at the last frame analysed */
    int warned;
} abandoned_stage_t;

static int ab_configure(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    abandoned_stage_t *s = st->priv;
    vg_bgs_params_t bp;
    vg_bgs_params_default(&bp);
    int ret = vg_settings_apply(settings, &vg_bgs_option_group, &bp, err, errlen);
    s->static_time = bp.static_time;
    s->shadow_min = bp.shadow_min;
    s->shadow_max = bp.shadow_max;
    return ret;
}

static int emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

/* Troubleshooting, for the debug sink the program installed (<vigie/debug.h>; vigie analyze:
 * VIGIE_DEBUG_ABANDONED=DIR): a picture (the frame, the static foreground in blue, moving
 * foreground in green, detector persons in white, candidates coloured by state: red abandoned,
 * orange unattended, yellow attended, magenta person, grey other) and each candidate's measures
 * as lines of text. */
static void debug_picture(abandoned_stage_t *s, const vg_abandon_input_t *in, const vg_frame_t *f)
{
    int w = f->image.w, h = f->image.h;
    uint8_t *px = vg_malloc((size_t)w * h * 3 + 64);
    if (!px) return;
    vg_image_t img = {.w = w, .h = h, .stride = 3 * w, .fmt = VG_PIX_BGR24, .data = px};
    for (int y = 0; y < h; y++) {
        const uint8_t *g = vg_image_row(&f->image, y), *m = vg_image_row(in->mask, y);
        uint8_t *o = px + (size_t)y * 3 * w;
        for (int x = 0; x < w; x++) {
            o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = g[x];
            if (m[x] == VG_MASK_STATIC) o[3 * x] = 255;
            if (m[x] == VG_MASK_FG) o[3 * x + 1] = 255;
        }
    }
    for (int i = 0; i < in->npersons; i++) {
        const double *b = in->persons[i].box;
        vg_image_draw_box(&img, (int)b[0], (int)b[1], (int)b[2], (int)b[3], 1, 255, 255, 255);
    }
    vg_abandon_info_t info[64];
    int n = vg_abandon_candidates(s->ab, info, 64);
    for (int i = 0; i < n; i++) {
        static const uint8_t col[][3] = {{160, 160, 160}, {255, 0, 255}, {90, 90, 90},
                                         {0, 255, 255},   {0, 128, 255}, {0, 0, 255}};
        const uint8_t *c = col[info[i].state];
        vg_image_draw_box(&img, (int)(info[i].box[0] / in->sx), (int)(info[i].box[1] / in->sy),
                          (int)(info[i].box[2] / in->sx), (int)(info[i].box[3] / in->sy), 2, c[0],
                          c[1], c[2]);
    }
    for (int i = 0; i < in->npersons; i++)
        vg_debug_text("abandoned", "t %.1f person %.0f %.0f %.0f %.0f score %.2f", f->t,
                      in->persons[i].box[0] * in->sx, in->persons[i].box[1] * in->sy,
                      in->persons[i].box[2] * in->sx, in->persons[i].box[3] * in->sy,
                      in->persons[i].score);
    for (int i = 0; i < n; i++)
        vg_debug_text(
            "abandoned",
            "t %.1f cand %d %s box %.0f %.0f %.0f %.0f looks %d/%d contrast %.1f bg %.1f new "
            "%.2f old %.2f owner "
            "%lld d %.0f size %.0f attended %d seen %.1f %s",
            f->t, info[i].id, vg_abandon_state_name(info[i].state), info[i].box[0], info[i].box[1],
            info[i].box[2], info[i].box[3], info[i].person_looks, info[i].looks, info[i].contrast,
            info[i].contrast_bg, info[i].edge_new, info[i].edge_old, (long long)info[i].owner,
            info[i].owner_distance, info[i].size, info[i].attended, info[i].last_seen,
            info[i].reason ? info[i].reason : "-");
    vg_debug_picture("abandoned", f->index, &img);
    vg_free(px);
}

static int ab_process(vg_stage_t *st, vg_analysis_t *a)
{
    abandoned_stage_t *s = st->priv;
    const vg_abandon_params_t *p = st->params;
    const vg_image_t *mask = a->slot[VG_SLOT_FOREGROUND];
    const vg_detections_t *det = a->slot[VG_SLOT_DETECTIONS];
    const vg_frame_t *f = a->frame;
    int ret;
    if (!mask) return 0;
    s->bgs = a->slot[VG_SLOT_BGS];
    if (!det) {
        if (!s->warned)
            vg_log("abandoned", VG_LOG_WARNING,
                   "camera %s: abandoned objects need the detect stage (to tell people from "
                   "objects): none will be raised",
                   a->camera);
        s->warned = 1;
        return 0;
    }
    if (!s->ab) {
        char err[512] = "";
        vg_abandon_params_t pp = *p;
        pp.shadow_min = s->shadow_min, pp.shadow_max = s->shadow_max;
        ret = vg_abandon_new(&s->ab, a->scene, &pp, f->image.w, f->image.h, f->in_w, f->in_h, err,
                             sizeof(err));
        if (ret < 0) {
            vg_log("abandoned", VG_LOG_ERROR, "%s", err);
            return ret == VG_EINVAL ? VG_ESYNTAX : ret;
        }
        s->last_results = -1;
        s->seen_results = -1;
        s->due = -INFINITY;
    }
    s->last_frame = f->index;
    s->last_t = f->t;
    /* abandoned_object.rate: a frame between two analysed is skipped, unless it brings a look
     * (the persons on the objects are taken from every look, as at the full rate) */
    if (p->rate > 0) {
        int new_look = det->frame_index >= 0 && det->results != s->seen_results;
        if (!new_look && f->t < s->due - 1e-3) return 0;
        s->due = f->t + 1 / p->rate;
        s->seen_results = det->results;
    }
    int np = 0;
    if (det->n > s->cap) {
        vg_abandon_person_t *n = vg_realloc(s->persons, (size_t)det->n * sizeof(*n));
        if (!n) return VG_ENOMEM;
        s->persons = n, s->cap = det->n;
    }
    /* persons first, then luggage (backpack, handbag, suitcase) from the end of the array */
    int nl = 0;
    for (int i = 0; i < det->n; i++) {
        const vg_detection_t *d = &det->det[i];
        int lug = d->cls == 24 || d->cls == 26 || d->cls == 28;
        /* looks asked for postures (detect.reshape) are left out: they come often around
         * people changing shape — the owner setting the bag down, someone passing — and would
         * weigh as much as the regular looks in the evidence gathered over time */
        if ((d->cls != 0 && !lug) || d->reshape) continue;
        vg_abandon_person_t *o = lug ? &s->persons[det->n - 1 - nl++] : &s->persons[np++];
        o->box[0] = d->x, o->box[1] = d->y, o->box[2] = d->w, o->box[3] = d->h;
        o->score = d->score;
        o->t = d->t;
        o->cls = d->cls;
    }
    vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
    vg_abandon_input_t in = {
        .gray = &f->image,
        .mask = mask,
        .frame = f->index,
        .t = f->t,
        .sx = (double)f->in_w / f->image.w,
        .sy = (double)f->in_h / f->image.h,
        .persons = s->persons,
        .npersons = np,
        .look_t = det->reshape ? s->look_t : det->t,
        .look = det->frame_index >= 0 && det->results != s->last_results && !det->reshape,
        .results_id = det->reshape ? s->last_results : det->results,
        .static_time = s->static_time,
        .luggage = nl ? &s->persons[det->n - nl] : NULL,
        .nluggage = nl,
    };
    if (tr) in.tracks = vg_tracker_tracks(tr, &in.ntracks);
    int any_static = 0; /* the long-term background is read only where static pixels are */
    for (int y = 0; y < mask->h && !any_static; y++)
        any_static = memchr(vg_image_row(mask, y), VG_MASK_STATIC, (size_t)mask->w) != NULL;
    if (s->bgs && any_static) {
        if (!s->lt_px) {
            s->lt_px = vg_malloc((size_t)f->image.w * f->image.h + 16);
            if (!s->lt_px) return VG_ENOMEM;
            s->lt = (vg_image_t){.w = f->image.w,
                                 .h = f->image.h,
                                 .stride = f->image.w,
                                 .fmt = VG_PIX_GRAY8,
                                 .data = s->lt_px};
        }
        if (vg_bgs_long_term(s->bgs, &s->lt) >= 0) in.background = &s->lt;
    }
    if (det->frame_index >= 0 && !det->reshape) {
        memcpy(s->look_region, det->region, sizeof(s->look_region));
        s->look_t = det->t;
        s->last_results = det->results;
    }
    for (int k = 0; k < 4; k++) in.look_region[k] = s->look_region[k];
    ret = vg_abandon_update(s->ab, &in, emit, a);
    if (ret >= 0 && vg_debug_want("abandoned", f->index)) debug_picture(s, &in, f);
    return ret;
}

static int ab_flush(vg_stage_t *st, vg_analysis_t *a)
{
    abandoned_stage_t *s = st->priv;
    if (!s->ab) return 0;
    return vg_abandon_flush(s->ab, s->last_frame, s->last_t, emit, a);
}

static void ab_close(vg_stage_t *st)
{
    abandoned_stage_t *s = st->priv;
    vg_abandon_free(&s->ab);
    vg_free(s->persons);
    vg_free(s->lt_px);
}

/* New abandoned_object.* values while running: candidates keep their state. */
static int ab_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    abandoned_stage_t *s = st->priv;
    vg_abandon_params_t p; /* numbers only: nothing to free */
    int ret;
    if ((ret = vg_opt_defaults(&p, vg__abandon_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_abandon_option_group, &p, err, errlen)) < 0)
        return ret;
    if (s->ab) {
        vg_abandon_params_t pp = p;
        pp.shadow_min = s->shadow_min, pp.shadow_max = s->shadow_max;
        if ((ret = vg_abandon_set_params(s->ab, &pp, err, errlen)) < 0) return ret;
    }
    *(vg_abandon_params_t *)st->params = p;
    return 0;
}

static const char *const ab_live[] = {"abandoned_object", NULL};

static const vg_option_group_t *const ab_reads[] = {&vg_bgs_option_group, NULL};

const vg_stage_class_t vg__abandoned_stage = {
    .name = "abandoned_object",
    .help = "abandoned objects: static, not a person, left by their owner",
    .options = vg__abandon_options,
    .params_size = sizeof(vg_abandon_params_t),
    .priv_size = sizeof(abandoned_stage_t),
    .process = ab_process,
    .flush = ab_flush,
    .close = ab_close,
    .configure = ab_configure,
    .live_groups = ab_live,
    .update = ab_update,
    .reads = ab_reads,
    .needs = VG_SLOT_BIT(VG_SLOT_FOREGROUND) | VG_SLOT_BIT(VG_SLOT_BGS) |
             VG_SLOT_BIT(VG_SLOT_DETECTIONS),
    .uses = VG_SLOT_BIT(VG_SLOT_TRACKS),
};
