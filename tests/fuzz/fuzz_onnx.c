/*
 * libFuzzer target for the ONNX loader (src/nn/onnx.c: the protobuf reader, the translation onto
 * the NHWC ops, the folding of shape arithmetic) and the interpreter: the input is an ONNX file.
 * A model that loads is also run on a small input (when its declared input is small), so the
 * translated graph's shape checks are fuzzed too. Nothing may crash, leak or hang; errors are
 * fine.
 *
 * Build and run with scripts/fuzz 120 fuzz_onnx (clang, -fsanitize=fuzzer,address,undefined);
 * tests/fuzz/replay.c feeds the kept corpus (tests/fuzz/corpus/onnx, seeded with the small
 * models tests/unit/test_onnx.c writes) to the same function in every normal test run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        vg_log_set_level(VG_LOG_QUIET);
        quiet = 1;
    }
    char err[512];
    vg_model_t *m = NULL;
    if (vg_model_load_onnx_memory(&m, data, size, NULL, "fuzz.onnx", err, sizeof(err)) < 0)
        return 0;
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
                /* odd sizes keep every tensor; even ones run twice: recording the memory
                 * plan, then running in it */
                if (vg_model_run(m, &t, (int)(size & 1)) == 0 && !(size & 1))
                    vg_model_run(m, &t, 0);
                vg_tensor_free(&t);
            }
        }
    }
    vg_model_free(&m);
    return 0;
}
