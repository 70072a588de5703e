/* Internals the events module's files share. */
#ifndef VG_EVENTS_PRIV_H
#define VG_EVENTS_PRIV_H

#include <vigie/opt.h>

/* The "abandoned_object" option group's table (abandoned.c), also its stage's. */
extern const vg_option_t vg__abandon_options[];
/* The "crowd_movement" option group's table (crowd.c), also its stage's. */
extern const vg_option_t vg__crowd_options[];
/* The "density" option group's table (density.c), also its stage's. */
extern const vg_option_t vg__density_options[];
extern const vg_option_t vg__fall_options[];
extern const vg_option_t vg__fire_options[];
/* The "camera_health" option group (camera_health.c), read again on live changes. */
extern const vg_option_group_t vg__camera_health_group;

#endif
