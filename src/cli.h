/*
 * cli.h - the commands of the command line, for other faces (the demo
 * runs them in turn).
 */
#ifndef SCHAKEL_CLI_H
#define SCHAKEL_CLI_H

/* Runs command argv[0] with its arguments on data directory dir. */
int cli_run(const char *dir, int argc, char **argv);

/* `schakel demo`: the whole pipeline on the bundled sample data. */
int cmd_demo(const char *dir, int argc, char **argv);

#endif
