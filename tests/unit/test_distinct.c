/* test_distinct.c — the distinct-keys index against a brute-force model:
 * random notes (mostly in time order, some behind), forgets and counts,
 * with few keys (long probe runs, many moves) and many (growth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "distinct.h"

#define MODEL_MAX 4096

typedef struct model {
    uint64_t key[MODEL_MAX];
    int64_t ts[MODEL_MAX];
    uint32_t n, peak;
} model;

static void model_note(model *m, uint64_t key, int64_t ts) {
    for (uint32_t i = 0; i < m->n; i++)
        if (m->key[i] == key) {
            if (ts > m->ts[i])
                m->ts[i] = ts;
            return;
        }
    m->key[m->n] = key;
    m->ts[m->n++] = ts;
    if (m->n > m->peak)
        m->peak = m->n;
}

static void model_forget(model *m, int64_t before) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->ts[i] >= before) {
            m->key[k] = m->key[i];
            m->ts[k++] = m->ts[i];
        }
    m->n = k;
}

static uint32_t model_count(const model *m, int64_t from, bool inclusive, uint32_t limit) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < m->n; i++)
        c += inclusive ? m->ts[i] >= from : m->ts[i] > from;
    return c < limit ? c : limit;
}

static uint64_t state;
static uint32_t rnd(uint32_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33) % n;
}

static void run(uint64_t seed, uint32_t keys, int steps, uint32_t forget_permille) {
    static model m;
    m.n = m.peak = 0;
    state = seed;
    fw_distinct *d = fw_distinct_new();
    assert_non_null(d);
    int64_t now = 1000;
    for (int step = 0; step < steps; step++) {
        uint32_t op = rnd(1000);
        if (op < forget_permille) {
            int64_t before = now - (int64_t)rnd(200);
            fw_distinct_forget_before(d, before);
            model_forget(&m, before);
        } else if (op < 700) {
            now += rnd(5);
            int64_t ts = rnd(10) ? now : now - (int64_t)rnd(50); /* some behind */
            /* keys that share their low bits probe into each other's runs */
            uint64_t key = ((uint64_t)rnd(keys) << 40) | 1;
            assert_true(fw_distinct_note(d, key, ts));
            model_note(&m, key, ts);
        } else if (op < 702) {
            fw_distinct_clear(d);
            m.n = 0;
        } else {
            int64_t from = now - (int64_t)rnd(300);
            bool inclusive = rnd(2);
            uint32_t limit = rnd(4) ? 1 + rnd(30) : UINT32_MAX;
            uint32_t got = fw_distinct_count_since(d, from, inclusive, limit);
            uint32_t want = model_count(&m, from, inclusive, limit);
            if (got != want)
                fail_msg("seed %llu step %d: count since %lld (%s, limit %u): expected %u, got %u",
                         (unsigned long long)seed, step, (long long)from,
                         inclusive ? "inclusive" : "exclusive", limit, want, got);
        }
        if (fw_distinct_size(d) != m.n)
            fail_msg("seed %llu step %d: size expected %u, got %u", (unsigned long long)seed, step,
                     m.n, fw_distinct_size(d));
    }
    if (keys > 1000 && m.peak < 500)
        fail_msg("seed %llu: the index held at most %u keys; the case should grow it past 500",
                 (unsigned long long)seed, m.peak);
    fw_distinct_destroy(d);
}

static void test_against_model(void **s) {
    (void)s;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        run(seed, 8, 5000, 50);      /* few keys: repeated notes move them */
        run(seed, 3000, 20000, 2);   /* many: the table grows and deletes shift */
    }
}

static void test_destroy_null(void **s) {
    (void)s;
    fw_distinct_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
