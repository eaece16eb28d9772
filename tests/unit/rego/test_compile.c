/*
 * Unit tests for the Rego compiler: safety (unsafe variables are compile errors, with their
 * location), recursion detection, references across packages and imports, rule kind
 * conflicts, unknown builtins, data documents from JSON and YAML, and the rule index (checked
 * through the step limit: an indexed decision over a thousand rules takes few steps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rego_test.h"

static void
compile_fails(const char *module, int code, uint32_t line, uint32_t col, const char *msg_part)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1(module, &err);
    if (pol != NULL) {
        pc_rego_policy_unref(pol);
        fail_msg("compiled; want %s", msg_part);
    }
    if (err.code != code || strstr(err.msg, msg_part) == NULL
        || (line != 0 && (err.line != line || err.col != col))) {
        fail_msg("got %s %u:%u: %s; want %s %u:%u: ...%s...", pc_rego_strerror(err.code), err.line,
                 err.col, err.msg, pc_rego_strerror(code), line, col, msg_part);
    }
}

static void
test_compile_unsafe_variables(void **state)
{
    compile_fails("package p\nallow if { x > 1 }\n", PC_REGO_EUNSAFE, 2, 12, "var x is unsafe");
    compile_fails("package p\nallow if { not y }\n", PC_REGO_EUNSAFE, 0, 0, "var y is unsafe");
    compile_fails("package p\nallow if { not y; y := 1 }\n", PC_REGO_ECOMPILE, 0, 0,
                  "var y referenced above");
    compile_fails("package p\nf(x) := y\n", PC_REGO_EUNSAFE, 0, 0, "var y is unsafe");
    compile_fails("package p\ns contains z if { true }\n", PC_REGO_EUNSAFE, 0, 0, "z");
    /* Reordering makes these safe, as in OPA. */
    const char *ok = "package p\n"
                     "a if { y > 1; y = input.n }\n"
                     "b if { not q[x]; x = 1 }\n"
                     "q[k] := 1 if { some k in [2] }\n"
                     "c := [v | v > 0; v = input.xs[_]]\n";
    assert_string_equal(
        test_eval_module(ok, "[data.p.a, data.p.b, data.p.c]", "{\"n\": 2, \"xs\": [-1, 1]}"),
        "[true,true,[1]]");
}

static void
test_compile_recursion(void **state)
{
    compile_fails("package p\na if b\nb if c\nc if a\n", PC_REGO_ERECURSION, 0, 0, "recursive");
    compile_fails("package p\nf(x) := f(x - 1) if x > 0\n", PC_REGO_ERECURSION, 0, 0, "recursive");
    compile_fails("package p\ns contains x if { some x in s }\n", PC_REGO_ERECURSION, 0, 0,
                  "recursive");
}

static void
test_compile_references_across_packages(void **state)
{
    const char *mods[] = {
        "package lib.roles\nadmins := {\"alice\"}\nis_admin(u) if u in admins\n",
        "package app\n"
        "import data.lib.roles\n"
        "import data.lib.roles.admins as who\n"
        "allow if roles.is_admin(input.user)\n"
        "count_admins := count(who)\n",
        NULL,
    };
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile(mods, NULL, &err);
    assert_non_null(pol);
    assert_string_equal(test_eval(pol, "data.app.allow", "{\"user\": \"alice\"}"), "true");
    assert_string_equal(test_eval(pol, "data.app.allow", "{\"user\": \"bob\"}"), "undefined");
    assert_string_equal(test_eval(pol, "data.app.count_admins", NULL), "1");
    assert_string_equal(test_eval(pol, "data.lib", NULL), "{\"roles\":{\"admins\":[\"alice\"]}}");
    pc_rego_policy_unref(pol);
}

static void
test_compile_rule_conflicts(void **state)
{
    compile_fails("package p\na := 1\na contains 2\n", PC_REGO_ETYPE, 0, 0, "");
    compile_fails("package p\nf(x) := 1\nf := 2\n", PC_REGO_ETYPE, 0, 0, "");
    compile_fails("package p\ndefault a := 1\ndefault a := 2\n", PC_REGO_ETYPE, 0, 0,
                  "multiple default rules");
}

static void
test_compile_unknown_builtin_is_named(void **state)
{
    compile_fails("package p\na := no.such.fn(1)\n", PC_REGO_ETYPE, 2, 6,
                  "undefined function no.such.fn");
    compile_fails("package p\na := count(1, 2)\n", PC_REGO_ETYPE, 0, 0, "count");
    compile_fails("package p\na if { x := 1; x := 2 }\n", PC_REGO_ECOMPILE, 0, 0,
                  "var x assigned above");
}

static void
test_compile_data_from_json_and_yaml(void **state)
{
    struct pc_rego_compiler *c = pc_rego_compiler_create();
    struct pc_rego_error err;
    const char *mod = "package p\nn := count(data.users) + data.cfg.limits.max\n";
    const char *json = "{\"users\": [\"a\", \"b\"]}";
    const char *yaml = "limits:\n  max: 10\nflags: [on, yes, true]\n";

    assert_int_equal(pc_rego_compiler_add_module(c, "p.rego", mod, strlen(mod), &err), 0);
    assert_int_equal(pc_rego_compiler_add_data_json(c, NULL, json, strlen(json), &err), 0);
    assert_int_equal(pc_rego_compiler_add_data_yaml(c, "cfg", yaml, strlen(yaml), &err), 0);
    assert_int_not_equal(pc_rego_compiler_add_data_json(c, NULL, "{\"users\": 1}", 12, &err), 0);
    assert_int_not_equal(pc_rego_compiler_add_data_json(c, NULL, "{\"a\": 1,}", 9, &err), 0);
    assert_int_equal(err.line, 1);
    struct pc_rego_policy *pol = pc_rego_compiler_compile(c, &err);
    pc_rego_compiler_free(c);
    assert_non_null(pol);
    assert_string_equal(test_eval(pol, "data.p.n", NULL), "12");
    /* Scalars resolve as go-yaml v2 does for OPA: YAML 1.1 booleans. */
    assert_string_equal(test_eval(pol, "data.cfg.flags", NULL), "[true,true,true]");
    pc_rego_policy_unref(pol);
}

static void
test_compile_rule_index_bounds_work(void **state)
{
    size_t cap = 1000 * 96 + 128;
    char *src = malloc(cap);
    size_t n = (size_t)snprintf(src, cap, "package idx\ndefault allow := false\n");
    for (int i = 0; i < 1000; i++) {
        n += (size_t)snprintf(src + n, cap - n,
                              "allow if { input.user == \"user-%d\"; input.action == \"read\" }\n",
                              i);
    }
    struct pc_rego_error err;
    struct pc_rego_policy *pol = test_compile1(src, &err);
    free(src);
    assert_non_null(pol);
    assert_string_equal(
        test_eval(pol, "data.idx.allow", "{\"user\":\"user-9\",\"action\":\"read\"}"), "true");
    /* Scanning a thousand rules would exceed this; the index visits one. */
    pc_rego_ctx_set_step_limit(test_ctx, 50);
    assert_string_equal(
        test_eval(pol, "data.idx.allow", "{\"user\":\"user-977\",\"action\":\"read\"}"), "true");
    assert_string_equal(
        test_eval(pol, "data.idx.allow", "{\"user\":\"user-977\",\"action\":\"write\"}"), "false");
    assert_string_equal(test_eval(pol, "data.idx.allow", "{\"user\":\"nobody\"}"), "false");
    pc_rego_ctx_set_step_limit(test_ctx, 0);
    pc_rego_policy_unref(pol);
}

static void
test_compile_with_targets_checked(void **state)
{
    compile_fails("package p\na if { true with foo as 1 }\n", PC_REGO_ETYPE, 0, 0, "with");
    compile_fails("package p\nq := {\"a\": 1}\nr if { q.a == 2 with data.p.q.a as 2 }\n",
                  PC_REGO_ECOMPILE, 3, 17, "cannot partially replace virtual document");
    assert_string_equal(test_eval_module("package p\n"
                                         "q if input.x == 1\n"
                                         "a if q with input.x as 1\n",
                                         "data.p.a", NULL),
                        "true");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_unsafe_variables),
        cmocka_unit_test(test_compile_recursion),
        cmocka_unit_test(test_compile_references_across_packages),
        cmocka_unit_test(test_compile_rule_conflicts),
        cmocka_unit_test(test_compile_unknown_builtin_is_named),
        cmocka_unit_test(test_compile_data_from_json_and_yaml),
        cmocka_unit_test(test_compile_rule_index_bounds_work),
        cmocka_unit_test(test_compile_with_targets_checked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_done();
    return rc;
}
