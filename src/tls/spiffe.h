/*
 * SPIFFE IDs: parsing and validation of `spiffe://<trust domain>/<path>` (SPIFFE-ID.md section
 * 2), and matchers that authorization policies and upstream settings compile once and evaluate
 * per connection.
 *
 * Parsing never allocates: a parsed ID is a pair of slices into the caller's bytes. Matchers are
 * compiled into an arena at configuration time, are immutable afterwards, and may be evaluated
 * from any thread without locks or allocation. Nothing here touches X.509; verify.c pulls the ID
 * out of a certificate and calls in.
 *
 * Every refusal carries a stable reason code, a static string meant for logs and metrics:
 *   spiffe_id_empty, spiffe_id_too_long, spiffe_id_scheme, spiffe_id_empty_trust_domain,
 *   spiffe_id_trust_domain_too_long, spiffe_id_userinfo, spiffe_id_port,
 *   spiffe_id_percent_encoded, spiffe_id_uppercase_trust_domain, spiffe_id_bad_char,
 *   spiffe_id_query, spiffe_id_fragment, spiffe_id_empty_segment, spiffe_id_dot_segment.
 */
#ifndef PC_TLS_SPIFFE_H
#define PC_TLS_SPIFFE_H

#include <stdbool.h>
#include <stddef.h>

struct pc_arena;
struct pc_err;

/* SPIFFE-ID.md section 2.3: IDs up to 2048 bytes must be supported; longer ones are refused. */
#define PC_SPIFFE_ID_MAX 2048

/* SPIFFE-ID.md section 2.3: the host part of a URI is at most 255 bytes (RFC 3986). */
#define PC_SPIFFE_TRUST_DOMAIN_MAX 255

/*
 * A parsed SPIFFE ID: slices into the parsed bytes, valid as long as they are. The trust domain
 * is never empty; the path is empty (length 0) or starts with '/' and has no trailing '/'.
 */
struct pc_spiffe_id {
    const char *trust_domain;
    size_t trust_domain_len;
    const char *path;
    size_t path_len;
};

/*
 * Parses and validates the len bytes at s (no NUL needed; a NUL byte is refused as a bad
 * character). Returns 0 and fills out (slices into s), or PC_EINVAL with *reason set to one of
 * the static codes listed at the top of this file; out is then unspecified. reason may be NULL.
 */
int pc_spiffe_id_parse(const char *s, size_t len, struct pc_spiffe_id *out, const char **reason);

/*
 * Validates a bare trust domain name ("example.org", as configuration names a bundle's trust
 * domain) with the rules of SPIFFE-ID.md section 2.1. Returns 0, or PC_EINVAL with *reason set
 * (reason may be NULL).
 */
int pc_spiffe_trust_domain_validate(const char *s, size_t len, const char **reason);

/* What a compiled matcher compares; see pc_spiffe_matcher_compile. */
enum pc_spiffe_match_kind {
    PC_SPIFFE_MATCH_EXACT = 0,
    PC_SPIFFE_MATCH_TRUST_DOMAIN,
    PC_SPIFFE_MATCH_PREFIX,
    PC_SPIFFE_MATCH_GLOB,
};

struct pc_spiffe_matcher;

/*
 * Compiles the NUL-terminated pattern into arena memory. The pattern forms are:
 *   spiffe://example.org/ns/prod/sa/web   exact: that ID and nothing else;
 *   spiffe://example.org                  the whole trust domain: every ID in it;
 *   spiffe://example.org/ns/prod/         path prefix, segment by segment: IDs with at least
 *                                         one more segment (".../ns/prod/web", not
 *                                         ".../ns/production" nor ".../ns/prod" itself);
 *   spiffe://example.org/ns/prod-*        glob: '*' matches any characters within one
 *                                         segment ("web-*" matches "web-1", not "web-1/x");
 *                                         a segment of exactly two stars matches zero or more
 *                                         whole segments, so "spiffe://example.org/ns/" followed
 *                                         by it also matches "spiffe://example.org/ns" itself.
 *                                         '*' may appear in any segment, any number of
 *                                         times; two stars only as a whole segment.
 * The trust domain is always literal: wildcards in it are refused, so a pattern can never
 * reach past the trust domain it names. Apart from wildcards and the prefix form's trailing
 * '/', a pattern must be a valid SPIFFE ID. Returns the matcher (arena memory, immutable,
 * shareable between threads for the arena's lifetime), or NULL with err (may be NULL) filled:
 * PC_EINVAL for a refused pattern, PC_ENOMEM.
 */
struct pc_spiffe_matcher *pc_spiffe_matcher_compile(const char *pattern, struct pc_arena *arena,
                                                    struct pc_err *err);

/* Returns the kind the pattern compiled to. */
enum pc_spiffe_match_kind pc_spiffe_matcher_kind(const struct pc_spiffe_matcher *matcher);

/* Returns the pattern the matcher was compiled from (arena memory), for logs. */
const char *pc_spiffe_matcher_pattern(const struct pc_spiffe_matcher *matcher);

/*
 * Returns true when the len bytes at id form a valid SPIFFE ID that the matcher accepts; an
 * invalid ID never matches. Allocates nothing; borrows id for the call only.
 */
bool pc_spiffe_match(const struct pc_spiffe_matcher *matcher, const char *id, size_t len);

/* As pc_spiffe_match for an ID already parsed by pc_spiffe_id_parse. */
bool pc_spiffe_match_id(const struct pc_spiffe_matcher *matcher, const struct pc_spiffe_id *id);

#endif
