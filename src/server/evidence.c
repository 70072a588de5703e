/*
 * Evidence pictures: irreversible pixelation of people, JPEG encoding (libturbojpeg), files.
 *
 * Pixelation: the picture is cut into square blocks of `pixel_block` analysis pixels; every block
 * that touches a person (a detector person box grown by a fifth of its size each side) is
 * replaced by its mean colour, and so is every block touching foreground (the motion core's mask
 * of this very frame, grown by one block): detector boxes come a few frames late, and without
 * them (no detect stage, or no result yet) the foreground is all there is. A block
 * mean keeps no detail finer than the block: with the default 12 px at 640 px wide, a face
 * standing 10 m away is one or two flat squares. The copy served by default is this one; the
 * original is kept only where the config asks for it. A weapon alert's object is copied back as
 * it is over the pixelated picture (vg__evidence_restore): the operator must see what is held,
 * not who holds it.
 *
 * Files are written to NAME.tmp, synced and renamed, so a crash never leaves half a picture
 * under a name the store knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "server_priv.h"

#define COMP "evidence"

/* One block [x0, x1) x [y0, y1) set to its mean (rounded), @bpp bytes a pixel: inlined with a
 * constant @bpp so that the channel loops unroll; the block's row of means is made once and
 * copied to each row. */
static inline __attribute__((always_inline)) void block_mean(vg_image_t *img, int x0, int y0,
                                                             int x1, int y1, const int bpp)
{
    uint32_t sum[3] = {0, 0, 0}, n = (uint32_t)((x1 - x0) * (y1 - y0));
    for (int y = y0; y < y1; y++) {
        const uint8_t *r = vg_image_row(img, y) + (size_t)x0 * bpp;
        for (int x = 0; x < x1 - x0; x++)
            for (int c = 0; c < bpp; c++) sum[c] += r[x * bpp + c];
    }
    uint8_t row[3 * 64];
    size_t len = (size_t)(x1 - x0) * bpp;
    if (len > sizeof(row)) {
        /* (blocks wider than 64 pixels: the means one by one) */
        for (int y = y0; y < y1; y++) {
            uint8_t *r = vg_image_row(img, y) + (size_t)x0 * bpp;
            for (int x = 0; x < x1 - x0; x++)
                for (int c = 0; c < bpp; c++) r[x * bpp + c] = (uint8_t)((sum[c] + n / 2) / n);
        }
        return;
    }
    for (int x = 0; x < x1 - x0; x++)
        for (int c = 0; c < bpp; c++) row[x * bpp + c] = (uint8_t)((sum[c] + n / 2) / n);
    for (int y = y0; y < y1; y++) memcpy(vg_image_row(img, y) + (size_t)x0 * bpp, row, len);
}

void vg__evidence_pixelate(vg_image_t *img, const float (*boxes)[4], int nb, const vg_image_t *fg,
                           int bs)
{
    int bw = (img->w + bs - 1) / bs, bh = (img->h + bs - 1) / bs;
    int bpp = img->fmt == VG_PIX_BGR24 ? 3 : 1;
    uint8_t *mark = vg_calloc((size_t)bw * bh, 1);
    if (!mark) {
        /* No memory for the block map: blank the whole picture rather than show anyone. */
        for (int y = 0; y < img->h; y++) memset(vg_image_row(img, y), 128, (size_t)img->w * bpp);
        return;
    }
    for (int i = 0; i < nb; i++) {
        float gx = boxes[i][2] * 0.2f, gy = boxes[i][3] * 0.2f;
        int x0 = (int)((boxes[i][0] - gx) / bs), y0 = (int)((boxes[i][1] - gy) / bs);
        int x1 = (int)((boxes[i][0] + boxes[i][2] + gx) / bs),
            y1 = (int)((boxes[i][1] + boxes[i][3] + gy) / bs);
        for (int by = y0 < 0 ? 0 : y0; by <= y1 && by < bh; by++)
            for (int bx = x0 < 0 ? 0 : x0; bx <= x1 && bx < bw; bx++) mark[by * bw + bx] = 1;
    }
    if (fg && fg->w == img->w && fg->h == img->h) {
        /* the blocks holding foreground (a block's scan stops at its first pixel), then each
         * with its 8 neighbours: the same blocks as marking the 3x3 around every pixel's block */
        uint8_t *has = vg_calloc((size_t)bw * bh, 1);
        if (!has) {
            for (int y = 0; y < img->h; y++)
                memset(vg_image_row(img, y), 128, (size_t)img->w * bpp);
            vg_free(mark);
            return;
        }
        for (int y = 0; y < fg->h; y++) {
            const uint8_t *m = vg_image_row(fg, y);
            uint8_t *h = has + (size_t)(y / bs) * bw;
            for (int bx = 0; bx < bw; bx++) {
                if (h[bx]) continue;
                int x0 = bx * bs, x1 = x0 + bs > fg->w ? fg->w : x0 + bs;
                for (int x = x0; x < x1; x++)
                    if (m[x]) {
                        h[bx] = 1;
                        break;
                    }
            }
        }
        for (int by = 0; by < bh; by++)
            for (int bx = 0; bx < bw; bx++) {
                if (!has[by * bw + bx]) continue;
                for (int yy = by > 0 ? by - 1 : 0; yy <= by + 1 && yy < bh; yy++)
                    for (int xx = bx > 0 ? bx - 1 : 0; xx <= bx + 1 && xx < bw; xx++)
                        mark[yy * bw + xx] = 1;
            }
        vg_free(has);
    }
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            if (!mark[by * bw + bx]) continue;
            int x0 = bx * bs, y0 = by * bs;
            int x1 = x0 + bs > img->w ? img->w : x0 + bs, y1 = y0 + bs > img->h ? img->h : y0 + bs;
            if (bpp == 3)
                block_mean(img, x0, y0, x1, y1, 3);
            else
                block_mean(img, x0, y0, x1, y1, 1);
        }
    vg_free(mark);
}

void vg__evidence_restore(vg_image_t *img, const vg_image_t *orig, const float keep[4], float grow)
{
    if (img->w != orig->w || img->h != orig->h || img->fmt != orig->fmt) return;
    int bpp = img->fmt == VG_PIX_BGR24 ? 3 : 1;
    float g = grow * fmaxf(keep[2], keep[3]);
    int x0 = (int)fmaxf(0, keep[0] - g), y0 = (int)fmaxf(0, keep[1] - g);
    int x1 = (int)fminf((float)img->w, ceilf(keep[0] + keep[2] + g)),
        y1 = (int)fminf((float)img->h, ceilf(keep[1] + keep[3] + g));
    for (int y = y0; y < y1 && x1 > x0; y++)
        memcpy(vg_image_row(img, y) + (size_t)x0 * bpp, vg_image_row(orig, y) + (size_t)x0 * bpp,
               (size_t)(x1 - x0) * bpp);
}

int vg__evidence_jpeg(const vg_image_t *img, int quality, uint8_t **out, size_t *len)
{
    tjhandle tj = tjInitCompress();
    unsigned char *buf = NULL;
    unsigned long size = 0;
    int ret = 0;
    if (!tj) return VG_ENOMEM;
    int gray = img->fmt == VG_PIX_GRAY8;
    if (tjCompress2(tj, img->data, img->w, (int)img->stride, img->h, gray ? TJPF_GRAY : TJPF_BGR,
                    &buf, &size, gray ? TJSAMP_GRAY : TJSAMP_420, quality, 0) != 0) {
        vg_log(COMP, VG_LOG_ERROR, "JPEG encoding failed: %s", tjGetErrorStr2(tj));
        ret = VG_EINVAL;
    } else {
        *out = vg_malloc(size);
        if (*out) {
            memcpy(*out, buf, size);
            *len = size;
        } else
            ret = VG_ENOMEM;
    }
    tjFree(buf);
    tjDestroy(tj);
    return ret;
}

int vg__evidence_thumb(const uint8_t *jpg, size_t len, int max_w, uint8_t **out, size_t *olen)
{
    tjhandle tj = tjInitDecompress();
    int w, h, sub, cs, nf = 0, ret;
    if (!tj) return VG_ENOMEM;
    if (tjDecompressHeader3(tj, jpg, (unsigned long)len, &w, &h, &sub, &cs) != 0) {
        tjDestroy(tj);
        return VG_EFORMAT;
    }
    /* the largest of libjpeg's DCT scalings that is at most @max_w wide (decoding at that size
     * costs a fraction of a full decode) */
    tjscalingfactor *sf = tjGetScalingFactors(&nf), best = {1, 1};
    int bw = w;
    for (int i = 0; sf && i < nf; i++) {
        int sw = TJSCALED(w, sf[i]);
        if (sw <= max_w && (bw > max_w || sw > bw)) {
            best = sf[i];
            bw = sw;
        }
    }
    int gray = cs == TJCS_GRAY;
    vg_image_t img = {0};
    img.w = TJSCALED(w, best);
    img.h = TJSCALED(h, best);
    img.fmt = gray ? VG_PIX_GRAY8 : VG_PIX_BGR24;
    img.stride = (size_t)img.w * (gray ? 1 : 3);
    img.data = vg_malloc(img.stride * (size_t)img.h);
    if (!img.data) {
        tjDestroy(tj);
        return VG_ENOMEM;
    }
    if (tjDecompress2(tj, jpg, (unsigned long)len, img.data, img.w, (int)img.stride, img.h,
                      gray ? TJPF_GRAY : TJPF_BGR, 0) != 0)
        ret = VG_EFORMAT;
    else
        ret = vg__evidence_jpeg(&img, 80, out, olen);
    vg_free(img.data);
    tjDestroy(tj);
    return ret;
}

void vg__evidence_name(char out[64], const char *ext)
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* never fails on Linux >= 3.17 for 16 bytes; fall back to time and address */
        uint64_t t = (uint64_t)(vg__now_mono() * 1e9) ^ (uint64_t)(uintptr_t)out;
        memcpy(b, &t, 8);
        memcpy(b + 8, &t, 8);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
    snprintf(out + 32, 32, "%s", ext);
}

int vg__write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return VG_EIO;
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return VG_EIO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return VG_EIO;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return VG_EIO;
    }
    return 0;
}
