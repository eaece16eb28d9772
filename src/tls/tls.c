/*
 * TLS contexts: building them from a snapshot, choosing them by SNI, rotating ticket keys and
 * watching the files they came from.
 *
 * Built on the control thread; read by the workers. Every context of one HTTPS port carries
 * the same SNI callback, whose argument describes the port's listeners and certificates; the
 * callback moves the session to the chosen certificate's context with SSL_set_SSL_CTX.
 */
#include "tls/tls.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/log.h"
#include "tls/bundle.h"
#include "tls/material.h"
#include "tls/verify.h"

/* RFC 9325 section 4.2: ECDHE key exchange with AEAD ciphers only. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS    "X25519:P-256:P-384"

struct cert_ctx {
    SSL_CTX *ctx;
    char **names; /* DNS SANs of the leaf, lower-cased */
    size_t n_names;
};

struct listener_ctx {
    const struct pc_listener *listener;
    struct cert_ctx *certs;
    size_t n_certs;
    struct peer_auth *auth;                    /* NULL: clients are not asked for certificates */
    unsigned char sid[SSL_MAX_SID_CTX_LENGTH]; /* session id context: SHA-256 of its name */
};

struct port_ctx {
    const char *name;
    struct listener_ctx *listeners;
    size_t n_listeners;
};

struct backend_ctx {
    const struct pc_backend_tls *tls;
    SSL_CTX *ctx;
    struct peer_auth *auth;
};

struct pc_tls_set {
    _Atomic long refs;
    struct pc_config *cfg;
    struct port_ctx *ports;
    size_t n_ports;
    struct backend_ctx *backends;
    size_t n_backends;
};

/* Per-session data: the listener SNI chose, its verification, and why a peer was refused. */
static int listener_index = -1;
static int auth_index = -1;
static int refusal_index = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void
make_index(void)
{
    listener_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    auth_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    refusal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* --- loading PEM material --- */

static BIO *
open_source(const struct pc_pem_source *src, struct pc_err *err)
{
    BIO *bio = NULL;

    switch (src->origin) {
    case PC_PEM_FILE:
        bio = BIO_new_file(src->path, "r");
        if (bio == NULL) {
            pc_err_set(err, PC_EIO, "cannot read %s", src->path);
        }
        return bio;
    case PC_PEM_INLINE:
        bio = BIO_new_mem_buf(src->data, (int)src->len);
        if (bio == NULL) {
            pc_err_set(err, PC_ENOMEM, "out of memory");
        }
        return bio;
    case PC_PEM_WORKLOAD_API:
        break;
    }
    pc_err_set(err, PC_ENOTSUP, "no SVID from the Workload API yet");
    return NULL;
}

static const char *
source_label(const struct pc_pem_source *src)
{
    return src->origin == PC_PEM_FILE ? src->path : "inline data";
}

/* Reads a chain (leaf first) and its key, and checks that they belong together. */
static int
load_certificate(const struct pc_tls_certificate *c, struct pc_tls_material *m, X509 **leaf,
                 STACK_OF(X509) * *chain, EVP_PKEY **key, struct pc_err *err)
{
    BIO *bio = NULL;
    X509 *x;
    int rc = PC_EINVAL;

    if (c->chain.origin == PC_PEM_WORKLOAD_API) {
        return pc_tls_material_svid(m, c->spiffe_id, leaf, chain, key, err);
    }
    *leaf = NULL;
    *key = NULL;
    *chain = sk_X509_new_null();
    bio = open_source(&c->chain, err);
    if (bio == NULL || *chain == NULL) {
        goto out;
    }
    *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (*leaf == NULL) {
        pc_err_set(err, PC_EINVAL, "%s: %s: no PEM certificate", c->name, source_label(&c->chain));
        goto out;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        sk_X509_push(*chain, x);
    }
    ERR_clear_error();
    BIO_free(bio);

    bio = open_source(&c->key, err);
    if (bio == NULL) {
        goto out;
    }
    *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (*key == NULL) {
        pc_err_set(err, PC_EINVAL, "%s: %s: no PEM private key", c->name, source_label(&c->key));
        goto out;
    }
    if (X509_check_private_key(*leaf, *key) != 1) {
        pc_err_set(err, PC_EINVAL, "%s: the private key does not match the certificate", c->name);
        goto out;
    }
    rc = 0;

out:
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

static void
free_certificate(X509 *leaf, STACK_OF(X509) * chain, EVP_PKEY *key)
{
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
}

/* --- session tickets --- */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
};

struct ticket_ring {
    struct ticket_key keys[2]; /* current, previous */
    int n_keys;
};

/* Rings are never freed while a worker may read them: a rotation retires the ring two
 * rotations old, and rotations are minutes apart while a read takes microseconds. */
static _Atomic(struct ticket_ring *) ticket_ring;
static struct ticket_ring *retired[2];

int
pc_tls_tickets_rotate(void)
{
    struct ticket_ring *old = atomic_load(&ticket_ring);
    struct ticket_ring *ring = pc_calloc(1, sizeof(*ring));

    if (ring == NULL) {
        return PC_ENOMEM;
    }
    if (RAND_bytes((unsigned char *)&ring->keys[0], sizeof(ring->keys[0])) != 1) {
        pc_free(ring);
        return PC_EIO;
    }
    ring->n_keys = 1;
    if (old != NULL) {
        ring->keys[1] = old->keys[0];
        ring->n_keys = 2;
    }
    atomic_store(&ticket_ring, ring);

    if (retired[1] != NULL) {
        OPENSSL_cleanse(retired[1], sizeof(*retired[1]));
        pc_free(retired[1]);
    }
    retired[1] = retired[0];
    retired[0] = old;
    return 0;
}

static int
set_ticket_keys(const struct ticket_key *k, unsigned char *iv, EVP_CIPHER_CTX *cipher,
                EVP_MAC_CTX *mac, int enc)
{
    OSSL_PARAM params[3];

    params[0] =
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(mac, params) != 1) {
        return -1;
    }
    if (enc) {
        return EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
    }
    return EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: returns 1 (use), 2 (use and renew under the current key), 0 (no
 * such key: full handshake), -1 (error). */
static int
on_ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
              EVP_MAC_CTX *mac, int enc)
{
    const struct ticket_ring *ring = atomic_load(&ticket_ring);

    if (ring == NULL) {
        return enc ? -1 : 0;
    }
    if (enc) {
        memcpy(name, ring->keys[0].name, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
            return -1;
        }
        return set_ticket_keys(&ring->keys[0], iv, cipher, mac, 1) == 0 ? 1 : -1;
    }
    for (int i = 0; i < ring->n_keys; i++) {
        if (memcmp(name, ring->keys[i].name, 16) == 0) {
            if (set_ticket_keys(&ring->keys[i], iv, cipher, mac, 0) != 0) {
                return -1;
            }
            /* 2 asks OpenSSL for a fresh ticket: always in TLS 1.3, whose clients use a ticket
             * once (RFC 8446 section C.4) and would make every other connection a full
             * handshake otherwise; in TLS 1.2 when the ticket was sealed with an older key. */
            return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
        }
    }
    return 0;
}

/* --- server contexts --- */

static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
        unsigned int inlen, void *arg)
{
    static const unsigned char http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

    if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof(http11), in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        /* RFC 7301 section 3.2: no protocol in common is a fatal no_application_protocol. */
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* A DNS name matches a pattern exactly or, for "*.example.com", as a suffix of at least one
 * label (the Gateway API's reading of wildcard hostnames). */
static bool
name_matches(const char *pattern, const char *name)
{
    size_t plen = strlen(pattern);
    size_t nlen = strlen(name);

    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        return nlen > plen - 1 && strcasecmp(name + nlen - (plen - 1), pattern + 1) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static struct listener_ctx *
choose_listener(struct port_ctx *port, const char *sni)
{
    struct listener_ctx *wildcard = NULL;
    struct listener_ctx *any = NULL;

    for (size_t i = 0; i < port->n_listeners; i++) {
        struct listener_ctx *l = &port->listeners[i];
        const char *h = l->listener->hostname;

        if (h == NULL) {
            any = any != NULL ? any : l;
        } else if (sni != NULL && h[0] != '*' && strcasecmp(h, sni) == 0) {
            return l;
        } else if (sni != NULL && h[0] == '*' && wildcard == NULL && name_matches(h, sni)) {
            wildcard = l;
        }
    }
    if (wildcard != NULL) {
        return wildcard;
    }
    return any != NULL ? any : &port->listeners[0];
}

static struct cert_ctx *
choose_certificate(struct listener_ctx *l, const char *sni)
{
    for (size_t i = 0; sni != NULL && i < l->n_certs; i++) {
        for (size_t k = 0; k < l->certs[i].n_names; k++) {
            if (name_matches(l->certs[i].names[k], sni)) {
                return &l->certs[i];
            }
        }
    }
    return &l->certs[0];
}

/*
 * Reads the host_name of the server_name extension (RFC 6066 section 3) from the ClientHello
 * into name. Returns false when there is none or it is not a plausible DNS name.
 */
static bool
read_sni(SSL *ssl, char *name, size_t size)
{
    const unsigned char *p;
    size_t len;
    size_t name_len;

    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) {
        return false;
    }
    /* list length (2), then entries of type (1), length (2), name */
    if ((size_t)((p[0] << 8) | p[1]) != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name) {
        return false;
    }
    name_len = (size_t)((p[3] << 8) | p[4]);
    if (name_len == 0 || name_len >= size || name_len > len - 5) {
        return false;
    }
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = p[5 + i];

        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
        name[i] = (char)c;
    }
    name[name_len] = '\0';
    return true;
}

/*
 * Chooses the listener and certificate from the ClientHello, before OpenSSL looks at session
 * resumption. Each listener has its own session id context, and a session only resumes under
 * the context it was made in: a ticket issued on a listener that asks for no client certificate
 * can never resume on one that requires one, which it otherwise could, since TLS 1.3
 * resumption sends no CertificateRequest and ticket keys are shared across the process.
 */
static int
on_client_hello(SSL *ssl, int *alert, void *arg)
{
    struct port_ctx *port = arg;
    char buf[256];
    const char *sni = read_sni(ssl, buf, sizeof(buf)) ? buf : NULL;
    struct listener_ctx *l = choose_listener(port, sni);
    struct cert_ctx *c = choose_certificate(l, sni);

    if (SSL_get_SSL_CTX(ssl) != c->ctx && SSL_set_SSL_CTX(ssl, c->ctx) == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (SSL_set_session_id_context(ssl, l->sid, sizeof(l->sid)) != 1) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    /* SSL_set_SSL_CTX moves the certificate, not the verify mode: set the listener's. */
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(c->ctx), SSL_CTX_get_verify_callback(c->ctx));
    SSL_set_ex_data(ssl, listener_index, (void *)l->listener);
    SSL_set_ex_data(ssl, auth_index, l->auth);
    return SSL_CLIENT_HELLO_SUCCESS;
}

const struct pc_listener *
pc_tls_sni_listener(SSL *ssl)
{
    return SSL_get_ex_data(ssl, listener_index);
}

static int
apply_common(SSL_CTX *ctx)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
                                 | SSL_OP_NO_COMPRESSION);
    /* Idle connections give their I/O buffers back: tens of KiB each otherwise. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1
        || SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1
        || SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1
        || SSL_CTX_set_ciphersuites(ctx, TLS13_CIPHERS) != 1
        || SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
        return PC_EINVAL;
    }
    return 0;
}

static int
collect_names(struct cert_ctx *c, X509 *leaf)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;

    c->names = pc_calloc((size_t)n + 1, sizeof(char *));
    if (c->names == NULL) {
        GENERAL_NAMES_free(sans);
        return PC_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

        if (gn->type == GEN_DNS) {
            const ASN1_IA5STRING *s = gn->d.dNSName;

            c->names[c->n_names] = pc_strndup((const char *)s->data, (size_t)s->length);
            if (c->names[c->n_names] != NULL) {
                c->n_names++;
            }
        }
    }
    GENERAL_NAMES_free(sans);
    return 0;
}

static int
build_cert_ctx(struct cert_ctx *c, const struct pc_tls_certificate *cert, struct port_ctx *port,
               struct pc_tls_material *m, struct pc_err *err)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    rc = load_certificate(cert, m, &leaf, &chain, &key, err);
    if (rc != 0) {
        goto out;
    }
    c->ctx = SSL_CTX_new(TLS_server_method());
    rc = c->ctx != NULL ? apply_common(c->ctx) : PC_ENOMEM;
    if (rc != 0 || SSL_CTX_use_certificate(c->ctx, leaf) != 1
        || SSL_CTX_use_PrivateKey(c->ctx, key) != 1 || SSL_CTX_set1_chain(c->ctx, chain) != 1) {
        pc_err_set(err, PC_EINVAL, "%s: the certificate cannot be used for TLS", cert->name);
        rc = PC_EINVAL;
        goto out;
    }
    SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(c->ctx, on_ticket_key);
    SSL_CTX_set_alpn_select_cb(c->ctx, on_alpn, NULL);
    SSL_CTX_set_client_hello_cb(c->ctx, on_client_hello, port);
    rc = collect_names(c, leaf);

out:
    free_certificate(leaf, chain, key);
    ERR_clear_error();
    return rc;
}

/* --- verification --- */

/*
 * How one listener verifies clients, or one BackendTLSPolicy verifies its upstream: the bundle
 * set and the policy handed to pc_verify_peer. Lives as long as the TLS set.
 */
struct peer_auth {
    struct pc_bundle_set *bundles;
    struct pc_verify_policy policy;
    const char **dns_names;
    const char **uris;
};

static int
add_workload_bundle(struct pc_bundle_builder *b, const struct pc_trust_bundle *tb,
                    struct pc_tls_material *m, struct pc_err *err)
{
    char *pem = NULL;
    size_t len = 0;
    int rc;

    rc = pc_tls_material_bundle_pem(m, tb->trust_domain, &pem, &len, err);
    if (rc == 0) {
        rc = pc_bundle_builder_add_pem(b, tb->trust_domain, pem, len, err);
    }
    pc_free(pem);
    return rc;
}

static int
add_bundle(struct pc_bundle_builder *b, const struct pc_trust_bundle *tb, struct pc_tls_material *m,
           struct pc_err *err)
{
    const struct pc_pem_source *src = &tb->source;
    bool is_spiffe = tb->format == PC_BUNDLE_SPIFFE;

    switch (src->origin) {
    case PC_PEM_FILE:
        return is_spiffe ? pc_bundle_builder_add_spiffe_file(b, tb->trust_domain, src->path, err)
                         : pc_bundle_builder_add_pem_file(b, tb->trust_domain, src->path, err);
    case PC_PEM_INLINE:
        return is_spiffe
                   ? pc_bundle_builder_add_spiffe(b, tb->trust_domain, src->data, src->len, err)
                   : pc_bundle_builder_add_pem(b, tb->trust_domain, src->data, src->len, err);
    case PC_PEM_WORKLOAD_API:
        break;
    }
    return add_workload_bundle(b, tb, m, err);
}

static void
free_auth(struct peer_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    pc_bundle_set_unref(auth->bundles);
    pc_free(auth->dns_names);
    pc_free(auth->uris);
    pc_free(auth);
}

static struct peer_auth *
build_auth(const struct pc_trust_bundle *bundles, size_t n, bool use_system_roots,
           enum pc_verify_usage usage, struct pc_tls_material *m, struct pc_err *err)
{
    struct peer_auth *auth = pc_calloc(1, sizeof(*auth));
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    int rc = auth != NULL && b != NULL ? 0 : PC_ENOMEM;

    if (rc == 0 && use_system_roots) {
        rc = pc_bundle_builder_add_system_roots(b, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = add_bundle(b, &bundles[i], m, err);
        if (bundles[i].trust_domain != NULL) {
            /* A bundle naming a trust domain means clients prove who they are with SVIDs. */
            auth->policy.mode = PC_VERIFY_SPIFFE;
        }
    }
    if (rc != 0) {
        pc_bundle_builder_free(b);
        free_auth(auth);
        return NULL;
    }
    auth->bundles = pc_bundle_builder_finish(b, err);
    if (auth->bundles == NULL) {
        free_auth(auth);
        return NULL;
    }
    auth->policy.usage = usage;
    return auth;
}

/* OpenSSL's whole-chain verification, replaced by ours. Returns 1 to accept, 0 to refuse. */
static int
on_verify(X509_STORE_CTX *ctx, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct peer_auth *auth = arg;
    struct pc_verify_result result;

    if (pc_verify_peer(ctx, auth->bundles, &auth->policy, &result) == 0) {
        return 1;
    }
    /* The reason is a static string: keep it on the session for the connection's log line. */
    SSL_set_ex_data(ssl, refusal_index, (void *)result.reason);
    return 0;
}

const char *
pc_tls_refusal(SSL *ssl)
{
    return refusal_index >= 0 ? SSL_get_ex_data(ssl, refusal_index) : NULL;
}

bool
pc_tls_peer_is_svid(SSL *ssl)
{
    const struct peer_auth *auth = SSL_get_ex_data(ssl, auth_index);

    return auth != NULL && auth->policy.mode == PC_VERIFY_SPIFFE;
}

static void
apply_client_verify(SSL_CTX *ctx, const struct pc_listener_tls *tls, struct peer_auth *auth)
{
    int mode = SSL_VERIFY_PEER;

    if (tls->client_mode == PC_CLIENT_CERT_NONE) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return;
    }
    if (tls->client_mode == PC_CLIENT_CERT_REQUIRE) {
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, on_verify, auth);
}

/* A listener's session id context: stable across reloads, so tickets survive them. */
static void
listener_sid(const struct pc_listener *l, unsigned char sid[SSL_MAX_SID_CTX_LENGTH])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    memset(sid, 0, SSL_MAX_SID_CTX_LENGTH);
    if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(md, l->gateway, strlen(l->gateway)) == 1
        && EVP_DigestUpdate(md, "/", 1) == 1 && EVP_DigestUpdate(md, l->name, strlen(l->name)) == 1
        && EVP_DigestFinal_ex(md, digest, &n) == 1) {
        memcpy(sid, digest, n < SSL_MAX_SID_CTX_LENGTH ? n : SSL_MAX_SID_CTX_LENGTH);
    }
    EVP_MD_CTX_free(md);
}

static int
build_port(struct port_ctx *pc, const struct pc_port *port, bool has_tickets,
           struct pc_tls_material *m, struct pc_err *err)
{
    pc->name = port->name;
    pc->listeners = pc_calloc(port->n_listeners, sizeof(*pc->listeners));
    if (pc->listeners == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < port->n_listeners; i++) {
        const struct pc_listener *l = &port->listeners[i];
        struct listener_ctx *lc = &pc->listeners[pc->n_listeners];

        if (l->tls == NULL || l->tls->n_certificates == 0) {
            continue;
        }
        lc->listener = l;
        listener_sid(l, lc->sid);
        lc->certs = pc_calloc(l->tls->n_certificates, sizeof(*lc->certs));
        if (lc->certs == NULL) {
            return PC_ENOMEM;
        }
        pc->n_listeners++;
        if (l->tls->client_mode != PC_CLIENT_CERT_NONE) {
            lc->auth = build_auth(l->tls->client_bundles, l->tls->n_client_bundles, false,
                                  PC_VERIFY_PEER_CLIENT, m, err);
            if (lc->auth == NULL) {
                return PC_EINVAL;
            }
        }
        for (size_t k = 0; k < l->tls->n_certificates; k++) {
            int rc = build_cert_ctx(&lc->certs[k], &l->tls->certificates[k], pc, m, err);

            lc->n_certs++;
            if (rc != 0) {
                return rc;
            }
            apply_client_verify(lc->certs[k].ctx, l->tls, lc->auth);
            SSL_CTX_set_session_id_context(lc->certs[k].ctx, lc->sid, sizeof(lc->sid));
            if (!has_tickets) {
                /* No ticket, and no session cache either: every connection is a full
                 * handshake. */
                SSL_CTX_set_options(lc->certs[k].ctx, SSL_OP_NO_TICKET);
                SSL_CTX_set_num_tickets(lc->certs[k].ctx, 0);
            }
        }
    }
    return pc->n_listeners > 0 ? 0 : pc_err_set(err, PC_EINVAL, "%s: no certificate", port->name);
}

/* --- client contexts --- */

/* The names an upstream must present: its DNS and URI SANs as listed, or else its hostname
 * (Gateway API: subjectAltNames, when given, replace the hostname for verification). */
static int
expect_names(struct peer_auth *auth, const struct pc_backend_tls *tls)
{
    size_t n = tls->n_subject_alt_names;

    auth->dns_names = pc_calloc(n + 1, sizeof(char *));
    auth->uris = pc_calloc(n + 1, sizeof(char *));
    if (auth->dns_names == NULL || auth->uris == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pc_subject_alt_name *san = &tls->subject_alt_names[i];

        if (san->type == PC_SAN_DNS) {
            auth->dns_names[auth->policy.n_dns_names++] = san->value;
        } else {
            auth->uris[auth->policy.n_uris++] = san->value;
        }
    }
    if (n == 0) {
        auth->dns_names[auth->policy.n_dns_names++] = tls->hostname;
    }
    auth->policy.dns_names = auth->dns_names;
    auth->policy.uris = auth->uris;
    return 0;
}

static int
use_client_certificate(SSL_CTX *ctx, const struct pc_backend_tls *tls, struct pc_tls_material *m,
                       struct pc_err *err)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    rc = load_certificate(tls->client_certificate, m, &leaf, &chain, &key, err);
    if (rc == 0
        && (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1
            || SSL_CTX_set1_chain(ctx, chain) != 1)) {
        rc = pc_err_set(err, PC_EINVAL, "%s: the client certificate cannot be used", tls->policy);
    }
    free_certificate(leaf, chain, key);
    return rc;
}

static int
build_backend(struct backend_ctx *bc, const struct pc_backend_tls *tls, struct pc_tls_material *m,
              struct pc_err *err)
{
    static const unsigned char http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

    bc->tls = tls;
    bc->ctx = SSL_CTX_new(TLS_client_method());
    if (bc->ctx == NULL || apply_common(bc->ctx) != 0) {
        return pc_err_set(err, PC_ENOMEM, "%s: cannot create a TLS context", tls->policy);
    }
    bc->auth = build_auth(tls->bundles, tls->n_bundles, tls->use_system_roots,
                          PC_VERIFY_PEER_SERVER, m, err);
    if (bc->auth == NULL) {
        return PC_EINVAL;
    }
    if (expect_names(bc->auth, tls) != 0) {
        return pc_err_set(err, PC_ENOMEM, "out of memory");
    }
    SSL_CTX_set_verify(bc->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(bc->ctx, on_verify, bc->auth);
    SSL_CTX_set_alpn_protos(bc->ctx, http11, sizeof(http11));
    if (tls->client_certificate != NULL) {
        return use_client_certificate(bc->ctx, tls, m, err);
    }
    return 0;
}

/* --- sets --- */

static void
free_set(struct pc_tls_set *set)
{
    for (size_t p = 0; p < set->n_ports; p++) {
        for (size_t l = 0; l < set->ports[p].n_listeners; l++) {
            struct listener_ctx *lc = &set->ports[p].listeners[l];

            for (size_t c = 0; c < lc->n_certs; c++) {
                SSL_CTX_free(lc->certs[c].ctx);
                for (size_t k = 0; k < lc->certs[c].n_names; k++) {
                    pc_free(lc->certs[c].names[k]);
                }
                pc_free(lc->certs[c].names);
            }
            pc_free(lc->certs);
            free_auth(lc->auth);
        }
        pc_free(set->ports[p].listeners);
    }
    for (size_t b = 0; b < set->n_backends; b++) {
        SSL_CTX_free(set->backends[b].ctx);
        free_auth(set->backends[b].auth);
    }
    pc_free(set->ports);
    pc_free(set->backends);
    pc_config_unref(set->cfg);
    pc_free(set);
}

static size_t
count_backend_tls(const struct pc_config *cfg)
{
    size_t n = 0;

    for (size_t r = 0; r < cfg->n_rules; r++) {
        for (size_t b = 0; b < cfg->rules[r]->n_backends; b++) {
            n += cfg->rules[r]->backends[b].tls != NULL;
        }
    }
    return n;
}

static int
build_backends(struct pc_tls_set *set, struct pc_tls_material *m, struct pc_err *err)
{
    const struct pc_config *cfg = set->cfg;

    set->backends = pc_calloc(count_backend_tls(cfg) + 1, sizeof(*set->backends));
    if (set->backends == NULL) {
        return PC_ENOMEM;
    }
    for (size_t r = 0; r < cfg->n_rules; r++) {
        for (size_t b = 0; b < cfg->rules[r]->n_backends; b++) {
            const struct pc_backend_tls *tls = cfg->rules[r]->backends[b].tls;
            int rc;

            if (tls == NULL || pc_tls_set_backend_ctx(set, tls) != NULL) {
                continue;
            }
            rc = build_backend(&set->backends[set->n_backends++], tls, m, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

struct pc_tls_set *
pc_tls_set_build(struct pc_config *cfg, struct pc_tls_material *material, struct pc_err *err)
{
    struct pc_tls_set *set = pc_calloc(1, sizeof(*set));
    int rc = 0;

    pthread_once(&index_once, make_index);
    if (set == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    set->refs = 1;
    set->cfg = pc_config_ref(cfg);
    if (atomic_load(&ticket_ring) == NULL) {
        rc = pc_tls_tickets_rotate();
    }
    set->ports = pc_calloc(cfg->n_ports + 1, sizeof(*set->ports));
    if (rc != 0 || set->ports == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t p = 0; p < cfg->n_ports; p++) {
        if (!cfg->ports[p].is_tls) {
            continue;
        }
        rc = build_port(&set->ports[set->n_ports++], &cfg->ports[p], cfg->proxy.tls_session_tickets,
                        material, err);
        if (rc != 0) {
            goto fail;
        }
    }
    if (build_backends(set, material, err) != 0) {
        goto fail;
    }
    return set;

fail:
    ERR_clear_error();
    free_set(set);
    return NULL;
}

struct pc_tls_set *
pc_tls_set_ref(struct pc_tls_set *set)
{
    atomic_fetch_add(&set->refs, 1);
    return set;
}

void
pc_tls_set_unref(struct pc_tls_set *set)
{
    if (set != NULL && atomic_fetch_sub(&set->refs, 1) == 1) {
        free_set(set);
    }
}

SSL_CTX *
pc_tls_set_server_ctx(const struct pc_tls_set *set, const char *port_name)
{
    for (size_t p = 0; set != NULL && p < set->n_ports; p++) {
        if (strcmp(set->ports[p].name, port_name) == 0) {
            return set->ports[p].listeners[0].certs[0].ctx;
        }
    }
    return NULL;
}

SSL_CTX *
pc_tls_set_backend_ctx(const struct pc_tls_set *set, const struct pc_backend_tls *tls)
{
    for (size_t b = 0; set != NULL && b < set->n_backends; b++) {
        if (set->backends[b].tls == tls) {
            return set->backends[b].ctx;
        }
    }
    return NULL;
}

/* --- watching material files --- */

struct watched {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
    bool exists;
};

struct pc_tls_watch {
    struct watched *files;
    size_t n_files;
};

static void
stat_file(struct watched *w)
{
    struct stat st;

    /* stat, not lstat: a symlink swapped to a new target is a change of the target. */
    w->exists = stat(w->path, &st) == 0;
    if (w->exists) {
        w->dev = st.st_dev;
        w->ino = st.st_ino;
        w->size = st.st_size;
        w->mtime = st.st_mtim;
        w->ctime = st.st_ctim;
    }
}

struct pc_tls_watch *
pc_tls_watch_create(const struct pc_config *cfg)
{
    struct pc_tls_watch *watch = pc_calloc(1, sizeof(*watch));

    if (watch == NULL) {
        return NULL;
    }
    watch->files = pc_calloc(cfg->n_material_files + 1, sizeof(*watch->files));
    if (watch->files == NULL) {
        pc_free(watch);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_material_files; i++) {
        watch->files[i].path = pc_strdup(cfg->material_files[i]);
        if (watch->files[i].path == NULL) {
            pc_tls_watch_free(watch);
            return NULL;
        }
        watch->n_files++;
        stat_file(&watch->files[i]);
    }
    return watch;
}

static bool
same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool
pc_tls_watch_changed(struct pc_tls_watch *watch)
{
    bool changed = false;

    for (size_t i = 0; watch != NULL && i < watch->n_files; i++) {
        struct watched before = watch->files[i];
        struct watched *now = &watch->files[i];

        stat_file(now);
        if (before.exists != now->exists || before.dev != now->dev || before.ino != now->ino
            || before.size != now->size || !same_time(before.mtime, now->mtime)
            || !same_time(before.ctime, now->ctime)) {
            changed = true;
        }
    }
    return changed;
}

void
pc_tls_watch_free(struct pc_tls_watch *watch)
{
    if (watch == NULL) {
        return;
    }
    for (size_t i = 0; i < watch->n_files; i++) {
        pc_free(watch->files[i].path);
    }
    pc_free(watch->files);
    pc_free(watch);
}
