/*
 * Configuration checks for unit tests (config_check.h).
 */
#include "helpers/config_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define LINE_MAX_BYTES 2048

struct pc_diag test_config_diag;

int
test_config_setup(void **state)
{
    pc_diag_init(&test_config_diag);
    return 0;
}

int
test_config_teardown(void **state)
{
    pc_diag_free(&test_config_diag);
    return 0;
}

struct pc_config *
test_config_load(const char *yaml)
{
    pc_diag_free(&test_config_diag);
    pc_diag_init(&test_config_diag);
    return pc_config_load_buffer("t.yaml", yaml, strlen(yaml), &test_config_diag);
}

void
test_config_dump(void)
{
    char line[LINE_MAX_BYTES];

    for (size_t i = 0; i < test_config_diag.n_entries; i++) {
        pc_diag_format(&test_config_diag, i, line, sizeof(line));
        print_message("  got: %s\n", line);
    }
}

/* Whether a diagnostic line equals text (is_whole) or holds it. */
static bool
find_line(const char *text, bool is_whole)
{
    char line[LINE_MAX_BYTES];

    for (size_t i = 0; i < test_config_diag.n_entries; i++) {
        pc_diag_format(&test_config_diag, i, line, sizeof(line));
        if (is_whole ? strcmp(line, text) == 0 : strstr(line, text) != NULL) {
            return true;
        }
    }
    return false;
}

bool
test_config_has_error(const char *want)
{
    return find_line(want, true);
}

bool
test_config_mentions(const char *text)
{
    return find_line(text, false);
}

void
test_config_expect_error(const char *yaml, const char *want)
{
    struct pc_config *cfg = test_config_load(yaml);

    if (cfg != NULL || !test_config_has_error(want)) {
        print_message("want: %s\n", want);
        test_config_dump();
        pc_config_unref(cfg);
        fail_msg("expected diagnostic not found");
    }
}

struct pc_config *
test_config_expect_ok(const char *yaml)
{
    struct pc_config *cfg = test_config_load(yaml);

    if (cfg == NULL) {
        test_config_dump();
        fail_msg("configuration was refused");
    }
    return cfg;
}
