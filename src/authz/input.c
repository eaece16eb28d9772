/*
 * The authorization input document, cache-key values and decision-log facts, written as JSON
 * text by hand (see input.h for the shape).
 *
 * Building happens in two steps. prepare() does everything that needs memory: it picks and
 * sorts the headers to include, splits and decodes the query and the path, and serialises the
 * claims with jansson, all into the arena. Then write_doc() runs twice over the prepared parts,
 * first with a writer that only counts bytes and then with one that copies them into a buffer
 * of exactly that size, so the document costs one allocation and no copy.
 *
 * Everything lives in the caller's arena; nothing is kept between calls. Runs on the worker
 * serving the request.
 */
#include "authz/input.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "authn/principal.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/fmt.h"
#include "tls/peer.h"

#define REDACTED "<redacted>"

/* Claims that serialise within this many bytes are written once; larger ones twice. */
#define CLAIMS_STACK_BYTES 2048

/* Writes JSON text into buf, or only counts it when buf is NULL. */
struct writer {
    char *buf;
    size_t len;
};

struct slice {
    const char *ptr;
    size_t len;
};

/* A header chosen for the document; sorted by name, then arrival. */
struct header_ref {
    const struct pc_header_pair *h;
    size_t order;
};

/* A decoded query parameter; sorted by name, then position. */
struct query_pair {
    struct slice key;
    struct slice value;
    size_t order;
};

/* The parts of the document that take memory to make. */
struct doc {
    const struct pc_authz_view *view;
    bool is_for_log;
    struct header_ref *headers;
    size_t n_headers;
    struct query_pair *pairs;
    size_t n_pairs;
    struct slice *segments;
    size_t n_segments;
    struct slice claims; /* compact JSON, arena memory; empty when anonymous */
};

/* ---- the writer ---- */

static void
put(struct writer *w, const void *p, size_t n)
{
    if (w->buf != NULL && n > 0) {
        memcpy(w->buf + w->len, p, n);
    }
    w->len += n;
}

static void
put_lit(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void
put_u64(struct writer *w, uint64_t v)
{
    char digits[20];

    put(w, digits, pc_fmt_u64(digits, v));
}

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 when the bytes there are not one.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/*
 * Writes the n bytes at s as the inside of a JSON string (RFC 8259 section 7): quote, backslash
 * and controls escaped, valid UTF-8 copied, and every byte that does not start a valid sequence
 * replaced by U+FFFD, one for one, as Go's encoder does.
 */
static void
put_escaped(struct writer *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0;
    size_t i = 0;

    while (i < n) {
        unsigned char c = u[i];
        size_t seq;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        seq = c >= 0x80 ? utf8_sequence(u + i, n - i) : 0;
        if (seq > 0) {
            i += seq;
            continue;
        }
        put(w, s + start, i - start);
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };

            put(w, esc, 2);
        } else if (c == '\n') {
            put_lit(w, "\\n");
        } else if (c == '\r') {
            put_lit(w, "\\r");
        } else if (c == '\t') {
            put_lit(w, "\\t");
        } else if (c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

            put(w, esc, 6);
        } else {
            put_lit(w, "\xef\xbf\xbd");
        }
        i++;
        start = i;
    }
    put(w, s + start, n - start);
}

static void
put_string(struct writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    put_escaped(w, s, n);
    put(w, "\"", 1);
}

/* A NUL-terminated string; NULL is written as "". */
static void
put_cstring(struct writer *w, const char *s)
{
    put_string(w, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* ,"key": (the comma unless first) */
static void
put_key(struct writer *w, const char *key, bool is_first)
{
    if (!is_first) {
        put(w, ",", 1);
    }
    put(w, "\"", 1);
    put_lit(w, key);
    put(w, "\":", 2);
}

/* ---- addresses ---- */

/* Dotted-quad text of the 4 bytes at a (inet_ntop formats them with sprintf, which showed in
 * profiles of the decision log's facts). buf has room for INET_ADDRSTRLEN; returns the text. */
static const char *
format_ipv4(const unsigned char *a, char *buf)
{
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            buf[n++] = '.';
        }
        n += pc_fmt_u64(buf + n, a[i]);
    }
    buf[n] = '\0';
    return buf;
}

/*
 * Writes the IP address of ss as text into buf (room for INET6_ADDRSTRLEN) and its port into
 * *port. An IPv4-mapped IPv6 address is written as the IPv4 address it stands for (RFC 4291
 * section 2.5.5.2), as rules compare it. Returns the length, or 0 for another family.
 */
static size_t
format_addr(const struct sockaddr_storage *ss, char *buf, uint16_t *port)
{
    static const unsigned char mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const char *text = NULL;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        *port = ntohs(sin->sin_port);
        text = format_ipv4((const unsigned char *)&sin->sin_addr, buf);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        const unsigned char *a = sin6->sin6_addr.s6_addr;

        *port = ntohs(sin6->sin6_port);
        if (memcmp(a, mapped_prefix, sizeof(mapped_prefix)) == 0) {
            text = format_ipv4(a + 12, buf);
        } else {
            text = inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
        }
    }
    return text != NULL ? strlen(text) : 0;
}

/*
 * Writes "address":{"socketAddress":{"address":"...","portValue":N}} as a member of the caller's
 * object, or nothing when ss holds no IP address. Returns whether it wrote.
 */
static bool
put_socket_address(struct writer *w, const struct sockaddr_storage *ss, bool is_first)
{
    char text[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    size_t len = format_addr(ss, text, &port);

    if (len == 0) {
        return false;
    }
    put_key(w, "address", is_first);
    put_lit(w, "{\"socketAddress\":{\"address\":");
    put_string(w, text, len);
    put_lit(w, ",\"portValue\":");
    put_u64(w, port);
    put_lit(w, "}}");
    return true;
}

/* ---- preparing ---- */

static bool
is_credential_header(const struct pc_authz_view *view, const char *name, size_t len)
{
    if ((len == 13 && memcmp(name, "authorization", 13) == 0)
        || (len == 19 && memcmp(name, "proxy-authorization", 19) == 0)
        || (len == 6 && memcmp(name, "cookie", 6) == 0)) {
        return true;
    }
    return view->token_header != NULL && len == view->token_header_len
           && strncasecmp(name, view->token_header, len) == 0;
}

static bool
is_listed(const struct pc_authz_input_options *opts, const struct pc_header_pair *h)
{
    if (opts == NULL || opts->headers == NULL) {
        return true;
    }
    for (size_t i = 0; i < opts->n_headers; i++) {
        const char *name = opts->headers[i];

        if (strlen(name) == h->name_len && strncasecmp(name, h->name, h->name_len) == 0) {
            return true;
        }
    }
    return false;
}

static int
compare_slices(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

    if (c != 0) {
        return c;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int
compare_headers(const void *pa, const void *pb)
{
    const struct header_ref *a = pa;
    const struct header_ref *b = pb;
    int c = compare_slices(a->h->name, a->h->name_len, b->h->name, b->h->name_len);

    if (c != 0) {
        return c;
    }
    return a->order < b->order ? -1 : 1;
}

static int
compare_pairs(const void *pa, const void *pb)
{
    const struct query_pair *a = pa;
    const struct query_pair *b = pb;
    int c = compare_slices(a->key.ptr, a->key.len, b->key.ptr, b->key.len);

    if (c != 0) {
        return c;
    }
    return a->order < b->order ? -1 : 1;
}

/*
 * RFC 9110 section 5.1: a field name is a token. The parser lets no other through; a view that
 * held one anyway would leave it out rather than risk two names escaping to one member name.
 */
static bool
is_token(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL) {
            return false;
        }
    }
    return true;
}

/* Groups repeated headers: sorted by name, arrival order kept within a name. */
static int
prepare_headers(struct doc *d, const struct pc_authz_input_options *opts, struct pc_arena *arena)
{
    const struct pc_authz_view *view = d->view;

    if (view->n_headers == 0) {
        return 0;
    }
    d->headers = pc_arena_alloc(arena, view->n_headers * sizeof(*d->headers));
    if (d->headers == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < view->n_headers; i++) {
        if (is_token(view->headers[i].name, view->headers[i].name_len)
            && is_listed(opts, &view->headers[i])) {
            d->headers[d->n_headers++] = (struct header_ref){ &view->headers[i], i };
        }
    }
    qsort(d->headers, d->n_headers, sizeof(*d->headers), compare_headers);
    return 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Percent-decodes src into dst (room for len bytes). In a query component '+' is a space and a
 * malformed escape makes the component unreadable (false), as in Go's url.QueryUnescape; in a
 * path segment a malformed escape is kept as it is.
 */
static bool
percent_decode(const char *src, size_t len, char *dst, size_t *out_len, bool is_query)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int hi = src[i] == '%' && i + 2 < len ? hex_value(src[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(src[i + 2]) : -1;

        if (src[i] == '%' && lo >= 0) {
            dst[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (src[i] == '%' && is_query) {
            return false;
        } else {
            dst[n++] = is_query && src[i] == '+' ? ' ' : src[i];
        }
    }
    *out_len = n;
    return true;
}

/*
 * Makes a decoded query name valid UTF-8, each stray byte replaced by U+FFFD as the writer
 * would, so that names differing only in invalid bytes group under the one member name they
 * are written as instead of repeating it. Returns false when out of memory.
 */
static bool
sanitize_name(struct slice *name, struct pc_arena *arena)
{
    const unsigned char *u = (const unsigned char *)name->ptr;
    char *out;
    size_t n = 0;
    size_t i = 0;

    while (i < name->len && (u[i] < 0x80 || utf8_sequence(u + i, name->len - i) > 0)) {
        i += u[i] < 0x80 ? 1 : utf8_sequence(u + i, name->len - i);
    }
    if (i == name->len) {
        return true;
    }
    out = pc_arena_alloc(arena, name->len * 3);
    if (out == NULL) {
        return false;
    }
    for (i = 0; i < name->len;) {
        size_t seq = u[i] < 0x80 ? 1 : utf8_sequence(u + i, name->len - i);

        if (seq == 0) {
            memcpy(out + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
            continue;
        }
        memcpy(out + n, u + i, seq);
        n += seq;
        i += seq;
    }
    name->ptr = out;
    name->len = n;
    return true;
}

/* Go's url.ParseQuery, as the opa-envoy plugin reads queries (see input.h). */
static int
prepare_query(struct doc *d, struct pc_arena *arena)
{
    const char *q = d->view->query;
    size_t len = d->view->query_len;
    size_t max_pairs = 1;
    char *decoded;
    size_t used = 0;
    size_t start = 0;

    if (q == NULL || len == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        max_pairs += q[i] == '&' ? 1 : 0;
    }
    d->pairs = pc_arena_alloc(arena, max_pairs * sizeof(*d->pairs));
    decoded = pc_arena_alloc(arena, len);
    if (d->pairs == NULL || decoded == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i <= len; i++) {
        const char *piece = q + start;
        size_t piece_len = i - start;
        const char *eq;
        size_t key_len;
        struct query_pair *p = &d->pairs[d->n_pairs];

        if (i < len && q[i] != '&') {
            continue;
        }
        start = i + 1;
        if (piece_len == 0 || memchr(piece, ';', piece_len) != NULL) {
            continue;
        }
        eq = memchr(piece, '=', piece_len);
        key_len = eq != NULL ? (size_t)(eq - piece) : piece_len;
        p->key.ptr = decoded + used;
        if (!percent_decode(piece, key_len, decoded + used, &p->key.len, true)) {
            continue;
        }
        p->value.ptr = decoded + used + p->key.len;
        p->value.len = 0;
        if (eq != NULL
            && !percent_decode(eq + 1, piece_len - key_len - 1, decoded + used + p->key.len,
                               &p->value.len, true)) {
            continue;
        }
        used += p->key.len + p->value.len;
        if (!sanitize_name(&p->key, arena)) {
            return PC_ENOMEM;
        }
        p->order = d->n_pairs++;
    }
    qsort(d->pairs, d->n_pairs, sizeof(*d->pairs), compare_pairs);
    return 0;
}

/* The path's segments after its leading slashes, each percent-decoded on its own. */
static int
prepare_path(struct doc *d, struct pc_arena *arena)
{
    const char *path = d->view->path != NULL ? d->view->path : "";
    size_t len = d->view->path != NULL ? d->view->path_len : 0;
    size_t skip = 0;
    size_t max_segments = 1;
    char *decoded;
    size_t used = 0;
    size_t start;

    while (skip < len && path[skip] == '/') {
        skip++;
    }
    for (size_t i = skip; i < len; i++) {
        max_segments += path[i] == '/' ? 1 : 0;
    }
    d->segments = pc_arena_alloc(arena, max_segments * sizeof(*d->segments));
    decoded = pc_arena_alloc(arena, len + 1);
    if (d->segments == NULL || decoded == NULL) {
        return PC_ENOMEM;
    }
    start = skip;
    for (size_t i = skip; i <= len; i++) {
        struct slice *seg = &d->segments[d->n_segments];

        if (i < len && path[i] != '/') {
            continue;
        }
        seg->ptr = decoded + used;
        percent_decode(path + start, i - start, decoded + used, &seg->len, false);
        used += seg->len;
        d->n_segments++;
        start = i + 1;
    }
    return 0;
}

/* The claims as jansson writes them compactly, into the arena. */
static int
prepare_claims(struct doc *d, struct pc_arena *arena)
{
    char stack[CLAIMS_STACK_BYTES];
    const json_t *claims;
    size_t n;
    char *buf;

    if (d->view->principal == NULL) {
        return 0;
    }
    claims = pc_principal_claims(d->view->principal);
    n = json_dumpb(claims, stack, sizeof(stack), JSON_COMPACT);
    if (n == 0) {
        return PC_ENOMEM;
    }
    buf = pc_arena_alloc(arena, n);
    if (buf == NULL) {
        return PC_ENOMEM;
    }
    if (n <= sizeof(stack)) {
        memcpy(buf, stack, n);
    } else if (json_dumpb(claims, buf, n, JSON_COMPACT) != n) {
        return PC_ENOMEM;
    }
    d->claims = (struct slice){ buf, n };
    return 0;
}

static int
prepare(struct doc *d, const struct pc_authz_view *view, const struct pc_authz_input_options *opts,
        struct pc_arena *arena)
{
    int rc;

    memset(d, 0, sizeof(*d));
    d->view = view;
    d->is_for_log = opts != NULL && opts->is_for_log;
    rc = prepare_headers(d, opts, arena);
    if (rc == 0) {
        rc = prepare_query(d, arena);
    }
    if (rc == 0) {
        rc = prepare_path(d, arena);
    }
    if (rc == 0) {
        rc = prepare_claims(d, arena);
    }
    return rc;
}

/* ---- writing ---- */

/* The value of one header group: its fields joined, or the redaction mark. */
static void
put_header_value(struct writer *w, const struct doc *d, size_t first, size_t end)
{
    const struct pc_header_pair *h = d->headers[first].h;
    bool is_cookie = (h->name_len == 6 && memcmp(h->name, "cookie", 6) == 0)
                     || (h->name_len == 10 && memcmp(h->name, "set-cookie", 10) == 0);

    if (d->is_for_log && is_credential_header(d->view, h->name, h->name_len)) {
        put_lit(w, "\"" REDACTED "\"");
        return;
    }
    put(w, "\"", 1);
    for (size_t i = first; i < end; i++) {
        if (i > first) {
            put_lit(w, is_cookie ? "; " : ", ");
        }
        put_escaped(w, d->headers[i].h->value, d->headers[i].h->value_len);
    }
    put(w, "\"", 1);
}

/* Returns the end of the group of same-named headers that starts at first. */
static size_t
group_end(const struct doc *d, size_t first)
{
    const struct pc_header_pair *h = d->headers[first].h;
    size_t end = first + 1;

    while (end < d->n_headers && d->headers[end].h->name_len == h->name_len
           && memcmp(d->headers[end].h->name, h->name, h->name_len) == 0) {
        end++;
    }
    return end;
}

static void
put_headers(struct writer *w, const struct doc *d)
{
    put(w, "{", 1);
    for (size_t i = 0; i < d->n_headers;) {
        size_t end = group_end(d, i);

        if (i > 0) {
            put(w, ",", 1);
        }
        put_string(w, d->headers[i].h->name, d->headers[i].h->name_len);
        put(w, ":", 1);
        put_header_value(w, d, i, end);
        i = end;
    }
    put(w, "}", 1);
}

/* "/users/42" and "x=1" as attributes.request.http.path holds them: "/users/42?x=1". */
static void
put_full_path(struct writer *w, const struct pc_authz_view *view)
{
    put(w, "\"", 1);
    if (view->path != NULL) {
        put_escaped(w, view->path, view->path_len);
    }
    if (view->query != NULL) {
        put(w, "?", 1);
        put_escaped(w, view->query, view->query_len);
    }
    put(w, "\"", 1);
}

static void
put_http(struct writer *w, const struct doc *d)
{
    const struct pc_authz_view *view = d->view;

    put_lit(w, "{\"id\":");
    put_string(w, view->request_id != NULL ? view->request_id : "", view->request_id_len);
    put_lit(w, ",\"method\":");
    put_string(w, view->method != NULL ? view->method : "", view->method_len);
    put_lit(w, ",\"path\":");
    put_full_path(w, view);
    put_lit(w, ",\"host\":");
    put_string(w, view->host != NULL ? view->host : "", view->host_len);
    put_lit(w, ",\"scheme\":");
    put_cstring(w, view->scheme);
    put_lit(w, ",\"protocol\":");
    put_cstring(w, view->protocol);
    put_lit(w, ",\"headers\":");
    put_headers(w, d);
    put(w, "}", 1);
}

/* Envoy's source principal: the SPIFFE ID, else the first URI SAN, DNS SAN, or the subject. */
static const char *
peer_principal(const struct pc_peer_identity *peer)
{
    if (peer->spiffe_id != NULL) {
        return peer->spiffe_id;
    }
    if (peer->n_uris > 0) {
        return peer->uris[0];
    }
    if (peer->n_dns > 0) {
        return peer->dns[0];
    }
    return peer->subject;
}

static void
put_attributes(struct writer *w, const struct doc *d)
{
    const struct pc_authz_view *view = d->view;

    bool has_address;

    put_lit(w, "{\"source\":{");
    has_address = put_socket_address(w, &view->client_addr, true);
    if (view->peer != NULL) {
        put_key(w, "principal", !has_address);
        put_cstring(w, peer_principal(view->peer));
    }
    put_lit(w, "},\"destination\":{");
    put_socket_address(w, &view->local_addr, true);
    put_lit(w, "},\"request\":{\"http\":");
    put_http(w, d);
    put_lit(w, "}}");
}

static void
put_parsed(struct writer *w, const struct doc *d)
{
    put_lit(w, ",\"parsed_path\":[");
    for (size_t i = 0; i < d->n_segments; i++) {
        if (i > 0) {
            put(w, ",", 1);
        }
        put_string(w, d->segments[i].ptr, d->segments[i].len);
    }
    put_lit(w, "],\"parsed_query\":{");
    for (size_t i = 0; i < d->n_pairs; i++) {
        const struct query_pair *p = &d->pairs[i];
        bool is_new_key = i == 0
                          || compare_slices(p->key.ptr, p->key.len, d->pairs[i - 1].key.ptr,
                                            d->pairs[i - 1].key.len)
                                 != 0;

        if (is_new_key) {
            put_lit(w, i > 0 ? "]," : "");
            put_string(w, p->key.ptr, p->key.len);
            put_lit(w, ":[");
        } else {
            put(w, ",", 1);
        }
        put_string(w, p->value.ptr, p->value.len);
    }
    put_lit(w, d->n_pairs > 0 ? "]}" : "}");
}

static void
put_names(struct writer *w, const struct pc_principal_name *names, size_t n)
{
    put(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            put(w, ",", 1);
        }
        put_string(w, names[i].ptr, names[i].len);
    }
    put(w, "]", 1);
}

static void
put_optional(struct writer *w, const char *key, const char *value)
{
    if (value != NULL) {
        put_key(w, key, false);
        put_cstring(w, value);
    }
}

static void
put_principal(struct writer *w, const struct doc *d)
{
    const struct pc_principal *p = d->view->principal;
    const struct pc_principal_name *names;
    size_t n = 0;

    if (p == NULL) {
        put_lit(w, ",\"principal\":{\"authenticated\":false}");
        return;
    }
    put_lit(w, ",\"principal\":{\"authenticated\":true");
    put_optional(w, "sub", pc_principal_subject(p));
    put_optional(w, "iss", pc_principal_issuer(p));
    put_optional(w, "client_id", pc_principal_client_id(p));
    names = pc_principal_scopes(p, &n);
    put_lit(w, ",\"scopes\":");
    put_names(w, names, n);
    names = pc_principal_roles(p, &n);
    put_lit(w, ",\"roles\":");
    put_names(w, names, n);
    put_lit(w, ",\"claims\":");
    put(w, d->claims.ptr, d->claims.len);
    put(w, "}", 1);
}

static void
put_cstrings(struct writer *w, const char *const *list, size_t n)
{
    put(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            put(w, ",", 1);
        }
        put_cstring(w, list[i]);
    }
    put(w, "]", 1);
}

static void
put_peer(struct writer *w, const struct pc_peer_identity *peer)
{
    if (peer == NULL) {
        return;
    }
    put_lit(w, ",\"peer\":{\"subject\":");
    put_cstring(w, peer->subject);
    put_optional(w, "spiffe_id", peer->spiffe_id);
    put_lit(w, ",\"dns_names\":");
    put_cstrings(w, peer->dns, peer->n_dns);
    put_lit(w, ",\"uris\":");
    put_cstrings(w, peer->uris, peer->n_uris);
    put_lit(w, ",\"fingerprint_sha256\":");
    put_string(w, peer->sha256_hex, strnlen(peer->sha256_hex, sizeof(peer->sha256_hex)));
    put(w, "}", 1);
}

static void
put_route(struct writer *w, const struct pc_authz_view *view)
{
    put_lit(w, ",\"route\":{\"name\":");
    put_cstring(w, view->route_name);
    put_lit(w, ",\"rule\":");
    put_u64(w, view->rule_index);
    put_lit(w, ",\"listener\":");
    put_cstring(w, view->listener);
    put(w, "}", 1);
}

static void
write_doc(struct writer *w, const struct doc *d)
{
    put_lit(w, "{\"attributes\":");
    put_attributes(w, d);
    put_parsed(w, d);
    put_principal(w, d);
    put_peer(w, d->view->peer);
    put_route(w, d->view);
    put(w, "}", 1);
}

/* ---- the public functions ---- */

typedef void (*write_fn)(struct writer *w, const void *ctx);

/* Measures, allocates the exact size, writes; the result is NUL-terminated arena memory. */
static int
write_twice(write_fn fn, const void *ctx, struct pc_arena *arena, char **out, size_t *len)
{
    struct writer count = { NULL, 0 };
    struct writer w = { NULL, 0 };

    fn(&count, ctx);
    w.buf = pc_arena_alloc(arena, count.len + 1);
    if (w.buf == NULL) {
        return PC_ENOMEM;
    }
    fn(&w, ctx);
    PC_ASSERT(w.len == count.len);
    w.buf[w.len] = '\0';
    *out = w.buf;
    *len = w.len;
    return 0;
}

static void
write_doc_fn(struct writer *w, const void *ctx)
{
    write_doc(w, ctx);
}

int
pc_authz_input_build(const struct pc_authz_view *view, const struct pc_authz_input_options *opts,
                     struct pc_arena *arena, char **out, size_t *len)
{
    struct doc d;
    int rc;

    rc = prepare(&d, view, opts, arena);
    if (rc != 0) {
        return rc;
    }
    return write_twice(write_doc_fn, &d, arena, out, len);
}

enum key_kind {
    KEY_METHOD,
    KEY_PATH,
    KEY_HOST,
    KEY_HEADER,
    KEY_SOURCE,
    KEY_PARSED_PATH,
    KEY_SUB,
    KEY_ISS,
    KEY_CLIENT_ID,
    KEY_SPIFFE_ID,
};

#define HEADERS_PREFIX "attributes.request.http.headers."

/* Reads a cache-key path; *header is the header name for KEY_HEADER. */
static bool
parse_key_path(const char *path, enum key_kind *kind, const char **header)
{
    static const struct {
        const char *path;
        enum key_kind kind;
    } paths[] = {
        { "attributes.request.http.method", KEY_METHOD },
        { "attributes.request.http.path", KEY_PATH },
        { "attributes.request.http.host", KEY_HOST },
        { "attributes.source.address", KEY_SOURCE },
        { "parsed_path", KEY_PARSED_PATH },
        { "principal.sub", KEY_SUB },
        { "principal.iss", KEY_ISS },
        { "principal.client_id", KEY_CLIENT_ID },
        { "peer.spiffe_id", KEY_SPIFFE_ID },
    };

    if (path == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (strcmp(path, paths[i].path) == 0) {
            *kind = paths[i].kind;
            return true;
        }
    }
    if (strncmp(path, HEADERS_PREFIX, strlen(HEADERS_PREFIX)) == 0
        && path[strlen(HEADERS_PREFIX)] != '\0') {
        *kind = KEY_HEADER;
        *header = path + strlen(HEADERS_PREFIX);
        return true;
    }
    return false;
}

bool
pc_authz_input_key_path_is_valid(const char *path)
{
    enum key_kind kind;
    const char *header = NULL;

    return parse_key_path(path, &kind, &header);
}

/* A header's fields joined as the document joins them, or null when none was sent. */
static void
put_key_header(struct writer *w, const struct pc_authz_view *view, const char *name)
{
    size_t name_len = strlen(name);
    bool is_cookie = strcasecmp(name, "cookie") == 0 || strcasecmp(name, "set-cookie") == 0;
    bool is_first = true;

    for (size_t i = 0; i < view->n_headers; i++) {
        const struct pc_header_pair *h = &view->headers[i];

        if (h->name_len != name_len || strncasecmp(h->name, name, name_len) != 0) {
            continue;
        }
        put_lit(w, is_first ? "\"" : is_cookie ? "; " : ", ");
        put_escaped(w, h->value, h->value_len);
        is_first = false;
    }
    put_lit(w, is_first ? "null" : "\"");
}

static void
put_or_null(struct writer *w, const char *s)
{
    if (s == NULL) {
        put_lit(w, "null");
        return;
    }
    put_cstring(w, s);
}

/* What a cache key is written from. */
struct key_ctx {
    const struct pc_authz_view *view;
    const char *const *paths;
    size_t n_paths;
    bool is_array;
    struct doc doc; /* parsed_path only */
};

static void
put_key_value(struct writer *w, const struct key_ctx *k, const char *path)
{
    const struct pc_authz_view *view = k->view;
    const struct pc_principal *p = view->principal;
    enum key_kind kind = KEY_METHOD;
    const char *header = NULL;
    char text[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    size_t len;

    PC_ASSERT(parse_key_path(path, &kind, &header));
    switch (kind) {
    case KEY_METHOD:
        put_string(w, view->method != NULL ? view->method : "", view->method_len);
        break;
    case KEY_PATH:
        put_full_path(w, view);
        break;
    case KEY_HOST:
        put_string(w, view->host != NULL ? view->host : "", view->host_len);
        break;
    case KEY_HEADER:
        put_key_header(w, view, header);
        break;
    case KEY_SOURCE:
        len = format_addr(&view->client_addr, text, &port);
        if (len == 0) {
            put_lit(w, "null");
        } else {
            put_string(w, text, len);
        }
        break;
    case KEY_PARSED_PATH:
        put(w, "[", 1);
        for (size_t i = 0; i < k->doc.n_segments; i++) {
            put_lit(w, i > 0 ? "," : "");
            put_string(w, k->doc.segments[i].ptr, k->doc.segments[i].len);
        }
        put(w, "]", 1);
        break;
    case KEY_SUB:
        put_or_null(w, p != NULL ? pc_principal_subject(p) : NULL);
        break;
    case KEY_ISS:
        put_or_null(w, p != NULL ? pc_principal_issuer(p) : NULL);
        break;
    case KEY_CLIENT_ID:
        put_or_null(w, p != NULL ? pc_principal_client_id(p) : NULL);
        break;
    case KEY_SPIFFE_ID:
        put_or_null(w, view->peer != NULL ? view->peer->spiffe_id : NULL);
        break;
    }
}

static void
write_key_fn(struct writer *w, const void *ctx)
{
    const struct key_ctx *k = ctx;

    put_lit(w, k->is_array ? "[" : "");
    for (size_t i = 0; i < k->n_paths; i++) {
        put_lit(w, i > 0 ? "," : "");
        put_key_value(w, k, k->paths[i]);
    }
    put_lit(w, k->is_array ? "]" : "");
}

static int
write_key(struct key_ctx *k, struct pc_arena *arena, char **out, size_t *len)
{
    bool needs_path = false;
    int rc;

    memset(&k->doc, 0, sizeof(k->doc));
    k->doc.view = k->view;
    for (size_t i = 0; i < k->n_paths; i++) {
        enum key_kind kind;
        const char *header = NULL;

        if (!parse_key_path(k->paths[i], &kind, &header)) {
            return PC_EINVAL;
        }
        needs_path = needs_path || kind == KEY_PARSED_PATH;
    }
    if (needs_path) {
        rc = prepare_path(&k->doc, arena);
        if (rc != 0) {
            return rc;
        }
    }
    return write_twice(write_key_fn, k, arena, out, len);
}

int
pc_authz_input_key_value(const struct pc_authz_view *view, const char *path, struct pc_arena *arena,
                         char **out, size_t *len)
{
    struct key_ctx k = { .view = view, .paths = &path, .n_paths = 1 };

    return write_key(&k, arena, out, len);
}

int
pc_authz_input_cache_key(const struct pc_authz_view *view, const char *const *paths, size_t n,
                         struct pc_arena *arena, char **out, size_t *len)
{
    struct key_ctx k = { .view = view, .paths = paths, .n_paths = n, .is_array = true };

    if (n == 0) {
        return PC_EINVAL;
    }
    return write_key(&k, arena, out, len);
}

/* The facts' client address is formatted once for both passes of write_twice. */
struct facts_ctx {
    const struct pc_authz_view *view;
    char addr[INET6_ADDRSTRLEN];
    size_t addr_len;
};

static void
write_facts_fn(struct writer *w, const void *ctx)
{
    const struct facts_ctx *f = ctx;
    const struct pc_authz_view *view = f->view;
    const struct pc_principal *p = view->principal;

    put_lit(w, "{\"method\":");
    put_string(w, view->method != NULL ? view->method : "", view->method_len);
    put_lit(w, ",\"path\":");
    put_string(w, view->path != NULL ? view->path : "", view->path_len);
    if (view->host != NULL) {
        put_lit(w, ",\"host\":");
        put_string(w, view->host, view->host_len);
    }
    if (f->addr_len > 0) {
        put_lit(w, ",\"source\":");
        put_string(w, f->addr, f->addr_len);
    }
    if (p != NULL) {
        put_optional(w, "sub", pc_principal_subject(p));
        put_optional(w, "iss", pc_principal_issuer(p));
        put_optional(w, "client_id", pc_principal_client_id(p));
    }
    if (view->peer != NULL) {
        put_optional(w, "spiffe_id", view->peer->spiffe_id);
    }
    put(w, "}", 1);
}

int
pc_authz_input_facts(const struct pc_authz_view *view, struct pc_arena *arena, char **out,
                     size_t *len)
{
    struct facts_ctx f = { .view = view };
    uint16_t port = 0;

    f.addr_len = format_addr(&view->client_addr, f.addr, &port);
    return write_twice(write_facts_fn, &f, arena, out, len);
}
