/* Subcommands of the vigie command (each in its own file, public API only). */
#ifndef VIGIE_CLI_H
#define VIGIE_CLI_H

#define EXIT_INPUT  1
#define EXIT_USAGE  2
#define EXIT_SIGNAL 130

int cmd_eval(int argc, char **argv);
int cmd_detect(int argc, char **argv);

#endif
