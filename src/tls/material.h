/*
 * TLS material streamed by the SPIFFE Workload API: the gateway's own X.509-SVIDs and the trust
 * bundles, as last received.
 *
 * The control thread owns it: the Workload API client's callbacks store each update here, and
 * building TLS contexts reads from it. It keeps the last good update of each stream until a new
 * one replaces it, so a Workload API endpoint that goes away leaves the gateway serving with
 * what it had (as SPIRE agents expect: SVIDs stay valid for their lifetime).
 */
#ifndef PC_TLS_MATERIAL_H
#define PC_TLS_MATERIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "core/err.h"

struct pc_tls_material;
struct pc_workload_svids;
struct pc_workload_bundles;

/* Creates an empty store; NULL when out of memory. */
struct pc_tls_material *pc_tls_material_create(void);

/* Frees the store and the updates it holds; accepts NULL. */
void pc_tls_material_free(struct pc_tls_material *m);

/* Stores an update, taking it over and releasing the one it replaces. */
void pc_tls_material_set_svids(struct pc_tls_material *m, struct pc_workload_svids *update);
void pc_tls_material_set_bundles(struct pc_tls_material *m, struct pc_workload_bundles *update);

/* Whether any SVID (respectively any bundle) has arrived yet. */
bool pc_tls_material_has_svids(const struct pc_tls_material *m);
bool pc_tls_material_has_bundles(const struct pc_tls_material *m);

/*
 * The SVID with SPIFFE ID spiffe_id (NULL: the endpoint's first, its default) as OpenSSL
 * objects owned by the caller: the leaf, the rest of the chain, the key. Returns 0, PC_ENOENT
 * with err filled when there is no such SVID (yet), or PC_EPARSE / PC_ENOMEM.
 */
int pc_tls_material_svid(const struct pc_tls_material *m, const char *spiffe_id, X509 **leaf,
                         STACK_OF(X509) * *chain, EVP_PKEY **key, struct pc_err *err);

/*
 * The CA certificates of trust_domain as PEM text, in a heap buffer the caller frees with
 * pc_free: from the bundles stream, else from the SVIDs stream (an SVID's own bundle or a
 * federated one). Returns 0, PC_ENOENT with err filled when the domain has none (yet), or
 * PC_ENOMEM.
 */
int pc_tls_material_bundle_pem(const struct pc_tls_material *m, const char *trust_domain,
                               char **pem, size_t *len, struct pc_err *err);

#endif
