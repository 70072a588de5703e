/*
 * vigie eval frames — frame-level scores of an event type against per-frame labels.
 *
 *   vigie eval frames --truth LABELS.csv [--scene FILE] [--type intrusion] [--clip NAME]...
 *                     [--set KEY=VALUE]... [--scores OUT.csv]
 *
 * LABELS.csv has a header and rows "clip,frame (1-based),picture path,label (0/1)" (UCSD's
 * frame_labels.csv). Each clip is analysed as an image sequence (the pattern is made from its
 * first picture's name, relative to the CSV's folder) through motion, tracker, detect (waiting
 * for each answer, so that every run gives the same figures) and zones; the zones stage's score
 * of the event type for each frame is compared with the labels:
 * - ROC AUC over all frames of all clips (ties count half: Mann-Whitney);
 * - precision and recall at the operating point (score >= intrusion.score_min);
 * - event starts per clip, those on a normal frame counted as false alerts, and alerts per hour
 *   of footage (at input.rate frames per second).
 * --scores writes clip,frame,label,score for plots.
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

typedef struct row {
    char clip[64];
    int frame; /* 1-based */
    int label;
    double score;
    int scored;
} row_t;

typedef struct clip_run {
    row_t *rows; /* this clip's rows, by frame */
    int nrows;
    int starts, false_starts;
    vg_event_type_t type;
} clip_run_t;

/* The collector stage: the frame's score into the clip's row. */
static clip_run_t *current;

static int collect_process(vg_stage_t *st, vg_analysis_t *a)
{
    (void)st;
    const double *scores = a->slot[VG_SLOT_SCORES];
    int f = (int)a->frame->index + 1;
    for (int i = 0; i < current->nrows; i++)
        if (current->rows[i].frame == f) {
            current->rows[i].score = scores ? scores[current->type] : 0;
            current->rows[i].scored = 1;
        }
    return 0;
}

static const vg_stage_class_t collect_class = {
    .name = "collect", .help = "eval frames: per-frame scores", .process = collect_process};

static int sink_write(void *opaque, const vg_event_t *ev)
{
    clip_run_t *c = opaque;
    if (ev->type != c->type || ev->phase != VG_PHASE_START) return 0;
    c->starts++;
    for (int i = 0; i < c->nrows; i++)
        if (c->rows[i].frame == ev->frame + 1 && !c->rows[i].label) c->false_starts++;
    return 0;
}

static int by_clip_frame(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->clip, y->clip);
    return c ? c : (x->frame > y->frame) - (x->frame < y->frame);
}

static int by_score(const void *a, const void *b)
{
    double x = (*(const row_t *const *)a)->score, y = (*(const row_t *const *)b)->score;
    return x < y ? -1 : x > y;
}

/* ROC AUC by ranks with ties averaged (Mann-Whitney U / (P N)). */
static double auc(row_t *rows, int n)
{
    row_t **v = malloc((size_t)n * sizeof(*v));
    int k = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].scored) v[k++] = &rows[i];
    qsort(v, (size_t)k, sizeof(*v), by_score);
    double rank_sum = 0, pos = 0;
    for (int i = 0; i < k;) {
        int j = i;
        while (j < k && v[j]->score == v[i]->score) j++;
        double r = (i + 1 + j) / 2.0; /* average rank of the tie group */
        for (int q = i; q < j; q++)
            if (v[q]->label) rank_sum += r, pos++;
        i = j;
    }
    double neg = k - pos;
    free(v);
    if (pos == 0 || neg == 0) return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/* "frames/01/000.jpg" -> "DIR/frames/01/%03d.jpg" */
static int pattern_of(const char *dir, const char *jpg, char *out, size_t len)
{
    const char *slash = strrchr(jpg, '/'), *base = slash ? slash + 1 : jpg;
    const char *d = base;
    while (*d && (*d < '0' || *d > '9')) d++;
    const char *e = d;
    while (*e >= '0' && *e <= '9') e++;
    if (e == d) return -1;
    int n = snprintf(out, len, "%s/%.*s%.*s%%0%dd%s", dir, (int)(base - jpg), jpg, (int)(d - base),
                     base, (int)(e - d), e);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vigie eval frames --truth LABELS.csv [--scene FILE] [--type TYPE]\n"
               "                         [--clip NAME]... [--set KEY=VALUE]... [--scores OUT.csv]\n"
               "Frame-level ROC AUC, precision/recall and alerts of an event type's score\n"
               "(default intrusion) against per-frame labels (clip,frame,picture,label).\n");
}

int eval_frames(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'}, {"scene", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 'y'},  {"clip", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 'S'},   {"scores", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *truth = NULL, *scene_path = NULL, *type_name = "intrusion", *scores_path = NULL;
    const char *clips[64];
    int nclips = 0, c, code = 0;
    char err[1024] = "";
    vg_settings_t *cli = NULL, *all = NULL;
    vg_scene_t *scene = NULL;
    row_t *rows = NULL;
    int nrows = 0, cap = 0;
    if (vg_settings_new(&cli) < 0) return EXIT_INPUT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            truth = optarg;
            break;
        case 's':
            scene_path = optarg;
            break;
        case 'y':
            type_name = optarg;
            break;
        case 'o':
            scores_path = optarg;
            break;
        case 'c':
            if (nclips < 64) clips[nclips++] = optarg;
            break;
        case 'S':
            if (cli_add_set(cli, optarg) < 0) {
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
    int type = vg_event_type_from_name(type_name);
    if (!truth || optind != argc || type < 0) {
        if (type < 0)
            fprintf(stderr, "vigie eval frames: --type %s: not an event type\n", type_name);
        usage(stderr);
        code = EXIT_USAGE;
        goto end;
    }
    /* the labels */
    FILE *f = fopen(truth, "r");
    if (!f) {
        fprintf(stderr, "vigie eval frames: %s: %s\n", truth, strerror(errno));
        code = EXIT_INPUT;
        goto end;
    }
    char line[4096], jpg1[64][1024];
    int nclip_names = 0, lineno = 0;
    char clip_names[64][64];
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (lineno == 1 && strstr(line, "clip")) continue; /* header */
        char clip[64], jpg[1024];
        int frame, label;
        if (sscanf(line, "%63[^,],%d,%1023[^,],%d", clip, &frame, jpg, &label) != 4 || frame < 1 ||
            (label != 0 && label != 1)) {
            fprintf(stderr, "vigie eval frames: %s:%d: expected clip,frame,picture,label(0|1)\n",
                    truth, lineno);
            fclose(f);
            code = EXIT_USAGE;
            goto end;
        }
        int keep = nclips == 0;
        for (int i = 0; i < nclips; i++) keep |= !strcmp(clips[i], clip);
        if (!keep) continue;
        if (nrows == cap) {
            cap = cap ? 2 * cap : 1024;
            row_t *more = realloc(rows, (size_t)cap * sizeof(*rows));
            if (!more) {
                fprintf(stderr, "vigie eval frames: out of memory\n");
                fclose(f);
                code = EXIT_INPUT;
                goto end;
            }
            rows = more;
        }
        row_t *r = &rows[nrows++];
        memset(r, 0, sizeof(*r));
        snprintf(r->clip, sizeof(r->clip), "%s", clip);
        r->frame = frame, r->label = label;
        int known = 0;
        for (int i = 0; i < nclip_names; i++) known |= !strcmp(clip_names[i], clip);
        if (!known && nclip_names == 64) {
            fprintf(stderr, "vigie eval frames: %s:%d: more than 64 clips; pick some with --clip\n",
                    truth, lineno);
            fclose(f);
            code = EXIT_USAGE;
            goto end;
        }
        if (!known) {
            snprintf(clip_names[nclip_names], 64, "%s", clip);
            snprintf(jpg1[nclip_names], sizeof(jpg1[0]), "%s", jpg);
            nclip_names++;
        }
        if (frame == 1)
            for (int i = 0; i < nclip_names; i++)
                if (!strcmp(clip_names[i], clip)) snprintf(jpg1[i], sizeof(jpg1[0]), "%s", jpg);
    }
    fclose(f);
    /* each clip's rows together, in frame order, whatever the file's order */
    qsort(rows, (size_t)nrows, sizeof(*rows), by_clip_frame);
    if (!nrows) {
        fprintf(stderr, "vigie eval frames: %s: no rows for the clips asked\n", truth);
        code = EXIT_USAGE;
        goto end;
    }
    if (scene_path && vg_scene_load(&scene, scene_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    if (!scene && vg_scene_new_empty(&scene) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    if (vg_settings_new(&all) < 0 || vg_settings_merge(all, scene->settings) < 0 ||
        vg_settings_add(all, "detect.wait", "yes", "vigie eval frames") < 0 ||
        vg_settings_merge(all, cli) < 0 ||
        vg_settings_validate(all, vg_option_groups(), err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err[0] ? err : "out of memory");
        code = EXIT_USAGE;
        goto end;
    }
    vg_source_params_t sp;
    memset(&sp, 0, sizeof(sp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    if (vg_settings_apply(all, &vg_source_option_group, &sp, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    sp.color = 1;
    char tdir[4096];
    snprintf(tdir, sizeof(tdir), "%s", truth);
    const char *dir = dirname(tdir);
    int total_starts = 0, total_false = 0, worst_false = 0, frames = 0;
    for (int k = 0; k < nclip_names; k++) {
        char pattern[4400];
        if (pattern_of(dir, jpg1[k], pattern, sizeof(pattern)) < 0) {
            fprintf(stderr, "vigie eval frames: %s: no frame number in %s\n", clip_names[k],
                    jpg1[k]);
            code = EXIT_USAGE;
            break;
        }
        /* this clip's rows (together since the sort) */
        int first = -1, n = 0;
        for (int i = 0; i < nrows; i++)
            if (!strcmp(rows[i].clip, clip_names[k])) {
                if (first < 0) first = i;
                n++;
            }
        clip_run_t run = {rows + first, n, 0, 0, (vg_event_type_t)type};
        current = &run;
        vg_pipeline_t *pipe = NULL;
        vg_source_t *src = NULL;
        static const vg_stage_class_t *const extra[] = {&collect_class, NULL};
        vg_pipeline_spec_t spec = {scene, clip_names[k], all, "motion,tracker,detect,zones", extra};
        int ret = vg_pipeline_new_for_scene(&pipe, &spec, NULL, err, sizeof(err));
        if (ret == 0) ret = vg_source_open(&src, pattern, &sp, NULL);
        if (ret == 0) {
            vg_event_sink_t sink = {sink_write, &run};
            ret = vg_pipeline_run(pipe, src, &sink, NULL, NULL);
        }
        vg_source_free(&src);
        vg_pipeline_free(&pipe);
        if (ret < 0) {
            fprintf(stderr, "vigie eval frames: %s (%s): %s\n", clip_names[k], pattern,
                    err[0] ? err : vg_strerror(ret));
            code = EXIT_INPUT;
            break;
        }
        int pos = 0;
        for (int i = 0; i < n; i++) pos += run.rows[i].label;
        printf("eval.frames.%s: %d frames (%d labelled), %d %s starts, %d on normal frames\n",
               clip_names[k], n, pos, run.starts, type_name, run.false_starts);
        fflush(stdout);
        total_starts += run.starts;
        total_false += run.false_starts;
        if (run.false_starts > worst_false) worst_false = run.false_starts;
        frames += n;
    }
    if (code) goto end;
    double a = auc(rows, nrows);
    double thr = 0.5;
    vg_intrusion_params_t ip;
    memset(&ip, 0, sizeof(ip));
    if (vg_opt_defaults(&ip, vg_intrusion_option_group.options) == 0 &&
        vg_settings_apply(all, &vg_intrusion_option_group, &ip, err, sizeof(err)) == 0)
        thr = ip.score_min;
    vg_opt_free(&ip, vg_intrusion_option_group.options);
    int64_t tp = 0, fp = 0, fn = 0, tn = 0, pos = 0, unscored = 0;
    for (int i = 0; i < nrows; i++) {
        if (!rows[i].scored) { /* a labelled frame the sequence did not have */
            unscored++;
            continue;
        }
        int p = rows[i].score >= thr;
        pos += rows[i].label;
        tp += p && rows[i].label, fp += p && !rows[i].label;
        fn += !p && rows[i].label, tn += !p && !rows[i].label;
    }
    if (unscored)
        fprintf(stderr,
                "vigie eval frames: %lld labelled frames were not in the pictures: left out\n",
                (long long)unscored);
    double hours = frames / sp.rate / 3600;
    printf("eval.frames.auc: %.4f (%d frames, %lld labelled positive, %d clips)\n", a, nrows,
           (long long)pos, nclip_names);
    printf("eval.frames.operating_point: score >= %.2f: precision %.3f, recall %.3f (tp %lld, fp "
           "%lld, fn %lld, tn %lld)\n",
           thr, tp + fp ? (double)tp / (tp + fp) : 0, tp + fn ? (double)tp / (tp + fn) : 0,
           (long long)tp, (long long)fp, (long long)fn, (long long)tn);
    printf("eval.frames.events: %d %s starts, %d on normal frames (at most %d in one clip), %.1f "
           "alerts per hour of footage (%.0f s at %g fps)\n",
           total_starts, type_name, total_false, worst_false, hours > 0 ? total_starts / hours : 0,
           frames / sp.rate, sp.rate);
    if (scores_path) {
        FILE *o = fopen(scores_path, "w");
        if (!o) {
            fprintf(stderr, "vigie eval frames: %s: %s\n", scores_path, strerror(errno));
            code = EXIT_USAGE;
        } else {
            fprintf(o, "clip,frame,label,score\n");
            for (int i = 0; i < nrows; i++)
                fprintf(o, "%s,%d,%d,%.4f\n", rows[i].clip, rows[i].frame, rows[i].label,
                        rows[i].score);
            fclose(o);
        }
    }
    vg_opt_free(&sp, vg_source_option_group.options);
end:
    free(rows);
    vg_scene_free(&scene);
    vg_settings_free(&cli);
    vg_settings_free(&all);
    return code;
}
