/*
 * String builtins, with Go's semantics as OPA has them: positions and lengths count runes
 * (substring, indexof), trimming takes a set of runes, split and replace follow Go's
 * strings package, and sprintf implements Go's fmt verbs over Rego values (numbers as int,
 * big.Int or float64, strings as string, anything else as its Rego text).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/json.h"
#include "rego/num.h"
#include "rego/strbuf.h"
#include "rego/utf8.h"

static int
two_strings(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, const char **s1,
            size_t *n1, const char **s2, size_t *n2)
{
    int rc = pc_rego_bi_arg_string(bc, a, 1, s1, n1);
    return rc == 0 ? pc_rego_bi_arg_string(bc, a, 2, s2, n2) : rc;
}

static int
ret_buf(struct pc_rego_bctx *bc, const struct pc_rego_value **out, struct pc_rego_strbuf *sb)
{
    if (pc_rego_strbuf_failed(sb)) {
        return PC_REGO_ENOMEM;
    }
    return pc_rego_bi_ret(out,
                          pc_rego_string_ref(bc->arena, sb->data != NULL ? sb->data : "", sb->len));
}

static const char *
memfind(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn == 0) {
        return h;
    }
    for (size_t i = 0; i + nn <= hn; i++) {
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) {
            return h + i;
        }
    }
    return NULL;
}

static int
bi_concat(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
          const struct pc_rego_value **out)
{
    const char *sep;
    size_t sepn;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &sep, &sepn);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *c = a[1];
    if (c->kind != PC_REGO_ARRAY && c->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, 2, c, "set, array");
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (uint32_t i = 0; i < c->len; i++) {
        const struct pc_rego_value *x = c->u.items[i];
        if (x->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(
                bc, PC_REGO_EEVAL_TYPE, "operand 2 must be %s of strings but got %s containing %s",
                pc_rego_type_name(c), pc_rego_type_name(c), pc_rego_type_name(x));
        }
        if (i > 0) {
            pc_rego_strbuf_add(&sb, sep, sepn);
        }
        pc_rego_strbuf_add(&sb, x->u.s, x->len);
    }
    return ret_buf(bc, out, &sb);
}

static int
bi_contains(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    const char *s, *t;
    size_t sn, tn;
    int rc = two_strings(bc, a, &s, &sn, &t, &tn);
    return rc != 0 ? rc : pc_rego_bi_ret_bool(out, memfind(s, sn, t, tn) != NULL);
}

static int
bi_startswith(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *s, *t;
    size_t sn, tn;
    int rc = two_strings(bc, a, &s, &sn, &t, &tn);
    return rc != 0 ? rc : pc_rego_bi_ret_bool(out, tn <= sn && memcmp(s, t, tn) == 0);
}

static int
bi_endswith(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    const char *s, *t;
    size_t sn, tn;
    int rc = two_strings(bc, a, &s, &sn, &t, &tn);
    return rc != 0 ? rc : pc_rego_bi_ret_bool(out, tn <= sn && memcmp(s + sn - tn, t, tn) == 0);
}

/* Rune offsets of needle in hay: the first (all == false) or every one (all == true). */
static int
rune_indexes(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out, bool all)
{
    const char *s, *t;
    size_t sn, tn;
    int rc = two_strings(bc, a, &s, &sn, &t, &tn);
    if (rc != 0) {
        return rc;
    }
    if (tn == 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "empty search character");
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    int64_t runes = 0;
    for (size_t i = 0; i < sn;) {
        if (tn <= sn - i && memcmp(s + i, t, tn) == 0) {
            if (!all) {
                return pc_rego_bi_ret_int(bc, out, runes);
            }
            if (pc_rego_builder_push(&b, pc_rego_int(bc->arena, runes)) != 0) {
                return PC_REGO_ENOMEM;
            }
        }
        uint32_t cp;
        i += pc_rego_utf8_decode(s + i, sn - i, &cp);
        runes++;
    }
    return all ? pc_rego_bi_ret(out, pc_rego_builder_finish(&b)) : pc_rego_bi_ret_int(bc, out, -1);
}

static int
bi_indexof(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    return rune_indexes(bc, a, out, false);
}

static int
bi_indexof_n(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    return rune_indexes(bc, a, out, true);
}

static int
map_case(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out, uint32_t (*map)(uint32_t))
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && w == 1) {
            pc_rego_strbuf_add_utf8(&sb, 0xFFFD);
        } else {
            pc_rego_strbuf_add_utf8(&sb, map(cp));
        }
        i += w;
    }
    return ret_buf(bc, out, &sb);
}

static int
bi_lower(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    return map_case(bc, a, out, pc_rego_utf8_lower);
}

static int
bi_upper(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    return map_case(bc, a, out, pc_rego_utf8_upper);
}

/* Go's strings.NewReplacer(old1, new1, ...).Replace(s): the first old matching wins. */
static int
replace_pairs(struct pc_rego_bctx *bc, const char *s, size_t n, const struct pc_rego_value **pairs,
              size_t np, const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    bool empty_old = false;
    for (size_t k = 0; k < np; k++) {
        empty_old = empty_old || pairs[2 * k]->len == 0;
    }
    for (size_t i = 0; i <= n;) {
        bool matched = false;
        for (size_t k = 0; k < np && !matched; k++) {
            const struct pc_rego_value *old = pairs[2 * k];
            const struct pc_rego_value *rep = pairs[2 * k + 1];
            if (old->len > 0 && old->len <= n - i && memcmp(s + i, old->u.s, old->len) == 0) {
                pc_rego_strbuf_add(&sb, rep->u.s, rep->len);
                i += old->len;
                matched = true;
            } else if (old->len == 0 && empty_old) {
                pc_rego_strbuf_add(&sb, rep->u.s, rep->len);
                break;
            }
        }
        if (matched) {
            continue;
        }
        if (i == n) {
            break;
        }
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, n - i, &cp);
        pc_rego_strbuf_add(&sb, s + i, w);
        i += w;
    }
    return ret_buf(bc, out, &sb);
}

static int
bi_replace(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_STRING);
    }
    if (rc == 0) {
        rc = pc_rego_bi_arg_kind(bc, a, 3, PC_REGO_STRING);
    }
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *pair[2] = { a[1], a[2] };
    return replace_pairs(bc, s, n, pair, 1, out);
}

static int
bi_replace_n(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    const char *s;
    size_t n;
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &s, &n);
    }
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *obj = a[0];
    const struct pc_rego_value **pairs =
        pc_rego_arena_alloc(bc->arena, (2 * obj->len + 1) * sizeof(*pairs));
    if (pairs == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < obj->len; i++) {
        const struct pc_rego_entry *e = &obj->u.entries[i];
        if (e->key->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 non-string key found in pattern object");
        }
        if (e->val->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand 1 non-string value found in pattern object");
        }
        pairs[2 * i] = e->key;
        pairs[2 * i + 1] = e->val;
    }
    return replace_pairs(bc, s, n, pairs, obj->len, out);
}

static int
bi_split(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    const char *s, *d;
    size_t sn, dn;
    int rc = two_strings(bc, a, &s, &sn, &d, &dn);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    size_t start = 0;
    for (size_t i = 0; i < sn;) {
        if (dn == 0) {
            uint32_t cp;
            size_t w = pc_rego_utf8_decode(s + i, sn - i, &cp);
            if (pc_rego_builder_push(&b, pc_rego_string(bc->arena, s + i, w)) != 0) {
                return PC_REGO_ENOMEM;
            }
            i += w;
            start = i;
            continue;
        }
        if (dn <= sn - i && memcmp(s + i, d, dn) == 0) {
            if (pc_rego_builder_push(&b, pc_rego_string(bc->arena, s + start, i - start)) != 0) {
                return PC_REGO_ENOMEM;
            }
            i += dn;
            start = i;
            continue;
        }
        i++;
    }
    if ((dn > 0 || sn == 0)
        && pc_rego_builder_push(&b, pc_rego_string(bc->arena, s + start, sn - start)) != 0) {
        return PC_REGO_ENOMEM;
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static int
bi_substring(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int64_t start;
    int64_t len;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 2, &start);
    }
    if (rc == 0) {
        rc = pc_rego_bi_arg_int(bc, a, 3, &len);
    }
    if (rc != 0) {
        return rc;
    }
    if (start < 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "negative offset");
    }
    size_t i = 0;
    for (int64_t r = 0; r < start && i < n; r++) {
        uint32_t cp;
        i += pc_rego_utf8_decode(s + i, n - i, &cp);
    }
    size_t j = i;
    for (int64_t r = 0; (len < 0 || r < len) && j < n; r++) {
        uint32_t cp;
        j += pc_rego_utf8_decode(s + j, n - j, &cp);
    }
    return pc_rego_bi_ret_str(bc, out, s + i, j - i);
}

static bool
in_cutset(uint32_t cp, const char *set, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += pc_rego_utf8_decode(set + i, n - i, &c);
        if (c == cp) {
            return true;
        }
    }
    return false;
}

/* Size of the last rune of s[0..n). */
static size_t
last_rune(const char *s, size_t n, uint32_t *cp)
{
    size_t k = n;
    while (k > 0 && n - k < 4 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) {
        k--;
    }
    if (k == 0 || pc_rego_utf8_decode(s + k - 1, n - k + 1, cp) != n - k + 1) {
        pc_rego_utf8_decode(s + n - 1, 1, cp);
        return 1;
    }
    return n - k + 1;
}

/* Trims runes for which keep() says no, from the left and/or the right. */
static int
trim_runes(struct pc_rego_bctx *bc, const struct pc_rego_value **out, const char *s, size_t n,
           bool left, bool right, const char *set, size_t setn, bool spaces)
{
    size_t i = 0;
    size_t j = n;
    while (left && i < j) {
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, j - i, &cp);
        if (!(spaces ? pc_rego_utf8_is_space(cp) : in_cutset(cp, set, setn))) {
            break;
        }
        i += w;
    }
    while (right && j > i) {
        uint32_t cp;
        size_t w = last_rune(s + i, j - i, &cp);
        if (!(spaces ? pc_rego_utf8_is_space(cp) : in_cutset(cp, set, setn))) {
            break;
        }
        j -= w;
    }
    return pc_rego_bi_ret_str(bc, out, s + i, j - i);
}

static int
trim_cutset(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out, bool left, bool right)
{
    const char *s, *c;
    size_t sn, cn;
    int rc = two_strings(bc, a, &s, &sn, &c, &cn);
    return rc != 0 ? rc : trim_runes(bc, out, s, sn, left, right, c, cn, false);
}

static int
bi_trim(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
        const struct pc_rego_value **out)
{
    return trim_cutset(bc, a, out, true, true);
}

static int
bi_trim_left(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    return trim_cutset(bc, a, out, true, false);
}

static int
bi_trim_right(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    return trim_cutset(bc, a, out, false, true);
}

static int
bi_trim_space(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    return rc != 0 ? rc : trim_runes(bc, out, s, n, true, true, NULL, 0, true);
}

static int
bi_trim_prefix(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    const char *s, *p;
    size_t sn, pn;
    int rc = two_strings(bc, a, &s, &sn, &p, &pn);
    if (rc != 0) {
        return rc;
    }
    bool has = pn <= sn && memcmp(s, p, pn) == 0;
    return pc_rego_bi_ret_str(bc, out, has ? s + pn : s, has ? sn - pn : sn);
}

static int
bi_trim_suffix(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    const char *s, *p;
    size_t sn, pn;
    int rc = two_strings(bc, a, &s, &sn, &p, &pn);
    if (rc != 0) {
        return rc;
    }
    bool has = pn <= sn && memcmp(s + sn - pn, p, pn) == 0;
    return pc_rego_bi_ret_str(bc, out, s, has ? sn - pn : sn);
}

static int
bi_reverse(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    char *buf = pc_rego_arena_alloc(bc->arena, n + 1);
    if (buf == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, n - i, &cp);
        char enc[4];
        size_t ew = pc_rego_utf8_encode(cp, enc);
        if (ew != w) {
            memcpy(enc, s + i, w);
        }
        memcpy(buf + n - i - w, enc, w);
        i += w;
    }
    return pc_rego_bi_ret(out, pc_rego_string_ref(bc->arena, buf, n));
}

static int
bi_count_substr(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    const char *s, *t;
    size_t sn, tn;
    int rc = two_strings(bc, a, &s, &sn, &t, &tn);
    if (rc != 0) {
        return rc;
    }
    if (tn == 0) {
        return pc_rego_bi_ret_int(bc, out, (int64_t)pc_rego_utf8_count(s, sn) + 1);
    }
    int64_t count = 0;
    for (size_t i = 0; i + tn <= sn;) {
        if (memcmp(s + i, t, tn) == 0) {
            count++;
            i += tn;
        } else {
            i++;
        }
    }
    return pc_rego_bi_ret_int(bc, out, count);
}

/* A string, or an array or set of strings, as a list (for any_prefix_match and friends). */
static int
string_list(struct pc_rego_bctx *bc, const struct pc_rego_value *v, int pos,
            const struct pc_rego_value *const **items, uint32_t *n,
            const struct pc_rego_value **one)
{
    if (v->kind == PC_REGO_STRING) {
        *one = v;
        *items = one;
        *n = 1;
        return 0;
    }
    if (v->kind != PC_REGO_ARRAY && v->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, pos, v, "string, set, array");
    }
    for (uint32_t i = 0; i < v->len; i++) {
        if (v->u.items[i]->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(
                bc, PC_REGO_EEVAL_TYPE, "operand %d must be %s of strings but got %s containing %s",
                pos, pc_rego_type_name(v), pc_rego_type_name(v), pc_rego_type_name(v->u.items[i]));
        }
    }
    *items = v->u.items;
    *n = v->len;
    return 0;
}

static int
any_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
          const struct pc_rego_value **out, bool suffix)
{
    const struct pc_rego_value *const *xs;
    const struct pc_rego_value *const *ys;
    const struct pc_rego_value *x1;
    const struct pc_rego_value *y1;
    uint32_t nx;
    uint32_t ny;
    int rc = string_list(bc, a[0], 1, &xs, &nx, &x1);
    if (rc == 0) {
        rc = string_list(bc, a[1], 2, &ys, &ny, &y1);
    }
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < nx; i++) {
        for (uint32_t j = 0; j < ny; j++) {
            const struct pc_rego_value *s = xs[i];
            const struct pc_rego_value *p = ys[j];
            const char *at = suffix ? s->u.s + s->len - p->len : s->u.s;
            if (p->len <= s->len && memcmp(at, p->u.s, p->len) == 0) {
                return pc_rego_bi_ret_bool(out, true);
            }
        }
    }
    return pc_rego_bi_ret_bool(out, false);
}

static int
bi_any_prefix_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                    const struct pc_rego_value **out)
{
    return any_match(bc, a, out, false);
}

static int
bi_any_suffix_match(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                    const struct pc_rego_value **out)
{
    return any_match(bc, a, out, true);
}

/* Digits of the absolute value of an integer in base 2, 8 or 16 (Go's %b, %o, %x). */
static void
add_digits(struct pc_rego_strbuf *sb, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[72];
    size_t k = 0;
    do {
        tmp[k++] = digits[v % base];
        v /= base;
    } while (v > 0);
    while (k > 0) {
        pc_rego_strbuf_addc(sb, tmp[--k]);
    }
}

static int
bi_format_int(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_number(bc, a, 1);
    if (rc == 0) {
        rc = pc_rego_bi_arg_number(bc, a, 2);
    }
    if (rc != 0) {
        return rc;
    }
    int64_t base = 0;
    if (a[1]->num == PC_REGO_NUM_INT) {
        base = a[1]->u.i;
    }
    if (base != 2 && base != 8 && base != 10 && base != 16) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE, "operand 2 must be one of {2, 8, 10, 16}");
    }
    const struct pc_rego_value *x = a[0];
    if (x->num == PC_REGO_NUM_FLOAT) {
        long double t = *x->u.f < 0 ? -__builtin_floorl(-*x->u.f) : __builtin_floorl(*x->u.f);
        x = pc_rego_num_from_ld(bc->arena, t);
        if (x == NULL) {
            return PC_REGO_ENOMEM;
        }
    }
    if (x->num == PC_REGO_NUM_BIG) {
        if (base != 10) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "number too large");
        }
        return pc_rego_bi_ret_str(bc, out, x->u.s, x->len);
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    if (x->u.i < 0) {
        pc_rego_strbuf_addc(&sb, '-');
    }
    uint64_t mag = x->u.i < 0 ? (uint64_t)0 - (uint64_t)x->u.i : (uint64_t)x->u.i;
    add_digits(&sb, mag, (unsigned)base, false);
    return ret_buf(bc, out, &sb);
}

/* sprintf: Go's fmt over Rego values. */

enum farg_kind {
    FA_INT,
    FA_BIG,
    FA_FLOAT,
    FA_STRING,
};

struct farg {
    enum farg_kind kind;
    int64_t i;
    double f;
    const char *s; /* FA_BIG digits, FA_STRING bytes */
    size_t n;
};

struct fspec {
    bool minus;
    bool plus;
    bool sharp;
    bool zero;
    bool space;
    int width; /* -1 when absent */
    int prec;  /* -1 when absent */
    char verb;
};

static void
pad(struct pc_rego_strbuf *sb, const struct fspec *f, const char *s, size_t n)
{
    size_t runes = pc_rego_utf8_count(s, n);
    size_t fill = f->width > 0 && (size_t)f->width > runes ? (size_t)f->width - runes : 0;
    if (!f->minus) {
        bool zeros = f->zero && n > 0 && (s[0] == '-' || s[0] == '+');
        if (zeros) {
            pc_rego_strbuf_addc(sb, s[0]);
            s++;
            n--;
        }
        for (size_t i = 0; i < fill; i++) {
            pc_rego_strbuf_addc(sb, f->zero ? '0' : ' ');
        }
    }
    pc_rego_strbuf_add(sb, s, n);
    for (size_t i = 0; f->minus && i < fill; i++) {
        pc_rego_strbuf_addc(sb, ' ');
    }
}

/* Go's %v / %g for a float64: shortest digits, exponent form outside [1e-4, 1e21). */
static void
format_go_float(struct pc_rego_strbuf *sb, double x, char verb, int prec)
{
    char buf[64];
    if (verb == 'e' || verb == 'E' || verb == 'f' || verb == 'F') {
        snprintf(buf, sizeof(buf),
                 verb == 'e'   ? "%.*e"
                 : verb == 'E' ? "%.*E"
                               : "%.*f",
                 prec < 0 ? 6 : prec, x);
        pc_rego_strbuf_adds(sb, buf);
        return;
    }
    if (prec >= 0) {
        snprintf(buf, sizeof(buf), verb == 'G' ? "%.*G" : "%.*g", prec == 0 ? 1 : prec, x);
        pc_rego_strbuf_adds(sb, buf);
        return;
    }
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    char *e = strchr(buf, 'e');
    int exp = e != NULL ? atoi(e + 1) : 0;
    if (exp < -4 || exp >= 6) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
        e = strchr(buf, 'e');
        /* Go prints at least two exponent digits, as C does, so only the case differs. */
        if (e != NULL && verb == 'G') {
            *e = 'E';
        }
        pc_rego_strbuf_adds(sb, buf);
        return;
    }
    snprintf(buf, sizeof(buf), "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, x);
    pc_rego_strbuf_adds(sb, buf);
}

/* Go's strconv.Quote. */
static void
go_quote(struct pc_rego_strbuf *sb, const char *s, size_t n)
{
    pc_rego_strbuf_addc(sb, '"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && w == 1) {
            pc_rego_strbuf_addf(sb, "\\x%02x", (unsigned char)s[i]);
        } else if (cp == '"' || cp == '\\') {
            pc_rego_strbuf_addc(sb, '\\');
            pc_rego_strbuf_addc(sb, (char)cp);
        } else if (cp == '\n') {
            pc_rego_strbuf_adds(sb, "\\n");
        } else if (cp == '\t') {
            pc_rego_strbuf_adds(sb, "\\t");
        } else if (cp == '\r') {
            pc_rego_strbuf_adds(sb, "\\r");
        } else if (cp < 0x20 || cp == 0x7F) {
            pc_rego_strbuf_addf(sb, "\\x%02x", cp);
        } else {
            pc_rego_strbuf_add(sb, s + i, w);
        }
        i += w;
    }
    pc_rego_strbuf_addc(sb, '"');
}

static const char *
go_type(const struct farg *a)
{
    static const char *const names[] = { "int", "*big.Int", "float64", "string" };
    return names[a->kind];
}

/* Go's %!v(type=value) for a verb that does not fit the operand. */
static void
bad_verb(struct pc_rego_strbuf *sb, char verb, const struct farg *a)
{
    pc_rego_strbuf_addf(sb, "%%!%c(%s=", verb, go_type(a));
    switch (a->kind) {
    case FA_INT:
        pc_rego_strbuf_addf(sb, "%" PRId64, a->i);
        break;
    case FA_BIG:
    case FA_STRING:
        pc_rego_strbuf_add(sb, a->s, a->n);
        break;
    default:
        format_go_float(sb, a->f, 'g', -1);
        break;
    }
    pc_rego_strbuf_addc(sb, ')');
}

static void
format_int_verb(struct pc_rego_strbuf *sb, const struct fspec *f, const struct farg *a)
{
    struct pc_rego_strbuf tmp;
    pc_rego_strbuf_init(&tmp, sb->arena);
    if (a->kind == FA_BIG) {
        pc_rego_strbuf_add(&tmp, a->s, a->n);
    } else {
        uint64_t mag = a->i < 0 ? (uint64_t)0 - (uint64_t)a->i : (uint64_t)a->i;
        if (a->i < 0) {
            pc_rego_strbuf_addc(&tmp, '-');
        } else if (f->plus) {
            pc_rego_strbuf_addc(&tmp, '+');
        }
        unsigned base = f->verb == 'b'                       ? 2
                        : f->verb == 'o'                     ? 8
                        : (f->verb == 'x' || f->verb == 'X') ? 16
                                                             : 10;
        if (f->sharp && base == 16) {
            pc_rego_strbuf_adds(&tmp, f->verb == 'X' ? "0X" : "0x");
        }
        add_digits(&tmp, mag, base, f->verb == 'X');
    }
    pad(sb, f, tmp.data != NULL ? tmp.data : "", tmp.len);
}

static void
format_string_verb(struct pc_rego_strbuf *sb, const struct fspec *f, const struct farg *a)
{
    size_t n = a->n;
    if (f->prec >= 0 && (f->verb == 's' || f->verb == 'v')) {
        size_t i = 0;
        for (int r = 0; r < f->prec && i < n; r++) {
            uint32_t cp;
            i += pc_rego_utf8_decode(a->s + i, n - i, &cp);
        }
        n = i;
    }
    struct pc_rego_strbuf tmp;
    pc_rego_strbuf_init(&tmp, sb->arena);
    if (f->verb == 'q') {
        go_quote(&tmp, a->s, n);
    } else if (f->verb == 'x' || f->verb == 'X') {
        for (size_t i = 0; i < n; i++) {
            pc_rego_strbuf_addf(&tmp, f->verb == 'x' ? "%02x" : "%02X", (unsigned char)a->s[i]);
        }
    } else {
        pc_rego_strbuf_add(&tmp, a->s, n);
    }
    pad(sb, f, tmp.data != NULL ? tmp.data : "", tmp.len);
}

static void
format_one(struct pc_rego_strbuf *sb, const struct fspec *f, const struct farg *a)
{
    char v = f->verb;
    bool int_verb = v == 'd' || v == 'b' || v == 'o' || v == 'x' || v == 'X';
    bool float_verb = v == 'e' || v == 'E' || v == 'f' || v == 'F' || v == 'g' || v == 'G';
    if (a->kind == FA_STRING) {
        if (v == 's' || v == 'v' || v == 'q' || v == 'x' || v == 'X') {
            format_string_verb(sb, f, a);
        } else {
            bad_verb(sb, v, a);
        }
        return;
    }
    if (a->kind == FA_INT || a->kind == FA_BIG) {
        if (int_verb || v == 'v' || (v == 's' && a->kind == FA_BIG)) {
            struct fspec g = *f;
            g.verb = v == 'v' || v == 's' ? 'd' : v;
            format_int_verb(sb, &g, a);
        } else if (v == 'c' && a->kind == FA_INT) {
            pc_rego_strbuf_add_utf8(sb, (unsigned)a->i);
        } else {
            bad_verb(sb, v, a);
        }
        return;
    }
    if (float_verb || v == 'v') {
        struct pc_rego_strbuf tmp;
        pc_rego_strbuf_init(&tmp, sb->arena);
        if (f->plus && a->f >= 0) {
            pc_rego_strbuf_addc(&tmp, '+');
        }
        format_go_float(&tmp, a->f, v, f->prec);
        pad(sb, f, tmp.data != NULL ? tmp.data : "", tmp.len);
    } else {
        bad_verb(sb, v, a);
    }
}

/* Parses flags, width and precision of one verb starting after '%'; returns the verb's end. */
static size_t
parse_spec(const char *fmt, size_t n, size_t i, struct fspec *f)
{
    memset(f, 0, sizeof(*f));
    f->width = -1;
    f->prec = -1;
    for (; i < n; i++) {
        char c = fmt[i];
        if (c == '-') {
            f->minus = true;
        } else if (c == '+') {
            f->plus = true;
        } else if (c == '#') {
            f->sharp = true;
        } else if (c == '0') {
            f->zero = true;
        } else if (c == ' ') {
            f->space = true;
        } else {
            break;
        }
    }
    while (i < n && fmt[i] >= '0' && fmt[i] <= '9') {
        f->width = (f->width < 0 ? 0 : f->width) * 10 + (fmt[i++] - '0');
        f->width = f->width > 10000 ? 10000 : f->width;
    }
    if (i < n && fmt[i] == '.') {
        i++;
        f->prec = 0;
        while (i < n && fmt[i] >= '0' && fmt[i] <= '9') {
            f->prec = f->prec * 10 + (fmt[i++] - '0');
            f->prec = f->prec > 1000 ? 1000 : f->prec;
        }
    }
    f->verb = i < n ? fmt[i] : '\0';
    return i < n ? i + 1 : i;
}

static int
to_farg(struct pc_rego_arena *arena, const struct pc_rego_value *v, struct farg *a)
{
    memset(a, 0, sizeof(*a));
    if (v->kind == PC_REGO_STRING) {
        a->kind = FA_STRING;
        a->s = v->u.s;
        a->n = v->len;
    } else if (v->kind == PC_REGO_NUMBER && v->num == PC_REGO_NUM_INT) {
        a->kind = FA_INT;
        a->i = v->u.i;
    } else if (v->kind == PC_REGO_NUMBER && v->num == PC_REGO_NUM_BIG) {
        a->kind = FA_BIG;
        a->s = v->u.s;
        a->n = v->len;
    } else if (v->kind == PC_REGO_NUMBER) {
        a->kind = FA_FLOAT;
        a->f = (double)*v->u.f;
    } else {
        struct pc_rego_strbuf sb;
        pc_rego_strbuf_init(&sb, arena);
        pc_rego_write_term(&sb, v);
        if (pc_rego_strbuf_failed(&sb)) {
            return PC_REGO_ENOMEM;
        }
        a->kind = FA_STRING;
        a->s = sb.data != NULL ? sb.data : "";
        a->n = sb.len;
    }
    return 0;
}

static int
bi_sprintf(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    const char *fmt;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &fmt, &n);
    if (rc == 0) {
        rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_ARRAY);
    }
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *args = a[1];
    uint32_t next = 0;
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; i < n;) {
        if (fmt[i] != '%') {
            pc_rego_strbuf_addc(&sb, fmt[i++]);
            continue;
        }
        struct fspec f;
        i = parse_spec(fmt, n, i + 1, &f);
        if (f.verb == '%') {
            pc_rego_strbuf_addc(&sb, '%');
            continue;
        }
        if (f.verb == '\0') {
            pc_rego_strbuf_adds(&sb, "%!(NOVERB)");
            break;
        }
        if (next >= args->len) {
            pc_rego_strbuf_addf(&sb, "%%!%c(MISSING)", f.verb);
            continue;
        }
        struct farg fa;
        if (to_farg(bc->arena, args->u.items[next++], &fa) != 0) {
            return PC_REGO_ENOMEM;
        }
        format_one(&sb, &f, &fa);
    }
    if (next < args->len) {
        pc_rego_strbuf_adds(&sb, "%!(EXTRA ");
        for (uint32_t k = next; k < args->len; k++) {
            struct farg fa;
            if (to_farg(bc->arena, args->u.items[k], &fa) != 0) {
                return PC_REGO_ENOMEM;
            }
            struct fspec f = { false, false, false, false, false, -1, -1, 'v' };
            pc_rego_strbuf_addf(&sb, "%s%s=", k > next ? ", " : "", go_type(&fa));
            format_one(&sb, &f, &fa);
        }
        pc_rego_strbuf_addc(&sb, ')');
    }
    return ret_buf(bc, out, &sb);
}

/*
 * The parts of a template string: strings, and for each embedded expression the set of its
 * values (empty when undefined).
 */
static int
bi_template_string(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_ARRAY);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (uint32_t i = 0; i < a[0]->len; i++) {
        const struct pc_rego_value *p = a[0]->u.items[i];
        if (p->kind == PC_REGO_STRING) {
            pc_rego_strbuf_add(&sb, p->u.s, p->len);
            continue;
        }
        if (p->kind != PC_REGO_SET || p->len == 0) {
            pc_rego_strbuf_adds(&sb, "<undefined>");
            continue;
        }
        if (p->len > 1) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_CONFLICT,
                                   "template-strings must not produce multiple outputs");
        }
        const struct pc_rego_value *v = p->u.items[0];
        if (v->kind == PC_REGO_STRING) {
            pc_rego_strbuf_add(&sb, v->u.s, v->len);
        } else {
            pc_rego_write_term(&sb, v);
        }
    }
    return ret_buf(bc, out, &sb);
}

static const struct pc_rego_builtin table[] = {
    { "concat", 2, 0, bi_concat },
    { "contains", 2, 0, bi_contains },
    { "startswith", 2, 0, bi_startswith },
    { "endswith", 2, 0, bi_endswith },
    { "format_int", 2, 0, bi_format_int },
    { "indexof", 2, 0, bi_indexof },
    { "indexof_n", 2, 0, bi_indexof_n },
    { "lower", 1, 0, bi_lower },
    { "upper", 1, 0, bi_upper },
    { "replace", 3, 0, bi_replace },
    { "strings.replace_n", 2, 0, bi_replace_n },
    { "split", 2, 0, bi_split },
    { "sprintf", 2, 0, bi_sprintf },
    { "substring", 3, 0, bi_substring },
    { "trim", 2, 0, bi_trim },
    { "trim_left", 2, 0, bi_trim_left },
    { "trim_right", 2, 0, bi_trim_right },
    { "trim_prefix", 2, 0, bi_trim_prefix },
    { "trim_suffix", 2, 0, bi_trim_suffix },
    { "trim_space", 1, 0, bi_trim_space },
    { "strings.reverse", 1, 0, bi_reverse },
    { "strings.count", 2, 0, bi_count_substr },
    { "strings.any_prefix_match", 2, 0, bi_any_prefix_match },
    { "strings.any_suffix_match", 2, 0, bi_any_suffix_match },
    { "internal.template_string", 1, 0, bi_template_string },
};

const struct pc_rego_builtin *
pc_rego_bi_strings_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
