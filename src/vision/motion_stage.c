/*
 * The "motion" stage: background model, mask cleanup and foreground objects for each frame.
 * It publishes the cleaned mask (VG_SLOT_FOREGROUND, a vg_image_t at the analysis size) and the
 * objects (VG_SLOT_OBJECTS, a vg_objects_t, analysis pixels) for later stages. The scene's ignore
 * masks are rasterised once at the analysis size; objects are not found there. Buffers are
 * allocated on the first frame, when the analysis size is known.
 */
#include <string.h>

#include <vigie/error.h>
#include <vigie/stage.h>
#include <vigie/vision.h>

#include "../core/raster.h"
#include "vision_priv.h"

typedef struct motion {
    vg_bgs_t *bgs;
    vg_frame_t *raw, *clean, *ignore;
    vg_objects_t objs;
    int w, h, has_ignore;
} motion_t;

static int motion_setup(vg_stage_t *st, vg_analysis_t *a)
{
    motion_t *m = st->priv;
    const vg_bgs_params_t *p = st->params;
    const vg_frame_t *f = a->frame;
    int ret;
    m->w = f->image.w;
    m->h = f->image.h;
    if ((ret = vg_bgs_new(&m->bgs, m->w, m->h, p)) < 0) return ret;
    if ((ret = vg_frame_new(&m->raw, m->w, m->h, 0)) < 0) return ret;
    if ((ret = vg_frame_new(&m->clean, m->w, m->h, 0)) < 0) return ret;
    if (a->scene->nb_ignore) {
        if ((ret = vg_frame_new(&m->ignore, m->w, m->h, 0)) < 0) return ret;
        for (int y = 0; y < m->h; y++) memset(vg_image_row(&m->ignore->image, y), 0, (size_t)m->w);
        double sx = (double)m->w / f->in_w, sy = (double)m->h / f->in_h;
        for (int i = 0; i < a->scene->nb_ignore; i++)
            vg__fill_polygon(&m->ignore->image, &a->scene->ignore[i], sx, sy, 255);
        m->has_ignore = 1;
    }
    vg_objects_init(&m->objs);
    return 0;
}

static int motion_process(vg_stage_t *st, vg_analysis_t *a)
{
    motion_t *m = st->priv;
    const vg_bgs_params_t *p = st->params;
    const vg_frame_t *f = a->frame;
    int ret;
    if (!m->bgs && (ret = motion_setup(st, a)) < 0) return ret;
    if (f->image.w != m->w || f->image.h != m->h) return VG_EINVAL;
    if ((ret = vg_bgs_update(m->bgs, &f->image, f->t, &m->raw->image, a->pool)) < 0) return ret;
    vg_image_t *mask = &m->raw->image;
    if (p->clean) {
        if ((ret = vg_mask_clean(&m->clean->image, &m->raw->image, a->pool)) < 0) return ret;
        mask = &m->clean->image;
    }
    int min_area = (int)(p->min_area * m->w * m->h + 0.5);
    ret = vg_components(mask, m->has_ignore ? &m->ignore->image : NULL, min_area < 1 ? 1 : min_area,
                        &m->objs);
    if (ret < 0) return ret;
    a->slot[VG_SLOT_FOREGROUND] = mask;
    a->slot[VG_SLOT_OBJECTS] = &m->objs;
    a->slot[VG_SLOT_BGS] = m->bgs;
    return 0;
}

static void motion_close(vg_stage_t *st)
{
    motion_t *m = st->priv;
    vg_bgs_free(&m->bgs);
    vg_frame_unref(&m->raw);
    vg_frame_unref(&m->clean);
    vg_frame_unref(&m->ignore);
    vg_objects_close(&m->objs);
}

const vg_stage_class_t vg__motion_stage = {
    .name = "motion",
    .help = "motion core: background model and foreground objects",
    .options = vg__bgs_options,
    .params_size = sizeof(vg_bgs_params_t),
    .priv_size = sizeof(motion_t),
    .process = motion_process,
    .close = motion_close,
    .provides =
        VG_SLOT_BIT(VG_SLOT_FOREGROUND) | VG_SLOT_BIT(VG_SLOT_OBJECTS) | VG_SLOT_BIT(VG_SLOT_BGS),
};
