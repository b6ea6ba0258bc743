/* rules.c — built-in rule defaults and names. */
#include "rules.h"

#include <string.h>

static const char *const rule_names[FW_RULE__COUNT] = {
    [FW_RULE_HIGH_AMOUNT] = "high_amount",
};

void fw_rules_defaults(fw_rules *r) {
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < FW_RULE__COUNT; i++)
        r->common[i] = (fw_rule_common){ .enabled = true, .version = 1,
                                         .severity = FW_SEV_HIGH };
    r->high_amount.limit = 5000.0;
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
