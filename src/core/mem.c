/*
 * Allocation hooks. The defaults are the C library's; vg_mem_set_hooks() replaces them for the
 * whole process (tests use it to fail the k-th allocation). Aligned blocks keep the offset to the
 * real block just before the aligned pointer, so they can go through the same hooks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/mem.h>

static vg_mem_hooks_t hooks;

void vg_mem_set_hooks(const vg_mem_hooks_t *h)
{
    if (h)
        hooks = *h;
    else
        memset(&hooks, 0, sizeof(hooks));
}

void *vg_malloc(size_t size)
{
    if (hooks.malloc_fn) return hooks.malloc_fn(size ? size : 1, hooks.opaque);
    return malloc(size ? size : 1);
}

void *vg_calloc(size_t n, size_t size)
{
    void *p;
    if (size && n > SIZE_MAX / size) return NULL;
    p = vg_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *vg_realloc(void *ptr, size_t size)
{
    if (hooks.realloc_fn) return hooks.realloc_fn(ptr, size ? size : 1, hooks.opaque);
    return realloc(ptr, size ? size : 1);
}

void vg_free(void *ptr)
{
    if (!ptr) return;
    if (hooks.free_fn)
        hooks.free_fn(ptr, hooks.opaque);
    else
        free(ptr);
}

void vg_freep(void *pptr)
{
    void **p = pptr;
    vg_free(*p);
    *p = NULL;
}

char *vg_strdup(const char *s)
{
    size_t n;
    char *d;
    if (!s) return NULL;
    n = strlen(s) + 1;
    d = vg_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void *vg_malloc_aligned(size_t size)
{
    const size_t align = 64;
    uint8_t *raw, *p;
    if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
    raw = vg_malloc(size + align + sizeof(void *));
    if (!raw) return NULL;
    p = (uint8_t *)(((uintptr_t)(raw + sizeof(void *)) + align - 1) & ~(uintptr_t)(align - 1));
    ((void **)p)[-1] = raw;
    return p;
}

void vg_free_aligned(void *ptr)
{
    if (ptr) vg_free(((void **)ptr)[-1]);
}
