/*
 * Route matching: from a request's host, path, method, headers and query to one HTTPRoute rule.
 *
 * A route table is compiled once per port from the listeners on it and the HTTPRoutes attached
 * to them, and is immutable afterwards (it lives in the configuration snapshot's arena). Which
 * rule wins follows the Gateway API specification: the listener by hostname specificity, then
 * across every route attached to it the route hostname with the most matching non-wildcard
 * characters, then Exact path over RegularExpression path (implementation-specific, see
 * docs/CONFIGURATION.md) over the longest PathPrefix, then method, most header matches, most
 * query matches, the oldest route, the route first by "namespace/name", and the first rule and
 * match in list order. Lookups are hash and trie walks, so the cost stays nearly flat as rules
 * grow. Matching allocates nothing and is safe from any thread.
 */
#ifndef PC_ROUTE_ROUTE_H
#define PC_ROUTE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

struct pc_arena;

/* What matching looks at. Every pointer is borrowed for the duration of the call. */
struct pc_route_request {
    const char *host; /* lower-cased, without port; may be empty */
    size_t host_len;
    const char *path; /* normalised by pc_path_normalize(), no query */
    size_t path_len;
    const char *query; /* the raw text after '?', without it; NULL when absent */
    size_t query_len;
    const char *method; /* as received, e.g. "GET" */
    size_t method_len;
    const struct pc_header_pair *headers; /* names lower-cased, in arrival order */
    size_t n_headers;
};

struct pc_route_match {
    const struct pc_listener *listener;
    const struct pc_route_rule *rule;
    /* For a PathPrefix match, how many bytes of the path the prefix covered, without its
     * trailing slash (for ReplacePrefixMatch): "/" covers 0, "/api" and "/api/" cover 4; 0 for
     * other match kinds. */
    size_t prefix_len;
};

enum pc_route_result {
    PC_ROUTE_MATCHED = 0,
    PC_ROUTE_NO_LISTENER, /* no listener on this port accepts the host: 404 */
    PC_ROUTE_NO_RULE,     /* a listener accepts the host but no rule matches: 404 */
};

/*
 * Finds the rule for req in table and fills out (out->listener is set for PC_ROUTE_NO_RULE too).
 * Allocates nothing: RegularExpression matches run with a match-data block carved from this
 * call's stack, so the table is shared by every worker thread without locks. The call needs up
 * to about 70 KiB of stack when regular expressions are involved (40 KiB of its own, and the
 * 32 KiB PCRE2 JIT stack). A trailing dot in
 * req->host is ignored. A RegularExpression header or query match against a subject longer than
 * PC_ROUTE_REGEX_SUBJECT_MAX bytes after joining or decoding does not match.
 */
enum pc_route_result pc_route_match(const struct pc_route_table *table,
                                    const struct pc_route_request *req, struct pc_route_match *out);

#define PC_ROUTE_REGEX_SUBJECT_MAX 8192

/* Builder input. The configuration layer fills these from validated HTTPRoutes. */

enum pc_route_path_type {
    PC_ROUTE_PATH_PREFIX = 0,
    PC_ROUTE_PATH_EXACT,
    PC_ROUTE_PATH_REGEX,
};

enum pc_route_value_type {
    PC_ROUTE_VALUE_EXACT = 0,
    PC_ROUTE_VALUE_REGEX,
};

/* One header or query parameter condition. */
struct pc_route_value_match {
    const char *name; /* header names lower-cased; query parameter names as written */
    size_t name_len;
    enum pc_route_value_type type;
    const char *value; /* the exact value, or the pattern */
    size_t value_len;
};

/* One HTTPRouteMatch: every condition in it must hold. */
struct pc_route_match_spec {
    enum pc_route_path_type path_type;
    const char *path; /* Exact and PathPrefix: normalised as pc_path_normalize does; or a pattern */
    size_t path_len;
    const char *method; /* NULL: any method */
    const struct pc_route_value_match *headers;
    size_t n_headers;
    const struct pc_route_value_match *query;
    size_t n_query;
};

/* One rule: the compiled action and the matches that select it (any one of them). */
struct pc_route_spec_rule {
    const struct pc_route_rule *rule;
    const struct pc_route_match_spec *matches;
    size_t n_matches;
};

/* One HTTPRoute attached to one listener. */
struct pc_route_spec {
    const char *name;   /* "namespace/name": the last tie-breaker between routes */
    int64_t created_ms; /* metadata.creationTimestamp, ms since the epoch; INT64_MAX when absent */
    /* Route hostnames that intersect the listener's, lower-case, "*." allowed; none: every host
     * the listener accepts (and the lowest hostname precedence). */
    const char *const *hostnames;
    size_t n_hostnames;
    const struct pc_route_spec_rule *rules;
    size_t n_rules;
};

/* One listener of the port and the routes attached to it. */
struct pc_route_listener_spec {
    const struct pc_listener *listener; /* hostname NULL, exact, or "*.suffix" */
    const struct pc_route_spec *routes;
    size_t n_routes;
};

/*
 * Compiles the route table of one port into arena and stores it in *out. The spec arrays are
 * read during the call only; the strings, listeners and rules they point to are kept by
 * reference and must live in arena (or longer). Compiled regular expressions are released by an
 * arena cleanup. Returns 0; PC_ENOMEM; PC_EINVAL when a pattern does not compile, a value is
 * longer than the matcher supports or two listeners claim the same hostname (err says which).
 */
int pc_route_table_build(struct pc_arena *arena, const struct pc_route_listener_spec *listeners,
                         size_t n_listeners, const struct pc_route_table **out, struct pc_err *err);

/*
 * Compiles pattern[0..len) exactly as the table would (PCRE2 in UTF mode, anchored at both ends,
 * backreferences refused) and discards it: the configuration layer's check. Returns 0, or
 * PC_EINVAL with a message in msg (size bytes, NUL-terminated) and the byte offset of the
 * problem in *offset; PC_ENOMEM.
 */
int pc_route_regex_check(const char *pattern, size_t len, char *msg, size_t size, size_t *offset);

#endif
