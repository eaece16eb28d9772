/*
 * libFuzzer target for Rego evaluation: the input is a policy module, optionally followed by a
 * line "#input" and a JSON input document. The module compiles without the test builtins
 * (test.sleep would only make the fuzzer wait); when it compiles, the query "data" evaluates every
 * rule of every package against the input, and the result is written as JSON and as Rego terms, so
 * rule evaluation, unification, comprehensions, with, builtins and the writers all see fuzzed
 * programs. A step limit and a memory cap bound each run; the context is reused across two
 * evaluations to exercise reset. Must never crash, hang or leak, whatever the bytes.
 */
#include <stdint.h>
#include <string.h>

#include "rego/json.h"
#include "rego/mem.h"
#include "rego/rego.h"
#include "rego/strbuf.h"

#define STEP_LIMIT   20000
#define MEMORY_LIMIT (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pc_rego_policy *
compile(const char *src, size_t len)
{
    static const char base_data[] = "{\"roles\":{\"admin\":[\"read\",\"write\"]}}";
    struct pc_rego_error err;
    struct pc_rego_policy *pol = NULL;
    struct pc_rego_compiler *c = pc_rego_compiler_create();

    if (c == NULL) {
        return NULL;
    }
    if (pc_rego_compiler_add_data_json(c, NULL, base_data, sizeof(base_data) - 1, &err) == 0
        && pc_rego_compiler_add_module(c, "fuzz.rego", src, len, &err) == 0) {
        pol = pc_rego_compiler_compile(c, &err);
    }
    pc_rego_compiler_free(c);
    return pol;
}

static void
write_results(struct pc_rego_ctx *ctx, const struct pc_rego_solution *sols, size_t n)
{
    struct pc_rego_strbuf sb;

    pc_rego_strbuf_init(&sb, pc_rego_ctx_arena(ctx));
    for (size_t i = 0; i < n; i++) {
        if (sols[i].exprs[0] != NULL) {
            pc_rego_json_write(&sb, sols[i].exprs[0], PC_REGO_JSON_PRETTY);
            pc_rego_write_term(&sb, sols[i].exprs[0]);
        }
    }
}

static void
evaluate(struct pc_rego_policy *pol, const char *input_text, size_t input_len)
{
    struct pc_rego_error err;
    struct pc_rego_query *q = pc_rego_query_compile(pol, "data", 4, 0, &err);
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);

    if (q == NULL || ctx == NULL) {
        goto release_all;
    }
    pc_rego_ctx_set_step_limit(ctx, STEP_LIMIT);
    pc_rego_ctx_set_memory_limit(ctx, MEMORY_LIMIT);
    pc_rego_ctx_set_now_ns(ctx, INT64_C(1700000000000000000));
    for (int round = 0; round < 2; round++) {
        const struct pc_rego_value *input = NULL;
        const struct pc_rego_solution *sols;
        size_t n;

        pc_rego_ctx_reset(ctx);
        pc_rego_ctx_set_strict(ctx, round == 1);
        if (input_text != NULL) {
            input = pc_rego_json_parse(pc_rego_ctx_arena(ctx), input_text, input_len, &err);
        }
        if (pc_rego_eval(ctx, q, input, &sols, &n, &err) == 0) {
            write_results(ctx, sols, n);
        }
    }
release_all:
    pc_rego_ctx_free(ctx);
    pc_rego_query_free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char marker[] = "\n#input\n";
    const char *src = (const char *)data;
    const char *input = NULL;
    size_t module_len = size;
    size_t input_len = 0;

    for (size_t i = 0; i + sizeof(marker) - 1 <= size; i++) {
        if (memcmp(src + i, marker, sizeof(marker) - 1) == 0) {
            module_len = i;
            input = src + i + sizeof(marker) - 1;
            input_len = size - i - (sizeof(marker) - 1);
            break;
        }
    }
    struct pc_rego_policy *pol = compile(src, module_len);
    if (pol != NULL) {
        evaluate(pol, input, input_len);
        pc_rego_policy_unref(pol);
    }
    return 0;
}
