/*
 * Status codes: formatting of struct pc_err and names for codes. Stateless; any thread.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
pc_err_set(struct pc_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

const char *
pc_strerror(int code)
{
    switch (code) {
    case PC_OK:
        return "ok";
    case PC_EPARSE:
        return "malformed input";
    case PC_ELIMIT:
        return "limit exceeded";
    case PC_ECONFIG:
        return "invalid configuration";
    default:
        break;
    }

    if (code < 0 && code > -4096) {
        /* strerror() returns a static table entry for known errno values on glibc. */
        return strerror(-code);
    }
    return "unknown error";
}

void
pc_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "portcullis: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
