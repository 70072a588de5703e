/*
 * vigie eval count — people counted in pictures against annotated head points.
 *
 *   vigie eval count --truth POINTS.csv [--tiles N] [--no-refine] [--boxes DIR]
 *                    [--set detector.K=V]... IMAGE...
 *
 * POINTS.csv has a header and one row "image,x,y" per annotated head (the image's file name).
 * Each IMAGE is read at its own size; its people are counted as detector persons found over the
 * whole picture and N x N overlapping tiles, refined by a pass over (N+1) x (N+1) finer tiles that
 * adds only the small, far people (vg_detector_run_refined; default N = 2; --no-refine: no finer
 * pass), merged so that a person cut by tile edges counts once; persons scoring at least
 * detector.score_min. A person whose box starts on the picture's top row is not
 * counted: the annotations mark heads, and that person's head is out of the picture. Printed: one
 * line per image (truth, count, error), then the mean absolute error and the mean squared error of
 * the per-image count, and the mean signed error (bias). An image without a row in POINTS.csv
 * counts as 0 people. --boxes DIR writes DIR/IMAGE.svg per picture: the picture, each person
 * counted (a red box) and each annotated head (a green dot), to see where a count goes wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
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

/* DIR/NAME.svg: the picture @path with the persons of @dets and the heads annotated for @name. */
static void write_boxes(const char *dir, const char *path, const char *name, int w, int h,
                        const vg_detection_t *dets, int n, const char *truth_path)
{
    char out[4096], abs_path[PATH_MAX], line[1024];
    snprintf(out, sizeof(out), "%s/%s.svg", dir, name);
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "vigie: warning: %s: %s\n", out, strerror(errno));
        return;
    }
    if (!realpath(path, abs_path)) snprintf(abs_path, sizeof(abs_path), "%s", path);
    /* the path in an XML attribute and a URL: escaped, so that any file name draws */
    char href[3 * PATH_MAX];
    size_t hl = 0;
    for (const char *c = abs_path; *c && hl + 4 < sizeof(href); c++)
        if (isalnum((unsigned char)*c) || strchr("/._-", *c))
            href[hl++] = *c;
        else
            hl += (size_t)snprintf(href + hl, sizeof(href) - hl, "%%%02X", (unsigned char)*c);
    href[hl] = 0;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "xmlns:xlink=\"http://www.w3.org/1999/xlink\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\">\n<image xlink:href=\"file://%s\" width=\"%d\" height=\"%d\"/>\n",
            w, h, w, h, href, w, h);
    for (int k = 0; k < n; k++)
        if (dets[k].cls == 0 && dets[k].y >= 1)
            fprintf(f,
                    "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                    "stroke=\"red\" stroke-width=\"2\"><title>%.2f</title></rect>\n",
                    dets[k].x, dets[k].y, dets[k].w, dets[k].h, dets[k].score);
    FILE *t = fopen(truth_path, "r");
    while (t && fgets(line, sizeof(line), t)) {
        char img[256];
        double x, y;
        if (sscanf(line, "%255[^,],%lf,%lf", img, &x, &y) == 3 && !strcmp(img, name))
            fprintf(f, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"5\" fill=\"lime\"/>\n", x, y);
    }
    if (t) fclose(t);
    fputs("</svg>\n", f);
    fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigie eval count --truth POINTS.csv [--tiles N] [--no-refine] [--boxes DIR]\n"
            "                        [--set detector.K=V]... IMAGE...\n"
            "Counts the people of each picture (detector persons over N x N tiles, default 2,\n"
            "refined by (N+1) x (N+1) finer tiles for the small, far people unless --no-refine)\n"
            "against annotated head points (image,x,y): per-image error, MAE, MSE, bias.\n");
}

int eval_count(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'},
        {"tiles", required_argument, NULL, 'n'},
        {"set", required_argument, NULL, 'S'},
        {"no-refine", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"boxes", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *truth_path = NULL, *boxes = NULL;
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
        case 'b':
            boxes = optarg;
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
        vg_source_t *src = NULL;
        vg_frame_t *fr = NULL;
        char tmp[4096];
        if (cli_read_picture(argv[i], &src, &fr) < 0) {
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
        if (boxes)
            write_boxes(boxes, argv[i], base, fr->color.w, fr->color.h, dets, got, truth_path);
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
