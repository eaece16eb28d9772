/*
 * UTF-8 decoding with Go's rules, which Rego's string builtins inherit from OPA: a byte that
 * does not start a valid sequence decodes as U+FFFD with a width of one byte.
 */
#ifndef PC_REGO_UTF8_H
#define PC_REGO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the rune at s[0..len) (len > 0) into *cp; returns its width in bytes (1 to 4). */
size_t pc_rego_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Returns the number of runes in s[0..len). */
size_t pc_rego_utf8_count(const char *s, size_t len);

/* Returns whether s[0..len) is valid UTF-8. */
bool pc_rego_utf8_valid(const char *s, size_t len);

/* Encodes cp into out (room for 4 bytes); returns the width. Invalid code points give U+FFFD. */
size_t pc_rego_utf8_encode(uint32_t cp, char *out);

/* Unicode simple case mapping of cp (as Go's unicode.ToLower / ToUpper). */
uint32_t pc_rego_utf8_lower(uint32_t cp);
uint32_t pc_rego_utf8_upper(uint32_t cp);

/* Go's unicode.IsSpace: ASCII white space, U+0085, U+00A0 and the Unicode space separators. */
bool pc_rego_utf8_is_space(uint32_t cp);

#endif
