/*
 * Unit tests for trust bundle sets: PEM text, the SPIFFE bundle format (a JWK Set), strictness
 * and limits, federation lookups and reference counting.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "core/alloc.h"
#include "core/err.h"
#include "helpers/certs.h"
#include "tls/bundle.h"

static EVP_PKEY *key_a;
static EVP_PKEY *key_b;
static X509 *root_a;
static X509 *root_b;
static char *pem_a;
static char *pem_b;
static char *x5c_a;
static char *x5c_b;

static int
setup(void **state)
{
    key_a = test_key_new();
    key_b = test_key_new();
    root_a = test_cert_new(&(struct test_cert_spec){ .subject = "CN=root a", .is_ca = true }, key_a,
                           NULL, NULL);
    root_b = test_cert_new(&(struct test_cert_spec){ .subject = "CN=root b", .is_ca = true }, key_b,
                           NULL, NULL);
    pem_a = test_cert_pem(root_a);
    pem_b = test_cert_pem(root_b);
    x5c_a = test_cert_base64_der(root_a);
    x5c_b = test_cert_base64_der(root_b);
    return 0;
}

static int
teardown(void **state)
{
    pc_free(pem_a);
    pc_free(pem_b);
    pc_free(x5c_a);
    pc_free(x5c_b);
    X509_free(root_a);
    X509_free(root_b);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    return 0;
}

/* Builds a set holding one SPIFFE document for example.org; returns NULL with err filled. */
static struct pc_bundle_set *
load_spiffe(const char *json, struct pc_err *err)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();

    assert_non_null(b);
    if (pc_bundle_builder_add_spiffe(b, "example.org", json, strlen(json), err) != 0) {
        pc_bundle_builder_free(b);
        return NULL;
    }
    return pc_bundle_builder_finish(b, err);
}

/* Expects json to be refused with code, and the message to mention what. */
static void
expect_refused(const char *json, int code, const char *what)
{
    struct pc_err err = { 0 };
    struct pc_bundle_set *set = load_spiffe(json, &err);

    if (set != NULL) {
        pc_bundle_set_unref(set);
        fail_msg("accepted: %s", json);
    }
    assert_int_equal(err.code, code);
    if (strstr(err.msg, what) == NULL) {
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, what);
    }
}

static void
test_bundle_pem_loads_concatenated_certificates(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    char text[8192];
    struct pc_bundle_set *set;

    snprintf(text, sizeof(text), "root a, as issued\n%s\nand root b:\n%s\ntrailing words\n", pem_a,
             pem_b);
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, text, strlen(text), &err), 0);
    set = pc_bundle_builder_finish(b, &err);
    assert_non_null(set);
    assert_non_null(pc_bundle_set_plain(set));
    assert_null(pc_bundle_trust_domain(pc_bundle_set_plain(set)));
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_plain(set)), 2);
    assert_non_null(pc_bundle_store(pc_bundle_set_plain(set)));
    assert_int_equal(pc_bundle_set_count(set), 0);
    pc_bundle_set_unref(set);
}

static char *
private_key_pem(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    char *out;

    assert_true(PEM_write_bio_PrivateKey(bio, key_a, NULL, NULL, 0, NULL, NULL));
    len = BIO_get_mem_data(bio, &data);
    out = pc_strndup(data, (size_t)len);
    BIO_free(bio);
    return out;
}

static void
test_bundle_pem_refuses_other_blocks_and_garbage(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    char *key = private_key_pem();
    char text[8192];
    char *broken = pc_strdup(pem_a);

    /* A private key pasted into a CA bundle is refused, whatever else is there. */
    snprintf(text, sizeof(text), "%s%s", pem_a, key);
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, text, strlen(text), &err), PC_EPARSE);
    assert_non_null(strstr(err.msg, "PRIVATE KEY"));

    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, "no pem here", 11, &err), PC_EPARSE);
    assert_non_null(strstr(err.msg, "no CERTIFICATE"));

    /* A block whose base64 is cut short. */
    broken[strlen(broken) / 2] = '\0';
    snprintf(text, sizeof(text), "%s\n-----END CERTIFICATE-----\n", broken);
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, text, strlen(text), &err), PC_EPARSE);

    snprintf(text, sizeof(text),
             "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n%s",
             strchr(pem_a, '\n') + 1);
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, text, strlen(text), &err), PC_EPARSE);

    assert_int_equal(pc_bundle_builder_add_pem(b, "Example.org", pem_a, strlen(pem_a), &err),
                     PC_EINVAL);
    assert_non_null(strstr(err.msg, "spiffe_id_uppercase_trust_domain"));

    /* None of the refused texts left anything behind. */
    struct pc_bundle_set *set = pc_bundle_builder_finish(b, &err);

    assert_null(pc_bundle_set_plain(set));
    assert_int_equal(pc_bundle_set_count(set), 0);
    pc_bundle_set_unref(set);
    pc_free(key);
    pc_free(broken);
}

static void
test_bundle_pem_merges_into_trust_domains(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;

    assert_int_equal(pc_bundle_builder_add_pem(b, "example.org", pem_a, strlen(pem_a), &err), 0);
    assert_int_equal(pc_bundle_builder_add_pem(b, "example.org", pem_b, strlen(pem_b), &err), 0);
    assert_int_equal(pc_bundle_builder_add_pem(b, "other.org", pem_b, strlen(pem_b), &err), 0);
    set = pc_bundle_builder_finish(b, &err);
    assert_int_equal(pc_bundle_set_count(set), 2);
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_find(set, "example.org", 11)), 2);
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_find(set, "other.org", 9)), 1);
    pc_bundle_set_unref(set);
}

static void
test_bundle_pem_enforces_size_limit(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    size_t len = PC_BUNDLE_MAX_BYTES + 1;
    char *big = pc_malloc(len);

    memset(big, ' ', len);
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, big, len, &err), PC_ELIMIT);
    assert_int_equal(pc_bundle_builder_add_spiffe(b, "example.org", big, len, &err), PC_ELIMIT);
    pc_free(big);
    pc_bundle_builder_free(b);
}

static void
test_bundle_spiffe_reads_authorities_and_counters(void **state)
{
    char json[8192];
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;
    const struct pc_bundle *bundle;
    uint64_t v = 0;
    char x[44];
    char y[44];

    test_key_ec_xy(key_a, x, y);
    snprintf(json, sizeof(json),
             "{\"spiffe_sequence\": 12, \"spiffe_refresh_hint\": 300, \"keys\": ["
             "{\"use\": \"x509-svid\", \"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"%s\","
             " \"y\": \"%s\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\", \"%s\"]}]}",
             x, y, x5c_a, x5c_b, x5c_a);
    set = load_spiffe(json, &err);
    if (set == NULL) {
        fail_msg("%s", err.msg);
    }
    bundle = pc_bundle_set_find(set, "example.org", 11);
    assert_non_null(bundle);
    assert_string_equal(pc_bundle_trust_domain(bundle), "example.org");
    assert_int_equal(pc_bundle_authority_count(bundle), 2);
    assert_true(pc_bundle_sequence(bundle, &v));
    assert_int_equal(v, 12);
    assert_true(pc_bundle_refresh_hint_s(bundle, &v));
    assert_int_equal(v, 300);
    assert_int_equal(pc_bundle_jwt_key_count(bundle), 0);
    assert_null(pc_bundle_set_plain(set));
    pc_bundle_set_unref(set);
}

static void
test_bundle_spiffe_keeps_jwt_keys(void **state)
{
    char json[4096];
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;
    const struct pc_bundle *bundle;
    const struct pc_bundle_jwt_key *key;
    char x[44];
    char y[44];
    uint64_t v;

    test_key_ec_xy(key_b, x, y);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"k1\","
             " \"alg\": \"ES256\", \"crv\": \"P-256\", \"x\": \"%s\", \"y\": \"%s\"}]}",
             x, y);
    set = load_spiffe(json, &err);
    assert_non_null(set);
    bundle = pc_bundle_set_find(set, "example.org", 11);
    assert_int_equal(pc_bundle_authority_count(bundle), 0);
    assert_int_equal(pc_bundle_jwt_key_count(bundle), 1);
    assert_false(pc_bundle_sequence(bundle, &v));
    key = pc_bundle_jwt_key_find(bundle, "k1", 2);
    assert_non_null(key);
    assert_ptr_equal(key, pc_bundle_jwt_key_at(bundle, 0));
    assert_null(pc_bundle_jwt_key_at(bundle, 1));
    assert_string_equal(key->kid, "k1");
    assert_string_equal(key->alg, "ES256");
    assert_int_equal(EVP_PKEY_eq(key->key, key_b), 1);
    assert_null(pc_bundle_jwt_key_find(bundle, "k", 1));
    assert_null(pc_bundle_jwt_key_find(bundle, "k12", 3));
    pc_bundle_set_unref(set);
}

static void
test_bundle_spiffe_ignores_unknown_entries(void **state)
{
    char json[8192];
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;
    const struct pc_bundle *bundle;

    /* Section 4.2: missing or unknown use and kty, and x509-svid entries without x5c. */
    snprintf(json, sizeof(json),
             "{\"keys\": ["
             "{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"wit-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\"]},"
             "{\"kty\": \"EC\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"x509-svid\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"x509-svid\", \"kty\": \"oct\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"x509-svid\", \"kty\": \"EC\"},"
             "{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": []},"
             "{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"z\", \"crv\": \"P-192\","
             " \"x\": \"AA\", \"y\": \"AA\"},"
             "{\"use\": \"X509-SVID\", \"kty\": \"EC\", \"x5c\": [\"%s\"]}]}",
             x5c_a, x5c_b, x5c_b, x5c_b, x5c_b, x5c_b);
    set = load_spiffe(json, &err);
    if (set == NULL) {
        fail_msg("%s", err.msg);
    }
    bundle = pc_bundle_set_find(set, "example.org", 11);
    assert_int_equal(pc_bundle_authority_count(bundle), 1);
    assert_int_equal(pc_bundle_jwt_key_count(bundle), 0);
    pc_bundle_set_unref(set);
}

static void
test_bundle_spiffe_accepts_empty_key_list(void **state)
{
    struct pc_err err = { 0 };
    struct pc_bundle_set *set = load_spiffe("{\"keys\": [], \"spiffe_sequence\": 3}", &err);

    /* Section 4.1.3: the trust domain exists but every SVID of it is refused. */
    assert_non_null(set);
    assert_non_null(pc_bundle_set_find(set, "example.org", 11));
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_find(set, "example.org", 11)), 0);
    pc_bundle_set_unref(set);
}

static void
test_bundle_spiffe_refuses_duplicate_members(void **state)
{
    char json[4096];

    expect_refused("{\"keys\": [], \"keys\": []}", PC_EPARSE, "duplicate");
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"use\": \"jwt-svid\", \"kty\": \"EC\","
             " \"x5c\": [\"%s\"]}]}",
             x5c_a);
    expect_refused(json, PC_EPARSE, "duplicate");
}

static void
test_bundle_spiffe_refuses_malformed_documents(void **state)
{
    expect_refused("", PC_EPARSE, "line");
    expect_refused("{\"keys\": [", PC_EPARSE, "line 1");
    expect_refused("[]", PC_EPARSE, "not a JSON object");
    expect_refused("{}", PC_EPARSE, "\"keys\" is missing");
    expect_refused("{\"keys\": {}}", PC_EPARSE, "\"keys\" is missing or not an array");
    expect_refused("{\"keys\": [1]}", PC_EPARSE, "keys[0]: not an object");
    expect_refused("{\"keys\": [], \"spiffe_sequence\": -1}", PC_EPARSE, "spiffe_sequence");
    expect_refused("{\"keys\": [], \"spiffe_sequence\": 1.5}", PC_EPARSE, "spiffe_sequence");
    expect_refused("{\"keys\": [], \"spiffe_refresh_hint\": \"60\"}", PC_EPARSE,
                   "spiffe_refresh_hint");
    expect_refused("{\"keys\": [{\"use\": 1, \"kty\": \"EC\"}]}", PC_EPARSE, "\"use\"");
    expect_refused("{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": \"AA==\"}]}",
                   PC_EPARSE, "\"x5c\" is not an array");
    expect_refused("{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [7]}]}",
                   PC_EPARSE, "x5c");
}

static void
test_bundle_spiffe_refuses_bad_base64_and_der(void **state)
{
    char json[8192];
    char *url = pc_strdup(x5c_a);
    size_t len = strlen(x5c_a);

    /* The URL-safe alphabet, missing padding and stray whitespace are all refused. */
    for (char *p = url; *p != '\0'; p++) {
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    expect_refused("{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"A\"]}]}",
                   PC_EPARSE, "not base64");
    expect_refused(
        "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"QUJD\\n\"]}]}",
        PC_EPARSE, "not base64");
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\"]}]}", url);
    if (strcmp(url, x5c_a) != 0) {
        expect_refused(json, PC_EPARSE, "not base64");
    }
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%.*s\"]}]}",
             (int)(len - 4), x5c_a);
    expect_refused(json, PC_EPARSE, "DER certificate");
    /* Valid base64 of something that is not a certificate. */
    expect_refused("{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"QUJD\"]}]}",
                   PC_EPARSE, "DER certificate");
    pc_free(url);
}

static void
test_bundle_spiffe_refuses_bytes_after_certificate(void **state)
{
    unsigned char *der = NULL;
    int len = i2d_X509(root_a, &der);
    unsigned char *padded = pc_calloc(1, (size_t)len + 3);
    char json[8192];
    char *b64;

    memcpy(padded, der, (size_t)len);
    b64 = test_base64(padded, (size_t)len + 3);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\"]}]}", b64);
    expect_refused(json, PC_EPARSE, "DER certificate");
    pc_free(b64);
    pc_free(padded);
    OPENSSL_free(der);
}

static void
test_bundle_spiffe_refuses_inconsistent_keys(void **state)
{
    char json[8192];
    char x[44];
    char y[44];

    /* Key members of another key than the certificate's. */
    test_key_ec_xy(key_b, x, y);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"crv\": \"P-256\","
             " \"x\": \"%s\", \"y\": \"%s\", \"x5c\": [\"%s\"]}]}",
             x, y, x5c_a);
    expect_refused(json, PC_EPARSE, "do not match");

    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"RSA\", \"x5c\": [\"%s\"]}]}", x5c_a);
    expect_refused(json, PC_EPARSE, "does not match");

    /* Private key material never belongs in a bundle. */
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"crv\": \"P-256\","
             " \"x\": \"%s\", \"y\": \"%s\", \"d\": \"%s\", \"x5c\": [\"%s\"]}]}",
             x, y, x, x5c_b);
    expect_refused(json, PC_EPARSE, "private key member \"d\"");
}

static void
test_bundle_spiffe_refuses_bad_jwt_keys(void **state)
{
    char json[4096];
    char x[44];
    char y[44];

    test_key_ec_xy(key_a, x, y);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"crv\": \"P-256\","
             " \"x\": \"%s\", \"y\": \"%s\"}]}",
             x, y);
    expect_refused(json, PC_EPARSE, "without a \"kid\"");

    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"a\", \"crv\":"
             " \"P-256\", \"x\": \"%s\", \"y\": \"%s\"}, {\"use\": \"jwt-svid\", \"kty\": \"EC\","
             " \"kid\": \"a\", \"crv\": \"P-256\", \"x\": \"%s\", \"y\": \"%s\"}]}",
             x, y, x, y);
    expect_refused(json, PC_EPARSE, "appears twice");

    expect_refused("{\"keys\": [{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"a\"}]}",
                   PC_EPARSE, "without key members");

    /* The y coordinate of another point: not on the curve with this x. */
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"a\", \"crv\":"
             " \"P-256\", \"x\": \"%s\", \"y\": \"%s\"}]}",
             x, x);
    expect_refused(json, PC_EPARSE, "keys[0]");
}

static void
test_bundle_spiffe_enforces_key_limit(void **state)
{
    size_t n = PC_BUNDLE_MAX_KEYS + 1;
    size_t cap = 16 + n * 4;
    char *json = pc_malloc(cap);
    size_t len = 0;

    len += (size_t)snprintf(json, cap, "{\"keys\": [");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(json + len, cap - len, "%s{}", i == 0 ? "" : ",");
    }
    snprintf(json + len, cap - len, "]}");
    expect_refused(json, PC_ELIMIT, "exceed");
    pc_free(json);
}

static void
test_bundle_spiffe_once_per_trust_domain(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    const char *doc = "{\"keys\": []}";
    struct pc_bundle_set *set;

    assert_int_equal(pc_bundle_builder_add_pem(b, "example.org", pem_a, strlen(pem_a), &err), 0);
    assert_int_equal(pc_bundle_builder_add_spiffe(b, "example.org", doc, strlen(doc), &err), 0);
    assert_int_equal(pc_bundle_builder_add_spiffe(b, "example.org", doc, strlen(doc), &err),
                     PC_EEXIST);
    assert_int_equal(pc_bundle_builder_add_spiffe(b, "bad td", doc, strlen(doc), &err), PC_EINVAL);
    set = pc_bundle_builder_finish(b, &err);
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_find(set, "example.org", 11)), 1);
    pc_bundle_set_unref(set);
}

static void
test_bundle_set_finds_federated_trust_domains(void **state)
{
    static const char *const names[] = { "zeta.org", "example.org", "a.example.org", "example",
                                         "example.org.x" };
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(pc_bundle_builder_add_pem(b, names[i], pem_a, strlen(pem_a), &err), 0);
    }
    assert_int_equal(pc_bundle_builder_add_pem(b, NULL, pem_b, strlen(pem_b), &err), 0);
    set = pc_bundle_builder_finish(b, &err);
    assert_int_equal(pc_bundle_set_count(set), 5);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct pc_bundle *found = pc_bundle_set_find(set, names[i], strlen(names[i]));

        assert_non_null(found);
        assert_string_equal(pc_bundle_trust_domain(found), names[i]);
    }
    /* Lookups take a length: a longer buffer with the name as a prefix finds it. */
    assert_non_null(pc_bundle_set_find(set, "example.org/ns", 11));
    assert_null(pc_bundle_set_find(set, "example.or", 10));
    assert_null(pc_bundle_set_find(set, "other.org", 9));
    assert_null(pc_bundle_set_find(set, "", 0));
    /* Sorted by name. */
    assert_string_equal(pc_bundle_trust_domain(pc_bundle_set_at(set, 0)), "a.example.org");
    assert_string_equal(pc_bundle_trust_domain(pc_bundle_set_at(set, 4)), "zeta.org");
    assert_null(pc_bundle_set_at(set, 5));
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_plain(set)), 1);
    pc_bundle_set_unref(set);
}

static void
test_bundle_set_reference_counting(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    size_t before = pc_alloc_bytes();
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;

    assert_int_equal(pc_bundle_builder_add_pem(b, "example.org", pem_a, strlen(pem_a), &err), 0);
    set = pc_bundle_builder_finish(b, &err);
    assert_ptr_equal(pc_bundle_set_ref(set), set);
    pc_bundle_set_unref(set);
    assert_non_null(pc_bundle_set_find(set, "example.org", 11));
    pc_bundle_set_unref(set);
    pc_bundle_set_unref(NULL);
    pc_bundle_builder_free(NULL);
    assert_true(pc_alloc_bytes() <= before);
}

static void
test_bundle_files_and_system_roots(void **state)
{
    char path[] = "/tmp/pc-bundle-test-XXXXXX";
    int fd = mkstemp(path);
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };
    struct pc_bundle_set *set;
    const char *doc = "{\"keys\": []}";

    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem_a, strlen(pem_a)), (ssize_t)strlen(pem_a));
    close(fd);
    assert_int_equal(pc_bundle_builder_add_pem_file(b, NULL, path, &err), 0);
    assert_int_equal(pc_bundle_builder_add_spiffe_file(b, "example.org", path, &err), PC_EPARSE);
    assert_int_equal(pc_bundle_builder_add_pem_file(b, NULL, "/nonexistent/bundle.pem", &err),
                     PC_ENOENT);
    assert_int_equal(pc_bundle_builder_add_pem_file(b, NULL, "/tmp", &err), PC_ELIMIT);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(pc_bundle_builder_add_spiffe_file(b, "example.org", path, &err), 0);
    unlink(path);

    assert_int_equal(pc_bundle_builder_add_system_roots(b, &err), 0);
    set = pc_bundle_builder_finish(b, &err);
    assert_non_null(set);
    assert_int_equal(pc_bundle_authority_count(pc_bundle_set_plain(set)), 1);
    pc_bundle_set_unref(set);
}

static void
test_bundle_survives_allocation_failures(void **state)
{
    char json[8192];
    char x[44];
    char y[44];

    test_key_ec_xy(key_b, x, y);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"use\": \"x509-svid\", \"kty\": \"EC\", \"x5c\": [\"%s\"]},"
             "{\"use\": \"jwt-svid\", \"kty\": \"EC\", \"kid\": \"k\", \"crv\": \"P-256\","
             " \"x\": \"%s\", \"y\": \"%s\"}]}",
             x5c_a, x, y);
    /* Every allocation point fails once in turn; each run must fail cleanly or succeed. */
    for (long after = 0; after < 64; after++) {
        struct pc_bundle_builder *b = pc_bundle_builder_create();
        struct pc_err err = { 0 };
        struct pc_bundle_set *set = NULL;

        pc_alloc_fail_after(after);
        if (b != NULL && pc_bundle_builder_add_pem(b, "a.org", pem_a, strlen(pem_a), &err) == 0
            && pc_bundle_builder_add_spiffe(b, "example.org", json, strlen(json), &err) == 0) {
            set = pc_bundle_builder_finish(b, &err);
            b = NULL;
        }
        pc_alloc_fail_reset();
        pc_bundle_builder_free(b);
        pc_bundle_set_unref(set);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_pem_loads_concatenated_certificates),
        cmocka_unit_test(test_bundle_pem_refuses_other_blocks_and_garbage),
        cmocka_unit_test(test_bundle_pem_merges_into_trust_domains),
        cmocka_unit_test(test_bundle_pem_enforces_size_limit),
        cmocka_unit_test(test_bundle_spiffe_reads_authorities_and_counters),
        cmocka_unit_test(test_bundle_spiffe_keeps_jwt_keys),
        cmocka_unit_test(test_bundle_spiffe_ignores_unknown_entries),
        cmocka_unit_test(test_bundle_spiffe_accepts_empty_key_list),
        cmocka_unit_test(test_bundle_spiffe_refuses_duplicate_members),
        cmocka_unit_test(test_bundle_spiffe_refuses_malformed_documents),
        cmocka_unit_test(test_bundle_spiffe_refuses_bad_base64_and_der),
        cmocka_unit_test(test_bundle_spiffe_refuses_bytes_after_certificate),
        cmocka_unit_test(test_bundle_spiffe_refuses_inconsistent_keys),
        cmocka_unit_test(test_bundle_spiffe_refuses_bad_jwt_keys),
        cmocka_unit_test(test_bundle_spiffe_enforces_key_limit),
        cmocka_unit_test(test_bundle_spiffe_once_per_trust_domain),
        cmocka_unit_test(test_bundle_set_finds_federated_trust_domains),
        cmocka_unit_test(test_bundle_set_reference_counting),
        cmocka_unit_test(test_bundle_files_and_system_roots),
        cmocka_unit_test(test_bundle_survives_allocation_failures),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
