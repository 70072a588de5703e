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

#include "fuzz_run.h"

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
    fuzz_run_and_free(&m, size);
    return 0;
}
