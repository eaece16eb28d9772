/*
 * HTTP/1.1 parsing over llhttp (compiled in strict mode), with the checks llhttp leaves to its
 * user: limits, obs-fold, Host, transfer codings, target form, Expect and upgrades.
 *
 * Heads are accumulated in struct pc_h1_acc: one growing character buffer holding the method
 * name, the target and every field line, plus an array of offsets into it. Offsets rather than
 * pointers because the buffer may move while it grows; they become pointers once the head is
 * complete and the buffer stops growing. Trailers are counted against the limits and dropped.
 */
#include "http/h1.h"

#include <string.h>
#include <strings.h>

#include "core/arena.h"

#define ACC_INITIAL_BYTES         1024
#define ACC_INITIAL_FIELDS        16
#define MAX_CHUNK_EXTENSION_BYTES 4096
#define REQUEST_LINE_OVERHEAD     12 /* two spaces, "HTTP/1.1", CRLF */

struct field_span {
    uint32_t name_off;
    uint32_t name_len;
    uint32_t value_off;
    uint32_t value_len;
};

struct pc_h1_acc {
    char *buf;
    uint32_t len;
    uint32_t cap;
    struct field_span *fields;
    uint32_t n_fields;
    uint32_t cap_fields;
    uint32_t target_off;
    uint32_t target_len;
    uint32_t header_bytes;
    uint32_t extension_bytes;
    bool in_value;
    bool in_trailers;
    uint8_t host_count;
    uint8_t te_count;
    struct pc_h1_head head;
};

/* RFC 9110 section 5.6.2: tchar. */
static const uint8_t is_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,  ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,  ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,  ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,  ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,  ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

static struct pc_h1_parser *
parser_of(llhttp_t *llhttp)
{
    return llhttp->data;
}

static int
fail(struct pc_h1_parser *p, uint16_t status, const char *reason)
{
    pc_h1_set_error(p, status, reason);
    return -1;
}

static int
acc_append(struct pc_h1_parser *p, const char *at, size_t len, bool lower)
{
    struct pc_h1_acc *acc = p->acc;

    if (acc->len + len > acc->cap) {
        size_t cap = acc->cap * 2;
        char *buf;

        while (cap < acc->len + len) {
            cap *= 2;
        }
        if (cap > UINT32_MAX) {
            return fail(p, 431, "headers_too_large");
        }
        buf = pc_arena_alloc(p->arena, cap);
        if (buf == NULL) {
            return fail(p, 503, "out_of_memory");
        }
        memcpy(buf, acc->buf, acc->len);
        acc->buf = buf;
        acc->cap = (uint32_t)cap;
    }

    if (lower) {
        for (size_t i = 0; i < len; i++) {
            char c = at[i];

            acc->buf[acc->len + i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
    } else {
        memcpy(acc->buf + acc->len, at, len);
    }
    acc->len += (uint32_t)len;
    return 0;
}

static int
on_url(llhttp_t *llhttp, const char *at, size_t len)
{
    struct pc_h1_parser *p = parser_of(llhttp);
    struct pc_h1_acc *acc = p->acc;

    if (acc->target_len == 0) {
        acc->target_off = acc->len;
    }
    acc->target_len += (uint32_t)len;
    if (p->limits.max_line_bytes != 0
        && pc_h1_request_line_bytes(llhttp_method_name(llhttp_get_method(llhttp)), acc->target_len)
               > p->limits.max_line_bytes) {
        return fail(p, 414, "request_line_too_long");
    }
    return acc_append(p, at, len, false);
}

static int
count_header_bytes(struct pc_h1_parser *p, size_t len)
{
    struct pc_h1_acc *acc = p->acc;

    acc->header_bytes += (uint32_t)len;
    if (p->limits.max_header_bytes != 0 && acc->header_bytes > p->limits.max_header_bytes) {
        return fail(p, 431, "headers_too_large");
    }
    return 0;
}

static int
start_field(struct pc_h1_parser *p)
{
    struct pc_h1_acc *acc = p->acc;
    struct field_span *span;

    if (p->limits.max_header_count != 0 && acc->n_fields >= p->limits.max_header_count) {
        return fail(p, 431, "too_many_headers");
    }
    if (acc->n_fields == acc->cap_fields) {
        struct field_span *fields = pc_arena_alloc(p->arena, 2 * acc->cap_fields * sizeof(*span));

        if (fields == NULL) {
            return fail(p, 503, "out_of_memory");
        }
        memcpy(fields, acc->fields, acc->n_fields * sizeof(*span));
        acc->fields = fields;
        acc->cap_fields *= 2;
    }

    span = &acc->fields[acc->n_fields++];
    span->name_off = acc->len;
    span->name_len = 0;
    span->value_off = 0;
    span->value_len = 0;
    acc->in_value = false;
    /* Each field line costs its CRLF and ": " too, as nginx and Envoy count it. */
    return count_header_bytes(p, 4);
}

static int
on_header_field(llhttp_t *llhttp, const char *at, size_t len)
{
    struct pc_h1_parser *p = parser_of(llhttp);
    struct pc_h1_acc *acc = p->acc;
    int rc;

    if (acc->in_trailers) {
        return count_header_bytes(p, len);
    }
    if (acc->n_fields == 0 || acc->in_value) {
        rc = start_field(p);
        if (rc != 0) {
            return rc;
        }
    }

    for (size_t i = 0; i < len; i++) {
        if (!is_tchar[(unsigned char)at[i]]) {
            return fail(p, 400, "bad_header_name");
        }
    }
    rc = count_header_bytes(p, len);
    if (rc != 0) {
        return rc;
    }
    acc->fields[acc->n_fields - 1].name_len += (uint32_t)len;
    return acc_append(p, at, len, true);
}

/*
 * RFC 9112 section 5.2: a server must reject obs-fold or replace it with spaces; we reject, so
 * that no downstream parser can see a different header than we did. llhttp reports a folded
 * continuation as a further value span that starts right after the LF ending the previous line.
 */
static bool
is_obs_fold(const struct pc_h1_parser *p, const char *at)
{
    if (at > p->feed_start) {
        return at[-1] == '\n';
    }
    return p->prev_feed_ended_lf;
}

static int
on_header_value(llhttp_t *llhttp, const char *at, size_t len)
{
    struct pc_h1_parser *p = parser_of(llhttp);
    struct pc_h1_acc *acc = p->acc;
    struct field_span *span;
    int rc;

    /* An empty value is reported as an empty span right after its line's LF: not a fold. */
    if (len > 0 && is_obs_fold(p, at)) {
        return fail(p, 400, "obs_fold");
    }
    rc = count_header_bytes(p, len);
    if (rc != 0 || acc->in_trailers) {
        return rc;
    }

    /* Field values are VCHAR, obs-text, SP and HTAB (RFC 9110 section 5.5); llhttp already
     * refuses CR, LF and NUL, and this refuses every other control as well. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return fail(p, 400, "bad_header_value");
        }
    }

    span = &acc->fields[acc->n_fields - 1];
    if (!acc->in_value) {
        span->value_off = acc->len;
        acc->in_value = true;
    }
    span->value_len += (uint32_t)len;
    return acc_append(p, at, len, false);
}

static bool
name_is(const struct pc_h1_acc *acc, const struct field_span *span, const char *name, size_t len)
{
    return span->name_len == len && memcmp(acc->buf + span->name_off, name, len) == 0;
}

static int
on_header_value_complete(llhttp_t *llhttp)
{
    struct pc_h1_parser *p = parser_of(llhttp);
    struct pc_h1_acc *acc = p->acc;
    struct field_span *span;

    if (acc->in_trailers) {
        return 0;
    }
    if (!acc->in_value) {
        /* An empty value produces no value callback; mark the field as complete. */
        acc->fields[acc->n_fields - 1].value_off = acc->len;
        acc->in_value = true;
    }

    span = &acc->fields[acc->n_fields - 1];
    if (span->name_len == 0) {
        return fail(p, 400, "bad_header_name");
    }
    while (span->value_len > 0) {
        char c = acc->buf[span->value_off + span->value_len - 1];

        if (c != ' ' && c != '\t') {
            break;
        }
        span->value_len--;
    }

    if (name_is(acc, span, "host", 4)) {
        acc->host_count++;
    } else if (name_is(acc, span, "transfer-encoding", 17)) {
        acc->te_count++;
    }
    return 0;
}

static int
on_chunk_extension(llhttp_t *llhttp, const char *at, size_t len)
{
    struct pc_h1_parser *p = parser_of(llhttp);

    /* Chunk extensions carry nothing we forward; bound them so they cannot be a free channel
     * for unbounded bytes that no limit counts. */
    p->acc->extension_bytes += (uint32_t)len;
    if (p->acc->extension_bytes > MAX_CHUNK_EXTENSION_BYTES) {
        return fail(p, 400, "chunk_extension_too_long");
    }
    return 0;
}

static void
build_fields(struct pc_h1_acc *acc, struct pc_arena *arena)
{
    struct pc_h1_head *head = &acc->head;

    head->headers = pc_arena_alloc(arena, (acc->n_fields + 1) * sizeof(*head->headers));
    if (head->headers == NULL) {
        head->n_headers = 0;
        return;
    }
    head->host_index = -1;
    for (uint32_t i = 0; i < acc->n_fields; i++) {
        const struct field_span *span = &acc->fields[i];
        struct pc_header_pair *h = &head->headers[i];

        h->name = acc->buf + span->name_off;
        h->name_len = span->name_len;
        h->value = acc->buf + span->value_off;
        h->value_len = span->value_len;
        if (head->host_index < 0 && name_is(acc, span, "host", 4)) {
            head->host_index = (int)i;
        }
    }
    head->n_headers = acc->n_fields;
    head->header_bytes = acc->header_bytes;
}

/* RFC 3986 section 3.2.2 and 3.2.3: IP-literal, IPv4address or reg-name, then an optional
 * port. Refuses what no origin can mean: empty hosts, spaces, userinfo, non-digit ports. */
static bool
is_valid_host(const char *s, size_t len)
{
    unsigned port = 0;
    size_t i = 0;

    if (len == 0) {
        return false;
    }
    if (s[0] == '[') {
        while (i < len && s[i] != ']') {
            char c = s[i];

            if (i > 0
                && !(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                     || (c >= 'A' && c <= 'F'))) {
                return false;
            }
            i++;
        }
        if (i == len || i < 3) {
            return false;
        }
        i++;
    } else {
        static const char extra[] = "-._~!$&'()*+,;=%";

        while (i < len && s[i] != ':') {
            char c = s[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || (c != '\0' && strchr(extra, c) != NULL))) {
                return false;
            }
            i++;
        }
        if (i == 0) {
            return false;
        }
    }
    if (i == len) {
        return true;
    }
    if (s[i] != ':' || len - i - 1 == 0 || len - i - 1 > 5) {
        return false;
    }
    for (i++; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    return port <= 65535;
}

/*
 * Absolute-form targets are what a client sends to a forward proxy. We accept them only when
 * their authority is the Host field's, so that routing (by Host) and the origin's view (by
 * target) cannot disagree; the target is then rewritten to origin-form.
 */
static int
check_target(struct pc_h1_parser *p, struct pc_h1_head *head)
{
    const char *t = head->target;
    size_t len = head->target_len;
    const struct pc_header_pair *host;
    size_t scheme_len;
    const char *authority;
    size_t authority_len = 0;

    if (head->method_id == HTTP_CONNECT) {
        return fail(p, 405, "connect_refused");
    }
    if (len == 1 && t[0] == '*') {
        return head->method_id == HTTP_OPTIONS ? 0 : fail(p, 400, "bad_target");
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return fail(p, 400, "bad_target");
        }
    }
    if (t[0] == '/') {
        return 0;
    }

    if (len > 7 && strncasecmp(t, "http://", 7) == 0) {
        scheme_len = 7;
    } else if (len > 8 && strncasecmp(t, "https://", 8) == 0) {
        scheme_len = 8;
    } else {
        return fail(p, 400, "bad_target");
    }

    authority = t + scheme_len;
    while (scheme_len + authority_len < len && authority[authority_len] != '/'
           && authority[authority_len] != '?') {
        authority_len++;
    }
    host = head->host_index >= 0 ? &head->headers[head->host_index] : NULL;
    if (host == NULL || host->value_len != authority_len
        || strncasecmp(host->value, authority, authority_len) != 0) {
        return fail(p, 400, "host_mismatch");
    }

    head->target = authority + authority_len;
    head->target_len = len - scheme_len - authority_len;
    if (head->target_len == 0) {
        head->target = "/";
        head->target_len = 1;
    } else if (head->target[0] == '?') {
        head->target = pc_arena_sprintf(p->arena, "/%.*s", (int)head->target_len, head->target);
        if (head->target == NULL) {
            return fail(p, 503, "out_of_memory");
        }
        head->target_len++;
    }
    return 0;
}

/* RFC 9112 section 6.1: chunked must be the final coding and applied once; we implement no
 * other coding, so anything else is 501 (Not Implemented), which the RFC asks of a server. */
static int
check_transfer_encoding(struct pc_h1_parser *p, const struct pc_h1_head *head)
{
    const struct pc_header_pair *te = pc_h1_header_find(head, "transfer-encoding", 17);

    if (te == NULL) {
        return 0;
    }
    if (p->acc->te_count > 1) {
        return fail(p, 400, "bad_transfer_encoding");
    }
    if (head->version_minor == 0 && p->llhttp.type == HTTP_REQUEST) {
        /* RFC 9112 section 6.1: a 1.0 message with Transfer-Encoding has faulty framing. */
        return fail(p, 400, "bad_transfer_encoding");
    }

    if (te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0) {
        return 0;
    }
    return fail(p, p->llhttp.type == HTTP_REQUEST ? 501 : 502, "unsupported_transfer_coding");
}

static int
check_request_head(struct pc_h1_parser *p, struct pc_h1_head *head)
{
    const struct pc_header_pair *expect;
    const struct pc_header_pair *host;
    int rc;

    head->method_id = llhttp_get_method(&p->llhttp);
    head->method = llhttp_method_name((llhttp_method_t)head->method_id);
    head->method_len = strlen(head->method);
    head->target = p->acc->buf + p->acc->target_off;
    head->target_len = p->acc->target_len;

    /* RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one before it. */
    if (p->acc->host_count > 1) {
        return fail(p, 400, "repeated_host");
    }
    if (head->host_index < 0) {
        if (head->version_minor == 1) {
            return fail(p, 400, "missing_host");
        }
    } else {
        host = &head->headers[head->host_index];
        if (!is_valid_host(host->value, host->value_len)) {
            return fail(p, 400, "bad_host");
        }
    }

    rc = check_target(p, head);
    if (rc != 0) {
        return rc;
    }

    expect = pc_h1_header_find(head, "expect", 6);
    if (expect != NULL && head->version_minor == 1) {
        if (expect->value_len == 12 && strncasecmp(expect->value, "100-continue", 12) == 0) {
            head->expect_continue = true;
        } else {
            head->expect_other = true;
        }
    }
    return check_transfer_encoding(p, head);
}

static void
set_framing(struct pc_h1_parser *p, struct pc_h1_head *head)
{
    uint16_t flags = p->llhttp.flags;

    if (flags & F_CHUNKED) {
        head->framing = PC_H1_BODY_CHUNKED;
    } else if (flags & F_CONTENT_LENGTH) {
        head->framing = p->llhttp.content_length > 0 ? PC_H1_BODY_LENGTH : PC_H1_BODY_NONE;
        head->content_length = p->llhttp.content_length;
    } else if (p->llhttp.type == HTTP_RESPONSE) {
        unsigned s = head->status;
        bool bodiless = (s >= 100 && s < 200) || s == 204 || s == 304;

        head->framing = bodiless ? PC_H1_BODY_NONE : PC_H1_BODY_CLOSE;
    } else {
        head->framing = PC_H1_BODY_NONE;
    }
}

static int
on_headers_complete(llhttp_t *llhttp)
{
    struct pc_h1_parser *p = parser_of(llhttp);
    struct pc_h1_acc *acc = p->acc;
    struct pc_h1_head *head = &acc->head;
    const struct pc_header_pair *conn;
    int rc;

    if (llhttp->http_major != 1 || llhttp->http_minor > 1) {
        return fail(p, 505, "bad_version");
    }

    build_fields(acc, p->arena);
    if (head->headers == NULL) {
        return fail(p, 503, "out_of_memory");
    }
    head->version_minor = llhttp->http_minor;
    head->status = (uint16_t)llhttp->status_code;

    if (llhttp->type == HTTP_REQUEST) {
        rc = check_request_head(p, head);
    } else {
        rc = check_transfer_encoding(p, head);
    }
    if (rc != 0) {
        return rc;
    }

    set_framing(p, head);
    head->is_keep_alive = llhttp_should_keep_alive(llhttp) != 0;
    conn = pc_h1_header_find(head, "connection", 10);
    head->wants_upgrade = conn != NULL && pc_h1_header_find(head, "upgrade", 7) != NULL
                          && pc_h1_value_has_token(conn->value, conn->value_len, "upgrade", 7);

    acc->in_trailers = true;
    p->head_done = true;
    rc = p->cb->on_head(p->owner, head);
    if (rc < 0) {
        return -1;
    }
    if (llhttp->type == HTTP_REQUEST) {
        return HPE_PAUSED;
    }
    return rc;
}

static int
on_body(llhttp_t *llhttp, const char *at, size_t len)
{
    struct pc_h1_parser *p = parser_of(llhttp);

    return p->cb->on_body(p->owner, at, len) == 0 ? 0 : -1;
}

static int
on_message_complete(llhttp_t *llhttp)
{
    struct pc_h1_parser *p = parser_of(llhttp);

    p->head_done = false;
    p->cb->on_complete(p->owner);
    return HPE_PAUSED;
}

static const llhttp_settings_t request_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
};

static const llhttp_settings_t response_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
};

void
pc_h1_init(struct pc_h1_parser *p, enum pc_h1_kind kind, const struct pc_h1_callbacks *cb,
           void *owner)
{
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->llhttp, kind == PC_H1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE,
                kind == PC_H1_REQUEST ? &request_settings : &response_settings);
    p->llhttp.data = p;
    p->cb = cb;
    p->owner = owner;
}

void
pc_h1_begin(struct pc_h1_parser *p, struct pc_arena *arena, const struct pc_h1_limits *limits)
{
    p->arena = arena;
    p->limits = *limits;
    p->acc = NULL;
    p->error_status = 0;
    p->error_reason = NULL;
    p->head_done = false;
    p->is_head_scanned = false;
    p->scan_last_byte = '\0';
    p->scan_pos = 0;
    p->scan_last_lf = 0;
}

/*
 * RFC 9112 section 2.2 lets a recipient accept a bare LF as a line end, and llhttp's strict mode
 * does so after the request line. We refuse it everywhere in a head: a line end that one parser
 * accepts and another does not is how requests get smuggled. Jumps from LF to LF, and stops at
 * the empty line that ends the head, since body bytes may hold anything.
 */
static bool
has_bare_lf(struct pc_h1_parser *p, const char *data, size_t len)
{
    const char *q = memchr(data, '\n', len);

    while (q != NULL && !p->is_head_scanned) {
        size_t j = (size_t)(q - data);
        char prev = j > 0 ? data[j - 1] : p->scan_last_byte;
        uint64_t at = p->scan_pos + j + 1;

        if (prev != '\r') {
            return true;
        }
        if (p->scan_last_lf != 0 && at == p->scan_last_lf + 2) {
            p->is_head_scanned = true;
            break;
        }
        p->scan_last_lf = at;
        q = memchr(q + 1, '\n', len - j - 1);
    }
    p->scan_pos += len;
    p->scan_last_byte = data[len - 1];
    return false;
}

static int
acc_create(struct pc_h1_parser *p)
{
    struct pc_h1_acc *acc = pc_arena_calloc(p->arena, 1, sizeof(*acc));

    if (acc == NULL) {
        return -1;
    }
    acc->buf = pc_arena_alloc(p->arena, ACC_INITIAL_BYTES);
    acc->fields = pc_arena_alloc(p->arena, ACC_INITIAL_FIELDS * sizeof(*acc->fields));
    if (acc->buf == NULL || acc->fields == NULL) {
        return -1;
    }
    acc->cap = ACC_INITIAL_BYTES;
    acc->cap_fields = ACC_INITIAL_FIELDS;
    acc->head.host_index = -1;
    p->acc = acc;
    return 0;
}

static void
map_llhttp_error(struct pc_h1_parser *p, llhttp_errno_t err)
{
    const char *reason = llhttp_get_error_reason(&p->llhttp);

    switch (err) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        if (reason != NULL && strstr(reason, "Transfer-Encoding") != NULL) {
            pc_h1_set_error(p, 400, "te_with_cl");
        } else {
            pc_h1_set_error(p, 400, "repeated_content_length");
        }
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        pc_h1_set_error(p, 400, "bad_content_length");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        pc_h1_set_error(p, 400, "bad_transfer_encoding");
        break;
    case HPE_INVALID_HEADER_TOKEN:
        pc_h1_set_error(p, 400, "bad_header");
        break;
    case HPE_INVALID_METHOD:
        pc_h1_set_error(p, 400, "bad_method");
        break;
    case HPE_INVALID_URL:
        pc_h1_set_error(p, 400, "bad_target");
        break;
    case HPE_INVALID_VERSION:
    case HPE_PAUSED_H2_UPGRADE:
        pc_h1_set_error(p, 505, "bad_version");
        break;
    case HPE_INVALID_CHUNK_SIZE:
        pc_h1_set_error(p, 400, "bad_chunk");
        break;
    default:
        pc_h1_set_error(p, 400, "malformed");
        break;
    }
}

enum pc_h1_result
pc_h1_feed(struct pc_h1_parser *p, const char *data, size_t len, size_t *consumed)
{
    llhttp_errno_t err;

    *consumed = 0;
    if (p->acc == NULL && acc_create(p) != 0) {
        pc_h1_set_error(p, 503, "out_of_memory");
        return PC_H1_ERROR;
    }
    if (len == 0) {
        /* Still worth a call: a message that needs no more bytes completes on it. */
        data = "";
    }

    if (len > 0 && p->llhttp.type == HTTP_REQUEST && !p->is_head_scanned
        && has_bare_lf(p, data, len)) {
        pc_h1_set_error(p, 400, "bare_lf");
        return PC_H1_ERROR;
    }

    p->feed_start = data;
    err = llhttp_execute(&p->llhttp, data, len);
    if (len > 0) {
        p->prev_feed_ended_lf = data[len - 1] == '\n';
    }

    switch (err) {
    case HPE_OK:
        *consumed = len;
        return PC_H1_OK;
    case HPE_PAUSED:
        *consumed = (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
        return PC_H1_PAUSED;
    case HPE_PAUSED_UPGRADE:
        *consumed = (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
        return PC_H1_UPGRADE;
    default:
        if (p->error_status == 0) {
            map_llhttp_error(p, err);
        }
        return PC_H1_ERROR;
    }
}

void
pc_h1_resume(struct pc_h1_parser *p)
{
    llhttp_errno_t err = llhttp_get_errno(&p->llhttp);

    if (err == HPE_PAUSED) {
        llhttp_resume(&p->llhttp);
    } else if (err == HPE_PAUSED_UPGRADE) {
        llhttp_resume_after_upgrade(&p->llhttp);
    }
}

enum pc_h1_result
pc_h1_finish(struct pc_h1_parser *p)
{
    llhttp_errno_t err = llhttp_finish(&p->llhttp);

    if (err == HPE_OK || err == HPE_PAUSED) {
        return PC_H1_OK;
    }
    pc_h1_set_error(p, 502, "truncated");
    return PC_H1_ERROR;
}

bool
pc_h1_keep_alive(const struct pc_h1_parser *p)
{
    return llhttp_should_keep_alive(&p->llhttp) != 0;
}

bool
pc_h1_in_message(const struct pc_h1_parser *p)
{
    return llhttp_message_needs_eof(&p->llhttp) || p->head_done
           || (p->acc != NULL && p->acc->len > 0);
}

void
pc_h1_set_error(struct pc_h1_parser *p, uint16_t status, const char *reason)
{
    if (p->error_status == 0) {
        p->error_status = status;
        p->error_reason = reason;
    }
}

uint16_t
pc_h1_error_status(const struct pc_h1_parser *p)
{
    return p->error_status != 0 ? p->error_status : 400;
}

const char *
pc_h1_error_reason(const struct pc_h1_parser *p)
{
    return p->error_reason != NULL ? p->error_reason : "malformed";
}

const struct pc_header_pair *
pc_h1_header_find(const struct pc_h1_head *head, const char *name, size_t name_len)
{
    for (size_t i = 0; i < head->n_headers; i++) {
        const struct pc_header_pair *h = &head->headers[i];

        if (h->name_len == name_len && memcmp(h->name, name, name_len) == 0) {
            return h;
        }
    }
    return NULL;
}

bool
pc_h1_value_has_token(const char *value, size_t len, const char *token, size_t token_len)
{
    size_t i = 0;

    while (i < len) {
        size_t start;
        size_t end;

        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) {
            i++;
        }
        start = i;
        while (i < len && value[i] != ',') {
            i++;
        }
        end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t')) {
            end--;
        }
        if (end - start == token_len && strncasecmp(value + start, token, token_len) == 0) {
            return true;
        }
    }
    return false;
}

/* The IANA HTTP Status Code Registry's phrases (RFC 9110 section 15 and the RFCs it lists),
 * in code order. */
static const struct {
    unsigned short code;
    const char *phrase;
} reason_phrases[] = {
    { 100, "Continue" },
    { 101, "Switching Protocols" },
    { 102, "Processing" },
    { 103, "Early Hints" },
    { 200, "OK" },
    { 201, "Created" },
    { 202, "Accepted" },
    { 203, "Non-Authoritative Information" },
    { 204, "No Content" },
    { 205, "Reset Content" },
    { 206, "Partial Content" },
    { 207, "Multi-Status" },
    { 208, "Already Reported" },
    { 226, "IM Used" },
    { 300, "Multiple Choices" },
    { 301, "Moved Permanently" },
    { 302, "Found" },
    { 303, "See Other" },
    { 304, "Not Modified" },
    { 305, "Use Proxy" },
    { 307, "Temporary Redirect" },
    { 308, "Permanent Redirect" },
    { 400, "Bad Request" },
    { 401, "Unauthorized" },
    { 402, "Payment Required" },
    { 403, "Forbidden" },
    { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" },
    { 408, "Request Timeout" },
    { 409, "Conflict" },
    { 410, "Gone" },
    { 411, "Length Required" },
    { 412, "Precondition Failed" },
    { 413, "Content Too Large" },
    { 414, "URI Too Long" },
    { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" },
    { 417, "Expectation Failed" },
    { 421, "Misdirected Request" },
    { 422, "Unprocessable Content" },
    { 423, "Locked" },
    { 424, "Failed Dependency" },
    { 425, "Too Early" },
    { 426, "Upgrade Required" },
    { 428, "Precondition Required" },
    { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" },
    { 451, "Unavailable For Legal Reasons" },
    { 500, "Internal Server Error" },
    { 501, "Not Implemented" },
    { 502, "Bad Gateway" },
    { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" },
    { 505, "HTTP Version Not Supported" },
    { 506, "Variant Also Negotiates" },
    { 507, "Insufficient Storage" },
    { 508, "Loop Detected" },
    { 511, "Network Authentication Required" },
};

const char *
pc_h1_reason_phrase(unsigned status)
{
    size_t lo = 0;
    size_t hi = sizeof(reason_phrases) / sizeof(reason_phrases[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (reason_phrases[mid].code == status) {
            return reason_phrases[mid].phrase;
        }
        if (reason_phrases[mid].code < status) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return "Unknown";
}

size_t
pc_h1_request_line_bytes(const char *method, size_t target_len)
{
    return strlen(method) + target_len + REQUEST_LINE_OVERHEAD;
}

bool
pc_h1_is_safe_value(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

bool
pc_h1_is_hop_by_hop(const char *name, size_t len)
{
    /* RFC 9110 section 7.6.1 and the fields older proxies treat as connection-specific. */
    static const struct {
        const char *name;
        size_t len;
    } fields[] = {
        { "connection", 10 },        { "keep-alive", 10 }, { "proxy-connection", 16 }, { "te", 2 },
        { "transfer-encoding", 17 }, { "upgrade", 7 },     { "trailer", 7 },
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (len == fields[i].len && memcmp(name, fields[i].name, len) == 0) {
            return true;
        }
    }
    return false;
}
