/*
 * Unit tests for the verified peer identity and its x-forwarded-client-cert element.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "helpers/certs.h"
#include "tls/peer.h"

static EVP_PKEY *leaf_key;
static EVP_PKEY *ca_key;
static X509 *ca;
static struct pc_arena *arena;

static int
setup(void **state)
{
    leaf_key = test_key_new();
    ca_key = test_key_new();
    ca = test_cert_new(&(struct test_cert_spec){ .subject = "CN=ca", .is_ca = true }, ca_key, NULL,
                       NULL);
    arena = pc_arena_create(8192);
    return arena == NULL;
}

static int
teardown(void **state)
{
    pc_arena_destroy(arena);
    X509_free(ca);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
    return 0;
}

static X509 *
leaf(const char *subject, const char *const *dns, const char *const *uris,
     const char *const *emails)
{
    return test_cert_new(&(struct test_cert_spec){ .subject = subject,
                                                   .dns = dns,
                                                   .uris = uris,
                                                   .emails = emails,
                                                   .not_after = 1893456000 },
                         leaf_key, ca, ca_key);
}

static void
test_peer_identity_reads_names_and_fingerprint(void **state)
{
    const char *dns[] = { "web.example.org", "web", NULL };
    const char *uris[] = { "spiffe://example.org/web", NULL };
    const char *emails[] = { "ops@example.org", NULL };
    X509 *cert = leaf("O=acme,CN=web", dns, uris, emails);
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    unsigned char md[32];
    char hex[65];
    struct pc_peer_identity *peer;

    peer = pc_peer_identity_new(cert, NULL, "spiffe://example.org/web", arena);
    assert_non_null(peer);
    assert_string_equal(peer->subject, "CN=web,O=acme");
    assert_int_equal(peer->n_dns, 2);
    assert_string_equal(peer->dns[0], "web.example.org");
    assert_string_equal(peer->dns[1], "web");
    assert_int_equal(peer->n_uris, 1);
    assert_string_equal(peer->uris[0], "spiffe://example.org/web");
    assert_int_equal(peer->n_emails, 1);
    assert_string_equal(peer->emails[0], "ops@example.org");
    assert_int_equal(peer->n_skipped_names, 0);
    assert_string_equal(peer->spiffe_id, "spiffe://example.org/web");
    assert_int_equal(peer->not_after, 1893456000);
    assert_null(peer->chain);

    /* The fingerprint is SHA-256 over the DER, in lowercase hex. */
    assert_int_equal(EVP_Digest(der, (size_t)der_len, md, NULL, EVP_sha256(), NULL), 1);
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(peer->sha256_hex, hex);

    /* The identity holds its own reference: the caller may drop the certificate. */
    X509_free(cert);
    assert_int_equal(X509_cmp(peer->leaf, peer->leaf), 0);
    OPENSSL_free(der);
}

static void
test_peer_identity_skips_names_unfit_for_headers(void **state)
{
    const char *dns[] = { "ok.example.org", "bad name", "bad\"quote", NULL };
    const char *uris[] = { "https://example.org/caf\xc3\xa9", "https://example.org/a\\b", NULL };
    X509 *cert = leaf("CN=caf\xc3\xa9", dns, uris, NULL);
    struct pc_peer_identity *peer = pc_peer_identity_new(cert, NULL, NULL, arena);

    assert_non_null(peer);
    assert_int_equal(peer->n_dns, 1);
    assert_string_equal(peer->dns[0], "ok.example.org");
    assert_int_equal(peer->n_uris, 0);
    assert_int_equal(peer->n_skipped_names, 4);
    assert_null(peer->spiffe_id);
    /* RFC 2253 escaping keeps the subject ASCII. */
    assert_string_equal(peer->subject, "CN=caf\\C3\\A9");
    X509_free(cert);
}

static void
test_peer_identity_of_empty_subject(void **state)
{
    X509 *cert = leaf(NULL, NULL, NULL, NULL);
    struct pc_peer_identity *peer = pc_peer_identity_new(cert, NULL, "", arena);

    assert_non_null(peer);
    assert_string_equal(peer->subject, "");
    assert_int_equal(peer->n_dns + peer->n_uris + peer->n_emails, 0);
    assert_null(peer->spiffe_id);
    X509_free(cert);
}

static char *
xfcc(struct pc_peer_identity *peer, unsigned details, const char *by)
{
    size_t len = 0;
    char *out = pc_peer_xfcc_format(peer, details, by, arena, &len);

    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

static void
test_peer_xfcc_formats_envoy_element(void **state)
{
    const char *dns[] = { "lyft.com", "www.lyft.com", NULL };
    const char *uris[] = { "spiffe://example.org/web", NULL };
    X509 *cert = leaf("C=US,ST=CA,L=San Francisco,OU=Lyft,CN=Test Client", dns, uris, NULL);
    struct pc_peer_identity *peer = pc_peer_identity_new(cert, NULL, NULL, arena);
    char want[512];

    snprintf(want, sizeof(want), "Hash=%s", peer->sha256_hex);
    assert_string_equal(xfcc(peer, 0, NULL), want);

    snprintf(want, sizeof(want),
             "By=spiffe://example.org/gateway;Hash=%s;"
             "Subject=\"CN=Test Client,OU=Lyft,L=San Francisco,ST=CA,C=US\";"
             "URI=spiffe://example.org/web;DNS=lyft.com;DNS=www.lyft.com",
             peer->sha256_hex);
    assert_string_equal(xfcc(peer, PC_PEER_XFCC_SUBJECT | PC_PEER_XFCC_URI | PC_PEER_XFCC_DNS,
                             "spiffe://example.org/gateway"),
                        want);

    snprintf(want, sizeof(want), "Hash=%s;DNS=lyft.com;DNS=www.lyft.com", peer->sha256_hex);
    assert_string_equal(xfcc(peer, PC_PEER_XFCC_DNS, NULL), want);
    X509_free(cert);
}

static void
test_peer_xfcc_quotes_and_escapes(void **state)
{
    const char *uris[] = { "https://example.org/a?b=c;d", "urn:x,y", NULL };
    X509 *cert = leaf("O=a\"b;c,CN=x=y", NULL, uris, NULL);
    struct pc_peer_identity *peer = pc_peer_identity_new(cert, NULL, NULL, arena);
    char want[512];

    /* RFC 2253 escapes '"' and ';' with a backslash; XFCC then writes '"' as '\"'. */
    snprintf(want, sizeof(want),
             "Hash=%s;Subject=\"CN=x=y,O=a\\\\\"b\\;c\";"
             "URI=\"https://example.org/a?b=c;d\";URI=\"urn:x,y\"",
             peer->sha256_hex);
    assert_string_equal(xfcc(peer, PC_PEER_XFCC_SUBJECT | PC_PEER_XFCC_URI, NULL), want);
    snprintf(want, sizeof(want), "By=\"urn:a;b\";Hash=%s", peer->sha256_hex);
    assert_string_equal(xfcc(peer, 0, "urn:a;b"), want);
    X509_free(cert);
}

/* Decodes %XX escapes in place. */
static void
percent_decode(char *s)
{
    char *out = s;

    for (; *s != '\0'; s++) {
        if (*s == '%') {
            char hex[3] = { s[1], s[2], '\0' };

            *out++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* Returns the value of key="..." in element, decoded (pc_free). */
static char *
quoted_value(const char *element, const char *key)
{
    const char *start = strstr(element, key);
    const char *end;
    char *value;

    assert_non_null(start);
    start += strlen(key);
    end = strchr(start, '"');
    assert_non_null(end);
    value = pc_strndup(start, (size_t)(end - start));
    for (const char *p = value; *p != '\0'; p++) {
        /* Only unreserved characters and escapes: nothing a header parser could trip on. */
        assert_true(strchr("-._~%", *p) != NULL || (*p >= '0' && *p <= '9')
                    || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'));
    }
    percent_decode(value);
    return value;
}

static void
test_peer_xfcc_url_encodes_certificates(void **state)
{
    X509 *cert = leaf("CN=web", NULL, NULL, NULL);
    X509 *certs[] = { cert, ca, NULL };
    STACK_OF(X509) *chain = test_cert_stack(certs);
    struct pc_peer_identity *peer = pc_peer_identity_new(cert, chain, NULL, arena);
    struct pc_peer_identity *alone = pc_peer_identity_new(cert, NULL, NULL, arena);
    char *leaf_pem = test_cert_pem(cert);
    char *ca_pem = test_cert_pem(ca);
    char *element = xfcc(peer, PC_PEER_XFCC_CERT | PC_PEER_XFCC_CHAIN, NULL);
    char *value;
    char both[8192];

    /* Key order: Hash, Cert, Chain. */
    assert_true(strncmp(element, "Hash=", 5) == 0);
    assert_non_null(strstr(element, ";Cert=\"-----BEGIN%20CERTIFICATE-----%0A"));
    assert_true(strstr(element, ";Cert=") < strstr(element, ";Chain="));

    value = quoted_value(element, "Cert=\"");
    assert_string_equal(value, leaf_pem);
    pc_free(value);
    value = quoted_value(element, "Chain=\"");
    snprintf(both, sizeof(both), "%s%s", leaf_pem, ca_pem);
    assert_string_equal(value, both);
    pc_free(value);

    /* Without a verified chain, Chain holds the leaf alone. */
    value = quoted_value(xfcc(alone, PC_PEER_XFCC_CHAIN, NULL), "Chain=\"");
    assert_string_equal(value, leaf_pem);
    pc_free(value);

    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    pc_free(leaf_pem);
    pc_free(ca_pem);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_identity_reads_names_and_fingerprint),
        cmocka_unit_test(test_peer_identity_skips_names_unfit_for_headers),
        cmocka_unit_test(test_peer_identity_of_empty_subject),
        cmocka_unit_test(test_peer_xfcc_formats_envoy_element),
        cmocka_unit_test(test_peer_xfcc_quotes_and_escapes),
        cmocka_unit_test(test_peer_xfcc_url_encodes_certificates),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
