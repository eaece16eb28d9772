/*
 * YAML event stream to node trees.
 *
 * Open mappings and sequences sit on a fixed stack of frames (one per nesting level, so the
 * depth limit is also the stack size); their children gather in heap vectors and move into the
 * arena when the container closes, which is also when duplicate keys are looked for. A syntax
 * error stops the file: libyaml cannot resume after one. Control thread only.
 */
#include "config/yaml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

#define PATH_MAX_BYTES 512

struct frame {
    struct pc_yaml_node *node;
    void *children; /* struct pc_yaml_pair[] or struct pc_yaml_node *[] */
    size_t n;
    size_t cap;
    bool has_key; /* mappings: a key was read and waits for its value */
    struct pc_yaml_pair pending;
};

struct parse {
    struct pc_arena *arena;
    const char *file;
    struct pc_diag *diag;
    size_t *nodes_left;
    struct frame stack[PC_YAML_MAX_DEPTH];
    size_t depth;
    struct pc_yaml_node *root;
    struct pc_yaml_node **docs;
    size_t n_docs;
    size_t cap_docs;
    int node_failure; /* why create_node last returned NULL */
};

/* ---- reporting ---- */

static bool
is_plain_key(const char *key)
{
    if (*key == '\0') {
        return false;
    }
    for (const char *p = key; *p != '\0'; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-')) {
            return false;
        }
    }
    return true;
}

static size_t
append(char *buf, size_t size, size_t pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (pos >= size) {
        return pos;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + pos, size - pos, fmt, ap);
    va_end(ap);
    return n < 0 ? pos : pos + (size_t)n;
}

static size_t
build_path(const struct pc_yaml_node *node, char *buf, size_t size)
{
    size_t pos;

    if (node == NULL || node->parent == NULL) {
        return 0;
    }
    pos = build_path(node->parent, buf, size);
    if (node->key == NULL) {
        return append(buf, size, pos, "[%zu]", node->index);
    }
    if (is_plain_key(node->key)) {
        return append(buf, size, pos, "%s%s", pos > 0 ? "." : "", node->key);
    }
    /* Label keys such as "app.kubernetes.io/name" would read as several levels. */
    return append(buf, size, pos, "[\"%.200s\"]", node->key);
}

char *
pc_yaml_path(const struct pc_yaml_node *node, char *buf, size_t size)
{
    buf[0] = '\0';
    build_path(node, buf, size);
    return buf;
}

static void
report(struct pc_diag *diag, const char *file, unsigned line, unsigned col, const char *path,
       const char *hint, const char *fmt, va_list ap)
{
    char problem[512];

    vsnprintf(problem, sizeof(problem), fmt, ap);
    pc_diag_add(diag, file, line, col, path, hint, "%s", problem);
}

void
pc_yaml_verror(struct pc_diag *diag, const struct pc_yaml_node *node, const char *suffix,
               const char *hint, const char *fmt, va_list ap)
{
    char path[PATH_MAX_BYTES];
    size_t pos = build_path(node, path, sizeof(path));

    path[pos < sizeof(path) ? pos : sizeof(path) - 1] = '\0';
    if (suffix != NULL) {
        /* A root has an empty path: "spec", not ".spec". */
        append(path, sizeof(path), pos, "%s", pos == 0 && suffix[0] == '.' ? suffix + 1 : suffix);
    }
    report(diag, node->file, node->line, node->col, path, hint, fmt, ap);
}

void
pc_yaml_error(struct pc_diag *diag, const struct pc_yaml_node *node, const char *suffix,
              const char *hint, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_yaml_verror(diag, node, suffix, hint, fmt, ap);
    va_end(ap);
}

void
pc_yaml_error_key(struct pc_diag *diag, const struct pc_yaml_node *map,
                  const struct pc_yaml_pair *pair, const char *hint, const char *fmt, ...)
{
    char path[PATH_MAX_BYTES];
    size_t pos = build_path(map, path, sizeof(path));
    va_list ap;

    path[pos < sizeof(path) ? pos : sizeof(path) - 1] = '\0';
    if (is_plain_key(pair->key)) {
        append(path, sizeof(path), pos, "%s%s", pos > 0 ? "." : "", pair->key);
    } else {
        append(path, sizeof(path), pos, "[\"%.200s\"]", pair->key);
    }
    va_start(ap, fmt);
    report(diag, map->file, pair->line, pair->col, path, hint, fmt, ap);
    va_end(ap);
}

const char *
pc_yaml_describe(const struct pc_yaml_node *node)
{
    static const char *const scalar_names[] = {
        [PC_YAML_STR] = "a string",   [PC_YAML_NULL] = "null",      [PC_YAML_BOOL] = "a boolean",
        [PC_YAML_INT] = "an integer", [PC_YAML_FLOAT] = "a number",
    };

    switch (node->kind) {
    case PC_YAML_MAP:
        return "a mapping";
    case PC_YAML_SEQ:
        return "a list";
    case PC_YAML_SCALAR:
    default:
        return scalar_names[node->type];
    }
}

const struct pc_yaml_node *
pc_yaml_get(const struct pc_yaml_node *node, const char *key)
{
    if (node == NULL || node->kind != PC_YAML_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < node->n_pairs; i++) {
        if (strcmp(node->pairs[i].key, key) == 0) {
            return node->pairs[i].value;
        }
    }
    return NULL;
}

/* ---- scalar resolution (YAML 1.2 core schema) ---- */

static bool
is_one_of(const char *s, const char *const *words)
{
    for (; *words != NULL; words++) {
        if (strcmp(s, *words) == 0) {
            return true;
        }
    }
    return false;
}

static bool
has_only_digits(const char *s, const char *set)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (strchr(set, *s) == NULL) {
            return false;
        }
    }
    return true;
}

static bool
is_float(const char *s)
{
    static const char *const special[] = { ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL };
    bool digits = false;

    if (*s == '+' || *s == '-') {
        s++;
    }
    if (is_one_of(s, special)) {
        return true;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        digits = true;
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            digits = true;
        }
    }
    if (digits && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '+' || *s == '-') {
            s++;
        }
        return has_only_digits(s, "0123456789");
    }
    return digits && *s == '\0';
}

static enum pc_yaml_type
resolve_plain(const char *s)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE", NULL };
    const char *digits = s + (*s == '+' || *s == '-');

    if (is_one_of(s, nulls)) {
        return PC_YAML_NULL;
    }
    if (is_one_of(s, bools)) {
        return PC_YAML_BOOL;
    }
    if (has_only_digits(digits, "0123456789")) {
        return PC_YAML_INT;
    }
    if ((strncmp(s, "0o", 2) == 0 && has_only_digits(s + 2, "01234567"))
        || (strncmp(s, "0x", 2) == 0 && has_only_digits(s + 2, "0123456789abcdefABCDEF"))) {
        return PC_YAML_INT;
    }
    return is_float(s) ? PC_YAML_FLOAT : PC_YAML_STR;
}

/* ---- building ---- */

static void report_at(struct parse *p, yaml_mark_t mark, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report_at(struct parse *p, yaml_mark_t mark, const char *hint, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(p->diag, p->file, (unsigned)mark.line + 1, (unsigned)mark.column + 1, "", hint, fmt, ap);
    va_end(ap);
}

static int
grow(void **vec, size_t *cap, size_t need, size_t elem)
{
    size_t cap_new;
    void *v;

    if (need <= *cap) {
        return 0;
    }
    cap_new = *cap == 0 ? 8 : *cap * 2;
    v = pc_realloc(*vec, cap_new * elem);
    if (v == NULL) {
        return PC_ENOMEM;
    }
    *vec = v;
    *cap = cap_new;
    return 0;
}

static struct pc_yaml_node *
create_node(struct parse *p, enum pc_yaml_kind kind, yaml_mark_t mark)
{
    struct pc_yaml_node *node;

    if (*p->nodes_left == 0) {
        report_at(p, mark, "split the configuration or simplify it",
                  "more YAML nodes than the configuration may hold");
        p->node_failure = PC_EPARSE;
        return NULL;
    }
    (*p->nodes_left)--;
    node = pc_arena_calloc(p->arena, 1, sizeof(*node));
    p->node_failure = node == NULL ? PC_ENOMEM : 0;
    if (node != NULL) {
        node->kind = kind;
        node->line = (unsigned)mark.line + 1;
        node->col = (unsigned)mark.column + 1;
        node->file = p->file;
    }
    return node;
}

/* Places a finished node as the next child of the open container, or as the document root. */
static int
attach(struct parse *p, struct pc_yaml_node *node, yaml_mark_t mark)
{
    struct frame *f;

    if (p->depth == 0) {
        p->root = node;
        return 0;
    }
    f = &p->stack[p->depth - 1];
    node->parent = f->node;

    if (f->node->kind == PC_YAML_SEQ) {
        if (grow(&f->children, &f->cap, f->n + 1, sizeof(struct pc_yaml_node *)) != 0) {
            return PC_ENOMEM;
        }
        node->index = f->n;
        ((struct pc_yaml_node **)f->children)[f->n++] = node;
        return 0;
    }

    if (!f->has_key) {
        if (node->kind != PC_YAML_SCALAR) {
            report_at(p, mark, "use plain strings as keys", "mapping keys must be strings");
            return PC_EPARSE;
        }
        f->pending = (struct pc_yaml_pair){ node->text, node->len, node->line, node->col, NULL };
        f->has_key = true;
        return 0;
    }
    if (grow(&f->children, &f->cap, f->n + 1, sizeof(struct pc_yaml_pair)) != 0) {
        return PC_ENOMEM;
    }
    node->key = f->pending.key;
    f->pending.value = node;
    ((struct pc_yaml_pair *)f->children)[f->n++] = f->pending;
    f->has_key = false;
    return 0;
}

static const char *
get_tag(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.tag;
    case YAML_SEQUENCE_START_EVENT:
        return (const char *)ev->data.sequence_start.tag;
    case YAML_MAPPING_START_EVENT:
        return (const char *)ev->data.mapping_start.tag;
    default:
        return NULL;
    }
}

static const char *
get_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return (const char *)ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return (const char *)ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

/* Anchors, aliases and non-standard tags are refused wherever they appear. */
static int
check_refused(struct parse *p, const yaml_event_t *ev)
{
    const char *tag = get_tag(ev);

    if (ev->type == YAML_ALIAS_EVENT || get_anchor(ev) != NULL) {
        report_at(p, ev->start_mark, "write the value out in full",
                  "YAML anchors and aliases are not supported");
        return PC_EPARSE;
    }
    if (tag != NULL && strncmp(tag, "tag:yaml.org,2002:", 18) != 0) {
        report_at(p, ev->start_mark, "remove the tag", "YAML tag \"%.64s\" is not supported", tag);
        return PC_EPARSE;
    }
    return 0;
}

static int
on_scalar(struct parse *p, const yaml_event_t *ev)
{
    struct pc_yaml_node *node = create_node(p, PC_YAML_SCALAR, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;

    if (node == NULL) {
        return p->node_failure;
    }
    node->text =
        pc_arena_strndup(p->arena, (const char *)ev->data.scalar.value, ev->data.scalar.length);
    if (node->text == NULL) {
        return PC_ENOMEM;
    }
    node->len = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && (tag == NULL || strcmp(tag, "tag:yaml.org,2002:str") != 0)) {
        node->type = resolve_plain(node->text);
    }
    return attach(p, node, ev->start_mark);
}

static int
on_open(struct parse *p, const yaml_event_t *ev, enum pc_yaml_kind kind)
{
    struct pc_yaml_node *node;
    int rc;

    if (p->depth == PC_YAML_MAX_DEPTH) {
        report_at(p, ev->start_mark, "flatten the document",
                  "YAML nesting is deeper than %d levels", PC_YAML_MAX_DEPTH);
        return PC_EPARSE;
    }
    node = create_node(p, kind, ev->start_mark);
    if (node == NULL) {
        return p->node_failure;
    }
    rc = attach(p, node, ev->start_mark);
    if (rc != 0) {
        return rc;
    }
    p->stack[p->depth++] = (struct frame){ .node = node };
    return 0;
}

static int
compare_pairs(const void *a, const void *b)
{
    const struct pc_yaml_pair *x = *(const struct pc_yaml_pair *const *)a;
    const struct pc_yaml_pair *y = *(const struct pc_yaml_pair *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int rc = memcmp(x->key, y->key, n);

    if (rc != 0) {
        return rc;
    }
    if (x->key_len != y->key_len) {
        return x->key_len < y->key_len ? -1 : 1;
    }
    /* Equal keys stay in document order, so the later one is reported. */
    return x < y ? -1 : (x > y);
}

/* Reports every key that repeats an earlier one in the same mapping. */
static int
check_duplicates(struct parse *p, struct pc_yaml_node *map)
{
    struct pc_yaml_pair **sorted;

    if (map->n_pairs < 2) {
        return 0;
    }
    sorted = pc_malloc(map->n_pairs * sizeof(*sorted));
    if (sorted == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < map->n_pairs; i++) {
        sorted[i] = &map->pairs[i];
    }
    qsort(sorted, map->n_pairs, sizeof(*sorted), compare_pairs);
    for (size_t i = 1; i < map->n_pairs; i++) {
        const struct pc_yaml_pair *a = sorted[i - 1];
        const struct pc_yaml_pair *b = sorted[i];

        if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0) {
            pc_yaml_error_key(p->diag, map, b, "remove one of them",
                              "duplicate key; it is also set at line %u", a->line);
        }
    }
    pc_free(sorted);
    return 0;
}

static int
on_close(struct parse *p)
{
    struct frame *f = &p->stack[--p->depth];
    struct pc_yaml_node *node = f->node;
    size_t elem =
        node->kind == PC_YAML_MAP ? sizeof(struct pc_yaml_pair) : sizeof(struct pc_yaml_node *);
    void *children = NULL;
    int rc = 0;

    if (f->n > 0) {
        children = pc_arena_memdup(p->arena, f->children, f->n * elem);
        if (children == NULL) {
            rc = PC_ENOMEM;
            goto out;
        }
    }
    if (node->kind == PC_YAML_MAP) {
        node->pairs = children;
        node->n_pairs = f->n;
        rc = check_duplicates(p, node);
    } else {
        node->items = children;
        node->n_items = f->n;
    }

out:
    pc_free(f->children);
    f->children = NULL;
    return rc;
}

static int
on_document_end(struct parse *p)
{
    struct pc_yaml_node *root = p->root;

    p->root = NULL;
    if (root == NULL || (root->kind == PC_YAML_SCALAR && root->type == PC_YAML_NULL)) {
        return 0;
    }
    if (grow((void **)&p->docs, &p->cap_docs, p->n_docs + 1, sizeof(*p->docs)) != 0) {
        return PC_ENOMEM;
    }
    p->docs[p->n_docs++] = root;
    return 0;
}

static int
on_event(struct parse *p, const yaml_event_t *ev)
{
    int rc = check_refused(p, ev);

    if (rc != 0) {
        return rc;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return on_scalar(p, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(p, ev, PC_YAML_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_open(p, ev, PC_YAML_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_close(p);
    case YAML_DOCUMENT_END_EVENT:
        return on_document_end(p);
    default:
        return 0;
    }
}

static void
report_syntax(struct parse *p, const yaml_parser_t *parser)
{
    yaml_mark_t mark = parser->problem_mark;

    if (parser->error == YAML_MEMORY_ERROR) {
        report_at(p, mark, NULL, "out of memory while parsing YAML");
    } else if (parser->context != NULL) {
        report_at(p, mark, NULL, "YAML syntax error: %s %s (line %zu)", parser->problem,
                  parser->context, parser->context_mark.line + 1);
    } else {
        report_at(p, mark, NULL, "YAML syntax error: %s", parser->problem);
    }
}

static int
run_parser(struct parse *p, const char *bytes, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = 0;

    if (!yaml_parser_initialize(&parser)) {
        return PC_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)bytes, len);

    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            report_syntax(p, &parser);
            rc = PC_EPARSE;
            break;
        }
        rc = on_event(p, &ev);
        if (rc != 0 || ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        yaml_event_delete(&ev);
    }

    yaml_parser_delete(&parser);
    return rc;
}

int
pc_yaml_parse(struct pc_arena *arena, const char *file, const char *bytes, size_t len,
              size_t *nodes_left, struct pc_diag *diag, struct pc_yaml_node ***docs, size_t *n_docs)
{
    struct parse p = { .arena = arena, .file = file, .diag = diag, .nodes_left = nodes_left };
    int rc = run_parser(&p, bytes, len);

    while (p.depth > 0) {
        pc_free(p.stack[--p.depth].children);
    }

    *n_docs = 0;
    *docs = NULL;
    if (p.n_docs > 0) {
        *docs = pc_arena_memdup(arena, p.docs, p.n_docs * sizeof(*p.docs));
        if (*docs == NULL) {
            rc = PC_ENOMEM;
        } else {
            *n_docs = p.n_docs;
        }
    }
    pc_free(p.docs);
    if (rc == PC_ENOMEM) {
        pc_diag_add(diag, file, 1, 1, "", NULL, "out of memory while reading the configuration");
    }
    return rc;
}
