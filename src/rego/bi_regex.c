/*
 * Regular-expression and glob builtins.
 *
 * Patterns are Go RE2 syntax compiled through the evaluation context's cache (regex.h).
 * Iteration over matches follows Go's regexp package: successive non-overlapping matches,
 * an empty match right after a previous match ignored, replacement templates expanding $1,
 * ${1}, $name and $$. glob.match follows the gobwas/glob library OPA uses: `*` spans
 * anything but the delimiters, `**` anything, `?` one non-delimiter character, [...] classes
 * with `!` negation and ranges, {a,b} alternatives, `\` escapes.
 */
#include <stdint.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/regex.h"
#include "rego/strbuf.h"
#include "rego/utf8.h"

#define MAX_CAPTURES 64

static int
ret_buf(struct pc_rego_bctx *bc, const struct pc_rego_value **out, struct pc_rego_strbuf *sb)
{
    if (pc_rego_strbuf_failed(sb)) {
        return PC_REGO_ENOMEM;
    }
    return pc_rego_bi_ret(out,
                          pc_rego_string_ref(bc->arena, sb->data != NULL ? sb->data : "", sb->len));
}

static int
compile(struct pc_rego_bctx *bc, const struct pc_rego_value *pattern, pcre2_code **code)
{
    const char *msg = NULL;
    *code = pc_rego_regex_get(pc_rego_bctx_regex(bc), pattern->u.s, pattern->len, &msg);
    if (*code == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s: `%.*s`", msg,
                               (int)(pattern->len > 200 ? 200 : pattern->len), pattern->u.s);
    }
    return 0;
}

/* One match: group offsets, PCRE2_UNSET where a group did not take part. */
struct match {
    size_t ov[2 * MAX_CAPTURES];
    uint32_t ncap;
};

typedef int (*match_fn)(struct pc_rego_bctx *bc, const struct match *m, void *ud);

/*
 * Calls fn for up to n (n < 0: all) successive matches of code in s, as Go's regexp
 * allMatches does.
 */
static int
each_match(struct pc_rego_bctx *bc, pcre2_code *code, const char *s, size_t len, int64_t n,
           match_fn fn, void *ud)
{
    struct match m;
    m.ncap = pc_rego_regex_ncap(code);
    if (m.ncap > MAX_CAPTURES) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "too many capture groups");
    }
    size_t pos = 0;
    long prev_end = -1;
    for (int64_t count = 0; (n < 0 || count < n) && pos <= len;) {
        int r = pc_rego_regex_exec(pc_rego_bctx_regex(bc), code, s, len, pos, m.ov, m.ncap);
        if (r < 0) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "regular expression too complex");
        }
        if (r == 0) {
            break;
        }
        bool accept = true;
        if (m.ov[1] == pos) {
            accept = (long)m.ov[0] != prev_end;
            uint32_t cp;
            pos += pos < len ? pc_rego_utf8_decode(s + pos, len - pos, &cp) : 1;
        } else {
            pos = m.ov[1];
        }
        prev_end = (long)m.ov[1];
        if (accept) {
            int rc = fn(bc, &m, ud);
            if (rc != 0) {
                return rc;
            }
            count++;
        }
    }
    return 0;
}

static int
pattern_and_value(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, int ppos, int vpos,
                  pcre2_code **code, const char **s, size_t *n)
{
    const char *p;
    size_t pn;
    int rc = pc_rego_bi_arg_string(bc, a, ppos, &p, &pn);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, vpos, s, n);
    }
    return rc == 0 ? compile(bc, a[ppos - 1], code) : rc;
}

static int
bi_regex_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    pcre2_code *code;
    const char *s;
    size_t n;
    int rc = pattern_and_value(bc, a, 1, 2, &code, &s, &n);
    if (rc != 0) {
        return rc;
    }
    size_t ov[2];
    int r = pc_rego_regex_exec(pc_rego_bctx_regex(bc), code, s, n, 0, ov, 1);
    if (r < 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "regular expression too complex");
    }
    return pc_rego_bi_ret_bool(out, r == 1);
}

static int
bi_regex_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                  const struct pc_rego_value **out)
{
    if (a[0]->kind != PC_REGO_STRING) {
        return pc_rego_bi_ret_bool(out, false);
    }
    return pc_rego_bi_ret_bool(out,
                               pc_rego_regex_valid(pc_rego_bctx_regex(bc), a[0]->u.s, a[0]->len));
}

struct split_ud {
    struct pc_rego_builder *b;
    const char *s;
    size_t beg;
    size_t end;
};

static int
split_one(struct pc_rego_bctx *bc, const struct match *m, void *ud)
{
    struct split_ud *su = ud;
    su->end = m->ov[0];
    if (m->ov[1] != 0
        && pc_rego_builder_push(su->b,
                                pc_rego_string(bc->arena, su->s + su->beg, su->end - su->beg))
               != 0) {
        return PC_REGO_ENOMEM;
    }
    su->beg = m->ov[1];
    return 0;
}

static int
bi_regex_split(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    pcre2_code *code;
    const char *s;
    size_t n;
    int rc = pattern_and_value(bc, a, 1, 2, &code, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    if (a[0]->len > 0 && n == 0) {
        rc = pc_rego_builder_push(&b, pc_rego_string(bc->arena, "", 0));
        return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
    }
    struct split_ud su = { &b, s, 0, 0 };
    rc = each_match(bc, code, s, n, -1, split_one, &su);
    if (rc == 0 && su.end != n) {
        rc = pc_rego_builder_push(&b, pc_rego_string(bc->arena, s + su.beg, n - su.beg));
    }
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

struct collect_ud {
    struct pc_rego_builder *b;
    const char *s;
    bool groups;
};

static int
collect_one(struct pc_rego_bctx *bc, const struct match *m, void *ud)
{
    struct collect_ud *cu = ud;
    if (!cu->groups) {
        return pc_rego_builder_push(
            cu->b, pc_rego_string(bc->arena, cu->s + m->ov[0], m->ov[1] - m->ov[0]));
    }
    struct pc_rego_builder g;
    pc_rego_builder_init(&g, bc->arena, PC_REGO_ARRAY);
    for (uint32_t i = 0; i < m->ncap; i++) {
        size_t st = m->ov[2 * i];
        size_t en = m->ov[2 * i + 1];
        bool unset = st == PCRE2_UNSET;
        if (pc_rego_builder_push(
                &g, pc_rego_string(bc->arena, unset ? "" : cu->s + st, unset ? 0 : en - st))
            != 0) {
            return PC_REGO_ENOMEM;
        }
    }
    return pc_rego_builder_push(cu->b, pc_rego_builder_finish(&g));
}

static int
find_all(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out, bool groups)
{
    pcre2_code *code;
    const char *s;
    size_t n;
    int64_t limit;
    int rc = pattern_and_value(bc, a, 1, 2, &code, &s, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 3, &limit);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    struct collect_ud cu = { &b, s, groups };
    rc = each_match(bc, code, s, n, limit, collect_one, &cu);
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
bi_regex_find_n(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    return find_all(bc, a, out, false);
}

static int
bi_regex_find_submatch(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                       const struct pc_rego_value **out)
{
    return find_all(bc, a, out, true);
}

/* Go's Regexp.Expand for one replacement: $1, ${1}, $name, ${name}, $$. */
static void
expand(struct pc_rego_strbuf *sb, pcre2_code *code, const char *tmpl, size_t tn, const char *s,
       const struct match *m)
{
    for (size_t i = 0; i < tn; i++) {
        if (tmpl[i] != '$' || i + 1 >= tn) {
            pc_rego_strbuf_addc(sb, tmpl[i]);
            continue;
        }
        if (tmpl[i + 1] == '$') {
            pc_rego_strbuf_addc(sb, '$');
            i++;
            continue;
        }
        bool brace = tmpl[i + 1] == '{';
        size_t start = i + 1 + (brace ? 1 : 0);
        size_t end = start;
        while (end < tn
               && ((tmpl[end] >= 'a' && tmpl[end] <= 'z') || (tmpl[end] >= 'A' && tmpl[end] <= 'Z')
                   || (tmpl[end] >= '0' && tmpl[end] <= '9') || tmpl[end] == '_')) {
            end++;
        }
        if (end == start || (brace && (end >= tn || tmpl[end] != '}'))) {
            pc_rego_strbuf_addc(sb, '$');
            continue;
        }
        long group = -1;
        bool numeric = true;
        for (size_t k = start; k < end; k++) {
            numeric = numeric && tmpl[k] >= '0' && tmpl[k] <= '9';
        }
        if (numeric) {
            group = 0;
            for (size_t k = start; k < end && group < 100000; k++) {
                group = group * 10 + (tmpl[k] - '0');
            }
        } else {
            char name[128];
            size_t nl = end - start < sizeof(name) - 1 ? end - start : sizeof(name) - 1;
            memcpy(name, tmpl + start, nl);
            name[nl] = '\0';
            int g = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);
            group = g > 0 ? g : -1;
        }
        if (group >= 0 && (uint32_t)group < m->ncap && m->ov[2 * group] != PCRE2_UNSET) {
            pc_rego_strbuf_add(sb, s + m->ov[2 * group], m->ov[2 * group + 1] - m->ov[2 * group]);
        }
        i = brace ? end : end - 1;
    }
}

struct replace_ud {
    struct pc_rego_strbuf *sb;
    pcre2_code *code;
    const char *s;
    const char *tmpl;
    size_t tn;
    size_t last;
};

static int
replace_one(struct pc_rego_bctx *bc, const struct match *m, void *ud)
{
    (void)bc;
    struct replace_ud *ru = ud;
    pc_rego_strbuf_add(ru->sb, ru->s + ru->last, m->ov[0] - ru->last);
    expand(ru->sb, ru->code, ru->tmpl, ru->tn, ru->s, m);
    ru->last = m->ov[1];
    return 0;
}

static int
bi_regex_replace(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    pcre2_code *code;
    const char *s;
    size_t n;
    const char *t;
    size_t tn;
    int rc = pattern_and_value(bc, a, 2, 1, &code, &s, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 3, &t, &tn);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    struct replace_ud ru = { &sb, code, s, t, tn, 0 };
    rc = each_match(bc, code, s, n, -1, replace_one, &ru);
    if (rc != 0) {
        return rc;
    }
    pc_rego_strbuf_add(&sb, s + ru.last, n - ru.last);
    return ret_buf(bc, out, &sb);
}

/* Globs. */

enum gkind {
    G_LIT,
    G_ANY,   /* * */
    G_SUPER, /* ** */
    G_ONE,   /* ? */
    G_CLASS, /* [...] */
    G_ALT,   /* {a,b} */
};

struct gnode {
    uint8_t kind;
    bool negated;
    uint32_t cp;
    uint32_t *ranges; /* CLASS: pairs lo, hi */
    uint32_t nranges;
    struct gseq *alts; /* ALT */
    uint32_t nalts;
};

struct gseq {
    struct gnode *nodes;
    uint32_t n;
};

struct gparse {
    struct pc_rego_arena *arena;
    const uint32_t *p;
    size_t n;
    size_t i;
    int depth;
};

static bool gparse_seq(struct gparse *g, struct gseq *out, bool in_alt);

static bool
gpush(struct gparse *g, struct gseq *seq, uint32_t *cap, const struct gnode *node)
{
    if (seq->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        struct gnode *nodes = pc_rego_arena_alloc(g->arena, *cap * sizeof(*nodes));
        if (nodes == NULL) {
            return false;
        }
        if (seq->n > 0) {
            memcpy(nodes, seq->nodes, seq->n * sizeof(*nodes));
        }
        seq->nodes = nodes;
    }
    seq->nodes[seq->n++] = *node;
    return true;
}

static bool
gparse_class(struct gparse *g, struct gnode *node)
{
    node->kind = G_CLASS;
    if (g->i < g->n && g->p[g->i] == '!') {
        node->negated = true;
        g->i++;
    }
    uint32_t *ranges = pc_rego_arena_alloc(g->arena, (g->n + 1) * 2 * sizeof(uint32_t));
    if (ranges == NULL) {
        return false;
    }
    uint32_t nr = 0;
    while (g->i < g->n && g->p[g->i] != ']') {
        uint32_t lo = g->p[g->i++];
        uint32_t hi = lo;
        if (g->i + 1 < g->n && g->p[g->i] == '-' && g->p[g->i + 1] != ']') {
            hi = g->p[g->i + 1];
            g->i += 2;
        }
        ranges[2 * nr] = lo;
        ranges[2 * nr + 1] = hi;
        nr++;
    }
    if (g->i >= g->n) {
        return false;
    }
    g->i++;
    node->ranges = ranges;
    node->nranges = nr;
    return true;
}

static bool
gparse_alt(struct gparse *g, struct gnode *node)
{
    node->kind = G_ALT;
    uint32_t cap = 0;
    for (;;) {
        if (node->nalts == cap) {
            cap = cap ? cap * 2 : 4;
            struct gseq *alts = pc_rego_arena_alloc(g->arena, cap * sizeof(*alts));
            if (alts == NULL) {
                return false;
            }
            if (node->nalts > 0) {
                memcpy(alts, node->alts, node->nalts * sizeof(*alts));
            }
            node->alts = alts;
        }
        if (!gparse_seq(g, &node->alts[node->nalts++], true)) {
            return false;
        }
        if (g->i < g->n && g->p[g->i] == ',') {
            g->i++;
            continue;
        }
        if (g->i < g->n && g->p[g->i] == '}') {
            g->i++;
            return true;
        }
        return false;
    }
}

static bool
gparse_seq(struct gparse *g, struct gseq *out, bool in_alt)
{
    uint32_t cap = 0;
    out->nodes = NULL;
    out->n = 0;
    if (++g->depth > 32) {
        return false;
    }
    while (g->i < g->n) {
        uint32_t c = g->p[g->i];
        if (in_alt && (c == ',' || c == '}')) {
            break;
        }
        struct gnode node;
        memset(&node, 0, sizeof(node));
        g->i++;
        if (c == '*') {
            node.kind = G_ANY;
            if (g->i < g->n && g->p[g->i] == '*') {
                node.kind = G_SUPER;
                g->i++;
            }
        } else if (c == '?') {
            node.kind = G_ONE;
        } else if (c == '[') {
            if (!gparse_class(g, &node)) {
                return false;
            }
        } else if (c == '{') {
            if (!gparse_alt(g, &node)) {
                return false;
            }
        } else {
            if (c == '\\') {
                if (g->i >= g->n) {
                    return false;
                }
                c = g->p[g->i++];
            }
            node.kind = G_LIT;
            node.cp = c;
        }
        if (!gpush(g, out, &cap, &node)) {
            return false;
        }
    }
    g->depth--;
    return true;
}

/* Matching continues with the rest of each enclosing sequence: a linked stack of frames. */
struct gframe {
    const struct gseq *seq;
    uint32_t idx;
    const struct gframe *up;
};

struct gmatch {
    const uint32_t *s;
    size_t n;
    const uint32_t *delims;
    size_t ndelims;
    long budget;
};

static bool
is_delim(const struct gmatch *m, uint32_t c)
{
    for (size_t i = 0; i < m->ndelims; i++) {
        if (m->delims[i] == c) {
            return true;
        }
    }
    return false;
}

static bool
in_class(const struct gnode *node, uint32_t c)
{
    bool hit = false;
    for (uint32_t i = 0; i < node->nranges && !hit; i++) {
        hit = c >= node->ranges[2 * i] && c <= node->ranges[2 * i + 1];
    }
    return hit != node->negated;
}

static bool
gmatch_at(struct gmatch *m, const struct gseq *seq, uint32_t idx, const struct gframe *up,
          size_t pos)
{
    if (--m->budget < 0) {
        return false;
    }
    if (idx == seq->n) {
        return up != NULL ? gmatch_at(m, up->seq, up->idx, up->up, pos) : pos == m->n;
    }
    const struct gnode *node = &seq->nodes[idx];
    switch (node->kind) {
    case G_LIT:
        return pos < m->n && m->s[pos] == node->cp && gmatch_at(m, seq, idx + 1, up, pos + 1);
    case G_ONE:
        return pos < m->n && !is_delim(m, m->s[pos]) && gmatch_at(m, seq, idx + 1, up, pos + 1);
    case G_CLASS:
        return pos < m->n && in_class(node, m->s[pos]) && gmatch_at(m, seq, idx + 1, up, pos + 1);
    case G_ANY:
    case G_SUPER:
        for (size_t end = pos;; end++) {
            if (gmatch_at(m, seq, idx + 1, up, end)) {
                return true;
            }
            if (end >= m->n || (node->kind == G_ANY && is_delim(m, m->s[end]))) {
                return false;
            }
        }
    default: {
        struct gframe frame = { seq, idx + 1, up };
        for (uint32_t a = 0; a < node->nalts; a++) {
            if (gmatch_at(m, &node->alts[a], 0, &frame, pos)) {
                return true;
            }
        }
        return false;
    }
    }
}

/* Decodes s into runes in arena memory. */
static uint32_t *
runes_of(struct pc_rego_arena *arena, const char *s, size_t n, size_t *count)
{
    uint32_t *r = pc_rego_arena_alloc(arena, (n + 1) * sizeof(*r));
    size_t k = 0;
    for (size_t i = 0; r != NULL && i < n;) {
        i += pc_rego_utf8_decode(s + i, n - i, &r[k++]);
    }
    *count = k;
    return r;
}

static int
glob_delims(struct pc_rego_bctx *bc, const struct pc_rego_value *d, uint32_t **out, size_t *n)
{
    static uint32_t dot = '.';
    *out = NULL;
    *n = 0;
    if (d->kind == PC_REGO_NULL) {
        return 0;
    }
    if (d->kind != PC_REGO_ARRAY) {
        return pc_rego_bi_type_error(bc, 2, d, "array, null");
    }
    if (d->len == 0) {
        *out = &dot;
        *n = 1;
        return 0;
    }
    *out = pc_rego_arena_alloc(bc->arena, d->len * sizeof(uint32_t));
    if (*out == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < d->len; i++) {
        const struct pc_rego_value *x = d->u.items[i];
        if (x->kind != PC_REGO_STRING || pc_rego_utf8_count(x->u.s, x->len) != 1) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 2 must be array of runes but got array containing %s",
                                   pc_rego_type_name(x));
        }
        pc_rego_utf8_decode(x->u.s, x->len, &(*out)[i]);
    }
    *n = d->len;
    return 0;
}

static int
bi_glob_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *p;
    size_t pn;
    const char *s;
    size_t sn;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &p, &pn);
    struct gmatch m = { NULL, 0, NULL, 0, 1000000 };
    if (rc == 0) {
        rc = glob_delims(bc, a[1], (uint32_t **)&m.delims, &m.ndelims);
    }
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 3, &s, &sn);
    }
    if (rc != 0) {
        return rc;
    }
    size_t np;
    struct gparse g = { bc->arena, runes_of(bc->arena, p, pn, &np), 0, 0, 0 };
    g.n = np;
    m.s = runes_of(bc->arena, s, sn, &m.n);
    struct gseq seq;
    if (g.p == NULL || m.s == NULL) {
        return PC_REGO_ENOMEM;
    }
    if (!gparse_seq(&g, &seq, false) || g.i != g.n) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid glob pattern: %.*s",
                               (int)(pn > 200 ? 200 : pn), p);
    }
    bool ok = gmatch_at(&m, &seq, 0, NULL, 0);
    if (m.budget < 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "glob pattern too complex");
    }
    return pc_rego_bi_ret_bool(out, ok);
}

static int
bi_glob_quote_meta(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    const char *p;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &p, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?\\[]{}", p[i]) != NULL && p[i] != '\0') {
            pc_rego_strbuf_addc(&sb, '\\');
        }
        pc_rego_strbuf_addc(&sb, p[i]);
    }
    return ret_buf(bc, out, &sb);
}

/* Appends s[0..n) with the regular expression metacharacters escaped, as Go's QuoteMeta. */
static void
quote_meta(struct pc_rego_strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\0' && strchr("\\.+*?()|[]{}^$", s[i]) != NULL) {
            pc_rego_strbuf_addc(sb, '\\');
        }
        pc_rego_strbuf_addc(sb, s[i]);
    }
}

/*
 * regex.template_match: the template's text outside the delimiters matches literally, the
 * text between a delimiter pair is a regular expression; the whole value must match.
 * Delimiter pairs may nest (the outermost pair counts); unbalanced ones are an error.
 */
static int
template_pattern(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 struct pc_rego_strbuf *sb)
{
    const char *t;
    const char *open;
    const char *close;
    size_t n;
    size_t on;
    size_t cn;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &t, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 3, &open, &on);
    }
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 4, &close, &cn);
    }
    if (rc != 0) {
        return rc;
    }
    if (on == 0 || cn == 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "delimiters must not be empty");
    }
    size_t level = 0;
    size_t start = 0;
    size_t lit = 0;
    pc_rego_strbuf_addc(sb, '^');
    for (size_t i = 0; i < n; i++) {
        if (t[i] == open[0]) {
            if (level++ == 0) {
                quote_meta(sb, t + lit, i - lit);
                start = i + 1;
            }
        } else if (t[i] == close[0]) {
            if (level == 0) {
                level = SIZE_MAX; /* a closing delimiter with no opening one */
                break;
            }
            if (--level == 0) {
                pc_rego_strbuf_addc(sb, '(');
                pc_rego_strbuf_add(sb, t + start, i - start);
                pc_rego_strbuf_addc(sb, ')');
                lit = i + 1;
            }
        }
    }
    if (level != 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "unbalanced braces in %.*s",
                               (int)(n > 200 ? 200 : n), t);
    }
    quote_meta(sb, t + lit, n - lit);
    pc_rego_strbuf_addc(sb, '$');
    return pc_rego_strbuf_failed(sb) ? PC_REGO_ENOMEM : 0;
}

static int
bi_regex_template_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                        const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    const char *s;
    size_t n;
    const char *msg = NULL;
    pc_rego_strbuf_init(&sb, bc->arena);
    int rc = template_pattern(bc, a, &sb);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &s, &n);
    }
    if (rc != 0) {
        return rc;
    }
    pcre2_code *code = pc_rego_regex_get(pc_rego_bctx_regex(bc), sb.data, sb.len, &msg);
    if (code == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s", msg);
    }
    size_t ov[2];
    int r = pc_rego_regex_exec(pc_rego_bctx_regex(bc), code, s, n, 0, ov, 1);
    if (r < 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "regular expression too complex");
    }
    return pc_rego_bi_ret_bool(out, r == 1);
}

static const struct pc_rego_builtin table[] = {
    { "regex.match", 2, 0, bi_regex_match },
    { "regex.is_valid", 1, 0, bi_regex_is_valid },
    { "regex.split", 2, 0, bi_regex_split },
    { "regex.find_n", 3, 0, bi_regex_find_n },
    { "regex.find_all_string_submatch_n", 3, 0, bi_regex_find_submatch },
    { "regex.replace", 3, 0, bi_regex_replace },
    { "glob.match", 3, 0, bi_glob_match },
    { "glob.quote_meta", 1, 0, bi_glob_quote_meta },
    { "regex.template_match", 4, 0, bi_regex_template_match },
};

const struct pc_rego_builtin *
pc_rego_bi_regex_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
