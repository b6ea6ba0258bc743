/* fw_hash.c — 64-bit hashing: 8-byte lanes mixed with multiply-rotate and
 * finished with the murmur3 avalanche, read byte-wise so it is endian- and
 * alignment-independent. */
#include "fw_hash.h"

#include <string.h>

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t load_le64(const unsigned char *p, size_t n) {
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The same value as the loop below in one or two loads (hot: every
     * key). A short tail reads overlapping pieces; overlaps OR the same bytes. */
    if (n == 8) {
        memcpy(&v, p, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        v = a | ((uint64_t)b << (8 * (n - 4)));
    } else if (n) {
        v = (uint64_t)p[0] | ((uint64_t)p[n / 2] << (8 * (n / 2))) |
            ((uint64_t)p[n - 1] << (8 * (n - 1)));
    }
#else
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
#endif
    return v;
}

uint64_t fw_hash64(const void *data, size_t n, uint64_t seed) {
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    const unsigned char *p = data;
    uint64_t h = seed ^ (n * c1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t k = load_le64(p + i, 8);
        k *= c1;
        k = rotl64(k, 31);
        k *= c2;
        h ^= k;
        h = rotl64(h, 27) * 5 + 0x52dce729;
    }
    if (i < n) {
        uint64_t k = load_le64(p + i, n - i);
        k *= c2;
        k = rotl64(k, 33);
        k *= c1;
        h ^= k;
    }
    return fmix64(h ^ n);
}
