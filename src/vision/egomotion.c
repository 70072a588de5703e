/*
 * The camera's own motion against the scene's view (<vigie/egomotion.h>).
 *
 * Method
 * - Everything is measured on a reduced picture: the frame averaged over s x s blocks, s the
 *   smallest power of two that brings its width to 200 pixels or less (160 x 120 for 640 x 480).
 * - The reference is the scene's view at that size: the first frame, then a slow average of the
 *   frames carried back into the view (time constant reference_time, only while the fit is
 *   trusted, only where the frame covers it), so that light changing over a day does not lose it.
 *   While the camera is away it is frozen: the view it comes back to is recognised by its picture.
 * - Each frame is first carried into the view with the previous frame's motion; the optical flow
 *   (src/vision/flow.c, pyramidal patches) from the reference to it measures what is left, on a
 *   grid of points every 4 reduced pixels. A point counts where the reference has texture (the
 *   smaller eigenvalue of its patch's structure tensor), where the last analysed frame had no
 *   foreground (people and vehicles move on their own), and inside the frame.
 * - A similarity (shift, rotation, zoom: 4 parameters) is fitted robustly: RANSAC on pairs of
 *   points (a fixed seed: the same frames give the same answer), then least squares on the
 *   inliers twice. The share of inliers says how far to trust it. When the fit fails from the
 *   previous motion, it is tried again from the scene's own view (a PTZ camera back on its preset
 *   after a move the flow could not follow).
 * - The state: a frame is analysed when the fit is trusted (points and inliers), the camera moves
 *   slower than max_speed (corners over the last half second: a shake goes back and forth, a PTZ
 *   move does not) and at least min_overlap of the view is in the frame; below `deadband` px the
 *   frame is left as it came (a fixed camera's pictures are not resampled). After a pause,
 *   analysis resumes once all this has held for `settle` seconds.
 *
 * Cost: one read of the frame (the reduction), two warps and one flow at the reduced size, a few
 * hundred points: bench/egomotion measures it against the motion stage.
 *
 * Invariants: the result depends only on the frames and the parameters (no clock, a fixed seed),
 * and not on the number of slice jobs (the flow's guarantee).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/egomotion.h>
#include <vigie/error.h>
#include <vigie/flow.h>
#include <vigie/mem.h>

#define MAX_RED_W  200 /* the reduced picture's width, at most */
#define PATCH      8   /* the flow's patch, reduced pixels */
#define STRIDE     8   /* the flow's grid step, reduced pixels */
#define RANSAC_IT  64
#define INLIER_PX  0.6 /* reduced pixels: a point agrees with a motion within this */
#define MIN_POINTS 16  /* fewer measured points: no fit */
#define TEX_MIN    6.0 /* grey levels squared per pixel: the patch's smaller eigenvalue */
#define SPEED_SPAN 0.5 /* s over which speed is measured */
#define HIST       64  /* frames of history kept for the speed */

#define OFF(x) offsetof(vg_ego_params_t, x)
#define D(n, f, dv, lo, hi, u, h)                                                                  \
    {                                                                                              \
        .name = n, .type = VG_OPT_DOUBLE, .offset = OFF(f), .def.d = dv, .min = lo, .max = hi,     \
        .unit = u, .help = h                                                                       \
    }
static const char *const mode_names[] = {"fixed", "moving", NULL};

static const vg_option_t ego_options[] = {
    {.name = "mode",
     .type = VG_OPT_ENUM,
     .offset = OFF(mode),
     .def.i = VG_CAMERA_FIXED,
     .choices = mode_names,
     .help = "fixed (the picture is analysed as it comes) or moving (a shaking mast, a "
             "pan-tilt-zoom camera: its motion is measured, the picture carried back into the "
             "scene's view, analysis held while it moves too fast or looks elsewhere)"},
    D("deadband", deadband, 0.3, 0, 10, "px",
      "a view displaced by less than this is analysed as it came, not resampled"),
    D("min_inliers", min_inliers, 0.5, 0.1, 1, NULL,
      "share of the measured points that must agree on one motion to trust it"),
    D("min_overlap", min_overlap, 0.7, 0.1, 1, NULL,
      "share of the scene's view that must be in the frame to analyse it"),
    D("max_speed", max_speed, 0.25, 0.01, 10, "widths/s",
      "faster than this (picture widths a second, over half a second) the camera is moving and "
      "the frame is not analysed"),
    D("settle", settle, 1, 0, 60, "s",
      "after a move, the view must be measured and steady for this long before analysis "
      "resumes"),
    D("reference_time", reference_time, 20, 1, 86400, "s",
      "time constant with which the scene's reference picture follows the light"),
    {.name = NULL},
};
#undef D
#undef OFF

const vg_option_group_t vg_ego_option_group = {
    "camera_motion", "a camera that moves: shake, pan-tilt-zoom (estimate and compensate)",
    ego_options};

void vg_ego_params_default(vg_ego_params_t *p)
{
    memset(p, 0, sizeof(*p));
    vg_opt_defaults(p, ego_options);
}

struct vg_ego {
    vg_ego_params_t p;
    int w, h;                          /* the frame */
    int s;                             /* reduction */
    int rw, rh;                        /* the reduced picture */
    float *ref;                        /* the reference, rw x rh */
    uint8_t *ref8, *cur, *warped, *fg; /* rw x rh each */
    uint8_t *valid;
    float *pts; /* measured points: x, y (reference), u, v (frame), reduced pixels */
    int *idx;   /* inliers' indices, as many */
    int started, has_fg, paused;
    double mr[6];  /* the last trusted motion, reduced pixels */
    double t_prev; /* the last frame's time */
    double calm_since;
    vg_ego_result_t last;
    struct {
        double t, m[6];
    } hist[HIST];
    int nhist, hpos;
    vg_flow_t *flow;
};

void vg_ego_set_params(vg_ego_t *e, const vg_ego_params_t *p)
{
    if (e && p) e->p = *p;
}

void vg_ego_free(vg_ego_t **pe)
{
    vg_ego_t *e = *pe;
    if (!e) return;
    vg_flow_free(&e->flow);
    vg_free(e->ref);
    vg_free(e->ref8);
    vg_free(e->cur);
    vg_free(e->warped);
    vg_free(e->fg);
    vg_free(e->valid);
    vg_free(e->pts);
    vg_free(e->idx);
    vg_free(e);
    *pe = NULL;
}

int vg_ego_new(vg_ego_t **out, const vg_ego_params_t *p, int w, int h)
{
    vg_ego_t *e;
    int ret;
    if (w < 16 || h < 16 || w > 32768 || h > 32768) return VG_EINVAL;
    if (!(e = vg_calloc(1, sizeof(*e)))) return VG_ENOMEM;
    if (p)
        e->p = *p;
    else
        vg_ego_params_default(&e->p);
    e->w = w, e->h = h, e->s = 1;
    while (w / e->s > MAX_RED_W && h / (e->s * 2) >= 16) e->s *= 2;
    e->rw = w / e->s, e->rh = h / e->s;
    size_t n = (size_t)e->rw * e->rh;
    vg_flow_params_t fp = vg_flow_default_params;
    fp.finest = 0, fp.patch = PATCH, fp.stride = STRIDE;
    if (!(e->ref = vg_malloc(n * sizeof(float))) || !(e->ref8 = vg_malloc(n)) ||
        !(e->cur = vg_malloc(n)) || !(e->warped = vg_malloc(n)) || !(e->fg = vg_calloc(n, 1)) ||
        !(e->valid = vg_malloc(n)) ||
        !(e->pts = vg_malloc((n / (STRIDE * STRIDE) + 4) * 4 * sizeof(float))) ||
        !(e->idx = vg_malloc((n / (STRIDE * STRIDE) + 4) * sizeof(int)))) {
        vg_ego_free(&e);
        return VG_ENOMEM;
    }
    if ((ret = vg_flow_new(&e->flow, &fp, e->rw, e->rh)) < 0) {
        vg_ego_free(&e);
        return ret;
    }
    e->calm_since = -1;
    *out = e;
    return 0;
}

void vg_ego_scale(double o[6], const double m[6], double s)
{
    /* a reduced pixel x stands for the full-size centre s x + c, c = (s - 1) / 2 */
    double c = (s - 1) / 2;
    o[0] = m[0], o[1] = m[1], o[3] = m[3], o[4] = m[4];
    o[2] = (m[0] * c + m[1] * c + m[2] - c) / s;
    o[5] = (m[3] * c + m[4] * c + m[5] - c) / s;
}

/* The inverse of vg_ego_scale: a reduced picture's motion on the full-size one. */
static void unscale(double o[6], const double m[6], double s)
{
    double c = (s - 1) / 2;
    o[0] = m[0], o[1] = m[1], o[3] = m[3], o[4] = m[4];
    o[2] = s * m[2] + c - (m[0] * c + m[1] * c);
    o[5] = s * m[5] + c - (m[3] * c + m[4] * c);
}

double vg_ego_offset(const double m[6], int w, int h)
{
    double best = 0, cx[4] = {0, w - 1.0, 0, w - 1.0}, cy[4] = {0, 0, h - 1.0, h - 1.0};
    for (int k = 0; k < 4; k++) {
        double dx = m[0] * cx[k] + m[1] * cy[k] + m[2] - cx[k];
        double dy = m[3] * cx[k] + m[4] * cy[k] + m[5] - cy[k];
        double d = sqrt(dx * dx + dy * dy);
        if (d > best) best = d;
    }
    return best;
}

/* The largest distance between where two motions put the view's corners. */
static double corner_distance(const double a[6], const double b[6], int w, int h)
{
    double best = 0, cx[4] = {0, w - 1.0, 0, w - 1.0}, cy[4] = {0, 0, h - 1.0, h - 1.0};
    for (int k = 0; k < 4; k++) {
        double dx = (a[0] - b[0]) * cx[k] + (a[1] - b[1]) * cy[k] + a[2] - b[2];
        double dy = (a[3] - b[3]) * cx[k] + (a[4] - b[4]) * cy[k] + a[5] - b[5];
        double d = sqrt(dx * dx + dy * dy);
        if (d > best) best = d;
    }
    return best;
}

/* The range [*a, *b) of x (0 <= x < n) where lo <= f0 + x d <= hi, in the fixed point the warp
 * steps with. */
static void inside(int64_t f0, int64_t d, int64_t lo, int64_t hi, int n, int *a, int *b)
{
    int xa = 0, xb = n;
    if (d == 0) {
        if (f0 < lo || f0 > hi) xb = 0;
    } else {
        double u = (double)(lo - f0) / (double)d, v = (double)(hi - f0) / (double)d;
        if (u > v) {
            double t = u;
            u = v, v = t;
        }
        xa = u <= 0 ? 0 : u >= n ? n : (int)ceil(u);
        xb = v < 0 ? 0 : v >= n - 1 ? n : (int)floor(v) + 1;
        /* the rounding of the bounds: step in until exact */
        while (xa < xb && (f0 + xa * d < lo || f0 + xa * d > hi)) xa++;
        while (xb > xa && (f0 + (xb - 1) * d < lo || f0 + (xb - 1) * d > hi)) xb--;
    }
    if (xa > *a) *a = xa;
    if (xb < *b) *b = xb;
}

int64_t vg_warp_affine(vg_image_t *dst, const vg_image_t *src, const double m[6])
{
    int bpp = vg_pix_fmt_bpp(src->fmt);
    if (dst->fmt != src->fmt || (bpp != 1 && bpp != 3) || src->w < 2 || src->h < 2)
        return VG_EINVAL;
    /* 16.16 fixed point; the source must lie in [0, w - 1] x [0, h - 1] */
    const int64_t maxx = (int64_t)(src->w - 1) << 16, maxy = (int64_t)(src->h - 1) << 16;
    const int64_t dxx = llround(m[0] * 65536), dyx = llround(m[3] * 65536);
    const ptrdiff_t ss = src->stride;
    int64_t written = 0;
    for (int y = 0; y < dst->h; y++) {
        uint8_t *o = vg_image_row(dst, y);
        const int64_t fx0 = llround((m[1] * y + m[2]) * 65536),
                      fy0 = llround((m[4] * y + m[5]) * 65536);
        int xa = 0, xb = dst->w;
        inside(fx0, dxx, 0, maxx, dst->w, &xa, &xb);
        inside(fy0, dyx, 0, maxy, dst->w, &xa, &xb);
        if (xa >= xb) continue;
        written += xb - xa;
        int64_t fx = fx0 + xa * dxx, fy = fy0 + xa * dyx;
        if (dxx == 65536 && dyx == 0) {
            /* a shift along the row: the same weights for the whole row, a loop the compiler
             * vectorises; the last pixel, whose right neighbour may be past the edge, below */
            int x0 = (int)(fx >> 16), y0 = (int)(fy >> 16);
            unsigned wx = (unsigned)(fx >> 8) & 255, wy = (unsigned)(fy >> 8) & 255;
            const uint8_t *restrict r0 = src->data + y0 * ss + x0 * bpp;
            const uint8_t *restrict r1 = y0 + 1 < src->h ? r0 + ss : r0;
            int last = xb - 1;
            if (x0 + (last - xa) + 1 < src->w) last = xb; /* every right neighbour exists */
            const int nb = (last - xa) * bpp;
            uint8_t *restrict q = o + xa * bpp;
            const uint32_t ax = 256 - wx, ay = 256 - wy;
            for (int i = 0; i < nb; i++) {
                uint32_t a = r0[i] * ax + r0[i + bpp] * wx, b = r1[i] * ax + r1[i + bpp] * wx;
                q[i] = (uint8_t)((a * ay + b * wy + 32768) >> 16);
            }
            if (last < xb) /* the one pixel on the source's last column: wx is 0 there */
                for (int c = 0; c < bpp; c++)
                    q[nb + c] =
                        (uint8_t)((r0[nb + c] * 256 * ay + r1[nb + c] * 256 * wy + 32768) >> 16);
            continue;
        }
        if (bpp == 1) {
            for (int x = xa; x < xb; x++, fx += dxx, fy += dyx) {
                int x0 = (int)(fx >> 16), y0 = (int)(fy >> 16);
                unsigned wx = (unsigned)(fx >> 8) & 255, wy = (unsigned)(fy >> 8) & 255;
                const uint8_t *r0 = src->data + y0 * ss + x0;
                /* at the last column or row the weight is 0: read the pixel itself */
                int dx1 = x0 + 1 < src->w, dy1 = y0 + 1 < src->h ? (int)ss : 0;
                unsigned a = r0[0] * (256 - wx) + r0[dx1] * wx;
                unsigned b = r0[dy1] * (256 - wx) + r0[dy1 + dx1] * wx;
                o[x] = (uint8_t)((a * (256 - wy) + b * wy + 32768) >> 16);
            }
        } else {
            for (int x = xa; x < xb; x++, fx += dxx, fy += dyx) {
                int x0 = (int)(fx >> 16), y0 = (int)(fy >> 16);
                unsigned wx = (unsigned)(fx >> 8) & 255, wy = (unsigned)(fy >> 8) & 255;
                const uint8_t *r0 = src->data + y0 * ss + x0 * 3;
                int dx1 = x0 + 1 < src->w ? 3 : 0, dy1 = y0 + 1 < src->h ? (int)ss : 0;
                uint8_t *q = o + x * 3;
                for (int c = 0; c < 3; c++) {
                    unsigned a = r0[c] * (256 - wx) + r0[c + dx1] * wx;
                    unsigned b = r0[c + dy1] * (256 - wx) + r0[c + dy1 + dx1] * wx;
                    q[c] = (uint8_t)((a * (256 - wy) + b * wy + 32768) >> 16);
                }
            }
        }
    }
    return written;
}

/* Reduce @g by s x s block means into e->cur. */
static void reduce(vg_ego_t *e, const vg_image_t *g)
{
    const int s = e->s, area = s * s;
    if (s == 1) {
        for (int y = 0; y < e->rh; y++)
            memcpy(e->cur + (size_t)y * e->rw, vg_image_row(g, y), (size_t)e->rw);
        return;
    }
    uint32_t acc[MAX_RED_W * 2 + 2];
    for (int y = 0; y < e->rh; y++) {
        memset(acc, 0, (size_t)e->rw * sizeof(*acc));
        for (int k = 0; k < s; k++) {
            const uint8_t *r = vg_image_row(g, y * s + k);
            for (int x = 0; x < e->rw; x++) {
                const uint8_t *q = r + x * s;
                uint32_t sum = 0;
                for (int j = 0; j < s; j++) sum += q[j];
                acc[x] += sum;
            }
        }
        uint8_t *o = e->cur + (size_t)y * e->rw;
        for (int x = 0; x < e->rw; x++) o[x] = (uint8_t)((acc[x] + area / 2) / area);
    }
}

/* e->cur carried into the reference's view by @m (reduced pixels) into e->warped; e->valid
 * marks the pixels inside the frame. Returns the share of them. Outside: the reference's own
 * value (so that the flow sees no edge there). */
static double warp_reduced(vg_ego_t *e, const double m[6])
{
    vg_image_t src = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->cur};
    vg_image_t dst = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->warped};
    size_t n = (size_t)e->rw * e->rh;
    memcpy(e->warped, e->ref8, n);
    memset(e->valid, 0, n);
    int64_t in = vg_warp_affine(&dst, &src, m);
    /* the same ranges as the warp's, for the mask */
    const int64_t maxx = (int64_t)(e->rw - 1) << 16, maxy = (int64_t)(e->rh - 1) << 16;
    const int64_t dxx = llround(m[0] * 65536), dyx = llround(m[3] * 65536);
    for (int y = 0; y < e->rh; y++) {
        const int64_t fx0 = llround((m[1] * y + m[2]) * 65536),
                      fy0 = llround((m[4] * y + m[5]) * 65536);
        int xa = 0, xb = e->rw;
        inside(fx0, dxx, 0, maxx, e->rw, &xa, &xb);
        inside(fy0, dyx, 0, maxy, e->rw, &xa, &xb);
        if (xa < xb) memset(e->valid + (size_t)y * e->rw + xa, 1, (size_t)(xb - xa));
    }
    return in < 0 ? 0 : (double)in / (double)n;
}

/* Similarity by weighted least squares over points @idx (n of them): (x, y) -> (u, v). */
static int fit_similarity(const float *pts, const int *idx, int n, double m[6])
{
    double sx = 0, sy = 0, su = 0, sv = 0;
    if (n < 2) return 0;
    for (int i = 0; i < n; i++) {
        const float *p = pts + 4 * idx[i];
        sx += p[0], sy += p[1], su += p[2], sv += p[3];
    }
    sx /= n, sy /= n, su /= n, sv /= n;
    double num_a = 0, num_b = 0, den = 0;
    for (int i = 0; i < n; i++) {
        const float *p = pts + 4 * idx[i];
        double xc = p[0] - sx, yc = p[1] - sy, uc = p[2] - su, vc = p[3] - sv;
        num_a += xc * uc + yc * vc;
        num_b += xc * vc - yc * uc;
        den += xc * xc + yc * yc;
    }
    if (den < 1e-9) return 0;
    double a = num_a / den, b = num_b / den;
    m[0] = a, m[1] = -b, m[2] = su - a * sx + b * sy;
    m[3] = b, m[4] = a, m[5] = sv - b * sx - a * sy;
    return 1;
}

static inline double residual2(const float *p, const double m[6])
{
    double du = m[0] * p[0] + m[1] * p[1] + m[2] - p[2];
    double dv = m[3] * p[0] + m[4] * p[1] + m[5] - p[3];
    return du * du + dv * dv;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return *s = x;
}

/* Robust similarity over e->pts (n points): RANSAC then least squares on the inliers, twice.
 * Returns the number of inliers (0: no fit) and the motion in @m. */
static int robust_fit(vg_ego_t *e, int n, double m[6], int *idx)
{
    const double thr2 = INLIER_PX * INLIER_PX;
    uint32_t seed = 0x9e3779b9u;
    int best = 0;
    double bm[6];
    if (n < MIN_POINTS) return 0;
    for (int it = 0; it < RANSAC_IT; it++) {
        int i = (int)(xorshift(&seed) % (uint32_t)n), j = (int)(xorshift(&seed) % (uint32_t)n);
        const float *a = e->pts + 4 * i, *b = e->pts + 4 * j;
        double dx = a[0] - b[0], dy = a[1] - b[1];
        if (dx * dx + dy * dy < 100) continue; /* too close to tell rotation from noise */
        int pair[2] = {i, j};
        double cm[6];
        if (!fit_similarity(e->pts, pair, 2, cm)) continue;
        int c = 0;
        for (int k = 0; k < n; k++) c += residual2(e->pts + 4 * k, cm) < thr2;
        if (c > best) best = c, memcpy(bm, cm, sizeof(bm));
    }
    if (best < 2) return 0;
    for (int pass = 0; pass < 2; pass++) {
        int c = 0;
        for (int k = 0; k < n; k++)
            if (residual2(e->pts + 4 * k, bm) < thr2) idx[c++] = k;
        if (c < 2 || !fit_similarity(e->pts, idx, c, bm)) break;
    }
    int c = 0;
    for (int k = 0; k < n; k++) c += residual2(e->pts + 4 * k, bm) < thr2;
    memcpy(m, bm, sizeof(bm));
    return c;
}

/* The textured points off the foreground, their flow from the reference to e->warped carried
 * through @m into the frame: e->pts. Returns their number. */
static int measure(vg_ego_t *e, const double m[6], vg_pool_t *pool)
{
    vg_image_t a = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->ref8};
    vg_image_t b = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->warped};
    int gw, gh, n = 0;
    double step;
    if (vg_flow_run(e->flow, &a, &b, pool) < 0) return 0;
    const float *g = vg_flow_grid(e->flow, &gw, &gh, &step);
    const int half = PATCH / 2;
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            double x = (i + 0.5) * step, y = (j + 0.5) * step;
            int x0 = (int)x - half, y0 = (int)y - half;
            if (x0 < 1 || y0 < 1 || x0 + PATCH + 1 > e->rw || y0 + PATCH + 1 > e->rh) continue;
            /* texture, foreground, validity over the patch */
            double gxx = 0, gyy = 0, gxy = 0;
            int bad = 0;
            for (int yy = y0; yy < y0 + PATCH && !bad; yy++) {
                const float *r = e->ref + (size_t)yy * e->rw;
                const uint8_t *f = e->fg + (size_t)yy * e->rw, *v = e->valid + (size_t)yy * e->rw;
                for (int xx = x0; xx < x0 + PATCH; xx++) {
                    if ((e->has_fg && f[xx]) || !v[xx]) {
                        bad = 1;
                        break;
                    }
                    double gx = (r[xx + 1] - r[xx - 1]) * 0.5,
                           gy = (r[xx + e->rw] - r[xx - e->rw]) * 0.5;
                    gxx += gx * gx, gyy += gy * gy, gxy += gx * gy;
                }
            }
            if (bad) continue;
            gxx /= PATCH * PATCH, gyy /= PATCH * PATCH, gxy /= PATCH * PATCH;
            double tr = gxx + gyy, det = gxx * gyy - gxy * gxy;
            double lmin = tr / 2 - sqrt(fmax(tr * tr / 4 - det, 0));
            if (lmin < TEX_MIN) continue;
            const float *u = g + 2 * ((size_t)j * gw + i);
            double px = x + u[0], py = y + u[1];
            float *p = e->pts + 4 * n++;
            p[0] = (float)x, p[1] = (float)y;
            p[2] = (float)(m[0] * px + m[1] * py + m[2]);
            p[3] = (float)(m[3] * px + m[4] * py + m[5]);
        }
    return n;
}

/* Follow the light: the reference moves towards the frame carried by @m, where it is valid. */
static void update_reference(vg_ego_t *e, const double m[6], double dt)
{
    double alpha = 1 - exp(-dt / e->p.reference_time);
    if (!(alpha > 0)) return;
    if (alpha > 1) alpha = 1;
    warp_reduced(e, m);
    size_t n = (size_t)e->rw * e->rh;
    for (size_t i = 0; i < n; i++) {
        if (!e->valid[i]) continue;
        e->ref[i] += (float)(alpha * (e->warped[i] - e->ref[i]));
        e->ref8[i] = (uint8_t)(e->ref[i] + 0.5f);
    }
}

void vg_ego_set_foreground(vg_ego_t *e, const vg_image_t *mask)
{
    if (!e) return;
    e->has_fg = 0;
    if (!mask || mask->w != e->w || mask->h != e->h) return;
    const int s = e->s;
    for (int y = 0; y < e->rh; y++) {
        uint8_t *o = e->fg + (size_t)y * e->rw;
        memset(o, 0, (size_t)e->rw);
        for (int k = 0; k < s; k++) {
            const uint8_t *r = vg_image_row(mask, y * s + k);
            for (int x = 0; x < e->rw; x++)
                for (int j = 0; j < s; j++) o[x] |= r[x * s + j] >= 128;
        }
    }
    /* a point's patch is checked whole: no dilation needed */
    e->has_fg = 1;
}

static void set_state(vg_ego_t *e, vg_view_state_t st, double t)
{
    if (e->last.state != st || !e->started) e->last.since = t;
    e->last.state = st;
}

int vg_ego_estimate(vg_ego_t *e, const vg_image_t *grey, double t, vg_ego_result_t *r,
                    vg_pool_t *pool)
{
    static const double ident[6] = {1, 0, 0, 0, 1, 0};
    if (!grey || grey->fmt != VG_PIX_GRAY8 || grey->w != e->w || grey->h != e->h) return VG_EINVAL;
    reduce(e, grey);
    size_t n = (size_t)e->rw * e->rh;
    if (!e->started) {
        for (size_t i = 0; i < n; i++) e->ref[i] = e->ref8[i] = e->cur[i];
        memcpy(e->mr, ident, sizeof(ident));
        memset(&e->last, 0, sizeof(e->last));
        e->last.fit = 1, e->last.inliers = 1, e->last.overlap = 1;
        set_state(e, VG_VIEW_STILL, t);
        e->started = 1;
        e->t_prev = t;
        memcpy(e->last.m, ident, sizeof(ident));
        e->hist[0].t = t, memcpy(e->hist[0].m, ident, sizeof(ident));
        e->nhist = 1, e->hpos = 1;
        *r = e->last;
        return 0;
    }
    double m[6], mr[6];
    int pts = 0, in = 0, fit = 0;
    double overlap = 0;
    /* from the last trusted motion, then (a pause) from the scene's own view */
    for (int attempt = 0; attempt < 2 && !fit; attempt++) {
        const double *start = attempt ? ident : e->mr;
        if (attempt && !memcmp(e->mr, ident, sizeof(ident))) break;
        if (attempt && !e->paused) break;
        overlap = warp_reduced(e, start);
        pts = measure(e, start, pool);
        in = robust_fit(e, pts, mr, e->idx);
        fit = in >= MIN_POINTS && pts > 0 && (double)in / pts >= e->p.min_inliers;
    }
    double dt = t - e->t_prev;
    e->t_prev = t;
    if (fit) {
        /* a rotation or zoom that moves no corner by 0.05 px is below what is measured: a shift
         * is resampled many times faster (vg_warp_affine's shift path) */
        if ((fabs(mr[0] - 1) + fabs(mr[1])) * (e->rw + e->rh) * e->s < 0.1) {
            double cx = (e->rw - 1) / 2.0, cy = (e->rh - 1) / 2.0;
            double mx = mr[0] * cx + mr[1] * cy + mr[2], my = mr[3] * cx + mr[4] * cy + mr[5];
            mr[0] = mr[4] = 1, mr[1] = mr[3] = 0, mr[2] = mx - cx, mr[5] = my - cy;
        }
        memcpy(e->mr, mr, sizeof(mr));
        /* the share of the view in the frame, for this motion */
        overlap = warp_reduced(e, mr);
    }
    unscale(m, e->mr, e->s);
    /* speed: corners against the motion SPEED_SPAN ago */
    double speed = 0;
    for (int k = 0; k < e->nhist; k++) {
        int i = (e->hpos - 1 - k + HIST) % HIST;
        double span = t - e->hist[i].t;
        if (span >= SPEED_SPAN * 0.9 || k == e->nhist - 1) {
            if (span > 0.05) speed = corner_distance(m, e->hist[i].m, e->w, e->h) / span;
            if (span >= SPEED_SPAN * 0.9) break;
        }
    }
    e->hist[e->hpos].t = t, memcpy(e->hist[e->hpos].m, m, sizeof(m));
    e->hpos = (e->hpos + 1) % HIST;
    if (e->nhist < HIST) e->nhist++;

    vg_ego_result_t *l = &e->last;
    memcpy(l->m, m, sizeof(m));
    l->fit = fit;
    l->points = pts;
    l->inliers = pts ? (double)in / pts : 0;
    l->overlap = overlap;
    l->offset = vg_ego_offset(m, e->w, e->h);
    l->speed = speed;
    int calm = fit && speed <= e->p.max_speed * e->w && overlap >= e->p.min_overlap;
    if (!calm) {
        e->calm_since = -1;
        e->paused = 1;
        set_state(e, fit && speed <= e->p.max_speed * e->w ? VG_VIEW_OFF : VG_VIEW_MOVING, t);
    } else {
        if (e->calm_since < 0) e->calm_since = t;
        if (e->paused && t - e->calm_since < e->p.settle) {
            set_state(e, VG_VIEW_MOVING, t);
        } else {
            e->paused = 0;
            set_state(e, l->offset < e->p.deadband ? VG_VIEW_STILL : VG_VIEW_COMPENSATED, t);
            if (dt > 0) update_reference(e, e->mr, dt);
        }
    }
    *r = *l;
    return 0;
}
