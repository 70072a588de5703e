/* The activation loops, inlined into each kernel that applies them (act.c, ops.c) and so into
 * each clone of it: private to the inference core. */
#ifndef VG_NN_ACT_H
#define VG_NN_ACT_H

#include <math.h>
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
        for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
        break;
    case VG_ACT_HSWISH: /* TF's graph: mul_1 = (x * scale) * relu6(x + add) */
        for (size_t i = 0; i < n; i++) out[i] = (in[i] * scale) * relu6(in[i] + add);
        break;
    }
}

#endif
