/*
 * Rego values: null, booleans, numbers, strings, arrays, objects and sets.
 *
 * Values are immutable once built and live in an arena: a compiled policy's constants in the
 * policy's arena, everything an evaluation makes (and the input a caller builds for it) in the
 * evaluation context's arena. Objects and sets keep their members sorted in Rego's total order,
 * which gives logarithmic lookups, canonical output and cheap comparison without hashing.
 *
 * Numbers follow OPA: integers of any size keep full precision (int64 fast path, decimal digits
 * beyond it) and other numbers are binary floating point with a 64-bit mantissa, the precision
 * OPA's big.Float arithmetic uses; an integral result is always stored as an integer, so 1 and
 * 1.0 are the same value.
 *
 * The layout of struct pc_rego_value is visible so that the evaluator's hot path can inline
 * accessors; callers outside src/rego use the functions below and never touch its fields.
 */
#ifndef PC_REGO_VALUE_H
#define PC_REGO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/mem.h"

/* Kinds, in Rego's sort order: every null sorts before every boolean, and so on. */
enum pc_rego_kind {
    PC_REGO_NULL = 0,
    PC_REGO_BOOLEAN = 1,
    PC_REGO_NUMBER = 2,
    PC_REGO_STRING = 3,
    PC_REGO_ARRAY = 4,
    PC_REGO_OBJECT = 5,
    PC_REGO_SET = 6,
};

/* Representations of a number (private to the engine). */
enum pc_rego_num {
    PC_REGO_NUM_INT = 0,   /* u.i */
    PC_REGO_NUM_BIG = 1,   /* integer outside int64: u.s holds "-?[1-9][0-9]*", len bytes */
    PC_REGO_NUM_FLOAT = 2, /* non-integral: *u.f */
};

struct pc_rego_value;

/* One object member. */
struct pc_rego_entry {
    const struct pc_rego_value *key;
    const struct pc_rego_value *val;
};

/* Fields are private to src/rego. */
struct pc_rego_value {
    uint8_t kind;
    uint8_t num;
    uint16_t flags;
    uint32_t len;

    union {
        int b;
        int64_t i;
        const long double *f;
        const char *s;
        const struct pc_rego_value *const *items;
        const struct pc_rego_entry *entries;
    } u;
};

/* The shared null, true and false values (static, never freed). */
const struct pc_rego_value *pc_rego_null(void);
const struct pc_rego_value *pc_rego_bool(bool b);

/* An integer; arena memory, NULL when out of memory. */
const struct pc_rego_value *pc_rego_int(struct pc_rego_arena *arena, int64_t i);

/* A number from a double; NULL for NaN or infinity, or when out of memory. */
const struct pc_rego_value *pc_rego_double(struct pc_rego_arena *arena, double d);

/*
 * Parses a JSON number (optional '-', digits, optional fraction and exponent) of len bytes.
 * Returns NULL when text is not a number, too large (exponent beyond +-100000) or out of memory.
 */
const struct pc_rego_value *pc_rego_number_parse(struct pc_rego_arena *arena, const char *text,
                                                 size_t len);

/* A string holding a copy of len bytes of s (not checked for UTF-8); NULL when out of memory. */
const struct pc_rego_value *pc_rego_string(struct pc_rego_arena *arena, const char *s, size_t len);

/*
 * A string that borrows s: the caller keeps the bytes unchanged and alive for as long as the
 * value is used. Saves a copy when building input from request memory. NULL when out of memory.
 */
const struct pc_rego_value *pc_rego_string_ref(struct pc_rego_arena *arena, const char *s,
                                               size_t len);

/* An array of n items (the pointer array is copied; items are borrowed). NULL on OOM. */
const struct pc_rego_value *pc_rego_array(struct pc_rego_arena *arena,
                                          const struct pc_rego_value *const *items, size_t n);

/* A set of the n items, sorted and deduplicated. NULL on OOM. */
const struct pc_rego_value *pc_rego_set_of(struct pc_rego_arena *arena,
                                           const struct pc_rego_value *const *items, size_t n);

/*
 * Incremental construction of an array, set or object in an arena. Stack-allocate one, init it,
 * push (arrays, sets) or put (objects) members, then finish. Fields are private.
 */
struct pc_rego_builder {
    struct pc_rego_arena *arena;
    uint8_t kind;
    uint32_t len;
    uint32_t cap;
    const struct pc_rego_value **buf;
};

/* kind is PC_REGO_ARRAY, PC_REGO_SET or PC_REGO_OBJECT. */
void pc_rego_builder_init(struct pc_rego_builder *b, struct pc_rego_arena *arena,
                          enum pc_rego_kind kind);

/* Appends v to an array or set under construction. Returns 0 or PC_REGO_ENOMEM. */
int pc_rego_builder_push(struct pc_rego_builder *b, const struct pc_rego_value *v);

/* Adds key: val to an object under construction; for a repeated key the last one wins. */
int pc_rego_builder_put(struct pc_rego_builder *b, const struct pc_rego_value *key,
                        const struct pc_rego_value *val);

/* As pc_rego_builder_put with a string key copied from key[0..len). */
int pc_rego_builder_put_str(struct pc_rego_builder *b, const char *key, size_t len,
                            const struct pc_rego_value *val);

/*
 * Returns the built value (arena memory), or NULL when out of memory. Sets are sorted and
 * deduplicated. The builder must not be used afterwards.
 */
const struct pc_rego_value *pc_rego_builder_finish(struct pc_rego_builder *b);

/*
 * As pc_rego_builder_finish for objects, but a key given twice with different values makes it
 * return NULL and set *conflict (Rego's "object keys must be unique").
 */
const struct pc_rego_value *pc_rego_builder_finish_strict(struct pc_rego_builder *b,
                                                          bool *conflict);

/* Accessors. v must be non-NULL and of the kind each accessor names. */
static inline enum pc_rego_kind
pc_rego_kind(const struct pc_rego_value *v)
{
    return (enum pc_rego_kind)v->kind;
}

/* Bytes of a string, elements of an array or set, members of an object; 0 otherwise. */
static inline size_t
pc_rego_len(const struct pc_rego_value *v)
{
    return v->kind >= PC_REGO_STRING ? v->len : 0;
}

static inline bool
pc_rego_bool_get(const struct pc_rego_value *v)
{
    return v->u.b != 0;
}

/* Returns the bytes of a string (not NUL-terminated when built by pc_rego_string_ref). */
static inline const char *
pc_rego_string_get(const struct pc_rego_value *v, size_t *len)
{
    *len = v->len;
    return v->u.s;
}

/* Element i (< len) of an array, or of a set in sorted order. */
static inline const struct pc_rego_value *
pc_rego_item(const struct pc_rego_value *v, size_t i)
{
    return v->u.items[i];
}

/* Member i (< len) of an object, in key order. */
static inline const struct pc_rego_entry *
pc_rego_entry_at(const struct pc_rego_value *v, size_t i)
{
    return &v->u.entries[i];
}

/* Returns 0 and sets *out when the number v is an integer within int64, else PC_REGO_EINVAL. */
int pc_rego_number_int64(const struct pc_rego_value *v, int64_t *out);

/* Returns the number v as the nearest double. */
double pc_rego_number_double(const struct pc_rego_value *v);

/* Looks up key in object v; returns the member's value or NULL. */
const struct pc_rego_value *pc_rego_object_get(const struct pc_rego_value *v,
                                               const struct pc_rego_value *key);

/* Looks up a string key given as bytes; returns the member's value or NULL. */
const struct pc_rego_value *pc_rego_object_get_str(const struct pc_rego_value *v, const char *key,
                                                   size_t len);

/*
 * Looks key up in any collection: an object's member, an array's element at an integer index,
 * or a set's member (the member itself). Returns NULL when absent or v is not a collection.
 */
const struct pc_rego_value *pc_rego_value_get(const struct pc_rego_value *v,
                                              const struct pc_rego_value *key);

/* Sorts items[0..n) in place in Rego's order (duplicates kept). */
void pc_rego_sort_values(const struct pc_rego_value **items, size_t n);

/* Returns whether set v contains elem. */
bool pc_rego_set_contains(const struct pc_rego_value *v, const struct pc_rego_value *elem);

/* Rego's total order: negative, zero or positive. Numbers compare by value (1 == 1.0). */
int pc_rego_compare(const struct pc_rego_value *a, const struct pc_rego_value *b);

/* Returns whether a and b are equal in Rego. */
bool pc_rego_equal(const struct pc_rego_value *a, const struct pc_rego_value *b);

/* Returns OPA's type name: "null", "boolean", "number", "string", "array", "object", "set". */
const char *pc_rego_type_name(const struct pc_rego_value *v);

/* Returns whether v is plain JSON: no set anywhere inside it. */
bool pc_rego_is_json(const struct pc_rego_value *v);

#endif
