/*
 * TensorFlow.js graph models: loader and interpreter.
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
 * Ops: those of the registered models (see op_names). Unknown ops are refused at load.
 *
 * Memory: a static plan per input shape. The first run with a shape records every allocation in
 * order, with the positions of the nodes that make and free it; the plan then gives each
 * allocation an offset in one arena so that allocations alive at the same time never overlap
 * (greedy by decreasing size, lowest fitting offset: the usual offline placement of TFLite and
 * XNNPACK). Later runs with that shape allocate nothing: the k-th allocation is a view of the
 * arena at its offset. Every run is deterministic in its allocation sequence, so a difference in
 * size drops the plan (the run goes on with plain allocations) and the next run records again.
 * A run that keeps every tensor (keep_all) uses plain allocations and leaves the plan alone.
 */
#include <jansson.h>
#include <malloc.h>
#include <errno.h>
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
#include "ops.h"

#define COMP    "nn"
#define MAX_OUT 8

static const char *const nanodet_out[] = {"Identity",   "Identity_1", "Identity_2", "Identity_3",
                                          "Identity_4", "Identity_5", NULL};
static const char *const centernet_out[] = {"tower_0/keypoints", "tower_0/wh", NULL};
static const char *const movenet_out[] = {
    "StatefulPartitionedCall/center_0/conv2d_4/BiasAdd",
    "StatefulPartitionedCall/kpt_heatmap_0/conv2d_5/BiasAdd",
    "StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd",
    /* the decoder's constants: the centre prior, 1.8 and 1/48 as stored */
    "ConstantFolding/StatefulPartitionedCall/truediv_2_recip", "StatefulPartitionedCall/add_5/y",
    "StatefulPartitionedCall/Reshape_13", NULL};

static const vg_model_info_t registry[] = {
    {"nanodet", "object detector (default): persons, vehicles, bags", "Apache-2.0",
     "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
     "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9", nanodet_out},
    {"centernet", "object detector (option)", "Apache-2.0",
     "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
     "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef", centernet_out},
    {"movenet-lightning", "body pose on person crops (falls)", "Apache-2.0",
     "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
     "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34", movenet_out},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const vg_model_info_t *vg_model_registry(int *count)
{
    if (count) *count = (int)(sizeof(registry) / sizeof(registry[0])) - 1;
    return registry;
}

enum op {
    OP_CONST,
    OP_PLACEHOLDER,
    OP_IDENTITY,
    OP_TRANSPOSE,
    OP_PAD,
    OP_PADV2,
    OP_CONV2D,
    OP_ADD,
    OP_LEAKYRELU,
    OP_MAXPOOL,
    OP_CONCAT,
    OP_RESIZE,
    OP_SPLITV,
    OP_SIGMOID,
    OP_RESHAPE,
    OP_SPARSE_TO_DENSE,
    OP_FUSED_CONV,
    OP_DEPTHWISE,
    OP_FUSED_DEPTHWISE,
    OP_MUL,
    OP_SUB,
    OP_RELU,
    OP_RELU6,
    OP_MEAN,
    OP_HSWISH, /* vigie's own: hard-swish fused from TF's four nodes at load */
    OP_CAST,
    OP_EXPAND_DIMS,
    OP_SQUEEZE,
    OP_UNPACK,
    OP_SHAPE,
    OP_STRIDED_SLICE,
    OP_NB
};
static const char *const op_names[OP_NB] = {
    "Const",
    "Placeholder",
    "Identity",
    "Transpose",
    "Pad",
    "PadV2",
    "Conv2D",
    "Add",
    "LeakyRelu",
    "MaxPool",
    "ConcatV2",
    "ResizeBilinear",
    "SplitV",
    "Sigmoid",
    "Reshape",
    "SparseToDense",
    "_FusedConv2D",
    "DepthwiseConv2dNative",
    "FusedDepthwiseConv2dNative",
    "Mul",
    "Sub",
    "Relu",
    "Relu6",
    "Mean",
    "vigie.HardSwish",
    "Cast",
    "ExpandDims",
    "Squeeze",
    "Unpack",
    "Shape",
    "StridedSlice",
};

typedef struct node {
    char *name;
    char *opname; /* as in the file, for messages */
    int op;       /* -1: not implemented (refused if the outputs need it) */
    int skip;     /* pruned: not needed by the outputs */
    int nin;
    int *in_node, *in_port;
    int strides[4], ksize[4], dil[4];
    int same; /* padding SAME (else VALID) */
    float alpha;
    int align_corners, half_pixel, num_split;
    int axis, to_int;                      /* Unpack; Cast to int32 */
    unsigned squeeze;                      /* Squeeze: the axes named (bits), 0 for every 1 */
    int begin_mask, end_mask, shrink_mask; /* StridedSlice */
    int act;                /* fused activation: 0 none, 1 Relu, 2 Relu6, 3 LeakyRelu (alpha) */
    float hs_add, hs_scale; /* HardSwish constants */
    int pads[4]; /* convolution padding taken over from a Pad: top, bottom, left, right */
    int packed;  /* its filter was packed for the pointwise kernel at load */
    int explicit_pad;
    int keep_dims; /* Mean */
    int nout;
    vg_tensor_t out[MAX_OUT];
    int consumers[MAX_OUT], remaining[MAX_OUT];
    int alloc_id[MAX_OUT]; /* index of the output's allocation in this run (memory plan), or -1 */
    int nchw[MAX_OUT];     /* the output is a 4-D NCHW tensor stored as NHWC (see "Layout") */
    int remap;             /* this run: the node reads NCHW-as-NHWC inputs, axes remapped */
    int is_output;         /* named by the caller: its tensors are kept in the graph's layout */
    struct vg_model *model;
} node_t;

/* One allocation of a run: its size and the positions of the nodes that made and freed it. */
typedef struct plan_rec {
    size_t bytes, offset;
    int start, end;
} plan_rec_t;

struct vg_model {
    node_t *nodes;
    int n;
    int *order, norder; /* kept nodes in dependency order */
    int input;          /* the Placeholder */
    int in_ndim;
    int64_t in_shape[VG_TENSOR_MAX_DIMS];
    int keep_all; /* of the current run */
    float *scratch;
    size_t scratch_size;
    /* static memory plan: see "Memory" above */
    int mode;    /* of the current run: 0 plain allocations, 1 recording, 2 planned */
    int planned; /* recs/arena hold a plan for plan_shape */
    int64_t plan_shape[VG_TENSOR_MAX_DIMS];
    plan_rec_t *recs;
    int nrec, caprec, next, step;
    uint8_t *arena;
    size_t arena_size;
};

static void fmt(char *err, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *err, size_t len, const char *f, ...)
{
    va_list ap;
    if (!err || !len) return;
    va_start(ap, f);
    vsnprintf(err, len, f, ap);
    va_end(ap);
}

/* ---- loading ---- */

static int read_model_file(const char *path, size_t limit, uint8_t **data, size_t *len, char *err,
                           size_t errlen)
{
    int ret = vg_file_read(path, limit, data, len);
    if (ret == VG_ENOENT)
        fmt(err, errlen, "%s: %s. Run scripts/setup to fetch the models", path, strerror(errno));
    else if (ret == VG_EACCES)
        fmt(err, errlen, "%s: %s", path, strerror(errno));
    else if (ret == VG_ERANGE)
        fmt(err, errlen, "%s: larger than a model may be (%zu bytes)", path, limit);
    else if (ret == VG_EIO)
        fmt(err, errlen, "%s: read error", path);
    return ret == VG_ERANGE ? VG_EFORMAT : ret;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, mant = h & 1023, bits;
    if (exp == 0) {
        if (!mant) {
            bits = sign;
        } else { /* subnormal half: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 1024)) mant <<= 1, exp--;
            bits = sign | exp << 23 | (mant & 1023) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp - 15 + 127) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static int find_node(const vg_model_t *m, const char *name, size_t len)
{
    for (int i = 0; i < m->n; i++)
        if (strlen(m->nodes[i].name) == len && !memcmp(m->nodes[i].name, name, len)) return i;
    return -1;
}

static const char *attr_str(json_t *attr, const char *key)
{
    json_t *a = json_object_get(attr, key);
    return a ? json_string_value(json_object_get(a, "s")) : NULL;
}

static int attr_ints(json_t *attr, const char *key, int *out, int n)
{
    json_t *l = json_object_get(json_object_get(json_object_get(attr, key), "list"), "i");
    if (!json_is_array(l)) return 0;
    if ((int)json_array_size(l) != n) return -1;
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(l, (size_t)i);
        long long x = json_is_string(v) ? atoll(json_string_value(v)) : json_integer_value(v);
        if (x < 0 || x > 1000) return -1;
        out[i] = (int)x;
    }
    return 1;
}

/* An integer attribute ("i", a string or a number in the JSON), or @def. */
static long long attr_int(json_t *attr, const char *key, long long def)
{
    json_t *v = json_object_get(json_object_get(attr, key), "i");
    if (json_is_string(v)) return atoll(json_string_value(v));
    return json_is_integer(v) ? json_integer_value(v) : def;
}

/* A type attribute ("DT_FLOAT"), or NULL. */
static const char *attr_type(json_t *attr, const char *key)
{
    return json_string_value(json_object_get(json_object_get(attr, key), "type"));
}

/* Decodes the attributes an op needs; base64 strings compared as stored ("NHWC" = "TkhXQw=="). */
static int decode_attrs(node_t *nd, json_t *attr, char *err, size_t errlen)
{
    const char *df = attr_str(attr, "data_format"), *pad = attr_str(attr, "padding");
    for (int i = 0; i < 4; i++) nd->strides[i] = nd->ksize[i] = nd->dil[i] = 1;
    int conv_like = nd->op == OP_CONV2D || nd->op == OP_MAXPOOL || nd->op == OP_FUSED_CONV ||
                    nd->op == OP_DEPTHWISE || nd->op == OP_FUSED_DEPTHWISE;
    if (conv_like) {
        if (df && strcmp(df, "TkhXQw==")) {
            fmt(err, errlen, "node %s: only NHWC data format is supported", nd->name);
            return VG_ENOSYS;
        }
        if (!pad || (strcmp(pad, "VkFMSUQ=") && strcmp(pad, "U0FNRQ=="))) {
            fmt(err, errlen, "node %s: padding must be VALID or SAME", nd->name);
            return VG_ENOSYS;
        }
        nd->same = !strcmp(pad, "U0FNRQ==");
        if (attr_ints(attr, "strides", nd->strides, 4) < 0 ||
            attr_ints(attr, "dilations", nd->dil, 4) < 0 ||
            (nd->op == OP_MAXPOOL && attr_ints(attr, "ksize", nd->ksize, 4) <= 0) ||
            nd->strides[1] < 1 || nd->strides[2] < 1 || nd->dil[1] < 1 || nd->dil[2] < 1) {
            fmt(err, errlen, "node %s: bad strides, dilations or kernel size", nd->name);
            return VG_EFORMAT;
        }
    }
    if (nd->op == OP_FUSED_CONV || nd->op == OP_FUSED_DEPTHWISE) {
        json_t *l =
            json_object_get(json_object_get(json_object_get(attr, "fused_ops"), "list"), "s");
        json_t *na = json_object_get(json_object_get(attr, "num_args"), "i");
        long long nargs =
            json_is_string(na) ? atoll(json_string_value(na)) : json_integer_value(na);
        size_t n = json_is_array(l) ? json_array_size(l) : 0;
        /* base64: BiasAdd, Relu, Relu6 */
        const char *f0 = n > 0 ? json_string_value(json_array_get(l, 0)) : NULL;
        const char *f1 = n > 1 ? json_string_value(json_array_get(l, 1)) : NULL;
        if (!f0 || strcmp(f0, "Qmlhc0FkZA==") || n > 2 || nargs != 1) {
            fmt(err, errlen, "node %s: only BiasAdd with an optional Relu or Relu6 is fused",
                nd->name);
            return VG_ENOSYS;
        }
        if (f1 && !strcmp(f1, "UmVsdQ=="))
            nd->act = 1;
        else if (f1 && !strcmp(f1, "UmVsdTY="))
            nd->act = 2;
        else if (f1) {
            fmt(err, errlen, "node %s: fused activation not supported", nd->name);
            return VG_ENOSYS;
        }
    }
    if (nd->op == OP_MEAN)
        nd->keep_dims = json_is_true(json_object_get(json_object_get(attr, "keep_dims"), "b"));
    if (nd->op == OP_LEAKYRELU) {
        json_t *a = json_object_get(json_object_get(attr, "alpha"), "f");
        nd->alpha = a ? (float)json_number_value(a) : 0.2f;
    }
    if (nd->op == OP_RESIZE) {
        nd->align_corners =
            json_is_true(json_object_get(json_object_get(attr, "align_corners"), "b"));
        nd->half_pixel =
            json_is_true(json_object_get(json_object_get(attr, "half_pixel_centers"), "b"));
    }
    nd->nout = 1;
    if (nd->op == OP_CAST) {
        const char *t = attr_type(attr, "DstT");
        if (!t || (strcmp(t, "DT_FLOAT") && strcmp(t, "DT_INT32"))) {
            fmt(err, errlen, "node %s: Cast to %s is not supported", nd->name, t ? t : "?");
            return VG_ENOSYS;
        }
        nd->to_int = !strcmp(t, "DT_INT32");
    }
    if (nd->op == OP_SQUEEZE) {
        json_t *l =
            json_object_get(json_object_get(json_object_get(attr, "squeeze_dims"), "list"), "i");
        size_t k;
        json_t *v;
        json_array_foreach(l, k, v)
        {
            long long x = json_is_string(v) ? atoll(json_string_value(v)) : json_integer_value(v);
            if (x < 0 || x >= VG_TENSOR_MAX_DIMS) {
                fmt(err, errlen, "node %s: bad squeeze_dims", nd->name);
                return VG_ENOSYS;
            }
            nd->squeeze |= 1u << x;
        }
    }
    if (nd->op == OP_UNPACK) {
        long long num = attr_int(attr, "num", -1), axis = attr_int(attr, "axis", 0);
        if (num < 1 || num > MAX_OUT || axis < -VG_TENSOR_MAX_DIMS || axis >= VG_TENSOR_MAX_DIMS) {
            fmt(err, errlen, "node %s: Unpack into 1..%d tensors only", nd->name, MAX_OUT);
            return VG_ENOSYS;
        }
        nd->num_split = nd->nout = (int)num;
        nd->axis = (int)axis;
    }
    if (nd->op == OP_STRIDED_SLICE) {
        nd->begin_mask = (int)attr_int(attr, "begin_mask", 0);
        nd->end_mask = (int)attr_int(attr, "end_mask", 0);
        nd->shrink_mask = (int)attr_int(attr, "shrink_axis_mask", 0);
        if (attr_int(attr, "ellipsis_mask", 0) || attr_int(attr, "new_axis_mask", 0)) {
            fmt(err, errlen, "node %s: StridedSlice with ellipsis or new axes", nd->name);
            return VG_ENOSYS;
        }
    }
    if (nd->op == OP_SPLITV) {
        json_t *v = json_object_get(json_object_get(attr, "num_split"), "i");
        long long k = json_is_string(v) ? atoll(json_string_value(v)) : json_integer_value(v);
        if (k < 1 || k > MAX_OUT) {
            fmt(err, errlen, "node %s: num_split must be 1..%d", nd->name, MAX_OUT);
            return VG_EFORMAT;
        }
        nd->num_split = nd->nout = (int)k;
    }
    return 0;
}

static int load_weights(vg_model_t *m, json_t *manifest, const uint8_t *bin, size_t binlen,
                        const char *bin_path, char *err, size_t errlen)
{
    size_t off = 0, gi;
    json_t *group;
    json_array_foreach(manifest, gi, group)
    {
        size_t wi;
        json_t *w;
        json_array_foreach(json_object_get(group, "weights"), wi, w)
        {
            const char *name = json_string_value(json_object_get(w, "name"));
            const char *dtype = json_string_value(json_object_get(w, "dtype"));
            json_t *shape = json_object_get(w, "shape"), *q = json_object_get(w, "quantization");
            const char *qd = q ? json_string_value(json_object_get(q, "dtype")) : NULL;
            int64_t dims[VG_TENSOR_MAX_DIMS];
            int ndim = (int)json_array_size(shape);
            if (!name || !dtype || !json_is_array(shape) || ndim > VG_TENSOR_MAX_DIMS) {
                fmt(err, errlen, "weights manifest entry %zu is malformed", wi);
                return VG_EFORMAT;
            }
            for (int d = 0; d < ndim; d++)
                dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
            int idx = find_node(m, name, strlen(name));
            vg_tensor_t t;
            int is_int = !strcmp(dtype, "int32"), is_f = !strcmp(dtype, "float32");
            if ((!is_int && !is_f) || (qd && strcmp(qd, "float16"))) {
                fmt(err, errlen, "weight %s: type %s%s%s is not supported", name, dtype,
                    qd ? " quantised as " : "", qd ? qd : "");
                return VG_ENOSYS;
            }
            if (vg_tensor_alloc(&t, is_int ? VG_DT_I32 : VG_DT_F32, ndim, dims) < 0) {
                fmt(err, errlen, "weight %s: bad shape", name);
                return VG_EFORMAT;
            }
            size_t esz = qd ? 2 : 4, bytes = t.count * esz;
            if (off + bytes > binlen || off + bytes < off) {
                vg_tensor_free(&t);
                fmt(err, errlen,
                    "%s: shorter than its manifest says (weight %s): the file is "
                    "truncated or not this model's",
                    bin_path, name);
                return VG_ECORRUPT;
            }
            if (qd) {
                float *f = t.data;
                for (size_t i = 0; i < t.count; i++) {
                    uint16_t h;
                    memcpy(&h, bin + off + 2 * i, 2);
                    f[i] = half_to_float(h);
                }
            } else {
                memcpy(t.data, bin + off, bytes);
            }
            off += bytes;
            if (idx < 0 || m->nodes[idx].op != OP_CONST || m->nodes[idx].skip) { /* unused */
                vg_tensor_free(&t);
                continue;
            }
            vg_tensor_free(&m->nodes[idx].out[0]);
            m->nodes[idx].out[0] = t;
        }
    }
    for (int i = 0; i < m->n; i++)
        if (m->nodes[i].op == OP_CONST && !m->nodes[i].skip && !m->nodes[i].out[0].data) {
            fmt(err, errlen, "constant %s has no weight in %s", m->nodes[i].name, bin_path);
            return VG_EFORMAT;
        }
    return 0;
}

static int sort_nodes(vg_model_t *m, char *err, size_t errlen)
{
    int *indeg = vg_calloc((size_t)m->n, sizeof(int)),
        *queue = vg_malloc((size_t)m->n * sizeof(int));
    int head = 0, tail = 0;
    m->order = vg_malloc((size_t)m->n * sizeof(int));
    if (!indeg || !queue || !m->order) {
        vg_free(indeg), vg_free(queue);
        return VG_ENOMEM;
    }
    int kept = 0;
    for (int i = 0; i < m->n; i++) indeg[i] = m->nodes[i].nin, kept += !m->nodes[i].skip;
    for (int i = 0; i < m->n; i++)
        if (!indeg[i] && !m->nodes[i].skip) queue[tail++] = i;
    int done = 0;
    while (head < tail) {
        int v = queue[head++];
        m->order[done++] = v;
        for (int i = 0; i < m->n; i++) /* graphs are small: quadratic is fine */
            for (int k = 0; k < m->nodes[i].nin; k++)
                if (m->nodes[i].in_node[k] == v && --indeg[i] == 0 && !m->nodes[i].skip)
                    queue[tail++] = i;
    }
    vg_free(indeg);
    vg_free(queue);
    m->norder = done;
    if (done != kept) {
        fmt(err, errlen, "the graph has a cycle");
        return VG_EFORMAT;
    }
    return 0;
}

static int parse_graph(vg_model_t *m, json_t *root, const char *const *outputs, char *err,
                       size_t errlen)
{
    json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
    size_t i;
    json_t *jn;
    if (!json_is_array(nodes) || !json_array_size(nodes) || json_array_size(nodes) > 100000) {
        fmt(err, errlen, "no modelTopology.node list");
        return VG_EFORMAT;
    }
    m->n = (int)json_array_size(nodes);
    m->nodes = vg_calloc((size_t)m->n, sizeof(node_t));
    if (!m->nodes) return VG_ENOMEM;
    m->input = -1;
    json_array_foreach(nodes, i, jn)
    {
        node_t *nd = &m->nodes[i];
        const char *name = json_string_value(json_object_get(jn, "name"));
        const char *op = json_string_value(json_object_get(jn, "op"));
        if (!name || !op) {
            fmt(err, errlen, "node %zu has no name or op", i);
            return VG_EFORMAT;
        }
        nd->name = vg_strdup(name);
        if (!nd->name) return VG_ENOMEM;
        nd->op = -1;
        nd->opname = vg_strdup(op);
        if (!nd->opname) return VG_ENOMEM;
        if (!strcmp(op, "AddV2")) op = "Add";
        for (int k = 0; k < OP_NB; k++)
            if (!strcmp(op, op_names[k])) nd->op = k;
        if (!strcmp(op, "AddV2")) nd->op = OP_ADD; /* the same op, newer name */
        if (nd->op == OP_PLACEHOLDER) {
            json_t *dims = json_object_get(
                json_object_get(json_object_get(json_object_get(jn, "attr"), "shape"), "shape"),
                "dim");
            size_t d;
            json_t *dim;
            if (m->input >= 0) {
                fmt(err, errlen, "more than one input");
                return VG_ENOSYS;
            }
            m->input = (int)i;
            if (!json_is_array(dims) || json_array_size(dims) > VG_TENSOR_MAX_DIMS) {
                fmt(err, errlen, "the input %s has no usable shape", name);
                return VG_EFORMAT;
            }
            m->in_ndim = (int)json_array_size(dims);
            json_array_foreach(dims, d, dim)
            {
                json_t *sz = json_object_get(dim, "size");
                m->in_shape[d] =
                    json_is_string(sz) ? atoll(json_string_value(sz)) : json_integer_value(sz);
            }
        }
    }
    json_array_foreach(nodes, i, jn)
    {
        node_t *nd = &m->nodes[i];
        json_t *ins = json_object_get(jn, "input");
        size_t k, n = json_is_array(ins) ? json_array_size(ins) : 0;
        nd->model = m;
        nd->in_node = vg_calloc(n + 1, sizeof(int));
        nd->in_port = vg_calloc(n + 1, sizeof(int));
        if (!nd->in_node || !nd->in_port) return VG_ENOMEM;
        for (k = 0; k < n; k++) {
            const char *s = json_string_value(json_array_get(ins, k));
            if (!s) return VG_EFORMAT;
            if (s[0] == '^') continue; /* control dependency */
            const char *colon = strrchr(s, ':');
            size_t len = colon ? (size_t)(colon - s) : strlen(s);
            int port = colon ? atoi(colon + 1) : 0;
            int src = find_node(m, s, len);
            if (src < 0 || port < 0 || port >= MAX_OUT) {
                fmt(err, errlen, "node %s reads %s, which is not in the graph", nd->name, s);
                return VG_EFORMAT;
            }
            nd->in_node[nd->nin] = src;
            nd->in_port[nd->nin++] = port;
            m->nodes[src].consumers[port]++;
        }
    }
    if (m->input < 0) {
        fmt(err, errlen, "the graph has no input (Placeholder)");
        return VG_EFORMAT;
    }
    /* keep what the outputs need */
    if (outputs) {
        int *stack = vg_malloc((size_t)m->n * sizeof(int)), top = 0;
        if (!stack) return VG_ENOMEM;
        for (int k = 0; k < m->n; k++) m->nodes[k].skip = 1;
        for (int o = 0; outputs[o]; o++) {
            int idx = find_node(m, outputs[o], strlen(outputs[o]));
            if (idx < 0) {
                vg_free(stack);
                fmt(err, errlen, "the graph has no output %s", outputs[o]);
                return VG_EFORMAT;
            }
            m->nodes[idx].is_output = 1;
            if (m->nodes[idx].skip) m->nodes[idx].skip = 0, stack[top++] = idx;
        }
        while (top) {
            node_t *nd = &m->nodes[stack[--top]];
            for (int k = 0; k < nd->nin; k++)
                if (m->nodes[nd->in_node[k]].skip)
                    m->nodes[nd->in_node[k]].skip = 0, stack[top++] = nd->in_node[k];
        }
        vg_free(stack);
        if (m->nodes[m->input].skip) {
            fmt(err, errlen, "the outputs do not depend on the input");
            return VG_EFORMAT;
        }
        /* consumers count only kept nodes */
        for (int k = 0; k < m->n; k++)
            memset(m->nodes[k].consumers, 0, sizeof(m->nodes[k].consumers));
        for (int k = 0; k < m->n; k++) {
            node_t *nd = &m->nodes[k];
            if (nd->skip) continue;
            for (int q = 0; q < nd->nin; q++) m->nodes[nd->in_node[q]].consumers[nd->in_port[q]]++;
        }
    }
    json_array_foreach(nodes, i, jn)
    {
        node_t *nd = &m->nodes[i];
        if (nd->skip) continue;
        if (nd->op < 0) {
            fmt(err, errlen, "node %s uses op %s, which vigie does not implement", nd->name,
                nd->opname);
            return VG_ENOSYS;
        }
        int ret = decode_attrs(nd, json_object_get(jn, "attr"), err, errlen);
        if (ret < 0) return ret;
    }
    return sort_nodes(m, err, errlen);
}

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

static void fuse_graph(vg_model_t *m)
{
    int fused = fuse_conv_blocks(m);
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

int vg_model_load_memory(vg_model_t **out, const char *json, size_t jlen, const void *bin,
                         size_t blen, const char *const *outputs, const char *name, char *err,
                         size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(json, jlen, JSON_REJECT_DUPLICATES, &je);
    vg_model_t *m = NULL;
    int ret;
    if (!root) {
        fmt(err, errlen, "%s:%d: not valid JSON: %s", name, je.line, je.text);
        return VG_EFORMAT;
    }
    m = vg_calloc(1, sizeof(*m));
    if (!m) {
        ret = VG_ENOMEM;
        goto end;
    }
    char inner[400] = "";
    if ((ret = parse_graph(m, root, outputs, inner, sizeof(inner))) < 0 ||
        (ret = load_weights(m, json_object_get(root, "weightsManifest"), bin, blen, name, inner,
                            sizeof(inner))) < 0) {
        if (ret == VG_ENOMEM)
            fmt(err, errlen, "%s: out of memory", name);
        else
            fmt(err, errlen, "%s: %s", name, inner);
        goto end;
    }
    fuse_graph(m);
    *out = m;
    m = NULL;
end:
    vg_model_free(&m);
    json_decref(root);
    return ret;
}

int vg_model_load_unchecked(vg_model_t **out, const char *json_path, const char *bin_path,
                            const char *const *outputs, char *err, size_t errlen)
{
    uint8_t *js = NULL, *bin = NULL;
    size_t jlen, blen;
    int ret;
    if ((ret = read_model_file(json_path, 64u << 20, &js, &jlen, err, errlen)) >= 0 &&
        (ret = read_model_file(bin_path, 512u << 20, &bin, &blen, err, errlen)) >= 0)
        ret = vg_model_load_memory(out, (const char *)js, jlen, bin, blen, outputs, json_path, err,
                                   errlen);
    vg_free(js);
    vg_free(bin);
    return ret;
}

static int file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    vg_sha256_t s;
    uint8_t buf[65536], d[32];
    size_t n = 0;
    if (!f) return VG_ENOENT;
    vg__sha256_init(&s);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) vg__sha256_update(&s, buf, n);
    fclose(f);
    vg__sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/*
 * Where the models are: @dir when it holds NAME.json; else, for a relative @dir (the default
 * "models"), $VIGIE_MODELS, then "models" beside the program or up to two folders above it
 * (build/vigie, build/bench/bench-nn and the test programs of a checkout find the checkout's
 * models/ from any working directory). Falls back to @dir, for the error message.
 */
static const char *models_dir(const char *dir, const char *name, char *buf, size_t len)
{
    char p[8400], exe[4096];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s.json", dir, name);
    if (stat(p, &sb) == 0 || dir[0] == '/') return dir;
    const char *env = getenv("VIGIE_MODELS");
    if (env && env[0]) {
        snprintf(p, sizeof(p), "%s/%s.json", env, name);
        if (stat(p, &sb) == 0) return snprintf(buf, len, "%s", env), buf;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return dir;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return dir;
    *slash = 0;
    static const char *const up[] = {"", "/..", "/../.."};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s/%s/%s.json", exe, up[i], dir, name);
        if (stat(p, &sb) == 0 && (size_t)snprintf(buf, len, "%s%s/%s", exe, up[i], dir) < len)
            return buf;
    }
    return dir;
}

int vg_model_load(vg_model_t **out, const char *dir, const char *name, char *err, size_t errlen)
{
    const vg_model_info_t *info = NULL;
    char jp[4200], bp[4200], hex[65];
    for (int i = 0; registry[i].name; i++)
        if (!strcmp(registry[i].name, name)) info = &registry[i];
    if (!info) {
        fmt(err, errlen,
            "model '%s' is not in vigie's model table (nanodet, centernet, movenet-lightning): "
            "vigie runs only the models its event types need; face, identity and similar models "
            "are refused by design (docs/privacy.md)",
            name);
        return VG_EACCES;
    }
    char found[4096];
    dir = models_dir(dir, name, found, sizeof(found));
    snprintf(jp, sizeof(jp), "%s/%s.json", dir, name);
    snprintf(bp, sizeof(bp), "%s/%s.bin", dir, name);
    const char *paths[2] = {jp, bp}, *sums[2] = {info->json_sha256, info->bin_sha256};
    for (int k = 0; k < 2; k++) {
        if (file_sha256(paths[k], hex) < 0) {
            fmt(err, errlen, "%s: cannot read it. Run scripts/setup to fetch the models", paths[k]);
            return VG_ENOENT;
        }
        if (strcmp(hex, sums[k])) {
            fmt(err, errlen,
                "%s: its SHA-256 is %.16s..., not the registered %.16s...: the file is damaged or "
                "not the registered model. Run scripts/setup to fetch it again",
                paths[k], hex, sums[k]);
            return VG_ECORRUPT;
        }
    }
    return vg_model_load_unchecked(out, jp, bp, info->outputs, err, errlen);
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

/* ---- running ---- */

#define FAIL(nd, f, ...)                                                                           \
    do {                                                                                           \
        vg_log(COMP, VG_LOG_ERROR, "node %s: " f, (nd)->name, ##__VA_ARGS__);                      \
        return VG_EFORMAT;                                                                         \
    } while (0)

/* Integer values of a shape-like tensor (int32 or float). */
static int ints(const vg_tensor_t *t, int64_t *out, size_t max, size_t *n)
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

/* Bytes of an allocation in the plan: whole cache lines. */
static size_t plan_bytes(size_t count)
{
    return ((count ? count : 1) * 4 + 63) & ~(size_t)63;
}

/* Allocate @t (its allocation index in *@id), from the plan when there is one, else recorded. */
static int plan_alloc(vg_model_t *m, const node_t *nd, vg_tensor_t *t, int *id, vg_dtype_t dt,
                      int ndim, const int64_t *shape)
{
    *id = -1;
    if (m->mode == 2) {
        vg_tensor_t probe;
        vg_tensor_view(&probe, dt, ndim, shape, NULL);
        int ok = ndim >= 0 && ndim <= VG_TENSOR_MAX_DIMS;
        for (int d = 0; ok && d < ndim; d++) ok = shape[d] >= 0 && shape[d] <= (1 << 28);
        if (ok && m->next < m->nrec && m->recs[m->next].bytes == plan_bytes(probe.count)) {
            vg_tensor_view(t, dt, ndim, shape, m->arena + m->recs[m->next].offset);
            *id = m->next++;
            return 0;
        }
        /* not the recorded sequence: plain allocations for the rest, a new plan next run */
        vg_log(COMP, VG_LOG_DEBUG, "node %s: memory plan dropped", nd->name);
        m->mode = 0;
        m->planned = 0;
    }
    int ret = vg_tensor_alloc(t, dt, ndim, shape);
    if (ret == VG_EINVAL) {
        vg_log(COMP, VG_LOG_ERROR, "node %s: output shape out of range", nd->name);
        return VG_EFORMAT;
    }
    if (ret < 0 || m->mode != 1) return ret;
    if (m->nrec == m->caprec) {
        int cap = m->caprec ? 2 * m->caprec : 256;
        plan_rec_t *r = vg_realloc(m->recs, (size_t)cap * sizeof(*r));
        if (!r) {
            m->mode = 0; /* no plan this time; the run itself goes on */
            return 0;
        }
        m->recs = r;
        m->caprec = cap;
    }
    m->recs[m->nrec] = (plan_rec_t){plan_bytes(t->count), 0, m->step, INT32_MAX};
    *id = m->nrec++;
    return 0;
}

/* Free @t, allocation @id of this run. */
static void plan_free(vg_model_t *m, vg_tensor_t *t, int id)
{
    if (m->mode == 1 && id >= 0 && id < m->nrec) m->recs[id].end = m->step;
    vg_tensor_free(t);
}

static int alloc_out(node_t *nd, int k, vg_dtype_t dt, int ndim, const int64_t *shape)
{
    vg_tensor_free(&nd->out[k]);
    nd->nchw[k] = 0;
    return plan_alloc(nd->model, nd, &nd->out[k], &nd->alloc_id[k], dt, ndim, shape);
}

static int cmp_rec_size(const void *a, const void *b, void *ctx)
{
    const plan_rec_t *r = ctx;
    size_t x = r[*(const int *)a].bytes, y = r[*(const int *)b].bytes;
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

static int cmp_rec_offset(const void *a, const void *b, void *ctx)
{
    const plan_rec_t *r = ctx;
    size_t x = r[*(const int *)a].offset, y = r[*(const int *)b].offset;
    return x < y ? -1 : x > y;
}

/*
 * Place the recorded allocations in one arena: largest first, each at the lowest offset where it
 * overlaps no placed allocation alive at the same time. Returns 0 or VG_ENOMEM.
 */
static int plan_place(vg_model_t *m)
{
    int n = m->nrec;
    int *order = vg_malloc((size_t)(n ? n : 1) * sizeof(int));
    int *live = vg_malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!order || !live) {
        vg_free(order);
        vg_free(live);
        return VG_ENOMEM;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof(int), cmp_rec_size, m->recs);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        plan_rec_t *r = &m->recs[order[i]];
        int nl = 0;
        for (int j = 0; j < i; j++) {
            const plan_rec_t *q = &m->recs[order[j]];
            if (q->start <= r->end && r->start <= q->end) live[nl++] = order[j];
        }
        qsort_r(live, (size_t)nl, sizeof(int), cmp_rec_offset, m->recs);
        size_t off = 0;
        for (int j = 0; j < nl; j++) {
            const plan_rec_t *q = &m->recs[live[j]];
            if (q->offset >= off + r->bytes) break;
            if (q->offset + q->bytes > off) off = q->offset + q->bytes;
        }
        r->offset = off;
        if (off + r->bytes > total) total = off + r->bytes;
    }
    vg_free(order);
    vg_free(live);
    vg_free_aligned(m->arena);
    m->arena = vg_malloc_aligned(total ? total : 64);
    if (!m->arena) return VG_ENOMEM;
    m->arena_size = total;
    return 0;
}

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

static void strides_of(const vg_tensor_t *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) st[d] = s, s *= t->shape[d];
}

static int run_transpose(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *permt)
{
    int64_t perm[VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (ints(permt, perm, VG_TENSOR_MAX_DIMS, &n) < 0 || (int)n != x->ndim)
        FAIL(nd, "permutation of %zu axes for a tensor of %d", n, x->ndim);
    int seen = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (perm[d] < 0 || perm[d] >= x->ndim || (seen & (1 << perm[d])))
            FAIL(nd, "invalid permutation");
        seen |= 1 << perm[d];
        shape[d] = x->shape[perm[d]];
    }
    int ret = alloc_out(nd, 0, x->dtype, x->ndim, shape);
    if (ret < 0) return ret;
    vg__transpose(x->data, x->shape, x->ndim, perm, nd->out[0].data);
    return 0;
}

static int run_pad(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *padt, float value)
{
    int64_t pads[2 * VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS], ist[VG_TENSOR_MAX_DIMS],
        ost[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (ints(padt, pads, 2 * VG_TENSOR_MAX_DIMS, &n) < 0 || (int)n != 2 * x->ndim)
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
    int ret = alloc_out(nd, 0, x->dtype, x->ndim, shape);
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

enum { BIN_ADD, BIN_MUL, BIN_SUB };

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
    int ret = alloc_out(nd, 0, a->dtype, nd_, shape);
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
    static const int kinds[4] = {VG_ACT_NONE, VG_ACT_RELU, VG_ACT_RELU6, VG_ACT_LEAKY};
    vg_act_t a = {kinds[nd->act & 3], nd->alpha, 0, 0};
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
    return alloc_out(nd, 0, VG_DT_F32, 4, shape);
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
    g.packed = nd->packed;
    return vg__conv2d_gemm(&g, x->data, f->data, bias, &act, nd->out[0].data, m->scratch);
}

static int run_concat(node_t *nd, const vg_tensor_t **in, int nin)
{
    int64_t ax;
    size_t n = 0;
    if (nin < 2 || ints(in[nin - 1], &ax, 1, &n) < 0 || n != 1) FAIL(nd, "ConcatV2 needs an axis");
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
    int ret = alloc_out(nd, 0, a->dtype, a->ndim, shape);
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
    if (ints(szt, sizes, MAX_OUT, &n) < 0 || (int)n != nd->num_split || ints(axt, &ax, 1, &one) < 0)
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
        int ret = alloc_out(nd, k, x->dtype, x->ndim, shape);
        if (ret < 0) return ret;
        size_t len = (size_t)sizes[k] * inner, row = (size_t)x->shape[ax] * inner;
        for (size_t o = 0; o < outer; o++)
            memcpy((uint32_t *)nd->out[k].data + o * len,
                   (const uint32_t *)x->data + o * row + (size_t)start * inner, len * 4);
        start += sizes[k];
    }
    return 0;
}

static int takeover(vg_model_t *m, node_t *nd, const vg_tensor_t *x);
static int reshaped_copy(node_t *nd, const vg_tensor_t *x, int ndim, const int64_t *shape);

static int run_reshape(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *st)
{
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t n, known = 1;
    int free_at = -1;
    if (ints(st, shape, VG_TENSOR_MAX_DIMS, &n) < 0) FAIL(nd, "too many dimensions");
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
    int ret = alloc_out(nd, 0, to, x->ndim, x->shape);
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
    int ret = alloc_out(nd, 0, x->dtype, ndim, shape);
    if (ret < 0) return ret;
    memcpy(nd->out[0].data, x->data, x->count * 4);
    return 0;
}

static int run_expand_dims(node_t *nd, const vg_tensor_t *x, const vg_tensor_t *dimt)
{
    int64_t dim, shape[VG_TENSOR_MAX_DIMS];
    size_t n = 0;
    if (ints(dimt, &dim, 1, &n) < 0 || n != 1 || x->ndim >= VG_TENSOR_MAX_DIMS)
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
        int ret = alloc_out(nd, k, x->dtype, x->ndim - 1, shape);
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
    int ret = alloc_out(nd, 0, VG_DT_I32, 1, &n);
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
    if (ints(in[1], b, VG_TENSOR_MAX_DIMS, &nb) < 0 ||
        ints(in[2], e, VG_TENSOR_MAX_DIMS, &ne) < 0 ||
        ints(in[3], st, VG_TENSOR_MAX_DIMS, &ns) < 0 || nb != ne || nb != ns || (int)nb > x->ndim)
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
    int ret = alloc_out(nd, 0, x->dtype, on, oshape);
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
    if (ints(in[1], shape, VG_TENSOR_MAX_DIMS, &nd_) < 0 || def->count != 1 ||
        idx->dtype != VG_DT_I32)
        FAIL(nd, "bad SparseToDense arguments");
    int ret = alloc_out(nd, 0, vals->dtype, (int)nd_, shape);
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
    if (x->dtype != VG_DT_F32 || ints(axt, axes, VG_TENSOR_MAX_DIMS, &n) < 0) FAIL(nd, "bad Mean");
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim) FAIL(nd, "axis out of range");
        red[a] = 1;
    }
    for (int d = 0; d < x->ndim; d++) {
        kshape[d] = red[d] ? 1 : x->shape[d];
        if (!red[d] || nd->keep_dims) shape[nd_out++] = kshape[d];
    }
    int ret = alloc_out(nd, 0, VG_DT_F32, nd_out, shape);
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

static int unary_out(vg_model_t *m, node_t *nd, const vg_tensor_t *x)
{
    if (x->dtype == VG_DT_F32 && takeover(m, nd, x)) return 0;
    /* the shape of the tensor actually read (the graph's input is not a node's output) */
    return alloc_out(nd, 0, VG_DT_F32, x->ndim, x->shape);
}

/* Store output @port of @src in the graph's NCHW layout (see "Layout"). */
static int materialize(vg_model_t *m, node_t *src, int port)
{
    vg_tensor_t *t = &src->out[port], nt;
    if (!src->nchw[port]) return 0;
    int64_t shape[4] = {t->shape[0], t->shape[3], t->shape[1], t->shape[2]};
    static const int64_t perm[4] = {0, 3, 1, 2};
    int id, ret = plan_alloc(m, src, &nt, &id, t->dtype, 4, shape);
    if (ret < 0) return ret;
    vg__transpose(t->data, t->shape, 4, perm, nt.data);
    plan_free(m, t, src->alloc_id[port]);
    *t = nt;
    src->alloc_id[port] = id;
    src->nchw[port] = 0;
    return 0;
}

static int src_nchw(const vg_model_t *m, const node_t *nd, int k)
{
    return m->nodes[nd->in_node[k]].nchw[nd->in_port[k]];
}

static int is_unary(int op)
{
    return op == OP_LEAKYRELU || op == OP_SIGMOID || op == OP_RELU || op == OP_RELU6 ||
           op == OP_HSWISH;
}

static int unary_out(vg_model_t *m, node_t *nd, const vg_tensor_t *x);

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
        if (ints(in[1], p, 4, &n) == 0 && n == 4 && p[0] == 0) {
            int f = src_nchw(m, nd, 0);
            int to_nchw = p[1] == 3 && p[2] == 1 && p[3] == 2;
            int to_nhwc = p[1] == 2 && p[2] == 3 && p[3] == 1;
            if ((!f && to_nchw) || (f && to_nhwc)) {
                const vg_tensor_t *x = in[0];
                const void *xd = x->data;
                size_t count = x->count;
                int ret = unary_out(m, nd, x);
                if (ret < 0) return ret;
                if (nd->out[0].data != xd) memcpy(nd->out[0].data, xd, count * 4);
                nd->nchw[0] = !f;
                return 1;
            }
        }
    }
    if (!any) return 0;
    int keep = 0;
    if (is_unary(nd->op))
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

static int run_op(vg_model_t *m, node_t *nd, const vg_tensor_t *input);

static int run_node(vg_model_t *m, node_t *nd, const vg_tensor_t *input)
{
    int ret;
    nd->remap = 0;
    static const int want[OP_NB] = {0, 0, 1, 2, 2, 3, 2, 2, 1, 1, -1, 2, 3, 1, 2, 4,
                                    3, 2, 3, 2, 2, 1, 1, 2, 1, 1, 2,  1, 1, 1, 4};
    if (want[nd->op] >= 0 && nd->nin != want[nd->op])
        FAIL(nd, "expects %d inputs, has %d", want[nd->op], nd->nin);
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

static int run_op(vg_model_t *m, node_t *nd, const vg_tensor_t *input)
{
    const vg_tensor_t *in[16];
    int ret;
    if (nd->nin > 16) FAIL(nd, "too many inputs");
    for (int k = 0; k < nd->nin; k++) {
        node_t *src = &m->nodes[nd->in_node[k]];
        in[k] = &src->out[nd->in_port[k]];
        if (!in[k]->data && src->op != OP_PLACEHOLDER) FAIL(nd, "reads a missing tensor");
        if (src->op == OP_PLACEHOLDER) in[k] = input;
    }
    switch (nd->op) {
    case OP_CONST:
    case OP_PLACEHOLDER:
        return 0;
    case OP_IDENTITY:
        return reshaped_copy(nd, in[0], in[0]->ndim, in[0]->shape);
    case OP_TRANSPOSE:
        return run_transpose(nd, in[0], in[1]);
    case OP_PAD:
        return run_pad(nd, in[0], in[1], 0);
    case OP_PADV2: {
        if (in[2]->count != 1 || in[2]->dtype != VG_DT_F32) FAIL(nd, "pad value must be a float");
        return run_pad(nd, in[0], in[1], ((const float *)in[2]->data)[0]);
    }
    case OP_CONV2D:
        return run_conv(m, nd, in[0], in[1], NULL);
    case OP_ADD:
        return run_binary(nd, in[0], in[1], BIN_ADD);
    case OP_MUL:
        return run_binary(nd, in[0], in[1], BIN_MUL);
    case OP_SUB:
        return run_binary(nd, in[0], in[1], BIN_SUB);
    case OP_FUSED_CONV:
        return run_conv(m, nd, in[0], in[1], in[2]);
    case OP_DEPTHWISE:
    case OP_FUSED_DEPTHWISE:
        return run_depthwise(nd, in[0], in[1], nd->op == OP_FUSED_DEPTHWISE ? in[2] : NULL);
    case OP_MEAN:
        return run_mean(nd, in[0], in[1]);
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_RELU:
    case OP_RELU6:
    case OP_HSWISH: {
        if (in[0]->dtype != VG_DT_F32) FAIL(nd, "float input expected");
        size_t count = in[0]->count;
        const float *x = in[0]->data; /* read before a takeover clears the source */
        if ((ret = unary_out(m, nd, in[0])) < 0) return ret;
        float *o = nd->out[0].data;
        if (!x) x = o;
        vg_act_t act = {nd->op == OP_LEAKYRELU ? VG_ACT_LEAKY
                        : nd->op == OP_SIGMOID ? VG_ACT_SIGMOID
                        : nd->op == OP_RELU    ? VG_ACT_RELU
                        : nd->op == OP_RELU6   ? VG_ACT_RELU6
                                               : VG_ACT_HSWISH,
                        nd->alpha, nd->hs_add, nd->hs_scale};
        vg__act(x, o, count, &act);
        return 0;
    }
    case OP_MAXPOOL: {
        const vg_tensor_t *x = in[0];
        int oh, ow, pt, pl;
        if (x->ndim != 4 || x->dtype != VG_DT_F32) FAIL(nd, "MaxPool wants NHWC");
        if (tf_pad((int)x->shape[1], nd->ksize[1], nd->strides[1], 1, nd->same, &oh, &pt) < 0 ||
            tf_pad((int)x->shape[2], nd->ksize[2], nd->strides[2], 1, nd->same, &ow, &pl) < 0)
            FAIL(nd, "input smaller than the window");
        int64_t shape[4] = {x->shape[0], oh, ow, x->shape[3]};
        if ((ret = alloc_out(nd, 0, VG_DT_F32, 4, shape)) < 0) return ret;
        vg__maxpool(x->data, (int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                    nd->ksize[1], nd->ksize[2], nd->strides[1], nd->strides[2], pt, pl, oh, ow,
                    nd->out[0].data);
        return 0;
    }
    case OP_CONCAT:
        return run_concat(nd, in, nd->nin);
    case OP_RESIZE: {
        int64_t sz[2];
        size_t n = 0;
        const vg_tensor_t *x = in[0];
        if (x->ndim != 4 || x->dtype != VG_DT_F32 || ints(in[1], sz, 2, &n) < 0 || n != 2 ||
            sz[0] < 1 || sz[1] < 1 || sz[0] > 8192 || sz[1] > 8192)
            FAIL(nd, "ResizeBilinear wants NHWC and a size [h, w]");
        int64_t shape[4] = {x->shape[0], sz[0], sz[1], x->shape[3]};
        if ((ret = alloc_out(nd, 0, VG_DT_F32, 4, shape)) < 0) return ret;
        vg__resize_bilinear(x->data, (int)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                            (int)x->shape[3], (int)sz[0], (int)sz[1], nd->align_corners,
                            nd->half_pixel, nd->out[0].data);
        return 0;
    }
    case OP_SPLITV:
        return run_splitv(nd, in[0], in[1], in[2]);
    case OP_RESHAPE:
        return run_reshape(nd, in[0], in[1]);
    case OP_SPARSE_TO_DENSE:
        return run_sparse_to_dense(nd, in);
    case OP_CAST:
        return run_cast(nd, in[0]);
    case OP_EXPAND_DIMS:
        return run_expand_dims(nd, in[0], in[1]);
    case OP_SQUEEZE:
        return run_squeeze(nd, in[0]);
    case OP_UNPACK:
        return run_unpack(nd, in[0]);
    case OP_SHAPE:
        return run_shape(nd, in[0]);
    case OP_STRIDED_SLICE:
        return run_strided_slice(nd, in);
    }
    return VG_EBUG;
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
    /* VG_NN_PROFILE=1: time per op kind at info level, and per node (with multiply-adds of the
     * convolutions) at debug level */
    const int profile = getenv("VG_NN_PROFILE") != NULL; /* per run: no shared state */
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
            if (nd->op == OP_FUSED_CONV || nd->op == OP_CONV2D || nd->op == OP_DEPTHWISE ||
                nd->op == OP_FUSED_DEPTHWISE) {
                const vg_tensor_t *f = &m->nodes[nd->in_node[1]].out[0];
                if (f->ndim == 4)
                    mac = (double)o->count * f->shape[0] * f->shape[1] *
                          (nd->op == OP_FUSED_CONV || nd->op == OP_CONV2D ? f->shape[2] : 1);
                macs += mac, conv_time += dt;
            }
            vg_log(COMP, VG_LOG_DEBUG,
                   "profile: %7.3f ms %-26s out [%lld %lld %lld %lld] %6.2f MMAC %5.1f GMAC/s %s",
                   dt * 1e3, op_names[nd->op], (long long)o->shape[0], (long long)o->shape[1],
                   (long long)o->shape[2], (long long)o->shape[3], mac / 1e6,
                   dt > 0 ? mac / dt / 1e9 : 0, nd->name);
        }
        /* free what no later node reads */
        for (int k = 0; k < nd->nin; k++) {
            node_t *src = &m->nodes[nd->in_node[k]];
            int port = nd->in_port[k];
            if (--src->remaining[port] == 0 && !keep_all && src->op != OP_CONST &&
                !src->is_output) {
                plan_free(m, &src->out[port], src->alloc_id[port]);
                src->alloc_id[port] = -1;
            }
        }
    }
    /* the recording run's buffers are free now: hand them back to the system before the arena
     * takes their place, so that the process's peak is one of them, not both */
    if (m->mode == 1) malloc_trim(0);
    if (m->mode == 1 && plan_place(m) == 0) {
        m->planned = 1;
        memcpy(m->plan_shape, input->shape, sizeof(m->plan_shape));
        vg_log(COMP, VG_LOG_DEBUG, "memory plan: %d tensors in an arena of %.1f MiB", m->nrec,
               m->arena_size / 1048576.0);
    }
    if (profile) {
        for (int k = 0; k < OP_NB; k++)
            if (op_time[k] > 0)
                vg_log(COMP, VG_LOG_INFO, "profile: %-28s %8.2f ms", op_names[k], op_time[k] * 1e3);
        vg_log(COMP, VG_LOG_INFO, "profile: convolutions %.1f MMAC in %.2f ms, %.1f GMAC/s",
               macs / 1e6, conv_time * 1e3, conv_time > 0 ? macs / conv_time / 1e9 : 0);
    }
    return 0;
}

int vg_model_planned(const vg_model_t *m, size_t *arena_bytes)
{
    if (arena_bytes) *arena_bytes = m->planned ? m->arena_size : 0;
    return m->mode == 2;
}

const vg_tensor_t *vg_model_tensor(const vg_model_t *m, const char *node)
{
    const char *colon = strrchr(node, ':');
    size_t len = colon ? (size_t)(colon - node) : strlen(node);
    int port = colon ? atoi(colon + 1) : 0;
    int i = find_node(m, node, len);
    if (i < 0 || port < 0 || port >= MAX_OUT || !m->nodes[i].out[port].data) return NULL;
    return &m->nodes[i].out[port];
}
