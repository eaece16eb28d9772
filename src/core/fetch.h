/*
 * Outbound HTTP(S) requests that never block a loop: the gateway's calls to identity providers
 * (OpenID Connect discovery, JWKS), token introspection endpoints, an external OPA and trace
 * collectors.
 *
 * One pc_fetch instance belongs to one libuv loop (the control thread's, or a worker's) and is
 * used only from that loop's thread: it takes no locks and starts no thread of its own (libcurl,
 * as Debian builds it, resolves host names on short-lived threads of its own and hands the
 * answer back through a socket the loop watches; literal addresses need none). It
 * drives libcurl's multi interface from the loop (libcurl's sockets watched with uv_poll_t, its
 * one timeout kept in a uv_timer_t), keeps finished connections open for reuse (HTTP/1.1
 * keep-alive, per instance), runs at most max_transfers transfers at once and queues the rest in
 * order. Every response is buffered whole, up to a per-request limit, and handed to the owner's
 * callback with the parts of its head a caller needs (status, Content-Type, caching fields).
 *
 * Security rules that no request can change: only http and https URLs; TLS 1.2 or later; the
 * peer's certificate and host name are always verified; redirects are not followed (a 3xx is
 * reported as a status); proxies named in the environment are ignored; the response size is
 * bounded; credentials, request headers and bodies never reach the log.
 *
 * What is left to callers: retries, caching, parsing bodies, choosing URLs. libcurl must be
 * initialised once per process before any instance exists: pc_fetch_global_init does it and is
 * safe to call from any thread any number of times; the gateway's main calls it before starting
 * workers, and pc_fetch_create calls it too. The process must ignore SIGPIPE, as the gateway
 * does at start.
 */
#ifndef PC_CORE_FETCH_H
#define PC_CORE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/err.h"

/* Defaults taken when a request or the configuration leaves a field 0. */
#define PC_FETCH_DEFAULT_TIMEOUT_MS         10000u
#define PC_FETCH_DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define PC_FETCH_DEFAULT_MAX_RESPONSE_BYTES (1u << 20)
#define PC_FETCH_DEFAULT_MAX_TRANSFERS      16u

/* Fixed bounds. A response head beyond PC_FETCH_MAX_HEAD_BYTES (every header line, the status
 * lines of interim responses included) is refused as a bad response. */
#define PC_FETCH_MAX_URL_BYTES      8192
#define PC_FETCH_MAX_RESPONSE_BYTES (1u << 30) /* larger max_response_bytes count as this */
#define PC_FETCH_MAX_HEAD_BYTES     (64 * 1024)
#define PC_FETCH_CONTENT_TYPE_SIZE  256 /* longer Content-Type values are cut to 255 bytes */
#define PC_FETCH_MAX_KEPT_HEADERS   32  /* response fields returned by keep_headers, at most */

/* Instance settings; pc_fetch_create copies them. Zero fields take the defaults above. */
struct pc_fetch_cfg {
    uint32_t max_transfers; /* transfers running at once; later ones wait in order */
};

enum pc_fetch_method {
    PC_FETCH_GET = 0,
    PC_FETCH_POST,
};

/* A header field or a form field; both strings borrowed. */
struct pc_fetch_pair {
    const char *name;
    const char *value;
};

/*
 * One request. pc_fetch_start borrows it (and every string and array it points to) for the call
 * only: whatever the transfer needs later is copied.
 */
struct pc_fetch_request {
    enum pc_fetch_method method;
    const char *url; /* http:// or https://; no user:password@ part; at most 8192 bytes */

    /* Extra request header fields, sent in order. Names are RFC 9110 tokens; values hold no CR,
     * LF, NUL or other control character but HTAB. Host, Content-Length, Transfer-Encoding,
     * Connection, Expect and Upgrade are set by the client and refused here. A User-Agent field
     * replaces the default "portcullis". A POST body without a Content-Type field is sent as
     * application/x-www-form-urlencoded (libcurl's default); say so explicitly when it is not. */
    const struct pc_fetch_pair *headers;
    size_t n_headers;

    /* POST only, and at most one of the two: raw bytes, or form fields that the client encodes
     * as application/x-www-form-urlencoded and labels so (then no Content-Type header may be
     * given). Both may carry secrets (an RFC 7662 client_secret): the copy is wiped after use. */
    const void *body;
    size_t body_len;
    const struct pc_fetch_pair *form;
    size_t n_form;

    /* HTTP Basic authentication (RFC 7617) when username is not NULL; password NULL means "".
     * The username may not contain ':'. With is_oauth_client_auth, both are first encoded as
     * application/x-www-form-urlencoded, as OAuth 2.0 client_secret_basic requires (RFC 6749
     * section 2.3.1). */
    const char *username;
    const char *password;
    bool is_oauth_client_auth;

    uint32_t timeout_ms;         /* whole request, time spent queued included; 0: default */
    uint32_t connect_timeout_ms; /* name resolution, TCP and TLS handshakes; 0: default */
    size_t max_response_bytes;   /* body bytes kept; more fails the request; 0: default */

    /* TLS. ca_file: PEM CA certificates to trust instead of the system's roots (NULL: system
     * roots, unless ca_pem is given). cert_file and key_file: a PEM client certificate (chain) and
     * its unencrypted PEM key, presented when the server asks (mutual TLS); both or neither. */
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    /* The same CA certificates as PEM text in memory (ca_pem_len bytes; copied), for a bundle
     * given inline in the configuration; at most one of ca_file and ca_pem. */
    const char *ca_pem;
    size_t ca_pem_len;
    /* Response header fields the caller wants back (names, any case; at most
     * PC_FETCH_MAX_KEPT_HEADERS fields are kept in all): each field of the final response with
     * one of these names is returned in the response's headers, in arrival order. */
    const char *const *keep_headers;
    size_t n_keep_headers;
};

/* How a request ended. */
enum pc_fetch_result {
    /* A complete HTTP response arrived, whatever its status (404 and 500 included). */
    PC_FETCH_OK = 0,
    /* No complete response: name resolution, connect (refused, unreachable, timed out), TLS
     * handshake or certificate verification failed, the connection was reset or closed early,
     * or the timeout expired (while queued too). Retrying later may help. */
    PC_FETCH_UNREACHABLE,
    /* The server answered with something we refuse: a body over max_response_bytes, a head over
     * PC_FETCH_MAX_HEAD_BYTES, or bytes that are not HTTP/1.x. The transfer was stopped there. */
    PC_FETCH_BAD_RESPONSE,
    /* The request was refused before anything was sent: bad URL or scheme, bad header, body
     * with GET, unreadable CA, certificate or key files. Retrying will not help. */
    PC_FETCH_INVALID_REQUEST,
    /* Out of memory, or libcurl failed internally. */
    PC_FETCH_INTERNAL,
};

/* Caching information from the final response's head, for refresh schedules (RFC 9111). */
struct pc_fetch_caching {
    int64_t max_age_s; /* Cache-Control max-age, first one; -1 absent; a bad value gives 0 */
    int64_t date_s;    /* Date, Unix seconds; -1 absent or unparsable */
    int64_t expires_s; /* Expires, Unix seconds; -1 absent; 0 unparsable (RFC 9111 5.3) */
    bool is_no_store;  /* Cache-Control no-store */
    bool is_no_cache;  /* Cache-Control no-cache (with or without field names) */
};

/*
 * What the callback is told. Owned by the client and valid until the callback returns, except
 * body, which the callback may take: keep the pointer, set resp->body to NULL, and release it
 * later with pc_free (or pc_free_secret with body_len + 1 bytes when it may hold secrets).
 */
struct pc_fetch_response {
    enum pc_fetch_result result;
    int code;           /* 0 with PC_FETCH_OK, else a negative PC_E* code (PC_ETIMEDOUT, ...) */
    const char *detail; /* static snake_case word ("timeout", "tls_verify_failed"); "" when ok */
    const char *error;  /* libcurl's or our message, for logs only; "" when ok */
    int status;         /* HTTP status of the final response; 0 when none arrived */
    char *body;         /* with PC_FETCH_OK: the body, NUL-terminated ("" when empty); else NULL */
    size_t body_len;
    const char *content_type; /* the Content-Type value as sent; "" when absent */
    struct pc_fetch_caching caching;
    /* The fields the request's keep_headers asked for: names as the request spelled them,
     * values as sent without surrounding whitespace, both NUL-terminated. */
    const struct pc_fetch_pair *headers;
    size_t n_headers;
    uint64_t total_ms; /* from pc_fetch_start to completion */
};

/*
 * Told the outcome of one request, once, on the instance's loop; never from inside
 * pc_fetch_start, pc_fetch_cancel or pc_fetch_destroy. It may start, cancel other requests or
 * destroy the instance. The transfer handle is invalid once the callback returns.
 */
typedef void (*pc_fetch_fn)(void *data, struct pc_fetch_response *resp);

struct pc_fetch;
struct pc_fetch_transfer;

/*
 * Initialises libcurl for the process (curl_global_init) the first time it is called; later
 * calls return the first result. Any thread. Returns 0 or PC_EIO.
 */
int pc_fetch_global_init(void);

/*
 * Creates an instance on loop; cfg may be NULL (defaults) and is copied. Run it from the loop's
 * thread only. Returns the instance, or NULL with err filled (err may be NULL): PC_ENOMEM, or
 * PC_EIO when libcurl cannot be initialised.
 */
struct pc_fetch *pc_fetch_create(uv_loop_t *loop, const struct pc_fetch_cfg *cfg,
                                 struct pc_err *err);

/*
 * Destroys the instance: every request not yet told is cancelled without its callback, and
 * connections are closed. No callback runs after this returns, even when called from inside
 * one. Memory is released from libuv close callbacks, so the loop must run once more. Accepts
 * NULL.
 */
void pc_fetch_destroy(struct pc_fetch *f);

/*
 * Starts a request (or queues it when max_transfers are running). req is borrowed for the call
 * (see struct pc_fetch_request); data is passed back to cb. The callback runs exactly once,
 * later, from the loop, unless the request is cancelled or the instance destroyed first; a
 * request refused at once (bad URL, say) is reported the same way, never from in here. Returns
 * a handle for pc_fetch_cancel, owned by the client; NULL (and cb never runs) only when memory
 * runs out or f is being destroyed.
 */
struct pc_fetch_transfer *pc_fetch_start(struct pc_fetch *f, const struct pc_fetch_request *req,
                                         pc_fetch_fn cb, void *data);

/*
 * Cancels a request whose callback has not run: it is stopped (its connection closed if it was
 * in flight) and its callback never runs. Called from inside the request's own callback it does
 * nothing. The handle is invalid afterwards. Accepts NULL.
 */
void pc_fetch_cancel(struct pc_fetch_transfer *t);

/* Returns the static word for a result: "ok", "unreachable", "bad_response", ... */
const char *pc_fetch_result_name(enum pc_fetch_result result);

/*
 * Checks that url is one pc_fetch_start accepts: absolute, http or https, with a host, without
 * user information, spaces or control characters, at most PC_FETCH_MAX_URL_BYTES. Borrows url.
 * Returns 0, PC_ENOTSUP for another scheme, PC_EINVAL otherwise, PC_ENOMEM.
 */
int pc_fetch_check_url(const char *url);

/*
 * Checks one request header field (rules at struct pc_fetch_request). Borrows both strings.
 * Returns 0 or PC_EINVAL.
 */
int pc_fetch_check_header(const char *name, const char *value);

/*
 * Encodes fields as application/x-www-form-urlencoded (the WHATWG URL Standard's serializer:
 * ASCII letters, digits and "*-._" kept, space as '+', every other byte as %XX), joined with
 * '&'. Borrows fields. Returns a NUL-terminated string owned by the caller (release it with
 * pc_free_secret when it holds a secret), its length in *len; NULL when memory runs out.
 */
char *pc_fetch_form_encode(const struct pc_fetch_pair *fields, size_t n, size_t *len);

/* Sets every field of caching to "absent". */
void pc_fetch_caching_init(struct pc_fetch_caching *caching);

/*
 * Adds the directives of one Cache-Control field value (len bytes at value, borrowed) to
 * caching: max-age (the first one counts; a value that is not delta-seconds gives 0, one past
 * 2^31 gives 2^31, RFC 9111 section 1.2.2), no-store, no-cache. Other directives are skipped.
 */
void pc_fetch_parse_cache_control(const char *value, size_t len, struct pc_fetch_caching *caching);

/*
 * Parses an HTTP-date of len bytes (RFC 9110 section 5.6.7: IMF-fixdate and the two obsolete
 * forms; libcurl's parser, which also takes a few looser ones). Returns Unix seconds, or -1 when
 * it is not a date.
 */
int64_t pc_fetch_parse_http_date(const char *value, size_t len);

/*
 * Returns how long a response stays fresh, in seconds (RFC 9111 section 4.2.1): 0 with
 * no-store or no-cache; max-age when present; else Expires minus Date (minus received_s, the
 * Unix time the response arrived, when Date is absent), at least 0; -1 when the response says
 * nothing, so the caller picks its own interval.
 */
int64_t pc_fetch_freshness_s(const struct pc_fetch_caching *caching, int64_t received_s);

#endif
