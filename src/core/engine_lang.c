/* engine_lang.c — the language rules (lang_rules.h) inside one partition's
 * engine: they see every transaction in event-time order, as the native
 * detectors do, their alerts leave as any alert does, and their state rides
 * in the changelog beside the entities' (key 'L', part id, group key). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "engine_int.h"
#include "lang_rules.h"

_Static_assert(sizeof(((fw_engine *)0)->lang_evidence) / sizeof(fw_evidence) >=
                   FW_LANG_EVIDENCE_MAX, "room for a language rule's evidence");
_Static_assert(sizeof(((fw_engine *)0)->lang_values) / sizeof(fw_alert_value) >=
                   FW_LANG_MAX_AGGS, "room for a language rule's values");

/* A live change: each key of a part the new set has too moves over through
 * its changelog bytes (so exactly what a restart would restore); the keys of
 * a part it lacks are noted for tombstones. Cost only at a change. */
typedef struct lang_carry {
    fw_engine *e;
    const fw_lang_state *from;
    fw_lang_state *to;
    fw_buf bytes;
    size_t moved, dropped;
} lang_carry;

static void drop_key(fw_engine *e, uint64_t id, fw_str key) {
    uint8_t h[10];
    if (!e->track_changes)
        return;
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(id >> (8 * i));
    h[8] = (uint8_t)(key.len & 0xff);
    h[9] = (uint8_t)(key.len >> 8);
    fw_buf_append(&e->lang_dropped, h, sizeof(h));
    fw_buf_append(&e->lang_dropped, key.ptr, key.len);
}

static void carry_key(void *opaque, size_t part, fw_str key) {
    lang_carry *c = opaque;
    uint64_t id = fw_lang_state_part_id(c->from, part);
    size_t to = c->to ? fw_lang_state_find_part(c->to, id) : SIZE_MAX;
    fw_buf_reset(&c->bytes);
    if (to != SIZE_MAX && fw_lang_state_write_key(c->from, part, key, &c->bytes) &&
        c->bytes.len &&
        fw_lang_state_read_key(c->to, to, key, c->bytes.data, c->bytes.len, NULL, 0) == FW_OK) {
        c->moved++;
        return;
    }
    drop_key(c->e, id, key);
    c->dropped++;
}

/* Runs @p rs (the user's rules joined with the shipped definitions, those
 * of the engine's stage) from now on; the state of each part both sets have
 * moves over. @p all: the whole joined set, whose rules with a built-in's id
 * replace it in every stage. */
static fw_err install(fw_engine *e, const fw_lang_rules *rs, const fw_lang_rules *all,
                      char *errstr, size_t errstr_size) {
    fw_lang_state *old = e->lang, *next = NULL;
    if (rs && rs->n) {
        if (!(next = fw_lang_state_new(rs))) { /* nothing changed: the old set runs on */
            snprintf(errstr, errstr_size, "language rules: out of memory");
            return FW_ERR_NOMEM;
        }
        if (e->track_changes)
            fw_lang_state_track_changes(next);
        fw_lang_state_count_key_overflows(next, &e->state.stats.entity_overflows);
        fw_lang_state_follow_memory(next, &e->state.memory_full,
                                    &e->state.stats.memory_refusals);
        for (size_t i = 0; i < rs->n; i++) { /* a built-in's id: counted as it */
            fw_rule_id id = fw_rule_by_name(rs->rules[i].id);
            if (id != FW_RULE__COUNT)
                fw_lang_state_count_dedupes(next, i, &e->stats.deduplicated[id]);
        }
    }
    memset(e->lang_replaces, 0, sizeof(e->lang_replaces));
    e->lang_arrival = false;
    e->lang_in_order = false;
    for (size_t i = 0; rs && i < rs->n; i++) {
        if (!rs->rules[i].common.enabled)
            continue;
        if (fw_lang_rule_on_arrival(&rs->rules[i]))
            e->lang_arrival = true;
        else
            e->lang_in_order = true;
    }
    for (size_t i = 0; all && i < all->n; i++) {
        fw_rule_id id = fw_rule_by_name(all->rules[i].id);
        if (id != FW_RULE__COUNT)
            e->lang_replaces[id] = true;
    }
    fw_detect_plan(e); /* the replaced built-ins stop, and ones no longer replaced resume */
    memset(e->lang_backfill, 0, sizeof(e->lang_backfill));
    /* The first call (a new engine: its state comes from the changelog) lists
     * none; a change, from a set or from none, lists the parts it lacked. */
    for (size_t p = 0; e->lang_changed && p < fw_lang_state_nparts(next) && p < 64 * 4; p++)
        if (fw_lang_state_part_rule(next, p)->backfill &&
            (!old || fw_lang_state_find_part(old, fw_lang_state_part_id(next, p)) == SIZE_MAX))
            e->lang_backfill[p / 64] |= (uint64_t)1 << (p % 64);
    e->lang_changed = true;
    if (next && e->lang_replay)
        fw_lang_state_set_replay(next, true);
    if (old) {
        lang_carry c = { .e = e, .from = old, .to = next };
        fw_buf_init(&c.bytes, 0);
        fw_lang_state_foreach(old, carry_key, &c);
        fw_buf_fini(&c.bytes);
        fw_lang_state_destroy(old);
    }
    e->lang = next;
    /* Slot i of the rules reads extras[lang_slot[i]]: the decoder's set may
     * hold more names than these rules use (kept across a live change). */
    for (size_t i = 0; i < sizeof(e->lang_slot); i++)
        e->lang_slot[i] = -1;
    for (size_t i = 0; rs && i < rs->nextra && i < sizeof(e->lang_slot); i++)
        e->lang_slot[i] = (int8_t)(e->extras ? fw_txn_extras_find(e->extras, rs->extra_names[i],
                                                                  strlen(rs->extra_names[i]))
                                             : -1);
    return FW_OK;
}

/* The rules of @p joined that run in the engine's stage (fw_engine_set_stage),
 * borrowing from it; NULL when out of memory. */
static fw_lang_rules *stage_filter(const fw_engine *e, const fw_lang_rules *joined) {
    fw_lang_rules *s = fw_lang_rules_join(joined, NULL);
    if (!s)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        fw_stage st;
        fw_stage_of_lang_rule(&s->rules[i], e->stage_colocated, &st);
        if (fw_engine_stage_runs(e, &st))
            s->rules[n++] = s->rules[i];
    }
    s->n = n;
    return s;
}

/* The user's rules joined with the shipped definitions of the built-ins
 * they do not replace, configured by e->rules; also at fw_engine_new (no
 * user rules) and when fw_engine_set_rules changes a shipped built-in. */
fw_err fw_engine_set_lang(fw_engine *e, const fw_lang_rules *user, char *errstr,
                          size_t errstr_size) {
    fw_lang_rules *shipped = NULL, *joined = NULL;
    fw_err rc = fw_lang_rules_builtins(&e->rules, user, &shipped, errstr, errstr_size);
    if (rc == FW_OK && !(joined = fw_lang_rules_join(user, shipped))) {
        snprintf(errstr, errstr_size, "language rules: out of memory");
        rc = FW_ERR_NOMEM;
    }
    fw_lang_rules *staged = NULL;
    if (rc == FW_OK && e->stage.kind != FW_STAGE_ALL &&
        !(staged = stage_filter(e, joined))) {
        snprintf(errstr, errstr_size, "language rules: out of memory");
        rc = FW_ERR_NOMEM;
    }
    if (rc == FW_OK)
        rc = install(e, staged ? staged : joined, joined, errstr, errstr_size);
    if (rc != FW_OK) { /* nothing changed: the old set runs on */
        fw_lang_rules_destroy(staged);
        fw_lang_rules_destroy(joined);
        fw_lang_rules_destroy(shipped);
        return rc;
    }
    /* The old state is gone with install: nothing reads the old sets now. */
    fw_lang_rules_destroy(e->lang_joined);
    fw_lang_rules_destroy(e->lang_shipped);
    fw_lang_rules_destroy(e->lang_staged);
    e->lang_staged = staged;
    e->lang_joined = joined;
    e->lang_shipped = shipped;
    e->lang_user = user;
    return FW_OK;
}

size_t fw_engine_lang_backfill(const fw_engine *e, fw_engine_backfill *out, size_t cap) {
    size_t n = 0;
    for (size_t p = 0; p < fw_lang_state_nparts(e->lang) && p < 64 * 4; p++) {
        if (!(e->lang_backfill[p / 64] >> (p % 64) & 1))
            continue;
        if (n < cap)
            out[n] = (fw_engine_backfill){ .part_id = fw_lang_state_part_id(e->lang, p),
                                           .rule = fw_lang_state_part_rule(e->lang, p) };
        n++;
    }
    return n;
}

void fw_engine_lang_set_replay(fw_engine *e, bool on) {
    e->lang_replay = on;
    if (e->lang)
        fw_lang_state_set_replay(e->lang, on);
}

typedef struct lang_adopt {
    fw_engine *dst;
    const fw_lang_state *src;
    size_t from, to, moved;
    fw_buf bytes;
    fw_err rc;
    char *errstr;
    size_t errstr_size;
} lang_adopt;

static void adopt_key(void *opaque, size_t part, fw_str key) {
    lang_adopt *a = opaque;
    if (part != a->from || a->rc != FW_OK)
        return;
    fw_buf_reset(&a->bytes);
    if (!fw_lang_state_write_key(a->src, part, key, &a->bytes) || !a->bytes.len)
        return;
    a->rc = fw_lang_state_read_key(a->dst->lang, a->to, key, a->bytes.data, a->bytes.len,
                                   a->errstr, a->errstr_size);
    if (a->rc == FW_OK && fw_lang_state_touch_key(a->dst->lang, a->to, key))
        a->moved++;
}

fw_err fw_engine_lang_adopt(fw_engine *dst, fw_engine *src, uint64_t part_id, size_t *moved,
                            char *errstr, size_t errstr_size) {
    size_t from = src->lang ? fw_lang_state_find_part(src->lang, part_id) : SIZE_MAX;
    size_t to = dst->lang ? fw_lang_state_find_part(dst->lang, part_id) : SIZE_MAX;
    *moved = 0;
    if (from == SIZE_MAX || to == SIZE_MAX) {
        snprintf(errstr, errstr_size, "backfill: part %016" PRIx64 " not in the %s engine",
                 part_id, from == SIZE_MAX ? "scratch" : "live");
        return FW_ERR_INVALID;
    }
    lang_adopt a = { .dst = dst, .src = src->lang, .from = from, .to = to, .rc = FW_OK,
                     .errstr = errstr, .errstr_size = errstr_size };
    fw_buf_init(&a.bytes, 0);
    fw_lang_state_foreach(src->lang, adopt_key, &a);
    fw_buf_fini(&a.bytes);
    *moved = a.moved;
    /* The live engine is done with the replay: a later set_lang lists anew. */
    dst->lang_backfill[to / 64] &= ~((uint64_t)1 << (to % 64));
    return a.rc;
}

void fw_engine_lang_fini(fw_engine *e) {
    fw_lang_state_destroy(e->lang);
    e->lang = NULL;
    fw_lang_rules_destroy(e->lang_staged);
    fw_lang_rules_destroy(e->lang_joined);
    fw_lang_rules_destroy(e->lang_shipped);
    e->lang_joined = e->lang_shipped = e->lang_staged = NULL;
    e->lang_user = NULL;
}

static void on_lang_alert(void *opaque, const fw_lang_alert *la) {
    fw_engine *e = opaque;
    /* A window's every event (a ranged rule) can be more than lang_evidence
     * holds: e->evidence (max_window_events + 2 slots) is free by now, the
     * built-ins having raised theirs before the language rules run. */
    fw_evidence *ev = e->lang_evidence;
    size_t cap = FW_LANG_EVIDENCE_MAX;
    if (la->nevidence > cap) {
        ev = e->evidence;
        cap = (size_t)e->rules.limits.max_window_events + 2;
    }
    size_t nev = la->nevidence < cap ? la->nevidence : cap;
    /* Amounts as text, as the built-ins wrote amount_raw: all of them into
     * lang_amounts first (it may move as it grows), then sliced. */
    fw_buf_reset(&e->lang_amounts);
    for (size_t i = 0; i < nev; i++) {
        const fw_lang_evidence *le = &la->evidence[i];
        ev[i] = (fw_evidence){ .transaction_id = le->id, .ts_ms = le->ts_ms,
                               .located = le->located, .lat = le->lat, .lon = le->lon };
        if (le->amount == FW_LANG_NO_AMOUNT)
            continue;
        char num[FW_DEC_STR_MAX];
        int w = fw_dec_format(le->amount, num, sizeof(num));
        if (w > 0 && fw_buf_append(&e->lang_amounts, num, (size_t)w))
            ev[i].amount_raw.len = (size_t)w; /* ptr set below; 0: none */
    }
    for (size_t i = 0, off = 0; i < nev; i++)
        if (ev[i].amount_raw.len) {
            ev[i].amount_raw.ptr = e->lang_amounts.data + off;
            off += ev[i].amount_raw.len;
        }
    size_t nval = la->nvalues < FW_LANG_MAX_AGGS ? la->nvalues : FW_LANG_MAX_AGGS;
    for (size_t i = 0; i < nval; i++)
        e->lang_values[i] = (fw_alert_value){
            .name = la->values[i].name, .num = la->values[i].value.u.num,
            .missing = la->values[i].value.type != FW_XT_NUM };
    snprintf(e->reason, sizeof(e->reason), "%.*s", (int)la->reason.len, la->reason.ptr);
    bool bounded = (la->nevidence >= la->evidence_bound && !la->evidence_whole) ||
                   la->window_overflow;
    /* A rule with a built-in's id is that rule now: counted as it. */
    fw_rule_id builtin = fw_rule_by_name(la->rule->id);
    fw_alert a = { .rule = builtin != FW_RULE__COUNT ? builtin : FW_RULE_LANG,
                   .rule_name = la->rule->id, .rc = la->rc ? la->rc : &la->rule->common,
                   .entity_type = la->entity_type, .entity_id = la->entity,
                   .event_time = la->event_time, .detected_at = la->event_time,
                   .window_start = la->window_start, .window_end = la->window_end,
                   .reason = e->reason, .evidence = ev, .nevidence = nev,
                   .txn = la->txn, .values = e->lang_values, .nvalues = nval,
                   .evidence_bound = bounded ? la->evidence_bound : 0,
                   /* the profile a rule read, as the built-ins named it */
                   .profile = la->rule->uses_profile && e->lang_profile && e->lang_profile->has_avg
                                  ? e->lang_profile : NULL };
    if (builtin != FW_RULE__COUNT)
        e->stats.alerts[builtin]++;
    else
        e->stats.lang_alerts++;
    e->out->alert(e->out->opaque, &a);
}

void fw_engine_lang_eval(fw_engine *e, const fw_txn *t, fw_lang_phase phase, bool behind,
                         bool late) {
    fw_str extra[FW_LANG_MAX_EXTRA];
    size_t nextra = 0;
    if (t->extra_mask) { /* extras and the slices are valid only then */
        const fw_lang_rules *xrs = fw_lang_state_rules(e->lang);
        nextra = xrs->nextra < FW_LANG_MAX_EXTRA ? xrs->nextra : FW_LANG_MAX_EXTRA;
        for (size_t i = 0; i < nextra; i++) {
            int j = i < sizeof(e->lang_slot) ? e->lang_slot[i] : -1;
            extra[i] = j >= 0 && (t->extra_mask >> j) & 1 ? t->extra[j] : FW_STR_NULL;
        }
    }
    const fw_lang_rules *rs = fw_lang_state_rules(e->lang);
    bool want = phase == FW_LANG_ON_ARRIVAL ? rs->uses_profile_on_arrival
                : phase == FW_LANG_IN_ORDER ? rs->uses_profile_in_order
                                            : rs->uses_profile;
    const fw_profile *prof = want && e->profiles && t->customer_id.ptr
                                 ? fw_profiles_get(e->profiles, t->customer_id)
                                 : NULL;
    e->lang_profile = prof;
    fw_lang_input in = { .phase = phase, .txn = t, .profile = prof, .extra = extra,
                         .nextra = nextra, .behind = behind, .late = late };
    fw_lang_eval(e->lang, &in, e->stats.watermark, on_lang_alert, e);
}

/* fw_lang_eval sweeps a few keys per record on its way; this is for a
 * partition that went quiet, and for the end of the input. A sweep visits
 * every key, so not per record: once an hour of event time at most, and not
 * while records flow (they sweep). */
#define LANG_IDLE_SWEEP_MS 3600000

void fw_engine_lang_expire(fw_engine *e, int64_t watermark) {
    if (watermark == INT64_MIN || (watermark < e->lang_next_sweep && watermark != INT64_MAX))
        return;
    if (watermark != INT64_MAX && e->stats.released != e->lang_swept_at) {
        e->lang_swept_at = e->stats.released; /* busy: look again in an hour */
        e->lang_next_sweep = watermark + LANG_IDLE_SWEEP_MS;
        return;
    }
    fw_lang_expire(e->lang, watermark);
    e->lang_next_sweep = watermark == INT64_MAX ? INT64_MAX : watermark + LANG_IDLE_SWEEP_MS;
}

/* ---- changelog ----
 *
 * Key: 'L', the part's id (fw_lang_state_part_id, 8 bytes big-endian), the
 * group key; value: fw_lang_state_write_key's bytes; a freed key is a
 * tombstone. */

#define LANG_KEY_MAX (1 + 8 + FW_LANG_MAX_KEY)

typedef struct lang_sink {
    fw_engine *e;
    fw_change_fn fn;
    void *opaque;
} lang_sink;

static size_t lang_key(char *key, uint64_t id, fw_str gk) {
    key[0] = 'L';
    for (int i = 0; i < 8; i++)
        key[1 + i] = (char)(id >> (56 - 8 * i));
    memcpy(key + 9, gk.ptr, gk.len);
    return 9 + gk.len;
}

static void on_lang_change(void *opaque, size_t part, fw_str gk, bool held) {
    lang_sink *s = opaque;
    fw_engine *e = s->e;
    char key[LANG_KEY_MAX];
    if (gk.len > FW_LANG_MAX_KEY)
        return; /* never made: make_key bounds keys to FW_LANG_MAX_KEY */
    fw_str k = { key, lang_key(key, fw_lang_state_part_id(e->lang, part), gk) };
    fw_buf_reset(&e->scratch);
    if (held && fw_lang_state_write_key(e->lang, part, gk, &e->scratch) && e->scratch.len)
        s->fn(s->opaque, k, e->scratch.data, e->scratch.len);
    else if (!held)
        s->fn(s->opaque, k, NULL, 0);
}

void fw_engine_lang_changes(fw_engine *e, fw_change_fn fn, void *opaque) {
    lang_sink s = { .e = e, .fn = fn, .opaque = opaque };
    /* First the parts a live change dropped: their keys leave the log. */
    for (size_t off = 0; off + 10 <= e->lang_dropped.len;) {
        const uint8_t *h = (const uint8_t *)e->lang_dropped.data + off;
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id |= (uint64_t)h[i] << (8 * i);
        size_t len = h[8] | (size_t)h[9] << 8;
        char key[LANG_KEY_MAX];
        if (len <= FW_LANG_MAX_KEY)
            fn(opaque, (fw_str){ key, lang_key(key, id, (fw_str){ (const char *)h + 10, len }) },
               NULL, 0);
        off += 10 + len;
    }
    fw_buf_reset(&e->lang_dropped);
    if (e->lang && e->track_changes)
        fw_lang_state_changes(e->lang, on_lang_change, &s);
}

fw_err fw_engine_lang_restore(fw_engine *e, fw_str key, const void *value, size_t len,
                              bool *stale, char *errstr, size_t errstr_size) {
    *stale = false;
    if (key.len < 9 || key.len > LANG_KEY_MAX) {
        snprintf(errstr, errstr_size, "changelog: bad language rule key (%zu bytes)", key.len);
        return FW_ERR_INVALID;
    }
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | (unsigned char)key.ptr[1 + i];
    size_t part = e->lang ? fw_lang_state_find_part(e->lang, id) : SIZE_MAX;
    if (part == SIZE_MAX) {
        /* A rule shape no longer loaded: its state starts empty (as a new
         * rule's does) and the caller drops the record from the log. */
        *stale = value != NULL;
        return FW_OK;
    }
    return fw_lang_state_read_key(e->lang, part, (fw_str){ key.ptr + 9, key.len - 9 },
                                  value, value ? len : 0, errstr, errstr_size);
}
