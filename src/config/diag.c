/*
 * Configuration diagnostics: a bounded list of located errors and their one-line rendering.
 *
 * The format is fixed because people and editors parse it: `file:line:col: error: key.path:
 * problem; hint`, with the key path left out when a problem concerns no key (a YAML syntax
 * error) and the hint when there is none. A diag belongs to one load on one thread.
 */
#include "config/diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"

void
pc_diag_init(struct pc_diag *diag)
{
    memset(diag, 0, sizeof(*diag));
}

static void
free_entry(struct pc_diag_entry *e)
{
    pc_free(e->file);
    pc_free(e->key_path);
    pc_free(e->problem);
    pc_free(e->hint);
    memset(e, 0, sizeof(*e));
}

void
pc_diag_free(struct pc_diag *diag)
{
    if (diag == NULL) {
        return;
    }
    for (size_t i = 0; i < diag->n_entries; i++) {
        free_entry(&diag->entries[i]);
    }
    diag->n_entries = 0;
    diag->n_errors = 0;
}

void
pc_diag_add(struct pc_diag *diag, const char *file, unsigned line, unsigned col,
            const char *key_path, const char *hint, const char *problem_fmt, ...)
{
    struct pc_diag_entry *e;
    char problem[1024];
    va_list ap;

    diag->n_errors++;
    if (diag->n_entries == PC_DIAG_MAX) {
        return;
    }

    va_start(ap, problem_fmt);
    vsnprintf(problem, sizeof(problem), problem_fmt, ap);
    va_end(ap);

    e = &diag->entries[diag->n_entries];
    e->file = pc_strdup(file != NULL ? file : "");
    e->line = line;
    e->col = col;
    e->key_path = pc_strdup(key_path != NULL ? key_path : "");
    e->problem = pc_strdup(problem);
    e->hint = hint != NULL ? pc_strdup(hint) : NULL;
    if (e->file == NULL || e->key_path == NULL || e->problem == NULL
        || (hint != NULL && e->hint == NULL)) {
        /* Out of memory drops the entry; n_errors still counts it, so the load still fails. */
        free_entry(e);
        return;
    }
    diag->n_entries++;
}

void
pc_diag_format(const struct pc_diag *diag, size_t i, char *buf, size_t size)
{
    const struct pc_diag_entry *e = &diag->entries[i];
    bool has_key = e->key_path[0] != '\0';

    snprintf(buf, size, "%s:%u:%u: error: %s%s%s%s%s", e->file, e->line, e->col, e->key_path,
             has_key ? ": " : "", e->problem, e->hint != NULL ? "; " : "",
             e->hint != NULL ? e->hint : "");
}

void
pc_diag_print(const struct pc_diag *diag, FILE *out)
{
    char line[2048];
    size_t dropped = diag->n_errors - diag->n_entries;

    for (size_t i = 0; i < diag->n_entries; i++) {
        pc_diag_format(diag, i, line, sizeof(line));
        fprintf(out, "%s\n", line);
    }
    if (dropped > 0) {
        fprintf(out, "%zu more error%s\n", dropped, dropped == 1 ? "" : "s");
    }
}
