/* The built-in analysis stages, defined in their modules and listed by the pipeline. */
#ifndef VG_CORE_STAGES_H
#define VG_CORE_STAGES_H

#include <vigie/stage.h>

extern const vg_option_t vg__bgs_options[];
extern const vg_option_t vg__tracker_options[];
extern const vg_option_t vg__detect_options[];
extern const vg_option_t vg__abandon_options[];
extern const vg_option_t vg__crowd_options[];

extern const vg_stage_class_t vg__motion_stage;
extern const vg_stage_class_t vg__tracker_stage;
extern const vg_stage_class_t vg__detect_stage;
extern const vg_stage_class_t vg__zones_stage;
extern const vg_stage_class_t vg__abandoned_stage;
extern const vg_stage_class_t vg__crowd_stage;
extern const vg_stage_class_t vg__density_stage;

#endif
