/*
 * Go RE2 regular expressions on PCRE2 (see regex.h).
 */
#include "rego/regex.h"

#include <string.h>

#include "rego/error.h"
#include "rego/mem.h"

/* Bounds PCRE2's backtracking, which RE2 would not do, so a hostile pattern cannot hang us. */
#define MATCH_LIMIT       2000000
#define MATCH_DEPTH_LIMIT 10000
#define MD_GROUPS         64

static void *
pcre_malloc(PCRE2_SIZE n, void *ud)
{
    (void)ud;
    return pc_rego_malloc(n);
}

static void
pcre_free(void *p, void *ud)
{
    (void)ud;
    pc_rego_free(p);
}

int
pc_rego_regex_cache_init(struct pc_rego_regex_cache *c)
{
    memset(c, 0, sizeof(*c));
    c->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    c->cctx = c->gctx != NULL ? pcre2_compile_context_create(c->gctx) : NULL;
    c->mctx = c->gctx != NULL ? pcre2_match_context_create(c->gctx) : NULL;
    c->md = c->gctx != NULL ? pcre2_match_data_create(MD_GROUPS, c->gctx) : NULL;
    if (c->cctx == NULL || c->mctx == NULL || c->md == NULL) {
        pc_rego_regex_cache_free(c);
        return PC_REGO_ENOMEM;
    }
    pcre2_set_newline(c->cctx, PCRE2_NEWLINE_LF);
    pcre2_set_match_limit(c->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(c->mctx, MATCH_DEPTH_LIMIT);
    return 0;
}

void
pc_rego_regex_cache_free(struct pc_rego_regex_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < PC_REGO_REGEX_CACHE; i++) {
        pcre2_code_free(c->e[i].code);
        pc_rego_free(c->e[i].pattern);
        c->e[i].code = NULL;
        c->e[i].pattern = NULL;
    }
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    pcre2_compile_context_free(c->cctx);
    pcre2_general_context_free(c->gctx);
    c->md = NULL;
    c->mctx = NULL;
    c->cctx = NULL;
    c->gctx = NULL;
}

/* Rejects `(?` constructs RE2 lacks: lookaround, atomic groups, conditionals, recursion. */
static bool
group_ok(const char *p, size_t i, size_t len)
{
    if (i + 2 >= len || p[i + 1] != '?') {
        return true;
    }
    char c = p[i + 2];
    if (c == '=' || c == '!' || c == '>' || c == '|' || c == '#' || c == '(' || c == 'R' || c == '&'
        || c == 'C' || (c >= '0' && c <= '9') || c == '+') {
        return false;
    }
    if (c == '<') {
        return i + 3 < len && p[i + 3] != '=' && p[i + 3] != '!';
    }
    if (c == 'P') {
        return i + 3 < len && p[i + 3] == '<';
    }
    return true;
}

/* Rejects escapes RE2 lacks: backreferences and a few PCRE-only assertions. */
static bool
escape_ok(char c)
{
    return !((c >= '1' && c <= '9') || c == 'g' || c == 'k' || c == 'K' || c == 'Z' || c == 'R'
             || c == 'X' || c == 'G' || c == 'N' || c == 'h' || c == 'H' || c == 'V' || c == 'o');
}

/*
 * Reads a counted repetition {n}, {n,} or {n,m} at p[i]; returns its length, or 0 when the
 * brace is a literal. *ok is false when a count passes RE2's limit of 1000.
 */
static size_t
repetition(const char *p, size_t i, size_t len, bool *ok)
{
    size_t j = i + 1;
    long counts[2] = { -1, -1 };
    for (int k = 0; k < 2; k++) {
        long v = -1;
        while (j < len && p[j] >= '0' && p[j] <= '9') {
            v = (v < 0 ? 0 : v) * 10 + (p[j++] - '0');
            v = v > 100000 ? 100000 : v;
        }
        counts[k] = v;
        if (k == 0 && (v < 0 || j >= len || p[j] != ',')) {
            break;
        }
        j += k == 0 ? 1 : 0;
    }
    if (counts[0] < 0 || j >= len || p[j] != '}') {
        return 0;
    }
    *ok = counts[0] <= 1000 && counts[1] <= 1000 && (counts[1] < 0 || counts[1] >= counts[0]);
    return j - i + 1;
}

/* Skips an escape starting at p[i] (a backslash); returns its last index; *ok as above. */
static size_t
skip_escape(const char *p, size_t i, size_t len, bool in_class, bool *ok)
{
    char e = p[i + 1];
    if (e == 'Q') {
        for (size_t j = i + 2; j + 1 < len; j++) {
            if (p[j] == '\\' && p[j + 1] == 'E') {
                return j + 1;
            }
        }
        return len;
    }
    *ok = in_class || escape_ok(e);
    if ((e == 'p' || e == 'P' || e == 'x') && i + 2 < len && p[i + 2] == '{') {
        const char *close = memchr(p + i + 2, '}', len - i - 2);
        return close != NULL ? (size_t)(close - p) : len;
    }
    return i + 1;
}

/*
 * Checks that pattern uses only syntax RE2 accepts (PCRE2 then checks the rest). Like Go, a
 * quantifier may be followed by one `?` (lazy) and nothing else: `a**`, `a++` (possessive in
 * PCRE) and `a{2}{3}` are errors.
 */
static bool
re2_compatible(const char *p, size_t len)
{
    bool in_class = false;
    int quant = 0; /* after the previous item: 0 none, 1 a quantifier, 2 a lazy quantifier */
    bool ok = true;
    for (size_t i = 0; ok && i < len; i++) {
        char c = p[i];
        int next = 0;
        size_t rep = 0;
        if (c == '\\') {
            if (i + 1 >= len) {
                return false;
            }
            i = skip_escape(p, i, len, in_class, &ok);
        } else if (in_class) {
            in_class = c != ']';
        } else if (c == '[') {
            in_class = true;
            i += i + 1 < len && p[i + 1] == '^' ? 1 : 0;
            i += i + 1 < len && p[i + 1] == ']' ? 1 : 0;
        } else if (c == '(') {
            ok = group_ok(p, i, len);
        } else if (c == '*' || c == '+' || c == '?'
                   || (c == '{' && (rep = repetition(p, i, len, &ok)) > 0)) {
            next = quant == 1 && c == '?' ? 2 : 1;
            ok = ok && (quant == 0 || next == 2);
            i += rep > 0 ? rep - 1 : 0;
        }
        quant = next;
    }
    return ok;
}

static pcre2_code *
compile_pattern(struct pc_rego_regex_cache *c, const char *pattern, size_t len, const char **errmsg)
{
    if (!re2_compatible(pattern, len)) {
        *errmsg = "invalid or unsupported Perl syntax";
        return NULL;
    }
    uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
#ifdef PCRE2_MATCH_INVALID_UTF
    opts |= PCRE2_MATCH_INVALID_UTF;
#endif
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &errcode, &erroff, c->cctx);
    if (code == NULL) {
        *errmsg = "error parsing regexp";
    }
    return code;
}

pcre2_code *
pc_rego_regex_get(struct pc_rego_regex_cache *c, const char *pattern, size_t len,
                  const char **errmsg)
{
    size_t victim = 0;
    c->clock++;
    for (size_t i = 0; i < PC_REGO_REGEX_CACHE; i++) {
        struct pc_rego_regex_entry *e = &c->e[i];
        if (e->code != NULL && e->len == len && memcmp(e->pattern, pattern, len) == 0) {
            e->used = c->clock;
            return e->code;
        }
        if (e->used < c->e[victim].used) {
            victim = i;
        }
    }
    pcre2_code *code = compile_pattern(c, pattern, len, errmsg);
    if (code == NULL) {
        return NULL;
    }
    char *copy = pc_rego_malloc(len + 1);
    if (copy == NULL) {
        pcre2_code_free(code);
        *errmsg = "out of memory";
        return NULL;
    }
    memcpy(copy, pattern, len);
    copy[len] = '\0';
    struct pc_rego_regex_entry *e = &c->e[victim];
    pcre2_code_free(e->code);
    pc_rego_free(e->pattern);
    e->pattern = copy;
    e->len = len;
    e->code = code;
    e->used = c->clock;
    return code;
}

bool
pc_rego_regex_valid(struct pc_rego_regex_cache *c, const char *pattern, size_t len)
{
    const char *msg;
    pcre2_code *code = compile_pattern(c, pattern, len, &msg);
    pcre2_code_free(code);
    return code != NULL;
}

uint32_t
pc_rego_regex_ncap(pcre2_code *code)
{
    uint32_t n = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n);
    return n + 1;
}

int
pc_rego_regex_exec(struct pc_rego_regex_cache *c, pcre2_code *code, const char *subject, size_t len,
                   size_t start, size_t *ov, uint32_t ncap)
{
    pcre2_match_data *md = c->md;
    if (ncap > MD_GROUPS) {
        md = pcre2_match_data_create(ncap, c->gctx);
        if (md == NULL) {
            return -1;
        }
    }
    int rc = pcre2_match(code, (PCRE2_SPTR)subject, len, start, 0, md, c->mctx);
    int result = 0;
    if (rc > 0 || rc == 0) {
        PCRE2_SIZE *v = pcre2_get_ovector_pointer(md);
        uint32_t have = pcre2_get_ovector_count(md);
        for (uint32_t i = 0; i < ncap; i++) {
            bool set = i < have && (int)i < (rc == 0 ? (int)have : rc);
            ov[2 * i] = set ? v[2 * i] : PCRE2_UNSET;
            ov[2 * i + 1] = set ? v[2 * i + 1] : PCRE2_UNSET;
        }
        result = 1;
    } else if (rc != PCRE2_ERROR_NOMATCH) {
        result = -1;
    }
    if (md != c->md) {
        pcre2_match_data_free(md);
    }
    return result;
}
