/*
 * Prometheus metrics: counters and histograms kept per worker and summed when scraped.
 *
 * Each worker writes only its own struct pc_metrics_worker, with relaxed atomic stores that
 * compile to plain moves: no locked instruction and no shared cache line on the request path.
 * The admin thread reads every worker's values with relaxed loads when /metrics is scraped; a
 * scrape may see one worker a few increments behind another, which Prometheus tolerates. Route
 * statistics are found or created by the worker (by route and rule name, so they survive
 * reloads) and published on an append-only list that the admin thread walks.
 */
#ifndef PC_OBSERVE_METRICS_H
#define PC_OBSERVE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PC_METRICS_MAX_WORKERS 256
#define PC_METRICS_BUCKETS     14

enum pc_counter {
    PC_M_CONNECTIONS_ACCEPTED = 0,
    PC_M_CONNECTIONS_OPEN, /* a gauge: incremented and decremented */
    PC_M_REQUESTS_REJECTED,
    PC_M_CLIENT_TIMEOUTS,
    PC_M_UPSTREAM_CONNECT_ERRORS,
    PC_M_UPSTREAM_CONNECT_TIMEOUTS,
    PC_M_UPSTREAM_RESPONSE_TIMEOUTS,
    PC_M_UPSTREAM_RESPONSE_ERRORS,
    PC_M_UPSTREAM_RETRIES,
    PC_M_WEBSOCKET_TUNNELS, /* a gauge */
    PC_M_ACCESS_LOG_DROPPED,
    PC_M_OUT_OF_MEMORY,
    PC_M_TLS_HANDSHAKES,
    PC_M_TLS_RESUMED,
    PC_M_UPSTREAM_TLS_FAILURES,
    PC_M_AUTHN_VERIFIED,
    PC_M_AUTHN_CACHE_HITS,
    PC_M_AUTHN_UNAVAILABLE,
    PC_M_AUTHZ_ALLOWED,
    PC_M_AUTHZ_DENIED,
    PC_M_AUTHZ_WOULD_DENY, /* shadow mode */
    PC_M_AUTHZ_FAILED_CLOSED,
    PC_M_AUTHZ_FAILED_OPEN,
    PC_M_AUTHZ_SHADOW_FAILED,
    PC_M_AUTHZ_CACHE_HITS,
    PC_M_AUTHZ_LOG_UNRECORDED, /* decision lines too long to record */
    PC_M__COUNT,
};

/* Request counts and durations of one route rule on one worker. */
struct pc_route_stats {
    struct pc_route_stats *next; /* private */
    char *route;
    char *rule;
    _Atomic uint64_t by_class[5]; /* 1xx .. 5xx */
    _Atomic uint64_t buckets[PC_METRICS_BUCKETS];
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
};

struct pc_metrics;
struct pc_metrics_worker;

/* Creates the process's registry; NULL when out of memory. */
struct pc_metrics *pc_metrics_create(void);

/* Frees the registry and every worker's part; no worker may still use them. Accepts NULL. */
void pc_metrics_destroy(struct pc_metrics *m);

/* Adds worker number id's part (at most PC_METRICS_MAX_WORKERS); NULL when out of memory. */
struct pc_metrics_worker *pc_metrics_worker_add(struct pc_metrics *m, unsigned id);

/* Adds delta (may be negative for gauges) to a counter. Owning worker only. */
static inline void pc_metrics_add(struct pc_metrics_worker *w, enum pc_counter c, int64_t delta);

/*
 * Finds or creates the statistics of rule `rule` of route `route` (names borrowed for the call,
 * copied on creation). "" and "" stand for requests that matched no route. Owning worker only.
 * Returns NULL when out of memory.
 */
struct pc_route_stats *pc_metrics_route(struct pc_metrics_worker *w, const char *route,
                                        const char *rule);

/* Records one request's final status and duration. Owning worker only. */
void pc_metrics_observe(struct pc_route_stats *s, unsigned status, uint64_t duration_us);

/* Records a rejected request's reason (a static string such as "obs_fold"). Worker only. */
void pc_metrics_reject(struct pc_metrics_worker *w, const char *reason);

/* Records a failed client TLS handshake's reason (a static string). Worker only. */
void pc_metrics_tls_failure(struct pc_metrics_worker *w, const char *reason);

/* Records a request refused by authentication, by reason (a static string). Worker only. */
void pc_metrics_authn_failure(struct pc_metrics_worker *w, const char *reason);

/*
 * Records an authorization decision that did not simply allow: effect is one of the
 * PC_M_AUTHZ_* counters above, reason a static string (a denial's or a failure's code).
 * Worker only.
 */
void pc_metrics_authz(struct pc_metrics_worker *w, enum pc_counter effect, const char *reason);

/*
 * Process-wide figures that some other module keeps (the decision log's line counts): fn is
 * called at each rendering, from any thread, and appends complete metric families with
 * pc_metrics_printf. data is borrowed until pc_metrics_set_extra(m, NULL, NULL).
 */
struct pc_metrics_out;
typedef void (*pc_metrics_extra_fn)(void *data, struct pc_metrics_out *out);
void pc_metrics_set_extra(struct pc_metrics *m, pc_metrics_extra_fn fn, void *data);
void pc_metrics_printf(struct pc_metrics_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Process-wide events, from the control thread. */
void pc_metrics_reload(struct pc_metrics *m, int ok);

/*
 * Renders the Prometheus text exposition of every metric into a heap buffer (*out, returned
 * owned, freed with pc_free) of *len bytes. Any thread. Returns 0 or PC_ENOMEM.
 */
int pc_metrics_render(struct pc_metrics *m, char **out, size_t *len);

/* Layout needed by the inline increment; private otherwise. */
struct pc_metrics_worker_counters {
    _Atomic int64_t values[PC_M__COUNT];
};

struct pc_metrics_worker_counters *pc_metrics_counters(struct pc_metrics_worker *w);

static inline void
pc_metrics_add(struct pc_metrics_worker *w, enum pc_counter c, int64_t delta)
{
    _Atomic int64_t *v = &pc_metrics_counters(w)->values[c];

    /* Only this worker writes v: a load and a store need no locked read-modify-write. */
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

#endif
