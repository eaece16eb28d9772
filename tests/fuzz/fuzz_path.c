/*
 * libFuzzer target for pc_path_normalize. The first input byte picks keep_encoded_slashes; the
 * rest is the path. Beyond memory safety it checks the promises the matcher relies on: the
 * result starts with '/', never grows, holds no empty, "." or ".." segment, and normalising it
 * again changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "route/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_segments(const char *p, size_t len)
{
    size_t seg = 1;

    for (size_t i = 1; i <= len; i++) {
        if (i < len && p[i] != '/') {
            continue;
        }
        size_t n = i - seg;

        /* An empty segment is allowed only as the trailing slash. */
        if (n == 0 && i < len) {
            abort();
        }
        if (n == 1 && p[seg] == '.') {
            abort();
        }
        if (n == 2 && p[seg] == '.' && p[seg + 1] == '.') {
            abort();
        }
        seg = i + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out;
    char *again;
    size_t out_len = 0;
    size_t again_len = 0;
    bool keep;

    if (size == 0) {
        return 0;
    }
    keep = data[0] & 1;
    data++;
    size--;

    out = pc_malloc(size + 1);
    again = pc_malloc(size + 1);
    if (out == NULL || again == NULL) {
        abort();
    }

    if (pc_path_normalize((const char *)data, size, out, &out_len, keep) == 0) {
        if (out_len == 0 || out_len > size || out[0] != '/') {
            abort();
        }
        check_segments(out, out_len);
        if (pc_path_normalize(out, out_len, again, &again_len, keep) != 0) {
            abort();
        }
        if (again_len != out_len || memcmp(out, again, out_len) != 0) {
            abort();
        }
    }

    pc_free(out);
    pc_free(again);
    return 0;
}
