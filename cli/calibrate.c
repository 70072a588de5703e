/*
 * vigie calibrate — a camera's scene tried on its own recorded footage before it goes live
 * (issue #27; docs/calibration.md).
 *
 *   vigie calibrate --config CAL.yaml [--sweep GROUP.KEY=V1,V2,...] [-q]
 *       replays every camera's `footage:` (files or folders, in order, as fast as it goes) with
 *       its scene into the config's storage: events, pictures and clips, as `vigie serve` would
 *       have recorded them live; then, for each --sweep value, the footage again with that value
 *       given to every camera (or those named by --sweep-camera) into STORAGE/sweep/GROUP.KEY=V
 *       (events only). Run again, it keeps the replay and its labels and replays only the sweep
 *       values it has not replayed yet.
 *   vigie serve --config CAL.yaml --review
 *       the console over that store, no camera analysed: a supervisor labels each alert with the
 *       keyboard (confirmed, or false alert with its reason), as operators decide live alerts.
 *   vigie calibrate report --config CAL.yaml [--csv R.csv] [--tolerance S]
 *       per camera and event type: alerts, labelled confirmed and false, alerts per hour of
 *       footage and false alerts per camera-hour; per sweep value, the alerts that value raised,
 *       each matched to a labelled alert of the same camera, footage file and type whose time
 *       overlaps its own (within --tolerance seconds, 2 by default; the nearest start): known
 *       true, known false, new (no labelled alert there), and the false alerts per camera-hour it
 *       would have given (known false only: a lower bound when some are new); a value that
 *       raised nothing for a camera and type says 0. Hours are the footage's (its files'
 *       durations), not the replay's.
 *   vigie calibrate choose --config CAL.yaml --camera NAME --set GROUP.KEY=V [...] --out S.yaml
 *       the camera's scene with the values chosen (under `events:`), a comment heading it with the
 *       calibration's figures; saved as that camera's scene in the calibration store too, and
 *       audited there (calibration_choice) with the figures and the new scene's SHA-256.
 *
 * Built on the public API only: vg_server_* runs the replay (the same cameras, pipeline, writer
 * and clipper as a live server, so what is calibrated is what will run), vg_store_* reads it.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libavformat/avformat.h>
#include <libfyaml.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/vigie.h>
#include <vigie/server.h>
#include <vigie/store.h>

#include "cli.h"

#define MAX_SWEEP 16

static int quiet;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int load(const char *path, vg_server_config_t **cfg)
{
    char err[1024];
    if (!path) {
        fprintf(stderr, "vigie calibrate: give the calibration's config with --config FILE "
                        "(docs/calibration.md)\n");
        return EXIT_USAGE;
    }
    if (vg_server_config_load(cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- the replay ---- */

static int count_run(void *opaque, int64_t id, const char *camera, double started, double last)
{
    (void)id, (void)camera, (void)started, (void)last;
    ++*(int *)opaque;
    return 0;
}

/* The runs the store at @db holds already (0 when there is none). */
static int runs_in(const char *db)
{
    struct stat sb;
    vg_store_t *st = NULL;
    char err[512];
    int n = 0;
    if (stat(db, &sb) != 0 || vg_store_open(&st, db, err, sizeof(err)) < 0) return 0;
    vg_store_runs(st, count_run, &n);
    vg_store_close(&st);
    return n;
}

/* Run @cfg's cameras over their footage until every one ended; 0, or EXIT_INPUT with the first
 * failure said. */
static int replay(vg_server_config_t *cfg, const char *what)
{
    vg_server_t *srv = NULL;
    char err[1024];
    vg_server_progress_t p;
    cfg->port = 0; /* a replay answers no one */
    vg_free(cfg->listen_addr);
    cfg->listen_addr = vg_strdup("127.0.0.1");
    cfg->ipv6 = 0;
    if (vg_server_new(&srv, cfg, err, sizeof(err)) < 0 ||
        vg_server_start(srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        vg_server_free(&srv);
        return EXIT_INPUT;
    }
    double t0 = now_mono(), last = 0;
    int code = 0;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        vg_server_progress(srv, &p);
        double t = now_mono();
        if (!quiet && (t - last >= 1 || (p.ended == p.cameras && !p.busy))) {
            fprintf(stderr, "\r%s: %d of %d files, %lld frames, %.0f s%s", what, p.files_done,
                    p.files, (long long)p.frames, t - t0, "   ");
            last = t;
        }
        if (p.failed) {
            fprintf(stderr, "%svigie: error: camera %s\n", quiet ? "" : "\n", p.failure);
            code = EXIT_INPUT;
            break;
        }
        if (p.ended == p.cameras && !p.busy) break;
    }
    if (!quiet && !code) fprintf(stderr, "\n");
    vg_server_free(&srv);
    return code;
}

static int cal_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"sweep", required_argument, NULL, 's'},
        {"sweep-camera", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *sweep = NULL, *only[64];
    vg_server_config_t *cfg = NULL;
    int c, code, nonly = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:C:qh", longopts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 's')
            sweep = optarg;
        else if (c == 'C' && nonly < 64)
            only[nonly++] = optarg;
        else if (c == 'q')
            quiet = 1;
        else {
            fprintf(
                stderr,
                "usage: vigie calibrate --config CAL.yaml [--sweep GROUP.KEY=V1,V2,...]\n"
                "                       [--sweep-camera NAME ...] [-q]\n"
                "       vigie calibrate report --config CAL.yaml [--csv R.csv] [--tolerance S]\n"
                "       vigie calibrate choose --config CAL.yaml --camera NAME --set K=V "
                "--out S.yaml\n"
                "Replays each camera's footage with its scene into the config's storage, then "
                "each\n--sweep value into STORAGE/sweep/KEY=VALUE; label the alerts with "
                "'vigie serve\n--config CAL.yaml --review', then 'vigie calibrate report' "
                "(docs/calibration.md).\n");
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "vigie calibrate: unexpected argument %s\n", argv[optind]);
        return EXIT_USAGE;
    }
    if ((code = load(config, &cfg)) != 0) return code;
    vg_log_set_level(VG_LOG_WARNING); /* the cameras' own lines: warnings and errors only */
    /* the sweep: one option, its values, each checked as the cameras would */
    char key[128] = "", vals[MAX_SWEEP][64];
    int nv = 0;
    if (sweep) {
        const char *eq = strchr(sweep, '=');
        if (!eq || eq == sweep || (size_t)(eq - sweep) >= sizeof(key) || !eq[1]) {
            fprintf(stderr, "vigie calibrate: --sweep GROUP.KEY=V1,V2,... (e.g. "
                            "intrusion.min_dwell=0.5,1,2)\n");
            code = EXIT_USAGE;
            goto end;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - sweep), sweep);
        for (const char *p = eq + 1; *p && nv < MAX_SWEEP;) {
            size_t n = strcspn(p, ",");
            if (!n || n >= sizeof(vals[0]) || memchr(p, '/', n) || (n == 1 && p[0] == '.') ||
                (n == 2 && p[0] == '.' && p[1] == '.')) {
                fprintf(stderr, "vigie calibrate: --sweep: an empty or too long value, or one "
                                "that names a folder ('/', '.', '..')\n");
                code = EXIT_USAGE;
                goto end;
            }
            snprintf(vals[nv++], sizeof(vals[0]), "%.*s", (int)n, p);
            p += n + (p[n] == ',');
        }
        for (int i = 0; i < nv; i++) {
            vg_settings_t *st = NULL;
            char err[512];
            if (vg_settings_new(&st) < 0 || vg_settings_add(st, key, vals[i], "--sweep") < 0 ||
                vg_settings_validate(st, vg_option_groups(), err, sizeof(err)) < 0) {
                fprintf(stderr, "vigie calibrate: --sweep: %s\n", err);
                vg_settings_free(&st);
                code = EXIT_USAGE;
                goto end;
            }
            vg_settings_free(&st);
        }
    }
    for (int i = 0; i < cfg->nb_cameras; i++)
        if (!cfg->cameras[i].footage) {
            fprintf(stderr,
                    "vigie calibrate: camera '%s' has no footage: a calibration replays recorded "
                    "files (footage: FILE, FOLDER or a list of them; docs/calibration.md)\n",
                    cfg->cameras[i].name);
            code = EXIT_USAGE;
            goto end;
        }
    for (int k = 0; k < nonly; k++) {
        int found = 0;
        for (int i = 0; i < cfg->nb_cameras; i++) found |= !strcmp(cfg->cameras[i].name, only[k]);
        if (!found) {
            fprintf(stderr, "vigie calibrate: --sweep-camera %s: no such camera in %s\n", only[k],
                    config);
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (!cfg->nb_cameras) {
        fprintf(stderr, "vigie calibrate: the config has no camera\n");
        code = EXIT_USAGE;
        goto end;
    }
    /* the same events every run: each detector look served before the next frame (a replay
     * at full speed would otherwise see them land on other frames from run to run) */
    for (int i = 0; i < cfg->nb_cameras; i++)
        if (!vg_settings_lookup(cfg->cameras[i].settings, "detect.wait"))
            vg_settings_add(cfg->cameras[i].settings, "detect.wait", "yes", "vigie calibrate");
    char db[4200];
    vg_server_config_db(cfg, db, sizeof(db));
    /* a calibration is replayed once, then labelled: run again, it keeps that replay and its
     * labels, and only replays the sweep values it has not replayed yet */
    int had = runs_in(db);
    if (had)
        fprintf(stderr, "vigie: %s already holds the replay (%d runs) and its labels: kept\n", db,
                had);
    else if ((code = replay(cfg, "replay")) != 0)
        goto end;
    for (int i = 0; i < nv; i++) {
        vg_server_config_t *sc = NULL;
        char dir[4300], what[1200];
        if ((code = load(config, &sc)) != 0) goto end;
        snprintf(dir, sizeof(dir), "%s/sweep", cfg->storage);
        mkdir(dir, 0750);
        snprintf(dir, sizeof(dir), "%s/sweep/%s=%s", cfg->storage, key, vals[i]);
        vg_free(sc->storage);
        sc->storage = vg_strdup(dir);
        sc->clip_fps = 0; /* events only */
        /* --sweep-camera: those cameras first, the others left out of this replay */
        int all = sc->nb_cameras, kept = 0;
        for (int k = 0; k < all && nonly; k++) {
            int in = 0;
            for (int m = 0; m < nonly; m++) in |= !strcmp(sc->cameras[k].name, only[m]);
            if (!in) continue;
            vg_server_camera_t t = sc->cameras[kept];
            sc->cameras[kept] = sc->cameras[k];
            sc->cameras[k] = t;
            kept++;
        }
        if (nonly) sc->nb_cameras = kept;
        for (int k = 0; k < sc->nb_cameras; k++) {
            if (!vg_settings_lookup(sc->cameras[k].settings, "detect.wait"))
                vg_settings_add(sc->cameras[k].settings, "detect.wait", "yes", "vigie calibrate");
            vg_settings_add(sc->cameras[k].settings, key, vals[i], "--sweep");
        }
        snprintf(what, sizeof(what), "%s=%s", key, vals[i]);
        char sdb[4400];
        snprintf(sdb, sizeof(sdb), "%s/vigie.db", dir);
        if (runs_in(sdb)) {
            fprintf(stderr, "vigie: %s was replayed already: kept\n", what);
            code = 0;
        } else
            code = replay(sc, what);
        sc->nb_cameras = all;
        vg_server_config_free(&sc);
        if (code) goto end;
    }
    fprintf(stderr,
            "vigie: replayed into %s%s. Label the alerts: vigie user add --config %s NAME --role "
            "supervisor; vigie serve --config %s --review; then: vigie calibrate report --config "
            "%s\n",
            db, nv ? " (and the sweep beside it)" : "", config, config, config);
end:
    vg_server_config_free(&cfg);
    return code;
}

/* ---- the report ---- */

typedef struct ev {
    char camera[64], type[32];
    int file;        /* its run's rank among its camera's runs: the footage file */
    double t, t_end; /* start and end in the footage file (end: the start while open) */
    int label;       /* 0 none, 1 confirmed, 2 false alert, 3 not relevant */
} ev_t;

typedef struct evs {
    ev_t *e;
    int n, cap;
    /* runs: id -> rank per camera */
    int64_t *run_id;
    int *run_rank;
    char (*run_cam)[64];
    double hours_sum;
    int nruns;
} evs_t;

static int on_run(void *opaque, int64_t id, const char *camera, double started, double last)
{
    evs_t *v = opaque;
    int rank = 0;
    for (int i = 0; i < v->nruns; i++)
        if (!strcmp(v->run_cam[i], camera)) rank++;
    int64_t *ni = realloc(v->run_id, (size_t)(v->nruns + 1) * sizeof(*ni));
    if (ni) v->run_id = ni;
    int *nr = realloc(v->run_rank, (size_t)(v->nruns + 1) * sizeof(*nr));
    if (nr) v->run_rank = nr;
    char(*nc)[64] = realloc(v->run_cam, (size_t)(v->nruns + 1) * sizeof(*nc));
    if (nc) v->run_cam = nc;
    if (!ni || !nr || !nc) return VG_ENOMEM;
    v->run_id[v->nruns] = id;
    v->run_rank[v->nruns] = rank;
    snprintf(v->run_cam[v->nruns], 64, "%s", camera);
    v->nruns++;
    (void)started;
    (void)last;
    return 0;
}

static int load_events(vg_store_t *st, evs_t *v)
{
    int64_t before = 0;
    if (vg_store_runs(st, on_run, v) < 0) return VG_EIO;
    for (;;) {
        char *js = NULL;
        if (vg_store_events_page_json(st, 0, before, NULL, NULL, 1000, &js) < 0) return VG_EIO;
        json_t *arr = json_loads(js, 0, NULL);
        vg_free(js);
        if (!arr) return VG_EIO;
        size_t i, n = json_array_size(arr);
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            if (v->n == v->cap) {
                int nc = v->cap ? v->cap * 2 : 256;
                ev_t *ne = realloc(v->e, (size_t)nc * sizeof(*ne));
                if (!ne) {
                    json_decref(arr);
                    return VG_ENOMEM;
                }
                v->e = ne;
                v->cap = nc;
            }
            ev_t *e = &v->e[v->n++];
            memset(e, 0, sizeof(*e));
            snprintf(e->camera, sizeof(e->camera), "%s",
                     json_string_value(json_object_get(o, "camera")));
            snprintf(e->type, sizeof(e->type), "%s", json_string_value(json_object_get(o, "type")));
            e->t = json_number_value(json_object_get(o, "t"));
            json_t *te = json_object_get(o, "t_end");
            e->t_end = json_is_number(te) ? json_number_value(te) : e->t;
            int64_t run = json_integer_value(json_object_get(o, "run"));
            e->file = -1;
            for (int k = 0; k < v->nruns; k++)
                if (v->run_id[k] == run) e->file = v->run_rank[k];
            const char *q = json_string_value(json_object_get(o, "qualification"));
            e->label = !q                           ? 0
                       : !strcmp(q, "confirmed")    ? 1
                       : !strcmp(q, "false_alert")  ? 2
                       : !strcmp(q, "not_relevant") ? 3
                                                    : 0;
            before = json_integer_value(json_object_get(o, "id"));
        }
        json_decref(arr);
        if (n < 1000) break;
    }
    return 0;
}

static void evs_free(evs_t *v)
{
    free(v->e);
    free(v->run_id);
    free(v->run_rank);
    free(v->run_cam);
    memset(v, 0, sizeof(*v));
}

/* The label of the alert of @lab matching @e — the same camera, footage file and type, its
 * time overlapping @e's within @tol seconds, the nearest start first (a threshold on time moves
 * an alert's start, not what it is about) — or -1 when none does (a new alert). */
static int label_of(const evs_t *lab, const ev_t *e, double tol)
{
    int best = -1;
    double bd = INFINITY;
    for (int m = 0; m < lab->n; m++) {
        const ev_t *o = &lab->e[m];
        if (o->file != e->file || strcmp(o->camera, e->camera) || strcmp(o->type, e->type))
            continue;
        if (e->t > o->t_end + tol || o->t > e->t_end + tol) continue;
        double dd = fabs(o->t - e->t);
        if (dd < bd) {
            bd = dd;
            best = m;
        }
    }
    return best < 0 ? -1 : lab->e[best].label;
}

typedef struct hours {
    char cam[256][64];
    double h[256];
    int n;
} hours_t;

/* Hours of each camera's footage, from the files' containers (what was replayed, not how long
 * the replay took). 0, or EXIT_INPUT with a file that has no duration said. */
static int footage_hours(const vg_server_config_t *cfg, hours_t *h)
{
    for (int i = 0; i < cfg->nb_cameras && h->n < 256; i++) {
        const vg_server_camera_t *cam = &cfg->cameras[i];
        double sec = 0;
        for (int k = 0; k < cam->nb_footage; k++) {
            AVFormatContext *fc = NULL;
            double d = 0;
            if (avformat_open_input(&fc, cam->footage[k], NULL, NULL) == 0) {
                if (avformat_find_stream_info(fc, NULL) >= 0 && fc->duration > 0)
                    d = (double)fc->duration / AV_TIME_BASE;
                avformat_close_input(&fc);
            }
            if (d <= 0) {
                fprintf(stderr, "vigie: error: %s: cannot read how long it lasts\n",
                        cam->footage[k]);
                return EXIT_INPUT;
            }
            sec += d;
        }
        snprintf(h->cam[h->n], 64, "%s", cam->name);
        h->h[h->n++] = sec / 3600.0;
    }
    return 0;
}

static double hours_of(const hours_t *h, const char *cam)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->cam[i], cam)) return h->h[i];
    return 0;
}

typedef struct pair {
    char camera[64], type[32];
} pair_t;

static int cmp_ev(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    int c = strcmp(x->camera, y->camera);
    if (!c) c = strcmp(x->type, y->type);
    return c;
}

/* sweep folders "KEY=VALUE": by key, then by value as a number when both are */
static int cmp_setting(const void *a, const void *b)
{
    const char *x = a, *y = b, *ex = strchr(x, '='), *ey = strchr(y, '=');
    size_t kx = ex ? (size_t)(ex - x) : strlen(x), ky = ey ? (size_t)(ey - y) : strlen(y);
    int c = strncmp(x, y, kx < ky ? kx : ky);
    if (c || kx != ky) return c ? c : (kx < ky ? -1 : 1);
    char *px, *py;
    double vx = strtod(ex + 1, &px), vy = strtod(ey + 1, &py);
    if (!*px && !*py && px != ex + 1 && py != ey + 1) return (vx > vy) - (vx < vy);
    return strcmp(x, y);
}

static void num_csv(FILE *f, double v, int d)
{
    if (!isnan(v)) fprintf(f, "%.*f", d, v);
}

static int cal_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"csv", required_argument, NULL, 'C'},
        {"tolerance", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *csvp = NULL;
    double tol = 2;
    vg_server_config_t *cfg = NULL;
    vg_store_t *st = NULL;
    evs_t main_ev = {0};
    static hours_t hours;
    char err[1024], db[4200];
    int c, code = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:t:h", longopts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'C')
            csvp = optarg;
        else if (c == 't') {
            char *e;
            tol = strtod(optarg, &e);
            if (*e || !(tol >= 0 && tol <= 60)) {
                fprintf(stderr, "vigie calibrate report: --tolerance: seconds, 0 to 60\n");
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "usage: vigie calibrate report --config CAL.yaml [--csv R.csv] "
                            "[--tolerance S]\n");
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if ((code = load(config, &cfg)) != 0) return code;
    memset(&hours, 0, sizeof(hours));
    vg_server_config_db(cfg, db, sizeof(db));
    struct stat sb;
    if (stat(db, &sb) != 0) {
        fprintf(stderr,
                "vigie: error: %s: no calibration store there: run vigie calibrate --config %s "
                "first\n",
                db, config);
        code = EXIT_INPUT;
        goto end;
    }
    if (vg_store_open(&st, db, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    if ((code = footage_hours(cfg, &hours)) != 0) goto end;
    if (load_events(st, &main_ev) < 0) {
        fprintf(stderr, "vigie: error: cannot read %s\n", db);
        code = EXIT_INPUT;
        goto end;
    }
    vg_store_close(&st);
    if (!main_ev.nruns) {
        fprintf(stderr, "vigie: error: %s holds no replay: run vigie calibrate --config %s first\n",
                db, config);
        code = EXIT_INPUT;
        goto end;
    }
    qsort(main_ev.e, (size_t)main_ev.n, sizeof(ev_t), cmp_ev);
    FILE *csv = csvp ? fopen(csvp, "w") : NULL;
    if (csvp && !csv) {
        fprintf(stderr, "vigie: error: cannot write %s: %s\n", csvp, strerror(errno));
        code = EXIT_INPUT;
        goto end;
    }
    if (csv)
        fprintf(csv, "setting,camera,type,alerts,confirmed,false_alerts,not_relevant,unlabelled,"
                     "new,footage_hours,alerts_per_hour,false_alerts_per_camera_hour\n");
    /* the replay as labelled */
    printf("calibration of %s: %d runs, labelled alerts per camera and event type\n", config,
           main_ev.nruns);
    printf("%-20s %-18s %7s %9s %6s %12s %10s %9s %10s\n", "camera", "type", "alerts", "confirmed",
           "false", "not_relevant", "unlabelled", "alerts/h", "false/cam-h");
    for (int i = 0; i < main_ev.n;) {
        int j = i;
        int64_t k[4] = {0};
        while (j < main_ev.n && !cmp_ev(&main_ev.e[i], &main_ev.e[j])) k[main_ev.e[j++].label]++;
        double h = hours_of(&hours, main_ev.e[i].camera);
        double aph = h > 0 ? (j - i) / h : NAN, fph = h > 0 ? k[2] / h : NAN;
        printf("%-20s %-18s %7d %9lld %6lld %12lld %10lld %9.2f %10.2f\n", main_ev.e[i].camera,
               main_ev.e[i].type, j - i, (long long)k[1], (long long)k[2], (long long)k[3],
               (long long)k[0], aph, fph);
        if (csv) {
            fprintf(csv, "as replayed,%s,%s,%d,%lld,%lld,%lld,%lld,0,%.6f,", main_ev.e[i].camera,
                    main_ev.e[i].type, j - i, (long long)k[1], (long long)k[2], (long long)k[3],
                    (long long)k[0], h);
            num_csv(csv, aph, 4);
            fprintf(csv, ",");
            num_csv(csv, fph, 4);
            fprintf(csv, "\n");
        }
        i = j;
    }
    for (int i = 0; i < hours.n; i++)
        printf("footage of %s: %.4f hours\n", hours.cam[i], hours.h[i]);
    /* the sweep: each value's alerts matched to the labelled ones */
    char sdir[4300];
    snprintf(sdir, sizeof(sdir), "%s/sweep", cfg->storage);
    DIR *d = opendir(sdir);
    struct dirent *de;
    char names[64][256];
    int ns = 0;
    while (d && (de = readdir(d)) && ns < 64)
        if (de->d_name[0] != '.' && strchr(de->d_name, '='))
            snprintf(names[ns++], sizeof(names[0]), "%s", de->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)ns, sizeof(names[0]), cmp_setting);
    if (ns)
        printf("\nsweep (alerts matched to the labelled ones: same camera, footage file and type, "
               "times overlapping within %.1f s)\n%-34s %-14s %-16s %7s %6s %6s %5s %11s\n",
               tol, "setting", "camera", "type", "alerts", "true", "false", "new", "false/cam-h");
    evs_t *sws = calloc((size_t)(ns ? ns : 1), sizeof(*sws));
    if (!sws) {
        code = EXIT_INPUT;
        goto end;
    }
    for (int s = 0; s < ns && !code; s++) {
        char sdb[4300 + 256 + 16];
        snprintf(sdb, sizeof(sdb), "%s/%.255s/vigie.db", sdir, names[s]);
        if (vg_store_open(&st, sdb, err, sizeof(err)) < 0 || load_events(st, &sws[s]) < 0) {
            fprintf(stderr, "vigie: error: %s: %s\n", sdb, err);
            code = EXIT_INPUT;
        }
        vg_store_close(&st);
    }
    /* every camera and type seen anywhere: a value that raised none of them says 0 */
    pair_t *pairs = NULL;
    int np = 0;
    for (int s = -1; s < ns && !code; s++) {
        const evs_t *v = s < 0 ? &main_ev : &sws[s];
        for (int i = 0; i < v->n; i++) {
            int known = 0;
            for (int k = 0; k < np && !known; k++)
                known = !strcmp(pairs[k].camera, v->e[i].camera) &&
                        !strcmp(pairs[k].type, v->e[i].type);
            if (known) continue;
            pair_t *npp = realloc(pairs, (size_t)(np + 1) * sizeof(*npp));
            if (!npp) {
                code = EXIT_INPUT;
                break;
            }
            pairs = npp;
            snprintf(pairs[np].camera, 64, "%s", v->e[i].camera);
            snprintf(pairs[np].type, 32, "%s", v->e[i].type);
            np++;
        }
    }
    for (int s = 0; s < ns && !code; s++) {
        for (int p = 0; p < np; p++) {
            int ran = 0; /* a camera left out of this sweep (--sweep-camera) is not in it */
            for (int r2 = 0; r2 < sws[s].nruns; r2++)
                ran |= !strcmp(sws[s].run_cam[r2], pairs[p].camera);
            if (!ran) continue;
            int64_t k[4] = {0}, fresh = 0, n = 0;
            for (int j = 0; j < sws[s].n; j++) {
                const ev_t *e = &sws[s].e[j];
                if (strcmp(e->camera, pairs[p].camera) || strcmp(e->type, pairs[p].type)) continue;
                n++;
                int l = label_of(&main_ev, e, tol);
                if (l < 0)
                    fresh++;
                else
                    k[l]++;
            }
            double h = hours_of(&hours, pairs[p].camera);
            double fph = h > 0 ? k[2] / h : NAN;
            printf("%-34s %-14s %-16s %7lld %6lld %6lld %5lld %11.2f\n", names[s], pairs[p].camera,
                   pairs[p].type, (long long)n, (long long)k[1], (long long)k[2], (long long)fresh,
                   fph);
            if (csv) {
                fprintf(csv, "%s,%s,%s,%lld,%lld,%lld,%lld,%lld,%lld,%.6f,", names[s],
                        pairs[p].camera, pairs[p].type, (long long)n, (long long)k[1],
                        (long long)k[2], (long long)k[3], (long long)k[0], (long long)fresh, h);
                num_csv(csv, h > 0 ? n / h : NAN, 4);
                fprintf(csv, ",");
                num_csv(csv, fph, 4);
                fprintf(csv, "\n");
            }
        }
    }
    for (int s = 0; s < ns; s++) evs_free(&sws[s]);
    free(sws);
    free(pairs);
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, "vigie: error: cannot write %s\n", csvp);
        code = EXIT_INPUT;
    }
end:
    vg_store_close(&st);
    evs_free(&main_ev);
    vg_server_config_free(&cfg);
    return code;
}

/* ---- choose: the values picked, into the camera's scene ---- */

/* Set @key ("group.name") to @value in the scene document: where the scene already gives it
 * (under events: GROUP: NAME, or settings: KEY), else under settings:. 0 or VG_ENOMEM. */
static int scene_set(struct fy_document *fyd, const char *key, const char *value)
{
    struct fy_node *root = fy_document_root(fyd), *n;
    const char *dot = strchr(key, '.');
    if (!root || !fy_node_is_mapping(root)) return VG_EINVAL;
    if (dot && (n = fy_node_mapping_lookup_by_string(root, "events", -1)) &&
        fy_node_is_mapping(n) &&
        (n = fy_node_mapping_lookup_by_string(n, key, (size_t)(dot - key))) &&
        fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_lookup_pair_by_string(n, dot + 1, -1);
        if (p)
            return fy_node_pair_set_value(p, fy_node_create_scalar_copy(fyd, value, strlen(value)))
                       ? VG_ENOMEM
                       : 0;
    }
    struct fy_node *set = fy_node_mapping_lookup_by_string(root, "settings", -1);
    if (!set) {
        set = fy_node_create_mapping(fyd);
        if (!set ||
            fy_node_mapping_append(root, fy_node_create_scalar_copy(fyd, "settings", 8), set))
            return VG_ENOMEM;
    }
    if (!fy_node_is_mapping(set)) return VG_EINVAL;
    struct fy_node_pair *p = fy_node_mapping_lookup_pair_by_string(set, key, -1);
    struct fy_node *v = fy_node_create_scalar_copy(fyd, value, strlen(value));
    if (!v) return VG_ENOMEM;
    if (p) return fy_node_pair_set_value(p, v) ? VG_ENOMEM : 0;
    return fy_node_mapping_append(set, fy_node_create_scalar_copy(fyd, key, strlen(key)), v)
               ? VG_ENOMEM
               : 0;
}

/* "# TYPE: N alerts in H h of footage (A/h), F labelled false (F/cam-h)" lines for @camera from
 * the store at @db (a replay), labelled against @lab (NULL: its own labels). */
static void figures(FILE *f, const char *what, const char *db, const char *camera, double hours,
                    const evs_t *lab, double tol)
{
    vg_store_t *st = NULL;
    evs_t v = {0};
    char err[512];
    if (vg_store_open(&st, db, err, sizeof(err)) < 0 || load_events(st, &v) < 0) {
        vg_store_close(&st);
        evs_free(&v);
        return;
    }
    vg_store_close(&st);
    qsort(v.e, (size_t)v.n, sizeof(ev_t), cmp_ev);
    int any = 0;
    for (int i = 0; i < v.n;) {
        int j = i;
        int64_t k[4] = {0}, fresh = 0;
        for (; j < v.n && !cmp_ev(&v.e[i], &v.e[j]); j++) {
            const ev_t *e = &v.e[j];
            if (strcmp(e->camera, camera)) continue;
            if (!lab) {
                k[e->label]++;
                continue;
            }
            int l = label_of(lab, e, tol);
            if (l < 0)
                fresh++;
            else
                k[l]++;
        }
        if (!strcmp(v.e[i].camera, camera)) {
            fprintf(f,
                    "#   %s, %s: %d alerts in %.3f h of footage (%.2f/h), %lld labelled false "
                    "(%.2f/cam-h), %lld confirmed, %lld not labelled or new\n",
                    what, v.e[i].type, j - i, hours, hours > 0 ? (j - i) / hours : 0,
                    (long long)k[2], hours > 0 ? k[2] / hours : 0, (long long)k[1],
                    (long long)(k[0] + fresh));
            any = 1;
        }
        i = j;
    }
    if (!any) fprintf(f, "#   %s: no alert\n", what);
    evs_free(&v);
}

static int cal_choose(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"camera", required_argument, NULL, 'n'},
        {"set", required_argument, NULL, 's'},    {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *camera = NULL, *out = NULL, *sets[16];
    int nset = 0, c, code = 0;
    vg_server_config_t *cfg = NULL;
    vg_store_t *st = NULL;
    struct fy_document *fyd = NULL;
    char *yaml = NULL, err[1024], db[4200];
    FILE *f = NULL;
    static hours_t hours;
    evs_t lab = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:n:s:o:h", longopts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'n')
            camera = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 's' && nset < 16)
            sets[nset++] = optarg;
        else {
            fprintf(stderr, "usage: vigie calibrate choose --config CAL.yaml --camera NAME --set "
                            "GROUP.KEY=VALUE [--set ...] --out SCENE.yaml\n");
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (!camera || !out || !nset) {
        fprintf(stderr, "vigie calibrate choose: give --camera NAME, the values chosen (--set "
                        "GROUP.KEY=VALUE) and --out SCENE.yaml\n");
        return EXIT_USAGE;
    }
    if ((code = load(config, &cfg)) != 0) return code;
    const vg_server_camera_t *cam = NULL;
    for (int i = 0; i < cfg->nb_cameras; i++)
        if (!strcmp(cfg->cameras[i].name, camera)) cam = &cfg->cameras[i];
    if (!cam) {
        fprintf(stderr, "vigie calibrate choose: no camera '%s' in %s\n", camera, config);
        code = EXIT_USAGE;
        goto end;
    }
    /* every value checked as the camera would take it */
    vg_settings_t *chk = NULL;
    if (vg_settings_new(&chk) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    for (int i = 0; i < nset; i++)
        if (vg_settings_add_arg(chk, sets[i], err, sizeof(err)) < 0) break;
    int bad = vg_settings_count(chk) != (size_t)nset ||
              vg_settings_validate(chk, vg_option_groups(), err, sizeof(err)) < 0;
    vg_settings_free(&chk);
    if (bad) {
        fprintf(stderr, "vigie calibrate choose: --set: %s\n", err);
        code = EXIT_USAGE;
        goto end;
    }
    fyd = cam->scene[0] ? fy_document_build_from_file(NULL, cam->scene)
                        : fy_document_build_from_string(NULL, "version: 1\n", FY_NT);
    if (!fyd) {
        fprintf(stderr, "vigie: error: %s: cannot read the scene\n", cam->scene);
        code = EXIT_INPUT;
        goto end;
    }
    for (int i = 0; i < nset; i++) {
        char k[128];
        const char *eq = strchr(sets[i], '=');
        snprintf(k, sizeof(k), "%.*s", (int)(eq - sets[i]), sets[i]);
        if (scene_set(fyd, k, eq + 1) < 0) {
            fprintf(stderr, "vigie: error: %s: cannot set %s in it (its top is not a mapping?)\n",
                    cam->scene, k);
            code = EXIT_INPUT;
            goto end;
        }
    }
    yaml = fy_emit_document_to_string(fyd, FYECF_MODE_BLOCK | FYECF_WIDTH_INF);
    vg_scene_t *check = NULL;
    if (!yaml || vg_scene_parse(&check, yaml, strlen(yaml), out, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: the scene chosen does not parse: %s\n", err);
        code = EXIT_INPUT;
        goto end;
    }
    vg_scene_free(&check);
    /* the figures: the replay as labelled, and the sweep of each value chosen when there is one */
    vg_server_config_db(cfg, db, sizeof(db));
    if ((code = footage_hours(cfg, &hours)) != 0) goto end;
    if (vg_store_open(&st, db, err, sizeof(err)) < 0 || load_events(st, &lab) < 0) {
        fprintf(stderr, "vigie: error: %s: no calibration store (run vigie calibrate first)\n", db);
        code = EXIT_INPUT;
        goto end;
    }
    char *head = NULL;
    size_t headlen = 0;
    f = open_memstream(&head, &headlen);
    if (!f) {
        code = EXIT_INPUT;
        goto end;
    }
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "# Scene of camera '%s' chosen after calibration (vigie calibrate, %s):\n", camera,
            when);
    for (int i = 0; i < nset; i++) fprintf(f, "#   %s\n", sets[i]);
    fprintf(f, "# Figures on %d footage file(s) of this camera (docs/calibration.md):\n",
            cam->nb_footage);
    double h = hours_of(&hours, camera);
    figures(f, "as replayed", db, camera, h, NULL, 2);
    for (int i = 0; i < nset; i++) {
        char sdb[4600];
        struct stat sb;
        snprintf(sdb, sizeof(sdb), "%s/sweep/%s/vigie.db", cfg->storage, sets[i]);
        if (stat(sdb, &sb) == 0) figures(f, sets[i], sdb, camera, h, &lab, 2);
    }
    fclose(f);
    f = NULL;
    /* the file, then the store's copy of the scene and the audit row */
    FILE *o = fopen(out, "w");
    int ok = o && fputs(head, o) >= 0 && fputs(yaml, o) >= 0;
    if (o && fclose(o) != 0) ok = 0;
    if (!ok) {
        fprintf(stderr, "vigie: error: cannot write %s: %s\n", out, strerror(errno));
        free(head);
        code = EXIT_INPUT;
        goto end;
    }
    size_t nh = strlen(head), ny = strlen(yaml);
    char *whole = malloc(nh + ny + 1);
    if (!whole) {
        free(head);
        code = EXIT_INPUT;
        goto end;
    }
    memcpy(whole, head, nh);
    memcpy(whole + nh, yaml, ny + 1);
    unsigned char sha[32];
    char hex[65];
    crypto_hash_sha256(sha, (const unsigned char *)whole, nh + ny);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    const char *user = getenv("USER");
    char actor[96];
    snprintf(actor, sizeof(actor), "cli:%s", user && *user ? user : "unknown");
    json_t *det = json_pack("{s:s,s:s,s:s,s:o}", "scene", out, "sha256", hex, "figures", head,
                            "settings", json_array());
    for (int i = 0; det && i < nset; i++)
        json_array_append_new(json_object_get(det, "settings"), json_string(sets[i]));
    char *dj = det ? json_dumps(det, JSON_COMPACT) : NULL;
    int r1 = vg_store_scene_put(st, camera, whole, actor);
    int r2 = dj ? vg_store_audit(st, actor, "calibration_choice", camera, dj) : VG_ENOMEM;
    free(dj);
    json_decref(det);
    free(whole);
    fputs(head, stdout);
    free(head);
    if (r1 < 0 || r2 < 0) {
        fprintf(stderr, "vigie: error: %s written, but not recorded in the calibration store\n",
                out);
        code = EXIT_INPUT;
        goto end;
    }
    fprintf(stderr,
            "vigie: %s written (SHA-256 %s); saved as camera '%s''s scene in the calibration "
            "store, audited (calibration_choice)\n",
            out, hex, camera);
end:
    if (f) fclose(f);
    free(yaml);
    if (fyd) fy_document_destroy(fyd);
    evs_free(&lab);
    vg_store_close(&st);
    vg_server_config_free(&cfg);
    return code;
}

int cmd_calibrate(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "choose")) return cal_choose(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "report")) return cal_report(argc - 1, argv + 1);
    return cal_run(argc, argv);
}
