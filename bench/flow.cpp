/*
 * bench/flow — vigie's optical flow against OpenCV 4.6's DISOpticalFlow, preset ULTRAFAST.
 *
 * OpenCV is a baseline only (Debian's libopencv-dev). Both run on the same generated pairs, one
 * thread each (cv::setNumThreads(1); vigie without a pool): a real picture (frame 100 of
 * vtest.avi, 640x480 grey) and the same picture warped by a known motion field, so the true
 * flow is known at every pixel:
 *   shift      translation (3.3, -1.7) px
 *   similarity zoom 2 %, rotation 1 degree about the centre, translation (3.3, -1.7)
 *   large      translation (9.6, 5.3) px
 *   object     the background still, a 160x120 block moved by (6, 3) px
 * Each method is timed over R calls per pair (best of 3); average endpoint error (EPE) over the
 * picture less a 16-pixel border, from each method's dense flow. Prints `name: value unit`
 * lines and the speed ratio.
 *
 * usage: bench-flow [--runs R] [INPUT]   (default vtest.avi from opencv-doc)
 */
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <vigie/vigie.h>

static double now_ms()
{
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static bool load_frame(const char *url, int index, cv::Mat &out)
{
    vg_source_params_t p;
    std::memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_source_option_group.options);
    p.width = 640;
    p.height = 480;
    vg_source_t *s = nullptr;
    int ret = vg_source_open(&s, url, &p, nullptr);
    vg_opt_free(&p, vg_source_option_group.options);
    if (ret < 0) return false;
    vg_frame_t *f;
    bool ok = false;
    while (vg_source_read(s, &f) == 0) {
        if (f->index == index) {
            out.create(f->image.h, f->image.w, CV_8U);
            for (int y = 0; y < f->image.h; y++)
                std::memcpy(out.ptr(y), vg_image_row(&f->image, y), (size_t)f->image.w);
            ok = true;
        }
        vg_frame_unref(&f);
        if (ok) break;
    }
    vg_source_free(&s);
    return ok;
}

struct Pair {
    const char *name;
    cv::Mat a, b, fx, fy; /* true flow: a(p) is at p + f(p) in b */
};

/* b(p + f(p)) = a(p): b sampled back through the inverse of the (smooth) motion. */
static Pair make_pair(const char *name, const cv::Mat &a, int kind)
{
    Pair P;
    P.name = name;
    P.a = a;
    int w = a.cols, h = a.rows;
    cv::Mat mapx(h, w, CV_32F), mapy(h, w, CV_32F);
    P.fx.create(h, w, CV_32F);
    P.fy.create(h, w, CV_32F);
    double cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = 0, v = 0, bx = x, by = y; /* bx, by: where b's pixel (x, y) comes from */
            if (kind == 0) u = 3.3, v = -1.7;
            if (kind == 2) u = 9.6, v = 5.3;
            if (kind == 3 && x >= 240 && x < 400 && y >= 180 && y < 300) u = 6, v = 3;
            if (kind == 1) {
                double s = 1.02, th = M_PI / 180, dx = x - cx, dy = y - cy;
                u = cx + s * (cos(th) * dx - sin(th) * dy) + 3.3 - x;
                v = cy + s * (sin(th) * dx + cos(th) * dy) - 1.7 - y;
                /* the inverse similarity for the sampling map */
                double ex = x - 3.3 - cx, ey = y + 1.7 - cy;
                bx = cx + (cos(th) * ex + sin(th) * ey) / s;
                by = cy + (-sin(th) * ex + cos(th) * ey) / s;
            } else if (kind == 3) {
                /* b: the block drawn moved, the background elsewhere */
                bool in = x - 6 >= 240 && x - 6 < 400 && y - 3 >= 180 && y - 3 < 300;
                bx = in ? x - 6 : x;
                by = in ? y - 3 : y;
            } else {
                bx = x - u;
                by = y - v;
            }
            P.fx.at<float>(y, x) = (float)u;
            P.fy.at<float>(y, x) = (float)v;
            mapx.at<float>(y, x) = (float)bx;
            mapy.at<float>(y, x) = (float)by;
        }
    cv::remap(a, P.b, mapx, mapy, cv::INTER_LINEAR, cv::BORDER_REFLECT);
    return P;
}

static double epe(const Pair &P, const float *flow, size_t stride)
{
    double sum = 0;
    long n = 0;
    for (int y = 16; y < P.a.rows - 16; y++)
        for (int x = 16; x < P.a.cols - 16; x++) {
            const float *f = flow + (size_t)y * stride + 2 * (size_t)x;
            sum += std::hypot(f[0] - P.fx.at<float>(y, x), f[1] - P.fy.at<float>(y, x));
            n++;
        }
    return sum / n;
}

int main(int argc, char **argv)
{
    int runs = 30;
    const char *input = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::atoi(argv[++i]);
        else
            input = argv[i];
    }
    cv::setNumThreads(1);
    vg_log_set_level(VG_LOG_ERROR);
    cv::Mat a;
    if (!load_frame(input, 100, a)) {
        std::fprintf(stderr, "bench-flow: cannot read frame 100 of %s\n", input);
        return 1;
    }
    std::vector<Pair> pairs = {make_pair("shift", a, 0), make_pair("similarity", a, 1),
                               make_pair("large", a, 2), make_pair("object", a, 3)};
    vg_flow_t *vf = nullptr;
    if (vg_flow_new(&vf, nullptr, a.cols, a.rows) < 0) return 1;
    auto dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_ULTRAFAST);
    std::vector<float> dense((size_t)a.cols * a.rows * 2);
    double tv_all = 0, td_all = 0, ev_all = 0, ed_all = 0;
    std::printf("input: %s frame 100, %dx%d grey; one thread each; best of 3 x %d calls\n", input,
                a.cols, a.rows, runs);
    for (const Pair &P : pairs) {
        vg_image_t ia = {P.a.cols, P.a.rows, (ptrdiff_t)P.a.step, VG_PIX_GRAY8, P.a.data};
        vg_image_t ib = {P.b.cols, P.b.rows, (ptrdiff_t)P.b.step, VG_PIX_GRAY8, P.b.data};
        cv::Mat flow;
        double tv = 1e30, td = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now_ms();
            for (int i = 0; i < runs; i++) vg_flow_run(vf, &ia, &ib, nullptr);
            tv = std::min(tv, (now_ms() - t0) / runs);
            t0 = now_ms();
            for (int i = 0; i < runs; i++) dis->calc(P.a, P.b, flow);
            td = std::min(td, (now_ms() - t0) / runs);
        }
        vg_flow_dense(vf, dense.data(), (ptrdiff_t)a.cols * 2);
        double ev = epe(P, dense.data(), (size_t)a.cols * 2);
        double ed = epe(P, (const float *)flow.data, flow.step / sizeof(float));
        std::printf("%s: vigie %.2f ms EPE %.3f px | DIS ultrafast %.2f ms EPE %.3f px | speed "
                    "%.2fx\n",
                    P.name, tv, ev, td, ed, td / tv);
        tv_all += tv, td_all += td, ev_all += ev, ed_all += ed;
    }
    int n = (int)pairs.size();
    std::printf("flow_ms_vigie: %.2f ms\nflow_ms_dis_ultrafast: %.2f ms\nflow_speed_ratio: %.2f x\n"
                "flow_epe_vigie: %.3f px\nflow_epe_dis_ultrafast: %.3f px\n",
                tv_all / n, td_all / n, td_all / tv_all, ev_all / n, ed_all / n);
    vg_flow_free(&vf);
    return 0;
}
