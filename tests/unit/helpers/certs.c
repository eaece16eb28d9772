/*
 * Certificate building for tests, on OpenSSL's X509 and X509V3 APIs. Extensions with a
 * configuration syntax (basic constraints, key usages, name constraints, key identifiers) go
 * through X509V3_EXT_nconf_nid; subject alternative names are assembled by hand so that tests
 * can put bytes in them that the configuration parser would refuse.
 */
#include "helpers/certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"

static long next_serial = 1000;

/* Test set-up failures are bugs in the test: report and stop. */
static void
need(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "certs helper: %s failed\n", what);
        ERR_print_errors_fp(stderr);
        abort();
    }
}

EVP_PKEY *
test_key_new(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");

    need(key != NULL, "EVP_EC_gen");
    return key;
}

static void
set_subject(X509 *cert, const char *subject)
{
    X509_NAME *name = X509_get_subject_name(cert);
    char *copy;
    char *save = NULL;

    if (subject == NULL) {
        return;
    }
    copy = strdup(subject);
    need(copy != NULL, "strdup");
    for (char *rdn = strtok_r(copy, ",", &save); rdn != NULL; rdn = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(rdn, '=');

        need(eq != NULL, "subject syntax");
        *eq = '\0';
        need(X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1,
                                        0),
             "X509_NAME_add_entry_by_txt");
    }
    free(copy);
}

static void
add_conf_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

    need(ext != NULL, value);
    need(X509_add_ext(cert, ext, -1), "X509_add_ext");
    X509_EXTENSION_free(ext);
}

static void
push_name(GENERAL_NAMES *names, int type, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();

    need(gn != NULL, "GENERAL_NAME_new");
    if (type == GEN_IPADD) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);

        need(ip != NULL, "a2i_IPADDRESS");
        GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();

        need(s != NULL && ASN1_STRING_set(s, value, (int)strlen(value)), "ASN1_STRING_set");
        GENERAL_NAME_set0_value(gn, type, s);
    }
    need(sk_GENERAL_NAME_push(names, gn) > 0, "sk_GENERAL_NAME_push");
}

static void
add_names(GENERAL_NAMES *names, int type, const char *const *values)
{
    for (size_t i = 0; values != NULL && values[i] != NULL; i++) {
        push_name(names, type, values[i]);
    }
}

static void
add_sans(X509 *cert, const struct test_cert_spec *spec)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

    need(names != NULL, "sk_GENERAL_NAME_new_null");
    add_names(names, GEN_DNS, spec->dns);
    add_names(names, GEN_URI, spec->uris);
    add_names(names, GEN_EMAIL, spec->emails);
    add_names(names, GEN_IPADD, spec->ips);
    if (sk_GENERAL_NAME_num(names) > 0) {
        need(X509_add1_ext_i2d(cert, NID_subject_alt_name, names, spec->san_critical ? 1 : 0,
                               X509V3_ADD_DEFAULT),
             "X509_add1_ext_i2d");
    }
    GENERAL_NAMES_free(names);
}

static void
add_constraints(X509 *cert, X509V3_CTX *ctx, const struct test_cert_spec *spec)
{
    char value[64];

    if (!spec->omit_basic_constraints) {
        if (spec->is_ca && spec->has_path_len) {
            snprintf(value, sizeof(value), "critical,CA:TRUE,pathlen:%d", spec->path_len);
        } else {
            snprintf(value, sizeof(value), "critical,CA:%s", spec->is_ca ? "TRUE" : "FALSE");
        }
        add_conf_ext(cert, ctx, NID_basic_constraints, value);
    }
    if (spec->key_usage == NULL) {
        add_conf_ext(cert, ctx, NID_key_usage,
                     spec->is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    } else if (spec->key_usage[0] != '\0') {
        add_conf_ext(cert, ctx, NID_key_usage, spec->key_usage);
    }
    if (spec->ext_key_usage != NULL) {
        add_conf_ext(cert, ctx, NID_ext_key_usage, spec->ext_key_usage);
    }
    if (spec->name_constraints != NULL) {
        add_conf_ext(cert, ctx, NID_name_constraints, spec->name_constraints);
    }
}

static void
set_validity(X509 *cert, const struct test_cert_spec *spec)
{
    time_t now = time(NULL);
    time_t not_before = spec->not_before != 0 ? spec->not_before : now - 3600;
    time_t not_after = spec->not_after != 0 ? spec->not_after : now + 30 * 86400;

    need(ASN1_TIME_set(X509_getm_notBefore(cert), not_before) != NULL, "notBefore");
    need(ASN1_TIME_set(X509_getm_notAfter(cert), not_after) != NULL, "notAfter");
}

X509 *
test_cert_new(const struct test_cert_spec *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *cert = X509_new();
    X509V3_CTX ctx;

    need(cert != NULL, "X509_new");
    need(X509_set_version(cert, X509_VERSION_3), "X509_set_version");
    need(ASN1_INTEGER_set(X509_get_serialNumber(cert),
                          spec->serial != 0 ? spec->serial : next_serial++),
         "serial");
    set_subject(cert, spec->subject);
    need(X509_set_issuer_name(cert, X509_get_subject_name(issuer != NULL ? issuer : cert)),
         "X509_set_issuer_name");
    need(X509_set_pubkey(cert, key), "X509_set_pubkey");
    set_validity(cert, spec);

    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    add_constraints(cert, &ctx, spec);
    add_sans(cert, spec);
    add_conf_ext(cert, &ctx, NID_subject_key_identifier, "hash");
    add_conf_ext(cert, &ctx, NID_authority_key_identifier, "keyid");

    need(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

char *
test_cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *out;
    long len;

    need(bio != NULL && PEM_write_bio_X509(bio, cert), "PEM_write_bio_X509");
    len = BIO_get_mem_data(bio, &data);
    out = pc_strndup(data, (size_t)len);
    need(out != NULL, "pc_strndup");
    BIO_free(bio);
    return out;
}

static char *
encode_base64(const unsigned char *data, size_t len, bool is_url)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *alphabet = is_url ? url : std;
    char *out = pc_malloc(len / 3 * 4 + 8);
    size_t o = 0;

    need(out != NULL, "pc_malloc");
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)data[i] << 16;
        size_t n = len - i < 3 ? len - i : 3;

        v |= n > 1 ? (unsigned long)data[i + 1] << 8 : 0;
        v |= n > 2 ? data[i + 2] : 0;
        for (size_t k = 0; k < 4; k++) {
            if (k <= n) {
                out[o++] = alphabet[(v >> (18 - 6 * k)) & 0x3f];
            } else if (!is_url) {
                out[o++] = '=';
            }
        }
    }
    out[o] = '\0';
    return out;
}

char *
test_cert_base64_der(X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    char *out;

    need(len > 0, "i2d_X509");
    out = encode_base64(der, (size_t)len, false);
    OPENSSL_free(der);
    return out;
}

char *
test_base64(const unsigned char *data, size_t len)
{
    return encode_base64(data, len, false);
}

char *
test_base64url(const unsigned char *data, size_t len)
{
    return encode_base64(data, len, true);
}

void
test_key_ec_xy(EVP_PKEY *key, char x[44], char y[44])
{
    unsigned char point[65];
    size_t len = 0;
    char *bx;
    char *by;

    need(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len)
             && len == 65,
         "encoded-pub-key");
    bx = test_base64url(point + 1, 32);
    by = test_base64url(point + 33, 32);
    memcpy(x, bx, 44);
    memcpy(y, by, 44);
    pc_free(bx);
    pc_free(by);
}

STACK_OF(X509) * test_cert_stack(X509 *const *certs)
{
    STACK_OF(X509) *stack = sk_X509_new_null();

    need(stack != NULL, "sk_X509_new_null");
    for (size_t i = 0; certs[i] != NULL; i++) {
        need(X509_up_ref(certs[i]) && sk_X509_push(stack, certs[i]) > 0, "sk_X509_push");
    }
    return stack;
}
