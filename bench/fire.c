/*
 * bench/fire — what watching for fire costs over the motion stage alone (issue #20).
 *
 * Runs each input through two pipelines, in process, alternately, R times each:
 *   motion:       the motion stage alone (the named baseline: decoding, scaling to grey, the
 *                 background model);
 *   motion+fire:  the same with the fire stage, which also has the source deliver the chroma
 *                 planes (input.chroma) and reads colour only on candidates and followed regions.
 * Prints for each input the median CPU time per frame of the whole process (every thread:
 * decoding, scaling, analysis) and wall time per frame, the ratio of motion+fire to motion, the
 * fire stage's own CPU time per frame (its process callback timed on the analysis thread's
 * clock), and the fire events started. The default inputs: vtest.avi (walkers, no fire: the
 * stage's cost when there is little to look at) and house6 of the FURG fire set (flames in view
 * from the first frame), from $VG_SHARED/data or ../shared/data.
 *
 * usage: bench-fire [--runs R] [INPUT...]
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

static vg_stage_class_t timed_fire;
static const vg_stage_class_t *fire_class;
static double fire_cpu;
static int64_t frames_seen;

static int timed_process(vg_stage_t *st, vg_analysis_t *a)
{
    double t0 = clock_of(CLOCK_THREAD_CPUTIME_ID);
    int ret = fire_class->process(st, a);
    fire_cpu += clock_of(CLOCK_THREAD_CPUTIME_ID) - t0;
    return ret;
}

static int count_frames(vg_stage_t *st, vg_analysis_t *a)
{
    (void)st, (void)a;
    frames_seen++;
    return 0;
}

static const vg_stage_class_t counter = {
    .name = "bench_frames", .help = "counts frames", .process = count_frames};

static int count_event(void *opaque, const vg_event_t *ev)
{
    if (ev->type == VG_EVENT_FIRE && ev->phase == VG_PHASE_START) (*(int *)opaque)++;
    return 0;
}

typedef struct result {
    double cpu, wall, fire_us;
    int64_t frames;
    int fires;
} result_t;

static int run(const char *input, int with_fire, result_t *r)
{
    char err[1024] = "";
    vg_pipeline_t *pipe = NULL;
    vg_source_t *src = NULL;
    vg_source_params_t sp;
    memset(&sp, 0, sizeof(sp));
    int ret, fires = 0;
    const vg_stage_class_t *extra[3] = {&counter, with_fire ? &timed_fire : NULL, NULL};
    vg_pipeline_spec_t spec = {.camera = "bench", .analysers = "motion", .extra = extra};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &spec, &sp, err, sizeof(err))) < 0) goto end;
    if ((ret = vg_source_open(&src, input, &sp, NULL)) < 0) goto end;
    vg_event_sink_t sink = {count_event, &fires};
    fire_cpu = 0, frames_seen = 0;
    double c0 = clock_of(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_of(CLOCK_MONOTONIC);
    ret = vg_pipeline_run(pipe, src, &sink, NULL, NULL);
    r->wall = clock_of(CLOCK_MONOTONIC) - t0;
    r->cpu = clock_of(CLOCK_PROCESS_CPUTIME_ID) - c0;
    r->frames = frames_seen;
    r->fire_us = frames_seen ? 1e6 * fire_cpu / frames_seen : 0;
    r->fires = fires;
end:
    if (ret < 0) fprintf(stderr, "bench-fire: %s: %s\n", input, err[0] ? err : vg_strerror(ret));
    vg_source_free(&src);
    vg_pipeline_free(&pipe);
    vg_opt_free(&sp, vg_source_option_group.options);
    return ret;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int runs = 3, nin = 0;
    const char *inputs[16];
    char house[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (argv[i][0] != '-' && nin < 16)
            inputs[nin++] = argv[i];
        else {
            fprintf(stderr, "usage: bench-fire [--runs R] [INPUT...]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 16) runs = 3;
    if (!nin) {
        const char *shared = getenv("VG_SHARED") ? getenv("VG_SHARED") : "../shared";
        snprintf(house, sizeof(house), "%s/data/furg-fire/house6.mp4", shared);
        inputs[nin++] = VTEST;
        inputs[nin++] = house;
    }
    fire_class = vg_stage_class_find("fire");
    if (!fire_class) return 1;
    timed_fire = *fire_class;
    timed_fire.process = timed_process;
    printf("%-44s %-12s %10s %10s %8s %12s %6s\n", "input", "pipeline", "cpu ms/fr", "wall ms/fr",
           "ratio", "fire us/fr", "fires");
    for (int i = 0; i < nin; i++) {
        double cpu[2][16], wall[2][16];
        result_t last[2];
        for (int k = 0; k < runs; k++)
            for (int m = 0; m < 2; m++) {
                fprintf(stderr, "bench-fire: %s, run %d of %d, %s\n", inputs[i], k + 1, runs,
                        m ? "motion+fire" : "motion");
                if (run(inputs[i], m, &last[m]) < 0) return 1;
                cpu[m][k] = last[m].cpu / (double)(last[m].frames ? last[m].frames : 1);
                wall[m][k] = last[m].wall / (double)(last[m].frames ? last[m].frames : 1);
            }
        double base = median(cpu[0], runs);
        for (int m = 0; m < 2; m++) {
            double c = median(cpu[m], runs), w = median(wall[m], runs);
            const char *name = strrchr(inputs[i], '/') ? strrchr(inputs[i], '/') + 1 : inputs[i];
            printf("%-44s %-12s %10.3f %10.3f %8.3f %12.1f %6d\n", name,
                   m ? "motion+fire" : "motion", 1e3 * c, 1e3 * w, c / base, last[m].fire_us,
                   last[m].fires);
        }
    }
    return 0;
}
