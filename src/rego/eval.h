/*
 * Evaluator internals shared by eval.c (bodies, expressions, unification, references) and
 * eval_rules.c (rules, functions, virtual documents, `with`): the evaluation context and the
 * continuation-passing conventions.
 *
 * Evaluation is top-down with continuations: evaluating an expression calls its continuation
 * once per solution, with that solution's bindings in the current frame, and undoes them
 * afterwards. Every function returns 0 to ask for more solutions, PC_REGO_EVAL_HALT when the
 * caller has seen enough (a `not`, an `every` member, a constant rule value), or a negative
 * error code. Variables live in frames (one per rule or function call, arena memory);
 * bindings made outside a continuation's scope go on a trail so they can be undone together.
 *
 * Rule values are computed whole and cached per evaluation, keyed by node; `with` switches to
 * a fresh cache (and back) so that results computed under replaced inputs never leak.
 */
#ifndef PC_REGO_EVAL_H
#define PC_REGO_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rego/builtin.h"
#include "rego/compile.h"
#include "rego/ir.h"
#include "rego/regex.h"
#include "rego/rego.h"

#define PC_REGO_EVAL_HALT 1

struct pc_rego_cache_entry {
    uint8_t state; /* 0: not computed, 1: computing, 2: done */
    const struct pc_rego_value *v;
};

/* A `with data.x as v` in force (a persistent list: each entry points at the older ones). */
struct pc_rego_wdata {
    const struct pc_rego_wdata *next;
    const struct pc_rego_value *path;
    const struct pc_rego_value *value;
};

/* A `with f as g` in force. */
struct pc_rego_wfunc {
    const struct pc_rego_wfunc *next;
    const struct pc_rego_ir_func *target;
    const struct pc_rego_ir_func *repl; /* or NULL: value */
    const struct pc_rego_value *value;
};

struct pc_rego_solution_rec {
    const struct pc_rego_value **vars;
    const struct pc_rego_value **exprs;
};

struct pc_rego_ctx {
    struct pc_rego_arena *arena;
    bool strict;
    pc_rego_print_fn print_fn;
    void *print_ud;
    int64_t fixed_now_ns;
    int64_t now_ns;
    uint64_t step_limit;
    uint64_t steps;

    /* Per evaluation. */
    const struct pc_rego_policy *pol;
    const struct pc_rego_value *input;
    const struct pc_rego_value **slots;
    struct pc_rego_cache_entry *cache;
    const struct pc_rego_wdata *wdata;
    const struct pc_rego_wfunc *wfunc;
    struct pc_rego_error *err;
    int depth;

    /* The trail: slots bound outside a continuation's own scope, to unbind on backtracking. */
    const struct pc_rego_value ***trail;
    size_t ntrail;
    size_t trail_cap;

    /* Results of the current query. */
    struct pc_rego_solution_rec *sols;
    size_t nsols;
    size_t sols_cap;

    struct pc_rego_regex_cache regex;
    struct pc_rego_bctx bctx;
};

/* Continuations: called once per solution. */
struct pc_rego_kont {
    int (*fn)(struct pc_rego_ctx *ev, const struct pc_rego_kont *k);
};

/* Value continuations: called once per value of a term. */
struct pc_rego_vkont {
    int (*fn)(struct pc_rego_ctx *ev, const struct pc_rego_vkont *k, const struct pc_rego_value *v);
};

/* Records an evaluation error at loc and returns code. */
int pc_rego_eval_fail(struct pc_rego_ctx *ev, int code, const struct pc_rego_loc *loc,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* eval.c */

/* Evaluates body from expression i on, calling k for each solution. */
int pc_rego_eval_body(struct pc_rego_ctx *ev, const struct pc_rego_ir_body *body, uint32_t i,
                      const struct pc_rego_kont *k);

/* Evaluates a term whose variables are all bound: *out is its value or NULL (undefined). */
int pc_rego_eval_det(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                     const struct pc_rego_value **out);

/* Unifies pattern t with value v, binding on the trail; returns whether it matched. */
bool pc_rego_unify_value(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                         const struct pc_rego_value *v, int *rc);

/* Undoes trail entries down to mark. */
static inline void
pc_rego_undo(struct pc_rego_ctx *ev, size_t mark)
{
    while (ev->ntrail > mark) {
        *ev->trail[--ev->ntrail] = NULL;
    }
}

/* Walks v along segments from..n of a reference, enumerating variable segments. */
int pc_rego_walk_value(struct pc_rego_ctx *ev, const struct pc_rego_value *v,
                       const struct pc_rego_ir_term *ref, uint32_t from,
                       const struct pc_rego_vkont *k);

/* Calls a function (builtin or user, honouring `with` mocks); *out NULL when undefined. */
int pc_rego_call(struct pc_rego_ctx *ev, const struct pc_rego_ir_func *fn,
                 const struct pc_rego_value *const *args, uint32_t nargs,
                 const struct pc_rego_loc *loc, const struct pc_rego_value **out);

/* eval_rules.c */

/* The full value of a node (rules, base data and everything below); NULL when undefined. */
int pc_rego_node_value(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                       const struct pc_rego_value **out);

/* Evaluates a reference rooted at a data node from segment `from` on, with overrides. */
int pc_rego_eval_data_ref(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                          const struct pc_rego_ir_term *ref, uint32_t from,
                          const struct pc_rego_vkont *k);

/* Calls a user function with argument values. */
int pc_rego_call_user(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                      const struct pc_rego_value *const *args, const struct pc_rego_loc *loc,
                      const struct pc_rego_value **out);

/* Evaluates expression e with its `with` modifiers in force, then k without them. */
int pc_rego_eval_with(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e,
                      const struct pc_rego_kont *k,
                      int (*inner)(struct pc_rego_ctx *, const struct pc_rego_ir_expr *,
                                   const struct pc_rego_kont *));

/* Returns value with path (array of keys) set to v, creating objects on the way. */
const struct pc_rego_value *pc_rego_upsert(struct pc_rego_arena *arena,
                                           const struct pc_rego_value *value,
                                           const struct pc_rego_value *path, uint32_t from,
                                           const struct pc_rego_value *v);

#endif
