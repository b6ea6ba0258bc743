/* detect_account_takeover.c — account_takeover: a PASSWORD_CHANGE, then at
 * once a large WITHDRAWAL, on one customer (seed 004). A sequence: in order
 * only. */
#include <stdio.h>

#include "detect.h"

static void detect_account_takeover(fw_engine *e, fw_entity *cust, const fw_txn *t,
                                    fw_evrec *cur) {
    const __typeof__(e->rules.account_takeover) *p = &e->rules.account_takeover;
    const fw_evrec *prev = &cust->prev;
    if (!cust->has_prev || prev->type != FW_TXN_PASSWORD_CHANGE ||
        t->type != FW_TXN_WITHDRAWAL || !(t->amount > p->min_amount) ||
        !(t->ts_ms - prev->ts < p->within_ms))
        return;
    size_t nev = 0;
    fw_detect_evidence(e, &nev, prev);
    fw_detect_evidence(e, &nev, cur);
    snprintf(e->reason, sizeof(e->reason),
             "a password change followed %.1f minutes later by a %.2f withdrawal (above %.2f, "
             "within %lld minutes)",
             (double)(t->ts_ms - prev->ts) / 60000, t->amount, p->min_amount,
             (long long)(p->within_ms / 60000));
    fw_detect_raise(e, cust, FW_RULE_ACCOUNT_TAKEOVER, t, nev, prev->ts, prev->ts + p->within_ms,
                    NULL);
}

const fw_detector fw_detector_account_takeover = {
    .rule = FW_RULE_ACCOUNT_TAKEOVER,
    .name = "account_takeover",
    .phase = FW_PHASE_SEQUENCE,
    .needs = 0,
    .on_event = detect_account_takeover,
};
