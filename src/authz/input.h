/*
 * The authorization input document: the JSON that OPA and in-process Rego policies read as
 * `input`, shaped like the opa-envoy plugin's so existing policies port, built from a request's
 * view (src/authz/view.h). Also the values a decision cache is keyed on, and the small "facts"
 * object the decision log records for native-rule decisions.
 *
 *   {"attributes":{"source":{"address":{"socketAddress":{"address":"10.0.0.5","portValue":51234}},
 *                            "principal":"spiffe://prod.example.org/ns/web/sa/web"},
 *                  "destination":{"address":{"socketAddress":{"address":"10.0.0.1",
 *                                                              "portValue":8443}}},
 *                  "request":{"http":{"id":"...","method":"GET","path":"/users/42?x=1",
 *                                     "host":"api.example.com","scheme":"https",
 *                                     "protocol":"HTTP/1.1","headers":{"x-tenant":"acme"}}}},
 *    "parsed_path":["users","42"],"parsed_query":{"x":["1"]},
 *    "principal":{"authenticated":true,"sub":"...","iss":"...","client_id":"...",
 *                 "scopes":[...],"roles":[...],"claims":{...}},
 *    "peer":{"subject":"CN=...","spiffe_id":"...","dns_names":[...],"uris":[...],
 *            "fingerprint_sha256":"..."},
 *    "route":{"name":"default/orders","rule":0,"listener":"default/gw/https"}}
 *
 * Details: "principal" is {"authenticated":false} for anonymous callers and "peer" is absent
 * without a client certificate; sub, iss, client_id and spiffe_id are left out when the token or
 * certificate has none. attributes.source.principal is the peer's SPIFFE ID, else its first URI
 * SAN, else its first DNS SAN, else its subject (Envoy's order). Header names are lower case and
 * repeated fields are joined in arrival order with ", " (Cookie and Set-Cookie with "; ", RFC
 * 6265 section 5.4); a field whose name is not a token is left out. parsed_path holds the path's
 * segments after the leading '/', each percent-decoded on its own (so an encoded slash stays inside
 * its segment; "/" gives [""]); parsed_query follows Go's url.ParseQuery, which OPA's plugin uses:
 * pairs split on '&', '+' read as a space, pairs holding ';' or a malformed escape skipped, values
 * grouped by name in order (a name that is not UTF-8 is grouped as it is written, with U+FFFD, so
 * no member repeats). Strings are escaped per RFC 8259 section 7 and bytes that are not UTF-8
 * become U+FFFD.
 *
 * Output is compact JSON text written by hand into the caller's arena (the request's): two
 * passes, one to measure and one to write, so it is one allocation of the exact size. The
 * claims are jansson's own compact serialisation. Runs on the worker serving the request.
 */
#ifndef PC_AUTHZ_INPUT_H
#define PC_AUTHZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/view.h"

struct pc_arena;

/* What goes into the document. */
struct pc_authz_input_options {
    /* The headers to include, by lower-case name (NUL-terminated); NULL: every header. */
    const char *const *headers;
    size_t n_headers;
    /*
     * For the decision log: the values of Authorization, Proxy-Authorization, Cookie and the
     * view's token header are written as "<redacted>", so no credential is ever stored. Without
     * it (what OPA and Rego receive) they are included as sent.
     */
    bool is_for_log;
};

/*
 * Builds the input document for view into arena. opts may be NULL (every header, nothing
 * redacted). view is borrowed for the call. Returns 0 with *out set to NUL-terminated arena
 * memory and *len to its length (NUL excluded); PC_ENOMEM when the arena or jansson runs out.
 */
int pc_authz_input_build(const struct pc_authz_view *view,
                         const struct pc_authz_input_options *opts, struct pc_arena *arena,
                         char **out, size_t *len);

/*
 * Whether path (NUL-terminated) names a value a decision cache may be keyed on:
 * attributes.request.http.method, .path, .host, .headers.<name>, attributes.source.address,
 * parsed_path, principal.sub, principal.iss, principal.client_id or peer.spiffe_id. These are
 * the only paths pc_authz_input_key_value accepts.
 */
bool pc_authz_input_key_path_is_valid(const char *path);

/*
 * Writes the value at one cache-key path as compact JSON text into arena, exactly as the input
 * document holds it (a string, parsed_path's array, or null when absent: an anonymous caller's
 * sub, a header not sent). attributes.source.address is the client's IP address text only: the
 * port changes with every connection, so keying on it would defeat the cache. Header names
 * match without regard to letter case and the header value is never redacted (the key stays in
 * memory). Returns 0 with *out (NUL-terminated arena memory) and *len; PC_EINVAL for a path
 * pc_authz_input_key_path_is_valid refuses; PC_ENOMEM.
 */
int pc_authz_input_key_value(const struct pc_authz_view *view, const char *path,
                             struct pc_arena *arena, char **out, size_t *len);

/*
 * Writes the cache key for the n paths (borrowed) as one JSON array of their values, in order:
 * a text that two requests share exactly when every value is equal. Returns as
 * pc_authz_input_key_value; PC_EINVAL names no path when n is 0.
 */
int pc_authz_input_cache_key(const struct pc_authz_view *view, const char *const *paths, size_t n,
                             struct pc_arena *arena, char **out, size_t *len);

/*
 * Writes the facts a native-rule decision is logged with, as one compact JSON object:
 * {"method","path" (without the query),"host","source" (the client's IP address),"sub","iss",
 * "client_id","spiffe_id"}, each left out when the request has none. No header values and no
 * credentials. Returns 0 with *out (NUL-terminated arena memory) and *len, or PC_ENOMEM.
 */
int pc_authz_input_facts(const struct pc_authz_view *view, struct pc_arena *arena, char **out,
                         size_t *len);

#endif
