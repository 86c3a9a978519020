/*
 * The subcommands users run by hand (check config, debug parse, debug
 * relabel). They live in the library so tests can call them directly;
 * main.c only dispatches.
 */
#ifndef PROMLET_CLI_H
#define PROMLET_CLI_H

int	cli_check_config(int, char **);
int	cli_debug_parse(int, char **);
int	cli_debug_relabel(int, char **);

#endif
