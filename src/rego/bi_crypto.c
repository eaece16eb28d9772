/*
 * Crypto builtins: digests, HMAC, and JSON Web Tokens (decode, signature verification with
 * RSA, RSA-PSS, ECDSA, EdDSA and HMAC keys, and decode_verify with OPA's constraints).
 *
 * Keys come as a PEM certificate, a PEM public key, or a JWK or JWK set, as OPA accepts them;
 * JWKs are turned into OpenSSL keys with EVP_PKEY_fromdata. OpenSSL allocates from its own
 * heap: these builtins are not on the decision hot path of the benchmark policies.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "rego/builtin.h"
#include "rego/jose.h"
#include "rego/json.h"
#include "rego/strbuf.h"

#define MAX_KEYS 32

/* Digests and HMAC. */

static void
add_hex(struct pc_rego_strbuf *sb, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pc_rego_strbuf_addf(sb, "%02x", p[i]);
    }
}

static int
ret_hex(struct pc_rego_bctx *bc, const struct pc_rego_value **out, const unsigned char *p, size_t n)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    add_hex(&sb, p, n);
    if (pc_rego_strbuf_failed(&sb)) {
        return PC_REGO_ENOMEM;
    }
    return pc_rego_bi_ret(out, pc_rego_string_ref(bc->arena, sb.data, sb.len));
}

static int
digest(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out, const EVP_MD *md)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, n, buf, &len, md, NULL) != 1) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "digest failed");
    }
    return ret_hex(bc, out, buf, len);
}

static int
bi_md5(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return digest(bc, a, out, EVP_md5());
}

static int
bi_sha1(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    return digest(bc, a, out, EVP_sha1());
}

static int
bi_sha256(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
          const struct pc_rego_value **out)
{
    return digest(bc, a, out, EVP_sha256());
}

static int
hmac(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
     const struct pc_rego_value **out, const EVP_MD *md)
{
    const char *s;
    size_t n;
    const char *k;
    size_t kn;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &k, &kn);
    }
    if (rc != 0) {
        return rc;
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(md, k, (int)kn, (const unsigned char *)s, n, buf, &len) == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "hmac failed");
    }
    return ret_hex(bc, out, buf, len);
}

static int
bi_hmac_md5(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    return hmac(bc, a, out, EVP_md5());
}

static int
bi_hmac_sha1(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    return hmac(bc, a, out, EVP_sha1());
}

static int
bi_hmac_sha256(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    return hmac(bc, a, out, EVP_sha256());
}

static int
bi_hmac_sha512(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    return hmac(bc, a, out, EVP_sha512());
}

static int
bi_hmac_equal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *x;
    size_t xn;
    const char *y;
    size_t yn;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &x, &xn);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &y, &yn);
    }
    if (rc != 0) {
        return rc;
    }
    return pc_rego_bi_ret_bool(out, xn == yn && CRYPTO_memcmp(x, y, xn) == 0);
}

/* Keys. */

struct vkey {
    EVP_PKEY *pkey;              /* asymmetric keys */
    const unsigned char *secret; /* HMAC secrets (arena memory) */
    size_t secret_len;
    char alg[16];
    const char *kid;
    size_t kid_len;
};

struct keyset {
    struct vkey keys[MAX_KEYS];
    size_t n;
};

static void
keyset_free(struct keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].pkey);
    }
    ks->n = 0;
}

/* One JWK: adds its key to ks (secrets as HMAC keys). Returns false when it is not usable. */
static bool
add_jwk(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk, struct keyset *ks)
{
    if (jwk->kind != PC_REGO_OBJECT || ks->n == MAX_KEYS) {
        return false;
    }
    const struct pc_rego_value *kty = pc_rego_object_get_str(jwk, "kty", 3);
    if (kty == NULL || kty->kind != PC_REGO_STRING) {
        return false;
    }
    EVP_PKEY *pkey = NULL;
    struct pc_rego_strbuf k;
    bool secret = false;
    if (kty->len == 3 && memcmp(kty->u.s, "RSA", 3) == 0) {
        pkey = pc_rego_jose_jwk_key(bc, jwk, PC_REGO_JOSE_RSA, false);
    } else if (kty->len == 2 && memcmp(kty->u.s, "EC", 2) == 0) {
        pkey = pc_rego_jose_jwk_key(bc, jwk, PC_REGO_JOSE_EC, false);
    } else if (kty->len == 3 && memcmp(kty->u.s, "OKP", 3) == 0) {
        pkey = pc_rego_jose_jwk_key(bc, jwk, PC_REGO_JOSE_OKP, false);
    } else if (kty->len == 3 && memcmp(kty->u.s, "oct", 3) == 0) {
        secret = pc_rego_jose_jwk_bytes(bc, jwk, "k", &k);
    }
    if (pkey == NULL && !secret) {
        return false;
    }
    struct vkey *vk = &ks->keys[ks->n++];
    memset(vk, 0, sizeof(*vk));
    vk->pkey = pkey;
    if (secret) {
        vk->secret = (const unsigned char *)k.data;
        vk->secret_len = k.len;
    }
    const struct pc_rego_value *alg = pc_rego_object_get_str(jwk, "alg", 3);
    if (alg != NULL && alg->kind == PC_REGO_STRING && alg->len < sizeof(vk->alg)) {
        memcpy(vk->alg, alg->u.s, alg->len);
    }
    const struct pc_rego_value *kid = pc_rego_object_get_str(jwk, "kid", 3);
    if (kid != NULL && kid->kind == PC_REGO_STRING) {
        vk->kid = kid->u.s;
        vk->kid_len = kid->len;
    }
    return true;
}

static bool
known_alg(const char *alg)
{
    static const char *const algs[] = { "RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "ES512", "HS256",
                                        "HS384", "HS512", "EdDSA" };
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(alg, algs[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int
parse_jwks(struct pc_rego_bctx *bc, const char *s, size_t n, struct keyset *ks)
{
    struct pc_rego_error err;
    const struct pc_rego_value *v = pc_rego_json_parse(bc->arena, s, n, &err);
    if (v == NULL || v->kind != PC_REGO_OBJECT) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "failed to parse a JWK key (set): %s",
                               v == NULL ? err.msg : "not an object");
    }
    const struct pc_rego_value *keys = pc_rego_object_get_str(v, "keys", 4);
    if (keys == NULL) {
        if (!add_jwk(bc, v, ks)) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "failed to parse a JWK key (set): unsupported key");
        }
        return 0;
    }
    if (keys->kind != PC_REGO_ARRAY) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "failed to parse a JWK key (set): keys must be an array");
    }
    for (uint32_t i = 0; i < keys->len; i++) {
        size_t before = ks->n;
        if (!add_jwk(bc, keys->u.items[i], ks)) {
            keyset_free(ks);
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "failed to parse a JWK key (set): unsupported key");
        }
        /* Keys naming an algorithm we do not know are left out, as OPA does. */
        if (ks->keys[before].alg[0] != '\0' && !known_alg(ks->keys[before].alg)) {
            EVP_PKEY_free(ks->keys[before].pkey);
            ks->n = before;
        }
    }
    return 0;
}

/* Finds a PEM block: its type, decoded body, and the bytes after its END line. */
static bool
find_pem(const char *s, size_t n, char *type, size_t tn, struct pc_rego_strbuf *der, size_t *rest)
{
    const char *begin = NULL;
    for (size_t i = 0; i + 11 <= n; i++) {
        if (memcmp(s + i, "-----BEGIN ", 11) == 0 && (i == 0 || s[i - 1] == '\n')) {
            begin = s + i;
            break;
        }
    }
    if (begin == NULL) {
        return false;
    }
    const char *tstart = begin + 11;
    const char *tend = strstr(tstart, "-----");
    if (tend == NULL || tend > s + n || (size_t)(tend - tstart) >= tn) {
        return false;
    }
    memcpy(type, tstart, (size_t)(tend - tstart));
    type[tend - tstart] = '\0';
    const char *body = tend + 5;
    while (body < s + n && (*body == '\r' || *body == '\n')) {
        body++;
    }
    char endline[96];
    snprintf(endline, sizeof(endline), "-----END %s-----", type);
    const char *end = strstr(body, endline);
    if (end == NULL || end > s + n
        || !pc_rego_jose_b64_decode(der, body, (size_t)(end - body), false)) {
        return false;
    }
    const char *after = end + strlen(endline);
    if (after < s + n && *after == '\r') {
        after++;
    }
    if (after < s + n && *after == '\n') {
        after++;
    }
    *rest = (size_t)(s + n - after);
    return true;
}

/* Keys from a PEM certificate or public key, or from a JWK (set). */
static int
get_keys(struct pc_rego_bctx *bc, const char *s, size_t n, struct keyset *ks)
{
    char type[64];
    size_t rest = 0;
    struct pc_rego_strbuf der;
    pc_rego_strbuf_init(&der, bc->arena);
    ks->n = 0;
    if (!find_pem(s, n, type, sizeof(type), &der, &rest)) {
        return parse_jwks(bc, s, n, ks);
    }
    if (rest > 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "extra data after a PEM certificate block");
    }
    const unsigned char *p = (const unsigned char *)der.data;
    EVP_PKEY *pkey = NULL;
    if (strcmp(type, "CERTIFICATE") == 0) {
        X509 *cert = d2i_X509(NULL, &p, (long)der.len);
        if (cert == NULL) {
            return pc_rego_bi_fail(
                bc, PC_REGO_EEVAL_BUILTIN,
                "failed to parse a PEM certificate: x509: malformed certificate");
        }
        pkey = X509_get_pubkey(cert);
        X509_free(cert);
    } else if (strcmp(type, "PUBLIC KEY") == 0) {
        pkey = d2i_PUBKEY(NULL, &p, (long)der.len);
        if (pkey == NULL) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "failed to parse a PEM public key");
        }
    } else {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "failed to extract a Key from the PEM certificate");
    }
    if (pkey == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "failed to extract a Key from the PEM certificate");
    }
    memset(&ks->keys[0], 0, sizeof(ks->keys[0]));
    ks->keys[0].pkey = pkey;
    ks->n = 1;
    return 0;
}

/* Signature verification. */

static const EVP_MD *
alg_md(const char *alg)
{
    const char *bits = alg + 2;
    if (strcmp(bits, "256") == 0) {
        return EVP_sha256();
    }
    if (strcmp(bits, "384") == 0) {
        return EVP_sha384();
    }
    if (strcmp(bits, "512") == 0) {
        return EVP_sha512();
    }
    return NULL;
}

/* ECDSA signatures in JWS are r || s; OpenSSL wants DER. */
static bool
ecdsa_der(const unsigned char *sig, size_t n, unsigned char **der, int *dlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(n / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + n / 2, (int)(n - n / 2), NULL);
    bool ok = es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1;
    if (ok) {
        r = NULL;
        s = NULL;
        *der = NULL;
        *dlen = i2d_ECDSA_SIG(es, der);
        ok = *dlen > 0;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

static bool
verify_hmac(const unsigned char *key, size_t klen, const EVP_MD *md, const unsigned char *msg,
            size_t mn, const unsigned char *sig, size_t sn)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    return HMAC(md, key, (int)klen, msg, mn, mac, &mlen) != NULL && mlen == sn
           && CRYPTO_memcmp(mac, sig, sn) == 0;
}

/* Verifies sig over msg with key for the JWS algorithm alg. */
static bool
verify_sig(const struct vkey *vk, const char *alg, const unsigned char *msg, size_t mn,
           const unsigned char *sig, size_t sn)
{
    EVP_PKEY *key = vk->pkey;
    const EVP_MD *md = strlen(alg) == 5 ? alg_md(alg) : NULL;
    if (alg[0] == 'H') {
        return md != NULL && vk->secret != NULL
               && verify_hmac(vk->secret, vk->secret_len, md, msg, mn, sig, sn);
    }
    if (key == NULL) {
        return false;
    }
    if (strcmp(alg, "EdDSA") == 0) {
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
            return false;
        }
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        bool ok = mctx != NULL && EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key) == 1
                  && EVP_DigestVerify(mctx, sig, sn, msg, mn) == 1;
        EVP_MD_CTX_free(mctx);
        return ok;
    }
    if (md == NULL) {
        return false;
    }
    int id = EVP_PKEY_get_base_id(key);
    bool rsa = alg[0] == 'R' || alg[0] == 'P';
    if ((rsa && id != EVP_PKEY_RSA) || (alg[0] == 'E' && id != EVP_PKEY_EC)) {
        return false;
    }
    unsigned char *der = NULL;
    int dlen = 0;
    if (alg[0] == 'E' && !ecdsa_der(sig, sn, &der, &dlen)) {
        return false;
    }
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = mctx != NULL && EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key) == 1;
    if (ok && alg[0] == 'P') {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
    }
    if (ok) {
        ok = der != NULL ? EVP_DigestVerify(mctx, der, (size_t)dlen, msg, mn) == 1
                         : EVP_DigestVerify(mctx, sig, sn, msg, mn) == 1;
    }
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    return ok;
}

/* Tokens. */

struct jwt {
    const char *header; /* base64url parts */
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const char *sig;
    size_t sig_len;
    const struct pc_rego_value *hdr; /* decoded header object */
};

static int
split_jwt(struct pc_rego_bctx *bc, const struct pc_rego_value *v, struct jwt *t)
{
    if (v->kind != PC_REGO_STRING) {
        return pc_rego_bi_type_error(bc, 1, v, "string");
    }
    const char *s = v->u.s;
    size_t n = v->len;
    const char *d1 = memchr(s, '.', n);
    if (d1 == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "encoded JWT had no period separators");
    }
    size_t parts = 1;
    for (size_t i = 0; i < n; i++) {
        parts += s[i] == '.';
    }
    if (parts != 3) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "encoded JWT must have 3 sections, found %zu", parts);
    }
    const char *d2 = memchr(d1 + 1, '.', (size_t)(s + n - d1 - 1));
    t->header = s;
    t->header_len = (size_t)(d1 - s);
    t->payload = d1 + 1;
    t->payload_len = (size_t)(d2 - d1 - 1);
    t->sig = d2 + 1;
    t->sig_len = (size_t)(s + n - d2 - 1);
    return 0;
}

/* Decodes a base64url JSON object (header or payload). */
static int
decode_object(struct pc_rego_bctx *bc, const char *s, size_t n, const char *what,
              const struct pc_rego_value **out, struct pc_rego_strbuf *raw)
{
    pc_rego_strbuf_init(raw, bc->arena);
    if (!pc_rego_jose_b64_decode(raw, s, n, true)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "JWT %s had invalid encoding: illegal base64 data", what);
    }
    struct pc_rego_error err;
    *out = pc_rego_json_parse(bc->arena, raw->data != NULL ? raw->data : "", raw->len, &err);
    if (*out == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s invalid JSON: %s",
                               strcmp(what, "header") == 0 ? "bad JWT header:" : "", err.msg);
    }
    if ((*out)->kind != PC_REGO_OBJECT) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "decoded JSON type was not an Object");
    }
    return 0;
}

static int
decode_header(struct pc_rego_bctx *bc, struct jwt *t)
{
    struct pc_rego_strbuf raw;
    int rc = decode_object(bc, t->header, t->header_len, "header", &t->hdr, &raw);
    if (rc == 0 && pc_rego_object_get_str(t->hdr, "enc", 3) != NULL) {
        rc = pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                             "JWT is a JWE object, which is not supported");
    }
    return rc;
}

static const struct pc_rego_value *
header_str(const struct jwt *t, const char *name, char *buf, size_t n)
{
    const struct pc_rego_value *v = pc_rego_object_get_str(t->hdr, name, strlen(name));
    buf[0] = '\0';
    if (v != NULL && v->kind == PC_REGO_STRING && v->len < n) {
        memcpy(buf, v->u.s, v->len);
        buf[v->len] = '\0';
    }
    return v;
}

static int
bi_jwt_decode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const struct pc_rego_value *tok = a[0];
    for (int depth = 0; depth < 8; depth++) {
        struct jwt t;
        int rc = split_jwt(bc, tok, &t);
        if (rc == 0) {
            rc = decode_header(bc, &t);
        }
        struct pc_rego_strbuf raw;
        pc_rego_strbuf_init(&raw, bc->arena);
        if (rc == 0 && !pc_rego_jose_b64_decode(&raw, t.payload, t.payload_len, true)) {
            rc = pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                 "JWT payload had invalid encoding: illegal base64 data");
        }
        if (rc != 0) {
            return rc;
        }
        char cty[16];
        if (header_str(&t, "cty", cty, sizeof(cty)) != NULL && strcmp(cty, "JWT") == 0) {
            size_t i = 0;
            size_t j = raw.len;
            while (i < j && (raw.data[i] == '"' || raw.data[i] == '\'')) {
                i++;
            }
            while (j > i && (raw.data[j - 1] == '"' || raw.data[j - 1] == '\'')) {
                j--;
            }
            tok = pc_rego_string(bc->arena, raw.data + i, j - i);
            continue;
        }
        const struct pc_rego_value *payload = NULL;
        rc = decode_object(bc, t.payload, t.payload_len, "payload", &payload, &raw);
        struct pc_rego_strbuf sig;
        pc_rego_strbuf_init(&sig, bc->arena);
        if (rc == 0 && !pc_rego_jose_b64_decode(&sig, t.sig, t.sig_len, true)) {
            rc = pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                 "JWT signature had invalid encoding: illegal base64 data");
        }
        if (rc != 0) {
            return rc;
        }
        struct pc_rego_strbuf hex;
        pc_rego_strbuf_init(&hex, bc->arena);
        add_hex(&hex, (const unsigned char *)sig.data, sig.len);
        const struct pc_rego_value *items[3] = {
            t.hdr, payload, pc_rego_string(bc->arena, hex.data != NULL ? hex.data : "", hex.len)
        };
        return pc_rego_bi_ret(out, pc_rego_array(bc->arena, items, 3));
    }
    return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "JWT nested too deeply");
}

/* Verifies t's signature with the keys: by kid first, then any key whose alg fits. */
static bool
verify_with_keys(const struct jwt *t, const char *alg, const char *kid, const struct keyset *ks,
                 const unsigned char *sig, size_t sn)
{
    size_t mn = t->header_len + 1 + t->payload_len;
    const unsigned char *msg = (const unsigned char *)t->header;
    if (kid[0] != '\0') {
        for (size_t i = 0; i < ks->n; i++) {
            const struct vkey *k = &ks->keys[i];
            if (k->kid != NULL && k->kid_len == strlen(kid)
                && memcmp(k->kid, kid, k->kid_len) == 0) {
                return verify_sig(k, alg, msg, mn, sig, sn);
            }
        }
    }
    for (size_t i = 0; i < ks->n; i++) {
        const struct vkey *k = &ks->keys[i];
        if (k->alg[0] != '\0' && strcmp(k->alg, alg) != 0) {
            continue;
        }
        if (verify_sig(k, alg, msg, mn, sig, sn)) {
            return true;
        }
    }
    return false;
}

/* io.jwt.verify_<alg>(token, key): the header's own alg is ignored, as OPA does. */
static int
jwt_verify(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out, const char *alg)
{
    struct jwt t;
    const char *key;
    size_t kn;
    int rc = split_jwt(bc, a[0], &t);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &key, &kn);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sig;
    pc_rego_strbuf_init(&sig, bc->arena);
    if (!pc_rego_jose_b64_decode(&sig, t.sig, t.sig_len, true)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "illegal base64 data in signature");
    }
    const unsigned char *sp = (const unsigned char *)(sig.data != NULL ? sig.data : "");
    if (alg[0] == 'H') {
        struct vkey k = { NULL, (const unsigned char *)key, kn, "", NULL, 0 };
        return pc_rego_bi_ret_bool(out, verify_sig(&k, alg, (const unsigned char *)t.header,
                                                   t.header_len + 1 + t.payload_len, sp, sig.len));
    }
    struct keyset ks;
    ks.n = 0;
    rc = get_keys(bc, key, kn, &ks);
    if (rc == 0) {
        rc = decode_header(bc, &t);
    }
    if (rc != 0) {
        keyset_free(&ks);
        return rc;
    }
    char kid[256];
    header_str(&t, "kid", kid, sizeof(kid));
    bool ok = verify_with_keys(&t, alg, kid, &ks, sp, sig.len);
    keyset_free(&ks);
    return pc_rego_bi_ret_bool(out, ok);
}

#define VERIFY_FN(name, alg)                                                                       \
    static int name(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,                 \
                    const struct pc_rego_value **out)                                              \
    {                                                                                              \
        return jwt_verify(bc, a, out, alg);                                                        \
    }

VERIFY_FN(bi_verify_rs256, "RS256")
VERIFY_FN(bi_verify_rs384, "RS384")
VERIFY_FN(bi_verify_rs512, "RS512")
VERIFY_FN(bi_verify_ps256, "PS256")
VERIFY_FN(bi_verify_ps384, "PS384")
VERIFY_FN(bi_verify_ps512, "PS512")
VERIFY_FN(bi_verify_es256, "ES256")
VERIFY_FN(bi_verify_es384, "ES384")
VERIFY_FN(bi_verify_es512, "ES512")
VERIFY_FN(bi_verify_hs256, "HS256")
VERIFY_FN(bi_verify_hs384, "HS384")
VERIFY_FN(bi_verify_hs512, "HS512")
VERIFY_FN(bi_verify_eddsa, "EdDSA")

/* decode_verify constraints. */
struct constraints {
    struct keyset keys;
    bool has_keys;
    const struct pc_rego_value *secret;
    const struct pc_rego_value *alg;
    const struct pc_rego_value *iss;
    const struct pc_rego_value *aud;
    long double time_ns;
};

static int
parse_constraints(struct pc_rego_bctx *bc, const struct pc_rego_value *o, struct constraints *c)
{
    memset(c, 0, sizeof(*c));
    c->time_ns = -1;
    for (uint32_t i = 0; i < o->len; i++) {
        const struct pc_rego_entry *e = &o->u.entries[i];
        const char *name = e->key->kind == PC_REGO_STRING ? e->key->u.s : "";
        size_t nl = e->key->kind == PC_REGO_STRING ? e->key->len : 0;
        const struct pc_rego_value **slot = nl == 6 && memcmp(name, "secret", 6) == 0 ? &c->secret
                                            : nl == 3 && memcmp(name, "alg", 3) == 0  ? &c->alg
                                            : nl == 3 && memcmp(name, "iss", 3) == 0  ? &c->iss
                                            : nl == 3 && memcmp(name, "aud", 3) == 0  ? &c->aud
                                                                                      : NULL;
        if (slot != NULL) {
            if (e->val->kind != PC_REGO_STRING) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                       "%.*s constraint: must be a string", (int)nl, name);
            }
            *slot = e->val;
        } else if (nl == 4 && memcmp(name, "cert", 4) == 0) {
            if (e->val->kind != PC_REGO_STRING) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                       "cert constraint: must be a string");
            }
            int rc = get_keys(bc, e->val->u.s, e->val->len, &c->keys);
            if (rc != 0) {
                return rc;
            }
            c->has_keys = true;
        } else if (nl == 4 && memcmp(name, "time", 4) == 0) {
            if (e->val->kind != PC_REGO_NUMBER) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                       "token time constraint: must be a number");
            }
            c->time_ns = (long double)pc_rego_number_double(e->val);
            if (c->time_ns < 0) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                       "token time constraint: must not be negative");
            }
        } else {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "unknown token validation constraint: %.*s", (int)nl, name);
        }
    }
    if (c->time_ns < 0) {
        c->time_ns = (long double)pc_rego_bctx_now_ns(bc);
    }
    int nkeys = (c->has_keys ? 1 : 0) + (c->secret != NULL && c->secret->len > 0 ? 1 : 0);
    if (nkeys != 1) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               nkeys > 1 ? "duplicate key constraints" : "no key constraint");
    }
    return 0;
}

/* RFC 7515 4.1.11: unknown header parameters listed in crit make the token invalid. */
static bool
header_valid(const struct jwt *t, const char *alg)
{
    if (alg[0] == '\0') {
        return false;
    }
    const struct pc_rego_value *crit = pc_rego_object_get_str(t->hdr, "crit", 4);
    if (crit == NULL) {
        return true;
    }
    if (crit->kind != PC_REGO_ARRAY || crit->len == 0) {
        return false;
    }
    static const char *const known[] = { "alg", "kid", "typ", "cty", "crit" };
    for (uint32_t i = 0; i < crit->len; i++) {
        const struct pc_rego_value *c = crit->u.items[i];
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]) && c->kind == PC_REGO_STRING; k++) {
            ok = ok || (c->len == strlen(known[k]) && memcmp(c->u.s, known[k], c->len) == 0);
        }
        if (!ok && c->kind == PC_REGO_STRING && pc_rego_object_get(t->hdr, c) != NULL) {
            return false;
        }
    }
    return true;
}

static bool
audience_ok(const struct pc_rego_value *aud, const struct pc_rego_value *want)
{
    if (aud->kind == PC_REGO_STRING) {
        return want != NULL && pc_rego_equal(aud, want);
    }
    if (aud->kind != PC_REGO_ARRAY || want == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < aud->len; i++) {
        if (pc_rego_equal(aud->u.items[i], want)) {
            return true;
        }
    }
    return false;
}

/*
 * The constraint time in seconds as OPA compares it: the float64 quotient, written in the
 * shortest form and read back as a number, so that equal-looking times compare equal.
 */
static const struct pc_rego_value *
seconds_value(struct pc_rego_bctx *bc, long double now_ns)
{
    double secs = (double)now_ns / 1e9;
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, secs);
        if (strtod(buf, NULL) == secs) {
            break;
        }
    }
    return pc_rego_number_parse(bc->arena, buf, strlen(buf));
}

/* Checks exp and nbf against the constraint time; *ok false when the token is not valid now. */
static int
check_times(struct pc_rego_bctx *bc, const struct pc_rego_value *payload, long double now_ns,
            bool *ok)
{
    const struct pc_rego_value *now = seconds_value(bc, now_ns);
    if (now == NULL) {
        return PC_REGO_ENOMEM;
    }
    const struct pc_rego_value *exp = pc_rego_object_get_str(payload, "exp", 3);
    const struct pc_rego_value *nbf = pc_rego_object_get_str(payload, "nbf", 3);
    if (exp != NULL) {
        if (exp->kind != PC_REGO_NUMBER) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "exp value must be a number");
        }
        *ok = *ok && pc_rego_compare(now, exp) < 0;
    }
    if (nbf != NULL) {
        if (nbf->kind != PC_REGO_NUMBER) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "nbf value must be a number");
        }
        *ok = *ok && pc_rego_compare(now, nbf) >= 0;
    }
    return 0;
}

/* Verifies the signature of one level of a (possibly nested) token. */
static int
verify_level(struct pc_rego_bctx *bc, const struct constraints *c, struct jwt *t, bool *ok)
{
    char alg[16];
    char kid[256];
    header_str(t, "alg", alg, sizeof(alg));
    header_str(t, "kid", kid, sizeof(kid));
    const struct pc_rego_value *av = pc_rego_object_get_str(t->hdr, "alg", 3);
    if (av != NULL && av->kind != PC_REGO_STRING) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "alg: must be a string");
    }
    if (!header_valid(t, alg)
        || (c->alg != NULL
            && !(c->alg->len == strlen(alg) && memcmp(c->alg->u.s, alg, c->alg->len) == 0))) {
        *ok = false;
        return 0;
    }
    struct pc_rego_strbuf sig;
    pc_rego_strbuf_init(&sig, bc->arena);
    if (!pc_rego_jose_b64_decode(&sig, t->sig, t->sig_len, true)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "illegal base64 data in signature");
    }
    const unsigned char *sp = (const unsigned char *)(sig.data != NULL ? sig.data : "");
    if (c->has_keys) {
        *ok = verify_with_keys(t, alg, kid, &c->keys, sp, sig.len);
        return 0;
    }
    struct vkey k = { NULL, (const unsigned char *)c->secret->u.s, c->secret->len, "", NULL, 0 };
    *ok = verify_sig(&k, alg, (const unsigned char *)t->header, t->header_len + 1 + t->payload_len,
                     sp, sig.len);
    return 0;
}

static int
decode_verify(struct pc_rego_bctx *bc, const struct pc_rego_value *tok, const struct constraints *c,
              bool *ok, const struct pc_rego_value **hdr, const struct pc_rego_value **payload)
{
    for (int depth = 0; depth < 8; depth++) {
        struct jwt t;
        int rc = split_jwt(bc, tok, &t);
        if (rc == 0) {
            rc = decode_header(bc, &t);
        }
        if (rc == 0) {
            rc = verify_level(bc, c, &t, ok);
        }
        if (rc != 0 || !*ok) {
            return rc;
        }
        struct pc_rego_strbuf raw;
        pc_rego_strbuf_init(&raw, bc->arena);
        if (!pc_rego_jose_b64_decode(&raw, t.payload, t.payload_len, true)) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "JWT payload had invalid encoding: illegal base64 data");
        }
        char cty[16];
        if (header_str(&t, "cty", cty, sizeof(cty)) != NULL && strcasecmp(cty, "JWT") == 0) {
            tok = pc_rego_string(bc->arena, raw.data != NULL ? raw.data : "", raw.len);
            continue;
        }
        *hdr = t.hdr;
        return decode_object(bc, t.payload, t.payload_len, "payload", payload, &raw);
    }
    return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "JWT nested too deeply");
}

static int
bi_jwt_decode_verify(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                     const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_OBJECT);
    struct constraints c;
    memset(&c, 0, sizeof(c));
    if (rc == 0) {
        rc = parse_constraints(bc, a[1], &c);
    }
    bool ok = true;
    const struct pc_rego_value *hdr = NULL;
    const struct pc_rego_value *payload = NULL;
    if (rc == 0) {
        rc = decode_verify(bc, a[0], &c, &ok, &hdr, &payload);
    }
    keyset_free(&c.keys);
    if (rc == 0 && ok && c.iss != NULL) {
        const struct pc_rego_value *iss = pc_rego_object_get_str(payload, "iss", 3);
        ok = iss != NULL && pc_rego_equal(iss, c.iss);
    }
    if (rc == 0 && ok) {
        const struct pc_rego_value *aud = pc_rego_object_get_str(payload, "aud", 3);
        ok = aud != NULL ? audience_ok(aud, c.aud) : c.aud == NULL;
    }
    if (rc == 0 && ok) {
        rc = check_times(bc, payload, c.time_ns, &ok);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder empty;
    pc_rego_builder_init(&empty, bc->arena, PC_REGO_OBJECT);
    const struct pc_rego_value *none = pc_rego_builder_finish(&empty);
    const struct pc_rego_value *items[3] = { pc_rego_bool(ok), ok ? hdr : none,
                                             ok ? payload : none };
    return pc_rego_bi_ret(out, pc_rego_array(bc->arena, items, 3));
}

static const struct pc_rego_builtin table[] = {
    { "crypto.md5", 1, 0, bi_md5 },
    { "crypto.sha1", 1, 0, bi_sha1 },
    { "crypto.sha256", 1, 0, bi_sha256 },
    { "crypto.hmac.md5", 2, 0, bi_hmac_md5 },
    { "crypto.hmac.sha1", 2, 0, bi_hmac_sha1 },
    { "crypto.hmac.sha256", 2, 0, bi_hmac_sha256 },
    { "crypto.hmac.sha512", 2, 0, bi_hmac_sha512 },
    { "crypto.hmac.equal", 2, 0, bi_hmac_equal },
    { "io.jwt.decode", 1, 0, bi_jwt_decode },
    { "io.jwt.decode_verify", 2, 0, bi_jwt_decode_verify },
    { "io.jwt.verify_rs256", 2, 0, bi_verify_rs256 },
    { "io.jwt.verify_rs384", 2, 0, bi_verify_rs384 },
    { "io.jwt.verify_rs512", 2, 0, bi_verify_rs512 },
    { "io.jwt.verify_ps256", 2, 0, bi_verify_ps256 },
    { "io.jwt.verify_ps384", 2, 0, bi_verify_ps384 },
    { "io.jwt.verify_ps512", 2, 0, bi_verify_ps512 },
    { "io.jwt.verify_es256", 2, 0, bi_verify_es256 },
    { "io.jwt.verify_es384", 2, 0, bi_verify_es384 },
    { "io.jwt.verify_es512", 2, 0, bi_verify_es512 },
    { "io.jwt.verify_hs256", 2, 0, bi_verify_hs256 },
    { "io.jwt.verify_hs384", 2, 0, bi_verify_hs384 },
    { "io.jwt.verify_hs512", 2, 0, bi_verify_hs512 },
    { "io.jwt.verify_eddsa", 2, 0, bi_verify_eddsa },
};

const struct pc_rego_builtin *
pc_rego_bi_crypto_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
