/*
 * Unit tests for the TLS side of the configuration: HTTPS listeners and their certificateRefs,
 * Secrets, ConfigMaps, CertificateFiles, WorkloadIdentity and TrustBundle material, client
 * certificate modes, BackendTLSPolicy, x-forwarded-client-cert settings and the ProxyConfig TLS
 * and SPIFFE fields.
 *
 * Error tests load the resource under test first (so line numbers are the snippet's own) and
 * then a valid HTTPS base, and assert one complete diagnostic line. Compile tests check the
 * snapshot fields src/tls reads. Files named by CertificateFiles and TrustBundles are created in
 * a temporary directory for the run; the SPIFFE_ENDPOINT_SOCKET variable is cleared before each
 * test so the environment never decides an outcome.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/alloc.h"
#include "helpers/config_check.h"

#define CERT_PEM                                                                                   \
    "-----BEGIN CERTIFICATE-----\n"                                                                \
    "MIIBszCCAVmgAwIBAgIUe3Jw\n"                                                                   \
    "-----END CERTIFICATE-----\n"
#define KEY_PEM                                                                                    \
    "-----BEGIN PRIVATE KEY-----\n"                                                                \
    "MIGHAgEAMBMGByqGSM49AgEG\n"                                                                   \
    "-----END PRIVATE KEY-----\n"
#define CERT_B64                                                                                   \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVZTNKdwotLS0tLUVORCBDRVJUSUZJ" \
    "Q0FURS0tLS0tCg=="
#define KEY_B64                                                                                    \
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFRwotLS0tLUVORCBQUklWQVRF" \
    "IEtFWS0tLS0tCg=="

/* The same PEM as the text of a YAML double-quoted scalar, where a line break reads as a space. */
#define CERT_QUOTED                                                                                \
    "\"-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUe3Jw\\n-----END CERTIFICATE-----\\n\""

/* The same PEM, indented as a block scalar under a key at two spaces. */
#define CERT_BLOCK                                                                                 \
    "    -----BEGIN CERTIFICATE-----\n"                                                            \
    "    MIIBszCCAVmgAwIBAgIUe3Jw\n"                                                               \
    "    -----END CERTIFICATE-----\n"
#define KEY_BLOCK                                                                                  \
    "    -----BEGIN PRIVATE KEY-----\n"                                                            \
    "    MIGHAgEAMBMGByqGSM49AgEG\n"                                                               \
    "    -----END PRIVATE KEY-----\n"

/*
 * An HTTPS Gateway "gw" (listener "https" on 8443 with Secret "site"), that Secret, and
 * ServiceEndpoints "svc" with ports 443 ("https") and 80 ("http").
 */
#define BASE                                                                                       \
    "---\n"                                                                                        \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: Gateway\n"                                                                              \
    "metadata: {name: gw}\n"                                                                       \
    "spec:\n"                                                                                      \
    "  gatewayClassName: pc\n"                                                                     \
    "  listeners:\n"                                                                               \
    "  - name: https\n"                                                                            \
    "    port: 8443\n"                                                                             \
    "    protocol: HTTPS\n"                                                                        \
    "    tls: {certificateRefs: [{name: site}]}\n"                                                 \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: Secret\n"                                                                               \
    "metadata: {name: site}\n"                                                                     \
    "type: kubernetes.io/tls\n"                                                                    \
    "data: {tls.crt: " CERT_B64 ", tls.key: " KEY_B64 "}\n"                                        \
    "---\n"                                                                                        \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: ServiceEndpoints\n"                                                                     \
    "metadata: {name: svc}\n"                                                                      \
    "spec:\n"                                                                                      \
    "  ports:\n"                                                                                   \
    "  - {port: 443, name: https, endpoints: [\"127.0.0.1:9443\"]}\n"                              \
    "  - {port: 80, name: http, endpoints: [\"127.0.0.1:9080\"]}\n"

/* The start of a second Gateway "g2" with one HTTPS listener "web" on 9443. */
#define G2_HEAD                                                                                    \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: Gateway\n"                                                                              \
    "metadata: {name: g2}\n"                                                                       \
    "spec:\n"                                                                                      \
    "  gatewayClassName: pc\n"                                                                     \
    "  listeners:\n"                                                                               \
    "  - name: web\n"                                                                              \
    "    port: 9443\n"                                                                             \
    "    protocol: HTTPS\n"

/* A route on "gw" to svc:443. */
#define ROUTE                                                                                      \
    "---\n"                                                                                        \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: HTTPRoute\n"                                                                            \
    "metadata: {name: r}\n"                                                                        \
    "spec:\n"                                                                                      \
    "  parentRefs: [{name: gw}]\n"                                                                 \
    "  rules: [{backendRefs: [{name: svc, port: 443}]}]\n"

#define BTLS_HEAD                                                                                  \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: BackendTLSPolicy\n"                                                                     \
    "metadata: {name: bt}\n"                                                                       \
    "spec:\n"                                                                                      \
    "  targetRefs: [{group: \"\", kind: Service, name: svc}]\n"

#define PROXY_WITH_SOCKET                                                                          \
    "---\n"                                                                                        \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: ProxyConfig\n"                                                                          \
    "metadata: {name: p}\n"                                                                        \
    "spec: {spiffe: {workloadAPISocket: \"unix:///run/spire/agent.sock\"}}\n"

static char dir[64];
static char chain_path[128];
static char key_path[128];
static char bundle_path[128];
static char spiffe_path[128];
static char subdir_path[128];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup_files(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/pc-tls-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(chain_path, sizeof(chain_path), "%s/chain.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(bundle_path, sizeof(bundle_path), "%s/ca.pem", dir);
    snprintf(spiffe_path, sizeof(spiffe_path), "%s/bundle.json", dir);
    snprintf(subdir_path, sizeof(subdir_path), "%s/sub", dir);
    write_file(chain_path, CERT_PEM);
    write_file(key_path, KEY_PEM);
    write_file(bundle_path, CERT_PEM);
    write_file(spiffe_path, "{\"keys\": []}\n");
    return mkdir(subdir_path, 0700);
}

static int
teardown_files(void **state)
{
    unlink(chain_path);
    unlink(key_path);
    unlink(bundle_path);
    unlink(spiffe_path);
    rmdir(subdir_path);
    return rmdir(dir);
}

static int
setup(void **state)
{
    unsetenv("SPIFFE_ENDPOINT_SOCKET");
    pc_diag_init(&test_config_diag);
    return 0;
}

static int
teardown(void **state)
{
    unsetenv("SPIFFE_ENDPOINT_SOCKET");
    pc_diag_free(&test_config_diag);
    return 0;
}

/* Formats a configuration around the temporary paths; the caller frees it. */
static char *format_yaml(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format_yaml(const char *fmt, ...)
{
    va_list ap;
    char *out = malloc(16384);

    assert_non_null(out);
    va_start(ap, fmt);
    vsnprintf(out, 16384, fmt, ap);
    va_end(ap);
    return out;
}

/* ---- HTTPS listeners ---- */

static void
test_https_listener_needs_tls(void **state)
{
    test_config_expect_error(
        G2_HEAD BASE,
        "t.yaml:7:5: error: spec.listeners[0].tls: protocol HTTPS needs tls with "
        "certificateRefs; name a Secret of type kubernetes.io/tls, a CertificateFiles or "
        "a WorkloadIdentity in tls.certificateRefs");
}

static void
test_https_listener_needs_a_certificate(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {certificateRefs: []}\n" BASE,
        "t.yaml:10:28: error: spec.listeners[0].tls.certificateRefs: an HTTPS listener "
        "needs at least one certificate; name a Secret of type kubernetes.io/tls, a "
        "CertificateFiles or a WorkloadIdentity in tls.certificateRefs");
}

static void
test_passthrough_refused(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {mode: Passthrough, certificateRefs: [{name: site}]}\n" BASE,
        "t.yaml:10:17: error: spec.listeners[0].tls.mode: mode Passthrough is not "
        "supported; portcullis terminates TLS itself: use mode Terminate (the default)");
}

static void
test_tls_on_http_listener_refused(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: web\n"
        "    port: 9080\n"
        "    protocol: HTTP\n"
        "    tls: {certificateRefs: [{name: site}]}\n" BASE,
        "t.yaml:10:10: error: spec.listeners[0].tls: tls must not be set for protocol "
        "HTTP; use protocol HTTPS to terminate TLS, or remove tls");
}

static void
test_http_and_https_on_one_port_refused(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: plain\n"
        "    port: 8443\n"
        "    hostname: plain.example.com\n"
        "    protocol: HTTP\n" BASE,
        "t.yaml:10:15: error: spec.listeners[0].protocol: listener \"plain\" (HTTP) and "
        "listener \"https\" (HTTPS) of Gateway default/gw share 0.0.0.0:8443; a port "
        "serves HTTP or HTTPS, not both: use another port for one of them");
}

static void
test_https_listeners_on_one_port_need_distinct_hostnames(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: other\n"
        "    port: 8443\n"
        "    protocol: HTTPS\n"
        "    tls: {certificateRefs: [{name: site}]}\n" BASE,
        "t.yaml:18:5: error: spec.listeners[0]: listener \"https\" conflicts with "
        "listener \"other\" of Gateway default/g2 (t.yaml:7): both bind 0.0.0.0:8443 for "
        "any hostname; give one of them another port or hostname");
}

static void
test_gateway_level_tls_refused(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners: [{name: web, port: 9080, protocol: HTTP}]\n"
        "  tls: {backend: {clientCertificateRef: {name: site}}}\n" BASE,
        "t.yaml:7:3: error: spec.tls: not supported; give each listener its tls, and the "
        "gateway's client certificate towards backends in "
        "spec.backendTLS.clientCertificateRef");
}

static void
test_frontend_validation_mode_refused(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls:\n"
                "      certificateRefs: [{name: site}]\n"
                "      frontendValidation:\n"
                "        caCertificateRefs: [{name: ca}]\n"
                "        mode: AllowInsecureFallback\n" BASE,
        "t.yaml:14:9: error: spec.listeners[0].tls.frontendValidation.mode: not "
        "supported; set it in a ClientTrafficPolicy targeting the Gateway or listener: "
        "spec.tls.clientCertificate.mode, Require or Optional");
}

static void
test_certificate_ref_listed_twice(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {certificateRefs: [{name: site}, {name: site}]}\n" BASE,
        "t.yaml:10:43: error: spec.listeners[0].tls.certificateRefs[1]: Secret \"site\" "
        "is listed twice; list each once");
}

/* ---- references ---- */

static void
test_dangling_secret_ref_suggests(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {certificateRefs: [{name: sitee}]}\n" BASE,
        "t.yaml:10:36: error: spec.listeners[0].tls.certificateRefs[0].name: Secret "
        "default/sitee not found; did you mean \"site\"?");
}

static void
test_dangling_certificate_files_ref(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls:\n"
                "      certificateRefs:\n"
                "      - {group: portcullis.dev, kind: CertificateFiles, name: files}\n" BASE,
        "t.yaml:12:63: error: spec.listeners[0].tls.certificateRefs[0].name: "
        "CertificateFiles default/files not found; declare it, or fix the name (and "
        "namespace)");
}

static void
test_certificate_ref_kind_needs_its_group(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {certificateRefs: [{kind: CertificateFiles, name: files}]}\n" BASE,
        "t.yaml:10:36: error: spec.listeners[0].tls.certificateRefs[0].kind: certificate "
        "kind CertificateFiles is not supported; kind CertificateFiles is in group "
        "\"portcullis.dev\": set group: portcullis.dev");
}

static void
test_certificate_ref_unknown_kind(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls: {certificateRefs: [{group: cert-manager.io, kind: Certificate, "
                "name: c}]}\n" BASE,
        "t.yaml:10:60: error: spec.listeners[0].tls.certificateRefs[0].kind: certificate "
        "kind cert-manager.io/Certificate is not supported; use a Secret (group \"\"), or "
        "a CertificateFiles or WorkloadIdentity (group portcullis.dev)");
}

static void
test_dangling_trust_bundle_ref(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls:\n"
                "      certificateRefs: [{name: site}]\n"
                "      frontendValidation:\n"
                "        caCertificateRefs:\n"
                "        - {group: portcullis.dev, kind: TrustBundle, name: roots}\n" BASE,
        "t.yaml:14:60: error: "
        "spec.listeners[0].tls.frontendValidation.caCertificateRefs[0].name: TrustBundle "
        "default/roots not found; declare it, or fix the name (and namespace)");
}

static void
test_dangling_config_map_ref(void **state)
{
    test_config_expect_error(
        G2_HEAD "    tls:\n"
                "      certificateRefs: [{name: site}]\n"
                "      frontendValidation: {caCertificateRefs: [{name: ca}]}\n" BASE,
        "t.yaml:12:55: error: "
        "spec.listeners[0].tls.frontendValidation.caCertificateRefs[0].name: ConfigMap "
        "default/ca not found; declare it, or fix the name (and namespace)");
}

static void
test_config_map_without_ca_crt(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: ca}\n"
        "data: {other: x}\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation: {caCertificateRefs: [{name: ca}]}\n" BASE,
        "t.yaml:17:55: error: "
        "spec.listeners[0].tls.frontendValidation.caCertificateRefs[0].name: ConfigMap "
        "default/ca has no ca.crt; put the PEM CA certificates under data, key "
        "\"ca.crt\"");
}

static void
test_cross_namespace_certificate_needs_grant(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: shared, namespace: certs}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: |\n" CERT_BLOCK "  tls.key: |\n" KEY_BLOCK "---\n" G2_HEAD
        "    tls: {certificateRefs: [{name: shared, namespace: certs}]}\n" BASE,
        "t.yaml:24:55: error: spec.listeners[0].tls.certificateRefs[0].namespace: "
        "reference to Secret certs/shared is not allowed by any ReferenceGrant; add a "
        "ReferenceGrant in namespace \"certs\" that allows Gateways from namespace "
        "\"default\" to reach Secret \"shared\"");
}

/* ---- Secrets ---- */

static void
test_secret_of_wrong_type(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: opaque}\n"
        "data: {token: aGVsbG8=}\n"
        "---\n" G2_HEAD "    tls: {certificateRefs: [{name: opaque}]}\n" BASE,
        "t.yaml:15:36: error: spec.listeners[0].tls.certificateRefs[0].name: Secret "
        "default/opaque has type Opaque, not kubernetes.io/tls; a certificate Secret has "
        "type kubernetes.io/tls with tls.crt and tls.key");
}

static void
test_secret_missing_tls_key(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: half}\n"
        "type: kubernetes.io/tls\n"
        "data: {tls.crt: " CERT_B64 "}\n" BASE,
        "t.yaml:4:7: error: type: a Secret of type kubernetes.io/tls needs \"tls.key\" in "
        "data or stringData; add it under data (base64 of the PEM file) or under "
        "stringData (the PEM text)");
}

static void
test_secret_invalid_base64(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: bad}\n"
        "type: kubernetes.io/tls\n"
        "data:\n"
        "  tls.crt: " CERT_B64 "\n"
        "  tls.key: c2VjcmV0!a2V5\n" BASE,
        "t.yaml:7:12: error: data[\"tls.key\"]: not valid base64 (at byte 9 of the "
        "value); encode the file with `base64 -w0 FILE`, or put the PEM text under "
        "stringData");
    assert_false(test_config_mentions("c2VjcmV0"));
}

static void
test_secret_value_not_pem(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: bad}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: not-a-certificate\n"
        "  tls.key: |\n" KEY_BLOCK BASE,
        "t.yaml:6:12: error: stringData[\"tls.crt\"]: not a PEM certificate chain: it "
        "holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the leaf "
        "certificate first, then its intermediates, as PEM");
    assert_false(test_config_mentions("not-a-certificate"));
}

static void
test_secret_key_encrypted(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: bad}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: |\n" CERT_BLOCK "  tls.key: |\n"
        "    -----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        "    MIIFHDBOBgkqhkiG9w0BBQ0w\n"
        "    -----END ENCRYPTED PRIVATE KEY-----\n" BASE,
        "t.yaml:10:12: error: stringData[\"tls.key\"]: not a PEM private key: it is an "
        "encrypted private key, which cannot be used without its passphrase; give one "
        "unencrypted private key as PEM; `openssl pkey -in KEY` writes one");
}

static void
test_secret_chain_must_not_hold_the_key(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: bad}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: |\n" CERT_BLOCK KEY_BLOCK "  tls.key: |\n" KEY_BLOCK BASE,
        "t.yaml:6:12: error: stringData[\"tls.crt\"]: not a PEM certificate chain: it "
        "holds a private key, which must not travel with the certificates; give the leaf "
        "certificate first, then its intermediates, as PEM");
}

static void
test_secret_values_never_printed(void **state)
{
    struct pc_config *cfg =
        test_config_load("apiVersion: v1\n"
                         "kind: Secret\n"
                         "metadata: {name: leak}\n"
                         "type: kubernetes.io/tls\n"
                         "data:\n"
                         "  tls.crt: 314159265\n"
                         "  tls.key: \"hunter2hunter2=!\"\n"
                         "stringData:\n"
                         "  tls.key: [hunter3]\n"
                         "  ca.crt: \"-----BEGIN CERTIFICATE-----\\nsw0rdf1sh\\n\"\n" BASE);

    assert_null(cfg);
    assert_true(
        test_config_has_error("t.yaml:6:12: error: data[\"tls.crt\"]: expected a string, got an "
                              "integer; quote it"));
    assert_true(test_config_diag.n_entries >= 3);
    assert_false(test_config_mentions("314159265"));
    assert_false(test_config_mentions("hunter2"));
    assert_false(test_config_mentions("hunter3"));
    assert_false(test_config_mentions("sw0rdf1sh"));
}

/* ---- files ---- */

static void
test_certificate_file_missing(void **state)
{
    char *yaml = format_yaml("apiVersion: portcullis.dev/v1alpha1\n"
                             "kind: CertificateFiles\n"
                             "metadata: {name: files}\n"
                             "spec:\n"
                             "  certificate: %s/missing.pem\n"
                             "  privateKey: %s\n" BASE,
                             dir, key_path);
    char want[512];

    snprintf(want, sizeof(want),
             "t.yaml:5:16: error: spec.certificate: file \"%s/missing.pem\" does not exist; check "
             "the path",
             dir);
    test_config_expect_error(yaml, want);
    free(yaml);
}

static void
test_relative_certificate_file_missing_says_where_it_looked(void **state)
{
    char cwd[512];
    char want[1024];

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want),
             "t.yaml:5:16: error: spec.certificate: file \"%s/certs/nope.pem\" does not exist; "
             "relative paths are read from the directory of the file that declares them",
             cwd);
    test_config_expect_error("apiVersion: portcullis.dev/v1alpha1\n"
                             "kind: CertificateFiles\n"
                             "metadata: {name: files}\n"
                             "spec:\n"
                             "  certificate: ./certs//nope.pem\n"
                             "  privateKey: /dev/null\n" BASE,
                             want);
    assert_true(
        test_config_has_error("t.yaml:6:15: error: spec.privateKey: \"/dev/null\" is not a regular "
                              "file; name the PEM file itself"));
}

static void
test_certificate_file_is_a_directory(void **state)
{
    char *yaml = format_yaml("apiVersion: portcullis.dev/v1alpha1\n"
                             "kind: CertificateFiles\n"
                             "metadata: {name: files}\n"
                             "spec:\n"
                             "  certificate: %s\n"
                             "  privateKey: %s\n" BASE,
                             chain_path, subdir_path);
    char want[512];

    snprintf(want, sizeof(want),
             "t.yaml:6:15: error: spec.privateKey: \"%s\" is not a regular file; name the PEM "
             "file itself",
             subdir_path);
    test_config_expect_error(yaml, want);
    free(yaml);
}

static void
test_certificate_file_unreadable(void **state)
{
    char path[160];
    char want[512];
    char *yaml;

    if (geteuid() == 0) {
        skip(); /* root reads every file, so permissions cannot make one unreadable */
    }
    snprintf(path, sizeof(path), "%s/locked.pem", dir);
    write_file(path, KEY_PEM);
    assert_int_equal(chmod(path, 0), 0);
    yaml = format_yaml("apiVersion: portcullis.dev/v1alpha1\n"
                       "kind: CertificateFiles\n"
                       "metadata: {name: files}\n"
                       "spec:\n"
                       "  certificate: %s\n"
                       "  privateKey: %s\n" BASE,
                       chain_path, path);
    snprintf(want, sizeof(want),
             "t.yaml:6:15: error: spec.privateKey: file \"%s\" is not readable: Permission denied; "
             "let the user portcullis runs as read it",
             path);
    test_config_expect_error(yaml, want);
    free(yaml);
    unlink(path);
}

/* ---- trust bundles and SPIFFE ---- */

static void
test_trust_domain_syntax(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: Example.org, pem: \"x\"}\n" BASE,
        "t.yaml:4:21: error: spec.trustDomain: trust domain \"Example.org\" is not valid: "
        "it has upper-case letters; a trust domain is lower-case letters, digits, '.', "
        "'-' and '_', such as \"example.org\", without scheme, port or user");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: \"spiffe://example.org\", pem: \"x\"}\n" BASE,
        "t.yaml:4:21: error: spec.trustDomain: trust domain \"spiffe://example.org\" is "
        "not valid: it includes a scheme; a trust domain is lower-case letters, digits, "
        "'.', '-' and '_', such as \"example.org\", without scheme, port or user");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: \"example.org:8443\", pem: \"x\"}\n" BASE,
        "t.yaml:4:21: error: spec.trustDomain: trust domain \"example.org:8443\" is not "
        "valid: it includes a port; a trust domain is lower-case letters, digits, '.', "
        "'-' and '_', such as \"example.org\", without scheme, port or user");
}

static void
test_trust_bundle_needs_one_source(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: example.org}\n" BASE,
        "t.yaml:4:7: error: spec: a TrustBundle needs its certificates from file, pem or "
        "workloadAPI: true; set exactly one of them");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {pem: \"x\", file: /etc/ssl/certs/ca-certificates.crt}\n" BASE,
        "t.yaml:4:24: error: spec.file: set only one of file, pem and workloadAPI; a "
        "TrustBundle has one source");
}

static void
test_spiffe_format_needs_trust_domain(void **state)
{
    char *yaml = format_yaml("apiVersion: portcullis.dev/v1alpha1\n"
                             "kind: TrustBundle\n"
                             "metadata: {name: tb}\n"
                             "spec: {format: SPIFFE, file: %s}\n" BASE,
                             spiffe_path);

    test_config_expect_error(
        yaml, "t.yaml:4:16: error: spec.format: format SPIFFE needs a trustDomain; name the "
              "trust domain whose roots these are, such as \"example.org\"");
    free(yaml);
}

static void
test_inline_bundles_are_checked(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: example.org, format: SPIFFE, pem: \"{\\\"keys\\\": 1}\"}\n" BASE,
        "t.yaml:4:55: error: spec.pem: not a SPIFFE bundle: it is not a JWK set with a "
        "\"keys\" list; give the trust domain's bundle as its JSON JWK set");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec:\n"
        "  pem: |\n"
        "    -----BEGIN CERTIFICATE-----\n"
        "    MIIB!!\n"
        "    -----END CERTIFICATE-----\n" BASE,
        "t.yaml:5:8: error: spec.pem: not PEM CA certificates: it has a PEM block whose "
        "body is not base64; put the CA certificates here as PEM text");
}

static void
test_workload_api_needs_a_socket(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: WorkloadIdentity\n"
        "metadata: {name: svid}\n"
        "spec: {}\n" BASE,
        "t.yaml:1:1: error: WorkloadIdentity default/svid needs the SPIFFE Workload API, "
        "and no Workload API address is configured; set spec.spiffe.workloadAPISocket in "
        "the ProxyConfig (such as \"unix:///run/spire/agent.sock\") or the "
        "SPIFFE_ENDPOINT_SOCKET environment variable");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {trustDomain: example.org, workloadAPI: true}\n" BASE,
        "t.yaml:4:47: error: spec.workloadAPI: TrustBundle default/tb needs the SPIFFE "
        "Workload API, and no Workload API address is configured; set "
        "spec.spiffe.workloadAPISocket in the ProxyConfig (such as "
        "\"unix:///run/spire/agent.sock\") or the SPIFFE_ENDPOINT_SOCKET environment "
        "variable");
}

static void
test_workload_api_bundle_needs_trust_domain(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: tb}\n"
        "spec: {workloadAPI: true}\n" PROXY_WITH_SOCKET BASE,
        "t.yaml:4:21: error: spec.workloadAPI: workloadAPI needs a trustDomain: the "
        "agent sends one bundle per trust domain; name the trust domain whose roots "
        "these are, such as \"example.org\"");
}

static void
test_workload_socket_syntax(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: p}\n"
        "spec: {spiffe: {workloadAPISocket: /run/spire/agent.sock}}\n" BASE,
        "t.yaml:4:36: error: spec.spiffe.workloadAPISocket: \"/run/spire/agent.sock\" is "
        "not a Workload API address: it is neither a unix:// nor a tcp:// address; write "
        "unix:///path/to/agent.sock or tcp://IP:port");
    /* The bad address is the only error: WorkloadIdentities do not repeat it. */
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: p}\n"
        "spec: {spiffe: {workloadAPISocket: \"tcp://agent:8081\"}}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: WorkloadIdentity\n"
        "metadata: {name: svid}\n" BASE,
        "t.yaml:4:36: error: spec.spiffe.workloadAPISocket: \"tcp://agent:8081\" is not "
        "a Workload API address: a tcp address needs an IP address and a port; write "
        "unix:///path/to/agent.sock or tcp://IP:port");
    assert_int_equal(test_config_diag.n_errors, 1);
    setenv("SPIFFE_ENDPOINT_SOCKET", "unix://relative.sock", 1);
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: WorkloadIdentity\n"
        "metadata: {name: svid}\n" BASE,
        "t.yaml:1:1: error: WorkloadIdentity default/svid needs the SPIFFE Workload API, "
        "and the SPIFFE_ENDPOINT_SOCKET environment variable \"unix://relative.sock\" is "
        "not a Workload API address: a unix address needs an absolute path; write "
        "unix:///path/to/agent.sock or tcp://IP:port");
}

static void
test_same_trust_domain_twice(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: a}\n"
        "spec: {trustDomain: example.org, pem: " CERT_QUOTED "}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: b}\n"
        "spec: {trustDomain: example.org, pem: " CERT_QUOTED "}\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation:\n"
        "        caCertificateRefs:\n"
        "        - {group: portcullis.dev, kind: TrustBundle, name: a}\n"
        "        - {group: portcullis.dev, kind: TrustBundle, name: b}\n" BASE,
        "t.yaml:25:11: error: "
        "spec.listeners[0].tls.frontendValidation.caCertificateRefs[1]: TrustBundle "
        "default/a and TrustBundle default/b are both for trust domain \"example.org\"; "
        "reference one bundle per trust domain");
}

static void
test_spiffe_and_plain_bundles_do_not_mix(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: a}\n"
        "spec: {trustDomain: example.org, pem: " CERT_QUOTED "}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: ca}\n"
        "data: {ca.crt: " CERT_QUOTED "}\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation:\n"
        "        caCertificateRefs:\n"
        "        - {group: portcullis.dev, kind: TrustBundle, name: a}\n"
        "        - {name: ca}\n" BASE,
        "t.yaml:24:9: error: spec.listeners[0].tls.frontendValidation.caCertificateRefs: "
        "the list mixes SPIFFE trust bundles (with a trustDomain) and plain CA bundles; "
        "give every TrustBundle of the list a trustDomain, or list plain CA bundles only");
}

/* ---- client certificates and XFCC ---- */

static void
test_client_mode_needs_frontend_validation(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n"
        "  tls: {clientCertificate: {mode: Optional}}\n" BASE,
        "t.yaml:6:35: error: spec.tls.clientCertificate.mode: Gateway default/gw "
        "listener \"https\" has no tls.frontendValidation, so it asks for no client "
        "certificate; add tls.frontendValidation.caCertificateRefs to the listener, "
        "naming the CAs client certificates must lead to");
}

static void
test_client_mode_only_for_gateways(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  tls: {clientCertificate: {mode: Require}}\n" BASE ROUTE,
        "t.yaml:6:35: error: spec.tls.clientCertificate.mode: "
        "spec.tls.clientCertificate.mode cannot apply to HTTPRoute targets; attach this "
        "setting to a Gateway or listener");
}

static void
test_xfcc_details_need_sanitize_set(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  forwardClientCert: {mode: Sanitize, details: [URI]}\n" BASE ROUTE,
        "t.yaml:6:48: error: spec.forwardClientCert.details: details only apply with "
        "mode SanitizeSet; remove details, or use mode SanitizeSet");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  forwardClientCert: {details: [URI, Issuer]}\n" BASE ROUTE,
        "t.yaml:6:38: error: spec.forwardClientCert.details[1]: unknown detail "
        "\"Issuer\"; allowed: Subject, URI, DNS, Cert, Chain");
}

static void
test_xfcc_conflicting_policies(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: a}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  forwardClientCert: {details: [URI]}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: b}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  forwardClientCert: {mode: Sanitize}\n" BASE ROUTE,
        "t.yaml:13:22: error: spec.forwardClientCert: ClientTrafficPolicy default/a and "
        "ClientTrafficPolicy default/b both set spec.forwardClientCert for HTTPRoute "
        "default/r; set it in one policy only");
}

/* ---- BackendTLSPolicy ---- */

static void
test_backend_tls_policy_needs_hostname(void **state)
{
    test_config_expect_error(
        BTLS_HEAD "  validation: {wellKnownCACertificates: System}\n" BASE,
        "t.yaml:6:15: error: spec.validation.hostname: required field is missing");
}

static void
test_backend_tls_policy_one_validation_source(void **state)
{
    test_config_expect_error(
        BTLS_HEAD "  validation:\n"
                  "    hostname: api.internal\n"
                  "    wellKnownCACertificates: System\n"
                  "    caCertificateRefs: [{name: ca}]\n"
                  "---\n"
                  "apiVersion: v1\n"
                  "kind: ConfigMap\n"
                  "metadata: {name: ca}\n"
                  "data: {ca.crt: " CERT_QUOTED "}\n" BASE,
        "t.yaml:8:30: error: spec.validation.wellKnownCACertificates: "
        "wellKnownCACertificates must not be set together with caCertificateRefs; use "
        "caCertificateRefs or wellKnownCACertificates, not both");
    test_config_expect_error(
        BTLS_HEAD "  validation: {hostname: api.internal}\n" BASE,
        "t.yaml:6:15: error: spec.validation.caCertificateRefs: validation needs "
        "caCertificateRefs or wellKnownCACertificates; name a ConfigMap or TrustBundle in "
        "caCertificateRefs, or set wellKnownCACertificates: System");
}

static void
test_spiffe_uri_san_syntax(void **state)
{
    static const struct {
        const char *uri;
        const char *problem;
    } cases[] = {
        { "spiffe://example.org/ns//api", "its path has an empty segment (a doubled or trailing "
                                          "'/')" },
        { "SPIFFE://example.org/api", "its scheme is not in lower case" },
        { "spiffe://example.org:8443/api", "its trust domain includes a port" },
        { "spiffe://user@example.org/api", "its trust domain includes user information" },
        { "spiffe://example.org/a/../b", "its path has a \".\" or \"..\" segment" },
        { "spiffe://example.org/a?x=1", "it has a query or a fragment" },
        { "spiffe://example.org/a%20b", "its path has a character other than letters, digits, "
                                        "'.', '-' and '_'" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[2048];
        char want[1024];

        snprintf(yaml, sizeof(yaml),
                 BTLS_HEAD "  validation:\n"
                           "    hostname: api.internal\n"
                           "    wellKnownCACertificates: System\n"
                           "    subjectAltNames: [{type: URI, uri: \"%s\"}]\n" BASE,
                 cases[i].uri);
        snprintf(want, sizeof(want),
                 "t.yaml:9:40: error: spec.validation.subjectAltNames[0].uri: SPIFFE ID \"%s\" is "
                 "not valid: %s; write spiffe://<trust domain>/<path>, with path segments of "
                 "letters, digits, '.', '-' and '_'",
                 cases[i].uri, cases[i].problem);
        test_config_expect_error(yaml, want);
    }
}

static void
test_subject_alt_name_fields_follow_type(void **state)
{
    test_config_expect_error(
        BTLS_HEAD "  validation:\n"
                  "    hostname: api.internal\n"
                  "    wellKnownCACertificates: System\n"
                  "    subjectAltNames: [{type: URI, hostname: api.internal}]\n" BASE,
        "t.yaml:9:23: error: spec.validation.subjectAltNames[0].uri: uri is required "
        "when type is URI");
    assert_true(test_config_has_error(
        "t.yaml:9:45: error: spec.validation.subjectAltNames[0].hostname: must "
        "not be set when type is URI; remove it, or change the type"));
}

static void
test_spiffe_san_needs_its_trust_domain_bundle(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: a}\n"
        "spec: {trustDomain: example.org, pem: " CERT_QUOTED "}\n"
        "---\n" BTLS_HEAD "  validation:\n"
        "    hostname: api.internal\n"
        "    caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: a}]\n"
        "    subjectAltNames: [{type: URI, uri: \"spiffe://other.org/api\"}]\n" BASE,
        "t.yaml:14:40: error: spec.validation.subjectAltNames[0].uri: no referenced "
        "TrustBundle is for trust domain \"other.org\"; add the TrustBundle of that trust "
        "domain to caCertificateRefs");
}

static void
test_backend_tls_policy_targets(void **state)
{
    test_config_expect_error(
        BTLS_HEAD "  validation: {hostname: api.internal, wellKnownCACertificates: "
                  "System}\n"
                  "---\n"
                  "apiVersion: gateway.networking.k8s.io/v1alpha3\n"
                  "kind: BackendTLSPolicy\n"
                  "metadata: {name: bt2}\n"
                  "spec:\n"
                  "  targetRefs: [{kind: Service, name: svc}]\n"
                  "  validation: {hostname: api.internal, wellKnownCACertificates: "
                  "System}\n" BASE,
        "t.yaml:12:16: error: spec.targetRefs[0]: BackendTLSPolicy default/bt and "
        "BackendTLSPolicy default/bt2 both target Service default/svc; keep one "
        "BackendTLSPolicy per Service port");
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: bt}\n"
        "spec:\n"
        "  targetRefs: [{kind: Service, name: svc, sectionName: grpc}]\n"
        "  validation: {hostname: api.internal, wellKnownCACertificates: System}\n" BASE,
        "t.yaml:5:56: error: spec.targetRefs[0].sectionName: ServiceEndpoints "
        "default/svc has no port named \"grpc\"; port names: https, http");
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: bt}\n"
        "spec:\n"
        "  targetRefs: [{kind: Service, name: svcc}]\n"
        "  validation: {hostname: api.internal, wellKnownCACertificates: System}\n" BASE,
        "t.yaml:5:38: error: spec.targetRefs[0].name: Service default/svcc has no "
        "ServiceEndpoints; did you mean \"svc\"?");
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: bt}\n"
        "spec:\n"
        "  targetRefs: [{kind: Service, name: svc}, {kind: Service, name: svc, "
        "sectionName: https}]\n"
        "  validation: {hostname: api.internal, wellKnownCACertificates: System}\n" BASE,
        "t.yaml:5:44: error: spec.targetRefs[1]: Service svc is targeted twice, so each "
        "target needs a sectionName; name one port of the Service in each");
}

/* ---- compiled snapshots ---- */

static void
test_https_listener_with_two_certificates_compiles(void **state)
{
    char *yaml = format_yaml(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: CertificateFiles\n"
        "metadata: {name: files}\n"
        "spec: {certificate: %s, privateKey: %s}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: api}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: |\n" CERT_BLOCK "  tls.key: |\n" KEY_BLOCK "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs:\n"
        "      - {name: api}\n"
        "      - {group: portcullis.dev, kind: CertificateFiles, name: files}\n"
        "      - {name: site}\n" BASE ROUTE,
        chain_path, key_path);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_port *port = &cfg->ports[1];
    const struct pc_listener_tls *tls = port->listeners[0].tls;

    assert_int_equal(cfg->n_ports, 2);
    assert_string_equal(port->name, "0.0.0.0:9443");
    assert_true(port->is_tls);
    assert_int_equal(port->listeners[0].protocol, PC_PROTO_HTTPS);
    assert_non_null(tls);
    assert_int_equal(tls->n_certificates, 3);
    assert_string_equal(tls->certificates[0].name, "default/api");
    assert_int_equal(tls->certificates[0].chain.origin, PC_PEM_INLINE);
    assert_int_equal(tls->certificates[0].chain.len, strlen(CERT_PEM));
    assert_memory_equal(tls->certificates[0].chain.data, CERT_PEM, strlen(CERT_PEM));
    assert_string_equal(tls->certificates[0].key.data, KEY_PEM);
    assert_null(tls->certificates[0].spiffe_id);
    assert_string_equal(tls->certificates[1].name, "default/files");
    assert_int_equal(tls->certificates[1].chain.origin, PC_PEM_FILE);
    assert_string_equal(tls->certificates[1].chain.path, chain_path);
    assert_string_equal(tls->certificates[1].key.path, key_path);
    /* Secret "site" holds base64 under data: the snapshot has the decoded PEM. */
    assert_string_equal(tls->certificates[2].chain.data, CERT_PEM);
    assert_string_equal(tls->certificates[2].key.data, KEY_PEM);
    assert_int_equal(tls->client_mode, PC_CLIENT_CERT_NONE);
    assert_int_equal(tls->n_client_bundles, 0);
    assert_int_equal(cfg->n_material_files, 2);
    assert_string_equal(cfg->material_files[0], chain_path);
    assert_string_equal(cfg->material_files[1], key_path);
    assert_true(cfg->ports[0].is_tls);
    assert_null(cfg->proxy.workload_api_socket);
    assert_int_equal(cfg->proxy.tls_ticket_rotation_ms, PC_CONFIG_DEFAULT_TLS_TICKET_ROTATION_MS);
    assert_true(cfg->proxy.tls_session_tickets);
    pc_config_unref(cfg);
    free(yaml);
}

static void
test_plain_http_listener_has_no_tls(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok("apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: Gateway\n"
                              "metadata: {name: g2}\n"
                              "spec:\n"
                              "  gatewayClassName: pc\n"
                              "  listeners: [{name: web, port: 9080, protocol: HTTP}]\n" BASE);

    assert_int_equal(cfg->n_ports, 2);
    assert_false(cfg->ports[1].is_tls);
    assert_int_equal(cfg->ports[1].listeners[0].protocol, PC_PROTO_HTTP);
    assert_null(cfg->ports[1].listeners[0].tls);
    assert_int_equal(cfg->n_material_files, 0);
    pc_config_unref(cfg);
}

static void
test_client_certificates_required_by_default(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: ca}\n"
        "data:\n"
        "  ca.crt: |\n" CERT_BLOCK "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation: {caCertificateRefs: [{name: ca}]}\n"
        "  - name: optional\n"
        "    port: 9443\n"
        "    hostname: optional.example.com\n"
        "    protocol: HTTPS\n"
        "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation: {caCertificateRefs: [{kind: ConfigMap, name: ca}]}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: g2, sectionName: optional}]\n"
        "  tls: {clientCertificate: {mode: Optional}}\n" BASE);
    const struct pc_port *port = &cfg->ports[1];
    const struct pc_listener *web = &port->listeners[0];
    const struct pc_listener *optional = &port->listeners[1];

    assert_int_equal(port->n_listeners, 2);
    assert_string_equal(web->name, "web");
    assert_int_equal(web->tls->client_mode, PC_CLIENT_CERT_REQUIRE);
    assert_int_equal(web->tls->n_client_bundles, 1);
    assert_string_equal(web->tls->client_bundles[0].name, "default/ca");
    assert_null(web->tls->client_bundles[0].trust_domain);
    assert_int_equal(web->tls->client_bundles[0].format, PC_BUNDLE_PEM);
    assert_int_equal(web->tls->client_bundles[0].source.origin, PC_PEM_INLINE);
    assert_string_equal(web->tls->client_bundles[0].source.data, CERT_PEM);
    assert_string_equal(optional->name, "optional");
    assert_int_equal(optional->tls->client_mode, PC_CLIENT_CERT_OPTIONAL);
    assert_int_equal(cfg->ports[0].listeners[0].tls->client_mode, PC_CLIENT_CERT_NONE);
    pc_config_unref(cfg);
}

static void
test_spiffe_federation_with_two_trust_domains(void **state)
{
    char *yaml = format_yaml(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: home, namespace: spire}\n"
        "spec: {trustDomain: example.org, format: SPIFFE, file: %s}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: partner, namespace: spire}\n"
        "spec: {trustDomain: partner.example, workloadAPI: true}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1beta1\n"
        "kind: ReferenceGrant\n"
        "metadata: {name: gateways, namespace: spire}\n"
        "spec:\n"
        "  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]\n"
        "  to: [{group: portcullis.dev, kind: TrustBundle}]\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation:\n"
        "        caCertificateRefs:\n"
        "        - {group: portcullis.dev, kind: TrustBundle, namespace: spire, name: home}\n"
        "        - {group: portcullis.dev, kind: TrustBundle, namespace: spire, name: partner}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: p}\n"
        "spec: {spiffe: {workloadAPISocket: \"unix:///run/spire/agent.sock\"}, tls: "
        "{sessionTicketRotation: 10m, sessionTickets: false}}\n" BASE,
        spiffe_path);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_listener_tls *tls = cfg->ports[1].listeners[0].tls;

    assert_int_equal(tls->client_mode, PC_CLIENT_CERT_REQUIRE);
    assert_int_equal(tls->n_client_bundles, 2);
    assert_string_equal(tls->client_bundles[0].name, "spire/home");
    assert_string_equal(tls->client_bundles[0].trust_domain, "example.org");
    assert_int_equal(tls->client_bundles[0].format, PC_BUNDLE_SPIFFE);
    assert_int_equal(tls->client_bundles[0].source.origin, PC_PEM_FILE);
    assert_string_equal(tls->client_bundles[0].source.path, spiffe_path);
    assert_string_equal(tls->client_bundles[1].trust_domain, "partner.example");
    assert_int_equal(tls->client_bundles[1].source.origin, PC_PEM_WORKLOAD_API);
    assert_string_equal(cfg->proxy.workload_api_socket, "unix:///run/spire/agent.sock");
    assert_int_equal(cfg->proxy.tls_ticket_rotation_ms, 600000);
    assert_false(cfg->proxy.tls_session_tickets);
    assert_int_equal(cfg->n_material_files, 1);
    assert_string_equal(cfg->material_files[0], spiffe_path);
    pc_config_unref(cfg);
    free(yaml);
}

static void
test_backend_tls_policy_with_gateway_svid(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: mesh}\n"
        "spec: {trustDomain: example.org, workloadAPI: true}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: WorkloadIdentity\n"
        "metadata: {name: svid}\n"
        "spec: {spiffeID: \"spiffe://example.org/gateway\"}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: api-tls}\n"
        "spec:\n"
        "  targetRefs: [{group: \"\", kind: Service, name: svc, sectionName: https}]\n"
        "  validation:\n"
        "    hostname: api.internal\n"
        "    caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: mesh}]\n"
        "    subjectAltNames:\n"
        "    - {type: URI, uri: \"spiffe://example.org/ns/default/sa/api\"}\n"
        "    - {type: Hostname, hostname: api.internal}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners: [{name: web, port: 9080, protocol: HTTP}]\n"
        "  backendTLS:\n"
        "    clientCertificateRef: {group: portcullis.dev, kind: WorkloadIdentity, name: svid}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r2}\n"
        "spec:\n"
        "  parentRefs: [{name: g2}]\n"
        "  rules: [{backendRefs: [{name: svc, port: 443}, {name: svc, port: 80}]}]\n" PROXY_WITH_SOCKET
            BASE ROUTE);
    const struct pc_route_rule *on_gw = cfg->rules[0]; /* port 8443 compiles first */
    const struct pc_route_rule *on_g2 = cfg->rules[1];
    const struct pc_backend_tls *tls = on_g2->backends[0].tls;

    assert_int_equal(cfg->n_rules, 2);
    assert_string_equal(on_g2->route_name, "default/r2");
    assert_non_null(tls);
    assert_null(on_g2->backends[1].tls); /* port 80 is not targeted */
    assert_string_equal(tls->policy, "default/api-tls");
    assert_string_equal(tls->hostname, "api.internal");
    assert_int_equal(tls->n_subject_alt_names, 2);
    assert_int_equal(tls->subject_alt_names[0].type, PC_SAN_URI);
    assert_string_equal(tls->subject_alt_names[0].value, "spiffe://example.org/ns/default/sa/api");
    assert_int_equal(tls->subject_alt_names[1].type, PC_SAN_DNS);
    assert_string_equal(tls->subject_alt_names[1].value, "api.internal");
    assert_int_equal(tls->n_bundles, 1);
    assert_string_equal(tls->bundles[0].trust_domain, "example.org");
    assert_int_equal(tls->bundles[0].source.origin, PC_PEM_WORKLOAD_API);
    assert_false(tls->use_system_roots);
    assert_non_null(tls->client_certificate);
    assert_string_equal(tls->client_certificate->name, "default/svid");
    assert_int_equal(tls->client_certificate->chain.origin, PC_PEM_WORKLOAD_API);
    assert_int_equal(tls->client_certificate->key.origin, PC_PEM_WORKLOAD_API);
    assert_string_equal(tls->client_certificate->spiffe_id, "spiffe://example.org/gateway");
    /* Gateway gw has no backendTLS: the same policy, without a client certificate. */
    assert_non_null(on_gw->backends[0].tls);
    assert_ptr_not_equal(on_gw->backends[0].tls, tls);
    assert_null(on_gw->backends[0].tls->client_certificate);
    assert_string_equal(cfg->proxy.workload_api_socket, "unix:///run/spire/agent.sock");
    pc_config_unref(cfg);
}

static void
test_backend_tls_policy_port_beats_service(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: gateway.networking.k8s.io/v1alpha3\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: whole}\n"
        "spec:\n"
        "  targetRefs: [{group: \"\", kind: Service, name: svc}]\n"
        "  validation: {hostname: svc.internal, wellKnownCACertificates: System}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: port}\n"
        "spec:\n"
        "  targetRefs: [{group: \"\", kind: Service, name: svc, sectionName: https}]\n"
        "  validation:\n"
        "    hostname: api.internal\n"
        "    caCertificateRefs: [{name: ca}]\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: ca}\n"
        "data: {ca.crt: " CERT_QUOTED "}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules: [{backendRefs: [{name: svc, port: 443}, {name: svc, port: 80}]}]\n" BASE);
    const struct pc_route_rule *rule = cfg->rules[0];

    assert_string_equal(rule->backends[0].tls->policy, "default/port");
    assert_false(rule->backends[0].tls->use_system_roots);
    assert_int_equal(rule->backends[0].tls->n_bundles, 1);
    assert_string_equal(rule->backends[0].tls->bundles[0].source.data, CERT_PEM);
    assert_string_equal(rule->backends[1].tls->policy, "default/whole");
    assert_string_equal(rule->backends[1].tls->hostname, "svc.internal");
    assert_true(rule->backends[1].tls->use_system_roots);
    assert_int_equal(rule->backends[1].tls->n_bundles, 0);
    assert_int_equal(rule->backends[1].tls->n_subject_alt_names, 0);
    pc_config_unref(cfg);
}

static void
test_xfcc_defaults_and_overrides(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: gateway-default}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  forwardClientCert: {details: [URI, Cert, Chain]}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: route}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: quiet}]\n"
        "  forwardClientCert: {mode: Sanitize}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: quiet}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules: [{matches: [{path: {value: /quiet}}]}]\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: plain}\n"
        "spec:\n"
        "  parentRefs: [{name: g2}]\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners: [{name: web, port: 9080, protocol: HTTP}]\n" BASE ROUTE);
    const struct pc_route_rule *quiet = cfg->rules[0];
    const struct pc_route_rule *r = cfg->rules[1];
    const struct pc_route_rule *plain = cfg->rules[2];

    assert_string_equal(quiet->route_name, "default/quiet");
    assert_int_equal(quiet->xfcc.mode, PC_XFCC_SANITIZE);
    assert_false(quiet->xfcc.subject || quiet->xfcc.uri || quiet->xfcc.dns || quiet->xfcc.cert
                 || quiet->xfcc.chain);
    assert_string_equal(plain->route_name, "default/plain");
    assert_int_equal(plain->xfcc.mode, PC_XFCC_SANITIZE_SET);
    assert_true(plain->xfcc.subject && plain->xfcc.uri && plain->xfcc.dns);
    assert_false(plain->xfcc.cert || plain->xfcc.chain);
    assert_string_equal(r->route_name, "default/r");
    assert_int_equal(r->xfcc.mode, PC_XFCC_SANITIZE_SET);
    assert_false(r->xfcc.subject || r->xfcc.dns);
    assert_true(r->xfcc.uri && r->xfcc.cert && r->xfcc.chain);
    pc_config_unref(cfg);
}

static void
test_relative_paths_resolve_from_the_declaring_file(void **state)
{
    char conf[160];
    char file[200];
    char want[200];
    struct pc_config *cfg;
    FILE *f;

    snprintf(conf, sizeof(conf), "%s/conf", dir);
    assert_int_equal(mkdir(conf, 0700), 0);
    snprintf(file, sizeof(file), "%s/10-files.yaml", conf);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("apiVersion: portcullis.dev/v1alpha1\n"
          "kind: CertificateFiles\n"
          "metadata: {name: files}\n"
          "spec: {certificate: ../chain.pem, privateKey: ./../key.pem}\n"
          "---\n"
          "apiVersion: portcullis.dev/v1alpha1\n"
          "kind: TrustBundle\n"
          "metadata: {name: roots}\n"
          "spec: {file: ..//ca.pem}\n"
          "---\n" G2_HEAD "    tls:\n"
          "      certificateRefs: [{group: portcullis.dev, kind: CertificateFiles, name: files}]\n"
          "      frontendValidation:\n"
          "        caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: roots}]\n"
          "---\n",
          f);
    fputs(BASE, f);
    fclose(f);

    cfg = pc_config_load(conf, &test_config_diag);
    if (cfg == NULL) {
        test_config_dump();
    }
    assert_non_null(cfg);
    snprintf(want, sizeof(want), "%s/conf/../chain.pem", dir);
    assert_string_equal(cfg->ports[1].listeners[0].tls->certificates[0].chain.path, want);
    snprintf(want, sizeof(want), "%s/conf/../key.pem", dir);
    assert_string_equal(cfg->ports[1].listeners[0].tls->certificates[0].key.path, want);
    snprintf(want, sizeof(want), "%s/conf/../ca.pem", dir);
    assert_string_equal(cfg->ports[1].listeners[0].tls->client_bundles[0].source.path, want);
    assert_int_equal(cfg->n_material_files, 3);
    assert_int_equal(cfg->n_files, 1);
    pc_config_unref(cfg);
    unlink(file);
    rmdir(conf);
}

static void
test_cross_namespace_certificate_with_grant(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: shared, namespace: certs}\n"
        "type: kubernetes.io/tls\n"
        "stringData:\n"
        "  tls.crt: |\n" CERT_BLOCK "  tls.key: |\n" KEY_BLOCK "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: ReferenceGrant\n"
        "metadata: {name: gateways, namespace: certs}\n"
        "spec:\n"
        "  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]\n"
        "  to: [{group: \"\", kind: Secret, name: shared}]\n"
        "---\n" G2_HEAD "    tls: {certificateRefs: [{name: shared, namespace: certs}]}\n" BASE);

    assert_string_equal(cfg->ports[1].listeners[0].tls->certificates[0].name, "certs/shared");
    pc_config_unref(cfg);
}

static void
test_workload_socket_from_the_environment(void **state)
{
    struct pc_config *cfg;

    setenv("SPIFFE_ENDPOINT_SOCKET", "unix:///tmp/agent.sock", 1);
    cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: WorkloadIdentity\n"
        "metadata: {name: svid}\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{group: portcullis.dev, kind: WorkloadIdentity, "
        "name: svid}]\n" BASE);
    assert_string_equal(cfg->proxy.workload_api_socket, "unix:///tmp/agent.sock");
    assert_int_equal(cfg->ports[1].listeners[0].tls->certificates[0].chain.origin,
                     PC_PEM_WORKLOAD_API);
    pc_config_unref(cfg);

    /* Set but unused: the snapshot names no Workload API. */
    cfg = test_config_expect_ok(BASE);
    assert_null(cfg->proxy.workload_api_socket);
    pc_config_unref(cfg);
}

static void
test_tls_load_survives_allocation_failures(void **state)
{
    static const char yaml[] =
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: ca}\n"
        "data: {ca.crt: " CERT_QUOTED "}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: TrustBundle\n"
        "metadata: {name: mesh}\n"
        "spec: {trustDomain: example.org, workloadAPI: true}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: BackendTLSPolicy\n"
        "metadata: {name: bt}\n"
        "spec:\n"
        "  targetRefs: [{group: \"\", kind: Service, name: svc}]\n"
        "  validation:\n"
        "    hostname: api.internal\n"
        "    caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: mesh}]\n"
        "    subjectAltNames: [{type: URI, uri: \"spiffe://example.org/api\"}]\n"
        "---\n" G2_HEAD "    tls:\n"
        "      certificateRefs: [{name: site}]\n"
        "      frontendValidation: {caCertificateRefs: [{name: ca}]}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
        "  forwardClientCert: {details: [Cert]}\n" PROXY_WITH_SOCKET BASE ROUTE;
    size_t before = pc_alloc_bytes();
    int successes_in_a_row = 0;

    /* Every load either fails with an error or yields the whole snapshot, and never leaks. */
    for (long n = 0; successes_in_a_row < 50 && n < 20000; n++) {
        struct pc_diag d;
        struct pc_config *cfg;

        pc_diag_init(&d);
        pc_alloc_fail_after(n);
        cfg = pc_config_load_buffer("t.yaml", yaml, sizeof(yaml) - 1, &d);
        pc_alloc_fail_reset();
        if (cfg != NULL) {
            const struct pc_listener_tls *tls = cfg->ports[1].listeners[0].tls;

            assert_string_equal(tls->certificates[0].key.data, KEY_PEM);
            assert_string_equal(tls->client_bundles[0].source.data, CERT_PEM);
            assert_string_equal(cfg->rules[0]->backends[0].tls->subject_alt_names[0].value,
                                "spiffe://example.org/api");
            assert_true(cfg->rules[0]->xfcc.cert);
            assert_string_equal(cfg->proxy.workload_api_socket, "unix:///run/spire/agent.sock");
            successes_in_a_row++;
        } else {
            assert_true(d.n_errors > 0);
            successes_in_a_row = 0;
        }
        pc_config_unref(cfg);
        pc_diag_free(&d);
    }
    assert_int_equal(successes_in_a_row, 50);
    assert_int_equal(pc_alloc_bytes(), before);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_https_listener_needs_tls),
        T(test_https_listener_needs_a_certificate),
        T(test_passthrough_refused),
        T(test_tls_on_http_listener_refused),
        T(test_http_and_https_on_one_port_refused),
        T(test_https_listeners_on_one_port_need_distinct_hostnames),
        T(test_gateway_level_tls_refused),
        T(test_frontend_validation_mode_refused),
        T(test_certificate_ref_listed_twice),
        T(test_dangling_secret_ref_suggests),
        T(test_dangling_certificate_files_ref),
        T(test_certificate_ref_kind_needs_its_group),
        T(test_certificate_ref_unknown_kind),
        T(test_dangling_trust_bundle_ref),
        T(test_dangling_config_map_ref),
        T(test_config_map_without_ca_crt),
        T(test_cross_namespace_certificate_needs_grant),
        T(test_secret_of_wrong_type),
        T(test_secret_missing_tls_key),
        T(test_secret_invalid_base64),
        T(test_secret_value_not_pem),
        T(test_secret_key_encrypted),
        T(test_secret_chain_must_not_hold_the_key),
        T(test_secret_values_never_printed),
        T(test_certificate_file_missing),
        T(test_relative_certificate_file_missing_says_where_it_looked),
        T(test_certificate_file_is_a_directory),
        T(test_certificate_file_unreadable),
        T(test_trust_domain_syntax),
        T(test_trust_bundle_needs_one_source),
        T(test_spiffe_format_needs_trust_domain),
        T(test_inline_bundles_are_checked),
        T(test_workload_api_needs_a_socket),
        T(test_workload_api_bundle_needs_trust_domain),
        T(test_workload_socket_syntax),
        T(test_same_trust_domain_twice),
        T(test_spiffe_and_plain_bundles_do_not_mix),
        T(test_client_mode_needs_frontend_validation),
        T(test_client_mode_only_for_gateways),
        T(test_xfcc_details_need_sanitize_set),
        T(test_xfcc_conflicting_policies),
        T(test_backend_tls_policy_needs_hostname),
        T(test_backend_tls_policy_one_validation_source),
        T(test_spiffe_uri_san_syntax),
        T(test_subject_alt_name_fields_follow_type),
        T(test_spiffe_san_needs_its_trust_domain_bundle),
        T(test_backend_tls_policy_targets),
        T(test_https_listener_with_two_certificates_compiles),
        T(test_plain_http_listener_has_no_tls),
        T(test_client_certificates_required_by_default),
        T(test_spiffe_federation_with_two_trust_domains),
        T(test_backend_tls_policy_with_gateway_svid),
        T(test_backend_tls_policy_port_beats_service),
        T(test_xfcc_defaults_and_overrides),
        T(test_relative_paths_resolve_from_the_declaring_file),
        T(test_cross_namespace_certificate_with_grant),
        T(test_workload_socket_from_the_environment),
        T(test_tls_load_survives_allocation_failures),
    };

    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
