/* Polygon rasterisation shared by the pipeline (privacy masks) and stages (ignore masks). */
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

#endif
