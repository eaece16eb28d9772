/*
 * Rego decision micro-benchmark: the cost of one authorization decision for three policies
 * written the way platform teams write them (bench/rego/): role-based access with scopes,
 * attribute-based access with object ownership and time windows, and a SPIFFE
 * service-to-service allow list of 420 generated rules.
 *
 * Each policy is compiled once with its data; a decision is a context reset and one
 * evaluation of data.bench.<policy>.allow against an input document. Inputs are a rotating mix
 * of allowed and denied requests whose expected answers are checked before timing. Three
 * figures per policy, median and p99 over every timed decision:
 *   eval       the input is built once beforehand (what the evaluator costs);
 *   json+eval  the input is parsed from JSON into the context's arena on each decision;
 *   c+eval     (SPIFFE only) the input is built from C strings on each decision, as the gateway
 *              does from request fields.
 * Allocations are counted through the engine's allocation hooks over every timed decision
 * after a warm-up; the bench fails when any decision allocates (the bar: none beyond the
 * reusable arena), or when the eval median passes 3 us.
 *
 *   make bench-bins && ./build/bench/rego_bench [bench/rego [policy]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rego/json.h"
#include "rego/mem.h"
#include "rego/rego.h"
#include "rego/value.h"

#define WARMUP    2000
#define DECISIONS 200000
#define BAR_NS    3000.0

struct sample {
    const char *json;
    bool allow;
};

struct policy {
    const char *name;
    const struct sample *samples;
    size_t n_samples;
};

static const struct sample rbac_samples[] = {
    { "{\"subject\":{\"id\":\"user-17\",\"tenant\":\"acme\",\"roles\":[\"viewer\",\"order-clerk\"],"
      "\"scopes\":[\"orders:read\",\"orders:update\",\"customers:read\"]},"
      "\"request\":{\"method\":\"PATCH\",\"path\":[\"tenants\",\"acme\",\"orders\",\"o-12345\"]}}",
      true },
    { "{\"subject\":{\"id\":\"user-17\",\"tenant\":\"acme\",\"roles\":[\"viewer\",\"order-clerk\"],"
      "\"scopes\":[\"orders:read\",\"customers:read\"]},"
      "\"request\":{\"method\":\"PATCH\",\"path\":[\"tenants\",\"acme\",\"orders\",\"o-12345\"]}}",
      false },
    { "{\"subject\":{\"id\":\"user-3\",\"tenant\":\"globex\",\"roles\":[\"billing-admin\"],"
      "\"scopes\":[\"invoices:read\",\"invoices:delete\",\"reports:read\"]},"
      "\"request\":{\"method\":\"DELETE\",\"path\":[\"tenants\",\"globex\",\"invoices\",\"i-9\"]}}",
      true },
    { "{\"subject\":{\"id\":\"user-3\",\"tenant\":\"globex\",\"roles\":[\"billing-admin\"],"
      "\"scopes\":[\"invoices:read\",\"invoices:delete\",\"reports:read\"]},"
      "\"request\":{\"method\":\"GET\",\"path\":[\"tenants\",\"acme\",\"invoices\",\"i-9\"]}}",
      false },
    { "{\"subject\":{\"id\":\"user-920\",\"tenant\":\"acme\",\"roles\":[\"tenant-admin\"],"
      "\"scopes\":[\"products:update\"]},"
      "\"request\":{\"method\":\"PUT\",\"path\":[\"tenants\",\"acme\",\"products\",\"p-1\"]}}",
      false },
    { "{\"subject\":{\"id\":\"user-44\",\"tenant\":\"initech\",\"roles\":[\"custom-4\",\"custom-7\","
      "\"integrations\"],\"scopes\":[\"webhooks:create\",\"api-keys:read\"]},"
      "\"request\":{\"method\":\"POST\",\"path\":[\"tenants\",\"initech\",\"webhooks\"]}}",
      true },
    { "{\"subject\":{\"id\":\"op-1\",\"tenant\":\"platform\",\"roles\":[\"platform-operator\"],"
      "\"scopes\":[]},"
      "\"request\":{\"method\":\"GET\",\"path\":[\"tenants\",\"acme\",\"reports\",\"r-2\"]}}",
      true },
    { "{\"subject\":{\"id\":\"user-8\",\"tenant\":\"acme\",\"roles\":[\"viewer\"],"
      "\"scopes\":[\"shipments:read\"]},"
      "\"request\":{\"method\":\"OPTIONS\",\"path\":[\"tenants\",\"acme\",\"shipments\"]}}",
      false },
};

static const struct sample abac_samples[] = {
    /* colleague, Tuesday 2024-12-03 13:00 UTC = 14:00 in Paris */
    { "{\"subject\":{\"id\":\"u-2\",\"department\":\"engineering\",\"tenant\":\"acme\","
      "\"clearance\":\"confidential\",\"groups\":[\"staff\"]},\"action\":\"read\","
      "\"time_ns\":1733230800000000000,\"resource\":{\"id\":\"doc-9\",\"owner\":\"u-1\","
      "\"tenant\":\"acme\",\"department\":\"engineering\",\"classification\":\"internal\","
      "\"legal_hold\":false,\"shares\":[{\"grantee\":\"u-5\",\"actions\":[\"read\"],"
      "\"expires\":\"2025-01-01T00:00:00Z\"}]}}",
      true },
    /* same at 22:00 Paris time */
    { "{\"subject\":{\"id\":\"u-2\",\"department\":\"engineering\",\"tenant\":\"acme\","
      "\"clearance\":\"confidential\",\"groups\":[\"staff\"]},\"action\":\"read\","
      "\"time_ns\":1733259600000000000,\"resource\":{\"id\":\"doc-9\",\"owner\":\"u-1\","
      "\"tenant\":\"acme\",\"department\":\"engineering\",\"classification\":\"internal\","
      "\"legal_hold\":false,\"shares\":[]}}",
      false },
    /* owner deleting their own object */
    { "{\"subject\":{\"id\":\"u-1\",\"department\":\"legal\",\"tenant\":\"acme\","
      "\"clearance\":\"internal\",\"groups\":[\"staff\"]},\"action\":\"delete\","
      "\"time_ns\":1733259600000000000,\"resource\":{\"id\":\"doc-3\",\"owner\":\"u-1\","
      "\"tenant\":\"acme\",\"department\":\"legal\",\"classification\":\"secret\","
      "\"legal_hold\":false,\"shares\":[]}}",
      true },
    /* owner, but the object is under legal hold */
    { "{\"subject\":{\"id\":\"u-1\",\"department\":\"legal\",\"tenant\":\"acme\","
      "\"clearance\":\"internal\",\"groups\":[\"staff\"]},\"action\":\"delete\","
      "\"time_ns\":1733259600000000000,\"resource\":{\"id\":\"doc-3\",\"owner\":\"u-1\","
      "\"tenant\":\"acme\",\"department\":\"legal\",\"classification\":\"secret\","
      "\"legal_hold\":true,\"shares\":[]}}",
      false },
    /* shared link, not expired */
    { "{\"subject\":{\"id\":\"u-5\",\"department\":\"sales\",\"tenant\":\"acme\","
      "\"clearance\":\"public\",\"groups\":[]},\"action\":\"read\","
      "\"time_ns\":1733259600000000000,\"resource\":{\"id\":\"doc-9\",\"owner\":\"u-1\","
      "\"tenant\":\"acme\",\"department\":\"engineering\",\"classification\":\"internal\","
      "\"legal_hold\":false,\"shares\":[{\"grantee\":\"u-7\",\"actions\":[\"read\"],"
      "\"expires\":\"2025-01-01T00:00:00Z\"},{\"grantee\":\"u-5\",\"actions\":[\"read\"],"
      "\"expires\":\"2025-01-01T00:00:00Z\"}]}}",
      true },
    /* colleague without the clearance, on a Saturday in Tokyo */
    { "{\"subject\":{\"id\":\"u-8\",\"department\":\"finance\",\"tenant\":\"acme\","
      "\"clearance\":\"internal\",\"groups\":[\"staff\"]},\"action\":\"comment\","
      "\"time_ns\":1733533200000000000,\"resource\":{\"id\":\"doc-12\",\"owner\":\"u-4\","
      "\"tenant\":\"acme\",\"department\":\"finance\",\"classification\":\"confidential\","
      "\"legal_hold\":false,\"shares\":[]}}",
      false },
};

#define SPIFFE(ns, sa) "spiffe://prod.example.org/ns/" ns "/sa/" sa

static const struct sample spiffe_samples[] = {
    { "{\"source\":\"" SPIFFE("checkout", "api") "\",\"destination\":\"" SPIFFE(
          "catalog", "db-proxy") "\",\"method\":\"POST\",\"path\":\"/v1/catalog/items\"}",
      true },
    { "{\"source\":\"" SPIFFE("checkout", "api") "\",\"destination\":\"" SPIFFE(
          "catalog", "db-proxy") "\",\"method\":\"DELETE\",\"path\":\"/v1/catalog/items\"}",
      false },
    { "{\"source\":\"" SPIFFE("checkout", "api") "\",\"destination\":\"" SPIFFE(
          "billing", "db-proxy") "\",\"method\":\"GET\",\"path\":\"/v1/billing/x\"}",
      true },
    { "{\"source\":\"" SPIFFE("checkout", "api") "\",\"destination\":\"" SPIFFE(
          "billing", "db-proxy") "\",\"method\":\"GET\",\"path\":\"/v1/ledger/x\"}",
      false },
    { "{\"source\":\"spiffe://staging.example.org/ns/checkout/sa/api\",\"destination\":\"" SPIFFE(
          "billing", "db-proxy") "\",\"method\":\"GET\",\"path\":\"/v1/billing/x\"}",
      false },
    { "{\"source\":\"" SPIFFE("identity", "worker") "\",\"destination\":\"" SPIFFE(
          "payments", "api") "\",\"method\":\"POST\",\"path\":\"/v1/payments/charges\"}",
      false },
};

static const struct policy policies[] = {
    { "rbac", rbac_samples, sizeof(rbac_samples) / sizeof(rbac_samples[0]) },
    { "abac", abac_samples, sizeof(abac_samples) / sizeof(abac_samples[0]) },
    { "spiffe", spiffe_samples, sizeof(spiffe_samples) / sizeof(spiffe_samples[0]) },
};

static unsigned long long n_allocs;

static void *
count_malloc(size_t n, void *ud)
{
    (void)ud;
    n_allocs++;
    return malloc(n);
}

static void *
count_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    n_allocs++;
    return realloc(p, n);
}

static void
count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        goto close_file;
    }
    buf = malloc((size_t)size + 1);
    if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    *len = (size_t)size;
close_file:
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

static struct pc_rego_policy *
compile_policy(const char *dir, const char *name)
{
    struct pc_rego_error err;
    struct pc_rego_compiler *c = pc_rego_compiler_create();
    struct pc_rego_policy *pol = NULL;
    char path[512];
    char *rego = NULL;
    char *data = NULL;
    size_t rego_len = 0;
    size_t data_len = 0;

    snprintf(path, sizeof(path), "%s/%s.rego", dir, name);
    rego = read_file(path, &rego_len);
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    data = read_file(path, &data_len);
    if (c == NULL || rego == NULL || data == NULL) {
        fprintf(stderr, "rego_bench: cannot read %s/%s.{rego,json}\n", dir, name);
        goto release_all;
    }
    if (pc_rego_compiler_add_module(c, name, rego, rego_len, &err) != 0
        || pc_rego_compiler_add_data_json(c, NULL, data, data_len, &err) != 0
        || (pol = pc_rego_compiler_compile(c, &err)) == NULL) {
        fprintf(stderr, "rego_bench: %s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
    }
release_all:
    free(data);
    free(rego);
    pc_rego_compiler_free(c);
    return pol;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct figures {
    double median;
    double p99;
    double allocs_per_eval;
};

enum mode {
    MODE_EVAL,
    MODE_JSON,
    MODE_C
};

/* The SPIFFE input built from request fields, the way the gateway builds it. */
static const struct pc_rego_value *
spiffe_input_from_c(struct pc_rego_arena *arena, size_t i)
{
    static const char *const sources[] = { SPIFFE("checkout", "api"), SPIFFE("checkout", "api"),
                                           SPIFFE("identity", "worker") };
    static const char *const destinations[] = { SPIFFE("catalog", "db-proxy"),
                                                SPIFFE("billing", "db-proxy"),
                                                SPIFFE("payments", "api") };
    static const char *const methods[] = { "POST", "GET", "POST" };
    static const char *const paths[] = { "/v1/catalog/items", "/v1/billing/x",
                                         "/v1/payments/charges" };
    struct pc_rego_builder b;

    i %= 3;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    pc_rego_builder_put_str(&b, "source", 6,
                            pc_rego_string_ref(arena, sources[i], strlen(sources[i])));
    pc_rego_builder_put_str(&b, "destination", 11,
                            pc_rego_string_ref(arena, destinations[i], strlen(destinations[i])));
    pc_rego_builder_put_str(&b, "method", 6,
                            pc_rego_string_ref(arena, methods[i], strlen(methods[i])));
    pc_rego_builder_put_str(&b, "path", 4, pc_rego_string_ref(arena, paths[i], strlen(paths[i])));
    return pc_rego_builder_finish(&b);
}

/* One decision; returns 1 allowed, 0 denied, -1 on an error (printed). */
static int
decide(struct pc_rego_ctx *ctx, const struct pc_rego_query *q, const struct policy *p,
       const struct pc_rego_value *const *prebuilt, enum mode mode, size_t i)
{
    const struct pc_rego_value *input = prebuilt[i % p->n_samples];
    const struct pc_rego_value *out = NULL;
    struct pc_rego_error err;

    pc_rego_ctx_reset(ctx);
    if (mode == MODE_JSON) {
        const char *json = p->samples[i % p->n_samples].json;
        input = pc_rego_json_parse(pc_rego_ctx_arena(ctx), json, strlen(json), &err);
    } else if (mode == MODE_C) {
        input = spiffe_input_from_c(pc_rego_ctx_arena(ctx), i);
    }
    if (input == NULL || pc_rego_eval_value(ctx, q, input, &out, &err) != 0) {
        fprintf(stderr, "rego_bench: %s: evaluation failed: %s\n", p->name,
                input == NULL ? "input" : err.msg);
        return -1;
    }
    return out != NULL && pc_rego_kind(out) == PC_REGO_BOOLEAN && pc_rego_bool_get(out);
}

static int
run_mode(struct pc_rego_ctx *ctx, const struct pc_rego_query *q, const struct policy *p,
         const struct pc_rego_value *const *prebuilt, enum mode mode, double *times,
         struct figures *fig)
{
    for (size_t i = 0; i < WARMUP; i++) {
        if (decide(ctx, q, p, prebuilt, mode, i) < 0) {
            return -1;
        }
    }
    unsigned long long before = n_allocs;
    for (size_t i = 0; i < DECISIONS; i++) {
        double t0 = now_ns();
        int rc = decide(ctx, q, p, prebuilt, mode, i);
        times[i] = now_ns() - t0;
        if (rc < 0) {
            return -1;
        }
    }
    fig->allocs_per_eval = (double)(n_allocs - before) / DECISIONS;
    qsort(times, DECISIONS, sizeof(*times), cmp_double);
    fig->median = times[DECISIONS / 2];
    fig->p99 = times[DECISIONS * 99 / 100];
    return 0;
}

/* Checks every sample's expected answer; returns the number of mismatches. */
static int
check_answers(struct pc_rego_ctx *ctx, const struct pc_rego_query *q, const struct policy *p,
              const struct pc_rego_value *const *prebuilt)
{
    int bad = 0;

    for (size_t i = 0; i < p->n_samples; i++) {
        int got = decide(ctx, q, p, prebuilt, MODE_EVAL, i);
        if (got != (int)p->samples[i].allow) {
            fprintf(stderr, "rego_bench: %s sample %zu: got %d, want %d\n", p->name, i, got,
                    (int)p->samples[i].allow);
            bad++;
        }
    }
    return bad;
}

static void
print_figures(const char *policy, const char *mode, const struct figures *f)
{
    printf("%-8s %-10s median %7.0f ns   p99 %7.0f ns   allocations/eval %.4f\n", policy, mode,
           f->median, f->p99, f->allocs_per_eval);
}

static int
bench_policy(const char *dir, const struct policy *p, double *times)
{
    struct pc_rego_error err;
    struct pc_rego_policy *pol = compile_policy(dir, p->name);
    struct pc_rego_query *q = NULL;
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
    struct pc_rego_arena *inputs = pc_rego_arena_create(0);
    const struct pc_rego_value *prebuilt[16];
    struct figures fig;
    char query[64];
    int rc = -1;

    if (pol == NULL || ctx == NULL || inputs == NULL) {
        goto release_all;
    }
    snprintf(query, sizeof(query), "data.bench.%s.allow", p->name);
    q = pc_rego_query_compile(pol, query, strlen(query), 0, &err);
    if (q == NULL) {
        fprintf(stderr, "rego_bench: %s: %s\n", query, err.msg);
        goto release_all;
    }
    for (size_t i = 0; i < p->n_samples; i++) {
        prebuilt[i] =
            pc_rego_json_parse(inputs, p->samples[i].json, strlen(p->samples[i].json), &err);
        if (prebuilt[i] == NULL) {
            fprintf(stderr, "rego_bench: %s sample %zu: %s\n", p->name, i, err.msg);
            goto release_all;
        }
    }
    if (check_answers(ctx, q, p, prebuilt) != 0) {
        goto release_all;
    }
    for (int mode = MODE_EVAL; mode <= MODE_C; mode++) {
        if (mode == MODE_C && strcmp(p->name, "spiffe") != 0) {
            continue;
        }
        if (run_mode(ctx, q, p, prebuilt, (enum mode)mode, times, &fig) != 0) {
            goto release_all;
        }
        print_figures(p->name,
                      mode == MODE_EVAL   ? "eval"
                      : mode == MODE_JSON ? "json+eval"
                                          : "c+eval",
                      &fig);
        if (fig.allocs_per_eval != 0) {
            fprintf(stderr, "rego_bench: %s allocates on the heap per decision\n", p->name);
            goto release_all;
        }
        if (mode == MODE_EVAL && fig.median > BAR_NS) {
            fprintf(stderr, "rego_bench: %s median above %.0f ns\n", p->name, BAR_NS);
            goto release_all;
        }
    }
    rc = 0;
release_all:
    pc_rego_arena_destroy(inputs);
    pc_rego_ctx_free(ctx);
    pc_rego_query_free(q);
    pc_rego_policy_unref(pol);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct pc_rego_alloc_hooks hooks = { count_malloc, count_realloc, count_free,
                                                      NULL };
    const char *dir = argc > 1 ? argv[1] : "bench/rego";
    const char *only = argc > 2 ? argv[2] : NULL;
    double *times = malloc(DECISIONS * sizeof(*times));
    int failed = 0;

    if (times == NULL) {
        return 1;
    }
    pc_rego_set_alloc_hooks(&hooks);
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        if (only != NULL && strcmp(only, policies[i].name) != 0) {
            continue;
        }
        if (bench_policy(dir, &policies[i], times) != 0) {
            failed = 1;
        }
    }
    free(times);
    return failed;
}
