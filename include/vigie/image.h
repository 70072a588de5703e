/*
 * vigie — still images: writing a frame to a PNG file (FFmpeg's PNG encoder), and drawing boxes
 * on a colour image (for annotated pictures a person looks at).
 */
#ifndef VIGIE_IMAGE_H
#define VIGIE_IMAGE_H

#include <vigie/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Write @img (VG_PIX_BGR24 or VG_PIX_GRAY8) to @path as PNG. Returns 0, VG_EIO (cannot write,
 * with errno kept), VG_EINVAL, VG_ENOSYS (no PNG encoder in this FFmpeg) or VG_ENOMEM.
 */
int vg_image_write_png(const char *path, const vg_image_t *img);

/** Draw a rectangle outline @thick pixels wide in colour (b, g, r) on a BGR24 image, clipped. */
void vg_image_draw_box(vg_image_t *img, int x, int y, int w, int h, int thick, uint8_t b, uint8_t g,
                       uint8_t r);

#ifdef __cplusplus
}
#endif
#endif
