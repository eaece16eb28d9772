/*
 * Rules, functions, virtual documents and `with` (see eval.h for the conventions).
 *
 * A node's value is computed whole and cached for the evaluation: a complete rule's single
 * value (two different values are a conflict), a multi-value rule's set, the object that
 * generic rules (p[k].x := v) and the nodes below build together, or for a package the
 * object of everything below it merged with the base document. Complete rules and functions
 * whose every definition yields the same constant stop at the first definition that holds,
 * which is what makes long lists of `allow if {...}` cheap.
 *
 * Under `with data.x as v` the data tree is read through the replacements: a reference is
 * resolved to the longest path it names, the newest replacement at or above that path wins,
 * and replacements below it are written into the value found.
 */
#include <stdio.h>
#include <string.h>

#include "rego/eval.h"
#include "rego/index.h"

#define STACK_CANDIDATES 32

static int
oom(struct pc_rego_ctx *ev)
{
    return pc_rego_eval_fail(ev, PC_REGO_ENOMEM, NULL, "out of memory");
}

/* Candidate rules: from the index when the node has one, else all of them. */
static int
candidates(struct pc_rego_ctx *ev, const struct pc_rego_ir_node *node,
           const struct pc_rego_value *const *args, struct pc_rego_ir_rule ***out, uint32_t *n,
           struct pc_rego_ir_rule **stack)
{
    if (node->index == NULL) {
        *out = node->rules;
        *n = node->nrules;
        return 0;
    }
    struct pc_rego_ir_rule **buf = stack;
    if (node->nrules > STACK_CANDIDATES) {
        buf = pc_rego_arena_alloc(ev->arena, node->nrules * sizeof(*buf));
        if (buf == NULL) {
            return oom(ev);
        }
    }
    *out = buf;
    return pc_rego_index_candidates(ev, node, args, buf, n);
}

/* Single values: complete rules and functions. */

struct single_k {
    struct pc_rego_kont base;
    const struct pc_rego_ir_rule *rule;
    const struct pc_rego_value *v;
    const char *conflict;
};

static int
single_collect(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    struct single_k *sk = (struct single_k *)k;
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_eval_det(ev, sk->rule->value, &v);
    if (rc != 0 || v == NULL) {
        return rc;
    }
    if (sk->v != NULL && !pc_rego_equal(sk->v, v)) {
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL_CONFLICT, &sk->rule->loc, "%s", sk->conflict);
    }
    sk->v = v;
    return sk->rule->value_const ? PC_REGO_EVAL_HALT : 0;
}

/*
 * Evaluates one branch in a fresh frame: binds args (when given) then runs the body.
 * *matched says whether the arguments matched.
 */
static int
eval_branch(struct pc_rego_ctx *ev, const struct pc_rego_ir_rule *br,
            const struct pc_rego_value *const *args, const char *conflict,
            const struct pc_rego_value **out, bool *matched)
{
    const struct pc_rego_value **frame =
        pc_rego_arena_calloc(ev->arena, br->nslots + 1, sizeof(*frame));
    if (frame == NULL) {
        return oom(ev);
    }
    const struct pc_rego_value **saved = ev->slots;
    size_t mark = ev->ntrail;
    ev->slots = frame;
    int rc = 0;
    *matched = true;
    for (uint32_t i = 0; args != NULL && i < br->nargs && *matched; i++) {
        *matched = pc_rego_unify_value(ev, br->args[i], args[i], &rc);
    }
    struct single_k sk = { { single_collect }, br, NULL, conflict };
    if (*matched && rc == 0) {
        rc = pc_rego_eval_body(ev, br->body, 0, &sk.base);
    }
    pc_rego_undo(ev, mark);
    ev->slots = saved;
    *out = sk.v;
    return rc < 0 ? rc : 0;
}

/* A rule with its else branches: the first branch whose body holds gives the value. */
static int
eval_chain(struct pc_rego_ctx *ev, const struct pc_rego_ir_rule *rule,
           const struct pc_rego_value *const *args, const char *conflict,
           const struct pc_rego_value **out)
{
    *out = NULL;
    for (const struct pc_rego_ir_rule *br = rule; br != NULL; br = br->els) {
        bool matched = false;
        int rc = eval_branch(ev, br, args, conflict, out, &matched);
        if (rc != 0 || !matched || *out != NULL) {
            return rc;
        }
    }
    return 0;
}

/* Runs the candidate rules of a complete or function node and checks they agree. */
static int
eval_single(struct pc_rego_ctx *ev, const struct pc_rego_ir_node *node,
            const struct pc_rego_value *const *args, const char *conflict,
            const struct pc_rego_value **out)
{
    struct pc_rego_ir_rule *stack[STACK_CANDIDATES];
    struct pc_rego_ir_rule **rules;
    uint32_t n;
    int rc = candidates(ev, node, args, &rules, &n, stack);
    const struct pc_rego_value *result = NULL;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (result != NULL && node->same_const) {
            break;
        }
        const struct pc_rego_value *v = NULL;
        rc = eval_chain(ev, rules[i], args, conflict, &v);
        if (rc == 0 && v != NULL) {
            if (result != NULL && !pc_rego_equal(result, v)) {
                rc = pc_rego_eval_fail(ev, PC_REGO_EEVAL_CONFLICT, &rules[i]->loc, "%s", conflict);
            }
            result = v;
        }
    }
    if (rc == 0 && result == NULL && node->dflt != NULL) {
        rc = eval_chain(ev, node->dflt, NULL, conflict, &result);
    }
    *out = rc == 0 ? result : NULL;
    return rc;
}

/* Multi-value rules. */

struct multi_k {
    struct pc_rego_kont base;
    const struct pc_rego_ir_rule *rule;
    struct pc_rego_builder *b;
};

static int
multi_collect(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    const struct multi_k *mk = (const struct multi_k *)k;
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_eval_det(ev, mk->rule->key, &v);
    if (rc != 0 || v == NULL) {
        return rc;
    }
    return pc_rego_builder_push(mk->b, v) == 0 ? 0 : oom(ev);
}

/* Runs every solution of rule's body in a fresh frame, calling k for each. */
static int
run_rule(struct pc_rego_ctx *ev, const struct pc_rego_ir_rule *rule, const struct pc_rego_kont *k)
{
    const struct pc_rego_value **frame =
        pc_rego_arena_calloc(ev->arena, rule->nslots + 1, sizeof(*frame));
    if (frame == NULL) {
        return oom(ev);
    }
    const struct pc_rego_value **saved = ev->slots;
    ev->slots = frame;
    int rc = pc_rego_eval_body(ev, rule->body, 0, k);
    ev->slots = saved;
    return rc < 0 ? rc : 0;
}

static int
eval_multi(struct pc_rego_ctx *ev, const struct pc_rego_ir_node *node,
           const struct pc_rego_value **out)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, ev->arena, PC_REGO_SET);
    struct pc_rego_ir_rule *stack[STACK_CANDIDATES];
    struct pc_rego_ir_rule **rules;
    uint32_t n;
    int rc = candidates(ev, node, NULL, &rules, &n, stack);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct multi_k mk = { { multi_collect }, rules[i], &b };
        rc = run_rule(ev, rules[i], &mk.base);
    }
    if (rc != 0) {
        return rc;
    }
    *out = pc_rego_builder_finish(&b);
    return *out != NULL ? 0 : oom(ev);
}

/* Generic rules: a mutable tree of what the rules (and nodes below) contribute. */

enum mkind {
    M_OBJECT,
    M_LEAF,
    M_SET,
};

struct mnode {
    uint8_t kind;
    const struct pc_rego_value *key;
    const struct pc_rego_value *leaf;
    struct pc_rego_builder set;
    struct mnode *kids;
    struct mnode *next;
};

static struct mnode *
mnode_child(struct pc_rego_ctx *ev, struct mnode *parent, const struct pc_rego_value *key,
            enum mkind kind, bool *created)
{
    *created = false;
    for (struct mnode *m = parent->kids; m != NULL; m = m->next) {
        if (pc_rego_equal(m->key, key)) {
            return m;
        }
    }
    struct mnode *m = pc_rego_arena_calloc(ev->arena, 1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->kind = (uint8_t)kind;
    m->key = key;
    if (kind == M_SET) {
        pc_rego_builder_init(&m->set, ev->arena, PC_REGO_SET);
    }
    m->next = parent->kids;
    parent->kids = m;
    *created = true;
    return m;
}

static int merge_value(struct pc_rego_ctx *ev, struct mnode *parent,
                       const struct pc_rego_value *key, const struct pc_rego_value *v,
                       const struct pc_rego_loc *loc);

static int
conflict(struct pc_rego_ctx *ev, const struct pc_rego_loc *loc)
{
    return pc_rego_eval_fail(ev, PC_REGO_EEVAL_CONFLICT, loc, "object keys must be unique");
}

static int
merge_value(struct pc_rego_ctx *ev, struct mnode *parent, const struct pc_rego_value *key,
            const struct pc_rego_value *v, const struct pc_rego_loc *loc)
{
    bool created;
    struct mnode *m = mnode_child(ev, parent, key, M_LEAF, &created);
    if (m == NULL) {
        return oom(ev);
    }
    if (created) {
        m->leaf = v;
        return 0;
    }
    if (m->kind == M_LEAF && pc_rego_equal(m->leaf, v)) {
        return 0;
    }
    if (m->kind == M_OBJECT && v->kind == PC_REGO_OBJECT) {
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = merge_value(ev, m, v->u.entries[i].key, v->u.entries[i].val, loc);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    if (m->kind == M_SET && v->kind == PC_REGO_SET) {
        for (uint32_t i = 0; i < v->len; i++) {
            if (pc_rego_builder_push(&m->set, v->u.items[i]) != 0) {
                return oom(ev);
            }
        }
        return 0;
    }
    return conflict(ev, loc);
}

/* Inserts a leaf value (or a set member, when member is set) at keys[0..n) below root. */
static int
insert_path(struct pc_rego_ctx *ev, struct mnode *root, const struct pc_rego_value **keys,
            uint32_t n, const struct pc_rego_value *v, bool member, const struct pc_rego_loc *loc)
{
    struct mnode *m = root;
    for (uint32_t i = 0; i + 1 < n; i++) {
        bool created;
        struct mnode *child = mnode_child(ev, m, keys[i], M_OBJECT, &created);
        if (child == NULL) {
            return oom(ev);
        }
        if (child->kind != M_OBJECT) {
            return conflict(ev, loc);
        }
        m = child;
    }
    if (!member) {
        return merge_value(ev, m, keys[n - 1], v, loc);
    }
    bool created;
    struct mnode *s = mnode_child(ev, m, keys[n - 1], M_SET, &created);
    if (s == NULL) {
        return oom(ev);
    }
    if (s->kind != M_SET) {
        return conflict(ev, loc);
    }
    return pc_rego_builder_push(&s->set, v) == 0 ? 0 : oom(ev);
}

static const struct pc_rego_value *
mnode_value(struct pc_rego_ctx *ev, struct mnode *m)
{
    if (m->kind == M_LEAF) {
        return m->leaf;
    }
    if (m->kind == M_SET) {
        return pc_rego_builder_finish(&m->set);
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, ev->arena, PC_REGO_OBJECT);
    for (struct mnode *k = m->kids; k != NULL; k = k->next) {
        const struct pc_rego_value *v = mnode_value(ev, k);
        if (v == NULL || pc_rego_builder_put(&b, k->key, v) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

struct generic_k {
    struct pc_rego_kont base;
    const struct pc_rego_ir_rule *rule;
    struct mnode *root;
};

static int
generic_collect(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    const struct generic_k *gk = (const struct generic_k *)k;
    const struct pc_rego_ir_rule *r = gk->rule;
    const struct pc_rego_value *keys[16];
    const struct pc_rego_value **kv = keys;
    if (r->nsuffix > 16) {
        kv = pc_rego_arena_alloc(ev->arena, r->nsuffix * sizeof(*kv));
        if (kv == NULL) {
            return oom(ev);
        }
    }
    for (uint32_t i = 0; i < r->nsuffix; i++) {
        int rc = pc_rego_eval_det(ev, r->suffix[i], &kv[i]);
        if (rc != 0 || kv[i] == NULL) {
            return rc;
        }
    }
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_eval_det(ev, r->suffix_contains ? r->key : r->value, &v);
    if (rc != 0 || v == NULL) {
        return rc;
    }
    return insert_path(ev, gk->root, kv, r->nsuffix, v, r->suffix_contains, &r->loc);
}

static int
eval_generic(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node, const struct pc_rego_value **out)
{
    struct mnode root = { M_OBJECT, NULL, NULL, { 0 }, NULL, NULL };
    struct pc_rego_ir_rule *stack[STACK_CANDIDATES];
    struct pc_rego_ir_rule **rules;
    uint32_t n;
    int rc = candidates(ev, node, NULL, &rules, &n, stack);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct generic_k gk = { { generic_collect }, rules[i], &root };
        rc = run_rule(ev, rules[i], &gk.base);
    }
    for (uint32_t i = 0; rc == 0 && i < node->nchildren; i++) {
        struct pc_rego_ir_node *child = node->children[i];
        const struct pc_rego_value *cv = NULL;
        rc = pc_rego_node_value(ev, child, &cv);
        if (rc == 0 && cv != NULL) {
            const struct pc_rego_loc *loc = n > 0 ? &rules[0]->loc : NULL;
            rc = merge_value(ev, &root, child->key, cv, loc);
        }
    }
    if (rc != 0) {
        return rc;
    }
    *out = mnode_value(ev, &root);
    return *out != NULL ? 0 : oom(ev);
}

/* A package or path prefix: everything below it, over the base document. */
static int
eval_namespace(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
               const struct pc_rego_value **out)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, ev->arena, PC_REGO_OBJECT);
    const struct pc_rego_value *base = node->base;
    if (base != NULL && base->kind == PC_REGO_OBJECT) {
        for (uint32_t i = 0; i < base->len; i++) {
            if (pc_rego_node_child(node, base->u.entries[i].key) == NULL
                && pc_rego_builder_put(&b, base->u.entries[i].key, base->u.entries[i].val) != 0) {
                return oom(ev);
            }
        }
    }
    for (uint32_t i = 0; i < node->nchildren; i++) {
        const struct pc_rego_value *cv = NULL;
        int rc = pc_rego_node_value(ev, node->children[i], &cv);
        if (rc != 0) {
            return rc;
        }
        if (cv != NULL && pc_rego_builder_put(&b, node->children[i]->key, cv) != 0) {
            return oom(ev);
        }
    }
    *out = pc_rego_builder_finish(&b);
    return *out != NULL ? 0 : oom(ev);
}

static int
compute_node(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node, const struct pc_rego_value **out)
{
    /* Where base data and rules define the same path, OPA reads the base document. */
    if (node->has_rules && node->base != NULL) {
        *out = node->base;
        return 0;
    }
    if (!node->has_rules) {
        return eval_namespace(ev, node, out);
    }
    switch (node->kind) {
    case PC_REGO_RK_COMPLETE:
        return eval_single(ev, node, NULL, "complete rules must not produce multiple outputs", out);
    case PC_REGO_RK_MULTI:
        return eval_multi(ev, node, out);
    case PC_REGO_RK_GENERIC:
        return eval_generic(ev, node, out);
    default:
        *out = NULL;
        return 0;
    }
}

int
pc_rego_node_value(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                   const struct pc_rego_value **out)
{
    struct pc_rego_cache_entry *ce = &ev->cache[node->id];
    if (ce->state == 2) {
        *out = ce->v;
        return 0;
    }
    if (ce->state == 1) {
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL, NULL, "rule %s is recursive", node->name);
    }
    if (++ev->depth > 1000) {
        ev->depth--;
        return pc_rego_eval_fail(ev, PC_REGO_EEVAL, NULL, "evaluation too deeply nested");
    }
    ce->state = 1;
    int rc = compute_node(ev, node, out);
    ev->depth--;
    if (rc != 0) {
        ce->state = 0;
        return rc;
    }
    ce->state = 2;
    ce->v = *out;
    return 0;
}

int
pc_rego_call_user(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                  const struct pc_rego_value *const *args, const struct pc_rego_loc *loc,
                  const struct pc_rego_value **out)
{
    (void)loc;
    return eval_single(ev, node, args,
                       "functions must not produce multiple outputs for same inputs", out);
}

/* Data references. */

/*
 * Looks key up in base data. Base documents are JSON, where object keys are strings; OPA
 * addresses them with numbers too (data.x[2] finds "2").
 */
static const struct pc_rego_value *
base_get(const struct pc_rego_value *v, const struct pc_rego_value *key)
{
    const struct pc_rego_value *r = pc_rego_value_get(v, key);
    if (r != NULL || v->kind != PC_REGO_OBJECT || key->kind != PC_REGO_NUMBER
        || key->num != PC_REGO_NUM_INT) {
        return r;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)key->u.i);
    return pc_rego_object_get_str(v, buf, (size_t)n);
}

/* Walks base data: bound segments with base_get, the rest as any value. */
static int
walk_base(struct pc_rego_ctx *ev, const struct pc_rego_value *v, const struct pc_rego_ir_term *ref,
          uint32_t from, const struct pc_rego_vkont *k)
{
    uint32_t n = ref->kind == PC_REGO_TK_REF ? ref->n : 0;
    for (uint32_t i = from; i < n; i++) {
        const struct pc_rego_ir_term *seg = ref->items[i];
        if (!(seg->flags & PC_REGO_TF_DET)
            && !(seg->kind == PC_REGO_TK_VAR && ev->slots[seg->slot] != NULL)) {
            return pc_rego_walk_value(ev, v, ref, i, k);
        }
        const struct pc_rego_value *key = NULL;
        int rc = pc_rego_eval_det(ev, seg, &key);
        if (rc != 0 || key == NULL) {
            return rc;
        }
        v = base_get(v, key);
        if (v == NULL) {
            return 0;
        }
    }
    return k->fn(ev, k, v);
}

static int data_ref_overridden(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                               const struct pc_rego_ir_term *ref, uint32_t from,
                               const struct pc_rego_vkont *k);

/* Enumerates a variable segment at a package node: child nodes, then base data. */
static int
data_enum(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node, const struct pc_rego_ir_term *ref,
          uint32_t i, const struct pc_rego_vkont *k)
{
    const struct pc_rego_ir_term *seg = ref->items[i];
    int rc = 0;
    for (uint32_t c = 0; rc == 0 && c < node->nchildren; c++) {
        size_t mark = ev->ntrail;
        if (pc_rego_unify_value(ev, seg, node->children[c]->key, &rc)) {
            rc = pc_rego_eval_data_ref(ev, node->children[c], ref, i + 1, k);
        }
        pc_rego_undo(ev, mark);
    }
    const struct pc_rego_value *base = node->base;
    for (uint32_t e = 0; rc == 0 && base != NULL && base->kind == PC_REGO_OBJECT && e < base->len;
         e++) {
        const struct pc_rego_entry *ent = &base->u.entries[e];
        if (pc_rego_node_child(node, ent->key) != NULL) {
            continue;
        }
        size_t mark = ev->ntrail;
        if (pc_rego_unify_value(ev, seg, ent->key, &rc)) {
            rc = walk_base(ev, ent->val, ref, i + 1, k);
        }
        pc_rego_undo(ev, mark);
    }
    return rc;
}

static bool
seg_bound(struct pc_rego_ctx *ev, const struct pc_rego_ir_term *t)
{
    if (t->flags & PC_REGO_TF_DET) {
        return true;
    }
    return t->kind == PC_REGO_TK_VAR && ev->slots[t->slot] != NULL;
}

int
pc_rego_eval_data_ref(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                      const struct pc_rego_ir_term *ref, uint32_t from,
                      const struct pc_rego_vkont *k)
{
    if (ev->wdata != NULL) {
        return data_ref_overridden(ev, node, ref, from, k);
    }
    uint32_t n = ref->kind == PC_REGO_TK_REF ? ref->n : 0;
    uint32_t i = from;
    while (i < n && !node->has_rules) {
        const struct pc_rego_ir_term *seg = ref->items[i];
        if (!seg_bound(ev, seg)) {
            return data_enum(ev, node, ref, i, k);
        }
        const struct pc_rego_value *key = NULL;
        int rc = pc_rego_eval_det(ev, seg, &key);
        if (rc != 0 || key == NULL) {
            return rc;
        }
        struct pc_rego_ir_node *child = pc_rego_node_child(node, key);
        if (child == NULL) {
            const struct pc_rego_value *bv = node->base != NULL ? base_get(node->base, key) : NULL;
            return bv != NULL ? walk_base(ev, bv, ref, i + 1, k) : 0;
        }
        node = child;
        i++;
    }
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_node_value(ev, node, &v);
    if (rc != 0 || v == NULL) {
        return rc;
    }
    return i < n ? pc_rego_walk_value(ev, v, ref, i, k) : k->fn(ev, k, v);
}

/* Values under `with data...` replacements. */

static bool
path_prefix(const struct pc_rego_value *prefix, const struct pc_rego_value *path)
{
    if (prefix->len > path->len) {
        return false;
    }
    for (uint32_t i = 0; i < prefix->len; i++) {
        if (!pc_rego_equal(prefix->u.items[i], path->u.items[i])) {
            return false;
        }
    }
    return true;
}

static const struct pc_rego_value *
lookup_path(const struct pc_rego_value *v, const struct pc_rego_value *path, uint32_t from)
{
    for (uint32_t i = from; v != NULL && i < path->len; i++) {
        v = pc_rego_value_get(v, path->u.items[i]);
    }
    return v;
}

/* The value at keys in the data tree as it is without replacements. */
static int
plain_value_at(struct pc_rego_ctx *ev, const struct pc_rego_value *keys,
               const struct pc_rego_value **out)
{
    struct pc_rego_ir_node *node = ev->pol->root;
    uint32_t i = 0;
    *out = NULL;
    while (i < keys->len && !node->has_rules) {
        struct pc_rego_ir_node *child = pc_rego_node_child(node, keys->u.items[i]);
        if (child == NULL) {
            const struct pc_rego_value *bv =
                node->base != NULL ? pc_rego_value_get(node->base, keys->u.items[i]) : NULL;
            *out = bv != NULL ? lookup_path(bv, keys, i + 1) : NULL;
            return 0;
        }
        node = child;
        i++;
    }
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_node_value(ev, node, &v);
    *out = rc == 0 && v != NULL ? lookup_path(v, keys, i) : NULL;
    return rc;
}

/* Writes replacements below keys into v: those newer than `upto` (NULL: all), oldest first. */
static const struct pc_rego_value *
apply_below(struct pc_rego_ctx *ev, const struct pc_rego_value *v, const struct pc_rego_value *keys,
            const struct pc_rego_wdata *upto)
{
    const struct pc_rego_wdata *list[64];
    uint32_t n = 0;
    for (const struct pc_rego_wdata *w = ev->wdata; w != upto && n < 64; w = w->next) {
        if (w->path->len > keys->len && path_prefix(keys, w->path)) {
            list[n++] = w;
        }
    }
    while (n > 0 && v != NULL) {
        const struct pc_rego_wdata *w = list[--n];
        v = pc_rego_upsert(ev->arena, v, w->path, keys->len, w->value);
    }
    return v;
}

static int
value_at(struct pc_rego_ctx *ev, const struct pc_rego_value *keys, const struct pc_rego_value **out)
{
    for (const struct pc_rego_wdata *w = ev->wdata; w != NULL; w = w->next) {
        if (path_prefix(w->path, keys)) {
            const struct pc_rego_value *v = lookup_path(w->value, keys, w->path->len);
            *out = v != NULL ? apply_below(ev, v, keys, w) : NULL;
            return 0;
        }
    }
    const struct pc_rego_value *v = NULL;
    int rc = plain_value_at(ev, keys, &v);
    if (rc != 0) {
        return rc;
    }
    bool below = false;
    for (const struct pc_rego_wdata *w = ev->wdata; w != NULL && !below; w = w->next) {
        below = w->path->len > keys->len && path_prefix(keys, w->path);
    }
    if (v == NULL && below) {
        struct pc_rego_builder b;
        pc_rego_builder_init(&b, ev->arena, PC_REGO_OBJECT);
        v = pc_rego_builder_finish(&b);
    }
    *out = v != NULL && below ? apply_below(ev, v, keys, NULL) : v;
    return 0;
}

static int
data_ref_overridden(struct pc_rego_ctx *ev, struct pc_rego_ir_node *node,
                    const struct pc_rego_ir_term *ref, uint32_t from, const struct pc_rego_vkont *k)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, ev->arena, PC_REGO_ARRAY);
    for (uint32_t i = 0; i < node->path->len; i++) {
        if (pc_rego_builder_push(&b, node->path->u.items[i]) != 0) {
            return oom(ev);
        }
    }
    uint32_t n = ref->kind == PC_REGO_TK_REF ? ref->n : 0;
    uint32_t i = from;
    for (; i < n && seg_bound(ev, ref->items[i]); i++) {
        const struct pc_rego_value *key = NULL;
        int rc = pc_rego_eval_det(ev, ref->items[i], &key);
        if (rc != 0 || key == NULL) {
            return rc;
        }
        if (pc_rego_builder_push(&b, key) != 0) {
            return oom(ev);
        }
    }
    const struct pc_rego_value *keys = pc_rego_builder_finish(&b);
    const struct pc_rego_value *v = NULL;
    int rc = keys != NULL ? value_at(ev, keys, &v) : oom(ev);
    if (rc != 0 || v == NULL) {
        return rc;
    }
    return i < n ? pc_rego_walk_value(ev, v, ref, i, k) : k->fn(ev, k, v);
}

const struct pc_rego_value *
pc_rego_upsert(struct pc_rego_arena *arena, const struct pc_rego_value *value,
               const struct pc_rego_value *path, uint32_t from, const struct pc_rego_value *v)
{
    if (from >= path->len) {
        return v;
    }
    const struct pc_rego_value *key = path->u.items[from];
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    const struct pc_rego_value *child = NULL;
    if (value != NULL && value->kind == PC_REGO_OBJECT) {
        child = pc_rego_object_get(value, key);
        for (uint32_t i = 0; i < value->len; i++) {
            if (pc_rego_builder_put(&b, value->u.entries[i].key, value->u.entries[i].val) != 0) {
                return NULL;
            }
        }
    }
    const struct pc_rego_value *nv = pc_rego_upsert(arena, child, path, from + 1, v);
    if (nv == NULL || pc_rego_builder_put(&b, key, nv) != 0) {
        return NULL;
    }
    return pc_rego_builder_finish(&b);
}

/* with. */

struct wstate {
    const struct pc_rego_value *input;
    const struct pc_rego_wdata *wdata;
    const struct pc_rego_wfunc *wfunc;
    struct pc_rego_cache_entry *cache;
};

static void
save_state(const struct pc_rego_ctx *ev, struct wstate *s)
{
    s->input = ev->input;
    s->wdata = ev->wdata;
    s->wfunc = ev->wfunc;
    s->cache = ev->cache;
}

static void
restore_state(struct pc_rego_ctx *ev, const struct wstate *s)
{
    ev->input = s->input;
    ev->wdata = s->wdata;
    ev->wfunc = s->wfunc;
    ev->cache = s->cache;
}

struct with_k {
    struct pc_rego_kont base;
    const struct pc_rego_kont *next;
    struct wstate outer;
    struct wstate inner;
};

static int
with_resume(struct pc_rego_ctx *ev, const struct pc_rego_kont *k)
{
    const struct with_k *wk = (const struct with_k *)k;
    restore_state(ev, &wk->outer);
    int rc = wk->next->fn(ev, wk->next);
    restore_state(ev, &wk->inner);
    return rc;
}

/* Puts one modifier in force. *undefined is set when its value is undefined. */
static int
apply_with(struct pc_rego_ctx *ev, const struct pc_rego_ir_with *w, bool *undefined)
{
    const struct pc_rego_value *v = NULL;
    if (!(w->kind == PC_REGO_WITH_FUNC && w->repl_is_func)) {
        int rc = pc_rego_eval_det(ev, w->value, &v);
        if (rc != 0 || v == NULL) {
            *undefined = v == NULL;
            return rc;
        }
    }
    if (w->kind == PC_REGO_WITH_FUNC) {
        struct pc_rego_wfunc *f = pc_rego_arena_alloc(ev->arena, sizeof(*f));
        if (f == NULL) {
            return oom(ev);
        }
        f->next = ev->wfunc;
        f->target = &w->target;
        f->repl = w->repl_is_func ? &w->repl : NULL;
        f->value = v;
        ev->wfunc = f;
        return 0;
    }
    if (w->kind == PC_REGO_WITH_INPUT) {
        ev->input = w->path->len == 0 ? v : pc_rego_upsert(ev->arena, ev->input, w->path, 0, v);
        return ev->input != NULL ? 0 : oom(ev);
    }
    struct pc_rego_wdata *d = pc_rego_arena_alloc(ev->arena, sizeof(*d));
    if (d == NULL) {
        return oom(ev);
    }
    d->next = ev->wdata;
    d->path = w->path;
    d->value = v;
    ev->wdata = d;
    return 0;
}

int
pc_rego_eval_with(struct pc_rego_ctx *ev, const struct pc_rego_ir_expr *e,
                  const struct pc_rego_kont *k,
                  int (*inner)(struct pc_rego_ctx *, const struct pc_rego_ir_expr *,
                               const struct pc_rego_kont *))
{
    struct with_k wk = { { with_resume }, k, { 0 }, { 0 } };
    save_state(ev, &wk.outer);
    int rc = 0;
    bool undefined = false;
    for (uint32_t i = 0; rc == 0 && !undefined && i < e->nwith; i++) {
        rc = apply_with(ev, &e->withs[i], &undefined);
    }
    if (rc == 0 && !undefined) {
        ev->cache = pc_rego_arena_calloc(ev->arena, ev->pol->nnodes + 1, sizeof(*ev->cache));
        rc = ev->cache != NULL ? 0 : oom(ev);
    }
    if (rc == 0 && !undefined) {
        save_state(ev, &wk.inner);
        rc = inner(ev, e, &wk.base);
    }
    restore_state(ev, &wk.outer);
    return rc;
}
