/*
 * Rego source text for parsed terms (see ast.h): what compile errors quote and what tests
 * compare parses against. Calls print in prefix form (plus(1, 2)) so that the printed text
 * shows how the parser grouped operators; comprehension bodies print as "...".
 */
#include "rego/ast.h"

#include <ctype.h>

#include "rego/json.h"

static void print_list(struct pc_rego_strbuf *sb, struct pc_rego_ast_term *const *items,
                       uint32_t n);

static bool
plain_name(const struct pc_rego_value *v)
{
    if (pc_rego_kind(v) != PC_REGO_STRING || pc_rego_len(v) == 0) {
        return false;
    }
    const char *s = v->u.s;
    for (size_t i = 0; i < pc_rego_len(v); i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalpha(c) || c == '_' || (i > 0 && isdigit(c)))) {
            return false;
        }
    }
    return true;
}

static void
print_ref(struct pc_rego_strbuf *sb, const struct pc_rego_ast_term *t)
{
    pc_rego_ast_term_print(sb, t->items[0]);
    for (uint32_t i = 1; i < t->n; i++) {
        const struct pc_rego_ast_term *seg = t->items[i];
        if (seg->kind == PC_REGO_AST_SCALAR && plain_name(seg->value)) {
            pc_rego_strbuf_addc(sb, '.');
            pc_rego_strbuf_add(sb, seg->value->u.s, pc_rego_len(seg->value));
            continue;
        }
        pc_rego_strbuf_addc(sb, '[');
        pc_rego_ast_term_print(sb, seg);
        pc_rego_strbuf_addc(sb, ']');
    }
}

static void
print_list(struct pc_rego_strbuf *sb, struct pc_rego_ast_term *const *items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) {
            pc_rego_strbuf_adds(sb, ", ");
        }
        pc_rego_ast_term_print(sb, items[i]);
    }
}

static void
print_object(struct pc_rego_strbuf *sb, const struct pc_rego_ast_term *t)
{
    pc_rego_strbuf_addc(sb, '{');
    for (uint32_t i = 0; i < t->n; i++) {
        if (i > 0) {
            pc_rego_strbuf_adds(sb, ", ");
        }
        pc_rego_ast_term_print(sb, t->keys[i]);
        pc_rego_strbuf_adds(sb, ": ");
        pc_rego_ast_term_print(sb, t->vals[i]);
    }
    pc_rego_strbuf_addc(sb, '}');
}

static void
print_comprehension(struct pc_rego_strbuf *sb, const struct pc_rego_ast_term *t)
{
    bool array = t->kind == PC_REGO_AST_ARRAY_COMP;
    pc_rego_strbuf_addc(sb, array ? '[' : '{');
    if (t->kind == PC_REGO_AST_OBJECT_COMP) {
        pc_rego_ast_term_print(sb, t->key);
        pc_rego_strbuf_adds(sb, ": ");
    }
    pc_rego_ast_term_print(sb, t->val);
    pc_rego_strbuf_adds(sb, " | ...");
    pc_rego_strbuf_addc(sb, array ? ']' : '}');
}

void
pc_rego_ast_term_print(struct pc_rego_strbuf *sb, const struct pc_rego_ast_term *t)
{
    switch (t->kind) {
    case PC_REGO_AST_SCALAR:
        pc_rego_write_term(sb, t->value);
        break;
    case PC_REGO_AST_VAR:
        pc_rego_strbuf_adds(sb, t->wildcard ? "_" : t->name);
        break;
    case PC_REGO_AST_REF:
        print_ref(sb, t);
        break;
    case PC_REGO_AST_ARRAY:
        pc_rego_strbuf_addc(sb, '[');
        print_list(sb, t->items, t->n);
        pc_rego_strbuf_addc(sb, ']');
        break;
    case PC_REGO_AST_SET:
        pc_rego_strbuf_adds(sb, t->n == 0 ? "set(" : "{");
        print_list(sb, t->items, t->n);
        pc_rego_strbuf_addc(sb, t->n == 0 ? ')' : '}');
        break;
    case PC_REGO_AST_OBJECT:
        print_object(sb, t);
        break;
    case PC_REGO_AST_ARRAY_COMP:
    case PC_REGO_AST_SET_COMP:
    case PC_REGO_AST_OBJECT_COMP:
        print_comprehension(sb, t);
        break;
    case PC_REGO_AST_CALL:
        pc_rego_ast_term_print(sb, t->items[0]);
        pc_rego_strbuf_addc(sb, '(');
        print_list(sb, t->items + 1, t->n - 1);
        pc_rego_strbuf_addc(sb, ')');
        break;
    case PC_REGO_AST_TEMPLATE:
        pc_rego_strbuf_adds(sb, "$\"...\"");
        break;
    default:
        pc_rego_strbuf_adds(sb, "?");
        break;
    }
}
