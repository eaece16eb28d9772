/*
 * The request path's shared structures: client connections, exchanges and write queues.
 *
 * This header is private to src/proxy: server.c (listeners, connections, reading and timers),
 * exchange.c (the steps a request goes through, local answers, logging) and forward.c (the
 * upstream leg and tunnels) share these layouts. Everything here lives on one worker loop.
 *
 * An exchange is one request and its response. Its request side moves through
 *
 *     HEAD -> STEPS -> BODY -> DONE      (STEPS -> DONE when there is no body)
 *
 * HEAD: the parser is reading the head (server.c). STEPS: the head is complete and the steps run;
 * no body byte is read, so a step may answer or suspend without consuming it (exchange.c).
 * BODY: body bytes flow to the upstream as they are parsed (forward.c). DONE: the whole request
 * was read.
 *
 * Its response side moves through
 *
 *     NONE -> WAITING -> STREAMING -> DONE
 *
 * WAITING: the request went upstream and no response head came back yet (forward.c).
 * STREAMING: the response head was queued to the client and body bytes follow (forward.c, or
 * exchange.c for answers the gateway makes itself, which go straight from NONE to DONE).
 * DONE: every response byte is queued. The exchange ends when both sides are DONE and the client
 * has taken every byte (exchange_check_end); the connection then starts on the next request or
 * closes.
 */
#ifndef PC_PROXY_CONN_H
#define PC_PROXY_CONN_H

#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "core/buf.h"
#include "http/h1.h"
#include "route/route.h"

struct pc_arena;
struct pc_server;
struct pc_tls_set;
struct pc_tls_stream;
struct pc_peer_identity;
struct pc_principal;
struct pc_fetch;
struct pc_fetch_transfer;
struct pc_token_cache;
struct pc_jws_verifier;
struct pc_decision_log;
struct pc_authz_view;
struct pc_lru;
struct pc_rego_ctx;
struct pc_replay_cache;
struct pc_keyring;
struct pc_keyring_slot;
struct pc_upconn;
struct pc_route_stats;

#define OUTQ_MAX 16
#define WREQ_MAX 32 /* buffers one write may carry: TLS records of a full queue fit */

/* Bytes queued for one socket but not yet handed to libuv. */
struct outq {
    uv_buf_t iov[OUTQ_MAX];
    struct pc_buf *refs[OUTQ_MAX]; /* a reference per slice of a pooled buffer, or NULL */
    uint32_t n;
    size_t bytes;
};

/*
 * A write in flight: the slices' references are held until libuv calls back. Writes of an
 * exchange count against it; a connection's own writes (TLS handshake records, alerts) have no
 * exchange and name their connection instead.
 */
struct wreq {
    uv_write_t req;
    struct pc_buf *refs[WREQ_MAX];
    uint32_t n_refs;
    struct pc_exchange *x;
    struct pc_conn *conn;
    bool is_to_client;
    struct wreq *next_free;
};

/* A configuration snapshot, and the TLS contexts built for it, as one worker holds them. */
struct cfg_holder {
    struct pc_config *cfg;
    struct pc_tls_set *tls;        /* NULL when the configuration has no TLS */
    struct pc_route_stats **stats; /* per rule id, filled on first use */
    uint32_t refs;                 /* exchanges using it, plus one while it is current */
};

struct listener {
    uv_tcp_t tcp;
    struct pc_server *server;
    char *name; /* "address:port", as struct pc_port names it */
    struct listener *next;
    const struct cfg_holder *cached_holder;
    const struct pc_port *cached_port;
};

enum req_state {
    REQ_HEAD = 0,
    REQ_STEPS,
    REQ_BODY,
    REQ_DONE,
};

enum resp_state {
    RESP_NONE = 0,
    RESP_WAITING,
    RESP_STREAMING,
    RESP_DONE,
};

enum timer_kind {
    TIMER_NONE = 0,
    TIMER_IDLE,
    TIMER_HEAD,
    TIMER_BODY,
    TIMER_SEND,
    TIMER_TUNNEL,
};

struct pc_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    struct pc_tls_stream *tls;              /* HTTPS ports; NULL for plain HTTP */
    struct cfg_holder *tls_holder;          /* the snapshot and TLS set the session was made from */
    const struct pc_listener *sni_listener; /* the listener TLS chose by SNI */
    struct pc_peer_identity *peer_identity; /* the verified client certificate, or NULL */
    struct pc_arena *arena;                 /* what lives as long as the connection, or NULL */
    struct pc_h1_parser parser;
    struct pc_server *server;
    struct listener *listener;
    struct pc_exchange *x; /* the exchange in progress, or NULL */
    struct pc_buf *in;     /* received bytes not parsed yet, or NULL */
    uint32_t in_off;
    uint32_t in_len;
    struct pc_conn *prev;
    struct pc_conn *next;
    uint64_t id;
    uint32_t n_requests;
    uint16_t peer_port;
    uint64_t progress_ms; /* last time body, send or tunnel bytes moved */
    uint64_t deadline_ms; /* when the current phase times out (loop time); 0: never */
    uint64_t armed_ms;    /* when the libuv timer fires; 0: not armed */
    uint8_t timer_kind;
    uint8_t open_handles;
    bool is_reading;
    bool is_peer_eof; /* the client half-closed after a complete request */
    bool is_closing;
    bool is_lingering; /* answered and half-closed: discarding what the client still sends */
    bool is_tunnel;
    bool is_processing;  /* inside conn_process: do not re-enter it */
    bool is_pumping;     /* inside conn_pump: do not re-enter it */
    bool is_tls_starved; /* the TLS session needs more ciphertext before it yields anything */
    char peer[46];       /* the client's address, as text */

    union {
        struct sockaddr sa; /* AF_UNSPEC (zero) when the address could not be read */
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer_addr; /* the same address, for authorization's CIDR tests */
};

struct pc_exchange {
    struct pc_arena *arena;
    struct pc_conn *conn; /* NULL once the client connection is gone */
    struct pc_server *server;
    struct cfg_holder *holder;
    const struct pc_port *port;
    uint32_t refs; /* the connection's, plus one per write in flight */

    struct pc_h1_head *req;
    const char *path; /* normalised */
    size_t path_len;
    const char *query; /* raw, without '?'; NULL when absent */
    size_t query_len;
    const char *host; /* lower-cased, without port */
    size_t host_len;
    const char *authority; /* the Host field as received */
    size_t authority_len;
    struct pc_route_match match;
    struct pc_client_limits limits;
    uint64_t body_in;

    struct pc_upconn *up;
    const struct pc_backend *backend;
    const struct pc_endpoint *endpoint;
    char *up_head; /* the request head as sent upstream, kept for a retry */
    size_t up_head_len;
    struct pc_buf *up_in; /* the upstream read buffer being parsed */
    uint64_t up_progress_ms;
    uint64_t upstream_start_ns;
    uint64_t upstream_end_ns;
    uint8_t attempts;
    bool is_up_reused;
    bool is_up_ready;     /* connected, head queued: body bytes may flow */
    bool is_up_paused;    /* upstream reads stopped because the client is behind */
    bool is_body_started; /* body bytes went upstream: the request can no longer be retried */
    bool is_interim;      /* the response being parsed is a 1xx to skip */
    bool is_head_request;
    bool wants_tunnel;
    bool is_tunnel;        /* the upstream answered 101 and bytes are tunnelled */
    bool is_tunnel_closed; /* counted out of the open-tunnels gauge */
    bool is_tunnel_up_eof;

    /* Who is calling (NULL: anonymous or not asked), and the claims forwarded upstream. */
    struct pc_principal *principal;
    const struct pc_header_pair *identity_headers;
    size_t n_identity_headers;
    const char *authn_token; /* the token as sent, borrowed from the request head */
    size_t authn_token_len;
    struct pc_fetch_transfer *transfer; /* an introspection in flight, or NULL */
    bool is_authn_retried;              /* keys were refetched once for this request */
    bool is_authn_dpop;                 /* the token came with the DPoP auth-scheme */

    /* Authorization: the decision's id (hex, "" before), the input document it was made on
     * (arena; NULL for native rules), its effect for the access log, and the fields it adds
     * to the upstream request. */
    char decision_id[33];
    char *authz_input;
    size_t authz_input_len;
    const struct pc_authz_view *authz_view; /* built on first use (authz.c) */
    char *authz_key;                        /* the decision cache's key, when the policy caches */
    size_t authz_key_len;
    const char *authz_effect;
    const struct pc_header_pair *authz_headers;
    size_t n_authz_headers;

    struct pc_h1_head *resp;
    uint16_t status;
    const char *reason; /* why the gateway answered itself; NULL for upstream answers */
    uint64_t body_out;
    enum pc_h1_framing out_framing;
    bool is_close_after; /* close the client connection after this response */
    bool is_upstream_reusable;

    struct outq to_client;
    struct outq to_upstream;
    uint32_t client_writes;
    uint32_t upstream_writes;

    uint8_t req_state;
    uint8_t resp_state;
    uint8_t step;
    bool is_started; /* the steps have begun */
    bool is_ended;

    const char *client_addr; /* the connection's peer text, valid while it is recorded */
    uint16_t client_port;
    uint64_t start_ns;
    uint64_t start_ms; /* loop time, for deadlines */
    uint64_t start_wall_ms;
    char request_id[40];
};

/* server.c */
struct pc_server_internal;
struct pc_buf_pool *server_bufs(struct pc_server *server);
uv_loop_t *server_loop(struct pc_server *server);
struct pc_upstream_pool *server_pool(struct pc_server *server);
struct pc_metrics_worker *server_metrics(struct pc_server *server);
struct pc_access_writer *server_access_log(struct pc_server *server);
bool server_is_draining(const struct pc_server *server);
uint64_t server_random(struct pc_server *server);
struct wreq *server_wreq_get(struct pc_server *server);
void server_wreq_put(struct pc_server *server, struct wreq *w);
struct pc_arena *server_arena_get(struct pc_server *server);
void server_arena_put(struct pc_server *server, struct pc_arena *arena);
const char *server_date(struct pc_server *server);
void holder_unref(struct pc_server *server, struct cfg_holder *holder);
struct pc_token_cache *server_token_cache(struct pc_server *server);
/* This worker's cache of ready JWT signature contexts (authn/jws.h). */
struct pc_jws_verifier *server_jws_verifier(struct pc_server *server);
struct pc_fetch *server_fetch(struct pc_server *server);
/* The process's decision log, or NULL when none is configured. */
struct pc_decision_log *server_decision_log(struct pc_server *server);
/* This worker's cache of remote authorization decisions, and its Rego evaluation context. */
struct pc_lru *server_decision_cache(struct pc_server *server);
struct pc_rego_ctx *server_rego_ctx(struct pc_server *server);
struct pc_keyring *server_keyring(struct pc_server *server);
struct pc_replay_cache *server_replay(struct pc_server *server);
/* Parks x (a reference is taken) until slot's keys change from version, then re-runs its step. */
void server_wait_keys(struct pc_server *server, struct pc_exchange *x, struct pc_keyring_slot *slot,
                      uint64_t version);

/* Re-evaluates whether the connection should read, and starts or stops reading. */
void conn_update_reading(struct pc_conn *conn);
/* Parses buffered input as far as the exchange allows. */
void conn_process(struct pc_conn *conn);
/* Arms the client timer for kind, per the listener's timeouts; TIMER_NONE stops it. */
void conn_set_timer(struct pc_conn *conn, enum timer_kind kind);
/* Closes the client connection (and ends its exchange); idempotent. */
void conn_close(struct pc_conn *conn);
/*
 * Lets the parser report the end of a request that has no body, so the connection can carry
 * the next one after a local answer. Only in REQ_STEPS; the exchange then reaches REQ_DONE.
 */
void conn_complete_request(struct pc_conn *conn);
/* Called when an exchange has ended, to go on with the next request or close. */
void conn_exchange_ended(struct pc_conn *conn);

/* exchange.c */
struct pc_exchange *exchange_create(struct pc_conn *conn);
void exchange_ref(struct pc_exchange *x);
void exchange_unref(struct pc_exchange *x);
/* The request head is complete: runs the steps from the first. */
void exchange_start(struct pc_exchange *x);
/* A suspended step finished its work: continues with the step after it. */
void exchange_resume(struct pc_exchange *x);
/* A suspended step must run again (what it waited for changed): continues with it. */
void exchange_rerun(struct pc_exchange *x);

/* authn.c: the authentication step. Returns true to go on, false when the request was answered
 * or waits (and resumes itself). */
bool authn_step(struct pc_exchange *x);
/* The authorization step (authz.c); the same contract as authn_step. */
bool authz_step(struct pc_exchange *x);
/* Answers the request itself; body (may be NULL) is copied. Closes the connection afterwards
 * when the request's body was not read. */
void exchange_answer(struct pc_exchange *x, unsigned status, const char *reason);
void exchange_answer_with(struct pc_exchange *x, unsigned status, const char *reason,
                          const struct pc_header_pair *headers, size_t n_headers,
                          const char *content_type, const char *body, size_t body_len);

/* Whether the gateway can still answer: no response byte has been queued to the client. */
static inline bool
exchange_can_answer(const struct pc_exchange *x)
{
    return x->resp_state == RESP_NONE || x->resp_state == RESP_WAITING;
}

/* Returns the request id, generating one the first time. */
const char *exchange_request_id(struct pc_exchange *x);
/* Ends the exchange if both sides are done and every byte was taken. */
void exchange_check_end(struct pc_exchange *x);
/* The client connection failed or timed out under this exchange. */
void exchange_abort(struct pc_exchange *x);

/* outq helpers (exchange.c) */
void outq_push(struct outq *q, const char *base, size_t len, struct pc_buf *ref);
/* Writes q to the client (is_to_client) or the upstream, through TLS when the side has it. */
int outq_flush(struct pc_exchange *x, struct outq *q, uv_stream_t *stream, bool is_to_client);
void outq_clear(struct outq *q);
/* Writes what a TLS session produced outside any exchange (handshake records, alerts). */
int conn_flush_tls(struct pc_conn *conn);
/* Writes the ciphertext a TLS session holds for x's side. */
int tls_submit(struct pc_exchange *x, struct pc_conn *conn, struct pc_tls_stream *ts,
               uv_stream_t *stream, bool is_to_client);

/* forward.c */
/* The upstream step: returns once the exchange is suspended waiting for the upstream. */
void forward_start(struct pc_exchange *x);
/* A body slice of the client's request was parsed (buffer ref borrowed). */
int forward_request_body(struct pc_exchange *x, const char *at, size_t len);
/* The client's request is complete. */
void forward_request_done(struct pc_exchange *x);
/* The client's writes drained below the low mark: upstream reading may resume. */
void forward_client_drained(struct pc_exchange *x);
/* The exchange is ending or aborting: release or close the upstream connection. */
void forward_release(struct pc_exchange *x, bool is_clean);
/* Tunnel data from the client after an upgrade (buffer borrowed). */
void forward_tunnel_from_client(struct pc_exchange *x, struct pc_buf *buf, const char *at,
                                size_t len);
/* The client half of a tunnel ended. */
void forward_tunnel_client_eof(struct pc_exchange *x);
/* Whether the upstream can take more request body now. */
bool forward_wants_body(const struct pc_exchange *x);
/* Hands the request bytes queued for the upstream to libuv. */
void forward_flush(struct pc_exchange *x);

#endif
