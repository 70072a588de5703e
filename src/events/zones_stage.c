/*
 * The "zones" stage: intrusion and wrong_way events over the tracker's tracks (VG_SLOT_TRACKS),
 * with the detect stage's labels when it runs (VG_SLOT_DETECTIONS), in the scene's zones and
 * lines (src/events/rules.c has the rules). Options: the "intrusion" and "wrong_way" groups.
 * It publishes the frame's intrusion score in VG_SLOT_SCORES for frame-level evaluation, averaged
 * over intrusion.score_smooth seconds (events do not use it: their rules have their own
 * hysteresis).
 * Without zones or lines in the scene it does nothing.
 */
#include <math.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/stage.h>
#include <vigie/log.h>
#include <vigie/rules.h>

typedef struct zones_stage {
    vg_intrusion_params_t ip;
    vg_wrong_way_params_t wp;
    int params_set;
    vg_zone_rules_t *rules;
    double scores[VG_EVENT_NB];
    int64_t last_frame;
    double last_t;
    double smooth; /* the frame score's running average */
    int has_score;
} zones_stage_t;

static int zones_configure(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    zones_stage_t *z = st->priv;
    int ret;
    if ((ret = vg_opt_defaults(&z->ip, vg_intrusion_option_group.options)) < 0 ||
        (ret = vg_opt_defaults(&z->wp, vg_wrong_way_option_group.options)) < 0)
        return ret;
    z->params_set = 1;
    if ((ret = vg_settings_apply(settings, &vg_intrusion_option_group, &z->ip, err, errlen)) < 0)
        return ret;
    return vg_settings_apply(settings, &vg_wrong_way_option_group, &z->wp, err, errlen);
}

static int zones_init(vg_stage_t *st, vg_analysis_t *a)
{
    zones_stage_t *z = st->priv;
    char err[512] = "";
    if (!a->scene->nb_zones && !a->scene->nb_lines) return 0;
    int ret = vg_zone_rules_new(&z->rules, a->scene, &z->ip, &z->wp, err, sizeof(err));
    if (ret < 0) {
        vg_log("zones", VG_LOG_ERROR, "%s", err);
        return ret == VG_EINVAL ? VG_ESYNTAX : ret;
    }
    return 0;
}

static int emit(void *opaque, vg_event_t *ev)
{
    return vg_stage_emit(opaque, ev);
}

static int zones_process(vg_stage_t *st, vg_analysis_t *a)
{
    zones_stage_t *z = st->priv;
    memset(z->scores, 0, sizeof(z->scores));
    a->slot[VG_SLOT_SCORES] = z->scores;
    if (!z->rules) return 0;
    vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
    int n = 0;
    const vg_track_t *t = tr ? vg_tracker_tracks(tr, &n) : NULL;
    const vg_frame_t *f = a->frame;
    double sx = (double)f->in_w / f->image.w, sy = (double)f->in_h / f->image.h;
    double score = 0;
    int ret = vg_zone_rules_update(z->rules, t, n, a->slot[VG_SLOT_DETECTIONS], sx, sy, f->index,
                                   f->t, emit, a, &score);
    /* the frame score, averaged over intrusion.score_smooth seconds of scene time */
    double tau = z->ip.score_smooth, dt = z->has_score ? f->t - z->last_t : 0;
    if (z->has_score && tau > 0 && dt >= 0)
        z->smooth += (1 - exp(-dt / tau)) * (score - z->smooth);
    else
        z->smooth = score;
    z->has_score = 1;
    z->scores[VG_EVENT_INTRUSION] = z->smooth;
    z->last_frame = f->index;
    z->last_t = f->t;
    return ret;
}

static int zones_flush(vg_stage_t *st, vg_analysis_t *a)
{
    zones_stage_t *z = st->priv;
    if (!z->rules) return 0;
    return vg_zone_rules_flush(z->rules, z->last_frame, z->last_t, emit, a);
}

static void zones_close(vg_stage_t *st)
{
    zones_stage_t *z = st->priv;
    vg_zone_rules_free(&z->rules);
    if (z->params_set) {
        vg_opt_free(&z->ip, vg_intrusion_option_group.options);
        vg_opt_free(&z->wp, vg_wrong_way_option_group.options);
    }
}

/* New intrusion.* and wrong_way.* values while running: the rules keep their tracks. */
static int zones_update(vg_stage_t *st, const vg_settings_t *settings, char *err, size_t errlen)
{
    zones_stage_t *z = st->priv;
    vg_intrusion_params_t ip; /* numbers only: nothing to free */
    vg_wrong_way_params_t wp;
    int ret;
    /* from the defaults: an option no longer set goes back to its default */
    if ((ret = vg_opt_defaults(&ip, vg_intrusion_option_group.options)) < 0 ||
        (ret = vg_opt_defaults(&wp, vg_wrong_way_option_group.options)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_intrusion_option_group, &ip, err, errlen)) < 0 ||
        (ret = vg_settings_apply(settings, &vg_wrong_way_option_group, &wp, err, errlen)) < 0)
        return ret;
    if (z->rules && (ret = vg_zone_rules_set_params(z->rules, &ip, &wp, err, errlen)) < 0)
        return ret;
    z->ip = ip;
    z->wp = wp;
    return 0;
}

static const char *const zones_live[] = {"intrusion", "wrong_way", NULL};

static const vg_option_group_t *const zones_reads[] = {&vg_intrusion_option_group,
                                                       &vg_wrong_way_option_group, NULL};

const vg_stage_class_t vg__zones_stage = {
    .name = "zones",
    .help = "intrusion (forbidden and pedestrian-only zones, lines) and wrong-way events",
    .priv_size = sizeof(zones_stage_t),
    .init = zones_init,
    .process = zones_process,
    .flush = zones_flush,
    .close = zones_close,
    .configure = zones_configure,
    .live_groups = zones_live,
    .update = zones_update,
    .reads = zones_reads,
    .needs = VG_SLOT_BIT(VG_SLOT_TRACKS),
    .uses = VG_SLOT_BIT(VG_SLOT_DETECTIONS),
    .provides = VG_SLOT_BIT(VG_SLOT_SCORES),
};
