/* The ONNX loader (src/nn/onnx.c): YOLOX-Nano's raw head matches ONNX Runtime's reference tensor
 * in ../shared/ref/nn within 1e-4 + 1e-3*|ref|, with every tensor kept and with the memory plan;
 * small models written here by a protobuf writer of the test's own check each op's translation
 * (NCHW graph, NHWC kernels) against plain loops; bad files (truncated, corrupt varints, a
 * tensor whose byte count does not match its shape, an op outside the set, an opset too new,
 * external data, a dynamic input) are refused with a message that says what and where. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "testutil.h"

/* ---- a protobuf writer, enough for small ONNX models ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void varint(buf_t *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void key(buf_t *b, int field, int wire)
{
    varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void f_int(buf_t *b, int field, int64_t v)
{
    key(b, field, 0);
    varint(b, (uint64_t)v);
}

static void f_bytes(buf_t *b, int field, const void *d, size_t n)
{
    key(b, field, 2);
    varint(b, n);
    put(b, d, n);
}

static void f_str(buf_t *b, int field, const char *s)
{
    f_bytes(b, field, s, strlen(s));
}

static void f_msg(buf_t *b, int field, buf_t *m)
{
    f_bytes(b, field, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof(*m));
}

/* A float TensorProto named @name of shape @dims with raw data @v (@nbytes, may differ from the
 * shape's for the bad-file tests). */
static void tensor(buf_t *out, int field, const char *name, const int64_t *dims, int nd,
                   const float *v, size_t nbytes)
{
    buf_t t = {0};
    for (int d = 0; d < nd; d++) f_int(&t, 1, dims[d]);
    f_int(&t, 2, 1);
    f_str(&t, 8, name);
    f_bytes(&t, 9, v, nbytes);
    f_msg(out, field, &t);
}

static void tensor_i64(buf_t *out, int field, const char *name, const int64_t *v, int n)
{
    buf_t t = {0};
    f_int(&t, 1, n);
    f_int(&t, 2, 7);
    f_str(&t, 8, name);
    f_bytes(&t, 9, v, (size_t)n * 8);
    f_msg(out, field, &t);
}

static void value_info(buf_t *g, int field, const char *name, const int64_t *dims, int nd)
{
    buf_t vi = {0}, ty = {0}, tt = {0}, sh = {0};
    for (int d = 0; d < nd; d++) {
        buf_t dim = {0};
        if (dims[d] >= 0)
            f_int(&dim, 1, dims[d]);
        else
            f_str(&dim, 2, "n");
        f_msg(&sh, 1, &dim);
    }
    f_int(&tt, 1, 1);
    f_msg(&tt, 2, &sh);
    f_msg(&ty, 1, &tt);
    f_str(&vi, 1, name);
    f_msg(&vi, 2, &ty);
    f_msg(g, field, &vi);
}

typedef struct nattr {
    const char *name;
    int type; /* 1 float, 2 int, 3 string, 7 ints */
    float f;
    int64_t i;
    const char *s;
    int nints;
    int64_t ints[8];
} nattr_t;

static void node(buf_t *g, const char *op, const char *const *in, int nin, const char *out,
                 const nattr_t *at, int nat)
{
    buf_t n = {0};
    for (int k = 0; k < nin; k++) f_str(&n, 1, in[k]);
    f_str(&n, 2, out);
    f_str(&n, 3, out);
    f_str(&n, 4, op);
    for (int k = 0; k < nat; k++) {
        buf_t a = {0};
        f_str(&a, 1, at[k].name);
        if (at[k].type == 1) {
            key(&a, 2, 5);
            put(&a, &at[k].f, 4);
        } else if (at[k].type == 2) {
            f_int(&a, 3, at[k].i);
        } else if (at[k].type == 3) {
            f_str(&a, 4, at[k].s);
        } else {
            for (int q = 0; q < at[k].nints; q++) f_int(&a, 8, at[k].ints[q]);
        }
        f_int(&a, 20, at[k].type == 7 ? 7 : at[k].type);
        f_msg(&n, 5, &a);
    }
    f_msg(g, 1, &n);
}

static buf_t model(buf_t *graph, int opset)
{
    buf_t m = {0}, os = {0};
    f_int(&m, 1, 8);
    f_str(&m, 2, "vigie-test");
    f_msg(&m, 7, graph);
    f_int(&os, 2, opset);
    f_msg(&m, 8, &os);
    return m;
}

/* Load @m. With $VG_ONNX_SEEDS set to a folder, each model is also written there: the seeds of
 * the fuzzer's corpus (scripts/fuzz 120 fuzz_onnx). */
static int load(const buf_t *m, vg_model_t **out, char *err, size_t len)
{
    const char *seeds = getenv("VG_ONNX_SEEDS");
    if (seeds) {
        static int k;
        char path[4096];
        snprintf(path, sizeof(path), "%s/seed-%02d.onnx", seeds, k++);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(m->p, 1, m->n, f);
            fclose(f);
        }
    }
    return vg_model_load_onnx_memory(out, m->p, m->n, NULL, "test.onnx", err, len);
}

/* ---- plain references ---- */

static float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* NCHW convolution of @x [1, c, h, w] by @w [o, c/g, k, k], SiLU after, plain loops */
static void conv_ref(const float *x, int c, int h, int w, const float *wt, const float *bias, int o,
                     int k, int stride, int pad, int groups, float *y, int oh, int ow)
{
    int cg = c / groups, og = o / groups;
    for (int m = 0; m < o; m++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double s = bias[m];
                int g = m / og;
                for (int q = 0; q < cg; q++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            s += (double)x[((g * cg + q) * h + iy) * w + ix] *
                                 wt[((m * cg + q) * k + ky) * k + kx];
                        }
                float v = (float)s;
                y[(m * oh + oy) * ow + ox] = v * sigm(v);
            }
}

static void fill(float *v, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        v[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* NCHW @x as the NHWC tensor the loaded model takes */
static float *to_nhwc(const float *x, int c, int h, int w)
{
    float *o = malloc(sizeof(float) * (size_t)c * h * w);
    for (int q = 0; q < c; q++)
        for (int i = 0; i < h * w; i++) o[(size_t)i * c + q] = x[(size_t)q * h * w + i];
    return o;
}

static void expect_close(const float *got, const float *want, size_t n, const char *what)
{
    double worst = 0, excess = 0;
    size_t over = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]), e = d - (1e-4 + 1e-3 * fabs(want[i]));
        if (e > 0 && over++ == 0) at = i;
        excess = fmax(excess, e);
        worst = fmax(worst, d);
    }
    fprintf(stderr, "%s: max |diff| %.3g over %zu values, %zu beyond 1e-4 + 1e-3 |ref|\n", what,
            worst, n, over);
    if (over)
        fail_msg("%s[%zu]: %g, expected %g (and %zu more; worst excess %.3g)", what, at, got[at],
                 want[at], over - 1, excess);
}

/*
 * A small YOLOX-like graph: a Focus stem (four strided Slices, Concat on channels), a 3x3
 * convolution with SiLU (Sigmoid, Mul), a depthwise 3x3 stride 2 with SiLU, a MaxPool 5 with pads
 * 2, a nearest Resize x2, Add, then Shape/Slice/Concat/Reshape/Transpose on the head. Its output is
 * computed here with plain NCHW loops and compared.
 */
static void test_small_graph_matches_plain_loops(void **state)
{
    (void)state;
    enum { C = 3, H = 16, W = 16, O = 8 };
    unsigned seed = 7;
    float w1[O * 4 * C * 9], b1[O], w2[O * 9], b2[O];
    fill(w1, sizeof(w1) / 4, &seed), fill(b1, O, &seed), fill(w2, sizeof(w2) / 4, &seed);
    fill(b2, O, &seed);
    buf_t g = {0};
    int64_t in_dims[4] = {1, C, H, W};
    value_info(&g, 11, "images", in_dims, 4);
    int64_t d1[4] = {O, 4 * C, 3, 3}, d2[4] = {O, 1, 3, 3}, db[1] = {O};
    tensor(&g, 5, "w1", d1, 4, w1, sizeof(w1));
    tensor(&g, 5, "b1", db, 1, b1, sizeof(b1));
    tensor(&g, 5, "w2", d2, 4, w2, sizeof(w2));
    tensor(&g, 5, "b2", db, 1, b2, sizeof(b2));
    int64_t z[1] = {0}, one[1] = {1}, big[1] = {INT64_MAX}, two[1] = {2}, ax2[1] = {2},
            ax3[1] = {3}, neg1[1] = {-1};
    tensor_i64(&g, 5, "zero", z, 1), tensor_i64(&g, 5, "one", one, 1);
    tensor_i64(&g, 5, "big", big, 1), tensor_i64(&g, 5, "two", two, 1);
    tensor_i64(&g, 5, "ax2", ax2, 1), tensor_i64(&g, 5, "ax3", ax3, 1);
    tensor_i64(&g, 5, "neg1", neg1, 1);
    float scales[4] = {1, 1, 2, 2};
    int64_t ds[1] = {4};
    tensor(&g, 5, "scales", ds, 1, scales, sizeof(scales));
    /* Focus: s0 = x[..., ::2, :], s1 = x[..., 1::2, :]; then columns */
    const char *sl0[] = {"images", "zero", "big", "ax2", "two"};
    const char *sl1[] = {"images", "one", "big", "ax2", "two"};
    node(&g, "Slice", sl0, 5, "r0", NULL, 0);
    node(&g, "Slice", sl1, 5, "r1", NULL, 0);
    const char *c00[] = {"r0", "zero", "big", "ax3", "two"},
               *c01[] = {"r0", "one", "big", "ax3", "two"};
    const char *c10[] = {"r1", "zero", "big", "ax3", "two"},
               *c11[] = {"r1", "one", "big", "ax3", "two"};
    node(&g, "Slice", c00, 5, "tl", NULL, 0);
    node(&g, "Slice", c10, 5, "bl", NULL, 0);
    node(&g, "Slice", c01, 5, "tr", NULL, 0);
    node(&g, "Slice", c11, 5, "br", NULL, 0);
    const char *cat[] = {"tl", "bl", "tr", "br"};
    nattr_t axis1 = {.name = "axis", .type = 2, .i = 1};
    node(&g, "Concat", cat, 4, "focus", &axis1, 1);
    nattr_t conv1[] = {{.name = "kernel_shape", .type = 7, .nints = 2, .ints = {3, 3}},
                       {.name = "pads", .type = 7, .nints = 4, .ints = {1, 1, 1, 1}},
                       {.name = "strides", .type = 7, .nints = 2, .ints = {1, 1}}};
    const char *cv1[] = {"focus", "w1", "b1"};
    node(&g, "Conv", cv1, 3, "c1", conv1, 3);
    const char *sg1[] = {"c1"}, *mu1[] = {"c1", "s1"};
    node(&g, "Sigmoid", sg1, 1, "s1", NULL, 0);
    node(&g, "Mul", mu1, 2, "a1", NULL, 0);
    nattr_t conv2[] = {{.name = "group", .type = 2, .i = O},
                       {.name = "pads", .type = 7, .nints = 4, .ints = {1, 1, 1, 1}},
                       {.name = "strides", .type = 7, .nints = 2, .ints = {2, 2}}};
    const char *cv2[] = {"a1", "w2", "b2"};
    node(&g, "Conv", cv2, 3, "c2", conv2, 3);
    const char *sg2[] = {"c2"}, *mu2[] = {"s2", "c2"};
    node(&g, "Sigmoid", sg2, 1, "s2", NULL, 0);
    node(&g, "Mul", mu2, 2, "a2", NULL, 0);
    nattr_t pool[] = {{.name = "kernel_shape", .type = 7, .nints = 2, .ints = {5, 5}},
                      {.name = "pads", .type = 7, .nints = 4, .ints = {2, 2, 2, 2}},
                      {.name = "strides", .type = 7, .nints = 2, .ints = {1, 1}}};
    const char *pin[] = {"a2"};
    node(&g, "MaxPool", pin, 1, "p", pool, 3);
    nattr_t rs[] = {{.name = "mode", .type = 3, .s = "nearest"},
                    {.name = "coordinate_transformation_mode", .type = 3, .s = "asymmetric"},
                    {.name = "nearest_mode", .type = 3, .s = "floor"}};
    const char *rin[] = {"p", "", "scales"};
    node(&g, "Resize", rin, 3, "up", rs, 3);
    const char *ain[] = {"up", "a1"};
    node(&g, "Add", ain, 2, "sum", NULL, 0);
    /* the head: [1, O, 8, 8] -> [1, O, 64] (shape arithmetic) -> [1, 64, O] */
    const char *shin[] = {"sum"};
    node(&g, "Shape", shin, 1, "shp", NULL, 0);
    const char *s2in[] = {"shp", "zero", "two", "zero"};
    node(&g, "Slice", s2in, 4, "lead", NULL, 0);
    const char *ccin[] = {"lead", "neg1"};
    nattr_t axis0 = {.name = "axis", .type = 2, .i = 0};
    node(&g, "Concat", ccin, 2, "target", &axis0, 1);
    const char *rsin[] = {"sum", "target"};
    node(&g, "Reshape", rsin, 2, "flat", NULL, 0);
    nattr_t perm = {.name = "perm", .type = 7, .nints = 3, .ints = {0, 2, 1}};
    const char *tin[] = {"flat"};
    node(&g, "Transpose", tin, 1, "output", &perm, 1);
    int64_t out_dims[3] = {1, 64, O};
    value_info(&g, 12, "output", out_dims, 3);
    buf_t m = model(&g, 11);

    vg_model_t *mod = NULL;
    char err[512] = "";
    int ret = load(&m, &mod, err, sizeof(err));
    if (ret < 0) fail_msg("load: %s", err);
    int nd;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    assert_int_equal(vg_model_input_shape(mod, &nd, shape), 0);
    assert_int_equal(nd, 4);
    assert_true(shape[0] == 1 && shape[1] == H && shape[2] == W && shape[3] == C); /* NHWC */

    /* the reference: plain NCHW loops */
    float x[C * H * W], focus[4 * C * 8 * 8], a1[O * 8 * 8], a2[O * 4 * 4], p[O * 4 * 4];
    float want[64 * O];
    fill(x, sizeof(x) / 4, &seed);
    for (int q = 0; q < 4; q++) /* tl, bl, tr, br */
        for (int c = 0; c < C; c++)
            for (int y = 0; y < 8; y++)
                for (int xx = 0; xx < 8; xx++)
                    focus[((q * C + c) * 8 + y) * 8 + xx] =
                        x[(c * H + 2 * y + (q & 1)) * W + 2 * xx + (q >> 1)];
    conv_ref(focus, 4 * C, 8, 8, w1, b1, O, 3, 1, 1, 1, a1, 8, 8);
    conv_ref(a1, O, 8, 8, w2, b2, O, 3, 2, 1, O, a2, 4, 4);
    for (int c = 0; c < O; c++)
        for (int y = 0; y < 4; y++)
            for (int xx = 0; xx < 4; xx++) {
                float mx = -INFINITY;
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++) {
                        int iy = y + dy, ix = xx + dx;
                        if (iy >= 0 && iy < 4 && ix >= 0 && ix < 4)
                            mx = fmaxf(mx, a2[(c * 4 + iy) * 4 + ix]);
                    }
                p[(c * 4 + y) * 4 + xx] = mx;
            }
    for (int c = 0; c < O; c++)
        for (int i = 0; i < 64; i++) {
            int y = i / 8, xx = i % 8;
            want[i * O + c] = p[(c * 4 + y / 2) * 4 + xx / 2] + a1[(c * 8 + y) * 8 + xx];
        }
    float *xn = to_nhwc(x, C, H, W);
    vg_tensor_t t;
    vg_tensor_view(&t, VG_DT_F32, 4, shape, xn);
    for (int keep = 1; keep >= 0; keep--) {
        for (int run = 0; run < 2; run++) { /* the second run uses the memory plan */
            assert_int_equal(vg_model_run(mod, &t, keep), 0);
            const vg_tensor_t *o = vg_model_tensor(mod, "output");
            assert_non_null(o);
            assert_int_equal(o->ndim, 3);
            assert_true(o->shape[0] == 1 && o->shape[1] == 64 && o->shape[2] == O);
            expect_close(o->data, want, 64 * O,
                         keep ? "small graph (every tensor kept)" : "small graph (planned)");
        }
    }
    free(xn);
    vg_model_free(&mod);
    free(m.p);
}

/* What a model file may not do, each refused with a message naming it. */
static void expect_refused(const buf_t *m, int code, const char *words, const char *what)
{
    vg_model_t *mod = NULL;
    char err[512] = "";
    int ret = load(m, &mod, err, sizeof(err));
    if (ret != code || !strstr(err, words))
        fail_msg("%s: got %d '%s', expected %d with '%s'", what, ret, err, code, words);
    assert_null(mod);
    fprintf(stderr, "%s: %s\n", what, err);
}

/* A one-convolution model; @variant spoils it one way. */
static buf_t spoilt(int variant)
{
    buf_t g = {0};
    int64_t in_dims[4] = {1, 2, 4, 4};
    if (variant == 5) in_dims[2] = -1; /* a dynamic height */
    value_info(&g, 11, "x", in_dims, 4);
    float w[2 * 2], b[2] = {0, 0};
    memset(w, 0, sizeof(w));
    int64_t dw[4] = {2, 2, 1, 1}, db[1] = {2};
    tensor(&g, 5, "w", dw, 4, w, variant == 1 ? sizeof(w) - 4 : sizeof(w));
    if (variant == 4) {
        buf_t t = {0}, kv = {0};
        f_int(&t, 1, 2);
        f_int(&t, 2, 1);
        f_str(&t, 8, "b");
        f_str(&kv, 1, "location");
        f_str(&kv, 2, "weights.bin");
        f_msg(&t, 13, &kv);
        f_int(&t, 14, 1);
        f_msg(&g, 5, &t);
    } else {
        tensor(&g, 5, "b", db, 1, b, sizeof(b));
    }
    const char *in[] = {"x", "w", "b"};
    node(&g, variant == 2 ? "Einsum" : "Conv", in, 3, "y", NULL, 0);
    int64_t od[4] = {1, 2, 4, 4};
    value_info(&g, 12, "y", od, 4);
    return model(&g, variant == 3 ? 99 : 13);
}

static void test_bad_files_refused(void **state)
{
    (void)state;
    buf_t ok = spoilt(0);
    vg_model_t *mod = NULL;
    char err[512];
    if (load(&ok, &mod, err, sizeof(err)) < 0) fail_msg("the unspoilt model: %s", err);
    vg_model_free(&mod);
    /* truncated: every cut of the good file is refused cleanly or loads a smaller valid graph */
    for (size_t cut = 0; cut < ok.n; cut++) {
        int ret = vg_model_load_onnx_memory(&mod, ok.p, cut, NULL, "cut.onnx", err, sizeof(err));
        assert_true(ret < 0);
        assert_null(mod);
    }
    buf_t cut = {ok.p, ok.n / 2, 0};
    expect_refused(&cut, VG_EFORMAT, "not an ONNX model", "truncated");
    /* a varint of eleven bytes */
    buf_t bad = {0};
    put(&bad, ok.p, ok.n);
    uint8_t junk[12];
    memset(junk, 0xff, sizeof(junk));
    key(&bad, 3, 0);
    put(&bad, junk, sizeof(junk));
    expect_refused(&bad, VG_EFORMAT, "no valid protobuf", "corrupt varint");
    free(bad.p);
    free(ok.p);
    buf_t m = spoilt(1);
    expect_refused(&m, VG_EFORMAT, "tensor 'w' has 12 bytes of data for 4 values", "byte count");
    free(m.p);
    m = spoilt(2);
    expect_refused(&m, VG_ENOSYS, "op Einsum, which vigie does not implement", "unknown op");
    free(m.p);
    m = spoilt(3);
    expect_refused(&m, VG_ENOSYS, "opset 99", "opset too new");
    free(m.p);
    m = spoilt(4);
    expect_refused(&m, VG_ENOSYS, "external file", "external data");
    free(m.p);
    m = spoilt(5);
    expect_refused(&m, VG_ENOSYS, "no fixed size", "dynamic input");
    free(m.p);
    /* a file that is not there */
    assert_int_equal(vg_model_load_onnx(&mod, "/nonexistent/model.onnx", NULL, err, sizeof(err)),
                     VG_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/model.onnx"));
}

/* YOLOX-Nano's raw head [1, 3549, 85] on the vtest frame (../shared/ref/nn) and on the darknet
 * person photo (tests/data/nn, made by scripts/onnx-refs) against ONNX Runtime 1.30. */
static void test_yolox_matches_onnxruntime(void **state)
{
    (void)state;
    const char *sh = tu_shared();
    char path[4096], err[1024] = "", label[3][128];
    if (!sh) {
        fprintf(stderr, "../shared absent: skipping the YOLOX-Nano reference check\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/models/yolox_nano.onnx", sh);
    vg_model_t *m = NULL;
    int ret = vg_model_load_onnx(&m, path, NULL, err, sizeof(err));
    if (ret < 0) fail_msg("%s", err);
    int nd;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    assert_int_equal(vg_model_input_shape(m, &nd, shape), 0);
    assert_true(nd == 4 && shape[1] == 416 && shape[2] == 416 && shape[3] == 3);
    for (int img = 0; img < 2; img++) {
        size_t n, rn;
        const char *dir = img ? VG_SOURCE_DIR "/tests/data/nn" : path;
        char base[3000];
        if (!img)
            snprintf(base, sizeof(base), "%s/ref/nn/vtest_t20.yolox_nano", sh);
        else
            snprintf(base, sizeof(base), "%s/person.yolox_nano", dir);
        snprintf(path, sizeof(path), "%s.input.f32", base);
        float *in = tu_read_f32(path, &n);
        assert_non_null(in);
        assert_int_equal(n, 3 * 416 * 416);
        float *x = to_nhwc(in, 3, 416, 416);
        snprintf(path, sizeof(path), "%s.output.f32", base);
        float *ref = tu_read_f32(path, &rn);
        assert_non_null(ref);
        vg_tensor_t t;
        vg_tensor_view(&t, VG_DT_F32, 4, shape, x);
        const char *what[3] = {"every tensor kept", "first run", "planned"};
        for (int run = 0; run < 3; run++) {
            snprintf(label[run], sizeof(label[run]), "yolox_nano on %s (%s)",
                     img ? "the person photo" : "the vtest frame", what[run]);
            assert_int_equal(vg_model_run(m, &t, run == 0), 0);
            const vg_tensor_t *o = vg_model_tensor(m, "output");
            assert_non_null(o);
            assert_true(o->ndim == 3 && o->shape[1] == 3549 && o->shape[2] == 85);
            assert_int_equal(o->count, rn);
            expect_close(o->data, ref, rn, label[run]);
        }
        free(ref);
        free(x);
        free(in);
    }
    size_t arena;
    assert_int_equal(vg_model_planned(m, &arena), 1);
    fprintf(stderr, "yolox_nano: memory plan arena %.1f MiB\n", arena / 1048576.0);
    vg_model_free(&m);
}

/* ---- site models (src/nn/site_model.c) ---- */

static char site_dir[] = "/tmp/vigie-site-XXXXXX";

/* A detector on site model @onnx (its description beside it); VG_* or 0, message in @err. */
static int site_detector(vg_detector_t **d, const char *onnx, char *err, size_t len)
{
    vg_detector_params_t p;
    const vg_option_t *o = vg_detector_option_group.options;
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, o);
    vg_opt_set(&p, o, "model", onnx, err, len);
    vg_opt_set(&p, o, "score_min", "0.3", err, len);
    int ret = vg_detector_new(d, &p, err, len);
    vg_opt_free(&p, o);
    return ret;
}

/* A picture of @w x @h (BGR) from the reference RGB file @name of ../shared/ref/nn. */
static uint8_t *ref_picture(const char *name, int w, int h)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/ref/nn/%s.rgb", tu_shared(), name);
    uint8_t *px = (uint8_t *)tu_read_file(path, &len);
    assert_non_null(px);
    assert_int_equal(len, (size_t)w * h * 3);
    for (size_t i = 0; i < len; i += 3) {
        uint8_t t = px[i];
        px[i] = px[i + 2], px[i + 2] = t;
    }
    return px;
}

/* YOLOX-Nano's own file as a site would describe it: the same boxes as the built-in detector,
 * for the classes its uses name (persons and vehicles here; the bag is not reported). */
static void test_site_model_as_described(void **state)
{
    (void)state;
    const char *sh = tu_shared();
    char onnx[4200], yaml[4200], err[1024] = "", src[4096], models[4096];
    if (!sh) skip();
    snprintf(src, sizeof(src), "%s/models/yolox_nano.onnx", sh);
    snprintf(onnx, sizeof(onnx), "%s/yolox.onnx", site_dir);
    snprintf(yaml, sizeof(yaml), "%s/yolox.yaml", site_dir);
    size_t len;
    char *bytes = tu_read_file(src, &len);
    assert_non_null(bytes);
    assert_int_equal(tu_write_file(onnx, bytes, len), 0);
    free(bytes);
    char doc[8192];
    int n = snprintf(doc, sizeof(doc),
                     "name: yolox-nano-as-site-model\nlicense: Apache-2.0\n"
                     "input: {channels: bgr, scale: 1, resize: letterbox, pad: 114}\n"
                     "output: {layout: yolox}\nclasses: [");
    for (int c = 0; c < 80; c++)
        n += snprintf(doc + n, sizeof(doc) - (size_t)n, "%s\"%s\"", c ? ", " : "", vg_coco_name(c));
    snprintf(doc + n, sizeof(doc) - (size_t)n,
             "]\nuses:\n  person: [person]\n  vehicle: [car, bus, truck, bicycle]\n");
    assert_int_equal(tu_write_file(yaml, doc, strlen(doc)), 0);
    vg_detector_t *site = NULL, *builtin = NULL;
    if (site_detector(&site, onnx, err, sizeof(err)) < 0) fail_msg("%s", err);
    snprintf(models, sizeof(models), "%s", getenv("VG_MODELS") ? getenv("VG_MODELS") : "models");
    vg_detector_params_t p;
    const vg_option_t *o = vg_detector_option_group.options;
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, o);
    vg_opt_set(&p, o, "model", "yolox-nano", err, sizeof(err));
    vg_opt_set(&p, o, "models_dir", models, err, sizeof(err));
    vg_opt_set(&p, o, "score_min", "0.3", err, sizeof(err));
    int ret = vg_detector_new(&builtin, &p, err, sizeof(err));
    vg_opt_free(&p, o);
    if (ret < 0) {
        vg_detector_free(&site);
        fprintf(stderr, "%s: skipping the comparison with the built-in detector\n", err);
        skip();
    }
    uint8_t *px = ref_picture("vtest_t20", 768, 576);
    vg_image_t img = {768, 576, 768 * 3, VG_PIX_BGR24, px};
    vg_detection_t a[100], b[100];
    int na = vg_detector_run(site, &img, a, 100), nb = vg_detector_run(builtin, &img, b, 100);
    int kept = 0;
    for (int i = 0; i < nb; i++) {
        if (b[i].cls != 0 && !vg_coco_is_vehicle(b[i].cls)) continue; /* not a use here */
        if (b[i].cls == 3 || b[i].cls == 36) continue; /* motorcycle, skateboard: not named */
        assert_true(kept < na);
        assert_int_equal(a[kept].cls, b[i].cls);
        assert_true(fabsf(a[kept].x - b[i].x) < 1e-3f && fabsf(a[kept].w - b[i].w) < 1e-3f);
        assert_true(fabsf(a[kept].score - b[i].score) < 1e-6f);
        kept++;
    }
    assert_int_equal(kept, na);
    fprintf(stderr,
            "site model (YOLOX-Nano described): %d of the built-in's %d detections, the "
            "classes its uses name, equal\n",
            na, nb);
    assert_true(na >= 8); /* the 7 pedestrians and the van */
    free(px);
    vg_detector_free(&site);
    vg_detector_free(&builtin);
}

/* A model whose head is a constant: a 1x1 convolution with zero weights and the head's values as
 * its bias, reshaped to the layout (yolov8: [1, 4 + C, N]; yolov5: [1, N, 5 + C]). */
static buf_t constant_head(int v8, const float *head, int vals)
{
    buf_t g = {0};
    int64_t in_dims[4] = {1, 3, 64, 64}, wd[4] = {vals, 3, 1, 1}, bd[1] = {vals};
    value_info(&g, 11, "images", in_dims, 4);
    float w[32 * 3];
    memset(w, 0, sizeof(w));
    tensor(&g, 5, "w", wd, 4, w, (size_t)vals * 3 * 4);
    tensor(&g, 5, "b", bd, 1, head, (size_t)vals * 4);
    int64_t shape3[3] = {1, vals, 64 * 64};
    tensor_i64(&g, 5, "shape3", shape3, 3);
    const char *cin[] = {"images", "w", "b"};
    node(&g, "Conv", cin, 3, "c", NULL, 0);
    const char *rin[] = {"c", "shape3"};
    node(&g, "Reshape", rin, 2, v8 ? "output" : "flat", NULL, 0);
    if (!v8) {
        nattr_t perm = {.name = "perm", .type = 7, .nints = 3, .ints = {0, 2, 1}};
        const char *tin[] = {"flat"};
        node(&g, "Transpose", tin, 1, "output", &perm, 1);
    }
    int64_t od[3] = {1, v8 ? vals : 4096, v8 ? 4096 : vals};
    value_info(&g, 12, "output", od, 3);
    return model(&g, 13);
}

static void write_site(const char *name, const buf_t *m, const char *yaml)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s.onnx", site_dir, name);
    assert_int_equal(tu_write_file(path, m->p, m->n), 0);
    snprintf(path, sizeof(path), "%s/%s.yaml", site_dir, name);
    assert_int_equal(tu_write_file(path, yaml, strlen(yaml)), 0);
}

/* The yolov8 and yolov5 layouts decoded; a class COCO lacks gets a class of its own by name; a
 * stretched input scales boxes back on each axis. */
static void test_site_model_layouts(void **state)
{
    (void)state;
    /* one box: centre (32, 16), size 20 x 10 in the 64 x 64 input; class 1 (pistol) at 0.9 */
    const float v8[6] = {32, 16, 20, 10, 0.1f, 0.9f}, v5[7] = {32, 16, 20, 10, 0.95f, 0.1f, 0.9f};
    const char *yaml = "name: arms-v1\nlicense: site licence 114\n"
                       "input: {channels: rgb, scale: 0.00392157, resize: stretch}\n"
                       "output: {layout: %s}\nclasses: [knife, pistol]\n"
                       "uses: {weapon: [knife, pistol]}\n";
    char doc[1024], path[4200], err[1024] = "";
    uint8_t *px = calloc(128 * 256 * 3, 1);
    vg_image_t img = {256, 128, 256 * 3, VG_PIX_BGR24, px}; /* 4x wide, 2x high */
    for (int k = 0; k < 2; k++) {
        buf_t m = constant_head(k == 0, k == 0 ? v8 : v5, k == 0 ? 6 : 7);
        snprintf(doc, sizeof(doc), yaml, k == 0 ? "yolov8" : "yolov5");
        write_site(k == 0 ? "v8" : "v5", &m, doc);
        free(m.p);
        snprintf(path, sizeof(path), "%s/%s.onnx", site_dir, k == 0 ? "v8" : "v5");
        vg_detector_t *d = NULL;
        if (site_detector(&d, path, err, sizeof(err)) < 0) fail_msg("%s", err);
        vg_detection_t det[8];
        int n = vg_detector_run(d, &img, det, 8);
        assert_int_equal(n, 1); /* 4096 equal boxes, one after NMS */
        assert_string_equal(vg_coco_name(det[0].cls), "pistol");
        assert_int_equal(vg_detect_class_use(det[0].cls), VG_USE_WEAPON);
        assert_true(det[0].cls >= 80);
        float want = k == 0 ? 0.9f : 0.95f * 0.9f;
        assert_true(fabsf(det[0].score - want) < 1e-5f);
        assert_true(fabsf(det[0].x - 88) < 1e-3f && fabsf(det[0].y - 22) < 1e-3f);
        assert_true(fabsf(det[0].w - 80) < 1e-3f && fabsf(det[0].h - 20) < 1e-3f);
        fprintf(stderr, "site model %s: %s %.3f at [%.0f %.0f %.0f %.0f]\n",
                k == 0 ? "yolov8" : "yolov5", vg_coco_name(det[0].cls), det[0].score, det[0].x,
                det[0].y, det[0].w, det[0].h);
        vg_detector_free(&d);
    }
    free(px);
}

/* Refused by construction or by inconsistency, each with a message that says why. */
static void test_site_model_refusals(void **state)
{
    (void)state;
    const float v8[6] = {32, 16, 20, 10, 0.1f, 0.9f};
    buf_t m = constant_head(1, v8, 6);
    const struct {
        const char *yaml, *words;
    } cases[] = {
        {"name: faces-v1\nlicense: x\noutput: {layout: yolov8}\nclasses: [a, b]\n"
         "uses: {person: [a]}\n",
         "speaks of 'face'"},
        {"name: m\nlicense: x\noutput: {layout: yolov8}\nclasses: [person, license_plate]\n"
         "uses: {person: [person]}\n",
         "class 'license_plate' speaks of 'plate'"},
        {"name: m\nlicense: x\noutput: {layout: yolov8}\nclasses: [person, person_id]\n"
         "uses: {person: [person]}\n",
         "speaks of 'person_id'"},
        {"name: m\nlicense: x\noutput: {layout: yolov5}\nclasses: [a, b]\nuses: {person: "
         "[a]}\n",
         "is not a yolov5 detection head for its 2 classes"},
        {"name: m\nlicense: x\noutput: {layout: yolov8}\nclasses: [a, b, c]\nuses: {person: "
         "[a]}\n",
         "not a yolov8 detection head for its 3 classes"},
        {"name: m\nlicense: x\noutput: {layout: ssd}\nclasses: [a, b]\nuses: {person: [a]}\n",
         "decodes yolox, yolov5 and yolov8"},
        {"name: m\nlicense: x\noutput: {layout: yolov8}\nclasses: [a, b]\nuses: {person: "
         "[c]}\n",
         "'c' is not one of the classes"},
        {"name: m\nlicense: x\noutput: {layout: yolov8}\nclasses: [a, b]\nuses: {tracking: "
         "[a]}\n",
         "'tracking' is not a use"},
        {"name: m\noutput: {layout: yolov8}\nclasses: [a, b]\nuses: {person: [a]}\n",
         "name and license are required"},
    };
    char path[4200], err[1024];
    snprintf(path, sizeof(path), "%s/bad.onnx", site_dir);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        write_site("bad", &m, cases[k].yaml);
        vg_detector_t *d = NULL;
        err[0] = 0;
        int ret = site_detector(&d, path, err, sizeof(err));
        if (ret >= 0 || !strstr(err, cases[k].words))
            fail_msg("case %zu: got %d '%s', expected '%s'", k, ret, err, cases[k].words);
        assert_null(d);
        fprintf(stderr, "refused: %s\n", err);
    }
    /* no description beside the model */
    snprintf(path, sizeof(path), "%s/bad.yaml", site_dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/bad.onnx", site_dir);
    vg_detector_t *d = NULL;
    assert_true(site_detector(&d, path, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "needs a YAML file beside it"));
    free(m.p);
}

static int make_site_dir(void **state)
{
    (void)state;
    return mkdtemp(site_dir) ? 0 : -1;
}

static int remove_site_dir(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", site_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_graph_matches_plain_loops),
        cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_yolox_matches_onnxruntime),
        cmocka_unit_test(test_site_model_as_described),
        cmocka_unit_test(test_site_model_layouts),
        cmocka_unit_test(test_site_model_refusals),
    };
    return cmocka_run_group_tests(tests, make_site_dir, remove_site_dir);
}
