/* test_time_guard.c — table-driven tests of time_guard.c: which records a
 * file's event times accept at once, hold and then accept, or reject, and in
 * which order the verdicts come. Times are minutes; the jump bound is 1 h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "time_guard.h"

#define MIN_MS 60000LL
#define P 5000000LL   /* a poisoned time: about 9.5 years ahead, in minutes */
#define END -1

typedef struct gcase {
    const char *name;
    int64_t jump_min;            /* 0: guard off */
    int64_t ts[16];              /* minutes, END-terminated */
    int accepted[16];            /* record indices in the order accepted, -1-terminated */
    int rejected[16];            /* in the order rejected, -1-terminated */
} gcase;

typedef struct run {
    int slot_rec[FW_TIME_GUARD_MAX_HELD]; /* record index held in each slot */
    int accepted[32], rejected[32];
    int nacc, nrej;
    fw_time_guard_verdict last_reject;
} run;

static void on_verdict(void *opaque, const fw_time_guard_verdict *v) {
    run *r = opaque;
    int rec = r->slot_rec[v->slot];
    if (v->accepted) {
        r->accepted[r->nacc++] = rec;
    } else {
        r->rejected[r->nrej++] = rec;
        r->last_reject = *v;
    }
}

static void list(char *out, size_t size, const int *v, int n) {
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(out + off, size - off, "%s%d", i ? "," : "", v[i]);
}

static void run_case(const gcase *c, run *r) {
    fw_time_guard g;
    fw_time_guard_init(&g, c->jump_min * MIN_MS);
    memset(r, 0, sizeof(*r));
    for (int i = 0; c->ts[i] != END; i++) {
        uint32_t slot = 99;
        if (fw_time_guard_offer(&g, c->ts[i] * MIN_MS, &slot, on_verdict, r)) {
            r->accepted[r->nacc++] = i;
        } else {
            assert_true(slot < FW_TIME_GUARD_MAX_HELD);
            r->slot_rec[slot] = i;
        }
    }
    fw_time_guard_finish(&g, on_verdict, r);
    assert_int_equal(g.nheld, 0);
}

static void check(const gcase *c, const char *what, const int *want, const int *got, int ngot) {
    int nwant = 0;
    while (want[nwant] != -1)
        nwant++;
    char w[128], g[128];
    list(w, sizeof(w), want, nwant);
    list(g, sizeof(g), got, ngot);
    if (nwant != ngot || memcmp(want, got, sizeof(int) * (size_t)ngot))
        fail_msg("%s: %s [%s], expected [%s]", c->name, what, g, w);
}

static const gcase cases[] = {
    { "sorted with gaps under the bound", 60, { 0, 1, 2, 30, 31, 90, END },
      { 0, 1, 2, 3, 4, 5, -1 }, { -1 } },
    { "one poison in the middle", 60, { 0, 1, P, 2, 3, 4, 5, END },
      { 0, 1, 3, 4, 5, 6, -1 }, { 2, -1 } },
    { "poison first (the issue's repro)", 60, { P, 1, 2, 3, END },
      { 1, 2, 3, -1 }, { 0, -1 } },
    { "poison last: uncontradicted, accepted at the end", 60, { 0, 1, 2, P, END },
      { 0, 1, 2, 3, -1 }, { -1 } },
    { "two poisons apart", 60, { 0, 1, P, 2, P, 3, 4, 5, END },
      { 0, 1, 3, 5, 6, 7, -1 }, { 2, 4, -1 } },
    { "two different poisons in a row", 60, { 0, 1, P, P / 2, 2, 3, 4, END },
      { 0, 1, 4, 5, 6, -1 }, { 2, 3, -1 } },
    { "sparse data, every gap over the bound", 60, { 0, 120, 240, 360, 480, END },
      { 0, 1, 2, 3, 4, -1 }, { -1 } },
    { "a real jump with a straggler after it", 60, { 0, 1, 200, 2, 201, 202, END },
      { 0, 1, 3, 2, 4, 5, -1 }, { -1 } },
    { "far in the past: accepted here, late in the engine", 60, { 0, 1, 2, -100000, 3, END },
      { 0, 1, 2, 3, 4, -1 }, { -1 } },
    { "a single record", 60, { 7, END }, { 0, -1 }, { -1 } },
    { "guard off", 0, { P, 1, 2, 3, END }, { 0, 1, 2, 3, -1 }, { -1 } },
};

static void test_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run r;
        run_case(&cases[i], &r);
        check(&cases[i], "accepted", cases[i].accepted, r.accepted, r.nacc);
        check(&cases[i], "rejected", cases[i].rejected, r.rejected, r.nrej);
    }
}

/* A rejection names what the reason needs: the newest accepted time and the
 * number of contradictions. */
static void test_rejection_details(void **state) {
    (void)state;
    run r;
    run_case(&cases[1], &r);
    assert_int_equal(r.nrej, 1);
    if (r.last_reject.ts != P * MIN_MS || r.last_reject.reference != 3 * MIN_MS ||
        r.last_reject.contradictions != FW_TIME_GUARD_CONTRADICTIONS)
        fail_msg("verdict ts %lld reference %lld contradictions %u, expected %lld %lld %d",
                 (long long)r.last_reject.ts, (long long)r.last_reject.reference,
                 r.last_reject.contradictions, (long long)(P * MIN_MS),
                 (long long)(3 * MIN_MS), FW_TIME_GUARD_CONTRADICTIONS);
}

/* Nothing is lost when more jumps wait than the queue holds: every record is
 * decided exactly once. */
static void count_verdict(void *opaque, const fw_time_guard_verdict *v) {
    (void)v;
    (*(int *)opaque)++;
}

static void test_queue_full(void **state) {
    (void)state;
    fw_time_guard g;
    fw_time_guard_init(&g, 60 * MIN_MS);
    int decided = 0, at_once = 0, n = 3 * FW_TIME_GUARD_MAX_HELD;
    /* Jumps forward by two hours, and every other record a day further back:
     * a mix of confirmations and contradictions, more records than slots. */
    for (int i = 0; i < n; i++) {
        uint32_t slot;
        int64_t ts = (P + (int64_t)i * 120 - (i % 2) * 1440 * (i + 1)) * MIN_MS;
        at_once += fw_time_guard_offer(&g, ts, &slot, count_verdict, &decided);
        assert_true(g.nheld <= FW_TIME_GUARD_MAX_HELD);
    }
    fw_time_guard_finish(&g, count_verdict, &decided);
    if (decided + at_once != n)
        fail_msg("%d decided + %d accepted at once, expected %d records", decided, at_once, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_rejection_details),
        cmocka_unit_test(test_queue_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
