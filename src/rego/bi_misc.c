/*
 * Miscellaneous builtins: bits, the test harness helper test.sleep, and the stubs of builtins
 * the engine knows but does not run in process (http.send, opa.runtime, ...), which exist so
 * that `with` can replace them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rego/builtin.h"
#include "rego/num.h"
#include "rego/strbuf.h"

/* test.sleep("10ms"): for test harnesses only (compiled only when test builtins are on). */
static int
bi_test_sleep(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%.*s", (int)(n < 31 ? n : 31), s);
    char *end;
    double v = strtod(buf, &end);
    double scale = strcmp(end, "ms") == 0   ? 1e-3
                   : strcmp(end, "us") == 0 ? 1e-6
                   : strcmp(end, "ns") == 0 ? 1e-9
                   : strcmp(end, "s") == 0  ? 1
                                            : -1;
    if (scale < 0 || v < 0 || v * scale > 10) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid duration");
    }
    double secs = v * scale;
    struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
    nanosleep(&ts, NULL);
    *out = pc_rego_null();
    return 0;
}

/* Bits: integer operands only. */

static int
bits_args(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, int n, int64_t *x,
          int64_t *y)
{
    int rc = pc_rego_bi_arg_int(bc, a, 1, x);
    if (rc == 0 && n > 1) {
        rc = pc_rego_bi_arg_int(bc, a, 2, y);
    }
    return rc;
}

static int
bi_bits_and(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    int64_t x, y;
    int rc = bits_args(bc, a, 2, &x, &y);
    return rc != 0 ? rc : pc_rego_bi_ret_int(bc, out, x & y);
}

static int
bi_bits_or(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out)
{
    int64_t x, y;
    int rc = bits_args(bc, a, 2, &x, &y);
    return rc != 0 ? rc : pc_rego_bi_ret_int(bc, out, x | y);
}

static int
bi_bits_xor(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    int64_t x, y;
    int rc = bits_args(bc, a, 2, &x, &y);
    return rc != 0 ? rc : pc_rego_bi_ret_int(bc, out, x ^ y);
}

static int
bi_bits_negate(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    int64_t x, y;
    int rc = bits_args(bc, a, 1, &x, &y);
    return rc != 0 ? rc : pc_rego_bi_ret_int(bc, out, ~x);
}

static int
shift(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
      const struct pc_rego_value **out, bool left)
{
    int64_t x, y;
    int rc = bits_args(bc, a, 2, &x, &y);
    if (rc != 0) {
        return rc;
    }
    if (y < 0) {
        return pc_rego_bi_fail(
            bc, PC_REGO_EEVAL_TYPE,
            "operand 2 must be an unsigned integer number but got a negative integer");
    }
    if (!left) {
        return pc_rego_bi_ret_int(bc, out, y >= 63 ? (x < 0 ? -1 : 0) : x >> y);
    }
    const struct pc_rego_value *two = pc_rego_int(bc->arena, 2);
    const struct pc_rego_value *acc = a[0];
    for (int64_t i = 0; i < y && acc != NULL; i++) {
        if (i > 4096) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "shift too large");
        }
        rc = pc_rego_num_mul(bc->arena, acc, two, &acc);
        if (rc != 0) {
            return rc;
        }
    }
    return pc_rego_bi_ret(out, acc);
}

static int
bi_bits_lsh(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    return shift(bc, a, out, true);
}

static int
bi_bits_rsh(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
            const struct pc_rego_value **out)
{
    return shift(bc, a, out, false);
}

/* trace(note): notes go to OPA's explanation output, which the engine does not keep; true. */
static int
bi_trace(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
         const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    return rc != 0 ? rc : pc_rego_bi_ret_bool(out, true);
}

static const struct pc_rego_builtin table[] = {
    { "test.sleep", 1, 0, bi_test_sleep },
    { "bits.and", 2, 0, bi_bits_and },
    { "bits.or", 2, 0, bi_bits_or },
    { "bits.xor", 2, 0, bi_bits_xor },
    { "bits.negate", 1, 0, bi_bits_negate },
    { "bits.lsh", 2, 0, bi_bits_lsh },
    { "bits.rsh", 2, 0, bi_bits_rsh },
    { "http.send", 1, PC_REGO_BI_STUB, NULL },
    { "opa.runtime", 0, PC_REGO_BI_STUB, NULL },
    { "trace", 1, 0, bi_trace },
    { "rego.parse_module", 2, PC_REGO_BI_STUB, NULL },
    { "rego.metadata.chain", 0, PC_REGO_BI_STUB, NULL },
    { "rego.metadata.rule", 0, PC_REGO_BI_STUB, NULL },
    { "providers.aws.sign_req", 3, PC_REGO_BI_STUB, NULL },
    { "graphql.is_valid", 2, PC_REGO_BI_STUB, NULL },
    { "graphql.parse", 2, PC_REGO_BI_STUB, NULL },
    { "graphql.parse_and_verify", 2, PC_REGO_BI_STUB, NULL },
    { "graphql.parse_query", 1, PC_REGO_BI_STUB, NULL },
    { "graphql.parse_schema", 1, PC_REGO_BI_STUB, NULL },
    { "graphql.schema_is_valid", 1, PC_REGO_BI_STUB, NULL },
};

const struct pc_rego_builtin *
pc_rego_bi_misc_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
