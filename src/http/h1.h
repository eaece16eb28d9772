/*
 * HTTP/1.1 message heads and framing, over llhttp, for requests from clients and responses from
 * upstreams.
 *
 * The parser copies each head (request line or status line, and every field line, names
 * lower-cased) into the arena of the message being parsed, enforcing the size limits as bytes
 * arrive, and refuses rather than guesses whenever the framing is ambiguous: Transfer-Encoding
 * with Content-Length, repeated or malformed Content-Length, obs-fold, CR, LF, NUL or other
 * controls in values, invalid field names, transfer codings other than chunked, missing,
 * repeated or malformed Host, HTTP versions other than 1.0 and 1.1. Body bytes are handed to the
 * owner as slices of the caller's buffer, never copied.
 *
 * The parser pauses after every request head and after every complete message, so the owner
 * decides when to go on: this is what keeps pipelined requests in order and lets a request's
 * steps suspend before its body is read. One parser serves one connection on one loop.
 */
#ifndef PC_HTTP_H1_H
#define PC_HTTP_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "config/config.h"

struct pc_arena;

enum pc_h1_kind {
    PC_H1_REQUEST = 0,
    PC_H1_RESPONSE,
};

enum pc_h1_framing {
    PC_H1_BODY_NONE = 0,
    PC_H1_BODY_LENGTH,  /* Content-Length */
    PC_H1_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    PC_H1_BODY_CLOSE,   /* responses only: until the connection closes */
};

/* A parsed head. Every pointer is arena memory of the message. */
struct pc_h1_head {
    const char *method; /* requests */
    size_t method_len;
    uint8_t method_id; /* llhttp_method_t */
    const char *target;
    size_t target_len;
    uint16_t status; /* responses */
    uint8_t version_minor;

    struct pc_header_pair *headers; /* names lower-cased, in arrival order */
    size_t n_headers;
    size_t header_bytes; /* sum of name and value lengths plus 4 per field line */

    enum pc_h1_framing framing;
    uint64_t content_length;

    int host_index; /* index of Host in headers, -1 when absent */
    bool is_keep_alive;
    bool wants_upgrade;   /* Upgrade field present and named by Connection */
    bool expect_continue; /* Expect: 100-continue */
    bool expect_other;    /* an Expect value we do not know: answer 417 */
};

/* Limits on a head; 0 means no limit. */
struct pc_h1_limits {
    uint32_t max_line_bytes;
    uint32_t max_header_bytes;
    uint32_t max_header_count;
};

/*
 * What the parser calls. Each runs inside pc_h1_feed(). A non-zero return from on_body or from
 * on_head (requests) aborts the message with an error of the owner's choosing, set beforehand
 * with pc_h1_set_error().
 */
struct pc_h1_callbacks {
    /* The head is complete. For responses, return 1 when the response has no body (the request
     * was HEAD), 0 otherwise, -1 to abort. For requests, 0 or -1; the parser then pauses. */
    int (*on_head)(void *owner, struct pc_h1_head *head);
    int (*on_body)(void *owner, const char *at, size_t len);
    /* The message is complete; the parser pauses after it returns. */
    void (*on_complete)(void *owner);
};

enum pc_h1_result {
    PC_H1_OK = 0,  /* every byte consumed */
    PC_H1_PAUSED,  /* stopped after a head or a complete message; resume with pc_h1_resume() */
    PC_H1_UPGRADE, /* an upgrade or CONNECT completed: the bytes after `consumed` are not HTTP */
    PC_H1_ERROR,   /* malformed or refused; see pc_h1_error_status() */
};

/* Embedded in its connection. Fields are private to h1.c. */
struct pc_h1_parser {
    llhttp_t llhttp;
    const struct pc_h1_callbacks *cb;
    void *owner;
    struct pc_arena *arena;
    struct pc_h1_limits limits;
    struct pc_h1_acc *acc; /* head being accumulated, arena memory */
    const char *feed_start;
    uint16_t error_status;
    bool prev_feed_ended_lf;
    bool head_done;
    bool is_head_scanned; /* the line-ending scan reached the end of this head */
    char scan_last_byte;
    uint64_t scan_pos;     /* bytes of this message scanned so far */
    uint64_t scan_last_lf; /* position of the last LF seen, plus one; 0: none */
    const char *error_reason;
};

/* Prepares p for a connection; cb must outlive it. */
void pc_h1_init(struct pc_h1_parser *p, enum pc_h1_kind kind, const struct pc_h1_callbacks *cb,
                void *owner);

/*
 * Prepares for the next message: its head will be allocated from arena (borrowed until the
 * message is done) under limits (copied). Call before feeding a message's first byte.
 */
void pc_h1_begin(struct pc_h1_parser *p, struct pc_arena *arena, const struct pc_h1_limits *limits);

/*
 * Parses up to len bytes; *consumed receives how many were used (on PC_H1_PAUSED and
 * PC_H1_UPGRADE the rest belongs to what comes next). Callbacks run before it returns.
 */
enum pc_h1_result pc_h1_feed(struct pc_h1_parser *p, const char *data, size_t len,
                             size_t *consumed);

/* Lets a paused parser continue with the next pc_h1_feed(). */
void pc_h1_resume(struct pc_h1_parser *p);

/*
 * Tells the parser the peer closed the connection. Returns PC_H1_OK when that ended a message
 * (a response delimited by close: on_complete has run) or none had started, PC_H1_ERROR when a
 * message was cut short.
 */
enum pc_h1_result pc_h1_finish(struct pc_h1_parser *p);

/* Whether the connection may carry another message after the current one. */
bool pc_h1_keep_alive(const struct pc_h1_parser *p);

/* Whether a message has started (bytes of it were parsed) and not completed. */
bool pc_h1_in_message(const struct pc_h1_parser *p);

/* Sets the status and log reason of the error the owner is about to return from a callback. */
void pc_h1_set_error(struct pc_h1_parser *p, uint16_t status, const char *reason);

/* After PC_H1_ERROR: the status to answer (400, 413, 414, 431, 501, 505) and a stable reason
 * code for logs and metrics ("obs_fold", "te_with_cl", ...). */
uint16_t pc_h1_error_status(const struct pc_h1_parser *p);
const char *pc_h1_error_reason(const struct pc_h1_parser *p);

/* Returns the first header named name (lower-case) or NULL. */
const struct pc_header_pair *pc_h1_header_find(const struct pc_h1_head *head, const char *name,
                                               size_t name_len);

/*
 * Whether a comma-separated field value holds token (case-insensitive), as Connection and
 * Transfer-Encoding list theirs.
 */
bool pc_h1_value_has_token(const char *value, size_t len, const char *token, size_t token_len);

/* The standard reason phrase of status, or "Unknown". */
const char *pc_h1_reason_phrase(unsigned status);

/* The length of a request line with this method and target, CRLF included: what the
 * max_line_bytes limit counts. */
size_t pc_h1_request_line_bytes(const char *method, size_t target_len);

/* Whether value may be sent as a field value: visible ASCII, obs-text, space and tab only. */
bool pc_h1_is_safe_value(const char *value, size_t len);

/* Whether name (lower-case) is a hop-by-hop field that a proxy never forwards. */
bool pc_h1_is_hop_by_hop(const char *name, size_t len);

#endif
