/*
 * Optical flow: pyramidal Lucas–Kanade on a grid of patches (DIS's inverse search).
 *
 * Method (Kroeger et al., ECCV 2016, "Dense Inverse Search", its patch step; Baker & Matthews,
 * "Lucas-Kanade 20 Years On", for the inverse compositional update):
 * - Pyramids of both pictures by 2x2 averaging, as floats, from full size down to the last level
 *   whose smaller side is >= min_side; the gradient of the first picture at each level used.
 * - At each level from the coarsest to `finest`, a grid of points every `stride` pixels; a
 *   `patch` x `patch` patch of the first picture around each. Its flow starts from the coarser
 *   level's grid (bilinear, doubled) and takes `iterations` inverse-compositional Gauss-Newton
 *   steps on the mean-normalised difference (robust to a change of brightness): the patch's
 *   gradient and 2x2 Hessian are computed once, each step samples the second picture at the
 *   patch's current offset (one set of bilinear weights for the whole patch: translation only)
 *   and stops early below 0.01 px. A patch without texture (tiny Hessian) keeps its start.
 * - The result is the finest level's grid, in full-size pixels; a dense field is its bilinear
 *   interpolation (vg_flow_dense).
 * Compared with DIS: no densification weighting and no variational refinement (so motion
 * boundaries are smoother than DIS's); the same coarse-to-fine patch search.
 *
 * Invariants: each grid point is computed from the pictures and the coarser grid only, so the
 * output is bit-identical for any number of slice jobs; buffers are allocated once, in _new.
 */
#include <math.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/flow.h>
#include <vigie/mem.h>

#define MAX_LEVELS 12
#define MAX_PATCH  32
#ifndef MIN_EIG
#define MIN_EIG 0.3 /* grey levels squared per pixel */
#endif

const vg_flow_params_t vg_flow_default_params = {2, 8, 4, 5, 16};

/* The second picture's levels are padded by replicating their edges, so that a patch may be
 * sampled where the motion takes it beyond the picture's edge. */
#define PAD 24

typedef struct level {
    int w, h;
    float *gx, *gy; /* w*h each */
    float *buf[2];  /* (w + 2 PAD) x (h + 2 PAD) each: the two pictures, in turn */
    float *a, *b;   /* the first and second pictures, at (PAD, PAD) of one buffer each */
    int bs;         /* a's and b's stride */
    int gw, gh;     /* grid */
    float *flow;    /* gw*gh*2, pixels of this level */
} level_t;

struct vg_flow {
    vg_flow_params_t p;
    int w, h, nl; /* levels 0..nl-1 */
    level_t lv[MAX_LEVELS];
    float *grid;  /* the finest level's grid in full-size pixels */
    float *tmp;   /* a grid's size and three padded rows, for the median */
    int has_last; /* the levels' b hold the last picture given (vg_flow_next) */
};

void vg_flow_free(vg_flow_t **pf)
{
    vg_flow_t *f = *pf;
    if (!f) return;
    for (int k = 0; k < f->nl; k++) {
        vg_free(f->lv[k].buf[0]);
        vg_free(f->lv[k].buf[1]);
        vg_free(f->lv[k].gx);
        vg_free(f->lv[k].gy);
        vg_free(f->lv[k].flow);
    }
    vg_free(f->grid);
    vg_free(f->tmp);
    vg_free(f);
    *pf = NULL;
}

int vg_flow_new(vg_flow_t **out, const vg_flow_params_t *p, int w, int h)
{
    vg_flow_t *f;
    if (!p) p = &vg_flow_default_params;
    if (w < 16 || h < 16 || w > 16384 || h > 16384 || p->patch < 4 || p->patch > MAX_PATCH ||
        p->patch % 2 || p->stride < 1 || p->iterations < 1 || p->iterations > 100 ||
        p->finest < 0 || p->min_side < 8)
        return VG_EINVAL;
    f = vg_calloc(1, sizeof(*f));
    if (!f) return VG_ENOMEM;
    f->p = *p;
    f->w = w;
    f->h = h;
    for (int k = 0, lw = w, lh = h; k < MAX_LEVELS; k++, lw /= 2, lh /= 2) {
        /* level 0 always; a smaller one while it is large enough to search */
        if (k && (lw < p->min_side || lh < p->min_side || lw < p->patch + 2 || lh < p->patch + 2))
            break;
        level_t *l = &f->lv[k];
        size_t n = (size_t)lw * lh;
        l->w = lw;
        l->h = lh;
        f->nl = k + 1;
        l->bs = lw + 2 * PAD;
        for (int i = 0; i < 2; i++)
            if (!(l->buf[i] = vg_malloc((size_t)l->bs * (lh + 2 * PAD) * sizeof(float)))) {
                vg_flow_free(&f);
                return VG_ENOMEM;
            }
        l->a = l->buf[0] + (size_t)PAD * l->bs + PAD;
        l->b = l->buf[1] + (size_t)PAD * l->bs + PAD;
        if (k >= p->finest) {
            l->gw = lw / p->stride > 0 ? lw / p->stride : 1;
            l->gh = lh / p->stride > 0 ? lh / p->stride : 1;
            if (!(l->gx = vg_malloc(n * sizeof(float))) ||
                !(l->gy = vg_malloc(n * sizeof(float))) ||
                !(l->flow = vg_calloc((size_t)l->gw * l->gh * 2, sizeof(float)))) {
                vg_flow_free(&f);
                return VG_ENOMEM;
            }
        }
    }
    if (f->nl <= p->finest || f->lv[p->finest].w < p->patch + 2 ||
        f->lv[p->finest].h < p->patch + 2) {
        vg_flow_free(&f);
        return VG_EINVAL; /* the picture is too small for that finest level and patch */
    }
    f->grid = vg_calloc((size_t)f->lv[p->finest].gw * f->lv[p->finest].gh * 2, sizeof(float));
    f->tmp = vg_calloc((size_t)f->lv[p->finest].gw * f->lv[p->finest].gh * 2 +
                           3 * 2 * ((size_t)f->lv[p->finest].gw + 2),
                       sizeof(float));
    if (!f->grid || !f->tmp) {
        vg_flow_free(&f);
        return VG_ENOMEM;
    }
    *out = f;
    return 0;
}

/* Level 1 straight from the bytes, the others by halving the floats. */
static void half_u8(const vg_image_t *src, float *dst, int ds, int w, int h)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *r0 = vg_image_row(src, 2 * y), *r1 = vg_image_row(src, 2 * y + 1);
        float *d = dst + (ptrdiff_t)y * ds;
        for (int x = 0; x < w; x++)
            d[x] = 0.25f * (float)(r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
    }
}

static void half_f(const float *src, int ss, float *dst, int ds, int w, int h)
{
    for (int y = 0; y < h; y++) {
        const float *r0 = src + (ptrdiff_t)2 * y * ss, *r1 = r0 + ss;
        float *d = dst + (ptrdiff_t)y * ds;
        for (int x = 0; x < w; x++)
            d[x] = 0.25f * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
    }
}

static void to_float(const vg_image_t *src, float *dst, int ds)
{
    for (int y = 0; y < src->h; y++) {
        const uint8_t *r = vg_image_row(src, y);
        float *d = dst + (ptrdiff_t)y * ds;
        for (int x = 0; x < src->w; x++) d[x] = r[x];
    }
}

/* Replicate the edges of b into its padding. */
static void pad_b(level_t *l)
{
    for (int y = 0; y < l->h; y++) {
        float *r = l->b + (ptrdiff_t)y * l->bs;
        for (int x = 1; x <= PAD; x++) {
            r[-x] = r[0];
            r[l->w - 1 + x] = r[l->w - 1];
        }
    }
    for (int y = 1; y <= PAD; y++) {
        memcpy(l->b - PAD - (ptrdiff_t)y * l->bs, l->b - PAD, sizeof(float) * (size_t)l->bs);
        memcpy(l->b - PAD + (ptrdiff_t)(l->h - 1 + y) * l->bs,
               l->b - PAD + (ptrdiff_t)(l->h - 1) * l->bs, sizeof(float) * (size_t)l->bs);
    }
}

static void gradient(level_t *l)
{
    int w = l->w, h = l->h;
    for (int y = 0; y < h; y++) {
        const float *r = l->a + (size_t)y * l->bs;
        const float *up = l->a + (size_t)(y > 0 ? y - 1 : y) * l->bs;
        const float *dn = l->a + (size_t)(y < h - 1 ? y + 1 : y) * l->bs;
        float *gx = l->gx + (size_t)y * w, *gy = l->gy + (size_t)y * w;
        gx[0] = r[1] - r[0];
        for (int x = 1; x < w - 1; x++) gx[x] = 0.5f * (r[x + 1] - r[x - 1]);
        gx[w - 1] = r[w - 1] - r[w - 2];
        float s = (y > 0 && y < h - 1) ? 0.5f : 1.0f;
        for (int x = 0; x < w; x++) gy[x] = s * (dn[x] - up[x]);
    }
}

/* Bilinear value of a grid of vectors at grid coordinates (gx, gy), clamped. */
static void grid_at(const level_t *l, double gx, double gy, float *u, float *v)
{
    if (gx < 0) gx = 0;
    if (gy < 0) gy = 0;
    if (gx > l->gw - 1) gx = l->gw - 1;
    if (gy > l->gh - 1) gy = l->gh - 1;
    int x0 = (int)gx, y0 = (int)gy;
    int x1 = x0 + 1 < l->gw ? x0 + 1 : x0, y1 = y0 + 1 < l->gh ? y0 + 1 : y0;
    float fx = (float)(gx - x0), fy = (float)(gy - y0);
    const float *f00 = l->flow + 2 * ((size_t)y0 * l->gw + x0),
                *f01 = l->flow + 2 * ((size_t)y0 * l->gw + x1),
                *f10 = l->flow + 2 * ((size_t)y1 * l->gw + x0),
                *f11 = l->flow + 2 * ((size_t)y1 * l->gw + x1);
    float top = f00[0] + fx * (f01[0] - f00[0]), bot = f10[0] + fx * (f11[0] - f10[0]);
    *u = top + fy * (bot - top);
    top = f00[1] + fx * (f01[1] - f00[1]);
    bot = f10[1] + fx * (f11[1] - f10[1]);
    *v = top + fy * (bot - top);
}

/* One patch: the inverse compositional search from (u, v). */
static void search(const level_t *l, const vg_flow_params_t *p, int cx, int cy, float *u, float *v)
{
    const int n = p->patch, half = n / 2, w = l->w, h = l->h;
    float t[MAX_PATCH * MAX_PATCH], gxs[MAX_PATCH * MAX_PATCH], gys[MAX_PATCH * MAX_PATCH];
    int x0 = cx - half, y0 = cy - half;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x0 > w - n) x0 = w - n;
    if (y0 > h - n) y0 = h - n;
    double hxx = 0, hxy = 0, hyy = 0, sgx = 0, sgy = 0, st = 0;
    for (int y = 0, k = 0; y < n; y++) {
        const float *ra = l->a + (size_t)(y0 + y) * l->bs + x0;
        const float *rx = l->gx + (size_t)(y0 + y) * w + x0;
        const float *ry = l->gy + (size_t)(y0 + y) * w + x0;
        for (int x = 0; x < n; x++, k++) {
            t[k] = ra[x];
            gxs[k] = rx[x];
            gys[k] = ry[x];
            hxx += rx[x] * rx[x];
            hxy += rx[x] * ry[x];
            hyy += ry[x] * ry[x];
            sgx += rx[x];
            sgy += ry[x];
            st += ra[x];
        }
    }
    const double np = (double)n * n, mt = st / np;
    /* mean normalisation removes the gradient's mean from the Hessian */
    hxx -= sgx * sgx / np;
    hxy -= sgx * sgy / np;
    hyy -= sgy * sgy / np;
    const double det = hxx * hyy - hxy * hxy;
    /* the smaller eigenvalue, per pixel: too little texture in some direction (a flat patch,
     * a straight edge) cannot fix the motion: keep the start */
    const double tr2 = 0.5 * (hxx + hyy),
                 lmin = tr2 - sqrt(0.25 * (hxx - hyy) * (hxx - hyy) + hxy * hxy);
    if (det <= 0 || lmin < MIN_EIG * np) return;
    double pu = *u, pv = *v;
    for (int it = 0; it < p->iterations; it++) {
        double bx = x0 + pu, by = y0 + pv;
        if (bx < -PAD) bx = -PAD;
        if (by < -PAD) by = -PAD;
        if (bx > w - n - 1 + PAD) bx = w - n - 1 + PAD;
        if (by > h - n - 1 + PAD) by = h - n - 1 + PAD;
        int ix = (int)floor(bx), iy = (int)floor(by);
        float fx = (float)(bx - ix), fy = (float)(by - iy);
        float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        float s[MAX_PATCH * MAX_PATCH];
        double si = 0;
        for (int y = 0, k = 0; y < n; y++) {
            const float *r0 = l->b + (ptrdiff_t)(iy + y) * l->bs + ix, *r1 = r0 + l->bs;
            for (int x = 0; x < n; x++, k++) {
                s[k] = w00 * r0[x] + w01 * r0[x + 1] + w10 * r1[x] + w11 * r1[x + 1];
                si += s[k];
            }
        }
        const float off = (float)(si / np - mt);
        double ex = 0, ey = 0;
        for (int k = 0; k < n * n; k++) {
            float e = s[k] - t[k] - off;
            ex += gxs[k] * e;
            ey += gys[k] * e;
        }
        double du = (hyy * ex - hxy * ey) / det, dv = (hxx * ey - hxy * ex) / det;
        pu -= du;
        pv -= dv;
        if (du * du + dv * dv < 1e-4) break;
    }
    /* a search that ran away (flat or repetitive texture, a wrong start) keeps its start: the
     * coarser level already found the motion to within a pixel or two of this level */
    if (fabs(pu - *u) > half || fabs(pv - *v) > half) return;
    *u = (float)pu;
    *v = (float)pv;
}

/* A 3x3 median of each component over the grid: one wrong patch does not lead the finer
 * levels astray (the role DIS's densification weights play). Each value is the median of its
 * nine neighbours (edges replicated) by the 19 exchanges of a median network (Paeth's), written
 * as branchless minima and maxima over a row so that the compiler vectorises it; an exchange
 * keeps its two values, so the result is the same as sorting the nine. @tmp holds a copy of the
 * grid and three padded rows (the grid's size plus 3 rows of gw + 2 cells). */
#define MN(a, b) ((a) < (b) ? (a) : (b))
#define MX(a, b) ((a) < (b) ? (b) : (a))
#define EX(a, b)                                                                                   \
    do {                                                                                           \
        float lo_ = MN(a, b), hi_ = MX(a, b);                                                      \
        a = lo_, b = hi_;                                                                          \
    } while (0)
static void median_row(const float *restrict r0, const float *restrict r1, const float *restrict r2,
                       float *restrict out, int n)
{
    /* r0..r2: the rows above, at and below, interleaved (u, v), one cell of padding each side:
     * the neighbours of value i are at i, i + 2, i + 4 of each */
    for (int i = 0; i < n; i++) {
        float p0 = r0[i], p1 = r0[i + 2], p2 = r0[i + 4];
        float p3 = r1[i], p4 = r1[i + 2], p5 = r1[i + 4];
        float p6 = r2[i], p7 = r2[i + 2], p8 = r2[i + 4];
        /* clang-format off */
        EX(p1, p2); EX(p4, p5); EX(p7, p8);
        EX(p0, p1); EX(p3, p4); EX(p6, p7);
        EX(p1, p2); EX(p4, p5); EX(p7, p8);
        p3 = MX(p0, p3); p5 = MN(p5, p8); EX(p4, p7);
        p6 = MX(p3, p6); p4 = MX(p1, p4); p2 = MN(p2, p5);
        p4 = MN(p4, p7); EX(p4, p2);
        p4 = MX(p6, p4); p4 = MN(p4, p2);
        /* clang-format on */
        out[i] = p4;
    }
}
#undef MN
#undef MX
#undef EX

static void median_grid(level_t *l, float *tmp)
{
    const int gw = l->gw, gh = l->gh, rw = 2 * (gw + 2);
    float *copy = tmp, *pad = tmp + 2 * (size_t)gw * gh;
    memcpy(copy, l->flow, sizeof(float) * 2 * (size_t)gw * gh);
    /* grid row r, padded (edges replicated), goes to slot r % 3: rows y - 1, y and y + 1 are
     * there when row y is made */
    for (int y = 0; y < gh; y++) {
        for (int r = y == 0 ? 0 : y + 1; r <= y + 1 && r < gh; r++) {
            float *d = pad + (size_t)(r % 3) * rw;
            const float *s = copy + 2 * (size_t)r * gw;
            memcpy(d + 2, s, sizeof(float) * 2 * (size_t)gw);
            d[0] = s[0], d[1] = s[1];
            d[rw - 2] = s[2 * gw - 2], d[rw - 1] = s[2 * gw - 1];
        }
        const float *ra = pad + (size_t)((y == 0 ? 0 : y - 1) % 3) * rw;
        const float *rb = pad + (size_t)(y % 3) * rw;
        const float *rc = pad + (size_t)((y + 1 >= gh ? gh - 1 : y + 1) % 3) * rw;
        median_row(ra, rb, rc, l->flow + 2 * (size_t)y * gw, 2 * gw);
    }
}

typedef struct job {
    vg_flow_t *f;
    int k;               /* level */
    const uint8_t *want; /* the finest level's points to search (NULL: all) */
} job_t;

static void level_rows(void *arg, int job, int njobs)
{
    job_t *j = arg;
    vg_flow_t *f = j->f;
    level_t *l = &f->lv[j->k];
    const level_t *c = j->k + 1 < f->nl ? &f->lv[j->k + 1] : NULL;
    const int stride = f->p.stride;
    int r0 = (int)((int64_t)l->gh * job / njobs), r1 = (int)((int64_t)l->gh * (job + 1) / njobs);
    for (int gy = r0; gy < r1; gy++)
        for (int gx = 0; gx < l->gw; gx++) {
            double cx = (gx + 0.5) * stride, cy = (gy + 0.5) * stride;
            float u = 0, v = 0;
            if (c) {
                /* the coarser grid at this point: its pixels are twice as large */
                grid_at(c, (cx + 0.5) / 2 / stride - 0.5, (cy + 0.5) / 2 / stride - 0.5, &u, &v);
                u *= 2;
                v *= 2;
            }
            if (!j->want || j->want[(size_t)gy * l->gw + gx])
                search(l, &f->p, (int)cx, (int)cy, &u, &v);
            l->flow[2 * ((size_t)gy * l->gw + gx)] = u;
            l->flow[2 * ((size_t)gy * l->gw + gx) + 1] = v;
        }
}

/* The pyramid of @img into the levels' second pictures (b). */
static void pyramid_b(vg_flow_t *f, const vg_image_t *img)
{
    if (f->p.finest == 0) to_float(img, f->lv[0].b, f->lv[0].bs);
    if (f->nl > 1) half_u8(img, f->lv[1].b, f->lv[1].bs, f->lv[1].w, f->lv[1].h);
    for (int k = 2; k < f->nl; k++) {
        level_t *l = &f->lv[k], *u = &f->lv[k - 1];
        half_f(u->b, u->bs, l->b, l->bs, l->w, l->h);
    }
    for (int k = f->p.finest; k < f->nl; k++) pad_b(&f->lv[k]);
}

/* The second pictures become the first ones (their buffers swapped). */
static void swap_ab(vg_flow_t *f)
{
    for (int k = 0; k < f->nl; k++) {
        float *t = f->lv[k].a;
        f->lv[k].a = f->lv[k].b;
        f->lv[k].b = t;
    }
}

/* The search, coarse to fine, from the levels' a to their b. */
static void search_levels(vg_flow_t *f, const uint8_t *want, vg_pool_t *pool)
{
    for (int k = f->nl - 1; k >= f->p.finest; k--) {
        level_t *l = &f->lv[k];
        job_t j = {f, k, k == f->p.finest ? want : NULL};
        gradient(l);
        int njobs = pool ? vg_pool_threads(pool) * 2 : 1;
        if (njobs > l->gh) njobs = l->gh;
        if (pool && njobs > 1)
            vg_pool_run(pool, level_rows, &j, njobs);
        else
            level_rows(&j, 0, 1);
        median_grid(l, f->tmp);
    }
    const level_t *fl = &f->lv[f->p.finest];
    const float scale = (float)(1 << f->p.finest);
    for (size_t i = 0; i < (size_t)fl->gw * fl->gh * 2; i++) f->grid[i] = fl->flow[i] * scale;
}

static int bad_picture(const vg_flow_t *f, const vg_image_t *p)
{
    return p->fmt != VG_PIX_GRAY8 || p->w != f->w || p->h != f->h;
}

int vg_flow_run(vg_flow_t *f, const vg_image_t *a, const vg_image_t *b, vg_pool_t *pool)
{
    if (bad_picture(f, a) || bad_picture(f, b)) return VG_EINVAL;
    /* pyramids: level 0 as floats only when it is searched; a's made as a b, then swapped */
    pyramid_b(f, a);
    swap_ab(f);
    pyramid_b(f, b);
    search_levels(f, NULL, pool);
    f->has_last = 1;
    return 0;
}

int vg_flow_next(vg_flow_t *f, const vg_image_t *b, const uint8_t *want, vg_pool_t *pool)
{
    if (bad_picture(f, b)) return VG_EINVAL;
    /* the last picture's pyramid is this run's first: each picture's is made once */
    swap_ab(f);
    pyramid_b(f, b);
    int had = f->has_last;
    f->has_last = 1;
    if (!had) return 0;
    search_levels(f, want, pool);
    return 1;
}

void vg_flow_reset(vg_flow_t *f)
{
    f->has_last = 0;
}

const float *vg_flow_grid(const vg_flow_t *f, int *gw, int *gh, double *step)
{
    const level_t *l = &f->lv[f->p.finest];
    *gw = l->gw;
    *gh = l->gh;
    *step = (double)f->p.stride * (1 << f->p.finest);
    return f->grid;
}

void vg_flow_dense(const vg_flow_t *f, float *out, ptrdiff_t stride)
{
    const level_t *l = &f->lv[f->p.finest];
    const double scale = (double)(1 << f->p.finest), gs = f->p.stride;
    for (int y = 0; y < f->h; y++) {
        float *o = out + (ptrdiff_t)y * stride;
        double ly = (y + 0.5) / scale, gy = ly / gs - 0.5;
        for (int x = 0; x < f->w; x++) {
            double lx = (x + 0.5) / scale;
            float u, v;
            grid_at(l, lx / gs - 0.5, gy, &u, &v);
            o[2 * x] = (float)(u * scale);
            o[2 * x + 1] = (float)(v * scale);
        }
    }
}
