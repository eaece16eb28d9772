/*
 * Unit tests for compact JWS verification: every algorithm accepted with a key made in the test,
 * and every refusal with its reason, including the classic attacks on JWT libraries ("none",
 * HMAC keyed with an RSA public key, keys named by the token, psychic ECDSA signatures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "authn/jwks.h"
#include "authn/jws.h"
#include "authn/reason.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "helpers/certs.h"
#include "jose_test.h"

#define PAYLOAD "{\"sub\":\"alice\"}"

static EVP_PKEY *rsa;
static EVP_PKEY *rsa2;
static EVP_PKEY *ec256;
static EVP_PKEY *ec384;
static EVP_PKEY *ec521;
static EVP_PKEY *ed25519;
static EVP_PKEY *attacker;
static struct pc_jwks *keys;
static struct pc_jwks *hmac;
static struct pc_arena *arena;
static struct pc_jws_verifier *verifier;

static const char secret[] = "0123456789abcdef0123456789abcdef";

static int
setup(void **state)
{
    struct pc_err err = { 0 };
    char *doc;

    rsa = jose_key_new("RSA");
    rsa2 = jose_key_new("RSA");
    ec256 = jose_key_new("P-256");
    ec384 = jose_key_new("P-384");
    ec521 = jose_key_new("P-521");
    ed25519 = jose_key_new("Ed25519");
    attacker = jose_key_new("P-256");
    doc = jose_jwks(jose_jwk(rsa, "rsa", NULL), jose_jwk(rsa2, "rsa-rs256", "RS256"),
                    jose_jwk(ec256, "ec256", NULL), jose_jwk(ec384, "ec384", "ES384"),
                    jose_jwk(ec521, "ec521", NULL), jose_jwk(ed25519, "ed", NULL), NULL);
    keys = pc_jwks_parse(doc, strlen(doc), &err);
    free(doc);
    hmac = pc_jwks_from_secret(secret, strlen(secret), "hmac", &err);
    arena = pc_arena_create(4096);
    verifier = pc_jws_verifier_create();
    return keys != NULL && hmac != NULL && arena != NULL && verifier != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    EVP_PKEY *all[] = { rsa, rsa2, ec256, ec384, ec521, ed25519, attacker };

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        EVP_PKEY_free(all[i]);
    }
    pc_jwks_unref(keys);
    pc_jwks_unref(hmac);
    pc_arena_destroy(arena);
    pc_jws_verifier_free(verifier);
    return 0;
}

static struct pc_jws_options
options(uint32_t algorithms)
{
    return (struct pc_jws_options){ .algorithms = algorithms, .keys = keys, .hmac_keys = hmac };
}

/*
 * Verifies token (freed) with opts, once with OpenSSL contexts made for the call and once through
 * the verifier's cache, which must agree; returns the reason (PC_AUTHN_OK when accepted).
 */
static enum pc_authn_reason
verify_with(char *token, const struct pc_jws_options *opts)
{
    struct pc_jws_options cached = *opts;

    enum pc_authn_reason reasons[2] = { PC_AUTHN_INTERNAL, PC_AUTHN_INTERNAL };

    cached.verifier = verifier;
    for (int i = 0; i < 2; i++) {
        struct pc_jws jws;
        int rc =
            pc_jws_verify(token, strlen(token), i == 0 ? opts : &cached, arena, &jws, &reasons[i]);

        assert_int_equal(rc, reasons[i] == PC_AUTHN_OK ? 0 : PC_EACCES);
        if (rc == 0) {
            assert_non_null(jws.key);
            assert_int_equal(jws.payload_len, strlen(PAYLOAD));
            assert_memory_equal(jws.payload, PAYLOAD, jws.payload_len);
        }
        pc_arena_reset(arena);
    }
    assert_int_equal(reasons[0], reasons[1]);
    free(token);
    return reasons[0];
}

static enum pc_authn_reason
verify(char *token)
{
    struct pc_jws_options opts = options(0x1fff);

    return verify_with(token, &opts);
}

static void
test_jws_accepts_rs256(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_rs384_and_rs512(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS384\",\"kid\":\"rsa\"}", PAYLOAD, "RS384", rsa)),
        PC_AUTHN_OK);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS512\",\"kid\":\"rsa\"}", PAYLOAD, "RS512", rsa)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_ps256(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", PAYLOAD, "PS256", rsa)),
        PC_AUTHN_OK);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"PS512\",\"kid\":\"rsa\"}", PAYLOAD, "PS512", rsa)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_es256(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", PAYLOAD, "ES256", ec256)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_es384_and_es512(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"ES384\",\"kid\":\"ec384\"}", PAYLOAD, "ES384", ec384)),
        PC_AUTHN_OK);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"ES512\",\"kid\":\"ec521\"}", PAYLOAD, "ES512", ec521)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_eddsa(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", PAYLOAD, "EdDSA", ed25519)),
        PC_AUTHN_OK);
}

static void
test_jws_accepts_hs256_with_configured_secret(void **state)
{
    assert_int_equal(
        verify(jose_sign_hmac("{\"alg\":\"HS256\"}", PAYLOAD, "HS256", secret, strlen(secret))),
        PC_AUTHN_OK);
    assert_int_equal(verify(jose_sign_hmac("{\"alg\":\"HS256\",\"kid\":\"hmac\"}", PAYLOAD, "HS256",
                                           secret, strlen(secret))),
                     PC_AUTHN_OK);
}

/* The gateway's key ring hands a provider's secret over as its key set and as its secret. */
static void
test_jws_counts_a_set_named_as_both_sources_once(void **state)
{
    struct pc_jws_options opts = { .algorithms = PC_JWS_ALG_HS256,
                                   .keys = hmac,
                                   .hmac_keys = hmac };

    assert_int_equal(
        verify_with(jose_sign_hmac("{\"alg\":\"HS256\"}", PAYLOAD, "HS256", secret, strlen(secret)),
                    &opts),
        PC_AUTHN_OK);
    assert_int_equal(verify_with(jose_sign_hmac("{\"alg\":\"HS256\",\"kid\":\"hmac\"}", PAYLOAD,
                                                "HS256", secret, strlen(secret)),
                                 &opts),
                     PC_AUTHN_OK);
    assert_int_equal(verify_with(jose_sign_hmac("{\"alg\":\"HS256\"}", PAYLOAD, "HS256",
                                                "another secret of thirty-two bytes", 34),
                                 &opts),
                     PC_AUTHN_BAD_SIGNATURE);
}

static void
test_jws_accepts_unique_key_without_kid(void **state)
{
    /* Only one key fits ES384 (and EdDSA): no kid is needed to find it. */
    assert_int_equal(verify(jose_sign("{\"alg\":\"ES384\"}", PAYLOAD, "ES384", ec384)),
                     PC_AUTHN_OK);
    assert_int_equal(verify(jose_sign("{\"alg\":\"EdDSA\"}", PAYLOAD, "EdDSA", ed25519)),
                     PC_AUTHN_OK);
}

static void
test_jws_rejects_alg_none_in_any_case(void **state)
{
    static const char *const names[] = { "none", "None", "NONE", "nOnE" };
    char header[64];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *input;
        char *token;

        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", names[i]);
        input = jose_signing_input(header, PAYLOAD);
        token = malloc(strlen(input) + 2);
        sprintf(token, "%s.", input);
        free(input);
        assert_int_equal(verify(token), PC_AUTHN_ALG_NONE);
    }
    /* A "none" token that still carries a signature is no better. */
    assert_int_equal(verify(jose_sign("{\"alg\":\"none\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_ALG_NONE);
}

static void
test_jws_rejects_alg_not_allowed(void **state)
{
    struct pc_jws_options opts = options(PC_JWS_ALG_RS256);

    assert_int_equal(
        verify_with(jose_sign("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", PAYLOAD, "PS256", rsa), &opts),
        PC_AUTHN_ALG_NOT_ALLOWED);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS1\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_ALG_NOT_ALLOWED);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"rs256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_ALG_NOT_ALLOWED);
}

/* The attacker MACs a token with the RSA public key's PEM, hoping it is used as an HMAC secret. */
static char *
hs256_with_rsa_pem(const char *header)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len;
    char *token;

    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
    len = BIO_get_mem_data(bio, &pem);
    token = jose_sign_hmac(header, PAYLOAD, "HS256", pem, (size_t)len);
    BIO_free(bio);
    return token;
}

static void
test_jws_rejects_hs256_keyed_with_rsa_public_key(void **state)
{
    struct pc_jws_options rsa_only = options(PC_JWS_ALG_RS256);
    struct pc_jws_options no_secret = options(PC_JWS_ALG_RS256 | PC_JWS_ALG_HS256);

    no_secret.hmac_keys = NULL;
    /* The provider allows RS256 only. */
    assert_int_equal(
        verify_with(hs256_with_rsa_pem("{\"alg\":\"HS256\",\"kid\":\"rsa\"}"), &rsa_only),
        PC_AUTHN_ALG_NOT_ALLOWED);
    /* Even with HS256 allowed, an RSA key never serves as an HMAC secret. */
    assert_int_equal(
        verify_with(hs256_with_rsa_pem("{\"alg\":\"HS256\",\"kid\":\"rsa\"}"), &no_secret),
        PC_AUTHN_KEY_ALG_MISMATCH);
    assert_int_equal(verify_with(hs256_with_rsa_pem("{\"alg\":\"HS256\"}"), &no_secret),
                     PC_AUTHN_NO_KEY);
    /* With a configured secret, the forged MAC simply does not verify. */
    assert_int_equal(verify(hs256_with_rsa_pem("{\"alg\":\"HS256\"}")), PC_AUTHN_BAD_SIGNATURE);
}

/* A header naming the attacker's own key, in each of the members that point at keys. */
static void
test_jws_rejects_key_location_headers(void **state)
{
    char *jwk = jose_dump(jose_jwk(attacker, "evil", NULL));
    char header[1024];

    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"jwk\":%s}", jwk);
    assert_int_equal(verify(jose_sign(header, PAYLOAD, "ES256", attacker)),
                     PC_AUTHN_UNTRUSTED_KEY_HEADER);
    assert_int_equal(verify(jose_sign("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"jku\":"
                                      "\"https://evil.example/jwks.json\"}",
                                      PAYLOAD, "ES256", attacker)),
                     PC_AUTHN_UNTRUSTED_KEY_HEADER);
    assert_int_equal(verify(jose_sign("{\"alg\":\"ES256\",\"x5u\":\"https://evil.example/c.pem\"}",
                                      PAYLOAD, "ES256", attacker)),
                     PC_AUTHN_UNTRUSTED_KEY_HEADER);
    free(jwk);
}

static void
test_jws_ignores_x5c_with_attacker_certificate(void **state)
{
    X509 *cert =
        test_cert_new(&(struct test_cert_spec){ .subject = "CN=evil" }, attacker, NULL, NULL);
    char *x5c = test_cert_base64_der(cert);
    char header[2048];

    /* x5c is never a key source: the token is checked with the set's key and fails. */
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"x5c\":[\"%s\"]}", x5c);
    assert_int_equal(verify(jose_sign(header, PAYLOAD, "ES256", attacker)), PC_AUTHN_BAD_SIGNATURE);
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", x5c);
    assert_int_equal(verify(jose_sign(header, PAYLOAD, "ES256", attacker)), PC_AUTHN_BAD_SIGNATURE);
    pc_free(x5c);
    X509_free(cert);
}

static void
test_jws_rejects_unknown_kid(void **state)
{
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"nope\"}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_KID_UNKNOWN);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"\"}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_KID_UNKNOWN);
}

static void
test_jws_treats_kid_tricks_as_unknown_strings(void **state)
{
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"../../../../dev/null\"}",
                                      PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_KID_UNKNOWN);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"x' UNION SELECT 'key\"}",
                                      PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_KID_UNKNOWN);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\\u0000\"}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_BAD_JSON);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"RSA\"}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_KID_UNKNOWN);
}

static void
test_jws_rejects_kid_of_another_key_type(void **state)
{
    /* An ES256 token naming the RSA key: the key cannot verify that alg. */
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"ES256\",\"kid\":\"rsa\"}", PAYLOAD, "ES256", ec256)),
        PC_AUTHN_KEY_ALG_MISMATCH);
    /* ES384 naming the P-256 key: right type, wrong curve. */
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"ES384\",\"kid\":\"ec256\"}", PAYLOAD, "ES384", ec384)),
        PC_AUTHN_KEY_ALG_MISMATCH);
    /* The key says "alg":"RS256"; a PS256 token may not use it. */
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"PS256\",\"kid\":\"rsa-rs256\"}", PAYLOAD, "PS256", rsa2)),
        PC_AUTHN_KEY_ALG_MISMATCH);
}

static void
test_jws_requires_kid_when_several_keys_fit(void **state)
{
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\"}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_KID_REQUIRED);
}

static void
test_jws_rejects_no_fitting_key(void **state)
{
    struct pc_jws_options opts = options(0x1fff);

    opts.keys = NULL;
    assert_int_equal(verify_with(jose_sign("{\"alg\":\"RS256\"}", PAYLOAD, "RS256", rsa), &opts),
                     PC_AUTHN_NO_KEY);
}

static void
test_jws_shared_kid_selects_by_alg_or_is_ambiguous(void **state)
{
    char *doc = jose_jwks(jose_jwk(rsa, "same", NULL), jose_jwk(ec256, "same", NULL),
                          jose_jwk(rsa2, "same", NULL), NULL);
    struct pc_jwks *set = pc_jwks_parse(doc, strlen(doc), NULL);
    struct pc_jws_options opts = { .algorithms = 0x1fff, .keys = set };

    /* RFC 7517 section 4.5 allows one kid for keys of different types: the alg decides. */
    assert_int_equal(
        verify_with(jose_sign("{\"alg\":\"ES256\",\"kid\":\"same\"}", PAYLOAD, "ES256", ec256),
                    &opts),
        PC_AUTHN_OK);
    /* Two RSA keys under one kid: which one is meant cannot be known, so neither is tried. */
    assert_int_equal(
        verify_with(jose_sign("{\"alg\":\"RS256\",\"kid\":\"same\"}", PAYLOAD, "RS256", rsa),
                    &opts),
        PC_AUTHN_KID_AMBIGUOUS);
    pc_jwks_unref(set);
    free(doc);
}

/* A token whose ES256 signature is the given r and s (32 bytes each). */
static char *
es256_with(const unsigned char r[32], const unsigned char s[32])
{
    unsigned char sig[64];

    memcpy(sig, r, 32);
    memcpy(sig + 32, s, 32);
    return jose_finish(jose_signing_input("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", PAYLOAD), sig,
                       sizeof(sig));
}

static void
test_jws_rejects_ecdsa_zero_values(void **state)
{
    unsigned char zero[32] = { 0 };
    unsigned char one[32] = { 0 };
    /* The order n of P-256. */
    static const unsigned char order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    };

    one[31] = 1;
    assert_int_equal(verify(es256_with(zero, zero)), PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(verify(es256_with(zero, one)), PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(verify(es256_with(one, zero)), PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(verify(es256_with(order, one)), PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(verify(es256_with(one, order)), PC_AUTHN_BAD_SIGNATURE);
}

static void
test_jws_rejects_tampered_payload(void **state)
{
    char *token = jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa);
    char *other = jose_b64url_str("{\"sub\":\"admin\"}");
    char *dot1 = strchr(token, '.');
    char *dot2 = strchr(dot1 + 1, '.');
    char *forged = malloc(strlen(token) + strlen(other) + 1);

    sprintf(forged, "%.*s.%s%s", (int)(dot1 - token), token, other, dot2);
    assert_int_equal(verify(forged), PC_AUTHN_BAD_SIGNATURE);
    free(other);
    free(token);
}

static void
test_jws_rejects_wrong_signature_length(void **state)
{
    unsigned char sig[255] = { 1 };

    assert_int_equal(
        verify(jose_finish(jose_signing_input("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD), sig,
                           sizeof(sig))),
        PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(
        verify(jose_finish(jose_signing_input("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", PAYLOAD),
                           sig, 63)),
        PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(
        verify(
            jose_finish(jose_signing_input("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", PAYLOAD), sig, 0)),
        PC_AUTHN_BAD_SIGNATURE);
}

static void
test_jws_rejects_duplicate_header_members(void **state)
{
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"alg\":\"HS256\"}",
                                      PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_DUPLICATE_KEY);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"x\",\"kid\":\"rsa\"}", PAYLOAD,
                                      "RS256", rsa)),
                     PC_AUTHN_DUPLICATE_KEY);
}

static void
test_jws_rejects_64k_token_before_parsing(void **state)
{
    struct pc_jws_options opts = options(0x1fff);
    char *token = malloc(64 * 1024 + 1);

    /* Not even a token: the size alone refuses it. */
    memset(token, 'A', 64 * 1024);
    token[64 * 1024] = '\0';
    assert_int_equal(verify(token), PC_AUTHN_TOKEN_TOO_LARGE);

    opts.max_bytes = 100;
    assert_int_equal(
        verify_with(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa), &opts),
        PC_AUTHN_TOKEN_TOO_LARGE);
}

static void
test_jws_rejects_padded_base64(void **state)
{
    /* An RS256 signature of 256 bytes needs "==" in padded base64. */
    char *token = jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa);
    char *padded = malloc(strlen(token) + 3);

    sprintf(padded, "%s==", token);
    free(token);
    assert_int_equal(verify(padded), PC_AUTHN_BAD_BASE64);

    /* Padding inside the header segment: {"alg":"RS256","kid":"rsa"} is 27 bytes, 36 chars. */
    token = jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", PAYLOAD, "RS256", rsa);
    padded = malloc(strlen(token) + 3);
    sprintf(padded, "%.*s==%s", (int)(strchr(token, '.') - token), token, strchr(token, '.'));
    free(token);
    assert_int_equal(verify(padded), PC_AUTHN_BAD_BASE64);
}

static void
test_jws_rejects_standard_base64(void **state)
{
    char *token = jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa);
    char *dot = strrchr(token, '.');
    bool changed = false;

    /* The same bytes in the standard alphabet: '-' becomes '+', '_' becomes '/'. */
    for (char *p = dot; *p != '\0'; p++) {
        if (*p == '-' || *p == '_') {
            *p = *p == '-' ? '+' : '/';
            changed = true;
        }
    }
    if (!changed) {
        /* A signature without either character (about one in 10^20): force one. */
        dot[1] = '+';
    }
    assert_int_equal(verify(token), PC_AUTHN_BAD_BASE64);
    assert_int_equal(verify(strdup("eyJhbGciOiJSUzI1NiJ9.e30 .AAAA")), PC_AUTHN_BAD_BASE64);
}

/* Parses header.PAYLOAD.AAAA, where payload is already base64url; returns the reason. */
static enum pc_authn_reason
parse_payload(const char *payload, unsigned char *out, size_t *out_len)
{
    char token[512];
    struct pc_jws jws;
    enum pc_authn_reason reason = PC_AUTHN_INTERNAL;
    int rc;

    /* {"alg":"RS256"} */
    snprintf(token, sizeof(token), "eyJhbGciOiJSUzI1NiJ9.%s.AAAA", payload);
    rc = pc_jws_parse(token, strlen(token), PC_JWS_ALG_RS256, 0, 0, arena, &jws, &reason);
    assert_int_equal(rc, reason == PC_AUTHN_OK ? 0 : PC_EACCES);
    if (rc == 0 && out != NULL) {
        memcpy(out, jws.payload, jws.payload_len);
        *out_len = jws.payload_len;
        assert_int_equal(jws.payload[jws.payload_len], '\0');
    }
    pc_arena_reset(arena);
    return reason;
}

static void
test_jws_decodes_every_byte_at_every_length(void **state)
{
    unsigned char bytes[96];
    unsigned char got[96];

    /* Every byte value, and segments ending on a whole quantum, two and three characters. */
    for (size_t start = 0; start < 256; start += sizeof(bytes)) {
        for (size_t i = 0; i < sizeof(bytes); i++) {
            bytes[i] = (unsigned char)((start + i * 7) % 256);
        }
        for (size_t len = 0; len <= sizeof(bytes); len++) {
            char *b64 = jose_b64url(bytes, len);
            size_t got_len = SIZE_MAX;

            assert_int_equal(parse_payload(b64, got, &got_len), PC_AUTHN_OK);
            assert_int_equal(got_len, len);
            assert_memory_equal(got, bytes, len);
            free(b64);
        }
    }
}

static void
test_jws_rejects_non_canonical_base64(void **state)
{
    /* "e30" is {}; "e31" and "e32" set bits past the last byte, as "fQ" and "fR" do for "}". */
    assert_int_equal(parse_payload("e30", NULL, NULL), PC_AUTHN_OK);
    assert_int_equal(parse_payload("e31", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("e32", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("fQ", NULL, NULL), PC_AUTHN_OK);
    assert_int_equal(parse_payload("fR", NULL, NULL), PC_AUTHN_BAD_BASE64);
    /* A lone trailing character holds no byte. */
    assert_int_equal(parse_payload("e30AA", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("e", NULL, NULL), PC_AUTHN_BAD_BASE64);
    /* Bytes outside the alphabet, in a whole quantum and in the tail. */
    assert_int_equal(parse_payload("e3\x80wAA", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("AAAAe=", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("AAAA\xffQ", NULL, NULL), PC_AUTHN_BAD_BASE64);
    assert_int_equal(parse_payload("AAAAf*A", NULL, NULL), PC_AUTHN_BAD_BASE64);
}

static void
test_jws_rejects_crit(void **state)
{
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[\"exp\"],"
                                      "\"exp\":1}",
                                      PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_CRIT);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"b64\":false,"
                                      "\"crit\":[\"b64\"]}",
                                      PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_CRIT);
}

static void
test_jws_rejects_malformed_framing(void **state)
{
    char *token = jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa);
    char *extra = malloc(strlen(token) + 3);

    sprintf(extra, "%s.x", token);
    assert_int_equal(verify(extra), PC_AUTHN_MALFORMED);
    *strrchr(token, '.') = '\0';
    assert_int_equal(verify(token), PC_AUTHN_MALFORMED);
    assert_int_equal(verify(strdup("")), PC_AUTHN_MALFORMED);
    assert_int_equal(verify(strdup("..")), PC_AUTHN_BAD_JSON);
}

static void
test_jws_rejects_bad_header_json(void **state)
{
    assert_int_equal(verify(jose_sign("[\"alg\",\"RS256\"]", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_BAD_JSON);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\"", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_BAD_JSON);
    assert_int_equal(verify(jose_sign("{\"alg\":256}", PAYLOAD, "RS256", rsa)), PC_AUTHN_MALFORMED);
    assert_int_equal(verify(jose_sign("{\"kid\":\"rsa\"}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_MALFORMED);
    assert_int_equal(verify(jose_sign("{\"alg\":\"RS256\",\"kid\":7}", PAYLOAD, "RS256", rsa)),
                     PC_AUTHN_MALFORMED);
    assert_int_equal(
        verify(jose_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":[]}", PAYLOAD, "RS256", rsa)),
        PC_AUTHN_MALFORMED);
}

static void
test_jws_alg_bits_match_config(void **state)
{
    assert_int_equal(PC_JWS_ALG_RS256, PC_JWT_RS256);
    assert_int_equal(PC_JWS_ALG_PS384, PC_JWT_PS384);
    assert_int_equal(PC_JWS_ALG_ES512, PC_JWT_ES512);
    assert_int_equal(PC_JWS_ALG_EDDSA, PC_JWT_EDDSA);
    assert_int_equal(PC_JWS_ALG_HS512, PC_JWT_HS512);
    assert_int_equal(pc_jws_alg_parse("EdDSA", 5), PC_JWS_ALG_EDDSA);
    assert_int_equal(pc_jws_alg_parse("none", 4), 0);
    assert_string_equal(pc_jws_alg_name(PC_JWS_ALG_PS256), "PS256");
    assert_null(pc_jws_alg_name(PC_JWS_ALG_PS256 | PC_JWS_ALG_RS256));
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_ALG_NONE), "alg_none");
    assert_string_equal(pc_authn_reason_name(PC_AUTHN_REASON_COUNT), "unknown");
}

static void
test_jws_parse_exposes_header_and_leaves_no_error_queue(void **state)
{
    struct pc_jws jws;
    enum pc_authn_reason reason;
    char *token = jose_sign("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":\"at+jwt\"}", PAYLOAD,
                            "ES256", attacker);

    assert_int_equal(
        pc_jws_parse(token, strlen(token), PC_JWS_ALG_ES256, 0, 0, arena, &jws, &reason), 0);
    assert_string_equal(jws.typ, "at+jwt");
    assert_int_equal(jws.kid_len, 5);
    assert_int_equal(jws.alg, PC_JWS_ALG_ES256);
    assert_int_equal(jws.signature_len, 64);
    assert_int_equal(pc_jws_verify_signature(&jws, pc_jwks_find(keys, "ec256", 5), NULL, &reason),
                     PC_EACCES);
    assert_int_equal(reason, PC_AUTHN_BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);
    free(token);
    pc_arena_reset(arena);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jws_accepts_rs256),
        cmocka_unit_test(test_jws_accepts_rs384_and_rs512),
        cmocka_unit_test(test_jws_accepts_ps256),
        cmocka_unit_test(test_jws_accepts_es256),
        cmocka_unit_test(test_jws_accepts_es384_and_es512),
        cmocka_unit_test(test_jws_accepts_eddsa),
        cmocka_unit_test(test_jws_accepts_hs256_with_configured_secret),
        cmocka_unit_test(test_jws_counts_a_set_named_as_both_sources_once),
        cmocka_unit_test(test_jws_accepts_unique_key_without_kid),
        cmocka_unit_test(test_jws_rejects_alg_none_in_any_case),
        cmocka_unit_test(test_jws_rejects_alg_not_allowed),
        cmocka_unit_test(test_jws_rejects_hs256_keyed_with_rsa_public_key),
        cmocka_unit_test(test_jws_rejects_key_location_headers),
        cmocka_unit_test(test_jws_ignores_x5c_with_attacker_certificate),
        cmocka_unit_test(test_jws_rejects_unknown_kid),
        cmocka_unit_test(test_jws_treats_kid_tricks_as_unknown_strings),
        cmocka_unit_test(test_jws_rejects_kid_of_another_key_type),
        cmocka_unit_test(test_jws_requires_kid_when_several_keys_fit),
        cmocka_unit_test(test_jws_rejects_no_fitting_key),
        cmocka_unit_test(test_jws_shared_kid_selects_by_alg_or_is_ambiguous),
        cmocka_unit_test(test_jws_rejects_ecdsa_zero_values),
        cmocka_unit_test(test_jws_rejects_tampered_payload),
        cmocka_unit_test(test_jws_rejects_wrong_signature_length),
        cmocka_unit_test(test_jws_rejects_duplicate_header_members),
        cmocka_unit_test(test_jws_rejects_64k_token_before_parsing),
        cmocka_unit_test(test_jws_rejects_padded_base64),
        cmocka_unit_test(test_jws_rejects_standard_base64),
        cmocka_unit_test(test_jws_decodes_every_byte_at_every_length),
        cmocka_unit_test(test_jws_rejects_non_canonical_base64),
        cmocka_unit_test(test_jws_rejects_crit),
        cmocka_unit_test(test_jws_rejects_malformed_framing),
        cmocka_unit_test(test_jws_rejects_bad_header_json),
        cmocka_unit_test(test_jws_alg_bits_match_config),
        cmocka_unit_test(test_jws_parse_exposes_header_and_leaves_no_error_queue),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
