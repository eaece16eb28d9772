/*
 * Peer identity extraction and XFCC formatting.
 *
 * The identity is read once per connection, so it favours plain code over speed: OpenSSL
 * decodes the SAN extension, a memory BIO renders the subject. The XFCC element is built in two
 * passes over the same writer, one measuring and one writing, so the arena gets one allocation
 * of the exact size.
 */
#include "tls/peer.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/arena.h"

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void
release_x509(void *data)
{
    X509_free(data);
}

static void
release_chain(void *data)
{
    sk_X509_pop_free(data, X509_free);
}

/* Visible ASCII without '"' and '\': what a name must be to go into a header unchanged. */
static bool
is_plain_name(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return false;
        }
    }
    return len > 0;
}

/* Appends the IA5String name to a list in arena memory; skips names that are not plain. */
static int
add_name(const ASN1_IA5STRING *name, const char **list, size_t *n, size_t *n_skipped,
         struct pc_arena *arena)
{
    const unsigned char *s = ASN1_STRING_get0_data(name);
    size_t len = (size_t)ASN1_STRING_length(name);

    if (!is_plain_name(s, len)) {
        (*n_skipped)++;
        return 0;
    }
    list[*n] = pc_arena_strndup(arena, (const char *)s, len);
    if (list[*n] == NULL) {
        return -1;
    }
    (*n)++;
    return 0;
}

static int
read_names(X509 *leaf, struct pc_peer_identity *peer, struct pc_arena *arena)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int count = sk_GENERAL_NAME_num(names);
    size_t room = count > 0 ? (size_t)count : 1;
    const char **dns = pc_arena_calloc(arena, room, sizeof(*dns));
    const char **uris = pc_arena_calloc(arena, room, sizeof(*uris));
    const char **emails = pc_arena_calloc(arena, room, sizeof(*emails));
    int rc = dns != NULL && uris != NULL && emails != NULL ? 0 : -1;

    for (int i = 0; i < count && rc == 0; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);

        if (name->type == GEN_DNS) {
            rc = add_name(name->d.dNSName, dns, &peer->n_dns, &peer->n_skipped_names, arena);
        } else if (name->type == GEN_URI) {
            rc = add_name(name->d.uniformResourceIdentifier, uris, &peer->n_uris,
                          &peer->n_skipped_names, arena);
        } else if (name->type == GEN_EMAIL) {
            rc = add_name(name->d.rfc822Name, emails, &peer->n_emails, &peer->n_skipped_names,
                          arena);
        }
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    peer->dns = dns;
    peer->uris = uris;
    peer->emails = emails;
    return rc;
}

static const char *
read_subject(X509 *leaf, struct pc_arena *arena)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL;
    char *copy = NULL;
    long len;

    /* RFC 2253 escaping also turns control and non-ASCII bytes into \XX: the result is ASCII. */
    if (bio != NULL
        && X509_NAME_print_ex(bio, X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &text);
        copy = pc_arena_strndup(arena, len > 0 ? text : "", len > 0 ? (size_t)len : 0);
    }
    BIO_free(bio);
    ERR_clear_error();
    return copy;
}

static int
read_fingerprint(X509 *leaf, struct pc_peer_identity *peer)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (X509_digest(leaf, EVP_sha256(), md, &n) != 1 || n != 32) {
        ERR_clear_error();
        return -1;
    }
    for (unsigned int i = 0; i < n; i++) {
        peer->sha256_hex[2 * i] = hex_lower[md[i] >> 4];
        peer->sha256_hex[2 * i + 1] = hex_lower[md[i] & 0x0f];
    }
    peer->sha256_hex[64] = '\0';
    return 0;
}

static time_t
read_not_after(X509 *leaf)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1) {
        ERR_clear_error();
        return 0;
    }
    return timegm(&tm);
}

/* Takes references on leaf and chain that the arena releases. */
static int
hold_certificates(X509 *leaf, STACK_OF(X509) * chain, struct pc_peer_identity *peer,
                  struct pc_arena *arena)
{
    if (X509_up_ref(leaf) != 1) {
        return -1;
    }
    if (pc_arena_cleanup_add(arena, release_x509, leaf) != 0) {
        X509_free(leaf);
        return -1;
    }
    peer->leaf = leaf;
    if (chain == NULL) {
        return 0;
    }
    peer->chain = X509_chain_up_ref(chain);
    if (peer->chain == NULL) {
        return -1;
    }
    if (pc_arena_cleanup_add(arena, release_chain, peer->chain) != 0) {
        release_chain(peer->chain);
        peer->chain = NULL;
        return -1;
    }
    return 0;
}

struct pc_peer_identity *
pc_peer_identity_new(X509 *leaf, STACK_OF(X509) * chain, const char *spiffe_id,
                     struct pc_arena *arena)
{
    struct pc_peer_identity *peer = pc_arena_calloc(arena, 1, sizeof(*peer));

    if (peer == NULL || hold_certificates(leaf, chain, peer, arena) != 0) {
        return NULL;
    }
    peer->subject = read_subject(leaf, arena);
    if (peer->subject == NULL || read_names(leaf, peer, arena) != 0
        || read_fingerprint(leaf, peer) != 0) {
        return NULL;
    }
    if (spiffe_id != NULL && spiffe_id[0] != '\0') {
        peer->spiffe_id = pc_arena_strdup(arena, spiffe_id);
        if (peer->spiffe_id == NULL) {
            return NULL;
        }
    }
    peer->not_after = read_not_after(leaf);
    return peer;
}

/* Output of one formatting pass: buf NULL measures, otherwise writes. */
struct writer {
    char *buf;
    size_t len;
};

static void
put(struct writer *w, const char *s, size_t n)
{
    if (w->buf != NULL) {
        memcpy(w->buf + w->len, s, n);
    }
    w->len += n;
}

static void
put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void
put_percent(struct writer *w, unsigned char c)
{
    char enc[3] = { '%', hex_upper[c >> 4], hex_upper[c & 0x0f] };

    put(w, enc, sizeof(enc));
}

static bool
needs_quotes(const char *s)
{
    return strpbrk(s, ",;=\"") != NULL;
}

/*
 * Envoy's rule: a value holding ',', ';', '=' or '"' is double-quoted and '"' becomes '\"'.
 * Bytes a header cannot carry are percent-encoded; identities never hold them (names are
 * filtered, the subject is RFC 2253-escaped), this only keeps the header well-formed anyway.
 */
static void
put_pair(struct writer *w, const char *key, const char *value, bool always_quote)
{
    bool quote = always_quote || needs_quotes(value);

    if (w->len > 0) {
        put(w, ";", 1);
    }
    put_str(w, key);
    put(w, quote ? "=\"" : "=", quote ? 2 : 1);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            put_percent(w, *p);
        } else if (*p == '"') {
            put(w, "\\\"", 2);
        } else {
            put(w, (const char *)p, 1);
        }
    }
    if (quote) {
        put(w, "\"", 1);
    }
}

static bool
is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.' || c == '_' || c == '~';
}

/* Key="<PEM, percent-encoded except RFC 3986 section 2.3 unreserved characters>" */
static void
put_url_encoded(struct writer *w, const char *key, const char *pem, size_t len)
{
    if (w->len > 0) {
        put(w, ";", 1);
    }
    put_str(w, key);
    put(w, "=\"", 2);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pem[i];

        if (is_unreserved(c)) {
            put(w, (const char *)&c, 1);
        } else {
            put_percent(w, c);
        }
    }
    put(w, "\"", 1);
}

/* PEM texts of the leaf and of the chain, rendered once for both passes. */
struct pem_texts {
    BIO *cert;
    BIO *chain;
};

static int
render_pem(const struct pc_peer_identity *peer, unsigned details, struct pem_texts *pem)
{
    if ((details & PC_PEER_XFCC_CERT) != 0) {
        pem->cert = BIO_new(BIO_s_mem());
        if (pem->cert == NULL || PEM_write_bio_X509(pem->cert, peer->leaf) != 1) {
            return -1;
        }
    }
    if ((details & PC_PEER_XFCC_CHAIN) != 0) {
        pem->chain = BIO_new(BIO_s_mem());
        if (pem->chain == NULL) {
            return -1;
        }
        /* Without a verified chain, the leaf alone is the chain the peer proved. */
        int n = peer->chain != NULL ? sk_X509_num(peer->chain) : 0;

        for (int i = 0; i < (n > 0 ? n : 1); i++) {
            X509 *cert = n > 0 ? sk_X509_value(peer->chain, i) : peer->leaf;

            if (PEM_write_bio_X509(pem->chain, cert) != 1) {
                return -1;
            }
        }
    }
    return 0;
}

static void
put_pem(struct writer *w, const char *key, BIO *bio)
{
    char *data = NULL;
    long len = bio != NULL ? BIO_get_mem_data(bio, &data) : 0;

    if (len > 0) {
        put_url_encoded(w, key, data, (size_t)len);
    }
}

static void
write_element(struct writer *w, const struct pc_peer_identity *peer, unsigned details,
              const char *by, const struct pem_texts *pem)
{
    if (by != NULL) {
        put_pair(w, "By", by, false);
    }
    put_pair(w, "Hash", peer->sha256_hex, false);
    put_pem(w, "Cert", pem->cert);
    put_pem(w, "Chain", pem->chain);
    if ((details & PC_PEER_XFCC_SUBJECT) != 0) {
        put_pair(w, "Subject", peer->subject, true);
    }
    for (size_t i = 0; (details & PC_PEER_XFCC_URI) != 0 && i < peer->n_uris; i++) {
        put_pair(w, "URI", peer->uris[i], false);
    }
    for (size_t i = 0; (details & PC_PEER_XFCC_DNS) != 0 && i < peer->n_dns; i++) {
        put_pair(w, "DNS", peer->dns[i], false);
    }
}

char *
pc_peer_xfcc_format(const struct pc_peer_identity *peer, unsigned details, const char *by,
                    struct pc_arena *arena, size_t *len)
{
    struct pem_texts pem = { NULL, NULL };
    struct writer w = { NULL, 0 };
    char *out = NULL;

    if (render_pem(peer, details, &pem) == 0) {
        write_element(&w, peer, details, by, &pem);
        out = pc_arena_alloc(arena, w.len + 1);
    }
    if (out != NULL) {
        w.buf = out;
        w.len = 0;
        write_element(&w, peer, details, by, &pem);
        out[w.len] = '\0';
        *len = w.len;
    }
    BIO_free(pem.cert);
    BIO_free(pem.chain);
    ERR_clear_error();
    return out;
}
