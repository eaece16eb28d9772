/*
 * libFuzzer target for SPIFFE ID parsing and matching. The input is a pattern and an ID
 * separated by the first newline (no newline: the whole input is the ID).
 *
 * Beyond memory safety it checks what authorization relies on: a parsed ID's slices cover the
 * input and obey section 2 of SPIFFE-ID.md; the exact matcher made from a valid ID matches it;
 * a matcher never accepts an invalid ID or one from another trust domain; and every compiled
 * pattern agrees with an independent dynamic-programming matcher written here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "tls/spiffe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The oracle's tables are sized for inputs this long; longer ones skip the comparison. */
#define ORACLE_MAX 96

static void
check_parsed(const char *s, size_t len, const struct pc_spiffe_id *id)
{
    if (id->trust_domain != s + 9 || id->trust_domain_len == 0
        || id->trust_domain_len > PC_SPIFFE_TRUST_DOMAIN_MAX
        || 9 + id->trust_domain_len + id->path_len != len
        || id->path != id->trust_domain + id->trust_domain_len) {
        abort();
    }
    for (size_t i = 0; i < id->trust_domain_len; i++) {
        char c = id->trust_domain[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'
              || c == '_')) {
            abort();
        }
    }
    if (id->path_len > 0 && (id->path[0] != '/' || id->path[id->path_len - 1] == '/')) {
        abort();
    }
    for (size_t i = 1; i < id->path_len; i++) {
        if (id->path[i] == '/' && id->path[i - 1] == '/') {
            abort();
        }
    }
}

/* Dynamic programming over characters: '*' matches any run within a segment. */
static bool
oracle_segment(const char *p, size_t pn, const char *s, size_t sn)
{
    bool dp[ORACLE_MAX + 1][ORACLE_MAX + 1];

    for (size_t i = pn + 1; i-- > 0;) {
        for (size_t j = sn + 1; j-- > 0;) {
            if (i == pn) {
                dp[i][j] = j == sn;
            } else if (p[i] == '*') {
                dp[i][j] = dp[i + 1][j] || (j < sn && dp[i][j + 1]);
            } else {
                dp[i][j] = j < sn && p[i] == s[j] && dp[i + 1][j + 1];
            }
        }
    }
    return dp[0][0];
}

struct slice {
    const char *p;
    size_t n;
};

/* Splits a path ("/a/b") into segments; returns their number. */
static size_t
split(const char *path, size_t len, struct slice *out)
{
    size_t n = 0;
    size_t start = 1;

    for (size_t i = 1; i <= len && len > 0; i++) {
        if (i == len || path[i] == '/') {
            out[n].p = path + start;
            out[n].n = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* Dynamic programming over segments: a "**" segment matches any run of segments. */
static bool
oracle_glob(const char *pat, size_t pat_len, const char *path, size_t path_len)
{
    struct slice ps[ORACLE_MAX];
    struct slice is[ORACLE_MAX];
    bool dp[ORACLE_MAX + 1][ORACLE_MAX + 1];
    size_t np = split(pat, pat_len, ps);
    size_t ni = split(path, path_len, is);

    for (size_t i = np + 1; i-- > 0;) {
        for (size_t j = ni + 1; j-- > 0;) {
            if (i == np) {
                dp[i][j] = j == ni;
            } else if (ps[i].n == 2 && ps[i].p[0] == '*' && ps[i].p[1] == '*') {
                dp[i][j] = dp[i + 1][j] || (j < ni && dp[i][j + 1]);
            } else {
                dp[i][j] = j < ni && oracle_segment(ps[i].p, ps[i].n, is[j].p, is[j].n)
                           && dp[i + 1][j + 1];
            }
        }
    }
    return dp[0][0];
}

/* What the matcher for pattern must answer for the valid ID id, by the header's definitions. */
static bool
oracle(const char *pattern, const struct pc_spiffe_matcher *m, const struct pc_spiffe_id *id)
{
    const char *td = pattern + 9;
    size_t td_len = strcspn(td, "/");
    const char *path = td + td_len;
    size_t path_len = strlen(path);

    if (td_len != id->trust_domain_len || memcmp(td, id->trust_domain, td_len) != 0) {
        return false;
    }
    switch (pc_spiffe_matcher_kind(m)) {
    case PC_SPIFFE_MATCH_EXACT:
        return path_len == id->path_len && memcmp(path, id->path, path_len) == 0;
    case PC_SPIFFE_MATCH_TRUST_DOMAIN:
        return true;
    case PC_SPIFFE_MATCH_PREFIX:
        return id->path_len > path_len - 1 && memcmp(path, id->path, path_len) == 0;
    case PC_SPIFFE_MATCH_GLOB:
        return oracle_glob(path, path_len, id->path, id->path_len);
    }
    abort();
}

static void
check_self_match(const char *s, size_t len, const struct pc_spiffe_id *id, struct pc_arena *arena)
{
    char *copy = pc_arena_strndup(arena, s, len);
    const struct pc_spiffe_matcher *m =
        copy != NULL ? pc_spiffe_matcher_compile(copy, arena, NULL) : NULL;

    if (copy != NULL && memchr(s, '\0', len) == NULL && m == NULL) {
        abort();
    }
    if (m != NULL && !pc_spiffe_match_id(m, id)) {
        abort();
    }
}

static void
check_pattern(const char *pattern, size_t len, const char *s, size_t s_len, bool is_valid,
              const struct pc_spiffe_id *id, struct pc_arena *arena)
{
    char *copy = pc_arena_strndup(arena, pattern, len);
    const struct pc_spiffe_matcher *m;
    bool got;

    if (copy == NULL || memchr(pattern, '\0', len) != NULL) {
        return;
    }
    m = pc_spiffe_matcher_compile(copy, arena, NULL);
    if (m == NULL) {
        return;
    }
    got = pc_spiffe_match(m, s, s_len);
    if (!is_valid) {
        if (got) {
            abort();
        }
        return;
    }
    if (got != pc_spiffe_match_id(m, id)) {
        abort();
    }
    if (len <= ORACLE_MAX && s_len <= ORACLE_MAX && got != oracle(copy, m, id)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    const char *s = nl != NULL ? nl + 1 : in;
    size_t s_len = nl != NULL ? size - (size_t)(s - in) : size;
    struct pc_arena *arena = pc_arena_create(4096);
    struct pc_spiffe_id id;
    const char *reason = NULL;
    bool is_valid;

    if (arena == NULL) {
        abort();
    }
    is_valid = pc_spiffe_id_parse(s, s_len, &id, &reason) == 0;
    if (!is_valid && reason == NULL) {
        abort();
    }
    if (is_valid) {
        check_parsed(s, s_len, &id);
        check_self_match(s, s_len, &id, arena);
    }
    if (nl != NULL) {
        check_pattern(in, (size_t)(nl - in), s, s_len, is_valid, &id, arena);
    }
    pc_arena_destroy(arena);
    return 0;
}
