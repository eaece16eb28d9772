/*
 * Unit tests for the configuration value syntax: GEP-2257 durations, Kubernetes quantities and
 * timestamps, hostnames and names, header names and values, endpoints, and the suggestions
 * behind "did you mean".
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/value.h"
#include "core/err.h"

static int64_t
duration(const char *s)
{
    uint64_t ms = 0;

    return pc_value_duration(s, strlen(s), &ms) == 0 ? (int64_t)ms : -1;
}

static void
test_duration_gep_2257(void **state)
{
    assert_int_equal(duration("0s"), 0);
    assert_int_equal(duration("10s"), 10000);
    assert_int_equal(duration("500ms"), 500);
    assert_int_equal(duration("1h30m"), 5400000);
    assert_int_equal(duration("1h30m30s500ms"), 5430500);
    assert_int_equal(duration("00060m"), 3600000);
    assert_int_equal(duration("99999h"), 99999LL * 3600000);
}

static void
test_duration_refuses_other_forms(void **state)
{
    assert_int_equal(duration(""), -1);
    assert_int_equal(duration("10"), -1);
    assert_int_equal(duration("1.5s"), -1);
    assert_int_equal(duration("-1s"), -1);
    assert_int_equal(duration("1d"), -1);
    assert_int_equal(duration("100000s"), -1);
    assert_int_equal(duration("1h1m1s1ms1h"), -1);
    assert_int_equal(duration("10 s"), -1);
    assert_int_equal(duration("1us"), -1);
}

static int64_t
quantity(const char *s)
{
    uint64_t v = 0;
    int rc = pc_value_quantity(s, strlen(s), &v);

    return rc == 0 ? (int64_t)v : rc;
}

static void
test_quantity_suffixes(void **state)
{
    assert_int_equal(quantity("65536"), 65536);
    assert_int_equal(quantity("64Ki"), 65536);
    assert_int_equal(quantity("10Mi"), 10485760);
    assert_int_equal(quantity("1k"), 1000);
    assert_int_equal(quantity("1G"), 1000000000);
    assert_int_equal(quantity("1.5Ki"), 1536);
    assert_int_equal(quantity("0.5k"), 500);
    assert_int_equal(quantity("1Ei"), 1152921504606846976LL);
}

static void
test_quantity_refusals(void **state)
{
    assert_int_equal(quantity("1K"), PC_EINVAL);
    assert_int_equal(quantity("1ki"), PC_EINVAL);
    assert_int_equal(quantity("1MB"), PC_EINVAL);
    assert_int_equal(quantity("1.1"), PC_EINVAL);
    assert_int_equal(quantity("-1"), PC_EINVAL);
    assert_int_equal(quantity("1m"), PC_EINVAL);
    assert_int_equal(quantity(""), PC_EINVAL);
    assert_int_equal(quantity("Ki"), PC_EINVAL);
    assert_int_equal(quantity("8Ei"), PC_ERANGE);
    assert_int_equal(quantity("99999999999999999999"), PC_ERANGE);
}

static void
test_timestamps(void **state)
{
    int64_t ms = 0;

    assert_int_equal(pc_value_timestamp("1970-01-01T00:00:00Z", 20, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(pc_value_timestamp("2020-09-08T01:02:03Z", 20, &ms), 0);
    assert_int_equal(ms, 1599526923000LL);
    assert_int_equal(pc_value_timestamp("2020-09-08T03:02:03.25+02:00", 28, &ms), 0);
    assert_int_equal(ms, 1599526923250LL);
    assert_int_equal(pc_value_timestamp("2024-02-29T00:00:00Z", 20, &ms), 0);
    assert_int_equal(pc_value_timestamp("2023-02-29T00:00:00Z", 20, &ms), PC_EINVAL);
    assert_int_equal(pc_value_timestamp("2020-09-08 01:02:03Z", 20, &ms), PC_EINVAL);
    assert_int_equal(pc_value_timestamp("2020-09-08T01:02:03", 19, &ms), PC_EINVAL);
}

static bool
host(const char *s, bool wild)
{
    return pc_value_is_hostname(s, strlen(s), wild);
}

static void
test_hostnames(void **state)
{
    assert_true(host("example.com", false));
    assert_true(host("a-b.c0.example.com", false));
    assert_true(host("*.example.com", true));
    assert_false(host("*.example.com", false));
    assert_false(host("*", true));
    assert_false(host("a.*.com", true));
    assert_false(host("Example.com", false));
    assert_false(host("-a.com", false));
    assert_false(host("a..com", false));
    assert_false(host("127.0.0.1", false));
    assert_false(host("", false));
}

static void
test_header_names_and_values(void **state)
{
    assert_true(pc_value_is_header_name("X-Request-Id", 12));
    assert_false(pc_value_is_header_name("X Request", 9));
    assert_false(pc_value_is_header_name(":path", 5));
    assert_true(pc_value_is_header_value("a b\tc", 5));
    assert_false(pc_value_is_header_value(" a", 2));
    assert_false(pc_value_is_header_value("a  b", 4));
    assert_false(pc_value_is_header_value("a\r\nb", 4));
    assert_false(pc_value_is_header_value("", 0));
}

static void
test_path_chars(void **state)
{
    assert_true(pc_value_is_path_chars("/a/b-c_d.e~f!$&'()*+,;=:@%2A", 28));
    assert_false(pc_value_is_path_chars("/a b", 4));
    assert_false(pc_value_is_path_chars("/a%2", 4));
    assert_false(pc_value_is_path_chars("/a?b", 4));
}

static int
endpoint(const char *s, char *name)
{
    struct sockaddr_storage addr;
    socklen_t len;

    return pc_value_endpoint(s, strlen(s), &addr, &len, name, 64);
}

static void
test_endpoints(void **state)
{
    char name[64];

    assert_int_equal(endpoint("127.0.0.1:8080", name), 0);
    assert_string_equal(name, "127.0.0.1:8080");
    assert_int_equal(endpoint("[::1]:9000", name), 0);
    assert_string_equal(name, "[::1]:9000");
    assert_int_equal(endpoint("[0:0::0:1]:9000", name), 0);
    assert_string_equal(name, "[::1]:9000");
    assert_int_equal(endpoint("localhost:80", name), PC_ENOENT);
    assert_int_equal(endpoint("::1:80", name), PC_EINVAL);
    assert_int_equal(endpoint("1.2.3.4", name), PC_EINVAL);
    assert_int_equal(endpoint("1.2.3.4:0", name), PC_EINVAL);
    assert_int_equal(endpoint("1.2.3.4:65536", name), PC_EINVAL);
    assert_int_equal(endpoint("1.2.3.4:8o", name), PC_EINVAL);
}

static void
test_suggestions(void **state)
{
    static const char *const fields[] = { "type", "value", "hostname", "backendRefs" };

    assert_string_equal(pc_value_suggest("tpye", fields, 4), "type");
    assert_string_equal(pc_value_suggest("hostnme", fields, 4), "hostname");
    assert_string_equal(pc_value_suggest("backendRef", fields, 4), "backendRefs");
    assert_null(pc_value_suggest("zzzz", fields, 4));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_gep_2257),
        cmocka_unit_test(test_duration_refuses_other_forms),
        cmocka_unit_test(test_quantity_suffixes),
        cmocka_unit_test(test_quantity_refusals),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_hostnames),
        cmocka_unit_test(test_header_names_and_values),
        cmocka_unit_test(test_path_chars),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_suggestions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
