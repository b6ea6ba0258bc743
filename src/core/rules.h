/* rules.h — the rule set: which detectors run, with which parameters.
 * Rule ids are fixed; parameters, severity and enabling are configuration.
 * The defaults reproduce the seeds' thresholds. */
#ifndef FW_RULES_H
#define FW_RULES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum fw_rule_id {
    FW_RULE_HIGH_AMOUNT = 0,    /* seed 001: amount > 5000 */
    FW_RULE_VELOCITY,           /* seed 002: >= 3 txns > 1000 per account in 30 min */
    FW_RULE_SMALL_THEN_LARGE,   /* seed 002 CEP: card txn < 10 then next > 1000 in 5 min */
    FW_RULE_RAPID_SMALL,        /* seed 004: 5 consecutive txns < 50 per customer in 10 min */
    FW_RULE_LOCATION_JUMP,      /* seed 004: consecutive txns in two countries within 1 h */
    FW_RULE_ACCOUNT_TAKEOVER,   /* seed 004: PASSWORD_CHANGE then WITHDRAWAL > 5000 in 30 min */
    FW_RULE_STRUCTURING,        /* seed 003: transfers < 10000 to one counterparty > 10000/24 h */
    FW_RULE_RISK_SCORE,         /* seed 004: per-customer score over a sliding hour */
    FW_RULE_FAN_IN,             /* >= 5 distinct senders to one account within 72 h */
    FW_RULE_FAN_OUT,            /* >= 5 distinct counterparties from one account in 24 h */
    FW_RULE_CYCLE,              /* money back at its origin through >= 3 forwarding hops */
    FW_RULE_MULE_CASHOUT,       /* inbound transfers >= 1000 cashed out (>= 80 %) in 2 h */
    FW_RULE_ML_SCORE,           /* seed 000: model fraud probability > FRAUD_THRESHOLD (0.8) */
    FW_RULE__COUNT
} fw_rule_id;

typedef enum fw_severity {
    FW_SEV_LOW = 0,
    FW_SEV_MEDIUM,
    FW_SEV_HIGH,
    FW_SEV_CRITICAL,
    FW_SEV__COUNT
} fw_severity;

typedef struct fw_rule_common {
    bool enabled;
    bool shadow;        /* evaluated and counted, alerts marked "shadow" for backtesting */
    int version;        /* bumped whenever parameters change; carried by every alert */
    fw_severity severity;
} fw_rule_common;

/* All durations are milliseconds of event time. Comparisons are strict
 * ("above", "below") exactly as the seeds state them. */
/** How ml_score computes the contributions it names: exact TreeSHAP, or the
 *  approximate per-path attribution (Saabas), several times cheaper. */
typedef enum fw_ml_contributions {
    FW_ML_CONTRIB_EXACT = 0,
    FW_ML_CONTRIB_APPROX,
} fw_ml_contributions;

typedef struct fw_rules {
    fw_rule_common common[FW_RULE__COUNT];
    struct {
        int64_t max_out_of_orderness_ms; /* watermark = max event time - this (10 s) */
        int64_t allowed_lateness_ms;     /* windows accept events this late (5 min) */
        int64_t dedupe_window_ms;        /* same rule + entity within this: one alert (5 min) */
        /* Kafka mode: an event time further than this ahead of the record's
         * Kafka timestamp (or the wall clock) is a dead letter (5 min; 0: off). */
        int64_t max_future_skew_ms;
        /* File mode: an event time further than this ahead of the newest one
         * accepted is held until later records confirm the jump (1 h; 0: off). */
        int64_t max_event_time_jump_ms;
        /* A transaction id is remembered for allowed_lateness +
         * max_out_of_orderness + this much event time, for producer retries (10 min). */
        int64_t duplicate_margin_ms;
        /* Rules whose alert no later-arriving record can undo fire on
         * arrival (velocity); false: every stateful rule waits for event-time
         * order, so any arrival order gives the same alerts (true). */
        bool early_firing;
    } time;
    struct {
        double limit;              /* alert when amount > limit (5000) */
    } high_amount;
    struct {
        int min_count;             /* at least this many qualifying txns (3) */
        double min_amount;         /* a txn qualifies when amount > this (1000) */
        int64_t window_ms;         /* sliding window size (30 min) */
        int64_t slide_ms;          /* window start every (5 min) */
    } velocity;
    struct {
        double small_below;        /* first txn amount < this (10) */
        double large_above;        /* the card's next txn amount > this (1000) */
        int64_t within_ms;         /* between the two (5 min) */
    } small_then_large;
    struct {
        int count;                 /* consecutive txns (5) */
        double below;              /* each amount < this (50) */
        int64_t within_ms;         /* first to last (10 min) */
    } rapid_small;
    struct {
        int64_t within_ms;         /* consecutive txns in different countries (1 h) */
        double max_speed_kmh;      /* with lat/lon on both: implied speed above (900) */
        double min_distance_km;    /* one country: impossible travel needs this far (100) */
    } location_jump;
    struct {
        double min_amount;         /* WITHDRAWAL amount > this (5000) */
        int64_t within_ms;         /* after the PASSWORD_CHANGE (30 min) */
    } account_takeover;
    struct {
        double below;              /* each transfer < this (10000) */
        double total_above;        /* sum to one counterparty > this (10000) */
        int64_t window_ms;         /* sliding over (24 h) */
    } structuring;
    struct {
        int64_t window_ms;         /* sliding window size (1 h) */
        int64_t slide_ms;          /* (10 min) */
        double amount_multiple;    /* +large_points per txn > multiple x average (3) */
        int large_points;          /* (10) */
        int max_merchants;         /* +merchant_points when distinct merchants > this (20) */
        int merchant_points;       /* (5) */
        int alert_at;              /* alert when the score reaches this (50) */
    } risk_score;
    struct {
        int min_senders;           /* distinct sending accounts (5) */
        double min_amount;         /* a transfer counts when amount > this (0) */
        int64_t window_ms;         /* sliding over (72 h) */
    } fan_in;
    struct {
        int min_counterparties;    /* distinct receiving accounts (5) */
        double min_amount;         /* a transfer counts when amount > this (0) */
        int64_t window_ms;         /* sliding over (24 h) */
    } fan_out;
    struct {
        int min_hops;              /* transfers from the origin back to it (3) */
        double min_forward;        /* each hop passes on at least this share (0.5) ... */
        int64_t hop_within_ms;     /* ... of a transfer received within (48 h) */
        double min_amount;         /* transfers count when amount > this (0) */
    } cycle;
    struct {
        double min_inbound;        /* inbound transfers total at least (1000) */
        double min_ratio;          /* cashed out: withdrawals + transfers out >= share (0.8) */
        int64_t within_ms;         /* from the first inbound transfer (2 h) */
    } mule_cashout;
    struct {
        double threshold;          /* alert when the probability > this (0.8, seed 000) */
        int top_features;          /* contributions named in the alert (5) */
        int contributions;         /* fw_ml_contributions: how they are computed (exact) */
    } ml_score;
    struct {
        uint32_t max_entities;       /* keyed state entries per partition (1,000,000) */
        uint32_t max_window_events;  /* events kept per entity and window (10,000) */
        uint32_t max_transaction_ids; /* ids remembered for duplicates per partition
                                        (1,000,000; 0: duplicates not detected) */
    } limits;
} fw_rules;

/** @brief Fills @p r with the built-in defaults (the seeds' thresholds). */
void fw_rules_defaults(fw_rules *r);

/** @brief "high_amount", ...; NULL for an invalid id. */
const char *fw_rule_name(fw_rule_id id);

/** @brief Looks a rule up by name; returns FW_RULE__COUNT when unknown. */
fw_rule_id fw_rule_by_name(const char *name);

/** @brief "low", "medium", "high", "critical". */
const char *fw_severity_name(fw_severity s);

#endif
