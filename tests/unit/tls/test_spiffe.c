/*
 * Unit tests for SPIFFE ID parsing (SPIFFE-ID.md section 2) and the ID matchers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "tls/spiffe.h"

static const char *
parse_reason(const char *s, size_t len)
{
    struct pc_spiffe_id id;
    const char *reason = "none";

    if (pc_spiffe_id_parse(s, len, &id, &reason) == 0) {
        return "ok";
    }
    return reason;
}

static const char *
reason_of(const char *s)
{
    return parse_reason(s, strlen(s));
}

static void
test_spiffe_id_parse_accepts_valid_ids(void **state)
{
    static const char *const valid[] = {
        "spiffe://example.org",
        "spiffe://example.org/ns/prod/sa/web",
        "spiffe://a-b_c.9/A.b-C_9",
        "spiffe://10.0.0.1/x",
        "spiffe://example.org/.../.a/a./-",
        "spiffe://k8s-west.example.com/9eebccd2-12bf-40a6-b262-65fe0487d453",
    };

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        assert_string_equal(reason_of(valid[i]), "ok");
    }
}

static void
test_spiffe_id_parse_fills_slices(void **state)
{
    const char *s = "spiffe://example.org/ns/prod";
    struct pc_spiffe_id id;

    assert_int_equal(pc_spiffe_id_parse(s, strlen(s), &id, NULL), 0);
    assert_int_equal(id.trust_domain_len, 11);
    assert_memory_equal(id.trust_domain, "example.org", 11);
    assert_int_equal(id.path_len, 8);
    assert_memory_equal(id.path, "/ns/prod", 8);

    assert_int_equal(pc_spiffe_id_parse("spiffe://td", 11, &id, NULL), 0);
    assert_int_equal(id.trust_domain_len, 2);
    assert_int_equal(id.path_len, 0);
}

struct refusal {
    const char *id;
    const char *reason;
};

static const struct refusal refusals[] = {
    { "", "spiffe_id_empty" },
    { "http://example.org/x", "spiffe_id_scheme" },
    { "SPIFFE://example.org/x", "spiffe_id_scheme" },
    { "Spiffe://example.org/x", "spiffe_id_scheme" },
    { "spiffe:/example.org/x", "spiffe_id_scheme" },
    { "spiffe:example.org", "spiffe_id_scheme" },
    { "example.org/x", "spiffe_id_scheme" },
    { "spiffe://", "spiffe_id_empty_trust_domain" },
    { "spiffe:///path", "spiffe_id_empty_trust_domain" },
    { "spiffe://?q", "spiffe_id_empty_trust_domain" },
    { "spiffe://user@example.org/x", "spiffe_id_userinfo" },
    { "spiffe://user:pass@example.org/x", "spiffe_id_userinfo" },
    { "spiffe://@example.org", "spiffe_id_userinfo" },
    { "spiffe://example.org:8443/x", "spiffe_id_port" },
    { "spiffe://example.org:/x", "spiffe_id_port" },
    { "spiffe://[::1]/x", "spiffe_id_bad_char" },
    { "spiffe://Example.org/x", "spiffe_id_uppercase_trust_domain" },
    { "spiffe://EXAMPLE.ORG", "spiffe_id_uppercase_trust_domain" },
    { "spiffe://exa%41mple.org", "spiffe_id_percent_encoded" },
    { "spiffe://exa mple.org", "spiffe_id_bad_char" },
    { "spiffe://exa+mple.org", "spiffe_id_bad_char" },
    { "spiffe://example.org/a?b=c", "spiffe_id_query" },
    { "spiffe://example.org?x", "spiffe_id_query" },
    { "spiffe://example.org/a?", "spiffe_id_query" },
    { "spiffe://example.org/a#frag", "spiffe_id_fragment" },
    { "spiffe://example.org#frag", "spiffe_id_fragment" },
    { "spiffe://example.org/a//b", "spiffe_id_empty_segment" },
    { "spiffe://example.org//a", "spiffe_id_empty_segment" },
    { "spiffe://example.org/a/", "spiffe_id_empty_segment" },
    { "spiffe://example.org/", "spiffe_id_empty_segment" },
    { "spiffe://example.org/./a", "spiffe_id_dot_segment" },
    { "spiffe://example.org/a/..", "spiffe_id_dot_segment" },
    { "spiffe://example.org/a/../b", "spiffe_id_dot_segment" },
    { "spiffe://example.org/a%20b", "spiffe_id_percent_encoded" },
    { "spiffe://example.org/%2e%2e", "spiffe_id_percent_encoded" },
    { "spiffe://example.org/a b", "spiffe_id_bad_char" },
    { "spiffe://example.org/a*b", "spiffe_id_bad_char" },
    { "spiffe://example.org/a:b", "spiffe_id_bad_char" },
    { "spiffe://example.org/a@b", "spiffe_id_bad_char" },
    { "spiffe://example.org/a~b", "spiffe_id_bad_char" },
    { "spiffe://example.org/caf\xc3\xa9", "spiffe_id_bad_char" },
    { "spiffe://example.org/a\\b", "spiffe_id_bad_char" },
};

static void
test_spiffe_id_parse_refuses_with_stable_reasons(void **state)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const char *got = reason_of(refusals[i].id);

        if (strcmp(got, refusals[i].reason) != 0) {
            fail_msg("\"%s\": got %s, want %s", refusals[i].id, got, refusals[i].reason);
        }
    }
}

static void
test_spiffe_id_parse_refuses_nul_byte(void **state)
{
    static const char id[] = "spiffe://example.org/a\0b";
    static const char td[] = "spiffe://exam\0ple.org/a";

    assert_string_equal(parse_reason(id, sizeof(id) - 1), "spiffe_id_bad_char");
    assert_string_equal(parse_reason(td, sizeof(td) - 1), "spiffe_id_bad_char");
}

static void
test_spiffe_id_parse_enforces_lengths(void **state)
{
    char buf[PC_SPIFFE_ID_MAX + 16];
    size_t n;

    /* Exactly 2048 bytes is accepted (section 2.3), one more is refused. */
    memcpy(buf, "spiffe://example.org/", 21);
    memset(buf + 21, 'a', sizeof(buf) - 21);
    assert_string_equal(parse_reason(buf, PC_SPIFFE_ID_MAX), "ok");
    assert_string_equal(parse_reason(buf, PC_SPIFFE_ID_MAX + 1), "spiffe_id_too_long");

    /* A trust domain of 255 bytes is accepted, 256 is not. */
    memcpy(buf, "spiffe://", 9);
    memset(buf + 9, 'a', 256);
    n = 9 + 255;
    assert_string_equal(parse_reason(buf, n), "ok");
    assert_string_equal(parse_reason(buf, n + 1), "spiffe_id_trust_domain_too_long");
}

static void
test_spiffe_trust_domain_validate(void **state)
{
    const char *reason = NULL;

    assert_int_equal(pc_spiffe_trust_domain_validate("example.org", 11, &reason), 0);
    assert_int_equal(pc_spiffe_trust_domain_validate("", 0, &reason), PC_EINVAL);
    assert_string_equal(reason, "spiffe_id_empty_trust_domain");
    assert_int_equal(pc_spiffe_trust_domain_validate("Example.org", 11, &reason), PC_EINVAL);
    assert_string_equal(reason, "spiffe_id_uppercase_trust_domain");
    assert_int_equal(pc_spiffe_trust_domain_validate("a/b", 3, &reason), PC_EINVAL);
    assert_string_equal(reason, "spiffe_id_bad_char");
    assert_int_equal(pc_spiffe_trust_domain_validate("a:1", 3, &reason), PC_EINVAL);
    assert_string_equal(reason, "spiffe_id_port");
    assert_int_equal(pc_spiffe_trust_domain_validate("spiffe://a", 10, &reason), PC_EINVAL);
}

static struct pc_arena *arena;

static const struct pc_spiffe_matcher *
compile(const char *pattern)
{
    struct pc_err err = { 0 };
    const struct pc_spiffe_matcher *m = pc_spiffe_matcher_compile(pattern, arena, &err);

    if (m == NULL) {
        fail_msg("pattern \"%s\" refused: %s", pattern, err.msg);
    }
    return m;
}

static bool
matches(const struct pc_spiffe_matcher *m, const char *id)
{
    return pc_spiffe_match(m, id, strlen(id));
}

static void
test_spiffe_match_exact(void **state)
{
    const struct pc_spiffe_matcher *m = compile("spiffe://example.org/ns/prod/sa/web");

    assert_int_equal(pc_spiffe_matcher_kind(m), PC_SPIFFE_MATCH_EXACT);
    assert_string_equal(pc_spiffe_matcher_pattern(m), "spiffe://example.org/ns/prod/sa/web");
    assert_true(matches(m, "spiffe://example.org/ns/prod/sa/web"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/web/x"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/we"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/Web"));
    assert_false(matches(m, "spiffe://other.org/ns/prod/sa/web"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/web/"));
}

static void
test_spiffe_match_trust_domain(void **state)
{
    const struct pc_spiffe_matcher *m = compile("spiffe://example.org");

    assert_int_equal(pc_spiffe_matcher_kind(m), PC_SPIFFE_MATCH_TRUST_DOMAIN);
    assert_true(matches(m, "spiffe://example.org"));
    assert_true(matches(m, "spiffe://example.org/anything/at/all"));
    assert_false(matches(m, "spiffe://example.org.evil/x"));
    assert_false(matches(m, "spiffe://sub.example.org/x"));
    assert_false(matches(m, "spiffe://exampleXorg/x"));
    /* An invalid ID never matches, even in the right trust domain. */
    assert_false(matches(m, "spiffe://example.org/a//b"));
    assert_false(matches(m, "spiffe://example.org:443/a"));
}

static void
test_spiffe_match_prefix_is_segment_wise(void **state)
{
    const struct pc_spiffe_matcher *m = compile("spiffe://example.org/ns/prod/");
    const struct pc_spiffe_matcher *all = compile("spiffe://example.org/");

    assert_int_equal(pc_spiffe_matcher_kind(m), PC_SPIFFE_MATCH_PREFIX);
    assert_true(matches(m, "spiffe://example.org/ns/prod/x"));
    assert_true(matches(m, "spiffe://example.org/ns/prod/sa/web"));
    assert_false(matches(m, "spiffe://example.org/ns/production"));
    assert_false(matches(m, "spiffe://example.org/ns/prod"));
    assert_false(matches(m, "spiffe://example.org/ns"));
    assert_false(matches(m, "spiffe://other.org/ns/prod/x"));

    assert_int_equal(pc_spiffe_matcher_kind(all), PC_SPIFFE_MATCH_PREFIX);
    assert_true(matches(all, "spiffe://example.org/x"));
    assert_false(matches(all, "spiffe://example.org"));
}

static void
test_spiffe_match_glob_star_stays_in_segment(void **state)
{
    const struct pc_spiffe_matcher *m = compile("spiffe://example.org/ns/*/sa/web-*");
    const struct pc_spiffe_matcher *mid = compile("spiffe://example.org/a*b*c");

    assert_int_equal(pc_spiffe_matcher_kind(m), PC_SPIFFE_MATCH_GLOB);
    assert_true(matches(m, "spiffe://example.org/ns/prod/sa/web-1"));
    assert_true(matches(m, "spiffe://example.org/ns/dev/sa/web-"));
    assert_false(matches(m, "spiffe://example.org/ns/a/b/sa/web-1"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/web-1/x"));
    assert_false(matches(m, "spiffe://example.org/ns/prod/sa/api-1"));
    assert_false(matches(m, "spiffe://example.org/ns/sa/web-1"));

    assert_true(matches(mid, "spiffe://example.org/abc"));
    assert_true(matches(mid, "spiffe://example.org/aXbYbZc"));
    assert_true(matches(mid, "spiffe://example.org/abcbc"));
    assert_false(matches(mid, "spiffe://example.org/abcd"));
    assert_false(matches(mid, "spiffe://example.org/ab/c"));
}

static void
test_spiffe_match_glob_double_star_spans_segments(void **state)
{
    const struct pc_spiffe_matcher *tail = compile("spiffe://example.org/ns/**");
    const struct pc_spiffe_matcher *inner = compile("spiffe://example.org/**/sa/web");
    const struct pc_spiffe_matcher *two = compile("spiffe://example.org/**/x/**/y");

    assert_true(matches(tail, "spiffe://example.org/ns"));
    assert_true(matches(tail, "spiffe://example.org/ns/a"));
    assert_true(matches(tail, "spiffe://example.org/ns/a/b/c"));
    assert_false(matches(tail, "spiffe://example.org/nsx/a"));
    assert_false(matches(tail, "spiffe://example.org"));

    assert_true(matches(inner, "spiffe://example.org/sa/web"));
    assert_true(matches(inner, "spiffe://example.org/ns/prod/sa/web"));
    assert_true(matches(inner, "spiffe://example.org/sa/web/sa/web"));
    assert_false(matches(inner, "spiffe://example.org/ns/prod/sa/web/x"));

    /* Needs backtracking: the first "x" seen is not the one that leads to a match. */
    assert_true(matches(two, "spiffe://example.org/x/a/x/b/y"));
    assert_true(matches(two, "spiffe://example.org/x/y"));
    assert_false(matches(two, "spiffe://example.org/x/a/x/b/z"));
    assert_false(matches(two, "spiffe://other.org/x/y"));
}

static void
test_spiffe_match_id_takes_parsed_ids(void **state)
{
    const struct pc_spiffe_matcher *m = compile("spiffe://example.org/ns/**");
    struct pc_spiffe_id id;
    const char *s = "spiffe://example.org/ns/a";

    assert_int_equal(pc_spiffe_id_parse(s, strlen(s), &id, NULL), 0);
    assert_true(pc_spiffe_match_id(m, &id));
}

static void
test_spiffe_matcher_compile_refuses_bad_patterns(void **state)
{
    static const char *const bad[] = {
        "",
        "example.org",
        "spiffe://*.example.org/x",
        "spiffe://*",
        "spiffe://Example.org/x",
        "spiffe://example.org:1/x",
        "spiffe://example.org/a**",
        "spiffe://example.org/**b",
        "spiffe://example.org/ns/*/",
        "spiffe://example.org/a//b",
        "spiffe://example.org/a//",
        "spiffe://example.org/./x",
        "spiffe://example.org/a?x",
        "spiffe://example.org/a b/*",
        "spiffe://example.org/%41",
        "spiffe://example.org?**/x",
        "spiffe://example.org#*",
        "spiffe://example.org?",
    };
    struct pc_err err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.code = 0;
        if (pc_spiffe_matcher_compile(bad[i], arena, &err) != NULL) {
            fail_msg("pattern \"%s\" was accepted", bad[i]);
        }
        assert_int_equal(err.code, PC_EINVAL);
    }
    assert_null(pc_spiffe_matcher_compile("spiffe://*.example.org/x", arena, &err));
    assert_non_null(strstr(err.msg, "pattern_wildcard_in_trust_domain"));
}

static int
setup(void **state)
{
    arena = pc_arena_create(4096);
    return arena == NULL;
}

static int
teardown(void **state)
{
    pc_arena_destroy(arena);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spiffe_id_parse_accepts_valid_ids),
        cmocka_unit_test(test_spiffe_id_parse_fills_slices),
        cmocka_unit_test(test_spiffe_id_parse_refuses_with_stable_reasons),
        cmocka_unit_test(test_spiffe_id_parse_refuses_nul_byte),
        cmocka_unit_test(test_spiffe_id_parse_enforces_lengths),
        cmocka_unit_test(test_spiffe_trust_domain_validate),
        cmocka_unit_test(test_spiffe_match_exact),
        cmocka_unit_test(test_spiffe_match_trust_domain),
        cmocka_unit_test(test_spiffe_match_prefix_is_segment_wise),
        cmocka_unit_test(test_spiffe_match_glob_star_stays_in_segment),
        cmocka_unit_test(test_spiffe_match_glob_double_star_spans_segments),
        cmocka_unit_test(test_spiffe_match_id_takes_parsed_ids),
        cmocka_unit_test(test_spiffe_matcher_compile_refuses_bad_patterns),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
