/*
 * vigie — memory hooks.
 *
 * All library allocation goes through vg_malloc/vg_calloc/vg_realloc/vg_free so that a program
 * can route it elsewhere and tests can make the k-th allocation fail (out-of-memory injection).
 * The hooks are process-wide and must be set before any other vigie call.
 */
#ifndef VIGIE_MEM_H
#define VIGIE_MEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_mem_hooks {
    void *(*malloc_fn)(size_t size, void *opaque);
    void *(*realloc_fn)(void *ptr, size_t size, void *opaque);
    void (*free_fn)(void *ptr, void *opaque);
    void *opaque;
} vg_mem_hooks_t;

/** Install allocation hooks; NULL restores the C library's. Not thread-safe: call first. */
void vg_mem_set_hooks(const vg_mem_hooks_t *hooks);

/** Returns NULL on failure (or for size 0 it may return a unique pointer). */
void *vg_malloc(size_t size);
/** Zeroed allocation of n*size bytes; NULL on failure or overflow. */
void *vg_calloc(size_t n, size_t size);
/** As realloc(); on failure the old block is untouched and NULL is returned. */
void *vg_realloc(void *ptr, size_t size);
/** Releases a block from the functions above; NULL is a no-op. */
void vg_free(void *ptr);
/** Frees *pptr and sets it to NULL. */
void vg_freep(void *pptr);
/** A copy of s (NULL gives NULL); NULL on allocation failure. */
char *vg_strdup(const char *s);
/** Allocation aligned to 64 bytes (for vectorised kernels); release with vg_free_aligned. */
void *vg_malloc_aligned(size_t size);
void vg_free_aligned(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
