/*
 * Diagnostics for configuration files: every error found in one run, each with its location.
 *
 * A message reads `path:line:col: error: <key path>: <problem>; <hint>` (1-based line and column
 * from libyaml marks). At most PC_DIAG_MAX errors are kept; further ones are counted. Owned by
 * whoever validates; single-threaded.
 */
#ifndef PC_CONFIG_DIAG_H
#define PC_CONFIG_DIAG_H

#include <stddef.h>
#include <stdio.h>

#define PC_DIAG_MAX 20

struct pc_diag_entry {
    char *file;
    unsigned line;
    unsigned col;
    char *key_path; /* "spec.rules[0].matches[0].path.type"; may be empty */
    char *problem;
    char *hint; /* NULL: none */
};

struct pc_diag {
    struct pc_diag_entry entries[PC_DIAG_MAX];
    size_t n_entries;
    size_t n_errors; /* including those past PC_DIAG_MAX */
};

/* Prepares an empty diag. */
void pc_diag_init(struct pc_diag *diag);

/* Releases the strings held by diag; the struct itself is the caller's. */
void pc_diag_free(struct pc_diag *diag);

/* Records one error; strings are copied. hint may be NULL. Out of memory only drops the entry. */
void pc_diag_add(struct pc_diag *diag, const char *file, unsigned line, unsigned col,
                 const char *key_path, const char *hint, const char *problem_fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Writes every entry, one per line, then "N more errors" if some were dropped. */
void pc_diag_print(const struct pc_diag *diag, FILE *out);

/* Formats entry i into buf as one line (without newline), for the log. */
void pc_diag_format(const struct pc_diag *diag, size_t i, char *buf, size_t size);

#endif
