/*
 * Workload API messages: X509SVIDResponse and X509BundlesResponse bytes in, checked immutable
 * updates out, and the DER loaders the owner and the checks share.
 *
 * Decoding is protobuf-c on our allocator. Before an update is built every rule the owner would
 * otherwise have to re-check is enforced here: the mandatory fields of the specification
 * (SPIFFE_Workload_API.md section 4.5, "clients ... SHOULD report an error and discard the
 * message"), our bounds, and that the DER is usable (chains and bundles parse, each key parses
 * and matches its leaf, the leaf names the SPIFFE ID). An update is one allocation: a header, the
 * arrays, then the strings and DER bytes, so it is self-contained, freed at once and wiped at
 * once. Key bytes are wiped in every buffer that held them here (the unpacked message and the
 * update); the gRPC buffer is the caller's.
 *
 * No state: any thread. In the gateway it runs on the control thread, inside pc_workload's read
 * callback.
 */
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "tls/spiffe.h"
#include "tls/workload.h"
#include "tls/workload.pb-c.h"

#define SPIFFE_SCHEME "spiffe://"

struct svids_block {
    struct pc_workload_svids update;
    size_t size;
};

struct bundles_block {
    struct pc_workload_bundles update;
    size_t size;
};

/* The arrays follow the header with no padding, so every part must keep pointer alignment. */
_Static_assert(sizeof(struct svids_block) % alignof(struct pc_workload_svid) == 0, "svid align");
_Static_assert(sizeof(struct pc_workload_svid) % alignof(struct pc_workload_bundle) == 0,
               "bundle align");
_Static_assert(sizeof(struct pc_workload_bundle) % alignof(struct pc_workload_der) == 0,
               "der align");
_Static_assert(sizeof(struct bundles_block) % alignof(struct pc_workload_bundle) == 0,
               "bundles align");

/* Where the next copied byte goes inside an update's allocation. */
struct cursor {
    unsigned char *next;
};

/* protobuf-c returns NULL for both garbage and a failed allocation; this tells them apart. */
struct pb_alloc_state {
    bool is_out_of_memory;
};

static void *
pb_alloc(void *data, size_t n)
{
    struct pb_alloc_state *state = data;
    void *p = pc_malloc(n);

    if (p == NULL) {
        state->is_out_of_memory = true;
    }
    return p;
}

static void
pb_free(void *data, void *p)
{
    pc_free(p);
}

static int
fail(const char **detail, const char *word, int rc)
{
    *detail = word;
    return rc;
}

static int
unpack_failed(const struct pb_alloc_state *state, const char **detail)
{
    if (state->is_out_of_memory) {
        return fail(detail, "out_of_memory", PC_ENOMEM);
    }
    return fail(detail, "malformed_message", PC_EPARSE);
}

/*
 * Bundles are keyed "by the SPIFFE ID of the trust domain" (spiffe://example.org); some
 * endpoints send the bare name. Updates carry the bare name, as the bundle builder takes it.
 */
static const char *
bare_trust_domain(const char *key)
{
    size_t n = strlen(SPIFFE_SCHEME);

    return strncmp(key, SPIFFE_SCHEME, n) == 0 ? key + n : key;
}

/* A hint is free text for operators, but it reaches logs: no control characters. */
static bool
is_printable_hint(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f) {
            return false;
        }
    }
    return n <= PC_WORKLOAD_MAX_HINT_BYTES;
}

static struct pc_workload_der
der_of(ProtobufCBinaryData bin)
{
    return (struct pc_workload_der){ .data = bin.data, .len = bin.len };
}

/* X.509-SVID specification section 2: the leaf carries exactly one URI SAN, the SPIFFE ID. */
static bool
leaf_names_id(X509 *leaf, const char *spiffe_id)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    size_t id_len = strlen(spiffe_id);
    int n_uris = 0;
    bool is_match = false;

    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

        if (name->type != GEN_URI) {
            continue;
        }
        const ASN1_IA5STRING *uri = name->d.uniformResourceIdentifier;

        n_uris++;
        is_match = (size_t)uri->length == id_len && memcmp(uri->data, spiffe_id, id_len) == 0;
    }
    GENERAL_NAMES_free(names);
    return n_uris == 1 && is_match;
}

static const char *
certs_word(int rc, const char *parse_word)
{
    if (rc == PC_ELIMIT) {
        return "too_many_certificates";
    }
    if (rc == PC_ENOMEM) {
        return "out_of_memory";
    }
    return parse_word;
}

static int
check_certs(ProtobufCBinaryData bin, const char *word, const char **detail)
{
    struct pc_workload_der der = der_of(bin);
    STACK_OF(X509) *certs = NULL;
    int rc = pc_workload_load_certs(&der, &certs);

    sk_X509_pop_free(certs, X509_free);
    if (rc != 0) {
        return fail(detail, certs_word(rc, word), rc);
    }
    return 0;
}

/* The chain parses, the key parses and belongs to the leaf, and the leaf names the ID. */
static int
check_leaf(const X509SVID *svid, const char **detail)
{
    struct pc_workload_der chain = der_of(svid->x509_svid);
    struct pc_workload_der key_der = der_of(svid->x509_svid_key);
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    rc = pc_workload_load_certs(&chain, &certs);
    if (rc != 0) {
        rc = fail(detail, certs_word(rc, "bad_certificate"), rc);
        goto out;
    }
    rc = pc_workload_load_key(&key_der, &key);
    if (rc != 0) {
        rc = fail(detail, "bad_key", rc);
        goto out;
    }

    X509 *leaf = sk_X509_value(certs, 0);

    if (X509_check_private_key(leaf, key) != 1) {
        rc = fail(detail, "key_mismatch", PC_EPARSE);
        goto out;
    }
    if (!leaf_names_id(leaf, svid->spiffe_id)) {
        rc = fail(detail, "spiffe_id_mismatch", PC_EPARSE);
    }

out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static int
check_svid(const X509SVID *svid, const char **detail)
{
    struct pc_spiffe_id id;

    if (svid->spiffe_id[0] == '\0') {
        return fail(detail, "missing_spiffe_id", PC_EPARSE);
    }
    /* The full SPIFFE-ID.md section 2 grammar (2048 bytes at most), as peers' IDs are held to. */
    if (pc_spiffe_id_parse(svid->spiffe_id, strlen(svid->spiffe_id), &id, NULL) != 0) {
        return fail(detail, "bad_spiffe_id", PC_EPARSE);
    }
    if (!is_printable_hint(svid->hint)) {
        return fail(detail, "bad_hint", PC_EPARSE);
    }
    if (svid->x509_svid.len == 0) {
        return fail(detail, "missing_certificate", PC_EPARSE);
    }
    if (svid->x509_svid_key.len == 0) {
        return fail(detail, "missing_key", PC_EPARSE);
    }
    if (svid->bundle.len == 0) {
        return fail(detail, "missing_bundle", PC_EPARSE);
    }

    int rc = check_leaf(svid, detail);

    if (rc != 0) {
        return rc;
    }
    return check_certs(svid->bundle, "bad_bundle", detail);
}

static int
check_bundle(const char *trust_domain, ProtobufCBinaryData certs, const char **detail)
{
    const char *name = bare_trust_domain(trust_domain);

    if (pc_spiffe_trust_domain_validate(name, strlen(name), NULL) != 0) {
        return fail(detail, "bad_trust_domain", PC_EPARSE);
    }
    if (certs.len == 0) {
        return fail(detail, "missing_bundle", PC_EPARSE);
    }
    return check_certs(certs, "bad_bundle", detail);
}

static int
check_crls(size_t n, const ProtobufCBinaryData *crls, const char **detail)
{
    if (n > PC_WORKLOAD_MAX_CRLS) {
        return fail(detail, "too_many_crls", PC_ELIMIT);
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = crls[i].data;
        X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)crls[i].len);
        bool is_whole = crl != NULL && p == crls[i].data + crls[i].len;

        X509_CRL_free(crl);
        if (!is_whole) {
            ERR_clear_error();
            return fail(detail, "bad_crl", PC_EPARSE);
        }
    }
    return 0;
}

static int
check_svids(const X509SVIDResponse *resp, const char **detail)
{
    int rc;

    if (resp->n_svids == 0) {
        return fail(detail, "no_svids", PC_EPARSE);
    }
    if (resp->n_svids > PC_WORKLOAD_MAX_SVIDS) {
        return fail(detail, "too_many_svids", PC_ELIMIT);
    }
    if (resp->n_federated_bundles > PC_WORKLOAD_MAX_BUNDLES) {
        return fail(detail, "too_many_bundles", PC_ELIMIT);
    }
    for (size_t i = 0; i < resp->n_svids; i++) {
        rc = check_svid(resp->svids[i], detail);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < resp->n_federated_bundles; i++) {
        const X509SVIDResponse__FederatedBundlesEntry *entry = resp->federated_bundles[i];

        rc = check_bundle(entry->key, entry->value, detail);
        if (rc != 0) {
            return rc;
        }
    }
    return check_crls(resp->n_crl, resp->crl, detail);
}

static int
check_bundles(const X509BundlesResponse *resp, const char **detail)
{
    if (resp->n_bundles == 0) {
        return fail(detail, "no_bundles", PC_EPARSE);
    }
    if (resp->n_bundles > PC_WORKLOAD_MAX_BUNDLES) {
        return fail(detail, "too_many_bundles", PC_ELIMIT);
    }
    for (size_t i = 0; i < resp->n_bundles; i++) {
        int rc = check_bundle(resp->bundles[i]->key, resp->bundles[i]->value, detail);

        if (rc != 0) {
            return rc;
        }
    }
    return check_crls(resp->n_crl, resp->crl, detail);
}

static const char *
copy_string(struct cursor *cur, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)cur->next;

    memcpy(d, s, n);
    cur->next += n;
    return d;
}

static struct pc_workload_der
copy_der(struct cursor *cur, ProtobufCBinaryData bin)
{
    struct pc_workload_der der = { .data = cur->next, .len = bin.len };

    if (bin.len > 0) {
        memcpy(cur->next, bin.data, bin.len);
    }
    cur->next += bin.len;
    return der;
}

static int
compare_bundles(const void *a, const void *b)
{
    const struct pc_workload_bundle *x = a;
    const struct pc_workload_bundle *y = b;

    return strcmp(x->trust_domain, y->trust_domain);
}

/*
 * Sorts bundles by trust domain and refuses a repeated one: a map key sent twice is legal
 * protobuf (the last wins), but no conforming endpoint does it, and guessing which bundle the
 * endpoint meant would be guessing about trust.
 */
static int
sort_bundles(struct pc_workload_bundle *bundles, size_t n, const char **detail)
{
    if (n > 1) {
        qsort(bundles, n, sizeof(bundles[0]), compare_bundles);
    }
    for (size_t i = 1; i < n; i++) {
        if (strcmp(bundles[i - 1].trust_domain, bundles[i].trust_domain) == 0) {
            return fail(detail, "duplicate_trust_domain", PC_EPARSE);
        }
    }
    return 0;
}

static size_t
svids_size(const X509SVIDResponse *resp)
{
    size_t size = sizeof(struct svids_block) + resp->n_svids * sizeof(struct pc_workload_svid)
                  + resp->n_federated_bundles * sizeof(struct pc_workload_bundle)
                  + resp->n_crl * sizeof(struct pc_workload_der);

    for (size_t i = 0; i < resp->n_svids; i++) {
        const X509SVID *svid = resp->svids[i];

        size += strlen(svid->spiffe_id) + 1 + strlen(svid->hint) + 1;
        size += svid->x509_svid.len + svid->x509_svid_key.len + svid->bundle.len;
    }
    for (size_t i = 0; i < resp->n_federated_bundles; i++) {
        const X509SVIDResponse__FederatedBundlesEntry *entry = resp->federated_bundles[i];

        size += strlen(bare_trust_domain(entry->key)) + 1 + entry->value.len;
    }
    for (size_t i = 0; i < resp->n_crl; i++) {
        size += resp->crl[i].len;
    }
    return size;
}

static void
copy_svids(struct cursor *cur, const X509SVIDResponse *resp, struct pc_workload_svid *svids)
{
    for (size_t i = 0; i < resp->n_svids; i++) {
        const X509SVID *src = resp->svids[i];

        svids[i].spiffe_id = copy_string(cur, src->spiffe_id);
        svids[i].hint = copy_string(cur, src->hint);
        svids[i].chain = copy_der(cur, src->x509_svid);
        svids[i].key = copy_der(cur, src->x509_svid_key);
        svids[i].bundle = copy_der(cur, src->bundle);
    }
}

static void
copy_crls(struct cursor *cur, size_t n, const ProtobufCBinaryData *src,
          struct pc_workload_der *crls)
{
    for (size_t i = 0; i < n; i++) {
        crls[i] = copy_der(cur, src[i]);
    }
}

static int
build_svids(const X509SVIDResponse *resp, struct pc_workload_svids **out, const char **detail)
{
    size_t size = svids_size(resp);
    struct svids_block *block = pc_malloc(size);

    if (block == NULL) {
        return fail(detail, "out_of_memory", PC_ENOMEM);
    }

    struct pc_workload_svid *svids = (struct pc_workload_svid *)(block + 1);
    struct pc_workload_bundle *federated = (struct pc_workload_bundle *)(svids + resp->n_svids);
    struct pc_workload_der *crls =
        (struct pc_workload_der *)(federated + resp->n_federated_bundles);
    struct cursor cur = { .next = (unsigned char *)(crls + resp->n_crl) };

    copy_svids(&cur, resp, svids);
    for (size_t i = 0; i < resp->n_federated_bundles; i++) {
        federated[i].trust_domain =
            copy_string(&cur, bare_trust_domain(resp->federated_bundles[i]->key));
        federated[i].certs = copy_der(&cur, resp->federated_bundles[i]->value);
    }
    copy_crls(&cur, resp->n_crl, resp->crl, crls);
    PC_ASSERT(cur.next == (unsigned char *)block + size);

    block->size = size;
    block->update = (struct pc_workload_svids){ .svids = svids,
                                                .n_svids = resp->n_svids,
                                                .federated = federated,
                                                .n_federated = resp->n_federated_bundles,
                                                .crls = crls,
                                                .n_crls = resp->n_crl };

    int rc = sort_bundles(federated, resp->n_federated_bundles, detail);

    if (rc != 0) {
        pc_workload_free_svids(&block->update);
        return rc;
    }
    *out = &block->update;
    return 0;
}

static size_t
bundles_size(const X509BundlesResponse *resp)
{
    size_t size = sizeof(struct bundles_block) + resp->n_bundles * sizeof(struct pc_workload_bundle)
                  + resp->n_crl * sizeof(struct pc_workload_der);

    for (size_t i = 0; i < resp->n_bundles; i++) {
        size += strlen(bare_trust_domain(resp->bundles[i]->key)) + 1 + resp->bundles[i]->value.len;
    }
    for (size_t i = 0; i < resp->n_crl; i++) {
        size += resp->crl[i].len;
    }
    return size;
}

static int
build_bundles(const X509BundlesResponse *resp, struct pc_workload_bundles **out,
              const char **detail)
{
    size_t size = bundles_size(resp);
    struct bundles_block *block = pc_malloc(size);

    if (block == NULL) {
        return fail(detail, "out_of_memory", PC_ENOMEM);
    }

    struct pc_workload_bundle *bundles = (struct pc_workload_bundle *)(block + 1);
    struct pc_workload_der *crls = (struct pc_workload_der *)(bundles + resp->n_bundles);
    struct cursor cur = { .next = (unsigned char *)(crls + resp->n_crl) };

    for (size_t i = 0; i < resp->n_bundles; i++) {
        bundles[i].trust_domain = copy_string(&cur, bare_trust_domain(resp->bundles[i]->key));
        bundles[i].certs = copy_der(&cur, resp->bundles[i]->value);
    }
    copy_crls(&cur, resp->n_crl, resp->crl, crls);
    PC_ASSERT(cur.next == (unsigned char *)block + size);

    block->size = size;
    block->update = (struct pc_workload_bundles){
        .bundles = bundles, .n_bundles = resp->n_bundles, .crls = crls, .n_crls = resp->n_crl
    };

    int rc = sort_bundles(bundles, resp->n_bundles, detail);

    if (rc != 0) {
        pc_workload_free_bundles(&block->update);
        return rc;
    }
    *out = &block->update;
    return 0;
}

/* protobuf-c copied the keys into buffers of its own; wipe them before it frees them. */
static void
wipe_keys(X509SVIDResponse *resp)
{
    for (size_t i = 0; i < resp->n_svids; i++) {
        ProtobufCBinaryData *key = &resp->svids[i]->x509_svid_key;

        if (key->data != NULL) {
            OPENSSL_cleanse(key->data, key->len);
        }
    }
}

int
pc_workload_decode_svids(const uint8_t *msg, size_t len, struct pc_workload_svids **out,
                         const char **detail)
{
    struct pb_alloc_state state = { .is_out_of_memory = false };
    ProtobufCAllocator allocator = { .alloc = pb_alloc, .free = pb_free, .allocator_data = &state };
    X509SVIDResponse *resp;
    int rc;

    *out = NULL;
    *detail = NULL;
    if (len > PC_WORKLOAD_MAX_MSG_BYTES) {
        return fail(detail, "message_too_large", PC_ELIMIT);
    }

    resp = x509_svidresponse__unpack(&allocator, len, msg);
    if (resp == NULL) {
        return unpack_failed(&state, detail);
    }

    rc = check_svids(resp, detail);
    if (rc == 0) {
        rc = build_svids(resp, out, detail);
    }

    wipe_keys(resp);
    x509_svidresponse__free_unpacked(resp, &allocator);
    return rc;
}

int
pc_workload_decode_bundles(const uint8_t *msg, size_t len, struct pc_workload_bundles **out,
                           const char **detail)
{
    struct pb_alloc_state state = { .is_out_of_memory = false };
    ProtobufCAllocator allocator = { .alloc = pb_alloc, .free = pb_free, .allocator_data = &state };
    X509BundlesResponse *resp;
    int rc;

    *out = NULL;
    *detail = NULL;
    if (len > PC_WORKLOAD_MAX_MSG_BYTES) {
        return fail(detail, "message_too_large", PC_ELIMIT);
    }

    resp = x509_bundles_response__unpack(&allocator, len, msg);
    if (resp == NULL) {
        return unpack_failed(&state, detail);
    }

    rc = check_bundles(resp, detail);
    if (rc == 0) {
        rc = build_bundles(resp, out, detail);
    }

    x509_bundles_response__free_unpacked(resp, &allocator);
    return rc;
}

void
pc_workload_free_svids(struct pc_workload_svids *update)
{
    if (update == NULL) {
        return;
    }

    struct svids_block *block = (struct svids_block *)update;

    OPENSSL_cleanse(block, block->size);
    pc_free(block);
}

void
pc_workload_free_bundles(struct pc_workload_bundles *update)
{
    if (update == NULL) {
        return;
    }

    struct bundles_block *block = (struct bundles_block *)update;

    /* Bundles hold no secret, but wiping costs little and keeps one rule for updates. */
    OPENSSL_cleanse(block, block->size);
    pc_free(block);
}

int
pc_workload_load_certs(const struct pc_workload_der *der, STACK_OF(X509) * *out)
{
    const unsigned char *p = der->data;
    STACK_OF(X509) *certs = NULL;
    int rc = PC_EPARSE;

    *out = NULL;
    if (der->len == 0) {
        return PC_EPARSE;
    }
    certs = sk_X509_new_null();
    if (certs == NULL) {
        return PC_ENOMEM;
    }

    const unsigned char *end = der->data + der->len;

    while (p < end) {
        if (sk_X509_num(certs) == PC_WORKLOAD_MAX_CERTS) {
            rc = PC_ELIMIT;
            goto fail_free_certs;
        }

        X509 *cert = d2i_X509(NULL, &p, (long)(end - p));

        if (cert == NULL) {
            goto fail_free_certs;
        }
        if (sk_X509_push(certs, cert) == 0) {
            X509_free(cert);
            rc = PC_ENOMEM;
            goto fail_free_certs;
        }
    }
    if (sk_X509_num(certs) == 0) {
        goto fail_free_certs;
    }

    *out = certs;
    return 0;

fail_free_certs:
    ERR_clear_error();
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

int
pc_workload_load_key(const struct pc_workload_der *der, EVP_PKEY **out)
{
    const unsigned char *p = der->data;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der->len);
    EVP_PKEY *key = NULL;

    *out = NULL;
    /* Trailing bytes after the key mean the field is not what the specification says it is. */
    if (info != NULL && p == der->data + der->len) {
        key = EVP_PKCS82PKEY(info);
    }
    PKCS8_PRIV_KEY_INFO_free(info);
    if (key == NULL) {
        ERR_clear_error();
        return PC_EPARSE;
    }
    *out = key;
    return 0;
}
