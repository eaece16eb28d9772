/*
 * The conformance runner: OPA's own YAML test cases run against our engine.
 *
 * Each case is compiled and evaluated from scratch as the cases' README describes: modules
 * compiled together, data as the base document, input from JSON or from Rego term text,
 * strict builtin errors when asked. Results are compared as sets of solutions after turning
 * values into JSON the way OPA does (sets become sorted arrays, non-string keys strings).
 * Output is one line per failing case, one summary per folder and the total last.
 */
#include "cli/policy_conformance.h"

#include <stdio.h>
#include <string.h>

#include "cli/policy_load.h"
#include "rego/json.h"
#include "rego/yaml.h"

#define CASE_STEP_LIMIT 50000000ULL

struct runner {
    char **baseline;
    size_t nbaseline;
    FILE *write_baseline;
    int verbose;
    const char *root;
    char folder[512];
    int fpass;
    int ffail;
    int pass;
    int fail;
    int wording;
    int baseline_failures;
    struct pc_rego_ctx *ctx;
};

/* Values as OPA's JSON sees them: sets as arrays, object keys as strings. */
static const struct pc_rego_value *
jsonify(struct pc_rego_arena *arena, const struct pc_rego_value *v)
{
    if (v->kind == PC_REGO_ARRAY || v->kind == PC_REGO_SET) {
        struct pc_rego_builder b;
        pc_rego_builder_init(&b, arena, PC_REGO_ARRAY);
        for (size_t i = 0; i < pc_rego_len(v); i++) {
            if (pc_rego_builder_push(&b, jsonify(arena, pc_rego_item(v, i))) != 0) {
                return NULL;
            }
        }
        return pc_rego_builder_finish(&b);
    }
    if (v->kind != PC_REGO_OBJECT) {
        return v;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    for (size_t i = 0; i < pc_rego_len(v); i++) {
        const struct pc_rego_entry *e = pc_rego_entry_at(v, i);
        const struct pc_rego_value *key = e->key;
        if (key->kind != PC_REGO_STRING) {
            struct pc_rego_strbuf sb;
            pc_rego_strbuf_init(&sb, arena);
            pc_rego_json_write(&sb, jsonify(arena, key), 0);
            key = pc_rego_string(arena, sb.data != NULL ? sb.data : "", sb.len);
        }
        if (pc_rego_builder_put(&b, key, jsonify(arena, e->val)) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

/* Sorts every array-valued binding of a solution object (for sort_bindings). */
static const struct pc_rego_value *
sort_bindings(struct pc_rego_arena *arena, const struct pc_rego_value *sol)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    for (size_t i = 0; i < pc_rego_len(sol); i++) {
        const struct pc_rego_entry *e = pc_rego_entry_at(sol, i);
        const struct pc_rego_value *v = e->val;
        if (v->kind == PC_REGO_ARRAY) {
            const struct pc_rego_value *copy = pc_rego_array(arena, v->u.items, v->len);
            if (copy == NULL) {
                return NULL;
            }
            pc_rego_sort_values((const struct pc_rego_value **)copy->u.items, copy->len);
            v = copy;
        }
        if (pc_rego_builder_put(&b, e->key, v) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static const struct pc_rego_value *
field(const struct pc_rego_value *c, const char *name)
{
    return pc_rego_object_get_str(c, name, strlen(name));
}

static bool
flag(const struct pc_rego_value *c, const char *name)
{
    const struct pc_rego_value *v = field(c, name);
    return v != NULL && v->kind == PC_REGO_BOOLEAN && pc_rego_bool_get(v);
}

/* The actual solutions as a set of JSON objects. */
static const struct pc_rego_value *
actual_set(struct pc_rego_arena *arena, const struct pc_rego_query *q,
           const struct pc_rego_solution *sols, size_t n, bool sort)
{
    struct pc_rego_builder set;
    pc_rego_builder_init(&set, arena, PC_REGO_SET);
    for (size_t i = 0; i < n; i++) {
        struct pc_rego_builder obj;
        pc_rego_builder_init(&obj, arena, PC_REGO_OBJECT);
        for (size_t k = 0; k < pc_rego_query_nvars(q); k++) {
            const char *name = pc_rego_query_var(q, k);
            if (sols[i].vars[k] != NULL
                && pc_rego_builder_put_str(&obj, name, strlen(name),
                                           jsonify(arena, sols[i].vars[k]))
                       != 0) {
                return NULL;
            }
        }
        const struct pc_rego_value *o = pc_rego_builder_finish(&obj);
        if (o != NULL && sort) {
            o = sort_bindings(arena, o);
        }
        if (pc_rego_builder_push(&set, o) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&set);
}

static const struct pc_rego_value *
expected_set(struct pc_rego_arena *arena, const struct pc_rego_value *want, bool sort)
{
    struct pc_rego_builder set;
    pc_rego_builder_init(&set, arena, PC_REGO_SET);
    for (size_t i = 0; want->kind == PC_REGO_ARRAY && i < pc_rego_len(want); i++) {
        const struct pc_rego_value *o = pc_rego_item(want, i);
        if (o->kind != PC_REGO_OBJECT) {
            continue;
        }
        if (sort) {
            o = sort_bindings(arena, o);
        }
        if (pc_rego_builder_push(&set, o) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&set);
}

static void
describe(struct pc_rego_arena *arena, const struct pc_rego_value *v, char *out, size_t n)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, arena);
    pc_rego_json_write(&sb, v, 0);
    snprintf(out, n, "%.*s%s", sb.len > 300 ? 300 : (int)sb.len, sb.data != NULL ? sb.data : "",
             sb.len > 300 ? "..." : "");
}

/* Everything one case needs released after it. */
struct case_run {
    struct pc_rego_compiler *c;
    struct pc_rego_policy *pol;
    struct pc_rego_query *q;
    struct pc_rego_error err;
    char reason[2048];
    bool wording_only;
};

static int
compile_case(struct case_run *cr, const struct pc_rego_value *tc, const char *file)
{
    cr->c = pc_rego_compiler_create();
    if (cr->c == NULL) {
        snprintf(cr->reason, sizeof(cr->reason), "out of memory");
        return -1;
    }
    pc_rego_compiler_set_test_builtins(cr->c, true);
    const struct pc_rego_value *mods = field(tc, "modules");
    for (size_t i = 0; mods != NULL && i < pc_rego_len(mods); i++) {
        const struct pc_rego_value *m = pc_rego_item(mods, i);
        size_t len = 0;
        const char *src = m->kind == PC_REGO_STRING ? pc_rego_string_get(m, &len) : "";
        char name[600];
        snprintf(name, sizeof(name), "%s:module%zu", file, i);
        if (m->kind != PC_REGO_STRING
            || pc_rego_compiler_add_module(cr->c, name, src, len, &cr->err) != 0) {
            return -1;
        }
    }
    const struct pc_rego_value *data = field(tc, "data");
    if (data != NULL && data->kind == PC_REGO_OBJECT
        && pc_rego_compiler_add_data(cr->c, NULL, data, &cr->err) != 0) {
        return -1;
    }
    cr->pol = pc_rego_compiler_compile(cr->c, &cr->err);
    if (cr->pol == NULL) {
        return -1;
    }
    const struct pc_rego_value *query = field(tc, "query");
    size_t qlen = 0;
    const char *qs =
        query != NULL && query->kind == PC_REGO_STRING ? pc_rego_string_get(query, &qlen) : "";
    cr->q = pc_rego_query_compile(cr->pol, qs, qlen, 0, &cr->err);
    return cr->q != NULL ? 0 : -1;
}

static const struct pc_rego_value *
case_input(struct case_run *cr, struct pc_rego_arena *arena, const struct pc_rego_value *tc,
           bool *bad)
{
    const struct pc_rego_value *in = field(tc, "input");
    const struct pc_rego_value *term = field(tc, "input_term");
    *bad = false;
    if (term != NULL && term->kind == PC_REGO_STRING) {
        size_t len;
        const char *src = pc_rego_string_get(term, &len);
        in = pc_rego_term_parse(arena, src, len, &cr->err);
        *bad = in == NULL;
    }
    return in;
}

/* Checks an evaluation error against want_error_code / want_error. */
static bool
check_error(struct case_run *cr, const struct pc_rego_value *tc, int rc)
{
    const struct pc_rego_value *code = field(tc, "want_error_code");
    const struct pc_rego_value *msg = field(tc, "want_error");
    if (rc == 0) {
        snprintf(cr->reason, sizeof(cr->reason), "expected an error, got results");
        return false;
    }
    const char *got = pc_rego_strerror(rc);
    bool code_ok = code == NULL
                   || (code->kind == PC_REGO_STRING && strlen(got) == code->len
                       && memcmp(got, code->u.s, code->len) == 0);
    char full[PC_REGO_ERROR_MSG_MAX + 64];
    snprintf(full, sizeof(full), "%s: %s", got, cr->err.msg);
    char want[PC_REGO_ERROR_MSG_MAX];
    snprintf(want, sizeof(want), "%.*s", msg != NULL ? (int)msg->len : 0,
             msg != NULL ? msg->u.s : "");
    bool msg_ok = msg == NULL || strstr(full, want) != NULL;
    if (!code_ok || !msg_ok) {
        cr->wording_only = code_ok && !msg_ok;
        snprintf(cr->reason, sizeof(cr->reason), "expected error %.*s \"%s\", got %s",
                 code != NULL ? (int)code->len : 0, code != NULL ? code->u.s : "", want, full);
        return false;
    }
    return true;
}

static bool
check_results(struct case_run *cr, struct pc_rego_arena *arena, const struct pc_rego_value *tc,
              const struct pc_rego_solution *sols, size_t n)
{
    bool sort = flag(tc, "sort_bindings");
    const struct pc_rego_value *want = field(tc, "want_result");
    const struct pc_rego_value *exp = want != NULL ? expected_set(arena, want, sort) : NULL;
    const struct pc_rego_value *act = actual_set(arena, cr->q, sols, n, sort);
    if (exp == NULL || act == NULL) {
        snprintf(cr->reason, sizeof(cr->reason), "no want_result");
        return false;
    }
    if (pc_rego_equal(exp, act)) {
        return true;
    }
    char e[400];
    char a[400];
    describe(arena, exp, e, sizeof(e));
    describe(arena, act, a, sizeof(a));
    snprintf(cr->reason, sizeof(cr->reason), "expected %s, got %s", e, a);
    return false;
}

static bool
run_case(struct runner *r, struct pc_rego_arena *arena, const struct pc_rego_value *tc,
         const char *file, struct case_run *cr)
{
    if (compile_case(cr, tc, file) != 0) {
        if (cr->reason[0] == '\0') {
            char buf[700];
            snprintf(cr->reason, sizeof(cr->reason), "%s",
                     pc_rego_error_format(&cr->err, buf, sizeof(buf)));
        }
        return false;
    }
    bool bad = false;
    const struct pc_rego_value *input = case_input(cr, arena, tc, &bad);
    if (bad) {
        snprintf(cr->reason, sizeof(cr->reason), "bad input_term: %s", cr->err.msg);
        return false;
    }
    pc_rego_ctx_reset(r->ctx);
    pc_rego_ctx_set_strict(r->ctx, flag(tc, "strict_error"));
    pc_rego_ctx_set_step_limit(r->ctx, CASE_STEP_LIMIT);
    const struct pc_rego_solution *sols = NULL;
    size_t n = 0;
    int rc = pc_rego_eval(r->ctx, cr->q, input, &sols, &n, &cr->err);
    if (field(tc, "want_error_code") != NULL || field(tc, "want_error") != NULL) {
        return check_error(cr, tc, rc);
    }
    if (rc != 0) {
        char buf[700];
        snprintf(cr->reason, sizeof(cr->reason), "unexpected error: %s",
                 pc_rego_error_format(&cr->err, buf, sizeof(buf)));
        return false;
    }
    return check_results(cr, arena, tc, sols, n);
}

static bool
in_baseline(const struct runner *r, const char *id)
{
    for (size_t i = 0; i < r->nbaseline; i++) {
        if (strcmp(r->baseline[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void
flush_folder(struct runner *r)
{
    if (r->folder[0] != '\0') {
        printf("%s: %d passed, %d failed\n", r->folder, r->fpass, r->ffail);
        fflush(stdout);
    }
    r->folder[0] = '\0';
    r->fpass = 0;
    r->ffail = 0;
}

/* A case's id is its file, its position in the file (notes repeat) and its note. */
static void
record(struct runner *r, const char *rel, size_t index, const char *note, bool ok,
       struct case_run *cr)
{
    char id[1200];
    snprintf(id, sizeof(id), "%s#%zu:%s", rel, index + 1, note);
    if (ok) {
        r->pass++;
        r->fpass++;
        if (r->write_baseline != NULL) {
            fprintf(r->write_baseline, "%s\n", id);
        }
        if (r->verbose) {
            printf("PASS %s: %s\n", rel, note);
        }
        return;
    }
    r->fail++;
    r->ffail++;
    r->wording += cr->wording_only ? 1 : 0;
    bool required = in_baseline(r, id);
    r->baseline_failures += required ? 1 : 0;
    printf("FAIL %s: %s: %s%s\n", rel, note, cr->reason, required ? " [baseline]" : "");
}

static void
release_case(struct case_run *cr)
{
    pc_rego_query_free(cr->q);
    pc_rego_policy_unref(cr->pol);
    pc_rego_compiler_free(cr->c);
}

static void
folder_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    const char *start = path;
    if (slash != NULL) {
        for (const char *p = slash - 1; p >= path && *p != '/'; p--) {
            start = p;
        }
    }
    size_t len = slash != NULL ? (size_t)(slash - start) : 0;
    snprintf(out, n, "%.*s", (int)len, start);
}

static int
run_file(const char *path, void *ud)
{
    struct runner *r = ud;
    size_t plen = strlen(path);
    if (plen < 5 || strcmp(path + plen - 5, ".yaml") != 0) {
        return 0;
    }
    char folder[512];
    folder_of(path, folder, sizeof(folder));
    if (strcmp(folder, r->folder) != 0) {
        flush_folder(r);
        snprintf(r->folder, sizeof(r->folder), "%s", folder);
    }
    const char *rel = path + strlen(r->root);
    rel += *rel == '/' ? 1 : 0;

    size_t len = 0;
    char *text = pc_cli_read_file(path, &len);
    struct pc_rego_arena *arena = pc_rego_arena_create(64 * 1024);
    struct pc_rego_error err;
    const struct pc_rego_value *doc =
        text != NULL && arena != NULL ? pc_rego_yaml_parse(arena, text, len, &err) : NULL;
    const struct pc_rego_value *cases =
        doc != NULL && doc->kind == PC_REGO_OBJECT ? field(doc, "cases") : NULL;
    for (size_t i = 0; cases != NULL && i < pc_rego_len(cases); i++) {
        const struct pc_rego_value *tc = pc_rego_item(cases, i);
        const struct pc_rego_value *note = field(tc, "note");
        char nbuf[600];
        snprintf(nbuf, sizeof(nbuf), "%.*s", note != NULL ? (int)note->len : 0,
                 note != NULL ? note->u.s : "");
        struct case_run cr;
        memset(&cr, 0, sizeof(cr));
        bool ok = run_case(r, arena, tc, rel, &cr);
        record(r, rel, i, nbuf, ok, &cr);
        release_case(&cr);
    }
    if (cases == NULL) {
        printf("FAIL %s: cannot read cases: %s (line %u)\n", rel, err.msg, err.line);
        r->fail++;
        r->ffail++;
    }
    pc_rego_arena_destroy(arena);
    pc_rego_free(text);
    return 0;
}

static int
load_baseline(struct runner *r, const char *path)
{
    size_t len;
    char *text = pc_cli_read_file(path, &len);
    if (text == NULL) {
        fprintf(stderr, "portcullis policy conformance: cannot read baseline %s\n", path);
        return -1;
    }
    size_t cap = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        if (r->nbaseline == cap) {
            cap = cap ? cap * 2 : 256;
            char **b = pc_rego_realloc(r->baseline, cap * sizeof(*b));
            if (b == NULL) {
                break;
            }
            r->baseline = b;
        }
        size_t n = strlen(line);
        r->baseline[r->nbaseline] = pc_rego_malloc(n + 1);
        if (r->baseline[r->nbaseline] == NULL) {
            break;
        }
        memcpy(r->baseline[r->nbaseline++], line, n + 1);
    }
    pc_rego_free(text);
    return 0;
}

static int
usage(void)
{
    fprintf(stderr, "usage: portcullis policy conformance [--baseline FILE] "
                    "[--write-baseline FILE] [-v] DIR...\n");
    return 2;
}

int
pc_cli_policy_conformance(int argc, char **argv)
{
    struct runner r;
    memset(&r, 0, sizeof(r));
    int first_dir = 0;
    int status = 0;
    for (int i = 1; i < argc && status == 0; i++) {
        if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
            status = load_baseline(&r, argv[++i]) == 0 ? 0 : 2;
        } else if (strcmp(argv[i], "--write-baseline") == 0 && i + 1 < argc) {
            r.write_baseline = fopen(argv[++i], "w");
            status = r.write_baseline != NULL ? 0 : 2;
        } else if (strcmp(argv[i], "-v") == 0) {
            r.verbose = 1;
        } else if (argv[i][0] == '-') {
            status = usage();
        } else if (first_dir == 0) {
            first_dir = i;
        }
    }
    if (status == 0 && first_dir == 0) {
        status = usage();
    }
    r.ctx = status == 0 ? pc_rego_ctx_create(0) : NULL;
    for (int i = first_dir; status == 0 && r.ctx != NULL && i < argc; i++) {
        if (argv[i][0] == '-') {
            i += strcmp(argv[i], "-v") != 0;
            continue;
        }
        r.root = argv[i];
        if (pc_cli_walk_files(argv[i], run_file, &r) != 0) {
            fprintf(stderr, "portcullis policy conformance: cannot read %s\n", argv[i]);
            status = 2;
        }
        flush_folder(&r);
    }
    if (status == 0) {
        if (r.wording > 0) {
            printf("note: %d failed cases had the right error code with different wording\n",
                   r.wording);
        }
        printf("%d passed, %d failed\n", r.pass, r.fail);
        status = r.baseline_failures > 0 ? 1 : 0;
    }
    if (r.write_baseline != NULL) {
        fclose(r.write_baseline);
    }
    pc_rego_ctx_free(r.ctx);
    for (size_t i = 0; i < r.nbaseline; i++) {
        pc_rego_free(r.baseline[i]);
    }
    pc_rego_free(r.baseline);
    return status;
}
