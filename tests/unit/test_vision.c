/* Motion core: background model behaviour on generated scenes with exact truth — a left object
 * becomes static foreground after static_time and stays so; a light switch does not flood the
 * mask; moving people are found; masks are bit-identical for 1, 2 and 7 slice jobs; the mask
 * cleanup and connected components compute what they say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "synth.h"

typedef struct run {
    vg_bgs_t *b;
    uint8_t *in, *mask, *truth;
    vg_image_t iv, mv;
    int w, h;
} run_t;

static void run_open(run_t *r, int w, int h, const vg_bgs_params_t *p)
{
    r->w = w, r->h = h;
    assert_int_equal(vg_bgs_new(&r->b, w, h, p), 0);
    r->in = malloc((size_t)w * h);
    r->mask = malloc((size_t)w * h);
    r->truth = malloc((size_t)w * h);
    r->iv = (vg_image_t){w, h, w, VG_PIX_GRAY8, r->in};
    r->mv = (vg_image_t){w, h, w, VG_PIX_GRAY8, r->mask};
}

static void run_frame(run_t *r, const synth_scene_t *s, int k, synth_truth_t *t, vg_pool_t *pool)
{
    synth_render(s, k, r->in, r->w, r->truth, t);
    assert_int_equal(vg_bgs_update(r->b, &r->iv, k / s->fps, &r->mv, pool), 0);
}

static void run_close(run_t *r)
{
    vg_bgs_free(&r->b);
    free(r->in), free(r->mask), free(r->truth);
}

/* Share of pixels of @box at level @lvl (or foreground when lvl < 0). */
static double share(const run_t *r, const double *box, int lvl)
{
    int n = 0, hit = 0;
    for (int y = (int)ceil(box[1]); y < (int)(box[1] + box[3]); y++)
        for (int x = (int)ceil(box[0]); x < (int)(box[0] + box[2]); x++) {
            if (x < 0 || y < 0 || x >= r->w || y >= r->h) continue;
            uint8_t v = r->mask[y * r->w + x];
            n++;
            hit += lvl < 0 ? v >= VG_MASK_STATIC : v == lvl;
        }
    return n ? (double)hit / n : 0;
}

static double fg_fraction(const run_t *r)
{
    int n = 0;
    for (int i = 0; i < r->w * r->h; i++) n += r->mask[i] >= VG_MASK_STATIC;
    return (double)n / (r->w * r->h);
}

static void test_left_object_becomes_static_and_stays(void **state)
{
    synth_scene_t s;
    vg_bgs_params_t p;
    synth_truth_t t;
    run_t r;
    (void)state;
    synth_init(&s, 160, 120, 25, 25 * 75, 11);
    int walker = synth_add_walker(&s, 2, 10, 100, 12, 150, 100);
    int bag = synth_add_bag(&s, walker, 5.0);
    vg_bgs_params_default(&p);
    p.static_time = 8;
    run_open(&r, 160, 120, &p);
    double bagbox[4] = {0};
    int static_at = -1;
    for (int k = 0; k < s.nframes; k++) {
        run_frame(&r, &s, k, &t, NULL);
        double tt = k / s.fps;
        for (int i = 0; i < t.n; i++)
            if (t.id[i] == bag) memcpy(bagbox, t.box[i], sizeof(bagbox));
        double st = share(&r, bagbox, VG_MASK_STATIC), fg = share(&r, bagbox, -1);
        if (tt > 6 && tt < 5 + p.static_time - 0.5) {
            /* put down, not yet static: it stays foreground (no gap between the models) */
            if (fg < 0.6) fail_msg("t=%.2f: the bag left the foreground (%.2f)", tt, fg);
            assert_true(st < 0.2);
        }
        if (static_at < 0 && st > 0.6) static_at = k;
        if (tt > 5 + p.static_time + 1.5 && st < 0.6)
            fail_msg("t=%.2f: the bag is no longer static foreground (%.2f)", tt, st);
    }
    assert_true(static_at > 0);
    double when = static_at / s.fps;
    /* static after static_time (+ the time to settle after the drop) and not absorbed for the
     * rest of the 75 s, far beyond the main model's 20 s history */
    if (when < 5 + p.static_time - 0.5 || when > 5 + p.static_time + 1.5)
        fail_msg("static at %.2f s, expected about %.2f s", when, 5 + p.static_time);
    run_close(&r);
}

static void test_light_switch_does_not_flood(void **state)
{
    synth_scene_t s;
    synth_truth_t t;
    run_t r;
    (void)state;
    synth_init(&s, 160, 120, 25, 25 * 16, 5);
    s.switch_t = 10;
    s.switch_gain = 0.6; /* lights dim by 40 % at once */
    synth_add_walker(&s, 0, 10, 100, 16, 150, 100);
    run_open(&r, 160, 120, NULL);
    double worst = 0;
    for (int k = 0; k < s.nframes; k++) {
        run_frame(&r, &s, k, &t, NULL);
        if (k / s.fps >= 10) worst = fmax(worst, fg_fraction(&r));
    }
    if (worst > 0.08)
        fail_msg("after the switch, %.0f %% of the frame was foreground", 100 * worst);
    assert_true(fabs(vg_bgs_gain(r.b) - 0.6) < 0.1);
    run_close(&r);
    /* without compensation the same switch floods the mask: the test can fail */
    vg_bgs_params_t p;
    vg_bgs_params_default(&p);
    p.illumination = 0;
    p.shadows = 0; /* a global dimming keeps texture: the shadow test alone would absorb it */
    run_open(&r, 160, 120, &p);
    worst = 0;
    for (int k = 0; k < 25 * 11; k++) {
        run_frame(&r, &s, k, &t, NULL);
        if (k / s.fps >= 10) worst = fmax(worst, fg_fraction(&r));
    }
    assert_true(worst > 0.5);
    run_close(&r);
}

static void test_walkers_found(void **state)
{
    synth_scene_t s;
    synth_truth_t t;
    run_t r;
    (void)state;
    synth_init(&s, 320, 240, 25, 25 * 8, 21);
    synth_add_walker(&s, 0, 10, 200, 8, 300, 190);
    synth_add_walker(&s, 0, 300, 120, 8, 20, 130);
    run_open(&r, 320, 240, NULL);
    for (int k = 0; k < s.nframes; k++) {
        run_frame(&r, &s, k, &t, NULL);
        if (k < 25 * 6) continue; /* after the warm-up: where the walkers started is healed */
        /* pixel recall and precision against the exact truth mask */
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < 320 * 240; i++) {
            int ours = r.mask[i] >= VG_MASK_STATIC, truth = r.truth[i] != 0;
            tp += ours && truth, fp += ours && !truth, fn += !ours && truth;
        }
        double re = (double)tp / (tp + fn), pr = tp + fp ? (double)tp / (tp + fp) : 0;
        if (re < 0.8 || pr < 0.8) fail_msg("frame %d: recall %.2f precision %.2f", k, re, pr);
    }
    run_close(&r);
}

static void test_thread_invariance(void **state)
{
    const int threads[] = {1, 2, 7};
    synth_scene_t s;
    synth_truth_t t;
    uint8_t *ref[150];
    (void)state;
    synth_init(&s, 173, 97, 25, 150, 8); /* odd sizes: rows end in partial vector blocks */
    int wk = synth_add_walker(&s, 0, 5, 80, 6, 170, 70);
    synth_add_bag(&s, wk, 2.0);
    s.switch_t = 4;
    s.switch_gain = 0.7;
    vg_bgs_params_t p;
    vg_bgs_params_default(&p);
    p.static_time = 1; /* exercise every label */
    for (int ti = 0; ti < 3; ti++) {
        vg_pool_t *pool;
        run_t r;
        assert_int_equal(vg_pool_new(&pool, threads[ti]), 0);
        run_open(&r, 173, 97, &p);
        uint8_t *clean = malloc(173 * 97);
        vg_image_t cv = {173, 97, 173, VG_PIX_GRAY8, clean};
        for (int k = 0; k < s.nframes; k++) {
            run_frame(&r, &s, k, &t, pool);
            assert_int_equal(vg_mask_clean(&cv, &r.mv, pool), 0);
            if (ti == 0) {
                ref[k] = malloc(173 * 97 * 2);
                memcpy(ref[k], r.mask, 173 * 97);
                memcpy(ref[k] + 173 * 97, clean, 173 * 97);
            } else {
                if (memcmp(ref[k], r.mask, 173 * 97) || memcmp(ref[k] + 173 * 97, clean, 173 * 97))
                    fail_msg("frame %d differs with %d threads", k, threads[ti]);
            }
        }
        free(clean);
        run_close(&r);
        vg_pool_free(&pool);
    }
    for (int k = 0; k < s.nframes; k++) free(ref[k]);
}

static void test_kernels_agree(void **state)
{
    synth_scene_t s;
    synth_truth_t t;
    run_t a, b;
    vg_bgs_params_t pa, pb;
    (void)state;
    synth_init(&s, 171, 95, 25, 200, 13);
    int wk = synth_add_walker(&s, 0, 5, 80, 8, 170, 70);
    synth_add_bag(&s, wk, 2.0);
    s.switch_t = 5;
    s.switch_gain = 0.75;
    vg_bgs_params_default(&pa);
    pa.static_time = 1;
    pb = pa;
    pb.kernel = VG_BGS_KERNEL_PORTABLE;
    run_open(&a, 171, 95, &pa);
    run_open(&b, 171, 95, &pb);
    for (int k = 0; k < s.nframes; k++) {
        run_frame(&a, &s, k, &t, NULL);
        run_frame(&b, &s, k, &t, NULL);
        if (memcmp(a.mask, b.mask, 171 * 95)) fail_msg("frame %d: the kernels disagree", k);
        /* the long-term background's bytes (made by the update once asked for) */
        uint8_t la[171 * 95], lb[171 * 95];
        vg_image_t ia = {171, 95, 171, VG_PIX_GRAY8, la}, ib = {171, 95, 171, VG_PIX_GRAY8, lb};
        assert_int_equal(vg_bgs_long_term(a.b, &ia), 0);
        assert_int_equal(vg_bgs_long_term(b.b, &ib), 0);
        if (memcmp(la, lb, sizeof(la))) fail_msg("frame %d: the long-term bytes disagree", k);
    }
    uint8_t ba[171 * 95], bb[171 * 95];
    vg_image_t va = {171, 95, 171, VG_PIX_GRAY8, ba}, vb = {171, 95, 171, VG_PIX_GRAY8, bb};
    vg_bgs_background(a.b, &va);
    vg_bgs_background(b.b, &vb);
    assert_memory_equal(ba, bb, sizeof(ba));
    run_close(&a);
    run_close(&b);
}

/* The 3x3 morphology step against a plain loop over a clamped window, on random masks of 0,
 * 255 and a kept value (and a stray one), in views whose stride is wider than they are, with
 * and without a limit, for widths and heights from 1 up. */
static void ref_morph3(uint8_t *o, int w, int h, int stride, const uint8_t *limit, int dilate,
                       uint8_t keep)
{
    uint8_t *t = malloc((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int n = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int qx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
                    int qy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                    n += o[(size_t)qy * stride + qx] == 255;
                }
            uint8_t p = o[(size_t)y * stride + x];
            if (dilate)
                t[(size_t)y * w + x] =
                    p == 255 || (n && (!limit || limit[(size_t)y * w + x] == 255)) ? 255
                    : p == keep                                                    ? keep
                                                                                   : 0;
            else
                t[(size_t)y * w + x] = p == 255 && n == 9 ? 255 : p == keep ? keep : 0;
        }
    for (int y = 0; y < h; y++) memcpy(o + (size_t)y * stride, t + (size_t)y * w, (size_t)w);
    free(t);
}

static void test_morph3_matches_plain_loop(void **state)
{
    (void)state;
    unsigned seed = 12345;
    const int sizes[][2] = {{1, 1}, {1, 7}, {2, 2}, {3, 5}, {17, 9}, {64, 33}, {130, 71}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int mode = 0; mode < 3; mode++) {
            int w = sizes[k][0], h = sizes[k][1], stride = w + 5;
            uint8_t *a = malloc((size_t)stride * h), *b = malloc((size_t)stride * h);
            uint8_t *lim = malloc((size_t)w * h), *tmp = malloc((size_t)w * h);
            for (int i = 0; i < stride * h; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = (seed >> 16) % 10;
                a[i] = r < 5 ? 255 : r < 7 ? 1 : r < 9 ? 0 : 7;
            }
            for (int i = 0; i < w * h; i++) {
                seed = seed * 1103515245u + 12345u;
                lim[i] = (seed >> 16) % 3 ? 255 : 0;
            }
            memcpy(b, a, (size_t)stride * h);
            vg_image_t img = {.w = w, .h = h, .stride = stride, .fmt = VG_PIX_GRAY8, .data = a};
            const uint8_t *l = mode == 2 ? lim : NULL;
            int dilate = mode != 0;
            vg_mask_morph3(&img, tmp, l, dilate, 1);
            ref_morph3(b, w, h, stride, l, dilate, 1);
            for (int y = 0; y < h; y++)
                assert_memory_equal(a + (size_t)y * stride, b + (size_t)y * stride, (size_t)w);
            free(a), free(b), free(lim), free(tmp);
        }
}

/* Hole filling against a plain 4-connected flood from the border, on random masks (sparse and
 * dense walls, so that both big open areas and many small holes occur) in wider-stride views. */
static void ref_fill_holes(uint8_t *o, int w, int h, int stride)
{
    uint8_t *m = calloc((size_t)w * h, 1);
    int32_t *st = malloc(sizeof *st * (size_t)w * h * 4 + 64);
    int n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && o[(size_t)y * stride + x] != 255)
                m[(size_t)y * w + x] = 1, st[n++] = y * w + x;
    while (n) {
        int i = st[--n], x = i % w, y = i / w;
        const int d[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
        for (int k = 0; k < 4; k++) {
            int qx = x + d[k][0], qy = y + d[k][1];
            if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
            if (m[(size_t)qy * w + qx] || o[(size_t)qy * stride + qx] == 255) continue;
            m[(size_t)qy * w + qx] = 1, st[n++] = qy * w + qx;
        }
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (!m[(size_t)y * w + x]) o[(size_t)y * stride + x] = 255;
    free(m), free(st);
}

static void test_fill_holes_matches_plain_flood(void **state)
{
    (void)state;
    unsigned seed = 777;
    const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {3, 3}, {40, 23}, {200, 120}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int density = 3; density <= 7; density += 2) {
            int w = sizes[k][0], h = sizes[k][1], stride = w + 3;
            uint8_t *a = malloc((size_t)stride * h), *b = malloc((size_t)stride * h);
            uint8_t *mark = malloc((size_t)w * h);
            int32_t *stack = malloc(sizeof *stack * (size_t)w * h);
            for (int i = 0; i < stride * h; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = (seed >> 16) % 10;
                a[i] = r < (unsigned)density ? 255 : r == 9 ? 1 : 0;
            }
            memcpy(b, a, (size_t)stride * h);
            vg_image_t img = {.w = w, .h = h, .stride = stride, .fmt = VG_PIX_GRAY8, .data = a};
            vg_mask_fill_holes(&img, mark, stack);
            ref_fill_holes(b, w, h, stride);
            for (int y = 0; y < h; y++)
                assert_memory_equal(a + (size_t)y * stride, b + (size_t)y * stride, (size_t)w);
            free(a), free(b), free(mark), free(stack);
        }
}

/* Components against a plain 8-connected flood on random masks (levels 0, shadow, static and
 * moving) with and without an ignore mask: the same objects, in the same order, with the same
 * statistics. */
static void test_components_match_plain_flood(void **state)
{
    (void)state;
    unsigned seed = 4242;
    const int sizes[][2] = {{1, 1}, {1, 12}, {12, 1}, {5, 4}, {37, 21}, {160, 90}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int variant = 0; variant < 8; variant++) { /* bit 2: runs of 11 pixels or more */
            int w = sizes[k][0], h = sizes[k][1], stride = w + 9, fgp = 3 + 2 * (variant & 1);
            uint8_t *m = calloc((size_t)stride * h, 1), *ig = calloc((size_t)w * h, 1);
            unsigned r = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    seed = seed * 1103515245u + 12345u;
                    if (!(variant & 4) || x % 11 == 0) r = (seed >> 16) % 10;
                    m[(size_t)y * stride + x] = r < (unsigned)fgp ? (r & 1 ? 255 : 128)
                                                : r == 9          ? 64
                                                                  : 0;
                    seed = seed * 1103515245u + 12345u;
                    ig[(size_t)y * w + x] = (variant & 2) && (seed >> 16) % 7 == 0;
                }
            vg_image_t mi = {.w = w, .h = h, .stride = stride, .fmt = VG_PIX_GRAY8, .data = m};
            vg_image_t ii = {.w = w, .h = h, .stride = w, .fmt = VG_PIX_GRAY8, .data = ig};
            const vg_image_t *ign = variant & 2 ? &ii : NULL;
            vg_objects_t got;
            vg_objects_init(&got);
            int n = vg_components(&mi, ign, 2, &got);
            /* the plain way: flood each unvisited foreground pixel in raster order */
            int *seen = calloc((size_t)w * h, sizeof(int)), *st = malloc(sizeof(int) * w * h);
            vg_object_t *want = calloc((size_t)w * h + 1, sizeof(vg_object_t));
            int nw = 0;
            for (int i0 = 0; i0 < w * h; i0++) {
#define FG(i) (m[(size_t)((i) / w) * stride + (i) % w] >= 128 && !(ign && ig[(i)]))
                if (seen[i0] || !FG(i0)) continue;
                int ns = 0, area = 0, nst = 0, x0 = w, y0 = h, x1 = -1, y1 = -1;
                double sx = 0, sy = 0;
                seen[i0] = 1, st[ns++] = i0;
                while (ns) {
                    int i = st[--ns], x = i % w, y = i / w;
                    area++, sx += x, sy += y, nst += m[(size_t)y * stride + x] == 128;
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int qx = x + dx, qy = y + dy, q = qy * w + qx;
                            if (qx < 0 || qy < 0 || qx >= w || qy >= h || seen[q] || !FG(q))
                                continue;
                            seen[q] = 1, st[ns++] = q;
                        }
                }
#undef FG
                if (area < 2) continue;
                want[nw++] = (vg_object_t){.x = x0,
                                           .y = y0,
                                           .w = x1 - x0 + 1,
                                           .h = y1 - y0 + 1,
                                           .area = area,
                                           .cx = sx / area,
                                           .cy = sy / area,
                                           .static_frac = (double)nst / area};
            }
            assert_int_equal(n, nw);
            /* largest first, then top, then left: the same order as vg_components */
            for (int i = 0; i < nw; i++)
                for (int j = i + 1; j < nw; j++) {
                    vg_object_t *a = &want[i], *b = &want[j];
                    if (b->area > a->area ||
                        (b->area == a->area && (b->y < a->y || (b->y == a->y && b->x < a->x)))) {
                        vg_object_t t = *a;
                        *a = *b, *b = t;
                    }
                }
            for (int i = 0; i < n; i++) {
                const vg_object_t *g = &got.obj[i], *e = &want[i];
                assert_int_equal(g->area, e->area);
                assert_int_equal(g->x, e->x);
                assert_int_equal(g->y, e->y);
                assert_int_equal(g->w, e->w);
                assert_int_equal(g->h, e->h);
                assert_true(fabs(g->cx - e->cx) < 1e-9 && fabs(g->cy - e->cy) < 1e-9);
                assert_true(fabs(g->static_frac - e->static_frac) < 1e-12);
            }
            vg_objects_close(&got);
            free(m), free(ig), free(seen), free(st), free(want);
        }
}

static void test_clean_and_components(void **state)
{
    enum { W = 20, H = 10 };
    uint8_t m[W * H] = {0}, c[W * H];
    vg_image_t mv = {W, H, W, VG_PIX_GRAY8, m}, cv = {W, H, W, VG_PIX_GRAY8, c};
    vg_objects_t objs;
    (void)state;
    /* a 5x4 block with a pinhole, an isolated pixel, and a static 3x3 block */
    for (int y = 2; y < 6; y++)
        for (int x = 2; x < 7; x++) m[y * W + x] = VG_MASK_FG;
    m[3 * W + 4] = VG_MASK_BG;
    m[8 * W + 15] = VG_MASK_FG;
    for (int y = 1; y < 4; y++)
        for (int x = 12; x < 15; x++) m[y * W + x] = VG_MASK_STATIC;
    assert_int_equal(vg_mask_clean(&cv, &mv, NULL), 0);
    assert_int_equal(c[3 * W + 4], VG_MASK_FG);  /* pinhole filled */
    assert_int_equal(c[8 * W + 15], VG_MASK_BG); /* speck removed */
    assert_int_equal(c[2 * W + 13], VG_MASK_STATIC);
    assert_int_equal(vg_mask_clean(&cv, &cv, NULL), VG_EINVAL); /* in place is refused */

    vg_objects_init(&objs);
    assert_int_equal(vg_components(&cv, NULL, 1, &objs), 2);
    const vg_object_t *a = &objs.obj[0], *b = &objs.obj[1];
    assert_true(a->area >= b->area); /* largest first */
    assert_int_equal(b->static_frac > 0.99, 1);
    assert_true(a->static_frac < 0.01);
    assert_true(b->x >= 12 && b->x + b->w <= 15 && b->y >= 1 && b->y + b->h <= 4);
    assert_true(fabs(a->foot_y - (a->y + a->h)) < 1e-9);
    /* minimum area and the ignore mask */
    assert_int_equal(vg_components(&cv, NULL, 15, &objs), 1);
    uint8_t ig[W * H] = {0};
    for (int y = 0; y < H; y++)
        for (int x = 10; x < W; x++) ig[y * W + x] = 255;
    vg_image_t iv = {W, H, W, VG_PIX_GRAY8, ig};
    assert_int_equal(vg_components(&cv, &iv, 1, &objs), 1);
    assert_true(objs.obj[0].x < 10);
    /* a U shape is one 8-connected component (labels merged across the join) */
    memset(m, 0, sizeof(m));
    for (int y = 0; y < 8; y++) m[y * W + 1] = m[y * W + 8] = VG_MASK_FG;
    for (int x = 1; x <= 8; x++) m[7 * W + x] = VG_MASK_FG;
    m[0 * W + 18] = VG_MASK_FG, m[1 * W + 19] = VG_MASK_FG; /* diagonal neighbours */
    assert_int_equal(vg_components(&mv, NULL, 1, &objs), 2);
    assert_int_equal(objs.obj[0].area, 8 + 8 + 6);
    assert_int_equal(objs.obj[1].area, 2);
    vg_objects_close(&objs);
}

static void test_bad_arguments(void **state)
{
    vg_bgs_t *b = NULL;
    uint8_t px[16] = {0};
    vg_image_t in = {4, 4, 4, VG_PIX_GRAY8, px}, wrong = {3, 4, 4, VG_PIX_GRAY8, px};
    vg_bgs_params_t p;
    (void)state;
    assert_int_equal(vg_bgs_new(&b, 0, 10, NULL), VG_EINVAL);
    vg_bgs_params_default(&p);
    p.var_min = 100;
    p.var_max = 10;
    assert_int_equal(vg_bgs_new(&b, 4, 4, &p), VG_EINVAL);
    assert_int_equal(vg_bgs_new(&b, 4, 4, NULL), 0);
    assert_int_equal(vg_bgs_update(b, &wrong, 0, &in, NULL), VG_EINVAL);
    uint8_t mpx[16];
    vg_image_t mask = {4, 4, 4, VG_PIX_GRAY8, mpx};
    assert_int_equal(vg_bgs_update(b, &in, 0, &in, NULL), VG_EINVAL); /* in place is refused */
    assert_int_equal(vg_bgs_update(b, &in, 0, &mask, NULL), 0);
    assert_int_equal(vg_bgs_update(b, &in, 0, &mask, NULL), 0); /* time that does not advance */
    vg_bgs_free(&b);
    assert_null(b);
}

/* ---- optical flow ---- */

/* A smooth random texture (bilinear over a coarse random grid), and the same moved by (u, v) or,
 * with @zoom, scaled about the centre by 1 + zoom. */
static void flow_pair(uint8_t *a, uint8_t *b, int w, int h, double u, double v, double zoom)
{
    int cw = w / 12 + 3, ch = h / 12 + 3;
    float *c = malloc(sizeof(float) * (size_t)cw * ch);
    uint32_t r = 12345;
    for (int i = 0; i < cw * ch; i++) {
        r = r * 1664525u + 1013904223u;
        c[i] = (float)(r >> 8) / (float)(1u << 24);
    }
    for (int img = 0; img < 2; img++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double sx = x, sy = y;
                if (img) { /* where b's pixel comes from in a */
                    sx = w / 2.0 + (x - u - w / 2.0) / (1 + zoom);
                    sy = h / 2.0 + (y - v - h / 2.0) / (1 + zoom);
                }
                double fx = sx / 12 + 1, fy = sy / 12 + 1;
                if (fx < 0) fx = 0;
                if (fy < 0) fy = 0;
                if (fx > cw - 2) fx = cw - 2;
                if (fy > ch - 2) fy = ch - 2;
                int ix = (int)fx, iy = (int)fy;
                double ax = fx - ix, ay = fy - iy;
                double val =
                    c[iy * cw + ix] * (1 - ax) * (1 - ay) + c[iy * cw + ix + 1] * ax * (1 - ay) +
                    c[(iy + 1) * cw + ix] * (1 - ax) * ay + c[(iy + 1) * cw + ix + 1] * ax * ay;
                (img ? b : a)[y * w + x] = (uint8_t)(30 + 190 * val);
            }
    free(c);
}

static void test_flow_accuracy(void **state)
{
    const int w = 320, h = 240;
    uint8_t *a = malloc((size_t)w * h), *b = malloc((size_t)w * h);
    vg_image_t ia = {w, h, w, VG_PIX_GRAY8, a}, ib = {w, h, w, VG_PIX_GRAY8, b};
    vg_flow_t *f;
    (void)state;
    assert_int_equal(vg_flow_new(&f, NULL, w, h), 0);
    const double cases[][3] = {{2.5, -1.25, 0}, {7.0, 4.0, 0}, {0, 0, 0.02}};
    for (int c = 0; c < 3; c++) {
        flow_pair(a, b, w, h, cases[c][0], cases[c][1], cases[c][2]);
        assert_int_equal(vg_flow_run(f, &ia, &ib, NULL), 0);
        int gw, gh;
        double step, err = 0;
        const float *g = vg_flow_grid(f, &gw, &gh, &step);
        assert_true(gw == 20 && gh == 15 && step == 16);
        int n = 0;
        for (int j = 1; j < gh - 1; j++)
            for (int i = 1; i < gw - 1; i++) {
                double x = (i + 0.5) * step, y = (j + 0.5) * step;
                double tu = cases[c][0] + cases[c][2] * (x - w / 2.0),
                       tv = cases[c][1] + cases[c][2] * (y - h / 2.0);
                err += hypot(g[2 * (j * gw + i)] - tu, g[2 * (j * gw + i) + 1] - tv);
                n++;
            }
        print_message("flow case %d: mean grid error %.3f px\n", c, err / n);
        assert_true(err / n < 0.25);
    }
    /* the dense field interpolates the grid */
    float *dense = malloc(sizeof(float) * 2 * (size_t)w * h);
    vg_flow_dense(f, dense, 2 * w);
    assert_true(fabs(dense[2 * (120 * w + 160)]) < 0.5 &&
                fabs(dense[2 * (120 * w + 160) + 1]) < 0.5);
    free(dense);
    /* pictures of another size or format are refused */
    vg_image_t small = {w - 2, h, w, VG_PIX_GRAY8, a};
    assert_int_equal(vg_flow_run(f, &small, &ib, NULL), VG_EINVAL);
    vg_flow_free(&f);
    vg_flow_free(&f);
    assert_int_equal(vg_flow_new(&f, NULL, 8, 8), VG_EINVAL);
    vg_flow_params_t p = vg_flow_default_params;
    p.patch = 7;
    assert_int_equal(vg_flow_new(&f, &p, w, h), VG_EINVAL);
    free(a);
    free(b);
}

/* The same bits with any number of slice jobs. */
static void test_flow_threads(void **state)
{
    const int w = 320, h = 240;
    uint8_t *a = malloc((size_t)w * h), *b = malloc((size_t)w * h);
    vg_image_t ia = {w, h, w, VG_PIX_GRAY8, a}, ib = {w, h, w, VG_PIX_GRAY8, b};
    vg_flow_t *f1, *f3;
    vg_pool_t *pool;
    int gw, gh;
    double step;
    (void)state;
    flow_pair(a, b, w, h, 3.3, 1.7, 0.01);
    assert_int_equal(vg_flow_new(&f1, NULL, w, h), 0);
    assert_int_equal(vg_flow_new(&f3, NULL, w, h), 0);
    assert_int_equal(vg_pool_new(&pool, 3), 0);
    assert_int_equal(vg_flow_run(f1, &ia, &ib, NULL), 0);
    assert_int_equal(vg_flow_run(f3, &ia, &ib, pool), 0);
    const float *g1 = vg_flow_grid(f1, &gw, &gh, &step), *g3 = vg_flow_grid(f3, &gw, &gh, &step);
    assert_memory_equal(g1, g3, sizeof(float) * 2 * (size_t)gw * gh);
    vg_pool_free(&pool);
    vg_flow_free(&f1);
    vg_flow_free(&f3);
    free(a);
    free(b);
}

/* A stream of pictures through vg_flow_next gives vg_flow_run's bits on each pair; with a @want
 * mask, every point whose 3x3 neighbourhood is wanted keeps them, and the others take the coarser
 * level's vector (close to the motion here, a plain shift). A reset computes nothing. */
static void test_flow_stream(void **state)
{
    const int w = 320, h = 240;
    uint8_t *p[4];
    for (int i = 0; i < 4; i++) p[i] = malloc((size_t)w * h);
    /* p0 -> p1 -> p2 -> p3: three pairs of different motions (flow_pair's a is the same
     * texture each time, so the pictures are its b of three shifts, then of a zoom) */
    flow_pair(p[0], p[1], w, h, 2.5, -1.25, 0);
    flow_pair(p[2], p[2], w, h, 0, 0, 0);
    flow_pair(p[3], p[2], w, h, 6.0, 3.0, 0);
    flow_pair(p[3], p[3], w, h, 1.0, 2.0, 0.01);
    vg_image_t im[4];
    for (int i = 0; i < 4; i++) im[i] = (vg_image_t){w, h, w, VG_PIX_GRAY8, p[i]};
    vg_flow_t *ref, *st, *part;
    int gw, gh;
    double step;
    (void)state;
    assert_int_equal(vg_flow_new(&ref, NULL, w, h), 0);
    assert_int_equal(vg_flow_new(&st, NULL, w, h), 0);
    assert_int_equal(vg_flow_new(&part, NULL, w, h), 0);
    vg_flow_grid(ref, &gw, &gh, &step);
    uint8_t *want = calloc((size_t)gw * gh, 1);
    for (int j = 2; j < 9; j++) /* a block of wanted points: its inner 5x5 has all neighbours */
        for (int i = 3; i < 10; i++) want[j * gw + i] = 1;
    assert_int_equal(vg_flow_next(st, &im[0], NULL, NULL), 0);
    assert_int_equal(vg_flow_next(part, &im[0], want, NULL), 0);
    for (int k = 1; k < 4; k++) {
        assert_int_equal(vg_flow_run(ref, &im[k - 1], &im[k], NULL), 0);
        assert_int_equal(vg_flow_next(st, &im[k], NULL, NULL), 1);
        assert_int_equal(vg_flow_next(part, &im[k], want, NULL), 1);
        const float *gr = vg_flow_grid(ref, &gw, &gh, &step),
                    *gs = vg_flow_grid(st, &gw, &gh, &step),
                    *gp = vg_flow_grid(part, &gw, &gh, &step);
        assert_memory_equal(gr, gs, sizeof(float) * 2 * (size_t)gw * gh);
        int same = 0, other = 0;
        double emax = 0;
        for (int j = 0; j < gh; j++)
            for (int i = 0; i < gw; i++) {
                int q = j * gw + i;
                if (j >= 3 && j < 8 && i >= 4 && i < 9) {
                    assert_memory_equal(gr + 2 * q, gp + 2 * q, 2 * sizeof(float));
                    same++;
                } else if (j > 1 && j < gh - 2 && i > 1 && i < gw - 2) {
                    /* interior points: the coarser level's vector, within two pixels of the
                     * searched one */
                    double e = hypot(gr[2 * q] - gp[2 * q], gr[2 * q + 1] - gp[2 * q + 1]);
                    if (e > emax) emax = e;
                    other++;
                }
            }
        print_message("pair %d: off the wanted points, at most %.2f px from the searched vector\n",
                      k, emax);
        assert_int_equal(same, 25);
        assert_true(other > 100 && emax < 2.0);
    }
    /* a reset: the next picture is kept, nothing computed; then pairs again */
    vg_flow_reset(st);
    assert_int_equal(vg_flow_next(st, &im[1], NULL, NULL), 0);
    assert_int_equal(vg_flow_next(st, &im[2], NULL, NULL), 1);
    assert_int_equal(vg_flow_run(ref, &im[1], &im[2], NULL), 0);
    assert_memory_equal(vg_flow_grid(ref, &gw, &gh, &step), vg_flow_grid(st, &gw, &gh, &step),
                        sizeof(float) * 2 * (size_t)gw * gh);
    /* after vg_flow_run, vg_flow_next goes on from its second picture */
    assert_int_equal(vg_flow_next(ref, &im[3], NULL, NULL), 1);
    assert_int_equal(vg_flow_next(st, &im[3], NULL, NULL), 1);
    assert_memory_equal(vg_flow_grid(ref, &gw, &gh, &step), vg_flow_grid(st, &gw, &gh, &step),
                        sizeof(float) * 2 * (size_t)gw * gh);
    vg_image_t small = {w - 2, h, w, VG_PIX_GRAY8, p[0]};
    assert_int_equal(vg_flow_next(st, &small, NULL, NULL), VG_EINVAL);
    free(want);
    vg_flow_free(&ref);
    vg_flow_free(&st);
    vg_flow_free(&part);
    for (int i = 0; i < 4; i++) free(p[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_left_object_becomes_static_and_stays),
        cmocka_unit_test(test_light_switch_does_not_flood),
        cmocka_unit_test(test_walkers_found),
        cmocka_unit_test(test_thread_invariance),
        cmocka_unit_test(test_kernels_agree),
        cmocka_unit_test(test_clean_and_components),
        cmocka_unit_test(test_morph3_matches_plain_loop),
        cmocka_unit_test(test_fill_holes_matches_plain_flood),
        cmocka_unit_test(test_components_match_plain_flood),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_flow_accuracy),
        cmocka_unit_test(test_flow_threads),
        cmocka_unit_test(test_flow_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
