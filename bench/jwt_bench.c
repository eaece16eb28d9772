/*
 * JWT verification micro-benchmark: the cost of one fresh verification per algorithm (RS256,
 * PS256, ES256, EdDSA), split into the JWS step (parsing, key selection, signature; with OpenSSL
 * contexts made per call, and through a worker's verifier cache) and the whole pc_jwt_verify
 * (plus claims and the principal, with the cache), next to OpenSSL's own cost for the same
 * signature through the plain API (a context made for the call, then EVP_DigestVerify), and the
 * cost of claims parsing and checking alone. "overhead" is the whole verification minus that
 * OpenSSL figure. Tokens are signed in the process with keys made for the
 * run; each figure is the best of five timed passes.
 *
 *   make bench-bins && ./build/bench/jwt_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/authn/jose_test.h"
#include "authn/jwks.h"
#include "authn/jws.h"
#include "authn/jwt.h"
#include "authn/principal.h"
#include "core/arena.h"
#include "tls/jwk.h"

#define NOW    1700000000
#define PASSES 5

static const char claims_json[] =
    "{\"iss\":\"https://idp.example.com\",\"aud\":[\"api\",\"account\"],\"exp\":1700003600,"
    "\"iat\":1699999990,\"nbf\":1699999990,\"sub\":\"f3a1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b\","
    "\"azp\":\"web-frontend\",\"scope\":\"openid profile email orders:read orders:write\","
    "\"realm_access\":{\"roles\":[\"offline_access\",\"uma_authorization\",\"ops\"]},"
    "\"email\":\"alice@example.com\",\"jti\":\"8d2c6b6e-1b7a-4d0e-9a55-5f0f3c4b2a19\"}";

static const char *const audiences[] = { "api" };
static const char *const client_claims[] = { "client_id", "azp" };
static const char *const role_paths[] = { "realm_access.roles" };
static struct pc_jws_verifier *verifier;

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct subject {
    const char *alg;
    EVP_PKEY *key;
    char *token;
    struct pc_jwks *set;
    int rounds;
};

static struct pc_jwt_options
options(const struct subject *s)
{
    return (struct pc_jwt_options){
        .jws = { .algorithms = 0x3ff, .keys = s->set, .verifier = verifier },
        .issuer = "https://idp.example.com",
        .audiences = audiences,
        .n_audiences = 1,
        .clock_skew_s = 30,
        .client_id_claims = client_claims,
        .n_client_id_claims = 2,
        .role_paths = role_paths,
        .n_role_paths = 1,
    };
}

/* OpenSSL alone: a new context, init, one verify over the same bytes the token holds. */
static int
openssl_once(const struct subject *s, const unsigned char *sig, size_t sig_len)
{
    const char *input = s->token;
    size_t input_len = (size_t)(strrchr(s->token, '.') - s->token);
    bool is_eddsa = strcmp(s->alg, "EdDSA") == 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = EVP_DigestVerifyInit(ctx, &pctx, is_eddsa ? NULL : EVP_sha256(), NULL, s->key);

    if (s->alg[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    ok = ok == 1
         && EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ECDSA tokens carry R || S; OpenSSL wants DER, made once here outside the timing. */
static size_t
baseline_signature(const struct subject *s, unsigned char *out)
{
    const char *b64 = strrchr(s->token, '.') + 1;
    unsigned char raw[1024];
    size_t len = 0;
    ECDSA_SIG *sig;
    unsigned char *p = out;

    pc_jwk_base64_decode_to(b64, strlen(b64), true, raw, sizeof(raw), &len);
    if (strcmp(s->alg, "ES256") != 0) {
        memcpy(out, raw, len);
        return len;
    }
    sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    len = (size_t)i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    return len;
}

static double
time_openssl(const struct subject *s)
{
    unsigned char sig[1024];
    size_t sig_len = baseline_signature(s, sig);
    double best = 1e30;

    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_ns();

        for (int i = 0; i < s->rounds; i++) {
            if (!openssl_once(s, sig, sig_len)) {
                fprintf(stderr, "baseline verify failed for %s\n", s->alg);
                exit(1);
            }
        }
        best = (now_ns() - t0) / s->rounds < best ? (now_ns() - t0) / s->rounds : best;
    }
    return best;
}

static double
time_jws(const struct subject *s, struct pc_arena *arena, bool is_cached)
{
    struct pc_jws_options opts = options(s).jws;
    size_t len = strlen(s->token);
    double best = 1e30;

    opts.verifier = is_cached ? verifier : NULL;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_ns();

        for (int i = 0; i < s->rounds; i++) {
            struct pc_jws jws;
            enum pc_authn_reason reason;

            if (pc_jws_verify(s->token, len, &opts, arena, &jws, &reason) != 0) {
                fprintf(stderr, "%s refused: %s\n", s->alg, pc_authn_reason_name(reason));
                exit(1);
            }
            pc_arena_reset(arena);
        }
        best = (now_ns() - t0) / s->rounds < best ? (now_ns() - t0) / s->rounds : best;
    }
    return best;
}

static double
time_jwt(const struct subject *s, struct pc_arena *arena)
{
    struct pc_jwt_options opts = options(s);
    size_t len = strlen(s->token);
    double best = 1e30;

    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_ns();

        for (int i = 0; i < s->rounds; i++) {
            struct pc_principal *p;
            enum pc_authn_reason reason;

            if (pc_jwt_verify(s->token, len, &opts, NOW, arena, &p, &reason) != 0) {
                fprintf(stderr, "%s refused: %s\n", s->alg, pc_authn_reason_name(reason));
                exit(1);
            }
            pc_arena_reset(arena);
        }
        best = (now_ns() - t0) / s->rounds < best ? (now_ns() - t0) / s->rounds : best;
    }
    return best;
}

/* Claims alone: strict JSON parse, every check, principal built and released. */
static double
time_claims(const struct subject *s)
{
    struct pc_jwt_options opts = options(s);
    struct pc_principal_spec spec = { client_claims, 2, role_paths, 1 };
    double best = 1e30;
    const int rounds = 200000;

    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_ns();

        for (int i = 0; i < rounds; i++) {
            enum pc_authn_reason reason;
            json_t *claims = pc_jws_json_object((const unsigned char *)claims_json,
                                                sizeof(claims_json) - 1, &reason);

            if (claims == NULL || pc_jwt_check_claims(claims, NULL, &opts, NOW, &reason) != 0) {
                fprintf(stderr, "claims refused: %s\n", pc_authn_reason_name(reason));
                exit(1);
            }
            pc_principal_unref(pc_principal_create(claims, &spec));
            json_decref(claims);
        }
        best = (now_ns() - t0) / rounds < best ? (now_ns() - t0) / rounds : best;
    }
    return best;
}

static void
prepare(struct subject *s, const char *kind)
{
    char header[64];
    struct pc_jwks_pkey pkey = { "k1", NULL, NULL };

    s->key = jose_key_new(kind);
    pkey.pkey = s->key;
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", s->alg);
    s->token = jose_sign(header, claims_json, s->alg, s->key);
    s->set = pc_jwks_from_pkeys(&pkey, 1, NULL);
}

int
main(void)
{
    struct subject subjects[] = {
        { "RS256", NULL, NULL, NULL, 20000 },
        { "PS256", NULL, NULL, NULL, 20000 },
        { "ES256", NULL, NULL, NULL, 20000 },
        { "EdDSA", NULL, NULL, NULL, 20000 },
    };
    const char *kinds[] = { "RSA", "RSA", "P-256", "Ed25519" };
    struct pc_arena *arena = pc_arena_create(4096);

    verifier = pc_jws_verifier_create();
    printf("%-6s %12s %12s %12s %12s %12s\n", "alg", "openssl ns", "jws ns", "jws+cache ns",
           "jwt ns", "overhead ns");
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        struct subject *s = &subjects[i];
        double base;
        double jws;
        double cached;
        double jwt;

        prepare(s, kinds[i]);
        base = time_openssl(s);
        jws = time_jws(s, arena, false);
        cached = time_jws(s, arena, true);
        jwt = time_jwt(s, arena);
        printf("%-6s %12.0f %12.0f %12.0f %12.0f %12.0f\n", s->alg, base, jws, cached, jwt,
               jwt - base);
    }
    printf("claims parse + check + principal: %.0f ns (%zu-byte payload)\n",
           time_claims(&subjects[0]), sizeof(claims_json) - 1);
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        EVP_PKEY_free(subjects[i].key);
        free(subjects[i].token);
        pc_jwks_unref(subjects[i].set);
    }
    pc_arena_destroy(arena);
    pc_jws_verifier_free(verifier);
    return 0;
}
