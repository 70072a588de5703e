/*
 * The ops of the graph runtime and their table (vg__nn_ops: name, inputs, flags, run — the
 * per-layer table of the house style). Every op checks the shapes it is given and fails with
 * VG_EFORMAT rather than reading out of bounds, since a graph file is input like any other.
 * Shape-like inputs (paddings, perms, sizes) are int32 tensors computed like any other. The
 * kernels themselves are in ops.c, gemm.c and act.c.
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigie/clock.h>
#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "../core/sha256.h"
#include "graph_priv.h"
#include "ops.h"

/*
 * Layout. Graphs exported from NCHW frameworks (NanoDet comes from ONNX) wrap every NHWC
 * convolution in transposes: conv -> transpose to NCHW -> activation, pad, concat -> transpose
 * back -> conv. In a run that keeps no intermediates, a 4-D tensor may instead stay stored as
 * NHWC while the graph sees it as NCHW (node->nchw): a transpose between the two layouts only
 * relabels the data (it takes the buffer over, or copies it when others read it too);
 * elementwise ops, pads, concats and splits work on the stored layout with their axes mapped
 * (NCHW axis d is stored axis phys_axis[d]); any other op first gets its input really
 * transposed (materialised), as do the outputs the caller reads.
 */
static const int phys_axis[4] = {0, 3, 1, 2};

enum { BIN_ADD, BIN_MUL, BIN_SUB };

static int takeover(vg_model_t *m, node_t *nd, const vg_tensor_t *x);
static int reshaped_copy(node_t *nd, const vg_tensor_t *x, int ndim, const int64_t *shape);

/* Integer values of a shape-like tensor (int32 or float). */
int vg__nn_ints(const vg_tensor_t *t, int64_t *out, size_t max, size_t *n)
{
    if (t->count > max) return -1;
    for (size_t i = 0; i < t->count; i++) {
        if (t->dtype == VG_DT_I32) {
            out[i] = ((const int32_t *)t->data)[i];
        } else {
            /* a float that is no integer in range is no shape (found by fuzzing) */
            float v = ((const float *)t->data)[i];
            if (!(v > -1e9f && v < 1e9f)) return -1;
            out[i] = (int64_t)v;
        }
    }
    *n = t->count;
    return 0;
}

static void strides_of(const vg_tensor_t *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) st[d] = s, s *= t->shape[d];
}

static int run_transpose(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *permt)
{
    int64_t perm[VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (vg__nn_ints(permt, perm, VG_TENSOR_MAX_DIMS, &n) < 0 || (int)n != x->ndim)
        FAIL(nd, "permutation of %zu axes for a tensor of %d", n, x->ndim);
    int seen = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (perm[d] < 0 || perm[d] >= x->ndim || (seen & (1 << perm[d])))
            FAIL(nd, "invalid permutation");
        seen |= 1 << perm[d];
        shape[d] = x->shape[perm[d]];
    }
    int ret = vg__nn_alloc_out(nd, 0, x->dtype, x->ndim, shape);
    if (ret < 0) return ret;
    vg__transpose(x->data, x->shape, x->ndim, perm, nd->out[0].data);
    return 0;
}

static int run_pad(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *padt, float value)
{
    int64_t pads[2 * VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS], ist[VG_TENSOR_MAX_DIMS],
        ost[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (vg__nn_ints(padt, pads, 2 * VG_TENSOR_MAX_DIMS, &n) < 0 || (int)n != 2 * x->ndim)
        FAIL(nd, "paddings do not match the tensor's %d axes", x->ndim);
    if (nd->remap) { /* NCHW paddings of an NHWC-stored tensor */
        int64_t l[8];
        memcpy(l, pads, sizeof(l));
        for (int d = 0; d < 4; d++)
            pads[2 * phys_axis[d]] = l[2 * d], pads[2 * phys_axis[d] + 1] = l[2 * d + 1];
    }
    for (int d = 0; d < x->ndim; d++) {
        if (pads[2 * d] < 0 || pads[2 * d + 1] < 0 || pads[2 * d] > 4096 || pads[2 * d + 1] > 4096)
            FAIL(nd, "negative or huge padding");
        shape[d] = x->shape[d] + pads[2 * d] + pads[2 * d + 1];
    }
    int ret = vg__nn_alloc_out(nd, 0, x->dtype, x->ndim, shape);
    if (ret < 0) return ret;
    vg_tensor_t *o = &nd->out[0];
    if (x->dtype == VG_DT_F32)
        for (size_t i = 0; i < o->count; i++) ((float *)o->data)[i] = value;
    strides_of(x, ist);
    strides_of(o, ost);
    int64_t idx[VG_TENSOR_MAX_DIMS] = {0};
    const uint32_t *src = x->data;
    uint32_t *dst = o->data;
    int64_t inner = x->ndim ? x->shape[x->ndim - 1] : 1;
    for (size_t i = 0; i < x->count; i += (size_t)inner) { /* copy innermost rows */
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++) off += (idx[d] + pads[2 * d]) * ost[d];
        memcpy(dst + off, src + i, (size_t)inner * 4);
        for (int d = x->ndim - 2; d >= 0; d--) {
            if (++idx[d] < x->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

static inline float binf(int k, float x, float y)
{
    return k == BIN_ADD ? x + y : k == BIN_MUL ? x * y : x - y;
}

/* o[i] = x[i * xs] op y[i * ys] for i < n, strides 0 or 1; the switches outside the loops */
static void bin_rows(int kind, float *restrict o, const float *x, size_t xs, const float *y,
                     size_t ys, size_t n)
{
#define BIN_LOOPS(OP)                                                                              \
    if (xs && ys)                                                                                  \
        for (size_t i = 0; i < n; i++) o[i] = x[i] OP y[i];                                        \
    else if (xs)                                                                                   \
        for (size_t i = 0; i < n; i++) o[i] = x[i] OP y[0];                                        \
    else if (ys)                                                                                   \
        for (size_t i = 0; i < n; i++) o[i] = x[0] OP y[i];                                        \
    else                                                                                           \
        for (size_t i = 0; i < n; i++) o[i] = x[0] OP y[0];
    if (kind == BIN_ADD) {
        BIN_LOOPS(+)
    } else if (kind == BIN_MUL) {
        BIN_LOOPS(*)
    } else {
        BIN_LOOPS(-)
    }
#undef BIN_LOOPS
}

/* Whether a broadcast operand of shape @s is [1, ..., 1, full trailing axes] of @shape: element
 * i of the output then reads element i modulo its count. */
static int trailing(const int64_t *s, const int64_t *shape, int nd)
{
    int k = 0;
    while (k < nd && s[k] == 1) k++;
    for (int d = k; d < nd; d++)
        if (s[d] != shape[d]) return 0;
    return 1;
}

static int run_binary(node_t *nd, const vg_tensor_t *a, const vg_tensor_t *b, int kind)
{
    int nd_ = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[VG_TENSOR_MAX_DIMS], as[VG_TENSOR_MAX_DIMS], bs[VG_TENSOR_MAX_DIMS];
    int64_t ast[VG_TENSOR_MAX_DIMS], bst[VG_TENSOR_MAX_DIMS];
    if (a->dtype != b->dtype) FAIL(nd, "binary op on a float and an int tensor");
    for (int d = 0; d < nd_; d++) {
        int da = d - (nd_ - a->ndim), db = d - (nd_ - b->ndim);
        as[d] = da >= 0 ? a->shape[da] : 1;
        bs[d] = db >= 0 ? b->shape[db] : 1;
        if (as[d] != bs[d] && as[d] != 1 && bs[d] != 1) FAIL(nd, "shapes do not broadcast");
        shape[d] = as[d] > bs[d] ? as[d] : bs[d];
    }
    int ret = vg__nn_alloc_out(nd, 0, a->dtype, nd_, shape);
    if (ret < 0) return ret;
    size_t n = nd->out[0].count;
    if (a->dtype == VG_DT_F32) {
        const float *x = a->data, *y = b->data;
        float *o = nd->out[0].data;
        if (a->count == n && b->count == n) { /* the switch outside: each loop vectorises */
            if (kind == BIN_ADD)
                for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i];
            else if (kind == BIN_MUL)
                for (size_t i = 0; i < n; i++) o[i] = x[i] * y[i];
            else
                for (size_t i = 0; i < n; i++) o[i] = x[i] - y[i];
            return 0;
        }
        /* one side repeats along the leading axes: a scalar, a per-channel bias or scale [C]
         * or [1, 1, 1, C] (squeeze-and-excitation) */
        if (a->count == n && trailing(bs, shape, nd_)) {
            size_t step = b->count > 1 ? b->count : n;
            for (size_t i = 0; i < n; i += step)
                bin_rows(kind, o + i, x + i, 1, y, b->count > 1, step);
            return 0;
        }
        if (b->count == n && trailing(as, shape, nd_)) {
            size_t step = a->count > 1 ? a->count : n;
            for (size_t i = 0; i < n; i += step)
                bin_rows(kind, o + i, x, a->count > 1, y + i, 1, step);
            return 0;
        }
        /* b's non-unit axes contiguous and full (a bias [1, C, 1, 1] or [C]): b[(i / inner) % bn]
         */
        int first = -1, lastd = -1, ok = a->count == n;
        for (int d = 0; d < nd_; d++)
            if (bs[d] != 1) {
                if (first < 0) first = d;
                ok &= lastd < 0 || lastd == d - 1;
                ok &= bs[d] == shape[d];
                lastd = d;
            }
        if (ok && first >= 0) {
            size_t inner = 1, bn = b->count;
            for (int d = lastd + 1; d < nd_; d++) inner *= (size_t)shape[d];
            for (size_t i = 0; i < n; i += inner) {
                float v = y[(i / inner) % bn];
                if (kind == BIN_ADD)
                    for (size_t k = 0; k < inner; k++) o[i + k] = x[i + k] + v;
                else if (kind == BIN_MUL)
                    for (size_t k = 0; k < inner; k++) o[i + k] = x[i + k] * v;
                else
                    for (size_t k = 0; k < inner; k++) o[i + k] = x[i + k] - v;
            }
            return 0;
        }
    }
    int64_t s = 1, t = 1;
    for (int d = nd_ - 1; d >= 0; d--) {
        ast[d] = as[d] == 1 ? 0 : s, bst[d] = bs[d] == 1 ? 0 : t;
        s *= as[d], t *= bs[d];
    }
    int64_t idx[VG_TENSOR_MAX_DIMS] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < nd_; d++) oa += idx[d] * ast[d], ob += idx[d] * bst[d];
        if (a->dtype == VG_DT_F32)
            ((float *)nd->out[0].data)[i] =
                binf(kind, ((const float *)a->data)[oa], ((const float *)b->data)[ob]);
        else {
            int32_t xa = ((const int32_t *)a->data)[oa], yb = ((const int32_t *)b->data)[ob];
            ((int32_t *)nd->out[0].data)[i] = kind == BIN_ADD   ? xa + yb
                                              : kind == BIN_MUL ? xa * yb
                                                                : xa - yb;
        }
        for (int d = nd_ - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* A convolution node's fused activation. */
static vg_act_t node_act(const node_t *nd)
{
    static const int kinds[6] = {VG_ACT_NONE,  VG_ACT_RELU, VG_ACT_RELU6,
                                 VG_ACT_LEAKY, VG_ACT_SILU, VG_ACT_SIGMOID};
    vg_act_t a = {kinds[nd->act >= 0 && nd->act < 6 ? nd->act : 0], nd->alpha, 0, 0};
    return a;
}

/* The fused bias @b of a convolution with @o output channels (NULL when it has none). */
static int conv_bias(node_t *nd, const vg_tensor_t *b, int o, const float **bias)
{
    *bias = NULL;
    if (!b) return 0;
    if (b->dtype != VG_DT_F32 || b->count != (size_t)o)
        FAIL(nd, "bias does not match the channels");
    *bias = b->data;
    return 0;
}

/* TF's output size and leading padding for VALID / SAME. */
static int tf_pad(int in, int k, int s, int dil, int same, int *out, int *before)
{
    int keff = (k - 1) * dil + 1;
    if (same) {
        *out = (in + s - 1) / s;
        int total = (*out - 1) * s + keff - in;
        *before = total > 0 ? total / 2 : 0;
    } else {
        *out = in >= keff ? (in - keff) / s + 1 : 0;
        *before = 0;
    }
    return *out > 0 ? 0 : -1;
}

/* Geometry of a convolution-like node on NHWC @x with a [kh, kw, c, m] filter giving @o output
 * channels, and its output tensor. */
static int conv_setup(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *f, int o,
                      vg_conv_geom_t *g)
{
    g->n = (int)x->shape[0], g->h = (int)x->shape[1], g->w = (int)x->shape[2];
    g->c = (int)x->shape[3];
    g->kh = (int)f->shape[0], g->kw = (int)f->shape[1], g->o = o;
    g->sy = nd->strides[1], g->sx = nd->strides[2], g->dy = nd->dil[1], g->dx = nd->dil[2];
    if (nd->explicit_pad) { /* a VALID convolution of a padded input (see fuse_graph) */
        if (tf_pad(g->h + nd->pads[0] + nd->pads[1], g->kh, g->sy, g->dy, 0, &g->oh, &g->pt) < 0 ||
            tf_pad(g->w + nd->pads[2] + nd->pads[3], g->kw, g->sx, g->dx, 0, &g->ow, &g->pl) < 0)
            FAIL(nd, "the input is smaller than the filter");
        g->pt = nd->pads[0], g->pl = nd->pads[2];
    } else if (tf_pad(g->h, g->kh, g->sy, g->dy, nd->same, &g->oh, &g->pt) < 0 ||
               tf_pad(g->w, g->kw, g->sx, g->dx, nd->same, &g->ow, &g->pl) < 0)
        FAIL(nd, "the input is smaller than the filter");
    int64_t shape[4] = {g->n, g->oh, g->ow, g->o};
    return vg__nn_alloc_out(nd, 0, VG_DT_F32, 4, shape);
}

static int run_conv(vg_model_t *m, node_t *nd, const vg_tensor_t *x, const vg_tensor_t *f,
                    const vg_tensor_t *b)
{
    vg_conv_geom_t g;
    if (x->ndim != 4 || f->ndim != 4 || x->dtype != VG_DT_F32 || f->dtype != VG_DT_F32 ||
        f->shape[2] != x->shape[3])
        FAIL(nd, "Conv2D wants NHWC input and HWIO filter with matching channels");
    int ret = conv_setup(nd, x, f, (int)f->shape[3], &g);
    if (ret < 0) return ret;
    size_t need = vg__conv2d_scratch(&g);
    if (need > m->scratch_size) {
        float *s = vg_realloc(m->scratch, need * sizeof(float));
        if (!s) return VG_ENOMEM;
        m->scratch = s;
        m->scratch_size = need;
    }
    const float *bias;
    if (conv_bias(nd, b, g.o, &bias) < 0) return VG_EFORMAT;
    vg_act_t act = node_act(nd);
    if (nd->q8 &&
        (ret = vg__conv2d_q8(&g, x->data, nd->q8, bias, &act, nd->out[0].data)) != VG_ENOSYS)
        return ret;
    g.packed = nd->packed;
    return vg__conv2d_gemm(&g, x->data, f->data, bias, &act, nd->out[0].data, m->scratch);
}

static int run_concat(node_t *nd, const vg_tensor_t **in, int nin)
{
    int64_t ax;
    size_t n = 0;
    if (nin < 2 || vg__nn_ints(in[nin - 1], &ax, 1, &n) < 0 || n != 1)
        FAIL(nd, "ConcatV2 needs an axis");
    const vg_tensor_t *a = in[0];
    if (ax < 0) ax += a->ndim;
    if (ax < 0 || ax >= a->ndim) FAIL(nd, "axis out of range");
    if (nd->remap) ax = phys_axis[ax];
    int64_t shape[VG_TENSOR_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(shape));
    shape[ax] = 0;
    for (int i = 0; i < nin - 1; i++) {
        if (in[i]->ndim != a->ndim || in[i]->dtype != a->dtype)
            FAIL(nd, "inputs differ in rank or type");
        for (int d = 0; d < a->ndim; d++)
            if (d != ax && in[i]->shape[d] != a->shape[d]) FAIL(nd, "inputs differ in shape");
        shape[ax] += in[i]->shape[ax];
    }
    int ret = vg__nn_alloc_out(nd, 0, a->dtype, a->ndim, shape);
    if (ret < 0) return ret;
    size_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= (size_t)a->shape[d];
    for (int d = (int)ax + 1; d < a->ndim; d++) inner *= (size_t)a->shape[d];
    uint32_t *dst = nd->out[0].data;
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < nin - 1; i++) {
            size_t len = (size_t)in[i]->shape[ax] * inner;
            memcpy(dst, (const uint32_t *)in[i]->data + o * len, len * 4);
            dst += len;
        }
    return 0;
}

static int run_splitv(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *szt,
                      const vg_tensor_t *axt)
{
    int64_t sizes[MAX_OUT], ax = 0;
    size_t n = 0, one = 0;
    if (vg__nn_ints(szt, sizes, MAX_OUT, &n) < 0 || (int)n != nd->num_split ||
        vg__nn_ints(axt, &ax, 1, &one) < 0)
        FAIL(nd, "SplitV sizes do not match num_split");
    if (ax < 0) ax += x->ndim;
    if (ax < 0 || ax >= x->ndim) FAIL(nd, "axis out of range");
    if (nd->remap) ax = phys_axis[ax];
    int64_t known = 0, free_at = -1;
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] == -1) {
            if (free_at >= 0) FAIL(nd, "two -1 sizes");
            free_at = (int64_t)i;
        } else if (sizes[i] < 0) {
            FAIL(nd, "negative size");
        } else {
            known += sizes[i];
        }
    }
    if (free_at >= 0) sizes[free_at] = x->shape[ax] - known, known = x->shape[ax];
    if (known != x->shape[ax] || (free_at >= 0 && sizes[free_at] < 0))
        FAIL(nd, "sizes do not add up");
    size_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= (size_t)x->shape[d];
    for (int d = (int)ax + 1; d < x->ndim; d++) inner *= (size_t)x->shape[d];
    int64_t start = 0;
    for (int k = 0; k < nd->num_split; k++) {
        int64_t shape[VG_TENSOR_MAX_DIMS];
        memcpy(shape, x->shape, sizeof(shape));
        shape[ax] = sizes[k];
        int ret = vg__nn_alloc_out(nd, k, x->dtype, x->ndim, shape);
        if (ret < 0) return ret;
        size_t len = (size_t)sizes[k] * inner, row = (size_t)x->shape[ax] * inner;
        for (size_t o = 0; o < outer; o++)
            memcpy((uint32_t *)nd->out[k].data + o * len,
                   (const uint32_t *)x->data + o * row + (size_t)start * inner, len * 4);
        start += sizes[k];
    }
    return 0;
}

static int run_reshape(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *st)
{
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t n, known = 1;
    int free_at = -1;
    if (vg__nn_ints(st, shape, VG_TENSOR_MAX_DIMS, &n) < 0) FAIL(nd, "too many dimensions");
    for (size_t d = 0; d < n; d++) {
        if (shape[d] == -1 && free_at < 0)
            free_at = (int)d;
        else if (shape[d] < 0)
            FAIL(nd, "bad shape");
        else
            known *= (size_t)shape[d];
    }
    if (free_at >= 0) {
        if (!known || x->count % known) FAIL(nd, "cannot infer the -1 dimension");
        shape[free_at] = (int64_t)(x->count / known);
        known = x->count;
    }
    if (known != x->count) FAIL(nd, "reshape of %zu elements to %zu", x->count, known);
    return reshaped_copy(nd, x, (int)n, shape);
}

/* Cast between float32 and int32 (float to int truncates, as TF does). */
static int run_cast(node_t *nd, const vg_tensor_t *x)
{
    vg_dtype_t to = nd->to_int ? VG_DT_I32 : VG_DT_F32;
    if (x->dtype == to) return reshaped_copy(nd, x, x->ndim, x->shape);
    int ret = vg__nn_alloc_out(nd, 0, to, x->ndim, x->shape);
    if (ret < 0) return ret;
    if (x->dtype == to) {
        memcpy(nd->out[0].data, x->data, x->count * 4);
    } else if (to == VG_DT_F32) {
        for (size_t i = 0; i < x->count; i++)
            ((float *)nd->out[0].data)[i] = (float)((const int32_t *)x->data)[i];
    } else {
        for (size_t i = 0; i < x->count; i++) {
            float v = ((const float *)x->data)[i];
            if (!(v > -2147483648.0f && v < 2147483648.0f)) FAIL(nd, "value out of int32 range");
            ((int32_t *)nd->out[0].data)[i] = (int32_t)v;
        }
    }
    return 0;
}

/* A copy of @x with another shape of the same element count. */
/* @x with another shape of the same element count: its buffer taken over when possible (the
 * data do not move), else a copy. */
static int reshaped_copy(node_t *nd, const vg_tensor_t *x, int ndim, const int64_t *shape)
{
    vg_tensor_t probe;
    if (ndim < 0 || ndim > VG_TENSOR_MAX_DIMS) FAIL(nd, "too many dimensions");
    vg_tensor_view(&probe, x->dtype, ndim, shape, NULL); /* @shape may be @x's own: kept here */
    if (probe.count != x->count) FAIL(nd, "element count changes");
    if (takeover(nd->model, nd, x)) {
        nd->out[0].ndim = ndim;
        memcpy(nd->out[0].shape, probe.shape, sizeof(probe.shape));
        return 0;
    }
    int ret = vg__nn_alloc_out(nd, 0, x->dtype, ndim, shape);
    if (ret < 0) return ret;
    memcpy(nd->out[0].data, x->data, x->count * 4);
    return 0;
}

static int run_expand_dims(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *dimt)
{
    int64_t dim, shape[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (vg__nn_ints(dimt, &dim, 1, &n) < 0 || n != 1 || x->ndim >= VG_TENSOR_MAX_DIMS)
        FAIL(nd, "ExpandDims needs one axis and room for it");
    if (dim < 0) dim += x->ndim + 1;
    if (dim < 0 || dim > x->ndim) FAIL(nd, "axis out of range");
    for (int d = 0, k = 0; d <= x->ndim; d++) shape[d] = d == dim ? 1 : x->shape[k++];
    return reshaped_copy(nd, x, x->ndim + 1, shape);
}

static int run_squeeze(node_t *nd, const vg_tensor_t *x)
{
    int64_t shape[VG_TENSOR_MAX_DIMS];
    int n = 0;
    if (nd->squeeze >> x->ndim) FAIL(nd, "squeezes an axis the tensor does not have");
    for (int d = 0; d < x->ndim; d++) {
        int named = nd->squeeze ? (int)(nd->squeeze >> d) & 1 : x->shape[d] == 1;
        if (named && x->shape[d] != 1)
            FAIL(nd, "squeezes an axis of size %lld", (long long)x->shape[d]);
        if (!named) shape[n++] = x->shape[d];
    }
    return reshaped_copy(nd, x, n, shape);
}

static int run_unpack(node_t *nd, const vg_tensor_t *x)
{
    int ax = nd->axis < 0 ? nd->axis + x->ndim : nd->axis;
    if (ax < 0 || ax >= x->ndim || x->shape[ax] != nd->num_split)
        FAIL(nd, "Unpack of %d tensors along an axis that does not have them", nd->num_split);
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t outer = 1, inner = 1;
    for (int d = 0, k = 0; d < x->ndim; d++)
        if (d != ax) shape[k++] = x->shape[d];
    for (int d = 0; d < ax; d++) outer *= (size_t)x->shape[d];
    for (int d = ax + 1; d < x->ndim; d++) inner *= (size_t)x->shape[d];
    for (int k = 0; k < nd->num_split; k++) {
        int ret = vg__nn_alloc_out(nd, k, x->dtype, x->ndim - 1, shape);
        if (ret < 0) return ret;
        for (size_t o = 0; o < outer; o++)
            memcpy((uint32_t *)nd->out[k].data + o * inner,
                   (const uint32_t *)x->data + (o * (size_t)nd->num_split + (size_t)k) * inner,
                   inner * 4);
    }
    return 0;
}

static int run_shape(node_t *nd, const vg_tensor_t *x)
{
    int64_t n = x->ndim;
    int ret = vg__nn_alloc_out(nd, 0, VG_DT_I32, 1, &n);
    if (ret < 0) return ret;
    for (int d = 0; d < x->ndim; d++) ((int32_t *)nd->out[0].data)[d] = (int32_t)x->shape[d];
    return 0;
}

/* TF's StridedSlice without ellipsis and new axes: begin, end and strides per leading axis,
 * masks taking the whole axis, shrink_axis dropping a size-1 axis. */
static int run_strided_slice(node_t *nd, const vg_tensor_t **in)
{
    const vg_tensor_t *x = in[0];
    int64_t b[VG_TENSOR_MAX_DIMS], e[VG_TENSOR_MAX_DIMS], st[VG_TENSOR_MAX_DIMS];
    int64_t len[VG_TENSOR_MAX_DIMS], oshape[VG_TENSOR_MAX_DIMS], ist[VG_TENSOR_MAX_DIMS];
    size_t nb = 0, ne = 0, ns = 0;
    if (vg__nn_ints(in[1], b, VG_TENSOR_MAX_DIMS, &nb) < 0 ||
        vg__nn_ints(in[2], e, VG_TENSOR_MAX_DIMS, &ne) < 0 ||
        vg__nn_ints(in[3], st, VG_TENSOR_MAX_DIMS, &ns) < 0 || nb != ne || nb != ns ||
        (int)nb > x->ndim)
        FAIL(nd, "StridedSlice wants begin, end and strides of the same length");
    int on = 0;
    for (int d = 0; d < x->ndim; d++) {
        int64_t dim = x->shape[d], s = d < (int)nb ? st[d] : 1, lo, hi;
        if (s == 0) FAIL(nd, "zero stride");
        if (d >= (int)nb) {
            lo = 0, hi = dim;
        } else if (nd->shrink_mask >> d & 1) {
            lo = b[d] < 0 ? b[d] + dim : b[d];
            if (lo < 0 || lo >= dim) FAIL(nd, "index out of range");
            hi = lo + 1, s = 1;
        } else {
            lo = nd->begin_mask >> d & 1 ? (s > 0 ? 0 : dim - 1) : b[d] < 0 ? b[d] + dim : b[d];
            hi = nd->end_mask >> d & 1 ? (s > 0 ? dim : -1) : e[d] < 0 ? e[d] + dim : e[d];
            /* clamp as TF does: [0, dim] going forward, [-1, dim - 1] going back */
            if (s > 0) {
                lo = lo < 0 ? 0 : lo > dim ? dim : lo;
                hi = hi < 0 ? 0 : hi > dim ? dim : hi;
            } else {
                lo = lo < -1 ? -1 : lo > dim - 1 ? dim - 1 : lo;
                hi = hi < -1 ? -1 : hi > dim - 1 ? dim - 1 : hi;
            }
        }
        int64_t n = s > 0 ? (hi - lo + s - 1) / s : (lo - hi - s - 1) / -s;
        len[d] = n > 0 ? n : 0;
        b[d] = lo, st[d] = s;
        if (!(d < (int)nb && nd->shrink_mask >> d & 1)) oshape[on++] = len[d];
    }
    int ret = vg__nn_alloc_out(nd, 0, x->dtype, on, oshape);
    if (ret < 0) return ret;
    strides_of(x, ist);
    int64_t idx[VG_TENSOR_MAX_DIMS] = {0};
    uint32_t *dst = nd->out[0].data;
    const uint32_t *src = x->data;
    for (size_t i = 0; i < nd->out[0].count; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++) off += (b[d] + idx[d] * st[d]) * ist[d];
        dst[i] = src[off];
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < len[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

static int run_sparse_to_dense(node_t *nd, const vg_tensor_t **in)
{
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t nd_;
    const vg_tensor_t *idx = in[0], *vals = in[2], *def = in[3];
    if (vg__nn_ints(in[1], shape, VG_TENSOR_MAX_DIMS, &nd_) < 0 || def->count != 1 ||
        idx->dtype != VG_DT_I32)
        FAIL(nd, "bad SparseToDense arguments");
    int ret = vg__nn_alloc_out(nd, 0, vals->dtype, (int)nd_, shape);
    if (ret < 0) return ret;
    vg_tensor_t *o = &nd->out[0];
    uint32_t d0;
    memcpy(&d0, def->data, 4);
    for (size_t i = 0; i < o->count; i++) ((uint32_t *)o->data)[i] = d0;
    size_t nidx = idx->ndim >= 1 ? (size_t)idx->shape[0] : 0;
    size_t width = idx->ndim == 2 ? (size_t)idx->shape[1] : 1;
    if (width != nd_ && nidx) FAIL(nd, "indices do not match the output rank");
    int64_t ost[VG_TENSOR_MAX_DIMS];
    strides_of(o, ost);
    for (size_t i = 0; i < nidx; i++) {
        int64_t off = 0;
        for (size_t d = 0; d < width; d++) {
            int64_t v = ((const int32_t *)idx->data)[i * width + d];
            if (v < 0 || v >= shape[d]) FAIL(nd, "index out of range");
            off += v * ost[d];
        }
        uint32_t v;
        memcpy(&v, (const uint32_t *)vals->data + (vals->count == 1 ? 0 : i), 4);
        ((uint32_t *)o->data)[off] = v;
    }
    return 0;
}

static int run_depthwise(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *f,
                         const vg_tensor_t *b)
{
    vg_conv_geom_t g;
    if (x->ndim != 4 || f->ndim != 4 || x->dtype != VG_DT_F32 || f->dtype != VG_DT_F32 ||
        f->shape[2] != x->shape[3] || f->shape[3] < 1)
        FAIL(nd, "depthwise wants NHWC input and a [kh, kw, c, m] filter");
    int ret = conv_setup(nd, x, f, (int)(f->shape[2] * f->shape[3]), &g);
    if (ret < 0) return ret;
    const float *bias;
    if (conv_bias(nd, b, g.o, &bias) < 0) return VG_EFORMAT;
    vg_act_t act = node_act(nd);
    vg__depthwise(&g, (int)f->shape[3], x->data, f->data, bias, act.kind ? &act : NULL,
                  nd->out[0].data);
    return 0;
}

static int run_mean(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *axt)
{
    int64_t axes[VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS], kshape[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    int red[VG_TENSOR_MAX_DIMS] = {0}, nd_out = 0;
    if (x->dtype != VG_DT_F32 || vg__nn_ints(axt, axes, VG_TENSOR_MAX_DIMS, &n) < 0)
        FAIL(nd, "bad Mean");
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim) FAIL(nd, "axis out of range");
        red[a] = 1;
    }
    for (int d = 0; d < x->ndim; d++) {
        kshape[d] = red[d] ? 1 : x->shape[d];
        if (!red[d] || nd->keep_dims) shape[nd_out++] = kshape[d];
    }
    int ret = vg__nn_alloc_out(nd, 0, VG_DT_F32, nd_out, shape);
    if (ret < 0) return ret;
    float *o = nd->out[0].data;
    const float *src = x->data;
    if (x->ndim == 4 && red[1] && red[2] && !red[0] && !red[3]) {
        /* spatial mean of NHWC (squeeze-and-excitation): add rows of channels */
        size_t hw = (size_t)(x->shape[1] * x->shape[2]), c = (size_t)x->shape[3];
        for (int64_t b = 0; b < x->shape[0]; b++) {
            float *ob = o + (size_t)b * c;
            for (size_t k = 0; k < c; k++) ob[k] = 0;
            for (size_t p = 0; p < hw; p++) {
                const float *row = src + ((size_t)b * hw + p) * c;
                for (size_t k = 0; k < c; k++) ob[k] += row[k];
            }
            for (size_t k = 0; k < c; k++) ob[k] /= (float)hw;
        }
        return 0;
    }
    int64_t ost[VG_TENSOR_MAX_DIMS] = {0}, idx[VG_TENSOR_MAX_DIMS] = {0};
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) ost[d] = red[d] ? 0 : s, s *= kshape[d];
    size_t outn = nd->out[0].count, per = outn ? x->count / outn : 0;
    for (size_t i = 0; i < outn; i++) o[i] = 0;
    for (size_t i = 0; i < x->count; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++) off += idx[d] * ost[d];
        o[off] += src[i];
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < x->shape[d]) break;
            idx[d] = 0;
        }
    }
    for (size_t i = 0; i < outn; i++) o[i] /= (float)per;
    return 0;
}

/*
 * Output of a unary elementwise node: it takes over its input's buffer when it is that tensor's
 * last reader and nothing keeps it (the op then runs in place), else a new tensor.
 */
/* Move @x into @nd's output 0 when @nd is its last reader in a run that keeps nothing (and it is
 * no constant or graph input): returns 1, and the op may then work in place; 0 otherwise. */
static int takeover(vg_model_t *m, node_t *nd, const vg_tensor_t *x)
{
    node_t *src = &m->nodes[nd->in_node[0]];
    int port = nd->in_port[0];
    vg_tensor_t *t = &src->out[port];
    if (x != t || m->keep_all || src->op == OP_CONST || src->op == OP_PLACEHOLDER ||
        src->remaining[port] != 1 || !(t->owned || src->alloc_id[port] >= 0))
        return 0;
    vg_tensor_free(&nd->out[0]);
    nd->out[0] = *t;
    nd->alloc_id[0] = src->alloc_id[port];
    memset(t, 0, sizeof(*t));
    src->alloc_id[port] = -1;
    return 1;
}

int vg__nn_unary_out(vg_model_t *m, node_t *nd, const vg_tensor_t *x)
{
    if (x->dtype == VG_DT_F32 && takeover(m, nd, x)) return 0;
    /* the shape of the tensor actually read (the graph's input is not a node's output) */
    return vg__nn_alloc_out(nd, 0, VG_DT_F32, x->ndim, x->shape);
}

/* ---- the op table ---- */

static int op_none(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m, (void)nd, (void)in;
    return 0;
}

static int op_identity(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return reshaped_copy(nd, in[0], in[0]->ndim, in[0]->shape);
}

static int op_transpose(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_transpose(nd, in[0], in[1]);
}

static int op_pad(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_pad(nd, in[0], in[1], 0);
}

static int op_padv2(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    if (in[2]->count != 1 || in[2]->dtype != VG_DT_F32) FAIL(nd, "pad value must be a float");
    return run_pad(nd, in[0], in[1], ((const float *)in[2]->data)[0]);
}

static int op_conv2d(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    return run_conv(m, nd, in[0], in[1], NULL);
}

static int op_fused_conv(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    return run_conv(m, nd, in[0], in[1], in[2]);
}

static int op_add(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_binary(nd, in[0], in[1], BIN_ADD);
}

static int op_mul(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_binary(nd, in[0], in[1], BIN_MUL);
}

static int op_sub(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_binary(nd, in[0], in[1], BIN_SUB);
}

static int op_depthwise(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_depthwise(nd, in[0], in[1], nd->op == OP_FUSED_DEPTHWISE ? in[2] : NULL);
}

static int op_mean(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_mean(nd, in[0], in[1]);
}

/* Elementwise activations: in place when the node is its input's last reader. */
static int op_unary(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    int ret;
    if (in[0]->dtype != VG_DT_F32) FAIL(nd, "float input expected");
    size_t count = in[0]->count;
    const float *x = in[0]->data; /* read before a takeover clears the source */
    if ((ret = vg__nn_unary_out(m, nd, in[0])) < 0) return ret;
    float *o = nd->out[0].data;
    if (!x) x = o;
    vg_act_t act = {vg__nn_ops[nd->op].act, nd->alpha, nd->hs_add, nd->hs_scale};
    vg__act(x, o, count, &act);
    return 0;
}

static int op_maxpool(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    const vg_tensor_t *x = in[0];
    int oh, ow, pt, pl, ret;
    (void)m;
    if (x->ndim != 4 || x->dtype != VG_DT_F32) FAIL(nd, "MaxPool wants NHWC");
    if (nd->explicit_pad) { /* ONNX's pads: padded cells are never the maximum */
        if (tf_pad((int)x->shape[1] + nd->pads[0] + nd->pads[1], nd->ksize[1], nd->strides[1], 1, 0,
                   &oh, &pt) < 0 ||
            tf_pad((int)x->shape[2] + nd->pads[2] + nd->pads[3], nd->ksize[2], nd->strides[2], 1, 0,
                   &ow, &pl) < 0)
            FAIL(nd, "input smaller than the window");
        pt = nd->pads[0], pl = nd->pads[2];
    } else if (tf_pad((int)x->shape[1], nd->ksize[1], nd->strides[1], 1, nd->same, &oh, &pt) < 0 ||
               tf_pad((int)x->shape[2], nd->ksize[2], nd->strides[2], 1, nd->same, &ow, &pl) < 0)
        FAIL(nd, "input smaller than the window");
    int64_t shape[4] = {x->shape[0], oh, ow, x->shape[3]};
    if ((ret = vg__nn_alloc_out(nd, 0, VG_DT_F32, 4, shape)) < 0) return ret;
    vg__maxpool(x->data, (int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                nd->ksize[1], nd->ksize[2], nd->strides[1], nd->strides[2], pt, pl, oh, ow,
                nd->out[0].data);
    return 0;
}

static int op_concat(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_concat(nd, in, nd->nin);
}

static int op_resize(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    int64_t sz[2];
    size_t n = 0;
    int ret;
    const vg_tensor_t *x = in[0];
    (void)m;
    if (x->ndim != 4 || x->dtype != VG_DT_F32 || vg__nn_ints(in[1], sz, 2, &n) < 0 || n != 2 ||
        sz[0] < 1 || sz[1] < 1 || sz[0] > 8192 || sz[1] > 8192)
        FAIL(nd, "ResizeBilinear wants NHWC and a size [h, w]");
    int64_t shape[4] = {x->shape[0], sz[0], sz[1], x->shape[3]};
    if ((ret = vg__nn_alloc_out(nd, 0, VG_DT_F32, 4, shape)) < 0) return ret;
    vg__resize_bilinear(x->data, (int)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                        (int)x->shape[3], (int)sz[0], (int)sz[1], nd->align_corners, nd->half_pixel,
                        nd->out[0].data);
    return 0;
}

/* TF's ResizeNearestNeighbor without align_corners or half-pixel centres: out (y, x) reads
 * in (floor(y * h / oh), floor(x * w / ow)), which is ONNX's nearest resize with asymmetric
 * coordinates and floor rounding. */
static int op_resize_nearest(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    int64_t sz[2];
    size_t n = 0;
    int ret;
    const vg_tensor_t *x = in[0];
    (void)m;
    if (x->ndim != 4 || x->dtype != VG_DT_F32 || vg__nn_ints(in[1], sz, 2, &n) < 0 || n != 2 ||
        sz[0] < 1 || sz[1] < 1 || sz[0] > 8192 || sz[1] > 8192)
        FAIL(nd, "ResizeNearestNeighbor wants NHWC and a size [h, w]");
    int64_t shape[4] = {x->shape[0], sz[0], sz[1], x->shape[3]};
    if ((ret = vg__nn_alloc_out(nd, 0, VG_DT_F32, 4, shape)) < 0) return ret;
    const int64_t h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const float *src = x->data;
    float *dst = nd->out[0].data;
    for (int64_t b = 0; b < x->shape[0]; b++)
        for (int64_t y = 0; y < sz[0]; y++) {
            const float *row = src + ((b * h) + y * h / sz[0]) * w * c;
            for (int64_t q = 0; q < sz[1]; q++, dst += c)
                memcpy(dst, row + (q * w / sz[1]) * c, (size_t)c * sizeof(float));
        }
    return 0;
}

static int op_splitv(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_splitv(nd, in[0], in[1], in[2]);
}

static int op_reshape(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_reshape(nd, in[0], in[1]);
}

static int op_sparse_to_dense(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_sparse_to_dense(nd, in);
}

static int op_cast(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_cast(nd, in[0]);
}

static int op_expand_dims(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_expand_dims(nd, in[0], in[1]);
}

static int op_squeeze(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_squeeze(nd, in[0]);
}

static int op_unpack(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_unpack(nd, in[0]);
}

static int op_shape(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_shape(nd, in[0]);
}

static int op_strided_slice(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    (void)m;
    return run_strided_slice(nd, in);
}

#define U VG_OP_UNARY
#define C VG_OP_CONV
const vg_op_def_t vg__nn_ops[OP_NB] = {
    [OP_CONST] = {"Const", 0, 0, 0, op_none},
    [OP_PLACEHOLDER] = {"Placeholder", 0, 0, 0, op_none},
    [OP_IDENTITY] = {"Identity", 1, 0, 0, op_identity},
    [OP_TRANSPOSE] = {"Transpose", 2, 0, 0, op_transpose},
    [OP_PAD] = {"Pad", 2, 0, 0, op_pad},
    [OP_PADV2] = {"PadV2", 3, 0, 0, op_padv2},
    [OP_CONV2D] = {"Conv2D", 2, C, 0, op_conv2d},
    [OP_ADD] = {"Add", 2, 0, 0, op_add},
    [OP_LEAKYRELU] = {"LeakyRelu", 1, U, VG_ACT_LEAKY, op_unary},
    [OP_MAXPOOL] = {"MaxPool", 1, 0, 0, op_maxpool},
    [OP_CONCAT] = {"ConcatV2", -1, 0, 0, op_concat},
    [OP_RESIZE] = {"ResizeBilinear", 2, 0, 0, op_resize},
    [OP_SPLITV] = {"SplitV", 3, 0, 0, op_splitv},
    [OP_SIGMOID] = {"Sigmoid", 1, U, VG_ACT_SIGMOID, op_unary},
    [OP_RESHAPE] = {"Reshape", 2, 0, 0, op_reshape},
    [OP_SPARSE_TO_DENSE] = {"SparseToDense", 4, 0, 0, op_sparse_to_dense},
    [OP_FUSED_CONV] = {"_FusedConv2D", 3, C, 0, op_fused_conv},
    [OP_DEPTHWISE] = {"DepthwiseConv2dNative", 2, C, 0, op_depthwise},
    [OP_FUSED_DEPTHWISE] = {"FusedDepthwiseConv2dNative", 3, C, 0, op_depthwise},
    [OP_MUL] = {"Mul", 2, 0, 0, op_mul},
    [OP_SUB] = {"Sub", 2, 0, 0, op_sub},
    [OP_RELU] = {"Relu", 1, U, VG_ACT_RELU, op_unary},
    [OP_RELU6] = {"Relu6", 1, U, VG_ACT_RELU6, op_unary},
    [OP_MEAN] = {"Mean", 2, 0, 0, op_mean},
    [OP_HSWISH] = {"vigie.HardSwish", 1, U, VG_ACT_HSWISH, op_unary}, /* fused at load */
    [OP_CAST] = {"Cast", 1, 0, 0, op_cast},
    [OP_EXPAND_DIMS] = {"ExpandDims", 2, 0, 0, op_expand_dims},
    [OP_SQUEEZE] = {"Squeeze", 1, 0, 0, op_squeeze},
    [OP_UNPACK] = {"Unpack", 1, 0, 0, op_unpack},
    [OP_SHAPE] = {"Shape", 1, 0, 0, op_shape},
    [OP_STRIDED_SLICE] = {"StridedSlice", 4, 0, 0, op_strided_slice},
    [OP_RESIZE_NEAREST] = {"ResizeNearestNeighbor", 2, 0, 0, op_resize_nearest},
};
#undef U
#undef C
