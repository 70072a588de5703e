/*
 * bench/weapon — what watching for weapons costs (issue #23).
 *
 * Runs vtest.avi (opencv-doc: a dozen walkers, no weapon) through the analysis, in process, with
 * detect.wait on (every detector request served before the next frame, so runs are the same),
 * three ways, alternately, R times each:
 *   base:    motion, tracker, detect — the pipeline without the weapon stage (the named
 *            baseline);
 *   weapon:  the same with the weapon stage at its defaults (knife, baseball bat): what it costs
 *            on a view where the detector sees almost none;
 *   handbag: the weapon stage with weapon.classes=handbag, a class the detector sees in many
 *            hands there: what its close looks (a detector run and a pose per look) cost when
 *            there are candidates to check.
 * Prints for each the median wall time per frame and its ratio to base, the weapon stage's own
 * CPU time per frame (a wrapper around its process callback, thread CPU clock), the detector's
 * requests and the pose model runs per second of video, and the weapon events.
 *
 * usage: bench-weapon [--runs R] [--models DIR] [INPUT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/vigie.h>

#define VTEST "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

static double clock_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the weapon stage, timed */
static vg_stage_class_t timed_weapon;
static const vg_stage_class_t *weapon_class;
static double weapon_cpu;
static int64_t weapon_frames;
static double last_t; /* scene time of the last frame */

static int timed_process(vg_stage_t *st, vg_analysis_t *a)
{
    double t0 = clock_of(CLOCK_THREAD_CPUTIME_ID);
    int ret = weapon_class->process(st, a);
    weapon_cpu += clock_of(CLOCK_THREAD_CPUTIME_ID) - t0;
    weapon_frames++;
    last_t = a->frame->t;
    return ret;
}

typedef struct counts {
    int weapons;
} counts_t;

static int count_event(void *opaque, const vg_event_t *ev)
{
    counts_t *c = opaque;
    if (ev->type == VG_EVENT_WEAPON && ev->phase == VG_PHASE_START) c->weapons++;
    return 0;
}

typedef struct result {
    double wall, frames, video_s, weapon_us;
    int64_t regions, poses;
    int weapons;
} result_t;

static int run(const char *input, const char *models, int mode, vg_infer_t *svc, result_t *r)
{
    char err[1024] = "";
    vg_settings_t *set = NULL;
    vg_pipeline_t *pipe = NULL;
    vg_source_t *src = NULL;
    vg_source_params_t sp;
    memset(&sp, 0, sizeof(sp));
    int ret;
    if ((ret = vg_settings_new(&set)) < 0) return ret;
    vg_settings_add(set, "detect.wait", "yes", "bench");
    vg_settings_add(set, "detector.models_dir", models, "bench");
    if (mode == 2) vg_settings_add(set, "weapon.classes", "handbag", "bench");
    const vg_stage_class_t *extra[2] = {&timed_weapon, NULL};
    vg_pipeline_spec_t spec = {.camera = "bench",
                               .settings = set,
                               .analysers = "motion,tracker,detect",
                               .extra = mode ? extra : NULL};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &spec, &sp, err, sizeof(err))) < 0) goto end;
    if ((ret = vg_source_open(&src, input, &sp, NULL)) < 0) goto end;
    counts_t c = {0};
    vg_event_sink_t sink = {count_event, &c};
    vg_infer_stats_t s0, s1;
    vg_infer_get_stats(svc, &s0);
    weapon_cpu = 0, weapon_frames = 0;
    double t0 = clock_of(CLOCK_MONOTONIC);
    ret = vg_pipeline_run(pipe, src, &sink, NULL, NULL);
    r->wall = clock_of(CLOCK_MONOTONIC) - t0;
    vg_infer_get_stats(svc, &s1);
    r->frames = (double)weapon_frames;
    r->weapon_us = weapon_frames ? 1e6 * weapon_cpu / weapon_frames : 0;
    r->poses = s1.poses - s0.poses;
    r->regions = s1.requests - s0.requests;
    r->weapons = c.weapons;
end:
    if (ret < 0) fprintf(stderr, "bench-weapon: %s\n", err[0] ? err : vg_strerror(ret));
    vg_source_free(&src);
    vg_pipeline_free(&pipe);
    vg_opt_free(&sp, vg_source_option_group.options);
    vg_settings_free(&set);
    return ret;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 1;
    const char *models = getenv("VG_MODELS") ? getenv("VG_MODELS") : "models", *input = VTEST;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            models = argv[++i];
        else if (argv[i][0] != '-')
            input = argv[i];
        else {
            fprintf(stderr, "usage: bench-weapon [--runs R] [--models DIR] [INPUT]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 16) runs = 1;
    weapon_class = vg_stage_class_find("weapon");
    if (!weapon_class) return 1;
    timed_weapon = *weapon_class;
    timed_weapon.process = timed_process;
    /* hold the inference service (the pipelines share it) to read its counters */
    vg_detector_params_t dp;
    memset(&dp, 0, sizeof(dp));
    char err[1024];
    vg_opt_defaults(&dp, vg_detector_option_group.options);
    vg_opt_set(&dp, vg_detector_option_group.options, "models_dir", models, err, sizeof(err));
    vg_infer_t *svc = NULL;
    if (vg_infer_acquire(&svc, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-weapon: %s (run scripts/setup first)\n", err);
        return 1;
    }
    static const char *const names[3] = {"base (motion, tracker, detect)",
                                         "+ weapon (knife, baseball bat)",
                                         "+ weapon (handbag: candidates)"};
    double wall[3][16];
    result_t last[3];
    for (int k = 0; k < runs; k++)
        for (int m = 0; m < 3; m++) {
            fprintf(stderr, "bench-weapon: run %d of %d, %s\n", k + 1, runs, names[m]);
            if (run(input, models, m, svc, &last[m]) < 0) return 1;
            wall[m][k] = last[m].wall;
        }
    double frames = last[1].frames, video_s = last_t;
    printf("input %s: %.0f frames analysed, %.1f s of video, median of %d run(s)\n", input, frames,
           video_s, runs);
    printf("%-42s %10s %8s %12s %12s %10s %7s\n", "pipeline", "ms/frame", "ratio", "weapon us/fr",
           "looks/s", "poses/s", "events");
    double base = 0;
    for (int m = 0; m < 3; m++) {
        qsort(wall[m], (size_t)runs, sizeof(double), cmp);
        double med = runs % 2 ? wall[m][runs / 2] : (wall[m][runs / 2 - 1] + wall[m][runs / 2]) / 2;
        double ms = frames > 0 ? 1e3 * med / frames : 0;
        if (m == 0) base = ms;
        printf("%-42s %10.2f %8.2f %12.1f %12.2f %10.2f %7d\n", names[m], ms, ms / base,
               last[m].weapon_us, video_s > 0 ? last[m].regions / video_s : 0,
               video_s > 0 ? last[m].poses / video_s : 0, last[m].weapons);
    }
    vg_infer_release(&svc);
    vg_opt_free(&dp, vg_detector_option_group.options);
    return 0;
}
