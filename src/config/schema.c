/*
 * The schema-driven decoder: walks a YAML mapping with a field table, type-checks each value,
 * copies it into the destination struct and reports every problem it meets without stopping.
 * Control thread only.
 */
#include "config/schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/value.h"
#include "core/arena.h"
#include "core/err.h"

#define MAX_FIELDS 64

static void fail(struct pc_schema_ctx *ctx, const struct pc_yaml_node *node, const char *hint,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct pc_schema_ctx *ctx, const struct pc_yaml_node *node, const char *hint, const char *fmt,
     ...)
{
    char problem[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    pc_yaml_error(ctx->diag, node, NULL, hint, "%s", problem);
    ctx->errors++;
}

char *
pc_schema_format_ms(uint64_t ms, char *buf, size_t size)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = { { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" } };

    size_t pos = 0;

    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return buf;
    }
    for (size_t i = 0; i < 4 && pos < size; i++) {
        if (ms >= units[i].ms) {
            int n =
                snprintf(buf + pos, size - pos, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);

            pos += n > 0 ? (size_t)n : 0;
            ms %= units[i].ms;
        }
    }
    return buf;
}

/* ---- scalars ---- */

static bool
expect_scalar(struct pc_schema_ctx *ctx, const struct pc_yaml_node *v, enum pc_yaml_type type,
              const char *what, unsigned flags)
{
    char hint[128];

    if (v->kind == PC_YAML_SCALAR && v->type == type) {
        return true;
    }
    hint[0] = '\0';
    if (v->kind == PC_YAML_SCALAR && type == PC_YAML_STR && (flags & PC_SCHEMA_SECRET)) {
        snprintf(hint, sizeof(hint), "quote it");
    } else if (v->kind == PC_YAML_SCALAR && type == PC_YAML_STR) {
        snprintf(hint, sizeof(hint), "quote it: \"%.64s\"", v->text);
    } else if (v->kind == PC_YAML_SCALAR && v->type == PC_YAML_STR && type == PC_YAML_INT
               && strspn(v->text, "0123456789") == v->len && v->len > 0) {
        snprintf(hint, sizeof(hint), "write the number without quotes");
    }
    fail(ctx, v, hint[0] != '\0' ? hint : NULL, "expected %s, got %s", what, pc_yaml_describe(v));
    return false;
}

static void
list_values(const char *const *values, char *buf, size_t size)
{
    size_t pos = 0;

    buf[0] = '\0';
    for (size_t i = 0; values[i] != NULL && pos < size; i++) {
        int n = snprintf(buf + pos, size - pos, "%s%s", i > 0 ? ", " : "", values[i]);

        pos += n > 0 ? (size_t)n : 0;
    }
}

static bool
check_enum(struct pc_schema_ctx *ctx, const struct pc_schema_field *f, const struct pc_yaml_node *v)
{
    char allowed[256];
    char hint[384];
    size_t n = 0;
    const char *near;

    while (f->values[n] != NULL) {
        if (strcmp(f->values[n], v->text) == 0) {
            return true;
        }
        n++;
    }
    list_values(f->values, allowed, sizeof(allowed));
    near = (f->flags & PC_SCHEMA_SECRET) ? NULL : pc_value_suggest(v->text, f->values, n);
    if (near != NULL) {
        snprintf(hint, sizeof(hint), "did you mean \"%s\"? allowed: %s", near, allowed);
    } else {
        snprintf(hint, sizeof(hint), "allowed: %s", allowed);
    }
    if (f->flags & PC_SCHEMA_SECRET) {
        fail(ctx, v, hint, "unknown value");
    } else {
        fail(ctx, v, hint, "unknown value \"%.64s\"", v->text);
    }
    return false;
}

static void
decode_string(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
              const struct pc_yaml_node *v, struct pc_schema_string *out)
{
    struct pc_schema_msg msg = { { 0 }, { 0 } };

    if (!expect_scalar(ctx, v, PC_YAML_STR, "a string", f->flags)) {
        return;
    }
    if (f->max > 0 && ((int64_t)v->len < f->min || (int64_t)v->len > f->max)) {
        if (v->len == 0) {
            fail(ctx, v, NULL, "must not be empty");
        } else {
            fail(ctx, v, NULL, "must be %" PRId64 " to %" PRId64 " characters long, got %zu",
                 f->min, f->max, v->len);
        }
        return;
    }
    if (f->values != NULL && !check_enum(ctx, f, v)) {
        return;
    }
    if (f->check != NULL && !f->check(v->text, v->len, &msg)) {
        if (f->flags & PC_SCHEMA_SECRET) {
            fail(ctx, v, msg.hint[0] != '\0' ? msg.hint : NULL, "invalid value");
        } else {
            fail(ctx, v, msg.hint[0] != '\0' ? msg.hint : NULL, "%s", msg.problem);
        }
        return;
    }
    *out = (struct pc_schema_string){ v->text, v->len, v };
}

static bool
parse_int(const struct pc_yaml_node *v, int64_t *out)
{
    const char *s = v->text;
    bool negative = *s == '-';
    uint64_t value = 0;

    s += (*s == '-' || *s == '+');
    for (; *s != '\0'; s++) {
        if (value > (uint64_t)INT64_MAX / 10) {
            return false;
        }
        value = value * 10 + (uint64_t)(*s - '0');
    }
    if (value > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = negative ? -(int64_t)value : (int64_t)value;
    return true;
}

static bool
check_range(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
            const struct pc_yaml_node *v, int64_t value)
{
    char lo[32];
    char hi[32];

    if (f->max == 0 || (value >= f->min && value <= f->max)) {
        return true;
    }
    if (f->type == PC_SCHEMA_DURATION) {
        fail(ctx, v, NULL, "must be between %s and %s",
             pc_schema_format_ms((uint64_t)f->min, lo, sizeof(lo)),
             pc_schema_format_ms((uint64_t)f->max, hi, sizeof(hi)));
    } else {
        fail(ctx, v, NULL, "must be between %" PRId64 " and %" PRId64 ", got %" PRId64, f->min,
             f->max, value);
    }
    return false;
}

static void
decode_int(struct pc_schema_ctx *ctx, const struct pc_schema_field *f, const struct pc_yaml_node *v,
           struct pc_schema_int *out)
{
    int64_t value;

    if (!expect_scalar(ctx, v, PC_YAML_INT, "an integer", f->flags)) {
        return;
    }
    if (v->text[0] == '0' && (v->text[1] == 'x' || v->text[1] == 'o')) {
        fail(ctx, v, "write it in decimal", "integer \"%.32s\" is not decimal", v->text);
        return;
    }
    if (!parse_int(v, &value)) {
        fail(ctx, v, NULL, "integer \"%.32s\" is out of range", v->text);
        return;
    }
    if (check_range(ctx, f, v, value)) {
        *out = (struct pc_schema_int){ value, v };
    }
}

static void
decode_bool(struct pc_schema_ctx *ctx, const struct pc_yaml_node *v, struct pc_schema_int *out)
{
    if (expect_scalar(ctx, v, PC_YAML_BOOL, "a boolean (true or false)", 0)) {
        *out = (struct pc_schema_int){ v->text[0] == 't' || v->text[0] == 'T', v };
    }
}

static void
decode_duration(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
                const struct pc_yaml_node *v, struct pc_schema_int *out)
{
    uint64_t ms;

    if (!expect_scalar(ctx, v, PC_YAML_STR, "a duration string", f->flags)) {
        return;
    }
    if (pc_value_duration(v->text, v->len, &ms) != 0) {
        fail(ctx, v, "use a Gateway API duration such as \"10s\", \"500ms\" or \"1h30m\"",
             "invalid duration \"%.32s\"", v->text);
        return;
    }
    if (check_range(ctx, f, v, (int64_t)ms)) {
        *out = (struct pc_schema_int){ (int64_t)ms, v };
    }
}

static void
decode_quantity(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
                const struct pc_yaml_node *v, struct pc_schema_int *out)
{
    uint64_t bytes;
    int rc;

    static const char hint[] =
        "write a whole number of bytes such as 65536, \"64Ki\", \"10Mi\" or \"1G\"";

    if (v->kind == PC_YAML_SCALAR && v->type == PC_YAML_INT) {
        decode_int(ctx, f, v, out);
        return;
    }
    if (v->kind == PC_YAML_SCALAR && v->type == PC_YAML_FLOAT) {
        fail(ctx, v, hint, "invalid quantity \"%.32s\"", v->text);
        return;
    }
    if (!expect_scalar(ctx, v, PC_YAML_STR, "an integer or a quantity string", f->flags)) {
        return;
    }
    rc = pc_value_quantity(v->text, v->len, &bytes);
    if (rc != 0) {
        fail(ctx, v, hint,
             rc == PC_ERANGE ? "quantity \"%.32s\" is too large" : "invalid quantity \"%.32s\"",
             v->text);
        return;
    }
    if (check_range(ctx, f, v, (int64_t)bytes)) {
        *out = (struct pc_schema_int){ (int64_t)bytes, v };
    }
}

/* ---- containers ---- */

static void decode_into(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
                        const struct pc_yaml_node *node, void *dst);

static bool
check_count(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
            const struct pc_yaml_node *v, size_t n)
{
    if (f->max == 0 || ((int64_t)n >= f->min && (int64_t)n <= f->max)) {
        return true;
    }
    if (n == 0) {
        fail(ctx, v, NULL, "must not be empty");
    } else {
        fail(ctx, v, NULL, "must have %" PRId64 " to %" PRId64 " items, got %zu", f->min, f->max,
             n);
    }
    return false;
}

static void
decode_list(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
            const struct pc_yaml_node *v, struct pc_schema_list *out)
{
    size_t elem = f->sub != NULL ? f->sub->size : sizeof(struct pc_schema_string);
    char *items;

    if (v->kind != PC_YAML_SEQ) {
        fail(ctx, v, NULL, "expected a list, got %s", pc_yaml_describe(v));
        return;
    }
    if (!check_count(ctx, f, v, v->n_items)) {
        return;
    }
    items = pc_arena_calloc(ctx->arena, v->n_items > 0 ? v->n_items : 1, elem);
    if (items == NULL) {
        fail(ctx, v, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < v->n_items; i++) {
        const struct pc_yaml_node *item = v->items[i];

        if (f->sub != NULL) {
            decode_into(ctx, f->sub, item, items + i * elem);
        } else {
            struct pc_schema_field scalar = { .type = PC_SCHEMA_STRING,
                                              .flags = f->flags & PC_SCHEMA_SECRET,
                                              .check = f->check };

            decode_string(ctx, &scalar, item,
                          (struct pc_schema_string *)(void *)(items + i * elem));
        }
    }
    *out = (struct pc_schema_list){ items, v->n_items, v };
}

static void
decode_map(struct pc_schema_ctx *ctx, const struct pc_schema_field *f, const struct pc_yaml_node *v,
           struct pc_schema_map *out)
{
    /* A secret map (a Secret's data) keeps its values secret; its keys are names, not values. */
    struct pc_schema_field value_field = { .type = PC_SCHEMA_STRING,
                                           .flags = f->flags & PC_SCHEMA_SECRET,
                                           .check = f->check };
    struct pc_schema_msg msg = { { 0 }, { 0 } };

    if (v->kind != PC_YAML_MAP) {
        fail(ctx, v, NULL, "expected a mapping, got %s", pc_yaml_describe(v));
        return;
    }
    if (!check_count(ctx, f, v, v->n_pairs)) {
        return;
    }
    /* A key repeated in the document (reported by the parser) decodes its map again: start over. */
    out->n = 0;
    out->keys = pc_arena_calloc(ctx->arena, v->n_pairs + 1, sizeof(*out->keys));
    out->values = pc_arena_calloc(ctx->arena, v->n_pairs + 1, sizeof(*out->values));
    if (out->keys == NULL || out->values == NULL) {
        fail(ctx, v, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < v->n_pairs; i++) {
        const struct pc_yaml_pair *p = &v->pairs[i];

        if (f->key_check != NULL && !f->key_check(p->key, p->key_len, &msg)) {
            pc_yaml_error_key(ctx->diag, v, p, msg.hint[0] != '\0' ? msg.hint : NULL, "%s",
                              msg.problem);
            ctx->errors++;
            continue;
        }
        out->keys[out->n] = (struct pc_schema_string){ p->key, p->key_len, p->value };
        decode_string(ctx, &value_field, p->value, &out->values[out->n]);
        out->n++;
    }
    out->node = v;
}

static void
decode_field(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
             const struct pc_yaml_node *map, const struct pc_yaml_pair *pair, char *dst)
{
    const struct pc_yaml_node *v = pair->value;

    switch (f->type) {
    case PC_SCHEMA_STRING:
        decode_string(ctx, f, v, (struct pc_schema_string *)(void *)dst);
        break;
    case PC_SCHEMA_INT:
        decode_int(ctx, f, v, (struct pc_schema_int *)(void *)dst);
        break;
    case PC_SCHEMA_BOOL:
        decode_bool(ctx, v, (struct pc_schema_int *)(void *)dst);
        break;
    case PC_SCHEMA_DURATION:
        decode_duration(ctx, f, v, (struct pc_schema_int *)(void *)dst);
        break;
    case PC_SCHEMA_QUANTITY:
        decode_quantity(ctx, f, v, (struct pc_schema_int *)(void *)dst);
        break;
    case PC_SCHEMA_OBJECT:
        *(void **)(void *)dst = pc_schema_decode(ctx, f->sub, v);
        break;
    case PC_SCHEMA_LIST:
        decode_list(ctx, f, v, (struct pc_schema_list *)(void *)dst);
        break;
    case PC_SCHEMA_MAP:
        decode_map(ctx, f, v, (struct pc_schema_map *)(void *)dst);
        break;
    case PC_SCHEMA_ANY:
        *(const struct pc_yaml_node **)(void *)dst = v;
        break;
    case PC_SCHEMA_UNSUPPORTED:
    default:
        pc_yaml_error_key(ctx->diag, map, pair, f->hint, "not supported");
        ctx->errors++;
        break;
    }
}

static void
unknown_field(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
              const struct pc_yaml_node *map, const struct pc_yaml_pair *pair)
{
    const char *names[MAX_FIELDS];
    char hint[512];
    const char *near;

    for (size_t i = 0; i < schema->n_fields; i++) {
        names[i] = schema->fields[i].name;
    }
    near = pc_value_suggest(pair->key, names, schema->n_fields);
    if (near != NULL) {
        snprintf(hint, sizeof(hint), "did you mean \"%s\"?", near);
    } else {
        size_t pos = (size_t)snprintf(hint, sizeof(hint), "known fields: ");

        for (size_t i = 0; i < schema->n_fields && pos < sizeof(hint); i++) {
            int n = snprintf(hint + pos, sizeof(hint) - pos, "%s%s", i > 0 ? ", " : "", names[i]);

            pos += n > 0 ? (size_t)n : 0;
        }
    }
    pc_yaml_error_key(ctx->diag, map, pair, hint, "unknown field");
    ctx->errors++;
}

static const struct pc_schema_field *
find_field(const struct pc_schema *schema, const char *key, size_t *index)
{
    for (size_t i = 0; i < schema->n_fields; i++) {
        if (strcmp(schema->fields[i].name, key) == 0) {
            *index = i;
            return &schema->fields[i];
        }
    }
    return NULL;
}

static void
apply_absent(struct pc_schema_ctx *ctx, const struct pc_schema_field *f,
             const struct pc_yaml_node *map, char *dst)
{
    if (f->flags & PC_SCHEMA_REQUIRED) {
        char suffix[80];

        snprintf(suffix, sizeof(suffix), ".%s", f->name);
        pc_yaml_error(ctx->diag, map, suffix, NULL, "required field is missing");
        ctx->errors++;
        return;
    }
    if (f->type == PC_SCHEMA_STRING && f->def_str != NULL) {
        *(struct pc_schema_string *)(void *)dst =
            (struct pc_schema_string){ f->def_str, strlen(f->def_str), NULL };
    } else if (f->flags & PC_SCHEMA_DEFAULTED) {
        ((struct pc_schema_int *)(void *)dst)->v = f->def_int;
    }
}

static bool
has_shorthand(const struct pc_schema *schema)
{
    for (size_t i = 0; i < schema->n_fields; i++) {
        if (schema->fields[i].flags & PC_SCHEMA_SHORTHAND) {
            return true;
        }
    }
    return false;
}

/* A plain scalar where an object with a shorthand is expected: it is that one string field. */
static void
decode_shorthand(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
                 const struct pc_yaml_node *node, char *dst)
{
    for (size_t i = 0; i < schema->n_fields; i++) {
        const struct pc_schema_field *f = &schema->fields[i];

        if (f->flags & PC_SCHEMA_SHORTHAND) {
            decode_string(ctx, f, node, (struct pc_schema_string *)(void *)(dst + f->offset));
        } else {
            apply_absent(ctx, f, node, dst + f->offset);
        }
    }
}

static void
decode_into(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
            const struct pc_yaml_node *node, void *dst)
{
    bool seen[MAX_FIELDS] = { false };

    *(const struct pc_yaml_node **)dst = node;
    if (node->kind == PC_YAML_SCALAR && has_shorthand(schema)) {
        decode_shorthand(ctx, schema, node, dst);
        return;
    }
    if (node->kind != PC_YAML_MAP) {
        fail(ctx, node, NULL, "expected a mapping, got %s", pc_yaml_describe(node));
    }
    for (size_t i = 0; node->kind == PC_YAML_MAP && i < node->n_pairs; i++) {
        const struct pc_yaml_pair *pair = &node->pairs[i];
        size_t index = 0;
        const struct pc_schema_field *f = find_field(schema, pair->key, &index);

        if (f == NULL) {
            unknown_field(ctx, schema, node, pair);
            continue;
        }
        /* null reads as absent, as it does for Kubernetes optional fields. */
        if (pair->value->kind == PC_YAML_SCALAR && pair->value->type == PC_YAML_NULL) {
            continue;
        }
        seen[index] = true;
        decode_field(ctx, f, node, pair, (char *)dst + f->offset);
    }
    for (size_t i = 0; i < schema->n_fields; i++) {
        if (!seen[i]) {
            apply_absent(ctx, &schema->fields[i], node, (char *)dst + schema->fields[i].offset);
        }
    }
}

void *
pc_schema_decode(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
                 const struct pc_yaml_node *node)
{
    void *dst = pc_arena_calloc(ctx->arena, 1, schema->size);

    if (dst == NULL) {
        /* Counted as an error, so a load can never succeed with a part silently missing. */
        fail(ctx, node, NULL, "out of memory");
        return NULL;
    }
    decode_into(ctx, schema, node, dst);
    return dst;
}
