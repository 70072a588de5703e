/*
 * Activations (relu, relu6, leaky, sigmoid, hard-swish), with an optional per-channel bias first:
 * what the convolution kernels (ops.c, gemm.c) apply while their output is in cache, and the
 * interpreter applies to unary nodes. A file of their own so that the kernels depend on it and
 * not on each other.
 */
#include <math.h>
#include <string.h>

#include "act.h"
#include "ops.h"

VG_CLONES
void vg__act(const float *in, float *out, size_t n, const vg_act_t *act)
{
    act_inline(in, out, n, act);
}

VG_CLONES
void vg__bias_act(float *x, size_t n, const float *bias, size_t c, const vg_act_t *act)
{
    if (bias)
        for (size_t i = 0; i < n; i += c) {
            float *restrict r = x + i;
            for (size_t k = 0; k < c; k++) r[k] += bias[k];
        }
    if (act->kind != VG_ACT_NONE) act_inline(x, x, n, act);
}
