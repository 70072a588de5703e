/*
 * The vigie command: a table of subcommands (name, arguments, what it does, its function), from
 * which main() dispatches and `vigie help` is written. Each subcommand lives in its own file,
 * built only on the public API (<vigie/vigie.h>, <vigie/store.h>, <vigie/server.h>); their exit
 * codes are cli.h's.
 *
 * The program installs the library's sinks and settings here, from the environment (the library
 * reads none): the log (errors and warnings tagged, a progress line cleared first); where the
 * models are besides ./models ($VIGIE_MODELS); and the troubleshooting sink (<vigie/debug.h>)
 * when VIGIE_DEBUG_ABANDONED=DIR is set — the abandoned-object stage's pictures
 * (DIR/abNNNNNN.png, every VIGIE_DEBUG_EVERY frames, 15 by default) and measures
 * (DIR/candidates.txt) — or VG_NN_PROFILE=1 (the inference core's time per op).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/vigie.h>

#include "cli.h"

cli_log_t cli_log;

static void log_sink(void *opaque, int level, const char *component, const char *msg)
{
    cli_log_t *l = opaque;
    (void)component;
    if (l->progress_shown) {
        fputs("\r\033[K", stderr);
        l->progress_shown = 0;
    }
    if (level == VG_LOG_ERROR) l->errors++;
    if (level <= VG_LOG_WARNING)
        fprintf(stderr, "vigie: %s: %s\n", vg_log_level_name(level), msg);
    else
        fprintf(stderr, "vigie: %s\n", msg);
}

int cli_read_picture(const char *path, vg_source_t **src, vg_frame_t **fr)
{
    vg_source_params_t sp;
    memset(&sp, 0, sizeof(sp));
    *src = NULL, *fr = NULL;
    vg_opt_defaults(&sp, vg_source_option_group.options);
    sp.width = 0; /* the picture's own size */
    sp.color = 1;
    int ret = vg_source_open(src, path, &sp, NULL);
    if (ret == 0) ret = vg_source_read(*src, fr);
    vg_opt_free(&sp, vg_source_option_group.options);
    if (ret < 0) {
        fprintf(stderr, "vigie: error: %s: cannot read the picture: %s\n", path, vg_strerror(ret));
        vg_source_free(src);
    }
    return ret;
}

int cli_add_set(vg_settings_t *s, const char *arg)
{
    char err[512];
    if (vg_settings_add_arg(s, arg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- troubleshooting pictures ---- */

static struct {
    const char *dir; /* VIGIE_DEBUG_ABANDONED, or NULL */
    int every;
    int profile;          /* VG_NN_PROFILE */
    pthread_mutex_t lock; /* the measures file is shared by every camera */
} dbg = {NULL, 15, 0, PTHREAD_MUTEX_INITIALIZER};

static int debug_want(void *opaque, const char *component, int64_t frame)
{
    (void)opaque;
    if (!strcmp(component, "nn.profile")) return dbg.profile;
    return dbg.dir && !strcmp(component, "abandoned") && frame % dbg.every == 0;
}

static void debug_picture(void *opaque, const char *component, int64_t frame, const vg_image_t *img)
{
    char path[4096];
    (void)opaque;
    (void)component;
    snprintf(path, sizeof(path), "%s/ab%06lld.png", dbg.dir, (long long)frame);
    if (vg_image_write_png(path, img) < 0)
        fprintf(stderr, "vigie: warning: %s: cannot write the debugging picture\n", path);
}

static void debug_text(void *opaque, const char *component, const char *line)
{
    char path[4096];
    (void)opaque;
    (void)component;
    snprintf(path, sizeof(path), "%s/candidates.txt", dbg.dir);
    pthread_mutex_lock(&dbg.lock);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
    pthread_mutex_unlock(&dbg.lock);
}

static void install_debug_sink(void)
{
    const char *dir = getenv("VIGIE_DEBUG_ABANDONED"), *every = getenv("VIGIE_DEBUG_EVERY");
    const char *models = getenv("VIGIE_MODELS");
    if (models && *models) vg_model_set_search_dir(models);
    dbg.profile = getenv("VG_NN_PROFILE") != NULL;
    if (dir && *dir) dbg.dir = dir;
    if (!dbg.dir && !dbg.profile) return;
    if (every && atoi(every) > 0) dbg.every = atoi(every);
    vg_debug_sink_t s = {debug_want, debug_picture, debug_text, NULL};
    vg_debug_set_sink(&s);
}

/* ---- commands ---- */

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

typedef struct command {
    const char *name;
    const char *alias; /* another spelling, or NULL */
    const char *args;
    const char *help;
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
} command_t;

static const command_t commands[] = {
    {"analyze", "analyse", "INPUT",
     "the analysers over a video, stream, image sequence or device: events", cmd_analyze},
    {"detect", NULL, "IMAGE|VIDEO", "objects (and poses) the detector sees, as JSON Lines",
     cmd_detect},
    {"eval", NULL, "MODE",
     "measure against ground truth: bgs, frames, events, count, boxes, images", cmd_eval},
    {"serve", NULL, "--config F", "run cameras, store and HTTP API (docs/server.md)", cmd_server},
    {"user", NULL, "add|disable", "manage the server's users", cmd_server},
    {"audit", NULL, "verify|keygen", "check the audit trail; make its signing key", cmd_server},
    {"report", NULL, "--config F", "the evaluation report of a period: HTML and CSV", cmd_report},
    {"calibrate", NULL, "--config F", "replay recorded footage, sweep a threshold; report, choose",
     cmd_calibrate},
    {"options", NULL, "[GROUP]", "list every option (name, type, default, range, help)",
     cmd_options},
    {"version", "--version", "", "print the version", cmd_version},
    {"help", "--help", "", "this list", cmd_help},
};
#define NB_COMMANDS (int)(sizeof(commands) / sizeof(*commands))

static void usage(FILE *f)
{
    fprintf(f,
            "vigie %s — auditable video analytics for the safety of public places\n\n"
            "usage: vigie COMMAND [options]\n\n",
            VG_VERSION_STRING);
    for (int i = 0; i < NB_COMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-24s %s\n", left, commands[i].help);
    }
    fprintf(f, "\n'vigie COMMAND --help' tells more.\n"
               "Exit status: 0 done; 1 input unreadable, damaged or lost; 2 bad command line, "
               "scene, configuration or option; 130 interrupted.\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("vigie %s\n", VG_VERSION_STRING);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    vg_log_set_sink(log_sink, &cli_log);
    install_debug_sink();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h")) return cmd_help(argc - 1, argv + 1);
    for (int i = 0; i < NB_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name) ||
            (commands[i].alias && !strcmp(argv[1], commands[i].alias)))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vigie: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
