/* Internals the vision module's files share. */
#ifndef VG_VISION_PRIV_H
#define VG_VISION_PRIV_H

#include <vigie/opt.h>

/* The "motion" option group's table (bgs.c), also the motion stage's. */
extern const vg_option_t vg__bgs_options[];

#endif
