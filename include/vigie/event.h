/*
 * vigie — the event record.
 *
 * One JSON object per line (JSON Lines). The field set is fixed: later versions add fields and
 * details, never rename or remove them. docs/events.md is the reference.
 *
 *   {"type":"intrusion","phase":"start","event_id":3,"t":12.400,"frame":310,
 *    "box":[412,220,38,96],"zone":"tracks","score":0.91,"camera":"quai-2","details":{...}}
 */
#ifndef VIGIE_EVENT_H
#define VIGIE_EVENT_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_event_type {
    VG_EVENT_ABANDONED_OBJECT = 0,
    VG_EVENT_WEAPON,
    VG_EVENT_WRONG_WAY,
    VG_EVENT_INTRUSION,
    VG_EVENT_FALL,
    VG_EVENT_CROWD_MOVEMENT,
    VG_EVENT_DENSITY,
    VG_EVENT_FIRE,
    /** Technical, not one of the decree's eight: a camera that failed, stalled or went dark.
     * Raised by vigie serve (and the camera_health analyser), decided like the others. */
    VG_EVENT_CAMERA_FAULT,
    VG_EVENT_NB
} vg_event_type_t;

typedef enum vg_event_phase {
    VG_PHASE_START = 0,
    VG_PHASE_UPDATE,
    VG_PHASE_END,
    VG_PHASE_NB
} vg_event_phase_t;

#define VG_EVENT_NAME_MAX    64
#define VG_EVENT_DETAILS_MAX 2048

typedef struct vg_event {
    vg_event_type_t type;
    vg_event_phase_t phase;
    int64_t event_id; /**< unique in the run; start, updates and end share it */
    double t;         /**< seconds from the input's start (presentation time) */
    int64_t frame;    /**< 0-based frame index */
    int has_box;
    double box[4];                /**< x, y, w, h in input pixels (when has_box) */
    char zone[VG_EVENT_NAME_MAX]; /**< "" when no zone is involved */
    double score;                 /**< 0..1 */
    char camera[VG_EVENT_NAME_MAX];
    /** Members of the "details" object, already JSON ("k":v,...), built with vg_event_detail_*. */
    char details[VG_EVENT_DETAILS_MAX];
    size_t details_len;
} vg_event_t;

/** Zero @ev and set its type and phase. */
void vg_event_init(vg_event_t *ev, vg_event_type_t type, vg_event_phase_t phase);
/** Copy @name into a fixed field, truncating safely. */
void vg_event_set_zone(vg_event_t *ev, const char *zone);
void vg_event_set_camera(vg_event_t *ev, const char *camera);
void vg_event_set_box(vg_event_t *ev, double x, double y, double w, double h);

/** Add a member to details. VG_ERANGE when the details would exceed VG_EVENT_DETAILS_MAX. */
int vg_event_detail_num(vg_event_t *ev, const char *key, double v);
int vg_event_detail_int(vg_event_t *ev, const char *key, int64_t v);
int vg_event_detail_str(vg_event_t *ev, const char *key, const char *v);
int vg_event_detail_bool(vg_event_t *ev, const char *key, int v);
/** Add a member whose value is already valid JSON (an object or array built by the caller). */
int vg_event_detail_json(vg_event_t *ev, const char *key, const char *json);

/**
 * Write @ev as one JSON object (no newline) into @buf. Returns the length, or VG_ERANGE if @len
 * is too small (then @buf holds a truncated, NUL-terminated prefix).
 */
int vg_event_to_json(const vg_event_t *ev, char *buf, size_t len);

const char *vg_event_type_name(vg_event_type_t type);
/** Every type's name, indexed by type, NULL-terminated (immutable; any thread). */
const char *const *vg_event_type_names(void);
/** The type called @name, or VG_EINVAL. */
int vg_event_type_from_name(const char *name);
const char *vg_event_phase_name(vg_event_phase_t phase);

/**
 * Read one JSON Lines record (as vg_event_to_json writes it) into @ev: type, phase, event_id, t,
 * frame, box, zone, score, camera, and details as its JSON text. Returns 0, or VG_EFORMAT with
 * what is wrong in @err (not JSON, a missing or mistyped field, an unknown type or phase).
 */
int vg_event_from_json(vg_event_t *ev, const char *line, char *err, size_t errlen);

/** Where events go. write() returns 0 or a negative error; it is called from the analysis thread.
 */
typedef struct vg_event_sink {
    int (*write)(void *opaque, const vg_event_t *ev);
    void *opaque;
} vg_event_sink_t;

/**
 * A sink writing JSON Lines to @f (borrowed), flushing after every event so that events already
 * reported survive a crash or a later error. Returns VG_EIO when the write fails (disk full).
 */
typedef struct vg_event_writer {
    FILE *f;
    int64_t count;
} vg_event_writer_t;
void vg_event_writer_init(vg_event_writer_t *w, FILE *f);
int vg_event_writer_write(void *writer, const vg_event_t *ev);

/**
 * One sample of a count time series: the people of a zone (or of the whole picture, zone "") at
 * scene time t, as a stage that counts (density) reports it every few seconds — for plots and
 * statistics, not an alert.
 */
typedef struct vg_count {
    double t;      /**< scene time, seconds */
    int64_t frame; /**< frame index */
    char camera[VG_EVENT_NAME_MAX];
    char zone[VG_EVENT_NAME_MAX]; /**< "" for the whole picture */
    double count;                 /**< people (an estimate: not an integer) */
    double count_detector;        /**< people the detector separated */
    double count_occupancy;       /**< people the occupancy estimate saw (-1: none) */
    double area;                  /**< m² on the ground (0: not calibrated) */
    double density;               /**< persons per m² (-1: not calibrated) */
} vg_count_t;

/** Where count samples go; write() is called from the analysis thread. */
typedef struct vg_count_sink {
    int (*write)(void *opaque, const vg_count_t *c);
    void *opaque;
} vg_count_sink_t;

/** Escape @s as a JSON string (with quotes) into @buf. Returns the length or VG_ERANGE. */
int vg_json_quote(char *buf, size_t len, const char *s);

#ifdef __cplusplus
}
#endif
#endif
