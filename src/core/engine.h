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
#include "ml_features.h"
#include "model.h"
#include "rules.h"
#include "stage.h"
#include "state.h"
#include "txn.h"
#include "txn_ids.h"

typedef struct fw_engine fw_engine;

typedef struct fw_engine_out {
    void *opaque;
    /** An alert; it and its slices are valid only during the call. */
    void (*alert)(void *opaque, const fw_alert *alert);
    /** A transaction too late to apply (beyond the allowed lateness). */
    void (*late)(void *opaque, const fw_txn *txn, int64_t watermark);
    /** A transaction whose id was seen before (fw_engine_process_from): not
     *  applied; @p first is where the first copy came from. Optional. */
    void (*duplicate)(void *opaque, const fw_txn *txn, const fw_txn_pos *first);
} fw_engine_out;

typedef struct fw_engine_stats {
    uint64_t transactions;       /* arrived */
    uint64_t released;           /* reached the ordered detectors (or passed, with none) */
    uint64_t late;               /* beyond the allowed lateness */
    uint64_t behind_watermark;   /* arrived behind the watermark but within the allowed
                                    lateness: applied to windows, not to sequences */
    uint64_t buffer_overflows;   /* buffer full: released before the watermark */
    uint64_t scan_limited;       /* cycle / mule_cashout weighed only the latest 128
                                    transfers an account received in the window */
    uint64_t id_too_long;        /* an entity id over FW_ID_MAX bytes: not tracked */
    uint64_t alerts[FW_RULE__COUNT];
    uint64_t lang_alerts;        /* alerts of the language rules, all together */
    uint64_t deduplicated[FW_RULE__COUNT]; /* alerts folded into an earlier one */
    uint64_t buffered;           /* waiting for the watermark now */
    uint64_t ml_scored;          /* ml_score: transactions scored */
    uint64_t ml_unscored;        /* ml_score: not scored (model service failed, no model) */
    uint64_t ml_batches;         /* scoring calls */
    uint64_t ml_failed_batches;
    int64_t watermark;           /* INT64_MIN before the first transaction */
    int64_t max_event_time;      /* highest event time seen; INT64_MIN: none */
    uint64_t duplicates;         /* transaction id seen before: dropped */
    uint64_t ids_evicted;        /* ids forgotten before their horizon (max_transaction_ids) */
    uint64_t ids;                /* ids remembered now */
} fw_engine_stats;

/** @brief A new engine using a copy of @p rules. @returns NULL on failure. */
fw_engine *fw_engine_new(const fw_rules *rules, char *errstr, size_t errstr_size);

/**
 * @brief Replaces the rule set between two transactions (a live rule change),
 * keeping every entity's state, the buffer and the dedupe memory: a changed
 * parameter applies to the events already held; an enlarged window sees only
 * what the old one kept. The time and limits sections size the engine and
 * cannot change.
 * @returns FW_OK, or FW_ERR_INVALID naming the section (nothing changed).
 */
fw_err fw_engine_set_rules(fw_engine *e, const fw_rules *rules, char *errstr,
                           size_t errstr_size);

/** @brief Uses @p profiles (shared, read-only, may be NULL) for enrichment;
 *  the table must outlive the engine. */
void fw_engine_set_profiles(fw_engine *e, const fw_profiles *profiles);

/** @brief The extra fields (txn.h) the rules use, so that buffered records
 *  restored from the changelog keep them; NULL: none. Shared, read-only,
 *  outlives the engine. */
void fw_engine_set_extras(fw_engine *e, const fw_txn_extras *extras);

struct fw_lang_rules;

/** @brief Runs the language rules of @p rs (lang_rules.h; NULL or none: no
 *  user rules) beside the native detectors, joined with the shipped
 *  definitions of the built-ins @p rs does not replace (configured by the
 *  engine's fw_rules; fw_lang_rules_builtins). @p rs is shared, read-only
 *  and outlives the engine's use of it. A live change (a set was running):
 *  every state part whose shape (fw_lang_state_part_id) the new set has too
 *  keeps its keys, windows and dedupe stamps; the other parts start empty and
 *  their keys are tombstoned at the next fw_engine_changes. Call between two
 *  transactions; the previous set may be freed after the call.
 *  @returns FW_OK, or FW_ERR_NOMEM with @p errstr (the previous set keeps
 *  running). */
fw_err fw_engine_set_lang(fw_engine *e, const struct fw_lang_rules *rs, char *errstr,
                          size_t errstr_size);

/** A backfill rule (docs/live-rules.md#backfill) whose state part the last
 *  fw_engine_set_lang started empty: it needs its input replayed. */
typedef struct fw_engine_backfill {
    uint64_t part_id;                    /* fw_lang_state_part_id */
    const struct fw_lang_rule *rule;     /* valid while the set is */
} fw_engine_backfill;

/** @brief Fills @p out with up to @p cap backfill rules whose part was new
 *  at the last fw_engine_set_lang (not in the set before, or no set ran); the
 *  engine's first fw_engine_set_lang (a start, whose state comes from the
 *  changelog) lists none.
 *  @returns how many there are. */
size_t fw_engine_lang_backfill(const fw_engine *e, fw_engine_backfill *out, size_t cap);

/** @brief Replay mode for a scratch engine's language rules
 *  (fw_lang_state_set_replay): the backfill rules' state is built, no alert
 *  is raised, the other language rules are not evaluated. Applies
 *  to the set loaded now and to later ones. */
void fw_engine_lang_set_replay(fw_engine *e, bool on);

/** @brief Moves every key of the part @p part_id of @p src's language state
 *  into the same part of @p dst (through the changelog bytes), replacing what
 *  @p dst held for the key; each moved key counts as changed in @p dst (its
 *  changelog gets it at the next fw_engine_changes). @p src is left as it was (a scratch engine, destroyed next).
 *  @returns FW_OK and *moved; FW_ERR_INVALID when either lacks the part. */
fw_err fw_engine_lang_adopt(fw_engine *dst, fw_engine *src, uint64_t part_id, size_t *moved,
                            char *errstr, size_t errstr_size);

/**
 * @brief Runs only the computations of stage @p s (stage.h; a copy is kept),
 * as partition @p partition of @p partitions: native detectors and language
 * rules of other stages are not run and keep no state. In FW_STAGE_RECEIVER
 * a transfer joins its receiver's inbound list only when
 * fw_stage_partition(counterparty_id) == partition, and counts as its
 * sender's outflow only when fw_stage_partition(account_id) == partition (a
 * record can be both). Any stage but FW_STAGE_ALL and FW_STAGE_INPUT takes
 * its watermark from fw_engine_advance alone (the runtime's minimum over the
 * upstream partitions): records never move it, none is a duplicate (no id
 * memory), and the watermark survives the changelog (restore gives back the
 * last advanced one). @p colocated (NULL-terminated field names, or NULL) is
 * borrowed: it outlives the engine. Call before the first record; applied
 * again by every fw_engine_set_rules and fw_engine_set_lang. FW_STAGE_ALL
 * (the default) is file mode: everything runs.
 */
void fw_engine_set_stage(fw_engine *e, const fw_stage *s, const char *const *colocated,
                         int32_t partition, int32_t partitions);

/** @brief Frees the engine; NULL is a no-op. */
void fw_engine_destroy(fw_engine *e);

/** @brief Takes one arriving transaction: judges it at once with the
 *  stateless rules, then buffers it, or reports it late; releases to the
 *  ordered detectors whatever the new watermark has passed. */
void fw_engine_process(fw_engine *e, const fw_txn *txn, const fw_engine_out *out);

/** @brief fw_engine_process, after dropping a duplicate: a transaction
 *  whose id was seen within allowed_lateness + max_out_of_orderness +
 *  duplicate_margin of event time is reported through out->duplicate and
 *  counted instead. @p pos (may be NULL) is kept to name the first copy. */
void fw_engine_process_from(fw_engine *e, const fw_txn *txn, const fw_txn_pos *pos,
                            const fw_engine_out *out);

/** @brief Raises the watermark to at least @p watermark (an idle partition's
 *  wall-clock advance; INT64_MAX at the end of input releases everything and
 *  lets all state expire). */
void fw_engine_advance(fw_engine *e, int64_t watermark, const fw_engine_out *out);

/** @brief Holds the watermark at most at @p cap (INT64_MIN: holds
 *  everything; INT64_MAX: no cap, the default), whatever the records and
 *  advances allow: a task that also receives, later, transactions another
 *  partition read (the runtime's repartition by account) waits for that
 *  partition's progress. With @p out, releases what a raised cap lets go;
 *  without (a new engine), only sets it. */
void fw_engine_cap_watermark(fw_engine *e, int64_t cap, const fw_engine_out *out);

/** @brief Counters and gauges. */
const fw_engine_stats *fw_engine_stats_get(const fw_engine *e);
const fw_state_stats *fw_engine_state_stats(const fw_engine *e);
/** @brief Keys of keyed state now: native entities and language rule keys. */
uint64_t fw_engine_keys(const fw_engine *e);

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

/* ---- features and ml_score ----
 *
 * Every transaction reaching the ordered detectors gets a feature vector
 * (ml_features.h) from its customer's history as it stood just before it, when
 * a feature sink is set or ml_score is active. With ml_score active the
 * vectors are queued in batches; a batch is scored in one model call, either
 * here (fw_engine_set_model: fw_engine_ml_flush) or by whoever takes it
 * (fw_engine_ml_take, e.g. a remote /predict service) and hands the
 * probabilities back (fw_engine_ml_complete). Alerts and their dedupe happen
 * at completion, in batch order, so the result does not depend on where the
 * batches were cut. */

/** Receives each transaction's feature vector (FW_F__COUNT floats, valid
 *  during the call), in the order the detectors see the transactions. */
typedef void (*fw_feature_sink_fn)(void *opaque, const fw_txn *t, const float *features);

/** @brief Sets (or clears, with NULL) the feature sink. */
void fw_engine_set_feature_sink(fw_engine *e, fw_feature_sink_fn fn, void *opaque);

/** @brief Turns ml_score's batching on (when the rule is enabled). Without
 *  it, the engine keeps no feature history and queues nothing. */
void fw_engine_ml_activate(fw_engine *e, bool on);

/** @brief While @p full, no new key of state is made: a new entity or
 *  language rule key is refused and counted (fw_state_stats.memory_refusals);
 *  keys already held go on. The runtime sets it from the process's memory
 *  against its limit (--max-memory); the core knows no memory but its own. */
void fw_engine_set_memory_full(fw_engine *e, bool full);

/** @brief Scores with @p m (not owned; NULL: none) from the next flush on.
 *  Fails, keeping the previous model, when the model wants a feature the
 *  engine does not compute (named in @p errstr). */
fw_err fw_engine_set_model(fw_engine *e, fw_model *m, char *errstr, size_t errstr_size);

/** Rows queued for scoring (opaque: read through the accessors). */
typedef struct fw_ml_batch fw_ml_batch;
size_t fw_ml_batch_rows(const fw_ml_batch *b);
/** @brief Row-major n x FW_F__COUNT feature matrix. */
const float *fw_ml_batch_features(const fw_ml_batch *b);

/** @brief Frees a taken batch whose engine is gone. */
void fw_ml_batch_free(fw_ml_batch *b);

/** @brief Rows waiting to be scored, in all batches. */
size_t fw_engine_ml_pending(const fw_engine *e);

/** @brief Takes the oldest batch out of the engine (NULL when none); hand it
 *  back with fw_engine_ml_complete, in the order taken. */
fw_ml_batch *fw_engine_ml_take(fw_engine *e);

/** @brief Raises the alerts of a scored batch and recycles it. @p probs: one
 *  probability per row, or NULL when scoring failed (counted, no alerts).
 *  @p contribs: NULL, or rows x (FW_F__COUNT + 1) contributions by feature
 *  index. @p model names the scorer in the alerts. */
void fw_engine_ml_complete(fw_engine *e, fw_ml_batch *b, const float *probs,
                           const float *contribs, const char *model,
                           const fw_engine_out *out);

/** @brief Scores every queued row with the engine's model (one call per
 *  batch, contributions for the alerting rows only) and raises the alerts;
 *  without a model the rows are counted unscored and dropped. */
void fw_engine_ml_flush(fw_engine *e, const fw_engine_out *out);

#endif
