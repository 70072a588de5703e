/*
 * The ONNX loader: a model file (ModelProto) becomes the same vg_model_t as a TF.js graph, run
 * by the same interpreter, memory plan, rewrites and kernels.
 *
 * Reading. A small protobuf reader of our own, written from the wire format's specification
 * (varints, 64- and 32-bit fixed fields, length-delimited fields; groups refused), rather than
 * protobuf-c: an ONNX file is a handful of messages of which vigie reads a dozen fields, a
 * generated parser would bring the whole onnx.proto and a code generator into the build, and a
 * reader of 100 lines is one the fuzzer covers completely (docs/nn.md). Every length is checked
 * against what is left of its message before it is used; strings and tensor bytes are read in
 * place. What a model may hold is bounded: 100,000 nodes, 2^28 elements per tensor, 6
 * dimensions; the byte count of a tensor must match its shape; data kept in an external file is
 * refused (vigie reads self-contained files whose checksum it can check).
 *
 * Translating. ONNX graphs are NCHW; the kernels are NHWC (TF's layout, in which the TF.js models
 * come). The loader tracks, for each value of the graph, its shape in ONNX's order (shapes are
 * static: the input's size is fixed by the file) and whether it is stored as NHWC. A convolution
 * reads and writes NHWC; elementwise ops, concatenations, slices and pools work on whatever
 * layout their input has, with their axes mapped; reshapes, transposes and the graph's outputs see
 * ONNX's own layout, with a transpose inserted where the layout changes (which the interpreter
 * often turns into a relabelling, graph.c "Layout"). The caller feeds the input as NHWC ([1, H, W,
 * C]) and reads outputs in ONNX's layout. Shape arithmetic (Shape, Gather, Slice, Concat,
 * Unsqueeze, Cast on values known at load) is folded into constants, so a Reshape's target is
 * known before the first run. Convolution filters are rearranged once, OIHW to HWIO (depthwise:
 * [kh, kw, C, multiplier]). An op outside the set, a grouped convolution other than depthwise, an
 * opset newer than vigie knows, and a dynamic dimension other than the batch are refused at load
 * with the node's name.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "graph_priv.h"
#include "ops.h"

#define MAX_NODES   100000
#define MAX_ELEMS   (1 << 28)
#define MAX_OPSET   21
#define MAX_IN      16
#define MAX_ATTR    16
#define MAX_INTS    16
#define MODEL_LIMIT (512u << 20)

/* ---- protobuf wire format ---- */

typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes_t;

typedef struct pb {
    const uint8_t *p, *end;
} pb_t;

/* One field of a message: its number and wire type, the value (varint or fixed bits) or the
 * bytes of a length-delimited one. */
typedef struct field {
    int num, wire;
    uint64_t v;
    bytes_t b;
} field_t;

static pb_t pb_of(bytes_t b)
{
    pb_t r = {b.p, b.p + b.n};
    return r;
}

static int pb_varint(pb_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (r->p >= r->end) return -1;
        uint8_t c = *r->p++;
        x |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1; /* more than ten bytes */
}

/* The next field of @r: 1, or 0 at the end, or -1 for bytes that are no protobuf. */
static int pb_next(pb_t *r, field_t *f)
{
    uint64_t key, len;
    if (r->p >= r->end) return 0;
    if (pb_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > (1u << 29)) return -1;
    f->num = (int)(key >> 3);
    f->wire = (int)(key & 7);
    f->v = 0;
    f->b.p = NULL, f->b.n = 0;
    switch (f->wire) {
    case 0:
        return pb_varint(r, &f->v) < 0 ? -1 : 1;
    case 1:
    case 5: {
        size_t k = f->wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < k) return -1;
        for (size_t i = 0; i < k; i++) f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += k;
        return 1;
    }
    case 2:
        if (pb_varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p)) return -1;
        f->b.p = r->p, f->b.n = (size_t)len;
        r->p += len;
        return 1;
    default: /* groups (3, 4) are long deprecated; 6, 7 do not exist */
        return -1;
    }
}

/* The values of a repeated integer field, packed (@f is length-delimited) or not: appended to
 * @out (at most @max); -1 on bad bytes or too many. */
static int pb_ints(const field_t *f, int64_t *out, int *n, int max)
{
    if (f->wire == 0) {
        if (*n >= max) return -1;
        out[(*n)++] = (int64_t)f->v;
        return 0;
    }
    if (f->wire != 2) return -1;
    pb_t r = pb_of(f->b);
    uint64_t v;
    while (r.p < r.end) {
        if (*n >= max || pb_varint(&r, &v) < 0) return -1;
        out[(*n)++] = (int64_t)v;
    }
    return 0;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int bytes_eq(bytes_t b, const char *s)
{
    return b.n == strlen(s) && !memcmp(b.p, s, b.n);
}

/* ---- the loader's state ---- */

/* A value of the ONNX graph: the node (and port) holding it, its shape in ONNX's order, and
 * whether it is stored as NHWC (see the top). @alt: the node holding it in the other layout. */
typedef struct val {
    char *name;
    int node, port, alt;
    int nhwc;
    int ndim;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    /* a strided view of 4-D value @view (-1: none): this[n][c][y][x] = view[n][c][off[0] + y
     * step[0]][off[1] + x step[1]] (Slices on H and W) */
    int view;
    int64_t off[2], step[2];
    /* the four 2x2-strided views of value @focus concatenated on channels (YOLOX's Focus, a
     * space-to-depth): channel block q holds rows dy[q] + 2y, columns dx[q] + 2x; -1: none */
    int focus;
    int dy[4], dx[4];
} val_t;

typedef struct attr {
    bytes_t name, s, t;
    int type;
    int64_t i;
    float f;
    int nints, nfloats;
    int64_t ints[MAX_INTS];
    float floats[MAX_INTS];
} attr_t;

typedef struct onode {
    bytes_t op, name, domain;
    int nin, nout, nattr;
    bytes_t in[MAX_IN], out[MAX_OUT];
    attr_t attr[MAX_ATTR];
} onode_t;

typedef struct ld {
    vg_model_t *m;
    int cap;
    val_t *vals;
    int nval, capval;
    int *hash; /* open addressing into vals, -1 empty */
    int hcap;
    int opset;
    const char *file;
    char *err;
    size_t errlen;
    const onode_t *cur; /* the node being translated, for messages */
} ld_t;

#define LFAIL(L, code, ...)                                                                        \
    do {                                                                                           \
        fail_msg((L), __VA_ARGS__);                                                                \
        return (code);                                                                             \
    } while (0)

static void fail_msg(ld_t *L, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fail_msg(ld_t *L, const char *f, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof(msg), f, ap);
    va_end(ap);
    if (L->cur)
        vg__nn_fmt(L->err, L->errlen, "%s: node %.*s (%.*s): %s", L->file,
                   (int)(L->cur->name.n ? L->cur->name.n : L->cur->out[0].n),
                   (const char *)(L->cur->name.n ? L->cur->name.p : L->cur->out[0].p),
                   (int)L->cur->op.n, (const char *)L->cur->op.p, msg);
    else
        vg__nn_fmt(L->err, L->errlen, "%s: %s", L->file, msg);
}

static uint32_t hash_of(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int find_val(const ld_t *L, bytes_t name)
{
    if (!L->hcap) return -1;
    for (uint32_t h = hash_of((const char *)name.p, name.n) & (L->hcap - 1);;
         h = (h + 1) & (L->hcap - 1)) {
        int v = L->hash[h];
        if (v < 0) return -1;
        if (strlen(L->vals[v].name) == name.n &&
            (!name.n || !memcmp(L->vals[v].name, name.p, name.n)))
            return v;
    }
}

/* Define (or redefine) value @name; returns its index or a negative error. */
static int def_val(ld_t *L, bytes_t name, int node, int port, int ndim, const int64_t *shape,
                   int nhwc)
{
    /* (@shape may point into the table this may move: copied first) */
    int64_t sh[VG_TENSOR_MAX_DIMS] = {0};
    if (ndim > 0 && ndim <= VG_TENSOR_MAX_DIMS) memcpy(sh, shape, (size_t)ndim * sizeof(int64_t));
    shape = sh;
    if (ndim < 0 || ndim > VG_TENSOR_MAX_DIMS) LFAIL(L, VG_ENOSYS, "more than 6 dimensions");
    int v = find_val(L, name);
    if (v < 0) {
        if (L->nval == L->capval) {
            int cap = L->capval ? L->capval * 2 : 256;
            val_t *nv = vg_realloc(L->vals, (size_t)cap * sizeof(*nv));
            if (!nv) return VG_ENOMEM;
            L->vals = nv, L->capval = cap;
        }
        if (2 * (L->nval + 1) > L->hcap) {
            int hc = L->hcap ? L->hcap * 2 : 512;
            int *nh = vg_malloc((size_t)hc * sizeof(int));
            if (!nh) return VG_ENOMEM;
            for (int i = 0; i < hc; i++) nh[i] = -1;
            for (int i = 0; i < L->nval; i++) {
                uint32_t h = hash_of(L->vals[i].name, strlen(L->vals[i].name)) & (hc - 1);
                while (nh[h] >= 0) h = (h + 1) & (hc - 1);
                nh[h] = i;
            }
            vg_free(L->hash);
            L->hash = nh, L->hcap = hc;
        }
        v = L->nval;
        val_t *x = &L->vals[v];
        memset(x, 0, sizeof(*x));
        x->name = vg_malloc(name.n + 1);
        if (!x->name) return VG_ENOMEM;
        if (name.n) memcpy(x->name, name.p, name.n); /* (an optional output has no name) */
        x->name[name.n] = 0;
        L->nval++;
        uint32_t h = hash_of(x->name, name.n) & (L->hcap - 1);
        while (L->hash[h] >= 0) h = (h + 1) & (L->hcap - 1);
        L->hash[h] = v;
    }
    val_t *x = &L->vals[v];
    x->node = node, x->port = port, x->alt = -1, x->nhwc = nhwc, x->ndim = ndim;
    x->view = x->focus = -1;
    memset(x->shape, 0, sizeof(x->shape));
    if (ndim) memcpy(x->shape, shape, (size_t)ndim * sizeof(int64_t));
    return v;
}

/* A new graph node; returns its index. @name + @suffix names it. */
static int new_node(ld_t *L, const char *name, const char *suffix, int op, int nin)
{
    vg_model_t *m = L->m;
    if (m->n >= 4 * MAX_NODES) LFAIL(L, VG_ENOSYS, "the graph is too large");
    if (m->n == L->cap) {
        int cap = L->cap ? L->cap * 2 : 512;
        node_t *nn = vg_realloc(m->nodes, (size_t)cap * sizeof(node_t));
        if (!nn) return VG_ENOMEM;
        m->nodes = nn, L->cap = cap;
    }
    node_t *nd = &m->nodes[m->n];
    memset(nd, 0, sizeof(*nd));
    size_t ln = strlen(name), ls = strlen(suffix);
    nd->name = vg_malloc(ln + ls + 1);
    nd->opname = vg_strdup(vg__nn_ops[op].name);
    nd->in_node = vg_calloc((size_t)(nin > 3 ? nin : 3) + 1, sizeof(int));
    nd->in_port = vg_calloc((size_t)(nin > 3 ? nin : 3) + 1, sizeof(int));
    m->n++; /* freed with the model from here on */
    if (!nd->name || !nd->opname || !nd->in_node || !nd->in_port) return VG_ENOMEM;
    memcpy(nd->name, name, ln);
    memcpy(nd->name + ln, suffix, ls + 1);
    nd->op = op;
    nd->model = m;
    for (int k = 0; k < 4; k++) nd->strides[k] = nd->ksize[k] = nd->dil[k] = 1;
    return m->n - 1;
}

static void set_in(ld_t *L, int node, int k, int src, int port)
{
    node_t *nd = &L->m->nodes[node];
    nd->in_node[k] = src;
    nd->in_port[k] = port;
    if (k >= nd->nin) nd->nin = k + 1;
}

/* A constant node holding @t (taken over). */
static int new_const(ld_t *L, const char *name, const char *suffix, vg_tensor_t *t)
{
    int i = new_node(L, name, suffix, OP_CONST, 0);
    if (i < 0) {
        vg_tensor_free(t);
        return i;
    }
    L->m->nodes[i].out[0] = *t;
    memset(t, 0, sizeof(*t));
    return i;
}

static int const_ints(ld_t *L, const char *name, const char *suffix, const int64_t *v, int n)
{
    vg_tensor_t t;
    int64_t shape[1] = {n};
    int ret = vg_tensor_alloc(&t, VG_DT_I32, 1, shape);
    if (ret < 0) return ret;
    for (int i = 0; i < n; i++) ((int32_t *)t.data)[i] = (int32_t)v[i];
    return new_const(L, name, suffix, &t);
}

static int is_const(const ld_t *L, int v)
{
    return L->m->nodes[L->vals[v].node].op == OP_CONST;
}

static const vg_tensor_t *const_of(const ld_t *L, int v)
{
    return &L->m->nodes[L->vals[v].node].out[L->vals[v].port];
}

/* ONNX axis @a of a 4-D value stored as NHWC is stored axis phys[a]. */
static const int phys[4] = {0, 3, 1, 2};
static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};

/* Value @v in the layout asked (@nhwc for a 4-D value): the node holding it, a transpose or a
 * rearranged constant made once when needed. Returns the node, or a negative error. */
static int in_layout(ld_t *L, int v, int nhwc)
{
    val_t *x = &L->vals[v];
    if (x->ndim != 4) nhwc = 0;
    if (x->nhwc == nhwc) return x->node;
    if (x->alt >= 0) return x->alt;
    int node;
    if (is_const(L, v)) {
        const vg_tensor_t *t = const_of(L, v);
        vg_tensor_t nt;
        int64_t shape[4];
        for (int d = 0; d < 4; d++) shape[d] = t->shape[to_nhwc[d]];
        int ret = vg_tensor_alloc(&nt, t->dtype, 4, shape);
        if (ret < 0) return ret;
        vg__transpose(t->data, t->shape, 4, to_nhwc, nt.data);
        node = new_const(L, x->name, "#nhwc", &nt);
    } else {
        int p = const_ints(L, x->name, nhwc ? "#to_nhwc/perm" : "#to_nchw/perm",
                           nhwc ? to_nhwc : to_nchw, 4);
        if (p < 0) return p;
        node = new_node(L, x->name, nhwc ? "#nhwc" : "#nchw", OP_TRANSPOSE, 2);
        if (node < 0) return node;
        x = &L->vals[v];
        set_in(L, node, 0, x->node, x->port);
        set_in(L, node, 1, p, 0);
    }
    if (node < 0) return node;
    L->vals[v].alt = node;
    return node;
}

/* The port of in_layout's answer: the value's own for its own node, 0 for a made one. */
static int port_of(const ld_t *L, int v, int node)
{
    return node == L->vals[v].node ? L->vals[v].port : 0;
}

/* ---- tensors ---- */

static float half_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, mant = h & 1023, bits;
    if (e == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    bits = e == 31 ? sign | 0x7f800000u | (mant << 13) : sign | ((e + 112) << 23) | (mant << 13);
    return bits_float(bits);
}

/* A TensorProto as a vg tensor (float32, or int32 for INT32/INT64 values in range). @name gets
 * its name (may be empty). */
static int read_tensor(ld_t *L, bytes_t tp, vg_tensor_t *out, bytes_t *name)
{
    pb_t r = pb_of(tp);
    field_t f;
    int64_t dims[VG_TENSOR_MAX_DIMS + 1];
    int ndim = 0, dtype = 0, got, external = 0;
    bytes_t raw = {NULL, 0}, fdata = {NULL, 0}, idata = {NULL, 0};
    int nfloat_unpacked = 0, has_raw = 0;
    name->p = NULL, name->n = 0;
    memset(out, 0, sizeof(*out));
    while ((got = pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1:
            if (pb_ints(&f, dims, &ndim, VG_TENSOR_MAX_DIMS) < 0)
                LFAIL(L, VG_ENOSYS, "a tensor with more than 6 dimensions");
            break;
        case 2:
            dtype = (int)f.v;
            break;
        case 4:
            if (f.wire == 2)
                fdata = f.b;
            else if (f.wire == 5)
                nfloat_unpacked++;
            break;
        case 5:
        case 7:
            if (f.wire == 2) idata = f.b;
            break;
        case 8:
            if (f.wire == 2) *name = f.b;
            break;
        case 9:
            if (f.wire == 2) raw = f.b, has_raw = 1;
            break;
        case 13:
            external = 1;
            break;
        case 14:
            external |= f.v == 1;
            break;
        default:
            break;
        }
    }
    if (got < 0) LFAIL(L, VG_EFORMAT, "a tensor's bytes are not a valid TensorProto");
    char nm[128];
    snprintf(nm, sizeof(nm), "%.*s", (int)(name->n > 100 ? 100 : name->n),
             name->p ? (const char *)name->p : "");
    if (external)
        LFAIL(L, VG_ENOSYS,
              "tensor '%s' keeps its data in an external file: vigie reads self-contained models "
              "only (save it with onnx.save(model, path, save_as_external_data=False))",
              nm);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0 || dims[d] > MAX_ELEMS || (dims[d] && count > (size_t)MAX_ELEMS / dims[d]))
            LFAIL(L, VG_EFORMAT, "tensor '%s' has a negative or oversized dimension", nm);
        count *= (size_t)dims[d];
    }
    size_t esize = dtype == 1 || dtype == 6 ? 4 : dtype == 7 ? 8 : dtype == 10 ? 2 : 0;
    if (!esize)
        LFAIL(L, VG_ENOSYS,
              "tensor '%s' has data type %d; vigie reads float, float16, int32 and "
              "int64 tensors",
              nm, dtype);
    vg_dtype_t dt = dtype == 6 || dtype == 7 ? VG_DT_I32 : VG_DT_F32;
    int ret = vg_tensor_alloc(out, dt, ndim, dims);
    if (ret < 0) return ret;
    if (has_raw) {
        if (raw.n != count * esize) {
            vg_tensor_free(out);
            LFAIL(L, VG_EFORMAT, "tensor '%s' has %zu bytes of data for %zu values of %zu bytes",
                  nm, raw.n, count, esize);
        }
        for (size_t i = 0; i < count; i++) {
            const uint8_t *p = raw.p + i * esize;
            if (dtype == 1) {
                uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
                ((float *)out->data)[i] = bits_float(u);
            } else if (dtype == 10) {
                ((float *)out->data)[i] = half_float((uint16_t)(p[0] | p[1] << 8));
            } else {
                uint64_t u = 0;
                for (size_t b = 0; b < esize; b++) u |= (uint64_t)p[b] << (8 * b);
                int64_t v = esize == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
                if (v < INT32_MIN || v > INT32_MAX) v = v < 0 ? INT32_MIN : INT32_MAX;
                ((int32_t *)out->data)[i] = (int32_t)v; /* ends like INT64_MAX: clamped */
            }
        }
        return 0;
    }
    /* typed fields */
    size_t have = 0;
    if (dtype == 1 && fdata.p) {
        if (fdata.n != count * 4) {
            vg_tensor_free(out);
            LFAIL(L, VG_EFORMAT, "tensor '%s' has %zu float values for a shape of %zu", nm,
                  fdata.n / 4, count);
        }
        for (size_t i = 0; i < count; i++) {
            const uint8_t *p = fdata.p + i * 4;
            ((float *)out->data)[i] = bits_float((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                                 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        }
        return 0;
    }
    if (dtype == 1 && nfloat_unpacked) { /* unpacked floats: read them again in order */
        r = pb_of(tp);
        while (pb_next(&r, &f) > 0)
            if (f.num == 4 && f.wire == 5 && have < count)
                ((float *)out->data)[have++] = bits_float((uint32_t)f.v);
    } else if ((dtype == 6 || dtype == 7) && idata.p) {
        pb_t q = pb_of(idata);
        uint64_t u;
        while (q.p < q.end && have < count + 1) {
            if (pb_varint(&q, &u) < 0) break;
            int64_t v = (int64_t)u;
            if (dtype == 6) v = (int32_t)(uint32_t)u;
            if (v < INT32_MIN || v > INT32_MAX) v = v < 0 ? INT32_MIN : INT32_MAX;
            if (have < count) ((int32_t *)out->data)[have] = (int32_t)v;
            have++;
        }
    }
    if (have != count) {
        vg_tensor_free(out);
        LFAIL(L, VG_EFORMAT, "tensor '%s' has %zu values for a shape of %zu", nm, have, count);
    }
    return 0;
}

/* ---- nodes ---- */

static int read_attr(ld_t *L, bytes_t b, attr_t *a)
{
    pb_t r = pb_of(b);
    field_t f;
    int got;
    memset(a, 0, sizeof(*a));
    while ((got = pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1:
            a->name = f.b;
            break;
        case 2:
            a->f = bits_float((uint32_t)f.v);
            break;
        case 3:
            a->i = (int64_t)f.v;
            break;
        case 4:
            a->s = f.b;
            break;
        case 5:
            a->t = f.b;
            break;
        case 7:
            if (f.wire == 5) {
                if (a->nfloats >= MAX_INTS) LFAIL(L, VG_ENOSYS, "an attribute too long");
                a->floats[a->nfloats++] = bits_float((uint32_t)f.v);
            } else if (f.wire == 2) {
                for (size_t i = 0; i + 4 <= f.b.n; i += 4) {
                    if (a->nfloats >= MAX_INTS) LFAIL(L, VG_ENOSYS, "an attribute too long");
                    const uint8_t *p = f.b.p + i;
                    a->floats[a->nfloats++] =
                        bits_float((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                   (uint32_t)p[3] << 24);
                }
            }
            break;
        case 8:
            if (pb_ints(&f, a->ints, &a->nints, MAX_INTS) < 0)
                LFAIL(L, VG_ENOSYS, "an attribute of more than 16 integers");
            break;
        case 20:
            a->type = (int)f.v;
            break;
        default:
            break;
        }
    }
    if (got < 0) LFAIL(L, VG_EFORMAT, "an attribute is not a valid AttributeProto");
    return 0;
}

static int read_node(ld_t *L, bytes_t b, onode_t *n)
{
    pb_t r = pb_of(b);
    field_t f;
    int got;
    memset(n, 0, sizeof(*n));
    while ((got = pb_next(&r, &f)) > 0) {
        if (f.wire != 2) continue;
        switch (f.num) {
        case 1:
            if (n->nin >= MAX_IN) LFAIL(L, VG_ENOSYS, "a node with more than 16 inputs");
            n->in[n->nin++] = f.b;
            break;
        case 2:
            if (n->nout >= MAX_OUT) LFAIL(L, VG_ENOSYS, "a node with more than 8 outputs");
            n->out[n->nout++] = f.b;
            break;
        case 3:
            n->name = f.b;
            break;
        case 4:
            n->op = f.b;
            break;
        case 5: {
            if (n->nattr >= MAX_ATTR) LFAIL(L, VG_ENOSYS, "a node with more than 16 attributes");
            int ret = read_attr(L, f.b, &n->attr[n->nattr]);
            if (ret < 0) return ret;
            n->nattr++;
            break;
        }
        case 7:
            n->domain = f.b;
            break;
        default:
            break;
        }
    }
    if (got < 0) LFAIL(L, VG_EFORMAT, "a node is not a valid NodeProto");
    if (!n->op.n || !n->nout) LFAIL(L, VG_EFORMAT, "a node without op type or output");
    for (int k = 0; k < n->nout; k++)
        if (!n->out[k].n && k == 0) LFAIL(L, VG_EFORMAT, "a node without output name");
    return 0;
}

static const attr_t *attr(const onode_t *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (bytes_eq(n->attr[i].name, name)) return &n->attr[i];
    return NULL;
}

static int64_t attr_i(const onode_t *n, const char *name, int64_t def)
{
    const attr_t *a = attr(n, name);
    return a ? a->i : def;
}

/* The index of input @k of node @n in the value table, -1 when absent (an empty name), or a
 * negative error when it names nothing made yet. */
static int input(ld_t *L, const onode_t *n, int k)
{
    if (k >= n->nin || !n->in[k].n) return -1;
    int v = find_val(L, n->in[k]);
    if (v < 0)
        LFAIL(L, VG_EFORMAT, "reads '%.*s', which no earlier node makes (nodes must be in order)",
              (int)(n->in[k].n > 200 ? 200 : n->in[k].n), (const char *)n->in[k].p);
    return v;
}

/* The same for an input the op cannot do without. */
static int need(ld_t *L, const onode_t *n, int k)
{
    int v = input(L, n, k);
    if (v == -1) LFAIL(L, VG_EFORMAT, "input %d is missing", k);
    return v;
}

/* The integers of value @v known at load (a constant), or -1. */
static int known_ints(const ld_t *L, int v, int64_t *out, int max, int *n)
{
    if (v < 0 || !is_const(L, v)) return -1;
    size_t cnt = 0;
    if (vg__nn_ints(const_of(L, v), out, (size_t)max, &cnt) < 0) return -1;
    *n = (int)cnt;
    return 0;
}

static int out_name(const onode_t *n, int k, char *buf, size_t len)
{
    return snprintf(buf, len, "%.*s", (int)n->out[k].n, (const char *)n->out[k].p);
}

/* Define output 0 of @n as a constant of integers. */
static int fold_ints(ld_t *L, const onode_t *n, const int64_t *v, int cnt, int scalar)
{
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int c = const_ints(L, nm, "", v, cnt);
    if (c < 0) return c;
    if (scalar) L->m->nodes[c].out[0].ndim = 0;
    int64_t shape[1] = {cnt};
    return def_val(L, n->out[0], c, 0, scalar ? 0 : 1, shape, 0);
}

/* ---- ops ---- */

static int64_t norm_axis(int64_t a, int ndim)
{
    return a < 0 ? a + ndim : a;
}

static int op_conv(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0), w = x < 0 ? x : need(L, n, 1), b = w < 0 ? w : input(L, n, 2);
    if (x < 0 || w < 0 || b < -1) return x < 0 ? x : w < 0 ? w : b;
    if (!is_const(L, w) || (b >= 0 && !is_const(L, b)))
        LFAIL(L, VG_ENOSYS, "a filter or bias computed at run time");
    const val_t *xv = &L->vals[x];
    const vg_tensor_t *W = const_of(L, w);
    if (xv->ndim != 4 || W->ndim != 4 || W->dtype != VG_DT_F32)
        LFAIL(L, VG_ENOSYS, "only 2-D convolutions of float NCHW tensors");
    int64_t M = W->shape[0], Cg = W->shape[1], kh = W->shape[2], kw = W->shape[3];
    int64_t C = xv->shape[1], H = xv->shape[2], Wd = xv->shape[3];
    int64_t g = attr_i(n, "group", 1);
    const attr_t *ks = attr(n, "kernel_shape"), *st = attr(n, "strides"), *pa = attr(n, "pads"),
                 *di = attr(n, "dilations"), *ap = attr(n, "auto_pad");
    if (ks && (ks->nints != 2 || ks->ints[0] != kh || ks->ints[1] != kw))
        LFAIL(L, VG_EFORMAT, "kernel_shape does not match the filter");
    if (g < 1 || C % g || Cg != C / g || M % g)
        LFAIL(L, VG_EFORMAT,
              "the filter [%lld, %lld, ...] does not fit %lld channels in %lld "
              "groups",
              (long long)M, (long long)Cg, (long long)C, (long long)g);
    int depthwise = g > 1 && g == C && Cg == 1;
    if (g > 1 && !depthwise)
        LFAIL(L, VG_ENOSYS, "a grouped convolution (%lld groups) that is not depthwise",
              (long long)g);
    int sy = st && st->nints == 2 ? (int)st->ints[0] : 1,
        sx = st && st->nints == 2 ? (int)st->ints[1] : 1;
    int dy = di && di->nints == 2 ? (int)di->ints[0] : 1,
        dx = di && di->nints == 2 ? (int)di->ints[1] : 1;
    int pads[4] = {0, 0, 0, 0}, same = 0; /* top, bottom, left, right */
    if (ap && ap->s.n && !bytes_eq(ap->s, "NOTSET")) {
        if (bytes_eq(ap->s, "SAME_UPPER"))
            same = 1;
        else if (!bytes_eq(ap->s, "VALID"))
            LFAIL(L, VG_ENOSYS, "auto_pad %.*s", (int)ap->s.n, (const char *)ap->s.p);
    } else if (pa) {
        if (pa->nints != 4) LFAIL(L, VG_EFORMAT, "pads of %d values", pa->nints);
        pads[0] = (int)pa->ints[0], pads[2] = (int)pa->ints[1];
        pads[1] = (int)pa->ints[2], pads[3] = (int)pa->ints[3];
    }
    for (int k = 0; k < 4; k++)
        if (pads[k] < 0 || pads[k] > 64) LFAIL(L, VG_ENOSYS, "padding of %d", pads[k]);
    if (sy < 1 || sx < 1 || dy < 1 || dx < 1 || sy > 64 || sx > 64 || dy > 64 || dx > 64 ||
        kh < 1 || kw < 1 || kh > 64 || kw > 64)
        LFAIL(L, VG_EFORMAT, "bad strides, dilations or kernel size");
    int64_t oh, ow;
    if (same) {
        oh = (H + sy - 1) / sy, ow = (Wd + sx - 1) / sx;
    } else {
        oh = (H + pads[0] + pads[1] - ((kh - 1) * dy + 1)) / sy + 1;
        ow = (Wd + pads[2] + pads[3] - ((kw - 1) * dx + 1)) / sx + 1;
    }
    if (oh < 1 || ow < 1) LFAIL(L, VG_EFORMAT, "the input is smaller than the filter");
    if (b >= 0 && (const_of(L, b)->count != (size_t)M || const_of(L, b)->dtype != VG_DT_F32))
        LFAIL(L, VG_EFORMAT, "the bias does not match the %lld output channels", (long long)M);
    /*
     * A k x k convolution (stride 1, padding (k - 1) / 2) of a Focus (the four 2x2 phases of an
     * image side by side on channels) is a 2k x 2k convolution of stride 2 and padding k - 1 of
     * the image itself: phase (dy, dx), tap (ky, kx) is tap (2 ky + dy, 2 kx + dx). Run so, the
     * four slices and their concatenation are never made (YOLOX's stem: 2.9 of 22 ms).
     */
    int fsrc = xv->focus;
    int64_t C0 = fsrc >= 0 ? L->vals[fsrc].shape[1] : 0;
    if (fsrc >= 0 && (g != 1 || same || sy != 1 || sx != 1 || dy != 1 || dx != 1 || kh != kw ||
                      kh % 2 == 0 || Cg != 4 * C0))
        fsrc = -1;
    for (int k = 0; fsrc >= 0 && k < 4; k++)
        if (pads[k] != (kh - 1) / 2) fsrc = -1;
    /* the filter rearranged: HWIO, or [kh, kw, C, multiplier] for a depthwise one */
    vg_tensor_t f, bias;
    int64_t mult = depthwise ? M / C : 1;
    int64_t fshape[4] = {kh, kw, depthwise ? C : Cg, depthwise ? mult : M};
    if (fsrc >= 0) fshape[0] = 2 * kh, fshape[1] = 2 * kw, fshape[2] = C0;
    int ret = vg_tensor_alloc(&f, VG_DT_F32, 4, fshape);
    if (ret < 0) return ret;
    const float *src = W->data;
    float *dst = f.data;
    for (int64_t o = 0; o < M; o++)
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t z = 0; z < kw; z++) {
                    float v = src[((o * Cg + c) * kh + y) * kw + z];
                    if (fsrc >= 0) {
                        const val_t *fv = &L->vals[x];
                        int64_t q = c / C0, u = 2 * y + fv->dy[q], t = 2 * z + fv->dx[q];
                        dst[((u * 2 * kw + t) * C0 + c % C0) * M + o] = v;
                    } else if (depthwise) {
                        dst[((y * kw + z) * C + o / mult) * mult + o % mult] = v;
                    } else {
                        dst[((y * kw + z) * Cg + c) * M + o] = v;
                    }
                }
    if (fsrc >= 0) {
        x = fsrc;
        xv = &L->vals[x];
        sy = sx = 2;
        for (int k = 0; k < 4; k++) pads[k] = (int)(kh - 1);
    }
    int64_t bshape[1] = {M};
    if ((ret = vg_tensor_alloc(&bias, VG_DT_F32, 1, bshape)) < 0) {
        vg_tensor_free(&f);
        return ret;
    }
    if (b >= 0 && M > 0) memcpy(bias.data, const_of(L, b)->data, (size_t)M * sizeof(float));
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int fn = new_const(L, nm, "#filter", &f);
    int bn = fn < 0 ? fn : new_const(L, nm, "#bias", &bias);
    if (fn < 0 || bn < 0) {
        vg_tensor_free(&bias);
        return fn < 0 ? fn : bn;
    }
    int xin = in_layout(L, x, 1);
    if (xin < 0) return xin;
    int c = new_node(L, nm, "", depthwise ? OP_FUSED_DEPTHWISE : OP_FUSED_CONV, 3);
    if (c < 0) return c;
    node_t *nd = &L->m->nodes[c];
    nd->strides[1] = sy, nd->strides[2] = sx, nd->dil[1] = dy, nd->dil[2] = dx;
    nd->same = same;
    if (!same) {
        nd->explicit_pad = 1;
        memcpy(nd->pads, pads, sizeof(pads));
    }
    set_in(L, c, 0, xin, port_of(L, x, xin));
    set_in(L, c, 1, fn, 0);
    set_in(L, c, 2, bn, 0);
    int64_t shape[4] = {xv->shape[0], M, oh, ow};
    return def_val(L, n->out[0], c, 0, 4, shape, 1);
}

/* Elementwise on one input: the layout it has. */
static int op_unary(ld_t *L, const onode_t *n, int op, float alpha)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int u = new_node(L, nm, "", op, 1);
    if (u < 0) return u;
    L->m->nodes[u].alpha = alpha;
    const val_t *xv = &L->vals[x];
    set_in(L, u, 0, xv->node, xv->port);
    return def_val(L, n->out[0], u, 0, xv->ndim, xv->shape, xv->nhwc);
}

static int op_binary(ld_t *L, const onode_t *n, int op)
{
    int a = need(L, n, 0), b = a < 0 ? a : need(L, n, 1);
    if (a < 0 || b < 0) return a < 0 ? a : b;
    const val_t *av = &L->vals[a], *bv = &L->vals[b];
    int nd_ = av->ndim > bv->ndim ? av->ndim : bv->ndim;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    for (int d = 0; d < nd_; d++) {
        int da = d - (nd_ - av->ndim), db = d - (nd_ - bv->ndim);
        int64_t x = da >= 0 ? av->shape[da] : 1, y = db >= 0 ? bv->shape[db] : 1;
        if (x != y && x != 1 && y != 1) LFAIL(L, VG_EFORMAT, "shapes that do not broadcast");
        shape[d] = x > y ? x : y;
    }
    /* NHWC when the result is 4-D and a 4-D operand is stored so (a constant is rearranged) */
    int nhwc = nd_ == 4 && ((av->nhwc && av->ndim == 4) || (bv->nhwc && bv->ndim == 4));
    int ins[2] = {a, b}, nodes[2];
    for (int k = 0; k < 2; k++) {
        const val_t *v = &L->vals[ins[k]];
        if (nhwc && v->ndim < 4 && v->ndim > 0) {
            /* a lower-rank operand broadcast against NCHW: [C, 1, 1] and the like, made 4-D */
            int scalar = 1;
            for (int d = 0; d < v->ndim; d++) scalar &= v->shape[d] == 1;
            if (!scalar) {
                if (!is_const(L, ins[k]))
                    LFAIL(L, VG_ENOSYS, "a lower-rank operand computed at run time");
                vg_tensor_t t;
                int64_t s4[4] = {1, 1, 1, 1};
                for (int d = 0; d < v->ndim; d++) s4[4 - v->ndim + d] = v->shape[d];
                int64_t sn[4] = {s4[0], s4[2], s4[3], s4[1]};
                int ret = vg_tensor_alloc(&t, const_of(L, ins[k])->dtype, 4, sn);
                if (ret < 0) return ret;
                vg__transpose(const_of(L, ins[k])->data, s4, 4, to_nhwc, t.data);
                int c = new_const(L, v->name, "#nhwc4", &t);
                if (c < 0) return c;
                nodes[k] = c;
                continue;
            }
        }
        nodes[k] = in_layout(L, ins[k], nhwc);
        if (nodes[k] < 0) return nodes[k];
    }
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int u = new_node(L, nm, "", op, 2);
    if (u < 0) return u;
    for (int k = 0; k < 2; k++) set_in(L, u, k, nodes[k], port_of(L, ins[k], nodes[k]));
    return def_val(L, n->out[0], u, 0, nd_, shape, nhwc);
}

static int op_concat(ld_t *L, const onode_t *n)
{
    if (n->nin < 1) LFAIL(L, VG_EFORMAT, "no inputs");
    int vs[MAX_IN], all_known = 1, nhwc = 1;
    for (int k = 0; k < n->nin; k++) {
        vs[k] = need(L, n, k);
        if (vs[k] < 0) return vs[k];
        all_known &= is_const(L, vs[k]) && L->vals[vs[k]].ndim <= 1 &&
                     const_of(L, vs[k])->dtype == VG_DT_I32;
        if (!is_const(L, vs[k])) nhwc &= L->vals[vs[k]].nhwc;
    }
    const val_t *a = &L->vals[vs[0]];
    int nd_ = a->ndim;
    if (all_known) { /* shape arithmetic */
        int64_t out[64], part[64];
        int cnt = 0, pn;
        for (int k = 0; k < n->nin; k++) {
            if (known_ints(L, vs[k], part, 64, &pn) < 0 || cnt + pn > 64)
                LFAIL(L, VG_ENOSYS, "a shape of more than 64 values");
            memcpy(out + cnt, part, (size_t)pn * sizeof(int64_t));
            cnt += pn;
        }
        return fold_ints(L, n, out, cnt, 0);
    }
    int64_t ax = norm_axis(attr_i(n, "axis", 0), nd_);
    if (ax < 0 || ax >= nd_) LFAIL(L, VG_EFORMAT, "axis out of range");
    nhwc &= nd_ == 4;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(shape));
    shape[ax] = 0;
    for (int k = 0; k < n->nin; k++) {
        const val_t *v = &L->vals[vs[k]];
        if (v->ndim != nd_) LFAIL(L, VG_EFORMAT, "inputs of different ranks");
        for (int d = 0; d < nd_; d++)
            if (d != ax && v->shape[d] != a->shape[d])
                LFAIL(L, VG_EFORMAT, "inputs of different shapes");
        shape[ax] += v->shape[ax];
    }
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int64_t sax = nhwc ? phys[ax] : ax;
    int axn = const_ints(L, nm, "#axis", &sax, 1);
    if (axn < 0) return axn;
    L->m->nodes[axn].out[0].ndim = 0;
    int nodes[MAX_IN];
    for (int k = 0; k < n->nin; k++)
        if ((nodes[k] = in_layout(L, vs[k], nhwc)) < 0) return nodes[k];
    int c = new_node(L, nm, "", OP_CONCAT, n->nin + 1);
    if (c < 0) return c;
    for (int k = 0; k < n->nin; k++) set_in(L, c, k, nodes[k], port_of(L, vs[k], nodes[k]));
    set_in(L, c, n->nin, axn, 0);
    int v = def_val(L, n->out[0], c, 0, nd_, shape, nhwc);
    /* Focus: the four 2x2 phases of one NCHW value side by side on channels */
    if (v >= 0 && n->nin == 4 && ax == 1 && nd_ == 4) {
        int src = L->vals[vs[0]].view, seen = 0, ok = src >= 0;
        for (int k = 0; k < 4 && ok; k++) {
            const val_t *q = &L->vals[vs[k]];
            const val_t *s = &L->vals[src];
            ok = q->view == src && q->step[0] == 2 && q->step[1] == 2 && q->off[0] >= 0 &&
                 q->off[0] < 2 && q->off[1] >= 0 && q->off[1] < 2 && s->shape[2] % 2 == 0 &&
                 s->shape[3] % 2 == 0 && q->shape[2] * 2 == s->shape[2] &&
                 q->shape[3] * 2 == s->shape[3] && q->shape[1] == s->shape[1];
            int ph = ok ? (int)(q->off[0] * 2 + q->off[1]) : 0;
            ok = ok && !(seen >> ph & 1);
            seen |= 1 << ph;
            L->vals[v].dy[k] = (int)q->off[0], L->vals[v].dx[k] = (int)q->off[1];
        }
        if (ok) L->vals[v].focus = src;
    }
    return v;
}

/* Slice with starts, ends, axes, steps known at load (inputs since opset 10, attributes before). */
static int op_slice(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    int64_t starts[8], ends[8], axes[8], steps[8];
    int ns = 0, ne = 0, na = 0, nst = 0;
    if (L->opset < 10) {
        const attr_t *s = attr(n, "starts"), *e = attr(n, "ends"), *a = attr(n, "axes");
        if (!s || !e || s->nints > 8 || e->nints > 8) LFAIL(L, VG_EFORMAT, "no starts or ends");
        ns = s->nints, ne = e->nints;
        memcpy(starts, s->ints, (size_t)ns * 8), memcpy(ends, e->ints, (size_t)ne * 8);
        if (a && a->nints <= 8) na = a->nints, memcpy(axes, a->ints, (size_t)na * 8);
    } else {
        int sv = need(L, n, 1), ev = sv < 0 ? sv : need(L, n, 2), av = ev < 0 ? ev : input(L, n, 3),
            tv = av < -1 ? av : input(L, n, 4);
        if (sv < 0 || ev < 0 || av < -1 || tv < -1)
            return sv < 0 ? sv : ev < 0 ? ev : av < -1 ? av : tv;
        if (known_ints(L, sv, starts, 8, &ns) < 0 || known_ints(L, ev, ends, 8, &ne) < 0 ||
            (av >= 0 && known_ints(L, av, axes, 8, &na) < 0) ||
            (tv >= 0 && known_ints(L, tv, steps, 8, &nst) < 0))
            LFAIL(L, VG_ENOSYS, "starts, ends, axes or steps computed at run time");
    }
    const val_t *xv = &L->vals[x];
    int nd_ = xv->ndim;
    if (ns != ne || (na && na != ns) || (nst && nst != ns))
        LFAIL(L, VG_EFORMAT, "starts, ends, axes and steps of different lengths");
    int64_t lo[VG_TENSOR_MAX_DIMS], hi[VG_TENSOR_MAX_DIMS], step[VG_TENSOR_MAX_DIMS];
    int64_t shape[VG_TENSOR_MAX_DIMS];
    for (int d = 0; d < nd_; d++) lo[d] = 0, hi[d] = xv->shape[d], step[d] = 1;
    for (int i = 0; i < ns; i++) {
        int64_t ax = norm_axis(na ? axes[i] : i, nd_), s = nst ? steps[i] : 1;
        if (ax < 0 || ax >= nd_) LFAIL(L, VG_EFORMAT, "axis out of range");
        if (s < 1) LFAIL(L, VG_ENOSYS, "a step of %lld (vigie slices forwards)", (long long)s);
        int64_t dim = xv->shape[ax], b = starts[i], e = ends[i];
        b = b < 0 ? b + dim : b, e = e < 0 ? e + dim : e;
        lo[ax] = b < 0 ? 0 : b > dim ? dim : b;
        hi[ax] = e < 0 ? 0 : e > dim ? dim : e;
        step[ax] = s;
    }
    for (int d = 0; d < nd_; d++) {
        int64_t len = (hi[d] - lo[d] + step[d] - 1) / step[d];
        shape[d] = len > 0 ? len : 0;
    }
    if (is_const(L, x) && nd_ == 1 && const_of(L, x)->dtype == VG_DT_I32) { /* shape arithmetic */
        int64_t v[64], out[64];
        int cnt, k = 0;
        if (known_ints(L, x, v, 64, &cnt) < 0)
            LFAIL(L, VG_ENOSYS, "a shape of more than 64 values");
        for (int64_t i = lo[0]; i < hi[0]; i += step[0]) out[k++] = v[i];
        return fold_ints(L, n, out, k, 0);
    }
    int nhwc = xv->nhwc && nd_ == 4;
    int64_t b[VG_TENSOR_MAX_DIMS], e[VG_TENSOR_MAX_DIMS], s[VG_TENSOR_MAX_DIMS];
    for (int d = 0; d < nd_; d++) {
        int sd = nhwc ? phys[d] : d;
        b[sd] = lo[d], e[sd] = hi[d], s[sd] = step[d];
    }
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int bn = const_ints(L, nm, "#begin", b, nd_), en = const_ints(L, nm, "#end", e, nd_),
        sn = const_ints(L, nm, "#strides", s, nd_);
    if (bn < 0 || en < 0 || sn < 0) return bn < 0 ? bn : en < 0 ? en : sn;
    int c = new_node(L, nm, "", OP_STRIDED_SLICE, 4);
    if (c < 0) return c;
    xv = &L->vals[x];
    set_in(L, c, 0, xv->node, xv->port);
    set_in(L, c, 1, bn, 0), set_in(L, c, 2, en, 0), set_in(L, c, 3, sn, 0);
    int v = def_val(L, n->out[0], c, 0, nd_, shape, nhwc);
    /* a slice of H and W only: a strided view of the sliced value, or of what it views */
    if (v >= 0 && nd_ == 4 && lo[0] == 0 && lo[1] == 0 && step[0] == 1 && step[1] == 1 &&
        shape[0] == L->vals[x].shape[0] && shape[1] == L->vals[x].shape[1]) {
        const val_t *xv2 = &L->vals[x];
        val_t *o = &L->vals[v];
        o->view = xv2->view >= 0 ? xv2->view : x;
        for (int k = 0; k < 2; k++) {
            int64_t off0 = xv2->view >= 0 ? xv2->off[k] : 0,
                    st0 = xv2->view >= 0 ? xv2->step[k] : 1;
            o->off[k] = off0 + lo[2 + k] * st0;
            o->step[k] = st0 * step[2 + k];
        }
    }
    return v;
}

static int op_maxpool(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    if (n->nout > 1 && n->out[1].n) LFAIL(L, VG_ENOSYS, "the Indices output");
    const val_t *xv = &L->vals[x];
    const attr_t *ks = attr(n, "kernel_shape"), *st = attr(n, "strides"), *pa = attr(n, "pads"),
                 *di = attr(n, "dilations"), *ap = attr(n, "auto_pad");
    if (xv->ndim != 4 || !ks || ks->nints != 2) LFAIL(L, VG_ENOSYS, "only 2-D pools of NCHW");
    if (attr_i(n, "ceil_mode", 0)) LFAIL(L, VG_ENOSYS, "ceil_mode");
    if (di && di->nints == 2 && (di->ints[0] != 1 || di->ints[1] != 1))
        LFAIL(L, VG_ENOSYS, "dilated pools");
    if (ap && ap->s.n && !bytes_eq(ap->s, "NOTSET"))
        LFAIL(L, VG_ENOSYS, "auto_pad %.*s", (int)ap->s.n, (const char *)ap->s.p);
    int kh = (int)ks->ints[0], kw = (int)ks->ints[1];
    int sy = st && st->nints == 2 ? (int)st->ints[0] : 1,
        sx = st && st->nints == 2 ? (int)st->ints[1] : 1;
    int pads[4] = {0, 0, 0, 0};
    if (pa && pa->nints == 4)
        pads[0] = (int)pa->ints[0], pads[2] = (int)pa->ints[1], pads[1] = (int)pa->ints[2],
        pads[3] = (int)pa->ints[3];
    if (kh < 1 || kw < 1 || kh > 64 || kw > 64 || sy < 1 || sx < 1 || sy > 64 || sx > 64)
        LFAIL(L, VG_EFORMAT, "bad kernel or strides");
    for (int k = 0; k < 4; k++)
        if (pads[k] < 0 || pads[k] >= (k < 2 ? kh : kw)) LFAIL(L, VG_EFORMAT, "bad padding");
    int64_t oh = (xv->shape[2] + pads[0] + pads[1] - kh) / sy + 1;
    int64_t ow = (xv->shape[3] + pads[2] + pads[3] - kw) / sx + 1;
    if (oh < 1 || ow < 1) LFAIL(L, VG_EFORMAT, "the input is smaller than the window");
    int xin = in_layout(L, x, 1);
    if (xin < 0) return xin;
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int c = new_node(L, nm, "", OP_MAXPOOL, 1);
    if (c < 0) return c;
    node_t *nd = &L->m->nodes[c];
    nd->ksize[1] = kh, nd->ksize[2] = kw, nd->strides[1] = sy, nd->strides[2] = sx;
    nd->explicit_pad = 1;
    memcpy(nd->pads, pads, sizeof(pads));
    set_in(L, c, 0, xin, port_of(L, x, xin));
    xv = &L->vals[x];
    int64_t shape[4] = {xv->shape[0], xv->shape[1], oh, ow};
    return def_val(L, n->out[0], c, 0, 4, shape, 1);
}

/* Resize / Upsample of NCHW on H and W: nearest (asymmetric, floor) or linear. */
static int op_resize(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    if (xv->ndim != 4) LFAIL(L, VG_ENOSYS, "only 4-D resizes");
    const attr_t *mo = attr(n, "mode"), *ct = attr(n, "coordinate_transformation_mode"),
                 *nm_ = attr(n, "nearest_mode");
    int nearest = !mo || !mo->s.n || bytes_eq(mo->s, "nearest");
    int linear = mo && (bytes_eq(mo->s, "linear") || bytes_eq(mo->s, "bilinear"));
    if (!nearest && !linear) LFAIL(L, VG_ENOSYS, "mode %.*s", (int)mo->s.n, (const char *)mo->s.p);
    int asym = !ct || bytes_eq(ct->s, "asymmetric"), half = ct && bytes_eq(ct->s, "half_pixel"),
        align = ct && bytes_eq(ct->s, "align_corners");
    if (nearest && (!asym || (nm_ && nm_->s.n && !bytes_eq(nm_->s, "floor"))))
        LFAIL(L, VG_ENOSYS, "nearest resizing other than asymmetric with floor");
    if (linear && !asym && !half && !align)
        LFAIL(L, VG_ENOSYS, "linear resizing with %.*s", (int)ct->s.n, (const char *)ct->s.p);
    /* the scales or sizes: input 2 or 3 (opset 11+), 1 (Resize 10, Upsample 9), or attribute */
    int64_t oh = 0, ow = 0;
    int sc = -1, sz = -1;
    if (bytes_eq(n->op, "Upsample") || L->opset < 11)
        sc = input(L, n, 1);
    else
        sc = input(L, n, 2), sz = input(L, n, 3);
    if (sc < -1 || sz < -1) return sc < -1 ? sc : sz;
    if (sz >= 0 && is_const(L, sz) && const_of(L, sz)->count == 4) {
        int64_t v[4];
        int cnt;
        if (known_ints(L, sz, v, 4, &cnt) < 0) LFAIL(L, VG_EFORMAT, "bad sizes");
        if (v[0] != xv->shape[0] || v[1] != xv->shape[1]) LFAIL(L, VG_ENOSYS, "resizing N or C");
        oh = v[2], ow = v[3];
    } else if (sc >= 0 && is_const(L, sc) && const_of(L, sc)->count == 4 &&
               const_of(L, sc)->dtype == VG_DT_F32) {
        const float *s = const_of(L, sc)->data;
        if (s[0] != 1 || s[1] != 1) LFAIL(L, VG_ENOSYS, "resizing N or C");
        double fh = floor(xv->shape[2] * (double)s[2]), fw = floor(xv->shape[3] * (double)s[3]);
        if (!(fh >= 1 && fh <= 8192 && fw >= 1 && fw <= 8192)) /* (NaN too) */
            LFAIL(L, VG_EFORMAT, "scales giving an output size out of range");
        oh = (int64_t)fh, ow = (int64_t)fw;
    } else {
        LFAIL(L, VG_ENOSYS, "scales or sizes computed at run time");
    }
    if (oh < 1 || ow < 1 || oh > 8192 || ow > 8192)
        LFAIL(L, VG_EFORMAT, "output size out of range");
    int xin = in_layout(L, x, 1);
    if (xin < 0) return xin;
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int64_t size[2] = {oh, ow};
    int szn = const_ints(L, nm, "#size", size, 2);
    if (szn < 0) return szn;
    int c = new_node(L, nm, "", nearest ? OP_RESIZE_NEAREST : OP_RESIZE, 2);
    if (c < 0) return c;
    L->m->nodes[c].align_corners = align;
    L->m->nodes[c].half_pixel = half;
    set_in(L, c, 0, xin, port_of(L, x, xin));
    set_in(L, c, 1, szn, 0);
    xv = &L->vals[x];
    int64_t shape[4] = {xv->shape[0], xv->shape[1], oh, ow};
    return def_val(L, n->out[0], c, 0, 4, shape, 1);
}

/* Reshape / Flatten: on ONNX's layout, to a shape known at load. */
static int reshape_to(ld_t *L, const onode_t *n, int x, int64_t *shape, int nd_)
{
    const val_t *xv = &L->vals[x];
    int64_t count = 1, known = 1;
    int free_at = -1;
    for (int d = 0; d < xv->ndim; d++) count *= xv->shape[d];
    for (int d = 0; d < nd_; d++) {
        if (shape[d] > MAX_ELEMS || known > MAX_ELEMS) LFAIL(L, VG_EFORMAT, "a target too large");
        if (shape[d] == 0 && !attr_i(n, "allowzero", 0)) {
            if (d >= xv->ndim) LFAIL(L, VG_EFORMAT, "a 0 beyond the input's rank");
            shape[d] = xv->shape[d];
        }
        if (shape[d] == -1 && free_at < 0)
            free_at = d;
        else if (shape[d] < 0)
            LFAIL(L, VG_EFORMAT, "a bad target shape");
        else
            known *= shape[d];
    }
    if (free_at >= 0) {
        if (!known || count % known) LFAIL(L, VG_EFORMAT, "cannot infer the -1 dimension");
        shape[free_at] = count / known, known = count;
    }
    if (known != count)
        LFAIL(L, VG_EFORMAT, "a reshape of %lld values to %lld", (long long)count,
              (long long)known);
    if (is_const(L, x) && nd_ <= 1 && const_of(L, x)->dtype == VG_DT_I32) {
        int64_t v[64];
        int cnt;
        if (known_ints(L, x, v, 64, &cnt) == 0) return fold_ints(L, n, v, cnt, nd_ == 0);
    }
    int xin = in_layout(L, x, 0);
    if (xin < 0) return xin;
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int sn = const_ints(L, nm, "#shape", shape, nd_);
    if (sn < 0) return sn;
    int c = new_node(L, nm, "", OP_RESHAPE, 2);
    if (c < 0) return c;
    set_in(L, c, 0, xin, port_of(L, x, xin));
    set_in(L, c, 1, sn, 0);
    return def_val(L, n->out[0], c, 0, nd_, shape, 0);
}

static int op_reshape(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0), s = x < 0 ? x : need(L, n, 1);
    if (x < 0 || s < 0) return x < 0 ? x : s;
    int64_t shape[8];
    int nd_;
    if (known_ints(L, s, shape, 8, &nd_) < 0 || nd_ > VG_TENSOR_MAX_DIMS)
        LFAIL(L, VG_ENOSYS, "a target shape computed at run time or of more than 6 dimensions");
    return reshape_to(L, n, x, shape, nd_);
}

static int op_flatten(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    int64_t ax = norm_axis(attr_i(n, "axis", 1), xv->ndim), shape[2] = {1, 1};
    if (ax < 0 || ax > xv->ndim) LFAIL(L, VG_EFORMAT, "axis out of range");
    for (int d = 0; d < xv->ndim; d++) shape[d >= ax] *= xv->shape[d];
    return reshape_to(L, n, x, shape, 2);
}

static int op_transpose(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    const attr_t *pa = attr(n, "perm");
    int nd_ = xv->ndim;
    int64_t perm[VG_TENSOR_MAX_DIMS], sp[VG_TENSOR_MAX_DIMS], shape[VG_TENSOR_MAX_DIMS];
    if (pa && pa->nints != nd_) LFAIL(L, VG_EFORMAT, "a permutation of the wrong length");
    unsigned seen = 0;
    for (int d = 0; d < nd_; d++) {
        perm[d] = pa ? pa->ints[d] : nd_ - 1 - d;
        if (perm[d] < 0 || perm[d] >= nd_ || (seen >> perm[d] & 1))
            LFAIL(L, VG_EFORMAT, "not a permutation");
        seen |= 1u << perm[d];
        shape[d] = xv->shape[perm[d]];
    }
    /* from the stored layout: ONNX axis a of an NHWC value is stored axis phys[a] */
    int nhwc = xv->nhwc && nd_ == 4;
    for (int d = 0; d < nd_; d++) sp[d] = nhwc ? phys[perm[d]] : perm[d];
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int pn = const_ints(L, nm, "#perm", sp, nd_);
    if (pn < 0) return pn;
    int c = new_node(L, nm, "", OP_TRANSPOSE, 2);
    if (c < 0) return c;
    xv = &L->vals[x];
    set_in(L, c, 0, xv->node, xv->port);
    set_in(L, c, 1, pn, 0);
    return def_val(L, n->out[0], c, 0, nd_, shape, 0);
}

static int op_split(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    int64_t ax = norm_axis(attr_i(n, "axis", 0), xv->ndim), sizes[MAX_OUT];
    int cnt = 0;
    if (ax < 0 || ax >= xv->ndim) LFAIL(L, VG_EFORMAT, "axis out of range");
    const attr_t *sa = attr(n, "split");
    int sv = input(L, n, 1);
    if (sv < -1) return sv;
    if (sv >= 0) {
        if (known_ints(L, sv, sizes, MAX_OUT, &cnt) < 0)
            LFAIL(L, VG_ENOSYS, "split sizes at run time");
    } else if (sa && sa->nints <= MAX_OUT) {
        cnt = sa->nints;
        memcpy(sizes, sa->ints, (size_t)cnt * 8);
    } else {
        cnt = n->nout;
        if (xv->shape[ax] % cnt) LFAIL(L, VG_EFORMAT, "an axis that does not split evenly");
        for (int k = 0; k < cnt; k++) sizes[k] = xv->shape[ax] / cnt;
    }
    if (cnt != n->nout) LFAIL(L, VG_EFORMAT, "%d sizes for %d outputs", cnt, n->nout);
    int64_t total = 0;
    for (int k = 0; k < cnt; k++) {
        if (sizes[k] < 0) LFAIL(L, VG_EFORMAT, "a negative size");
        total += sizes[k];
    }
    if (total != xv->shape[ax]) LFAIL(L, VG_EFORMAT, "sizes that do not add up");
    int nhwc = xv->nhwc && xv->ndim == 4;
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int64_t sax = nhwc ? phys[ax] : ax;
    int szn = const_ints(L, nm, "#sizes", sizes, cnt), axn = const_ints(L, nm, "#axis", &sax, 1);
    if (szn < 0 || axn < 0) return szn < 0 ? szn : axn;
    int c = new_node(L, nm, "", OP_SPLITV, 3);
    if (c < 0) return c;
    L->m->nodes[c].num_split = cnt;
    xv = &L->vals[x];
    set_in(L, c, 0, xv->node, xv->port);
    set_in(L, c, 1, szn, 0), set_in(L, c, 2, axn, 0);
    for (int k = 0; k < cnt; k++) {
        int64_t shape[VG_TENSOR_MAX_DIMS];
        memcpy(shape, L->vals[x].shape, sizeof(shape));
        shape[ax] = sizes[k];
        int ret = def_val(L, n->out[k], c, k, L->vals[x].ndim, shape, nhwc);
        if (ret < 0) return ret;
    }
    return 0;
}

/* Shape arithmetic on values known at load: Shape, Gather, Unsqueeze, Squeeze, Cast, Identity. */
static int op_shape(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    int64_t s = norm_axis(attr_i(n, "start", 0), xv->ndim), e = attr_i(n, "end", xv->ndim);
    e = norm_axis(e, xv->ndim);
    s = s < 0 ? 0 : s > xv->ndim ? xv->ndim : s;
    e = e < 0 ? 0 : e > xv->ndim ? xv->ndim : e;
    int64_t out[VG_TENSOR_MAX_DIMS];
    int k = 0;
    for (int64_t d = s; d < e; d++) out[k++] = xv->shape[d];
    return fold_ints(L, n, out, k, 0);
}

static int op_gather(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0), i = x < 0 ? x : need(L, n, 1);
    if (x < 0 || i < 0) return x < 0 ? x : i;
    int64_t v[64], idx[64];
    int nv, ni;
    if (attr_i(n, "axis", 0) != 0 || known_ints(L, x, v, 64, &nv) < 0 ||
        known_ints(L, i, idx, 64, &ni) < 0 || L->vals[x].ndim != 1)
        LFAIL(L, VG_ENOSYS, "Gather other than on shapes known at load");
    int64_t out[64];
    for (int k = 0; k < ni; k++) {
        int64_t j = idx[k] < 0 ? idx[k] + nv : idx[k];
        if (j < 0 || j >= nv) LFAIL(L, VG_EFORMAT, "index out of range");
        out[k] = v[j];
    }
    return fold_ints(L, n, out, ni, L->vals[i].ndim == 0);
}

static int op_unsqueeze(ld_t *L, const onode_t *n, int squeeze)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    const val_t *xv = &L->vals[x];
    int64_t axes[8];
    int na = 0;
    const attr_t *aa = attr(n, "axes");
    int av = input(L, n, 1);
    if (av < -1) return av;
    if (av >= 0 && known_ints(L, av, axes, 8, &na) < 0) LFAIL(L, VG_ENOSYS, "axes at run time");
    if (av < 0 && aa && aa->nints <= 8) na = aa->nints, memcpy(axes, aa->ints, (size_t)na * 8);
    int64_t shape[VG_TENSOR_MAX_DIMS];
    int nd_ = 0;
    if (squeeze) {
        for (int d = 0; d < xv->ndim; d++) {
            int drop = !na && xv->shape[d] == 1;
            for (int k = 0; k < na; k++) drop |= norm_axis(axes[k], xv->ndim) == d;
            if (!drop) shape[nd_++] = xv->shape[d];
        }
    } else {
        int out_nd = xv->ndim + na, src = 0;
        if (out_nd > VG_TENSOR_MAX_DIMS) LFAIL(L, VG_ENOSYS, "more than 6 dimensions");
        for (int d = 0; d < out_nd; d++) {
            int ins = 0;
            for (int k = 0; k < na; k++) ins |= norm_axis(axes[k], out_nd) == d;
            shape[nd_++] = ins ? 1 : xv->shape[src++];
        }
    }
    return reshape_to(L, n, x, shape, nd_);
}

static int op_alias(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    val_t xv = L->vals[x];
    int v = def_val(L, n->out[0], xv.node, xv.port, xv.ndim, xv.shape, xv.nhwc);
    if (v >= 0) L->vals[v].alt = xv.alt;
    return v;
}

static int op_constant(ld_t *L, const onode_t *n)
{
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    vg_tensor_t t;
    const attr_t *a = attr(n, "value");
    int ret;
    if (a && a->t.n) {
        bytes_t tn;
        if ((ret = read_tensor(L, a->t, &t, &tn)) < 0) return ret;
    } else if ((a = attr(n, "value_float"))) {
        if ((ret = vg_tensor_alloc(&t, VG_DT_F32, 0, NULL)) < 0) return ret;
        ((float *)t.data)[0] = a->f;
    } else if ((a = attr(n, "value_int"))) {
        int64_t v = a->i;
        int c = const_ints(L, nm, "", &v, 1);
        if (c < 0) return c;
        L->m->nodes[c].out[0].ndim = 0;
        return def_val(L, n->out[0], c, 0, 0, NULL, 0);
    } else if ((a = attr(n, "value_ints"))) {
        return fold_ints(L, n, a->ints, a->nints, 0);
    } else {
        LFAIL(L, VG_ENOSYS, "a Constant other than value, value_float, value_int, value_ints");
    }
    int64_t shape[VG_TENSOR_MAX_DIMS];
    int nd_ = t.ndim;
    memcpy(shape, t.shape, sizeof(shape));
    int c = new_const(L, nm, "", &t);
    if (c < 0) return c;
    return def_val(L, n->out[0], c, 0, nd_, shape, 0);
}

static int op_cast(ld_t *L, const onode_t *n)
{
    int x = need(L, n, 0);
    if (x < 0) return x;
    int64_t to = attr_i(n, "to", 1);
    if (!is_const(L, x)) LFAIL(L, VG_ENOSYS, "Cast at run time");
    const vg_tensor_t *t = const_of(L, x);
    vg_dtype_t dt = to == 1 ? VG_DT_F32 : to == 6 || to == 7 ? VG_DT_I32 : (vg_dtype_t)-1;
    if ((int)dt < 0) LFAIL(L, VG_ENOSYS, "Cast to type %lld", (long long)to);
    vg_tensor_t o;
    int ret = vg_tensor_alloc(&o, dt, t->ndim, t->shape);
    if (ret < 0) return ret;
    for (size_t i = 0; i < t->count; i++) {
        double v =
            t->dtype == VG_DT_F32 ? ((const float *)t->data)[i] : ((const int32_t *)t->data)[i];
        if (v != v) v = 0; /* NaN */
        if (dt == VG_DT_F32)
            ((float *)o.data)[i] = (float)v;
        else
            ((int32_t *)o.data)[i] = v > INT32_MAX   ? INT32_MAX
                                     : v < INT32_MIN ? INT32_MIN
                                                     : (int32_t)v;
    }
    char nm[512];
    out_name(n, 0, nm, sizeof(nm));
    int64_t shape[VG_TENSOR_MAX_DIMS];
    int nd_ = o.ndim;
    memcpy(shape, o.shape, sizeof(shape));
    int c = new_const(L, nm, "", &o);
    if (c < 0) return c;
    return def_val(L, n->out[0], c, 0, nd_, shape, 0);
}

static const char *const supported =
    "Add, Cast, Clip (0..6), Concat, Constant, Conv, Dropout, Flatten, Gather, Identity, "
    "LeakyRelu, MaxPool, Mul, Relu, Reshape, Resize, Shape, Sigmoid, Slice, Split, Squeeze, "
    "Sub, Transpose, Unsqueeze, Upsample";

static int translate(ld_t *L, const onode_t *n)
{
    if (n->domain.n && !bytes_eq(n->domain, "ai.onnx"))
        LFAIL(L, VG_ENOSYS, "op domain '%.*s': vigie runs the standard ONNX ops only",
              (int)n->domain.n, (const char *)n->domain.p);
    bytes_t op = n->op;
    if (bytes_eq(op, "Conv")) return op_conv(L, n);
    if (bytes_eq(op, "Sigmoid")) return op_unary(L, n, OP_SIGMOID, 0);
    if (bytes_eq(op, "Relu")) return op_unary(L, n, OP_RELU, 0);
    if (bytes_eq(op, "LeakyRelu")) {
        const attr_t *a = attr(n, "alpha");
        return op_unary(L, n, OP_LEAKYRELU, a ? a->f : 0.01f);
    }
    if (bytes_eq(op, "Clip")) {
        float lo = -INFINITY, hi = INFINITY;
        const attr_t *a;
        if ((a = attr(n, "min"))) lo = a->f;
        if ((a = attr(n, "max"))) hi = a->f;
        for (int k = 1; k < 3 && k < n->nin; k++) {
            int v = input(L, n, k);
            if (v < -1) return v;
            if (v < 0) continue;
            const vg_tensor_t *t = is_const(L, v) ? const_of(L, v) : NULL;
            if (!t || t->count != 1 || t->dtype != VG_DT_F32)
                LFAIL(L, VG_ENOSYS, "Clip bounds computed at run time");
            *(k == 1 ? &lo : &hi) = ((const float *)t->data)[0];
        }
        if (lo == 0 && hi == 6) return op_unary(L, n, OP_RELU6, 0);
        if (lo == 0 && isinf(hi)) return op_unary(L, n, OP_RELU, 0);
        LFAIL(L, VG_ENOSYS, "Clip to [%g, %g] (vigie runs Clip as Relu or Relu6)", lo, hi);
    }
    if (bytes_eq(op, "Add")) return op_binary(L, n, OP_ADD);
    if (bytes_eq(op, "Mul")) return op_binary(L, n, OP_MUL);
    if (bytes_eq(op, "Sub")) return op_binary(L, n, OP_SUB);
    if (bytes_eq(op, "Concat")) return op_concat(L, n);
    if (bytes_eq(op, "Slice")) return op_slice(L, n);
    if (bytes_eq(op, "MaxPool")) return op_maxpool(L, n);
    if (bytes_eq(op, "Resize") || bytes_eq(op, "Upsample")) return op_resize(L, n);
    if (bytes_eq(op, "Reshape")) return op_reshape(L, n);
    if (bytes_eq(op, "Flatten")) return op_flatten(L, n);
    if (bytes_eq(op, "Transpose")) return op_transpose(L, n);
    if (bytes_eq(op, "Split")) return op_split(L, n);
    if (bytes_eq(op, "Shape")) return op_shape(L, n);
    if (bytes_eq(op, "Gather")) return op_gather(L, n);
    if (bytes_eq(op, "Unsqueeze")) return op_unsqueeze(L, n, 0);
    if (bytes_eq(op, "Squeeze")) return op_unsqueeze(L, n, 1);
    if (bytes_eq(op, "Identity") || bytes_eq(op, "Dropout")) return op_alias(L, n);
    if (bytes_eq(op, "Constant")) return op_constant(L, n);
    if (bytes_eq(op, "Cast")) return op_cast(L, n);
    LFAIL(L, VG_ENOSYS, "op %.*s, which vigie does not implement (it runs %s)", (int)op.n,
          (const char *)op.p, supported);
}

/* ---- the graph ---- */

/* A ValueInfoProto's name and static shape (@ndim -1 when it has none); a dimension without a
 * value is -1. */
static int read_value_info(ld_t *L, bytes_t b, bytes_t *name, int *ndim, int64_t *shape)
{
    pb_t r = pb_of(b), t, tt, sh, dm;
    field_t f, g, h, k, q;
    int got;
    *ndim = -1;
    name->p = NULL, name->n = 0;
    while ((got = pb_next(&r, &f)) > 0) {
        if (f.num == 1 && f.wire == 2) *name = f.b;
        if (f.num != 2 || f.wire != 2) continue;
        t = pb_of(f.b); /* TypeProto */
        while (pb_next(&t, &g) > 0) {
            if (g.num != 1 || g.wire != 2) continue;
            tt = pb_of(g.b); /* Tensor */
            while (pb_next(&tt, &h) > 0) {
                if (h.num == 1 && h.v != 1)
                    LFAIL(L, VG_ENOSYS, "an input or output of data type %d (vigie feeds float)",
                          (int)h.v);
                if (h.num != 2 || h.wire != 2) continue;
                sh = pb_of(h.b); /* TensorShapeProto */
                *ndim = 0;
                while (pb_next(&sh, &k) > 0) {
                    if (k.num != 1 || k.wire != 2) continue;
                    if (*ndim >= VG_TENSOR_MAX_DIMS) LFAIL(L, VG_ENOSYS, "more than 6 dimensions");
                    int64_t v = -1;
                    dm = pb_of(k.b);
                    while (pb_next(&dm, &q) > 0)
                        if (q.num == 1 && q.wire == 0) v = (int64_t)q.v;
                    shape[(*ndim)++] = v;
                }
            }
        }
    }
    if (got < 0) LFAIL(L, VG_EFORMAT, "a ValueInfoProto is not valid");
    return 0;
}

static int load_graph(ld_t *L, bytes_t g, const char *const *outputs)
{
    pb_t r = pb_of(g);
    field_t f;
    int got, ret, nnodes = 0, ninputs = 0;
    bytes_t out_names[MAX_OUT];
    int nouts = 0;
    vg_model_t *m = L->m;
    m->input = -1;
    /* initializers first: they are values before any node reads them */
    while ((got = pb_next(&r, &f)) > 0) {
        if (f.num == 1) nnodes++;
        if (f.num != 5 || f.wire != 2) continue;
        vg_tensor_t t;
        bytes_t name;
        if ((ret = read_tensor(L, f.b, &t, &name)) < 0) return ret;
        if (!name.n) {
            vg_tensor_free(&t);
            LFAIL(L, VG_EFORMAT, "an initializer without a name");
        }
        char nm[512];
        snprintf(nm, sizeof(nm), "%.*s", (int)name.n, (const char *)name.p);
        int64_t shape[VG_TENSOR_MAX_DIMS];
        int nd_ = t.ndim;
        memcpy(shape, t.shape, sizeof(shape));
        int c = new_const(L, nm, "", &t);
        if (c < 0) return c;
        if ((ret = def_val(L, name, c, 0, nd_, shape, 0)) < 0) return ret;
    }
    if (got < 0) LFAIL(L, VG_EFORMAT, "the graph is not a valid GraphProto (truncated?)");
    if (nnodes > MAX_NODES)
        LFAIL(L, VG_ENOSYS, "%d nodes (vigie takes up to %d)", nnodes, MAX_NODES);
    /* the input (one that is not an initializer) and the outputs */
    r = pb_of(g);
    while (pb_next(&r, &f) > 0) {
        if ((f.num != 11 && f.num != 12) || f.wire != 2) continue;
        bytes_t name;
        int nd_;
        int64_t shape[VG_TENSOR_MAX_DIMS];
        if (f.num == 12) {
            if ((ret = read_value_info(L, f.b, &name, &nd_, shape)) < 0) return ret;
            if (nouts >= MAX_OUT) LFAIL(L, VG_ENOSYS, "more than 8 outputs");
            out_names[nouts++] = name;
            continue;
        }
        if ((ret = read_value_info(L, f.b, &name, &nd_, shape)) < 0) return ret;
        if (find_val(L, name) >= 0) continue; /* an initializer listed as an input */
        if (++ninputs > 1) LFAIL(L, VG_ENOSYS, "more than one input (vigie feeds one image)");
        if (nd_ < 1) LFAIL(L, VG_ENOSYS, "the input has no shape");
        if (shape[0] < 0) shape[0] = 1; /* a dynamic batch: one image */
        int64_t count = 1;
        for (int d = 1; d < nd_; d++) {
            if (shape[d] < 1)
                LFAIL(L, VG_ENOSYS,
                      "input dimension %d has no fixed size: vigie plans static "
                      "shapes; export the model with a fixed input size",
                      d);
            if (shape[d] > 65536 || (count *= shape[d]) > MAX_ELEMS)
                LFAIL(L, VG_ENOSYS, "an input of more than 2^28 values");
        }
        if (shape[0] != 1)
            LFAIL(L, VG_ENOSYS, "a batch of %lld (vigie feeds one image)", (long long)shape[0]);
        char nm[512];
        snprintf(nm, sizeof(nm), "%.*s", (int)name.n, (const char *)name.p);
        int p = new_node(L, nm, "", OP_PLACEHOLDER, 0);
        if (p < 0) return p;
        m->input = p;
        m->in_ndim = nd_;
        for (int d = 0; d < nd_; d++) m->in_shape[d] = nd_ == 4 ? shape[to_nhwc[d]] : shape[d];
        if ((ret = def_val(L, name, p, 0, nd_, shape, nd_ == 4)) < 0) return ret;
    }
    if (m->input < 0) LFAIL(L, VG_EFORMAT, "the graph has no input");
    /* the nodes, in the file's order (ONNX's is topological) */
    r = pb_of(g);
    while (pb_next(&r, &f) > 0) {
        if (f.num != 1 || f.wire != 2) continue;
        onode_t n;
        L->cur = NULL;
        if ((ret = read_node(L, f.b, &n)) < 0) return ret;
        L->cur = &n;
        if ((ret = translate(L, &n)) < 0) return ret;
        for (int k = 0; k < n.nout; k++)
            if (n.out[k].n && find_val(L, n.out[k]) < 0)
                LFAIL(L, VG_ENOSYS, "output %d is not made by vigie's version of the op", k);
        L->cur = NULL;
    }
    /* the outputs: in ONNX's layout, named as in the file */
    const char *const *want = outputs;
    int nwant = 0;
    char buf[MAX_OUT][512];
    if (!want) {
        for (int k = 0; k < nouts; k++)
            snprintf(buf[k], sizeof(buf[k]), "%.*s", (int)out_names[k].n,
                     (const char *)out_names[k].p);
        nwant = nouts;
    } else {
        while (want[nwant] && nwant < MAX_OUT) {
            snprintf(buf[nwant], sizeof(buf[nwant]), "%s", want[nwant]);
            nwant++;
        }
    }
    if (!nwant) LFAIL(L, VG_EFORMAT, "the graph has no output");
    int outs[MAX_OUT];
    for (int k = 0; k < nwant; k++) {
        bytes_t name = {(const uint8_t *)buf[k], strlen(buf[k])};
        int v = find_val(L, name);
        if (v < 0) LFAIL(L, VG_EFORMAT, "the graph has no output %s", buf[k]);
        int node = in_layout(L, v, 0);
        if (node < 0) return node;
        node_t *nd = &m->nodes[node];
        if (node != L->vals[v].node) { /* the transposed copy takes the name */
            node_t *orig = &m->nodes[L->vals[v].node];
            char *tmp = orig->name;
            orig->name = nd->name;
            nd->name = tmp;
        }
        nd->is_output = 1;
        outs[k] = node;
    }
    /* keep what the outputs need */
    int *stack = vg_malloc((size_t)m->n * sizeof(int)), top = 0;
    if (!stack) return VG_ENOMEM;
    for (int k = 0; k < m->n; k++) m->nodes[k].skip = 1;
    for (int k = 0; k < nwant; k++)
        if (m->nodes[outs[k]].skip) m->nodes[outs[k]].skip = 0, stack[top++] = outs[k];
    while (top) {
        node_t *nd = &m->nodes[stack[--top]];
        for (int k = 0; k < nd->nin; k++)
            if (m->nodes[nd->in_node[k]].skip)
                m->nodes[nd->in_node[k]].skip = 0, stack[top++] = nd->in_node[k];
    }
    vg_free(stack);
    if (m->nodes[m->input].skip) LFAIL(L, VG_EFORMAT, "the outputs do not depend on the input");
    /* unused constants go now (a rearranged filter replaced its original) */
    for (int k = 0; k < m->n; k++) {
        node_t *nd = &m->nodes[k];
        memset(nd->consumers, 0, sizeof(nd->consumers));
        if (nd->skip) vg_tensor_free(&nd->out[0]);
    }
    for (int k = 0; k < m->n; k++) {
        node_t *nd = &m->nodes[k];
        if (nd->skip) continue;
        for (int q = 0; q < nd->nin; q++) m->nodes[nd->in_node[q]].consumers[nd->in_port[q]]++;
    }
    /* nodes were made after what they read: their order is a dependency order */
    m->order = vg_malloc((size_t)m->n * sizeof(int));
    if (!m->order) return VG_ENOMEM;
    m->norder = 0;
    for (int k = 0; k < m->n; k++)
        if (!m->nodes[k].skip) m->order[m->norder++] = k;
    return 0;
}

int vg_model_load_onnx_memory(vg_model_t **out, const void *data, size_t len,
                              const char *const *outputs, const char *name, char *err,
                              size_t errlen)
{
    ld_t L = {0};
    char inner[400] = "";
    L.file = name;
    L.err = inner;
    L.errlen = sizeof(inner);
    L.m = vg_calloc(1, sizeof(vg_model_t));
    if (!L.m) return VG_ENOMEM;
    bytes_t all = {data, len}, graph = {NULL, 0};
    pb_t r = pb_of(all);
    field_t f;
    int got, ret = 0, has_graph = 0;
    int64_t ir = 0;
    L.opset = -1;
    while ((got = pb_next(&r, &f)) > 0) {
        if (f.num == 1 && f.wire == 0) ir = (int64_t)f.v;
        if (f.num == 7 && f.wire == 2) graph = f.b, has_graph = 1;
        if (f.num == 8 && f.wire == 2) { /* OperatorSetIdProto */
            pb_t o = pb_of(f.b);
            field_t g;
            bytes_t domain = {NULL, 0};
            int64_t version = 0;
            while (pb_next(&o, &g) > 0) {
                if (g.num == 1 && g.wire == 2) domain = g.b;
                if (g.num == 2 && g.wire == 0) version = (int64_t)g.v;
            }
            if (!domain.n || bytes_eq(domain, "ai.onnx"))
                L.opset = (int)(version > 1000 ? 1000 : version);
        }
    }
    if (got < 0 || !has_graph) {
        fail_msg(&L, got < 0 ? "not an ONNX model (the bytes are no valid protobuf: truncated or "
                               "damaged?)"
                             : "not an ONNX model (no graph)");
        ret = VG_EFORMAT;
    } else if (ir < 3) {
        fail_msg(&L, "IR version %lld is too old (vigie reads 3 and later)", (long long)ir);
        ret = VG_ENOSYS;
    } else if (L.opset < 7 || L.opset > MAX_OPSET) {
        fail_msg(&L, "opset %d: vigie reads opsets 7 to %d; export the model with one of them",
                 L.opset, MAX_OPSET);
        ret = VG_ENOSYS;
    } else {
        ret = load_graph(&L, graph, outputs);
    }
    for (int i = 0; i < L.nval; i++) vg_free(L.vals[i].name);
    vg_free(L.vals);
    vg_free(L.hash);
    if (ret < 0) {
        if (ret == VG_ENOMEM)
            vg__nn_fmt(err, errlen, "%s: out of memory", name);
        else
            vg__nn_fmt(err, errlen, "%s", inner);
        vg_model_free(&L.m);
        return ret;
    }
    L.m->onnx = 1;
    vg__nn_rewrite(L.m);
    *out = L.m;
    return 0;
}

int vg_model_load_onnx(vg_model_t **out, const char *path, const char *const *outputs, char *err,
                       size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int ret = vg_file_read(path, MODEL_LIMIT, &data, &len);
    if (ret < 0) {
        vg__nn_fmt(err, errlen, "%s: %s", path,
                   ret == VG_ENOENT   ? "no such file"
                   : ret == VG_ERANGE ? "larger than a model may be (512 MiB)"
                                      : "cannot read it");
        return ret == VG_ERANGE ? VG_EFORMAT : ret;
    }
    ret = vg_model_load_onnx_memory(out, data, len, outputs, path, err, errlen);
    vg_free(data);
    return ret;
}
