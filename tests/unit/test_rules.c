/*
 * Event rules: the hysteresis state machine, the ground-plane calibration, and the zone events
 * (intrusion, wrong_way) on hand-made tracks covering the edge cases: dwell just below and above
 * the threshold, a track touching a zone's edge, a line crossed both ways, an occlusion during a
 * crossing, speeds around the walking limit, a detector label, travel against a direction.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include <vigie/vigie.h>

/* ---- the state machine ---- */

static int run_timeline(const vg_rule_timing_t *tm, const int *cond, int n, double dt, int *starts,
                        int *ends, double *t_start)
{
    vg_rule_t r;
    vg_rule_init(&r);
    *starts = *ends = 0;
    for (int i = 0; i < n; i++) {
        double box[4] = {i, 0, 1, 1};
        vg_rule_action_t a = vg_rule_update(&r, tm, cond[i], i * dt, 0.5 + 0.01 * i, i, box);
        if (a == VG_RULE_START) (*starts)++, *t_start = i * dt;
        if (a == VG_RULE_END) (*ends)++;
    }
    return r.active;
}

static void test_rule_hysteresis(void **state)
{
    (void)state;
    vg_rule_timing_t tm = {1.0, 0.5, 5.0};
    int c[100], s, e;
    double ts = -1;
    /* 0.9 s of condition (10 frames at 0.1 s span 0.9 s): no event */
    memset(c, 0, sizeof(c));
    for (int i = 10; i < 20; i++) c[i] = 1;
    run_timeline(&tm, c, 40, 0.1, &s, &e, &ts);
    assert_int_equal(s, 0);
    /* 1.1 s: one start at 1.0 s after the first frame, one end 0.5 s after it stops */
    for (int i = 10; i < 22; i++) c[i] = 1;
    assert_int_equal(run_timeline(&tm, c, 40, 0.1, &s, &e, &ts), 0);
    assert_int_equal(s, 1);
    assert_int_equal(e, 1);
    assert_true(fabs(ts - 2.0) < 1e-9);
    /* flicker shorter than off_time inside the event: still one event (and a condition that
     * flickers before on_time never starts one) */
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 60; i++) c[i] = i < 15 || (i % 5) != 0;
    run_timeline(&tm, c, 80, 0.1, &s, &e, &ts);
    assert_int_equal(s, 1);
    assert_int_equal(e, 1);
    /* back within the cooldown: nothing new; after it: a second event */
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 15; i++) c[i] = 1;  /* event, ends at ~2.0 s */
    for (int i = 30; i < 45; i++) c[i] = 1; /* 1 s after the end: within the cooldown */
    for (int i = 80; i < 95; i++) c[i] = 1; /* 6 s after: a new event */
    run_timeline(&tm, c, 100, 0.1, &s, &e, &ts);
    assert_int_equal(s, 2);
}

/* ---- calibration ---- */

static void test_calibration(void **state)
{
    (void)state;
    /* a camera looking down a 10 m x 20 m rectangle drawn as a trapezoid */
    vg_calib_point_t p[4] = {
        {{100, 500}, {0, 0}}, {{700, 500}, {10, 0}}, {{600, 300}, {10, 20}}, {{200, 300}, {0, 20}}};
    vg_calib_t c;
    char err[256];
    assert_int_equal(vg_calib_fit(&c, p, 4, err, sizeof(err)), 0);
    assert_true(c.valid);
    assert_true(c.rms < 1e-6);
    double gx, gy, x, y;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(vg_calib_to_ground(&c, p[i].image.x, p[i].image.y, &gx, &gy), 0);
        assert_true(fabs(gx - p[i].ground.x) < 1e-6 && fabs(gy - p[i].ground.y) < 1e-6);
        assert_int_equal(vg_calib_to_image(&c, gx, gy, &x, &y), 0);
        assert_true(fabs(x - p[i].image.x) < 1e-6 && fabs(y - p[i].image.y) < 1e-6);
    }
    /* the middle of the near edge is 5 m along it; the area of the trapezoid is 200 m² */
    assert_int_equal(vg_calib_to_ground(&c, 400, 500, &gx, &gy), 0);
    assert_true(fabs(gx - 5) < 1e-6 && fabs(gy) < 1e-6);
    vg_point_t quad[4] = {{100, 500}, {700, 500}, {600, 300}, {200, 300}};
    vg_polygon_t poly = {4, quad};
    double area;
    assert_int_equal(vg_calib_area(&c, &poly, &area), 0);
    assert_true(fabs(area - 200) < 1e-6);
    /* beyond the horizon (the vanishing line is above y = 300 here) */
    assert_int_equal(vg_calib_to_ground(&c, 400, -10000, &gx, &gy), VG_ERANGE);
    /* more points than needed, one 5 cm off: least squares, with its error reported */
    double mx, my;
    assert_int_equal(vg_calib_to_ground(&c, 400, 400, &mx, &my), 0);
    vg_calib_point_t q[5] = {p[0], p[1], p[2], p[3], {{400, 400}, {mx + 0.05, my}}};
    assert_int_equal(vg_calib_fit(&c, q, 5, err, sizeof(err)), 0);
    assert_true(c.rms > 0 && c.rms < 0.2);
    /* too few, collinear, none */
    assert_int_equal(vg_calib_fit(&c, p, 3, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "at least 4"));
    vg_calib_point_t line[4] = {
        {{0, 0}, {0, 0}}, {{1, 1}, {1, 1}}, {{2, 2}, {2, 2}}, {{3, 3}, {3, 3}}};
    assert_int_equal(vg_calib_fit(&c, line, 4, err, sizeof(err)), VG_EINVAL);
    assert_int_equal(vg_calib_fit(&c, NULL, 0, err, sizeof(err)), 0);
    assert_false(c.valid);
}

/* the local vertical from a ground calibration: a camera 6 m up at (0, -10), looking along +y
 * down by @tilt degrees and rolled by @roll about its axis of view, f = 800, 1280x720 */
static void project(double tilt, double roll, const double *X, double *u, double *v)
{
    const double rad = 3.14159265358979 / 180;
    double s = sin(tilt * rad), c = cos(tilt * rad), cr = cos(roll * rad), sr = sin(roll * rad);
    double d[3] = {X[0], X[1] + 10, X[2] - 6};
    /* camera axes: x right, y down, z forward */
    double xc0 = d[0], yc0 = -s * d[1] - c * d[2], zc = c * d[1] - s * d[2];
    double xc = cr * xc0 - sr * yc0, yc = sr * xc0 + cr * yc0;
    *u = 800 * xc / zc + 640, *v = 800 * yc / zc + 360;
}

static void test_calibration_vertical(void **state)
{
    (void)state;
    /* tilt, roll, and the ground seen: x from -w to w, y from y0 to y1 (metres) */
    static const double views[][5] = {
        {30, 0, 4, 2, 14}, {60, 0, 3, -6, 0}, {20, 8, 4, 4, 20}, {85, 0, 2, -11, -8}};
    for (int vi = 0; vi < 4; vi++) {
        const double *V = views[vi];
        double gp[4][2] = {{-V[2], V[3]}, {V[2], V[3]}, {V[2], V[4]}, {-V[2], V[4]}};
        vg_calib_point_t p[4];
        for (int i = 0; i < 4; i++) {
            double X[3] = {gp[i][0], gp[i][1], 0}, u, v;
            project(V[0], V[1], X, &u, &v);
            p[i] = (vg_calib_point_t){{u, v}, {X[0], X[1]}};
        }
        vg_calib_t c;
        char err[256];
        assert_int_equal(vg_calib_fit(&c, p, 4, err, sizeof(err)), 0);
        double worst = 1;
        /* posts of 1.7 m over the ground seen: their image leans as the vertical does there */
        for (int i = 0; i <= 4; i++)
            for (int j = 0; j <= 4; j++) {
                double gx = -V[2] + i * V[2] / 2, gy = V[3] + j * (V[4] - V[3]) / 4;
                double F[3] = {gx, gy, 0}, H[3] = {gx, gy, 1.7}, fu, fv, hu, hv, ux, uy;
                project(V[0], V[1], F, &fu, &fv);
                project(V[0], V[1], H, &hu, &hv);
                assert_int_equal(vg_calib_up(&c, 640, 360, fu, fv, &ux, &uy), 0);
                double dot = (ux * (hu - fu) + uy * (hv - fv)) / hypot(hu - fu, hv - fv);
                if (dot < worst) worst = dot;
            }
        assert_true(worst > 0.9999);
    }
    vg_calib_t c = {0};
    double ux, uy;
    assert_int_equal(vg_calib_up(&c, 640, 360, 0, 0, &ux, &uy), VG_EINVAL);
    /* a plan drawn without perspective (a square as a square): no camera, the image's vertical */
    vg_calib_point_t flat[4] = {
        {{100, 100}, {0, 0}}, {{300, 100}, {2, 0}}, {{300, 300}, {2, 2}}, {{100, 300}, {0, 2}}};
    char err[256];
    assert_int_equal(vg_calib_fit(&c, flat, 4, err, sizeof(err)), 0);
    assert_int_equal(vg_calib_up(&c, 640, 360, 200, 200, &ux, &uy), VG_ERANGE);
}

/* ---- zone rules ---- */

typedef struct sink {
    int n;
    vg_event_t ev[64];
    int64_t next_id;
} sink_t;

static int collect(void *opaque, vg_event_t *ev)
{
    sink_t *s = opaque;
    if (ev->phase == VG_PHASE_START && ev->event_id == 0) ev->event_id = ++s->next_id;
    if (s->n < 64) s->ev[s->n++] = *ev;
    return 0;
}

static int count(const sink_t *s, vg_event_type_t type, vg_event_phase_t phase)
{
    int k = 0;
    for (int i = 0; i < s->n; i++) k += s->ev[i].type == type && s->ev[i].phase == phase;
    return k;
}

static const char scene_yaml[] = "zones:\n"
                                 "  - name: tracks\n"
                                 "    kind: forbidden\n"
                                 "    polygon: [[100, 100], [200, 100], [200, 200], [100, 200]]\n"
                                 "  - name: walkway\n"
                                 "    kind: pedestrian_only\n"
                                 "    polygon: [[300, 0], [600, 0], [600, 300], [300, 300]]\n"
                                 "  - name: platform\n"
                                 "    kind: forbidden\n"
                                 "    polygon: [[100, 600], [200, 600], [200, 700], [100, 700]]\n"
                                 "    settings:\n"
                                 "      intrusion.min_dwell: 3\n"
                                 "  - name: lane\n"
                                 "    kind: watch\n"
                                 "    polygon: [[0, 300], [600, 300], [600, 400], [0, 400]]\n"
                                 "    direction: [1, 0]\n"
                                 "    tolerance: 45\n"
                                 "lines:\n"
                                 "  - name: gate\n"
                                 "    points: [[50, 450], [50, 550]]\n"
                                 "    forbidden: left_to_right\n";

typedef struct world {
    vg_scene_t *scene;
    vg_zone_rules_t *z;
    vg_intrusion_params_t ip;
    vg_wrong_way_params_t wp;
    sink_t sink;
} world_t;

static void world_open(world_t *w)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    assert_int_equal(
        vg_scene_parse(&w->scene, scene_yaml, sizeof(scene_yaml) - 1, "t.yaml", err, sizeof(err)),
        0);
    assert_int_equal(vg_opt_defaults(&w->ip, vg_intrusion_option_group.options), 0);
    assert_int_equal(vg_opt_defaults(&w->wp, vg_wrong_way_option_group.options), 0);
    assert_int_equal(vg_zone_rules_new(&w->z, w->scene, &w->ip, &w->wp, err, sizeof(err)), 0);
}

static void world_close(world_t *w)
{
    vg_zone_rules_free(&w->z);
    vg_scene_free(&w->scene);
}

/* A track of id @id whose foot point is at (fx, fy), 20x40 box, moving at (vx, vy) px/s. */
static vg_track_t track(int64_t id, double fx, double fy, double vx, double vy)
{
    vg_track_t t;
    memset(&t, 0, sizeof(t));
    t.id = id;
    t.state = VG_TRACK_CONFIRMED;
    t.box[0] = fx - 10, t.box[1] = fy - 40, t.box[2] = 20, t.box[3] = 40;
    t.vx = vx, t.vy = vy;
    t.object = 0;
    t.hits = 10;
    return t;
}

/* Walk one track from (x0, y0) to (x1, y1) in @secs at 10 frames/s, then stay out of sight
 * for 5 s; @lost_from..@lost_to (frame indices) it is coasting (occluded). */
static void walk(world_t *w, const vg_detections_t *det, int64_t id, double x0, double y0,
                 double x1, double y1, double secs, int lost_from, int lost_to, double *max_score)
{
    int frames = (int)(secs * 10 + 0.5);
    double vx = (x1 - x0) / secs, vy = (y1 - y0) / secs;
    static int64_t f = 0;
    for (int i = 0; i <= frames + 50; i++, f++) {
        double t = f * 0.1, score = 0;
        vg_track_t tk = track(id, x0 + (x1 - x0) * i / frames, y0 + (y1 - y0) * i / frames, vx, vy);
        if (i >= lost_from && i <= lost_to) tk.state = VG_TRACK_LOST;
        int n = i <= frames ? 1 : 0;
        assert_int_equal(
            vg_zone_rules_update(w->z, &tk, n, det, 1, 1, f, t, collect, &w->sink, &score), 0);
        if (max_score && score > *max_score) *max_score = score;
    }
}

static void test_intrusion_forbidden(void **state)
{
    world_t w;
    (void)state;
    world_open(&w);
    /* dwell just below min_dwell (1 s): in the zone for 0.8 s, then out */
    walk(&w, NULL, 1, 150, 150, 150, 150, 0.8, -1, -1, NULL);
    assert_int_equal(w.sink.n, 0);
    /* touching the edge with its box but not its foot point: nothing */
    walk(&w, NULL, 2, 150, 99, 150, 99, 3, -1, -1, NULL);
    assert_int_equal(w.sink.n, 0);
    /* just above: 1.2 s inside; one start, one end, with evidence */
    walk(&w, NULL, 3, 150, 150, 150, 150, 1.2, -1, -1, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 1);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_END), 1);
    const vg_event_t *st = &w.sink.ev[0];
    assert_string_equal(st->zone, "tracks");
    assert_true(st->has_box && fabs(st->box[0] - 140) < 1e-9);
    assert_non_null(strstr(st->details, "\"kind\":\"forbidden\""));
    assert_non_null(strstr(st->details, "\"calibrated\":false"));
    assert_int_equal(w.sink.ev[1].event_id, st->event_id);
    world_close(&w);
}

static void test_intrusion_pedestrian_only(void **state)
{
    world_t w;
    (void)state;
    world_open(&w);
    /* walking: 40 px/s with a 40 px box is 1 height/s, below walk_heights 1.5: nothing */
    double top = 0;
    walk(&w, NULL, 1, 320, 150, 400, 150, 2, -1, -1, &top);
    assert_int_equal(w.sink.n, 0);
    assert_true(top < 0.5);
    /* riding: 200 px/s = 5 heights/s: intrusion, reason speed */
    walk(&w, NULL, 2, 310, 150, 590, 150, 1.4, -1, -1, &top);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 1);
    assert_non_null(strstr(w.sink.ev[0].details, "\"reason\":\"speed\""));
    assert_true(top > 0.9);
    /* slow, but the detector says bicycle: intrusion, reason class */
    vg_track_label_t lb = {.track = 3, .cls = 1, .score = 0.8f, .vehicle_cls = -1, .looks = 2};
    vg_detections_t det = {.nlabels = 1, .labels = &lb};
    int before = count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START);
    walk(&w, &det, 3, 320, 150, 360, 150, 2, -1, -1, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), before + 1);
    const vg_event_t *last = NULL;
    for (int i = 0; i < w.sink.n; i++)
        if (w.sink.ev[i].phase == VG_PHASE_START) last = &w.sink.ev[i];
    assert_non_null(strstr(last->details, "\"reason\":\"class\""));
    assert_non_null(strstr(last->details, "\"class\":\"bicycle\""));
    world_close(&w);
}

static void test_line_crossing(void **state)
{
    world_t w;
    (void)state;
    world_open(&w);
    /* the gate is drawn downwards (50,450) -> (50,550): its left is x > 50, its right x < 50.
     * Right to left (allowed): nothing; left to right (forbidden): one */
    walk(&w, NULL, 1, 20, 500, 80, 500, 2, -1, -1, NULL);
    assert_int_equal(w.sink.n, 0);
    walk(&w, NULL, 2, 80, 500, 20, 500, 2, -1, -1, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 1);
    assert_string_equal(w.sink.ev[0].zone, "gate");
    /* beside the segment (its extension): nothing */
    walk(&w, NULL, 3, 80, 600, 20, 600, 2, -1, -1, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 1);
    /* occluded while crossing (lost from frame 5 to 15): still seen to cross */
    walk(&w, NULL, 4, 80, 500, 20, 500, 2, 5, 15, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 2);
    world_close(&w);
}

static void test_wrong_way(void **state)
{
    world_t w;
    (void)state;
    world_open(&w);
    /* with the lane's direction: nothing; against it 40 px (< 60): nothing */
    walk(&w, NULL, 1, 50, 350, 250, 350, 2, -1, -1, NULL);
    walk(&w, NULL, 2, 250, 350, 210, 350, 1, -1, -1, NULL);
    assert_int_equal(w.sink.n, 0);
    /* across it (90 degrees off, beyond the tolerance but not against): nothing */
    walk(&w, NULL, 3, 300, 310, 300, 395, 2, -1, -1, NULL);
    assert_int_equal(w.sink.n, 0);
    /* against it over 200 px: one event, once */
    walk(&w, NULL, 4, 500, 350, 100, 350, 3, -1, -1, NULL);
    assert_int_equal(count(&w.sink, VG_EVENT_WRONG_WAY, VG_PHASE_START), 1);
    assert_int_equal(count(&w.sink, VG_EVENT_WRONG_WAY, VG_PHASE_END), 1);
    assert_string_equal(w.sink.ev[0].zone, "lane");
    assert_non_null(strstr(w.sink.ev[0].details, "\"distance_unit\":\"px\""));
    world_close(&w);
}

/* A zone's own settings: the platform waits 3 s (its settings), the tracks zone 1 s (camera's). */
static void test_zone_settings(void **state)
{
    world_t w;
    (void)state;
    world_open(&w);
    walk(&w, NULL, 1, 150, 650, 150, 650, 2, -1, -1, NULL); /* 2 s on the platform */
    assert_int_equal(w.sink.n, 0);
    walk(&w, NULL, 2, 150, 650, 150, 650, 3.5, -1, -1, NULL); /* 3.5 s */
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 1);
    assert_string_equal(w.sink.ev[0].zone, "platform");
    walk(&w, NULL, 3, 150, 150, 150, 150, 2, -1, -1, NULL); /* 2 s in the tracks zone */
    assert_int_equal(count(&w.sink, VG_EVENT_INTRUSION, VG_PHASE_START), 2);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_hysteresis),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_calibration_vertical),
        cmocka_unit_test(test_intrusion_forbidden),
        cmocka_unit_test(test_intrusion_pedestrian_only),
        cmocka_unit_test(test_line_crossing),
        cmocka_unit_test(test_wrong_way),
        cmocka_unit_test(test_zone_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
