/*
 * The seeded hash: 8-byte words, each mixed with the seed through a 64-bit finaliser (MurmurHash3's
 * fmix64 constants) and folded in with a multiply; about a nanosecond per word.
 */
#include "core/hash.h"

#include <sys/random.h>

#include <string.h>

static uint64_t
mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t
pc_hash_seed(void)
{
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        seed = mix((uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ull);
    }
    return seed;
}

uint64_t
pc_hash_bytes(uint64_t seed, const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ mix(w ^ seed)) * 0x100000001b3ull;
    }
    if (i < len) {
        uint64_t w = 0;

        memcpy(&w, p + i, len - i);
        h = (h ^ mix(w ^ seed ^ 0xa5)) * 0x100000001b3ull;
    }
    return mix(h);
}
