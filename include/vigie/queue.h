/*
 * vigie — bounded queues and the worker pool.
 *
 * vg_queue_t is a bounded FIFO of pointers joining two threads (the ingest and analysis threads
 * of a camera). When full, a push either waits or drops the oldest item, per the queue's mode;
 * dropped items are handed to the queue's free function and counted. Closing wakes every waiter.
 *
 * vg_pool_t runs slice jobs: vg_pool_run() calls fn(arg, job, njobs) for job = 0..njobs-1 on the
 * pool's threads and the caller's, and returns when all are done. Work split by job index must
 * give results independent of the number of threads (FFmpeg's slice threading rule).
 */
#ifndef VIGIE_QUEUE_H
#define VIGIE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_queue vg_queue_t;

enum vg_queue_mode {
    VG_QUEUE_BLOCK = 0,   /**< push waits for room (files: every frame matters) */
    VG_QUEUE_DROP_OLDEST, /**< push drops the oldest item (live: stay current) */
};

/**
 * Create a queue of @capacity (>= 1) items. @free_item releases items that are dropped or left in
 * the queue at vg_queue_free (may be NULL).
 */
int vg_queue_new(vg_queue_t **out, size_t capacity, int mode, void (*free_item)(void *item))
    __attribute__((warn_unused_result));
/** Free the queue and the items left in it. No thread may be using it. */
void vg_queue_free(vg_queue_t **q);
/**
 * Add @item (the queue takes ownership). Returns 0, or VG_ECLOSED if the queue is closed (the
 * item is then still the caller's). Thread-safe.
 */
int vg_queue_push(vg_queue_t *q, void *item);
/**
 * Take the oldest item into *item, waiting up to @timeout seconds (< 0: forever). Returns 0,
 * VG_EAGAIN on timeout, or VG_ECLOSED when the queue is closed and empty. Thread-safe.
 */
int vg_queue_pop(vg_queue_t *q, void **item, double timeout);
/** Close: pushes fail, pops drain what is left then fail. Thread-safe, idempotent. */
void vg_queue_close(vg_queue_t *q);
/** Items dropped so far by VG_QUEUE_DROP_OLDEST. Thread-safe. */
uint64_t vg_queue_dropped(vg_queue_t *q);
size_t vg_queue_size(vg_queue_t *q);

typedef struct vg_pool vg_pool_t;
typedef void (*vg_job_fn)(void *arg, int job, int njobs);

/** A pool with @threads - 1 workers (the caller of vg_pool_run is the last). @threads >= 1. */
int vg_pool_new(vg_pool_t **out, int threads) __attribute__((warn_unused_result));
/** Stop and join the workers. */
void vg_pool_free(vg_pool_t **p);
int vg_pool_threads(const vg_pool_t *p);
/**
 * Run fn(arg, j, njobs) for every j in 0..njobs-1 and wait for all. A NULL pool runs them on the
 * caller's thread. One vg_pool_run at a time per pool (the pool's owning thread calls it).
 */
void vg_pool_run(vg_pool_t *p, vg_job_fn fn, void *arg, int njobs);

#ifdef __cplusplus
}
#endif
#endif
