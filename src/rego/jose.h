/*
 * JOSE helpers shared by the JWT builtins: base64 and base64url decoding, and JSON Web Keys
 * turned into OpenSSL keys (public keys to verify, private keys to sign).
 *
 * Keys are OpenSSL objects on OpenSSL's heap: the caller frees them with EVP_PKEY_free before
 * the builtin returns. Decoded bytes live in the builtin's arena.
 */
#ifndef PC_REGO_JOSE_H
#define PC_REGO_JOSE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "rego/builtin.h"
#include "rego/strbuf.h"

enum pc_rego_jose_kty {
    PC_REGO_JOSE_RSA,
    PC_REGO_JOSE_EC,
    PC_REGO_JOSE_OKP,
};

/*
 * Appends the bytes that base64 text s[0..n) encodes to sb: base64url when url is set (padding
 * optional), else standard base64 with whitespace skipped (PEM bodies). Returns false when the
 * text is not valid or sb ran out of memory.
 */
bool pc_rego_jose_b64_decode(struct pc_rego_strbuf *sb, const char *s, size_t n, bool url);

/* Appends the unpadded base64url encoding of p[0..n) to sb. */
void pc_rego_jose_b64url_encode(struct pc_rego_strbuf *sb, const unsigned char *p, size_t n);

/*
 * Decodes the base64url member name of JWK object jwk into *out (initialised here, bc's
 * arena). Returns false when the member is missing, not a string, invalid or empty.
 */
bool pc_rego_jose_jwk_bytes(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk,
                            const char *name, struct pc_rego_strbuf *out);

/*
 * Builds the key that JWK object jwk of type kty describes: the public key, or with private
 * set the key pair (RSA needs d and may give p, q, dp, dq, qi; EC and OKP need d). Returns a
 * key the caller frees with EVP_PKEY_free, or NULL when members are missing or invalid.
 */
EVP_PKEY *pc_rego_jose_jwk_key(struct pc_rego_bctx *bc, const struct pc_rego_value *jwk,
                               enum pc_rego_jose_kty kty, bool private);

#endif
