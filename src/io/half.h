/* Halving 8-bit YUV 4:2:0 pictures without libswscale (half.c). */
#ifndef VG_IO_HALF_H
#define VG_IO_HALF_H

#include <stddef.h>
#include <stdint.h>

/* @src (@w x @h, @ls bytes a row; even sizes) halved by [1 3 3 1] / 8 on each axis into @dst
 * (@ds bytes a row). @tmp: @w values. */
void vg__half_plane(const uint8_t *src, ptrdiff_t ls, int w, int h, uint8_t *dst, ptrdiff_t ds,
                    uint16_t *tmp);
/* BGR24 at half of a @w x @h 4:2:0 picture (@planes, @ls; even sizes) from its halved luma
 * @grey (@gs a row) and its chroma; @full: full-range (JPEG) YUV. @tmp: 2 @w values. */
void vg__half_bgr(const uint8_t *const planes[3], const int ls[3], int w, int h, int full,
                  const uint8_t *grey, ptrdiff_t gs, uint8_t *dst, ptrdiff_t ds, uint16_t *tmp);

#endif
