/* detect_common.c — what every native detector does the same way: an event
 * record from a transaction, raising an alert (entity name, dedupe stamp,
 * counters) and the distinct-key index of a list (risk_score's merchants,
 * fan_in's senders, fan_out's counterparties). See detect.h. */
#include <stdio.h>
#include <string.h>

#include "detect.h"

void fw_evrec_from_txn(fw_evrec *r, const fw_txn *t) {
    memset(r, 0, sizeof(*r));
    r->ts = t->ts_ms;
    r->amount = t->amount;
    r->type = (uint8_t)t->type;
    r->merchant = t->merchant_id.ptr ? fw_hash64(t->merchant_id.ptr, t->merchant_id.len, 7) | 1
                                     : 0;
    r->has_geo = (t->has & (FW_TXN_HAS_LAT | FW_TXN_HAS_LON)) ==
                 (FW_TXN_HAS_LAT | FW_TXN_HAS_LON);
    r->lat = (float)t->lat;
    r->lon = (float)t->lon;
    if (t->country.ptr && t->country.len < sizeof(r->country))
        memcpy(r->country, t->country.ptr, t->country.len);
    r->idlen = (uint8_t)(t->transaction_id.len < FW_ID_MAX ? t->transaction_id.len : FW_ID_MAX);
    memcpy(r->id, t->transaction_id.ptr, r->idlen);
    r->amtlen = (uint8_t)(t->amount_raw.len < FW_AMOUNT_MAX ? t->amount_raw.len
                                                            : FW_AMOUNT_MAX);
    memcpy(r->amount_raw, t->amount_raw.ptr, r->amtlen);
}

/* Emits an alert that fw_detect_deduplicated() let through. */
void fw_detect_emit(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t,
                    size_t nev, int64_t wstart, int64_t wend, const fw_profile *prof) {
    int64_t last = ent->last_alert[rule];
    if (t->ts_ms > last || last == INT64_MIN)
        ent->last_alert[rule] = t->ts_ms;
    fw_engine_touch(e, ent);
    if (ent->kind == FW_ENT_PAIR) { /* "account->counterparty" */
        const char *sep = memchr(ent->key, '\x1f', ent->keylen);
        size_t a = sep ? (size_t)(sep - ent->key) : ent->keylen;
        snprintf(e->entity_id, sizeof(e->entity_id), "%.*s->%.*s", (int)a, ent->key,
                 sep ? (int)(ent->keylen - a - 1) : 0, sep ? sep + 1 : "");
    } else {
        snprintf(e->entity_id, sizeof(e->entity_id), "%.*s", (int)ent->keylen, ent->key);
    }
    /* Inbound state belongs to the receiving account: alerts name the account. */
    fw_entity_kind kind = ent->kind == FW_ENT_INBOUND ? FW_ENT_ACCOUNT : ent->kind;
    fw_alert a = { .rule = rule, .rc = &e->rules.common[rule],
                   .entity_type = fw_entity_kind_name(kind),
                   .entity_id = fw_str_c(e->entity_id), .event_time = t->ts_ms,
                   .detected_at = t->ts_ms, .window_start = wstart, .window_end = wend,
                   .reason = e->reason, .evidence = e->evidence, .nevidence = nev, .txn = t,
                   .profile = prof };
    e->stats.alerts[rule]++;
    e->out->alert(e->out->opaque, &a);
}

/* Emits unless the same rule alerted on this entity within the dedupe window. */
void fw_detect_raise(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t,
                     size_t nev, int64_t wstart, int64_t wend, const fw_profile *prof) {
    if (!fw_detect_deduplicated(e, ent, rule, t->ts_ms))
        fw_detect_emit(e, ent, rule, t, nev, wstart, wend, prof);
}

/* ---- distinct keys of a list: scanned when short, indexed when long ---- */

/* Whether @p r counts toward the distinct keys the entity's rule counts:
 * a customer's merchants (risk_score), an account's counterparties
 * (fan_out), a receiver's senders (fan_in) not yet in an alert. */
static bool distinct_counts(const fw_engine *e, const fw_entity *ent, const fw_evrec *r) {
    if (!r->merchant)
        return false;
    switch (ent->kind) {
    case FW_ENT_CUSTOMER:
        return true;
    case FW_ENT_ACCOUNT:
        return r->amount > e->rules.fan_out.min_amount && !(r->flags & FW_EV_FAN_REPORTED);
    case FW_ENT_INBOUND:
        return r->amount > e->rules.fan_in.min_amount && !(r->flags & FW_EV_FAN_REPORTED);
    default:
        return false;
    }
}

static const fw_evlist *distinct_list(const fw_entity *ent) {
    return ent->kind == FW_ENT_ACCOUNT ? &ent->recent : &ent->win;
}

/* The entity's distinct-key index, built from its list when stale; NULL
 * (counted) when there is no memory for it: callers then scan. */
static fw_distinct *distinct_index(fw_engine *e, fw_entity *ent) {
    if (ent->distinct && ent->distinct_valid)
        return ent->distinct;
    if (!ent->distinct && !(ent->distinct = fw_distinct_new()))
        goto fail;
    fw_distinct_clear(ent->distinct);
    const fw_evlist *l = distinct_list(ent);
    for (uint32_t i = 0; i < l->n; i++)
        if (distinct_counts(e, ent, &l->ev[i]) &&
            !fw_distinct_note(ent->distinct, l->ev[i].merchant, l->ev[i].ts))
            goto fail;
    ent->distinct_valid = true;
    return ent->distinct;
fail:
    e->state.stats.index_failures++;
    return NULL;
}

/* Keeps a live index in step with record @p r just added to its list, whose
 * events before @p keep_from are gone. */
void fw_detect_distinct_added(fw_engine *e, fw_entity *ent, const fw_evrec *r, int64_t keep_from) {
    if (r->ts < ent->reported_until) /* behind a report: the next one must look at all */
        ent->reported_until = INT64_MIN;
    if (!ent->distinct_valid)
        return;
    if (distinct_counts(e, ent, r) && !fw_distinct_note(ent->distinct, r->merchant, r->ts)) {
        ent->distinct_valid = false;
        return;
    }
    fw_distinct_forget_before(ent->distinct, keep_from);
}

/* The index when it can answer for a window that ends at or after the
 * list's newest event (the detectors' time order: everything since the
 * window's start is in it); NULL when a scan must. */
fw_distinct *fw_detect_distinct_for(fw_engine *e, fw_entity *ent, int64_t end) {
    const fw_evlist *l = distinct_list(ent);
    if (l->n <= e->scan_small || l->ev[l->n - 1].ts > end)
        return NULL;
    return distinct_index(e, ent);
}

/* Distinct keys that count (distinct_counts) among records [lo, hi) of the
 * entity's list, by a scan, counting no further than @p limit. */
uint32_t fw_detect_scan_distinct(fw_engine *e, const fw_entity *ent, uint32_t lo, uint32_t hi,
                              uint32_t limit) {
    const fw_evlist *l = distinct_list(ent);
    uint64_t *seen = (uint64_t *)(e->evidence + e->rules.limits.max_window_events + 2);
    uint32_t n = 0;
    for (uint32_t i = lo; i < hi && n < limit; i++) {
        const fw_evrec *r = &l->ev[i];
        if (!distinct_counts(e, ent, r))
            continue;
        uint32_t k = 0;
        while (k < n && seen[k] != r->merchant)
            k++;
        if (k == n)
            seen[n++] = r->merchant;
    }
    return n;
}

/* ---- fan_in, fan_out: distinct other accounts ---- */

/* A transfer fan_in / fan_out counts: in (from, to], with another account,
 * above the minimum and not yet in an alert. */
static bool fan_counts(const fw_evrec *r, int64_t from, int64_t to, double min_amount) {
    return r->ts > from && r->ts <= to && r->merchant && r->amount > min_amount &&
           !(r->flags & FW_EV_FAN_REPORTED);
}

/* Distinct other accounts among the records in (from, to] that count for the
 * entity's rule (above its min_amount, not yet in an alert of this kind);
 * stops counting at @p enough. A long list
 * whose newest record is not after @p to asks the entity's index. */
int fw_detect_distinct_parties(fw_engine *e, fw_entity *ent, int64_t from, int64_t to,
                            int enough, bool *indexed) {
    fw_distinct *d = fw_detect_distinct_for(e, ent, to);
    *indexed = d != NULL;
    if (d)
        return (int)fw_distinct_count_since(d, from, false, (uint32_t)enough);
    const fw_evlist *l = distinct_list(ent);
    return (int)fw_detect_scan_distinct(e, ent, fw_evlist_find(l, from, true),
                                        fw_evlist_find(l, to, true), (uint32_t)enough);
}

/* Evidence: the counted records, marked so that the next alert needs new
 * ones. When the index counted them they are all the counted records there
 * are, so it starts empty again; after a scan it is rebuilt when next asked. */
size_t fw_detect_report_parties(fw_engine *e, fw_entity *ent, fw_evlist *l, int64_t from,
                             int64_t to, double min_amount, bool indexed) {
    size_t nev = 0;
    int64_t begin = from;
    if (indexed && ent->reported_until > begin)
        begin = ent->reported_until - 1; /* earlier ones are reported: skip them */
    for (uint32_t i = fw_evlist_find(l, begin, true); i < l->n; i++) {
        fw_evrec *r = &l->ev[i];
        if (!fan_counts(r, from, to, min_amount))
            continue;
        fw_detect_evidence(e, &nev, r);
        r->flags |= FW_EV_FAN_REPORTED;
    }
    if (indexed) {
        fw_distinct_clear(ent->distinct);
        ent->reported_until = to;
    } else {
        ent->distinct_valid = false;
        ent->reported_until = INT64_MIN;
    }
    return nev;
}
