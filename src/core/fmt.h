/*
 * Number formatting for the request path, where snprintf's format parsing showed up in
 * profiles. Pure functions over caller buffers; any thread.
 */
#ifndef PC_CORE_FMT_H
#define PC_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes v in decimal to out (room for 20 bytes, no NUL); returns the length. */
size_t pc_fmt_u64(char *out, uint64_t v);

/* Writes v in lower-case hexadecimal to out (room for 16 bytes, no NUL); returns the length. */
size_t pc_fmt_hex(char *out, uint64_t v);

/* Writes the low `digits` hex digits of v, zero-padded, to out; returns digits. */
size_t pc_fmt_hex_fixed(char *out, uint64_t v, unsigned digits);

#endif
