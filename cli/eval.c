/*
 * vigie eval — measure analysers against ground truth, on the same harness for every mode.
 *
 *   vigie eval bgs --input PATTERN --truth PATTERN [--roi FILE] [--range A:B] [--set K=V]...
 *   vigie eval frames --truth LABELS.csv [--scene FILE] ...   (cli/eval_frames.c)
 *   vigie eval events --truth INTERVALS.csv EVENTS.jsonl       (cli/eval_events.c)
 *   vigie eval count --truth POINTS.csv IMAGE...               (cli/eval_count.c)
 *   vigie eval boxes --truth BOXES EVENTS.jsonl                 (cli/eval_boxes.c)
 *
 * bgs: runs the motion core's background model (and mask cleanup) over every input frame from
 * the first (the model needs its warm-up), and scores frames A..B (1-based, inclusive, CDnet's
 * numbering; default: temporalROI.txt beside the truth folder, else all) inside the ROI image's
 * non-zero pixels. Ground truth levels as CDnet defines them: 255 moving (positive), 0 static and
 * 50 shadow (negative), 85 outside the ROI and 170 unknown (not scored). vigie's positives are
 * foreground and static foreground; shadows are background. Prints CDnet's figures and speeds.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "cli.h"

typedef struct counts {
    int64_t tp, fp, fn, tn;
} counts_t;

static int open_plain(vg_source_t **out, const char *url)
{
    vg_source_params_t p;
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_source_option_group.options);
    p.width = 0; /* native size: truth is pixel-exact */
    int ret = vg_source_open(out, url, &p, NULL);
    vg_opt_free(&p, vg_source_option_group.options);
    return ret;
}

static void eval_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigie eval bgs --input PATTERN --truth PATTERN [--roi FILE] [--range A:B]\n"
        "                      [--set motion.OPTION=VALUE]...\n\n"
        "Scores the background model against CDnet-style ground truth: recall,\n"
        "specificity, FPR, FNR, PWC, precision, F-measure, and frames per second.\n"
        "  --input   the input frames (a video or a pattern such as input/in%%06d.jpg)\n"
        "  --truth   ground-truth masks (e.g. groundtruth/gt%%06d.png), numbered like the input\n"
        "  --roi     region-of-interest image (non-zero = scored)\n"
        "  --range   first and last scored frame, 1-based inclusive (default: the\n"
        "            temporalROI.txt beside the truth folder, else every frame)\n"
        "  --set     any motion.* option (vigie options motion)\n"
        "\nOther modes: vigie eval frames|events|count|boxes|images --help\n");
}

static int read_range(const char *truth, int *a, int *b)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s", truth);
    char *d = dirname(dir);
    snprintf(path, sizeof(path), "%s/../temporalROI.txt", d);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%d %d", a, b) == 2;
    fclose(f);
    return ok ? 0 : -1;
}

static int eval_bgs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"truth", required_argument, NULL, 't'},
        {"roi", required_argument, NULL, 'r'},
        {"range", required_argument, NULL, 'R'},
        {"set", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *input = NULL, *truth = NULL, *roi_path = NULL;
    int first = 0, last = 0, c, code = 0, ret;
    char err[1024] = "";
    vg_settings_t *set = NULL;
    vg_source_t *in = NULL, *gt = NULL, *roisrc = NULL;
    vg_frame_t *roi = NULL, *f = NULL, *g = NULL, *raw = NULL, *clean = NULL;
    vg_bgs_t *bgs = NULL;
    vg_bgs_params_t bp;
    counts_t n = {0, 0, 0, 0};

    vg_bgs_params_default(&bp);
    if (vg_settings_new(&set) < 0) return EXIT_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:t:r:R:S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            input = optarg;
            break;
        case 't':
            truth = optarg;
            break;
        case 'r':
            roi_path = optarg;
            break;
        case 'R':
            if (sscanf(optarg, "%d:%d", &first, &last) != 2 || first < 1 || last < first) {
                fprintf(stderr, "vigie eval: --range %s: expected A:B with 1 <= A <= B\n", optarg);
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case 'S':
            if (cli_add_set(set, optarg) < 0) {
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case 'h':
            eval_usage(stdout);
            goto end;
        default:
            eval_usage(stderr);
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (!input || !truth) {
        fprintf(stderr, "vigie eval bgs: --input and --truth are required\n");
        eval_usage(stderr);
        code = EXIT_USAGE;
        goto end;
    }
    if (vg_settings_apply(set, &vg_bgs_option_group, &bp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    if (!first && read_range(truth, &first, &last) == 0)
        fprintf(stderr, "vigie eval: scoring frames %d..%d (temporalROI.txt)\n", first, last);
    if ((ret = open_plain(&in, input)) < 0 || (ret = open_plain(&gt, truth)) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    if (roi_path) {
        if (open_plain(&roisrc, roi_path) < 0 || vg_source_read(roisrc, &roi) < 0) {
            fprintf(stderr, "vigie: error: %s: cannot read the ROI image\n", roi_path);
            code = EXIT_INPUT;
            goto end;
        }
    }
    double model_s = 0, t0 = vg_clock_now(NULL);
    int64_t frames = 0, scored = 0;
    for (;;) {
        ret = vg_source_read(in, &f);
        if (ret == VG_EOF) break;
        if (ret < 0) {
            code = EXIT_INPUT;
            goto end;
        }
        if (!bgs) {
            if (vg_bgs_new(&bgs, f->image.w, f->image.h, &bp) < 0 ||
                vg_frame_new(&raw, f->image.w, f->image.h, 0) < 0 ||
                vg_frame_new(&clean, f->image.w, f->image.h, 0) < 0) {
                fprintf(stderr, "vigie: error: out of memory\n");
                code = EXIT_INPUT;
                goto end;
            }
            if (roi && (roi->image.w != f->image.w || roi->image.h != f->image.h)) {
                fprintf(stderr, "vigie: error: %s is %dx%d but the input is %dx%d\n", roi_path,
                        roi->image.w, roi->image.h, f->image.w, f->image.h);
                code = EXIT_USAGE;
                goto end;
            }
        }
        double m0 = vg_clock_now(NULL);
        vg_bgs_update(bgs, &f->image, f->t, &raw->image, NULL);
        const vg_image_t *mask = &raw->image;
        if (bp.clean) {
            vg_mask_clean(&clean->image, &raw->image, NULL);
            mask = &clean->image;
        }
        model_s += vg_clock_now(NULL) - m0;
        frames++;
        ret = vg_source_read(gt, &g);
        if (ret < 0) {
            fprintf(stderr, "vigie: error: %s: no truth for frame %lld\n", truth,
                    (long long)f->index + 1);
            code = EXIT_INPUT;
            goto end;
        }
        if (g->image.w != f->image.w || g->image.h != f->image.h) {
            fprintf(stderr, "vigie: error: truth is %dx%d but the input is %dx%d\n", g->image.w,
                    g->image.h, f->image.w, f->image.h);
            code = EXIT_USAGE;
            goto end;
        }
        int64_t num = f->index + 1;
        if (!first || (num >= first && num <= last)) {
            scored++;
            for (int y = 0; y < f->image.h; y++) {
                const uint8_t *m = vg_image_row(mask, y), *t = vg_image_row(&g->image, y);
                const uint8_t *r = roi ? vg_image_row(&roi->image, y) : NULL;
                for (int x = 0; x < f->image.w; x++) {
                    if (r && !r[x]) continue;
                    int tv = t[x];
                    if (tv > 70 && tv <= 200) continue; /* 85 outside ROI, 170 unknown */
                    int truth_fg = tv > 200, ours = m[x] >= VG_MASK_STATIC;
                    n.tp += truth_fg && ours;
                    n.fn += truth_fg && !ours;
                    n.fp += !truth_fg && ours;
                    n.tn += !truth_fg && !ours;
                }
            }
        }
        vg_frame_unref(&f);
        vg_frame_unref(&g);
        if (last && num >= last) break;
    }
    double wall = vg_clock_now(NULL) - t0;
    double re = n.tp + n.fn ? (double)n.tp / (n.tp + n.fn) : 0;
    double sp = n.tn + n.fp ? (double)n.tn / (n.tn + n.fp) : 0;
    double pr = n.tp + n.fp ? (double)n.tp / (n.tp + n.fp) : 0;
    double all = (double)(n.tp + n.fp + n.fn + n.tn);
    printf("frames: %lld (scored %lld)\n", (long long)frames, (long long)scored);
    printf("recall: %.4f\n", re);
    printf("specificity: %.4f\n", sp);
    printf("fpr: %.4f\n", 1 - sp);
    printf("fnr: %.4f\n", 1 - re);
    printf("pwc: %.4f %%\n", all > 0 ? 100.0 * (n.fn + n.fp) / all : 0);
    printf("precision: %.4f\n", pr);
    printf("f_measure: %.4f\n", pr + re > 0 ? 2 * pr * re / (pr + re) : 0);
    printf("model_fps: %.1f frames/s (background model and cleanup, one thread)\n",
           model_s > 0 ? frames / model_s : 0);
    printf("overall_fps: %.1f frames/s (with decoding and scoring)\n",
           wall > 0 ? frames / wall : 0);
    if (!scored) {
        fprintf(stderr, "vigie: error: no frame was scored: check --range\n");
        code = EXIT_USAGE;
    }
end:
    vg_frame_unref(&f);
    vg_frame_unref(&g);
    vg_frame_unref(&raw);
    vg_frame_unref(&clean);
    vg_frame_unref(&roi);
    vg_bgs_free(&bgs);
    vg_source_free(&in);
    vg_source_free(&gt);
    vg_source_free(&roisrc);
    vg_settings_free(&set);
    return code;
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        eval_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "bgs")) return eval_bgs(argc - 1, argv + 1);
    if (!strcmp(argv[1], "frames")) return eval_frames(argc - 1, argv + 1);
    if (!strcmp(argv[1], "events")) return eval_events(argc - 1, argv + 1);
    if (!strcmp(argv[1], "count")) return eval_count(argc - 1, argv + 1);
    if (!strcmp(argv[1], "boxes")) return eval_boxes(argc - 1, argv + 1);
    if (!strcmp(argv[1], "images")) return eval_images(argc - 1, argv + 1);
    fprintf(stderr,
            "vigie eval: unknown mode '%s' (modes: bgs, frames, events, count, boxes, images)\n",
            argv[1]);
    return EXIT_USAGE;
}
