/*
 * Rule indexing: picking, before evaluating anything, the few rules of a node that can apply.
 *
 * Policies often define one rule many times with bodies that start by comparing a reference
 * with a constant (allow if { input.method == "GET"; ... }, one rule per route or per
 * workload). For such a node the compiler picks the reference that most rules test, and
 * builds a sorted table from each tested constant (of any type, in Rego's order) to the rules
 * testing it; `x in {...}` tests count once per member. At evaluation the reference is read
 * once and a binary search yields the candidates: the rules matching its value plus the rules
 * that do not test it, in their original order. When many rules share one value of the key, the
 * same is done again among them on another reference (a list of allowed caller and callee
 * pairs is indexed on the caller, then on the callee), up to three levels. Function rules are
 * indexed the same way on constant arguments (f("admin") := ...).
 */
#ifndef PC_REGO_INDEX_H
#define PC_REGO_INDEX_H

#include <stdint.h>

#include "rego/eval.h"
#include "rego/ir.h"

struct pc_rego_ir_index;

struct pc_rego_index_entry {
    const struct pc_rego_value *key;
    uint32_t *rules; /* ascending rule numbers */
    uint32_t n;
    struct pc_rego_ir_index *sub; /* a second key among these rules, or NULL */
};

struct pc_rego_ir_index {
    struct pc_rego_ir_term *ref;         /* the tested reference (det), or NULL for an argument */
    uint32_t arg;                        /* the tested argument, when ref is NULL */
    struct pc_rego_index_entry *entries; /* sorted by key */
    uint32_t nentries;
    uint32_t *rest; /* rules not testing the key, ascending */
    uint32_t nrest;
};

/*
 * Fills rules[0..*n) (room for node->nrules) with the candidate rules of node for this
 * evaluation, in definition order. args are a function's argument values (NULL otherwise).
 * Returns 0 or a negative error from evaluating the indexed reference.
 */
int pc_rego_index_candidates(struct pc_rego_ctx *ev, const struct pc_rego_ir_node *node,
                             const struct pc_rego_value *const *args,
                             struct pc_rego_ir_rule **rules, uint32_t *n);

#endif
