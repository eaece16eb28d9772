/*
 * Regular expressions with Go RE2 semantics, on PCRE2.
 *
 * Rego patterns are Go regexp (RE2) syntax. PCRE2 accepts a superset; we refuse what RE2 does
 * not have (backreferences, lookaround, atomic groups, possessive quantifiers, \Z) so that
 * regex.is_valid and error behaviour match OPA, and set options so that the shared syntax
 * means the same thing: UTF-8 mode with ASCII classes (\d \w \s \b are ASCII in RE2), `$`
 * matching only at the very end outside (?m), `.` excluding only '\n', invalid UTF-8 in
 * subjects tolerated. PCRE2 backtracks where RE2 does not, so every match runs under a match
 * limit; hitting it is an error rather than a hang.
 *
 * Compiled patterns are cached per evaluation context (a small LRU keyed by the pattern
 * text): a policy matching against a constant pattern compiles it once per context. All
 * PCRE2 memory goes through the engine's allocation hooks.
 */
#ifndef PC_REGO_REGEX_H
#define PC_REGO_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#define PC_REGO_REGEX_CACHE 32

struct pc_rego_regex_entry {
    char *pattern; /* heap copy, owned */
    size_t len;
    pcre2_code *code;
    uint64_t used;
};

/* Fields are private. Zero-initialize, then pc_rego_regex_cache_init. */
struct pc_rego_regex_cache {
    struct pc_rego_regex_entry e[PC_REGO_REGEX_CACHE];
    uint64_t clock;
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
};

/* Prepares a cache; returns 0 or PC_REGO_ENOMEM. */
int pc_rego_regex_cache_init(struct pc_rego_regex_cache *c);

/* Releases everything the cache holds; accepts NULL. */
void pc_rego_regex_cache_free(struct pc_rego_regex_cache *c);

/*
 * Returns the compiled form of pattern[0..len) (cache memory, valid until the next call), or
 * NULL with *errmsg set to a static description when the pattern is not valid RE2 (or memory
 * ran out).
 */
pcre2_code *pc_rego_regex_get(struct pc_rego_regex_cache *c, const char *pattern, size_t len,
                              const char **errmsg);

/*
 * Searches subject[start..len) for code. Returns 1 with ov[0..2*ncap) filled (ncap counts
 * group 0; PCRE2_UNSET for groups that did not take part), 0 for no match, or -1 when the
 * match limit was hit. ov must hold 2 * ncap entries.
 */
int pc_rego_regex_exec(struct pc_rego_regex_cache *c, pcre2_code *code, const char *subject,
                       size_t len, size_t start, size_t *ov, uint32_t ncap);

/* Number of capture groups of code, plus one for the whole match. */
uint32_t pc_rego_regex_ncap(pcre2_code *code);

/* Returns whether pattern[0..len) is valid RE2 syntax (without caching it). */
bool pc_rego_regex_valid(struct pc_rego_regex_cache *c, const char *pattern, size_t len);

#endif
