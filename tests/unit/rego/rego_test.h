/*
 * Helpers shared by the Rego unit tests that go through the public API: compile a policy from
 * module sources and JSON data, then evaluate queries and compare their results as JSON text.
 * Everything is static (inline, so unused helpers do not warn) and each test binary carries its
 * own copy; the evaluation context and its arena live for the whole test binary and are reset
 * before each query.
 */
#ifndef PC_TEST_REGO_TEST_H
#define PC_TEST_REGO_TEST_H

#include <stdio.h>
#include <string.h>

#include "rego/json.h"
#include "rego/rego.h"
#include "rego/strbuf.h"

static struct pc_rego_ctx *test_ctx;
static char test_text[8192];

/*
 * Compiles the NULL-terminated module sources with optional JSON data (NULL for none). Returns
 * the policy, or NULL with err filled; the caller unrefs it.
 */
static inline struct pc_rego_policy *
test_compile(const char *const *modules, const char *data_json, struct pc_rego_error *err)
{
    struct pc_rego_compiler *c = pc_rego_compiler_create();
    struct pc_rego_policy *pol = NULL;
    char file[32];

    if (c == NULL) {
        return NULL;
    }
    pc_rego_compiler_set_test_builtins(c, true);
    for (size_t i = 0; modules[i] != NULL; i++) {
        snprintf(file, sizeof(file), "m%zu.rego", i);
        if (pc_rego_compiler_add_module(c, file, modules[i], strlen(modules[i]), err) != 0) {
            goto release_compiler;
        }
    }
    if (data_json != NULL
        && pc_rego_compiler_add_data_json(c, NULL, data_json, strlen(data_json), err) != 0) {
        goto release_compiler;
    }
    pol = pc_rego_compiler_compile(c, err);
release_compiler:
    pc_rego_compiler_free(c);
    return pol;
}

/* As test_compile with one module; NULL on error (err filled). */
static inline struct pc_rego_policy *
test_compile1(const char *module, struct pc_rego_error *err)
{
    const char *mods[] = { module, NULL };
    return test_compile(mods, NULL, err);
}

/*
 * Evaluates query against input (JSON text or NULL) and returns the value of its only
 * expression as compact JSON, "undefined" when it has no solution, or "error: <code>: <msg>"
 * (code as pc_rego_strerror names it). The text lives until the next call.
 */
static inline const char *
test_eval(struct pc_rego_policy *pol, const char *query, const char *input_json)
{
    struct pc_rego_error err;
    const struct pc_rego_value *input = NULL;
    const struct pc_rego_value *out = NULL;
    struct pc_rego_query *q;

    if (test_ctx == NULL) {
        test_ctx = pc_rego_ctx_create(0);
        pc_rego_ctx_set_now_ns(test_ctx, INT64_C(1700000000000000000));
    }
    pc_rego_ctx_reset(test_ctx);
    q = pc_rego_query_compile(pol, query, strlen(query), 0, &err);
    if (q == NULL) {
        snprintf(test_text, sizeof(test_text), "error: %s: %s", pc_rego_strerror(err.code),
                 err.msg);
        return test_text;
    }
    if (input_json != NULL) {
        input =
            pc_rego_json_parse(pc_rego_ctx_arena(test_ctx), input_json, strlen(input_json), &err);
    }
    if ((input_json != NULL && input == NULL)
        || pc_rego_eval_value(test_ctx, q, input, &out, &err) != 0) {
        snprintf(test_text, sizeof(test_text), "error: %s: %s", pc_rego_strerror(err.code),
                 err.msg);
    } else if (out == NULL) {
        snprintf(test_text, sizeof(test_text), "undefined");
    } else {
        struct pc_rego_strbuf sb;
        pc_rego_strbuf_init(&sb, pc_rego_ctx_arena(test_ctx));
        pc_rego_json_write(&sb, out, 0);
        snprintf(test_text, sizeof(test_text), "%.*s", (int)sb.len, sb.data);
    }
    pc_rego_query_free(q);
    return test_text;
}

/* Compiles module alone and evaluates query against input_json (see test_eval). */
static inline const char *
test_eval_module(const char *module, const char *query, const char *input_json)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1(module, &err);

    if (pol == NULL) {
        snprintf(test_text, sizeof(test_text), "compile error: %s: %s", pc_rego_strerror(err.code),
                 err.msg);
        return test_text;
    }
    test_eval(pol, query, input_json);
    pc_rego_policy_unref(pol);
    return test_text;
}

/* Frees the shared context; call once at the end of main. */
static inline void
test_done(void)
{
    pc_rego_ctx_free(test_ctx);
    test_ctx = NULL;
}

#endif
