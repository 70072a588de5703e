/* The frame pipeline: stages see every frame in order with privacy masks already applied,
 * events reach the sink with ids and camera, open events are ended at the end of the input,
 * after a source error and on stop; a failing stage stops the run with its error and loses
 * nothing already reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigie/vigie.h>

#include "synth.h"
#include "testutil.h"

/* ---- a probe stage, written against the public stage API ---- */
typedef struct probe_params {
    int start_at, end_at, fail_at;
} probe_params_t;

typedef struct probe_priv {
    int64_t open_id;
    int64_t frames, last_index;
    int order_ok, privacy_ok, flushed;
    double last_t;
} probe_priv_t;

#define OFF(x) offsetof(probe_params_t, x)
static const vg_option_t probe_options[] = {
    {.name = "start_at",
     .type = VG_OPT_INT,
     .offset = OFF(start_at),
     .def.i = -1,
     .min = -1,
     .max = 1e9,
     .help = "frame at which an event starts"},
    {.name = "end_at",
     .type = VG_OPT_INT,
     .offset = OFF(end_at),
     .def.i = -1,
     .min = -1,
     .max = 1e9,
     .help = "frame at which it ends"},
    {.name = "fail_at",
     .type = VG_OPT_INT,
     .offset = OFF(fail_at),
     .def.i = -1,
     .min = -1,
     .max = 1e9,
     .help = "frame at which the stage fails"},
    {.name = NULL},
};

static int probe_init(vg_stage_t *st, vg_analysis_t *a)
{
    probe_priv_t *p = st->priv;
    (void)a;
    p->order_ok = p->privacy_ok = 1;
    p->last_index = -1;
    return 0;
}

static atomic_int probe_starts; /* starts emitted by any probe (read by other threads) */

static int emit(vg_analysis_t *a, probe_priv_t *p, vg_event_phase_t phase, int64_t frame, double t)
{
    if (phase == VG_PHASE_START) atomic_fetch_add(&probe_starts, 1);
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_ABANDONED_OBJECT, phase);
    ev.event_id = phase == VG_PHASE_START ? 0 : p->open_id;
    ev.frame = frame;
    ev.t = t;
    ev.score = 0.5;
    vg_event_set_box(&ev, 10, 20, 30, 40);
    int ret = vg_stage_emit(a, &ev);
    if (phase == VG_PHASE_START) p->open_id = ev.event_id;
    if (phase == VG_PHASE_END) p->open_id = 0;
    return ret;
}

static int probe_process(vg_stage_t *st, vg_analysis_t *a)
{
    probe_params_t *pp = st->params;
    probe_priv_t *p = st->priv;
    vg_frame_t *f = a->frame;
    if (f->index <= p->last_index) p->order_ok = 0;
    p->last_index = f->index;
    p->last_t = f->t;
    p->frames++;
    /* privacy mask [0,40)x[0,30) in input pixels, analysed at half size */
    for (int y = 0; y < 15; y++)
        for (int x = 0; x < 20; x++)
            if (vg_image_row(&f->image, y)[x] != 0) p->privacy_ok = 0;
    if (vg_image_row(&f->image, 40)[60] == 0) p->privacy_ok = 0; /* and only there */
    if (f->index == pp->fail_at) return VG_EIO;
    if (f->index == pp->start_at) return emit(a, p, VG_PHASE_START, f->index, f->t);
    if (f->index == pp->end_at && p->open_id) return emit(a, p, VG_PHASE_END, f->index, f->t);
    return 0;
}

static int probe_flush(vg_stage_t *st, vg_analysis_t *a)
{
    probe_priv_t *p = st->priv;
    p->flushed = 1;
    if (p->open_id) return emit(a, p, VG_PHASE_END, p->last_index, p->last_t);
    return 0;
}

static const vg_stage_class_t probe_class = {
    .name = "probe",
    .help = "test stage",
    .options = probe_options,
    .params_size = sizeof(probe_params_t),
    .priv_size = sizeof(probe_priv_t),
    .init = probe_init,
    .process = probe_process,
    .flush = probe_flush,
};

/* ---- an in-memory sink ---- */
typedef struct mem_sink {
    int n;
    vg_event_t ev[16];
} mem_sink_t;

static int mem_write(void *opaque, const vg_event_t *ev)
{
    mem_sink_t *m = opaque;
    if (m->n < 16) m->ev[m->n++] = *ev;
    return 0;
}

static char dir[512], clip[600];

static int setup(void **state)
{
    synth_scene_t s;
    (void)state;
    if (synth_tmpdir(dir, sizeof(dir)) < 0) return -1;
    synth_init(&s, 160, 120, 25, 50, 3);
    synth_add_walker(&s, 0, 10, 100, 2, 150, 90);
    snprintf(clip, sizeof(clip), "%s/clip.mkv", dir);
    return synth_write(&s, clip, "-c:v ffv1");
}

static int teardown(void **state)
{
    (void)state;
    synth_rmdir(dir);
    return 0;
}

static const char privacy_scene[] = "camera: test-cam\n"
                                    "masks:\n"
                                    "  privacy:\n"
                                    "    - [[0, 0], [40, 0], [40, 30], [0, 30]]\n";

typedef struct run {
    vg_scene_t *scene;
    vg_pipeline_t *pipe;
    vg_source_t *src;
    vg_settings_t *set;
    mem_sink_t sink;
    int ret;
} run_t;

static void run_open(run_t *r, const char *input, const char *const *sets, int loop)
{
    char err[512];
    vg_source_params_t sp;
    memset(r, 0, sizeof(*r));
    assert_int_equal(vg_scene_parse(&r->scene, privacy_scene, sizeof(privacy_scene) - 1, "t.yaml",
                                    err, sizeof(err)),
                     0);
    assert_int_equal(vg_settings_new(&r->set), 0);
    for (int i = 0; sets && sets[i]; i++)
        assert_int_equal(vg_settings_add_arg(r->set, sets[i], err, sizeof(err)), 0);
    assert_int_equal(
        vg_pipeline_new(&r->pipe, r->scene, r->scene->camera, r->set, err, sizeof(err)), 0);
    assert_int_equal(vg_pipeline_add_stage(r->pipe, &probe_class, r->set, err, sizeof(err)), 0);
    memset(&sp, 0, sizeof(sp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    sp.width = 80;
    sp.loop = loop;
    assert_int_equal(vg_source_open(&r->src, input, &sp, NULL), 0);
    vg_opt_free(&sp, vg_source_option_group.options);
}

static void run_go(run_t *r)
{
    vg_event_sink_t sink = {mem_write, &r->sink};
    r->ret = vg_pipeline_run(r->pipe, r->src, &sink, NULL, NULL);
}

static void run_close(run_t *r)
{
    vg_pipeline_free(&r->pipe);
    vg_source_free(&r->src);
    vg_scene_free(&r->scene);
    vg_settings_free(&r->set);
}

static void test_events_and_flush(void **state)
{
    static const char *const sets[] = {"probe.start_at=10", "pipeline.queue=2", NULL};
    run_t r;
    (void)state;
    run_open(&r, clip, sets, 0);
    run_go(&r);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.sink.n, 2);
    assert_int_equal(r.sink.ev[0].phase, VG_PHASE_START);
    assert_int_equal(r.sink.ev[0].frame, 10);
    assert_true(r.sink.ev[0].t > 0.399 && r.sink.ev[0].t < 0.401);
    assert_string_equal(r.sink.ev[0].camera, "test-cam");
    assert_true(r.sink.ev[0].event_id > 0);
    assert_int_equal(r.sink.ev[1].phase, VG_PHASE_END); /* ended by flush at the last frame */
    assert_int_equal(r.sink.ev[1].event_id, r.sink.ev[0].event_id);
    assert_int_equal(r.sink.ev[1].frame, 49);
    /* where the time went: the probe's process calls counted and timed, the ingest thread's CPU
     * read (decoding 50 frames takes some) */
    vg_stage_time_t tm[4];
    double ingest = -1;
    assert_int_equal(vg_pipeline_times(r.pipe, tm, 4, &ingest), 1);
    assert_string_equal(tm[0].name, "probe");
    assert_int_equal(tm[0].frames, 50);
    assert_true(tm[0].wall >= 0 && tm[0].cpu >= 0);
    assert_true(ingest > 0);
    assert_int_equal(vg_pipeline_times(r.pipe, tm, 0, NULL), 0);
    run_close(&r);
}

/* Privacy and order are checked inside the probe; a violation makes it fail the run. */
static int strict_process(vg_stage_t *st, vg_analysis_t *a)
{
    probe_priv_t *p = st->priv;
    int ret = probe_process(st, a);
    if (!p->privacy_ok)
        fail_msg("frame %lld: privacy mask not applied", (long long)a->frame->index);
    if (!p->order_ok) fail_msg("frames out of order at %lld", (long long)a->frame->index);
    return ret;
}

static void test_privacy_and_order(void **state)
{
    vg_stage_class_t strict = probe_class;
    char err[256];
    run_t r;
    (void)state;
    strict.name = "strict";
    strict.process = strict_process;
    run_open(&r, clip, NULL, 0);
    assert_int_equal(vg_pipeline_add_stage(r.pipe, &strict, NULL, err, sizeof(err)), 0);
    run_go(&r);
    assert_int_equal(r.ret, 0);
    run_close(&r);
}

static void test_stage_error(void **state)
{
    static const char *const sets[] = {"probe.start_at=5", "probe.fail_at=20", NULL};
    run_t r;
    (void)state;
    tu_log_capture();
    run_open(&r, clip, sets, 0);
    run_go(&r);
    assert_int_equal(r.ret, VG_EIO);
    assert_int_equal(r.sink.n, 1); /* the start reported before the failure stays reported */
    assert_non_null(strstr(tu_log_text(), "analyser 'probe' failed at frame 20"));
    tu_log_release();
    run_close(&r);
}

static void test_source_error_keeps_events(void **state)
{
    static const char *const sets[] = {"probe.start_at=3", NULL};
    char cut[700];
    size_t len;
    char *data = tu_read_file(clip, &len);
    run_t r;
    (void)state;
    snprintf(cut, sizeof(cut), "%s/cut.mkv", dir);
    tu_write_file(cut, data, len / 2);
    free(data);
    tu_log_capture();
    run_open(&r, cut, sets, 0);
    run_go(&r);
    assert_int_equal(r.ret, VG_ETRUNCATED);
    assert_int_equal(r.sink.n, 2); /* start, and its end from the flush */
    assert_int_equal(r.sink.ev[1].phase, VG_PHASE_END);
    tu_log_release();
    run_close(&r);
}

/* Stops the pipeline once its probe has started its event (however slow the machine). */
static void *stopper(void *opaque)
{
    for (int i = 0; i < 6000 && !atomic_load(&probe_starts); i++) usleep(10000);
    vg_pipeline_stop(opaque);
    return NULL;
}

static void test_stop(void **state)
{
    static const char *const sets[] = {"probe.start_at=2", NULL};
    pthread_t th;
    run_t r;
    (void)state;
    run_open(&r, clip, sets, 1); /* looping: never ends by itself */
    atomic_store(&probe_starts, 0);
    pthread_create(&th, NULL, stopper, r.pipe);
    run_go(&r);
    pthread_join(th, NULL);
    assert_int_equal(r.ret, VG_ESTOPPED);
    assert_int_equal(r.sink.n, 2);
    assert_int_equal(r.sink.ev[1].phase, VG_PHASE_END);
    run_close(&r);
}

static void test_bad_stage_option(void **state)
{
    vg_pipeline_t *p;
    vg_settings_t *s;
    char err[512];
    (void)state;
    assert_int_equal(vg_settings_new(&s), 0);
    vg_settings_add(s, "probe.start_at", "-7", "x.yaml:9");
    assert_int_equal(vg_pipeline_new(&p, NULL, "c", s, err, sizeof(err)), 0);
    assert_int_equal(vg_pipeline_add_stage(p, &probe_class, s, err, sizeof(err)), VG_ERANGE);
    assert_non_null(strstr(err, "x.yaml:9: probe.start_at"));
    vg_pipeline_free(&p);
    vg_settings_add(s, "pipeline.queue", "0", "--set");
    assert_int_equal(vg_pipeline_new(&p, NULL, "c", s, err, sizeof(err)), VG_ERANGE);
    assert_null(p);
    vg_settings_free(&s);
}

/* Live option changes: a stage that takes the "intrusion" group live gets the new values
 * between two frames; a change to an option no stage takes live is refused, nothing changes. */
typedef struct live_priv {
    int updates;
    double dwell;
    int64_t frames, applied_at;
} live_priv_t;

static live_priv_t live_seen; /* what the stage saw, copied at each frame for the test */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static int live_process(vg_stage_t *st, vg_analysis_t *a)
{
    live_priv_t *p = st->priv;
    p->frames++;
    if (p->updates && p->applied_at < 0) p->applied_at = a->frame->index;
    pthread_mutex_lock(&live_lock);
    live_seen = *p;
    pthread_mutex_unlock(&live_lock);
    return 0;
}

/* Waits (at most a minute, however slow the machine) until the live stage has seen more than
 * @frames frames after the update was applied (@after_update) or at all. */
static void live_wait(int64_t frames, int after_update)
{
    for (int i = 0; i < 6000; i++) {
        pthread_mutex_lock(&live_lock);
        live_priv_t seen = live_seen;
        pthread_mutex_unlock(&live_lock);
        int64_t base = after_update ? seen.applied_at : 0;
        if ((!after_update || seen.applied_at >= 0) && seen.frames > base + frames) return;
        usleep(10000);
    }
}

static int live_init(vg_stage_t *st, vg_analysis_t *a)
{
    live_priv_t *p = st->priv;
    (void)a;
    p->applied_at = -1;
    return 0;
}

static int live_update(vg_stage_t *st, const vg_settings_t *s, char *err, size_t errlen)
{
    live_priv_t *p = st->priv;
    const char *v = vg_settings_lookup(s, "intrusion.min_dwell");
    (void)err;
    (void)errlen;
    p->updates++;
    p->dwell = v ? atof(v) : -1;
    return 0;
}

static const char *const live_groups[] = {"intrusion", NULL};
static const vg_stage_class_t live_class = {
    .name = "live",
    .help = "test stage",
    .priv_size = sizeof(live_priv_t),
    .init = live_init,
    .process = live_process,
    .live_groups = live_groups,
    .update = live_update,
};

typedef struct updater {
    vg_pipeline_t *p;
    int ok, busy, unknown;
    char err[512];
} updater_t;

static void *updater(void *opaque)
{
    updater_t *u = opaque;
    vg_settings_t *s = NULL;
    char e[512];
    live_wait(2, 0); /* the run is under way */
    if (vg_settings_new(&s) < 0) return NULL;
    vg_settings_add(s, "intrusion.min_dwell", "3", "test");
    vg_settings_add(s, "motion.static_time", "9", "test"); /* no stage here takes it live */
    u->busy = vg_pipeline_update(u->p, s, u->err, sizeof(u->err));
    vg_settings_free(&s);
    if (vg_settings_new(&s) < 0) return NULL;
    vg_settings_add(s, "nonsense.x", "1", "test");
    u->unknown = vg_pipeline_update(u->p, s, e, sizeof(e));
    vg_settings_free(&s);
    if (vg_settings_new(&s) < 0) return NULL;
    vg_settings_add(s, "intrusion.min_dwell", "3", "test");
    u->ok = vg_pipeline_update(u->p, s, e, sizeof(e));
    vg_settings_free(&s);
    live_wait(2, 1); /* frames go on after the update */
    vg_pipeline_stop(u->p);
    return NULL;
}

static void test_live_update(void **state)
{
    vg_pipeline_t *p;
    vg_source_t *src;
    vg_source_params_t sp;
    char err[512];
    pthread_t th;
    (void)state;
    assert_int_equal(vg_pipeline_new(&p, NULL, "c", NULL, err, sizeof(err)), 0);
    assert_int_equal(vg_pipeline_add_stage(p, &live_class, NULL, err, sizeof(err)), 0);
    memset(&sp, 0, sizeof(sp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    sp.width = 80;
    sp.loop = 1;
    sp.realtime = 1; /* 25 frames a second: the updates land mid-run */
    assert_int_equal(vg_source_open(&src, clip, &sp, NULL), 0);
    vg_opt_free(&sp, vg_source_option_group.options);
    updater_t u = {p, 0, 0, 0, ""};
    pthread_create(&th, NULL, updater, &u);
    mem_sink_t m = {0};
    vg_event_sink_t sink = {mem_write, &m};
    assert_int_equal(vg_pipeline_run(p, src, &sink, NULL, NULL), VG_ESTOPPED);
    pthread_join(th, NULL);
    assert_int_equal(u.busy, VG_EBUSY);
    assert_non_null(strstr(u.err, "motion.static_time"));
    assert_int_equal(u.unknown, VG_EOPTION);
    assert_int_equal(u.ok, 0);
    /* taken once, with the new value, mid-run, and frames went on after it */
    assert_int_equal(live_seen.updates, 1);
    assert_true(live_seen.dwell == 3);
    assert_true(live_seen.applied_at > 0 && live_seen.frames > live_seen.applied_at + 1);
    vg_source_free(&src);
    vg_pipeline_free(&p);
}

/* The registry: stage classes ordered from the slots they need, use and provide (a stable sort),
 * a need no chosen stage provides refused with a message naming who provides it, a cycle
 * refused; --analysers selection; every option group listed once. */
static const vg_stage_class_t fake_a = {.name = "a", .provides = VG_SLOT_BIT(VG_SLOT_OBJECTS)};
static const vg_stage_class_t fake_b = {
    .name = "b", .needs = VG_SLOT_BIT(VG_SLOT_OBJECTS), .provides = VG_SLOT_BIT(VG_SLOT_TRACKS)};
static const vg_stage_class_t fake_c = {.name = "c", .uses = VG_SLOT_BIT(VG_SLOT_TRACKS)};
static const vg_stage_class_t fake_d = {.name = "d"};
static const vg_stage_class_t cyc_1 = {
    .name = "x", .uses = VG_SLOT_BIT(VG_SLOT_FLOW), .provides = VG_SLOT_BIT(VG_SLOT_SCORES)};
static const vg_stage_class_t cyc_2 = {
    .name = "y", .uses = VG_SLOT_BIT(VG_SLOT_SCORES), .provides = VG_SLOT_BIT(VG_SLOT_FLOW)};

static void test_stage_order(void **state)
{
    char err[512];
    (void)state;
    const vg_stage_class_t *l[4] = {&fake_c, &fake_d, &fake_b, &fake_a};
    assert_int_equal(vg_stage_order(l, 4, err, sizeof(err)), 0);
    /* d depends on nothing and keeps its place before the chain; a, b, c in slot order */
    assert_ptr_equal(l[0], &fake_d);
    assert_ptr_equal(l[1], &fake_a);
    assert_ptr_equal(l[2], &fake_b);
    assert_ptr_equal(l[3], &fake_c);
    /* c only uses tracks: fine alone */
    const vg_stage_class_t *u[1] = {&fake_c};
    assert_int_equal(vg_stage_order(u, 1, err, sizeof(err)), 0);
    /* b needs objects */
    const vg_stage_class_t *m[2] = {&fake_c, &fake_b};
    assert_int_equal(vg_stage_order(m, 2, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "analyser 'b' needs the foreground objects that analyser "
                                "'motion' provides"));
    assert_ptr_equal(m[0], &fake_c); /* untouched on failure */
    const vg_stage_class_t *cy[2] = {&cyc_1, &cyc_2};
    assert_int_equal(vg_stage_order(cy, 2, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "wait on each other"));

    /* the built-in classes, in run order: each provider before its users */
    const vg_stage_class_t *const *all = vg_stage_classes();
    unsigned have = 0;
    int n = 0;
    for (; all[n]; n++) {
        assert_int_equal(all[n]->needs & ~have, 0);
        have |= all[n]->provides;
    }
    assert_true(n >= 7);
    assert_string_equal(all[0]->name, "motion");

    const vg_stage_class_t *sel[16];
    assert_int_equal(vg_stage_select("density,tracker,motion,tracker", sel, 16, err, sizeof(err)),
                     3);
    assert_string_equal(sel[0]->name, "motion");
    assert_string_equal(sel[1]->name, "tracker");
    assert_string_equal(sel[2]->name, "density");
    assert_int_equal(vg_stage_select("none", sel, 16, err, sizeof(err)), 0);
    assert_int_equal(vg_stage_select(NULL, sel, 16, err, sizeof(err)), n);
    assert_int_equal(vg_stage_select("motion,nosuch", sel, 16, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "no analyser called 'nosuch'; available: motion"));
    assert_int_equal(vg_stage_select("motion,zones", sel, 16, err, sizeof(err)), VG_EINVAL);
    assert_non_null(strstr(err, "add 'tracker'"));

    /* option groups: each once, the groups stages read included */
    const vg_option_group_t *const *g = vg_option_groups();
    const char *want[] = {"input",     "pipeline",         "detector", "intrusion",
                          "wrong_way", "motion",           "tracker",  "detect",
                          "zones",     "abandoned_object", "density"};
    for (size_t w = 0; w < sizeof(want) / sizeof(*want); w++) {
        int found = 0;
        for (int i = 0; g[i]; i++) found += !strcmp(g[i]->name, want[w]);
        assert_int_equal(found, 1);
    }
}

/* vg_pipeline_new_for_scene: the scene's settings under the program's, every option checked,
 * analysers selected and ordered, the program's own stages last, input options returned. */
static void test_new_for_scene(void **state)
{
    vg_pipeline_t *p = NULL;
    vg_settings_t *s;
    vg_scene_t *scene;
    vg_source_params_t in;
    char err[512] = "";
    (void)state;
    const char *yaml = "camera: quai\nsettings:\n  input.width: 320\n  tracker.confirm_hits: 2\n";
    assert_int_equal(vg_scene_parse(&scene, yaml, strlen(yaml), "s.yaml", err, sizeof(err)), 0);
    assert_int_equal(vg_settings_new(&s), 0);
    assert_int_equal(vg_settings_add(s, "input.width", "160", "--set"), 0);
    static const vg_stage_class_t *const extra[] = {&probe_class, NULL};
    vg_pipeline_spec_t spec = {scene, NULL, s, "tracker,motion,detect", extra};
    assert_int_equal(vg_pipeline_new_for_scene(&p, &spec, &in, err, sizeof(err)), 0);
    assert_int_equal(in.width, 160); /* the program's settings win */
    assert_int_equal(in.color, 1);   /* detect needs colour */
    vg_opt_free(&in, vg_source_option_group.options);
    vg_pipeline_free(&p);

    spec.analysers = "zones";
    assert_int_equal(vg_pipeline_new_for_scene(&p, &spec, &in, err, sizeof(err)), VG_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err, "add 'tracker'"));
    spec.analysers = "none";
    vg_settings_add(s, "nosuch.option", "1", "--set");
    assert_true(vg_pipeline_new_for_scene(&p, &spec, NULL, err, sizeof(err)) < 0);
    assert_null(p);
    assert_non_null(strstr(err, "nosuch.option"));
    vg_settings_free(&s);
    vg_scene_free(&scene);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_and_flush),
        cmocka_unit_test(test_privacy_and_order),
        cmocka_unit_test(test_stage_error),
        cmocka_unit_test(test_source_error_keeps_events),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_bad_stage_option),
        cmocka_unit_test(test_live_update),
        cmocka_unit_test(test_stage_order),
        cmocka_unit_test(test_new_for_scene),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
