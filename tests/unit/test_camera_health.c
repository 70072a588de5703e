/* The camera_health analyser (a camera that sends pictures but cannot watch): a picture that goes
 * dark, or shows no detail (a covered or blurred lens), for camera_health.duration raises one
 * camera_fault, which ends camera_health.recover after the picture came back; a picture hidden
 * in part, a short blackout (someone passing close to the lens) or a dark but detailed scene
 * raise nothing. Driven through the public stage API, frame by frame, with sensor noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#define W   320
#define H   240
#define FPS 10

typedef struct rec {
    vg_event_t ev[16];
    int n;
    int64_t next_id;
} rec_t;

static int rec_emit(void *opaque, vg_event_t *ev)
{
    rec_t *r = opaque;
    if (r->n < 16) r->ev[r->n++] = *ev;
    return 0;
}

static int64_t rec_id(void *opaque)
{
    return ++((rec_t *)opaque)->next_id;
}

enum look { SCENE, DARK, COVERED, HALF_HIDDEN, NIGHT };

/* A picture of 8-pixel tiles of random levels (a scene's detail) or one of the blind ones, each
 * with a few grey levels of noise. */
static void paint(vg_frame_t *f, enum look look, unsigned *seed)
{
    for (int y = 0; y < H; y++) {
        uint8_t *row = vg_image_row(&f->image, y);
        for (int x = 0; x < W; x++) {
            unsigned tile = (unsigned)((y / 8) * 131 + (x / 8) * 71);
            int v = 40 + (int)((tile * 2654435761u) >> 25);    /* 40 .. 167 */
            int noise = (int)(rand_r(seed) % 7) - 3;           /* -3 .. 3 */
            if (look == DARK) v = 4;                           /* lights out */
            if (look == COVERED) v = 90 + (x + y) / 40;        /* a hand's shading */
            if (look == HALF_HIDDEN && y < H * 6 / 10) v = 64; /* a panel over 60 % */
            if (look == NIGHT) v = 6 + (v - 40) / 4;           /* dark, detail kept */
            v += noise;
            row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* Runs the stage over @n frames at FPS, frame i looking like look_at(i). */
static void run(rec_t *r, int n, enum look (*look_at)(int), const char *const *sets)
{
    const vg_stage_class_t *cls = vg_stage_class_find("camera_health");
    assert_non_null(cls);
    void *params = calloc(1, cls->params_size);
    vg_stage_t st = {cls, params, calloc(1, cls->priv_size), NULL};
    assert_int_equal(vg_opt_defaults(params, cls->options), 0);
    for (int i = 0; sets && sets[i]; i += 2) {
        char err[256];
        vg_settings_t *s;
        assert_int_equal(vg_settings_new(&s), 0);
        assert_int_equal(vg_settings_add(s, sets[i], sets[i + 1], "test"), 0);
        assert_int_equal(cls->update(&st, s, err, sizeof(err)), 0);
        vg_settings_free(&s);
    }
    vg_scene_t *scene = NULL;
    char err[256];
    assert_int_equal(vg_scene_parse(&scene, "{}", 2, "t.yaml", err, sizeof(err)), 0);
    memset(r, 0, sizeof(*r));
    vg_stage_host_t host = {rec_emit, NULL, rec_id, r};
    vg_analysis_t a = {.scene = scene, .camera = "cam", .host = &host};
    assert_int_equal(cls->init(&st, &a), 0);
    unsigned seed = 7;
    for (int i = 0; i < n; i++) {
        vg_frame_t *f = NULL;
        assert_int_equal(vg_frame_new(&f, W, H, 0), 0);
        f->index = i;
        f->t = (double)i / FPS;
        paint(f, look_at(i), &seed);
        a.frame = f;
        assert_int_equal(cls->process(&st, &a), 0);
        vg_frame_unref(&f);
    }
    a.frame = NULL;
    assert_int_equal(cls->flush(&st, &a), 0);
    if (cls->close) cls->close(&st);
    vg_opt_free(params, cls->options);
    free(params);
    free(st.priv);
    vg_scene_free(&scene);
}

/* 0-5 s the scene, 5-25 s blind, then the scene again until 40 s */
static enum look dark_segment(int i)
{
    return i >= 5 * FPS && i < 25 * FPS ? DARK : SCENE;
}
static enum look covered_segment(int i)
{
    return i >= 5 * FPS && i < 25 * FPS ? COVERED : SCENE;
}
static enum look hidden_segment(int i)
{
    return i >= 5 * FPS && i < 25 * FPS ? HALF_HIDDEN : SCENE;
}
static enum look short_blackouts(int i)
{
    return (i / FPS) % 10 < 8 ? SCENE : DARK;
} /* 2 s */
static enum look night(int i)
{
    (void)i;
    return NIGHT;
}
static enum look dark_to_the_end(int i)
{
    return i >= 5 * FPS ? DARK : SCENE;
}

static void check_one_fault(const rec_t *r, const char *reason)
{
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[0].type, VG_EVENT_CAMERA_FAULT);
    assert_int_equal(r->ev[0].phase, VG_PHASE_START);
    assert_int_equal(r->ev[1].phase, VG_PHASE_END);
    assert_int_equal(r->ev[0].event_id, r->ev[1].event_id);
    /* 5 s + 10 s, and the average over frames (a time constant of 0.25 s) */
    assert_true(r->ev[0].t >= 15.0 - 1e-9 && r->ev[0].t <= 16.0);
    assert_true(r->ev[1].t >= 27.0 - 1e-9 && r->ev[1].t <= 28.0); /* 25 s + 2 s */
    char want[64];
    snprintf(want, sizeof(want), "\"reason\":\"%s\"", reason);
    assert_non_null(strstr(r->ev[0].details, want));
}

static void test_dark(void **state)
{
    rec_t r;
    (void)state;
    run(&r, 40 * FPS, dark_segment, NULL);
    check_one_fault(&r, "dark");
}

static void test_covered(void **state)
{
    rec_t r;
    (void)state;
    run(&r, 40 * FPS, covered_segment, NULL);
    check_one_fault(&r, "covered");
}

static void test_not_blind(void **state)
{
    rec_t r;
    (void)state;
    run(&r, 40 * FPS, hidden_segment, NULL); /* 40 % still seen */
    assert_int_equal(r.n, 0);
    run(&r, 60 * FPS, short_blackouts, NULL); /* 2 s dark every 10 s */
    assert_int_equal(r.n, 0);
    run(&r, 30 * FPS, night, NULL); /* a dark scene with its detail */
    assert_int_equal(r.n, 0);
}

static void test_options_and_flush(void **state)
{
    rec_t r;
    static const char *const quick[] = {"camera_health.duration", "1", NULL};
    (void)state;
    /* blind to the end of the input: the fault is ended by the flush */
    run(&r, 10 * FPS, dark_to_the_end, quick);
    assert_int_equal(r.n, 2);
    assert_true(r.ev[0].t >= 6.0 - 1e-9 && r.ev[0].t <= 7.0);
    assert_int_equal(r.ev[1].phase, VG_PHASE_END);
    assert_true(r.ev[1].t > 9.8 && r.ev[1].frame == 10 * FPS - 1); /* at the last frame */
    /* the 2 s blackouts are faults once a blind second is enough */
    run(&r, 40 * FPS, short_blackouts, quick);
    assert_int_equal(r.n, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dark),
        cmocka_unit_test(test_covered),
        cmocka_unit_test(test_not_blind),
        cmocka_unit_test(test_options_and_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
