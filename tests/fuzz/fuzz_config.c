/*
 * libFuzzer target for the configuration layer: the input is one YAML file that goes through
 * the whole loader, validator and compiler. When it compiles, a few requests are routed through
 * every port's table, so the matcher sees tables shaped by fuzzed configurations too. Must
 * never crash, hang or leak, whatever the bytes.
 */
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "config/diag.h"
#include "route/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
route_some(const struct pc_config *cfg)
{
    static const char *const hosts[] = { "", "example.com", "a.example.com", "x.y.z" };
    static const char *const paths[] = { "/", "/api", "/api/v1/users", "/a/b/c/d/e/f" };
    static const struct pc_header_pair headers[] = {
        { "x-version", 9, "v2", 2 },
        { "x-version", 9, "v3", 2 },
        { "user-agent", 10, "curl/8", 6 },
    };

    for (size_t p = 0; p < cfg->n_ports; p++) {
        for (size_t i = 0; i < 4; i++) {
            struct pc_route_request req = {
                .host = hosts[i],
                .host_len = strlen(hosts[i]),
                .path = paths[i],
                .path_len = strlen(paths[i]),
                .query = "a=1&b=%32&a=3",
                .query_len = 13,
                .method = i % 2 ? "GET" : "POST",
                .method_len = i % 2 ? 3 : 4,
                .headers = headers,
                .n_headers = 3,
            };
            struct pc_route_match m;

            pc_route_match(cfg->ports[p].routes, &req, &m);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pc_diag diag;
    struct pc_config *cfg;
    char line[1024];

    pc_diag_init(&diag);
    cfg = pc_config_load_buffer("fuzz.yaml", (const char *)data, size, &diag);
    if (cfg != NULL) {
        route_some(cfg);
    }
    for (size_t i = 0; i < diag.n_entries; i++) {
        pc_diag_format(&diag, i, line, sizeof(line));
    }
    pc_config_unref(cfg);
    pc_diag_free(&diag);
    return 0;
}
