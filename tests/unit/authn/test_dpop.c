/*
 * Unit tests for DPoP proofs (RFC 9449): a valid proof bound to its request, its access token
 * and the token's cnf "jkt"; each refusal of section 4.3; htu normalisation; the RFC 7638
 * thumbprint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authn/dpop.h"
#include "authn/jws.h"
#include "authn/reason.h"
#include "core/arena.h"
#include "core/err.h"
#include "jose_test.h"

#define NOW   1700000000
#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
#define URI   "https://api.example.com/v1/orders?page=2"

static EVP_PKEY *ec;
static EVP_PKEY *rsa;
static EVP_PKEY *other;
static struct pc_arena *arena;
static char jkt[64];

/* The thumbprint computed independently: the canonical JSON written out by hand. */
static void
expected_jkt(EVP_PKEY *key, unsigned char out[32])
{
    json_t *jwk = jose_jwk(key, NULL, NULL);
    char text[1024];

    snprintf(text, sizeof(text), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             json_string_value(json_object_get(jwk, "x")),
             json_string_value(json_object_get(jwk, "y")));
    EVP_Digest(text, strlen(text), out, NULL, EVP_sha256(), NULL);
    json_decref(jwk);
}

static int
setup(void **state)
{
    unsigned char hash[32];
    char *b64;

    ec = jose_key_new("P-256");
    rsa = jose_key_new("RSA");
    other = jose_key_new("P-256");
    arena = pc_arena_create(4096);
    expected_jkt(ec, hash);
    b64 = jose_b64url(hash, sizeof(hash));
    snprintf(jkt, sizeof(jkt), "%s", b64);
    free(b64);
    return 0;
}

static int
teardown(void **state)
{
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(other);
    pc_arena_destroy(arena);
    return 0;
}

static char *
ath_of(const char *token)
{
    unsigned char hash[32];

    EVP_Digest(token, strlen(token), hash, NULL, EVP_sha256(), NULL);
    return jose_b64url(hash, sizeof(hash));
}

/* A proof header: typ, alg and the public JWK of key (a JSON text to use instead when given). */
static char *
header_for(const char *typ, const char *alg, EVP_PKEY *key, const char *jwk_json)
{
    char *jwk = jwk_json != NULL ? strdup(jwk_json) : jose_dump(jose_jwk(key, NULL, NULL));
    char *out = malloc(strlen(jwk) + 128);

    sprintf(out, "{\"typ\":\"%s\",\"alg\":\"%s\",\"jwk\":%s}", typ, alg, jwk);
    free(jwk);
    return out;
}

/* Claims of a good proof for URI, with one member replaced or removed (value NULL). */
static char *
claims_with(const char *name, const char *value_json)
{
    char *ath = ath_of(TOKEN);
    json_t *c = json_pack("{s:s, s:s, s:s, s:i, s:s}", "jti", "e1j3V_bKic8-LAEB", "htm", "POST",
                          "htu", "https://api.example.com/v1/orders", "iat", NOW - 5, "ath", ath);

    free(ath);
    if (name != NULL && value_json != NULL) {
        json_object_set_new(c, name, json_loads(value_json, JSON_DECODE_ANY, NULL));
    } else if (name != NULL) {
        json_object_del(c, name);
    }
    return jose_dump(c);
}

/* Verifies the proof (freed) for a POST to URI with TOKEN bound to jkt; returns the reason. */
static enum pc_authn_reason
verify(char *proof, struct pc_dpop_proof *out)
{
    struct pc_dpop_options opts = { .algorithms = 0x1fff, .max_age_s = 60, .clock_skew_s = 5 };
    struct pc_dpop_request req = { "POST", 4, URI, strlen(URI), TOKEN, strlen(TOKEN), jkt };
    struct pc_dpop_proof proof_out;
    enum pc_authn_reason reason = PC_AUTHN_INTERNAL;
    int rc = pc_dpop_verify(proof, strlen(proof), &opts, &req, NOW, arena,
                            out != NULL ? out : &proof_out, &reason);

    assert_int_equal(rc, reason == PC_AUTHN_OK ? 0 : PC_EACCES);
    free(proof);
    return reason;
}

static char *
proof(const char *claims_json_owned_name, const char *value_json)
{
    char *header = header_for("dpop+jwt", "ES256", ec, NULL);
    char *claims = claims_with(claims_json_owned_name, value_json);
    char *out = jose_sign(header, claims, "ES256", ec);

    free(header);
    free(claims);
    return out;
}

static void
test_dpop_accepts_valid_proof(void **state)
{
    struct pc_dpop_proof out;
    unsigned char want[32];

    assert_int_equal(verify(proof(NULL, NULL), &out), PC_AUTHN_OK);
    assert_string_equal(out.jti, "e1j3V_bKic8-LAEB");
    assert_int_equal(out.jti_len, 16);
    assert_int_equal(out.iat, NOW - 5);
    expected_jkt(ec, want);
    assert_memory_equal(out.thumbprint, want, 32);
    pc_arena_reset(arena);
}

static void
test_dpop_accepts_rsa_and_normalised_htu(void **state)
{
    char *header = header_for("application/DPoP+JWT", "PS256", rsa, NULL);
    char *claims = claims_with("htu", "\"HTTPS://API.Example.COM:443/v1/./x/../orders#frag\"");
    struct pc_dpop_options opts = { .algorithms = PC_JWS_ALG_PS256, .max_age_s = 60 };
    struct pc_dpop_request req = { "POST", 4, URI, strlen(URI), TOKEN, strlen(TOKEN), NULL };
    char *p = jose_sign(header, claims, "PS256", rsa);
    struct pc_dpop_proof out;
    enum pc_authn_reason reason;

    assert_int_equal(pc_dpop_verify(p, strlen(p), &opts, &req, NOW, arena, &out, &reason), 0);
    free(header);
    free(claims);
    free(p);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_wrong_htm(void **state)
{
    assert_int_equal(verify(proof("htm", "\"GET\""), NULL), PC_AUTHN_DPOP_WRONG_HTM);
    assert_int_equal(verify(proof("htm", "\"post\""), NULL), PC_AUTHN_DPOP_WRONG_HTM);
    assert_int_equal(verify(proof("htm", NULL), NULL), PC_AUTHN_MISSING_CLAIM);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_wrong_htu(void **state)
{
    assert_int_equal(verify(proof("htu", "\"https://api.example.com/v1/other\""), NULL),
                     PC_AUTHN_DPOP_WRONG_HTU);
    assert_int_equal(verify(proof("htu", "\"http://api.example.com/v1/orders\""), NULL),
                     PC_AUTHN_DPOP_WRONG_HTU);
    assert_int_equal(verify(proof("htu", "\"https://api.example.com:8443/v1/orders\""), NULL),
                     PC_AUTHN_DPOP_WRONG_HTU);
    assert_int_equal(verify(proof("htu", "\"https://evil@api.example.com/v1/orders\""), NULL),
                     PC_AUTHN_DPOP_WRONG_HTU);
    assert_int_equal(verify(proof("htu", "7"), NULL), PC_AUTHN_BAD_CLAIM);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_iat_outside_window(void **state)
{
    char value[32];

    snprintf(value, sizeof(value), "%d", NOW - 60);
    assert_int_equal(verify(proof("iat", value), NULL), PC_AUTHN_OK);
    snprintf(value, sizeof(value), "%d", NOW - 61);
    assert_int_equal(verify(proof("iat", value), NULL), PC_AUTHN_DPOP_STALE);
    snprintf(value, sizeof(value), "%d", NOW + 6);
    assert_int_equal(verify(proof("iat", value), NULL), PC_AUTHN_DPOP_STALE);
    assert_int_equal(verify(proof("iat", NULL), NULL), PC_AUTHN_MISSING_CLAIM);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_missing_jti(void **state)
{
    assert_int_equal(verify(proof("jti", NULL), NULL), PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(verify(proof("jti", "\"\""), NULL), PC_AUTHN_MISSING_CLAIM);
    assert_int_equal(verify(proof("jti", "42"), NULL), PC_AUTHN_BAD_CLAIM);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_wrong_ath(void **state)
{
    char *ath = ath_of("another.token.value");
    char value[64];

    snprintf(value, sizeof(value), "\"%s\"", ath);
    assert_int_equal(verify(proof("ath", value), NULL), PC_AUTHN_DPOP_WRONG_ATH);
    assert_int_equal(verify(proof("ath", NULL), NULL), PC_AUTHN_DPOP_WRONG_ATH);
    free(ath);
    ath = ath_of(TOKEN);
    snprintf(value, sizeof(value), "\"%s=\"", ath);
    assert_int_equal(verify(proof("ath", value), NULL), PC_AUTHN_DPOP_WRONG_ATH);
    free(ath);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_thumbprint_mismatch(void **state)
{
    char *header = header_for("dpop+jwt", "ES256", other, NULL);
    char *claims = claims_with(NULL, NULL);

    /* A well-formed proof by another key than the one the token is bound to. */
    assert_int_equal(verify(jose_sign(header, claims, "ES256", other), NULL),
                     PC_AUTHN_DPOP_WRONG_JKT);
    free(header);
    free(claims);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_private_key_in_jwk(void **state)
{
    json_t *jwk = jose_jwk(ec, NULL, NULL);
    char *text;
    char *header;
    char *claims = claims_with(NULL, NULL);

    json_object_set_new(jwk, "d", json_string("jvGfOqObZdbBEKNtMZJTnb1gUEXRKr6ndRjCKvePtEE"));
    text = jose_dump(jwk);
    header = header_for("dpop+jwt", "ES256", NULL, text);
    assert_int_equal(verify(jose_sign(header, claims, "ES256", ec), NULL),
                     PC_AUTHN_DPOP_PRIVATE_KEY);
    free(text);
    free(header);
    free(claims);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_symmetric_alg(void **state)
{
    char *header = header_for("dpop+jwt", "HS256", ec, NULL);
    char *claims = claims_with(NULL, NULL);

    assert_int_equal(
        verify(jose_sign_hmac(header, claims, "HS256", "0123456789abcdef0123456789abcdef", 32),
               NULL),
        PC_AUTHN_ALG_NOT_ALLOWED);
    free(header);
    free(claims);
    pc_arena_reset(arena);
}

static void
test_dpop_rejects_wrong_typ_and_key_problems(void **state)
{
    char *claims = claims_with(NULL, NULL);
    char *header = header_for("JWT", "ES256", ec, NULL);

    assert_int_equal(verify(jose_sign(header, claims, "ES256", ec), NULL), PC_AUTHN_WRONG_TYP);
    free(header);
    assert_int_equal(
        verify(jose_sign("{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}", claims, "ES256", ec), NULL),
        PC_AUTHN_DPOP_BAD_KEY);
    /* The jwk names a key the signature was not made with. */
    header = header_for("dpop+jwt", "ES256", other, NULL);
    assert_int_equal(verify(jose_sign(header, claims, "ES256", ec), NULL), PC_AUTHN_BAD_SIGNATURE);
    free(header);
    /* An RSA key cannot make an ES256 proof. */
    header = header_for("dpop+jwt", "ES256", rsa, NULL);
    assert_int_equal(verify(jose_sign(header, claims, "ES256", ec), NULL),
                     PC_AUTHN_KEY_ALG_MISMATCH);
    free(header);
    header = header_for("dpop+jwt", "ES256", NULL, "{\"kty\":\"EC\",\"crv\":\"P-256\"}");
    assert_int_equal(verify(jose_sign(header, claims, "ES256", ec), NULL), PC_AUTHN_DPOP_BAD_KEY);
    free(header);
    /* A proof must not name keys elsewhere either. */
    assert_int_equal(verify(jose_sign("{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\","
                                      "\"jku\":\"https://evil.example/k\"}",
                                      claims, "ES256", ec),
                            NULL),
                     PC_AUTHN_UNTRUSTED_KEY_HEADER);
    free(claims);
    pc_arena_reset(arena);
}

static void
test_dpop_normalize_uri(void **state)
{
    static const char *const cases[][2] = {
        { "https://api.example.com/a", "https://api.example.com/a" },
        { "HTTPS://API.EXAMPLE.COM:443/a?q=1#f", "https://api.example.com/a" },
        { "http://Example.com:80", "http://example.com/" },
        { "http://example.com:/", "http://example.com/" },
        { "http://example.com:0080/x", "http://example.com/x" },
        { "https://example.com:8443/x", "https://example.com:8443/x" },
        { "https://example.com/a/./b/../c/", "https://example.com/a/c/" },
        { "https://example.com/a/..", "https://example.com/" },
        { "https://example.com/../../a", "https://example.com/a" },
        { "https://example.com/a//b/.", "https://example.com/a//b/" },
        { "https://example.com/%7euser/%2fx%3a", "https://example.com/~user/%2Fx%3A" },
        { "https://[::1]:443/x", "https://[::1]/x" },
        { "https://[::1]:8443", "https://[::1]:8443/" },
    };
    static const char *const bad[] = {
        "ftp://example.com/",         "example.com/x",           "https://user@example.com/",
        "https://example.com:99999/", "https://example.com:8x/", "https://:443/",
        "https://example.com/%zz",    "https://[::1/",           "https:/x",
    };
    char out[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = pc_dpop_normalize_uri(cases[i][0], strlen(cases[i][0]), out, sizeof(out));

        assert_int_equal(n, strlen(cases[i][1]));
        assert_string_equal(out, cases[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pc_dpop_normalize_uri(bad[i], strlen(bad[i]), out, sizeof(out)), 0);
    }
    assert_int_equal(pc_dpop_normalize_uri("https://a.example/", 18, out, 19), 0);
}

static void
test_dpop_thumbprint(void **state)
{
    json_t *jwk = jose_jwk(ec, "ignored-kid", "ES256");
    unsigned char got[32];
    unsigned char want[32];
    json_t *odd =
        json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", "a\"b", "y", "c");

    assert_int_equal(pc_dpop_thumbprint(jwk, got), 0);
    expected_jkt(ec, want);
    assert_memory_equal(got, want, 32);
    assert_int_equal(pc_dpop_thumbprint(odd, got), PC_EPARSE);
    json_object_set_new(odd, "kty", json_string("oct"));
    assert_int_equal(pc_dpop_thumbprint(odd, got), PC_ENOTSUP);
    json_decref(jwk);
    json_decref(odd);
}

/* Metrics labels and access-log reasons: the gateway's DPoP refusals keep these names. */
static void
test_dpop_refusal_names_are_stable(void **state)
{
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_DPOP_MISSING), "dpop_missing");
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_DPOP_AS_BEARER), "dpop_bound_as_bearer");
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_DPOP_WRONG_JKT), "dpop_wrong_jkt");
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_INTERNAL), "internal");
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_REASON_COUNT), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpop_accepts_valid_proof),
        cmocka_unit_test(test_dpop_accepts_rsa_and_normalised_htu),
        cmocka_unit_test(test_dpop_rejects_wrong_htm),
        cmocka_unit_test(test_dpop_rejects_wrong_htu),
        cmocka_unit_test(test_dpop_rejects_iat_outside_window),
        cmocka_unit_test(test_dpop_rejects_missing_jti),
        cmocka_unit_test(test_dpop_rejects_wrong_ath),
        cmocka_unit_test(test_dpop_rejects_thumbprint_mismatch),
        cmocka_unit_test(test_dpop_rejects_private_key_in_jwk),
        cmocka_unit_test(test_dpop_rejects_symmetric_alg),
        cmocka_unit_test(test_dpop_rejects_wrong_typ_and_key_problems),
        cmocka_unit_test(test_dpop_normalize_uri),
        cmocka_unit_test(test_dpop_thumbprint),
        cmocka_unit_test(test_dpop_refusal_names_are_stable),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
