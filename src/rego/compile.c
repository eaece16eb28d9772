/*
 * The compiler: collects modules and data, builds the rule tree, runs the stages (lowering,
 * safety, recursion check, indexing) and hands the result over as an immutable policy.
 *
 * The rule tree has a node for every package and every rule path (`p.q[r].s` is attached to
 * node p.q: the longest constant prefix of its reference). All rules at one node must agree on
 * their kind (complete, multi-value, generic or function); complete, multi-value and function
 * nodes cannot have rules below them. Node ids index the evaluator's per-evaluation cache.
 */
#include "rego/compile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rego/json.h"
#include "rego/parse.h"
#include "rego/yaml.h"

#define POLICY_ARENA_BLOCK (64 * 1024)

int
pc_rego_compile_error(struct pc_rego_compiler *c, int code, const struct pc_rego_loc *loc,
                      const char *fmt, ...)
{
    if (c->err == NULL || c->err->code != 0) {
        return code;
    }
    char msg[PC_REGO_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (loc != NULL) {
        pc_rego_error_set(c->err, code, loc->file, loc->line, loc->col, "%s", msg);
    } else {
        pc_rego_error_set(c->err, code, NULL, 0, 0, "%s", msg);
    }
    return code;
}

struct pc_rego_compiler *
pc_rego_compiler_create(void)
{
    struct pc_rego_compiler *c = pc_rego_calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->arena = pc_rego_arena_create(POLICY_ARENA_BLOCK);
    struct pc_rego_builder b;
    if (c->arena != NULL) {
        pc_rego_builder_init(&b, c->arena, PC_REGO_OBJECT);
        c->data = pc_rego_builder_finish(&b);
    }
    if (c->arena == NULL || c->data == NULL) {
        pc_rego_compiler_free(c);
        return NULL;
    }
    return c;
}

void
pc_rego_compiler_free(struct pc_rego_compiler *c)
{
    if (c == NULL) {
        return;
    }
    pc_rego_arena_destroy(c->arena);
    pc_rego_free(c);
}

void
pc_rego_compiler_set_test_builtins(struct pc_rego_compiler *c, bool enable)
{
    c->test_builtins = enable;
}

/* The package path as an array of strings: `package a.b` gives ["a", "b"]. */
static const struct pc_rego_value *
package_path(struct pc_rego_arena *arena, const struct pc_rego_ast_term *pkg)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_ARRAY);
    const char *first = pkg->kind == PC_REGO_AST_VAR ? pkg->name : pkg->items[0]->name;
    if (pc_rego_builder_push(&b, pc_rego_string(arena, first, strlen(first))) != 0) {
        return NULL;
    }
    for (uint32_t i = 1; pkg->kind == PC_REGO_AST_REF && i < pkg->n; i++) {
        if (pc_rego_builder_push(&b, pkg->items[i]->value) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

int
pc_rego_compiler_add_module(struct pc_rego_compiler *c, const char *file, const char *src,
                            size_t len, struct pc_rego_error *err)
{
    struct pc_rego_ast_module *m = NULL;
    int rc = pc_rego_parse_module(c->arena, file, src, len, &m, err);
    if (rc != 0) {
        return rc;
    }
    m->path = package_path(c->arena, m->pkg);
    if (m->path == NULL) {
        return pc_rego_error_set(err, PC_REGO_ENOMEM, file, 0, 0, "out of memory");
    }
    if (c->nmodules == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 8;
        struct pc_rego_ast_module **mods = pc_rego_arena_alloc(c->arena, cap * sizeof(*mods));
        if (mods == NULL) {
            return pc_rego_error_set(err, PC_REGO_ENOMEM, file, 0, 0, "out of memory");
        }
        if (c->nmodules > 0) {
            memcpy(mods, c->modules, c->nmodules * sizeof(*mods));
        }
        c->modules = mods;
        c->cap = cap;
    }
    c->modules[c->nmodules++] = m;
    return 0;
}

/* Deep-merges two documents: objects merge key by key; anything else must be equal. */
static const struct pc_rego_value *
merge_docs(struct pc_rego_arena *arena, const struct pc_rego_value *a,
           const struct pc_rego_value *b, bool *conflict)
{
    if (a->kind != PC_REGO_OBJECT || b->kind != PC_REGO_OBJECT) {
        *conflict = !pc_rego_equal(a, b);
        return a;
    }
    struct pc_rego_builder bld;
    pc_rego_builder_init(&bld, arena, PC_REGO_OBJECT);
    for (uint32_t i = 0; i < a->len; i++) {
        const struct pc_rego_entry *e = &a->u.entries[i];
        const struct pc_rego_value *other = pc_rego_object_get(b, e->key);
        const struct pc_rego_value *v =
            other != NULL ? merge_docs(arena, e->val, other, conflict) : e->val;
        if (v == NULL || pc_rego_builder_put(&bld, e->key, v) != 0) {
            return NULL;
        }
    }
    for (uint32_t i = 0; i < b->len; i++) {
        const struct pc_rego_entry *e = &b->u.entries[i];
        if (pc_rego_object_get(a, e->key) == NULL
            && pc_rego_builder_put(&bld, e->key, e->val) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&bld);
}

/* Wraps v in objects along the dotted path "a.b": {"a": {"b": v}}. */
static const struct pc_rego_value *
wrap_path(struct pc_rego_arena *arena, const char *path, const struct pc_rego_value *v)
{
    if (path == NULL || path[0] == '\0') {
        return v;
    }
    const char *dot = strrchr(path, '.');
    const char *last = dot != NULL ? dot + 1 : path;
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    if (pc_rego_builder_put_str(&b, last, strlen(last), v) != 0) {
        return NULL;
    }
    const struct pc_rego_value *obj = pc_rego_builder_finish(&b);
    if (obj == NULL || dot == NULL) {
        return obj;
    }
    char *prefix = pc_rego_arena_strndup(arena, path, (size_t)(dot - path));
    return prefix != NULL ? wrap_path(arena, prefix, obj) : NULL;
}

int
pc_rego_compiler_add_data(struct pc_rego_compiler *c, const char *path,
                          const struct pc_rego_value *v, struct pc_rego_error *err)
{
    const struct pc_rego_value *doc = wrap_path(c->arena, path, v);
    if (doc == NULL) {
        return pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
    }
    if (doc->kind != PC_REGO_OBJECT) {
        return pc_rego_error_set(err, PC_REGO_EINVAL, NULL, 0, 0,
                                 "data document must be an object");
    }
    bool conflict = false;
    const struct pc_rego_value *merged = merge_docs(c->arena, c->data, doc, &conflict);
    if (merged == NULL) {
        return pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
    }
    if (conflict) {
        return pc_rego_error_set(err, PC_REGO_EINVAL, NULL, 0, 0,
                                 "data documents conflict: a value is given twice");
    }
    c->data = merged;
    return 0;
}

int
pc_rego_compiler_add_data_json(struct pc_rego_compiler *c, const char *path, const char *text,
                               size_t len, struct pc_rego_error *err)
{
    const struct pc_rego_value *v = pc_rego_json_parse(c->arena, text, len, err);
    if (v == NULL) {
        return err != NULL && err->code != 0 ? err->code : PC_REGO_EINVAL;
    }
    return pc_rego_compiler_add_data(c, path, v, err);
}

int
pc_rego_compiler_add_data_yaml(struct pc_rego_compiler *c, const char *path, const char *text,
                               size_t len, struct pc_rego_error *err)
{
    const struct pc_rego_value *v = pc_rego_yaml_parse(c->arena, text, len, err);
    if (v == NULL) {
        return err != NULL && err->code != 0 ? err->code : PC_REGO_EINVAL;
    }
    if (v->kind == PC_REGO_NULL) {
        return 0;
    }
    return pc_rego_compiler_add_data(c, path, v, err);
}

/* The rule tree. */

struct pc_rego_ir_node *
pc_rego_node_child(const struct pc_rego_ir_node *node, const struct pc_rego_value *key)
{
    uint32_t lo = 0;
    uint32_t hi = node->nchildren;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = pc_rego_compare(node->children[mid]->key, key);
        if (cmp == 0) {
            return node->children[mid];
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static struct pc_rego_ir_node *
new_node(struct pc_rego_compiler *c, struct pc_rego_ir_node *parent,
         const struct pc_rego_value *key)
{
    struct pc_rego_ir_node *n = pc_rego_arena_calloc(c->arena, 1, sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    n->key = key;
    n->parent = parent;
    if (c->nnodes == c->nodes_cap) {
        uint32_t cap = c->nodes_cap ? c->nodes_cap * 2 : 64;
        struct pc_rego_ir_node **nodes = pc_rego_arena_alloc(c->arena, cap * sizeof(*nodes));
        if (nodes == NULL) {
            return NULL;
        }
        if (c->nnodes > 0) {
            memcpy(nodes, c->nodes, c->nnodes * sizeof(*nodes));
        }
        c->nodes = nodes;
        c->nodes_cap = cap;
    }
    n->id = c->nnodes;
    c->nodes[c->nnodes++] = n;

    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, c->arena);
    if (parent == NULL) {
        pc_rego_strbuf_adds(&sb, "data");
    } else {
        pc_rego_strbuf_adds(&sb, parent->name);
        if (key->kind == PC_REGO_STRING) {
            pc_rego_strbuf_addc(&sb, '.');
            pc_rego_strbuf_add(&sb, key->u.s, key->len);
        } else {
            pc_rego_strbuf_addc(&sb, '[');
            pc_rego_json_write(&sb, key, 0);
            pc_rego_strbuf_addc(&sb, ']');
        }
    }
    n->name = pc_rego_strbuf_failed(&sb) ? NULL : sb.data;
    return n->name != NULL ? n : NULL;
}

struct pc_rego_ir_node *
pc_rego_node_child_add(struct pc_rego_compiler *c, struct pc_rego_ir_node *node,
                       const struct pc_rego_value *key)
{
    struct pc_rego_ir_node *child = pc_rego_node_child(node, key);
    if (child != NULL) {
        return child;
    }
    child = new_node(c, node, key);
    if (child == NULL) {
        return NULL;
    }
    struct pc_rego_ir_node **kids =
        pc_rego_arena_alloc(c->arena, (node->nchildren + 1) * sizeof(*kids));
    if (kids == NULL) {
        return NULL;
    }
    uint32_t at = 0;
    while (at < node->nchildren && pc_rego_compare(node->children[at]->key, key) < 0) {
        at++;
    }
    if (at > 0) {
        memcpy(kids, node->children, at * sizeof(*kids));
    }
    kids[at] = child;
    if (node->nchildren > at) {
        memcpy(kids + at + 1, node->children + at, (node->nchildren - at) * sizeof(*kids));
    }
    node->children = kids;
    node->nchildren++;
    return child;
}

static enum pc_rego_rule_kind
ast_rule_kind(const struct pc_rego_ast_rule *r)
{
    if (r->is_func) {
        return PC_REGO_RK_FUNC;
    }
    bool ground = r->ref->kind == PC_REGO_AST_VAR || pc_rego_rule_prefix_len(r->ref) == r->ref->n;
    if (!ground) {
        return PC_REGO_RK_GENERIC;
    }
    return r->is_contains ? PC_REGO_RK_MULTI : PC_REGO_RK_COMPLETE;
}

/* Finds or creates the node a rule belongs to. */
static struct pc_rego_ir_node *
rule_node(struct pc_rego_compiler *c, const struct pc_rego_ast_module *m,
          const struct pc_rego_ast_rule *r)
{
    struct pc_rego_ir_node *node = c->root;
    for (uint32_t i = 0; i < m->path->len && node != NULL; i++) {
        node = pc_rego_node_child_add(c, node, m->path->u.items[i]);
    }
    const char *first = r->ref->kind == PC_REGO_AST_VAR ? r->ref->name : r->ref->items[0]->name;
    const struct pc_rego_value *k = pc_rego_string(c->arena, first, strlen(first));
    node = node != NULL && k != NULL ? pc_rego_node_child_add(c, node, k) : NULL;
    uint32_t len = r->ref->kind == PC_REGO_AST_VAR ? 1 : pc_rego_rule_prefix_len(r->ref);
    for (uint32_t i = 1; i < len && node != NULL; i++) {
        node = pc_rego_node_child_add(c, node, r->ref->items[i]->value);
    }
    if (node == NULL) {
        pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    return node;
}

static int
check_rule_kind(struct pc_rego_compiler *c, struct pc_rego_ir_node *node,
                const struct pc_rego_ast_rule *r)
{
    enum pc_rego_rule_kind kind = ast_rule_kind(r);
    if (node->has_rules && node->kind != kind) {
        return pc_rego_compile_error(c, PC_REGO_ETYPE, &r->loc, "conflicting rules %s found",
                                     node->name);
    }
    if (kind == PC_REGO_RK_FUNC && node->has_rules && node->arity != r->nargs) {
        return pc_rego_compile_error(c, PC_REGO_ETYPE, &r->loc,
                                     "conflicting rules %s found (arity mismatch)", node->name);
    }
    if (r->is_default && node->has_default) {
        return pc_rego_compile_error(c, PC_REGO_ETYPE, &r->loc, "multiple default rules %s found",
                                     node->name);
    }
    if (r->is_default && kind != PC_REGO_RK_COMPLETE && kind != PC_REGO_RK_FUNC) {
        return pc_rego_compile_error(
            c, PC_REGO_ECOMPILE, &r->loc,
            "default rules must not be multi-value or have variables in their reference");
    }
    node->kind = (uint8_t)kind;
    node->arity = r->nargs;
    node->has_rules = true;
    return 0;
}

static int
add_rule_to_node(struct pc_rego_compiler *c, struct pc_rego_ir_node *node,
                 struct pc_rego_ir_rule *ir)
{
    if (ir->is_default) {
        node->dflt = ir;
        return 0;
    }
    struct pc_rego_ir_rule **rules =
        pc_rego_arena_alloc(c->arena, (node->nrules + 1) * sizeof(*rules));
    if (rules == NULL) {
        return pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    if (node->nrules > 0) {
        memcpy(rules, node->rules, node->nrules * sizeof(*rules));
    }
    rules[node->nrules++] = ir;
    node->rules = rules;
    return 0;
}

/* Creates nodes for every rule and checks that rules at one node agree. */
static int
build_tree(struct pc_rego_compiler *c)
{
    for (uint32_t m = 0; m < c->nmodules; m++) {
        const struct pc_rego_ast_module *mod = c->modules[m];
        /* A package exists (as an empty object) even when its module has no rules. */
        struct pc_rego_ir_node *pkg = c->root;
        for (uint32_t i = 0; i < mod->path->len && pkg != NULL; i++) {
            pkg = pc_rego_node_child_add(c, pkg, mod->path->u.items[i]);
        }
        if (pkg == NULL) {
            return pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
        }
        for (uint32_t i = 0; i < mod->nrules; i++) {
            struct pc_rego_ir_node *node = rule_node(c, mod, mod->rules[i]);
            if (node == NULL) {
                return c->err->code;
            }
            int rc = check_rule_kind(c, node, mod->rules[i]);
            if (rc != 0) {
                return rc;
            }
            node->has_default = node->has_default || mod->rules[i]->is_default;
        }
    }
    return 0;
}

/* Marks has_rules_below and rejects rules below complete, multi-value and function nodes. */
static int
check_nesting(struct pc_rego_compiler *c, struct pc_rego_ir_node *node)
{
    bool below = false;
    for (uint32_t i = 0; i < node->nchildren; i++) {
        int rc = check_nesting(c, node->children[i]);
        if (rc != 0) {
            return rc;
        }
        below = below || node->children[i]->has_rules_below;
    }
    if (node->has_rules && below && node->kind != PC_REGO_RK_GENERIC) {
        return pc_rego_compile_error(c, PC_REGO_ETYPE, NULL,
                                     "rule %s conflicts with rules defined below it", node->name);
    }
    node->has_rules_below = node->has_rules || below;
    return 0;
}

static int
lower_all(struct pc_rego_compiler *c)
{
    for (uint32_t m = 0; m < c->nmodules; m++) {
        const struct pc_rego_ast_module *mod = c->modules[m];
        for (uint32_t i = 0; i < mod->nrules; i++) {
            struct pc_rego_ir_node *node = rule_node(c, mod, mod->rules[i]);
            struct pc_rego_ir_rule *ir = NULL;
            int rc =
                node != NULL ? pc_rego_lower_rule(c, mod, mod->rules[i], node, &ir) : c->err->code;
            if (rc == 0) {
                rc = pc_rego_safety_rule(c, ir);
            }
            if (rc == 0) {
                rc = add_rule_to_node(c, node, ir);
            }
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int
assign_paths(struct pc_rego_compiler *c, struct pc_rego_ir_node *node,
             const struct pc_rego_value *base)
{
    node->base = base;
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, c->arena, PC_REGO_ARRAY);
    const struct pc_rego_ir_node *chain[256];
    uint32_t depth = 0;
    for (const struct pc_rego_ir_node *n = node; n->parent != NULL && depth < 256; n = n->parent) {
        chain[depth++] = n;
    }
    while (depth > 0) {
        pc_rego_builder_push(&b, chain[--depth]->key);
    }
    node->path = pc_rego_builder_finish(&b);
    if (node->path == NULL) {
        return pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    for (uint32_t i = 0; i < node->nchildren; i++) {
        struct pc_rego_ir_node *child = node->children[i];
        const struct pc_rego_value *cb = base != NULL && base->kind == PC_REGO_OBJECT
                                             ? pc_rego_object_get(base, child->key)
                                             : NULL;
        int rc = assign_paths(c, child, cb);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Recursion check. */

struct deps {
    struct pc_rego_compiler *c;
    uint8_t *color; /* 0 new, 1 on the stack, 2 done */
    struct pc_rego_ir_node **stack;
    uint32_t depth;
};

static int visit(struct deps *d, struct pc_rego_ir_node *n);

static int
report_cycle(struct deps *d, struct pc_rego_ir_node *n)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, d->c->arena);
    uint32_t from = 0;
    while (from < d->depth && d->stack[from] != n) {
        from++;
    }
    for (uint32_t i = from; i < d->depth; i++) {
        pc_rego_strbuf_adds(&sb, d->stack[i]->name);
        pc_rego_strbuf_adds(&sb, " -> ");
    }
    pc_rego_strbuf_adds(&sb, n->name);
    const struct pc_rego_loc *loc = n->nrules > 0 ? &n->rules[0]->loc : NULL;
    return pc_rego_compile_error(d->c, PC_REGO_ERECURSION, loc, "rule %s is recursive: %s", n->name,
                                 sb.data != NULL ? sb.data : "");
}

static int
visit_subtree(struct deps *d, struct pc_rego_ir_node *n)
{
    if (n->has_rules) {
        int rc = visit(d, n);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < n->nchildren; i++) {
        if (n->children[i]->has_rules_below) {
            int rc = visit_subtree(d, n->children[i]);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* A data reference depends on its head node and, unless a constant key rules them out, below. */
static int
visit_ref(struct deps *d, const struct pc_rego_ir_term *t)
{
    const struct pc_rego_ir_term *head = t->kind == PC_REGO_TK_REF ? t->items[0] : t;
    if (head->kind != PC_REGO_TK_DATA) {
        return 0;
    }
    struct pc_rego_ir_node *n = head->node;
    const struct pc_rego_ir_term *next = t->kind == PC_REGO_TK_REF && t->n > 1 ? t->items[1] : NULL;
    if (n->has_rules) {
        int rc = visit(d, n);
        if (rc != 0 || n->nchildren == 0) {
            return rc;
        }
    }
    /*
     * A constant key that names no child reads base data; a variable key (data[x]) is left
     * to the evaluator, which reports a rule that reaches itself that way when it happens.
     */
    if (next != NULL
        && (next->kind != PC_REGO_TK_CONST || pc_rego_node_child(n, next->v) == NULL)) {
        return 0;
    }
    for (uint32_t i = 0; i < n->nchildren; i++) {
        int rc = visit_subtree(d, n->children[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int visit_body(struct deps *d, const struct pc_rego_ir_body *b);

static int
visit_term(struct deps *d, const struct pc_rego_ir_term *t)
{
    if (t == NULL) {
        return 0;
    }
    int rc = 0;
    if (t->kind == PC_REGO_TK_REF || t->kind == PC_REGO_TK_DATA) {
        rc = visit_ref(d, t);
    }
    if (rc == 0 && t->body != NULL) {
        rc = visit_body(d, t->body);
    }
    if (rc == 0) {
        rc = visit_term(d, t->key);
    }
    if (rc == 0 && t->kind != PC_REGO_TK_VAR) {
        rc = visit_term(d, t->val);
    }
    /* A reference's head node was handled above; only its segments remain. */
    uint32_t from = t->kind == PC_REGO_TK_REF ? 1 : 0;
    for (uint32_t i = from; rc == 0 && t->kind != PC_REGO_TK_CONST && i < t->n; i++) {
        rc = t->items != NULL ? visit_term(d, t->items[i]) : 0;
        if (rc == 0 && t->vals != NULL) {
            rc = visit_term(d, t->vals[i]);
        }
    }
    return rc;
}

static int
visit_expr(struct deps *d, const struct pc_rego_ir_expr *e)
{
    int rc = 0;
    if (e->fn.node != NULL) {
        rc = visit(d, e->fn.node);
    }
    const struct pc_rego_ir_term *terms[] = { e->a, e->b, e->out, e->domain };
    for (size_t i = 0; rc == 0 && i < sizeof(terms) / sizeof(terms[0]); i++) {
        rc = visit_term(d, terms[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < e->nargs; i++) {
        rc = visit_term(d, e->args[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < e->nwith; i++) {
        rc = visit_term(d, e->withs[i].value);
        if (rc == 0 && e->withs[i].repl_is_func && e->withs[i].repl.node != NULL) {
            rc = visit(d, e->withs[i].repl.node);
        }
    }
    if (rc == 0 && e->body != NULL) {
        rc = visit_body(d, e->body);
    }
    return rc;
}

static int
visit_body(struct deps *d, const struct pc_rego_ir_body *b)
{
    for (uint32_t i = 0; b != NULL && i < b->n; i++) {
        int rc = visit_expr(d, b->exprs[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
visit_rule(struct deps *d, const struct pc_rego_ir_rule *r)
{
    int rc = 0;
    for (; rc == 0 && r != NULL; r = r->els) {
        rc = visit_body(d, r->body);
        for (uint32_t i = 0; rc == 0 && i < r->nsuffix; i++) {
            rc = visit_term(d, r->suffix[i]);
        }
        if (rc == 0) {
            rc = visit_term(d, r->key);
        }
        if (rc == 0) {
            rc = visit_term(d, r->value);
        }
    }
    return rc;
}

static int
visit(struct deps *d, struct pc_rego_ir_node *n)
{
    if (d->color[n->id] == 2) {
        return 0;
    }
    if (d->color[n->id] == 1) {
        return report_cycle(d, n);
    }
    d->color[n->id] = 1;
    d->stack[d->depth++] = n;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n->nrules; i++) {
        rc = visit_rule(d, n->rules[i]);
    }
    d->depth--;
    d->color[n->id] = 2;
    return rc;
}

static int
check_recursion(struct pc_rego_compiler *c)
{
    struct deps d = { c, NULL, NULL, 0 };
    d.color = pc_rego_arena_calloc(c->arena, c->nnodes + 1, 1);
    d.stack = pc_rego_arena_alloc(c->arena, (c->nnodes + 1) * sizeof(*d.stack));
    if (d.color == NULL || d.stack == NULL) {
        return pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    for (uint32_t i = 0; i < c->nnodes; i++) {
        if (c->nodes[i]->has_rules) {
            int rc = visit(&d, c->nodes[i]);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int
collect_tests(struct pc_rego_compiler *c, struct pc_rego_policy *pol)
{
    pol->tests = pc_rego_arena_alloc(c->arena, (c->nnodes + 1) * sizeof(*pol->tests));
    pol->test_files = pc_rego_arena_alloc(c->arena, (c->nnodes + 1) * sizeof(*pol->test_files));
    if (pol->tests == NULL || pol->test_files == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < c->nnodes; i++) {
        const struct pc_rego_ir_node *n = c->nodes[i];
        if (n->has_rules && n->kind == PC_REGO_RK_COMPLETE && n->key->kind == PC_REGO_STRING
            && n->key->len > 5 && strncmp(n->key->u.s, "test_", 5) == 0) {
            pol->test_files[pol->ntests] = n->nrules > 0 ? n->rules[0]->loc.file : "";
            pol->tests[pol->ntests++] = n->name;
        }
    }
    return 0;
}

static int
run_stages(struct pc_rego_compiler *c)
{
    int rc = build_tree(c);
    if (rc == 0) {
        rc = check_nesting(c, c->root);
    }
    if (rc == 0) {
        rc = lower_all(c);
    }
    if (rc == 0) {
        rc = assign_paths(c, c->root, c->data);
    }
    if (rc == 0) {
        rc = check_recursion(c);
    }
    for (uint32_t i = 0; rc == 0 && i < c->nnodes; i++) {
        rc = pc_rego_index_build(c, c->nodes[i]);
    }
    return rc;
}

struct pc_rego_policy *
pc_rego_compiler_compile(struct pc_rego_compiler *c, struct pc_rego_error *err)
{
    struct pc_rego_error local;
    pc_rego_error_clear(&local);
    c->err = err != NULL ? err : &local;
    pc_rego_error_clear(c->err);
    if (c->compiled) {
        pc_rego_compile_error(c, PC_REGO_EINVAL, NULL, "compiler already used");
        return NULL;
    }
    c->compiled = true;
    c->root = new_node(c, NULL, NULL);
    if (c->root == NULL) {
        pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    struct pc_rego_policy *pol = NULL;
    int rc = run_stages(c);
    if (rc == 0) {
        pol = pc_rego_calloc(1, sizeof(*pol));
        rc = pol != NULL ? collect_tests(c, pol) : PC_REGO_ENOMEM;
    }
    if (rc != 0) {
        pc_rego_free(pol);
        if (c->err->code == 0) {
            pc_rego_compile_error(c, rc, NULL, "compilation failed");
        }
        c->err = NULL;
        return NULL;
    }
    atomic_init(&pol->refs, 1);
    pol->arena = c->arena;
    pol->root = c->root;
    pol->nodes = c->nodes;
    pol->nnodes = c->nnodes;
    pol->data = c->data;
    c->arena = pc_rego_arena_create(1024);
    c->err = NULL;
    return pol;
}

struct pc_rego_policy *
pc_rego_policy_ref(struct pc_rego_policy *pol)
{
    atomic_fetch_add_explicit(&pol->refs, 1, memory_order_relaxed);
    return pol;
}

void
pc_rego_policy_unref(struct pc_rego_policy *pol)
{
    if (pol == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&pol->refs, 1, memory_order_acq_rel) == 1) {
        pc_rego_arena_destroy(pol->arena);
        pc_rego_free(pol);
    }
}

const struct pc_rego_value *
pc_rego_policy_data(const struct pc_rego_policy *pol)
{
    return pol->data;
}

size_t
pc_rego_policy_tests(const struct pc_rego_policy *pol, const char *const **names)
{
    *names = pol->tests;
    return pol->ntests;
}

const char *
pc_rego_policy_test_file(const struct pc_rego_policy *pol, size_t i)
{
    return i < pol->ntests && pol->test_files[i] != NULL ? pol->test_files[i] : "";
}
