/*
 * JWK decoding. The base64 decoder is written here because OpenSSL's EVP_DecodeBlock accepts
 * whitespace and loose padding and knows no URL-safe alphabet; JOSE values are compared and
 * hashed byte for byte, so only the canonical encoding is accepted. Keys are built through
 * OpenSSL 3's EVP_PKEY_fromdata, which checks that an EC point lies on its curve.
 */
#include "tls/jwk.h"

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "core/alloc.h"
#include "core/err.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

/* Returns the 6-bit value of c in the chosen alphabet, or -1. */
static int
base64_value(unsigned char c, bool is_url)
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
    if (c == (is_url ? '-' : '+')) {
        return 62;
    }
    if (c == (is_url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

/* Strips the padding of standard base64; returns the data length or SIZE_MAX when malformed. */
static size_t
unpadded_len(const char *in, size_t len, bool is_url)
{
    size_t pad = 0;

    if (is_url) {
        /* A lone trailing character can never encode a whole byte. */
        return len % 4 == 1 ? SIZE_MAX : len;
    }
    if (len % 4 != 0) {
        return SIZE_MAX;
    }
    while (pad < 2 && pad < len && in[len - 1 - pad] == '=') {
        pad++;
    }
    return len - pad;
}

static int
decode_quanta(const char *in, size_t n, bool is_url, unsigned char *out)
{
    unsigned long acc = 0;
    size_t bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int v = base64_value((unsigned char)in[i], is_url);

        if (v < 0) {
            return PC_EPARSE;
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    /* Leftover bits must be zero, or two encodings would decode to the same bytes. */
    return acc == 0 ? 0 : PC_EPARSE;
}

int
pc_jwk_base64_decode_to(const char *in, size_t len, bool is_url, unsigned char *out, size_t cap,
                        size_t *out_len)
{
    size_t n = unpadded_len(in, len, is_url);
    size_t want;

    if (n == SIZE_MAX) {
        return PC_EPARSE;
    }
    want = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (want > cap) {
        return PC_ERANGE;
    }
    if (decode_quanta(in, n, is_url, out) != 0) {
        return PC_EPARSE;
    }
    *out_len = want;
    return 0;
}

int
pc_jwk_base64_decode(const char *in, size_t len, bool is_url, unsigned char **out, size_t *out_len)
{
    /* Every encoding of n characters holds at most n / 4 * 3 + 2 bytes. */
    size_t cap = len / 4 * 3 + 2;
    unsigned char *buf = pc_malloc(cap + 1);
    int rc;

    if (buf == NULL) {
        return PC_ENOMEM;
    }
    rc = pc_jwk_base64_decode_to(in, len, is_url, buf, cap, out_len);
    if (rc != 0) {
        pc_free(buf);
        return PC_EPARSE;
    }
    *out = buf;
    return 0;
}

/*
 * Decodes the base64url member name of jwk into *out (pc_malloc'd). Returns PC_ENOENT when the
 * member is absent, PC_EPARSE when it is not a well-formed string.
 */
static int
decode_member(const json_t *jwk, const char *name, unsigned char **out, size_t *len,
              struct pc_err *err)
{
    const json_t *v = json_object_get(jwk, name);
    int rc;

    if (v == NULL) {
        return PC_ENOENT;
    }
    if (!json_is_string(v)) {
        return pc_err_set(err, PC_EPARSE, "JWK member \"%s\" is not a string", name);
    }
    rc = pc_jwk_base64_decode(json_string_value(v), json_string_length(v), true, out, len);
    if (rc == PC_EPARSE) {
        return pc_err_set(err, rc, "JWK member \"%s\" is not base64url", name);
    }
    return rc == 0 ? 0 : pc_err_set(err, rc, "out of memory decoding a JWK");
}

/*
 * Key members come in pairs (x and y, n and e): both absent is PC_ENOENT (a JWK that only names
 * its certificate), one absent is malformed.
 */
static int
check_pair(const json_t *jwk, const char *kty, const char *a, const char *b, struct pc_err *err)
{
    bool has_a = json_object_get(jwk, a) != NULL;
    bool has_b = json_object_get(jwk, b) != NULL;

    if (!has_a && !has_b) {
        return pc_err_set(err, PC_ENOENT, "%s JWK without \"%s\" and \"%s\"", kty, a, b);
    }
    if (!has_a || !has_b) {
        return pc_err_set(err, PC_EPARSE, "%s JWK without \"%s\"", kty, has_a ? b : a);
    }
    return 0;
}

/* Runs EVP_PKEY_fromdata for a public key of the named algorithm. */
static int
key_from_params(const char *alg, OSSL_PARAM_BLD *bld, EVP_PKEY **out, struct pc_err *err)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = NULL;
    int rc = PC_ENOMEM;

    if (params == NULL) {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        goto out;
    }
    *out = NULL;
    if (EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = pc_err_set(err, PC_EPARSE, "JWK does not describe a valid %s public key", alg);
        goto out;
    }
    rc = 0;

out:
    if (rc == PC_ENOMEM) {
        pc_err_set(err, rc, "out of memory building a JWK public key");
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    ERR_clear_error();
    return rc;
}

struct curve {
    const char *crv;
    const char *group; /* OpenSSL group name */
    size_t coord_len;  /* RFC 7518 section 6.2.1.2: coordinates are exactly this long */
};

static const struct curve ec_curves[] = {
    { "P-256", "prime256v1", 32 },
    { "P-384", "secp384r1", 48 },
    { "P-521", "secp521r1", 66 },
};

static const struct curve *
find_curve(const json_t *jwk, struct pc_err *err, int *rc)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));

    if (crv == NULL) {
        *rc = pc_err_set(err, PC_EPARSE, "EC JWK without a \"crv\" string");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++) {
        if (strcmp(crv, ec_curves[i].crv) == 0) {
            return &ec_curves[i];
        }
    }
    *rc = pc_err_set(err, PC_ENOTSUP, "EC JWK curve \"%.40s\" is not supported", crv);
    return NULL;
}

/* Room for the uncompressed encoding of a point on the largest curve above. */
#define EC_POINT_MAX (1 + 2 * 66)

/*
 * Joins x and y into the uncompressed point encoding (SEC 1 section 2.3.3) in point, which must
 * outlive the builder's conversion to parameters: OSSL_PARAM_BLD keeps a pointer to it.
 */
static int
build_ec_point(const struct curve *c, const unsigned char *x, size_t x_len, const unsigned char *y,
               size_t y_len, unsigned char point[EC_POINT_MAX], OSSL_PARAM_BLD *bld,
               struct pc_err *err)
{
    if (x_len != c->coord_len || y_len != c->coord_len) {
        return pc_err_set(err, PC_EPARSE, "EC JWK coordinates must be %zu bytes for %s",
                          c->coord_len, c->crv);
    }
    point[0] = 0x04;
    memcpy(point + 1, x, x_len);
    memcpy(point + 1 + x_len, y, y_len);
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * x_len)
               != 1) {
        return pc_err_set(err, PC_ENOMEM, "out of memory building a JWK public key");
    }
    return 0;
}

static int
ec_public_key(const json_t *jwk, EVP_PKEY **out, struct pc_err *err)
{
    unsigned char *x = NULL;
    unsigned char *y = NULL;
    size_t x_len = 0;
    size_t y_len = 0;
    OSSL_PARAM_BLD *bld = NULL;
    unsigned char point[EC_POINT_MAX];
    const struct curve *c = NULL;
    int rc = check_pair(jwk, "EC", "x", "y", err);

    if (rc == 0) {
        c = find_curve(jwk, err, &rc);
    }
    if (rc == 0) {
        rc = decode_member(jwk, "x", &x, &x_len, err);
    }
    if (rc == 0) {
        rc = decode_member(jwk, "y", &y, &y_len, err);
    }
    if (rc != 0) {
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory building a JWK public key");
        goto out;
    }
    rc = build_ec_point(c, x, x_len, y, y_len, point, bld, err);
    if (rc == 0) {
        rc = key_from_params("EC", bld, out, err);
    }

out:
    OSSL_PARAM_BLD_free(bld);
    pc_free(x);
    pc_free(y);
    return rc;
}

static int
check_rsa_sizes(const BIGNUM *n, const BIGNUM *e, struct pc_err *err)
{
    int bits = BN_num_bits(n);

    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        return pc_err_set(err, PC_EPARSE, "RSA JWK modulus of %d bits; %d to %d are accepted", bits,
                          RSA_MIN_BITS, RSA_MAX_BITS);
    }
    if (BN_num_bits(e) > 64 || !BN_is_odd(e) || BN_is_one(e)) {
        return pc_err_set(err, PC_EPARSE, "RSA JWK exponent is not an odd number above 1");
    }
    return 0;
}

/*
 * Pushes n and e; OSSL_PARAM_BLD keeps pointers to the numbers until OSSL_PARAM_BLD_to_param
 * copies them, so they are returned in *n_out and *e_out for the caller to free afterwards.
 */
static int
rsa_params(const unsigned char *n_buf, size_t n_len, const unsigned char *e_buf, size_t e_len,
           OSSL_PARAM_BLD *bld, BIGNUM **n_out, BIGNUM **e_out, struct pc_err *err)
{
    BIGNUM *n = BN_bin2bn(n_buf, (int)n_len, NULL);
    BIGNUM *e = BN_bin2bn(e_buf, (int)e_len, NULL);
    int rc;

    *n_out = n;
    *e_out = e;
    if (n == NULL || e == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory building a JWK public key");
    }
    rc = check_rsa_sizes(n, e, err);
    if (rc == 0
        && (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
            || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory building a JWK public key");
    }
    return rc;
}

static int
rsa_public_key(const json_t *jwk, EVP_PKEY **out, struct pc_err *err)
{
    unsigned char *n = NULL;
    unsigned char *e = NULL;
    size_t n_len = 0;
    size_t e_len = 0;
    BIGNUM *n_bn = NULL;
    BIGNUM *e_bn = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc;

    rc = check_pair(jwk, "RSA", "n", "e", err);
    if (rc == 0) {
        rc = decode_member(jwk, "n", &n, &n_len, err);
    }
    if (rc == 0) {
        rc = decode_member(jwk, "e", &e, &e_len, err);
    }
    if (rc != 0) {
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory building a JWK public key");
        goto out;
    }
    rc = rsa_params(n, n_len, e, e_len, bld, &n_bn, &e_bn, err);
    if (rc == 0) {
        rc = key_from_params("RSA", bld, out, err);
    }

out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n_bn);
    BN_free(e_bn);
    pc_free(n);
    pc_free(e);
    return rc;
}

/* RFC 8037 section 2: Edwards-curve signing keys; X25519/X448 are key agreement, not signing. */
static int
okp_public_key(const json_t *jwk, EVP_PKEY **out, struct pc_err *err)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    unsigned char *x = NULL;
    size_t x_len = 0;
    int type;
    size_t want;
    int rc;

    if (json_object_get(jwk, "x") == NULL) {
        return pc_err_set(err, PC_ENOENT, "OKP JWK without \"x\"");
    }
    if (crv == NULL) {
        return pc_err_set(err, PC_EPARSE, "OKP JWK without a \"crv\" string");
    }
    if (strcmp(crv, "Ed25519") == 0) {
        type = EVP_PKEY_ED25519;
        want = 32;
    } else if (strcmp(crv, "Ed448") == 0) {
        type = EVP_PKEY_ED448;
        want = 57;
    } else {
        return pc_err_set(err, PC_ENOTSUP, "OKP JWK curve \"%.40s\" is not supported", crv);
    }
    rc = decode_member(jwk, "x", &x, &x_len, err);
    if (rc == 0 && x_len != want) {
        rc = pc_err_set(err, PC_EPARSE, "OKP JWK \"x\" must be %zu bytes for %s", want, crv);
    }
    if (rc == 0) {
        *out = EVP_PKEY_new_raw_public_key(type, NULL, x, x_len);
        rc = *out != NULL ? 0 : pc_err_set(err, PC_ENOMEM, "out of memory building a JWK key");
        ERR_clear_error();
    }
    pc_free(x);
    return rc;
}

int
pc_jwk_public_key(const json_t *jwk, EVP_PKEY **out, struct pc_err *err)
{
    static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
    const json_t *kty_value;
    const char *kty;

    if (!json_is_object(jwk)) {
        return pc_err_set(err, PC_EPARSE, "JWK is not an object");
    }
    kty_value = json_object_get(jwk, "kty");
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        if (json_object_get(jwk, private_members[i]) != NULL) {
            return pc_err_set(err, PC_EPARSE, "JWK carries private key member \"%s\"",
                              private_members[i]);
        }
    }
    if (kty_value == NULL) {
        return pc_err_set(err, PC_ENOTSUP, "JWK without \"kty\"");
    }
    kty = json_string_value(kty_value);
    if (kty == NULL) {
        return pc_err_set(err, PC_EPARSE, "JWK \"kty\" is not a string");
    }
    if (strcmp(kty, "EC") == 0) {
        return ec_public_key(jwk, out, err);
    }
    if (strcmp(kty, "RSA") == 0) {
        return rsa_public_key(jwk, out, err);
    }
    if (strcmp(kty, "OKP") == 0) {
        return okp_public_key(jwk, out, err);
    }
    return pc_err_set(err, PC_ENOTSUP, "JWK key type \"%.40s\" is not supported", kty);
}
