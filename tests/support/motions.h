/*
 * Known camera motions for the moving-camera tests and bench/egomotion (issue #28): the motion
 * at each moment as a similarity that takes a pixel of the scene's view to where it appears in
 * the frame (the estimator's convention, <vigie/egomotion.h>), and clips made from real footage
 * as a camera moving that way would have filmed it.
 */
#ifndef VG_TEST_MOTIONS_H
#define VG_TEST_MOTIONS_H

#include <stdint.h>

/** The motions by name: still, shake (±5 px at 2 Hz), pan (a slow pan of 20 px/s back and forth
 * over ±40 px), zoom (in to 1.08 and out again every 6 s), drift (a drone's drift: ±12 px and ±8
 * px over 9 s and 7 s with a rotation of ±2° over 11 s). NULL-ended. mo_motion also knows fast (a
 * pan of 200 px/s back and forth over ±80 px: a fast drone, a PTZ move). */
extern const char *const mo_names[];

/** The motion @name at time @t for a @w x @h view into @m. 0, or -1 for an unknown name. */
int mo_motion(const char *name, double t, int w, int h, double m[6]);

/** The same as a 3 x 3 homography (row by row), with one more: tilt (a drone's camera pitching
 * and rolling, a perspective change of up to 5 % at the edges, while drifting ±10 and ±6 px). */
int mo_motion_h(const char *name, double t, int w, int h, double H[9]);
/** @o = @a @b (3 x 3); the inverse of a homography (normalised); the mean error as mo_error;
 * mo_resample through a homography. */
void mo_mul3(const double a[9], const double b[9], double o[9]);
void mo_invert_h(const double a[9], double o[9]);
double mo_error_h(const double a[9], const double b[9], int w, int h);
struct vg_image;
void mo_resample_h(uint8_t *dst, int ow, int oh, int bpp, const struct vg_image *src,
                   const double H[9]);

/** The inverse of the similarity (or affine map) @m. */
void mo_invert(const double m[6], double inv[6]);

/** @a after @b: the map x -> a(b(x)), into @o (may be @a or @b). */
void mo_compose(const double a[6], const double b[6], double o[6]);

/** The mean distance, over a 9 x 9 grid of the @w x @h view, between where @a and @b put it. */
double mo_error(const double a[6], const double b[6], int w, int h);

/**
 * The simulated pan-tilt-zoom tour: the camera's picture is a @cw x @ch crop of the input; at its
 * first preset (the scene's view) it is at (0, 0) of the input; it leaves for a second preset at
 * (@dx, 0) at @t_leave, moving at @speed px/s, stays there until @t_back, returns at the same
 * speed. The crop's position at @t.
 */
typedef struct mo_ptz {
    int cw, ch, dx;
    double t_leave, t_back, speed;
} mo_ptz_t;
double mo_ptz_x(const mo_ptz_t *p, double t);

/** @dst (@ow x @oh, @bpp bytes a pixel, rows packed) from @src (the same format) at
 * @m(x, y) + (@ox, @oy), bilinear, coordinates clamped to the picture (the nearest edge). */
struct vg_image;
void mo_resample(uint8_t *dst, int ow, int oh, int bpp, const struct vg_image *src,
                 const double m[6], double ox, double oy);

/**
 * Write @out (H.264 by the ffmpeg command line, @fps frames a second) from @in: each frame of the
 * input (colour, its own size) resampled as the camera moving by @motion would have seen it
 * (pixels from outside the input: the nearest edge, as a lens sees more scene there). With @ptz
 * (motion "ptz"), the crop of the tour instead. Up to @to seconds (0: all). Returns the number
 * of frames written, or -1 with a message on stderr.
 */
int mo_write_clip(const char *in, const char *out, const char *motion, const mo_ptz_t *ptz,
                  double to);

#endif
