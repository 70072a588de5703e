/* Subcommands of the vigie command (each in its own file, public API only). */
#ifndef VIGIE_CLI_H
#define VIGIE_CLI_H

#define EXIT_INPUT  1
#define EXIT_USAGE  2
#define EXIT_SIGNAL 130

#include <vigie/opt.h>

/** Add a --set KEY=VALUE argument to @s; on a malformed one, prints why and returns -1. */
int cli_add_set(vg_settings_t *s, const char *arg);

int cmd_eval(int argc, char **argv);
int eval_frames(int argc, char **argv);
int eval_events(int argc, char **argv);
int eval_count(int argc, char **argv);
int cmd_detect(int argc, char **argv);
/* serve, user, audit (cli/serve.c) */
int cmd_server(int argc, char **argv);

#endif
