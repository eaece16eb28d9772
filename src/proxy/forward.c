/*
 * The upstream leg of an exchange: choosing a backend, getting a connection, sending the request
 * head and streaming the body, reading the response and streaming it to the client, and
 * tunnelling upgraded connections.
 *
 * Bytes are never held whole. Request body slices go from the client's read buffer straight to
 * the upstream's write queue; response body slices from the upstream's read buffer straight to
 * the client's. Each side reads only while the other side's queue stays under a high-water mark,
 * so a slow client slows the upstream reads and a slow upstream slows the client reads, and the
 * memory one exchange holds stays bounded by those marks plus one read buffer per side.
 *
 * Framing is re-made, never copied: the gateway writes its own Content-Length or chunk sizes
 * from what it parsed, so a message that two parsers could read differently never reaches an
 * upstream or a client.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/fmt.h"
#include "core/log.h"
#include "observe/metrics.h"
#include "proxy/conn.h"
#include "tls/peer.h"
#include "tls/stream.h"
#include "tls/tls.h"
#include "upstream/pool.h"

#define HIGH_WATER_BYTES      (256 * 1024)
#define LOW_WATER_BYTES       (64 * 1024)
#define RESPONSE_HEADER_BYTES (64 * 1024)
#define RESPONSE_HEADER_COUNT 512
#define MAX_ATTEMPTS          2

static const struct pc_h1_callbacks response_callbacks;
static void on_upstream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void connect_endpoint(struct pc_exchange *x);
static void upstream_pump(struct pc_exchange *x);
static void after_upstream_bytes(struct pc_exchange *x);
static void upstream_eof(struct pc_exchange *x, ssize_t status);

/* --- helpers --- */

static void
ensure_room(struct pc_exchange *x, struct outq *q, uint32_t slots, bool is_to_client)
{
    uv_stream_t *stream;

    if (q->n + slots <= OUTQ_MAX) {
        return;
    }
    stream = is_to_client ? (uv_stream_t *)&x->conn->tcp : (uv_stream_t *)&x->up->tcp;
    outq_flush(x, q, stream, is_to_client);
}

static void
push_chunk_size(struct pc_exchange *x, struct outq *q, size_t len)
{
    char *line = pc_arena_alloc(x->arena, 24);
    size_t n;

    if (line != NULL) {
        n = pc_fmt_hex(line, len);
        line[n++] = '\r';
        line[n++] = '\n';
        outq_push(q, line, n, NULL);
    }
}

static size_t
client_queue_bytes(const struct pc_exchange *x)
{
    return x->conn != NULL ? x->conn->tcp.write_queue_size + x->to_client.bytes : 0;
}

static size_t
upstream_queue_bytes(const struct pc_exchange *x)
{
    return x->up != NULL ? x->up->tcp.write_queue_size + x->to_upstream.bytes : 0;
}

static bool
is_idempotent(uint8_t method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS || method == HTTP_PUT
           || method == HTTP_DELETE || method == HTTP_TRACE;
}

/* --- building the request head --- */

/* The headers a client sends that the gateway drops: framing it re-makes, values it sets
 * itself, and the ones some frameworks take as the request target. */
static bool
is_dropped_request_header(const struct pc_header_pair *h)
{
    static const struct {
        const char *name;
        size_t len;
    } names[] = {
        { "host", 4 },
        { "content-length", 14 },
        { "expect", 6 },
        { "x-forwarded-for", 15 },
        { "x-forwarded-proto", 17 },
        { "x-forwarded-host", 16 },
        { "x-forwarded-port", 16 },
        { "x-request-id", 12 },
        { "x-original-url", 14 },
        { "x-rewrite-url", 13 },
        { "forwarded", 9 },
        { "x-real-ip", 9 },
        { "x-forwarded-client-cert", 23 },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (h->name_len == names[i].len && memcmp(h->name, names[i].name, h->name_len) == 0) {
            return true;
        }
    }
    return pc_h1_is_hop_by_hop(h->name, h->name_len);
}

static bool
is_named_by_connection(const struct pc_h1_head *head, const struct pc_header_pair *h)
{
    for (size_t i = 0; i < head->n_headers; i++) {
        const struct pc_header_pair *c = &head->headers[i];

        if (c->name_len == 10 && memcmp(c->name, "connection", 10) == 0
            && pc_h1_value_has_token(c->value, c->value_len, h->name, h->name_len)) {
            return true;
        }
    }
    return false;
}

static bool
in_list(const struct pc_header_pair *list, size_t n, const struct pc_header_pair *h)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i].name_len == h->name_len && memcmp(list[i].name, h->name, h->name_len) == 0) {
            return true;
        }
    }
    return false;
}

/* Appends "name: value\r\n". The caller sized buf for it. */
static size_t
put_field(char *buf, size_t pos, const char *name, size_t name_len, const char *value,
          size_t value_len)
{
    memcpy(buf + pos, name, name_len);
    pos += name_len;
    buf[pos++] = ':';
    buf[pos++] = ' ';
    memcpy(buf + pos, value, value_len);
    pos += value_len;
    buf[pos++] = '\r';
    buf[pos++] = '\n';
    return pos;
}

static size_t
put_str(char *buf, size_t pos, const char *s, size_t len)
{
    memcpy(buf + pos, s, len);
    return pos + len;
}

static size_t
modifier_bytes(const struct pc_header_modifier *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n_set; i++) {
        n += m->set[i].name_len + m->set[i].value_len + 4;
    }
    for (size_t i = 0; i < m->n_add; i++) {
        n += m->add[i].name_len + m->add[i].value_len + 4;
    }
    return n;
}

static bool
is_named(const struct pc_header_pair *h, const char *name, size_t len)
{
    return h->name_len == len && memcmp(h->name, name, len) == 0;
}

/*
 * Whether h is a header the gateway fills from the caller's verified claims: the client's own
 * copy never passes, whether or not this request's token holds the claim, or a client could
 * name itself whatever the upstream trusts the header to say.
 */
static bool
is_identity_header(const struct pc_authn *a, const struct pc_header_pair *h)
{
    for (size_t i = 0; a != NULL && i < a->n_forward; i++) {
        const char *name = a->forward[i].header;

        if (strlen(name) == h->name_len && strncasecmp(name, h->name, h->name_len) == 0) {
            return true;
        }
    }
    return false;
}

static bool
is_in_names(const char *const *names, size_t n, const struct pc_header_pair *h)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == h->name_len && strncasecmp(names[i], h->name, h->name_len) == 0) {
            return true;
        }
    }
    return false;
}

/* The fields authorization speaks for: a check service's identity fields (whatever it
 * answered) and the fields this request's decision adds. A client never sets them itself. */
static bool
is_authz_header(const struct pc_exchange *x, const struct pc_header_pair *h)
{
    const struct pc_authz *z = x->match.rule->authz;

    if (z == NULL) {
        return false;
    }
    if (z->source == PC_AUTHZ_HTTP
        && is_in_names(z->remote->response_headers, z->remote->n_response_headers, h)) {
        return true;
    }
    for (size_t i = 0; i < x->n_authz_headers; i++) {
        const struct pc_header_pair *a = &x->authz_headers[i];

        if (a->name_len == h->name_len && strncasecmp(a->name, h->name, h->name_len) == 0) {
            return true;
        }
    }
    return false;
}

/* Copies the client's fields that pass, the filter's set and add fields, then the fields
 * taken from the caller's verified claims and those authorization adds. */
static size_t
put_request_fields(char *buf, size_t pos, const struct pc_exchange *x)
{
    const struct pc_header_modifier *m = &x->match.rule->request_headers;
    const struct pc_authn *a = x->match.rule->authn;
    const struct pc_h1_head *req = x->req;

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (is_dropped_request_header(h) || is_named_by_connection(req, h)
            || in_list(m->remove, m->n_remove, h) || in_list(m->set, m->n_set, h)
            || is_identity_header(a, h) || is_authz_header(x, h)) {
            continue;
        }
        pos = put_field(buf, pos, h->name, h->name_len, h->value, h->value_len);
    }
    for (size_t i = 0; i < m->n_set; i++) {
        pos = put_field(buf, pos, m->set[i].name, m->set[i].name_len, m->set[i].value,
                        m->set[i].value_len);
    }
    for (size_t i = 0; i < m->n_add; i++) {
        pos = put_field(buf, pos, m->add[i].name, m->add[i].name_len, m->add[i].value,
                        m->add[i].value_len);
    }
    for (size_t i = 0; i < x->n_identity_headers; i++) {
        const struct pc_header_pair *h = &x->identity_headers[i];

        pos = put_field(buf, pos, h->name, h->name_len, h->value, h->value_len);
    }
    for (size_t i = 0; i < x->n_authz_headers; i++) {
        const struct pc_header_pair *h = &x->authz_headers[i];

        pos = put_field(buf, pos, h->name, h->name_len, h->value, h->value_len);
    }
    return pos;
}

/*
 * X-Forwarded-For: the client's own values (every line, in order) and then the address this
 * connection came from. Upstreams that trust it must count hops from the right, as the
 * client-supplied part is whatever the client chose to send.
 */
static size_t
put_forwarded_for(char *buf, size_t pos, const struct pc_exchange *x)
{
    const struct pc_h1_head *req = x->req;

    pos = put_str(buf, pos, "x-forwarded-for: ", 17);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (is_named(h, "x-forwarded-for", 15) && h->value_len > 0) {
            pos = put_str(buf, pos, h->value, h->value_len);
            pos = put_str(buf, pos, ", ", 2);
        }
    }
    pos = put_str(buf, pos, x->conn->peer, strlen(x->conn->peer));
    return put_str(buf, pos, "\r\n", 2);
}

/* Applies URLRewrite's path to the routed path. Returns arena memory or NULL. */
static const char *
rewrite_path(struct pc_exchange *x, const struct pc_path_modifier *mod, size_t *len)
{
    const char *rest;
    size_t rest_len;
    size_t value_len = mod->value_len;
    char *out;

    if (mod->type == PC_PATH_MOD_REPLACE_FULL) {
        *len = mod->value_len;
        return mod->value;
    }

    /* ReplacePrefixMatch: the matched prefix is replaced and the rest kept, joined by exactly
     * one slash, as the Gateway API examples show ("/foo" -> "/" turns "/foo/bar" into "/bar"). */
    rest = x->path + x->match.prefix_len;
    rest_len = x->path_len - x->match.prefix_len;
    if (value_len > 0 && mod->value[value_len - 1] == '/' && rest_len > 0 && rest[0] == '/') {
        value_len--;
    }
    out = pc_arena_alloc(x->arena, value_len + rest_len + 2);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, mod->value, value_len);
    memcpy(out + value_len, rest, rest_len);
    *len = value_len + rest_len;
    if (*len == 0) {
        out[(*len)++] = '/';
    }
    return out;
}

static size_t
put_framing(char *buf, size_t pos, const struct pc_exchange *x)
{
    const struct pc_h1_head *req = x->req;
    char num[32];
    size_t n;

    if (req->framing == PC_H1_BODY_CHUNKED) {
        return put_str(buf, pos, "transfer-encoding: chunked\r\n", 28);
    }
    if (req->framing == PC_H1_BODY_LENGTH || pc_h1_header_find(req, "content-length", 14) != NULL) {
        /* A zero Content-Length is kept: some origins answer 411 to a bodiless POST without
         * one. */
        n = pc_fmt_u64(num, req->content_length);
        return put_field(buf, pos, "content-length", 14, num, n);
    }
    return pos;
}

/*
 * x-forwarded-client-cert for this request: the client's own was dropped with the other
 * identity headers; under SanitizeSet, one describing the certificate this connection verified
 * takes its place. Returns arena memory, or NULL for none.
 */
static const char *
client_cert_element(struct pc_exchange *x, size_t *len)
{
    const struct pc_xfcc *xfcc = &x->match.rule->xfcc;
    unsigned details = 0;

    if (xfcc->mode != PC_XFCC_SANITIZE_SET || x->conn->peer_identity == NULL) {
        return NULL;
    }
    details |= xfcc->subject ? PC_PEER_XFCC_SUBJECT : 0;
    details |= xfcc->uri ? PC_PEER_XFCC_URI : 0;
    details |= xfcc->dns ? PC_PEER_XFCC_DNS : 0;
    details |= xfcc->cert ? PC_PEER_XFCC_CERT : 0;
    details |= xfcc->chain ? PC_PEER_XFCC_CHAIN : 0;
    return pc_peer_xfcc_format(x->conn->peer_identity, details, NULL, x->arena, len);
}

static int
build_request_head(struct pc_exchange *x)
{
    const struct pc_route_rule *rule = x->match.rule;
    const struct pc_h1_head *req = x->req;
    const char *path = x->path;
    size_t path_len = x->path_len;
    const char *host = x->authority;
    size_t host_len = x->authority_len;
    size_t xfcc_len = 0;
    const char *xfcc;
    size_t cap;
    size_t pos;
    char *buf;

    if (rule->rewrite != NULL && rule->rewrite->path.type != PC_PATH_MOD_NONE) {
        path = rewrite_path(x, &rule->rewrite->path, &path_len);
        if (path == NULL) {
            return PC_ENOMEM;
        }
    }
    if (rule->rewrite != NULL && rule->rewrite->hostname != NULL) {
        host = rule->rewrite->hostname;
        host_len = strlen(host);
    }
    if (host == NULL) {
        /* An HTTP/1.0 request may come without Host; the upstream still needs one. */
        host = x->endpoint->name;
        host_len = strlen(host);
    }

    xfcc = client_cert_element(x, &xfcc_len);
    cap = 320 + req->method_len + path_len + x->query_len + host_len + 2 * req->header_bytes
          + x->authority_len + modifier_bytes(&rule->request_headers) + xfcc_len;
    for (size_t i = 0; i < x->n_identity_headers; i++) {
        cap += x->identity_headers[i].name_len + x->identity_headers[i].value_len + 4;
    }
    for (size_t i = 0; i < x->n_authz_headers; i++) {
        cap += x->authz_headers[i].name_len + x->authz_headers[i].value_len + 4;
    }
    buf = pc_arena_alloc(x->arena, cap);
    if (buf == NULL) {
        return PC_ENOMEM;
    }

    pos = put_str(buf, 0, req->method, req->method_len);
    buf[pos++] = ' ';
    pos = put_str(buf, pos, path, path_len);
    if (x->query != NULL) {
        buf[pos++] = '?';
        pos = put_str(buf, pos, x->query, x->query_len);
    }
    pos = put_str(buf, pos, " HTTP/1.1\r\n", 11);
    pos = put_field(buf, pos, "host", 4, host, host_len);
    pos = put_request_fields(buf, pos, x);
    pos = put_forwarded_for(buf, pos, x);
    if (x->conn->tls != NULL) {
        pos = put_str(buf, pos, "x-forwarded-proto: https\r\n", 26);
    } else {
        pos = put_str(buf, pos, "x-forwarded-proto: http\r\n", 25);
    }
    if (x->authority != NULL) {
        pos = put_field(buf, pos, "x-forwarded-host", 16, x->authority, x->authority_len);
    }
    pos = put_field(buf, pos, "x-request-id", 12, x->request_id, strlen(x->request_id));
    if (xfcc != NULL) {
        pos = put_field(buf, pos, "x-forwarded-client-cert", 23, xfcc, xfcc_len);
    }
    pos = put_framing(buf, pos, x);
    if (x->wants_tunnel) {
        const struct pc_header_pair *up = pc_h1_header_find(req, "upgrade", 7);

        pos = put_str(buf, pos, "connection: upgrade\r\n", 21);
        pos = put_field(buf, pos, "upgrade", 7, up->value, up->value_len);
    }
    pos = put_str(buf, pos, "\r\n", 2);
    PC_ASSERT(pos <= cap);

    x->up_head = buf;
    x->up_head_len = pos;
    return 0;
}

/* --- the response head to the client --- */

static bool
is_dropped_response_header(const struct pc_header_pair *h)
{
    return is_named(h, "content-length", 14) || pc_h1_is_hop_by_hop(h->name, h->name_len);
}

static void
choose_out_framing(struct pc_exchange *x, const struct pc_h1_head *resp)
{
    bool is_client_11 = x->req->version_minor == 1;

    if (resp->status == 101) {
        x->out_framing = PC_H1_BODY_NONE;
        return;
    }
    switch (resp->framing) {
    case PC_H1_BODY_LENGTH:
    case PC_H1_BODY_NONE:
        x->out_framing = resp->framing;
        break;
    case PC_H1_BODY_CHUNKED:
    case PC_H1_BODY_CLOSE:
        /* Unknown length: chunked for HTTP/1.1 clients, delimited by close for HTTP/1.0 ones,
         * which know no chunked coding (RFC 9112 section 7). */
        x->out_framing = is_client_11 ? PC_H1_BODY_CHUNKED : PC_H1_BODY_CLOSE;
        if (!is_client_11) {
            x->is_close_after = true;
        }
        break;
    }
    if (x->is_head_request || resp->status == 204 || resp->status == 304) {
        x->out_framing = PC_H1_BODY_NONE;
    }
}

static size_t
put_response_fields(char *buf, size_t pos, const struct pc_exchange *x,
                    const struct pc_h1_head *resp, bool *has_request_id)
{
    const struct pc_header_modifier *m = &x->match.rule->response_headers;

    for (size_t i = 0; i < resp->n_headers; i++) {
        const struct pc_header_pair *h = &resp->headers[i];

        if (is_dropped_response_header(h) || is_named_by_connection(resp, h)
            || in_list(m->remove, m->n_remove, h) || in_list(m->set, m->n_set, h)) {
            continue;
        }
        if (is_named(h, "x-request-id", 12)) {
            *has_request_id = true;
        }
        pos = put_field(buf, pos, h->name, h->name_len, h->value, h->value_len);
    }
    for (size_t i = 0; i < m->n_set; i++) {
        pos = put_field(buf, pos, m->set[i].name, m->set[i].name_len, m->set[i].value,
                        m->set[i].value_len);
    }
    for (size_t i = 0; i < m->n_add; i++) {
        pos = put_field(buf, pos, m->add[i].name, m->add[i].name_len, m->add[i].value,
                        m->add[i].value_len);
    }
    return pos;
}

static size_t
put_response_framing(char *buf, size_t pos, struct pc_exchange *x, const struct pc_h1_head *resp)
{
    char num[32];
    size_t n;

    if (resp->status == 101) {
        const struct pc_header_pair *up = pc_h1_header_find(resp, "upgrade", 7);

        pos = put_str(buf, pos, "connection: upgrade\r\n", 21);
        if (up != NULL) {
            pos = put_field(buf, pos, "upgrade", 7, up->value, up->value_len);
        }
        return pos;
    }
    if (resp->framing == PC_H1_BODY_LENGTH
        || (x->is_head_request && pc_h1_header_find(resp, "content-length", 14) != NULL)) {
        /* HEAD: the length the corresponding GET would have, as the upstream said. */
        n = pc_fmt_u64(num, resp->content_length);
        pos = put_field(buf, pos, "content-length", 14, num, n);
    } else if (x->out_framing == PC_H1_BODY_CHUNKED) {
        pos = put_str(buf, pos, "transfer-encoding: chunked\r\n", 28);
    } else if (resp->framing == PC_H1_BODY_NONE && resp->status >= 200 && resp->status != 204
               && resp->status != 304 && !x->is_head_request) {
        pos = put_str(buf, pos, "content-length: 0\r\n", 19);
    }
    if (x->is_close_after || server_is_draining(x->server) || !x->req->is_keep_alive) {
        x->is_close_after = true;
        pos = put_str(buf, pos, "connection: close\r\n", 19);
    } else if (x->req->version_minor == 0) {
        pos = put_str(buf, pos, "connection: keep-alive\r\n", 24);
    }
    return pos;
}

static size_t
put_status_line(char *buf, unsigned status)
{
    const char *reason = pc_h1_reason_phrase(status);
    size_t pos = put_str(buf, 0, "HTTP/1.1 ", 9);

    pos += pc_fmt_u64(buf + pos, status);
    buf[pos++] = ' ';
    pos = put_str(buf, pos, reason, strlen(reason));
    return put_str(buf, pos, "\r\n", 2);
}

static int
queue_response_head(struct pc_exchange *x, const struct pc_h1_head *resp)
{
    const struct pc_route_rule *rule = x->match.rule;
    bool has_request_id = false;
    size_t cap;
    size_t pos;
    char *buf;

    choose_out_framing(x, resp);
    if (x->wants_tunnel && resp->status != 101) {
        /* The upgrade was declined; what the client sends next may not be HTTP. */
        x->is_close_after = true;
    }
    cap = 256 + 2 * resp->header_bytes + modifier_bytes(&rule->response_headers)
          + strlen(x->request_id);
    buf = pc_arena_alloc(x->arena, cap);
    if (buf == NULL) {
        return PC_ENOMEM;
    }
    pos = put_status_line(buf, resp->status);
    pos = put_response_fields(buf, pos, x, resp, &has_request_id);
    if (!has_request_id) {
        pos = put_field(buf, pos, "x-request-id", 12, x->request_id, strlen(x->request_id));
    }
    pos = put_response_framing(buf, pos, x, resp);
    pos = put_str(buf, pos, "\r\n", 2);
    PC_ASSERT(pos <= cap);

    x->status = resp->status;
    x->resp_state = RESP_STREAMING;
    ensure_room(x, &x->to_client, 1, true);
    outq_push(&x->to_client, buf, pos, NULL);
    return 0;
}

/* --- failures --- */

static void
upstream_failed(struct pc_exchange *x, unsigned status, const char *reason)
{
    pc_log(PC_LOG_DEBUG, "proxy", "upstream_failed", "endpoint=%s status=%u reason=%s",
           x->endpoint != NULL ? x->endpoint->name : "-", status, reason);
    forward_release(x, false);
    if (exchange_can_answer(x)) {
        x->resp_state = RESP_NONE;
        exchange_answer(x, status, reason);
        return;
    }
    /* Part of the response is already out: closing is the only way left to say it failed. */
    if (x->conn != NULL) {
        conn_close(x->conn);
    }
}

/* --- timers --- */

static void on_upstream_timer(uv_timer_t *timer);

static void
arm_upstream_timer(struct pc_exchange *x)
{
    const struct pc_route_rule *rule = x->match.rule;
    uint64_t deadline = 0;

    if (rule->backend_request_timeout_ms != 0) {
        deadline = x->up_progress_ms + rule->backend_request_timeout_ms;
    }
    if (rule->request_timeout_ms != 0
        && (deadline == 0 || x->start_ms + rule->request_timeout_ms < deadline)) {
        deadline = x->start_ms + rule->request_timeout_ms;
    }
    pc_upconn_set_deadline(x->up, deadline);
}

/*
 * timeouts.backendRequest bounds the wait for the response head and every later wait for
 * response bytes, so a response that keeps flowing is not cut; timeouts.request bounds the
 * whole exchange. Either one passing answers 504 if nothing was sent to the client yet.
 */
static void
on_upstream_timer(uv_timer_t *timer)
{
    struct pc_upconn *up = timer->data;
    struct pc_exchange *x = up->owner;
    const struct pc_route_rule *rule = x->match.rule;
    uint64_t now = uv_now(server_loop(x->server));
    bool is_total = rule->request_timeout_ms != 0 && now >= x->start_ms + rule->request_timeout_ms;
    bool is_progress = rule->backend_request_timeout_ms != 0
                       && now >= x->up_progress_ms + rule->backend_request_timeout_ms;

    if (!is_total && !is_progress) {
        arm_upstream_timer(x);
        return;
    }
    pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RESPONSE_TIMEOUTS, 1);
    upstream_failed(x, 504, is_total ? "request_timeout" : "upstream_timeout");
}

/* --- requests going up --- */

static void
on_up_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct pc_upconn *up = handle->data;
    struct pc_exchange *x = up->owner;
    struct pc_buf *b = pc_buf_get(server_bufs(x->server));

    buf->base = b != NULL ? b->data : NULL;
    buf->len = b != NULL ? b->size : 0;
}

static void
attach(struct pc_exchange *x, struct pc_upconn *up)
{
    static const struct pc_h1_limits limits = {
        .max_line_bytes = 0,
        .max_header_bytes = RESPONSE_HEADER_BYTES,
        .max_header_count = RESPONSE_HEADER_COUNT,
    };

    x->up = up;
    up->owner = x;
    up->alloc_cb = on_up_alloc;
    up->read_cb = on_upstream_read;
    up->timer_cb = on_upstream_timer;
    pc_h1_init(&up->parser, PC_H1_RESPONSE, &response_callbacks, x);
    pc_h1_begin(&up->parser, x->arena, &limits);
}

static void
send_request(struct pc_exchange *x)
{
    struct pc_conn *conn = x->conn;
    static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (x->upstream_start_ns == 0) {
        x->upstream_start_ns = uv_hrtime();
    }
    x->resp_state = RESP_WAITING;
    x->is_up_ready = true;
    x->up_progress_ms = uv_now(server_loop(x->server));
    outq_push(&x->to_upstream, x->up_head, x->up_head_len, NULL);
    pc_upconn_read_start(x->up);
    arm_upstream_timer(x);

    if (x->req_state == REQ_STEPS) {
        if (x->req->expect_continue && x->req->framing != PC_H1_BODY_NONE) {
            /* RFC 9110 section 10.1.1: the request passed every check, so the body is wanted. */
            outq_push(&x->to_client, continue_line, sizeof(continue_line) - 1, NULL);
            outq_flush(x, &x->to_client, (uv_stream_t *)&conn->tcp, true);
        }
        x->req_state = REQ_BODY;
        conn_set_timer(conn, TIMER_BODY);
    }
    forward_flush(x);
    if (x->req_state == REQ_BODY && x->conn != NULL) {
        conn_process(x->conn);
    }
}

/* Connections under different TLS policies to one address are not interchangeable. */
static const char *
pool_tag(const struct pc_exchange *x)
{
    return x->backend->tls != NULL ? x->backend->tls->policy : NULL;
}

static struct pc_log_limit upstream_refusal_limit = PC_LOG_LIMIT_INIT(20, 10000);

static void
upstream_tls_failed(struct pc_exchange *x)
{
    const char *reason = pc_tls_stream_error(x->up->tls);

    pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_TLS_FAILURES, 1);
    if (pc_tls_stream_peer_refused(x->up->tls) && pc_log_limit_allow(&upstream_refusal_limit)) {
        /* An upstream presenting the wrong identity is an operator's problem, not a client's. */
        pc_log(PC_LOG_WARN, "tls", "upstream_certificate_refused",
               "endpoint=%s policy=%s reason=%s detail=\"%s\"", x->endpoint->name,
               x->backend->tls->policy, reason, pc_tls_stream_detail(x->up->tls));
    } else {
        pc_log(PC_LOG_DEBUG, "tls", "upstream_handshake_failed", "endpoint=%s reason=%s",
               x->endpoint->name, reason);
    }
    upstream_failed(x, 502, "upstream_tls_failed");
}

/* Advances the handshake with the upstream; sends the request once it completes. */
static void
upstream_handshake(struct pc_exchange *x)
{
    enum pc_tls_io r = pc_tls_stream_handshake(x->up->tls);

    if (tls_submit(x, NULL, x->up->tls, (uv_stream_t *)&x->up->tcp, false) != 0) {
        upstream_failed(x, 502, "upstream_write_failed");
        return;
    }
    if (r == PC_TLS_ERROR) {
        upstream_tls_failed(x);
    } else if (r == PC_TLS_OK) {
        send_request(x);
    }
}

static int
start_upstream_tls(struct pc_exchange *x, struct pc_upconn *up)
{
    const struct pc_backend_tls *bt = x->backend->tls;
    SSL_CTX *ctx = pc_tls_set_backend_ctx(x->holder->tls, bt);

    if (ctx == NULL) {
        return PC_ENOTSUP;
    }
    up->tls = pc_malloc(sizeof(*up->tls));
    if (up->tls == NULL) {
        return PC_ENOMEM;
    }
    if (pc_tls_stream_init(up->tls, ctx, false, bt->hostname, server_bufs(x->server)) != 0) {
        pc_tls_stream_free(up->tls);
        pc_free(up->tls);
        up->tls = NULL;
        return PC_ENOMEM;
    }
    return 0;
}

/* The upstream is connected: plain ones take the request now, TLS ones after a handshake. */
static void
upstream_ready(struct pc_exchange *x, struct pc_upconn *up)
{
    attach(x, up);
    if (x->backend->tls == NULL || up->tls != NULL) {
        send_request(x);
        return;
    }
    if (start_upstream_tls(x, up) != 0) {
        pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_TLS_FAILURES, 1);
        upstream_failed(x, 502, "upstream_tls_unavailable");
        return;
    }
    /* The handshake counts against the connect timeout's budget as the response wait does. */
    x->resp_state = RESP_WAITING;
    x->up_progress_ms = uv_now(server_loop(x->server));
    pc_upconn_read_start(up);
    arm_upstream_timer(x);
    upstream_handshake(x);
}

static void
on_up_connected(struct pc_upconn *up, int status)
{
    struct pc_exchange *x = up->owner;

    if (x->is_ended || x->conn == NULL || x->up != up) {
        /* The client left while we connected. */
        if (status == 0) {
            pc_upconn_close(up);
        }
        exchange_unref(x);
        return;
    }
    if (status != 0) {
        bool is_timeout = status == PC_ETIMEDOUT;

        x->up = NULL;
        pc_metrics_add(server_metrics(x->server),
                       is_timeout ? PC_M_UPSTREAM_CONNECT_TIMEOUTS : PC_M_UPSTREAM_CONNECT_ERRORS,
                       1);
        pc_log(PC_LOG_DEBUG, "proxy", "upstream_connect_failed", "endpoint=%s error=\"%s\"",
               x->endpoint->name, pc_strerror(status));
        if (x->attempts < MAX_ATTEMPTS && x->backend->n_endpoints > 1) {
            /* Nothing was sent: another endpoint of the same backend may take the request. */
            x->endpoint = &x->backend->endpoints[(x->endpoint - x->backend->endpoints + 1)
                                                 % x->backend->n_endpoints];
            pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RETRIES, 1);
            connect_endpoint(x);
        } else {
            upstream_failed(x, is_timeout ? 504 : 502,
                            is_timeout ? "upstream_connect_timeout" : "upstream_connect_failed");
        }
        exchange_unref(x);
        return;
    }
    upstream_ready(x, up);
    exchange_unref(x);
}

static void
connect_endpoint(struct pc_exchange *x)
{
    struct pc_upconn *up;

    x->attempts++;
    x->is_up_reused = false;
    up = pc_pool_connect(server_pool(x->server), x->endpoint, pool_tag(x),
                         x->backend->connect_timeout_ms, on_up_connected, x);
    if (up == NULL) {
        pc_metrics_add(server_metrics(x->server), PC_M_OUT_OF_MEMORY, 1);
        upstream_failed(x, 503, "out_of_memory");
        return;
    }
    x->up = up;
    exchange_ref(x);
}

/*
 * Whether a pooled connection was made under the current TLS contexts. One made under contexts
 * a rotation replaced presents the old client certificate and trusts the old roots: it is
 * retired rather than reused, so a rotation reaches every new request.
 */
static bool
is_current(const struct pc_exchange *x, const struct pc_upconn *up)
{
    const struct pc_backend_tls *bt = x->backend->tls;

    if (bt == NULL) {
        return true;
    }
    return up->tls != NULL
           && SSL_get_SSL_CTX(up->tls->ssl) == pc_tls_set_backend_ctx(x->holder->tls, bt);
}

static void
acquire(struct pc_exchange *x)
{
    struct pc_upconn *up;

    while ((up = pc_pool_take(server_pool(x->server), x->endpoint, pool_tag(x))) != NULL
           && !is_current(x, up)) {
        pc_upconn_close(up);
    }
    if (up == NULL) {
        connect_endpoint(x);
        return;
    }
    x->attempts++;
    x->is_up_reused = true;
    upstream_ready(x, up);
}

/* A pooled connection died before any response byte: the upstream closed it while it sat idle.
 * Sending again on a fresh connection is safe when the request is idempotent and its body has
 * not started to flow (RFC 9110 section 9.2.2). */
static bool
try_retry(struct pc_exchange *x)
{
    if (!x->is_up_reused || x->is_body_started || x->attempts >= MAX_ATTEMPTS
        || !is_idempotent(x->req->method_id)) {
        return false;
    }
    pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RETRIES, 1);
    outq_clear(&x->to_upstream);
    pc_upconn_close(x->up);
    x->up = NULL;
    x->is_up_ready = false;
    connect_endpoint(x);
    return true;
}

void
forward_flush(struct pc_exchange *x)
{
    int rc;

    if (x->up == NULL || x->to_upstream.n == 0) {
        return;
    }
    rc = outq_flush(x, &x->to_upstream, (uv_stream_t *)&x->up->tcp, false);
    if (rc != 0 && !try_retry(x)) {
        upstream_failed(x, 502, "upstream_write_failed");
    }
}

bool
forward_wants_body(const struct pc_exchange *x)
{
    return x->up != NULL && x->is_up_ready && upstream_queue_bytes(x) < HIGH_WATER_BYTES;
}

int
forward_request_body(struct pc_exchange *x, const char *at, size_t len)
{
    struct outq *q = &x->to_upstream;

    x->body_in += len;
    if (x->limits.max_body_bytes != 0 && x->body_in > x->limits.max_body_bytes) {
        pc_h1_set_error(&x->conn->parser, 413, "body_too_large");
        return -1;
    }
    if (x->up == NULL) {
        /* The upstream went away mid-body; the answer is being made, the bytes are dropped. */
        return 0;
    }
    x->is_body_started = true;
    if (x->req->framing == PC_H1_BODY_CHUNKED) {
        ensure_room(x, q, 3, false);
        push_chunk_size(x, q, len);
        outq_push(q, at, len, x->conn->in);
        outq_push(q, "\r\n", 2, NULL);
    } else {
        ensure_room(x, q, 1, false);
        outq_push(q, at, len, x->conn->in);
    }
    return 0;
}

void
forward_request_done(struct pc_exchange *x)
{
    if (x->up != NULL && x->req->framing == PC_H1_BODY_CHUNKED) {
        ensure_room(x, &x->to_upstream, 1, false);
        outq_push(&x->to_upstream, "0\r\n\r\n", 5, NULL);
        x->is_body_started = true;
    }
    forward_flush(x);
    if (x->conn != NULL && !x->conn->is_tunnel) {
        conn_set_timer(x->conn, TIMER_SEND);
    }
    exchange_check_end(x);
}

/* --- responses coming down --- */

static void
apply_client_backpressure(struct pc_exchange *x)
{
    if (x->up != NULL && !x->is_up_paused && client_queue_bytes(x) > HIGH_WATER_BYTES) {
        pc_upconn_read_stop(x->up);
        x->is_up_paused = true;
    }
}

void
forward_client_drained(struct pc_exchange *x)
{
    if (x->is_tunnel_up_eof && x->client_writes == 0 && x->conn != NULL) {
        conn_close(x->conn);
        return;
    }
    if (x->is_up_paused && x->up != NULL && client_queue_bytes(x) < LOW_WATER_BYTES) {
        x->is_up_paused = false;
        pc_upconn_read_start(x->up);
        if (x->up->tls != NULL && pc_tls_stream_has_input(x->up->tls)) {
            /* Decrypted bytes waited inside the session while the client was behind. */
            exchange_ref(x);
            upstream_pump(x);
            after_upstream_bytes(x);
            exchange_unref(x);
        }
    }
}

static int
on_response_head(void *owner, struct pc_h1_head *head)
{
    struct pc_exchange *x = owner;

    if (head->status >= 100 && head->status < 200 && head->status != 101) {
        /* Interim responses (100, 103) are the upstream's business with us, not the
         * client's: the gateway already answered Expect itself. */
        x->is_interim = true;
        return 0;
    }
    if (head->status == 101 && !x->wants_tunnel) {
        pc_h1_set_error(&x->up->parser, 502, "unexpected_upgrade");
        return -1;
    }
    x->resp = head;
    if (queue_response_head(x, head) != 0) {
        pc_h1_set_error(&x->up->parser, 503, "out_of_memory");
        return -1;
    }
    return x->out_framing == PC_H1_BODY_NONE && head->framing != PC_H1_BODY_NONE ? 1 : 0;
}

static int
on_response_body(void *owner, const char *at, size_t len)
{
    struct pc_exchange *x = owner;
    struct outq *q = &x->to_client;

    x->body_out += len;
    if (x->out_framing == PC_H1_BODY_CHUNKED) {
        ensure_room(x, q, 3, true);
        push_chunk_size(x, q, len);
        outq_push(q, at, len, x->up_in);
        outq_push(q, "\r\n", 2, NULL);
    } else {
        ensure_room(x, q, 1, true);
        outq_push(q, at, len, x->up_in);
    }
    return 0;
}

static void
on_response_complete(void *owner)
{
    struct pc_exchange *x = owner;

    if (x->is_interim || (x->resp != NULL && x->resp->status == 101)) {
        /* A 101 ends the HTTP part only: the connection becomes the tunnel (feed_response). */
        return;
    }
    if (x->out_framing == PC_H1_BODY_CHUNKED) {
        ensure_room(x, &x->to_client, 1, true);
        outq_push(&x->to_client, "0\r\n\r\n", 5, NULL);
    }
    x->is_upstream_reusable = pc_h1_keep_alive(&x->up->parser);
    x->resp_state = RESP_DONE;
    x->upstream_end_ns = uv_hrtime();
}

static const struct pc_h1_callbacks response_callbacks = {
    .on_head = on_response_head,
    .on_body = on_response_body,
    .on_complete = on_response_complete,
};

static void
start_tunnel(struct pc_exchange *x, const char *rest, size_t rest_len)
{
    struct pc_conn *conn = x->conn;

    conn->is_tunnel = true;
    x->is_tunnel = true;
    pc_metrics_add(server_metrics(x->server), PC_M_WEBSOCKET_TUNNELS, 1);
    pc_upconn_set_deadline(x->up, 0);
    outq_push(&x->to_client, rest, rest_len, x->up_in);
    if (conn->in != NULL) {
        /* Bytes the client sent after its request head are the tunnel's first. */
        outq_push(&x->to_upstream, conn->in->data + conn->in_off, conn->in_len, conn->in);
        pc_buf_unref(conn->in);
        conn->in = NULL;
    }
    forward_flush(x);
    conn_set_timer(conn, TIMER_TUNNEL);
    conn_update_reading(conn);
}

/* Parses response bytes; may run several messages when interim responses come first. */
static void
feed_response(struct pc_exchange *x, const char *data, size_t len)
{
    for (;;) {
        enum pc_h1_result rc;
        size_t consumed;

        pc_h1_resume(&x->up->parser);
        rc = pc_h1_feed(&x->up->parser, data, len, &consumed);
        data += consumed;
        len -= consumed;
        if (rc == PC_H1_OK) {
            return;
        }
        if (rc == PC_H1_ERROR) {
            pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RESPONSE_ERRORS, 1);
            upstream_failed(x, pc_h1_error_status(&x->up->parser) == 503 ? 503 : 502,
                            pc_h1_error_reason(&x->up->parser));
            return;
        }
        if (x->is_interim) {
            static const struct pc_h1_limits limits = { 0, RESPONSE_HEADER_BYTES,
                                                        RESPONSE_HEADER_COUNT };

            x->is_interim = false;
            pc_h1_begin(&x->up->parser, x->arena, &limits);
            continue;
        }
        if (x->resp != NULL && x->resp->status == 101) {
            start_tunnel(x, data, len);
        } else if (len > 0) {
            /* Bytes after a complete response belong to no request of ours. */
            x->is_upstream_reusable = false;
        }
        return;
    }
}

static void
finish_response_early(struct pc_exchange *x)
{
    if (x->req_state != REQ_DONE) {
        /* The upstream answered before the request body was all sent; it will not read the
         * rest, and neither will we. */
        x->is_close_after = true;
        forward_release(x, false);
    } else if (x->upstream_writes == 0 && x->to_upstream.n == 0) {
        forward_release(x, true);
    }
}

static void
upstream_eof(struct pc_exchange *x, ssize_t status)
{
    if (x->conn != NULL && x->conn->is_tunnel) {
        x->is_tunnel_up_eof = true;
        forward_release(x, false);
        forward_client_drained(x);
        return;
    }
    if (x->resp_state == RESP_WAITING) {
        if (!try_retry(x)) {
            pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RESPONSE_ERRORS, 1);
            upstream_failed(x, 502, status == UV_EOF ? "upstream_closed" : "upstream_reset");
        }
        return;
    }
    if (x->resp_state == RESP_STREAMING && pc_h1_finish(&x->up->parser) != PC_H1_OK) {
        pc_metrics_add(server_metrics(x->server), PC_M_UPSTREAM_RESPONSE_ERRORS, 1);
        upstream_failed(x, 502, "upstream_truncated");
        return;
    }
    x->is_upstream_reusable = false;
    forward_release(x, false);
}

static void
after_upstream_bytes(struct pc_exchange *x)
{
    struct pc_conn *conn = x->conn;

    if (conn == NULL) {
        return;
    }
    if (outq_flush(x, &x->to_client, (uv_stream_t *)&conn->tcp, true) != 0) {
        conn_close(conn);
        return;
    }
    apply_client_backpressure(x);
    if (x->conn != NULL && x->conn->is_tunnel) {
        conn_update_reading(x->conn);
        return;
    }
    if (x->resp_state == RESP_DONE && x->up != NULL) {
        finish_response_early(x);
    }
    exchange_check_end(x);
}

/* Hands response plaintext (held in b) to the tunnel or the response parser. */
static void
take_plaintext(struct pc_exchange *x, struct pc_buf *b, const char *data, size_t len)
{
    if (x->conn != NULL && x->conn->is_tunnel) {
        x->conn->progress_ms = x->up_progress_ms;
        outq_push(&x->to_client, data, len, b);
        return;
    }
    x->up_in = b;
    feed_response(x, data, len);
    x->up_in = NULL;
}

/* Decrypts what the upstream's TLS session holds, while the client keeps up. */
static void
upstream_pump(struct pc_exchange *x)
{
    while (x->up != NULL && x->up->tls != NULL && !x->is_up_paused) {
        struct pc_buf *b = pc_buf_get(server_bufs(x->server));
        enum pc_tls_io r;
        size_t n;

        if (b == NULL) {
            upstream_failed(x, 503, "out_of_memory");
            return;
        }
        r = pc_tls_stream_read(x->up->tls, b->data, b->size, &n);
        if (r == PC_TLS_OK) {
            take_plaintext(x, b, b->data, n);
            pc_buf_unref(b);
            apply_client_backpressure(x);
            continue;
        }
        pc_buf_unref(b);
        if (r == PC_TLS_CLOSED) {
            upstream_eof(x, UV_EOF);
        } else if (r == PC_TLS_ERROR) {
            upstream_tls_failed(x);
        }
        return;
    }
}

static void
on_upstream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *uvbuf)
{
    struct pc_upconn *up = stream->data;
    struct pc_exchange *x = up->owner;
    struct pc_buf *b =
        uvbuf->base != NULL ? (struct pc_buf *)(uvbuf->base - offsetof(struct pc_buf, data)) : NULL;

    if (nread == 0) {
        pc_buf_unref(b);
        return;
    }
    exchange_ref(x);
    if (nread < 0) {
        pc_buf_unref(b);
        upstream_eof(x, nread);
        after_upstream_bytes(x);
        exchange_unref(x);
        return;
    }

    x->up_progress_ms = uv_now(server_loop(x->server));
    if (x->up->tls != NULL) {
        int rc = pc_tls_stream_input(x->up->tls, b->data, (size_t)nread);

        pc_buf_unref(b);
        if (rc != 0) {
            upstream_failed(x, 503, "out_of_memory");
        } else if (!x->up->tls->is_handshake_done) {
            upstream_handshake(x);
        }
        if (x->up != NULL && x->up->tls->is_handshake_done) {
            upstream_pump(x);
        }
    } else {
        take_plaintext(x, b, b->data, (size_t)nread);
        pc_buf_unref(b);
    }
    after_upstream_bytes(x);
    exchange_unref(x);
}

/* --- tunnels --- */

void
forward_tunnel_from_client(struct pc_exchange *x, struct pc_buf *buf, const char *at, size_t len)
{
    if (x->up == NULL) {
        return;
    }
    ensure_room(x, &x->to_upstream, 1, false);
    outq_push(&x->to_upstream, at, len, buf);
    forward_flush(x);
}

void
forward_tunnel_client_eof(struct pc_exchange *x)
{
    conn_close(x->conn);
}

/* --- the step --- */

static void
answer_redirect(struct pc_exchange *x, const struct pc_redirect *r)
{
    const char *scheme = r->scheme != NULL ? r->scheme : x->conn->tls != NULL ? "https" : "http";
    const char *host = r->hostname != NULL ? r->hostname : x->host;
    unsigned port = r->port;
    const char *path = x->path;
    size_t path_len = x->path_len;
    struct pc_header_pair location = { .name = "location", .name_len = 8 };
    char port_text[8] = "";
    char *value;

    if (port == 0) {
        /* Gateway API: the scheme's well-known port when a scheme is given, else the
         * listener's own port. */
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&x->port->addr;

        port = r->scheme != NULL ? (strcmp(scheme, "https") == 0 ? 443 : 80) : ntohs(sin->sin_port);
    }
    if (!((strcmp(scheme, "http") == 0 && port == 80)
          || (strcmp(scheme, "https") == 0 && port == 443))) {
        snprintf(port_text, sizeof(port_text), ":%u", port);
    }
    if (r->path.type != PC_PATH_MOD_NONE) {
        path = rewrite_path(x, &r->path, &path_len);
    }
    value = path == NULL
                ? NULL
                : pc_arena_sprintf(x->arena, "%s://%s%s%.*s%s%.*s", scheme, host, port_text,
                                   (int)path_len, path, x->query != NULL ? "?" : "",
                                   (int)x->query_len, x->query != NULL ? x->query : "");
    if (value == NULL) {
        exchange_answer(x, 503, "out_of_memory");
        return;
    }
    location.value = value;
    location.value_len = strlen(value);
    exchange_answer_with(x, r->status_code, "redirect", &location, 1, NULL, "", 0);
}

static const struct pc_backend *
pick_backend(struct pc_exchange *x, const struct pc_route_rule *rule)
{
    uint64_t r = server_random(x->server) % rule->total_weight;

    for (size_t i = 0; i < rule->n_backends; i++) {
        if (r < rule->backends[i].weight) {
            return &rule->backends[i];
        }
        r -= rule->backends[i].weight;
    }
    return &rule->backends[rule->n_backends - 1];
}

void
forward_start(struct pc_exchange *x)
{
    const struct pc_route_rule *rule = x->match.rule;
    const struct pc_h1_head *req = x->req;

    if (rule->redirect != NULL) {
        answer_redirect(x, rule->redirect);
        return;
    }
    if (req->wants_upgrade) {
        const struct pc_header_pair *up = pc_h1_header_find(req, "upgrade", 7);

        x->wants_tunnel = rule->allow_websocket && up != NULL
                          && pc_h1_value_has_token(up->value, up->value_len, "websocket", 9);
        /* Refused or not, what follows an upgrade request on this connection is not HTTP. */
        x->is_close_after = !x->wants_tunnel;
    }
    if (rule->total_weight == 0 || rule->n_backends == 0) {
        /* Gateway API: a rule whose backends are all invalid or weigh 0 answers 500. */
        exchange_answer(x, 500, "no_backend");
        return;
    }
    x->backend = pick_backend(x, rule);
    if (x->backend->n_endpoints == 0) {
        exchange_answer(x, 503, "no_endpoints");
        return;
    }
    x->endpoint = &x->backend->endpoints[server_random(x->server) % x->backend->n_endpoints];
    exchange_request_id(x);
    if (build_request_head(x) != 0) {
        pc_metrics_add(server_metrics(x->server), PC_M_OUT_OF_MEMORY, 1);
        exchange_answer(x, 503, "out_of_memory");
        return;
    }
    acquire(x);
}

void
forward_release(struct pc_exchange *x, bool is_clean)
{
    struct pc_upconn *up = x->up;

    if (up == NULL) {
        return;
    }
    x->up = NULL;
    x->is_up_ready = false;
    outq_clear(&x->to_upstream);
    if (x->is_tunnel && !x->is_tunnel_closed) {
        x->is_tunnel_closed = true;
        pc_metrics_add(server_metrics(x->server), PC_M_WEBSOCKET_TUNNELS, -1);
    }
    if (x->upstream_end_ns == 0) {
        x->upstream_end_ns = uv_hrtime();
    }
    if (is_clean && x->resp_state == RESP_DONE && x->is_upstream_reusable
        && x->req_state == REQ_DONE && x->upstream_writes == 0 && !up->is_closing) {
        up->n_requests++;
        pc_pool_put(up, x->backend->pool_max_idle, x->backend->pool_idle_timeout_ms);
        return;
    }
    pc_upconn_close(up);
}
