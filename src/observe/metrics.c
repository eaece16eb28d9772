/*
 * Metrics registry and the Prometheus text exposition.
 *
 * Workers own their counters and route statistics; the control and admin threads only read
 * them. Route statistics are looked up by the worker through a small open hash table private to
 * that worker, and published to readers on a list whose head is stored with release order, so a
 * reader that sees an entry sees it initialised.
 */
#include "observe/metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/err.h"

#define REASONS_MAX 48

/* Upper bounds of the request-duration buckets, in microseconds. */
static const uint64_t bucket_bounds_us[PC_METRICS_BUCKETS] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static const char *const bucket_labels[PC_METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

struct reason_count {
    _Atomic(const char *) reason;
    _Atomic uint64_t count;
};

struct pc_metrics_worker {
    struct pc_metrics_worker_counters counters;
    _Atomic(struct pc_route_stats *) routes; /* published list, newest first */
    struct pc_route_stats **table;           /* worker-private index */
    size_t table_cap;
    size_t n_routes;
    struct reason_count reasons[REASONS_MAX];       /* requests rejected */
    struct reason_count tls_reasons[REASONS_MAX];   /* client handshakes failed */
    struct reason_count authn_reasons[REASONS_MAX]; /* requests refused by authentication */
    struct reason_count authz_reasons[REASONS_MAX]; /* authorization denials and failures */
};

struct pc_metrics {
    _Atomic(struct pc_metrics_worker *) workers[PC_METRICS_MAX_WORKERS];
    _Atomic uint64_t reloads;
    _Atomic uint64_t reload_failures;
    uint64_t start_time;
    pc_metrics_extra_fn extra; /* set before serving, read by every rendering */
    void *extra_data;
};

struct pc_metrics *
pc_metrics_create(void)
{
    struct pc_metrics *m = pc_calloc(1, sizeof(*m));

    if (m != NULL) {
        m->start_time = (uint64_t)time(NULL);
    }
    return m;
}

static void
free_worker(struct pc_metrics_worker *w)
{
    struct pc_route_stats *s = atomic_load(&w->routes);

    while (s != NULL) {
        struct pc_route_stats *next = s->next;

        pc_free(s->route);
        pc_free(s->rule);
        pc_free(s);
        s = next;
    }
    pc_free(w->table);
    pc_free(w);
}

void
pc_metrics_destroy(struct pc_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < PC_METRICS_MAX_WORKERS; i++) {
        struct pc_metrics_worker *w = atomic_load(&m->workers[i]);

        if (w != NULL) {
            free_worker(w);
        }
    }
    pc_free(m);
}

struct pc_metrics_worker *
pc_metrics_worker_add(struct pc_metrics *m, unsigned id)
{
    struct pc_metrics_worker *w;

    if (id >= PC_METRICS_MAX_WORKERS) {
        return NULL;
    }
    w = pc_calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    atomic_store_explicit(&m->workers[id], w, memory_order_release);
    return w;
}

struct pc_metrics_worker_counters *
pc_metrics_counters(struct pc_metrics_worker *w)
{
    return &w->counters;
}

static uint64_t
hash_names(const char *route, const char *rule)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = route; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    h = (h ^ '/') * 1099511628211ull;
    for (const char *p = rule; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    return h;
}

static int
table_insert(struct pc_route_stats **table, size_t cap, struct pc_route_stats *s)
{
    size_t i = hash_names(s->route, s->rule) & (cap - 1);

    while (table[i] != NULL) {
        i = (i + 1) & (cap - 1);
    }
    table[i] = s;
    return 0;
}

static int
table_grow(struct pc_metrics_worker *w)
{
    size_t cap = w->table_cap == 0 ? 64 : w->table_cap * 2;
    struct pc_route_stats **table = pc_calloc(cap, sizeof(*table));

    if (table == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < w->table_cap; i++) {
        if (w->table[i] != NULL) {
            table_insert(table, cap, w->table[i]);
        }
    }
    pc_free(w->table);
    w->table = table;
    w->table_cap = cap;
    return 0;
}

static struct pc_route_stats *
create_route(struct pc_metrics_worker *w, const char *route, const char *rule)
{
    struct pc_route_stats *s;

    if ((w->n_routes + 1) * 2 > w->table_cap && table_grow(w) != 0) {
        return NULL;
    }
    s = pc_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->route = pc_strdup(route);
    s->rule = pc_strdup(rule);
    if (s->route == NULL || s->rule == NULL) {
        pc_free(s->route);
        pc_free(s->rule);
        pc_free(s);
        return NULL;
    }

    table_insert(w->table, w->table_cap, s);
    w->n_routes++;
    s->next = atomic_load_explicit(&w->routes, memory_order_relaxed);
    atomic_store_explicit(&w->routes, s, memory_order_release);
    return s;
}

struct pc_route_stats *
pc_metrics_route(struct pc_metrics_worker *w, const char *route, const char *rule)
{
    if (w->table_cap > 0) {
        size_t i = hash_names(route, rule) & (w->table_cap - 1);

        while (w->table[i] != NULL) {
            struct pc_route_stats *s = w->table[i];

            if (strcmp(s->route, route) == 0 && strcmp(s->rule, rule) == 0) {
                return s;
            }
            i = (i + 1) & (w->table_cap - 1);
        }
    }
    return create_route(w, route, rule);
}

static void
bump(_Atomic uint64_t *v, uint64_t delta)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

void
pc_metrics_observe(struct pc_route_stats *s, unsigned status, uint64_t duration_us)
{
    unsigned cls = status / 100;

    if (cls >= 1 && cls <= 5) {
        bump(&s->by_class[cls - 1], 1);
    }
    for (size_t i = 0; i < PC_METRICS_BUCKETS; i++) {
        if (duration_us <= bucket_bounds_us[i]) {
            bump(&s->buckets[i], 1);
            break;
        }
    }
    bump(&s->sum_us, duration_us);
    bump(&s->count, 1);
}

static void
count_reason(struct reason_count *table, const char *reason)
{
    for (size_t i = 0; i < REASONS_MAX; i++) {
        const char *r = atomic_load_explicit(&table[i].reason, memory_order_relaxed);

        if (r == NULL) {
            atomic_store_explicit(&table[i].count, 1, memory_order_relaxed);
            atomic_store_explicit(&table[i].reason, reason, memory_order_release);
            return;
        }
        if (r == reason || strcmp(r, reason) == 0) {
            bump(&table[i].count, 1);
            return;
        }
    }
}

void
pc_metrics_reject(struct pc_metrics_worker *w, const char *reason)
{
    pc_metrics_add(w, PC_M_REQUESTS_REJECTED, 1);
    count_reason(w->reasons, reason);
}

void
pc_metrics_authz(struct pc_metrics_worker *w, enum pc_counter effect, const char *reason)
{
    pc_metrics_add(w, effect, 1);
    if (effect != PC_M_AUTHZ_ALLOWED) {
        count_reason(w->authz_reasons, reason);
    }
}

void
pc_metrics_tls_failure(struct pc_metrics_worker *w, const char *reason)
{
    count_reason(w->tls_reasons, reason);
}

void
pc_metrics_authn_failure(struct pc_metrics_worker *w, const char *reason)
{
    count_reason(w->authn_reasons, reason);
}

void
pc_metrics_reload(struct pc_metrics *m, int ok)
{
    atomic_fetch_add(ok ? &m->reloads : &m->reload_failures, 1);
}

/* A growing text buffer for rendering. */
struct pc_metrics_out {
    char *buf;
    size_t len;
    size_t cap;
    int rc;
};

static void out_printf(struct pc_metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_vprintf(struct pc_metrics_out *o, const char *fmt, va_list args)
{
    va_list ap;
    int n;

    if (o->rc != 0) {
        return;
    }
    for (;;) {
        va_copy(ap, args);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->rc = PC_EINVAL;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n) * 2;
        char *buf = pc_realloc(o->buf, cap);

        if (buf == NULL) {
            o->rc = PC_ENOMEM;
            return;
        }
        o->buf = buf;
        o->cap = cap;
    }
}

static void
out_printf(struct pc_metrics_out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(o, fmt, ap);
    va_end(ap);
}

void
pc_metrics_printf(struct pc_metrics_out *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(out, fmt, ap);
    va_end(ap);
}

void
pc_metrics_set_extra(struct pc_metrics *m, pc_metrics_extra_fn fn, void *data)
{
    m->extra = fn;
    m->extra_data = data;
}

static int64_t
sum_counter(struct pc_metrics *m, enum pc_counter c)
{
    int64_t total = 0;

    for (size_t i = 0; i < PC_METRICS_MAX_WORKERS; i++) {
        struct pc_metrics_worker *w = atomic_load_explicit(&m->workers[i], memory_order_acquire);

        if (w != NULL) {
            total += atomic_load_explicit(&w->counters.values[c], memory_order_relaxed);
        }
    }
    return total;
}

static void
render_counters(struct pc_metrics *m, struct pc_metrics_out *o)
{
    static const struct {
        enum pc_counter c;
        const char *name;
        const char *type;
        const char *help;
    } defs[] = {
        { PC_M_CONNECTIONS_ACCEPTED, "portcullis_connections_accepted_total", "counter",
          "Client connections accepted." },
        { PC_M_CONNECTIONS_OPEN, "portcullis_connections_open", "gauge",
          "Client connections open now." },
        { PC_M_CLIENT_TIMEOUTS, "portcullis_client_timeouts_total", "counter",
          "Client connections closed for a request-head, body or send timeout." },
        { PC_M_UPSTREAM_CONNECT_ERRORS, "portcullis_upstream_connect_errors_total", "counter",
          "Upstream connection attempts that failed." },
        { PC_M_UPSTREAM_CONNECT_TIMEOUTS, "portcullis_upstream_connect_timeouts_total", "counter",
          "Upstream connection attempts that timed out." },
        { PC_M_UPSTREAM_RESPONSE_TIMEOUTS, "portcullis_upstream_response_timeouts_total", "counter",
          "Upstream responses that did not arrive in time." },
        { PC_M_UPSTREAM_RESPONSE_ERRORS, "portcullis_upstream_response_errors_total", "counter",
          "Upstream responses that were malformed or cut short." },
        { PC_M_UPSTREAM_RETRIES, "portcullis_upstream_retries_total", "counter",
          "Requests retried on a fresh upstream connection before any response byte." },
        { PC_M_WEBSOCKET_TUNNELS, "portcullis_websocket_tunnels_open", "gauge",
          "Upgraded connections being tunnelled now." },
        { PC_M_ACCESS_LOG_DROPPED, "portcullis_access_log_dropped_total", "counter",
          "Access-log lines lost to a failed write." },
        { PC_M_OUT_OF_MEMORY, "portcullis_out_of_memory_total", "counter",
          "Requests failed with 503 for lack of memory." },
        { PC_M_TLS_HANDSHAKES, "portcullis_tls_handshakes_total", "counter",
          "Client TLS handshakes completed." },
        { PC_M_TLS_RESUMED, "portcullis_tls_resumed_total", "counter",
          "Client TLS handshakes that resumed a session from a ticket." },
        { PC_M_UPSTREAM_TLS_FAILURES, "portcullis_upstream_tls_failures_total", "counter",
          "TLS handshakes with upstreams that failed, verification included." },
        { PC_M_AUTHN_VERIFIED, "portcullis_authn_tokens_verified_total", "counter",
          "Tokens whose signature was verified (cache misses)." },
        { PC_M_AUTHN_CACHE_HITS, "portcullis_authn_cache_hits_total", "counter",
          "Tokens found in the verified-token cache." },
        { PC_M_AUTHN_UNAVAILABLE, "portcullis_authn_unavailable_total", "counter",
          "Requests answered 503 because an identity provider or its keys were unavailable." },
        { PC_M_AUTHZ_CACHE_HITS, "portcullis_authz_cache_hits_total", "counter",
          "Remote authorization decisions served from a worker's decision cache." },
        { PC_M_AUTHZ_LOG_UNRECORDED, "portcullis_authz_decisions_unrecorded_total", "counter",
          "Decisions whose decision-log line could not be built (over 16 KiB, or no memory)." },
    };

    static const struct {
        enum pc_counter c;
        const char *effect;
    } effects[] = {
        { PC_M_AUTHZ_ALLOWED, "allowed" },         { PC_M_AUTHZ_DENIED, "denied" },
        { PC_M_AUTHZ_WOULD_DENY, "would_deny" },   { PC_M_AUTHZ_FAILED_CLOSED, "failed_closed" },
        { PC_M_AUTHZ_FAILED_OPEN, "failed_open" }, { PC_M_AUTHZ_SHADOW_FAILED, "shadow_failed" },
    };

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        out_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", defs[i].name, defs[i].help,
                   defs[i].name, defs[i].type, defs[i].name, (long long)sum_counter(m, defs[i].c));
    }
    out_printf(o, "# HELP portcullis_authz_decisions_total Authorization decisions by effect: "
                  "allowed, denied, would_deny (shadow mode), failed_closed, failed_open, "
                  "shadow_failed.\n# TYPE portcullis_authz_decisions_total counter\n");
    for (size_t i = 0; i < sizeof(effects) / sizeof(effects[0]); i++) {
        out_printf(o, "portcullis_authz_decisions_total{effect=\"%s\"} %lld\n", effects[i].effect,
                   (long long)sum_counter(m, effects[i].c));
    }
}

/* Sums one reason table over the workers and renders it as a counter family. */
static void
render_reasons(struct pc_metrics *m, struct pc_metrics_out *o, size_t table_offset,
               const char *name, const char *help)
{
    const char *reasons[REASONS_MAX];
    uint64_t counts[REASONS_MAX];
    size_t n = 0;

    for (size_t i = 0; i < PC_METRICS_MAX_WORKERS; i++) {
        struct pc_metrics_worker *w = atomic_load_explicit(&m->workers[i], memory_order_acquire);
        const struct reason_count *table;

        if (w == NULL) {
            continue;
        }
        table = (const struct reason_count *)((const char *)w + table_offset);
        for (size_t r = 0; r < REASONS_MAX; r++) {
            const char *reason = atomic_load_explicit(&table[r].reason, memory_order_acquire);
            size_t k = 0;

            if (reason == NULL) {
                break;
            }
            while (k < n && strcmp(reasons[k], reason) != 0) {
                k++;
            }
            if (k == n) {
                if (n == REASONS_MAX) {
                    continue;
                }
                reasons[n] = reason;
                counts[n++] = 0;
            }
            counts[k] += atomic_load_explicit(&table[r].count, memory_order_relaxed);
        }
    }

    out_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t k = 0; k < n; k++) {
        out_printf(o, "%s{reason=\"%s\"} %llu\n", name, reasons[k], (unsigned long long)counts[k]);
    }
}

/* One route rule's statistics summed over the workers. */
struct merged {
    const char *route;
    const char *rule;
    uint64_t by_class[5];
    uint64_t buckets[PC_METRICS_BUCKETS];
    uint64_t sum_us;
    uint64_t count;
};

static struct merged *
merged_slot(struct merged *table, size_t cap, const struct pc_route_stats *s)
{
    size_t i = hash_names(s->route, s->rule) & (cap - 1);

    while (table[i].route != NULL) {
        if (strcmp(table[i].route, s->route) == 0 && strcmp(table[i].rule, s->rule) == 0) {
            return &table[i];
        }
        i = (i + 1) & (cap - 1);
    }
    table[i].route = s->route;
    table[i].rule = s->rule;
    return &table[i];
}

static void
merge_into(struct merged *d, const struct pc_route_stats *s)
{
    for (size_t c = 0; c < 5; c++) {
        d->by_class[c] += atomic_load_explicit(&s->by_class[c], memory_order_relaxed);
    }
    for (size_t b = 0; b < PC_METRICS_BUCKETS; b++) {
        d->buckets[b] += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
    }
    d->sum_us += atomic_load_explicit(&s->sum_us, memory_order_relaxed);
    d->count += atomic_load_explicit(&s->count, memory_order_relaxed);
}

static void
render_merged(struct pc_metrics_out *o, const struct merged *d)
{
    static const char *const classes[5] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
    uint64_t cumulative = 0;

    for (size_t c = 0; c < 5; c++) {
        if (d->by_class[c] != 0) {
            out_printf(
                o, "portcullis_http_requests_total{route=\"%s\",rule=\"%s\",code=\"%s\"} %llu\n",
                d->route, d->rule, classes[c], (unsigned long long)d->by_class[c]);
        }
    }
    for (size_t b = 0; b < PC_METRICS_BUCKETS; b++) {
        cumulative += d->buckets[b];
        out_printf(o,
                   "portcullis_http_request_duration_seconds_bucket{route=\"%s\",rule=\"%s\","
                   "le=\"%s\"} %llu\n",
                   d->route, d->rule, bucket_labels[b], (unsigned long long)cumulative);
    }
    out_printf(o,
               "portcullis_http_request_duration_seconds_bucket{route=\"%s\",rule=\"%s\","
               "le=\"+Inf\"} %llu\n"
               "portcullis_http_request_duration_seconds_sum{route=\"%s\",rule=\"%s\"} %.6f\n"
               "portcullis_http_request_duration_seconds_count{route=\"%s\",rule=\"%s\"} %llu\n",
               d->route, d->rule, (unsigned long long)d->count, d->route, d->rule,
               (double)d->sum_us / 1e6, d->route, d->rule, (unsigned long long)d->count);
}

static void
render_routes(struct pc_metrics *m, struct pc_metrics_out *o)
{
    size_t total = 0;
    size_t cap = 16;
    struct merged *table;

    for (size_t i = 0; i < PC_METRICS_MAX_WORKERS; i++) {
        struct pc_metrics_worker *w = atomic_load_explicit(&m->workers[i], memory_order_acquire);
        const struct pc_route_stats *s;

        for (s = w != NULL ? atomic_load_explicit(&w->routes, memory_order_acquire) : NULL;
             s != NULL; s = s->next) {
            total++;
        }
    }
    while (cap < total * 2) {
        cap *= 2;
    }
    table = pc_calloc(cap, sizeof(*table));
    if (table == NULL) {
        o->rc = PC_ENOMEM;
        return;
    }

    /* Walk again: entries published since the count are skipped once the table is full. */
    for (size_t i = 0, used = 0; i < PC_METRICS_MAX_WORKERS; i++) {
        struct pc_metrics_worker *w = atomic_load_explicit(&m->workers[i], memory_order_acquire);
        const struct pc_route_stats *s;

        for (s = w != NULL ? atomic_load_explicit(&w->routes, memory_order_acquire) : NULL;
             s != NULL && used < total; s = s->next, used++) {
            merge_into(merged_slot(table, cap, s), s);
        }
    }

    out_printf(o, "# HELP portcullis_http_requests_total HTTP requests by route rule and status "
                  "class.\n# TYPE portcullis_http_requests_total counter\n");
    out_printf(o, "# HELP portcullis_http_request_duration_seconds Time from the first byte of a "
                  "request to the last byte of its response.\n"
                  "# TYPE portcullis_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < cap; i++) {
        if (table[i].route != NULL) {
            render_merged(o, &table[i]);
        }
    }
    pc_free(table);
}

int
pc_metrics_render(struct pc_metrics *m, char **out, size_t *len)
{
    struct pc_metrics_out o = { 0 };

    render_counters(m, &o);
    render_reasons(m, &o, offsetof(struct pc_metrics_worker, reasons),
                   "portcullis_requests_rejected_total",
                   "Requests refused as malformed or over a limit, by reason.");
    render_reasons(m, &o, offsetof(struct pc_metrics_worker, tls_reasons),
                   "portcullis_tls_handshake_failures_total",
                   "Client TLS handshakes that failed, by reason.");
    render_reasons(m, &o, offsetof(struct pc_metrics_worker, authn_reasons),
                   "portcullis_authn_failures_total",
                   "Requests refused by authentication (401 and 403), by reason.");
    render_reasons(
        m, &o, offsetof(struct pc_metrics_worker, authz_reasons), "portcullis_authz_refusals_total",
        "Authorization decisions that denied (or would have, in shadow mode) or failed, by reason.");
    if (m->extra != NULL) {
        m->extra(m->extra_data, &o);
    }
    render_routes(m, &o);
    out_printf(&o,
               "# HELP portcullis_config_reloads_total Configuration reloads applied.\n"
               "# TYPE portcullis_config_reloads_total counter\n"
               "portcullis_config_reloads_total %llu\n"
               "# HELP portcullis_config_reload_failures_total Configuration reloads refused.\n"
               "# TYPE portcullis_config_reload_failures_total counter\n"
               "portcullis_config_reload_failures_total %llu\n"
               "# HELP portcullis_build_info Build information.\n"
               "# TYPE portcullis_build_info gauge\n"
               "portcullis_build_info{version=\"%s\",revision=\"%s\"} 1\n"
               "# HELP portcullis_start_time_seconds Start time of the process.\n"
               "# TYPE portcullis_start_time_seconds gauge\n"
               "portcullis_start_time_seconds %llu\n",
               (unsigned long long)atomic_load(&m->reloads),
               (unsigned long long)atomic_load(&m->reload_failures), PC_VERSION, PC_GIT_REV,
               (unsigned long long)m->start_time);
    if (o.rc != 0) {
        pc_free(o.buf);
        return o.rc;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
