/*
 * The authorization view: the read-only facts of one request that every decision source reads
 * (native rules, the input document for OPA, Rego and the HTTP check, the decision cache key and
 * the decision log). It has no behaviour: the request step fills one per request, on the stack
 * or in the request arena, and hands it to src/authz by const pointer.
 *
 * Every pointer is borrowed from the request (its arena, its connection or the snapshot) and
 * must stay valid and unchanged while any authz function reads the view; nothing in src/authz
 * keeps a pointer into it past the call, except where a function's contract says the result
 * holds slices of it (rule captures). The view belongs to the worker thread that serves the
 * request.
 */
#ifndef PC_AUTHZ_VIEW_H
#define PC_AUTHZ_VIEW_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct pc_peer_identity;
struct pc_principal;

struct pc_authz_view {
    /* The request method as sent (upper case by convention, never folded): "GET". */
    const char *method;
    size_t method_len;

    /* The path after the gateway's normalisation (src/route/path.h), the one that was routed
     * and is forwarded, without the query: "/users/42". Starts with '/'. */
    const char *path;
    size_t path_len;

    /* The raw query after '?', as received and without the '?': "x=1&y=2". NULL with length 0
     * when the target has no '?'; an empty query ("/a?") is a non-NULL pointer of length 0. */
    const char *query;
    size_t query_len;

    /* The Host header's value as received (port included when sent): "api.example.com". */
    const char *host;
    size_t host_len;

    /* "http" or "https": how the client reached the gateway. NUL-terminated. */
    const char *scheme;

    /* The request's protocol: "HTTP/1.1" or "HTTP/1.0". NUL-terminated. */
    const char *protocol;

    /* The request id the gateway uses in its logs and sends upstream (x-request-id). */
    const char *request_id;
    size_t request_id_len;

    /* The request's header fields as parsed (struct pc_h1_head's array): names lower-cased,
     * values as sent, in arrival order, repeated fields kept as separate entries. */
    const struct pc_header_pair *headers;
    size_t n_headers;

    /* The TCP peer (the client, or the last proxy in front of the gateway) and the gateway's
     * own address of the connection; ports in network order inside the sockaddr. An address
     * whose ss_family is neither AF_INET nor AF_INET6 is treated as unknown. */
    struct sockaddr_storage client_addr;
    struct sockaddr_storage local_addr;

    /* The verified client certificate of the connection; NULL without one. */
    const struct pc_peer_identity *peer;

    /* The authenticated principal (AuthenticationPolicy's outcome); NULL when anonymous. */
    const struct pc_principal *principal;

    /* Where the request was routed: the HTTPRoute "namespace/name", the rule's index in it, and
     * the listener "namespace/gateway/sectionName". NUL-terminated, from the snapshot. */
    const char *route_name;
    uint32_t rule_index;
    const char *listener;

    /* The lower-case name of the header that carried the authentication token when it was not
     * Authorization ("x-api-token"); NULL otherwise. Its value is redacted from logged input,
     * as are Authorization, Proxy-Authorization and Cookie, always. */
    const char *token_header;
    size_t token_header_len;
};

#endif
