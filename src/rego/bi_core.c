/*
 * Core builtins: operators, comparison, membership, aggregates, type checks and casts,
 * numbers, arrays, sets, objects and walk.
 *
 * Operand checks and messages follow OPA ("operand 1 must be one of {array, object, set,
 * string} but got number") so that errors read the same as OPA's under strict builtins.
 */
#include <string.h>
#include <strings.h>

#include "rego/builtin.h"
#include "rego/json.h"
#include "rego/num.h"
#include "rego/strbuf.h"
#include "rego/utf8.h"

static int
nomem(void)
{
    return PC_REGO_ENOMEM;
}

/* Arithmetic. */

static int
arith(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
      const struct pc_rego_value **out,
      int (*op)(struct pc_rego_arena *, const struct pc_rego_value *, const struct pc_rego_value *,
                const struct pc_rego_value **))
{
    int rc = pc_rego_bi_arg_number(bc, a, 1);
    if (rc == 0) {
        rc = pc_rego_bi_arg_number(bc, a, 2);
    }
    if (rc != 0) {
        return rc;
    }
    return op(bc->arena, a[0], a[1], out);
}

static int
bi_plus(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    return arith(bc, a, out, pc_rego_num_add);
}

static int
bi_mul(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return arith(bc, a, out, pc_rego_num_mul);
}

static const struct pc_rego_value *
set_diff(struct pc_rego_arena *arena, const struct pc_rego_value *x, const struct pc_rego_value *y)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_SET);
    for (uint32_t i = 0; i < x->len; i++) {
        if (!pc_rego_set_contains(y, x->u.items[i])
            && pc_rego_builder_push(&b, x->u.items[i]) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static int
bi_minus(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    if (a[0]->kind == PC_REGO_NUMBER && a[1]->kind == PC_REGO_NUMBER) {
        return pc_rego_num_sub(bc->arena, a[0], a[1], out);
    }
    if (a[0]->kind == PC_REGO_SET && a[1]->kind == PC_REGO_SET) {
        return pc_rego_bi_ret(out, set_diff(bc->arena, a[0], a[1]));
    }
    if (a[0]->kind != PC_REGO_NUMBER && a[0]->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, 1, a[0], "number, set");
    }
    return pc_rego_bi_type_error(bc, 2, a[1], a[0]->kind == PC_REGO_SET ? "set" : "number");
}

static int
bi_div(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_number(bc, a, 1);
    if (rc == 0) {
        rc = pc_rego_bi_arg_number(bc, a, 2);
    }
    const char *msg = NULL;
    if (rc == 0) {
        rc = pc_rego_num_div(bc->arena, a[0], a[1], out, &msg);
    }
    return msg != NULL ? pc_rego_bi_fail(bc, rc, "%s", msg) : rc;
}

static int
bi_rem(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_number(bc, a, 1);
    if (rc == 0) {
        rc = pc_rego_bi_arg_number(bc, a, 2);
    }
    const char *msg = NULL;
    if (rc == 0) {
        rc = pc_rego_num_rem(bc->arena, a[0], a[1], out, &msg);
    }
    return msg != NULL ? pc_rego_bi_fail(bc, rc, "%s", msg) : rc;
}

static int
round_op(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out, enum pc_rego_round mode)
{
    int rc = pc_rego_bi_arg_number(bc, a, 1);
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_num_round(bc->arena, a[0], mode));
}

static int
bi_abs(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return round_op(bc, a, out, PC_REGO_ROUND_ABS);
}

static int
bi_round(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    return round_op(bc, a, out, PC_REGO_ROUND_NEAREST);
}

static int
bi_ceil(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    return round_op(bc, a, out, PC_REGO_ROUND_CEIL);
}

static int
bi_floor(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    return round_op(bc, a, out, PC_REGO_ROUND_FLOOR);
}

/* Comparison: Rego's total order over all values. */

static int
bi_equal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, pc_rego_equal(a[0], a[1]));
}

static int
bi_neq(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, !pc_rego_equal(a[0], a[1]));
}

static int
bi_lt(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
      const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, pc_rego_compare(a[0], a[1]) < 0);
}

static int
bi_lte(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, pc_rego_compare(a[0], a[1]) <= 0);
}

static int
bi_gt(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
      const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, pc_rego_compare(a[0], a[1]) > 0);
}

static int
bi_gte(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    (void)bc;
    return pc_rego_bi_ret_bool(out, pc_rego_compare(a[0], a[1]) >= 0);
}

/* Sets. */

static const struct pc_rego_value *
set_and(struct pc_rego_arena *arena, const struct pc_rego_value *x, const struct pc_rego_value *y)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_SET);
    for (uint32_t i = 0; i < x->len; i++) {
        if (pc_rego_set_contains(y, x->u.items[i])
            && pc_rego_builder_push(&b, x->u.items[i]) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static const struct pc_rego_value *
set_or(struct pc_rego_arena *arena, const struct pc_rego_value *x, const struct pc_rego_value *y)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_SET);
    for (uint32_t i = 0; i < x->len; i++) {
        if (pc_rego_builder_push(&b, x->u.items[i]) != 0) {
            return NULL;
        }
    }
    for (uint32_t i = 0; i < y->len; i++) {
        if (pc_rego_builder_push(&b, y->u.items[i]) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static int
set_args(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_SET);
    return rc == 0 ? pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_SET) : rc;
}

static int
bi_and(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    int rc = set_args(bc, a);
    return rc != 0 ? rc : pc_rego_bi_ret(out, set_and(bc->arena, a[0], a[1]));
}

static int
bi_or(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
      const struct pc_rego_value **out)
{
    int rc = set_args(bc, a);
    return rc != 0 ? rc : pc_rego_bi_ret(out, set_or(bc->arena, a[0], a[1]));
}

/* intersection / union of a set of sets. */
static int
sets_fold(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
          const struct pc_rego_value **out, bool is_union)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_SET);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *acc = NULL;
    for (uint32_t i = 0; i < a[0]->len; i++) {
        const struct pc_rego_value *s = a[0]->u.items[i];
        if (s->kind != PC_REGO_SET) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 must be set of sets but got set containing %s",
                                   pc_rego_type_name(s));
        }
        acc = acc == NULL ? s : is_union ? set_or(bc->arena, acc, s) : set_and(bc->arena, acc, s);
        if (acc == NULL) {
            return nomem();
        }
    }
    if (acc == NULL) {
        acc = pc_rego_set_of(bc->arena, NULL, 0);
    }
    return pc_rego_bi_ret(out, acc);
}

static int
bi_intersection(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    return sets_fold(bc, a, out, false);
}

static int
bi_union(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    return sets_fold(bc, a, out, true);
}

/* Membership (x in xs, k, v in xs). */

static int
bi_member2(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    (void)bc;
    const struct pc_rego_value *x = a[0];
    const struct pc_rego_value *c = a[1];
    switch (c->kind) {
    case PC_REGO_SET:
        return pc_rego_bi_ret_bool(out, pc_rego_set_contains(c, x));
    case PC_REGO_ARRAY:
        for (uint32_t i = 0; i < c->len; i++) {
            if (pc_rego_equal(c->u.items[i], x)) {
                return pc_rego_bi_ret_bool(out, true);
            }
        }
        return pc_rego_bi_ret_bool(out, false);
    case PC_REGO_OBJECT:
        for (uint32_t i = 0; i < c->len; i++) {
            if (pc_rego_equal(c->u.entries[i].val, x)) {
                return pc_rego_bi_ret_bool(out, true);
            }
        }
        return pc_rego_bi_ret_bool(out, false);
    default:
        return pc_rego_bi_ret_bool(out, false);
    }
}

static int
bi_member3(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    (void)bc;
    const struct pc_rego_value *k = a[0];
    const struct pc_rego_value *v = a[1];
    const struct pc_rego_value *c = a[2];
    const struct pc_rego_value *found = NULL;
    if (c->kind == PC_REGO_SET) {
        found = pc_rego_equal(k, v) && pc_rego_set_contains(c, v) ? v : NULL;
    } else if (c->kind == PC_REGO_ARRAY || c->kind == PC_REGO_OBJECT) {
        found =
            c->kind == PC_REGO_OBJECT || k->kind == PC_REGO_NUMBER ? pc_rego_value_get(c, k) : NULL;
    }
    return pc_rego_bi_ret_bool(out, found != NULL && pc_rego_equal(found, v));
}

/* Aggregates. */

static int
bi_count(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    const struct pc_rego_value *x = a[0];
    switch (x->kind) {
    case PC_REGO_STRING:
        return pc_rego_bi_ret_int(bc, out, (int64_t)pc_rego_utf8_count(x->u.s, x->len));
    case PC_REGO_ARRAY:
    case PC_REGO_OBJECT:
    case PC_REGO_SET:
        return pc_rego_bi_ret_int(bc, out, x->len);
    default:
        return pc_rego_bi_type_error(bc, 1, x, "array, object, set, string");
    }
}

/* Checks operand 1 is an array or set of numbers. */
static int
numbers_arg(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a)
{
    const struct pc_rego_value *x = a[0];
    if (x->kind != PC_REGO_ARRAY && x->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, 1, x, "set, array");
    }
    for (uint32_t i = 0; i < x->len; i++) {
        if (x->u.items[i]->kind != PC_REGO_NUMBER) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 must be one of {set, array} containing numbers");
        }
    }
    return 0;
}

static int
fold_numbers(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out, bool product)
{
    int rc = numbers_arg(bc, a);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *acc = pc_rego_int(bc->arena, product ? 1 : 0);
    for (uint32_t i = 0; acc != NULL && i < a[0]->len; i++) {
        rc = product ? pc_rego_num_mul(bc->arena, acc, a[0]->u.items[i], &acc)
                     : pc_rego_num_add(bc->arena, acc, a[0]->u.items[i], &acc);
        if (rc != 0) {
            return rc;
        }
    }
    return pc_rego_bi_ret(out, acc);
}

static int
bi_sum(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return fold_numbers(bc, a, out, false);
}

static int
bi_product(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    return fold_numbers(bc, a, out, true);
}

static int
extreme(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out, int sign)
{
    const struct pc_rego_value *x = a[0];
    if (x->kind != PC_REGO_ARRAY && x->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, 1, x, "set, array");
    }
    const struct pc_rego_value *best = NULL;
    for (uint32_t i = 0; i < x->len; i++) {
        if (best == NULL || pc_rego_compare(x->u.items[i], best) * sign > 0) {
            best = x->u.items[i];
        }
    }
    *out = best;
    return 0;
}

static int
bi_max(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return extreme(bc, a, out, 1);
}

static int
bi_min(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
       const struct pc_rego_value **out)
{
    return extreme(bc, a, out, -1);
}

static int
bi_sort(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    const struct pc_rego_value *x = a[0];
    if (x->kind == PC_REGO_SET) {
        return pc_rego_bi_ret(out, pc_rego_array(bc->arena, x->u.items, x->len));
    }
    if (x->kind != PC_REGO_ARRAY) {
        return pc_rego_bi_type_error(bc, 1, x, "array, set");
    }
    const struct pc_rego_value *s = pc_rego_array(bc->arena, x->u.items, x->len);
    if (s == NULL) {
        return nomem();
    }
    pc_rego_sort_values((const struct pc_rego_value **)s->u.items, s->len);
    return pc_rego_bi_ret(out, s);
}

/* Types. */

static int
is_kind(const struct pc_rego_value *const *a, const struct pc_rego_value **out,
        enum pc_rego_kind kind)
{
    return pc_rego_bi_ret_bool(out, a[0]->kind == kind);
}

static int
bi_is_number(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_NUMBER);
}

static int
bi_is_string(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_STRING);
}

static int
bi_is_boolean(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_BOOLEAN);
}

static int
bi_is_array(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_ARRAY);
}

static int
bi_is_set(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
          const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_SET);
}

static int
bi_is_object(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_OBJECT);
}

static int
bi_is_null(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    (void)bc;
    return is_kind(a, out, PC_REGO_NULL);
}

static int
bi_type_name(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    const char *n = pc_rego_type_name(a[0]);
    return pc_rego_bi_ret_str(bc, out, n, strlen(n));
}

static bool
is_nan_or_inf(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        s++;
        n--;
    }
    static const char *const words[] = { "nan", "inf", "infinity" };
    for (size_t w = 0; w < 3; w++) {
        if (strlen(words[w]) == n && strncasecmp(s, words[w], n) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Rewrites decimal text in Go's strconv.ParseFloat syntax (leading zeros, "5.", ".5", a '+'
 * sign) as JSON number text. Returns false when the text is not such a number.
 */
static bool
go_float_text(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    size_t k = 0;
    if (n + 8 > cap) {
        return false;
    }
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (s[i] == '-') {
            out[k++] = '-';
        }
        i++;
    }
    size_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    size_t int_len = i - int_start;
    size_t frac_start = 0;
    size_t frac_len = 0;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        frac_len = i - frac_start;
    }
    if (int_len == 0 && frac_len == 0) {
        return false;
    }
    size_t z = int_start;
    while (z + 1 < int_start + int_len && s[z] == '0') {
        z++;
    }
    if (int_len == 0) {
        out[k++] = '0';
    } else {
        memcpy(out + k, s + z, int_start + int_len - z);
        k += int_start + int_len - z;
    }
    if (frac_len > 0) {
        out[k++] = '.';
        memcpy(out + k, s + frac_start, frac_len);
        k += frac_len;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        memcpy(out + k, s + i, n - i);
        k += n - i;
        i = n;
    }
    out[k] = '\0';
    return i == n;
}

/* to_number: numbers as they are, strings parsed, booleans as 0 and 1, null as 0. */
static int
bi_to_number(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    const struct pc_rego_value *x = a[0];
    switch (x->kind) {
    case PC_REGO_NULL:
        return pc_rego_bi_ret_int(bc, out, 0);
    case PC_REGO_BOOLEAN:
        return pc_rego_bi_ret_int(bc, out, x->u.b ? 1 : 0);
    case PC_REGO_NUMBER:
        *out = x;
        return 0;
    case PC_REGO_STRING: {
        if (is_nan_or_inf(x->u.s, x->len)) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 must be a valid number string but got %.*s",
                                   (int)(x->len > 64 ? 64 : x->len), x->u.s);
        }
        char text[512];
        const struct pc_rego_value *v = NULL;
        if (go_float_text(x->u.s, x->len, text, sizeof(text))) {
            v = pc_rego_number_parse(bc->arena, text, strlen(text));
        }
        if (v == NULL) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "strconv.ParseFloat: parsing \"%.*s\": invalid syntax",
                                   (int)(x->len > 64 ? 64 : x->len), x->u.s);
        }
        *out = v;
        return 0;
    }
    default:
        return pc_rego_bi_type_error(bc, 1, x, "null, boolean, number, string");
    }
}

/* numbers.range and numbers.range_step. */

static int
range(struct pc_rego_bctx *bc, int64_t from, int64_t to, int64_t step,
      const struct pc_rego_value **out)
{
    uint64_t span = from <= to ? (uint64_t)to - (uint64_t)from : (uint64_t)from - (uint64_t)to;
    if (span / (uint64_t)step > 10000000) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "range too large");
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    for (uint64_t d = 0; d <= span; d += (uint64_t)step) {
        int64_t v = from <= to ? from + (int64_t)d : from - (int64_t)d;
        if (pc_rego_builder_push(&b, pc_rego_int(bc->arena, v)) != 0) {
            return nomem();
        }
        if (span - d < (uint64_t)step) {
            break;
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
bi_range(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    int64_t x;
    int64_t y;
    int rc = pc_rego_bi_arg_int(bc, a, 1, &x);
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 2, &y);
    }
    return rc != 0 ? rc : range(bc, x, y, 1, out);
}

static int
bi_range_step(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    int64_t x;
    int64_t y;
    int64_t step;
    int rc = pc_rego_bi_arg_int(bc, a, 1, &x);
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 2, &y);
    }
    if (rc == 0 && a[2]->kind == PC_REGO_NUMBER && a[2]->num == PC_REGO_NUM_BIG
        && a[2]->u.s[0] != '-') {
        step = INT64_MAX; /* larger than any span: the range is its first element */
    } else if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 3, &step);
    }
    if (rc == 0 && step <= 0) {
        rc = pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "step must be a positive integer");
    }
    return rc != 0 ? rc : range(bc, x, y, step, out);
}

/* Arrays. */

static int
bi_array_concat(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc == 0) {
        rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_ARRAY);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < a[k]->len; i++) {
            if (pc_rego_builder_push(&b, a[k]->u.items[i]) != 0) {
                return nomem();
            }
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
bi_array_slice(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    int64_t start;
    int64_t stop;
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 2, &start);
    }
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 3, &stop);
    }
    if (rc != 0) {
        return rc;
    }
    int64_t len = a[0]->len;
    start = start < 0 ? 0 : start;
    stop = stop > len ? len : stop;
    if (start >= stop) {
        return pc_rego_bi_ret(out, pc_rego_array(bc->arena, NULL, 0));
    }
    return pc_rego_bi_ret(out,
                          pc_rego_array(bc->arena, a[0]->u.items + start, (size_t)(stop - start)));
}

static int
bi_array_reverse(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    for (uint32_t i = a[0]->len; i > 0; i--) {
        if (pc_rego_builder_push(&b, a[0]->u.items[i - 1]) != 0) {
            return nomem();
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
flatten_into(struct pc_rego_builder *b, const struct pc_rego_value *arr)
{
    for (uint32_t i = 0; i < arr->len; i++) {
        const struct pc_rego_value *x = arr->u.items[i];
        if (x->kind != PC_REGO_ARRAY) {
            if (pc_rego_builder_push(b, x) != 0) {
                return PC_REGO_ENOMEM;
            }
            continue;
        }
        for (uint32_t j = 0; j < x->len; j++) {
            if (pc_rego_builder_push(b, x->u.items[j]) != 0) {
                return PC_REGO_ENOMEM;
            }
        }
    }
    return 0;
}

static int
bi_array_flatten(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    if (flatten_into(&b, a[0]) != 0) {
        return nomem();
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

/* Objects. */

static int
bi_object_get(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *key = a[1];
    if (key->kind != PC_REGO_ARRAY) {
        const struct pc_rego_value *v = pc_rego_object_get(a[0], key);
        *out = v != NULL ? v : a[2];
        return 0;
    }
    const struct pc_rego_value *v = a[0];
    for (uint32_t i = 0; v != NULL && i < key->len; i++) {
        v = pc_rego_value_get(v, key->u.items[i]);
    }
    *out = v != NULL ? v : a[2];
    return 0;
}

static int
bi_object_keys(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_SET);
    for (uint32_t i = 0; i < a[0]->len; i++) {
        if (pc_rego_builder_push(&b, a[0]->u.entries[i].key) != 0) {
            return nomem();
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

/* The key collection operand of object.remove and object.filter: array, set or object. */
static int
key_collection(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **keys)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *k = a[1];
    if (k->kind == PC_REGO_SET) {
        *keys = k;
        return 0;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_SET);
    if (k->kind == PC_REGO_ARRAY) {
        for (uint32_t i = 0; i < k->len; i++) {
            if (pc_rego_builder_push(&b, k->u.items[i]) != 0) {
                return nomem();
            }
        }
    } else if (k->kind == PC_REGO_OBJECT) {
        for (uint32_t i = 0; i < k->len; i++) {
            if (pc_rego_builder_push(&b, k->u.entries[i].key) != 0) {
                return nomem();
            }
        }
    } else {
        return pc_rego_bi_type_error(bc, 2, k, "object, set, array");
    }
    *keys = pc_rego_builder_finish(&b);
    return *keys != NULL ? 0 : nomem();
}

static int
select_keys(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out, bool keep)
{
    const struct pc_rego_value *keys = NULL;
    int rc = key_collection(bc, a, &keys);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_OBJECT);
    for (uint32_t i = 0; i < a[0]->len; i++) {
        const struct pc_rego_entry *e = &a[0]->u.entries[i];
        if (pc_rego_set_contains(keys, e->key) == keep
            && pc_rego_builder_put(&b, e->key, e->val) != 0) {
            return nomem();
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
bi_object_remove(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    return select_keys(bc, a, out, false);
}

static int
bi_object_filter(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    return select_keys(bc, a, out, true);
}

/* Deep merge: b's members win, objects on both sides merge. */
static const struct pc_rego_value *
merge(struct pc_rego_arena *arena, const struct pc_rego_value *x, const struct pc_rego_value *y)
{
    if (x->kind != PC_REGO_OBJECT || y->kind != PC_REGO_OBJECT) {
        return y;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, arena, PC_REGO_OBJECT);
    for (uint32_t i = 0; i < x->len; i++) {
        const struct pc_rego_entry *e = &x->u.entries[i];
        const struct pc_rego_value *other = pc_rego_object_get(y, e->key);
        const struct pc_rego_value *v = other != NULL ? merge(arena, e->val, other) : e->val;
        if (v == NULL || pc_rego_builder_put(&b, e->key, v) != 0) {
            return NULL;
        }
    }
    for (uint32_t i = 0; i < y->len; i++) {
        const struct pc_rego_entry *e = &y->u.entries[i];
        if (pc_rego_object_get(x, e->key) == NULL && pc_rego_builder_put(&b, e->key, e->val) != 0) {
            return NULL;
        }
    }
    return pc_rego_builder_finish(&b);
}

static int
bi_object_union(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc == 0) {
        rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_OBJECT);
    }
    return rc != 0 ? rc : pc_rego_bi_ret(out, merge(bc->arena, a[0], a[1]));
}

static int
bi_object_union_n(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                  const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_OBJECT);
    const struct pc_rego_value *acc = pc_rego_builder_finish(&b);
    for (uint32_t i = 0; acc != NULL && i < a[0]->len; i++) {
        const struct pc_rego_value *x = a[0]->u.items[i];
        if (x->kind != PC_REGO_OBJECT) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 must be array of objects but got array containing %s",
                                   pc_rego_type_name(x));
        }
        acc = merge(bc->arena, acc, x);
    }
    return pc_rego_bi_ret(out, acc);
}

static bool
is_subset(const struct pc_rego_value *super, const struct pc_rego_value *sub)
{
    if (super->kind == PC_REGO_OBJECT && sub->kind == PC_REGO_OBJECT) {
        for (uint32_t i = 0; i < sub->len; i++) {
            const struct pc_rego_value *v = pc_rego_object_get(super, sub->u.entries[i].key);
            if (v == NULL || !is_subset(v, sub->u.entries[i].val)) {
                return false;
            }
        }
        return true;
    }
    if (super->kind == PC_REGO_SET && sub->kind == PC_REGO_SET) {
        for (uint32_t i = 0; i < sub->len; i++) {
            if (!pc_rego_set_contains(super, sub->u.items[i])) {
                return false;
            }
        }
        return true;
    }
    if (super->kind == PC_REGO_ARRAY && sub->kind == PC_REGO_ARRAY) {
        /* A contiguous run of super equal to sub. */
        for (uint32_t s = 0; s + sub->len <= super->len; s++) {
            uint32_t i = 0;
            while (i < sub->len && pc_rego_equal(super->u.items[s + i], sub->u.items[i])) {
                i++;
            }
            if (i == sub->len) {
                return true;
            }
        }
        return false;
    }
    if (super->kind == PC_REGO_ARRAY && sub->kind == PC_REGO_SET) {
        for (uint32_t i = 0; i < sub->len; i++) {
            bool found = false;
            for (uint32_t j = 0; !found && j < super->len; j++) {
                found = pc_rego_equal(super->u.items[j], sub->u.items[i]);
            }
            if (!found) {
                return false;
            }
        }
        return true;
    }
    return pc_rego_equal(super, sub);
}

static int
bi_object_subset(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    const struct pc_rego_value *x = a[0];
    const struct pc_rego_value *y = a[1];
    bool ok = x->kind == PC_REGO_OBJECT || x->kind == PC_REGO_SET || x->kind == PC_REGO_ARRAY;
    if (!ok) {
        return pc_rego_bi_type_error(bc, 1, x, "object, set, array");
    }
    if (y->kind != PC_REGO_OBJECT && y->kind != PC_REGO_SET && y->kind != PC_REGO_ARRAY) {
        return pc_rego_bi_type_error(bc, 2, y, "object, set, array");
    }
    bool same_family = x->kind == y->kind || (x->kind == PC_REGO_ARRAY && y->kind == PC_REGO_SET);
    if (!same_family) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                               "both arguments must be objects, sets or arrays of the same kind");
    }
    return pc_rego_bi_ret_bool(out, is_subset(x, y));
}

/* walk(x): every [path, value] pair below x, x itself included. */
static int
walk_into(struct pc_rego_bctx *bc, struct pc_rego_builder *pairs, struct pc_rego_builder *path,
          const struct pc_rego_value *v, int depth)
{
    if (depth > 1000) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "value too deeply nested");
    }
    const struct pc_rego_value *p = pc_rego_array(bc->arena, path->buf, path->len);
    const struct pc_rego_value *pair[2] = { p, v };
    if (p == NULL || pc_rego_builder_push(pairs, pc_rego_array(bc->arena, pair, 2)) != 0) {
        return nomem();
    }
    uint32_t n = v->kind >= PC_REGO_ARRAY ? v->len : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct pc_rego_value *key;
        const struct pc_rego_value *child;
        if (v->kind == PC_REGO_OBJECT) {
            key = v->u.entries[i].key;
            child = v->u.entries[i].val;
        } else {
            child = v->u.items[i];
            key = v->kind == PC_REGO_SET ? child : pc_rego_int(bc->arena, i);
        }
        if (pc_rego_builder_push(path, key) != 0) {
            return nomem();
        }
        int rc = walk_into(bc, pairs, path, child, depth + 1);
        path->len--;
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
bi_walk(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    struct pc_rego_builder pairs;
    struct pc_rego_builder path;
    pc_rego_builder_init(&pairs, bc->arena, PC_REGO_ARRAY);
    pc_rego_builder_init(&path, bc->arena, PC_REGO_ARRAY);
    int rc = walk_into(bc, &pairs, &path, a[0], 0);
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&pairs));
}

/* print: writes its arguments to stderr, one line per call; always true. */
/*
 * print(args...): the compiler hands each argument as the set of its values (empty when
 * undefined); strings print bare, other values in Rego syntax, separated by spaces.
 */
static int
bi_print(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; a[i] != NULL; i++) {
        const struct pc_rego_value *v =
            a[i]->kind == PC_REGO_SET && a[i]->len > 0 ? a[i]->u.items[0] : NULL;
        if (i > 0) {
            pc_rego_strbuf_addc(&sb, ' ');
        }
        if (v == NULL) {
            pc_rego_strbuf_adds(&sb, "<undefined>");
        } else if (v->kind == PC_REGO_STRING) {
            pc_rego_strbuf_add(&sb, v->u.s, v->len);
        } else {
            pc_rego_write_term(&sb, v);
        }
    }
    if (pc_rego_strbuf_failed(&sb)) {
        return PC_REGO_ENOMEM;
    }
    pc_rego_bctx_print(bc, sb.data != NULL ? sb.data : "", sb.len);
    return pc_rego_bi_ret_bool(out, true);
}

static const struct pc_rego_builtin table[] = {
    { "plus", 2, 0, bi_plus },
    { "minus", 2, 0, bi_minus },
    { "mul", 2, 0, bi_mul },
    { "div", 2, 0, bi_div },
    { "rem", 2, 0, bi_rem },
    { "abs", 1, 0, bi_abs },
    { "round", 1, 0, bi_round },
    { "ceil", 1, 0, bi_ceil },
    { "floor", 1, 0, bi_floor },
    { "equal", 2, 0, bi_equal },
    { "neq", 2, 0, bi_neq },
    { "lt", 2, 0, bi_lt },
    { "lte", 2, 0, bi_lte },
    { "gt", 2, 0, bi_gt },
    { "gte", 2, 0, bi_gte },
    { "and", 2, 0, bi_and },
    { "or", 2, 0, bi_or },
    { "intersection", 1, 0, bi_intersection },
    { "union", 1, 0, bi_union },
    { "internal.member_2", 2, 0, bi_member2 },
    { "internal.member_3", 3, 0, bi_member3 },
    { "count", 1, 0, bi_count },
    { "sum", 1, 0, bi_sum },
    { "product", 1, 0, bi_product },
    { "max", 1, 0, bi_max },
    { "min", 1, 0, bi_min },
    { "sort", 1, 0, bi_sort },
    { "is_number", 1, 0, bi_is_number },
    { "is_string", 1, 0, bi_is_string },
    { "is_boolean", 1, 0, bi_is_boolean },
    { "is_array", 1, 0, bi_is_array },
    { "is_set", 1, 0, bi_is_set },
    { "is_object", 1, 0, bi_is_object },
    { "is_null", 1, 0, bi_is_null },
    { "type_name", 1, 0, bi_type_name },
    { "to_number", 1, 0, bi_to_number },
    { "numbers.range", 2, 0, bi_range },
    { "numbers.range_step", 3, 0, bi_range_step },
    { "array.concat", 2, 0, bi_array_concat },
    { "array.slice", 3, 0, bi_array_slice },
    { "array.reverse", 1, 0, bi_array_reverse },
    { "array.flatten", 1, 0, bi_array_flatten },
    { "object.get", 3, 0, bi_object_get },
    { "object.keys", 1, 0, bi_object_keys },
    { "object.remove", 2, 0, bi_object_remove },
    { "object.filter", 2, 0, bi_object_filter },
    { "object.union", 2, 0, bi_object_union },
    { "object.union_n", 1, 0, bi_object_union_n },
    { "object.subset", 2, 0, bi_object_subset },
    { "walk", 1, PC_REGO_BI_RELATION, bi_walk },
    { "print", 0, PC_REGO_BI_VARIADIC, bi_print },
};

const struct pc_rego_builtin *
pc_rego_bi_core_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
