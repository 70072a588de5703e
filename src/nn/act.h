/* The activation loops, inlined into each kernel that applies them (act.c, ops.c) and so into
 * each clone of it: private to the inference core. */
#ifndef VG_NN_ACT_H
#define VG_NN_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"

/*
 * Activations. Written with comparisons rather than fminf/fmaxf, whose NaN rules keep GCC from
 * using the vector min/max instructions (they become a libm call per element).
 */
static inline float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

static inline float relu6(float v)
{
    v = v > 0.0f ? v : 0.0f;
    return v < 6.0f ? v : 6.0f;
}

/*
 * e^x without a call or a branch, so that loops of it vectorise: 2^n * p(r) with n = round(x /
 * ln 2) (by the 1.5 * 2^23 rounding trick), r = x - n ln 2 in two parts, p Cephes' degree-6
 * polynomial for expf; x clamped to [-87, 88]. Relative error about 2e-7 (tests compare it with
 * expf).
 */
static inline float vg__expf(float x)
{
    x = x < 88.0f ? x : 88.0f;
    x = x > -87.0f ? x : -87.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = (int32_t)n + 127;
    uint32_t bits = (uint32_t)e << 23;
    float s;
    memcpy(&s, &bits, sizeof(s));
    return p * s;
}

#ifndef INLINE
#define INLINE static inline __attribute__((always_inline))
#endif

/* The activation loops, inlined into each caller (and so into each clone of it). */
INLINE void act_inline(const float *in, float *out, size_t n, const vg_act_t *act)
{
    const float a = act->alpha, add = act->add, scale = act->scale;
    switch (act->kind) {
    case VG_ACT_NONE:
        if (out != in) memmove(out, in, n * sizeof(float));
        break;
    case VG_ACT_RELU:
        for (size_t i = 0; i < n; i++) out[i] = relu(in[i]);
        break;
    case VG_ACT_RELU6:
        for (size_t i = 0; i < n; i++) out[i] = relu6(in[i]);
        break;
    case VG_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) out[i] = in[i] >= 0.0f ? in[i] : a * in[i];
        break;
    case VG_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + vg__expf(-in[i]));
        break;
    case VG_ACT_HSWISH: /* TF's graph: mul_1 = (x * scale) * relu6(x + add) */
        for (size_t i = 0; i < n; i++) out[i] = (in[i] * scale) * relu6(in[i] + add);
        break;
    case VG_ACT_SILU: /* ONNX's x * Sigmoid(x) */
        /* the sigmoids of a chunk first, then the products: written as one loop, GCC's vector
         * code for it runs 14 times slower here (measured: 6.4 against 0.45 ns a value) */
        for (size_t i = 0; i < n; i += 64) {
            float t[64];
            size_t m = n - i < 64 ? n - i : 64;
            for (size_t k = 0; k < m; k++) t[k] = 1.0f / (1.0f + vg__expf(-in[i + k]));
            for (size_t k = 0; k < m; k++) out[i + k] = in[i + k] * t[k];
        }
        break;
    }
}

#endif
