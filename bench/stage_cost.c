/* What one analyser costs against the pipeline without it (bench/stage_cost.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/vigie.h>

#include "stage_cost.h"

#define VTEST "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

static double clock_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the stage under test, timed */
static vg_stage_class_t timed;
static const vg_stage_class_t *tested;
static double stage_cpu;
static int64_t stage_frames;
static double last_t; /* scene time of the last frame */
static int event_type;

static int timed_process(vg_stage_t *st, vg_analysis_t *a)
{
    double t0 = clock_of(CLOCK_THREAD_CPUTIME_ID);
    int ret = tested->process(st, a);
    stage_cpu += clock_of(CLOCK_THREAD_CPUTIME_ID) - t0;
    stage_frames++;
    last_t = a->frame->t;
    return ret;
}

static int count_event(void *opaque, const vg_event_t *ev)
{
    if ((int)ev->type == event_type && ev->phase == VG_PHASE_START) (*(int *)opaque)++;
    return 0;
}

typedef struct result {
    double wall, frames, stage_us;
    int64_t requests, poses;
    int events;
} result_t;

static int run(const bench_spec_t *spec, const char *input, const char *models,
               const bench_mode_t *mode, vg_infer_t *svc, result_t *r)
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
    for (int i = 0; mode->sets && mode->sets[i]; i++)
        if ((ret = vg_settings_add_arg(set, mode->sets[i], err, sizeof(err))) < 0) goto end;
    const vg_stage_class_t *extra[2] = {&timed, NULL};
    vg_pipeline_spec_t ps = {.camera = "bench",
                             .settings = set,
                             .analysers = spec->analysers,
                             .extra = mode->with_stage ? extra : NULL};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &ps, &sp, err, sizeof(err))) < 0) goto end;
    if ((ret = vg_source_open(&src, input, &sp, NULL)) < 0) goto end;
    int events = 0;
    vg_event_sink_t sink = {count_event, &events};
    vg_infer_stats_t s0, s1;
    vg_infer_get_stats(svc, &s0);
    stage_cpu = 0, stage_frames = 0;
    double t0 = clock_of(CLOCK_MONOTONIC);
    ret = vg_pipeline_run(pipe, src, &sink, NULL, NULL);
    r->wall = clock_of(CLOCK_MONOTONIC) - t0;
    vg_infer_get_stats(svc, &s1);
    r->frames = (double)stage_frames;
    r->stage_us = stage_frames ? 1e6 * stage_cpu / stage_frames : 0;
    r->poses = s1.poses - s0.poses;
    r->requests = s1.requests - s0.requests;
    r->events = events;
end:
    if (ret < 0) fprintf(stderr, "%s: %s\n", spec->prog, err[0] ? err : vg_strerror(ret));
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

int bench_stage_cost_main(const bench_spec_t *spec, int argc, char **argv)
{
    int runs = 1, n = spec->nmodes;
    const char *models = getenv("VG_MODELS") ? getenv("VG_MODELS") : "models", *input = VTEST;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            models = argv[++i];
        else if (argv[i][0] != '-')
            input = argv[i];
        else {
            fprintf(stderr, "usage: %s [--runs R] [--models DIR] [INPUT]\n", spec->prog);
            return 2;
        }
    }
    if (runs < 1 || runs > 16) runs = 1;
    if (n < 1 || n > 8) return 2;
    event_type = spec->event_type;
    tested = vg_stage_class_find(spec->stage);
    if (!tested) return 1;
    timed = *tested;
    timed.process = timed_process;
    /* hold the inference service (the pipelines share it) to read its counters */
    vg_detector_params_t dp;
    memset(&dp, 0, sizeof(dp));
    char err[1024];
    vg_opt_defaults(&dp, vg_detector_option_group.options);
    vg_opt_set(&dp, vg_detector_option_group.options, "models_dir", models, err, sizeof(err));
    vg_infer_t *svc = NULL;
    if (vg_infer_acquire(&svc, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s (run scripts/setup first)\n", spec->prog, err);
        return 1;
    }
    double wall[8][16];
    result_t last[8];
    for (int k = 0; k < runs; k++)
        for (int m = 0; m < n; m++) {
            fprintf(stderr, "%s: run %d of %d, %s\n", spec->prog, k + 1, runs, spec->modes[m].name);
            if (run(spec, input, models, &spec->modes[m], svc, &last[m]) < 0) return 1;
            wall[m][k] = last[m].wall;
        }
    double frames = 0, video_s = last_t;
    for (int m = 0; m < n; m++)
        if (last[m].frames > frames) frames = last[m].frames;
    printf("input %s: %.0f frames analysed, %.1f s of video, median of %d run(s)\n", input, frames,
           video_s, runs);
    char col[64];
    snprintf(col, sizeof(col), "%s us/fr", spec->stage);
    printf("%-42s %10s %8s %12s %12s %10s %7s\n", "pipeline", "ms/frame", "ratio", col, "looks/s",
           "poses/s", "events");
    double base = 0;
    for (int m = 0; m < n; m++) {
        qsort(wall[m], (size_t)runs, sizeof(double), cmp);
        double med = runs % 2 ? wall[m][runs / 2] : (wall[m][runs / 2 - 1] + wall[m][runs / 2]) / 2;
        double ms = frames > 0 ? 1e3 * med / frames : 0;
        if (m == 0) base = ms;
        printf("%-42s %10.2f %8.2f %12.1f %12.2f %10.2f %7d\n", spec->modes[m].name, ms,
               base > 0 ? ms / base : 0, last[m].stage_us,
               video_s > 0 ? last[m].requests / video_s : 0,
               video_s > 0 ? last[m].poses / video_s : 0, last[m].events);
    }
    vg_infer_release(&svc);
    vg_opt_free(&dp, vg_detector_option_group.options);
    return 0;
}
