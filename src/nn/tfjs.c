/*
 * The TensorFlow.js graph loader: model.json is read with jansson (its topology: nodes with
 * name, op, inputs, attrs; its weights manifest: names, shapes, dtypes, optional float16
 * quantisation) and the .bin weights are sliced by the manifest in order. float16 weights are
 * widened to float32 exactly (every half is a float). Nodes are put in dependency order (Kahn's
 * algorithm) and their attributes decoded once (strides, padding, data format, ...). Ops are
 * looked up by name in the op table (graph_ops.c); an op the outputs need that is not there is
 * refused at load. The load-time rewrites (rewrite.c) run last.
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

void vg__nn_fmt(char *err, size_t len, const char *f, ...)
{
    va_list ap;
    if (!err || !len) return;
    va_start(ap, f);
    vsnprintf(err, len, f, ap);
    va_end(ap);
}

static int read_model_file(const char *path, size_t limit, uint8_t **data, size_t *len, char *err,
                           size_t errlen)
{
    int ret = vg_file_read(path, limit, data, len);
    if (ret == VG_ENOENT)
        vg__nn_fmt(err, errlen, "%s: %s. Run scripts/setup to fetch the models", path,
                   strerror(errno));
    else if (ret == VG_EACCES)
        vg__nn_fmt(err, errlen, "%s: %s", path, strerror(errno));
    else if (ret == VG_ERANGE)
        vg__nn_fmt(err, errlen, "%s: larger than a model may be (%zu bytes)", path, limit);
    else if (ret == VG_EIO)
        vg__nn_fmt(err, errlen, "%s: read error", path);
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

int vg__nn_find_node(const vg_model_t *m, const char *name, size_t len)
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
            vg__nn_fmt(err, errlen, "node %s: only NHWC data format is supported", nd->name);
            return VG_ENOSYS;
        }
        if (!pad || (strcmp(pad, "VkFMSUQ=") && strcmp(pad, "U0FNRQ=="))) {
            vg__nn_fmt(err, errlen, "node %s: padding must be VALID or SAME", nd->name);
            return VG_ENOSYS;
        }
        nd->same = !strcmp(pad, "U0FNRQ==");
        if (attr_ints(attr, "strides", nd->strides, 4) < 0 ||
            attr_ints(attr, "dilations", nd->dil, 4) < 0 ||
            (nd->op == OP_MAXPOOL && attr_ints(attr, "ksize", nd->ksize, 4) <= 0) ||
            nd->strides[1] < 1 || nd->strides[2] < 1 || nd->dil[1] < 1 || nd->dil[2] < 1) {
            vg__nn_fmt(err, errlen, "node %s: bad strides, dilations or kernel size", nd->name);
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
            vg__nn_fmt(err, errlen, "node %s: only BiasAdd with an optional Relu or Relu6 is fused",
                       nd->name);
            return VG_ENOSYS;
        }
        if (f1 && !strcmp(f1, "UmVsdQ=="))
            nd->act = 1;
        else if (f1 && !strcmp(f1, "UmVsdTY="))
            nd->act = 2;
        else if (f1) {
            vg__nn_fmt(err, errlen, "node %s: fused activation not supported", nd->name);
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
            vg__nn_fmt(err, errlen, "node %s: Cast to %s is not supported", nd->name, t ? t : "?");
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
                vg__nn_fmt(err, errlen, "node %s: bad squeeze_dims", nd->name);
                return VG_ENOSYS;
            }
            nd->squeeze |= 1u << x;
        }
    }
    if (nd->op == OP_UNPACK) {
        long long num = attr_int(attr, "num", -1), axis = attr_int(attr, "axis", 0);
        if (num < 1 || num > MAX_OUT || axis < -VG_TENSOR_MAX_DIMS || axis >= VG_TENSOR_MAX_DIMS) {
            vg__nn_fmt(err, errlen, "node %s: Unpack into 1..%d tensors only", nd->name, MAX_OUT);
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
            vg__nn_fmt(err, errlen, "node %s: StridedSlice with ellipsis or new axes", nd->name);
            return VG_ENOSYS;
        }
    }
    if (nd->op == OP_SPLITV) {
        json_t *v = json_object_get(json_object_get(attr, "num_split"), "i");
        long long k = json_is_string(v) ? atoll(json_string_value(v)) : json_integer_value(v);
        if (k < 1 || k > MAX_OUT) {
            vg__nn_fmt(err, errlen, "node %s: num_split must be 1..%d", nd->name, MAX_OUT);
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
                vg__nn_fmt(err, errlen, "weights manifest entry %zu is malformed", wi);
                return VG_EFORMAT;
            }
            for (int d = 0; d < ndim; d++)
                dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
            int idx = vg__nn_find_node(m, name, strlen(name));
            vg_tensor_t t;
            int is_int = !strcmp(dtype, "int32"), is_f = !strcmp(dtype, "float32");
            if ((!is_int && !is_f) || (qd && strcmp(qd, "float16"))) {
                vg__nn_fmt(err, errlen, "weight %s: type %s%s%s is not supported", name, dtype,
                           qd ? " quantised as " : "", qd ? qd : "");
                return VG_ENOSYS;
            }
            if (vg_tensor_alloc(&t, is_int ? VG_DT_I32 : VG_DT_F32, ndim, dims) < 0) {
                vg__nn_fmt(err, errlen, "weight %s: bad shape", name);
                return VG_EFORMAT;
            }
            size_t esz = qd ? 2 : 4, bytes = t.count * esz;
            if (off + bytes > binlen || off + bytes < off) {
                vg_tensor_free(&t);
                vg__nn_fmt(err, errlen,
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
            vg__nn_fmt(err, errlen, "constant %s has no weight in %s", m->nodes[i].name, bin_path);
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
        vg__nn_fmt(err, errlen, "the graph has a cycle");
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
        vg__nn_fmt(err, errlen, "no modelTopology.node list");
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
            vg__nn_fmt(err, errlen, "node %zu has no name or op", i);
            return VG_EFORMAT;
        }
        nd->name = vg_strdup(name);
        if (!nd->name) return VG_ENOMEM;
        nd->op = -1;
        nd->opname = vg_strdup(op);
        if (!nd->opname) return VG_ENOMEM;
        if (!strcmp(op, "AddV2")) op = "Add";
        for (int k = 0; k < OP_NB; k++)
            if (!strcmp(op, vg__nn_ops[k].name)) nd->op = k;
        if (!strcmp(op, "AddV2")) nd->op = OP_ADD; /* the same op, newer name */
        if (nd->op == OP_PLACEHOLDER) {
            json_t *dims = json_object_get(
                json_object_get(json_object_get(json_object_get(jn, "attr"), "shape"), "shape"),
                "dim");
            size_t d;
            json_t *dim;
            if (m->input >= 0) {
                vg__nn_fmt(err, errlen, "more than one input");
                return VG_ENOSYS;
            }
            m->input = (int)i;
            if (!json_is_array(dims) || json_array_size(dims) > VG_TENSOR_MAX_DIMS) {
                vg__nn_fmt(err, errlen, "the input %s has no usable shape", name);
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
            int src = vg__nn_find_node(m, s, len);
            if (src < 0 || port < 0 || port >= MAX_OUT) {
                vg__nn_fmt(err, errlen, "node %s reads %s, which is not in the graph", nd->name, s);
                return VG_EFORMAT;
            }
            nd->in_node[nd->nin] = src;
            nd->in_port[nd->nin++] = port;
            m->nodes[src].consumers[port]++;
        }
    }
    if (m->input < 0) {
        vg__nn_fmt(err, errlen, "the graph has no input (Placeholder)");
        return VG_EFORMAT;
    }
    /* keep what the outputs need */
    if (outputs) {
        int *stack = vg_malloc((size_t)m->n * sizeof(int)), top = 0;
        if (!stack) return VG_ENOMEM;
        for (int k = 0; k < m->n; k++) m->nodes[k].skip = 1;
        for (int o = 0; outputs[o]; o++) {
            int idx = vg__nn_find_node(m, outputs[o], strlen(outputs[o]));
            if (idx < 0) {
                vg_free(stack);
                vg__nn_fmt(err, errlen, "the graph has no output %s", outputs[o]);
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
            vg__nn_fmt(err, errlen, "the outputs do not depend on the input");
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
            vg__nn_fmt(err, errlen, "node %s uses op %s, which vigie does not implement", nd->name,
                       nd->opname);
            return VG_ENOSYS;
        }
        int ret = decode_attrs(nd, json_object_get(jn, "attr"), err, errlen);
        if (ret < 0) return ret;
    }
    return sort_nodes(m, err, errlen);
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
        vg__nn_fmt(err, errlen, "%s:%d: not valid JSON: %s", name, je.line, je.text);
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
            vg__nn_fmt(err, errlen, "%s: out of memory", name);
        else
            vg__nn_fmt(err, errlen, "%s: %s", name, inner);
        goto end;
    }
    vg__nn_rewrite(m);
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
