/* test_hash.c — fw_hash64 (fw_hash.c) is part of the data: alert ids, the
 * changelog's part ids and state keys are built from it, so its values must
 * never change. Known values pin it, and a byte-by-byte reference (the
 * portable definition) checks every length and alignment of the fast loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fw_hash.h"

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* The definition, reading one byte at a time. */
static uint64_t reference(const unsigned char *p, size_t n, uint64_t seed) {
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    uint64_t h = seed ^ (n * c1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t k = 0;
        for (int b = 0; b < 8; b++)
            k |= (uint64_t)p[i + (size_t)b] << (8 * b);
        h ^= rotl(k * c1, 31) * c2;
        h = rotl(h, 27) * 5 + 0x52dce729;
    }
    if (i < n) {
        uint64_t k = 0;
        for (size_t b = 0; i + b < n; b++)
            k |= (uint64_t)p[i + b] << (8 * b);
        h ^= rotl(k * c2, 33) * c1;
    }
    h ^= n;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static void test_every_length_and_alignment(void **state) {
    (void)state;
    unsigned char buf[80];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11); /* high bits set in some bytes */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= 64; n++) {
            uint64_t got = fw_hash64(buf + off, n, 0x66726175647761ULL);
            uint64_t want = reference(buf + off, n, 0x66726175647761ULL);
            if (got != want)
                fail_msg("length %zu at offset %zu: got %016llx, want %016llx", n, off,
                         (unsigned long long)got, (unsigned long long)want);
        }
}

/* Values as the first release computed them: a change here changes every
 * alert id and changelog key. */
static void test_known_values(void **state) {
    (void)state;
    static const struct {
        const char *s;
        uint64_t seed, want;
    } cases[] = {
        { "", 0, 0x0000000000000000ULL },
        { "a", 7, 0x168716e0235804bbULL },
        { "card_id=card-1234-1", 0x6c616e67u, 0xed5d9848b68c3a49ULL },
        { "account_id=acct-9347", 0x66726175647761ULL, 0xe90eddcec7089948ULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t want = cases[i].want;
        uint64_t got = fw_hash64(cases[i].s, strlen(cases[i].s), cases[i].seed);
        if (got != want)
            fail_msg("\"%s\" seed %llx: got %016llx, want %016llx", cases[i].s,
                     (unsigned long long)cases[i].seed, (unsigned long long)got,
                     (unsigned long long)want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_and_alignment),
        cmocka_unit_test(test_known_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
