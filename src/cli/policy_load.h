/*
 * Loading policies from disk for the policy subcommands: reading files and walking
 * directories the way `opa eval -d` does.
 */
#ifndef PC_CLI_POLICY_LOAD_H
#define PC_CLI_POLICY_LOAD_H

#include <stddef.h>

#include "rego/rego.h"

/*
 * Reads a whole file. Returns a heap buffer (NUL-terminated, freed with pc_rego_free) and sets
 * *len, or NULL with errno set.
 */
char *pc_cli_read_file(const char *path, size_t *len);

/*
 * Adds path to the compiler: a .rego file as a module, a .json or .yaml/.yml file as data at
 * the root, or a directory recursively (data files in subdirectories go below the path of
 * their directory, relative to path, as OPA's loader does). Files whose name ends in
 * _test.rego are skipped unless with_tests. Returns 0 or an error code with err filled.
 */
int pc_cli_policy_load(struct pc_rego_compiler *c, const char *path, int with_tests,
                       struct pc_rego_error *err);

/* Calls fn(path, ud) for every regular file below dir, in sorted order; returns 0 or -1. */
int pc_cli_walk_files(const char *dir, int (*fn)(const char *path, void *ud), void *ud);

#endif
