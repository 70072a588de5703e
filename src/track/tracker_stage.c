/*
 * The "tracker" stage: follows the motion stage's objects (VG_SLOT_OBJECTS) and publishes the
 * tracker (VG_SLOT_TRACKS, a vg_tracker_t *, read with vg_tracker_tracks / vg_tracker_ended).
 * Without the motion stage before it, it has nothing to track and publishes an empty tracker.
 */
#include <vigie/error.h>
#include <vigie/stage.h>
#include <vigie/track.h>

#include "track_priv.h"

typedef struct tracker_stage {
    vg_tracker_t *tr;
} tracker_stage_t;

static int tracker_init(vg_stage_t *st, vg_analysis_t *a)
{
    tracker_stage_t *t = st->priv;
    (void)a;
    return vg_tracker_new(&t->tr, st->params);
}

static int tracker_process(vg_stage_t *st, vg_analysis_t *a)
{
    tracker_stage_t *t = st->priv;
    int ret = vg_tracker_update(t->tr, a->slot[VG_SLOT_OBJECTS], a->frame->t);
    if (ret < 0) return ret;
    a->slot[VG_SLOT_TRACKS] = t->tr;
    return 0;
}

static void tracker_close(vg_stage_t *st)
{
    tracker_stage_t *t = st->priv;
    vg_tracker_free(&t->tr);
}

const vg_stage_class_t vg__tracker_stage = {
    .name = "tracker",
    .help = "multi-object tracker (no appearance features; ids die with the track)",
    .options = vg__tracker_options,
    .params_size = sizeof(vg_tracker_params_t),
    .priv_size = sizeof(tracker_stage_t),
    .init = tracker_init,
    .process = tracker_process,
    .close = tracker_close,
    .needs = VG_SLOT_BIT(VG_SLOT_OBJECTS),
    .provides = VG_SLOT_BIT(VG_SLOT_TRACKS),
};
