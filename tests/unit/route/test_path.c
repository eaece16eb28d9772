/*
 * Unit tests for pc_path_normalize: each rule of docs/CONFIGURATION.md "Request paths", the
 * traversal spellings it must defeat, and the guarantee that normalising never grows a path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "route/path.h"

/* Normalises in (a C string) and returns the result in a static buffer, or NULL on PC_EPARSE. */
static const char *
norm(const char *in, bool keep)
{
    static char out[1024];
    size_t len = strlen(in);
    size_t out_len = 0;
    int rc;

    assert_true(len < sizeof(out));
    memset(out, 'X', sizeof(out));
    rc = pc_path_normalize(in, len, out, &out_len, keep);
    if (rc != 0) {
        assert_int_equal(rc, PC_EPARSE);
        return NULL;
    }
    assert_true(out_len <= len);
    out[out_len] = '\0';
    return out;
}

static void
test_path_keeps_plain_paths(void **state)
{
    assert_string_equal(norm("/", false), "/");
    assert_string_equal(norm("/a", false), "/a");
    assert_string_equal(norm("/a/b/", false), "/a/b/");
    assert_string_equal(norm("/a.b/c-d_e~f", false), "/a.b/c-d_e~f");
    assert_string_equal(norm("/a;b=c/d:e@f!$&'()*+,", false), "/a;b=c/d:e@f!$&'()*+,");
}

static void
test_path_requires_leading_slash(void **state)
{
    assert_null(norm("", false));
    assert_null(norm("a/b", false));
    assert_null(norm("*", false));
    assert_null(norm("http://example.com/", false));
}

static void
test_path_decodes_unreserved(void **state)
{
    assert_string_equal(norm("/%61%62%63", false), "/abc");
    assert_string_equal(norm("/%7Euser", false), "/~user");
    assert_string_equal(norm("/%2d%2E%5f%7e", false), "/-._~");
    assert_string_equal(norm("/%41%5A%30%39", false), "/AZ09");
}

static void
test_path_uppercases_other_encodings(void **state)
{
    assert_string_equal(norm("/caf%c3%a9", false), "/caf%C3%A9");
    assert_string_equal(norm("/a%20b", false), "/a%20b");
    assert_string_equal(norm("/%3f%23%25", false), "/%3F%23%25");
}

static void
test_path_refuses_malformed_percent(void **state)
{
    assert_null(norm("/%", false));
    assert_null(norm("/%4", false));
    assert_null(norm("/%zz", false));
    assert_null(norm("/a%g1", false));
    assert_null(norm("/a%", false));
}

static void
test_path_refuses_encoded_slashes(void **state)
{
    assert_null(norm("/a%2Fb", false));
    assert_null(norm("/a%2fb", false));
    assert_null(norm("/a%5Cb", false));
    assert_null(norm("/a%5cb", false));
}

static void
test_path_keeps_encoded_slashes_when_asked(void **state)
{
    assert_string_equal(norm("/a%2fb", true), "/a%2Fb");
    assert_string_equal(norm("/a%5cb", true), "/a%5Cb");
    /* A kept slash is not a separator: this is one segment, not a dot segment. */
    assert_string_equal(norm("/a/..%2F", true), "/a/..%2F");
}

static void
test_path_refuses_forbidden_characters(void **state)
{
    static const char nul_path[] = { '/', 'a', '\0', 'b' };
    char out[8];
    size_t out_len;

    assert_null(norm("/a\\b", false));
    assert_null(norm("/a b", false));
    assert_null(norm("/a#frag", false));
    assert_null(norm("/a?q", false));
    assert_null(norm("/a\tb", false));
    assert_null(norm("/a\r\nb", false));
    assert_null(norm("/a\x7f", false));
    assert_int_equal(pc_path_normalize(nul_path, sizeof(nul_path), out, &out_len, false),
                     PC_EPARSE);
}

static void
test_path_collapses_slashes(void **state)
{
    assert_string_equal(norm("//", false), "/");
    assert_string_equal(norm("///a////b//", false), "/a/b/");
    assert_string_equal(norm("/a//b", false), "/a/b");
}

static void
test_path_removes_dot_segments(void **state)
{
    assert_string_equal(norm("/a/./b", false), "/a/b");
    assert_string_equal(norm("/a/b/../c", false), "/a/c");
    assert_string_equal(norm("/a/b/.", false), "/a/b/");
    assert_string_equal(norm("/a/b/..", false), "/a/");
    assert_string_equal(norm("/a/..", false), "/");
    assert_string_equal(norm("/./", false), "/");
    assert_string_equal(norm("/.", false), "/");
    /* Names that merely contain dots are ordinary segments. */
    assert_string_equal(norm("/a/.../b", false), "/a/.../b");
    assert_string_equal(norm("/a/.b/..c/", false), "/a/.b/..c/");
}

static void
test_path_traversal_never_climbs_above_root(void **state)
{
    assert_string_equal(norm("/..", false), "/");
    assert_string_equal(norm("/../../etc/passwd", false), "/etc/passwd");
    assert_string_equal(norm("/a/../../b", false), "/b");
    assert_string_equal(norm("/a/b/../../../../c/", false), "/c/");
}

static void
test_path_traversal_with_encoded_dots(void **state)
{
    assert_string_equal(norm("/a/%2e%2e/b", false), "/b");
    assert_string_equal(norm("/a/%2E./b", false), "/b");
    assert_string_equal(norm("/a/.%2e/b", false), "/b");
    assert_string_equal(norm("/%2e%2e/%2e%2e/etc", false), "/etc");
    assert_string_equal(norm("/a/%2e/b", false), "/a/b");
    assert_string_equal(norm("/static/..//..//secret", false), "/secret");
    /* Encoded slashes around dots are refused, not interpreted. */
    assert_null(norm("/a/..%2f..%2fetc", false));
    assert_null(norm("/a%5c..%5cb", false));
}

static void
test_path_is_idempotent(void **state)
{
    static const char *const inputs[] = {
        "/a/%2e%2E/b/./c//d/", "/%7e%41%c3%a9/x", "/../a/b/..", "/a%2fb/../c", "/x/%2e",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char once[256];
        const char *first = norm(inputs[i], true);

        assert_non_null(first);
        strcpy(once, first);
        assert_string_equal(norm(once, true), once);
    }
}

static void
test_path_normalises_in_place(void **state)
{
    char buf[] = "/a/%7e/./b/../%2e%2E/c%3a";
    size_t out_len = 0;

    assert_int_equal(pc_path_normalize(buf, strlen(buf), buf, &out_len, false), 0);
    buf[out_len] = '\0';
    assert_string_equal(buf, "/a/c%3A");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_keeps_plain_paths),
        cmocka_unit_test(test_path_requires_leading_slash),
        cmocka_unit_test(test_path_decodes_unreserved),
        cmocka_unit_test(test_path_uppercases_other_encodings),
        cmocka_unit_test(test_path_refuses_malformed_percent),
        cmocka_unit_test(test_path_refuses_encoded_slashes),
        cmocka_unit_test(test_path_keeps_encoded_slashes_when_asked),
        cmocka_unit_test(test_path_refuses_forbidden_characters),
        cmocka_unit_test(test_path_collapses_slashes),
        cmocka_unit_test(test_path_removes_dot_segments),
        cmocka_unit_test(test_path_traversal_never_climbs_above_root),
        cmocka_unit_test(test_path_traversal_with_encoded_dots),
        cmocka_unit_test(test_path_is_idempotent),
        cmocka_unit_test(test_path_normalises_in_place),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
