/*
 * `portcullis policy`: the Rego engine on the command line.
 *
 *   portcullis policy eval [-d PATH]... [-i INPUT] [--strict] QUERY
 *   portcullis policy test [-v] PATH...
 *   portcullis policy conformance [--baseline FILE] [--write-baseline FILE] DIR...
 *
 * eval prints results shaped as `opa eval` prints them; test runs test_* rules as `opa test`
 * does; conformance runs OPA's YAML test cases and prints per-folder and total counts.
 */
#ifndef PC_CLI_POLICY_H
#define PC_CLI_POLICY_H

/*
 * Runs the policy command. argv[0] is "policy" and argv[1] the subcommand; argv is borrowed.
 * Returns the process exit status: 0 on success, 1 when evaluation, a test or a required
 * conformance case failed, 2 on a usage error.
 */
int pc_cli_policy(int argc, char **argv);

#endif
