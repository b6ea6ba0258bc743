/* state.h — keyed state of one partition: an entry per account, card,
 * customer and account→counterparty pair, holding exactly what the
 * detectors need (recent events, previous transaction, running average,
 * when each rule last alerted). Bounded by the configured limits; entries
 * expire once the watermark has passed everything a rule could still need. */
#ifndef FW_STATE_H
#define FW_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include "distinct.h"
#include "ml_features.h"
#include "fw_str.h"
#include "rules.h"

#define FW_ID_MAX 64    /* longest id kept in state; longer ones are dead letters */
#define FW_AMOUNT_MAX 32 /* longest amount token kept for evidence */
#define FW_CYCLE_PATH 4  /* accounts remembered per chain: cycles of up to 6 transfers */

typedef enum fw_entity_kind {
    FW_ENT_ACCOUNT = 0,
    FW_ENT_CARD,
    FW_ENT_CUSTOMER,
    FW_ENT_PAIR,         /* account → counterparty, key "account\x1fcounterparty" */
    FW_ENT_INBOUND,      /* transfers into an account, keyed by the receiving account */
    FW_ENT_FEATURES,     /* the model's history of a customer (else account, else card) */
    FW_ENT__COUNT
} fw_entity_kind;

/** Exact money sums of a list: amounts in units of 1/10000, 128 bits wide
 *  so that no window of any size overflows. */
typedef unsigned __int128 fw_units;
#define FW_UNITS_PER_1 10000.0

/** One remembered transaction: what evidence and the detectors need. */
typedef struct fw_evrec {
    fw_units cum;            /* units of this and every earlier record of its list (CASHED
                              * ones count 0): a range's sum is a difference, not a loop */
    int64_t ts;
    double amount;
    uint64_t merchant;       /* hash of merchant_id; 0 = none. In transfer lists: hash of
                              * the other account (counterparty, or sender when inbound) */
    uint64_t path[FW_CYCLE_PATH]; /* inbound transfers (cycle): hashes of the accounts the
                              * money passed before the sender, most recent first; 0 = none */
    uint8_t hops;            /* inbound transfers: transfers in the chain so far (cycle) */
    uint8_t type;            /* fw_txn_type */
    uint8_t idlen, amtlen;
    bool has_geo;
    uint8_t flags;           /* FW_EV_*: rule-specific marks */
    float lat, lon;
    char country[4];         /* up to 3 bytes + NUL */
    char id[FW_ID_MAX];
    char amount_raw[FW_AMOUNT_MAX];
} fw_evrec;

#define FW_EV_LARGE 1u        /* set by the native risk_score of earlier releases (restored
                                 flags may carry it); read by nothing now */
#define FW_EV_FAN_REPORTED 2u /* fan_in / fan_out: already in an alert */
#define FW_EV_CASHED 4u       /* mule_cashout: already in an alert */

/** A time-ordered list of events of one entity (per rule), bounded. Old
 *  events leave from the front by moving @c ev forward, not by moving the
 *  records: appending compacts only once the dead front is as long as the
 *  live part, so a full window of a busy key costs O(1) per event. */
typedef struct fw_evlist {
    fw_evrec *ev;            /* the first live record, inside mem */
    fw_evrec *mem;           /* the allocation: cap records */
    uint32_t n, cap;
} fw_evlist;

typedef struct fw_entity {
    struct fw_entity *next;  /* hash chain */
    uint64_t hash;
    int64_t last_ts;         /* newest event time seen: drives expiry */
    uint8_t kind;
    uint8_t keylen;
    bool dirty;              /* changed since the last changelog flush */
    uint32_t dirty_idx;      /* its slot in the engine's dirty list while dirty */
    char key[2 * FW_ID_MAX + 1];
    int64_t last_alert[FW_RULE__COUNT]; /* event time of the last alert, for dedupe */
    /* By kind (the native detectors; the language rules keep their own
     * state): ACCOUNT keeps its outflows (withdrawals and transfers out:
     * fan_out, mule_cashout) in recent; INBOUND keeps the transfers received
     * in win (fan_in, cycle, mule_cashout). */
    fw_evlist recent;
    fw_evlist win;
    double amount_sum;       /* running average: customer's amounts so far */
    uint64_t amount_n;
    fw_feat_state *feat;     /* FEATURES only (allocated with the entity, kept on reuse) */
    fw_distinct *distinct;   /* distinct counterparties (merchants) of the list fan_in,
                                fan_out or risk_score counts, once it is long enough to need
                                one; derived from the list, so never in the changelog */
    bool distinct_valid;     /* false: rebuild from the list before trusting it */
    int64_t reported_until;  /* ACCOUNT, INBOUND: fan_out / fan_in reported every counted
                                transfer in the window up to this time (a hint that lets
                                the next report start there; INT64_MIN: scan it all) */
    bool risk_episode;       /* CUSTOMER: the risk score stood at or above the limit at
                                its last evaluation; the episode has alerted already */
    uint32_t ml_pending;     /* FEATURES: its rows queued for ml_score; it stays until
                                they are scored, so their alerts see its dedupe state */
} fw_entity;

typedef struct fw_state_stats {
    uint64_t entities;           /* live now */
    uint64_t created, expired;
    uint64_t entity_overflows;   /* new entity refused: max_entities reached */
    uint64_t memory_refusals;    /* new entity or language key refused: the process was
                                    over its memory limit (fw_engine_set_memory_full) */
    uint64_t window_overflows;   /* event not kept: max_window_events reached */
    uint64_t index_failures;     /* a distinct-key index could not grow: scans instead */
} fw_state_stats;

typedef struct fw_state {
    fw_entity **buckets;
    uint32_t nbuckets;       /* power of two */
    uint32_t max_entities;
    uint32_t max_window_events;
    uint32_t sweep_cursor;   /* incremental expiry position */
    fw_entity *free_list;    /* expired entities kept for reuse, event arrays and all:
                                churn (a card seen every hour) costs no malloc */
    bool memory_full;        /* no new entity or language key: see fw_engine_set_memory_full */
    fw_state_stats stats;
} fw_state;

bool fw_state_init(fw_state *s, uint32_t max_entities, uint32_t max_window_events);
void fw_state_fini(fw_state *s);

/** @brief Finds the entity, creating it when @p create.
 *  @returns NULL when absent (or when max_entities is reached, or the
 *  memory is full: counted). */
fw_entity *fw_state_get(fw_state *s, fw_entity_kind kind, fw_str key, bool create);

/** @brief Finds the account→counterparty pair entity. */
fw_entity *fw_state_get_pair(fw_state *s, fw_str account, fw_str counterparty, bool create);

/** Told of each entity just before expiry frees it. */
typedef void (*fw_expire_fn)(void *opaque, const fw_entity *e);

/** @brief Removes entities whose last event is older than @p horizon_ms[kind]
 *  before @p watermark, looking at up to @p budget buckets (all when 0),
 *  telling @p fn of each first. */
void fw_state_expire(fw_state *s, int64_t watermark, const int64_t horizon_ms[FW_ENT__COUNT],
                     uint32_t budget, fw_expire_fn fn, void *opaque);

/** @brief Inserts @p ev in time order (ties by id); drops events older than
 *  @p keep_from. @returns false when the list is full (counted). */
bool fw_evlist_insert(fw_state *s, fw_evlist *l, const fw_evrec *ev, int64_t keep_from);

/** @brief Drops events with ts < @p keep_from from the front. */
void fw_evlist_trim(fw_evlist *l, int64_t keep_from);

/** @brief Drops the first @p k events. */
void fw_evlist_drop_front(fw_evlist *l, uint32_t k);

/** @brief Empties the list, keeping its memory. */
void fw_evlist_clear(fw_evlist *l);

/** @brief Recomputes the running sums from record @p from on (after flags
 *  changed or records were removed). */
void fw_evlist_recount(fw_evlist *l, uint32_t from);

/** @brief fw_evlist_find's binary search. */
uint32_t fw_evlist_search(const fw_evlist *l, int64_t ts, bool after);

/** @brief First index whose event time is at or after (@p after: after) @p ts. */
static inline uint32_t fw_evlist_find(const fw_evlist *l, int64_t ts, bool after) {
    /* Windows mostly end past the newest event and often start before the
     * oldest: those need no search. */
    if (l->n == 0 || (after ? l->ev[l->n - 1].ts <= ts : l->ev[l->n - 1].ts < ts))
        return l->n;
    if (after ? l->ev[0].ts > ts : l->ev[0].ts >= ts)
        return 0;
    return fw_evlist_search(l, ts, after);
}

/** @brief Units (1/10000) of the records in [@p i, @p j), CASHED ones not counted. */
fw_units fw_evlist_units(const fw_evlist *l, uint32_t i, uint32_t j);


/** @brief An amount in units, rounded, clamped to [0, 2^63). */
fw_units fw_units_of(double amount);

const char *fw_entity_kind_name(fw_entity_kind k);

#endif
