/*
 * libFuzzer target for the Workload API message decoders: every input is decoded both as an
 * X509SVIDResponse and as an X509BundlesResponse, the bytes a local endpoint sends inside one
 * gRPC message. Beyond memory safety it checks what the owner of an update relies on: the
 * counts are within the bounds, every SVID's fields are set, its chain and key load and the key
 * matches the leaf, trust domains are sorted, unique and never carry the scheme, and freeing
 * returns every byte to the allocator. The seeds are responses made by
 * tests/spiffe/workload_server.py from test certificates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "tls/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_bundles(const struct pc_workload_bundle *bundles, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        STACK_OF(X509) *certs = NULL;

        if (bundles[i].trust_domain[0] == '\0' || strchr(bundles[i].trust_domain, ':') != NULL) {
            abort();
        }
        if (i > 0 && strcmp(bundles[i - 1].trust_domain, bundles[i].trust_domain) >= 0) {
            abort();
        }
        if (pc_workload_load_certs(&bundles[i].certs, &certs) != 0) {
            abort();
        }
        sk_X509_pop_free(certs, X509_free);
    }
}

static void
check_svid(const struct pc_workload_svid *svid)
{
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *bundle = NULL;
    EVP_PKEY *key = NULL;

    if (strncmp(svid->spiffe_id, "spiffe://", 9) != 0 || svid->hint == NULL) {
        abort();
    }
    if (pc_workload_load_certs(&svid->chain, &chain) != 0
        || pc_workload_load_certs(&svid->bundle, &bundle) != 0
        || pc_workload_load_key(&svid->key, &key) != 0) {
        abort();
    }
    if (X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
        abort();
    }
    EVP_PKEY_free(key);
    sk_X509_pop_free(bundle, X509_free);
    sk_X509_pop_free(chain, X509_free);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t before = pc_alloc_bytes();
    struct pc_workload_svids *svids = NULL;
    struct pc_workload_bundles *bundles = NULL;
    const char *detail = NULL;

    if (pc_workload_decode_svids(data, size, &svids, &detail) == 0) {
        if (svids->n_svids == 0 || svids->n_svids > PC_WORKLOAD_MAX_SVIDS
            || svids->n_federated > PC_WORKLOAD_MAX_BUNDLES
            || svids->n_crls > PC_WORKLOAD_MAX_CRLS) {
            abort();
        }
        for (size_t i = 0; i < svids->n_svids; i++) {
            check_svid(&svids->svids[i]);
        }
        check_bundles(svids->federated, svids->n_federated);
        pc_workload_free_svids(svids);
    } else if (svids != NULL || detail == NULL) {
        abort();
    }

    if (pc_workload_decode_bundles(data, size, &bundles, &detail) == 0) {
        if (bundles->n_bundles == 0 || bundles->n_bundles > PC_WORKLOAD_MAX_BUNDLES) {
            abort();
        }
        check_bundles(bundles->bundles, bundles->n_bundles);
        pc_workload_free_bundles(bundles);
    } else if (bundles != NULL || detail == NULL) {
        abort();
    }

    if (pc_alloc_bytes() != before) {
        abort();
    }
    return 0;
}
