/* What both model fuzz targets do with a model that loaded (fuzz_model.c, fuzz_onnx.c): run it on
 * a small input when its declared input is small, so that the interpreter's shape checks are
 * fuzzed too — odd input sizes keep every tensor, even ones run twice (recording the memory plan,
 * then running in it, with the stored-layout shortcut) — then free it. */
#ifndef VG_FUZZ_RUN_H
#define VG_FUZZ_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <vigie/vigie.h>

static inline void fuzz_run_and_free(vg_model_t **pm, size_t size)
{
    vg_model_t *m = *pm;
    int nd;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    size_t count = 1;
    if (vg_model_input_shape(m, &nd, shape) == 0 && nd >= 1 && nd <= 4) {
        for (int d = 0; d < nd; d++) {
            if (shape[d] < 1 || shape[d] > 64) count = 0;
            count *= shape[d] > 0 ? (size_t)shape[d] : 0;
        }
        if (count && count <= 4096) {
            vg_tensor_t t;
            if (vg_tensor_alloc(&t, VG_DT_F32, nd, shape) == 0) {
                for (size_t i = 0; i < count; i++) ((float *)t.data)[i] = (float)(i % 7) - 3;
                if (vg_model_run(m, &t, (int)(size & 1)) == 0 && !(size & 1))
                    vg_model_run(m, &t, 0);
                vg_tensor_free(&t);
            }
        }
    }
    vg_model_free(pm);
}

#endif
