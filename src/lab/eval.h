/* eval.h — detection quality: how well each rule's alerts match labelled data
 * (`fraudwatch eval`, docs/detection-quality.md). Pure: the caller feeds the
 * labels, then every alert of one replay, and reads back per rule, per
 * scenario and overall figures. No I/O, no clock, no rule or scenario list of
 * its own: scenarios are whatever the labels name, and the rules meant to
 * catch each come from fw_gen_scenarios[].targets (gen_model.h).
 *
 * Definitions (the ones the docs and `eval --help` state):
 * - An alert's transactions are its evidence plus its triggering transaction.
 * - An alert is a true positive when at least one of its transactions is
 *   labelled fraud, else a false positive.
 * - An instance (one run of a fraud scenario) is caught by rule R when some
 *   alert of R has a transaction of that instance.
 * - Rule R's recall: instances of the scenarios R targets that R caught, over
 *   the instances of those scenarios; FN is the rest.
 * - Scenario recall: instances caught by any rule, over its instances.
 * - Detection delay of a caught instance: for the earliest alert (by
 *   detected_at) that catches it, detected_at minus the event time of the
 *   latest transaction of the instance among that alert's transactions.
 *   Per rule: over every instance the rule caught; per scenario: the earliest
 *   alert of any rule. Median and p95 are nearest-rank.
 * - Time to detect (from_start): the same alert's detected_at minus the event
 *   time of the instance's first transaction: how long the pattern ran before
 *   an alert (instances whose start is unknown are left out). */
#ifndef FW_EVAL_H
#define FW_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "fw_err.h"
#include "fw_str.h"
#include "lang_rules.h"
#include "rules.h"

/** One bit per rule id (bit r = rule r). */
typedef uint32_t fw_rule_mask;
_Static_assert(FW_RULE__COUNT <= 32, "fw_rule_mask holds one bit per rule");

#define FW_EVAL_NONE UINT32_MAX
/** Scenario name used for fraud records that carry none. */
#define FW_EVAL_UNNAMED_SCENARIO "(unnamed)"

/* ------------------------------------------------------------ labels */

/** The labels of one line of generated NDJSON (slices into the line). */
typedef struct fw_eval_line_labels {
    fw_str transaction_id;    /* string content or an integer's digits; FW_STR_NULL: none */
    bool id_escaped;          /* the id string holds JSON escapes: raw slice, not unescaped */
    bool has_label;           /* is_fraud (true/false) or scenario present */
    bool is_fraud;            /* is_fraud:true, or a scenario without is_fraud */
    fw_str scenario;          /* raw string content; FW_STR_NULL when absent */
    fw_str instance;          /* scenario_instance, raw; FW_STR_NULL when absent */
    fw_str timestamp;         /* raw string content or number token; FW_STR_NULL: none */
} fw_eval_line_labels;

/**
 * @brief Reads `transaction_id`, `timestamp`, `is_fraud`, `scenario` and
 * `scenario_instance` from the top level of one JSON object, skipping every other member without
 * building anything. Not a validator: the engine's decoder judges the record.
 * `is_fraud: false` wins over a scenario; null counts as absent.
 * @returns FW_OK, or FW_ERR_INVALID when @p p is not a readable JSON object.
 */
fw_err fw_eval_scan_labels(const char *p, size_t n, fw_eval_line_labels *out);

/** Ground truth of one labelled data set: which transaction ids are fraud,
 *  of which instance, of which scenario. Strings are copied. */
typedef struct fw_eval_labels fw_eval_labels;

typedef struct fw_eval_scenario_info {
    const char *name;         /* NUL-terminated copy */
    bool known;               /* named in fw_gen_scenarios[] */
    const char *targets;      /* comma-separated rule ids; NULL or "" when none */
    uint64_t instances;
    uint64_t transactions;    /* fraudulent transactions labelled with it */
} fw_eval_scenario_info;

fw_eval_labels *fw_eval_labels_new(void);
void fw_eval_labels_destroy(fw_eval_labels *l);

/**
 * @brief Adds one labelled record. A fraud record joins the instance named
 * @p instance (a new one for each record when @p instance is absent or empty)
 * of scenario @p scenario (FW_EVAL_UNNAMED_SCENARIO when absent); a scenario is
 * looked up in fw_gen_scenarios[] the first time it is seen. A legitimate
 * record is only counted. A fraud transaction id seen before is counted in
 * duplicate_ids and otherwise ignored. @p ts_ms is the record's event time
 * (INT64_MIN when unknown): an instance starts at its earliest.
 * @returns FW_OK; FW_ERR_INVALID for a fraud record without an id;
 *          FW_ERR_NOMEM; FW_ERR_LIMIT past 2^31 scenarios or instances.
 */
fw_err fw_eval_labels_add(fw_eval_labels *l, fw_str transaction_id, int64_t ts_ms,
                          bool is_fraud, fw_str scenario, fw_str instance);

/** @brief Replaces the target list of scenario @p s (tests, what-if runs);
 *  @p targets is copied. @returns FW_ERR_NOMEM or FW_OK. */
fw_err fw_eval_labels_set_targets(fw_eval_labels *l, uint32_t s, const char *targets);

uint32_t fw_eval_labels_nscenarios(const fw_eval_labels *l);
const fw_eval_scenario_info *fw_eval_labels_scenario(const fw_eval_labels *l, uint32_t s);
/** @brief Scenario index by name, or FW_EVAL_NONE. */
uint32_t fw_eval_labels_find_scenario(const fw_eval_labels *l, fw_str name);
uint64_t fw_eval_labels_records(const fw_eval_labels *l);        /* every add */
uint64_t fw_eval_labels_fraud(const fw_eval_labels *l);          /* distinct fraud ids */
uint64_t fw_eval_labels_instances(const fw_eval_labels *l);
uint64_t fw_eval_labels_duplicate_ids(const fw_eval_labels *l);

/**
 * @brief The enabled rules of @p rules that @p targets (comma-separated ids,
 * spaces around ids allowed) names; unknown ids count as no rule.
 */
fw_rule_mask fw_eval_targets_mask(const char *targets, const fw_rules *rules);

/** @brief Whether @p targets (as fw_eval_targets_mask reads it) names @p id. */
bool fw_eval_targets_has(const char *targets, const char *id);

/* ------------------------------------------------------------ one replay */

/** The alerts of one replay, scored against the labels (which must outlive it). */
typedef struct fw_eval_run fw_eval_run;

fw_eval_run *fw_eval_run_new(const fw_eval_labels *l);
void fw_eval_run_destroy(fw_eval_run *r);

/**
 * @brief Declares the language rules of the replay (their ids, in the rules
 * file's order), so that each has its row, at 0 when it raised nothing. Call
 * before the first alert; ids already known are skipped. A language alert
 * (rule FW_RULE_LANG) of an undeclared id adds its row when first seen.
 * @returns FW_OK; FW_ERR_INVALID for an empty id or one of FW_LANG_MAX_ID
 *          bytes or more; FW_ERR_LIMIT past FW_LANG_MAX_RULES rules;
 *          FW_ERR_NOMEM.
 */
fw_err fw_eval_run_set_lang_rules(fw_eval_run *r, const char *const *ids, size_t n);

/** @brief Scores one alert (its rule, detected_at, evidence and triggering
 *  transaction; nothing of it is kept). A language rule's alert is scored
 *  under its id (fw_alert_rule_name).
 *  @returns FW_OK, FW_ERR_NOMEM, or FW_ERR_INVALID / FW_ERR_LIMIT as
 *  fw_eval_run_set_lang_rules for a language rule's id. */
fw_err fw_eval_run_alert(fw_eval_run *r, const fw_alert *a);

/* ------------------------------------------------------------ figures */

/** Delays in milliseconds of event time; n == 0: nothing was caught. */
typedef struct fw_eval_delay {
    uint64_t n;
    int64_t median_ms, p95_ms, max_ms;
} fw_eval_delay;

/** Precision, recall and F1 of counts; NAN where the denominator is 0. */
typedef struct fw_eval_ratio {
    double precision, recall, f1;
} fw_eval_ratio;

typedef struct fw_eval_rule_figures {
    bool enabled;
    uint64_t alerts, tp, fp;
    uint64_t target_instances;   /* instances of the scenarios this rule targets */
    uint64_t caught;             /* ... that it caught */
    uint64_t fn;                 /* target_instances - caught */
    uint64_t caught_any;         /* instances of any scenario it caught */
    fw_eval_ratio q;             /* precision = tp / alerts, recall = caught / target */
    double alerts_per_1000;      /* per 1,000 transactions; NAN without transactions */
    fw_eval_delay delay;         /* over caught_any */
    fw_eval_delay from_start;    /* time to detect, over caught_any */
} fw_eval_rule_figures;

typedef struct fw_eval_scenario_figures {
    const fw_eval_scenario_info *info;
    fw_rule_mask targets;        /* enabled known rules among info->targets */
    uint64_t instances, caught;
    double recall;               /* NAN without instances */
    fw_rule_mask caught_by;      /* rules that caught at least one instance */
    uint64_t caught_by_rule[FW_RULE__COUNT];
    uint64_t *caught_by_lang;    /* [fw_eval_report.nlang]: as caught_by_rule */
    bool lang_targets;           /* some language rule is in info->targets */
    fw_eval_delay delay;
    fw_eval_delay from_start;
} fw_eval_scenario_figures;

typedef struct fw_eval_overall {
    uint64_t transactions;       /* as given to fw_eval_report_build */
    uint64_t fraud_transactions, instances;
    uint64_t alerts, tp, fp;
    uint64_t targeted_instances; /* of scenarios some enabled rule targets */
    uint64_t targeted_caught, caught;
    double precision;            /* tp / alerts */
    double recall_targeted;      /* targeted_caught / targeted_instances */
    double recall_all;           /* caught / instances */
    double f1_all;               /* of precision and recall_all */
    double alerts_per_1000;
} fw_eval_overall;

/** A language rule's figures: one row after the built-ins. Its targets are the
 *  scenarios whose target list names its id (fw_eval_labels_set_targets). */
typedef struct fw_eval_lang_figures {
    char id[FW_LANG_MAX_ID];
    bool shadow;                 /* as its alerts said (false when it raised none) */
    fw_eval_rule_figures fig;    /* enabled: always (only loaded rules have rows) */
} fw_eval_lang_figures;

typedef struct fw_eval_report {
    fw_eval_rule_figures rule[FW_RULE__COUNT];
    fw_eval_lang_figures *lang;           /* in declaration, then first-alert order */
    uint32_t nlang;
    fw_eval_scenario_figures *scenario;   /* one per labels scenario, in first-seen order */
    uint32_t nscenarios;
    fw_eval_overall all;
} fw_eval_report;

/**
 * @brief Computes every figure of run @p r under rule set @p rules (which rules
 * are enabled, hence which scenarios are targeted); @p transactions is the
 * number the replay decoded (denominator of alerts per 1,000).
 * @returns FW_OK or FW_ERR_NOMEM; free with fw_eval_report_free.
 */
fw_err fw_eval_report_build(const fw_eval_run *r, const fw_rules *rules, uint64_t transactions,
                            fw_eval_report *out);
void fw_eval_report_free(fw_eval_report *rep);

/** @brief Precision = tp / (tp + fp), recall = tp / (tp + fn), their F1. */
fw_eval_ratio fw_eval_ratio_of(uint64_t tp, uint64_t fp, uint64_t fn);

/** @brief Nearest-rank median, p95 and max of @p n delays, sorted in place. */
fw_eval_delay fw_eval_delay_of(int64_t *ms, size_t n);

/* ------------------------------------------------------------ entity sets */

/** Set scoring for labels per entity (AMLSim's accounts). */
typedef struct fw_eval_set_score {
    uint64_t flagged, tp, fp, fn;
    fw_eval_ratio q;
} fw_eval_set_score;

/**
 * @brief Scores the entities whose @p flags share a bit with @p select as the
 * flagged set against @p truth (non-zero = positive), over @p n entities.
 */
fw_eval_set_score fw_eval_score_set(const uint8_t *truth, const fw_rule_mask *flags, size_t n,
                                    fw_rule_mask select);

#endif
