/* changelog_restore.h — rebuilding one task's keyed state from its partition
 * of the state changelog, on assignment and after an aborted transaction.
 * The changelog is co-partitioned with the input, so partition p of the
 * changelog holds the state of input partition p. */
#ifndef FW_CHANGELOG_RESTORE_H
#define FW_CHANGELOG_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "engine.h"

/** @brief Reads partition @p partition of @p topic to its end with @p reader
 *  (made by fw_kafka_reader_new: read_committed, partition EOF on; assigned
 *  here and unassigned before returning) and puts the latest record of every
 *  key into the fresh engine @p e; a tombstone as latest record restores
 *  nothing. A record the engine refuses is skipped and logged (the first
 *  five), prefixed with fraudwatch[@p instance_id].
 *  @p keys (may be NULL) receives the number of keys restored.
 *  @returns false when the partition could not be read to its end (the
 *  task must not process input then); the reason is logged. */
bool fw_changelog_restore(rd_kafka_t *reader, const char *topic, int32_t partition,
                          fw_engine *e, const char *instance_id, size_t *keys);

#endif
