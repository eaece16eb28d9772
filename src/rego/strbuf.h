/*
 * A growable byte buffer for building text: JSON output, sprintf results, error messages.
 *
 * A buffer grows either in an arena (when given one: the text lives as long as the arena, and
 * growth leaves the old copy behind until reset) or on the heap through the engine's hooks
 * (released with pc_rego_strbuf_free). Appends never fail half-way: after an allocation failure
 * the buffer is marked failed, further appends are ignored, and pc_rego_strbuf_failed says so.
 */
#ifndef PC_REGO_STRBUF_H
#define PC_REGO_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "rego/mem.h"

/* Fields: data[0..len) is the text, NUL-terminated after any successful append. */
struct pc_rego_strbuf {
    char *data;
    size_t len;
    size_t cap;
    struct pc_rego_arena *arena;
    bool failed;
};

/* Starts an empty buffer growing in arena, or on the heap when arena is NULL. */
void pc_rego_strbuf_init(struct pc_rego_strbuf *sb, struct pc_rego_arena *arena);

/* Releases a heap buffer's memory (no-op for arena buffers); accepts NULL. */
void pc_rego_strbuf_free(struct pc_rego_strbuf *sb);

/* Appends n bytes of s / one byte / a NUL-terminated string / printf output. */
void pc_rego_strbuf_add(struct pc_rego_strbuf *sb, const char *s, size_t n);
void pc_rego_strbuf_addc(struct pc_rego_strbuf *sb, char c);
void pc_rego_strbuf_adds(struct pc_rego_strbuf *sb, const char *s);
void pc_rego_strbuf_addf(struct pc_rego_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends the UTF-8 encoding of code point cp (invalid ones become U+FFFD). */
void pc_rego_strbuf_add_utf8(struct pc_rego_strbuf *sb, unsigned cp);

/* Returns whether an append ran out of memory. */
static inline bool
pc_rego_strbuf_failed(const struct pc_rego_strbuf *sb)
{
    return sb->failed;
}

#endif
