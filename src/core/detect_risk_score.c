/* detect_risk_score.c — risk_score: points per customer over a sliding window
 * for unusually large amounts (against the profile's or the running average)
 * and for many distinct merchants (seed 004). */
#include <stdio.h>

#include "detect.h"

typedef struct risk_arg {
    fw_entity *cust;
    int score, large;
} risk_arg;

/* Distinct merchants of the customer in [start, end), no further than @p limit. */
static uint32_t risk_merchants(fw_engine *e, fw_entity *cust, int64_t start, int64_t end,
                               uint32_t limit) {
    fw_distinct *d = fw_detect_distinct_for(e, cust, end - 1);
    return d ? fw_distinct_count_since(d, start, true, limit)
             : fw_detect_scan_distinct(e, cust, fw_evlist_find(&cust->win, start, false),
                                       fw_evlist_find(&cust->win, end, false), limit);
}

static bool risk_ok(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end, void *arg) {
    const __typeof__(e->rules.risk_score) *p = &e->rules.risk_score;
    risk_arg *ra = arg;
    ra->large = (int)fw_evlist_nlarge(l, fw_evlist_find(l, start, false),
                                      fw_evlist_find(l, end, false));
    ra->score = ra->large * p->large_points;
    /* Merchants are counted only when they decide; the alert counts them
     * for its reason. */
    if (ra->score < p->alert_at && ra->score + p->merchant_points >= p->alert_at &&
        risk_merchants(e, ra->cust, start, end, (uint32_t)p->max_merchants + 1) >
            (uint32_t)p->max_merchants)
        ra->score += p->merchant_points;
    return ra->score >= p->alert_at;
}

static void detect_risk_score(fw_engine *e, fw_entity *cust, const fw_txn *t, fw_evrec *cur) {
    const __typeof__(e->rules.risk_score) *p = &e->rules.risk_score;
    if (!(t->amount > 0))
        return; /* logins and password changes carry no amount */
    fw_evrec r = *cur; /* a copy: this rule marks its own */
    /* The profile's typical amount when there is one, else the running average. */
    const fw_profile *prof = fw_profiles_get(e->profiles, t->customer_id);
    if (prof && !prof->has_avg)
        prof = NULL;
    double avg = prof ? prof->avg_amount
                      : cust->amount_n ? cust->amount_sum / (double)cust->amount_n : 0;
    if ((prof || cust->amount_n > 0) && t->amount > p->amount_multiple * avg)
        r.flags |= FW_EV_LARGE;
    int64_t keep_from = t->ts_ms - p->window_ms - e->rules.time.allowed_lateness_ms;
    if (fw_evlist_insert(&e->state, &cust->win, &r, keep_from))
        fw_detect_distinct_added(e, cust, &r, keep_from);
    fw_engine_touch(e, cust);
    risk_arg ra = { .cust = cust };
    int64_t start = fw_detect_first_window(e, &cust->win, t->ts_ms, p->window_ms, p->slide_ms,
                                           risk_ok, &ra);
    /* One episode, one alert: while the score stays at the limit, later
     * transactions only add to the deduplicated count. */
    bool episode = cust->risk_episode;
    cust->risk_episode = start != INT64_MIN;
    if (start == INT64_MIN)
        return;
    if (episode) {
        e->stats.deduplicated[FW_RULE_RISK_SCORE]++;
        return;
    }
    if (fw_detect_deduplicated(e, cust, FW_RULE_RISK_SCORE, t->ts_ms))
        return;
    int64_t end = start + p->window_ms;
    const fw_evlist *l = &cust->win;
    size_t nev = 0;
    uint32_t hi = fw_evlist_find(l, end, false);
    for (uint32_t i = fw_evlist_find(l, start, false); i < hi; i++)
        if (l->ev[i].flags & FW_EV_LARGE)
            fw_detect_evidence(e, &nev, &l->ev[i]);
    if (!(r.flags & FW_EV_LARGE)) /* the transaction that completed the score is evidence too */
        fw_detect_evidence(e, &nev, &r);
    uint32_t merchants = risk_merchants(e, cust, start, end, UINT32_MAX);
    if (ra.large * p->large_points >= p->alert_at && merchants > (uint32_t)p->max_merchants)
        ra.score = ra.large * p->large_points + p->merchant_points; /* the whole score */
    snprintf(e->reason, sizeof(e->reason),
             "risk score %d reached the limit of %d: %d transactions above %.1fx the %s "
             "average of %.2f (+%d each) and %u distinct merchants (+%d above %d)",
             ra.score, p->alert_at, ra.large, p->amount_multiple, prof ? "profile" : "running",
             avg, p->large_points, merchants, p->merchant_points, p->max_merchants);
    fw_detect_emit(e, cust, FW_RULE_RISK_SCORE, t, nev, start, end, prof);
}

const fw_detector fw_detector_risk_score = {
    .rule = FW_RULE_RISK_SCORE,
    .name = "risk_score",
    .phase = FW_PHASE_CUSTOMER,
    .needs = 0,
    .on_event = detect_risk_score,
};
