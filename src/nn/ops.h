/* Kernels of the inference core (NHWC float32). Each optimised kernel has a plain reference
 * beside it; tests compare them. */
#ifndef VG_NN_OPS_H
#define VG_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Hot kernels are compiled twice, for x86-64 and for AVX2, and picked at load time by the CPU's
 * features ("arch=" clones would be picked by CPU model name, missing AMD processors). */
/* (Not under ThreadSanitizer: the clones' resolver runs before its runtime is ready.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define VG_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VG_CLONES
#endif

typedef struct vg_conv_geom {
    int n, h, w, c;     /* input */
    int kh, kw, o;      /* filter HWIO */
    int sy, sx, dy, dx; /* strides, dilations */
    int pt, pl;         /* padding before (top, left); the rest is implied by oh, ow */
    int oh, ow;         /* output size */
    int packed;         /* the filter is packed for the pointwise kernel (vg__gemm_pack) */
} vg_conv_geom_t;

/* Plain loops. */
void vg__conv2d_ref(const vg_conv_geom_t *g, const float *in, const float *filt, float *out);

void vg__maxpool(const float *in, int n, int h, int w, int c, int kh, int kw, int sy, int sx,
                 int pt, int pl, int oh, int ow, float *out);
/* Bilinear resize of NHWC, TF's legacy (half_pixel = 0) or half-pixel-centre sampling. */
void vg__resize_bilinear(const float *in, int n, int h, int w, int c, int oh, int ow,
                         int align_corners, int half_pixel, float *out);

/* Depthwise convolution, filter [kh, kw, c, mult], output channels c * mult (g->o). */
void vg__depthwise_ref(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                       float *out);

/* The same, fast for a channel multiplier of 1 (MobileNet's case), with the per-channel @bias
 * (may be NULL) and activation @act (may be NULL) applied while the output is in cache; other
 * multipliers use the reference, then vg__bias_act. */
struct vg_act;
void vg__depthwise(const vg_conv_geom_t *g, int mult, const float *in, const float *filt,
                   const float *bias, const struct vg_act *act, float *out);

/* Permute the axes of a 4-byte-element tensor: out axis d is input axis perm[d]. */
void vg__transpose(const uint32_t *src, const int64_t *shape, int ndim, const int64_t *perm,
                   uint32_t *dst);
void vg__transpose_ref(const uint32_t *src, const int64_t *shape, int ndim, const int64_t *perm,
                       uint32_t *dst);

/* Activations, in place over @n values (after an optional per-channel bias of @c channels). */
enum {
    VG_ACT_NONE,
    VG_ACT_RELU,
    VG_ACT_RELU6,
    VG_ACT_LEAKY,
    VG_ACT_SIGMOID,
    VG_ACT_HSWISH,
    VG_ACT_SILU /* x * sigmoid(x): YOLOX's activation, fused from ONNX's Sigmoid and Mul */
};
typedef struct vg_act {
    int kind;
    float alpha;      /* leaky slope */
    float add, scale; /* hard-swish x * scale * relu6(x + add), with the graph's own constants */
} vg_act_t;
void vg__bias_act(float *x, size_t n, const float *bias, size_t c, const vg_act_t *act);
/* @out may be @in. */
void vg__act(const float *in, float *out, size_t n, const vg_act_t *act);

/* im2col + OpenBLAS sgemm (1x1 stride-1 convolutions need no im2col), by blocks of output
 * pixels that stay in cache, each biased (@bias per output channel, may be NULL) and activated
 * (@act, may be NULL) right after its product. @scratch holds vg__conv2d_scratch(g) floats.
 * Returns 0, or VG_EBUG for a packed filter (g->packed) the kernel will not take. */
int vg__conv2d_gemm(const vg_conv_geom_t *g, const float *in, const float *filt, const float *bias,
                    const vg_act_t *act, float *out, float *scratch);
/* The register-blocked kernel takes products of up to this many terms (filter rows); OpenBLAS
 * does better on longer ones (measured: notes in docs/nn.md). */
#define VG_POINTWISE_MAX_K 320
size_t vg__conv2d_scratch(const vg_conv_geom_t *g);

/* C[m x n] = A[m x k] (rows @lda apart) B[k x n] + @bias (may be NULL), activated by @act (may be
 * NULL; none, relu, relu6, leaky, silu, sigmoid), C's rows n apart: registers-blocked AVX2 + FMA
 * (gemm.c). B is row-major, or @packed by vg__gemm_pack. VG_ENOSYS where the processor lacks AVX2
 * and FMA (vg__gemm_available) or for another activation: use OpenBLAS. */
int vg__gemm_pointwise(int m, int n, int k, const float *a, int lda, const float *b, int packed,
                       const float *bias, const vg_act_t *act, float *c);
/* The same with each row of A made of @nseg runs of @seglen floats, @segstride floats apart (k =
 * nseg seglen): a convolution's windows read where they lie in the image (no im2col). */
int vg__gemm_conv(int m, int n, int nseg, int seglen, size_t segstride, const float *a, int lda,
                  const float *b, int packed, const float *bias, const vg_act_t *act, float *c);
int vg__gemm_available(void);
/* The instruction set the kernel uses: 0 none, 2 AVX2 + FMA, 3 AVX-512F; @want, or what the
 * processor has when that is less (tests check each kernel on one machine). Returns it. */
int vg__gemm_set_level(int want);
/* B [k x n] rearranged by column panels (16, then 8, then the rest wide), each panel's rows one
 * after the other, so that the kernel reads it in order; vg__gemm_packed_size floats. */
size_t vg__gemm_packed_size(int k, int n);
void vg__gemm_pack(int k, int n, const float *b, float *packed);
void vg__gemm_ref(int m, int n, int k, const float *a, int lda, const float *b, const float *bias,
                  const vg_act_t *act, float *c);

/* 8-bit convolutions (qgemm.c): a filter [k x o] quantised per output channel (NULL: no memory
 * or an empty filter); the convolution of @g with it, the input quantised per tensor, then bias
 * and activation. VG_ENOSYS without AVX-512 VNNI (vg__q8_available), VG_ENOMEM. */
typedef struct vg_q8conv vg_q8conv_t;
vg_q8conv_t *vg__q8_pack(int k, int o, const float *b);
void vg__q8_free(vg_q8conv_t **q);
int vg__q8_available(void);
int vg__conv2d_q8(const vg_conv_geom_t *g, const float *in, const vg_q8conv_t *q, const float *bias,
                  const vg_act_t *act, float *out);

#endif
