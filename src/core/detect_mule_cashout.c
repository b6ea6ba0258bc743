/* detect_mule_cashout.c — mule_cashout: money an account received leaving it
 * again, most of it and soon (AML). Weighs the account's inbound transfers
 * against its outflows. */
#include <stdio.h>

#include "detect.h"

/* Evidence of a cash-out: the records in [first, now] not yet in one. */
static void report_cashed(fw_engine *e, fw_evlist *l, int64_t first, int64_t now, size_t *nev) {
    uint32_t lo = fw_evlist_find(l, first, false), hi = fw_evlist_find(l, now, true);
    for (uint32_t i = lo; i < hi; i++) {
        fw_evrec *r = &l->ev[i];
        if (!(r->flags & FW_EV_CASHED)) {
            fw_detect_evidence(e, nev, r);
            r->flags |= FW_EV_CASHED;
        }
    }
    fw_evlist_recount(l, lo); /* cashed amounts leave the running sums */
}

/* Received money leaving again. Of the transfers received within the
 * window, the latest ones (FW_SCAN_MAX at most) are weighed against the
 * outflows since the first of them: the longest such run that was cashed out
 * alerts, so an unrelated transfer received earlier does not dilute the
 * ratio. Transfers and outflows count in one alert at most. */
static void detect_mule_cashout(fw_engine *e, fw_entity *acct, const fw_txn *t, fw_evrec *cur) {
    (void)cur;
    const __typeof__(e->rules.mule_cashout) *p = &e->rules.mule_cashout;
    fw_entity *in = fw_state_get(&e->state, FW_ENT_INBOUND, t->account_id, false);
    if (!in)
        return;
    const fw_evlist *ins = &in->win, *outs = &acct->recent;
    int64_t from = t->ts_ms - p->within_ms, first = INT64_MAX;
    fw_units inbound = 0, best_in = 0, best_out = 0, min_in = fw_units_of(p->min_inbound);
    uint32_t weighed = 0, out_end = fw_evlist_find(outs, t->ts_ms, true), out_from = out_end;
    for (uint32_t i = fw_evlist_find(ins, t->ts_ms, true); i-- > 0;) { /* newest first */
        const fw_evrec *r = &ins->ev[i];
        if (r->ts <= from)
            break;
        if (weighed++ == FW_SCAN_MAX) { /* those already in an alert count too */
            e->stats.scan_limited++;
            break;
        }
        if (r->flags & FW_EV_CASHED)
            continue;
        inbound += fw_units_of(r->amount);
        /* Outflows since this transfer arrived, not yet in an alert: the
         * first of them moves back with r, a few steps or a search. */
        int steps = 0;
        while (out_from > 0 && outs->ev[out_from - 1].ts >= r->ts && steps++ < 8)
            out_from--;
        if (out_from > 0 && outs->ev[out_from - 1].ts >= r->ts) {
            fw_evlist head = { .ev = outs->ev, .n = out_from };
            out_from = fw_evlist_find(&head, r->ts, false);
        }
        fw_units outflow = fw_evlist_units(outs, out_from, out_end);
        if (inbound >= min_in && (double)outflow >= p->min_ratio * (double)inbound) {
            first = r->ts;
            best_in = inbound;
            best_out = outflow;
        }
    }
    if (first == INT64_MAX)
        return;
    size_t nev = 0;
    report_cashed(e, &in->win, first, t->ts_ms, &nev);
    report_cashed(e, &acct->recent, first, t->ts_ms, &nev);
    fw_engine_touch(e, in);
    snprintf(e->reason, sizeof(e->reason),
             "received %.2f in transfers and sent or withdrew %.2f of it (%.0f %%, limit "
             "%.0f %%) within %.1f minutes",
             (double)best_in / FW_UNITS_PER_1, (double)best_out / FW_UNITS_PER_1,
             100 * (double)best_out / (double)best_in, 100 * p->min_ratio,
             (double)(t->ts_ms - first) / 60000);
    fw_detect_raise(e, acct, FW_RULE_MULE_CASHOUT, t, nev, first, first + p->within_ms, NULL);
}

const fw_detector fw_detector_mule_cashout = {
    .rule = FW_RULE_MULE_CASHOUT,
    .name = "mule_cashout",
    .phase = FW_PHASE_OUTFLOW,
    .needs = FW_NEEDS_OUTFLOWS | FW_NEEDS_INBOUND,
    .on_event = detect_mule_cashout,
};
