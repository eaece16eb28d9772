/*
 * Fuzz target for the request path: bytes from a client -> HTTP/1.1 heads and bodies (several
 * pipelined messages, fed in two pieces at a split point the input chooses) -> path
 * normalisation -> route matching against a fixed table with every match kind.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "config/diag.h"
#include "core/arena.h"
#include "core/err.h"
#include "http/h1.h"
#include "route/path.h"
#include "route/route.h"

static const char config_yaml[] =
    "apiVersion: gateway.networking.k8s.io/v1\n"
    "kind: Gateway\n"
    "metadata: {name: edge}\n"
    "spec:\n"
    "  gatewayClassName: portcullis\n"
    "  listeners:\n"
    "  - {name: http, port: 8080, protocol: HTTP}\n"
    "  - {name: api, port: 8080, protocol: HTTP, hostname: '*.example.com'}\n"
    "---\n"
    "apiVersion: portcullis.dev/v1alpha1\n"
    "kind: ServiceEndpoints\n"
    "metadata: {name: svc}\n"
    "spec:\n"
    "  ports:\n"
    "  - port: 80\n"
    "    endpoints: ['127.0.0.1:9']\n"
    "---\n"
    "apiVersion: gateway.networking.k8s.io/v1\n"
    "kind: HTTPRoute\n"
    "metadata: {name: r}\n"
    "spec:\n"
    "  parentRefs: [{name: edge}]\n"
    "  hostnames: ['api.example.com', '*.example.com', 'plain.test']\n"
    "  rules:\n"
    "  - matches:\n"
    "    - path: {type: Exact, value: /exact}\n"
    "    - path: {type: PathPrefix, value: /api/v1}\n"
    "      method: POST\n"
    "      headers: [{name: x-tenant, value: blue}]\n"
    "    - path: {type: RegularExpression, value: '/items/[0-9]+'}\n"
    "      queryParams: [{name: q, type: RegularExpression, value: '^a.*'}]\n"
    "    backendRefs: [{name: svc, port: 80}]\n"
    "  - backendRefs: [{name: svc, port: 80}]\n";

static struct pc_config *cfg;

struct sink {
    struct pc_h1_head *head;
    size_t body;
    bool is_complete;
};

static int
on_head(void *owner, struct pc_h1_head *head)
{
    ((struct sink *)owner)->head = head;
    return 0;
}

static int
on_body(void *owner, const char *at, size_t len)
{
    ((struct sink *)owner)->body += len;
    return 0;
}

static void
on_complete(void *owner)
{
    ((struct sink *)owner)->is_complete = true;
}

static const struct pc_h1_callbacks callbacks = { on_head, on_body, on_complete };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pc_diag diag;

    pc_diag_init(&diag);
    cfg = pc_config_load_buffer("fuzz.yaml", config_yaml, sizeof(config_yaml) - 1, &diag);
    pc_diag_free(&diag);
    return cfg == NULL ? 1 : 0;
}

static void
route(struct pc_arena *arena, const struct pc_h1_head *head)
{
    struct pc_route_request rr = { 0 };
    struct pc_route_match match;
    const char *q = memchr(head->target, '?', head->target_len);
    size_t raw = q != NULL ? (size_t)(q - head->target) : head->target_len;
    char *path = pc_arena_alloc(arena, raw + 1);
    size_t path_len;

    if (path == NULL || pc_path_normalize(head->target, raw, path, &path_len, true) != 0) {
        return;
    }
    rr.path = path;
    rr.path_len = path_len;
    if (q != NULL) {
        rr.query = q + 1;
        rr.query_len = head->target_len - raw - 1;
    }
    if (head->host_index >= 0) {
        rr.host = head->headers[head->host_index].value;
        rr.host_len = head->headers[head->host_index].value_len;
    }
    rr.method = head->method;
    rr.method_len = head->method_len;
    rr.headers = head->headers;
    rr.n_headers = head->n_headers;
    pc_route_match(cfg->ports[0].routes, &rr, &match);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pc_h1_limits limits = { 8192, 32768, 100 };
    struct pc_arena *arena = pc_arena_create(4096);
    struct pc_h1_parser parser;
    struct sink sink = { 0 };
    size_t split = size > 0 ? data[0] % (size + 1) : 0;
    size_t off = 0;
    int messages = 0;

    if (arena == NULL) {
        return 0;
    }
    pc_h1_init(&parser, PC_H1_REQUEST, &callbacks, &sink);
    pc_h1_begin(&parser, arena, &limits);

    while (off <= size && messages < 8) {
        size_t end = off < split ? split : size;
        size_t consumed;
        enum pc_h1_result rc;

        pc_h1_resume(&parser);
        rc = pc_h1_feed(&parser, (const char *)data + off, end - off, &consumed);
        off += consumed;
        if (rc == PC_H1_ERROR || rc == PC_H1_UPGRADE) {
            break;
        }
        if (sink.head != NULL) {
            route(arena, sink.head);
            sink.head = NULL;
        }
        if (sink.is_complete) {
            /* The next pipelined message starts with a fresh arena, as a connection does. */
            sink = (struct sink){ 0 };
            pc_arena_reset(arena);
            pc_h1_begin(&parser, arena, &limits);
            messages++;
            continue;
        }
        if (rc == PC_H1_OK && off >= size) {
            break;
        }
        if (rc == PC_H1_OK && consumed == 0) {
            break;
        }
    }
    pc_arena_destroy(arena);
    return 0;
}
