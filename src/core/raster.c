/*
 * Scanline polygon fill: for each row, the crossings of the row's centre line with the polygon's
 * edges, sorted, filled pairwise (even-odd rule). A pixel is inside when its centre is.
 */
#include <math.h>
#include <string.h>

#include "raster.h"

void vg__fill_polygon(vg_image_t *img, const vg_polygon_t *poly, double sx, double sy,
                      uint8_t value)
{
    double xs[1024];
    int bpp = vg_pix_fmt_bpp(img->fmt);
    for (int y = 0; y < img->h; y++) {
        double cy = y + 0.5;
        int n = 0;
        for (int i = 0, j = poly->n - 1; i < poly->n && n < 1024; j = i++) {
            double ay = poly->pts[i].y * sy, by = poly->pts[j].y * sy;
            double ax = poly->pts[i].x * sx, bx = poly->pts[j].x * sx;
            if ((ay > cy) != (by > cy)) xs[n++] = ax + (cy - ay) * (bx - ax) / (by - ay);
        }
        for (int i = 1; i < n; i++) /* insertion sort: n is small */
            for (int k = i; k > 0 && xs[k] < xs[k - 1]; k--) {
                double t = xs[k];
                xs[k] = xs[k - 1];
                xs[k - 1] = t;
            }
        for (int i = 0; i + 1 < n; i += 2) {
            int x0 = (int)ceil(xs[i] - 0.5), x1 = (int)floor(xs[i + 1] - 0.5);
            if (x0 < 0) x0 = 0;
            if (x1 > img->w - 1) x1 = img->w - 1;
            if (x1 >= x0)
                memset(vg_image_row(img, y) + (size_t)x0 * bpp, value, (size_t)(x1 - x0 + 1) * bpp);
        }
    }
}

double vg__box_share(const vg_image_t *mask, const double *b, uint8_t lo, uint8_t hi)
{
    int x0 = (int)fmax(0, b[0]), y0 = (int)fmax(0, b[1]);
    int x1 = (int)fmin(mask->w, b[0] + b[2]), y1 = (int)fmin(mask->h, b[1] + b[3]);
    int64_t n = 0, s = 0;
    for (int y = y0; y < y1; y++) {
        const uint8_t *r = vg_image_row(mask, y);
        for (int x = x0; x < x1; x++) n++, s += r[x] >= lo && r[x] <= hi;
    }
    return n ? (double)s / n : 0;
}
