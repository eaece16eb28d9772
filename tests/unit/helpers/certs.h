/*
 * Certificate building for tests: EC P-256 keys, and certificates with any issuer, subject,
 * subject alternative names, key usage, extended key usage, basic constraints, name constraints
 * and validity window, made in memory with OpenSSL so that no test depends on files. The
 * Makefile links this into every unit test; integration tests that need PEM files can write
 * what test_cert_pem returns.
 *
 * A typical hierarchy:
 *
 *     EVP_PKEY *root_key = test_key_new();
 *     X509 *root = test_cert_new(&(struct test_cert_spec){ .subject = "CN=root", .is_ca = true },
 *                                root_key, NULL, NULL);
 *     EVP_PKEY *leaf_key = test_key_new();
 *     X509 *leaf = test_cert_new(&(struct test_cert_spec){
 *                                    .subject = "CN=client",
 *                                    .uris = (const char *[]){ "spiffe://example.org/web", NULL },
 *                                    .ext_key_usage = "clientAuth" },
 *                                leaf_key, root, root_key);
 *
 * Failures abort the test binary (they are bugs in the test, not outcomes to check); every
 * function is single-threaded test code.
 */
#ifndef PC_TEST_HELPERS_CERTS_H
#define PC_TEST_HELPERS_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * What to put in a certificate. Zero-initialised fields take the defaults given; a spec written
 * as a compound literal only names what a test cares about.
 */
struct test_cert_spec {
    /* Subject as comma-separated type=value pairs in the order given, e.g. "O=acme,CN=web"
     * (no escaping: values cannot hold ',' or '='). NULL: an empty subject. */
    const char *subject;

    bool is_ca;                  /* basicConstraints cA */
    bool has_path_len;           /* CA only: add pathLenConstraint ... */
    int path_len;                /* ... with this value */
    bool omit_basic_constraints; /* no basicConstraints extension at all */

    /* keyUsage in OpenSSL configuration syntax, e.g. "critical,digitalSignature". NULL: the
     * default ("critical,keyCertSign,cRLSign" for a CA, "critical,digitalSignature" for a leaf);
     * "": no keyUsage extension. */
    const char *key_usage;

    /* extendedKeyUsage in the same syntax, e.g. "clientAuth,serverAuth". NULL: none. */
    const char *ext_key_usage;

    /* Subject alternative names, NULL-terminated lists (NULL: none). Values are stored as given,
     * byte for byte, without validation, so tests can make malformed names. */
    const char *const *dns;
    const char *const *uris;
    const char *const *emails;
    const char *const *ips; /* textual IPv4 or IPv6 addresses */
    bool san_critical;

    /* nameConstraints in configuration syntax, e.g. "critical,permitted;URI:example.org".
     * NULL: none. */
    const char *name_constraints;

    /* Validity window, absolute. 0: one hour before now / thirty days after now. */
    time_t not_before;
    time_t not_after;

    /* Serial number; 0: a counter shared by the test binary. */
    long serial;
};

/* Returns a new EC P-256 key pair (EVP_PKEY_free). */
EVP_PKEY *test_key_new(void);

/*
 * Makes a certificate for key's public half as spec says, signed with SHA-256 by issuer_key
 * under issuer's subject, or self-signed with key when issuer is NULL. Adds subject and
 * authority key identifiers. Returns it (X509_free); spec, key, issuer and issuer_key are
 * borrowed.
 */
X509 *test_cert_new(const struct test_cert_spec *spec, EVP_PKEY *key, X509 *issuer,
                    EVP_PKEY *issuer_key);

/* Returns the PEM text of cert, NUL-terminated, pc_malloc'd (pc_free). */
char *test_cert_pem(X509 *cert);

/* Returns the standard base64 of cert's DER, as a JWK "x5c" value holds it (pc_free). */
char *test_cert_base64_der(X509 *cert);

/* Returns standard base64 with padding of len bytes (pc_free). */
char *test_base64(const unsigned char *data, size_t len);

/* Returns base64url without padding of len bytes (pc_free), for JWK members. */
char *test_base64url(const unsigned char *data, size_t len);

/*
 * Writes the JWK members of an EC P-256 public key into x and y (base64url, 43 characters plus
 * NUL each).
 */
void test_key_ec_xy(EVP_PKEY *key, char x[44], char y[44]);

/* Returns a new stack holding references to the NULL-terminated certificates (sk_X509_pop_free
 * with X509_free). */
STACK_OF(X509) * test_cert_stack(X509 *const *certs);

#endif
