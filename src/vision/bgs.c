/*
 * Background model: adaptive Gaussian mixture per pixel, with a long-term model for static
 * foreground.
 *
 * Method
 * - Main model: K = 4 Gaussian modes per pixel (weight, mean, variance), updated as in Zivkovic
 *   (2004, "Improved adaptive Gaussian mixture model", the MOG2 of OpenCV): a pixel matches the
 *   heaviest mode within var_threshold_gen variances, which is pulled towards it; weights follow
 *   w += a (o - w) - a c_T; an unmatched pixel replaces the weakest mode. The background is the
 *   set of heaviest modes whose weights sum to background_ratio; a pixel within var_threshold
 *   variances of one of them is background. The learning rate is a time constant in seconds of
 *   scene time: a = 1 - exp(-dt / history), so frame rate does not change behaviour.
 * - Illumination: before matching, each frame is divided by a global gain, the median ratio of
 *   frame to background over a grid of well-modelled pixels (robust to foreground covering less
 *   than half of the view). Lights switching or a cloud passing shift the whole frame; the gain
 *   absorbs that shift instead of flooding the mask.
 * - Shadows: foreground darker than the background by a ratio in [shadow_min, shadow_max] is
 *   labelled VG_MASK_SHADOW (background for every consumer).
 * - Long-term model and static foreground (the dual-rate idea of Porikli, Ivanov and Haga,
 *   "Robust abandoned object detection using dual foregrounds", 2008): a single slow mean per
 *   pixel, updated only where both models see background (selective update), so that an object
 *   that arrives and stays is soon absorbed by the main model but not by this one. Where the
 *   frame departs from the long-term mean and stays within static_tolerance of one value, a
 *   per-pixel clock runs; after static_time the pixel is VG_MASK_STATIC, for as long as the
 *   object stays (up to static_max, after which it melts into the long-term model: 0 = never).
 *   Waving trees and flicker do not hold one value, so their clock keeps resetting.
 *
 * Speed: state is structure-of-arrays, mode-major (w[k][i]), float; the per-pixel update is
 * branchless so the compiler vectorises across pixels (SSE2 everywhere, AVX2 where the CPU has
 * it, chosen at load time by target_clones). Rows are independent slice jobs.
 *
 * Invariants: every pixel is computed by the same IEEE operations whatever the slicing (C11 mode
 * disables FP contraction; no fast-math), so masks are bit-identical for any thread count.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/vision.h>

#define K 3
/* A pixel absorbed by the main model but still off the long-term background, and steady for
 * this long, stays foreground until it turns static: a bag put down does not vanish from the
 * mask between the two models. */
#define HOLD_S 1.0f

/*
 * State layout: blocks of 8 horizontally adjacent pixels, row by row; each block holds its
 * planes contiguously, 8 floats each, in this order: weights W0 W1 W2, means M0 M1 M2, variances
 * V0 V1 V2 (modes sorted by weight, W0 heaviest), then the long-term mean LM, the static
 * candidate value SC and the static clock SA (seconds). The update reads and writes one
 * contiguous stream; rows are padded to whole blocks (padding lanes hold a valid, unused pixel).
 */
enum { P_W0 = 0, P_M0 = 3, P_V0 = 6, P_LM = 9, P_SC = 10, P_SA = 11, NF = 12 };
#define BLOCK (NF * 8)

#define OFF(x) offsetof(vg_bgs_params_t, x)
#define D(n, f, dv, lo, hi, u, h)                                                                  \
    {                                                                                              \
        .name = n, .type = VG_OPT_DOUBLE, .offset = OFF(f), .def.d = dv, .min = lo, .max = hi,     \
        .unit = u, .help = h, .flags = VG_OPT_LIVE                                                 \
    }
static const char *const kernel_names[] = {"auto", "portable", NULL};

const vg_option_t vg__bgs_options[] = {
    D("history", history, 20, 0.1, 36000, "s", "learning time constant of the background"),
    D("var_threshold", var_threshold, 16, 1, 400, NULL,
      "squared distance, in variances, within which a pixel is background"),
    D("var_threshold_gen", var_threshold_gen, 9, 1, 400, NULL,
      "squared distance, in variances, within which a pixel updates a mode"),
    D("background_ratio", background_ratio, 0.9, 0.1, 1, NULL,
      "weight share of the modes that form the background"),
    D("var_init", var_init, 15, 1, 10000, NULL, "variance of a new mode (grey levels squared)"),
    D("var_min", var_min, 4, 0.1, 10000, NULL, "smallest mode variance"),
    D("var_max", var_max, 75, 1, 10000, NULL, "largest mode variance"),
    D("complexity", complexity, 0.05, 0, 1, NULL, "weight decay prior that prunes unused modes"),
    {.name = "shadows",
     .type = VG_OPT_BOOL,
     .offset = OFF(shadows),
     .def.i = 1,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "label shadows (darker, same texture) as background"},
    D("shadow_min", shadow_min, 0.55, 0, 1, NULL, "darkest brightness ratio of a shadow"),
    D("shadow_max", shadow_max, 0.9, 0, 1, NULL, "lightest brightness ratio of a shadow"),
    {.name = "illumination",
     .type = VG_OPT_BOOL,
     .offset = OFF(illumination),
     .def.i = 1,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "compensate global brightness changes"},
    D("static_time", static_time, 10, 0.1, 86400, "s",
      "still foreground becomes static foreground after this"),
    D("static_tolerance", static_tolerance, 12, 1, 255, NULL,
      "grey levels a static pixel may vary by"),
    D("static_max", static_max, 0, 0, 864000, "s",
      "static foreground melts into the background after this (0: never)"),
    D("long_history", long_history, 120, 1, 864000, "s",
      "time constant of the long-term background (background pixels only)"),
    D("warmup", warmup, 5, 0, 3600, "s",
      "at first the long-term background follows the main one quickly, so that objects present "
      "in the first frame leave no ghost"),
    {.name = "clean",
     .type = VG_OPT_BOOL,
     .offset = OFF(clean),
     .def.i = 1,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "clean the foreground mask (3x3 majority) before objects"},
    D("min_area", min_area, 0.0002, 0, 1, NULL,
      "smallest foreground object, as a fraction of the frame's area"),
    {.name = "kernel",
     .type = VG_OPT_ENUM,
     .offset = OFF(kernel),
     .def.i = VG_BGS_KERNEL_AUTO,
     .choices = kernel_names,
     .flags = VG_OPT_LIVE,
     .help = "per-pixel update: auto (AVX2 where the CPU has it) or portable; same results"},
    {.name = NULL},
};
#undef D
#undef OFF

const vg_option_group_t vg_bgs_option_group = {
    "motion", "motion core: background model and foreground objects", vg__bgs_options};

void vg_bgs_params_default(vg_bgs_params_t *p)
{
    memset(p, 0, sizeof(*p));
    vg_opt_defaults(p, vg__bgs_options);
}

struct vg_bgs {
    vg_bgs_params_t p;
    int w, h;
    int bw;       /* 8-pixel blocks per row (the last one padded) */
    float *state; /* bw * h blocks of NF planes of 8 floats (see the layout note) */
    uint8_t *bg8; /* bw * 8 by h: the heaviest mode's mean, rounded; 0 where its weight < 1/2 */
    /* the long-term means as bytes (vg_bgs_long_term), bw * 8 by h, made row by row by the
     * update's slice jobs once someone has asked for them (lt_wanted), valid for frame lt_frame;
     * two stages ask each frame: one conversion, on rows still in cache */
    uint8_t *lt8;
    atomic_int lt_wanted;
    int lt_frame;
    int frames;
    double t0, t_prev, gain;
};

/* Plane @f of pixel (x, y). */
static inline float *at(const vg_bgs_t *b, int f, int x, int y)
{
    return b->state + ((size_t)y * b->bw + (size_t)(x >> 3)) * BLOCK + f * 8 + (x & 7);
}

static float *alloc_f(size_t n)
{
    return vg_malloc_aligned(n * sizeof(float));
}

int vg_bgs_new(vg_bgs_t **out, int w, int h, const vg_bgs_params_t *p)
{
    vg_bgs_t *b;
    if (w < 1 || h < 1 || w > 16384 || h > 16384) return VG_EINVAL;
    b = vg_calloc(1, sizeof(*b));
    if (!b) return VG_ENOMEM;
    if (p)
        b->p = *p;
    else
        vg_bgs_params_default(&b->p);
    if (b->p.var_min > b->p.var_max) {
        vg_free(b);
        return VG_EINVAL;
    }
    b->w = w;
    b->h = h;
    b->bw = (w + 7) / 8;
    b->state = alloc_f((size_t)b->bw * h * BLOCK);
    b->bg8 = vg_calloc((size_t)b->bw * 8, (size_t)h);
    b->lt8 = vg_malloc((size_t)b->bw * 8 * (size_t)h);
    b->lt_frame = -1;
    if (!b->state || !b->bg8 || !b->lt8) {
        vg_bgs_free(&b);
        return VG_ENOMEM;
    }
    b->gain = 1;
    *out = b;
    return 0;
}

void vg_bgs_free(vg_bgs_t **pb)
{
    vg_bgs_t *b = *pb;
    if (!b) return;
    vg_free_aligned(b->state);
    vg_free(b->bg8);
    vg_free(b->lt8);
    vg_free(b);
    *pb = NULL;
}

double vg_bgs_gain(const vg_bgs_t *b)
{
    return b->gain;
}

int vg_bgs_background(const vg_bgs_t *b, vg_image_t *out)
{
    if (out->w != b->w || out->h != b->h || out->fmt != VG_PIX_GRAY8) return VG_EINVAL;
    for (int y = 0; y < b->h; y++) {
        uint8_t *o = vg_image_row(out, y);
        for (int x = 0; x < b->w; x++) {
            float m = *at(b, P_M0, x, y); /* modes are sorted: mode 0 is the heaviest */
            o[x] = (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : lrintf(m));
        }
    }
    return 0;
}

/* Row @y's long-term means as bytes into @o (whole blocks: bw * 8 bytes): each block's 8 means
 * are contiguous, so the loop vectorises; rounding to nearest even as lrintf does (adding 1.5 *
 * 2^23 leaves the rounded value in the low bits of a float in [0, 255] + 1.5 * 2^23). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* long_term_row's bytes with AVX2: the same clamp (MAXPS and MINPS are its ternaries for every
 * number; the model holds no NaN) and the same rounding (to nearest, ties to even: the
 * conversion's default, as the magic number's addition); checked by test_kernels_agree */
__attribute__((target("avx2"))) static void long_term_row_avx2(const vg_bgs_t *b, int y, uint8_t *o)
{
    const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps(255.0f);
    const float *m = b->state + (size_t)y * b->bw * BLOCK + P_LM * 8;
    for (int bx = 0; bx < b->bw; bx++, m += BLOCK) {
        __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(m), zero), top);
        __m256i i = _mm256_cvtps_epi32(v);
        __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storel_epi64((__m128i *)(o + bx * 8), _mm_packus_epi16(p16, p16));
    }
}
#endif

static void long_term_row(const vg_bgs_t *b, int y, uint8_t *o)
{
#if defined(__x86_64__) || defined(__i386__)
    if (b->p.kernel == VG_BGS_KERNEL_AUTO && __builtin_cpu_supports("avx2")) {
        long_term_row_avx2(b, y, o);
        return;
    }
#endif
    for (int bx = 0; bx < b->bw; bx++) {
        const float *m = b->state + ((size_t)y * b->bw + (size_t)bx) * BLOCK + P_LM * 8;
        uint8_t *d = o + bx * 8;
        for (int k = 0; k < 8; k++) {
            float v = m[k] < 0 ? 0 : m[k] > 255 ? 255 : m[k];
            float r = v + 12582912.0f;
            uint32_t bits;
            memcpy(&bits, &r, sizeof bits);
            d[k] = (uint8_t)bits;
        }
    }
}

int vg_bgs_long_term(const vg_bgs_t *b, vg_image_t *out)
{
    if (out->w != b->w || out->h != b->h || out->fmt != VG_PIX_GRAY8) return VG_EINVAL;
    const size_t rs = (size_t)b->bw * 8;
    if (b->lt_frame == b->frames) {
        for (int y = 0; y < b->h; y++)
            memcpy(vg_image_row(out, y), b->lt8 + (size_t)y * rs, (size_t)b->w);
        return 0;
    }
    /* not made by this frame's update: here, and by the next updates from now on (the flag is
     * the model's own bookkeeping, not its state: atomic, so that a const model may set it) */
    atomic_store(&((vg_bgs_t *)b)->lt_wanted, 1);
    for (int y = 0; y < b->h; y++) {
        long_term_row(b, y, b->lt8 + (size_t)y * rs);
        memcpy(vg_image_row(out, y), b->lt8 + (size_t)y * rs, (size_t)b->w);
    }
    ((vg_bgs_t *)b)->lt_frame = b->frames;
    return 0;
}

static void init_model(vg_bgs_t *b, const vg_image_t *in)
{
    for (int y = 0; y < b->h; y++) {
        const uint8_t *row = vg_image_row(in, y);
        for (int x = 0; x < b->bw * 8; x++) {
            float v = x < b->w ? row[x] : row[b->w - 1]; /* padding copies the row's end */
            for (int k = 0; k < K; k++) {
                *at(b, P_W0 + k, x, y) = k == 0 ? 1.0f : 0.0f;
                *at(b, P_M0 + k, x, y) = v;
                *at(b, P_V0 + k, x, y) = (float)b->p.var_init;
            }
            *at(b, P_LM, x, y) = v;
            *at(b, P_SC, x, y) = v;
            *at(b, P_SA, x, y) = 0;
            b->bg8[(size_t)y * b->bw * 8 + x] = (uint8_t)v;
        }
    }
}

/* Median of frame/background over a grid of pixels whose heaviest mode is well established.
 * Ratios in [1/4, 4] are binned linearly (the median does not care about the scale). */
static double estimate_gain(const vg_bgs_t *b, const vg_image_t *in)
{
    enum { BINS = 1024 };
    const float lo = 0.25f, span = 3.75f, scale = BINS / span;
    unsigned hist[BINS];
    unsigned total = 0;
    /* a grid of about 4000 pixels or more: plenty for a median, cheap to visit */
    int step = b->w * b->h > 200000 ? 8 : b->w * b->h > 50000 ? 4 : 2;
    memset(hist, 0, sizeof(hist));
    for (int y = step / 2; y < b->h; y += step) {
        const uint8_t *row = vg_image_row(in, y), *bg = b->bg8 + (size_t)y * b->bw * 8;
        for (int x = step / 2; x < b->w; x += step) {
            int m = bg[x]; /* 0 where the background is not settled */
            if (m < 16 || row[x] < 4 || row[x] > 250) continue;
            int bin = (int)(((float)row[x] / m - lo) * scale);
            if (bin < 0 || bin >= BINS) continue;
            hist[bin]++;
            total++;
        }
    }
    if (total < 64) return 1.0;
    unsigned acc = 0;
    for (int bin = 0; bin < BINS; bin++) {
        acc += hist[bin];
        if (acc * 2 >= total) return lo + (bin + 0.5) / scale;
    }
    return 1.0;
}

/*
 * The per-pixel update on 8 pixels at a time, written with GCC vector extensions so that it is
 * vectorised whatever the compiler's cost model says (SSE2 pairs by default, one AVX2 register
 * where available). Comparisons give all-ones/zero lane masks; sel() blends.
 */
typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4)));
typedef uint8_t v8b __attribute__((vector_size(8), aligned(1)));

/* Macros rather than functions: 32-byte vectors passed by value change the ABI between the
 * AVX2 and the default clone. */
#define sel(m, a, b) ((v8f)(((m) & (v8i)(a)) | (~(m) & (v8i)(b))))
#define vmax(a, b)   sel((a) > (b), (a), (b))
#define vmin(a, b)   sel((a) < (b), (a), (b))

typedef struct consts {
    float tg, tb, TB, ct, vinit, vmin, vmax, smin, smax, shadows, tol, stime, smaxt;
    float ginv, alpha, alpha_long, dt;
    int use_avx2;
    int warm; /* warm-up: the long-term model learns wherever the main model sees background */
} consts_t;

#define LD(p)    (*(const v8f *)(p))
#define ST(p, v) (*(v8f *)(p) = (v))
/* compare-swap modes a and b (a before b) so that the heavier comes first */
#define CSWAP(wa, ma, va, wb_, mb, vb)                                                             \
    do {                                                                                           \
        v8i sw = (wb_) > (wa);                                                                     \
        v8f t;                                                                                     \
        t = sel(sw, wb_, wa), wb_ = sel(sw, wa, wb_), wa = t;                                      \
        t = sel(sw, mb, ma), mb = sel(sw, ma, mb), ma = t;                                         \
        t = sel(sw, vb, va), vb = sel(sw, va, vb), va = t;                                         \
    } while (0)

/*
 * Runs of 8 pixels. Modes are kept sorted by weight (mode 0 heaviest), as in MOG2: after an
 * update only the matched mode can have gained on the others, so two compare-swaps restore the
 * order, and "first matching mode", "background modes" (cumulative weight before the mode below
 * background_ratio) and the heaviest and weakest modes need no search.
 * State pointers: wt, mu, var hold K planes of @stride floats; @n8 blocks of 8 pixels.
 */
static void update_blocks_generic(const consts_t *c, const uint8_t *in, uint8_t *out, float *st,
                                  uint8_t *bgout, int n8)
{
    const v8f one = {1, 1, 1, 1, 1, 1, 1, 1}, zero = {0};
    const v8i on = zero == zero;
    const v8i shadows = c->shadows != 0.0f ? on : (v8i)zero;
    /* constants in registers: stores through float pointers could alias *c otherwise */
    const v8f ginv = zero + c->ginv, tb = zero + c->tb, tg = zero + c->tg, TB = zero + c->TB;
    const v8f alpha = zero + c->alpha, keepw = zero + (1.0f - c->alpha), ct = zero + c->ct;
    const v8f eps = zero + 1e-5f, vmn = zero + c->vmin, vmx = zero + c->vmax;
    const v8f vinit = zero + c->vinit, tol = zero + c->tol, ntol = zero - c->tol;
    const v8f dt = zero + c->dt, alpha_long = zero + c->alpha_long, smaxt = zero + c->smaxt;
    const v8f smin = zero + c->smin, smax = zero + c->smax, stime = zero + c->stime;
    const v8f hold = zero + HOLD_S, follow = zero + 0.05f, tiny = zero + 1e-12f;
    const v8f half = zero + 0.5f, b255 = zero + 255.0f;
    const v8i warm = c->warm ? on : (v8i)zero;
    const v8f lab_bg = zero + (float)VG_MASK_BG, lab_sh = zero + (float)VG_MASK_SHADOW;
    const v8f lab_fg = zero + (float)VG_MASK_FG, lab_st = zero + (float)VG_MASK_STATIC;

    for (int blk = 0; blk < n8; blk++) {
        const size_t i = (size_t)blk * 8;
        float *P = st + (size_t)blk * BLOCK;
        v8b pb;
        memcpy(&pb, in + i, 8);
        const v8f x = __builtin_convertvector(pb, v8f) * ginv;
        v8f w0 = LD(P), w1 = LD(P + 8), w2 = LD(P + 16);
        v8f m0 = LD(P + 24), m1 = LD(P + 32), m2 = LD(P + 40);
        v8f v0 = LD(P + 48), v1 = LD(P + 56), v2 = LD(P + 64);

        v8f d0 = x - m0, d1 = x - m1, d2 = x - m2;
        v8f q0 = d0 * d0, q1 = d1 * d1, q2 = d2 * d2;
        v8i live1 = w1 > zero, live2 = w2 > zero;

        /* background: within tb of a mode in the heaviest background_ratio share (mode 0 is
         * always alive: weights are normalised and sorted) */
        v8i bg = (q0 < tb * v0) | (live1 & (w0 < TB) & (q1 < tb * v1)) |
                 (live2 & (w0 + w1 < TB) & (q2 < tb * v2));
        const v8f hm = m0, hv = v0; /* the heaviest mode, before the update */

        /* the first (heaviest) mode within tg */
        v8i g0 = q0 < tg * v0, g1 = live1 & (q1 < tg * v1), g2 = live2 & (q2 < tg * v2);
        v8i b1 = g1 & ~g0, b2 = g2 & ~(g0 | g1);
        v8i matched = g0 | g1 | g2;

        w0 = vmax(w0 * keepw + sel(g0, alpha, zero) - ct, zero);
        w1 = vmax(w1 * keepw + sel(b1, alpha, zero) - ct, zero);
        w2 = vmax(w2 * keepw + sel(b2, alpha, zero) - ct, zero);
        v8f wb = sel(g0, w0, sel(b1, w1, sel(b2, w2, one)));
        v8f rho = alpha / vmax(wb, eps);
        m0 = sel(g0, m0 + rho * d0, m0);
        m1 = sel(b1, m1 + rho * d1, m1);
        m2 = sel(b2, m2 + rho * d2, m2);
        v0 = sel(g0, vmin(vmax(v0 + rho * (q0 - v0), vmn), vmx), v0);
        v1 = sel(b1, vmin(vmax(v1 + rho * (q1 - v1), vmn), vmx), v1);
        v2 = sel(b2, vmin(vmax(v2 + rho * (q2 - v2), vmn), vmx), v2);
        /* no match: the weakest (last) mode becomes a new one at x */
        w2 = sel(matched, w2, alpha);
        m2 = sel(matched, m2, x);
        v2 = sel(matched, v2, vinit);
        v8f inv = one / vmax(w0 + w1 + w2, tiny);
        w0 *= inv, w1 *= inv, w2 *= inv;
        CSWAP(w1, m1, v1, w2, m2, v2);
        CSWAP(w0, m0, v0, w1, m1, v1);
        ST(P, w0), ST(P + 8, w1), ST(P + 16, w2);
        ST(P + 24, m0), ST(P + 32, m1), ST(P + 40, m2);
        ST(P + 48, v0), ST(P + 56, v1), ST(P + 64, v2);
        {
            /* the heaviest mean as a byte (round half up; 0 where the mode is not settled) */
            v8f bq = sel(w0 >= half, vmin(vmax(m0, zero), b255) + half, zero);
            v8b b8 = __builtin_convertvector(__builtin_convertvector(bq, v8i), v8b);
            memcpy(bgout + i, &b8, 8);
        }

        /* long-term model and the static clock */
        v8f lmv = LD(P + 72), scv = LD(P + 80);
        v8f dl = x - lmv;
        v8i fgl = dl * dl > tb * vmax(hv, vmn);
        v8f dc = x - scv;
        v8i keep = fgl & (dc < tol) & (dc > ntol);
        v8f age = sel(keep, LD(P + 88) + dt, zero);
        v8f l = sel(bg & (~fgl | warm), lmv + alpha_long * dl, lmv);
        v8i melt = age > smaxt;
        ST(P + 72, sel(melt, x, l));
        ST(P + 80, sel(keep, scv + follow * dc, x));
        age = sel(melt, zero, age);
        ST(P + 88, age);

        /* label */
        v8i fgm = ~bg;
        v8i shadow = shadows & fgm & (x >= smin * hm) & (x <= smax * hm);
        v8f lab = sel(shadow, lab_sh, lab_bg);
        lab = sel((fgm & ~shadow) | (fgl & (age >= hold)), lab_fg, lab);
        lab = sel(fgl & (age >= stime), lab_st, lab);
        v8b lab8 = __builtin_convertvector(__builtin_convertvector(lab, v8i), v8b);
        memcpy(out + i, &lab8, 8);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/*
 * The same computation with AVX2 intrinsics: max, min and blends are single instructions there,
 * which GCC's generic vectors cannot express. Every operation mirrors update_blocks_generic
 * (IEEE single precision, no FMA), so both kernels give the same bits.
 */
__attribute__((target("avx2"))) static void update_blocks_avx2(const consts_t *c, const uint8_t *in,
                                                               uint8_t *out, float *st,
                                                               uint8_t *bgout, int n8)
{
#define SET(v)      _mm256_set1_ps(v)
#define LT(a, b)    _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define GT(a, b)    _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define GE(a, b)    _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define LE(a, b)    _mm256_cmp_ps(a, b, _CMP_LE_OQ)
#define AND         _mm256_and_ps
#define OR          _mm256_or_ps
#define ANDN        _mm256_andnot_ps          /* ANDN(a, b) = ~a & b */
#define BL(m, a, b) _mm256_blendv_ps(b, a, m) /* m ? a : b */
#define ADD         _mm256_add_ps
#define SUB         _mm256_sub_ps
#define MUL         _mm256_mul_ps
#define MAX         _mm256_max_ps
#define MIN         _mm256_min_ps
    const __m256 zero = _mm256_setzero_ps(), one = SET(1.0f);
    const __m256 ginv = SET(c->ginv), tb = SET(c->tb), tg = SET(c->tg), TB = SET(c->TB);
    const __m256 alpha = SET(c->alpha), keepw = SET(1.0f - c->alpha), ct = SET(c->ct);
    const __m256 eps = SET(1e-5f), vmn = SET(c->vmin), vmx = SET(c->vmax), vinit = SET(c->vinit);
    const __m256 tol = SET(c->tol), ntol = SET(-c->tol), dt = SET(c->dt);
    const __m256 alpha_long = SET(c->alpha_long), smaxt = SET(c->smaxt);
    const __m256 smin = SET(c->smin), smax = SET(c->smax), stime = SET(c->stime);
    const __m256 hold = SET(HOLD_S), follow = SET(0.05f), tiny = SET(1e-12f);
    const __m256 half = SET(0.5f), b255 = SET(255.0f);
    const __m256 lab_bg = SET((float)VG_MASK_BG), lab_sh = SET((float)VG_MASK_SHADOW);
    const __m256 lab_fg = SET((float)VG_MASK_FG), lab_st = SET((float)VG_MASK_STATIC);
    const __m256 allones = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    const __m256 shadows = c->shadows != 0.0f ? allones : zero;
    const __m256 warm = c->warm ? allones : zero;

    for (int blk = 0; blk < n8; blk++) {
        const size_t i = (size_t)blk * 8;
        float *P = st + (size_t)blk * BLOCK;
        const __m256 x = MUL(
            _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(in + i)))),
            ginv);
        __m256 w0 = _mm256_loadu_ps(P), w1 = _mm256_loadu_ps(P + 8), w2 = _mm256_loadu_ps(P + 16);
        __m256 m0 = _mm256_loadu_ps(P + 24), m1 = _mm256_loadu_ps(P + 32),
               m2 = _mm256_loadu_ps(P + 40);
        __m256 v0 = _mm256_loadu_ps(P + 48), v1 = _mm256_loadu_ps(P + 56),
               v2 = _mm256_loadu_ps(P + 64);

        __m256 d0 = SUB(x, m0);
        __m256 q0 = MUL(d0, d0);
        {
            /*
             * Fast path: every lane matches mode 0 and is background, and agrees with the
             * long-term mean. Then no mode is created, the order cannot change (weights are
             * transformed monotonically), the static clock is 0 and the label background; the
             * expressions below are those of the full path for that case, so the bits are the
             * same (the portable kernel, which has no fast path, is checked against this one).
             */
            __m256 lmv = _mm256_loadu_ps(P + 72);
            __m256 dl = SUB(x, lmv);
            __m256 fgl = GT(MUL(dl, dl), MUL(tb, MAX(v0, vmn)));
            __m256 easy = ANDN(fgl, AND(LT(q0, MUL(tg, v0)), LT(q0, MUL(tb, v0))));
            if (_mm256_movemask_ps(easy) == 0xff) {
                w0 = MAX(SUB(ADD(MUL(w0, keepw), alpha), ct), zero);
                w1 = MAX(SUB(MUL(w1, keepw), ct), zero);
                w2 = MAX(SUB(MUL(w2, keepw), ct), zero);
                __m256 rho = _mm256_div_ps(alpha, MAX(w0, eps));
                m0 = ADD(m0, MUL(rho, d0));
                v0 = MIN(MAX(ADD(v0, MUL(rho, SUB(q0, v0))), vmn), vmx);
                __m256 inv = _mm256_div_ps(one, MAX(ADD(ADD(w0, w1), w2), tiny));
                _mm256_storeu_ps(P, MUL(w0, inv)), _mm256_storeu_ps(P + 8, MUL(w1, inv));
                _mm256_storeu_ps(P + 16, MUL(w2, inv));
                _mm256_storeu_ps(P + 24, m0);
                _mm256_storeu_ps(P + 48, v0);
                _mm256_storeu_ps(P + 72, ADD(lmv, MUL(alpha_long, dl)));
                _mm256_storeu_ps(P + 80, x);
                _mm256_storeu_ps(P + 88, zero);
                __m256 bq = AND(GE(MUL(w0, inv), half), ADD(MIN(MAX(m0, zero), b255), half));
                __m256i bi = _mm256_cvttps_epi32(bq);
                __m128i b16 =
                    _mm_packus_epi32(_mm256_castsi256_si128(bi), _mm256_extracti128_si256(bi, 1));
                _mm_storel_epi64((__m128i *)(bgout + i), _mm_packus_epi16(b16, b16));
                memset(out + i, VG_MASK_BG, 8);
                continue;
            }
        }
        __m256 d1 = SUB(x, m1), d2 = SUB(x, m2);
        __m256 q1 = MUL(d1, d1), q2 = MUL(d2, d2);
        __m256 live1 = GT(w1, zero), live2 = GT(w2, zero);
        __m256 bg = OR(OR(LT(q0, MUL(tb, v0)), AND(AND(live1, LT(w0, TB)), LT(q1, MUL(tb, v1)))),
                       AND(AND(live2, LT(ADD(w0, w1), TB)), LT(q2, MUL(tb, v2))));
        const __m256 hm = m0, hv = v0;
        __m256 g0 = LT(q0, MUL(tg, v0)), g1 = AND(live1, LT(q1, MUL(tg, v1))),
               g2 = AND(live2, LT(q2, MUL(tg, v2)));
        __m256 b1 = ANDN(g0, g1), b2 = ANDN(OR(g0, g1), g2);
        __m256 matched = OR(OR(g0, g1), g2);

        w0 = MAX(SUB(ADD(MUL(w0, keepw), AND(g0, alpha)), ct), zero);
        w1 = MAX(SUB(ADD(MUL(w1, keepw), AND(b1, alpha)), ct), zero);
        w2 = MAX(SUB(ADD(MUL(w2, keepw), AND(b2, alpha)), ct), zero);
        __m256 wb = BL(g0, w0, BL(b1, w1, BL(b2, w2, one)));
        __m256 rho = _mm256_div_ps(alpha, MAX(wb, eps));
        m0 = BL(g0, ADD(m0, MUL(rho, d0)), m0);
        m1 = BL(b1, ADD(m1, MUL(rho, d1)), m1);
        m2 = BL(b2, ADD(m2, MUL(rho, d2)), m2);
        v0 = BL(g0, MIN(MAX(ADD(v0, MUL(rho, SUB(q0, v0))), vmn), vmx), v0);
        v1 = BL(b1, MIN(MAX(ADD(v1, MUL(rho, SUB(q1, v1))), vmn), vmx), v1);
        v2 = BL(b2, MIN(MAX(ADD(v2, MUL(rho, SUB(q2, v2))), vmn), vmx), v2);
        w2 = BL(matched, w2, alpha);
        m2 = BL(matched, m2, x);
        v2 = BL(matched, v2, vinit);
        __m256 inv = _mm256_div_ps(one, MAX(ADD(ADD(w0, w1), w2), tiny));
        w0 = MUL(w0, inv), w1 = MUL(w1, inv), w2 = MUL(w2, inv);
        __m256 sw = GT(w2, w1), t;
        t = BL(sw, w2, w1), w2 = BL(sw, w1, w2), w1 = t;
        t = BL(sw, m2, m1), m2 = BL(sw, m1, m2), m1 = t;
        t = BL(sw, v2, v1), v2 = BL(sw, v1, v2), v1 = t;
        sw = GT(w1, w0);
        t = BL(sw, w1, w0), w1 = BL(sw, w0, w1), w0 = t;
        t = BL(sw, m1, m0), m1 = BL(sw, m0, m1), m0 = t;
        t = BL(sw, v1, v0), v1 = BL(sw, v0, v1), v0 = t;
        _mm256_storeu_ps(P, w0), _mm256_storeu_ps(P + 8, w1);
        _mm256_storeu_ps(P + 16, w2);
        _mm256_storeu_ps(P + 24, m0), _mm256_storeu_ps(P + 32, m1);
        _mm256_storeu_ps(P + 40, m2);
        _mm256_storeu_ps(P + 48, v0), _mm256_storeu_ps(P + 56, v1);
        _mm256_storeu_ps(P + 64, v2);
        {
            /* the heaviest mean as a byte: truncation of m + 1/2 as in the generic kernel */
            __m256 bq = AND(GE(w0, half), ADD(MIN(MAX(m0, zero), b255), half));
            __m256i bi = _mm256_cvttps_epi32(bq);
            __m128i b16 =
                _mm_packus_epi32(_mm256_castsi256_si128(bi), _mm256_extracti128_si256(bi, 1));
            _mm_storel_epi64((__m128i *)(bgout + i), _mm_packus_epi16(b16, b16));
        }

        __m256 lmv = _mm256_loadu_ps(P + 72), scv = _mm256_loadu_ps(P + 80);
        __m256 dl = SUB(x, lmv);
        __m256 fgl = GT(MUL(dl, dl), MUL(tb, MAX(hv, vmn)));
        __m256 dc = SUB(x, scv);
        __m256 keep = AND(AND(fgl, LT(dc, tol)), GT(dc, ntol));
        __m256 age = AND(keep, ADD(_mm256_loadu_ps(P + 88), dt));
        __m256 l =
            BL(AND(bg, OR(_mm256_xor_ps(fgl, allones), warm)), ADD(lmv, MUL(alpha_long, dl)), lmv);
        __m256 melt = GT(age, smaxt);
        _mm256_storeu_ps(P + 72, BL(melt, x, l));
        _mm256_storeu_ps(P + 80, BL(keep, ADD(scv, MUL(follow, dc)), x));
        age = ANDN(melt, age);
        _mm256_storeu_ps(P + 88, age);

        __m256 fgm = ANDN(bg, _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
        __m256 shadow = AND(AND(shadows, fgm), AND(GE(x, MUL(smin, hm)), LE(x, MUL(smax, hm))));
        __m256 lab = BL(shadow, lab_sh, lab_bg);
        lab = BL(OR(ANDN(shadow, fgm), AND(fgl, GE(age, hold))), lab_fg, lab);
        lab = BL(AND(fgl, GE(age, stime)), lab_st, lab);
        __m256i li = _mm256_cvtps_epi32(lab);
        __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(li), _mm256_extracti128_si256(li, 1));
        __m128i p8 = _mm_packus_epi16(p16, p16);
        _mm_storel_epi64((__m128i *)(out + i), p8);
    }
#undef SET
#undef LT
#undef GT
#undef GE
#undef LE
#undef AND
#undef OR
#undef ANDN
#undef BL
#undef ADD
#undef SUB
#undef MUL
#undef MAX
#undef MIN
}
#endif

typedef void (*blocks_fn)(const consts_t *, const uint8_t *, uint8_t *, float *, uint8_t *, int);

/* One row: its whole blocks in place; the last, partial block with its input padded. @bgout has
 * room for whole blocks. */
static void update_row(const consts_t *c, const uint8_t *in, uint8_t *out, float *st,
                       uint8_t *bgout, int w)
{
    blocks_fn fn = update_blocks_generic;
#if defined(__x86_64__) || defined(__i386__)
    if (c->use_avx2) fn = update_blocks_avx2;
#endif
    int n8 = w / 8, rest = w - n8 * 8;
    fn(c, in, out, st, bgout, n8);
    if (rest) {
        uint8_t pin[8], pout[8];
        memset(pin, in[w - 1], sizeof(pin));
        memcpy(pin, in + n8 * 8, (size_t)rest);
        fn(c, pin, pout, st + (size_t)n8 * BLOCK, bgout + n8 * 8, 1);
        memcpy(out + n8 * 8, pout, (size_t)rest);
    }
}

/*
 * Shadow confirmation: a candidate (darker than the background by a ratio in range) is a shadow
 * only if the 5x5 neighbourhood keeps the background's texture: normalised cross-correlation of
 * frame and background >= SHADOW_NCC over a textured background (std-dev >= SHADOW_TEXTURE).
 * A darker object replaces the texture; a shadow only dims it. Candidates on texture-less
 * background cannot be told from a dark object and stay foreground. The window's sums are of
 * integers (the frame and the heaviest mode's rounded mean; the gain cancels out of the
 * correlation), so the decision is exact: a candidate's own 25 pixels, or on a row with many
 * candidates the five-row sums of every column (slid down from the previous dense row's: one row
 * in, one out), then five columns a candidate.
 */
#define SHADOW_NCC     0.85
#define SHADOW_TEXTURE 3.0

/* The decision for one candidate from its window's integer sums over @n pixels (frame r, heaviest
 * mean b): the normalised cross-correlation of the frame divided by the gain and the background
 * is the same as that of the frame itself (the gain cancels), so the test is exact in integers:
 * n Srb - Sr Sb >= NCC sqrt((n Srr - Sr^2) (n Sbb - Sb^2)), with a textured background
 * (n Sbb - Sb^2 >= TEXTURE^2 n^2) and a frame that varies (n Srr - Sr^2 > 0). */
static inline int shadow_kept(int64_t n, int64_t sr, int64_t sb, int64_t srr, int64_t sbb,
                              int64_t srb)
{
    int64_t vx = n * srr - sr * sr, vb = n * sbb - sb * sb, cov = n * srb - sr * sb;
    if (vb < (int64_t)(SHADOW_TEXTURE * SHADOW_TEXTURE) * n * n || vx <= 0 || cov <= 0) return 0;
    return (double)cov >= SHADOW_NCC * sqrt((double)vx * (double)vb);
}

/* The five column sums of a slice's dense rows (frame, background, their squares and product)
 * over the window rows [y - 2, y + 2] of row @y (clipped to the frame); y < 0: none held. */
typedef struct shadow_cols {
    int32_t *r, *b, *rr, *bb, *rb;
    int y;
} shadow_cols_t;

/* Adds (@sign 1) or removes (-1) one row's pixels from the column sums (restrict and one loop a
 * sign: the compiler vectorises both). */
static void cols_add(const uint8_t *restrict row, const uint8_t *restrict bg, int32_t *restrict cr,
                     int32_t *restrict cb, int32_t *restrict crr, int32_t *restrict cbb,
                     int32_t *restrict crb, int w, int sign)
{
    if (sign > 0) {
        for (int x = 0; x < w; x++) {
            int32_t r = row[x], v = bg[x];
            cr[x] += r, cb[x] += v, crr[x] += r * r, cbb[x] += v * v, crb[x] += r * v;
        }
    } else {
        for (int x = 0; x < w; x++) {
            int32_t r = row[x], v = bg[x];
            cr[x] -= r, cb[x] -= v, crr[x] -= r * r, cbb[x] -= v * v, crb[x] -= r * v;
        }
    }
}

static void cols_row(const vg_bgs_t *bs, const vg_image_t *in, shadow_cols_t *c, int yy, int sign)
{
    cols_add(vg_image_row(in, yy), bs->bg8 + (size_t)yy * bs->bw * 8, c->r, c->b, c->rr, c->bb,
             c->rb, bs->w, sign);
}

/* Brings the column sums to row @y's window: from the previous row's window by one row in and
 * one out when it is that close, else summed afresh; the same integers either way. */
static void cols_move(const vg_bgs_t *b, const vg_image_t *in, shadow_cols_t *c, int y)
{
    if (c->y >= 0 && y - c->y >= 1 && y - c->y <= 2) {
        for (int yy = c->y; yy < y; yy++) {
            if (yy - 2 >= 0) cols_row(b, in, c, yy - 2, -1);
            if (yy + 3 < b->h) cols_row(b, in, c, yy + 3, 1);
        }
    } else if (c->y != y) {
        memset(c->r, 0, sizeof(int32_t) * 5 * (size_t)b->w);
        int y0 = y < 2 ? 0 : y - 2, y1 = y + 2 >= b->h ? b->h - 1 : y + 2;
        for (int yy = y0; yy <= y1; yy++) cols_row(b, in, c, yy, 1);
    }
    c->y = y;
}

static void confirm_shadows_row(const vg_bgs_t *b, const vg_image_t *in, vg_image_t *mask, int y,
                                shadow_cols_t *cols)
{
    uint8_t *m = vg_image_row(mask, y), *end = m + b->w;
    int y0 = y < 2 ? 0 : y - 2, y1 = y + 2 >= b->h ? b->h - 1 : y + 2, rows = y1 - y0 + 1;
    int cand = 0;
    for (uint8_t *hit = memchr(m, VG_MASK_SHADOW, (size_t)b->w); hit;
         hit = hit + 1 < end ? memchr(hit + 1, VG_MASK_SHADOW, (size_t)(end - hit - 1)) : NULL)
        cand++;
    if (!cand) return;
    /* a candidate alone sums 25 pixels; the columns cost two rows when slid, five afresh */
    if (cols && cand * (cols->y >= y - 2 && cols->y < y ? 40 : 16) >= b->w) {
        /* many candidates: the five sums of each column over the window's rows (slid from the
         * last dense row's), then a window of five columns a candidate */
        cols_move(b, in, cols, y);
        const int32_t *cr = cols->r, *cb = cols->b, *crr = cols->rr, *cbb = cols->bb,
                      *crb = cols->rb;
        for (int x = 0; x < b->w; x++) {
            if (m[x] != VG_MASK_SHADOW) continue;
            int x0 = x < 2 ? 0 : x - 2, x1 = x + 2 >= b->w ? b->w - 1 : x + 2;
            int64_t sr = 0, sb = 0, srr = 0, sbb = 0, srb = 0;
            for (int xx = x0; xx <= x1; xx++)
                sr += cr[xx], sb += cb[xx], srr += crr[xx], sbb += cbb[xx], srb += crb[xx];
            if (!shadow_kept((int64_t)rows * (x1 - x0 + 1), sr, sb, srr, sbb, srb))
                m[x] = VG_MASK_FG;
        }
        return;
    }
    for (uint8_t *hit = memchr(m, VG_MASK_SHADOW, (size_t)b->w); hit;
         hit = hit + 1 < end ? memchr(hit + 1, VG_MASK_SHADOW, (size_t)(end - hit - 1)) : NULL) {
        int x = (int)(hit - m), x0 = x < 2 ? 0 : x - 2, x1 = x + 2 >= b->w ? b->w - 1 : x + 2;
        int32_t sr = 0, sb = 0, srr = 0, sbb = 0, srb = 0;
        for (int yy = y0; yy <= y1; yy++) {
            const uint8_t *row = vg_image_row(in, yy), *bg = b->bg8 + (size_t)yy * b->bw * 8;
            for (int xx = x0; xx <= x1; xx++) {
                int32_t r = row[xx], v = bg[xx];
                sr += r, sb += v, srr += r * r, sbb += v * v, srb += r * v;
            }
        }
        if (!shadow_kept((int64_t)rows * (x1 - x0 + 1), sr, sb, srr, sbb, srb)) *hit = VG_MASK_FG;
    }
}

typedef struct frame_job {
    vg_bgs_t *b;
    const vg_image_t *in;
    vg_image_t *mask;
    consts_t c;
    int lt; /* make the long-term bytes too */
} frame_job_t;

static void frame_slice(void *arg, int job, int njobs)
{
    frame_job_t *j = arg;
    vg_bgs_t *b = j->b;
    int y0 = (int)((int64_t)b->h * job / njobs), y1 = (int)((int64_t)b->h * (job + 1) / njobs);
    const int lt = j->lt;
    for (int y = y0; y < y1; y++) {
        update_row(&j->c, vg_image_row(j->in, y), vg_image_row(j->mask, y),
                   b->state + (size_t)y * b->bw * BLOCK, b->bg8 + (size_t)y * b->bw * 8, b->w);
        if (lt) long_term_row(b, y, b->lt8 + (size_t)y * b->bw * 8);
    }
    /* shadow candidates are confirmed in a second pass (vg_bgs_update), once every row's
     * background is updated, so the result does not depend on the slicing */
}

static void shadow_slice(void *arg, int job, int njobs)
{
    frame_job_t *j = arg;
    vg_bgs_t *b = j->b;
    int y0 = (int)((int64_t)b->h * job / njobs), y1 = (int)((int64_t)b->h * (job + 1) / njobs);
    /* (a few kB; without them each candidate's window is summed on its own) */
    shadow_cols_t cols = {.r = vg_malloc(sizeof(int32_t) * 5 * (size_t)b->w), .y = -1};
    shadow_cols_t *c = cols.r ? &cols : NULL;
    if (c) {
        c->b = c->r + b->w, c->rr = c->b + b->w, c->bb = c->rr + b->w, c->rb = c->bb + b->w;
    }
    for (int y = y0; y < y1; y++) confirm_shadows_row(b, j->in, j->mask, y, c);
    vg_free(cols.r);
}

int vg_bgs_update(vg_bgs_t *b, const vg_image_t *in, double t, vg_image_t *mask, vg_pool_t *pool)
{
    frame_job_t j;
    if (in->w != b->w || in->h != b->h || in->fmt != VG_PIX_GRAY8 || mask->w != b->w ||
        mask->h != b->h || mask->fmt != VG_PIX_GRAY8 || mask->data == in->data)
        return VG_EINVAL;
    if (b->frames++ == 0) {
        init_model(b, in);
        b->t0 = b->t_prev = t;
        for (int y = 0; y < b->h; y++) memset(vg_image_row(mask, y), VG_MASK_BG, (size_t)b->w);
        return 0;
    }
    double dt = t - b->t_prev;
    if (!(dt > 0)) dt = 1e-3; /* time must advance; guard against bad input */
    if (dt > 2) dt = 2;       /* after a gap, learn as if two seconds passed, not hours */
    b->t_prev = t;
    double tau_long = b->p.long_history;
    int warm = t - b->t0 < b->p.warmup;
    if (warm) tau_long = fmin(tau_long, 1.0);
    b->gain = b->p.illumination ? estimate_gain(b, in) : 1.0;
    j.b = b;
    j.in = in;
    j.mask = mask;
    const vg_bgs_params_t *p = &b->p;
    j.c = (consts_t){
        .tg = (float)p->var_threshold_gen,
        .tb = (float)p->var_threshold,
        .TB = (float)p->background_ratio,
        .vinit = (float)p->var_init,
        .vmin = (float)p->var_min,
        .vmax = (float)p->var_max,
        .smin = (float)p->shadow_min,
        .smax = (float)p->shadow_max,
        .shadows = p->shadows ? 1.0f : 0.0f,
        .tol = (float)p->static_tolerance,
        .stime = (float)p->static_time,
        .smaxt = p->static_max > 0 ? (float)p->static_max : 1e30f,
        .ginv = (float)(1.0 / b->gain),
        .alpha = (float)(1.0 - exp(-dt / p->history)),
        .alpha_long = (float)(1.0 - exp(-dt / tau_long)),
        .dt = (float)dt,
    };
    j.c.ct = (float)(j.c.alpha * p->complexity);
    j.c.warm = warm;
#if defined(__x86_64__) || defined(__i386__)
    j.c.use_avx2 = p->kernel == VG_BGS_KERNEL_AUTO && __builtin_cpu_supports("avx2");
#endif
    int njobs = pool ? vg_pool_threads(pool) * 4 : 1;
    if (njobs > b->h) njobs = b->h;
    j.lt = atomic_load(&b->lt_wanted);
    vg_pool_run(pool, frame_slice, &j, njobs);
    if (j.lt) b->lt_frame = b->frames;
    if (p->shadows) vg_pool_run(pool, shadow_slice, &j, njobs);
    return 0;
}
