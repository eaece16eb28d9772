/*
 * Helpers shared by the src/authn unit tests: keys generated in the test with OpenSSL, their
 * public JWKs, and compact JWS tokens signed (or deliberately mis-signed) the way an identity
 * provider, a client making DPoP proofs, or an attacker would. Everything is static inline, so
 * each test binary carries what it uses and unused helpers do not warn. Returned strings are
 * malloc'd (free); failures abort, as they are bugs in the test.
 */
#ifndef PC_TEST_JOSE_TEST_H
#define PC_TEST_JOSE_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "authn/jws.h"

static inline void
jose_need(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "test helper failed: %s\n", what);
        abort();
    }
}

/* Base64url without padding of len bytes (malloc'd). */
static inline char *
jose_b64url(const void *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char *out = malloc(len / 3 * 4 + 5);
    size_t n = 0;

    jose_need(out != NULL, "malloc");
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)p[i] << 16;
        size_t left = len - i;

        v |= left > 1 ? (unsigned long)p[i + 1] << 8 : 0;
        v |= left > 2 ? p[i + 2] : 0;
        out[n++] = alphabet[(v >> 18) & 63];
        out[n++] = alphabet[(v >> 12) & 63];
        if (left > 1) {
            out[n++] = alphabet[(v >> 6) & 63];
        }
        if (left > 2) {
            out[n++] = alphabet[v & 63];
        }
    }
    out[n] = '\0';
    return out;
}

static inline char *
jose_b64url_str(const char *s)
{
    return jose_b64url(s, strlen(s));
}

/* Keys: "RSA" (2048 bits), "P-256", "P-384", "P-521", "Ed25519", "Ed448". */
static inline EVP_PKEY *
jose_key_new(const char *kind)
{
    EVP_PKEY *key = NULL;

    if (strcmp(kind, "RSA") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    } else if (strcmp(kind, "RSA1024") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    } else if (strcmp(kind, "P-256") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else if (strcmp(kind, "P-384") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    } else if (strcmp(kind, "P-521") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    } else if (strcmp(kind, "Ed25519") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else if (strcmp(kind, "Ed448") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    }
    jose_need(key != NULL, kind);
    return key;
}

static inline void
jose_set_bn(json_t *obj, const char *member, EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int len;
    char *b64;

    jose_need(EVP_PKEY_get_bn_param(key, param, &bn) == 1, param);
    len = BN_bn2bin(bn, buf);
    b64 = jose_b64url(buf, (size_t)len);
    json_object_set_new(obj, member, json_string(b64));
    free(b64);
    BN_free(bn);
}

static inline void
jose_set_ec(json_t *obj, EVP_PKEY *key)
{
    unsigned char point[1 + 2 * 66];
    char group[32];
    size_t len = 0;
    size_t coord;
    char *x;
    char *y;

    jose_need(
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)
            == 1,
        "group");
    jose_need(
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len)
            == 1,
        "point");
    coord = (len - 1) / 2;
    x = jose_b64url(point + 1, coord);
    y = jose_b64url(point + 1 + coord, coord);
    json_object_set_new(obj, "kty", json_string("EC"));
    json_object_set_new(obj, "crv",
                        json_string(strcmp(group, "prime256v1") == 0  ? "P-256"
                                    : strcmp(group, "secp384r1") == 0 ? "P-384"
                                                                      : "P-521"));
    json_object_set_new(obj, "x", json_string(x));
    json_object_set_new(obj, "y", json_string(y));
    free(x);
    free(y);
}

static inline void
jose_set_okp(json_t *obj, EVP_PKEY *key)
{
    unsigned char raw[57];
    size_t len = sizeof(raw);
    char *x;

    jose_need(EVP_PKEY_get_raw_public_key(key, raw, &len) == 1, "raw public key");
    x = jose_b64url(raw, len);
    json_object_set_new(obj, "kty", json_string("OKP"));
    json_object_set_new(obj, "crv", json_string(len == 32 ? "Ed25519" : "Ed448"));
    json_object_set_new(obj, "x", json_string(x));
    free(x);
}

/* The public JWK of key as a new jansson object, with kid and alg when non-NULL. */
static inline json_t *
jose_jwk(EVP_PKEY *key, const char *kid, const char *alg)
{
    json_t *obj = json_object();

    if (EVP_PKEY_is_a(key, "RSA")) {
        json_object_set_new(obj, "kty", json_string("RSA"));
        jose_set_bn(obj, "n", key, OSSL_PKEY_PARAM_RSA_N);
        jose_set_bn(obj, "e", key, OSSL_PKEY_PARAM_RSA_E);
    } else if (EVP_PKEY_is_a(key, "EC")) {
        jose_set_ec(obj, key);
    } else {
        jose_set_okp(obj, key);
    }
    if (kid != NULL) {
        json_object_set_new(obj, "kid", json_string(kid));
    }
    if (alg != NULL) {
        json_object_set_new(obj, "alg", json_string(alg));
    }
    return obj;
}

/* JSON text (malloc'd) of a value, compact; consumes the reference. */
static inline char *
jose_dump(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    jose_need(text != NULL, "json_dumps");
    json_decref(v);
    return text;
}

static inline const EVP_MD *
jose_md(const char *alg)
{
    if (strstr(alg, "384") != NULL) {
        return EVP_sha384();
    }
    if (strstr(alg, "512") != NULL) {
        return EVP_sha512();
    }
    return EVP_sha256();
}

/* ECDSA DER signature -> JOSE R || S with each half padded to size bytes. */
static inline size_t
jose_der_to_raw(const unsigned char *der, size_t der_len, size_t size, unsigned char *out)
{
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)der_len);

    jose_need(sig != NULL, "d2i_ECDSA_SIG");
    jose_need(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, (int)size) == (int)size, "r");
    jose_need(BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + size, (int)size) == (int)size, "s");
    ECDSA_SIG_free(sig);
    return 2 * size;
}

/* Signs input with key as JWS alg; the raw signature goes to sig (room for 1024 bytes). */
static inline size_t
jose_sign_raw(const char *alg, EVP_PKEY *key, const char *input, unsigned char *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = strcmp(alg, "EdDSA") == 0 ? NULL : jose_md(alg);
    unsigned char der[1024];
    size_t len = sizeof(der);

    jose_need(EVP_DigestSignInit(ctx, &pctx, md, NULL, key) == 1, "sign init");
    if (alg[0] == 'P') {
        jose_need(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1, "pss");
        jose_need(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1, "salt");
    }
    jose_need(EVP_DigestSign(ctx, der, &len, (const unsigned char *)input, strlen(input)) == 1,
              "sign");
    EVP_MD_CTX_free(ctx);
    if (alg[0] == 'E' && alg[1] == 'S') {
        size_t size = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;

        return jose_der_to_raw(der, len, size, sig);
    }
    memcpy(sig, der, len);
    return len;
}

/* "<b64(header)>.<b64(payload)>" (malloc'd). */
static inline char *
jose_signing_input(const char *header, const char *payload)
{
    char *h = jose_b64url_str(header);
    char *p = jose_b64url_str(payload);
    char *out = malloc(strlen(h) + strlen(p) + 2);

    jose_need(out != NULL, "malloc");
    sprintf(out, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

/* Appends ".<b64(sig)>" to input (consumed) and returns the token (malloc'd). */
static inline char *
jose_finish(char *input, const unsigned char *sig, size_t sig_len)
{
    char *s = jose_b64url(sig, sig_len);
    char *out = malloc(strlen(input) + strlen(s) + 2);

    jose_need(out != NULL, "malloc");
    sprintf(out, "%s.%s", input, s);
    free(s);
    free(input);
    return out;
}

/* A compact JWS of header and payload (JSON text) signed with key as alg (malloc'd). */
static inline char *
jose_sign(const char *header, const char *payload, const char *alg, EVP_PKEY *key)
{
    char *input = jose_signing_input(header, payload);
    unsigned char sig[1024];
    size_t len = jose_sign_raw(alg, key, input, sig);

    return jose_finish(input, sig, len);
}

/* A compact JWS MACed with the secret as HS256/384/512 (malloc'd). */
static inline char *
jose_sign_hmac(const char *header, const char *payload, const char *alg, const void *secret,
               size_t secret_len)
{
    char *input = jose_signing_input(header, payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    jose_need(HMAC(jose_md(alg), secret, (int)secret_len, (const unsigned char *)input,
                   strlen(input), mac, &len)
                  != NULL,
              "hmac");
    return jose_finish(input, mac, len);
}

/* A JWK Set document holding the JWKs given (references consumed), NULL-terminated. */
static inline char *
jose_jwks(json_t *first, ...)
{
    json_t *keys = json_array();
    json_t *doc = json_object();
    va_list ap;

    va_start(ap, first);
    for (json_t *k = first; k != NULL; k = va_arg(ap, json_t *)) {
        json_array_append_new(keys, k);
    }
    va_end(ap);
    json_object_set_new(doc, "keys", keys);
    return jose_dump(doc);
}

#endif
