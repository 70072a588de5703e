/*
 * Convolutions in 8-bit integers (detector.precision = int8): the same convolution as
 * vg__conv2d_gemm, its products taken on bytes by AVX-512 VNNI's VPDPBUSD, which multiplies 64
 * unsigned bytes by 64 signed bytes and adds them four by four into 16 32-bit sums: four times
 * the multiply-adds of a float FMA per instruction.
 *
 * Quantisation (the "dynamic" scheme of ONNX Runtime's and PyTorch's dynamic quantisation):
 * - filters, once at load: per output channel, symmetric, w = round(f / s_o) in [-127, 127] with
 *   s_o = max |f| / 127 over the channel's k terms;
 * - the input, at each run: one scale and zero point for the whole tensor from its minimum and
 *   maximum (0 always inside: a zero padding stays exact), q = round(x / s) + z in [0, 255];
 * - sum_q (a_q - z) w_q = sum_q a_q w_q - z sum_q w_q: the second sum is the channel's, kept at
 *   load; the output is that times s s_o, plus the bias, then the activation, in floats.
 * The result differs from the float convolution by the rounding of each input to s / 2 and of
 * each weight to s_o / 2: measured against it on the detector's outputs (bench/nn, test_nn).
 *
 * Layout: the filter [k][o] (HWIO flattened, the im2col order) becomes k4 / 4 steps of o16
 * columns of 4 bytes (k4 = k rounded up to 4 with zero weights, o16 = o rounded up to 16), the
 * order the kernel reads: each step, for a block of 6 output pixels and 4 x 16 channels, 4
 * vector loads of the filter, 6 broadcasts of 4 input bytes, 24 VPDPBUSD (24 of the 32 registers
 * hold the sums). A pointwise convolution with channels a multiple of 4 reads the quantised
 * input in place; others go through an im2col of bytes (a quarter of the floats' traffic), rows
 * padded to k4 with the zero point.
 *
 * Available on processors with AVX-512 F, BW and VNNI (vg__q8_available); elsewhere the model
 * keeps its float kernels and the option says so once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>

#include "ops.h"

struct vg_q8conv {
    int k, k4, o, o16;
    int8_t *w;     /* k4 / 4 steps of o16 x 4 bytes */
    float *sw;     /* o16: per channel scale (0 for padding channels) */
    int32_t *wsum; /* o16: the sum of the channel's quantised weights */
};

vg_q8conv_t *vg__q8_pack(int k, int o, const float *b)
{
    if (k < 1 || o < 1) return NULL;
    vg_q8conv_t *q = vg_calloc(1, sizeof(*q));
    if (!q) return NULL;
    q->k = k, q->k4 = (k + 3) & ~3, q->o = o, q->o16 = (o + 15) & ~15;
    q->w = vg_malloc_aligned((size_t)q->k4 * q->o16);
    q->sw = vg_calloc((size_t)q->o16, sizeof(float));
    q->wsum = vg_calloc((size_t)q->o16, sizeof(int32_t));
    if (!q->w || !q->sw || !q->wsum) {
        vg__q8_free(&q);
        return NULL;
    }
    memset(q->w, 0, (size_t)q->k4 * q->o16);
    for (int j = 0; j < o; j++) {
        float mx = 0;
        for (int t = 0; t < k; t++) mx = fmaxf(mx, fabsf(b[(size_t)t * o + j]));
        float s = mx > 0 ? mx / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int t = 0; t < k; t++) {
            long v = lrintf(b[(size_t)t * o + j] / s);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q->w[((size_t)(t >> 2) * q->o16 + j) * 4 + (t & 3)] = (int8_t)v;
            sum += (int32_t)v;
        }
        q->sw[j] = s;
        q->wsum[j] = sum;
    }
    return q;
}

void vg__q8_free(vg_q8conv_t **pq)
{
    vg_q8conv_t *q = *pq;
    if (!q) return;
    vg_free_aligned(q->w);
    vg_free(q->sw);
    vg_free(q->wsum);
    vg_free(q);
    *pq = NULL;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TQ     __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

int vg__q8_available(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    }
    return have;
}

/* R rows of A (@lda bytes apart, k4 bytes each) by NB blocks of 16 channels from @j: the sums,
 * then (sum - z wsum) s s_o + bias into C (@o floats a row), the last block masked to @o; the
 * activation @ak (VG_ACT_RELU, _RELU6 or _LEAKY with @aa; else none) applied on the way, with
 * act_inline's comparisons (MAXPS and MINPS are its ternaries exactly). */
TQ INLINE void tile(const int R, const int NB, const uint8_t *a, size_t lda, int k4,
                    const vg_q8conv_t *q, int j, int32_t z, float sa, const float *bias, float *c,
                    int o, int ak, float aa)
{
    __m512i acc[6][4];
    for (int r = 0; r < R; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_si512();
    const int8_t *wp = q->w + (size_t)j * 4;
    const size_t wstep = (size_t)q->o16 * 4;
    for (int t = 0; t < k4; t += 4, wp += wstep) {
        __m512i w[4];
        for (int b = 0; b < NB; b++) w[b] = _mm512_load_si512((const void *)(wp + b * 64));
        for (int r = 0; r < R; r++) {
            int32_t v;
            memcpy(&v, a + r * lda + t, 4);
            __m512i av = _mm512_set1_epi32(v);
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], av, w[b]);
        }
    }
    for (int b = 0; b < NB; b++) {
        int jj = j + b * 16;
        __m512i zw = _mm512_mullo_epi32(_mm512_set1_epi32(z), _mm512_loadu_si512(q->wsum + jj));
        __m512 sc = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(q->sw + jj));
        __mmask16 mk = o - jj >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (o - jj)) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias + jj) : _mm512_setzero_ps();
        const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f),
                     alpha = _mm512_set1_ps(aa);
        for (int r = 0; r < R; r++) {
            __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][b], zw));
            __m512 v = _mm512_fmadd_ps(f, sc, bv);
            if (ak == VG_ACT_RELU) {
                v = _mm512_max_ps(v, zero); /* v > 0 ? v : 0 */
            } else if (ak == VG_ACT_RELU6) {
                v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
            } else if (ak == VG_ACT_LEAKY) {
                __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GE_OQ);
                v = _mm512_mask_blend_ps(pos, _mm512_mul_ps(alpha, v), v); /* v >= 0 ? v : a v */
            }
            _mm512_mask_storeu_ps(c + (size_t)r * o + jj, mk, v);
        }
    }
}

#define NBCASE(R)                                                                                  \
    switch (nb) {                                                                                  \
    case 4:                                                                                        \
        tile(R, 4, a, lda, k4, q, j, z, sa, bias, c, o, ak, aa);                                   \
        break;                                                                                     \
    case 3:                                                                                        \
        tile(R, 3, a, lda, k4, q, j, z, sa, bias, c, o, ak, aa);                                   \
        break;                                                                                     \
    case 2:                                                                                        \
        tile(R, 2, a, lda, k4, q, j, z, sa, bias, c, o, ak, aa);                                   \
        break;                                                                                     \
    default:                                                                                       \
        tile(R, 1, a, lda, k4, q, j, z, sa, bias, c, o, ak, aa);                                   \
        break;                                                                                     \
    }

/* C[m][o] from A's @m rows (@lda bytes apart). */
TQ static void q8_gemm(int m, const uint8_t *a0, size_t lda, const vg_q8conv_t *q, int32_t z,
                       float sa, const float *bias, float *c0, int ak, float aa)
{
    const int o = q->o, k4 = q->k4;
    for (int i = 0; i < m; i += 6) {
        int rows = m - i < 6 ? m - i : 6;
        const uint8_t *a = a0 + (size_t)i * lda;
        float *c = c0 + (size_t)i * o;
        for (int j = 0; j < o; j += 64) {
            int nb = (o - j + 15) / 16;
            nb = nb > 4 ? 4 : nb;
            switch (rows) {
            case 6:
                NBCASE(6) break;
            case 5:
                NBCASE(5) break;
            case 4:
                NBCASE(4) break;
            case 3:
                NBCASE(3) break;
            case 2:
                NBCASE(2) break;
            default:
                NBCASE(1) break;
            }
        }
    }
}
#undef NBCASE

/* The tensor's range, 0 included; scale and zero point; the bytes. */
TQ static void quantise(const float *x, size_t n, uint8_t *out, float *scale, int32_t *zero)
{
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo = _mm512_min_ps(lo, v), hi = _mm512_max_ps(hi, v);
    }
    float mn = _mm512_reduce_min_ps(lo), mx = _mm512_reduce_max_ps(hi);
    for (; i < n; i++) mn = fminf(mn, x[i]), mx = fmaxf(mx, x[i]);
    float s = (mx - mn) / 255.0f;
    if (!(s > 0) || !isfinite(s)) s = 1.0f;
    int32_t z = (int32_t)lrintf(-mn / s);
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    const __m512 inv = _mm512_set1_ps(1.0f / s), zf = _mm512_set1_ps((float)z);
    const __m512 f0 = _mm512_setzero_ps(), f255 = _mm512_set1_ps(255.0f);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), inv, zf);
        v = _mm512_min_ps(_mm512_max_ps(v, f0), f255);
        __m512i iv = _mm512_cvtps_epi32(v); /* round to nearest */
        _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtusepi32_epi8(iv));
    }
    for (; i < n; i++) {
        long v = lrintf(x[i] / s) + z;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    *scale = s, *zero = z;
}

int vg__conv2d_q8(const vg_conv_geom_t *g, const float *in, const vg_q8conv_t *q, const float *bias,
                  const vg_act_t *act, float *out)
{
    const int k = g->kh * g->kw * g->c, m = g->oh * g->ow;
    if (!vg__q8_available()) return VG_ENOSYS;
    if (q->k != k || q->o != g->o) return VG_EBUG;
    const size_t nin = (size_t)g->n * g->h * g->w * g->c;
    const int inplace = g->kh == 1 && g->kw == 1 && g->sy == 1 && g->sx == 1 && g->pt == 0 &&
                        g->pl == 0 && g->c % 4 == 0;
    /* im2col blocks of about 64 kB of bytes: in L2 with their output rows */
    int rows = inplace ? m : (int)(65536 / (size_t)q->k4);
    rows = rows < 6 ? 6 : rows > m ? m : rows;
    uint8_t *qin = vg_malloc(nin + 64);
    uint8_t *col = inplace ? NULL : vg_malloc((size_t)rows * q->k4 + 64);
    if (!qin || (!inplace && !col)) {
        vg_free(qin);
        vg_free(col);
        return VG_ENOMEM;
    }
    float sa;
    int32_t z;
    quantise(in, nin, qin, &sa, &z);
    /* the simple activations are applied in the kernel's stores, the others after */
    const int ak = act ? act->kind : VG_ACT_NONE;
    const int fused = ak == VG_ACT_RELU || ak == VG_ACT_RELU6 || ak == VG_ACT_LEAKY;
    const float aa = act ? act->alpha : 0;
    for (int b = 0; b < g->n; b++) {
        const uint8_t *img = qin + (size_t)b * g->h * g->w * g->c;
        float *o = out + (size_t)b * m * g->o;
        if (inplace) {
            q8_gemm(m, img, (size_t)g->c, q, z, sa, bias, o, ak, aa);
            continue;
        }
        for (int r0 = 0; r0 < m; r0 += rows) {
            int nr = m - r0 < rows ? m - r0 : rows;
            for (int p = r0; p < r0 + nr; p++) {
                uint8_t *row = col + (size_t)(p - r0) * q->k4;
                int oy = p / g->ow, ox = p % g->ow;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sy + ky * g->dy - g->pt, ix0 = ox * g->sx - g->pl;
                    if (g->dx == 1 && iy >= 0 && iy < g->h && ix0 >= 0 && ix0 + g->kw <= g->w) {
                        /* the row's taps are side by side in the picture: one copy */
                        size_t len = (size_t)g->kw * g->c;
                        memcpy(row, img + ((size_t)iy * g->w + ix0) * g->c, len);
                        row += len;
                        continue;
                    }
                    for (int kx = 0; kx < g->kw; kx++, row += g->c) {
                        int ix = ox * g->sx + kx * g->dx - g->pl;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            memset(row, z, (size_t)g->c);
                        else
                            memcpy(row, img + ((size_t)iy * g->w + ix) * g->c, (size_t)g->c);
                    }
                }
                memset(row, z, (size_t)(q->k4 - k)); /* (zero weights there) */
            }
            q8_gemm(nr, col, (size_t)q->k4, q, z, sa, bias, o + (size_t)r0 * g->o, ak, aa);
        }
    }
    vg_free(qin);
    vg_free(col);
    if (act && !fused && act->kind != VG_ACT_NONE) vg__act(out, out, (size_t)g->n * m * g->o, act);
    return 0;
}
#else
int vg__q8_available(void)
{
    return 0;
}

int vg__conv2d_q8(const vg_conv_geom_t *g, const float *in, const vg_q8conv_t *q, const float *bias,
                  const vg_act_t *act, float *out)
{
    (void)g, (void)in, (void)q, (void)bias, (void)act, (void)out;
    return VG_ENOSYS;
}
#endif
