/*
 * JOSE helpers (see jose.h): base64 codecs and JWK members read into OpenSSL parameter
 * builders, one builder per key type, turned into keys with EVP_PKEY_fromdata.
 */
#include "rego/jose.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

static int
b64_val(int c, bool url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (url ? '-' : '+')) {
        return 62;
    }
    if (c == (url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

bool
pc_rego_jose_b64_decode(struct pc_rego_strbuf *sb, const char *s, size_t n, bool url)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t count = 0;
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!url && isspace(c)) {
            continue;
        }
        if (c == '=') {
            break;
        }
        int v = b64_val(c, url);
        if (v < 0) {
            return false;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        count++;
        if (bits >= 8) {
            bits -= 8;
            pc_rego_strbuf_addc(sb, (char)((acc >> bits) & 0xFF));
        }
    }
    for (; i < n; i++) {
        if (s[i] != '=' && !(!url && isspace((unsigned char)s[i]))) {
            return false;
        }
    }
    return count % 4 != 1 && !pc_rego_strbuf_failed(sb);
}

void
pc_rego_jose_b64url_encode(struct pc_rego_strbuf *sb, const unsigned char *p, size_t n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char out[4] = { digits[v >> 18], digits[(v >> 12) & 63], digits[(v >> 6) & 63],
                        digits[v & 63] };
        pc_rego_strbuf_add(sb, out, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char out[2] = { digits[v >> 18], digits[(v >> 12) & 63] };
        pc_rego_strbuf_add(sb, out, 2);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char out[3] = { digits[v >> 18], digits[(v >> 12) & 63], digits[(v >> 6) & 63] };
        pc_rego_strbuf_add(sb, out, 3);
    }
}

bool
pc_rego_jose_jwk_bytes(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk, const char *name,
                       struct pc_rego_strbuf *out)
{
    const struct pc_rego_value *v = pc_rego_object_get_str(jwk, name, strlen(name));
    pc_rego_strbuf_init(out, bc->arena);
    return v != NULL && v->kind == PC_REGO_STRING
           && pc_rego_jose_b64_decode(out, v->u.s, v->len, true) && out->len > 0;
}

static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, bool private)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = bld != NULL ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params != NULL ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    int selection = private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1) {
            pkey = NULL;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* Pushes JWK member name as a big number under param; optional members may be absent. */
static bool
push_bn(struct pc_rego_bctx *bc, OSSL_PARAM_BLD *bld, const struct pc_rego_value *jwk,
        const char *name, const char *param, bool optional, BIGNUM **keep)
{
    struct pc_rego_strbuf b;
    if (!pc_rego_jose_jwk_bytes(bc, jwk, name, &b)) {
        return optional && pc_rego_object_get_str(jwk, name, strlen(name)) == NULL;
    }
    *keep = BN_bin2bn((const unsigned char *)b.data, (int)b.len, NULL);
    return *keep != NULL && OSSL_PARAM_BLD_push_BN(bld, param, *keep) == 1;
}

static EVP_PKEY *
rsa_key(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk, bool private)
{
    static const char *const members[][2] = {
        { "n", OSSL_PKEY_PARAM_RSA_N },          { "e", OSSL_PKEY_PARAM_RSA_E },
        { "d", OSSL_PKEY_PARAM_RSA_D },          { "p", OSSL_PKEY_PARAM_RSA_FACTOR1 },
        { "q", OSSL_PKEY_PARAM_RSA_FACTOR2 },    { "dp", OSSL_PKEY_PARAM_RSA_EXPONENT1 },
        { "dq", OSSL_PKEY_PARAM_RSA_EXPONENT2 }, { "qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
    };
    BIGNUM *bns[8] = { NULL };
    size_t n = private ? 8 : 2;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    bool ok = bld != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = push_bn(bc, bld, jwk, members[i][0], members[i][1], i > 2, &bns[i]);
    }
    if (ok) {
        pkey = pkey_from_params("RSA", bld, private);
    }
    OSSL_PARAM_BLD_free(bld);
    for (size_t i = 0; i < 8; i++) {
        BN_clear_free(bns[i]);
    }
    return pkey;
}

static EVP_PKEY *
ec_key(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk, bool private)
{
    const struct pc_rego_value *crv = pc_rego_object_get_str(jwk, "crv", 3);
    const char *group = NULL;
    size_t size = 0;
    if (crv != NULL && crv->kind == PC_REGO_STRING) {
        group = crv->len == 5 && memcmp(crv->u.s, "P-256", 5) == 0   ? (size = 32, "prime256v1")
                : crv->len == 5 && memcmp(crv->u.s, "P-384", 5) == 0 ? (size = 48, "secp384r1")
                : crv->len == 5 && memcmp(crv->u.s, "P-521", 5) == 0 ? (size = 66, "secp521r1")
                                                                     : NULL;
    }
    struct pc_rego_strbuf x;
    struct pc_rego_strbuf y;
    if (group == NULL || !pc_rego_jose_jwk_bytes(bc, jwk, "x", &x)
        || !pc_rego_jose_jwk_bytes(bc, jwk, "y", &y) || x.len > size || y.len > size) {
        return NULL;
    }
    unsigned char point[1 + 2 * 66];
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + size - x.len, x.data, x.len);
    memcpy(point + 1 + 2 * size - y.len, y.data, y.len);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *d = NULL;
    EVP_PKEY *pkey = NULL;
    if (bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) == 1
        && (!private || push_bn(bc, bld, jwk, "d", OSSL_PKEY_PARAM_PRIV_KEY, false, &d))) {
        pkey = pkey_from_params("EC", bld, private);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pkey;
}

static EVP_PKEY *
okp_key(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk, bool private)
{
    const struct pc_rego_value *crv = pc_rego_object_get_str(jwk, "crv", 3);
    struct pc_rego_strbuf k;
    if (crv == NULL || crv->kind != PC_REGO_STRING || crv->len != 7
        || memcmp(crv->u.s, "Ed25519", 7) != 0
        || !pc_rego_jose_jwk_bytes(bc, jwk, private ? "d" : "x", &k) || k.len != 32) {
        return NULL;
    }
    const unsigned char *raw = (const unsigned char *)k.data;
    return private ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32)
                   : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
}

EVP_PKEY *
pc_rego_jose_jwk_key(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk,
                     enum pc_rego_jose_kty kty, bool private)
{
    switch (kty) {
    case PC_REGO_JOSE_RSA:
        return rsa_key(bc, jwk, private);
    case PC_REGO_JOSE_EC:
        return ec_key(bc, jwk, private);
    case PC_REGO_JOSE_OKP:
        return okp_key(bc, jwk, private);
    }
    return NULL;
}
