/*
 * vigie eval images — weapon candidates in still pictures against YOLO-format boxes.
 *
 *   vigie eval images --labels DIR [--names N1,N2...] [--iou 0.5] [--tiles N]
 *                     [--set detector.K=V] [--set weapon.K=V]... IMAGE...
 *
 * DIR/NAME.txt (NAME: the picture's file name without its extension) holds one line per object,
 * "class cx cy w h", normalised to the picture's size (the YOLO format); a picture without a
 * file has none. Every labelled object is a weapon to find. Each picture is read at its own size;
 * the detector looks at it whole and in N x N overlapping tiles refined by finer ones (as eval
 * count, default N = 2: small objects get the detector's resolution); a box of a class in
 * weapon.classes scoring weapon.score_min or more is a candidate, and with weapon.require_held
 * (the default) only when a person holds it: the pose model runs on each person whose box
 * (grown by weapon.reach) covers it, and a wrist must be on it (vg_weapon_holder, as the weapon
 * stage decides on a close look). A still has no k-of-m: each picture is one look.
 *
 * A candidate matches a labelled box it overlaps by IoU >= --iou (each box once). Printed per
 * picture: labelled objects, candidates, true and false candidates, missed objects, and for each
 * labelled object what the detector saw there (its best-overlapping box of any class, or
 * nothing): what a site model would have to do better. Then precision and recall over all.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vigie/vigie.h>

#include "cli.h"

#define MAX_LABELS 256
#define MAX_DETS   1000

typedef struct label {
    int cls;
    double box[4]; /* picture pixels */
    int found;
} label_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: vigie eval images --labels DIR [--names N1,N2...] [--iou 0.5] [--tiles N]\n"
               "                         [--set detector.K=V] [--set weapon.K=V]... IMAGE...\n"
               "Weapon candidates of each picture (detector classes in weapon.classes, held by a\n"
               "person's wrist with weapon.require_held) against its YOLO labels DIR/NAME.txt\n"
               "(class cx cy w h, normalised): per picture, then precision and recall.\n");
}

/* the labels of @img (picture @w x @h) from @dir; -1 on a malformed file (said), else count */
static int read_labels(const char *dir, const char *img, int w, int h, label_t *out)
{
    char tmp[4096], path[8192], line[512];
    snprintf(tmp, sizeof(tmp), "%s", img);
    char *base = basename(tmp), *dot = strrchr(base, '.');
    if (dot) *dot = 0;
    snprintf(path, sizeof(path), "%s/%s.txt", dir, base);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT
                   ? 0
                   : (fprintf(stderr, "vigie: error: %s: %s\n", path, strerror(errno)), -1);
    int n = 0;
    for (int ln = 1; fgets(line, sizeof(line), f); ln++) {
        int c;
        double cx, cy, bw, bh;
        char extra;
        if (line[0] == '\n' || line[0] == '#') continue;
        if (sscanf(line, "%d %lf %lf %lf %lf %c", &c, &cx, &cy, &bw, &bh, &extra) != 5 || c < 0 ||
            !(cx >= 0 && cx <= 1 && cy >= 0 && cy <= 1 && bw > 0 && bw <= 1 && bh > 0 && bh <= 1)) {
            fprintf(stderr,
                    "vigie: error: %s:%d: expected 'class cx cy w h' (YOLO: a class number, then "
                    "the box's centre and size as shares of the picture, 0 to 1)\n",
                    path, ln);
            fclose(f);
            return -1;
        }
        if (n == MAX_LABELS) {
            fprintf(stderr, "vigie: error: %s: more than %d objects\n", path, MAX_LABELS);
            fclose(f);
            return -1;
        }
        out[n].cls = c;
        out[n].box[0] = (cx - bw / 2) * w, out[n].box[1] = (cy - bh / 2) * h;
        out[n].box[2] = bw * w, out[n].box[3] = bh * h;
        out[n++].found = 0;
    }
    fclose(f);
    return n;
}

static const char *label_name(const char *names, int cls, char *buf, size_t len)
{
    const char *s = names;
    for (int i = 0; s && *s; i++) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (i == cls) {
            snprintf(buf, len, "%.*s", (int)l, s);
            return buf;
        }
        if (!e) break;
        s = e + 1;
    }
    snprintf(buf, len, "class %d", cls);
    return buf;
}

int eval_images(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"labels", required_argument, NULL, 'l'},
        {"names", required_argument, NULL, 'N'},
        {"iou", required_argument, NULL, 'i'},
        {"tiles", required_argument, NULL, 'n'},
        {"set", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *labels_dir = NULL, *names = NULL;
    double iou_min = 0.5;
    int tiles = 2, c, code = 0;
    vg_settings_t *set = NULL;
    vg_detector_params_t dp;
    vg_weapon_params_t wp;
    vg_detector_t *det = NULL;
    vg_pose_t *pose = NULL;
    uint8_t is_weapon[80];
    vg_detection_t *dets = NULL;
    label_t *lab = NULL;
    char err[1024];
    memset(&dp, 0, sizeof(dp));
    memset(&wp, 0, sizeof(wp));
    if (vg_settings_new(&set) < 0) return EXIT_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:N:i:n:S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            labels_dir = optarg;
            break;
        case 'N':
            names = optarg;
            break;
        case 'i':
            iou_min = atof(optarg);
            if (!(iou_min > 0 && iou_min <= 1)) {
                fprintf(stderr, "vigie eval images: --iou: a number above 0, at most 1\n");
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case 'n':
            tiles = atoi(optarg);
            if (tiles < 1 || tiles > 8) {
                fprintf(stderr, "vigie eval images: --tiles: use 1 to 8\n");
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
            usage(stdout);
            goto end;
        default:
            usage(stderr);
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (!labels_dir || optind >= argc) {
        usage(stderr);
        code = EXIT_USAGE;
        goto end;
    }
    struct stat ls;
    errno = 0;
    if (stat(labels_dir, &ls) != 0 || !S_ISDIR(ls.st_mode)) {
        /* a missing folder would read as "no object in any picture": a silent wrong answer */
        fprintf(stderr, "vigie: error: --labels %s: %s (the folder of NAME.txt label files)\n",
                labels_dir, errno ? strerror(errno) : "not a folder");
        code = EXIT_USAGE;
        goto end;
    }
    if (vg_opt_defaults(&dp, vg_detector_option_group.options) < 0 ||
        vg_settings_apply(set, &vg_detector_option_group, &dp, err, sizeof(err)) < 0 ||
        vg_opt_defaults(&wp, vg_weapon_option_group.options) < 0 ||
        vg_settings_apply(set, &vg_weapon_option_group, &wp, err, sizeof(err)) < 0 ||
        vg_weapon_parse_classes(wp.classes, is_weapon, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    if (vg_detector_new(&det, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    if (wp.require_held && vg_pose_new(&pose, dp.models_dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s (weapon.require_held needs the pose model)\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    dets = malloc(sizeof(*dets) * MAX_DETS);
    lab = malloc(sizeof(*lab) * MAX_LABELS);
    if (!dets || !lab) {
        code = EXIT_INPUT;
        goto end;
    }
    int tp = 0, fp = 0, fn = 0, pictures = 0, objects = 0;
    for (int i = optind; i < argc; i++) {
        vg_source_t *src = NULL;
        vg_frame_t *fr = NULL;
        if (cli_read_picture(argv[i], &src, &fr) < 0) {
            code = EXIT_INPUT;
            continue;
        }
        const vg_image_t *img = &fr->color;
        int nl = read_labels(labels_dir, argv[i], img->w, img->h, lab);
        int got = nl < 0 ? 0 : vg_detector_run_refined(det, img, tiles, dets, MAX_DETS);
        if (nl < 0 || got < 0) {
            if (got < 0)
                fprintf(stderr, "vigie: error: %s: detection failed: %s\n", argv[i],
                        vg_strerror(got));
            code = nl < 0 ? EXIT_USAGE : EXIT_INPUT;
            vg_frame_unref(&fr);
            vg_source_free(&src);
            continue;
        }
        /* wrists of the persons a weapon-class box lies on */
        for (int k = 0; pose && k < got; k++) {
            if (dets[k].cls < 0 || dets[k].cls >= 80 || !is_weapon[dets[k].cls] ||
                dets[k].score < wp.score_min)
                continue;
            double wb[4] = {dets[k].x, dets[k].y, dets[k].w, dets[k].h};
            for (int j = 0; j < got; j++) {
                vg_detection_t *q = &dets[j];
                double r = wp.reach * q->h;
                double pb[4] = {q->x - r, q->y - r, q->w + 2 * r, q->h + 2 * r};
                if (q->cls != 0 || q->pose > 0 || vg_box_overlap_small(pb, wb) <= 0) continue;
                vg_pose_result_t pr;
                if (vg_pose_run(pose, img, q, &pr) < 0) continue;
                q->pose = pr.score > 0 ? pr.score : 1e-6f;
                for (int s = 0; s < 2; s++) {
                    q->wrist[2 * s] = pr.kp[VG_KP_LEFT_WRIST + s].x;
                    q->wrist[2 * s + 1] = pr.kp[VG_KP_LEFT_WRIST + s].y;
                    q->wrist_score[s] = pr.kp[VG_KP_LEFT_WRIST + s].score;
                }
            }
        }
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s", argv[i]);
        const char *base = basename(tmp);
        int cand = 0, ptp = 0, pfp = 0;
        for (int k = 0; k < got; k++) {
            const vg_detection_t *d = &dets[k];
            if (d->cls < 0 || d->cls >= 80 || !is_weapon[d->cls] || d->score < wp.score_min)
                continue;
            double wb[4] = {d->x, d->y, d->w, d->h};
            int wrist = -1, near = -1;
            int held = vg_weapon_holder(wp.reach, wb, dets, got, &wrist, &near);
            if (held < 0 && (wp.require_held || near < 0)) continue;
            cand++;
            int best = -1;
            double bi = iou_min;
            for (int l = 0; l < nl; l++) {
                double o = vg_box_iou(lab[l].box, wb);
                if (!lab[l].found && o >= bi) bi = o, best = l;
            }
            if (best >= 0)
                lab[best].found = 1, ptp++;
            else
                pfp++;
            printf("  candidate %s %.2f at [%.0f,%.0f,%.0f,%.0f]%s%s: %s\n", vg_coco_name(d->cls),
                   d->score, d->x, d->y, d->w, d->h,
                   held >= 0 ? " held by a wrist" : " near a person",
                   wrist >= 0 ? (wrist ? " (right)" : " (left)") : "",
                   best >= 0 ? "matches a labelled object" : "false");
        }
        int pfn = 0;
        for (int l = 0; l < nl; l++) {
            char nb[64];
            int b = -1;
            double bo = 0;
            for (int k = 0; k < got; k++) {
                double db[4] = {dets[k].x, dets[k].y, dets[k].w, dets[k].h};
                double o = vg_box_iou(lab[l].box, db);
                if (o > bo) bo = o, b = k;
            }
            pfn += !lab[l].found;
            if (b >= 0)
                printf("  %s at [%.0f,%.0f,%.0f,%.0f]: %s; the detector's best box there: %s %.2f "
                       "(IoU %.2f)\n",
                       label_name(names, lab[l].cls, nb, sizeof(nb)), lab[l].box[0], lab[l].box[1],
                       lab[l].box[2], lab[l].box[3], lab[l].found ? "found" : "missed",
                       vg_coco_name(dets[b].cls), dets[b].score, bo);
            else
                printf("  %s at [%.0f,%.0f,%.0f,%.0f]: %s; the detector saw nothing there\n",
                       label_name(names, lab[l].cls, nb, sizeof(nb)), lab[l].box[0], lab[l].box[1],
                       lab[l].box[2], lab[l].box[3], lab[l].found ? "found" : "missed");
        }
        printf("%s: objects %d, candidates %d, true %d, false %d, missed %d\n", base, nl, cand, ptp,
               pfp, pfn);
        tp += ptp, fp += pfp, fn += pfn, objects += nl, pictures++;
        vg_frame_unref(&fr);
        vg_source_free(&src);
    }
    if (pictures) {
        printf("eval.images.pictures: %d, objects %d (weapon.classes %s, score >= %.2f, %s)\n",
               pictures, objects, wp.classes, wp.score_min,
               wp.require_held ? "held" : "held or near a person");
        if (tp + fp)
            printf("eval.images.precision: %.3f (%d of %d candidates)\n", (double)tp / (tp + fp),
                   tp, tp + fp);
        else
            printf("eval.images.precision: none (no candidate)\n");
        if (objects)
            printf("eval.images.recall: %.3f (%d of %d objects)\n", (double)tp / objects, tp,
                   objects);
        else
            printf("eval.images.recall: none (no labelled object)\n");
        printf("eval.images.false: %d\n", fp);
    }
end:
    free(dets);
    free(lab);
    vg_pose_free(&pose);
    vg_detector_free(&det);
    vg_opt_free(&dp, vg_detector_option_group.options);
    vg_opt_free(&wp, vg_weapon_option_group.options);
    vg_settings_free(&set);
    return code;
}
