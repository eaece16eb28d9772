/*
 * Unit builtins: units.parse ("10Ki", "500m", "2.5e3K" to numbers) and units.parse_bytes
 * ("1.1KiB" to whole bytes).
 *
 * The arithmetic is exact: the amount's decimal digits are multiplied by a binary unit as an
 * integer and a decimal unit moves the exponent, so "0.0005K" is exactly 0.5 and "1.1KB"
 * exactly 1100. units.parse keeps fractions; units.parse_bytes truncates toward zero.
 */
#include <stdio.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/num.h"
#include "rego/strbuf.h"

#define MAX_AMOUNT 128

struct unit {
    const char *name;
    int exp10; /* decimal units */
    int exp2;  /* binary units */
};

/* units.parse: m and M are case-sensitive (milli, mega); others are matched lowercased. */
static const struct unit number_units[] = {
    { "", 0, 0 },    { "m", -3, 0 },  { "M", 6, 0 },   { "k", 3, 0 },   { "ki", 0, 10 },
    { "mi", 0, 20 }, { "g", 9, 0 },   { "gi", 0, 30 }, { "t", 12, 0 },  { "ti", 0, 40 },
    { "p", 15, 0 },  { "pi", 0, 50 }, { "e", 18, 0 },  { "ei", 0, 60 },
};

/* units.parse_bytes: matched lowercased, with or without the trailing b. */
static const struct unit byte_units[] = {
    { "", 0, 0 },     { "k", 3, 0 },    { "kb", 3, 0 },   { "ki", 0, 10 },  { "kib", 0, 10 },
    { "m", 6, 0 },    { "mb", 6, 0 },   { "mi", 0, 20 },  { "mib", 0, 20 }, { "g", 9, 0 },
    { "gb", 9, 0 },   { "gi", 0, 30 },  { "gib", 0, 30 }, { "t", 12, 0 },   { "tb", 12, 0 },
    { "ti", 0, 40 },  { "tib", 0, 40 }, { "p", 15, 0 },   { "pb", 15, 0 },  { "pi", 0, 50 },
    { "pib", 0, 50 }, { "e", 18, 0 },   { "eb", 18, 0 },  { "ei", 0, 60 },  { "eib", 0, 60 },
};

/* An amount split into sign, significant digits and a power of ten. */
struct amount {
    bool neg;
    char digits[MAX_AMOUNT];
    size_t nd;
    long exp10;
};

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the number at the start of s: sign, digits and points, an exponent if one follows. */
static size_t
number_len(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    while (i < n && (is_digit(s[i]) || s[i] == '.')) {
        i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '-' || s[j] == '+')) {
            j++;
        }
        if (j < n && is_digit(s[j])) {
            while (j < n && is_digit(s[j])) {
                j++;
            }
            i = j;
        }
    }
    return i;
}

/* Reads the number s[0..n) into a; false when it is not one. */
static bool
read_amount(const char *s, size_t n, struct amount *a)
{
    size_t i = 0;
    bool point = false;
    bool any = false;
    a->neg = false;
    a->nd = 0;
    a->exp10 = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        a->neg = s[i++] == '-';
    }
    for (; i < n && (is_digit(s[i]) || s[i] == '.'); i++) {
        if (s[i] == '.') {
            if (point) {
                return false;
            }
            point = true;
            continue;
        }
        any = true;
        if (a->nd == 0 && s[i] == '0') {
            a->exp10 -= point ? 1 : 0;
            continue;
        }
        if (a->nd + 1 >= MAX_AMOUNT) {
            return false;
        }
        a->digits[a->nd++] = s[i];
        a->exp10 -= point ? 1 : 0;
    }
    if (!any) {
        return false;
    }
    if (i < n) {
        long e = 0;
        bool eneg = false;
        i++; /* e or E */
        if (s[i] == '-' || s[i] == '+') {
            eneg = s[i++] == '-';
        }
        for (; i < n; i++) {
            e = e < 100000 ? e * 10 + (s[i] - '0') : e;
        }
        a->exp10 += eneg ? -e : e;
    }
    return true;
}

static const struct unit *
find_unit(const struct unit *units, size_t n, const char *s, size_t len, bool exact_m)
{
    char lower[8];
    if (len >= sizeof(lower)) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    lower[len] = '\0';
    if (exact_m && len == 1 && (s[0] == 'm' || s[0] == 'M')) {
        return &units[s[0] == 'm' ? 1 : 2];
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(units[i].name, lower) == 0 && !(exact_m && i <= 2 && len > 0)) {
            return &units[i];
        }
    }
    return NULL;
}

/*
 * The exact value digits * 2^exp2 * 10^exp10, as a number (fractions kept) or, when truncate
 * is set, as the integer part.
 */
static const struct pc_rego_value *
scale(struct pc_rego_arena *arena, const struct amount *a, int exp2, bool truncate)
{
    const struct pc_rego_value *m =
        a->nd == 0 ? pc_rego_int(arena, 0) : pc_rego_number_parse(arena, a->digits, a->nd);
    const struct pc_rego_value *f = pc_rego_int(arena, (int64_t)1 << exp2);
    if (m == NULL || f == NULL || pc_rego_num_mul(arena, m, f, &m) != 0) {
        return NULL;
    }
    char text[MAX_AMOUNT + 48];
    size_t n = pc_rego_num_format(m, text, sizeof(text) - 24);
    long e = a->exp10;
    if (truncate && e < 0) {
        n = (size_t)-e >= n ? 0 : n - (size_t)-e;
        e = 0;
    }
    if (n == 0 || (n == 1 && text[0] == '0')) {
        return pc_rego_int(arena, 0);
    }
    if (e > 400 || e < -400) {
        return NULL;
    }
    char full[MAX_AMOUNT + 64];
    int len = snprintf(full, sizeof(full), "%s%.*se%ld", a->neg ? "-" : "", (int)n, text, e);
    return pc_rego_number_parse(arena, full, (size_t)len);
}

static int
parse_units(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out, bool bytes)
{
    const char *raw;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &raw, &n);
    if (rc != 0) {
        return rc;
    }
    char s[MAX_AMOUNT];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == ' ') {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "spaces not allowed in resource strings");
        }
        if (raw[i] != '"' && len + 1 < sizeof(s)) {
            s[len++] = raw[i];
        }
    }
    const char *what = bytes ? "byte amount" : "amount";
    size_t num = number_len(s, len);
    struct amount amt;
    if (num == 0 || (num == 1 && (s[0] == '-' || s[0] == '+'))) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "no %s provided", what);
    }
    if (!read_amount(s, num, &amt)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "could not parse %s to a number", what);
    }
    const struct unit *u =
        bytes ? find_unit(byte_units, sizeof(byte_units) / sizeof(byte_units[0]), s + num,
                          len - num, false)
              : find_unit(number_units, sizeof(number_units) / sizeof(number_units[0]), s + num,
                          len - num, true);
    if (u == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s unit not recognized",
                               bytes ? "byte" : "amount");
    }
    amt.exp10 += u->exp10;
    const struct pc_rego_value *v = scale(bc->arena, &amt, u->exp2, bytes);
    if (v == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "could not parse %s to a number", what);
    }
    return pc_rego_bi_ret(out, v);
}

static int
bi_units_parse(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    return parse_units(bc, a, out, false);
}

static int
bi_units_parse_bytes(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                     const struct pc_rego_value **out)
{
    return parse_units(bc, a, out, true);
}

static const struct pc_rego_builtin table[] = {
    { "units.parse", 1, 0, bi_units_parse },
    { "units.parse_bytes", 1, 0, bi_units_parse_bytes },
};

const struct pc_rego_builtin *
pc_rego_bi_units_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
