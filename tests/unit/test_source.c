/* Video sources on generated inputs: exact pixels and timestamps, scaling, colour, image
 * sequences, --from/--to, loop, missing timestamps and variable frame rate; and every kind of
 * bad input: a clear error naming the input, no crash, frames before the damage delivered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <vigie/vigie.h>

#include "synth.h"
#include "testutil.h"

static char dir[512];
static synth_scene_t scene;
static char lossless[600], mpeg4[600];

static int setup(void **state)
{
    (void)state;
    if (!synth_have_ffmpeg()) {
        fprintf(stderr, "ffmpeg command line missing: run scripts/setup\n");
        return -1;
    }
    if (synth_tmpdir(dir, sizeof(dir)) < 0) return -1;
    synth_init(&scene, 160, 120, 25, 50, 7);
    synth_add_walker(&scene, 0, 10, 100, 2, 150, 90);
    snprintf(lossless, sizeof(lossless), "%s/clip.mkv", dir);
    snprintf(mpeg4, sizeof(mpeg4), "%s/clip.avi", dir);
    if (synth_write(&scene, lossless, "-c:v ffv1 -level 3 -slicecrc 1") < 0) return -1;
    if (synth_write(&scene, mpeg4, "-c:v mpeg4 -q:v 3") < 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    synth_rmdir(dir);
    return 0;
}

static vg_source_params_t params(void)
{
    vg_source_params_t p;
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_source_option_group.options);
    return p;
}

/* Reads everything; returns the final status and the number of frames. */
static int read_all(vg_source_t *s, int *frames, double *last_t)
{
    vg_frame_t *f;
    int ret;
    *frames = 0;
    while ((ret = vg_source_read(s, &f)) == 0) {
        (*frames)++;
        if (last_t) *last_t = f->t;
        vg_frame_unref(&f);
    }
    return ret;
}

static void test_exact_pixels_and_time(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    uint8_t *ref = malloc(160 * 120);
    vg_source_info_t info;
    (void)state;
    p.width = 0;
    assert_int_equal(vg_source_open(&s, lossless, &p, NULL), 0);
    vg_source_get_info(s, &info);
    assert_int_equal(info.in_w, 160);
    assert_int_equal(info.w, 160);
    assert_true(fabs(info.fps - 25) < 1e-6);
    for (int k = 0; k < 50; k++) {
        assert_int_equal(vg_source_read(s, &f), 0);
        assert_int_equal(f->index, k);
        assert_true(fabs(f->t - k / 25.0) < 1e-6);
        assert_int_equal(f->in_w, 160);
        synth_render(&scene, k, ref, 160, NULL, NULL);
        assert_true(synth_psnr(f->image.data, f->image.stride, ref, 160, 160, 120) >= 99);
        vg_frame_unref(&f);
    }
    assert_int_equal(vg_source_read(s, &f), VG_EOF);
    assert_int_equal(vg_source_read(s, &f), VG_EOF); /* stays at the end */
    vg_source_free(&s);
    assert_null(s);
    vg_opt_free(&p, vg_source_option_group.options);
    free(ref);
}

static void test_scaling_and_color(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    (void)state;
    p.width = 80;
    p.color = 1;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    assert_int_equal(vg_source_read(s, &f), 0);
    assert_int_equal(f->image.w, 80);
    assert_int_equal(f->image.h, 60);
    assert_int_equal(f->in_w, 160);
    assert_int_equal(f->color.fmt, VG_PIX_BGR24);
    /* grey input: the colour image is grey too. The analysis image is the coded luma (limited
     * range for this MPEG-4 clip); the colour image is full-range RGB of the same picture. */
    long diff = 0;
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 80; x++) {
            const uint8_t *c = vg_image_row(&f->color, y) + 3 * x;
            double luma = (vg_image_row(&f->image, y)[x] - 16) * 255.0 / 219.0;
            diff += labs(lround(c[1] - luma));
            assert_true(abs(c[0] - c[2]) <= 2);
        }
    assert_true(diff / (80 * 60) <= 3);
    vg_frame_unref(&f);
    vg_source_free(&s);
    /* no upscaling unless asked */
    p.width = 640;
    p.color = 0;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    assert_int_equal(vg_source_read(s, &f), 0);
    assert_int_equal(f->image.w, 160);
    vg_frame_unref(&f);
    vg_source_free(&s);
    p.upscale = 1;
    p.height = 200;
    p.width = 0;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    assert_int_equal(vg_source_read(s, &f), 0);
    assert_int_equal(f->image.h, 200);
    assert_int_equal(f->image.w, 267);
    vg_frame_unref(&f);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

/* A 1280x720 4:2:0 picture analysed at 640x360 is halved by half.c, not libswscale: its grey,
 * BGR and chroma planes against libswscale's bilinear on the same decoded picture (real pixels:
 * vtest.avi scaled up), limited range (yuv420p, FFV1: lossless) and full range (yuvj420p, MJPEG:
 * the reference decoded by the ffmpeg command line). */
static void check_halving(const char *clip, const char *raw, enum AVPixelFormat fmt)
{
    const int W = 1280, H = 720, w = 640, h = 360;
    size_t len;
    uint8_t *yuv = (uint8_t *)tu_read_file(raw, &len);
    assert_non_null(yuv);
    assert_true(len >= (size_t)W * H * 3 / 2);
    const uint8_t *Y = yuv, *U = yuv + W * H, *V = U + W * H / 4;
    uint8_t *g = malloc((size_t)w * h), *bgr = malloc((size_t)w * h * 3),
            *cb = malloc((size_t)w * h / 4);
    struct SwsContext *sg = sws_getContext(W, H, AV_PIX_FMT_GRAY8, w, h, AV_PIX_FMT_GRAY8,
                                           SWS_BILINEAR, NULL, NULL, NULL),
                      *sc = sws_getContext(W, H, fmt, w, h, AV_PIX_FMT_BGR24, SWS_BILINEAR, NULL,
                                           NULL, NULL),
                      *su = sws_getContext(W / 2, H / 2, AV_PIX_FMT_GRAY8, w / 2, h / 2,
                                           AV_PIX_FMT_GRAY8, SWS_BILINEAR, NULL, NULL, NULL);
    {
        const uint8_t *sp[4] = {Y}, *spc[4] = {Y, U, V}, *spu[4] = {U};
        int ss[4] = {W}, ssc[4] = {W, W / 2, W / 2}, ssu[4] = {W / 2};
        uint8_t *dp[4] = {g}, *dpc[4] = {bgr}, *dpu[4] = {cb};
        int ds[4] = {w}, dsc[4] = {w * 3}, dsu[4] = {w / 2};
        sws_scale(sg, sp, ss, 0, H, dp, ds);
        sws_scale(sc, spc, ssc, 0, H, dpc, dsc);
        sws_scale(su, spu, ssu, 0, H / 2, dpu, dsu);
    }
    sws_freeContext(sg), sws_freeContext(sc), sws_freeContext(su);
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    p.color = 1;
    p.chroma = 1;
    assert_int_equal(vg_source_open(&s, clip, &p, NULL), 0);
    assert_int_equal(vg_source_read(s, &f), 0);
    assert_int_equal(f->image.w, w);
    assert_int_equal(f->image.h, h);
    int gmax = 0, cmax = 0, umax = 0;
    long gsame = 0, csum = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int d = abs(vg_image_row(&f->image, y)[x] - g[y * w + x]);
            gmax = d > gmax ? d : gmax;
            gsame += d == 0;
            for (int k = 0; k < 3; k++) {
                int e = abs(vg_image_row(&f->color, y)[3 * x + k] - bgr[(y * w + x) * 3 + k]);
                cmax = e > cmax ? e : cmax;
                csum += e;
            }
            if (x < w / 2 && y < h / 2) {
                int u = abs(vg_image_row(&f->cb, y)[x] - cb[y * (w / 2) + x]);
                umax = u > umax ? u : umax;
            }
        }
    fprintf(stderr,
            "%s: grey within %d (%.1f %% equal), BGR within %d (mean %.2f), Cb within %d of "
            "libswscale's bilinear\n",
            av_get_pix_fmt_name(fmt), gmax, 100.0 * gsame / (w * h), cmax,
            (double)csum / (3.0 * w * h), umax);
    assert_true(gmax <= 1);
    assert_true(gsame >= 0.8 * w * h);
    assert_true(cmax <= 6);
    assert_true(csum <= 2.0 * 3 * w * h);
    assert_true(umax <= 1);
    vg_frame_unref(&f);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
    free(g), free(bgr), free(cb), free(yuv);
}

static void test_halving_matches_swscale(void **state)
{
    (void)state;
    const char *vt = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    FILE *t = fopen(vt, "rb");
    if (!t) skip();
    fclose(t);
    /* limited range, lossless; full range, MJPEG (the reference: what FFmpeg decodes) */
    const struct {
        const char *name, *pix, *codec;
        enum AVPixelFormat fmt;
    } cases[] = {{"hd.mkv", "yuv420p", "ffv1", AV_PIX_FMT_YUV420P},
                 {"hdj.avi", "yuvj420p", "mjpeg -q:v 3", AV_PIX_FMT_YUVJ420P}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char clip[700], raw[720], cmd[2600];
        snprintf(clip, sizeof(clip), "%s/%s", dir, cases[k].name);
        snprintf(raw, sizeof(raw), "%s.yuv", clip);
        snprintf(cmd, sizeof(cmd),
                 "ffmpeg -nostdin -loglevel error -y -ss 3 -i '%s' -frames:v 1 -vf scale=1280:720 "
                 "-pix_fmt %s -c:v %s '%s' && ffmpeg -nostdin -loglevel error -y -i '%s' -f "
                 "rawvideo -pix_fmt %s '%s'",
                 vt, cases[k].pix, cases[k].codec, clip, clip, cases[k].pix, raw);
        assert_int_equal(tu_run(cmd), 0);
        check_halving(clip, raw, cases[k].fmt);
    }
}

static void test_image_sequence(void **state)
{
    char pattern[700], cmd[1600];
    vg_source_params_t p = params();
    vg_source_t *s;
    int frames;
    double last = -1;
    (void)state;
    snprintf(pattern, sizeof(pattern), "%s/in%%06d.jpg", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -c:v mjpeg -q:v 2 -start_number 1 '%s'",
             lossless, pattern);
    assert_int_equal(tu_run(cmd), 0);
    assert_int_equal(vg_source_open(&s, pattern, &p, NULL), 0);
    assert_int_equal(read_all(s, &frames, &last), VG_EOF);
    assert_int_equal(frames, 50);
    assert_true(fabs(last - 49 / 25.0) < 1e-6);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_from_to(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    int n = 0;
    (void)state;
    p.from = 1.0;
    p.to = 1.5;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    int64_t first = -1, last = -1;
    while (vg_source_read(s, &f) == 0) {
        if (first < 0) first = f->index;
        last = f->index;
        assert_true(f->t >= 1.0 - 1e-9 && f->t <= 1.5 + 1e-9);
        n++;
        vg_frame_unref(&f);
    }
    assert_int_equal(first, 25); /* the index counts from the input's start */
    assert_int_equal(last, 37);
    assert_int_equal(n, 13);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

/* input.max_rate: at most that many frames a second delivered, evenly; the index still counts
 * every decoded frame; the others are counted as skipped */
static void test_max_rate(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    int n = 0;
    int64_t prev_index = -1;
    double prev_t = -1;
    (void)state;
    p.max_rate = 10;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    while (vg_source_read(s, &f) == 0) {
        if (prev_index >= 0) {
            assert_true(f->index - prev_index == 2 || f->index - prev_index == 3);
            assert_true(f->t - prev_t > 0.07 && f->t - prev_t < 0.13);
        }
        prev_index = f->index, prev_t = f->t;
        n++;
        vg_frame_unref(&f);
    }
    assert_true(n >= 19 && n <= 21); /* 2 s at 10 a second, of 50 decoded */
    vg_source_stats_t st;
    vg_source_get_stats(s, &st);
    assert_int_equal(st.frames, n);
    assert_int_equal(st.skipped, 50 - n);
    vg_source_free(&s);
    /* a rate above the input's: every frame */
    p.max_rate = 100;
    assert_int_equal(vg_source_open(&s, mpeg4, &p, NULL), 0);
    for (n = 0; vg_source_read(s, &f) == 0; n++) vg_frame_unref(&f);
    assert_int_equal(n, 50);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_missing_timestamps_and_vfr(void **state)
{
    char path[700], cmd[1600];
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    double prev = -1;
    int n = 0;
    (void)state;
    /* An elementary stream carries no timestamps: times come from the frame rate. */
    snprintf(path, sizeof(path), "%s/raw.m4v", dir);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -loglevel error -y -i '%s' -c:v mpeg4 -f m4v '%s'",
             lossless, path);
    assert_int_equal(tu_run(cmd), 0);
    assert_int_equal(vg_source_open(&s, path, &p, NULL), 0);
    while (vg_source_read(s, &f) == 0) {
        assert_true(f->t > prev);
        assert_true(fabs(f->t - n / 25.0) < 0.021);
        prev = f->t;
        n++;
        vg_frame_unref(&f);
    }
    assert_int_equal(n, 50);
    vg_source_free(&s);
    /* Variable frame rate: a one-second gap after frame 20 is kept, not smoothed away. */
    snprintf(path, sizeof(path), "%s/vfr.mkv", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -y -i '%s' -vf \"setpts='(N/25+gte(N,20))/TB'\" "
             "-fps_mode passthrough -c:v ffv1 '%s'",
             lossless, path);
    assert_int_equal(tu_run(cmd), 0);
    assert_int_equal(vg_source_open(&s, path, &p, NULL), 0);
    n = 0;
    while (vg_source_read(s, &f) == 0) {
        double expect = n / 25.0 + (n >= 20 ? 1.0 : 0.0);
        if (fabs(f->t - expect) > 0.002) fail_msg("frame %d at %f, expected %f", n, f->t, expect);
        n++;
        vg_frame_unref(&f);
    }
    assert_int_equal(n, 50);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_loop(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    double prev = -1;
    (void)state;
    p.loop = 1;
    assert_int_equal(vg_source_open(&s, lossless, &p, NULL), 0);
    for (int k = 0; k < 120; k++) {
        assert_int_equal(vg_source_read(s, &f), 0);
        assert_int_equal(f->index, k);
        assert_true(f->t > prev);
        assert_int_equal(f->discontinuity, k == 50 || k == 100);
        prev = f->t;
        vg_frame_unref(&f);
    }
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

/* Opening @path must fail with @code and a message containing @what and the path. */
static void expect_open_error(const char *path, int code, const char *what)
{
    vg_source_params_t p = params();
    vg_source_t *s = NULL;
    tu_log_capture();
    int ret = vg_source_open(&s, path, &p, NULL);
    if (ret != code || !strstr(tu_log_text(), what) || !strstr(tu_log_text(), path))
        fail_msg("%s: got %d (%s), log: %s", path, ret, vg_strerror(ret), tu_log_text());
    assert_null(s);
    tu_log_release();
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_bad_files(void **state)
{
    char path[700], cmd[1600];
    (void)state;
    snprintf(path, sizeof(path), "%s/none.mp4", dir);
    expect_open_error(path, VG_ENOENT, "no such file");
    expect_open_error(dir, VG_EINVAL, "is a directory");
    snprintf(path, sizeof(path), "%s/empty.mp4", dir);
    tu_write_file(path, "", 0);
    expect_open_error(path, VG_EFORMAT, "empty");
    snprintf(path, sizeof(path), "%s/garbage.mkv", dir);
    {
        char junk[65536];
        for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (char)(i * 7919 >> 3);
        tu_write_file(path, junk, sizeof(junk));
    }
    expect_open_error(path, VG_EFORMAT, "not a video FFmpeg can read");
    snprintf(path, sizeof(path), "%s/nothing/in%%06d.jpg", dir);
    expect_open_error(path, VG_ENOVIDEO, "matches no file");
    /* audio only */
    snprintf(path, sizeof(path), "%s/tone.wav", dir);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=d=1 '%s'",
             path);
    assert_int_equal(tu_run(cmd), 0);
    expect_open_error(path, VG_ENOVIDEO, "no video stream");
    /* a codec this FFmpeg cannot decode: the AVI's fourcc rewritten to an unknown one */
    size_t len;
    char *avi = tu_read_file(mpeg4, &len);
    assert_non_null(avi);
    for (size_t i = 0; i + 4 <= len && i < 8192; i++)
        if (!memcmp(avi + i, "FMP4", 4)) memcpy(avi + i, "QQZ9", 4);
    snprintf(path, sizeof(path), "%s/unknown.avi", dir);
    tu_write_file(path, avi, len);
    free(avi);
    expect_open_error(path, VG_ENOCODEC, "no decoder");
}

static void test_truncated(void **state)
{
    char path[700];
    size_t len;
    vg_source_params_t p = params();
    vg_source_t *s;
    int frames, ret;
    (void)state;
    char *data = tu_read_file(lossless, &len);
    snprintf(path, sizeof(path), "%s/cut.mkv", dir);
    tu_write_file(path, data, len / 2);
    free(data);
    tu_log_capture();
    assert_int_equal(vg_source_open(&s, path, &p, NULL), 0);
    ret = read_all(s, &frames, NULL);
    assert_int_equal(ret, VG_ETRUNCATED);
    assert_true(frames >= 15 && frames < 50); /* what was there was delivered */
    assert_non_null(strstr(tu_log_text(), "truncated"));
    assert_non_null(strstr(tu_log_text(), "cut.mkv"));
    tu_log_release();
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_corrupt(void **state)
{
    char path[700];
    size_t len;
    vg_source_params_t p = params();
    vg_source_t *s;
    int frames, ret;
    (void)state;
    char *data = tu_read_file(lossless, &len);
    /* damage the middle half of the file, keeping its size and container header */
    uint32_t x = 12345;
    for (size_t i = len / 4; i < 3 * len / 4; i += 3) {
        x = x * 1664525u + 1013904223u;
        data[i] = (char)(x >> 24);
    }
    snprintf(path, sizeof(path), "%s/damaged.mkv", dir);
    tu_write_file(path, data, len);
    free(data);
    tu_log_capture();
    ret = vg_source_open(&s, path, &p, NULL);
    assert_int_equal(ret, 0);
    ret = read_all(s, &frames, NULL);
    if (ret != VG_ECORRUPT && ret != VG_ETRUNCATED)
        fail_msg("damaged file read to the end: %d (%s) after %d frames", ret, vg_strerror(ret),
                 frames);
    assert_non_null(strstr(tu_log_text(), "damaged.mkv"));
    tu_log_release();
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_interrupt(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s;
    vg_frame_t *f;
    (void)state;
    assert_int_equal(vg_source_open(&s, lossless, &p, NULL), 0);
    vg_source_interrupt(s);
    assert_int_equal(vg_source_read(s, &f), VG_ESTOPPED);
    vg_source_free(&s);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_kind_of(void **state)
{
    (void)state;
    assert_int_equal(vg_source_kind_of("a.mp4"), VG_SOURCE_FILE);
    assert_int_equal(vg_source_kind_of("rtsp://cam/1"), VG_SOURCE_NETWORK);
    assert_int_equal(vg_source_kind_of("https://x/y.m3u8"), VG_SOURCE_NETWORK);
    assert_int_equal(vg_source_kind_of("d/in%06d.jpg"), VG_SOURCE_SEQUENCE);
    assert_int_equal(vg_source_kind_of("/dev/video0"), VG_SOURCE_DEVICE);
    assert_int_equal(vg_source_kind_of("file:///tmp/a.mp4"), VG_SOURCE_FILE);
}

static void test_missing_device(void **state)
{
    vg_source_params_t p = params();
    vg_source_t *s = NULL;
    (void)state;
    p.reconnect = 0;
    tu_log_capture();
    assert_int_equal(vg_source_open(&s, "/dev/video97", &p, NULL), VG_EUNREACHABLE);
    assert_non_null(strstr(tu_log_text(), "/dev/video97: cannot open the stream"));
    tu_log_release();
    vg_opt_free(&p, vg_source_option_group.options);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_pixels_and_time),
        cmocka_unit_test(test_scaling_and_color),
        cmocka_unit_test(test_halving_matches_swscale),
        cmocka_unit_test(test_image_sequence),
        cmocka_unit_test(test_from_to),
        cmocka_unit_test(test_max_rate),
        cmocka_unit_test(test_missing_timestamps_and_vfr),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_missing_device),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
