/*
 * libFuzzer target for JWK Set documents. The input is parsed by pc_jwks_parse; an accepted set
 * must hold only keys it can use (a public key, fitting some algorithm or none, found again by
 * its kid), within the documented limits. Each entry of the document, when the document is
 * JSON, is also taken as a DPoP proof key would be (pc_jwks_key_from_jwk) and thumbprinted
 * (RFC 7638), since those read the same kind of untrusted object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authn/dpop.h"
#include "authn/jwks.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_set(const struct pc_jwks *set)
{
    if (pc_jwks_count(set) + pc_jwks_ignored(set) > PC_JWKS_MAX_KEYS) {
        abort();
    }
    for (size_t i = 0; i < pc_jwks_count(set); i++) {
        const struct pc_jwks_key *key = pc_jwks_key_at(set, i);

        if (key->pkey == NULL || key->kty == PC_JWKS_KTY_OCT || key->secret != NULL
            || (key->fits & ~PC_JWS_ALG_ASYMMETRIC) != 0) {
            abort();
        }
        if (key->kid != NULL && pc_jwks_find(set, key->kid, key->kid_len) == NULL) {
            abort();
        }
    }
}

static void
take_entries(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    const json_t *jwk;
    size_t i;

    json_array_foreach(json_object_get(root, "keys"), i, jwk)
    {
        struct pc_jwks_key key;
        unsigned char thumbprint[PC_DPOP_THUMBPRINT_BYTES];

        if (pc_jwks_key_from_jwk(jwk, &key, NULL) == 0 && key.pkey == NULL) {
            abort();
        }
        pc_jwks_key_clear(&key);
        (void)pc_dpop_thumbprint(jwk, thumbprint);
    }
    json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pc_err err = { 0 };
    struct pc_jwks *set = pc_jwks_parse((const char *)data, size, &err);

    if (set == NULL) {
        if (err.code == 0 || err.msg[0] == '\0') {
            abort();
        }
    } else {
        check_set(set);
        pc_jwks_unref(set);
    }
    take_entries((const char *)data, size);
    return 0;
}
