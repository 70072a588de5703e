/*
 * vigie — images and refcounted frames.
 *
 * vg_image_t is a light, non-owning view (darknet's tiny image type, with a stride): algorithms
 * take `const vg_image_t *` inputs and write into caller-provided views.
 *
 * vg_frame_t is what travels through the pipeline: the analysis image at the analysis size, an
 * optional colour image of the same size, the presentation time and the index in the input. It is
 * refcounted like AVFrame: vg_frame_ref() adds a reference, vg_frame_unref() drops one, and a frame
 * may be written only while it has exactly one reference (vg_frame_make_writable() copies if not).
 * Reference counting is atomic, so references may be handed across threads.
 */
#ifndef VIGIE_FRAME_H
#define VIGIE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_pix_fmt {
    VG_PIX_NONE = 0,
    VG_PIX_GRAY8,
    VG_PIX_BGR24,
} vg_pix_fmt_t;

typedef struct vg_image {
    int w, h;
    ptrdiff_t stride; /**< bytes from one row to the next; may exceed w * bytes per pixel */
    vg_pix_fmt_t fmt;
    uint8_t *data;
} vg_image_t;

/** Bytes per pixel of @fmt (0 for VG_PIX_NONE). */
int vg_pix_fmt_bpp(vg_pix_fmt_t fmt);
/** Row @y of @img. */
static inline uint8_t *vg_image_row(const vg_image_t *img, int y)
{
    return img->data + (ptrdiff_t)y * img->stride;
}
/** Copy pixels between views of the same size and format. VG_EINVAL if they differ. */
int vg_image_copy(vg_image_t *dst, const vg_image_t *src);

typedef struct vg_frame {
    /** The analysis image: VG_PIX_GRAY8 at the analysis size. */
    vg_image_t image;
    /** VG_PIX_BGR24 at the analysis size when the source was asked for colour; data NULL if not. */
    vg_image_t color;
    /** 0-based index of this frame in the input (counting every decoded frame). */
    int64_t index;
    /** Seconds from the input's start, from its presentation time (see docs/ingest.md). */
    double t;
    /** The input's own size: event boxes are given in these pixels. */
    int in_w, in_h;
    /** Set on the first frame after a gap: reconnection, dropped frames, timestamp jump. */
    int discontinuity;
    /**
     * The chroma of the analysis image when the source was asked for it (input.chroma), data
     * NULL if not: Cb and Cr as VG_PIX_GRAY8 planes of ((w + 1) / 2) x ((h + 1) / 2), one sample
     * per 2x2 analysis pixels (as in 4:2:0 video), the input's own range (128: no colour). What
     * stages that need colour only here and there read, instead of a full BGR24 image.
     */
    vg_image_t cb, cr;
    /** When the source delivered it (vg_clock_now(NULL), monotonic seconds; 0: unknown): an
     * event's latency is measured from here (a file played in real time: when its time came). */
    double arrived;
} vg_frame_t;

/** vg_frame_new's @with_color bits: a BGR24 image, chroma planes. */
#define VG_FRAME_COLOR  1
#define VG_FRAME_CHROMA 2

/**
 * Allocate a frame whose image is @w x @h GRAY8 (rows aligned to 64 bytes), with a BGR24 colour
 * image of the same size if @with_color has VG_FRAME_COLOR (1), and Cb, Cr planes of half the
 * size if it has VG_FRAME_CHROMA. Returns 0 and a frame with one reference in *out, or
 * VG_EINVAL (size < 1 or > 32768) / VG_ENOMEM with *out untouched.
 */
int vg_frame_new(vg_frame_t **out, int w, int h, int with_color)
    __attribute__((warn_unused_result));
/** Add a reference; returns @f. Thread-safe. */
vg_frame_t *vg_frame_ref(vg_frame_t *f);
/** Drop the reference *pf and set *pf to NULL; frees the frame with its last reference. */
void vg_frame_unref(vg_frame_t **pf);
/** 1 when the caller holds the only reference. */
int vg_frame_is_writable(const vg_frame_t *f);
/** Copy @src's fields other than its pixels (index, time, input size, discontinuity, arrival)
 * into @dst. */
void vg_frame_copy_props(vg_frame_t *dst, const vg_frame_t *src);
/** Make *pf writable: copies it (and drops the shared reference) if others hold references. */
int vg_frame_make_writable(vg_frame_t **pf) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
