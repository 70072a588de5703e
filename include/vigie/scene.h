/*
 * vigie — the scene description.
 *
 * What an operator or integrator says about one camera's view, in a YAML file (docs/scene.md):
 * the camera's name, named zones (polygons in input pixels, each of a kind), lines with a
 * forbidden crossing direction, allowed directions of travel, privacy masks (blacked out before
 * any analysis) and ignore masks, fixtures (places marked "not an object"), ground-plane
 * calibration points, and settings for any option ("input.width: 640") or per event type
 * ("events: {abandoned_object: {unattended_time: 30}}"). Parsing is strict: an unknown key, a
 * wrong type or a value out of range is an error naming the file, the line and the key.
 *
 * A parsed scene is immutable and may be shared between threads.
 */
#ifndef VIGIE_SCENE_H
#define VIGIE_SCENE_H

/** The largest scene file or upload read, bytes (checked before parsing). */
#define VG_SCENE_MAX_BYTES (1u << 20)

#include <vigie/opt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_point {
    double x, y;
} vg_point_t;

typedef struct vg_polygon {
    int n;
    vg_point_t *pts;
} vg_polygon_t;

typedef enum vg_zone_kind {
    VG_ZONE_FORBIDDEN = 0,   /**< nobody may enter: intrusion */
    VG_ZONE_PEDESTRIAN_ONLY, /**< walking people only: anything else is an intrusion */
    VG_ZONE_WATCH,           /**< no restriction: a zone in which rules (density, ...) apply */
    VG_ZONE_REST,            /**< lying down is normal here (a bed, a bench, a lawn): no fall */
    VG_ZONE_NB
} vg_zone_kind_t;

/** How urgent an alert is for the operator (the console's order and sound). 0: not given (an
 * event type's own priority applies: vigie serve's `priorities`). Extended, never renumbered. */
typedef enum vg_priority {
    VG_PRIORITY_UNSET = 0,
    VG_PRIORITY_LOW,
    VG_PRIORITY_NORMAL,
    VG_PRIORITY_HIGH,
    VG_PRIORITY_NB
} vg_priority_t;

typedef struct vg_zone {
    char *name;
    vg_zone_kind_t kind;
    vg_polygon_t polygon;
    int has_direction;       /**< an allowed direction of travel is declared */
    double direction[2];     /**< unit vector in image coordinates (y down) */
    double tolerance_deg;    /**< angle around @direction still allowed */
    vg_settings_t *settings; /**< per-zone option values ("abandoned_object.unattended_time") */
    int line;                /**< line in the scene file, for messages */
    vg_priority_t priority;  /**< the priority of this zone's alerts (0: the event type's) */
} vg_zone_t;

typedef enum vg_crossing {
    VG_CROSS_NONE = 0,      /**< counted, never forbidden */
    VG_CROSS_LEFT_TO_RIGHT, /**< relative to the line drawn from its first to its second point */
    VG_CROSS_RIGHT_TO_LEFT,
    VG_CROSS_BOTH,
    VG_CROSS_NB
} vg_crossing_t;

typedef struct vg_line {
    char *name;
    vg_point_t a, b;
    vg_crossing_t forbidden;
    int line;
    vg_priority_t priority; /**< the priority of this line's alerts (0: the event type's) */
} vg_line_t;

typedef struct vg_fixture {
    char *name;
    vg_polygon_t polygon;
} vg_fixture_t;

typedef struct vg_calib_point {
    vg_point_t image;  /**< input pixels */
    vg_point_t ground; /**< metres on the ground plane */
} vg_calib_point_t;

typedef struct vg_scene {
    char *path;        /**< file it was read from ("" when built in memory) */
    char *camera;      /**< camera name ("" if not given) */
    int width, height; /**< input size the coordinates refer to (0: not declared) */
    int nb_zones;
    vg_zone_t *zones;
    int nb_lines;
    vg_line_t *lines;
    int nb_privacy;
    vg_polygon_t *privacy; /**< blacked out at ingest, before any analysis or storage */
    int nb_ignore;
    vg_polygon_t *ignore; /**< analysed pixels that rules disregard */
    int nb_fixtures;
    vg_fixture_t *fixtures;
    int nb_calib;
    vg_calib_point_t *calib;
    vg_settings_t *settings; /**< "settings:" and "events:" entries as full option names */
} vg_scene_t;

/**
 * Read and check the scene file at @path. On error returns VG_ENOENT/VG_EACCES (cannot read),
 * VG_ESYNTAX (not YAML, unknown key, wrong type, bad value) or VG_ENOMEM, and writes
 * "PATH:LINE: KEY: what is wrong, what is accepted" into @err.
 */
int vg_scene_load(vg_scene_t **out, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/** The same from a string; @name stands for the file in messages. */
int vg_scene_parse(vg_scene_t **out, const char *yaml, size_t len, const char *name, char *err,
                   size_t errlen) __attribute__((warn_unused_result));
/** An empty scene (no zones, no masks): what runs when no scene file is given. */
int vg_scene_new_empty(vg_scene_t **out) __attribute__((warn_unused_result));
void vg_scene_free(vg_scene_t **s);

const char *vg_zone_kind_name(vg_zone_kind_t kind);
const char *vg_crossing_name(vg_crossing_t c);
/** "low", "normal", "high" ("" for VG_PRIORITY_UNSET). */
const char *vg_priority_name(vg_priority_t p);
/** The priority called @name ("low", "normal", "high"), or VG_EINVAL. */
int vg_priority_from_name(const char *name);

/** 1 if (x, y) lies inside @poly (even-odd rule; points on the edge count as inside). */
int vg_polygon_contains(const vg_polygon_t *poly, double x, double y);

#ifdef __cplusplus
}
#endif
#endif
