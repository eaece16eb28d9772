/*
 * Unit tests for the number formatters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt.h"

static void
test_fmt_u64_writes_decimal(void **state)
{
    char buf[32];

    assert_int_equal(pc_fmt_u64(buf, 0), 1);
    assert_memory_equal(buf, "0", 1);
    assert_int_equal(pc_fmt_u64(buf, 1234567890), 10);
    assert_memory_equal(buf, "1234567890", 10);
    assert_int_equal(pc_fmt_u64(buf, UINT64_MAX), 20);
    assert_memory_equal(buf, "18446744073709551615", 20);
}

static void
test_fmt_hex_writes_minimal_digits(void **state)
{
    char buf[32];

    assert_int_equal(pc_fmt_hex(buf, 0), 1);
    assert_memory_equal(buf, "0", 1);
    assert_int_equal(pc_fmt_hex(buf, 0x7fff), 4);
    assert_memory_equal(buf, "7fff", 4);
    assert_int_equal(pc_fmt_hex(buf, UINT64_MAX), 16);
    assert_memory_equal(buf, "ffffffffffffffff", 16);
}

static void
test_fmt_hex_fixed_pads_with_zeros(void **state)
{
    char buf[32];

    assert_int_equal(pc_fmt_hex_fixed(buf, 0xab, 8), 8);
    assert_memory_equal(buf, "000000ab", 8);
    assert_int_equal(pc_fmt_hex_fixed(buf, 0x12345, 3), 3);
    assert_memory_equal(buf, "345", 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_u64_writes_decimal),
        cmocka_unit_test(test_fmt_hex_writes_minimal_digits),
        cmocka_unit_test(test_fmt_hex_fixed_pads_with_zeros),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
