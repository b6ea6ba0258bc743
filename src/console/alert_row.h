/* alert_row.h — what the console stores of an alert record: its columns,
 * read from the JSON the engine wrote (docs/alerts.md), or why the record
 * is not an alert. No database, no Kafka: unit-tested and fuzzed alone. */
#ifndef FW_ALERT_ROW_H
#define FW_ALERT_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_str.h"

#define FW_ALERT_ROW_MAX_BYTES (1 << 20) /* a longer record is not an alert */

/* The columns of one alert. Strings are NUL-terminated copies in the row's
 * own buffer (a text column cannot hold NUL: an alert with one is refused). */
typedef struct fw_alert_row {
    const char *alert_id, *rule, *severity, *entity_type, *entity_id, *reason;
    int64_t event_time_ms;
    int64_t detected_at_ms; /* INT64_MIN: absent */
    int64_t rule_version;   /* INT64_MIN: absent */
    bool shadow;
    char *buf;              /* owns the strings above */
    size_t cap;
    fw_arena arena;         /* the parse tree, kept for the next record */
} fw_alert_row;

/**
 * @brief Reads the alert in @p json (@p n bytes, not NUL-terminated) into
 * @p row, reusing its buffer. The record must be one strict JSON object
 * (valid UTF-8) with string members alert_id, rule, severity, entity_type,
 * entity_id and event_time (ISO 8601), optional rule_version (integer),
 * detected_at (ISO 8601), shadow (boolean) and reason (string).
 * @returns true; false with @p why saying what is wrong and where
 *          ("missing \"rule\"", "event_time: not an ISO 8601 time: ...").
 */
bool fw_alert_row_parse(fw_alert_row *row, const char *json, size_t n, char *why,
                        size_t why_size);

/** @brief Frees the row's buffer. */
void fw_alert_row_fini(fw_alert_row *row);

#endif
