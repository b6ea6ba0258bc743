/* detect_structuring.c — structuring: transfers below X from one account to
 * one counterparty summing above Y within a window (seed 003, AML). */
#include <stdio.h>
#include <string.h>

#include "detect.h"

static void detect_structuring(fw_engine *e, fw_entity *pair, const fw_txn *t, fw_evrec *cur) {
    const __typeof__(e->rules.structuring) *p = &e->rules.structuring;
    if (!(t->amount < p->below) || !(t->amount > 0))
        return;
    fw_evrec r = *cur;
    int64_t from = t->ts_ms - p->window_ms; /* the window is (from, ts] */
    fw_evlist *w = &pair->win;
    fw_evlist_insert(&e->state, w, &r, from - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, pair);
    uint32_t lo = fw_evlist_find(w, from, true), hi = fw_evlist_find(w, t->ts_ms, true);
    fw_units sum = fw_evlist_units(w, lo, hi);
    if (!(sum > fw_units_of(p->total_above)))
        return;
    size_t nev = 0;
    for (uint32_t i = lo; i < hi; i++)
        fw_detect_evidence(e, &nev, &w->ev[i]);
    snprintf(e->reason, sizeof(e->reason),
             "%zu transfers each below %.2f to one counterparty total %.2f within %lld hours "
             "(limit %.2f)",
             nev, p->below, (double)sum / FW_UNITS_PER_1, (long long)(p->window_ms / 3600000),
             p->total_above);
    fw_detect_raise(e, pair, FW_RULE_STRUCTURING, t, nev, from, t->ts_ms, NULL);
    /* Reported funds are reported once: a new alert needs new transfers. In
     * time order they are the list's end, so the list is cut short. */
    if (hi < w->n) {
        memmove(w->ev + lo, w->ev + hi, sizeof(fw_evrec) * (w->n - hi));
        w->n -= hi - lo;
        fw_evlist_recount(w, lo);
    } else {
        w->n = lo;
    }
}

const fw_detector fw_detector_structuring = {
    .rule = FW_RULE_STRUCTURING,
    .name = "structuring",
    .phase = FW_PHASE_PAIR,
    .needs = 0,
    .on_event = detect_structuring,
};
