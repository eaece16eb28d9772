/*
 * Unit tests for the bounded LRU map: lookups, replacement, expiry, eviction order, memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/lru.h"

static const char *
get_str(struct pc_lru *lru, const char *key, uint64_t now_ms)
{
    static char out[64];
    size_t len = 0;
    const char *v = pc_lru_get(lru, key, strlen(key), now_ms, &len);

    if (v == NULL) {
        return NULL;
    }
    snprintf(out, sizeof(out), "%.*s", (int)len, v);
    return out;
}

static void
put_str(struct pc_lru *lru, const char *key, const char *value, uint64_t expires_ms)
{
    assert_int_equal(pc_lru_put(lru, key, strlen(key), value, strlen(value), expires_ms), 0);
}

static void
test_lru_get_returns_what_was_put(void **state)
{
    struct pc_lru *lru = pc_lru_create(4);

    put_str(lru, "GET /a alice", "allow", 1000);
    put_str(lru, "GET /a bob", "deny", 1000);
    assert_string_equal(get_str(lru, "GET /a alice", 10), "allow");
    assert_string_equal(get_str(lru, "GET /a bob", 10), "deny");
    assert_null(get_str(lru, "GET /a carol", 10));
    assert_int_equal(pc_lru_size(lru), 2);
    pc_lru_destroy(lru);
}

static void
test_lru_keys_are_bytes_not_strings(void **state)
{
    struct pc_lru *lru = pc_lru_create(4);
    size_t len = 0;

    assert_int_equal(pc_lru_put(lru, "a\0b", 3, "one", 3, 100), 0);
    assert_int_equal(pc_lru_put(lru, "a\0c", 3, "two", 3, 100), 0);
    assert_memory_equal(pc_lru_get(lru, "a\0b", 3, 0, &len), "one", 3);
    assert_memory_equal(pc_lru_get(lru, "a\0c", 3, 0, &len), "two", 3);
    assert_null(pc_lru_get(lru, "a", 1, 0, &len));
    assert_int_equal(pc_lru_put(lru, "", 0, "", 0, 100), 0);
    assert_non_null(pc_lru_get(lru, "", 0, 0, &len));
    assert_int_equal(len, 0);
    pc_lru_destroy(lru);
}

static void
test_lru_put_replaces_same_key(void **state)
{
    struct pc_lru *lru = pc_lru_create(4);

    put_str(lru, "k", "old", 1000);
    put_str(lru, "k", "new", 2000);
    assert_int_equal(pc_lru_size(lru), 1);
    assert_string_equal(get_str(lru, "k", 1500), "new");
    pc_lru_destroy(lru);
}

static void
test_lru_expired_entry_is_gone(void **state)
{
    struct pc_lru *lru = pc_lru_create(4);

    put_str(lru, "k", "v", 1000);
    assert_string_equal(get_str(lru, "k", 999), "v");
    assert_null(get_str(lru, "k", 1000));
    assert_int_equal(pc_lru_size(lru), 0);
    pc_lru_destroy(lru);
}

static void
test_lru_evicts_least_recently_used(void **state)
{
    struct pc_lru *lru = pc_lru_create(3);

    put_str(lru, "a", "1", 1000);
    put_str(lru, "b", "2", 1000);
    put_str(lru, "c", "3", 1000);
    assert_non_null(get_str(lru, "a", 0)); /* a is now the most recent; b the least */
    put_str(lru, "d", "4", 1000);
    assert_int_equal(pc_lru_size(lru), 3);
    assert_null(get_str(lru, "b", 0));
    assert_string_equal(get_str(lru, "a", 0), "1");
    assert_string_equal(get_str(lru, "c", 0), "3");
    assert_string_equal(get_str(lru, "d", 0), "4");
    pc_lru_destroy(lru);
}

static void
test_lru_holds_many_entries_at_its_bound(void **state)
{
    struct pc_lru *lru = pc_lru_create(1000);
    char key[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        put_str(lru, key, key, 10);
    }
    assert_int_equal(pc_lru_size(lru), 1000);
    for (int i = 4000; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_string_equal(get_str(lru, key, 0), key);
    }
    snprintf(key, sizeof(key), "key-%d", 3999);
    assert_null(get_str(lru, key, 0));
    pc_lru_clear(lru);
    assert_int_equal(pc_lru_size(lru), 0);
    pc_lru_destroy(lru);
}

static void
test_lru_out_of_memory_leaves_map_usable(void **state)
{
    size_t before = pc_alloc_bytes();
    struct pc_lru *lru = pc_lru_create(4);

    put_str(lru, "a", "1", 1000);
    pc_alloc_fail_after(0);
    assert_int_equal(pc_lru_put(lru, "b", 1, "2", 1, 1000), PC_ENOMEM);
    pc_alloc_fail_reset();
    assert_string_equal(get_str(lru, "a", 0), "1");
    assert_null(get_str(lru, "b", 0));
    pc_lru_destroy(lru);
    pc_lru_destroy(NULL);
    assert_int_equal(pc_alloc_bytes(), before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_get_returns_what_was_put),
        cmocka_unit_test(test_lru_keys_are_bytes_not_strings),
        cmocka_unit_test(test_lru_put_replaces_same_key),
        cmocka_unit_test(test_lru_expired_entry_is_gone),
        cmocka_unit_test(test_lru_evicts_least_recently_used),
        cmocka_unit_test(test_lru_holds_many_entries_at_its_bound),
        cmocka_unit_test(test_lru_out_of_memory_leaves_map_usable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
