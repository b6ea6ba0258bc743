/* console_feedback.h — analysts' verdicts to Kafka: each verdict waits in
 * the database's feedback_outbox (written in the verdict's own transaction)
 * until this publisher has it acknowledged on the compacted alert-feedback
 * topic, keyed by alert id, so `fraudwatch eval` can score rules against
 * real verdicts. A crash between the two sends it again: on a compacted
 * topic keyed by alert id that is the same record once more. */
#ifndef FW_CONSOLE_FEEDBACK_H
#define FW_CONSOLE_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "alert_store.h"
#include "kafka_conf.h"

typedef struct fw_feedback fw_feedback;

/** @brief A producer for @p topic, created compacted when missing. */
fw_feedback *fw_feedback_new(const fw_kafka_opts *kafka, const char *topic, char *errstr,
                             size_t errstr_size);
/**
 * @brief Publishes what the outbox holds unsent (up to 1,000 verdicts), waits
 * for the broker's acknowledgements and marks those sent.
 * @returns how many were published, or -1 with @p errstr.
 */
int fw_feedback_publish(fw_feedback *f, fw_store *st, char *errstr, size_t errstr_size);
void fw_feedback_free(fw_feedback *f);

#endif
