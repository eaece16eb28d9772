/*
 * Unit tests for peer verification: X.509-SVIDs against federated trust domains, plain CA
 * chains, every refusal reason, name checks, and the verify-callback form inside a real TLS
 * handshake over memory BIOs. Certificates are built here; verification runs at a fixed time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "helpers/certs.h"
#include "tls/bundle.h"
#include "tls/spiffe.h"
#include "tls/verify.h"

#define T0  ((time_t)1767225600) /* 2026-01-01T00:00:00Z: the time every check runs at */
#define DAY ((time_t)86400)

/* example.org: root -> intermediate; federated.org: root; a plain CA: root -> intermediate. */
static EVP_PKEY *td_root_key;
static X509 *td_root;
static EVP_PKEY *td_inter_key;
static X509 *td_inter;
static EVP_PKEY *fed_root_key;
static X509 *fed_root;
static EVP_PKEY *plain_root_key;
static X509 *plain_root;
static EVP_PKEY *plain_inter_key;
static X509 *plain_inter;
static EVP_PKEY *stranger_key;
static X509 *stranger_root;
static EVP_PKEY *leaf_key;
static struct pc_bundle_set *set;
static struct pc_arena *arena;

static X509 *
make_ca(const char *subject, const char *uri, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    const char *uris[] = { uri, NULL };

    return test_cert_new(&(struct test_cert_spec){ .subject = subject,
                                                   .is_ca = true,
                                                   .uris = uri != NULL ? uris : NULL,
                                                   .not_before = T0 - 3650 * DAY,
                                                   .not_after = T0 + 3650 * DAY },
                         key, issuer, issuer_key);
}

static void
add_pem(struct pc_bundle_builder *b, const char *td, X509 *cert)
{
    struct pc_err err = { 0 };
    char *pem = test_cert_pem(cert);

    assert_int_equal(pc_bundle_builder_add_pem(b, td, pem, strlen(pem), &err), 0);
    pc_free(pem);
}

static int
setup(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_err err = { 0 };

    td_root_key = test_key_new();
    td_inter_key = test_key_new();
    fed_root_key = test_key_new();
    plain_root_key = test_key_new();
    plain_inter_key = test_key_new();
    stranger_key = test_key_new();
    leaf_key = test_key_new();
    td_root = make_ca("O=example.org", "spiffe://example.org", td_root_key, NULL, NULL);
    td_inter = make_ca("O=example.org,CN=intermediate", "spiffe://example.org", td_inter_key,
                       td_root, td_root_key);
    fed_root = make_ca("O=federated.org", "spiffe://federated.org", fed_root_key, NULL, NULL);
    plain_root = make_ca("CN=plain root", NULL, plain_root_key, NULL, NULL);
    plain_inter =
        make_ca("CN=plain intermediate", NULL, plain_inter_key, plain_root, plain_root_key);
    stranger_root = make_ca("CN=stranger", "spiffe://example.org", stranger_key, NULL, NULL);

    add_pem(b, "example.org", td_root);
    add_pem(b, "federated.org", fed_root);
    add_pem(b, NULL, plain_root);
    set = pc_bundle_builder_finish(b, &err);
    arena = pc_arena_create(4096);
    return set == NULL || arena == NULL;
}

static int
teardown(void **state)
{
    X509 *certs[] = { td_root, td_inter, fed_root, plain_root, plain_inter, stranger_root };
    EVP_PKEY *keys[] = { td_root_key,     td_inter_key, fed_root_key, plain_root_key,
                         plain_inter_key, stranger_key, leaf_key };

    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
        X509_free(certs[i]);
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY_free(keys[i]);
    }
    pc_bundle_set_unref(set);
    pc_arena_destroy(arena);
    return 0;
}

/* A leaf valid at T0 with the given URI SANs and extended key usage, issued by issuer. */
static X509 *
svid(const char *const *uris, const char *eku, X509 *issuer, EVP_PKEY *issuer_key)
{
    return test_cert_new(&(struct test_cert_spec){ .subject = "O=workload",
                                                   .uris = uris,
                                                   .ext_key_usage = eku,
                                                   .not_before = T0 - DAY,
                                                   .not_after = T0 + DAY },
                         leaf_key, issuer, issuer_key);
}

static X509 *
svid_of(const char *id)
{
    const char *uris[] = { id, NULL };

    return svid(uris, "clientAuth,serverAuth", td_inter, td_inter_key);
}

static struct pc_verify_policy
spiffe_policy(void)
{
    return (struct pc_verify_policy){ .mode = PC_VERIFY_SPIFFE,
                                      .usage = PC_VERIFY_PEER_CLIENT,
                                      .at = T0 };
}

static struct pc_verify_policy
plain_policy(enum pc_verify_usage usage)
{
    return (struct pc_verify_policy){ .mode = PC_VERIFY_PLAIN_CA, .usage = usage, .at = T0 };
}

/* Verifies leaf sent with the NULL-terminated intermediates; returns the reason code. */
static const char *
verify(X509 *leaf, X509 *const *intermediates, const struct pc_verify_policy *policy,
       struct pc_verify_result *result)
{
    X509 *none[] = { NULL };
    STACK_OF(X509) *untrusted = test_cert_stack(intermediates != NULL ? intermediates : none);
    STACK_OF(X509) *chain = NULL;
    int rc = pc_verify_chain(leaf, untrusted, set, policy, result, &chain);

    assert_int_equal(rc == 0, strcmp(result->reason, "ok") == 0);
    assert_true(rc == 0 || rc == PC_EACCES);
    assert_true(rc == 0 ? chain != NULL : chain == NULL);
    if (rc != 0) {
        assert_int_not_equal(result->x509_error, X509_V_OK);
        assert_non_null(result->detail);
    }
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    return result->reason;
}

/* Verifies an SVID issued by example.org's intermediate, sent along with it. */
static const char *
verify_svid(X509 *leaf, const struct pc_verify_policy *policy)
{
    static struct pc_verify_result result;
    X509 *inter[] = { td_inter, NULL };
    struct pc_verify_policy p = policy != NULL ? *policy : spiffe_policy();

    return verify(leaf, inter, &p, &result);
}

static void
test_verify_accepts_svid_with_chain(void **state)
{
    X509 *leaf = svid_of("spiffe://example.org/ns/prod/sa/web");
    X509 *inter[] = { td_inter, NULL };
    STACK_OF(X509) *untrusted = test_cert_stack(inter);
    STACK_OF(X509) *chain = NULL;
    struct pc_verify_policy policy = spiffe_policy();
    struct pc_verify_result result;

    assert_int_equal(pc_verify_chain(leaf, untrusted, set, &policy, &result, &chain), 0);
    assert_string_equal(result.reason, "ok");
    assert_int_equal(result.x509_error, X509_V_OK);
    assert_string_equal(result.spiffe_id, "spiffe://example.org/ns/prod/sa/web");
    assert_int_equal(result.spiffe_id_len, strlen(result.spiffe_id));
    assert_int_equal(sk_X509_num(chain), 3);
    assert_ptr_equal(sk_X509_value(chain, 0), leaf);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 2), td_root), 0);

    /* Without the chain argument the result is the same. */
    assert_int_equal(pc_verify_chain(leaf, untrusted, set, &policy, &result, NULL), 0);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
}

static void
test_verify_accepts_svids_of_two_federated_domains(void **state)
{
    const char *uris[] = { "spiffe://federated.org/billing", NULL };
    X509 *fed_leaf = svid(uris, "clientAuth", fed_root, fed_root_key);
    X509 *td_leaf = svid_of("spiffe://example.org/web");
    struct pc_verify_policy policy = spiffe_policy();
    struct pc_verify_result result;

    assert_string_equal(verify(fed_leaf, NULL, &policy, &result), "ok");
    assert_string_equal(result.spiffe_id, "spiffe://federated.org/billing");
    assert_string_equal(verify_svid(td_leaf, NULL), "ok");
    X509_free(fed_leaf);
    X509_free(td_leaf);
}

static void
test_verify_refuses_foreign_trust_domain(void **state)
{
    X509 *leaf = svid_of("spiffe://unknown.org/web");
    static struct pc_verify_result result;
    X509 *inter[] = { td_inter, NULL };
    struct pc_verify_policy policy = spiffe_policy();

    assert_string_equal(verify(leaf, inter, &policy, &result), "foreign_trust_domain");
    assert_int_equal(result.x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    X509_free(leaf);
}

static void
test_verify_keeps_trust_domains_apart(void **state)
{
    /* example.org's CA signs an ID of federated.org: only federated.org's roots may vouch. */
    X509 *leaf = svid_of("spiffe://federated.org/admin");

    assert_string_equal(verify_svid(leaf, NULL), "unknown_ca");
    X509_free(leaf);
}

static void
test_verify_refuses_unknown_ca(void **state)
{
    const char *uris[] = { "spiffe://example.org/web", NULL };
    X509 *leaf = svid(uris, "clientAuth", stranger_root, stranger_key);
    struct pc_verify_policy policy = spiffe_policy();
    struct pc_verify_result result;
    X509 *sent[] = { stranger_root, NULL };

    assert_string_equal(verify(leaf, NULL, &policy, &result), "unknown_ca");
    /* Sending the unknown root along does not help: it is self-signed but not trusted. */
    assert_string_equal(verify(leaf, sent, &policy, &result), "unknown_ca");
    assert_int_equal(result.x509_error, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    assert_non_null(strstr(result.detail, "self-signed"));
    X509_free(leaf);
}

static void
test_verify_refuses_expired_and_not_yet_valid(void **state)
{
    const char *uris[] = { "spiffe://example.org/web", NULL };
    X509 *expired = test_cert_new(
        &(struct test_cert_spec){
            .uris = uris, .subject = "O=w", .not_before = T0 - 2 * DAY, .not_after = T0 - 1 },
        leaf_key, td_inter, td_inter_key);
    X509 *early = test_cert_new(
        &(struct test_cert_spec){
            .uris = uris, .subject = "O=w", .not_before = T0 + 60, .not_after = T0 + DAY },
        leaf_key, td_inter, td_inter_key);
    struct pc_verify_policy later = spiffe_policy();

    assert_string_equal(verify_svid(expired, NULL), "expired");
    assert_string_equal(verify_svid(early, NULL), "not_yet_valid");
    /* The injected time decides: a minute later the early one is valid. */
    later.at = T0 + 120;
    assert_string_equal(verify_svid(early, &later), "ok");
    X509_free(expired);
    X509_free(early);
}

static void
test_verify_refuses_svid_without_or_with_many_uris(void **state)
{
    const char *two[] = { "spiffe://example.org/a", "spiffe://example.org/b", NULL };
    const char *dns[] = { "web.example.org", NULL };
    X509 *none = test_cert_new(
        &(struct test_cert_spec){
            .subject = "O=w", .dns = dns, .not_before = T0 - DAY, .not_after = T0 + DAY },
        leaf_key, td_inter, td_inter_key);
    X509 *many = svid(two, "clientAuth", td_inter, td_inter_key);

    assert_string_equal(verify_svid(none, NULL), "svid_no_uri_san");
    assert_string_equal(verify_svid(many, NULL), "svid_multiple_uri_sans");
    X509_free(none);
    X509_free(many);
}

static void
test_verify_refuses_malformed_spiffe_ids(void **state)
{
    static const char *const cases[][2] = {
        { "spiffe://example.org:8443/web", "spiffe_id_port" },
        { "spiffe://user@example.org/web", "spiffe_id_userinfo" },
        { "spiffe://example.org/web?x=1", "spiffe_id_query" },
        { "spiffe://example.org/web#f", "spiffe_id_fragment" },
        { "spiffe://example.org//web", "spiffe_id_empty_segment" },
        { "spiffe://example.org/web/", "spiffe_id_empty_segment" },
        { "spiffe://example.org/./web", "spiffe_id_dot_segment" },
        { "spiffe://example.org/a/../web", "spiffe_id_dot_segment" },
        { "spiffe://example.org/w%65b", "spiffe_id_percent_encoded" },
        { "spiffe://example.org/we b", "spiffe_id_bad_char" },
        { "spiffe://Example.org/web", "spiffe_id_uppercase_trust_domain" },
        { "https://example.org/web", "spiffe_id_scheme" },
        { "spiffe://example.org", "svid_no_path" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509 *leaf = svid_of(cases[i][0]);
        struct pc_verify_result result;
        X509 *inter[] = { td_inter, NULL };
        struct pc_verify_policy policy = spiffe_policy();
        const char *got = verify(leaf, inter, &policy, &result);

        if (strcmp(got, cases[i][1]) != 0) {
            fail_msg("%s: got %s, want %s", cases[i][0], got, cases[i][1]);
        }
        /* Refused bytes are not kept for the log. */
        if (strcmp(cases[i][1], "svid_no_path") != 0) {
            assert_string_equal(result.spiffe_id, "");
        }
        X509_free(leaf);
    }
}

static X509 *
svid_with(const char *key_usage, bool is_ca)
{
    const char *uris[] = { "spiffe://example.org/web", NULL };

    return test_cert_new(&(struct test_cert_spec){ .subject = "O=w",
                                                   .uris = uris,
                                                   .is_ca = is_ca,
                                                   .key_usage = key_usage,
                                                   .not_before = T0 - DAY,
                                                   .not_after = T0 + DAY },
                         leaf_key, td_inter, td_inter_key);
}

static void
test_verify_refuses_svid_ca_and_bad_key_usage(void **state)
{
    X509 *ca = svid_with("critical,digitalSignature", true);
    X509 *cert_sign = svid_with("critical,digitalSignature,keyCertSign", false);
    X509 *crl_sign = svid_with("critical,digitalSignature,cRLSign", false);
    X509 *no_ku = svid_with("", false);
    X509 *no_sig = svid_with("critical,keyEncipherment", false);
    X509 *ok = svid_with("critical,digitalSignature,keyEncipherment", false);

    assert_string_equal(verify_svid(ca, NULL), "svid_leaf_is_ca");
    assert_string_equal(verify_svid(cert_sign, NULL), "svid_bad_key_usage");
    assert_string_equal(verify_svid(crl_sign, NULL), "svid_bad_key_usage");
    assert_string_equal(verify_svid(no_ku, NULL), "svid_bad_key_usage");
    assert_string_equal(verify_svid(no_sig, NULL), "svid_bad_key_usage");
    assert_string_equal(verify_svid(ok, NULL), "ok");
    X509_free(ca);
    X509_free(cert_sign);
    X509_free(crl_sign);
    X509_free(no_ku);
    X509_free(no_sig);
    X509_free(ok);
}

static void
test_verify_checks_extended_key_usage(void **state)
{
    const char *uris[] = { "spiffe://example.org/web", NULL };
    X509 *server_only = svid(uris, "serverAuth", td_inter, td_inter_key);
    X509 *no_eku = svid(uris, NULL, td_inter, td_inter_key);
    struct pc_verify_policy as_server = spiffe_policy();

    as_server.usage = PC_VERIFY_PEER_SERVER;
    assert_string_equal(verify_svid(server_only, NULL), "wrong_usage");
    assert_string_equal(verify_svid(server_only, &as_server), "ok");
    /* Section 4.4: the extension is optional; without it every purpose is allowed. */
    assert_string_equal(verify_svid(no_eku, NULL), "ok");
    assert_string_equal(verify_svid(no_eku, &as_server), "ok");
    X509_free(server_only);
    X509_free(no_eku);
}

static void
test_verify_refuses_long_chains(void **state)
{
    EVP_PKEY *k2 = test_key_new();
    X509 *inter2 = make_ca("O=example.org,CN=second", NULL, k2, td_inter, td_inter_key);
    const char *uris[] = { "spiffe://example.org/web", NULL };
    X509 *leaf = svid(uris, "clientAuth", inter2, k2);
    X509 *sent[] = { inter2, td_inter, NULL };
    struct pc_verify_policy policy = spiffe_policy();
    struct pc_verify_result result;
    EVP_PKEY *k3 = test_key_new();
    X509 *limited = test_cert_new(&(struct test_cert_spec){ .subject = "O=example.org,CN=lim",
                                                            .is_ca = true,
                                                            .has_path_len = true,
                                                            .path_len = 0,
                                                            .not_before = T0 - DAY,
                                                            .not_after = T0 + DAY },
                                  k3, td_root, td_root_key);
    X509 *under = make_ca("O=example.org,CN=under", NULL, k2, limited, k3);
    X509 *deep = svid(uris, "clientAuth", under, k2);
    X509 *sent_deep[] = { under, limited, NULL };

    assert_string_equal(verify(leaf, sent, &policy, &result), "ok");
    policy.max_intermediates = 1;
    assert_string_equal(verify(leaf, sent, &policy, &result), "chain_too_long");
    /* pathLenConstraint 0 on the first intermediate forbids the second. */
    policy.max_intermediates = 0;
    assert_string_equal(verify(deep, sent_deep, &policy, &result), "chain_too_long");
    assert_int_equal(result.x509_error, X509_V_ERR_PATH_LENGTH_EXCEEDED);

    X509_free(inter2);
    X509_free(leaf);
    X509_free(limited);
    X509_free(under);
    X509_free(deep);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
}

static void
test_verify_refuses_bad_signature(void **state)
{
    const char *uris[] = { "spiffe://example.org/web", NULL };
    /* Names and key identifiers point at the intermediate, but another key signed it. */
    X509 *forged = svid(uris, "clientAuth", td_inter, stranger_key);
    struct pc_verify_result result;
    X509 *inter[] = { td_inter, NULL };
    struct pc_verify_policy policy = spiffe_policy();

    assert_string_equal(verify(forged, inter, &policy, &result), "bad_signature");
    assert_int_equal(result.depth, 0);
    X509_free(forged);
}

static void
test_verify_refuses_repeated_extensions(void **state)
{
    X509 *leaf = svid_of("spiffe://example.org/web");
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    /* A second subjectAltName extension, as a forger might add to hide a name. */
    ASN1_STRING_set(s, "spiffe://example.org/admin", -1);
    GENERAL_NAME_set0_value(gn, GEN_URI, s);
    sk_GENERAL_NAME_push(names, gn);
    assert_int_equal(X509_add1_ext_i2d(leaf, NID_subject_alt_name, names, 0, X509V3_ADD_APPEND), 1);
    assert_true(X509_sign(leaf, td_inter_key, EVP_sha256()) > 0);
    assert_string_equal(verify_svid(leaf, NULL), "bad_extension");
    GENERAL_NAMES_free(names);
    X509_free(leaf);
}

static void
test_verify_matches_expected_ids(void **state)
{
    X509 *leaf = svid_of("spiffe://example.org/ns/prod/sa/web");
    const struct pc_spiffe_matcher *web =
        pc_spiffe_matcher_compile("spiffe://example.org/ns/*/sa/web", arena, NULL);
    const struct pc_spiffe_matcher *api =
        pc_spiffe_matcher_compile("spiffe://example.org/ns/prod/sa/api", arena, NULL);
    const struct pc_spiffe_matcher *both[] = { api, web };
    const char *uri[] = { "spiffe://example.org/ns/prod/sa/web" };
    struct pc_verify_policy policy = spiffe_policy();
    static struct pc_verify_result result;
    X509 *inter[] = { td_inter, NULL };

    policy.usage = PC_VERIFY_PEER_SERVER;
    policy.ids = both;
    policy.n_ids = 2;
    assert_string_equal(verify(leaf, inter, &policy, &result), "ok");
    policy.n_ids = 1;
    assert_string_equal(verify(leaf, inter, &policy, &result), "name_mismatch");
    assert_string_equal(result.spiffe_id, "spiffe://example.org/ns/prod/sa/web");
    policy.n_ids = 0;
    policy.uris = uri;
    policy.n_uris = 1;
    assert_string_equal(verify(leaf, inter, &policy, &result), "ok");
    X509_free(leaf);
}

static X509 *
plain_leaf(const char *eku, const char *const *dns, X509 *issuer, EVP_PKEY *issuer_key)
{
    return test_cert_new(&(struct test_cert_spec){ .subject = "CN=peer",
                                                   .ext_key_usage = eku,
                                                   .dns = dns,
                                                   .not_before = T0 - DAY,
                                                   .not_after = T0 + DAY },
                         leaf_key, issuer, issuer_key);
}

static void
test_verify_plain_ca_client(void **state)
{
    X509 *client = plain_leaf("clientAuth", NULL, plain_inter, plain_inter_key);
    X509 *server_only = plain_leaf("serverAuth", NULL, plain_inter, plain_inter_key);
    X509 *self = plain_leaf("clientAuth", NULL, NULL, NULL);
    X509 *inter[] = { plain_inter, NULL };
    X509 *root_as_leaf[] = { NULL };
    struct pc_verify_policy policy = plain_policy(PC_VERIFY_PEER_CLIENT);
    struct pc_verify_result result;

    assert_string_equal(verify(client, inter, &policy, &result), "ok");
    assert_string_equal(result.spiffe_id, "");
    assert_string_equal(verify(client, NULL, &policy, &result), "unknown_ca");
    assert_string_equal(verify(server_only, inter, &policy, &result), "wrong_usage");
    assert_int_equal(result.x509_error, X509_V_ERR_INVALID_PURPOSE);
    assert_string_equal(verify(self, NULL, &policy, &result), "unknown_ca");
    assert_int_equal(result.x509_error, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    /* The trusted root itself, presented as a client certificate. */
    assert_string_equal(verify(plain_root, root_as_leaf, &policy, &result), "ca_as_leaf");
    assert_string_equal(verify(plain_inter, root_as_leaf, &policy, &result), "ca_as_leaf");
    X509_free(client);
    X509_free(server_only);
    X509_free(self);
}

static void
test_verify_plain_ca_upstream_names(void **state)
{
    const char *dns[] = { "api.example.com", "*.svc.example.com", NULL };
    X509 *server = plain_leaf("serverAuth", dns, plain_inter, plain_inter_key);
    X509 *inter[] = { plain_inter, NULL };
    struct pc_verify_policy policy = plain_policy(PC_VERIFY_PEER_SERVER);
    struct pc_verify_result result;
    const char *want_api[] = { "other.example.com", "api.example.com" };
    const char *want_wild[] = { "billing.svc.example.com" };
    const char *want_deep[] = { "a.billing.svc.example.com" };
    const char *want_cn[] = { "peer" };

    policy.dns_names = want_api;
    policy.n_dns_names = 2;
    assert_string_equal(verify(server, inter, &policy, &result), "ok");
    policy.n_dns_names = 1;
    assert_string_equal(verify(server, inter, &policy, &result), "name_mismatch");
    assert_int_equal(result.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    policy.dns_names = want_wild;
    assert_string_equal(verify(server, inter, &policy, &result), "ok");
    policy.dns_names = want_deep;
    assert_string_equal(verify(server, inter, &policy, &result), "name_mismatch");
    /* The subject CN is never used as a name. */
    policy.dns_names = want_cn;
    assert_string_equal(verify(server, inter, &policy, &result), "name_mismatch");
    /* As a client certificate, serverAuth alone is the wrong usage. */
    policy = plain_policy(PC_VERIFY_PEER_CLIENT);
    assert_string_equal(verify(server, inter, &policy, &result), "wrong_usage");
    X509_free(server);
}

static void
test_verify_plain_ca_name_constraints(void **state)
{
    EVP_PKEY *k = test_key_new();
    X509 *constrained = test_cert_new(
        &(struct test_cert_spec){ .subject = "CN=constrained",
                                  .is_ca = true,
                                  .name_constraints = "critical,permitted;DNS:example.com",
                                  .not_before = T0 - DAY,
                                  .not_after = T0 + DAY },
        k, plain_root, plain_root_key);
    const char *good_dns[] = { "a.example.com", NULL };
    const char *bad_dns[] = { "evil.test", NULL };
    X509 *good = plain_leaf("serverAuth", good_dns, constrained, k);
    X509 *bad = plain_leaf("serverAuth", bad_dns, constrained, k);
    X509 *inter[] = { constrained, NULL };
    struct pc_verify_policy policy = plain_policy(PC_VERIFY_PEER_SERVER);
    struct pc_verify_result result;

    assert_string_equal(verify(good, inter, &policy, &result), "ok");
    assert_string_equal(verify(bad, inter, &policy, &result), "name_constraints");
    X509_free(constrained);
    X509_free(good);
    X509_free(bad);
    EVP_PKEY_free(k);
}

static void
test_verify_without_bundle_or_certificate(void **state)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_bundle_set *empty = pc_bundle_builder_finish(b, NULL);
    X509 *client = plain_leaf("clientAuth", NULL, plain_root, plain_root_key);
    X509 *leaf = svid_of("spiffe://example.org/web");
    struct pc_verify_policy policy = plain_policy(PC_VERIFY_PEER_CLIENT);
    struct pc_verify_result result;

    assert_int_equal(pc_verify_chain(client, NULL, empty, &policy, &result, NULL), PC_EACCES);
    assert_string_equal(result.reason, "no_trust_bundle");
    assert_int_equal(pc_verify_chain(NULL, NULL, set, &policy, &result, NULL), PC_EACCES);
    assert_string_equal(result.reason, "no_certificate");
    policy = spiffe_policy();
    assert_int_equal(pc_verify_chain(leaf, NULL, empty, &policy, &result, NULL), PC_EACCES);
    assert_string_equal(result.reason, "foreign_trust_domain");
    pc_bundle_set_unref(empty);
    X509_free(client);
    X509_free(leaf);
}

static void
test_verify_reason_from_x509_maps_codes(void **state)
{
    assert_string_equal(pc_verify_reason_from_x509(X509_V_OK), "ok");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT),
                        "unknown_ca");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_CERT_HAS_EXPIRED), "expired");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_CERT_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_INVALID_PURPOSE), "wrong_usage");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_INVALID_NON_CA), "ca_as_leaf");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_CERT_SIGNATURE_FAILURE),
                        "bad_signature");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_CERT_REVOKED), "revoked");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_CERT_CHAIN_TOO_LONG),
                        "chain_too_long");
    assert_string_equal(pc_verify_reason_from_x509(X509_V_ERR_UNABLE_TO_GET_CRL), "other");
}

static void
test_verify_peer_reports_through_store_ctx(void **state)
{
    X509 *leaf = svid_of("spiffe://example.org/web");
    X509 *sent[] = { leaf, td_inter, NULL };
    STACK_OF(X509) *untrusted = test_cert_stack(sent);
    X509_STORE *empty = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    struct pc_verify_policy policy = spiffe_policy();
    struct pc_verify_result result;

    /* As OpenSSL sets it up for the callback: the SSL_CTX's store, the leaf, what was sent. */
    assert_int_equal(X509_STORE_CTX_init(ctx, empty, leaf, untrusted), 1);
    assert_int_equal(pc_verify_peer(ctx, set, &policy, &result), 0);
    assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_OK);
    assert_int_equal(sk_X509_num(X509_STORE_CTX_get0_chain(ctx)), 3);
    X509_STORE_CTX_cleanup(ctx);

    policy.at = T0 + 2 * DAY;
    assert_int_equal(X509_STORE_CTX_init(ctx, empty, leaf, untrusted), 1);
    assert_int_equal(pc_verify_peer(ctx, set, &policy, &result), PC_EACCES);
    assert_string_equal(result.reason, "expired");
    assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_ERR_CERT_HAS_EXPIRED);
    assert_int_equal(X509_STORE_CTX_get_error_depth(ctx), 0);

    X509_STORE_CTX_free(ctx);
    X509_STORE_free(empty);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
}

/* The handshake test's verify callback: what the TLS layer's callback will look like. */
static struct pc_verify_result handshake_result;

static int
on_cert_verify(X509_STORE_CTX *ctx, void *arg)
{
    const struct pc_verify_policy *policy = arg;

    return pc_verify_peer(ctx, set, policy, &handshake_result) == 0;
}

static SSL_CTX *
server_ctx(struct pc_verify_policy *policy)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *dns[] = { "gateway.example.org", NULL };
    X509 *cert = plain_leaf("serverAuth", dns, plain_root, plain_root_key);

    assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, leaf_key), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, on_cert_verify, policy);
    X509_free(cert);
    return ctx;
}

static SSL_CTX *
client_ctx(X509 *cert, X509 *chain_cert)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, leaf_key), 1);
    if (chain_cert != NULL) {
        assert_int_equal(SSL_CTX_add1_chain_cert(ctx, chain_cert), 1);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* Runs a handshake over a BIO pair; returns true when both sides completed. */
static bool
handshake(SSL_CTX *server, SSL_CTX *client, SSL **server_ssl)
{
    SSL *s = SSL_new(server);
    SSL *c = SSL_new(client);
    BIO *sb = NULL;
    BIO *cb = NULL;
    bool s_done = false;
    bool c_done = false;

    assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    for (int round = 0; round < 20 && !(s_done && c_done); round++) {
        int cr = SSL_do_handshake(c);
        int sr = SSL_do_handshake(s);

        c_done = cr == 1;
        s_done = sr == 1;
        if ((cr <= 0 && SSL_get_error(c, cr) == SSL_ERROR_SSL)
            || (sr <= 0 && SSL_get_error(s, sr) == SSL_ERROR_SSL)) {
            break;
        }
    }
    /* TLS 1.3 clients finish before the server has seen their certificate: read once. */
    if (c_done && s_done) {
        char byte;

        SSL_read(c, &byte, 1);
    }
    ERR_clear_error();
    SSL_free(c);
    *server_ssl = s;
    return s_done && c_done;
}

static void
test_verify_peer_in_a_tls_handshake(void **state)
{
    const char *good_uri[] = { "spiffe://example.org/web", NULL };
    const char *bad_uri[] = { "spiffe://example.org:1/web", NULL };
    /* The handshake runs at the real time, so these leaves take the default validity (around
     * now) and verification uses the clock. */
    X509 *good = test_cert_new(&(struct test_cert_spec){ .subject = "O=w", .uris = good_uri },
                               leaf_key, td_inter, td_inter_key);
    X509 *bad = test_cert_new(&(struct test_cert_spec){ .subject = "O=w", .uris = bad_uri },
                              leaf_key, td_inter, td_inter_key);
    struct pc_verify_policy policy = spiffe_policy();
    SSL_CTX *server;
    SSL_CTX *client;
    SSL *ssl = NULL;

    policy.at = 0;

    server = server_ctx(&policy);
    client = client_ctx(good, td_inter);
    assert_true(handshake(server, client, &ssl));
    assert_string_equal(handshake_result.reason, "ok");
    assert_int_equal(SSL_get_verify_result(ssl), X509_V_OK);
    assert_int_equal(sk_X509_num(SSL_get0_verified_chain(ssl)), 3);
    SSL_free(ssl);
    SSL_CTX_free(client);

    client = client_ctx(bad, td_inter);
    assert_false(handshake(server, client, &ssl));
    assert_string_equal(handshake_result.reason, "spiffe_id_port");
    assert_int_equal(SSL_get_verify_result(ssl), X509_V_ERR_APPLICATION_VERIFICATION);
    SSL_free(ssl);
    SSL_CTX_free(client);
    SSL_CTX_free(server);
    X509_free(good);
    X509_free(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_accepts_svid_with_chain),
        cmocka_unit_test(test_verify_accepts_svids_of_two_federated_domains),
        cmocka_unit_test(test_verify_refuses_foreign_trust_domain),
        cmocka_unit_test(test_verify_keeps_trust_domains_apart),
        cmocka_unit_test(test_verify_refuses_unknown_ca),
        cmocka_unit_test(test_verify_refuses_expired_and_not_yet_valid),
        cmocka_unit_test(test_verify_refuses_svid_without_or_with_many_uris),
        cmocka_unit_test(test_verify_refuses_malformed_spiffe_ids),
        cmocka_unit_test(test_verify_refuses_svid_ca_and_bad_key_usage),
        cmocka_unit_test(test_verify_checks_extended_key_usage),
        cmocka_unit_test(test_verify_refuses_long_chains),
        cmocka_unit_test(test_verify_refuses_bad_signature),
        cmocka_unit_test(test_verify_refuses_repeated_extensions),
        cmocka_unit_test(test_verify_matches_expected_ids),
        cmocka_unit_test(test_verify_plain_ca_client),
        cmocka_unit_test(test_verify_plain_ca_upstream_names),
        cmocka_unit_test(test_verify_plain_ca_name_constraints),
        cmocka_unit_test(test_verify_without_bundle_or_certificate),
        cmocka_unit_test(test_verify_reason_from_x509_maps_codes),
        cmocka_unit_test(test_verify_peer_reports_through_store_ctx),
        cmocka_unit_test(test_verify_peer_in_a_tls_handshake),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
