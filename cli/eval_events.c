/*
 * vigie eval events — event starts against annotated intervals.
 *
 *   vigie eval events --truth INTERVALS.csv [--type TYPE] [--tolerance S] EVENTS.jsonl
 *
 * INTERVALS.csv has a header and rows "type,start,end[,due[,x,y,w,h]]" in seconds of the input:
 * an event of that type that really happens over [start, end]; `due` (optional, may be empty)
 * is when a rule should raise it (for an abandoned object: the time it became abandoned); the
 * box (optional, input pixels) is where it is, and the first start that hits the interval is
 * scored by its box's intersection over union with it. EVENTS.jsonl is what
 * `vigie analyze -o` wrote. A start record of the same type counts for an interval when it
 * starts inside [start, end + tolerance]; each start counts for one interval at most (the
 * earliest it fits). Printed: hits (intervals with a start), misses, false alerts (starts in no
 * interval), and the latency of the first start of each hit after the interval's start (and
 * after `due` when given): mean, median, max; with boxes, the IoU of each hit (a start without
 * a box scores 0).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/vigie.h>

#include "cli.h"

typedef struct interval {
    int type;
    double start, end, due;
    int hit;
    double first; /* time of its first start */
    int has_box;
    double box[4], iou; /* the annotated box; the first start's IoU with it */
} interval_t;

/* Splits @line at commas into at most @max fields (trailing newline dropped); returns the
 * count. */
static int split_fields(char *line, char **field, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < max;) {
        field[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0, p = c + 1;
    }
    return n;
}

/* @s as a number into @v: 1, or 0 when it is not one (empty included) */
static int number(const char *s, double *v)
{
    char *end;
    while (*s == ' ') s++;
    if (!*s) return 0;
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    return !*end && isfinite(*v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vigie eval events --truth INTERVALS.csv [--type TYPE] [--tolerance S] "
               "EVENTS.jsonl\n"
               "Matches event starts to annotated intervals (type,start,end[,due[,x,y,w,h]] in\n"
               "seconds and input pixels): hits, misses, false alerts, latency, box IoU.\n");
}

static void latency_line(const char *name, double *v, int n)
{
    if (!n) return;
    double sum = 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    for (int i = 0; i < n; i++) sum += v[i];
    printf("eval.events.%s: mean %.2f s, median %.2f s, max %.2f s (%d)\n", name, sum / n,
           n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[n - 1], n);
}

int eval_events(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'},
        {"type", required_argument, NULL, 'y'},
        {"tolerance", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *truth = NULL, *only = NULL;
    double tol = 2.0;
    int c, code = 0, n = 0, cap = 0;
    interval_t *iv = NULL;
    FILE *f = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            truth = optarg;
            break;
        case 'y':
            only = optarg;
            break;
        case 'o':
            tol = atof(optarg);
            if (!(tol >= 0)) {
                fprintf(stderr, "vigie eval events: --tolerance %s: give seconds >= 0\n", optarg);
                return EXIT_USAGE;
            }
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
            fprintf(stderr, "vigie eval events: --type %s: not an event type\n", only);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!(f = fopen(truth, "r"))) {
        fprintf(stderr, "vigie eval events: %s: %s\n", truth, strerror(errno));
        return EXIT_INPUT;
    }
    char line[VG_EVENT_DETAILS_MAX + 1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n' || (lineno == 1 && strstr(line, "start"))) continue;
        char *fld[9];
        double a = NAN, b = NAN, due = NAN, box[4] = {0, 0, 0, 0};
        int k = split_fields(line, fld, 9), t = k >= 3 ? vg_event_type_from_name(fld[0]) : -1;
        int ok = k >= 3 && k != 5 && k != 6 && k != 7 && k <= 8 && t >= 0 && number(fld[1], &a) &&
                 number(fld[2], &b) && b >= a && a >= 0 &&
                 (k < 4 || !*fld[3] || number(fld[3], &due));
        for (int q = 0; ok && k == 8 && q < 4; q++) ok = number(fld[4 + q], &box[q]);
        if (ok && k == 8 && !(box[2] > 0 && box[3] > 0)) ok = 0;
        if (!ok) {
            fprintf(stderr,
                    "vigie eval events: %s:%d: expected type,start,end[,due[,x,y,w,h]] (seconds, "
                    "an event type of docs/events.md, start <= end; a box in input pixels, w "
                    "and h > 0)\n",
                    truth, lineno);
            code = EXIT_USAGE;
            goto end;
        }
        if (only && t != only_type) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            interval_t *p = realloc(iv, (size_t)cap * sizeof(*iv));
            if (!p) {
                code = EXIT_INPUT;
                goto end;
            }
            iv = p;
        }
        iv[n] = (interval_t){t, a, b, due, 0, 0, k == 8, {0, 0, 0, 0}, 0};
        memcpy(iv[n++].box, box, sizeof(box));
    }
    fclose(f);
    if (!(f = fopen(argv[optind], "r"))) {
        fprintf(stderr, "vigie eval events: %s: %s\n", argv[optind], strerror(errno));
        code = EXIT_INPUT;
        goto end;
    }
    int starts = 0, false_alerts = 0;
    lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '\n') continue;
        vg_event_t ev;
        char err[256];
        if (vg_event_from_json(&ev, line, err, sizeof(err)) < 0) {
            fprintf(stderr, "vigie eval events: %s:%d: %s\n", argv[optind], lineno, err);
            code = EXIT_USAGE;
            goto end;
        }
        if (ev.phase != VG_PHASE_START || (only && (int)ev.type != only_type)) continue;
        starts++;
        int best = -1;
        for (int i = 0; i < n; i++)
            if ((int)ev.type == iv[i].type && ev.t >= iv[i].start && ev.t <= iv[i].end + tol &&
                (best < 0 || iv[i].start < iv[best].start) && !iv[i].hit)
                best = i;
        if (best < 0) /* an interval already hit takes further starts as repeats, not alerts */
            for (int i = 0; i < n; i++)
                if ((int)ev.type == iv[i].type && ev.t >= iv[i].start && ev.t <= iv[i].end + tol)
                    best = i;
        if (best < 0) {
            false_alerts++;
            continue;
        }
        if (!iv[best].hit) {
            iv[best].hit = 1, iv[best].first = ev.t;
            iv[best].iou = ev.has_box ? vg_box_iou(ev.box, iv[best].box) : 0;
        }
    }
    int hits = 0, nlat = 0, ndue = 0, nbox = 0;
    double iou_sum = 0, iou_min = 1;
    double *lat = calloc((size_t)(n ? n : 1), sizeof(double)),
           *lat_due = calloc((size_t)(n ? n : 1), sizeof(double));
    for (int i = 0; i < n; i++) {
        if (!iv[i].hit) continue;
        hits++;
        lat[nlat++] = iv[i].first - iv[i].start;
        if (!isnan(iv[i].due)) lat_due[ndue++] = iv[i].first - iv[i].due;
        if (iv[i].has_box) nbox++, iou_sum += iv[i].iou, iou_min = fmin(iou_min, iv[i].iou);
    }
    printf("eval.events: %d intervals, %d hits, %d misses, %d false alerts (%d starts)\n", n, hits,
           n - hits, false_alerts, starts);
    latency_line("latency_from_start", lat, nlat);
    latency_line("delay_from_due", lat_due, ndue);
    if (nbox)
        printf("eval.events.box_iou: mean %.2f, min %.2f (%d hits with an annotated box)\n",
               iou_sum / nbox, iou_min, nbox);
    free(lat);
    free(lat_due);
end:
    if (f) fclose(f);
    free(iv);
    return code;
}
