/*
 * Syntax of the scalar values the configuration uses: Gateway API durations (GEP-2257),
 * Kubernetes quantities and timestamps, hostnames, names, header names and values, path values,
 * IP addresses, CIDR blocks and "IP:port" endpoints, base64 and the shape of PEM text, SPIFFE IDs,
 * trust domains and Workload API addresses, the URLs, claim paths, scopes and JWS algorithm names
 * of authentication policies; plus the edit distance behind "did you mean" hints.
 *
 * Pure functions over borrowed strings; no allocation. Used by the schema checks and the
 * validator on the control thread, but safe anywhere.
 */
#ifndef PC_CONFIG_VALUE_H
#define PC_CONFIG_VALUE_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses a GEP-2257 duration: one to four components of 1-5 decimal digits and a unit (h, m, s,
 * ms), summed ("1h30m", "500ms", "0s"). Returns 0 and the value in *ms, or PC_EINVAL.
 */
int pc_value_duration(const char *s, size_t len, uint64_t *ms);

/*
 * Parses a Kubernetes quantity of bytes: an integer or decimal with an optional suffix (k M G T
 * P E powers of 1000, Ki Mi Gi Ti Pi Ei powers of 1024), e.g. "10Mi", "1.5Ki", "64000". Returns
 * 0 and the whole number of bytes in *out; PC_EINVAL for bad syntax or a fractional number of
 * bytes; PC_ERANGE when it does not fit in 63 bits.
 */
int pc_value_quantity(const char *s, size_t len, uint64_t *out);

/*
 * Parses an RFC 3339 timestamp ("2024-05-01T10:00:00Z", fractions and offsets allowed). Returns
 * 0 and milliseconds since the epoch in *ms, or PC_EINVAL.
 */
int pc_value_timestamp(const char *s, size_t len, int64_t *ms);

/*
 * RFC 1123 hostname in lower case, 1-253 bytes, labels 1-63 bytes that start and end with a
 * letter or digit. With allow_wildcard, a leading "*." label is accepted. IP addresses are not
 * hostnames.
 */
bool pc_value_is_hostname(const char *s, size_t len, bool allow_wildcard);

/* RFC 1123 label: 1-63 bytes of [a-z0-9-], starting and ending alphanumeric (namespaces). */
bool pc_value_is_dns_label(const char *s, size_t len);

/* RFC 1123 subdomain: up to 253 bytes of dot-separated labels (object and section names). */
bool pc_value_is_dns_subdomain(const char *s, size_t len);

/* HTTP field name: 1-256 bytes of RFC 9110 token characters. */
bool pc_value_is_header_name(const char *s, size_t len);

/* HTTP field value for configuration: printable ASCII words separated by single spaces or tabs. */
bool pc_value_is_header_value(const char *s, size_t len);

/*
 * Path characters allowed in Gateway API Exact and PathPrefix values and in path modifiers:
 * RFC 3986 pchar and '/', percent-encodings with two hex digits.
 */
bool pc_value_is_path_chars(const char *s, size_t len);

/* Kubernetes label key ("prefix/name") and label value. */
bool pc_value_is_label_key(const char *s, size_t len);
bool pc_value_is_label_value(const char *s, size_t len);

/*
 * Parses an IP literal (IPv4 dotted quad, or IPv6 without brackets) into *addr with port.
 * Returns 0, or PC_EINVAL when s is not an IP literal.
 */
int pc_value_ip(const char *s, uint16_t port, struct sockaddr_storage *addr, socklen_t *addr_len);

/*
 * Parses an endpoint "IPv4:port" or "[IPv6]:port" (port 1-65535) into *addr and writes its
 * canonical spelling into name (at least 64 bytes). Returns 0; PC_EINVAL for bad syntax;
 * PC_ENOENT when the host part is a name rather than an IP literal.
 */
int pc_value_endpoint(const char *s, size_t len, struct sockaddr_storage *addr, socklen_t *addr_len,
                      char *name, size_t name_size);

/* A block of IP addresses: the network address (in network byte order) and its prefix. */
struct pc_value_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix_len; /* 0-32 or 0-128 */
};

/*
 * Parses a CIDR block, "10.0.0.0/8" or "2001:db8::/32"; a bare address is the block of that one
 * address (/32 or /128). Returns NULL with *out filled when valid, else a static sentence saying
 * what is wrong. An address with bits set past the prefix is refused ("it has host bits set")
 * with *out still holding the block it lies in, so the caller can suggest it.
 */
const char *pc_value_cidr_problem(const char *s, size_t len, struct pc_value_cidr *out);

/* Writes a block as "10.0.0.0/8" into buf (at least 64 bytes). */
void pc_value_format_cidr(const struct pc_value_cidr *cidr, char *buf, size_t size);

/* Formats addr as "1.2.3.4:80" or "[::1]:80" into name (at least 64 bytes). */
void pc_value_format_addr(const struct sockaddr_storage *addr, char *name, size_t size);

/*
 * Decodes standard base64 (RFC 4648 section 4, with '=' padding) from s[0..len) into out, which
 * must hold at least len / 4 * 3 + 3 bytes, or is NULL to only validate. ASCII whitespace between
 * characters is skipped, as base64 tools wrap their output. Returns 0 with the decoded length in
 * *out_len; PC_EINVAL with *bad_at set to the offset of the first byte that is wrong (len when the
 * text ends too soon).
 */
int pc_value_base64_decode(const char *s, size_t len, unsigned char *out, size_t *out_len,
                           size_t *bad_at);

enum pc_value_pem_kind {
    PC_VALUE_PEM_CERTIFICATES = 0, /* one or more CERTIFICATE blocks */
    PC_VALUE_PEM_PRIVATE_KEY,      /* exactly one unencrypted private key block */
};

/*
 * Checks that s[0..len) has the shape of PEM text (RFC 7468) holding what kind asks for, without
 * decoding any certificate or key. Returns NULL when it does, else a static sentence saying what
 * is wrong; the sentence never quotes s, so it is safe for secrets.
 */
const char *pc_value_pem_problem(const char *s, size_t len, enum pc_value_pem_kind kind);

/*
 * SPIFFE trust domain name (SPIFFE-ID specification, section 2.1): 1-255 bytes of lower-case
 * letters, digits, '.', '-' and '_'. Returns NULL when valid, else a static sentence saying why
 * not ("it has upper-case letters").
 */
const char *pc_value_trust_domain_problem(const char *s, size_t len);

/*
 * SPIFFE ID (SPIFFE-ID specification, section 2): "spiffe://" in lower case, a trust domain, then
 * an optional path of '/'-separated segments of letters, digits, '.', '-' and '_', none empty,
 * "." or "..", with no query, fragment, port or user information, 2048 bytes at most. Returns
 * NULL when valid, else a static sentence saying why not.
 */
const char *pc_value_spiffe_id_problem(const char *s, size_t len);

/*
 * SPIFFE Workload API address (SPIFFE Workload Endpoint specification, section 4):
 * "unix:///absolute/path" or "tcp://IP:port" with an IP literal. Returns NULL when valid, else a
 * static sentence saying why not.
 */
const char *pc_value_workload_socket_problem(const char *s, size_t len);

/*
 * Checks an absolute URL the gateway itself requests (a JWKS, an OpenID configuration, a token
 * introspection endpoint): "https://" or "http://" (any case), a host (DNS name, IPv4 literal or
 * bracketed IPv6 literal), an optional port 1-65535, then an optional path and query of printable
 * ASCII; no user information, no fragment, 2048 bytes at most. Returns NULL when well formed,
 * else a static sentence that never quotes s. *is_http tells whether the scheme is http, and
 * *is_loopback whether the host is "localhost" or a loopback address (127.0.0.0/8, ::1); both
 * are set even when a later part is refused.
 */
const char *pc_value_url_problem(const char *s, size_t len, bool *is_http, bool *is_loopback);

/*
 * A claim path: claim names separated by '.', "realm_access.roles" naming the member roles of
 * the object realm_access. A claim name may hold dots itself ("https://example.com/roles"):
 * src/authn takes, at each level, the longest prefix that names a member. 1-512 bytes without
 * spaces or control characters, not starting or ending with '.', without "..". Returns NULL
 * when well formed, else a static sentence.
 */
const char *pc_value_claim_path_problem(const char *s, size_t len);

/* OAuth 2.0 scope token (RFC 6749 section 3.3): 1-256 bytes of %x21, %x23-5B and %x5D-7E. */
bool pc_value_is_scope(const char *s, size_t len);

/*
 * The JWS algorithms the gateway verifies, in the order of the pc_jwt_alg bits (RS256 is bit 0,
 * HS512 bit 12). Returns the index of the name s[0..len) (case-sensitive, as RFC 7518 spells
 * them), or -1. pc_value_jwt_alg_names returns the names and their count, for suggestions.
 */
int pc_value_jwt_alg_index(const char *s, size_t len);
const char *const *pc_value_jwt_alg_names(size_t *n);

/*
 * Returns the candidate closest to word by edit distance when it is close enough to be a likely
 * typo (distance at most a third of the word's length, and at least 1 allowed), else NULL.
 * candidates is borrowed; the result points into it.
 */
const char *pc_value_suggest(const char *word, const char *const *candidates, size_t n);

#endif
