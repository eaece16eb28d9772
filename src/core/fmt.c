/*
 * Decimal and hexadecimal formatting without printf.
 */
#include "core/fmt.h"

static const char hex_digits[] = "0123456789abcdef";

size_t
pc_fmt_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

size_t
pc_fmt_hex(char *out, uint64_t v)
{
    unsigned digits = 1;

    while (digits < 16 && (v >> (4 * digits)) != 0) {
        digits++;
    }
    return pc_fmt_hex_fixed(out, v, digits);
}

size_t
pc_fmt_hex_fixed(char *out, uint64_t v, unsigned digits)
{
    for (unsigned i = 0; i < digits; i++) {
        out[digits - 1 - i] = hex_digits[(v >> (4 * i)) & 15];
    }
    return digits;
}
