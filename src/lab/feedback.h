/* feedback.h — rules scored against analysts' verdicts: the records the
 * console publishes to the alert-feedback topic (docs/api.md), the latest
 * per alert id as a compacted topic keeps them, tallied per rule, version
 * and shadow flag. No Kafka, no files: `eval --feedback` feeds it. */
#ifndef FW_FEEDBACK_H
#define FW_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One rule version's verdicts. */
typedef struct fw_feedback_row {
    char rule[128];
    int64_t rule_version;    /* INT64_MIN: none given */
    bool shadow;
    uint64_t confirmed, false_positive, not_sure;
} fw_feedback_row;

typedef struct fw_feedback_tally fw_feedback_tally;

fw_feedback_tally *fw_feedback_tally_new(void);
void fw_feedback_tally_free(fw_feedback_tally *t);

/**
 * @brief Takes one feedback record (@p n bytes of JSON). A later record of
 * the same alert_id replaces the earlier one, as compaction would.
 * @returns true; false with @p why for a record that is not feedback (it is
 *          counted apart: fw_feedback_tally_bad).
 */
bool fw_feedback_tally_add(fw_feedback_tally *t, const char *json, size_t n, char *why,
                           size_t why_size);

/** @brief The rows, sorted by rule, version and shadow; valid until the next add. */
const fw_feedback_row *fw_feedback_tally_rows(fw_feedback_tally *t, size_t *n);
/** @brief Alerts judged (their latest verdicts) and records refused. */
uint64_t fw_feedback_tally_alerts(const fw_feedback_tally *t);
uint64_t fw_feedback_tally_bad(const fw_feedback_tally *t);

/** @brief confirmed / (confirmed + false positives); -1 with neither. */
double fw_feedback_precision(const fw_feedback_row *r);

#endif
