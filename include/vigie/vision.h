/*
 * vigie — motion core: background model, foreground mask cleanup, foreground objects.
 *
 * The background model (src/vision/bgs.c) is an adaptive per-pixel Gaussian mixture in the line
 * of Stauffer–Grimson and Zivkovic (MOG2), learning at a rate set in seconds of scene time, with
 * global illumination compensation, shadow labelling, and a long-term model (the dual-rate idea
 * of Porikli et al. 2008) that reports objects which arrive and stay as *static foreground*
 * instead of letting them fade into the background. Masks use the VG_MASK_* levels.
 */
#ifndef VIGIE_VISION_H
#define VIGIE_VISION_H

#include <vigie/frame.h>
#include <vigie/opt.h>
#include <vigie/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Mask levels. Foreground is any level >= VG_MASK_STATIC. */
enum vg_mask_level {
    VG_MASK_BG = 0,
    VG_MASK_SHADOW = 64,  /**< darker than the background with its texture kept: background */
    VG_MASK_STATIC = 128, /**< arrived and stayed still for bgs.static_time */
    VG_MASK_FG = 255,     /**< moving (or newly appeared) foreground */
};

/** Which implementation of the per-pixel update runs; both give the same bits. */
enum vg_bgs_kernel { VG_BGS_KERNEL_AUTO = 0, VG_BGS_KERNEL_PORTABLE };

/** Options of the "motion" group (background model and foreground objects). */
typedef struct vg_bgs_params {
    double history;           /**< s: learning time constant of the main model */
    double var_threshold;     /**< squared distance (in variances) to count as background */
    double var_threshold_gen; /**< squared distance to update a mode rather than create one */
    double background_ratio;  /**< weight share of the modes that form the background */
    double var_init, var_min, var_max; /**< grey levels squared */
    double complexity;                 /**< weight decay prior (Zivkovic's c_T) */
    int shadows;                       /**< label shadows */
    double shadow_min, shadow_max;     /**< brightness ratio range of a shadow */
    int illumination;                  /**< compensate global brightness changes */
    double static_time;      /**< s: still foreground becomes static foreground after this */
    double static_tolerance; /**< grey levels a static pixel may vary by */
    double static_max;       /**< s: static foreground melts into the long-term model (0: never) */
    double long_history;     /**< s: time constant of the long-term model (background only) */
    double warmup;           /**< s: at first the long-term model follows the main one fast */
    int clean;               /**< clean the mask (3x3 majority) before finding objects */
    int kernel;              /**< enum vg_bgs_kernel */
    double min_area;         /**< smallest object, as a fraction of the frame's area */
} vg_bgs_params_t;

extern const vg_option_group_t vg_bgs_option_group;
/** Fill @p with defaults (no strings: nothing to free). */
void vg_bgs_params_default(vg_bgs_params_t *p);

typedef struct vg_bgs vg_bgs_t;

/** A model for @w x @h grey frames. VG_EINVAL on bad sizes or params, VG_ENOMEM. */
int vg_bgs_new(vg_bgs_t **out, int w, int h, const vg_bgs_params_t *p)
    __attribute__((warn_unused_result));
void vg_bgs_free(vg_bgs_t **b);

/**
 * Update with the grey frame @in at scene time @t (seconds, increasing) and write the mask into
 * @mask (VG_PIX_GRAY8, same size). Rows are split into slice jobs on @pool (may be NULL); the
 * result is bit-identical for any number of threads. The first frame initialises the model and
 * gives an empty mask. Returns 0 or VG_EINVAL (size or format mismatch, @mask sharing @in's
 * pixels).
 */
int vg_bgs_update(vg_bgs_t *b, const vg_image_t *in, double t, vg_image_t *mask, vg_pool_t *pool);

/** The current background (the strongest mode's mean) into @out (GRAY8, same size). */
int vg_bgs_background(const vg_bgs_t *b, vg_image_t *out);
/**
 * The long-term background (GRAY8, same size): the scene as it was before the objects that
 * now show as static foreground arrived. Returns 0 or VG_EINVAL (size or format).
 */
int vg_bgs_long_term(const vg_bgs_t *b, vg_image_t *out);
/** Global brightness gain estimated for the last frame (1 = unchanged). */
double vg_bgs_gain(const vg_bgs_t *b);

/**
 * Clean a mask: a 3x3 majority filter on foreground (>= VG_MASK_STATIC) removes speckle and
 * fills pinholes; foreground pixels keep their level (static or moving), new ones take the
 * majority level of their neighbours. @dst and @src must differ. Slice-threaded, deterministic.
 */
int vg_mask_clean(vg_image_t *dst, const vg_image_t *src, vg_pool_t *pool);

/**
 * One 3x3 step of binary morphology in place on the pixels of @o equal to 255: an erosion
 * (@dilate 0: a pixel stays 255 when its 8 neighbours are, the border replicated) or a dilation
 * (a pixel becomes 255 next to one, only where @limit — w*h bytes, packed — is 255; NULL:
 * anywhere). Pixels equal to @keep (and not made 255) keep that value; every other value becomes 0.
 * @tmp holds w*h bytes of scratch. Deterministic; the calling thread only.
 */
void vg_mask_morph3(vg_image_t *o, uint8_t *tmp, const uint8_t *limit, int dilate, uint8_t keep);
/**
 * Fill the holes of the 255 pixels of @o: every pixel that is not 255 and not 4-connected to the
 * picture's border through such pixels becomes 255. @mark holds w*h bytes of scratch and
 * @stack room for w*h entries.
 */
void vg_mask_fill_holes(vg_image_t *o, uint8_t *mark, int32_t *stack);

/** A connected foreground region (analysis pixels). */
typedef struct vg_object {
    int x, y, w, h;        /**< bounding box */
    int area;              /**< pixels */
    double cx, cy;         /**< centroid */
    double foot_x, foot_y; /**< bottom centre of the box: where it stands */
    double static_frac;    /**< share of its pixels that are static foreground */
} vg_object_t;

typedef struct vg_objects {
    int n, cap;
    vg_object_t *obj;
    uint32_t *labels; /**< scratch, owned */
    size_t labels_size;
} vg_objects_t;

void vg_objects_init(vg_objects_t *o);
void vg_objects_close(vg_objects_t *o);

/**
 * 8-connected components of the foreground (>= VG_MASK_STATIC) of @mask, keeping those of at
 * least @min_area pixels, largest first. Pixels where @ignore (may be NULL) is non-zero are not
 * foreground. Returns the count or VG_ENOMEM.
 */
int vg_components(const vg_image_t *mask, const vg_image_t *ignore, int min_area,
                  vg_objects_t *out);

#ifdef __cplusplus
}
#endif
#endif
