/*
 * Outbound HTTP client on a libuv loop, built on libcurl's multi interface in its event-driven
 * ("multi_socket") form: libcurl says which sockets to watch for what (on_curl_socket) and when
 * to call it back without socket activity (on_curl_timer); the loop tells libcurl what happened
 * through curl_multi_socket_action (drive). Everything runs on the instance's loop thread.
 *
 * libcurl is never re-entered from its own callbacks: its timer callback only arms a uv_timer_t
 * (even for a zero timeout), and its socket, header and body callbacks only touch our own
 * state. Owner callbacks run from one place, on_deliver (a uv_idle_t), so a callback can never
 * run inside pc_fetch_start, pc_fetch_cancel, pc_fetch_destroy or a libcurl call, and whatever
 * it does to the instance (start, cancel, destroy) happens between libcurl calls.
 *
 * A transfer's states, each with the list holding it, and the functions that move it:
 *
 *   QUEUED     (f->queued)  pc_fetch_start, when max_transfers are already running
 *   ACTIVE     (f->active)  pc_fetch_start or start_queued -> activate
 *   DONE       (f->done)    push_done, from finish_transfer (libcurl reported it complete),
 *                           pc_fetch_start (the request was refused) or activate (it waited
 *                           past its timeout, or libcurl refused it)
 *   DELIVERING (no list)    on_deliver, while its callback runs; then free_transfer
 *   freed                   pc_fetch_cancel or pc_fetch_destroy from QUEUED, ACTIVE or DONE
 *
 * Sockets. A uv_poll_t watching a descriptor that has been closed is dangerous on a shared loop:
 * when the number is reused (by libcurl or by another module), libuv would modify or delete the
 * epoll registration of the wrong file. libcurl has not always reported CURL_POLL_REMOVE before
 * closing a connection's socket (connections closed from its cache, in some versions), so socket
 * state is kept
 * in our own table keyed by descriptor (never through curl_multi_assign pointers that could
 * dangle), every close goes through on_curl_close_socket (which stops the watcher first), and a
 * new socket with a number still in the table evicts the stale entry (on_curl_sockopt).
 */
#include "core/fetch.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/log.h"

#define MODULE            "fetch"
#define INITIAL_BODY_SIZE 4096
#define MAX_DATE_BYTES    64
#define TARGET_MAX_BYTES  512
#define MAX_AGE_CAP_S     2147483648LL /* RFC 9111 section 1.2.2 */

/* RFC 9325 section 4.2: ECDHE key exchange with AEAD ciphers only, for TLS 1.2; TLS 1.3 offers
 * nothing else. Identity providers are reached over the Internet, so the same bar applies. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

enum transfer_state {
    TRANSFER_QUEUED = 0,
    TRANSFER_ACTIVE,
    TRANSFER_DONE,
    TRANSFER_DELIVERING,
};

/* Why one of our libcurl callbacks stopped a transfer; libcurl itself only says "write error". */
enum transfer_abort {
    ABORT_NONE = 0,
    ABORT_TOO_LARGE,
    ABORT_HEAD_TOO_LARGE,
    ABORT_NO_MEMORY,
};

struct transfer_list {
    struct pc_fetch_transfer *head;
    struct pc_fetch_transfer *tail;
    size_t n;
};

struct pc_fetch_transfer {
    struct pc_fetch *f;
    struct transfer_list *list; /* the list holding it, NULL when none */
    struct pc_fetch_transfer *prev;
    struct pc_fetch_transfer *next;
    enum transfer_state state;
    pc_fetch_fn cb;
    void *data;

    CURL *easy;                /* NULL once finished */
    bool is_added;             /* easy is in f->multi */
    struct curl_slist *fields; /* request header lines, wiped on release */
    char *body;                /* copy of the request body; may hold a client secret */
    size_t body_len;
    char target[TARGET_MAX_BYTES]; /* "https://host:443/path" for logs: no query or userinfo */
    const char *method;            /* static */
    uint64_t start_ns;
    uint32_t timeout_ms;
    size_t max_response_bytes;

    size_t head_bytes;
    enum transfer_abort abort;
    size_t body_size; /* bytes allocated at resp.body */
    char content_type[PC_FETCH_CONTENT_TYPE_SIZE];
    char **keep; /* keep_headers, copied */
    size_t n_keep;
    struct pc_fetch_pair kept[PC_FETCH_MAX_KEPT_HEADERS]; /* values owned, names borrowed */
    size_t n_kept;
    struct pc_fetch_response resp;
    char curl_error[CURL_ERROR_SIZE]; /* libcurl's CURLOPT_ERRORBUFFER */
    char error[2 * CURL_ERROR_SIZE];  /* resp.error */
};

/* One descriptor libcurl asked us to watch. */
struct sock {
    uv_poll_t poll;
    struct pc_fetch *f;
    curl_socket_t fd;
    struct sock *next;
};

struct pc_fetch {
    uv_loop_t *loop;
    CURLM *multi;
    CURLSH *share;
    uv_timer_t timer;   /* libcurl's timeout */
    uv_idle_t deliver;  /* armed while f->done holds transfers */
    struct sock *socks; /* descriptors being watched */
    struct transfer_list queued;
    struct transfer_list active;
    struct transfer_list done;
    uint32_t max_transfers;
    unsigned n_handles; /* libuv handles not yet closed; f is freed at 0 once closing */
    bool is_closing;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = PC_EIO;
static struct pc_log_limit failure_limit = PC_LOG_LIMIT_INIT(20, 10000);

static void on_poll(uv_poll_t *poll, int status, int events);

/* ---- lists ---- */

static void
list_push(struct transfer_list *list, struct pc_fetch_transfer *t)
{
    t->list = list;
    t->prev = list->tail;
    t->next = NULL;
    if (list->tail != NULL) {
        list->tail->next = t;
    } else {
        list->head = t;
    }
    list->tail = t;
    list->n++;
}

static void
list_remove(struct pc_fetch_transfer *t)
{
    struct transfer_list *list = t->list;

    if (list == NULL) {
        return;
    }
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        list->head = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    } else {
        list->tail = t->prev;
    }
    list->n--;
    t->list = NULL;
    t->prev = NULL;
    t->next = NULL;
}

/* ---- pure helpers (public for tests) ---- */

const char *
pc_fetch_result_name(enum pc_fetch_result result)
{
    switch (result) {
    case PC_FETCH_OK:
        return "ok";
    case PC_FETCH_UNREACHABLE:
        return "unreachable";
    case PC_FETCH_BAD_RESPONSE:
        return "bad_response";
    case PC_FETCH_INVALID_REQUEST:
        return "invalid_request";
    case PC_FETCH_INTERNAL:
        return "internal";
    }
    return "unknown";
}

static bool
has_control_or_space(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return true;
        }
    }
    return false;
}

static bool
has_part(CURLU *u, CURLUPart what)
{
    char *part = NULL;
    bool is_set = curl_url_get(u, what, &part, 0) == CURLUE_OK && part[0] != '\0';

    curl_free(part);
    return is_set;
}

/* Parses url with libcurl's URL parser (the one the transfer will use) and applies our rules. */
static int
parse_url(const char *url, CURLU **out)
{
    CURLU *u = NULL;
    char *part = NULL;
    int rc = PC_EINVAL;

    *out = NULL;
    if (url == NULL || strlen(url) > PC_FETCH_MAX_URL_BYTES || has_control_or_space(url)) {
        return PC_EINVAL;
    }
    u = curl_url();
    if (u == NULL) {
        return PC_ENOMEM;
    }
    /* Any scheme parses, so that a foreign one is told apart (PC_ENOTSUP) from a broken URL. */
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &part, 0) != CURLUE_OK) {
        goto out;
    }
    if (strcmp(part, "http") != 0 && strcmp(part, "https") != 0) {
        rc = PC_ENOTSUP;
        goto out;
    }

    /* Credentials in a URL end up in logs and error messages; they belong in username/password. */
    if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD)
        || !has_part(u, CURLUPART_HOST)) {
        goto out;
    }
    rc = 0;
    *out = u;
    u = NULL;

out:
    curl_free(part);
    curl_url_cleanup(u);
    return rc;
}

int
pc_fetch_check_url(const char *url)
{
    CURLU *u = NULL;
    int rc = parse_url(url, &u);

    curl_url_cleanup(u);
    return rc;
}

/* RFC 9110 section 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
pc_fetch_check_header(const char *name, const char *value)
{
    /* Fields that frame or route the message are ours: a caller's copy could desynchronise the
     * message framing (request smuggling) or confuse connection reuse. */
    static const char *const reserved[] = { "host",       "content-length", "transfer-encoding",
                                            "connection", "expect",         "upgrade" };

    if (name == NULL || value == NULL || name[0] == '\0') {
        return PC_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if (!isascii(*p) || !is_tchar(*p)) {
            return PC_EINVAL;
        }
    }
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            return PC_EINVAL;
        }
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcasecmp(name, reserved[i]) == 0) {
            return PC_EINVAL;
        }
    }
    return 0;
}

static bool
is_form_kept(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*'
           || c == '-' || c == '.' || c == '_';
}

/* Writes the form encoding of s at out (when out is not NULL); returns its length either way. */
static size_t
form_escape(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (is_form_kept(*p) || *p == ' ') {
            if (out != NULL) {
                out[n] = *p == ' ' ? '+' : (char)*p;
            }
            n++;
            continue;
        }
        if (out != NULL) {
            out[n] = '%';
            out[n + 1] = hex[*p >> 4];
            out[n + 2] = hex[*p & 0x0f];
        }
        n += 3;
    }
    return n;
}

char *
pc_fetch_form_encode(const struct pc_fetch_pair *fields, size_t n, size_t *len)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++) {
        total +=
            (i > 0) + form_escape(NULL, fields[i].name) + 1 + form_escape(NULL, fields[i].value);
    }

    char *out = pc_malloc(total + 1);
    size_t at = 0;

    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            out[at++] = '&';
        }
        at += form_escape(out + at, fields[i].name);
        out[at++] = '=';
        at += form_escape(out + at, fields[i].value);
    }
    out[at] = '\0';
    *len = at;
    return out;
}

void
pc_fetch_caching_init(struct pc_fetch_caching *caching)
{
    caching->max_age_s = -1;
    caching->date_s = -1;
    caching->expires_s = -1;
    caching->is_no_store = false;
    caching->is_no_cache = false;
}

/* delta-seconds (RFC 9111 section 1.2.2), possibly quoted; -1 when it is not one. */
static int64_t
parse_delta_seconds(const char *s, size_t len)
{
    int64_t v = 0;

    /* Section 5.2: recipients accept the quoted form too. */
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len == 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (v < MAX_AGE_CAP_S) {
            v = v * 10 + (s[i] - '0');
        }
    }
    return v > MAX_AGE_CAP_S ? MAX_AGE_CAP_S : v;
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Applies one directive ("max-age=60", "no-store") of trimmed length len. */
static void
apply_directive(const char *d, size_t len, struct pc_fetch_caching *caching)
{
    const char *eq = memchr(d, '=', len);
    size_t name_len = eq != NULL ? (size_t)(eq - d) : len;

    if (name_len == 7 && strncasecmp(d, "max-age", 7) == 0) {
        if (caching->max_age_s < 0) {
            int64_t v = eq != NULL ? parse_delta_seconds(eq + 1, len - name_len - 1) : -1;

            /* A max-age we cannot read makes the response stale rather than long-lived. */
            caching->max_age_s = v < 0 ? 0 : v;
        }
    } else if (name_len == 8 && strncasecmp(d, "no-store", 8) == 0) {
        caching->is_no_store = true;
    } else if (name_len == 8 && strncasecmp(d, "no-cache", 8) == 0) {
        caching->is_no_cache = true;
    }
}

void
pc_fetch_parse_cache_control(const char *value, size_t len, struct pc_fetch_caching *caching)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i;
        bool is_quoted = false;

        /* A comma inside a quoted argument (no-cache="a, b") does not end the directive. */
        while (i < len && (is_quoted || value[i] != ',')) {
            if (value[i] == '"') {
                is_quoted = !is_quoted;
            } else if (value[i] == '\\' && is_quoted && i + 1 < len) {
                i++;
            }
            i++;
        }

        size_t end = i;

        while (start < end && is_ows(value[start])) {
            start++;
        }
        while (end > start && is_ows(value[end - 1])) {
            end--;
        }
        if (end > start) {
            apply_directive(value + start, end - start, caching);
        }
        i++;
    }
}

int64_t
pc_fetch_parse_http_date(const char *value, size_t len)
{
    char buf[MAX_DATE_BYTES];

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, value, len);
    buf[len] = '\0';

    /* libcurl's parser reads the three HTTP-date forms (and is lenient beyond them, which is
     * harmless for a refresh hint). It returns -1 for anything it cannot read. */
    time_t t = curl_getdate(buf, NULL);

    return t < 0 ? -1 : (int64_t)t;
}

int64_t
pc_fetch_freshness_s(const struct pc_fetch_caching *caching, int64_t received_s)
{
    if (caching->is_no_store || caching->is_no_cache) {
        return 0;
    }
    if (caching->max_age_s >= 0) {
        return caching->max_age_s;
    }
    if (caching->expires_s >= 0) {
        int64_t base = caching->date_s >= 0 ? caching->date_s : received_s;

        return caching->expires_s > base ? caching->expires_s - base : 0;
    }
    return -1;
}

/* ---- libcurl global state ---- */

static void
init_curl_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : PC_EIO;
}

int
pc_fetch_global_init(void)
{
    /* curl_global_init is not thread-safe in every libcurl build; pthread_once makes ours so. */
    pthread_once(&global_once, init_curl_once);
    return global_rc;
}

/* ---- sockets and timer: libcurl <-> libuv ---- */

static struct sock *
find_sock(struct pc_fetch *f, curl_socket_t fd)
{
    for (struct sock *s = f->socks; s != NULL; s = s->next) {
        if (s->fd == fd) {
            return s;
        }
    }
    return NULL;
}

/* Counts one libuv handle closed; the instance goes with the last one once it is closing. */
static void
forget_handle(struct pc_fetch *f)
{
    f->n_handles--;
    if (f->is_closing && f->n_handles == 0) {
        pc_free(f);
    }
}

static void
on_handle_closed(uv_handle_t *handle)
{
    forget_handle(handle->data);
}

static void
on_sock_closed(uv_handle_t *handle)
{
    struct sock *s = handle->data;
    struct pc_fetch *f = s->f;

    pc_free(s);
    forget_handle(f);
}

/* Stops watching s at once (uv_close unregisters the descriptor before returning) and forgets
 * it; the memory goes in the close callback. Accepts NULL. */
static void
release_sock(struct pc_fetch *f, struct sock *s)
{
    if (s == NULL) {
        return;
    }
    for (struct sock **p = &f->socks; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static struct sock *
open_sock(struct pc_fetch *f, curl_socket_t fd)
{
    struct sock *s = pc_calloc(1, sizeof(*s));

    if (s == NULL) {
        return NULL;
    }
    if (uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
        pc_free(s);
        return NULL;
    }
    s->poll.data = s;
    s->f = f;
    s->fd = fd;
    s->next = f->socks;
    f->socks = s;
    f->n_handles++;
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: libcurl says what to wait for on fd. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct pc_fetch *f = userp;
    struct sock *s = find_sock(f, fd);
    int events = 0;

    if (what == CURL_POLL_REMOVE) {
        release_sock(f, s);
        return 0;
    }
    if (s == NULL) {
        s = open_sock(f, fd);
        if (s == NULL) {
            return -1;
        }
    }
    if (what & CURL_POLL_IN) {
        events |= UV_READABLE;
    }
    if (what & CURL_POLL_OUT) {
        events |= UV_WRITABLE;
    }
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* CURLOPT_SOCKOPTFUNCTION, called for every socket libcurl opens: an entry still holding this
 * number belongs to a descriptor closed without a CURL_POLL_REMOVE, so it goes now. */
static int
on_curl_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    struct pc_fetch *f = clientp;

    release_sock(f, find_sock(f, fd));
    return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the watcher is stopped before the number can be reused. */
static int
on_curl_close_socket(void *clientp, curl_socket_t fd)
{
    struct pc_fetch *f = clientp;

    release_sock(f, find_sock(f, fd));
    return close(fd);
}

static void on_timeout(uv_timer_t *timer);

/* CURLMOPT_TIMERFUNCTION. A zero timeout also goes through the timer: libcurl must not be called
 * from inside its own callback. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct pc_fetch *f = userp;

    if (timeout_ms < 0) {
        uv_timer_stop(&f->timer);
        return 0;
    }
    return uv_timer_start(&f->timer, on_timeout, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* ---- response: libcurl's header and body callbacks ---- */

/* Makes room for size bytes at resp.body. Grown by copying and wiping rather than realloc, which
 * would leave an unwiped copy of the bytes so far (an introspection answer, say) in the heap. */
static int
grow_body(struct pc_fetch_transfer *t, size_t size)
{
    size_t cap = t->body_size == 0 ? INITIAL_BODY_SIZE : t->body_size;

    while (cap < size) {
        cap *= 2;
    }
    if (cap > t->max_response_bytes + 1) {
        cap = t->max_response_bytes + 1;
    }

    char *body = pc_malloc(cap);

    if (body == NULL) {
        return PC_ENOMEM;
    }
    if (t->resp.body != NULL) {
        memcpy(body, t->resp.body, t->resp.body_len + 1);
    }
    pc_free_secret(t->resp.body, t->body_size);
    t->resp.body = body;
    t->body_size = cap;
    return 0;
}

/* CURLOPT_WRITEFUNCTION: appends body bytes, refusing the first byte past the limit. */
static size_t
on_curl_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct pc_fetch_transfer *t = userdata;
    size_t n = size * nmemb;

    if (n > t->max_response_bytes - t->resp.body_len) {
        t->abort = ABORT_TOO_LARGE;
        return CURL_WRITEFUNC_ERROR;
    }
    if (t->resp.body_len + n + 1 > t->body_size && grow_body(t, t->resp.body_len + n + 1) != 0) {
        t->abort = ABORT_NO_MEMORY;
        return CURL_WRITEFUNC_ERROR;
    }
    memcpy(t->resp.body + t->resp.body_len, ptr, n);
    t->resp.body_len += n;
    t->resp.body[t->resp.body_len] = '\0';
    return n;
}

static bool
is_field(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static void
drop_kept(struct pc_fetch_transfer *t)
{
    while (t->n_kept > 0) {
        pc_free((char *)t->kept[--t->n_kept].value);
    }
}

/* Keeps a copy of a field the caller asked for; past the cap, further fields are left out. */
static void
keep_field(struct pc_fetch_transfer *t, const char *name, size_t name_len, const char *value,
           size_t value_len)
{
    for (size_t i = 0; i < t->n_keep && t->n_kept < PC_FETCH_MAX_KEPT_HEADERS; i++) {
        if (is_field(name, name_len, t->keep[i])) {
            char *copy = pc_strndup(value, value_len);

            if (copy == NULL) {
                t->abort = ABORT_NO_MEMORY;
                return;
            }
            t->kept[t->n_kept].name = t->keep[i];
            t->kept[t->n_kept].value = copy;
            t->n_kept++;
            return;
        }
    }
}

/* Reads one header line (without its CRLF) into the response summary. */
static void
parse_head_line(struct pc_fetch_transfer *t, const char *line, size_t len)
{
    struct pc_fetch_caching *caching = &t->resp.caching;

    /* A new status line starts another response (after a 1xx): only the final one counts. */
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        t->content_type[0] = '\0';
        pc_fetch_caching_init(caching);
        drop_kept(t);
        return;
    }

    const char *colon = memchr(line, ':', len);

    if (colon == NULL) {
        return;
    }

    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;

    while (value_len > 0 && is_ows(value[0])) {
        value++;
        value_len--;
    }
    while (value_len > 0 && is_ows(value[value_len - 1])) {
        value_len--;
    }

    keep_field(t, line, name_len, value, value_len);
    if (is_field(line, name_len, "content-type") && t->content_type[0] == '\0') {
        size_t n = value_len < sizeof(t->content_type) ? value_len : sizeof(t->content_type) - 1;

        memcpy(t->content_type, value, n);
        t->content_type[n] = '\0';
    } else if (is_field(line, name_len, "cache-control")) {
        pc_fetch_parse_cache_control(value, value_len, caching);
    } else if (is_field(line, name_len, "expires") && caching->expires_s < 0) {
        /* RFC 9111 section 5.3: an invalid Expires means "already expired". */
        int64_t when = pc_fetch_parse_http_date(value, value_len);

        caching->expires_s = when < 0 ? 0 : when;
    } else if (is_field(line, name_len, "date") && caching->date_s < 0) {
        caching->date_s = pc_fetch_parse_http_date(value, value_len);
    }
}

/* CURLOPT_HEADERFUNCTION: one whole header line at a time, status lines included. */
static size_t
on_curl_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct pc_fetch_transfer *t = userdata;
    size_t len = size * nitems;

    t->head_bytes += len;
    if (t->head_bytes > PC_FETCH_MAX_HEAD_BYTES) {
        t->abort = ABORT_HEAD_TOO_LARGE;
        return CURL_WRITEFUNC_ERROR;
    }

    size_t n = len;

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    parse_head_line(t, line, n);
    return t->abort == ABORT_NONE ? len : CURL_WRITEFUNC_ERROR;
}

/* ---- outcomes ---- */

static int
set_outcome(struct pc_fetch_transfer *t, enum pc_fetch_result result, int code, const char *detail,
            const char *msg)
{
    t->resp.result = result;
    t->resp.code = code;
    t->resp.detail = detail;
    if (msg != NULL) {
        snprintf(t->error, sizeof(t->error), "%s", msg);
    }
    return code;
}

/* Names a libcurl failure that none of our callbacks caused: one dispatch over libcurl's codes,
 * kept whole so that the whole mapping reads in one place. */
static void
classify_curl(struct pc_fetch_transfer *t, CURLcode cc, long os_errno, bool is_connected)
{
    int sys = os_errno > 0 ? -(int)os_errno : 0;

    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_ENOENT, "resolve_failed", NULL);
        break;
    case CURLE_COULDNT_CONNECT:
        set_outcome(t, PC_FETCH_UNREACHABLE, sys != 0 ? sys : PC_ECONNREFUSED, "connect_failed",
                    NULL);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_ETIMEDOUT,
                    is_connected ? "timeout" : "connect_timeout", NULL);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_EACCES, "tls_verify_failed", NULL);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_EIO, "tls_handshake_failed", NULL);
        break;
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_ECONNRESET, "connection_closed", NULL);
        break;
    case CURLE_RECV_ERROR:
        /* libcurl also reports a broken chunked encoding as a receive error. Once a status line
         * has arrived, a failure that is not a socket error (those record the OS errno) is the
         * server's framing; before it, it is the connection (a TLS alert, say). */
        if (t->resp.status > 0 && sys == 0) {
            set_outcome(t, PC_FETCH_BAD_RESPONSE, PC_EPARSE, "malformed", NULL);
        } else {
            set_outcome(t, PC_FETCH_UNREACHABLE, PC_ECONNRESET, "connection_closed", NULL);
        }
        break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 answer: the scheme was checked before */
    case CURLE_BAD_CONTENT_ENCODING:
        set_outcome(t, PC_FETCH_BAD_RESPONSE, PC_EPARSE, "malformed", NULL);
        break;
    case CURLE_FILESIZE_EXCEEDED: /* Content-Length already above max_response_bytes */
        set_outcome(t, PC_FETCH_BAD_RESPONSE, PC_ELIMIT, "too_large", NULL);
        break;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
        set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_ECONFIG, "tls_files", NULL);
        break;
    case CURLE_URL_MALFORMAT:
        set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "bad_url", NULL);
        break;
    case CURLE_OUT_OF_MEMORY:
        set_outcome(t, PC_FETCH_INTERNAL, PC_ENOMEM, "out_of_memory", NULL);
        break;
    default:
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_EIO, "transfer_failed", NULL);
        break;
    }
}

/* Sets the outcome of a transfer libcurl reports complete with cc. */
static void
classify(struct pc_fetch_transfer *t, CURLcode cc, long os_errno, bool is_connected)
{
    char msg[64];

    switch (t->abort) {
    case ABORT_TOO_LARGE:
        snprintf(msg, sizeof(msg), "response body exceeds %zu bytes", t->max_response_bytes);
        set_outcome(t, PC_FETCH_BAD_RESPONSE, PC_ELIMIT, "too_large", msg);
        return;
    case ABORT_HEAD_TOO_LARGE:
        snprintf(msg, sizeof(msg), "response head exceeds %d bytes", PC_FETCH_MAX_HEAD_BYTES);
        set_outcome(t, PC_FETCH_BAD_RESPONSE, PC_ELIMIT, "head_too_large", msg);
        return;
    case ABORT_NO_MEMORY:
        set_outcome(t, PC_FETCH_INTERNAL, PC_ENOMEM, "out_of_memory", "out of memory");
        return;
    case ABORT_NONE:
        break;
    }
    if (cc == CURLE_OK) {
        set_outcome(t, PC_FETCH_OK, 0, "", "");
        return;
    }
    classify_curl(t, cc, os_errno, is_connected);

    /* libcurl's buffer keeps the first message of the transfer, which may be an earlier, minor
     * failure; its code's text says what finally went wrong. */
    if (t->curl_error[0] != '\0') {
        snprintf(t->error, sizeof(t->error), "%s: %s", curl_easy_strerror(cc), t->curl_error);
    } else {
        snprintf(t->error, sizeof(t->error), "%s", curl_easy_strerror(cc));
    }
}

/* Log values are quoted: quotes and control characters in a message become harmless. */
static void
sanitize_message(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            *s = '\'';
        } else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = ' ';
        }
    }
}

static void
log_outcome(const struct pc_fetch_transfer *t)
{
    const struct pc_fetch_response *resp = &t->resp;

    if (resp->result == PC_FETCH_OK) {
        pc_log(PC_LOG_DEBUG, MODULE, "fetch_done",
               "method=%s target=%s status=%d bytes=%zu ms=%llu", t->method, t->target,
               resp->status, resp->body_len, (unsigned long long)resp->total_ms);
        return;
    }
    if (pc_log_limit_allow(&failure_limit)) {
        pc_log(PC_LOG_WARN, MODULE, "fetch_failed",
               "method=%s target=%s result=%s detail=%s code=%d status=%d ms=%llu error=\"%s\"",
               t->method, t->target, pc_fetch_result_name(resp->result), resp->detail, resp->code,
               resp->status, (unsigned long long)resp->total_ms, resp->error);
    }
}

/* ---- transfer lifecycle ---- */

static void on_deliver(uv_idle_t *idle);

static void
wipe_fields(struct curl_slist *fields)
{
    for (struct curl_slist *l = fields; l != NULL; l = l->next) {
        OPENSSL_cleanse(l->data, strlen(l->data));
    }
    curl_slist_free_all(fields);
}

/* Detaches and frees the easy handle and what only it used. */
static void
release_easy(struct pc_fetch_transfer *t)
{
    if (t->is_added) {
        curl_multi_remove_handle(t->f->multi, t->easy);
        t->is_added = false;
    }
    curl_easy_cleanup(t->easy);
    t->easy = NULL;
    wipe_fields(t->fields);
    t->fields = NULL;
    pc_free_secret(t->body, t->body_len);
    t->body = NULL;
}

static void
free_transfer(struct pc_fetch_transfer *t)
{
    release_easy(t);
    drop_kept(t);
    for (size_t i = 0; i < t->n_keep; i++) {
        pc_free(t->keep[i]);
    }
    pc_free(t->keep);
    pc_free_secret(t->resp.body, t->body_size);
    pc_free(t);
}

/* Moves t, finished one way or another, to the list of callbacks to run. */
static void
push_done(struct pc_fetch_transfer *t)
{
    struct pc_fetch *f = t->f;

    list_remove(t);
    t->state = TRANSFER_DONE;
    t->resp.total_ms = (uv_hrtime() - t->start_ns) / 1000000;
    t->resp.error = t->error;
    t->resp.content_type = t->content_type;
    t->resp.headers = t->kept;
    t->resp.n_headers = t->n_kept;
    sanitize_message(t->error);
    list_push(&f->done, t);
    uv_idle_start(&f->deliver, on_deliver);
}

static void
finish_transfer(struct pc_fetch_transfer *t, CURLcode cc)
{
    long status = 0;
    long os_errno = 0;
    curl_off_t pretransfer_us = 0;

    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    t->resp.status = (int)status;
    classify(t, cc, os_errno, pretransfer_us > 0);
    release_easy(t);

    /* Never hand over part of a body: the owner would have to tell it from a whole one. */
    if (t->resp.result != PC_FETCH_OK) {
        pc_free_secret(t->resp.body, t->body_size);
        t->resp.body = NULL;
        t->resp.body_len = 0;
        t->body_size = 0;
    }

    /* An empty body is still a buffer, so that a successful response always has one. */
    if (t->resp.result == PC_FETCH_OK && t->resp.body == NULL) {
        if (grow_body(t, 1) == 0) {
            t->resp.body[0] = '\0';
        } else {
            set_outcome(t, PC_FETCH_INTERNAL, PC_ENOMEM, "out_of_memory", "out of memory");
        }
    }
    push_done(t);
}

static void
activate(struct pc_fetch_transfer *t)
{
    struct pc_fetch *f = t->f;
    uint64_t waited_ms = (uv_hrtime() - t->start_ns) / 1000000;

    if (waited_ms >= t->timeout_ms) {
        set_outcome(t, PC_FETCH_UNREACHABLE, PC_ETIMEDOUT, "timeout",
                    "timed out waiting for a free transfer slot");
        push_done(t);
        return;
    }

    /* The request's timeout counts from pc_fetch_start, so time spent queued is spent. */
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)(t->timeout_ms - waited_ms));
    if (curl_multi_add_handle(f->multi, t->easy) != CURLM_OK) {
        set_outcome(t, PC_FETCH_INTERNAL, PC_EIO, "internal", "curl_multi_add_handle failed");
        push_done(t);
        return;
    }
    t->is_added = true;
    t->state = TRANSFER_ACTIVE;
    list_push(&f->active, t);
}

static void
start_queued(struct pc_fetch *f)
{
    while (f->active.n < f->max_transfers && f->queued.head != NULL) {
        struct pc_fetch_transfer *t = f->queued.head;

        list_remove(t);
        activate(t);
    }
}

static void
collect_finished(struct pc_fetch *f)
{
    CURLMsg *msg;
    int left = 0;

    while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
        char *priv = NULL;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        finish_transfer((struct pc_fetch_transfer *)priv, msg->data.result);
    }
}

/* Lets libcurl act on fd (or on its timeout), then collects what finished. */
static void
drive(struct pc_fetch *f, curl_socket_t fd, int flags)
{
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(f->multi, fd, flags, &running);

    if (mc != CURLM_OK && pc_log_limit_allow(&failure_limit)) {
        pc_log(PC_LOG_ERROR, MODULE, "multi_failed", "error=\"%s\"", curl_multi_strerror(mc));
    }
    collect_finished(f);
    start_queued(f);
}

static void
on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock *s = poll->data;
    int flags = 0;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    drive(s->f, s->fd, flags);
}

static void
on_timeout(uv_timer_t *timer)
{
    drive(timer->data, CURL_SOCKET_TIMEOUT, 0);
}

/* Runs the callbacks of finished transfers, oldest first. */
static void
on_deliver(uv_idle_t *idle)
{
    struct pc_fetch *f = idle->data;

    while (!f->is_closing && f->done.head != NULL) {
        struct pc_fetch_transfer *t = f->done.head;

        list_remove(t);
        t->state = TRANSFER_DELIVERING;
        log_outcome(t);
        t->cb(t->data, &t->resp);
        free_transfer(t);
    }
    if (f->done.head == NULL) {
        uv_idle_stop(idle);
    }
}

/* ---- requests ---- */

/* Refuses a request libcurl would send in a way we do not want; fills t's outcome when so. */
static int
check_request(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    bool has_body = req->body_len > 0 || req->n_form > 0;
    int rc = pc_fetch_check_url(req->url);

    if (rc == PC_ENOMEM) {
        return set_outcome(t, PC_FETCH_INTERNAL, rc, "out_of_memory", "out of memory");
    }
    if (rc != 0) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, rc,
                           rc == PC_ENOTSUP ? "scheme_refused" : "bad_url",
                           rc == PC_ENOTSUP ? "only http and https URLs are fetched"
                                            : "malformed URL, or one with user information");
    }
    if (req->method != PC_FETCH_GET && req->method != PC_FETCH_POST) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "bad_method", "bad method");
    }
    if ((req->method == PC_FETCH_GET && has_body) || (req->body_len > 0 && req->n_form > 0)
        || (req->body_len > 0 && req->body == NULL)) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "bad_body",
                           "a body needs POST, and either bytes or form fields");
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_fetch_pair *h = &req->headers[i];

        if (pc_fetch_check_header(h->name, h->value) != 0
            || (req->n_form > 0 && strcasecmp(h->name, "content-type") == 0)) {
            return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "bad_header",
                               "request header field refused");
        }
    }
    /* RFC 7617 section 2: the user-id ends at the first colon, so it cannot hold one. */
    if (req->username != NULL && !req->is_oauth_client_auth && strchr(req->username, ':') != NULL) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "bad_credentials",
                           "a Basic user name cannot contain ':'");
    }
    if ((req->cert_file == NULL) != (req->key_file == NULL)) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "tls_files",
                           "a client certificate needs its key, and a key its certificate");
    }
    if (req->ca_file != NULL && req->ca_pem != NULL) {
        return set_outcome(t, PC_FETCH_INVALID_REQUEST, PC_EINVAL, "tls_files",
                           "a CA bundle is a file or PEM text, not both");
    }
    return 0;
}

/* Writes "scheme://host:port/path" for logs: the query may carry tokens, so it is left out. */
static void
describe_target(struct pc_fetch_transfer *t, const char *url)
{
    CURLU *u = NULL;
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    char *path = NULL;

    snprintf(t->target, sizeof(t->target), "-");
    if (parse_url(url, &u) != 0) {
        return;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        snprintf(t->target, sizeof(t->target), "%s://%s:%s%s", scheme, host, port, path);
        sanitize_message(t->target);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

static int
copy_body(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    if (req->n_form > 0) {
        t->body = pc_fetch_form_encode(req->form, req->n_form, &t->body_len);
        return t->body != NULL ? 0 : PC_ENOMEM;
    }
    if (req->body_len > 0) {
        t->body = pc_malloc(req->body_len);
        if (t->body == NULL) {
            return PC_ENOMEM;
        }
        memcpy(t->body, req->body, req->body_len);
        t->body_len = req->body_len;
    }
    return 0;
}

static int
copy_keep(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    if (req->n_keep_headers == 0) {
        return 0;
    }
    t->keep = pc_calloc(req->n_keep_headers, sizeof(char *));
    if (t->keep == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < req->n_keep_headers; i++) {
        t->keep[i] = pc_strdup(req->keep_headers[i]);
        if (t->keep[i] == NULL) {
            return PC_ENOMEM;
        }
        t->n_keep++;
    }
    return 0;
}

static int
append_field(struct pc_fetch_transfer *t, const char *line)
{
    struct curl_slist *fields = curl_slist_append(t->fields, line);

    if (fields == NULL) {
        return PC_ENOMEM;
    }
    t->fields = fields;
    return 0;
}

/* Builds the header lines libcurl sends besides its own (Host, Content-Length, ...). */
static int
build_fields(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    int rc = 0;

    for (size_t i = 0; i < req->n_headers && rc == 0; i++) {
        const struct pc_fetch_pair *h = &req->headers[i];
        size_t size = strlen(h->name) + strlen(h->value) + 3;
        char *line = pc_malloc(size);

        if (line == NULL) {
            return PC_ENOMEM;
        }
        /* libcurl reads "Name:" as "remove this header"; "Name;" sends it with an empty value. */
        if (h->value[0] == '\0') {
            snprintf(line, size, "%s;", h->name);
        } else {
            snprintf(line, size, "%s: %s", h->name, h->value);
        }
        rc = append_field(t, line);
        pc_free_secret(line, size);
    }
    if (rc == 0 && req->n_form > 0) {
        rc = append_field(t, "Content-Type: application/x-www-form-urlencoded");
    }
    /* Bodies here are small: waiting for 100 Continue would only add a round trip. */
    if (rc == 0) {
        rc = append_field(t, "Expect:");
    }
    return rc;
}

/* Options every transfer gets: callbacks, limits, and the rules no request may change. */
static bool
set_transfer_options(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    struct pc_fetch *f = t->f;
    CURL *e = t->easy;
    uint32_t connect_ms = req->connect_timeout_ms != 0 ? req->connect_timeout_ms
                                                       : PC_FETCH_DEFAULT_CONNECT_TIMEOUT_MS;

    return curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK
           /* An empty proxy ignores http_proxy and friends from the environment. */
           /* TODO: no outbound proxy can be configured; providers must be reachable directly. */
           && curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK
           /* No signals: the gateway has threads, and libcurl would use SIGALRM for DNS. */
           && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_response_bytes)
                  == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_body) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)t) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)t) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_SHARE, f->share) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_curl_sockopt) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, (void *)f) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_curl_close_socket) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, (void *)f) == CURLE_OK
           && curl_easy_setopt(e, CURLOPT_USERAGENT, "portcullis") == CURLE_OK;
}

/* Returns s form-encoded in new memory of *size bytes, or NULL when memory runs out. */
static char *
form_escape_dup(const char *s, size_t *size)
{
    size_t n = form_escape(NULL, s);
    char *out = pc_malloc(n + 1);

    if (out == NULL) {
        return NULL;
    }
    form_escape(out, s);
    out[n] = '\0';
    *size = n + 1;
    return out;
}

/* Basic credentials, form-encoded first for OAuth client authentication. */
static bool
set_auth_options(CURL *e, const struct pc_fetch_request *req)
{
    const char *user = req->username;
    const char *password = req->password != NULL ? req->password : "";
    char *user_enc = NULL;
    char *password_enc = NULL;
    size_t user_size = 0;
    size_t password_size = 0;
    bool is_ok = false;

    if (req->is_oauth_client_auth) {
        user_enc = form_escape_dup(user, &user_size);
        password_enc = form_escape_dup(password, &password_size);
        if (user_enc == NULL || password_enc == NULL) {
            goto out;
        }
        user = user_enc;
        password = password_enc;
    }

    /* libcurl keeps copies of both; ours are wiped right away. */
    is_ok = curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK
            && curl_easy_setopt(e, CURLOPT_USERNAME, user) == CURLE_OK
            && curl_easy_setopt(e, CURLOPT_PASSWORD, password) == CURLE_OK;

out:
    pc_free_secret(user_enc, user_size);
    pc_free_secret(password_enc, password_size);
    return is_ok;
}

static bool
set_request_options(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    CURL *e = t->easy;

    if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->fields) != CURLE_OK) {
        return false;
    }
    if (req->method == PC_FETCH_POST
        && (curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK
            || curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len) != CURLE_OK
            || curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body != NULL ? t->body : "")
                   != CURLE_OK)) {
        return false;
    }
    return req->username == NULL || set_auth_options(e, req);
}

static bool
set_tls_options(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    CURL *e = t->easy;
    bool is_ok =
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, TLS12_CIPHERS) == CURLE_OK;

    /* A CA file replaces the system roots entirely: the default CA directory is dropped too,
     * or every public CA would still vouch for a provider pinned to a private one. */
    if (is_ok && req->ca_file != NULL) {
        is_ok = curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file) == CURLE_OK
                && curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK;
    }
    if (is_ok && req->ca_pem != NULL) {
        struct curl_blob blob = {
            .data = (void *)req->ca_pem,
            .len = req->ca_pem_len,
            .flags = CURL_BLOB_COPY,
        };

        /* The blob replaces CURLOPT_CAINFO; the default CA directory goes as above. */
        is_ok = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK
                && curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK;
    }
    if (is_ok && req->cert_file != NULL) {
        is_ok = curl_easy_setopt(e, CURLOPT_SSLCERT, req->cert_file) == CURLE_OK
                && curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK
                && curl_easy_setopt(e, CURLOPT_SSLKEY, req->key_file) == CURLE_OK
                && curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK;
    }
    return is_ok;
}

/* Checks and copies the request and builds its easy handle; fills t's outcome on failure. */
static int
prepare(struct pc_fetch_transfer *t, const struct pc_fetch_request *req)
{
    describe_target(t, req->url);

    int rc = check_request(t, req);

    if (rc != 0) {
        return rc;
    }
    if (copy_body(t, req) != 0 || copy_keep(t, req) != 0 || build_fields(t, req) != 0) {
        return set_outcome(t, PC_FETCH_INTERNAL, PC_ENOMEM, "out_of_memory", "out of memory");
    }
    t->easy = curl_easy_init();
    if (t->easy == NULL || !set_transfer_options(t, req) || !set_request_options(t, req)
        || !set_tls_options(t, req)) {
        return set_outcome(t, PC_FETCH_INTERNAL, PC_ENOMEM, "out_of_memory",
                           "setting up the transfer failed");
    }
    return 0;
}

struct pc_fetch_transfer *
pc_fetch_start(struct pc_fetch *f, const struct pc_fetch_request *req, pc_fetch_fn cb, void *data)
{
    PC_ASSERT(cb != NULL);
    if (f->is_closing) {
        return NULL;
    }

    struct pc_fetch_transfer *t = pc_calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->f = f;
    t->cb = cb;
    t->data = data;
    t->method = req->method == PC_FETCH_POST ? "POST" : "GET";
    t->start_ns = uv_hrtime();
    t->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms : PC_FETCH_DEFAULT_TIMEOUT_MS;
    t->max_response_bytes = req->max_response_bytes != 0 ? req->max_response_bytes
                                                         : PC_FETCH_DEFAULT_MAX_RESPONSE_BYTES;
    if (t->max_response_bytes > PC_FETCH_MAX_RESPONSE_BYTES) {
        t->max_response_bytes = PC_FETCH_MAX_RESPONSE_BYTES;
    }
    pc_fetch_caching_init(&t->resp.caching);

    if (prepare(t, req) != 0) {
        push_done(t);
    } else if (f->active.n < f->max_transfers) {
        activate(t);
    } else {
        t->state = TRANSFER_QUEUED;
        list_push(&f->queued, t);
    }
    pc_log(PC_LOG_DEBUG, MODULE, "fetch_started", "method=%s target=%s queued=%zu", t->method,
           t->target, f->queued.n);
    return t;
}

void
pc_fetch_cancel(struct pc_fetch_transfer *t)
{
    if (t == NULL || t->state == TRANSFER_DELIVERING) {
        return;
    }

    struct pc_fetch *f = t->f;
    bool was_active = t->state == TRANSFER_ACTIVE;

    pc_log(PC_LOG_DEBUG, MODULE, "fetch_cancelled", "method=%s target=%s", t->method, t->target);
    list_remove(t);
    free_transfer(t);
    if (was_active) {
        start_queued(f);
    }
}

/* ---- instances ---- */

static bool
setup_multi(struct pc_fetch *f)
{
    CURLM *m = f->multi;

    return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_curl_socket) == CURLM_OK
           && curl_multi_setopt(m, CURLMOPT_SOCKETDATA, (void *)f) == CURLM_OK
           && curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_curl_timer) == CURLM_OK
           && curl_multi_setopt(m, CURLMOPT_TIMERDATA, (void *)f) == CURLM_OK
           /* Idle connections kept for reuse: one per transfer slot. */
           && curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)f->max_transfers) == CURLM_OK
           /* TLS sessions resumed across transfers (each has its own easy handle). No lock
            * callbacks: the instance lives on one thread. */
           && curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)
                  == CURLSHE_OK;
}

struct pc_fetch *
pc_fetch_create(uv_loop_t *loop, const struct pc_fetch_cfg *cfg, struct pc_err *err)
{
    int rc = pc_fetch_global_init();

    if (rc != 0) {
        pc_err_set(err, rc, "libcurl could not be initialised");
        return NULL;
    }

    struct pc_fetch *f = pc_calloc(1, sizeof(*f));

    if (f == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    f->loop = loop;
    f->max_transfers = cfg != NULL && cfg->max_transfers != 0 ? cfg->max_transfers
                                                              : PC_FETCH_DEFAULT_MAX_TRANSFERS;
    f->multi = curl_multi_init();
    f->share = curl_share_init();
    if (f->multi == NULL || f->share == NULL || !setup_multi(f)) {
        curl_share_cleanup(f->share);
        curl_multi_cleanup(f->multi);
        pc_free(f);
        pc_err_set(err, PC_ENOMEM, "libcurl multi handle could not be set up");
        return NULL;
    }

    /* Both only initialise memory on Unix: they cannot fail. */
    uv_timer_init(loop, &f->timer);
    uv_idle_init(loop, &f->deliver);
    f->timer.data = f;
    f->deliver.data = f;
    f->n_handles = 2;
    return f;
}

static void
drop_list(struct transfer_list *list)
{
    while (list->head != NULL) {
        struct pc_fetch_transfer *t = list->head;

        list_remove(t);
        free_transfer(t);
    }
}

void
pc_fetch_destroy(struct pc_fetch *f)
{
    if (f == NULL || f->is_closing) {
        return;
    }
    f->is_closing = true;
    pc_log(PC_LOG_DEBUG, MODULE, "fetch_destroyed", "queued=%zu active=%zu done=%zu", f->queued.n,
           f->active.n, f->done.n);

    /* A transfer whose callback is running belongs to on_deliver, which frees it afterwards;
     * its easy handle is already gone. */
    drop_list(&f->queued);
    drop_list(&f->active);
    drop_list(&f->done);

    /* Closes the cached connections through on_curl_close_socket, which releases watchers. */
    curl_multi_cleanup(f->multi);
    f->multi = NULL;
    curl_share_cleanup(f->share);
    f->share = NULL;
    while (f->socks != NULL) {
        release_sock(f, f->socks);
    }
    uv_close((uv_handle_t *)&f->timer, on_handle_closed);
    uv_close((uv_handle_t *)&f->deliver, on_handle_closed);
}
