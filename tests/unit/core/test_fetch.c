/*
 * Unit tests for the outbound HTTP client: URL and header checks, form encoding, Cache-Control,
 * HTTP-date and freshness parsing, and the paths that need a loop but no socket (requests
 * refused at start, cancellation and destruction before delivery, out of memory). Transfers
 * over sockets are tested by tests/integration/test_fetch.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/fetch.h"
#include "core/log.h"

/* ---- URL and header checks ---- */

static void
test_fetch_check_url_accepts_http_and_https(void **state)
{
    assert_int_equal(pc_fetch_check_url("http://127.0.0.1:8080/x"), 0);
    assert_int_equal(pc_fetch_check_url("https://idp.example.com/.well-known/jwks.json"), 0);
    assert_int_equal(pc_fetch_check_url("HTTPS://idp.example.com"), 0);
    assert_int_equal(pc_fetch_check_url("https://[::1]:8443/introspect?x=1"), 0);
}

static void
test_fetch_check_url_refuses_other_schemes(void **state)
{
    assert_int_equal(pc_fetch_check_url("ftp://example.com/file"), PC_ENOTSUP);
    assert_int_equal(pc_fetch_check_url("file:///etc/passwd"), PC_ENOTSUP);
    assert_int_equal(pc_fetch_check_url("gopher://example.com/"), PC_ENOTSUP);
    assert_int_equal(pc_fetch_check_url("ldap://example.com/"), PC_ENOTSUP);
    assert_int_equal(pc_fetch_check_url("foo://example.com/"), PC_ENOTSUP);
}

static void
test_fetch_check_url_refuses_malformed_and_credentials(void **state)
{
    char long_url[PC_FETCH_MAX_URL_BYTES + 32];

    assert_int_equal(pc_fetch_check_url(NULL), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url(""), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("example.com/path"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("http://"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("http://exa mple.com/"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("http://example.com/\r\nX: y"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("https://user:secret@example.com/"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("https://user@example.com/"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_url("https://:secret@example.com/"), PC_EINVAL);

    memcpy(long_url, "https://example.com/", 20);
    memset(long_url + 20, 'a', sizeof(long_url) - 21);
    long_url[sizeof(long_url) - 1] = '\0';
    assert_int_equal(pc_fetch_check_url(long_url), PC_EINVAL);
}

static void
test_fetch_check_header_accepts_tokens_and_values(void **state)
{
    assert_int_equal(pc_fetch_check_header("Accept", "application/json"), 0);
    assert_int_equal(pc_fetch_check_header("X-Trace_Id.1!", "a\tb c"), 0);
    assert_int_equal(pc_fetch_check_header("Authorization", "Bearer abc"), 0);
    assert_int_equal(pc_fetch_check_header("X-Empty", ""), 0);
}

static void
test_fetch_check_header_refuses_injection_and_reserved(void **state)
{
    assert_int_equal(pc_fetch_check_header("X-A", "v\r\nX-Injected: 1"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X-A", "v\n"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X-A", "v\x7f"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X A", "v"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X-A:", "v"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("", "v"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X-\xc3\xa9", "v"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header(NULL, "v"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("X-A", NULL), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("Host", "evil.example"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("content-length", "5"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("Transfer-Encoding", "chunked"), PC_EINVAL);
    assert_int_equal(pc_fetch_check_header("Connection", "close"), PC_EINVAL);
}

/* ---- form encoding ---- */

static void
test_fetch_form_encode_escapes_reserved_bytes(void **state)
{
    const struct pc_fetch_pair fields[] = {
        { "token", "a b+c&d=e/f?g%h" },
        { "token_type_hint", "access_token" },
        { "x*-._~", "\xc3\xa9\x01" },
    };
    size_t len = 0;
    char *out = pc_fetch_form_encode(fields, 3, &len);

    assert_non_null(out);
    assert_string_equal(out, "token=a+b%2Bc%26d%3De%2Ff%3Fg%25h&token_type_hint=access_token"
                             "&x*-._%7E=%C3%A9%01");
    assert_int_equal(len, strlen(out));
    pc_free_secret(out, len + 1);
}

static void
test_fetch_form_encode_handles_empty(void **state)
{
    const struct pc_fetch_pair fields[] = { { "a", "" }, { "", "b" } };
    size_t len = 99;
    char *out = pc_fetch_form_encode(fields, 0, &len);

    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    pc_free(out);

    out = pc_fetch_form_encode(fields, 2, &len);
    assert_string_equal(out, "a=&=b");
    pc_free(out);
}

/* ---- caching fields ---- */

static struct pc_fetch_caching
cache_control(const char *value)
{
    struct pc_fetch_caching c;

    pc_fetch_caching_init(&c);
    pc_fetch_parse_cache_control(value, strlen(value), &c);
    return c;
}

static void
test_fetch_parse_cache_control_reads_max_age(void **state)
{
    assert_int_equal(cache_control("max-age=300").max_age_s, 300);
    assert_int_equal(cache_control("public, max-age=86400, must-revalidate").max_age_s, 86400);
    assert_int_equal(cache_control("  MAX-AGE=5  ").max_age_s, 5);
    assert_int_equal(cache_control("max-age=\"60\"").max_age_s, 60);
    assert_int_equal(cache_control("public").max_age_s, -1);
    assert_int_equal(cache_control("").max_age_s, -1);
    /* s-maxage is for shared caches and is not max-age. */
    assert_int_equal(cache_control("s-maxage=10").max_age_s, -1);
    assert_int_equal(cache_control("s-maxage=10, max-age=20").max_age_s, 20);
}

static void
test_fetch_parse_cache_control_bad_max_age_is_stale(void **state)
{
    assert_int_equal(cache_control("max-age=abc").max_age_s, 0);
    assert_int_equal(cache_control("max-age=").max_age_s, 0);
    assert_int_equal(cache_control("max-age").max_age_s, 0);
    assert_int_equal(cache_control("max-age=-5").max_age_s, 0);
    assert_int_equal(cache_control("max-age=1.5").max_age_s, 0);
}

static void
test_fetch_parse_cache_control_caps_huge_max_age(void **state)
{
    assert_int_equal(cache_control("max-age=2147483648").max_age_s, 2147483648LL);
    assert_int_equal(cache_control("max-age=99999999999999999999999999").max_age_s, 2147483648LL);
    assert_int_equal(cache_control("max-age=2147483647").max_age_s, 2147483647LL);
}

static void
test_fetch_parse_cache_control_first_max_age_counts(void **state)
{
    struct pc_fetch_caching c;

    pc_fetch_caching_init(&c);
    pc_fetch_parse_cache_control("max-age=10, max-age=20", 22, &c);
    assert_int_equal(c.max_age_s, 10);
    /* A second Cache-Control line adds directives but keeps the first max-age. */
    pc_fetch_parse_cache_control("max-age=30, no-store", 20, &c);
    assert_int_equal(c.max_age_s, 10);
    assert_true(c.is_no_store);
}

static void
test_fetch_parse_cache_control_flags_and_quotes(void **state)
{
    struct pc_fetch_caching c = cache_control("no-cache=\"set-cookie, x\", max-age=7");

    assert_true(c.is_no_cache);
    assert_false(c.is_no_store);
    assert_int_equal(c.max_age_s, 7);

    c = cache_control("private, NO-STORE");
    assert_true(c.is_no_store);
    assert_false(c.is_no_cache);

    /* Only len bytes are read. */
    pc_fetch_caching_init(&c);
    pc_fetch_parse_cache_control("max-age=12345", 10, &c);
    assert_int_equal(c.max_age_s, 12);
}

static void
test_fetch_parse_http_date_reads_three_forms(void **state)
{
    const char *imf = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
    const char *asctime = "Sun Nov  6 08:49:37 1994";

    assert_int_equal(pc_fetch_parse_http_date(imf, strlen(imf)), 784111777);
    assert_int_equal(pc_fetch_parse_http_date(rfc850, strlen(rfc850)), 784111777);
    assert_int_equal(pc_fetch_parse_http_date(asctime, strlen(asctime)), 784111777);
}

static void
test_fetch_parse_http_date_refuses_garbage(void **state)
{
    char huge[200];

    memset(huge, '1', sizeof(huge));
    assert_int_equal(pc_fetch_parse_http_date("", 0), -1);
    assert_int_equal(pc_fetch_parse_http_date("0", 1), -1);
    assert_int_equal(pc_fetch_parse_http_date("yesterday", 9), -1);
    assert_int_equal(pc_fetch_parse_http_date(huge, sizeof(huge)), -1);
}

static void
test_fetch_freshness_follows_rfc9111_order(void **state)
{
    struct pc_fetch_caching c;

    pc_fetch_caching_init(&c);
    assert_int_equal(pc_fetch_freshness_s(&c, 1000), -1);

    c.expires_s = 1600;
    c.date_s = 1000;
    assert_int_equal(pc_fetch_freshness_s(&c, 5000), 600);
    c.date_s = -1;
    assert_int_equal(pc_fetch_freshness_s(&c, 1100), 500);
    c.expires_s = 0; /* invalid Expires: already expired */
    assert_int_equal(pc_fetch_freshness_s(&c, 1100), 0);

    c.max_age_s = 60; /* max-age wins over Expires */
    assert_int_equal(pc_fetch_freshness_s(&c, 1100), 60);
    c.is_no_cache = true;
    assert_int_equal(pc_fetch_freshness_s(&c, 1100), 0);
    c.is_no_cache = false;
    c.is_no_store = true;
    assert_int_equal(pc_fetch_freshness_s(&c, 1100), 0);
}

static void
test_fetch_result_names_are_stable(void **state)
{
    assert_string_equal(pc_fetch_result_name(PC_FETCH_OK), "ok");
    assert_string_equal(pc_fetch_result_name(PC_FETCH_UNREACHABLE), "unreachable");
    assert_string_equal(pc_fetch_result_name(PC_FETCH_BAD_RESPONSE), "bad_response");
    assert_string_equal(pc_fetch_result_name(PC_FETCH_INVALID_REQUEST), "invalid_request");
    assert_string_equal(pc_fetch_result_name(PC_FETCH_INTERNAL), "internal");
}

/* ---- requests that never reach a socket ---- */

struct seen {
    int calls;
    int is_returned; /* pc_fetch_start had returned when the callback ran */
    enum pc_fetch_result result;
    int code;
    char detail[32];
    struct pc_fetch *destroy; /* destroyed from inside the callback when set */
};

static void
on_response(void *data, struct pc_fetch_response *resp)
{
    struct seen *seen = data;

    seen->calls++;
    seen->result = resp->result;
    seen->code = resp->code;
    snprintf(seen->detail, sizeof(seen->detail), "%s", resp->detail);
    assert_null(resp->body);
    assert_int_equal(resp->status, 0);
    assert_non_null(resp->error);
    assert_string_equal(resp->content_type, "");
    if (seen->destroy != NULL) {
        pc_fetch_destroy(seen->destroy);
    }
}

struct loop_fixture {
    uv_loop_t loop;
    struct pc_fetch *f;
    size_t bytes_before;
};

static int
setup_loop(void **state)
{
    static struct loop_fixture fx;

    assert_int_equal(pc_fetch_global_init(), 0);
    fx.bytes_before = pc_alloc_bytes();
    assert_int_equal(uv_loop_init(&fx.loop), 0);
    fx.f = pc_fetch_create(&fx.loop, NULL, NULL);
    assert_non_null(fx.f);
    *state = &fx;
    return 0;
}

/* Destroys the instance (if the test has not), drains the loop and checks nothing leaked. */
static int
teardown_loop(void **state)
{
    struct loop_fixture *fx = *state;

    pc_fetch_destroy(fx->f);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    assert_int_equal(pc_alloc_bytes(), fx->bytes_before);
    return 0;
}

static struct pc_fetch_transfer *
start(struct loop_fixture *fx, const struct pc_fetch_request *req, struct seen *seen)
{
    struct pc_fetch_transfer *t = pc_fetch_start(fx->f, req, on_response, seen);

    seen->is_returned = seen->calls == 0;
    return t;
}

static void
test_fetch_start_refused_request_reports_from_loop(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_request ftp = { .url = "ftp://example.com/" };
    const struct pc_fetch_request bad = { .url = "https://u:p@example.com/" };
    struct seen seen_ftp = { 0 };
    struct seen seen_bad = { 0 };

    assert_non_null(start(fx, &ftp, &seen_ftp));
    assert_non_null(start(fx, &bad, &seen_bad));
    assert_true(seen_ftp.is_returned);
    assert_int_equal(seen_ftp.calls, 0);

    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(seen_ftp.calls, 1);
    assert_int_equal(seen_ftp.result, PC_FETCH_INVALID_REQUEST);
    assert_int_equal(seen_ftp.code, PC_ENOTSUP);
    assert_string_equal(seen_ftp.detail, "scheme_refused");
    assert_int_equal(seen_bad.calls, 1);
    assert_int_equal(seen_bad.code, PC_EINVAL);
    assert_string_equal(seen_bad.detail, "bad_url");
}

static void
test_fetch_start_refuses_bad_requests(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_pair crlf[] = { { "X-A", "1\r\nX-B: 2" } };
    const struct pc_fetch_pair form[] = { { "token", "t" } };
    const struct pc_fetch_pair ctype[] = { { "Content-Type", "text/plain" } };
    const struct pc_fetch_request reqs[] = {
        { .url = "http://127.0.0.1:1/", .headers = crlf, .n_headers = 1 },
        { .url = "http://127.0.0.1:1/", .body = "x", .body_len = 1 },
        { .url = "http://127.0.0.1:1/",
          .method = PC_FETCH_POST,
          .form = form,
          .n_form = 1,
          .headers = ctype,
          .n_headers = 1 },
        { .url = "http://127.0.0.1:1/", .username = "a:b", .password = "c" },
        { .url = "https://127.0.0.1:1/", .cert_file = "/nonexistent.pem" },
        { .url = "http://127.0.0.1:1/", .method = (enum pc_fetch_method)7 },
    };
    const char *details[] = { "bad_header",      "bad_body",  "bad_header",
                              "bad_credentials", "tls_files", "bad_method" };
    struct seen seen[6] = { 0 };

    for (size_t i = 0; i < 6; i++) {
        assert_non_null(start(fx, &reqs[i], &seen[i]));
    }
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(seen[i].calls, 1);
        assert_int_equal(seen[i].result, PC_FETCH_INVALID_REQUEST);
        assert_string_equal(seen[i].detail, details[i]);
    }
}

static void
test_fetch_cancel_before_delivery_silences_callback(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_request req = { .url = "gopher://example.com/" };
    struct seen kept = { 0 };
    struct seen cancelled = { 0 };

    start(fx, &req, &kept);
    pc_fetch_cancel(start(fx, &req, &cancelled));
    pc_fetch_cancel(NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(kept.calls, 1);
    assert_int_equal(cancelled.calls, 0);
}

static void
test_fetch_destroy_drops_pending_callbacks(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_request req = { .url = "gopher://example.com/" };
    struct seen seen = { 0 };

    start(fx, &req, &seen);
    pc_fetch_destroy(fx->f);
    fx->f = NULL;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(seen.calls, 0);
}

static void
test_fetch_destroy_inside_callback_stops_delivery(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_request req = { .url = "gopher://example.com/" };
    struct seen first = { .destroy = fx->f };
    struct seen second = { 0 };

    start(fx, &req, &first);
    start(fx, &req, &second);
    fx->f = NULL;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(first.calls, 1);
    assert_int_equal(second.calls, 0);
}

static void
test_fetch_start_out_of_memory(void **state)
{
    struct loop_fixture *fx = *state;
    const struct pc_fetch_pair form[] = { { "client_secret", "s3cret" } };
    const struct pc_fetch_request req = {
        .url = "http://127.0.0.1:1/", .method = PC_FETCH_POST, .form = form, .n_form = 1
    };
    struct seen seen = { 0 };

    /* No transfer at all: NULL, and no callback ever. */
    pc_alloc_fail_after(0);
    assert_null(start(fx, &req, &seen));
    pc_alloc_fail_reset();

    /* The transfer, but not the body copy: reported through the callback. */
    pc_alloc_fail_after(1);
    assert_non_null(start(fx, &req, &seen));
    pc_alloc_fail_reset();
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.result, PC_FETCH_INTERNAL);
    assert_int_equal(seen.code, PC_ENOMEM);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_check_url_accepts_http_and_https),
        cmocka_unit_test(test_fetch_check_url_refuses_other_schemes),
        cmocka_unit_test(test_fetch_check_url_refuses_malformed_and_credentials),
        cmocka_unit_test(test_fetch_check_header_accepts_tokens_and_values),
        cmocka_unit_test(test_fetch_check_header_refuses_injection_and_reserved),
        cmocka_unit_test(test_fetch_form_encode_escapes_reserved_bytes),
        cmocka_unit_test(test_fetch_form_encode_handles_empty),
        cmocka_unit_test(test_fetch_parse_cache_control_reads_max_age),
        cmocka_unit_test(test_fetch_parse_cache_control_bad_max_age_is_stale),
        cmocka_unit_test(test_fetch_parse_cache_control_caps_huge_max_age),
        cmocka_unit_test(test_fetch_parse_cache_control_first_max_age_counts),
        cmocka_unit_test(test_fetch_parse_cache_control_flags_and_quotes),
        cmocka_unit_test(test_fetch_parse_http_date_reads_three_forms),
        cmocka_unit_test(test_fetch_parse_http_date_refuses_garbage),
        cmocka_unit_test(test_fetch_freshness_follows_rfc9111_order),
        cmocka_unit_test(test_fetch_result_names_are_stable),
        cmocka_unit_test_setup_teardown(test_fetch_start_refused_request_reports_from_loop,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_fetch_start_refuses_bad_requests, setup_loop,
                                        teardown_loop),
        cmocka_unit_test_setup_teardown(test_fetch_cancel_before_delivery_silences_callback,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_fetch_destroy_drops_pending_callbacks, setup_loop,
                                        teardown_loop),
        cmocka_unit_test_setup_teardown(test_fetch_destroy_inside_callback_stops_delivery,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_fetch_start_out_of_memory, setup_loop, teardown_loop),
    };

    /* Refused requests log a warning each; the outcomes are checked here instead. */
    pc_log_configure(PC_LOG_ERROR, PC_LOG_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
