/*
 * bench/ingest — vigie's ingest against FFmpeg's own command line.
 *
 * For each input, runs alternately, R times each:
 *   vigie analyze --analysers none --set input.threads=N --set input.width=W INPUT
 *   ffmpeg -threads N -i INPUT -vf scale=W:H,format=gray -f null -
 * (decode + scale to the analysis size in grey, nothing else) and prints the median wall time of
 * each and the ratio vigie/ffmpeg (≤ 1.05 is the bar: vigie must not be slower). Alternating the
 * runs spreads the machine's noise over both. Wall time includes process start for both.
 *
 * usage: bench-ingest [--runs R] [--threads N] [INPUT W H]...
 * With no inputs: vtest.avi (opencv-doc) at 640x480 and, when ../shared is present, the CDnet
 * highway sequence at 320x240.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double timed(const char *cmd)
{
    double t0 = now();
    int st = system(cmd);
    double t = now() - t0;
    if (st != 0) {
        fprintf(stderr, "bench-ingest: command failed (%d): %s\n", st, cmd);
        exit(1);
    }
    return t;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bench(const char *vigie, const char *input, int w, int h, int threads, int runs,
                  const char *label)
{
    char cv[8192], cf[8192];
    double tv[64] = {0}, tf[64] = {0};
    snprintf(cv, sizeof(cv),
             "'%s' analyze -q --no-progress --analysers none --set input.threads=%d "
             "--set input.width=%d --set input.height=%d '%s' >/dev/null",
             vigie, threads, w, h, input);
    snprintf(cf, sizeof(cf),
             "ffmpeg -nostdin -loglevel error -threads %d -i '%s' -vf scale=%d:%d,format=gray "
             "-f null -",
             threads, input, w, h);
    timed(cv); /* warm the page cache for both */
    timed(cf);
    for (int r = 0; r < runs; r++) {
        if (r % 2) {
            tf[r] = timed(cf);
            tv[r] = timed(cv);
        } else {
            tv[r] = timed(cv);
            tf[r] = timed(cf);
        }
    }
    double mv = median(tv, runs), mf = median(tf, runs);
    printf("ingest.%s.threads%d.vigie: %.3f s\n", label, threads, mv);
    printf("ingest.%s.threads%d.ffmpeg: %.3f s\n", label, threads, mf);
    printf("ingest.%s.threads%d.ratio_vigie_over_ffmpeg: %.3f (bar: <= 1.05)\n", label, threads,
           mv / mf);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *vigie = getenv("VIGIE_BIN");
    int runs = 7, threads[4] = {1, 2}, nthreads = 2, i = 1, any = 0;
    struct stat st;
    char cdnet[4096];

    if (!vigie) vigie = "build/vigie";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads[0] = atoi(argv[++i]);
            nthreads = 1;
        } else {
            fprintf(stderr, "usage: bench-ingest [--runs R] [--threads N] [INPUT W H]...\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 64) runs = 7;
    printf("# vigie: %s; %d runs each, median wall time\n", vigie, runs);
    for (; i + 2 < argc; i += 3) {
        for (int t = 0; t < nthreads; t++)
            bench(vigie, argv[i], atoi(argv[i + 1]), atoi(argv[i + 2]), threads[t], runs, "input");
        any = 1;
    }
    if (any) return 0;
    const char *vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    if (stat(vtest, &st) == 0)
        for (int t = 0; t < nthreads; t++) bench(vigie, vtest, 640, 480, threads[t], runs, "vtest");
    else
        fprintf(stderr, "bench-ingest: %s missing (install opencv-doc)\n", vtest);
    snprintf(cdnet, sizeof(cdnet), "%s/../shared/data/cdnet-highway/input/in%%06d.jpg",
             getenv("VG_ROOT") ? getenv("VG_ROOT") : ".");
    char first[4200];
    snprintf(first, sizeof(first), "%s/../shared/data/cdnet-highway/input/in000001.jpg",
             getenv("VG_ROOT") ? getenv("VG_ROOT") : ".");
    if (stat(first, &st) == 0)
        for (int t = 0; t < nthreads; t++)
            bench(vigie, cdnet, 320, 240, threads[t], runs, "cdnet_highway");
    else
        fprintf(stderr, "bench-ingest: ../shared absent: CDnet sequence skipped\n");
    return 0;
}
