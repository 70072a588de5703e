/* Abandoned objects on generated scenes, through the real motion core (background model, static
 * foreground, long-term background) and tracker. The detector's part is played by the scene's
 * truth: every second a "look" reports the persons in view (the tests that matter for false
 * alerts also make it miss people). A person sitting still for ten minutes raises nothing, even
 * when the detector misses them in two looks out of three; a bag collected by its owner after
 * 20 s raises nothing; a bag left while the owner walks away raises one event, at the right
 * time, on the bag, naming its owner; a bag that appears with nobody around raises one with
 * owner "unknown"; the lights dimming raises nothing; an object on a fixture raises nothing; the
 * floor uncovered where a parked object left (a ghost) raises nothing; per-zone times apply; a
 * dark smooth bag is found whole and a static shadow is not an object; a false person on the
 * empty floor does not attend a bag; the detector's suitcase gives an object its class and box. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "synth.h"

#define MAXEV 32

typedef struct world {
    vg_bgs_t *b;
    vg_tracker_t *tr;
    vg_objects_t objs;
    vg_abandon_t *ab;
    vg_scene_t *scene;
    uint8_t *in, *raw, *clean, *lt;
    vg_image_t iv, rv, cv, lv;
    vg_abandon_person_t persons[SYNTH_MAX_OBJECTS];
    int npersons;
    int64_t results;
    double look_t;
    vg_event_t ev[MAXEV];
    int nev;
    unsigned states;   /* candidate states seen (1 << vg_abandon_state_t) */
    char reasons[256]; /* reasons seen, each once, space-separated */
    int64_t static_px; /* static foreground seen, summed over frames */
    double phantom[4]; /* w > 0: a "person" every look reports there, where nobody is */
    double luggage[4]; /* w > 0: a suitcase every look reports there */
} world_t;

static int sink(void *opaque, vg_event_t *ev)
{
    world_t *w = opaque;
    if (ev->phase == VG_PHASE_START) ev->event_id = 100 + w->nev;
    if (w->nev < MAXEV) w->ev[w->nev++] = *ev;
    return 0;
}

static void world_open(world_t *w, const synth_scene_t *s, const char *scene_yaml,
                       const char *settings)
{
    char err[512] = "";
    int W = s->w, H = s->h;
    memset(w, 0, sizeof(*w));
    vg_bgs_params_t bp;
    vg_bgs_params_default(&bp);
    assert_int_equal(vg_bgs_new(&w->b, W, H, &bp), 0);
    assert_int_equal(vg_tracker_new(&w->tr, NULL), 0);
    vg_objects_init(&w->objs);
    const char *yaml = scene_yaml ? scene_yaml : "";
    if (vg_scene_parse(&w->scene, yaml, strlen(yaml), "test.yaml", err, sizeof(err)) < 0)
        fail_msg("%s", err);
    vg_abandon_params_t p;
    assert_int_equal(vg_opt_defaults(&p, vg_abandon_option_group.options), 0);
    p.owner_distance_px = 60; /* a 320 x 240 view: people are 67 px tall */
    p.shadow_min = bp.shadow_min, p.shadow_max = bp.shadow_max;
    if (settings) {
        vg_settings_t *st;
        assert_int_equal(vg_settings_new(&st), 0);
        assert_int_equal(vg_settings_add_arg(st, settings, err, sizeof(err)), 0);
        if (vg_settings_apply(st, &vg_abandon_option_group, &p, err, sizeof(err)) < 0)
            fail_msg("%s", err);
        vg_settings_free(&st);
    }
    if (vg_abandon_new(&w->ab, w->scene, &p, W, H, W, H, err, sizeof(err)) < 0) fail_msg("%s", err);
    w->in = malloc((size_t)W * H), w->raw = malloc((size_t)W * H);
    w->clean = malloc((size_t)W * H), w->lt = malloc((size_t)W * H);
    w->iv = (vg_image_t){W, H, W, VG_PIX_GRAY8, w->in};
    w->rv = (vg_image_t){W, H, W, VG_PIX_GRAY8, w->raw};
    w->cv = (vg_image_t){W, H, W, VG_PIX_GRAY8, w->clean};
    w->lv = (vg_image_t){W, H, W, VG_PIX_GRAY8, w->lt};
    w->look_t = -1;
}

/* One frame; on whole seconds the "detector" looks and reports the persons in view, except
 * when @miss says it misses them (then it reports nobody). */
static void world_step(world_t *w, const synth_scene_t *s, int k, int miss)
{
    synth_truth_t truth;
    double t = k / s->fps;
    synth_render(s, k, w->in, s->w, NULL, &truth);
    assert_int_equal(vg_bgs_update(w->b, &w->iv, t, &w->rv, NULL), 0);
    assert_int_equal(vg_mask_clean(&w->cv, &w->rv, NULL), 0);
    assert_true(vg_components(&w->cv, NULL, 30, &w->objs) >= 0);
    assert_true(vg_tracker_update(w->tr, &w->objs, t) >= 0);
    assert_int_equal(vg_bgs_long_term(w->b, &w->lv), 0);
    int look = k % (int)s->fps == 0;
    if (look) {
        w->npersons = 0;
        for (int i = 0; i < truth.n && !miss; i++) {
            if (truth.kind[i] != SYNTH_PERSON) continue;
            vg_abandon_person_t *p = &w->persons[w->npersons++];
            memcpy(p->box, truth.box[i], sizeof(p->box));
            p->score = 0.9f;
        }
        if (w->phantom[2] > 0 && w->npersons < SYNTH_MAX_OBJECTS) {
            vg_abandon_person_t *p = &w->persons[w->npersons++];
            memcpy(p->box, w->phantom, sizeof(p->box));
            p->score = 0.4f;
        }
        w->results++;
        w->look_t = t;
    }
    vg_abandon_input_t in = {
        .gray = &w->iv,
        .mask = &w->cv,
        .background = &w->lv,
        .frame = k,
        .t = t,
        .sx = 1,
        .sy = 1,
        .persons = w->persons,
        .npersons = w->npersons,
        .look_region = {0, 0, s->w, s->h},
        .look_t = w->look_t,
        .look = look,
        .results_id = w->results,
        .static_time = 10,
    };
    vg_abandon_person_t lug = {.score = 0.5f, .cls = 28};
    if (w->luggage[2] > 0) {
        memcpy(lug.box, w->luggage, sizeof(lug.box));
        in.luggage = &lug, in.nluggage = 1;
    }
    in.tracks = vg_tracker_tracks(w->tr, &in.ntracks);
    if (w->look_t < 0) in.look_region[2] = 0;
    assert_int_equal(vg_abandon_update(w->ab, &in, sink, w), 0);
    vg_abandon_info_t info[64];
    int n = vg_abandon_candidates(w->ab, info, 64);
    for (int i = 0; i < n; i++) {
        if (getenv("DBG") && k % 10 == 0)
            fprintf(
                stderr,
                "t %.1f id %d %s box %.0f %.0f %.0f %.0f new %.2f old %.2f cur %.1f bg %.1f %s\n",
                t, info[i].id, vg_abandon_state_name(info[i].state), info[i].box[0], info[i].box[1],
                info[i].box[2], info[i].box[3], info[i].edge_new, info[i].edge_old,
                info[i].contrast, info[i].contrast_bg, info[i].reason ? info[i].reason : "-");
        w->states |= 1u << info[i].state;
        if (info[i].reason && !strstr(w->reasons, info[i].reason) &&
            strlen(w->reasons) + strlen(info[i].reason) + 2 < sizeof(w->reasons))
            strcat(strcat(w->reasons, info[i].reason), " ");
    }
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) w->static_px += w->clean[y * s->w + x] == VG_MASK_STATIC;
}

static void world_run(world_t *w, const synth_scene_t *s, int miss_two_in_three)
{
    for (int k = 0; k < s->nframes; k++)
        world_step(w, s, k, miss_two_in_three && (k / (int)s->fps) % 3 != 0);
    assert_int_equal(vg_abandon_flush(w->ab, s->nframes - 1, (s->nframes - 1) / s->fps, sink, w),
                     0);
}

static void world_close(world_t *w)
{
    vg_abandon_free(&w->ab);
    vg_scene_free(&w->scene);
    vg_bgs_free(&w->b);
    vg_tracker_free(&w->tr);
    vg_objects_close(&w->objs);
    free(w->in), free(w->raw), free(w->clean), free(w->lt);
}

static int starts(const world_t *w)
{
    int n = 0;
    for (int i = 0; i < w->nev; i++) n += w->ev[i].phase == VG_PHASE_START;
    return n;
}

static const vg_event_t *first_start(const world_t *w)
{
    for (int i = 0; i < w->nev; i++)
        if (w->ev[i].phase == VG_PHASE_START) return &w->ev[i];
    return NULL;
}

static double iou(const double *a, const double *b)
{
    double x0 = fmax(a[0], b[0]), y0 = fmax(a[1], b[1]);
    double x1 = fmin(a[0] + a[2], b[0] + b[2]), y1 = fmin(a[1] + a[3], b[1] + b[3]);
    double i = x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
    return i / (a[2] * a[3] + b[2] * b[3] - i);
}

static void print_events(const world_t *w)
{
    char buf[4096];
    for (int i = 0; i < w->nev; i++)
        if (vg_event_to_json(&w->ev[i], buf, sizeof(buf)) > 0) print_message("  %s\n", buf);
}

/* A person walks in, sits down beside a bench (part of the scene) and stays ten minutes. */
static void sitting_scene(synth_scene_t *s)
{
    synth_init(s, 320, 240, 2, 2 * 620, 11);
    synth_add_occluder(s, 180, 150, 70, 20, 70); /* the bench */
    int p = synth_add_walker(s, 1, 30, 200, 5, 150, 200);
    s->obj[p].t_out = 1e9;
    s->obj[p].nkeys = 3;
    s->obj[p].keys[2] = (synth_key_t){615, 150, 200};
}

static void test_sitting_person_raises_nothing(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    sitting_scene(&s);
    world_open(&w, &s, NULL, NULL);
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(w.nev, 0);
    assert_true(w.static_px > 100000); /* they did turn into static foreground */
    world_close(&w);
}

static void test_sitting_person_detector_misses(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    sitting_scene(&s);
    world_open(&w, &s, NULL, NULL);
    world_run(&w, &s, 1); /* the detector sees them in one look out of three */
    print_events(&w);
    print_message("  candidates seen as: %s\n", w.reasons);
    assert_int_equal(w.nev, 0);
    assert_true(w.static_px > 100000);
    world_close(&w);
}

/* The owner walks in with a bag, puts it down at 6 s and walks away along the bottom. */
static int left_scene(synth_scene_t *s, double seconds, double t_back)
{
    synth_init(s, 320, 240, 5, (int)(5 * seconds), 12);
    int p = synth_add_walker(s, 1, 20, 200, 6, 120, 200);
    s->obj[p].t_out = 1e9;
    s->obj[p].nkeys = 4;
    s->obj[p].keys[2] = (synth_key_t){7, 120, 200};  /* puts it down */
    s->obj[p].keys[3] = (synth_key_t){12, 330, 200}; /* and leaves the view */
    int b = synth_add_bag(s, p, 6.5);
    if (t_back > 0) { /* comes back, picks it up, leaves again */
        s->obj[p].nkeys = 7;
        s->obj[p].keys[3] = (synth_key_t){10, 250, 200}; /* stops 130 px away */
        s->obj[p].keys[4] = (synth_key_t){t_back - 3, 250, 200};
        s->obj[p].keys[5] = (synth_key_t){t_back, 120, 200};
        s->obj[p].keys[6] = (synth_key_t){t_back + 6, 330, 200};
        s->obj[b].t_out = t_back + 0.5;
    }
    return b;
}

static void test_bag_left_raises_once(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    int b = left_scene(&s, 70, 0);
    world_open(&w, &s, NULL, NULL);
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    const vg_event_t *e = first_start(&w);
    /* static 10 s after the drop (6.5 s), looked at twice without a person, then 30 s */
    assert_true(e->t >= 6.5 + 10 + 30 && e->t <= 6.5 + 10 + 30 + 4);
    double x, y;
    assert_true(synth_position(&s, b, 20, &x, &y));
    double truth[4] = {x - s.obj[b].w / 2, y - s.obj[b].h, s.obj[b].w, s.obj[b].h};
    assert_true(iou(e->box, truth) >= 0.5);
    assert_non_null(strstr(e->details, "\"owner\":"));
    assert_null(strstr(e->details, "\"owner\":\"unknown\""));
    assert_non_null(strstr(e->details, "\"put_down_at\":"));
    world_close(&w);
}

static void test_bag_collected_raises_nothing(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    left_scene(&s, 70, 6.5 + 20); /* collected 20 s after it was put down */
    world_open(&w, &s, NULL, NULL);
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(w.nev, 0);
    world_close(&w);
}

static void test_bag_unknown_owner(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    synth_init(&s, 320, 240, 5, 5 * 40, 13);
    /* a bag that appears at 3 s with nobody around (thrown, or left during an occlusion) */
    int p = synth_add_walker(&s, 0, -50, 100, 1, -60, 100);
    int b = synth_add_bag(&s, p, 0);
    s.obj[b].owner = -1;
    s.obj[b].t_in = 3;
    s.obj[b].nkeys = 1;
    s.obj[b].keys[0] = (synth_key_t){3, 200, 150};
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    const vg_event_t *e = first_start(&w);
    assert_true(e->t >= 3 + 10 + 5 && e->t <= 3 + 10 + 5 + 4);
    assert_non_null(strstr(e->details, "\"owner\":\"unknown\""));
    world_close(&w);
}

static void test_lights_dim_raise_nothing(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    synth_init(&s, 320, 240, 5, 5 * 90, 14);
    s.switch_t = 20;
    s.switch_gain = 0.6;                         /* a light switches off: everything 40 % darker */
    synth_add_occluder(&s, 40, 60, 60, 50, 200); /* a bright sign */
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(w.nev, 0);
    world_close(&w);
}

static void test_fixture_and_zone_time(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    /* the same left bag; a fixture over where it lies suppresses it */
    left_scene(&s, 70, 0);
    world_open(
        &w, &s,
        "fixtures:\n  - name: bin\n    polygon: [[120, 170], [170, 170], [170, 215], [120, 215]]\n",
        NULL);
    world_run(&w, &s, 0);
    assert_int_equal(w.nev, 0);
    world_close(&w);
    /* a zone whose own unattended time is 10 s: the event comes 20 s earlier, in that zone */
    left_scene(&s, 70, 0);
    world_open(&w, &s,
               "zones:\n  - name: hall\n    polygon: [[0, 120], [320, 120], [320, 240], [0, 240]]\n"
               "    settings:\n      abandoned_object.unattended_time: 10\n",
               NULL);
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    const vg_event_t *e = first_start(&w);
    assert_string_equal(e->zone, "hall");
    assert_true(e->t >= 6.5 + 10 + 10 && e->t <= 6.5 + 10 + 10 + 4);
    world_close(&w);
}

static void test_ghost_raises_nothing(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    /* a bag already there when the camera starts (learnt as background) is taken away at 20 s:
     * the floor it uncovers is static foreground, but it is no object */
    synth_init(&s, 320, 240, 5, 5 * 80, 15);
    int p = synth_add_walker(&s, 0, -50, 100, 1, -60, 100);
    int b = synth_add_bag(&s, p, 0);
    s.obj[b].owner = -1;
    s.obj[b].t_in = 0;
    s.obj[b].t_out = 20;
    s.obj[b].w = 40, s.obj[b].h = 30; /* a trolley */
    s.obj[b].nkeys = 1;
    s.obj[b].keys[0] = (synth_key_t){0, 200, 150};
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    world_run(&w, &s, 0);
    print_events(&w);
    print_message("  candidates seen as: %s\n", w.reasons);
    assert_int_equal(w.nev, 0);
    assert_non_null(strstr(w.reasons, "ghost")); /* it was a candidate, judged a ghost */
    world_close(&w);
}

/* A bag that appears with nobody around, at 3 s, its foot at (200, 150); @luma its level, @w x
 * @h its size. */
static int lone_bag_scene(synth_scene_t *s, uint32_t seed, uint8_t luma, double w, double h)
{
    synth_init(s, 320, 240, 5, 5 * 40, seed);
    int p = synth_add_walker(s, 0, -50, 100, 1, -60, 100);
    int b = synth_add_bag(s, p, 0);
    s->obj[b].owner = -1;
    s->obj[b].t_in = 3;
    s->obj[b].nkeys = 1;
    s->obj[b].keys[0] = (synth_key_t){3, 200, 150};
    s->obj[b].luma = luma;
    s->obj[b].w = w, s->obj[b].h = h;
    return b;
}

/* A dark, smooth bag (0.7 of the floor's level, without its grain: its inside is darker than
 * the floor by a shadow's ratio, with no edge of its own) is found whole, not as the pieces of
 * its outline that pass the shadow test. */
static void test_dark_bag_whole(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    int b = lone_bag_scene(&s, 17, 0, 44, 32);
    s.obj[b].shade = 0.7;
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    const vg_event_t *e = first_start(&w);
    double truth[4] = {200 - s.obj[b].w / 2, 150 - s.obj[b].h, s.obj[b].w, s.obj[b].h};
    print_message("  box IoU with the bag %.2f\n", iou(e->box, truth));
    assert_true(iou(e->box, truth) >= 0.7);
    assert_true(e->t >= 3 + 10 + 5 && e->t <= 3 + 10 + 5 + 4);
    world_close(&w);
}

/* A shadow that stays (cast by something out of view: 0.7 of the floor's level, its grain
 * kept), as large as the dark bag above, raises nothing. */
static void test_still_shadow_raises_nothing(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    int b = lone_bag_scene(&s, 17, 0, 44, 32);
    s.obj[b].shade = 0.7, s.obj[b].grain = 1;
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    world_run(&w, &s, 0);
    print_events(&w);
    print_message("  candidates seen as: %s\n", w.reasons);
    assert_int_equal(w.nev, 0);
    assert_true(w.static_px > 50000); /* it did turn static */
    world_close(&w);
}

/* A false person the detector reports in every look on the empty floor beside a bag (a manhole
 * cover, a pattern): no foreground under it, so nobody stands there and the bag is raised. */
static void test_phantom_person_does_not_attend(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    lone_bag_scene(&s, 18, 210, 22, 12);
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    double ph[4] = {150, 90, 25, 60}; /* foot 50 px from the bag's (owner_distance_px 60) */
    memcpy(w.phantom, ph, sizeof(ph));
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    world_close(&w);
}

/* The detector's suitcase on the bag gives the event its class, and its box where the mask holds
 * only part of the object; a suitcase box over the empty floor (no static pixels) adds nothing. */
static void test_luggage_box(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    int b = lone_bag_scene(&s, 19, 210, 22, 12);
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    double truth[4] = {200 - s.obj[b].w / 2, 150 - s.obj[b].h, s.obj[b].w, s.obj[b].h};
    double lug[4] = {truth[0] - 2, truth[1] - 8, truth[2] + 4, truth[3] + 10}; /* handle */
    memcpy(w.luggage, lug, sizeof(lug));
    world_run(&w, &s, 0);
    print_events(&w);
    assert_int_equal(starts(&w), 1);
    const vg_event_t *e = first_start(&w);
    assert_non_null(e);
    const char *details = e ? e->details : "";
    assert_non_null(strstr(details, "\"detector_class\":\"suitcase\""));
    assert_true(e->box[1] <= lug[1] + 1 && e->box[3] >= lug[3] - 1);
    world_close(&w);
    lone_bag_scene(&s, 19, 210, 22, 12);
    world_open(&w, &s, NULL, "abandoned_object.unattended_time=5");
    double away[4] = {60, 60, 30, 30};
    memcpy(w.luggage, away, sizeof(away));
    world_run(&w, &s, 0);
    assert_int_equal(starts(&w), 1);
    e = first_start(&w);
    assert_non_null(e);
    details = e ? e->details : "";
    assert_null(strstr(details, "detector_class"));
    assert_true(iou(e->box, truth) >= 0.5);
    world_close(&w);
}

/* A caller's mistakes are refused, not read past: a background of another size, a count of
 * persons without their array. */
static void test_bad_input(void **state)
{
    (void)state;
    synth_scene_t s;
    world_t w;
    synth_init(&s, 320, 240, 5, 1, 16);
    world_open(&w, &s, NULL, NULL);
    synth_render(&s, 0, w.in, s.w, NULL, NULL);
    memset(w.clean, 0, (size_t)s.w * s.h);
    memset(w.lt, 0, (size_t)s.w * s.h);
    uint8_t small[160 * 120] = {0};
    vg_image_t bg = {160, 120, 160, VG_PIX_GRAY8, small};
    vg_abandon_input_t in = {.gray = &w.iv, .mask = &w.cv, .background = &bg, .t = 0};
    assert_int_equal(vg_abandon_update(w.ab, &in, sink, &w), VG_EINVAL);
    in.background = &w.lv;
    in.npersons = 3;
    assert_int_equal(vg_abandon_update(w.ab, &in, sink, &w), VG_EINVAL);
    in.npersons = 0;
    assert_int_equal(vg_abandon_update(w.ab, &in, sink, &w), 0);
    assert_int_equal(w.nev, 0);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sitting_person_raises_nothing),
        cmocka_unit_test(test_sitting_person_detector_misses),
        cmocka_unit_test(test_bag_left_raises_once),
        cmocka_unit_test(test_bag_collected_raises_nothing),
        cmocka_unit_test(test_bag_unknown_owner),
        cmocka_unit_test(test_dark_bag_whole),
        cmocka_unit_test(test_still_shadow_raises_nothing),
        cmocka_unit_test(test_phantom_person_does_not_attend),
        cmocka_unit_test(test_luggage_box),
        cmocka_unit_test(test_lights_dim_raise_nothing),
        cmocka_unit_test(test_fixture_and_zone_time),
        cmocka_unit_test(test_ghost_raises_nothing),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
