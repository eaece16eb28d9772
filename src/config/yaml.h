/*
 * YAML documents as trees of nodes that remember where they came from.
 *
 * libyaml's event parser is folded into nodes that keep their 1-based line and column, their
 * parent and their key or index in it, so any later check can cite `file:line:col` and the key
 * path ("spec.rules[0].matches[1].path") of what it objects to. The parser refuses what the
 * configuration never needs and an attacker could abuse: anchors and aliases (exponential
 * expansion), custom tags, duplicate keys, nesting deeper than PC_YAML_MAX_DEPTH and more nodes
 * than the caller's budget. Plain scalars are resolved with the YAML 1.2 core schema, so `80`
 * is an integer and `"80"` a string, as Kubernetes reads them.
 *
 * Nodes live in the caller's arena. Used on the control thread only.
 */
#ifndef PC_CONFIG_YAML_H
#define PC_CONFIG_YAML_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/diag.h"

struct pc_arena;

#define PC_YAML_MAX_DEPTH 64

enum pc_yaml_kind {
    PC_YAML_SCALAR = 0,
    PC_YAML_MAP,
    PC_YAML_SEQ,
};

/* What a scalar resolved to: quoted and block scalars are always strings. */
enum pc_yaml_type {
    PC_YAML_STR = 0,
    PC_YAML_NULL,
    PC_YAML_BOOL,
    PC_YAML_INT,
    PC_YAML_FLOAT,
};

struct pc_yaml_node;

struct pc_yaml_pair {
    const char *key; /* NUL-terminated */
    size_t key_len;
    unsigned line; /* where the key starts */
    unsigned col;
    struct pc_yaml_node *value;
};

struct pc_yaml_node {
    enum pc_yaml_kind kind;
    unsigned line; /* 1-based */
    unsigned col;  /* 1-based */
    const char *file;
    const struct pc_yaml_node *parent; /* NULL for a document root */
    const char *key;                   /* key in a parent mapping, else NULL */
    size_t index;                      /* position in a parent sequence */

    enum pc_yaml_type type; /* scalars */
    const char *text;       /* scalars: NUL-terminated (may also hold NULs) */
    size_t len;

    struct pc_yaml_pair *pairs; /* mappings, in document order */
    size_t n_pairs;

    struct pc_yaml_node **items; /* sequences */
    size_t n_items;
};

/*
 * Parses every document of bytes[0..len) (file names them in messages; borrowed, must outlive
 * the nodes) into arena. Each document root is appended to *docs (an arena array replaced on
 * each call; *n_docs counts them); empty documents are skipped. *nodes_left is the node budget,
 * decremented per node. Problems are added to diag. Returns 0; PC_EPARSE after a syntax error,
 * a refused construct or an exhausted budget, in which case the documents completed before the
 * problem are still returned; PC_ENOMEM.
 */
int pc_yaml_parse(struct pc_arena *arena, const char *file, const char *bytes, size_t len,
                  size_t *nodes_left, struct pc_diag *diag, struct pc_yaml_node ***docs,
                  size_t *n_docs);

/* Returns the value of key in a mapping node, or NULL (also when node is NULL or not a map). */
const struct pc_yaml_node *pc_yaml_get(const struct pc_yaml_node *node, const char *key);

/* Writes the key path of node ("" for a root) into buf, truncated to size; returns buf. */
char *pc_yaml_path(const struct pc_yaml_node *node, char *buf, size_t size);

/*
 * Adds an error located at node, its key path extended by suffix (NULL: none; e.g. ".name" for a
 * missing field) to diag. hint may be NULL. The message must never contain a secret value.
 */
void pc_yaml_error(struct pc_diag *diag, const struct pc_yaml_node *node, const char *suffix,
                   const char *hint, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* As pc_yaml_error, with the arguments as a va_list. */
void pc_yaml_verror(struct pc_diag *diag, const struct pc_yaml_node *node, const char *suffix,
                    const char *hint, const char *fmt, va_list ap);

/* As pc_yaml_error, located at the key of pair in mapping node and naming it in the path. */
void pc_yaml_error_key(struct pc_diag *diag, const struct pc_yaml_node *map,
                       const struct pc_yaml_pair *pair, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A short name of what a node holds, for messages: "a string", "an integer", "a list"... */
const char *pc_yaml_describe(const struct pc_yaml_node *node);

#endif
