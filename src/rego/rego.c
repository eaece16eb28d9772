/*
 * Queries and constant terms: compiling a query against a compiled policy, and reading Rego
 * term syntax as a value (see rego.h).
 *
 * A query is lowered with the policy's rule tree in view but owns its own arena, so many
 * queries can be compiled against one shared policy, each holding a reference to it.
 */
#include "rego/rego.h"

#include <string.h>

#include "rego/compile.h"
#include "rego/parse.h"

#define QUERY_ARENA_BLOCK 8192

struct pc_rego_query *
pc_rego_query_compile(struct pc_rego_policy *pol, const char *src, size_t len, unsigned flags,
                      struct pc_rego_error *err)
{
    struct pc_rego_error local;
    struct pc_rego_error *e = err != NULL ? err : &local;
    pc_rego_error_clear(e);
    struct pc_rego_query *q = pc_rego_calloc(1, sizeof(*q));
    struct pc_rego_arena *arena = pc_rego_arena_create(QUERY_ARENA_BLOCK);
    if (q == NULL || arena == NULL) {
        pc_rego_free(q);
        pc_rego_arena_destroy(arena);
        pc_rego_error_set(e, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    q->arena = arena;
    q->policy = pc_rego_policy_ref(pol);

    struct pc_rego_ast_body *body = NULL;
    int rc = pc_rego_parse_query(arena, "query", src, len, &body, e);
    struct pc_rego_compiler c;
    memset(&c, 0, sizeof(c));
    c.arena = arena;
    c.root = pol->root;
    c.err = e;
    struct pc_rego_lowered_query lq;
    if (rc == 0) {
        rc = pc_rego_lower_query(&c, body, (flags & PC_REGO_QUERY_CAPTURE) != 0, &lq);
    }
    if (rc == 0) {
        rc = pc_rego_safety_query(&c, lq.rule);
    }
    if (rc != 0) {
        if (e->code == 0) {
            pc_rego_error_set(e, rc, NULL, 0, 0, "query compilation failed");
        }
        pc_rego_query_free(q);
        return NULL;
    }
    q->rule = lq.rule;
    q->vars = lq.vars;
    q->var_slots = lq.var_slots;
    q->nvars = lq.nvars;
    q->expr_slots = lq.expr_slots;
    q->expr_text = lq.expr_text;
    q->expr_len = lq.expr_len;
    q->expr_loc = lq.expr_loc;
    q->nexprs = lq.nexprs;
    q->capture = (flags & PC_REGO_QUERY_CAPTURE) != 0;
    /* pc_rego_eval_value reports the expression's value, false included, as capture does. */
    if (!q->capture && q->nexprs == 1) {
        q->value_query = pc_rego_query_compile(pol, src, len, flags | PC_REGO_QUERY_CAPTURE, e);
        if (q->value_query == NULL) {
            pc_rego_query_free(q);
            return NULL;
        }
    }
    return q;
}

void
pc_rego_query_free(struct pc_rego_query *q)
{
    if (q == NULL) {
        return;
    }
    pc_rego_query_free(q->value_query);
    pc_rego_policy_unref(q->policy);
    pc_rego_arena_destroy(q->arena);
    pc_rego_free(q);
}

size_t
pc_rego_query_nvars(const struct pc_rego_query *q)
{
    return q->nvars;
}

const char *
pc_rego_query_var(const struct pc_rego_query *q, size_t i)
{
    return i < q->nvars ? q->vars[i] : NULL;
}

size_t
pc_rego_query_nexprs(const struct pc_rego_query *q)
{
    return q->nexprs;
}

const char *
pc_rego_query_expr_text(const struct pc_rego_query *q, size_t i, size_t *len, uint32_t *line,
                        uint32_t *col)
{
    if (i >= q->nexprs) {
        return NULL;
    }
    *len = q->expr_len[i];
    *line = q->expr_loc[i].line;
    *col = q->expr_loc[i].col;
    return q->expr_text[i];
}

static const struct pc_rego_value *term_value(struct pc_rego_arena *arena,
                                              const struct pc_rego_ast_term *t);

static const struct pc_rego_value *
collection_value(struct pc_rego_arena *arena, const struct pc_rego_ast_term *t)
{
    struct pc_rego_builder b;
    enum pc_rego_kind kind = t->kind == PC_REGO_AST_ARRAY ? PC_REGO_ARRAY
                             : t->kind == PC_REGO_AST_SET ? PC_REGO_SET
                                                          : PC_REGO_OBJECT;
    pc_rego_builder_init(&b, arena, kind);
    for (uint32_t i = 0; i < t->n; i++) {
        const struct pc_rego_value *k =
            term_value(arena, kind == PC_REGO_OBJECT ? t->keys[i] : t->items[i]);
        if (k == NULL) {
            return NULL;
        }
        int rc;
        if (kind == PC_REGO_OBJECT) {
            const struct pc_rego_value *v = term_value(arena, t->vals[i]);
            rc = v != NULL ? pc_rego_builder_put(&b, k, v) : PC_REGO_EINVAL;
        } else {
            rc = pc_rego_builder_push(&b, k);
        }
        if (rc != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static const struct pc_rego_value *
term_value(struct pc_rego_arena *arena, const struct pc_rego_ast_term *t)
{
    switch (t->kind) {
    case PC_REGO_AST_SCALAR:
        return t->value;
    case PC_REGO_AST_ARRAY:
    case PC_REGO_AST_SET:
    case PC_REGO_AST_OBJECT:
        return collection_value(arena, t);
    default:
        return NULL;
    }
}

const struct pc_rego_value *
pc_rego_term_parse(struct pc_rego_arena *arena, const char *src, size_t len,
                   struct pc_rego_error *err)
{
    struct pc_rego_ast_term *t = NULL;
    if (pc_rego_parse_term(arena, "term", src, len, &t, err) != 0) {
        return NULL;
    }
    const struct pc_rego_value *v = term_value(arena, t);
    if (v == NULL) {
        pc_rego_error_set(err, PC_REGO_EINVAL, "term", t->loc.line, t->loc.col,
                          "term is not a constant value");
    }
    return v;
}
