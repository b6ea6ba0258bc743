/* detect.h — the table of native detectors and what they share. Each native
 * detector is one file (detect_<name>.c) exporting one fw_detector; the
 * registry in detect.c lists them, one line each, and fw_detect() runs the
 * enabled ones in registry order within each phase. Raising, explaining and
 * de-duplicating an alert and the distinct-key
 * index are here and in detect_common.c, so every detector does them one way.
 * Not part of the public API. */
#ifndef FW_DETECT_H
#define FW_DETECT_H

#include <stdlib.h>

#include "engine_int.h"
#include "fw_hash.h"

/* cycle and mule_cashout weigh at most this many of the latest transfers an
 * account received (docs/rules.md); more are counted in scan_limited. A
 * busy account (an exchange, a payroll account) then costs a bounded amount
 * per transfer; mules and layering chains receive far fewer. */
#define FW_SCAN_MAX 128

/* When, and on which entity, fw_detect() calls a detector. The phases run in
 * this order for each transaction; within one, detectors run in registry
 * order (which decides the order of their alerts). */
typedef enum fw_detect_phase {
    FW_PHASE_OUTFLOW,     /* the sender's account, once a withdrawal or transfer out joined
                             its outflows (recent); cur is that record */
    FW_PHASE_INBOUND_PRE, /* the receiver of a transfer, before the transfer joins its inbound
                             list (win); cur is the record about to join, and may be changed */
    FW_PHASE_INBOUND,     /* the receiver, after it joined */
    FW_PHASE__COUNT
} fw_detect_phase;
_Static_assert(FW_PHASE__COUNT == FW_DETECT_PHASES, "engine_int.h sizes the plan by phase");

/** @brief How far back an account's outflows are kept for certain: older
 *  ones may or may not be there yet, so no rule may depend on them. */
int64_t fw_detect_outflows_kept(const fw_engine *e);

/* State a detector needs kept beyond its own entity. */
#define FW_NEEDS_OUTFLOWS 1u /* an account's withdrawals and transfers out (recent) */
#define FW_NEEDS_INBOUND 2u  /* the transfers an account received (INBOUND entity) */
/* Set by fw_detect_plan, never by a detector: */
#define FW_NEEDS_ANY 8u      /* some native detector runs: fw_detect keeps entity state */

/** One transaction for one detector: @p ent is the phase's entity, @p cur
 *  the transaction as an event record (see fw_detect_phase). */
typedef void fw_detect_fn(fw_engine *e, fw_entity *ent, const fw_txn *t, fw_evrec *cur);

/** A native detector: what the registry holds, one per detect_<name>.c. */
typedef struct fw_detector {
    fw_rule_id rule;       /* its rule (rules.h): parameters, enabled, severity, counters */
    const char *name;      /* as fw_rule_name(rule); checked by test_detect */
    fw_detect_phase phase;
    unsigned needs;        /* FW_NEEDS_*: lists the dispatch keeps for it */
    fw_detect_fn *on_event;
} fw_detector;

/** @brief The registry: @p n receives its length. */
const fw_detector *const *fw_detectors(size_t *n);

/** @brief True for a built-in run natively (a registry line, or the batched
 *  ml_score); false for one the language expresses (a shipped definition). */
bool fw_detect_is_native(fw_rule_id rule);

/** @brief Builds the engine's per-phase list of enabled detectors from its
 *  rules and the state they need (at fw_engine_new, and again whenever the
 *  rules or the language rules replacing built-ins change). */
void fw_detect_plan(fw_engine *e);

/* ---- raise, explain, de-duplicate (detect_common.c) ---- */

/** @brief Appends @p r to the alert's evidence (e->evidence), keeping the
 *  first ones when the slots are full. */
static inline void fw_detect_evidence(fw_engine *e, size_t *n, const fw_evrec *r) {
    if (*n >= (size_t)e->rules.limits.max_window_events + 2)
        return; /* two full lists (mule_cashout) can exceed the slots: keep the first */
    e->evidence[(*n)++] = (fw_evidence){ .transaction_id = { r->id, r->idlen },
                                         .ts_ms = r->ts,
                                         .amount_raw = { r->amount_raw, r->amtlen } };
}

/** @brief True, and counted, when the same rule alerted on this entity within
 *  the dedupe window: rules whose evidence costs a walk over a window ask
 *  before they assemble it. */
static inline bool fw_detect_deduplicated(fw_engine *e, const fw_entity *ent, fw_rule_id rule,
                                          int64_t ts) {
    int64_t last = ent->last_alert[rule];
    if (last != INT64_MIN && llabs(ts - last) < e->rules.time.dedupe_window_ms) {
        e->stats.deduplicated[rule]++;
        return true;
    }
    return false;
}

/** @brief Emits an alert that fw_detect_deduplicated() let through: reason
 *  in e->reason, @p nev records in e->evidence. */
void fw_detect_emit(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t, size_t nev,
                    int64_t wstart, int64_t wend, const fw_profile *prof);

/** @brief Emits unless the same rule alerted on this entity within the
 *  dedupe window. */
void fw_detect_raise(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t, size_t nev,
                     int64_t wstart, int64_t wend, const fw_profile *prof);

/* ---- distinct keys of a list: scanned when short, indexed when long ---- */

/** @brief The hash an account id goes by in an event record's `merchant`
 *  (transfers: the other account). */
static inline uint64_t fw_detect_id_hash(fw_str id) { return fw_hash64(id.ptr, id.len, 11) | 1; }

/** @brief Keeps a live index in step with record @p r just added to its
 *  list, whose events before @p keep_from are gone. */
void fw_detect_distinct_added(fw_engine *e, fw_entity *ent, const fw_evrec *r, int64_t keep_from);

/** @brief The index when it can answer for a window that ends at or after the
 *  list's newest event; NULL when a scan must. */
fw_distinct *fw_detect_distinct_for(fw_engine *e, fw_entity *ent, int64_t end);

/** @brief Distinct keys that count among records [lo, hi) of the entity's
 *  list, by a scan, counting no further than @p limit. */
uint32_t fw_detect_scan_distinct(fw_engine *e, const fw_entity *ent, uint32_t lo, uint32_t hi,
                                 uint32_t limit);

/** @brief fan_in / fan_out: distinct other accounts among the records in
 *  (from, to] that count, up to @p enough; @p indexed says whether the index
 *  answered. */
int fw_detect_distinct_parties(fw_engine *e, fw_entity *ent, int64_t from, int64_t to, int enough,
                               bool *indexed);

/** @brief fan_in / fan_out evidence: the counted records, marked reported. */
size_t fw_detect_report_parties(fw_engine *e, fw_entity *ent, fw_evlist *l, int64_t from,
                                int64_t to, double min_amount, bool indexed);

#endif
