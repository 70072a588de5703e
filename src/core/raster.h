/* Polygon rasterisation shared by the pipeline (privacy masks) and stages (ignore masks); how
 * much of a box a mask level covers (stages asking whether something is there). */
#ifndef VG_CORE_RASTER_H
#define VG_CORE_RASTER_H

#include <vigie/frame.h>
#include <vigie/scene.h>

/*
 * Set every pixel of @img whose centre lies inside @poly (scene coordinates multiplied by @sx,
 * @sy) to @value in each channel. Even-odd rule, scanline by scanline; polygons of any shape.
 */
void vg__fill_polygon(vg_image_t *img, const vg_polygon_t *poly, double sx, double sy,
                      uint8_t value);

/*
 * The share of the pixels of box @b (x, y, w, h; clipped to @mask) whose level in the GRAY8
 * @mask lies in [@lo, @hi]; 0 for an empty box.
 */
double vg__box_share(const vg_image_t *mask, const double *b, uint8_t lo, uint8_t hi);

#endif
