/*
 * Admin HTTP endpoints. Each connection carries one request and is closed after the answer:
 * health checkers and Prometheus cope, and the code stays small. Requests are parsed with the
 * same strict HTTP/1.1 parser as client traffic, with small limits.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/log.h"
#include "http/h1.h"
#include "observe/metrics.h"

#define ADMIN_READ_BYTES 4096
#define ADMIN_TIMEOUT_MS 10000

struct pc_admin {
    uv_tcp_t tcp;
    uv_loop_t *loop;
    struct pc_metrics *metrics;
    pc_admin_ready_fn is_ready;
    void *data;
    struct admin_conn *conns;
    bool is_stopped;
};

struct admin_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    struct pc_h1_parser parser;
    struct pc_admin *admin;
    struct pc_arena *arena;
    struct pc_h1_head *head;
    struct admin_conn *next;
    char *response; /* heap, freed on close */
    uint8_t open_handles;
    bool is_complete;
    bool is_closing;
    char buf[ADMIN_READ_BYTES];
};

static void
on_conn_closed(uv_handle_t *handle)
{
    struct admin_conn *c = handle->data;

    if (--c->open_handles > 0) {
        return;
    }
    pc_free(c->response);
    pc_arena_destroy(c->arena);
    pc_free(c);
}

static void
conn_close(struct admin_conn *c)
{
    struct admin_conn **link = &c->admin->conns;

    if (c->is_closing) {
        return;
    }
    c->is_closing = true;
    while (*link != NULL && *link != c) {
        link = &(*link)->next;
    }
    if (*link == c) {
        *link = c->next;
    }
    c->open_handles = 2;
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void
on_written(uv_write_t *req, int status)
{
    conn_close(req->data);
}

static void
respond(struct admin_conn *c, unsigned status, const char *type, char *body, size_t len)
{
    char head[256];
    int n;
    uv_buf_t bufs[2];

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %u %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                 "connection: close\r\n\r\n",
                 status, pc_h1_reason_phrase(status), type, len);
    c->response = pc_malloc((size_t)n + len);
    if (c->response == NULL) {
        pc_free(body);
        conn_close(c);
        return;
    }
    memcpy(c->response, head, (size_t)n);
    memcpy(c->response + n, body, len);
    pc_free(body);
    bufs[0] = uv_buf_init(c->response, (unsigned)((size_t)n + len));
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, 1, on_written) != 0) {
        conn_close(c);
    }
}

static void
respond_text(struct admin_conn *c, unsigned status, const char *text)
{
    char *body = pc_strdup(text);

    if (body == NULL) {
        conn_close(c);
        return;
    }
    respond(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static void
serve(struct admin_conn *c)
{
    const struct pc_h1_head *h = c->head;
    struct pc_admin *admin = c->admin;
    size_t path_len = h->target_len;
    const char *q = memchr(h->target, '?', h->target_len);

    if (q != NULL) {
        path_len = (size_t)(q - h->target);
    }
    if (h->method_id != HTTP_GET && h->method_id != HTTP_HEAD) {
        respond_text(c, 405, "method not allowed\n");
    } else if (path_len == 8 && memcmp(h->target, "/healthz", 8) == 0) {
        respond_text(c, 200, "ok\n");
    } else if (path_len == 7 && memcmp(h->target, "/readyz", 7) == 0) {
        bool ready = admin->is_ready(admin->data);

        respond_text(c, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
    } else if (path_len == 8 && memcmp(h->target, "/metrics", 8) == 0) {
        char *text = NULL;
        size_t len = 0;

        if (pc_metrics_render(admin->metrics, &text, &len) != 0) {
            respond_text(c, 503, "out of memory\n");
            return;
        }
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    } else {
        respond_text(c, 404, "not found\n");
    }
}

static int
on_head(void *owner, struct pc_h1_head *head)
{
    struct admin_conn *c = owner;

    c->head = head;
    return 0;
}

static int
on_body(void *owner, const char *at, size_t len)
{
    return 0;
}

static void
on_complete(void *owner)
{
    struct admin_conn *c = owner;

    c->is_complete = true;
}

static const struct pc_h1_callbacks callbacks = {
    .on_head = on_head,
    .on_body = on_body,
    .on_complete = on_complete,
};

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct admin_conn *c = handle->data;

    buf->base = c->buf;
    buf->len = sizeof(c->buf);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = stream->data;
    enum pc_h1_result rc;
    size_t consumed;

    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->is_complete) {
        return;
    }
    rc = pc_h1_feed(&c->parser, buf->base, (size_t)nread, &consumed);
    if (rc == PC_H1_PAUSED && !c->is_complete) {
        /* Paused after the head: let the parser see the (empty) rest of the message. */
        pc_h1_resume(&c->parser);
        rc = pc_h1_feed(&c->parser, buf->base + consumed, (size_t)nread - consumed, &consumed);
    }
    if (rc == PC_H1_ERROR) {
        respond_text(c, pc_h1_error_status(&c->parser), "bad request\n");
        uv_read_stop(stream);
        return;
    }
    if (c->is_complete) {
        uv_read_stop(stream);
        uv_timer_stop(&c->timer);
        serve(c);
    }
}

static void
on_timeout(uv_timer_t *timer)
{
    conn_close(timer->data);
}

static void
on_connection(uv_stream_t *server, int status)
{
    static const struct pc_h1_limits limits = { 2048, 8192, 64 };
    struct pc_admin *admin = server->data;
    struct admin_conn *c;

    if (status != 0) {
        return;
    }
    c = pc_calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->arena = pc_arena_create(4096);
    uv_tcp_init(admin->loop, &c->tcp);
    uv_timer_init(admin->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->admin = admin;
    c->next = admin->conns;
    admin->conns = c;
    if (c->arena == NULL || uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    pc_h1_init(&c->parser, PC_H1_REQUEST, &callbacks, c);
    pc_h1_begin(&c->parser, c->arena, &limits);
    uv_timer_start(&c->timer, on_timeout, ADMIN_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
on_admin_closed(uv_handle_t *handle)
{
    pc_free(handle->data);
}

struct pc_admin *
pc_admin_start(uv_loop_t *loop, const struct sockaddr *addr, struct pc_metrics *metrics,
               pc_admin_ready_fn is_ready, void *data)
{
    struct pc_admin *admin = pc_calloc(1, sizeof(*admin));
    int rc;

    if (admin == NULL) {
        return NULL;
    }
    admin->loop = loop;
    admin->metrics = metrics;
    admin->is_ready = is_ready;
    admin->data = data;
    uv_tcp_init(loop, &admin->tcp);
    admin->tcp.data = admin;
    rc = uv_tcp_bind(&admin->tcp, addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&admin->tcp, 128, on_connection);
    }
    if (rc != 0) {
        pc_log(PC_LOG_ERROR, "admin", "listen_failed", "error=\"%s\"", uv_strerror(rc));
        admin->is_stopped = true;
        uv_close((uv_handle_t *)&admin->tcp, on_admin_closed);
        return NULL;
    }
    return admin;
}

void
pc_admin_stop(struct pc_admin *admin)
{
    if (admin == NULL || admin->is_stopped) {
        return;
    }
    admin->is_stopped = true;
    while (admin->conns != NULL) {
        conn_close(admin->conns);
    }
    uv_close((uv_handle_t *)&admin->tcp, on_admin_closed);
}
