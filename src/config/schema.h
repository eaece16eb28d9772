/*
 * Declarative schemas for configuration resources, and the one decoder that applies them.
 *
 * A resource's shape is a table of fields (name, type, required, bounds, enum values, default,
 * nested schema, extra syntax check) rather than code, so every resource gets the same checks
 * and the same messages: unknown fields with a "did you mean", wrong types, missing required
 * fields, values out of range, unknown enum values, bad durations and quantities, lists that are
 * too long. The decoder fills plain C structs whose first member is the mapping's node, so later
 * semantic checks can still cite the location of anything they object to.
 *
 * Values are copied into the caller's arena. Control thread only.
 */
#ifndef PC_CONFIG_SCHEMA_H
#define PC_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/diag.h"
#include "config/yaml.h"

struct pc_arena;

/* A decoded string; node is NULL when the field was absent (s then holds the default or NULL). */
struct pc_schema_string {
    const char *s; /* NUL-terminated */
    size_t len;
    const struct pc_yaml_node *node;
};

/* A decoded integer, boolean (0 or 1), duration (milliseconds) or quantity (bytes). */
struct pc_schema_int {
    int64_t v;
    const struct pc_yaml_node *node; /* NULL: absent, v holds the default or 0 */
};

/* A decoded list: items is an array of the element struct (objects) or of struct pc_schema_string.
 */
struct pc_schema_list {
    void *items;
    size_t n;
    const struct pc_yaml_node *node;
};

/* A decoded string-to-string mapping (labels, annotations, matchLabels). */
struct pc_schema_map {
    struct pc_schema_string *keys;
    struct pc_schema_string *values;
    size_t n;
    const struct pc_yaml_node *node;
};

enum pc_schema_type {
    PC_SCHEMA_STRING = 0,
    PC_SCHEMA_INT,
    PC_SCHEMA_BOOL,
    PC_SCHEMA_DURATION, /* GEP-2257 string, decoded to milliseconds */
    PC_SCHEMA_QUANTITY, /* integer, or Kubernetes quantity string, decoded to bytes */
    PC_SCHEMA_OBJECT,   /* pointer to a struct of sub->size bytes; NULL when absent */
    PC_SCHEMA_LIST,     /* struct pc_schema_list of sub objects, or of strings when sub is NULL */
    PC_SCHEMA_MAP,      /* struct pc_schema_map */
    PC_SCHEMA_ANY,      /* accepted unchecked; the node is stored (or NULL) */
    PC_SCHEMA_UNSUPPORTED, /* known field we refuse: an error naming hint */
};

#define PC_SCHEMA_REQUIRED  0x1u /* absent or null is an error */
#define PC_SCHEMA_SECRET    0x2u /* never echo the value (of a map or list: its items) */
#define PC_SCHEMA_DEFAULTED 0x4u /* absent takes def_int (ints, bools, durations) */
/* A string field a plain scalar may stand for: `alice` in place of the object reads as
 * `{value: alice}`, the other fields taking their defaults. One per schema at most. */
#define PC_SCHEMA_SHORTHAND 0x8u

/* What a check found wrong, when it returns false. Both are plain text; hint may stay empty. */
struct pc_schema_msg {
    char problem[256];
    char hint[256];
};

/*
 * Extra syntax check for a string (or each string of a list, or each map value): returns true
 * when s[0..len) is acceptable, else fills msg.
 */
typedef bool (*pc_schema_check_fn)(const char *s, size_t len, struct pc_schema_msg *msg);

struct pc_schema;

struct pc_schema_field {
    const char *name;
    enum pc_schema_type type;
    unsigned flags;
    size_t offset; /* of the destination member in the parent struct */
    /* Bounds, when max > 0: the value (ints; durations in ms; quantities in bytes), the length
     * (strings) or the number of items (lists, maps). */
    int64_t min;
    int64_t max;
    const char *const *values; /* strings: allowed values, NULL-terminated */
    const struct pc_schema *sub;
    pc_schema_check_fn check;     /* strings, list strings, map values */
    pc_schema_check_fn key_check; /* map keys */
    const char *def_str;          /* strings: value when absent */
    int64_t def_int;              /* with PC_SCHEMA_DEFAULTED */
    const char *hint;             /* PC_SCHEMA_UNSUPPORTED: why, and what to do instead */
};

struct pc_schema {
    const char *name;
    size_t size; /* of the struct an object decodes into; its first member is the node */
    const struct pc_schema_field *fields;
    size_t n_fields;
};

struct pc_schema_ctx {
    struct pc_arena *arena;
    struct pc_diag *diag;
    size_t errors; /* incremented by every error the decoder reports */
};

/*
 * Decodes mapping node into a new struct of schema->size bytes in ctx->arena, reporting every
 * problem to ctx->diag (decoding continues past errors, leaving bad fields absent; running out
 * of memory is reported as an error too). Returns the struct (arena memory; its first member is
 * node) or NULL when out of memory.
 */
void *pc_schema_decode(struct pc_schema_ctx *ctx, const struct pc_schema *schema,
                       const struct pc_yaml_node *node);

/* Formats milliseconds as a GEP-2257 duration ("1h30m", "500ms", "0s") into buf. */
char *pc_schema_format_ms(uint64_t ms, char *buf, size_t size);

#endif
