/*
 * Refcounted frames. The frame struct, its grey image and its colour image live in one
 * allocation behind a private header holding the atomic reference count; rows are padded to 64
 * bytes so vectorised kernels can read whole lines. Invariant: a frame is written only by the
 * holder of its single reference (vg_frame_is_writable).
 */
#include <stdatomic.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/frame.h>
#include <vigie/mem.h>

typedef struct frame_priv {
    vg_frame_t pub; /* first, so a vg_frame_t * is a frame_priv * */
    atomic_int refs;
    int with_color;
} frame_priv_t;

int vg_pix_fmt_bpp(vg_pix_fmt_t fmt)
{
    switch (fmt) {
    case VG_PIX_GRAY8:
        return 1;
    case VG_PIX_BGR24:
        return 3;
    default:
        return 0;
    }
}

int vg_image_copy(vg_image_t *dst, const vg_image_t *src)
{
    int bpp = vg_pix_fmt_bpp(src->fmt);
    if (dst->w != src->w || dst->h != src->h || dst->fmt != src->fmt || !bpp) return VG_EINVAL;
    for (int y = 0; y < src->h; y++)
        memcpy(vg_image_row(dst, y), vg_image_row(src, y), (size_t)src->w * bpp);
    return 0;
}

enum { VG_FRAME_PADDING = 256 };

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

int vg_frame_new(vg_frame_t **out, int w, int h, int with_color)
{
    size_t head = align64(sizeof(frame_priv_t)), gs, cs = 0, us = 0;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    frame_priv_t *fp;
    uint8_t *base;

    if (w < 1 || h < 1 || w > 32768 || h > 32768) return VG_EINVAL;
    gs = align64((size_t)w) * h;
    if (with_color & VG_FRAME_COLOR) cs = align64((size_t)w * 3) * h;
    if (with_color & VG_FRAME_CHROMA) us = align64((size_t)cw) * ch;
    /* + padding: libswscale's SIMD converters store whole vectors and may write up to a few dozen
     * bytes past the last pixel of the last row (found with valgrind on a 360-pixel-wide input) */
    base = vg_malloc_aligned(head + gs + cs + 2 * us + VG_FRAME_PADDING);
    if (!base) return VG_ENOMEM;
    fp = (frame_priv_t *)base;
    memset(fp, 0, sizeof(*fp));
    atomic_init(&fp->refs, 1);
    fp->with_color = with_color;
    fp->pub.image = (vg_image_t){w, h, (ptrdiff_t)align64((size_t)w), VG_PIX_GRAY8, base + head};
    if (with_color & VG_FRAME_COLOR)
        fp->pub.color =
            (vg_image_t){w, h, (ptrdiff_t)align64((size_t)w * 3), VG_PIX_BGR24, base + head + gs};
    if (with_color & VG_FRAME_CHROMA) {
        ptrdiff_t st = (ptrdiff_t)align64((size_t)cw);
        fp->pub.cb = (vg_image_t){cw, ch, st, VG_PIX_GRAY8, base + head + gs + cs};
        fp->pub.cr = (vg_image_t){cw, ch, st, VG_PIX_GRAY8, base + head + gs + cs + us};
    }
    fp->pub.in_w = w;
    fp->pub.in_h = h;
    *out = &fp->pub;
    return 0;
}

vg_frame_t *vg_frame_ref(vg_frame_t *f)
{
    atomic_fetch_add_explicit(&((frame_priv_t *)f)->refs, 1, memory_order_relaxed);
    return f;
}

void vg_frame_unref(vg_frame_t **pf)
{
    frame_priv_t *fp;
    if (!pf || !*pf) return;
    fp = (frame_priv_t *)*pf;
    *pf = NULL;
    if (atomic_fetch_sub_explicit(&fp->refs, 1, memory_order_acq_rel) == 1) vg_free_aligned(fp);
}

int vg_frame_is_writable(const vg_frame_t *f)
{
    return atomic_load_explicit(&((const frame_priv_t *)f)->refs, memory_order_acquire) == 1;
}

void vg_frame_copy_props(vg_frame_t *dst, const vg_frame_t *src)
{
    dst->index = src->index;
    dst->t = src->t;
    dst->in_w = src->in_w;
    dst->in_h = src->in_h;
    dst->discontinuity = src->discontinuity;
    dst->arrived = src->arrived;
}

int vg_frame_make_writable(vg_frame_t **pf)
{
    vg_frame_t *src = *pf, *dst;
    int ret;
    if (vg_frame_is_writable(src)) return 0;
    ret = vg_frame_new(&dst, src->image.w, src->image.h, ((frame_priv_t *)src)->with_color);
    if (ret < 0) return ret;
    vg_image_copy(&dst->image, &src->image);
    if (src->color.data) vg_image_copy(&dst->color, &src->color);
    if (src->cb.data) vg_image_copy(&dst->cb, &src->cb), vg_image_copy(&dst->cr, &src->cr);
    vg_frame_copy_props(dst, src);
    vg_frame_unref(pf);
    *pf = dst;
    return 0;
}
