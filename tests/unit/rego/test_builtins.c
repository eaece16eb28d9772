/*
 * Unit tests for the Rego builtins, one table per family: each row is a query and the JSON
 * text of its value as OPA gives it ("undefined" when a builtin error makes it undefined, as
 * OPA does without strict errors). The tables pin the corner cases that differ between
 * languages: Go's formatting verbs, RE2 regex semantics, Go time layouts, CIDR edge cases,
 * OPA's number formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "rego_test.h"

struct row {
    const char *query;
    const char *want;
};

static struct pc_rego_policy *policy;

static int
setup(void **state)
{
    struct pc_rego_error err;
    policy = test_compile1("package t\n", &err);
    return policy == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    pc_rego_policy_unref(policy);
    test_done();
    return 0;
}

static void
check_rows(const struct row *rows, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *got = test_eval(policy, rows[i].query, NULL);
        if (strcmp(got, rows[i].want) != 0) {
            print_error("%s\n    got  %s\n    want %s\n", rows[i].query, got, rows[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

#define CHECK(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]))

static void
test_builtins_strings(void **state)
{
    static const struct row rows[] = {
        { "concat(\"/\", [\"a\", \"b\", \"c\"])", "\"a/b/c\"" },
        { "concat(\",\", {\"b\", \"a\"})", "\"a,b\"" },
        { "contains(\"abc\", \"bc\")", "true" },
        { "startswith(\"abc\", \"ab\")", "true" },
        { "endswith(\"abc\", \"bc\")", "true" },
        { "format_int(255, 16)", "\"ff\"" },
        { "format_int(-10.9, 2)", "\"-1010\"" },
        { "indexof(\"héllo\", \"l\")", "2" },
        { "indexof(\"abc\", \"z\")", "-1" },
        { "indexof_n(\"abcabc\", \"bc\")", "[1,4]" },
        { "lower(\"ÀBC\")", "\"àbc\"" },
        { "upper(\"straße\")", "\"STRAßE\"" },
        { "replace(\"aaa\", \"a\", \"bb\")", "\"bbbbbb\"" },
        { "strings.replace_n({\"a\": \"1\", \"b\": \"2\"}, \"abc\")", "\"12c\"" },
        { "split(\"a,b,,c\", \",\")", "[\"a\",\"b\",\"\",\"c\"]" },
        { "split(\"abc\", \"\")", "[\"a\",\"b\",\"c\"]" },
        { "substring(\"héllo\", 1, 3)", "\"éll\"" },
        { "substring(\"abc\", 1, -1)", "\"bc\"" },
        { "substring(\"abc\", 5, 1)", "\"\"" },
        { "trim(\"xxhixx\", \"x\")", "\"hi\"" },
        { "trim_left(\"xxhi\", \"x\")", "\"hi\"" },
        { "trim_prefix(\"prefix-x\", \"prefix-\")", "\"x\"" },
        { "trim_right(\"hixx\", \"x\")", "\"hi\"" },
        { "trim_suffix(\"x.rego\", \".rego\")", "\"x\"" },
        { "trim_space(\" \\t hi \\n\")", "\"hi\"" },
        { "strings.reverse(\"héllo\")", "\"olléh\"" },
        { "strings.count(\"cheese\", \"e\")", "3" },
        { "strings.any_prefix_match([\"a/b\", \"c\"], \"a/\")", "true" },
        { "strings.any_suffix_match(\"x.json\", {\".yaml\", \".json\"})", "true" },
        { "sprintf(\"%s-%d-%v\", [\"a\", 7, [1, \"x\"]])", "\"a-7-[1, \\\"x\\\"]\"" },
        { "sprintf(\"%05.2f|%x|%X|%o|%b|%e\", [3.14159, 255, 255, 8, 5, 1234.5678])",
          "\"03.14|ff|FF|10|101|1.234568e+03\"" },
        { "sprintf(\"%q %t %%\", [\"hi\", true])", "\"\\\"hi\\\" %!t(string=true) %\"" },
        { "sprintf(\"%v %v %v\", [{\"a\": 1}, {1}, null])", "\"{\\\"a\\\": 1} {1} null\"" },
        { "sprintf(\"%d\", [\"x\"])", "\"%!d(string=x)\"" },
        { "sprintf(\"%-5s|%5s\", [\"ab\", \"cd\"])", "\"ab   |   cd\"" },
        { "sprintf(\"%v\", [12345678901234567890])", "\"12345678901234567890\"" },
    };
    CHECK(rows);
}

static void
test_builtins_regex_and_glob(void **state)
{
    static const struct row rows[] = {
        { "regex.match(`^[a-z]+\\d+$`, \"abc123\")", "true" },
        { "regex.match(`\\bfoo\\b`, \"a foo b\")", "true" },
        { "regex.match(`(?i)ABC`, \"xabcx\")", "true" },
        { "regex.is_valid(`(unclosed`)", "false" },
        { "regex.is_valid(`a++`)", "false" },
        { "regex.is_valid(`(?<name>x)`)", "true" },
        { "regex.is_valid(`a{1001}`)", "false" },
        { "regex.is_valid(`a**`)", "false" },
        { "regex.is_valid(`a*?`)", "true" },
        { "regex.match(`^\\p{L}+$`, \"héllo\")", "true" },
        { "regex.split(`\\s*,\\s*`, \"a , b,c\")", "[\"a\",\"b\",\"c\"]" },
        { "regex.find_n(`[0-9]+`, \"a1b22c333\", 2)", "[\"1\",\"22\"]" },
        { "regex.find_n(`[0-9]+`, \"a1b22c333\", -1)", "[\"1\",\"22\",\"333\"]" },
        { "regex.find_all_string_submatch_n(`(\\w)=(\\d)`, \"a=1 b=2\", -1)",
          "[[\"a=1\",\"a\",\"1\"],[\"b=2\",\"b\",\"2\"]]" },
        { "regex.replace(\"a1b2\", `\\d`, \"#\")", "\"a#b#\"" },
        { "regex.replace(\"john smith\", `(\\w+) (\\w+)`, \"$2 $1\")", "\"smith john\"" },
        { "regex.match(`a.c`, \"a\\nc\")", "false" },
        { "regex.template_match(\"urn:foo:{.*}\", \"urn:foo:bar:baz\", \"{\", \"}\")", "true" },
        { "regex.globs_match(\"a.a.[a-z]*\", \"a.a.b\")", "true" },
        { "glob.match(\"*.example.com\", [\".\"], \"api.example.com\")", "true" },
        { "glob.match(\"*.example.com\", [\".\"], \"a.b.example.com\")", "false" },
        { "glob.match(\"**.example.com\", [\".\"], \"a.b.example.com\")", "true" },
        { "glob.match(\"/api/{v1,v2}/*\", [\"/\"], \"/api/v2/users\")", "true" },
        { "glob.match(\"[!a]bc\", [], \"xbc\")", "true" },
        { "glob.match(\"a?c\", null, \"abc\")", "true" },
        { "glob.quote_meta(\"*.github.com\")", "\"\\\\*.github.com\"" },
    };
    CHECK(rows);
}

static void
test_builtins_aggregates_numbers_and_types(void **state)
{
    static const struct row rows[] = {
        { "count({\"a\": 1, \"b\": 2})", "2" },
        { "count(\"héllo\")", "5" },
        { "sum([1, 2.5, 3])", "6.5" },
        { "product([2, 3, 4])", "24" },
        { "max([3, 1, 2])", "3" },
        { "min({\"b\", \"a\"})", "\"a\"" },
        { "max([])", "undefined" },
        { "sort({3, 1, 2})", "[1,2,3]" },
        { "any([false, true])", "error: rego_type_error: undefined function any" },
        { "abs(-3.5)", "3.5" },
        { "ceil(1.2)", "2" },
        { "floor(-1.2)", "-2" },
        { "round(-2.5)", "-3" },
        { "numbers.range(3, 1)", "[3,2,1]" },
        { "numbers.range_step(0, 10, 4)", "[0,4,8]" },
        { "to_number(\"-1.5e2\")", "-150" },
        { "to_number(true)", "1" },
        { "to_number(\"0x10\")", "undefined" },
        { "10 / 4", "2.5" },
        { "1 / 0", "undefined" },
        { "7 % 0", "undefined" },
        { "2.5 % 2", "undefined" },
        { "9007199254740993 + 1", "9007199254740994" },
        { "1e308 * 10 > 1e308", "true" },
        { "2 * 0.5", "1" },
        { "type_name({1})", "\"set\"" },
        { "[is_number(1.5), is_string(\"\"), is_boolean(null), is_array([]), is_set(set()), "
          "is_object({}), is_null(null)]",
          "[true,true,false,true,true,true,true]" },
        { "bits.and(12, 10)", "8" },
        { "bits.lsh(1, 62)", "4611686018427387904" },
    };
    CHECK(rows);
}

static void
test_builtins_collections(void **state)
{
    static const struct row rows[] = {
        { "array.concat([1], [2, 3])", "[1,2,3]" },
        { "array.slice([1, 2, 3, 4], 1, 3)", "[2,3]" },
        { "array.slice([1, 2, 3], 2, 10)", "[3]" },
        { "array.reverse([1, 2, 3])", "[3,2,1]" },
        { "intersection({{1, 2}, {2, 3}})", "[2]" },
        { "union({{1}, {2}})", "[1,2]" },
        { "{1, 2} - {2}", "[1]" },
        { "object.get({\"a\": {\"b\": 1}}, [\"a\", \"b\"], 0)", "1" },
        { "object.get({\"a\": 1}, \"z\", \"dflt\")", "\"dflt\"" },
        { "object.keys({\"a\": 1, \"b\": 2})", "[\"a\",\"b\"]" },
        { "object.remove({\"a\": 1, \"b\": 2}, [\"a\"])", "{\"b\":2}" },
        { "object.union({\"a\": {\"x\": 1}}, {\"a\": {\"y\": 2}})", "{\"a\":{\"x\":1,\"y\":2}}" },
        { "object.union_n([{\"a\": 1}, {\"a\": 2}, {\"b\": 3}])", "{\"a\":2,\"b\":3}" },
        { "object.filter({\"a\": 1, \"b\": 2}, {\"b\"})", "{\"b\":2}" },
        { "object.subset({\"a\": [1, 2, 3]}, {\"a\": [1, 2]})", "true" },
        { "object.subset({\"a\": {\"b\": 1, \"c\": 2}}, {\"a\": {\"b\": 1}})", "true" },
        { "json.filter({\"a\": {\"b\": 1, \"c\": 2}}, [\"a/b\"])", "{\"a\":{\"b\":1}}" },
        { "json.remove({\"a\": {\"b\": 1, \"c\": 2}}, [\"a/b\"])", "{\"a\":{\"c\":2}}" },
        { "[p | walk({\"a\": [1]}, [p, v]); is_number(v)]", "[[\"a\",0]]" },
    };
    CHECK(rows);
}

static void
test_builtins_encodings(void **state)
{
    static const struct row rows[] = {
        { "json.marshal({\"b\": [1, 2.5], \"a\": \"<\"})",
          "\"{\\\"a\\\":\\\"\\\\u003c\\\",\\\"b\\\":[1,2.5]}\"" },
        { "json.unmarshal(`{\"x\": [true, null]}`)", "{\"x\":[true,null]}" },
        { "json.unmarshal(`{bad`)", "undefined" },
        { "json.is_valid(`[1, 2]`)", "true" },
        { "json.marshal_with_options({\"a\": 1}, {\"pretty\": true, \"indent\": \" \"})",
          "\"{\\n \\\"a\\\": 1\\n}\"" },
        { "base64.encode(\"hello\")", "\"aGVsbG8=\"" },
        { "base64.decode(\"aGVsbG8=\")", "\"hello\"" },
        { "base64.is_valid(\"!!\")", "false" },
        { "base64url.encode(\"\\u00ff\\u00fe\")", "\"w7_Dvg==\"" },
        { "base64url.encode_no_pad(\"hi\")", "\"aGk\"" },
        { "base64url.decode(\"aGk\")", "\"hi\"" },
        { "hex.encode(\"hi\")", "\"6869\"" },
        { "hex.decode(\"6869\")", "\"hi\"" },
        { "urlquery.encode(\"a b&c\")", "\"a+b%26c\"" },
        { "urlquery.decode(\"a+b%26c\")", "\"a b&c\"" },
        { "urlquery.encode_object({\"b\": [\"1\", \"2\"], \"a\": \"x y\"})", "\"a=x+y&b=1&b=2\"" },
        { "urlquery.decode_object(\"a=1&a=2&b=\")", "{\"a\":[\"1\",\"2\"],\"b\":[\"\"]}" },
        { "yaml.unmarshal(\"a: [1, b]\\nc: {d: null}\")", "{\"a\":[1,\"b\"],\"c\":{\"d\":null}}" },
        { "yaml.marshal({\"a\": [1, \"x\"]})", "\"a:\\n- 1\\n- x\\n\"" },
        { "yaml.is_valid(\"a: [\")", "false" },
    };
    CHECK(rows);
}

static void
test_builtins_time(void **state)
{
    static const struct row rows[] = {
        { "time.now_ns()", "1700000000000000000" },
        { "time.parse_rfc3339_ns(\"2024-02-29T12:30:00.5+01:00\")", "1709206200500000000" },
        { "time.parse_rfc3339_ns(\"2024-02-30T00:00:00Z\")", "undefined" },
        { "time.parse_ns(\"2006-01-02 15:04\", \"2023-07-04 09:05\")", "1688461500000000000" },
        { "time.parse_duration_ns(\"1h30m\")", "5400000000000" },
        { "time.parse_duration_ns(\"1.5us\")", "1500" },
        { "time.date(1709206200500000000)", "[2024,2,29]" },
        { "time.clock([1709206200500000000, \"America/New_York\"])", "[6,30,0]" },
        { "time.weekday(1709206200500000000)", "\"Thursday\"" },
        { "time.add_date(1709206200500000000, 1, 0, 0)", "1740828600500000000" },
        { "time.diff(1709206200500000000, 0)", "[54,1,28,11,30,0]" },
        { "time.format([1709206200500000000, \"Europe/Paris\", \"Mon Jan _2 15:04:05.000 MST "
          "2006\"])",
          "\"Thu Feb 29 12:30:00.500 CET 2024\"" },
        { "time.format(0)", "\"1970-01-01T00:00:00Z\"" },
    };
    CHECK(rows);
}

static void
test_builtins_net(void **state)
{
    static const struct row rows[] = {
        { "net.cidr_contains(\"10.0.0.0/8\", \"10.1.2.3\")", "true" },
        { "net.cidr_contains(\"10.0.0.0/8\", \"11.0.0.0/24\")", "false" },
        { "net.cidr_contains(\"2001:db8::/32\", \"2001:db8:1::1\")", "true" },
        { "net.cidr_intersects(\"10.0.0.0/8\", \"10.255.0.0/16\")", "true" },
        { "net.cidr_is_valid(\"10.0.0.0/33\")", "false" },
        { "net.cidr_contains_matches([\"1.0.0.0/8\", \"2.0.0.0/8\"], \"1.2.3.4\")",
          "[[0,\"1.2.3.4\"]]" },
        { "net.cidr_expand(\"192.168.0.0/31\")", "[\"192.168.0.0\",\"192.168.0.1\"]" },
        { "net.cidr_merge([\"10.0.0.0/25\", \"10.0.0.128/25\"])", "[\"10.0.0.0/24\"]" },
    };
    CHECK(rows);
}

static void
test_builtins_crypto_and_jwt(void **state)
{
    static const struct row rows[] = {
        { "crypto.sha256(\"abc\")",
          "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"" },
        { "crypto.md5(\"\")", "\"d41d8cd98f00b204e9800998ecf8427e\"" },
        { "crypto.sha1(\"abc\")", "\"a9993e364706816aba3e25717850c26c9cd0d89d\"" },
        { "crypto.hmac.sha256(\"msg\", \"key\")",
          "\"2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628\"" },
        { "crypto.hmac.equal(\"a\", \"a\")", "true" },
        { "io.jwt.decode(\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\")",
          "[{\"alg\":\"HS256\"},{\"sub\":\"x\"},\"736967\"]" },
        { "io.jwt.verify_hs256(\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0."
          "s-j4haezxh6wrOeRmpuRS-Rw8jJk0bExcSPOJv4OfXE\", \"secret\")",
          "true" },
        { "io.jwt.decode_verify(\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0."
          "s-j4haezxh6wrOeRmpuRS-Rw8jJk0bExcSPOJv4OfXE\", {\"secret\": \"secret\"})",
          "[true,{\"alg\":\"HS256\"},{\"sub\":\"x\"}]" },
        { "io.jwt.decode_verify(\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0."
          "s-j4haezxh6wrOeRmpuRS-Rw8jJk0bExcSPOJv4OfXE\", {\"secret\": \"wrong\"})",
          "[false,{},{}]" },
    };
    CHECK(rows);
}

static void
test_builtins_units_ids_and_graphs(void **state)
{
    static const struct row rows[] = {
        { "units.parse(\"500m\")", "0.5" },
        { "units.parse(\"1.1Ki\")", "1126.4" },
        { "units.parse(\"2.5e3K\")", "2500000" },
        { "units.parse_bytes(\"1.1KiB\")", "1126" },
        { "units.parse_bytes(\"10eib\")", "11529215046068469760" },
        { "units.parse(\"1 k\")", "undefined" },
        { "semver.compare(\"1.0.0-alpha.1\", \"1.0.0-alpha.beta\")", "-1" },
        { "semver.compare(\"1.0.0\", \"1.0.0-rc.1\")", "1" },
        { "semver.is_valid(\"1.2\")", "false" },
        { "uuid.parse(\"{00000000-0000-4000-8000-000000000000}\")",
          "{\"variant\":\"RFC4122\",\"version\":4}" },
        { "count(uuid.rfc4122(\"k\"))", "36" },
        { "uuid.rfc4122(\"k\") == uuid.rfc4122(\"k\")", "true" },
        { "rand.intn(\"k\", 10) < 10", "true" },
        { "graph.reachable({\"a\": [\"b\"], \"b\": [\"c\"], \"c\": [], \"d\": [\"a\"]}, "
          "{\"a\"})",
          "[\"a\",\"b\",\"c\"]" },
        { "graph.reachable_paths({\"a\": [\"b\", \"c\"], \"b\": [\"c\"], \"c\": []}, "
          "[\"a\"])",
          "[[\"a\",\"b\",\"c\"],[\"a\",\"c\"]]" },
        { "io.jwt.encode_sign({\"alg\": \"HS256\"}, {\"sub\": \"x\"}, {\"kty\": \"oct\", "
          "\"k\": \"c2VjcmV0\"})",
          "\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.s-j4haezxh6wrOeRmpuRS-Rw8jJk0bExcSPOJv4OfXE\"" },
    };
    CHECK(rows);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_strings),
        cmocka_unit_test(test_builtins_regex_and_glob),
        cmocka_unit_test(test_builtins_aggregates_numbers_and_types),
        cmocka_unit_test(test_builtins_collections),
        cmocka_unit_test(test_builtins_encodings),
        cmocka_unit_test(test_builtins_time),
        cmocka_unit_test(test_builtins_net),
        cmocka_unit_test(test_builtins_crypto_and_jwt),
        cmocka_unit_test(test_builtins_units_ids_and_graphs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
