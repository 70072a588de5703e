/*
 * The static memory plan (see "Memory" in graph.c): the first run with an input shape records
 * every allocation in order with the positions of the nodes that make and free it; the plan then
 * gives each an offset in one arena so that allocations alive at the same time never overlap
 * (greedy by decreasing size, lowest fitting offset: the usual offline placement of TFLite and
 * XNNPACK). Later runs with that shape allocate nothing.
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigie/clock.h>
#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "../core/sha256.h"
#include "graph_priv.h"
#include "ops.h"

/* Bytes of an allocation in the plan: whole cache lines. */
static size_t plan_bytes(size_t count)
{
    return ((count ? count : 1) * 4 + 63) & ~(size_t)63;
}

/* Allocate @t (its allocation index in *@id), from the plan when there is one, else recorded. */
int vg__nn_plan_alloc(vg_model_t *m, const node_t *nd, vg_tensor_t *t, int *id, vg_dtype_t dt,
                      int ndim, const int64_t *shape)
{
    *id = -1;
    if (m->mode == 2) {
        vg_tensor_t probe;
        vg_tensor_view(&probe, dt, ndim, shape, NULL);
        int ok = ndim >= 0 && ndim <= VG_TENSOR_MAX_DIMS;
        for (int d = 0; ok && d < ndim; d++) ok = shape[d] >= 0 && shape[d] <= (1 << 28);
        if (ok && m->next < m->nrec && m->recs[m->next].bytes == plan_bytes(probe.count)) {
            vg_tensor_view(t, dt, ndim, shape, m->arena + m->recs[m->next].offset);
            *id = m->next++;
            return 0;
        }
        /* not the recorded sequence: plain allocations for the rest, a new plan next run */
        vg_log(COMP, VG_LOG_DEBUG, "node %s: memory plan dropped", nd->name);
        m->mode = 0;
        m->planned = 0;
    }
    int ret = vg_tensor_alloc(t, dt, ndim, shape);
    if (ret == VG_EINVAL) {
        vg_log(COMP, VG_LOG_ERROR, "node %s: output shape out of range", nd->name);
        return VG_EFORMAT;
    }
    if (ret < 0 || m->mode != 1) return ret;
    if (m->nrec == m->caprec) {
        int cap = m->caprec ? 2 * m->caprec : 256;
        plan_rec_t *r = vg_realloc(m->recs, (size_t)cap * sizeof(*r));
        if (!r) {
            m->mode = 0; /* no plan this time; the run itself goes on */
            return 0;
        }
        m->recs = r;
        m->caprec = cap;
    }
    m->recs[m->nrec] = (plan_rec_t){plan_bytes(t->count), 0, m->step, INT32_MAX};
    *id = m->nrec++;
    return 0;
}

/* Free @t, allocation @id of this run. */
void vg__nn_plan_free(vg_model_t *m, vg_tensor_t *t, int id)
{
    if (m->mode == 1 && id >= 0 && id < m->nrec) m->recs[id].end = m->step;
    vg_tensor_free(t);
}

int vg__nn_alloc_out(node_t *nd, int k, vg_dtype_t dt, int ndim, const int64_t *shape)
{
    vg_tensor_free(&nd->out[k]);
    nd->nchw[k] = 0;
    return vg__nn_plan_alloc(nd->model, nd, &nd->out[k], &nd->alloc_id[k], dt, ndim, shape);
}

static int cmp_rec_size(const void *a, const void *b, void *ctx)
{
    const plan_rec_t *r = ctx;
    size_t x = r[*(const int *)a].bytes, y = r[*(const int *)b].bytes;
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

static int cmp_rec_offset(const void *a, const void *b, void *ctx)
{
    const plan_rec_t *r = ctx;
    size_t x = r[*(const int *)a].offset, y = r[*(const int *)b].offset;
    return x < y ? -1 : x > y;
}

/*
 * Place the recorded allocations in one arena: largest first, each at the lowest offset where it
 * overlaps no placed allocation alive at the same time. Returns 0 or VG_ENOMEM.
 */
int vg__nn_plan_place(vg_model_t *m)
{
    int n = m->nrec;
    int *order = vg_malloc((size_t)(n ? n : 1) * sizeof(int));
    int *live = vg_malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!order || !live) {
        vg_free(order);
        vg_free(live);
        return VG_ENOMEM;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof(int), cmp_rec_size, m->recs);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        plan_rec_t *r = &m->recs[order[i]];
        int nl = 0;
        for (int j = 0; j < i; j++) {
            const plan_rec_t *q = &m->recs[order[j]];
            if (q->start <= r->end && r->start <= q->end) live[nl++] = order[j];
        }
        qsort_r(live, (size_t)nl, sizeof(int), cmp_rec_offset, m->recs);
        size_t off = 0;
        for (int j = 0; j < nl; j++) {
            const plan_rec_t *q = &m->recs[live[j]];
            if (q->offset >= off + r->bytes) break;
            if (q->offset + q->bytes > off) off = q->offset + q->bytes;
        }
        r->offset = off;
        if (off + r->bytes > total) total = off + r->bytes;
    }
    vg_free(order);
    vg_free(live);
    vg_free_aligned(m->arena);
    m->arena = vg_malloc_aligned(total ? total : 64);
    if (!m->arena) return VG_ENOMEM;
    m->arena_size = total;
    return 0;
}
