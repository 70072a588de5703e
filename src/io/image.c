/*
 * Still images: PNG through libavcodec's encoder (lossless, so a picture shows exactly what
 * vigie saw), and rectangle drawing for annotations.
 */
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/image.h>

int vg_image_write_png(const char *path, const vg_image_t *img)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *c = NULL;
    AVFrame *f = NULL;
    AVPacket *pkt = NULL;
    FILE *out = NULL;
    uint8_t *rgb = NULL;
    int ret;
    if (!codec) return VG_ENOSYS;
    if (img->w < 1 || img->h < 1 || (img->fmt != VG_PIX_BGR24 && img->fmt != VG_PIX_GRAY8))
        return VG_EINVAL;
    c = avcodec_alloc_context3(codec);
    f = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!c || !f || !pkt) {
        ret = VG_ENOMEM;
        goto end;
    }
    c->width = img->w;
    c->height = img->h;
    c->pix_fmt =
        img->fmt == VG_PIX_BGR24 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8; /* PNG has no BGR */
    c->time_base = (AVRational){1, 25};
    if (avcodec_open2(c, codec, NULL) < 0) {
        ret = VG_EINVAL;
        goto end;
    }
    f->width = img->w;
    f->height = img->h;
    f->format = c->pix_fmt;
    if (img->fmt == VG_PIX_BGR24) {
        rgb = av_malloc((size_t)img->w * img->h * 3);
        if (!rgb) {
            ret = VG_ENOMEM;
            goto end;
        }
        for (int y = 0; y < img->h; y++) {
            const uint8_t *s = vg_image_row(img, y);
            uint8_t *d = rgb + (size_t)y * img->w * 3;
            for (int x = 0; x < img->w; x++)
                d[3 * x] = s[3 * x + 2], d[3 * x + 1] = s[3 * x + 1], d[3 * x + 2] = s[3 * x];
        }
        f->data[0] = rgb;
        f->linesize[0] = img->w * 3;
    } else {
        f->data[0] = img->data;
        f->linesize[0] = (int)img->stride;
    }
    if (avcodec_send_frame(c, f) < 0 || avcodec_send_frame(c, NULL) < 0 ||
        avcodec_receive_packet(c, pkt) < 0) {
        ret = VG_EINVAL;
        goto end;
    }
    out = fopen(path, "wb");
    if (!out) {
        ret = VG_EIO;
        goto end;
    }
    ret = fwrite(pkt->data, 1, (size_t)pkt->size, out) == (size_t)pkt->size ? 0 : VG_EIO;
    if (fclose(out) != 0) ret = VG_EIO;
end:
    av_free(rgb);
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&c);
    return ret;
}

void vg_image_draw_box(vg_image_t *img, int x, int y, int w, int h, int thick, uint8_t b, uint8_t g,
                       uint8_t r)
{
    if (img->fmt != VG_PIX_BGR24) return;
    for (int yy = y; yy < y + h; yy++) {
        if (yy < 0 || yy >= img->h) continue;
        uint8_t *row = vg_image_row(img, yy);
        int edge_row = yy < y + thick || yy >= y + h - thick;
        for (int xx = x; xx < x + w; xx++) {
            if (xx < 0 || xx >= img->w) continue;
            if (!edge_row && xx >= x + thick && xx < x + w - thick) continue;
            row[3 * xx] = b, row[3 * xx + 1] = g, row[3 * xx + 2] = r;
        }
    }
}
