/*
 * The configuration loader: files to documents, documents to resources, resources to a model
 * that is checked as a whole and compiled into a reference-counted snapshot.
 *
 * One load owns one arena for everything it reads (YAML nodes, decoded resources, the model)
 * and frees it before returning; only the compiled snapshot, in an arena of its own, survives.
 * Loading is blocking file I/O and runs on the control thread (or in `portcullis validate`);
 * pc_config_ref and pc_config_unref are safe from any thread.
 */
#include "config/config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/model.h"
#include "config/value.h"
#include "config/yaml.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

#define LOAD_BLOCK_BYTES (256 * 1024)

struct loader {
    struct pc_arena *arena;
    struct pc_diag *diag;
    struct pc_model model;
    size_t nodes_left;
    const char **files; /* heap vector of arena strings */
    size_t n_files;
    size_t cap_files;
    const struct pc_model_resource *proxy_config;
};

static void
report_file_error(struct pc_diag *diag, const char *file, const char *hint, const char *problem)
{
    pc_diag_add(diag, file, 1, 1, "", hint, "%s", problem);
}

static void
report_cannot_read(struct pc_diag *diag, const char *path, int error)
{
    pc_diag_add(diag, path, 1, 1, "", NULL, "cannot read: %s", strerror(error));
}

/* ---- documents ---- */

static void
report_unknown_kind(struct loader *ld, const struct pc_yaml_node *kind_node, const char *api,
                    const char *kind)
{
    char hint[512];
    bool known = false;
    size_t n_names;
    const char *const *names = pc_resource_kind_names(&n_names);
    const char *near;

    pc_resource_lookup(api, kind, &known);
    if (known) {
        snprintf(hint, sizeof(hint), "use apiVersion: %s", pc_resource_api_version_of(kind));
        pc_yaml_error(ld->diag, kind_node, NULL, hint, "kind %s is not served by apiVersion %s",
                      kind, api);
        return;
    }
    near = pc_value_suggest(kind, names, n_names);
    if (near != NULL) {
        snprintf(hint, sizeof(hint), "did you mean \"%s\"?", near);
    } else {
        char kinds[400];

        pc_resource_list_kinds(kinds, sizeof(kinds));
        snprintf(hint, sizeof(hint), "known kinds: %s", kinds);
    }
    pc_yaml_error(ld->diag, kind_node, NULL, hint, "unknown kind \"%.64s\"", kind);
}

/* Works out namespace, name, id and age of a decoded document. */
static struct pc_model_resource *
make_resource(struct loader *ld, const struct pc_resource_type *type,
              const struct pc_resource_doc *doc)
{
    const struct pc_resource_meta *meta = doc->metadata;
    struct pc_model_resource *res = pc_arena_calloc(ld->arena, 1, sizeof(*res));

    if (res == NULL) {
        return NULL;
    }
    res->kind = type->kind;
    res->type = type;
    res->doc = doc;
    res->name = meta->name.s;
    res->ns = "";
    if (type->is_namespaced) {
        res->ns = meta->namespace_.s != NULL ? meta->namespace_.s : "default";
    }
    res->id =
        type->is_namespaced ? pc_arena_sprintf(ld->arena, "%s/%s", res->ns, res->name) : res->name;
    res->created_ms = INT64_MAX;
    if (meta->creation_timestamp.s != NULL) {
        pc_value_timestamp(meta->creation_timestamp.s, meta->creation_timestamp.len,
                           &res->created_ms);
    }
    return res->id != NULL ? res : NULL;
}

static int
add_resource(struct loader *ld, struct pc_model_resource *res)
{
    const struct pc_yaml_node *at = res->doc->metadata->name.node;
    const struct pc_model_resource *first = NULL;
    int rc;

    if (res->kind == PC_RESOURCE_PROXY_CONFIG && ld->proxy_config != NULL) {
        pc_yaml_error(ld->diag, at, NULL, "merge the two into one",
                      "only one ProxyConfig is allowed; another is at %s:%u",
                      ld->proxy_config->doc->node->file, ld->proxy_config->doc->node->line);
        return 0;
    }
    rc = pc_model_add(&ld->model, res, &first);
    if (rc == PC_EEXIST) {
        pc_yaml_error(ld->diag, at, NULL, "rename one of them or remove the copy",
                      "%s %s is defined twice; the first is at %s:%u", res->type->name, res->id,
                      first->doc->node->file, first->doc->node->line);
        return 0;
    }
    if (rc == 0 && res->kind == PC_RESOURCE_PROXY_CONFIG) {
        ld->proxy_config = res;
    }
    return rc;
}

static int
add_document(struct loader *ld, const struct pc_yaml_node *root)
{
    struct pc_schema_ctx ctx = { ld->arena, ld->diag, 0 };
    const struct pc_yaml_node *api = pc_yaml_get(root, "apiVersion");
    const struct pc_yaml_node *kind = pc_yaml_get(root, "kind");
    const struct pc_resource_type *type;
    bool known;
    struct pc_resource_doc *doc;
    struct pc_model_resource *res;

    if (root->kind != PC_YAML_MAP) {
        pc_yaml_error(ld->diag, root, NULL,
                      "each document is one resource with apiVersion and kind",
                      "expected a mapping, got %s", pc_yaml_describe(root));
        return 0;
    }
    if (api == NULL || kind == NULL || api->kind != PC_YAML_SCALAR || kind->kind != PC_YAML_SCALAR
        || api->type != PC_YAML_STR || kind->type != PC_YAML_STR) {
        /* The header schema reports exactly what is missing or mistyped. */
        return pc_schema_decode(&ctx, pc_resource_header_schema(), root) != NULL ? 0 : PC_ENOMEM;
    }
    type = pc_resource_lookup(api->text, kind->text, &known);
    if (type == NULL) {
        report_unknown_kind(ld, kind, api->text, kind->text);
        return 0;
    }

    doc = pc_schema_decode(&ctx, type->schema, root);
    if (doc == NULL) {
        return PC_ENOMEM;
    }
    if (doc->metadata == NULL || doc->metadata->name.s == NULL) {
        return 0;
    }
    res = make_resource(ld, type, doc);
    if (res == NULL) {
        return PC_ENOMEM;
    }
    res->is_valid = ctx.errors == 0;
    return add_resource(ld, res);
}

/* ---- files ---- */

static int
add_bytes(struct loader *ld, const char *name, const char *bytes, size_t len)
{
    struct pc_yaml_node **docs = NULL;
    size_t n_docs = 0;
    char *file = pc_arena_strdup(ld->arena, name);
    int rc;

    if (file == NULL) {
        return PC_ENOMEM;
    }
    if (ld->n_files == ld->cap_files) {
        size_t cap = ld->cap_files == 0 ? 8 : ld->cap_files * 2;
        const char **v = pc_realloc(ld->files, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        ld->files = v;
        ld->cap_files = cap;
    }
    ld->files[ld->n_files++] = file;

    rc = pc_yaml_parse(ld->arena, file, bytes, len, &ld->nodes_left, ld->diag, &docs, &n_docs);
    if (rc == PC_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        ld->model.skip_references = true;
    }
    for (size_t i = 0; i < n_docs; i++) {
        if (add_document(ld, docs[i]) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

static int
read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? PC_EIO : -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

static int
load_file(struct loader *ld, const char *path)
{
    struct stat st;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd == -1) {
        report_cannot_read(ld->diag, path, errno);
        return 0;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        report_file_error(ld->diag, path, NULL, "not a regular file");
        goto out_close;
    }
    if ((uint64_t)st.st_size > PC_CONFIG_MAX_FILE_BYTES) {
        report_file_error(ld->diag, path,
                          "split the configuration into several files of a directory",
                          "file is larger than 16 MiB");
        goto out_close;
    }
    buf = pc_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = PC_ENOMEM;
        goto out_close;
    }
    if (read_all(fd, buf, (size_t)st.st_size) != 0) {
        report_file_error(ld->diag, path, NULL, "read failed");
        goto out_free;
    }
    rc = add_bytes(ld, path, buf, (size_t)st.st_size);

out_free:
    /* The file may hold a Secret's private key. */
    pc_free_secret(buf, (size_t)st.st_size + 1);
out_close:
    close(fd);
    return rc;
}

static bool
is_yaml_name(const char *name)
{
    size_t len = strlen(name);

    if (name[0] == '.') {
        return false;
    }
    return (len > 5 && strcmp(name + len - 5, ".yaml") == 0)
           || (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pc_free(names[i]);
    }
    pc_free(names);
}

/*
 * Collects the *.yaml and *.yml names of dir, sorted, into *names (the caller frees them with
 * free_names). Returns 0 or PC_ENOMEM.
 */
static int
list_dir(DIR *dir, char ***names, size_t *n)
{
    size_t cap = 0;
    struct dirent *e;

    *names = NULL;
    *n = 0;
    while ((e = readdir(dir)) != NULL) {
        if (!is_yaml_name(e->d_name)) {
            continue;
        }
        if (*n == cap) {
            char **v = pc_realloc(*names, (cap == 0 ? 16 : cap * 2) * sizeof(*v));

            if (v == NULL) {
                return PC_ENOMEM;
            }
            *names = v;
            cap = cap == 0 ? 16 : cap * 2;
        }
        (*names)[*n] = pc_strdup(e->d_name);
        if ((*names)[*n] == NULL) {
            return PC_ENOMEM;
        }
        (*n)++;
    }
    if (*n > 0) {
        qsort(*names, *n, sizeof(**names), compare_names);
    }
    return 0;
}

static int
load_dir(struct loader *ld, const char *path)
{
    DIR *dir = opendir(path);
    char **names = NULL;
    size_t n = 0;
    int rc;

    if (dir == NULL) {
        report_cannot_read(ld->diag, path, errno);
        return 0;
    }
    rc = list_dir(dir, &names, &n);
    closedir(dir);
    if (rc == 0 && n == 0) {
        report_file_error(ld->diag, path, "put the resources in *.yaml or *.yml files",
                          "the directory holds no YAML files");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *full = pc_arena_sprintf(ld->arena, "%s/%s", path, names[i]);

        rc = full != NULL ? load_file(ld, full) : PC_ENOMEM;
    }
    free_names(names, n);
    return rc;
}

/* ---- the load ---- */

static int
init_loader(struct loader *ld, struct pc_diag *diag)
{
    memset(ld, 0, sizeof(*ld));
    ld->diag = diag;
    ld->nodes_left = PC_CONFIG_MAX_NODES;
    ld->arena = pc_arena_create(LOAD_BLOCK_BYTES);
    if (ld->arena == NULL) {
        pc_diag_add(diag, "", 0, 0, "", NULL, "out of memory while loading the configuration");
        return PC_ENOMEM;
    }
    pc_model_init(&ld->model, ld->arena, diag);
    return 0;
}

static void
free_loader(struct loader *ld)
{
    pc_model_free(&ld->model);
    pc_free(ld->files);
    pc_arena_destroy(ld->arena);
}

static struct pc_config *
finish_loader(struct loader *ld, int rc, const char *source, bool is_dir)
{
    struct pc_config *cfg = NULL;

    if (rc == 0 && ld->model.n_res[PC_RESOURCE_GATEWAY] == 0 && !ld->model.skip_references
        && ld->n_files > 0) {
        report_file_error(ld->diag, ld->files[0], "declare a Gateway with at least one listener",
                          "the configuration has no Gateway, so nothing would be served");
    }
    if (rc == 0) {
        rc = pc_model_check_resources(&ld->model);
    }
    if (rc == 0) {
        rc = pc_model_resolve(&ld->model);
    }
    if (rc == PC_ENOMEM) {
        pc_diag_add(ld->diag, "", 0, 0, "", NULL, "out of memory while loading the configuration");
    }
    if (rc == 0 && ld->diag->n_errors == 0) {
        cfg = pc_model_compile(&ld->model, ld->files, ld->n_files);
    }
    if (cfg != NULL) {
        cfg->source = pc_arena_strdup(cfg->arena, source);
        cfg->source_is_dir = is_dir;
        if (cfg->source == NULL) {
            pc_config_unref(cfg);
            cfg = NULL;
        }
    }
    free_loader(ld);
    return cfg;
}

struct pc_config *
pc_config_load(const char *path, struct pc_diag *diag)
{
    struct loader ld;
    struct stat st;
    bool is_dir;
    int rc;

    if (init_loader(&ld, diag) != 0) {
        return NULL;
    }
    if (stat(path, &st) == -1) {
        report_cannot_read(diag, path, errno);
        free_loader(&ld);
        return NULL;
    }
    is_dir = S_ISDIR(st.st_mode);
    rc = is_dir ? load_dir(&ld, path) : load_file(&ld, path);
    return finish_loader(&ld, rc, path, is_dir);
}

struct pc_config *
pc_config_load_buffer(const char *name, const char *bytes, size_t len, struct pc_diag *diag)
{
    struct loader ld;
    int rc;

    if (init_loader(&ld, diag) != 0) {
        return NULL;
    }
    if (len > PC_CONFIG_MAX_FILE_BYTES) {
        report_file_error(diag, name, NULL, "configuration is larger than 16 MiB");
        free_loader(&ld);
        return NULL;
    }
    rc = add_bytes(&ld, name, bytes, len);
    return finish_loader(&ld, rc, name, false);
}

struct pc_config *
pc_config_ref(struct pc_config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void
pc_config_unref(struct pc_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    /* Release pairs with the acquire below, so the last holder sees every earlier use done. */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        pc_arena_destroy(cfg->arena);
    }
}
