/*
 * bench/weapon — what watching for weapons costs (issue #23).
 *
 * Runs vtest.avi (opencv-doc: a dozen walkers, no weapon) through the analysis, in process, with
 * detect.wait on (every detector request served before the next frame, so runs are the same),
 * three ways, alternately, R times each (bench/stage_cost.c):
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
#include <stddef.h>

#include <vigie/vigie.h>

#include "stage_cost.h"

int main(int argc, char **argv)
{
    static const char *const handbag[] = {"weapon.classes=handbag", NULL};
    static const bench_mode_t modes[] = {
        {"base (motion, tracker, detect)", NULL, 0},
        {"+ weapon (knife, baseball bat)", NULL, 1},
        {"+ weapon (handbag: candidates)", handbag, 1},
    };
    static const bench_spec_t spec = {"bench-weapon",          "weapon", VG_EVENT_WEAPON,
                                      "motion,tracker,detect", modes,    3};
    return bench_stage_cost_main(&spec, argc, argv);
}
