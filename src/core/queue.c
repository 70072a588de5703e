/*
 * Bounded queue and worker pool.
 *
 * The queue is a ring of pointers under one mutex with two condition variables (not empty, not
 * full). In VG_QUEUE_DROP_OLDEST mode a push into a full queue evicts the head, hands it to the
 * free function outside the lock and counts it, so a live camera's analysis always sees recent
 * frames. Closing wakes all waiters; pops drain what remains.
 *
 * The pool keeps threads-1 workers parked on a condition variable. vg_pool_run publishes a job
 * (fn, arg, njobs) with a generation number; workers and the caller take job indices from an
 * atomic counter until none are left, and the caller waits until every index has completed and
 * no worker is inside run_jobs. A worker that wakes late reads the job and the count under the
 * lock and enters run_jobs counted as active; the next vg_pool_run waits for it to leave before
 * resetting the counter, so a late worker never runs an old job on new indices. The job split
 * is by index only, so results do not depend on how many threads took part.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/queue.h>

struct vg_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **items;
    size_t cap, head, count;
    int mode, closed;
    uint64_t dropped;
    void (*free_item)(void *);
};

int vg_queue_new(vg_queue_t **out, size_t capacity, int mode, void (*free_item)(void *))
{
    vg_queue_t *q;
    if (capacity < 1) return VG_EINVAL;
    q = vg_calloc(1, sizeof(*q));
    if (!q) return VG_ENOMEM;
    q->items = vg_calloc(capacity, sizeof(void *));
    if (!q->items) {
        vg_free(q);
        return VG_ENOMEM;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->cap = capacity;
    q->mode = mode;
    q->free_item = free_item;
    *out = q;
    return 0;
}

void vg_queue_free(vg_queue_t **pq)
{
    vg_queue_t *q = *pq;
    if (!q) return;
    for (size_t i = 0; i < q->count; i++) {
        void *it = q->items[(q->head + i) % q->cap];
        if (q->free_item) q->free_item(it);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    vg_free(q->items);
    vg_free(q);
    *pq = NULL;
}

int vg_queue_push(vg_queue_t *q, void *item)
{
    void *evicted = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->count == q->cap && q->mode == VG_QUEUE_BLOCK)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return VG_ECLOSED;
    }
    if (q->count == q->cap) {
        evicted = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->dropped++;
    }
    q->items[(q->head + q->count) % q->cap] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    if (evicted && q->free_item) q->free_item(evicted);
    return 0;
}

static void deadline_after(struct timespec *ts, double seconds)
{
    double ip;
    clock_gettime(CLOCK_REALTIME, ts);
    double frac = modf(seconds, &ip);
    ts->tv_sec += (time_t)ip;
    ts->tv_nsec += (long)(frac * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int vg_queue_pop(vg_queue_t *q, void **item, double timeout)
{
    struct timespec ts;
    if (timeout >= 0) deadline_after(&ts, timeout);
    pthread_mutex_lock(&q->lock);
    while (!q->count && !q->closed) {
        if (timeout < 0) {
            pthread_cond_wait(&q->not_empty, &q->lock);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &ts) != 0 && !q->count &&
                   !q->closed) {
            pthread_mutex_unlock(&q->lock);
            return VG_EAGAIN;
        }
    }
    if (!q->count) {
        pthread_mutex_unlock(&q->lock);
        return VG_ECLOSED;
    }
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void vg_queue_close(vg_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

uint64_t vg_queue_dropped(vg_queue_t *q)
{
    uint64_t d;
    pthread_mutex_lock(&q->lock);
    d = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return d;
}

size_t vg_queue_size(vg_queue_t *q)
{
    size_t n;
    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* ---- worker pool ---- */

struct vg_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    uint64_t generation;
    int quit;
    vg_job_fn fn;
    void *arg;
    int njobs;
    atomic_int next;
    int finished; /* jobs completed in this generation, under lock */
    int active;   /* workers inside run_jobs, under lock: the caller waits for 0 */
};

static void run_jobs(vg_pool_t *p, vg_job_fn fn, void *arg, int njobs)
{
    int j, n = 0;
    while ((j = atomic_fetch_add(&p->next, 1)) < njobs) {
        fn(arg, j, njobs);
        n++;
    }
    if (n) {
        pthread_mutex_lock(&p->lock);
        p->finished += n;
        if (p->finished == njobs) pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

static void *worker(void *opaque)
{
    vg_pool_t *p = opaque;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->work, &p->lock);
        if (p->quit) break;
        seen = p->generation;
        vg_job_fn fn = p->fn;
        void *arg = p->arg;
        int njobs = p->njobs;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        run_jobs(p, fn, arg, njobs);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int vg_pool_new(vg_pool_t **out, int threads)
{
    vg_pool_t *p;
    if (threads < 1 || threads > 256) return VG_EINVAL;
    p = vg_calloc(1, sizeof(*p));
    if (!p) return VG_ENOMEM;
    p->nthreads = threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    if (threads > 1) {
        p->threads = vg_calloc((size_t)threads - 1, sizeof(pthread_t));
        if (!p->threads) goto fail;
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
                p->nthreads = i + 1;
                vg_pool_free(&p);
                return VG_ENOMEM;
            }
        }
    }
    *out = p;
    return 0;
fail:
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    vg_free(p);
    return VG_ENOMEM;
}

void vg_pool_free(vg_pool_t **pp)
{
    vg_pool_t *p = *pp;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    vg_free(p->threads);
    vg_free(p);
    *pp = NULL;
}

int vg_pool_threads(const vg_pool_t *p)
{
    return p ? p->nthreads : 1;
}

void vg_pool_run(vg_pool_t *p, vg_job_fn fn, void *arg, int njobs)
{
    if (njobs <= 0) return;
    if (!p || p->nthreads == 1 || njobs == 1) {
        for (int j = 0; j < njobs; j++) fn(arg, j, njobs);
        return;
    }
    pthread_mutex_lock(&p->lock);
    /* A worker that woke late for the previous generation may still hold its job (with an
     * exhausted counter); the counter is reset only once it is out, or it would run the old
     * function on the new indices. */
    while (p->active) pthread_cond_wait(&p->done, &p->lock);
    p->fn = fn;
    p->arg = arg;
    p->njobs = njobs;
    p->finished = 0;
    atomic_store(&p->next, 0);
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    run_jobs(p, fn, arg, njobs);
    pthread_mutex_lock(&p->lock);
    while (p->finished < njobs || p->active) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
