/*
 * The identity of a verified TLS peer, as the authentication and authorization layers and the
 * access log see it: subject, SANs, fingerprint, SPIFFE ID and expiry, read once per connection
 * from the leaf certificate after pc_verify_chain accepted it. Also formats the peer as one
 * element of Envoy's x-forwarded-client-cert header (XFCC), for upstreams that expect it.
 *
 * Everything is allocated in the caller's arena (the connection's), and the identity keeps
 * references on the certificates until that arena is reset or destroyed. Runs on the worker
 * that owns the connection.
 */
#ifndef PC_TLS_PEER_H
#define PC_TLS_PEER_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct pc_arena;

/* A peer identity; every string is NUL-terminated arena memory, every field read-only. */
struct pc_peer_identity {
    const char *subject; /* RFC 2253 form (OpenSSL's XN_FLAG_RFC2253), "" when empty */
    /* Subject alternative names. Only names made of visible ASCII other than the double quote
     * and the backslash are kept (DNS names, URIs and plain addresses never need others);
     * n_skipped_names counts the ones left out, so a certificate cannot smuggle a NUL, a line
     * break or a quote into a header. */
    const char *const *dns;
    size_t n_dns;
    const char *const *uris;
    size_t n_uris;
    const char *const *emails;
    size_t n_emails;
    size_t n_skipped_names;
    char sha256_hex[65];   /* SHA-256 of the leaf's DER, lowercase hex */
    const char *spiffe_id; /* the verified SPIFFE ID, or NULL when not verified as an SVID */
    time_t not_after;
    X509 *leaf;                  /* referenced until the arena is reset */
    struct stack_st_X509 *chain; /* STACK_OF(X509), leaf first; referenced likewise; NULL: none */
};

/*
 * Reads the identity of leaf. chain (may be NULL) is the verified chain, leaf first, as
 * pc_verify_chain returns it; spiffe_id (may be NULL) is the ID verification established
 * (struct pc_verify_result's spiffe_id in SPIFFE mode), and is copied. leaf and chain are
 * borrowed; the identity takes references of its own, released by an arena cleanup. Returns the
 * identity in arena memory, or NULL when out of memory.
 */
struct pc_peer_identity *pc_peer_identity_new(X509 *leaf, STACK_OF(X509) * chain,
                                              const char *spiffe_id, struct pc_arena *arena);

/* Which optional details an XFCC element carries; Hash is always present. */
#define PC_PEER_XFCC_SUBJECT 0x01u /* Subject="<RFC 2253 subject>" */
#define PC_PEER_XFCC_URI     0x02u /* URI=<uri>, once per URI SAN */
#define PC_PEER_XFCC_DNS     0x04u /* DNS=<name>, once per DNS SAN */
#define PC_PEER_XFCC_CERT    0x08u /* Cert="<URL-encoded PEM of the leaf>" */
#define PC_PEER_XFCC_CHAIN   0x10u /* Chain="<URL-encoded PEM of the chain, leaf first>" */

/*
 * Formats peer as one XFCC element, keys in Envoy's order: By (when by, our own certificate's
 * URI SAN, is not NULL), Hash, Cert, Chain, Subject, URI, DNS. Pairs are separated by ';'; a
 * value holding ',', ';', '=' or '"' is double-quoted, and Subject, Cert and Chain always are;
 * inside quotes '"' is written as '\"'. PEM is percent-encoded except for RFC 3986 unreserved
 * characters. Returns the NUL-terminated element in arena memory with its length in *len, or
 * NULL when out of memory. The caller joins several elements with ','.
 */
char *pc_peer_xfcc_format(const struct pc_peer_identity *peer, unsigned details, const char *by,
                          struct pc_arena *arena, size_t *len);

#endif
