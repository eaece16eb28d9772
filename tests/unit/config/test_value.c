/*
 * Unit tests for the configuration value syntax: GEP-2257 durations, Kubernetes quantities and
 * timestamps, hostnames and names, header names and values, endpoints, base64, the shape of PEM
 * text, SPIFFE trust domains, IDs and Workload API addresses, the URLs, claim paths, scopes and
 * JWS algorithm names of authentication policies, and the suggestions behind "did you mean".
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

static int
decode64(const char *s, char *out, size_t *bad)
{
    size_t n = 0;
    int rc = pc_value_base64_decode(s, strlen(s), (unsigned char *)out, &n, bad);

    if (rc == 0) {
        out[n] = '\0';
    }
    return rc == 0 ? (int)n : rc;
}

static void
test_base64(void **state)
{
    char out[64];
    size_t bad = 0;

    assert_int_equal(decode64("aGVsbG8=", out, &bad), 5);
    assert_string_equal(out, "hello");
    assert_int_equal(decode64("aGVs\nbG8h", out, &bad), 6);
    assert_string_equal(out, "hello!");
    assert_int_equal(decode64("aA==", out, &bad), 1);
    assert_int_equal(decode64("", out, &bad), 0);
    assert_int_equal(decode64("aGVsbG8", out, &bad), PC_EINVAL); /* padding missing */
    assert_int_equal(bad, 7);
    assert_int_equal(decode64("aGV!bG8=", out, &bad), PC_EINVAL);
    assert_int_equal(bad, 3);
    assert_int_equal(decode64("a===", out, &bad), PC_EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(decode64("aA==aA==", out, &bad), PC_EINVAL); /* data after padding */
    assert_int_equal(bad, 4);
    assert_int_equal(decode64("aGVsbA===", out, &bad), PC_EINVAL);
}

static const char *
pem(const char *s, enum pc_value_pem_kind kind)
{
    return pc_value_pem_problem(s, strlen(s), kind);
}

static void
test_pem_shapes(void **state)
{
    static const char cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    static const char two[] = "subject=CN=a\n-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END "
                              "CERTIFICATE-----\r\n-----BEGIN CERTIFICATE-----\nMIIC\n"
                              "-----END CERTIFICATE-----";
    static const char key[] = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC "
                              "PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC "
                              "PRIVATE KEY-----\n";

    assert_null(pem(cert, PC_VALUE_PEM_CERTIFICATES));
    assert_null(pem(two, PC_VALUE_PEM_CERTIFICATES));
    assert_null(pem(key, PC_VALUE_PEM_PRIVATE_KEY));
    assert_non_null(pem("", PC_VALUE_PEM_CERTIFICATES));
    assert_non_null(pem(cert, PC_VALUE_PEM_PRIVATE_KEY));
    assert_non_null(pem("-----BEGIN CERTIFICATE-----\nMIIB\n", PC_VALUE_PEM_CERTIFICATES));
    assert_non_null(pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n",
                        PC_VALUE_PEM_CERTIFICATES));
    assert_non_null(
        pem("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", PC_VALUE_PEM_CERTIFICATES));
    assert_non_null(pem("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIB\n"
                        "-----END RSA PRIVATE KEY-----\n",
                        PC_VALUE_PEM_PRIVATE_KEY));
    assert_non_null(pem("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
                        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
                        PC_VALUE_PEM_PRIVATE_KEY));
}

static void
test_spiffe_names(void **state)
{
    static const char *const good_ids[] = {
        "spiffe://example.org",
        "spiffe://example.org/ns/default/sa/api",
        "spiffe://a_b-c.d/x.y-z_0",
    };
    static const char *const bad_ids[] = {
        "spiffe://",
        "spiffe://example.org/",
        "spiffe://example.org//a",
        "Spiffe://example.org",
        "https://example.org/a",
        "spiffe://EXAMPLE.org",
        "spiffe://example.org/a/./b",
        "spiffe://example.org/a#f",
        "spiffe://u@example.org",
    };
    char long_domain[300];

    for (size_t i = 0; i < sizeof(good_ids) / sizeof(good_ids[0]); i++) {
        assert_null(pc_value_spiffe_id_problem(good_ids[i], strlen(good_ids[i])));
    }
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        assert_non_null(pc_value_spiffe_id_problem(bad_ids[i], strlen(bad_ids[i])));
    }
    assert_null(pc_value_trust_domain_problem("example.org", 11));
    assert_null(pc_value_trust_domain_problem("my_domain-1.local", 17));
    assert_string_equal(pc_value_trust_domain_problem("", 0), "it is empty");
    assert_string_equal(pc_value_trust_domain_problem("a b", 3),
                        "it has a character other than a-z, 0-9, '.', '-' and '_'");
    memset(long_domain, 'a', sizeof(long_domain));
    assert_string_equal(pc_value_trust_domain_problem(long_domain, 256),
                        "it is longer than 255 bytes");
    assert_null(pc_value_trust_domain_problem(long_domain, 255));
}

static void
test_workload_sockets(void **state)
{
    assert_null(pc_value_workload_socket_problem("unix:///run/spire/agent.sock", 28));
    assert_null(pc_value_workload_socket_problem("tcp://127.0.0.1:8081", 20));
    assert_null(pc_value_workload_socket_problem("tcp://[::1]:8081", 16));
    assert_non_null(pc_value_workload_socket_problem("unix://agent.sock", 17));
    assert_non_null(pc_value_workload_socket_problem("unix:///", 8));
    assert_non_null(pc_value_workload_socket_problem("tcp://agent:8081", 16));
    assert_non_null(pc_value_workload_socket_problem("/run/agent.sock", 15));
    assert_non_null(pc_value_workload_socket_problem("unix:///a?b", 11));
}

/* Runs pc_value_url_problem on s; *flags gets 'h' for http and 'l' for a loopback host. */
static const char *
url(const char *s, char flags[3])
{
    bool is_http = false;
    bool is_loopback = false;
    const char *problem = pc_value_url_problem(s, strlen(s), &is_http, &is_loopback);

    flags[0] = is_http ? 'h' : '-';
    flags[1] = is_loopback ? 'l' : '-';
    flags[2] = '\0';
    return problem;
}

static void
test_urls(void **state)
{
    char f[3];

    assert_null(url("https://idp.example.com/jwks", f));
    assert_string_equal(f, "--");
    assert_null(url("HTTPS://IdP.Example.com:8443/realms/a?x=1", f));
    assert_null(url("https://idp.example.com", f));
    assert_null(url("http://127.0.0.1:8080/jwks", f));
    assert_string_equal(f, "hl");
    assert_null(url("http://127.1.2.3/", f));
    assert_string_equal(f, "hl");
    assert_null(url("http://[::1]:9000/i", f));
    assert_string_equal(f, "hl");
    assert_null(url("http://localhost/k", f));
    assert_string_equal(f, "hl");
    assert_null(url("http://idp.example.com/k", f));
    assert_string_equal(f, "h-");
    assert_null(url("http://128.0.0.1/k", f));
    assert_string_equal(f, "h-");
    assert_null(url("https://[2001:db8::1]/k", f));
    assert_string_equal(f, "--");

    assert_string_equal(url("ftp://idp/k", f), "it is not an http:// or https:// URL");
    assert_string_equal(url("https:///k", f), "it has no host");
    assert_string_equal(url("https://a@idp/k", f),
                        "it holds user information (user@host); put credentials elsewhere");
    assert_string_equal(url("https://idp:99999/", f), "its port is not a number from 1 to 65535");
    assert_string_equal(url("https://idp:/", f), "its port is not a number from 1 to 65535");
    assert_string_equal(url("https://[::1/", f), "its IPv6 address is not closed by ']'");
    assert_string_equal(url("https://[::g]/", f), "its host is not a valid IPv6 address");
    assert_string_equal(url("https://[::1]x/", f),
                        "its IPv6 address is followed by something other than a port");
    assert_string_equal(url("https://idp_1/", f),
                        "its host is neither a DNS name nor an IP address");
    assert_string_equal(url("https://idp/a b", f),
                        "it holds a space or a character that is not printable ASCII");
    assert_string_equal(url("https://idp/a#b", f), "it has a fragment (#...)");
}

static void
test_claim_paths(void **state)
{
    static const char empty[] = "it has an empty claim name (a leading, doubled or trailing '.')";
    char long_path[600];

    assert_null(pc_value_claim_path_problem("sub", 3));
    assert_null(pc_value_claim_path_problem("realm_access.roles", 18));
    assert_null(pc_value_claim_path_problem("https://example.com/roles", 25));
    assert_string_equal(pc_value_claim_path_problem("", 0), "it is empty");
    assert_string_equal(pc_value_claim_path_problem(".a", 2), empty);
    assert_string_equal(pc_value_claim_path_problem("a.", 2), empty);
    assert_string_equal(pc_value_claim_path_problem("a..b", 4), empty);
    assert_string_equal(pc_value_claim_path_problem("a b", 3),
                        "it holds a space or a control character");
    assert_string_equal(pc_value_claim_path_problem("a\tb", 3),
                        "it holds a space or a control character");
    memset(long_path, 'a', sizeof(long_path));
    assert_null(pc_value_claim_path_problem(long_path, 512));
    assert_string_equal(pc_value_claim_path_problem(long_path, 513), "it is longer than 512 bytes");
}

static void
test_scopes_and_algorithms(void **state)
{
    size_t n = 0;
    const char *const *names = pc_value_jwt_alg_names(&n);

    assert_true(pc_value_is_scope("orders:read", 11));
    assert_true(pc_value_is_scope("https://api.example.com/x", 25));
    assert_false(pc_value_is_scope("", 0));
    assert_false(pc_value_is_scope("a b", 3));
    assert_false(pc_value_is_scope("a\"b", 3));
    assert_false(pc_value_is_scope("a\\b", 3));

    assert_int_equal(n, 13);
    assert_int_equal(pc_value_jwt_alg_index("RS256", 5), 0);
    assert_int_equal(pc_value_jwt_alg_index("EdDSA", 5), 9);
    assert_int_equal(pc_value_jwt_alg_index("HS512", 5), 12);
    assert_string_equal(names[6], "ES256");
    assert_int_equal(pc_value_jwt_alg_index("none", 4), -1);
    assert_int_equal(pc_value_jwt_alg_index("rs256", 5), -1);
    assert_int_equal(pc_value_jwt_alg_index("RS2560", 6), -1);
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
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_pem_shapes),
        cmocka_unit_test(test_spiffe_names),
        cmocka_unit_test(test_workload_sockets),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_claim_paths),
        cmocka_unit_test(test_scopes_and_algorithms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
