/* detect_fan_in.c — fan_in: transfers into one account from many distinct
 * senders within a window (AML). Reads the receiver's inbound list. */
#include <stdio.h>

#include "detect.h"

static void detect_fan_in(fw_engine *e, fw_entity *in, const fw_txn *t, fw_evrec *cur) {
    (void)cur;
    const __typeof__(e->rules.fan_in) *p = &e->rules.fan_in;
    if (!(t->amount > p->min_amount))
        return;
    int64_t from = t->ts_ms - p->window_ms;
    bool indexed;
    int n = fw_detect_distinct_parties(e, in, from, t->ts_ms, p->min_senders, &indexed);
    if (n < p->min_senders)
        return;
    size_t nev = fw_detect_report_parties(e, in, &in->win, from, t->ts_ms, p->min_amount, indexed);
    snprintf(e->reason, sizeof(e->reason),
             "transfers from %d distinct accounts within %lld hours (limit %d); %zu transfers",
             n, (long long)(p->window_ms / 3600000), p->min_senders, nev);
    fw_detect_raise(e, in, FW_RULE_FAN_IN, t, nev, from, t->ts_ms, NULL);
}

const fw_detector fw_detector_fan_in = {
    .rule = FW_RULE_FAN_IN,
    .name = "fan_in",
    .phase = FW_PHASE_INBOUND,
    .needs = FW_NEEDS_INBOUND,
    .on_event = detect_fan_in,
};
