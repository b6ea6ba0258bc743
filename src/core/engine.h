/* engine.h — the detection engine of one partition.
 *
 * Stateless rules (high_amount) judge each transaction as it arrives. All
 * other rules need order: arriving transactions wait in an event-time buffer
 * until the watermark (highest event time seen minus the allowed
 * out-of-orderness) passes them, and reach the detectors in event-time order,
 * ties broken by transaction id. A transaction older than the watermark by
 * more than the allowed lateness is late: reported, never applied. Pure: time
 * comes from the transactions (or fw_engine_advance), output goes to
 * callbacks, and every state change can be read out as changelog records and
 * put back with fw_engine_restore. */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stdint.h>
#include "alert.h"
#include "rules.h"
#include "state.h"
#include "txn.h"

typedef struct fw_engine fw_engine;

typedef struct fw_engine_out {
    void *opaque;
    /** An alert; it and its slices are valid only during the call. */
    void (*alert)(void *opaque, const fw_alert *alert);
    /** A transaction too late to apply (beyond the allowed lateness). */
    void (*late)(void *opaque, const fw_txn *txn, int64_t watermark);
} fw_engine_out;

typedef struct fw_engine_stats {
    uint64_t transactions;       /* arrived */
    uint64_t released;           /* reached the ordered detectors */
    uint64_t late;               /* beyond the allowed lateness */
    uint64_t behind_watermark;   /* arrived behind the watermark but within the allowed
                                    lateness: applied to windows, not to sequences */
    uint64_t buffer_overflows;   /* buffer full: released before the watermark */
    uint64_t id_too_long;        /* an entity id over FW_ID_MAX bytes: not tracked */
    uint64_t alerts[FW_RULE__COUNT];
    uint64_t deduplicated[FW_RULE__COUNT]; /* alerts folded into an earlier one */
    uint64_t buffered;           /* waiting for the watermark now */
    int64_t watermark;           /* INT64_MIN before the first transaction */
    int64_t max_event_time;      /* highest event time seen; INT64_MIN: none */
} fw_engine_stats;

/** @brief A new engine using a copy of @p rules. @returns NULL on failure. */
fw_engine *fw_engine_new(const fw_rules *rules, char *errstr, size_t errstr_size);

/** @brief Uses @p profiles (shared, read-only, may be NULL) for enrichment;
 *  the table must outlive the engine. */
void fw_engine_set_profiles(fw_engine *e, const fw_profiles *profiles);

/** @brief Frees the engine; NULL is a no-op. */
void fw_engine_destroy(fw_engine *e);

/** @brief Takes one arriving transaction: judges it at once with the
 *  stateless rules, then buffers it, or reports it late; releases to the
 *  ordered detectors whatever the new watermark has passed. */
void fw_engine_process(fw_engine *e, const fw_txn *txn, const fw_engine_out *out);

/** @brief Raises the watermark to at least @p watermark (an idle partition's
 *  wall-clock advance; INT64_MAX at the end of input releases everything and
 *  lets all state expire). */
void fw_engine_advance(fw_engine *e, int64_t watermark, const fw_engine_out *out);

/** @brief Counters and gauges. */
const fw_engine_stats *fw_engine_stats_get(const fw_engine *e);
const fw_state_stats *fw_engine_state_stats(const fw_engine *e);

/** @brief Starts recording state changes for fw_engine_changes (the Kafka
 *  runtime does; file mode does not, and so keeps no bookkeeping). */
void fw_engine_track_changes(fw_engine *e);

/** Receives one changelog record; @p value NULL means delete the key. */
typedef void (*fw_change_fn)(void *opaque, fw_str key, const void *value, size_t len);

/** @brief Emits every state change since the previous call (or since
 *  fw_engine_track_changes), as records for a compacted changelog; the latest
 *  record per key is the state. Deletions come before puts, so a key deleted
 *  and written again within one interval ends up written. */
void fw_engine_changes(fw_engine *e, fw_change_fn fn, void *opaque);

/** @brief Applies one changelog record to a new engine, before any input.
 *  Give it the latest record of each key (a compacted log's view); a NULL
 *  @p value (deleted key) is accepted and ignored.
 *  @returns FW_ERR_INVALID (with @p errstr) for a record it cannot read. */
fw_err fw_engine_restore(fw_engine *e, fw_str key, const void *value, size_t len,
                         char *errstr, size_t errstr_size);

#endif
