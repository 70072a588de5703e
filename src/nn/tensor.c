/* N-dimensional tensors: shape, element count, owned or borrowed data. */
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

static int shape_count(int ndim, const int64_t *shape, size_t *count)
{
    size_t n = 1;
    if (ndim < 0 || ndim > VG_TENSOR_MAX_DIMS) return VG_EINVAL;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || shape[i] > (1 << 28)) return VG_EINVAL;
        /* at most 2^27 elements (512 MiB) per tensor: a graph file cannot demand more */
        if (shape[i] && n > ((size_t)1 << 27) / (size_t)shape[i]) return VG_EINVAL;
        n *= (size_t)shape[i];
    }
    *count = n;
    return 0;
}

int vg_tensor_alloc(vg_tensor_t *t, vg_dtype_t dtype, int ndim, const int64_t *shape)
{
    size_t n;
    memset(t, 0, sizeof(*t));
    if (shape_count(ndim, shape, &n) < 0) return VG_EINVAL;
    t->data = vg_malloc_aligned((n ? n : 1) * 4);
    if (!t->data) return VG_ENOMEM;
    memset(t->data, 0, (n ? n : 1) * 4);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    t->count = n;
    t->owned = 1;
    return 0;
}

void vg_tensor_view(vg_tensor_t *t, vg_dtype_t dtype, int ndim, const int64_t *shape, void *data)
{
    memset(t, 0, sizeof(*t));
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    shape_count(ndim, shape, &t->count);
    t->data = data;
}

void vg_tensor_free(vg_tensor_t *t)
{
    if (t->owned) vg_free_aligned(t->data);
    memset(t, 0, sizeof(*t));
}
