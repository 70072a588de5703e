/* Internals the track module's files share. */
#ifndef VG_TRACK_PRIV_H
#define VG_TRACK_PRIV_H

#include <vigie/opt.h>

/* The "tracker" option group's table (tracker.c), also the tracker stage's. */
extern const vg_option_t vg__tracker_options[];

#endif
