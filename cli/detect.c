/*
 * vigie detect — run the object detector on an image or a video.
 *
 *   vigie detect [--set detector.OPTION=VALUE]... [--every SEC] [--pose] [-o FILE]
 *                [--annotate PATH] INPUT
 *
 * Prints one JSON object per detection (JSON Lines): frame, t, class, class_id, score, box
 * [x, y, w, h] in input pixels; with --pose, persons (and the cats and dogs the detector takes
 * people lying on a floor for) also get "keypoints": 17 [x, y, score] in MoveNet's order
 * (docs/nn.md) from the pose API, "pose_score", "pose_turn" (a box wider than tall is also tried
 * turned by 90 and -90 degrees: the best, with "pose_score_unturned" the crop as it is) and
 * "torso_deg" (hips to shoulders against the image's vertical). With --annotate, writes the
 * frame with its boxes as PNG (persons green, other classes orange); for a video give a pattern
 * with %d (frame index), e.g. out/det%06d.png. Videos are sampled every --every seconds of scene
 * time (default 1).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "cli.h"

static void detect_usage(FILE *f)
{
    fprintf(f, "usage: vigie detect [options] INPUT\n\n"
               "Runs the object detector on an image or a video; detections as JSON Lines.\n"
               "  -o, --output FILE      write detections to FILE (default: standard output)\n"
               "      --annotate PATH    write annotated PNG(s); for videos a pattern with %%d\n"
               "      --every SEC        videos: one frame every SEC seconds (default 1)\n"
               "      --pose             body keypoints of each person (MoveNet Lightning)\n"
               "  -S, --set KEY=VALUE    detector.model (nanodet|centernet), detector.score_min,\n"
               "                         detector.nms_iou, detector.models_dir (default: models)\n"
               "  -h, --help             this help\n");
}

int cmd_detect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"annotate", required_argument, NULL, 'a'},
        {"every", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {"pose", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *annotate = NULL;
    double every = 1.0;
    int want_pose = 0;
    vg_pose_t *pose = NULL;
    char err[1024] = "";
    int c, code = 0, ret;
    vg_settings_t *set = NULL;
    vg_detector_params_t dp;
    vg_source_params_t sp;
    vg_detector_t *det = NULL;
    vg_source_t *src = NULL;
    vg_frame_t *f = NULL;
    FILE *out = stdout;

    memset(&dp, 0, sizeof(dp));
    memset(&sp, 0, sizeof(sp));
    if (vg_settings_new(&set) < 0 || vg_opt_defaults(&dp, vg_detector_option_group.options) < 0 ||
        vg_opt_defaults(&sp, vg_source_option_group.options) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'a':
            annotate = optarg;
            break;
        case 'e':
            every = atof(optarg);
            if (!(every > 0)) {
                fprintf(stderr, "vigie detect: --every %s: give a positive number of seconds\n",
                        optarg);
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
        case 'p':
            want_pose = 1;
            break;
        case 'h':
            detect_usage(stdout);
            goto end;
        default:
            detect_usage(stderr);
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (optind != argc - 1) {
        detect_usage(stderr);
        code = EXIT_USAGE;
        goto end;
    }
    if (vg_settings_apply(set, &vg_detector_option_group, &dp, err, sizeof(err)) < 0 ||
        vg_settings_apply(set, &vg_source_option_group, &sp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    if ((ret = vg_detector_new(&det, &dp, err, sizeof(err))) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = ret == VG_EINVAL || ret == VG_EACCES ? EXIT_USAGE : EXIT_INPUT;
        goto end;
    }
    if (want_pose && (ret = vg_pose_new(&pose, dp.models_dir, err, sizeof(err))) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    sp.width = 0; /* the detector resizes itself: boxes come in input pixels */
    sp.color = 1;
    if ((ret = vg_source_open(&src, argv[optind], &sp, NULL)) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    if (output && !(out = fopen(output, "w"))) {
        fprintf(stderr, "vigie: error: %s: cannot write: %s\n", output, strerror(errno));
        out = stdout;
        code = EXIT_USAGE;
        goto end;
    }
    double next = 0;
    int64_t frames = 0, total = 0;
    while ((ret = vg_source_read(src, &f)) == 0) {
        if (f->t + 1e-9 < next) {
            vg_frame_unref(&f);
            continue;
        }
        next = f->t + every;
        vg_detection_t d[256];
        int n = vg_detector_run(det, &f->color, d, 256);
        if (n < 0) {
            fprintf(stderr, "vigie: error: detector failed on frame %lld: %s\n",
                    (long long)f->index, vg_strerror(n));
            code = EXIT_INPUT;
            goto end;
        }
        /* poses first: the annotations below draw on the picture */
        static vg_pose_result_t poses[256];
        static float unturned[256];
        int has_pose[256] = {0};
        for (int i = 0; pose && i < n; i++) /* as the inference thread does (people lying:
                                                 cats, dogs; wide boxes turned) */
            if ((d[i].cls == 0 || d[i].cls == 15 || d[i].cls == 16) &&
                vg_pose_run_best(pose, &f->color, &d[i], &poses[i], &unturned[i]) > 0)
                has_pose[i] = 1;
        for (int i = 0; i < n; i++) {
            fprintf(out,
                    "{\"frame\":%lld,\"t\":%.3f,\"class\":\"%s\",\"class_id\":%d,\"score\":%.3f,"
                    "\"box\":[%.0f,%.0f,%.0f,%.0f]",
                    (long long)f->index, f->t, vg_coco_name(d[i].cls), d[i].cls, d[i].score, d[i].x,
                    d[i].y, d[i].w, d[i].h);
            if (has_pose[i]) {
                fprintf(out, ",\"pose_score\":%.3f,\"pose_turn\":%d", poses[i].score,
                        poses[i].turn);
                if (d[i].w > d[i].h) /* turns were tried */
                    fprintf(out, ",\"pose_score_unturned\":%.3f", unturned[i]);
                float hip[2], neck[2];
                double len;
                if (vg_pose_torso(&poses[i], 0.3f, hip, neck) &&
                    (len = hypot(neck[0] - hip[0], neck[1] - hip[1])) > 0)
                    fprintf(out, ",\"torso_deg\":%.1f", /* from the image's vertical */
                            acos(fmax(-1, fmin(1, (hip[1] - neck[1]) / len))) * 180 / M_PI);
                fprintf(out, ",\"keypoints\":[");
                for (int k = 0; k < VG_KP_COUNT; k++)
                    fprintf(out, "%s[%.1f,%.1f,%.3f]", k ? "," : "", poses[i].kp[k].x,
                            poses[i].kp[k].y, poses[i].kp[k].score);
                fprintf(out, "]");
            }
            fprintf(out, "}\n");
            if (annotate && has_pose[i])
                for (int k = 0; k < VG_KP_COUNT; k++)
                    if (poses[i].kp[k].score >= 0.3f)
                        vg_image_draw_box(&f->color, (int)poses[i].kp[k].x - 2,
                                          (int)poses[i].kp[k].y - 2, 5, 5, 2, 255, 255, 0);
            if (annotate)
                vg_image_draw_box(&f->color, (int)d[i].x, (int)d[i].y, (int)d[i].w, (int)d[i].h, 2,
                                  0, d[i].cls == 0 ? 220 : 140, d[i].cls == 0 ? 0 : 255);
        }
        fflush(out);
        if (annotate && (frames == 0 || strchr(annotate, '%'))) {
            char path[4096];
            snprintf(path, sizeof(path), annotate, (int)f->index);
            if (vg_image_write_png(path, &f->color) < 0) {
                fprintf(stderr, "vigie: error: %s: cannot write the picture\n", path);
                code = EXIT_INPUT;
                goto end;
            }
        }
        frames++;
        total += n;
        vg_frame_unref(&f);
    }
    if (ret != VG_EOF) code = EXIT_INPUT;
    fprintf(stderr, "vigie: %s: %lld frame%s, %lld detections\n", argv[optind], (long long)frames,
            frames == 1 ? "" : "s", (long long)total);
end:
    vg_frame_unref(&f);
    vg_source_free(&src);
    vg_detector_free(&det);
    vg_pose_free(&pose);
    vg_opt_free(&dp, vg_detector_option_group.options);
    vg_opt_free(&sp, vg_source_option_group.options);
    vg_settings_free(&set);
    if (out && out != stdout) fclose(out);
    return code;
}
