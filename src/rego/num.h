/*
 * Number semantics of the Rego engine: parsing, comparison, arithmetic and formatting.
 *
 * OPA computes on integers exactly, at any size, and on everything else with big.Float at its
 * default 64-bit mantissa. We match that with three representations (see value.h): int64 for the
 * common case, decimal digits for integers beyond it (arithmetic through OpenSSL's BIGNUM) and
 * long double, whose x87 format carries exactly a 64-bit mantissa, for the rest. Every result is
 * normalized: an integral value becomes an integer, so equal numbers have one representation.
 *
 * Functions returning int give 0, PC_REGO_ENOMEM, or PC_REGO_EEVAL_BUILTIN with *errmsg set to
 * OPA's wording ("divide by zero", ...).
 */
#ifndef PC_REGO_NUM_H
#define PC_REGO_NUM_H

#include <stdbool.h>
#include <stddef.h>

#include "rego/value.h"

/* Compares two numbers by value. */
int pc_rego_num_cmp(const struct pc_rego_value *a, const struct pc_rego_value *b);

/* Returns whether the number v is an integer (of any size). */
static inline bool
pc_rego_num_is_int(const struct pc_rego_value *v)
{
    return v->num != PC_REGO_NUM_FLOAT;
}

/* Returns v as the nearest long double (BIG integers round to the 64-bit mantissa). */
long double pc_rego_num_ld(const struct pc_rego_value *v);

/* Normalizes x into a number value; NULL for NaN/infinity or when out of memory. */
const struct pc_rego_value *pc_rego_num_from_ld(struct pc_rego_arena *arena, long double x);

/* a+b, a-b, a*b, a/b, a%b: results in *out (arena memory). */
int pc_rego_num_add(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                    const struct pc_rego_value *b, const struct pc_rego_value **out);
int pc_rego_num_sub(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                    const struct pc_rego_value *b, const struct pc_rego_value **out);
int pc_rego_num_mul(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                    const struct pc_rego_value *b, const struct pc_rego_value **out);
int pc_rego_num_div(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                    const struct pc_rego_value *b, const struct pc_rego_value **out,
                    const char **errmsg);
int pc_rego_num_rem(struct pc_rego_arena *arena, const struct pc_rego_value *a,
                    const struct pc_rego_value *b, const struct pc_rego_value **out,
                    const char **errmsg);

enum pc_rego_round {
    PC_REGO_ROUND_NEAREST, /* half away from zero */
    PC_REGO_ROUND_CEIL,
    PC_REGO_ROUND_FLOOR,
    PC_REGO_ROUND_ABS, /* not a rounding, but the same shape: one number in, one out */
};

/* Rounds (or takes the absolute value of) v; NULL when out of memory. */
const struct pc_rego_value *pc_rego_num_round(struct pc_rego_arena *arena,
                                              const struct pc_rego_value *v,
                                              enum pc_rego_round mode);

/*
 * Writes v as OPA prints it (integers in full, other numbers in Go's shortest %g form) into buf
 * of size n, NUL-terminated when n > 0. Returns the length of the full text, like snprintf.
 */
size_t pc_rego_num_format(const struct pc_rego_value *v, char *buf, size_t n);

#endif
