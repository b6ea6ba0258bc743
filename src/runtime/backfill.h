/* backfill.h — bootstrapping the state of a rule marked "backfill": true
 * (docs/live-rules.md#backfill) from its input partition, when a live change
 * brings it: a scratch pipeline replays the partition's recent past with its
 * language rules in replay mode (no alerts), and the backfill rules' state
 * parts move into the live engine. Synchronous: the task waits meanwhile. */
#ifndef FW_BACKFILL_H
#define FW_BACKFILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "engine.h"
#include "pipeline.h"

typedef struct fw_backfill_stats {
    uint64_t records;       /* replayed through the scratch pipeline */
    uint64_t dead_letters;  /* of them: ignored (the live run reported them) */
    uint64_t late;          /* of them: too late for the scratch engine */
    int64_t first_ts_ms, last_ts_ms; /* event time reached at the first and last replayed
                                        (INT64_MIN: none decoded) */
    size_t keys;            /* moved into the live engine, all parts together */
    int64_t elapsed_ms;
} fw_backfill_stats;

/**
 * @brief Replays partition @p partition of @p topic from the first record at
 * or after Kafka timestamp @p from_ms up to offset @p to_offset (excluded: the
 * task's next record) through a scratch pipeline made from @p conf with every
 * built-in off and its language rules in replay mode, then moves the parts
 * @p bf[0..nbf) into @p live (fw_engine_lang_adopt; the moved keys go to the
 * changelog at the next commit; @p keys[i]: how many of part i). The scratch pipeline is not advanced at the
 * end: what its reorder buffer holds, the live engine holds too and will
 * evaluate itself. @p reader is made by fw_kafka_reader_new (assigned here,
 * unassigned before returning). Logs progress every 5 s, prefixed with
 * fraudwatch[@p instance_id].
 * @returns false when the partition could not be read (the parts stay empty;
 * the reason is logged).
 */
bool fw_backfill_run(rd_kafka_t *reader, const char *topic, int32_t partition, int64_t from_ms,
                     int64_t to_offset, const fw_pipeline_conf *conf, fw_engine *live,
                     const fw_engine_backfill *bf, size_t nbf, size_t *keys,
                     const char *instance_id, fw_backfill_stats *out);

/** @brief How far back a replay starts for the backfill rules @p bf: their
 *  longest lookback (window, within) plus allowed_lateness and max_future_skew
 *  of @p rules, before @p watermark. */
int64_t fw_backfill_from(const fw_rules *rules, const fw_engine_backfill *bf, size_t nbf,
                         int64_t watermark);

#endif
