/*
 * The syntax tree of Rego modules and queries, as the parser produces it.
 *
 * Everything lives in the arena of whoever parsed it (the compiler, while compiling); nothing
 * is freed piecemeal. The tree is close to the source: infix operators are already calls to
 * their builtins (a + b is plus(a, b), x in xs is internal.member_2(x, xs)), rule heads keep
 * their reference form, and the compiler does every rewriting. Names are NUL-terminated.
 */
#ifndef PC_REGO_AST_H
#define PC_REGO_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "rego/strbuf.h"
#include "rego/value.h"

/* A source position: file name (arena), 1-based line and byte column. */
struct pc_rego_loc {
    const char *file;
    uint32_t line;
    uint32_t col;
};

enum pc_rego_ast_kind {
    PC_REGO_AST_SCALAR,      /* null, boolean, number or string constant: value */
    PC_REGO_AST_VAR,         /* name */
    PC_REGO_AST_REF,         /* items[0] is the head, items[1..n) the segments */
    PC_REGO_AST_ARRAY,       /* items */
    PC_REGO_AST_SET,         /* items */
    PC_REGO_AST_OBJECT,      /* keys, vals */
    PC_REGO_AST_ARRAY_COMP,  /* val | body */
    PC_REGO_AST_SET_COMP,    /* val | body */
    PC_REGO_AST_OBJECT_COMP, /* key: val | body */
    PC_REGO_AST_CALL,        /* items[0] is the operator (a var or a ref), then the arguments */
    PC_REGO_AST_TEMPLATE,    /* items: string scalars and expression terms, concatenated */
};

struct pc_rego_ast_body;

struct pc_rego_ast_term {
    uint8_t kind;
    bool wildcard; /* a var written as '_' */
    struct pc_rego_loc loc;
    const struct pc_rego_value *value; /* SCALAR */
    const char *name;                  /* VAR */
    struct pc_rego_ast_term **items;   /* REF, ARRAY, SET, CALL, TEMPLATE */
    struct pc_rego_ast_term **keys;    /* OBJECT */
    struct pc_rego_ast_term **vals;    /* OBJECT */
    uint32_t n;
    struct pc_rego_ast_term *key;  /* OBJECT_COMP */
    struct pc_rego_ast_term *val;  /* comprehensions */
    struct pc_rego_ast_body *body; /* comprehensions */
};

enum pc_rego_ast_expr_kind {
    PC_REGO_AX_TERM,    /* a: a term, possibly a call */
    PC_REGO_AX_UNIFY,   /* a = b */
    PC_REGO_AX_ASSIGN,  /* a := b */
    PC_REGO_AX_SOME,    /* some vars[0..nvars) */
    PC_REGO_AX_SOME_IN, /* some a in domain, or some key, a in domain */
    PC_REGO_AX_EVERY,   /* every [key,] a in domain { body } */
};

struct pc_rego_ast_with {
    struct pc_rego_loc loc;
    struct pc_rego_ast_term *target;
    struct pc_rego_ast_term *value;
};

struct pc_rego_ast_expr {
    uint8_t kind;
    bool negated;
    struct pc_rego_loc loc;
    const char *text; /* source text of the expression, for the CLI's output */
    uint32_t text_len;
    struct pc_rego_ast_term *a;
    struct pc_rego_ast_term *b;
    struct pc_rego_ast_term *key;    /* SOME_IN, EVERY: optional key pattern */
    struct pc_rego_ast_term *domain; /* SOME_IN, EVERY */
    struct pc_rego_ast_body *body;   /* EVERY */
    struct pc_rego_ast_term **vars;  /* SOME */
    uint32_t nvars;
    struct pc_rego_ast_with *withs;
    uint32_t nwith;
};

struct pc_rego_ast_body {
    struct pc_rego_ast_expr **exprs;
    uint32_t n;
    struct pc_rego_loc loc;
};

struct pc_rego_ast_rule {
    struct pc_rego_loc loc;
    bool is_default;
    bool is_func;
    bool is_contains;               /* multi-value: `contains key` */
    bool assign;                    /* value given with := */
    struct pc_rego_ast_term *ref;   /* the rule's reference: a VAR or a REF with a VAR head */
    struct pc_rego_ast_term **args; /* functions */
    uint32_t nargs;
    struct pc_rego_ast_term *key;   /* contains key */
    struct pc_rego_ast_term *value; /* NULL means true */
    struct pc_rego_ast_body *body;  /* NULL means an always-true body */
    struct pc_rego_ast_rule *els;   /* next else branch: value and body only */
};

struct pc_rego_ast_import {
    struct pc_rego_loc loc;
    struct pc_rego_ast_term *path; /* REF or VAR: data..., input..., future..., rego.v1 */
    const char *alias;             /* or NULL */
};

struct pc_rego_ast_module {
    const char *file;
    const struct pc_rego_value *path; /* the package path as an array of strings (no "data") */
    struct pc_rego_loc loc;
    struct pc_rego_ast_term *pkg; /* the package path after `package`, as written */
    struct pc_rego_ast_import **imports;
    uint32_t nimports;
    struct pc_rego_ast_rule **rules;
    uint32_t nrules;
};

/* Appends Rego source text for term t to sb (for messages). */
void pc_rego_ast_term_print(struct pc_rego_strbuf *sb, const struct pc_rego_ast_term *t);

#endif
