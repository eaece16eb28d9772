/*
 * Loading policies and data from files and directories for the policy subcommands.
 */
#include "cli/policy_load.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/mem.h"

#define MAX_FILE_BYTES (256u * 1024 * 1024)

char *
pc_cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > MAX_FILE_BYTES) {
                errno = EFBIG;
                goto fail_free_buf;
            }
            char *nb = pc_rego_realloc(buf, ncap);
            if (nb == NULL) {
                errno = ENOMEM;
                goto fail_free_buf;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            break;
        }
    }
    if (ferror(f)) {
        errno = EIO;
        goto fail_free_buf;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;

fail_free_buf:
    pc_rego_free(buf);
    fclose(f);
    return NULL;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the entries of dir (without . and ..), sorted; heap strings in a heap array. */
static char **
list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = pc_rego_realloc(names, cap * sizeof(*nn));
            if (nn == NULL) {
                break;
            }
            names = nn;
        }
        size_t len = strlen(e->d_name);
        names[*n] = pc_rego_malloc(len + 1);
        if (names[*n] == NULL) {
            break;
        }
        memcpy(names[*n], e->d_name, len + 1);
        (*n)++;
    }
    closedir(d);
    if (names != NULL) {
        qsort(names, *n, sizeof(*names), cmp_names);
    }
    return names;
}

int
pc_cli_walk_files(const char *dir, int (*fn)(const char *path, void *ud), void *ud)
{
    size_t n = 0;
    char **names = list_dir(dir, &n);
    if (names == NULL && n == 0) {
        struct stat st;
        return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (rc == 0 && stat(path, &st) == 0) {
            rc = S_ISDIR(st.st_mode) ? pc_cli_walk_files(path, fn, ud) : fn(path, ud);
        }
        pc_rego_free(names[i]);
    }
    pc_rego_free(names);
    return rc;
}

static int
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct load_ctx {
    struct pc_rego_compiler *c;
    const char *root;
    int with_tests;
    struct pc_rego_error *err;
};

/* The dotted data path of a data file's directory, relative to the load root. */
static void
data_prefix(const struct load_ctx *lc, const char *path, char *out, size_t n)
{
    out[0] = '\0';
    size_t rl = strlen(lc->root);
    if (strncmp(path, lc->root, rl) != 0 || path[rl] != '/') {
        return;
    }
    const char *rel = path + rl + 1;
    const char *slash = strrchr(rel, '/');
    if (slash == NULL) {
        return;
    }
    size_t len = (size_t)(slash - rel);
    if (len >= n) {
        len = n - 1;
    }
    memcpy(out, rel, len);
    out[len] = '\0';
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '.';
        }
    }
}

static int
load_file(const char *path, void *ud)
{
    struct load_ctx *lc = ud;
    int is_rego = has_suffix(path, ".rego");
    int is_json = has_suffix(path, ".json");
    int is_yaml = has_suffix(path, ".yaml") || has_suffix(path, ".yml");
    if (!is_rego && !is_json && !is_yaml) {
        return 0;
    }
    if (is_rego && !lc->with_tests && has_suffix(path, "_test.rego")) {
        return 0;
    }
    size_t len = 0;
    char *text = pc_cli_read_file(path, &len);
    if (text == NULL) {
        return pc_rego_error_set(lc->err, PC_REGO_EIO, path, 0, 0, "cannot read file: %s",
                                 strerror(errno));
    }
    char prefix[1024];
    data_prefix(lc, path, prefix, sizeof(prefix));
    int rc;
    if (is_rego) {
        rc = pc_rego_compiler_add_module(lc->c, path, text, len, lc->err);
    } else if (is_json) {
        rc = pc_rego_compiler_add_data_json(lc->c, prefix, text, len, lc->err);
    } else {
        rc = pc_rego_compiler_add_data_yaml(lc->c, prefix, text, len, lc->err);
    }
    if (rc != 0 && !is_rego && lc->err != NULL && lc->err->file[0] == '\0') {
        snprintf(lc->err->file, sizeof(lc->err->file), "%s", path);
    }
    pc_rego_free(text);
    return rc;
}

int
pc_cli_policy_load(struct pc_rego_compiler *c, const char *path, int with_tests,
                   struct pc_rego_error *err)
{
    struct load_ctx lc = { c, path, with_tests, err };
    struct stat st;
    if (stat(path, &st) != 0) {
        return pc_rego_error_set(err, PC_REGO_EIO, path, 0, 0, "cannot read: %s", strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        lc.root = "";
        return load_file(path, &lc);
    }
    int rc = pc_cli_walk_files(path, load_file, &lc);
    return rc == -1 ? pc_rego_error_set(err, PC_REGO_EIO, path, 0, 0, "cannot read directory") : rc;
}
