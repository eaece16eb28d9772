/*
 * regex.globs_match: whether two glob-like patterns have a string in common.
 *
 * The patterns use a small regular language: literal characters, `.` (any character),
 * character classes `[a-z0-9]` and `[^...]`, backslash escapes, and the quantifiers `*` and
 * `+` on the preceding item. Each pattern becomes a chain of items, an item being a character
 * set that occurs once or repeats; the languages intersect when the product of the two chains
 * can reach both ends, moving together over a character both current sets admit, or alone past
 * a repeating item. The product has (n+1)(m+1) states, so the check is quadratic at worst.
 */
#include <stdint.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/utf8.h"

#define MAX_ITEMS 4096

struct crange {
    uint32_t lo;
    uint32_t hi;
};

/* A character set: the union of ranges, or its complement when negated. */
struct item {
    struct crange *ranges;
    uint32_t n;
    bool negated;
    bool repeats; /* `*`: zero or more */
};

struct chain {
    struct item *items;
    uint32_t n;
};

struct gparser {
    struct pc_rego_bctx *bc;
    const char *s;
    size_t len;
    size_t pos;
};

static int
glob_error(struct gparser *g, size_t pos, const char *what)
{
    return pc_rego_bi_fail(g->bc, PC_REGO_EEVAL_BUILTIN,
                           "input:%.*s, pos:%zu, %s: the input provided is invalid",
                           (int)(g->len > 200 ? 200 : g->len), g->s, pos, what);
}

static uint32_t
next_cp(struct gparser *g)
{
    uint32_t cp = 0;
    size_t k = pc_rego_utf8_decode(g->s + g->pos, g->len - g->pos, &cp);
    g->pos += k != 0 ? k : 1;
    return cp;
}

static int
add_range(struct pc_rego_arena *arena, struct item *it, uint32_t *cap, uint32_t lo, uint32_t hi)
{
    if (it->n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 4;
        struct crange *r = pc_rego_arena_alloc(arena, ncap * sizeof(*r));
        if (r == NULL) {
            return PC_REGO_ENOMEM;
        }
        if (it->n > 0) {
            memcpy(r, it->ranges, it->n * sizeof(*r));
        }
        it->ranges = r;
        *cap = ncap;
    }
    it->ranges[it->n].lo = lo;
    it->ranges[it->n++].hi = hi;
    return 0;
}

/* Parses a class after its '['. */
static int
parse_class(struct gparser *g, struct item *it)
{
    size_t open = g->pos;
    uint32_t cap = 0;
    if (g->pos < g->len && g->s[g->pos] == '^') {
        it->negated = true;
        g->pos++;
    }
    while (g->pos < g->len && g->s[g->pos] != ']') {
        if (g->s[g->pos] == '\\') {
            g->pos++;
        }
        if (g->pos >= g->len) {
            break;
        }
        uint32_t lo = next_cp(g);
        uint32_t hi = lo;
        if (g->pos + 1 < g->len && g->s[g->pos] == '-' && g->s[g->pos + 1] != ']') {
            g->pos++;
            if (g->s[g->pos] == '\\') {
                g->pos++;
            }
            hi = g->pos < g->len ? next_cp(g) : lo;
            if (hi < lo) {
                return glob_error(g, g->pos, "range with its end before its start");
            }
        }
        int rc = add_range(g->bc->arena, it, &cap, lo, hi);
        if (rc != 0) {
            return rc;
        }
    }
    if (g->pos >= g->len) {
        return glob_error(g, open, "set-open '[' with no closing ']'");
    }
    g->pos++;
    return 0;
}

/* Parses one item (with its quantifier) into c. */
static int
parse_item(struct gparser *g, struct chain *c)
{
    char ch = g->s[g->pos];
    struct item it = { NULL, 0, false, false };
    uint32_t cap = 0;
    int rc = 0;
    if (ch == '*' || ch == '+') {
        return glob_error(g, g->pos + 1, "quantifier with no preceding character");
    }
    if (ch == ']') {
        return glob_error(g, g->pos + 1, "set-close ']' with no preceding '['");
    }
    if (ch == '.') {
        g->pos++;
        it.negated = true;
    } else if (ch == '[') {
        g->pos++;
        rc = parse_class(g, &it);
    } else {
        if (ch == '\\') {
            if (++g->pos >= g->len) {
                return glob_error(g, g->pos, "escape with no following character");
            }
        }
        uint32_t cp = next_cp(g);
        rc = add_range(g->bc->arena, &it, &cap, cp, cp);
    }
    if (rc != 0) {
        return rc;
    }
    bool plus = g->pos < g->len && g->s[g->pos] == '+';
    bool star = g->pos < g->len && g->s[g->pos] == '*';
    if (plus || star) {
        g->pos++;
    }
    if (c->n + 2 > MAX_ITEMS) {
        return pc_rego_bi_fail(g->bc, PC_REGO_EEVAL_BUILTIN, "pattern too long");
    }
    /* x+ is x followed by x*. */
    if (!star) {
        c->items[c->n++] = it;
    }
    if (plus || star) {
        it.repeats = true;
        c->items[c->n++] = it;
    }
    return 0;
}

static int
parse_chain(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, int pos, struct chain *c)
{
    struct gparser g = { bc, NULL, 0, 0 };
    int rc = pc_rego_bi_arg_string(bc, a, pos, &g.s, &g.len);
    if (rc != 0) {
        return rc;
    }
    size_t cap = g.len * 2 + 1 < MAX_ITEMS ? g.len * 2 + 1 : MAX_ITEMS;
    c->items = pc_rego_arena_alloc(bc->arena, cap * sizeof(*c->items));
    c->n = 0;
    if (c->items == NULL) {
        return PC_REGO_ENOMEM;
    }
    while (rc == 0 && g.pos < g.len) {
        rc = parse_item(&g, c);
    }
    return rc;
}

/* Whether some character of the ranges r[0..n) lies outside every range of not[0..m). */
static bool
escapes(const struct crange *r, uint32_t n, const struct crange * not, uint32_t m)
{
    for (uint32_t i = 0; i < n; i++) {
        /* Walk the uncovered part of r[i] from its low end. */
        uint32_t lo = r[i].lo;
        bool moved = true;
        while (moved) {
            moved = false;
            for (uint32_t j = 0; j < m; j++) {
                if (not [j].lo <= lo && lo <= not [j].hi) {
                    if (not [j].hi >= r[i].hi) {
                        goto next_range;
                    }
                    lo = not [j].hi + 1;
                    moved = true;
                }
            }
        }
        return true;
next_range:;
    }
    return false;
}

static bool
overlap(const struct item *x, const struct item *y)
{
    if (x->negated && y->negated) {
        return true; /* two co-finite sets always share characters */
    }
    if (x->negated) {
        return escapes(y->ranges, y->n, x->ranges, x->n);
    }
    if (y->negated) {
        return escapes(x->ranges, x->n, y->ranges, y->n);
    }
    for (uint32_t i = 0; i < x->n; i++) {
        for (uint32_t j = 0; j < y->n; j++) {
            if (x->ranges[i].lo <= y->ranges[j].hi && y->ranges[j].lo <= x->ranges[i].hi) {
                return true;
            }
        }
    }
    return false;
}

/* Depth-first search of the product automaton from (0, 0) to (a->n, b->n). */
static int
intersects(struct pc_rego_arena *arena, const struct chain *a, const struct chain *b, bool *yes)
{
    size_t w = (size_t)b->n + 1;
    size_t states = ((size_t)a->n + 1) * w;
    uint8_t *seen = pc_rego_arena_calloc(arena, states, 1);
    uint32_t *stack = pc_rego_arena_alloc(arena, states * 2 * sizeof(*stack));
    size_t top = 0;
    if (seen == NULL || stack == NULL) {
        return PC_REGO_ENOMEM;
    }
    *yes = false;
    seen[0] = 1;
    stack[top++] = 0;
    stack[top++] = 0;
    while (top > 0) {
        uint32_t j = stack[--top];
        uint32_t i = stack[--top];
        if (i == a->n && j == b->n) {
            *yes = true;
            return 0;
        }
        uint32_t next[3][2];
        int k = 0;
        if (i < a->n && a->items[i].repeats) {
            next[k][0] = i + 1;
            next[k++][1] = j;
        }
        if (j < b->n && b->items[j].repeats) {
            next[k][0] = i;
            next[k++][1] = j + 1;
        }
        if (i < a->n && j < b->n && overlap(&a->items[i], &b->items[j])) {
            next[k][0] = a->items[i].repeats ? i : i + 1;
            next[k++][1] = b->items[j].repeats ? j : j + 1;
        }
        for (int t = 0; t < k; t++) {
            size_t s = next[t][0] * w + next[t][1];
            if (!seen[s]) {
                seen[s] = 1;
                stack[top++] = next[t][0];
                stack[top++] = next[t][1];
            }
        }
    }
    return 0;
}

static int
bi_regex_globs_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                     const struct pc_rego_value **out)
{
    struct chain x;
    struct chain y;
    bool yes = false;
    int rc = parse_chain(bc, a, 1, &x);
    if (rc == 0) {
        rc = parse_chain(bc, a, 2, &y);
    }
    if (rc == 0) {
        rc = intersects(bc->arena, &x, &y, &yes);
    }
    return rc != 0 ? rc : pc_rego_bi_ret_bool(out, yes);
}

static const struct pc_rego_builtin table[] = {
    { "regex.globs_match", 2, 0, bi_regex_globs_match },
};

const struct pc_rego_builtin *
pc_rego_bi_globs_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
