/*
 * Unit tests for the strict base64 decoders and JWK public key conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/err.h"
#include "helpers/certs.h"
#include "tls/jwk.h"

static int
decode(const char *in, bool is_url, const char *want)
{
    unsigned char *out = NULL;
    size_t len = 0;
    int rc = pc_jwk_base64_decode(in, strlen(in), is_url, &out, &len);

    if (rc == 0 && want != NULL) {
        assert_int_equal(len, strlen(want));
        assert_memory_equal(out, want, len);
    }
    pc_free(out);
    return rc;
}

static void
test_jwk_base64_standard_is_strict(void **state)
{
    assert_int_equal(decode("", false, ""), 0);
    assert_int_equal(decode("QQ==", false, "A"), 0);
    assert_int_equal(decode("QUI=", false, "AB"), 0);
    assert_int_equal(decode("QUJD", false, "ABC"), 0);
    assert_int_equal(decode("+/+/", false, "\xfb\xff\xbf"), 0);

    assert_int_equal(decode("QQ", false, NULL), PC_EPARSE);    /* padding missing */
    assert_int_equal(decode("QQ=", false, NULL), PC_EPARSE);   /* padding short */
    assert_int_equal(decode("QQ===", false, NULL), PC_EPARSE); /* padding long */
    assert_int_equal(decode("Q===", false, NULL), PC_EPARSE);
    assert_int_equal(decode("QR==", false, NULL), PC_EPARSE);  /* non-zero trailing bits */
    assert_int_equal(decode("QU=D", false, NULL), PC_EPARSE);  /* padding inside */
    assert_int_equal(decode("-_-_", false, NULL), PC_EPARSE);  /* URL alphabet */
    assert_int_equal(decode("QU JD", false, NULL), PC_EPARSE); /* whitespace */
    assert_int_equal(decode("QUJD\n", false, NULL), PC_EPARSE);
}

static void
test_jwk_base64url_is_strict(void **state)
{
    assert_int_equal(decode("QQ", true, "A"), 0);
    assert_int_equal(decode("QUI", true, "AB"), 0);
    assert_int_equal(decode("-_-_", true, "\xfb\xff\xbf"), 0);

    assert_int_equal(decode("QQ==", true, NULL), PC_EPARSE); /* padding refused */
    assert_int_equal(decode("Q", true, NULL), PC_EPARSE);    /* impossible length */
    assert_int_equal(decode("QR", true, NULL), PC_EPARSE);   /* non-zero trailing bits */
    assert_int_equal(decode("+/+/", true, NULL), PC_EPARSE); /* standard alphabet */
}

static json_t *
jwk(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    if (v == NULL) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    return v;
}

static int
to_key(const char *text, EVP_PKEY **key)
{
    json_t *v = jwk(text);
    struct pc_err err = { 0 };
    int rc;

    *key = NULL;
    rc = pc_jwk_public_key(v, key, &err);
    if (rc != 0) {
        assert_int_equal(err.code, rc);
        assert_true(err.msg[0] != '\0');
    }
    json_decref(v);
    return rc;
}

static void
test_jwk_ec_keys(void **state)
{
    EVP_PKEY *pair = test_key_new();
    EVP_PKEY *key = NULL;
    char x[44];
    char y[44];
    char text[512];

    test_key_ec_xy(pair, x, y);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x,
             y);
    assert_int_equal(to_key(text, &key), 0);
    assert_int_equal(EVP_PKEY_eq(key, pair), 1);
    EVP_PKEY_free(key);

    /* A point off the curve, a short coordinate, an unknown curve, a missing half. */
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x,
             x);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"%s\"}",
             y);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}", x,
             y);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"%s\",\"y\":\"%s\"}",
             x, y);
    assert_int_equal(to_key(text, &key), PC_ENOTSUP);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}", x);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    assert_int_equal(to_key("{\"kty\":\"EC\",\"crv\":\"P-256\"}", &key), PC_ENOENT);
    assert_int_equal(to_key("{\"kty\":\"EC\"}", &key), PC_ENOENT);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":7}", x);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    EVP_PKEY_free(pair);
}

static char *
bn_member(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int len;
    char *out;

    assert_int_equal(EVP_PKEY_get_bn_param(key, name, &bn), 1);
    len = BN_bn2bin(bn, buf);
    out = test_base64url(buf, (size_t)len);
    BN_free(bn);
    return out;
}

static void
test_jwk_rsa_keys(void **state)
{
    EVP_PKEY *pair = EVP_RSA_gen(2048);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    EVP_PKEY *key = NULL;
    char *n = bn_member(pair, OSSL_PKEY_PARAM_RSA_N);
    char *e = bn_member(pair, OSSL_PKEY_PARAM_RSA_E);
    char *small_n = bn_member(small, OSSL_PKEY_PARAM_RSA_N);
    char text[2048];

    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e);
    assert_int_equal(to_key(text, &key), 0);
    assert_int_equal(EVP_PKEY_eq(key, pair), 1);
    EVP_PKEY_free(key);

    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", small_n, e);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"Ag\"}", n);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\"}", n);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    assert_int_equal(to_key("{\"kty\":\"RSA\"}", &key), PC_ENOENT);
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"p\":\"AQ\"}", n, e);
    assert_int_equal(to_key(text, &key), PC_EPARSE);

    pc_free(n);
    pc_free(e);
    pc_free(small_n);
    EVP_PKEY_free(pair);
    EVP_PKEY_free(small);
}

static void
test_jwk_okp_keys(void **state)
{
    EVP_PKEY *pair = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *key = NULL;
    unsigned char raw[32];
    size_t len = sizeof(raw);
    char *x;
    char text[256];

    assert_int_equal(EVP_PKEY_get_raw_public_key(pair, raw, &len), 1);
    x = test_base64url(raw, len);
    snprintf(text, sizeof(text), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", x);
    assert_int_equal(to_key(text, &key), 0);
    assert_int_equal(EVP_PKEY_eq(key, pair), 1);
    EVP_PKEY_free(key);

    snprintf(text, sizeof(text), "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\"}", x);
    assert_int_equal(to_key(text, &key), PC_ENOTSUP);
    snprintf(text, sizeof(text), "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"}", x);
    assert_int_equal(to_key(text, &key), PC_EPARSE);
    assert_int_equal(to_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", &key), PC_ENOENT);
    pc_free(x);
    EVP_PKEY_free(pair);
}

static void
test_jwk_refuses_private_and_unknown(void **state)
{
    EVP_PKEY *key = NULL;

    assert_int_equal(to_key("{\"kty\":\"oct\",\"k\":\"AAAA\"}", &key), PC_EPARSE);
    assert_int_equal(to_key("{\"kty\":\"EC\",\"d\":\"AAAA\"}", &key), PC_EPARSE);
    assert_int_equal(to_key("{\"kty\":\"oct\"}", &key), PC_ENOTSUP);
    assert_int_equal(to_key("{\"crv\":\"P-256\"}", &key), PC_ENOTSUP);
    assert_int_equal(to_key("{\"kty\":1}", &key), PC_EPARSE);
    assert_int_equal(to_key("[]", &key), PC_EPARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwk_base64_standard_is_strict),
        cmocka_unit_test(test_jwk_base64url_is_strict),
        cmocka_unit_test(test_jwk_ec_keys),
        cmocka_unit_test(test_jwk_rsa_keys),
        cmocka_unit_test(test_jwk_okp_keys),
        cmocka_unit_test(test_jwk_refuses_private_and_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
