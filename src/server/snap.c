/*
 * What `vigie serve` keeps of a frame for a picture (vg_snap_t): a frame reference, the person
 * boxes and, when the detector had nothing for it, the foreground mask; and its pixelated JPEG.
 * Before the detector's first answer for the camera the whole picture is pixelated: the
 * background model has not learnt the scene yet either, so nobody in view can be told apart.
 * A weapon alert's picture keeps the weapon's box as it is (grown by KEEP_GROW each side: the
 * box comes from a look a few frames old): what the operator must check is the object; the
 * person holding it stays pixelated around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/scene.h>
#include <vigie/source.h>

#include "server_priv.h"

#define COMP      "serve"
#define KEEP_GROW 0.25f

/* ---- snapshots ---- */

void vg__snap_clear(vg_snap_t *snap)
{
    vg_frame_unref(&snap->frame);
    vg_free(snap->fg);
    memset(snap, 0, sizeof(*snap));
}

int vg__snap_copy(vg_snap_t *dst, const vg_snap_t *src)
{
    *dst = *src;
    dst->fg = NULL;
    if (src->fg) {
        dst->fg = vg_malloc((size_t)src->fg_w * src->fg_h);
        if (!dst->fg) {
            memset(dst, 0, sizeof(*dst));
            return VG_ENOMEM;
        }
        memcpy(dst->fg, src->fg, (size_t)src->fg_w * src->fg_h);
    }
    if (src->frame) dst->frame = vg_frame_ref(src->frame);
    return 0;
}

/* Fill @snap from the analysis of the current frame. */
int vg__snap_take(vg_snap_t *snap, const vg_analysis_t *a)
{
    const vg_detections_t *d = a->slot[VG_SLOT_DETECTIONS];
    const vg_image_t *fg = a->slot[VG_SLOT_FOREGROUND];
    memset(snap, 0, sizeof(*snap));
    snap->frame = vg_frame_ref(a->frame);
    /* before the detector's first answer (a camera's first second or so) the background model
     * has not learnt the scene either: someone in view may be in neither, so everything is
     * pixelated (a camera without the detector relies on its foreground alone) */
    snap->blind = d && d->frame_index < 0;
    if (d && d->frame_index >= 0) {
        for (int i = 0; i < d->n && snap->nb < VG_MAX_PERSON_BOXES; i++)
            if (d->det[i].cls == 0) {
                snap->boxes[snap->nb][0] = d->det[i].x;
                snap->boxes[snap->nb][1] = d->det[i].y;
                snap->boxes[snap->nb][2] = d->det[i].w;
                snap->boxes[snap->nb][3] = d->det[i].h;
                snap->nb++;
            }
    }
    /* Detector results come a few frames late (the inference thread runs beside the analysis):
     * a walking person has moved on from their box. The foreground is this frame's, so both
     * are pixelated. */
    if (fg && fg->fmt == VG_PIX_GRAY8) {
        snap->fg = vg_malloc((size_t)fg->w * fg->h);
        if (!snap->fg) {
            vg__snap_clear(snap);
            return VG_ENOMEM;
        }
        for (int y = 0; y < fg->h; y++)
            memcpy(snap->fg + (size_t)y * fg->w, vg_image_row(fg, y), (size_t)fg->w);
        snap->fg_w = fg->w;
        snap->fg_h = fg->h;
    }
    return 0;
}

int vg__server_snap_jpeg(vg_server_t *s, const vg_snap_t *snap, int pixelate, uint8_t **out,
                         size_t *len)
{
    return vg__server_snap_jpeg_q(s, snap, pixelate, 85, out, len);
}

int vg__server_snap_jpeg_q(vg_server_t *s, const vg_snap_t *snap, int pixelate, int q,
                           uint8_t **out, size_t *len)
{
    const vg_frame_t *f = snap->frame;
    const vg_image_t *src = f->color.data ? &f->color : &f->image;
    int bpp = src->fmt == VG_PIX_BGR24 ? 3 : 1;
    vg_image_t copy = {src->w, src->h, (ptrdiff_t)src->w * bpp, src->fmt, NULL};
    vg_image_t fg = {snap->fg_w, snap->fg_h, snap->fg_w, VG_PIX_GRAY8, snap->fg};
    int ret;
    copy.data = vg_malloc((size_t)copy.stride * copy.h);
    if (!copy.data) return VG_ENOMEM;
    vg_image_copy(&copy, src);
    const float all[1][4] = {{0, 0, (float)copy.w, (float)copy.h}};
    if (pixelate && snap->blind)
        vg__evidence_pixelate(&copy, all, 1, NULL, s->cfg->pixel_block);
    else if (pixelate)
        vg__evidence_pixelate(&copy, (const float(*)[4])snap->boxes, snap->nb,
                              snap->fg ? &fg : NULL, s->cfg->pixel_block);
    if (pixelate && snap->has_keep) vg__evidence_restore(&copy, src, snap->keep, KEEP_GROW);
    ret = vg__evidence_jpeg(&copy, q, out, len);
    vg_free(copy.data);
    return ret;
}
