/* Kernels of the inference core (NHWC float32). Each optimised kernel has a plain reference
 * beside it; tests compare them. */
#ifndef VG_NN_OPS_H
#define VG_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vg_conv_geom {
    int n, h, w, c;     /* input */
    int kh, kw, o;      /* filter HWIO */
    int sy, sx, dy, dx; /* strides, dilations */
    int pt, pl;         /* padding before (top, left); the rest is implied by oh, ow */
    int oh, ow;         /* output size */
} vg_conv_geom_t;

/* Plain loops. */
void vg__conv2d_ref(const vg_conv_geom_t *g, const float *in, const float *filt, float *out);
/* im2col + OpenBLAS sgemm (1x1 stride-1 convolutions need no im2col). @scratch holds
 * oh*ow*kh*kw*c floats (may be NULL for 1x1 stride 1). */
void vg__conv2d_gemm(const vg_conv_geom_t *g, const float *in, const float *filt, float *out,
                     float *scratch);
size_t vg__conv2d_scratch(const vg_conv_geom_t *g);

void vg__maxpool(const float *in, int n, int h, int w, int c, int kh, int kw, int sy, int sx,
                 int pt, int pl, int oh, int ow, float *out);
/* Bilinear resize of NHWC, TF's legacy (half_pixel = 0) or half-pixel-centre sampling. */
void vg__resize_bilinear(const float *in, int n, int h, int w, int c, int oh, int ow,
                         int align_corners, int half_pixel, float *out);

/* Depthwise convolution, filter [kh, kw, c, mult], output channels c * mult (g->o). */
void vg__depthwise_ref(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                       float *out);

/* The same, fast for a channel multiplier of 1 (MobileNet's case); others use the reference. */
void vg__depthwise(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                   float *out);

/* Permute the axes of a 4-byte-element tensor: out axis d is input axis perm[d]. */
void vg__transpose(const uint32_t *src, const int64_t *shape, int ndim, const int64_t *perm,
                   uint32_t *dst);
void vg__transpose_ref(const uint32_t *src, const int64_t *shape, int ndim, const int64_t *perm,
                       uint32_t *dst);

#endif
