/* detect_small_then_large.c — small_then_large: a card's transaction below X,
 * its next one above Y within T (seed 002's CEP pattern). A sequence: it sees
 * the card's transactions in order only. */
#include <stdio.h>

#include "detect.h"

static void detect_small_then_large(fw_engine *e, fw_entity *card, const fw_txn *t, fw_evrec *cur) {
    const __typeof__(e->rules.small_then_large) *p = &e->rules.small_then_large;
    if (card->has_prev && card->prev.amount < p->small_below && t->amount > p->large_above &&
        t->ts_ms - card->prev.ts < p->within_ms) {
        size_t nev = 0;
        fw_detect_evidence(e, &nev, &card->prev);
        fw_detect_evidence(e, &nev, cur);
        snprintf(e->reason, sizeof(e->reason),
                 "a %.2f transaction (below %.2f) followed %.1f s later on the same card by "
                 "%.2f (above %.2f), within %lld minutes",
                 card->prev.amount, p->small_below, (double)(t->ts_ms - card->prev.ts) / 1000,
                 t->amount, p->large_above, (long long)(p->within_ms / 60000));
        fw_detect_raise(e, card, FW_RULE_SMALL_THEN_LARGE, t, nev, card->prev.ts,
                        card->prev.ts + p->within_ms, NULL);
    }
}

const fw_detector fw_detector_small_then_large = {
    .rule = FW_RULE_SMALL_THEN_LARGE,
    .name = "small_then_large",
    .phase = FW_PHASE_CARD,
    .needs = 0,
    .on_event = detect_small_then_large,
};
