/*
 * Graph builtins over adjacency objects ({node: [neighbours...]}, neighbours as an array, a
 * set or null): graph.reachable (every node reachable from the initial ones) and
 * graph.reachable_paths (the paths a depth-first walk takes from each initial node).
 *
 * Only nodes that are keys of the graph count. A path ends at a node without neighbours in the
 * graph, or stops before a node the walk has already expanded, so cycles end the path.
 */
#include <stdint.h>

#include "rego/builtin.h"

#define MAX_GRAPH_DEPTH 1024

struct walk {
    struct pc_rego_bctx *bc;
    const struct pc_rego_value *graph;
    bool *expanded; /* per graph member, in key order */
    struct pc_rego_builder paths;
    const struct pc_rego_value **path;
};

static int
check_operands(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc == 0 && a[1]->kind != PC_REGO_SET && a[1]->kind != PC_REGO_ARRAY) {
        rc = pc_rego_bi_type_error(bc, 2, a[1], "set, array");
    }
    return rc;
}

/* The neighbours of node: its array or set, or NULL for none; *ok false on another type. */
static const struct pc_rego_value *
neighbours(const struct pc_rego_value *edges, bool *ok)
{
    *ok = true;
    if (edges->kind == PC_REGO_ARRAY || edges->kind == PC_REGO_SET) {
        return edges;
    }
    *ok = edges->kind == PC_REGO_NULL;
    return NULL;
}

static int
bad_edges(struct pc_rego_bctx *bc, const struct pc_rego_value *edges)
{
    return pc_rego_bi_fail(
        bc, PC_REGO_EEVAL_TYPE,
        "operand 1 must be object of arrays or sets but got object containing %s",
        pc_rego_type_name(edges));
}

/* The position of node among the graph's keys, or -1 when it is not a node of the graph. */
static int64_t
node_index(const struct pc_rego_value *graph, const struct pc_rego_value *node)
{
    uint32_t lo = 0;
    uint32_t hi = graph->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pc_rego_compare(graph->u.entries[mid].key, node);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

static int
bi_graph_reachable(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    int rc = check_operands(bc, a);
    if (rc != 0) {
        return rc;
    }
    /* Breadth-first; each node is expanded once, so the queue holds at most every edge. */
    const struct pc_rego_value *g = a[0];
    size_t cap = a[1]->len;
    for (uint32_t i = 0; i < g->len; i++) {
        cap += g->u.entries[i].val->kind >= PC_REGO_ARRAY ? g->u.entries[i].val->len : 0;
    }
    const struct pc_rego_value **queue = pc_rego_arena_alloc(bc->arena, (cap + 1) * sizeof(*queue));
    bool *expanded = pc_rego_arena_calloc(bc->arena, g->len + 1, sizeof(*expanded));
    if (queue == NULL || expanded == NULL) {
        return PC_REGO_ENOMEM;
    }
    size_t tail = 0;
    for (uint32_t i = 0; i < a[1]->len; i++) {
        queue[tail++] = a[1]->u.items[i];
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_SET);
    for (size_t head = 0; head < tail; head++) {
        int64_t idx = node_index(g, queue[head]);
        if (idx < 0 || expanded[idx]) {
            continue;
        }
        expanded[idx] = true;
        bool ok;
        const struct pc_rego_value *next = neighbours(g->u.entries[idx].val, &ok);
        if (!ok) {
            return bad_edges(bc, g->u.entries[idx].val);
        }
        if (pc_rego_builder_push(&b, queue[head]) != 0) {
            return PC_REGO_ENOMEM;
        }
        for (uint32_t k = 0; next != NULL && k < next->len && tail < cap; k++) {
            queue[tail++] = next->u.items[k];
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
emit_path(struct walk *w, uint32_t n)
{
    const struct pc_rego_value *p = pc_rego_array(w->bc->arena, w->path, n);
    return p != NULL && pc_rego_builder_push(&w->paths, p) == 0 ? 0 : PC_REGO_ENOMEM;
}

/* Walks from node (a node of the graph, at index idx), which sits at w->path[depth]. */
static int
walk_from(struct walk *w, const struct pc_rego_value *node, int64_t idx, uint32_t depth)
{
    const struct pc_rego_value *edges = w->graph->u.entries[idx].val;
    bool ok;
    const struct pc_rego_value *next = neighbours(edges, &ok);
    if (!ok) {
        return bad_edges(w->bc, edges);
    }
    if (depth >= MAX_GRAPH_DEPTH) {
        return pc_rego_bi_fail(w->bc, PC_REGO_EEVAL_BUILTIN, "graph too deep");
    }
    w->path[depth] = node;
    bool any = false;
    for (uint32_t k = 0; next != NULL && k < next->len && !any; k++) {
        any = node_index(w->graph, next->u.items[k]) >= 0;
    }
    if (!any) {
        return emit_path(w, depth + 1);
    }
    if (w->expanded[idx]) {
        return emit_path(w, depth);
    }
    w->expanded[idx] = true;
    for (uint32_t k = 0; k < next->len; k++) {
        int64_t nidx = node_index(w->graph, next->u.items[k]);
        int rc = nidx < 0 ? 0 : walk_from(w, next->u.items[k], nidx, depth + 1);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
bi_graph_reachable_paths(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                         const struct pc_rego_value **out)
{
    int rc = check_operands(bc, a);
    if (rc != 0) {
        return rc;
    }
    struct walk w = { bc, a[0], NULL, { 0 }, NULL };
    w.path = pc_rego_arena_alloc(bc->arena, (MAX_GRAPH_DEPTH + 1) * sizeof(*w.path));
    w.expanded = pc_rego_arena_calloc(bc->arena, a[0]->len + 1, sizeof(*w.expanded));
    if (w.path == NULL || w.expanded == NULL) {
        return PC_REGO_ENOMEM;
    }
    pc_rego_builder_init(&w.paths, bc->arena, PC_REGO_SET);
    for (uint32_t i = 0; rc == 0 && i < a[1]->len; i++) {
        int64_t idx = node_index(a[0], a[1]->u.items[i]);
        rc = idx < 0 ? 0 : walk_from(&w, a[1]->u.items[i], idx, 0);
    }
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&w.paths));
}

static const struct pc_rego_builtin table[] = {
    { "graph.reachable", 2, 0, bi_graph_reachable },
    { "graph.reachable_paths", 2, 0, bi_graph_reachable_paths },
};

const struct pc_rego_builtin *
pc_rego_bi_graph_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
