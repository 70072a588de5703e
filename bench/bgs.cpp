/*
 * bench/bgs — vigie's background model against OpenCV 4.6's BackgroundSubtractorMOG2.
 *
 * OpenCV is a baseline only (Debian's libopencv-dev), never a dependency of the library.
 * Both run on the same decoded frames, one thread each (cv::setNumThreads(1); vigie without a
 * pool):
 *  1. accuracy: the CDnet 2014 baseline/highway sequence at its own size (320x240), every frame
 *     through the model, F-measure over frames 470..1700 inside ROI.bmp as CDnet scores it
 *     (255 positive; 0 and 50 negative; 85 and 170 not scored; OpenCV's shadow label 127 and
 *     vigie's shadow label are background). OpenCV runs with its default parameters.
 *  2. speed: the highway sequence and vtest.avi, scaled to 640x360 grey, decoded once into
 *     memory; each model timed over all frames (best of R runs), vigie with its mask cleanup
 *     included. Prints ms per frame and the ratio.
 *
 * usage: bench-bgs [--runs R] [SHARED_DIR]   (default ../shared)
 */
#include <opencv2/core.hpp>
#include <opencv2/video/background_segm.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <vigie/vigie.h>

struct Seq {
    int w = 0, h = 0;
    std::vector<std::vector<uint8_t>> frames;
    std::vector<double> t;
};

static bool load(const std::string &url, int w, int h, Seq &seq)
{
    vg_source_params_t p;
    std::memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_source_option_group.options);
    p.width = w;
    p.height = h;
    p.upscale = 1;
    vg_source_t *s = nullptr;
    int ret = vg_source_open(&s, url.c_str(), &p, nullptr);
    vg_opt_free(&p, vg_source_option_group.options);
    if (ret < 0) return false;
    vg_frame_t *f;
    while (vg_source_read(s, &f) == 0) {
        seq.w = f->image.w;
        seq.h = f->image.h;
        std::vector<uint8_t> px((size_t)seq.w * seq.h);
        for (int y = 0; y < seq.h; y++)
            std::memcpy(&px[(size_t)y * seq.w], vg_image_row(&f->image, y), (size_t)seq.w);
        seq.frames.push_back(std::move(px));
        seq.t.push_back(f->t);
        vg_frame_unref(&f);
    }
    vg_source_free(&s);
    return !seq.frames.empty();
}

static double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static vg_image_t view(std::vector<uint8_t> &px, int w, int h)
{
    return vg_image_t{w, h, w, VG_PIX_GRAY8, px.data()};
}

/* Runs vigie over @seq; calls @sink(frame index, mask) for each frame. Returns seconds. */
template <class F> static double run_vigie(Seq &seq, F sink)
{
    vg_bgs_params_t bp;
    vg_bgs_params_default(&bp);
    vg_bgs_t *b = nullptr;
    if (vg_bgs_new(&b, seq.w, seq.h, &bp) < 0) return -1;
    std::vector<uint8_t> raw((size_t)seq.w * seq.h), clean((size_t)seq.w * seq.h);
    vg_image_t rv = view(raw, seq.w, seq.h), cv = view(clean, seq.w, seq.h);
    double t0 = now();
    for (size_t k = 0; k < seq.frames.size(); k++) {
        vg_image_t in = view(seq.frames[k], seq.w, seq.h);
        vg_bgs_update(b, &in, seq.t[k], &rv, nullptr);
        vg_mask_clean(&cv, &rv, nullptr);
        sink(k, clean.data());
    }
    double t = now() - t0;
    vg_bgs_free(&b);
    return t;
}

template <class F> static double run_opencv(Seq &seq, F sink)
{
    cv::Ptr<cv::BackgroundSubtractorMOG2> m = cv::createBackgroundSubtractorMOG2();
    cv::Mat fg;
    double t0 = now();
    for (size_t k = 0; k < seq.frames.size(); k++) {
        cv::Mat in(seq.h, seq.w, CV_8UC1, seq.frames[k].data());
        m->apply(in, fg);
        sink(k, fg.data);
    }
    return now() - t0;
}

struct Score {
    long long tp = 0, fp = 0, fn = 0, tn = 0;
    double f() const
    {
        double p = tp + fp ? (double)tp / (tp + fp) : 0, r = tp + fn ? (double)tp / (tp + fn) : 0;
        return p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
};

int main(int argc, char **argv)
{
    std::string shared = "../shared";
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::atoi(argv[++i]);
        else
            shared = argv[i];
    }
    cv::setNumThreads(1);
    vg_log_set_level(VG_LOG_ERROR);
    std::string hw = shared + "/data/cdnet-highway";
    std::string vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

    /* 1. accuracy on CDnet highway */
    Seq in, gt, roi;
    if (load(hw + "/input/in%06d.jpg", 0, 0, in) && load(hw + "/groundtruth/gt%06d.png", 0, 0, gt) &&
        load(hw + "/ROI.bmp", 0, 0, roi)) {
        int first = 470, last = 1700;
        FILE *f = std::fopen((hw + "/temporalROI.txt").c_str(), "r");
        if (f) {
            if (std::fscanf(f, "%d %d", &first, &last) != 2) first = 470, last = 1700;
            std::fclose(f);
        }
        auto scorer = [&](Score &s, int fg_min, int shadow) {
            return [&, fg_min, shadow](size_t k, const uint8_t *m) {
                int num = (int)k + 1;
                if (num < first || num > last || k >= gt.frames.size()) return;
                const uint8_t *t = gt.frames[k].data(), *r = roi.frames[0].data();
                for (size_t i = 0; i < gt.frames[k].size(); i++) {
                    if (!r[i] || (t[i] > 70 && t[i] <= 200)) continue;
                    bool truth = t[i] > 200, ours = m[i] >= fg_min && m[i] != shadow;
                    s.tp += truth && ours;
                    s.fn += truth && !ours;
                    s.fp += !truth && ours;
                    s.tn += !truth && !ours;
                }
            };
        };
        Score sv, so;
        run_vigie(in, scorer(sv, VG_MASK_STATIC, -1));
        run_opencv(in, scorer(so, 200, 127)); /* MOG2: 255 foreground, 127 shadow */
        std::printf("bgs.cdnet_highway.f_measure.vigie: %.4f (bar: >= 0.90)\n", sv.f());
        std::printf("bgs.cdnet_highway.f_measure.opencv_mog2: %.4f\n", so.f());
        std::printf("bgs.cdnet_highway.f_measure.vigie_minus_opencv: %+.4f (bar: >= 0)\n",
                    sv.f() - so.f());
    } else {
        std::fprintf(stderr, "bench-bgs: %s not found: accuracy skipped\n", hw.c_str());
    }

    /* 2. speed at 640x360 grey */
    struct Input {
        std::string name, url;
    } inputs[] = {{"cdnet_highway", hw + "/input/in%06d.jpg"}, {"vtest", vtest}};
    for (auto &inp : inputs) {
        Seq s;
        if (!load(inp.url, 640, 360, s)) {
            std::fprintf(stderr, "bench-bgs: %s not found: skipped\n", inp.url.c_str());
            continue;
        }
        auto none = [](size_t, const uint8_t *) {};
        double bv = 1e9, bo = 1e9;
        for (int r = 0; r < runs; r++) {
            bv = std::min(bv, run_vigie(s, none));
            bo = std::min(bo, run_opencv(s, none));
        }
        double n = (double)s.frames.size();
        std::printf("bgs.%s.640x360.vigie: %.3f ms/frame\n", inp.name.c_str(), 1e3 * bv / n);
        std::printf("bgs.%s.640x360.opencv_mog2: %.3f ms/frame\n", inp.name.c_str(), 1e3 * bo / n);
        std::printf("bgs.%s.640x360.speedup_vigie_over_opencv: %.2f (bar: >= 3)\n",
                    inp.name.c_str(), bo / bv);
        std::fflush(stdout);
    }
    return 0;
}
