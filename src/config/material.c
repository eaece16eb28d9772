/*
 * Certificate and trust material: the resources that say where PEM comes from (core Secret and
 * ConfigMap, portcullis.dev CertificateFiles, WorkloadIdentity and TrustBundle), how references
 * to them resolve, and their copies in the snapshot.
 *
 * Nothing here parses a certificate or a key; that is src/tls's job when it builds its
 * contexts. Inline values are checked for base64 and PEM shape, files for existence and
 * readability, names for SPIFFE syntax. Secret values never reach a message, and every copy
 * of one this layer makes (decoded bytes, the YAML text, the snapshot's copy of a private key)
 * is wiped when its arena goes. Runs on the control thread, inside a load.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

#define TLS_SECRET_TYPE "kubernetes.io/tls"
#define PEM_FILE_HINT   "name the PEM file itself"

static const char socket_hint[] =
    "set spec.spiffe.workloadAPISocket in the ProxyConfig (such as \"unix:///run/spire/agent.sock\") or the SPIFFE_ENDPOINT_SOCKET environment variable";

static void report(struct pc_model *model, const struct pc_yaml_node *node, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Adds an error at node, whose location and key path the message cites. */
static void
report(struct pc_model *model, const struct pc_yaml_node *node, const char *hint, const char *fmt,
       ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_yaml_verror(model->diag, node, NULL, hint, fmt, ap);
    va_end(ap);
}

/* ---- wiping ---- */

struct wipe {
    volatile unsigned char *bytes;
    size_t len;
};

static void
on_wipe(void *data)
{
    struct wipe *w = data;

    /* Volatile stores, so the optimiser cannot drop them as dead before the free. */
    for (size_t i = 0; i < w->len; i++) {
        w->bytes[i] = 0;
    }
}

int
pc_model_wipe_later(struct pc_arena *arena, const void *bytes, size_t len)
{
    struct wipe *w = pc_arena_alloc(arena, sizeof(*w));

    if (w == NULL) {
        return PC_ENOMEM;
    }
    w->bytes = (volatile unsigned char *)(uintptr_t)bytes;
    w->len = len;
    return pc_arena_cleanup_add(arena, on_wipe, w) == 0 ? 0 : PC_ENOMEM;
}

/* ---- the Workload API ---- */

/* The address comes from the ProxyConfig, else from the environment the SPIFFE tools share. */
static int
find_workload_socket(struct pc_model *model)
{
    const struct pc_model_resource *pc =
        model->n_res[PC_RESOURCE_PROXY_CONFIG] > 0 ? model->res[PC_RESOURCE_PROXY_CONFIG][0] : NULL;
    const struct pc_resource_proxy_config *spec = pc != NULL ? pc->doc->spec : NULL;
    const char *env = getenv("SPIFFE_ENDPOINT_SOCKET");

    if (spec != NULL && spec->spiffe != NULL && spec->spiffe->workload_api_socket.s != NULL) {
        model->workload_api_socket = spec->spiffe->workload_api_socket.s;
        return 0;
    }
    if (spec != NULL && spec->spiffe != NULL
        && pc_yaml_get(spec->spiffe->node, "workloadAPISocket") != NULL) {
        model->is_socket_refused = true;
        return 0;
    }
    if (env == NULL || env[0] == '\0') {
        return 0;
    }
    model->workload_api_socket = pc_arena_strdup(model->arena, env);
    model->is_socket_from_env = true;
    return model->workload_api_socket != NULL ? 0 : PC_ENOMEM;
}

/* Reports, at node, that what needs a Workload API address and has none (or a bad one). */
static bool
require_socket(struct pc_model *model, const struct pc_yaml_node *node, const char *what)
{
    const char *socket = model->workload_api_socket;
    const char *problem;

    if (model->is_socket_refused) {
        return false;
    }
    if (socket == NULL) {
        report(model, node, socket_hint,
               "%s needs the SPIFFE Workload API, and no Workload API address is configured", what);
        return false;
    }
    /* The ProxyConfig's address was checked by its schema; the environment's was not. */
    problem =
        model->is_socket_from_env ? pc_value_workload_socket_problem(socket, strlen(socket)) : NULL;
    if (problem != NULL) {
        report(
            model, node, "write unix:///path/to/agent.sock or tcp://IP:port",
            "%s needs the SPIFFE Workload API, and the SPIFFE_ENDPOINT_SOCKET environment variable \"%.64s\" is not a Workload API address: %s",
            what, socket, problem);
        return false;
    }
    return true;
}

/* ---- files ---- */

/* Drops "." segments and doubled slashes from absolute path p, in place. */
static void
clean_path(char *p)
{
    char *w = p;
    const char *r = p;

    while (*r != '\0') {
        if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || r[2] == '\0')))) {
            r += r[1] == '/' ? 1 : 2;
            continue;
        }
        *w++ = *r++;
    }
    if (w == p) {
        *w++ = '/';
    }
    *w = '\0';
}

/*
 * Makes path absolute from the directory of declaring_file (itself relative to the working
 * directory when it is). Symbolic links are kept, not resolved: a mounted Secret volume swaps
 * its files by moving a link, and the TLS watcher must see that. Returns 0, PC_ENOMEM, or
 * PC_EIO when the working directory is unknown.
 */
static int
make_absolute(struct pc_arena *arena, const char *declaring_file, const char *path, char **out)
{
    const char *slash = strrchr(declaring_file, '/');
    int dir_len = slash != NULL ? (int)(slash - declaring_file) : 0;
    char cwd[PATH_MAX];

    if (path[0] == '/') {
        *out = pc_arena_strdup(arena, path);
    } else if (declaring_file[0] == '/') {
        *out = pc_arena_sprintf(arena, "%.*s/%s", dir_len, declaring_file, path);
    } else if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return PC_EIO;
    } else {
        *out = pc_arena_sprintf(arena, "%s/%.*s%s%s", cwd, dir_len, declaring_file,
                                dir_len > 0 ? "/" : "", path);
    }
    if (*out == NULL) {
        return PC_ENOMEM;
    }
    clean_path(*out);
    return 0;
}

static void
report_unreadable(struct pc_model *model, const struct pc_schema_string *path, const char *full,
                  int error)
{
    bool is_relative = path->s[0] != '/';

    if (error == ENOENT || error == ENOTDIR) {
        report(model, path->node,
               is_relative
                   ? "relative paths are read from the directory of the file that declares them"
                   : "check the path",
               "file \"%s\" does not exist", full);
    } else if (error == EACCES || error == EPERM) {
        report(model, path->node, "let the user portcullis runs as read it",
               "file \"%s\" is not readable: %s", full, strerror(error));
    } else {
        report(model, path->node, NULL, "cannot open file \"%s\": %s", full, strerror(error));
    }
}

int
pc_model_check_file(struct pc_model *model, const struct pc_schema_string *path, const char *what,
                    const char **abs)
{
    char *full = NULL;
    struct stat st;
    int rc = make_absolute(model->arena, path->node->file, path->s, &full);
    int fd;

    if (rc == PC_EIO) {
        report(model, path->node, "write an absolute path",
               "the relative path cannot be resolved: the working directory is unknown");
        return PC_EINVAL;
    }
    if (rc != 0) {
        return rc;
    }
    /* Non-blocking, so a FIFO named by mistake cannot stall the load. */
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd == -1) {
        report_unreadable(model, path, full, errno);
        return PC_EINVAL;
    }
    rc = fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ? PC_EINVAL : 0;
    close(fd);
    if (rc != 0) {
        report(model, path->node, what, "\"%s\" is not a regular file", full);
        return rc;
    }
    *abs = full;
    return 0;
}

/* ---- Secret ---- */

/* A value of a Secret's data (decoded) or stringData; bytes is NULL when it was reported bad. */
struct secret_value {
    const char *bytes;
    size_t len;
    const struct pc_yaml_node *node;
};

static void
keep_tls_value(const char *key, const char *bytes, size_t len, const struct pc_yaml_node *node,
               struct secret_value *crt, struct secret_value *tls_key)
{
    if (strcmp(key, "tls.crt") == 0) {
        *crt = (struct secret_value){ bytes, len, node };
    } else if (strcmp(key, "tls.key") == 0) {
        *tls_key = (struct secret_value){ bytes, len, node };
    }
}

/* Decodes every data value; *ok turns false when one is not base64. Returns 0 or PC_ENOMEM. */
static int
decode_data(struct pc_model *model, const struct pc_resource_doc *doc, struct secret_value *crt,
            struct secret_value *tls_key, bool *ok)
{
    for (size_t i = 0; i < doc->data.n; i++) {
        const struct pc_schema_string *v = &doc->data.values[i];
        size_t size = v->len / 4 * 3 + 4;
        unsigned char *out;
        size_t n = 0;
        size_t bad = 0;

        if (v->s == NULL) {
            /* Not a string: the decoder said so; the key is there all the same. */
            keep_tls_value(doc->data.keys[i].s, NULL, 0, doc->data.keys[i].node, crt, tls_key);
            *ok = false;
            continue;
        }
        out = pc_arena_alloc(model->arena, size);
        if (out == NULL || pc_model_wipe_later(model->arena, v->s, v->len) != 0
            || pc_model_wipe_later(model->arena, out, size) != 0) {
            return PC_ENOMEM;
        }
        if (pc_value_base64_decode(v->s, v->len, out, &n, &bad) != 0) {
            report(model, v->node,
                   "encode the file with `base64 -w0 FILE`, or put the PEM text under stringData",
                   "not valid base64 (at byte %zu of the value)", bad + 1);
            keep_tls_value(doc->data.keys[i].s, NULL, 0, v->node, crt, tls_key);
            *ok = false;
            continue;
        }
        out[n] = '\0';
        keep_tls_value(doc->data.keys[i].s, (const char *)out, n, v->node, crt, tls_key);
    }
    return 0;
}

/* A kubernetes.io/tls Secret must hold both keys, as the API server requires. */
static bool
check_tls_pair(struct pc_model *model, const struct pc_resource_doc *doc,
               const struct secret_value *crt, const struct secret_value *tls_key)
{
    const char *problem;
    bool ok = true;

    for (size_t i = 0; i < 2; i++) {
        if ((i == 0 ? crt : tls_key)->node == NULL) {
            report(model, doc->type.node,
                   "add it under data (base64 of the PEM file) or under stringData (the PEM text)",
                   "a Secret of type " TLS_SECRET_TYPE " needs \"%s\" in data or stringData",
                   i == 0 ? "tls.crt" : "tls.key");
            ok = false;
        }
    }
    if (!ok) {
        return false;
    }
    /* A value that is there but bad (no bytes) was reported already. */
    ok = crt->bytes != NULL && tls_key->bytes != NULL;
    problem = crt->bytes != NULL
                  ? pc_value_pem_problem(crt->bytes, crt->len, PC_VALUE_PEM_CERTIFICATES)
                  : NULL;
    if (problem != NULL) {
        report(model, crt->node, "give the leaf certificate first, then its intermediates, as PEM",
               "not a PEM certificate chain: %s", problem);
        ok = false;
    }
    problem = tls_key->bytes != NULL
                  ? pc_value_pem_problem(tls_key->bytes, tls_key->len, PC_VALUE_PEM_PRIVATE_KEY)
                  : NULL;
    if (problem != NULL) {
        report(model, tls_key->node,
               "give one unencrypted private key as PEM; `openssl pkey -in KEY` writes one",
               "not a PEM private key: %s", problem);
        ok = false;
    }
    return ok;
}

static int
check_secret(struct pc_model *model, struct pc_model_resource *res, struct pc_model_material *m)
{
    const struct pc_resource_doc *doc = res->doc;
    struct secret_value crt = { NULL, 0, NULL };
    struct secret_value tls_key = { NULL, 0, NULL };
    bool ok = res->is_valid;
    int rc = decode_data(model, doc, &crt, &tls_key, &ok);

    /* stringData wins over data for the same key, as the API server merges them. */
    for (size_t i = 0; rc == 0 && i < doc->string_data.n; i++) {
        const struct pc_schema_string *v = &doc->string_data.values[i];

        if (v->s == NULL) {
            keep_tls_value(doc->string_data.keys[i].s, NULL, 0, doc->string_data.keys[i].node, &crt,
                           &tls_key);
            ok = false;
            continue;
        }
        rc = pc_model_wipe_later(model->arena, v->s, v->len);
        keep_tls_value(doc->string_data.keys[i].s, v->s, v->len, v->node, &crt, &tls_key);
    }
    if (rc != 0 || doc->type.s == NULL || strcmp(doc->type.s, TLS_SECRET_TYPE) != 0) {
        m->is_usable = ok && doc->type.s != NULL;
        return rc;
    }
    m->is_usable = check_tls_pair(model, doc, &crt, &tls_key) && ok;
    m->has_certificate = true;
    m->chain = (struct pc_pem_source){ .origin = PC_PEM_INLINE, .data = crt.bytes, .len = crt.len };
    m->key = (struct pc_pem_source){ .origin = PC_PEM_INLINE,
                                     .data = tls_key.bytes,
                                     .len = tls_key.len };
    return 0;
}

/* Decodes a Secret's data value into the load arena, wiped with it. Returns 0 or PC_E*. */
static int
decode_secret_value(struct pc_model *model, const struct pc_schema_string *v, const char **bytes,
                    size_t *len)
{
    size_t size = v->len / 4 * 3 + 4;
    unsigned char *out = pc_arena_alloc(model->arena, size);
    size_t bad = 0;

    if (out == NULL || pc_model_wipe_later(model->arena, out, size) != 0) {
        return PC_ENOMEM;
    }
    /* A value that is not base64 was reported by the Secret's own check. */
    if (pc_value_base64_decode(v->s, v->len, out, len, &bad) != 0) {
        return PC_EINVAL;
    }
    out[*len] = '\0';
    *bytes = (const char *)out;
    return 0;
}

int
pc_model_secret_value(struct pc_model *model, const struct pc_model_resource *secret,
                      const char *key, const char **bytes, size_t *len)
{
    const struct pc_resource_doc *doc = secret->doc;

    /* stringData wins over data, as the API server merges them. */
    for (size_t i = 0; i < doc->string_data.n; i++) {
        if (strcmp(doc->string_data.keys[i].s, key) == 0) {
            *bytes = doc->string_data.values[i].s;
            *len = doc->string_data.values[i].len;
            return *bytes != NULL ? 0 : PC_EINVAL;
        }
    }
    for (size_t i = 0; i < doc->data.n; i++) {
        if (strcmp(doc->data.keys[i].s, key) == 0) {
            return doc->data.values[i].s != NULL
                       ? decode_secret_value(model, &doc->data.values[i], bytes, len)
                       : PC_EINVAL;
        }
    }
    return PC_ENOENT;
}

/* ---- ConfigMap ---- */

static int
check_config_map(struct pc_model *model, struct pc_model_resource *res, struct pc_model_material *m)
{
    const struct pc_resource_doc *doc = res->doc;
    const struct pc_schema_string *ca = NULL;
    const char *problem;

    for (size_t i = 0; i < doc->data.n; i++) {
        if (strcmp(doc->data.keys[i].s, "ca.crt") == 0) {
            ca = &doc->data.values[i];
        }
    }
    m->is_usable = res->is_valid;
    if (ca == NULL || ca->s == NULL) {
        return 0;
    }
    problem = pc_value_pem_problem(ca->s, ca->len, PC_VALUE_PEM_CERTIFICATES);
    if (problem != NULL) {
        report(model, ca->node, "put the CA certificates here as PEM text",
               "not PEM CA certificates: %s", problem);
        m->is_usable = false;
    }
    m->has_bundle = true;
    m->bundle = (struct pc_trust_bundle){
        .name = res->id,
        .format = PC_BUNDLE_PEM,
        .source = { .origin = PC_PEM_INLINE, .data = ca->s, .len = ca->len },
    };
    return 0;
}

/* ---- CertificateFiles and WorkloadIdentity ---- */

static int
check_certificate_files(struct pc_model *model, struct pc_model_resource *res,
                        struct pc_model_material *m)
{
    const struct pc_resource_certificate_files *spec = res->doc->spec;
    const char *chain = NULL;
    const char *key = NULL;
    int rc_chain;
    int rc_key;

    if (spec->certificate.s == NULL || spec->private_key.s == NULL) {
        return 0;
    }
    rc_chain = pc_model_check_file(model, &spec->certificate, PEM_FILE_HINT, &chain);
    rc_key = pc_model_check_file(model, &spec->private_key, PEM_FILE_HINT, &key);
    if (rc_chain == PC_ENOMEM || rc_key == PC_ENOMEM) {
        return PC_ENOMEM;
    }
    m->is_usable = res->is_valid && rc_chain == 0 && rc_key == 0;
    m->has_certificate = true;
    m->chain = (struct pc_pem_source){ .origin = PC_PEM_FILE, .path = chain };
    m->key = (struct pc_pem_source){ .origin = PC_PEM_FILE, .path = key };
    return 0;
}

static int
check_workload_identity(struct pc_model *model, struct pc_model_resource *res,
                        struct pc_model_material *m)
{
    const struct pc_resource_workload_identity *spec = res->doc->spec;
    char what[300];

    snprintf(what, sizeof(what), "WorkloadIdentity %s", res->id);
    m->is_usable = require_socket(model, res->doc->node, what) && res->is_valid;
    m->has_certificate = true;
    m->chain = (struct pc_pem_source){ .origin = PC_PEM_WORKLOAD_API };
    m->key = (struct pc_pem_source){ .origin = PC_PEM_WORKLOAD_API };
    m->spiffe_id = spec != NULL ? spec->spiffe_id.s : NULL;
    return 0;
}

/* ---- TrustBundle ---- */

/* A SPIFFE bundle is a JWK set (SPIFFE Trust Domain and Bundle, section 4). */
static const char *
judge_spiffe_bundle(const char *text, size_t len, char *buf, size_t size)
{
    json_error_t error;
    json_t *root = json_loadb(text, len, 0, &error);
    const char *problem = NULL;

    if (root == NULL) {
        /* Only the position: jansson's own text quotes the input. */
        snprintf(buf, size, "it is not JSON (line %d, column %d)", error.line, error.column);
        return buf;
    }
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "keys"))) {
        problem = "it is not a JWK set with a \"keys\" list";
    }
    json_decref(root);
    return problem;
}

static bool
is_before(const struct pc_yaml_node *a, const struct pc_yaml_node *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* Checks that exactly one source is set, citing every one after the first; returns the count. */
static size_t
count_sources(struct pc_model *model, const struct pc_resource_trust_bundle *tb)
{
    const struct pc_yaml_node *sources[3] = {
        tb->file.node,
        tb->pem.node,
        tb->workload_api.v != 0 ? tb->workload_api.node : NULL,
    };
    const struct pc_yaml_node *first = NULL;
    size_t n = 0;

    for (size_t i = 0; i < 3; i++) {
        if (sources[i] != NULL && (first == NULL || is_before(sources[i], first))) {
            first = sources[i];
        }
    }
    for (size_t i = 0; i < 3; i++) {
        n += sources[i] != NULL;
        if (sources[i] != NULL && sources[i] != first) {
            report(model, sources[i], "a TrustBundle has one source",
                   "set only one of file, pem and workloadAPI");
        }
    }
    if (n == 0) {
        report(model, tb->node, "set exactly one of them",
               "a TrustBundle needs its certificates from file, pem or workloadAPI: true");
    }
    return n;
}

static bool
check_inline_bundle(struct pc_model *model, const struct pc_resource_trust_bundle *tb,
                    bool is_spiffe)
{
    char buf[80];
    const char *problem =
        is_spiffe ? judge_spiffe_bundle(tb->pem.s, tb->pem.len, buf, sizeof(buf))
                  : pc_value_pem_problem(tb->pem.s, tb->pem.len, PC_VALUE_PEM_CERTIFICATES);

    if (problem == NULL) {
        return true;
    }
    if (is_spiffe) {
        report(model, tb->pem.node, "give the trust domain's bundle as its JSON JWK set",
               "not a SPIFFE bundle: %s", problem);
    } else {
        report(model, tb->pem.node, "put the CA certificates here as PEM text",
               "not PEM CA certificates: %s", problem);
    }
    return false;
}

/* Sets m->bundle's source from the one tb names; returns whether it is usable. */
static int
check_bundle_source(struct pc_model *model, const struct pc_model_resource *res,
                    const struct pc_resource_trust_bundle *tb, struct pc_model_material *m,
                    bool *ok)
{
    struct pc_pem_source *src = &m->bundle.source;
    char what[300];
    int rc;

    if (tb->file.s != NULL) {
        src->origin = PC_PEM_FILE;
        rc = pc_model_check_file(model, &tb->file, PEM_FILE_HINT, &src->path);
        *ok = *ok && rc == 0;
        return rc == PC_ENOMEM ? rc : 0;
    }
    if (tb->pem.s != NULL) {
        src->origin = PC_PEM_INLINE;
        src->data = tb->pem.s;
        src->len = tb->pem.len;
        *ok = check_inline_bundle(model, tb, m->bundle.format == PC_BUNDLE_SPIFFE) && *ok;
        return 0;
    }
    snprintf(what, sizeof(what), "TrustBundle %s", res->id);
    src->origin = PC_PEM_WORKLOAD_API;
    *ok = require_socket(model, tb->workload_api.node, what) && *ok;
    return 0;
}

static int
check_trust_bundle(struct pc_model *model, struct pc_model_resource *res,
                   struct pc_model_material *m)
{
    const struct pc_resource_trust_bundle *tb = res->doc->spec;
    bool is_spiffe = tb->format.s != NULL && strcmp(tb->format.s, "SPIFFE") == 0;
    bool wants_api = tb->workload_api.v != 0;
    bool ok = res->is_valid;

    if (count_sources(model, tb) != 1) {
        return 0;
    }
    if (tb->trust_domain.s == NULL && (is_spiffe || wants_api)) {
        report(
            model, is_spiffe ? tb->format.node : tb->workload_api.node,
            "name the trust domain whose roots these are, such as \"example.org\"",
            is_spiffe
                ? "format SPIFFE needs a trustDomain"
                : "workloadAPI needs a trustDomain: the agent sends one bundle per trust domain");
        ok = false;
    }
    m->has_bundle = true;
    m->bundle.name = res->id;
    m->bundle.trust_domain = tb->trust_domain.s;
    m->bundle.format = is_spiffe ? PC_BUNDLE_SPIFFE : PC_BUNDLE_PEM;
    if (check_bundle_source(model, res, tb, m, &ok) != 0) {
        return PC_ENOMEM;
    }
    m->is_usable = ok;
    return 0;
}

/* ---- all material ---- */

typedef int (*check_material_fn)(struct pc_model *model, struct pc_model_resource *res,
                                 struct pc_model_material *m);

int
pc_model_check_material(struct pc_model *model)
{
    static const struct {
        enum pc_resource_kind kind;
        check_material_fn check;
        bool needs_spec;
    } checks[] = {
        { PC_RESOURCE_SECRET, check_secret, false },
        { PC_RESOURCE_CONFIG_MAP, check_config_map, false },
        { PC_RESOURCE_CERTIFICATE_FILES, check_certificate_files, true },
        { PC_RESOURCE_WORKLOAD_IDENTITY, check_workload_identity, false },
        { PC_RESOURCE_TRUST_BUNDLE, check_trust_bundle, true },
    };

    int rc = find_workload_socket(model);

    for (size_t k = 0; rc == 0 && k < sizeof(checks) / sizeof(checks[0]); k++) {
        for (size_t i = 0; rc == 0 && i < model->n_res[checks[k].kind]; i++) {
            struct pc_model_resource *res = model->res[checks[k].kind][i];
            struct pc_model_material *m = pc_arena_calloc(model->arena, 1, sizeof(*m));

            if (m == NULL) {
                return PC_ENOMEM;
            }
            res->state = m;
            /* A missing spec was reported by the decoder; the material stays unusable. */
            if (!checks[k].needs_spec || res->doc->spec != NULL) {
                rc = checks[k].check(model, res, m);
            }
        }
    }
    return rc;
}

/* ---- references ---- */

struct material_kind {
    enum pc_model_material_use use;
    const char *group;
    const char *kind;
    enum pc_resource_kind res_kind;
};

static const struct material_kind material_kinds[] = {
    { PC_MODEL_USE_CERTIFICATE, "", "Secret", PC_RESOURCE_SECRET },
    { PC_MODEL_USE_CERTIFICATE, PC_RESOURCE_OWN_GROUP, "CertificateFiles",
      PC_RESOURCE_CERTIFICATE_FILES },
    { PC_MODEL_USE_CERTIFICATE, PC_RESOURCE_OWN_GROUP, "WorkloadIdentity",
      PC_RESOURCE_WORKLOAD_IDENTITY },
    { PC_MODEL_USE_BUNDLE, "", "ConfigMap", PC_RESOURCE_CONFIG_MAP },
    { PC_MODEL_USE_BUNDLE, PC_RESOURCE_OWN_GROUP, "TrustBundle", PC_RESOURCE_TRUST_BUNDLE },
};

#define N_MATERIAL_KINDS (sizeof(material_kinds) / sizeof(material_kinds[0]))

static const struct material_kind *
find_material_kind(const char *group, const char *kind, enum pc_model_material_use use,
                   bool match_group)
{
    for (size_t i = 0; i < N_MATERIAL_KINDS; i++) {
        const struct material_kind *k = &material_kinds[i];

        if (k->use == use && strcmp(k->kind, kind) == 0
            && (!match_group || strcmp(k->group, group) == 0)) {
            return k;
        }
    }
    return NULL;
}

static void
report_kind(struct pc_model *model, const struct pc_resource_object_ref *ref,
            enum pc_model_material_use use)
{
    const struct material_kind *near = find_material_kind("", ref->kind.s, use, false);
    char hint[200];

    if (near != NULL) {
        snprintf(hint, sizeof(hint), "kind %s is in group \"%s\": set group: %s", near->kind,
                 near->group, near->group[0] != '\0' ? near->group : "\"\"");
    } else {
        snprintf(
            hint, sizeof(hint), "%s",
            use == PC_MODEL_USE_CERTIFICATE
                ? "use a Secret (group \"\"), or a CertificateFiles or WorkloadIdentity (group portcullis.dev)"
                : "use a ConfigMap (group \"\"), or a TrustBundle (group portcullis.dev)");
    }
    report(model, ref->kind.node != NULL ? ref->kind.node : ref->node, hint,
           "%s kind %s%s%s is not supported",
           use == PC_MODEL_USE_CERTIFICATE ? "certificate" : "CA certificate", ref->group.s,
           ref->group.len > 0 ? "/" : "", ref->kind.s);
}

/* Reports a resolved material resource that cannot serve use; returns whether it can. */
static bool
check_use(struct pc_model *model, const struct pc_resource_object_ref *ref,
          const struct pc_model_resource *target, enum pc_model_material_use use)
{
    const struct pc_model_material *m = target->state;

    /* Other kinds always serve their use; when they cannot, their own errors say why. */
    if (target->kind == PC_RESOURCE_SECRET && !m->has_certificate && target->doc->type.s != NULL) {
        report(model, ref->name.node,
               "a certificate Secret has type " TLS_SECRET_TYPE " with tls.crt and tls.key",
               "Secret %s has type %s, not " TLS_SECRET_TYPE, target->id, target->doc->type.s);
        return false;
    }
    if (target->kind == PC_RESOURCE_CONFIG_MAP && !m->has_bundle) {
        report(model, ref->name.node, "put the PEM CA certificates under data, key \"ca.crt\"",
               "ConfigMap %s has no ca.crt", target->id);
        return false;
    }
    return m->is_usable && (use == PC_MODEL_USE_CERTIFICATE ? m->has_certificate : m->has_bundle);
}

const struct pc_model_resource *
pc_model_resolve_material(struct pc_model *model, const struct pc_model_resource *owner,
                          const struct pc_resource_object_ref *ref, enum pc_model_material_use use)
{
    const struct material_kind *k;
    const char *ns = ref->namespace_.s != NULL ? ref->namespace_.s : owner->ns;
    const struct pc_model_resource *target;
    char hint[400];

    if (ref->name.s == NULL || ref->group.s == NULL || ref->kind.s == NULL) {
        return NULL;
    }
    k = find_material_kind(ref->group.s, ref->kind.s, use, true);
    if (k == NULL) {
        report_kind(model, ref, use);
        return NULL;
    }
    target = pc_model_find(model, k->res_kind, ns, ref->name.s);
    if (target == NULL) {
        report(model, ref->name.node,
               pc_model_suggest(model, k->res_kind, ns, ref->name.s, hint, sizeof(hint),
                                "declare it, or fix the name (and namespace)"),
               "%s %s/%s not found", k->kind, ns, ref->name.s);
        return NULL;
    }
    if (strcmp(ns, owner->ns) != 0
        && !pc_model_is_granted(model, owner->type->name, owner->ns, k->group, k->kind, ns,
                                ref->name.s)) {
        snprintf(
            hint, sizeof(hint),
            "add a ReferenceGrant in namespace \"%s\" that allows %ss from namespace \"%s\" to reach %s \"%s\"",
            ns, owner->type->name, owner->ns, k->kind, ref->name.s);
        report(model, ref->namespace_.node, hint,
               "reference to %s %s/%s is not allowed by any ReferenceGrant", k->kind, ns,
               ref->name.s);
        return NULL;
    }
    if (target->state == NULL || !check_use(model, ref, target, use)) {
        return NULL;
    }
    return target;
}

/* ---- snapshot copies ---- */

static int
add_material_file(struct pc_model_tls_compiler *tc, const char *path)
{
    for (size_t i = 0; i < tc->n_files; i++) {
        if (strcmp(tc->files[i], path) == 0) {
            return 0;
        }
    }
    if (tc->n_files == tc->cap_files) {
        size_t cap = tc->cap_files == 0 ? 8 : tc->cap_files * 2;
        const char **v = pc_realloc(tc->files, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        tc->files = v;
        tc->cap_files = cap;
    }
    tc->files[tc->n_files++] = path;
    return 0;
}

int
pc_model_compile_source(struct pc_model_tls_compiler *tc, const struct pc_pem_source *src,
                        bool is_secret, struct pc_pem_source *out)
{
    char *data;

    *out = (struct pc_pem_source){ .origin = src->origin };
    switch (src->origin) {
    case PC_PEM_FILE:
        out->path = pc_arena_strdup(tc->arena, src->path);
        return out->path != NULL ? add_material_file(tc, out->path) : PC_ENOMEM;
    case PC_PEM_INLINE:
        data = pc_arena_alloc(tc->arena, src->len + 1);
        /* The wipe is registered before the key is copied in, so no failure leaves it behind. */
        if (data == NULL
            || (is_secret && pc_model_wipe_later(tc->arena, data, src->len + 1) != 0)) {
            return PC_ENOMEM;
        }
        memcpy(data, src->data, src->len);
        data[src->len] = '\0';
        out->data = data;
        out->len = src->len;
        return 0;
    case PC_PEM_WORKLOAD_API:
    default:
        tc->uses_workload_api = true;
        return 0;
    }
}

static int
copy_string(struct pc_arena *arena, const char *s, const char **out)
{
    *out = NULL;
    if (s == NULL) {
        return 0;
    }
    *out = pc_arena_strdup(arena, s);
    return *out != NULL ? 0 : PC_ENOMEM;
}

int
pc_model_compile_certificate(struct pc_model_tls_compiler *tc, const struct pc_model_resource *res,
                             const struct pc_tls_certificate **out)
{
    struct pc_model_material *m = res->state;
    struct pc_tls_certificate *cert;

    if (m->compiled_certificate != NULL) {
        *out = m->compiled_certificate;
        return 0;
    }
    cert = pc_arena_calloc(tc->arena, 1, sizeof(*cert));
    if (cert == NULL || copy_string(tc->arena, res->id, &cert->name) != 0
        || copy_string(tc->arena, m->spiffe_id, &cert->spiffe_id) != 0
        || pc_model_compile_source(tc, &m->chain, false, &cert->chain) != 0
        || pc_model_compile_source(tc, &m->key, true, &cert->key) != 0) {
        return PC_ENOMEM;
    }
    m->compiled_certificate = cert;
    *out = cert;
    return 0;
}

int
pc_model_compile_bundle(struct pc_model_tls_compiler *tc, const struct pc_model_resource *res,
                        const struct pc_trust_bundle **out)
{
    struct pc_model_material *m = res->state;
    struct pc_trust_bundle *bundle;

    if (m->compiled_bundle != NULL) {
        *out = m->compiled_bundle;
        return 0;
    }
    bundle = pc_arena_calloc(tc->arena, 1, sizeof(*bundle));
    if (bundle == NULL || copy_string(tc->arena, res->id, &bundle->name) != 0
        || copy_string(tc->arena, m->bundle.trust_domain, &bundle->trust_domain) != 0
        || pc_model_compile_source(tc, &m->bundle.source, false, &bundle->source) != 0) {
        return PC_ENOMEM;
    }
    bundle->format = m->bundle.format;
    m->compiled_bundle = bundle;
    *out = bundle;
    return 0;
}
