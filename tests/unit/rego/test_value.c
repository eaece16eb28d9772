/*
 * Unit tests for Rego values: construction, Rego's total order, OPA number semantics
 * (integers of any size, 64-bit-mantissa decimals, formatting) and JSON round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rego/json.h"
#include "rego/num.h"
#include "rego/value.h"

static const struct pc_rego_value *
num(struct pc_rego_arena *a, const char *text)
{
    const struct pc_rego_value *v = pc_rego_number_parse(a, text, strlen(text));
    assert_non_null(v);
    return v;
}

static const struct pc_rego_value *
json(struct pc_rego_arena *a, const char *text)
{
    struct pc_rego_error err;
    const struct pc_rego_value *v = pc_rego_json_parse(a, text, strlen(text), &err);
    assert_non_null(v);
    return v;
}

static void
format_eq(const struct pc_rego_value *v, const char *want)
{
    char buf[128];
    pc_rego_num_format(v, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void
test_value_numbers_integral_decimals_are_integers(void **state)
{
    struct pc_rego_arena *a = *state;
    assert_true(pc_rego_equal(num(a, "1"), num(a, "1.0")));
    assert_true(pc_rego_equal(num(a, "100"), num(a, "1e2")));
    assert_int_equal(num(a, "2.50e1")->num, PC_REGO_NUM_INT);
    assert_int_equal(num(a, "1.5")->num, PC_REGO_NUM_FLOAT);
    assert_null(pc_rego_number_parse(a, "01", 2));
    assert_null(pc_rego_number_parse(a, "1.", 2));
    assert_null(pc_rego_number_parse(a, "1e999999", 8));
}

static void
test_value_big_integers_keep_precision(void **state)
{
    struct pc_rego_arena *a = *state;
    const struct pc_rego_value *big = num(a, "123456789012345678901234567890");
    assert_int_equal(big->num, PC_REGO_NUM_BIG);
    format_eq(big, "123456789012345678901234567890");

    const struct pc_rego_value *sum = NULL;
    assert_int_equal(pc_rego_num_add(a, big, num(a, "1"), &sum), 0);
    format_eq(sum, "123456789012345678901234567891");

    const struct pc_rego_value *prod = NULL;
    assert_int_equal(pc_rego_num_mul(a, num(a, "9223372036854775807"), num(a, "2"), &prod), 0);
    format_eq(prod, "18446744073709551614");
    assert_true(pc_rego_compare(prod, num(a, "9223372036854775807")) > 0);
    assert_true(pc_rego_compare(num(a, "-18446744073709551614"), num(a, "-1.5")) < 0);
}

static void
test_value_division_and_remainder(void **state)
{
    struct pc_rego_arena *a = *state;
    const struct pc_rego_value *out = NULL;
    const char *msg = NULL;
    assert_int_equal(pc_rego_num_div(a, num(a, "4"), num(a, "2"), &out, &msg), 0);
    format_eq(out, "2");
    assert_int_equal(pc_rego_num_div(a, num(a, "3"), num(a, "2"), &out, &msg), 0);
    format_eq(out, "1.5");
    assert_int_equal(pc_rego_num_div(a, num(a, "1"), num(a, "0"), &out, &msg),
                     PC_REGO_EEVAL_BUILTIN);
    assert_string_equal(msg, "divide by zero");
    assert_int_equal(pc_rego_num_rem(a, num(a, "1.1"), num(a, "1"), &out, &msg),
                     PC_REGO_EEVAL_BUILTIN);
    assert_string_equal(msg, "modulo on floating-point number");
    assert_int_equal(pc_rego_num_rem(a, num(a, "-7"), num(a, "4"), &out, &msg), 0);
    format_eq(out, "-3");
}

static void
test_value_float_format_matches_go(void **state)
{
    struct pc_rego_arena *a = *state;
    format_eq(num(a, "0.1"), "0.1");
    format_eq(num(a, "1234567.5"), "1.2345675e+06");
    format_eq(num(a, "0.00001"), "1e-05");
    format_eq(num(a, "-2.5"), "-2.5");
    const struct pc_rego_value *r = pc_rego_num_round(a, num(a, "-2.5"), PC_REGO_ROUND_NEAREST);
    format_eq(r, "-3");
}

static void
test_value_order_across_kinds(void **state)
{
    struct pc_rego_arena *a = *state;
    const struct pc_rego_value *vals[] = { pc_rego_null(),      pc_rego_bool(false),
                                           pc_rego_bool(true),  num(a, "-1"),
                                           num(a, "2.5"),       json(a, "\"a\""),
                                           json(a, "\"b\""),    json(a, "[1]"),
                                           json(a, "{\"a\":1}") };
    size_t n = sizeof(vals) / sizeof(vals[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        assert_true(pc_rego_compare(vals[i], vals[i + 1]) < 0);
        assert_true(pc_rego_compare(vals[i + 1], vals[i]) > 0);
    }
    const struct pc_rego_value *set = pc_rego_set_of(a, vals, n);
    assert_true(pc_rego_compare(vals[n - 1], set) < 0);
}

static void
test_value_sets_sort_and_deduplicate(void **state)
{
    struct pc_rego_arena *a = *state;
    const struct pc_rego_value *items[] = { num(a, "3"), num(a, "1"), num(a, "3.0"), num(a, "2") };
    const struct pc_rego_value *s = pc_rego_set_of(a, items, 4);
    assert_int_equal(pc_rego_len(s), 3);
    assert_true(pc_rego_set_contains(s, num(a, "1.0")));
    assert_false(pc_rego_set_contains(s, num(a, "4")));
    assert_true(pc_rego_equal(pc_rego_item(s, 0), num(a, "1")));
}

static void
test_value_object_builder_last_key_wins(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, a, PC_REGO_OBJECT);
    pc_rego_builder_put_str(&b, "b", 1, num(a, "1"));
    pc_rego_builder_put_str(&b, "a", 1, num(a, "2"));
    pc_rego_builder_put_str(&b, "b", 1, num(a, "3"));
    const struct pc_rego_value *o = pc_rego_builder_finish(&b);
    assert_int_equal(pc_rego_len(o), 2);
    assert_true(pc_rego_equal(pc_rego_object_get_str(o, "b", 1), num(a, "3")));

    bool conflict = false;
    pc_rego_builder_init(&b, a, PC_REGO_OBJECT);
    pc_rego_builder_put_str(&b, "k", 1, num(a, "1"));
    pc_rego_builder_put_str(&b, "k", 1, num(a, "2"));
    assert_null(pc_rego_builder_finish_strict(&b, &conflict));
    assert_true(conflict);
}

static void
test_value_json_round_trip(void **state)
{
    struct pc_rego_arena *a = *state;
    const char *text = "{\"a\":[1,2.5,\"x\\u00e9\"],\"b\":null,\"c\":{\"d\":true},"
                       "\"e\":123456789012345678901234567890}";
    const struct pc_rego_value *v = json(a, text);
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, a);
    pc_rego_json_write(&sb, v, 0);
    assert_string_equal(sb.data, "{\"a\":[1,2.5,\"x\xc3\xa9\"],\"b\":null,\"c\":{\"d\":true},"
                                 "\"e\":123456789012345678901234567890}");
}

static void
test_value_json_rejects_malformed(void **state)
{
    struct pc_rego_arena *a = *state;
    const char *bad[] = { "{", "[1,]", "{\"a\" 1}", "01", "\"\x01\"", "nul", "1 2", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pc_rego_error err;
        assert_null(pc_rego_json_parse(a, bad[i], strlen(bad[i]), &err));
        assert_int_equal(err.code, PC_REGO_EINVAL);
        assert_true(err.line >= 1);
    }
}

static void
test_value_json_depth_is_limited(void **state)
{
    struct pc_rego_arena *a = *state;
    char deep[4001];
    memset(deep, '[', 2000);
    memset(deep + 2000, ']', 2000);
    deep[4000] = '\0';
    struct pc_rego_error err;
    assert_null(pc_rego_json_parse(a, deep, 4000, &err));
}

static int
setup(void **state)
{
    *state = pc_rego_arena_create(4096);
    return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    pc_rego_arena_destroy(*state);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_value_numbers_integral_decimals_are_integers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_value_big_integers_keep_precision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_division_and_remainder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_float_format_matches_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_order_across_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_sets_sort_and_deduplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_object_builder_last_key_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_json_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_json_rejects_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_json_depth_is_limited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
