/*
 * Peer verification: the SVID checks of X509-SVID.md section 5 around OpenSSL's RFC 5280 path
 * validation, and the mapping of every refusal to a stable reason code.
 *
 * Path validation runs in an X509_STORE_CTX of our own, made against the chosen bundle's store,
 * never in the one OpenSSL hands to the verify callback: that one is bound to the SSL_CTX's
 * single store, while SPIFFE picks a store per peer from the ID in its certificate. The result
 * is copied back into OpenSSL's context by pc_verify_peer.
 *
 * The leaf is inspected before path validation so that a structural refusal (two URI SANs, a CA
 * presented as a leaf) is reported as such rather than as whatever OpenSSL trips over first.
 */
#include "tls/verify.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/err.h"
#include "tls/bundle.h"

struct x509_reason {
    int error;
    const char *reason;
};

static const struct x509_reason x509_reasons[] = {
    { X509_V_OK, "ok" },
    { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "unknown_ca" },
    { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unknown_ca" },
    { X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "unknown_ca" },
    { X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "unknown_ca" },
    { X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "unknown_ca" },
    { X509_V_ERR_CERT_UNTRUSTED, "unknown_ca" },
    { X509_V_ERR_CERT_REJECTED, "unknown_ca" },
    { X509_V_ERR_CERT_HAS_EXPIRED, "expired" },
    { X509_V_ERR_CERT_NOT_YET_VALID, "not_yet_valid" },
    { X509_V_ERR_INVALID_PURPOSE, "wrong_usage" },
    { X509_V_ERR_KEYUSAGE_NO_CERTSIGN, "wrong_usage" },
    { X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE, "wrong_usage" },
    { X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, "wrong_usage" },
    { X509_V_ERR_INVALID_NON_CA, "ca_as_leaf" },
    { X509_V_ERR_INVALID_CA, "invalid_ca" },
    { X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN, "invalid_ca" },
    { X509_V_ERR_CERT_SIGNATURE_FAILURE, "bad_signature" },
    { X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, "bad_signature" },
    { X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, "bad_signature" },
    { X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH, "bad_signature" },
    { X509_V_ERR_CERT_REVOKED, "revoked" },
    { X509_V_ERR_CERT_CHAIN_TOO_LONG, "chain_too_long" },
    { X509_V_ERR_PATH_LENGTH_EXCEEDED, "chain_too_long" },
    { X509_V_ERR_PERMITTED_VIOLATION, "name_constraints" },
    { X509_V_ERR_EXCLUDED_VIOLATION, "name_constraints" },
    { X509_V_ERR_SUBTREE_MINMAX, "name_constraints" },
    { X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE, "name_constraints" },
    { X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX, "name_constraints" },
    { X509_V_ERR_UNSUPPORTED_NAME_SYNTAX, "name_constraints" },
    { X509_V_ERR_INVALID_EXTENSION, "bad_extension" },
    { X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, "bad_extension" },
    { X509_V_ERR_INVALID_POLICY_EXTENSION, "bad_extension" },
    { X509_V_ERR_HOSTNAME_MISMATCH, "name_mismatch" },
    { X509_V_ERR_EMAIL_MISMATCH, "name_mismatch" },
    { X509_V_ERR_IP_ADDRESS_MISMATCH, "name_mismatch" },
    { X509_V_ERR_OUT_OF_MEM, "out_of_memory" },
};

const char *
pc_verify_reason_from_x509(int x509_error)
{
    for (size_t i = 0; i < sizeof(x509_reasons) / sizeof(x509_reasons[0]); i++) {
        if (x509_reasons[i].error == x509_error) {
            return x509_reasons[i].reason;
        }
    }
    return "other";
}

/* Records a refusal made here; returns PC_EACCES for `return refuse(...)`. */
static int
refuse(struct pc_verify_result *result, const char *reason, int x509_error, int depth,
       const char *detail)
{
    result->reason = reason;
    result->x509_error = x509_error;
    result->depth = depth;
    result->detail = detail;
    return PC_EACCES;
}

static int
refuse_no_memory(struct pc_verify_result *result)
{
    refuse(result, "out_of_memory", X509_V_ERR_OUT_OF_MEM, -1, "out of memory");
    return PC_ENOMEM;
}

/* X509-SVID.md section 2: exactly one URI SAN, which is the SPIFFE ID. */
static int
read_svid_uri(X509 *leaf, struct pc_verify_result *result)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    const ASN1_IA5STRING *uri = NULL;
    int n_uris = 0;

    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

        if (name->type == GEN_URI) {
            uri = name->d.uniformResourceIdentifier;
            n_uris++;
        }
    }
    if (n_uris == 1 && (size_t)ASN1_STRING_length(uri) <= PC_SPIFFE_ID_MAX) {
        result->spiffe_id_len = (size_t)ASN1_STRING_length(uri);
        memcpy(result->spiffe_id, ASN1_STRING_get0_data(uri), result->spiffe_id_len);
        result->spiffe_id[result->spiffe_id_len] = '\0';
    } else if (n_uris == 1) {
        n_uris = -1;
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    if (n_uris == -1) {
        return refuse(result, "spiffe_id_too_long", X509_V_ERR_APPLICATION_VERIFICATION, 0,
                      "the URI SAN is longer than any SPIFFE ID may be");
    }
    if (n_uris == 0) {
        return refuse(result, "svid_no_uri_san", X509_V_ERR_APPLICATION_VERIFICATION, 0,
                      "the certificate has no URI SAN, so it is not an X.509-SVID");
    }
    if (n_uris > 1) {
        return refuse(result, "svid_multiple_uri_sans", X509_V_ERR_APPLICATION_VERIFICATION, 0,
                      "the certificate has several URI SANs; an X.509-SVID has exactly one");
    }
    return 0;
}

static int
check_svid_id(struct pc_verify_result *result, struct pc_spiffe_id *id)
{
    const char *why = NULL;

    if (pc_spiffe_id_parse(result->spiffe_id, result->spiffe_id_len, id, &why) != 0) {
        /* Keep only IDs that parsed: the refused bytes may not be fit for a log line. */
        result->spiffe_id[0] = '\0';
        result->spiffe_id_len = 0;
        return refuse(result, why, X509_V_ERR_APPLICATION_VERIFICATION, 0,
                      "the URI SAN is not a valid SPIFFE ID");
    }
    /* Section 5.2: an SVID used for authentication names a workload, never a bare domain. */
    if (id->path_len == 0) {
        return refuse(result, "svid_no_path", X509_V_ERR_APPLICATION_VERIFICATION, 0,
                      "the SPIFFE ID has no path; only signing certificates may have none");
    }
    return 0;
}

/* Section 4.1, 4.3 and 5.2: a leaf is not a CA and signs, but never certificates or CRLs. */
static int
check_svid_leaf(X509 *leaf, struct pc_verify_result *result)
{
    uint32_t flags = X509_get_extension_flags(leaf);
    uint32_t usage = X509_get_key_usage(leaf);

    if ((flags & EXFLAG_CA) != 0) {
        return refuse(result, "svid_leaf_is_ca", X509_V_ERR_INVALID_NON_CA, 0,
                      "the X.509-SVID is a CA certificate (basicConstraints cA is true)");
    }
    if ((flags & EXFLAG_KUSAGE) == 0 || (usage & KU_DIGITAL_SIGNATURE) == 0
        || (usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
        return refuse(result, "svid_bad_key_usage", X509_V_ERR_INVALID_PURPOSE, 0,
                      "an X.509-SVID's keyUsage must have digitalSignature and neither "
                      "keyCertSign nor cRLSign");
    }
    /* Version 1 self-signed certificates and Netscape CA types count as CAs too. */
    if (X509_check_ca(leaf) != 0) {
        return refuse(result, "svid_leaf_is_ca", X509_V_ERR_INVALID_NON_CA, 0,
                      "the X.509-SVID can act as a CA certificate");
    }
    return 0;
}

static int
select_svid_store(X509 *leaf, const struct pc_bundle_set *set, struct pc_verify_result *result,
                  X509_STORE **store)
{
    struct pc_spiffe_id id;
    const struct pc_bundle *bundle;
    int rc;

    rc = read_svid_uri(leaf, result);
    if (rc == 0) {
        rc = check_svid_id(result, &id);
    }
    if (rc == 0) {
        rc = check_svid_leaf(leaf, result);
    }
    if (rc != 0) {
        return rc;
    }

    /* SPIFFE_Trust_Domain_and_Bundle.md section 3: only the ID's own bundle may vouch for it. */
    bundle = set != NULL ? pc_bundle_set_find(set, id.trust_domain, id.trust_domain_len) : NULL;
    if (bundle == NULL) {
        return refuse(result, "foreign_trust_domain", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                      0, "no trust bundle for the SPIFFE ID's trust domain");
    }
    *store = pc_bundle_store(bundle);
    return 0;
}

static int
select_plain_store(X509 *leaf, const struct pc_bundle_set *set, struct pc_verify_result *result,
                   X509_STORE **store)
{
    const struct pc_bundle *plain = set != NULL ? pc_bundle_set_plain(set) : NULL;

    /* OpenSSL's purpose check lets a CA certificate stand as a leaf; a peer must be an end
     * entity, so such a certificate is refused before path validation even starts. */
    if (X509_check_ca(leaf) != 0) {
        return refuse(result, "ca_as_leaf", X509_V_ERR_INVALID_NON_CA, 0,
                      "the peer presented a CA certificate as its own");
    }
    if (plain == NULL) {
        return refuse(result, "no_trust_bundle", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0,
                      "no CA bundle is configured for this peer");
    }
    *store = pc_bundle_store(plain);
    return 0;
}

static void
configure_ctx(X509_STORE_CTX *ctx, const struct pc_verify_policy *policy)
{
    unsigned depth = policy->max_intermediates != 0 ? policy->max_intermediates
                                                    : PC_VERIFY_DEFAULT_MAX_INTERMEDIATES;

    /* Far beyond any real hierarchy; keeps the value an int OpenSSL accepts. */
    if (depth > 64) {
        depth = 64;
    }

    X509_STORE_CTX_set_purpose(ctx, policy->usage == PC_VERIFY_PEER_CLIENT
                                        ? X509_PURPOSE_SSL_CLIENT
                                        : X509_PURPOSE_SSL_SERVER);
    X509_STORE_CTX_set_depth(ctx, (int)depth);
    /* X509-SVID.md section 6.1 only says bundle certificates SHOULD be self-signed: each one is
     * an anchor in its own right, as SPIFFE libraries treat them. */
    if (policy->mode == PC_VERIFY_SPIFFE) {
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
    }
    if (policy->at != 0) {
        X509_STORE_CTX_set_time(ctx, 0, policy->at);
    }
}

/* RFC 5280 section 6 path validation against store, with purpose, depth and time. */
static int
validate_path(X509_STORE *store, X509 *leaf, STACK_OF(X509) * untrusted,
              const struct pc_verify_policy *policy, struct pc_verify_result *result,
              STACK_OF(X509) * *chain)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = 0;

    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        rc = refuse_no_memory(result);
        goto out_free_ctx;
    }
    configure_ctx(ctx, policy);
    if (X509_verify_cert(ctx) != 1) {
        int error = X509_STORE_CTX_get_error(ctx);

        /* A failure without an error code is OpenSSL's own trouble; still a refusal. */
        if (error == X509_V_OK) {
            error = X509_V_ERR_UNSPECIFIED;
        }
        rc = refuse(result, pc_verify_reason_from_x509(error), error,
                    X509_STORE_CTX_get_error_depth(ctx), X509_verify_cert_error_string(error));
        rc = error == X509_V_ERR_OUT_OF_MEM ? PC_ENOMEM : rc;
        goto out_free_ctx;
    }
    if (chain != NULL) {
        *chain = X509_STORE_CTX_get1_chain(ctx);
        rc = *chain == NULL ? refuse_no_memory(result) : 0;
    }

out_free_ctx:
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static bool
uri_matches(const ASN1_IA5STRING *uri, const struct pc_verify_policy *policy)
{
    const char *s = (const char *)ASN1_STRING_get0_data(uri);
    size_t len = (size_t)ASN1_STRING_length(uri);

    for (size_t i = 0; i < policy->n_uris; i++) {
        if (strlen(policy->uris[i]) == len && memcmp(policy->uris[i], s, len) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < policy->n_ids; i++) {
        if (pc_spiffe_match(policy->ids[i], s, len)) {
            return true;
        }
    }
    return false;
}

static bool
any_uri_matches(X509 *leaf, const struct pc_verify_policy *policy)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    bool found = false;

    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

        found = name->type == GEN_URI && uri_matches(name->d.uniformResourceIdentifier, policy);
    }
    GENERAL_NAMES_free(names);
    return found;
}

static int
check_names(X509 *leaf, const struct pc_verify_policy *policy, struct pc_verify_result *result)
{
    /* The subject CN is a legacy fallback RFC 6125 section 6.4.4 retires; SANs only. */
    const unsigned flags =
        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    bool found = false;

    if (policy->n_dns_names == 0 && policy->n_uris == 0 && policy->n_ids == 0) {
        return 0;
    }
    for (size_t i = 0; i < policy->n_dns_names && !found; i++) {
        found = X509_check_host(leaf, policy->dns_names[i], 0, flags, NULL) == 1;
    }
    if (!found && (policy->n_uris != 0 || policy->n_ids != 0)) {
        found = any_uri_matches(leaf, policy);
    }
    ERR_clear_error();
    if (!found) {
        return refuse(result, "name_mismatch",
                      policy->n_dns_names != 0 ? X509_V_ERR_HOSTNAME_MISMATCH
                                               : X509_V_ERR_APPLICATION_VERIFICATION,
                      0, "the peer presents none of the expected names");
    }
    return 0;
}

static void
init_result(struct pc_verify_result *result)
{
    result->reason = "other";
    result->detail = "not verified";
    result->x509_error = X509_V_ERR_UNSPECIFIED;
    result->depth = -1;
    result->spiffe_id[0] = '\0';
    result->spiffe_id_len = 0;
}

int
pc_verify_chain(X509 *leaf, STACK_OF(X509) * untrusted, const struct pc_bundle_set *set,
                const struct pc_verify_policy *policy, struct pc_verify_result *result,
                STACK_OF(X509) * *chain)
{
    STACK_OF(X509) *verified = NULL;
    X509_STORE *store = NULL;
    int rc;

    init_result(result);
    if (leaf == NULL) {
        return refuse(result, "no_certificate", X509_V_ERR_APPLICATION_VERIFICATION, -1,
                      "the peer sent no certificate");
    }
    /* Malformed or repeated extensions would make every later reading of the leaf unreliable. */
    if ((X509_get_extension_flags(leaf) & EXFLAG_INVALID) != 0) {
        return refuse(result, "bad_extension", X509_V_ERR_INVALID_EXTENSION, 0,
                      "the certificate has malformed or repeated extensions");
    }

    if (policy->mode == PC_VERIFY_SPIFFE) {
        rc = select_svid_store(leaf, set, result, &store);
    } else {
        rc = select_plain_store(leaf, set, result, &store);
    }
    if (rc == 0) {
        rc = validate_path(store, leaf, untrusted, policy, result, &verified);
    }
    if (rc == 0) {
        rc = check_names(leaf, policy, result);
    }
    if (rc != 0) {
        sk_X509_pop_free(verified, X509_free);
        return rc;
    }

    result->reason = "ok";
    result->detail = "ok";
    result->x509_error = X509_V_OK;
    result->depth = -1;
    if (chain != NULL) {
        *chain = verified;
    } else {
        sk_X509_pop_free(verified, X509_free);
    }
    return 0;
}

int
pc_verify_peer(X509_STORE_CTX *ctx, const struct pc_bundle_set *set,
               const struct pc_verify_policy *policy, struct pc_verify_result *result)
{
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
    STACK_OF(X509) *chain = NULL;
    int rc = pc_verify_chain(leaf, X509_STORE_CTX_get0_untrusted(ctx), set, policy, result, &chain);

    if (rc == 0) {
        /* OpenSSL copies this chain into the SSL object after the callback returns. */
        X509_STORE_CTX_set0_verified_chain(ctx, chain);
        X509_STORE_CTX_set_error(ctx, X509_V_OK);
        return 0;
    }
    X509_STORE_CTX_set_error(ctx, result->x509_error);
    X509_STORE_CTX_set_error_depth(ctx, result->depth < 0 ? 0 : result->depth);
    return rc;
}
