/* The fire detector (src/events/fire.c) on made frames, 160 x 120 at 25 frames a second, grey
 * background, colour in the chroma planes, the motion mask marking what differs from the
 * background: a flame-coloured patch whose outline changes every frame, in place, raises one
 * `fire` (kind flame) within 2 s with its cues in the details, and ends once gone for
 * fire.end_after; a patch switching on and off as a whole at 2 Hz (a beacon), a steady patch the
 * mask calls moving, the same flickering patch travelling across the picture (orange clothing),
 * a grey picture, a 4 frames-a-second input and a flame under an ignore mask or a fixture raise
 * nothing. The colour rule: flames' reds, oranges and yellow-white cores are flame; blue, white,
 * grey, green, a pale pink wall are not. Smoke: a grey veil swirling over a textured background
 * raises one `fire` of kind smoke; something smooth holding still, a shadow, the whole picture
 * veiled and a veil on a person's box raise nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/vigie.h>

#define W 160
#define H 120

typedef struct sink {
    int starts, ends, updates;
    vg_event_t first;
} sink_t;

static int sink(void *opaque, vg_event_t *ev)
{
    sink_t *s = opaque;
    if (ev->phase == VG_PHASE_START) {
        ev->event_id = 1 + s->starts;
        if (!s->starts) s->first = *ev;
        s->starts++;
    }
    s->ends += ev->phase == VG_PHASE_END;
    s->updates += ev->phase == VG_PHASE_UPDATE;
    return 0;
}

static void rgb_ycc(int r, int g, int b, int *y, int *cb, int *cr)
{
    *y = (int)lround(0.299 * r + 0.587 * g + 0.114 * b);
    *cb = (int)lround(128 + 0.564 * (b - *y));
    *cr = (int)lround(128 + 0.713 * (r - *y));
}

static int is_flame(int r, int g, int b)
{
    int y, cb, cr;
    rgb_ycc(r, g, b, &y, &cb, &cr);
    return vg_fire_color(y, cb, cr);
}

static void test_color(void **state)
{
    (void)state;
    assert_true(is_flame(230, 60, 40));   /* red flame */
    assert_true(is_flame(255, 140, 0));   /* orange */
    assert_true(is_flame(255, 220, 120)); /* yellow-white core */
    assert_false(is_flame(30, 60, 240));  /* a blue beacon */
    assert_false(is_flame(240, 240, 240));
    assert_false(is_flame(128, 128, 128));
    assert_false(is_flame(60, 160, 60));
    assert_false(is_flame(230, 170, 165)); /* a pale pink wall */
    assert_false(is_flame(90, 40, 30));    /* too dark */
}

/* a deterministic pseudo-random number in [0, 1) */
static double rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (*s >> 8) / 16777216.0;
}

enum { FLAME, BEACON, STEADY, TRAVEL, GREY, NONE };

/* frame @k: the patch of @kind drawn at (x0, y0), 20 x 24, into the frame and the mask */
static void draw(vg_frame_t *f, vg_image_t *mask, int kind, int k, double rate, uint32_t *seed)
{
    int x0 = kind == TRAVEL ? 10 + k * 25 / (int)rate : 70, y0 = 50, on = 1; /* 25 px/s */
    double t = k / rate;
    if (kind == BEACON) on = fmod(t * 2, 1) < 0.5;
    if (kind == NONE) on = 0;
    for (int y = 0; y < H; y++) {
        memset(vg_image_row(&f->image, y), 100, W);
        memset(vg_image_row(mask, y), 0, W);
    }
    for (int y = 0; y < f->cb.h; y++) {
        memset(vg_image_row(&f->cb, y), 128, (size_t)f->cb.w);
        memset(vg_image_row(&f->cr, y), 128, (size_t)f->cr.w);
    }
    if (!on) return;
    int fy, fcb, fcr;
    rgb_ycc(255, 120, 20, &fy, &fcb, &fcr);
    for (int y = 0; y < 24; y++) {
        /* each row's width: random each frame (a flame's outline), fixed otherwise */
        int half = kind == FLAME || kind == TRAVEL || kind == GREY
                       ? 3 + (int)(rnd(seed) * 7 * (24 - y) / 24.0 + 3 * (y > 12))
                       : 10;
        for (int x = 10 - half; x < 10 + half; x++) {
            int px = x0 + x, py = y0 + y;
            if (px < 0 || px >= W) continue;
            vg_image_row(&f->image, py)[px] = (uint8_t)fy;
            vg_image_row(mask, py)[px] = VG_MASK_FG;
            if (kind != GREY) {
                vg_image_row(&f->cb, py / 2)[px / 2] = (uint8_t)fcb;
                vg_image_row(&f->cr, py / 2)[px / 2] = (uint8_t)fcr;
            }
        }
    }
    if (kind == STEADY) /* the mask calls the whole patch area moving */
        for (int y = y0 - 4; y < y0 + 28; y++) memset(vg_image_row(mask, y) + x0 - 4, 255, 28);
}

/* @seconds of @kind, then @after seconds with nothing, at @rate frames a second, over the scene
 * @yaml (NULL: empty) */
static int index_step = 1; /* frame numbers between analysed frames (frames skipped) */

static void run_scene(const char *yaml, int kind, double rate, double seconds, double after,
                      sink_t *s)
{
    vg_fire_params_t p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_fire_option_group.options), 0);
    vg_scene_t *scene = NULL;
    char err[256];
    if (yaml)
        assert_int_equal(vg_scene_parse(&scene, yaml, strlen(yaml), "test", err, sizeof(err)), 0);
    else
        assert_int_equal(vg_scene_new_empty(&scene), 0);
    vg_fire_t *f = NULL;
    assert_int_equal(vg_fire_new(&f, scene, &p), 0);
    uint8_t mbuf[W * H];
    vg_image_t mask = {W, H, W, VG_PIX_GRAY8, mbuf};
    uint32_t seed = 7;
    memset(s, 0, sizeof(*s));
    int n = (int)((seconds + after) * rate);
    for (int k = 0; k < n; k++) {
        vg_frame_t *fr = NULL;
        assert_int_equal(vg_frame_new(&fr, W, H, VG_FRAME_CHROMA), 0);
        fr->index = (int64_t)k * index_step, fr->t = k / rate;
        draw(fr, &mask, k / rate < seconds ? kind : NONE, k, rate, &seed);
        vg_fire_input_t in = {.frame = fr, .mask = &mask};
        assert_int_equal(vg_fire_update(f, &in, sink, s), 0);
        vg_frame_unref(&fr);
    }
    assert_int_equal(vg_fire_flush(f, n - 1, (n - 1) / rate, sink, s), 0);
    vg_fire_free(&f);
    vg_scene_free(&scene);
}

static void run(int kind, double rate, double seconds, double after, sink_t *s)
{
    run_scene(NULL, kind, rate, seconds, after, s);
}

static void test_flame(void **state)
{
    sink_t s;
    (void)state;
    run(FLAME, 25, 6, 8, &s);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    assert_true(s.first.t <= 2.0);
    assert_true(s.first.has_box);
    /* the box is the patch's (input = analysis pixels here) */
    assert_true(s.first.box[0] >= 60 && s.first.box[0] + s.first.box[2] <= 92);
    assert_non_null(strstr(s.first.details, "\"kind\":\"flame\""));
    assert_non_null(strstr(s.first.details, "\"flicker\":"));
    assert_non_null(strstr(s.first.details, "\"peak_share\":"));
}

/* frames skipped between the analysed ones (a live camera's queue dropping, input.max_rate):
 * the flame flickers from one analysed frame to the next all the same */
static void test_flame_skipped_frames(void **state)
{
    sink_t s;
    (void)state;
    run(FLAME, 12.5, 6, 8, &s); /* 12.5 frames a second, numbered 0, 1, 2 ... */
    assert_int_equal(s.starts, 1);
    double t1 = s.first.t;
    index_step = 2; /* ... numbered 0, 2, 4 ...: every other frame of a 25 fps camera skipped */
    run(FLAME, 12.5, 6, 8, &s);
    index_step = 1;
    assert_int_equal(s.starts, 1);
    assert_true(fabs(s.first.t - t1) < 1e-9);
}

static void test_not_flames(void **state)
{
    sink_t s;
    (void)state;
    run(BEACON, 25, 8, 0, &s);
    assert_int_equal(s.starts, 0);
    run(STEADY, 25, 8, 0, &s);
    assert_int_equal(s.starts, 0);
    run(TRAVEL, 25, 4, 0, &s); /* across the picture, its own width a second */
    assert_int_equal(s.starts, 0);
    run(GREY, 25, 8, 0, &s);
    assert_int_equal(s.starts, 0);
    run(FLAME, 4, 10, 0, &s); /* too slow to see flicker */
    assert_int_equal(s.starts, 0);
}

/* the scene's ignore masks and fixtures (a lit sign an operator marked) are not looked at */
static void test_masked(void **state)
{
    sink_t s;
    (void)state;
    run_scene("masks:\n  ignore:\n    - [[60, 40], [100, 40], [100, 80], [60, 80]]\n", FLAME, 25, 6,
              0, &s);
    assert_int_equal(s.starts, 0);
    run_scene("fixtures:\n  - name: sign\n    polygon: [[60, 40], [100, 40], [100, 80], [60, "
              "80]]\n",
              FLAME, 25, 6, 0, &s);
    assert_int_equal(s.starts, 0);
    /* elsewhere in the picture, it does not hide the flame */
    run_scene("fixtures:\n  - name: sign\n    polygon: [[0, 0], [30, 0], [30, 30], [0, 30]]\n",
              FLAME, 25, 6, 0, &s);
    assert_int_equal(s.starts, 1);
}

/* the picture changes size under a fire: its event ends, nothing is read off the new grid */
static void test_resize(void **state)
{
    (void)state;
    vg_fire_params_t p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_fire_option_group.options), 0);
    vg_scene_t *scene = NULL;
    assert_int_equal(vg_scene_new_empty(&scene), 0);
    vg_fire_t *f = NULL;
    assert_int_equal(vg_fire_new(&f, scene, &p), 0);
    static uint8_t mbuf[W * H];
    uint32_t seed = 3;
    sink_t s;
    memset(&s, 0, sizeof(s));
    for (int k = 0; k < 150; k++) {
        int small = k >= 100; /* then a 100 x 80 picture: the patch drawn at its top left */
        vg_frame_t *fr = NULL;
        vg_image_t mask = {W, H, W, VG_PIX_GRAY8, mbuf};
        assert_int_equal(vg_frame_new(&fr, W, H, VG_FRAME_CHROMA), 0);
        fr->index = k, fr->t = k / 25.0;
        draw(fr, &mask, FLAME, k, 25, &seed);
        if (small) {
            fr->image.w = 100, fr->image.h = 80, fr->in_w = 100, fr->in_h = 80;
            fr->cb.w = fr->cr.w = 50, fr->cb.h = fr->cr.h = 40;
            mask.w = 100, mask.h = 80;
        }
        vg_fire_input_t in = {.frame = fr, .mask = &mask};
        assert_int_equal(vg_fire_update(f, &in, sink, &s), 0);
        vg_frame_unref(&fr);
    }
    assert_int_equal(vg_fire_flush(f, 149, 149 / 25.0, sink, &s), 0);
    assert_int_equal(s.starts, s.ends);
    assert_true(s.starts >= 1);
    vg_fire_free(&f);
    vg_scene_free(&scene);
}

/* ---- smoke (src/events/smoke.c) ---- */

enum { SMOKE, PARKED, SHADOW, FOG, ON_PERSON };

/* frame @k at @rate of @kind over a textured grey background (a checkerboard of 4 px squares,
 * 60 and 160): a veil over the 48 x 40 region at (56, 40) from 1 s on */
static void draw_smoke(vg_frame_t *f, int kind, int k, double rate, uint32_t *seed)
{
    double t = k / rate;
    static double alpha[16][20]; /* per 8 x 8 block, drawn again five times a second */
    if (k % (int)(rate / 5) == 0)
        for (int by = 0; by < 15; by++)
            for (int bx = 0; bx < 20; bx++) alpha[by][bx] = 0.55 + 0.4 * rnd(seed);
    for (int y = 0; y < H; y++) {
        uint8_t *row = vg_image_row(&f->image, y);
        for (int x = 0; x < W; x++) {
            double v = ((x / 4 + y / 4) & 1) ? 160 : 60;
            int in = x >= 56 && x < 104 && y >= 40 && y < 80 && t >= 1;
            if (kind == FOG) in = t >= 1;
            if (in) {
                double a = alpha[y / 8][x / 8];
                if (kind == PARKED)
                    v = 170;
                else if (kind == SHADOW)
                    v = v * (1 - a) + 40 * a;
                else
                    v = v * (1 - a) + 200 * a;
            }
            row[x] = (uint8_t)lround(v);
        }
    }
    for (int y = 0; y < f->cb.h; y++) { /* grey, but for a green strip at the bottom (a lawn:
                                            the camera is a colour one) */
        memset(vg_image_row(&f->cb, y), y >= f->cb.h - 4 ? 100 : 128, (size_t)f->cb.w);
        memset(vg_image_row(&f->cr, y), y >= f->cb.h - 4 ? 100 : 128, (size_t)f->cr.w);
    }
}

static const char *smoke_scene; /* a scene's YAML for run_smoke (NULL: empty) */

static void run_smoke(int kind, int smoke_on, double seconds, sink_t *s)
{
    vg_fire_params_t p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_fire_option_group.options), 0);
    p.smoke = smoke_on;
    vg_scene_t *scene = NULL;
    char err[256];
    if (smoke_scene)
        assert_int_equal(
            vg_scene_parse(&scene, smoke_scene, strlen(smoke_scene), "test", err, sizeof(err)), 0);
    else
        assert_int_equal(vg_scene_new_empty(&scene), 0);
    vg_fire_t *f = NULL;
    assert_int_equal(vg_fire_new(&f, scene, &p), 0);
    static uint8_t mbuf[W * H];
    memset(mbuf, 0, sizeof(mbuf));
    vg_image_t mask = {W, H, W, VG_PIX_GRAY8, mbuf};
    uint32_t seed = 11;
    double person[4] = {52, 30, 56, 56}; /* someone standing over the region */
    memset(s, 0, sizeof(*s));
    int n = (int)(seconds * 25);
    for (int k = 0; k < n; k++) {
        vg_frame_t *fr = NULL;
        assert_int_equal(vg_frame_new(&fr, W, H, VG_FRAME_CHROMA), 0);
        fr->index = k, fr->t = k / 25.0;
        draw_smoke(fr, kind, k, 25, &seed);
        vg_fire_input_t in = {.frame = fr, .mask = &mask};
        if (kind == ON_PERSON) in.boxes = person, in.nboxes = 1;
        assert_int_equal(vg_fire_update(f, &in, sink, s), 0);
        vg_frame_unref(&fr);
    }
    assert_int_equal(vg_fire_flush(f, n - 1, (n - 1) / 25.0, sink, s), 0);
    vg_fire_free(&f);
    vg_scene_free(&scene);
}

/* a grey veil swirling over a textured background: one `fire` of kind smoke, on the region, with
 * its cues; nothing when fire.smoke is off */
static void test_smoke(void **state)
{
    sink_t s;
    (void)state;
    run_smoke(SMOKE, 1, 16, &s);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    assert_non_null(strstr(s.first.details, "\"kind\":\"smoke\""));
    assert_non_null(strstr(s.first.details, "\"swirl\":"));
    assert_true(s.first.t >= 1 + 3 && s.first.t <= 12); /* warm-up, window, persistence */
    const double region[4] = {56, 40, 48, 40};
    assert_true(vg_box_iou(s.first.box, region) >= 0.5);
    run_smoke(SMOKE, 0, 16, &s);
    assert_int_equal(s.starts, 0);
}

/* what veils texture without being smoke: something smooth put down and holding still, a shadow
 * (darker), the whole picture (fog, exposure), a person standing there (the detector's box) */
static void test_not_smoke(void **state)
{
    sink_t s;
    (void)state;
    static const int kinds[] = {PARKED, SHADOW, FOG, ON_PERSON};
    static const char *const names[] = {"parked", "shadow", "fog", "on a person"};
    for (int i = 0; i < 4; i++) {
        run_smoke(kinds[i], 1, 16, &s);
        if (s.starts) fail_msg("%s: %d smoke starts", names[i], s.starts);
    }
    /* the region under an ignore mask (or a fixture an operator marked) */
    smoke_scene = "masks:\n  ignore:\n    - [[48, 32], [112, 32], [112, 88], [48, 88]]\n";
    run_smoke(SMOKE, 1, 16, &s);
    smoke_scene = NULL;
    assert_int_equal(s.starts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color),      cmocka_unit_test(test_flame),
        cmocka_unit_test(test_not_flames), cmocka_unit_test(test_masked),
        cmocka_unit_test(test_resize),     cmocka_unit_test(test_smoke),
        cmocka_unit_test(test_not_smoke),  cmocka_unit_test(test_flame_skipped_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
