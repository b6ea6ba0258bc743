/* console_ingest.h — the console's reader of the alert topic: a consumer
 * in its own group, read_committed, whose offsets live in the database
 * beside the alerts (the pattern of an exactly-once JDBC sink). Each batch
 * of records is stored in one database transaction with the next offset of
 * every partition it touched; on assignment a partition starts from the
 * offset stored there. Kafka's committed offsets are never used. */
#ifndef FW_CONSOLE_INGEST_H
#define FW_CONSOLE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_store.h"
#include "kafka_conf.h"

typedef struct fw_ingest_conf {
    const fw_kafka_opts *kafka;
    const char *topic;       /* the alert topic */
    const char *group_id;    /* the console's consumer group, also the offsets' key */
    int batch_ms;            /* a batch is stored at most this long after its first record */
    int batch_max;           /* or once it holds this many records */
    bool exit_at_end;        /* stop once every assigned partition is stored to its end */
} fw_ingest_conf;

typedef struct fw_ingest_stats {
    uint64_t alerts;         /* alert records stored (a replayed one counts again) */
    uint64_t dead_letters;   /* records that are not alerts, stored with their reason */
    uint64_t batches;        /* database transactions committed */
    uint64_t failures;       /* batches the database refused: read again from the stored offsets */
} fw_ingest_stats;

typedef struct fw_ingest fw_ingest;

/** @brief Subscribes to the alert topic; @p st is the ingest's own connection. */
fw_ingest *fw_ingest_new(const fw_ingest_conf *c, fw_store *st, char *errstr,
                         size_t errstr_size);
/**
 * @brief Polls for up to @p timeout_ms and stores a batch when it is due.
 * @returns 1 to go on, 0 when exit_at_end is reached, -1 on a fatal Kafka error.
 */
int fw_ingest_step(fw_ingest *in, int timeout_ms);
/** @brief Stores what is pending, leaves the group and frees @p in; the
 *  final counts in *@p stats (when not NULL). */
void fw_ingest_close(fw_ingest *in, fw_ingest_stats *stats);

#endif
