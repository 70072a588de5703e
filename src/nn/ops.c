/*
 * Kernels. Convolution is lowered to one matrix product per image (Chellapilla et al. 2006,
 * "High performance convolutional neural networks for document processing"): im2col gathers each
 * output pixel's receptive field into a row, then OpenBLAS's sgemm multiplies the [oh*ow, kh*kw*c]
 * matrix by the HWIO filter seen as [kh*kw*c, o]. A 1x1, stride-1 convolution is the product of
 * the input itself. The plain reference loops beside it define the result; tests compare both.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

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

size_t vg__conv2d_scratch(const vg_conv_geom_t *g)
{
    if (g->kh == 1 && g->kw == 1 && g->sy == 1 && g->sx == 1 && g->pt == 0 && g->pl == 0) return 0;
    return (size_t)g->oh * g->ow * g->kh * g->kw * g->c;
}

void vg__conv2d_gemm(const vg_conv_geom_t *g, const float *in, const float *filt, float *out,
                     float *scratch)
{
    int k = g->kh * g->kw * g->c, m = g->oh * g->ow;
    for (int b = 0; b < g->n; b++) {
        const float *img = in + (size_t)b * g->h * g->w * g->c;
        float *dst = out + (size_t)b * m * g->o;
        const float *a = img;
        if (vg__conv2d_scratch(g)) {
            float *row = scratch;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++)
                    for (int ky = 0; ky < g->kh; ky++) {
                        int iy = oy * g->sy + ky * g->dy - g->pt;
                        for (int kx = 0; kx < g->kw; kx++, row += g->c) {
                            int ix = ox * g->sx + kx * g->dx - g->pl;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                memset(row, 0, (size_t)g->c * sizeof(float));
                            else
                                memcpy(row, img + ((size_t)iy * g->w + ix) * g->c,
                                       (size_t)g->c * sizeof(float));
                        }
                    }
            a = scratch;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, g->o, k, 1.0f, a, k, filt, g->o,
                    0.0f, dst, g->o);
    }
}

void vg__maxpool(const float *in, int n, int h, int w, int c, int kh, int kw, int sy, int sx,
                 int pt, int pl, int oh, int ow, float *out)
{
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
    float sy = align_corners && oh > 1 ? (float)(h - 1) / (oh - 1) : (float)h / oh;
    float sx = align_corners && ow > 1 ? (float)(w - 1) / (ow - 1) : (float)w / ow;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++) {
            float fy = half_pixel ? (oy + 0.5f) * sy - 0.5f : oy * sy;
            if (fy < 0) fy = 0;
            int y0 = (int)floorf(fy), y1 = y0 + 1 < h ? y0 + 1 : h - 1;
            if (y0 > h - 1) y0 = h - 1;
            float wy = fy - y0;
            for (int ox = 0; ox < ow; ox++) {
                float fx = half_pixel ? (ox + 0.5f) * sx - 0.5f : ox * sx;
                if (fx < 0) fx = 0;
                int x0 = (int)floorf(fx), x1 = x0 + 1 < w ? x0 + 1 : w - 1;
                if (x0 > w - 1) x0 = w - 1;
                float wx = fx - x0;
                const float *p00 = in + (((size_t)b * h + y0) * w + x0) * c;
                const float *p01 = in + (((size_t)b * h + y0) * w + x1) * c;
                const float *p10 = in + (((size_t)b * h + y1) * w + x0) * c;
                const float *p11 = in + (((size_t)b * h + y1) * w + x1) * c;
                float *o = out + (((size_t)b * oh + oy) * ow + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    float top = p00[ch] + (p01[ch] - p00[ch]) * wx;
                    float bot = p10[ch] + (p11[ch] - p10[ch]) * wx;
                    o[ch] = top + (bot - top) * wy;
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

void vg__depthwise(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                   float *out)
{
    if (mult != 1) {
        conv_ref(g, mult, in, filt, out);
        return;
    }
    /* channels innermost and contiguous in input, filter and output: the c loop vectorises */
    const int c = g->c;
    for (int b = 0; b < g->n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *restrict o = out + (((size_t)b * g->oh + oy) * g->ow + ox) * c;
                for (int k = 0; k < c; k++) o[k] = 0;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sy + ky * g->dy - g->pt;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = ox * g->sx + kx * g->dx - g->pl;
                        if (ix < 0 || ix >= g->w) continue;
                        const float *restrict ip = in + (((size_t)b * g->h + iy) * g->w + ix) * c;
                        const float *restrict fp = filt + ((size_t)ky * g->kw + kx) * c;
                        for (int k = 0; k < c; k++) o[k] += ip[k] * fp[k];
                    }
                }
            }
}
