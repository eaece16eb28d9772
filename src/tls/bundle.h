/*
 * Trust bundles: the roots that peer certificates are verified against, keyed by SPIFFE trust
 * domain, plus at most one plain (non-SPIFFE) CA store.
 *
 * A builder collects bundles from PEM text (concatenated certificates) and from the SPIFFE
 * bundle format (a JWK Set, SPIFFE_Trust_Domain_and_Bundle.md section 4), for any number of
 * trust domains at once (federation). Finishing it yields a bundle set: immutable, reference
 * counted with atomics, readable from every worker thread without locks. A rotation builds a
 * new set off the hot path and publishes it; connections keep the reference they started with.
 *
 * Each trust domain's bundle holds an X509_STORE with its X.509 authorities and, kept aside for
 * JWT-SVID validation, the public keys of its "jwt-svid" entries with their kid. The builder
 * runs on one thread (configuration load or the Workload API client); it does no I/O except in
 * the *_file functions. Inputs are bounded: 4 MiB per document, 1000 keys or certificates.
 */
#ifndef PC_TLS_BUNDLE_H
#define PC_TLS_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct pc_err;

#define PC_BUNDLE_MAX_BYTES (4u * 1024 * 1024)
#define PC_BUNDLE_MAX_KEYS  1000

struct pc_bundle_builder;
struct pc_bundle_set;
struct pc_bundle;

/* A JWT-SVID signing key of a trust domain; read-only, owned by its bundle set. */
struct pc_bundle_jwt_key {
    const char *kid; /* never NULL; unique within the bundle */
    const char *alg; /* the JWK's "alg" when present, else NULL */
    EVP_PKEY *key;   /* public key; shareable between threads for verification */
};

/* Returns an empty builder, or NULL when out of memory. */
struct pc_bundle_builder *pc_bundle_builder_create(void);

/* Releases a builder that was not finished; accepts NULL. */
void pc_bundle_builder_free(struct pc_bundle_builder *builder);

/*
 * Adds the certificates of PEM text (len bytes at pem, borrowed for the call) to the bundle of
 * trust_domain (NUL-terminated; validated as in pc_spiffe_trust_domain_validate), or to the
 * plain CA store when trust_domain is NULL. Text around the blocks is ignored, as RFC 7468
 * allows; any block other than CERTIFICATE (a private key, a CRL) refuses the whole text, and
 * text without a certificate is refused. Adding to a trust domain or to the plain store twice
 * merges the certificates. On any error nothing is added. Returns 0, or PC_EINVAL, PC_ELIMIT,
 * PC_EPARSE or PC_ENOMEM with err (may be NULL) saying why.
 */
int pc_bundle_builder_add_pem(struct pc_bundle_builder *builder, const char *trust_domain,
                              const char *pem, size_t len, struct pc_err *err);

/*
 * Adds a SPIFFE bundle (the JWK Set in the len bytes at json, borrowed for the call) as the
 * bundle of trust_domain. The JSON is read strictly: duplicate object keys, a missing "keys"
 * array, members of the wrong type, bad base64 and private key members refuse the document.
 * Entries whose "use" or "kty" is missing or unknown, and "x509-svid" entries without "x5c",
 * are ignored as section 4.2 requires. "x509-svid" entries contribute the first certificate of
 * their "x5c" (X509-SVID.md section 6.2); "jwt-svid" entries must carry a unique "kid" and a
 * public key (EC P-256/P-384/P-521, RSA of 2048 bits or more, or Ed25519/Ed448). An empty key
 * list is accepted and means every SVID of the trust domain is refused (section 4.1.3). A
 * trust domain takes at most one SPIFFE bundle per builder; PEM certificates may be merged
 * into it. On any error nothing is added. Returns 0 or a negative PC_E* code with err filled.
 */
int pc_bundle_builder_add_spiffe(struct pc_bundle_builder *builder, const char *trust_domain,
                                 const char *json, size_t len, struct pc_err *err);

/* As pc_bundle_builder_add_pem and _add_spiffe, reading the file at path (at most 4 MiB). */
int pc_bundle_builder_add_pem_file(struct pc_bundle_builder *builder, const char *trust_domain,
                                   const char *path, struct pc_err *err);
int pc_bundle_builder_add_spiffe_file(struct pc_bundle_builder *builder, const char *trust_domain,
                                      const char *path, struct pc_err *err);

/*
 * Adds the operating system's default roots (OpenSSL's default paths) to the plain CA store,
 * for upstreams verified against public CAs. Returns 0, or PC_EIO / PC_ENOMEM with err filled.
 */
int pc_bundle_builder_add_system_roots(struct pc_bundle_builder *builder, struct pc_err *err);

/*
 * Turns the builder into an immutable set with one reference held by the caller. Takes the
 * builder, which is released whatever the outcome. Returns the set, or NULL when out of memory
 * (err filled).
 */
struct pc_bundle_set *pc_bundle_builder_finish(struct pc_bundle_builder *builder,
                                               struct pc_err *err);

/* Takes one more reference; any thread. Returns set, for `x = pc_bundle_set_ref(set)`. */
struct pc_bundle_set *pc_bundle_set_ref(struct pc_bundle_set *set);

/* Drops one reference, releasing the set with the last one; any thread; accepts NULL. */
void pc_bundle_set_unref(struct pc_bundle_set *set);

/*
 * Returns the bundle of a trust domain (len bytes at trust_domain, compared exactly), or NULL
 * when the set has none. The bundle is borrowed for as long as the caller's set reference.
 */
const struct pc_bundle *pc_bundle_set_find(const struct pc_bundle_set *set,
                                           const char *trust_domain, size_t len);

/* Returns the plain CA bundle (borrowed like pc_bundle_set_find), or NULL when none was added. */
const struct pc_bundle *pc_bundle_set_plain(const struct pc_bundle_set *set);

/* Returns how many trust domains the set holds (the plain CA store not counted). */
size_t pc_bundle_set_count(const struct pc_bundle_set *set);

/* Returns the i-th bundle in trust-domain order (i < pc_bundle_set_count), borrowed. */
const struct pc_bundle *pc_bundle_set_at(const struct pc_bundle_set *set, size_t i);

/* Returns the trust domain name (NUL-terminated), or NULL for the plain CA bundle. */
const char *pc_bundle_trust_domain(const struct pc_bundle *bundle);

/*
 * Returns the store of the bundle's X.509 authorities, borrowed like the bundle. Callers only
 * verify against it (X509_STORE_CTX_init); they must not add to it or change its parameters.
 */
X509_STORE *pc_bundle_store(const struct pc_bundle *bundle);

/* Returns the number of X.509 authorities the bundle holds (0: every X509-SVID is refused). */
size_t pc_bundle_authority_count(const struct pc_bundle *bundle);

/*
 * Reads the SPIFFE bundle's spiffe_sequence / spiffe_refresh_hint (seconds). Returns true and
 * fills *value when the document carried it, false otherwise (and for PEM-only bundles).
 */
bool pc_bundle_sequence(const struct pc_bundle *bundle, uint64_t *value);
bool pc_bundle_refresh_hint_s(const struct pc_bundle *bundle, uint64_t *value);

/* Returns the number of JWT-SVID keys and the i-th one (i < count), borrowed like the bundle. */
size_t pc_bundle_jwt_key_count(const struct pc_bundle *bundle);
const struct pc_bundle_jwt_key *pc_bundle_jwt_key_at(const struct pc_bundle *bundle, size_t i);

/* Returns the JWT-SVID key whose kid is the len bytes at kid, or NULL; borrowed likewise. */
const struct pc_bundle_jwt_key *pc_bundle_jwt_key_find(const struct pc_bundle *bundle,
                                                       const char *kid, size_t len);

#endif
