/*
 * Unit tests for the Rego v1 parser: module structure, the v1 keyword rules (`if` and
 * `contains` required), error positions and messages, operator precedence, keywords used as
 * reference members, template strings, and the bounds that keep hostile input linear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rego/ast.h"
#include "rego/mem.h"
#include "rego/parse.h"
#include "rego/strbuf.h"

static int
setup(void **state)
{
    *state = pc_rego_arena_create(0);
    return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    pc_rego_arena_destroy(*state);
    return 0;
}

static struct pc_rego_ast_module *
parse_ok(struct pc_rego_arena *a, const char *src)
{
    struct pc_rego_ast_module *m = NULL;
    struct pc_rego_error err;
    int rc = pc_rego_parse_module(a, "t.rego", src, strlen(src), &m, &err);
    if (rc != 0) {
        fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    }
    assert_non_null(m);
    return m;
}

static void
parse_fails(struct pc_rego_arena *a, const char *src, uint32_t line, uint32_t col,
            const char *msg_part)
{
    struct pc_rego_ast_module *m = NULL;
    struct pc_rego_error err;
    int rc = pc_rego_parse_module(a, "t.rego", src, strlen(src), &m, &err);
    assert_int_equal(rc, PC_REGO_EPARSE);
    assert_string_equal(err.file, "t.rego");
    if (strstr(err.msg, msg_part) == NULL || err.line != line || err.col != col) {
        fail_msg("got %d:%d: %s; want %d:%d: ...%s...", err.line, err.col, err.msg, line, col,
                 msg_part);
    }
}

/* The body's first expression printed back as Rego text. */
static const char *
first_expr_text(struct pc_rego_arena *a, const struct pc_rego_ast_rule *r)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, a);
    pc_rego_ast_term_print(&sb, r->body->exprs[0]->a);
    pc_rego_strbuf_addc(&sb, '\0');
    return sb.data;
}

static void
test_parse_module_structure(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_module *m = parse_ok(a, "package authz.http\n"
                                               "import data.roles as r\n"
                                               "import input.user\n"
                                               "default allow := false\n"
                                               "allow if { user.admin }\n"
                                               "names contains n if { some n in r }\n"
                                               "f(x) := x + 1\n"
                                               "v := 1 if input.a else := 2\n");
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, a);
    pc_rego_ast_term_print(&sb, m->pkg);
    pc_rego_strbuf_addc(&sb, '\0');
    assert_string_equal(sb.data, "authz.http");
    assert_int_equal(m->nimports, 2);
    assert_string_equal(m->imports[0]->alias, "r");
    assert_null(m->imports[1]->alias);
    assert_int_equal(m->nrules, 5);
    assert_true(m->rules[0]->is_default);
    assert_true(m->rules[0]->assign);
    assert_false(m->rules[1]->is_default);
    assert_null(m->rules[1]->value);
    assert_true(m->rules[2]->is_contains);
    assert_true(m->rules[3]->is_func);
    assert_int_equal(m->rules[3]->nargs, 1);
    assert_null(m->rules[3]->body);
    assert_non_null(m->rules[4]->els);
    assert_null(m->rules[4]->els->body);
}

static void
test_parse_v1_requires_if_and_contains(void **state)
{
    struct pc_rego_arena *a = *state;
    parse_fails(a, "package p\nallow { true }\n", 2, 7, "if");
    parse_fails(a, "package p\nf(x) { x }\n", 2, 6, "if");
    parse_ok(a, "package p\nallow if true\ns contains 1\n");
}

static void
test_parse_errors_name_position_and_expectation(void **state)
{
    struct pc_rego_arena *a = *state;
    parse_fails(a, "package p\n\np if {\n    x := [1, 2\n}\n", 5, 1, "expected");
    parse_fails(a, "p := 1\n", 1, 1, "package");
    parse_fails(a, "package p\nq := \"unterminated\n", 2, 6, "string");
    parse_fails(a, "package p\nq := 1 +\n", 3, 1, "term");
}

static void
test_parse_precedence(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_module *m = parse_ok(a, "package p\n"
                                               "a if { 1 + 2 * 3 - 4 == 3 }\n"
                                               "b if { 1 + 2 < 4 == true }\n"
                                               "c if { 1 in {1} | {2} }\n");
    assert_string_equal(first_expr_text(a, m->rules[0]), "equal(minus(plus(1, mul(2, 3)), 4), 3)");
    assert_string_equal(first_expr_text(a, m->rules[1]), "equal(lt(plus(1, 2), 4), true)");
    assert_string_equal(first_expr_text(a, m->rules[2]), "internal.member_2(1, or({1}, {2}))");
}

static void
test_parse_keywords_as_reference_members(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_module *m = parse_ok(a, "package p\n"
                                               "a if input.if == input.contains.every\n"
                                               "b if { some x in input.in; x }\n");
    assert_string_equal(first_expr_text(a, m->rules[0]), "equal(input.if, input.contains.every)");
}

static void
test_parse_comprehensions_and_collections(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_module *m = parse_ok(a, "package p\n"
                                               "a := [x | some x in input]\n"
                                               "b := {k: v | some k, v in input}\n"
                                               "c := {x | some x in input}\n"
                                               "d := [1 | 2]\n"
                                               "e := {1, 2, }\n"
                                               "f := {\"a\": 1 | 2}\n");
    assert_int_equal(m->rules[0]->value->kind, PC_REGO_AST_ARRAY_COMP);
    assert_int_equal(m->rules[1]->value->kind, PC_REGO_AST_OBJECT_COMP);
    assert_int_equal(m->rules[2]->value->kind, PC_REGO_AST_SET_COMP);
    assert_int_equal(m->rules[3]->value->kind, PC_REGO_AST_ARRAY_COMP);
    assert_int_equal(m->rules[4]->value->kind, PC_REGO_AST_SET);
    assert_int_equal(m->rules[5]->value->kind, PC_REGO_AST_OBJECT_COMP);
}

static void
test_parse_template_strings(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_module *m =
        parse_ok(a, "package p\nmsg := $\"user {input.user} has {count(input.roles)} roles\"\n");
    assert_int_equal(m->rules[0]->value->kind, PC_REGO_AST_TEMPLATE);
}

static void
test_parse_nesting_is_linear_and_bounded(void **state)
{
    struct pc_rego_arena *a = *state;
    char src[2048];
    size_t n = (size_t)snprintf(src, sizeof(src), "package p\nx := ");
    for (int i = 0; i < 60; i++) {
        src[n++] = '[';
    }
    n += (size_t)snprintf(src + n, sizeof(src) - n, "1 + 2");
    for (int i = 0; i < 60; i++) {
        src[n++] = ']';
    }
    src[n] = '\0';
    parse_ok(a, src);

    /* Unclosed brackets used to cost 2^depth parses. */
    n = (size_t)snprintf(src, sizeof(src), "package p\nx := f(");
    for (int i = 0; i < 120; i++) {
        src[n++] = '[';
    }
    src[n] = '\0';
    struct pc_rego_ast_module *m = NULL;
    struct pc_rego_error err;
    assert_int_equal(pc_rego_parse_module(a, "t.rego", src, n, &m, &err), PC_REGO_EPARSE);

    memset(src, '[', 400);
    memcpy(src, "package p\nx := ", 15);
    assert_int_equal(pc_rego_parse_module(a, "t.rego", src, 400, &m, &err), PC_REGO_EPARSE);
    assert_non_null(strstr(err.msg, "nesting too deep"));
}

static void
test_parse_queries_and_terms(void **state)
{
    struct pc_rego_arena *a = *state;
    struct pc_rego_ast_body *body = NULL;
    struct pc_rego_ast_term *term = NULL;
    struct pc_rego_error err;
    const char *q = "x := input.a; y := x + 1\nnot z";
    assert_int_equal(pc_rego_parse_query(a, "q", q, strlen(q), &body, &err), 0);
    assert_int_equal(body->n, 3);
    assert_true(body->exprs[2]->negated);
    assert_int_equal(pc_rego_parse_term(a, "t", "{\"a\": [1, 2.5]}", 15, &term, &err), 0);
    assert_int_equal(term->kind, PC_REGO_AST_OBJECT);
    assert_int_not_equal(pc_rego_parse_term(a, "t", "1 2", 3, &term, &err), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_module_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_v1_requires_if_and_contains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors_name_position_and_expectation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parse_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_keywords_as_reference_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_comprehensions_and_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_template_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_nesting_is_linear_and_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_queries_and_terms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
