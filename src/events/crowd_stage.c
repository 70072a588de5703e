/*
 * The "crowd_movement" stage: the adapter between the pipeline and the crowd movement algorithm
 * (crowd.c): it hands each frame's foreground, detections and tracks to it, publishes the flow
 * (VG_SLOT_FLOW) on the frames it computed one, and takes live option changes.
 */
#include <vigie/crowd.h>
#include <vigie/error.h>
#include <vigie/stage.h>

#include "events_priv.h"

typedef struct crowd_stage {
    vg_crowd_t *c;
} crowd_stage_t;

static int emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

static int crowd_init(vg_stage_t *st, vg_analysis_t *a)
{
    crowd_stage_t *s = st->priv;
    return vg_crowd_new(&s->c, a->scene, a->camera, st->params);
}

static int crowd_process(vg_stage_t *st, vg_analysis_t *a)
{
    crowd_stage_t *s = st->priv;
    vg_crowd_input_t in = {a->frame, a->slot[VG_SLOT_FOREGROUND], a->slot[VG_SLOT_DETECTIONS],
                           a->slot[VG_SLOT_TRACKS], a->pool};
    int ret = vg_crowd_update(s->c, &in, emit, a);
    if (ret > 0) a->slot[VG_SLOT_FLOW] = (void *)vg_crowd_flow(s->c);
    return ret < 0 ? ret : 0;
}

static int crowd_flush(vg_stage_t *st, vg_analysis_t *a)
{
    crowd_stage_t *s = st->priv;
    return vg_crowd_flush(s->c, emit, a);
}

static void crowd_close(vg_stage_t *st)
{
    crowd_stage_t *s = st->priv;
    vg_crowd_free(&s->c);
}

static const char *const crowd_live[] = {"crowd_movement", NULL};

static int crowd_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    crowd_stage_t *s = st->priv;
    vg_crowd_params_t p;
    int ret;
    if ((ret = vg_opt_defaults(&p, vg__crowd_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_crowd_option_group, &p, err, errlen)) < 0)
        return ret;
    *(vg_crowd_params_t *)st->params = p;
    if (s->c) vg_crowd_set_params(s->c, &p);
    return 0;
}

const vg_stage_class_t vg__crowd_stage = {
    .name = "crowd_movement",
    .help = "crowd movement: people breaking into a run, a dispersal, a convergence",
    .options = vg__crowd_options,
    .params_size = sizeof(vg_crowd_params_t),
    .priv_size = sizeof(crowd_stage_t),
    .init = crowd_init,
    .process = crowd_process,
    .flush = crowd_flush,
    .close = crowd_close,
    .live_groups = crowd_live,
    .update = crowd_update,
    .needs = VG_SLOT_BIT(VG_SLOT_FOREGROUND),
    .uses = VG_SLOT_BIT(VG_SLOT_DETECTIONS) | VG_SLOT_BIT(VG_SLOT_TRACKS),
    .provides = VG_SLOT_BIT(VG_SLOT_FLOW),
};
