/* detect_rapid_small.c — rapid_small: N consecutive transactions below X on
 * one customer within T (seed 004). A sequence: in order only. */
#include <stdio.h>

#include "detect.h"

static void detect_rapid_small(fw_engine *e, fw_entity *cust, const fw_txn *t, fw_evrec *cur) {
    const __typeof__(e->rules.rapid_small) *p = &e->rules.rapid_small;
    fw_evlist *run = &cust->recent;
    if (!(t->amount < p->below) || t->type == FW_TXN_LOGIN ||
        t->type == FW_TXN_PASSWORD_CHANGE) {
        if (run->n && !(t->type == FW_TXN_LOGIN || t->type == FW_TXN_PASSWORD_CHANGE))
            fw_evlist_clear(run); /* a monetary transaction that is not small breaks the run */
        return;
    }
    if (run->n >= (uint32_t)p->count) /* keep the last count - 1, then append */
        fw_evlist_drop_front(run, run->n - (uint32_t)p->count + 1);
    fw_evrec r = *cur;
    fw_evlist_insert(&e->state, run, &r, INT64_MIN);
    if (run->n == (uint32_t)p->count && t->ts_ms - run->ev[0].ts < p->within_ms &&
        !fw_detect_deduplicated(e, cust, FW_RULE_RAPID_SMALL, t->ts_ms)) {
        size_t nev = 0;
        for (uint32_t i = 0; i < run->n; i++)
            fw_detect_evidence(e, &nev, &run->ev[i]);
        snprintf(e->reason, sizeof(e->reason),
                 "%d consecutive transactions each below %.2f within %.1f minutes (limit %lld "
                 "minutes)",
                 p->count, p->below, (double)(t->ts_ms - run->ev[0].ts) / 60000,
                 (long long)(p->within_ms / 60000));
        fw_detect_emit(e, cust, FW_RULE_RAPID_SMALL, t, nev, run->ev[0].ts,
                       run->ev[0].ts + p->within_ms, NULL);
    }
}

const fw_detector fw_detector_rapid_small = {
    .rule = FW_RULE_RAPID_SMALL,
    .name = "rapid_small",
    .phase = FW_PHASE_SEQUENCE,
    .needs = 0,
    .on_event = detect_rapid_small,
};
