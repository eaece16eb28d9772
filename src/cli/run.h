/*
 * `portcullis run`: the serving process. Loads and validates the configuration, opens the
 * listening sockets, starts the workers and the admin listener, then runs the control loop that
 * handles reloads (SIGHUP and file changes) and the graceful drain (SIGTERM, SIGINT).
 */
#ifndef PC_CLI_RUN_H
#define PC_CLI_RUN_H

/* Runs until drained. argv[0] is "run". Returns the process exit code. */
int pc_cli_run(int argc, char **argv);

/* `portcullis validate -c FILE`: returns 0 when valid, 1 when not (errors on stderr). */
int pc_cli_validate(int argc, char **argv);

#endif
