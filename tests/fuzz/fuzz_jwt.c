/*
 * libFuzzer target for JWT verification. The first input byte picks what the rest goes
 * through: '0' (or any byte mod 3 == 0) a token verified by pc_jwt_verify against a fixed key
 * set (RS256, ES256 and EdDSA public keys, plus an HMAC secret) at a fixed time; 1 the claims
 * checks and the principal on a bare payload; 2 a DPoP proof for a fixed request. The seeds
 * hold tokens really signed by the private halves of the embedded keys (since discarded), so
 * the fuzzer starts past the signature checks. Beyond memory safety it checks that every
 * outcome is either an accepted principal or a refusal with a named reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authn/dpop.h"
#include "authn/jwks.h"
#include "authn/jwt.h"
#include "authn/principal.h"
#include "authn/reason.h"
#include "core/arena.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static const char jwks_json[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"07svsCHWCI2_2OdgNq1ws-cdWlnzWRieKZys6_VI3wsvfZoaky"
    "5GJnE9YA4DSn7mnDHB84eJaQlBsA7jeMhkev3E5cfDKHZYzc26fWBF_KzFh7GUbfpEM5M6xtvQqaLANx5jecuE"
    "9Q7fKYg2xjd6C6CqYJZ10uxARdEXQ_fUvZzlifDNE7vyLOMOg6B-BRdx2ZIWKdwS5eKvfry7laP1IFhhgTXtg0"
    "HPA3B99jVQgaZ1xff5Wu_x7S3MnPzW3aNf4gStIGivuBJkXx6gNAUKgjvpeLzsosoRU0rWP1x_CtnOK5XZcMyL"
    "uFJdWM5DjeHiteHMxZjxX_SLv8amxIYrmQ\",\"e\":\"AQAB\",\"kid\":\"r1\",\"alg\":\"RS256\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"xcQhtX9ftyzpKrt3LjpaGf6kjF2cTAQDQsxHzxmg_bw"
    "\",\"y\":\"-AG9fa_CYhr9tu7473wS0_OPVrZSca-JpqwzJz12UvA\",\"kid\":\"e1\"},{\"kty\":\"OK"
    "P\",\"crv\":\"Ed25519\",\"x\":\"6cNtABJUPiizK9ME9KfPyfIXaXz1w9OhYBWFB21PyjU\",\"kid\":"
    "\"d1\"}]}";

static const char secret[] = "fuzz-secret-fuzz-secret-fuzz-sec";
static const char *const audiences[] = { "api" };
static const char *const client_claims[] = { "client_id", "azp" };
static const char *const role_paths[] = { "realm_access.roles", "https://example.com/roles" };
static const char *const tenants[] = { "acme" };
static const struct pc_jwt_claim_rule rules[] = { { "org.tenant", tenants, 1 } };

static struct pc_jwks *keys;
static struct pc_jwks *hmac;
static struct pc_arena *arena;
static struct pc_jws_verifier *verifier;

static void
init(void)
{
    keys = pc_jwks_parse(jwks_json, sizeof(jwks_json) - 1, NULL);
    hmac = pc_jwks_from_secret(secret, sizeof(secret) - 1, NULL, NULL);
    arena = pc_arena_create(4096);
    verifier = pc_jws_verifier_create();
    if (verifier == NULL || keys == NULL || pc_jwks_count(keys) != 3 || hmac == NULL
        || arena == NULL) {
        abort();
    }
}

static struct pc_jwt_options
options(void)
{
    return (struct pc_jwt_options){
        .jws = { .algorithms = 0x1fff, .keys = keys, .hmac_keys = hmac, .verifier = verifier },
        .issuer = "https://idp.example.com",
        .audiences = audiences,
        .n_audiences = 1,
        .clock_skew_s = 60,
        .client_id_claims = client_claims,
        .n_client_id_claims = 2,
        .role_paths = role_paths,
        .n_role_paths = 2,
    };
}

static void
check_outcome(int rc, enum pc_authn_reason reason)
{
    if ((rc == 0) != (reason == PC_AUTHN_OK) || (rc != 0 && rc != PC_EACCES && rc != PC_ENOMEM)
        || strcmp(pc_authn_reason_name(reason), "unknown") == 0) {
        abort();
    }
}

/* Reads everything the principal offers, so that every slice is touched. */
static void
read_principal(const struct pc_principal *p)
{
    const struct pc_principal_name *names;
    size_t n;
    volatile size_t sum = 0;

    names = pc_principal_scopes(p, &n);
    for (size_t i = 0; i < n; i++) {
        sum += names[i].len > 0 ? (unsigned char)names[i].ptr[names[i].len - 1] : 0;
    }
    names = pc_principal_roles(p, &n);
    for (size_t i = 0; i < n; i++) {
        sum += names[i].len > 0 ? (unsigned char)names[i].ptr[0] : 0;
    }
    sum += pc_principal_subject(p) != NULL ? strlen(pc_principal_subject(p)) : 0;
    sum += pc_principal_claim(p, "realm_access.roles") != NULL ? 1 : 0;
    (void)sum;
}

static void
fuzz_token(const char *token, size_t len)
{
    struct pc_jwt_options opts = options();
    struct pc_principal *p = NULL;
    enum pc_authn_reason reason = PC_AUTHN_OK;
    int rc = pc_jwt_verify(token, len, &opts, NOW, arena, &p, &reason);

    check_outcome(rc, reason);
    if (rc == 0) {
        read_principal(p);
    }
}

static void
fuzz_claims(const char *json, size_t len)
{
    struct pc_jwt_options opts = options();
    enum pc_authn_reason reason = PC_AUTHN_OK;
    json_t *claims = pc_jws_json_object((const unsigned char *)json, len, &reason);
    struct pc_principal *p;
    int rc;

    if (claims == NULL) {
        check_outcome(PC_EACCES, reason);
        return;
    }
    opts.required = rules;
    opts.n_required = 1;
    rc = pc_jwt_check_claims(claims, "at+jwt", &opts, NOW, &reason);
    check_outcome(rc, reason);
    p = pc_principal_create(claims, &(struct pc_principal_spec){ client_claims, 2, role_paths, 2 });
    if (p != NULL) {
        read_principal(p);
    }
    pc_principal_unref(p);
    json_decref(claims);
}

static void
fuzz_dpop(const char *proof, size_t len)
{
    static const char uri[] = "https://api.example.com/v1/orders";
    static const char token[] = "fuzz.access.token";
    struct pc_dpop_options opts = { .algorithms = 0x1fff, .max_age_s = 60, .clock_skew_s = 5 };
    struct pc_dpop_request req = { "POST",
                                   4,
                                   uri,
                                   sizeof(uri) - 1,
                                   token,
                                   sizeof(token) - 1,
                                   "qA2I5j8O1ie1fCZXhm5FOmP48KVlfNGQr988m0OdliE" };
    struct pc_dpop_proof out;
    enum pc_authn_reason reason = PC_AUTHN_OK;
    int rc = pc_dpop_verify(proof, len, &opts, &req, NOW, arena, &out, &reason);

    check_outcome(rc, reason);
    if (rc == 0 && (out.jti == NULL || strlen(out.jti) != out.jti_len)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rest = (const char *)data + 1;

    if (keys == NULL) {
        init();
    }
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        fuzz_token(rest, size - 1);
        break;
    case 1:
        fuzz_claims(rest, size - 1);
        break;
    default:
        fuzz_dpop(rest, size - 1);
        break;
    }
    pc_arena_reset(arena);
    return 0;
}
