/*
 * vigie eval count — people counted in pictures against annotated head points.
 *
 *   vigie eval count --truth POINTS.csv [--tiles N] [--no-refine] [--set detector.K=V]... IMAGE...
 *
 * POINTS.csv has a header and one row "image,x,y" per annotated head (the image's file name).
 * Each IMAGE is read at its own size; its people are counted as detector persons over N x N
 * overlapping tiles, refined by a pass over (N+1) x (N+1) finer tiles that adds only the small,
 * far people (vg_detector_run_refined; default N = 2; --no-refine: N x N only), merged; persons
 * scoring at least detector.score_min. A person whose box starts on the picture's top row is not
 * counted: the annotations mark heads, and that person's head is out of the picture. Printed: one
 * line per image (truth, count, error), then the mean absolute error and the mean squared error of
 * the per-image count, and the mean signed error (bias). An image without a row in POINTS.csv
 * counts as 0 people.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "cli.h"

#define MAX_IMAGES 4096

typedef struct truth {
    char name[256];
    int count;
} truth_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigie eval count --truth POINTS.csv [--tiles N] [--no-refine]\n"
            "                        [--set detector.K=V]... IMAGE...\n"
            "Counts the people of each picture (detector persons over N x N tiles, default 2,\n"
            "refined by (N+1) x (N+1) finer tiles for the small, far people unless --no-refine)\n"
            "against annotated head points (image,x,y): per-image error, MAE, MSE, bias.\n");
}

int eval_count(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'}, {"tiles", required_argument, NULL, 'n'},
        {"set", required_argument, NULL, 'S'},   {"no-refine", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *truth_path = NULL;
    int tiles = 2, refine = 1, c, code = 0, nt = 0;
    truth_t *truth = NULL;
    vg_settings_t *set = NULL;
    vg_detector_params_t dp;
    vg_detector_t *det = NULL;
    vg_detection_t *dets = NULL;
    char err[1024], line[1024];
    memset(&dp, 0, sizeof(dp));
    if (vg_settings_new(&set) < 0) return EXIT_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:n:S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            truth_path = optarg;
            break;
        case 'n':
            tiles = atoi(optarg);
            if (tiles < 1 || tiles > 8) {
                fprintf(stderr, "vigie eval count: --tiles: use 1 to 8\n");
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case 'r':
            refine = 0;
            break;
        case 'S':
            if (cli_add_set(set, optarg) < 0) {
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case 'h':
            usage(stdout);
            goto end;
        default:
            usage(stderr);
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (!truth_path || optind >= argc) {
        usage(stderr);
        code = EXIT_USAGE;
        goto end;
    }
    if (vg_opt_defaults(&dp, vg_detector_option_group.options) < 0 ||
        vg_settings_apply(set, &vg_detector_option_group, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    /* the annotation */
    FILE *f = fopen(truth_path, "r");
    if (!f) {
        fprintf(stderr, "vigie: error: %s: %s\n", truth_path, strerror(errno));
        code = EXIT_USAGE;
        goto end;
    }
    truth = calloc(MAX_IMAGES, sizeof(*truth));
    for (int ln = 1; truth && fgets(line, sizeof(line), f); ln++) {
        char name[256];
        double x, y;
        if (ln == 1 && !strncmp(line, "image", 5)) continue;
        if (line[0] == '\n' || line[0] == '#') continue;
        if (sscanf(line, "%255[^,],%lf,%lf", name, &x, &y) != 3) {
            fprintf(stderr, "vigie: error: %s:%d: expected image,x,y\n", truth_path, ln);
            fclose(f);
            code = EXIT_USAGE;
            goto end;
        }
        int k;
        for (k = 0; k < nt && strcmp(truth[k].name, name); k++)
            ;
        if (k == nt) {
            if (nt == MAX_IMAGES) {
                fprintf(stderr, "vigie: error: %s:%d: more than %d images annotated\n", truth_path,
                        ln, MAX_IMAGES);
                fclose(f);
                code = EXIT_USAGE;
                goto end;
            }
            snprintf(truth[nt++].name, sizeof(truth[0].name), "%s", name);
        }
        truth[k].count++;
    }
    fclose(f);
    if (!truth) {
        code = EXIT_INPUT;
        goto end;
    }
    if (vg_detector_new(&det, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    dets = malloc(sizeof(*dets) * 1000);
    if (!dets) {
        code = EXIT_INPUT;
        goto end;
    }
    double sae = 0, sse = 0, sbias = 0;
    int n = 0;
    for (int i = optind; i < argc; i++) {
        vg_source_params_t sp;
        vg_source_t *src = NULL;
        vg_frame_t *fr = NULL;
        char tmp[4096];
        memset(&sp, 0, sizeof(sp));
        vg_opt_defaults(&sp, vg_source_option_group.options);
        sp.width = 0; /* the picture's own size */
        sp.color = 1;
        int ret = vg_source_open(&src, argv[i], &sp, NULL);
        if (ret == 0) ret = vg_source_read(src, &fr);
        vg_opt_free(&sp, vg_source_option_group.options);
        if (ret < 0) {
            fprintf(stderr, "vigie: error: %s: cannot read the picture: %s\n", argv[i],
                    vg_strerror(ret));
            vg_source_free(&src);
            code = EXIT_INPUT;
            continue;
        }
        int got = refine ? vg_detector_run_refined(det, &fr->color, tiles, dets, 1000)
                         : vg_detector_run_tiled(det, &fr->color, tiles, dets, 1000),
            people = 0;
        if (got < 0) {
            fprintf(stderr, "vigie: error: %s: detection failed: %s\n", argv[i], vg_strerror(got));
            vg_frame_unref(&fr);
            vg_source_free(&src);
            code = EXIT_INPUT;
            continue;
        }
        for (int k = 0; k < got; k++) people += dets[k].cls == 0 && dets[k].y >= 1;
        snprintf(tmp, sizeof(tmp), "%s", argv[i]);
        const char *base = basename(tmp);
        int want = 0;
        for (int k = 0; k < nt; k++)
            if (!strcmp(truth[k].name, base)) want = truth[k].count;
        printf("%s: truth %d, counted %d, error %+d\n", base, want, people, people - want);
        sae += abs(people - want);
        sse += (double)(people - want) * (people - want);
        sbias += people - want;
        n++;
        vg_frame_unref(&fr);
        vg_source_free(&src);
    }
    if (n)
        printf("eval.count.mae: %.2f\neval.count.mse: %.2f\neval.count.bias: %+.2f\n"
               "eval.count.images: %d (tiles %dx%d%s, persons >= %.2f)\n",
               sae / n, sse / n, sbias / n, n, tiles, tiles, refine ? " refined" : "",
               dp.score_min);
end:
    free(dets);
    free(truth);
    vg_detector_free(&det);
    vg_opt_free(&dp, vg_detector_option_group.options);
    vg_settings_free(&set);
    return code;
}
