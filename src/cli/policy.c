/*
 * `portcullis policy`: eval and test on the Rego engine, and dispatch to conformance.
 *
 * eval prints what `opa eval` prints: {"result": [...]} with each solution's expression
 * values and bindings, {} when the query is undefined, {"errors": [...]} on failure. test
 * evaluates every test_* rule and reports PASS, FAIL (false or undefined) or ERROR per test,
 * then the totals, as `opa test -v` does.
 */
#include "cli/policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/policy_conformance.h"
#include "cli/policy_load.h"
#include "rego/json.h"
#include "rego/yaml.h"

#define MAX_PATHS 64

static int
usage(void)
{
    fprintf(stderr, "usage: portcullis policy eval [-d PATH]... [-i INPUT] [--strict] QUERY\n"
                    "       portcullis policy test [-v] PATH...\n"
                    "       portcullis policy conformance [--baseline FILE] "
                    "[--write-baseline FILE] DIR...\n");
    return 2;
}

/* Prints an error as OPA does: {"errors": [{"message", "code", "location"}]}. */
static void
print_error(const struct pc_rego_error *err)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, NULL);
    pc_rego_strbuf_adds(&sb, "{\n  \"errors\": [\n    {\n      \"message\": ");
    pc_rego_json_write_string(&sb, err->msg, strlen(err->msg), 0);
    pc_rego_strbuf_adds(&sb, ",\n      \"code\": ");
    const char *code = pc_rego_strerror(err->code);
    pc_rego_json_write_string(&sb, code, strlen(code), 0);
    if (err->line > 0) {
        pc_rego_strbuf_adds(&sb, ",\n      \"location\": {\n        \"file\": ");
        pc_rego_json_write_string(&sb, err->file, strlen(err->file), 0);
        pc_rego_strbuf_addf(&sb, ",\n        \"row\": %u,\n        \"col\": %u\n      }", err->line,
                            err->col);
    }
    pc_rego_strbuf_adds(&sb, "\n    }\n  ]\n}\n");
    fputs(sb.data != NULL ? sb.data : "", stdout);
    pc_rego_strbuf_free(&sb);
}

/* Indents a pretty JSON value for nesting at depth (two spaces a level). */
static void
add_nested(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, int depth)
{
    struct pc_rego_strbuf tmp;
    pc_rego_strbuf_init(&tmp, NULL);
    pc_rego_json_write(&tmp, v, PC_REGO_JSON_PRETTY);
    for (size_t i = 0; i < tmp.len; i++) {
        pc_rego_strbuf_addc(sb, tmp.data[i]);
        if (tmp.data[i] == '\n') {
            for (int d = 0; d < depth; d++) {
                pc_rego_strbuf_add(sb, "  ", 2);
            }
        }
    }
    pc_rego_strbuf_free(&tmp);
}

static void
print_solution(struct pc_rego_strbuf *sb, const struct pc_rego_query *q,
               const struct pc_rego_solution *s)
{
    pc_rego_strbuf_adds(sb, "    {\n      \"expressions\": [\n");
    for (size_t i = 0; i < pc_rego_query_nexprs(q); i++) {
        size_t len;
        uint32_t line;
        uint32_t col;
        const char *text = pc_rego_query_expr_text(q, i, &len, &line, &col);
        pc_rego_strbuf_adds(sb, "        {\n          \"value\": ");
        add_nested(sb, s->exprs[i], 5);
        pc_rego_strbuf_adds(sb, ",\n          \"text\": ");
        pc_rego_json_write_string(sb, text, len, 0);
        pc_rego_strbuf_addf(sb,
                            ",\n          \"location\": {\n            \"row\": %u,\n"
                            "            \"col\": %u\n          }\n        }%s\n",
                            line, col, i + 1 < pc_rego_query_nexprs(q) ? "," : "");
    }
    pc_rego_strbuf_adds(sb, "      ]");
    size_t nbound = 0;
    for (size_t i = 0; i < pc_rego_query_nvars(q); i++) {
        const char *name = pc_rego_query_var(q, i);
        if (s->vars[i] == NULL) {
            continue;
        }
        pc_rego_strbuf_adds(sb, nbound == 0 ? ",\n      \"bindings\": {\n" : ",\n");
        pc_rego_strbuf_adds(sb, "        ");
        pc_rego_json_write_string(sb, name, strlen(name), 0);
        pc_rego_strbuf_adds(sb, ": ");
        add_nested(sb, s->vars[i], 4);
        nbound++;
    }
    if (nbound > 0) {
        pc_rego_strbuf_adds(sb, "\n      }");
    }
    pc_rego_strbuf_adds(sb, "\n    }");
}

static void
print_results(const struct pc_rego_query *q, const struct pc_rego_solution *sols, size_t n)
{
    if (n == 0) {
        puts("{}");
        return;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, NULL);
    pc_rego_strbuf_adds(&sb, "{\n  \"result\": [\n");
    for (size_t i = 0; i < n; i++) {
        print_solution(&sb, q, &sols[i]);
        pc_rego_strbuf_adds(&sb, i + 1 < n ? ",\n" : "\n");
    }
    pc_rego_strbuf_adds(&sb, "  ]\n}\n");
    fputs(sb.data != NULL ? sb.data : "", stdout);
    pc_rego_strbuf_free(&sb);
}

static const struct pc_rego_value *
read_input(struct pc_rego_ctx *ctx, const char *path, struct pc_rego_error *err)
{
    size_t len;
    char *text = pc_cli_read_file(path, &len);
    if (text == NULL) {
        pc_rego_error_set(err, PC_REGO_EIO, path, 0, 0, "cannot read input file");
        return NULL;
    }
    size_t n = strlen(path);
    bool yaml = (n > 5 && strcmp(path + n - 5, ".yaml") == 0)
                || (n > 4 && strcmp(path + n - 4, ".yml") == 0);
    struct pc_rego_arena *arena = pc_rego_ctx_arena(ctx);
    const struct pc_rego_value *v = yaml ? pc_rego_yaml_parse(arena, text, len, err)
                                         : pc_rego_json_parse(arena, text, len, err);
    if (v == NULL && err->file[0] == '\0') {
        snprintf(err->file, sizeof(err->file), "%s", path);
    }
    pc_rego_free(text);
    return v;
}

struct eval_opts {
    const char *paths[MAX_PATHS];
    int npaths;
    const char *input;
    const char *query;
    bool strict;
};

static int
parse_eval_args(int argc, char **argv, struct eval_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--data") == 0) && i + 1 < argc) {
            if (o->npaths == MAX_PATHS) {
                return usage();
            }
            o->paths[o->npaths++] = argv[++i];
        } else if ((strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--input") == 0)
                   && i + 1 < argc) {
            o->input = argv[++i];
        } else if (strcmp(argv[i], "--strict") == 0
                   || strcmp(argv[i], "--strict-builtin-errors") == 0) {
            o->strict = true;
        } else if (argv[i][0] == '-' || o->query != NULL) {
            return usage();
        } else {
            o->query = argv[i];
        }
    }
    return o->query != NULL ? 0 : usage();
}

static struct pc_rego_policy *
load_policy(const char *const *paths, int npaths, bool tests, struct pc_rego_error *err)
{
    struct pc_rego_compiler *c = pc_rego_compiler_create();
    if (c == NULL) {
        pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    struct pc_rego_policy *pol = NULL;
    int rc = 0;
    for (int i = 0; i < npaths && rc == 0; i++) {
        rc = pc_cli_policy_load(c, paths[i], tests, err);
    }
    if (rc == 0) {
        pol = pc_rego_compiler_compile(c, err);
    }
    pc_rego_compiler_free(c);
    return pol;
}

/* print() output of policies, one line each, as opa eval and opa test -v show it. */
static void
print_to_stderr(const char *msg, size_t len, void *ud)
{
    (void)ud;
    fprintf(stderr, "%.*s\n", (int)len, msg);
}

static int
cmd_eval(int argc, char **argv)
{
    struct eval_opts o;
    int status = parse_eval_args(argc, argv, &o);
    if (status != 0) {
        return status;
    }
    struct pc_rego_error err;
    pc_rego_error_clear(&err);
    struct pc_rego_query *q = NULL;
    struct pc_rego_ctx *ctx = NULL;
    struct pc_rego_policy *pol = load_policy(o.paths, o.npaths, true, &err);
    if (pol != NULL) {
        q = pc_rego_query_compile(pol, o.query, strlen(o.query), PC_REGO_QUERY_CAPTURE, &err);
    }
    if (q != NULL) {
        ctx = pc_rego_ctx_create(0);
    }
    status = 1;
    if (ctx != NULL) {
        pc_rego_ctx_set_strict(ctx, o.strict);
        pc_rego_ctx_set_print(ctx, print_to_stderr, NULL);
        const struct pc_rego_value *input = o.input != NULL ? read_input(ctx, o.input, &err) : NULL;
        const struct pc_rego_solution *sols = NULL;
        size_t n = 0;
        if ((o.input == NULL || input != NULL)
            && pc_rego_eval(ctx, q, input, &sols, &n, &err) == 0) {
            print_results(q, sols, n);
            status = 0;
        }
    }
    if (status != 0) {
        if (err.code == 0) {
            pc_rego_error_set(&err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
        }
        print_error(&err);
    }
    pc_rego_ctx_free(ctx);
    pc_rego_query_free(q);
    pc_rego_policy_unref(pol);
    return status;
}

static double
elapsed_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e6 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e3;
}

/* Runs one test rule: 0 pass, 1 fail, 2 error. */
static int
run_test(struct pc_rego_policy *pol, struct pc_rego_ctx *ctx, const char *name,
         struct pc_rego_error *err)
{
    struct pc_rego_query *q = pc_rego_query_compile(pol, name, strlen(name), 0, err);
    if (q == NULL) {
        return 2;
    }
    pc_rego_ctx_reset(ctx);
    const struct pc_rego_value *v = NULL;
    int rc = pc_rego_eval_value(ctx, q, NULL, &v, err);
    pc_rego_query_free(q);
    if (rc != 0) {
        return 2;
    }
    return v != NULL && v->kind == PC_REGO_BOOLEAN && pc_rego_bool_get(v) ? 0 : 1;
}

static int
cmd_test(int argc, char **argv)
{
    const char *paths[MAX_PATHS];
    int npaths = 0;
    bool verbose = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (argv[i][0] == '-' || npaths == MAX_PATHS) {
            return usage();
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (npaths == 0) {
        return usage();
    }
    struct pc_rego_error err;
    pc_rego_error_clear(&err);
    struct pc_rego_policy *pol = load_policy(paths, npaths, true, &err);
    struct pc_rego_ctx *ctx = pol != NULL ? pc_rego_ctx_create(0) : NULL;
    if (ctx != NULL && verbose) {
        pc_rego_ctx_set_print(ctx, print_to_stderr, NULL);
    }
    if (ctx == NULL) {
        char buf[800];
        fprintf(stderr, "%s\n", pc_rego_error_format(&err, buf, sizeof(buf)));
        pc_rego_policy_unref(pol);
        return 1;
    }
    const char *const *names;
    size_t n = pc_rego_policy_tests(pol, &names);
    size_t counts[3] = { 0, 0, 0 };
    static const char *const labels[] = { "PASS", "FAIL", "ERROR" };
    const char *last_file = NULL;
    for (size_t i = 0; i < n; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pc_rego_error_clear(&err);
        int r = run_test(pol, ctx, names[i], &err);
        counts[r]++;
        if (verbose || r != 0) {
            const char *file = pc_rego_policy_test_file(pol, i);
            if (last_file == NULL || strcmp(file, last_file) != 0) {
                printf("%s%s:\n", last_file != NULL ? "\n" : "", file);
                last_file = file;
            }
            printf("%s: %s (%.0fµs)\n", names[i], labels[r], elapsed_us(&t0));
        }
        if (r == 2) {
            char buf[800];
            printf("  %s\n", pc_rego_error_format(&err, buf, sizeof(buf)));
        }
    }
    printf("--------------------------------------------------------------------------------\n");
    for (int k = 0; k < 3; k++) {
        if (counts[k] > 0 || (k == 0 && n == 0)) {
            printf("%s: %zu/%zu\n", labels[k], counts[k], n);
        }
    }
    pc_rego_ctx_free(ctx);
    pc_rego_policy_unref(pol);
    return counts[1] + counts[2] > 0 ? 1 : 0;
}

int
pc_cli_policy(int argc, char **argv)
{
    if (argc < 2) {
        return usage();
    }
    if (strcmp(argv[1], "eval") == 0) {
        return cmd_eval(argc, argv);
    }
    if (strcmp(argv[1], "test") == 0) {
        return cmd_test(argc, argv);
    }
    if (strcmp(argv[1], "conformance") == 0) {
        return pc_cli_policy_conformance(argc - 1, argv + 1);
    }
    return usage();
}
