/* The weapon detector (src/events/weapon.c) on hand-made looks of the detector, with a stand-in
 * for the detect stage that serves the close looks it asks for on the next frame (with the
 * persons' wrists, as VG_INFER_HANDS does): a knife in a person's hand raises one `weapon` event
 * on that person's track after a close look, and it ends when the person leaves; a knife lying on
 * the ground, away from anyone or at someone's feet, raises none; a single look's mistake is
 * outvoted by the close looks it asked for; without require_held a knife near a person is
 * enough; a knife put away ends the event after end_after; an ignore mask hides a place; a person
 * box smaller than the object holds nothing; an unknown class is refused with its name. 10 frames a
 * second, a routine look every 0.5 s. */
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

static const double PERSON[4] = {300, 100, 60, 180};
static const float HAND[2] = {362, 196};                /* their right wrist */
static const double KNIFE_HELD[4] = {356, 186, 14, 30}; /* under it */
static const double KNIFE_FEET[4] = {320, 272, 30, 8};  /* at their feet */
static const double KNIFE_FAR[4] = {600, 420, 30, 8};   /* on the ground, nobody near */

/* what is in view at time t */
typedef struct world {
    const double *knife; /* NULL: none */
    double knife_until;  /* seen until then */
    int person_until;    /* the person's track ends then (s; 0: never) */
    int glitch;          /* the knife is seen at one routine look only (t = 1.0) */
} world_t;

typedef struct harness {
    sink_t *sink;
    float ask_region[4];
    unsigned ask_flags;
    int64_t ask_tag;
    int asks;
} harness_t;

static int ask(void *opaque, const float region[4], unsigned flags, int64_t tag)
{
    harness_t *h = opaque;
    if (h->ask_tag) return VG_EBUSY; /* one in flight */
    memcpy(h->ask_region, region, sizeof(h->ask_region));
    h->ask_flags = flags, h->ask_tag = tag;
    h->asks++;
    return 0;
}

static void put(vg_detection_t *d, const double *b, int cls, float score)
{
    memset(d, 0, sizeof(*d));
    d->x = (float)b[0], d->y = (float)b[1], d->w = (float)b[2], d->h = (float)b[3];
    d->cls = cls, d->score = score;
}

static int s_emit(void *opaque, vg_event_t *ev)
{
    harness_t *h = opaque;
    return sink(h->sink, ev);
}

/* the look of time t: the asked close look when there is one, else a routine region look every
 * 0.5 s; returns the number of boxes */
static int look_at(const world_t *w, double t, int close, vg_detection_t *det)
{
    int n = 0;
    if (!w->person_until || t < w->person_until) {
        put(&det[n], PERSON, 0, 0.9f);
        if (close) { /* the wrists come with close looks */
            det[n].wrist[0] = 310, det[n].wrist[1] = 196, det[n].wrist[2] = HAND[0],
            det[n].wrist[3] = HAND[1];
            det[n].wrist_score[0] = det[n].wrist_score[1] = 0.7f;
            det[n].pose = 0.6f;
        }
        n++;
    }
    int knife = w->knife && t <= w->knife_until;
    if (w->glitch) knife = fabs(t - 1.0) < 1e-9;
    if (knife) put(&det[n++], w->knife, 43, 0.45f);
    return n;
}

static void run(vg_weapon_t *wd, const world_t *w, double seconds, sink_t *s, harness_t *h)
{
    vg_detection_t det[4];
    for (int k = 0; k <= (int)(seconds * 10 + 0.5); k++) {
        double t = k / 10.0;
        vg_weapon_input_t in = {.frame = k, .t = t, .sx = 2, .sy = 2, .w = 768, .h = 576};
        int alive = !w->person_until || t < w->person_until;
        vg_weapon_track_t tr = {7, {PERSON[0], PERSON[1], PERSON[2], PERSON[3]}};
        int64_t ended = 7;
        in.tracks = alive ? &tr : NULL;
        in.ntracks = alive;
        if (w->person_until && fabs(t - w->person_until) < 1e-9) in.ended = &ended, in.nended = 1;
        if (h->ask_tag) { /* the close look asked on the last frame comes back */
            in.look = 1;
            memcpy(in.region, h->ask_region, sizeof(in.region));
            in.ask_tag = h->ask_tag, in.ask_flags = h->ask_flags;
            h->ask_tag = 0;
            in.ndet = look_at(w, t, 1, det);
        } else if (k % 5 == 0) {
            in.look = 1;
            in.region[0] = 240, in.region[1] = 10, in.region[2] = in.region[3] = 360;
            in.ndet = look_at(w, t, 0, det);
        }
        in.det = det;
        h->sink = s;
        assert_int_equal(vg_weapon_update(wd, &in, s_emit, ask, h), 0);
    }
}

static vg_weapon_t *make(const vg_scene_t *sc, int require_held)
{
    vg_weapon_params_t p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_weapon_option_group.options), 0);
    p.require_held = require_held;
    vg_weapon_t *w = NULL;
    char err[256] = "";
    assert_int_equal(vg_weapon_new(&w, sc, &p, err, sizeof(err)), 0);
    vg_opt_free(&p, vg_weapon_option_group.options);
    return w;
}

static void held_knife_raises_one_event(void **state)
{
    (void)state;
    vg_weapon_t *wd = make(NULL, 1);
    sink_t s = {0};
    harness_t h = {0};
    world_t w = {.knife = KNIFE_HELD, .knife_until = 1e9, .person_until = 6};
    run(wd, &w, 8, &s, &h);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    const vg_event_t *st = &s.ev[0];
    assert_int_equal(st->type, VG_EVENT_WEAPON);
    assert_true(st->t <= 1.0); /* a routine look at 0, close looks after it */
    assert_non_null(strstr(st->details, "\"kind\":\"knife\""));
    assert_non_null(strstr(st->details, "\"held_by\":7"));
    assert_non_null(strstr(st->details, "\"wrist\":\"right\""));
    assert_non_null(strstr(st->details, "\"check\":"));
    /* the weapon's box, in input pixels (x2) */
    assert_true(fabs(st->box[0] - 2 * KNIFE_HELD[0]) < 1e-6);
    assert_true(fabs(st->box[3] - 2 * KNIFE_HELD[3]) < 1e-6);
    assert_non_null(strstr(s.ev[1].details, "the person left"));
    assert_true(s.ev[1].t >= 6 - 1e-9);
    vg_weapon_stats_t ws;
    vg_weapon_get_stats(wd, &ws);
    assert_true(ws.close_asked >= 1);
    assert_true(h.asks >= 1);
    assert_true(h.ask_flags & VG_INFER_HANDS);
    vg_weapon_free(&wd);
}

static void knife_on_ground_raises_none(void **state)
{
    (void)state;
    /* far from anyone: not even a close look */
    vg_weapon_t *wd = make(NULL, 1);
    sink_t s = {0};
    harness_t h = {0};
    world_t w = {.knife = KNIFE_FAR, .knife_until = 1e9};
    run(wd, &w, 10, &s, &h);
    assert_int_equal(s.starts, 0);
    vg_weapon_stats_t ws;
    vg_weapon_get_stats(wd, &ws);
    assert_true(ws.unheld > 0);
    assert_int_equal(ws.close_asked, 0);
    vg_weapon_free(&wd);
    /* at someone's feet: close looks see their wrists elsewhere */
    wd = make(NULL, 1);
    memset(&s, 0, sizeof(s));
    memset(&h, 0, sizeof(h));
    w.knife = KNIFE_FEET;
    run(wd, &w, 10, &s, &h);
    assert_int_equal(s.starts, 0);
    vg_weapon_get_stats(wd, &ws);
    assert_true(ws.close_asked >= 1);
    assert_int_equal(ws.held, 0);
    vg_weapon_free(&wd);
    /* without require_held, a knife at someone's feet is enough (after a close look) */
    wd = make(NULL, 0);
    memset(&s, 0, sizeof(s));
    memset(&h, 0, sizeof(h));
    run(wd, &w, 10, &s, &h);
    assert_int_equal(s.starts, 1);
    assert_non_null(strstr(s.ev[0].details, "\"held\":false"));
    vg_weapon_free(&wd);
}

static void one_look_mistake_is_outvoted(void **state)
{
    (void)state;
    vg_weapon_t *wd = make(NULL, 1);
    sink_t s = {0};
    harness_t h = {0};
    world_t w = {.knife = KNIFE_HELD, .glitch = 1};
    run(wd, &w, 10, &s, &h);
    assert_int_equal(s.starts, 0);
    vg_weapon_stats_t ws;
    vg_weapon_get_stats(wd, &ws);
    /* it asked a few close looks, then stopped */
    assert_true(ws.close_asked >= 1 && ws.close_asked <= 6);
    vg_weapon_free(&wd);
}

static void knife_put_away_ends(void **state)
{
    (void)state;
    vg_weapon_t *wd = make(NULL, 1);
    sink_t s = {0};
    harness_t h = {0};
    world_t w = {.knife = KNIFE_HELD, .knife_until = 2};
    run(wd, &w, 12, &s, &h);
    assert_int_equal(s.starts, 1);
    assert_int_equal(s.ends, 1);
    assert_non_null(strstr(s.ev[1].details, "not seen held any more"));
    assert_true(s.ev[1].t > 1 + 5 &&
                s.ev[1].t < 2 + 5 + 0.5); /* 5 s after the last look that saw it */
    /* end of input ends nothing more */
    assert_int_equal(vg_weapon_flush(wd, 120, 12, s_emit, &h), 0);
    assert_int_equal(s.ends, 1);
    vg_weapon_free(&wd);
    /* an event still open at the end of input ends there */
    wd = make(NULL, 1);
    memset(&s, 0, sizeof(s));
    memset(&h, 0, sizeof(h));
    w.knife_until = 1e9;
    run(wd, &w, 4, &s, &h);
    assert_int_equal(s.starts, 1);
    assert_int_equal(vg_weapon_flush(wd, 40, 4, s_emit, &h), 0);
    assert_int_equal(s.ends, 1);
    assert_non_null(strstr(s.ev[1].details, "end of input"));
    assert_true(fabs(s.ev[1].box[0] - 2 * KNIFE_HELD[0]) < 1e-6);
    vg_weapon_free(&wd);
}

static void ignore_mask_hides(void **state)
{
    (void)state;
    vg_scene_t *sc = NULL;
    char err[256];
    /* the hand's place (input pixels: x2) */
    const char *yaml =
        "masks:\n  ignore:\n    - [[680, 340], [780, 340], [780, 460], [680, 460]]\n";
    assert_int_equal(vg_scene_parse(&sc, yaml, strlen(yaml), "test", err, sizeof(err)), 0);
    vg_weapon_t *wd = make(sc, 1);
    sink_t s = {0};
    harness_t h = {0};
    world_t w = {.knife = KNIFE_HELD, .knife_until = 1e9};
    run(wd, &w, 6, &s, &h);
    assert_int_equal(s.starts, 0);
    vg_weapon_free(&wd);
    vg_scene_free(&sc);
}

/* a person box smaller than the object is nobody's holder, whatever its wrists say */
static void tiny_person_holds_nothing(void **state)
{
    (void)state;
    vg_detection_t det[3];
    const double knife[4] = {145, 400, 66, 53};
    const double tiny[4] = {201, 452, 5, 27}, big[4] = {120, 300, 70, 200};
    put(&det[0], tiny, 0, 0.2f);
    det[0].wrist[2] = 180, det[0].wrist[3] = 420, det[0].wrist_score[1] = 0.9f;
    int wrist = -1, near = -1;
    assert_int_equal(vg_weapon_holder(0.15, knife, det, 1, &wrist, &near), -1);
    assert_int_equal(near, -1);
    /* a person tall enough, with the same wrist: the holder */
    put(&det[1], big, 0, 0.8f);
    det[1].wrist[2] = 180, det[1].wrist[3] = 420, det[1].wrist_score[1] = 0.9f;
    assert_int_equal(vg_weapon_holder(0.15, knife, det, 2, &wrist, &near), 1);
    assert_int_equal(wrist, 1);
    assert_int_equal(near, 1);
}

static void bad_classes_refused(void **state)
{
    (void)state;
    vg_weapon_params_t p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_weapon_option_group.options), 0);
    vg_weapon_t *w = NULL;
    char err[256] = "";
    char *keep = p.classes;
    p.classes = "knife, handgun";
    assert_int_equal(vg_weapon_new(&w, NULL, &p, err, sizeof(err)), VG_EINVAL);
    assert_null(w);
    assert_non_null(strstr(err, "'handgun'"));
    p.classes = "person";
    assert_int_equal(vg_weapon_new(&w, NULL, &p, err, sizeof(err)), VG_EINVAL);
    p.classes = " knife , scissors ";
    assert_int_equal(vg_weapon_new(&w, NULL, &p, err, sizeof(err)), 0);
    vg_weapon_free(&w);
    p.classes = keep;
    vg_opt_free(&p, vg_weapon_option_group.options);
    assert_string_equal(vg_weapon_kind(34), "bat");
    assert_null(vg_weapon_kind(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_knife_raises_one_event),
        cmocka_unit_test(knife_on_ground_raises_none),
        cmocka_unit_test(one_look_mistake_is_outvoted),
        cmocka_unit_test(knife_put_away_ends),
        cmocka_unit_test(ignore_mask_hides),
        cmocka_unit_test(tiny_person_holds_nothing),
        cmocka_unit_test(bad_classes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
