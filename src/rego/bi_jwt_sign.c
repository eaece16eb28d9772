/*
 * JWT signing builtins: io.jwt.encode_sign (header and payload as Rego objects, marshalled as
 * compact JSON with sorted keys) and io.jwt.encode_sign_raw (header and payload as the exact
 * text to encode). The key is a JWK: "oct" for HS*, RSA for RS* and PS*, EC for ES*, OKP
 * (Ed25519) for EdDSA. RS*, HS* and EdDSA signatures are deterministic; PS* and ES* are not.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "rego/builtin.h"
#include "rego/jose.h"
#include "rego/json.h"
#include "rego/strbuf.h"

#define MAX_SIG 1024

struct alg {
    const char *name;
    const char *md; /* digest name, NULL for EdDSA */
    char family;    /* 'H'MAC, 'R'SA, 'P'SS, 'E'CDSA, 'D' EdDSA */
    size_t ec_size; /* ECDSA: bytes of r and of s */
};

static const struct alg algs[] = {
    { "HS256", "SHA256", 'H', 0 },  { "HS384", "SHA384", 'H', 0 },  { "HS512", "SHA512", 'H', 0 },
    { "RS256", "SHA256", 'R', 0 },  { "RS384", "SHA384", 'R', 0 },  { "RS512", "SHA512", 'R', 0 },
    { "PS256", "SHA256", 'P', 0 },  { "PS384", "SHA384", 'P', 0 },  { "PS512", "SHA512", 'P', 0 },
    { "ES256", "SHA256", 'E', 32 }, { "ES384", "SHA384", 'E', 48 }, { "ES512", "SHA512", 'E', 66 },
    { "EdDSA", NULL, 'D', 0 },
};

static const struct alg *
find_alg(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strlen(algs[i].name) == n && memcmp(algs[i].name, name, n) == 0) {
            return &algs[i];
        }
    }
    return NULL;
}

/* Converts a DER ECDSA signature to the fixed-size r || s form JWS uses. */
static bool
ecdsa_raw(const unsigned char *der, size_t n, size_t size, unsigned char *out)
{
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)n);
    bool ok = sig != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, (int)size) == (int)size
              && BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + size, (int)size) == (int)size;
    ECDSA_SIG_free(sig);
    return ok;
}

/* Signs msg with an asymmetric key; *len is the signature's size. */
static bool
sign_pkey(EVP_PKEY *pkey, const struct alg *alg, const char *msg, size_t mn, unsigned char *sig,
          size_t *len)
{
    unsigned char der[MAX_SIG];
    size_t dn = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md != NULL && EVP_DigestSignInit_ex(md, &pctx, alg->md, NULL, NULL, pkey, NULL) == 1;
    if (ok && alg->family == 'P') {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    ok = ok && EVP_DigestSign(md, der, &dn, (const unsigned char *)msg, mn) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        return false;
    }
    if (alg->family == 'E') {
        *len = 2 * alg->ec_size;
        return ecdsa_raw(der, dn, alg->ec_size, sig);
    }
    memcpy(sig, der, dn);
    *len = dn;
    return true;
}

static bool
kty_is(const struct pc_rego_value *jwk, const char *want)
{
    const struct pc_rego_value *kty = pc_rego_object_get_str(jwk, "kty", 3);
    return kty != NULL && kty->kind == PC_REGO_STRING && kty->len == strlen(want)
           && memcmp(kty->u.s, want, kty->len) == 0;
}

/* Signs msg with the JWK for alg; returns 0 or a builtin error. */
static int
sign(struct pc_rego_bctx *bc, const struct alg *alg, const struct pc_rego_value *jwk,
     const char *msg, size_t mn, unsigned char *sig, size_t *len)
{
    if (alg->family == 'H') {
        struct pc_rego_strbuf k;
        unsigned int hn = 0;
        if (!kty_is(jwk, "oct") || !pc_rego_jose_jwk_bytes(bc, jwk, "k", &k)) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid key for %s", alg->name);
        }
        const EVP_MD *md = EVP_get_digestbyname(alg->md);
        if (md == NULL
            || HMAC(md, k.data, (int)k.len, (const unsigned char *)msg, mn, sig, &hn) == NULL) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "signing failed");
        }
        *len = hn;
        return 0;
    }
    enum pc_rego_jose_kty kty = alg->family == 'E'   ? PC_REGO_JOSE_EC
                                : alg->family == 'D' ? PC_REGO_JOSE_OKP
                                                     : PC_REGO_JOSE_RSA;
    const char *want = kty == PC_REGO_JOSE_EC ? "EC" : kty == PC_REGO_JOSE_OKP ? "OKP" : "RSA";
    EVP_PKEY *pkey = kty_is(jwk, want) ? pc_rego_jose_jwk_key(bc, jwk, kty, true) : NULL;
    if (pkey == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid key for %s", alg->name);
    }
    bool ok = sign_pkey(pkey, alg, msg, mn, sig, len);
    EVP_PKEY_free(pkey);
    return ok ? 0 : pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "signing failed");
}

/* Reads the header's alg, with the wording OPA's JWS library uses for each failure. */
static int
header_alg(struct pc_rego_bctx *bc, const char *h, size_t hn, const struct alg **alg, bool *typ_jwt)
{
    struct pc_rego_error err;
    const struct pc_rego_value *hdr = hn > 0 ? pc_rego_json_parse(bc->arena, h, hn, &err) : NULL;
    const struct pc_rego_value *name =
        hdr != NULL && hdr->kind == PC_REGO_OBJECT ? pc_rego_object_get_str(hdr, "alg", 3) : NULL;
    if (hn == 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "missing or invalid 'alg' header: cannot parse JSON: cannot parse "
                               "empty string");
    }
    size_t i = 0;
    while (i < hn && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n')) {
        i++;
    }
    if (hdr == NULL && i < hn && h[i] == '{') {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "missing or invalid 'alg' header: cannot parse JSON: %s", err.msg);
    }
    if (name == NULL || name->kind != PC_REGO_STRING) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                               "missing or invalid 'alg' header: jwsbb: header \"alg\" not found");
    }
    *alg = find_alg(name->u.s, name->len);
    if (*alg == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "unknown JWS algorithm: %.*s",
                               (int)(name->len > 64 ? 64 : name->len), name->u.s);
    }
    const struct pc_rego_value *typ = pc_rego_object_get_str(hdr, "typ", 3);
    *typ_jwt = typ != NULL && typ->kind == PC_REGO_STRING && typ->len == 3
               && memcmp(typ->u.s, "JWT", 3) == 0;
    return 0;
}

/* Builds the token from the header and payload text and a parsed JWK. */
static int
encode(struct pc_rego_bctx *bc, const char *h, size_t hn, const char *p, size_t pn,
       const struct pc_rego_value *jwk, const struct pc_rego_value **out)
{
    const struct alg *alg = NULL;
    bool typ_jwt = false;
    struct pc_rego_error err;
    int rc = header_alg(bc, h, hn, &alg, &typ_jwt);
    if (rc != 0) {
        return rc;
    }
    if (typ_jwt && (pn == 0 || pc_rego_json_parse(bc->arena, p, pn, &err) == NULL)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "type is JWT but payload is not JSON");
    }
    if (jwk->kind != PC_REGO_OBJECT) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "key must be a JWK object");
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    pc_rego_jose_b64url_encode(&sb, (const unsigned char *)h, hn);
    pc_rego_strbuf_addc(&sb, '.');
    pc_rego_jose_b64url_encode(&sb, (const unsigned char *)p, pn);
    if (pc_rego_strbuf_failed(&sb)) {
        return PC_REGO_ENOMEM;
    }
    unsigned char sig[MAX_SIG];
    size_t sn = 0;
    rc = sign(bc, alg, jwk, sb.data, sb.len, sig, &sn);
    if (rc != 0) {
        return rc;
    }
    pc_rego_strbuf_addc(&sb, '.');
    pc_rego_jose_b64url_encode(&sb, sig, sn);
    return pc_rego_bi_ret_str(bc, out, sb.data, sb.len);
}

static int
bi_jwt_encode_sign_raw(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                       const struct pc_rego_value **out)
{
    const char *h;
    const char *p;
    const char *k;
    size_t hn;
    size_t pn;
    size_t kn;
    struct pc_rego_error err;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &h, &hn);
    rc = rc != 0 ? rc : pc_rego_bi_arg_string(bc, a, 2, &p, &pn);
    rc = rc != 0 ? rc : pc_rego_bi_arg_string(bc, a, 3, &k, &kn);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *jwk = pc_rego_json_parse(bc->arena, k, kn, &err);
    if (jwk == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "failed to parse JWK: %s", err.msg);
    }
    return encode(bc, h, hn, p, pn, jwk, out);
}

static int
bi_jwt_encode_sign(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    rc = rc != 0 ? rc : pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_OBJECT);
    rc = rc != 0 ? rc : pc_rego_bi_arg_kind(bc, a, 3, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf h;
    struct pc_rego_strbuf p;
    pc_rego_strbuf_init(&h, bc->arena);
    pc_rego_strbuf_init(&p, bc->arena);
    pc_rego_json_write(&h, a[0], PC_REGO_JSON_ESCAPE_HTML);
    pc_rego_json_write(&p, a[1], PC_REGO_JSON_ESCAPE_HTML);
    if (pc_rego_strbuf_failed(&h) || pc_rego_strbuf_failed(&p)) {
        return PC_REGO_ENOMEM;
    }
    return encode(bc, h.data, h.len, p.data, p.len, a[2], out);
}

static const struct pc_rego_builtin table[] = {
    { "io.jwt.encode_sign", 3, 0, bi_jwt_encode_sign },
    { "io.jwt.encode_sign_raw", 3, 0, bi_jwt_encode_sign_raw },
};

const struct pc_rego_builtin *
pc_rego_bi_jwt_sign_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
