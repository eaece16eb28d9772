/*
 * Unit tests for key sets: what a JWK Set document may hold, what is ignored and what refuses
 * the whole document, which algorithms each key fits, HMAC secrets, handed-over keys and the
 * reference count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authn/jwks.h"
#include "core/err.h"
#include "jose_test.h"

static EVP_PKEY *rsa;
static EVP_PKEY *ec256;
static EVP_PKEY *ed25519;

static int
setup(void **state)
{
    rsa = jose_key_new("RSA");
    ec256 = jose_key_new("P-256");
    ed25519 = jose_key_new("Ed25519");
    return 0;
}

static int
teardown(void **state)
{
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ed25519);
    return 0;
}

/* Parses doc (freed); returns the set or NULL with err filled. */
static struct pc_jwks *
parse(char *doc, struct pc_err *err)
{
    struct pc_jwks *set = pc_jwks_parse(doc, strlen(doc), err);

    free(doc);
    return set;
}

/* The JWK of key with one extra member (JSON text value). */
static json_t *
jwk_with(EVP_PKEY *key, const char *kid, const char *member, const char *value_json)
{
    json_t *jwk = jose_jwk(key, kid, NULL);

    json_object_set_new(jwk, member, json_loads(value_json, JSON_DECODE_ANY, NULL));
    return jwk;
}

static void
test_jwks_parses_rsa_ec_okp(void **state)
{
    struct pc_err err = { 0 };
    struct pc_jwks *set = parse(jose_jwks(jose_jwk(rsa, "r", "RS256"), jose_jwk(ec256, "e", NULL),
                                          jose_jwk(ed25519, NULL, NULL), NULL),
                                &err);
    const struct pc_jwks_key *key;

    assert_non_null(set);
    assert_int_equal(pc_jwks_count(set), 3);
    assert_int_equal(pc_jwks_ignored(set), 0);
    key = pc_jwks_find(set, "r", 1);
    assert_non_null(key);
    assert_int_equal(key->kty, PC_JWKS_KTY_RSA);
    assert_int_equal(key->alg, PC_JWS_ALG_RS256);
    assert_true(pc_jwks_key_fits(key, PC_JWS_ALG_RS256));
    assert_false(pc_jwks_key_fits(key, PC_JWS_ALG_PS256));
    key = pc_jwks_find(set, "e", 1);
    assert_int_equal(key->kty, PC_JWKS_KTY_EC);
    assert_int_equal(key->ec_size, 32);
    assert_true(pc_jwks_key_fits(key, PC_JWS_ALG_ES256));
    assert_false(pc_jwks_key_fits(key, PC_JWS_ALG_ES384));
    assert_false(pc_jwks_key_fits(key, PC_JWS_ALG_ES256 | PC_JWS_ALG_ES384));
    key = pc_jwks_key_at(set, 2);
    assert_null(key->kid);
    assert_int_equal(key->kty, PC_JWKS_KTY_OKP);
    assert_true(pc_jwks_key_fits(key, PC_JWS_ALG_EDDSA));
    assert_null(pc_jwks_find(set, "R", 1));
    assert_null(pc_jwks_find(NULL, "r", 1));
    pc_jwks_unref(set);
}

static void
test_jwks_key_fits_by_type_and_curve(void **state)
{
    EVP_PKEY *ec384 = jose_key_new("P-384");
    EVP_PKEY *ec521 = jose_key_new("P-521");
    EVP_PKEY *ed448 = jose_key_new("Ed448");
    struct pc_jwks *set =
        parse(jose_jwks(jose_jwk(rsa, "r", NULL), jose_jwk(ec384, "p384", NULL),
                        jose_jwk(ec521, "p521", NULL), jose_jwk(ed448, "ed448", NULL), NULL),
              NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_find(set, "r", 1)->fits, PC_JWS_ALG_RSA);
    assert_int_equal(pc_jwks_find(set, "p384", 4)->fits, PC_JWS_ALG_ES384);
    assert_int_equal(pc_jwks_find(set, "p521", 4)->fits, PC_JWS_ALG_ES512);
    assert_int_equal(pc_jwks_find(set, "p521", 4)->ec_size, 66);
    assert_int_equal(pc_jwks_find(set, "ed448", 5)->fits, PC_JWS_ALG_EDDSA);
    pc_jwks_unref(set);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(ed448);
}

static void
test_jwks_key_alg_restricts_and_unknown_alg_fits_nothing(void **state)
{
    struct pc_jwks *set =
        parse(jose_jwks(jose_jwk(rsa, "ps", "PS384"), jose_jwk(ec256, "mismatch", "ES384"),
                        jose_jwk(rsa, "enc", "RSA-OAEP"), NULL),
              NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_find(set, "ps", 2)->fits, PC_JWS_ALG_PS384);
    assert_int_equal(pc_jwks_find(set, "mismatch", 8)->fits, 0);
    assert_int_equal(pc_jwks_find(set, "enc", 3)->fits, 0);
    pc_jwks_unref(set);
}

static void
test_jwks_ignores_keys_not_for_signatures(void **state)
{
    json_t *x25519 = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519", "x",
                               "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo");
    json_t *k1 = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "secp256k1", "x", "AAAA",
                           "y", "AAAA");
    struct pc_jwks *set = parse(
        jose_jwks(jwk_with(rsa, "enc", "use", "\"enc\""),
                  jwk_with(rsa, "sign", "key_ops", "[\"sign\"]"),
                  jwk_with(rsa, "ok", "key_ops", "[\"verify\"]"),
                  jwk_with(ec256, "sig", "use", "\"sig\""), json_pack("{s:s}", "kty", "foo"),
                  x25519, k1, json_pack("{s:s, s:s}", "kty", "RSA", "kid", "cert-only"), NULL),
        NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_count(set), 2);
    assert_int_equal(pc_jwks_ignored(set), 6);
    assert_non_null(pc_jwks_find(set, "ok", 2));
    assert_non_null(pc_jwks_find(set, "sig", 3));
    pc_jwks_unref(set);
}

static void
test_jwks_ignores_weak_rsa(void **state)
{
    EVP_PKEY *weak = jose_key_new("RSA1024");
    struct pc_jwks *set =
        parse(jose_jwks(jose_jwk(weak, "weak", NULL), jose_jwk(rsa, "ok", NULL), NULL), NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_count(set), 1);
    assert_int_equal(pc_jwks_ignored(set), 1);
    assert_null(pc_jwks_find(set, "weak", 4));
    pc_jwks_unref(set);
    EVP_PKEY_free(weak);
}

static void
test_jwks_refuses_private_members(void **state)
{
    struct pc_err err = { 0 };

    assert_null(
        parse(jose_jwks(jose_jwk(rsa, "ok", NULL), jwk_with(ec256, "leak", "d", "\"AAAA\""), NULL),
              &err));
    assert_int_equal(err.code, PC_EPARSE);
    assert_non_null(strstr(err.msg, "private"));
    assert_null(
        parse(jose_jwks(json_pack("{s:s, s:s}", "kty", "oct", "k", "c2VjcmV0"), NULL), &err));
    assert_int_equal(err.code, PC_EPARSE);
}

static void
test_jwks_refuses_malformed_documents(void **state)
{
    static const char *const docs[] = {
        "",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":[1]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":7}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"use\":true}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":\"verify\"}]}",
        "{\"keys\":[{\"kty\":1}]}",
        "{\"keys\":[],\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"EC\",\"kty\":\"EC\"}]}",
    };
    struct pc_err err;

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        err.code = 0;
        assert_null(pc_jwks_parse(docs[i], strlen(docs[i]), &err));
        assert_int_equal(err.code, PC_EPARSE);
    }
}

static void
test_jwks_refuses_oversized_documents(void **state)
{
    struct pc_err err = { 0 };
    size_t big = PC_JWKS_MAX_BYTES + 1;
    char *doc = malloc(big + 1);
    json_t *keys = json_array();
    json_t *root = json_object();

    memset(doc, ' ', big);
    memcpy(doc, "{\"keys\":[]}", 11);
    doc[big] = '\0';
    assert_null(parse(doc, &err));
    assert_int_equal(err.code, PC_ELIMIT);

    for (int i = 0; i <= PC_JWKS_MAX_KEYS; i++) {
        json_array_append_new(keys, json_pack("{s:s}", "kty", "unknown"));
    }
    json_object_set_new(root, "keys", keys);
    assert_null(parse(jose_dump(root), &err));
    assert_int_equal(err.code, PC_ELIMIT);
}

static void
test_jwks_accepts_empty_set(void **state)
{
    struct pc_jwks *set = pc_jwks_parse("{\"keys\":[]}", 11, NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_count(set), 0);
    pc_jwks_unref(set);
}

static void
test_jwks_secret_fits_hmac_by_length(void **state)
{
    static const char long_secret[65] =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    struct pc_err err = { 0 };
    struct pc_jwks *set;

    assert_null(pc_jwks_from_secret(long_secret, 31, NULL, &err));
    assert_int_equal(err.code, PC_EINVAL);

    set = pc_jwks_from_secret(long_secret, 32, "k", &err);
    assert_non_null(set);
    assert_int_equal(pc_jwks_key_at(set, 0)->kty, PC_JWKS_KTY_OCT);
    assert_int_equal(pc_jwks_key_at(set, 0)->fits, PC_JWS_ALG_HS256);
    assert_non_null(pc_jwks_find(set, "k", 1));
    pc_jwks_unref(set);

    set = pc_jwks_from_secret(long_secret, 64, NULL, &err);
    assert_int_equal(pc_jwks_key_at(set, 0)->fits, PC_JWS_ALG_HMAC);
    assert_false(pc_jwks_key_fits(pc_jwks_key_at(set, 0), PC_JWS_ALG_RS256));
    pc_jwks_unref(set);
}

static void
test_jwks_from_pkeys_shares_keys(void **state)
{
    EVP_PKEY *weak = jose_key_new("RSA1024");
    struct pc_jwks_pkey in[] = {
        { "a", "ES256", ec256 },
        { NULL, NULL, rsa },
        { "weak", NULL, weak },
        { "none", NULL, NULL },
    };
    struct pc_jwks *set = pc_jwks_from_pkeys(in, 4, NULL);

    assert_non_null(set);
    assert_int_equal(pc_jwks_count(set), 2);
    assert_int_equal(pc_jwks_ignored(set), 2);
    assert_ptr_equal(pc_jwks_find(set, "a", 1)->pkey, ec256);
    assert_int_equal(pc_jwks_key_at(set, 1)->fits, PC_JWS_ALG_RSA);
    pc_jwks_unref(set);
    EVP_PKEY_free(weak);
}

static void
test_jwks_reference_count(void **state)
{
    struct pc_jwks *set = parse(jose_jwks(jose_jwk(ec256, "e", NULL), NULL), NULL);

    assert_ptr_equal(pc_jwks_ref(set), set);
    pc_jwks_unref(set);
    assert_int_equal(pc_jwks_count(set), 1);
    pc_jwks_unref(set);
    pc_jwks_unref(NULL);
}

static void
test_jwks_key_from_jwk(void **state)
{
    struct pc_jwks_key key;
    json_t *jwk = jose_jwk(ec256, "proof", "ES256");
    json_t *priv = jwk_with(ec256, NULL, "d", "\"AAAA\"");
    json_t *x25519 = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519", "x",
                               "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo");

    assert_int_equal(pc_jwks_key_from_jwk(jwk, &key, NULL), 0);
    assert_string_equal(key.kid, "proof");
    assert_int_equal(key.fits, PC_JWS_ALG_ES256);
    pc_jwks_key_clear(&key);
    assert_null(key.pkey);
    assert_int_equal(pc_jwks_key_from_jwk(priv, &key, NULL), PC_EACCES);
    assert_int_equal(pc_jwks_key_from_jwk(x25519, &key, NULL), PC_ENOTSUP);
    assert_true(pc_jwks_has_private_members(priv));
    assert_false(pc_jwks_has_private_members(jwk));
    pc_jwks_key_clear(NULL);
    json_decref(jwk);
    json_decref(priv);
    json_decref(x25519);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_parses_rsa_ec_okp),
        cmocka_unit_test(test_jwks_key_fits_by_type_and_curve),
        cmocka_unit_test(test_jwks_key_alg_restricts_and_unknown_alg_fits_nothing),
        cmocka_unit_test(test_jwks_ignores_keys_not_for_signatures),
        cmocka_unit_test(test_jwks_ignores_weak_rsa),
        cmocka_unit_test(test_jwks_refuses_private_members),
        cmocka_unit_test(test_jwks_refuses_malformed_documents),
        cmocka_unit_test(test_jwks_refuses_oversized_documents),
        cmocka_unit_test(test_jwks_accepts_empty_set),
        cmocka_unit_test(test_jwks_secret_fits_hmac_by_length),
        cmocka_unit_test(test_jwks_from_pkeys_shares_keys),
        cmocka_unit_test(test_jwks_reference_count),
        cmocka_unit_test(test_jwks_key_from_jwk),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
