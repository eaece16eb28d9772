/*
 * A seeded 64-bit hash of byte strings for the per-worker hash tables (verified tokens,
 * remote decisions). Each table draws its own seed from getrandom, so a client that chooses
 * the bytes (a token, a path) cannot aim its entries at one bucket without knowing the seed.
 * Not a cryptographic hash: tables confirm every hit by comparing the whole key. Pure functions,
 * any thread.
 */
#ifndef PC_CORE_HASH_H
#define PC_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns a random seed (from getrandom; from an address and a constant if that fails). */
uint64_t pc_hash_seed(void);

/* Returns the hash of the len bytes at s (borrowed for the call) under seed. */
uint64_t pc_hash_bytes(uint64_t seed, const void *s, size_t len);

#endif
