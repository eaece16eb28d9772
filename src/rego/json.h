/*
 * JSON reading and writing for Rego values.
 *
 * The reader is strict RFC 8259 (no comments, no trailing commas, no NaN), keeps integers of
 * any size exact, replaces invalid UTF-8 in strings with U+FFFD as Go does, lets a repeated
 * object key keep its last value, and refuses nesting deeper than 1000 levels. The writer
 * prints values the way OPA does: sets as sorted arrays, non-string object keys as the JSON
 * text of the key, numbers in OPA's number format.
 */
#ifndef PC_REGO_JSON_H
#define PC_REGO_JSON_H

#include <stddef.h>

#include "rego/error.h"
#include "rego/strbuf.h"
#include "rego/value.h"

/*
 * Parses len bytes of JSON into a value in arena. Returns the value, or NULL with err filled
 * (PC_REGO_EINVAL with line and column, or PC_REGO_ENOMEM). err may be NULL.
 */
const struct pc_rego_value *pc_rego_json_parse(struct pc_rego_arena *arena, const char *text,
                                               size_t len, struct pc_rego_error *err);

enum pc_rego_json_flags {
    PC_REGO_JSON_PRETTY = 1,      /* two-space indentation, as OPA's CLI prints */
    PC_REGO_JSON_ESCAPE_HTML = 2, /* <, > and & as \u003c..., as Go's json.Marshal does */
};

/* Appends the JSON text of v to sb (flags from enum pc_rego_json_flags). */
void pc_rego_json_write(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags);

/*
 * Appends v in Rego term syntax, as OPA prints values in messages and sprintf: strings quoted,
 * ", " between members, sets as {1, 2} (set() when empty).
 */
void pc_rego_write_term(struct pc_rego_strbuf *sb, const struct pc_rego_value *v);

/* Appends s[0..len) as a quoted JSON string. */
void pc_rego_json_write_string(struct pc_rego_strbuf *sb, const char *s, size_t len,
                               unsigned flags);

#endif
