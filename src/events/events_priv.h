/* Internals the events module's files share. */
#ifndef VG_EVENTS_PRIV_H
#define VG_EVENTS_PRIV_H

#include <vigie/fire.h>
#include <vigie/opt.h>

/* The "abandoned_object" option group's table (abandoned.c), also its stage's. */
extern const vg_option_t vg__abandon_options[];
/* The "crowd_movement" option group's table (crowd.c), also its stage's. */
extern const vg_option_t vg__crowd_options[];
/* The "density" option group's table (density.c), also its stage's. */
extern const vg_option_t vg__density_options[];
extern const vg_option_t vg__fall_options[];
extern const vg_option_t vg__fire_options[];
/* Mark in @out (cw*ch) the cells of @sx x @sy input pixels whose centre lies under one of @sc's
 * ignore masks or fixtures (fire.c; fire and smoke). */
void vg__cells_ignored(const vg_scene_t *sc, uint8_t *out, int cw, int ch, double sx, double sy);
/* Smoke (smoke.c), run by the fire detector (fire.c) beside the flames on the same input. */
typedef struct vg_smoke vg_smoke_t;
int vg__smoke_new(vg_smoke_t **s, const vg_scene_t *scene);
int vg__smoke_update(vg_smoke_t *s, const vg_fire_params_t *p, const vg_fire_input_t *in,
                     vg_emit_fn emit, void *opaque);
int vg__smoke_flush(vg_smoke_t *s, int64_t frame, double t, vg_emit_fn emit, void *opaque);
void vg__smoke_free(vg_smoke_t **s);
/* The "camera_health" option group (camera_health.c), read again on live changes. */
extern const vg_option_group_t vg__camera_health_group;

#endif
