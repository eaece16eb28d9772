/*
 * Peer certificate verification for the TLS data path: client certificates on listeners and
 * server certificates of upstreams, in one of two modes.
 *
 *   Plain CA: RFC 5280 path validation against the bundle set's plain CA store, with the TLS
 *   purpose (client or server authentication) checked, and optionally the peer's names.
 *
 *   SPIFFE: the leaf must be an X.509-SVID (X509-SVID.md): exactly one URI SAN holding a valid
 *   SPIFFE ID with a path, not a CA, keyUsage digitalSignature without keyCertSign or cRLSign.
 *   The chain is validated against the bundle of that ID's own trust domain only, so one trust
 *   domain's authorities can never vouch for another's IDs (SPIFFE_Trust_Domain_and_Bundle.md
 *   section 5.2). Every certificate of a bundle is a trust anchor, whether self-signed or not.
 *
 * The TLS layer calls pc_verify_peer from the callback it installs with
 * SSL_CTX_set_cert_verify_callback, which replaces OpenSSL's own X509_verify_cert:
 *
 *     static int
 *     on_cert_verify(X509_STORE_CTX *ctx, void *arg)
 *     {
 *         struct pc_verify_result result;
 *         ...pick the bundle set reference and the policy for this SSL...
 *         return pc_verify_peer(ctx, set, &policy, &result) == 0;
 *     }
 *
 * The SSL_CTX_set_verify callback, if any, is not called. Everything here is synchronous, runs on
 * the calling thread (a worker during a handshake), and only reads the bundle set.
 *
 * Refusals carry a stable reason code (a static string) for logs and metrics:
 *   no_certificate, no_trust_bundle, foreign_trust_domain, unknown_ca, expired, not_yet_valid,
 *   wrong_usage, ca_as_leaf, invalid_ca, bad_signature, revoked, chain_too_long,
 *   name_constraints, bad_extension, name_mismatch, svid_no_uri_san, svid_multiple_uri_sans,
 *   svid_no_path, svid_leaf_is_ca, svid_bad_key_usage, the spiffe_id_* codes of spiffe.h,
 *   out_of_memory and other; "ok" when accepted.
 */
#ifndef PC_TLS_VERIFY_H
#define PC_TLS_VERIFY_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "tls/spiffe.h"

struct pc_bundle_set;

/* Intermediate CA certificates allowed between the leaf and the trust anchor by default. */
#define PC_VERIFY_DEFAULT_MAX_INTERMEDIATES 8

enum pc_verify_mode {
    PC_VERIFY_PLAIN_CA = 0,
    PC_VERIFY_SPIFFE,
};

/* What the peer is, hence which purpose its certificate must allow (RFC 5280 4.2.1.12). */
enum pc_verify_usage {
    PC_VERIFY_PEER_CLIENT = 0, /* a TLS client: id-kp-clientAuth */
    PC_VERIFY_PEER_SERVER,     /* a TLS server (an upstream): id-kp-serverAuth */
};

/*
 * How to verify one peer. Every pointer is borrowed for the duration of the call; a policy is
 * usually part of the configuration snapshot and shared by many connections.
 *
 * The name lists say whom the peer must be; when all three are empty any peer with a valid
 * chain (and, in SPIFFE mode, a valid SVID) is accepted, and authorization decides later. When
 * any is non-empty, one match in any list suffices:
 *   dns_names: RFC 6125 matching against the DNS SANs (X509_check_host; wildcards only as a
 *              whole left-most label; the subject CN is never consulted);
 *   uris:      byte-exact comparison with a URI SAN;
 *   ids:       SPIFFE ID matchers, tried on every URI SAN (in SPIFFE mode: the SVID's ID).
 */
struct pc_verify_policy {
    enum pc_verify_mode mode;
    enum pc_verify_usage usage;
    const char *const *dns_names;
    size_t n_dns_names;
    const char *const *uris;
    size_t n_uris;
    const struct pc_spiffe_matcher *const *ids;
    size_t n_ids;
    unsigned max_intermediates; /* 0: PC_VERIFY_DEFAULT_MAX_INTERMEDIATES */
    time_t at;                  /* the time validity is checked at; 0: now (tests set it) */
};

/*
 * The outcome. reason and detail are static strings; detail is OpenSSL's verify error string
 * when path validation refused, or a sentence of ours for the checks made here. x509_error is
 * the X509_V_ERR_* code handed to OpenSSL, which picks the TLS alert from it. depth is the chain
 * position the refusal concerns (0: the leaf), or -1 when none applies.
 */
struct pc_verify_result {
    const char *reason;
    const char *detail;
    int x509_error;
    int depth;
    /* SPIFFE mode: the SVID's ID, NUL-terminated, once it parsed as a SPIFFE ID (so also in
     * the refusals that come after, for the log); empty otherwise. Parse it again with
     * pc_spiffe_id_parse for its trust domain and path. */
    char spiffe_id[PC_SPIFFE_ID_MAX + 1];
    size_t spiffe_id_len;
};

/*
 * Verifies leaf, with the untrusted certificates the peer sent (may be NULL, may include leaf),
 * against the bundle set under the policy. All arguments are borrowed for the call. Fills
 * result in every case. Returns 0 when the peer is accepted, with *chain (when chain is not
 * NULL) set to the verified chain, leaf first and trust anchor last, owned by the caller
 * (sk_X509_pop_free with X509_free); PC_EACCES when refused; PC_ENOMEM when out of memory,
 * which also refuses the peer (reason "out_of_memory").
 */
int pc_verify_chain(X509 *leaf, STACK_OF(X509) * untrusted, const struct pc_bundle_set *set,
                    const struct pc_verify_policy *policy, struct pc_verify_result *result,
                    STACK_OF(X509) * *chain);

/*
 * The verify-callback form: reads the leaf and untrusted chain from ctx (OpenSSL's context for
 * this handshake, borrowed), runs pc_verify_chain, and reports back through ctx: on success the
 * verified chain (so SSL_get0_verified_chain works) and X509_V_OK, on refusal the error code and
 * depth, from which OpenSSL picks the alert. Returns as pc_verify_chain does.
 */
int pc_verify_peer(X509_STORE_CTX *ctx, const struct pc_bundle_set *set,
                   const struct pc_verify_policy *policy, struct pc_verify_result *result);

/* Returns the stable reason code for an X509_V_ERR_* value ("other" for unlisted ones). */
const char *pc_verify_reason_from_x509(int x509_error);

#endif
