/*
 * Ground-plane calibration: the normalised DLT (see include/vigie/calib.h).
 *
 * Each point pair (x, y) -> (X, Y) gives two linear equations in the eight unknowns of H with
 * h33 = 1:  X (h31 x + h32 y + 1) = h11 x + h12 y + h13, and the same for Y. Both point sets are
 * first normalised (centroid at the origin, mean distance sqrt 2: Hartley 1997), which keeps the
 * 8x8 normal equations well conditioned; they are solved by Gaussian elimination with partial
 * pivoting, and the normalisations are undone. A pivot near zero means the points cannot fix a
 * homography (fewer than four in general position).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/calib.h>
#include <vigie/error.h>

/* Similarity T (row-major 3x3) taking @n points to centroid 0, mean distance sqrt(2). */
static int normaliser(const vg_point_t *p, int n, double T[9])
{
    double cx = 0, cy = 0, d = 0;
    for (int i = 0; i < n; i++) cx += p[i].x, cy += p[i].y;
    cx /= n, cy /= n;
    for (int i = 0; i < n; i++) d += hypot(p[i].x - cx, p[i].y - cy);
    d /= n;
    if (!(d > 1e-12)) return -1;
    double s = sqrt(2.0) / d;
    double t[9] = {s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1};
    memcpy(T, t, sizeof(t));
    return 0;
}

static void mul3(const double *a, const double *b, double *c)
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(c, r, sizeof(r));
}

static int inv3(const double *m, double *out)
{
    double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8];
    double A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
    double det = a * A + b * B + c * C;
    if (!(fabs(det) > 1e-300)) return -1;
    double r[9] = {A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d),
                   C, -(a * h - b * g), a * e - b * d};
    for (int k = 0; k < 9; k++) out[k] = r[k] / det;
    return 0;
}

static int apply(const double *h, double x, double y, double *ox, double *oy)
{
    double w = h[6] * x + h[7] * y + h[8];
    if (!(w > 1e-12)) return VG_ERANGE; /* on or beyond the horizon */
    *ox = (h[0] * x + h[1] * y + h[2]) / w;
    *oy = (h[3] * x + h[4] * y + h[5]) / w;
    return 0;
}

int vg_calib_fit(vg_calib_t *c, const vg_calib_point_t *pts, int n, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (n == 0) return 0;
    if (n < 4 || n > 1000) {
        snprintf(err, errlen,
                 "calibration: %d points; give at least 4 image points with their "
                 "ground coordinates",
                 n);
        return VG_EINVAL;
    }
    vg_point_t img[1000], gnd[1000];
    for (int i = 0; i < n; i++) img[i] = pts[i].image, gnd[i] = pts[i].ground;
    double Ti[9], Tg[9];
    if (normaliser(img, n, Ti) < 0 || normaliser(gnd, n, Tg) < 0) {
        snprintf(err, errlen, "calibration: the points coincide");
        return VG_EINVAL;
    }
    /* normal equations of the 2n x 8 system */
    double M[8][9] = {{0}};
    for (int i = 0; i < n; i++) {
        double x, y, X, Y;
        apply(Ti, img[i].x, img[i].y, &x, &y);
        apply(Tg, gnd[i].x, gnd[i].y, &X, &Y);
        double r1[9] = {x, y, 1, 0, 0, 0, -X * x, -X * y, X};
        double r2[9] = {0, 0, 0, x, y, 1, -Y * x, -Y * y, Y};
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 9; b++) M[a][b] += r1[a] * r1[b] + r2[a] * r2[b];
    }
    for (int col = 0; col < 8; col++) {
        int piv = col;
        for (int r = col + 1; r < 8; r++)
            if (fabs(M[r][col]) > fabs(M[piv][col])) piv = r;
        if (!(fabs(M[piv][col]) > 1e-9)) {
            snprintf(err, errlen,
                     "calibration: the %d points do not fix the ground plane (three or more on "
                     "one line?); give 4 or more points spread over the ground",
                     n);
            return VG_EINVAL;
        }
        if (piv != col)
            for (int b = 0; b < 9; b++) {
                double t = M[col][b];
                M[col][b] = M[piv][b], M[piv][b] = t;
            }
        for (int r = 0; r < 8; r++) {
            if (r == col) continue;
            double f = M[r][col] / M[col][col];
            for (int b = col; b < 9; b++) M[r][b] -= f * M[col][b];
        }
    }
    double hn[9];
    for (int k = 0; k < 8; k++) hn[k] = M[k][8] / M[k][k];
    hn[8] = 1;
    /* H = Tg^-1 Hn Ti */
    double Tgi[9], tmp[9];
    if (inv3(Tg, Tgi) < 0) return VG_EINVAL;
    mul3(hn, Ti, tmp);
    mul3(Tgi, tmp, c->h);
    if (!(fabs(c->h[8]) > 1e-300) || inv3(c->h, c->inv) < 0) {
        snprintf(err, errlen, "calibration: the points give a degenerate mapping");
        return VG_EINVAL;
    }
    /* sign: image points in front of the camera must have w > 0 */
    double w = c->h[6] * img[0].x + c->h[7] * img[0].y + c->h[8];
    if (w < 0) {
        for (int k = 0; k < 9; k++) c->h[k] = -c->h[k];
        inv3(c->h, c->inv);
    }
    double e2 = 0;
    for (int i = 0; i < n; i++) {
        double X, Y;
        if (apply(c->h, img[i].x, img[i].y, &X, &Y) < 0) {
            snprintf(err, errlen, "calibration: point %d maps beyond the horizon", i + 1);
            return VG_EINVAL;
        }
        e2 += (X - gnd[i].x) * (X - gnd[i].x) + (Y - gnd[i].y) * (Y - gnd[i].y);
    }
    c->rms = sqrt(e2 / n);
    c->npoints = n;
    {
        const vg_point_t *q = &pts[0].image;
        double side = c->h[6] * q->x + c->h[7] * q->y + c->h[8];
        c->ground_side = side < 0 ? -1 : 1;
    }
    c->valid = 1;
    return 0;
}

int vg_calib_to_ground(const vg_calib_t *c, double x, double y, double *gx, double *gy)
{
    if (!c->valid) return VG_EINVAL;
    return apply(c->h, x, y, gx, gy);
}

int vg_calib_to_image(const vg_calib_t *c, double gx, double gy, double *x, double *y)
{
    if (!c->valid) return VG_EINVAL;
    return apply(c->inv, gx, gy, x, y);
}

int vg_calib_area(const vg_calib_t *c, const vg_polygon_t *poly, double *m2)
{
    double a = 0, px = 0, py = 0, fx = 0, fy = 0;
    if (!c->valid) return VG_EINVAL;
    for (int i = 0; i < poly->n; i++) {
        double X, Y;
        int ret = apply(c->h, poly->pts[i].x, poly->pts[i].y, &X, &Y);
        if (ret < 0) return ret;
        if (i == 0)
            fx = X, fy = Y;
        else
            a += px * Y - X * py;
        px = X, py = Y;
    }
    a += px * fy - fx * py;
    *m2 = fabs(a) / 2;
    return 0;
}

int vg_calib_up(const vg_calib_t *c, double cx, double cy, double x, double y, double *ux,
                double *uy)
{
    if (!c->valid) return VG_EINVAL;
    const double *g = c->inv; /* ground -> image; its first two columns, principal point at 0 */
    double a[2][3];
    for (int j = 0; j < 2; j++)
        a[j][0] = g[j] - cx * g[6 + j], a[j][1] = g[3 + j] - cy * g[6 + j], a[j][2] = g[6 + j];
    /* w = 1 / f^2: w * A + B = 0 for perpendicular axes (1) and for axes of one length (2) */
    double A1 = a[0][0] * a[1][0] + a[0][1] * a[1][1], B1 = a[0][2] * a[1][2];
    double A2 = a[0][0] * a[0][0] + a[0][1] * a[0][1] - a[1][0] * a[1][0] - a[1][1] * a[1][1],
           B2 = a[0][2] * a[0][2] - a[1][2] * a[1][2];
    double den = A1 * A1 + A2 * A2;
    if (!(den > 0)) return VG_ERANGE;
    double w = -(A1 * B1 + A2 * B2) / den;
    if (!(w > 0) || !isfinite(w)) return VG_ERANGE;
    double sw = sqrt(w), r[2][3];
    for (int j = 0; j < 2; j++) r[j][0] = a[j][0] * sw, r[j][1] = a[j][1] * sw, r[j][2] = a[j][2];
    /* the ground's normal in the camera, and its image k (the vertical vanishing point) */
    double n0 = r[0][1] * r[1][2] - r[0][2] * r[1][1], n1 = r[0][2] * r[1][0] - r[0][0] * r[1][2],
           n2 = r[0][0] * r[1][1] - r[0][1] * r[1][0];
    double k0 = n0 / sw + cx * n2, k1 = n1 / sw + cy * n2, k2 = n2;
    /* up is away from the vanishing point when it lies on the ground's side of the horizon (the
     * nadir: a camera looking down), towards it otherwise; written without dividing by k2, so
     * that a vanishing point at infinity (a level camera) needs no special case */
    double lk = c->h[6] * k0 + c->h[7] * k1 + c->h[8] * k2;
    double sg = (lk < 0 ? -1 : 1) * c->ground_side;
    double dx = sg * (x * k2 - k0), dy = sg * (y * k2 - k1), len = hypot(dx, dy);
    if (!(len > 0) || !isfinite(len)) return VG_ERANGE;
    *ux = dx / len, *uy = dy / len;
    return 0;
}
