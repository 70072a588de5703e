/*
 * vigie — ground-plane calibration.
 *
 * From four or more points of the image with their coordinates on the ground in metres (the
 * scene's "calibration:" list), a homography maps image points to the ground plane, so that a
 * track's foot point has a position in metres, its speed is in metres per second and a zone has
 * an area in square metres. Method: the normalised direct linear transform (Hartley &
 * Zisserman, "Multiple View Geometry", alg. 4.2), least squares over all the points; the
 * reprojection error tells how well the points agree.
 */
#ifndef VIGIE_CALIB_H
#define VIGIE_CALIB_H

#include <vigie/scene.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_calib {
    int valid;     /**< 0: no calibration (rules work in pixels and say so) */
    double h[9];   /**< image (input pixels) -> ground (metres), row-major, h[8] = 1 */
    double inv[9]; /**< ground -> image */
    double rms;    /**< metres: ground distance between the points and their projections */
    int npoints;
    int ground_side; /**< sign of the horizon line (h's last row) at the points: the ground's side
                      */
} vg_calib_t;

/**
 * Fit @c to @n >= 4 point pairs. Returns 0; VG_EINVAL with a message in @err when there are fewer
 * than 4 points or they are degenerate (three on a line, repeated); an invalid @c either way when
 * @n is 0 (no calibration is not an error: returns 0 with c->valid = 0).
 */
int vg_calib_fit(vg_calib_t *c, const vg_calib_point_t *pts, int n, char *err, size_t errlen);

/** Ground position of image point (@x, @y). Returns 0, or VG_ERANGE for a point on or beyond the
 * horizon (it does not lie on the ground plane). */
int vg_calib_to_ground(const vg_calib_t *c, double x, double y, double *gx, double *gy);
/** Image position of a ground point. */
int vg_calib_to_image(const vg_calib_t *c, double gx, double gy, double *x, double *y);
/** Area of an image polygon on the ground, m² (its vertices projected; VG_ERANGE as above). */
int vg_calib_area(const vg_calib_t *c, const vg_polygon_t *poly, double *m2);

/**
 * The local vertical at image point (@x, @y) (input pixels): the unit image direction (@ux, @uy)
 * in which a post standing on the ground there rises. From the homography alone, taking the
 * camera's principal point at (@cx, @cy) (the image's middle), square pixels and no skew: the
 * focal length is the one that makes the ground's two axes perpendicular and alike in the camera
 * (least squares over both conditions), the ground's normal their cross product, and the vertical
 * vanishing point its image (Hartley & Zisserman, sec. 8.8). Walls and people lean towards it
 * at the edges of wide views and of views looking down. Returns 0; VG_EINVAL when @c is not
 * valid; VG_ERANGE when the calibration gives no camera (no positive focal length: points drawn
 * on an orthographic or distorted plan) — then use the image's vertical.
 */
int vg_calib_up(const vg_calib_t *c, double cx, double cy, double x, double y, double *ux,
                double *uy);

#ifdef __cplusplus
}
#endif
#endif
