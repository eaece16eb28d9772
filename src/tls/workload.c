/*
 * Workload API client: one Unix-socket connection at a time, carrying one HTTP/2 client session
 * (nghttp2) with up to two server-streaming gRPC calls, FetchX509SVID and FetchX509Bundles.
 *
 * Everything runs on the owner's loop. nghttp2 is used in memory mode: bytes libuv reads go to
 * nghttp2_session_mem_recv, and what nghttp2_session_mem_send produces is copied into uv_write
 * requests; nghttp2 and protobuf-c allocate through pc_malloc. Response bytes are reassembled
 * into gRPC messages per call (a 5-byte prefix, then the message; PROTOCOL-HTTP2.md
 * "Length-Prefixed-Message"), decoded by workload_msg.c and handed to the owner as updates.
 *
 * Inside nghttp2 callbacks nothing is torn down: a callback notes the first fault on the
 * connection and returns NGHTTP2_ERR_CALLBACK_FAILURE, and the code that called into nghttp2
 * (on_read, flush) then fails the connection. A connection that fails is closed and freed from
 * its libuv close callback; its session dies with it. The owner may call pc_workload_stop from
 * any callback: the connection is marked closing at once and every later step checks for it.
 *
 * States of the client (wl->state) and the functions that move between them:
 *
 *   DISCONNECTED -> CONNECTING   pc_workload_start -> connect_endpoint
 *   CONNECTING   -> STREAMING    on_connect, once the session and calls are submitted
 *   CONNECTING   -> BACKOFF      on_connect with an error (socket missing, refused) -> fail_conn
 *   STREAMING    -> BACKOFF      any fault on the socket, the session or a call -> fail_conn;
 *                                also a call still without its first response when the
 *                                first-response deadline passes -> on_first_response_late
 *   BACKOFF      -> CONNECTING   on_retry, when the backoff timer fires -> connect_endpoint
 *   any          -> STOPPED      pc_workload_stop; the client is freed once its handles closed
 *
 * A call never outlives its connection: when one call fails, the whole connection is dropped
 * and both calls are made again on a new one. Every response is a complete state (Workload API
 * section 4.3), so nothing is lost by fetching both again, and one path to recovery is simpler
 * to get right than per-stream retries.
 */
#include "tls/workload.h"

#include <sys/types.h>
#include <sys/un.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/log.h"

#define DEFAULT_INITIAL_BACKOFF_MS 100
#define DEFAULT_MAX_BACKOFF_MS     30000
#define DEFAULT_FIRST_RESPONSE_MS  30000
#define READ_BUF_BYTES             16384
/* PROTOCOL-HTTP2.md suggests 8 KiB each for response headers and trailers; one budget covers
 * both, counted as HTTP/2 does (name + value + 32 per field). */
#define MAX_HEADER_BYTES           16384
#define MAX_WRITE_BACKLOG_BYTES    (1u << 20)
#define STREAM_WINDOW_BYTES        (1u << 20)
#define CONN_WINDOW_BYTES          (2u << 20)
#define GRPC_PREFIX_BYTES          5
#define GRPC_MESSAGE_LOG_BYTES     128
#define N_CALLS                    2

/* gRPC status codes (grpc doc/statuscodes.md) that change what the client does. */
#define GRPC_OK                0
#define GRPC_INVALID_ARGUMENT  3
#define GRPC_PERMISSION_DENIED 7
#define GRPC_UNIMPLEMENTED     12
#define GRPC_UNAVAILABLE       14
#define GRPC_UNAUTHENTICATED   16
#define GRPC_STATUS_NONE       (-1) /* no grpc-status header yet */
#define GRPC_STATUS_BAD        (-2) /* a grpc-status header that is not a number */

enum wl_state {
    WL_DISCONNECTED = 0,
    WL_CONNECTING,
    WL_STREAMING,
    WL_BACKOFF,
    WL_STOPPED,
};

/* A fault as the log reports it: the owner's view plus what only the log shows. */
struct wl_fault {
    struct pc_workload_failure pub;
    uint32_t h2_error;                    /* HTTP/2 error code of a reset or GOAWAY, else 0 */
    char message[GRPC_MESSAGE_LOG_BYTES]; /* grpc-message, or nghttp2's or our own words */
};

/* One server-streaming call on the current connection. */
struct wl_call {
    enum pc_workload_feed feed;
    const char *path; /* NULL: the owner did not ask for this feed */
    int http_status;
    int grpc_status;  /* GRPC_STATUS_NONE until a header carries it */
    bool is_grpc;     /* content-type is application/grpc[+proto] */
    bool has_ended;   /* END_STREAM seen and judged */
    bool has_message; /* at least one response delivered */
    size_t header_bytes;
    size_t request_sent; /* bytes of the request body given to nghttp2 */
    char grpc_message[GRPC_MESSAGE_LOG_BYTES];
    unsigned char prefix[GRPC_PREFIX_BYTES];
    size_t prefix_len;
    unsigned char *msg; /* the message being reassembled, once the prefix is whole */
    size_t msg_len;
    size_t msg_got;
};

struct wl_conn {
    uv_pipe_t pipe;
    uv_connect_t connect_req;
    struct pc_workload *wl;
    nghttp2_session *session;
    struct wl_call calls[N_CALLS];
    struct wl_fault fault; /* the first fault noted inside nghttp2 callbacks */
    bool has_fault;
    bool is_closing;
    unsigned char read_buf[READ_BUF_BYTES];
};

struct write_req {
    uv_write_t req;
    struct wl_conn *conn;
    unsigned char data[];
};

struct pc_workload {
    uv_loop_t *loop;
    uv_timer_t timer;
    enum wl_state state;
    struct wl_conn *conn; /* the current connection; NULL in BACKOFF and STOPPED */
    size_t n_conns;       /* the current one plus those still closing */
    bool is_timer_closed;
    uint32_t first_response_ms;
    pc_workload_svids_fn on_svids;
    pc_workload_bundles_fn on_bundles;
    pc_workload_failure_fn on_failure;
    void *owner;
    struct pc_workload_backoff backoff;
    struct pc_log_limit log_limit;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int connect_endpoint(struct pc_workload *wl);

static const char *const feed_names[] = { "connection", "svids", "bundles" };

const char *
pc_workload_reason_name(enum pc_workload_reason reason)
{
    switch (reason) {
    case PC_WORKLOAD_UNAVAILABLE:
        return "unavailable";
    case PC_WORKLOAD_BAD_RESPONSE:
        return "bad_response";
    case PC_WORKLOAD_DENIED:
        return "denied";
    case PC_WORKLOAD_REJECTED:
        return "rejected";
    }
    return "unknown";
}

/* ---- backoff ---- */

void
pc_workload_backoff_init(struct pc_workload_backoff *b, uint32_t initial_ms, uint32_t max_ms,
                         uint64_t seed)
{
    b->initial_ms = initial_ms != 0 ? initial_ms : DEFAULT_INITIAL_BACKOFF_MS;
    b->max_ms = max_ms != 0 ? max_ms : DEFAULT_MAX_BACKOFF_MS;
    if (b->max_ms < b->initial_ms) {
        b->max_ms = b->initial_ms;
    }
    b->attempt = 0;
    /* xorshift never leaves 0, so 0 is no seed. */
    b->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15u;
}

uint32_t
pc_workload_backoff_next(struct pc_workload_backoff *b)
{
    uint64_t ceiling = b->initial_ms;

    for (uint32_t i = 0; i < b->attempt && ceiling < b->max_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > b->max_ms) {
        ceiling = b->max_ms;
    }

    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    if (b->attempt < UINT32_MAX) {
        b->attempt++;
    }

    uint64_t half = ceiling / 2;

    return (uint32_t)(ceiling - half + b->rng % (half + 1));
}

void
pc_workload_backoff_reset(struct pc_workload_backoff *b)
{
    b->attempt = 0;
}

/* ---- endpoint ---- */

int
pc_workload_parse_endpoint(const char *uri, char *path, size_t size)
{
    const char *p;

    /* URI schemes are case-insensitive (RFC 3986 section 3.1). */
    if (strncasecmp(uri, "tcp:", 4) == 0) {
        /* TODO: tcp: Workload Endpoints are not supported; such an endpoint is refused at start. */
        return PC_ENOTSUP;
    }
    if (strncasecmp(uri, "unix:", 5) != 0) {
        return PC_EINVAL;
    }

    /* Workload Endpoint section 4: no authority, an absolute path, nothing else. "unix:///p"
     * has an empty authority; "unix:/p" has none. */
    p = uri + 5;
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        if (*p != '/') {
            return PC_EINVAL;
        }
    }
    if (*p != '/') {
        return PC_EINVAL;
    }
    /* TODO: percent-encoded socket paths are not decoded; a path holding '%' is refused. */
    if (strpbrk(p, "?#%") != NULL) {
        return PC_EINVAL;
    }

    size_t n = strlen(p);

    if (n >= size || n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        return PC_ERANGE;
    }
    memcpy(path, p, n + 1);
    return 0;
}

/* ---- faults, retries, teardown ---- */

static struct wl_fault
make_fault(enum pc_workload_reason reason, enum pc_workload_feed feed, const char *detail, int code)
{
    struct wl_fault fault = {
        .pub = { .reason = reason, .feed = feed, .detail = detail, .code = code, .grpc_status = -1 }
    };

    return fault;
}

/*
 * Records the first fault seen inside nghttp2 callbacks and returns what makes nghttp2 stop
 * processing. Later faults are consequences of the first and are dropped.
 */
static int
note_fault(struct wl_conn *conn, const struct wl_fault *fault)
{
    if (!conn->has_fault) {
        conn->fault = *fault;
        conn->has_fault = true;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static void
maybe_free_client(struct pc_workload *wl)
{
    if (wl->state == WL_STOPPED && wl->n_conns == 0 && wl->is_timer_closed) {
        pc_free(wl);
    }
}

static void
release_message(struct wl_call *call)
{
    if (call->msg != NULL) {
        /* An SVID message carries private keys. */
        OPENSSL_cleanse(call->msg, call->msg_len);
        pc_free(call->msg);
    }
    call->msg = NULL;
    call->msg_len = 0;
    call->msg_got = 0;
    call->prefix_len = 0;
}

static void
on_pipe_closed(uv_handle_t *handle)
{
    struct wl_conn *conn = handle->data;
    struct pc_workload *wl = conn->wl;

    for (size_t i = 0; i < N_CALLS; i++) {
        release_message(&conn->calls[i]);
    }
    nghttp2_session_del(conn->session);
    pc_free(conn);
    wl->n_conns--;
    maybe_free_client(wl);
}

static void
on_timer_closed(uv_handle_t *handle)
{
    struct pc_workload *wl = handle->data;

    wl->is_timer_closed = true;
    maybe_free_client(wl);
}

static void
close_conn(struct wl_conn *conn)
{
    if (conn->is_closing) {
        return;
    }
    conn->is_closing = true;
    if (conn->wl->conn == conn) {
        conn->wl->conn = NULL;
    }
    uv_close((uv_handle_t *)&conn->pipe, on_pipe_closed);
}

static void
log_fault(struct pc_workload *wl, const struct wl_fault *fault)
{
    const struct pc_workload_failure *f = &fault->pub;
    /* An endpoint that answers but refuses us needs an operator; the rest heals by itself. */
    enum pc_log_level level = f->reason == PC_WORKLOAD_REJECTED ? PC_LOG_ERROR : PC_LOG_WARN;

    /* Backoff already spaces attempts; the limit also caps a flapping endpoint's noise. */
    if (!pc_log_limit_allow(&wl->log_limit)) {
        return;
    }
    pc_log(
        level, "workload", "fetch_failed",
        "reason=%s feed=%s detail=%s error=\"%s\" grpc_status=%d message=\"%s\" h2_error=%u attempt=%u retry_ms=%u",
        pc_workload_reason_name(f->reason), feed_names[f->feed], f->detail,
        f->code != 0 ? pc_strerror(f->code) : "none", f->grpc_status, fault->message,
        fault->h2_error, f->attempt, f->retry_ms);
}

static void on_retry(uv_timer_t *timer);

/* Arms the backoff timer, then tells the log and the owner (who may stop us from there). */
static void
schedule_retry(struct pc_workload *wl, struct wl_fault *fault)
{
    uint32_t delay = pc_workload_backoff_next(&wl->backoff);

    if (fault->pub.reason == PC_WORKLOAD_REJECTED) {
        /* Endpoint section 6: do not retry these; we only keep one slow attempt going. */
        delay = wl->backoff.max_ms;
    }
    fault->pub.attempt = wl->backoff.attempt;
    fault->pub.retry_ms = delay;
    wl->state = WL_BACKOFF;
    uv_timer_start(&wl->timer, on_retry, delay, 0);

    log_fault(wl, fault);
    if (wl->on_failure != NULL) {
        wl->on_failure(wl->owner, &fault->pub);
    }
}

static void
on_retry(uv_timer_t *timer)
{
    struct pc_workload *wl = timer->data;

    if (wl->state != WL_BACKOFF) {
        return;
    }
    if (connect_endpoint(wl) != 0) {
        struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION,
                                           "out_of_memory", PC_ENOMEM);

        schedule_retry(wl, &fault);
    }
}

/* Drops the connection (freed once libuv has closed it) and schedules the next attempt. */
static void
fail_conn(struct wl_conn *conn, const struct wl_fault *fault)
{
    struct pc_workload *wl = conn->wl;
    struct wl_fault copy = *fault;

    close_conn(conn);
    schedule_retry(wl, &copy);
}

/*
 * Called after every call into nghttp2: fails the connection when a callback noted a fault or
 * nghttp2 returned an error. Returns true when the connection is no longer usable.
 */
static bool
settle(struct wl_conn *conn, ssize_t rv)
{
    if (conn->is_closing) {
        return true;
    }
    if (conn->has_fault) {
        fail_conn(conn, &conn->fault);
        return true;
    }
    if (rv >= 0) {
        return false;
    }

    struct wl_fault fault;

    if (rv == NGHTTP2_ERR_NOMEM) {
        fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION, "out_of_memory",
                           PC_ENOMEM);
    } else {
        fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, PC_WORKLOAD_FEED_CONNECTION, "http2_error",
                           PC_EPARSE);
        snprintf(fault.message, sizeof(fault.message), "%s", nghttp2_strerror((int)rv));
    }
    fail_conn(conn, &fault);
    return true;
}

/* ---- writing ---- */

static void
on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct wl_conn *conn = w->conn;

    pc_free(w);
    if (status < 0 && !conn->is_closing) {
        struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION,
                                           "write_failed", status);

        fail_conn(conn, &fault);
    }
}

static int
queue_write(struct wl_conn *conn, const uint8_t *data, size_t len)
{
    /* A peer that stops reading must not make us queue without end (PING floods, say). */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->pipe) > MAX_WRITE_BACKLOG_BYTES) {
        return PC_ELIMIT;
    }

    struct write_req *w = pc_malloc(sizeof(*w) + len);

    if (w == NULL) {
        return PC_ENOMEM;
    }
    w->conn = conn;
    memcpy(w->data, data, len);

    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned int)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->pipe, &buf, 1, on_write);

    if (rc != 0) {
        pc_free(w);
    }
    return rc;
}

/* Sends whatever nghttp2 has queued: request frames, SETTINGS and PING acks, window updates. */
static void
flush(struct wl_conn *conn)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);

        if (settle(conn, n)) {
            return;
        }
        if (n == 0) {
            break;
        }

        int rc = queue_write(conn, data, (size_t)n);

        if (rc != 0) {
            struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION,
                                               "write_failed", rc);

            fail_conn(conn, &fault);
            return;
        }
    }

    /* nghttp2 ends a session by itself after a connection error it detected in our peer's
     * frames: it sends GOAWAY and wants nothing more. */
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) {
        struct wl_fault fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, PC_WORKLOAD_FEED_CONNECTION,
                                           "http2_error", PC_EPARSE);

        fail_conn(conn, &fault);
    }
}

/* ---- one call: headers, trailers, messages ---- */

static int
parse_grpc_status(const uint8_t *value, size_t len)
{
    int status = 0;

    if (len == 0 || len > 3) {
        return GRPC_STATUS_BAD;
    }
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return GRPC_STATUS_BAD;
        }
        status = status * 10 + (value[i] - '0');
    }
    return status;
}

/* Returns the three-digit :status, or 0 for anything else (which then fails the call). */
static int
parse_http_status(const uint8_t *value, size_t len)
{
    int status = 0;

    if (len != 3) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return 0;
        }
        status = status * 10 + (value[i] - '0');
    }
    return status;
}

/* Keeps grpc-message for the log: printable ASCII, still percent-encoded (which
 * PROTOCOL-HTTP2.md allows a client to show), without the quotes and backslashes that would
 * break a key="value" field. */
static void
copy_log_text(char *dst, size_t size, const uint8_t *value, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;

    for (size_t i = 0; i < n; i++) {
        uint8_t c = value[i];

        dst[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '_';
    }
    dst[n] = '\0';
}

static bool
is_name(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* "application/grpc", alone or with a "+proto" or ";..." suffix (PROTOCOL-HTTP2.md). */
static bool
is_grpc_content_type(const uint8_t *value, size_t len)
{
    static const char type[] = "application/grpc";
    size_t n = sizeof(type) - 1;

    if (len < n || memcmp(value, type, n) != 0) {
        return false;
    }
    return len == n || value[n] == '+' || value[n] == ';';
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
          size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags, void *user_data)
{
    struct wl_conn *conn = user_data;
    struct wl_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);

    if (conn->is_closing || call == NULL) {
        return conn->is_closing ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    }

    call->header_bytes += name_len + value_len + 32;
    if (call->header_bytes > MAX_HEADER_BYTES) {
        struct wl_fault fault =
            make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, "headers_too_large", PC_ELIMIT);

        return note_fault(conn, &fault);
    }

    if (is_name(name, name_len, ":status")) {
        call->http_status = parse_http_status(value, value_len);
    } else if (is_name(name, name_len, "content-type")) {
        call->is_grpc = is_grpc_content_type(value, value_len);
    } else if (is_name(name, name_len, "grpc-status")) {
        call->grpc_status = parse_grpc_status(value, value_len);
    } else if (is_name(name, name_len, "grpc-message")) {
        copy_log_text(call->grpc_message, sizeof(call->grpc_message), value, value_len);
    }
    return 0;
}

/* Maps a gRPC status the endpoint ended a call with to what the client does about it. */
static enum pc_workload_reason
classify_status(int status)
{
    switch (status) {
    case GRPC_PERMISSION_DENIED:
    case GRPC_UNAUTHENTICATED:
        return PC_WORKLOAD_DENIED;
    case GRPC_INVALID_ARGUMENT:
    case GRPC_UNIMPLEMENTED:
    case 5:  /* NOT_FOUND */
    case 6:  /* ALREADY_EXISTS */
    case 9:  /* FAILED_PRECONDITION */
    case 11: /* OUT_OF_RANGE */
    case 15: /* DATA_LOSS */
        return PC_WORKLOAD_REJECTED;
    case GRPC_UNAVAILABLE:
    default:
        /* And CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL: a
         * server going away or overloaded; retrying is right (Endpoint section 6). */
        return PC_WORKLOAD_UNAVAILABLE;
    }
}

/*
 * The stream ended. A watch stream is meant to stay open (Workload API section 4.2), so any end
 * is a fault: with status OK it is a clean end and we reconnect, otherwise the status decides.
 */
static int
end_call(struct wl_conn *conn, struct wl_call *call)
{
    struct wl_fault fault;

    call->has_ended = true;
    if (call->prefix_len > 0) {
        fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, "truncated_message", PC_EPARSE);
    } else if (call->grpc_status == GRPC_STATUS_NONE) {
        fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, "missing_grpc_status", PC_EPARSE);
    } else if (call->grpc_status == GRPC_STATUS_BAD) {
        fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, "bad_grpc_status", PC_EPARSE);
    } else if (call->grpc_status == GRPC_OK) {
        fault = make_fault(PC_WORKLOAD_UNAVAILABLE, call->feed, "stream_ended", 0);
    } else {
        fault = make_fault(classify_status(call->grpc_status), call->feed, "grpc_status", 0);
    }
    fault.pub.grpc_status = call->grpc_status >= 0 ? call->grpc_status : -1;
    memcpy(fault.message, call->grpc_message, sizeof(fault.message));
    return note_fault(conn, &fault);
}

/* The first HEADERS of a response (or a Trailers-Only response) must be a gRPC answer. */
static int
check_response_head(struct wl_conn *conn, struct wl_call *call)
{
    const char *detail = NULL;

    if (call->http_status != 200) {
        detail = "http_status";
    } else if (!call->is_grpc) {
        detail = "content_type";
    }
    if (detail == NULL) {
        return 0;
    }

    struct wl_fault fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, detail, PC_EPARSE);

    snprintf(fault.message, sizeof(fault.message), "http_status=%d", call->http_status);
    return note_fault(conn, &fault);
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct wl_conn *conn = user_data;

    if (conn->is_closing) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        /* PROTOCOL-HTTP2.md "GOAWAY Frame": the server is going; every response is complete
         * state, so reconnecting now loses nothing and avoids waiting on a draining server. */
        struct wl_fault fault =
            make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION, "goaway", 0);

        fault.h2_error = frame->goaway.error_code;
        return note_fault(conn, &fault);
    }

    struct wl_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);

    if (call == NULL || (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)) {
        return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        int rv = check_response_head(conn, call);

        if (rv != 0) {
            return rv;
        }
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
        return end_call(conn, call);
    }
    return 0;
}

/*
 * An answer on the connection: the backoff starts over, and once every call has answered, the
 * first-response deadline is lifted.
 */
static void
note_answered(struct wl_conn *conn, struct wl_call *call)
{
    struct pc_workload *wl = conn->wl;

    call->has_message = true;
    pc_workload_backoff_reset(&wl->backoff);
    for (size_t i = 0; i < N_CALLS; i++) {
        if (conn->calls[i].path != NULL && !conn->calls[i].has_message) {
            return;
        }
    }
    uv_timer_stop(&wl->timer);
}

/*
 * Workload API section 4.3: the first response MUST be sent without delay. An endpoint that
 * accepts the calls but stays silent (hung, or stuck starting) would otherwise leave the owner
 * believing the feed is live; past the deadline the connection is failed and made again.
 */
static void
on_first_response_late(uv_timer_t *timer)
{
    struct pc_workload *wl = timer->data;

    if (wl->state != WL_STREAMING || wl->conn == NULL) {
        return;
    }

    struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION,
                                       "first_response_timeout", PC_ETIMEDOUT);

    fail_conn(wl->conn, &fault);
}

static int
deliver_svids(struct wl_conn *conn, struct wl_call *call)
{
    struct pc_workload *wl = conn->wl;
    struct pc_workload_svids *update = NULL;
    const char *detail = NULL;
    int rc = pc_workload_decode_svids(call->msg, call->msg_len, &update, &detail);

    release_message(call);
    if (rc != 0) {
        enum pc_workload_reason reason =
            rc == PC_ENOMEM ? PC_WORKLOAD_UNAVAILABLE : PC_WORKLOAD_BAD_RESPONSE;
        struct wl_fault fault = make_fault(reason, call->feed, detail, rc);

        return note_fault(conn, &fault);
    }

    note_answered(conn, call);
    pc_log(PC_LOG_INFO, "workload", "svids_updated",
           "svids=%zu federated=%zu crls=%zu spiffe_id=%s", update->n_svids, update->n_federated,
           update->n_crls, update->svids[0].spiffe_id);
    wl->on_svids(wl->owner, update);
    return 0;
}

static int
deliver_bundles(struct wl_conn *conn, struct wl_call *call)
{
    struct pc_workload *wl = conn->wl;
    struct pc_workload_bundles *update = NULL;
    const char *detail = NULL;
    int rc = pc_workload_decode_bundles(call->msg, call->msg_len, &update, &detail);

    release_message(call);
    if (rc != 0) {
        enum pc_workload_reason reason =
            rc == PC_ENOMEM ? PC_WORKLOAD_UNAVAILABLE : PC_WORKLOAD_BAD_RESPONSE;
        struct wl_fault fault = make_fault(reason, call->feed, detail, rc);

        return note_fault(conn, &fault);
    }

    note_answered(conn, call);
    pc_log(PC_LOG_INFO, "workload", "bundles_updated", "bundles=%zu crls=%zu", update->n_bundles,
           update->n_crls);
    wl->on_bundles(wl->owner, update);
    return 0;
}

/* The 5-byte prefix is whole: check it and make room for the message. */
static int
start_message(struct wl_conn *conn, struct wl_call *call)
{
    const char *detail = NULL;
    int code = PC_EPARSE;

    call->msg_len = (size_t)call->prefix[1] << 24 | (size_t)call->prefix[2] << 16
                    | (size_t)call->prefix[3] << 8 | (size_t)call->prefix[4];
    if (call->prefix[0] != 0) {
        /* We offer only identity (grpc-accept-encoding), so the flag must be 0. */
        detail = "compressed_message";
    } else if (call->msg_len > PC_WORKLOAD_MAX_MSG_BYTES) {
        detail = "message_too_large";
        code = PC_ELIMIT;
    } else {
        call->msg = pc_malloc(call->msg_len);
        if (call->msg != NULL) {
            return 0;
        }
        struct wl_fault fault =
            make_fault(PC_WORKLOAD_UNAVAILABLE, call->feed, "out_of_memory", PC_ENOMEM);

        return note_fault(conn, &fault);
    }
    call->msg_len = 0;

    struct wl_fault fault = make_fault(PC_WORKLOAD_BAD_RESPONSE, call->feed, detail, code);

    return note_fault(conn, &fault);
}

/* Takes bytes for the prefix or the message; *used says how many. */
static int
take_bytes(struct wl_conn *conn, struct wl_call *call, const uint8_t *data, size_t len,
           size_t *used)
{
    if (call->prefix_len < GRPC_PREFIX_BYTES) {
        size_t n = GRPC_PREFIX_BYTES - call->prefix_len;

        n = n < len ? n : len;
        memcpy(call->prefix + call->prefix_len, data, n);
        call->prefix_len += n;
        *used = n;
        return call->prefix_len == GRPC_PREFIX_BYTES ? start_message(conn, call) : 0;
    }

    size_t n = call->msg_len - call->msg_got;

    n = n < len ? n : len;
    memcpy(call->msg + call->msg_got, data, n);
    call->msg_got += n;
    *used = n;
    return 0;
}

/* DATA frame boundaries have nothing to do with message boundaries (PROTOCOL-HTTP2.md). */
static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
              size_t len, void *user_data)
{
    struct wl_conn *conn = user_data;
    struct wl_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

    if (conn->is_closing) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    while (call != NULL && len > 0) {
        size_t used = 0;
        int rv = take_bytes(conn, call, data, len, &used);

        if (rv != 0) {
            return rv;
        }
        data += used;
        len -= used;
        if (call->prefix_len < GRPC_PREFIX_BYTES || call->msg_got < call->msg_len) {
            continue;
        }

        rv = call->feed == PC_WORKLOAD_FEED_SVIDS ? deliver_svids(conn, call)
                                                  : deliver_bundles(conn, call);
        /* The owner may have stopped the client from its callback. */
        if (rv != 0 || conn->is_closing) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
    }
    return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    struct wl_conn *conn = user_data;
    struct wl_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

    if (conn->is_closing || call == NULL || call->has_ended) {
        return 0;
    }

    /* Closed without trailers: RST_STREAM (PROTOCOL-HTTP2.md "Errors"). REFUSED_STREAM means
     * UNAVAILABLE there; the other codes mean INTERNAL, which we also retry. */
    struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, call->feed, "stream_reset", 0);

    call->has_ended = true;
    fault.h2_error = error_code;
    return note_fault(conn, &fault);
}

/* ---- the session ---- */

/* The request messages have no fields, so each body is one prefix: not compressed, length 0. */
static ssize_t
on_request_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t len,
                uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    static const uint8_t empty_message[GRPC_PREFIX_BYTES] = { 0 };
    struct wl_call *call = source->ptr;
    size_t n = GRPC_PREFIX_BYTES - call->request_sent;

    n = n < len ? n : len;
    memcpy(buf, empty_message + call->request_sent, n);
    call->request_sent += n;
    if (call->request_sent == GRPC_PREFIX_BYTES) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

static nghttp2_nv
header(const char *name, const char *value)
{
    return (nghttp2_nv){ .name = (uint8_t *)name,
                         .value = (uint8_t *)value,
                         .namelen = strlen(name),
                         .valuelen = strlen(value),
                         .flags = NGHTTP2_NV_FLAG_NONE };
}

static int
submit_call(struct wl_conn *conn, struct wl_call *call)
{
    /* PROTOCOL-HTTP2.md "Requests": pseudo-headers first, then the call definition, then our
     * metadata. Workload Endpoint section 3 requires workload.spiffe.io: true on every call
     * (an SSRF guard); an endpoint answers INVALID_ARGUMENT without it. */
    const nghttp2_nv headers[] = {
        header(":method", "POST"),
        header(":scheme", "http"),
        header(":path", call->path),
        header(":authority", "localhost"),
        header("te", "trailers"),
        header("content-type", "application/grpc"),
        header("grpc-accept-encoding", "identity"),
        header("user-agent", "portcullis"),
        header("workload.spiffe.io", "true"),
    };
    nghttp2_data_provider body = { .source.ptr = call, .read_callback = on_request_body };
    int32_t id = nghttp2_submit_request(conn->session, NULL, headers,
                                        sizeof(headers) / sizeof(headers[0]), &body, call);

    if (id < 0) {
        return id == NGHTTP2_ERR_NOMEM ? PC_ENOMEM : PC_EIO;
    }
    return 0;
}

static void *
h2_malloc(size_t n, void *data)
{
    return pc_malloc(n);
}

static void
h2_free(void *p, void *data)
{
    pc_free(p);
}

static void *
h2_calloc(size_t count, size_t n, void *data)
{
    return pc_calloc(count, n);
}

static void *
h2_realloc(void *p, size_t n, void *data)
{
    return pc_realloc(p, n);
}

static int
new_session(struct wl_conn *conn)
{
    nghttp2_session_callbacks *callbacks = NULL;
    nghttp2_mem mem = {
        .malloc = h2_malloc, .free = h2_free, .calloc = h2_calloc, .realloc = h2_realloc
    };
    int rc = PC_ENOMEM;

    if (nghttp2_session_callbacks_new(&callbacks) != 0) {
        return PC_ENOMEM;
    }
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);

    /* nghttp2 copies mem into the session. */
    if (nghttp2_session_client_new3(&conn->session, callbacks, conn, NULL, &mem) == 0) {
        rc = 0;
    }
    nghttp2_session_callbacks_del(callbacks);
    return rc;
}

/* Sends the connection preface settings and both requests (nothing leaves before flush). */
static int
open_session(struct wl_conn *conn)
{
    /* No server push; windows large enough that a 4 MiB response needs few round trips; the
     * header budget announced as we enforce it. */
    const nghttp2_settings_entry settings[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW_BYTES },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES },
    };
    int rc = new_session(conn);

    if (rc != 0) {
        return rc;
    }
    if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings,
                                sizeof(settings) / sizeof(settings[0]))
            != 0
        || nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                                 CONN_WINDOW_BYTES)
               != 0) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < N_CALLS; i++) {
        if (conn->calls[i].path == NULL) {
            continue;
        }
        rc = submit_call(conn, &conn->calls[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- the socket ---- */

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct wl_conn *conn = handle->data;

    *buf = uv_buf_init((char *)conn->read_buf, sizeof(conn->read_buf));
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct wl_conn *conn = stream->data;

    if (conn->is_closing || nread == 0) {
        return;
    }
    if (nread < 0) {
        const char *detail = nread == UV_EOF ? "connection_closed" : "read_failed";
        struct wl_fault fault = make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION,
                                           detail, nread == UV_EOF ? 0 : (int)nread);

        fail_conn(conn, &fault);
        return;
    }

    ssize_t rv = nghttp2_session_mem_recv(conn->session, (const uint8_t *)buf->base, (size_t)nread);

    /* SVID responses carry private keys; nghttp2 hands DATA to us in place, so this buffer was
     * the only other copy. */
    OPENSSL_cleanse(buf->base, (size_t)nread);
    if (settle(conn, rv)) {
        return;
    }
    flush(conn);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct wl_conn *conn = req->data;
    struct pc_workload *wl = conn->wl;

    /* A connection closed while connecting reports UV_ECANCELED here; nothing is left to do. */
    if (conn->is_closing) {
        return;
    }

    const char *detail = "connect_failed";
    int rc = status;

    if (rc == 0) {
        detail = "out_of_memory";
        rc = open_session(conn);
    }
    if (rc == 0) {
        detail = "read_failed";
        rc = uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read);
    }
    if (rc != 0) {
        struct wl_fault fault =
            make_fault(PC_WORKLOAD_UNAVAILABLE, PC_WORKLOAD_FEED_CONNECTION, detail, rc);

        fail_conn(conn, &fault);
        return;
    }

    wl->state = WL_STREAMING;
    /* The timer is idle while streaming (it only paces reconnects), so it keeps the deadline. */
    uv_timer_start(&wl->timer, on_first_response_late, wl->first_response_ms, 0);
    pc_log(PC_LOG_INFO, "workload", "connected", "path=%s", wl->path);
    flush(conn);
}

static void
init_call(struct wl_call *call, enum pc_workload_feed feed, const char *path)
{
    call->feed = feed;
    call->path = path;
    call->grpc_status = GRPC_STATUS_NONE;
}

/* Opens a new connection; its outcome arrives in on_connect. Returns 0 or PC_ENOMEM. */
static int
connect_endpoint(struct pc_workload *wl)
{
    struct wl_conn *conn = pc_calloc(1, sizeof(*conn));

    if (conn == NULL) {
        return PC_ENOMEM;
    }
    conn->wl = wl;
    init_call(&conn->calls[0], PC_WORKLOAD_FEED_SVIDS,
              wl->on_svids != NULL ? "/SpiffeWorkloadAPI/FetchX509SVID" : NULL);
    init_call(&conn->calls[1], PC_WORKLOAD_FEED_BUNDLES,
              wl->on_bundles != NULL ? "/SpiffeWorkloadAPI/FetchX509Bundles" : NULL);

    /* uv_pipe_init cannot fail on Unix; uv_pipe_connect reports every error to on_connect. */
    uv_pipe_init(wl->loop, &conn->pipe, 0);
    conn->pipe.data = conn;
    conn->connect_req.data = conn;
    wl->conn = conn;
    wl->n_conns++;
    wl->state = WL_CONNECTING;
    uv_pipe_connect(&conn->connect_req, &conn->pipe, wl->path, on_connect);
    return 0;
}

/* ---- lifecycle ---- */

static int
endpoint_error(struct pc_err *err, int rc, const char *endpoint)
{
    switch (rc) {
    case PC_ENOTSUP:
        return pc_err_set(err, rc, "SPIFFE endpoint \"%s\": tcp is not supported; use unix:///path",
                          endpoint);
    case PC_ERANGE:
        return pc_err_set(err, rc, "SPIFFE endpoint \"%s\": socket path too long", endpoint);
    default:
        return pc_err_set(err, rc, "SPIFFE endpoint \"%s\": expected unix:///absolute/path",
                          endpoint);
    }
}

struct pc_workload *
pc_workload_start(uv_loop_t *loop, const struct pc_workload_cfg *cfg, struct pc_err *err)
{
    const char *endpoint = cfg->endpoint != NULL ? cfg->endpoint : getenv("SPIFFE_ENDPOINT_SOCKET");
    struct pc_workload *wl = NULL;
    int rc;

    if (cfg->on_svids == NULL && cfg->on_bundles == NULL) {
        pc_err_set(err, PC_EINVAL, "SPIFFE Workload API: neither SVIDs nor bundles asked for");
        return NULL;
    }
    if (endpoint == NULL || endpoint[0] == '\0') {
        pc_err_set(err, PC_EINVAL, "SPIFFE Workload API: no endpoint; set SPIFFE_ENDPOINT_SOCKET");
        return NULL;
    }
    wl = pc_calloc(1, sizeof(*wl));
    if (wl == NULL) {
        pc_err_set(err, PC_ENOMEM, "SPIFFE Workload API: out of memory");
        return NULL;
    }
    rc = pc_workload_parse_endpoint(endpoint, wl->path, sizeof(wl->path));
    if (rc != 0) {
        endpoint_error(err, rc, endpoint);
        goto fail_free_client;
    }

    wl->loop = loop;
    wl->on_svids = cfg->on_svids;
    wl->on_bundles = cfg->on_bundles;
    wl->on_failure = cfg->on_failure;
    wl->owner = cfg->owner;
    wl->first_response_ms = cfg->first_response_timeout_ms != 0 ? cfg->first_response_timeout_ms
                                                                : DEFAULT_FIRST_RESPONSE_MS;
    wl->log_limit.burst = 10;
    wl->log_limit.interval_ms = 60000;
    /* Seeded per process and client, so restarted gateways spread their reconnects. */
    pc_workload_backoff_init(&wl->backoff, cfg->initial_backoff_ms, cfg->max_backoff_ms,
                             uv_hrtime() ^ (uint64_t)(uintptr_t)wl);

    rc = connect_endpoint(wl);
    if (rc != 0) {
        pc_err_set(err, rc, "SPIFFE Workload API: out of memory");
        goto fail_free_client;
    }
    uv_timer_init(loop, &wl->timer);
    wl->timer.data = wl;
    return wl;

fail_free_client:
    pc_free(wl);
    return NULL;
}

void
pc_workload_stop(struct pc_workload *wl)
{
    if (wl == NULL || wl->state == WL_STOPPED) {
        return;
    }
    wl->state = WL_STOPPED;
    if (wl->conn != NULL) {
        close_conn(wl->conn);
    }
    uv_close((uv_handle_t *)&wl->timer, on_timer_closed);
    pc_log(PC_LOG_INFO, "workload", "stopped", "path=%s", wl->path);
}
