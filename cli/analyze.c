/*
 * vigie analyze: the analysers over one input (a file, an image sequence, a stream, a device),
 * events as JSON Lines, progress on stderr, count series as CSV.
 *
 * Exit status: 0 success; 1 the input could not be read completely or analysis failed (events
 * written before stay written); 2 bad command line, scene file or option value; 130 stopped by
 * a signal (events written before stay written, open events are ended).
 */
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vigie/vigie.h>

#include "cli.h"

static vg_pipeline_t *volatile running; /* read by the signal handler only */
static atomic_int got_signal;

static void on_signal(int sig)
{
    vg_pipeline_t *p = running;
    atomic_store(&got_signal, sig);
    if (p) vg_pipeline_stop(p);
}

static void fmt_hms(char *buf, size_t len, double s)
{
    if (s < 0 || s > 1e7) s = 0;
    int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
    if (h)
        snprintf(buf, len, "%d:%02d:%02d", h, m, sec);
    else
        snprintf(buf, len, "%d:%02d", m, sec);
}

typedef struct progress_ctx {
    int enabled, tty;
    const char *input;
    double last_t;
    double from, total; /* the span analysed: total 0 when unknown (live, looping to the end) */
} progress_ctx_t;

static void on_progress(void *opaque, const vg_progress_t *p)
{
    progress_ctx_t *pc = opaque;
    char pos[32], eta[32] = "";
    double done = p->t - pc->from;
    pc->last_t = p->t;
    if (!pc->enabled || p->final) return;
    fmt_hms(pos, sizeof(pos), p->t);
    if (pc->total > 0 && p->elapsed > 0 && done > 0) {
        double left = (pc->total - done) * p->elapsed / done;
        char e[24];
        fmt_hms(e, sizeof(e), left);
        snprintf(eta, sizeof(eta), " ETA %s", e);
    }
    if (pc->total > 0)
        fprintf(stderr, "%s%s: %5.1f%% %s frame %lld %.0f fps%s, %lld events%s",
                pc->tty ? "\r\033[K" : "", pc->input, fmin(100.0, 100.0 * done / pc->total), pos,
                (long long)p->frames, p->fps, eta, (long long)p->events, pc->tty ? "" : "\n");
    else
        fprintf(stderr, "%s%s: %s frame %lld %.0f fps, %lld events%s", pc->tty ? "\r\033[K" : "",
                pc->input, pos, (long long)p->frames, p->fps, (long long)p->events,
                pc->tty ? "" : "\n");
    if (pc->tty) cli_log.progress_shown = 1;
    fflush(stderr);
}

/* ---- vigie analyze ---- */

static void analyze_usage(FILE *f)
{
    const vg_stage_class_t *const *cls = vg_stage_classes();
    fprintf(f,
            "usage: vigie analyze [options] INPUT\n"
            "\n"
            "Runs the analysers over INPUT and writes events as JSON Lines (docs/events.md).\n"
            "INPUT: a video file, an image pattern (dir/in%%06d.jpg), rtsp:// or http(s):// URL,\n"
            "or a V4L2 device (/dev/video0).\n"
            "\n"
            "  -o, --output FILE     write events to FILE (default: standard output)\n"
            "      --counts FILE     write each zone's people count series to FILE (CSV;\n"
            "                        the density analyser, every density.interval seconds)\n"
            "  -s, --scene FILE      scene description (docs/scene.md)\n"
            "  -S, --set KEY=VALUE   set any option below (repeatable; wins over the scene)\n"
            "      --from SEC        start at this time (same as --set input.from=SEC)\n"
            "      --to SEC          stop after this time (same as --set input.to=SEC)\n"
            "  -a, --analysers LIST  comma-separated analysers to run, or 'all' or 'none'\n"
            "                        (default all; available:");
    if (!cls[0]) fprintf(f, " none yet");
    for (int i = 0; cls[i]; i++) fprintf(f, " %s", cls[i]->name);
    fprintf(f, ")\n"
               "      --camera NAME     camera name in events (default: the scene's, else the "
               "input's file name)\n"
               "  -p, --progress        show progress on stderr (default when stderr is a "
               "terminal)\n"
               "      --no-progress     never show progress\n"
               "      --profile         at the end, where the time went: each analyser, the "
               "ingest\n"
               "                        thread, the rest of the process (stderr)\n"
               "  -q, --quiet           only errors on stderr\n"
               "  -v, --verbose         more detail on stderr (twice: debugging detail)\n"
               "  -h, --help            this help\n"
               "\nOptions (vigie options prints them with more detail):\n");
    const vg_option_group_t *const *groups = vg_option_groups();
    for (int g = 0; groups[g]; g++)
        for (const vg_option_t *o = groups[g]->options; o && o->name; o++) {
            char def[96], range[160], name[96];
            vg_opt_format_default(o, def, sizeof(def));
            vg_opt_format_range(o, range, sizeof(range));
            snprintf(name, sizeof(name), "%s.%s", groups[g]->name, o->name);
            fprintf(f, "  %-28s %s [%s; default %s%s%s]\n", name, o->help, range,
                    def[0] ? def : "\"\"", o->unit ? " " : "", o->unit ? o->unit : "");
        }
    fprintf(f, "\nExit status: 0 done; 1 input unreadable, damaged or lost; 2 bad command "
               "line, scene or option; 130 interrupted.\n");
}

/* A count sample as a CSV row (names quoted as CSV wants), flushed: a crash loses none. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_count(void *opaque, const vg_count_t *c)
{
    FILE *f = opaque;
    fprintf(f, "%.3f,%lld,", c->t, (long long)c->frame);
    csv_field(f, c->camera);
    fputc(',', f);
    csv_field(f, c->zone);
    fprintf(f, ",%.2f,%.0f,", c->count, c->count_detector);
    if (c->count_occupancy >= 0) fprintf(f, "%.2f", c->count_occupancy);
    fputc(',', f);
    if (c->area > 0) fprintf(f, "%.2f", c->area);
    fputc(',', f);
    if (c->density >= 0) fprintf(f, "%.3f", c->density);
    fputc('\n', f);
    return fflush(f) == 0 && !ferror(f) ? 0 : VG_EIO;
}

/* What was raised, per event type, for the summary at the end of a run: the events go on to the
 * writer unchanged. */
typedef struct summary {
    vg_event_writer_t *writer;
    int64_t starts[VG_EVENT_NB];
    double first[VG_EVENT_NB], last[VG_EVENT_NB];
    char zones[VG_EVENT_NB][160]; /* the zones named, comma-separated, as many as fit */
} summary_t;

static int summary_write(void *opaque, const vg_event_t *ev)
{
    summary_t *sm = opaque;
    if (ev->phase == VG_PHASE_START && (unsigned)ev->type < VG_EVENT_NB) {
        int k = ev->type;
        if (!sm->starts[k]++) sm->first[k] = ev->t;
        sm->last[k] = ev->t;
        /* a new zone's name joins the list, as many as fit ("a,b": ",a,b," holds ",a,") */
        char *z = sm->zones[k], list[sizeof(sm->zones[k]) + 2], name[VG_EVENT_NAME_MAX + 2];
        size_t len = strlen(z);
        snprintf(list, sizeof(list), ",%s,", z);
        snprintf(name, sizeof(name), ",%s,", ev->zone);
        if (ev->zone[0] && !strstr(list, name) && len + strlen(ev->zone) + 2 < sizeof(sm->zones[k]))
            snprintf(z + len, sizeof(sm->zones[k]) - len, "%s%s", len ? "," : "", ev->zone);
    }
    return vg_event_writer_write(sm->writer, ev);
}

/* The one-screen summary: per event type, how many started, when the first and the last, where;
 * then what to look at next. */
static void summary_print(const summary_t *sm, const char *output, int64_t records)
{
    int any = 0;
    for (int k = 0; k < VG_EVENT_NB; k++) any |= sm->starts[k] > 0;
    if (!any) {
        fprintf(stderr, "  nothing was raised%s\n",
                records ? ""
                        : " (with a scene, zones and lines give the rules something to watch)");
        return;
    }
    fprintf(stderr, "  %-18s %6s  %-26s %s\n", "event type", "starts", "first .. last (s)",
            "where");
    for (int k = 0; k < VG_EVENT_NB; k++) {
        if (!sm->starts[k]) continue;
        char when[40];
        snprintf(when, sizeof(when), "%.1f .. %.1f", sm->first[k], sm->last[k]);
        fprintf(stderr, "  %-18s %6lld  %-26s %s\n", vg_event_type_name(k),
                (long long)sm->starts[k], when, sm->zones[k][0] ? sm->zones[k] : "-");
    }
    if (output)
        fprintf(stderr,
                "  each event is a start and an end record in %s (docs/events.md); next: the "
                "server and its console, docs/server.md\n",
                output);
}

static int exit_code_for(int err)
{
    if (err == VG_ESTOPPED) return EXIT_SIGNAL;
    if (err == VG_ESYNTAX || err == VG_EOPTION || err == VG_ERANGE) return EXIT_USAGE;
    return EXIT_INPUT;
}

/* Settings expected to need more memory than pipeline.memory_limit are refused before the
 * first frame (an input.width of 8192 with upscaling and a long queue would take gigabytes). */
static int memory_check(const vg_scene_t *scene, const vg_settings_t *cli,
                        const vg_source_info_t *info, int color)
{
    vg_settings_t *all = NULL;
    double limit = 0, need = 0;
    if (vg_settings_new(&all) == 0 && vg_settings_merge(all, scene->settings) == 0 &&
        vg_settings_merge(all, cli) == 0)
        need = vg_pipeline_memory_mb(all, info->in_w, info->in_h, color, &limit);
    vg_settings_free(&all);
    if (need <= limit) return 0;
    fprintf(stderr,
            "vigie: error: these settings would need about %.0f MB for this %dx%d input "
            "(analysis size from input.width/height/upscale, pipeline.queue), more than "
            "pipeline.memory_limit (%.0f MB): lower them, or raise the limit if this machine "
            "has the memory\n",
            need, info->in_w, info->in_h, limit);
    return -1;
}

/* --profile: each stage's time per frame (wall, and the analysis thread's CPU), the ingest
 * thread's CPU, the inference thread's busy time (detector, pose: wall time of a thread that
 * computes), and the rest of the process's CPU (FFmpeg's decoder threads, the slice-job pool),
 * per frame and in cores at the video's own pace. */
static void print_profile(const vg_pipeline_t *pipe, int64_t frames, double video_s, double wall)
{
    vg_stage_time_t t[64];
    double ingest = 0, stages = 0;
    int n = vg_pipeline_times(pipe, t, 64, &ingest);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double total = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                   ru.ru_stime.tv_usec * 1e-6;
    double fr = frames > 0 ? (double)frames : 1, pace = video_s > 0 ? video_s : 1;
    fprintf(stderr,
            "vigie: profile: %lld frames, %.1f s of video in %.1f s; CPU %.2f s (%.3f cores at "
            "the video's pace)\n",
            (long long)frames, video_s, wall, total, total / pace);
    fprintf(stderr, "  %-22s %12s %12s %10s %8s\n", "part", "wall ms/fr", "cpu ms/fr", "cpu s",
            "share");
    for (int i = 0; i < n; i++) {
        stages += t[i].cpu;
        fprintf(stderr, "  %-22s %12.3f %12.3f %10.2f %7.1f%%\n", t[i].name, 1e3 * t[i].wall / fr,
                1e3 * t[i].cpu / fr, t[i].cpu, total > 0 ? 100 * t[i].cpu / total : 0);
    }
    vg_stage_time_t et;
    int64_t held = 0;
    if (vg_pipeline_view(pipe, NULL, &et, &held) != VG_CAMERA_FIXED) {
        stages += et.cpu;
        fprintf(stderr, "  %-22s %12.3f %12.3f %10.2f %7.1f%%  (%lld frames held: camera moving)\n",
                et.name, 1e3 * et.wall / fr, 1e3 * et.cpu / fr, et.cpu,
                total > 0 ? 100 * et.cpu / total : 0, (long long)held);
    }
    fprintf(stderr, "  %-22s %12s %12.3f %10.2f %7.1f%%\n", "ingest (decode, scale)", "-",
            1e3 * ingest / fr, ingest, total > 0 ? 100 * ingest / total : 0);
    double rest = total - stages - ingest;
    vg_infer_stats_t is;
    if (vg_infer_running_stats(&is)) { /* the inference thread, while the pipeline holds it */
        fprintf(stderr, "  %-22s %12s %12.3f %10.2f %7.1f%%  (%lld looks)\n", "inference: detector",
                "-", 1e3 * (is.busy - is.pose_busy) / fr, is.busy - is.pose_busy,
                total > 0 ? 100 * (is.busy - is.pose_busy) / total : 0, (long long)is.done);
        fprintf(stderr, "  %-22s %12s %12.3f %10.2f %7.1f%%  (%lld runs)\n", "inference: pose", "-",
                1e3 * is.pose_busy / fr, is.pose_busy, total > 0 ? 100 * is.pose_busy / total : 0,
                (long long)is.poses);
        rest -= is.busy;
    }
    fprintf(stderr, "  %-22s %12s %12.3f %10.2f %7.1f%%\n", "rest (decoder threads,", "-",
            1e3 * rest / fr, rest, total > 0 ? 100 * rest / total : 0);
    fprintf(stderr, "  %-22s\n", " slice-job pool)");
}

int cmd_analyze(int argc, char **argv)
{
    enum { OPT_FROM = 256, OPT_TO, OPT_CAMERA, OPT_NOPROGRESS, OPT_COUNTS, OPT_PROFILE };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"counts", required_argument, NULL, OPT_COUNTS},
        {"scene", required_argument, NULL, 's'},
        {"set", required_argument, NULL, 'S'},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"analysers", required_argument, NULL, 'a'},
        {"camera", required_argument, NULL, OPT_CAMERA},
        {"progress", no_argument, NULL, 'p'},
        {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
        {"profile", no_argument, NULL, OPT_PROFILE},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *scene_path = NULL, *analysers = NULL, *camera = NULL;
    const char *counts_path = NULL;
    FILE *counts = NULL;
    int progress = -1, c, ret, code = 0, profile = 0;
    vg_settings_t *cli = NULL;
    vg_scene_t *scene = NULL;
    vg_pipeline_t *pipe = NULL;
    vg_source_t *src = NULL;
    vg_source_params_t sp;
    FILE *out = stdout;
    char err[1024] = "";

    memset(&sp, 0, sizeof(sp));
    if (vg_settings_new(&cli) < 0) {
        fprintf(stderr, "vigie: error: out of memory\n");
        code = EXIT_INPUT;
        goto end;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:S:a:pqvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case OPT_COUNTS:
            counts_path = optarg;
            break;
        case OPT_PROFILE:
            profile = 1;
            break;
        case 's':
            scene_path = optarg;
            break;
        case 'S':
            if (cli_add_set(cli, optarg) < 0) {
                code = EXIT_USAGE;
                goto end;
            }
            break;
        case OPT_FROM:
            vg_settings_add(cli, "input.from", optarg, "--from");
            break;
        case OPT_TO:
            vg_settings_add(cli, "input.to", optarg, "--to");
            break;
        case 'a':
            analysers = optarg;
            break;
        case OPT_CAMERA:
            camera = optarg;
            break;
        case 'p':
            progress = 1;
            break;
        case OPT_NOPROGRESS:
            progress = 0;
            break;
        case 'q':
            vg_log_set_level(VG_LOG_ERROR);
            break;
        case 'v': /* twice: debugging detail */
            vg_log_set_level(vg_log_get_level() >= VG_LOG_VERBOSE ? VG_LOG_DEBUG : VG_LOG_VERBOSE);
            break;
        case 'h':
            analyze_usage(stdout);
            goto end;
        default:
            fprintf(stderr, "vigie analyze: see 'vigie analyze --help'\n");
            code = EXIT_USAGE;
            goto end;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "vigie analyze: no INPUT given\n"
                                       : "vigie analyze: give one INPUT only\n");
        fprintf(stderr, "usage: vigie analyze [options] INPUT (see vigie analyze --help)\n");
        code = EXIT_USAGE;
        goto end;
    }
    const char *input = argv[optind];

    /* Scene first, then the command line, so --set wins. */
    if (scene_path) {
        ret = vg_scene_load(&scene, scene_path, err, sizeof(err));
        if (ret < 0) {
            fprintf(stderr, "vigie: error: %s\n", err);
            code = ret == VG_ENOMEM ? EXIT_INPUT : EXIT_USAGE;
            goto end;
        }
    } else if ((ret = vg_scene_new_empty(&scene)) < 0) {
        code = EXIT_INPUT;
        goto end;
    }
    if (!camera) camera = scene->camera[0] ? scene->camera : NULL;
    char base[256];
    if (!camera) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s", input);
        snprintf(base, sizeof(base), "%s", basename(tmp));
        camera = base;
    }
    vg_pipeline_spec_t spec = {scene, camera, cli, analysers, NULL};
    if ((ret = vg_pipeline_new_for_scene(&pipe, &spec, &sp, err, sizeof(err))) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err[0] ? err : vg_strerror(ret));
        code = ret == VG_ENOMEM ? EXIT_INPUT : EXIT_USAGE;
        goto end;
    }

    if (output) {
        out = fopen(output, "w");
        if (!out) {
            fprintf(stderr, "vigie: error: %s: cannot write the events file: %s\n", output,
                    strerror(errno));
            out = stdout;
            code = EXIT_USAGE;
            goto end;
        }
    }

    if (counts_path) {
        counts = fopen(counts_path, "w");
        if (!counts || fputs("t,frame,camera,zone,count,count_detector,count_occupancy,area_m2,"
                             "density\n",
                             counts) < 0) {
            fprintf(stderr, "vigie: error: %s: cannot write the counts file: %s\n", counts_path,
                    strerror(errno));
            code = EXIT_USAGE;
            goto end;
        }
    }
    vg_count_sink_t count_sink = {write_count, counts};
    if (counts) vg_pipeline_set_count_sink(pipe, &count_sink);

    running = pipe;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* a named pipe nobody writes to, or a camera that does not answer, yields to the signal */
    ret = vg_source_open_cancellable(&src, input, &sp, NULL, &got_signal);
    if (ret < 0) {
        code = exit_code_for(ret);
        goto end;
    }
    vg_source_info_t info;
    vg_source_get_info(src, &info);
    if (memory_check(scene, cli, &info, sp.color) < 0) {
        code = EXIT_USAGE;
        goto end;
    }
    if (scene->width && (scene->width != info.in_w || scene->height != info.in_h)) {
        fprintf(stderr,
                "vigie: error: %s: the scene was drawn for %dx%d pictures but %s is %dx%d; "
                "redraw the scene or fix its size\n",
                scene_path, scene->width, scene->height, vg_source_url(src), info.in_w, info.in_h);
        code = EXIT_USAGE;
        goto end;
    }
    vg_log("input", VG_LOG_VERBOSE, "%s: %s/%s %dx%d, %.3f fps, %.2f s; analysing at %dx%d",
           vg_source_url(src), info.format, info.codec, info.in_w, info.in_h, info.fps,
           info.duration, info.w, info.h);

    progress_ctx_t pc = {progress, isatty(2), vg_source_url(src), 0, sp.from, 0};
    if (sp.to > 0)
        pc.total = sp.to - sp.from;
    else if (!sp.loop && info.duration > 0)
        pc.total = info.duration - sp.from;
    if (progress < 0) pc.enabled = pc.tty && vg_log_get_level() >= VG_LOG_INFO;
    vg_event_writer_t writer;
    vg_event_writer_init(&writer, out);
    summary_t summary = {.writer = &writer};
    vg_event_sink_t sink = {summary_write, &summary};
    double t0 = vg_clock_now(NULL);
    ret = vg_pipeline_run(pipe, src, &sink, on_progress, &pc);
    double wall = vg_clock_now(NULL) - t0;
    if (cli_log.progress_shown) {
        fputs("\r\033[K", stderr);
        cli_log.progress_shown = 0;
    }
    vg_source_stats_t st;
    vg_source_get_stats(src, &st);
    if (ret == VG_EIO && !cli_log.errors)
        fprintf(stderr, "vigie: error: %s: cannot write events: %s\n",
                output ? output : "standard output", strerror(errno));
    if (vg_log_get_level() >= VG_LOG_INFO || ret < 0)
        fprintf(stderr,
                "vigie: %s: %lld frames analysed (last at %.2f s) in %.2f s, %.0f fps; %lld "
                "events%s%s\n",
                vg_source_url(src), (long long)st.frames, pc.last_t, wall,
                wall > 0 ? st.frames / wall : 0, (long long)writer.count,
                ret == VG_ESTOPPED ? " (stopped)"
                : ret < 0          ? " (incomplete)"
                                   : "",
                st.reconnects ? "; reconnected" : "");
    if (vg_log_get_level() >= VG_LOG_INFO) summary_print(&summary, output, writer.count);
    if (profile) print_profile(pipe, st.frames, pc.last_t, wall);
    if (ret < 0) code = exit_code_for(ret);
end:
    running = NULL;
    vg_pipeline_free(&pipe);
    vg_source_free(&src);
    vg_scene_free(&scene);
    vg_settings_free(&cli);
    vg_opt_free(&sp, vg_source_option_group.options);
    if (counts && fclose(counts) != 0 && !code) {
        fprintf(stderr, "vigie: error: %s: %s\n", counts_path, strerror(errno));
        code = EXIT_INPUT;
    }
    if (out && out != stdout && fclose(out) != 0 && !code) {
        fprintf(stderr, "vigie: error: %s: %s\n", output, strerror(errno));
        code = EXIT_INPUT;
    }
    return code;
}
