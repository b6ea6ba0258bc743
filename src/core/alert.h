/* alert.h — an explained alert and its JSON form (docs/alerts.md).
 * The alert id is derived from rule, entity and evidence only, so
 * re-processing the same input can never mint a second id for one alert. */
#ifndef FW_ALERT_H
#define FW_ALERT_H

#include <stdint.h>
#include "decimal.h"
#include "fw_str.h"
#include "profiles.h"
#include "rules.h"
#include "txn.h"

#define FW_ALERT_ID_LEN 35 /* "fw-" + 32 hex digits */

/** One transaction the alert rests on. Slices may point into state memory. */
typedef struct fw_evidence {
    fw_str transaction_id;
    int64_t ts_ms;           /* INT64_MIN: not known (a language rule's older state) */
    fw_str amount_raw;       /* number as written in the input (a language rule's: the
                                exact value, shortest); NULL ptr: not known */
    bool located;            /* lat/lon are where it happened (a filter rule's records
                                compared through prev.) */
    double lat, lon;
} fw_evidence;

/** One feature's share in a model score (ml_score): its value and its
 *  contribution in log-odds (XGBoost's SHAP value). */
typedef struct fw_contribution {
    const char *feature;
    float value;             /* NaN: missing */
    float contribution;
} fw_contribution;

/** The model's side of an ml_score alert. */
typedef struct fw_alert_ml {
    double score;            /* fraud probability */
    double threshold;
    const char *model;       /* fw_model_id, or the remote endpoint */
    const fw_contribution *top; /* largest contributions first; none when scored remotely */
    size_t ntop;
} fw_alert_ml;

/** A value a rule computed, named in the alert ("count": 4, "sum": 12000.5). */
typedef struct fw_alert_value {
    const char *name;
    fw_dec num;
    bool missing;            /* e.g. the min of no transaction */
} fw_alert_value;

/** The rule a language rule's alerts carry in fw_alert.rule: its name is
 *  fw_alert.rule_name. */
#define FW_RULE_LANG FW_RULE__COUNT

typedef struct fw_alert {
    fw_rule_id rule;            /* FW_RULE_LANG: a language rule, named by rule_name */
    const char *rule_name;      /* FW_RULE_LANG only */
    const fw_rule_common *rc;   /* version, severity, shadow */
    const char *entity_type;    /* "account", "card", "customer", "account_pair", ... */
    fw_str entity_id;
    int64_t event_time;         /* event time of the triggering transaction */
    int64_t detected_at;        /* event time at which the engine could decide:
                                   deterministic, unlike a wall-clock stamp */
    int64_t window_start;       /* -1 when the rule has no window */
    int64_t window_end;
    const char *reason;         /* sentence with observed values and limits */
    const fw_evidence *evidence;
    size_t nevidence;
    const fw_txn *txn;          /* the triggering transaction */
    const fw_profile *profile;  /* the customer profile the rule used, or NULL */
    const fw_alert_ml *ml;      /* ml_score only: score and explanation */
    const fw_alert_value *values; /* language rules: the aggregates behind the alert */
    size_t nvalues;
    uint32_t evidence_bound;    /* language rules: at most this many transactions are
                                   named (0: the rule's evidence is complete) */
} fw_alert;

/** @brief The alert's rule name: a built-in's, or the language rule's id. */
static inline const char *fw_alert_rule_name(const fw_alert *a) {
    return a->rule == FW_RULE_LANG ? a->rule_name : fw_rule_name(a->rule);
}

/** @brief Computes the alert id ("fw-" + 32 hex) into @p out.
 *  @p scratch is a reusable buffer for the canonical byte string. */
void fw_alert_id(const fw_alert *a, fw_buf *scratch, char out[FW_ALERT_ID_LEN + 1]);

/** @brief Appends the alert as one JSON object (no newline).
 *  @returns false when @p out hit its size limit. */
bool fw_alert_write_json(const fw_alert *a, fw_buf *scratch, fw_buf *out);

#endif
