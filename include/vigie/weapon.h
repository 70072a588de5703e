/*
 * A weapon in view (decree 2023-828 art. 3, item 2): the `weapon` event — a candidate for an
 * operator to check, never an automatic alarm.
 *
 * A weapon-class box of the detector (the built-in COCO detector's knife and baseball bat; a site
 * model's classes once the inference core loads them) counts when it is held: a wrist of a person
 * in view, from the pose model on that person's crop, lies on it or within weapon.reach of the
 * person's height (weapon.require_held; a knife on a market stall is not an alert). A sighting
 * near a person asks the detect stage for close looks at that person (the detector at its full
 * resolution on a crop round them, with their wrists); the event starts once weapon.agree of the
 * last weapon.looks looks at that person saw it held, one of them close. It ends when the person
 * leaves or it is not seen held for weapon.end_after. Firearms are not in COCO: the built-in
 * models do not see them (docs/events.md, docs/evaluation.md). Method: src/events/weapon.c.
 */
#ifndef VIGIE_WEAPON_H
#define VIGIE_WEAPON_H

#include <stdint.h>

#include <vigie/detect.h>
#include <vigie/opt.h>
#include <vigie/rules.h>
#include <vigie/scene.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of the "weapon" group. */
typedef struct vg_weapon_params {
    char *classes;    /**< detector classes that are weapons, comma-separated COCO names */
    double score_min; /**< a weapon-class box counts from this score */
    int require_held; /**< only boxes a person's wrist is on count */
    double reach;     /**< wrist to box, at most this share of the person's height */
    int looks;        /**< m: the last looks at a person weighed */
    int agree;        /**< k: of which at least this many saw the weapon held */
    double close_gap; /**< s between two close looks at one person */
    double margin;    /**< a close look's crop: the person's box grown by this on each side */
    double end_after; /**< s without the weapon seen held before the end */
} vg_weapon_params_t;

extern const vg_option_group_t vg_weapon_option_group;

/** A live track, in analysis pixels (who holds it: its id is the event's held_by). */
typedef struct vg_weapon_track {
    int64_t id;
    double box[4];
} vg_weapon_track_t;

/** One frame's input; arrays are borrowed for the call. */
typedef struct vg_weapon_input {
    int64_t frame;
    double t;
    double sx, sy;   /**< analysis -> input pixels */
    int w, h;        /**< analysis picture size */
    int look;        /**< 1 when @det is a new detector look (the boxes it found) */
    float region[4]; /**< where that look looked (analysis pixels) */
    int64_t ask_tag; /**< the look answers this close look (0: a routine look) */
    unsigned ask_flags;
    const vg_detection_t *det;
    int ndet;
    const vg_weapon_track_t *tracks; /**< live tracks (may be 0 of them: no tracker) */
    int ntracks;
    const int64_t *ended; /**< tracks that ended this frame */
    int nended;
} vg_weapon_input_t;

/** Where a detector asks for a close look (vg_detections_ask); returns 0 or an error. */
typedef int (*vg_weapon_ask_fn)(void *opaque, const float region[4], unsigned flags, int64_t tag);

/** Counters since the start. */
typedef struct vg_weapon_stats {
    int64_t sightings;   /**< weapon-class boxes at or above score_min */
    int64_t unheld;      /**< of them, with no person near (a knife lying on a stall) */
    int64_t close_asked; /**< close looks asked for */
    int64_t close_seen;  /**< close looks that came back */
    int64_t held;        /**< looks that saw a weapon held */
    int64_t events;
} vg_weapon_stats_t;

typedef struct vg_weapon vg_weapon_t;

/** A weapon detector for @scene (borrowed: its ignore masks). VG_EINVAL with a message in @err
 * for a class the detector does not know, VG_ENOMEM. */
int vg_weapon_new(vg_weapon_t **out, const vg_scene_t *scene, const vg_weapon_params_t *p,
                  char *err, size_t errlen) __attribute__((warn_unused_result));
/** One frame: weighs the look's boxes, asks close looks through @ask, emits start and end. */
int vg_weapon_update(vg_weapon_t *w, const vg_weapon_input_t *in, vg_emit_fn emit,
                     vg_weapon_ask_fn ask, void *opaque);
/** End of input: open events end at (@frame, @t). */
int vg_weapon_flush(vg_weapon_t *w, int64_t frame, double t, vg_emit_fn emit, void *opaque);
void vg_weapon_get_stats(const vg_weapon_t *w, vg_weapon_stats_t *st);
void vg_weapon_free(vg_weapon_t **w);

/**
 * Who of the persons of @det (@n boxes of one look; class 0, with wrists where the pose model ran)
 * holds the object in @wbox (x, y, w, h): the index of the person with a wrist (score at least
 * 0.2) on it or within @reach of their height from it, the nearest relative to their height (a
 * person box shorter than the object's longer side, or than 24 px, holds nothing), and
 * the wrist in *@wrist (0 left, 1 right); -1 when nobody does. *@near (may be NULL) gets the
 * person whose box grown by @reach covers most of the object (half of it at least), or -1.
 */
int vg_weapon_holder(double reach, const double wbox[4], const vg_detection_t *det, int n,
                     int *wrist, int *near);

/**
 * The COCO classes named in @list (comma-separated names, as weapon.classes) into @set (80
 * flags). 0, or VG_EINVAL with the unknown name in @err (person is refused too).
 */
int vg_weapon_parse_classes(const char *list, uint8_t set[80], char *err, size_t errlen);

/** The event kind of COCO class @cls ("knife", "bat", "scissors"; NULL when not a weapon). */
const char *vg_weapon_kind(int cls);

#ifdef __cplusplus
}
#endif
#endif
