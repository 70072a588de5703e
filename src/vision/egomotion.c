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
 *   grid of points every 8 reduced pixels. A point counts where the reference has texture (the
 *   smaller eigenvalue of its patch's structure tensor), where the last analysed frame had no
 *   foreground (people and vehicles move on their own), and inside the frame.
 * - A similarity (shift, rotation, zoom: 4 parameters; mode moving) or a homography (8
 *   parameters; mode drone: a camera looking at the ground, whose perspective changes as it
 *   pitches and rolls; mode auto fits both and takes the homography for good once it explains
 *   clearly more points for half a second) is fitted robustly: RANSAC on minimal samples (2 points,
 * 4 points; a fixed seed: the same frames give the same answer), then least squares on the inliers
 * twice (the homography through its 8 x 8 normal equations on centred, scaled coordinates). The
 * share of inliers says how far to trust it. When the fit fails from the previous motion, it is
 * tried again from the scene's own view (a PTZ camera back on its preset after a move the flow
 * could not follow).
 * - The state: a frame is analysed when the fit is trusted (points and inliers), the camera moves
 *   slower than max_speed (corners over the last half second: a shake goes back and forth, a PTZ
 *   move does not) and at least min_overlap of the view is in the frame; below `deadband` px the
 *   frame is left as it came (a fixed camera's pictures are not resampled). After a pause,
 *   analysis resumes once all this has held for `settle` seconds.
 *
 * Resampling (vg_warp_affine): rows cut into segments short enough that the motion's rotation
 * and zoom move their ends by 0.05 px at most from a plain shift, each sampled as that shift (a
 * loop the compiler vectorises); per pixel where that would take segments under 16 pixels, and
 * for a homography (vg_warp_perspective).
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
/* grey levels squared per pixel: the smallest eigenvalue of a point's patch, below which it has
 * no texture to measure. Measured on the development clips (bench-egomotion, day and --dark
 * 0.25; test_moving): at 6 the AVSS platform at night keeps too few points and is held (analysed
 * 2 % of the time: no analysis, no false alert); at 2 it is analysed (0.37 px), day errors move
 * by ±0.07 px, but CDnet's wrong ways under the slow pan kept 15 of the still clip's 21 vehicles
 * (18 at 6): 6 kept, night left as a known limit (docs/motion.md). */
#ifndef TEX_MIN
#define TEX_MIN 6.0
#endif
#define SPEED_SPAN 0.5 /* s over which speed is measured */
#define HIST       64  /* frames of history kept for the speed */
/* mode auto: the homography is chosen once it explains AUTO_GAIN times the similarity's inliers
 * and AUTO_MORE more, on every frame for AUTO_TIME seconds; then kept (a drone stays a drone: a
 * view whose tilt swings through level would otherwise fall back to the similarity each time and
 * be misplaced for AUTO_TIME as the tilt grows again) */
#define AUTO_GAIN 1.15
#define AUTO_MORE 8
#define AUTO_TIME 0.5

#define OFF(x) offsetof(vg_ego_params_t, x)
#define D(n, f, dv, lo, hi, u, h)                                                                  \
    {                                                                                              \
        .name = n, .type = VG_OPT_DOUBLE, .offset = OFF(f), .def.d = dv, .min = lo, .max = hi,     \
        .unit = u, .help = h                                                                       \
    }
static const char *const mode_names[] = {"fixed", "moving", "drone", "auto", NULL};

static const vg_option_t ego_options[] = {
    {.name = "mode",
     .type = VG_OPT_ENUM,
     .offset = OFF(mode),
     .def.i = VG_CAMERA_FIXED,
     .choices = mode_names,
     .help = "fixed (the picture is analysed as it comes), moving (a shaking mast, a "
             "pan-tilt-zoom camera: its motion is measured as a shift, rotation and zoom, the "
             "picture carried back into the scene's view, analysis held while it moves too fast "
             "or looks elsewhere), drone (the same with the perspective of a camera looking at "
             "the ground: a homography) or auto (the same, the homography chosen when it "
             "explains the picture clearly better: a drone detected)"},
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
    uint16_t *col; /* a row of column sums, the frame's width (the reduction) */
    float *pts;    /* measured points: x, y (reference), u, v (frame), reduced pixels */
    int *idx;      /* inliers' indices, as many */
    int started, has_fg, paused;
    int use_h;         /* the homography is the model (mode drone, or auto having chosen it) */
    double vote_since; /* mode auto: since when every frame has voted against the model (-1) */
    double mr[9];      /* the last trusted motion, reduced pixels (3 x 3, row by row) */
    double t_prev;     /* the last frame's time */
    double calm_since;
    vg_ego_result_t last;
    struct {
        double t, m[9];
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
    vg_free(e->col);
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
        !(e->idx = vg_malloc((n / (STRIDE * STRIDE) + 4) * sizeof(int))) ||
        !(e->col = vg_malloc((size_t)w * sizeof(uint16_t)))) {
        vg_ego_free(&e);
        return VG_ENOMEM;
    }
    if ((ret = vg_flow_new(&e->flow, &fp, e->rw, e->rh)) < 0) {
        vg_ego_free(&e);
        return ret;
    }
    e->calm_since = -1;
    e->vote_since = -1;
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

static void mul3(double o[9], const double a[9], const double b[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(o, r, sizeof(r));
}

void vg_ego_scale_h(double o[9], const double h[9], double s)
{
    /* S takes a reduced pixel to its full-size centre: x -> s x + c; the reduced motion is
     * S^-1 H S */
    double c = (s - 1) / 2;
    const double S[9] = {s, 0, c, 0, s, c, 0, 0, 1},
                 Si[9] = {1 / s, 0, -c / s, 0, 1 / s, -c / s, 0, 0, 1};
    mul3(o, Si, h);
    mul3(o, o, S);
    if (o[8] != 0 && o[8] != 1)
        for (int k = 0; k < 9; k++) o[k] /= o[8];
}

/* The inverse of vg_ego_scale_h: a reduced picture's motion on the full-size one. */
static void unscale(double o[9], const double h[9], double s)
{
    vg_ego_scale_h(o, h, 1 / s);
}

static inline void apply(const double h[9], double x, double y, double *u, double *v)
{
    double w = h[6] * x + h[7] * y + h[8];
    *u = (h[0] * x + h[1] * y + h[2]) / w;
    *v = (h[3] * x + h[4] * y + h[5]) / w;
}

static int is_affine(const double h[9])
{
    return h[6] == 0 && h[7] == 0 && h[8] == 1;
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
static double corner_distance(const double a[9], const double b[9], int w, int h)
{
    double best = 0, cx[4] = {0, w - 1.0, 0, w - 1.0}, cy[4] = {0, 0, h - 1.0, h - 1.0};
    for (int k = 0; k < 4; k++) {
        double ua, va, ub, vb;
        apply(a, cx[k], cy[k], &ua, &va);
        apply(b, cx[k], cy[k], &ub, &vb);
        double d = sqrt((ua - ub) * (ua - ub) + (va - vb) * (va - vb));
        if (d > best) best = d;
    }
    return best;
}

double vg_ego_offset_h(const double h[9], int w, int hh)
{
    static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    return corner_distance(h, id, w, hh);
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

/* One pixel (@bpp bytes at @o) sampled from @src at (fx, fy), 16.16 fixed point, inside. */
static inline void sample(uint8_t *o, const vg_image_t *src, int bpp, int64_t fx, int64_t fy)
{
    int x0 = (int)(fx >> 16), y0 = (int)(fy >> 16);
    unsigned wx = (unsigned)(fx >> 8) & 255, wy = (unsigned)(fy >> 8) & 255;
    const uint8_t *r0 = src->data + y0 * src->stride + x0 * bpp;
    /* at the last column or row the weight is 0: read the pixel itself */
    int dx1 = x0 + 1 < src->w ? bpp : 0, dy1 = y0 + 1 < src->h ? (int)src->stride : 0;
    for (int c = 0; c < bpp; c++) {
        unsigned a = r0[c] * (256 - wx) + r0[c + dx1] * wx;
        unsigned b = r0[c + dy1] * (256 - wx) + r0[c + dy1 + dx1] * wx;
        o[c] = (uint8_t)((a * (256 - wy) + b * wy + 32768) >> 16);
    }
}

/* Pixels [xa, xb) of a row, each sampled at its own position (fx, fy stepping by dxx, dyx). */
static void warp_run(uint8_t *o, const vg_image_t *src, int bpp, int xa, int xb, int64_t fx,
                     int64_t fy, int64_t dxx, int64_t dyx)
{
    for (int x = xa; x < xb; x++, fx += dxx, fy += dyx) sample(o + x * bpp, src, bpp, fx, fy);
}

/* @nb bytes from rows @r0, @r1 shifted by the same fraction (wx, wy in 1/256): a loop the
 * compiler vectorises. */
static void shift_run(uint8_t *restrict q, const uint8_t *restrict r0, const uint8_t *restrict r1,
                      int nb, int bpp, uint32_t wx, uint32_t wy)
{
    const uint32_t ax = 256 - wx, ay = 256 - wy;
    for (int i = 0; i < nb; i++) {
        uint32_t a = r0[i] * ax + r0[i + bpp] * wx, b = r1[i] * ax + r1[i + bpp] * wx;
        q[i] = (uint8_t)((a * ay + b * wy + 32768) >> 16);
    }
}

/* The largest error a shifted segment may make, in 1/65536 px: 0.05 px at its ends. */
#define SEG_ERR 3277

int64_t vg_warp_affine(vg_image_t *dst, const vg_image_t *src, const double m[6])
{
    int bpp = vg_pix_fmt_bpp(src->fmt);
    if (dst->fmt != src->fmt || (bpp != 1 && bpp != 3) || src->w < 2 || src->h < 2)
        return VG_EINVAL;
    /* 16.16 fixed point; the source must lie in [0, w - 1] x [0, h - 1] */
    const int64_t maxx = (int64_t)(src->w - 1) << 16, maxy = (int64_t)(src->h - 1) << 16;
    const int64_t dxx = llround(m[0] * 65536), dyx = llround(m[3] * 65536);
    const ptrdiff_t ss = src->stride;
    /* Along a row the source moves by (dxx, dyx) a pixel: one pixel exactly, plus a drift.
     * Cut the row into segments short enough that the drift stays within SEG_ERR of the
     * segment's middle, and sample each as a plain shift (a camera's shake is a shift with a
     * rotation and zoom of a few thousandths at most: segments of hundreds of pixels); a
     * segment whose source reaches the picture's edge, or a drift too fast for segments of 16
     * pixels (a real zoom or rotation), is sampled pixel by pixel. */
    int64_t drift = llabs(dxx - 65536) > llabs(dyx) ? llabs(dxx - 65536) : llabs(dyx);
    int seg = drift ? (int)((2 * SEG_ERR) / drift) : dst->w;
    if (seg > dst->w) seg = dst->w;
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
        if (seg < 16) {
            warp_run(o, src, bpp, xa, xb, fx0 + xa * dxx, fy0 + xa * dyx, dxx, dyx);
            continue;
        }
        for (int xs = xa; xs < xb; xs += seg) {
            int xe = xs + seg < xb ? xs + seg : xb, xc = (xs + xe - 1) / 2;
            int64_t fxc = fx0 + xc * dxx, fyc = fy0 + xc * dyx;
            int x0 = (int)(fxc >> 16) - (xc - xs), y0 = (int)(fyc >> 16);
            if (x0 < 0 || x0 + (xe - xs) > src->w - 1 || y0 < 0 || y0 + 1 > src->h - 1) {
                warp_run(o, src, bpp, xs, xe, fx0 + xs * dxx, fy0 + xs * dyx, dxx, dyx);
                continue;
            }
            const uint8_t *r0 = src->data + y0 * ss + x0 * bpp;
            shift_run(o + xs * bpp, r0, r0 + ss, (xe - xs) * bpp, bpp, (uint32_t)(fxc >> 8) & 255,
                      (uint32_t)(fyc >> 8) & 255);
        }
    }
    return written;
}

int64_t vg_warp_perspective(vg_image_t *dst, const vg_image_t *src, const double h[9])
{
    int bpp = vg_pix_fmt_bpp(src->fmt);
    if (dst->fmt != src->fmt || (bpp != 1 && bpp != 3) || src->w < 2 || src->h < 2)
        return VG_EINVAL;
    if (is_affine(h)) return vg_warp_affine(dst, src, h);
    const double mx = src->w - 1, my = src->h - 1;
    int64_t written = 0;
    for (int y = 0; y < dst->h; y++) {
        uint8_t *o = vg_image_row(dst, y);
        double nx = h[1] * y + h[2], ny = h[4] * y + h[5], nw = h[7] * y + h[8];
        for (int x = 0; x < dst->w; x++, nx += h[0], ny += h[3], nw += h[6]) {
            if (nw <= 0) continue;
            double sx = nx / nw, sy = ny / nw;
            if (!(sx >= 0 && sy >= 0 && sx <= mx && sy <= my)) continue;
            sample(o + x * bpp, src, bpp, (int64_t)(sx * 65536 + 0.5), (int64_t)(sy * 65536 + 0.5));
            written++;
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
    /* the s rows summed down (a loop the compiler vectorises), then s columns across */
    uint16_t *restrict col = e->col;
    const int n = e->rw * s;
    for (int y = 0; y < e->rh; y++) {
        memset(col, 0, (size_t)n * sizeof(*col));
        for (int k = 0; k < s; k++) {
            const uint8_t *restrict r = vg_image_row(g, y * s + k);
            for (int x = 0; x < n; x++) col[x] = (uint16_t)(col[x] + r[x]);
        }
        uint8_t *o = e->cur + (size_t)y * e->rw;
        for (int x = 0; x < e->rw; x++) {
            uint32_t sum = 0;
            for (int j = 0; j < s; j++) sum += col[x * s + j];
            o[x] = (uint8_t)((sum + area / 2) / area);
        }
    }
}

/* e->cur carried into the reference's view by @m (reduced pixels) into e->warped; e->valid
 * marks the pixels inside the frame. Returns the share of them. Outside: the reference's own
 * value (so that the flow sees no edge there). */
static double warp_reduced(vg_ego_t *e, const double m[9])
{
    vg_image_t src = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->cur};
    vg_image_t dst = {e->rw, e->rh, e->rw, VG_PIX_GRAY8, e->warped};
    size_t n = (size_t)e->rw * e->rh;
    memcpy(e->warped, e->ref8, n);
    memset(e->valid, 0, n);
    if (!is_affine(m)) {
        int64_t in = vg_warp_perspective(&dst, &src, m);
        const double mx = e->rw - 1, my = e->rh - 1;
        for (int y = 0; y < e->rh; y++)
            for (int x = 0; x < e->rw; x++) {
                double u, v;
                apply(m, x, y, &u, &v);
                e->valid[(size_t)y * e->rw + x] = u >= 0 && v >= 0 && u <= mx && v <= my;
            }
        return in < 0 ? 0 : (double)in / (double)n;
    }
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
static int fit_similarity(const float *pts, const int *idx, int n, double m[9])
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
    m[6] = m[7] = 0, m[8] = 1;
    return 1;
}

/* Solve the n x n system A x = b (A row by row, destroyed) by Gaussian elimination with partial
 * pivoting. 0 when singular. */
static int solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
        if (fabs(A[piv * n + c]) < 1e-12) return 0;
        if (piv != c) {
            for (int k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[piv * n + k], A[piv * n + k] = t;
            }
            double t = b[c];
            b[c] = b[piv], b[piv] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double v = b[c];
        for (int k = c + 1; k < n; k++) v -= A[c * n + k] * b[k];
        b[c] = v / A[c * n + c];
    }
    return 1;
}

/* Homography by least squares over points @idx (n >= 4), h[8] = 1, on coordinates centred on
 * @cx, @cy and scaled by @k (conditioning): the 8 x 8 normal equations. */
static int fit_homography(const float *pts, const int *idx, int n, double cx, double cy, double k,
                          double h[9])
{
    double A[64] = {0}, b[8] = {0};
    if (n < 4) return 0;
    for (int i = 0; i < n; i++) {
        const float *p = pts + 4 * idx[i];
        double x = (p[0] - cx) * k, y = (p[1] - cy) * k, u = (p[2] - cx) * k, v = (p[3] - cy) * k;
        const double r1[8] = {x, y, 1, 0, 0, 0, -x * u, -y * u};
        const double r2[8] = {0, 0, 0, x, y, 1, -x * v, -y * v};
        for (int a = 0; a < 8; a++) {
            for (int c = 0; c < 8; c++) A[a * 8 + c] += r1[a] * r1[c] + r2[a] * r2[c];
            b[a] += r1[a] * u + r2[a] * v;
        }
    }
    if (!solve(A, b, 8)) return 0;
    double hn[9] = {b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], 1};
    /* back to pixels: T^-1 Hn T, T = [k 0 -k cx; 0 k -k cy; 0 0 1] */
    const double T[9] = {k, 0, -k * cx, 0, k, -k * cy, 0, 0, 1};
    const double Ti[9] = {1 / k, 0, cx, 0, 1 / k, cy, 0, 0, 1};
    mul3(h, Ti, hn);
    mul3(h, h, T);
    if (h[8] == 0) return 0;
    for (int j = 0; j < 9; j++) h[j] /= h[8];
    return 1;
}

static inline double residual2(const float *p, const double m[9])
{
    double u, v;
    apply(m, p[0], p[1], &u, &v);
    return (u - p[2]) * (u - p[2]) + (v - p[3]) * (v - p[3]);
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return *s = x;
}

/* Robust similarity over e->pts (n points): RANSAC then least squares on the inliers, twice.
 * Returns the number of inliers (0: no fit) and the motion in @m. */
static int fit_model(const vg_ego_t *e, int homography, const int *idx, int n, double m[9])
{
    if (homography)
        return fit_homography(e->pts, idx, n, e->rw / 2.0, e->rh / 2.0, 2.0 / (e->rw + e->rh), m);
    return fit_similarity(e->pts, idx, n, m);
}

static int robust_fit(vg_ego_t *e, int homography, int n, double m[9], int *idx)
{
    const double thr2 = INLIER_PX * INLIER_PX;
    const int ns = homography ? 4 : 2; /* a minimal sample */
    uint32_t seed = 0x9e3779b9u;
    int best = 0;
    double bm[9];
    if (n < MIN_POINTS) return 0;
    for (int it = 0; it < RANSAC_IT * (ns == 4 ? 2 : 1); it++) {
        int sample[4], ok = 1;
        for (int q = 0; q < ns; q++) sample[q] = (int)(xorshift(&seed) % (uint32_t)n);
        /* points too close tell rotation (and perspective) from noise badly */
        for (int q = 0; q < ns && ok; q++)
            for (int r = q + 1; r < ns && ok; r++) {
                const float *a = e->pts + 4 * sample[q], *b = e->pts + 4 * sample[r];
                double dx = a[0] - b[0], dy = a[1] - b[1];
                ok = dx * dx + dy * dy >= 100;
            }
        if (!ok) continue;
        double cm[9];
        if (!fit_model(e, homography, sample, ns, cm)) continue;
        int c = 0;
        for (int k = 0; k < n; k++) c += residual2(e->pts + 4 * k, cm) < thr2;
        if (c > best) best = c, memcpy(bm, cm, sizeof(bm));
    }
    if (best < ns) return 0;
    for (int pass = 0; pass < 2; pass++) {
        int c = 0;
        for (int k = 0; k < n; k++)
            if (residual2(e->pts + 4 * k, bm) < thr2) idx[c++] = k;
        if (c < ns || !fit_model(e, homography, idx, c, bm)) break;
    }
    int c = 0;
    for (int k = 0; k < n; k++) c += residual2(e->pts + 4 * k, bm) < thr2;
    memcpy(m, bm, sizeof(bm));
    return c;
}

/* The textured points off the foreground, their flow from the reference to e->warped carried
 * through @m into the frame: e->pts. Returns their number. */
static int measure(vg_ego_t *e, const double m[9], vg_pool_t *pool)
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
            double qu, qv;
            apply(m, px, py, &qu, &qv);
            p[0] = (float)x, p[1] = (float)y, p[2] = (float)qu, p[3] = (float)qv;
        }
    return n;
}

/* Follow the light: the reference moves towards the frame carried by the motion just fitted,
 * where it is valid. */
static void update_reference(vg_ego_t *e, double dt)
{
    /* e->warped and e->valid hold the frame carried by the motion just fitted */
    double alpha = 1 - exp(-dt / e->p.reference_time);
    if (!(alpha > 0)) return;
    if (alpha > 1) alpha = 1;
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

/* whether @in inliers of @pts measured points make a fit */
static int fits(const vg_ego_t *e, int in, int pts)
{
    return in >= MIN_POINTS && pts > 0 && (double)in / pts >= e->p.min_inliers;
}

static void set_state(vg_ego_t *e, vg_view_state_t st, double t)
{
    if (e->last.state != st || !e->started) e->last.since = t;
    e->last.state = st;
}

int vg_ego_estimate(vg_ego_t *e, const vg_image_t *grey, double t, vg_ego_result_t *r,
                    vg_pool_t *pool)
{
    static const double ident[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
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
        memcpy(e->last.h, ident, sizeof(ident));
        memcpy(e->last.m, ident, 6 * sizeof(double));
        e->hist[0].t = t, memcpy(e->hist[0].m, ident, sizeof(ident));
        e->nhist = 1, e->hpos = 1;
        *r = e->last;
        return 0;
    }
    double m[9], mr[9];
    int pts = 0, in = 0, fit = 0;
    double overlap = 0;
    /* mode auto: the vote of the attempt that explains the most points (one vote a frame: a
     * retry from the scene's view after a lost lock measures worse and must not reset the
     * count), and that attempt's homography */
    int vote_h = -1, best = -1, best_inh = 0, best_pts = 0;
    double best_mh[9];
    /* from the last trusted motion, then (a pause) from the scene's own view */
    for (int attempt = 0; attempt < 2 && !fit; attempt++) {
        const double *start = attempt ? ident : e->mr;
        if (attempt && !memcmp(e->mr, ident, sizeof(ident))) break;
        if (attempt && !e->paused) break;
        overlap = warp_reduced(e, start);
        pts = measure(e, start, pool);
        if (e->p.mode == VG_CAMERA_AUTO) {
            /* both models; the homography wins when it explains clearly more points for
             * AUTO_TIME (a camera looking down whose perspective changes), for good (the vote
             * is counted once the attempts are done) */
            double mh[9];
            int ins = robust_fit(e, 0, pts, mr, e->idx), inh = robust_fit(e, 1, pts, mh, e->idx);
            int most = inh > ins ? inh : ins;
            if (most > best) {
                best = most, best_inh = inh, best_pts = pts;
                vote_h = inh >= ins * AUTO_GAIN && inh >= ins + AUTO_MORE;
                memcpy(best_mh, mh, sizeof(mh));
            }
            in = e->use_h ? inh : ins;
            if (e->use_h) memcpy(mr, mh, sizeof(mh));
        } else {
            e->use_h = e->p.mode == VG_CAMERA_DRONE;
            in = robust_fit(e, e->use_h, pts, mr, e->idx);
        }
        fit = fits(e, in, pts);
    }
    if (vote_h >= 0) {
        if (e->use_h || !vote_h) {
            e->vote_since = -1;
        } else if (e->vote_since < 0) {
            e->vote_since = t;
        } else if (t - e->vote_since >= AUTO_TIME) {
            /* chosen: this frame already takes the homography where it fits */
            e->use_h = 1, e->vote_since = -1;
            if (fits(e, best_inh, best_pts)) {
                memcpy(mr, best_mh, sizeof(best_mh)), in = best_inh, pts = best_pts;
                fit = 1;
            }
        }
    }
    double dt = t - e->t_prev;
    e->t_prev = t;
    if (fit) {
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
    memcpy(l->h, m, sizeof(m));
    memcpy(l->m, m, 6 * sizeof(double)); /* the affine part: the motion itself unless drone */
    l->homography = e->use_h;
    l->fit = fit;
    l->points = pts;
    l->inliers = pts ? (double)in / pts : 0;
    l->overlap = overlap;
    l->offset = vg_ego_offset_h(m, e->w, e->h);
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
            if (dt > 0) update_reference(e, dt);
        }
    }
    *r = *l;
    return 0;
}
