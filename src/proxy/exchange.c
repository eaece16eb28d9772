/*
 * The exchange: the steps one request goes through, answers the gateway makes itself, write
 * queues, and the record (metrics and access log) of every request.
 *
 * Steps run in order over the exchange. Each returns STEP_NEXT to go on, or STEP_STOP when it
 * answered the request or suspended for asynchronous work; a suspended step calls
 * exchange_resume() on the same loop when that work completes, and the steps after it run then.
 * The last step hands the request to forward.c. Later layers (authentication, authorization,
 * rate limits) add steps between routing and forwarding.
 */
#include <stdio.h>
#include <string.h>

#include "authn/principal.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/fetch.h"
#include "core/fmt.h"
#include "core/log.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "proxy/conn.h"
#include "route/path.h"
#include "tls/stream.h"
#include "upstream/pool.h"

enum step_result {
    STEP_NEXT = 0,
    STEP_STOP,
};

typedef enum step_result (*step_fn)(struct pc_exchange *x);

#define REQUEST_ID_MAX 128
#define TLS_RECORD_MAX 16384 /* the most plaintext one TLS record carries (RFC 8446 5.1) */

/* --- lifetime --- */

struct pc_exchange *
exchange_create(struct pc_conn *conn)
{
    struct pc_arena *arena = server_arena_get(conn->server);
    struct pc_exchange *x;

    if (arena == NULL) {
        return NULL;
    }
    x = pc_arena_calloc(arena, 1, sizeof(*x));
    if (x == NULL) {
        pc_arena_destroy(arena);
        return NULL;
    }
    x->arena = arena;
    x->conn = conn;
    x->server = conn->server;
    x->refs = 1;
    x->client_addr = conn->peer;
    x->client_port = conn->peer_port;
    x->start_ns = uv_hrtime();
    x->start_ms = uv_now(server_loop(conn->server));
    x->start_wall_ms = pc_log_wall_ms();
    return x;
}

void
exchange_ref(struct pc_exchange *x)
{
    x->refs++;
}

void
exchange_unref(struct pc_exchange *x)
{
    struct pc_server *server;

    if (x == NULL || --x->refs > 0) {
        return;
    }
    server = x->server;
    outq_clear(&x->to_client);
    outq_clear(&x->to_upstream);
    holder_unref(server, x->holder);
    server_arena_put(server, x->arena);
}

/* --- write queues --- */

void
outq_clear(struct outq *q)
{
    for (uint32_t i = 0; i < q->n; i++) {
        pc_buf_unref(q->refs[i]);
    }
    q->n = 0;
    q->bytes = 0;
}

static void
on_conn_write_done(struct wreq *w, int status)
{
    struct pc_conn *conn = w->conn;

    if (status < 0 && !conn->is_closing) {
        conn_close(conn);
    }
}

static void
on_write_done(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct pc_exchange *x = w->x;
    bool is_to_client = w->is_to_client;

    for (uint32_t i = 0; i < w->n_refs; i++) {
        pc_buf_unref(w->refs[i]);
    }
    if (x == NULL) {
        /* Connection writes are freed with the connection's server, which outlives them. */
        struct pc_server *server = w->conn->server;

        on_conn_write_done(w, status);
        server_wreq_put(server, w);
        return;
    }
    server_wreq_put(x->server, w);

    if (is_to_client) {
        x->client_writes--;
        if (x->conn != NULL) {
            x->conn->progress_ms = uv_now(server_loop(x->server));
        }
        if (status < 0 && x->conn != NULL) {
            pc_log(PC_LOG_DEBUG, "http", "client_write_failed", "error=\"%s\"",
                   uv_strerror(status));
            conn_close(x->conn);
        } else if (status == 0) {
            forward_client_drained(x);
            exchange_check_end(x);
        }
    } else {
        x->upstream_writes--;
        if (status < 0) {
            forward_release(x, false);
        } else if (x->conn != NULL) {
            conn_update_reading(x->conn);
            if (x->conn != NULL && x->conn->in != NULL) {
                conn_process(x->conn);
            }
        }
    }
    exchange_unref(x);
}

/*
 * Writes iov[0..n), whose buffer references (refs, n_refs of them, NULL-free) the call takes
 * over: as much as the socket takes at once, and the rest through a queued libuv write holding
 * the references. For an exchange's writes, x counts the write; for a connection's own, conn.
 */
static int
submit(struct pc_exchange *x, struct pc_conn *conn, uv_stream_t *stream, uv_buf_t *iov, uint32_t n,
       struct pc_buf **refs, uint32_t n_refs, bool is_to_client)
{
    struct pc_server *server = x != NULL ? x->server : conn->server;
    size_t written = 0;
    uint32_t first = 0;
    struct wreq *w;
    int rc;

    rc = uv_try_write(stream, iov, n);
    if (rc < 0 && rc != UV_EAGAIN) {
        goto fail;
    }
    if (rc > 0) {
        written = (size_t)rc;
        while (first < n && written >= iov[first].len) {
            written -= iov[first++].len;
        }
        if (first == n) {
            rc = 0;
            goto fail;
        }
        iov[first].base += written;
        iov[first].len -= written;
    }

    w = server_wreq_get(server);
    if (w == NULL) {
        rc = PC_ENOMEM;
        goto fail;
    }
    w->x = x;
    w->conn = conn;
    w->is_to_client = is_to_client;
    w->n_refs = n_refs;
    memcpy(w->refs, refs, n_refs * sizeof(refs[0]));
    rc = uv_write(&w->req, stream, iov + first, n - first, on_write_done);
    if (rc != 0) {
        server_wreq_put(server, w);
        goto fail;
    }
    if (x != NULL) {
        exchange_ref(x);
        if (is_to_client) {
            x->client_writes++;
        } else {
            x->upstream_writes++;
        }
    }
    return 0;

fail:
    /* Written whole at once, or failed: either way the buffers are not needed any more. */
    for (uint32_t i = 0; i < n_refs; i++) {
        pc_buf_unref(refs[i]);
    }
    return rc;
}

int
tls_submit(struct pc_exchange *x, struct pc_conn *conn, struct pc_tls_stream *ts,
           uv_stream_t *stream, bool is_to_client)
{
    uv_buf_t iov[WREQ_MAX];
    struct pc_buf *refs[WREQ_MAX];

    while (pc_tls_stream_has_output(ts)) {
        size_t n = pc_tls_stream_take(ts, iov, refs, WREQ_MAX);
        int rc = submit(x, conn, stream, iov, (uint32_t)n, refs, (uint32_t)n, is_to_client);

        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int
conn_flush_tls(struct pc_conn *conn)
{
    if (conn->tls == NULL || conn->is_closing) {
        return 0;
    }
    return tls_submit(NULL, conn, conn->tls, (uv_stream_t *)&conn->tcp, true);
}

/*
 * Encrypts the queue into the session's output, then writes that. Each SSL_write is a record of
 * its own (with its own AEAD pass, header and tag, on both ends), so slices smaller than a full
 * record, such as a response head and a short body, are gathered into one first; a slice of a
 * whole record or more is encrypted where it lies.
 */
static int
flush_tls(struct pc_exchange *x, struct outq *q, struct pc_tls_stream *ts, uv_stream_t *stream,
          bool is_to_client)
{
    char gathered[TLS_RECORD_MAX];
    size_t n = 0;
    int rc = 0;

    for (uint32_t i = 0; i < q->n && rc == 0; i++) {
        const uv_buf_t *s = &q->iov[i];

        if (n > 0 && n + s->len > sizeof(gathered)) {
            rc = pc_tls_stream_write(ts, gathered, n);
            n = 0;
        }
        if (rc != 0) {
            break;
        }
        if (s->len >= sizeof(gathered)) {
            rc = pc_tls_stream_write(ts, s->base, s->len);
        } else {
            memcpy(gathered + n, s->base, s->len);
            n += s->len;
        }
    }
    if (rc == 0 && n > 0) {
        rc = pc_tls_stream_write(ts, gathered, n);
    }
    outq_clear(q);
    if (rc != 0) {
        return rc;
    }
    return tls_submit(x, NULL, ts, stream, is_to_client);
}

int
outq_flush(struct pc_exchange *x, struct outq *q, uv_stream_t *stream, bool is_to_client)
{
    struct pc_tls_stream *ts = NULL;
    struct pc_buf *refs[OUTQ_MAX];
    uint32_t n_refs = 0;
    uint32_t n = q->n;

    if (n == 0) {
        return 0;
    }
    if (is_to_client) {
        ts = x->conn != NULL ? x->conn->tls : NULL;
    } else {
        ts = x->up != NULL ? x->up->tls : NULL;
    }
    if (ts != NULL) {
        return flush_tls(x, q, ts, stream, is_to_client);
    }

    for (uint32_t i = 0; i < n; i++) {
        if (q->refs[i] != NULL) {
            refs[n_refs++] = q->refs[i];
        }
    }
    q->n = 0;
    q->bytes = 0;
    return submit(x, NULL, stream, q->iov, n, refs, n_refs, is_to_client);
}

void
outq_push(struct outq *q, const char *base, size_t len, struct pc_buf *ref)
{
    uv_buf_t *last = q->n > 0 ? &q->iov[q->n - 1] : NULL;

    if (len == 0) {
        return;
    }
    /* Consecutive slices of one buffer merge into one iovec: chunk framing aside, a body read
     * in one go goes out as one slice. */
    if (last != NULL && ref != NULL && q->refs[q->n - 1] == ref && last->base + last->len == base) {
        last->len += len;
        q->bytes += len;
        return;
    }
    PC_ASSERT(q->n < OUTQ_MAX);
    q->iov[q->n].base = (char *)base;
    q->iov[q->n].len = len;
    q->refs[q->n] = ref;
    if (ref != NULL) {
        pc_buf_ref(ref);
    }
    q->n++;
    q->bytes += len;
}

/* --- recording --- */

static struct pc_route_stats *
route_stats(struct pc_exchange *x)
{
    struct cfg_holder *h = x->holder;
    const struct pc_route_rule *rule = x->match.rule;
    size_t slot;

    if (h == NULL) {
        return pc_metrics_route(server_metrics(x->server), "", "");
    }
    slot = rule != NULL ? rule->id : h->cfg->n_rules;
    if (h->stats[slot] == NULL) {
        h->stats[slot] = rule != NULL ? pc_metrics_route(server_metrics(x->server),
                                                         rule->route_name, rule->rule_name)
                                      : pc_metrics_route(server_metrics(x->server), "", "");
    }
    return h->stats[slot];
}

static void
record(struct pc_exchange *x, const char *reason)
{
    uint64_t end_ns = uv_hrtime();
    uint64_t duration_us = (end_ns - x->start_ns) / 1000;
    struct pc_route_stats *stats = route_stats(x);
    struct pc_access_writer *log = server_access_log(x->server);
    struct pc_access_record rec;
    char client[64];
    char listener[256];

    if (stats != NULL) {
        pc_metrics_observe(stats, x->status, duration_us);
    }
    if (log == NULL) {
        return;
    }

    memset(&rec, 0, sizeof(rec));
    rec.start_ms = x->start_wall_ms;
    rec.request_id = x->request_id[0] != '\0' ? x->request_id : NULL;
    if (x->match.listener != NULL) {
        snprintf(listener, sizeof(listener), "%s/%s", x->match.listener->gateway,
                 x->match.listener->name);
        rec.listener = listener;
    }
    if (x->match.rule != NULL) {
        rec.route = x->match.rule->route_name;
        rec.rule = x->match.rule->rule_name;
    }
    if (x->req != NULL) {
        rec.method = x->req->method;
        rec.path = x->req->target;
        rec.path_len = x->req->target_len;
        for (size_t i = 0; i < rec.path_len; i++) {
            if (rec.path[i] == '?') {
                rec.path_len = i;
                break;
            }
        }
    }
    rec.status = x->status;
    rec.bytes_in = x->body_in;
    rec.bytes_out = x->body_out;
    rec.duration_us = duration_us;
    rec.upstream_us = x->upstream_start_ns != 0 && x->upstream_end_ns >= x->upstream_start_ns
                          ? (int64_t)((x->upstream_end_ns - x->upstream_start_ns) / 1000)
                          : -1;
    rec.upstream = x->endpoint != NULL ? x->endpoint->name : NULL;
    snprintf(client, sizeof(client), "%s:%u", x->client_addr, x->client_port);
    rec.client = client;
    rec.reason = reason;
    rec.subject = x->principal != NULL ? pc_principal_subject(x->principal) : NULL;
    rec.decision_id = x->decision_id[0] != '\0' ? x->decision_id : NULL;
    rec.authz = x->authz_effect;
    pc_access_write(log, &rec);
}

void
exchange_check_end(struct pc_exchange *x)
{
    struct pc_conn *conn = x->conn;

    if (x->is_ended || conn == NULL || conn->is_tunnel) {
        return;
    }
    if (x->resp_state != RESP_DONE || x->client_writes > 0 || x->to_client.n > 0) {
        return;
    }
    if (x->req_state != REQ_DONE) {
        /* The answer went out before the request was read whole: what follows on the
         * connection is the rest of this body, not a request. */
        x->is_close_after = true;
    }
    x->is_ended = true;
    record(x, x->reason);
    forward_release(x, true);
    conn_exchange_ended(conn);
}

void
exchange_abort(struct pc_exchange *x)
{
    if (!x->is_ended) {
        x->is_ended = true;
        if (x->status == 0) {
            /* The client went away before any answer: recorded as nginx does, 499. */
            x->status = 499;
        }
        record(x, x->reason != NULL ? x->reason : x->is_tunnel ? "tunnel_closed" : "client_closed");
    }
    if (x->transfer != NULL) {
        /* An introspection in flight holds a reference; its callback will not run now. */
        pc_fetch_cancel(x->transfer);
        x->transfer = NULL;
        exchange_unref(x);
    }
    forward_release(x, false);
    exchange_unref(x);
}

/* --- answers made by the gateway --- */

const char *
exchange_request_id(struct pc_exchange *x)
{
    if (x->request_id[0] == '\0') {
        uint64_t a = server_random(x->server);
        uint64_t b = server_random(x->server);
        char *p = x->request_id;

        /* A version 4 UUID (RFC 9562 section 5.4) from 122 random bits. */
        p += pc_fmt_hex_fixed(p, a >> 32, 8);
        *p++ = '-';
        p += pc_fmt_hex_fixed(p, a >> 16, 4);
        *p++ = '-';
        *p++ = '4';
        p += pc_fmt_hex_fixed(p, a, 3);
        *p++ = '-';
        p += pc_fmt_hex_fixed(p, ((b >> 48) & 0x3fff) | 0x8000, 4);
        *p++ = '-';
        p += pc_fmt_hex_fixed(p, b, 12);
        *p = '\0';
    }
    return x->request_id;
}

void
exchange_answer_with(struct pc_exchange *x, unsigned status, const char *reason,
                     const struct pc_header_pair *headers, size_t n_headers,
                     const char *content_type, const char *body, size_t body_len)
{
    struct pc_conn *conn = x->conn;
    size_t cap = 512 + body_len;
    char *head;
    size_t len;

    if (conn == NULL || x->resp_state != RESP_NONE) {
        return;
    }
    for (size_t i = 0; i < n_headers; i++) {
        cap += headers[i].name_len + headers[i].value_len + 4;
    }
    head = pc_arena_alloc(x->arena, cap);
    if (head == NULL) {
        pc_metrics_add(server_metrics(x->server), PC_M_OUT_OF_MEMORY, 1);
        conn_close(conn);
        return;
    }
    if (x->req_state == REQ_STEPS && x->req != NULL) {
        if (x->req->framing != PC_H1_BODY_NONE || x->req->wants_upgrade) {
            /* The body (or the upgraded stream) was never read: the connection cannot carry
             * another request. */
            x->is_close_after = true;
        } else {
            conn_complete_request(conn);
        }
    }
    if (x->req == NULL || !x->req->is_keep_alive || server_is_draining(x->server)) {
        x->is_close_after = true;
    }

    x->status = (uint16_t)status;
    x->reason = reason;
    len = (size_t)snprintf(head, cap,
                           "HTTP/1.1 %u %s\r\ndate: %s\r\nx-request-id: %s\r\n"
                           "content-length: %zu\r\n",
                           status, pc_h1_reason_phrase(status), server_date(x->server),
                           exchange_request_id(x), body_len);
    if (content_type != NULL) {
        len += (size_t)snprintf(head + len, cap - len, "content-type: %s\r\n", content_type);
    }
    for (size_t i = 0; i < n_headers; i++) {
        len += (size_t)snprintf(head + len, cap - len, "%.*s: %.*s\r\n", (int)headers[i].name_len,
                                headers[i].name, (int)headers[i].value_len, headers[i].value);
    }
    if (x->is_close_after) {
        memcpy(head + len, "connection: close\r\n", 19);
        len += 19;
    }
    memcpy(head + len, "\r\n", 2);
    len += 2;
    if (body_len > 0 && !x->is_head_request) {
        memcpy(head + len, body, body_len);
        len += body_len;
        x->body_out = body_len;
    }

    x->resp_state = RESP_DONE;
    outq_push(&x->to_client, head, len, NULL);
    if (outq_flush(x, &x->to_client, (uv_stream_t *)&conn->tcp, true) != 0) {
        conn_close(conn);
        return;
    }
    exchange_check_end(x);
}

void
exchange_answer(struct pc_exchange *x, unsigned status, const char *reason)
{
    char body[256];
    int n;

    /* RFC 9457 problem details: the status and the request id, never the internal reason,
     * which goes to the access log under the same request id. */
    n = snprintf(body, sizeof(body),
                 "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,\"request_id\":\"%s\"}",
                 pc_h1_reason_phrase(status), status, exchange_request_id(x));
    exchange_answer_with(x, status, reason, NULL, 0, "application/problem+json", body, (size_t)n);
}

/* --- steps --- */

static bool
is_valid_request_id(const char *s, size_t len)
{
    if (len == 0 || len > REQUEST_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_' || c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

static void
split_host(struct pc_exchange *x)
{
    const struct pc_h1_head *req = x->req;
    const struct pc_header_pair *h;
    char *host;
    size_t len;

    if (req->host_index < 0) {
        x->host = "";
        return;
    }
    h = &req->headers[req->host_index];
    x->authority = h->value;
    x->authority_len = h->value_len;

    len = h->value_len;
    if (h->value[0] == '[') {
        len = (size_t)((const char *)memchr(h->value, ']', h->value_len) - h->value) + 1;
    } else {
        const char *colon = memchr(h->value, ':', h->value_len);

        if (colon != NULL) {
            len = (size_t)(colon - h->value);
        }
    }
    host = pc_arena_alloc(x->arena, len + 1);
    if (host == NULL) {
        x->host = "";
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char c = h->value[i];

        host[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    host[len] = '\0';
    x->host = host;
    x->host_len = len;
}

static enum step_result
step_prepare(struct pc_exchange *x)
{
    const struct pc_h1_head *req = x->req;
    const char *q;
    size_t raw_len;
    char *path;

    x->is_head_request = req->method_id == HTTP_HEAD;
    split_host(x);

    q = memchr(req->target, '?', req->target_len);
    raw_len = q != NULL ? (size_t)(q - req->target) : req->target_len;
    if (q != NULL) {
        x->query = q + 1;
        x->query_len = req->target_len - raw_len - 1;
    }
    path = pc_arena_alloc(x->arena, raw_len + 1);
    if (path == NULL) {
        exchange_answer(x, 503, "out_of_memory");
        return STEP_STOP;
    }
    /* Encoded slashes are kept at this point: whether the listener refuses them is known only
     * once routing has chosen it (step_route). */
    if (pc_path_normalize(req->target, raw_len, path, &x->path_len, true) != 0) {
        exchange_answer(x, 400, "bad_path");
        return STEP_STOP;
    }
    path[x->path_len] = '\0';
    x->path = path;
    return STEP_NEXT;
}

static bool
has_encoded_slash(const char *path, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (path[i] == '%'
            && ((path[i + 1] == '2' && path[i + 2] == 'F')
                || (path[i + 1] == '5' && path[i + 2] == 'C'))) {
            return true;
        }
    }
    return false;
}

static void
take_request_id(struct pc_exchange *x)
{
    const struct pc_header_pair *h;

    if (!x->match.listener->trust_request_id) {
        return;
    }
    h = pc_h1_header_find(x->req, "x-request-id", 12);
    if (h != NULL && is_valid_request_id(h->value, h->value_len)
        && h->value_len < sizeof(x->request_id)) {
        memcpy(x->request_id, h->value, h->value_len);
        x->request_id[h->value_len] = '\0';
    }
}

static bool
requires_client_certificate(const struct pc_listener *l)
{
    return l->tls != NULL && l->tls->client_mode == PC_CLIENT_CERT_REQUIRE;
}

/* Listeners are compared by name: the handshake may have used an older snapshot than routing. */
static bool
same_listener(const struct pc_listener *a, const struct pc_listener *b)
{
    return strcmp(a->gateway, b->gateway) == 0 && strcmp(a->name, b->name) == 0;
}

static enum step_result
step_route(struct pc_exchange *x)
{
    struct pc_route_request rr = {
        .host = x->host,
        .host_len = x->host_len,
        .path = x->path,
        .path_len = x->path_len,
        .query = x->query,
        .query_len = x->query_len,
        .method = x->req->method,
        .method_len = x->req->method_len,
        .headers = x->req->headers,
        .n_headers = x->req->n_headers,
    };
    enum pc_route_result rc;

    rc = pc_route_match(x->port->routes, &rr, &x->match);
    if (rc != PC_ROUTE_MATCHED) {
        x->match.rule = NULL;
        if (rc == PC_ROUTE_NO_LISTENER) {
            x->match.listener = NULL;
        }
        exchange_answer(x, 404, rc == PC_ROUTE_NO_LISTENER ? "no_listener" : "no_route");
        return STEP_STOP;
    }
    take_request_id(x);
    if (x->conn->sni_listener != NULL && !same_listener(x->conn->sni_listener, x->match.listener)) {
        /* RFC 9110 section 15.5.20: the TLS handshake (its certificate and client
         * verification) was made for another listener than the one Host selects. Serving it
         * would let a client verified for one host reach another's routes. */
        exchange_answer(x, 421, "sni_host_mismatch");
        return STEP_STOP;
    }
    if (requires_client_certificate(x->match.listener) && x->conn->peer_identity == NULL) {
        /* The handshake already refuses these; this is the backstop should a session ever be
         * resumed or chosen without the listener's verification. 421 asks the client to try a
         * fresh connection, which makes a full handshake. */
        exchange_answer(x, 421, "client_certificate_required");
        return STEP_STOP;
    }
    if (!x->match.listener->keep_encoded_slashes && has_encoded_slash(x->path, x->path_len)) {
        exchange_answer(x, 400, "encoded_slash");
        return STEP_STOP;
    }
    x->limits = x->match.rule->limits;
    return STEP_NEXT;
}

static enum step_result
step_limits(struct pc_exchange *x)
{
    const struct pc_h1_head *req = x->req;
    const struct pc_client_limits *l = &x->limits;
    const char *reason = NULL;
    unsigned status = 0;

    if (l->max_request_line_bytes != 0
        && pc_h1_request_line_bytes(req->method, req->target_len) > l->max_request_line_bytes) {
        status = 414;
        reason = "request_line_too_long";
    } else if (l->max_header_bytes != 0 && req->header_bytes > l->max_header_bytes) {
        status = 431;
        reason = "headers_too_large";
    } else if (l->max_header_count != 0 && req->n_headers > l->max_header_count) {
        status = 431;
        reason = "too_many_headers";
    } else if (l->max_body_bytes != 0 && req->framing == PC_H1_BODY_LENGTH
               && req->content_length > l->max_body_bytes) {
        status = 413;
        reason = "body_too_large";
    } else if (req->expect_other) {
        status = 417;
        reason = "unknown_expectation";
    }
    if (status != 0) {
        pc_metrics_reject(server_metrics(x->server), reason);
        exchange_answer(x, status, reason);
        return STEP_STOP;
    }
    return STEP_NEXT;
}

static enum step_result
step_authn(struct pc_exchange *x)
{
    return authn_step(x) ? STEP_NEXT : STEP_STOP;
}

static enum step_result
step_authz(struct pc_exchange *x)
{
    return authz_step(x) ? STEP_NEXT : STEP_STOP;
}

static enum step_result
step_forward(struct pc_exchange *x)
{
    forward_start(x);
    return STEP_STOP;
}

/* The request path. Rate limits go between authorization and forward as they are built;
 * redirects and rewrites are applied by forward_start. */
static const step_fn steps[] = {
    step_prepare, step_route, step_limits, step_authn, step_authz, step_forward,
};

static void
run_steps(struct pc_exchange *x)
{
    while (x->step < sizeof(steps) / sizeof(steps[0])) {
        enum step_result r = steps[x->step](x);

        if (r == STEP_STOP) {
            return;
        }
        x->step++;
    }
}

void
exchange_start(struct pc_exchange *x)
{
    x->is_started = true;
    x->step = 0;
    run_steps(x);
}

void
exchange_resume(struct pc_exchange *x)
{
    x->step++;
    run_steps(x);
}

void
exchange_rerun(struct pc_exchange *x)
{
    run_steps(x);
}
