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

#include "config/config.h"

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
    /* For a PathPrefix match, how many bytes of the path the prefix covered (for
     * ReplacePrefixMatch); 0 for other match kinds. */
    size_t prefix_len;
};

enum pc_route_result {
    PC_ROUTE_MATCHED = 0,
    PC_ROUTE_NO_LISTENER, /* no listener on this port accepts the host: 404 */
    PC_ROUTE_NO_RULE,     /* a listener accepts the host but no rule matches: 404 */
};

/* Finds the rule for req in table and fills out. */
enum pc_route_result pc_route_match(const struct pc_route_table *table,
                                    const struct pc_route_request *req,
                                    struct pc_route_match *out);

#endif
