/*
 * Keep-alive pool: a hash table from endpoint address to a list of idle connections.
 *
 * Entries are keyed by the endpoint's name ("127.0.0.1:8080") rather than by a pointer into a
 * configuration snapshot, so pooled connections survive a reload that keeps the endpoint. An
 * entry is created on first use and lives as long as the pool; there are as many as distinct
 * endpoints ever used by this worker, which configuration bounds.
 *
 * An idle connection keeps reading: an upstream that closes it (or, against the protocol, sends
 * bytes) gets it closed here, so the next request does not find a dead socket.
 */
#include "upstream/pool.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "tls/stream.h"

#define BUCKETS 256

struct pool_entry {
    struct pool_entry *next; /* hash chain */
    char *name;
    struct pc_upconn *idle; /* most recently used first */
    uint32_t n_idle;
};

struct pc_upstream_pool {
    uv_loop_t *loop;
    struct pool_entry *buckets[BUCKETS];
    size_t n_idle;
    size_t n_open;
    bool is_destroying;
};

static uint32_t
hash_name(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* The pool key: the endpoint's address, and the tag when there is one. */
static const char *
make_key(char *buf, size_t size, const struct pc_endpoint *ep, const char *tag)
{
    if (tag == NULL) {
        return ep->name;
    }
    snprintf(buf, size, "%s|%s", ep->name, tag);
    return buf;
}

static struct pool_entry *
entry_get(struct pc_upstream_pool *pool, const char *name)
{
    uint32_t b = hash_name(name) % BUCKETS;
    struct pool_entry *e;

    for (e = pool->buckets[b]; e != NULL; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }

    e = pc_calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->name = pc_strdup(name);
    if (e->name == NULL) {
        pc_free(e);
        return NULL;
    }
    e->next = pool->buckets[b];
    pool->buckets[b] = e;
    return e;
}

static void
free_entries(struct pc_upstream_pool *pool)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        while (pool->buckets[b] != NULL) {
            struct pool_entry *e = pool->buckets[b];

            pool->buckets[b] = e->next;
            pc_free(e->name);
            pc_free(e);
        }
    }
}

struct pc_upstream_pool *
pc_pool_create(uv_loop_t *loop)
{
    struct pc_upstream_pool *pool = pc_calloc(1, sizeof(*pool));

    if (pool != NULL) {
        pool->loop = loop;
    }
    return pool;
}

static void
maybe_free_pool(struct pc_upstream_pool *pool)
{
    if (pool->is_destroying && pool->n_open == 0) {
        free_entries(pool);
        pc_free(pool);
    }
}

static void
on_handle_closed(uv_handle_t *handle)
{
    struct pc_upconn *up = handle->data;
    struct pc_upstream_pool *pool = up->pool;

    if (--up->open_handles > 0) {
        return;
    }
    pool->n_open--;
    if (up->tls != NULL) {
        pc_tls_stream_free(up->tls);
        pc_free(up->tls);
    }
    pc_free(up);
    maybe_free_pool(pool);
}

static void
close_tcp(struct pc_upconn *up)
{
    if (!up->is_tcp_closing) {
        up->is_tcp_closing = true;
        uv_close((uv_handle_t *)&up->tcp, on_handle_closed);
    }
}

static void
unlink_idle(struct pc_upconn *up)
{
    struct pool_entry *e = up->entry;

    if (!up->is_idle) {
        return;
    }
    if (up->prev_idle != NULL) {
        up->prev_idle->next_idle = up->next_idle;
    } else {
        e->idle = up->next_idle;
    }
    if (up->next_idle != NULL) {
        up->next_idle->prev_idle = up->prev_idle;
    }
    up->next_idle = NULL;
    up->prev_idle = NULL;
    up->is_idle = false;
    e->n_idle--;
    up->pool->n_idle--;
}

void
pc_upconn_close(struct pc_upconn *up)
{
    if (up == NULL || up->is_closing) {
        return;
    }
    unlink_idle(up);
    up->is_closing = true;
    uv_close((uv_handle_t *)&up->timer, on_handle_closed);
    close_tcp(up);
}

void
pc_pool_close_idle(struct pc_upstream_pool *pool)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        for (struct pool_entry *e = pool->buckets[b]; e != NULL; e = e->next) {
            while (e->idle != NULL) {
                pc_upconn_close(e->idle);
            }
        }
    }
}

void
pc_pool_destroy(struct pc_upstream_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    pc_pool_close_idle(pool);
    pool->is_destroying = true;
    maybe_free_pool(pool);
}

static void
fail_connect(struct pc_upconn *up, int status)
{
    up->connect_cb(up, status);
    pc_upconn_close(up);
}

static void
on_connect_timeout(uv_timer_t *timer)
{
    struct pc_upconn *up = timer->data;

    /* Closing the stream cancels the connect request, whose callback then reports this status
     * rather than UV_ECANCELED. */
    up->connect_status = PC_ETIMEDOUT;
    close_tcp(up);
}

static void
on_connect_refused_now(uv_timer_t *timer)
{
    struct pc_upconn *up = timer->data;

    fail_connect(up, up->connect_status);
}

static void
on_connected(uv_connect_t *req, int status)
{
    struct pc_upconn *up = req->handle->data;

    uv_timer_stop(&up->timer);
    up->armed_ms = 0;
    if (up->connect_status != 0) {
        status = up->connect_status;
    }
    if (status != 0) {
        fail_connect(up, status);
        return;
    }
    uv_tcp_nodelay(&up->tcp, 1);
    up->connect_cb(up, 0);
}

struct pc_upconn *
pc_pool_connect(struct pc_upstream_pool *pool, const struct pc_endpoint *ep, const char *tag,
                uint32_t timeout_ms, pc_upconn_connect_fn cb, void *owner)
{
    char key[512];
    struct pc_upconn *up;
    int rc;

    up = pc_calloc(1, sizeof(*up));
    if (up == NULL) {
        return NULL;
    }
    up->entry = entry_get(pool, make_key(key, sizeof(key), ep, tag));
    if (up->entry == NULL) {
        pc_free(up);
        return NULL;
    }
    up->pool = pool;
    up->owner = owner;
    up->connect_cb = cb;
    uv_tcp_init(pool->loop, &up->tcp);
    uv_timer_init(pool->loop, &up->timer);
    up->tcp.data = up;
    up->timer.data = up;
    up->open_handles = 2;
    pool->n_open++;

    rc = uv_tcp_connect(&up->connect_req, &up->tcp, (const struct sockaddr *)&ep->addr,
                        on_connected);
    if (rc != 0) {
        /* The contract promises the callback never runs before we return. */
        up->connect_status = rc;
        uv_timer_start(&up->timer, on_connect_refused_now, 0, 0);
        return up;
    }
    if (timeout_ms > 0) {
        uv_timer_start(&up->timer, on_connect_timeout, timeout_ms, 0);
        up->armed_ms = uv_now(pool->loop) + timeout_ms;
    }
    return up;
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    /* An idle connection expects no bytes: a small per-thread scratch buffer is enough to see
     * EOF or a protocol violation, and nothing is allocated per wake-up. */
    static _Thread_local char scratch[64];
    struct pc_upconn *up = handle->data;

    if (!up->is_idle && up->alloc_cb != NULL) {
        up->alloc_cb(handle, suggested, buf);
        return;
    }
    buf->base = scratch;
    buf->len = sizeof(scratch);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pc_upconn *up = stream->data;

    if (!up->is_idle && up->read_cb != NULL) {
        up->read_cb(stream, nread, buf);
        return;
    }
    if (nread == 0) {
        return;
    }
    /* EOF, an error, or unsolicited bytes: none leaves an idle connection fit for reuse. */
    pc_log(PC_LOG_DEBUG, "upstream", "idle_closed", "endpoint=%s nread=%zd", up->entry->name,
           nread);
    pc_upconn_close(up);
}

void
pc_upconn_read_start(struct pc_upconn *up)
{
    if (up->is_reading || up->is_closing) {
        return;
    }
    if (uv_read_start((uv_stream_t *)&up->tcp, on_alloc, on_read) == 0) {
        up->is_reading = true;
    }
}

void
pc_upconn_read_stop(struct pc_upconn *up)
{
    if (up->is_reading) {
        uv_read_stop((uv_stream_t *)&up->tcp);
        up->is_reading = false;
    }
}

static void on_timer(uv_timer_t *timer);

static void
arm(struct pc_upconn *up, uint64_t deadline)
{
    uint64_t now = uv_now(up->pool->loop);

    if (up->armed_ms != 0 && up->armed_ms <= deadline) {
        return;
    }
    uv_timer_start(&up->timer, on_timer, deadline > now ? deadline - now : 0, 0);
    up->armed_ms = deadline;
}

static void
on_timer(uv_timer_t *timer)
{
    struct pc_upconn *up = timer->data;
    uint64_t deadline = up->is_idle ? up->idle_deadline_ms : up->deadline_ms;

    up->armed_ms = 0;
    if (deadline == 0) {
        return;
    }
    if (deadline > uv_now(up->pool->loop)) {
        arm(up, deadline);
        return;
    }
    if (up->is_idle) {
        pc_upconn_close(up);
        return;
    }
    up->deadline_ms = 0;
    if (up->timer_cb != NULL) {
        up->timer_cb(timer);
    }
}

void
pc_upconn_set_deadline(struct pc_upconn *up, uint64_t deadline_ms)
{
    up->deadline_ms = deadline_ms;
    if (deadline_ms != 0 && !up->is_closing) {
        arm(up, deadline_ms);
    }
}

void
pc_pool_put(struct pc_upconn *up, uint32_t max_idle, uint32_t idle_timeout_ms)
{
    struct pool_entry *e = up->entry;

    up->owner = NULL;
    up->alloc_cb = NULL;
    up->read_cb = NULL;
    up->timer_cb = NULL;
    up->deadline_ms = 0;
    if (up->is_closing || up->pool->is_destroying || e->n_idle >= max_idle) {
        pc_upconn_close(up);
        return;
    }
    pc_upconn_read_start(up);
    if (!up->is_reading) {
        pc_upconn_close(up);
        return;
    }
    up->is_idle = true;
    up->idle_deadline_ms = idle_timeout_ms > 0 ? uv_now(up->pool->loop) + idle_timeout_ms : 0;
    if (up->idle_deadline_ms != 0) {
        arm(up, up->idle_deadline_ms);
    }

    up->prev_idle = NULL;
    up->next_idle = e->idle;
    if (e->idle != NULL) {
        e->idle->prev_idle = up;
    }
    e->idle = up;
    e->n_idle++;
    up->pool->n_idle++;
}

struct pc_upconn *
pc_pool_take(struct pc_upstream_pool *pool, const struct pc_endpoint *ep, const char *tag)
{
    char buf[512];
    const char *key = make_key(buf, sizeof(buf), ep, tag);
    uint32_t b = hash_name(key) % BUCKETS;
    struct pc_upconn *up;

    for (struct pool_entry *e = pool->buckets[b]; e != NULL; e = e->next) {
        if (strcmp(e->name, key) != 0) {
            continue;
        }
        up = e->idle;
        if (up == NULL) {
            return NULL;
        }
        /* Reads and the timer stay registered; the owner's callbacks and deadline take over
         * once it sets them. */
        unlink_idle(up);
        return up;
    }
    return NULL;
}

size_t
pc_pool_idle_count(const struct pc_upstream_pool *pool)
{
    return pool->n_idle;
}
