/*
 * The shared inference thread and the detect stage, on real pixels: the vtest frame at 20 s
 * (ref/nn, seven pedestrians) and vtest.avi itself through motion, tracker and detect.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include <vigie/vigie.h>

#include "testutil.h"

static const char *models_dir(void)
{
    const char *m = getenv("VG_MODELS");
    char p[4096];
    if (!m) return NULL;
    snprintf(p, sizeof(p), "%s/nanodet.json", m);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fclose(f);
    return m;
}

static vg_detector_params_t params(const char *md)
{
    vg_detector_params_t p;
    char err[256];
    memset(&p, 0, sizeof(p));
    assert_int_equal(vg_opt_defaults(&p, vg_detector_option_group.options), 0);
    assert_int_equal(
        vg_opt_set(&p, vg_detector_option_group.options, "models_dir", md, err, sizeof(err)), 0);
    return p;
}

/* The vtest frame at 20 s as a colour frame (768x576). */
static vg_frame_t *vtest_frame(const char *sh)
{
    char path[4096];
    size_t n;
    snprintf(path, sizeof(path), "%s/ref/nn/vtest_t20.rgb", sh);
    uint8_t *rgb = (uint8_t *)tu_read_file(path, &n);
    assert_non_null(rgb);
    assert_int_equal(n, 768 * 576 * 3);
    vg_frame_t *f;
    assert_int_equal(vg_frame_new(&f, 768, 576, 1), 0);
    for (int y = 0; y < 576; y++) {
        uint8_t *row = vg_image_row(&f->color, y);
        for (int x = 0; x < 768; x++)
            for (int c = 0; c < 3; c++) row[3 * x + c] = rgb[(y * 768 + x) * 3 + 2 - c];
    }
    f->index = 200;
    f->t = 20;
    free(rgb);
    return f;
}

static int count_persons(const vg_infer_result_t *r)
{
    int k = 0;
    for (int i = 0; i < r->n; i++) k += r->det[i].cls == 0;
    return k;
}

/* One client: submitting never waits, a second submit while pending is refused, the result
 * comes back with the frame's index and time, and a region's boxes are in frame pixels. */
static void test_client_requests(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024];
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping\n");
        skip();
    }
    vg_detector_params_t p = params(md);
    vg_infer_t *s, *s2;
    assert_int_equal(vg_infer_acquire(&s, &p, err, sizeof(err)), 0);
    assert_int_equal(vg_infer_acquire(&s2, &p, err, sizeof(err)), 0);
    assert_ptr_equal(s, s2); /* one thread per process */
    vg_detector_params_t other = params(md);
    char errb[256];
    assert_int_equal(vg_opt_set(&other, vg_detector_option_group.options, "model", "centernet",
                                errb, sizeof(errb)),
                     0);
    vg_infer_t *s3 = NULL;
    assert_int_equal(vg_infer_acquire(&s3, &other, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "one model per process"));
    /* the same model in another precision: refused as clearly */
    vg_detector_params_t q8 = params(md);
    assert_int_equal(
        vg_opt_set(&q8, vg_detector_option_group.options, "precision", "int8", errb, sizeof(errb)),
        0);
    assert_int_equal(vg_infer_acquire(&s3, &q8, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "one precision per process"));
    vg_opt_free(&q8, vg_detector_option_group.options);
    vg_infer_client_t *c;
    assert_int_equal(vg_infer_client_new(s, &c), 0);
    vg_frame_t *f = vtest_frame(sh);
    vg_infer_result_t r;
    assert_int_equal(vg_infer_poll(c, &r), VG_EAGAIN); /* nothing asked */
    assert_int_equal(vg_infer_submit(c, f, NULL), 0);
    assert_int_equal(vg_infer_submit(c, f, NULL), VG_EBUSY);
    vg_infer_wait(c);
    assert_int_equal(vg_infer_poll(c, &r), 1);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.frame_index, 200);
    assert_true(r.t == 20);
    int persons = count_persons(&r);
    fprintf(stderr, "whole frame: %d detections, %d persons, %.0f ms\n", r.n, persons,
            r.latency * 1e3);
    assert_true(persons >= 5);
    /* a region around the first person: found again, at the same place in frame pixels */
    vg_detection_t first = {.cls = -1};
    for (int i = 0; i < r.n; i++)
        if (r.det[i].cls == 0) {
            first = r.det[i];
            break;
        }
    float region[4] = {first.x - first.w, first.y - first.h / 2, 3 * first.w, 2 * first.h};
    assert_int_equal(vg_infer_submit(c, f, region), 0);
    vg_infer_wait(c);
    assert_int_equal(vg_infer_poll(c, &r), 1);
    int found = 0;
    for (int i = 0; i < r.n; i++) {
        const vg_detection_t *d = &r.det[i];
        assert_true(d->x >= region[0] - 1 && d->y >= region[1] - 1);
        if (d->cls == 0 && fabsf(d->x + d->w / 2 - (first.x + first.w / 2)) < first.w / 2 &&
            fabsf(d->y + d->h / 2 - (first.y + first.h / 2)) < first.h / 2)
            found = 1;
    }
    assert_true(found);
    /* bad requests */
    float off[4] = {5000, 5000, 10, 10};
    assert_int_equal(vg_infer_submit(c, f, off), VG_EINVAL);
    vg_frame_t *gray;
    assert_int_equal(vg_frame_new(&gray, 64, 64, 0), 0);
    assert_int_equal(vg_infer_submit(c, gray, NULL), VG_EINVAL);
    vg_frame_unref(&gray);
    /* freeing a client with a request queued or running is safe */
    assert_int_equal(vg_infer_submit(c, f, NULL), 0);
    vg_infer_client_free(&c);
    vg_infer_stats_t st;
    vg_infer_get_stats(s, &st);
    assert_true(st.requests >= 3 && st.refused >= 1 && st.clients == 0);
    vg_frame_unref(&f);
    vg_infer_release(&s2);
    vg_infer_release(&s);
    vg_opt_free(&p, vg_detector_option_group.options);
    vg_opt_free(&other, vg_detector_option_group.options);
}

/* A request waiting its turn behind another camera's is moved to a newer frame (and region)
 * and keeps its place: its result is about the newer frame. A running or finished request is
 * left as it is; nothing asked, nothing to move. (B queues behind A, whose run lasts many
 * milliseconds: the refresh right after B's submit finds it queued, in all but a try where this
 * thread was held longer than A's run; a few tries allow for that.) */
static void test_queued_request_refreshed(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024];
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping\n");
        skip();
    }
    vg_detector_params_t p = params(md);
    vg_infer_t *s;
    assert_int_equal(vg_infer_acquire(&s, &p, err, sizeof(err)), 0);
    vg_infer_client_t *a, *b;
    assert_int_equal(vg_infer_client_new(s, &a), 0);
    assert_int_equal(vg_infer_client_new(s, &b), 0);
    vg_frame_t *f = vtest_frame(sh), *g = vtest_frame(sh);
    g->index = 250, g->t = 25;
    vg_infer_result_t r;
    float half[4] = {0, 0, 384, 576}, off[4] = {5000, 0, 10, 10};
    assert_int_equal(vg_infer_refresh(b, g, NULL), VG_EAGAIN); /* nothing asked */
    int moved = 0;
    for (int k = 0; k < 20 && !moved; k++) {
        assert_int_equal(vg_infer_submit(a, f, NULL), 0);
        assert_int_equal(vg_infer_submit(b, f, NULL), 0);
        assert_int_equal(vg_infer_refresh(b, g, off), VG_EINVAL); /* a region off the frame */
        int ret = vg_infer_refresh(b, g, half);
        assert_true(ret == 0 || ret == VG_EBUSY);
        vg_infer_wait(a);
        vg_infer_wait(b);
        assert_int_equal(vg_infer_poll(a, &r), 1);
        assert_int_equal(r.frame_index, 200);
        assert_int_equal(vg_infer_poll(b, &r), 1);
        assert_int_equal(r.error, 0);
        if (ret == 0) {
            moved = 1;
            assert_int_equal(r.frame_index, 250);
            assert_true(r.t == 25);
            assert_true(r.region[0] == 0 && r.region[2] == 384 && r.region[3] == 576);
            for (int i = 0; i < r.n; i++) assert_true(r.det[i].x < 384);
        } else {
            assert_int_equal(r.frame_index, 200);
        }
        assert_int_equal(vg_infer_refresh(b, g, NULL), VG_EAGAIN); /* read: nothing asked */
    }
    assert_true(moved);
    vg_infer_stats_t st;
    vg_infer_get_stats(s, &st);
    assert_true(st.refreshed >= 1);
    vg_infer_client_free(&a);
    vg_infer_client_free(&b);
    vg_frame_unref(&f);
    vg_frame_unref(&g);
    vg_infer_release(&s);
    vg_opt_free(&p, vg_detector_option_group.options);
}

typedef struct camera {
    vg_infer_t *s;
    vg_frame_t *f;
    int loops, results, persons_ok, refused;
} camera_t;

/* A camera's analysis loop: ask when idle, collect when done, never wait. */
static void *camera_main(void *arg)
{
    camera_t *cam = arg;
    vg_infer_client_t *c;
    if (vg_infer_client_new(cam->s, &c) < 0) return NULL;
    double end = vg_clock_now(NULL) + 3.0;
    while (vg_clock_now(NULL) < end || cam->results < 2) {
        vg_infer_result_t r;
        int got = vg_infer_poll(c, &r);
        if (got == 1) {
            cam->results++;
            cam->persons_ok += count_persons(&r) >= 5;
        }
        if (got != 0) {
            if (vg_infer_submit(c, cam->f, NULL) == VG_EBUSY) cam->refused++;
        }
        cam->loops++;
        vg_clock_sleep(NULL, 0.002);              /* the rest of a camera's frame */
        if (vg_clock_now(NULL) > end + 30) break; /* a starved camera fails below */
    }
    vg_infer_client_free(&c);
    return NULL;
}

/* Three cameras on one inference thread: each keeps looping (its loop is never held by the
 * detector: many more iterations than results), each gets results (no starvation), and every
 * result is right. */
static void test_cameras_share_the_thread(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024];
    (void)state;
    if (!md || !sh) {
        fprintf(stderr, "models/ or ../shared absent: skipping\n");
        skip();
    }
    vg_detector_params_t p = params(md);
    vg_infer_t *s;
    assert_int_equal(vg_infer_acquire(&s, &p, err, sizeof(err)), 0);
    camera_t cams[3];
    pthread_t th[3];
    vg_frame_t *f = vtest_frame(sh);
    for (int i = 0; i < 3; i++) {
        cams[i] = (camera_t){s, f, 0, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, camera_main, &cams[i]), 0);
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    int total = 0;
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "camera %d: %d loops, %d results\n", i, cams[i].loops, cams[i].results);
        assert_true(cams[i].results >= 2);
        assert_int_equal(cams[i].persons_ok, cams[i].results);
        assert_true(cams[i].loops > 5 * cams[i].results);
        total += cams[i].results;
    }
    /* served in turn: no camera got more than twice another's share, give or take one */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) assert_true(cams[i].results <= 2 * cams[j].results + 1);
    vg_infer_stats_t st;
    vg_infer_get_stats(s, &st);
    assert_true(st.done >= total);
    vg_frame_unref(&f);
    vg_infer_release(&s);
    vg_opt_free(&p, vg_detector_option_group.options);
}

/* ---- the detect stage in a pipeline on vtest.avi ---- */

typedef struct look {
    int frames, with_det, person_tracks, tracks_seen;
    int64_t last_index;
    int stale_ok;
} look_t;

static look_t look; /* what the look stage saw */

static int look_process(vg_stage_t *st, vg_analysis_t *a)
{
    look_t *l = &look;
    (void)st;
    const vg_detections_t *d = a->slot[VG_SLOT_DETECTIONS];
    vg_tracker_t *tr = a->slot[VG_SLOT_TRACKS];
    l->frames++;
    if (!d) return 0;
    if (d->frame_index >= 0) l->with_det++;
    if (d->frame_index > a->frame->index) l->stale_ok = 0; /* never from the future */
    int nt = 0;
    const vg_track_t *t = tr ? vg_tracker_tracks(tr, &nt) : NULL;
    int persons = 0;
    for (int i = 0; i < nt; i++) {
        const vg_track_label_t *lb = vg_detections_label(d, t[i].id);
        if (lb && lb->person >= 0.5f) persons++;
    }
    if (persons > l->person_tracks) l->person_tracks = persons;
    if (d->nlabels > l->tracks_seen) l->tracks_seen = d->nlabels;
    return 0;
}

static int no_events(void *opaque, const vg_event_t *ev)
{
    (void)opaque, (void)ev;
    return 0;
}

static const vg_stage_class_t look_class = {
    .name = "look",
    .help = "test stage",
    .process = look_process,
};

static void test_detect_stage_on_vtest(void **state)
{
    const char *md = models_dir(), *sh = tu_shared();
    char err[1024];
    const char *input = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    (void)state;
    FILE *probe = fopen(input, "rb");
    if (!md || !probe) {
        fprintf(stderr, "models/ or vtest.avi absent: skipping\n");
        if (probe) fclose(probe);
        skip();
    }
    fclose(probe);
    (void)sh;
    vg_settings_t *set;
    assert_int_equal(vg_settings_new(&set), 0);
    char arg[4200];
    snprintf(arg, sizeof(arg), "detector.models_dir=%s", md);
    /* 20 s of video; 10 under the sanitizers, where the detector is ten times slower */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const char *to = "input.to=10";
    const int frames_min = 95;
#else
    const char *to = "input.to=20";
    const int frames_min = 190;
#endif
    const char *args[] = {arg, "detect.wait=1", to};
    for (int i = 0; i < 3; i++)
        assert_int_equal(vg_settings_add_arg(set, args[i], err, sizeof(err)), 0);
    vg_pipeline_t *pipe;
    assert_int_equal(vg_pipeline_new(&pipe, NULL, "vtest", set, err, sizeof(err)), 0);
    const char *names[] = {"motion", "tracker", "detect"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            vg_pipeline_add_stage(pipe, vg_stage_class_find(names[i]), set, err, sizeof(err)), 0);
    assert_int_equal(vg_pipeline_add_stage(pipe, &look_class, set, err, sizeof(err)), 0);
    look = (look_t){0, 0, 0, 0, -1, 1};
    look_t *lp = &look;
    assert_true(vg_pipeline_needs_color(pipe));
    vg_source_params_t sp;
    memset(&sp, 0, sizeof(sp));
    assert_int_equal(vg_opt_defaults(&sp, vg_source_option_group.options), 0);
    assert_int_equal(vg_settings_apply(set, &vg_source_option_group, &sp, err, sizeof(err)), 0);
    sp.color = 1;
    vg_source_t *src;
    assert_int_equal(vg_source_open(&src, input, &sp, NULL), 0);
    vg_event_sink_t sink = {no_events, NULL};
    assert_int_equal(vg_pipeline_run(pipe, src, &sink, NULL, NULL), 0);
    fprintf(stderr, "%d frames, %d with detections, %d tracks labelled, at most %d person tracks\n",
            lp->frames, lp->with_det, lp->tracks_seen, lp->person_tracks);
    assert_true(lp->frames >= frames_min);
    assert_true(lp->with_det >= lp->frames - 1); /* with detect.wait, from the first frame on */
    assert_true(lp->stale_ok);
    /* PETS 2009 S2.L1: several pedestrians walk at once; the detector names them persons */
    assert_true(lp->person_tracks >= 3);
    vg_source_free(&src);
    vg_opt_free(&sp, vg_source_option_group.options);
    vg_pipeline_free(&pipe);
    vg_settings_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_requests),
        cmocka_unit_test(test_queued_request_refreshed),
        cmocka_unit_test(test_cameras_share_the_thread),
        cmocka_unit_test(test_detect_stage_on_vtest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
