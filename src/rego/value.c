/*
 * Rego values (see value.h): construction, lookup and Rego's total order.
 *
 * Objects and sets are sorted arrays. Construction sorts once (and skips the sort when members
 * arrive in order, as they do from our own JSON writer and from set operations); lookups are
 * binary searches. Nothing here allocates from the heap except through the arena it is given.
 */
#include "rego/value.h"

#include <stdlib.h>
#include <string.h>

#include "rego/error.h"
#include "rego/num.h"

static const struct pc_rego_value null_value = { .kind = PC_REGO_NULL };
static const struct pc_rego_value true_value = { .kind = PC_REGO_BOOLEAN, .u.b = 1 };
static const struct pc_rego_value false_value = { .kind = PC_REGO_BOOLEAN, .u.b = 0 };

const struct pc_rego_value *
pc_rego_null(void)
{
    return &null_value;
}

const struct pc_rego_value *
pc_rego_bool(bool b)
{
    return b ? &true_value : &false_value;
}

static struct pc_rego_value *
new_value(struct pc_rego_arena *arena, enum pc_rego_kind kind, size_t len)
{
    if (len > UINT32_MAX) {
        return NULL;
    }
    struct pc_rego_value *v = pc_rego_arena_alloc(arena, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    v->kind = (uint8_t)kind;
    v->num = 0;
    v->flags = 0;
    v->len = (uint32_t)len;
    return v;
}

const struct pc_rego_value *
pc_rego_string(struct pc_rego_arena *arena, const char *s, size_t len)
{
    struct pc_rego_value *v = new_value(arena, PC_REGO_STRING, len);
    char *copy = pc_rego_arena_strndup(arena, s, len);
    if (v == NULL || copy == NULL) {
        return NULL;
    }
    v->u.s = copy;
    return v;
}

const struct pc_rego_value *
pc_rego_string_ref(struct pc_rego_arena *arena, const char *s, size_t len)
{
    struct pc_rego_value *v = new_value(arena, PC_REGO_STRING, len);
    if (v == NULL) {
        return NULL;
    }
    v->u.s = s;
    return v;
}

const struct pc_rego_value *
pc_rego_array(struct pc_rego_arena *arena, const struct pc_rego_value *const *items, size_t n)
{
    struct pc_rego_value *v = new_value(arena, PC_REGO_ARRAY, n);
    const struct pc_rego_value **copy = pc_rego_arena_alloc(arena, sizeof(*copy) * (n ? n : 1));
    if (v == NULL || copy == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(copy, items, sizeof(*copy) * n);
    }
    v->u.items = copy;
    return v;
}

static int
cmp_items(const void *a, const void *b)
{
    return pc_rego_compare(*(const struct pc_rego_value *const *)a,
                           *(const struct pc_rego_value *const *)b);
}

/* Sorts and deduplicates items in place; returns the new count. */
static size_t
sort_unique(const struct pc_rego_value **items, size_t n)
{
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++) {
        sorted = pc_rego_compare(items[i - 1], items[i]) < 0;
    }
    if (sorted) {
        return n;
    }
    qsort(items, n, sizeof(*items), cmp_items);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || pc_rego_compare(items[k - 1], items[i]) != 0) {
            items[k++] = items[i];
        }
    }
    return k;
}

const struct pc_rego_value *
pc_rego_set_of(struct pc_rego_arena *arena, const struct pc_rego_value *const *items, size_t n)
{
    struct pc_rego_value *v = new_value(arena, PC_REGO_SET, n);
    const struct pc_rego_value **copy = pc_rego_arena_alloc(arena, sizeof(*copy) * (n ? n : 1));
    if (v == NULL || copy == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(copy, items, sizeof(*copy) * n);
    }
    v->len = (uint32_t)sort_unique(copy, n);
    v->u.items = copy;
    return v;
}

void
pc_rego_builder_init(struct pc_rego_builder *b, struct pc_rego_arena *arena, enum pc_rego_kind kind)
{
    b->arena = arena;
    b->kind = (uint8_t)kind;
    b->len = 0;
    b->cap = 0;
    b->buf = NULL;
}

static int
builder_grow(struct pc_rego_builder *b, uint32_t need)
{
    if (b->len + need <= b->cap) {
        return 0;
    }
    uint64_t cap = b->cap ? (uint64_t)b->cap * 2 : 8;
    while (cap < (uint64_t)b->len + need) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        return PC_REGO_ENOMEM;
    }
    const struct pc_rego_value **buf = pc_rego_arena_alloc(b->arena, sizeof(*buf) * cap);
    if (buf == NULL) {
        return PC_REGO_ENOMEM;
    }
    if (b->len > 0) {
        memcpy(buf, b->buf, sizeof(*buf) * b->len);
    }
    b->buf = buf;
    b->cap = (uint32_t)cap;
    return 0;
}

int
pc_rego_builder_push(struct pc_rego_builder *b, const struct pc_rego_value *v)
{
    if (v == NULL || builder_grow(b, 1) != 0) {
        return PC_REGO_ENOMEM;
    }
    b->buf[b->len++] = v;
    return 0;
}

int
pc_rego_builder_put(struct pc_rego_builder *b, const struct pc_rego_value *key,
                    const struct pc_rego_value *val)
{
    if (key == NULL || val == NULL || builder_grow(b, 2) != 0) {
        return PC_REGO_ENOMEM;
    }
    b->buf[b->len++] = key;
    b->buf[b->len++] = val;
    return 0;
}

int
pc_rego_builder_put_str(struct pc_rego_builder *b, const char *key, size_t len,
                        const struct pc_rego_value *val)
{
    return pc_rego_builder_put(b, pc_rego_string(b->arena, key, len), val);
}

struct tagged_entry {
    const struct pc_rego_value *key;
    const struct pc_rego_value *val;
    size_t idx;
};

static int
cmp_tagged(const void *a, const void *b)
{
    const struct tagged_entry *x = a;
    const struct tagged_entry *y = b;
    int c = pc_rego_compare(x->key, y->key);
    if (c != 0) {
        return c;
    }
    return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

static bool
entries_sorted(const struct pc_rego_value **kv, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (pc_rego_compare(kv[2 * (i - 1)], kv[2 * i]) >= 0) {
            return false;
        }
    }
    return true;
}

/* Builds the sorted member array of an object; a repeated key keeps its last value. */
static const struct pc_rego_value *
finish_object(struct pc_rego_builder *b, bool strict, bool *conflict)
{
    size_t n = b->len / 2;
    struct pc_rego_value *v = new_value(b->arena, PC_REGO_OBJECT, n);
    struct pc_rego_entry *ents = pc_rego_arena_alloc(b->arena, sizeof(*ents) * (n ? n : 1));
    if (v == NULL || ents == NULL) {
        return NULL;
    }
    v->u.entries = ents;
    if (entries_sorted(b->buf, n)) {
        for (size_t i = 0; i < n; i++) {
            ents[i].key = b->buf[2 * i];
            ents[i].val = b->buf[2 * i + 1];
        }
        return v;
    }

    struct tagged_entry *tmp = pc_rego_arena_alloc(b->arena, sizeof(*tmp) * n);
    if (tmp == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i].key = b->buf[2 * i];
        tmp[i].val = b->buf[2 * i + 1];
        tmp[i].idx = i;
    }
    qsort(tmp, n, sizeof(*tmp), cmp_tagged);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && pc_rego_compare(ents[k - 1].key, tmp[i].key) == 0) {
            if (strict && !pc_rego_equal(ents[k - 1].val, tmp[i].val)) {
                *conflict = true;
                return NULL;
            }
            ents[k - 1].val = tmp[i].val;
            continue;
        }
        ents[k].key = tmp[i].key;
        ents[k].val = tmp[i].val;
        k++;
    }
    v->len = (uint32_t)k;
    return v;
}

static const struct pc_rego_value *
finish(struct pc_rego_builder *b, bool strict, bool *conflict)
{
    switch (b->kind) {
    case PC_REGO_OBJECT:
        return finish_object(b, strict, conflict);
    case PC_REGO_SET:
        return pc_rego_set_of(b->arena, b->buf, b->len);
    default:
        return pc_rego_array(b->arena, b->buf, b->len);
    }
}

const struct pc_rego_value *
pc_rego_builder_finish(struct pc_rego_builder *b)
{
    bool conflict = false;
    return finish(b, false, &conflict);
}

const struct pc_rego_value *
pc_rego_builder_finish_strict(struct pc_rego_builder *b, bool *conflict)
{
    *conflict = false;
    return finish(b, true, conflict);
}

int
pc_rego_number_int64(const struct pc_rego_value *v, int64_t *out)
{
    if (v->kind != PC_REGO_NUMBER || v->num != PC_REGO_NUM_INT) {
        return PC_REGO_EINVAL;
    }
    *out = v->u.i;
    return 0;
}

double
pc_rego_number_double(const struct pc_rego_value *v)
{
    return (double)pc_rego_num_ld(v);
}

const struct pc_rego_value *
pc_rego_object_get(const struct pc_rego_value *v, const struct pc_rego_value *key)
{
    if (key->kind == PC_REGO_STRING) {
        return pc_rego_object_get_str(v, key->u.s, key->len);
    }
    size_t lo = 0;
    size_t hi = v->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = pc_rego_compare(v->u.entries[mid].key, key);
        if (c == 0) {
            return v->u.entries[mid].val;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int
cmp_str_key(const struct pc_rego_value *k, const char *s, size_t len)
{
    if (k->kind != PC_REGO_STRING) {
        return k->kind < PC_REGO_STRING ? -1 : 1;
    }
    size_t m = k->len < len ? k->len : len;
    int c = m ? memcmp(k->u.s, s, m) : 0;
    if (c != 0) {
        return c;
    }
    return k->len < len ? -1 : (k->len > len ? 1 : 0);
}

const struct pc_rego_value *
pc_rego_object_get_str(const struct pc_rego_value *v, const char *key, size_t len)
{
    /* Small objects (most input documents): a scan that rejects on length is cheapest. */
    if (v->len <= 8) {
        for (uint32_t i = 0; i < v->len; i++) {
            const struct pc_rego_value *k = v->u.entries[i].key;
            if (k->kind == PC_REGO_STRING && k->len == len
                && (len == 0 || (k->u.s[0] == key[0] && memcmp(k->u.s, key, len) == 0))) {
                return v->u.entries[i].val;
            }
        }
        return NULL;
    }
    size_t lo = 0;
    size_t hi = v->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_str_key(v->u.entries[mid].key, key, len);
        if (c == 0) {
            return v->u.entries[mid].val;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const struct pc_rego_value *
pc_rego_value_get(const struct pc_rego_value *v, const struct pc_rego_value *key)
{
    switch (v->kind) {
    case PC_REGO_OBJECT:
        return pc_rego_object_get(v, key);
    case PC_REGO_ARRAY:
        if (key->kind == PC_REGO_NUMBER && key->num == PC_REGO_NUM_INT && key->u.i >= 0
            && key->u.i < (int64_t)v->len) {
            return v->u.items[key->u.i];
        }
        return NULL;
    case PC_REGO_SET:
        return pc_rego_set_contains(v, key) ? key : NULL;
    default:
        return NULL;
    }
}

void
pc_rego_sort_values(const struct pc_rego_value **items, size_t n)
{
    qsort(items, n, sizeof(*items), cmp_items);
}

bool
pc_rego_set_contains(const struct pc_rego_value *v, const struct pc_rego_value *elem)
{
    size_t lo = 0;
    size_t hi = v->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = pc_rego_compare(v->u.items[mid], elem);
        if (c == 0) {
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static int
cmp_strings(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    size_t m = a->len < b->len ? a->len : b->len;
    int c = m ? memcmp(a->u.s, b->u.s, m) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
}

static int
cmp_len(uint32_t a, uint32_t b)
{
    return a < b ? -1 : (a > b ? 1 : 0);
}

static int
cmp_seq(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    uint32_t m = a->len < b->len ? a->len : b->len;
    for (uint32_t i = 0; i < m; i++) {
        int c = pc_rego_compare(a->u.items[i], b->u.items[i]);
        if (c != 0) {
            return c;
        }
    }
    return cmp_len(a->len, b->len);
}

/* Objects order by their sorted keys first, then by size, then by values in key order. */
static int
cmp_objects(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    uint32_t m = a->len < b->len ? a->len : b->len;
    for (uint32_t i = 0; i < m; i++) {
        int c = pc_rego_compare(a->u.entries[i].key, b->u.entries[i].key);
        if (c != 0) {
            return c;
        }
    }
    if (a->len != b->len) {
        return cmp_len(a->len, b->len);
    }
    for (uint32_t i = 0; i < m; i++) {
        int c = pc_rego_compare(a->u.entries[i].val, b->u.entries[i].val);
        if (c != 0) {
            return c;
        }
    }
    return 0;
}

int
pc_rego_compare(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    if (a == b) {
        return 0;
    }
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    switch (a->kind) {
    case PC_REGO_NULL:
        return 0;
    case PC_REGO_BOOLEAN:
        return (a->u.b != 0) - (b->u.b != 0);
    case PC_REGO_NUMBER:
        return pc_rego_num_cmp(a, b);
    case PC_REGO_STRING:
        return cmp_strings(a, b);
    case PC_REGO_OBJECT:
        return cmp_objects(a, b);
    default:
        return cmp_seq(a, b);
    }
}

bool
pc_rego_equal(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    if (a == b) {
        return true;
    }
    if (a->kind != b->kind) {
        return false;
    }
    if (a->kind == PC_REGO_STRING) {
        return a->len == b->len && (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    }
    if (a->kind >= PC_REGO_ARRAY && a->len != b->len) {
        return false;
    }
    return pc_rego_compare(a, b) == 0;
}

const char *
pc_rego_type_name(const struct pc_rego_value *v)
{
    static const char *const names[] = { "null",  "boolean", "number", "string",
                                         "array", "object",  "set" };
    return v->kind <= PC_REGO_SET ? names[v->kind] : "unknown";
}

bool
pc_rego_is_json(const struct pc_rego_value *v)
{
    switch (v->kind) {
    case PC_REGO_SET:
        return false;
    case PC_REGO_ARRAY:
        for (uint32_t i = 0; i < v->len; i++) {
            if (!pc_rego_is_json(v->u.items[i])) {
                return false;
            }
        }
        return true;
    case PC_REGO_OBJECT:
        for (uint32_t i = 0; i < v->len; i++) {
            if (!pc_rego_is_json(v->u.entries[i].key) || !pc_rego_is_json(v->u.entries[i].val)) {
                return false;
            }
        }
        return true;
    default:
        return true;
    }
}
