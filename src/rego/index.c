/*
 * Rule indexing (see index.h): building the index of a node at compile time and using it
 * during evaluation.
 *
 * Only references whose value cannot depend on the rule itself are indexed: references into
 * input and into base data, with constant segments. Evaluating one of those early has no
 * effect a rule body could observe, so the index changes how many rules run, never what
 * they compute. Rules with else branches are never filtered out, since a branch after a
 * failing test may still hold.
 */
#include "rego/index.h"

#include <stdlib.h>
#include <string.h>

/* Levels of indexing: a key, then a key among the rules sharing one value of it, ... */
#define MAX_INDEX_LEVELS 3

/* One test of a rule: ref (or argument arg) equals one of vals. */
struct test {
    const struct pc_rego_ir_term *ref;
    uint32_t arg;
    const struct pc_rego_value *const *vals;
    uint32_t nvals;
};

static bool
indexable_ref(const struct pc_rego_ir_term *t)
{
    const struct pc_rego_ir_term *head = t->kind == PC_REGO_TK_REF ? t->items[0] : t;
    if (head->kind == PC_REGO_TK_DATA) {
        if (head->node->has_rules_below) {
            return false;
        }
    } else if (head->kind != PC_REGO_TK_INPUT) {
        return false;
    }
    for (uint32_t i = 1; t->kind == PC_REGO_TK_REF && i < t->n; i++) {
        if (t->items[i]->kind != PC_REGO_TK_CONST) {
            return false;
        }
    }
    return true;
}

static bool
same_ref(const struct pc_rego_ir_term *a, const struct pc_rego_ir_term *b)
{
    if (a->kind != b->kind) {
        return false;
    }
    const struct pc_rego_ir_term *ha = a->kind == PC_REGO_TK_REF ? a->items[0] : a;
    const struct pc_rego_ir_term *hb = b->kind == PC_REGO_TK_REF ? b->items[0] : b;
    if (ha->kind != hb->kind || (ha->kind == PC_REGO_TK_DATA && ha->node != hb->node)) {
        return false;
    }
    if (a->kind != PC_REGO_TK_REF) {
        return true;
    }
    if (a->n != b->n) {
        return false;
    }
    for (uint32_t i = 1; i < a->n; i++) {
        if (!pc_rego_equal(a->items[i]->v, b->items[i]->v)) {
            return false;
        }
    }
    return true;
}

static bool
test_of_pair(const struct pc_rego_ir_term *x, const struct pc_rego_ir_term *y, struct test *t)
{
    if (x->kind == PC_REGO_TK_CONST) {
        const struct pc_rego_ir_term *tmp = x;
        x = y;
        y = tmp;
    }
    if (y->kind != PC_REGO_TK_CONST || !indexable_ref(x)) {
        return false;
    }
    t->ref = x;
    t->vals = &y->v;
    t->nvals = 1;
    return true;
}

/* Recognizes `ref == c`, `ref = c` and `ref in {c1, c2}` among a body's expressions. */
static bool
test_of_expr(const struct pc_rego_ir_expr *e, struct test *t)
{
    if (e->negated || e->nwith > 0) {
        return false;
    }
    if (e->kind == PC_REGO_EK_UNIFY) {
        return test_of_pair(e->a, e->b, t);
    }
    if (e->kind != PC_REGO_EK_CALL || e->fn.bi == NULL || e->out != NULL || e->nargs != 2) {
        return false;
    }
    if (strcmp(e->fn.bi->name, "equal") == 0) {
        return test_of_pair(e->args[0], e->args[1], t);
    }
    if (strcmp(e->fn.bi->name, "internal.member_2") == 0) {
        const struct pc_rego_ir_term *coll = e->args[1];
        if (coll->kind != PC_REGO_TK_CONST || !indexable_ref(e->args[0])
            || (coll->v->kind != PC_REGO_SET && coll->v->kind != PC_REGO_ARRAY)) {
            return false;
        }
        t->ref = e->args[0];
        t->vals = coll->v->u.items;
        t->nvals = coll->v->len;
        return true;
    }
    return false;
}

/* The test a rule makes on ref (or on argument arg when ref is NULL); false when none. */
static bool
rule_test(const struct pc_rego_ir_rule *r, const struct pc_rego_ir_term *ref, uint32_t arg,
          struct test *out)
{
    if (r->els != NULL) {
        return false;
    }
    if (ref == NULL) {
        if (arg >= r->nargs || r->args[arg]->kind != PC_REGO_TK_CONST) {
            return false;
        }
        out->ref = NULL;
        out->arg = arg;
        out->vals = &r->args[arg]->v;
        out->nvals = 1;
        return true;
    }
    for (uint32_t i = 0; i < r->body->n; i++) {
        struct test t;
        if (test_of_expr(r->body->exprs[i], &t) && same_ref(t.ref, ref)) {
            *out = t;
            return true;
        }
    }
    return false;
}

static uint32_t
count_tests(const struct pc_rego_ir_node *node, const uint32_t *set, uint32_t nset,
            const struct pc_rego_ir_term *ref, uint32_t arg)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < nset; i++) {
        struct test t;
        n += rule_test(node->rules[set[i]], ref, arg, &t) ? 1 : 0;
    }
    return n;
}

/*
 * Picks the reference (or argument) that the most rules of set test, other than the
 * references already used by the levels above (used[0..nused)).
 */
static uint32_t
choose_key(const struct pc_rego_ir_node *node, const uint32_t *set, uint32_t nset,
           const struct pc_rego_ir_term *const *used, uint32_t nused,
           const struct pc_rego_ir_term **ref, uint32_t *arg)
{
    uint32_t best = 0;
    *ref = NULL;
    *arg = UINT32_MAX;
    for (uint32_t a = 0; nused == 0 && node->kind == PC_REGO_RK_FUNC && a < node->arity; a++) {
        uint32_t n = count_tests(node, set, nset, NULL, a);
        if (n > best) {
            best = n;
            *arg = a;
        }
    }
    for (uint32_t i = 0; i < nset; i++) {
        const struct pc_rego_ir_body *b = node->rules[set[i]]->body;
        for (uint32_t j = 0; j < b->n; j++) {
            struct test t;
            bool fresh = test_of_expr(b->exprs[j], &t);
            for (uint32_t u = 0; fresh && u < nused; u++) {
                fresh = used[u] == NULL || !same_ref(t.ref, used[u]);
            }
            uint32_t n = fresh ? count_tests(node, set, nset, t.ref, 0) : 0;
            if (n > best) {
                best = n;
                *ref = t.ref;
            }
        }
    }
    return best;
}

struct pair {
    const struct pc_rego_value *key;
    uint32_t rule;
};

static int
cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a;
    const struct pair *y = b;
    int c = pc_rego_compare(x->key, y->key);
    if (c != 0) {
        return c;
    }
    return x->rule < y->rule ? -1 : (x->rule > y->rule ? 1 : 0);
}

/* Groups sorted (key, rule) pairs into entries. */
static int
fill_entries(struct pc_rego_compiler *c, struct pc_rego_ir_index *idx, struct pair *pairs,
             uint32_t np)
{
    idx->entries = pc_rego_arena_calloc(c->arena, np + 1, sizeof(*idx->entries));
    uint32_t *rules = pc_rego_arena_alloc(c->arena, (np + 1) * sizeof(*rules));
    if (idx->entries == NULL || rules == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < np; i++) {
        struct pc_rego_index_entry *last =
            idx->nentries > 0 ? &idx->entries[idx->nentries - 1] : NULL;
        if (last == NULL || pc_rego_compare(last->key, pairs[i].key) != 0) {
            last = &idx->entries[idx->nentries++];
            last->key = pairs[i].key;
            last->rules = rules + i;
            last->n = 0;
        }
        if (last->n == 0 || last->rules[last->n - 1] != pairs[i].rule) {
            last->rules[last->n++] = pairs[i].rule;
        }
    }
    return 0;
}

static int build_level(struct pc_rego_compiler *c, const struct pc_rego_ir_node *node,
                       const uint32_t *set, uint32_t nset, const struct pc_rego_ir_term **used,
                       uint32_t nused, struct pc_rego_ir_index **out);

/* Indexes rules of set on ref (or argument arg); entries with many rules get a level below. */
static int
build(struct pc_rego_compiler *c, const struct pc_rego_ir_node *node, const uint32_t *set,
      uint32_t nset, const struct pc_rego_ir_term *ref, uint32_t arg,
      const struct pc_rego_ir_term **used, uint32_t nused, struct pc_rego_ir_index **out)
{
    struct pc_rego_ir_index *idx = pc_rego_arena_calloc(c->arena, 1, sizeof(*idx));
    uint32_t np = 0;
    for (uint32_t i = 0; i < nset; i++) {
        struct test t;
        np += rule_test(node->rules[set[i]], ref, arg, &t) ? t.nvals : 0;
    }
    struct pair *pairs = pc_rego_arena_alloc(c->arena, (np + 1) * sizeof(*pairs));
    if (idx != NULL) {
        idx->rest = pc_rego_arena_alloc(c->arena, (nset + 1) * sizeof(*idx->rest));
    }
    if (idx == NULL || pairs == NULL || idx->rest == NULL) {
        return PC_REGO_ENOMEM;
    }
    idx->ref = (struct pc_rego_ir_term *)ref;
    idx->arg = arg;
    np = 0;
    for (uint32_t i = 0; i < nset; i++) {
        struct test t;
        if (!rule_test(node->rules[set[i]], ref, arg, &t)) {
            idx->rest[idx->nrest++] = set[i];
            continue;
        }
        for (uint32_t k = 0; k < t.nvals; k++) {
            pairs[np].key = t.vals[k];
            pairs[np].rule = set[i];
            np++;
        }
    }
    qsort(pairs, np, sizeof(*pairs), cmp_pair);
    int rc = fill_entries(c, idx, pairs, np);
    used[nused] = ref;
    for (uint32_t e = 0; rc == 0 && e < idx->nentries; e++) {
        struct pc_rego_index_entry *en = &idx->entries[e];
        rc = build_level(c, node, en->rules, en->n, used, nused + 1, &en->sub);
    }
    *out = rc == 0 ? idx : NULL;
    return rc;
}

/* Builds an index level over set when enough of its rules share a test; none otherwise. */
static int
build_level(struct pc_rego_compiler *c, const struct pc_rego_ir_node *node, const uint32_t *set,
            uint32_t nset, const struct pc_rego_ir_term **used, uint32_t nused,
            struct pc_rego_ir_index **out)
{
    const struct pc_rego_ir_term *ref;
    uint32_t arg;
    *out = NULL;
    if (nset < 4 || nused >= MAX_INDEX_LEVELS
        || choose_key(node, set, nset, used, nused, &ref, &arg) < 2) {
        return 0;
    }
    return build(c, node, set, nset, ref, ref != NULL ? 0 : arg, used, nused, out);
}

static void
mark_same_const(struct pc_rego_ir_node *node)
{
    node->same_const = node->nrules > 0;
    for (uint32_t i = 0; i < node->nrules && node->same_const; i++) {
        const struct pc_rego_ir_rule *r = node->rules[i];
        node->same_const = r->els == NULL && r->value_const
                           && pc_rego_equal(r->value->v, node->rules[0]->value->v);
    }
}

int
pc_rego_index_build(struct pc_rego_compiler *c, struct pc_rego_ir_node *node)
{
    if (!node->has_rules) {
        return 0;
    }
    if (node->kind == PC_REGO_RK_COMPLETE || node->kind == PC_REGO_RK_FUNC) {
        mark_same_const(node);
    }
    if (node->nrules < 4) {
        return 0;
    }
    uint32_t *all = pc_rego_arena_alloc(c->arena, node->nrules * sizeof(*all));
    const struct pc_rego_ir_term *used[MAX_INDEX_LEVELS + 1];
    if (all == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < node->nrules; i++) {
        all[i] = i;
    }
    return build_level(c, node, all, node->nrules, used, 0, &node->index);
}

static const struct pc_rego_index_entry *
find_entry(const struct pc_rego_ir_index *idx, const struct pc_rego_value *key)
{
    uint32_t lo = 0;
    uint32_t hi = idx->nentries;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pc_rego_compare(idx->entries[mid].key, key);
        if (c == 0) {
            return &idx->entries[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/*
 * Appends to out (from *k on) the rule numbers one index level selects, ascending: the rules
 * matching the key (through the levels below) merged with the rules not testing it.
 */
static int
level_candidates(struct pc_rego_ctx *ev, const struct pc_rego_ir_index *idx,
                 const struct pc_rego_value *const *args, uint32_t *out, uint32_t *k)
{
    const struct pc_rego_value *key = NULL;
    if (idx->ref != NULL) {
        int rc = pc_rego_eval_det(ev, idx->ref, &key);
        if (rc != 0) {
            return rc;
        }
    } else if (args != NULL) {
        key = args[idx->arg];
    }
    const struct pc_rego_index_entry *e = key != NULL ? find_entry(idx, key) : NULL;
    uint32_t *matched = out + *k;
    uint32_t nm = 0;
    if (e != NULL && e->sub != NULL) {
        int rc = level_candidates(ev, e->sub, args, matched, &nm);
        if (rc != 0) {
            return rc;
        }
    } else if (e != NULL) {
        memcpy(matched, e->rules, e->n * sizeof(*matched));
        nm = e->n;
    }
    if (idx->nrest == 0) {
        *k += nm;
        return 0;
    }
    /* Merge with the rest in definition order; the matched run moves aside first. */
    uint32_t *run = pc_rego_arena_alloc(ev->arena, (nm + 1) * sizeof(*run));
    if (run == NULL) {
        return PC_REGO_ENOMEM;
    }
    memcpy(run, matched, nm * sizeof(*run));
    uint32_t i = 0;
    uint32_t j = 0;
    while (i < nm || j < idx->nrest) {
        bool take_run = j >= idx->nrest || (i < nm && run[i] < idx->rest[j]);
        out[(*k)++] = take_run ? run[i++] : idx->rest[j++];
    }
    return 0;
}

int
pc_rego_index_candidates(struct pc_rego_ctx *ev, const struct pc_rego_ir_node *node,
                         const struct pc_rego_value *const *args, struct pc_rego_ir_rule **rules,
                         uint32_t *n)
{
    uint32_t *nums = pc_rego_arena_alloc(ev->arena, (node->nrules + 1) * sizeof(*nums));
    if (nums == NULL) {
        return PC_REGO_ENOMEM;
    }
    *n = 0;
    int rc = level_candidates(ev, node->index, args, nums, n);
    for (uint32_t i = 0; rc == 0 && i < *n; i++) {
        rules[i] = node->rules[nums[i]];
    }
    return rc;
}
