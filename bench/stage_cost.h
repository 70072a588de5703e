/*
 * bench/stage_cost — what one analyser costs against the pipeline without it, shared by the
 * benches of the event stages that ride on the detector (bench-fall, bench-weapon).
 *
 * Runs an input (vtest.avi by default) through the analysis, in process, with detect.wait on
 * (every detector request served before the next frame, so runs are the same), once per mode,
 * alternately, R times each. A mode names its settings and whether the stage under test runs
 * (wrapped: its process callback timed on the analysis thread's CPU clock). Prints per mode the
 * median wall time per frame and its ratio to the first mode (the named baseline), the stage's
 * own CPU time per frame, the inference thread's requests and pose runs per second of video, and
 * the stage's events started.
 */
#ifndef VIGIE_BENCH_STAGE_COST_H
#define VIGIE_BENCH_STAGE_COST_H

typedef struct bench_mode {
    const char *name;        /**< printed */
    const char *const *sets; /**< KEY=VALUE settings, NULL-terminated (may be NULL) */
    int with_stage;          /**< the stage under test runs, timed */
} bench_mode_t;

typedef struct bench_spec {
    const char *prog;      /**< "bench-fall": messages and usage */
    const char *stage;     /**< the stage class under test, "fall" */
    int event_type;        /**< its events counted (VG_EVENT_*) */
    const char *analysers; /**< the pipeline without it, "motion,tracker,detect" */
    const bench_mode_t *modes;
    int nmodes; /**< at most 8 */
} bench_spec_t;

/** The whole program: parses [--runs R] [--models DIR] [INPUT], runs, prints; exit status. */
int bench_stage_cost_main(const bench_spec_t *spec, int argc, char **argv);

#endif
