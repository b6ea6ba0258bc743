/* engine_int.h — the engine's insides, shared by engine.c (flow, time,
 * changelog) and detect.c (the rules). Not part of the public API. */
#ifndef FW_ENGINE_INT_H
#define FW_ENGINE_INT_H

#include "engine.h"
#include "event_buffer.h"
#include "fw_pool.h"
#include "state.h"

struct fw_engine {
    fw_rules rules;
    fw_engine_stats stats;
    fw_state state;
    fw_pool pool;
    fw_event_buffer buffer;
    const fw_profiles *profiles;      /* shared enrichment table, or NULL */
    int64_t max_ts;                   /* highest event time seen; INT64_MIN: none */
    /* An entity idle (in event time) longer than logical_horizon starts afresh
     * at its next event; the sweep frees it once the watermark is a further
     * allowed lateness past that (horizon), when no future event can see it.
     * So when the sweep runs never changes a result. */
    int64_t logical_horizon[FW_ENT__COUNT];
    int64_t horizon[FW_ENT__COUNT];
    const fw_engine_out *out;         /* valid during process/advance */
    /* Alert assembly, reused. */
    char reason[512];
    char entity_id[2 * FW_ID_MAX + 4];
    fw_evidence *evidence;            /* max_window_events + 2 slots */
    /* Changelog bookkeeping, only when someone reads the changes. */
    bool track_changes;
    fw_entity **dirty;                /* entities changed since the last flush */
    uint32_t ndirty, dirty_cap;
    fw_buf deleted;                   /* keys to tombstone: u16 length + bytes, repeated */
    bool max_ts_dirty;
    fw_buf scratch;                   /* serialization */
};

/** @brief Marks an entity changed (for the changelog). */
void fw_engine_touch(fw_engine *e, fw_entity *ent);

/** @brief Runs the ordered detectors on one transaction. @p behind: it arrived
 *  behind the watermark, so sequence rules (which need the exact previous
 *  transaction) skip it and only window rules take it. */
void fw_detect(fw_engine *e, const fw_txn *t, bool behind);

/** @brief Fills an event record from a transaction. */
void fw_evrec_from_txn(fw_evrec *r, const fw_txn *t);

#endif
