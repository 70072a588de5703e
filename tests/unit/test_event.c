/* The event record: exact JSON (a golden line), escaping, limits, the flushing writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigie/vigie.h>

static void test_golden_line(void **state)
{
    vg_event_t ev;
    char buf[4096];
    (void)state;
    vg_event_init(&ev, VG_EVENT_INTRUSION, VG_PHASE_START);
    ev.event_id = 3;
    ev.t = 12.4;
    ev.frame = 310;
    vg_event_set_box(&ev, 412.4, 219.6, 38, 96);
    vg_event_set_zone(&ev, "tracks");
    vg_event_set_camera(&ev, "quai-2");
    ev.score = 0.9134;
    assert_int_equal(vg_event_detail_str(&ev, "class", "person"), 0);
    assert_int_equal(vg_event_detail_num(&ev, "dwell_s", 2.5), 0);
    assert_int_equal(vg_event_detail_int(&ev, "track", 17), 0);
    assert_int_equal(vg_event_detail_bool(&ev, "calibrated", 0), 0);
    int n = vg_event_to_json(&ev, buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(buf, "{\"type\":\"intrusion\",\"phase\":\"start\",\"event_id\":3,"
                             "\"t\":12.400,\"frame\":310,\"box\":[412,220,38,96],"
                             "\"zone\":\"tracks\",\"score\":0.913,\"camera\":\"quai-2\","
                             "\"details\":{\"class\":\"person\",\"dwell_s\":2.5,\"track\":17,"
                             "\"calibrated\":false}}");
}

static void test_no_box_no_zone_and_escaping(void **state)
{
    vg_event_t ev;
    char buf[4096];
    (void)state;
    vg_event_init(&ev, VG_EVENT_DENSITY, VG_PHASE_END);
    vg_event_set_camera(&ev, "a\"b\\c\n\x01");
    ev.score = NAN;
    vg_event_detail_num(&ev, "x", INFINITY);
    assert_true(vg_event_to_json(&ev, buf, sizeof(buf)) > 0);
    assert_null(strstr(buf, "\"box\""));
    assert_null(strstr(buf, "\"zone\""));
    assert_non_null(strstr(buf, "\"camera\":\"a\\\"b\\\\c\\n\\u0001\""));
    assert_non_null(strstr(buf, "\"score\":null"));
    assert_non_null(strstr(buf, "\"x\":null"));
    assert_int_equal(vg_event_to_json(&ev, buf, 20), VG_ERANGE);
}

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {"abandoned_object", "weapon",  "wrong_way", "intrusion",   "fall",
                           "crowd_movement",   "density", "fire",      "camera_fault"};
    assert_int_equal(VG_EVENT_NB, sizeof(names) / sizeof(*names));
    for (int i = 0; i < VG_EVENT_NB; i++) {
        assert_string_equal(vg_event_type_name(i), names[i]);
        assert_int_equal(vg_event_type_from_name(names[i]), i);
    }
    assert_int_equal(vg_event_type_from_name("loitering"), VG_EINVAL);
    assert_string_equal(vg_event_phase_name(VG_PHASE_UPDATE), "update");
}

static void test_details_overflow(void **state)
{
    vg_event_t ev;
    char big[600];
    int ret = 0, added = 0;
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    vg_event_init(&ev, VG_EVENT_FIRE, VG_PHASE_START);
    while ((ret = vg_event_detail_str(&ev, "k", big)) == 0) added++;
    assert_int_equal(ret, VG_ERANGE);
    assert_true(added >= 2);
    /* still valid: the failed member was not half-written */
    assert_int_equal(strlen(ev.details), ev.details_len);
    assert_int_equal(ev.details[ev.details_len - 1], '"');
}

static void test_writer_flushes(void **state)
{
    char path[] = "/tmp/vg-event-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    vg_event_writer_t w;
    vg_event_t ev;
    char line[4096];
    (void)state;
    vg_event_writer_init(&w, f);
    vg_event_init(&ev, VG_EVENT_FALL, VG_PHASE_START);
    ev.event_id = 1;
    assert_int_equal(vg_event_writer_write(&w, &ev), 0);
    /* visible to another reader at once, before the writer is closed */
    FILE *r = fopen(path, "r");
    assert_non_null(fgets(line, sizeof(line), r));
    assert_non_null(strstr(line, "\"type\":\"fall\""));
    assert_int_equal(line[strlen(line) - 1], '\n');
    fclose(r);
    fclose(f);
    /* a failing stream reports VG_EIO */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        vg_event_writer_init(&w, full);
        assert_int_equal(vg_event_writer_write(&w, &ev), VG_EIO);
        fclose(full);
    }
    unlink(path);
}

/* A record read back is the record written (vigie eval events reads what analyze wrote). */
static void test_read_back(void **state)
{
    (void)state;
    vg_event_t ev, back;
    char line[4096], again[4096], err[256];
    vg_event_init(&ev, VG_EVENT_WRONG_WAY, VG_PHASE_START);
    ev.event_id = 7, ev.t = 12.5, ev.frame = 310, ev.score = 0.75;
    vg_event_set_box(&ev, 1, 2, 30, 40);
    vg_event_set_zone(&ev, "lane \"A\"");
    vg_event_set_camera(&ev, "cam");
    vg_event_detail_int(&ev, "track", 4);
    vg_event_detail_str(&ev, "unit", "px");
    assert_true(vg_event_to_json(&ev, line, sizeof(line)) > 0);
    assert_int_equal(vg_event_from_json(&back, line, err, sizeof(err)), 0);
    assert_true(vg_event_to_json(&back, again, sizeof(again)) > 0);
    assert_string_equal(line, again);
    assert_int_equal(vg_event_from_json(&back, "{\"type\":\"nope\",\"phase\":\"start\",\"t\":1}",
                                        err, sizeof(err)),
                     VG_EFORMAT);
    assert_int_equal(vg_event_from_json(&back, "[1,2", err, sizeof(err)), VG_EFORMAT);
    assert_int_equal(
        vg_event_from_json(&back, "{\"type\":\"fire\",\"phase\":\"end\"}", err, sizeof(err)),
        VG_EFORMAT);
    assert_non_null(strstr(err, "\"t\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_line),    cmocka_unit_test(test_no_box_no_zone_and_escaping),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_details_overflow),
        cmocka_unit_test(test_writer_flushes), cmocka_unit_test(test_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
