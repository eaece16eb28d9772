/*
 * Request path normalisation: the one canonical form of a path that is both matched against
 * routes and forwarded upstream, so a gateway rule and the backend can never disagree on what
 * path a request names.
 *
 * Pure functions over caller-provided buffers: no allocation, no state, safe from any thread.
 * The rules are listed in docs/CONFIGURATION.md, section "Request paths".
 */
#ifndef PC_ROUTE_PATH_H
#define PC_ROUTE_PATH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Normalises the origin-form path in[0..len) (without the query) into out, applying once:
 * percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded and every other
 * percent-encoding is kept with upper-case hex digits (RFC 3986 section 6.2.2); %2F and %5C are
 * refused unless keep_encoded_slashes, which keeps them encoded; runs of slashes collapse to one;
 * "." and ".." segments (also when spelt with %2E) are removed as RFC 3986 section 5.2.4 says,
 * never climbing above the root.
 *
 * in is borrowed. out must have room for len bytes (normalising never grows a path) and may be
 * the same buffer as in; it is not NUL-terminated. *out_len receives the length written.
 * Returns 0, or PC_EPARSE when the path does not start with "/", holds a malformed
 * percent-encoding, a refused encoded slash, or a literal backslash, NUL, control character,
 * space, '#' or '?'. On PC_EPARSE, out holds unspecified bytes.
 */
int pc_path_normalize(const char *in, size_t len, char *out, size_t *out_len,
                      bool keep_encoded_slashes);

#endif
