/*
 * Trust bundle sets: the builder, the PEM and SPIFFE bundle readers, and the immutable set.
 *
 * The builder keeps, per trust domain, a stack of authority certificates and the JWT-SVID keys;
 * X509_STORE objects are only made when the set is finished, so an add that fails part way can
 * be undone by truncating stacks. Every add first parses its whole input into a scratch list
 * and then merges it with operations that cannot fail (stack room is reserved beforehand), so
 * a refused document leaves the builder exactly as it was.
 *
 * A finished set is read by every worker at once; nothing in it changes after
 * pc_bundle_builder_finish returns, and OpenSSL's X509_STORE takes its own lock for the lookups
 * a verification makes.
 */
#include "tls/bundle.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "tls/jwk.h"
#include "tls/spiffe.h"

#define MAX_TRUST_DOMAINS 1000

struct pc_bundle {
    char *trust_domain; /* NULL for the plain CA bundle */
    size_t trust_domain_len;
    STACK_OF(X509) * authorities;
    X509_STORE *store; /* made by pc_bundle_builder_finish */
    struct pc_bundle_jwt_key *jwt_keys;
    size_t n_jwt_keys;
    bool has_spiffe_document;
    bool has_sequence;
    bool has_refresh_hint;
    bool use_system_roots;
    uint64_t sequence;
    uint64_t refresh_hint_s;
};

struct pc_bundle_builder {
    struct pc_bundle **bundles;
    size_t n_bundles;
    size_t cap_bundles;
    struct pc_bundle *plain;
};

struct pc_bundle_set {
    _Atomic size_t refs;
    struct pc_bundle **bundles; /* sorted by trust domain */
    size_t n_bundles;
    struct pc_bundle *plain;
};

/* What one SPIFFE bundle document holds once read, before it is merged. */
struct spiffe_document {
    STACK_OF(X509) * certs;
    struct pc_bundle_jwt_key *keys;
    size_t n_keys;
    size_t n_ignored;
    bool has_sequence;
    bool has_refresh_hint;
    uint64_t sequence;
    uint64_t refresh_hint_s;
};

static void
free_jwt_keys(struct pc_bundle_jwt_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pc_free((char *)keys[i].kid);
        pc_free((char *)keys[i].alg);
        EVP_PKEY_free(keys[i].key);
    }
    pc_free(keys);
}

static void
bundle_free(struct pc_bundle *bundle)
{
    if (bundle == NULL) {
        return;
    }
    pc_free(bundle->trust_domain);
    sk_X509_pop_free(bundle->authorities, X509_free);
    X509_STORE_free(bundle->store);
    free_jwt_keys(bundle->jwt_keys, bundle->n_jwt_keys);
    pc_free(bundle);
}

static struct pc_bundle *
bundle_new(const char *trust_domain)
{
    struct pc_bundle *bundle = pc_calloc(1, sizeof(*bundle));

    if (bundle == NULL) {
        return NULL;
    }
    bundle->authorities = sk_X509_new_null();
    if (trust_domain != NULL) {
        bundle->trust_domain = pc_strdup(trust_domain);
        bundle->trust_domain_len = strlen(trust_domain);
    }
    if (bundle->authorities == NULL || (trust_domain != NULL && bundle->trust_domain == NULL)) {
        bundle_free(bundle);
        return NULL;
    }
    return bundle;
}

struct pc_bundle_builder *
pc_bundle_builder_create(void)
{
    return pc_calloc(1, sizeof(struct pc_bundle_builder));
}

void
pc_bundle_builder_free(struct pc_bundle_builder *builder)
{
    if (builder == NULL) {
        return;
    }
    for (size_t i = 0; i < builder->n_bundles; i++) {
        bundle_free(builder->bundles[i]);
    }
    pc_free(builder->bundles);
    bundle_free(builder->plain);
    pc_free(builder);
}

static int
check_trust_domain(const char *trust_domain, struct pc_err *err)
{
    const char *reason = NULL;

    if (pc_spiffe_trust_domain_validate(trust_domain, strlen(trust_domain), &reason) != 0) {
        return pc_err_set(err, PC_EINVAL, "trust domain \"%.255s\" refused: %s", trust_domain,
                          reason);
    }
    return 0;
}

static struct pc_bundle *
find_bundle(const struct pc_bundle_builder *builder, const char *trust_domain)
{
    for (size_t i = 0; i < builder->n_bundles; i++) {
        if (strcmp(builder->bundles[i]->trust_domain, trust_domain) == 0) {
            return builder->bundles[i];
        }
    }
    return NULL;
}

static int
grow_bundles(struct pc_bundle_builder *builder, struct pc_err *err)
{
    size_t cap = builder->cap_bundles == 0 ? 4 : builder->cap_bundles * 2;
    struct pc_bundle **grown;

    if (builder->n_bundles == MAX_TRUST_DOMAINS) {
        return pc_err_set(err, PC_ELIMIT, "more than %d trust domains", MAX_TRUST_DOMAINS);
    }
    grown = pc_realloc(builder->bundles, cap * sizeof(*grown));
    if (grown == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory adding a trust bundle");
    }
    builder->bundles = grown;
    builder->cap_bundles = cap;
    return 0;
}

/*
 * Finds the builder's bundle for trust_domain (NULL: the plain store) into *out, creating it
 * when missing and setting *is_new; a new bundle is undone with drop_new_bundle.
 */
static int
take_bundle(struct pc_bundle_builder *builder, const char *trust_domain, struct pc_bundle **out,
            bool *is_new, struct pc_err *err)
{
    struct pc_bundle *bundle =
        trust_domain == NULL ? builder->plain : find_bundle(builder, trust_domain);
    int rc;

    *is_new = bundle == NULL;
    *out = bundle;
    if (bundle != NULL) {
        return 0;
    }
    if (trust_domain != NULL && builder->n_bundles == builder->cap_bundles
        && (rc = grow_bundles(builder, err)) != 0) {
        return rc;
    }
    bundle = bundle_new(trust_domain);
    if (bundle == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory adding a trust bundle");
    }
    if (trust_domain == NULL) {
        builder->plain = bundle;
    } else {
        builder->bundles[builder->n_bundles++] = bundle;
    }
    *out = bundle;
    return 0;
}

static void
drop_new_bundle(struct pc_bundle_builder *builder, struct pc_bundle *bundle)
{
    if (bundle == builder->plain) {
        builder->plain = NULL;
    } else {
        builder->n_bundles--;
    }
    bundle_free(bundle);
}

/*
 * Moves every certificate of certs to the end of the bundle's authorities. Room is reserved
 * first, so either all move or (on PC_ELIMIT / PC_ENOMEM) none do.
 */
static int
merge_certs(struct pc_bundle *bundle, STACK_OF(X509) * certs, struct pc_err *err)
{
    int have = sk_X509_num(bundle->authorities);
    int add = sk_X509_num(certs);

    if ((size_t)have + (size_t)add > PC_BUNDLE_MAX_KEYS) {
        return pc_err_set(err, PC_ELIMIT, "more than %d certificates in one trust bundle",
                          PC_BUNDLE_MAX_KEYS);
    }
    if (sk_X509_reserve(bundle->authorities, have + add) != 1) {
        return pc_err_set(err, PC_ENOMEM, "out of memory adding certificates");
    }
    while (sk_X509_num(certs) > 0) {
        sk_X509_push(bundle->authorities, sk_X509_shift(certs));
    }
    return 0;
}

/* Replaces characters that do not belong in a log line, in place. */
static void
make_printable(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < 0x20 || *s > 0x7e) {
            *s = '?';
        }
    }
}

static int
push_der_cert(const unsigned char *der, size_t len, STACK_OF(X509) * out, const char *what,
              struct pc_err *err)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);

    /* Bytes after the certificate would be silently dropped; refuse them instead. */
    if (cert == NULL || p != der + len) {
        X509_free(cert);
        ERR_clear_error();
        return pc_err_set(err, PC_EPARSE, "%s is not a DER certificate", what);
    }
    if (sk_X509_push(out, cert) <= 0) {
        X509_free(cert);
        return pc_err_set(err, PC_ENOMEM, "out of memory reading certificates");
    }
    return 0;
}

/* Reads the next PEM block; returns 0 for a certificate, 1 at the end of the text, or an error. */
static int
read_pem_block(BIO *bio, size_t index, STACK_OF(X509) * out, struct pc_err *err)
{
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    char what[48];
    int rc;

    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
        unsigned long e = ERR_peek_last_error();

        rc = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE
                 ? 1
                 : pc_err_set(err, PC_EPARSE, "PEM block %zu is malformed", index);
        ERR_clear_error();
        return rc;
    }
    make_printable(name);
    snprintf(what, sizeof(what), "PEM block %zu", index);
    if (strcmp(name, "CERTIFICATE") != 0) {
        rc = pc_err_set(err, PC_EPARSE,
                        "PEM block %zu is \"%.40s\"; a trust bundle holds only CERTIFICATE blocks",
                        index, name);
    } else if (header[0] != '\0') {
        rc = pc_err_set(err, PC_EPARSE, "PEM block %zu has headers; certificates have none", index);
    } else if (sk_X509_num(out) == PC_BUNDLE_MAX_KEYS) {
        rc = pc_err_set(err, PC_ELIMIT, "more than %d certificates", PC_BUNDLE_MAX_KEYS);
    } else {
        rc = push_der_cert(data, (size_t)len, out, what, err);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    /* The block may have been a private key pasted by mistake: wipe it before release. */
    OPENSSL_clear_free(data, (size_t)len);
    return rc;
}

static int
read_pem(const char *pem, size_t len, STACK_OF(X509) * out, struct pc_err *err)
{
    BIO *bio;
    size_t index = 0;
    int rc = 0;

    if (len > PC_BUNDLE_MAX_BYTES) {
        return pc_err_set(err, PC_ELIMIT, "PEM text of %zu bytes exceeds %u", len,
                          PC_BUNDLE_MAX_BYTES);
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory reading PEM text");
    }
    while (rc == 0) {
        rc = read_pem_block(bio, ++index, out, err);
    }
    BIO_free(bio);
    if (rc == 1 && sk_X509_num(out) == 0) {
        return pc_err_set(err, PC_EPARSE, "no CERTIFICATE block found");
    }
    return rc == 1 ? 0 : rc;
}

int
pc_bundle_builder_add_pem(struct pc_bundle_builder *builder, const char *trust_domain,
                          const char *pem, size_t len, struct pc_err *err)
{
    STACK_OF(X509) *certs = NULL;
    struct pc_bundle *bundle;
    bool is_new = false;
    int rc;

    if (trust_domain != NULL && (rc = check_trust_domain(trust_domain, err)) != 0) {
        return rc;
    }
    certs = sk_X509_new_null();
    if (certs == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory reading PEM text");
    }
    rc = read_pem(pem, len, certs, err);
    if (rc != 0) {
        goto out;
    }
    rc = take_bundle(builder, trust_domain, &bundle, &is_new, err);
    if (rc != 0) {
        goto out;
    }
    rc = merge_certs(bundle, certs, err);
    if (rc != 0 && is_new) {
        drop_new_bundle(builder, bundle);
    }

out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* Reads a non-negative JSON integer member; absent is fine, anything else is refused. */
static int
read_counter(const json_t *root, const char *name, bool *has, uint64_t *value, struct pc_err *err)
{
    const json_t *v = json_object_get(root, name);

    if (v == NULL) {
        return 0;
    }
    /* Section 4.1.1 asks for 64 bits of precision; jansson's integers are 64-bit signed. */
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return pc_err_set(err, PC_EPARSE, "\"%s\" is not a non-negative integer", name);
    }
    *has = true;
    *value = (uint64_t)json_integer_value(v);
    return 0;
}

static bool
kty_matches(const char *kty, EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
        return strcmp(kty, "EC") == 0;
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        return strcmp(kty, "RSA") == 0;
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
        return strcmp(kty, "OKP") == 0;
    default:
        return false;
    }
}

/*
 * RFC 7517 section 4.7: the certificate's key must be the one the JWK's own members describe.
 * Members are optional here (the certificate is what X509-SVID.md section 6 publishes), but
 * when present they must agree, so a document cannot say two things about one key.
 */
static int
check_x5c_key(const json_t *jwk, const char *kty, X509 *cert, bool *ignore, struct pc_err *err)
{
    EVP_PKEY *cert_key = X509_get0_pubkey(cert);
    EVP_PKEY *jwk_key = NULL;
    int rc;

    if (cert_key == NULL || !kty_matches(kty, cert_key)) {
        ERR_clear_error();
        return pc_err_set(err, PC_EPARSE, "\"kty\" %s does not match the x5c certificate's key",
                          kty);
    }
    rc = pc_jwk_public_key(jwk, &jwk_key, err);
    if (rc == PC_ENOENT) {
        return 0;
    }
    if (rc == PC_ENOTSUP) {
        /* A curve we do not know: section 4.2.1 has the whole entry ignored. */
        *ignore = true;
        return 0;
    }
    if (rc == 0 && EVP_PKEY_eq(jwk_key, cert_key) != 1) {
        rc = pc_err_set(err, PC_EPARSE, "key members do not match the x5c certificate");
    }
    EVP_PKEY_free(jwk_key);
    ERR_clear_error();
    return rc;
}

/* X509-SVID.md section 6.2: the first x5c value is the CA certificate; the rest is ignored. */
static int
read_x509_entry(const json_t *jwk, const char *kty, struct spiffe_document *doc, struct pc_err *err)
{
    const json_t *x5c = json_object_get(jwk, "x5c");
    const json_t *first;
    unsigned char *der = NULL;
    size_t der_len = 0;
    bool ignore = false;
    int rc;

    if (x5c != NULL && !json_is_array(x5c)) {
        return pc_err_set(err, PC_EPARSE, "\"x5c\" is not an array");
    }
    if (x5c == NULL || json_array_size(x5c) == 0) {
        doc->n_ignored++;
        return 0;
    }
    first = json_array_get(x5c, 0);
    if (!json_is_string(first)) {
        return pc_err_set(err, PC_EPARSE, "\"x5c\"[0] is not a string");
    }
    rc = pc_jwk_base64_decode(json_string_value(first), json_string_length(first), false, &der,
                              &der_len);
    if (rc != 0) {
        return pc_err_set(err, rc, rc == PC_EPARSE ? "\"x5c\"[0] is not base64" : "out of memory");
    }
    rc = push_der_cert(der, der_len, doc->certs, "\"x5c\"[0]", err);
    pc_free(der);
    if (rc == 0) {
        rc = check_x5c_key(jwk, kty, sk_X509_value(doc->certs, sk_X509_num(doc->certs) - 1),
                           &ignore, err);
    }
    if (rc != 0 || ignore) {
        X509_free(sk_X509_pop(doc->certs));
        doc->n_ignored += ignore;
    }
    return rc;
}

static bool
has_kid(const struct spiffe_document *doc, const char *kid)
{
    for (size_t i = 0; i < doc->n_keys; i++) {
        if (strcmp(doc->keys[i].kid, kid) == 0) {
            return true;
        }
    }
    return false;
}

/* JWT-SVID.md section 6: each "jwt-svid" entry is a signing key identified by its kid. */
static int
read_jwt_entry(const json_t *jwk, struct spiffe_document *doc, struct pc_err *err)
{
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const json_t *alg = json_object_get(jwk, "alg");
    struct pc_bundle_jwt_key *key = &doc->keys[doc->n_keys];
    int rc;

    if (kid == NULL || kid[0] == '\0') {
        return pc_err_set(err, PC_EPARSE, "jwt-svid key without a \"kid\" string");
    }
    if (has_kid(doc, kid)) {
        return pc_err_set(err, PC_EPARSE, "jwt-svid \"kid\" \"%.64s\" appears twice", kid);
    }
    if (alg != NULL && !json_is_string(alg)) {
        return pc_err_set(err, PC_EPARSE, "\"alg\" is not a string");
    }
    rc = pc_jwk_public_key(jwk, &key->key, err);
    if (rc == PC_ENOTSUP) {
        doc->n_ignored++;
        return 0;
    }
    if (rc != 0) {
        return rc == PC_ENOENT ? pc_err_set(err, PC_EPARSE, "jwt-svid key without key members")
                               : rc;
    }
    key->kid = pc_strdup(kid);
    key->alg = alg != NULL ? pc_strdup(json_string_value(alg)) : NULL;
    doc->n_keys++;
    if (key->kid == NULL || (alg != NULL && key->alg == NULL)) {
        return pc_err_set(err, PC_ENOMEM, "out of memory reading a jwt-svid key");
    }
    return 0;
}

/* Returns true when the entry names a use or key type section 4.2 tells us to skip. */
static bool
is_unknown_entry(const char *use, const char *kty)
{
    if (strcmp(use, "x509-svid") != 0 && strcmp(use, "jwt-svid") != 0) {
        return true;
    }
    return strcmp(kty, "EC") != 0 && strcmp(kty, "RSA") != 0 && strcmp(kty, "OKP") != 0;
}

static int
read_entry(const json_t *jwk, struct spiffe_document *doc, struct pc_err *err)
{
    const json_t *use = json_object_get(jwk, "use");
    const json_t *kty = json_object_get(jwk, "kty");

    if (!json_is_object(jwk)) {
        return pc_err_set(err, PC_EPARSE, "not an object");
    }
    if ((use != NULL && !json_is_string(use)) || (kty != NULL && !json_is_string(kty))) {
        return pc_err_set(err, PC_EPARSE, "\"%s\" is not a string",
                          use != NULL && !json_is_string(use) ? "use" : "kty");
    }
    /* Section 4.2: a missing or unknown "use" or "kty" has the whole entry ignored. */
    if (use == NULL || kty == NULL
        || is_unknown_entry(json_string_value(use), json_string_value(kty))) {
        doc->n_ignored++;
        return 0;
    }
    if (strcmp(json_string_value(use), "x509-svid") == 0) {
        return read_x509_entry(jwk, json_string_value(kty), doc, err);
    }
    return read_jwt_entry(jwk, doc, err);
}

/* Puts "prefix: " in front of the message err already holds. */
static int
prefix_err(struct pc_err *err, int code, const char *prefix, size_t index)
{
    char msg[PC_ERR_MSG_MAX];

    if (err == NULL) {
        return code;
    }
    snprintf(msg, sizeof(msg), "%s", err->msg);
    return pc_err_set(err, code, "%s[%zu]: %s", prefix, index, msg);
}

static int
read_document(const json_t *root, struct spiffe_document *doc, struct pc_err *err)
{
    const json_t *keys = json_object_get(root, "keys");
    size_t n;
    int rc;

    if (!json_is_object(root)) {
        return pc_err_set(err, PC_EPARSE, "the document is not a JSON object");
    }
    /* Section 4.1.3: "keys" must be present, though it may be empty. */
    if (!json_is_array(keys)) {
        return pc_err_set(err, PC_EPARSE, "\"keys\" is missing or not an array");
    }
    n = json_array_size(keys);
    if (n > PC_BUNDLE_MAX_KEYS) {
        return pc_err_set(err, PC_ELIMIT, "%zu keys exceed %d", n, PC_BUNDLE_MAX_KEYS);
    }
    rc = read_counter(root, "spiffe_sequence", &doc->has_sequence, &doc->sequence, err);
    if (rc == 0) {
        rc = read_counter(root, "spiffe_refresh_hint", &doc->has_refresh_hint, &doc->refresh_hint_s,
                          err);
    }
    doc->keys = pc_calloc(n + 1, sizeof(*doc->keys));
    if (rc == 0 && doc->keys == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory reading a SPIFFE bundle");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = read_entry(json_array_get(keys, i), doc, err);
        if (rc != 0) {
            rc = prefix_err(err, rc, "keys", i);
        }
    }
    return rc;
}

static void
release_document(struct spiffe_document *doc)
{
    sk_X509_pop_free(doc->certs, X509_free);
    free_jwt_keys(doc->keys, doc->n_keys);
}

/* Moves a read document into the builder; after the checks nothing here can fail. */
static int
merge_document(struct pc_bundle_builder *builder, const char *trust_domain,
               struct spiffe_document *doc, struct pc_err *err)
{
    bool is_new = false;
    struct pc_bundle *bundle = NULL;
    int rc = take_bundle(builder, trust_domain, &bundle, &is_new, err);

    if (rc != 0) {
        return rc;
    }
    if (bundle->has_spiffe_document) {
        return pc_err_set(err, PC_EEXIST, "trust domain \"%s\" already has a SPIFFE bundle",
                          trust_domain);
    }
    rc = merge_certs(bundle, doc->certs, err);
    if (rc != 0) {
        if (is_new) {
            drop_new_bundle(builder, bundle);
        }
        return rc;
    }
    bundle->jwt_keys = doc->keys;
    bundle->n_jwt_keys = doc->n_keys;
    doc->keys = NULL;
    doc->n_keys = 0;
    bundle->has_spiffe_document = true;
    bundle->has_sequence = doc->has_sequence;
    bundle->sequence = doc->sequence;
    bundle->has_refresh_hint = doc->has_refresh_hint;
    bundle->refresh_hint_s = doc->refresh_hint_s;
    return 0;
}

static int
parse_json(const char *json, size_t len, json_t **root, struct pc_err *err)
{
    json_error_t jerr;

    if (len > PC_BUNDLE_MAX_BYTES) {
        return pc_err_set(err, PC_ELIMIT, "document of %zu bytes exceeds %u", len,
                          PC_BUNDLE_MAX_BYTES);
    }
    /* A repeated member name could say two things about one key; RFC 8259 leaves the choice
     * open, so the document is refused rather than one of them picked. */
    *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        return pc_err_set(err, PC_EPARSE, "line %d column %d: %s", jerr.line, jerr.column,
                          jerr.text);
    }
    return 0;
}

int
pc_bundle_builder_add_spiffe(struct pc_bundle_builder *builder, const char *trust_domain,
                             const char *json, size_t len, struct pc_err *err)
{
    struct spiffe_document doc = { 0 };
    json_t *root = NULL;
    int rc = check_trust_domain(trust_domain, err);

    if (rc != 0) {
        return rc;
    }
    rc = parse_json(json, len, &root, err);
    if (rc != 0) {
        goto out;
    }
    doc.certs = sk_X509_new_null();
    if (doc.certs == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory reading a SPIFFE bundle");
        goto out;
    }
    rc = read_document(root, &doc, err);
    if (rc == 0) {
        rc = merge_document(builder, trust_domain, &doc, err);
    }
    if (rc == 0 && doc.n_ignored > 0) {
        pc_log(PC_LOG_DEBUG, "tls", "spiffe_bundle_keys_ignored", "trust_domain=%s count=%zu",
               trust_domain, doc.n_ignored);
    }

out:
    if (rc != 0 && err != NULL) {
        char msg[PC_ERR_MSG_MAX];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        pc_err_set(err, rc, "SPIFFE bundle of trust domain \"%s\": %s", trust_domain, msg);
    }
    release_document(&doc);
    json_decref(root);
    return rc;
}

/* Reads exactly len bytes from fd into buf; returns 0 or a negative PC_E* code. */
static int
read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            return -errno;
        }
        if (n == 0) {
            /* The file shrank between fstat and read: a rotation in progress. */
            return PC_EIO;
        }
        got += (size_t)n;
    }
    return 0;
}

/* Reads a whole regular file of at most PC_BUNDLE_MAX_BYTES into *data (pc_malloc'd). */
static int
read_file(const char *path, char **data, size_t *len, struct pc_err *err)
{
    struct stat st;
    char *buf = NULL;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        rc = -errno;
        return pc_err_set(err, rc, "%s: cannot open: %s", path, pc_strerror(rc));
    }
    if (fstat(fd, &st) == -1) {
        rc = -errno;
        pc_err_set(err, rc, "%s: cannot stat: %s", path, pc_strerror(rc));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > PC_BUNDLE_MAX_BYTES) {
        rc = pc_err_set(err, PC_ELIMIT, "%s: not a regular file of at most %u bytes", path,
                        PC_BUNDLE_MAX_BYTES);
        goto out_close;
    }
    buf = pc_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    rc = read_all(fd, buf, (size_t)st.st_size);
    if (rc != 0) {
        pc_err_set(err, rc, "%s: cannot read: %s", path, pc_strerror(rc));
        goto out_close;
    }
    *data = buf;
    *len = (size_t)st.st_size;
    buf = NULL;

out_close:
    pc_free(buf);
    close(fd);
    return rc;
}

int
pc_bundle_builder_add_pem_file(struct pc_bundle_builder *builder, const char *trust_domain,
                               const char *path, struct pc_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len, err);

    if (rc == 0) {
        rc = pc_bundle_builder_add_pem(builder, trust_domain, data, len, err);
    }
    pc_free(data);
    return rc;
}

int
pc_bundle_builder_add_spiffe_file(struct pc_bundle_builder *builder, const char *trust_domain,
                                  const char *path, struct pc_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len, err);

    if (rc == 0) {
        rc = pc_bundle_builder_add_spiffe(builder, trust_domain, data, len, err);
    }
    pc_free(data);
    return rc;
}

int
pc_bundle_builder_add_system_roots(struct pc_bundle_builder *builder, struct pc_err *err)
{
    bool is_new = false;
    struct pc_bundle *bundle = NULL;
    int rc = take_bundle(builder, NULL, &bundle, &is_new, err);

    if (rc == 0) {
        bundle->use_system_roots = true;
    }
    return rc;
}

/* Makes the bundle's X509_STORE from its authorities (and the system roots when asked). */
static int
build_store(struct pc_bundle *bundle, struct pc_err *err)
{
    int rc = 0;

    bundle->store = X509_STORE_new();
    if (bundle->store == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory building a trust store");
    }
    for (int i = 0; i < sk_X509_num(bundle->authorities) && rc == 0; i++) {
        /* Duplicates are fine: OpenSSL keeps one copy and reports success. */
        if (X509_STORE_add_cert(bundle->store, sk_X509_value(bundle->authorities, i)) != 1) {
            rc = pc_err_set(err, PC_ENOMEM, "out of memory building a trust store");
        }
    }
    if (rc == 0 && bundle->use_system_roots && X509_STORE_set_default_paths(bundle->store) != 1) {
        rc = pc_err_set(err, PC_EIO, "cannot load the system's default CA certificates");
    }
    ERR_clear_error();
    return rc;
}

static int
compare_bundles(const void *a, const void *b)
{
    const struct pc_bundle *x = *(const struct pc_bundle *const *)a;
    const struct pc_bundle *y = *(const struct pc_bundle *const *)b;

    return strcmp(x->trust_domain, y->trust_domain);
}

static void
set_free(struct pc_bundle_set *set)
{
    for (size_t i = 0; i < set->n_bundles; i++) {
        bundle_free(set->bundles[i]);
    }
    pc_free(set->bundles);
    bundle_free(set->plain);
    pc_free(set);
}

struct pc_bundle_set *
pc_bundle_builder_finish(struct pc_bundle_builder *builder, struct pc_err *err)
{
    struct pc_bundle_set *set = pc_calloc(1, sizeof(*set));
    int rc = 0;

    if (set == NULL) {
        pc_bundle_builder_free(builder);
        pc_err_set(err, PC_ENOMEM, "out of memory building a trust bundle set");
        return NULL;
    }
    /* The set takes the builder's bundles; the builder shell is released below. */
    set->bundles = builder->bundles;
    set->n_bundles = builder->n_bundles;
    set->plain = builder->plain;
    builder->bundles = NULL;
    builder->n_bundles = 0;
    builder->plain = NULL;
    pc_bundle_builder_free(builder);

    for (size_t i = 0; i < set->n_bundles && rc == 0; i++) {
        rc = build_store(set->bundles[i], err);
    }
    if (rc == 0 && set->plain != NULL) {
        rc = build_store(set->plain, err);
    }
    if (rc != 0) {
        set_free(set);
        return NULL;
    }
    if (set->n_bundles > 1) {
        qsort(set->bundles, set->n_bundles, sizeof(*set->bundles), compare_bundles);
    }
    atomic_init(&set->refs, 1);
    return set;
}

struct pc_bundle_set *
pc_bundle_set_ref(struct pc_bundle_set *set)
{
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void
pc_bundle_set_unref(struct pc_bundle_set *set)
{
    if (set == NULL) {
        return;
    }
    /* Release ordering publishes this thread's reads; acquire on the last one orders the free. */
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) {
        set_free(set);
    }
}

const struct pc_bundle *
pc_bundle_set_find(const struct pc_bundle_set *set, const char *trust_domain, size_t len)
{
    size_t lo = 0;
    size_t hi = set->n_bundles;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct pc_bundle *b = set->bundles[mid];
        size_t n = len < b->trust_domain_len ? len : b->trust_domain_len;
        int cmp = memcmp(trust_domain, b->trust_domain, n);

        /* strcmp order: a name sorts before every longer name it is a prefix of. */
        if (cmp == 0) {
            cmp = len < b->trust_domain_len ? -1 : len > b->trust_domain_len;
        }
        if (cmp == 0) {
            return b;
        }
        if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const struct pc_bundle *
pc_bundle_set_plain(const struct pc_bundle_set *set)
{
    return set->plain;
}

size_t
pc_bundle_set_count(const struct pc_bundle_set *set)
{
    return set->n_bundles;
}

const struct pc_bundle *
pc_bundle_set_at(const struct pc_bundle_set *set, size_t i)
{
    return i < set->n_bundles ? set->bundles[i] : NULL;
}

const char *
pc_bundle_trust_domain(const struct pc_bundle *bundle)
{
    return bundle->trust_domain;
}

X509_STORE *
pc_bundle_store(const struct pc_bundle *bundle)
{
    return bundle->store;
}

size_t
pc_bundle_authority_count(const struct pc_bundle *bundle)
{
    return (size_t)sk_X509_num(bundle->authorities);
}

bool
pc_bundle_sequence(const struct pc_bundle *bundle, uint64_t *value)
{
    *value = bundle->sequence;
    return bundle->has_sequence;
}

bool
pc_bundle_refresh_hint_s(const struct pc_bundle *bundle, uint64_t *value)
{
    *value = bundle->refresh_hint_s;
    return bundle->has_refresh_hint;
}

size_t
pc_bundle_jwt_key_count(const struct pc_bundle *bundle)
{
    return bundle->n_jwt_keys;
}

const struct pc_bundle_jwt_key *
pc_bundle_jwt_key_at(const struct pc_bundle *bundle, size_t i)
{
    return i < bundle->n_jwt_keys ? &bundle->jwt_keys[i] : NULL;
}

const struct pc_bundle_jwt_key *
pc_bundle_jwt_key_find(const struct pc_bundle *bundle, const char *kid, size_t len)
{
    for (size_t i = 0; i < bundle->n_jwt_keys; i++) {
        const char *k = bundle->jwt_keys[i].kid;

        if (strlen(k) == len && memcmp(k, kid, len) == 0) {
            return &bundle->jwt_keys[i];
        }
    }
    return NULL;
}
