/*
 * libFuzzer target for the TF.js graph loader and interpreter (graph files are input like any
 * other). Input: a 4-byte little-endian JSON length, the model.json text, then the weights.
 * A graph that loads is also run on a small input (when its declared input is small), so the
 * interpreter's shape checks are fuzzed too. Nothing may crash, leak or hang; errors are fine.
 *
 * Build and run with scripts/fuzz (clang, -fsanitize=fuzzer,address,undefined); tests/fuzz/
 * replay.c feeds the kept corpus to the same function in every normal test run.
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
    if (size < 4) return 0;
    uint32_t jlen = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                    (uint32_t)data[3] << 24;
    if (jlen > size - 4) return 0;
    const char *json = (const char *)data + 4;
    const uint8_t *bin = data + 4 + jlen;
    size_t blen = size - 4 - jlen;
    char err[512];
    vg_model_t *m = NULL;
    if (vg_model_load_memory(&m, json, jlen, bin, blen, NULL, "fuzz", err, sizeof(err)) < 0)
        return 0;
    fuzz_run_and_free(&m, size);
    return 0;
}
