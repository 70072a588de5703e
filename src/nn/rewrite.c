/*
 * Load-time rewrites of a graph: a convolution's Pad, bias add and activation (SiLU among them)
 * folded into it,
 * TF's four-node hard-swish into one op, pointwise filters packed for the register-blocked
 * kernel; nodes the outputs do not need are pruned.
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

/* The value of a scalar float constant node, or NAN. */
static float const_scalar(const vg_model_t *m, int i)
{
    const node_t *nd = &m->nodes[i];
    if (nd->op != OP_CONST || nd->out[0].dtype != VG_DT_F32 || nd->out[0].count != 1 ||
        !nd->out[0].data)
        return NAN;
    return ((const float *)nd->out[0].data)[0];
}

/* For Mul/Add @i reading @x and a scalar constant: the constant, else NAN. */
static float with_scalar(const vg_model_t *m, int i, int op, int x)
{
    const node_t *nd = &m->nodes[i];
    if (nd->skip || nd->op != op || nd->nin != 2) return NAN;
    if (nd->in_node[0] == x && nd->in_port[0] == 0) return const_scalar(m, nd->in_node[1]);
    if (nd->in_node[1] == x && nd->in_port[1] == 0) return const_scalar(m, nd->in_node[0]);
    return NAN;
}

/*
 * Rewrites after loading. TF exports hard-swish as four nodes, mul = x * (1/6), add = x + 3,
 * r = Relu6(add), out = mul * r: four passes over memory and three temporaries. The last node
 * becomes one vigie.HardSwish of x (same constants, same order of operations, so the same
 * floats) and the three others are dropped when nothing else reads them.
 */
/* Node @from's only reader (its output 0 read once, by a kept node), or -1. */
static int only_reader(const vg_model_t *m, int from)
{
    const node_t *f = &m->nodes[from];
    if (f->consumers[0] != 1 || f->is_output) return -1;
    for (int i = 0; i < m->n; i++) {
        const node_t *nd = &m->nodes[i];
        if (nd->skip) continue;
        for (int k = 0; k < nd->nin; k++)
            if (nd->in_node[k] == from) return nd->in_port[k] == 0 ? i : -1;
    }
    return -1;
}

/* Every reader of (@from, 0) reads (@to, 0) instead; @from is dropped. */
static void bypass(vg_model_t *m, int from, int to)
{
    for (int i = 0; i < m->n; i++) {
        node_t *nd = &m->nodes[i];
        for (int k = 0; k < nd->nin; k++)
            if (nd->in_node[k] == from && nd->in_port[k] == 0) nd->in_node[k] = to;
    }
    m->nodes[to].consumers[0] = m->nodes[from].consumers[0];
    m->nodes[from].skip = 1;
}

/* Whether const node @i holds a 4-D transposition equal to @p. */
static int is_perm(const vg_model_t *m, int i, int p1, int p2, int p3)
{
    const vg_tensor_t *t = &m->nodes[i].out[0];
    if (m->nodes[i].op != OP_CONST || t->dtype != VG_DT_I32 || t->count != 4) return 0;
    const int32_t *v = t->data;
    return v[0] == 0 && v[1] == p1 && v[2] == p2 && v[3] == p3;
}

/*
 * NCHW exports (NanoDet) spell a convolution block as Pad -> Transpose -> Conv2D (VALID) -> Add
 * (bias) -> Transpose -> LeakyRelu. The bias and the activation become the convolution's fused
 * ones (the activation commutes with the transpose), and the zero Pad of H and W becomes the
 * convolution's own padding. Returns the number of rewrites.
 */
static int fuse_conv_blocks(vg_model_t *m)
{
    int fused = 0;
    for (int i = 0; i < m->n; i++) {
        node_t *c = &m->nodes[i];
        /* (input counts are checked when nodes run: a graph file may give any) */
        if (c->skip || (c->op != OP_CONV2D && c->op != OP_FUSED_CONV) || c->nin < 2) continue;
        const vg_tensor_t *f = &m->nodes[c->in_node[1]].out[0];
        if (m->nodes[c->in_node[1]].op != OP_CONST || f->ndim != 4) continue;
        /* Conv2D -> Add(bias [O]) */
        int a = only_reader(m, i);
        if (c->op == OP_CONV2D && c->nin == 2 && a >= 0 && m->nodes[a].op == OP_ADD &&
            m->nodes[a].nin == 2) {
            node_t *an = &m->nodes[a];
            int other = an->in_node[0] == i ? 1 : 0;
            const node_t *bn = &m->nodes[an->in_node[other]];
            if (an->in_node[1 - other] == i && bn->op == OP_CONST && an->in_port[other] == 0 &&
                bn->out[0].dtype == VG_DT_F32 && bn->out[0].count == (size_t)f->shape[3] &&
                bn->out[0].shape[bn->out[0].ndim - 1] == f->shape[3]) {
                c->op = OP_FUSED_CONV;
                c->in_node[2] = an->in_node[other];
                c->in_port[2] = 0;
                c->nin = 3;
                bypass(m, a, i);
                fused++;
            }
        }
        /* -> [Transpose NHWC to NCHW] -> LeakyRelu */
        if (c->op == OP_FUSED_CONV && c->act == 0) {
            int t = only_reader(m, i), l = t;
            if (t >= 0 && m->nodes[t].op == OP_TRANSPOSE && m->nodes[t].nin == 2 &&
                is_perm(m, m->nodes[t].in_node[1], 3, 1, 2))
                l = only_reader(m, t);
            if (l >= 0 && m->nodes[l].op == OP_LEAKYRELU) {
                c->act = 3;
                c->alpha = m->nodes[l].alpha;
                bypass(m, l, l == t ? i : t); /* its readers read what it read */
                fused++;
            }
        }
        /* Pad(zeros on H, W of NCHW) -> Transpose NCHW to NHWC -> this VALID convolution */
        int t = c->in_node[0];
        node_t *tn = &m->nodes[t];
        if (!c->same && !c->explicit_pad && tn->op == OP_TRANSPOSE && tn->nin == 2 &&
            c->in_port[0] == 0 && !tn->skip && is_perm(m, tn->in_node[1], 2, 3, 1) &&
            only_reader(m, t) == i) {
            int p = tn->in_node[0];
            node_t *pn = &m->nodes[p];
            if (pn->op != OP_PAD || pn->nin != 2) continue;
            const vg_tensor_t *pt = &m->nodes[pn->in_node[1]].out[0];
            if (pn->op == OP_PAD && tn->in_port[0] == 0 && only_reader(m, p) == t &&
                m->nodes[pn->in_node[1]].op == OP_CONST && pt->dtype == VG_DT_I32 &&
                pt->count == 8) {
                const int32_t *v = pt->data;
                int ok = !v[0] && !v[1] && !v[2] && !v[3];
                for (int k = 4; k < 8; k++) ok &= v[k] >= 0 && v[k] <= 64;
                if (ok) {
                    c->explicit_pad = 1;
                    for (int k = 0; k < 4; k++) c->pads[k] = v[4 + k];
                    tn->in_node[0] = pn->in_node[0];
                    tn->in_port[0] = pn->in_port[0];
                    pn->skip = 1;
                    fused++;
                }
            }
        }
    }
    return fused;
}

/*
 * ONNX exports spell activations as nodes after the convolution: Relu, Relu6 (Clip), LeakyRelu,
 * Sigmoid,
 * and SiLU as x * Sigmoid(x) (YOLOX: two nodes, two passes over memory, one temporary). Each
 * becomes the convolution's fused activation, applied while its output is in cache. Returns the
 * number of rewrites.
 */
static int fuse_activations(vg_model_t *m)
{
    int fused = 0;
    for (int i = 0; i < m->n; i++) {
        node_t *c = &m->nodes[i];
        if (c->skip || (c->op != OP_FUSED_CONV && c->op != OP_FUSED_DEPTHWISE) || c->act ||
            c->is_output)
            continue;
        int r = only_reader(m, i);
        if (r >= 0) {
            node_t *rn = &m->nodes[r];
            int act = rn->op == OP_RELU        ? 1
                      : rn->op == OP_RELU6     ? 2
                      : rn->op == OP_LEAKYRELU ? 3
                      : rn->op == OP_SIGMOID   ? 5
                                               : 0;
            if (act && rn->nin == 1 && !rn->is_output) { /* an output keeps its name */
                c->act = act;
                c->alpha = rn->alpha;
                bypass(m, r, i);
                fused++;
            }
            continue;
        }
        /* SiLU: read by exactly a Sigmoid and a Mul of (x, Sigmoid(x)) */
        if (c->consumers[0] != 2) continue;
        int s = -1, u = -1;
        for (int k = 0; k < m->n; k++) {
            node_t *nd = &m->nodes[k];
            if (nd->skip) continue;
            for (int q = 0; q < nd->nin; q++)
                if (nd->in_node[q] == i) {
                    if (nd->op == OP_SIGMOID && nd->nin == 1 && s < 0)
                        s = k;
                    else if (nd->op == OP_MUL && nd->nin == 2 && u < 0)
                        u = k;
                    break;
                }
        }
        if (s < 0 || u < 0 || only_reader(m, s) != u) continue;
        node_t *un = &m->nodes[u];
        int side = un->in_node[0] == i ? 0 : 1;
        if (un->in_node[side] != i || un->in_port[side] || un->in_node[1 - side] != s ||
            un->in_port[1 - side] || m->nodes[s].in_port[0])
            continue;
        c->act = 4;
        m->nodes[s].skip = 1;
        bypass(m, u, i);
        fused++;
    }
    return fused;
}

/*
 * Filters of the convolutions the register-blocked kernel will run (products of at most
 * VG_POINTWISE_MAX_K terms, on a processor with AVX2 and FMA) are rearranged once into the
 * panel order it reads (vg__gemm_pack), in place: the filter then serves that convolution only.
 */
static void pack_filters(vg_model_t *m)
{
    if (!vg__gemm_available()) return;
    for (int i = 0; i < m->norder; i++) {
        node_t *nd = &m->nodes[m->order[i]];
        if (nd->skip || (nd->op != OP_CONV2D && nd->op != OP_FUSED_CONV) || nd->nin < 2) continue;
        node_t *fn = &m->nodes[nd->in_node[1]];
        vg_tensor_t *f = &fn->out[0];
        if (fn->op != OP_CONST || nd->in_port[1] || fn->consumers[0] != 1 || fn->is_output ||
            f->dtype != VG_DT_F32 || f->ndim != 4 || !f->owned)
            continue;
        int64_t k = f->shape[0] * f->shape[1] * f->shape[2], o = f->shape[3];
        if (k < 1 || k > VG_POINTWISE_MAX_K || o < 1 || o > (1 << 20)) continue;
        float *p = vg_malloc_aligned(vg__gemm_packed_size((int)k, (int)o) * sizeof(float));
        if (!p) return; /* the plain layout still works */
        vg__gemm_pack((int)k, (int)o, f->data, p);
        vg_free_aligned(f->data);
        f->data = p;
        nd->packed = 1;
    }
}

void vg__nn_rewrite(vg_model_t *m)
{
    int fused = fuse_conv_blocks(m);
    /* (a TF.js graph comes with its activations fused where the converter could, and the
     * intermediates around the others are named in the reference checks) */
    if (m->onnx) fused += fuse_activations(m);
    for (int i = 0; i < m->n; i++) {
        node_t *nd = &m->nodes[i];
        if (nd->skip || nd->op != OP_MUL || nd->nin != 2) continue;
        for (int side = 0; side < 2; side++) {
            int r = nd->in_node[side], mu = nd->in_node[1 - side];
            node_t *rn = &m->nodes[r], *mn = &m->nodes[mu];
            if (nd->in_port[side] || nd->in_port[1 - side] || rn->skip || rn->op != OP_RELU6 ||
                rn->nin != 1 || rn->in_port[0] || mn->skip || mn->op != OP_MUL || mn->nin != 2)
                continue;
            int d = rn->in_node[0];
            node_t *dn = &m->nodes[d];
            if (dn->op != OP_ADD || dn->nin != 2 || dn->skip) continue;
            /* x: the Add's non-constant input, also read by the Mul */
            for (int q = 0; q < 2; q++) {
                int x = dn->in_node[q];
                float add = with_scalar(m, d, OP_ADD, x), scale = with_scalar(m, mu, OP_MUL, x);
                if (dn->in_port[q] || m->nodes[x].op == OP_CONST || isnan(add) || isnan(scale))
                    continue;
                if (rn->consumers[0] != 1 || dn->consumers[0] != 1 || mn->consumers[0] != 1)
                    continue;
                nd->op = OP_HSWISH;
                nd->nin = 1;
                nd->in_node[0] = x;
                nd->in_port[0] = 0;
                nd->hs_add = add;
                nd->hs_scale = scale;
                rn->skip = dn->skip = mn->skip = 1;
                m->nodes[x].consumers[0] -= 1; /* read by add and mul, now by this node */
                fused++;
                side = 2;
                break;
            }
        }
    }
    pack_filters(m);
    if (!fused) return;
    int k = 0;
    for (int i = 0; i < m->norder; i++)
        if (!m->nodes[m->order[i]].skip) m->order[k++] = m->order[i];
    m->norder = k;
    vg_log(COMP, VG_LOG_DEBUG, "%d node groups fused", fused);
}

int vg_model_set_precision(vg_model_t *m, vg_precision_t precision)
{
    int n = 0;
    if (precision == VG_PRECISION_INT8 && !vg__q8_available()) return VG_ENOSYS;
    for (int i = 0; i < m->n; i++) vg__q8_free(&m->nodes[i].q8);
    if (precision != VG_PRECISION_INT8) return 0;
    for (int i = 0; i < m->norder; i++) {
        node_t *nd = &m->nodes[m->order[i]];
        if (nd->skip || (nd->op != OP_CONV2D && nd->op != OP_FUSED_CONV) || nd->nin < 2) continue;
        const node_t *fn = &m->nodes[nd->in_node[1]];
        const vg_tensor_t *f = &fn->out[0];
        if (fn->op != OP_CONST || f->dtype != VG_DT_F32 || f->ndim != 4) continue;
        int64_t k = f->shape[0] * f->shape[1] * f->shape[2], o = f->shape[3];
        if (k < 1 || o < 1 || k > (1 << 20) || o > (1 << 20)) continue;
        /* the first convolution (the picture's 3 channels) stays in floats: it costs little,
         * and its input in 8 bits lost 2 of 134 boxes more on AVSS (measured, docs/nn.md) */
        if (f->shape[2] < 8) continue;
        const float *b = f->data;
        float *plain = NULL;
        if (nd->packed) { /* back to [k][o] from vg__gemm_pack's panels */
            plain = vg_malloc((size_t)(k * o) * sizeof(float));
            if (!plain) return VG_ENOMEM;
            for (int j = 0; j < o;) {
                int w = o - j >= 16 ? 16 : o - j >= 8 ? 8 : (int)(o - j);
                const float *p = b + (size_t)j * k;
                for (int q = 0; q < k; q++)
                    for (int jj = 0; jj < w; jj++) plain[(size_t)q * o + j + jj] = p[q * w + jj];
                j += w;
            }
            b = plain;
        }
        nd->q8 = vg__q8_pack((int)k, (int)o, b);
        vg_free(plain);
        if (!nd->q8) return VG_ENOMEM;
        n++;
    }
    return n;
}
