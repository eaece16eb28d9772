/*
 * Test driver for the SPIFFE Workload API client (src/tls/workload.c): runs one client on a
 * libuv loop against the endpoint named on the command line and prints, as one JSON object per
 * line on stdout, every update and failure the owner is told of. It behaves as the gateway
 * should: it keeps the last good SVID update until a new one replaces it, and says which leaf
 * it still holds when a failure arrives. The client's own log lines go to stderr.
 *
 *   workload_probe ENDPOINT [--bundles] [--no-svids] [--initial-backoff-ms N]
 *                  [--max-backoff-ms N] [--first-response-timeout-ms N]
 *
 * SIGTERM or SIGINT stops the client and lets the loop drain, so a sanitizer build reports any
 * leak on exit. Single thread. tests/integration/test_workload_api.py builds and runs it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <uv.h>

#include "core/log.h"
#include "tls/workload.h"

struct probe {
    struct pc_workload *wl;
    struct pc_workload_svids *current; /* the last good SVID update, kept as the gateway would */
    char current_leaf[2 * 32 + 1];     /* its leaf's SHA-256, hex; "" before the first */
    uv_signal_t sigterm;
    uv_signal_t sigint;
};

/* Prints s as a JSON string; the client has already refused control characters. */
static void
print_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        putchar(*s);
    }
    putchar('"');
}

static void
hex_sha256(const unsigned char *data, size_t len, char *out)
{
    unsigned char md[32];
    unsigned int md_len = 0;

    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < md_len; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* Prints the SVID's leaf fingerprint, the certificate counts and whether the key matches. */
static void
print_svid(const struct pc_workload_svid *svid, char *leaf_hex)
{
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *bundle = NULL;
    EVP_PKEY *key = NULL;
    unsigned char *leaf_der = NULL;
    int is_match = 0;

    pc_workload_load_certs(&svid->chain, &chain);
    pc_workload_load_certs(&svid->bundle, &bundle);
    pc_workload_load_key(&svid->key, &key);

    int n = i2d_X509(sk_X509_value(chain, 0), &leaf_der);

    hex_sha256(leaf_der, (size_t)n, leaf_hex);
    is_match = X509_check_private_key(sk_X509_value(chain, 0), key) == 1;

    printf("{\"spiffe_id\":");
    print_string(svid->spiffe_id);
    printf(",\"hint\":");
    print_string(svid->hint);
    printf(",\"leaf_sha256\":\"%s\",\"chain_certs\":%d,\"bundle_certs\":%d,\"key_matches\":%s}",
           leaf_hex, sk_X509_num(chain), sk_X509_num(bundle), is_match ? "true" : "false");

    OPENSSL_free(leaf_der);
    EVP_PKEY_free(key);
    sk_X509_pop_free(bundle, X509_free);
    sk_X509_pop_free(chain, X509_free);
}

static void
print_domains(const struct pc_workload_bundle *bundles, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            putchar(',');
        }
        print_string(bundles[i].trust_domain);
    }
    putchar(']');
}

static void
on_svids(void *owner, struct pc_workload_svids *update)
{
    struct probe *probe = owner;
    char leaf_hex[2 * 32 + 1] = "";

    printf("{\"event\":\"svids\",\"svids\":[");
    for (size_t i = 0; i < update->n_svids; i++) {
        char hex[2 * 32 + 1];

        if (i > 0) {
            putchar(',');
        }
        print_svid(&update->svids[i], hex);
        if (i == 0) {
            memcpy(leaf_hex, hex, sizeof(hex));
        }
    }
    printf("],\"federated\":");
    print_domains(update->federated, update->n_federated);
    printf(",\"crls\":%zu}\n", update->n_crls);
    fflush(stdout);

    /* The new update replaces the old one whole (Workload API section 4.4). */
    pc_workload_free_svids(probe->current);
    probe->current = update;
    memcpy(probe->current_leaf, leaf_hex, sizeof(leaf_hex));
}

static void
on_bundles(void *owner, struct pc_workload_bundles *update)
{
    printf("{\"event\":\"bundles\",\"trust_domains\":");
    print_domains(update->bundles, update->n_bundles);
    printf(",\"certs\":[");
    for (size_t i = 0; i < update->n_bundles; i++) {
        STACK_OF(X509) *certs = NULL;

        pc_workload_load_certs(&update->bundles[i].certs, &certs);
        printf("%s%d", i > 0 ? "," : "", sk_X509_num(certs));
        sk_X509_pop_free(certs, X509_free);
    }
    printf("],\"crls\":%zu}\n", update->n_crls);
    fflush(stdout);
    pc_workload_free_bundles(update);
}

static void
on_failure(void *owner, const struct pc_workload_failure *f)
{
    static const char *const feeds[] = { "connection", "svids", "bundles" };
    struct probe *probe = owner;

    printf(
        "{\"event\":\"failure\",\"reason\":\"%s\",\"feed\":\"%s\",\"detail\":\"%s\",\"code\":%d,\"grpc_status\":%d,\"attempt\":%u,\"retry_ms\":%u,\"kept_leaf_sha256\":\"%s\"}\n",
        pc_workload_reason_name(f->reason), feeds[f->feed], f->detail, f->code, f->grpc_status,
        f->attempt, f->retry_ms, probe->current_leaf);
    fflush(stdout);
}

static void
on_signal(uv_signal_t *handle, int signum)
{
    struct probe *probe = handle->data;

    pc_workload_stop(probe->wl);
    probe->wl = NULL;
    uv_close((uv_handle_t *)&probe->sigterm, NULL);
    uv_close((uv_handle_t *)&probe->sigint, NULL);
}

static int
parse_args(int argc, char **argv, struct pc_workload_cfg *cfg)
{
    if (argc < 2) {
        return -1;
    }
    cfg->endpoint = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--bundles") == 0) {
            cfg->on_bundles = on_bundles;
        } else if (strcmp(argv[i], "--no-svids") == 0) {
            cfg->on_svids = NULL;
        } else if (strcmp(argv[i], "--initial-backoff-ms") == 0 && i + 1 < argc) {
            cfg->initial_backoff_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--max-backoff-ms") == 0 && i + 1 < argc) {
            cfg->max_backoff_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--first-response-timeout-ms") == 0 && i + 1 < argc) {
            cfg->first_response_timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            return -1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct probe probe = { 0 };
    struct pc_workload_cfg cfg = { .on_svids = on_svids,
                                   .on_failure = on_failure,
                                   .owner = &probe };
    struct pc_err err = { 0 };
    uv_loop_t *loop = uv_default_loop();

    if (parse_args(argc, argv, &cfg) != 0) {
        fprintf(
            stderr,
            "usage: %s ENDPOINT [--bundles] [--no-svids] [--initial-backoff-ms N] [--max-backoff-ms N] [--first-response-timeout-ms N]\n",
            argv[0]);
        return 2;
    }
    pc_log_configure(PC_LOG_DEBUG, PC_LOG_TEXT, 2);
    /* As the gateway does: a write to an endpoint that just died must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    probe.wl = pc_workload_start(loop, &cfg, &err);
    if (probe.wl == NULL) {
        fprintf(stderr, "workload_probe: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(loop, &probe.sigterm);
    uv_signal_init(loop, &probe.sigint);
    probe.sigterm.data = &probe;
    probe.sigint.data = &probe;
    uv_signal_start(&probe.sigterm, on_signal, SIGTERM);
    uv_signal_start(&probe.sigint, on_signal, SIGINT);
    printf("{\"event\":\"started\"}\n");
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);

    pc_workload_free_svids(probe.current);
    uv_loop_close(loop);
    printf("{\"event\":\"stopped\"}\n");
    return 0;
}
