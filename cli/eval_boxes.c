/*
 * vigie eval boxes — events against per-frame annotated boxes.
 *
 *   vigie eval boxes --truth BOXES [--type TYPE] [--kind KIND] EVENTS.jsonl
 *
 * BOXES gives, for each annotated frame, the boxes where the thing is (input pixels): either an
 * OpenCV FileStorage XML file as the FURG fire dataset ships them (<frameNumber>N</frameNumber>
 * then <annotations> of "x y w h"), or a CSV of rows "frame,x,y,w,h" (0-based frames, a header
 * allowed). Frames are counted like vigie counts them: every decoded frame from 0.
 *
 * Each event of EVENTS.jsonl (what `vigie analyze -o` wrote) is open from its start record's
 * frame to its end record's, its box the last start or update record's. A frame with annotated
 * boxes counts as found when an open event's box overlaps one of them. Printed: frame recall,
 * the first start's delay after the first annotated frame (seconds, from the events' own
 * clock), the mean IoU of found frames' event boxes with the annotated box they overlap most,
 * and what was raised where nothing was annotated: starts whose box overlaps no annotated box
 * of their frame, and frames with an open event on no annotated box.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/vigie.h>

#include "cli.h"

typedef struct tbox {
    int64_t frame;
    double b[4];
} tbox_t;

typedef struct evrec {
    int64_t id, frame;
    double t, b[4];
    int phase, has_box;
} evrec_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: vigie eval boxes --truth BOXES [--type TYPE] [--kind KIND] EVENTS.jsonl\n\n"
               "Scores events against boxes annotated frame by frame: frame recall (an open\n"
               "event's box overlaps an annotated box), delay of the first start, box IoU, and\n"
               "events where nothing is annotated.\n"
               "  --truth   an OpenCV FileStorage XML file (FURG fire) or a CSV frame,x,y,w,h\n"
               "  --type    only events of this type (default: every type)\n"
               "  --kind    only events whose start says this kind (fire: flame or smoke)\n");
}

static int push(tbox_t **v, int *n, int *cap, int64_t frame, const double *b)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        tbox_t *p = realloc(*v, (size_t)nc * sizeof(**v));
        if (!p) return -1;
        *v = p, *cap = nc;
    }
    (*v)[*n].frame = frame;
    memcpy((*v)[*n].b, b, sizeof((*v)[*n].b));
    (*n)++;
    return 0;
}

/* the FURG XML: frames and their "x y w h" annotations; -1 when it is not that */
static int read_xml(const char *text, tbox_t **v, int *n, int *cap, char *err, size_t errlen)
{
    const char *p = text;
    int frames = 0;
    while ((p = strstr(p, "<frameNumber>"))) {
        char *end;
        long long fr = strtoll(p + 13, &end, 10);
        if (end == p + 13 || fr < 0) {
            snprintf(err, errlen, "a <frameNumber> without a frame number");
            return -1;
        }
        frames++;
        const char *next = strstr(end, "<frameNumber>");
        const char *a = strstr(end, "<annotations>"), *ae = a ? strstr(a, "</annotations>") : NULL;
        if (!a || (next && a > next)) {
            p = end;
            continue;
        }
        if (!ae) {
            snprintf(err, errlen, "frame %lld: <annotations> not closed", fr);
            return -1;
        }
        for (const char *q = a; (q = strstr(q, "<_>")) && q < ae;) {
            double b[4];
            q += 3;
            for (int k = 0; k < 4; k++) {
                b[k] = strtod(q, &end);
                if (end == q) {
                    snprintf(err, errlen, "frame %lld: a box is not four numbers x y w h", fr);
                    return -1;
                }
                q = end;
            }
            if (!(b[2] > 0 && b[3] > 0)) {
                snprintf(err, errlen, "frame %lld: a box with no width or height", fr);
                return -1;
            }
            if (push(v, n, cap, fr, b) < 0) return -1;
        }
        p = ae;
    }
    if (!frames) {
        snprintf(err, errlen, "no <frameNumber> found");
        return -1;
    }
    return 0;
}

static int read_csv(char *text, tbox_t **v, int *n, int *cap, char *err, size_t errlen)
{
    int lineno = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (!*l || *l == '#' || (lineno == 1 && isalpha((unsigned char)*l))) continue;
        double fr, b[4];
        char tail;
        if (sscanf(l, "%lf,%lf,%lf,%lf,%lf %c", &fr, &b[0], &b[1], &b[2], &b[3], &tail) != 5 ||
            fr < 0 || fr != floor(fr) || !(b[2] > 0 && b[3] > 0)) {
            snprintf(err, errlen,
                     "line %d: expected frame,x,y,w,h (a 0-based frame, a box in "
                     "input pixels with w and h > 0)",
                     lineno);
            return -1;
        }
        if (push(v, n, cap, (int64_t)fr, b) < 0) return -1;
    }
    return 0;
}

#define MAX_FRAME 100000000 /* frames counted at most (a month at 30 frames a second) */

static const evrec_t *sort_ev; /* what cmp_id and cmp_frame sort indices of */

static int cmp_id(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_ev[i].id != sort_ev[j].id) return sort_ev[i].id < sort_ev[j].id ? -1 : 1;
    return i < j ? -1 : i > j; /* file order within an event */
}

static int cmp_frame(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_ev[i].frame != sort_ev[j].frame) return sort_ev[i].frame < sort_ev[j].frame ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int cmp_tbox(const void *a, const void *b)
{
    const tbox_t *x = a, *y = b;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

int eval_boxes(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'},
        {"type", required_argument, NULL, 'y'},
        {"kind", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *truth = NULL, *only = NULL, *kind = NULL;
    int64_t *kept = NULL; /* ids of the starts of that kind */
    int nkept = 0;
    int c, code = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            truth = optarg;
            break;
        case 'y':
            only = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    int only_type = only ? vg_event_type_from_name(only) : -1;
    if (!truth || optind != argc - 1 || (only && only_type < 0)) {
        if (only && only_type < 0)
            fprintf(stderr, "vigie eval boxes: --type %s: not an event type\n", only);
        usage(stderr);
        return EXIT_USAGE;
    }
    char *text = NULL, err[256] = "";
    size_t len = 0;
    tbox_t *tb = NULL;
    evrec_t *ev = NULL;
    int nt = 0, tcap = 0, ne = 0, ecap = 0;
    FILE *f = NULL;
    uint8_t *data = NULL;
    int rr = vg_file_read(truth, 64 << 20, &data, &len);
    if (rr < 0) {
        fprintf(stderr, "vigie eval boxes: %s: %s\n", truth, vg_strerror(rr));
        return EXIT_INPUT;
    }
    text = (char *)data;
    int xml = strstr(text, "<opencv_storage>") != NULL;
    if ((xml ? read_xml(text, &tb, &nt, &tcap, err, sizeof(err))
             : read_csv(text, &tb, &nt, &tcap, err, sizeof(err))) < 0) {
        fprintf(stderr, "vigie eval boxes: %s: %s\n", truth, err[0] ? err : "out of memory");
        code = EXIT_USAGE;
        goto end;
    }
    if (!nt) {
        fprintf(stderr, "vigie eval boxes: %s: no annotated box\n", truth);
        code = EXIT_USAGE;
        goto end;
    }
    qsort(tb, (size_t)nt, sizeof(*tb), cmp_tbox);
    if (!(f = fopen(argv[optind], "r"))) {
        fprintf(stderr, "vigie eval boxes: %s: %s\n", argv[optind], strerror(errno));
        code = EXIT_INPUT;
        goto end;
    }
    char line[VG_EVENT_DETAILS_MAX + 1024];
    int lineno = 0;
    double rate = 0; /* frames per second, from the events' own clock */
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '\n') continue;
        vg_event_t e;
        if (vg_event_from_json(&e, line, err, sizeof(err)) < 0) {
            fprintf(stderr, "vigie eval boxes: %s:%d: %s\n", argv[optind], lineno, err);
            code = EXIT_USAGE;
            goto end;
        }
        if (only && (int)e.type != only_type) continue;
        if (kind) { /* the start says its kind; its updates and end follow it by id */
            char want[96];
            snprintf(want, sizeof(want), "\"kind\":\"%.64s\"", kind);
            int keep = 0;
            if (e.phase == VG_PHASE_START && strstr(e.details, want)) {
                int64_t *p = realloc(kept, (size_t)(nkept + 1) * sizeof(*kept));
                if (!p) {
                    code = EXIT_INPUT;
                    goto end;
                }
                kept = p, kept[nkept++] = e.event_id, keep = 1;
            }
            for (int k = 0; k < nkept && !keep; k++) keep = kept[k] == e.event_id;
            if (!keep) continue;
        }
        if (e.frame > 0 && e.t > 0) rate = e.frame / e.t;
        if (ne == ecap) {
            ecap = ecap ? 2 * ecap : 64;
            evrec_t *p = realloc(ev, (size_t)ecap * sizeof(*ev));
            if (!p) {
                code = EXIT_INPUT;
                goto end;
            }
            ev = p;
        }
        ev[ne++] = (evrec_t){e.event_id,   e.frame,  e.t, {e.box[0], e.box[1], e.box[2], e.box[3]},
                             (int)e.phase, e.has_box};
    }
    /* each start's records in order (the same event_id), its end frame; then frame by frame
     * the events open there, each with its last box at or before the frame */
    int64_t last = tb[nt - 1].frame;
    for (int i = 0; i < ne; i++) last = ev[i].frame > last ? ev[i].frame : last;
    if (last > MAX_FRAME) {
        fprintf(stderr, "vigie eval boxes: frame %lld: frames are counted up to %d\n",
                (long long)last, MAX_FRAME);
        code = EXIT_USAGE;
        goto end;
    }
    int *idx = malloc((size_t)(ne ? ne : 1) * sizeof(int));
    int *next = malloc((size_t)(ne ? ne : 1) * sizeof(int));
    int *act = malloc((size_t)(ne ? ne : 1) * sizeof(int));
    int64_t *endf = malloc((size_t)(ne ? ne : 1) * sizeof(int64_t));
    if (!idx || !next || !act || !endf) {
        free(idx), free(next), free(act), free(endf);
        code = EXIT_INPUT;
        goto end;
    }
    for (int i = 0; i < ne; i++) idx[i] = i, next[i] = -1;
    sort_ev = ev;
    qsort(idx, (size_t)ne, sizeof(int), cmp_id);
    for (int k = 0; k + 1 < ne; k++)
        if (ev[idx[k]].id == ev[idx[k + 1]].id) next[idx[k]] = idx[k + 1];
    int nstart = 0;
    for (int i = 0; i < ne; i++) {
        if (ev[i].phase != VG_PHASE_START) continue;
        endf[i] = INT64_MAX;
        for (int j = next[i]; j >= 0; j = next[j])
            if (ev[j].phase == VG_PHASE_END) {
                endf[i] = ev[j].frame;
                break;
            }
        idx[nstart++] = i; /* the starts, by frame */
    }
    qsort(idx, (size_t)nstart, sizeof(int), cmp_frame);
    int64_t pos = 0, found = 0, wrong_frames = 0, open_frames = 0;
    double iou_sum = 0;
    int starts = 0, wrong_starts = 0, nact = 0, si = 0;
    double first_start = -1;
    int64_t first_truth = tb[0].frame;
    int ti = 0;
    for (int64_t fr = 0; fr <= last; fr++) {
        int t0 = ti;
        while (ti < nt && tb[ti].frame == fr) ti++;
        int ntb = ti - t0;
        pos += ntb > 0;
        int hit = 0;
        double best_iou = 0;
        while (si < nstart && ev[idx[si]].frame <= fr) act[nact++] = idx[si++];
        for (int a = 0; a < nact; a++) {
            int i = act[a];
            if (endf[i] < fr) { /* ended before this frame */
                act[a--] = act[--nact];
                continue;
            }
            /* its box: the last start or update at or before fr (next[i] walks forward) */
            while (next[i] >= 0 && ev[next[i]].frame <= fr && ev[next[i]].phase != VG_PHASE_END) {
                int j = next[i];
                if (ev[j].has_box) memcpy(ev[i].b, ev[j].b, sizeof(ev[i].b)), ev[i].has_box = 1;
                next[i] = next[j];
            }
            if (!ev[i].has_box) continue;
            const double *box = ev[i].b;
            open_frames++;
            int on = 0;
            for (int k = t0; k < ti; k++)
                if (vg_box_inter(box, tb[k].b) > 0) {
                    on = 1;
                    double iou = vg_box_iou(box, tb[k].b);
                    best_iou = iou > best_iou ? iou : best_iou;
                }
            hit |= on;
            wrong_frames += !on;
            if (ev[i].frame == fr) {
                starts++;
                wrong_starts += !on;
                if (first_start < 0) first_start = ev[i].t;
            }
        }
        if (hit && ntb) found++, iou_sum += best_iou;
    }
    free(idx), free(next), free(act), free(endf);
    printf("annotated frames: %lld (first: frame %lld)\n", (long long)pos, (long long)first_truth);
    printf("found: %lld  frame_recall: %.3f\n", (long long)found, pos ? (double)found / pos : 0);
    if (first_start >= 0 && rate > 0)
        printf("first_start: %.2f s  delay: %.2f s after the first annotated frame\n", first_start,
               first_start - first_truth / rate);
    else
        printf("first_start: none\n");
    printf("box_iou: mean %.2f over found frames\n", found ? iou_sum / found : 0);
    printf("starts: %d  on no annotated box: %d\n", starts, wrong_starts);
    printf("event frames: %lld  on no annotated box: %lld\n", (long long)open_frames,
           (long long)wrong_frames);
end:
    if (f) fclose(f);
    vg_free(text);
    free(tb);
    free(ev);
    free(kept);
    return code;
}
