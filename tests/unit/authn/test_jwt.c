/*
 * Unit tests for JWT claims validation and the principal: time claims against an injected
 * clock with skew, issuer, audience, typ (RFC 9068), duplicate claims, required claims,
 * JWT-SVIDs, scopes and roles as identity providers send them, claim paths, the principal's
 * lifetime, and certificate binding (RFC 8705).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "authn/jwks.h"
#include "authn/jwt.h"
#include "authn/principal.h"
#include "authn/reason.h"
#include "core/arena.h"
#include "core/err.h"
#include "helpers/certs.h"
#include "jose_test.h"

#define NOW  1700000000
#define SKEW 30

static EVP_PKEY *key;
static struct pc_jwks *keys;
static struct pc_arena *arena;

static const char *const audiences[] = { "api", "other" };
static const char *const client_claims[] = { "client_id", "azp" };
static const char *const role_paths[] = { "realm_access.roles", "https://example.com/roles" };

static int
setup(void **state)
{
    char *doc;

    key = jose_key_new("P-256");
    doc = jose_jwks(jose_jwk(key, "k1", NULL), NULL);
    keys = pc_jwks_parse(doc, strlen(doc), NULL);
    free(doc);
    arena = pc_arena_create(4096);
    return keys != NULL && arena != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    EVP_PKEY_free(key);
    pc_jwks_unref(keys);
    pc_arena_destroy(arena);
    return 0;
}

static struct pc_jwt_options
options(void)
{
    return (struct pc_jwt_options){
        .jws = { .algorithms = PC_JWS_ALG_ES256, .keys = keys },
        .issuer = "https://idp.example.com",
        .audiences = audiences,
        .n_audiences = 2,
        .clock_skew_s = SKEW,
        .client_id_claims = client_claims,
        .n_client_id_claims = 2,
        .role_paths = role_paths,
        .n_role_paths = 2,
    };
}

/* Claims with iss, aud and exp filled in unless the extra text (JSON members) overrides. */
static char *
claims(const char *extra)
{
    static char text[4096];

    snprintf(text, sizeof(text),
             "{\"iss\":\"https://idp.example.com\",\"aud\":\"api\",\"exp\":%d%s%s}", NOW + 300,
             extra[0] != '\0' ? "," : "", extra);
    return text;
}

/* Signs payload with header and verifies it with opts at time now; returns the reason. */
static enum pc_authn_reason
check_at(const char *header, const char *payload, const struct pc_jwt_options *opts, int64_t now,
         struct pc_principal **out)
{
    char *token = jose_sign(header, payload, "ES256", key);
    struct pc_principal *p = NULL;
    enum pc_authn_reason reason = PC_AUTHN_INTERNAL;
    int rc = pc_jwt_verify(token, strlen(token), opts, now, arena, &p, &reason);

    assert_int_equal(rc, reason == PC_AUTHN_OK ? 0 : PC_EACCES);
    assert_true(rc == 0 ? p != NULL : p == NULL);
    if (out != NULL) {
        *out = p;
    }
    free(token);
    return reason;
}

static enum pc_authn_reason
check(const char *payload)
{
    struct pc_jwt_options opts = options();
    enum pc_authn_reason reason = check_at("{\"alg\":\"ES256\"}", payload, &opts, NOW, NULL);

    pc_arena_reset(arena);
    return reason;
}

static void
test_jwt_accepts_valid_token_and_builds_principal(void **state)
{
    struct pc_jwt_options opts = options();
    struct pc_principal *p = NULL;
    size_t n = 0;
    const struct pc_principal_name *names;

    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
                 claims("\"sub\":\"alice\",\"azp\":\"web\",\"scope\":\"read  write\","
                        "\"scp\":[\"admin\"],\"realm_access\":{\"roles\":[\"ops\",7,\"dev\"]},"
                        "\"https://example.com/roles\":\"auditor\",\"iat\":1700000000,"
                        "\"nbf\":1700000000"),
                 &opts, NOW, &p),
        PC_AUTHN_OK);
    assert_string_equal(pc_principal_subject(p), "alice");
    assert_string_equal(pc_principal_issuer(p), "https://idp.example.com");
    assert_string_equal(pc_principal_client_id(p), "web");
    assert_int_equal(pc_principal_expires(p), NOW + 300);
    names = pc_principal_scopes(p, &n);
    assert_int_equal(n, 3);
    assert_int_equal(names[0].len, 4);
    assert_memory_equal(names[1].ptr, "write", 5);
    assert_true(pc_principal_has_scope(p, "admin", 5));
    assert_false(pc_principal_has_scope(p, "rea", 3));
    pc_principal_roles(p, &n);
    assert_int_equal(n, 3);
    assert_true(pc_principal_has_role(p, "auditor", 7));
    assert_true(pc_principal_has_role(p, "dev", 3));
    assert_null(pc_principal_cnf_jkt(p));
    pc_arena_reset(arena);
}

static void
test_jwt_client_id_takes_first_configured_claim(void **state)
{
    struct pc_jwt_options opts = options();
    struct pc_principal *p = NULL;

    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              claims("\"azp\":\"second\",\"client_id\":\"first\""), &opts, NOW, &p),
                     PC_AUTHN_OK);
    assert_string_equal(pc_principal_client_id(p), "first");
    assert_null(pc_principal_subject(p));
    pc_arena_reset(arena);
}

static void
test_jwt_claim_paths(void **state)
{
    json_t *root = json_loads("{\"a\":{\"b\":{\"c\":1}},\"x.y\":{\"z\":2},\"x\":{\"y\":3},"
                              "\"https://example.com/roles\":[\"r\"],\"s\":\"str\"}",
                              0, NULL);
    struct pc_principal *p = pc_principal_create(root, NULL);

    assert_int_equal(json_integer_value(pc_principal_lookup(root, "a.b.c")), 1);
    /* The longest member name wins at each level. */
    assert_int_equal(json_integer_value(pc_principal_lookup(root, "x.y.z")), 2);
    assert_true(json_is_object(pc_principal_lookup(root, "x.y")));
    assert_true(json_is_array(pc_principal_lookup(root, "https://example.com/roles")));
    assert_null(pc_principal_lookup(root, "a.b.d"));
    assert_null(pc_principal_lookup(root, "s.t"));
    assert_null(pc_principal_lookup(root, ".a"));
    assert_null(pc_principal_lookup(root, "a."));
    assert_int_equal(json_integer_value(pc_principal_claim(p, "a.b.c")), 1);
    assert_ptr_equal(pc_principal_claims(p), root);
    json_decref(root);
    /* The principal holds its own reference to the claims. */
    assert_true(json_is_object(pc_principal_claim(p, "x.y")));
    pc_principal_unref(p);
}

static void
test_jwt_principal_outlives_arena_with_a_reference(void **state)
{
    struct pc_jwt_options opts = options();
    struct pc_principal *p = NULL;

    assert_int_equal(check_at("{\"alg\":\"ES256\"}", claims("\"sub\":\"cached\""), &opts, NOW, &p),
                     PC_AUTHN_OK);
    pc_principal_ref(p);
    pc_arena_reset(arena);
    assert_string_equal(pc_principal_subject(p), "cached");
    pc_principal_unref(p);
    pc_principal_unref(NULL);
}

static void
test_jwt_rejects_expired(void **state)
{
    char payload[256];

    /* Valid until exp + skew, exclusive. */
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"https://idp.example.com\",\"aud\":\"api\","
             "\"exp\":%d}",
             NOW - SKEW + 1);
    assert_int_equal(check(payload), PC_AUTHN_OK);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"https://idp.example.com\",\"aud\":\"api\","
             "\"exp\":%d}",
             NOW - SKEW - 1);
    assert_int_equal(check(payload), PC_AUTHN_EXPIRED);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"https://idp.example.com\",\"aud\":\"api\","
             "\"exp\":%d.5}",
             NOW - SKEW - 1);
    assert_int_equal(check(payload), PC_AUTHN_EXPIRED);
}

static void
test_jwt_requires_exp(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":\"api\"}"),
                     PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":\"api\",\"exp\":\"9\"}"),
                     PC_AUTHN_BAD_CLAIM);
}

static void
test_jwt_rejects_not_yet_valid(void **state)
{
    char extra[64];

    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW + SKEW);
    assert_int_equal(check(claims(extra)), PC_AUTHN_OK);
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW + SKEW + 1);
    assert_int_equal(check(claims(extra)), PC_AUTHN_NOT_YET_VALID);
    assert_int_equal(check(claims("\"nbf\":null")), PC_AUTHN_BAD_CLAIM);
}

static void
test_jwt_rejects_iat_in_future(void **state)
{
    char extra[64];

    snprintf(extra, sizeof(extra), "\"iat\":%d", NOW + SKEW);
    assert_int_equal(check(claims(extra)), PC_AUTHN_OK);
    snprintf(extra, sizeof(extra), "\"iat\":%d", NOW + SKEW + 1);
    assert_int_equal(check(claims(extra)), PC_AUTHN_IAT_IN_FUTURE);
}

static void
test_jwt_rejects_wrong_issuer(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://idp.example.com/\",\"aud\":\"api\",\"exp\":2e9}"),
                     PC_AUTHN_WRONG_ISSUER);
    assert_int_equal(check("{\"iss\":\"https://IDP.example.com\",\"aud\":\"api\",\"exp\":2e9}"),
                     PC_AUTHN_WRONG_ISSUER);
    assert_int_equal(check("{\"aud\":\"api\",\"exp\":2e9}"), PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(check("{\"iss\":[\"https://idp.example.com\"],\"aud\":\"api\",\"exp\":2e9}"),
                     PC_AUTHN_BAD_CLAIM);
}

static void
test_jwt_audience_string_or_array(void **state)
{
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":\"other\",\"exp\":2e9}"),
                     PC_AUTHN_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":[\"x\",\"api\"],"
                           "\"exp\":2e9}"),
                     PC_AUTHN_OK);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":\"apis\",\"exp\":2e9}"),
                     PC_AUTHN_WRONG_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":[],\"exp\":2e9}"),
                     PC_AUTHN_WRONG_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"exp\":2e9}"),
                     PC_AUTHN_WRONG_AUDIENCE);
    assert_int_equal(check("{\"iss\":\"https://idp.example.com\",\"aud\":[\"api\",1],"
                           "\"exp\":2e9}"),
                     PC_AUTHN_BAD_CLAIM);
}

static void
test_jwt_audience_not_compared_when_none_configured(void **state)
{
    struct pc_jwt_options opts = options();

    opts.n_audiences = 0;
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              "{\"iss\":\"https://idp.example.com\",\"exp\":2e9}", &opts, NOW,
                              NULL),
                     PC_AUTHN_OK);
    pc_arena_reset(arena);
}

static void
test_jwt_typ_at_jwt(void **state)
{
    struct pc_jwt_options opts = options();
    static const char *const accepted[] = { "at+jwt", "AT+JWT", "application/at+jwt",
                                            "Application/At+Jwt" };
    char header[128];

    opts.typ = "at+jwt";
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"typ\":\"%s\"}", accepted[i]);
        assert_int_equal(check_at(header, claims(""), &opts, NOW, NULL), PC_AUTHN_OK);
    }
    assert_int_equal(check_at("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", claims(""), &opts, NOW, NULL),
                     PC_AUTHN_WRONG_TYP);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", claims(""), &opts, NOW, NULL),
                     PC_AUTHN_WRONG_TYP);
    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"typ\":\"text/at+jwt\"}", claims(""), &opts, NOW, NULL),
        PC_AUTHN_WRONG_TYP);
    pc_arena_reset(arena);
}

static void
test_jwt_default_typ_refuses_other_protocols(void **state)
{
    struct pc_jwt_options opts = options();

    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", claims(""), &opts, NOW, NULL),
        PC_AUTHN_OK);
    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\"}", claims(""), &opts, NOW, NULL),
        PC_AUTHN_WRONG_TYP);
    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"typ\":\"logout+jwt\"}", claims(""), &opts, NOW, NULL),
        PC_AUTHN_WRONG_TYP);
    pc_arena_reset(arena);
}

static void
test_jwt_rejects_duplicate_claims(void **state)
{
    assert_int_equal(check(claims("\"sub\":\"alice\",\"sub\":\"admin\"")), PC_AUTHN_DUPLICATE_KEY);
    assert_int_equal(check(claims("\"exp\":1")), PC_AUTHN_DUPLICATE_KEY);
    assert_int_equal(check(claims("\"realm_access\":{\"roles\":[],\"roles\":[\"admin\"]}")),
                     PC_AUTHN_DUPLICATE_KEY);
}

static void
test_jwt_rejects_payload_that_is_not_an_object(void **state)
{
    assert_int_equal(check("[1,2]"), PC_AUTHN_BAD_JSON);
    assert_int_equal(check("not json"), PC_AUTHN_BAD_JSON);
    assert_int_equal(check(""), PC_AUTHN_BAD_JSON);
}

static void
test_jwt_required_claims(void **state)
{
    static const char *const tenants[] = { "acme", "globex" };
    static const char *const flags[] = { "true" };
    static const char *const levels[] = { "3" };
    const struct pc_jwt_claim_rule rules[] = {
        { "org.tenant", tenants, 2 },
        { "email_verified", flags, 1 },
        { "level", levels, 1 },
        { "email", NULL, 0 },
    };
    struct pc_jwt_options opts = options();

    opts.required = rules;
    opts.n_required = 4;
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              claims("\"org\":{\"tenant\":[\"x\",\"globex\"]},\"email\":\"a@b\","
                                     "\"email_verified\":true,\"level\":3"),
                              &opts, NOW, NULL),
                     PC_AUTHN_OK);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              claims("\"org\":{\"tenant\":\"acme\"},\"email_verified\":true,"
                                     "\"level\":3"),
                              &opts, NOW, NULL),
                     PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              claims("\"org\":{\"tenant\":\"initech\"},\"email\":\"a@b\","
                                     "\"email_verified\":true,\"level\":3"),
                              &opts, NOW, NULL),
                     PC_AUTHN_CLAIM_MISMATCH);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              claims("\"org\":{\"tenant\":\"acme\"},\"email\":\"a@b\","
                                     "\"email_verified\":false,\"level\":3"),
                              &opts, NOW, NULL),
                     PC_AUTHN_CLAIM_MISMATCH);
    pc_arena_reset(arena);
}

/* Route requirements go through pc_jwt_claim_holds: integers and booleans match by their text
 * only, and a null claim is no claim. */
static void
test_jwt_claim_holds_compares_values_as_text(void **state)
{
    static const char *const gold[] = { "gold" };
    static const char *const level[] = { "42" };
    const struct pc_jwt_claim_rule tier_rule = { "tier", gold, 1 };
    const struct pc_jwt_claim_rule level_rule = { "level", level, 1 };
    const struct pc_jwt_claim_rule vip_rule = { "vip", NULL, 0 };
    json_t *claims = json_loads("{\"tier\":0,\"level\":42,\"vip\":null,\"n\":{\"tier\":[true,"
                                "\"gold\"]},\"s\":\"42abc\",\"flag\":true}",
                                0, NULL);
    const struct pc_jwt_claim_rule nested = { "n.tier", gold, 1 };
    const struct pc_jwt_claim_rule text_rule = { "s", level, 1 };
    static const char *const yes[] = { "true" };
    const struct pc_jwt_claim_rule flag_rule = { "flag", yes, 1 };
    const struct pc_jwt_claim_rule flag_as_gold = { "flag", gold, 1 };

    assert_non_null(claims);
    /* A number is not every word that does not parse as one. */
    assert_int_equal(pc_jwt_claim_holds(claims, &tier_rule), PC_AUTHN_CLAIM_MISMATCH);
    assert_int_equal(pc_jwt_claim_holds(claims, &level_rule), PC_AUTHN_OK);
    assert_int_equal(pc_jwt_claim_holds(claims, &text_rule), PC_AUTHN_CLAIM_MISMATCH);
    assert_int_equal(pc_jwt_claim_holds(claims, &vip_rule), PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(pc_jwt_claim_holds(claims, &nested), PC_AUTHN_OK);
    assert_int_equal(pc_jwt_claim_holds(claims, &flag_rule), PC_AUTHN_OK);
    assert_int_equal(pc_jwt_claim_holds(claims, &flag_as_gold), PC_AUTHN_CLAIM_MISMATCH);
    json_decref(claims);
}

/* JWT-SVID section 2.3 allows typ JOSE; an SVID naming an issuer is not for a provider that
 * has none, whether or not another provider shares its route. */
static void
test_jwt_spiffe_svid_typ_and_issuer(void **state)
{
    struct pc_jwt_options opts = options();
    struct pc_jwt_options plain = options();
    const char *svid = "{\"exp\":2e9,\"aud\":\"api\",\"sub\":\"spiffe://example.org/w\"}";

    opts.issuer = NULL;
    opts.spiffe_trust_domain = "example.org";
    assert_int_equal(check_at("{\"alg\":\"ES256\",\"typ\":\"JOSE\"}", svid, &opts, NOW, NULL),
                     PC_AUTHN_OK);
    assert_int_equal(check_at("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", svid, &opts, NOW, NULL),
                     PC_AUTHN_OK);
    assert_int_equal(check_at("{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\"}", svid, &opts, NOW, NULL),
                     PC_AUTHN_WRONG_TYP);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              "{\"exp\":2e9,\"aud\":\"api\",\"iss\":\"https://evil.example\","
                              "\"sub\":\"spiffe://example.org/w\"}",
                              &opts, NOW, NULL),
                     PC_AUTHN_WRONG_ISSUER);
    /* JOSE is an SVID's type, not an access token's. */
    assert_int_equal(
        check_at("{\"alg\":\"ES256\",\"typ\":\"JOSE\"}", claims(""), &plain, NOW, NULL),
        PC_AUTHN_WRONG_TYP);
    pc_arena_reset(arena);
}

static void
test_jwt_spiffe_svid(void **state)
{
    struct pc_jwt_options opts = options();
    const char *base = "{\"exp\":2e9,\"aud\":\"api\",\"sub\":\"%s\"}";
    char payload[256];

    opts.issuer = NULL;
    opts.spiffe_trust_domain = "example.org";
    snprintf(payload, sizeof(payload), base, "spiffe://example.org/ns/prod/sa/web");
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", payload, &opts, NOW, NULL), PC_AUTHN_OK);
    snprintf(payload, sizeof(payload), base, "spiffe://evil.org/ns/prod/sa/web");
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", payload, &opts, NOW, NULL), PC_AUTHN_BAD_SUB);
    snprintf(payload, sizeof(payload), base, "spiffe://example.org");
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", payload, &opts, NOW, NULL), PC_AUTHN_BAD_SUB);
    snprintf(payload, sizeof(payload), base, "web");
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", payload, &opts, NOW, NULL), PC_AUTHN_BAD_SUB);
    assert_int_equal(
        check_at("{\"alg\":\"ES256\"}", "{\"exp\":2e9,\"aud\":\"api\"}", &opts, NOW, NULL),
        PC_AUTHN_MISSING_CLAIM);
    /* aud is required for a JWT-SVID even when any audience is accepted. */
    opts.n_audiences = 0;
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              "{\"exp\":2e9,\"sub\":\"spiffe://example.org/w\"}", &opts, NOW, NULL),
                     PC_AUTHN_WRONG_AUDIENCE);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}",
                              "{\"exp\":2e9,\"aud\":\"x\",\"sub\":\"spiffe://example.org/w\"}",
                              &opts, NOW, NULL),
                     PC_AUTHN_OK);
    pc_arena_reset(arena);
}

static void
test_jwt_signature_refusal_passes_through(void **state)
{
    struct pc_jwt_options opts = options();
    EVP_PKEY *other = jose_key_new("P-256");
    char *token = jose_sign("{\"alg\":\"ES256\"}", claims(""), "ES256", other);
    struct pc_principal *p = NULL;
    enum pc_authn_reason reason;

    assert_int_equal(pc_jwt_verify(token, strlen(token), &opts, NOW, arena, &p, &reason),
                     PC_EACCES);
    assert_int_equal(reason, PC_AUTHN_BAD_SIGNATURE);
    assert_null(p);
    free(token);
    EVP_PKEY_free(other);
    pc_arena_reset(arena);
}

static void
test_jwt_certificate_binding(void **state)
{
    X509 *cert = test_cert_new(&(struct test_cert_spec){ .subject = "CN=client" }, key, NULL, NULL);
    X509 *other = test_cert_new(&(struct test_cert_spec){ .subject = "CN=other" }, key, NULL, NULL);
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    unsigned char hash[32];
    char *x5t;
    char extra[128];
    struct pc_jwt_options opts = options();
    struct pc_principal *p = NULL;
    enum pc_authn_reason reason;
    unsigned char *other_der = NULL;
    int other_len = i2d_X509(other, &other_der);

    EVP_Digest(der, (size_t)der_len, hash, NULL, EVP_sha256(), NULL);
    x5t = jose_b64url(hash, sizeof(hash));
    snprintf(extra, sizeof(extra), "\"cnf\":{\"x5t#S256\":\"%s\"}", x5t);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", claims(extra), &opts, NOW, &p), PC_AUTHN_OK);
    assert_string_equal(pc_principal_cnf_x5t(p), x5t);
    assert_int_equal(pc_principal_check_certificate(p, der, (size_t)der_len, &reason), 0);
    assert_int_equal(reason, PC_AUTHN_OK);
    assert_int_equal(pc_principal_check_certificate(p, other_der, (size_t)other_len, &reason),
                     PC_EACCES);
    assert_int_equal(reason, PC_AUTHN_CNF_MISMATCH);

    assert_int_equal(check_at("{\"alg\":\"ES256\"}", claims(""), &opts, NOW, &p), PC_AUTHN_OK);
    assert_int_equal(pc_principal_check_certificate(p, der, (size_t)der_len, &reason), PC_EACCES);
    assert_int_equal(reason, PC_AUTHN_CNF_MISSING);

    /* The same hash with padding is not the same value. */
    snprintf(extra, sizeof(extra), "\"cnf\":{\"x5t#S256\":\"%s=\"}", x5t);
    assert_int_equal(check_at("{\"alg\":\"ES256\"}", claims(extra), &opts, NOW, &p), PC_AUTHN_OK);
    assert_int_equal(pc_principal_check_certificate(p, der, (size_t)der_len, &reason), PC_EACCES);
    assert_int_equal(reason, PC_AUTHN_CNF_MISMATCH);

    pc_arena_reset(arena);
    free(x5t);
    OPENSSL_free(der);
    OPENSSL_free(other_der);
    X509_free(cert);
    X509_free(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_accepts_valid_token_and_builds_principal),
        cmocka_unit_test(test_jwt_client_id_takes_first_configured_claim),
        cmocka_unit_test(test_jwt_claim_paths),
        cmocka_unit_test(test_jwt_principal_outlives_arena_with_a_reference),
        cmocka_unit_test(test_jwt_rejects_expired),
        cmocka_unit_test(test_jwt_requires_exp),
        cmocka_unit_test(test_jwt_rejects_not_yet_valid),
        cmocka_unit_test(test_jwt_rejects_iat_in_future),
        cmocka_unit_test(test_jwt_rejects_wrong_issuer),
        cmocka_unit_test(test_jwt_audience_string_or_array),
        cmocka_unit_test(test_jwt_audience_not_compared_when_none_configured),
        cmocka_unit_test(test_jwt_typ_at_jwt),
        cmocka_unit_test(test_jwt_default_typ_refuses_other_protocols),
        cmocka_unit_test(test_jwt_rejects_duplicate_claims),
        cmocka_unit_test(test_jwt_rejects_payload_that_is_not_an_object),
        cmocka_unit_test(test_jwt_required_claims),
        cmocka_unit_test(test_jwt_claim_holds_compares_values_as_text),
        cmocka_unit_test(test_jwt_spiffe_svid_typ_and_issuer),
        cmocka_unit_test(test_jwt_spiffe_svid),
        cmocka_unit_test(test_jwt_signature_refusal_passes_through),
        cmocka_unit_test(test_jwt_certificate_binding),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
