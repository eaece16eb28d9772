/*
 * Unit tests for the HTTP/1.1 codec: heads, bodies, pauses, and every strict-framing refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "http/h1.h"

struct sink {
    struct pc_h1_head *head;
    char body[4096];
    size_t body_len;
    int completes;
    int head_result;
};

static int
on_head(void *owner, struct pc_h1_head *head)
{
    struct sink *s = owner;

    s->head = head;
    return s->head_result;
}

static int
on_body(void *owner, const char *at, size_t len)
{
    struct sink *s = owner;

    memcpy(s->body + s->body_len, at, len);
    s->body_len += len;
    return 0;
}

static void
on_complete(void *owner)
{
    ((struct sink *)owner)->completes++;
}

static const struct pc_h1_callbacks callbacks = { on_head, on_body, on_complete };

struct fixture {
    struct pc_arena *arena;
    struct pc_h1_parser parser;
    struct sink sink;
};

static int
setup_kind(void **state, enum pc_h1_kind kind)
{
    static const struct pc_h1_limits limits = { 8192, 32768, 100 };
    struct fixture *f = test_calloc(1, sizeof(*f));

    f->arena = pc_arena_create(4096);
    pc_h1_init(&f->parser, kind, &callbacks, &f->sink);
    pc_h1_begin(&f->parser, f->arena, &limits);
    *state = f;
    return 0;
}

static int
setup_request(void **state)
{
    return setup_kind(state, PC_H1_REQUEST);
}

static int
setup_response(void **state)
{
    return setup_kind(state, PC_H1_RESPONSE);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    pc_arena_destroy(f->arena);
    test_free(f);
    return 0;
}

/* Feeds all of text, resuming after each pause; returns the last result. */
static enum pc_h1_result
feed_all(struct fixture *f, const char *text, size_t len)
{
    size_t off = 0;
    enum pc_h1_result rc = PC_H1_OK;

    while (off < len) {
        size_t consumed;

        pc_h1_resume(&f->parser);
        rc = pc_h1_feed(&f->parser, text + off, len - off, &consumed);
        off += consumed;
        if (rc == PC_H1_ERROR || rc == PC_H1_UPGRADE) {
            return rc;
        }
    }
    pc_h1_resume(&f->parser);
    return rc;
}

static enum pc_h1_result
feed_str(struct fixture *f, const char *text)
{
    return feed_all(f, text, strlen(text));
}

static void
assert_refused(void **state, const char *text, size_t len, unsigned status, const char *reason)
{
    struct fixture *f = *state;

    assert_int_equal(feed_all(f, text, len), PC_H1_ERROR);
    assert_int_equal(pc_h1_error_status(&f->parser), status);
    assert_string_equal(pc_h1_error_reason(&f->parser), reason);
}

#define REFUSED(text, status, reason) assert_refused(state, text, sizeof(text) - 1, status, reason)

static void
test_h1_parses_request_head_with_lowercased_names(void **state)
{
    struct fixture *f = *state;
    const struct pc_header_pair *h;
    size_t consumed;

    const char req[] = "GET /a?b=1 HTTP/1.1\r\nHost: Example.COM\r\nX-Thing:  v  \r\n\r\n";
    assert_int_equal(pc_h1_feed(&f->parser, req, sizeof(req) - 1, &consumed), PC_H1_PAUSED);
    assert_int_equal(consumed, sizeof(req) - 1);
    assert_non_null(f->sink.head);
    assert_string_equal(f->sink.head->method, "GET");
    assert_int_equal(f->sink.head->target_len, 6);
    assert_memory_equal(f->sink.head->target, "/a?b=1", 6);
    assert_int_equal(f->sink.head->n_headers, 2);
    assert_int_equal(f->sink.head->host_index, 0);
    h = pc_h1_header_find(f->sink.head, "x-thing", 7);
    assert_non_null(h);
    assert_int_equal(h->value_len, 1);
    assert_memory_equal(h->value, "v", 1);
    assert_true(f->sink.head->is_keep_alive);
    assert_int_equal(f->sink.head->framing, PC_H1_BODY_NONE);
}

static void
test_h1_pauses_after_head_and_after_message(void **state)
{
    struct fixture *f = *state;
    const char two[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t consumed;

    assert_int_equal(pc_h1_feed(&f->parser, two, sizeof(two) - 1, &consumed), PC_H1_PAUSED);
    assert_int_equal(consumed, 28);
    assert_int_equal(f->sink.completes, 0);
    pc_h1_resume(&f->parser);
    assert_int_equal(pc_h1_feed(&f->parser, two + 28, sizeof(two) - 1 - 28, &consumed),
                     PC_H1_PAUSED);
    assert_int_equal(consumed, 0);
    assert_int_equal(f->sink.completes, 1);
}

static void
test_h1_completes_bodiless_request_on_empty_feed(void **state)
{
    struct fixture *f = *state;
    size_t consumed;

    feed_str(f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(f->sink.completes, 0);
    assert_int_equal(pc_h1_feed(&f->parser, NULL, 0, &consumed), PC_H1_PAUSED);
    assert_int_equal(f->sink.completes, 1);
}

static void
test_h1_delivers_length_body_across_feeds(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello");
    assert_int_equal(f->sink.head->framing, PC_H1_BODY_LENGTH);
    assert_int_equal(f->sink.head->content_length, 10);
    feed_str(f, "world");
    assert_int_equal(f->sink.body_len, 10);
    assert_memory_equal(f->sink.body, "helloworld", 10);
    assert_int_equal(f->sink.completes, 1);
}

static void
test_h1_delivers_chunked_body_without_framing(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-Field: x\r\n\r\n");
    assert_int_equal(f->sink.head->framing, PC_H1_BODY_CHUNKED);
    assert_int_equal(f->sink.body_len, 11);
    assert_memory_equal(f->sink.body, "hello world", 11);
    assert_int_equal(f->sink.completes, 1);
    /* The trailer is dropped, not appended to the head. */
    assert_null(pc_h1_header_find(f->sink.head, "trailer-field", 13));
}

static void
test_h1_refuses_obs_fold(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obs_fold");
}

static void
test_h1_refuses_obs_fold_split_at_the_fold(void **state)
{
    struct fixture *f = *state;
    size_t consumed;
    const char one[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n";
    const char two[] = "\tb\r\n\r\n";

    assert_int_equal(pc_h1_feed(&f->parser, one, sizeof(one) - 1, &consumed), PC_H1_OK);
    assert_int_equal(pc_h1_feed(&f->parser, two, sizeof(two) - 1, &consumed), PC_H1_ERROR);
    assert_string_equal(pc_h1_error_reason(&f->parser), "obs_fold");
}

static void
test_h1_accepts_value_split_across_feeds(void **state)
{
    struct fixture *f = *state;
    size_t consumed;
    const char one[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ab";
    const char two[] = " cd\r\n\r\n";

    assert_int_equal(pc_h1_feed(&f->parser, one, sizeof(one) - 1, &consumed), PC_H1_OK);
    assert_int_equal(pc_h1_feed(&f->parser, two, sizeof(two) - 1, &consumed), PC_H1_PAUSED);
    assert_memory_equal(pc_h1_header_find(f->sink.head, "x", 1)->value, "ab cd", 5);
}

static void
test_h1_refuses_te_with_cl(void **state)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400, "te_with_cl");
}

static void
test_h1_refuses_repeated_content_length(void **state)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
            "repeated_content_length");
}

static void
test_h1_refuses_malformed_content_length(void **state)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\nabc", 400,
            "bad_content_length");
}

static void
test_h1_refuses_cr_in_value(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "malformed");
}

static void
test_h1_refuses_nul_in_value(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, "bad_header");
}

static void
test_h1_refuses_control_in_value(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
            "b\r\n\r\n",
            400, "bad_header");
}

static void
test_h1_refuses_invalid_header_name(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX Y: a\r\n\r\n", 400, "bad_header");
}

static void
test_h1_refuses_unknown_transfer_coding_with_501(void **state)
{
    REFUSED("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
            "unsupported_transfer_coding");
}

static void
test_h1_refuses_transfer_encoding_in_http10(void **state)
{
    REFUSED("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "bad_transfer_encoding");
}

static void
test_h1_refuses_missing_host(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nX: a\r\n\r\n", 400, "missing_host");
}

static void
test_h1_accepts_http10_without_host(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(feed_str(f, "GET / HTTP/1.0\r\n\r\n"), PC_H1_PAUSED);
    assert_int_equal(f->sink.head->host_index, -1);
    assert_false(f->sink.head->is_keep_alive);
}

static void
test_h1_refuses_repeated_host(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "repeated_host");
}

static void
test_h1_refuses_malformed_host(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad_host");
}

static void
test_h1_refuses_host_with_userinfo(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "bad_host");
}

static void
test_h1_refuses_host_with_bad_port(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400, "bad_host");
}

static void
test_h1_rewrites_matching_absolute_form_to_origin_form(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(feed_str(f, "GET http://a.test/x?y HTTP/1.1\r\nHost: a.test\r\n\r\n"),
                     PC_H1_PAUSED);
    assert_int_equal(f->sink.head->target_len, 4);
    assert_memory_equal(f->sink.head->target, "/x?y", 4);
}

static void
test_h1_refuses_absolute_form_that_disagrees_with_host(void **state)
{
    REFUSED("GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", 400, "host_mismatch");
}

static void
test_h1_refuses_unsupported_version_with_505(void **state)
{
    REFUSED("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "bad_version");
}

static void
test_h1_refuses_http2_preface_with_505(void **state)
{
    REFUSED("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "bad_version");
}

static void
test_h1_refuses_connect_with_405(void **state)
{
    REFUSED("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405, "connect_refused");
}

static void
test_h1_refuses_fragment_in_target(void **state)
{
    REFUSED("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target");
}

static void
test_h1_refuses_long_request_line_with_414(void **state)
{
    struct fixture *f = *state;
    static const struct pc_h1_limits limits = { 64, 32768, 100 };
    char req[256];

    pc_h1_begin(&f->parser, f->arena, &limits);
    snprintf(req, sizeof(req), "GET /%0100d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    assert_int_equal(feed_str(f, req), PC_H1_ERROR);
    assert_int_equal(pc_h1_error_status(&f->parser), 414);
}

static void
test_h1_refuses_large_headers_with_431(void **state)
{
    struct fixture *f = *state;
    static const struct pc_h1_limits limits = { 8192, 64, 100 };
    char req[512];

    pc_h1_begin(&f->parser, f->arena, &limits);
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\nX: %0100d\r\n\r\n", 0);
    assert_int_equal(feed_str(f, req), PC_H1_ERROR);
    assert_int_equal(pc_h1_error_status(&f->parser), 431);
    assert_string_equal(pc_h1_error_reason(&f->parser), "headers_too_large");
}

static void
test_h1_refuses_too_many_headers_with_431(void **state)
{
    struct fixture *f = *state;
    static const struct pc_h1_limits limits = { 8192, 32768, 3 };

    pc_h1_begin(&f->parser, f->arena, &limits);
    assert_int_equal(feed_str(f, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
                     PC_H1_ERROR);
    assert_string_equal(pc_h1_error_reason(&f->parser), "too_many_headers");
}

static void
test_h1_refuses_long_chunk_extensions(void **state)
{
    struct fixture *f = *state;
    char req[8192];
    int n;

    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;x=");
    memset(req + n, 'a', 5000);
    memcpy(req + n + 5000, "\r\na\r\n0\r\n\r\n", 11);
    assert_int_equal(feed_all(f, req, (size_t)n + 5011), PC_H1_ERROR);
    assert_string_equal(pc_h1_error_reason(&f->parser), "chunk_extension_too_long");
}

static void
test_h1_reads_expectations(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    assert_true(f->sink.head->expect_continue);
    assert_false(f->sink.head->expect_other);
}

static void
test_h1_reads_upgrade_requests(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                "Upgrade: websocket\r\n\r\n");
    assert_true(f->sink.head->wants_upgrade);
}

static void
test_h1_response_without_length_is_close_delimited(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome bytes");
    assert_int_equal(f->sink.head->status, 200);
    assert_int_equal(f->sink.head->framing, PC_H1_BODY_CLOSE);
    assert_int_equal(f->sink.completes, 0);
    assert_int_equal(pc_h1_finish(&f->parser), PC_H1_OK);
    assert_int_equal(f->sink.completes, 1);
    assert_int_equal(f->sink.body_len, 10);
}

static void
test_h1_response_204_has_no_body(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(f->sink.head->framing, PC_H1_BODY_NONE);
    assert_int_equal(f->sink.completes, 1);
}

static void
test_h1_response_to_head_skips_body(void **state)
{
    struct fixture *f = *state;

    f->sink.head_result = 1;
    feed_str(f, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    assert_int_equal(f->sink.completes, 1);
    assert_int_equal(f->sink.head->content_length, 99);
}

static void
test_h1_truncated_response_is_an_error(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort");
    assert_int_equal(pc_h1_finish(&f->parser), PC_H1_ERROR);
}

static void
test_h1_value_has_token_reads_lists(void **state)
{
    assert_true(pc_h1_value_has_token("keep-alive, Upgrade", 19, "upgrade", 7));
    assert_true(pc_h1_value_has_token(" close ", 7, "close", 5));
    assert_false(pc_h1_value_has_token("upgraded", 8, "upgrade", 7));
    assert_false(pc_h1_value_has_token("", 0, "close", 5));
}

static void
test_h1_knows_hop_by_hop_fields(void **state)
{
    assert_true(pc_h1_is_hop_by_hop("connection", 10));
    assert_true(pc_h1_is_hop_by_hop("transfer-encoding", 17));
    assert_true(pc_h1_is_hop_by_hop("keep-alive", 10));
    assert_false(pc_h1_is_hop_by_hop("content-type", 12));
    assert_string_equal(pc_h1_reason_phrase(431), "Request Header Fields Too Large");
}

static void
test_h1_accepts_empty_header_value(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(feed_str(f, "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY: \r\n\r\n"),
                     PC_H1_PAUSED);
    assert_int_equal(pc_h1_header_find(f->sink.head, "x-empty", 7)->value_len, 0);
    assert_int_equal(pc_h1_header_find(f->sink.head, "y", 1)->value_len, 0);
}

static void
test_h1_refuses_empty_header_name(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, "bad_header_name");
}

static void
test_h1_refuses_host_port_out_of_range(void **state)
{
    REFUSED("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400, "bad_host");
}

static void
test_h1_refuses_bare_lf_after_request_line(void **state)
{
    REFUSED("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare_lf");
}

static void
test_h1_refuses_bare_lf_split_after_cr_boundary(void **state)
{
    struct fixture *f = *state;
    size_t consumed;
    const char one[] = "GET / HTTP/1.1\r\nHost: a";
    const char two[] = "\nX: b\r\n\r\n";

    assert_int_equal(pc_h1_feed(&f->parser, one, sizeof(one) - 1, &consumed), PC_H1_OK);
    assert_int_equal(pc_h1_feed(&f->parser, two, sizeof(two) - 1, &consumed), PC_H1_ERROR);
    assert_string_equal(pc_h1_error_reason(&f->parser), "bare_lf");
}

static void
test_h1_allows_bare_lf_in_body(void **state)
{
    struct fixture *f = *state;

    feed_str(f, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\na\nb");
    assert_int_equal(f->sink.completes, 1);
    assert_memory_equal(f->sink.body, "a\nb", 3);
}

int
main(void)
{
#define REQ(t)  cmocka_unit_test_setup_teardown(t, setup_request, teardown)
#define RESP(t) cmocka_unit_test_setup_teardown(t, setup_response, teardown)
    const struct CMUnitTest tests[] = {
        REQ(test_h1_parses_request_head_with_lowercased_names),
        REQ(test_h1_pauses_after_head_and_after_message),
        REQ(test_h1_completes_bodiless_request_on_empty_feed),
        REQ(test_h1_delivers_length_body_across_feeds),
        REQ(test_h1_delivers_chunked_body_without_framing),
        REQ(test_h1_refuses_obs_fold),
        REQ(test_h1_refuses_obs_fold_split_at_the_fold),
        REQ(test_h1_accepts_value_split_across_feeds),
        REQ(test_h1_refuses_te_with_cl),
        REQ(test_h1_refuses_repeated_content_length),
        REQ(test_h1_refuses_malformed_content_length),
        REQ(test_h1_refuses_cr_in_value),
        REQ(test_h1_refuses_nul_in_value),
        REQ(test_h1_refuses_control_in_value),
        REQ(test_h1_refuses_invalid_header_name),
        REQ(test_h1_refuses_unknown_transfer_coding_with_501),
        REQ(test_h1_refuses_transfer_encoding_in_http10),
        REQ(test_h1_refuses_missing_host),
        REQ(test_h1_accepts_http10_without_host),
        REQ(test_h1_refuses_repeated_host),
        REQ(test_h1_refuses_malformed_host),
        REQ(test_h1_refuses_host_with_userinfo),
        REQ(test_h1_refuses_host_with_bad_port),
        REQ(test_h1_rewrites_matching_absolute_form_to_origin_form),
        REQ(test_h1_refuses_absolute_form_that_disagrees_with_host),
        REQ(test_h1_refuses_unsupported_version_with_505),
        REQ(test_h1_refuses_http2_preface_with_505),
        REQ(test_h1_refuses_connect_with_405),
        REQ(test_h1_refuses_fragment_in_target),
        REQ(test_h1_refuses_long_request_line_with_414),
        REQ(test_h1_refuses_large_headers_with_431),
        REQ(test_h1_refuses_too_many_headers_with_431),
        REQ(test_h1_refuses_long_chunk_extensions),
        REQ(test_h1_reads_expectations),
        REQ(test_h1_accepts_empty_header_value),
        REQ(test_h1_refuses_empty_header_name),
        REQ(test_h1_refuses_host_port_out_of_range),
        REQ(test_h1_refuses_bare_lf_after_request_line),
        REQ(test_h1_refuses_bare_lf_split_after_cr_boundary),
        REQ(test_h1_allows_bare_lf_in_body),
        REQ(test_h1_reads_upgrade_requests),
        RESP(test_h1_response_without_length_is_close_delimited),
        RESP(test_h1_response_204_has_no_body),
        RESP(test_h1_response_to_head_skips_body),
        RESP(test_h1_truncated_response_is_an_error),
        cmocka_unit_test(test_h1_value_has_token_reads_lists),
        cmocka_unit_test(test_h1_knows_hop_by_hop_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
