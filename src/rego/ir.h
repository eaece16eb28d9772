/*
 * The compiled form of Rego policies and queries: what the compiler builds and the evaluator
 * walks.
 *
 * Names are gone: variables are slots in a frame, references into data start at a node of
 * the rule tree, calls point at their builtin or at the node holding the function's rules.
 * Every body is ordered so that evaluating it left to right never meets an unbound variable
 * where a value is needed, and each term carries flags saying whether its variables are
 * bound when it runs, so the evaluator never has to find out. Nested calls have been moved
 * into expressions of their own, as OPA does, with generated variables in between.
 *
 * All of it lives in the policy's (or query's) arena and is read-only once compiled, so a
 * compiled policy can be shared between threads.
 */
#ifndef PC_REGO_IR_H
#define PC_REGO_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "rego/ast.h"
#include "rego/builtin.h"
#include "rego/value.h"

struct pc_rego_ir_node;
struct pc_rego_ir_body;

enum pc_rego_tk {
    PC_REGO_TK_CONST,  /* v */
    PC_REGO_TK_VAR,    /* slot */
    PC_REGO_TK_INPUT,  /* the input document */
    PC_REGO_TK_DATA,   /* node: a node of the data tree (the root for `data`) */
    PC_REGO_TK_REF,    /* items[0] is the head, items[1..n) the segments */
    PC_REGO_TK_ARRAY,  /* items[0..n) */
    PC_REGO_TK_SET,    /* items[0..n) */
    PC_REGO_TK_OBJECT, /* items[0..n) keys, vals[0..n) values */
    PC_REGO_TK_ACOMP,  /* [val | body] */
    PC_REGO_TK_SCOMP,  /* {val | body} */
    PC_REGO_TK_OCOMP,  /* {key: val | body} */
    PC_REGO_TK_CALL,   /* compiler-internal: replaced before the IR is final */
};

/* Term flags, set by the compiler for the position where the term is evaluated. */
#define PC_REGO_TF_DET    0x01 /* every variable inside is bound: yields at most one value */
#define PC_REGO_TF_GROUND 0x02 /* contains no variable, reference or comprehension */

/* A callee: a builtin, or the node holding a user function's rules. */
struct pc_rego_ir_func {
    const struct pc_rego_builtin *bi;
    struct pc_rego_ir_node *node;
    const char *name;
    uint32_t arity;
};

struct pc_rego_ir_term {
    uint8_t kind;
    uint8_t flags;
    uint32_t n;
    uint32_t slot;
    struct pc_rego_loc loc;
    const struct pc_rego_value *v;
    struct pc_rego_ir_term **items;
    struct pc_rego_ir_term **vals;
    struct pc_rego_ir_node *node;
    struct pc_rego_ir_term *key;
    struct pc_rego_ir_term *val;
    struct pc_rego_ir_body *body;
    struct pc_rego_ir_func fn; /* CALL, during compilation */
};

enum pc_rego_ek {
    PC_REGO_EK_TERM,  /* a: satisfied when defined and not false */
    PC_REGO_EK_UNIFY, /* a = b */
    PC_REGO_EK_CALL,  /* fn(args) [= out] */
    PC_REGO_EK_EVERY, /* every key, val in domain { body } */
    PC_REGO_EK_TRUE,  /* what remains of `some x` declarations */
};

enum pc_rego_with_kind {
    PC_REGO_WITH_INPUT, /* path below input */
    PC_REGO_WITH_DATA,  /* path below data */
    PC_REGO_WITH_FUNC,  /* target names a builtin or a user function */
};

struct pc_rego_ir_with {
    uint8_t kind;
    struct pc_rego_loc loc;
    const struct pc_rego_value *path; /* INPUT, DATA: array of keys below the root */
    struct pc_rego_ir_func target;    /* FUNC */
    struct pc_rego_ir_func repl;      /* FUNC: the replacing function, when repl_is_func */
    bool repl_is_func;
    struct pc_rego_ir_term *value; /* the replacing value (det) */
};

struct pc_rego_ir_expr {
    uint8_t kind;
    bool negated;
    bool generated;
    struct pc_rego_loc loc;
    const char *text;
    uint32_t text_len;
    struct pc_rego_ir_term *a;
    struct pc_rego_ir_term *b;
    struct pc_rego_ir_func fn;
    struct pc_rego_ir_term **args;
    uint32_t nargs;
    struct pc_rego_ir_term *out; /* CALL: the output pattern, or NULL when used as a test */
    struct pc_rego_ir_term *key; /* EVERY: VAR or NULL */
    struct pc_rego_ir_term *val; /* EVERY: VAR */
    struct pc_rego_ir_term *domain;
    struct pc_rego_ir_body *body;
    struct pc_rego_ir_with *withs;
    uint32_t nwith;
};

struct pc_rego_ir_body {
    struct pc_rego_ir_expr **exprs;
    uint32_t n;
};

enum pc_rego_rule_kind {
    PC_REGO_RK_COMPLETE, /* p := v: one value at the node's path */
    PC_REGO_RK_MULTI,    /* p contains v: members of a set at the node's path */
    PC_REGO_RK_GENERIC,  /* p[k].x := v, p[k] contains v: leaves below the node's path */
    PC_REGO_RK_FUNC,     /* f(args) := v */
};

struct pc_rego_ir_rule {
    uint8_t kind;
    bool is_default;
    bool value_const;     /* the value term is a constant */
    bool suffix_contains; /* GENERIC: the leaf is a set member (`p[x] contains y`) */
    struct pc_rego_loc loc;
    struct pc_rego_ir_node *node;
    uint32_t nslots;
    struct pc_rego_ir_term **args; /* FUNC: argument patterns */
    uint32_t nargs;
    struct pc_rego_ir_term **suffix; /* GENERIC: the path below the node */
    uint32_t nsuffix;
    struct pc_rego_ir_term *key;   /* MULTI, GENERIC with suffix_contains: the member */
    struct pc_rego_ir_term *value; /* COMPLETE, GENERIC, FUNC */
    struct pc_rego_ir_body *body;  /* never NULL */
    struct pc_rego_ir_rule *els;   /* the next else branch */
    const char **slot_names;       /* for messages and test output; entries may be NULL */
};

/* The rule index of a node: see index.c. */
struct pc_rego_ir_index;

/*
 * A node of the data tree: a package, a rule path, or a prefix of one. Base data is not split
 * into nodes; `base` points at the base document's value at this path, if any.
 */
struct pc_rego_ir_node {
    const struct pc_rego_value *key; /* segment below the parent (NULL at the root) */
    struct pc_rego_ir_node *parent;
    struct pc_rego_ir_node **children; /* sorted by key */
    uint32_t nchildren;
    uint32_t id;                      /* index in the policy's node table and the eval cache */
    const char *name;                 /* "data.a.b" */
    const struct pc_rego_value *path; /* array of keys from the root */
    const struct pc_rego_value *base; /* base document at this path, or NULL */
    uint8_t kind;                     /* enum pc_rego_rule_kind of the rules here, if any */
    bool has_rules;                   /* rules at this node */
    bool has_rules_below;             /* rules at this node or below it */
    bool has_default;                 /* a default rule is defined here */
    bool same_const;                  /* every rule's value is the same constant */
    struct pc_rego_ir_rule **rules;
    uint32_t nrules;
    struct pc_rego_ir_rule *dflt;
    uint32_t arity; /* FUNC */
    struct pc_rego_ir_index *index;
};

#endif
