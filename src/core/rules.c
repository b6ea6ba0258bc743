/* rules.c — built-in rule defaults and names. */
#include "rules.h"

#include <string.h>

static const char *const rule_names[FW_RULE__COUNT] = {
    [FW_RULE_HIGH_AMOUNT] = "high_amount",
    [FW_RULE_VELOCITY] = "velocity",
    [FW_RULE_SMALL_THEN_LARGE] = "small_then_large",
    [FW_RULE_RAPID_SMALL] = "rapid_small",
    [FW_RULE_LOCATION_JUMP] = "location_jump",
    [FW_RULE_ACCOUNT_TAKEOVER] = "account_takeover",
    [FW_RULE_STRUCTURING] = "structuring",
    [FW_RULE_RISK_SCORE] = "risk_score",
    [FW_RULE_FAN_IN] = "fan_in",
    [FW_RULE_FAN_OUT] = "fan_out",
    [FW_RULE_CYCLE] = "cycle",
    [FW_RULE_MULE_CASHOUT] = "mule_cashout",
    [FW_RULE_ML_SCORE] = "ml_score",
};

void fw_rules_defaults(fw_rules *r) {
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < FW_RULE__COUNT; i++)
        r->common[i] = (fw_rule_common){ .enabled = true, .version = 1,
                                         .severity = FW_SEV_HIGH };
    r->common[FW_RULE_RAPID_SMALL].severity = FW_SEV_MEDIUM;
    r->common[FW_RULE_LOCATION_JUMP].severity = FW_SEV_MEDIUM;
    r->common[FW_RULE_ACCOUNT_TAKEOVER].severity = FW_SEV_CRITICAL;
    r->common[FW_RULE_RISK_SCORE].severity = FW_SEV_MEDIUM;
    r->common[FW_RULE_FAN_OUT].severity = FW_SEV_MEDIUM;
    const int64_t s = 1000, m = 60 * s, h = 60 * m;
    r->time.max_out_of_orderness_ms = 10 * s;
    r->time.allowed_lateness_ms = 5 * m;
    r->time.early_firing = true;
    r->time.dedupe_window_ms = 5 * m;
    r->time.max_future_skew_ms = 5 * m;
    r->time.max_event_time_jump_ms = h;
    r->time.duplicate_margin_ms = 10 * m;
    r->high_amount.limit = 5000.0;
    r->velocity.min_count = 3;
    r->velocity.min_amount = 1000.0;
    r->velocity.window_ms = 30 * m;
    r->velocity.slide_ms = 5 * m;
    r->small_then_large.small_below = 10.0;
    r->small_then_large.large_above = 1000.0;
    r->small_then_large.within_ms = 5 * m;
    r->rapid_small.count = 5;
    r->rapid_small.below = 50.0;
    r->rapid_small.within_ms = 10 * m;
    r->location_jump.within_ms = 1 * h;
    r->location_jump.max_speed_kmh = 900.0;
    r->location_jump.min_distance_km = 100.0;
    r->account_takeover.min_amount = 5000.0;
    r->account_takeover.within_ms = 30 * m;
    r->structuring.below = 10000.0;
    r->structuring.total_above = 10000.0;
    r->structuring.window_ms = 24 * h;
    r->risk_score.window_ms = 1 * h;
    r->risk_score.slide_ms = 10 * m;
    r->risk_score.amount_multiple = 3.0;
    r->risk_score.large_points = 10;
    r->risk_score.max_merchants = 20;
    r->risk_score.merchant_points = 5;
    r->risk_score.alert_at = 50;
    r->fan_in.min_senders = 5;
    r->fan_in.min_amount = 0;
    r->fan_in.window_ms = 72 * h;
    r->fan_out.min_counterparties = 5;
    r->fan_out.min_amount = 0;
    r->fan_out.window_ms = 24 * h;
    r->cycle.min_hops = 3;
    r->cycle.min_forward = 0.5;
    r->cycle.hop_within_ms = 48 * h;
    r->cycle.min_amount = 0;
    r->mule_cashout.min_inbound = 1000.0;
    r->mule_cashout.min_ratio = 0.8;
    r->mule_cashout.within_ms = 2 * h;
    r->ml_score.threshold = 0.8;
    r->ml_score.top_features = 5;
    r->ml_score.contributions = FW_ML_CONTRIB_EXACT;
    r->limits.max_entities = UINT32_MAX; /* no count: --max-memory bounds the state */
    r->limits.max_window_events = 10000;
    r->limits.max_transaction_ids = 1000000;
}

const char *fw_rule_name(fw_rule_id id) {
    return (unsigned)id < FW_RULE__COUNT ? rule_names[id] : NULL;
}

fw_rule_id fw_rule_by_name(const char *name) {
    for (int i = 0; i < FW_RULE__COUNT; i++)
        if (!strcmp(rule_names[i], name))
            return (fw_rule_id)i;
    return FW_RULE__COUNT;
}

const char *fw_severity_name(fw_severity s) {
    static const char *const names[FW_SEV__COUNT] = { "low", "medium", "high", "critical" };
    return (unsigned)s < FW_SEV__COUNT ? names[s] : "unknown";
}
