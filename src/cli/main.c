/*
 * The portcullis command: parses the subcommand and hands over to it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/audit.h"
#include "cli/policy.h"
#include "cli/run.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: portcullis <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  run -c PATH [--workers N]    serve the configuration at PATH\n"
                 "  validate -c PATH             check a configuration and exit (1 on errors)\n"
                 "  policy eval|test|conformance evaluate and test Rego policies (policy --help)\n"
                 "  audit verify FILE --key PUB  check a decision log's chain and signatures\n"
                 "  --version                    print the version\n"
                 "  --help                       print this help\n"
                 "\n"
                 "PATH is a YAML file of Gateway API resources, or a directory of such files.\n"
                 "Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT drain and exit.\n");
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("portcullis %s (%s)\n", PC_VERSION, PC_GIT_REV);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) {
        return pc_cli_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0) {
        return pc_cli_validate(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "policy") == 0) {
        return pc_cli_policy(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "audit") == 0) {
        return pc_cli_audit(argc - 1, argv + 1);
    }
    fprintf(stderr, "portcullis: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
