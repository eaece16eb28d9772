/*
 * Request path normalisation in one left-to-right pass.
 *
 * The output is written segment by segment behind the read position (every input byte yields at
 * most one output byte, and a kept percent-encoding yields the same three), which is what lets a
 * caller normalise in place. A segment is judged for "." and ".." only once it is complete and
 * decoded, so %2E spellings of dot segments are removed like literal ones.
 */
#include "route/path.h"

#include <stdint.h>

#include "core/err.h"

static const char hex_upper[] = "0123456789ABCDEF";

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* RFC 3986 section 2.3. */
static bool
is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.' || c == '_' || c == '~';
}

/*
 * Characters refused outright. A backslash is a separator to some backends and not to others,
 * controls and spaces break request framing, and '#' or '?' cannot legitimately appear in a path
 * that has already been split from its query.
 */
static bool
is_refused(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == ' ' || c == '#' || c == '?' || c == '\\';
}

/*
 * Ends the segment out[seg..o): drops it when it is empty or ".", drops it and the one before
 * for "..", and otherwise appends the '/' that followed it in the input. Returns the new output
 * length. out[seg - 1] is always '/', and out[0] is the root slash nothing can remove.
 */
static size_t
close_segment(char *out, size_t seg, size_t o, bool slash_follows)
{
    size_t n = o - seg;

    if (n == 0) {
        return o;
    }
    if (n == 1 && out[seg] == '.') {
        return seg;
    }
    if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        size_t p;

        if (seg == 1) {
            return 1;
        }
        p = seg - 2;
        while (out[p] != '/') {
            p--;
        }
        return p + 1;
    }
    if (slash_follows) {
        out[o++] = '/';
    }
    return o;
}

/* Decodes or re-emits the percent-encoding at in[i]; returns the output length or -1. */
static long
copy_percent(const char *in, size_t len, size_t i, char *out, size_t o, bool keep_slashes)
{
    int hi;
    int lo;
    unsigned char c;

    if (len - i < 3) {
        return -1;
    }
    hi = hex_value((unsigned char)in[i + 1]);
    lo = hex_value((unsigned char)in[i + 2]);
    if (hi < 0 || lo < 0) {
        return -1;
    }

    c = (unsigned char)(hi << 4 | lo);
    if (is_unreserved(c)) {
        out[o] = (char)c;
        return (long)o + 1;
    }
    if ((c == '/' || c == '\\') && !keep_slashes) {
        /* An encoded separator would let "/a%2F..%2Fadmin" mean one thing here and another to
         * a backend that decodes it. */
        return -1;
    }
    out[o] = '%';
    out[o + 1] = hex_upper[hi];
    out[o + 2] = hex_upper[lo];
    return (long)o + 3;
}

int
pc_path_normalize(const char *in, size_t len, char *out, size_t *out_len, bool keep_encoded_slashes)
{
    size_t i = 1;
    size_t o = 1;
    size_t seg = 1;

    if (len == 0 || in[0] != '/') {
        return PC_EPARSE;
    }
    out[0] = '/';

    while (i <= len) {
        unsigned char c;

        if (i == len || in[i] == '/') {
            o = close_segment(out, seg, o, i < len);
            seg = o;
            i++;
            continue;
        }

        c = (unsigned char)in[i];
        if (c == '%') {
            long next = copy_percent(in, len, i, out, o, keep_encoded_slashes);

            if (next < 0) {
                return PC_EPARSE;
            }
            o = (size_t)next;
            i += 3;
            continue;
        }
        if (is_refused(c)) {
            return PC_EPARSE;
        }
        out[o++] = (char)c;
        i++;
    }

    *out_len = o;
    return 0;
}
