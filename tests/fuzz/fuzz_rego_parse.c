/*
 * libFuzzer target for the Rego front end: the input is one policy module that goes through
 * the lexer, parser, compiler (reference resolution, safety, recursion, indexing) and, when it
 * compiles, query compilation. The same bytes also go through the strict JSON reader, the YAML
 * data loader and the Rego term parser, which share the lexer's number and string rules. Must
 * never crash, hang or leak, whatever the bytes.
 */
#include <stdint.h>
#include <string.h>

#include "rego/json.h"
#include "rego/mem.h"
#include "rego/rego.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
compile_module(const char *src, size_t len)
{
    struct pc_rego_error err;
    struct pc_rego_compiler *c = pc_rego_compiler_create();

    if (c == NULL) {
        return;
    }
    pc_rego_compiler_set_test_builtins(c, true);
    if (pc_rego_compiler_add_module(c, "fuzz.rego", src, len, &err) == 0) {
        struct pc_rego_policy *pol = pc_rego_compiler_compile(c, &err);
        if (pol != NULL) {
            pc_rego_query_free(pc_rego_query_compile(pol, "data", 4, 0, &err));
            pc_rego_query_free(pc_rego_query_compile(pol, src, len, 0, &err));
            pc_rego_policy_unref(pol);
        }
    }
    pc_rego_compiler_free(c);
}

static void
load_data(const char *src, size_t len)
{
    struct pc_rego_error err;
    struct pc_rego_compiler *c = pc_rego_compiler_create();

    if (c == NULL) {
        return;
    }
    (void)pc_rego_compiler_add_data_json(c, "fuzz.json", src, len, &err);
    (void)pc_rego_compiler_add_data_yaml(c, "fuzz.yaml", src, len, &err);
    pc_rego_policy_unref(pc_rego_compiler_compile(c, &err));
    pc_rego_compiler_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    struct pc_rego_error err;
    struct pc_rego_arena *arena;

    compile_module(src, size);
    load_data(src, size);
    arena = pc_rego_arena_create(4096);
    if (arena != NULL) {
        (void)pc_rego_json_parse(arena, src, size, &err);
        (void)pc_rego_term_parse(arena, src, size, &err);
        pc_rego_arena_destroy(arena);
    }
    return 0;
}
