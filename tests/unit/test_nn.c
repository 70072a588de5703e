/* Inference core: the model table refuses unregistered, damaged and malformed models with clear
 * errors; the optimised convolution equals the reference loops; NanoDet-g's six heads match the
 * TensorFlow.js reference tensors in ../shared/ref/nn within 1e-4 + 1e-3*|ref|. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "../../src/nn/ops.h"
#include "synth.h"
#include "testutil.h"

static const char *models_dir(void)
{
    const char *d = getenv("VG_MODELS");
    static char path[4096];
    snprintf(path, sizeof(path), "%s/nanodet.bin", d ? d : "models");
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    return d ? d : "models";
}

static void test_refusal_by_construction(void **state)
{
    vg_model_t *m = NULL;
    char err[1024];
    (void)state;
    const char *refused[] = {"blazeface", "faceres", "emotion", "iris", "antispoof", "../nanodet"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        assert_int_equal(vg_model_load(&m, "models", refused[i], err, sizeof(err)), VG_EACCES);
        assert_non_null(strstr(err, "not in vigie's model table"));
        assert_null(m);
    }
    int n;
    const vg_model_info_t *r = vg_model_registry(&n);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) { /* an ONNX model is one file (yolox-nano) */
        assert_int_equal(strlen(r[i].json_sha256), 64);
        if (strcmp(r[i].name, "yolox-nano"))
            assert_int_equal(strlen(r[i].bin_sha256), 64);
        else
            assert_null(r[i].bin_sha256);
    }
}

static void test_bad_model_files(void **state)
{
    const char *md = models_dir();
    char dir[512], jp[700], bp[700], src[700], err[1024];
    vg_model_t *m = NULL;
    size_t jl, bl;
    (void)state;
    if (!md) {
        fprintf(stderr, "models/ absent (scripts/setup fetches them): skipping\n");
        skip();
    }
    assert_int_equal(synth_tmpdir(dir, sizeof(dir)), 0);
    snprintf(src, sizeof(src), "%s/nanodet.json", md);
    char *js = tu_read_file(src, &jl);
    snprintf(src, sizeof(src), "%s/nanodet.bin", md);
    char *bin = tu_read_file(src, &bl);
    assert_non_null(js);
    assert_non_null(bin);
    snprintf(jp, sizeof(jp), "%s/nanodet.json", dir);
    snprintf(bp, sizeof(bp), "%s/nanodet.bin", dir);
    /* missing */
    assert_int_equal(vg_model_load(&m, dir, "nanodet", err, sizeof(err)), VG_ENOENT);
    assert_non_null(strstr(err, "scripts/setup"));
    /* one byte changed: the checksum refuses it */
    tu_write_file(jp, js, jl);
    bin[1000] ^= 1;
    tu_write_file(bp, bin, bl);
    assert_int_equal(vg_model_load(&m, dir, "nanodet", err, sizeof(err)), VG_ECORRUPT);
    assert_non_null(strstr(err, "SHA-256"));
    bin[1000] ^= 1;
    /* truncated weights (parser path, without the table) */
    tu_write_file(bp, bin, bl / 2);
    assert_int_equal(vg_model_load_unchecked(&m, jp, bp, NULL, err, sizeof(err)), VG_ECORRUPT);
    assert_non_null(strstr(err, "shorter than its manifest"));
    tu_write_file(bp, bin, bl);
    /* malformed JSON */
    tu_write_file(jp, js, jl / 3);
    assert_int_equal(vg_model_load_unchecked(&m, jp, bp, NULL, err, sizeof(err)), VG_EFORMAT);
    assert_non_null(strstr(err, "not valid JSON"));
    /* an op vigie does not implement */
    char *op = strstr(js, "\"op\":\"LeakyRelu\"");
    if (!op) op = strstr(js, "\"op\": \"LeakyRelu\"");
    assert_non_null(op);
    memcpy(strstr(op, "LeakyRelu"), "LeakyRelX", 9);
    tu_write_file(jp, js, jl);
    assert_int_equal(vg_model_load_unchecked(&m, jp, bp, NULL, err, sizeof(err)), VG_ENOSYS);
    assert_non_null(strstr(err, "LeakyRelX"));
    assert_null(m);
    free(js);
    free(bin);
    synth_rmdir(dir);
}

/* Geometry for a test convolution: n images of h x w x c, square k x k filter, @o outputs. */
static vg_conv_geom_t test_geom(int n, int h, int w, int c, int k, int o, int stride, int pad)
{
    vg_conv_geom_t g = {.n = n,
                        .h = h,
                        .w = w,
                        .c = c,
                        .kh = k,
                        .kw = k,
                        .o = o,
                        .sy = stride,
                        .sx = stride,
                        .dy = 1,
                        .dx = 1,
                        .pt = pad,
                        .pl = pad};
    g.oh = (g.h + 2 * g.pt - g.kh) / g.sy + 1;
    g.ow = (g.w + 2 * g.pl - g.kw) / g.sx + 1;
    return g;
}

/* Values in [-1, 1) from a linear congruential sequence. */
static void fill_random(float *v, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245 + 12345;
        v[i] = (int)(*seed >> 16) % 200 / 100.0f - 1;
    }
}

static void test_conv_gemm_equals_reference(void **state)
{
    (void)state;
    unsigned seed = 3;
    const int cfg[][7] = {
        /* h, w, c, k, o, stride, pad */
        {7, 9, 3, 3, 5, 1, 1},
        {8, 8, 4, 3, 6, 2, 1},
        {5, 6, 8, 1, 7, 1, 0},
        {9, 7, 2, 5, 3, 2, 2},
        {1, 1, 3, 1, 2, 1, 0},
        {6, 6, 3, 3, 4, 2, 0},
        /* windows read in place (vg__gemm_conv) between im2col'd borders: YOLOX's 6x6 stride-2
         * stem, and wider outputs for the 32-wide blocks */
        {20, 26, 3, 6, 16, 2, 2},
        {11, 40, 5, 3, 40, 1, 1},
        {9, 30, 4, 5, 19, 1, 0},
    };
    for (size_t t = 0; t < sizeof(cfg) / sizeof(cfg[0]); t++) {
        vg_conv_geom_t g = test_geom(2, cfg[t][0], cfg[t][1], cfg[t][2], cfg[t][3], cfg[t][4],
                                     cfg[t][5], cfg[t][6]);
        size_t ni = (size_t)g.n * g.h * g.w * g.c, nf = (size_t)g.kh * g.kw * g.c * g.o;
        size_t no = (size_t)g.n * g.oh * g.ow * g.o;
        float *in = malloc(ni * 4), *f = malloc(nf * 4), *a = malloc(no * 4), *b = malloc(no * 4);
        float *scratch = malloc((vg__conv2d_scratch(&g) + 1) * 4);
        fill_random(in, ni, &seed);
        fill_random(f, nf, &seed);
        vg__conv2d_ref(&g, in, f, a);
        /* OpenBLAS or the plain kernel, then each register-blocked kernel with a packed filter */
        int k = g.kh * g.kw * g.c;
        float *p = malloc(vg__gemm_packed_size(k, g.o) * 4);
        vg__gemm_pack(k, g.o, f, p);
        for (int lvl = 4; lvl >= 2; lvl--) {
            if (lvl < 4 && vg__gemm_set_level(lvl) != lvl) continue;
            g.packed = lvl < 4;
            vg__conv2d_gemm(&g, in, g.packed ? p : f, NULL, NULL, b, scratch);
            for (size_t i = 0; i < no; i++)
                if (fabsf(a[i] - b[i]) > 1e-4f + 1e-5f * fabsf(a[i]))
                    fail_msg("config %zu, kernel %d, element %zu: %g vs %g", t, lvl, i, b[i], a[i]);
        }
        vg__gemm_set_level(3);
        free(in), free(f), free(a), free(b), free(scratch), free(p);
    }
}

/* 8-bit convolutions (qgemm.c) against the float reference: within the rounding of the inputs
 * and the weights; pointwise in place (channels a multiple of 4) and through the im2col of bytes,
 * widths around the 16-channel blocks, bias and activation applied. */
static void test_conv_q8_close_to_reference(void **state)
{
    (void)state;
    if (!vg__q8_available()) {
        fprintf(stderr, "no AVX-512 VNNI here: the 8-bit kernel is not checked\n");
        skip();
    }
    unsigned seed = 5;
    const int cfg[][7] = {
        {7, 9, 3, 3, 5, 1, 1},      {8, 8, 4, 3, 6, 2, 1},     {5, 6, 8, 1, 7, 1, 0},
        {9, 7, 2, 5, 3, 2, 2},      {6, 6, 16, 1, 70, 1, 0},   {11, 13, 12, 3, 33, 1, 1},
        {13, 17, 64, 1, 129, 1, 0}, {10, 10, 20, 3, 64, 2, 1},
    };
    for (size_t t = 0; t < sizeof(cfg) / sizeof(cfg[0]); t++) {
        vg_conv_geom_t g = test_geom(2, cfg[t][0], cfg[t][1], cfg[t][2], cfg[t][3], cfg[t][4],
                                     cfg[t][5], cfg[t][6]);
        size_t ni = (size_t)g.n * g.h * g.w * g.c, nf = (size_t)g.kh * g.kw * g.c * g.o;
        size_t no = (size_t)g.n * g.oh * g.ow * g.o;
        float *in = malloc(ni * 4), *f = malloc(nf * 4), *a = malloc(no * 4), *b = malloc(no * 4);
        float *bias = malloc((size_t)g.o * 4);
        fill_random(in, ni, &seed);
        fill_random(f, nf, &seed);
        fill_random(bias, (size_t)g.o, &seed);
        vg__conv2d_ref(&g, in, f, a);
        const vg_act_t relu = {VG_ACT_RELU, 0, 0, 0};
        vg__bias_act(a, no, bias, (size_t)g.o, &relu);
        int k = g.kh * g.kw * g.c;
        vg_q8conv_t *q = vg__q8_pack(k, g.o, f);
        assert_non_null(q);
        assert_int_equal(vg__conv2d_q8(&g, in, q, bias, &relu, b), 0);
        /* bound: each of the k products off by |w| s/2 + |x| s_o/2 (inputs and filters in
         * [-1, 1): s <= 2/255, s_o <= 1/127) */
        float bound = (float)k * (1.0f / 255 + 0.5f / 127 + 0.01f / 255) + 1e-4f;
        float worst = 0;
        for (size_t i = 0; i < no; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
        if (worst > bound) fail_msg("config %zu: off by %g (bound %g)", t, worst, bound);
        /* and not trivially: the typical error is well under the bound */
        double mean = 0;
        for (size_t i = 0; i < no; i++) mean += fabsf(a[i] - b[i]);
        assert_true(mean / no < bound / 8);
        vg__q8_free(&q);
        assert_null(q);
        free(in), free(f), free(a), free(b), free(bias);
    }
    assert_null(vg__q8_pack(0, 3, NULL));
}

/* The register-blocked pointwise kernel, plain and packed, against the triple loop: row counts
 * around its 6-row blocks, column counts around its 16/8-wide panels, each fused activation. */
static void test_gemm_pointwise_equals_reference(void **state)
{
    (void)state;
    if (!vg__gemm_available()) {
        fprintf(stderr, "no AVX2+FMA here: the kernel is not used, nothing to check\n");
        skip();
    }
    unsigned seed = 7;
    const int ms[] = {1, 5, 6, 7, 12, 13, 25, 40}, ns[] = {1, 3, 8, 16, 17, 24, 32, 34, 48, 80},
              ks[] = {1, 3, 27, 96};
    /* each kernel the processor can run: AVX-512, then AVX2 */
    for (int lvl = vg__gemm_set_level(3); lvl >= 2; lvl = lvl == 3 ? vg__gemm_set_level(2) : 0)
        for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++)
            for (size_t b = 0; b < sizeof(ns) / sizeof(ns[0]); b++)
                for (size_t c = 0; c < sizeof(ks) / sizeof(ks[0]); c++) {
                    int m = ms[a], n = ns[b], k = ks[c], lda = k + 2;
                    float *A = malloc((size_t)m * lda * 4), *B = malloc((size_t)k * n * 4);
                    float *P = malloc(vg__gemm_packed_size(k, n) * 4),
                          *bias = malloc((size_t)n * 4);
                    float *want = malloc((size_t)m * n * 4), *got = malloc((size_t)m * n * 4);
                    fill_random(A, (size_t)m * lda, &seed);
                    fill_random(B, (size_t)k * n, &seed);
                    fill_random(bias, (size_t)n, &seed);
                    vg__gemm_pack(k, n, B, P);
                    for (int kind = VG_ACT_NONE; kind <= VG_ACT_SILU; kind++)
                        for (int packed = 0; packed < 2; packed++) {
                            if (kind == VG_ACT_HSWISH) continue;
                            vg_act_t act = {kind, 0.1f, 0, 0};
                            const float *bb = (kind & 1) ? bias : NULL;
                            vg__gemm_ref(m, n, k, A, lda, B, bb, &act, want);
                            assert_int_equal(vg__gemm_pointwise(m, n, k, A, lda, packed ? P : B,
                                                                packed, bb, &act, got),
                                             0);
                            for (int i = 0; i < m * n; i++)
                                if (fabsf(want[i] - got[i]) > 1e-4f + 1e-5f * fabsf(want[i]))
                                    fail_msg(
                                        "level %d m %d n %d k %d act %d packed %d [%d]: %g vs %g",
                                        lvl, m, n, k, kind, packed, i, got[i], want[i]);
                        }
                    free(A), free(B), free(P), free(bias), free(want), free(got);
                }
    vg__gemm_set_level(3);
    /* an activation it does not fuse is refused, for the caller to fall back */
    vg_act_t sig = {VG_ACT_HSWISH, 0, 0, 0};
    float one = 1, out;
    assert_int_equal(vg__gemm_pointwise(1, 1, 1, &one, 1, &one, 0, NULL, &sig, &out), VG_ENOSYS);
}

static void test_depthwise_equals_reference(void **state)
{
    (void)state;
    unsigned seed = 11;
    const int cfg[][6] = {/* h, w, c, k, stride, pad */
                          {9, 7, 16, 3, 1, 1},
                          {10, 10, 24, 3, 2, 1},
                          {6, 5, 8, 5, 1, 2},
                          {7, 9, 3, 5, 2, 2},
                          {1, 1, 40, 3, 1, 1}};
    for (size_t t = 0; t < sizeof(cfg) / sizeof(cfg[0]); t++) {
        vg_conv_geom_t g = test_geom(1, cfg[t][0], cfg[t][1], cfg[t][2], cfg[t][3], cfg[t][2],
                                     cfg[t][4], cfg[t][5]);
        size_t ni = (size_t)g.h * g.w * g.c, nf = (size_t)g.kh * g.kw * g.c,
               no = (size_t)g.oh * g.ow * g.c;
        float *in = malloc(ni * 4), *f = malloc(nf * 4), *a = malloc(no * 4), *b = malloc(no * 4);
        float bias[64];
        fill_random(in, ni, &seed);
        fill_random(f, nf, &seed);
        fill_random(bias, (size_t)g.c, &seed);
        /* no bias, then each fused bias + activation against the reference's separate passes */
        for (int kind = -1; kind <= VG_ACT_HSWISH; kind++) {
            vg_act_t act = {kind < 0 ? VG_ACT_NONE : kind, 0.1f, 3.0f, 1.0f / 6};
            vg__depthwise_ref(&g, 1, in, f, a);
            if (kind >= 0)
                for (size_t i = 0; i < no; i++) {
                    float v = a[i] + bias[i % (size_t)g.c];
                    a[i] = kind == VG_ACT_NONE      ? v
                           : kind == VG_ACT_RELU    ? (v > 0 ? v : 0)
                           : kind == VG_ACT_RELU6   ? (v > 0 ? (v < 6 ? v : 6) : 0)
                           : kind == VG_ACT_LEAKY   ? (v >= 0 ? v : 0.1f * v)
                           : kind == VG_ACT_SIGMOID ? 1 / (1 + expf(-v))
                                                    : v / 6 * fminf(fmaxf(v + 3, 0), 6);
                }
            vg__depthwise(&g, 1, in, f, kind >= 0 ? bias : NULL, kind >= 0 ? &act : NULL, b);
            for (size_t i = 0; i < no; i++)
                if (fabsf(a[i] - b[i]) > 1e-5f)
                    fail_msg("config %zu, activation %d, element %zu: %g vs %g", t, kind, i, a[i],
                             b[i]);
        }
        free(in), free(f), free(a), free(b);
    }
}

/*
 * The memory plan and the stored-layout shortcut against plain runs, on a graph made of what
 * they touch: NHWC <-> NCHW transposes around an activation, a pad, a concat, a split and an
 * add, with an NCHW tensor read by the caller. Runs with a plan, a changed input shape (the plan
 * is dropped and made again) and keep_all (neither) must give the same numbers.
 */
static void test_plan_and_layout(void **state)
{
    (void)state;
    static const char json[] =
        "{\"modelTopology\":{\"node\":["
        "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
        "{\"size\":\"1\"},{\"size\":\"-1\"},{\"size\":\"-1\"},{\"size\":\"3\"}]}}}},"
        "{\"name\":\"to_nchw\",\"op\":\"Const\"},{\"name\":\"to_nhwc\",\"op\":\"Const\"},"
        "{\"name\":\"pads\",\"op\":\"Const\"},{\"name\":\"axis\",\"op\":\"Const\"},"
        "{\"name\":\"sizes\",\"op\":\"Const\"},{\"name\":\"half\",\"op\":\"Const\"},"
        "{\"name\":\"t1\",\"op\":\"Transpose\",\"input\":[\"x\",\"to_nchw\"]},"
        "{\"name\":\"act\",\"op\":\"LeakyRelu\",\"input\":[\"t1\"],\"attr\":{\"alpha\":{\"f\":0.25}"
        "}},"
        "{\"name\":\"pad\",\"op\":\"Pad\",\"input\":[\"act\",\"pads\"]},"
        "{\"name\":\"cat\",\"op\":\"ConcatV2\",\"input\":[\"pad\",\"pad\",\"axis\"]},"
        "{\"name\":\"split\",\"op\":\"SplitV\",\"input\":[\"cat\",\"sizes\",\"axis\"],"
        "\"attr\":{\"num_split\":{\"i\":\"2\"}}},"
        "{\"name\":\"sig\",\"op\":\"Sigmoid\",\"input\":[\"split:1\"]},"
        "{\"name\":\"scaled\",\"op\":\"Mul\",\"input\":[\"sig\",\"half\"]},"
        "{\"name\":\"sum\",\"op\":\"Add\",\"input\":[\"split\",\"scaled\"]},"
        "{\"name\":\"t2\",\"op\":\"Transpose\",\"input\":[\"sum\",\"to_nhwc\"]},"
        "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"t2\"]},"
        "{\"name\":\"Identity_1\",\"op\":\"Relu\",\"input\":[\"act\"]}]},"
        "\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
        "{\"name\":\"to_nchw\",\"shape\":[4],\"dtype\":\"int32\"},"
        "{\"name\":\"to_nhwc\",\"shape\":[4],\"dtype\":\"int32\"},"
        "{\"name\":\"pads\",\"shape\":[4,2],\"dtype\":\"int32\"},"
        "{\"name\":\"axis\",\"shape\":[],\"dtype\":\"int32\"},"
        "{\"name\":\"sizes\",\"shape\":[2],\"dtype\":\"int32\"},"
        "{\"name\":\"half\",\"shape\":[],\"dtype\":\"float32\"}]}]}";
    int32_t w[4 + 4 + 8 + 1 + 2 + 1] = {0, 3, 1, 2, 0, 2, 3, 1, 0, 0, 0, 0, 1, 1, 2, 0, 1, 3, 3};
    float half = 0.5f;
    memcpy(&w[19], &half, 4);
    const char *const outs[] = {"Identity", "Identity_1", NULL};
    char err[512];
    vg_model_t *m;
    assert_int_equal(
        vg_model_load_memory(&m, json, strlen(json), w, sizeof(w), outs, "test", err, sizeof(err)),
        0);
    const int64_t sizes[][2] = {{5, 7}, {5, 7}, {5, 7}, {4, 9}, {4, 9}, {5, 7}};
    unsigned seed = 5;
    for (size_t r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++) {
        int64_t shape[4] = {1, sizes[r][0], sizes[r][1], 3};
        size_t n = (size_t)(shape[1] * shape[2] * 3);
        float *in = malloc(n * 4), *want[2] = {NULL, NULL};
        size_t cnt[2];
        fill_random(in, n, &seed);
        vg_tensor_t t;
        vg_tensor_view(&t, VG_DT_F32, 4, shape, in);
        assert_int_equal(vg_model_run(m, &t, 1), 0); /* plain, every tensor kept */
        for (int o = 0; o < 2; o++) {
            const vg_tensor_t *x = vg_model_tensor(m, outs[o]);
            assert_non_null(x);
            cnt[o] = x->count;
            want[o] = malloc(x->count * 4);
            memcpy(want[o], x->data, x->count * 4);
        }
        const vg_tensor_t *y = vg_model_tensor(m, "Identity");
        /* NHWC [1, h + 2, w + 2, 6 / 2] after the NCHW pad, concat and split */
        assert_true(y->ndim == 4 && y->shape[1] == shape[1] + 2 && y->shape[2] == shape[2] + 2 &&
                    y->shape[3] == 3);
        for (int rep = 0; rep < 2; rep++) { /* records a plan, then uses it */
            assert_int_equal(vg_model_run(m, &t, 0), 0);
            /* a plan is made by the first run of a new input size, used by the runs after */
            size_t arena = 0;
            int fresh = r == 0 || sizes[r][0] != sizes[r - 1][0];
            assert_int_equal(vg_model_planned(m, &arena), rep == 1 || !fresh);
            assert_true(arena > 0);
            for (int o = 0; o < 2; o++) {
                const vg_tensor_t *x = vg_model_tensor(m, outs[o]);
                assert_non_null(x);
                assert_int_equal(x->count, cnt[o]);
                assert_memory_equal(x->data, want[o], cnt[o] * 4);
            }
            /* the NCHW output is in the graph's layout */
            const vg_tensor_t *a = vg_model_tensor(m, "Identity_1");
            assert_true(a->shape[1] == 3 && a->shape[2] == shape[1] && a->shape[3] == shape[2]);
        }
        free(in), free(want[0]), free(want[1]);
    }
    vg_model_free(&m);
}

static void test_transpose_equals_reference(void **state)
{
    (void)state;
    const int64_t shapes[][4] = {{2, 3, 5, 7}, {1, 17, 19, 3}, {3, 1, 33, 2}, {1, 40, 1, 18}};
    for (size_t si = 0; si < 4; si++)
        for (int nd = 3; nd <= 4; nd++) {
            const int64_t *shape = shapes[si] + (4 - nd);
            size_t count = 1;
            for (int d = 0; d < nd; d++) count *= (size_t)shape[d];
            uint32_t *src = malloc(count * 4), *a = malloc(count * 4), *b = malloc(count * 4);
            for (size_t i = 0; i < count; i++) src[i] = (uint32_t)i * 2654435761u;
            int64_t perm[4] = {0, 1, 2, 3};
            /* every permutation of nd axes (Heap's algorithm, iteratively) */
            int c[4] = {0}, i = 0, tested = 0;
            for (;;) {
                vg__transpose_ref(src, shape, nd, perm, a);
                vg__transpose(src, shape, nd, perm, b);
                if (memcmp(a, b, count * 4))
                    fail_msg("shape %zu, %d axes: perm %lld%lld%lld%lld differs", si, nd,
                             (long long)perm[0], (long long)perm[1], (long long)perm[2],
                             (long long)perm[3]);
                tested++;
                while (i < nd && c[i] >= i) c[i++] = 0;
                if (i >= nd) break;
                int j = i % 2 ? c[i] : 0;
                int64_t t0 = perm[j];
                perm[j] = perm[i], perm[i] = t0;
                c[i]++, i = 0;
            }
            assert_int_equal(tested, nd == 3 ? 6 : 24);
            free(src), free(a), free(b);
        }
}

static void test_resize_bilinear(void **state)
{
    (void)state;
    float in[4] = {0, 10, 20, 30}; /* 2x2, one channel */
    float out[16];
    vg__resize_bilinear(in, 1, 2, 2, 1, 4, 4, 0, 0, out); /* legacy: src = dst * in/out */
    assert_true(fabsf(out[0] - 0) < 1e-6f && fabsf(out[1] - 5) < 1e-6f &&
                fabsf(out[3] - 10) < 1e-6f);
    vg__resize_bilinear(in, 1, 2, 2, 1, 4, 4, 0, 1, out); /* half-pixel centres */
    assert_true(fabsf(out[0] - 0) < 1e-6f && fabsf(out[1] - 2.5f) < 1e-6f &&
                fabsf(out[2] - 7.5f) < 1e-6f);
}

/* Tensor @node of @m against the reference file @ref: |d| <= 1e-4 + 1e-3 |ref| everywhere. */
static void expect_matches(const vg_model_t *m, const char *node, const char *ref_path,
                           const char *label)
{
    size_t rn;
    float *ref = tu_read_f32(ref_path, &rn);
    const vg_tensor_t *o = vg_model_tensor(m, node);
    assert_non_null(ref);
    assert_non_null(o);
    assert_int_equal(o->count, rn);
    double worst = 0;
    for (size_t i = 0; i < rn; i++) {
        double d = fabs(((const float *)o->data)[i] - ref[i]);
        if (d > 1e-4 + 1e-3 * fabs(ref[i]))
            fail_msg("%s %s[%zu]: %g vs reference %g", label, node, i, ((const float *)o->data)[i],
                     ref[i]);
        worst = fmax(worst, d);
    }
    fprintf(stderr, "%s %s: max |diff| %.3g over %zu values\n", label, node, worst, rn);
    free(ref);
}

/* NanoDet-g on the vtest frame, both input normalisations, all six heads. */
static void test_nanodet_matches_tfjs(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096];
    vg_model_t *m;
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping the NanoDet reference check\n");
        skip();
    }
    assert_int_equal(vg_model_load(&m, md, "nanodet", err, sizeof(err)), 0);
    int nd;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    assert_int_equal(vg_model_input_shape(m, &nd, shape), 0);
    assert_int_equal(nd, 4);
    assert_true(shape[1] == 3 && shape[2] == 416 && shape[3] == 416);
    const char *variants[] = {"nanodet", "nanodet-bgrnorm"};
    const char *heads[] = {"Identity",   "Identity_1", "Identity_2",
                           "Identity_3", "Identity_4", "Identity_5"};
    for (int v = 0; v < 2; v++) {
        size_t n;
        snprintf(path, sizeof(path), "%s/ref/nn/vtest_t20.%s.input.f32", sh, variants[v]);
        float *in = tu_read_f32(path, &n);
        assert_non_null(in);
        assert_int_equal(n, 3 * 416 * 416);
        vg_tensor_t t;
        vg_tensor_view(&t, VG_DT_F32, 4, shape, in);
        /* the first variant with every tensor kept (graph layout, no plan), the second
         * without (stored layout, memory plan) */
        assert_int_equal(vg_model_run(m, &t, v == 0), 0);
        for (int h = 0; h < 6; h++) {
            snprintf(path, sizeof(path), "%s/ref/nn/vtest_t20.%s.out_%s.f32", sh, variants[v],
                     heads[h]);
            expect_matches(m, heads[h], path, variants[v]);
        }
        /* a wrong input shape is refused, not read out of bounds */
        int64_t bad[4] = {1, 3, 320, 320};
        vg_tensor_view(&t, VG_DT_F32, 4, bad, in);
        assert_int_equal(vg_model_run(m, &t, 0), VG_EINVAL);
        free(in);
    }
    vg_model_free(&m);
    assert_null(m);
}

/* CenterNet MobileNetV3 512: the two heads the decoder reads, the first layer (conv 3x3/s2 +
 * hard-swish, written as Mul/Add/Relu6 in the graph) and the head logits, against TF.js. */
static void test_centernet_matches_tfjs(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096];
    vg_model_t *m;
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping the CenterNet reference check\n");
        skip();
    }
    assert_int_equal(vg_model_load(&m, md, "centernet", err, sizeof(err)), 0);
    size_t n;
    snprintf(path, sizeof(path), "%s/ref/nn/vtest_t20.centernet.input.f32", sh);
    float *in = tu_read_f32(path, &n);
    assert_non_null(in);
    int64_t shape[4] = {1, 512, 512, 3};
    vg_tensor_t t;
    vg_tensor_view(&t, VG_DT_F32, 4, shape, in);
    assert_int_equal(vg_model_run(m, &t, 1), 0);
    const char *pairs[][2] = {
        {"tower_0/keypoints", "vtest_t20.centernet.keypoints.f32"},
        {"tower_0/wh", "vtest_t20.centernet.wh.f32"},
        {"tower_0/MobilenetV3/Conv/hard_swish/mul_1",
         "vtest_t20.centernet.int.tower_0~MobilenetV3~Conv~hard_swish~mul_1.f32"},
        {"tower_0/CenternetHead/centernet_cls_output/BiasAdd",
         "vtest_t20.centernet.int.tower_0~CenternetHead~centernet_cls_output~BiasAdd.f32"},
        {"tower_0/CenternetHead/centernet_wh_output/BiasAdd",
         "vtest_t20.centernet.int.tower_0~CenternetHead~centernet_wh_output~BiasAdd.f32"},
    };
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        snprintf(path, sizeof(path), "%s/ref/nn/%s", sh, pairs[k][1]);
        expect_matches(m, pairs[k][0], path, "centernet");
    }
    /* the heads again from runs that keep nothing: the first records the memory plan, the
     * second runs in it */
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(vg_model_run(m, &t, 0), 0);
        assert_int_equal(vg_model_planned(m, NULL), rep);
        for (size_t k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "%s/ref/nn/%s", sh, pairs[k][1]);
            expect_matches(m, pairs[k][0], path, "centernet");
        }
    }
    free(in);
    vg_model_free(&m);
}

/*
 * MoveNet's backbone and heads. The references are for MoveNet MultiPose, whose MobileNetV2-FPN
 * backbone and head layers are those of MoveNet Lightning (the pose model vigie registers): the
 * same ops, at two input sizes (192x256, 160x256), in runs that keep every tensor and in runs
 * with the memory plan. MultiPose is fetched by scripts/setup for this check only; it is not in
 * the model table, so it is loaded without it, as tests may.
 */
static void test_movenet_backbone_matches_tfjs(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096], jp[4096], bp[4096];
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping the MoveNet reference check\n");
        skip();
    }
    static const char *const heads[][2] = {
        {"center_0/conv2d_4", "center_0~conv2d_4"},
        {"kpt_heatmap_0/conv2d_7", "kpt_heatmap_0~conv2d_7"},
        {"kpt_offset_0/conv2d_9", "kpt_offset_0~conv2d_9"},
        {"kpt_regress_0/conv2d_8", "kpt_regress_0~conv2d_8"},
        {"box_scale_0/conv2d_5", "box_scale_0~conv2d_5"},
        {"box_offset_0/conv2d_6", "box_offset_0~conv2d_6"},
    };
    char names[6][128];
    const char *outs[9];
    for (int k = 0; k < 6; k++) {
        snprintf(names[k], sizeof(names[k]), "StatefulPartitionedCall/%s/BiasAdd", heads[k][0]);
        outs[k] = names[k];
    }
    outs[6] = "StatefulPartitionedCall/sub_1";
    outs[7] = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/"
              "model/Conv1_relu/Relu6";
    outs[8] = NULL;
    snprintf(jp, sizeof(jp), "%s/movenet-multipose.json", md);
    snprintf(bp, sizeof(bp), "%s/movenet-multipose.bin", md);
    vg_model_t *m;
    assert_int_equal(
        vg_model_load_unchecked(&m, jp, bp, (const char *const *)outs, err, sizeof(err)), 0);
    const char *images[] = {"vtest_t20", "person", "vtest_t20"}; /* 192x256, 160x256 */
    for (int im = 0; im < 3; im++) {
        snprintf(path, sizeof(path), "%s/ref/nn/%s.movenet-multipose.input.i32", sh, images[im]);
        size_t n;
        int32_t *raw = (int32_t *)tu_read_f32(path, &n); /* 4-byte words, read alike */
        assert_non_null(raw);
        float *in = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) in[i] = (float)raw[i];
        int64_t shape[4] = {1, (int64_t)(n / 3 / 256), 256, 3};
        vg_tensor_t t;
        vg_tensor_view(&t, VG_DT_F32, 4, shape, in);
        /* every tensor kept, then twice with the memory plan (recorded, used) */
        for (int run = 0; run < 3; run++) {
            assert_int_equal(vg_model_run(m, &t, run == 0), 0);
            /* the person frame has no stored intermediates: it runs (another input size, so
             * the plan is made again) and the vtest frame after it is checked again */
            for (int k = 0; k < (im == 1 ? 0 : run == 0 ? 8 : 6); k++) {
                char ref[4096], key[160];
                if (k < 6)
                    snprintf(key, sizeof(key), "%s~BiasAdd", heads[k][1]);
                else
                    snprintf(key, sizeof(key), "%s",
                             k == 6 ? "sub_1"
                                    : "center_net_mobile_net_v2fpn_feature_extractor~model_1~model~"
                                      "Conv1_relu~Relu6");
                snprintf(ref, sizeof(ref), "%s/ref/nn/%s.movenet-multipose.int.%s.f32", sh,
                         images[im], key);
                expect_matches(m, outs[k], ref, "movenet");
            }
        }
        free(raw);
        free(in);
    }
    vg_model_free(&m);
}

/*
 * The pose API on the darknet person photo: MoveNet Lightning on the CenterNet person box,
 * against the keypoints MoveNet MultiPose (another model, run by TF.js) found there. Where both
 * are confident (score >= 0.3), the points must agree within 10 % of the person's height.
 */
static void test_pose_on_person(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096];
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping the pose check\n");
        skip();
    }
    vg_pose_t *p;
    assert_int_equal(vg_pose_new(&p, md, err, sizeof(err)), 0);
    size_t n;
    snprintf(path, sizeof(path), "%s/ref/nn/person.rgb", sh);
    uint8_t *px = (uint8_t *)tu_read_file(path, &n);
    assert_non_null(px);
    assert_int_equal(n, 640 * 424 * 3);
    for (size_t i = 0; i < n; i += 3) { /* RGB to BGR */
        uint8_t t = px[i];
        px[i] = px[i + 2], px[i + 2] = t;
    }
    vg_image_t img = {640, 424, 640 * 3, VG_PIX_BGR24, px};
    snprintf(path, sizeof(path), "%s/ref/nn/person.decoded.json", sh);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    assert_non_null(root);
    json_t *cn =
        json_array_get(json_object_get(json_object_get(root, "centernet"), "detections"), 0);
    json_t *bb = json_object_get(cn, "box_xyxy_px");
    float b[4];
    for (int q = 0; q < 4; q++) b[q] = (float)json_number_value(json_array_get(bb, (size_t)q));
    vg_detection_t box = {.x = b[0], .y = b[1], .w = b[2] - b[0], .h = b[3] - b[1], .score = 0.67f};
    vg_pose_result_t r;
    assert_int_equal(vg_pose_run(p, &img, &box, &r), 0);
    json_t *kps = json_object_get(
        json_array_get(json_object_get(json_object_get(root, "movenet-multipose"), "persons"), 0),
        "keypoints");
    int compared = 0;
    for (int k = 0; k < VG_KP_COUNT; k++) {
        json_t *ref = json_object_get(kps, vg_keypoint_name(k));
        assert_non_null(ref);
        float rx = (float)json_number_value(json_array_get(ref, 0));
        float ry = (float)json_number_value(json_array_get(ref, 1));
        float rs = (float)json_number_value(json_array_get(ref, 2));
        float d = hypotf(r.kp[k].x - rx, r.kp[k].y - ry);
        fprintf(stderr, "pose %-15s (%6.1f, %6.1f) %.2f  multipose (%6.1f, %6.1f) %.2f  %5.1f px\n",
                vg_keypoint_name(k), r.kp[k].x, r.kp[k].y, r.kp[k].score, rx, ry, rs, d);
        if (r.kp[k].score >= 0.3f && rs >= 0.3f) {
            compared++;
            if (d > 0.1f * box.h)
                fail_msg("%s is %.1f px from MultiPose's", vg_keypoint_name(k), d);
        }
    }
    assert_true(compared >= 10);
    /* upright: shoulders above hips above ankles */
    assert_true(r.kp[VG_KP_LEFT_SHOULDER].y < r.kp[VG_KP_LEFT_HIP].y);
    assert_true(r.kp[VG_KP_LEFT_HIP].y < r.kp[VG_KP_LEFT_ANKLE].y);
    float hip[2], neck[2];
    assert_int_equal(vg_pose_torso(&r, 0.3f, hip, neck), 1);
    assert_true(neck[1] < hip[1] - 0.2f * box.h);
    /* the same picture turned a quarter clockwise: the person lies, head to the right. The crop
     * turned back (-90) shows them upright again: the same keypoints, turned, and a surer pose
     * than the crop as it is */
    const int W = 640, H = 424;
    uint8_t *rot = malloc((size_t)W * H * 3);
    assert_non_null(rot);
    for (int y = 0; y < H; y++) /* (x, y) -> (H - 1 - y, x) */
        for (int x = 0; x < W; x++)
            memcpy(rot + ((size_t)x * H + (H - 1 - y)) * 3, px + ((size_t)y * W + x) * 3, 3);
    vg_image_t rimg = {H, W, H * 3, VG_PIX_BGR24, rot};
    vg_detection_t rbox = {
        .x = H - (box.y + box.h), .y = box.x, .w = box.h, .h = box.w, .score = 0.67f};
    vg_pose_result_t r0, rt;
    assert_int_equal(vg_pose_run_turned(p, &rimg, &rbox, 0, &r0), 0);
    assert_int_equal(vg_pose_run_turned(p, &rimg, &rbox, -90, &rt), 0);
    assert_int_equal(rt.turn, -90);
    fprintf(stderr, "pose score upright %.2f, lying as it is %.2f, lying turned back %.2f\n",
            r.score, r0.score, rt.score);
    assert_true(rt.score > r0.score);
    for (int k = 0; k < VG_KP_COUNT; k++) {
        if (r.kp[k].score < 0.3f) continue;
        float ex = H - r.kp[k].y, ey = r.kp[k].x; /* where it went (half-pixel aside) */
        float d = hypotf(rt.kp[k].x - ex, rt.kp[k].y - ey);
        if (d > 0.1f * box.h) fail_msg("turned: %s is %.1f px off", vg_keypoint_name(k), d);
    }
    assert_int_equal(vg_pose_torso(&rt, 0.3f, hip, neck), 1);
    assert_true(neck[0] > hip[0] + 0.2f * box.h && fabsf(neck[1] - hip[1]) < 0.1f * box.h);
    assert_int_equal(vg_pose_run_turned(p, &rimg, &rbox, 45, &rt), VG_EINVAL);
    free(rot);
    /* bad calls are refused */
    vg_detection_t empty = box;
    empty.w = 0;
    assert_int_equal(vg_pose_run(p, &img, &empty, &r), VG_EINVAL);
    vg_image_t gray = img;
    gray.fmt = VG_PIX_GRAY8;
    assert_int_equal(vg_pose_run(p, &gray, &box, &r), VG_EINVAL);
    /* a box half outside the frame still works (black outside) */
    vg_detection_t edge = {.x = 600, .y = 300, .w = 100, .h = 200, .score = 0.5f};
    assert_int_equal(vg_pose_run(p, &img, &edge, &r), 0);
    json_decref(root);
    free(px);
    vg_pose_free(&p);
    assert_null(p);
}

/* The detector on @image against the reference list of @model (TF.js-decoded, in ../shared; for
 * YOLOX-Nano, ONNX Runtime's head decoded by bench/ort/run.js, in tests/data/nn), compared as
 * sets: the same labels, scores within 0.01, boxes overlapping by IoU >= 0.9. */
static void check_detector(const char *model, const char *score_min, int persons_expected,
                           const char *image, int w, int h, int nref_min)
{
    const int yolox = !strcmp(model, "yolox-nano");
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096];
    vg_detector_t *d;
    vg_detector_params_t p;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping the detector check\n");
        skip();
    }
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_detector_option_group.options);
    vg_opt_set(&p, vg_detector_option_group.options, "models_dir", md, err, sizeof(err));
    vg_opt_set(&p, vg_detector_option_group.options, "model", model, err, sizeof(err));
    vg_opt_set(&p, vg_detector_option_group.options, "score_min", score_min, err, sizeof(err));
    if (vg_detector_new(&d, &p, err, sizeof(err)) < 0) fail_msg("%s", err);
    vg_opt_free(&p, vg_detector_option_group.options);
    size_t len;
    snprintf(path, sizeof(path), "%s/ref/nn/%s.rgb", sh, image);
    uint8_t *rgb = (uint8_t *)tu_read_file(path, &len);
    assert_non_null(rgb);
    assert_int_equal(len, (size_t)w * h * 3);
    for (size_t i = 0; i < len; i += 3) { /* RGB to BGR */
        uint8_t t = rgb[i];
        rgb[i] = rgb[i + 2];
        rgb[i + 2] = t;
    }
    vg_image_t img = {w, h, w * 3, VG_PIX_BGR24, rgb};
    vg_detection_t det[200];
    int n = vg_detector_run(d, &img, det, 200);
    assert_true(n > 0);
    if (yolox)
        snprintf(path, sizeof(path), "%s/tests/data/nn/%s.yolox_nano.decoded.json", VG_SOURCE_DIR,
                 image);
    else
        snprintf(path, sizeof(path), "%s/ref/nn/%s.decoded.json", sh, image);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je), *list;
    assert_non_null(root);
    list = json_object_get(yolox ? root : json_object_get(root, model), "detections");
    assert_true(json_is_array(list));
    size_t k;
    json_t *e;
    int nref = 0;
    float worst_px = 0, worst_score = 0;
    json_array_foreach(list, k, e)
    {
        const char *label = yolox
                                ? vg_coco_name((int)json_integer_value(json_object_get(e, "class")))
                                : json_string_value(json_object_get(e, "label"));
        float sc = (float)json_number_value(json_object_get(e, "score")), b[4];
        json_t *box = json_object_get(e, "box_xyxy_px");
        assert_non_null(label);
        for (int q = 0; q < 4; q++) b[q] = (float)json_number_value(json_array_get(box, (size_t)q));
        nref++;
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            if (strcmp(vg_coco_name(det[i].cls), label) || fabsf(det[i].score - sc) > 0.01f)
                continue;
            float x0 = fmaxf(b[0], det[i].x), y0 = fmaxf(b[1], det[i].y);
            float x1 = fminf(b[2], det[i].x + det[i].w), y1 = fminf(b[3], det[i].y + det[i].h);
            float in = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
            float iou = in / ((b[2] - b[0]) * (b[3] - b[1]) + det[i].w * det[i].h - in);
            found = iou >= 0.9f;
            if (found) {
                const float mine[4] = {det[i].x, det[i].y, det[i].x + det[i].w,
                                       det[i].y + det[i].h};
                for (int q = 0; q < 4; q++) worst_px = fmaxf(worst_px, fabsf(mine[q] - b[q]));
                worst_score = fmaxf(worst_score, fabsf(det[i].score - sc));
            }
        }
        if (!found)
            fail_msg("%s: reference %s %.3f [%.1f %.1f %.1f %.1f] not found", model, label, sc,
                     b[0], b[1], b[2], b[3]);
    }
    json_decref(root);
    fprintf(stderr,
            "%s on %s: %d detections, all %d reference detections matched (corners within %.2f px, "
            "scores within %.4f)\n",
            model, image, n, nref, worst_px, worst_score);
    if (yolox) { /* the same letterbox and decoder as the reference: the same boxes */
        assert_true(worst_px <= 0.02f); /* the reference is rounded to 0.01 px */
        assert_true(worst_score <= 0.0001f);
    }
    assert_true(nref >= nref_min);
    assert_int_equal(n, nref);
    int persons = 0;
    for (int i = 0; i < n; i++) persons += det[i].cls == 0 && det[i].score > 0.5f;
    assert_int_equal(persons, persons_expected);
    free(rgb);
    vg_detector_free(&d);
}

static void test_detector_matches_reference(void **state)
{
    (void)state;
    check_detector("nanodet", "0.3", 7, "vtest_t20", 768, 576, 10); /* its 7 pedestrians */
}

static void test_centernet_detector_matches_reference(void **state)
{
    (void)state;
    check_detector("centernet", "0.2", 7, "vtest_t20", 768, 576, 10);
    /* the second image: the darknet photo (a person, a dog, a horse) */
    check_detector("centernet", "0.2", 1, "person", 640, 424, 7);
}

/* YOLOX-Nano (ONNX) through the detector API: letterbox, model, decoder, NMS, on both images */
static void test_yolox_detector_matches_reference(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/yolox-nano.onnx", models_dir() ? models_dir() : "models");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s absent (scripts/setup copies it from ../shared): skipping\n", path);
        skip();
    }
    fclose(f);
    check_detector("yolox-nano", "0.3", 7, "vtest_t20", 768, 576, 10);
    check_detector("yolox-nano", "0.3", 1, "person", 640, 424, 3);
}

/* detector.precision = int8: NanoDet-g on the vtest picture finds what it finds in floats (its
 * 7 pedestrians above 0.5; every float box above 0.4 again, same label, IoU >= 0.8, score within
 * 0.05); where the processor lacks VNNI the option falls back to floats (the same boxes). */
static void test_detector_int8(void **state)
{
    (void)state;
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024], path[4096];
    if (!md || !sh) skip();
    snprintf(path, sizeof(path), "%s/ref/nn/vtest_t20.rgb", sh);
    size_t len;
    uint8_t *rgb = (uint8_t *)tu_read_file(path, &len);
    assert_non_null(rgb);
    for (size_t i = 0; i < len; i += 3) {
        uint8_t t = rgb[i];
        rgb[i] = rgb[i + 2];
        rgb[i + 2] = t;
    }
    vg_image_t img = {768, 576, 768 * 3, VG_PIX_BGR24, rgb};
    vg_detection_t det[2][200];
    int n[2];
    for (int pass = 0; pass < 2; pass++) {
        vg_detector_params_t p;
        vg_detector_t *d;
        memset(&p, 0, sizeof(p));
        vg_opt_defaults(&p, vg_detector_option_group.options);
        vg_opt_set(&p, vg_detector_option_group.options, "models_dir", md, err, sizeof(err));
        assert_int_equal(vg_opt_set(&p, vg_detector_option_group.options, "precision",
                                    pass ? "int8" : "float", err, sizeof(err)),
                         0);
        if (vg_detector_new(&d, &p, err, sizeof(err)) < 0) fail_msg("%s", err);
        vg_opt_free(&p, vg_detector_option_group.options);
        n[pass] = vg_detector_run(d, &img, det[pass], 200);
        assert_true(n[pass] > 0);
        vg_detector_free(&d);
    }
    int persons = 0, checked = 0;
    float worst_score = 0, worst_iou = 1;
    for (int i = 0; i < n[1]; i++) persons += det[1][i].cls == 0 && det[1][i].score > 0.5f;
    assert_int_equal(persons, 7);
    for (int i = 0; i < n[0]; i++) {
        if (det[0][i].score < 0.4f) continue;
        const float a[4] = {det[0][i].x, det[0][i].y, det[0][i].w, det[0][i].h};
        float best = 0, ds = 1;
        for (int j = 0; j < n[1]; j++) {
            const float b[4] = {det[1][j].x, det[1][j].y, det[1][j].w, det[1][j].h};
            float v = det[1][j].cls == det[0][i].cls ? vg_boxf_iou(a, b) : 0;
            if (v > best) best = v, ds = fabsf(det[1][j].score - det[0][i].score);
        }
        if (best < 0.8f || ds > 0.05f)
            fail_msg("float box %d (%s %.3f) not found in int8 (IoU %.2f, score off %.3f)", i,
                     vg_coco_name(det[0][i].cls), det[0][i].score, best, ds);
        worst_iou = fminf(worst_iou, best), worst_score = fmaxf(worst_score, ds);
        checked++;
    }
    fprintf(stderr,
            "int8: %d boxes (float %d); the %d float boxes above 0.4 found, IoU >= %.3f, "
            "scores within %.3f\n",
            n[1], n[0], checked, worst_iou, worst_score);
    free(rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal_by_construction),
        cmocka_unit_test(test_bad_model_files),
        cmocka_unit_test(test_conv_gemm_equals_reference),
        cmocka_unit_test(test_depthwise_equals_reference),
        cmocka_unit_test(test_gemm_pointwise_equals_reference),
        cmocka_unit_test(test_conv_q8_close_to_reference),
        cmocka_unit_test(test_detector_int8),
        cmocka_unit_test(test_transpose_equals_reference),
        cmocka_unit_test(test_plan_and_layout),
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_nanodet_matches_tfjs),
        cmocka_unit_test(test_detector_matches_reference),
        cmocka_unit_test(test_yolox_detector_matches_reference),
        cmocka_unit_test(test_centernet_matches_tfjs),
        cmocka_unit_test(test_centernet_detector_matches_reference),
        cmocka_unit_test(test_movenet_backbone_matches_tfjs),
        cmocka_unit_test(test_pose_on_person),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
