/*
 * The Rego engine: compile policies once, evaluate them many times, in process.
 *
 * A compiler collects modules (Rego v1 source) and data documents (JSON or YAML) and turns
 * them into a compiled policy: immutable, reference-counted, safe to share between threads.
 * Queries are compiled against a policy. Evaluation runs on a context that belongs to one
 * thread at a time and owns an arena: the input document, every value the evaluation makes
 * and the results live there until the next reset, and a warm context evaluates without
 * touching the heap. This library depends on libc, PCRE2, OpenSSL and libyaml only.
 *
 *   struct pc_rego_compiler *c = pc_rego_compiler_create();
 *   pc_rego_compiler_add_module(c, "authz.rego", src, len, &err);
 *   struct pc_rego_policy *pol = pc_rego_compiler_compile(c, &err);
 *   struct pc_rego_query *q = pc_rego_query_compile(pol, "data.authz.allow", 16, 0, &err);
 *   struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
 *   ... per decision:
 *   pc_rego_ctx_reset(ctx);
 *   input = pc_rego_json_parse(pc_rego_ctx_arena(ctx), body, len, &err);
 *   pc_rego_eval_value(ctx, q, input, &allow, &err);
 */
#ifndef PC_REGO_REGO_H
#define PC_REGO_REGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/error.h"
#include "rego/mem.h"
#include "rego/value.h"

struct pc_rego_compiler;
struct pc_rego_policy;
struct pc_rego_query;
struct pc_rego_ctx;

/* Creates an empty compiler; NULL when out of memory. Free with pc_rego_compiler_free. */
struct pc_rego_compiler *pc_rego_compiler_create(void);

/* Releases the compiler and everything it holds; accepts NULL. */
void pc_rego_compiler_free(struct pc_rego_compiler *c);

/*
 * Parses a module (src is borrowed for the call only; file names it in errors). Returns 0,
 * PC_REGO_EPARSE with err at file:line:col, or PC_REGO_ENOMEM.
 */
int pc_rego_compiler_add_module(struct pc_rego_compiler *c, const char *file, const char *src,
                                size_t len, struct pc_rego_error *err);

/*
 * Merges a data document (a JSON object, or YAML mapping, read from text that is borrowed for
 * the call only) into the base document at path, a dot-separated prefix such as "a.b" (NULL or
 * "" for the root). Objects merge recursively; anything else given twice is PC_REGO_EINVAL.
 */
int pc_rego_compiler_add_data_json(struct pc_rego_compiler *c, const char *path, const char *text,
                                   size_t len, struct pc_rego_error *err);
int pc_rego_compiler_add_data_yaml(struct pc_rego_compiler *c, const char *path, const char *text,
                                   size_t len, struct pc_rego_error *err);

/*
 * Merges a value (deep-copied) into the base document at path, as above. Returns 0,
 * PC_REGO_EINVAL on a conflict, or PC_REGO_ENOMEM.
 */
int pc_rego_compiler_add_data(struct pc_rego_compiler *c, const char *path,
                              const struct pc_rego_value *v, struct pc_rego_error *err);

/*
 * Enables builtins meant for test harnesses only (test.sleep); off by default, so that a
 * policy using them fails to compile in production.
 */
void pc_rego_compiler_set_test_builtins(struct pc_rego_compiler *c, bool enable);

/*
 * Compiles everything added so far into a policy with one reference, owned by the caller.
 * Returns NULL with err filled: rego_compile_error, rego_unsafe_var_error,
 * rego_recursion_error or rego_type_error (naming any unknown function), at file:line:col.
 * The compiler may be freed afterwards; it cannot be used to compile again.
 */
struct pc_rego_policy *pc_rego_compiler_compile(struct pc_rego_compiler *c,
                                                struct pc_rego_error *err);

/* Takes another reference to pol (thread-safe); returns pol. */
struct pc_rego_policy *pc_rego_policy_ref(struct pc_rego_policy *pol);

/* Drops a reference (thread-safe); the last one frees the policy. Accepts NULL. */
void pc_rego_policy_unref(struct pc_rego_policy *pol);

/* Returns the policy's base document (data as loaded, without rules); policy memory. */
const struct pc_rego_value *pc_rego_policy_data(const struct pc_rego_policy *pol);

enum pc_rego_query_flags {
    /*
     * Give every top-level expression a value, as `opa eval` prints them: a term's value even
     * when it is false, a comparison's true or false. Without it, a query expression that is
     * false makes the query undefined, as in a rule body.
     */
    PC_REGO_QUERY_CAPTURE = 1,
};

/*
 * Compiles a query (src borrowed for the call) against pol, which it references until
 * pc_rego_query_free. Returns NULL with err filled on a parse or compile error.
 */
struct pc_rego_query *pc_rego_query_compile(struct pc_rego_policy *pol, const char *src, size_t len,
                                            unsigned flags, struct pc_rego_error *err);

/* Releases a query and its policy reference; accepts NULL. */
void pc_rego_query_free(struct pc_rego_query *q);

/* Number of named variables a query outputs, and the name of variable i (query memory). */
size_t pc_rego_query_nvars(const struct pc_rego_query *q);
const char *pc_rego_query_var(const struct pc_rego_query *q, size_t i);

/* Number of top-level expressions of a query, and the source text of expression i. */
size_t pc_rego_query_nexprs(const struct pc_rego_query *q);
const char *pc_rego_query_expr_text(const struct pc_rego_query *q, size_t i, size_t *len,
                                    uint32_t *line, uint32_t *col);

/*
 * Creates an evaluation context whose arena grows in blocks of arena_block bytes (0 picks a
 * default). NULL when out of memory. One thread at a time; free with pc_rego_ctx_free.
 */
struct pc_rego_ctx *pc_rego_ctx_create(size_t arena_block);

/* Releases a context; accepts NULL. */
void pc_rego_ctx_free(struct pc_rego_ctx *ctx);

/*
 * Forgets the previous evaluation: its values, results and input become invalid. Memory is kept
 * for reuse.
 */
void pc_rego_ctx_reset(struct pc_rego_ctx *ctx);

/* The context's arena, for building input (valid until the next reset). */
struct pc_rego_arena *pc_rego_ctx_arena(struct pc_rego_ctx *ctx);

/*
 * Strict builtin errors: a failing builtin stops evaluation with its error instead of making
 * its expression undefined (OPA's strict-builtin-errors). Off by default.
 */
void pc_rego_ctx_set_strict(struct pc_rego_ctx *ctx, bool strict);

/*
 * Fixes the clock that time.now_ns() reads, in nanoseconds since the epoch; 0 (the default)
 * reads the system clock once per evaluation.
 */
void pc_rego_ctx_set_now_ns(struct pc_rego_ctx *ctx, int64_t now_ns);

/*
 * Caps the work of one evaluation (expression steps); 0 means no limit. Reaching it stops the
 * evaluation with PC_REGO_EEVAL ("evaluation limit exceeded"), which bounds fuzzed policies.
 */
void pc_rego_ctx_set_step_limit(struct pc_rego_ctx *ctx, uint64_t steps);

/*
 * Caps the arena memory the context may hold, in bytes (0: no cap, the default). An evaluation
 * that needs more fails as out of memory (PC_REGO_ENOMEM) and the context stays usable after a
 * reset.
 */
void pc_rego_ctx_set_memory_limit(struct pc_rego_ctx *ctx, size_t max_bytes);

/* Receives one line of print() output (msg[0..len), no newline; valid for the call only). */
typedef void (*pc_rego_print_fn)(const char *msg, size_t len, void *ud);

/*
 * Sends the policy's print() calls to fn with ud (NULL, the default, discards them). print
 * never fails a rule: undefined arguments print as <undefined>.
 */
void pc_rego_ctx_set_print(struct pc_rego_ctx *ctx, pc_rego_print_fn fn, void *ud);

/* One solution of a query: the named variables' values and each top-level expression's value. */
struct pc_rego_solution {
    const struct pc_rego_value *const *vars;  /* indexed like pc_rego_query_var */
    const struct pc_rego_value *const *exprs; /* indexed like pc_rego_query_expr_text */
};

/*
 * Evaluates q with input (NULL for undefined; borrowed for the call) and returns every solution
 * in *sols (context memory, valid until reset), *nsols of them; duplicates are removed. Returns
 * 0, or an error code with err filled (eval_conflict_error, eval_type_error with strict
 * builtins, ...). Call pc_rego_ctx_reset first unless the previous results are still needed.
 */
int pc_rego_eval(struct pc_rego_ctx *ctx, const struct pc_rego_query *q,
                 const struct pc_rego_value *input, const struct pc_rego_solution **sols,
                 size_t *nsols, struct pc_rego_error *err);

/*
 * The decision fast path: evaluates a query of one expression (such as "data.authz.allow") and
 * sets *out to its value in the first solution (false included, as with PC_REGO_QUERY_CAPTURE),
 * or to NULL when undefined. Same return and memory rules as pc_rego_eval.
 */
int pc_rego_eval_value(struct pc_rego_ctx *ctx, const struct pc_rego_query *q,
                       const struct pc_rego_value *input, const struct pc_rego_value **out,
                       struct pc_rego_error *err);

/*
 * Parses Rego term source (such as {"a", 1}) into a constant value in arena. Returns NULL with
 * err filled when the text is not a constant term.
 */
const struct pc_rego_value *pc_rego_term_parse(struct pc_rego_arena *arena, const char *src,
                                               size_t len, struct pc_rego_error *err);

/*
 * Lists the test rules of a policy: rules named test_* (at any depth), as "data.pkg.test_x"
 * names in policy memory. Returns the count; *names is set to the array.
 */
size_t pc_rego_policy_tests(const struct pc_rego_policy *pol, const char *const **names);

/* The file (as given to pc_rego_compiler_add_module) that defines test i; "" if out of range. */
const char *pc_rego_policy_test_file(const struct pc_rego_policy *pol, size_t i);

#endif
