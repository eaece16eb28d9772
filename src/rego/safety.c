/*
 * Safety: ordering each body so that every variable is bound before a value is needed, and
 * rejecting bodies where no order does ("var x is unsafe"), as OPA does.
 *
 * The algorithm is OPA's. First, expressions holding closures (comprehensions, every) move
 * after the expressions that bind the outer variables the closures use. Then expressions are
 * placed, in passes, as soon as all their variables are safe, given what earlier expressions
 * output: a reference outputs the variables of its segments once its head is safe, `=` outputs
 * what unification can bind, a call outputs its output term once its arguments are safe, and a
 * negated expression outputs nothing. Closures are checked recursively with the variables bound
 * before them. Rule heads must only use variables the body binds.
 *
 * A final pass walks each ordered body tracking bound variables: it flags every term that is
 * fully bound (PC_REGO_TF_DET) and moves references that still enumerate (such as data.a[i]
 * with i unbound) out of positions that need one value (call arguments, inside composites)
 * into `$t = ref` expressions of their own.
 */
#include <string.h>

#include "rego/compile.h"

struct vset {
    uint64_t *w;
    uint32_t nw;
};

/* Room for the variables that extraction adds while a rule is finalized. */
#define EXTRA_SLOTS 256

struct safety {
    struct pc_rego_compiler *c;
    struct pc_rego_ir_rule *rule;
    uint32_t nslots; /* slots when the check started: the ones with names */
    uint32_t cap;    /* slots every set has room for */
};

static int
vset_init(struct safety *S, struct vset *v)
{
    v->nw = (S->cap + 63) / 64;
    v->w = pc_rego_arena_calloc(S->c->arena, v->nw, sizeof(uint64_t));
    return v->w != NULL ? 0 : pc_rego_compile_error(S->c, PC_REGO_ENOMEM, NULL, "out of memory");
}

static int
vset_copy(struct safety *S, struct vset *dst, const struct vset *src)
{
    int rc = vset_init(S, dst);
    if (rc == 0) {
        memcpy(dst->w, src->w, src->nw * sizeof(uint64_t));
    }
    return rc;
}

static void
vset_add(struct vset *v, uint32_t slot)
{
    v->w[slot / 64] |= (uint64_t)1 << (slot % 64);
}

static bool
vset_has(const struct vset *v, uint32_t slot)
{
    return (v->w[slot / 64] >> (slot % 64)) & 1;
}

static void
vset_union(struct vset *dst, const struct vset *src)
{
    for (uint32_t i = 0; i < dst->nw; i++) {
        dst->w[i] |= src->w[i];
    }
}

static bool
vset_subset(const struct vset *a, const struct vset *b)
{
    for (uint32_t i = 0; i < a->nw; i++) {
        if (a->w[i] & ~b->w[i]) {
            return false;
        }
    }
    return true;
}

static bool
is_closure(const struct pc_rego_ir_term *t)
{
    return t->kind == PC_REGO_TK_ACOMP || t->kind == PC_REGO_TK_SCOMP
           || t->kind == PC_REGO_TK_OCOMP;
}

/* Variables of a term, closures excluded. */
static void
term_vars(const struct pc_rego_ir_term *t, struct vset *out)
{
    if (t == NULL || is_closure(t)) {
        return;
    }
    switch (t->kind) {
    case PC_REGO_TK_VAR:
        vset_add(out, t->slot);
        return;
    case PC_REGO_TK_REF:
    case PC_REGO_TK_ARRAY:
    case PC_REGO_TK_SET:
        for (uint32_t i = 0; i < t->n; i++) {
            term_vars(t->items[i], out);
        }
        return;
    case PC_REGO_TK_OBJECT:
        for (uint32_t i = 0; i < t->n; i++) {
            term_vars(t->items[i], out);
            term_vars(t->vals[i], out);
        }
        return;
    default:
        return;
    }
}

static void body_all_vars(const struct pc_rego_ir_body *b, struct vset *out);

/* Every variable of a term, inside closures too. */
static void
term_all_vars(const struct pc_rego_ir_term *t, struct vset *out)
{
    if (t == NULL) {
        return;
    }
    if (is_closure(t)) {
        term_all_vars(t->key, out);
        term_all_vars(t->val, out);
        body_all_vars(t->body, out);
        return;
    }
    term_vars(t, out);
    for (uint32_t i = 0; t->kind != PC_REGO_TK_VAR && t->kind != PC_REGO_TK_CONST && i < t->n;
         i++) {
        if (t->items != NULL) {
            term_all_vars(t->items[i], out);
        }
        if (t->vals != NULL) {
            term_all_vars(t->vals[i], out);
        }
    }
}

static void
with_vars(const struct pc_rego_ir_expr *e, struct vset *out)
{
    for (uint32_t i = 0; i < e->nwith; i++) {
        term_vars(e->withs[i].value, out);
    }
}

/* Variables of an expression at its own level (closures excluded). */
static void
expr_vars(const struct pc_rego_ir_expr *e, struct vset *out)
{
    term_vars(e->a, out);
    term_vars(e->b, out);
    for (uint32_t i = 0; i < e->nargs; i++) {
        term_vars(e->args[i], out);
    }
    term_vars(e->out, out);
    term_vars(e->domain, out);
    with_vars(e, out);
}

static void
expr_all_vars(const struct pc_rego_ir_expr *e, struct vset *out)
{
    term_all_vars(e->a, out);
    term_all_vars(e->b, out);
    for (uint32_t i = 0; i < e->nargs; i++) {
        term_all_vars(e->args[i], out);
    }
    term_all_vars(e->out, out);
    term_all_vars(e->domain, out);
    term_all_vars(e->key, out);
    term_all_vars(e->val, out);
    body_all_vars(e->body, out);
    for (uint32_t i = 0; i < e->nwith; i++) {
        term_all_vars(e->withs[i].value, out);
    }
}

static void
body_all_vars(const struct pc_rego_ir_body *b, struct vset *out)
{
    for (uint32_t i = 0; b != NULL && i < b->n; i++) {
        expr_all_vars(b->exprs[i], out);
    }
}

/* Variables used inside the closures of a term (at any depth). */
static void
term_closure_vars(const struct pc_rego_ir_term *t, struct vset *out)
{
    if (t == NULL) {
        return;
    }
    if (is_closure(t)) {
        term_all_vars(t, out);
        return;
    }
    for (uint32_t i = 0; t->kind != PC_REGO_TK_VAR && t->kind != PC_REGO_TK_CONST && i < t->n;
         i++) {
        if (t->items != NULL) {
            term_closure_vars(t->items[i], out);
        }
        if (t->vals != NULL) {
            term_closure_vars(t->vals[i], out);
        }
    }
}

static void
expr_closure_vars(const struct pc_rego_ir_expr *e, struct vset *out)
{
    term_closure_vars(e->a, out);
    term_closure_vars(e->b, out);
    for (uint32_t i = 0; i < e->nargs; i++) {
        term_closure_vars(e->args[i], out);
    }
    term_closure_vars(e->out, out);
    for (uint32_t i = 0; i < e->nwith; i++) {
        term_closure_vars(e->withs[i].value, out);
    }
    if (e->kind == PC_REGO_EK_EVERY) {
        body_all_vars(e->body, out);
    }
}

/* Output variables. */

static bool
head_safe(const struct pc_rego_ir_term *h, const struct vset *safe)
{
    if (h->kind == PC_REGO_TK_VAR) {
        return vset_has(safe, h->slot);
    }
    return true;
}

/* OPA's outputVarsForTerms: segment variables of references whose heads are safe. */
static void
out_terms(const struct pc_rego_ir_term *t, const struct vset *safe, struct vset *out)
{
    if (t == NULL || is_closure(t)) {
        return;
    }
    if (t->kind == PC_REGO_TK_REF) {
        if (head_safe(t->items[0], safe)) {
            for (uint32_t i = 1; i < t->n; i++) {
                term_vars(t->items[i], out);
            }
        }
        return;
    }
    for (uint32_t i = 0; t->kind != PC_REGO_TK_VAR && t->kind != PC_REGO_TK_CONST && i < t->n;
         i++) {
        if (t->items != NULL) {
            out_terms(t->items[i], safe, out);
        }
        if (t->vals != NULL) {
            out_terms(t->vals[i], safe, out);
        }
    }
}

/* OPA's unifier: which variables `a = b` makes safe, given safe. */
struct unifier {
    struct vset *safe;
    uint32_t pairs[64][2]; /* [i][0] becomes safe when [i][1] does */
    uint32_t npairs;
};

static void
mark_safe(struct unifier *u, uint32_t slot)
{
    if (vset_has(u->safe, slot)) {
        return;
    }
    vset_add(u->safe, slot);
    for (uint32_t i = 0; i < u->npairs; i++) {
        if (u->pairs[i][1] == slot) {
            mark_safe(u, u->pairs[i][0]);
        }
    }
}

static void
mark_all_safe(struct unifier *u, const struct pc_rego_ir_term *t, struct safety *S)
{
    struct vset v;
    if (vset_init(S, &v) != 0) {
        return;
    }
    term_vars(t, &v);
    for (uint32_t s = 0; s < S->nslots; s++) {
        if (vset_has(&v, s)) {
            mark_safe(u, s);
        }
    }
}

static void
mark_unknown(struct unifier *u, uint32_t a, uint32_t b)
{
    if (u->npairs < 64) {
        u->pairs[u->npairs][0] = a;
        u->pairs[u->npairs][1] = b;
        u->npairs++;
    }
}

static void unify_terms(struct unifier *u, const struct pc_rego_ir_term *a,
                        const struct pc_rego_ir_term *b, struct safety *S);

/* var = composite: the var is safe once all of the composite is. */
static void
unify_var_all(struct unifier *u, const struct pc_rego_ir_term *var, const struct pc_rego_ir_term *b,
              struct safety *S)
{
    if (vset_has(u->safe, var->slot)) {
        mark_all_safe(u, b, S);
        return;
    }
    struct vset v;
    if (vset_init(S, &v) != 0) {
        return;
    }
    term_vars(b, &v);
    bool all = vset_subset(&v, u->safe);
    if (all) {
        mark_safe(u, var->slot);
        return;
    }
    for (uint32_t s = 0; s < S->nslots; s++) {
        if (vset_has(&v, s) && !vset_has(u->safe, s)) {
            mark_unknown(u, var->slot, s);
        }
    }
}

static void
unify_var(struct unifier *u, const struct pc_rego_ir_term *a, const struct pc_rego_ir_term *b,
          struct safety *S)
{
    switch (b->kind) {
    case PC_REGO_TK_VAR:
        if (vset_has(u->safe, b->slot)) {
            mark_safe(u, a->slot);
        } else if (vset_has(u->safe, a->slot)) {
            mark_safe(u, b->slot);
        } else {
            mark_unknown(u, a->slot, b->slot);
            mark_unknown(u, b->slot, a->slot);
        }
        return;
    case PC_REGO_TK_ARRAY:
    case PC_REGO_TK_OBJECT:
        unify_var_all(u, a, b, S);
        return;
    case PC_REGO_TK_REF:
        if (head_safe(b->items[0], u->safe)) {
            mark_safe(u, a->slot);
        }
        return;
    default:
        mark_safe(u, a->slot);
        return;
    }
}

/* Object keys that are the same term: equal constants or the same variable. */
static bool
same_key(const struct pc_rego_ir_term *a, const struct pc_rego_ir_term *b)
{
    if (a->kind == PC_REGO_TK_CONST && b->kind == PC_REGO_TK_CONST) {
        return pc_rego_equal(a->v, b->v);
    }
    return a->kind == PC_REGO_TK_VAR && b->kind == PC_REGO_TK_VAR && a->slot == b->slot;
}

static void
unify_composites(struct unifier *u, const struct pc_rego_ir_term *a,
                 const struct pc_rego_ir_term *b, struct safety *S)
{
    if (a->kind == PC_REGO_TK_ARRAY && b->kind == PC_REGO_TK_ARRAY && a->n == b->n) {
        for (uint32_t i = 0; i < a->n; i++) {
            unify_terms(u, a->items[i], b->items[i], S);
        }
    } else if (a->kind == PC_REGO_TK_OBJECT && b->kind == PC_REGO_TK_OBJECT && a->n == b->n) {
        for (uint32_t i = 0; i < a->n; i++) {
            for (uint32_t j = 0; j < b->n; j++) {
                if (same_key(a->items[i], b->items[j])) {
                    unify_terms(u, a->vals[i], b->vals[j], S);
                }
            }
        }
    } else if (b->kind == PC_REGO_TK_CONST) {
        mark_all_safe(u, a, S);
    }
}

static void
unify_terms(struct unifier *u, const struct pc_rego_ir_term *a, const struct pc_rego_ir_term *b,
            struct safety *S)
{
    if (a->kind == PC_REGO_TK_VAR) {
        unify_var(u, a, b, S);
        return;
    }
    if (b->kind == PC_REGO_TK_VAR) {
        unify_var(u, b, a, S);
        return;
    }
    if (a->kind == PC_REGO_TK_REF || is_closure(a) || b->kind == PC_REGO_TK_REF || is_closure(b)) {
        const struct pc_rego_ir_term *r = a->kind == PC_REGO_TK_REF || is_closure(a) ? a : b;
        const struct pc_rego_ir_term *o = r == a ? b : a;
        if ((is_closure(r) || head_safe(r->items[0], u->safe))
            && (o->kind == PC_REGO_TK_ARRAY || o->kind == PC_REGO_TK_OBJECT)) {
            mark_all_safe(u, o, S);
        }
        return;
    }
    if (a->kind == PC_REGO_TK_CONST) {
        unify_composites(u, b, a, S);
        return;
    }
    unify_composites(u, a, b, S);
}

static bool
withs_safe(const struct pc_rego_ir_expr *e, const struct vset *safe, struct safety *S)
{
    if (e->nwith == 0) {
        return true;
    }
    struct vset v;
    if (vset_init(S, &v) != 0) {
        return false;
    }
    with_vars(e, &v);
    return vset_subset(&v, safe);
}

/* The variables e makes safe, given safe (OPA's outputVarsForExpr), added to out. */
static int
expr_outputs(struct safety *S, const struct pc_rego_ir_expr *e, const struct vset *safe,
             struct vset *out)
{
    if (e->negated || !withs_safe(e, safe, S)) {
        return 0;
    }
    switch (e->kind) {
    case PC_REGO_EK_TERM:
        out_terms(e->a, safe, out);
        return 0;
    case PC_REGO_EK_UNIFY: {
        struct vset s2;
        int rc = vset_copy(S, &s2, safe);
        if (rc != 0) {
            return rc;
        }
        out_terms(e->a, safe, &s2);
        out_terms(e->b, safe, &s2);
        struct unifier u = { &s2, { { 0 } }, 0 };
        unify_terms(&u, e->a, e->b, S);
        vset_union(out, &s2);
        return 0;
    }
    case PC_REGO_EK_CALL: {
        struct vset o;
        struct vset in;
        int rc = vset_copy(S, &o, safe);
        if (rc == 0) {
            rc = vset_init(S, &in);
        }
        if (rc != 0) {
            return rc;
        }
        for (uint32_t i = 0; i < e->nargs; i++) {
            out_terms(e->args[i], safe, &o);
            term_vars(e->args[i], &in);
        }
        if (!vset_subset(&in, &o)) {
            return 0;
        }
        term_vars(e->out, &o);
        vset_union(out, &o);
        return 0;
    }
    case PC_REGO_EK_EVERY:
        out_terms(e->domain, safe, out);
        return 0;
    default:
        return 0;
    }
}

/* Reporting. */

static const struct pc_rego_ir_term *
find_var_term(const struct pc_rego_ir_term *t, uint32_t slot)
{
    if (t == NULL || is_closure(t)) {
        return NULL;
    }
    if (t->kind == PC_REGO_TK_VAR) {
        return t->slot == slot ? t : NULL;
    }
    for (uint32_t i = 0; t->kind != PC_REGO_TK_CONST && i < t->n; i++) {
        const struct pc_rego_ir_term *f =
            t->items != NULL ? find_var_term(t->items[i], slot) : NULL;
        if (f == NULL && t->vals != NULL) {
            f = find_var_term(t->vals[i], slot);
        }
        if (f != NULL) {
            return f;
        }
    }
    return NULL;
}

static const struct pc_rego_loc *
var_loc(const struct pc_rego_ir_expr *e, uint32_t slot)
{
    const struct pc_rego_ir_term *terms[] = { e->a, e->b, e->out, e->domain };
    for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
        const struct pc_rego_ir_term *f = find_var_term(terms[i], slot);
        if (f != NULL) {
            return &f->loc;
        }
    }
    for (uint32_t i = 0; i < e->nargs; i++) {
        const struct pc_rego_ir_term *f = find_var_term(e->args[i], slot);
        if (f != NULL) {
            return &f->loc;
        }
    }
    return &e->loc;
}

static int
report_unsafe(struct safety *S, const struct pc_rego_ir_expr *e, const struct vset *unsafe)
{
    for (uint32_t s = 0; s < S->nslots; s++) {
        if (vset_has(unsafe, s) && S->rule->slot_names[s] != NULL) {
            return pc_rego_compile_error(S->c, PC_REGO_EUNSAFE, var_loc(e, s), "var %s is unsafe",
                                         S->rule->slot_names[s]);
        }
    }
    return pc_rego_compile_error(S->c, PC_REGO_EUNSAFE, &e->loc, "expression is unsafe");
}

/* Reordering. */

static int check_body(struct safety *S, struct pc_rego_ir_body *body, const struct vset *globals);
static int check_closures_term(struct safety *S, struct pc_rego_ir_term *t,
                               const struct vset *globals);
static int finalize_closures(struct safety *S, struct pc_rego_ir_term *t, const struct vset *bound);

/* Moves expressions with closures after those binding the outer variables they close over. */
static int
order_closures(struct safety *S, struct pc_rego_ir_body *body, const struct vset *globals)
{
    uint32_t n = body->n;
    struct pc_rego_ir_expr **out = pc_rego_arena_alloc(S->c->arena, (n + 1) * sizeof(*out));
    bool *placed = pc_rego_arena_calloc(S->c->arena, n + 1, sizeof(bool));
    struct vset level;
    struct vset outs;
    if (out == NULL || placed == NULL || vset_init(S, &level) != 0
        || vset_copy(S, &outs, globals) != 0) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        expr_vars(body->exprs[i], &level);
    }
    uint32_t k = 0;
    for (bool progress = true; progress && k < n;) {
        progress = false;
        for (uint32_t i = 0; i < n; i++) {
            if (placed[i]) {
                continue;
            }
            struct vset cv;
            if (vset_init(S, &cv) != 0) {
                return PC_REGO_ENOMEM;
            }
            expr_closure_vars(body->exprs[i], &cv);
            bool ok = true;
            for (uint32_t s = 0; s < S->nslots && ok; s++) {
                ok = !(vset_has(&cv, s) && vset_has(&level, s) && !vset_has(&outs, s));
            }
            if (ok) {
                placed[i] = true;
                out[k++] = body->exprs[i];
                expr_outputs(S, body->exprs[i], &outs, &outs);
                progress = true;
            }
        }
    }
    if (k < n) {
        for (uint32_t i = 0; i < n; i++) {
            if (!placed[i]) {
                struct vset cv;
                if (vset_init(S, &cv) != 0) {
                    return PC_REGO_ENOMEM;
                }
                expr_closure_vars(body->exprs[i], &cv);
                for (uint32_t w = 0; w < cv.nw; w++) {
                    cv.w[w] &= level.w[w] & ~outs.w[w];
                }
                return report_unsafe(S, body->exprs[i], &cv);
            }
        }
    }
    body->exprs = out;
    return 0;
}

/* Places expressions as soon as their variables are safe. */
static int
order_safety(struct safety *S, struct pc_rego_ir_body *body, const struct vset *globals)
{
    uint32_t n = body->n;
    struct pc_rego_ir_expr **out = pc_rego_arena_alloc(S->c->arena, (n + 1) * sizeof(*out));
    bool *placed = pc_rego_arena_calloc(S->c->arena, n + 1, sizeof(bool));
    struct vset safe;
    if (out == NULL || placed == NULL || vset_copy(S, &safe, globals) != 0) {
        return PC_REGO_ENOMEM;
    }
    uint32_t k = 0;
    for (bool progress = true; progress && k < n;) {
        progress = false;
        for (uint32_t i = 0; i < n; i++) {
            if (placed[i]) {
                continue;
            }
            struct vset vars;
            struct vset outs;
            if (vset_init(S, &vars) != 0 || vset_copy(S, &outs, &safe) != 0) {
                return PC_REGO_ENOMEM;
            }
            expr_vars(body->exprs[i], &vars);
            int rc = expr_outputs(S, body->exprs[i], &safe, &outs);
            if (rc != 0) {
                return rc;
            }
            if (vset_subset(&vars, &outs)) {
                placed[i] = true;
                out[k++] = body->exprs[i];
                vset_union(&safe, &outs);
                progress = true;
            }
        }
    }
    for (uint32_t i = 0; i < n && k < n; i++) {
        if (!placed[i]) {
            struct vset vars;
            if (vset_init(S, &vars) != 0) {
                return PC_REGO_ENOMEM;
            }
            expr_vars(body->exprs[i], &vars);
            for (uint32_t w = 0; w < vars.nw; w++) {
                vars.w[w] &= ~safe.w[w];
            }
            return report_unsafe(S, body->exprs[i], &vars);
        }
    }
    body->exprs = out;
    return 0;
}

static int check_closures_term(struct safety *S, struct pc_rego_ir_term *t,
                               const struct vset *globals);

/* A comprehension: its head must only use variables its body (or the outside) binds. */
static int
check_comprehension(struct safety *S, struct pc_rego_ir_term *t, const struct vset *globals)
{
    int rc = check_body(S, t->body, globals);
    if (rc != 0) {
        return rc;
    }
    struct vset head;
    struct vset bound;
    if (vset_init(S, &head) != 0 || vset_copy(S, &bound, globals) != 0) {
        return PC_REGO_ENOMEM;
    }
    term_vars(t->key, &head);
    term_vars(t->val, &head);
    for (uint32_t i = 0; i < t->body->n; i++) {
        expr_vars(t->body->exprs[i], &bound);
    }
    if (!vset_subset(&head, &bound)) {
        for (uint32_t s = 0; s < S->nslots; s++) {
            if (vset_has(&head, s) && !vset_has(&bound, s)) {
                const char *name = S->rule->slot_names[s];
                return pc_rego_compile_error(S->c, PC_REGO_EUNSAFE, &t->loc, "var %s is unsafe",
                                             name != NULL ? name : "_");
            }
        }
    }
    rc = check_closures_term(S, t->key, &bound);
    return rc == 0 ? check_closures_term(S, t->val, &bound) : rc;
}

static int
check_closures_term(struct safety *S, struct pc_rego_ir_term *t, const struct vset *globals)
{
    if (t == NULL) {
        return 0;
    }
    if (is_closure(t)) {
        return check_comprehension(S, t, globals);
    }
    for (uint32_t i = 0; t->kind != PC_REGO_TK_VAR && t->kind != PC_REGO_TK_CONST && i < t->n;
         i++) {
        int rc = t->items != NULL ? check_closures_term(S, t->items[i], globals) : 0;
        if (rc == 0 && t->vals != NULL) {
            rc = check_closures_term(S, t->vals[i], globals);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
check_closures_expr(struct safety *S, struct pc_rego_ir_expr *e, const struct vset *globals)
{
    struct pc_rego_ir_term *terms[] = { e->a, e->b, e->out, e->domain };
    for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
        int rc = check_closures_term(S, terms[i], globals);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < e->nargs; i++) {
        int rc = check_closures_term(S, e->args[i], globals);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < e->nwith; i++) {
        int rc = check_closures_term(S, e->withs[i].value, globals);
        if (rc != 0) {
            return rc;
        }
    }
    if (e->kind == PC_REGO_EK_EVERY) {
        struct vset g;
        if (vset_copy(S, &g, globals) != 0) {
            return PC_REGO_ENOMEM;
        }
        if (e->key != NULL) {
            vset_add(&g, e->key->slot);
        }
        vset_add(&g, e->val->slot);
        return check_body(S, e->body, &g);
    }
    return 0;
}

static int
check_body(struct safety *S, struct pc_rego_ir_body *body, const struct vset *globals)
{
    int rc = order_closures(S, body, globals);
    if (rc == 0) {
        rc = order_safety(S, body, globals);
    }
    struct vset g;
    if (rc == 0) {
        rc = vset_copy(S, &g, globals);
    }
    for (uint32_t i = 0; rc == 0 && i < body->n; i++) {
        if (i > 0) {
            expr_vars(body->exprs[i - 1], &g);
        }
        rc = check_closures_expr(S, body->exprs[i], &g);
    }
    return rc;
}

/* Binding flags and extraction of enumerating references. */

static bool
term_det(struct pc_rego_ir_term *t, const struct vset *bound)
{
    bool det = true;
    switch (t->kind) {
    case PC_REGO_TK_VAR:
        det = vset_has(bound, t->slot);
        break;
    case PC_REGO_TK_REF:
    case PC_REGO_TK_ARRAY:
    case PC_REGO_TK_SET:
    case PC_REGO_TK_OBJECT:
        for (uint32_t i = 0; i < t->n; i++) {
            det = term_det(t->items[i], bound) && det;
            if (t->vals != NULL) {
                det = term_det(t->vals[i], bound) && det;
            }
        }
        break;
    default:
        break;
    }
    if (det) {
        t->flags |= PC_REGO_TF_DET;
    } else {
        t->flags &= (uint8_t)~PC_REGO_TF_DET;
    }
    return det;
}

struct fin {
    struct pc_rego_ir_expr **out;
    uint32_t n;
    uint32_t cap;
};

static int
fin_add(struct safety *S, struct fin *f, struct pc_rego_ir_expr *e)
{
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        struct pc_rego_ir_expr **out = pc_rego_arena_alloc(S->c->arena, cap * sizeof(*out));
        if (out == NULL) {
            return PC_REGO_ENOMEM;
        }
        if (f->n > 0) {
            memcpy(out, f->out, f->n * sizeof(*out));
        }
        f->out = out;
        f->cap = cap;
    }
    f->out[f->n++] = e;
    return 0;
}

static struct pc_rego_ir_term *new_slot_var(struct safety *S, const struct pc_rego_loc *loc);

/*
 * Replaces enumerating references nested in t (at any depth below top) with fresh variables
 * bound by `$v = ref` expressions added to f; they inherit the modifiers of e.
 */
static int
extract_gens(struct safety *S, struct pc_rego_ir_term **tp, bool top, struct vset *bound,
             struct fin *f, const struct pc_rego_ir_expr *e)
{
    struct pc_rego_ir_term *t = *tp;
    if (t == NULL || is_closure(t) || t->kind == PC_REGO_TK_VAR || t->kind == PC_REGO_TK_CONST) {
        return 0;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        bool seg_top = false;
        int rc = t->items != NULL && (t->kind != PC_REGO_TK_REF || i > 0)
                     ? extract_gens(S, &t->items[i], seg_top, bound, f, e)
                     : 0;
        if (rc == 0 && t->vals != NULL) {
            rc = extract_gens(S, &t->vals[i], false, bound, f, e);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (top || t->kind != PC_REGO_TK_REF || term_det(t, bound)) {
        return 0;
    }
    struct pc_rego_ir_term *v = new_slot_var(S, &t->loc);
    struct pc_rego_ir_expr *x = pc_rego_arena_calloc(S->c->arena, 1, sizeof(*x));
    if (v == NULL || x == NULL) {
        return PC_REGO_ENOMEM;
    }
    x->kind = PC_REGO_EK_UNIFY;
    x->loc = t->loc;
    x->a = v;
    x->b = t;
    x->generated = true;
    x->withs = e->withs;
    x->nwith = e->nwith;
    term_det(t, bound);
    term_vars(t, bound);
    vset_add(bound, v->slot);
    struct pc_rego_ir_term *copy = pc_rego_arena_alloc(S->c->arena, sizeof(*copy));
    if (copy == NULL) {
        return PC_REGO_ENOMEM;
    }
    *copy = *v;
    copy->flags |= PC_REGO_TF_DET;
    *tp = copy;
    return fin_add(S, f, x);
}

static int finalize_body(struct safety *S, struct pc_rego_ir_body *body, const struct vset *bound);

static int
finalize_closures(struct safety *S, struct pc_rego_ir_term *t, const struct vset *bound)
{
    if (t == NULL) {
        return 0;
    }
    if (is_closure(t)) {
        struct vset b;
        if (vset_copy(S, &b, bound) != 0) {
            return PC_REGO_ENOMEM;
        }
        int rc = finalize_body(S, t->body, &b);
        for (uint32_t i = 0; rc == 0 && i < t->body->n; i++) {
            expr_vars(t->body->exprs[i], &b);
        }
        if (rc == 0) {
            rc = finalize_closures(S, t->key, &b);
        }
        if (rc == 0) {
            rc = finalize_closures(S, t->val, &b);
        }
        if (rc == 0) {
            if (t->key != NULL) {
                term_det(t->key, &b);
            }
            term_det(t->val, &b);
        }
        t->flags |= PC_REGO_TF_DET;
        return rc;
    }
    for (uint32_t i = 0; t->kind != PC_REGO_TK_VAR && t->kind != PC_REGO_TK_CONST && i < t->n;
         i++) {
        int rc = t->items != NULL ? finalize_closures(S, t->items[i], bound) : 0;
        if (rc == 0 && t->vals != NULL) {
            rc = finalize_closures(S, t->vals[i], bound);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
finalize_expr(struct safety *S, struct pc_rego_ir_expr *e, struct vset *bound, struct fin *f)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < e->nwith; i++) {
        rc = extract_gens(S, &e->withs[i].value, false, bound, f, e);
    }
    switch (e->kind) {
    case PC_REGO_EK_TERM:
        rc = rc == 0 ? extract_gens(S, &e->a, true, bound, f, e) : rc;
        break;
    case PC_REGO_EK_UNIFY:
        rc = rc == 0 ? extract_gens(S, &e->a, true, bound, f, e) : rc;
        rc = rc == 0 ? extract_gens(S, &e->b, true, bound, f, e) : rc;
        break;
    case PC_REGO_EK_CALL:
        for (uint32_t i = 0; rc == 0 && i < e->nargs; i++) {
            rc = extract_gens(S, &e->args[i], false, bound, f, e);
        }
        rc = rc == 0 ? extract_gens(S, &e->out, false, bound, f, e) : rc;
        break;
    default:
        break;
    }
    struct pc_rego_ir_term *terms[] = { e->a, e->b, e->out, e->domain };
    for (size_t i = 0; rc == 0 && i < sizeof(terms) / sizeof(terms[0]); i++) {
        rc = finalize_closures(S, terms[i], bound);
        if (terms[i] != NULL) {
            term_det(terms[i], bound);
        }
    }
    for (uint32_t i = 0; rc == 0 && i < e->nargs; i++) {
        rc = finalize_closures(S, e->args[i], bound);
        term_det(e->args[i], bound);
    }
    for (uint32_t i = 0; rc == 0 && i < e->nwith; i++) {
        rc = finalize_closures(S, e->withs[i].value, bound);
        if (e->withs[i].value != NULL) {
            term_det(e->withs[i].value, bound);
        }
    }
    if (rc == 0 && e->kind == PC_REGO_EK_EVERY) {
        struct vset b;
        rc = vset_copy(S, &b, bound);
        if (rc == 0) {
            if (e->key != NULL) {
                vset_add(&b, e->key->slot);
            }
            vset_add(&b, e->val->slot);
            rc = finalize_body(S, e->body, &b);
        }
    }
    if (rc == 0) {
        expr_vars(e, bound);
        rc = fin_add(S, f, e);
    }
    return rc;
}

static int
finalize_body(struct safety *S, struct pc_rego_ir_body *body, const struct vset *entry)
{
    struct vset bound;
    struct fin f = { 0 };
    int rc = vset_copy(S, &bound, entry);
    for (uint32_t i = 0; rc == 0 && i < body->n; i++) {
        rc = finalize_expr(S, body->exprs[i], &bound, &f);
    }
    if (rc == 0) {
        body->exprs = f.out;
        body->n = f.n;
    }
    return rc;
}

static struct pc_rego_ir_term *
new_slot_var(struct safety *S, const struct pc_rego_loc *loc)
{
    struct pc_rego_ir_rule *r = S->rule;
    if (r->nslots >= S->cap) {
        pc_rego_compile_error(S->c, PC_REGO_ECOMPILE, loc, "body too complex");
        return NULL;
    }
    const char **names = pc_rego_arena_alloc(S->c->arena, (r->nslots + 1) * sizeof(*names));
    struct pc_rego_ir_term *t = pc_rego_arena_calloc(S->c->arena, 1, sizeof(*t));
    if (names == NULL || t == NULL) {
        return NULL;
    }
    if (r->nslots > 0) {
        memcpy(names, r->slot_names, r->nslots * sizeof(*names));
    }
    names[r->nslots] = NULL;
    r->slot_names = names;
    t->kind = PC_REGO_TK_VAR;
    t->loc = *loc;
    t->slot = r->nslots++;
    return t;
}

/* Rule heads. */

static int
check_head(struct safety *S, struct pc_rego_ir_rule *r, const struct vset *args)
{
    struct vset bound;
    struct vset head;
    if (vset_copy(S, &bound, args) != 0 || vset_init(S, &head) != 0) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < r->body->n; i++) {
        expr_vars(r->body->exprs[i], &bound);
    }
    for (uint32_t i = 0; i < r->nsuffix; i++) {
        term_vars(r->suffix[i], &head);
    }
    term_vars(r->key, &head);
    term_vars(r->value, &head);
    for (uint32_t s = 0; s < S->nslots; s++) {
        if (vset_has(&head, s) && !vset_has(&bound, s)) {
            const char *name = r->slot_names[s];
            return pc_rego_compile_error(S->c, PC_REGO_EUNSAFE, &r->loc, "var %s is unsafe",
                                         name != NULL ? name : "_");
        }
    }
    /* Comprehensions in the head see every variable of the body. */
    struct pc_rego_ir_term *terms[] = { r->key, r->value };
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < r->nsuffix + 2; i++) {
        struct pc_rego_ir_term *t = i < r->nsuffix ? r->suffix[i] : terms[i - r->nsuffix];
        if (t == NULL) {
            continue;
        }
        rc = check_closures_term(S, t, &bound);
        if (rc == 0) {
            rc = finalize_closures(S, t, &bound);
        }
        term_det(t, &bound);
    }
    return rc;
}

static int
check_rule(struct pc_rego_compiler *c, struct pc_rego_ir_rule *r)
{
    struct safety S = { c, r, r->nslots, r->nslots + EXTRA_SLOTS };
    struct vset args;
    struct vset none;
    int rc = vset_init(&S, &args);
    if (rc == 0) {
        rc = vset_init(&S, &none);
    }
    for (uint32_t i = 0; rc == 0 && i < r->nargs; i++) {
        term_vars(r->args[i], &args);
    }
    if (rc == 0) {
        rc = check_body(&S, r->body, &args);
    }
    if (rc == 0) {
        rc = check_head(&S, r, &args);
    }
    if (rc == 0) {
        /* Extraction may add slots: the frame size is final only afterwards. */
        rc = finalize_body(&S, r->body, &args);
    }
    /* Arguments are patterns matched against the caller's values: nothing is bound yet. */
    for (uint32_t i = 0; rc == 0 && i < r->nargs; i++) {
        term_det(r->args[i], &none);
    }
    return rc;
}

int
pc_rego_safety_rule(struct pc_rego_compiler *c, struct pc_rego_ir_rule *rule)
{
    for (struct pc_rego_ir_rule *r = rule; r != NULL; r = r->els) {
        int rc = check_rule(c, r);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int
pc_rego_safety_query(struct pc_rego_compiler *c, struct pc_rego_ir_rule *rule)
{
    return check_rule(c, rule);
}
