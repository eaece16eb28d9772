/*
 * Upstream connections and the per-worker keep-alive pool.
 *
 * A pool belongs to one worker loop. It opens connections to endpoints (with a connect timeout),
 * keeps the idle ones per endpoint address, most recently used first, closes those idle past
 * their timeout or beyond the per-endpoint cap, and watches idle connections so one that the
 * upstream closed is dropped before anyone reuses it. While a connection is in use it belongs to
 * its owner (the proxy), which drives its reads, writes and timer; it comes back through
 * pc_pool_put() or goes away through pc_upconn_close().
 */
#ifndef PC_UPSTREAM_POOL_H
#define PC_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "http/h1.h"

struct pc_upstream_pool;
struct pc_tls_stream;
struct pool_entry;

/*
 * One connection to an upstream. The owner may write to tcp and use parser while it holds the
 * connection, and set owner, alloc_cb and read_cb for its reads (started and stopped
 * with pc_upconn_read_start/stop); the other fields are private to the pool.
 */
struct pc_upconn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* private: deadlines go through pc_upconn_set_deadline */
    struct pc_h1_parser parser;
    void *owner;
    uv_alloc_cb alloc_cb;
    uv_read_cb read_cb;
    uv_timer_cb timer_cb;      /* runs once the deadline set by pc_upconn_set_deadline passes */
    struct pc_tls_stream *tls; /* set by the owner for TLS upstreams; freed with the connection */

    /* private */
    struct pc_upstream_pool *pool;
    struct pool_entry *entry;
    struct pc_upconn *next_idle;
    struct pc_upconn *prev_idle;
    uv_connect_t connect_req;
    void (*connect_cb)(struct pc_upconn *up, int status);
    int connect_status;        /* set when the pool fails a connect itself */
    uint64_t deadline_ms;      /* the owner's, loop time; 0: none */
    uint64_t idle_deadline_ms; /* while idle; 0: none */
    uint64_t armed_ms;         /* when the libuv timer fires; 0: not armed */
    uint32_t n_requests;
    uint8_t open_handles;
    bool is_idle;
    bool is_reading;
    bool is_closing;
    bool is_tcp_closing;
};

typedef void (*pc_upconn_connect_fn)(struct pc_upconn *up, int status);

/* Creates a pool for loop; NULL when out of memory. Worker thread. */
struct pc_upstream_pool *pc_pool_create(uv_loop_t *loop);

/* Closes every idle connection and frees the pool once they are closed; accepts NULL. The loop
 * must run for the closes to finish. Connections in use must have been closed or put first. */
void pc_pool_destroy(struct pc_upstream_pool *pool);

/* Closes the idle connections now (on drain); the pool stays usable. */
void pc_pool_close_idle(struct pc_upstream_pool *pool);

/*
 * Returns an idle connection to ep, ready for a request, or NULL when there is none. Its
 * n_requests tells how many exchanges it already carried (non-zero means reused). tag (may be
 * NULL) separates connections to one address that are not interchangeable: a TLS connection
 * made under one policy is never handed to a plain request or to another policy.
 */
struct pc_upconn *pc_pool_take(struct pc_upstream_pool *pool, const struct pc_endpoint *ep,
                               const char *tag);

/*
 * Opens a new connection to ep. cb(up, status) runs on the loop once connected (status 0) or
 * failed (PC_ETIMEDOUT after timeout_ms, or a negative PC_E* code), never before this returns;
 * after a failure the connection is closed and freed by the pool when cb returns. owner is
 * stored in up->owner. Returns NULL when out of memory (cb will not run).
 */
struct pc_upconn *pc_pool_connect(struct pc_upstream_pool *pool, const struct pc_endpoint *ep,
                                  const char *tag, uint32_t timeout_ms, pc_upconn_connect_fn cb,
                                  void *owner);

/*
 * Hands back a connection whose exchange completed cleanly and that may carry another. The pool
 * takes its reads and timer back and keeps it for idle_timeout_ms, unless the endpoint already
 * has max_idle idle connections, in which case it is closed.
 */
void pc_pool_put(struct pc_upconn *up, uint32_t max_idle, uint32_t idle_timeout_ms);

/*
 * Starts or stops delivering reads to the owner's alloc_cb and read_cb. A connection stays
 * registered for reading across pc_pool_take() and pc_pool_put(), so the common case of a
 * reused connection costs no epoll_ctl; stopping is for backpressure only.
 */
void pc_upconn_read_start(struct pc_upconn *up);
void pc_upconn_read_stop(struct pc_upconn *up);

/*
 * Sets when the owner's timer_cb must run (loop time, as uv_now gives it; 0 for never). The
 * libuv timer is re-armed only when the deadline moves earlier than it is set for, so moving a
 * deadline on every request costs nothing in the common case.
 */
void pc_upconn_set_deadline(struct pc_upconn *up, uint64_t deadline_ms);

/* Closes a connection in use and frees it once libuv is done with it; accepts NULL. */
void pc_upconn_close(struct pc_upconn *up);

/* The number of idle connections the pool holds, for tests and metrics. */
size_t pc_pool_idle_count(const struct pc_upstream_pool *pool);

#endif
