/*
 * libFuzzer target for the caching fields the outbound HTTP client reads from a remote server's
 * response head: the input is one Cache-Control value, then the same bytes as an HTTP-date.
 * Beyond memory safety it checks the ranges the header promises (max-age -1 or 0 .. 2^31, a date
 * -1 or not negative, a freshness of at least -1) and that a second Cache-Control line never
 * replaces the first max-age.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *value = (const char *)data;
    struct pc_fetch_caching caching;

    pc_fetch_caching_init(&caching);
    pc_fetch_parse_cache_control(value, size, &caching);
    if (caching.max_age_s < -1 || caching.max_age_s > 2147483648LL) {
        abort();
    }

    int64_t first = caching.max_age_s;

    pc_fetch_parse_cache_control(value, size, &caching);
    if (caching.max_age_s != first) {
        abort();
    }

    int64_t date = pc_fetch_parse_http_date(value, size);

    if (date < -1) {
        abort();
    }
    caching.date_s = date;
    caching.expires_s = date;
    if (pc_fetch_freshness_s(&caching, 1700000000) < -1) {
        abort();
    }
    return 0;
}
