/* engine.h — the detection engine of one partition: every detector of the
 * rule set applied to each transaction in turn. Pure: time comes from the
 * transactions, alerts go to a callback, the engine does no I/O. */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stdint.h>
#include "alert.h"
#include "rules.h"
#include "txn.h"

typedef struct fw_engine fw_engine;

/** Called for each alert; the alert and its slices are valid only during the call. */
typedef void (*fw_alert_fn)(void *opaque, const fw_alert *alert);

typedef struct fw_engine_stats {
    uint64_t transactions;
    uint64_t alerts[FW_RULE__COUNT];
} fw_engine_stats;

/** @brief A new engine using a copy of @p rules. @returns NULL on failure. */
fw_engine *fw_engine_new(const fw_rules *rules, char *errstr, size_t errstr_size);

/** @brief Frees the engine; NULL is a no-op. */
void fw_engine_destroy(fw_engine *e);

/** @brief Runs every enabled detector on @p txn, calling @p fn per alert. */
void fw_engine_process(fw_engine *e, const fw_txn *txn, fw_alert_fn fn, void *opaque);

/** @brief Counters since creation. */
const fw_engine_stats *fw_engine_stats_get(const fw_engine *e);

#endif
