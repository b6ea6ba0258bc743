/* changelog_restore.h — rebuilding tasks' keyed state from their partitions
 * of the state changelogs, on assignment and after an aborted transaction.
 * The changelog is co-partitioned with the input, so partition p of the
 * changelog holds the state of input partition p. */
#ifndef FW_CHANGELOG_RESTORE_H
#define FW_CHANGELOG_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "engine.h"

/** One partition for fw_changelog_restore_all. */
typedef struct fw_restore_job {
    const char *topic;
    int32_t partition;
    fw_engine *engine;   /* fresh */
    size_t keys;         /* out: keys restored */
    bool ok;             /* out: read to its end and applied */
} fw_restore_job;

/** @brief Reads each job's partition of its changelog topic to its end with
 *  @p reader (made by fw_kafka_reader_new: read_committed, partition EOF on;
 *  assigned here and unassigned before returning) and puts the latest
 *  record of every key into the job's fresh engine; a tombstone as latest
 *  record restores nothing. All @p n partitions (a rebalance's) are
 *  assigned together and read side by side: one wait for the broker, not
 *  one each. A record an engine refuses is skipped and logged (the first
 *  five), prefixed with fraudwatch[@p instance_id].
 *  @returns false when a partition could not be read to its end (its task
 *  must not process input then; its job says which); the reason is logged. */
bool fw_changelog_restore_all(rd_kafka_t *reader, fw_restore_job *jobs, size_t n,
                              const char *instance_id);

#endif
