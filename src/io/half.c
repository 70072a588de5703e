/*
 * Halving 8-bit YUV 4:2:0 pictures to the analysis size without libswscale (issue #24).
 *
 * A 1280x720 camera analysed at 640 px wide is exactly halved; libswscale's bilinear then spent
 * about 1 ms a frame scaling the luma twice (grey, and again inside the BGR conversion) and the
 * chroma planes, through its generic filters: the third of a camera's work after decoding. Here:
 * - grey: libswscale's bilinear at 2:1 is the separable [1 3 3 1] / 8 filter on each axis (taps
 *   2x - 1 .. 2x + 2, clamped at the edges); computed in integers, it matches libswscale's output
 *   to within one grey level (93 % of pixels equal on the AVSS 720p clip: test_source);
 * - BGR: libswscale's BGR24 output shares each chroma sample between two pixels, the chroma
 *   halved horizontally by the same filter; then BT.601 in 13-bit fixed point, limited range
 *   (yuv420p) or full range (yuvj420p), as libswscale's defaults: within a few levels of its
 *   output (test_source);
 * - chroma planes at half the analysis size: the same [1 3 3 1] halving of U and V.
 * Loops over rows of plain integers: GCC vectorises them (-O3).
 */
#include <stdint.h>
#include <string.h>

#include "half.h"

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* One output row of the [1 3 3 1] halving: @v holds the vertical sums (x 8) of @w input
 * columns; @out gets @ow = w / 2 values. */
static void half_row(const uint16_t *v, int w, uint8_t *out, int ow)
{
    /* edges: column -1 is column 0, column w is column w - 1 */
    out[0] = (uint8_t)((v[0] + 3 * v[0] + 3 * v[1] + v[2] + 32) >> 6);
    for (int x = 1; x < ow - 1; x++)
        out[x] =
            (uint8_t)((v[2 * x - 1] + 3 * v[2 * x] + 3 * v[2 * x + 1] + v[2 * x + 2] + 32) >> 6);
    if (ow > 1) {
        int x = ow - 1, r = 2 * x + 2 < w ? 2 * x + 2 : w - 1;
        out[x] = (uint8_t)((v[2 * x - 1] + 3 * v[2 * x] + 3 * v[2 * x + 1] + v[r] + 32) >> 6);
    }
}

/* The vertical sums for output row @y of a plane of @h rows. */
static void vsum(const uint8_t *src, ptrdiff_t ls, int w, int h, int y, uint16_t *v)
{
    const uint8_t *r0 = src + (ptrdiff_t)clampi(2 * y - 1, 0, h - 1) * ls,
                  *r1 = src + (ptrdiff_t)(2 * y) * ls,
                  *r2 = src + (ptrdiff_t)clampi(2 * y + 1, 0, h - 1) * ls,
                  *r3 = src + (ptrdiff_t)clampi(2 * y + 2, 0, h - 1) * ls;
    for (int x = 0; x < w; x++) v[x] = (uint16_t)(r0[x] + 3 * r1[x] + 3 * r2[x] + r3[x]);
}

/* Output pixel @x of the rows @r (the [1 3 3 1] row's taps, edges clamped). */
static uint8_t one_px(const uint8_t *const r[4], int w, int x)
{
    int c[4] = {clampi(2 * x - 1, 0, w - 1), 2 * x, clampi(2 * x + 1, 0, w - 1),
                clampi(2 * x + 2, 0, w - 1)};
    int acc = 0;
    for (int k = 0; k < 4; k++) {
        int rk = k == 1 || k == 2 ? 3 : 1;
        acc += rk * (r[k][c[0]] + 3 * r[k][c[1]] + 3 * r[k][c[2]] + r[k][c[3]]);
    }
    return (uint8_t)((acc + 32) >> 6);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static int have_avx2(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2");
    }
    return have;
}

/* Output pixels [1, n) of row @y, 16 at a time, horizontal first: with p[k] = r[k] + r[k + 1]
 * (VPMADDUBSW by ones), r[2x-1] + 3 r[2x] + 3 r[2x+1] + r[2x+2] = p[2x-1] + 2 p[2x] + p[2x+1];
 * then the rows' [1 3 3 1]. The same integers as the scalar loops. Returns where it stopped. */
__attribute__((target("avx2"))) static int half_row_avx2(const uint8_t *const r[4], int w,
                                                         uint8_t *out)
{
    const __m256i ones = _mm256_set1_epi8(1), three = _mm256_set1_epi16(3),
                  r32 = _mm256_set1_epi16(32);
    /* the last 16 start at the last place that fits, over some already made (the same
     * values): only the edge pixel is left to the caller */
    int x = 1, last = (w - 33) / 2, stop = 0;
    for (; !stop && last >= 1 && x <= last + 15; x += 16) {
        if (x > last) x = last, stop = 1;
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            const uint8_t *p = r[k] + 2 * x;
            __m256i a = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)(p - 1)), ones),
                    b = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)p), ones),
                    c = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)(p + 1)), ones);
            __m256i hsum = _mm256_add_epi16(_mm256_add_epi16(a, c), _mm256_add_epi16(b, b));
            acc = _mm256_add_epi16(acc, k == 1 || k == 2 ? _mm256_mullo_epi16(hsum, three) : hsum);
        }
        __m256i v = _mm256_srli_epi16(_mm256_add_epi16(acc, r32), 6);
        __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0xd8);
        _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(pk));
    }
    return x;
}
#endif

void vg__half_plane(const uint8_t *src, ptrdiff_t ls, int w, int h, uint8_t *dst, ptrdiff_t ds,
                    uint16_t *tmp)
{
    for (int y = 0; y < h / 2; y++) {
        uint8_t *out = dst + (ptrdiff_t)y * ds;
#if defined(__x86_64__) && defined(__GNUC__)
        if (have_avx2() && w >= 40) {
            const uint8_t *r[4] = {src + (ptrdiff_t)clampi(2 * y - 1, 0, h - 1) * ls,
                                   src + (ptrdiff_t)(2 * y) * ls,
                                   src + (ptrdiff_t)clampi(2 * y + 1, 0, h - 1) * ls,
                                   src + (ptrdiff_t)clampi(2 * y + 2, 0, h - 1) * ls};
            int x = half_row_avx2(r, w, out);
            /* the first and the last pixels (the edges clamp), one by one */
            out[0] = one_px(r, w, 0);
            for (; x < w / 2; x++) out[x] = one_px(r, w, x);
            continue;
        }
#endif
        vsum(src, ls, w, h, y, tmp);
        half_row(tmp, w, out, w / 2);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The [1 3 3 1] halving of one row of @w bytes alone (x 8, rounded as half_row: (h + 4) >> 3),
 * 32 outputs at a time from @x = 1, as half_row_avx2 does with four rows; returns where it
 * stopped. */
__attribute__((target("avx2"))) static int hrow_avx2(const uint8_t *p0, int w, uint8_t *out)
{
    const __m256i ones = _mm256_set1_epi8(1), r4 = _mm256_set1_epi16(4);
    /* the last 16 start at the last place that fits, over some already made (the same
     * values): only the edge pixel is left to the caller */
    int x = 1, last = (w - 33) / 2, stop = 0;
    for (; !stop && last >= 1 && x <= last + 15; x += 16) {
        if (x > last) x = last, stop = 1;
        const uint8_t *p = p0 + 2 * x;
        __m256i a = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)(p - 1)), ones),
                b = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)p), ones),
                c = _mm256_maddubs_epi16(_mm256_loadu_si256((const void *)(p + 1)), ones);
        __m256i h = _mm256_add_epi16(_mm256_add_epi16(a, c), _mm256_add_epi16(b, b));
        __m256i v = _mm256_srli_epi16(_mm256_add_epi16(h, r4), 3);
        __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0xd8);
        _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(pk));
    }
    return x;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* BGR of one row, 8 pixels at a time, in the same integers as the scalar loop (packus clamps to
 * [0, 255] as clampi does); returns how many pixels it did. */
__attribute__((target("avx2"))) static int bgr_row_avx2(const uint8_t *g, const uint8_t *uh,
                                                        const uint8_t *vh, int ow, const int k[7],
                                                        uint8_t *o)
{
    const __m256i cy = _mm256_set1_epi32(k[0]), yo = _mm256_set1_epi32(k[1]),
                  crv = _mm256_set1_epi32(k[2]), cgu = _mm256_set1_epi32(k[3]),
                  cgv = _mm256_set1_epi32(k[4]), cbu = _mm256_set1_epi32(k[5]),
                  half = _mm256_set1_epi32(4096), c128 = _mm256_set1_epi32(128),
                  dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    /* [b0..b7 g0..g7] and [r0..r7] to b g r b g r ...: bytes 0-15 then 16-23 */
    const __m128i m_bg0 = _mm_setr_epi8(0, 8, -1, 1, 9, -1, 2, 10, -1, 3, 11, -1, 4, 12, -1, 5),
                  m_r0 = _mm_setr_epi8(-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1),
                  m_bg1 =
                      _mm_setr_epi8(13, -1, 6, 14, -1, 7, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1),
                  m_r1 = _mm_setr_epi8(-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, -1, -1, -1, -1, -1, -1);
    int x = 0;
    for (; x + 8 <= ow && x / 2 + 4 <= (ow + 1) / 2; x += 8) {
        int32_t u4, v4;
        memcpy(&u4, uh + x / 2, 4);
        memcpy(&v4, vh + x / 2, 4);
        __m256i yv =
            _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(g + x))), yo);
        __m256i u = _mm256_sub_epi32(
            _mm256_permutevar8x32_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi32_si128(u4)), dup), c128);
        __m256i v = _mm256_sub_epi32(
            _mm256_permutevar8x32_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi32_si128(v4)), dup), c128);
        __m256i yy = _mm256_add_epi32(_mm256_mullo_epi32(yv, cy), half);
        __m256i b = _mm256_srai_epi32(_mm256_add_epi32(yy, _mm256_mullo_epi32(cbu, u)), 13);
        __m256i gg =
            _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(yy, _mm256_mullo_epi32(cgu, u)),
                                               _mm256_mullo_epi32(cgv, v)),
                              13);
        __m256i r = _mm256_srai_epi32(_mm256_add_epi32(yy, _mm256_mullo_epi32(crv, v)), 13);
        /* 32 to 16 bits (values within +-600: exact), then to bytes clamped */
        __m128i b16 = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
        __m128i g16 = _mm_packs_epi32(_mm256_castsi256_si128(gg), _mm256_extracti128_si256(gg, 1));
        __m128i r16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        __m128i bg = _mm_packus_epi16(b16, g16), rr = _mm_packus_epi16(r16, r16);
        __m128i o0 = _mm_or_si128(_mm_shuffle_epi8(bg, m_bg0), _mm_shuffle_epi8(rr, m_r0));
        __m128i o1 = _mm_or_si128(_mm_shuffle_epi8(bg, m_bg1), _mm_shuffle_epi8(rr, m_r1));
        _mm_storeu_si128((__m128i *)(o + 3 * x), o0);
        _mm_storel_epi64((__m128i *)(o + 3 * x + 16), o1);
    }
    return x;
}
#endif

void vg__half_bgr(const uint8_t *const planes[3], const int ls[3], int w, int h, int full,
                  const uint8_t *grey, ptrdiff_t gs, uint8_t *dst, ptrdiff_t ds, uint16_t *tmp)
{
    const int ow = w / 2, oh = h / 2, cw = ow / 2;
    /* 13-bit BT.601 coefficients: limited range scales luma by 255/219, chroma by 255/224 */
    const int cy = full ? 8192 : 9539, yo = full ? 0 : 16;
    const int crv = full ? 11485 : 13075, cgu = full ? 2819 : 3209, cgv = full ? 5850 : 6660,
              cbu = full ? 14516 : 16525;
    uint8_t *uh = (uint8_t *)(tmp + ow), *vh = uh + cw + 16;
    for (int y = 0; y < oh; y++) {
        /* the chroma row (the planes are ow x oh: already at the analysis size vertically),
         * halved horizontally */
        for (int k = 0; k < 2; k++) {
            const uint8_t *c = planes[1 + k] + (ptrdiff_t)y * ls[1 + k];
            uint8_t *ch = k ? vh : uh;
#if defined(__x86_64__) && defined(__GNUC__)
            if (have_avx2() && ow >= 40) {
                /* (8 h + 32) >> 6 of half_row is (h + 4) >> 3: the same integers */
                int x = hrow_avx2(c, ow, ch);
                ch[0] = (uint8_t)((4 * c[0] + 3 * c[1] + c[2] + 4) >> 3);
                for (; x < cw; x++) {
                    int r = 2 * x + 2 < ow ? 2 * x + 2 : ow - 1;
                    ch[x] =
                        (uint8_t)((c[2 * x - 1] + 3 * c[2 * x] + 3 * c[2 * x + 1] + c[r] + 4) >> 3);
                }
                continue;
            }
#endif
            for (int x = 0; x < ow; x++) tmp[x] = (uint16_t)(8 * c[x]);
            half_row(tmp, ow, ch, cw);
        }
        const uint8_t *g = grey + (ptrdiff_t)y * gs;
        uint8_t *o = dst + (ptrdiff_t)y * ds;
        int x = 0;
#if defined(__x86_64__) && defined(__GNUC__)
        if (have_avx2()) {
            const int k[7] = {cy, yo, crv, cgu, cgv, cbu, 0};
            x = bgr_row_avx2(g, uh, vh, ow, k, o);
        }
#endif
        for (; x < ow; x++) {
            int yy = cy * (g[x] - yo) + 4096, u = uh[x >> 1] - 128, v = vh[x >> 1] - 128;
            int b = (yy + cbu * u) >> 13, gr = (yy - cgu * u - cgv * v) >> 13,
                r = (yy + crv * v) >> 13;
            o[3 * x] = (uint8_t)clampi(b, 0, 255);
            o[3 * x + 1] = (uint8_t)clampi(gr, 0, 255);
            o[3 * x + 2] = (uint8_t)clampi(r, 0, 255);
        }
    }
}
