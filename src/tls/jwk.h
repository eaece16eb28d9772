/*
 * JSON Web Keys (RFC 7517, with the key types of RFC 7518 section 6 and RFC 8037): the strict
 * base64 decoders JOSE needs and the conversion of a public JWK into an OpenSSL EVP_PKEY.
 *
 * The SPIFFE bundle loader uses it for "jwt-svid" keys and to check that an "x509-svid" entry's
 * key members describe its certificate; the JWT layer can use it for JWKS documents. Pure
 * functions over caller memory; any thread.
 */
#ifndef PC_TLS_JWK_H
#define PC_TLS_JWK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

struct pc_err;

/*
 * Decodes len bytes of base64: the standard alphabet with '=' padding (RFC 4648 section 4,
 * what "x5c" holds) when is_url is false, the URL-safe alphabet without padding (section 5, as
 * RFC 7515 section 2 requires for JOSE members) when true. Anything else is refused: other
 * alphabets, whitespace, missing or extra padding, and non-zero bits after the last byte, so
 * each value has exactly one accepted encoding. Returns 0 with *out (pc_malloc'd, owned by the
 * caller, pc_free; non-NULL even for empty input) and *out_len, or PC_EPARSE / PC_ENOMEM.
 */
int pc_jwk_base64_decode(const char *in, size_t len, bool is_url, unsigned char **out,
                         size_t *out_len);

/*
 * As pc_jwk_base64_decode, into the cap bytes at out (caller memory; nothing is allocated), for
 * hot paths that decode into a stack or arena buffer. Every accepted encoding of len characters
 * decodes to at most len / 4 * 3 + 2 bytes. Returns 0 with *out_len set, PC_EPARSE for input
 * pc_jwk_base64_decode refuses, or PC_ERANGE when the decoded bytes would not fit in cap; out
 * is unspecified after a failure.
 */
int pc_jwk_base64_decode_to(const char *in, size_t len, bool is_url, unsigned char *out, size_t cap,
                            size_t *out_len);

/*
 * Builds the public key described by the JWK object jwk (borrowed for the call): kty "EC"
 * with crv P-256, P-384 or P-521; "RSA" with a modulus of 2048 to 16384 bits; "OKP" with crv
 * Ed25519 or Ed448. A JWK holding private key members ("d", "p", "q", "dp", "dq", "qi", "oth",
 * "k") is refused: public material must never carry them. Returns 0 with *out (owned by the
 * caller, EVP_PKEY_free), or:
 *   PC_ENOTSUP  kty missing or unknown, or a curve this module does not know (RFC 7517 section
 *               5 says such keys are ignored, which the caller decides);
 *   PC_ENOENT   kty known but none of its key members present;
 *   PC_EPARSE   malformed members or a key that does not decode (err says which);
 *   PC_ENOMEM.
 * err (may be NULL) is filled for every failure.
 */
int pc_jwk_public_key(const json_t *jwk, EVP_PKEY **out, struct pc_err *err);

#endif
