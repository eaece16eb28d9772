/*
 * The store of Workload API material: the last SVIDs update and the last bundles update, and
 * conversions of their DER into what context building needs. Control thread only.
 */
#include "tls/material.h"

#include <string.h>

#include <openssl/pem.h>

#include "core/alloc.h"
#include "tls/workload.h"

struct pc_tls_material {
    struct pc_workload_svids *svids;
    struct pc_workload_bundles *bundles;
};

struct pc_tls_material *
pc_tls_material_create(void)
{
    return pc_calloc(1, sizeof(struct pc_tls_material));
}

void
pc_tls_material_free(struct pc_tls_material *m)
{
    if (m == NULL) {
        return;
    }
    pc_workload_free_svids(m->svids);
    pc_workload_free_bundles(m->bundles);
    pc_free(m);
}

void
pc_tls_material_set_svids(struct pc_tls_material *m, struct pc_workload_svids *update)
{
    pc_workload_free_svids(m->svids);
    m->svids = update;
}

void
pc_tls_material_set_bundles(struct pc_tls_material *m, struct pc_workload_bundles *update)
{
    pc_workload_free_bundles(m->bundles);
    m->bundles = update;
}

bool
pc_tls_material_has_svids(const struct pc_tls_material *m)
{
    return m != NULL && m->svids != NULL;
}

bool
pc_tls_material_has_bundles(const struct pc_tls_material *m)
{
    return m != NULL && m->bundles != NULL;
}

static const struct pc_workload_svid *
find_svid(const struct pc_tls_material *m, const char *spiffe_id)
{
    if (m == NULL || m->svids == NULL) {
        return NULL;
    }
    if (spiffe_id == NULL) {
        return &m->svids->svids[0];
    }
    for (size_t i = 0; i < m->svids->n_svids; i++) {
        if (strcmp(m->svids->svids[i].spiffe_id, spiffe_id) == 0) {
            return &m->svids->svids[i];
        }
    }
    return NULL;
}

int
pc_tls_material_svid(const struct pc_tls_material *m, const char *spiffe_id, X509 **leaf,
                     STACK_OF(X509) * *chain, EVP_PKEY **key, struct pc_err *err)
{
    const struct pc_workload_svid *svid = find_svid(m, spiffe_id);
    STACK_OF(X509) *certs = NULL;
    int rc;

    *leaf = NULL;
    *chain = NULL;
    *key = NULL;
    if (svid == NULL) {
        return pc_err_set(err, PC_ENOENT, "no X.509-SVID %s from the Workload API yet",
                          spiffe_id != NULL ? spiffe_id : "(default)");
    }
    rc = pc_workload_load_certs(&svid->chain, &certs);
    if (rc == 0) {
        rc = pc_workload_load_key(&svid->key, key);
    }
    if (rc != 0) {
        sk_X509_pop_free(certs, X509_free);
        return pc_err_set(err, rc, "the X.509-SVID %s does not load", svid->spiffe_id);
    }
    /* The stack holds the leaf first; the leaf is handed out on its own. */
    *leaf = sk_X509_shift(certs);
    *chain = certs;
    return 0;
}

static const struct pc_workload_der *
find_bundle(const struct pc_tls_material *m, const char *trust_domain)
{
    const struct pc_workload_bundle *list;
    size_t n;

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            list = m->bundles != NULL ? m->bundles->bundles : NULL;
            n = m->bundles != NULL ? m->bundles->n_bundles : 0;
        } else {
            list = m->svids != NULL ? m->svids->federated : NULL;
            n = m->svids != NULL ? m->svids->n_federated : 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i].trust_domain, trust_domain) == 0) {
                return &list[i].certs;
            }
        }
    }
    return NULL;
}

/* An SVID's own bundle is the bundle of its trust domain: "spiffe://<td>/...". */
static const struct pc_workload_der *
find_svid_bundle(const struct pc_tls_material *m, const char *trust_domain)
{
    size_t len = strlen(trust_domain);

    for (size_t i = 0; m->svids != NULL && i < m->svids->n_svids; i++) {
        const char *id = m->svids->svids[i].spiffe_id + 9;

        if (strncmp(id, trust_domain, len) == 0 && (id[len] == '/' || id[len] == '\0')) {
            return &m->svids->svids[i].bundle;
        }
    }
    return NULL;
}

static int
der_to_pem(const struct pc_workload_der *der, char **pem, size_t *len)
{
    STACK_OF(X509) *certs = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    int rc = bio != NULL ? pc_workload_load_certs(der, &certs) : PC_ENOMEM;

    for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(certs, i)) != 1) {
            rc = PC_ENOMEM;
        }
    }
    n = rc == 0 ? BIO_get_mem_data(bio, &data) : 0;
    if (rc == 0) {
        *pem = pc_strndup(data, (size_t)n);
        *len = (size_t)n;
        rc = *pem != NULL ? 0 : PC_ENOMEM;
    }
    sk_X509_pop_free(certs, X509_free);
    BIO_free(bio);
    return rc;
}

int
pc_tls_material_bundle_pem(const struct pc_tls_material *m, const char *trust_domain, char **pem,
                           size_t *len, struct pc_err *err)
{
    const struct pc_workload_der *der = NULL;

    *pem = NULL;
    *len = 0;
    if (m != NULL) {
        der = find_bundle(m, trust_domain);
        if (der == NULL) {
            der = find_svid_bundle(m, trust_domain);
        }
    }
    if (der == NULL) {
        return pc_err_set(err, PC_ENOENT, "no bundle for trust domain %s from the Workload API yet",
                          trust_domain);
    }
    if (der_to_pem(der, pem, len) != 0) {
        return pc_err_set(err, PC_ENOMEM, "out of memory");
    }
    return 0;
}
