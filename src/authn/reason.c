/*
 * The names of the refusal codes. A table indexed by the code; the static assertion keeps it in
 * step with the enum.
 */
#include "authn/reason.h"

#include <stddef.h>

static const char *const names[] = {
    [PC_AUTHN_OK] = "ok",
    [PC_AUTHN_TOKEN_TOO_LARGE] = "token_too_large",
    [PC_AUTHN_MALFORMED] = "malformed",
    [PC_AUTHN_BAD_BASE64] = "bad_base64",
    [PC_AUTHN_BAD_JSON] = "bad_json",
    [PC_AUTHN_DUPLICATE_KEY] = "duplicate_key",
    [PC_AUTHN_ALG_NONE] = "alg_none",
    [PC_AUTHN_ALG_NOT_ALLOWED] = "alg_not_allowed",
    [PC_AUTHN_CRIT] = "crit",
    [PC_AUTHN_UNTRUSTED_KEY_HEADER] = "untrusted_key_header",
    [PC_AUTHN_KID_UNKNOWN] = "kid_unknown",
    [PC_AUTHN_KID_REQUIRED] = "kid_required",
    [PC_AUTHN_KID_AMBIGUOUS] = "kid_ambiguous",
    [PC_AUTHN_NO_KEY] = "no_key",
    [PC_AUTHN_KEY_ALG_MISMATCH] = "key_alg_mismatch",
    [PC_AUTHN_BAD_SIGNATURE] = "bad_signature",
    [PC_AUTHN_EXPIRED] = "expired",
    [PC_AUTHN_NOT_YET_VALID] = "not_yet_valid",
    [PC_AUTHN_IAT_IN_FUTURE] = "iat_in_future",
    [PC_AUTHN_WRONG_ISSUER] = "wrong_issuer",
    [PC_AUTHN_WRONG_AUDIENCE] = "wrong_audience",
    [PC_AUTHN_WRONG_TYP] = "wrong_typ",
    [PC_AUTHN_MISSING_CLAIM] = "missing_claim",
    [PC_AUTHN_CLAIM_MISMATCH] = "claim_mismatch",
    [PC_AUTHN_BAD_CLAIM] = "bad_claim",
    [PC_AUTHN_BAD_SUB] = "bad_sub",
    [PC_AUTHN_DPOP_BAD_KEY] = "dpop_bad_key",
    [PC_AUTHN_DPOP_PRIVATE_KEY] = "dpop_private_key",
    [PC_AUTHN_DPOP_WRONG_HTM] = "dpop_wrong_htm",
    [PC_AUTHN_DPOP_WRONG_HTU] = "dpop_wrong_htu",
    [PC_AUTHN_DPOP_STALE] = "dpop_stale",
    [PC_AUTHN_DPOP_WRONG_ATH] = "dpop_wrong_ath",
    [PC_AUTHN_DPOP_WRONG_JKT] = "dpop_wrong_jkt",
    [PC_AUTHN_CNF_MISSING] = "cnf_missing",
    [PC_AUTHN_CNF_MISMATCH] = "cnf_mismatch",
    [PC_AUTHN_INTERNAL] = "internal",
    [PC_AUTHN_DPOP_MISSING] = "dpop_missing",
    [PC_AUTHN_DPOP_AS_BEARER] = "dpop_bound_as_bearer",
    [PC_AUTHN_INACTIVE] = "inactive",
};

_Static_assert(sizeof(names) / sizeof(names[0]) == PC_AUTHN_REASON_COUNT,
               "every refusal code has a name");

const char *
pc_authn_reason_name(enum pc_authn_reason reason)
{
    if ((unsigned)reason >= PC_AUTHN_REASON_COUNT) {
        return "unknown";
    }
    return names[reason];
}
