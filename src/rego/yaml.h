/*
 * YAML reading (libyaml) and writing for Rego values: data documents, the conformance cases
 * and the yaml.* builtins.
 *
 * Plain scalars resolve as go-yaml v2 resolves them (OPA reads YAML data and yaml.unmarshal
 * through it): null and ~ are null, YAML 1.1 booleans (yes/no/on/off/y/n as well as
 * true/false) are booleans, numbers in any radix are numbers (integers of any size stay exact),
 * everything else, timestamps included, is a string. Mapping keys become strings. Aliases are
 * expanded. Only the first document of a stream is read.
 */
#ifndef PC_REGO_YAML_H
#define PC_REGO_YAML_H

#include <stddef.h>

#include "rego/error.h"
#include "rego/strbuf.h"
#include "rego/value.h"

/*
 * Parses YAML text into a value in arena (null for an empty document). Returns NULL with err
 * filled (PC_REGO_EINVAL with line and column, or PC_REGO_ENOMEM).
 */
const struct pc_rego_value *pc_rego_yaml_parse(struct pc_rego_arena *arena, const char *text,
                                               size_t len, struct pc_rego_error *err);

/* Appends v as a YAML document (block style, sets as sequences) to sb. */
void pc_rego_yaml_write(struct pc_rego_strbuf *sb, const struct pc_rego_value *v);

#endif
