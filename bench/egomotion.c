/*
 * bench/egomotion — the camera's own motion (issue #28): how well it is measured, what it costs.
 *
 * For each input (default: vtest.avi, the AVSS platform, CDnet highway) and each known motion of
 * tests/support/motions.c (shake ±5 px at 2 Hz, slow pan 20 px/s over ±40 px, zoom to 1.08 and
 * back, a drone-like drift with ±2° of rotation), every frame of the input at the analysis size
 * (640 wide at most, grey) is resampled as the moving camera would have seen it (edges
 * replicated) and given to the estimator (src/vision/egomotion.c; camera_motion.mode moving, and
 * drone for "tilt", a drone camera's perspective change: a homography). Reported per input and
 * motion: the mean error of the estimate against the known motion (mean distance over a 9 x 9 grid
 * of the view, analysis pixels), its 95th percentile, the share of frames analysed (the rest held
 * as "moving"), and the estimator's time per frame against the motion stage alone (background
 * model, mask cleanup, objects: vg_bgs_update + vg_mask_clean + vg_components on the same
 * frames, same thread), with the resampling of the frame (grey and colour) the pipeline adds when
 * it compensates. One thread; best of R runs for the times.
 *
 * --dark F: night, the frames' light scaled by F with a sensor's noise (sigma 2 grey levels).
 *
 * usage: bench-egomotion [--runs R] [--to SECONDS] [--motions a,b] [--dark F] [SHARED_DIR]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/vigie.h>

#include "../tests/support/motions.h"

typedef struct frames {
    vg_image_t *img; /* grey, analysis size */
    double *t;
    int n, w, h;
} frames_t;

static int load(frames_t *fr, const char *url, double to, double rate)
{
    vg_source_params_t sp;
    vg_source_t *src = NULL;
    vg_frame_t *f = NULL;
    memset(fr, 0, sizeof(*fr));
    memset(&sp, 0, sizeof(sp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    sp.to = to;
    if (rate > 0) sp.rate = rate;
    if (vg_source_open(&src, url, &sp, NULL) < 0) return -1;
    while (vg_source_read(src, &f) == 0) {
        if (!(fr->n & (fr->n - 1)) || fr->n < 2) {
            size_t cap = fr->n < 2 ? 2 : (size_t)fr->n * 2;
            fr->img = realloc(fr->img, cap * sizeof(*fr->img));
            fr->t = realloc(fr->t, cap * sizeof(*fr->t));
        }
        vg_image_t *im = &fr->img[fr->n];
        *im = f->image;
        im->stride = im->w;
        im->data = malloc((size_t)im->w * im->h);
        for (int y = 0; y < im->h; y++)
            memcpy(im->data + (size_t)y * im->w, vg_image_row(&f->image, y), (size_t)im->w);
        fr->t[fr->n++] = f->t;
        fr->w = im->w, fr->h = im->h;
        vg_frame_unref(&f);
    }
    vg_source_free(&src);
    vg_opt_free(&sp, vg_source_option_group.options);
    return fr->n > 1 ? 0 : -1;
}

static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The mean share of foreground (moving or static) over frames @img (NULL entries skipped: held)
 * through the background model and the mask's cleanup at their defaults. */
static double fg_share(vg_image_t *const *img, const double *t, int n, int w, int h)
{
    vg_bgs_params_t bp;
    vg_bgs_t *b = NULL;
    vg_frame_t *mask = NULL, *clean = NULL;
    double sum = 0;
    int used = 0;
    vg_bgs_params_default(&bp);
    if (vg_bgs_new(&b, w, h, &bp) < 0 || vg_frame_new(&mask, w, h, 0) < 0 ||
        vg_frame_new(&clean, w, h, 0) < 0)
        exit(1);
    for (int i = 0; i < n; i++) {
        if (!img[i]) continue;
        vg_bgs_update(b, img[i], t[i], &mask->image, NULL);
        vg_mask_clean(&clean->image, &mask->image, NULL);
        if (t[i] - t[0] < 5) continue; /* the model's first seconds */
        int64_t c = 0;
        for (int y = 0; y < h; y++) {
            const uint8_t *r = vg_image_row(&clean->image, y);
            for (int x = 0; x < w; x++) c += r[x] >= VG_MASK_STATIC;
        }
        sum += (double)c / ((double)w * h);
        used++;
    }
    vg_bgs_free(&b);
    vg_frame_unref(&mask);
    vg_frame_unref(&clean);
    return used ? sum / used : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 3;
    double to = 0, dark = 0;
    const char *shared = "../shared", *motions = "shake,pan,zoom,drift,tilt";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = atof(argv[++i]);
        else if (!strcmp(argv[i], "--motions") && i + 1 < argc)
            motions = argv[++i];
        else if (!strcmp(argv[i], "--dark") && i + 1 < argc)
            dark = atof(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench-egomotion [--runs R] [--to S] [--motions a,b] [--dark F] "
                            "[SHARED_DIR]\n");
            return 2;
        } else
            shared = argv[i];
    }
    if (runs < 1) runs = 1;
    char avss[1024], cdnet[1024];
    snprintf(avss, sizeof(avss), "%s/data/aod-avss/AVSS_corto.mov", shared);
    snprintf(cdnet, sizeof(cdnet), "%s/data/cdnet-highway/input/in%%06d.jpg", shared);
    struct {
        const char *name, *url;
        double rate;
    } inputs[] = {
        {"vtest.avi", "/usr/share/doc/opencv-doc/examples/data/vtest.avi", 0},
        {"AVSS platform", avss, 0},
        {"CDnet highway", cdnet, 25},
    };
    printf("bench-egomotion: the camera's own motion measured against known motions; one thread, "
           "best of %d runs for times\n\n",
           runs);
    printf("| input | motion | frames | mean error px | p95 px | analysed | estimate ms/frame | "
           "+ resample ms/frame | motion stage ms/frame | estimate / motion stage | foreground "
           "still | moved | moved, compensated |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof(inputs) / sizeof(*inputs); k++) {
        frames_t fr;
        fprintf(stderr, "loading %s...\n", inputs[k].url);
        if (load(&fr, inputs[k].url, to, inputs[k].rate) < 0) {
            fprintf(stderr, "bench-egomotion: cannot read %s: skipped\n", inputs[k].url);
            continue;
        }
        if (dark > 0) { /* night: the light scaled down, a sensor's noise (sigma 2 levels) added */
            uint32_t seed = 1;
            for (int i = 0; i < fr.n; i++)
                for (size_t j = 0; j < (size_t)fr.w * fr.h; j++) {
                    double u = 0;
                    for (int q = 0; q < 4; q++) {
                        seed = seed * 1664525u + 1013904223u;
                        u += (seed >> 8) / 16777216.0;
                    }
                    double v = fr.img[i].data[j] * dark + (u - 2) * 2 * 1.732;
                    fr.img[i].data[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
                }
        }
        /* the motion stage alone, on the still frames: the named baseline */
        double best_motion = 1e9;
        {
            vg_bgs_params_t bp;
            vg_bgs_params_default(&bp);
            vg_frame_t *mask = NULL, *clean = NULL;
            if (vg_frame_new(&mask, fr.w, fr.h, 0) < 0 || vg_frame_new(&clean, fr.w, fr.h, 0) < 0)
                return 1;
            for (int r = 0; r < runs; r++) {
                vg_bgs_t *b = NULL;
                vg_objects_t objs;
                vg_objects_init(&objs);
                if (vg_bgs_new(&b, fr.w, fr.h, &bp) < 0) return 1;
                double c0 = now_cpu();
                for (int i = 0; i < fr.n; i++) {
                    vg_bgs_update(b, &fr.img[i], fr.t[i], &mask->image, NULL);
                    vg_mask_clean(&clean->image, &mask->image, NULL);
                    vg_components(&clean->image, NULL, (int)(0.0002 * fr.w * fr.h + 0.5), &objs);
                }
                double ms = (now_cpu() - c0) * 1e3 / fr.n;
                if (ms < best_motion) best_motion = ms;
                vg_bgs_free(&b);
                vg_objects_close(&objs);
            }
            vg_frame_unref(&mask);
            vg_frame_unref(&clean);
        }
        char list[256];
        snprintf(list, sizeof(list), "%s", motions);
        for (char *save = NULL, *mname = strtok_r(list, ",", &save); mname;
             mname = strtok_r(NULL, ",", &save)) {
            double m[9], inv[9];
            /* a drone's tilt is a homography: the estimator's drone mode; the others, moving */
            vg_ego_params_t ep;
            vg_ego_params_default(&ep);
            ep.mode = !strcmp(mname, "tilt") ? VG_CAMERA_DRONE : VG_CAMERA_MOVING;
            if (mo_motion_h(mname, 0, fr.w, fr.h, m) < 0) {
                fprintf(stderr, "bench-egomotion: no motion called %s\n", mname);
                return 2;
            }
            /* the moved frames, once */
            vg_image_t *moved = malloc((size_t)fr.n * sizeof(*moved));
            double(*truth)[9] = malloc((size_t)fr.n * sizeof(*truth));
            double first_inv[9];
            mo_motion_h(mname, fr.t[0], fr.w, fr.h, m);
            mo_invert_h(m, first_inv);
            for (int i = 0; i < fr.n; i++) {
                moved[i] = fr.img[i];
                moved[i].data = malloc((size_t)fr.w * fr.h);
                mo_motion_h(mname, fr.t[i], fr.w, fr.h, truth[i]);
                mo_invert_h(truth[i], inv);
                mo_resample_h(moved[i].data, fr.w, fr.h, 1, &fr.img[i], inv);
                /* the first frame is the scene's view: the truth is relative to it */
                mo_mul3(truth[i], first_inv, truth[i]);
            }
            double *err = malloc((size_t)fr.n * sizeof(double));
            double best_est = 1e9, best_warp = 1e9, sum = 0;
            int analysed = 0;
            vg_frame_t *out = NULL, *colour = NULL;
            if (vg_frame_new(&out, fr.w, fr.h, VG_FRAME_COLOR) < 0 ||
                vg_frame_new(&colour, fr.w, fr.h, VG_FRAME_COLOR) < 0)
                return 1;
            /* the foreground: the still frames, the moved ones as they are, and the moved ones
             * through the pipeline's compensation (resampled into the view, the uncovered part
             * from the last analysed frame; held frames not analysed) */
            vg_image_t **list_still = malloc((size_t)fr.n * sizeof(void *)),
                       **list_moved = malloc((size_t)fr.n * sizeof(void *)),
                       **list_comp = malloc((size_t)fr.n * sizeof(void *));
            vg_image_t *comp = malloc((size_t)fr.n * sizeof(*comp));
            {
                vg_ego_t *e = NULL;
                vg_ego_result_t res;
                const vg_image_t *last = NULL;
                if (vg_ego_new(&e, &ep, fr.w, fr.h) < 0) return 1;
                for (int i = 0; i < fr.n; i++) {
                    list_still[i] = &fr.img[i];
                    list_moved[i] = &moved[i];
                    comp[i] = moved[i];
                    comp[i].data = NULL;
                    list_comp[i] = NULL;
                    vg_ego_estimate(e, &moved[i], fr.t[i], &res, NULL);
                    if (res.state == VG_VIEW_STILL || !last) {
                        list_comp[i] = &moved[i];
                    } else if (res.state == VG_VIEW_COMPENSATED) {
                        comp[i].data = malloc((size_t)fr.w * fr.h);
                        memcpy(comp[i].data, last->data, (size_t)fr.w * fr.h);
                        vg_warp_perspective(&comp[i], &moved[i], res.h);
                        list_comp[i] = &comp[i];
                    }
                    if (list_comp[i]) last = list_comp[i];
                }
                vg_ego_free(&e);
            }
            double fg_still = fg_share(list_still, fr.t, fr.n, fr.w, fr.h);
            double fg_moved = fg_share(list_moved, fr.t, fr.n, fr.w, fr.h);
            double fg_comp = fg_share(list_comp, fr.t, fr.n, fr.w, fr.h);
            for (int i = 0; i < fr.n; i++) free(comp[i].data);
            free(comp), free(list_still), free(list_moved), free(list_comp);
            for (int r = 0; r < runs; r++) {
                vg_ego_t *e = NULL;
                vg_ego_result_t res;
                if (vg_ego_new(&e, &ep, fr.w, fr.h) < 0) return 1;
                double c0 = now_cpu(), tw = 0;
                analysed = 0, sum = 0;
                for (int i = 0; i < fr.n; i++) {
                    vg_ego_estimate(e, &moved[i], fr.t[i], &res, NULL);
                    err[i] = mo_error_h(res.h, truth[i], fr.w, fr.h);
                    sum += err[i];
                    analysed += res.state == VG_VIEW_STILL || res.state == VG_VIEW_COMPENSATED;
                    if (res.state == VG_VIEW_COMPENSATED) { /* what the pipeline adds */
                        double w0 = now_cpu();
                        vg_warp_perspective(&out->image, &moved[i], res.h);
                        vg_warp_perspective(&out->color, &colour->color, res.h);
                        tw += now_cpu() - w0;
                    }
                }
                double ms = ((now_cpu() - c0) - tw) * 1e3 / fr.n;
                if (ms < best_est) best_est = ms;
                if (tw * 1e3 / fr.n < best_warp) best_warp = tw * 1e3 / fr.n;
                vg_ego_free(&e);
            }
            qsort(err, (size_t)fr.n, sizeof(double), cmp_d);
            printf("| %s | %s | %d | %.3f | %.3f | %.1f %% | %.3f | %.3f | %.3f | %.2f | %.2f %% | "
                   "%.2f %% | %.2f %% |\n",
                   inputs[k].name, mname, fr.n, sum / fr.n, err[(int)(0.95 * (fr.n - 1))],
                   100.0 * analysed / fr.n, best_est, best_warp, best_motion,
                   best_est / best_motion, 100 * fg_still, 100 * fg_moved, 100 * fg_comp);
            fflush(stdout);
            for (int i = 0; i < fr.n; i++) free(moved[i].data);
            free(moved);
            free(truth);
            free(err);
            vg_frame_unref(&out);
            vg_frame_unref(&colour);
        }
        for (int i = 0; i < fr.n; i++) free(fr.img[i].data);
        free(fr.img);
        free(fr.t);
    }
    return 0;
}
