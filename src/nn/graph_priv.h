/*
 * Inside the inference core's graph runtime: the model (nodes in dependency order, tensors, the
 * memory plan), the op table, and what the loader (tfjs.c), the load-time rewrites (rewrite.c),
 * the model registry (model_registry.c), the memory planner (plan.c), the ops (graph_ops.c) and
 * the interpreter (graph.c) share. A second loader (ONNX, say) builds the same vg_model_t from
 * its own file and calls vg__nn_rewrite(); nothing else changes.
 */
#ifndef VG_NN_GRAPH_PRIV_H
#define VG_NN_GRAPH_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <vigie/log.h>
#include <vigie/nn.h>

#define COMP    "nn"
#define MAX_OUT 8

/* The ops the interpreter runs, indexed into vg__nn_ops (graph_ops.c). */
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
    OP_RESIZE_NEAREST,
    OP_NB
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
    int act; /* fused activation: 0 none, 1 Relu, 2 Relu6, 3 LeakyRelu (alpha), 4 SiLU, 5 Sigmoid */
    float hs_add, hs_scale; /* HardSwish constants */
    int pads[4]; /* explicit padding (a convolution's taken over from a Pad, an ONNX convolution's
                  * or pool's): top, bottom, left, right */
    int packed;  /* its filter was packed for the pointwise kernel at load */
    struct vg_q8conv *q8; /* its filter in 8 bits (vg_model_set_precision), or NULL */
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
    int onnx;     /* loaded from ONNX (onnx.c): its activations may be fused into convolutions */
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

/* What the op table says of each op. */
enum { VG_OP_UNARY = 1 << 0, VG_OP_CONV = 1 << 1 };
typedef struct vg_op_def {
    const char *name; /* as TF.js (or vigie, for its own fused ops) names it */
    int nin;          /* inputs it takes (-1: any number) */
    unsigned flags;   /* VG_OP_UNARY (elementwise on one float input), VG_OP_CONV (profiling) */
    int act;          /* unary ops: the activation (vg_act_t kind) */
    /* Run node @nd on its inputs @in (nd->nin of them); 0 or VG_EFORMAT (logged), VG_ENOMEM. */
    int (*run)(vg_model_t *m, node_t *nd, const vg_tensor_t **in);
} vg_op_def_t;
extern const vg_op_def_t vg__nn_ops[OP_NB];

/* A malformed graph at run time: log which node and why, and fail with VG_EFORMAT. */
#define FAIL(nd, f, ...)                                                                           \
    do {                                                                                           \
        vg_log(COMP, VG_LOG_ERROR, "node %s: " f, (nd)->name, ##__VA_ARGS__);                      \
        return VG_EFORMAT;                                                                         \
    } while (0)

/* graph_priv helpers, by file */
/* tfjs.c */
void vg__nn_fmt(char *err, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
int vg__nn_find_node(const vg_model_t *m, const char *name, size_t len);
/* rewrite.c: fuse and prune a freshly loaded graph (before its first run). */
void vg__nn_rewrite(vg_model_t *m);
/* plan.c: the memory plan (see "Memory" in graph.c) */
int vg__nn_plan_alloc(vg_model_t *m, const node_t *nd, vg_tensor_t *t, int *id, vg_dtype_t dt,
                      int ndim, const int64_t *shape);
void vg__nn_plan_free(vg_model_t *m, vg_tensor_t *t, int id);
int vg__nn_alloc_out(node_t *nd, int k, vg_dtype_t dt, int ndim, const int64_t *shape);
int vg__nn_plan_place(vg_model_t *m);
/* graph_ops.c */
int vg__nn_ints(const vg_tensor_t *t, int64_t *out, size_t max, size_t *n);
int vg__nn_unary_out(vg_model_t *m, node_t *nd, const vg_tensor_t *x);

#endif
