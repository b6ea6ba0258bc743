/* engine.c — arrival, watermark, release in event-time order, expiry, and
 * the changelog view of the state. The detectors are in detect*.c (the
 * registry: detect.c). */
#include "detect.h"
#include "fw_bytes.h"
#include "lang_rules.h"
#include "rules_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define FW_BUFFER_MAX 1000000u   /* transactions waiting for the watermark */
#define FW_SWEEP_BUDGET 8        /* hash buckets examined for expiry per release: well above
                                    the entities one transaction can create (a sender's
                                    outflows, a receiver's inbound, ml_score's features) */
#define FW_STATE_VERSION 5     /* 5 dropped the previous transaction (no native detector
                                  reads it: 193 bytes an entity); 4 added the flags byte;
                                  3 and 4 are still read */
#define FW_CUSTOMER_AVERAGE_MS (24 * 3600 * 1000LL)
#define FW_FEATURE_MEMORY_MS (7 * 24 * 3600 * 1000LL) /* new merchant: unseen for a week */
#define FW_SCAN_SMALL 64   /* lists up to this long are scanned for distinct keys: cheaper
                              than keeping an index; longer ones (a busy key) use one */

/* How long each kind of entity is kept: the longest span a rule reading it
 * looks back, plus the dedupe window. Computed again when rules change live. */
static void set_horizons(fw_engine *e) {
    const fw_rules *r = &e->rules;
    int64_t dedupe = r->time.dedupe_window_ms;
    /* A customer's running average is kept across a day of quiet. */
    int64_t cust = FW_CUSTOMER_AVERAGE_MS;
    if (r->rapid_small.within_ms > cust)
        cust = r->rapid_small.within_ms;
    if (r->location_jump.within_ms > cust)
        cust = r->location_jump.within_ms;
    if (r->account_takeover.within_ms > cust)
        cust = r->account_takeover.within_ms;
    if (r->risk_score.window_ms > cust)
        cust = r->risk_score.window_ms;
    /* An account's outflows serve fan_out and mule_cashout; its inbound
     * transfers fan_in, mule_cashout and the next hop of a cycle. */
    int64_t acct = r->velocity.window_ms;
    if (r->fan_out.window_ms > acct)
        acct = r->fan_out.window_ms;
    if (r->mule_cashout.within_ms > acct)
        acct = r->mule_cashout.within_ms;
    int64_t inbound = r->fan_in.window_ms;
    if (r->mule_cashout.within_ms > inbound)
        inbound = r->mule_cashout.within_ms;
    if (r->cycle.hop_within_ms > inbound)
        inbound = r->cycle.hop_within_ms;
    e->logical_horizon[FW_ENT_ACCOUNT] = acct + dedupe;
    e->logical_horizon[FW_ENT_INBOUND] = inbound + dedupe;
    e->logical_horizon[FW_ENT_CARD] = r->small_then_large.within_ms + dedupe;
    e->logical_horizon[FW_ENT_CUSTOMER] = cust + dedupe;
    e->logical_horizon[FW_ENT_PAIR] = r->structuring.window_ms + dedupe;
    e->logical_horizon[FW_ENT_FEATURES] = FW_FEATURE_MEMORY_MS + dedupe;
    for (int k = 0; k < FW_ENT__COUNT; k++)
        e->horizon[k] = e->logical_horizon[k] + r->time.allowed_lateness_ms;
}

fw_engine *fw_engine_new(const fw_rules *rules, char *errstr, size_t errstr_size) {
    fw_engine *e = calloc(1, sizeof(*e));
    if (!e)
        goto nomem;
    e->rules = *rules;
    fw_detect_plan(e);
    e->max_ts = INT64_MIN;
    e->wm_cap = INT64_MAX;
    e->scan_small = FW_SCAN_SMALL;
    e->stats.watermark = INT64_MIN;
    e->stats.max_event_time = INT64_MIN;
    fw_pool_init(&e->pool);
    fw_event_buffer_init(&e->buffer, &e->pool, FW_BUFFER_MAX);
    fw_buf_init(&e->deleted, 0);
    fw_buf_init(&e->lang_dropped, 0);
    fw_buf_init(&e->lang_amounts, 0);
    fw_buf_init(&e->scratch, 0);
    uint32_t maxev = rules->limits.max_window_events;
    /* Evidence slots, then scratch for the risk score's distinct merchants. */
    e->evidence = malloc(sizeof(fw_evidence) * (maxev + 2) + sizeof(uint64_t) * (maxev + 1));
    if (!e->evidence || !fw_state_init(&e->state, rules->limits.max_entities, maxev))
        goto nomem;
    set_horizons(e);
    fw_txn_ids_init(&e->ids, rules->limits.max_transaction_ids);
    e->ids_horizon = rules->time.allowed_lateness_ms + rules->time.max_out_of_orderness_ms +
                     rules->time.duplicate_margin_ms;
    if (fw_engine_set_lang(e, NULL, errstr, errstr_size) != FW_OK) /* the shipped built-ins */
        goto fail;
    e->lang_changed = false; /* the caller's first fw_engine_set_lang is no change */
    return e;
nomem:
    snprintf(errstr, errstr_size, "engine: out of memory");
fail:
    fw_engine_destroy(e);
    return NULL;
}

void fw_engine_set_memory_full(fw_engine *e, bool full) { e->state.memory_full = full; }

void fw_engine_destroy(fw_engine *e) {
    if (!e)
        return;
    fw_ml_fini(e);
    fw_engine_lang_fini(e);
    fw_txn_ids_fini(&e->ids);
    fw_event_buffer_fini(&e->buffer);
    fw_state_fini(&e->state);
    fw_pool_fini(&e->pool);
    fw_buf_fini(&e->deleted);
    free(e->free_slots);
    fw_buf_fini(&e->lang_dropped);
    fw_buf_fini(&e->lang_amounts);
    fw_buf_fini(&e->scratch);
    free(e->dirty);
    free(e->evidence);
    free(e);
}

fw_err fw_engine_set_rules(fw_engine *e, const fw_rules *rules, char *errstr,
                           size_t errstr_size) {
    /* Buffers, tables and the watermark are sized by these sections. */
    if (memcmp(&e->rules.time, &rules->time, sizeof(rules->time))) {
        snprintf(errstr, errstr_size, "time: cannot change while the engine runs");
        return FW_ERR_INVALID;
    }
    if (memcmp(&e->rules.limits, &rules->limits, sizeof(rules->limits))) {
        snprintf(errstr, errstr_size, "limits: cannot change while the engine runs");
        return FW_ERR_INVALID;
    }
    /* State is kept: windows hold events, not results, so new parameters
     * apply to the events already held. A changed shipped built-in is
     * compiled again, keeping the state of each unchanged shape; a change of
     * the native ones alone leaves the language state untouched (moving it
     * over costs a serialization of every key). */
    bool shipped = false;
    for (int i = 0; i < FW_RULE__COUNT && !shipped; i++)
        shipped = !fw_detect_is_native((fw_rule_id)i) &&
                  !fw_rules_rule_equal(&e->rules, rules, (fw_rule_id)i);
    fw_rules old = e->rules;
    e->rules = *rules;
    fw_err rc = shipped ? fw_engine_set_lang(e, e->lang_user, errstr, errstr_size) : FW_OK;
    if (rc != FW_OK) {
        e->rules = old;
        return rc;
    }
    fw_detect_plan(e); /* which detectors run may have changed */
    set_horizons(e);
    return FW_OK;
}

bool fw_engine_stage_runs(const fw_engine *e, const fw_stage *s) {
    return e->stage.kind == FW_STAGE_ALL || fw_stage_equal(&e->stage, s);
}

void fw_engine_set_stage(fw_engine *e, const fw_stage *s, const char *const *colocated,
                         int32_t partition, int32_t partitions) {
    e->stage = *s;
    e->stage_colocated = colocated;
    e->stage_partition = partition;
    e->stage_partitions = partitions;
    e->stage_external = s->kind != FW_STAGE_ALL && s->kind != FW_STAGE_INPUT;
    fw_stage ml;
    fw_stage_of_builtin(FW_RULE_ML_SCORE, colocated, &ml);
    e->stage_no_ml = !fw_engine_stage_runs(e, &ml);
    char err[256];
    /* The language set filtered to the stage; on failure (out of memory)
     * the previous set runs on, as it does for any set_lang. Not a change:
     * the caller's next fw_engine_set_lang is still its first. */
    bool changed = e->lang_changed;
    (void)fw_engine_set_lang(e, e->lang_user, err, sizeof(err));
    e->lang_changed = changed;
    fw_detect_plan(e);
}

void fw_engine_set_profiles(fw_engine *e, const fw_profiles *profiles) {
    e->profiles = profiles;
}

void fw_engine_set_extras(fw_engine *e, const fw_txn_extras *extras) { e->extras = extras; }

const fw_engine_stats *fw_engine_stats_get(const fw_engine *e) { return &e->stats; }
const fw_state_stats *fw_engine_state_stats(const fw_engine *e) { return &e->state.stats; }

uint64_t fw_engine_keys(const fw_engine *e) {
    fw_lang_stats ls = { .keys = 0 };
    if (e->lang)
        fw_lang_state_stats(e->lang, &ls);
    return e->state.stats.entities + ls.keys;
}

void fw_engine_track_changes(fw_engine *e) {
    e->track_changes = true;
    if (e->lang)
        fw_lang_state_track_changes(e->lang);
}

void fw_engine_set_scan_small(fw_engine *e, uint32_t n) { e->scan_small = n; }

void fw_engine_touch(fw_engine *e, fw_entity *ent) {
    if (ent->dirty || !e->track_changes)
        return;
    if (e->ndirty == e->dirty_cap) {
        uint32_t cap = e->dirty_cap ? e->dirty_cap * 2 : 1024;
        fw_entity **d = realloc(e->dirty, sizeof(*d) * cap);
        if (!d)
            return; /* not marked: it will be written with its next change */
        e->dirty = d;
        e->dirty_cap = cap;
    }
    ent->dirty = true;
    ent->dirty_idx = e->ndirty;
    e->dirty[e->ndirty++] = ent;
}

/* ---- time ---- */

/* What the records seen (and advances) allow, before any cap. */
static int64_t watermark_of(const fw_engine *e) {
    if (e->max_ts == INT64_MIN)
        return INT64_MIN;
    return e->max_ts - e->rules.time.max_out_of_orderness_ms;
}

static int64_t capped(const fw_engine *e, int64_t watermark) {
    return watermark < e->wm_cap ? watermark : e->wm_cap;
}

/* Changelog key of a buffered transaction written by an older release: 'B',
 * event time big-endian, transaction id (at most 256 bytes). Such a record
 * was deleted on release; one restored is still deleted so. */
static size_t buffered_key(const fw_txn *t, char key[1 + 8 + 256]) {
    key[0] = 'B';
    for (int i = 0; i < 8; i++)
        key[1 + i] = (char)((uint64_t)t->ts_ms >> (56 - 8 * i));
    size_t idlen = t->transaction_id.len < 256 ? t->transaction_id.len : 256;
    memcpy(key + 9, t->transaction_id.ptr, idlen);
    return 9 + idlen;
}

/* Changelog key of a buffered transaction: 'b', its slot big-endian. The
 * slots in use are at most the transactions buffered at once, so the keys
 * are too: a released transaction's record needs no tombstone, the next one
 * written to its slot replaces it, and a restore drops what the watermark
 * has passed (restore_finish). Half the records of the tombstone per
 * transaction this replaces. */
static size_t slot_key(uint32_t slot, char key[5]) {
    key[0] = 'b';
    for (int i = 0; i < 4; i++)
        key[1 + i] = (char)(slot >> (24 - 8 * i));
    return 5;
}

static uint32_t slot_take(fw_engine *e) {
    return e->nfree ? e->free_slots[--e->nfree] : ++e->next_slot;
}

static void slot_give(fw_engine *e, uint32_t slot) {
    if (e->nfree == e->free_cap) {
        uint32_t cap = e->free_cap ? 2 * e->free_cap : 1024;
        uint32_t *f = realloc(e->free_slots, cap * sizeof(*f));
        if (!f)
            return; /* never reused: one more key in the log */
        e->free_slots = f;
        e->free_cap = cap;
    }
    e->free_slots[e->nfree++] = slot;
}

static bool not_released(void *opaque, fw_buffered *b) {
    const fw_engine *e = opaque;
    return e->stats.watermark == INT64_MIN || b->txn.ts_ms > e->stats.watermark;
}

/* After a restore, before anything else: the records of transactions
 * released before the commit are still in the log (no tombstone), and the
 * watermark they were released at, restored exactly, says which. The slots
 * not held are free again, the lowest taken first. */
static void restore_finish(fw_engine *e) {
    e->restoring = false;
    fw_event_buffer_filter(&e->buffer, not_released, e);
    e->stats.buffered = e->buffer.n;
    bool *used = calloc((size_t)e->next_slot + 1, 1);
    if (!used)
        return; /* the free ones are not reused: more keys in the log, nothing lost */
    for (uint32_t i = 0; i < e->buffer.n; i++)
        if (e->buffer.heap[i].b->slot <= e->next_slot)
            used[e->buffer.heap[i].b->slot] = true;
    e->nfree = 0;
    for (uint32_t slot = e->next_slot; slot > 0; slot--)
        if (!used[slot])
            slot_give(e, slot);
    free(used);
}

/* Queues a tombstone for a key that leaves the state. */
static void delete_key(fw_engine *e, const char *key, size_t len) {
    if (!e->track_changes)
        return;
    uint16_t l = (uint16_t)len;
    fw_buf_append(&e->deleted, &l, sizeof(l));
    fw_buf_append(&e->deleted, key, len);
}

static void on_expire(void *opaque, const fw_entity *ent) {
    fw_engine *e = opaque;
    if (ent->dirty) { /* off the dirty list: its tombstone is its latest state */
        fw_entity *last = e->dirty[--e->ndirty];
        e->dirty[ent->dirty_idx] = last;
        last->dirty_idx = ent->dirty_idx;
    }
    char key[2 + sizeof(ent->key)];
    key[0] = 'E';
    key[1] = (char)ent->kind;
    memcpy(key + 2, ent->key, ent->keylen);
    delete_key(e, key, 2u + ent->keylen);
}

/* Releases, in order, every buffered transaction the watermark has passed. */
static void release(fw_engine *e, int64_t watermark) {
    const fw_txn *t;
    while ((t = fw_event_buffer_peek(&e->buffer)) &&
           (t->ts_ms <= watermark || e->buffer.n > e->buffer.max)) {
        if (t->ts_ms > watermark)
            e->stats.buffer_overflows++;
        fw_buffered *b = e->buffer.heap[0].b;
        if (b->persisted && e->track_changes && !b->slot) { /* an older release's key */
            char key[1 + 8 + 256];
            delete_key(e, key, buffered_key(t, key));
        } else if (b->slot) {
            if (t->ts_ms > watermark) { /* ahead of the watermark: a restore would keep it */
                char key[5];
                delete_key(e, key, slot_key(b->slot, key));
            }
            slot_give(e, b->slot);
        }
        fw_detect(e, t, false);
        if (e->lang)
            fw_engine_lang_eval(e, t, FW_LANG_IN_ORDER, false, false);
        e->stats.released++;
        fw_event_buffer_pop(&e->buffer);
    }
    e->stats.buffered = e->buffer.n;
    e->stats.max_event_time = e->max_ts;
    if (watermark > e->stats.watermark) {
        e->stats.watermark = watermark;
        e->max_ts_dirty = true; /* the changelog keeps it: a restore drops what it passed */
    }
    fw_state_expire(&e->state, e->stats.watermark, e->horizon,
                    watermark == INT64_MAX ? 0 : FW_SWEEP_BUDGET, on_expire, e);
    if (e->lang)
        fw_engine_lang_expire(e, e->stats.watermark);
}

/* Whether anything here judges transactions in event-time order: a native
 * detector, a language rule not judged on arrival, ml_score or its feature
 * sink. Without, nothing waits for the watermark, so nothing is buffered
 * (and no transaction goes to the changelog to wait there). */
static bool in_order_work(const fw_engine *e) {
    return (e->needs & FW_NEEDS_ANY) || (e->lang && e->lang_in_order) ||
           ((e->feature_sink || e->ml_active) && !e->stage_no_ml);
}

void fw_engine_process(fw_engine *e, const fw_txn *t, const fw_engine_out *out) {
    e->out = out;
    if (e->restoring)
        restore_finish(e);
    e->stats.transactions++;
    int64_t wm = e->stats.watermark;
    bool behind = wm != INT64_MIN && t->ts_ms <= wm;
    bool late = behind && t->ts_ms < wm - e->rules.time.allowed_lateness_ms;
    if (e->lang_arrival && e->lang) /* early firing's windows skip a late one */
        fw_engine_lang_eval(e, t, FW_LANG_ON_ARRIVAL, behind, late);
    if (behind) {
        /* Behind the watermark: its turn in the ordered stream has passed. */
        if (late) {
            e->stats.late++;
            if (out->late)
                out->late(out->opaque, t, wm);
            return;
        }
        e->stats.behind_watermark++;
        fw_detect(e, t, true);
        if (e->lang)
            fw_engine_lang_eval(e, t, FW_LANG_IN_ORDER, true, false);
        return;
    }
    if (!in_order_work(e)) { /* judged on arrival, above: only the event time moves on */
        e->stats.released++;
    } else if (!fw_event_buffer_push(&e->buffer, t)) {
        fw_detect(e, t, false); /* out of memory: judge it now rather than lose it */
        if (e->lang)
            fw_engine_lang_eval(e, t, FW_LANG_IN_ORDER, false, false);
        return;
    }
    if (t->ts_ms > e->max_ts && !e->stage_external) {
        e->max_ts = t->ts_ms;
        e->max_ts_dirty = true;
    }
    release(e, capped(e, watermark_of(e)));
}

void fw_engine_advance(fw_engine *e, int64_t watermark, const fw_engine_out *out) {
    e->out = out;
    if (e->restoring)
        restore_finish(e);
    if (watermark <= e->stats.watermark)
        return;
    /* Keep max_ts consistent so later arrivals cannot pull the watermark back. */
    int64_t need = watermark == INT64_MAX ? INT64_MAX
                                          : watermark + e->rules.time.max_out_of_orderness_ms;
    if (need > e->max_ts) {
        e->max_ts = need;
        e->max_ts_dirty = true;
        e->stats.max_event_time = need; /* even when a cap keeps release() from running */
    }
    watermark = capped(e, watermark);
    if (watermark <= e->stats.watermark)
        return;
    release(e, watermark);
    if (e->ids.max) { /* an idle partition's ids expire too */
        fw_txn_ids_restore_finish(&e->ids);
        fw_txn_ids_expire(&e->ids, watermark == INT64_MAX ? INT64_MAX : watermark - e->ids_horizon);
        e->stats.ids = fw_txn_ids_count(&e->ids);
    }
}

void fw_engine_cap_watermark(fw_engine *e, int64_t cap, const fw_engine_out *out) {
    e->wm_cap = cap;
    if (!out)
        return;
    if (e->restoring)
        restore_finish(e);
    e->out = out;
    int64_t wm = capped(e, watermark_of(e));
    if (wm > e->stats.watermark)
        release(e, wm);
}

/* ---- duplicates ----
 *
 * Upstream producers retry, so the same transaction can arrive twice. Its id
 * is remembered (txn_ids.c) for allowed_lateness + max_out_of_orderness +
 * duplicate_margin of event time behind the watermark: a copy older than
 * that is late anyway, so no copy is ever applied twice. A late transaction
 * is remembered too (from the watermark it arrived behind): high_amount
 * judges even a late one on arrival. */

void fw_engine_process_from(fw_engine *e, const fw_txn *t, const fw_txn_pos *pos,
                            const fw_engine_out *out) {
    if (!e->ids.max || e->stage_external) { /* a later stage: the input stage dropped copies */
        fw_engine_process(e, t, out);
        return;
    }
    fw_txn_ids_restore_finish(&e->ids);
    uint64_t h = fw_txn_ids_hash(t->transaction_id);
    const fw_txn_id *first = fw_txn_ids_find(&e->ids, h, t->transaction_id.len);
    if (first) {
        e->stats.duplicates++;
        if (out->duplicate) {
            fw_txn_pos fp = { .partition = first->partition, .offset = first->offset };
            out->duplicate(out->opaque, t, &fp);
        }
        return;
    }
    /* Kept for the horizon from its event time or, for one that arrives behind
     * the watermark (late ones still raise high_amount), from its arrival. */
    int64_t wm = e->stats.watermark;
    fw_txn_ids_add(&e->ids, h, t->transaction_id.len,
                   wm != INT64_MIN && wm != INT64_MAX && wm > t->ts_ms ? wm : t->ts_ms, pos);
    fw_engine_process(e, t, out);
    wm = e->stats.watermark;
    if (wm != INT64_MIN)
        fw_txn_ids_expire(&e->ids, wm == INT64_MAX ? INT64_MAX : wm - e->ids_horizon);
    e->stats.ids_evicted = e->ids.evicted;
    e->stats.ids = fw_txn_ids_count(&e->ids);
}

/* ---- changelog ---- */

static void put_evrec(fw_buf *b, const fw_evrec *r) {
    fw_buf_put_u64le(b, (uint64_t)r->ts);
    fw_buf_put_f64le(b, r->amount);
    fw_buf_put_u64le(b, r->merchant);
    float geo[2] = { r->lat, r->lon };
    uint32_t g[2];
    memcpy(g, geo, sizeof(g));
    fw_buf_put_u64le(b, (uint64_t)g[0] | (uint64_t)g[1] << 32);
    bool chained = r->hops != 0; /* only inbound transfers carry a cycle path */
    unsigned char hdr[4] = { r->type, (unsigned char)(r->has_geo | chained << 1 | r->flags << 2),
                             r->idlen, r->amtlen };
    fw_buf_append(b, hdr, 4);
    if (chained) {
        fw_buf_putc(b, (char)r->hops);
        for (int i = 0; i < FW_CYCLE_PATH && i + 1 < r->hops; i++)
            fw_buf_put_u64le(b, r->path[i]);
    }
    fw_buf_append(b, r->country, 4);
    fw_buf_append(b, r->id, r->idlen);
    fw_buf_append(b, r->amount_raw, r->amtlen);
}

static void put_evlist(fw_buf *b, const fw_evlist *l) {
    fw_buf_put_u64le(b, l->n);
    for (uint32_t i = 0; i < l->n; i++)
        put_evrec(b, &l->ev[i]);
}

static void serialize_entity(fw_buf *b, const fw_entity *ent) {
    fw_buf_reset(b);
    unsigned char hdr[3] = { FW_STATE_VERSION, ent->kind, FW_RULE__COUNT };
    fw_buf_append(b, hdr, 3);
    fw_buf_put_u64le(b, (uint64_t)ent->last_ts);
    for (int r = 0; r < FW_RULE__COUNT; r++)
        fw_buf_put_u64le(b, (uint64_t)ent->last_alert[r]);
    fw_buf_putc(b, (char)ent->risk_episode);
    put_evlist(b, &ent->recent);
    put_evlist(b, &ent->win);
    fw_buf_put_f64le(b, ent->amount_sum);
    fw_buf_put_u64le(b, ent->amount_n);
    if (ent->kind == FW_ENT_FEATURES)
        fw_feat_state_write(ent->feat, b);
}

void fw_engine_changes(fw_engine *e, fw_change_fn fn, void *opaque) {
    char key[2 + 2 * FW_ID_MAX + 1 + 256];
    if (e->restoring)
        restore_finish(e);
    for (size_t off = 0; off + 2 <= e->deleted.len;) {
        uint16_t len;
        memcpy(&len, e->deleted.data + off, 2);
        fn(opaque, (fw_str){ e->deleted.data + off + 2, len }, NULL, 0);
        off += 2u + len;
    }
    fw_buf_reset(&e->deleted);
    for (uint32_t i = 0; i < e->ndirty; i++) {
        fw_entity *ent = e->dirty[i];
        ent->dirty = false;
        key[0] = 'E';
        key[1] = (char)ent->kind;
        memcpy(key + 2, ent->key, ent->keylen);
        serialize_entity(&e->scratch, ent);
        fn(opaque, (fw_str){ key, 2u + ent->keylen }, e->scratch.data, e->scratch.len);
    }
    e->ndirty = 0;
    fw_engine_lang_changes(e, fn, opaque);
    /* Buffered transactions not yet in the changelog: the record as it came. */
    for (uint32_t i = 0; e->track_changes && i < e->buffer.n; i++) {
        fw_buffered *b = e->buffer.heap[i].b;
        if (b->persisted)
            continue;
        const fw_txn *t = &b->txn;
        b->slot = slot_take(e);
        size_t keylen = slot_key(b->slot, key);
        fw_buf_reset(&e->scratch);
        fw_buf_putc(&e->scratch, t->raw_is_json ? 'J' : 'S');
        if (t->raw_is_json)
            fw_buf_append(&e->scratch, t->raw.ptr, t->raw.len);
        else
            fw_txn_write_json(t, &e->scratch); /* restored through the JSON decoder */
        fn(opaque, (fw_str){ key, keylen }, e->scratch.data, e->scratch.len);
        b->persisted = true;
    }
    if (e->track_changes && e->ids.max) {
        fw_txn_ids_restore_finish(&e->ids);
        fw_txn_ids_changes(&e->ids, &e->scratch, fn, opaque);
    }
    if (e->max_ts_dirty && e->track_changes) {
        /* "max_ts,watermark": the watermark exactly, even when a cap holds it
         * behind what max_ts allows (restore must not release past it), since
         * a restore drops the buffered records it had passed. */
        char v[48];
        int n = snprintf(v, sizeof(v), "%" PRId64 ",%" PRId64, e->max_ts, e->stats.watermark);
        fn(opaque, FW_STR_LIT("M"), v, (size_t)n);
        e->max_ts_dirty = false;
    }
}

/* ---- restore ---- */

typedef struct reader {
    const unsigned char *p;
    size_t n, off;
    bool bad;
} reader;

/* The next @p n bytes, or NULL (the record is bad) when fewer are left. */
static const unsigned char *take(reader *r, size_t n) {
    if (r->off + n > r->n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint64_t get_u64(reader *r) {
    const unsigned char *p = take(r, 8);
    return p ? fw_load_u64le(p) : 0;
}

static double get_f64(reader *r) {
    const unsigned char *p = take(r, 8);
    return p ? fw_load_f64le(p) : 0;
}

static void get_bytes(reader *r, void *dst, size_t n) {
    const unsigned char *p = take(r, n);
    if (p)
        memcpy(dst, p, n);
}

static void get_evrec(reader *r, fw_evrec *ev) {
    memset(ev, 0, sizeof(*ev));
    ev->ts = (int64_t)get_u64(r);
    ev->amount = get_f64(r);
    ev->merchant = get_u64(r);
    uint64_t g = get_u64(r);
    uint32_t gg[2] = { (uint32_t)g, (uint32_t)(g >> 32) };
    float geo[2];
    memcpy(geo, gg, sizeof(geo));
    ev->lat = geo[0];
    ev->lon = geo[1];
    unsigned char hdr[4] = { 0 };
    get_bytes(r, hdr, 4);
    ev->type = hdr[0];
    ev->has_geo = hdr[1] & 1;
    ev->flags = (uint8_t)(hdr[1] >> 2);
    if (hdr[1] & 2) {
        get_bytes(r, &ev->hops, 1);
        if (ev->hops == 0)
            r->bad = true;
        for (int i = 0; i < FW_CYCLE_PATH && i + 1 < ev->hops; i++)
            ev->path[i] = get_u64(r);
    }
    if (hdr[2] > FW_ID_MAX || hdr[3] > FW_AMOUNT_MAX) {
        r->bad = true;
        return;
    }
    ev->idlen = hdr[2];
    ev->amtlen = hdr[3];
    get_bytes(r, ev->country, 4);
    ev->country[3] = '\0';
    get_bytes(r, ev->id, ev->idlen);
    get_bytes(r, ev->amount_raw, ev->amtlen);
}

static void get_evlist(reader *r, fw_state *s, fw_evlist *l) {
    uint64_t n = get_u64(r);
    if (n > s->max_window_events) {
        r->bad = true;
        return;
    }
    for (uint64_t i = 0; i < n && !r->bad; i++) {
        fw_evrec ev;
        get_evrec(r, &ev);
        if (!r->bad)
            fw_evlist_insert(s, l, &ev, INT64_MIN);
    }
}

static fw_err restore_entity(fw_engine *e, fw_str key, const void *value, size_t len,
                             char *errstr, size_t errstr_size) {
    if (key.len < 3 || (unsigned char)key.ptr[1] >= FW_ENT__COUNT) {
        snprintf(errstr, errstr_size, "changelog: bad entity key");
        return FW_ERR_INVALID;
    }
    if (!value)
        return FW_OK; /* deleted: nothing to hold */
    fw_entity_kind kind = (fw_entity_kind)key.ptr[1];
    fw_str id = { key.ptr + 2, key.len - 2 };
    fw_entity *ent = NULL;
    if (kind == FW_ENT_PAIR) {
        const char *sep = memchr(id.ptr, '\x1f', id.len);
        if (sep)
            ent = fw_state_get_pair(&e->state, (fw_str){ id.ptr, (size_t)(sep - id.ptr) },
                                    (fw_str){ sep + 1, id.len - (size_t)(sep - id.ptr) - 1 },
                                    true);
    } else {
        ent = fw_state_get(&e->state, kind, id, true);
    }
    if (!ent) {
        snprintf(errstr, errstr_size, "changelog: cannot hold entity (limit reached?)");
        return FW_ERR_LIMIT;
    }
    reader r = { .p = value, .n = len };
    unsigned char hdr[3] = { 0 };
    get_bytes(&r, hdr, 3);
    if (r.bad || hdr[0] < 3 || hdr[0] > FW_STATE_VERSION || hdr[1] != kind ||
        hdr[2] != FW_RULE__COUNT) {
        snprintf(errstr, errstr_size, "changelog: entity record of an unknown version");
        return FW_ERR_INVALID;
    }
    ent->last_ts = (int64_t)get_u64(&r);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        ent->last_alert[i] = (int64_t)get_u64(&r);
    unsigned char hp = 0, episode = 0;
    if (hdr[0] < 5) /* whether a previous transaction follows: read, then dropped */
        get_bytes(&r, &hp, 1);
    if (hdr[0] >= 4)
        get_bytes(&r, &episode, 1);
    ent->risk_episode = episode != 0;
    if (hdr[0] < 5) {
        fw_evrec dropped;
        get_evrec(&r, &dropped);
    }
    fw_evlist_clear(&ent->recent);
    fw_evlist_clear(&ent->win);
    ent->distinct_valid = false; /* derived from the lists: rebuilt when next needed */
    ent->reported_until = INT64_MIN;
    get_evlist(&r, &e->state, &ent->recent);
    get_evlist(&r, &e->state, &ent->win);
    ent->amount_sum = get_f64(&r);
    ent->amount_n = get_u64(&r);
    if (kind == FW_ENT_FEATURES && !r.bad) {
        size_t used = fw_feat_state_read(ent->feat, r.p + r.off, r.n - r.off);
        r.bad = used == 0;
        r.off += used;
    }
    if (r.bad || r.off != r.n) {
        snprintf(errstr, errstr_size, "changelog: truncated or malformed entity record");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

fw_err fw_engine_restore(fw_engine *e, fw_str key, const void *value, size_t len,
                         char *errstr, size_t errstr_size) {
    if (key.len == 0) {
        snprintf(errstr, errstr_size, "changelog: empty key");
        return FW_ERR_INVALID;
    }
    switch (key.ptr[0]) {
    case 'E':
        return restore_entity(e, key, value, len, errstr, errstr_size);
    case 'L': { /* a language rule part's key (engine_lang.c) */
        bool stale;
        fw_err err = fw_engine_lang_restore(e, key, value, len, &stale, errstr, errstr_size);
        if (stale)
            delete_key(e, key.ptr, key.len);
        return err;
    }
    case 'D': /* transaction ids seen (put in place on first use) */
        return fw_txn_ids_restore(&e->ids, key, value, len, errstr, errstr_size);
    case 'M': {
        if (!value)
            return FW_OK;
        char v[48];
        if (len == 0 || len >= sizeof(v)) {
            snprintf(errstr, errstr_size, "changelog: bad watermark record");
            return FW_ERR_INVALID;
        }
        memcpy(v, value, len);
        v[len] = '\0';
        char *end;
        long long ts = strtoll(v, &end, 10), wm = 0;
        bool held = *end == ',';
        if (held)
            wm = strtoll(end + 1, &end, 10);
        if (*end || end == v) {
            snprintf(errstr, errstr_size, "changelog: bad watermark record");
            return FW_ERR_INVALID;
        }
        e->max_ts = ts;
        e->stats.max_event_time = ts;
        e->stats.watermark = watermark_of(e);
        if (held) /* exactly where it was: a cap may have held it (fw_engine_cap_watermark) */
            e->stats.watermark = wm;
        e->restoring = true;
        return FW_OK;
    }
    case 'b':
    case 'B': {
        if (!value)
            return FW_OK;
        uint32_t slot = 0;
        if (key.ptr[0] == 'b') {
            if (key.len != 5) {
                snprintf(errstr, errstr_size, "changelog: bad buffered record key (%zu bytes)",
                         key.len);
                return FW_ERR_INVALID;
            }
            for (int i = 0; i < 4; i++)
                slot = slot << 8 | (unsigned char)key.ptr[1 + i];
        }
        if (len < 1) {
            snprintf(errstr, errstr_size, "changelog: empty buffered record");
            return FW_ERR_INVALID;
        }
        fw_arena arena;
        if (!fw_arena_init(&arena, len + 64)) {
            snprintf(errstr, errstr_size, "changelog: out of memory");
            return FW_ERR_NOMEM;
        }
        fw_txn t;
        fw_buffered *b = NULL;
        fw_decode_error derr = { .reason = "out of memory" };
        fw_err err = fw_txn_decode_json_ex((const char *)value + 1, len - 1, &arena, len, NULL,
                                           e->extras, &t, &derr);
        if (err == FW_OK && !(b = fw_event_buffer_push(&e->buffer, &t)))
            err = FW_ERR_NOMEM;
        fw_arena_fini(&arena);
        if (err) {
            snprintf(errstr, errstr_size, "changelog: buffered record: %s", derr.reason);
            return err;
        }
        b->persisted = true; /* it is in the log */
        b->slot = slot;
        if (slot > e->next_slot)
            e->next_slot = slot;
        e->restoring = true;
        e->stats.buffered = e->buffer.n;
        return FW_OK;
    }
    default:
        snprintf(errstr, errstr_size, "changelog: unknown record type '%c'", key.ptr[0]);
        return FW_ERR_INVALID;
    }
}
