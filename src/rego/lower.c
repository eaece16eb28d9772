/*
 * Lowering: from the syntax tree of one rule (or query) to IR, resolving every name.
 *
 * Name resolution follows OPA. A variable declared with `:=`, `some`, `every` or as a function
 * argument is local to its scope (a body, a comprehension, an every body) and shadows outer
 * names; a name declared anywhere in a body never refers to a rule there. Any other name is,
 * in order: `input` or `data`; a rule of the package (a reference to it); an import; or a
 * unification variable, which is one variable per rule, shared by every closure in it.
 * Declaring a name already seen in the same scope is an error ("var x referenced above").
 *
 * Nested calls move out into expressions of their own ahead of the expression using them
 * (inheriting its `with` modifiers); calls in a comprehension's head go to the end of its
 * body, calls in a rule's head to the end of the rule body. Constant composites fold into
 * values. What stays for the safety stage: ordering, unsafe variables, binding flags.
 */
#include <stdio.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/compile.h"

enum occ {
    OCC_SEEN,
    OCC_ASSIGNED,
    OCC_DECLARED,
    OCC_ARG,
};

struct decl {
    const char *name;
    uint32_t slot;
    uint8_t occ;
};

struct scope {
    struct scope *parent;
    struct decl *decls;
    uint32_t n;
    uint32_t cap;
    const char **prescan; /* names declared anywhere at this body level */
    uint32_t nprescan;
    uint32_t prescan_cap;
};

struct name_slot {
    const char *name;
    uint32_t slot;
};

/* Expressions under construction for one body. */
struct ebuf {
    struct pc_rego_ir_expr **exprs;
    uint32_t n;
    uint32_t cap;
};

struct lower {
    struct pc_rego_compiler *c;
    const struct pc_rego_ast_module *mod; /* NULL for queries */
    const struct pc_rego_value *pkg;      /* package path (array of strings), or NULL */
    struct scope *scope;
    struct name_slot *names; /* unification variables of the rule */
    uint32_t nnames;
    uint32_t names_cap;
    uint32_t nslots;
    const char **slot_names;
    uint32_t slot_names_cap;
    const struct pc_rego_ir_with *withs; /* modifiers inherited by extracted expressions */
    uint32_t nwith;
    const struct pc_rego_ast_expr *cur; /* expression being lowered, for its text */
};

static struct pc_rego_ir_term *lower_term(struct lower *L, const struct pc_rego_ast_term *t,
                                          struct ebuf *eb);
static int lower_body(struct lower *L, const struct pc_rego_ast_body *body, struct ebuf *eb);
static struct pc_rego_ir_term *lower_as_set(struct lower *L, const struct pc_rego_ast_term *x);

static void *
alloc(struct lower *L, size_t n)
{
    void *p = pc_rego_arena_calloc(L->c->arena, 1, n);
    if (p == NULL) {
        pc_rego_compile_error(L->c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    return p;
}

/* Grows an arena array of pointers-sized elements; returns 0 or PC_REGO_ENOMEM. */
static int
grow(struct lower *L, void **arr, uint32_t n, uint32_t *cap, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *p = pc_rego_arena_alloc(L->c->arena, ncap * elem);
    if (p == NULL) {
        return pc_rego_compile_error(L->c, PC_REGO_ENOMEM, NULL, "out of memory");
    }
    if (n > 0) {
        memcpy(p, *arr, n * elem);
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

static int
ebuf_add(struct lower *L, struct ebuf *eb, struct pc_rego_ir_expr *e)
{
    int rc = grow(L, (void **)&eb->exprs, eb->n, &eb->cap, sizeof(*eb->exprs));
    if (rc == 0) {
        eb->exprs[eb->n++] = e;
    }
    return rc;
}

static uint32_t
new_slot(struct lower *L, const char *name)
{
    if (grow(L, (void **)&L->slot_names, L->nslots, &L->slot_names_cap, sizeof(char *)) != 0) {
        return UINT32_MAX;
    }
    L->slot_names[L->nslots] = name;
    return L->nslots++;
}

static struct pc_rego_ir_term *
new_term(struct lower *L, enum pc_rego_tk kind, const struct pc_rego_loc *loc)
{
    struct pc_rego_ir_term *t = alloc(L, sizeof(*t));
    if (t != NULL) {
        t->kind = (uint8_t)kind;
        t->loc = *loc;
    }
    return t;
}

static struct pc_rego_ir_term *
var_term(struct lower *L, uint32_t slot, const struct pc_rego_loc *loc)
{
    if (slot == UINT32_MAX) {
        return NULL;
    }
    struct pc_rego_ir_term *t = new_term(L, PC_REGO_TK_VAR, loc);
    if (t != NULL) {
        t->slot = slot;
    }
    return t;
}

static struct pc_rego_ir_term *
const_term(struct lower *L, const struct pc_rego_value *v, const struct pc_rego_loc *loc)
{
    if (v == NULL) {
        pc_rego_compile_error(L->c, PC_REGO_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    struct pc_rego_ir_term *t = new_term(L, PC_REGO_TK_CONST, loc);
    if (t != NULL) {
        t->v = v;
        t->flags = PC_REGO_TF_GROUND | PC_REGO_TF_DET;
    }
    return t;
}

static struct pc_rego_ir_expr *
new_expr(struct lower *L, enum pc_rego_ek kind, const struct pc_rego_loc *loc)
{
    struct pc_rego_ir_expr *e = alloc(L, sizeof(*e));
    if (e != NULL) {
        e->kind = (uint8_t)kind;
        e->loc = *loc;
        e->withs = (struct pc_rego_ir_with *)L->withs;
        e->nwith = L->nwith;
    }
    return e;
}

/* Scopes. */

static int
push_scope(struct lower *L, struct scope *s)
{
    memset(s, 0, sizeof(*s));
    s->parent = L->scope;
    L->scope = s;
    return 0;
}

static void
pop_scope(struct lower *L)
{
    L->scope = L->scope->parent;
}

static struct decl *
scope_find(struct scope *s, const char *name)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (strcmp(s->decls[i].name, name) == 0) {
            return &s->decls[i];
        }
    }
    return NULL;
}

static int
scope_add(struct lower *L, const char *name, uint32_t slot, enum occ occ)
{
    struct scope *s = L->scope;
    int rc = grow(L, (void **)&s->decls, s->n, &s->cap, sizeof(*s->decls));
    if (rc == 0) {
        s->decls[s->n].name = name;
        s->decls[s->n].slot = slot;
        s->decls[s->n].occ = (uint8_t)occ;
        s->n++;
    }
    return rc;
}

/* The innermost declaration (not a mere sighting) of name, or NULL. */
static struct decl *
find_declared(struct lower *L, const char *name)
{
    for (struct scope *s = L->scope; s != NULL; s = s->parent) {
        struct decl *d = scope_find(s, name);
        if (d != NULL && d->occ != OCC_SEEN) {
            return d;
        }
    }
    return NULL;
}

static bool
is_prescanned(struct lower *L, const char *name)
{
    for (struct scope *s = L->scope; s != NULL; s = s->parent) {
        for (uint32_t i = 0; i < s->nprescan; i++) {
            if (strcmp(s->prescan[i], name) == 0) {
                return true;
            }
        }
    }
    return false;
}

static int
prescan_add(struct lower *L, const char *name)
{
    struct scope *s = L->scope;
    int rc = grow(L, (void **)&s->prescan, s->nprescan, &s->prescan_cap, sizeof(char *));
    if (rc == 0) {
        s->prescan[s->nprescan++] = name;
    }
    return rc;
}

static int
prescan_pattern(struct lower *L, const struct pc_rego_ast_term *t)
{
    if (t == NULL) {
        return 0;
    }
    switch (t->kind) {
    case PC_REGO_AST_VAR:
        return t->wildcard ? 0 : prescan_add(L, t->name);
    case PC_REGO_AST_ARRAY:
        for (uint32_t i = 0; i < t->n; i++) {
            int rc = prescan_pattern(L, t->items[i]);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    case PC_REGO_AST_OBJECT:
        for (uint32_t i = 0; i < t->n; i++) {
            int rc = prescan_pattern(L, t->vals[i]);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/* Collects the names a body declares at its own level (not inside closures). */
static int
prescan_body(struct lower *L, const struct pc_rego_ast_body *body)
{
    for (uint32_t i = 0; body != NULL && i < body->n; i++) {
        const struct pc_rego_ast_expr *e = body->exprs[i];
        int rc = 0;
        if (e->kind == PC_REGO_AX_ASSIGN) {
            rc = prescan_pattern(L, e->a);
        } else if (e->kind == PC_REGO_AX_SOME) {
            for (uint32_t k = 0; k < e->nvars && rc == 0; k++) {
                rc = prescan_add(L, e->vars[k]->name);
            }
        } else if (e->kind == PC_REGO_AX_SOME_IN) {
            rc = prescan_pattern(L, e->key);
            if (rc == 0) {
                rc = prescan_pattern(L, e->a);
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The slot of unification variable name, created on first use. */
static uint32_t
name_slot(struct lower *L, const char *name)
{
    for (uint32_t i = 0; i < L->nnames; i++) {
        if (strcmp(L->names[i].name, name) == 0) {
            return L->names[i].slot;
        }
    }
    if (grow(L, (void **)&L->names, L->nnames, &L->names_cap, sizeof(*L->names)) != 0) {
        return UINT32_MAX;
    }
    uint32_t slot = new_slot(L, name);
    L->names[L->nnames].name = name;
    L->names[L->nnames].slot = slot;
    L->nnames++;
    return slot;
}

/* Marks name seen in the current scope (for "referenced above") and returns its variable. */
static struct pc_rego_ir_term *
seen_var(struct lower *L, const char *name, const struct pc_rego_loc *loc)
{
    if (scope_find(L->scope, name) == NULL && scope_add(L, name, 0, OCC_SEEN) != 0) {
        return NULL;
    }
    return var_term(L, name_slot(L, name), loc);
}

/* Declares name in the current scope with a fresh slot; OPA's redeclaration errors. */
static struct pc_rego_ir_term *
declare_var(struct lower *L, const char *name, enum occ occ, const struct pc_rego_loc *loc)
{
    struct decl *d = scope_find(L->scope, name);
    if (d != NULL) {
        static const char *const what[] = { "var %s referenced above", "var %s assigned above",
                                            "var %s declared above", "arg %s redeclared" };
        pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, loc, what[d->occ], name);
        return NULL;
    }
    if (strcmp(name, "input") == 0 || strcmp(name, "data") == 0) {
        pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, loc,
                              "variables must not shadow %s (use a different variable name)", name);
        return NULL;
    }
    uint32_t slot = new_slot(L, name);
    if (slot == UINT32_MAX || scope_add(L, name, slot, occ) != 0) {
        return NULL;
    }
    return var_term(L, slot, loc);
}

/*
 * Declares every variable of a pattern: a var, or arrays and object values of patterns. Other
 * leaves are refused ("cannot assign to ...") unless lenient, where they are ordinary terms
 * (some "a" in xs, some f(x) in xs).
 */
static struct pc_rego_ir_term *
declare_pattern(struct lower *L, const struct pc_rego_ast_term *t, enum occ occ, bool lenient,
                struct ebuf *eb)
{
    if (lenient && t->kind != PC_REGO_AST_VAR && t->kind != PC_REGO_AST_ARRAY
        && t->kind != PC_REGO_AST_OBJECT) {
        return lower_term(L, t, eb);
    }
    if (t->kind == PC_REGO_AST_VAR) {
        if (t->wildcard) {
            return var_term(L, new_slot(L, NULL), &t->loc);
        }
        return declare_var(L, t->name, occ, &t->loc);
    }
    if (t->kind == PC_REGO_AST_ARRAY) {
        struct pc_rego_ir_term *a = new_term(L, PC_REGO_TK_ARRAY, &t->loc);
        struct pc_rego_ir_term **items = alloc(L, (t->n + 1) * sizeof(*items));
        if (a == NULL || items == NULL) {
            return NULL;
        }
        for (uint32_t i = 0; i < t->n; i++) {
            items[i] = declare_pattern(L, t->items[i], occ, lenient, eb);
            if (items[i] == NULL) {
                return NULL;
            }
        }
        a->items = items;
        a->n = t->n;
        return a;
    }
    if (t->kind == PC_REGO_AST_OBJECT) {
        struct pc_rego_ir_term *o = new_term(L, PC_REGO_TK_OBJECT, &t->loc);
        struct pc_rego_ir_term **keys = alloc(L, (t->n + 1) * sizeof(*keys));
        struct pc_rego_ir_term **vals = alloc(L, (t->n + 1) * sizeof(*vals));
        if (o == NULL || keys == NULL || vals == NULL) {
            return NULL;
        }
        for (uint32_t i = 0; i < t->n; i++) {
            keys[i] = lower_term(L, t->keys[i], eb);
            vals[i] = keys[i] != NULL ? declare_pattern(L, t->vals[i], occ, lenient, eb) : NULL;
            if (vals[i] == NULL) {
                return NULL;
            }
        }
        o->items = keys;
        o->vals = vals;
        o->n = t->n;
        return o;
    }
    const char *names[] = { "scalar",
                            "var",
                            "ref",
                            "array",
                            "set",
                            "object",
                            "array comprehension",
                            "set comprehension",
                            "object comprehension",
                            "call",
                            "template string" };
    pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, &t->loc, "cannot assign to %s",
                          t->kind < sizeof(names) / sizeof(names[0]) ? names[t->kind] : "term");
    return NULL;
}

/* Names and paths. */

/* A resolved global: a path below input or data. */
struct gpath {
    bool is_input;
    const struct pc_rego_value *const *keys;
    uint32_t nkeys;
};

static bool
is_rule_name(struct lower *L, const char *name)
{
    if (L->pkg == NULL) {
        return false;
    }
    for (uint32_t m = 0; m < L->c->nmodules; m++) {
        const struct pc_rego_ast_module *mod = L->c->modules[m];
        if (!pc_rego_equal(mod->path, L->pkg)) {
            continue;
        }
        for (uint32_t i = 0; i < mod->nrules; i++) {
            const struct pc_rego_ast_term *ref = mod->rules[i]->ref;
            const char *first = ref->kind == PC_REGO_AST_VAR ? ref->name : ref->items[0]->name;
            if (strcmp(first, name) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Keys of an import path (strings after the root var). */
static bool
import_path(struct lower *L, const struct pc_rego_ast_import *imp, struct gpath *gp)
{
    const struct pc_rego_ast_term *p = imp->path;
    const char *root = p->kind == PC_REGO_AST_VAR ? p->name : p->items[0]->name;
    if (strcmp(root, "input") != 0 && strcmp(root, "data") != 0) {
        return false;
    }
    gp->is_input = strcmp(root, "input") == 0;
    uint32_t n = p->kind == PC_REGO_AST_REF ? p->n - 1 : 0;
    const struct pc_rego_value **keys = alloc(L, (n + 1) * sizeof(*keys));
    if (keys == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = p->items[i + 1]->value;
    }
    gp->keys = keys;
    gp->nkeys = n;
    return true;
}

static bool
find_import(struct lower *L, const char *name, struct gpath *gp)
{
    if (L->mod == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < L->mod->nimports; i++) {
        const struct pc_rego_ast_import *imp = L->mod->imports[i];
        const struct pc_rego_ast_term *p = imp->path;
        const char *alias = imp->alias;
        if (alias == NULL) {
            if (p->kind == PC_REGO_AST_VAR) {
                alias = p->name;
            } else {
                const struct pc_rego_value *last = p->items[p->n - 1]->value;
                if (last == NULL || last->kind != PC_REGO_STRING) {
                    continue;
                }
                alias = last->u.s;
            }
        }
        if (strcmp(alias, name) == 0 && import_path(L, imp, gp)) {
            return true;
        }
    }
    return false;
}

/* Resolves a global name: a rule of the package or an import. */
static bool
resolve_global(struct lower *L, const char *name, struct gpath *gp)
{
    if (is_rule_name(L, name)) {
        uint32_t np = L->pkg->len;
        const struct pc_rego_value **keys = alloc(L, (np + 1) * sizeof(*keys));
        const struct pc_rego_value *k = pc_rego_string(L->c->arena, name, strlen(name));
        if (keys == NULL || k == NULL) {
            return false;
        }
        for (uint32_t i = 0; i < np; i++) {
            keys[i] = L->pkg->u.items[i];
        }
        keys[np] = k;
        gp->is_input = false;
        gp->keys = keys;
        gp->nkeys = np + 1;
        return true;
    }
    return find_import(L, name, gp);
}

/*
 * Builds a reference rooted at input or data: keys first, then segs. For data, leading
 * constant segments that name tree nodes are folded into the starting node.
 */
static struct pc_rego_ir_term *
make_root_ref(struct lower *L, const struct gpath *gp, struct pc_rego_ir_term **segs,
              uint32_t nsegs, const struct pc_rego_loc *loc)
{
    uint32_t total = gp->nkeys + nsegs;
    struct pc_rego_ir_term **all = alloc(L, (total + 1) * sizeof(*all));
    if (all == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < gp->nkeys; i++) {
        all[i] = const_term(L, gp->keys[i], loc);
        if (all[i] == NULL) {
            return NULL;
        }
    }
    for (uint32_t i = 0; i < nsegs; i++) {
        all[gp->nkeys + i] = segs[i];
    }

    struct pc_rego_ir_term *head;
    uint32_t skip = 0;
    if (gp->is_input) {
        head = new_term(L, PC_REGO_TK_INPUT, loc);
    } else {
        struct pc_rego_ir_node *node = L->c->root;
        /* Stop at rules: their value covers what is below them (generic rules). */
        while (skip < total && all[skip]->kind == PC_REGO_TK_CONST && !node->has_rules) {
            struct pc_rego_ir_node *child = pc_rego_node_child(node, all[skip]->v);
            if (child == NULL) {
                break;
            }
            node = child;
            skip++;
        }
        head = new_term(L, PC_REGO_TK_DATA, loc);
        if (head != NULL) {
            head->node = node;
        }
    }
    if (head == NULL || skip == total) {
        return head;
    }
    struct pc_rego_ir_term *ref = new_term(L, PC_REGO_TK_REF, loc);
    struct pc_rego_ir_term **items = alloc(L, (total - skip + 1) * sizeof(*items));
    if (ref == NULL || items == NULL) {
        return NULL;
    }
    items[0] = head;
    memcpy(items + 1, all + skip, (total - skip) * sizeof(*items));
    ref->items = items;
    ref->n = total - skip + 1;
    return ref;
}

/* Resolves a variable in term position. */
static struct pc_rego_ir_term *
resolve_var(struct lower *L, const struct pc_rego_ast_term *t)
{
    if (t->wildcard) {
        return var_term(L, new_slot(L, NULL), &t->loc);
    }
    struct gpath gp = { 0 };
    if (strcmp(t->name, "input") == 0 || strcmp(t->name, "data") == 0) {
        gp.is_input = t->name[0] == 'i';
        return make_root_ref(L, &gp, NULL, 0, &t->loc);
    }
    struct decl *d = find_declared(L, t->name);
    if (d != NULL) {
        return var_term(L, d->slot, &t->loc);
    }
    if (!is_prescanned(L, t->name) && resolve_global(L, t->name, &gp)) {
        return make_root_ref(L, &gp, NULL, 0, &t->loc);
    }
    return seen_var(L, t->name, &t->loc);
}

/* Functions. */

/* Writes the dotted name of a call operator (f, a.b.c) into buf; false if not a plain name. */
static bool
operator_name(const struct pc_rego_ast_term *op, char *buf, size_t n)
{
    if (op->kind == PC_REGO_AST_VAR) {
        snprintf(buf, n, "%s", op->name);
        return true;
    }
    if (op->kind != PC_REGO_AST_REF || op->items[0]->kind != PC_REGO_AST_VAR) {
        return false;
    }
    size_t len = (size_t)snprintf(buf, n, "%s", op->items[0]->name);
    for (uint32_t i = 1; i < op->n && len < n; i++) {
        const struct pc_rego_ast_term *seg = op->items[i];
        if (seg->kind != PC_REGO_AST_SCALAR || seg->value->kind != PC_REGO_STRING) {
            return false;
        }
        len += (size_t)snprintf(buf + len, n - len, ".%s", seg->value->u.s);
    }
    return len < n;
}

/* The node a data path names, or NULL. */
static struct pc_rego_ir_node *
path_node(struct lower *L, const struct gpath *gp, const struct pc_rego_ast_term *op)
{
    if (gp->is_input) {
        return NULL;
    }
    struct pc_rego_ir_node *node = L->c->root;
    for (uint32_t i = 0; i < gp->nkeys && node != NULL; i++) {
        node = pc_rego_node_child(node, gp->keys[i]);
    }
    uint32_t from = op->kind == PC_REGO_AST_REF ? 1 : op->n;
    for (uint32_t i = from; op->kind == PC_REGO_AST_REF && i < op->n && node != NULL; i++) {
        if (op->items[i]->kind != PC_REGO_AST_SCALAR) {
            return NULL;
        }
        node = pc_rego_node_child(node, op->items[i]->value);
    }
    return node;
}

/* Resolves a call operator to a user function or a builtin. */
static int
resolve_func(struct lower *L, const struct pc_rego_ast_term *op, struct pc_rego_ir_func *fn)
{
    char name[256];
    memset(fn, 0, sizeof(*fn));
    if (!operator_name(op, name, sizeof(name))) {
        return pc_rego_compile_error(L->c, PC_REGO_ETYPE, &op->loc, "illegal call operator");
    }
    const struct pc_rego_ast_term *head = op->kind == PC_REGO_AST_VAR ? op : op->items[0];
    struct gpath gp = { 0 };
    bool global = false;
    if (strcmp(head->name, "data") == 0) {
        global = true;
    } else if (find_declared(L, head->name) == NULL && !is_prescanned(L, head->name)) {
        global = resolve_global(L, head->name, &gp);
    }
    if (global) {
        struct pc_rego_ir_node *node = path_node(L, &gp, op);
        if (node == NULL || node->kind != PC_REGO_RK_FUNC || !node->has_rules) {
            return pc_rego_compile_error(L->c, PC_REGO_ETYPE, &op->loc, "undefined function %s",
                                         node != NULL ? node->name : name);
        }
        fn->node = node;
        fn->name = node->name;
        fn->arity = node->arity;
        return 0;
    }
    const struct pc_rego_builtin *bi = pc_rego_builtin_lookup(name, strlen(name));
    if (bi == NULL || (strncmp(name, "test.", 5) == 0 && !L->c->test_builtins)) {
        return pc_rego_compile_error(L->c, PC_REGO_ETYPE, &op->loc, "undefined function %s", name);
    }
    fn->bi = bi;
    fn->name = bi->name;
    fn->arity = bi->arity;
    return 0;
}

static int
check_arity(struct lower *L, const struct pc_rego_ir_func *fn, uint32_t nargs, bool allow_out,
            const struct pc_rego_loc *loc)
{
    if (fn->bi != NULL && (fn->bi->flags & PC_REGO_BI_VARIADIC)) {
        return 0;
    }
    if (nargs == fn->arity || (allow_out && nargs == fn->arity + 1)) {
        return 0;
    }
    return pc_rego_compile_error(L->c, PC_REGO_ETYPE, loc, "%s: %s arguments", fn->name,
                                 nargs > fn->arity ? "too many" : "too few");
}

/* Lowers call arguments, extracting nested calls into eb. */
static struct pc_rego_ir_term **
lower_args(struct lower *L, const struct pc_rego_ast_term *call, struct ebuf *eb)
{
    uint32_t nargs = call->n - 1;
    struct pc_rego_ir_term **args = alloc(L, (nargs + 1) * sizeof(*args));
    if (args == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < nargs; i++) {
        args[i] = lower_term(L, call->items[i + 1], eb);
        if (args[i] == NULL) {
            return NULL;
        }
    }
    return args;
}

/* A call being lowered: its callee and lowered arguments. */
struct pending_call {
    struct pc_rego_ir_func fn;
    struct pc_rego_ir_term **args;
    uint32_t nargs;
    struct pc_rego_loc loc;
};

/* Resolves the callee and lowers the arguments (extracting nested calls into eb). */
static int
begin_call(struct lower *L, const struct pc_rego_ast_term *call, struct ebuf *eb,
           struct pending_call *pc)
{
    pc->loc = call->loc;
    pc->nargs = call->n - 1;
    if (resolve_func(L, call->items[0], &pc->fn) != 0) {
        return L->c->err->code;
    }
    if (pc->fn.bi != NULL && strcmp(pc->fn.bi->name, "print") == 0) {
        /* print never fails: each argument goes as the set of its values. */
        pc->args = alloc(L, (pc->nargs + 1) * sizeof(*pc->args));
        for (uint32_t i = 0; pc->args != NULL && i < pc->nargs; i++) {
            pc->args[i] = lower_as_set(L, call->items[i + 1]);
            pc->args = pc->args[i] != NULL ? pc->args : NULL;
        }
        return pc->args != NULL ? 0 : L->c->err->code != 0 ? L->c->err->code : PC_REGO_ENOMEM;
    }
    pc->args = lower_args(L, call, eb);
    return pc->args != NULL ? 0 : L->c->err->code;
}

/*
 * Builds the call expression. With out given, the call must have exactly the callee's arity;
 * without, allow_out_arg lets one extra trailing argument be the output.
 */
static struct pc_rego_ir_expr *
finish_call(struct lower *L, struct pending_call *pc, struct pc_rego_ir_term *out,
            bool allow_out_arg)
{
    if (check_arity(L, &pc->fn, pc->nargs, allow_out_arg && out == NULL, &pc->loc) != 0) {
        return NULL;
    }
    uint32_t nargs = pc->nargs;
    bool variadic = pc->fn.bi != NULL && (pc->fn.bi->flags & PC_REGO_BI_VARIADIC);
    if (out == NULL && !variadic && nargs == pc->fn.arity + 1) {
        out = pc->args[nargs - 1];
        nargs--;
    }
    struct pc_rego_ir_expr *e = new_expr(L, PC_REGO_EK_CALL, &pc->loc);
    if (e == NULL) {
        return NULL;
    }
    e->fn = pc->fn;
    e->args = pc->args;
    e->nargs = nargs;
    e->out = out;
    return e;
}

static struct pc_rego_ir_expr *
call_expr(struct lower *L, const struct pc_rego_ast_term *call, struct pc_rego_ir_term *out,
          struct ebuf *eb, bool allow_out_arg)
{
    struct pending_call pc;
    if (begin_call(L, call, eb, &pc) != 0) {
        return NULL;
    }
    return finish_call(L, &pc, out, allow_out_arg);
}

/* A call nested in a term: extracted into eb, replaced by a generated variable. */
static struct pc_rego_ir_term *
lower_call_term(struct lower *L, const struct pc_rego_ast_term *t, struct ebuf *eb)
{
    struct pc_rego_ir_term *out = var_term(L, new_slot(L, NULL), &t->loc);
    if (out == NULL) {
        return NULL;
    }
    struct pc_rego_ir_expr *e = call_expr(L, t, out, eb, false);
    if (e == NULL) {
        return NULL;
    }
    e->generated = true;
    return ebuf_add(L, eb, e) == 0 ? var_term(L, out->slot, &t->loc) : NULL;
}

/* Terms. */

static bool
all_const(struct pc_rego_ir_term **items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (items[i]->kind != PC_REGO_TK_CONST) {
            return false;
        }
    }
    return true;
}

static struct pc_rego_ir_term *
fold_collection(struct lower *L, enum pc_rego_tk kind, struct pc_rego_ir_term **items,
                struct pc_rego_ir_term **vals, uint32_t n, const struct pc_rego_loc *loc)
{
    if (all_const(items, n) && (vals == NULL || all_const(vals, n))) {
        struct pc_rego_builder b;
        enum pc_rego_kind vk = kind == PC_REGO_TK_ARRAY ? PC_REGO_ARRAY
                               : kind == PC_REGO_TK_SET ? PC_REGO_SET
                                                        : PC_REGO_OBJECT;
        pc_rego_builder_init(&b, L->c->arena, vk);
        for (uint32_t i = 0; i < n; i++) {
            int rc = vals != NULL ? pc_rego_builder_put(&b, items[i]->v, vals[i]->v)
                                  : pc_rego_builder_push(&b, items[i]->v);
            if (rc != 0) {
                pc_rego_compile_error(L->c, PC_REGO_ENOMEM, NULL, "out of memory");
                return NULL;
            }
        }
        return const_term(L, pc_rego_builder_finish(&b), loc);
    }
    struct pc_rego_ir_term *t = new_term(L, kind, loc);
    if (t != NULL) {
        t->items = items;
        t->vals = vals;
        t->n = n;
    }
    return t;
}

static struct pc_rego_ir_term *
lower_collection(struct lower *L, const struct pc_rego_ast_term *t, struct ebuf *eb)
{
    bool is_obj = t->kind == PC_REGO_AST_OBJECT;
    struct pc_rego_ir_term **items = alloc(L, (t->n + 1) * sizeof(*items));
    struct pc_rego_ir_term **vals = is_obj ? alloc(L, (t->n + 1) * sizeof(*vals)) : NULL;
    if (items == NULL || (is_obj && vals == NULL)) {
        return NULL;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        items[i] = lower_term(L, is_obj ? t->keys[i] : t->items[i], eb);
        if (items[i] == NULL) {
            return NULL;
        }
        if (is_obj) {
            vals[i] = lower_term(L, t->vals[i], eb);
            if (vals[i] == NULL) {
                return NULL;
            }
        }
    }
    enum pc_rego_tk kind = t->kind == PC_REGO_AST_ARRAY ? PC_REGO_TK_ARRAY
                           : t->kind == PC_REGO_AST_SET ? PC_REGO_TK_SET
                                                        : PC_REGO_TK_OBJECT;
    return fold_collection(L, kind, items, vals, t->n, &t->loc);
}

static struct pc_rego_ir_body *
finish_body(struct lower *L, struct ebuf *eb, const struct pc_rego_loc *loc)
{
    if (eb->n == 0) {
        struct pc_rego_ir_expr *e = new_expr(L, PC_REGO_EK_TRUE, loc);
        if (e == NULL || ebuf_add(L, eb, e) != 0) {
            return NULL;
        }
        e->withs = NULL;
        e->nwith = 0;
    }
    struct pc_rego_ir_body *b = alloc(L, sizeof(*b));
    if (b != NULL) {
        b->exprs = eb->exprs;
        b->n = eb->n;
    }
    return b;
}

static struct pc_rego_ir_term *
lower_comprehension(struct lower *L, const struct pc_rego_ast_term *t)
{
    struct scope s;
    struct ebuf body = { 0 };
    const struct pc_rego_ir_with *saved_withs = L->withs;
    uint32_t saved_nwith = L->nwith;
    L->withs = NULL;
    L->nwith = 0;
    push_scope(L, &s);
    struct pc_rego_ir_term *key = NULL;
    struct pc_rego_ir_term *val = NULL;
    struct pc_rego_ir_term *c = NULL;
    if (prescan_body(L, t->body) == 0 && lower_body(L, t->body, &body) == 0) {
        key = t->key != NULL ? lower_term(L, t->key, &body) : NULL;
        val = (t->key == NULL || key != NULL) ? lower_term(L, t->val, &body) : NULL;
    }
    if (val != NULL) {
        enum pc_rego_tk kind = t->kind == PC_REGO_AST_ARRAY_COMP ? PC_REGO_TK_ACOMP
                               : t->kind == PC_REGO_AST_SET_COMP ? PC_REGO_TK_SCOMP
                                                                 : PC_REGO_TK_OCOMP;
        c = new_term(L, kind, &t->loc);
        if (c != NULL) {
            c->key = key;
            c->val = val;
            c->body = finish_body(L, &body, &t->loc);
            c = c->body != NULL ? c : NULL;
        }
    }
    pop_scope(L);
    L->withs = saved_withs;
    L->nwith = saved_nwith;
    return c;
}

/* Assigns a non-variable reference head (a literal or a comprehension) to a variable. */
static struct pc_rego_ir_term *
hoist_head(struct lower *L, struct pc_rego_ir_term *head, struct ebuf *eb)
{
    if (head->kind == PC_REGO_TK_CONST || head->kind == PC_REGO_TK_VAR) {
        return head;
    }
    struct pc_rego_ir_term *v = var_term(L, new_slot(L, NULL), &head->loc);
    struct pc_rego_ir_expr *e = new_expr(L, PC_REGO_EK_UNIFY, &head->loc);
    if (v == NULL || e == NULL) {
        return NULL;
    }
    e->a = v;
    e->b = head;
    e->generated = true;
    return ebuf_add(L, eb, e) == 0 ? var_term(L, v->slot, &head->loc) : NULL;
}

static struct pc_rego_ir_term *
lower_ref(struct lower *L, const struct pc_rego_ast_term *t, struct ebuf *eb)
{
    const struct pc_rego_ast_term *h = t->items[0];
    uint32_t nsegs = t->n - 1;
    struct pc_rego_ir_term **segs = alloc(L, (nsegs + 1) * sizeof(*segs));
    if (segs == NULL) {
        return NULL;
    }

    struct pc_rego_ir_term *head = NULL;
    struct gpath gp = { 0 };
    bool rooted = false;
    if (h->kind == PC_REGO_AST_VAR && !h->wildcard) {
        if (strcmp(h->name, "input") == 0 || strcmp(h->name, "data") == 0) {
            gp.is_input = h->name[0] == 'i';
            rooted = true;
        } else if (find_declared(L, h->name) == NULL && !is_prescanned(L, h->name)) {
            rooted = resolve_global(L, h->name, &gp);
        }
    }
    if (!rooted) {
        head = lower_term(L, h, eb);
        head = head != NULL ? hoist_head(L, head, eb) : NULL;
        if (head == NULL) {
            return NULL;
        }
    }
    for (uint32_t i = 0; i < nsegs; i++) {
        segs[i] = lower_term(L, t->items[i + 1], eb);
        if (segs[i] == NULL) {
            return NULL;
        }
    }
    if (rooted) {
        return make_root_ref(L, &gp, segs, nsegs, &t->loc);
    }
    struct pc_rego_ir_term *ref = new_term(L, PC_REGO_TK_REF, &t->loc);
    struct pc_rego_ir_term **items = alloc(L, (nsegs + 2) * sizeof(*items));
    if (ref == NULL || items == NULL) {
        return NULL;
    }
    items[0] = head;
    memcpy(items + 1, segs, nsegs * sizeof(*items));
    ref->items = items;
    ref->n = nsegs + 1;
    return ref;
}

/* {v | v = x}: the values of term x as a set, empty when x is undefined. */
static struct pc_rego_ir_term *
lower_as_set(struct lower *L, const struct pc_rego_ast_term *x)
{
    struct scope s;
    struct ebuf body = { 0 };
    push_scope(L, &s);
    struct pc_rego_ir_term *v = lower_term(L, x, &body);
    struct pc_rego_ir_term *c = new_term(L, PC_REGO_TK_SCOMP, &x->loc);
    if (v != NULL && c != NULL) {
        c->val = v;
        c->body = finish_body(L, &body, &x->loc);
    }
    pop_scope(L);
    return v != NULL ? c : NULL;
}

/* $"a {x} b": internal.template_string([ "a", {v | v = x}, " b" ]), undefined parts empty. */
static struct pc_rego_ir_term *
lower_template(struct lower *L, const struct pc_rego_ast_term *t, struct ebuf *eb)
{
    struct pc_rego_ir_term **parts = alloc(L, (t->n + 1) * sizeof(*parts));
    if (parts == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        const struct pc_rego_ast_term *p = t->items[i];
        if (p->kind == PC_REGO_AST_SCALAR && p->value->kind == PC_REGO_STRING) {
            parts[i] = const_term(L, p->value, &p->loc);
        } else if (p->kind == PC_REGO_AST_SET_COMP) {
            parts[i] = lower_term(L, p, eb); /* the parser's {$t | $t = x with ...} */
        } else {
            parts[i] = lower_as_set(L, p);
        }
        if (parts[i] == NULL) {
            return NULL;
        }
    }
    struct pc_rego_ir_term *arr = fold_collection(L, PC_REGO_TK_ARRAY, parts, NULL, t->n, &t->loc);
    struct pc_rego_ir_term *out = var_term(L, new_slot(L, NULL), &t->loc);
    struct pc_rego_ir_expr *e = new_expr(L, PC_REGO_EK_CALL, &t->loc);
    struct pc_rego_ir_term **args = alloc(L, sizeof(*args));
    const struct pc_rego_builtin *bi = pc_rego_builtin_lookup("internal.template_string", 24);
    if (bi == NULL) {
        pc_rego_compile_error(L->c, PC_REGO_ETYPE, &t->loc, "template strings are not supported");
        return NULL;
    }
    if (arr == NULL || out == NULL || e == NULL || args == NULL) {
        return NULL;
    }
    args[0] = arr;
    e->fn.bi = bi;
    e->fn.name = bi->name;
    e->fn.arity = 1;
    e->args = args;
    e->nargs = 1;
    e->out = out;
    e->generated = true;
    return ebuf_add(L, eb, e) == 0 ? var_term(L, out->slot, &t->loc) : NULL;
}

static struct pc_rego_ir_term *
lower_term(struct lower *L, const struct pc_rego_ast_term *t, struct ebuf *eb)
{
    switch (t->kind) {
    case PC_REGO_AST_SCALAR:
        return const_term(L, t->value, &t->loc);
    case PC_REGO_AST_VAR:
        return resolve_var(L, t);
    case PC_REGO_AST_REF:
        return lower_ref(L, t, eb);
    case PC_REGO_AST_ARRAY:
    case PC_REGO_AST_SET:
    case PC_REGO_AST_OBJECT:
        return lower_collection(L, t, eb);
    case PC_REGO_AST_ARRAY_COMP:
    case PC_REGO_AST_SET_COMP:
    case PC_REGO_AST_OBJECT_COMP:
        return lower_comprehension(L, t);
    case PC_REGO_AST_CALL:
        return lower_call_term(L, t, eb);
    case PC_REGO_AST_TEMPLATE:
        return lower_template(L, t, eb);
    default:
        pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, &t->loc, "unsupported term");
        return NULL;
    }
}

/* with modifiers. */

static bool
with_path(struct lower *L, const struct pc_rego_ast_term *target, struct pc_rego_ir_with *w)
{
    const struct pc_rego_ast_term *h = target->kind == PC_REGO_AST_VAR ? target : target->items[0];
    uint32_t n = target->kind == PC_REGO_AST_REF ? target->n - 1 : 0;
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, L->c->arena, PC_REGO_ARRAY);
    struct gpath gp = { 0 };
    if (strcmp(h->name, "input") == 0 || strcmp(h->name, "data") == 0) {
        gp.is_input = h->name[0] == 'i';
    } else if (!resolve_global(L, h->name, &gp)) {
        return false;
    }
    for (uint32_t i = 0; i < gp.nkeys; i++) {
        pc_rego_builder_push(&b, gp.keys[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct pc_rego_ast_term *seg = target->items[i + 1];
        if (seg->kind != PC_REGO_AST_SCALAR) {
            return false;
        }
        pc_rego_builder_push(&b, seg->value);
    }
    w->kind = gp.is_input ? PC_REGO_WITH_INPUT : PC_REGO_WITH_DATA;
    w->path = pc_rego_builder_finish(&b);
    return w->path != NULL;
}

/* Is t the name of a function (user or builtin), as a `with` value replacing a function? */
static bool
value_is_func(struct lower *L, const struct pc_rego_ast_term *t, struct pc_rego_ir_func *fn)
{
    if (t->kind != PC_REGO_AST_VAR && t->kind != PC_REGO_AST_REF) {
        return false;
    }
    const struct pc_rego_ast_term *h = t->kind == PC_REGO_AST_VAR ? t : t->items[0];
    if (h->kind != PC_REGO_AST_VAR || find_declared(L, h->name) != NULL) {
        return false;
    }
    struct pc_rego_error saved = *L->c->err;
    if (resolve_func(L, t, fn) == 0) {
        return true;
    }
    *L->c->err = saved;
    return false;
}

/* Does path lead strictly below a node that rules define (replacing part of a rule's value)? */
static bool
below_rules(struct lower *L, const struct pc_rego_value *path)
{
    const struct pc_rego_ir_node *node = L->c->root;
    for (uint32_t i = 0; node != NULL && i < path->len; i++) {
        if (node->has_rules) {
            return true;
        }
        node = pc_rego_node_child(node, path->u.items[i]);
    }
    return false;
}

static int
lower_with(struct lower *L, const struct pc_rego_ast_with *aw, struct pc_rego_ir_with *w,
           struct ebuf *eb)
{
    memset(w, 0, sizeof(*w));
    w->loc = aw->loc;
    struct pc_rego_ir_func target;
    struct pc_rego_error saved = *L->c->err;
    bool is_func = resolve_func(L, aw->target, &target) == 0;
    if (!is_func) {
        *L->c->err = saved;
    }
    if (is_func) {
        w->kind = PC_REGO_WITH_FUNC;
        w->target = target;
        if (value_is_func(L, aw->value, &w->repl)) {
            w->repl_is_func = true;
            return 0;
        }
    } else if (!with_path(L, aw->target, w)) {
        return pc_rego_compile_error(
            L->c, PC_REGO_ETYPE, &aw->loc,
            "with keyword target must reference existing input, data, or a function");
    } else if (w->kind == PC_REGO_WITH_DATA && below_rules(L, w->path)) {
        return pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, &aw->loc,
                                     "with keyword cannot partially replace virtual document(s)");
    }
    w->value = lower_term(L, aw->value, eb);
    return w->value != NULL ? 0 : L->c->err->code;
}

static int
lower_withs(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    L->withs = NULL;
    L->nwith = 0;
    if (e->nwith == 0) {
        return 0;
    }
    struct pc_rego_ir_with *ws = alloc(L, e->nwith * sizeof(*ws));
    if (ws == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < e->nwith; i++) {
        int rc = lower_with(L, &e->withs[i], &ws[i], eb);
        if (rc != 0) {
            return rc;
        }
    }
    L->withs = ws;
    L->nwith = e->nwith;
    return 0;
}

/* Expressions. */

static bool
is_call(const struct pc_rego_ast_term *t)
{
    return t->kind == PC_REGO_AST_CALL;
}

static int
add_unify(struct lower *L, const struct pc_rego_ast_expr *e, struct pc_rego_ir_term *a,
          struct pc_rego_ir_term *b, struct ebuf *eb)
{
    struct pc_rego_ir_expr *x = new_expr(L, PC_REGO_EK_UNIFY, &e->loc);
    if (x == NULL) {
        return PC_REGO_ENOMEM;
    }
    x->a = a;
    x->b = b;
    x->negated = e->negated;
    return ebuf_add(L, eb, x);
}

/* `a = b` or `a := b` with one side a call: one call expression with the other as output. */
static int
lower_call_unify(struct lower *L, const struct pc_rego_ast_expr *e,
                 const struct pc_rego_ast_term *call, struct pc_rego_ir_term *other,
                 struct ebuf *eb)
{
    struct pc_rego_ir_expr *x = call_expr(L, call, other, eb, false);
    if (x == NULL) {
        return L->c->err->code ? L->c->err->code : PC_REGO_ENOMEM;
    }
    x->negated = e->negated;
    return ebuf_add(L, eb, x);
}

static int
lower_assign(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    if (e->negated) {
        return pc_rego_compile_error(L->c, PC_REGO_ECOMPILE, &e->loc,
                                     "cannot assign vars inside negated expression");
    }
    /* The right side first: a name it uses is then "seen", and declaring it is an error. */
    struct pc_rego_ir_term *rhs = NULL;
    struct pending_call pc;
    bool call = is_call(e->b);
    int rc = call ? begin_call(L, e->b, eb, &pc) : 0;
    if (rc != 0) {
        return rc;
    }
    if (!call) {
        rhs = lower_term(L, e->b, eb);
        if (rhs == NULL) {
            return L->c->err->code;
        }
    }
    struct pc_rego_ir_term *lhs = declare_pattern(L, e->a, OCC_ASSIGNED, false, eb);
    if (lhs == NULL) {
        return L->c->err->code;
    }
    if (!call) {
        return add_unify(L, e, lhs, rhs, eb);
    }
    struct pc_rego_ir_expr *x = finish_call(L, &pc, lhs, false);
    return x != NULL ? ebuf_add(L, eb, x) : L->c->err->code;
}

static int
lower_some(struct lower *L, const struct pc_rego_ast_expr *e)
{
    for (uint32_t i = 0; i < e->nvars; i++) {
        if (declare_var(L, e->vars[i]->name, OCC_DECLARED, &e->vars[i]->loc) == NULL) {
            return L->c->err->code;
        }
    }
    return 0;
}

/* some [key,] val in domain  ==>  val = domain[key], key and val declared. */
static int
lower_some_in(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    struct pc_rego_ir_term *dom = lower_term(L, e->domain, eb);
    if (dom == NULL) {
        return L->c->err->code;
    }
    struct pc_rego_ir_term *key = e->key != NULL
                                      ? declare_pattern(L, e->key, OCC_DECLARED, true, eb)
                                      : var_term(L, new_slot(L, NULL), &e->loc);
    struct pc_rego_ir_term *val =
        key != NULL ? declare_pattern(L, e->a, OCC_DECLARED, true, eb) : NULL;
    if (val == NULL) {
        return L->c->err->code;
    }
    struct pc_rego_ir_term *ref = new_term(L, PC_REGO_TK_REF, &e->loc);
    if (ref == NULL) {
        return PC_REGO_ENOMEM;
    }
    uint32_t n = dom->kind == PC_REGO_TK_REF ? dom->n : 1;
    struct pc_rego_ir_term **items = alloc(L, (n + 2) * sizeof(*items));
    if (items == NULL) {
        return PC_REGO_ENOMEM;
    }
    if (dom->kind == PC_REGO_TK_REF) {
        memcpy(items, dom->items, n * sizeof(*items));
    } else {
        items[0] = hoist_head(L, dom, eb);
        if (items[0] == NULL) {
            return L->c->err->code;
        }
    }
    items[n] = key;
    ref->items = items;
    ref->n = n + 1;
    return add_unify(L, e, val, ref, eb);
}

static int
lower_every(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    struct pc_rego_ir_term *dom = lower_term(L, e->domain, eb);
    struct pc_rego_ir_term *dv = dom != NULL ? var_term(L, new_slot(L, NULL), &e->loc) : NULL;
    struct pc_rego_ir_expr *de = dv != NULL ? new_expr(L, PC_REGO_EK_UNIFY, &e->loc) : NULL;
    if (de == NULL) {
        return L->c->err->code;
    }
    de->a = dv;
    de->b = dom;
    de->generated = true;
    int rc = ebuf_add(L, eb, de);
    if (rc != 0) {
        return rc;
    }

    struct scope s;
    struct ebuf body = { 0 };
    const struct pc_rego_ir_with *withs = L->withs;
    uint32_t nwith = L->nwith;
    push_scope(L, &s);
    struct pc_rego_ir_term *key = NULL;
    struct pc_rego_ir_term *val = NULL;
    if (e->key != NULL && !e->key->wildcard) {
        key = declare_var(L, e->key->name, OCC_DECLARED, &e->key->loc);
    }
    if (e->key == NULL || e->key->wildcard || key != NULL) {
        val = e->a->wildcard ? var_term(L, new_slot(L, NULL), &e->a->loc)
                             : declare_var(L, e->a->name, OCC_DECLARED, &e->a->loc);
    }
    L->withs = NULL;
    L->nwith = 0;
    rc = val != NULL ? prescan_body(L, e->body) : L->c->err->code;
    if (rc == 0) {
        rc = lower_body(L, e->body, &body);
    }
    pop_scope(L);
    L->withs = withs;
    L->nwith = nwith;
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_ir_expr *x = new_expr(L, PC_REGO_EK_EVERY, &e->loc);
    if (x == NULL) {
        return PC_REGO_ENOMEM;
    }
    x->key = key;
    x->val = val;
    x->domain = var_term(L, dv->slot, &e->loc);
    x->body = finish_body(L, &body, &e->loc);
    return x->body != NULL ? ebuf_add(L, eb, x) : PC_REGO_ENOMEM;
}

static int
lower_term_expr(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    if (is_call(e->a)) {
        struct pc_rego_ir_expr *x = call_expr(L, e->a, NULL, eb, true);
        if (x == NULL) {
            return L->c->err->code;
        }
        x->negated = e->negated;
        return ebuf_add(L, eb, x);
    }
    struct pc_rego_ir_term *t = lower_term(L, e->a, eb);
    struct pc_rego_ir_expr *x = t != NULL ? new_expr(L, PC_REGO_EK_TERM, &e->loc) : NULL;
    if (x == NULL) {
        return L->c->err->code;
    }
    x->a = t;
    x->negated = e->negated;
    return ebuf_add(L, eb, x);
}

static int
lower_unify(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    if (is_call(e->a) && !is_call(e->b)) {
        struct pc_rego_ir_term *other = lower_term(L, e->b, eb);
        return other != NULL ? lower_call_unify(L, e, e->a, other, eb) : L->c->err->code;
    }
    if (is_call(e->b) && !is_call(e->a)) {
        struct pc_rego_ir_term *other = lower_term(L, e->a, eb);
        return other != NULL ? lower_call_unify(L, e, e->b, other, eb) : L->c->err->code;
    }
    struct pc_rego_ir_term *a = lower_term(L, e->a, eb);
    struct pc_rego_ir_term *b = a != NULL ? lower_term(L, e->b, eb) : NULL;
    return b != NULL ? add_unify(L, e, a, b, eb) : L->c->err->code;
}

static int
lower_expr(struct lower *L, const struct pc_rego_ast_expr *e, struct ebuf *eb)
{
    L->cur = e;
    int rc = lower_withs(L, e, eb);
    if (rc != 0) {
        return rc;
    }
    switch (e->kind) {
    case PC_REGO_AX_TERM:
        rc = lower_term_expr(L, e, eb);
        break;
    case PC_REGO_AX_UNIFY:
        rc = lower_unify(L, e, eb);
        break;
    case PC_REGO_AX_ASSIGN:
        rc = lower_assign(L, e, eb);
        break;
    case PC_REGO_AX_SOME:
        rc = lower_some(L, e);
        break;
    case PC_REGO_AX_SOME_IN:
        rc = lower_some_in(L, e, eb);
        break;
    default:
        rc = lower_every(L, e, eb);
        break;
    }
    L->withs = NULL;
    L->nwith = 0;
    return rc;
}

static int
lower_body(struct lower *L, const struct pc_rego_ast_body *body, struct ebuf *eb)
{
    for (uint32_t i = 0; body != NULL && i < body->n; i++) {
        int rc = lower_expr(L, body->exprs[i], eb);
        if (rc != 0) {
            return rc != 0 ? rc : PC_REGO_ECOMPILE;
        }
    }
    return 0;
}

/* Rules. */

static void
init_lower(struct lower *L, struct pc_rego_compiler *c, const struct pc_rego_ast_module *m)
{
    memset(L, 0, sizeof(*L));
    L->c = c;
    L->mod = m;
    L->pkg = m != NULL ? m->path : NULL;
}

uint32_t
pc_rego_rule_prefix_len(const struct pc_rego_ast_term *ref)
{
    if (ref->kind == PC_REGO_AST_VAR) {
        return 1;
    }
    uint32_t k = 1;
    while (k < ref->n && ref->items[k]->kind == PC_REGO_AST_SCALAR) {
        k++;
    }
    return k;
}

/*
 * Moves references in a rule head into the body ($v = ref), as OPA does: p := xs[_] is
 * p := $v if $v = xs[_], so the head only holds values the body binds.
 */
static int
hoist_head_refs(struct lower *L, struct pc_rego_ir_term **tp, struct ebuf *eb)
{
    struct pc_rego_ir_term *t = *tp;
    if (t->kind == PC_REGO_TK_REF || t->kind == PC_REGO_TK_INPUT || t->kind == PC_REGO_TK_DATA) {
        struct pc_rego_ir_term *v = var_term(L, new_slot(L, NULL), &t->loc);
        struct pc_rego_ir_expr *e = v != NULL ? new_expr(L, PC_REGO_EK_UNIFY, &t->loc) : NULL;
        if (e == NULL) {
            return PC_REGO_ENOMEM;
        }
        e->a = v;
        e->b = t;
        e->generated = true;
        *tp = var_term(L, v->slot, &t->loc);
        return *tp != NULL ? ebuf_add(L, eb, e) : PC_REGO_ENOMEM;
    }
    if (t->kind != PC_REGO_TK_ARRAY && t->kind != PC_REGO_TK_SET && t->kind != PC_REGO_TK_OBJECT) {
        return 0;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        int rc = hoist_head_refs(L, &t->items[i], eb);
        if (rc == 0 && t->vals != NULL) {
            rc = hoist_head_refs(L, &t->vals[i], eb);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
lower_head(struct lower *L, const struct pc_rego_ast_rule *r, struct pc_rego_ir_rule *ir,
           struct ebuf *eb)
{
    if (r->ref->kind == PC_REGO_AST_REF && !r->is_func) {
        uint32_t k = pc_rego_rule_prefix_len(r->ref);
        ir->nsuffix = r->ref->n - k;
        ir->suffix = alloc(L, (ir->nsuffix + 1) * sizeof(*ir->suffix));
        if (ir->suffix == NULL) {
            return PC_REGO_ENOMEM;
        }
        for (uint32_t i = 0; i < ir->nsuffix; i++) {
            ir->suffix[i] = lower_term(L, r->ref->items[k + i], eb);
            if (ir->suffix[i] == NULL) {
                return L->c->err->code;
            }
            int rc = hoist_head_refs(L, &ir->suffix[i], eb);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (r->key != NULL) {
        ir->key = lower_term(L, r->key, eb);
        if (ir->key == NULL) {
            return L->c->err->code;
        }
        int rc = hoist_head_refs(L, &ir->key, eb);
        if (rc != 0) {
            return rc;
        }
    }
    if (!r->is_contains) {
        ir->value = r->value != NULL ? lower_term(L, r->value, eb)
                                     : const_term(L, pc_rego_bool(true), &r->loc);
        if (ir->value == NULL) {
            return L->c->err->code;
        }
        int rc = hoist_head_refs(L, &ir->value, eb);
        if (rc != 0) {
            return rc;
        }
        ir->value_const = ir->value->kind == PC_REGO_TK_CONST;
    }
    return 0;
}

static int
lower_args_decl(struct lower *L, const struct pc_rego_ast_rule *r, struct pc_rego_ir_rule *ir,
                struct ebuf *eb)
{
    ir->nargs = r->nargs;
    ir->args = alloc(L, (r->nargs + 1) * sizeof(*ir->args));
    if (ir->args == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < r->nargs; i++) {
        const struct pc_rego_ast_term *a = r->args[i];
        if (a->kind == PC_REGO_AST_VAR || a->kind == PC_REGO_AST_ARRAY
            || a->kind == PC_REGO_AST_OBJECT) {
            ir->args[i] = declare_pattern(L, a, OCC_ARG, false, eb);
        } else {
            ir->args[i] = lower_term(L, a, eb);
        }
        if (ir->args[i] == NULL) {
            return L->c->err->code;
        }
    }
    return 0;
}

static int
lower_one(struct pc_rego_compiler *c, const struct pc_rego_ast_module *m,
          const struct pc_rego_ast_rule *r, struct pc_rego_ir_node *node,
          struct pc_rego_ir_rule *ir)
{
    struct lower L;
    struct scope s;
    struct ebuf eb = { 0 };
    init_lower(&L, c, m);
    push_scope(&L, &s);
    ir->node = node;
    ir->loc = r->loc;
    ir->is_default = r->is_default;
    ir->suffix_contains = r->is_contains && r->ref->kind == PC_REGO_AST_REF
                          && pc_rego_rule_prefix_len(r->ref) < r->ref->n;
    int rc = r->is_func ? lower_args_decl(&L, r, ir, &eb) : 0;
    if (rc == 0) {
        rc = prescan_body(&L, r->body);
    }
    if (rc == 0) {
        rc = lower_body(&L, r->body, &eb);
    }
    if (rc == 0) {
        rc = lower_head(&L, r, ir, &eb);
    }
    if (rc == 0) {
        ir->body = finish_body(&L, &eb, &r->loc);
        rc = ir->body != NULL ? 0 : PC_REGO_ENOMEM;
    }
    ir->nslots = L.nslots;
    ir->slot_names = L.slot_names;
    return rc;
}

int
pc_rego_lower_rule(struct pc_rego_compiler *c, const struct pc_rego_ast_module *m,
                   const struct pc_rego_ast_rule *r, struct pc_rego_ir_node *node,
                   struct pc_rego_ir_rule **out)
{
    struct pc_rego_ir_rule *first = NULL;
    struct pc_rego_ir_rule **link = &first;
    for (const struct pc_rego_ast_rule *br = r; br != NULL; br = br->els) {
        struct pc_rego_ir_rule *ir = pc_rego_arena_calloc(c->arena, 1, sizeof(*ir));
        if (ir == NULL) {
            return pc_rego_compile_error(c, PC_REGO_ENOMEM, NULL, "out of memory");
        }
        ir->kind = node->kind;
        int rc = lower_one(c, m, br, node, ir);
        if (rc != 0) {
            return rc;
        }
        *link = ir;
        link = &ir->els;
    }
    *out = first;
    return 0;
}

/* Queries. */

static int
collect_query_vars(struct lower *L, struct pc_rego_lowered_query *out)
{
    uint32_t n = 0;
    out->vars = alloc(L, (L->nslots + 1) * sizeof(*out->vars));
    out->var_slots = alloc(L, (L->nslots + 1) * sizeof(*out->var_slots));
    if (out->vars == NULL || out->var_slots == NULL) {
        return PC_REGO_ENOMEM;
    }
    /* Top-level names in slot order: first use first, as OPA lists bindings by name anyway. */
    for (uint32_t slot = 0; slot < L->nslots; slot++) {
        const char *name = L->slot_names[slot];
        if (name == NULL) {
            continue;
        }
        bool top = false;
        for (uint32_t i = 0; i < L->nnames && !top; i++) {
            top = L->names[i].slot == slot;
        }
        struct decl *d = scope_find(L->scope, name);
        top = top || (d != NULL && d->occ != OCC_SEEN && d->slot == slot);
        bool dup = false;
        for (uint32_t i = 0; i < n && !dup; i++) {
            dup = strcmp(out->vars[i], name) == 0;
        }
        if (top && !dup) {
            out->vars[n] = name;
            out->var_slots[n] = slot;
            n++;
        }
    }
    out->nvars = n;
    return 0;
}

/* In capture mode a top-level expression without an output gets one for its value. */
static int
capture_expr(struct lower *L, struct ebuf *eb, uint32_t from, uint32_t *slot)
{
    *slot = UINT32_MAX;
    if (eb->n <= from) {
        return 0;
    }
    struct pc_rego_ir_expr *x = eb->exprs[eb->n - 1];
    if (x->negated) {
        return 0;
    }
    if (x->kind == PC_REGO_EK_CALL && x->out == NULL) {
        x->out = var_term(L, new_slot(L, NULL), &x->loc);
        if (x->out == NULL) {
            return PC_REGO_ENOMEM;
        }
        *slot = x->out->slot;
    } else if (x->kind == PC_REGO_EK_TERM) {
        struct pc_rego_ir_term *v = var_term(L, new_slot(L, NULL), &x->loc);
        if (v == NULL) {
            return PC_REGO_ENOMEM;
        }
        x->kind = PC_REGO_EK_UNIFY;
        x->b = x->a;
        x->a = v;
        *slot = v->slot;
    }
    return 0;
}

int
pc_rego_lower_query(struct pc_rego_compiler *c, const struct pc_rego_ast_body *body, bool capture,
                    struct pc_rego_lowered_query *out)
{
    struct lower L;
    struct scope s;
    struct ebuf eb = { 0 };
    init_lower(&L, c, NULL);
    push_scope(&L, &s);
    memset(out, 0, sizeof(*out));
    out->nexprs = body->n;
    out->expr_slots = alloc(&L, (body->n + 1) * sizeof(uint32_t));
    out->expr_text = alloc(&L, (body->n + 1) * sizeof(char *));
    out->expr_len = alloc(&L, (body->n + 1) * sizeof(uint32_t));
    out->expr_loc = alloc(&L, (body->n + 1) * sizeof(struct pc_rego_loc));
    out->rule = alloc(&L, sizeof(*out->rule));
    if (out->expr_slots == NULL || out->expr_text == NULL || out->expr_len == NULL
        || out->expr_loc == NULL || out->rule == NULL) {
        return PC_REGO_ENOMEM;
    }
    int rc = prescan_body(&L, body);
    for (uint32_t i = 0; rc == 0 && i < body->n; i++) {
        uint32_t from = eb.n;
        rc = lower_expr(&L, body->exprs[i], &eb);
        out->expr_slots[i] = UINT32_MAX;
        out->expr_text[i] = body->exprs[i]->text;
        out->expr_len[i] = body->exprs[i]->text_len;
        out->expr_loc[i] = body->exprs[i]->loc;
        if (rc == 0 && capture) {
            rc = capture_expr(&L, &eb, from, &out->expr_slots[i]);
        }
    }
    if (rc == 0) {
        rc = collect_query_vars(&L, out);
    }
    if (rc == 0) {
        out->rule->kind = PC_REGO_RK_COMPLETE;
        out->rule->loc = body->loc;
        out->rule->body = finish_body(&L, &eb, &body->loc);
        out->rule->nslots = L.nslots;
        out->rule->slot_names = L.slot_names;
        rc = out->rule->body != NULL ? 0 : PC_REGO_ENOMEM;
    }
    return rc;
}
