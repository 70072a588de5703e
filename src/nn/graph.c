/*
 * The graph runtime's interpreter (TensorFlow.js graphs, loaded by tfjs.c).
 *
 * Loading: model.json is read with jansson (its topology: nodes with name, op, inputs, attrs; its
 * weights manifest: names, shapes, dtypes, optional float16 quantisation) and the .bin weights
 * are sliced by the manifest in order. float16 weights are widened to float32 exactly (every
 * half is a float). Nodes are put in dependency order (Kahn's algorithm) and their attributes
 * decoded once (strides, padding, data format, ...). A registered model is checked first: its
 * name must be in vigie's table and both files must have the table's SHA-256, so a damaged or
 * substituted file, and every model vigie does not use (faces, identities), is refused.
 *
 * Running: each node reads its inputs' tensors and writes its outputs; a tensor is freed when its
 * last consumer has run (unless kept for inspection). Shape-like inputs (paddings, perms, sizes)
 * are int32 tensors computed like any other. Every op checks the shapes it is given and fails with
 * VG_EFORMAT rather than reading out of bounds, since a graph file is input like any other.
 *
 * Ops: those of the registered models, in the op table (graph_ops.c). Unknown ops are refused at
 * load.
 *
 * Memory: a static plan per input shape. The first run with a shape records every allocation in
 * order, with the positions of the nodes that make and free it; the plan then gives each
 * allocation an offset in one arena so that allocations alive at the same time never overlap
 * (greedy by decreasing size, lowest fitting offset: the usual offline placement of TFLite and
 * XNNPACK). Later runs with that shape allocate nothing: the k-th allocation is a view of the
 * arena at its offset. Every run is deterministic in its allocation sequence, so a difference in
 * size drops the plan (the run goes on with plain allocations) and the next run records again.
 * A run that keeps every tensor (keep_all) uses plain allocations and leaves the plan alone.
 *
 * Layout: a 4-D tensor may stay stored as NHWC while the graph sees it as NCHW (node->nchw);
 * layout() below decides per node, graph_ops.c explains it.
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
#include <vigie/debug.h>
#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "../core/sha256.h"
#include "graph_priv.h"
#include "ops.h"

/* Store output @port of @src in the graph's NCHW layout (see "Layout"). */
static int materialize(vg_model_t *m, node_t *src, int port)
{
    vg_tensor_t *t = &src->out[port], nt;
    if (!src->nchw[port]) return 0;
    int64_t shape[4] = {t->shape[0], t->shape[3], t->shape[1], t->shape[2]};
    static const int64_t perm[4] = {0, 3, 1, 2};
    int id, ret = vg__nn_plan_alloc(m, src, &nt, &id, t->dtype, 4, shape);
    if (ret < 0) return ret;
    vg__transpose(t->data, t->shape, 4, perm, nt.data);
    vg__nn_plan_free(m, t, src->alloc_id[port]);
    *t = nt;
    src->alloc_id[port] = id;
    src->nchw[port] = 0;
    return 0;
}

static int src_nchw(const vg_model_t *m, const node_t *nd, int k)
{
    return m->nodes[nd->in_node[k]].nchw[nd->in_port[k]];
}

/*
 * Before a node runs in a run that keeps no intermediates: a transpose between NHWC and NCHW only
 * relabels its input (returns 1: done); a node that works on the stored layout gets nd->remap;
 * any other reader of an NCHW-as-NHWC tensor gets it materialised. 0 or a negative error.
 */
static int layout(vg_model_t *m, node_t *nd, const vg_tensor_t **in)
{
    int any = 0;
    for (int k = 0; k < nd->nin; k++) any |= src_nchw(m, nd, k);
    if (nd->op == OP_TRANSPOSE && nd->nin == 2 && in[0]->ndim == 4 && in[0]->dtype == VG_DT_F32) {
        int64_t p[4];
        size_t n = 0;
        if (vg__nn_ints(in[1], p, 4, &n) == 0 && n == 4 && p[0] == 0) {
            int f = src_nchw(m, nd, 0);
            int to_nchw = p[1] == 3 && p[2] == 1 && p[3] == 2;
            int to_nhwc = p[1] == 2 && p[2] == 3 && p[3] == 1;
            if ((!f && to_nchw) || (f && to_nhwc)) {
                const vg_tensor_t *x = in[0];
                const void *xd = x->data;
                size_t count = x->count;
                int ret = vg__nn_unary_out(m, nd, x);
                if (ret < 0) return ret;
                if (nd->out[0].data != xd) memcpy(nd->out[0].data, xd, count * 4);
                nd->nchw[0] = !f;
                return 1;
            }
        }
    }
    if (!any) return 0;
    int keep = 0;
    if (vg__nn_ops[nd->op].flags & VG_OP_UNARY)
        keep = 1;
    else if (nd->op == OP_PAD || nd->op == OP_PADV2 || nd->op == OP_SPLITV)
        keep = in[0]->ndim == 4 && !src_nchw(m, nd, 1);
    else if (nd->op == OP_CONCAT) {
        keep = nd->nin >= 2 && !src_nchw(m, nd, nd->nin - 1);
        for (int k = 0; k < nd->nin - 1; k++) keep &= src_nchw(m, nd, k) && in[k]->ndim == 4;
    } else if (nd->op == OP_ADD || nd->op == OP_MUL || nd->op == OP_SUB) {
        int fa = src_nchw(m, nd, 0), fb = src_nchw(m, nd, 1);
        keep = (fa && fb && in[0]->count == in[1]->count && in[0]->ndim == in[1]->ndim &&
                !memcmp(in[0]->shape, in[1]->shape, sizeof(int64_t) * 4)) ||
               (fa && !fb && in[1]->count == 1) || (fb && !fa && in[0]->count == 1);
    }
    if (keep) {
        nd->remap = 1;
        return 0;
    }
    for (int k = 0; k < nd->nin; k++) {
        int ret = materialize(m, &m->nodes[nd->in_node[k]], nd->in_port[k]);
        if (ret < 0) return ret;
    }
    return 0;
}

/* Node @nd's inputs (the graph's input for the Placeholder), then its op from the table. */
static int run_op(vg_model_t *m, node_t *nd, const vg_tensor_t *input)
{
    const vg_tensor_t *in[16];
    if (nd->nin > 16) FAIL(nd, "too many inputs");
    for (int k = 0; k < nd->nin; k++) {
        node_t *src = &m->nodes[nd->in_node[k]];
        in[k] = &src->out[nd->in_port[k]];
        if (!in[k]->data && src->op != OP_PLACEHOLDER) FAIL(nd, "reads a missing tensor");
        if (src->op == OP_PLACEHOLDER) in[k] = input;
    }
    return vg__nn_ops[nd->op].run(m, nd, in);
}

static int run_node(vg_model_t *m, node_t *nd, const vg_tensor_t *input)
{
    int ret;
    nd->remap = 0;
    const int want = vg__nn_ops[nd->op].nin;
    if (want >= 0 && nd->nin != want) FAIL(nd, "expects %d inputs, has %d", want, nd->nin);
    if (!m->keep_all && nd->op != OP_CONST && nd->op != OP_PLACEHOLDER && nd->nin <= 16) {
        const vg_tensor_t *in[16];
        for (int k = 0; k < nd->nin; k++) {
            node_t *src = &m->nodes[nd->in_node[k]];
            in[k] = src->op == OP_PLACEHOLDER ? input : &src->out[nd->in_port[k]];
            if (!in[k]->data) FAIL(nd, "reads a missing tensor");
        }
        if ((ret = layout(m, nd, in)) != 0) return ret < 0 ? ret : 0;
    }
    if ((ret = run_op(m, nd, input)) < 0) return ret;
    for (int k = 0; k < MAX_OUT; k++) {
        if (nd->remap && nd->out[k].data && nd->out[k].ndim == 4) nd->nchw[k] = 1;
        if (nd->is_output && (ret = materialize(m, nd, k)) < 0) return ret;
    }
    return 0;
}

int vg_model_run(vg_model_t *m, const vg_tensor_t *input, int keep_all)
{
    if (input->dtype != VG_DT_F32 || input->ndim != m->in_ndim) return VG_EINVAL;
    for (int d = 0; d < m->in_ndim; d++)
        if (m->in_shape[d] > 0 && input->shape[d] != m->in_shape[d]) return VG_EINVAL;
    m->keep_all = keep_all;
    for (int i = 0; i < m->n; i++) {
        node_t *nd = &m->nodes[i];
        for (int k = 0; k < MAX_OUT; k++) {
            nd->remaining[k] = nd->consumers[k];
            nd->alloc_id[k] = -1;
            nd->nchw[k] = 0;
            if (nd->op != OP_CONST) vg_tensor_free(&nd->out[k]);
        }
    }
    /* the memory plan: use it, or record one (see "Memory" above) */
    int same = m->planned;
    for (int d = 0; same && d < m->in_ndim; d++) same = input->shape[d] == m->plan_shape[d];
    m->mode = keep_all ? 0 : same ? 2 : 1;
    m->next = 0;
    if (m->mode == 1) m->planned = 0, m->nrec = 0;
    /* profiling, when the program's debug sink wants "nn.profile" (vigie: VG_NN_PROFILE=1): time
     * per op kind at info level, and per node (with multiply-adds of the convolutions) at debug
     * level */
    const int profile = vg_debug_want("nn.profile", -1);
    double op_time[OP_NB] = {0}, macs = 0, conv_time = 0;
    for (int oi = 0; oi < m->norder; oi++) {
        node_t *nd = &m->nodes[m->order[oi]];
        double t0 = profile ? vg_clock_now(vg_clock_monotonic()) : 0;
        m->step = oi;
        int ret = run_node(m, nd, input);
        if (ret < 0) {
            if (m->mode == 1) m->mode = 0; /* a failed run leaves no plan */
            return ret;
        }
        if (profile) {
            double dt = vg_clock_now(vg_clock_monotonic()) - t0, mac = 0;
            const vg_tensor_t *o = &nd->out[0];
            op_time[nd->op] += dt;
            if (vg__nn_ops[nd->op].flags & VG_OP_CONV) {
                const vg_tensor_t *f = &m->nodes[nd->in_node[1]].out[0];
                if (f->ndim == 4)
                    mac = (double)o->count * f->shape[0] * f->shape[1] *
                          (nd->op == OP_FUSED_CONV || nd->op == OP_CONV2D ? f->shape[2] : 1);
                macs += mac, conv_time += dt;
            }
            vg_log(COMP, VG_LOG_DEBUG,
                   "profile: %7.3f ms %-26s out [%lld %lld %lld %lld] %6.2f MMAC %5.1f GMAC/s %s",
                   dt * 1e3, vg__nn_ops[nd->op].name, (long long)o->shape[0],
                   (long long)o->shape[1], (long long)o->shape[2], (long long)o->shape[3],
                   mac / 1e6, dt > 0 ? mac / dt / 1e9 : 0, nd->name);
        }
        /* free what no later node reads */
        for (int k = 0; k < nd->nin; k++) {
            node_t *src = &m->nodes[nd->in_node[k]];
            int port = nd->in_port[k];
            if (--src->remaining[port] == 0 && !keep_all && src->op != OP_CONST &&
                !src->is_output) {
                vg__nn_plan_free(m, &src->out[port], src->alloc_id[port]);
                src->alloc_id[port] = -1;
            }
        }
    }
    /* the recording run's buffers are free now: hand them back to the system before the arena
     * takes their place, so that the process's peak is one of them, not both */
    if (m->mode == 1) malloc_trim(0);
    if (m->mode == 1 && vg__nn_plan_place(m) == 0) {
        m->planned = 1;
        memcpy(m->plan_shape, input->shape, sizeof(m->plan_shape));
        vg_log(COMP, VG_LOG_DEBUG, "memory plan: %d tensors in an arena of %.1f MiB", m->nrec,
               m->arena_size / 1048576.0);
    }
    if (profile) {
        for (int k = 0; k < OP_NB; k++)
            if (op_time[k] > 0)
                vg_log(COMP, VG_LOG_INFO, "profile: %-28s %8.2f ms", vg__nn_ops[k].name,
                       op_time[k] * 1e3);
        vg_log(COMP, VG_LOG_INFO, "profile: convolutions %.1f MMAC in %.2f ms, %.1f GMAC/s",
               macs / 1e6, conv_time * 1e3, conv_time > 0 ? macs / conv_time / 1e9 : 0);
    }
    return 0;
}

void vg_model_free(vg_model_t **pm)
{
    vg_model_t *m = *pm;
    if (!m) return;
    for (int i = 0; m->nodes && i < m->n; i++) {
        for (int k = 0; k < MAX_OUT; k++) vg_tensor_free(&m->nodes[i].out[k]);
        vg_free(m->nodes[i].name);
        vg_free(m->nodes[i].opname);
        vg_free(m->nodes[i].in_node);
        vg_free(m->nodes[i].in_port);
        vg__q8_free(&m->nodes[i].q8);
    }
    vg_free(m->nodes);
    vg_free(m->order);
    vg_free(m->scratch);
    vg_free(m->recs);
    vg_free_aligned(m->arena);
    vg_free(m);
    *pm = NULL;
}

int vg_model_input_shape(const vg_model_t *m, int *ndim, int64_t shape[VG_TENSOR_MAX_DIMS])
{
    *ndim = m->in_ndim;
    memcpy(shape, m->in_shape, sizeof(m->in_shape));
    return 0;
}

int vg_model_planned(const vg_model_t *m, size_t *arena_bytes)
{
    if (arena_bytes) *arena_bytes = m->planned ? m->arena_size : 0;
    return m->mode == 2;
}

const vg_tensor_t *vg_model_output(const vg_model_t *m, int k)
{
    for (int i = 0; i < m->norder; i++) {
        const node_t *nd = &m->nodes[m->order[i]];
        if (nd->is_output && k-- == 0) return nd->out[0].data ? &nd->out[0] : NULL;
    }
    return NULL;
}

const vg_tensor_t *vg_model_tensor(const vg_model_t *m, const char *node)
{
    const char *colon = strrchr(node, ':');
    size_t len = colon ? (size_t)(colon - node) : strlen(node);
    int port = colon ? atoi(colon + 1) : 0;
    int i = vg__nn_find_node(m, node, len);
    if (i < 0 || port < 0 || port >= MAX_OUT || !m->nodes[i].out[port].data) return NULL;
    return &m->nodes[i].out[port];
}
