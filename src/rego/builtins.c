/*
 * The builtin registry and the helpers every builtin uses (see builtin.h).
 *
 * Lookup walks the family tables; it runs at compile time only (the IR keeps the pointer), so
 * a linear search over a few hundred names costs nothing at evaluation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rego/builtin.h"

typedef const struct pc_rego_builtin *(*table_fn)(size_t *n);

static const table_fn families[] = {
    pc_rego_bi_core_table,     pc_rego_bi_strings_table, pc_rego_bi_regex_table,
    pc_rego_bi_encoding_table, pc_rego_bi_time_table,    pc_rego_bi_net_table,
    pc_rego_bi_crypto_table,   pc_rego_bi_misc_table,    pc_rego_bi_json_table,
    pc_rego_bi_globs_table,    pc_rego_bi_units_table,   pc_rego_bi_jwt_sign_table,
    pc_rego_bi_graph_table,    pc_rego_bi_ids_table,
};

const struct pc_rego_builtin *
pc_rego_builtin_lookup(const char *name, size_t len)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        size_t n;
        const struct pc_rego_builtin *t = families[f](&n);
        for (size_t i = 0; i < n; i++) {
            if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0) {
                return &t[i];
            }
        }
    }
    return NULL;
}

void
pc_rego_builtin_each(void (*fn)(size_t i, const struct pc_rego_builtin *b, void *ud), void *ud)
{
    size_t k = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        size_t n;
        const struct pc_rego_builtin *t = families[f](&n);
        for (size_t i = 0; i < n; i++) {
            fn(k++, &t[i], ud);
        }
    }
}

int
pc_rego_bi_fail(struct pc_rego_bctx *bc, int code, const char *fmt, ...)
{
    char detail[PC_REGO_ERROR_MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(bc->msg, sizeof(bc->msg), "%.60s: %s", bc->name, detail);
    bc->code = code;
    return code;
}

int
pc_rego_bi_type_error(struct pc_rego_bctx *bc, int pos, const struct pc_rego_value *got,
                      const char *expected)
{
    bool many = strchr(expected, ',') != NULL;
    return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE, "operand %d must be %s%s%s but got %s", pos,
                           many ? "one of {" : "", expected, many ? "}" : "",
                           pc_rego_type_name(got));
}

int
pc_rego_bi_arg_string(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                      const char **s, size_t *len)
{
    const struct pc_rego_value *v = args[pos - 1];
    if (v->kind != PC_REGO_STRING) {
        return pc_rego_bi_type_error(bc, pos, v, "string");
    }
    *s = v->u.s;
    *len = v->len;
    return 0;
}

int
pc_rego_bi_arg_number(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos)
{
    const struct pc_rego_value *v = args[pos - 1];
    return v->kind == PC_REGO_NUMBER ? 0 : pc_rego_bi_type_error(bc, pos, v, "number");
}

int
pc_rego_bi_arg_int(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                   int64_t *out)
{
    const struct pc_rego_value *v = args[pos - 1];
    if (v->kind != PC_REGO_NUMBER) {
        return pc_rego_bi_type_error(bc, pos, v, "number");
    }
    if (v->num == PC_REGO_NUM_FLOAT) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                               "operand %d must be integer number but got floating-point number",
                               pos);
    }
    if (v->num == PC_REGO_NUM_BIG) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "operand %d is too large", pos);
    }
    *out = v->u.i;
    return 0;
}

int
pc_rego_bi_arg_kind(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                    enum pc_rego_kind kind)
{
    static const char *const names[] = { "null",  "boolean", "number", "string",
                                         "array", "object",  "set" };
    const struct pc_rego_value *v = args[pos - 1];
    return v->kind == kind ? 0 : pc_rego_bi_type_error(bc, pos, v, names[kind]);
}

int
pc_rego_bi_ret(const struct pc_rego_value **out, const struct pc_rego_value *v)
{
    *out = v;
    return v != NULL ? 0 : PC_REGO_ENOMEM;
}

int
pc_rego_bi_ret_str(struct pc_rego_bctx *bc, const struct pc_rego_value **out, const char *s,
                   size_t len)
{
    return pc_rego_bi_ret(out, pc_rego_string(bc->arena, s, len));
}

int
pc_rego_bi_ret_int(struct pc_rego_bctx *bc, const struct pc_rego_value **out, int64_t i)
{
    return pc_rego_bi_ret(out, pc_rego_int(bc->arena, i));
}

int
pc_rego_bi_ret_bool(const struct pc_rego_value **out, bool b)
{
    *out = pc_rego_bool(b);
    return 0;
}
