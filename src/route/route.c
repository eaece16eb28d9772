/*
 * Route tables: built once per port on the control thread, then read by every worker.
 *
 * Shape of a table. Listeners are found by exact hostname (hash), then by wildcard suffix
 * (hash, longest suffix first), then the listener without a hostname. Inside a listener, routes
 * are grouped by the route hostname they were written with: one group per exact hostname, one
 * per wildcard suffix and one for routes without hostnames. Groups are tried in hostname
 * precedence order (exact, longer wildcard, shorter wildcard, none), and inside a group every
 * HTTPRouteMatch is a candidate filed by its path: Exact paths in a hash, RegularExpression
 * paths in one list, PathPrefix values in a trie of path segments whose children are found
 * through one hash keyed by (parent node, segment). Every candidate list is sorted once by the
 * remaining precedence criteria, so the first candidate whose method, header and query
 * conditions hold is the winner.
 *
 * All memory lives in the snapshot arena. Hash tables use open addressing with linear probing
 * and grow while the table is built; nothing changes after pc_route_table_build returns, which
 * is what makes lock-free sharing between threads safe.
 */
#include "route/route.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "core/alloc.h"
#include "core/arena.h"

/* Deepest PathPrefix, in segments: values are at most 1024 bytes, so at most 512 segments. */
#define MAX_PREFIX_DEPTH 512

/* Backtracking budget per regular expression match; a pattern that needs more does not match. */
#define REGEX_MATCH_LIMIT 100000

/*
 * Stack bytes lent to PCRE2 for one match. JIT-compiled patterns need only the match data; the
 * interpreter also wants its 20 KiB frame vector at the first match.
 */
#define SCRATCH_JIT    512
#define SCRATCH_INTERP (24 * 1024)

/* Keys up to this many bytes are compared inside the slot, without touching other memory. */
#define INLINE_KEY_BYTES 24

/*
 * One hash table entry, one cache line. The trie fields repeat what the child node holds, so a
 * walk down the trie reads slots only and touches a node when it has to look at candidates.
 */
struct slot {
    uint64_t hash;
    uint32_t len;
    uint32_t scope;
    void *value;
    const char *key;       /* NULL: an empty slot */
    uint32_t child_id;     /* children table: the child node's id */
    uint32_t child_fanout; /* children table: how many children the child has */
    char inline_key[INLINE_KEY_BYTES];
};

_Static_assert(sizeof(struct slot) == 64, "a slot fills one cache line");

struct hash_table {
    struct slot *slots; /* NULL until the first insert; 64-byte aligned */
    uint32_t mask;
    uint32_t n;
};

struct regex {
    pcre2_code *code;
    bool is_jit;
};

struct value_condition {
    const char *name;
    uint32_t name_len;
    const char *value;
    uint32_t value_len;
    const struct regex *re; /* NULL: exact comparison */
};

/* One HTTPRouteMatch of one rule, as seen by one listener. */
struct candidate {
    const struct pc_route_rule *rule;
    const char *method;
    uint32_t method_len;
    uint16_t n_headers;
    uint16_t n_query;
    const struct value_condition *headers;
    const struct value_condition *query;
    const struct regex *path_re;
    uint32_t path_chars; /* precedence: prefix or pattern length as written */
    uint32_t prefix_len; /* PathPrefix: bytes covered, trailing slash excluded */
    int64_t created_ms;
    const char *route_name;
    uint32_t rule_index;
    uint32_t match_index;
};

/* Candidates collected while building, then frozen into a sorted array. */
struct link {
    const struct candidate *candidate;
    struct link *next;
};

struct candidate_list {
    const struct candidate **items;
    uint32_t n;
    struct link *head;
    struct candidate_list *next_all;
};

struct trie_node {
    uint32_t id;
    uint32_t prefix_len;
    uint32_t n_children; /* 0: a leaf, where the walk stops without another lookup */
    struct candidate_list candidates;
};

struct host_group {
    uint32_t id;
    uint32_t n_exact;
    struct trie_node *root; /* NULL: no PathPrefix candidates */
    struct candidate_list regex;
};

struct listener_entry {
    const struct pc_listener *listener;
    uint32_t id;
    struct host_group *any; /* routes without hostnames */
};

struct pc_route_table {
    struct hash_table listener_exact; /* host -> listener_entry */
    struct hash_table listener_wild;  /* suffix after "*." -> listener_entry */
    const struct listener_entry *listener_any;
    struct hash_table group_exact; /* (listener id, host) -> host_group */
    struct hash_table group_wild;  /* (listener id, suffix) -> host_group */
    struct hash_table exact_paths; /* (group id, path) -> candidate_list */
    struct hash_table children;    /* (node id, segment) -> trie_node */
    pcre2_match_context *match_ctx;
};

/* Build-time state, on the builder's stack. */
struct builder {
    struct pc_arena *arena;
    struct pc_route_table *table;
    struct pc_err *err;
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    struct candidate_list *all_lists;
    uint32_t next_group_id;
    uint32_t next_node_id;
};

/* ---- hashing ---- */

static uint64_t
hash_key(uint32_t scope, const char *key, size_t len)
{
    /*
     * Eight bytes per multiply: keys are path segments and hostnames from the configuration,
     * hashed once per lookup on the hot path, and need spread rather than resistance to chosen
     * collisions (a client can only choose what it looks up, not what the table holds).
     */
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)scope << 32) ^ len;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (i < len) {
        uint64_t w = 0;

        memcpy(&w, key + i, len - i);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

static const struct slot *
find_slot(const struct hash_table *t, uint32_t scope, const char *key, size_t len)
{
    uint64_t h;
    uint32_t i;

    if (t->slots == NULL) {
        return NULL;
    }
    h = hash_key(scope, key, len);
    for (i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        const struct slot *s = &t->slots[i];

        if (s->key == NULL) {
            return NULL;
        }
        if (s->hash == h && s->scope == scope && s->len == len
            && memcmp(len <= INLINE_KEY_BYTES ? s->inline_key : s->key, key, len) == 0) {
            return s;
        }
    }
}

static void *
find_entry(const struct hash_table *t, uint32_t scope, const char *key, size_t len)
{
    const struct slot *s = find_slot(t, scope, key, len);

    return s != NULL ? s->value : NULL;
}

static void
place_slot(struct slot *slots, uint32_t mask, const struct slot *src)
{
    uint32_t i = (uint32_t)src->hash & mask;

    while (slots[i].key != NULL) {
        i = (i + 1) & mask;
    }
    slots[i] = *src;
}

static int
grow_table(struct pc_arena *arena, struct hash_table *t)
{
    uint32_t cap = t->slots == NULL ? 16 : (t->mask + 1) * 2;
    char *mem = pc_arena_alloc(arena, (size_t)cap * sizeof(struct slot) + 64);
    struct slot *slots;

    if (mem == NULL) {
        return PC_ENOMEM;
    }
    slots = (struct slot *)(void *)(mem + (64 - (uintptr_t)mem % 64) % 64);
    memset(slots, 0, (size_t)cap * sizeof(*slots));
    if (t->slots != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            if (t->slots[i].key != NULL) {
                place_slot(slots, cap - 1, &t->slots[i]);
            }
        }
    }
    /* The old array stays in the arena: at most as much again as the final one. */
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

/* Inserts a key known to be absent; key must outlive the table. */
static int
insert_entry(struct pc_arena *arena, struct hash_table *t, uint32_t scope, const char *key,
             size_t len, void *value)
{
    struct slot s = { .hash = hash_key(scope, key, len),
                      .len = (uint32_t)len,
                      .scope = scope,
                      .value = value,
                      .key = key };

    if (len <= INLINE_KEY_BYTES) {
        memcpy(s.inline_key, key, len);
    }
    if (t->slots == NULL || (t->n + 1) * 2 > t->mask + 1) {
        int rc = grow_table(arena, t);

        if (rc != 0) {
            return rc;
        }
    }
    place_slot(t->slots, t->mask, &s);
    t->n++;
    return 0;
}

/* ---- regular expressions ---- */

static void *
allocate_on_heap(size_t n, void *data)
{
    return pc_malloc(n);
}

static void
free_on_heap(void *p, void *data)
{
    pc_free(p);
}

/* Bump allocator over a caller's stack buffer; nothing is freed before the buffer goes away. */
struct scratch {
    char *buf;
    size_t used;
    size_t cap;
};

static void *
allocate_on_scratch(size_t n, void *data)
{
    struct scratch *s = data;
    size_t need = (n + 15) & ~(size_t)15;
    void *p;

    if (s->cap - s->used < need) {
        return NULL;
    }
    p = s->buf + s->used;
    s->used += need;
    return p;
}

static void
free_on_scratch(void *p, void *data)
{
}

/*
 * The options that keep PCRE2 close to RE2, the flavour Gateway API users write for: UTF-8
 * subjects (invalid sequences simply fail to match), the whole subject must match, '$' means
 * the very end, and \C (which can split a UTF-8 character) is refused.
 */
#define REGEX_OPTIONS                                                                              \
    (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED                      \
     | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)

static pcre2_code *
compile_regex(const char *pattern, size_t len, pcre2_compile_context *cctx, char *msg, size_t size,
              size_t *offset)
{
    int code;
    PCRE2_SIZE where = 0;
    uint32_t backrefs = 0;
    pcre2_code *re;

    re = pcre2_compile((PCRE2_SPTR)pattern, len, REGEX_OPTIONS, &code, &where, cctx);
    if (re == NULL) {
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, size);
        *offset = where;
        return NULL;
    }

    /* RE2 has no backreferences, and they are what makes matching time explode. */
    pcre2_pattern_info(re, PCRE2_INFO_BACKREFMAX, &backrefs);
    if (backrefs > 0) {
        snprintf(msg, size, "backreferences are not supported");
        *offset = 0;
        pcre2_code_free(re);
        return NULL;
    }
    return re;
}

int
pc_route_regex_check(const char *pattern, size_t len, char *msg, size_t size, size_t *offset)
{
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    pcre2_code *re = NULL;
    int rc = PC_ENOMEM;

    gctx = pcre2_general_context_create(allocate_on_heap, free_on_heap, NULL);
    if (gctx == NULL) {
        goto out;
    }
    cctx = pcre2_compile_context_create(gctx);
    if (cctx == NULL) {
        goto fail_free_gctx;
    }

    re = compile_regex(pattern, len, cctx, msg, size, offset);
    rc = re != NULL ? 0 : PC_EINVAL;
    pcre2_code_free(re);

    pcre2_compile_context_free(cctx);
fail_free_gctx:
    pcre2_general_context_free(gctx);
out:
    return rc;
}

static void
free_regex(void *data)
{
    pcre2_code_free(data);
}

static void
free_match_ctx(void *data)
{
    pcre2_match_context_free(data);
}

static const struct regex *
build_regex(struct builder *b, const char *pattern, size_t len)
{
    char msg[160];
    size_t offset = 0;
    struct regex *re = pc_arena_calloc(b->arena, 1, sizeof(*re));
    pcre2_code *code;

    if (re == NULL) {
        pc_err_set(b->err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    code = compile_regex(pattern, len, b->cctx, msg, sizeof(msg), &offset);
    if (code == NULL) {
        pc_err_set(b->err, PC_EINVAL, "regular expression %.*s: %s at offset %zu", (int)len,
                   pattern, msg, offset);
        return NULL;
    }
    if (pc_arena_cleanup_add(b->arena, free_regex, code) != 0) {
        pcre2_code_free(code);
        pc_err_set(b->err, PC_ENOMEM, "out of memory");
        return NULL;
    }

    /* JIT is an optimisation: where it is unavailable the interpreter gives the same answers. */
    re->is_jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    re->code = code;
    return re;
}

static bool
run_regex(const struct regex *re, const pcre2_match_context *mctx, const char *subject, size_t len,
          char *buf, size_t cap)
{
    struct scratch s = { buf, 0, cap };
    pcre2_general_context *gctx;
    pcre2_match_data *md;
    int rc;

    gctx = pcre2_general_context_create(allocate_on_scratch, free_on_scratch, &s);
    if (gctx == NULL) {
        return false;
    }
    md = pcre2_match_data_create(1, gctx);
    if (md == NULL) {
        return false;
    }
    rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, (pcre2_match_context *)mctx);

    /*
     * A negative code is no match, a limit hit or the scratch running out: each one means the
     * pattern did not match. 0 is a match whose captures did not fit in the one-pair vector.
     */
    return rc >= 0;
}

static bool
match_regex_interpreted(const struct regex *re, const pcre2_match_context *mctx,
                        const char *subject, size_t len)
{
    alignas(max_align_t) char buf[SCRATCH_INTERP];

    return run_regex(re, mctx, subject, len, buf, sizeof(buf));
}

static bool
match_regex(const struct regex *re, const pcre2_match_context *mctx, const char *subject,
            size_t len)
{
    alignas(max_align_t) char buf[SCRATCH_JIT];

    if (!re->is_jit) {
        return match_regex_interpreted(re, mctx, subject, len);
    }
    return run_regex(re, mctx, subject, len, buf, sizeof(buf));
}

/* ---- building ---- */

static struct candidate_list *
create_candidate_list(struct builder *b)
{
    struct candidate_list *l = pc_arena_calloc(b->arena, 1, sizeof(*l));

    if (l != NULL) {
        l->next_all = b->all_lists;
        b->all_lists = l;
    }
    return l;
}

static int
push_candidate(struct builder *b, struct candidate_list *l, const struct candidate *c)
{
    struct link *k = pc_arena_alloc(b->arena, sizeof(*k));

    if (k == NULL) {
        return PC_ENOMEM;
    }
    k->candidate = c;
    k->next = l->head;
    l->head = k;
    l->n++;
    return 0;
}

/* The precedence of Gateway API HTTPRoute matches once the path kind is settled. */
static int
compare_candidates(const void *pa, const void *pb)
{
    const struct candidate *a = *(const struct candidate *const *)pa;
    const struct candidate *b = *(const struct candidate *const *)pb;
    int rc;

    if (a->path_chars != b->path_chars) {
        return a->path_chars > b->path_chars ? -1 : 1;
    }
    if ((a->method != NULL) != (b->method != NULL)) {
        return a->method != NULL ? -1 : 1;
    }
    if (a->n_headers != b->n_headers) {
        return a->n_headers > b->n_headers ? -1 : 1;
    }
    if (a->n_query != b->n_query) {
        return a->n_query > b->n_query ? -1 : 1;
    }
    if (a->created_ms != b->created_ms) {
        return a->created_ms < b->created_ms ? -1 : 1;
    }
    rc = strcmp(a->route_name, b->route_name);
    if (rc != 0) {
        return rc;
    }
    if (a->rule_index != b->rule_index) {
        return a->rule_index < b->rule_index ? -1 : 1;
    }
    return a->match_index < b->match_index ? -1 : (a->match_index > b->match_index);
}

static int
freeze_candidate_lists(struct builder *b)
{
    for (struct candidate_list *l = b->all_lists; l != NULL; l = l->next_all) {
        uint32_t i = l->n;

        if (l->n == 0) {
            continue;
        }
        l->items = pc_arena_alloc(b->arena, l->n * sizeof(*l->items));
        if (l->items == NULL) {
            return PC_ENOMEM;
        }
        for (struct link *k = l->head; k != NULL; k = k->next) {
            l->items[--i] = k->candidate;
        }
        qsort(l->items, l->n, sizeof(*l->items), compare_candidates);
        l->head = NULL;
    }
    return 0;
}

static struct host_group *
create_group(struct builder *b)
{
    struct host_group *g = pc_arena_calloc(b->arena, 1, sizeof(*g));

    if (g == NULL) {
        return NULL;
    }
    g->id = b->next_group_id++;
    g->regex.next_all = b->all_lists;
    b->all_lists = &g->regex;
    return g;
}

/* Finds or creates the group of a route hostname ("*.x" or exact) in listener le. */
static struct host_group *
find_or_add_group(struct builder *b, struct listener_entry *le, const char *hostname)
{
    bool is_wild = hostname[0] == '*';
    const char *key = is_wild ? hostname + 2 : hostname;
    struct hash_table *t = is_wild ? &b->table->group_wild : &b->table->group_exact;
    struct host_group *g = find_entry(t, le->id, key, strlen(key));

    if (g != NULL) {
        return g;
    }
    g = create_group(b);
    if (g == NULL || insert_entry(b->arena, t, le->id, key, strlen(key), g) != 0) {
        return NULL;
    }
    return g;
}

static struct trie_node *
create_node(struct builder *b, uint32_t prefix_len)
{
    struct trie_node *n = pc_arena_calloc(b->arena, 1, sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    n->id = b->next_node_id++;
    n->prefix_len = prefix_len;
    n->candidates.next_all = b->all_lists;
    b->all_lists = &n->candidates;
    return n;
}

/* Walks (creating as needed) the trie nodes for a normalised PathPrefix value. */
static struct trie_node *
insert_prefix(struct builder *b, struct host_group *g, const char *path, size_t len)
{
    struct trie_node *node = g->root;
    size_t pos = 1;

    if (node == NULL) {
        node = g->root = create_node(b, 0);
        if (node == NULL) {
            return NULL;
        }
    }
    while (pos < len) {
        const char *seg = path + pos;
        const char *slash = memchr(seg, '/', len - pos);
        size_t seg_len = slash != NULL ? (size_t)(slash - seg) : len - pos;
        struct trie_node *child;

        if (seg_len == 0) {
            break;
        }
        child = find_entry(&b->table->children, node->id, seg, seg_len);
        if (child == NULL) {
            child = create_node(b, (uint32_t)(pos + seg_len));
            if (child == NULL
                || insert_entry(b->arena, &b->table->children, node->id, seg, seg_len, child)
                       != 0) {
                return NULL;
            }
            node->n_children++;
        }
        node = child;
        pos += seg_len + 1;
    }
    return node;
}

static int
file_candidate(struct builder *b, struct host_group *g, const struct pc_route_match_spec *m,
               const struct candidate *c)
{
    struct candidate_list *l;

    switch (m->path_type) {
    case PC_ROUTE_PATH_EXACT:
        l = find_entry(&b->table->exact_paths, g->id, m->path, m->path_len);
        if (l == NULL) {
            l = create_candidate_list(b);
            if (l == NULL
                || insert_entry(b->arena, &b->table->exact_paths, g->id, m->path, m->path_len, l)
                       != 0) {
                return PC_ENOMEM;
            }
            g->n_exact++;
        }
        return push_candidate(b, l, c);
    case PC_ROUTE_PATH_REGEX:
        return push_candidate(b, &g->regex, c);
    case PC_ROUTE_PATH_PREFIX:
    default: {
        struct trie_node *node = insert_prefix(b, g, m->path, m->path_len);

        return node != NULL ? push_candidate(b, &node->candidates, c) : PC_ENOMEM;
    }
    }
}

static const struct value_condition *
build_conditions(struct builder *b, const struct pc_route_value_match *in, size_t n)
{
    struct value_condition *out;

    if (n == 0) {
        return NULL;
    }
    out = pc_arena_calloc(b->arena, n, sizeof(*out));
    if (out == NULL) {
        pc_err_set(b->err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].name = in[i].name;
        out[i].name_len = (uint32_t)in[i].name_len;
        out[i].value = in[i].value;
        out[i].value_len = (uint32_t)in[i].value_len;
        if (in[i].type == PC_ROUTE_VALUE_REGEX) {
            out[i].re = build_regex(b, in[i].value, in[i].value_len);
            if (out[i].re == NULL) {
                return NULL;
            }
        }
    }
    return out;
}

static const struct candidate *
build_candidate(struct builder *b, const struct pc_route_spec *route,
                const struct pc_route_spec_rule *r, size_t match_index)
{
    const struct pc_route_match_spec *m = &r->matches[match_index];
    struct candidate *c = pc_arena_calloc(b->arena, 1, sizeof(*c));

    if (c == NULL) {
        pc_err_set(b->err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    if (m->n_headers > UINT16_MAX || m->n_query > UINT16_MAX || m->path_len > UINT32_MAX / 2
        || (m->path_type == PC_ROUTE_PATH_PREFIX && m->path_len > 2 * MAX_PREFIX_DEPTH)) {
        pc_err_set(b->err, PC_EINVAL, "route %s: match too large for the route table", route->name);
        return NULL;
    }
    c->rule = r->rule;
    c->method = m->method;
    c->method_len = m->method != NULL ? (uint32_t)strlen(m->method) : 0;
    c->n_headers = (uint16_t)m->n_headers;
    c->n_query = (uint16_t)m->n_query;
    c->path_chars = (uint32_t)m->path_len;
    c->created_ms = route->created_ms;
    c->route_name = route->name;
    c->rule_index = r->rule->rule_index;
    c->match_index = (uint32_t)match_index;

    if (m->path_type == PC_ROUTE_PATH_PREFIX) {
        /* "/" covers nothing and a trailing slash is not part of what a prefix covers. */
        size_t covered = m->path_len;

        while (covered > 0 && m->path[covered - 1] == '/') {
            covered--;
        }
        c->prefix_len = (uint32_t)covered;
    }
    if (m->path_type == PC_ROUTE_PATH_REGEX) {
        c->path_re = build_regex(b, m->path, m->path_len);
        if (c->path_re == NULL) {
            return NULL;
        }
    }
    c->headers = build_conditions(b, m->headers, m->n_headers);
    c->query = build_conditions(b, m->query, m->n_query);
    if ((m->n_headers > 0 && c->headers == NULL) || (m->n_query > 0 && c->query == NULL)) {
        return NULL;
    }
    return c;
}

static int
add_route(struct builder *b, struct listener_entry *le, const struct pc_route_spec *route)
{
    struct host_group *groups[16];
    struct host_group **gs = groups;
    size_t n_groups = route->n_hostnames > 0 ? route->n_hostnames : 1;
    int rc = 0;

    if (n_groups > sizeof(groups) / sizeof(groups[0])) {
        gs = pc_arena_alloc(b->arena, n_groups * sizeof(*gs));
        if (gs == NULL) {
            return pc_err_set(b->err, PC_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < route->n_hostnames; i++) {
        gs[i] = find_or_add_group(b, le, route->hostnames[i]);
        if (gs[i] == NULL) {
            return pc_err_set(b->err, PC_ENOMEM, "out of memory");
        }
    }
    if (route->n_hostnames == 0) {
        if (le->any == NULL && (le->any = create_group(b)) == NULL) {
            return pc_err_set(b->err, PC_ENOMEM, "out of memory");
        }
        gs[0] = le->any;
    }

    for (size_t r = 0; r < route->n_rules && rc == 0; r++) {
        const struct pc_route_spec_rule *rule = &route->rules[r];

        for (size_t m = 0; m < rule->n_matches && rc == 0; m++) {
            const struct candidate *c = build_candidate(b, route, rule, m);

            if (c == NULL) {
                return b->err != NULL ? b->err->code : PC_EINVAL;
            }
            for (size_t g = 0; g < n_groups && rc == 0; g++) {
                rc = file_candidate(b, gs[g], &rule->matches[m], c);
            }
        }
    }
    return rc == 0 ? 0 : pc_err_set(b->err, rc, "out of memory");
}

static int
add_listener(struct builder *b, const struct pc_route_listener_spec *spec, uint32_t id)
{
    struct pc_route_table *t = b->table;
    const char *host = spec->listener->hostname;
    struct listener_entry *le = pc_arena_calloc(b->arena, 1, sizeof(*le));
    struct hash_table *index;
    const char *key;
    int rc;

    if (le == NULL) {
        return pc_err_set(b->err, PC_ENOMEM, "out of memory");
    }
    le->listener = spec->listener;
    le->id = id;

    if (host == NULL) {
        if (t->listener_any != NULL) {
            return pc_err_set(b->err, PC_EINVAL, "listeners %s and %s both accept any host",
                              t->listener_any->listener->name, spec->listener->name);
        }
        t->listener_any = le;
    } else {
        index = host[0] == '*' ? &t->listener_wild : &t->listener_exact;
        key = host[0] == '*' ? host + 2 : host;
        if (find_entry(index, 0, key, strlen(key)) != NULL) {
            return pc_err_set(b->err, PC_EINVAL, "two listeners claim hostname %s", host);
        }
        rc = insert_entry(b->arena, index, 0, key, strlen(key), le);
        if (rc != 0) {
            return pc_err_set(b->err, rc, "out of memory");
        }
    }

    for (size_t i = 0; i < spec->n_routes; i++) {
        rc = add_route(b, le, &spec->routes[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
setup_pcre(struct builder *b)
{
    b->gctx = pcre2_general_context_create(allocate_on_heap, free_on_heap, NULL);
    if (b->gctx == NULL) {
        return PC_ENOMEM;
    }
    b->cctx = pcre2_compile_context_create(b->gctx);
    b->table->match_ctx = pcre2_match_context_create(b->gctx);
    if (b->cctx == NULL || b->table->match_ctx == NULL) {
        pcre2_match_context_free(b->table->match_ctx);
        b->table->match_ctx = NULL;
        return PC_ENOMEM;
    }
    if (pc_arena_cleanup_add(b->arena, free_match_ctx, b->table->match_ctx) != 0) {
        pcre2_match_context_free(b->table->match_ctx);
        b->table->match_ctx = NULL;
        return PC_ENOMEM;
    }
    pcre2_set_match_limit(b->table->match_ctx, REGEX_MATCH_LIMIT);
    return 0;
}

/* Copies each child's id and fan-out into the slot that leads to it (see struct slot). */
static void
annotate_children(struct hash_table *children)
{
    for (uint32_t i = 0; children->slots != NULL && i <= children->mask; i++) {
        struct slot *s = &children->slots[i];
        const struct trie_node *node = s->value;

        if (s->key != NULL) {
            s->child_id = node->id;
            s->child_fanout = node->n_children;
        }
    }
}

int
pc_route_table_build(struct pc_arena *arena, const struct pc_route_listener_spec *listeners,
                     size_t n_listeners, const struct pc_route_table **out, struct pc_err *err)
{
    struct builder b = { .arena = arena, .err = err };
    int rc;

    b.table = pc_arena_calloc(arena, 1, sizeof(*b.table));
    if (b.table == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory");
    }
    rc = setup_pcre(&b);
    if (rc != 0) {
        pc_err_set(err, rc, "out of memory");
        goto out;
    }

    for (size_t i = 0; i < n_listeners; i++) {
        rc = add_listener(&b, &listeners[i], (uint32_t)i);
        if (rc != 0) {
            goto out;
        }
    }
    annotate_children(&b.table->children);
    rc = freeze_candidate_lists(&b);
    if (rc != 0) {
        pc_err_set(err, rc, "out of memory");
        goto out;
    }
    *out = b.table;

out:
    pcre2_compile_context_free(b.cctx);
    pcre2_general_context_free(b.gctx);
    return rc;
}

/* ---- matching ---- */

/* Compares the values of every header named c->name, joined by ",", with c->value. */
static bool
compare_joined_header(const struct pc_route_request *req, const struct value_condition *c)
{
    size_t pos = 0;
    bool first = true;

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (h->name_len != c->name_len || memcmp(h->name, c->name, c->name_len) != 0) {
            continue;
        }
        if (!first) {
            if (pos >= c->value_len || c->value[pos] != ',') {
                return false;
            }
            pos++;
        }
        first = false;
        if (c->value_len - pos < h->value_len || memcmp(c->value + pos, h->value, h->value_len)) {
            return false;
        }
        pos += h->value_len;
    }
    return pos == c->value_len;
}

static bool
match_joined_header(const struct pc_route_table *t, const struct pc_route_request *req,
                    const struct value_condition *c)
{
    char joined[PC_ROUTE_REGEX_SUBJECT_MAX];
    size_t len = 0;
    bool first = true;

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (h->name_len != c->name_len || memcmp(h->name, c->name, c->name_len) != 0) {
            continue;
        }
        if (!first) {
            if (len == sizeof(joined)) {
                return false;
            }
            joined[len++] = ',';
        }
        first = false;
        if (sizeof(joined) - len < h->value_len) {
            return false;
        }
        memcpy(joined + len, h->value, h->value_len);
        len += h->value_len;
    }
    return match_regex(c->re, t->match_ctx, joined, len);
}

static bool
check_header(const struct pc_route_table *t, const struct pc_route_request *req,
             const struct value_condition *c)
{
    const struct pc_header_pair *found = NULL;
    size_t count = 0;

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (h->name_len == c->name_len && memcmp(h->name, c->name, c->name_len) == 0) {
            found = found != NULL ? found : h;
            count++;
        }
    }
    if (count == 0) {
        return false;
    }
    if (count > 1) {
        /* RFC 9110 section 5.3: repeated field lines mean their values joined by commas. */
        return c->re != NULL ? match_joined_header(t, req, c) : compare_joined_header(req, c);
    }
    if (c->re != NULL) {
        return match_regex(c->re, t->match_ctx, found->value, found->value_len);
    }
    return found->value_len == c->value_len && memcmp(found->value, c->value, c->value_len) == 0;
}

/* Decodes one percent-encoded byte at s[i]; a malformed '%' stands for itself. */
static unsigned char
decode_at(const char *s, size_t len, size_t *i)
{
    static const signed char hex[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
        ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
        ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
        ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    };
    unsigned char c = (unsigned char)s[*i];

    if (c == '%' && len - *i >= 3 && hex[(unsigned char)s[*i + 1]] != 0
        && hex[(unsigned char)s[*i + 2]] != 0) {
        c = (unsigned char)((hex[(unsigned char)s[*i + 1]] - 1) << 4
                            | (hex[(unsigned char)s[*i + 2]] - 1));
        *i += 3;
        return c;
    }
    (*i)++;
    return c;
}

/* Compares the percent-decoded s[0..len) with want[0..want_len). */
static bool
compare_decoded(const char *s, size_t len, const char *want, size_t want_len)
{
    size_t i = 0;
    size_t k = 0;

    while (i < len) {
        if (k == want_len || decode_at(s, len, &i) != (unsigned char)want[k]) {
            return false;
        }
        k++;
    }
    return k == want_len;
}

static bool
check_query_value(const struct pc_route_table *t, const struct value_condition *c, const char *v,
                  size_t len)
{
    char decoded[PC_ROUTE_REGEX_SUBJECT_MAX];
    size_t n = 0;
    size_t i = 0;

    if (c->re == NULL) {
        return compare_decoded(v, len, c->value, c->value_len);
    }
    while (i < len) {
        if (n == sizeof(decoded)) {
            return false;
        }
        decoded[n++] = (char)decode_at(v, len, &i);
    }
    return match_regex(c->re, t->match_ctx, decoded, n);
}

/* The first parameter named c->name decides; later ones with that name are ignored. */
static bool
check_query(const struct pc_route_table *t, const struct pc_route_request *req,
            const struct value_condition *c)
{
    const char *q = req->query;
    const char *end = q != NULL ? q + req->query_len : NULL;

    while (q != NULL && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *name_end = eq != NULL ? eq : stop;

        if (compare_decoded(q, (size_t)(name_end - q), c->name, c->name_len)) {
            const char *v = eq != NULL ? eq + 1 : stop;

            return check_query_value(t, c, v, (size_t)(stop - v));
        }
        q = amp != NULL ? amp + 1 : NULL;
    }
    return false;
}

static bool
check_conditions(const struct pc_route_table *t, const struct candidate *c,
                 const struct pc_route_request *req)
{
    if (c->method != NULL
        && (req->method_len != c->method_len || memcmp(req->method, c->method, c->method_len))) {
        return false;
    }
    for (uint16_t i = 0; i < c->n_headers; i++) {
        if (!check_header(t, req, &c->headers[i])) {
            return false;
        }
    }
    for (uint16_t i = 0; i < c->n_query; i++) {
        if (!check_query(t, req, &c->query[i])) {
            return false;
        }
    }
    return true;
}

static const struct candidate *
find_first_holding(const struct pc_route_table *t, const struct candidate_list *l,
                   const struct pc_route_request *req)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (check_conditions(t, l->items[i], req)) {
            return l->items[i];
        }
    }
    return NULL;
}

static const struct candidate *
match_regex_paths(const struct pc_route_table *t, const struct host_group *g,
                  const struct pc_route_request *req)
{
    for (uint32_t i = 0; i < g->regex.n; i++) {
        const struct candidate *c = g->regex.items[i];

        if (check_conditions(t, c, req)
            && match_regex(c->path_re, t->match_ctx, req->path, req->path_len)) {
            return c;
        }
    }
    return NULL;
}

/* Longest PathPrefix first: collect the trie nodes along the path, then try them deepest first. */
static const struct candidate *
match_prefixes(const struct pc_route_table *t, const struct host_group *g,
               const struct pc_route_request *req)
{
    const struct trie_node *stack[MAX_PREFIX_DEPTH + 1];
    uint32_t id = g->root->id;
    uint32_t fanout = g->root->n_children;
    size_t depth = 0;
    size_t pos = 1;

    stack[depth++] = g->root;
    while (pos < req->path_len && depth <= MAX_PREFIX_DEPTH && fanout > 0) {
        const char *seg = req->path + pos;
        const char *slash = memchr(seg, '/', req->path_len - pos);
        size_t seg_len = slash != NULL ? (size_t)(slash - seg) : req->path_len - pos;
        const struct slot *child;

        if (seg_len == 0) {
            break;
        }
        child = find_slot(&t->children, id, seg, seg_len);
        if (child == NULL) {
            break;
        }
        stack[depth++] = child->value;
        id = child->child_id;
        fanout = child->child_fanout;
        pos += seg_len + 1;
    }

    while (depth > 0) {
        const struct trie_node *node = stack[--depth];
        const struct candidate *c =
            node->candidates.n > 0 ? find_first_holding(t, &node->candidates, req) : NULL;

        if (c != NULL) {
            return c;
        }
    }
    return NULL;
}

static bool
match_group(const struct pc_route_table *t, const struct host_group *g,
            const struct pc_route_request *req, struct pc_route_match *out)
{
    const struct candidate *c = NULL;

    if (g->n_exact > 0) {
        const struct candidate_list *l =
            find_entry(&t->exact_paths, g->id, req->path, req->path_len);

        c = l != NULL ? find_first_holding(t, l, req) : NULL;
    }
    if (c == NULL && g->regex.n > 0) {
        c = match_regex_paths(t, g, req);
    }
    if (c == NULL && g->root != NULL && req->path_len > 0 && req->path[0] == '/') {
        c = match_prefixes(t, g, req);
        if (c != NULL) {
            out->prefix_len = c->prefix_len;
        }
    }
    if (c == NULL) {
        return false;
    }
    out->rule = c->rule;
    return true;
}

static const struct listener_entry *
find_listener(const struct pc_route_table *t, const char *host, size_t len)
{
    const struct listener_entry *le;

    if (len > 0) {
        le = find_entry(&t->listener_exact, 0, host, len);
        if (le != NULL) {
            return le;
        }
        /* Longest wildcard suffix first: "*.a.example.com" outranks "*.example.com". */
        for (size_t i = 0; t->listener_wild.n > 0 && i + 1 < len; i++) {
            if (host[i] == '.') {
                le = find_entry(&t->listener_wild, 0, host + i + 1, len - i - 1);
                if (le != NULL) {
                    return le;
                }
            }
        }
    }
    return t->listener_any;
}

enum pc_route_result
pc_route_match(const struct pc_route_table *table, const struct pc_route_request *req,
               struct pc_route_match *out)
{
    const char *host = req->host;
    size_t len = req->host_len;
    const struct listener_entry *le;
    const struct host_group *g;

    out->listener = NULL;
    out->rule = NULL;
    out->prefix_len = 0;
    if (len > 0 && host[len - 1] == '.') {
        len--;
    }

    le = find_listener(table, host, len);
    if (le == NULL) {
        return PC_ROUTE_NO_LISTENER;
    }
    out->listener = le->listener;

    g = len > 0 ? find_entry(&table->group_exact, le->id, host, len) : NULL;
    if (g != NULL && match_group(table, g, req, out)) {
        return PC_ROUTE_MATCHED;
    }
    for (size_t i = 0; table->group_wild.n > 0 && i + 1 < len; i++) {
        if (host[i] != '.') {
            continue;
        }
        g = find_entry(&table->group_wild, le->id, host + i + 1, len - i - 1);
        if (g != NULL && match_group(table, g, req, out)) {
            return PC_ROUTE_MATCHED;
        }
    }
    if (le->any != NULL && match_group(table, le->any, req, out)) {
        return PC_ROUTE_MATCHED;
    }
    return PC_ROUTE_NO_RULE;
}
