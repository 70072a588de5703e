/*
 * Internals of the zone events (zone_rules.c, intrusion.c, wrong_way.c, line_crossing.c): the
 * per-track state every zone event keeps, the zone rules object, and each event type's step.
 */
#ifndef VG_ZONE_RULES_PRIV_H
#define VG_ZONE_RULES_PRIV_H

#include <vigie/rules.h>

enum { MAX_ZONES = 64, MAX_LINES = 64 };

/* The track's path kept for the evidence: a foot point every PATH_STEP s, the last PATH_N. */
enum { PATH_N = 16 };
#define PATH_STEP 0.25

typedef struct track_state {
    int64_t id;
    int64_t seen_frame; /* last frame it was in the tracker's list */
    vg_rule_t intr[MAX_ZONES];
    vg_rule_t ww[MAX_ZONES];
    int ww_done[MAX_ZONES];
    double against[MAX_ZONES]; /* distance travelled against each zone's direction */
    vg_rule_t line[MAX_LINES];
    int side[MAX_LINES]; /* -1 left, 1 right, 0 unknown */
    double px, py;       /* last foot point (input pixels) */
    double gx, gy;       /* and on the ground (when calibrated) */
    double t;            /* time of the last frame it was seen */
    int has_prev;
    float path[PATH_N][2]; /* foot points (input pixels), a ring: the oldest at path_head */
    int npath, path_head;
    double path_t; /* time of the newest */
} track_state_t;

#define MAX_VEH 64

struct vg_zone_rules {
    const vg_scene_t *scene;
    vg_intrusion_params_t ip;
    vg_wrong_way_params_t wp;
    vg_calib_t calib;
    int nz, nl;
    /* per zone: the camera's values with the zone's own settings over them */
    vg_intrusion_params_t zip[MAX_ZONES];
    vg_wrong_way_params_t zwp[MAX_ZONES];
    track_state_t *ts;
    int nts, capts;
    /* vehicle detections of the previous detector result and of the current one (analysis
     * pixels), to weigh a detection seen only once */
    float prev[MAX_VEH][4], cur[MAX_VEH][4];
    int nprev, ncur;
    int64_t cur_frame;
};

/* How a track moves this frame, as every zone event sees it. */
typedef struct track_motion {
    const vg_track_t *tk;
    double box[4];              /* input pixels */
    double fx, fy;              /* foot point, input pixels */
    double vx, vy;              /* input px/s */
    double gx, gy;              /* foot point on the ground (calibrated), else fx, fy */
    double speed;               /* m/s calibrated, else body heights/s */
    int lost;                   /* the tracker lost it this frame */
    const vg_track_label_t *lb; /* the detect stage's label, or NULL */
} track_motion_t;

/* What a start or end record says beyond its rule. */
typedef struct zone_hit {
    vg_event_type_t type;
    const char *name;   /* zone or line */
    const char *kind;   /* start only: zone kind or "line" (NULL: none) */
    const char *reason; /* start only (NULL: none) */
    int cls;            /* the track's class (-1: unknown) */
    double class_score, speed;
    double distance; /* against the direction (wrong way); < 0: none */
} zone_hit_t;

/* A start or end record of rule @r for track @ts (zone_rules.c). */
int vg__zone_send(vg_zone_rules_t *z, vg_emit_fn emit, void *opaque, vg_rule_t *r,
                  vg_rule_action_t act, const zone_hit_t *h, const track_state_t *ts, int64_t frame,
                  double t);
/* An end record for a rule that ends because its track is gone or the input ends. */
int vg__zone_send_end(vg_zone_rules_t *z, vg_emit_fn emit, void *opaque, vg_event_type_t type,
                      vg_rule_t *r, vg_rule_action_t act, const char *name, const track_state_t *ts,
                      int64_t frame, double t);

/* intrusion.c: the track in zone @k this frame. *@cls and *@class_score come in as the label's
 * and leave as this zone judged them (class_looks, class_fade); *@frame_score is raised to the
 * zone's intrusion score. */
int vg__intrusion_zone_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                            int64_t frame, double t, int *cls, double *class_score,
                            double *frame_score, vg_emit_fn emit, void *opaque);
/* intrusion.c: the detector's own vehicle boxes in pedestrian_only zones raise *@frame_score. */
void vg__intrusion_frame_score(vg_zone_rules_t *z, const vg_detections_t *det, double sx, double sy,
                               double *frame_score);
/* wrong_way.c: the track in zone @k (a zone with a direction) this frame. */
int vg__wrong_way_zone_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                            int64_t frame, double t, int cls, double class_score, vg_emit_fn emit,
                            void *opaque);
/* line_crossing.c: the track against line @k this frame. */
int vg__line_step(vg_zone_rules_t *z, track_state_t *ts, int k, const track_motion_t *m,
                  int64_t frame, double t, int cls, double class_score, vg_emit_fn emit,
                  void *opaque);

#endif
