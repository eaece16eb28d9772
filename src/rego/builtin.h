/*
 * Builtin functions: the registry the compiler resolves calls against, the calling
 * convention, and helpers that give every builtin OPA's operand checks and error wording.
 *
 * A builtin is one C function taking its arguments as values and returning a value, or
 * undefined (a NULL result), or an error. Each family (strings, regex, time, ...) keeps a table
 * in its own file; adding a builtin is writing the function and one table line. Names the
 * engine knows but does not implement (http.send and friends) are registered as stubs so that
 * `with` can mock them; calling an unmocked stub is an evaluation error, never a wrong answer.
 *
 * Builtins run on the evaluating thread and allocate only from bc->arena.
 */
#ifndef PC_REGO_BUILTIN_H
#define PC_REGO_BUILTIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/error.h"
#include "rego/value.h"

struct pc_rego_ctx;

/* What a builtin gets besides its arguments. Fields other than those documented are private. */
struct pc_rego_bctx {
    struct pc_rego_arena *arena; /* for results and scratch memory */
    struct pc_rego_ctx *ctx;     /* the evaluation, for the clock and caches */
    const char *name;            /* the builtin's name, for messages */
    int code;                    /* set by the error helpers */
    char msg[PC_REGO_ERROR_MSG_MAX];
};

/*
 * Returns 0 with *out set to the result (arena memory or static) or to NULL for undefined, or
 * a negative code after calling one of the error helpers below. args holds the arguments
 * followed by NULL, which is how variadic builtins count theirs.
 */
typedef int (*pc_rego_builtin_fn)(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args,
                                  const struct pc_rego_value **out);

enum pc_rego_builtin_flags {
    PC_REGO_BI_STUB = 1,     /* known name and arity, not implemented: mock it with `with` */
    PC_REGO_BI_RELATION = 2, /* the result is an array; the output takes each element in turn */
    PC_REGO_BI_VARIADIC = 4, /* any number of arguments (print) */
};

struct pc_rego_builtin {
    const char *name;
    uint8_t arity;
    uint8_t flags;
    pc_rego_builtin_fn fn;
};

/* Returns the builtin called name[0..len), or NULL. */
const struct pc_rego_builtin *pc_rego_builtin_lookup(const char *name, size_t len);

/* Calls fn(i, b, ud) for every registered builtin (for documentation and tests). */
void pc_rego_builtin_each(void (*fn)(size_t i, const struct pc_rego_builtin *b, void *ud),
                          void *ud);

/* The family tables; each returns its array and sets *n. */
const struct pc_rego_builtin *pc_rego_bi_core_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_strings_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_regex_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_globs_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_encoding_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_json_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_time_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_net_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_crypto_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_jwt_sign_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_misc_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_units_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_graph_table(size_t *n);
const struct pc_rego_builtin *pc_rego_bi_ids_table(size_t *n);

/*
 * Error helpers: each fills bc and returns the code to hand back. Messages read
 * "<builtin>: <detail>", as OPA's do.
 */
int pc_rego_bi_fail(struct pc_rego_bctx *bc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "operand <pos> must be <expected> but got <type of got>" (eval_type_error). */
int pc_rego_bi_type_error(struct pc_rego_bctx *bc, int pos, const struct pc_rego_value *got,
                          const char *expected);

/* Operand checks: return 0, or a type error naming operand pos (1-based). */
int pc_rego_bi_arg_string(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                          const char **s, size_t *len);
int pc_rego_bi_arg_number(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args,
                          int pos);
int pc_rego_bi_arg_int(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                       int64_t *out);
int pc_rego_bi_arg_kind(struct pc_rego_bctx *bc, const struct pc_rego_value *const *args, int pos,
                        enum pc_rego_kind kind);

/* Result helpers: set *out and return 0, or return PC_REGO_ENOMEM. */
int pc_rego_bi_ret(const struct pc_rego_value **out, const struct pc_rego_value *v);
int pc_rego_bi_ret_str(struct pc_rego_bctx *bc, const struct pc_rego_value **out, const char *s,
                       size_t len);
int pc_rego_bi_ret_int(struct pc_rego_bctx *bc, const struct pc_rego_value **out, int64_t i);
int pc_rego_bi_ret_bool(const struct pc_rego_value **out, bool b);

struct pc_rego_regex_cache;

/* The evaluation context's compiled-pattern cache (regex.h). */
struct pc_rego_regex_cache *pc_rego_bctx_regex(struct pc_rego_bctx *bc);

/* Hands one line of print() output to the context's print hook, if it has one. */
void pc_rego_bctx_print(struct pc_rego_bctx *bc, const char *msg, size_t len);

/* The evaluation's clock: nanoseconds since the epoch, fixed for one evaluation. */
int64_t pc_rego_bctx_now_ns(struct pc_rego_bctx *bc);

#endif
