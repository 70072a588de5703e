/*
 * bench/egomotion — the camera's own motion (issue #28): how well it is measured, what it costs.
 *
 * For each input (default: vtest.avi, the AVSS platform, CDnet highway) and each known motion of
 * tests/support/motions.c (shake ±5 px at 2 Hz, slow pan 20 px/s over ±40 px, zoom to 1.08 and
 * back, a drone-like drift with ±2° of rotation), every frame of the input at the analysis size
 * (640 wide at most, grey) is resampled as the moving camera would have seen it (edges
 * replicated) and given to the estimator (src/vision/egomotion.c). Reported per input and motion:
 * the mean error of the estimate against the known motion (mean distance over a 9 x 9 grid of
 * the view, analysis pixels), its 95th percentile, the share of frames analysed (the rest held
 * as "moving"), and the estimator's time per frame against the motion stage alone (background
 * model, mask cleanup, objects: vg_bgs_update + vg_mask_clean + vg_components on the same
 * frames, same thread), with the resampling of the frame (grey and colour) the pipeline adds when
 * it compensates. One thread; best of R runs for the times.
 *
 * usage: bench-egomotion [--runs R] [--to SECONDS] [--motions a,b] [SHARED_DIR]
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

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 3;
    double to = 0;
    const char *shared = "../shared", *motions = "shake,pan,zoom,drift";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = atof(argv[++i]);
        else if (!strcmp(argv[i], "--motions") && i + 1 < argc)
            motions = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr,
                    "usage: bench-egomotion [--runs R] [--to S] [--motions a,b] [SHARED_DIR]\n");
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
           "+ resample ms/frame | motion stage ms/frame | estimate / motion stage |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof(inputs) / sizeof(*inputs); k++) {
        frames_t fr;
        fprintf(stderr, "loading %s...\n", inputs[k].url);
        if (load(&fr, inputs[k].url, to, inputs[k].rate) < 0) {
            fprintf(stderr, "bench-egomotion: cannot read %s: skipped\n", inputs[k].url);
            continue;
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
            double m[6], inv[6];
            if (mo_motion(mname, 0, fr.w, fr.h, m) < 0) {
                fprintf(stderr, "bench-egomotion: no motion called %s\n", mname);
                return 2;
            }
            /* the moved frames, once */
            vg_image_t *moved = malloc((size_t)fr.n * sizeof(*moved));
            double(*truth)[6] = malloc((size_t)fr.n * sizeof(*truth));
            double first_inv[6];
            mo_motion(mname, fr.t[0], fr.w, fr.h, m);
            mo_invert(m, first_inv);
            for (int i = 0; i < fr.n; i++) {
                moved[i] = fr.img[i];
                moved[i].data = malloc((size_t)fr.w * fr.h);
                mo_motion(mname, fr.t[i], fr.w, fr.h, truth[i]);
                mo_invert(truth[i], inv);
                mo_resample(moved[i].data, fr.w, fr.h, 1, &fr.img[i], inv, 0, 0);
                /* the first frame is the scene's view: the truth is relative to it */
                mo_compose(truth[i], first_inv, truth[i]);
            }
            double *err = malloc((size_t)fr.n * sizeof(double));
            double best_est = 1e9, best_warp = 1e9, sum = 0;
            int analysed = 0;
            vg_frame_t *out = NULL, *colour = NULL;
            if (vg_frame_new(&out, fr.w, fr.h, VG_FRAME_COLOR) < 0 ||
                vg_frame_new(&colour, fr.w, fr.h, VG_FRAME_COLOR) < 0)
                return 1;
            for (int r = 0; r < runs; r++) {
                vg_ego_t *e = NULL;
                vg_ego_result_t res;
                if (vg_ego_new(&e, NULL, fr.w, fr.h) < 0) return 1;
                double c0 = now_cpu(), tw = 0;
                analysed = 0, sum = 0;
                for (int i = 0; i < fr.n; i++) {
                    vg_ego_estimate(e, &moved[i], fr.t[i], &res, NULL);
                    err[i] = mo_error(res.m, truth[i], fr.w, fr.h);
                    sum += err[i];
                    analysed += res.state == VG_VIEW_STILL || res.state == VG_VIEW_COMPENSATED;
                    if (res.state == VG_VIEW_COMPENSATED) { /* what the pipeline adds */
                        double w0 = now_cpu();
                        vg_warp_affine(&out->image, &moved[i], res.m);
                        vg_warp_affine(&out->color, &colour->color, res.m);
                        tw += now_cpu() - w0;
                    }
                }
                double ms = ((now_cpu() - c0) - tw) * 1e3 / fr.n;
                if (ms < best_est) best_est = ms;
                if (tw * 1e3 / fr.n < best_warp) best_warp = tw * 1e3 / fr.n;
                vg_ego_free(&e);
            }
            qsort(err, (size_t)fr.n, sizeof(double), cmp_d);
            printf("| %s | %s | %d | %.3f | %.3f | %.1f %% | %.3f | %.3f | %.3f | %.2f |\n",
                   inputs[k].name, mname, fr.n, sum / fr.n, err[(int)(0.95 * (fr.n - 1))],
                   100.0 * analysed / fr.n, best_est, best_warp, best_motion,
                   best_est / best_motion);
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
