/* rules_live.h — rules changed while the engine runs: one record of the rules
 * control topic (key = rule id, value = one entry of a rules file's "rules"
 * array, no value = back to the rule as --rules or the defaults give it)
 * applied to the rule set in force, and the plan of `fraudwatch rules push`.
 * Pure: no Kafka; the runtime and the commands bring the records. The format
 * is documented for users in docs/live-rules.md. */
#ifndef FW_RULES_LIVE_H
#define FW_RULES_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "fw_err.h"
#include "fw_str.h"
#include "rules.h"

/**
 * @brief Applies one rules-topic record to @p live. The entry is applied to
 * the rule as @p base has it (so a record says the whole rule: what it leaves
 * out is the --rules file's or the default), and must name the rule of @p key
 * in its "id", be valid as a rules file entry, and carry a version above the
 * one in force. @p value NULL (a tombstone) puts back @p base's rule, whatever
 * its version. All-or-nothing: on failure @p live is unchanged.
 * @param id receives the rule the key names (FW_RULE__COUNT when unknown).
 * @param errstr on failure, the loader's message naming the field, e.g.
 *        "rules[0].params.min_count: expected an integer between 1 and
 *        1000000, got 0 (line 1, column 40)", or "version 2 does not increase
 *        (version 3 runs)".
 * @returns FW_OK, FW_ERR_INVALID, or FW_ERR_NOMEM.
 */
fw_err fw_rules_live_apply(fw_rules *live, const fw_rules *base, fw_str key, const char *value,
                           size_t len, fw_rule_id *id, char *errstr, size_t errstr_size);

/** @brief True when rule @p id differs between @p a and @p b in anything but
 *  its version: what a push publishes. */
bool fw_rules_live_differs(const fw_rules *a, const fw_rules *b, fw_rule_id id);

/**
 * @brief The plan of `rules push`: marks in @p changed each rule of @p want
 * that differs from @p live (what the topic holds over the defaults), and
 * raises its version in @p want to at least one above @p live's, so every
 * record pushed is accepted.
 * @returns the number of rules to publish.
 */
int fw_rules_live_plan(const fw_rules *live, fw_rules *want, bool changed[FW_RULE__COUNT]);

#endif
