/* Core: error strings, logging sink, memory hooks (out-of-memory injection), clock, bounded
 * queue, worker pool, refcounted frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigie/vigie.h>

#include "testutil.h"

/* ---- out-of-memory injection: fail the k-th allocation ---- */
static int alloc_count, fail_at;
static void *fail_malloc(size_t n, void *o)
{
    (void)o;
    if (++alloc_count == fail_at) return NULL;
    return malloc(n);
}
static void *fail_realloc(void *p, size_t n, void *o)
{
    (void)o;
    if (++alloc_count == fail_at) return NULL;
    return realloc(p, n);
}
static void plain_free(void *p, void *o)
{
    (void)o;
    free(p);
}
static const vg_mem_hooks_t failing = {fail_malloc, fail_realloc, plain_free, NULL};

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(vg_strerror(0), "success");
    assert_string_equal(vg_strerror(VG_ENOMEM), "out of memory");
    assert_string_equal(vg_strerror(VG_ETRUNCATED), "truncated input");
    assert_non_null(vg_strerror(-123456));
    assert_true(VG_EOF < VG_EBASE && VG_EBUG < VG_EBASE);
}

static void test_log_sink_and_level(void **state)
{
    (void)state;
    tu_log_capture();
    vg_log("input", VG_LOG_ERROR, "cannot open %s", "x.mp4");
    vg_log_set_level(VG_LOG_WARNING);
    vg_log("input", VG_LOG_INFO, "hidden");
    assert_non_null(strstr(tu_log_text(), "input: error: cannot open x.mp4"));
    assert_null(strstr(tu_log_text(), "hidden"));
    tu_log_release();
}

static void test_settings_oom(void **state)
{
    (void)state;
    /* Every allocation of a settings build may fail: no leak, no crash, clean error. */
    for (fail_at = 1; fail_at < 30; fail_at++) {
        vg_settings_t *s = NULL;
        int ret;
        alloc_count = 0;
        vg_mem_set_hooks(&failing);
        ret = vg_settings_new(&s);
        if (ret == 0) {
            for (int i = 0; i < 10 && ret == 0; i++)
                ret = vg_settings_add(s, "input.width", "320", "t");
        }
        vg_mem_set_hooks(NULL);
        if (ret < 0) assert_int_equal(ret, VG_ENOMEM);
        vg_settings_free(&s);
        assert_null(s);
    }
}

static void test_frame_oom_and_refs(void **state)
{
    vg_frame_t *f = NULL, *g;
    (void)state;
    alloc_count = 0;
    fail_at = 1;
    vg_mem_set_hooks(&failing);
    assert_int_equal(vg_frame_new(&f, 64, 48, 1), VG_ENOMEM);
    vg_mem_set_hooks(NULL);
    assert_null(f);
    assert_int_equal(vg_frame_new(&f, 0, 10, 0), VG_EINVAL);
    assert_int_equal(vg_frame_new(&f, 1, 1, 1), 0); /* odd sizes */
    assert_true(f->image.stride >= 1 && f->image.stride % 64 == 0);
    assert_non_null(f->color.data);
    vg_frame_unref(&f);
    assert_int_equal(vg_frame_new(&f, 33, 17, 0), 0);
    assert_null(f->color.data);
    memset(f->image.data, 7, (size_t)f->image.stride * f->image.h);
    f->t = 1.5;
    f->index = 12;
    assert_true(vg_frame_is_writable(f));
    g = vg_frame_ref(f);
    assert_false(vg_frame_is_writable(f));
    assert_int_equal(vg_frame_make_writable(&g), 0); /* copies: f keeps its pixels */
    assert_true(g != f);
    assert_true(vg_frame_is_writable(f) && vg_frame_is_writable(g));
    assert_int_equal(g->index, 12);
    assert_true(g->t == 1.5);
    g->image.data[0] = 99;
    assert_int_equal(f->image.data[0], 7);
    vg_frame_unref(&g);
    vg_frame_unref(&f);
    vg_frame_unref(&f); /* NULL: no-op */
}

static void test_aligned(void **state)
{
    (void)state;
    for (size_t n = 1; n < 4000; n += 397) {
        void *p = vg_malloc_aligned(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        memset(p, 1, n);
        vg_free_aligned(p);
    }
    assert_null(vg_calloc(SIZE_MAX / 2, 4)); /* overflow is refused */
}

static void free_int(void *p)
{
    free(p);
}

static void test_queue_block_and_close(void **state)
{
    vg_queue_t *q;
    void *item;
    (void)state;
    assert_int_equal(vg_queue_new(&q, 2, VG_QUEUE_BLOCK, free_int), 0);
    for (int i = 0; i < 2; i++) {
        int *v = malloc(sizeof(int));
        *v = i;
        assert_int_equal(vg_queue_push(q, v), 0);
    }
    assert_int_equal(vg_queue_size(q), 2);
    assert_int_equal(vg_queue_pop(q, &item, 0.01), 0);
    assert_int_equal(*(int *)item, 0);
    free(item);
    assert_int_equal(vg_queue_pop(q, &item, 0.01), 0);
    free(item);
    assert_int_equal(vg_queue_pop(q, &item, 0.01), VG_EAGAIN); /* timeout */
    int *v = malloc(sizeof(int));
    assert_int_equal(vg_queue_push(q, v), 0);
    vg_queue_close(q);
    int *w = malloc(sizeof(int));
    assert_int_equal(vg_queue_push(q, w), VG_ECLOSED);
    free(w);
    assert_int_equal(vg_queue_pop(q, &item, -1), 0); /* drains after close */
    free(item);
    assert_int_equal(vg_queue_pop(q, &item, -1), VG_ECLOSED);
    vg_queue_free(&q);
    assert_null(q);
}

static void test_queue_drop_oldest(void **state)
{
    vg_queue_t *q;
    void *item;
    (void)state;
    assert_int_equal(vg_queue_new(&q, 3, VG_QUEUE_DROP_OLDEST, free_int), 0);
    for (int i = 0; i < 10; i++) {
        int *v = malloc(sizeof(int));
        *v = i;
        assert_int_equal(vg_queue_push(q, v), 0);
    }
    assert_int_equal(vg_queue_dropped(q), 7);
    assert_int_equal(vg_queue_pop(q, &item, 0), 0);
    assert_int_equal(*(int *)item, 7); /* the newest three remain */
    free(item);
    vg_queue_free(&q); /* frees the two left */
}

typedef struct prod {
    vg_queue_t *q;
    int n;
} prod_t;

static void *producer(void *opaque)
{
    prod_t *p = opaque;
    for (int i = 0; i < p->n; i++) {
        int *v = malloc(sizeof(int));
        *v = i;
        if (vg_queue_push(p->q, v) < 0) {
            free(v);
            break;
        }
    }
    vg_queue_close(p->q);
    return NULL;
}

static void test_queue_threads_order(void **state)
{
    prod_t p;
    pthread_t th;
    void *item;
    int expect = 0;
    (void)state;
    assert_int_equal(vg_queue_new(&p.q, 4, VG_QUEUE_BLOCK, free_int), 0);
    p.n = 20000;
    pthread_create(&th, NULL, producer, &p);
    while (vg_queue_pop(p.q, &item, -1) == 0) {
        assert_int_equal(*(int *)item, expect);
        expect++;
        free(item);
    }
    pthread_join(th, NULL);
    assert_int_equal(expect, p.n); /* blocking mode loses nothing */
    vg_queue_free(&p.q);
}

typedef struct sum_job {
    const uint32_t *in;
    uint32_t *out;
    int n;
} sum_job_t;

static void square_slice(void *arg, int job, int njobs)
{
    sum_job_t *s = arg;
    int a = (int)((int64_t)s->n * job / njobs), b = (int)((int64_t)s->n * (job + 1) / njobs);
    for (int i = a; i < b; i++) s->out[i] = s->in[i] * s->in[i] + (uint32_t)job * 0;
}

static void test_pool_thread_invariance(void **state)
{
    enum { N = 100003 };
    uint32_t *in = malloc(N * 4), *ref = malloc(N * 4), *out = malloc(N * 4);
    (void)state;
    for (int i = 0; i < N; i++) in[i] = (uint32_t)i * 2654435761u;
    sum_job_t s = {in, ref, N};
    vg_pool_run(NULL, square_slice, &s, 1);
    const int threads[] = {1, 2, 7};
    for (int t = 0; t < 3; t++) {
        vg_pool_t *p;
        assert_int_equal(vg_pool_new(&p, threads[t]), 0);
        assert_int_equal(vg_pool_threads(p), threads[t]);
        for (int rep = 0; rep < 50; rep++) {
            memset(out, 0, N * 4);
            s.out = out;
            vg_pool_run(p, square_slice, &s, 1 + rep % 13);
            assert_memory_equal(out, ref, N * 4);
        }
        vg_pool_free(&p);
        assert_null(p);
    }
    assert_int_equal(vg_pool_new(&(vg_pool_t *){NULL}, 0), VG_EINVAL);
    free(in);
    free(ref);
    free(out);
}

/* Back-to-back runs with stack-allocated arguments: a job must never run for a finished run
 * (a late worker once did, on the next run's indices, with the old argument). */
static atomic_int current_run, stale_jobs;

typedef struct tiny_job {
    int run;
    int hits[16];
} tiny_job_t;

static void tiny_slice(void *arg, int job, int njobs)
{
    tiny_job_t *t = arg;
    (void)njobs;
    if (t->run != atomic_load(&current_run)) atomic_fetch_add(&stale_jobs, 1);
    t->hits[job]++;
}

static void test_pool_back_to_back(void **state)
{
    vg_pool_t *p;
    (void)state;
    assert_int_equal(vg_pool_new(&p, 7), 0);
    for (int r = 1; r <= 20000; r++) {
        tiny_job_t t;
        memset(&t, 0, sizeof(t));
        t.run = r;
        atomic_store(&current_run, r);
        int n = 1 + r % 16;
        vg_pool_run(p, tiny_slice, &t, n);
        for (int j = 0; j < n; j++) assert_int_equal(t.hits[j], 1);
        atomic_store(&current_run, 0);
    }
    vg_pool_free(&p);
    assert_int_equal(atomic_load(&stale_jobs), 0);
}

typedef struct manual_clock {
    double t;
} manual_clock_t;
static double manual_now(void *o)
{
    return ((manual_clock_t *)o)->t;
}
static void manual_sleep(void *o, double s)
{
    ((manual_clock_t *)o)->t += s;
}

static void test_clock(void **state)
{
    manual_clock_t m = {100};
    vg_clock_t c = {manual_now, manual_sleep, &m};
    (void)state;
    assert_true(vg_clock_now(&c) == 100);
    vg_clock_sleep(&c, 3600); /* an hour of clock time, instantly */
    assert_true(vg_clock_now(&c) == 3700);
    double a = vg_clock_now(NULL), b = vg_clock_now(NULL);
    assert_true(b >= a);
}

/* vg_file_read: the whole file with a NUL after it, at the limit and one byte over it, a file
 * that cannot be opened, a pipe-like file of unknown size. */
static void test_file_read(void **state)
{
    char dir[] = "/tmp/vg_file_XXXXXX", path[64];
    uint8_t *data = NULL, big[200000];
    size_t len = 0;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(tu_write_file(path, big, sizeof(big)), 0);
    assert_int_equal(vg_file_read(path, sizeof(big), &data, &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(data, big, sizeof(big));
    assert_int_equal(data[len], 0);
    vg_free(data);
    data = NULL;
    assert_int_equal(vg_file_read(path, sizeof(big) - 1, &data, &len), VG_ERANGE);
    assert_null(data);
    assert_int_equal(vg_file_read("/nonexistent/vigie", 100, &data, &len), VG_ENOENT);
    assert_int_equal(vg_file_read("/proc/self/status", 1 << 20, &data, &len), 0);
    assert_true(len > 0 && strstr((char *)data, "Name:") != NULL);
    vg_free(data);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_log_sink_and_level),
        cmocka_unit_test(test_settings_oom),
        cmocka_unit_test(test_frame_oom_and_refs),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_queue_block_and_close),
        cmocka_unit_test(test_queue_drop_oldest),
        cmocka_unit_test(test_queue_threads_order),
        cmocka_unit_test(test_pool_thread_invariance),
        cmocka_unit_test(test_pool_back_to_back),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_file_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
