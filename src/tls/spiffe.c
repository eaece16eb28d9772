/*
 * SPIFFE ID parsing and matching.
 *
 * The parser is a single forward scan that reports the first rule an ID breaks, with the rules
 * of SPIFFE-ID.md sections 2, 2.1 and 2.2. Matchers keep slices of an arena copy of their
 * pattern; a glob keeps one entry per path segment and is matched against the ID's segments
 * with the usual one-backtrack-point wildcard walk, applied twice: "**" segments over whole
 * segments, '*' over the characters of one segment. Both walks are O(n * m) in the worst case,
 * allocate nothing and use no recursion, so a hostile ID cannot exhaust the stack.
 */
#include "tls/spiffe.h"

#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"

static const char scheme[] = "spiffe://";
#define SCHEME_LEN (sizeof(scheme) - 1)

/* One path segment of a glob pattern. */
struct glob_segment {
    const char *text;
    size_t len;
    bool is_any_depth; /* the segment is exactly "**" */
    bool has_star;     /* holds a '*' matching characters within the segment */
};

struct pc_spiffe_matcher {
    enum pc_spiffe_match_kind kind;
    const char *pattern; /* arena copy; the slices below point into it */
    const char *trust_domain;
    size_t trust_domain_len;
    const char *path; /* exact: the whole path; prefix: the path without its trailing '/' */
    size_t path_len;
    struct glob_segment *segments; /* glob only */
    size_t n_segments;
};

static bool
is_trust_domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool
is_segment_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
           || c == '-' || c == '_';
}

/*
 * Section 2.1 lists the authority rules; when several are broken, the one naming the most
 * specific mistake wins (a port is reported as a port, not as a bad ':').
 */
static const char *
check_trust_domain(const char *s, size_t len)
{
    const char *why = NULL;

    if (len == 0) {
        return "spiffe_id_empty_trust_domain";
    }
    if (memchr(s, '@', len) != NULL) {
        return "spiffe_id_userinfo";
    }
    /* An IPv6 literal is no trust domain (section 2.1); its colons are not a port. */
    if (memchr(s, '[', len) != NULL) {
        return "spiffe_id_bad_char";
    }
    if (memchr(s, ':', len) != NULL) {
        return "spiffe_id_port";
    }
    if (memchr(s, '%', len) != NULL) {
        return "spiffe_id_percent_encoded";
    }
    for (size_t i = 0; i < len && why == NULL; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 'A' && c <= 'Z') {
            why = "spiffe_id_uppercase_trust_domain";
        } else if (!is_trust_domain_char(c)) {
            why = "spiffe_id_bad_char";
        }
    }
    if (why == NULL && len > PC_SPIFFE_TRUST_DOMAIN_MAX) {
        why = "spiffe_id_trust_domain_too_long";
    }
    return why;
}

static const char *
check_segment_char(unsigned char c)
{
    if (c == '?') {
        return "spiffe_id_query";
    }
    if (c == '#') {
        return "spiffe_id_fragment";
    }
    if (c == '%') {
        return "spiffe_id_percent_encoded";
    }
    return is_segment_char(c) ? NULL : "spiffe_id_bad_char";
}

static bool
is_dot_segment(const char *seg, size_t len)
{
    return (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.');
}

/* Section 2.2: p is empty or starts with '/', '?' or '#' (where the authority ended). */
static const char *
check_path(const char *p, size_t len)
{
    size_t seg = 1;

    if (len == 0) {
        return NULL;
    }
    if (p[0] != '/') {
        return p[0] == '?' ? "spiffe_id_query" : "spiffe_id_fragment";
    }
    for (size_t i = 1; i <= len; i++) {
        if (i < len && p[i] != '/') {
            const char *why = check_segment_char((unsigned char)p[i]);

            if (why != NULL) {
                return why;
            }
            continue;
        }
        /* Covers "//" and the trailing '/' that section 2.2 also forbids. */
        if (i == seg) {
            return "spiffe_id_empty_segment";
        }
        if (is_dot_segment(p + seg, i - seg)) {
            return "spiffe_id_dot_segment";
        }
        seg = i + 1;
    }
    return NULL;
}

static size_t
authority_len(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#') {
        i++;
    }
    return i;
}

int
pc_spiffe_id_parse(const char *s, size_t len, struct pc_spiffe_id *out, const char **reason)
{
    const char *why = NULL;
    size_t td_len = 0;

    if (len == 0) {
        why = "spiffe_id_empty";
    } else if (len > PC_SPIFFE_ID_MAX) {
        why = "spiffe_id_too_long";
    } else if (len < SCHEME_LEN || memcmp(s, scheme, SCHEME_LEN) != 0) {
        /* The scheme must be exactly "spiffe", lowercase, followed by an authority. */
        why = "spiffe_id_scheme";
    } else {
        td_len = authority_len(s + SCHEME_LEN, len - SCHEME_LEN);
        why = check_trust_domain(s + SCHEME_LEN, td_len);
        if (why == NULL) {
            why = check_path(s + SCHEME_LEN + td_len, len - SCHEME_LEN - td_len);
        }
    }
    if (why != NULL) {
        if (reason != NULL) {
            *reason = why;
        }
        return PC_EINVAL;
    }

    out->trust_domain = s + SCHEME_LEN;
    out->trust_domain_len = td_len;
    out->path = s + SCHEME_LEN + td_len;
    out->path_len = len - SCHEME_LEN - td_len;
    return 0;
}

int
pc_spiffe_trust_domain_validate(const char *s, size_t len, const char **reason)
{
    const char *why = check_trust_domain(s, len);

    /* A bare name has no path, so a '/' can only be a mistake. */
    if (why == NULL && memchr(s, '/', len) != NULL) {
        why = "spiffe_id_bad_char";
    }
    if (why != NULL) {
        if (reason != NULL) {
            *reason = why;
        }
        return PC_EINVAL;
    }
    return 0;
}

/* Counts the path segments of a pattern path that starts with '/'. */
static size_t
count_segments(const char *path, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        n += path[i] == '/';
    }
    return n;
}

/* Validates one glob segment; returns a reason or NULL. */
static const char *
check_glob_segment(struct glob_segment *seg)
{
    if (seg->len == 0) {
        return "spiffe_id_empty_segment";
    }
    if (is_dot_segment(seg->text, seg->len)) {
        return "spiffe_id_dot_segment";
    }
    if (seg->len == 2 && seg->text[0] == '*' && seg->text[1] == '*') {
        seg->is_any_depth = true;
        return NULL;
    }
    for (size_t i = 0; i < seg->len; i++) {
        unsigned char c = (unsigned char)seg->text[i];

        if (c == '*') {
            /* "**" means "any depth" only as a whole segment; inside one it would be ambiguous. */
            if (i + 1 < seg->len && seg->text[i + 1] == '*') {
                return "pattern_double_star_inside_segment";
            }
            seg->has_star = true;
            continue;
        }
        const char *why = check_segment_char(c);

        if (why != NULL) {
            return why;
        }
    }
    return NULL;
}

/* Splits the path into segments (m->segments has one entry per '/') and validates each. */
static const char *
compile_glob(struct pc_spiffe_matcher *m)
{
    const char *path = m->path;
    size_t len = m->path_len;
    size_t start = 1;

    if (path[len - 1] == '/') {
        return "pattern_glob_trailing_slash";
    }
    for (size_t i = 0; i < m->n_segments; i++) {
        const char *next = memchr(path + start, '/', len - start);
        size_t end = next != NULL ? (size_t)(next - path) : len;
        struct glob_segment *seg = &m->segments[i];

        seg->text = path + start;
        seg->len = end - start;
        const char *why = check_glob_segment(seg);

        if (why != NULL) {
            return why;
        }
        start = end + 1;
    }
    m->kind = PC_SPIFFE_MATCH_GLOB;
    return NULL;
}

/* The pattern without wildcards: an exact ID, a whole trust domain, or a prefix. */
static const char *
compile_literal(struct pc_spiffe_matcher *m, size_t pattern_len)
{
    struct pc_spiffe_id id;
    const char *why = NULL;
    size_t len = pattern_len;
    bool is_prefix = false;

    /* "spiffe://td/" is a prefix of zero segments: any ID of the trust domain with a path. */
    if (m->pattern[len - 1] == '/') {
        is_prefix = true;
        len--;
    }
    if (pc_spiffe_id_parse(m->pattern, len, &id, &why) != 0) {
        return why;
    }
    m->path = id.path;
    m->path_len = id.path_len;
    if (is_prefix) {
        m->kind = PC_SPIFFE_MATCH_PREFIX;
    } else {
        m->kind = id.path_len == 0 ? PC_SPIFFE_MATCH_TRUST_DOMAIN : PC_SPIFFE_MATCH_EXACT;
    }
    return NULL;
}

/* Splits the pattern's authority off and checks it; wildcards are refused there. */
static const char *
compile_trust_domain(struct pc_spiffe_matcher *m, size_t len)
{
    const char *why;
    size_t td_len;

    if (len == 0) {
        return "spiffe_id_empty";
    }
    if (len > PC_SPIFFE_ID_MAX) {
        return "spiffe_id_too_long";
    }
    if (len < SCHEME_LEN || memcmp(m->pattern, scheme, SCHEME_LEN) != 0) {
        return "spiffe_id_scheme";
    }
    td_len = authority_len(m->pattern + SCHEME_LEN, len - SCHEME_LEN);
    if (memchr(m->pattern + SCHEME_LEN, '*', td_len) != NULL) {
        return "pattern_wildcard_in_trust_domain";
    }
    why = check_trust_domain(m->pattern + SCHEME_LEN, td_len);
    if (why != NULL) {
        return why;
    }
    m->trust_domain = m->pattern + SCHEME_LEN;
    m->trust_domain_len = td_len;
    m->path = m->pattern + SCHEME_LEN + td_len;
    m->path_len = len - SCHEME_LEN - td_len;
    /* The authority ended at '?' or '#': a query or fragment, never part of a path. */
    if (m->path_len > 0 && m->path[0] != '/') {
        return m->path[0] == '?' ? "spiffe_id_query" : "spiffe_id_fragment";
    }
    return NULL;
}

struct pc_spiffe_matcher *
pc_spiffe_matcher_compile(const char *pattern, struct pc_arena *arena, struct pc_err *err)
{
    size_t len = strlen(pattern);
    struct pc_spiffe_matcher *m = pc_arena_calloc(arena, 1, sizeof(*m));
    const char *why;

    if (m == NULL || (m->pattern = pc_arena_strndup(arena, pattern, len)) == NULL) {
        goto fail_no_memory;
    }

    why = compile_trust_domain(m, len);
    if (why == NULL && memchr(m->path, '*', m->path_len) != NULL) {
        m->n_segments = count_segments(m->path, m->path_len);
        m->segments = pc_arena_calloc(arena, m->n_segments, sizeof(*m->segments));
        if (m->segments == NULL) {
            goto fail_no_memory;
        }
        why = compile_glob(m);
    } else if (why == NULL) {
        why = compile_literal(m, len);
    }
    if (why != NULL) {
        pc_err_set(err, PC_EINVAL, "SPIFFE ID pattern \"%.200s\" refused: %s", pattern, why);
        return NULL;
    }
    return m;

fail_no_memory:
    pc_err_set(err, PC_ENOMEM, "out of memory compiling a SPIFFE ID pattern");
    return NULL;
}

enum pc_spiffe_match_kind
pc_spiffe_matcher_kind(const struct pc_spiffe_matcher *matcher)
{
    return matcher->kind;
}

const char *
pc_spiffe_matcher_pattern(const struct pc_spiffe_matcher *matcher)
{
    return matcher->pattern;
}

/* '*' matches any run of characters of one segment (the segment holds no '/'). */
static bool
match_in_segment(const char *pat, size_t pat_len, const char *s, size_t len)
{
    size_t p = 0;
    size_t i = 0;
    size_t star_p = SIZE_MAX;
    size_t star_i = 0;

    while (i < len) {
        if (p < pat_len && pat[p] == '*') {
            star_p = p++;
            star_i = i;
        } else if (p < pat_len && pat[p] == s[i]) {
            p++;
            i++;
        } else if (star_p != SIZE_MAX) {
            /* Let the last '*' swallow one more character and retry from there. */
            p = star_p + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (p < pat_len && pat[p] == '*') {
        p++;
    }
    return p == pat_len;
}

static bool
match_segment(const struct glob_segment *seg, const char *s, size_t len)
{
    if (!seg->has_star) {
        return seg->len == len && memcmp(seg->text, s, len) == 0;
    }
    return match_in_segment(seg->text, seg->len, s, len);
}

/* Returns the end of the segment that starts after the '/' at p. */
static const char *
segment_end(const char *p, const char *end)
{
    const char *next = memchr(p + 1, '/', (size_t)(end - p - 1));

    return next != NULL ? next : end;
}

/* "**" segments match any run of whole segments, with the same backtracking as above. */
static bool
match_glob(const struct pc_spiffe_matcher *m, const char *path, size_t path_len)
{
    const char *p = path;
    const char *end = path + path_len;
    size_t si = 0;
    size_t star_si = SIZE_MAX;
    const char *star_p = NULL;

    while (p < end) {
        if (si < m->n_segments && m->segments[si].is_any_depth) {
            star_si = si++;
            star_p = p;
            continue;
        }
        const char *seg_end = segment_end(p, end);

        if (si < m->n_segments && match_segment(&m->segments[si], p + 1, seg_end - p - 1)) {
            si++;
            p = seg_end;
        } else if (star_p != NULL) {
            si = star_si + 1;
            star_p = segment_end(star_p, end);
            p = star_p;
        } else {
            return false;
        }
    }
    while (si < m->n_segments && m->segments[si].is_any_depth) {
        si++;
    }
    return si == m->n_segments;
}

bool
pc_spiffe_match_id(const struct pc_spiffe_matcher *matcher, const struct pc_spiffe_id *id)
{
    const struct pc_spiffe_matcher *m = matcher;

    if (id->trust_domain_len != m->trust_domain_len
        || memcmp(id->trust_domain, m->trust_domain, m->trust_domain_len) != 0) {
        return false;
    }
    switch (m->kind) {
    case PC_SPIFFE_MATCH_EXACT:
        return id->path_len == m->path_len && memcmp(id->path, m->path, m->path_len) == 0;
    case PC_SPIFFE_MATCH_TRUST_DOMAIN:
        return true;
    case PC_SPIFFE_MATCH_PREFIX:
        /* Segment-wise: the next byte after the prefix must start a further segment. */
        return id->path_len > m->path_len && memcmp(id->path, m->path, m->path_len) == 0
               && id->path[m->path_len] == '/';
    case PC_SPIFFE_MATCH_GLOB:
        return match_glob(m, id->path, id->path_len);
    }
    return false;
}

bool
pc_spiffe_match(const struct pc_spiffe_matcher *matcher, const char *id, size_t len)
{
    struct pc_spiffe_id parsed;

    if (pc_spiffe_id_parse(id, len, &parsed, NULL) != 0) {
        return false;
    }
    return pc_spiffe_match_id(matcher, &parsed);
}
