/*
 * Parser for Rego v1 (OPA 1.0 syntax): modules, queries and single terms.
 *
 * `if` is required before rule bodies and `contains` for multi-value rules; `in`, `every`,
 * `some ... in` are always available, and `import rego.v1` and `import future.keywords...`
 * are accepted and have no further effect. Errors name file:line:col and what was expected.
 * The tree lives in the arena given; the parser keeps nothing after it returns.
 */
#ifndef PC_REGO_PARSE_H
#define PC_REGO_PARSE_H

#include <stddef.h>

#include "rego/ast.h"
#include "rego/error.h"
#include "rego/mem.h"

/*
 * Parses one module from src[0..len). file names the source in errors and locations (copied).
 * Returns 0 with *out in arena memory, PC_REGO_EPARSE with err filled, or PC_REGO_ENOMEM.
 */
int pc_rego_parse_module(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                         struct pc_rego_ast_module **out, struct pc_rego_error *err);

/* Parses a query: expressions separated by ';' or line breaks. Same contract as above. */
int pc_rego_parse_query(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                        struct pc_rego_ast_body **out, struct pc_rego_error *err);

/* Parses a single term (used for values written as Rego, such as input terms). */
int pc_rego_parse_term(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                       struct pc_rego_ast_term **out, struct pc_rego_error *err);

#endif
