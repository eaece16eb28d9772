/*
 * Unit tests for the Workload API client's parts that need no socket: decoding and checking
 * X509SVIDResponse / X509BundlesResponse bytes into updates, the bounds, the update layout and
 * its release, the DER loaders, the endpoint URI and the backoff schedule (driven by a fixed
 * seed instead of a clock). Certificates are made in memory by the group setup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "tls/workload.h"
#include "tls/workload.pb-c.h"

#define LEAF_ID "spiffe://example.org/gw"

/* DER bytes made by the setup; freed by the teardown. */
struct blob {
    unsigned char *data;
    size_t len;
};

static struct {
    struct blob ca;        /* example.org CA certificate */
    struct blob leaf;      /* leaf for LEAF_ID, signed by the CA */
    struct blob key;       /* the leaf's key, PKCS#8 */
    struct blob other_key; /* an unrelated key, PKCS#8 */
    struct blob sec1_key;  /* the leaf's key in the SEC 1 form, not PKCS#8 */
    struct blob crl;       /* an empty CRL from the CA */
} pki;

static long next_serial = 1;

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);

    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);

    assert_non_null(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

static X509 *
make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *uri, int is_ca)
{
    X509 *cert = X509_new();
    char san[256];

    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), next_serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)uri, -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(issuer != NULL ? issuer : cert));
    snprintf(san, sizeof(san), "URI:%s", uri);
    add_ext(cert, issuer != NULL ? issuer : cert, NID_subject_alt_name, san);
    add_ext(cert, issuer != NULL ? issuer : cert, NID_basic_constraints,
            is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_true(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
    return cert;
}

static struct blob
cert_der(X509 *cert)
{
    struct blob b = { NULL, 0 };
    int n = i2d_X509(cert, &b.data);

    assert_true(n > 0);
    b.len = (size_t)n;
    return b;
}

static struct blob
pkcs8_der(EVP_PKEY *key)
{
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key);
    struct blob b = { NULL, 0 };
    int n = i2d_PKCS8_PRIV_KEY_INFO(info, &b.data);

    assert_true(n > 0);
    b.len = (size_t)n;
    PKCS8_PRIV_KEY_INFO_free(info);
    return b;
}

static struct blob
crl_der(X509 *ca, EVP_PKEY *ca_key)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);
    ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 1, 0);
    struct blob b = { NULL, 0 };

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    X509_CRL_set1_lastUpdate(crl, now);
    X509_CRL_set1_nextUpdate(crl, next);
    assert_true(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0);

    int n = i2d_X509_CRL(crl, &b.data);

    assert_true(n > 0);
    b.len = (size_t)n;
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    X509_CRL_free(crl);
    return b;
}

static int
setup_pki(void **state)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
    EVP_PKEY *other_key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, ca_key, NULL, "spiffe://example.org", 1);
    X509 *leaf = make_cert(leaf_key, ca_key, ca, LEAF_ID, 0);

    pki.ca = cert_der(ca);
    pki.leaf = cert_der(leaf);
    pki.key = pkcs8_der(leaf_key);
    pki.other_key = pkcs8_der(other_key);
    pki.crl = crl_der(ca, ca_key);

    int n = i2d_PrivateKey(leaf_key, &pki.sec1_key.data);

    assert_true(n > 0);
    pki.sec1_key.len = (size_t)n;
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
    return 0;
}

static int
teardown_pki(void **state)
{
    OPENSSL_free(pki.ca.data);
    OPENSSL_free(pki.leaf.data);
    OPENSSL_free(pki.key.data);
    OPENSSL_free(pki.other_key.data);
    OPENSSL_free(pki.sec1_key.data);
    OPENSSL_free(pki.crl.data);
    return 0;
}

static ProtobufCBinaryData
bin(struct blob b)
{
    return (ProtobufCBinaryData){ .len = b.len, .data = b.data };
}

/* A valid SVID entry; tests spoil one field at a time. */
static X509SVID
good_svid(void)
{
    X509SVID svid = X509_SVID__INIT;

    svid.spiffe_id = LEAF_ID;
    svid.x509_svid = bin(pki.leaf);
    svid.x509_svid_key = bin(pki.key);
    svid.bundle = bin(pki.ca);
    svid.hint = "internal";
    return svid;
}

static struct blob
pack_svids(const X509SVIDResponse *resp)
{
    struct blob b = { malloc(x509_svidresponse__get_packed_size(resp) + 1), 0 };

    b.len = x509_svidresponse__pack(resp, b.data);
    return b;
}

static struct blob
pack_bundles(const X509BundlesResponse *resp)
{
    struct blob b = { malloc(x509_bundles_response__get_packed_size(resp) + 1), 0 };

    b.len = x509_bundles_response__pack(resp, b.data);
    return b;
}

/* Decodes one response holding svid (and nothing else); returns the code, fills *detail. */
static int
decode_one(X509SVID *svid, const char **detail)
{
    X509SVIDResponse resp = X509_SVIDRESPONSE__INIT;
    X509SVID *list[] = { svid };
    struct pc_workload_svids *update = NULL;

    resp.n_svids = 1;
    resp.svids = list;

    struct blob msg = pack_svids(&resp);
    int rc = pc_workload_decode_svids(msg.data, msg.len, &update, detail);

    pc_workload_free_svids(update);
    free(msg.data);
    return rc;
}

static void
test_workload_decode_svids_accepts_a_valid_response(void **state)
{
    X509SVID svid = good_svid();
    X509SVID *list[] = { &svid };
    X509SVIDResponse__FederatedBundlesEntry fed = X509_SVIDRESPONSE__FEDERATED_BUNDLES_ENTRY__INIT;
    X509SVIDResponse__FederatedBundlesEntry *feds[] = { &fed };
    ProtobufCBinaryData crls[] = { bin(pki.crl) };
    X509SVIDResponse resp = X509_SVIDRESPONSE__INIT;
    struct pc_workload_svids *update = NULL;
    const char *detail = NULL;

    fed.key = "spiffe://other.org";
    fed.value = bin(pki.ca);
    resp.n_svids = 1;
    resp.svids = list;
    resp.n_federated_bundles = 1;
    resp.federated_bundles = feds;
    resp.n_crl = 1;
    resp.crl = crls;

    struct blob msg = pack_svids(&resp);

    assert_int_equal(pc_workload_decode_svids(msg.data, msg.len, &update, &detail), 0);
    /* The update is self-contained: the message can go before the update is read. */
    memset(msg.data, 0xa5, msg.len);
    free(msg.data);

    assert_int_equal(update->n_svids, 1);
    assert_string_equal(update->svids[0].spiffe_id, LEAF_ID);
    assert_string_equal(update->svids[0].hint, "internal");
    assert_int_equal(update->svids[0].chain.len, pki.leaf.len);
    assert_memory_equal(update->svids[0].chain.data, pki.leaf.data, pki.leaf.len);
    assert_memory_equal(update->svids[0].key.data, pki.key.data, pki.key.len);
    assert_memory_equal(update->svids[0].bundle.data, pki.ca.data, pki.ca.len);
    assert_int_equal(update->n_federated, 1);
    assert_string_equal(update->federated[0].trust_domain, "other.org");
    assert_int_equal(update->n_crls, 1);
    assert_memory_equal(update->crls[0].data, pki.crl.data, pki.crl.len);
    pc_workload_free_svids(update);
}

static void
test_workload_decode_svids_refuses_missing_mandatory_fields(void **state)
{
    const char *detail = NULL;
    X509SVID svid;

    svid = good_svid();
    svid.spiffe_id = "";
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "missing_spiffe_id");

    svid = good_svid();
    svid.x509_svid.len = 0;
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "missing_certificate");

    svid = good_svid();
    svid.x509_svid_key.len = 0;
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "missing_key");

    svid = good_svid();
    svid.bundle.len = 0;
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "missing_bundle");

    /* The hint alone is optional. */
    svid = good_svid();
    svid.hint = "";
    assert_int_equal(decode_one(&svid, &detail), 0);
}

static void
test_workload_decode_svids_refuses_an_empty_response(void **state)
{
    struct pc_workload_svids *update = (struct pc_workload_svids *)&update;
    const char *detail = NULL;

    assert_int_equal(pc_workload_decode_svids((const uint8_t *)"", 0, &update, &detail), PC_EPARSE);
    assert_null(update);
    assert_string_equal(detail, "no_svids");
}

static void
test_workload_decode_svids_refuses_bytes_that_are_not_protobuf(void **state)
{
    static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01 };
    struct pc_workload_svids *update = NULL;
    const char *detail = NULL;

    assert_int_equal(pc_workload_decode_svids(garbage, sizeof(garbage), &update, &detail),
                     PC_EPARSE);
    assert_string_equal(detail, "malformed_message");
}

static void
test_workload_decode_svids_refuses_bad_material(void **state)
{
    unsigned char *chain = malloc(pki.leaf.len + 1);
    const char *detail = NULL;
    X509SVID svid;

    svid = good_svid();
    svid.x509_svid_key = bin(pki.other_key);
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "key_mismatch");

    /* The specification asks for PKCS#8; the SEC 1 form of the right key is refused. */
    svid = good_svid();
    svid.x509_svid_key = bin(pki.sec1_key);
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_key");

    svid = good_svid();
    svid.spiffe_id = "spiffe://example.org/other";
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "spiffe_id_mismatch");

    svid = good_svid();
    memcpy(chain, pki.leaf.data, pki.leaf.len);
    chain[pki.leaf.len] = 0x30;
    svid.x509_svid = (ProtobufCBinaryData){ .len = pki.leaf.len + 1, .data = chain };
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_certificate");

    svid = good_svid();
    svid.bundle = bin(pki.key);
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_bundle");
    free(chain);
}

static void
test_workload_decode_svids_refuses_malformed_ids_and_hints(void **state)
{
    static const char *const bad_ids[] = {
        "http://example.org/gw",    "spiffe://Example.org/gw",   "spiffe:///gw",
        "spiffe://example.org/g w", "spiffe://exa%6dple.org/gw",
    };
    const char *detail = NULL;
    X509SVID svid;

    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        svid = good_svid();
        svid.spiffe_id = (char *)bad_ids[i];
        assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
        assert_string_equal(detail, "bad_spiffe_id");
    }

    svid = good_svid();
    svid.hint = "line\nbreak";
    assert_int_equal(decode_one(&svid, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_hint");
}

static int
decode_n_svids(size_t n, const char **detail)
{
    X509SVID svid = good_svid();
    X509SVID **list = calloc(n, sizeof(*list));
    X509SVIDResponse resp = X509_SVIDRESPONSE__INIT;
    struct pc_workload_svids *update = NULL;

    for (size_t i = 0; i < n; i++) {
        list[i] = &svid;
    }
    resp.n_svids = n;
    resp.svids = list;

    struct blob msg = pack_svids(&resp);
    int rc = pc_workload_decode_svids(msg.data, msg.len, &update, detail);

    if (rc == 0) {
        assert_int_equal(update->n_svids, n);
    }
    pc_workload_free_svids(update);
    free(msg.data);
    free(list);
    return rc;
}

static void
test_workload_decode_svids_bounds_the_svid_count(void **state)
{
    const char *detail = NULL;

    assert_int_equal(decode_n_svids(PC_WORKLOAD_MAX_SVIDS, &detail), 0);
    assert_int_equal(decode_n_svids(PC_WORKLOAD_MAX_SVIDS + 1, &detail), PC_ELIMIT);
    assert_string_equal(detail, "too_many_svids");
}

static void
test_workload_decode_refuses_oversized_messages(void **state)
{
    size_t len = PC_WORKLOAD_MAX_MSG_BYTES + 1;
    uint8_t *msg = calloc(1, len);
    struct pc_workload_svids *svids = NULL;
    struct pc_workload_bundles *bundles = NULL;
    const char *detail = NULL;

    assert_int_equal(pc_workload_decode_svids(msg, len, &svids, &detail), PC_ELIMIT);
    assert_string_equal(detail, "message_too_large");
    assert_int_equal(pc_workload_decode_bundles(msg, len, &bundles, &detail), PC_ELIMIT);
    assert_string_equal(detail, "message_too_large");
    free(msg);
}

/* Decodes an X509BundlesResponse with one CA bundle under each key. */
static int
decode_bundles(const char *const *keys, size_t n, struct pc_workload_bundles **update,
               const char **detail)
{
    X509BundlesResponse__BundlesEntry *entries = calloc(n, sizeof(*entries));
    X509BundlesResponse__BundlesEntry **list = calloc(n, sizeof(*list));
    X509BundlesResponse resp = X509_BUNDLES_RESPONSE__INIT;

    for (size_t i = 0; i < n; i++) {
        X509BundlesResponse__BundlesEntry init = X509_BUNDLES_RESPONSE__BUNDLES_ENTRY__INIT;

        entries[i] = init;
        entries[i].key = (char *)keys[i];
        entries[i].value = bin(pki.ca);
        list[i] = &entries[i];
    }
    resp.n_bundles = n;
    resp.bundles = list;

    struct blob msg = pack_bundles(&resp);
    int rc = pc_workload_decode_bundles(msg.data, msg.len, update, detail);

    free(msg.data);
    free(list);
    free(entries);
    return rc;
}

static void
test_workload_decode_bundles_sorts_and_strips_the_scheme(void **state)
{
    static const char *const keys[] = { "spiffe://b.example", "a.example", "spiffe://c.example" };
    struct pc_workload_bundles *update = NULL;
    const char *detail = NULL;

    assert_int_equal(decode_bundles(keys, 3, &update, &detail), 0);
    assert_int_equal(update->n_bundles, 3);
    assert_string_equal(update->bundles[0].trust_domain, "a.example");
    assert_string_equal(update->bundles[1].trust_domain, "b.example");
    assert_string_equal(update->bundles[2].trust_domain, "c.example");
    assert_memory_equal(update->bundles[1].certs.data, pki.ca.data, pki.ca.len);
    pc_workload_free_bundles(update);
}

static void
test_workload_decode_bundles_refuses_duplicates_and_bad_names(void **state)
{
    static const char *const twice[] = { "spiffe://a.example", "a.example" };
    static const char *const bad[] = { "spiffe://A.example" };
    static const char *const with_path[] = { "spiffe://a.example/ns" };
    struct pc_workload_bundles *update = NULL;
    const char *detail = NULL;

    assert_int_equal(decode_bundles(twice, 2, &update, &detail), PC_EPARSE);
    assert_null(update);
    assert_string_equal(detail, "duplicate_trust_domain");
    assert_int_equal(decode_bundles(bad, 1, &update, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_trust_domain");
    assert_int_equal(decode_bundles(with_path, 1, &update, &detail), PC_EPARSE);
    assert_string_equal(detail, "bad_trust_domain");
    assert_int_equal(decode_bundles(NULL, 0, &update, &detail), PC_EPARSE);
    assert_string_equal(detail, "no_bundles");
}

static void
test_workload_decode_bundles_bounds_the_bundle_count(void **state)
{
    size_t n = PC_WORKLOAD_MAX_BUNDLES + 1;
    char(*names)[32] = calloc(n, sizeof(*names));
    const char **keys = calloc(n, sizeof(*keys));
    struct pc_workload_bundles *update = NULL;
    const char *detail = NULL;

    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "td%zu.example", i);
        keys[i] = names[i];
    }
    assert_int_equal(decode_bundles(keys, n - 1, &update, &detail), 0);
    assert_int_equal(update->n_bundles, n - 1);
    pc_workload_free_bundles(update);
    assert_int_equal(decode_bundles(keys, n, &update, &detail), PC_ELIMIT);
    assert_string_equal(detail, "too_many_bundles");
    free(keys);
    free(names);
}

static void
test_workload_decode_fails_cleanly_out_of_memory(void **state)
{
    X509SVID svid = good_svid();
    X509SVID *list[] = { &svid };
    X509SVIDResponse resp = X509_SVIDRESPONSE__INIT;
    size_t before = pc_alloc_bytes();
    int rc = PC_ENOMEM;

    resp.n_svids = 1;
    resp.svids = list;

    struct blob msg = pack_svids(&resp);

    for (long after = 0; rc == PC_ENOMEM; after++) {
        struct pc_workload_svids *update = NULL;
        const char *detail = NULL;

        pc_alloc_fail_after(after);
        rc = pc_workload_decode_svids(msg.data, msg.len, &update, &detail);
        pc_alloc_fail_reset();
        if (rc == PC_ENOMEM) {
            assert_null(update);
            assert_string_equal(detail, "out_of_memory");
        }
        pc_workload_free_svids(update);
        assert_int_equal(pc_alloc_bytes(), before);
    }
    assert_int_equal(rc, 0);
    free(msg.data);
}

static struct blob
repeat(struct blob b, size_t times)
{
    struct blob out = { malloc(b.len * times), b.len * times };

    for (size_t i = 0; i < times; i++) {
        memcpy(out.data + i * b.len, b.data, b.len);
    }
    return out;
}

static void
test_workload_load_certs_takes_whole_certificates_only(void **state)
{
    struct blob many = repeat(pki.ca, PC_WORKLOAD_MAX_CERTS + 1);
    struct pc_workload_der der = { many.data, pki.ca.len * PC_WORKLOAD_MAX_CERTS };
    struct pc_workload_der empty = { NULL, 0 };
    struct pc_workload_der cut = { pki.ca.data, pki.ca.len - 1 };
    STACK_OF(X509) *certs = NULL;

    assert_int_equal(pc_workload_load_certs(&der, &certs), 0);
    assert_int_equal(sk_X509_num(certs), PC_WORKLOAD_MAX_CERTS);
    sk_X509_pop_free(certs, X509_free);

    der.len = many.len;
    assert_int_equal(pc_workload_load_certs(&der, &certs), PC_ELIMIT);
    assert_null(certs);
    assert_int_equal(pc_workload_load_certs(&empty, &certs), PC_EPARSE);
    assert_int_equal(pc_workload_load_certs(&cut, &certs), PC_EPARSE);
    free(many.data);
}

static void
test_workload_load_key_takes_pkcs8_only(void **state)
{
    struct pc_workload_der good = { pki.key.data, pki.key.len };
    struct pc_workload_der sec1 = { pki.sec1_key.data, pki.sec1_key.len };
    struct blob longer = repeat(pki.key, 2);
    struct pc_workload_der trailing = { longer.data, pki.key.len + 1 };
    EVP_PKEY *key = NULL;

    assert_int_equal(pc_workload_load_key(&good, &key), 0);
    assert_non_null(key);
    EVP_PKEY_free(key);
    assert_int_equal(pc_workload_load_key(&sec1, &key), PC_EPARSE);
    assert_null(key);
    assert_int_equal(pc_workload_load_key(&trailing, &key), PC_EPARSE);
    free(longer.data);
}

static void
test_workload_parse_endpoint_takes_absolute_unix_uris(void **state)
{
    char path[108];
    char small[8];

    assert_int_equal(pc_workload_parse_endpoint("unix:///run/spire/agent.sock", path, 108), 0);
    assert_string_equal(path, "/run/spire/agent.sock");
    assert_int_equal(pc_workload_parse_endpoint("unix:/run/agent.sock", path, 108), 0);
    assert_string_equal(path, "/run/agent.sock");
    assert_int_equal(pc_workload_parse_endpoint("UNIX:///a", path, 108), 0);
    assert_string_equal(path, "/a");

    assert_int_equal(pc_workload_parse_endpoint("tcp://127.0.0.1:8000", path, 108), PC_ENOTSUP);
    assert_int_equal(pc_workload_parse_endpoint("unix://host/agent.sock", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:agent.sock", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:///a?x=1", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:///a#f", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:///a%20b", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("/run/agent.sock", path, 108), PC_EINVAL);
    assert_int_equal(pc_workload_parse_endpoint("unix:///0123456789", small, sizeof(small)),
                     PC_ERANGE);
}

static void
test_workload_parse_endpoint_refuses_paths_past_sun_path(void **state)
{
    char uri[300] = "unix://";
    char path[300];

    memset(uri + 7, 'a', 200);
    uri[7] = '/';
    assert_int_equal(pc_workload_parse_endpoint(uri, path, sizeof(path)), PC_ERANGE);
}

static void
test_workload_backoff_doubles_to_the_ceiling_with_jitter(void **state)
{
    struct pc_workload_backoff b;
    uint32_t ceiling = 100;
    int n_below_ceiling = 0;

    pc_workload_backoff_init(&b, 0, 0, 42);
    assert_int_equal(b.initial_ms, 100);
    assert_int_equal(b.max_ms, 30000);
    for (int i = 0; i < 20; i++) {
        uint32_t delay = pc_workload_backoff_next(&b);

        assert_true(delay >= ceiling / 2);
        assert_true(delay <= ceiling);
        n_below_ceiling += delay < ceiling;
        assert_int_equal(b.attempt, (uint32_t)i + 1);
        ceiling = ceiling * 2 > 30000 ? 30000 : ceiling * 2;
    }
    /* Jitter: delays are spread, not all at the ceiling. */
    assert_true(n_below_ceiling > 10);
}

static void
test_workload_backoff_reset_starts_over(void **state)
{
    struct pc_workload_backoff b;

    pc_workload_backoff_init(&b, 1000, 4000, 7);
    for (int i = 0; i < 5; i++) {
        pc_workload_backoff_next(&b);
    }
    assert_true(pc_workload_backoff_next(&b) >= 2000);
    pc_workload_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    assert_true(pc_workload_backoff_next(&b) <= 1000);
}

static void
test_workload_backoff_is_a_function_of_the_seed(void **state)
{
    struct pc_workload_backoff a;
    struct pc_workload_backoff b;
    struct pc_workload_backoff c;
    int n_same = 0;

    pc_workload_backoff_init(&a, 100, 30000, 1234);
    pc_workload_backoff_init(&b, 100, 30000, 1234);
    pc_workload_backoff_init(&c, 100, 30000, 99);
    for (int i = 0; i < 16; i++) {
        uint32_t x = pc_workload_backoff_next(&a);

        assert_int_equal(x, pc_workload_backoff_next(&b));
        n_same += x == pc_workload_backoff_next(&c);
    }
    /* Two gateways with different seeds do not reconnect in step. */
    assert_true(n_same < 8);
}

static void
test_workload_backoff_keeps_ceiling_above_start(void **state)
{
    struct pc_workload_backoff b;

    pc_workload_backoff_init(&b, 500, 200, 3);
    assert_int_equal(b.max_ms, 500);
    for (int i = 0; i < 5; i++) {
        uint32_t delay = pc_workload_backoff_next(&b);

        assert_true(delay >= 250 && delay <= 500);
    }
}

static void
test_workload_reason_names_are_stable(void **state)
{
    assert_string_equal(pc_workload_reason_name(PC_WORKLOAD_UNAVAILABLE), "unavailable");
    assert_string_equal(pc_workload_reason_name(PC_WORKLOAD_BAD_RESPONSE), "bad_response");
    assert_string_equal(pc_workload_reason_name(PC_WORKLOAD_DENIED), "denied");
    assert_string_equal(pc_workload_reason_name(PC_WORKLOAD_REJECTED), "rejected");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_decode_svids_accepts_a_valid_response),
        cmocka_unit_test(test_workload_decode_svids_refuses_missing_mandatory_fields),
        cmocka_unit_test(test_workload_decode_svids_refuses_an_empty_response),
        cmocka_unit_test(test_workload_decode_svids_refuses_bytes_that_are_not_protobuf),
        cmocka_unit_test(test_workload_decode_svids_refuses_bad_material),
        cmocka_unit_test(test_workload_decode_svids_refuses_malformed_ids_and_hints),
        cmocka_unit_test(test_workload_decode_svids_bounds_the_svid_count),
        cmocka_unit_test(test_workload_decode_refuses_oversized_messages),
        cmocka_unit_test(test_workload_decode_bundles_sorts_and_strips_the_scheme),
        cmocka_unit_test(test_workload_decode_bundles_refuses_duplicates_and_bad_names),
        cmocka_unit_test(test_workload_decode_bundles_bounds_the_bundle_count),
        cmocka_unit_test(test_workload_decode_fails_cleanly_out_of_memory),
        cmocka_unit_test(test_workload_load_certs_takes_whole_certificates_only),
        cmocka_unit_test(test_workload_load_key_takes_pkcs8_only),
        cmocka_unit_test(test_workload_parse_endpoint_takes_absolute_unix_uris),
        cmocka_unit_test(test_workload_parse_endpoint_refuses_paths_past_sun_path),
        cmocka_unit_test(test_workload_backoff_doubles_to_the_ceiling_with_jitter),
        cmocka_unit_test(test_workload_backoff_reset_starts_over),
        cmocka_unit_test(test_workload_backoff_is_a_function_of_the_seed),
        cmocka_unit_test(test_workload_backoff_keeps_ceiling_above_start),
        cmocka_unit_test(test_workload_reason_names_are_stable),
    };

    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
