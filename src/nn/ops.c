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

void vg__conv2d_ref(const vg_conv_geom_t *g, const float *in, const float *filt, float *out)
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
                        const float *fp = filt + ((size_t)ky * g->kw + kx) * g->c * g->o;
                        for (int ic = 0; ic < g->c; ic++)
                            for (int oc = 0; oc < g->o; oc++)
                                o[oc] += ip[ic] * fp[(size_t)ic * g->o + oc];
                    }
                }
            }
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
