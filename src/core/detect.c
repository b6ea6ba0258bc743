/* detect.c — the registry of native detectors and the dispatch that runs
 * them. Each detector is one file (detect_<name>.c, one fw_detector) and one
 * line of FW_DETECTORS below; the shared ways to raise, explain and
 * de-duplicate an alert are in detect_common.c (detect.h). The dispatch finds
 * a transaction's entities, keeps the state several detectors share (an
 * account's outflows, a receiver's inbound transfers, a customer's or card's
 * previous transaction) and calls the enabled detectors phase by phase.
 * Every detector sees one entity's transactions in event-time order and
 * decides on event time alone, so the same input gives the same alerts in any
 * arrival order within the out-of-orderness bound. Time bounds are strict,
 * as in Flink CEP's within(): a pattern spanning exactly the bound does not
 * match. */
#include <string.h>

#include "detect.h"

/* The registry: one line per native detector, the rules the language does
 * not express (money moving between accounts). Within a phase, this order
 * is the order of their alerts for one transaction. ml_score (ml_score.c,
 * batched) is not a detector of this table: it does not run in event-time
 * order. The other built-ins are shipped language definitions
 * (rules/builtin-rules.json, fw_lang_rules_builtins). */
#define FW_DETECTORS(X)                                                                   \
    X(fan_out)                                                                            \
    X(mule_cashout)                                                                       \
    X(cycle)                                                                              \
    X(fan_in)

#define FW_DETECTOR_DECLARE(n) extern const fw_detector fw_detector_##n;
#define FW_DETECTOR_ENTRY(n) &fw_detector_##n,
FW_DETECTORS(FW_DETECTOR_DECLARE)
static const fw_detector *const registry[] = { FW_DETECTORS(FW_DETECTOR_ENTRY) };

const fw_detector *const *fw_detectors(size_t *n) {
    *n = sizeof(registry) / sizeof(registry[0]);
    return registry;
}

bool fw_detect_is_native(fw_rule_id rule) {
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (registry[i]->rule == rule)
            return true;
    return rule == FW_RULE_ML_SCORE;
}

/* The detector runs in file mode: enabled, not replaced by a language rule. */
static bool detector_on(const fw_engine *e, fw_rule_id rule) {
    return e->rules.common[rule].enabled && !e->lang_replaces[rule];
}

void fw_detect_plan(fw_engine *e) {
    memset(e->nplan, 0, sizeof(e->nplan));
    e->needs = 0;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        const fw_detector *d = registry[i];
        if (!detector_on(e, d->rule))
            continue;
        if (e->stage.kind != FW_STAGE_ALL) { /* only the stage's own (fw_engine_set_stage) */
            fw_stage s;
            fw_stage_of_builtin(d->rule, e->stage_colocated, &s);
            if (!fw_engine_stage_runs(e, &s))
                continue;
        }
        e->plan[d->phase][e->nplan[d->phase]++] = d;
        e->needs |= d->needs | FW_NEEDS_ANY;
    }
    /* cycle's evidence (find_outflow) reads the origin's outflows, which file
     * mode keeps whenever fan_out or mule_cashout runs: the cycle stage keeps
     * them then too, so that its alerts are file mode's. */
    if (e->stage.kind == FW_STAGE_CYCLE && (e->needs & FW_NEEDS_ANY) &&
        (detector_on(e, FW_RULE_FAN_OUT) || detector_on(e, FW_RULE_MULE_CASHOUT)))
        e->needs |= FW_NEEDS_OUTFLOWS;
}

/* Runs the enabled detectors of @p ph on @p ent. */
static inline void run_phase(fw_engine *e, fw_detect_phase ph, fw_entity *ent, const fw_txn *t,
                             fw_evrec *cur) {
    for (unsigned i = 0; i < e->nplan[ph]; i++)
        e->plan[ph][i]->on_event(e, ent, t, cur);
}

static int64_t max3(int64_t a, int64_t b, int64_t c) {
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* ---- state several detectors share ----
 * An account's outflows (withdrawals, transfers out) sit in its ACCOUNT
 * entity's recent list, the transfers it received in its INBOUND entity,
 * each record carrying the other account's hash in `merchant`. */

int64_t fw_detect_outflows_kept(const fw_engine *e) {
    const fw_rules *r = &e->rules;
    int64_t keep = r->fan_out.window_ms > r->mule_cashout.within_ms ? r->fan_out.window_ms
                                                                     : r->mule_cashout.within_ms;
    return keep + r->time.allowed_lateness_ms;
}

/* A withdrawal or a transfer out, recorded for fan_out and mule_cashout. */
static void on_outflow(fw_engine *e, fw_entity *acct, const fw_txn *t, const fw_evrec *cur,
                       bool transfer) {
    fw_evrec rec = *cur;
    rec.merchant = transfer ? fw_detect_id_hash(t->counterparty_id) : 0;
    int64_t keep_from = t->ts_ms - fw_detect_outflows_kept(e);
    if (fw_evlist_insert(&e->state, &acct->recent, &rec, keep_from))
        fw_detect_distinct_added(e, acct, &rec, keep_from);
    fw_engine_touch(e, acct);
    run_phase(e, FW_PHASE_OUTFLOW, acct, t, &rec);
}

/* A transfer arriving at its receiver: cycle, then fan_in. */
static void on_inbound(fw_engine *e, fw_entity *in, const fw_txn *t, const fw_evrec *cur) {
    const fw_rules *r = &e->rules;
    fw_evrec rec = *cur;
    rec.merchant = fw_detect_id_hash(t->account_id);
    run_phase(e, FW_PHASE_INBOUND_PRE, in, t, &rec);
    int64_t keep = max3(r->fan_in.window_ms, r->mule_cashout.within_ms, r->cycle.hop_within_ms);
    int64_t keep_from = t->ts_ms - keep - r->time.allowed_lateness_ms;
    if (fw_evlist_insert(&e->state, &in->win, &rec, keep_from))
        fw_detect_distinct_added(e, in, &rec, keep_from);
    fw_engine_touch(e, in);
    run_phase(e, FW_PHASE_INBOUND, in, t, &rec);
}

/* ---- dispatch ---- */

/* Starts an entity afresh when it has been idle past its logical horizon,
 * whether or not the sweep has freed it yet; then records the event time. */
fw_entity *fw_engine_refresh(fw_engine *e, fw_entity *ent, const fw_txn *t) {
    if (ent->last_ts != INT64_MIN && t->ts_ms - ent->last_ts > e->logical_horizon[ent->kind]) {
        fw_evlist_clear(&ent->recent);
        fw_evlist_clear(&ent->win);
        ent->distinct_valid = false;
        ent->reported_until = INT64_MIN;
        ent->risk_episode = false;
        ent->amount_sum = 0;
        ent->amount_n = 0;
        if (ent->kind == FW_ENT_FEATURES)
            fw_feat_state_init(ent->feat);
        for (int r = 0; r < FW_RULE__COUNT; r++)
            ent->last_alert[r] = INT64_MIN;
        fw_engine_touch(e, ent);
    }
    if (t->ts_ms > ent->last_ts) {
        ent->last_ts = t->ts_ms;
        fw_engine_touch(e, ent);
    }
    return ent;
}

static fw_entity *entity(fw_engine *e, fw_entity_kind k, fw_str id, const fw_txn *t) {
    if (!id.ptr)
        return NULL;
    fw_entity *ent = fw_state_get(&e->state, k, id, true);
    if (!ent) {
        if (id.len > FW_ID_MAX)
            e->stats.id_too_long++;
        return NULL;
    }
    return fw_engine_refresh(e, ent, t);
}

void fw_detect(fw_engine *e, const fw_txn *t, bool behind) {
    (void)behind; /* the native detectors judge transfers in any order */
    if ((e->feature_sink || e->ml_active) && !e->stage_no_ml)
        fw_ml_observe(e, t);
    /* Entity state serves the native detectors alone (ml_score keeps its
     * own, above; language rules theirs): with none of them running, as
     * when language rules replace them all, none is kept or written. */
    if (!(e->needs & FW_NEEDS_ANY))
        return;
    fw_entity *acct = NULL, *in = NULL;
    bool transfer = fw_stage_is_transfer(t); /* the definitions the stages route by */
    bool outflow = fw_stage_is_outflow(t) && (e->needs & FW_NEEDS_OUTFLOWS);
    bool inbound = transfer && (e->needs & FW_NEEDS_INBOUND);
    if (e->stage.kind == FW_STAGE_RECEIVER) {
        /* A transfer came here by its receiver, its sender, or both: each
         * role only on the partition that owns that account. */
        outflow = outflow && fw_stage_partition(t->account_id, e->stage_partitions) ==
                                 e->stage_partition;
        inbound = inbound && fw_stage_partition(t->counterparty_id, e->stage_partitions) ==
                                 e->stage_partition;
    }
    if (!outflow && !inbound)
        return; /* money that stays put: no native detector's business */
    fw_evrec cur;
    fw_evrec_from_txn(&cur, t);
    if (outflow && (acct = entity(e, FW_ENT_ACCOUNT, t->account_id, t)))
        on_outflow(e, acct, t, &cur, transfer);
    if (inbound && (in = entity(e, FW_ENT_INBOUND, t->counterparty_id, t)))
        on_inbound(e, in, t, &cur);
}
