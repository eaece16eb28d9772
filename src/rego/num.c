/*
 * Number semantics of the Rego engine (see num.h).
 *
 * Integers past int64 are kept as decimal digit strings: they are rare in policies, and digits
 * make comparison, printing and JSON round trips exact and trivial. Arithmetic on them goes
 * through OpenSSL's BIGNUM, which the engine links anyway for JWT verification.
 */
#include "rego/num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "rego/error.h"

/* Integers with more digits than this are kept as floats: OPA caps exponents similarly. */
#define MAX_BIG_DIGITS 4096

static const struct pc_rego_value *
make_int(struct pc_rego_arena *arena, int64_t i)
{
    return pc_rego_int(arena, i);
}

/* Builds a BIG from normalized digits (optional '-', no leading zeros), or an INT if it fits. */
static const struct pc_rego_value *
make_big(struct pc_rego_arena *arena, const char *digits, size_t len)
{
    bool neg = len > 0 && digits[0] == '-';
    size_t nd = len - (neg ? 1 : 0);
    if (nd <= 18) {
        int64_t x = 0;
        for (size_t i = neg ? 1 : 0; i < len; i++) {
            x = x * 10 + (digits[i] - '0');
        }
        return make_int(arena, neg ? -x : x);
    }
    if (nd == 19) {
        char tmp[24];
        memcpy(tmp, digits, len);
        tmp[len] = '\0';
        char *end;
        errno = 0;
        long long x = strtoll(tmp, &end, 10);
        if (errno == 0) {
            return make_int(arena, x);
        }
    }
    struct pc_rego_value *v = pc_rego_arena_alloc(arena, sizeof(*v));
    char *s = pc_rego_arena_strndup(arena, digits, len);
    if (v == NULL || s == NULL) {
        return NULL;
    }
    v->kind = PC_REGO_NUMBER;
    v->num = PC_REGO_NUM_BIG;
    v->flags = 0;
    v->len = (uint32_t)len;
    v->u.s = s;
    return v;
}

static const struct pc_rego_value *
make_float(struct pc_rego_arena *arena, long double x)
{
    struct pc_rego_value *v = pc_rego_arena_alloc(arena, sizeof(*v));
    long double *f = pc_rego_arena_alloc(arena, sizeof(*f));
    if (v == NULL || f == NULL) {
        return NULL;
    }
    *f = x;
    v->kind = PC_REGO_NUMBER;
    v->num = PC_REGO_NUM_FLOAT;
    v->flags = 0;
    v->len = 0;
    v->u.f = f;
    return v;
}

const struct pc_rego_value *
pc_rego_num_from_ld(struct pc_rego_arena *arena, long double x)
{
    if (!isfinite(x)) {
        return NULL;
    }
    if (x != floorl(x)) {
        return make_float(arena, x);
    }
    if (x >= -9223372036854775808.0L && x < 9223372036854775808.0L) {
        return make_int(arena, (int64_t)x);
    }
    char buf[5000];
    int n = snprintf(buf, sizeof(buf), "%.0Lf", x);
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        return make_float(arena, x);
    }
    return make_big(arena, buf, (size_t)n);
}

const struct pc_rego_value *
pc_rego_int(struct pc_rego_arena *arena, int64_t i)
{
    struct pc_rego_value *v = pc_rego_arena_alloc(arena, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    v->kind = PC_REGO_NUMBER;
    v->num = PC_REGO_NUM_INT;
    v->flags = 0;
    v->len = 0;
    v->u.i = i;
    return v;
}

const struct pc_rego_value *
pc_rego_double(struct pc_rego_arena *arena, double d)
{
    return pc_rego_num_from_ld(arena, (long double)d);
}

/* Splits JSON number text into sign, significant digits and a decimal exponent. */
struct numtext {
    bool neg;
    const char *mant; /* digits with the '.' still inside; skipped while scanning */
    size_t mant_len;
    long exp; /* value = digits * 10^exp */
};

static bool
scan_number(const char *t, size_t len, struct numtext *nt)
{
    size_t i = 0;
    nt->neg = false;
    if (i < len && t[i] == '-') {
        nt->neg = true;
        i++;
    }
    if (i >= len || !isdigit((unsigned char)t[i])) {
        return false;
    }
    if (t[i] == '0' && i + 1 < len && isdigit((unsigned char)t[i + 1])) {
        return false;
    }
    nt->mant = t + i;
    long frac = 0;
    while (i < len && isdigit((unsigned char)t[i])) {
        i++;
    }
    if (i < len && t[i] == '.') {
        i++;
        if (i >= len || !isdigit((unsigned char)t[i])) {
            return false;
        }
        while (i < len && isdigit((unsigned char)t[i])) {
            i++;
            frac++;
        }
    }
    nt->mant_len = (size_t)(t + i - nt->mant);
    long e = 0;
    if (i < len && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (t[i] == '+' || t[i] == '-')) {
            eneg = t[i] == '-';
            i++;
        }
        if (i >= len || !isdigit((unsigned char)t[i])) {
            return false;
        }
        while (i < len && isdigit((unsigned char)t[i])) {
            if (e < 1000000) {
                e = e * 10 + (t[i] - '0');
            }
            i++;
        }
        e = eneg ? -e : e;
    }
    nt->exp = e - frac;
    return i == len && e > -100000 && e < 100000;
}

static const struct pc_rego_value *
parse_as_float(struct pc_rego_arena *arena, const char *text, size_t len)
{
    char tmp[512];
    char *buf = len < sizeof(tmp) ? tmp : pc_rego_malloc(len + 1);
    if (buf == NULL) {
        return NULL;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    long double x = strtold(buf, NULL);
    if (buf != tmp) {
        pc_rego_free(buf);
    }
    return pc_rego_num_from_ld(arena, x);
}

const struct pc_rego_value *
pc_rego_number_parse(struct pc_rego_arena *arena, const char *text, size_t len)
{
    struct numtext nt;
    if (!scan_number(text, len, &nt)) {
        return NULL;
    }

    /* Collect significant digits: drop the point, leading zeros and trailing zeros. */
    char small[64];
    char *digits = nt.mant_len + 2 <= sizeof(small) ? small : pc_rego_malloc(nt.mant_len + 2);
    if (digits == NULL) {
        return NULL;
    }
    size_t nd = 0;
    for (size_t i = 0; i < nt.mant_len; i++) {
        char c = nt.mant[i];
        if (c != '.' && !(nd == 0 && c == '0')) {
            digits[nd++] = c;
        }
    }
    long exp = nt.exp;
    while (nd > 0 && digits[nd - 1] == '0') {
        nd--;
        exp++;
    }

    const struct pc_rego_value *v;
    if (nd == 0) {
        v = make_int(arena, 0);
    } else if (exp < 0 || (long)nd + exp > MAX_BIG_DIGITS) {
        v = parse_as_float(arena, text, len);
    } else {
        /* Integers such as 1733230800000000000 (trailing zeros) must not touch the heap. */
        size_t total = nd + (size_t)exp + (nt.neg ? 1 : 0);
        char tmp[64];
        char *s = total < sizeof(tmp) ? tmp : pc_rego_arena_alloc(arena, total + 1);
        if (s == NULL) {
            v = NULL;
        } else {
            size_t k = 0;
            if (nt.neg) {
                s[k++] = '-';
            }
            memcpy(s + k, digits, nd);
            memset(s + k + nd, '0', (size_t)exp);
            v = make_big(arena, s, total);
        }
    }
    if (digits != small) {
        pc_rego_free(digits);
    }
    return v;
}

long double
pc_rego_num_ld(const struct pc_rego_value *v)
{
    switch (v->num) {
    case PC_REGO_NUM_INT:
        return (long double)v->u.i;
    case PC_REGO_NUM_FLOAT:
        return *v->u.f;
    default: {
        char tmp[MAX_BIG_DIGITS + 8];
        size_t n = v->len < sizeof(tmp) - 1 ? v->len : sizeof(tmp) - 1;
        memcpy(tmp, v->u.s, n);
        tmp[n] = '\0';
        return strtold(tmp, NULL);
    }
    }
}

static int
big_sign(const struct pc_rego_value *v)
{
    return v->u.s[0] == '-' ? -1 : 1;
}

static int
cmp_big_big(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    int sa = big_sign(a);
    int sb = big_sign(b);
    if (sa != sb) {
        return sa < sb ? -1 : 1;
    }
    int mag;
    if (a->len != b->len) {
        mag = a->len < b->len ? -1 : 1;
    } else {
        int c = memcmp(a->u.s, b->u.s, a->len);
        mag = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    return sa < 0 ? -mag : mag;
}

int
pc_rego_num_cmp(const struct pc_rego_value *a, const struct pc_rego_value *b)
{
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT) {
        return a->u.i < b->u.i ? -1 : (a->u.i > b->u.i ? 1 : 0);
    }
    if (a->num == PC_REGO_NUM_BIG && b->num == PC_REGO_NUM_BIG) {
        return cmp_big_big(a, b);
    }
    /* A BIG lies outside int64 and a FLOAT, being non-integral, inside it: the sign decides. */
    if (a->num == PC_REGO_NUM_BIG) {
        return big_sign(a);
    }
    if (b->num == PC_REGO_NUM_BIG) {
        return -big_sign(b);
    }
    long double x = pc_rego_num_ld(a);
    long double y = pc_rego_num_ld(b);
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* BIGNUM helpers: the integer operands of any size, and a result back to a value. */
static BIGNUM *
to_bn(const struct pc_rego_value *v)
{
    BIGNUM *bn = NULL;
    char tmp[32];
    if (v->num == PC_REGO_NUM_INT) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.i);
        if (BN_dec2bn(&bn, tmp) == 0) {
            return NULL;
        }
        return bn;
    }
    char *s = pc_rego_malloc(v->len + 1);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s, v->u.s, v->len);
    s[v->len] = '\0';
    if (BN_dec2bn(&bn, s) == 0) {
        bn = NULL;
    }
    pc_rego_free(s);
    return bn;
}

static const struct pc_rego_value *
from_bn(struct pc_rego_arena *arena, const BIGNUM *bn)
{
    char *s = BN_bn2dec(bn);
    if (s == NULL) {
        return NULL;
    }
    const struct pc_rego_value *v = make_big(arena, s, strlen(s));
    OPENSSL_free(s);
    return v;
}

enum bigop {
    BIG_ADD,
    BIG_SUB,
    BIG_MUL,
    BIG_REM,
};

static int
big_arith(struct pc_rego_arena *arena, enum bigop op, const struct pc_rego_value *a,
          const struct pc_rego_value *b, const struct pc_rego_value **out)
{
    int rc = PC_REGO_ENOMEM;
    BIGNUM *x = to_bn(a);
    BIGNUM *y = to_bn(b);
    BIGNUM *r = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    if (x == NULL || y == NULL || r == NULL || ctx == NULL) {
        goto out;
    }
    int ok;
    switch (op) {
    case BIG_ADD:
        ok = BN_add(r, x, y);
        break;
    case BIG_SUB:
        ok = BN_sub(r, x, y);
        break;
    case BIG_MUL:
        ok = BN_mul(r, x, y, ctx);
        break;
    default:
        ok = BN_div(NULL, r, x, y, ctx);
        break;
    }
    if (!ok) {
        goto out;
    }
    *out = from_bn(arena, r);
    rc = *out != NULL ? 0 : PC_REGO_ENOMEM;
out:
    BN_free(x);
    BN_free(y);
    BN_free(r);
    BN_CTX_free(ctx);
    return rc;
}

static int
float_result(struct pc_rego_arena *arena, long double x, const struct pc_rego_value **out)
{
    *out = pc_rego_num_from_ld(arena, x);
    return *out != NULL ? 0 : PC_REGO_ENOMEM;
}

int
pc_rego_num_add(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                const struct pc_rego_value *b, const struct pc_rego_value **out)
{
    int64_t r;
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT
        && !__builtin_add_overflow(a->u.i, b->u.i, &r)) {
        *out = make_int(arena, r);
        return *out != NULL ? 0 : PC_REGO_ENOMEM;
    }
    if (pc_rego_num_is_int(a) && pc_rego_num_is_int(b)) {
        return big_arith(arena, BIG_ADD, a, b, out);
    }
    return float_result(arena, pc_rego_num_ld(a) + pc_rego_num_ld(b), out);
}

int
pc_rego_num_sub(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                const struct pc_rego_value *b, const struct pc_rego_value **out)
{
    int64_t r;
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT
        && !__builtin_sub_overflow(a->u.i, b->u.i, &r)) {
        *out = make_int(arena, r);
        return *out != NULL ? 0 : PC_REGO_ENOMEM;
    }
    if (pc_rego_num_is_int(a) && pc_rego_num_is_int(b)) {
        return big_arith(arena, BIG_SUB, a, b, out);
    }
    return float_result(arena, pc_rego_num_ld(a) - pc_rego_num_ld(b), out);
}

int
pc_rego_num_mul(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                const struct pc_rego_value *b, const struct pc_rego_value **out)
{
    int64_t r;
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT
        && !__builtin_mul_overflow(a->u.i, b->u.i, &r)) {
        *out = make_int(arena, r);
        return *out != NULL ? 0 : PC_REGO_ENOMEM;
    }
    if (pc_rego_num_is_int(a) && pc_rego_num_is_int(b)) {
        return big_arith(arena, BIG_MUL, a, b, out);
    }
    return float_result(arena, pc_rego_num_ld(a) * pc_rego_num_ld(b), out);
}

static bool
is_zero(const struct pc_rego_value *v)
{
    return (v->num == PC_REGO_NUM_INT && v->u.i == 0)
           || (v->num == PC_REGO_NUM_FLOAT && *v->u.f == 0.0L);
}

int
pc_rego_num_div(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                const struct pc_rego_value *b, const struct pc_rego_value **out,
                const char **errmsg)
{
    if (is_zero(b)) {
        *errmsg = "divide by zero";
        return PC_REGO_EEVAL_BUILTIN;
    }
    /* Only a quotient of two int64s that divides evenly stays exact; OPA does the same. */
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT && a->u.i % b->u.i == 0
        && !(a->u.i == INT64_MIN && b->u.i == -1)) {
        *out = make_int(arena, a->u.i / b->u.i);
        return *out != NULL ? 0 : PC_REGO_ENOMEM;
    }
    return float_result(arena, pc_rego_num_ld(a) / pc_rego_num_ld(b), out);
}

int
pc_rego_num_rem(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                const struct pc_rego_value *b, const struct pc_rego_value **out,
                const char **errmsg)
{
    if (!pc_rego_num_is_int(a) || !pc_rego_num_is_int(b)) {
        *errmsg = "modulo on floating-point number";
        return PC_REGO_EEVAL_BUILTIN;
    }
    if (is_zero(b)) {
        *errmsg = "modulo by zero";
        return PC_REGO_EEVAL_BUILTIN;
    }
    if (a->num == PC_REGO_NUM_INT && b->num == PC_REGO_NUM_INT) {
        int64_t r = b->u.i == -1 ? 0 : a->u.i % b->u.i;
        *out = make_int(arena, r);
        return *out != NULL ? 0 : PC_REGO_ENOMEM;
    }
    return big_arith(arena, BIG_REM, a, b, out);
}

const struct pc_rego_value *
pc_rego_num_round(struct pc_rego_arena *arena, const struct pc_rego_value *v,
                  enum pc_rego_round mode)
{
    if (v->num == PC_REGO_NUM_INT) {
        if (mode == PC_REGO_ROUND_ABS && v->u.i < 0) {
            if (v->u.i == INT64_MIN) {
                return make_big(arena, "9223372036854775808", 19);
            }
            return make_int(arena, -v->u.i);
        }
        return v;
    }
    if (v->num == PC_REGO_NUM_BIG) {
        if (mode == PC_REGO_ROUND_ABS && v->u.s[0] == '-') {
            return make_big(arena, v->u.s + 1, v->len - 1);
        }
        return v;
    }
    long double x = *v->u.f;
    switch (mode) {
    case PC_REGO_ROUND_NEAREST:
        x = x < 0 ? -floorl(-x + 0.5L) : floorl(x + 0.5L);
        break;
    case PC_REGO_ROUND_CEIL:
        x = ceill(x);
        break;
    case PC_REGO_ROUND_FLOOR:
        x = floorl(x);
        break;
    default:
        x = fabsl(x);
        break;
    }
    return pc_rego_num_from_ld(arena, x);
}

/* Shortest %e digits that read back as x: Go's shortest formatting at a 64-bit mantissa. */
static int
shortest_e(long double x, char *buf, size_t n)
{
    for (int prec = 0; prec < 21; prec++) {
        snprintf(buf, n, "%.*Le", prec, x);
        if (strtold(buf, NULL) == x) {
            return prec + 1;
        }
    }
    snprintf(buf, n, "%.20Le", x);
    return 21;
}

/* Formats a non-integral float the way Go's big.Float Text('g', -1) does. */
static size_t
format_float(long double x, char *out, size_t n)
{
    char e[64];
    int nd = shortest_e(x, e, sizeof(e));

    /* Parse "-d.ddde+XX" back into sign, digits and exponent. */
    bool neg = e[0] == '-';
    const char *p = e + (neg ? 1 : 0);
    char digits[32];
    int k = 0;
    for (; *p != 'e'; p++) {
        if (*p != '.') {
            digits[k++] = *p;
        }
    }
    digits[k] = '\0';
    int exp = atoi(p + 1);
    (void)nd;

    char buf[96];
    size_t len = 0;
    if (neg) {
        buf[len++] = '-';
    }
    if (exp < -4 || exp >= 6) {
        buf[len++] = digits[0];
        if (k > 1) {
            buf[len++] = '.';
            memcpy(buf + len, digits + 1, (size_t)k - 1);
            len += (size_t)k - 1;
        }
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "e%c%02d", exp < 0 ? '-' : '+',
                                exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = -1; i > exp; i--) {
            buf[len++] = '0';
        }
        memcpy(buf + len, digits, (size_t)k);
        len += (size_t)k;
    } else {
        for (int i = 0; i < k || i <= exp; i++) {
            if (i == exp + 1) {
                buf[len++] = '.';
            }
            buf[len++] = i < k ? digits[i] : '0';
        }
    }
    buf[len] = '\0';
    if (n > 0) {
        snprintf(out, n, "%s", buf);
    }
    return len;
}

size_t
pc_rego_num_format(const struct pc_rego_value *v, char *buf, size_t n)
{
    switch (v->num) {
    case PC_REGO_NUM_INT: {
        int r = snprintf(buf, n, "%lld", (long long)v->u.i);
        return r < 0 ? 0 : (size_t)r;
    }
    case PC_REGO_NUM_BIG:
        if (n > 0) {
            size_t c = v->len < n - 1 ? v->len : n - 1;
            memcpy(buf, v->u.s, c);
            buf[c] = '\0';
        }
        return v->len;
    default:
        return format_float(*v->u.f, buf, n);
    }
}
