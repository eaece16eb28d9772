/*
 * Unit tests for the Rego evaluator through the public API: rule kinds, defaults and else
 * chains, functions, iteration (some, in, every), comprehensions, `with`, negation and
 * undefined, unification, references with variables, conflicts, multiple solutions, limits,
 * and the promise that a reused context evaluates without touching the heap.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rego/mem.h"
#include "rego_test.h"

#define EVAL_EQ(module, query, input, want)                                                        \
    assert_string_equal(test_eval_module(module, query, input), want)

static void
test_eval_rule_kinds(void **state)
{
    const char *m = "package p\n"
                    "complete := 7\n"
                    "s contains x if { some x in input.xs; x > 1 }\n"
                    "o[k] := v if { some k, v in input.obj; v != 0 }\n"
                    "nested.deep.value := 1\n"
                    "nested.deep.more contains \"m\"\n";
    const char *in = "{\"xs\": [1, 2, 3, 2], \"obj\": {\"a\": 0, \"b\": 2}}";
    EVAL_EQ(m, "data.p.complete", in, "7");
    EVAL_EQ(m, "data.p.s", in, "[2,3]");
    EVAL_EQ(m, "data.p.o", in, "{\"b\":2}");
    EVAL_EQ(m, "data.p.nested", in, "{\"deep\":{\"more\":[\"m\"],\"value\":1}}");
    EVAL_EQ(m, "data.p.s[3]", in, "3");
    EVAL_EQ(m, "data.p.s[9]", in, "undefined");
}

static void
test_eval_default_else_and_functions(void **state)
{
    const char *m = "package p\n"
                    "default level := \"none\"\n"
                    "level := \"admin\" if input.role == \"admin\"\n"
                    "tier := \"gold\" if input.spend > 1000\n"
                    "else := \"silver\" if input.spend > 100\n"
                    "else := \"bronze\"\n"
                    "double(x) := x * 2\n"
                    "sign(x) := -1 if x < 0\n"
                    "sign(x) := 1 if x > 0\n"
                    "sign(0) := 0\n"
                    "default f(_) := \"fallback\"\n"
                    "f(1) := \"one\"\n";
    EVAL_EQ(m, "data.p.level", "{\"role\": \"user\"}", "\"none\"");
    EVAL_EQ(m, "data.p.level", "{\"role\": \"admin\"}", "\"admin\"");
    EVAL_EQ(m, "data.p.tier", "{\"spend\": 500}", "\"silver\"");
    EVAL_EQ(m, "data.p.tier", "{\"spend\": 5}", "\"bronze\"");
    EVAL_EQ(m, "data.p.tier", "{}", "\"bronze\"");
    EVAL_EQ(m, "[data.p.double(21), data.p.sign(-3), data.p.sign(0), data.p.sign(4)]", NULL,
            "[42,-1,0,1]");
    EVAL_EQ(m, "[data.p.f(1), data.p.f(2)]", NULL, "[\"one\",\"fallback\"]");
}

static void
test_eval_iteration(void **state)
{
    const char *m = "package p\n"
                    "all_pos if every x in input.xs { x > 0 }\n"
                    "keys_ok if every k, v in input.obj { startswith(k, \"a\"); v < 10 }\n"
                    "pairs contains [i, x] if some i, x in input.xs\n"
                    "has2 if 2 in input.xs\n"
                    "has_entry if [\"a1\", 1] in [[k, v] | some k, v in input.obj]\n"
                    "vacuous if every x in [] { x > 100 }\n";
    const char *in = "{\"xs\": [3, 2], \"obj\": {\"a1\": 1, \"a2\": 9}}";
    EVAL_EQ(m, "data.p.all_pos", in, "true");
    EVAL_EQ(m, "data.p.all_pos", "{\"xs\": [1, -1]}", "undefined");
    EVAL_EQ(m, "data.p.keys_ok", in, "true");
    EVAL_EQ(m, "data.p.pairs", in, "[[0,3],[1,2]]");
    EVAL_EQ(m, "[data.p.has2, data.p.has_entry, data.p.vacuous]", in, "[true,true,true]");
}

static void
test_eval_comprehensions(void **state)
{
    const char *m = "package p\n"
                    "arr := [y | some x in input.xs; y := x * 10]\n"
                    "st := {y | some x in input.xs; y := x % 2}\n"
                    "ob := {k: count(v) | some k, v in input.groups}\n"
                    "nested := [[y | some y in x] | some x in [[1], [2, 3]]]\n"
                    "empty := [x | some x in input.none]\n";
    const char *in = "{\"xs\": [1, 2, 3], \"groups\": {\"a\": [1], \"b\": []}}";
    EVAL_EQ(m, "data.p.arr", in, "[10,20,30]");
    EVAL_EQ(m, "data.p.st", in, "[0,1]");
    EVAL_EQ(m, "data.p.ob", in, "{\"a\":1,\"b\":0}");
    EVAL_EQ(m, "data.p.nested", in, "[[1],[2,3]]");
    EVAL_EQ(m, "data.p.empty", in, "[]");
}

static void
test_eval_with(void **state)
{
    const char *m = "package p\n"
                    "allow if input.user == \"alice\"\n"
                    "limit := data.cfg.limit\n"
                    "is_admin(u) if u == \"root\"\n"
                    "check if is_admin(input.user)\n"
                    "mock_true(_) := true\n"
                    "t1 if allow with input as {\"user\": \"alice\"}\n"
                    "t2 if allow with input.user as \"alice\"\n"
                    "t3 := v if { v := limit with data.cfg.limit as 5 }\n"
                    "t4 if check with is_admin as mock_true\n"
                    "t5 if check with input.user as \"root\"\n"
                    "t6 := x if { x := count(\"abc\") with count as 99 }\n";
    EVAL_EQ(m, "[data.p.t1, data.p.t2, data.p.t3, data.p.t4, data.p.t5, data.p.t6]",
            "{\"user\": \"bob\"}", "[true,true,5,true,true,99]");
    EVAL_EQ(m, "data.p.allow", "{\"user\": \"bob\"}", "undefined");
}

static void
test_eval_negation_and_undefined(void **state)
{
    const char *m = "package p\n"
                    "f := false\n"
                    "not_f if not f\n"
                    "not_undef if not input.missing\n"
                    "not_missing_ref if not data.p.nothing\n"
                    "cmp_undef if input.missing == false\n"
                    "neg_call if not startswith(input.s, \"x\")\n";
    const char *in = "{\"s\": \"abc\"}";
    EVAL_EQ(m, "[data.p.not_f, data.p.not_undef, data.p.not_missing_ref, data.p.neg_call]", in,
            "[true,true,true,true]");
    EVAL_EQ(m, "data.p.cmp_undef", in, "undefined");
    EVAL_EQ(m, "data.p.f", in, "false");
}

static void
test_eval_unification_and_refs(void **state)
{
    const char *m = "package p\n"
                    "u1 if { [a, [b, c]] = [1, [2, 3]]; a + b == c }\n"
                    "u2 := x if { {\"k\": x, \"n\": 1} = {\"n\": 1, \"k\": \"v\"} }\n"
                    "u3 if [1, 2] = [1, 3]\n"
                    "names contains n if { input.users[i].active; n := input.users[i].name }\n"
                    "deep := [v | v := input.m[_][_]]\n";
    const char *in = "{\"users\": [{\"name\": \"a\", \"active\": true}, {\"name\": \"b\", "
                     "\"active\": false}], \"m\": {\"x\": {\"y\": 1}, \"z\": {\"w\": 2}}}";
    EVAL_EQ(m, "[data.p.u1, data.p.u2]", in, "[true,\"v\"]");
    EVAL_EQ(m, "data.p.u3", in, "undefined");
    EVAL_EQ(m, "data.p.names", in, "[\"a\"]");
    EVAL_EQ(m, "data.p.deep", in, "[1,2]");
}

static void
test_eval_equality_and_ordering(void **state)
{
    const char *m = "package p\n"
                    "eq := [1 == 1.0, 1.5e1 == 15, \"1\" == 1, [1] == [1.0]]\n"
                    "st := {1, 1.0, 2}\n"
                    "order := sort([{}, \"a\", 1, null, false, [1], set()])\n"
                    "cmp := [null < false, false < true, true < 0, 0 < \"\", \"\" < [], [] < {}]\n"
                    "big := 123456789012345678901234567890 + 1\n"
                    "dec := [0.1 + 0.2, 7 / 2, 1 / 3, 10 / 5]\n";
    EVAL_EQ(m, "data.p.eq", NULL, "[true,true,false,true]");
    EVAL_EQ(m, "data.p.st", NULL, "[1,2]");
    EVAL_EQ(m, "data.p.order", NULL, "[null,false,1,\"a\",[1],{},[]]");
    EVAL_EQ(m, "data.p.cmp", NULL, "[true,true,true,true,true,true]");
    EVAL_EQ(m, "data.p.big", NULL, "123456789012345678901234567891");
    EVAL_EQ(m, "data.p.dec", NULL, "[0.3,3.5,0.33333333333333333334,2]");
}

static void
test_eval_conflicts(void **state)
{
    const char *m = "package p\n"
                    "x := 1 if input.a\n"
                    "x := 2 if input.b\n"
                    "o[k] := v if { some k, v in input.kv }\n"
                    "o[\"a\"] := 99 if input.dup\n"
                    "f(_) := 1\n"
                    "f(y) := 2 if y > 0\n";
    EVAL_EQ(m, "data.p.x", "{\"a\": true}", "1");
    const char *got = test_eval_module(m, "data.p.x", "{\"a\": true, \"b\": true}");
    assert_non_null(strstr(got, "eval_conflict_error"));
    assert_non_null(strstr(got, "complete rules must not produce multiple outputs"));
    got = test_eval_module(m, "data.p.o", "{\"kv\": {\"a\": 1}, \"dup\": true}");
    assert_non_null(strstr(got, "object keys must be unique"));
    got = test_eval_module(m, "data.p.f(1)", NULL);
    assert_non_null(strstr(got, "functions must not produce multiple outputs for same inputs"));
}

static void
test_eval_solutions_and_vars(void **state)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1("package p\nxs := [1, 2, 3]\n", &err);
    const char *src = "some i; x := data.p.xs[i]; x > 1";
    struct pc_rego_query *q = pc_rego_query_compile(pol, src, strlen(src), 0, &err);
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
    const struct pc_rego_solution *sols;
    size_t n;

    assert_non_null(q);
    assert_int_equal(pc_rego_query_nvars(q), 2);
    assert_int_equal(pc_rego_eval(ctx, q, NULL, &sols, &n, &err), 0);
    assert_int_equal(n, 2);
    size_t xi = strcmp(pc_rego_query_var(q, 0), "x") == 0 ? 0 : 1;
    int64_t x0 = 0;
    int64_t x1 = 0;
    assert_int_equal(pc_rego_number_int64(sols[0].vars[xi], &x0), 0);
    assert_int_equal(pc_rego_number_int64(sols[1].vars[xi], &x1), 0);
    assert_int_equal(x0 + x1, 5);
    pc_rego_ctx_free(ctx);
    pc_rego_query_free(q);
    pc_rego_policy_unref(pol);
}

static void
test_eval_limits_and_strict_errors(void **state)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol =
        test_compile1("package p\n"
                      "many := count([x | some x in numbers.range(1, 100000)])\n"
                      "huge := concat(\"\", [\"xxxxxxxxxxxxxxxx\" | some _ in numbers.range(1, "
                      "200000)])\n"
                      "bad := to_number(\"abc\")\n",
                      &err);
    assert_non_null(pol);
    assert_string_equal(test_eval(pol, "data.p.many", NULL), "100000");
    pc_rego_ctx_set_step_limit(test_ctx, 1000);
    assert_non_null(strstr(test_eval(pol, "data.p.many", NULL), "limit"));
    pc_rego_ctx_set_step_limit(test_ctx, 0);
    pc_rego_ctx_set_memory_limit(test_ctx, 1 << 20);
    assert_non_null(strstr(test_eval(pol, "data.p.huge", NULL), "error"));
    pc_rego_ctx_set_memory_limit(test_ctx, 0);
    assert_string_equal(test_eval(pol, "data.p.bad", NULL), "undefined");
    pc_rego_ctx_set_strict(test_ctx, true);
    assert_non_null(strstr(test_eval(pol, "data.p.bad", NULL), "error: eval_builtin_error"));
    pc_rego_ctx_set_strict(test_ctx, false);
    pc_rego_policy_unref(pol);
}

static unsigned long allocations;

static void *
counting_malloc(size_t n, void *ud)
{
    allocations++;
    return malloc(n);
}

static void *
counting_realloc(void *p, size_t n, void *ud)
{
    allocations++;
    return realloc(p, n);
}

static void
plain_free(void *p, void *ud)
{
    free(p);
}

static void
test_eval_reused_context_does_not_allocate(void **state)
{
    static const struct pc_rego_alloc_hooks hooks = { counting_malloc, counting_realloc, plain_free,
                                                      NULL };
    struct pc_rego_error err;
    struct pc_rego_policy *pol =
        test_compile1("package p\n"
                      "default allow := false\n"
                      "allow if {\n"
                      "    some r in input.roles\n"
                      "    r in {\"admin\", \"ops\"}\n"
                      "    startswith(input.path, \"/api/\")\n"
                      "    msg := sprintf(\"%s on %s\", [input.user, input.path])\n"
                      "    count(msg) > 0\n"
                      "}\n",
                      &err);
    const char *in = "{\"user\": \"u\", \"roles\": [\"dev\", \"ops\"], \"path\": \"/api/x\"}";
    struct pc_rego_query *q = pc_rego_query_compile(pol, "data.p.allow", 12, 0, &err);
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
    const struct pc_rego_value *out = NULL;

    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            pc_rego_set_alloc_hooks(&hooks);
        }
        pc_rego_ctx_reset(ctx);
        const struct pc_rego_value *input =
            pc_rego_json_parse(pc_rego_ctx_arena(ctx), in, strlen(in), &err);
        assert_int_equal(pc_rego_eval_value(ctx, q, input, &out, &err), 0);
        assert_true(pc_rego_bool_get(out));
    }
    pc_rego_set_alloc_hooks(NULL);
    assert_int_equal(allocations, 0);
    pc_rego_ctx_free(ctx);
    pc_rego_query_free(q);
    pc_rego_policy_unref(pol);
}

static char printed[256];

static void
capture_print(const char *msg, size_t len, void *ud)
{
    size_t used = strlen(printed);
    snprintf(printed + used, sizeof(printed) - used, "%.*s|", (int)len, msg);
}

/* print never fails a rule; undefined arguments print as <undefined>. */
static void
test_eval_print_goes_to_the_hook(void **state)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1(
        "package p\nok if { print(\"user\", input.user, [1], input.none); true }\n", &err);
    assert_non_null(pol);
    test_eval(pol, "1", NULL); /* creates the shared context */
    pc_rego_ctx_set_print(test_ctx, capture_print, NULL);
    assert_string_equal(test_eval(pol, "data.p.ok", "{\"user\": \"bob\"}"), "true");
    assert_string_equal(printed, "user bob [1] <undefined>|");
    pc_rego_ctx_set_print(test_ctx, NULL, NULL);
    pc_rego_policy_unref(pol);
}

struct worker {
    struct pc_rego_query *q;
    int allowed;
};

static void *
decide_many(void *arg)
{
    struct worker *w = arg;
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
    struct pc_rego_error err;
    for (int i = 0; ctx != NULL && i < 2000; i++) {
        char in[64];
        int n = snprintf(in, sizeof(in), "{\"user\": \"u%d\", \"zone\": \"Europe/Paris\"}", i % 7);
        const struct pc_rego_value *out = NULL;
        pc_rego_ctx_reset(ctx);
        const struct pc_rego_value *input =
            pc_rego_json_parse(pc_rego_ctx_arena(ctx), in, (size_t)n, &err);
        if (pc_rego_eval_value(ctx, w->q, input, &out, &err) == 0 && out != NULL
            && pc_rego_bool_get(out)) {
            w->allowed++;
        }
    }
    pc_rego_ctx_free(ctx);
    return NULL;
}

/* One compiled policy, several threads each with its own context, same answers. */
static void
test_eval_policy_shared_across_threads(void **state)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1("package p\n"
                                               "default allow := false\n"
                                               "allow if { regex.match(`^u[0-3]$`, input.user); "
                                               "time.clock([0, input.zone])[0] == 1 }\n",
                                               &err);
    struct pc_rego_query *q = pc_rego_query_compile(pol, "data.p.allow", 12, 0, &err);
    struct worker w[3] = { { q, 0 }, { q, 0 }, { q, 0 } };
    pthread_t t[3];
    assert_non_null(q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, decide_many, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].allowed, 2000 / 7 * 4 + 4);
    }
    pc_rego_query_free(q);
    pc_rego_policy_unref(pol);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_rule_kinds),
        cmocka_unit_test(test_eval_default_else_and_functions),
        cmocka_unit_test(test_eval_iteration),
        cmocka_unit_test(test_eval_comprehensions),
        cmocka_unit_test(test_eval_with),
        cmocka_unit_test(test_eval_negation_and_undefined),
        cmocka_unit_test(test_eval_unification_and_refs),
        cmocka_unit_test(test_eval_equality_and_ordering),
        cmocka_unit_test(test_eval_conflicts),
        cmocka_unit_test(test_eval_solutions_and_vars),
        cmocka_unit_test(test_eval_limits_and_strict_errors),
        cmocka_unit_test(test_eval_reused_context_does_not_allocate),
        cmocka_unit_test(test_eval_policy_shared_across_threads),
        cmocka_unit_test(test_eval_print_goes_to_the_hook),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_done();
    return rc;
}
