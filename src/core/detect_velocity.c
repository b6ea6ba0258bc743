/* detect_velocity.c — velocity: >= N transactions above X on one account in an
 * aligned sliding window (seed 002). */
#include <stdio.h>

#include "detect.h"

static bool velocity_ok(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end,
                        void *arg) {
    (void)arg;
    uint32_t n = fw_evlist_find(l, end, false) - fw_evlist_find(l, start, false);
    return n >= (uint32_t)e->rules.velocity.min_count;
}

static void detect_velocity(fw_engine *e, fw_entity *acct, const fw_txn *t, fw_evrec *cur) {
    const __typeof__(e->rules.velocity) *p = &e->rules.velocity;
    if (!(t->amount > p->min_amount))
        return;
    fw_evrec r = *cur;
    fw_evlist_insert(&e->state, &acct->win, &r,
                     t->ts_ms - p->window_ms - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, acct);
    int64_t start = fw_detect_first_window(e, &acct->win, t->ts_ms, p->window_ms, p->slide_ms,
                                           velocity_ok, NULL);
    if (start == INT64_MIN || fw_detect_deduplicated(e, acct, FW_RULE_VELOCITY, t->ts_ms))
        return;
    size_t nev = 0;
    uint32_t end = fw_evlist_find(&acct->win, start + p->window_ms, false);
    for (uint32_t i = fw_evlist_find(&acct->win, start, false); i < end; i++)
        fw_detect_evidence(e, &nev, &acct->win.ev[i]);
    snprintf(e->reason, sizeof(e->reason),
             "%zu transactions above %.2f within the %lld-minute window; the limit is %d",
             nev, p->min_amount, (long long)(p->window_ms / 60000), p->min_count);
    fw_detect_emit(e, acct, FW_RULE_VELOCITY, t, nev, start, start + p->window_ms, NULL);
}

const fw_detector fw_detector_velocity = {
    .rule = FW_RULE_VELOCITY,
    .name = "velocity",
    .phase = FW_PHASE_ACCOUNT,
    .needs = 0,
    .on_event = detect_velocity,
};
