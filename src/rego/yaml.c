/*
 * YAML reading and writing for Rego values (see yaml.h).
 *
 * Reading walks libyaml's event stream recursively, with a depth limit, building values with
 * builders in the caller's arena; anchors are remembered by name for aliases. libyaml's own
 * buffers come from libc and are released before returning.
 */
#include "rego/yaml.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rego/json.h"
#include "rego/num.h"

#define YAML_MAX_DEPTH   512
#define YAML_MAX_ANCHORS 256

struct anchor {
    char *name;
    const struct pc_rego_value *v;
};

struct yreader {
    yaml_parser_t parser;
    struct pc_rego_arena *arena;
    struct pc_rego_error *err;
    struct anchor anchors[YAML_MAX_ANCHORS];
    size_t nanchors;
    int depth;
};

static const struct pc_rego_value *
yfail(struct yreader *r, const yaml_mark_t *mark, const char *what)
{
    if (r->err != NULL && r->err->code == 0) {
        pc_rego_error_set(r->err, PC_REGO_EINVAL, NULL, (uint32_t)mark->line + 1,
                          (uint32_t)mark->column + 1, "invalid YAML: %s", what);
    }
    return NULL;
}

static bool
next_event(struct yreader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev)) {
        yfail(r, &r->parser.problem_mark,
              r->parser.problem != NULL ? r->parser.problem : "parse error");
        return false;
    }
    return true;
}

/* YAML floats that JSON's grammar rejects (".5", "1.", "1.e3"); NULL for anything else. */
static const struct pc_rego_value *
yaml_float(struct yreader *r, const char *s, size_t n)
{
    char buf[64];
    size_t k = 0;
    bool digits = false;
    size_t i = 0;
    if (i < n && s[i] == '-') {
        buf[k++] = s[i++];
    }
    if (i < n && s[i] == '.') {
        buf[k++] = '0';
    }
    for (; i < n && k + 2 < sizeof(buf); i++) {
        char c = s[i];
        bool ok =
            (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
        if (!ok) {
            return NULL;
        }
        digits = digits || (c >= '0' && c <= '9');
        buf[k++] = c;
        if (c == '.' && (i + 1 == n || !(s[i + 1] >= '0' && s[i + 1] <= '9'))) {
            buf[k++] = '0';
        }
    }
    return digits && i == n ? pc_rego_number_parse(r->arena, buf, k) : NULL;
}

static bool
is_any(const char *s, size_t n, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++) {
        if (strlen(words[i]) == n && memcmp(s, words[i], n) == 0) {
            return true;
        }
    }
    return false;
}

/* 0x1F, 0o17, 0b101 and YAML 1.1's 017 (octal); underscores are ignored as go-yaml v2 does. */
static const struct pc_rego_value *
resolve_radix(struct yreader *r, const char *s, size_t n)
{
    char digits[72];
    size_t k = 0;
    bool neg = n > 0 && s[0] == '-';
    size_t i = n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    for (; i < n && k + 1 < sizeof(digits); i++) {
        if (s[i] != '_') {
            digits[k++] = s[i];
        }
    }
    digits[k] = '\0';
    int base = 0;
    const char *d = digits;
    if (k > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o' || digits[1] == 'b')) {
        base = digits[1] == 'x' ? 16 : digits[1] == 'o' ? 8 : 2;
        d += 2;
    } else if (k > 1 && digits[0] == '0') {
        base = 8;
        d += 1;
    }
    if (i < n || *d == '\0') {
        return NULL;
    }
    if (base == 0) {
        /* Decimal: only the underscore form needs help (1_000); signs are kept. */
        if (memchr(s, '_', n) == NULL || k + 2 > sizeof(digits)) {
            return NULL;
        }
        memmove(digits + 1, digits, k + 1);
        digits[0] = neg ? '-' : '+';
        return pc_rego_number_parse(r->arena, digits + (neg ? 0 : 1), k + (neg ? 1 : 0));
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(d, &end, base);
    if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX) {
        return NULL;
    }
    return pc_rego_int(r->arena, neg ? -(int64_t)v : (int64_t)v);
}

/*
 * Resolves a plain scalar as go-yaml v2 does (OPA reads YAML through it): YAML 1.1 booleans
 * (yes, no, on, off, y, n in three casings), null and ~, integers in any radix, decimal
 * numbers; everything else, timestamps included, is a string. Integers too large for 64 bits
 * stay exact here where Go would round them to a float.
 */
static const struct pc_rego_value *
resolve_plain(struct yreader *r, const char *s, size_t n)
{
    static const char *const nulls[] = { "~", "null", "Null", "NULL", NULL };
    static const char *const trues[] = { "y",    "Y",    "yes", "Yes", "YES", "true",
                                         "True", "TRUE", "on",  "On",  "ON",  NULL };
    static const char *const falses[] = { "n",     "N",     "no",  "No",  "NO",  "false",
                                          "False", "FALSE", "off", "Off", "OFF", NULL };
    if (n == 0 || is_any(s, n, nulls)) {
        return pc_rego_null();
    }
    if (is_any(s, n, trues) || is_any(s, n, falses)) {
        return pc_rego_bool(is_any(s, n, trues));
    }
    const char *t = s;
    size_t tn = n;
    if (tn > 1 && t[0] == '+') {
        t++;
        tn--;
    }
    if (tn > 0 && (t[0] == '-' || t[0] == '.' || (t[0] >= '0' && t[0] <= '9'))) {
        const struct pc_rego_value *num = resolve_radix(r, s, n);
        if (num == NULL) {
            num = pc_rego_number_parse(r->arena, t, tn);
        }
        if (num == NULL && memchr(t, '_', tn) == NULL) {
            num = yaml_float(r, t, tn);
        }
        if (num != NULL) {
            return num;
        }
    }
    return pc_rego_string(r->arena, s, n);
}

static const struct pc_rego_value *
scalar_value(struct yreader *r, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0) {
        return pc_rego_string(r->arena, s, n);
    }
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return pc_rego_string(r->arena, s, n);
    }
    return resolve_plain(r, s, n);
}

static void
remember(struct yreader *r, const yaml_char_t *anchor, const struct pc_rego_value *v)
{
    if (anchor == NULL || v == NULL || r->nanchors == YAML_MAX_ANCHORS) {
        return;
    }
    size_t n = strlen((const char *)anchor);
    char *name = pc_rego_arena_strndup(r->arena, (const char *)anchor, n);
    if (name != NULL) {
        r->anchors[r->nanchors].name = name;
        r->anchors[r->nanchors].v = v;
        r->nanchors++;
    }
}

static const struct pc_rego_value *
alias_value(struct yreader *r, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = r->nanchors; i > 0; i--) {
        if (strcmp(r->anchors[i - 1].name, name) == 0) {
            return r->anchors[i - 1].v;
        }
    }
    return yfail(r, &ev->start_mark, "unknown alias");
}

static const struct pc_rego_value *parse_node(struct yreader *r, yaml_event_t *ev);

static const struct pc_rego_value *
parse_sequence(struct yreader *r)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, r->arena, PC_REGO_ARRAY);
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev)) {
            return NULL;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return pc_rego_builder_finish(&b);
        }
        const struct pc_rego_value *v = parse_node(r, &ev);
        yaml_event_delete(&ev);
        if (v == NULL || pc_rego_builder_push(&b, v) != 0) {
            return NULL;
        }
    }
}

/* A mapping key: scalars as their text, other values as their JSON text. */
static const struct pc_rego_value *
key_string(struct yreader *r, const struct pc_rego_value *k)
{
    if (k->kind == PC_REGO_STRING) {
        return k;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, r->arena);
    pc_rego_json_write(&sb, k, 0);
    return pc_rego_strbuf_failed(&sb) ? NULL : pc_rego_string_ref(r->arena, sb.data, sb.len);
}

static const struct pc_rego_value *
parse_mapping(struct yreader *r)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, r->arena, PC_REGO_OBJECT);
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev)) {
            return NULL;
        }
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return pc_rego_builder_finish(&b);
        }
        const struct pc_rego_value *k = parse_node(r, &ev);
        yaml_event_delete(&ev);
        if (k == NULL || (k = key_string(r, k)) == NULL || !next_event(r, &ev)) {
            return NULL;
        }
        const struct pc_rego_value *v = parse_node(r, &ev);
        yaml_event_delete(&ev);
        if (v == NULL || pc_rego_builder_put(&b, k, v) != 0) {
            return NULL;
        }
    }
}

static const struct pc_rego_value *
parse_node(struct yreader *r, yaml_event_t *ev)
{
    if (++r->depth > YAML_MAX_DEPTH) {
        return yfail(r, &ev->start_mark, "nesting too deep");
    }
    const struct pc_rego_value *v;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        v = scalar_value(r, ev);
        remember(r, ev->data.scalar.anchor, v);
        break;
    case YAML_SEQUENCE_START_EVENT:
        v = parse_sequence(r);
        remember(r, ev->data.sequence_start.anchor, v);
        break;
    case YAML_MAPPING_START_EVENT:
        v = parse_mapping(r);
        remember(r, ev->data.mapping_start.anchor, v);
        break;
    case YAML_ALIAS_EVENT:
        v = alias_value(r, ev);
        break;
    default:
        v = yfail(r, &ev->start_mark, "unexpected event");
        break;
    }
    r->depth--;
    return v;
}

/* Skips events until the first node of the first document, or the end of the stream. */
static const struct pc_rego_value *
parse_stream(struct yreader *r)
{
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev)) {
            return NULL;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT || type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            return pc_rego_null();
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        const struct pc_rego_value *v = parse_node(r, &ev);
        yaml_event_delete(&ev);
        return v;
    }
}

const struct pc_rego_value *
pc_rego_yaml_parse(struct pc_rego_arena *arena, const char *text, size_t len,
                   struct pc_rego_error *err)
{
    struct yreader *r = pc_rego_calloc(1, sizeof(*r));
    if (r == NULL) {
        pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    pc_rego_error_clear(err);
    r->arena = arena;
    r->err = err;
    const struct pc_rego_value *v = NULL;
    if (!yaml_parser_initialize(&r->parser)) {
        pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
    } else {
        yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
        v = parse_stream(r);
        yaml_parser_delete(&r->parser);
    }
    if (v == NULL && err != NULL && err->code == 0) {
        pc_rego_error_set(err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
    }
    pc_rego_free(r);
    return v;
}

/* Writing. */

static bool
needs_quotes(const char *s, size_t n)
{
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ') {
        return true;
    }
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) != NULL) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || (c == ':' && (i + 1 == n || s[i + 1] == ' '))
            || (c == '#' && i > 0 && s[i - 1] == ' ')) {
            return true;
        }
    }
    struct pc_rego_arena *arena = pc_rego_arena_create(1024);
    bool special = true;
    if (arena != NULL) {
        struct yreader r;
        memset(&r, 0, sizeof(r));
        r.arena = arena;
        const struct pc_rego_value *v = resolve_plain(&r, s, n);
        special = v == NULL || v->kind != PC_REGO_STRING;
        pc_rego_arena_destroy(arena);
    }
    return special;
}

static void
write_scalar(struct pc_rego_strbuf *sb, const struct pc_rego_value *v)
{
    if (v->kind == PC_REGO_STRING) {
        if (needs_quotes(v->u.s, v->len)) {
            pc_rego_json_write_string(sb, v->u.s, v->len, 0);
        } else {
            pc_rego_strbuf_add(sb, v->u.s, v->len);
        }
        return;
    }
    pc_rego_json_write(sb, v, 0);
}

static void
indent(struct pc_rego_strbuf *sb, int n)
{
    for (int i = 0; i < n; i++) {
        pc_rego_strbuf_addc(sb, ' ');
    }
}

static bool
is_block(const struct pc_rego_value *v)
{
    return (v->kind == PC_REGO_OBJECT || v->kind == PC_REGO_ARRAY || v->kind == PC_REGO_SET)
           && v->len > 0;
}

static void write_node(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, int ind);

static void
write_object(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, int ind)
{
    for (uint32_t i = 0; i < v->len; i++) {
        const struct pc_rego_entry *e = &v->u.entries[i];
        if (i > 0) {
            indent(sb, ind);
        }
        write_scalar(sb, e->key);
        pc_rego_strbuf_addc(sb, ':');
        if (is_block(e->val)) {
            pc_rego_strbuf_addc(sb, '\n');
            int child = e->val->kind == PC_REGO_OBJECT ? ind + 2 : ind;
            indent(sb, child);
            write_node(sb, e->val, child);
        } else {
            pc_rego_strbuf_addc(sb, ' ');
            write_node(sb, e->val, ind);
        }
    }
}

static void
write_node(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, int ind)
{
    if (!is_block(v)) {
        if (v->kind == PC_REGO_OBJECT) {
            pc_rego_strbuf_adds(sb, "{}\n");
        } else if (v->kind == PC_REGO_ARRAY || v->kind == PC_REGO_SET) {
            pc_rego_strbuf_adds(sb, "[]\n");
        } else {
            write_scalar(sb, v);
            pc_rego_strbuf_addc(sb, '\n');
        }
        return;
    }
    if (v->kind == PC_REGO_OBJECT) {
        write_object(sb, v, ind);
        return;
    }
    for (uint32_t i = 0; i < v->len; i++) {
        if (i > 0) {
            indent(sb, ind);
        }
        pc_rego_strbuf_adds(sb, "- ");
        write_node(sb, v->u.items[i], ind + 2);
    }
}

void
pc_rego_yaml_write(struct pc_rego_strbuf *sb, const struct pc_rego_value *v)
{
    write_node(sb, v, 0);
}
