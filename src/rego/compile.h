/*
 * Compiler internals shared by its stages: the compiler state, the compiled policy and query
 * objects, and the entry points of the lowering, safety and indexing stages.
 *
 * Stages, in order: parse (parse.c) -> rule tree (compile.c) -> lowering of each rule to IR
 * with name resolution and call extraction (lower.c) -> safety: body reordering, unsafe
 * variable and binding analysis (safety.c) -> recursion check (compile.c) -> rule indexing
 * (index.c). Each stage reports the first error it finds through c->err and returns its code.
 */
#ifndef PC_REGO_COMPILE_H
#define PC_REGO_COMPILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rego/ast.h"
#include "rego/error.h"
#include "rego/ir.h"
#include "rego/rego.h"

struct pc_rego_compiler {
    struct pc_rego_arena *arena; /* AST and IR; handed over to the policy */
    struct pc_rego_ast_module **modules;
    uint32_t nmodules;
    uint32_t cap;
    const struct pc_rego_value *data; /* base document (an object) */
    struct pc_rego_ir_node *root;
    struct pc_rego_ir_node **nodes;
    uint32_t nnodes;
    uint32_t nodes_cap;
    struct pc_rego_error *err;
    bool test_builtins; /* allow test.* builtins */
    bool compiled;
};

struct pc_rego_policy {
    atomic_int refs;
    struct pc_rego_arena *arena;
    struct pc_rego_ir_node *root;
    struct pc_rego_ir_node **nodes;
    uint32_t nnodes;
    const struct pc_rego_value *data;
    const char **tests;
    const char **test_files; /* the file defining each test (its first rule) */
    size_t ntests;
};

struct pc_rego_query {
    struct pc_rego_policy *policy;
    struct pc_rego_arena *arena;
    struct pc_rego_ir_rule *rule; /* body and frame size */
    const char **vars;            /* output variable names */
    uint32_t *var_slots;
    uint32_t nvars;
    uint32_t *expr_slots; /* slot holding each top-level expression's value, or UINT32_MAX */
    const char **expr_text;
    uint32_t *expr_len;
    struct pc_rego_loc *expr_loc;
    uint32_t nexprs;
    bool capture;
    /* for a one-expression query without capture: the same query with it, for eval_value */
    struct pc_rego_query *value_query;
};

/* Records an error at loc (which may be NULL) and returns code. */
int pc_rego_compile_error(struct pc_rego_compiler *c, int code, const struct pc_rego_loc *loc,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Finds the child of node with key, or NULL. */
struct pc_rego_ir_node *pc_rego_node_child(const struct pc_rego_ir_node *node,
                                           const struct pc_rego_value *key);

/* Finds or creates the child of node with key. NULL when out of memory. */
struct pc_rego_ir_node *pc_rego_node_child_add(struct pc_rego_compiler *c,
                                               struct pc_rego_ir_node *node,
                                               const struct pc_rego_value *key);

/* Query lowering output: which slots carry named variables and expression values. */
struct pc_rego_lowered_query {
    struct pc_rego_ir_rule *rule;
    const char **vars;
    uint32_t *var_slots;
    uint32_t nvars;
    uint32_t *expr_slots;
    const char **expr_text;
    uint32_t *expr_len;
    struct pc_rego_loc *expr_loc;
    uint32_t nexprs;
};

/*
 * Number of leading constant segments of a rule reference: the part that names its node (the
 * rest, from the first variable on, is the rule's dynamic suffix).
 */
uint32_t pc_rego_rule_prefix_len(const struct pc_rego_ast_term *ref);

/* Lowers rule r of module m (attached to node) into *out, else branches included. */
int pc_rego_lower_rule(struct pc_rego_compiler *c, const struct pc_rego_ast_module *m,
                       const struct pc_rego_ast_rule *r, struct pc_rego_ir_node *node,
                       struct pc_rego_ir_rule **out);

/* Lowers a query body; capture gives top-level expressions values as PC_REGO_QUERY_CAPTURE. */
int pc_rego_lower_query(struct pc_rego_compiler *c, const struct pc_rego_ast_body *body,
                        bool capture, struct pc_rego_lowered_query *out);

/* Reorders and checks the bodies of a rule (and its else branches); sets term flags. */
int pc_rego_safety_rule(struct pc_rego_compiler *c, struct pc_rego_ir_rule *rule);

/* As pc_rego_safety_rule, for the body of a lowered query. */
int pc_rego_safety_query(struct pc_rego_compiler *c, struct pc_rego_ir_rule *rule);

/* Builds the rule index of node (when its rules are worth indexing). */
int pc_rego_index_build(struct pc_rego_compiler *c, struct pc_rego_ir_node *node);

#endif
