/*
 * Error reports of the Rego engine (see error.h): filling, naming and formatting them.
 */
#include "rego/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
pc_rego_error_set(struct pc_rego_error *err, int code, const char *file, uint32_t line,
                  uint32_t col, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    err->line = line;
    err->col = col;
    snprintf(err->file, sizeof(err->file), "%s", file != NULL ? file : "");

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
pc_rego_error_clear(struct pc_rego_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
}

const char *
pc_rego_strerror(int code)
{
    switch (code) {
    case PC_REGO_OK:
        return "ok";
    case PC_REGO_ENOMEM:
        return "out_of_memory";
    case PC_REGO_EPARSE:
        return "rego_parse_error";
    case PC_REGO_ECOMPILE:
        return "rego_compile_error";
    case PC_REGO_EUNSAFE:
        return "rego_unsafe_var_error";
    case PC_REGO_ERECURSION:
        return "rego_recursion_error";
    case PC_REGO_ETYPE:
        return "rego_type_error";
    case PC_REGO_EEVAL_TYPE:
        return "eval_type_error";
    case PC_REGO_EEVAL_BUILTIN:
        return "eval_builtin_error";
    case PC_REGO_EEVAL_CONFLICT:
        return "eval_conflict_error";
    case PC_REGO_EEVAL:
        return "eval_internal_error";
    case PC_REGO_EIO:
        return "io_error";
    case PC_REGO_EINVAL:
        return "invalid_argument";
    case PC_REGO_EHALT:
        return "eval_cancel_error";
    default:
        return "unknown_error";
    }
}

char *
pc_rego_error_format(const struct pc_rego_error *err, char *buf, size_t n)
{
    if (n == 0) {
        return buf;
    }
    const char *cat = pc_rego_strerror(err->code);
    if (err->file[0] != '\0' && err->line > 0) {
        snprintf(buf, n, "%s:%u:%u: %s: %s", err->file, err->line, err->col, cat, err->msg);
    } else if (err->line > 0) {
        snprintf(buf, n, "%u:%u: %s: %s", err->line, err->col, cat, err->msg);
    } else {
        snprintf(buf, n, "%s: %s", cat, err->msg);
    }
    return buf;
}
