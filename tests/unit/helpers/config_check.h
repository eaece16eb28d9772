/*
 * Configuration checks for unit tests: load YAML text through the real loader and compare its
 * diagnostics, formatted as `portcullis validate` prints them, with the expected lines. The
 * diagnostics of the last load stay in test_config_diag until the next load or
 * test_config_teardown. Linked into every unit test; single-threaded, as cmocka runs tests.
 */
#ifndef PC_TESTS_CONFIG_CHECK_H
#define PC_TESTS_CONFIG_CHECK_H

#include <stdbool.h>

#include "config/config.h"
#include "config/diag.h"

/* The last load's diagnostics. */
extern struct pc_diag test_config_diag;

/* cmocka setup and teardown: an empty diagnostics list, and its release. Return 0. */
int test_config_setup(void **state);
int test_config_teardown(void **state);

/* Loads yaml (as the file "t.yaml"); returns the snapshot (the caller unrefs it) or NULL. */
struct pc_config *test_config_load(const char *yaml);

/* Prints every diagnostic of the last load, for a failing test's output. */
void test_config_dump(void);

/* Whether a diagnostic line of the last load is exactly want, or holds text. */
bool test_config_has_error(const char *want);
bool test_config_mentions(const char *text);

/* Fails the test unless yaml is refused with the diagnostic line want. */
void test_config_expect_error(const char *yaml, const char *want);

/* Fails the test unless yaml loads; returns the snapshot, which the caller unrefs. */
struct pc_config *test_config_expect_ok(const char *yaml);

#endif
