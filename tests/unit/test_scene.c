/* Scene description: a full scene parses into the right structures; each kind of mistake is an
 * error naming the file, the line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <vigie/vigie.h>

static const char full_scene[] = "version: 1\n"
                                 "camera: quai-2\n"
                                 "size: [768, 576]\n"
                                 "zones:\n"
                                 "  - name: tracks\n"
                                 "    kind: forbidden\n"
                                 "    polygon: [[0, 400], [768, 400], [768, 576], [0, 576]]\n"
                                 "    settings:\n"
                                 "      intrusion.min_dwell: 1.5\n"
                                 "  - name: walkway\n"
                                 "    kind: pedestrian_only\n"
                                 "    polygon: [[10, 10], [300, 10], [300, 300]]\n"
                                 "    direction: [0, -2]\n"
                                 "    tolerance: 30\n"
                                 "lines:\n"
                                 "  - name: gate\n"
                                 "    points: [[100, 100], [200, 100]]\n"
                                 "    forbidden: left_to_right\n"
                                 "masks:\n"
                                 "  privacy:\n"
                                 "    - [[0, 0], [50, 0], [50, 50], [0, 50]]\n"
                                 "  ignore:\n"
                                 "    - [[700, 0], [768, 0], [768, 60]]\n"
                                 "fixtures:\n"
                                 "  - name: bench\n"
                                 "    polygon: [[300, 300], [360, 300], [360, 330], [300, 330]]\n"
                                 "calibration:\n"
                                 "  points:\n"
                                 "    - {image: [100, 500], ground: [0, 0]}\n"
                                 "    - {image: [700, 500], ground: [10, 0]}\n"
                                 "    - {image: [600, 300], ground: [10, 20]}\n"
                                 "    - {image: [200, 300], ground: [0, 20]}\n"
                                 "settings:\n"
                                 "  input.width: 320\n"
                                 "events:\n"
                                 "  abandoned_object:\n"
                                 "    unattended_time: 30\n";

static void test_full_scene(void **state)
{
    vg_scene_t *s = NULL;
    char err[512] = "";
    (void)state;
    int ret = vg_scene_parse(&s, full_scene, sizeof(full_scene) - 1, "quai.yaml", err, sizeof(err));
    if (ret < 0) fail_msg("%s", err);
    assert_string_equal(s->camera, "quai-2");
    assert_int_equal(s->width, 768);
    assert_int_equal(s->nb_zones, 2);
    assert_int_equal(s->zones[0].priority, VG_PRIORITY_UNSET); /* the event type's */
    assert_string_equal(vg_priority_name(VG_PRIORITY_LOW), "low");
    assert_int_equal(vg_priority_from_name("normal"), VG_PRIORITY_NORMAL);
    assert_int_equal(vg_priority_from_name("urgent"), VG_EINVAL);
    {
        static const char pr[] = "zones:\n  - name: lawn\n    polygon: [[0,0],[9,0],[9,9]]\n"
                                 "    priority: low\nlines:\n  - name: gate\n"
                                 "    points: [[0,0],[5,0]]\n    priority: high\n";
        vg_scene_t *q = NULL;
        assert_int_equal(vg_scene_parse(&q, pr, sizeof(pr) - 1, "p.yaml", err, sizeof(err)), 0);
        assert_int_equal(q->zones[0].priority, VG_PRIORITY_LOW);
        assert_int_equal(q->lines[0].priority, VG_PRIORITY_HIGH);
        vg_scene_free(&q);
    }
    assert_string_equal(s->zones[0].name, "tracks");
    assert_int_equal(s->zones[0].kind, VG_ZONE_FORBIDDEN);
    assert_int_equal(s->zones[0].polygon.n, 4);
    assert_int_equal(s->zones[0].line, 5);
    assert_string_equal(vg_settings_lookup(s->zones[0].settings, "intrusion.min_dwell"), "1.5");
    assert_int_equal(s->zones[1].kind, VG_ZONE_PEDESTRIAN_ONLY);
    assert_true(s->zones[1].has_direction);
    assert_true(s->zones[1].direction[0] == 0 && s->zones[1].direction[1] == -1);
    assert_true(s->zones[1].tolerance_deg == 30);
    assert_int_equal(s->nb_lines, 1);
    assert_int_equal(s->lines[0].forbidden, VG_CROSS_LEFT_TO_RIGHT);
    assert_int_equal(s->nb_privacy, 1);
    assert_int_equal(s->nb_ignore, 1);
    assert_int_equal(s->nb_fixtures, 1);
    assert_int_equal(s->nb_calib, 4);
    assert_true(s->calib[2].ground.y == 20);
    assert_string_equal(vg_settings_lookup(s->settings, "input.width"), "320");
    assert_string_equal(vg_settings_lookup(s->settings, "abandoned_object.unattended_time"), "30");
    /* the origin of a setting is its file and line */
    const char *origin = NULL;
    for (size_t i = 0; i < vg_settings_count(s->settings); i++) {
        const char *k;
        vg_settings_get(s->settings, i, &k, NULL, &origin);
        if (!strcmp(k, "input.width")) break;
    }
    assert_string_equal(origin, "quai.yaml:34");
    assert_true(vg_polygon_contains(&s->zones[0].polygon, 10, 450));
    assert_false(vg_polygon_contains(&s->zones[0].polygon, 10, 350));
    assert_true(vg_polygon_contains(&s->zones[0].polygon, 768, 500)); /* edge counts */
    vg_scene_free(&s);
    assert_null(s);
}

typedef struct bad_case {
    const char *yaml;
    const char *expect; /* substring of the message */
} bad_case_t;

static void test_errors_name_line_and_key(void **state)
{
    static const bad_case_t cases[] = {
        {"camera: a\ncolour: red\n", "s.yaml:2: colour: unknown key in scene"},
        {"zones:\n  - name: z\n    kind: forbiden\n    polygon: [[0,0],[1,0],[1,1]]\n",
         "s.yaml:3: zones.kind: 'forbiden' is not one of forbidden, pedestrian_only, watch, rest"},
        {"zones:\n  - name: z\n    polygon: [[0,0],[1,0]]\n",
         "s.yaml:3: zones.polygon: a polygon needs at least 3 points, it has 2"},
        {"zones:\n  - kind: watch\n    polygon: [[0,0],[1,0],[1,1]]\n", "each zone needs a name"},
        {"size: [100, 100]\nzones:\n  - name: z\n    polygon: [[0,0],[150,0],[1,1]]\n",
         "s.yaml:4: zones.polygon: 150 is out of range: use a value from 0 to 100"},
        {"zones:\n  - name: z\n    polygon: [[0,0],[1,0],[1,1]]\n  - name: z\n    polygon: "
         "[[0,0],[1,0],[1,1]]\n",
         "two entries are called 'z'"},
        {"zones:\n  - name: z\n    polygon: [[0,0],[1,0],[1,1]]\n    direction: [0, 0]\n",
         "s.yaml:4: zones.direction: the direction [dx, dy] must not be [0, 0]"},
        {"lines:\n  - name: l\n    points: [[0,0],[0,0]]\n",
         "the two points of a line must differ"},
        {"lines:\n  - name: l\n    points: [[0,0],[5,0]]\n    forbidden: up\n",
         "s.yaml:4: lines.forbidden: 'up' is not one of none, left_to_right"},
        {"calibration:\n  points:\n    - {image: [0,0], ground: [0,0]}\n",
         "needs at least 4 points, it has 1"},
        {"events:\n  loitering:\n    time: 3\n", "s.yaml:2: loitering: unknown key in events"},
        {"version: 2\n", "s.yaml:1: version: 2 is out of range"},
        {"camera: [a, b]\n", "s.yaml:1: camera: expected a single value"},
        {"zones: {a: 1}\n", "zones: expected a list of zones"},
        {"camera: a\n  bad: [\n", "s.yaml:1:9: not valid YAML: invalid multiline plain key"},
        {"size: [0, 10]\n", "size: "},
        {"- a\n- b\n", "scene: expected a mapping"},
        {"masks:\n  privacy:\n    - [[0,0],[1,0],[x,1]]\n", "'x' is not a number"},
        {"zones:\n  - name: z\n    polygon: [[0,0],[1,0],[1,1]]\n    priority: urgent\n",
         "s.yaml:4: zones.priority: 'urgent' is not one of low, normal, high"},
        {"lines:\n  - name: l\n    points: [[0,0],[5,0]]\n    priority: [high]\n",
         "s.yaml:4: lines.priority: expected a single value"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vg_scene_t *s = NULL;
        char err[512] = "";
        int ret =
            vg_scene_parse(&s, cases[i].yaml, strlen(cases[i].yaml), "s.yaml", err, sizeof(err));
        if (ret != VG_ESYNTAX || !strstr(err, cases[i].expect))
            fail_msg("case %zu: ret %d, message '%s', expected '%s'", i, ret, err, cases[i].expect);
        assert_null(s);
    }
}

static void test_files(void **state)
{
    vg_scene_t *s = NULL;
    char err[512];
    (void)state;
    assert_int_equal(vg_scene_load(&s, "/nonexistent/scene.yaml", err, sizeof(err)), VG_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/scene.yaml: cannot read the scene file"));
    FILE *f = fopen("/tmp/vg-scene-bin.yaml", "wb");
    fwrite("a\0b", 1, 3, f);
    fclose(f);
    assert_int_equal(vg_scene_load(&s, "/tmp/vg-scene-bin.yaml", err, sizeof(err)), VG_ESYNTAX);
    assert_non_null(strstr(err, "not a text file"));
    f = fopen("/tmp/vg-scene-empty.yaml", "wb");
    fclose(f);
    assert_int_equal(vg_scene_load(&s, "/tmp/vg-scene-empty.yaml", err, sizeof(err)), 0);
    assert_int_equal(s->nb_zones, 0);
    vg_scene_free(&s);
    remove("/tmp/vg-scene-bin.yaml");
    remove("/tmp/vg-scene-empty.yaml");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_scene),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
