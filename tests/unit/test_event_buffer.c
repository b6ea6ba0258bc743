/* test_event_buffer.c — the event-time reorder buffer (event_buffer.c)
 * releases in fw_txn_order: event time, then transaction id bytes, shorter
 * first on a common prefix. The heap compares a copy of the time and the
 * id's first 8 bytes and looks at the transaction only on a tie there, so
 * the ids here share 8-byte prefixes, are shorter than 8, hold NUL bytes
 * and repeat, across few distinct times. And filter keeps what it is told,
 * in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "event_buffer.h"

#define N 5000

static const char *const stems[] = { "", "a", "ab", "abcdefg", "abcdefgh", "abcdefgh0",
                                     "abcdefgh1", "abcdefgi", "tx-42-53", "tx-42-531" };

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char ids[N][16];
static size_t lens[N];

static void fill(fw_event_buffer *b, uint64_t seed) {
    for (int i = 0; i < N; i++) {
        const char *stem = stems[next(&seed) % (sizeof(stems) / sizeof(stems[0]))];
        size_t n = strlen(stem);
        memcpy(ids[i], stem, n);
        if (next(&seed) % 4 == 0) /* a NUL, then a byte: equal to the stem in the first 8 */
            ids[i][n++] = '\0', ids[i][n++] = (char)('0' + next(&seed) % 3);
        lens[i] = n;
        fw_txn t = { .ts_ms = (int64_t)(next(&seed) % 7) - 3,
                     .transaction_id = { ids[i], n } };
        assert_non_null(fw_event_buffer_push(b, &t));
    }
}

static bool keep_even_times(void *opaque, fw_buffered *c) {
    (void)opaque;
    return c->txn.ts_ms % 2 == 0;
}

static void test_releases_in_order(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        fw_pool pool;
        fw_pool_init(&pool);
        fw_event_buffer b;
        fw_event_buffer_init(&b, &pool, UINT32_MAX);
        fill(&b, seed * 0x9e3779b97f4a7c15ULL);
        if (seed == 3) { /* filtered, then still a heap */
            fw_event_buffer_filter(&b, keep_even_times, NULL);
            assert_true(b.n > 0 && b.n < N);
        }
        uint32_t want = b.n, got = 0;
        fw_txn prev = { 0 };
        char prev_id[16];
        const fw_txn *t;
        while ((t = fw_event_buffer_peek(&b))) {
            if (seed == 3 && t->ts_ms % 2)
                fail_msg("filter kept a transaction at %lld", (long long)t->ts_ms);
            if (got && fw_txn_order(&prev, t) > 0)
                fail_msg("release %u out of order: time %lld after %lld, id of %zu bytes after "
                         "one of %zu", got, (long long)t->ts_ms, (long long)prev.ts_ms,
                         t->transaction_id.len, prev.transaction_id.len);
            memcpy(prev_id, t->transaction_id.ptr, t->transaction_id.len);
            prev = (fw_txn){ .ts_ms = t->ts_ms,
                             .transaction_id = { prev_id, t->transaction_id.len } };
            got++;
            fw_event_buffer_pop(&b);
        }
        if (got != want)
            fail_msg("released %u of %u", got, want);
        fw_event_buffer_fini(&b);
        fw_pool_fini(&pool);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_releases_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
