/*
 * Small matrix products for pointwise (1x1) convolutions: C[m x n] = A[m x k] B[k x n] + bias,
 * then an activation, row-major, with A's rows @lda apart.
 *
 * Pointwise convolutions of mobile networks have few input channels (k = 16 to 96) and many
 * pixels (m up to 65536): OpenBLAS packs both operands for every call and reaches about half its
 * large-matrix speed there. This kernel packs nothing. It keeps a 6 x 16 block of C in twelve
 * AVX registers (the register blocking of BLIS's Haswell kernel: Van Zee & van de Geijn 2015),
 * and for each of the k steps broadcasts six values of A and loads sixteen of B (B is the
 * filter, small enough to stay in L1/L2), then adds the bias and applies the activation while
 * the block is in registers. Columns past a multiple of 16 use an 8-wide, then a scalar, tail;
 * rows past a multiple of 6 a smaller block.
 *
 * On processors with AVX-512 the same idea runs on 16-float registers: a 12 x 32 block of C in 24
 * of the 32 registers (BLIS's SkylakeX kernel keeps 14 x 32), 24 multiply-adds for 14 loads per
 * step, where 16-wide blocks would be bound by the loads; then 16-wide and masked tails. It reads
 * the same packed filter (two 16-wide panels side by side make a 32-wide block).
 *
 * The kernels use FMA instructions and are compiled for AVX2 + FMA (and AVX-512F) only;
 * vg__gemm_pointwise returns VG_ENOSYS on processors without AVX2 and FMA, and the caller uses
 * OpenBLAS. A fused
 * multiply-add rounds once where sgemm may round twice: results differ in the last bits, within
 * the tolerances of the reference tests. vg__gemm_ref is the plain triple loop beside it.
 */
#include <math.h>
#include <string.h>

#include <vigie/error.h>

#include "ops.h"

void vg__gemm_ref(int m, int n, int k, const float *a, int lda, const float *b, const float *bias,
                  const vg_act_t *act, float *c)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float s = 0;
            for (int q = 0; q < k; q++) s += a[(size_t)i * lda + q] * b[(size_t)q * n + j];
            c[(size_t)i * n + j] = s + (bias ? bias[j] : 0.0f);
        }
        if (act) vg__act(c + (size_t)i * n, c + (size_t)i * n, (size_t)n, act);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* The k terms of a row of A: @n runs of @len floats, the runs @stride floats apart (a pointwise
 * product: one run of k; a convolution read in place: kh runs of kw c, one input row apart). */
typedef struct seg {
    int n, len;
    size_t stride;
} seg_t;

/* q: the term's index (the row of B); ap: the term in A's first row */
#define KLOOP(BODY)                                                                                \
    for (int s_ = 0, q = 0; s_ < sg.n; s_++) {                                                     \
        const float *as_ = a + (size_t)s_ * sg.stride;                                             \
        for (int j_ = 0; j_ < sg.len; j_++, q++) {                                                 \
            const float *ap = as_ + j_;                                                            \
            BODY                                                                                   \
        }                                                                                          \
    }

/* sigmoid(x), or x * sigmoid(x) (@times), on eight values: vg__expf's steps (act.h), in
 * registers. */
TARGET INLINE __m256 sigm8(__m256 v, int times)
{
    __m256 x =
        _mm256_max_ps(_mm256_min_ps(_mm256_sub_ps(_mm256_setzero_ps(), v), _mm256_set1_ps(88.0f)),
                      _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 ex = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), ex));
    return times ? _mm256_mul_ps(v, s) : s;
}

/* The activation on eight values (the kinds a convolution fuses). */
TARGET INLINE __m256 act8(__m256 v, int kind, __m256 alpha)
{
    const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    switch (kind) {
    case VG_ACT_SILU:
        return sigm8(v, 1);
    case VG_ACT_SIGMOID:
        return sigm8(v, 0);
    case VG_ACT_RELU:
        return _mm256_max_ps(v, zero);
    case VG_ACT_RELU6:
        return _mm256_min_ps(_mm256_max_ps(v, zero), six);
    case VG_ACT_LEAKY: /* v >= 0 ? v : alpha * v */
        return _mm256_blendv_ps(_mm256_mul_ps(v, alpha), v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
    default:
        return v;
    }
}

/* A block of R rows (R <= 6, a constant at each call) by 16 columns. */
TARGET INLINE void block16(int R, seg_t sg, const float *a, int lda, const float *b, int ldb,
                           int ldc, const float *bias, int kind, __m256 alpha, float *c)
{
    __m256 acc[6][2];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    KLOOP({
        __m256 x0 = _mm256_loadu_ps(b + (size_t)q * ldb);
        __m256 x1 = _mm256_loadu_ps(b + (size_t)q * ldb + 8);
        for (int r = 0; r < R; r++) {
            __m256 s = _mm256_broadcast_ss(ap + (size_t)r * lda);
            acc[r][0] = _mm256_fmadd_ps(s, x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(s, x1, acc[r][1]);
        }
    })
    for (int r = 0; r < R; r++) { /* the bias after the sum, as the reference loops add it */
        _mm256_storeu_ps(c + (size_t)r * ldc, act8(_mm256_add_ps(acc[r][0], b0), kind, alpha));
        _mm256_storeu_ps(c + (size_t)r * ldc + 8, act8(_mm256_add_ps(acc[r][1], b1), kind, alpha));
    }
}

/* A block of R rows by 8 columns. */
TARGET INLINE void block8(int R, seg_t sg, const float *a, int lda, const float *b, int ldb,
                          int ldc, const float *bias, int kind, __m256 alpha, float *c)
{
    __m256 acc[6];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    KLOOP({
        __m256 x0 = _mm256_loadu_ps(b + (size_t)q * ldb);
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + (size_t)r * lda), x0, acc[r]);
    })
    for (int r = 0; r < R; r++)
        _mm256_storeu_ps(c + (size_t)r * ldc, act8(_mm256_add_ps(acc[r], b0), kind, alpha));
}

/* A block of R rows by the last @rem < 8 columns: masked loads and stores. */
TARGET INLINE void block_tail(int R, seg_t sg, const float *a, int lda, const float *b, int ldb,
                              int ldc, const float *bias, int kind, __m256 alpha, int rem, float *c)
{
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[6];
    __m256 b0 = bias ? _mm256_maskload_ps(bias, mask) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    KLOOP({
        __m256 x0 = _mm256_maskload_ps(b + (size_t)q * ldb, mask);
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + (size_t)r * lda), x0, acc[r]);
    })
    for (int r = 0; r < R; r++)
        _mm256_maskstore_ps(c + (size_t)r * ldc, mask,
                            act8(_mm256_add_ps(acc[r], b0), kind, alpha));
}

/* Column panel [j, j + w) (w = 16, 8 or the tail) over all rows, six at a time: the panel of B
 * stays in L1 while A's rows pass. */
TARGET INLINE void panel(int w, int m, seg_t sg, const float *a, int lda, const float *b, int ldb,
                         int n, const float *bias, int kind, __m256 alpha, float *c)
{
    for (int i = 0; i < m; i += 6) {
        int R = m - i < 6 ? m - i : 6;
        const float *ai = a + (size_t)i * lda;
        float *ci = c + (size_t)i * n;
#define PANEL_ROWS(RR)                                                                             \
    do {                                                                                           \
        if (w == 16)                                                                               \
            block16(RR, sg, ai, lda, b, ldb, n, bias, kind, alpha, ci);                            \
        else if (w == 8)                                                                           \
            block8(RR, sg, ai, lda, b, ldb, n, bias, kind, alpha, ci);                             \
        else                                                                                       \
            block_tail(RR, sg, ai, lda, b, ldb, n, bias, kind, alpha, w, ci);                      \
    } while (0)
        switch (R) { /* a constant row count in each copy, so the row loops unroll */
        case 6:
            PANEL_ROWS(6);
            break;
        case 5:
            PANEL_ROWS(5);
            break;
        case 4:
            PANEL_ROWS(4);
            break;
        case 3:
            PANEL_ROWS(3);
            break;
        case 2:
            PANEL_ROWS(2);
            break;
        default:
            PANEL_ROWS(1);
            break;
        }
#undef PANEL_ROWS
    }
}

TARGET static void gemm_avx2(int m, int n, seg_t sg, const float *a, int lda, const float *b,
                             int packed, const float *bias, const vg_act_t *act, float *c)
{
    const int k = sg.n * sg.len;
    int kind = act ? act->kind : VG_ACT_NONE;
    __m256 alpha = _mm256_set1_ps(act ? act->alpha : 0.0f);
    /* B small enough for L2: six rows at a time across all columns, so that each row of C is
     * written whole; else column panels of B across all rows, so that B is read once */
    int step = (size_t)k * n * sizeof(float) <= 192 * 1024 ? 6 : m;
    for (int i0 = 0; i0 < m; i0 += step) {
        int mm = m - i0 < step ? m - i0 : step;
        const float *ai = a + (size_t)i0 * lda;
        float *ci = c + (size_t)i0 * n;
        for (int j = 0; j < n;) {
            int w = n - j >= 16 ? 16 : n - j >= 8 ? 8 : n - j;
            /* packed: the panel's k rows of w values follow each other (vg__gemm_pack) */
            const float *bj = packed ? b + (size_t)j * k : b + j;
            panel(w, mm, sg, ai, lda, bj, packed ? w : n, n, bias ? bias + j : NULL, kind, alpha,
                  ci + j);
            j += w;
        }
    }
}

/* ---- AVX-512 ---- */

#define TARGET512 __attribute__((target("avx512f,avx2,fma")))

TARGET512 INLINE __m512 sigm16(__m512 v, int times)
{
    __m512 x =
        _mm512_max_ps(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), v), _mm512_set1_ps(88.0f)),
                      _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 ex = _mm512_scalef_ps(p, n); /* p * 2^n */
    __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), ex));
    return times ? _mm512_mul_ps(v, s) : s;
}

TARGET512 INLINE __m512 act16(__m512 v, int kind, __m512 alpha)
{
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    switch (kind) {
    case VG_ACT_SILU:
        return sigm16(v, 1);
    case VG_ACT_SIGMOID:
        return sigm16(v, 0);
    case VG_ACT_RELU:
        return _mm512_max_ps(v, zero);
    case VG_ACT_RELU6:
        return _mm512_min_ps(_mm512_max_ps(v, zero), six);
    case VG_ACT_LEAKY:
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, alpha);
    default:
        return v;
    }
}

/* R rows (R <= 12) by 32 columns: B's two 16-wide halves at @b0 and @b1, rows @ldb apart. */
TARGET512 INLINE void zblock32(int R, seg_t sg, const float *a, int lda, const float *b0,
                               const float *b1, int ldb, int ldc, const float *bias, int kind,
                               __m512 alpha, float *c)
{
    __m512 acc[12][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    KLOOP({
        __m512 x0 = _mm512_loadu_ps(b0 + (size_t)q * ldb);
        __m512 x1 = _mm512_loadu_ps(b1 + (size_t)q * ldb);
        for (int r = 0; r < R; r++) {
            __m512 s = _mm512_set1_ps(ap[(size_t)r * lda]);
            acc[r][0] = _mm512_fmadd_ps(s, x0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(s, x1, acc[r][1]);
        }
    })
    __m512 z0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 z1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) { /* the bias after the sum, as the reference loops add it */
        _mm512_storeu_ps(c + (size_t)r * ldc, act16(_mm512_add_ps(acc[r][0], z0), kind, alpha));
        _mm512_storeu_ps(c + (size_t)r * ldc + 16,
                         act16(_mm512_add_ps(acc[r][1], z1), kind, alpha));
    }
}

/* R rows by @w <= 16 columns (a mask below 16). */
TARGET512 INLINE void zblock16(int R, seg_t sg, const float *a, int lda, const float *b, int ldb,
                               int ldc, const float *bias, int kind, __m512 alpha, int w, float *c)
{
    const __mmask16 mask = (__mmask16)(w >= 16 ? 0xffff : (1u << w) - 1);
    __m512 acc[12];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    KLOOP({
        __m512 x0 = _mm512_maskz_loadu_ps(mask, b + (size_t)q * ldb);
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[(size_t)r * lda]), x0, acc[r]);
    })
    __m512 z0 = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++)
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, mask,
                              act16(_mm512_add_ps(acc[r], z0), kind, alpha));
}

/* Rows [0, m) against one column block: 32 wide (@b1 set) or @w <= 16 wide. */
TARGET512 INLINE void zpanel(int m, seg_t sg, const float *a, int lda, const float *b0,
                             const float *b1, int ldb, int w, int n, const float *bias, int kind,
                             __m512 alpha, float *c)
{
    for (int i = 0; i < m; i += 12) {
        int R = m - i < 12 ? m - i : 12;
        const float *ai = a + (size_t)i * lda;
        float *ci = c + (size_t)i * n;
#define ZROWS(RR)                                                                                  \
    do {                                                                                           \
        if (b1)                                                                                    \
            zblock32(RR, sg, ai, lda, b0, b1, ldb, n, bias, kind, alpha, ci);                      \
        else                                                                                       \
            zblock16(RR, sg, ai, lda, b0, ldb, n, bias, kind, alpha, w, ci);                       \
    } while (0)
        switch (R) { /* a constant row count in each copy, so the row loops unroll */
        case 12:
            ZROWS(12);
            break;
        case 11:
            ZROWS(11);
            break;
        case 10:
            ZROWS(10);
            break;
        case 9:
            ZROWS(9);
            break;
        case 8:
            ZROWS(8);
            break;
        case 7:
            ZROWS(7);
            break;
        case 6:
            ZROWS(6);
            break;
        case 5:
            ZROWS(5);
            break;
        case 4:
            ZROWS(4);
            break;
        case 3:
            ZROWS(3);
            break;
        case 2:
            ZROWS(2);
            break;
        default:
            ZROWS(1);
            break;
        }
#undef ZROWS
    }
}

TARGET512 static void gemm_avx512(int m, int n, seg_t sg, const float *a, int lda, const float *b,
                                  int packed, const float *bias, const vg_act_t *act, float *c)
{
    const int k = sg.n * sg.len;
    int kind = act ? act->kind : VG_ACT_NONE;
    __m512 alpha = _mm512_set1_ps(act ? act->alpha : 0.0f);
    int step = (size_t)k * n * sizeof(float) <= 192 * 1024 ? 12 : m;
    for (int i0 = 0; i0 < m; i0 += step) {
        int mm = m - i0 < step ? m - i0 : step;
        const float *ai = a + (size_t)i0 * lda;
        float *ci = c + (size_t)i0 * n;
        for (int j = 0; j < n;) {
            /* the packed panels are 16, then 8, then the rest wide (vg__gemm_pack) */
            int w = n - j >= 32 ? 32 : n - j >= 16 ? 16 : n - j >= 8 && packed ? 8 : n - j;
            const float *b0 = packed ? b + (size_t)j * k : b + j;
            const float *b1 = w == 32 ? (packed ? b + (size_t)(j + 16) * k : b + j + 16) : NULL;
            int ldb = packed ? (w == 32 ? 16 : w) : n;
            zpanel(mm, sg, ai, lda, b0, b1, ldb, w == 32 ? 16 : w, n, bias ? bias + j : NULL, kind,
                   alpha, ci + j);
            j += w;
        }
    }
}

/* What the processor has (-1: not known yet; 0 none; 2 AVX2 + FMA; 3 AVX-512F too) and what the
 * kernel uses (tests may lower it). */
static int hw = -1, level = -1;

static int cpu_level(void)
{
    if (hw < 0) {
        __builtin_cpu_init();
        hw = !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0
             : __builtin_cpu_supports("avx512f")                                ? 3
                                                                                : 2;
        level = hw;
    }
    return level;
}

int vg__gemm_available(void)
{
    return cpu_level() >= 2;
}

int vg__gemm_set_level(int want)
{
    cpu_level();
    level = want < hw ? want : hw;
    return level;
}

int vg__gemm_conv(int m, int n, int nseg, int seglen, size_t segstride, const float *a, int lda,
                  const float *b, int packed, const float *bias, const vg_act_t *act, float *c)
{
    if (!vg__gemm_available()) return VG_ENOSYS;
    /* the fused activations; another (hard-swish) is applied by the caller */
    if (act && act->kind != VG_ACT_NONE && act->kind != VG_ACT_RELU && act->kind != VG_ACT_RELU6 &&
        act->kind != VG_ACT_LEAKY && act->kind != VG_ACT_SILU && act->kind != VG_ACT_SIGMOID)
        return VG_ENOSYS;
    seg_t sg = {nseg, seglen, segstride};
    if (cpu_level() >= 3)
        gemm_avx512(m, n, sg, a, lda, b, packed, bias, act, c);
    else
        gemm_avx2(m, n, sg, a, lda, b, packed, bias, act, c);
    return 0;
}

int vg__gemm_pointwise(int m, int n, int k, const float *a, int lda, const float *b, int packed,
                       const float *bias, const vg_act_t *act, float *c)
{
    return vg__gemm_conv(m, n, 1, k, 0, a, lda, b, packed, bias, act, c);
}
#else
int vg__gemm_available(void)
{
    return 0;
}

int vg__gemm_set_level(int want)
{
    (void)want;
    return 0;
}

int vg__gemm_conv(int m, int n, int nseg, int seglen, size_t segstride, const float *a, int lda,
                  const float *b, int packed, const float *bias, const vg_act_t *act, float *c)
{
    (void)m, (void)n, (void)nseg, (void)seglen, (void)segstride, (void)a, (void)lda, (void)b;
    (void)packed, (void)bias, (void)act, (void)c;
    return VG_ENOSYS;
}

int vg__gemm_pointwise(int m, int n, int k, const float *a, int lda, const float *b, int packed,
                       const float *bias, const vg_act_t *act, float *c)
{
    return vg__gemm_conv(m, n, 1, k, 0, a, lda, b, packed, bias, act, c);
}
#endif

size_t vg__gemm_packed_size(int k, int n)
{
    return (size_t)k * n + 8; /* a masked load of the last row may reach 8 values */
}

void vg__gemm_pack(int k, int n, const float *b, float *packed)
{
    for (int j = 0; j < n;) {
        int w = n - j >= 16 ? 16 : n - j >= 8 ? 8 : n - j;
        float *p = packed + (size_t)j * k;
        for (int q = 0; q < k; q++)
            for (int jj = 0; jj < w; jj++) p[(size_t)q * w + jj] = b[(size_t)q * n + j + jj];
        j += w;
    }
    for (int i = 0; i < 8; i++) packed[(size_t)k * n + i] = 0;
}
