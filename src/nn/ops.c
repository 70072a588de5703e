/*
 * Kernels. Convolution is lowered to one matrix product per image (Chellapilla et al. 2006,
 * "High performance convolutional neural networks for document processing"): im2col gathers each
 * output pixel's receptive field into a row, then OpenBLAS's sgemm multiplies the [oh*ow, kh*kw*c]
 * matrix by the HWIO filter seen as [kh*kw*c, o]. A 1x1, stride-1 convolution is the product of
 * the input itself. The plain reference loops beside it define the result; tests compare both.
 */
#include <cblas.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <vigie/error.h>

#include "act.h"
#include "ops.h"

/*
 * The reference loops of both convolutions: every output pixel visits its receptive field; for
 * each tap, @mult < 0 means a full convolution (every input channel to every output channel),
 * otherwise a depthwise one with @mult outputs per input channel.
 */
static void conv_ref(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                     float *out)
{
    for (int b = 0; b < g->n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *o = out + (((size_t)b * g->oh + oy) * g->ow + ox) * g->o;
                for (int oc = 0; oc < g->o; oc++) o[oc] = 0;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sy + ky * g->dy - g->pt;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = ox * g->sx + kx * g->dx - g->pl;
                        if (ix < 0 || ix >= g->w) continue;
                        const float *ip = in + (((size_t)b * g->h + iy) * g->w + ix) * g->c;
                        size_t tap = (size_t)ky * g->kw + kx;
                        if (mult < 0) {
                            const float *fp = filt + tap * g->c * g->o;
                            for (int ic = 0; ic < g->c; ic++)
                                for (int oc = 0; oc < g->o; oc++)
                                    o[oc] += ip[ic] * fp[(size_t)ic * g->o + oc];
                        } else {
                            const float *fp = filt + tap * g->c * mult;
                            for (int c = 0; c < g->c; c++)
                                for (int m = 0; m < mult; m++)
                                    o[c * mult + m] += ip[c] * fp[c * mult + m];
                        }
                    }
                }
            }
}

void vg__conv2d_ref(const vg_conv_geom_t *g, const float *in, const float *filt, float *out)
{
    conv_ref(g, -1, in, filt, out);
}

static int conv_is_pointwise(const vg_conv_geom_t *g)
{
    return g->kh == 1 && g->kw == 1 && g->sy == 1 && g->sx == 1 && g->pt == 0 && g->pl == 0;
}

/* Output rows per block: the block's im2col rows fit in L2 with room for its output rows, and
 * are enough to pay for OpenBLAS packing the filter once per call. */
#ifndef VG_CONV_BLOCK_BYTES
#define VG_CONV_BLOCK_BYTES (256 * 1024)
#endif
static int conv_block_rows(const vg_conv_geom_t *g)
{
    int k = g->kh * g->kw * g->c, m = g->oh * g->ow;
    int rows = (int)((VG_CONV_BLOCK_BYTES / sizeof(float)) / (size_t)(k + g->o));
    if (rows < 128) rows = 128;
    return rows < m ? rows : m;
}

size_t vg__conv2d_scratch(const vg_conv_geom_t *g)
{
    if (conv_is_pointwise(g)) return 0;
    return (size_t)conv_block_rows(g) * g->kh * g->kw * g->c;
}

/* Output pixels [@p0, @p1) of image @img (flattened oy * ow + ox) by blocks of @rows: im2col
 * (unless pointwise), then the register-blocked kernel or OpenBLAS, bias and activation. */
static int conv_range(const vg_conv_geom_t *g, const float *img, int p0, int p1, int rows,
                      const float *filt, const float *bias, const vg_act_t *act, int fused,
                      float *out, float *scratch)
{
    int k = g->kh * g->kw * g->c;
    for (int r0 = p0; r0 < p1; r0 += rows) {
        int nr = p1 - r0 < rows ? p1 - r0 : rows;
        float *dst = out + (size_t)r0 * g->o;
        const float *a = img + (size_t)r0 * g->c;
        if (!conv_is_pointwise(g)) {
            /* im2col of this block of output pixels */
            float *row = scratch;
            for (int p = r0; p < r0 + nr; p++) {
                int oy = p / g->ow, ox = p % g->ow;
                int ix0 = ox * g->sx - g->pl, span = g->kw * g->c;
                int inside_x = g->dx == 1 && ix0 >= 0 && ix0 + g->kw <= g->w;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sy + ky * g->dy - g->pt;
                    if (inside_x && iy >= 0 && iy < g->h) {
                        /* the window's row is contiguous in the input: one copy */
                        memcpy(row, img + ((size_t)iy * g->w + ix0) * g->c,
                               (size_t)span * sizeof(float));
                        row += span;
                        continue;
                    }
                    for (int kx = 0; kx < g->kw; kx++, row += g->c) {
                        int ix = ox * g->sx + kx * g->dx - g->pl;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
                            for (int q = 0; q < g->c; q++) row[q] = 0;
                        } else { /* a loop, not memcpy: a few channels are a few moves */
                            const float *src = img + ((size_t)iy * g->w + ix) * g->c;
                            for (int q = 0; q < g->c; q++) row[q] = src[q];
                        }
                    }
                }
            }
            a = scratch;
        }
        /* the register-blocked kernel where it does better than OpenBLAS (few input
         * channels: measured in bench/nn's notes), bias and activation included */
        if ((g->packed || k <= VG_POINTWISE_MAX_K) &&
            vg__gemm_pointwise(nr, g->o, k, a, k, filt, g->packed, bias, fused ? act : NULL, dst) ==
                0) {
            if (!fused) vg__act(dst, dst, (size_t)nr * g->o, act);
            continue;
        }
        if (g->packed) return VG_EBUG; /* packed at load for a kernel that refuses it */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, g->o, k, 1.0f, a, k, filt, g->o,
                    0.0f, dst, g->o);
        /* bias and activation while the block is in cache */
        if (bias || (act && act->kind != VG_ACT_NONE))
            vg__bias_act(dst, (size_t)nr * g->o, bias, (size_t)g->o,
                         act ? act : &(vg_act_t){VG_ACT_NONE, 0, 0, 0});
    }
    return 0;
}

int vg__conv2d_gemm(const vg_conv_geom_t *g, const float *in, const float *filt, const float *bias,
                    const vg_act_t *act, float *out, float *scratch)
{
    int k = g->kh * g->kw * g->c, m = g->oh * g->ow, rows = conv_block_rows(g), ret;
    size_t total = (size_t)g->n * m * g->o;
    /* the activations the register-blocked kernel applies itself; others follow it */
    const int fused = !act || act->kind == VG_ACT_NONE || act->kind == VG_ACT_RELU ||
                      act->kind == VG_ACT_RELU6 || act->kind == VG_ACT_LEAKY ||
                      act->kind == VG_ACT_SILU || act->kind == VG_ACT_SIGMOID;
    if (!total) return 0;
    if (k == 0) { /* no input channels: sums of nothing (a graph file may say so) */
        memset(out, 0, total * sizeof(float));
        vg__bias_act(out, total, bias, (size_t)g->o, act ? act : &(vg_act_t){VG_ACT_NONE, 0, 0, 0});
        return 0;
    }
    /*
     * A window wider than one pixel, undilated, for the register-blocked kernel: no im2col where
     * the window lies inside the input. The kernel reads each output pixel's window straight
     * from the image, as kh runs of kw c contiguous floats one input row apart (vg__gemm_conv);
     * only the pixels of the border go through im2col. (YOLOX's 6x6 stem: im2col was 2 of its
     * 3.2 ms.)
     */
    const int implicit = !conv_is_pointwise(g) && g->dy == 1 && g->dx == 1 && fused &&
                         (g->packed || k <= VG_POINTWISE_MAX_K) && vg__gemm_available();
    for (int b = 0; b < g->n; b++) {
        const float *img = in + (size_t)b * g->h * g->w * g->c;
        float *o = out + (size_t)b * m * g->o;
        if (!implicit) {
            if ((ret = conv_range(g, img, 0, m, rows, filt, bias, act, fused, o, scratch)) < 0)
                return ret;
            continue;
        }
        /* output columns whose window is inside horizontally: [lo, hi) */
        int lo = (g->pl + g->sx - 1) / g->sx, hi = (g->w - g->kw + g->pl) / g->sx + 1;
        if (g->w - g->kw + g->pl < 0) hi = 0;
        hi = hi > g->ow ? g->ow : hi;
        lo = lo > hi ? hi : lo;
        for (int oy = 0; oy < g->oh; oy++) {
            int iy0 = oy * g->sy - g->pt, p = oy * g->ow;
            if (iy0 < 0 || iy0 + g->kh > g->h || lo == hi) {
                ret = conv_range(g, img, p, p + g->ow, rows, filt, bias, act, fused, o, scratch);
                if (ret < 0) return ret;
                continue;
            }
            if ((ret = conv_range(g, img, p, p + lo, rows, filt, bias, act, fused, o, scratch)) <
                    0 ||
                (ret = conv_range(g, img, p + hi, p + g->ow, rows, filt, bias, act, fused, o,
                                  scratch)) < 0)
                return ret;
            const float *a = img + ((size_t)iy0 * g->w + (size_t)lo * g->sx - g->pl) * g->c;
            if (vg__gemm_conv(hi - lo, g->o, g->kh, g->kw * g->c, (size_t)g->w * g->c, a,
                              g->sx * g->c, filt, g->packed, bias, act,
                              o + ((size_t)p + lo) * g->o) < 0)
                return VG_EBUG;
        }
    }
    return 0;
}

void vg__maxpool(const float *in, int n, int h, int w, int c, int kh, int kw, int sy, int sx,
                 int pt, int pl, int oh, int ow, float *out)
{
    /* a large window (YOLOX's spatial pyramid: 5, 9, 13): the maximum of the row maxima, kh + kw
     * comparisons a value instead of kh kw (the same values: a maximum is exact) */
    float *rows = kh * kw > 9 ? malloc((size_t)h * ow * c * sizeof(float)) : NULL;
    if (rows) {
        for (int b = 0; b < n; b++) {
            for (int y = 0; y < h; y++)
                for (int ox = 0; ox < ow; ox++) {
                    float *r = rows + ((size_t)y * ow + ox) * c;
                    for (int ch = 0; ch < c; ch++) r[ch] = -INFINITY;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * sx + kx - pl;
                        if (ix < 0 || ix >= w) continue;
                        const float *ip = in + (((size_t)b * h + y) * w + ix) * c;
                        for (int ch = 0; ch < c; ch++) r[ch] = ip[ch] > r[ch] ? ip[ch] : r[ch];
                    }
                }
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float *o = out + (((size_t)b * oh + oy) * ow + ox) * c;
                    for (int ch = 0; ch < c; ch++) o[ch] = -INFINITY;
                    for (int ky = 0; ky < kh; ky++) {
                        int iy = oy * sy + ky - pt;
                        if (iy < 0 || iy >= h) continue;
                        const float *r = rows + ((size_t)iy * ow + ox) * c;
                        for (int ch = 0; ch < c; ch++) o[ch] = r[ch] > o[ch] ? r[ch] : o[ch];
                    }
                }
        }
        free(rows);
        return;
    }
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *o = out + (((size_t)b * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) o[ch] = -INFINITY;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * sy + ky - pt;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * sx + kx - pl;
                        if (ix < 0 || ix >= w) continue;
                        const float *ip = in + (((size_t)b * h + iy) * w + ix) * c;
                        for (int ch = 0; ch < c; ch++) o[ch] = ip[ch] > o[ch] ? ip[ch] : o[ch];
                    }
                }
            }
}

void vg__resize_bilinear(const float *in, int n, int h, int w, int c, int oh, int ow,
                         int align_corners, int half_pixel, float *out)
{
    enum { CHUNK = 512 };
    float sy = align_corners && oh > 1 ? (float)(h - 1) / (oh - 1) : (float)h / oh;
    float sx = align_corners && ow > 1 ? (float)(w - 1) / (ow - 1) : (float)w / ow;
    /* the columns' taps and weights once for every row, CHUNK columns at a time (the same
     * expressions: the same bits) */
    int x0s[CHUNK], x1s[CHUNK];
    float wxs[CHUNK];
    for (int c0 = 0; c0 < ow; c0 += CHUNK) {
        int c1 = ow - c0 < CHUNK ? ow : c0 + CHUNK;
        for (int ox = c0; ox < c1; ox++) {
            float fx = half_pixel ? (ox + 0.5f) * sx - 0.5f : ox * sx;
            if (fx < 0) fx = 0;
            int x0 = (int)floorf(fx), x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            if (x0 > w - 1) x0 = w - 1;
            x0s[ox - c0] = x0, x1s[ox - c0] = x1, wxs[ox - c0] = fx - x0;
        }
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++) {
                float fy = half_pixel ? (oy + 0.5f) * sy - 0.5f : oy * sy;
                if (fy < 0) fy = 0;
                int y0 = (int)floorf(fy), y1 = y0 + 1 < h ? y0 + 1 : h - 1;
                if (y0 > h - 1) y0 = h - 1;
                float wy = fy - y0;
                const float *r0 = in + ((size_t)b * h + y0) * w * c,
                            *r1 = in + ((size_t)b * h + y1) * w * c;
                for (int ox = c0; ox < c1; ox++) {
                    const float wx = wxs[ox - c0];
                    const float *p00 = r0 + (size_t)x0s[ox - c0] * c,
                                *p01 = r0 + (size_t)x1s[ox - c0] * c;
                    const float *p10 = r1 + (size_t)x0s[ox - c0] * c,
                                *p11 = r1 + (size_t)x1s[ox - c0] * c;
                    float *o = out + (((size_t)b * oh + oy) * ow + ox) * c;
                    for (int ch = 0; ch < c; ch++) {
                        float top = p00[ch] + (p01[ch] - p00[ch]) * wx;
                        float bot = p10[ch] + (p11[ch] - p10[ch]) * wx;
                        o[ch] = top + (bot - top) * wy;
                    }
                }
            }
    }
}

/* Row-major strides of a shape. */
static void strides(const int64_t *shape, int ndim, int64_t *st)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) st[d] = s, s *= shape[d];
}

void vg__transpose_ref(const uint32_t *src, const int64_t *xshape, int ndim, const int64_t *perm,
                       uint32_t *dst)
{
    int64_t ist[8], shape[8], idx[8] = {0};
    size_t count = 1;
    strides(xshape, ndim, ist);
    for (int d = 0; d < ndim; d++) shape[d] = xshape[perm[d]], count *= (size_t)shape[d];
    for (size_t o = 0; o < count; o++) {
        int64_t off = 0;
        for (int d = 0; d < ndim; d++) off += idx[d] * ist[perm[d]];
        dst[o] = src[off];
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

void vg__transpose(const uint32_t *src, const int64_t *xshape, int ndim, const int64_t *perm,
                   uint32_t *dst)
{
    int64_t ist[8], shape[8];
    size_t count = 1;
    strides(xshape, ndim, ist);
    for (int d = 0; d < ndim; d++) shape[d] = xshape[perm[d]], count *= (size_t)shape[d];
    int last = ndim - 1;
    if (last < 0 || !count) {
        if (count) dst[0] = src[0];
        return;
    }
    /* A permutation that keeps leading axes and rotates the rest (NCHW <-> NHWC) is a batch of
     * 2-D transposes [a, b] -> [b, a]: done in 16x16 tiles for the caches. */
    int p = 0;
    while (p < ndim && perm[p] == p) p++;
    if (p < ndim - 1) {
        int r = (int)perm[p], rot = 1;
        for (int d = p; d < ndim; d++)
            rot &= perm[d] == (r + (d - p) < ndim ? r + (d - p) : p + (r + (d - p) - ndim));
        if (rot && r > p) {
            int64_t outer = 1, a = 1, b = 1;
            for (int d = 0; d < p; d++) outer *= xshape[d];
            for (int d = p; d < r; d++) a *= xshape[d];
            for (int d = r; d < ndim; d++) b *= xshape[d];
            for (int64_t o = 0; o < outer; o++) {
                const uint32_t *sp = src + o * a * b;
                uint32_t *dp = dst + o * a * b;
                for (int64_t i0 = 0; i0 < a; i0 += 16)
                    for (int64_t j0 = 0; j0 < b; j0 += 16) {
                        int64_t i1 = i0 + 16 < a ? i0 + 16 : a, j1 = j0 + 16 < b ? j0 + 16 : b;
                        for (int64_t i = i0; i < i1; i++)
                            for (int64_t j = j0; j < j1; j++) dp[j * a + i] = sp[i * b + j];
                    }
            }
            return;
        }
    }
    /* otherwise one output row at a time: the base offset once per row, then a strided loop */
    int64_t idx[8] = {0}, inner = shape[last], step = ist[perm[last]];
    for (size_t o = 0; o < count; o += (size_t)inner) {
        int64_t off = 0;
        for (int d = 0; d < last; d++) off += idx[d] * ist[perm[d]];
        const uint32_t *sp = src + off;
        uint32_t *dp = dst + o;
        if (step == 1)
            memcpy(dp, sp, (size_t)inner * 4);
        else
            for (int64_t j = 0; j < inner; j++) dp[j] = sp[j * step];
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

void vg__depthwise_ref(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                       float *out)
{
    conv_ref(g, mult, in, filt, out);
}

/* Eight floats: GCC's vector extension, AVX in the AVX2 clone, two SSE registers otherwise.
 * Values of this type never cross a call (the helpers are always inlined), so the ABI note GCC
 * gives about passing them does not apply. */
typedef float v8f __attribute__((vector_size(32)));
#pragma GCC diagnostic ignored "-Wpsabi"

INLINE v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof(v));
    return v;
}

INLINE void store8(float *p, v8f v)
{
    memcpy(p, &v, sizeof(v));
}

/* One output pixel of a depthwise K x K window wholly inside the input (@base: its top-left
 * input pixel, @rs: floats per input row), channels by blocks of 32 then 8; returns the first
 * channel it did not do. K is a constant at each call, so the taps unroll. */
INLINE int dw_window(const float *base, size_t rs, int c, const float *filt, const float *bias,
                     float *o, const int K)
{
    int k = 0;
    for (; k + 32 <= c; k += 32) {
        v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        if (bias) {
            a0 = load8(bias + k), a1 = load8(bias + k + 8);
            a2 = load8(bias + k + 16), a3 = load8(bias + k + 24);
        }
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *ip = base + ky * rs + (size_t)kx * c + k;
                const float *fp = filt + (size_t)(ky * K + kx) * c + k;
                a0 += load8(ip) * load8(fp);
                a1 += load8(ip + 8) * load8(fp + 8);
                a2 += load8(ip + 16) * load8(fp + 16);
                a3 += load8(ip + 24) * load8(fp + 24);
            }
        store8(o + k, a0), store8(o + k + 8, a1);
        store8(o + k + 16, a2), store8(o + k + 24, a3);
    }
    for (; k + 8 <= c; k += 8) {
        v8f a0 = {0};
        if (bias) a0 = load8(bias + k);
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                a0 += load8(base + ky * rs + (size_t)kx * c + k) *
                      load8(filt + (size_t)(ky * K + kx) * c + k);
        store8(o + k, a0);
    }
    return k;
}

/* The depthwise kernel's body, compiled twice below: for AVX2 with fused multiply-adds (the
 * products and sums contract into FMA instructions) and for plain x86-64. */
INLINE void depthwise_body(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                           const float *bias, const vg_act_t *act, float *out)
{
    const int c = g->c;
    if (mult != 1) {
        conv_ref(g, mult, in, filt, out);
        if (bias || act)
            vg__bias_act(out, (size_t)g->n * g->oh * g->ow * g->o, bias, (size_t)g->o,
                         act ? act : &(vg_act_t){VG_ACT_NONE, 0, 0, 0});
        return;
    }
    /* channels innermost and contiguous in input, filter and output: eight channels at a time,
     * summed in a register over the window, then biased and activated while in L1 */
    for (int b = 0; b < g->n; b++)
        for (int oy = 0; oy < g->oh; oy++) {
            int ky0 = 0, ky1 = g->kh;
            while (ky0 < ky1 && oy * g->sy + ky0 * g->dy - g->pt < 0) ky0++;
            while (ky1 > ky0 && oy * g->sy + (ky1 - 1) * g->dy - g->pt >= g->h) ky1--;
            for (int ox = 0; ox < g->ow; ox++) {
                int kx0 = 0, kx1 = g->kw;
                while (kx0 < kx1 && ox * g->sx + kx0 * g->dx - g->pl < 0) kx0++;
                while (kx1 > kx0 && ox * g->sx + (kx1 - 1) * g->dx - g->pl >= g->w) kx1--;
                float *o = out + (((size_t)b * g->oh + oy) * g->ow + ox) * c;
                int k = 0;
                /* a full 3x3 or 5x5 window: taps unrolled (no short loops to mispredict) */
                if (g->dy == 1 && g->dx == 1 && ky1 - ky0 == g->kh && kx1 - kx0 == g->kw &&
                    g->kh == g->kw && (g->kh == 3 || g->kh == 5)) {
                    const float *base = in + (((size_t)b * g->h + (oy * g->sy - g->pt)) * g->w +
                                              (ox * g->sx - g->pl)) *
                                                 c;
                    const size_t rs = (size_t)g->w * c;
                    if (g->kh == 3)
                        k = dw_window(base, rs, c, filt, bias, o, 3);
                    else
                        k = dw_window(base, rs, c, filt, bias, o, 5);
                }
                /* (border pixels: eight channels at a time is enough) */
                for (; k + 8 <= c; k += 8) {
                    v8f acc = {0};
                    if (bias) acc = load8(bias + k);
                    for (int ky = ky0; ky < ky1; ky++) {
                        int iy = oy * g->sy + ky * g->dy - g->pt;
                        const float *row = in + ((size_t)b * g->h + iy) * g->w * c + k;
                        const float *frow = filt + (size_t)ky * g->kw * c + k;
                        for (int kx = kx0; kx < kx1; kx++) {
                            int ix = ox * g->sx + kx * g->dx - g->pl;
                            acc += load8(row + (size_t)ix * c) * load8(frow + (size_t)kx * c);
                        }
                    }
                    store8(o + k, acc);
                }
                for (; k < c; k++) { /* channels past the last eight */
                    float acc = bias ? bias[k] : 0.0f;
                    for (int ky = ky0; ky < ky1; ky++) {
                        int iy = oy * g->sy + ky * g->dy - g->pt;
                        for (int kx = kx0; kx < kx1; kx++) {
                            int ix = ox * g->sx + kx * g->dx - g->pl;
                            acc += in[(((size_t)b * g->h + iy) * g->w + ix) * c + k] *
                                   filt[((size_t)ky * g->kw + kx) * c + k];
                        }
                    }
                    o[k] = acc;
                }
            }
            /* the activation on the whole row, still in cache (one call, long loops) */
            if (act)
                act_inline(out + ((size_t)b * g->oh + oy) * g->ow * c,
                           out + ((size_t)b * g->oh + oy) * g->ow * c, (size_t)g->ow * c, act);
        }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx2,fma"), optimize("fp-contract=fast"))) static void
depthwise_fma(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
              const float *bias, const vg_act_t *act, float *out)
{
    depthwise_body(g, mult, in, filt, bias, act, out);
}
#endif

static void depthwise_plain(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                            const float *bias, const vg_act_t *act, float *out)
{
    depthwise_body(g, mult, in, filt, bias, act, out);
}

void vg__depthwise(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                   const float *bias, const vg_act_t *act, float *out)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    static int fma = -1;
    if (fma < 0) fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (fma) {
        depthwise_fma(g, mult, in, filt, bias, act, out);
        return;
    }
#endif
    depthwise_plain(g, mult, in, filt, bias, act, out);
}
