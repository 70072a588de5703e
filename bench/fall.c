/*
 * bench/fall — what watching for falls costs on a busy view with no fall (issue #21).
 *
 * Runs vtest.avi (opencv-doc: a dozen walkers, nobody falls) through the analysis, in process,
 * with detect.wait on (every detector request served before the next frame, so runs are the
 * same), three ways, alternately, R times each (bench/stage_cost.c):
 *   base:   motion, tracker, detect with detect.reshape=0 — the pipeline without the falls
 *           stage and without the looks it relies on (the named baseline);
 *   reshape: the same with detect.reshape at its default and the fall stage, poses off
 *           (detect.pose=0): the cost of the early looks at tracks that change shape;
 *   falls:  every default: early looks, poses on them, the fall stage.
 * Prints for each the median wall time per frame and its ratio to base, the fall stage's own
 * CPU time per frame (a wrapper around its process callback, thread CPU clock), the detector's
 * requests (whole frames and regions) and the pose model runs per second of video, and the fall
 * events (0 expected).
 *
 * usage: bench-fall [--runs R] [--models DIR] [INPUT]
 */
#include <stddef.h>

#include <vigie/vigie.h>

#include "stage_cost.h"

int main(int argc, char **argv)
{
    static const char *const base[] = {"detect.reshape=0", NULL};
    static const char *const no_pose[] = {"detect.pose=no", NULL};
    static const bench_mode_t modes[] = {
        {"base (no reshape looks, no fall stage)", base, 0},
        {"reshape looks + fall stage, no poses", no_pose, 1},
        {"falls at the defaults (+ poses)", NULL, 1},
    };
    static const bench_spec_t spec = {"bench-fall", "fall", VG_EVENT_FALL, "motion,tracker,detect",
                                      modes,        3};
    return bench_stage_cost_main(&spec, argc, argv);
}
