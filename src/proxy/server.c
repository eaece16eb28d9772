/*
 * A worker's server: listeners, client connections and their reading, parsing and timers.
 *
 * Reading is demand-driven. A connection reads only when the parser may consume what arrives:
 * while no exchange is in progress, while a request head is being read, and while a request body
 * flows to an upstream that keeps up (conn_update_reading). Bytes that the parser must not take
 * yet (a pipelined request, a body waiting for its upstream) stay in conn->in, a reference to
 * the pooled read buffer, and reading stops until they are consumed; that stop is what pushes
 * back on a client that sends faster than its upstream takes. An idle keep-alive connection
 * holds no buffer at all.
 *
 * Timers: one per connection, re-purposed by phase (idle, head, body, send, tunnel). Progress
 * deadlines (body, send, tunnel) are checked lazily: the timer fires at the old deadline and is
 * re-armed from the last progress, so streaming does not re-arm a timer per chunk.
 */
#include "proxy/server.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authn/cache.h"
#include "authn/jws.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/fetch.h"
#include "core/log.h"
#include "core/lru.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "proxy/conn.h"
#include "rego/rego.h"
#include "tls/peer.h"
#include "tls/stream.h"
#include "tls/tls.h"
#include "upstream/pool.h"

#define ARENA_BLOCK_BYTES  8192
#define FREE_ARENAS_MAX    64
#define FREE_WREQS_MAX     256
#define FREE_BUFS_MAX      64
#define FLUSH_INTERVAL_MS  250
#define TUNNEL_IDLE_MS     (10 * 60 * 1000)
#define DEFAULT_HEAD_MS    10000
#define DEFAULT_BODY_MS    30000
#define DEFAULT_IDLE_MS    60000
#define LINGER_MS          2000
#define TOKEN_CACHE_MAX    16384       /* verified tokens kept per worker */
#define DECISION_CACHE_MAX 16384       /* remote authorization decisions kept per worker */
#define REGO_ARENA_BLOCK   (64 * 1024) /* the Rego context's arena block */
#define TLS_INPUT_MAX      (64 * 1024) /* ciphertext held in a session before reading stops */

struct pc_server {
    struct pc_worker *worker;
    uv_loop_t *loop;
    const struct pc_server_shared *shared;
    struct cfg_holder *current;
    struct listener *listeners;
    struct pc_conn *conns;
    size_t n_conns;

    struct pc_buf_pool *bufs;
    struct pc_upstream_pool *pool;
    struct pc_metrics_worker *metrics;
    struct pc_access_writer *access;
    struct pc_token_cache *tokens;
    struct pc_jws_verifier *verifier; /* OpenSSL contexts kept ready for JWT signatures */
    struct pc_lru *decisions;         /* remote authorization decisions, by the policy's key */
    struct pc_rego_ctx *rego;         /* in-process Rego evaluation, made on first use */
    struct pc_fetch *fetch;           /* introspection calls from this worker */
    struct key_waiter *key_waiters;   /* requests waiting for refetched keys */

    uv_timer_t flush_timer;
    uv_timer_t grace_timer;
    struct wreq *free_wreqs;
    size_t n_free_wreqs;
    struct pc_arena *free_arenas[FREE_ARENAS_MAX];
    size_t n_free_arenas;

    uint64_t rng[2];
    uint64_t next_conn_id;
    time_t date_sec;
    char date[40];
    bool is_draining;
    bool is_drain_starting;
    bool is_stopped;
};

static const struct pc_h1_callbacks request_callbacks;
static struct pc_log_limit refusal_limit = PC_LOG_LIMIT_INIT(20, 10000);

static void conn_pump(struct pc_conn *conn);
static void conn_eof(struct pc_conn *conn, ssize_t status);

/* --- small services used by the rest of src/proxy --- */

struct key_waiter {
    struct key_waiter *next;
    struct pc_exchange *x;
    const struct pc_keyring_slot *slot;
    uint64_t version;
};

struct pc_token_cache *
server_token_cache(struct pc_server *server)
{
    return server->tokens;
}

struct pc_jws_verifier *
server_jws_verifier(struct pc_server *server)
{
    return server->verifier;
}

struct pc_decision_log *
server_decision_log(struct pc_server *server)
{
    return server->shared->decision_log;
}

struct pc_lru *
server_decision_cache(struct pc_server *server)
{
    return server->decisions;
}

struct pc_rego_ctx *
server_rego_ctx(struct pc_server *server)
{
    if (server->rego == NULL) {
        server->rego = pc_rego_ctx_create(REGO_ARENA_BLOCK);
    }
    return server->rego;
}

struct pc_fetch *
server_fetch(struct pc_server *server)
{
    return server->fetch;
}

struct pc_keyring *
server_keyring(struct pc_server *server)
{
    return server->shared->keyring;
}

struct pc_replay_cache *
server_replay(struct pc_server *server)
{
    return server->shared->replay;
}

void
server_wait_keys(struct pc_server *server, struct pc_exchange *x, struct pc_keyring_slot *slot,
                 uint64_t version)
{
    struct key_waiter *w = pc_malloc(sizeof(*w));

    if (w == NULL) {
        /* Could not wait: run the step again now, which refuses the unknown kid. */
        exchange_rerun(x);
        return;
    }
    exchange_ref(x);
    w->x = x;
    w->slot = slot;
    w->version = version;
    w->next = server->key_waiters;
    server->key_waiters = w;
}

void
pc_server_keys_changed(struct pc_server *server, const struct pc_keyring_slot *slot)
{
    struct key_waiter **link = &server->key_waiters;
    struct key_waiter *ready = NULL;

    /* Take the waiters off the list first: running a step may add new ones. */
    while (*link != NULL) {
        struct key_waiter *w = *link;

        if (w->slot != slot) {
            link = &w->next;
            continue;
        }
        *link = w->next;
        w->next = ready;
        ready = w;
    }
    while (ready != NULL) {
        struct key_waiter *w = ready;

        ready = w->next;
        if (!w->x->is_ended && w->x->conn != NULL) {
            exchange_rerun(w->x);
        }
        exchange_unref(w->x);
        pc_free(w);
    }
}

static void
drop_key_waiters(struct pc_server *server)
{
    while (server->key_waiters != NULL) {
        struct key_waiter *w = server->key_waiters;

        server->key_waiters = w->next;
        exchange_unref(w->x);
        pc_free(w);
    }
}

struct pc_buf_pool *
server_bufs(struct pc_server *server)
{
    return server->bufs;
}

uv_loop_t *
server_loop(struct pc_server *server)
{
    return server->loop;
}

struct pc_upstream_pool *
server_pool(struct pc_server *server)
{
    return server->pool;
}

struct pc_metrics_worker *
server_metrics(struct pc_server *server)
{
    return server->metrics;
}

struct pc_access_writer *
server_access_log(struct pc_server *server)
{
    return server->access;
}

bool
server_is_draining(const struct pc_server *server)
{
    return server->is_draining;
}

uint64_t
server_random(struct pc_server *server)
{
    /* xorshift128+: fast, and only used for request ids and load spreading, never for secrets. */
    uint64_t s1 = server->rng[0];
    uint64_t s0 = server->rng[1];

    server->rng[0] = s0;
    s1 ^= s1 << 23;
    server->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return server->rng[1] + s0;
}

struct wreq *
server_wreq_get(struct pc_server *server)
{
    struct wreq *w = server->free_wreqs;

    if (w != NULL) {
        server->free_wreqs = w->next_free;
        server->n_free_wreqs--;
        return w;
    }
    return pc_malloc(sizeof(*w));
}

void
server_wreq_put(struct pc_server *server, struct wreq *w)
{
    if (server->n_free_wreqs >= FREE_WREQS_MAX) {
        pc_free(w);
        return;
    }
    w->next_free = server->free_wreqs;
    server->free_wreqs = w;
    server->n_free_wreqs++;
}

struct pc_arena *
server_arena_get(struct pc_server *server)
{
    if (server->n_free_arenas > 0) {
        return server->free_arenas[--server->n_free_arenas];
    }
    return pc_arena_create(ARENA_BLOCK_BYTES);
}

void
server_arena_put(struct pc_server *server, struct pc_arena *arena)
{
    if (server->n_free_arenas >= FREE_ARENAS_MAX) {
        pc_arena_destroy(arena);
        return;
    }
    pc_arena_reset(arena);
    server->free_arenas[server->n_free_arenas++] = arena;
}

const char *
server_date(struct pc_server *server)
{
    time_t now = time(NULL);

    if (now != server->date_sec) {
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(server->date, sizeof(server->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        server->date_sec = now;
    }
    return server->date;
}

/* --- configuration holders --- */

static struct cfg_holder *
holder_create(struct pc_config *cfg, struct pc_tls_set *tls)
{
    struct cfg_holder *holder = pc_calloc(1, sizeof(*holder));

    if (holder == NULL) {
        return NULL;
    }
    holder->stats = pc_calloc(cfg->n_rules + 1, sizeof(*holder->stats));
    if (holder->stats == NULL) {
        pc_free(holder);
        return NULL;
    }
    holder->cfg = cfg;
    holder->tls = tls;
    holder->refs = 1;
    return holder;
}

void
holder_unref(struct pc_server *server, struct cfg_holder *holder)
{
    if (holder == NULL || --holder->refs > 0) {
        return;
    }
    pc_config_unref(holder->cfg);
    pc_tls_set_unref(holder->tls);
    pc_free(holder->stats);
    pc_free(holder);
}

/* --- connections --- */

static const struct pc_port *
conn_port(struct pc_conn *conn)
{
    struct listener *l = conn->listener;
    const struct cfg_holder *holder = conn->server->current;

    if (l->cached_holder != holder) {
        l->cached_port = NULL;
        for (size_t i = 0; holder != NULL && i < holder->cfg->n_ports; i++) {
            if (strcmp(holder->cfg->ports[i].name, l->name) == 0) {
                l->cached_port = &holder->cfg->ports[i];
                break;
            }
        }
        l->cached_holder = holder;
    }
    return l->cached_port;
}

static void
conn_timeouts(struct pc_conn *conn, struct pc_client_timeouts *t)
{
    const struct pc_port *port;

    if (conn->x != NULL && conn->x->match.listener != NULL) {
        *t = conn->x->match.listener->timeouts;
        return;
    }
    port = conn->x != NULL ? conn->x->port : conn_port(conn);
    if (port != NULL) {
        *t = port->head_timeouts;
        return;
    }
    t->request_head_ms = DEFAULT_HEAD_MS;
    t->body_progress_ms = DEFAULT_BODY_MS;
    t->idle_ms = DEFAULT_IDLE_MS;
}

static void on_conn_timer(uv_timer_t *timer);

static uint64_t
timeout_of(const struct pc_client_timeouts *t, enum timer_kind kind)
{
    switch (kind) {
    case TIMER_IDLE:
        return t->idle_ms;
    case TIMER_HEAD:
        return t->request_head_ms;
    case TIMER_BODY:
    case TIMER_SEND:
        return t->body_progress_ms;
    case TIMER_TUNNEL:
        return TUNNEL_IDLE_MS;
    case TIMER_NONE:
        break;
    }
    return 0;
}

/*
 * Arms the libuv timer for deadline unless it already fires no later. Timers move with every
 * phase of every request (head, body, send, idle), and most moves push the deadline later:
 * those cost nothing here, and the timer, when it fires early, re-arms for the real deadline.
 */
static void
arm(struct pc_conn *conn, uint64_t deadline, uint64_t now)
{
    if (conn->armed_ms != 0 && conn->armed_ms <= deadline) {
        return;
    }
    uv_timer_start(&conn->timer, on_conn_timer, deadline > now ? deadline - now : 0, 0);
    conn->armed_ms = deadline;
}

void
conn_set_timer(struct pc_conn *conn, enum timer_kind kind)
{
    struct pc_client_timeouts t;
    uint64_t now;
    uint64_t ms;

    if (conn->is_closing || conn->is_lingering) {
        return;
    }
    conn->timer_kind = (uint8_t)kind;
    conn_timeouts(conn, &t);
    ms = timeout_of(&t, kind);
    now = uv_now(conn->server->loop);
    conn->progress_ms = now;
    conn->deadline_ms = ms != 0 ? now + ms : 0;
    if (conn->deadline_ms != 0) {
        arm(conn, conn->deadline_ms, now);
    }
}

/* The deadline now in force: for progress timeouts, counted from the last progress. */
static uint64_t
current_deadline(struct pc_conn *conn)
{
    struct pc_client_timeouts t;
    enum timer_kind kind = (enum timer_kind)conn->timer_kind;

    if (conn->deadline_ms == 0) {
        return 0;
    }
    if (kind == TIMER_BODY || kind == TIMER_SEND || kind == TIMER_TUNNEL) {
        conn_timeouts(conn, &t);
        return conn->progress_ms + timeout_of(&t, kind);
    }
    return conn->deadline_ms;
}

static void
on_conn_timer(uv_timer_t *timer)
{
    struct pc_conn *conn = timer->data;
    struct pc_exchange *x = conn->x;
    uint64_t now = uv_now(conn->server->loop);
    uint64_t deadline = current_deadline(conn);

    conn->armed_ms = 0;
    if (deadline == 0) {
        return;
    }
    if (deadline > now) {
        arm(conn, deadline, now);
        return;
    }
    if (conn->timer_kind == TIMER_SEND && x != NULL && x->client_writes == 0) {
        /* The client keeps up; the wait is for the upstream, whose own timer governs it. */
        conn->progress_ms = now;
        arm(conn, current_deadline(conn), now);
        return;
    }
    if (conn->timer_kind == TIMER_IDLE) {
        conn_close(conn);
        return;
    }

    pc_metrics_add(conn->server->metrics, PC_M_CLIENT_TIMEOUTS, 1);
    pc_log(PC_LOG_DEBUG, "http", "client_timeout", "conn=%llu phase=%u",
           (unsigned long long)conn->id, conn->timer_kind);
    if (x != NULL && exchange_can_answer(x)
        && (x->req_state == REQ_BODY || pc_h1_in_message(&conn->parser))) {
        /* RFC 9110 section 15.5.9: tell a client that stalled mid-request why we close. */
        x->is_close_after = true;
        forward_release(x, false);
        x->resp_state = RESP_NONE;
        exchange_answer(x, 408, "client_timeout");
        return;
    }
    conn_close(conn);
}

static void
on_conn_closed(uv_handle_t *handle)
{
    struct pc_conn *conn = handle->data;

    if (--conn->open_handles > 0) {
        return;
    }
    pc_free(conn);
}

static void server_check_stopped(struct pc_server *server);

void
conn_close(struct pc_conn *conn)
{
    struct pc_server *server = conn->server;
    struct pc_exchange *x = conn->x;

    if (conn->is_closing) {
        return;
    }
    conn->is_closing = true;
    conn->x = NULL;
    if (x != NULL) {
        x->conn = NULL;
        exchange_abort(x);
    }
    pc_buf_unref(conn->in);
    conn->in = NULL;
    if (conn->tls != NULL) {
        pc_tls_stream_free(conn->tls);
        pc_free(conn->tls);
        conn->tls = NULL;
    }
    conn->peer_identity = NULL;
    pc_arena_destroy(conn->arena);
    conn->arena = NULL;
    conn->sni_listener = NULL;
    holder_unref(server, conn->tls_holder);
    conn->tls_holder = NULL;

    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        server->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    server->n_conns--;
    pc_metrics_add(server->metrics, PC_M_CONNECTIONS_OPEN, -1);

    conn->open_handles = 2;
    uv_close((uv_handle_t *)&conn->timer, on_conn_closed);
    uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
    server_check_stopped(server);
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct pc_conn *conn = handle->data;
    struct pc_buf *b = pc_buf_get(conn->server->bufs);

    if (b == NULL) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = b->data;
    buf->len = b->size;
}

static struct pc_buf *
buf_of(const uv_buf_t *buf)
{
    if (buf->base == NULL) {
        return NULL;
    }
    return (struct pc_buf *)(buf->base - offsetof(struct pc_buf, data));
}

static void
conn_eof(struct pc_conn *conn, ssize_t status)
{
    struct pc_exchange *x = conn->x;

    if (conn->is_tunnel && x != NULL) {
        forward_tunnel_client_eof(x);
        return;
    }
    if (status == UV_EOF && x != NULL && x->req_state == REQ_DONE) {
        /* A client that half-closed after a complete request still gets its answer. */
        conn->is_peer_eof = true;
        x->is_close_after = true;
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->is_reading = false;
        return;
    }
    if (status != UV_EOF) {
        pc_log(PC_LOG_DEBUG, "http", "client_read_failed", "conn=%llu error=\"%s\"",
               (unsigned long long)conn->id, uv_strerror((int)status));
    }
    conn_close(conn);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *uvbuf)
{
    struct pc_conn *conn = stream->data;
    struct pc_buf *b = buf_of(uvbuf);

    if (conn->is_lingering) {
        pc_buf_unref(b);
        if (nread < 0) {
            conn_close(conn);
        }
        return;
    }
    if (nread <= 0) {
        pc_buf_unref(b);
        if (nread == UV_ENOBUFS) {
            /* No buffer could be had: the request fails, the process goes on. */
            pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
            conn_close(conn);
        } else if (nread < 0) {
            conn_eof(conn, nread);
        }
        return;
    }

    if (conn->tls != NULL) {
        int rc = pc_tls_stream_input(conn->tls, b->data, (size_t)nread);

        pc_buf_unref(b);
        if (rc != 0) {
            pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
            conn_close(conn);
            return;
        }
        conn->is_tls_starved = false;
        conn_pump(conn);
        return;
    }
    if (conn->is_tunnel) {
        conn->progress_ms = uv_now(conn->server->loop);
        forward_tunnel_from_client(conn->x, b, b->data, (size_t)nread);
        pc_buf_unref(b);
        conn_update_reading(conn);
        return;
    }
    conn->in = b;
    conn->in_off = 0;
    conn->in_len = (uint32_t)nread;
    conn_process(conn);
}

static void
tls_failed(struct pc_conn *conn)
{
    const char *reason = pc_tls_stream_error(conn->tls);

    pc_metrics_tls_failure(conn->server->metrics, reason);
    if (pc_tls_stream_peer_refused(conn->tls)) {
        /* A client certificate refused: an operator wants to know who and why, but a client
         * retrying in a loop must not flood the log. */
        if (pc_log_limit_allow(&refusal_limit)) {
            pc_log(PC_LOG_WARN, "tls", "client_certificate_refused",
                   "conn=%llu client=%s reason=%s detail=\"%s\"", (unsigned long long)conn->id,
                   conn->peer, reason, pc_tls_stream_detail(conn->tls));
        }
    } else {
        pc_log(PC_LOG_DEBUG, "tls", "handshake_failed", "conn=%llu client=%s reason=%s",
               (unsigned long long)conn->id, conn->peer, reason);
    }
    conn_flush_tls(conn); /* the alert, so the client learns why */
    conn_close(conn);
}

static void
tls_established(struct pc_conn *conn)
{
    SSL *ssl = conn->tls->ssl;

    X509 *leaf = SSL_get0_peer_certificate(ssl);

    conn->sni_listener = pc_tls_sni_listener(ssl);
    pc_metrics_add(conn->server->metrics, PC_M_TLS_HANDSHAKES, 1);
    if (SSL_session_reused(ssl)) {
        pc_metrics_add(conn->server->metrics, PC_M_TLS_RESUMED, 1);
    }
    if (leaf == NULL) {
        return;
    }
    /* The verified client: what policies, the access log and XFCC will read about it. */
    conn->arena = pc_arena_create(2048);
    conn->peer_identity =
        conn->arena != NULL
            ? pc_peer_identity_new(leaf, SSL_get0_verified_chain(ssl), NULL, conn->arena)
            : NULL;
    if (conn->peer_identity == NULL) {
        pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
        conn_close(conn);
        return;
    }
    if (pc_tls_peer_is_svid(ssl) && conn->peer_identity->n_uris == 1) {
        /* Verification accepted exactly one URI SAN, a SPIFFE ID: this is the workload. */
        conn->peer_identity->spiffe_id = conn->peer_identity->uris[0];
    }
}

/* Decrypts one buffer's worth and hands it on. Returns true when the loop must stop. */
static bool
pump_one(struct pc_conn *conn)
{
    struct pc_buf *b = pc_buf_get(conn->server->bufs);
    enum pc_tls_io r;
    size_t n;

    if (b == NULL) {
        pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
        conn_close(conn);
        return true;
    }
    r = pc_tls_stream_read(conn->tls, b->data, b->size, &n);
    if (r != PC_TLS_OK) {
        pc_buf_unref(b);
        if (r == PC_TLS_AGAIN) {
            conn->is_tls_starved = true;
        } else if (r == PC_TLS_CLOSED) {
            conn_eof(conn, UV_EOF);
        } else {
            tls_failed(conn);
        }
        return true;
    }
    if (conn->is_lingering) {
        pc_buf_unref(b);
        return false;
    }
    if (conn->is_tunnel) {
        conn->progress_ms = uv_now(conn->server->loop);
        forward_tunnel_from_client(conn->x, b, b->data, n);
        pc_buf_unref(b);
        return false;
    }
    conn->in = b;
    conn->in_off = 0;
    conn->in_len = (uint32_t)n;
    conn_process(conn);
    return false;
}

/* Runs the TLS session: the handshake, then plaintext into conn->in for the parser, for as long
 * as the parser takes it. */
static void
conn_pump(struct pc_conn *conn)
{
    struct pc_tls_stream *ts = conn->tls;

    if (ts == NULL || conn->is_pumping || conn->is_closing) {
        return;
    }
    conn->is_pumping = true;
    if (!ts->is_handshake_done) {
        enum pc_tls_io r = pc_tls_stream_handshake(ts);

        conn_flush_tls(conn);
        if (r == PC_TLS_ERROR) {
            conn->is_pumping = false;
            tls_failed(conn);
            return;
        }
        if (r == PC_TLS_AGAIN) {
            conn->is_tls_starved = true;
            goto out;
        }
        tls_established(conn);
        if (conn->is_closing) {
            conn->is_pumping = false;
            return;
        }
    }
    while (!conn->is_closing && conn->in == NULL && !pump_one(conn)) {
    }
    conn_flush_tls(conn);

out:
    conn->is_pumping = false;
    conn_update_reading(conn);
}

void
conn_update_reading(struct pc_conn *conn)
{
    struct pc_exchange *x = conn->x;
    bool is_tls_full;
    bool want;

    if (conn->is_closing) {
        return;
    }
    if (conn->is_lingering) {
        want = true;
    } else if (conn->is_tunnel) {
        want = x != NULL && forward_wants_body(x);
    } else if (conn->in != NULL) {
        want = false;
    } else if (x == NULL || x->req_state == REQ_HEAD) {
        want = true;
    } else {
        want = x->req_state == REQ_BODY && forward_wants_body(x);
    }

    if (want && conn->tls != NULL && !conn->is_pumping && !conn->is_tls_starved) {
        /* Bytes may wait inside the TLS session: decrypt them before reading more. */
        conn_pump(conn);
        return;
    }
    is_tls_full = conn->tls != NULL && pc_tls_stream_input_bytes(conn->tls) > TLS_INPUT_MAX;
    if (is_tls_full) {
        want = false;
    }
    if (want && !conn->is_reading && !conn->is_peer_eof) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0) {
            conn->is_reading = true;
        }
    } else if (!want && conn->is_reading && (conn->in != NULL || conn->is_tunnel || is_tls_full)) {
        /* Reading stops only once bytes that cannot be taken are held: stopping and restarting
         * around every request would cost two epoll_ctl calls each time, and one buffer of
         * early bytes is all a client can make us hold (over TLS, that buffer of plaintext and
         * at most TLS_INPUT_MAX of ciphertext behind it). */
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->is_reading = false;
    }
}

static bool
begin_exchange(struct pc_conn *conn)
{
    struct pc_h1_limits limits = { 0 };
    const struct pc_port *port;
    struct pc_exchange *x;

    if (conn->server->is_draining) {
        conn_close(conn);
        return false;
    }
    port = conn_port(conn);
    if (port == NULL) {
        /* The port was removed by a reload: its connections finish what they started only. */
        conn_close(conn);
        return false;
    }
    x = exchange_create(conn);
    if (x == NULL) {
        pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
        conn_close(conn);
        return false;
    }
    x->holder = conn->server->current;
    x->holder->refs++;
    x->port = port;
    conn->x = x;
    conn->n_requests++;
    limits.max_line_bytes = port->head_limits.max_request_line_bytes;
    limits.max_header_bytes = port->head_limits.max_header_bytes;
    limits.max_header_count = port->head_limits.max_header_count;
    pc_h1_begin(&conn->parser, x->arena, &limits);
    if (conn->timer_kind != TIMER_HEAD) {
        conn_set_timer(conn, TIMER_HEAD);
    }
    return true;
}

static void
reject(struct pc_conn *conn)
{
    struct pc_exchange *x = conn->x;
    unsigned status = pc_h1_error_status(&conn->parser);
    const char *reason = pc_h1_error_reason(&conn->parser);

    pc_metrics_reject(conn->server->metrics, reason);
    pc_log(PC_LOG_DEBUG, "http", "request_rejected", "conn=%llu status=%u reason=%s",
           (unsigned long long)conn->id, status, reason);
    pc_buf_unref(conn->in);
    conn->in = NULL;
    if (x == NULL || !exchange_can_answer(x)) {
        conn_close(conn);
        return;
    }
    /* The framing can no longer be trusted, so nothing after this answer is read; an upstream
     * that got part of this request must not see the rest or serve anyone else. */
    x->is_close_after = true;
    forward_release(x, false);
    x->resp_state = RESP_NONE;
    exchange_answer(x, status, reason);
}

/* Handles what the parser reported after one feed. Returns false to stop processing. */
static bool
after_feed(struct pc_conn *conn, enum pc_h1_result rc)
{
    struct pc_exchange *x = conn->x;

    switch (rc) {
    case PC_H1_OK:
        return true;
    case PC_H1_PAUSED:
    case PC_H1_UPGRADE:
        if (x->req_state == REQ_STEPS && !x->is_started) {
            exchange_start(x);
        } else if (x->req_state == REQ_DONE && rc == PC_H1_PAUSED) {
            forward_request_done(x);
        }
        return true;
    case PC_H1_ERROR:
        reject(conn);
        return false;
    }
    return false;
}

/* Whether the exchange waits for the parser to report the end of a request that needs no
 * more bytes (no body): then a feed of zero bytes is due even with no input. */
static bool
awaits_empty_completion(const struct pc_exchange *x)
{
    return x->req_state == REQ_BODY && x->req->framing == PC_H1_BODY_NONE;
}

void
conn_process(struct pc_conn *conn)
{
    if (conn->is_processing) {
        return;
    }
    conn->is_processing = true;

    while (!conn->is_closing && !conn->is_tunnel) {
        struct pc_exchange *x = conn->x;
        const char *data = NULL;
        uint32_t len = 0;
        enum pc_h1_result rc;
        size_t consumed;

        if (x == NULL) {
            if (conn->in == NULL || !begin_exchange(conn)) {
                break;
            }
            x = conn->x;
        } else if (x->req_state == REQ_STEPS || x->req_state == REQ_DONE
                   || (x->req_state == REQ_BODY && !forward_wants_body(x))) {
            break;
        }
        if (conn->in != NULL) {
            data = conn->in->data + conn->in_off;
            len = conn->in_len;
        } else if (!awaits_empty_completion(x)) {
            break;
        }

        pc_h1_resume(&conn->parser);
        rc = pc_h1_feed(&conn->parser, data, len, &consumed);
        if (conn->in != NULL) {
            conn->in_off += (uint32_t)consumed;
            conn->in_len -= (uint32_t)consumed;
            if (conn->in_len == 0) {
                pc_buf_unref(conn->in);
                conn->in = NULL;
            }
        }
        if (x->req_state == REQ_BODY && consumed > 0) {
            conn->progress_ms = uv_now(conn->server->loop);
        }
        forward_flush(x);
        if (!after_feed(conn, rc)) {
            break;
        }
    }

    conn->is_processing = false;
    conn_update_reading(conn);
}

static void
on_linger_timeout(uv_timer_t *timer)
{
    conn_close(timer->data);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct pc_conn *conn = req->data;

    if (status != 0 && !conn->is_closing) {
        conn_close(conn);
    }
}

/*
 * Closes after an answer, gently. A client may still be sending (the rest of a body we refused,
 * requests pipelined behind a close): closing a socket with unread bytes makes the kernel send a
 * reset, which can destroy the answer before the client reads it. So the write side is shut
 * down, what arrives is read and dropped, and the socket closes on the client's EOF or after
 * LINGER_MS, as nginx's lingering close does.
 */
static void
conn_linger(struct pc_conn *conn)
{
    uint64_t now = uv_now(conn->server->loop);

    if (conn->is_closing || conn->is_lingering) {
        return;
    }
    if (conn->is_peer_eof) {
        conn_close(conn);
        return;
    }
    conn->is_lingering = true;
    pc_buf_unref(conn->in);
    conn->in = NULL;
    if (conn->tls != NULL) {
        pc_tls_stream_shutdown(conn->tls);
        conn_flush_tls(conn);
    }
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
        conn_close(conn);
        return;
    }
    uv_timer_start(&conn->timer, on_linger_timeout, LINGER_MS, 0);
    conn->armed_ms = now + LINGER_MS;
    conn_update_reading(conn);
}

void
conn_complete_request(struct pc_conn *conn)
{
    size_t consumed;

    if (conn->x == NULL || conn->x->req_state != REQ_STEPS) {
        return;
    }
    pc_h1_resume(&conn->parser);
    if (pc_h1_feed(&conn->parser, NULL, 0, &consumed) == PC_H1_ERROR) {
        conn->x->is_close_after = true;
    }
}

void
conn_exchange_ended(struct pc_conn *conn)
{
    struct pc_exchange *x = conn->x;
    bool is_close = x->is_close_after || conn->server->is_draining;

    conn->x = NULL;
    exchange_unref(x);
    if (is_close) {
        conn_linger(conn);
        return;
    }
    conn_set_timer(conn, conn->in != NULL ? TIMER_HEAD : TIMER_IDLE);
    if (conn->in != NULL && !conn->is_processing) {
        conn_process(conn);
        return;
    }
    conn_update_reading(conn);
}

/* --- parser callbacks --- */

static int
on_request_head(void *owner, struct pc_h1_head *head)
{
    struct pc_conn *conn = owner;

    conn->x->req = head;
    conn->x->req_state = REQ_STEPS;
    return 0;
}

static int
on_request_body(void *owner, const char *at, size_t len)
{
    struct pc_conn *conn = owner;

    return forward_request_body(conn->x, at, len);
}

static void
on_request_complete(void *owner)
{
    struct pc_conn *conn = owner;

    conn->x->req_state = REQ_DONE;
}

static const struct pc_h1_callbacks request_callbacks = {
    .on_head = on_request_head,
    .on_body = on_request_body,
    .on_complete = on_request_complete,
};

/* --- listeners --- */

/* On an HTTPS port, every connection starts with a TLS session from the current contexts. */
static int
start_tls(struct pc_conn *conn)
{
    const struct pc_port *port = conn_port(conn);
    SSL_CTX *ctx;

    if (port == NULL || !port->is_tls) {
        return 0;
    }
    ctx = pc_tls_set_server_ctx(conn->server->current->tls, port->name);
    /* The session's callbacks read the TLS set and sni_listener points into the snapshot: both
     * stay alive while the connection does, whatever rotations and reloads happen meanwhile. */
    conn->tls_holder = conn->server->current;
    conn->tls_holder->refs++;
    conn->tls = ctx != NULL ? pc_malloc(sizeof(*conn->tls)) : NULL;
    if (conn->tls == NULL
        || pc_tls_stream_init(conn->tls, ctx, true, NULL, conn->server->bufs) != 0) {
        pc_free(conn->tls);
        conn->tls = NULL;
        pc_metrics_add(conn->server->metrics, PC_M_OUT_OF_MEMORY, 1);
        conn_close(conn);
        return PC_ENOMEM;
    }
    return 0;
}

static void
accept_one(struct listener *l)
{
    struct pc_server *server = l->server;
    struct sockaddr_storage peer;
    int peer_len = sizeof(peer);
    struct pc_conn *conn;

    conn = pc_calloc(1, sizeof(*conn));
    if (conn == NULL) {
        pc_metrics_add(server->metrics, PC_M_OUT_OF_MEMORY, 1);
        return;
    }
    uv_tcp_init(server->loop, &conn->tcp);
    uv_timer_init(server->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->server = server;
    conn->listener = l;
    conn->id = ((uint64_t)pc_worker_id(server->worker) << 48) | ++server->next_conn_id;
    pc_h1_init(&conn->parser, PC_H1_REQUEST, &request_callbacks, conn);

    conn->next = server->conns;
    if (server->conns != NULL) {
        server->conns->prev = conn;
    }
    server->conns = conn;
    server->n_conns++;
    pc_metrics_add(server->metrics, PC_M_CONNECTIONS_ACCEPTED, 1);
    pc_metrics_add(server->metrics, PC_M_CONNECTIONS_OPEN, 1);

    if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&peer, &peer_len) == 0) {
        if (peer.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&peer;

            uv_ip6_name(a, conn->peer, sizeof(conn->peer));
            conn->peer_port = ntohs(a->sin6_port);
            conn->peer_addr.in6 = *a;
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&peer;

            uv_ip4_name(a, conn->peer, sizeof(conn->peer));
            conn->peer_port = ntohs(a->sin_port);
            conn->peer_addr.in = *a;
        }
    }
    if (start_tls(conn) != 0) {
        return;
    }
    conn_set_timer(conn, TIMER_HEAD);
    conn_update_reading(conn);
}

static void
on_connection(uv_stream_t *handle, int status)
{
    struct listener *l = handle->data;

    if (status != 0) {
        pc_log(PC_LOG_WARN, "http", "accept_failed", "listener=%s error=\"%s\"", l->name,
               uv_strerror(status));
        return;
    }
    accept_one(l);
}

int
pc_server_listen_fd(const struct pc_port *port, int backlog)
{
    int one = 1;
    int fd;

    fd = socket(port->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -errno;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1
        || bind(fd, (const struct sockaddr *)&port->addr, port->addr_len) == -1
        || listen(fd, backlog) == -1) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    return fd;
}

static void
on_listener_closed(uv_handle_t *handle)
{
    struct listener *l = handle->data;
    struct pc_server *server = l->server;

    pc_free(l->name);
    pc_free(l);
    server_check_stopped(server);
}

static void
listener_close(struct listener *l)
{
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

static int
listener_open(struct pc_server *server, const struct pc_listen_fd *lfd)
{
    struct listener *l = pc_calloc(1, sizeof(*l));
    int rc;

    if (l == NULL) {
        close(lfd->fd);
        return PC_ENOMEM;
    }
    l->server = server;
    l->name = pc_strdup(lfd->name);
    uv_tcp_init(server->loop, &l->tcp);
    l->tcp.data = l;
    if (l->name == NULL) {
        close(lfd->fd);
        listener_close(l);
        return PC_ENOMEM;
    }
    rc = uv_tcp_open(&l->tcp, lfd->fd);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    }
    if (rc != 0) {
        pc_log(PC_LOG_ERROR, "http", "listen_failed", "listener=%s error=\"%s\"", lfd->name,
               uv_strerror(rc));
        listener_close(l);
        return rc;
    }
    l->next = server->listeners;
    server->listeners = l;
    return 0;
}

/* --- server lifecycle --- */

static void
on_flush_timer(uv_timer_t *timer)
{
    struct pc_server *server = timer->data;

    if (server->access != NULL) {
        pc_access_flush(server->access);
    }
}

struct pc_server *
pc_server_create(struct pc_worker *worker, const struct pc_server_shared *shared,
                 struct pc_config *cfg, struct pc_tls_set *tls, const struct pc_listen_fd *fds,
                 size_t n_fds)
{
    struct pc_server *server = pc_calloc(1, sizeof(*server));

    if (server == NULL) {
        goto fail;
    }
    server->worker = worker;
    server->loop = pc_worker_loop(worker);
    server->shared = shared;
    server->bufs = pc_buf_pool_create(FREE_BUFS_MAX);
    server->pool = pc_pool_create(server->loop);
    server->metrics = pc_metrics_worker_add(shared->metrics, pc_worker_id(worker));
    server->current = holder_create(cfg, tls);
    server->tokens = pc_token_cache_create(TOKEN_CACHE_MAX);
    server->verifier = pc_jws_verifier_create();
    server->decisions = pc_lru_create(DECISION_CACHE_MAX);
    server->fetch = pc_fetch_create(server->loop, NULL, NULL);
    if (server->bufs == NULL || server->pool == NULL || server->metrics == NULL
        || server->current == NULL || server->tokens == NULL || server->verifier == NULL
        || server->decisions == NULL || server->fetch == NULL) {
        goto fail_server;
    }
    if (shared->access_log != NULL) {
        server->access = pc_access_writer_create(shared->access_log, server->metrics);
        if (server->access == NULL) {
            goto fail_server;
        }
    }
    if (getrandom(server->rng, sizeof(server->rng), 0) != (ssize_t)sizeof(server->rng)) {
        server->rng[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)server;
        server->rng[1] = 0x9e3779b97f4a7c15ull ^ pc_worker_id(worker);
    }

    uv_timer_init(server->loop, &server->flush_timer);
    uv_timer_init(server->loop, &server->grace_timer);
    server->flush_timer.data = server;
    server->grace_timer.data = server;
    uv_timer_start(&server->flush_timer, on_flush_timer, FLUSH_INTERVAL_MS, FLUSH_INTERVAL_MS);

    for (size_t i = 0; i < n_fds; i++) {
        listener_open(server, &fds[i]);
    }
    pc_worker_set_data(worker, server);
    return server;

fail_server:
    if (server->current != NULL) {
        holder_unref(server, server->current);
        cfg = NULL;
        tls = NULL;
    }
    pc_access_writer_destroy(server->access);
    pc_pool_destroy(server->pool);
    pc_buf_pool_destroy(server->bufs);
    pc_token_cache_destroy(server->tokens);
    pc_jws_verifier_free(server->verifier);
    pc_lru_destroy(server->decisions);
    pc_fetch_destroy(server->fetch);
    pc_free(server);
fail:
    for (size_t i = 0; i < n_fds; i++) {
        close(fds[i].fd);
    }
    pc_config_unref(cfg);
    pc_tls_set_unref(tls);
    return NULL;
}

static bool
cfg_has_port(const struct pc_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_ports; i++) {
        if (strcmp(cfg->ports[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

void
pc_server_update(struct pc_server *server, struct pc_config *cfg, struct pc_tls_set *tls,
                 const struct pc_listen_fd *fds, size_t n_fds)
{
    struct cfg_holder *holder = holder_create(cfg, tls);
    struct listener **link = &server->listeners;

    if (holder == NULL || server->is_draining) {
        /* Keep serving the snapshot we have rather than none. */
        pc_log(PC_LOG_ERROR, "http", "config_update_failed", "worker=%u reason=%s",
               pc_worker_id(server->worker), holder == NULL ? "out_of_memory" : "draining");
        if (holder != NULL) {
            holder_unref(server, holder);
        } else {
            pc_config_unref(cfg);
            pc_tls_set_unref(tls);
        }
        for (size_t i = 0; i < n_fds; i++) {
            close(fds[i].fd);
        }
        return;
    }

    if (server->current->cfg != cfg) {
        /* Tokens were verified under the old policies: a provider that kept its name may have
         * changed its audiences or requirements. */
        pc_token_cache_clear(server->tokens);
        /* Cached decisions were made under the old policies too. */
        pc_lru_clear(server->decisions);
    }
    holder_unref(server, server->current);
    server->current = holder;

    while (*link != NULL) {
        struct listener *l = *link;

        if (!cfg_has_port(cfg, l->name)) {
            *link = l->next;
            listener_close(l);
            continue;
        }
        link = &l->next;
    }
    for (size_t i = 0; i < n_fds; i++) {
        listener_open(server, &fds[i]);
    }
}

static void
on_grace_expired(uv_timer_t *timer)
{
    struct pc_server *server = timer->data;

    pc_log(PC_LOG_WARN, "http", "drain_grace_expired", "worker=%u connections=%zu",
           pc_worker_id(server->worker), server->n_conns);
    while (server->conns != NULL) {
        conn_close(server->conns);
    }
}

static void
server_check_stopped(struct pc_server *server)
{
    if (!server->is_draining || server->is_drain_starting || server->is_stopped
        || server->n_conns > 0 || server->listeners != NULL) {
        return;
    }
    server->is_stopped = true;
    drop_key_waiters(server);
    pc_fetch_destroy(server->fetch);
    server->fetch = NULL;
    uv_close((uv_handle_t *)&server->flush_timer, NULL);
    uv_close((uv_handle_t *)&server->grace_timer, NULL);
    pc_access_writer_destroy(server->access);
    server->access = NULL;
    pc_pool_destroy(server->pool);
    server->pool = NULL;
    holder_unref(server, server->current);
    server->current = NULL;
    pc_worker_close(server->worker);
    /* What is left (buffers, arenas, write requests) is freed by pc_server_destroy() once the
     * loop has run every close callback. */
}

void
pc_server_destroy(struct pc_server *server)
{
    if (server == NULL) {
        return;
    }
    while (server->free_wreqs != NULL) {
        struct wreq *w = server->free_wreqs;

        server->free_wreqs = w->next_free;
        pc_free(w);
    }
    while (server->n_free_arenas > 0) {
        pc_arena_destroy(server->free_arenas[--server->n_free_arenas]);
    }
    if (pc_buf_pool_in_use(server->bufs) != 0) {
        pc_log(PC_LOG_WARN, "http", "buffers_leaked", "worker=%u count=%zu",
               pc_worker_id(server->worker), pc_buf_pool_in_use(server->bufs));
    }
    pc_buf_pool_destroy(server->bufs);
    pc_token_cache_destroy(server->tokens);
    pc_jws_verifier_free(server->verifier);
    pc_lru_destroy(server->decisions);
    pc_rego_ctx_free(server->rego);
    pc_free(server);
}

void
pc_server_drain(struct pc_server *server, uint32_t grace_ms)
{
    struct pc_conn *conn = server->conns;

    /* Closing the last idle connection below must not tear the server down half-way through
     * this function: the stop check runs once, at the end. */
    server->is_drain_starting = true;
    server->is_draining = true;
    while (server->listeners != NULL) {
        struct listener *l = server->listeners;

        server->listeners = l->next;
        listener_close(l);
    }
    while (conn != NULL) {
        struct pc_conn *next = conn->next;

        if (conn->x == NULL) {
            conn_close(conn);
        } else {
            conn->x->is_close_after = true;
        }
        conn = next;
    }
    pc_pool_close_idle(server->pool);
    uv_timer_start(&server->grace_timer, on_grace_expired, grace_ms, 0);
    server->is_drain_starting = false;
    server_check_stopped(server);
}
