/* Subcommands of the vigie command (each in its own file, public API only; the table is in
 * main.c) and what they share: the exit codes, --set parsing, the log sink's state. */
#ifndef VIGIE_CLI_H
#define VIGIE_CLI_H

#include <vigie/opt.h>
#include <vigie/source.h>

/* Exit codes of every subcommand. */
#define EXIT_INPUT  1   /* the input could not be read completely, or analysis failed */
#define EXIT_USAGE  2   /* bad command line, scene, configuration or option value */
#define EXIT_SIGNAL 130 /* stopped by a signal */

/* The log sink's state (main.c): a progress line on screen is cleared before a message. */
typedef struct cli_log {
    int progress_shown; /* a progress line is on screen and must be cleared first */
    int errors;
} cli_log_t;
extern cli_log_t cli_log;

/** Add a --set KEY=VALUE argument to @s; on a malformed one, prints why and returns -1. */
int cli_add_set(vg_settings_t *s, const char *arg);

/**
 * The first frame of @path at the picture's own size, in colour (the still-picture modes of vigie
 * eval): 0 with *@src and *@fr set (the caller frees both), or the error, said on stderr.
 */
int cli_read_picture(const char *path, vg_source_t **src, vg_frame_t **fr);

int cmd_analyze(int argc, char **argv);
int cmd_options(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int eval_frames(int argc, char **argv);
int eval_events(int argc, char **argv);
int eval_count(int argc, char **argv);
int eval_boxes(int argc, char **argv);
int eval_images(int argc, char **argv);
int cmd_detect(int argc, char **argv);
/* Under systemd (stderr is the journal's stream), send the log to the journal with its fields
 * (cli/journal.c): 1 when it does, 0 when the log stays on stderr. */
int cli_journal_open(void);
/* serve, user, audit (cli/serve.c) */
int cmd_server(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

#endif
