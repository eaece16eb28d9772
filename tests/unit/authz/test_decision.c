/*
 * Unit tests for decision parsing (src/authz/decision.c): every shape a decision point may
 * answer with, from OPA's REST Data API, as a bare JSON value, or as a Rego value; and every
 * shape refused, with its reason code: not JSON, undefined, wrong types, out-of-range statuses,
 * header names and values that could break the message, unprintable reasons, oversized answers
 * and running out of memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/decision.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "rego/json.h"
#include "rego/mem.h"
#include "rego/value.h"

static struct pc_arena *arena;
static struct pc_rego_arena *rego_arena;

static int
setup(void **state)
{
    arena = pc_arena_create(4096);
    rego_arena = pc_rego_arena_create(4096);
    assert_non_null(arena);
    assert_non_null(rego_arena);
    return 0;
}

static int
teardown(void **state)
{
    pc_alloc_fail_reset();
    pc_arena_destroy(arena);
    pc_rego_arena_destroy(rego_arena);
    return 0;
}

static int
parse(const char *text, enum pc_authz_decision_form form, struct pc_authz_decision *d)
{
    return pc_authz_decision_parse_json(text, strlen(text), form, arena, d);
}

static int
parse_rego(const char *json, struct pc_authz_decision *d)
{
    struct pc_rego_error err;
    const struct pc_rego_value *v = pc_rego_json_parse(rego_arena, json, strlen(json), &err);

    assert_non_null(v);
    return pc_authz_decision_from_rego(v, arena, d);
}

/* The text is refused in both framings (the OPA one wraps it in "result") with code. */
static void
refused_everywhere(const char *text, const char *code)
{
    struct pc_authz_decision d;
    size_t cap = strlen(text) + 16;
    char *opa = malloc(cap);

    assert_int_equal(parse(text, PC_AUTHZ_DECISION_BARE, &d), PC_EPARSE);
    assert_string_equal(d.failure, code);
    assert_non_null(d.failure_detail);
    assert_false(d.is_allowed);
    assert_int_equal(d.n_headers, 0);
    assert_null(d.headers);
    assert_null(d.reason);

    assert_non_null(opa);
    snprintf(opa, cap, "{\"result\":%s}", text);
    assert_int_equal(parse(opa, PC_AUTHZ_DECISION_OPA, &d), PC_EPARSE);
    assert_string_equal(d.failure, code);
    assert_false(d.is_allowed);
    free(opa);
}

/* As refused_everywhere, for a Rego value given as JSON, with code decision_malformed. */
static void
refused_from_rego(const char *json)
{
    struct pc_authz_decision d;

    assert_int_equal(parse_rego(json, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
    assert_false(d.is_allowed);
    assert_int_equal(d.n_headers, 0);
}

/* ---- accepted ---- */

static void
test_decision_opa_booleans(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(parse("{\"result\":true}", PC_AUTHZ_DECISION_OPA, &d), 0);
    assert_true(d.is_allowed);
    assert_null(d.failure);
    assert_null(d.failure_detail);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.n_headers, 0);
    assert_null(d.reason);

    assert_int_equal(
        parse(" {\"decision_id\":\"x\", \"result\" : false }\n", PC_AUTHZ_DECISION_OPA, &d), 0);
    assert_false(d.is_allowed);
    assert_null(d.failure);
}

static void
test_decision_bare_values(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(parse("true", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_true(d.is_allowed);
    assert_int_equal(parse("false", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_false(d.is_allowed);
    assert_int_equal(parse("{\"allow\":true,\"extra\":[1,{}]}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_true(d.is_allowed);

    /* A bare object that looks like OPA's answer is a decision without allow. */
    assert_int_equal(parse("{\"result\":true}", PC_AUTHZ_DECISION_BARE, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
}

static void
test_decision_full_object(void **state)
{
    struct pc_authz_decision d;
    const char *text = "{\"result\":{\"allow\":false,\"status\":401,\"reason\":\"token_revoked\","
                       "\"headers\":{\"WWW-Authenticate\":\"Bearer error=\\\"invalid_token\\\"\","
                       "\"x-why\":\"a\\tb\",\"x-empty\":\"\"},\"ignored\":null}}";

    assert_int_equal(parse(text, PC_AUTHZ_DECISION_OPA, &d), 0);
    assert_false(d.is_allowed);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.reason, "token_revoked");
    assert_int_equal(d.reason_len, 13);
    assert_int_equal(d.n_headers, 3);
    assert_string_equal(d.headers[0].name, "www-authenticate");
    assert_int_equal(d.headers[0].name_len, 16);
    assert_string_equal(d.headers[0].value, "Bearer error=\"invalid_token\"");
    assert_int_equal(d.headers[0].value_len, 28);
    assert_string_equal(d.headers[1].name, "x-why");
    assert_string_equal(d.headers[1].value, "a\tb");
    assert_string_equal(d.headers[2].name, "x-empty");
    assert_int_equal(d.headers[2].value_len, 0);
}

static void
test_decision_status_range(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(parse("{\"allow\":false,\"status\":400}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.status, 400);
    assert_int_equal(parse("{\"allow\":false,\"status\":599}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.status, 599);
    assert_int_equal(parse("{\"allow\":false,\"status\":403.0}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.status, 403);
    assert_int_equal(parse("{\"allow\":false,\"status\":4.29e2}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.status, 429);

    /* Checked when allowed too, but only a denial carries it. */
    assert_int_equal(parse("{\"allow\":true,\"status\":418}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_true(d.is_allowed);
    assert_int_equal(d.status, 0);
    refused_everywhere("{\"allow\":true,\"status\":200}", "decision_malformed");
}

static void
test_decision_reason_truncated(void **state)
{
    struct pc_authz_decision d;
    char text[512];
    char reason[301];

    memset(reason, 'r', 300);
    reason[300] = '\0';
    snprintf(text, sizeof(text), "{\"allow\":false,\"reason\":\"%s\"}", reason);
    assert_int_equal(parse(text, PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.reason_len, 128);
    assert_int_equal(strlen(d.reason), 128);
    assert_memory_equal(d.reason, reason, 128);

    assert_int_equal(parse("{\"allow\":true,\"reason\":\"\"}", PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_non_null(d.reason);
    assert_int_equal(d.reason_len, 0);
    assert_int_equal(parse("{\"allow\":true,\"reason\":\"a b ~!\"}", PC_AUTHZ_DECISION_BARE, &d),
                     0);
    assert_string_equal(d.reason, "a b ~!");
}

static void
test_decision_header_limits_accepted(void **state)
{
    struct pc_authz_decision d;
    size_t cap = 64 * 40 + 64;
    char *text = malloc(cap);
    size_t len = 0;

    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "{\"allow\":true,\"headers\":{");
    for (int i = 0; i < 64; i++) {
        len +=
            (size_t)snprintf(text + len, cap - len, "%s\"x-h%d\":\"%d\"", i > 0 ? "," : "", i, i);
    }
    snprintf(text + len, cap - len, "}}");
    assert_int_equal(parse(text, PC_AUTHZ_DECISION_BARE, &d), 0);
    assert_int_equal(d.n_headers, 64);
    assert_string_equal(d.headers[63].name, "x-h63");
    assert_string_equal(d.headers[63].value, "63");

    /* One more is refused. */
    snprintf(text + len, cap - len, ",\"x-h64\":\"\"}}");
    assert_int_equal(parse(text, PC_AUTHZ_DECISION_BARE, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
    assert_int_equal(d.n_headers, 0);
    free(text);
}

/* ---- refused ---- */

static void
test_decision_not_json(void **state)
{
    static const char *const texts[] = {
        "",
        "tru",
        "{",
        "true false",
        "{\"allow\":true}x",
        "{'allow':true}",
        "[true,]",
        "\"\xff\"",
        "{\"allow\":true,}",
        "NaN",
    };
    struct pc_authz_decision d;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_int_equal(parse(texts[i], PC_AUTHZ_DECISION_BARE, &d), PC_EPARSE);
        assert_string_equal(d.failure, "decision_not_json");
        assert_int_equal(parse(texts[i], PC_AUTHZ_DECISION_OPA, &d), PC_EPARSE);
        assert_string_equal(d.failure, "decision_not_json");
    }

    /* Bytes after a NUL count: the text is its length, not a C string. */
    assert_int_equal(pc_authz_decision_parse_json("true\0x", 6, PC_AUTHZ_DECISION_BARE, arena, &d),
                     PC_EPARSE);
    assert_string_equal(d.failure, "decision_not_json");
}

static void
test_decision_opa_undefined(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(parse("{}", PC_AUTHZ_DECISION_OPA, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_undefined");
    assert_int_equal(parse("{\"decision_id\":\"1\",\"warning\":{}}", PC_AUTHZ_DECISION_OPA, &d),
                     PC_EPARSE);
    assert_string_equal(d.failure, "decision_undefined");

    /* An answer that is not an object is not OPA's. */
    assert_int_equal(parse("true", PC_AUTHZ_DECISION_OPA, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
    assert_int_equal(parse("[{\"result\":true}]", PC_AUTHZ_DECISION_OPA, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
}

static void
test_decision_wrong_shapes(void **state)
{
    refused_everywhere("null", "decision_malformed");
    refused_everywhere("1", "decision_malformed");
    refused_everywhere("0", "decision_malformed");
    refused_everywhere("\"true\"", "decision_malformed");
    refused_everywhere("[true]", "decision_malformed");
    refused_everywhere("{}", "decision_malformed");
    refused_everywhere("{\"Allow\":true}", "decision_malformed");
    refused_everywhere("{\"allow\":\"true\"}", "decision_malformed");
    refused_everywhere("{\"allow\":1}", "decision_malformed");
    refused_everywhere("{\"allow\":null}", "decision_malformed");
    refused_everywhere("{\"allow\":[true]}", "decision_malformed");
}

static void
test_decision_duplicate_members(void **state)
{
    struct pc_authz_decision d;

    refused_everywhere("{\"allow\":true,\"allow\":false}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"1\",\"x-a\":\"2\"}}",
                       "decision_malformed");
    assert_int_equal(parse("{\"result\":true,\"result\":false}", PC_AUTHZ_DECISION_OPA, &d),
                     PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
}

static void
test_decision_bad_status(void **state)
{
    refused_everywhere("{\"allow\":false,\"status\":\"403\"}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":399}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":600}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":-403}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":403.5}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":1e300}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":-1e300}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":18446744073709551616}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":null}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"status\":true}", "decision_malformed");
}

static void
test_decision_bad_headers(void **state)
{
    char text[10000];

    refused_everywhere("{\"allow\":true,\"headers\":[]}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":\"x-a: 1\"}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":1}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":[\"1\"]}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":null}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"\":\"1\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x a\":\"1\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x:a\":\"1\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\":path\":\"/\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-\\u00e9\":\"1\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\\r\\nx-b\":\"1\"}}",
                       "decision_malformed");

    /* Values that would split the header or end a C string early. */
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"1\\r\\nx-b: 2\"}}",
                       "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"1\\n\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"1\\r\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"\\u0001\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"x-a\":\"\\u007f\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"headers\":{\"x-a\":\"\\u0000\"}}", "decision_not_json");

    /* Fields that frame the message or name the connection, in any letter case. */
    refused_everywhere("{\"allow\":true,\"headers\":{\"Content-Length\":\"0\"}}",
                       "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"transfer-encoding\":\"chunked\"}}",
                       "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"HOST\":\"evil\"}}", "decision_malformed");
    refused_everywhere("{\"allow\":true,\"headers\":{\"connection\":\"close\"}}",
                       "decision_malformed");
    refused_everywhere("{\"allow\":false,\"headers\":{\"Upgrade\":\"h2c\"}}", "decision_malformed");

    /* Lengths. */
    memset(text, 0, sizeof(text));
    strcpy(text, "{\"allow\":true,\"headers\":{\"x-a\":\"");
    memset(text + strlen(text), 'v', 8193);
    strcat(text, "\"}}");
    refused_everywhere(text, "decision_malformed");
    memset(text, 0, sizeof(text));
    strcpy(text, "{\"allow\":true,\"headers\":{\"");
    memset(text + strlen(text), 'n', 257);
    strcat(text, "\":\"1\"}}");
    refused_everywhere(text, "decision_malformed");
}

static void
test_decision_bad_reason(void **state)
{
    refused_everywhere("{\"allow\":false,\"reason\":1}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"reason\":null}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"reason\":[\"a\"]}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"reason\":\"a\\nb\"}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"reason\":\"a\\u001bb\"}", "decision_malformed");
    refused_everywhere("{\"allow\":false,\"reason\":\"caf\\u00e9\"}", "decision_malformed");
}

static void
test_decision_too_large(void **state)
{
    size_t len = PC_AUTHZ_DECISION_MAX_BYTES + 1;
    char *text = malloc(len);
    struct pc_authz_decision d;

    assert_non_null(text);
    memset(text, ' ', len);
    memcpy(text, "true", 4);
    assert_int_equal(pc_authz_decision_parse_json(text, len, PC_AUTHZ_DECISION_BARE, arena, &d),
                     PC_EPARSE);
    assert_string_equal(d.failure, "decision_too_large");

    /* Exactly the limit is read. */
    assert_int_equal(pc_authz_decision_parse_json(text, len - 1, PC_AUTHZ_DECISION_BARE, arena, &d),
                     0);
    assert_true(d.is_allowed);
    free(text);
}

static void
test_decision_out_of_memory(void **state)
{
    struct pc_authz_decision d;
    char text[12000];

    /* A value larger than the arena's block needs a new block, which cannot be had. */
    memset(text, 0, sizeof(text));
    strcpy(text, "{\"allow\":true,\"headers\":{\"x-a\":\"");
    memset(text + strlen(text), 'v', 8000);
    strcat(text, "\"}}");
    pc_alloc_fail_after(0);
    assert_int_equal(parse(text, PC_AUTHZ_DECISION_BARE, &d), PC_ENOMEM);
    pc_alloc_fail_reset();
    assert_string_equal(d.failure, "decision_internal");
    assert_false(d.is_allowed);
    assert_int_equal(d.n_headers, 0);
}

static void
test_decision_refusal_clears_previous(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(parse("{\"allow\":true,\"headers\":{\"x-a\":\"1\",\"x-b\":\"\\n\"}}",
                           PC_AUTHZ_DECISION_BARE, &d),
                     PC_EPARSE);
    assert_int_equal(d.n_headers, 0);
    assert_null(d.headers);
    assert_false(d.is_allowed);
    assert_string_equal(d.failure_detail,
                        "a header value is too long or holds CR, LF, NUL or another control");
}

/* ---- Rego values ---- */

static void
test_decision_rego_accepted(void **state)
{
    struct pc_authz_decision d;

    assert_int_equal(pc_authz_decision_from_rego(pc_rego_bool(true), arena, &d), 0);
    assert_true(d.is_allowed);
    assert_int_equal(pc_authz_decision_from_rego(pc_rego_bool(false), arena, &d), 0);
    assert_false(d.is_allowed);

    assert_int_equal(parse_rego("{\"allow\":false,\"status\":429,\"reason\":\"slow_down\","
                                "\"headers\":{\"Retry-After\":\"5\"},\"extra\":{}}",
                                &d),
                     0);
    assert_false(d.is_allowed);
    assert_int_equal(d.status, 429);
    assert_string_equal(d.reason, "slow_down");
    assert_int_equal(d.n_headers, 1);
    assert_string_equal(d.headers[0].name, "retry-after");
    assert_string_equal(d.headers[0].value, "5");

    /* Rego keeps integral numbers as integers: 403.0 is 403. */
    assert_int_equal(parse_rego("{\"allow\":false,\"status\":403.0}", &d), 0);
    assert_int_equal(d.status, 403);
    assert_int_equal(parse_rego("{\"allow\":true,\"status\":403}", &d), 0);
    assert_int_equal(d.status, 0);
}

static void
test_decision_rego_refused(void **state)
{
    struct pc_authz_decision d;
    const struct pc_rego_value *items[1];
    struct pc_rego_builder b;
    const struct pc_rego_value *v;

    assert_int_equal(pc_authz_decision_from_rego(NULL, arena, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_undefined");

    refused_from_rego("null");
    refused_from_rego("1");
    refused_from_rego("\"allow\"");
    refused_from_rego("[true]");
    refused_from_rego("{}");
    refused_from_rego("{\"allow\":\"yes\"}");
    refused_from_rego("{\"allow\":false,\"status\":\"403\"}");
    refused_from_rego("{\"allow\":false,\"status\":403.5}");
    refused_from_rego("{\"allow\":false,\"status\":99999999999999999999999}");
    refused_from_rego("{\"allow\":false,\"status\":600}");
    refused_from_rego("{\"allow\":true,\"headers\":[]}");
    refused_from_rego("{\"allow\":true,\"headers\":{\"x a\":\"1\"}}");
    refused_from_rego("{\"allow\":true,\"headers\":{\"x-a\":\"1\\r\\n\"}}");
    refused_from_rego("{\"allow\":true,\"headers\":{\"x-a\":2}}");
    refused_from_rego("{\"allow\":true,\"headers\":{\"Content-Length\":\"2\"}}");
    refused_from_rego("{\"allow\":false,\"reason\":7}");
    refused_from_rego("{\"allow\":false,\"reason\":\"\\t\"}");

    /* A set where a decision is read. */
    items[0] = pc_rego_bool(true);
    v = pc_rego_set_of(rego_arena, items, 1);
    assert_non_null(v);
    assert_int_equal(pc_authz_decision_from_rego(v, arena, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");

    /* A header name that is not a string, and a value holding a NUL. */
    pc_rego_builder_init(&b, rego_arena, PC_REGO_OBJECT);
    assert_int_equal(
        pc_rego_builder_put(&b, pc_rego_int(rego_arena, 1), pc_rego_string(rego_arena, "v", 1)), 0);
    v = pc_rego_builder_finish(&b);
    pc_rego_builder_init(&b, rego_arena, PC_REGO_OBJECT);
    assert_int_equal(pc_rego_builder_put_str(&b, "allow", 5, pc_rego_bool(true)), 0);
    assert_int_equal(pc_rego_builder_put_str(&b, "headers", 7, v), 0);
    v = pc_rego_builder_finish(&b);
    assert_int_equal(pc_authz_decision_from_rego(v, arena, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");

    pc_rego_builder_init(&b, rego_arena, PC_REGO_OBJECT);
    assert_int_equal(pc_rego_builder_put_str(&b, "x-a", 3, pc_rego_string(rego_arena, "a\0b", 3)),
                     0);
    v = pc_rego_builder_finish(&b);
    pc_rego_builder_init(&b, rego_arena, PC_REGO_OBJECT);
    assert_int_equal(pc_rego_builder_put_str(&b, "allow", 5, pc_rego_bool(true)), 0);
    assert_int_equal(pc_rego_builder_put_str(&b, "headers", 7, v), 0);
    v = pc_rego_builder_finish(&b);
    assert_int_equal(pc_authz_decision_from_rego(v, arena, &d), PC_EPARSE);
    assert_string_equal(d.failure, "decision_malformed");
    assert_int_equal(d.n_headers, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decision_opa_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_bare_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_full_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_status_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_reason_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_header_limits_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_not_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_opa_undefined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_wrong_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_duplicate_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_bad_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_bad_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_refusal_clears_previous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_rego_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_rego_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
