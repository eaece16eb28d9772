/*
 * Error codes and error reports of the Rego engine.
 *
 * Every int function of the engine returns 0 or one of the negative codes below; functions that
 * can fail for a reason worth showing a person fill a struct pc_rego_error as well. The codes
 * mirror OPA's error categories (rego_parse_error, eval_conflict_error, ...) so that tools and
 * tests can compare against OPA's own reports; pc_rego_strerror gives the category name.
 */
#ifndef PC_REGO_ERROR_H
#define PC_REGO_ERROR_H

#include <stddef.h>
#include <stdint.h>

enum pc_rego_code {
    PC_REGO_OK = 0,
    PC_REGO_ENOMEM = -1,         /* out of memory */
    PC_REGO_EPARSE = -2,         /* rego_parse_error: malformed module or query */
    PC_REGO_ECOMPILE = -3,       /* rego_compile_error: conflicting or invalid definitions */
    PC_REGO_EUNSAFE = -4,        /* rego_unsafe_var_error: a variable nothing binds */
    PC_REGO_ERECURSION = -5,     /* rego_recursion_error: a rule that depends on itself */
    PC_REGO_ETYPE = -6,          /* rego_type_error: unknown function, wrong arity */
    PC_REGO_EEVAL_TYPE = -7,     /* eval_type_error: a builtin got an operand of a wrong type */
    PC_REGO_EEVAL_BUILTIN = -8,  /* eval_builtin_error: a builtin failed */
    PC_REGO_EEVAL_CONFLICT = -9, /* eval_conflict_error: a rule or function with two values */
    PC_REGO_EEVAL = -10,         /* eval_internal_error: a limit was hit, or an unmocked stub */
    PC_REGO_EIO = -11,           /* a file could not be read */
    PC_REGO_EINVAL = -12,        /* invalid argument or malformed data document */
    PC_REGO_EHALT = -13,         /* evaluation cancelled by the caller */
};

#define PC_REGO_ERROR_FILE_MAX 256
#define PC_REGO_ERROR_MSG_MAX  512

/*
 * A report: code, where (file may be empty, line and col are 1-based or 0 when unknown) and a
 * message in OPA's wording where OPA has one.
 */
struct pc_rego_error {
    int code;
    uint32_t line;
    uint32_t col;
    char file[PC_REGO_ERROR_FILE_MAX];
    char msg[PC_REGO_ERROR_MSG_MAX];
};

/*
 * Fills err (which may be NULL) with code, location and a printf-formatted message, truncated
 * to fit. file may be NULL. Returns code.
 */
int pc_rego_error_set(struct pc_rego_error *err, int code, const char *file, uint32_t line,
                      uint32_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Clears err (accepts NULL). */
void pc_rego_error_clear(struct pc_rego_error *err);

/* Returns OPA's category name for code ("rego_parse_error", "eval_conflict_error", ...). */
const char *pc_rego_strerror(int code);

/*
 * Writes "file:line:col: category: message" (the location part only when known) into buf of
 * size n, always NUL-terminated when n > 0. Returns buf.
 */
char *pc_rego_error_format(const struct pc_rego_error *err, char *buf, size_t n);

#endif
