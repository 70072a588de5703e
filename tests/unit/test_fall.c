/* The fall detector (src/events/fall.c) on hand-made looks of the detector: a person standing who
 * is lying a second later, head down, raises one `fall` after fall.ground_time and ends when they
 * stand up again; lying down slowly, lying from the first look, lying inside a `rest` zone and a
 * "lying person" far from where anyone stood raise nothing; with lying_no_fall, lying from the
 * first look raises one event of kind lying_no_fall; someone helped, hidden by the people round
 * them, keeps the event open; a look that saw them falling and then a "dog" box where they lie
 * make a fall, a chair beside them does not get them up, a dog alone or beside a walker is
 * nobody; a pose taken while they lie is shown in the details; a view where nobody is ever seen
 * standing says once that it cannot see falls; bad input is refused. Looks every 0.5 s, 10 frames
 * a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/vigie.h>

#define MAXEV 16

typedef struct sink {
    vg_event_t ev[MAXEV];
    int n, starts, ends;
} sink_t;

static int sink(void *opaque, vg_event_t *ev)
{
    sink_t *s = opaque;
    if (ev->phase == VG_PHASE_START) ev->event_id = 10 + s->starts++;
    if (ev->phase == VG_PHASE_END) s->ends++;
    if (s->n < MAXEV) s->ev[s->n++] = *ev;
    return 0;
}

/* what the detector sees at time t: up to 4 boxes */
typedef int (*script_fn)(double t, vg_fall_person_t *out);

static const double STAND[4] = {300, 100, 60, 200}; /* standing: 60 x 200 */
static const double LIE[4] = {250, 260, 200, 50};   /* lying where they stood: 200 x 50 */

static void set_box(vg_fall_person_t *p, const double *b)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->box, b, sizeof(p->box));
    p->score = 0.8f;
}

static void run(vg_fall_t *f, script_fn script, double seconds, sink_t *s)
{
    vg_fall_person_t persons[4];
    for (int k = 0; k <= (int)(seconds * 10); k++) {
        double t = k / 10.0;
        int look = k % 5 == 0;
        int n = look ? script(t, persons) : 0;
        vg_fall_input_t in = {
            .frame = k, .t = t, .sx = 1, .sy = 1, .look = look, .persons = persons, .npersons = n};
        assert_int_equal(vg_fall_update(f, &in, sink, s), 0);
    }
    assert_int_equal(vg_fall_flush(f, (int64_t)(seconds * 10), seconds, sink, s), 0);
}

static vg_fall_t *open_fall(const vg_scene_t *scene, int lying_no_fall)
{
    vg_fall_params_t p;
    vg_fall_t *f;
    assert_int_equal(vg_opt_defaults(&p, vg_fall_option_group.options), 0);
    p.lying_no_fall = lying_no_fall;
    p.ground_time = 5; /* the timings below are written for 5 s */
    assert_int_equal(vg_fall_new(&f, scene, &p), 0);
    return f;
}

static vg_scene_t *scene_of(const char *yaml)
{
    vg_scene_t *sc;
    char err[256];
    if (vg_scene_parse(&sc, yaml, strlen(yaml), "test.yaml", err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return sc;
}

/* stands until 3 s, lies from 3.5 s, stands up again at 20 s */
static int fall_then_up(double t, vg_fall_person_t *o)
{
    set_box(o, t < 3.5 || t >= 20 ? STAND : LIE);
    return 1;
}

static void test_fall_raised_once(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    run(f, fall_then_up, 40, &s);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    const vg_event_t *e = &s.ev[0];
    assert_int_equal(e->type, VG_EVENT_FALL);
    /* lying from 3.5 s, ground_time 5 s */
    assert_true(e->t >= 8.5 && e->t <= 9.0);
    assert_non_null(strstr(e->details, "\"kind\":\"fall\""));
    assert_non_null(strstr(e->details, "\"fall_duration\":0.5"));
    assert_true(vg_box_iou(e->box, LIE) > 0.9);
    /* up at 20 s: the end end_after (5 s) later, "got up" */
    assert_true(s.ev[1].t >= 25 && s.ev[1].t <= 25.6);
    assert_non_null(strstr(s.ev[1].details, "got up"));
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

/* kneels, sits, then lies: standing last seen 3 s before lying */
static int slow_lie_down(double t, vg_fall_person_t *o)
{
    static const double KNEEL[4] = {290, 180, 90, 120}, SIT[4] = {270, 200, 130, 110};
    set_box(o, t < 2 ? STAND : t < 3.5 ? KNEEL : t < 5 ? SIT : LIE);
    return 1;
}

static int lying_from_start(double t, vg_fall_person_t *o)
{
    (void)t;
    set_box(o, LIE);
    return 1;
}

/* a "lying person" (a pattern on the floor) far from the one who stands there all along */
static int far_lying(double t, vg_fall_person_t *o)
{
    static const double FAR[4] = {20, 420, 200, 50};
    set_box(&o[0], STAND);
    if (t < 3.5) return 1;
    set_box(&o[1], FAR);
    return 2;
}

static void test_no_fall_seen(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    script_fn scripts[] = {slow_lie_down, lying_from_start, far_lying};
    for (int i = 0; i < 3; i++) {
        vg_fall_t *f = open_fall(sc, 0);
        sink_t s = {0};
        run(f, scripts[i], 40, &s);
        assert_int_equal(s.n, 0);
        vg_fall_free(&f);
    }
    /* lying_no_fall: someone lying from the first look raises one, of that kind, scored lower */
    vg_fall_t *f = open_fall(sc, 1);
    sink_t s = {0};
    run(f, lying_from_start, 40, &s);
    assert_int_equal(s.starts, 1);
    assert_non_null(strstr(s.ev[0].details, "\"kind\":\"lying_no_fall\""));
    assert_true(s.ev[0].score < 0.9);
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

static void test_rest_zone(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("zones:\n  - name: bench\n    kind: rest\n"
                              "    polygon: [[200, 250], [500, 250], [500, 350], [200, 350]]\n");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    run(f, fall_then_up, 40, &s);
    assert_int_equal(s.n, 0);
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

/* falls at 3.5 s; from 12 s two helpers stand over them and the detector no longer sees them
 * lying; from 30 s they are up */
static int helped(double t, vg_fall_person_t *o)
{
    static const double H1[4] = {240, 120, 60, 190}, H2[4] = {400, 120, 60, 190};
    if (t < 12) return fall_then_up(t, o);
    if (t < 30) {
        set_box(&o[0], H1), set_box(&o[1], H2);
        return 2;
    }
    set_box(&o[0], STAND);
    return 1;
}

static void test_hidden_by_helpers(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    run(f, helped, 50, &s);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    /* not ended while hidden (12-30 s): ends after they stand up */
    assert_true(s.ev[1].t >= 35 && s.ev[1].t <= 35.6);
    assert_non_null(strstr(s.ev[1].details, "got up"));
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

/* standing until 3 s; at 3.5 s seen falling (crouched, head down by 0.6 of their height, not yet
 * lying); not seen from 4 s; lying from 5.5 s (2.5 s after standing: too late for a fall from
 * standing straight to lying, but 2 s after falling) — but only as a "dog" box (the detector's name
 * for many people on a floor), with a chair beside them taken for someone standing */
static int fall_seen_as_dog(double t, vg_fall_person_t *o)
{
    static const double DOWN[4] = {280, 220, 100, 90}, CHAIR[4] = {440, 160, 60, 140};
    if (t < 3.5) {
        set_box(o, STAND);
        return 1;
    }
    if (t < 4) {
        set_box(o, DOWN);
        return 1;
    }
    if (t < 5.5) return 0;
    set_box(&o[0], LIE);
    o[0].standin = 1;
    set_box(&o[1], CHAIR);
    return 2;
}

/* a dog lying there from the start, and passing by a standing person: never anyone's fall */
static int dog_alone(double t, vg_fall_person_t *o)
{
    (void)t;
    set_box(&o[0], LIE);
    o[0].standin = 1;
    return 1;
}

static int dog_beside_walker(double t, vg_fall_person_t *o)
{
    static const double DOG[4] = {380, 250, 120, 50}, WALKER[4] = {300, 100, 60, 200};
    set_box(&o[0], WALKER);
    set_box(&o[1], DOG);
    o[1].standin = 1;
    (void)t;
    return 2;
}

static void test_falling_and_standins(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    run(f, fall_seen_as_dog, 20, &s);
    assert_int_equal(s.starts, 1);
    /* lying from 5.5 s, ground_time 5 s; the fall as the falling look saw it (0.5 s after the
     * last standing look) */
    assert_true(s.ev[0].t >= 10.5 && s.ev[0].t <= 11.0);
    assert_non_null(strstr(s.ev[0].details, "\"fall_duration\":0.5"));
    assert_true(vg_box_iou(s.ev[0].box, LIE) > 0.9);
    vg_fall_free(&f);
    script_fn none[] = {dog_alone, dog_beside_walker};
    for (int i = 0; i < 2; i++) {
        f = open_fall(sc, 1); /* even with lying_no_fall: a dog alone is nobody */
        sink_t z = {0};
        run(f, none[i], 30, &z);
        assert_int_equal(z.n, 0);
        vg_fall_free(&f);
    }
    vg_scene_free(&sc);
}

/* the fall of fall_then_up, with a pose on the lying looks: its torso lies across */
static int fall_with_pose(double t, vg_fall_person_t *o)
{
    fall_then_up(t, o);
    if (t >= 3.5 && t < 20) o->pose = 0.5f, o->torso_seen = 1, o->torso = 84;
    return 1;
}

/* a ceiling view: people seen only from above, never standing */
static int from_above(double t, vg_fall_person_t *o)
{
    (void)t;
    const double b[4] = {300, 300, 90, 100};
    set_box(o, b);
    return 1;
}

static int warnings;
static void count_warnings(void *opaque, int level, const char *component, const char *msg)
{
    (void)opaque;
    if (level == VG_LOG_WARNING && !strcmp(component, "fall") &&
        strstr(msg, "nobody seen standing"))
        warnings++;
}

static void test_pose_and_views(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    /* the pose is shown in the details, the decision stays the box's */
    run(f, fall_with_pose, 40, &s);
    assert_int_equal(s.starts, 1);
    assert_non_null(strstr(s.ev[0].details, "\"seen_by\":\"box, pose\""));
    assert_non_null(strstr(s.ev[0].details, "\"torso_angle\":84"));
    assert_non_null(strstr(s.ev[0].details, "torso 84 degrees"));
    vg_fall_free(&f);
    /* nobody ever standing: one warning, at 200 looks, and no event */
    f = open_fall(sc, 0);
    memset(&s, 0, sizeof(s));
    vg_log_set_sink(count_warnings, NULL);
    run(f, from_above, 150, &s); /* 301 looks */
    vg_log_set_sink(NULL, NULL);
    assert_int_equal(warnings, 1);
    assert_int_equal(s.starts, 0);
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

static void test_bad_input(void **state)
{
    (void)state;
    vg_scene_t *sc = scene_of("");
    vg_fall_t *f = open_fall(sc, 0);
    sink_t s = {0};
    vg_fall_input_t in = {.t = 0, .sx = 1, .sy = 1, .look = 1, .npersons = 2};
    assert_int_equal(vg_fall_update(f, &in, sink, &s), VG_EINVAL);
    in.npersons = 0, in.sx = 0;
    assert_int_equal(vg_fall_update(f, &in, sink, &s), VG_EINVAL);
    assert_int_equal(s.n, 0);
    vg_fall_free(&f);
    vg_scene_free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fall_raised_once),
        cmocka_unit_test(test_no_fall_seen),
        cmocka_unit_test(test_rest_zone),
        cmocka_unit_test(test_hidden_by_helpers),
        cmocka_unit_test(test_falling_and_standins),
        cmocka_unit_test(test_pose_and_views),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
