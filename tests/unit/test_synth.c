/* The synthetic scene generator itself: deterministic, truth consistent with the pixels, a bag
 * that follows its owner and then stays, light drift and switch as specified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

static double mean(const uint8_t *p, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += p[i];
    return s / n;
}

static void test_deterministic_and_truth(void **state)
{
    synth_scene_t s;
    synth_truth_t t;
    uint8_t *a = malloc(320 * 240), *b = malloc(320 * 240), *m = malloc(320 * 240);
    (void)state;
    synth_init(&s, 320, 240, 25, 250, 42);
    int p = synth_add_walker(&s, 0, 20, 200, 10, 300, 200);
    synth_render(&s, 100, a, 320, m, &t);
    synth_render(&s, 100, b, 320, NULL, NULL);
    assert_memory_equal(a, b, 320 * 240); /* same frame, same pixels */
    assert_int_equal(t.n, 1);
    assert_int_equal(t.id[0], p);
    /* the mask lies inside the truth box and fills a good part of it */
    int inside = 0, outside = 0;
    for (int y = 0; y < 240; y++)
        for (int x = 0; x < 320; x++) {
            if (!m[y * 320 + x]) continue;
            int in = x + 1 >= t.box[0][0] && x <= t.box[0][0] + t.box[0][2] &&
                     y + 1 >= t.box[0][1] && y <= t.box[0][1] + t.box[0][3];
            in ? inside++ : outside++;
        }
    assert_int_equal(outside, 0);
    assert_true(inside > 0.5 * t.box[0][2] * t.box[0][3]);
    /* the walker moves 28 px/s along x: at frame 100 (4 s) its foot is at x = 132 */
    double x, y;
    assert_true(synth_position(&s, p, 4.0, &x, &y));
    assert_true(fabs(x - 132) < 1e-9 && fabs(y - 200) < 1e-9);
    assert_false(synth_position(&s, p, 10.5, &x, &y));
    free(a);
    free(b);
    free(m);
}

static void test_bag_left_behind(void **state)
{
    synth_scene_t s;
    double x1, y1, x2, y2, px, py;
    (void)state;
    synth_init(&s, 320, 240, 25, 500, 1);
    int p = synth_add_walker(&s, 0, 20, 200, 20, 300, 200);
    int bag = synth_add_bag(&s, p, 5.0);
    assert_true(synth_position(&s, bag, 2.0, &x1, &y1));
    assert_true(synth_position(&s, p, 2.0, &px, &py));
    assert_true(fabs(x1 - px) < s.obj[p].w); /* carried beside its owner */
    assert_true(synth_position(&s, bag, 6.0, &x1, &y1));
    assert_true(synth_position(&s, bag, 19.0, &x2, &y2));
    assert_true(x1 == x2 && y1 == y2); /* put down: it stays */
    assert_true(synth_position(&s, p, 19.0, &px, &py));
    assert_true(px - x2 > 100);                           /* while the owner walked away */
    assert_true(synth_position(&s, bag, 30.0, &x2, &y2)); /* still there after the owner left */
}

static void test_light(void **state)
{
    synth_scene_t s;
    uint8_t *a = malloc(160 * 120), *b = malloc(160 * 120);
    (void)state;
    synth_init(&s, 160, 120, 25, 1000, 3);
    s.switch_t = 10;
    s.switch_gain = 0.6;
    synth_render(&s, 249, a, 160, NULL, NULL); /* 9.96 s */
    synth_render(&s, 250, b, 160, NULL, NULL); /* 10.0 s: lights dim */
    double r = mean(b, 160 * 120) / mean(a, 160 * 120);
    if (fabs(r - 0.6) >= 0.02) fail_msg("ratio %f", r);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_and_truth),
        cmocka_unit_test(test_bag_left_behind),
        cmocka_unit_test(test_light),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
