/*
 * `portcullis policy conformance`: runs OPA's YAML conformance cases against the engine.
 */
#ifndef PC_CLI_POLICY_CONFORMANCE_H
#define PC_CLI_POLICY_CONFORMANCE_H

/*
 * Runs the cases in every *.yaml file below each DIR in argv (after the subcommand name at
 * argv[0]); options --baseline FILE (case ids that must pass), --write-baseline FILE (write the
 * ids that passed; an id reads "<file below DIR>#<case number>:<note>", one a line, and lines
 * starting with # are comments), -v (print passing cases too). Prints one line per failing case, a
 * "<folder>: N passed, N failed" line per folder and "N passed, N failed" last. Returns 0,
 * 1 when a baseline case failed, 2 on a usage error.
 */
int pc_cli_policy_conformance(int argc, char **argv);

#endif
