/*
 * A worked example of a new analyser (docs/architecture.md, "Adding an analyser"): "activity"
 * logs, every activity.every seconds of scene time, the share of the picture that moved. It is
 * not built into vigie; tests/layers/new_analyser.sh copies it to src/events/activity_stage.c,
 * adds its one line to src/pipeline/registry.c, builds, and checks that `vigie options`,
 * `vigie analyze -a` and the registry's ordering and needs all know it — nothing else changes.
 *
 * What an analyser declares: its option table (its group is its name), the slots it needs
 * (the motion stage's foreground mask here: without it, it is refused with a message), uses and
 * provides (the registry orders stages from these), and its callbacks.
 */
#include <stddef.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/stage.h>

typedef struct activity_params {
    double every; /* s */
} activity_params_t;

typedef struct activity {
    double next;
    int64_t moving, seen;
} activity_t;

static const vg_option_t activity_options[] = {
    {.name = "every",
     .type = VG_OPT_DOUBLE,
     .offset = offsetof(activity_params_t, every),
     .def.d = 1,
     .min = 0.1,
     .max = 3600,
     .unit = "s",
     .help = "how often to report the share of the picture that moved"},
    {.name = NULL},
};

static int activity_process(vg_stage_t *st, vg_analysis_t *a)
{
    activity_t *s = st->priv;
    const activity_params_t *p = st->params;
    const vg_image_t *mask = a->slot[VG_SLOT_FOREGROUND];
    for (int y = 0; y < mask->h; y++) {
        const uint8_t *row = vg_image_row(mask, y);
        for (int x = 0; x < mask->w; x++) s->moving += row[x] != 0;
    }
    s->seen += (int64_t)mask->w * mask->h;
    if (a->frame->t >= s->next) {
        vg_log("activity", VG_LOG_INFO, "camera %s: %.1f s: %.2f %% of the picture moved",
               a->camera, a->frame->t, s->seen ? 100.0 * s->moving / s->seen : 0);
        s->moving = s->seen = 0;
        s->next = a->frame->t + p->every;
    }
    return 0;
}

const vg_stage_class_t vg__activity_stage = {
    .name = "activity",
    .help = "example: the share of the picture that moved, logged every few seconds",
    .options = activity_options,
    .params_size = sizeof(activity_params_t),
    .priv_size = sizeof(activity_t),
    .process = activity_process,
    .needs = VG_SLOT_BIT(VG_SLOT_FOREGROUND),
};
