/*
 * The evaluator: bodies, expressions, unification and references (see eval.h for the
 * conventions; eval_rules.c evaluates rules, functions and `with`).
 *
 * The hot path of a policy decision is a body of tests on bound values (input.method ==
 * "GET", startswith(input.path, "/api")). eval_body runs such expressions in a loop without
 * building continuations, binding variables on the trail; only expressions that enumerate
 * (references with unbound variables, some ... in, every) or carry modifiers go through the
 * general continuation-passing path.
 */
#include "rego/eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rego/json.h"
#include "rego/num.h"
#include "rego/parse.h"

#define DEFAULT_ARENA_BLOCK (64 * 1024)
#define MAX_DEPTH           1000

int
pc_rego_eval_fail(struct pc_rego_ctx *ev, int code, const struct pc_rego_loc *loc, const char *fmt,
                  ...)
{
    if (ev->err == NULL || ev->err->code != 0) {
        return code;
    }
    char msg[PC_REGO_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (loc != NULL) {
        pc_rego_error_set(ev->err, code, loc->file, loc->line, loc->col, "%s", msg);
    } else {
        pc_rego_error_set(ev->err, code, NULL, 0, 0, "%s", msg);
    }
    return code;
}

static int
oom(struct pc_rego_ctx *ev)
{
    return pc_rego_eval_fail(ev, PC_REGO_ENOMEM, NULL, "out of memory");
}

static int
trail_grow(struct pc_rego_ctx *ev)
{
    size_t cap = ev->trail_cap ? ev->trail_cap * 2 : 256;
    const struct pc_rego_value ***t = pc_rego_realloc(ev->trail, cap * sizeof(*t));
    if (t == NULL) {
        return oom(ev);
    }
    ev->trail = t;
    ev->trail_cap = cap;
    return 0;
}

/* Binds slot to v, recorded on the trail. Returns 0 or PC_REGO_ENOMEM. */
static inline int
bind(struct pc_rego_ctx *ev, uint32_t slot, const struct pc_rego_value *v)
{
    if (ev->ntrail == ev->trail_cap && trail_grow(ev) != 0) {
        return PC_REGO_ENOMEM;
    }
    ev->slots[slot] = v;
    ev->trail[ev->ntrail++] = &ev->slots[slot];
    return 0;
}

static inline bool
is_det(const struct pc_rego_ir_term *t)
{
    return (t->flags & PC_REGO_TF_DET) != 0;
}

static inline bool
truthy(const struct pc_rego_value *v)
{
    return v != NULL && !(v->kind == PC_REGO_BOOLEAN && v->u.b == 0);
}

static const struct pc_rego_value *
index_value(struct pc_rego_ctx *ev, uint32_t i)
{
    return pc_rego_int(ev->arena, (int64_t)i);
}

/* Unification of patterns with values. */

static bool unify_array(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                        const struct pc_rego_value *v, int *rc);

static bool
unify_object(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t, const struct pc_rego_value *v,
             int *rc)
{
    if (v->kind != PC_REGO_OBJECT || v->len != t->n) {
        return false;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        const struct pc_rego_value *key = NULL;
        *rc = pc_rego_eval_det(ev, t->items[i], &key);
        if (*rc != 0 || key == NULL) {
            return false;
        }
        const struct pc_rego_value *mv = pc_rego_object_get(v, key);
        if (mv == NULL || !pc_rego_unify_value(ev, t->vals[i], mv, rc)) {
            return false;
        }
    }
    return true;
}

bool
pc_rego_unify_value(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                    const struct pc_rego_value *v, int *rc)
{
    switch (t->kind) {
    case PC_REGO_TK_VAR: {
        const struct pc_rego_value *cur = ev->slots[t->slot];
        if (cur != NULL) {
            return pc_rego_equal(cur, v);
        }
        *rc = bind(ev, t->slot, v);
        return *rc == 0;
    }
    case PC_REGO_TK_CONST:
        return pc_rego_equal(t->v, v);
    case PC_REGO_TK_ARRAY:
        if (!is_det(t)) {
            return unify_array(ev, t, v, rc);
        }
        break;
    case PC_REGO_TK_OBJECT:
        if (!is_det(t)) {
            return unify_object(ev, t, v, rc);
        }
        break;
    default:
        break;
    }
    const struct pc_rego_value *tv = NULL;
    *rc = pc_rego_eval_det(ev, t, &tv);
    return *rc == 0 && tv != NULL && pc_rego_equal(tv, v);
}

static bool
unify_array(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t, const struct pc_rego_value *v,
            int *rc)
{
    if (v->kind != PC_REGO_ARRAY || v->len != t->n) {
        return false;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (!pc_rego_unify_value(ev, t->items[i], v->u.items[i], rc)) {
            return false;
        }
    }
    return true;
}

/* Is t evaluable now (all its variables bound at run time)? */
static bool
bound_now(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t)
{
    if (is_det(t)) {
        return true;
    }
    switch (t->kind) {
    case PC_REGO_TK_VAR:
        return ev->slots[t->slot] != NULL;
    case PC_REGO_TK_CONST:
    case PC_REGO_TK_INPUT:
    case PC_REGO_TK_DATA:
        return true;
    case PC_REGO_TK_ARRAY:
    case PC_REGO_TK_SET:
    case PC_REGO_TK_OBJECT:
        for (uint32_t i = 0; i < t->n; i++) {
            if (!bound_now(ev, t->items[i]) || (t->vals != NULL && !bound_now(ev, t->vals[i]))) {
                return false;
            }
        }
        return true;
    default:
        return false;
    }
}

/* Unifies two patterns: pairs are settled as soon as one side is bound. */
static bool
unify_terms(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *a,
            const struct pc_rego_ir_term *b, int *rc)
{
    if (bound_now(ev, a) || bound_now(ev, b)) {
        const struct pc_rego_ir_term *src = bound_now(ev, a) ? a : b;
        const struct pc_rego_ir_term *dst = src == a ? b : a;
        const struct pc_rego_value *v = NULL;
        *rc = pc_rego_eval_det(ev, src, &v);
        return *rc == 0 && v != NULL && pc_rego_unify_value(ev, dst, v, rc);
    }
    if (a->kind == PC_REGO_TK_ARRAY && b->kind == PC_REGO_TK_ARRAY && a->n == b->n) {
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t i = 0; i < a->n; i++) {
                bool ready = bound_now(ev, a->items[i]) || bound_now(ev, b->items[i]);
                if ((pass == 0) == ready && !unify_terms(ev, a->items[i], b->items[i], rc)) {
                    return false;
                }
            }
        }
        return true;
    }
    if (a->kind == PC_REGO_TK_OBJECT && b->kind == PC_REGO_TK_OBJECT && a->n == b->n) {
        for (uint32_t i = 0; i < a->n; i++) {
            const struct pc_rego_ir_term *other = NULL;
            const struct pc_rego_value *ka = NULL;
            *rc = pc_rego_eval_det(ev, a->items[i], &ka);
            for (uint32_t j = 0; *rc == 0 && ka != NULL && j < b->n && other == NULL; j++) {
                const struct pc_rego_value *kb = NULL;
                *rc = pc_rego_eval_det(ev, b->items[j], &kb);
                if (kb != NULL && pc_rego_equal(ka, kb)) {
                    other = b->vals[j];
                }
            }
            if (other == NULL || !unify_terms(ev, a->vals[i], other, rc)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

/* Comprehensions. */

struct comp_k {
    struct pc_rego_kont base;
    const struct pc_rego_ir_term *t;
    struct pc_rego_builder b;
};

static int
comp_collect(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    struct comp_k *ck = (struct comp_k *)k;
    const struct pc_rego_value *val = NULL;
    int rc = pc_rego_eval_det(ev, ck->t->val, &val);
    if (rc != 0 || val == NULL) {
        return rc;
    }
    if (ck->t->kind != PC_REGO_TK_OCOMP) {
        return pc_rego_builder_push(&ck->b, val) == 0 ? 0 : oom(ev);
    }
    const struct pc_rego_value *key = NULL;
    rc = pc_rego_eval_det(ev, ck->t->key, &key);
    if (rc != 0 || key == NULL) {
        return rc;
    }
    return pc_rego_builder_put(&ck->b, key, val) == 0 ? 0 : oom(ev);
}

static int
eval_comprehension(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                   const struct pc_rego_value **out)
{
    struct comp_k ck = { { comp_collect }, t, { 0 } };
    enum pc_rego_kind kind = t->kind == PC_REGO_TK_ACOMP   ? PC_REGO_ARRAY
                             : t->kind == PC_REGO_TK_SCOMP ? PC_REGO_SET
                                                           : PC_REGO_OBJECT;
    pc_rego_builder_init(&ck.b, ev->arena, kind);
    int rc = pc_rego_eval_body(ev, t->body, 0, &ck.base);
    if (rc < 0) {
        return rc;
    }
    if (kind != PC_REGO_OBJECT) {
        *out = pc_rego_builder_finish(&ck.b);
        return *out != NULL ? 0 : oom(ev);
    }
    bool conflict = false;
    *out = pc_rego_builder_finish_strict(&ck.b, &conflict);
    if (conflict) {
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL_CONFLICT, &t->loc, "object keys must be unique");
    }
    return *out != NULL ? 0 : oom(ev);
}

/* Deterministic evaluation. */

struct capture_k {
    struct pc_rego_vkont base;
    const struct pc_rego_value *v;
};

static int
capture_value(struct pc_rego_ctx *ev, const struct pc_rego_vkont *k, const struct pc_rego_value *v)
{
    (void)ev;
    ((struct capture_k *)k)->v = v;
    return PC_REGO_EVAL_HALT;
}

static int
eval_collection(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                const struct pc_rego_value **out)
{
    struct pc_rego_builder b;
    enum pc_rego_kind kind = t->kind == PC_REGO_TK_ARRAY ? PC_REGO_ARRAY
                             : t->kind == PC_REGO_TK_SET ? PC_REGO_SET
                                                         : PC_REGO_OBJECT;
    pc_rego_builder_init(&b, ev->arena, kind);
    *out = NULL;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct pc_rego_value *item = NULL;
        int rc = pc_rego_eval_det(ev, t->items[i], &item);
        if (rc != 0 || item == NULL) {
            return rc;
        }
        if (kind == PC_REGO_OBJECT) {
            const struct pc_rego_value *val = NULL;
            rc = pc_rego_eval_det(ev, t->vals[i], &val);
            if (rc != 0 || val == NULL) {
                return rc;
            }
            rc = pc_rego_builder_put(&b, item, val);
        } else {
            rc = pc_rego_builder_push(&b, item);
        }
        if (rc != 0) {
            return oom(ev);
        }
    }
    if (kind != PC_REGO_OBJECT) {
        *out = pc_rego_builder_finish(&b);
        return *out != NULL ? 0 : oom(ev);
    }
    bool conflict = false;
    *out = pc_rego_builder_finish_strict(&b, &conflict);
    if (conflict) {
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL_CONFLICT, &t->loc, "object keys must be unique");
    }
    return *out != NULL ? 0 : oom(ev);
}

/* A reference with every segment bound: at most one value. */
static int
eval_ref_det(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
             const struct pc_rego_value **out)
{
    const struct pc_rego_ir_term *h = t->items[0];
    *out = NULL;
    if (h->kind == PC_REGO_TK_DATA) {
        struct capture_k ck = { { capture_value }, NULL };
        int rc = pc_rego_eval_data_ref(ev, h->node, t, 1, &ck.base);
        *out = ck.v;
        return rc < 0 ? rc : 0;
    }
    const struct pc_rego_value *cur = NULL;
    int rc = h->kind == PC_REGO_TK_INPUT ? (cur = ev->input, 0) : pc_rego_eval_det(ev, h, &cur);
    for (uint32_t i = 1; rc == 0 && cur != NULL && i < t->n; i++) {
        const struct pc_rego_value *key = NULL;
        rc = pc_rego_eval_det(ev, t->items[i], &key);
        cur = key != NULL ? pc_rego_value_get(cur, key) : NULL;
    }
    *out = rc == 0 ? cur : NULL;
    return rc;
}

int
pc_rego_eval_det(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
                 const struct pc_rego_value **out)
{
    switch (t->kind) {
    case PC_REGO_TK_CONST:
        *out = t->v;
        return 0;
    case PC_REGO_TK_VAR:
        *out = ev->slots[t->slot];
        return 0;
    case PC_REGO_TK_INPUT:
        *out = ev->input;
        return 0;
    case PC_REGO_TK_DATA: {
        struct capture_k ck = { { capture_value }, NULL };
        int rc = pc_rego_eval_data_ref(ev, t->node, t, 0, &ck.base);
        *out = ck.v;
        return rc < 0 ? rc : 0;
    }
    case PC_REGO_TK_REF:
        return eval_ref_det(ev, t, out);
    case PC_REGO_TK_ACOMP:
    case PC_REGO_TK_SCOMP:
    case PC_REGO_TK_OCOMP:
        return eval_comprehension(ev, t, out);
    default:
        return eval_collection(ev, t, out);
    }
}

/* Reference enumeration. */

struct walk_k {
    struct pc_rego_vkont base;
    const struct pc_rego_ir_term *ref;
    uint32_t next;
    const struct pc_rego_vkont *k;
};

static int walk_enum(struct pc_rego_ctx *ev, const struct pc_rego_value *v,
                     const struct pc_rego_ir_term *ref, uint32_t i, const struct pc_rego_vkont *k);

int
pc_rego_walk_value(struct pc_rego_ctx *ev, const struct pc_rego_value *v,
                   const struct pc_rego_ir_term *ref, uint32_t from, const struct pc_rego_vkont *k)
{
    for (uint32_t i = from; i < ref->n; i++) {
        const struct pc_rego_ir_term *seg = ref->items[i];
        if (!bound_now(ev, seg)) {
            return walk_enum(ev, v, ref, i, k);
        }
        const struct pc_rego_value *key = NULL;
        int rc = pc_rego_eval_det(ev, seg, &key);
        if (rc != 0 || key == NULL) {
            return rc;
        }
        v = pc_rego_value_get(v, key);
        if (v == NULL) {
            return 0;
        }
    }
    return k->fn(ev, k, v);
}

static int
walk_member(struct pc_rego_ctx *ev, const struct pc_rego_value *key,
            const struct pc_rego_value *val, const struct pc_rego_ir_term *ref, uint32_t i,
            const struct pc_rego_vkont *k)
{
    size_t mark = ev->ntrail;
    int rc = 0;
    if (pc_rego_unify_value(ev, ref->items[i], key, &rc)) {
        rc = pc_rego_walk_value(ev, val, ref, i + 1, k);
    }
    pc_rego_undo(ev, mark);
    return rc;
}

static int
walk_enum(struct pc_rego_ctx *ev, const struct pc_rego_value *v, const struct pc_rego_ir_term *ref,
          uint32_t i, const struct pc_rego_vkont *k)
{
    int rc = 0;
    switch (v->kind) {
    case PC_REGO_OBJECT:
        for (uint32_t j = 0; rc == 0 && j < v->len; j++) {
            rc = walk_member(ev, v->u.entries[j].key, v->u.entries[j].val, ref, i, k);
        }
        return rc;
    case PC_REGO_ARRAY:
        for (uint32_t j = 0; rc == 0 && j < v->len; j++) {
            const struct pc_rego_value *idx = index_value(ev, j);
            rc = idx != NULL ? walk_member(ev, idx, v->u.items[j], ref, i, k) : oom(ev);
        }
        return rc;
    case PC_REGO_SET:
        for (uint32_t j = 0; rc == 0 && j < v->len; j++) {
            rc = walk_member(ev, v->u.items[j], v->u.items[j], ref, i, k);
        }
        return rc;
    default:
        return 0;
    }
}

/* Enumerates the values of term t (any kind), calling k for each. */
static int
eval_term_gen(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t,
              const struct pc_rego_vkont *k)
{
    if (t->kind != PC_REGO_TK_REF || is_det(t)) {
        const struct pc_rego_value *v = NULL;
        int rc = pc_rego_eval_det(ev, t, &v);
        return rc != 0 || v == NULL ? rc : k->fn(ev, k, v);
    }
    const struct pc_rego_ir_term *h = t->items[0];
    if (h->kind == PC_REGO_TK_DATA) {
        return pc_rego_eval_data_ref(ev, h->node, t, 1, k);
    }
    const struct pc_rego_value *hv = NULL;
    int rc = h->kind == PC_REGO_TK_INPUT ? (hv = ev->input, 0) : pc_rego_eval_det(ev, h, &hv);
    if (rc != 0 || hv == NULL) {
        return rc;
    }
    return pc_rego_walk_value(ev, hv, t, 1, k);
}

/* Expressions. */

static int eval_expr(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e,
                     const struct pc_rego_kont *k);

struct term_k {
    struct pc_rego_vkont base;
    const struct pc_rego_kont *k;
};

static int
term_truthy(struct pc_rego_ctx *ev, const struct pc_rego_vkont *vk, const struct pc_rego_value *v)
{
    const struct term_k *tk = (const struct term_k *)vk;
    return truthy(v) ? tk->k->fn(ev, tk->k) : 0;
}

/* Continues with k after unifying side (a pattern, value or reference) with v. */
struct side_k {
    struct pc_rego_vkont base;
    const struct pc_rego_ir_term *other;
    const struct pc_rego_kont *k;
};

struct eq_k {
    struct pc_rego_vkont base;
    const struct pc_rego_value *want;
    const struct pc_rego_kont *k;
};

static int
eq_value(struct pc_rego_ctx *ev, const struct pc_rego_vkont *vk, const struct pc_rego_value *v)
{
    const struct eq_k *ek = (const struct eq_k *)vk;
    return pc_rego_equal(ek->want, v) ? ek->k->fn(ev, ek->k) : 0;
}

static int
unify_side(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t, const struct pc_rego_value *v,
           const struct pc_rego_kont *k)
{
    if (t->kind == PC_REGO_TK_REF && !is_det(t)) {
        struct eq_k ek = { { eq_value }, v, k };
        return eval_term_gen(ev, t, &ek.base);
    }
    size_t mark = ev->ntrail;
    int rc = 0;
    if (pc_rego_unify_value(ev, t, v, &rc)) {
        rc = k->fn(ev, k);
    }
    pc_rego_undo(ev, mark);
    return rc;
}

static int
side_value(struct pc_rego_ctx *ev, const struct pc_rego_vkont *vk, const struct pc_rego_value *v)
{
    const struct side_k *sk = (const struct side_k *)vk;
    return unify_side(ev, sk->other, v, sk->k);
}

static bool
is_generator(const struct pc_rego_ir_term *t)
{
    return t->kind == PC_REGO_TK_REF && !is_det(t);
}

static int
eval_unify(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    const struct pc_rego_ir_term *a = e->a;
    const struct pc_rego_ir_term *b = e->b;
    if (is_generator(a) || (!is_generator(b) && bound_now(ev, a))) {
        struct side_k sk = { { side_value }, b, k };
        return eval_term_gen(ev, a, &sk.base);
    }
    if (is_generator(b) || bound_now(ev, b)) {
        struct side_k sk = { { side_value }, a, k };
        return eval_term_gen(ev, b, &sk.base);
    }
    size_t mark = ev->ntrail;
    int rc = 0;
    if (unify_terms(ev, a, b, &rc)) {
        rc = k->fn(ev, k);
    }
    pc_rego_undo(ev, mark);
    return rc;
}

/* Builtin errors: with strict builtins they stop evaluation, otherwise the call is undefined. */
static int
builtin_error(struct pc_rego_ctx *ev, int rc, const struct pc_rego_ir_expr *e)
{
    if (rc == PC_REGO_EEVAL_TYPE || rc == PC_REGO_EEVAL_BUILTIN) {
        if (!ev->strict && e->fn.bi != NULL) {
            return 0;
        }
        if (ev->err != NULL && ev->err->code == 0) {
            return pc_rego_eval_fail(ev, rc, &e->loc, "%s", ev->bctx.msg);
        }
    }
    return rc;
}

/* Evaluates the arguments and calls; *out NULL when an argument or the result is undefined. */
static int
call_values(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e,
            const struct pc_rego_value **out)
{
    const struct pc_rego_value *args[17];
    const struct pc_rego_value **argv = args;
    *out = NULL;
    if (e->nargs > 16) {
        argv = pc_rego_arena_alloc(ev->arena, (e->nargs + 1) * sizeof(*argv));
        if (argv == NULL) {
            return oom(ev);
        }
    }
    for (uint32_t i = 0; i < e->nargs; i++) {
        int rc = pc_rego_eval_det(ev, e->args[i], &argv[i]);
        if (rc != 0 || argv[i] == NULL) {
            return rc;
        }
    }
    argv[e->nargs] = NULL; /* variadic builtins find their end here */
    int rc = pc_rego_call(ev, &e->fn, argv, e->nargs, &e->loc, out);
    if (rc != 0) {
        *out = NULL;
        return builtin_error(ev, rc, e);
    }
    return 0;
}

static int
eval_call(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    const struct pc_rego_value *res = NULL;
    int rc = call_values(ev, e, &res);
    if (rc != 0 || res == NULL) {
        return rc;
    }
    if (e->out == NULL) {
        return truthy(res) ? k->fn(ev, k) : 0;
    }
    if (e->fn.bi != NULL && (e->fn.bi->flags & PC_REGO_BI_RELATION) && res->kind == PC_REGO_ARRAY) {
        for (uint32_t i = 0; rc == 0 && i < res->len; i++) {
            rc = unify_side(ev, e->out, res->u.items[i], k);
        }
        return rc;
    }
    return unify_side(ev, e->out, res, k);
}

struct halt_k {
    struct pc_rego_kont base;
};

static int
halt_now(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    (void)ev;
    (void)k;
    return PC_REGO_EVAL_HALT;
}

static const struct halt_k found_k = { { halt_now } };

/* every: the body must hold for each member of the domain. */
static int
every_member(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e,
             const struct pc_rego_value *key, const struct pc_rego_value *val)
{
    size_t mark = ev->ntrail;
    int rc = 0;
    if (e->key != NULL) {
        rc = bind(ev, e->key->slot, key);
    }
    if (rc == 0) {
        rc = bind(ev, e->val->slot, val);
    }
    if (rc == 0) {
        rc = pc_rego_eval_body(ev, e->body, 0, &found_k.base);
    }
    pc_rego_undo(ev, mark);
    return rc;
}

static int
eval_every(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    const struct pc_rego_value *dom = NULL;
    int rc = pc_rego_eval_det(ev, e->domain, &dom);
    if (rc != 0 || dom == NULL) {
        return rc;
    }
    if (dom->kind != PC_REGO_ARRAY && dom->kind != PC_REGO_OBJECT && dom->kind != PC_REGO_SET) {
        return 0;
    }
    for (uint32_t i = 0; i < dom->len; i++) {
        const struct pc_rego_value *key;
        const struct pc_rego_value *val;
        if (dom->kind == PC_REGO_OBJECT) {
            key = dom->u.entries[i].key;
            val = dom->u.entries[i].val;
        } else {
            val = dom->u.items[i];
            key = dom->kind == PC_REGO_SET ? val : index_value(ev, i);
            if (key == NULL) {
                return oom(ev);
            }
        }
        rc = every_member(ev, e, key, val);
        if (rc < 0) {
            return rc;
        }
        if (rc != PC_REGO_EVAL_HALT) {
            return 0;
        }
    }
    return k->fn(ev, k);
}

static int
eval_positive(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    switch (e->kind) {
    case PC_REGO_EK_TERM: {
        struct term_k tk = { { term_truthy }, k };
        return eval_term_gen(ev, e->a, &tk.base);
    }
    case PC_REGO_EK_UNIFY:
        return eval_unify(ev, e, k);
    case PC_REGO_EK_CALL:
        return eval_call(ev, e, k);
    case PC_REGO_EK_EVERY:
        return eval_every(ev, e, k);
    default:
        return k->fn(ev, k);
    }
}

static int
eval_no_with(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    if (!e->negated) {
        return eval_positive(ev, e, k);
    }
    size_t mark = ev->ntrail;
    int rc = eval_positive(ev, e, &found_k.base);
    pc_rego_undo(ev, mark);
    if (rc < 0) {
        return rc;
    }
    return rc == PC_REGO_EVAL_HALT ? 0 : k->fn(ev, k);
}

static int
eval_expr(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e, const struct pc_rego_kont *k)
{
    if (e->nwith > 0) {
        return pc_rego_eval_with(ev, e, k, eval_no_with);
    }
    return eval_no_with(ev, e, k);
}

/* A call without generators: its result tested, or unified with (or compared to) its output. */
static inline int
inline_call(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e)
{
    const struct pc_rego_value *v = NULL;
    if (e->fn.bi != NULL && (e->fn.bi->flags & PC_REGO_BI_RELATION)) {
        return 2;
    }
    if (e->out != NULL && !(e->out->kind == PC_REGO_TK_VAR || is_det(e->out))) {
        return 2;
    }
    int rc = call_values(ev, e, &v);
    if (rc != 0) {
        return rc;
    }
    if (e->out == NULL) {
        return truthy(v) != e->negated;
    }
    if (v == NULL) {
        return e->negated;
    }
    if (e->negated) {
        const struct pc_rego_value *o = NULL;
        if (e->out->kind == PC_REGO_TK_VAR && ev->slots[e->out->slot] == NULL) {
            return 0;
        }
        rc = pc_rego_eval_det(ev, e->out, &o);
        return rc != 0 ? rc : !(o != NULL && pc_rego_equal(o, v));
    }
    rc = 0;
    return pc_rego_unify_value(ev, e->out, v, &rc) ? 1 : rc;
}

/* a = b where one side is determined and the other determined or a plain variable. */
static inline int
inline_unify(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e)
{
    const struct pc_rego_ir_term *a = e->a;
    const struct pc_rego_ir_term *b = e->b;
    const struct pc_rego_value *v = NULL;
    if (!is_det(b) && is_det(a)) {
        a = e->b;
        b = e->a;
    }
    if (!is_det(b) || !(is_det(a) || (a->kind == PC_REGO_TK_VAR && !e->negated))) {
        return 2;
    }
    int rc = pc_rego_eval_det(ev, b, &v);
    if (rc != 0) {
        return rc;
    }
    if (v == NULL) {
        return e->negated;
    }
    rc = 0;
    bool ok = pc_rego_unify_value(ev, a, v, &rc);
    return rc != 0 ? rc : ok != e->negated;
}

/*
 * Tries e without continuations. Returns 1 when it holds (bindings on the trail), 0 when it
 * does not, 2 when it needs the general path, or a negative error.
 */
static int
eval_inline(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e)
{
    if (e->nwith > 0) {
        return 2;
    }
    const struct pc_rego_value *v = NULL;
    int rc;
    switch (e->kind) {
    case PC_REGO_EK_TRUE:
        return 1;
    case PC_REGO_EK_TERM:
        if (!is_det(e->a)) {
            return 2;
        }
        rc = pc_rego_eval_det(ev, e->a, &v);
        return rc != 0 ? rc : truthy(v) != e->negated;
    case PC_REGO_EK_CALL:
        return inline_call(ev, e);
    case PC_REGO_EK_UNIFY:
        return inline_unify(ev, e);
    default:
        return 2;
    }
}

struct body_k {
    struct pc_rego_kont base;
    const struct pc_rego_ir_body *body;
    uint32_t next;
    const struct pc_rego_kont *k;
};

static int
body_next(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    const struct body_k *bk = (const struct body_k *)k;
    return pc_rego_eval_body(ev, bk->body, bk->next, bk->k);
}

int
pc_rego_eval_body(struct pc_rego_ctx *ev, const struct pc_rego_ir_body *body, uint32_t i,
                  const struct pc_rego_kont *k)
{
    size_t mark = ev->ntrail;
    int rc;
    for (;; i++) {
        /* Counting the completions too bounds iterations whose bodies end right away. */
        if (ev->step_limit != 0 && ++ev->steps > ev->step_limit) {
            const struct pc_rego_loc *loc =
                body->n == 0 ? NULL : &body->exprs[i < body->n ? i : body->n - 1]->loc;
            rc = pc_rego_eval_fail(ev, PC_REGO_EEVAL, loc, "evaluation limit exceeded");
            break;
        }
        if (i == body->n) {
            rc = k->fn(ev, k);
            break;
        }
        const struct pc_rego_ir_expr *e = body->exprs[i];
        rc = eval_inline(ev, e);
        if (rc == 1) {
            continue;
        }
        if (rc == 2) {
            struct body_k bk = { { body_next }, body, i + 1, k };
            rc = eval_expr(ev, e, &bk.base);
        }
        break;
    }
    pc_rego_undo(ev, mark);
    return rc;
}

/* Calls. */

static const struct pc_rego_wfunc *
find_mock(const struct pc_rego_ctx *ev, const struct pc_rego_ir_func *fn)
{
    for (const struct pc_rego_wfunc *m = ev->wfunc; m != NULL; m = m->next) {
        if ((fn->bi != NULL && m->target->bi == fn->bi)
            || (fn->node != NULL && m->target->node == fn->node)) {
            return m;
        }
    }
    return NULL;
}

static int
call_builtin(struct pc_rego_ctx *ev, const struct pc_rego_builtin *bi,
             const struct pc_rego_value *const *args, const struct pc_rego_loc *loc,
             const struct pc_rego_value **out)
{
    if (bi->flags & PC_REGO_BI_STUB) {
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL, loc,
                                 "%s: builtin not implemented here; replace it with `with`",
                                 bi->name);
    }
    ev->bctx.arena = ev->arena;
    ev->bctx.ctx = ev;
    ev->bctx.name = bi->name;
    ev->bctx.code = 0;
    ev->bctx.msg[0] = '\0';
    *out = NULL;
    return bi->fn(&ev->bctx, args, out);
}

int
pc_rego_call(struct pc_rego_ctx *ev, const struct pc_rego_ir_func *fn,
             const struct pc_rego_value *const *args, uint32_t nargs, const struct pc_rego_loc *loc,
             const struct pc_rego_value **out)
{
    (void)nargs;
    if (ev->wfunc != NULL) {
        const struct pc_rego_wfunc *m = find_mock(ev, fn);
        if (m != NULL && m->repl == NULL) {
            *out = m->value;
            return 0;
        }
        if (m != NULL && m->repl != fn) {
            const struct pc_rego_wfunc *saved = ev->wfunc;
            ev->wfunc = m->next;
            int rc = pc_rego_call(ev, m->repl, args, nargs, loc, out);
            ev->wfunc = saved;
            return rc;
        }
    }
    if (fn->bi != NULL) {
        return call_builtin(ev, fn->bi, args, loc, out);
    }
    if (++ev->depth > MAX_DEPTH) {
        ev->depth--;
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL, loc, "evaluation too deeply nested");
    }
    int rc = pc_rego_call_user(ev, fn->node, args, loc, out);
    ev->depth--;
    return rc;
}

/* Contexts. */

struct pc_rego_ctx *
pc_rego_ctx_create(size_t arena_block)
{
    struct pc_rego_ctx *ctx = pc_rego_calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return NULL;
    }
    ctx->arena = pc_rego_arena_create(arena_block ? arena_block : DEFAULT_ARENA_BLOCK);
    if (ctx->arena == NULL || pc_rego_regex_cache_init(&ctx->regex) != 0) {
        pc_rego_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void
pc_rego_ctx_free(struct pc_rego_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    pc_rego_regex_cache_free(&ctx->regex);
    pc_rego_arena_destroy(ctx->arena);
    pc_rego_free(ctx->trail);
    pc_rego_free(ctx);
}

void
pc_rego_ctx_reset(struct pc_rego_ctx *ctx)
{
    pc_rego_arena_reset(ctx->arena);
    ctx->sols = NULL;
    ctx->nsols = 0;
    ctx->sols_cap = 0;
}

struct pc_rego_arena *
pc_rego_ctx_arena(struct pc_rego_ctx *ctx)
{
    return ctx->arena;
}

void
pc_rego_ctx_set_print(struct pc_rego_ctx *ctx, pc_rego_print_fn fn, void *ud)
{
    ctx->print_fn = fn;
    ctx->print_ud = ud;
}

void
pc_rego_bctx_print(struct pc_rego_bctx *bc, const char *msg, size_t len)
{
    if (bc->ctx->print_fn != NULL) {
        bc->ctx->print_fn(msg, len, bc->ctx->print_ud);
    }
}

void
pc_rego_ctx_set_memory_limit(struct pc_rego_ctx *ctx, size_t max_bytes)
{
    pc_rego_arena_set_limit(ctx->arena, max_bytes);
}

void
pc_rego_ctx_set_strict(struct pc_rego_ctx *ctx, bool strict)
{
    ctx->strict = strict;
}

void
pc_rego_ctx_set_now_ns(struct pc_rego_ctx *ctx, int64_t now_ns)
{
    ctx->fixed_now_ns = now_ns;
}

void
pc_rego_ctx_set_step_limit(struct pc_rego_ctx *ctx, uint64_t steps)
{
    ctx->step_limit = steps;
}

struct pc_rego_regex_cache *
pc_rego_bctx_regex(struct pc_rego_bctx *bc)
{
    return &bc->ctx->regex;
}

int64_t
pc_rego_bctx_now_ns(struct pc_rego_bctx *bc)
{
    struct pc_rego_ctx *ctx = bc->ctx;
    if (ctx->now_ns == 0) {
        if (ctx->fixed_now_ns != 0) {
            ctx->now_ns = ctx->fixed_now_ns;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ctx->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    }
    return ctx->now_ns;
}

/* Queries. */

static int
begin_eval(struct pc_rego_ctx *ev, const struct pc_rego_query *q, const struct pc_rego_value *input,
           struct pc_rego_error *err)
{
    ev->pol = q->policy;
    ev->input = input;
    ev->wdata = NULL;
    ev->wfunc = NULL;
    ev->err = err;
    ev->depth = 0;
    ev->steps = 0;
    ev->now_ns = 0;
    ev->ntrail = 0;
    pc_rego_error_clear(err);
    ev->cache = pc_rego_arena_calloc(ev->arena, q->policy->nnodes + 1, sizeof(*ev->cache));
    ev->slots = pc_rego_arena_calloc(ev->arena, q->rule->nslots + 1, sizeof(*ev->slots));
    if (ev->cache == NULL || ev->slots == NULL) {
        return oom(ev);
    }
    return 0;
}

static bool
same_solution(const struct pc_rego_query *q, const struct pc_rego_solution_rec *a,
              const struct pc_rego_solution_rec *b)
{
    for (uint32_t i = 0; i < q->nvars; i++) {
        if ((a->vars[i] == NULL) != (b->vars[i] == NULL)
            || (a->vars[i] != NULL && !pc_rego_equal(a->vars[i], b->vars[i]))) {
            return false;
        }
    }
    for (uint32_t i = 0; i < q->nexprs; i++) {
        if (!pc_rego_equal(a->exprs[i], b->exprs[i])) {
            return false;
        }
    }
    return true;
}

struct sol_k {
    struct pc_rego_kont base;
    const struct pc_rego_query *q;
    bool first_only;
};

static int
record_solution(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    const struct sol_k *sk = (const struct sol_k *)k;
    const struct pc_rego_query *q = sk->q;
    struct pc_rego_solution_rec rec;
    rec.vars = pc_rego_arena_alloc(ev->arena, (q->nvars + 1) * sizeof(*rec.vars));
    rec.exprs = pc_rego_arena_alloc(ev->arena, (q->nexprs + 1) * sizeof(*rec.exprs));
    if (rec.vars == NULL || rec.exprs == NULL) {
        return oom(ev);
    }
    for (uint32_t i = 0; i < q->nvars; i++) {
        rec.vars[i] = ev->slots[q->var_slots[i]];
    }
    for (uint32_t i = 0; i < q->nexprs; i++) {
        uint32_t s = q->expr_slots[i];
        rec.exprs[i] = s != UINT32_MAX && ev->slots[s] != NULL ? ev->slots[s] : pc_rego_bool(true);
    }
    for (size_t i = 0; i < ev->nsols; i++) {
        if (same_solution(q, &ev->sols[i], &rec)) {
            return 0;
        }
    }
    if (ev->nsols == ev->sols_cap) {
        size_t cap = ev->sols_cap ? ev->sols_cap * 2 : 8;
        struct pc_rego_solution_rec *s = pc_rego_arena_alloc(ev->arena, cap * sizeof(*s));
        if (s == NULL) {
            return oom(ev);
        }
        if (ev->nsols > 0) {
            memcpy(s, ev->sols, ev->nsols * sizeof(*s));
        }
        ev->sols = s;
        ev->sols_cap = cap;
    }
    ev->sols[ev->nsols++] = rec;
    return sk->first_only ? PC_REGO_EVAL_HALT : 0;
}

int
pc_rego_eval(struct pc_rego_ctx *ctx, const struct pc_rego_query *q,
             const struct pc_rego_value *input, const struct pc_rego_solution **sols, size_t *nsols,
             struct pc_rego_error *err)
{
    struct pc_rego_error local;
    *sols = NULL;
    *nsols = 0;
    ctx->nsols = 0;
    ctx->sols_cap = 0;
    ctx->sols = NULL;
    int rc = begin_eval(ctx, q, input, err != NULL ? err : &local);
    struct sol_k sk = { { record_solution }, q, false };
    if (rc == 0) {
        rc = pc_rego_eval_body(ctx, q->rule->body, 0, &sk.base);
    }
    ctx->err = NULL;
    if (rc < 0) {
        return rc;
    }
    struct pc_rego_solution *out = pc_rego_arena_alloc(ctx->arena, (ctx->nsols + 1) * sizeof(*out));
    if (out == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (size_t i = 0; i < ctx->nsols; i++) {
        out[i].vars = ctx->sols[i].vars;
        out[i].exprs = ctx->sols[i].exprs;
    }
    *sols = out;
    *nsols = ctx->nsols;
    return 0;
}

int
pc_rego_eval_value(struct pc_rego_ctx *ctx, const struct pc_rego_query *q,
                   const struct pc_rego_value *input, const struct pc_rego_value **out,
                   struct pc_rego_error *err)
{
    struct pc_rego_error local;
    *out = NULL;
    const struct pc_rego_ir_body *body = q->rule->body;
    if (body->n == 1 && body->exprs[0]->kind == PC_REGO_EK_TERM && body->exprs[0]->nwith == 0
        && is_det(body->exprs[0]->a)) {
        int rc = begin_eval(ctx, q, input, err != NULL ? err : &local);
        if (rc == 0) {
            rc = pc_rego_eval_det(ctx, body->exprs[0]->a, out);
        }
        ctx->err = NULL;
        return rc;
    }
    if (q->value_query != NULL) {
        q = q->value_query;
    }
    const struct pc_rego_solution *sols;
    size_t n;
    int rc = pc_rego_eval(ctx, q, input, &sols, &n, err);
    if (rc == 0 && n > 0) {
        *out = q->nexprs > 0 ? sols[0].exprs[0] : pc_rego_bool(true);
    }
    return rc;
}
