/* detect_fan_out.c — fan_out: transfers from one account to many distinct
 * counterparties within a window (AML). Reads the account's outflows. */
#include <stdio.h>

#include "detect.h"

static void detect_fan_out(fw_engine *e, fw_entity *acct, const fw_txn *t, fw_evrec *cur) {
    (void)cur;
    const __typeof__(e->rules.fan_out) *p = &e->rules.fan_out;
    if (t->type != FW_TXN_TRANSFER || !(t->amount > p->min_amount))
        return; /* an outflow, but a withdrawal or too small to count */
    int64_t from = t->ts_ms - p->window_ms; /* the window is (from, ts] */
    bool indexed;
    int n = fw_detect_distinct_parties(e, acct, from, t->ts_ms, p->min_counterparties, &indexed);
    if (n < p->min_counterparties)
        return;
    size_t nev = fw_detect_report_parties(e, acct, &acct->recent, from, t->ts_ms, p->min_amount,
                                          indexed);
    snprintf(e->reason, sizeof(e->reason),
             "transfers to %d distinct accounts within %lld hours (limit %d); %zu transfers",
             n, (long long)(p->window_ms / 3600000), p->min_counterparties, nev);
    fw_detect_raise(e, acct, FW_RULE_FAN_OUT, t, nev, from, t->ts_ms, NULL);
}

const fw_detector fw_detector_fan_out = {
    .rule = FW_RULE_FAN_OUT,
    .name = "fan_out",
    .phase = FW_PHASE_OUTFLOW,
    .needs = FW_NEEDS_OUTFLOWS,
    .on_event = detect_fan_out,
};
