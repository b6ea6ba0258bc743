/* fw_hash.h — 64-bit non-cryptographic hashing for alert ids and tables.
 * Stable across platforms and versions: alert ids derived from it must
 * never change for the same (rule, entity, evidence). */
#ifndef FW_HASH_H
#define FW_HASH_H

#include <stddef.h>
#include <stdint.h>

/** @brief Hashes @p n bytes with @p seed (a MurmurHash3-style mix, our own). */
uint64_t fw_hash64(const void *data, size_t n, uint64_t seed);

#endif
