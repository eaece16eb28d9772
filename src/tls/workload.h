/*
 * Client of the SPIFFE Workload API, X.509 part: the gateway's own X.509-SVIDs and the trust
 * bundles, streamed from the local SPIFFE Workload Endpoint (a SPIRE agent, say).
 *
 * The client speaks gRPC (HTTP/2 through nghttp2, messages through protobuf-c) over a Unix
 * socket, driven by a libuv loop the caller gives, which in the gateway is the control thread's
 * loop: it never blocks and starts no thread. It calls FetchX509SVID and FetchX509Bundles, turns
 * every response into an immutable, self-contained update handed to the owner, follows the
 * streams as the endpoint rotates material, and after any failure logs why, tells the owner and
 * reconnects with exponential backoff. What the material is used for (building SSL_CTXs,
 * publishing a snapshot, keeping the last good SVID while the endpoint is away) is the owner's
 * business: updates carry DER, and pc_workload_load_certs/pc_workload_load_key turn it into
 * OpenSSL objects.
 *
 * pc_workload_start and pc_workload_stop, and every callback, run on the loop's thread. The
 * decode, free, load, endpoint and backoff functions touch no shared state: any thread. The
 * process must ignore SIGPIPE (the gateway does at start): libuv writes to the socket with
 * write(2), and a write to an endpoint that has just died would otherwise kill the process.
 */
#ifndef PC_TLS_WORKLOAD_H
#define PC_TLS_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <uv.h>

#include "core/err.h"

/* Bounds on one response; a response beyond any of them is refused as a bad response. */
#define PC_WORKLOAD_MAX_MSG_BYTES  (4u << 20) /* one gRPC message, before decoding */
#define PC_WORKLOAD_MAX_SVIDS      64         /* SVIDs in one X509SVIDResponse */
#define PC_WORKLOAD_MAX_BUNDLES    256        /* trust domains in one response */
#define PC_WORKLOAD_MAX_CRLS       256        /* revocation lists in one response */
#define PC_WORKLOAD_MAX_CERTS      256        /* certificates in one chain or bundle */
#define PC_WORKLOAD_MAX_HINT_BYTES 2048       /* a hint (SPIFFE IDs: 2048, SPIFFE-ID.md) */

/*
 * The layouts below are public because the owner reads every field of them on each rotation and
 * nothing else; they are immutable (every member is const) and live inside one allocation owned
 * by the update that holds them.
 */

/* DER bytes inside an update, borrowed from it. */
struct pc_workload_der {
    const unsigned char *data;
    size_t len;
};

/* One identity, as FetchX509SVID sends it; checked before it reaches the owner (see decode). */
struct pc_workload_svid {
    const char *spiffe_id;         /* "spiffe://example.org/gateway" */
    const char *hint;              /* "" when the endpoint sent none */
    struct pc_workload_der chain;  /* DER certificates back to back, the SVID (leaf) first */
    struct pc_workload_der key;    /* the leaf's key, unencrypted PKCS#8 DER */
    struct pc_workload_der bundle; /* DER CA certificates of the SVID's own trust domain */
};

/* The CA certificates of one trust domain. */
struct pc_workload_bundle {
    /* The bare name, "example.org", whether the endpoint keyed the bundle by the trust
     * domain's SPIFFE ID ("spiffe://example.org", as the specification says) or by the name. */
    const char *trust_domain;
    struct pc_workload_der certs; /* DER certificates back to back, at least one */
};

/* One FetchX509SVID response: the complete current state, replacing any earlier one. */
struct pc_workload_svids {
    const struct pc_workload_svid *svids; /* in the endpoint's order; the first is the default */
    size_t n_svids;                       /* 1 .. PC_WORKLOAD_MAX_SVIDS */
    const struct pc_workload_bundle *federated; /* sorted by trust_domain, no duplicates */
    size_t n_federated;
    const struct pc_workload_der *crls; /* each one DER CRL */
    size_t n_crls;
};

/* One FetchX509Bundles response: the complete current state, replacing any earlier one. */
struct pc_workload_bundles {
    const struct pc_workload_bundle *bundles; /* sorted by trust_domain, no duplicates, >= 1 */
    size_t n_bundles;
    const struct pc_workload_der *crls;
    size_t n_crls;
};

/* Why a connection or a stream failed; the log says it with the same words. */
enum pc_workload_reason {
    /* Endpoint missing or refusing, connection lost, GOAWAY, stream reset or ended, or a gRPC
     * status that says "try later" (UNAVAILABLE, INTERNAL, CANCELLED, ...). Retried. */
    PC_WORKLOAD_UNAVAILABLE = 0,
    /* Bytes that break HTTP/2, gRPC framing, the message format or our bounds, or certificates
     * and keys that do not parse or do not match. The message is discarded; retried. */
    PC_WORKLOAD_BAD_RESPONSE,
    /* PERMISSION_DENIED or UNAUTHENTICATED: the endpoint has no identity for this process (yet).
     * Retried, as the specification allows. Section 5.2.1 says a client told this SHOULD stop
     * using the SVIDs it had; whether to is the owner's call. */
    PC_WORKLOAD_DENIED,
    /* INVALID_ARGUMENT, UNIMPLEMENTED or another status that retrying will not fix. The
     * specification says not to retry; we retry at the backoff ceiling only, so an endpoint that
     * is upgraded or replaced is picked up without restarting the gateway. */
    PC_WORKLOAD_REJECTED,
};

/* Which stream a failure belongs to. */
enum pc_workload_feed {
    PC_WORKLOAD_FEED_CONNECTION = 0, /* the socket or HTTP/2 session, so both streams */
    PC_WORKLOAD_FEED_SVIDS,          /* FetchX509SVID */
    PC_WORKLOAD_FEED_BUNDLES,        /* FetchX509Bundles */
};

/* A failure as the owner hears of it; borrowed for the duration of the callback. */
struct pc_workload_failure {
    enum pc_workload_reason reason;
    enum pc_workload_feed feed;
    const char *detail; /* static snake_case word: "connect_failed", "goaway", "grpc_status" */
    int code;           /* the PC_E* code of a system or library failure, else 0 */
    int grpc_status;    /* the status the endpoint sent, or -1 */
    uint32_t attempt;   /* consecutive failures without an update in between, from 1 */
    uint32_t retry_ms;  /* the client reconnects after this long */
};

/* The update callbacks take ownership: release with pc_workload_free_svids/_bundles. */
typedef void (*pc_workload_svids_fn)(void *owner, struct pc_workload_svids *update);
typedef void (*pc_workload_bundles_fn)(void *owner, struct pc_workload_bundles *update);
typedef void (*pc_workload_failure_fn)(void *owner, const struct pc_workload_failure *failure);

struct pc_workload_cfg {
    const char *endpoint; /* "unix:///run/spire/agent.sock"; NULL: $SPIFFE_ENDPOINT_SOCKET */
    pc_workload_svids_fn on_svids;     /* NULL: FetchX509SVID is not called */
    pc_workload_bundles_fn on_bundles; /* NULL: FetchX509Bundles is not called */
    pc_workload_failure_fn on_failure; /* may be NULL */
    void *owner;                       /* passed back to every callback */
    uint32_t initial_backoff_ms;       /* 0: 100 */
    uint32_t max_backoff_ms;           /* 0: 30000 */
    /* How long a call may go without its first response before the connection is failed
     * (detail "first_response_timeout") and made again; 0: 30000. */
    uint32_t first_response_timeout_ms;
};

struct pc_workload;

/*
 * Starts a client on loop: it connects at once and keeps a connection open until stopped. cfg is
 * borrowed for the call only (its strings are copied); at least one of on_svids and on_bundles
 * must be set. No callback runs before this returns: the first one runs from the loop, after the
 * connection succeeds or fails. Returns the client, or NULL with err filled (err may be NULL)
 * when the endpoint is missing or not an absolute unix: URI (PC_EINVAL, PC_ERANGE), uses tcp:
 * (PC_ENOTSUP) or memory runs out (PC_ENOMEM).
 */
struct pc_workload *pc_workload_start(uv_loop_t *loop, const struct pc_workload_cfg *cfg,
                                      struct pc_err *err);

/*
 * Stops the client: closes the connection and the timer; no callback runs once this returns,
 * even when it is called from inside one. The client's memory is released from libuv close
 * callbacks, so the loop must run once more (uv_run returns when nothing else is open). Accepts
 * NULL. Updates already handed to the owner stay valid.
 */
void pc_workload_stop(struct pc_workload *wl);

/*
 * Decodes one X509SVIDResponse (the protobuf bytes of one gRPC message) and checks it: 1 to
 * PC_WORKLOAD_MAX_SVIDS SVIDs, every mandatory field set (specification section 4.5), each
 * chain and bundle parsing as DER certificates, each key as PKCS#8 matching its leaf, each leaf
 * carrying exactly one URI SAN, equal to its SPIFFE ID; trust domains valid and unique.
 * msg is borrowed. Returns 0 with *out owned by the caller, or PC_EPARSE / PC_ELIMIT /
 * PC_ENOMEM with *out NULL and *detail set to a static snake_case word saying what was wrong.
 */
int pc_workload_decode_svids(const uint8_t *msg, size_t len, struct pc_workload_svids **out,
                             const char **detail);

/* The same for one X509BundlesResponse: 1 to PC_WORKLOAD_MAX_BUNDLES bundles. */
int pc_workload_decode_bundles(const uint8_t *msg, size_t len, struct pc_workload_bundles **out,
                               const char **detail);

/* Release an update, wiping it (keys included) first; accept NULL. */
void pc_workload_free_svids(struct pc_workload_svids *update);
void pc_workload_free_bundles(struct pc_workload_bundles *update);

/*
 * Parses DER certificates back to back (a chain or a bundle from an update) into a new stack,
 * in order. der is borrowed; *out is owned by the caller (sk_X509_pop_free(*out, X509_free)).
 * Returns 0, PC_EPARSE when the bytes are not only whole certificates or hold none, PC_ELIMIT
 * past PC_WORKLOAD_MAX_CERTS, or PC_ENOMEM.
 */
int pc_workload_load_certs(const struct pc_workload_der *der, STACK_OF(X509) * *out);

/*
 * Parses an unencrypted PKCS#8 DER private key. der is borrowed; *out is owned by the caller
 * (EVP_PKEY_free). Returns 0 or PC_EPARSE.
 */
int pc_workload_load_key(const struct pc_workload_der *der, EVP_PKEY **out);

/*
 * Extracts the socket path from a SPIFFE_ENDPOINT_SOCKET value ("unix:///path" or "unix:/path";
 * the Workload Endpoint specification, section 4) into path (size bytes, NUL-terminated).
 * Returns 0; PC_EINVAL for another form (relative path, authority, query, fragment, '%');
 * PC_ENOTSUP for tcp:; PC_ERANGE when the path does not fit size or a socket address.
 */
int pc_workload_parse_endpoint(const char *uri, char *path, size_t size);

/* Returns the static word for a reason: "unavailable", "bad_response", "denied", "rejected". */
const char *pc_workload_reason_name(enum pc_workload_reason reason);

/*
 * Reconnection delays: the ceiling starts at initial_ms and doubles after every failure up to
 * max_ms, and each delay is drawn between half the ceiling and the ceiling ("equal jitter"), so
 * many gateways restarted together do not reconnect in step. Pure state, no clock: the client
 * owns one; tests drive one with a fixed seed.
 */
struct pc_workload_backoff {
    uint32_t initial_ms;
    uint32_t max_ms;
    uint32_t attempt; /* failures since the last reset */
    uint64_t rng;     /* xorshift64 state, never 0 */
};

/* Sets b up (initial_ms 0 means 100, max_ms 0 means 30000, seed 0 is replaced). */
void pc_workload_backoff_init(struct pc_workload_backoff *b, uint32_t initial_ms, uint32_t max_ms,
                              uint64_t seed);

/* Returns the next delay in milliseconds and counts one more failure. */
uint32_t pc_workload_backoff_next(struct pc_workload_backoff *b);

/* Starts over from initial_ms; the client calls it when an update arrives. */
void pc_workload_backoff_reset(struct pc_workload_backoff *b);

#endif
