/*
 * Synthetic scenes with exact ground truth, for tests that must run anywhere without data.
 *
 * A scene is a textured, noisy background under a slowly drifting light (optionally switched
 * at one instant), over which "people" (a body ellipse and a head disc) and "bags" (rectangles)
 * move along piecewise-linear paths. A bag may be carried by a person (it follows its owner
 * until it is put down), which gives the "object left behind" case; a person walking against a
 * declared direction across a line gives the wrong-way case. Everything is a pure function of
 * (scene, frame index): rendering frame k twice gives the same pixels, and the truth (boxes and
 * a foreground mask) is exact.
 */
#ifndef VG_TEST_SYNTH_H
#define VG_TEST_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#define SYNTH_MAX_OBJECTS 320
#define SYNTH_MAX_KEYS    8

typedef enum { SYNTH_PERSON, SYNTH_BAG } synth_kind_t;

typedef struct synth_key {
    double t, x, y; /* at time t the object's foot point is at (x, y) */
} synth_key_t;

typedef struct synth_object {
    synth_kind_t kind;
    double w, h;        /* box size in pixels */
    uint8_t luma;       /* fill level */
    double shade;       /* > 0: fill at this ratio of the floor's smooth level instead (a dark,
                           smooth object: darker by a shadow's ratio, without the floor's grain) */
    int grain;          /* with shade: keep the floor's grain (a shadow, not an object) */
    double t_in, t_out; /* visible during [t_in, t_out) */
    int nkeys;
    synth_key_t keys[SYNTH_MAX_KEYS];
    int owner;     /* bags: index of the carrying person, -1 if none */
    double t_drop; /* bags: put down at this time (follows the owner before) */
} synth_object_t;

typedef struct synth_rect {
    double x, y, w, h;
    uint8_t luma;
} synth_rect_t;

typedef struct synth_scene {
    int w, h;
    double fps;
    int nframes;
    uint32_t seed;
    double noise;       /* std-dev of per-frame pixel noise, grey levels */
    double drift;       /* amplitude of the slow light drift, as a gain (0.05 = +-5 %) */
    double switch_t;    /* time of a sudden light change (<= 0: none) */
    double switch_gain; /* gain after the switch (0.6 = lights dim by 40 %) */
    int nobjects;
    synth_object_t obj[SYNTH_MAX_OBJECTS];
    int noccluders;
    synth_rect_t occluder[4]; /* static, in front of every object (a pillar) */
} synth_scene_t;

typedef struct synth_truth {
    int n;
    int id[SYNTH_MAX_OBJECTS];
    synth_kind_t kind[SYNTH_MAX_OBJECTS];
    double box[SYNTH_MAX_OBJECTS][4]; /* x, y, w, h */
} synth_truth_t;

/** A 320x240, 25 fps scene with background only. */
void synth_init(synth_scene_t *s, int w, int h, double fps, int nframes, uint32_t seed);
/** Add a person walking from (x0, y0) at t0 to (x1, y1) at t1 (visible t0..t1). Returns its index.
 */
int synth_add_walker(synth_scene_t *s, double t0, double x0, double y0, double t1, double x1,
                     double y1);
/** Add a bag carried by @owner and put down at @t_drop. Returns its index. */
int synth_add_bag(synth_scene_t *s, int owner, double t_drop);

/** Add a static occluder in front of the objects (part of the background). */
void synth_add_occluder(synth_scene_t *s, double x, double y, double w, double h, uint8_t luma);

/** Foot point of object @i at time @t; returns 0 if it is not visible then. */
int synth_position(const synth_scene_t *s, int i, double t, double *x, double *y);

/**
 * Render frame @k into @gray (w x h, @stride bytes per row). @mask (may be NULL, same stride)
 * gets 255 where an object is, 0 elsewhere; @truth (may be NULL) the visible objects' boxes.
 */
void synth_render(const synth_scene_t *s, int k, uint8_t *gray, ptrdiff_t stride, uint8_t *mask,
                  synth_truth_t *truth);

/**
 * Encode the scene with the ffmpeg command line into @path. @args are the output options
 * (e.g. "-c:v mpeg4 -q:v 2" or "-c:v mjpeg -f image2"). Returns 0 or -1.
 */
int synth_write(const synth_scene_t *s, const char *path, const char *args);

/** A fresh temporary directory (removed by synth_rmdir); returns its path in @buf. */
int synth_tmpdir(char *buf, size_t len);
void synth_rmdir(const char *dir);
/** PSNR in dB between two grey images of the same size. */
double synth_psnr(const uint8_t *a, ptrdiff_t sa, const uint8_t *b, ptrdiff_t sb, int w, int h);
/** 1 if the ffmpeg command line is on PATH. */
int synth_have_ffmpeg(void);

#endif
