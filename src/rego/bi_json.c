/*
 * JSON document builtins that work on paths: json.filter (keep only some paths),
 * json.remove (drop some paths) and json.patch (RFC 6902 operations, extended to Rego sets).
 *
 * A path is either a string of '/'-separated segments (JSON pointer escapes ~0 and ~1 apply, a
 * leading '/' is optional) or an array of segments of any type. A segment selects an object
 * member by key, an array element by index (a number, or a string of digits) or a set member
 * equal to it. Documents are never modified: each builtin rebuilds the parts on the way to a
 * change and shares the rest.
 */
#include <string.h>

#include "rego/builtin.h"
#include "rego/strbuf.h"

#define PATCH_MAX_DEPTH 256

/* A parsed path: n segments. */
struct path {
    const struct pc_rego_value **segs;
    size_t n;
};

/* Paths to keep or drop, merged into a tree; `whole` marks where a path ends. */
struct ptree {
    const struct pc_rego_value *key;
    struct ptree *kids;
    struct ptree *next;
    bool whole;
};

static int
nomem(void)
{
    return PC_REGO_ENOMEM;
}

/* Splits a string path into unescaped string segments. */
static int
split_path(struct pc_rego_arena *arena, const char *s, size_t len, struct path *p)
{
    p->n = 0;
    p->segs = NULL;
    if (len == 0) {
        return 0; /* the whole document; "/" is the member named "" */
    }
    if (s[0] == '/') {
        s++;
        len--;
    }
    size_t parts = 1;
    for (size_t i = 0; i < len; i++) {
        parts += s[i] == '/';
    }
    p->segs = pc_rego_arena_alloc(arena, parts * sizeof(*p->segs));
    if (p->segs == NULL) {
        return nomem();
    }
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') {
            continue;
        }
        struct pc_rego_strbuf sb;
        pc_rego_strbuf_init(&sb, arena);
        for (size_t j = start; j < i; j++) {
            if (s[j] == '~' && j + 1 < i && (s[j + 1] == '0' || s[j + 1] == '1')) {
                pc_rego_strbuf_addc(&sb, s[j + 1] == '0' ? '~' : '/');
                j++;
            } else {
                pc_rego_strbuf_addc(&sb, s[j]);
            }
        }
        p->segs[p->n] = sb.failed ? NULL : pc_rego_string(arena, sb.len ? sb.data : "", sb.len);
        if (p->segs[p->n++] == NULL) {
            return nomem();
        }
        start = i + 1;
    }
    return 0;
}

/* Reads a path operand: a string or an array of segments. */
static int
parse_path(struct pc_rego_bctx *bc, const struct pc_rego_value *v, int pos, struct path *p)
{
    if (v->kind == PC_REGO_STRING) {
        return split_path(bc->arena, v->u.s, v->len, p);
    }
    if (v->kind == PC_REGO_ARRAY) {
        p->segs = (const struct pc_rego_value **)v->u.items;
        p->n = v->len;
        return 0;
    }
    return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                           "operand %d must be one of {set, array} containing string paths or "
                           "array of path segments but got %s",
                           pos, pc_rego_type_name(v));
}

/* The array index a segment names, or -1. */
static int64_t
seg_index(const struct pc_rego_value *seg)
{
    int64_t i = -1;
    if (seg->kind == PC_REGO_NUMBER) {
        return pc_rego_number_int64(seg, &i) == 0 && i >= 0 ? i : -1;
    }
    if (seg->kind != PC_REGO_STRING || seg->len == 0 || seg->len > 18
        || (seg->len > 1 && seg->u.s[0] == '0')) {
        return -1;
    }
    i = 0;
    for (size_t k = 0; k < seg->len; k++) {
        if (seg->u.s[k] < '0' || seg->u.s[k] > '9') {
            return -1;
        }
        i = i * 10 + (seg->u.s[k] - '0');
    }
    return i;
}

/* Whether seg selects member key (an object key, a set element) or index i of an array. */
static bool
seg_matches(const struct pc_rego_value *seg, const struct pc_rego_value *key, int64_t index)
{
    if (key == NULL) {
        return seg_index(seg) == index;
    }
    return pc_rego_equal(seg, key);
}

static struct ptree *
tree_child(struct pc_rego_arena *arena, struct ptree *t, const struct pc_rego_value *key)
{
    for (struct ptree *c = t->kids; c != NULL; c = c->next) {
        if (pc_rego_equal(c->key, key)
            || (seg_index(c->key) >= 0 && seg_index(c->key) == seg_index(key))) {
            return c;
        }
    }
    struct ptree *c = pc_rego_arena_calloc(arena, 1, sizeof(*c));
    if (c != NULL) {
        c->key = key;
        c->next = t->kids;
        t->kids = c;
    }
    return c;
}

static const struct ptree *
tree_find(const struct ptree *t, const struct pc_rego_value *key, int64_t index)
{
    for (const struct ptree *c = t->kids; c != NULL; c = c->next) {
        if (seg_matches(c->key, key, index)) {
            return c;
        }
    }
    return NULL;
}

/* Builds the tree of the paths in a[1] (a set or an array of paths). */
static int
build_tree(struct pc_rego_bctx *bc, const struct pc_rego_value *paths, struct ptree *root)
{
    if (paths->kind != PC_REGO_SET && paths->kind != PC_REGO_ARRAY) {
        return pc_rego_bi_type_error(bc, 2, paths, "set, array");
    }
    memset(root, 0, sizeof(*root));
    for (uint32_t i = 0; i < paths->len; i++) {
        struct path p;
        int rc = parse_path(bc, paths->u.items[i], 2, &p);
        if (rc != 0) {
            return rc;
        }
        struct ptree *t = root;
        for (size_t k = 0; t != NULL && k < p.n; k++) {
            t = tree_child(bc->arena, t, p.segs[k]);
        }
        if (t == NULL) {
            return nomem();
        }
        t->whole = true;
    }
    return 0;
}

/* json.filter: the parts of v that the tree selects, or NULL (nothing selected). */
static const struct pc_rego_value *
keep(struct pc_rego_arena *arena, const struct pc_rego_value *v, const struct ptree *t, bool *oom)
{
    if (t->whole) {
        return v;
    }
    if (v->kind < PC_REGO_ARRAY || t->kids == NULL) {
        return NULL;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, (enum pc_rego_kind)v->kind);
    for (uint32_t i = 0; i < v->len; i++) {
        bool obj = v->kind == PC_REGO_OBJECT;
        const struct pc_rego_value *key = obj                      ? v->u.entries[i].key
                                          : v->kind == PC_REGO_SET ? v->u.items[i]
                                                                   : NULL;
        const struct pc_rego_value *val = obj ? v->u.entries[i].val : v->u.items[i];
        const struct ptree *c = tree_find(t, key, i);
        const struct pc_rego_value *kept = c != NULL ? keep(arena, val, c, oom) : NULL;
        if (kept != NULL
            && (obj ? pc_rego_builder_put(&b, key, kept) : pc_rego_builder_push(&b, kept)) != 0) {
            *oom = true;
        }
    }
    const struct pc_rego_value *r = pc_rego_builder_finish(&b);
    *oom = *oom || r == NULL;
    return r;
}

/* json.remove: v without the paths the tree marks. */
static const struct pc_rego_value *
drop(struct pc_rego_arena *arena, const struct pc_rego_value *v, const struct ptree *t, bool *oom)
{
    if (v->kind < PC_REGO_ARRAY || t->kids == NULL) {
        return v;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, (enum pc_rego_kind)v->kind);
    for (uint32_t i = 0; i < v->len; i++) {
        bool obj = v->kind == PC_REGO_OBJECT;
        const struct pc_rego_value *key = obj                      ? v->u.entries[i].key
                                          : v->kind == PC_REGO_SET ? v->u.items[i]
                                                                   : NULL;
        const struct pc_rego_value *val = obj ? v->u.entries[i].val : v->u.items[i];
        const struct ptree *c = tree_find(t, key, i);
        if (c != NULL && c->whole) {
            continue;
        }
        const struct pc_rego_value *rest = c != NULL ? drop(arena, val, c, oom) : val;
        if (rest == NULL
            || (obj ? pc_rego_builder_put(&b, key, rest) : pc_rego_builder_push(&b, rest)) != 0) {
            *oom = true;
        }
    }
    const struct pc_rego_value *r = pc_rego_builder_finish(&b);
    *oom = *oom || r == NULL;
    return r;
}

static int
filter_or_remove(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out, bool filter)
{
    struct ptree root;
    bool oom = false;
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc == 0) {
        rc = build_tree(bc, a[1], &root);
    }
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *r =
        filter ? keep(bc->arena, a[0], &root, &oom) : drop(bc->arena, a[0], &root, &oom);
    if (oom) {
        return nomem();
    }
    if (r == NULL) {
        struct pc_rego_builder b;
        pc_rego_builder_init(&b, bc->arena, PC_REGO_OBJECT);
        r = pc_rego_builder_finish(&b);
    }
    return pc_rego_bi_ret(out, r);
}

static int
bi_json_filter(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    return filter_or_remove(bc, a, out, true);
}

static int
bi_json_remove(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    return filter_or_remove(bc, a, out, false);
}

/* json.patch */

enum patch_op {
    OP_ADD,
    OP_REMOVE,
    OP_REPLACE,
    OP_GET
};

struct edit {
    enum patch_op op;
    const struct pc_rego_value *value; /* for add and replace */
    const struct pc_rego_value *found; /* OP_GET and OP_REMOVE: the value at the path */
};

/* Finds member seg of container v: *pos is its position; returns false when absent. */
static bool
member(const struct pc_rego_value *v, const struct pc_rego_value *seg, uint32_t *pos)
{
    if (v->kind == PC_REGO_ARRAY) {
        int64_t i = seg_index(seg);
        *pos = (uint32_t)i;
        return i >= 0 && i < v->len;
    }
    for (uint32_t i = 0; i < v->len; i++) {
        const struct pc_rego_value *key =
            v->kind == PC_REGO_OBJECT ? v->u.entries[i].key : v->u.items[i];
        if (pc_rego_equal(key, seg)) {
            *pos = i;
            return true;
        }
    }
    return false;
}

/* Copies container v with e applied to its member at pos (present or, for add, new). */
static const struct pc_rego_value *
rebuild(struct pc_rego_arena *arena, const struct pc_rego_value *v, const struct pc_rego_value *seg,
        uint32_t pos, bool present, const struct edit *e)
{
    bool obj = v->kind == PC_REGO_OBJECT;
    bool insert = e->op == OP_ADD && v->kind == PC_REGO_ARRAY;
    struct pc_rego_builder b;
    int rc = 0;
    pc_rego_builder_init(&b, arena, (enum pc_rego_kind)v->kind);
    for (uint32_t i = 0; rc == 0 && i <= v->len; i++) {
        if (i == pos && insert) {
            rc = pc_rego_builder_push(&b, e->value);
        }
        if (i == v->len || rc != 0) {
            break;
        }
        const struct pc_rego_value *item = obj ? v->u.entries[i].val : v->u.items[i];
        if (i == pos && present && e->op == OP_REMOVE) {
            continue;
        }
        if (i == pos && present && e->op == OP_REPLACE) {
            item = e->value;
        }
        rc = obj ? pc_rego_builder_put(&b, v->u.entries[i].key, item)
                 : pc_rego_builder_push(&b, item);
    }
    if (rc == 0 && e->op == OP_ADD && !insert) {
        rc = obj ? pc_rego_builder_put(&b, seg, e->value) : pc_rego_builder_push(&b, e->value);
    }
    return rc == 0 ? pc_rego_builder_finish(&b) : NULL;
}

/* Applies e at the last segment, inside container v; NULL when the operation does not apply. */
static const struct pc_rego_value *
edit_last(struct pc_rego_arena *arena, const struct pc_rego_value *v,
          const struct pc_rego_value *seg, struct edit *e)
{
    uint32_t pos = 0;
    bool present = v->kind >= PC_REGO_ARRAY && member(v, seg, &pos);
    bool append = v->kind == PC_REGO_ARRAY && e->op == OP_ADD && seg->kind == PC_REGO_STRING
                  && seg->len == 1 && seg->u.s[0] == '-';
    if (v->kind < PC_REGO_ARRAY || (e->op != OP_ADD && !present)) {
        return NULL;
    }
    if (e->op == OP_GET) {
        e->found = v->kind == PC_REGO_OBJECT ? v->u.entries[pos].val : v->u.items[pos];
        return v;
    }
    if (v->kind == PC_REGO_ARRAY && e->op == OP_ADD && !append
        && (seg_index(seg) < 0 || seg_index(seg) > v->len)) {
        return NULL;
    }
    if (v->kind == PC_REGO_SET && e->value != NULL && !pc_rego_equal(seg, e->value)) {
        return NULL;
    }
    if (e->op == OP_ADD && v->kind == PC_REGO_ARRAY) {
        pos = append ? v->len : (uint32_t)seg_index(seg);
    }
    if (e->op == OP_REMOVE) {
        e->found = v->kind == PC_REGO_OBJECT ? v->u.entries[pos].val : v->u.items[pos];
    }
    return rebuild(arena, v, seg, pos, present, e);
}

/*
 * Rebuilds v with e applied at path p from segment k on; NULL when the path does not lead
 * anywhere or the edit does not apply.
 */
static const struct pc_rego_value *
edit_at(struct pc_rego_arena *arena, const struct pc_rego_value *v, const struct path *p, size_t k,
        struct edit *e)
{
    if (k + 1 == p->n) {
        return edit_last(arena, v, p->segs[k], e);
    }
    uint32_t pos = 0;
    if (v->kind < PC_REGO_ARRAY || k >= PATCH_MAX_DEPTH || !member(v, p->segs[k], &pos)) {
        return NULL;
    }
    bool obj = v->kind == PC_REGO_OBJECT;
    const struct pc_rego_value *child = obj ? v->u.entries[pos].val : v->u.items[pos];
    const struct pc_rego_value *edited = edit_at(arena, child, p, k + 1, e);
    if (edited == NULL || e->op == OP_GET) {
        return edited == NULL ? NULL : v;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, (enum pc_rego_kind)v->kind);
    for (uint32_t i = 0; i < v->len; i++) {
        const struct pc_rego_value *item = obj ? v->u.entries[i].val : v->u.items[i];
        item = i == pos ? edited : item;
        if ((obj ? pc_rego_builder_put(&b, v->u.entries[i].key, item)
                 : pc_rego_builder_push(&b, item))
            != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

/* One operation on the whole document (an empty path names the document itself). */
static const struct pc_rego_value *
apply_edit(struct pc_rego_arena *arena, const struct pc_rego_value *doc, const struct path *p,
           struct edit *e)
{
    if (p->n > 0) {
        return edit_at(arena, doc, p, 0, e);
    }
    e->found = doc;
    switch (e->op) {
    case OP_ADD:
    case OP_REPLACE:
        return e->value;
    case OP_GET:
        return doc;
    default:
        return NULL; /* removing the whole document leaves nothing to return */
    }
}

static bool
is_prefix(const struct path *from, const struct path *to)
{
    if (from->n >= to->n) {
        return false;
    }
    for (size_t i = 0; i < from->n; i++) {
        if (!pc_rego_equal(from->segs[i], to->segs[i])) {
            return false;
        }
    }
    return true;
}

/* Applies one patch object; returns the new document or NULL when it fails. */
static const struct pc_rego_value *
apply_patch(struct pc_rego_bctx *bc, const struct pc_rego_value *doc,
            const struct pc_rego_value *patch, int *rc)
{
    const struct pc_rego_value *op = pc_rego_object_get_str(patch, "op", 2);
    const struct pc_rego_value *pv = pc_rego_object_get_str(patch, "path", 4);
    const struct pc_rego_value *value = pc_rego_object_get_str(patch, "value", 5);
    const struct pc_rego_value *fromv = pc_rego_object_get_str(patch, "from", 4);
    struct path path;
    struct path from;
    struct edit e = { OP_GET, NULL, NULL };

    if (op == NULL || op->kind != PC_REGO_STRING || pv == NULL
        || (*rc = parse_path(bc, pv, 2, &path)) != 0) {
        return NULL;
    }
    const char *name = op->u.s;
    size_t n = op->len;
    if (n == 3 && memcmp(name, "add", 3) == 0 && value != NULL) {
        e.op = OP_ADD;
        e.value = value;
        return apply_edit(bc->arena, doc, &path, &e);
    }
    if (n == 6 && memcmp(name, "remove", 6) == 0) {
        e.op = OP_REMOVE;
        return apply_edit(bc->arena, doc, &path, &e);
    }
    if (n == 7 && memcmp(name, "replace", 7) == 0 && value != NULL) {
        e.op = OP_REPLACE;
        e.value = value;
        return apply_edit(bc->arena, doc, &path, &e);
    }
    if (n == 4 && memcmp(name, "test", 4) == 0 && value != NULL) {
        return apply_edit(bc->arena, doc, &path, &e) != NULL && pc_rego_equal(e.found, value)
                   ? doc
                   : NULL;
    }
    bool move = n == 4 && memcmp(name, "move", 4) == 0;
    if (!(move || (n == 4 && memcmp(name, "copy", 4) == 0)) || fromv == NULL
        || (*rc = parse_path(bc, fromv, 2, &from)) != 0) {
        return NULL;
    }
    if (apply_edit(bc->arena, doc, &from, &e) == NULL || (move && is_prefix(&from, &path))) {
        return NULL;
    }
    const struct pc_rego_value *moved = e.found;
    if (move) {
        e.op = OP_REMOVE;
        doc = apply_edit(bc->arena, doc, &from, &e);
        if (doc == NULL) {
            return NULL;
        }
    }
    e.op = OP_ADD;
    e.value = moved;
    return apply_edit(bc->arena, doc, &path, &e);
}

static int
bi_json_patch(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_ARRAY);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *doc = a[0];
    for (uint32_t i = 0; i < a[1]->len; i++) {
        const struct pc_rego_value *patch = a[1]->u.items[i];
        if (patch->kind != PC_REGO_OBJECT) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 2 must be array of objects but got array containing %s",
                                   pc_rego_type_name(patch));
        }
        doc = apply_patch(bc, doc, patch, &rc);
        if (rc != 0) {
            return rc;
        }
        if (doc == NULL) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "patch %u could not be applied", i);
        }
    }
    return pc_rego_bi_ret(out, doc);
}

static const struct pc_rego_builtin table[] = {
    { "json.filter", 2, 0, bi_json_filter },
    { "json.remove", 2, 0, bi_json_remove },
    { "json.patch", 2, 0, bi_json_patch },
};

const struct pc_rego_builtin *
pc_rego_bi_json_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
