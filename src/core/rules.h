/* rules.h — the rule set: which detectors run, with which parameters.
 * Rule ids are fixed; parameters, severity and enabling are configuration.
 * The defaults reproduce the seeds' thresholds. */
#ifndef FW_RULES_H
#define FW_RULES_H

#include <stdbool.h>

typedef enum fw_rule_id {
    FW_RULE_HIGH_AMOUNT = 0, /* seed 001: amount > 5000 */
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

typedef struct fw_rules {
    fw_rule_common common[FW_RULE__COUNT];
    struct {
        double limit;   /* alert when amount > limit (strictly) */
    } high_amount;
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
