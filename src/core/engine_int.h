/* engine_int.h — the engine's insides, shared by engine.c (flow, time,
 * changelog) and the detectors (detect.h, detect*.c). Not part of the public
 * API. */
#ifndef FW_ENGINE_INT_H
#define FW_ENGINE_INT_H

#include "alert.h"
#include "engine.h"
#include "lang_rules.h"
#include "event_buffer.h"
#include "fw_pool.h"
#include "state.h"
#include "txn_ids.h"

#define FW_ML_BATCH_ROWS 1024   /* rows per scoring call */
#define FW_DETECT_PHASES 3      /* fw_detect_phase (detect.h) */
#define FW_ML_TEXT 64             /* longest id or name kept for an ml_score alert */

/* What an ml_score alert shows of its transaction, copied when it is queued
 * (the record itself is gone by the time the batch is scored). */
typedef struct fw_ml_ctx {
    int64_t ts;
    double amount;
    double lat, lon;
    uint32_t has;
    uint8_t type;
    uint8_t entity_kind;          /* FW_ENT_CUSTOMER, _ACCOUNT or _CARD: what keyed it */
    struct fw_entity *ent;        /* its history (kept while queued), or NULL */
    uint8_t len[10];
    char text[10][FW_ML_TEXT];    /* FW_MLT_* */
} fw_ml_ctx;

enum { FW_MLT_ID, FW_MLT_AMOUNT, FW_MLT_ACCOUNT, FW_MLT_CARD, FW_MLT_CUSTOMER,
       FW_MLT_MERCHANT, FW_MLT_COUNTRY, FW_MLT_COUNTERPARTY, FW_MLT_CHANNEL,
       FW_MLT_CURRENCY };

struct fw_ml_batch {
    struct fw_ml_batch *next;
    size_t n;
    float features[FW_ML_BATCH_ROWS * FW_F__COUNT];
    fw_ml_ctx ctx[FW_ML_BATCH_ROWS];
};

struct fw_engine {
    fw_rules rules;
    fw_engine_stats stats;
    fw_state state;
    fw_pool pool;
    fw_event_buffer buffer;
    const fw_profiles *profiles;      /* shared enrichment table, or NULL */
    const fw_txn_extras *extras;      /* extra fields restored records keep, or NULL */
    struct fw_lang_state *lang;       /* the language rules' state (engine_lang.c), or NULL */
    const fw_lang_rules *lang_user;   /* the user's rules (fw_engine_set_lang), borrowed */
    fw_lang_rules *lang_shipped;      /* the built-ins' shipped definitions not replaced */
    fw_lang_rules *lang_joined;       /* both: what lang runs (in file mode) */
    fw_lang_rules *lang_staged;       /* the joined rules of the engine's stage, what lang
                                         runs then (fw_engine_set_stage); else NULL */
    const fw_profile *lang_profile;   /* this record's profile while its rules run */
    bool lang_arrival;                /* a language rule is judged on arrival */
    bool lang_in_order;               /* one is judged in event-time order */
    bool lang_replay;                 /* fw_engine_lang_set_replay */
    bool lang_changed;                /* fw_engine_set_lang ran before: the next is a change */
    bool lang_replaces[FW_RULE__COUNT]; /* a language rule of the built-in's id runs instead */
    int64_t lang_next_sweep;          /* no sweep of it before this watermark */
    uint64_t lang_backfill[4];        /* parts (bits) of backfill rules new at the last
                                         fw_engine_set_lang: fw_engine_lang_backfill */
    fw_buf lang_dropped;              /* keys of language rule parts a live change dropped,
                                         tombstoned at the next fw_engine_changes: u64 part
                                         id, u16 length, bytes, repeated */
    int8_t lang_slot[64];             /* language rule extra slot -> index in extras; -1: none */
    uint64_t lang_swept_at;           /* stats.released at the last idle sweep: records
                                         released since swept as they went (lang_state) */
    int64_t max_ts;                   /* highest event time seen; INT64_MIN: none */
    /* An entity idle (in event time) longer than logical_horizon starts afresh
     * at its next event; the sweep frees it once the watermark is a further
     * allowed lateness past that (horizon), when no future event can see it.
     * So when the sweep runs never changes a result. */
    int64_t logical_horizon[FW_ENT__COUNT];
    int64_t horizon[FW_ENT__COUNT];
    const fw_engine_out *out;         /* valid during process/advance */
    uint32_t scan_small;              /* lists up to this long are scanned for distinct keys,
                                         longer ones indexed (FW_SCAN_SMALL; tests vary it) */
    /* The enabled native detectors of each phase, in registry order, and the
     * shared state they need (FW_NEEDS_*): built once by fw_detect_plan so
     * that the dispatch asks no rule whether it is enabled per record. */
    const struct fw_detector *plan[FW_DETECT_PHASES][FW_RULE__COUNT];
    uint8_t nplan[FW_DETECT_PHASES];
    unsigned needs;
    /* Alert assembly, reused. */
    char reason[512];
    char entity_id[2 * FW_ID_MAX + 4];
    fw_evidence *evidence;            /* max_window_events + 2 slots */
    /* A language rule's alert as fw_alert (engine_lang.c). */
    fw_evidence lang_evidence[64];
    fw_buf lang_amounts;              /* its evidence amounts' text (fw_evidence.amount_raw):
                                         grows to the largest alert, then is reused */
    fw_alert_value lang_values[16];
    /* Changelog bookkeeping, only when someone reads the changes. */
    bool track_changes;
    fw_entity **dirty;                /* entities changed since the last flush */
    uint32_t ndirty, dirty_cap;
    fw_buf deleted;                   /* keys to tombstone: u16 length + bytes, repeated */
    /* Changelog keys of buffered transactions ('b' + slot): a slot is
     * taken when one is written and given back when it is released, with no
     * tombstone; a restore drops what the watermark had passed (engine.c). */
    uint32_t *free_slots, nfree, free_cap, next_slot;
    bool restoring;                   /* records restored: drop the released ones first */
    bool max_ts_dirty;
    fw_buf scratch;                   /* serialization */
    /* Features and ml_score (ml_score.c). */
    fw_feature_sink_fn feature_sink;
    void *feature_sink_opaque;
    bool ml_active;
    fw_model *model;                  /* local scoring, or NULL */
    int model_cols[FW_MODEL_MAX_FEATURES]; /* model column j = feature model_cols[j] */
    fw_ml_batch *ml_head, *ml_tail;   /* queued, oldest first; the tail is filling */
    fw_ml_batch *ml_free;
    size_t ml_pending;
    float *ml_matrix;                 /* FW_ML_BATCH_ROWS x model columns */
    float *ml_probs;
    float *ml_contribs;               /* FW_ML_BATCH_ROWS x (model columns + 1) */
    float *ml_feature_contribs;       /* FW_ML_BATCH_ROWS x (FW_F__COUNT + 1) */
    bool ml_alerting[FW_ML_BATCH_ROWS]; /* rows of the batch being completed that alert */
    char ml_error[256];               /* the last scoring failure */
    /* Duplicates (engine.c, "duplicates"): ids seen within ids_horizon of
     * event time behind the watermark. */
    fw_txn_ids ids;
    int64_t ids_horizon;
    /* The stage this engine runs (fw_engine_set_stage); kind FW_STAGE_ALL
     * (zeroed): everything, file mode. */
    fw_stage stage;
    const char *const *stage_colocated; /* borrowed, NULL-terminated, or NULL */
    int32_t stage_partition, stage_partitions;
    bool stage_external;              /* the watermark comes from fw_engine_advance alone */
    bool stage_no_ml;                 /* ml_score runs in another stage: no features here */
    int64_t wm_cap;                   /* the watermark goes no further (fw_engine_cap_watermark);
                                         INT64_MAX: no cap */
};

/** @brief True when the engine's stage runs what runs in @p s. */
bool fw_engine_stage_runs(const fw_engine *e, const fw_stage *s);

/** @brief Marks an entity changed (for the changelog). */
void fw_engine_touch(fw_engine *e, fw_entity *ent);

/** @brief Runs the ordered detectors on one transaction. @p behind: it arrived
 *  behind the watermark, so sequence rules (which need the exact previous
 *  transaction) skip it and only window rules take it. */
void fw_detect(fw_engine *e, const fw_txn *t, bool behind);

/** @brief Starts @p ent afresh when idle past its logical horizon, then
 *  records @p t's event time. */
fw_entity *fw_engine_refresh(fw_engine *e, fw_entity *ent, const fw_txn *t);

/** @brief Feature vector of @p t (history, sink, ml_score queue); before
 *  the detectors. */
void fw_ml_observe(fw_engine *e, const fw_txn *t);

/** @brief The language rules on one transaction: @p phase FW_LANG_ON_ARRIVAL
 *  those judged on arrival (the filters late ones too, @p late: beyond
 *  allowed lateness), FW_LANG_IN_ORDER the others, in event-time order;
 *  @p behind: it arrived behind the watermark. */
void fw_engine_lang_eval(fw_engine *e, const fw_txn *t, fw_lang_phase phase, bool behind,
                         bool late);

/** @brief Frees the language rules' state older than their lookbacks. */
void fw_engine_lang_expire(fw_engine *e, int64_t watermark);

/** @brief Emits the language rules' changed keys and tombstones (key 'L')
 *  as fw_engine_changes does for entities. */
void fw_engine_lang_changes(fw_engine *e, fw_change_fn fn, void *opaque);

/** @brief Restores one 'L' record. @p stale is set for a record of a rule
 *  shape no longer loaded (not restored; the caller tombstones it). */
fw_err fw_engine_lang_restore(fw_engine *e, fw_str key, const void *value, size_t len,
                              bool *stale, char *errstr, size_t errstr_size);

/** @brief Frees the language rules' state. */
void fw_engine_lang_fini(fw_engine *e);

/** @brief Frees the ml_score batches and buffers. */
void fw_ml_fini(fw_engine *e);

/** @brief Lists up to @p n events are scanned for distinct keys instead of
 *  indexed (default 64). For tests: both ways must give the same alerts. */
void fw_engine_set_scan_small(fw_engine *e, uint32_t n);

/** @brief Fills an event record from a transaction. */
void fw_evrec_from_txn(fw_evrec *r, const fw_txn *t);

#endif
