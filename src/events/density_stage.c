/*
 * The "density" stage: the adapter between the pipeline and the density algorithm (density.c):
 * it hands each frame's foreground, background model, detections and tracks to it, its events to
 * the pipeline's event sink and its count samples to the count sink, and takes live option
 * changes (a zone's own values included).
 */
#include <vigie/density.h>
#include <vigie/error.h>
#include <vigie/stage.h>

#include "events_priv.h"

typedef struct density_stage {
    vg_density_t *d;
} density_stage_t;

static int emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

static int count(void *opaque, vg_count_t *c)
{
    return vg_stage_emit_count(opaque, c);
}

static int density_init(vg_stage_t *st, vg_analysis_t *a)
{
    density_stage_t *s = st->priv;
    return vg_density_new(&s->d, a->scene, a->camera, st->params);
}

static int density_process(vg_stage_t *st, vg_analysis_t *a)
{
    density_stage_t *s = st->priv;
    vg_density_input_t in = {a->frame, a->slot[VG_SLOT_FOREGROUND], a->slot[VG_SLOT_BGS],
                             a->slot[VG_SLOT_DETECTIONS], a->slot[VG_SLOT_TRACKS]};
    return vg_density_update(s->d, &in, emit, count, a);
}

static int density_flush(vg_stage_t *st, vg_analysis_t *a)
{
    density_stage_t *s = st->priv;
    return vg_density_flush(s->d, emit, a);
}

static void density_close(vg_stage_t *st)
{
    density_stage_t *s = st->priv;
    vg_density_free(&s->d);
}

static const char *const density_live[] = {"density", NULL};

static int density_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    density_stage_t *s = st->priv;
    vg_density_params_t p;
    int ret;
    if ((ret = vg_opt_defaults(&p, vg__density_options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_density_option_group, &p, err, errlen)) < 0)
        return ret;
    if (s->d && (ret = vg_density_set_params(s->d, &p, err, errlen)) < 0) return ret;
    *(vg_density_params_t *)st->params = p;
    return 0;
}

const vg_stage_class_t vg__density_stage = {
    .name = "density",
    .help = "people per zone and per m²: the density event above a zone's threshold, count series",
    .options = vg__density_options,
    .params_size = sizeof(vg_density_params_t),
    .priv_size = sizeof(density_stage_t),
    .init = density_init,
    .process = density_process,
    .flush = density_flush,
    .close = density_close,
    .live_groups = density_live,
    .update = density_update,
    .needs = VG_SLOT_BIT(VG_SLOT_FOREGROUND),
    .uses =
        VG_SLOT_BIT(VG_SLOT_BGS) | VG_SLOT_BIT(VG_SLOT_DETECTIONS) | VG_SLOT_BIT(VG_SLOT_TRACKS),
};
