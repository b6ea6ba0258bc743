/* lang_state_int.h — the private types and shared functions of the language
 * rules' keyed state (lang_rules.h), split over lang_state.c (creation,
 * keys, the evaluation loop, alerts), lang_seq.c, lang_score.c,
 * lang_window.c, lang_history.c and lang_state_io.c (changelog bytes). Not
 * part of the public API.
 *
 * What the state is and why: Per rule, a chained hash table maps a group key to its lookback
 * window: a ring of compact events (time, transaction id, a mask of the
 * aggregates it counts in, one fw_dec per aggregate or a hash for
 * count_distinct) with running count, sum and sum of squares per aggregate,
 * so count, sum, avg and stddev cost O(1) per event; min and max keep a
 * monotonic deque of event sequence numbers and count_distinct a hash
 * multiset (value hash -> events carrying it), both amortized O(1).
 * Events arrive in event-time order, so a window only ever loses its oldest
 * events. Memory is allocated for a new key or a ring reaching a size not
 * reached before, never per event once warm.
 *
 * Rules with the same group_by, lookback and where share one group: one
 * table, one ring per key holding every member's aggregate columns (up to
 * 32), one `last alert` per member. A filter rule is a group of its own with
 * no events (its keys only remember the last alert, for dedupe). A sequence
 * rule is a group of its own too: its keys hold no events but up to
 * FW_LANG_SEQ_MAX_PARTIALS partial matches (lpm), oldest first, in an array
 * that doubles up to that bound (docs/rule-language.md#sequence-rules). A
 * score rule is a group of its own: its ring holds the window's events in
 * time order with which `each` bands they matched, counts of those per band
 * (the ring's, and a busy key's per pane), and windows are scored as they
 * slide (docs/rule-language.md#score-rules).
 *
 * A "ranged" group (an aggregate with "window"/"slide", or with "consume")
 * keeps its ring sorted by (time, transaction id), late events inserted in
 * place, and prefix totals instead of running ones: per event, the count,
 * sum and sum of squares of its subtractable columns over the events before
 * it, and in run[] those over the whole ring. Each evaluation finds a
 * range's events by binary search and takes count, sum, avg and stddev as a
 * difference of two prefixes: O(window/slide x log events) per transaction
 * (lang_window.c); min, max and count_distinct scan each window's events.
 *
 * A filter or sequence rule that reads `prev.` or `is_new` keeps, per key,
 * its history: the previous transaction (the fields it reads, copied into a
 * per-key buffer that only grows) and a bounded hash set of (field, value)
 * -> last seen. Records behind the watermark neither see nor change it. */
#ifndef FW_LANG_STATE_INT_H
#define FW_LANG_STATE_INT_H

#include "lang_rules.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"
#include "rules_file.h"
#include "txn.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128; /* prefix totals: they wrap, differences stay exact */

#define KEY_SEED 0x6c616e67u /* group keys' hash: one seed, so rules grouped alike share it */
#define SWEEP_BUCKETS 4 /* hash buckets fw_lang_eval sweeps per transaction */
#define SPARE_KEYS 1024 /* quiet keys a group keeps for reuse, or its buckets if more */
#define STATE_MAGIC 0x4c      /* 'L': first byte of a serialized key, then the version */
#define STATE_VERSION 3       /* 2: the part's shape id follows the header; 3: evidence
                                 amounts (events, partial matches, prev) and matched times */
#define GROUP_MAX_AGGS 32     /* columns of one group: an event's mask has 32 bits */

typedef struct lev {
    int64_t ts;
    fw_dec amount;            /* evidence: exact amount; FW_LANG_NO_AMOUNT: none */
    uint32_t mask;            /* bit a: counts in aggregate a */
    uint8_t idlen;
    char id[FW_LANG_TXN_ID_MAX]; /* evidence; longer ids are cut (the alert says so by length) */
} lev;

typedef struct lrun {
    int64_t cnt;              /* events counting in this aggregate */
    i128 sum, sumsq;          /* sum, avg, stddev: exact, in units of 1/10,000 (squares: units^2) */
    uint32_t dq_head, dq_n;   /* min, max: the monotonic deque of event sequence numbers */
    uint64_t ndistinct;       /* count_distinct: distinct hashes in the multiset */
} lrun;

/* A sequence's partial match: where it stands and what it matched so far. */
typedef struct lpm {
    int64_t start;            /* its first transaction's time: it must end before start + within */
    uint16_t step, cnt;       /* the step it is in, and how many of its `times` matched */
    uint32_t nmatched;        /* transactions matched so far (ids beyond the first few are not kept) */
    uint8_t idlen[FW_LANG_SEQ_EVIDENCE];
    char id[FW_LANG_SEQ_EVIDENCE][FW_LANG_TXN_ID_MAX]; /* the first matched, for evidence */
    int64_t ts[FW_LANG_SEQ_EVIDENCE];     /* their times (INT64_MIN: not known) */
    fw_dec amount[FW_LANG_SEQ_EVIDENCE];  /* and amounts (FW_LANG_NO_AMOUNT: none) */
} lpm;

/* A key's previous transaction, for prev.: the numbers, and the text fields
 * the rule reads (PF_* order) one after another in buf. */
#define PF_N 12
#define PREV_INLINE 96 /* text bytes of prev kept inside the key; longer records use the heap */
typedef struct lprev {
    int64_t ts;
    fw_dec amount_dec;        /* exact, for evidence and prev.amount; FW_LANG_NO_AMOUNT: none */
    double amount, lat, lon;
    uint32_t has;
    uint8_t type;
    int32_t len[PF_N];        /* -1: absent */
    uint32_t cap;             /* of buf: grows to the longest record, never per event once warm */
    char *buf;
} lprev;

/* is_new's memory: a (field, value) hash and when the key last had it. */
typedef struct lseen {
    uint64_t h;               /* 0: empty */
    int64_t last;
} lseen;

/* count_distinct: a value's hash and how many window events carry it. */
typedef struct lslot {
    uint64_t h;               /* 0: empty */
    uint64_t cnt;
} lslot;

/* Empties slot @p i of an open-addressing table (linear probing, slots of
 * @p size bytes starting with their 64-bit hash, 0: empty) by backward shift,
 * so lookups need no tombstones: count_distinct's multisets and is_new's
 * seen values. A slot stays when its home is cyclically in (i, j]. */
static inline void lang_oa_delete(void *table, size_t size, uint32_t mask, uint32_t i) {
    char *t = table;
    for (uint32_t j = i;;) {
        uint64_t h;
        j = (j + 1) & mask;
        memcpy(&h, t + (size_t)j * size, sizeof(h));
        if (!h)
            break;
        uint32_t home = (uint32_t)h & mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        memcpy(t + (size_t)i * size, t + (size_t)j * size, size);
        i = j;
    }
    memset(t + (size_t)i * size, 0, size);
}

typedef struct lkey {
    struct lkey *next;        /* hash chain */
    uint64_t hash;
    int64_t used;             /* the last transaction's time that looked it up (beside
                                 next: the expiry sweep reads these two alone) */
    uint64_t overflow;        /* events dropped at max_window_events */
    uint64_t seq_head;        /* sequence number of the oldest event: deques hold these */
    uint32_t head, n, cap;    /* ring of events: oldest at head */
    uint32_t setcap;          /* slots of each count_distinct multiset: 2^k >= 2 x cap */
    lev *ev;
    fw_dec *val;              /* cap x naggs: the event's value per aggregate */
    uint64_t *dq;             /* cap per min/max aggregate: their deques */
    lslot *set;               /* setcap per count_distinct aggregate */
    uint64_t *pre;            /* ranged: cap x npw words, each event's prefix totals (lang_window.c) */
    lrun *run;                /* naggs */
    int64_t *last;            /* per member rule: its last alert here; INT64_MIN: none */
    lpm *pm;                  /* sequence: partial matches, oldest first */
    uint32_t npm, pmcap;
    /* score: the running average of avg_before, the key's last transaction
     * (its memory starts from it) and whether an episode is open */
    i128 avg_sum;
    int64_t avg_n;
    int64_t sc_seen;          /* INT64_MIN: none yet */
    bool episode;
    struct lsc_panes *sc_panes; /* score, busy key: band counts per pane (lang_score.c);
                                   NULL: none (a quiet key), rebuilt from the ring */
    lprev *prev;              /* history rules: the previous transaction; NULL: none yet */
    lprev *prev_mem;          /* its storage in this allocation (with PREV_INLINE bytes of
                                 text), so a new key costs one allocation */
    lseen *seen;              /* history rules: is_new's set (open addressing, 2^k slots) */
    uint32_t nseen, seencap;
    uint32_t dirty_idx;       /* its place in fw_lang_state.dirty while dirty */
    uint16_t part;            /* its group: a dirty key is written under the group's id */
    bool dirty;               /* changed since the last fw_lang_state_changes */
    uint16_t keylen;
    uint16_t keycap;          /* room for the key (a recycled key takes one that fits) */
    char key[];               /* "f=v\x1fg=w": fields and values */
} lkey;

/* A group: the state shared by rules with one group_by, lookback and where. */
typedef struct ltab {
    lkey **bucket;
    size_t nbucket, nkeys;
    const fw_lang_rule *lead;      /* its first rule: group_by, lookback, where */
    size_t *member;                /* rule indices, in rule order */
    size_t *base;                  /* per member: its first column */
    size_t nmember;
    const fw_lang_agg *agg[GROUP_MAX_AGGS]; /* the columns */
    size_t naggs;
    int8_t slot[GROUP_MAX_AGGS];   /* a min/max's deque, a count_distinct's set; else -1 */
    uint8_t nmm, ncd;              /* min/max and count_distinct columns */
    lkey *cur;                     /* the key this transaction counted in; NULL: none */
    bool score;                    /* a score rule's: events sorted by time, no running totals */
    uint64_t id;                   /* its shape (part_id): names it in the changelog */
    bool ranged;                   /* window/slide or consume: sorted ring, prefix totals */
    int16_t pw[GROUP_MAX_AGGS];    /* ranged: a subtractable column's first word in an
                                      event's prefix totals (k->pre); -1: none (scanned) */
    uint16_t npw;                  /* ranged: words of prefix totals per event */
    int64_t keep_ms;               /* events older than t - keep_ms can no longer count */
    lkey *spare;                   /* quiet keys freed by expiry, kept for reuse (linked
                                      by next, with their arrays): no malloc per new key */
    uint32_t nspare;
    int64_t grace;                 /* the background sweep leaves a key used this recently */
    uint8_t pf[PF_N], npf;         /* history: the PF_* fields prev keeps (the id first) */
    /* A sequence grouped by one plain text field, without history: a count of
     * its keys per slot of a cheap hash of the key's value (lang_live_slot;
     * 255 sticks), so a record that cannot start a match skips making and
     * finding a key that is not there: the usual case. NULL: not kept. */
    uint8_t *live;
    uint16_t live_skip;            /* the key's "field=" bytes before its value */
} ltab;

#define LIVE_BITS 16 /* slots of a group's live counts: 2^16 bytes */

/* The live slot of a key value: two 8-byte loads and a multiply, not the
 * key's hash (that needs the key made). */
static inline uint32_t lang_live_slot(const char *p, size_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL) ^ n) * 0xff51afd7ed558ccdULL;
    return (uint32_t)(h >> (64 - LIVE_BITS));
}

/* The range a ranged rule alerts on: the window and its events [lo, hi) of the ring. */
typedef struct lrange {
    int64_t start, end;
    uint32_t lo, hi;
} lrange;

/* count_distinct over a range: a set stamped with a generation, so it is
 * emptied by bumping the generation rather than clearing it. */
typedef struct lcd {
    uint64_t h;
    uint32_t gen;
} lcd;

/* A class's key for one record: made on first use in that record. */
typedef struct lkc {
    uint64_t record;          /* the record it was made for; 0: none */
    uint64_t hash;
    size_t len;
    bool ok;                  /* false: a key field is missing */
} lkc;

/* A score rule's points per band and what they allow (lang_score.c). */
typedef struct lsc_pts {
    fw_dec points[FW_LANG_MAX_BANDS]; /* each band's points, this transaction */
    i128 if_max;                      /* what the `if` bands can add at most */
    bool if_neg;                      /* an `if` band takes points away: always evaluated */
    bool each_neg;                    /* an `each` band takes points away: no bound */
} lsc_pts;

#define SCORE_CACHE 4 /* score rules whose constant points a state keeps */
typedef struct lsc_consts {
    size_t ri1;               /* the rule's index + 1; 0: none yet */
    bool konst;               /* points and alert_at read nothing of the record */
    lsc_pts sp;
    fw_xval at;
} lsc_consts;

struct fw_lang_state {
    const fw_lang_rules *rs;
    ltab *tab;                /* the groups */
    size_t ntab;
    size_t *group_of, *member_of; /* per rule: its group and place in it (SIZE_MAX: disabled) */
    size_t *pool;             /* the groups' member and base arrays */
    /* Per fw_lang_phase: the enabled rules it runs, in file order, and how
     * many; chosen once here, not per transaction. */
    size_t *phase_rules[3], nphase[3];
    /* Per fw_lang_phase, the aggregate groups that count each record: all
     * of them, early firing's (on arrival, late records excluded), the
     * others (in event-time order). */
    size_t *agg[3], nagg[3];
    /* Per fw_lang_phase, every group whose key it reads (its aggregates' and
     * its rules'), each once: their keys are prefetched (prefetch_keys). */
    size_t *touch[3], ntouch[3];
    /* The same lists for replay (fw_lang_state_set_replay): the backfill
     * rules and groups only, so no per-rule replay test runs live. They are
     * the second halves of phase_rules[] and agg[FW_LANG_ALL]. */
    size_t *phase_bf[3], nphase_bf[3];
    size_t *agg_bf, nagg_bf;
    size_t sweep_tab, sweep_bucket; /* the background sweep's cursor */
    /* This transaction's group keys, made once per group_by (a class) and
     * kept for the whole record: the seed rules alternate card, customer,
     * account, ..., so one cached class would build the customer key again
     * and again. */
    size_t *key_class;        /* per rule: its class, 0 .. nclass - 1 */
    size_t nclass;
    lkc *kc;                  /* per class: this record's key (stamped with st->record) */
    char *kc_bytes;           /* per class: FW_LANG_MAX_KEY bytes of key text, the first
                                 "field=" written once at creation (it never changes) */
    uint16_t *kc_nlen;        /* per class and key field: strlen of its name, kept at creation */
    uint16_t *kc_off;         /* per class and key field: 1 + the fw_txn offset of its fw_str
                                 when it is a plain text field (read straight); 0: evaluate */
    uint64_t kc_hash;         /* the hash of the key keybuf points at */
    fw_lang_stats stats;
    uint64_t **dedupe_to;     /* per rule: also counted here (fw_lang_state_count_dedupes) */
    uint64_t *key_overflows_to; /* fw_lang_state_count_key_overflows */
    const bool *memory_full;    /* fw_lang_state_follow_memory: true, no new key */
    uint64_t *memory_refusals_to;
    /* Changelog bookkeeping, only when tracking (Kafka mode): the keys changed
     * since the last fw_lang_state_changes (each flagged, so listed once; the
     * list grows by doubling, so a warm state allocates nothing) and the keys
     * freed since (u16 part, u16 length, bytes, repeated). */
    bool track;
    bool replay;                   /* fw_lang_state_set_replay: state only, no alerts */
    lkey **dirty;
    uint32_t ndirty, dirty_cap;
    fw_buf deleted;
    /* Scratch for one alert, so emitting allocates nothing. */
    fw_xval slots[FW_LANG_MAX_AGGS];
    fw_lang_value values[FW_LANG_MAX_AGGS];
    fw_lang_evidence evidence[FW_LANG_EVIDENCE_MAX];
    fw_lang_evidence *evall;            /* ranged alerts: every event of the window (max_window_events) */
    lcd *cd;                  /* ranged count_distinct scratch: cd_mask + 1 slots */
    uint32_t cd_mask, cd_gen;
    lpm done;                 /* the partial match a sequence alert reports */
    /* History (prev., is_new) of the rule being evaluated. */
    fw_txn prevtxn;           /* prev as the evaluator reads it: slices of the key's lprev */
    int pf_bit[PF_N];         /* each PF_* text field's fw_txn field index */
    const fw_expr *cur_expr;  /* the expression evaluating: is_new's sites are its own */
    lkey *hist;               /* the key whose history is_new reads; NULL: none */
    bool behind;              /* this record is behind the watermark */
    int64_t prevtxn_now;      /* this record's time, for is_new */
    char *keybuf;             /* the key lang_rule_key made last: one of kc_bytes */
    char entity[FW_LANG_MAX_KEY];
    /* Score rules' points and alert_at, worked out once when they read
     * nothing of the record (constants, $params): slot ri % SCORE_CACHE. */
    lsc_consts sc_consts[SCORE_CACHE];
    /* A score alert's window start and severity, and a scan's count_distinct
     * set (grows to the largest window seen, then is reused). */
    uint64_t record;          /* records evaluated: a number for this one */
    uint64_t *alerted;        /* per rule: the record it last raised an alert on (signals) */
    int64_t sc_start;
    size_t sc_nev;
    const fw_rule_common *sc_rc;
    uint64_t *scratch;
    size_t scratch_cap;
    uint32_t sc_pane_min;     /* score keys keep panes from this many events (SCORE_PANE_MIN;
                                 tests: 0 always, UINT32_MAX never) */
    char reason[FW_LANG_REASON_MAX];
};

/* prev.'s text fields: name (fw_txn_field_index) and where fw_txn holds it;
 * amount and type keep their text as written (amount_raw is exact). */
static const struct { const char *name; size_t off; } pf_field[PF_N] = {
    { "transaction_id", offsetof(fw_txn, transaction_id) },
    { "amount", offsetof(fw_txn, amount_raw) },
    { "account_id", offsetof(fw_txn, account_id) },
    { "card_id", offsetof(fw_txn, card_id) },
    { "customer_id", offsetof(fw_txn, customer_id) },
    { "type", offsetof(fw_txn, type_raw) },
    { "currency", offsetof(fw_txn, currency) },
    { "merchant_id", offsetof(fw_txn, merchant_id) },
    { "merchant_category", offsetof(fw_txn, merchant_category) },
    { "country", offsetof(fw_txn, country) },
    { "counterparty_id", offsetof(fw_txn, counterparty_id) },
    { "channel", offsetof(fw_txn, channel) },
};

/* Small helpers on hot paths, inline in every piece. */

static inline fw_str *txn_str(fw_txn *t, int pf) { return (fw_str *)((char *)t + pf_field[pf].off); }

/* A plain text key field of @p t, by its kc_off entry (1 + its offset in fw_txn). */
static inline fw_str txn_key_field(const fw_txn *t, uint16_t off1) {
    fw_str v;
    memcpy(&v, (const char *)t + off1 - 1, sizeof(v));
    return v;
}

static inline char *prev_inline(const lkey *k) { return k->prev_mem ? (char *)(k->prev_mem + 1) : NULL; }

/* Equal bytes, for a group key whose hash and length already matched: a
 * key is a few dozen bytes, compared in words inline (no memcmp call);
 * the last word overlaps the one before it. */
static inline bool key_eq(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return false;
        return true;
    }
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
}

static inline lkey *key_find(const fw_lang_state *st, size_t r, const char *key, size_t len, uint64_t h) {
    const ltab *t = &st->tab[r];
    if (!t->nbucket)
        return NULL;
    for (lkey *k = t->bucket[h & (t->nbucket - 1)]; k; k = k->next)
        if (k->hash == h && k->keylen == len && key_eq(k->key, key, len))
            return k;
    return NULL;
}

/* Marks @p k changed (for the changelog), once per flush. */
static inline void mark(fw_lang_state *st, lkey *k) {
    if (!st->track || k->dirty)
        return;
    if (st->ndirty == st->dirty_cap) {
        uint32_t cap = st->dirty_cap ? st->dirty_cap * 2 : 256;
        lkey **d = realloc(st->dirty, sizeof(*d) * cap);
        if (!d)
            return; /* not marked: it is written with its next change */
        st->dirty = d;
        st->dirty_cap = cap;
    }
    k->dirty = true;
    k->dirty_idx = st->ndirty;
    st->dirty[st->ndirty++] = k;
}

/* The exact amount of @p t for evidence: the decoder's, else its token
 * parsed; FW_LANG_NO_AMOUNT when it has none (a record built without one). */
static inline fw_dec lang_txn_amount(const fw_txn *t) {
    fw_dec v;
    return fw_txn_amount_dec(t, &v) ? v : FW_LANG_NO_AMOUNT;
}

/* Evidence naming transaction @p t. */
static inline fw_lang_evidence lang_txn_evidence(const fw_txn *t) {
    return (fw_lang_evidence){ t->transaction_id, t->ts_ms, lang_txn_amount(t), false, 0, 0 };
}

/* The same, with where it happened when the record says. */
static inline fw_lang_evidence lang_txn_evidence_located(const fw_txn *t) {
    fw_lang_evidence ev = lang_txn_evidence(t);
    if ((t->has & (FW_TXN_HAS_LAT | FW_TXN_HAS_LON)) == (FW_TXN_HAS_LAT | FW_TXN_HAS_LON)) {
        ev.located = true;
        ev.lat = t->lat;
        ev.lon = t->lon;
    }
    return ev;
}

/* Stores an event's time, amount, mask and id (cut at FW_LANG_TXN_ID_MAX) in @p e. */
/* memcpy for the short texts kept per event or prev (ids, codes): overlapping 8-byte
 * moves inline rather than a call per field and record. */
static inline void lang_copy_short(char *d, const char *s, size_t n) {
    uint64_t a, b, c, e;
    if (n >= 8 && n <= 16) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n > 16 && n <= 32) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8);
        memcpy(&e, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &c, 8);
        memcpy(d + n - 8, &e, 8);
    } else {
        for (size_t i = 0; n < 8 && i < n; i++)
            d[i] = s[i];
        if (n > 32)
            memcpy(d, s, n);
    }
}

static inline void lev_set(lev *e, int64_t ts, fw_dec amount, uint32_t mask, fw_str id) {
    e->ts = ts;
    e->amount = amount;
    e->mask = mask;
    e->idlen = (uint8_t)(id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX);
    if (e->idlen)
        lang_copy_short(e->id, id.ptr, e->idlen);
}

/* Evidence naming kept event @p e. */
static inline fw_lang_evidence lev_evidence(const lev *e) {
    return (fw_lang_evidence){ { e->id, e->idlen }, e->ts, e->amount, false, 0, 0 };
}

static inline fw_xval num(fw_dec v) { return (fw_xval){ .type = FW_XT_NUM, .u.num = v }; }

static const fw_xval missing = { .type = FW_XT_MISSING };

static inline fw_xval of_i128(i128 v) {
    if (v > FW_DEC_MAX || v < FW_DEC_MIN)
        return missing; /* beyond what a decimal holds: no value rather than a wrong one */
    return num((fw_dec)v);
}

static inline bool has_history(const fw_lang_rule *r) { return r->prev_fields || r->nseen; }

/* A busy score key's band counts per pane (a slide of time: pane P holds the
 * events of [P * slide, (P + 1) * slide)), so each aligned window's counts
 * are a sum of its panes, not a walk over its events. Slot P & (np - 1)
 * holds pane P while P has events in a band; a pane with none may lose its
 * slot. Two such panes in one slot (the ring spanning more than np panes:
 * a very late event) make it invalid until rebuilt from the ring. Kept only
 * for keys of SCORE_PANE_MIN events or more (a quiet key has none), and
 * never in the changelog: everything in it comes from the ring. */
#define SCORE_PANE_MIN 64 /* fw_lang_state.sc_pane_min's default */
#define SCORE_PANE_MAX 4096 /* slots at most: windows of more slides than fit walk their events */
typedef struct lsc_panes {
    int64_t slide_ms;
    uint32_t np, nb;          /* slots (a power of two), bands counted per slot */
    bool valid;
    int64_t *id;              /* np: the pane a slot holds */
    uint32_t *cnt;            /* np x nb: its events per band */
} lsc_panes;

/* A score key's count of ring events per band bit (the mask's low 16 bits),
 * kept where events enter (score_push, lang_push) and leave (lang_pop_oldest,
 * lang_evict_before) the ring, so lang_score_eval's bound ("can any window
 * reach alert_at?") costs O(bands), not a scan of a busy key's window. Not in
 * the changelog: read_key's lang_push rebuilds it from the events. It lives
 * in the key's allocation, after the members' last alerts (lang_key_add). */
#define SCORE_BITS 16
static inline uint32_t *lang_score_cnt(const ltab *t, const lkey *k) {
    return (uint32_t *)(k->last + t->nmember);
}

void lang_score_pane_tally(lsc_panes *p, int64_t ts, uint32_t mask, uint32_t d);

/* Counts (@p d 1) or uncounts (-1) an event at @p ts of @p mask in score key
 * @p k: in the ring's counts, and in its panes' when it is busy enough to
 * keep them. */
static inline void lang_score_tally(const ltab *t, lkey *k, int64_t ts, uint32_t mask,
                                    uint32_t d) {
    uint32_t *c = lang_score_cnt(t, k);
    mask &= 0xffffu;
    for (uint32_t m = mask; m; m &= m - 1)
        c[__builtin_ctz(m)] += d;
    if (k->sc_panes && mask)
        lang_score_pane_tally(k->sc_panes, ts, mask, d);
}

/* lang_state.c: keys, alerts */
lkey *lang_key_add(fw_lang_state *st, size_t r, const char *key, size_t len, uint64_t h);
void lang_key_remove(fw_lang_state *st, size_t r, lkey *k, bool tomb);
void lang_emit(fw_lang_state *st, const fw_lang_rule *r, lkey *k, size_t m,
               const fw_expr_ctx *ctx, fw_lang_alert_fn fn, void *opaque, const lpm *pm,
               const lrange *rg);
bool lang_rule_key_make(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx,
                        size_t *len, uint64_t *h);

/* Rule @p r's group key for this transaction (st->keybuf points at it) and
 * its hash: made once per record for all the rules grouped alike
 * (lang_rule_key_make), then read here, inline: ~4 rule kinds per record ask. */
static inline bool lang_rule_key(fw_lang_state *st, const fw_lang_rule *r,
                                 const fw_expr_ctx *ctx, size_t *len, uint64_t *h) {
    size_t c = st->key_class[r - st->rs->rules];
    const lkc *kc = &st->kc[c];
    if (kc->record != st->record)
        return lang_rule_key_make(st, r, ctx, len, h);
    st->keybuf = st->kc_bytes + c * (size_t)FW_LANG_MAX_KEY;
    *len = kc->len;
    *h = st->kc_hash = kc->hash;
    return kc->ok;
}
lkey *lang_key_get(fw_lang_state *st, size_t ri, size_t len, int64_t now);
bool lang_agg_value(const fw_lang_agg *g, const fw_expr_ctx *ctx, fw_dec *out);

/* lang_window.c: rings and windows */
/* False, and counted, while the memory is full (fw_lang_state_follow_memory)
 * or when the state holds max_keys keys: a new key is not made (as a
 * built-in's entity past max_entities is not). */
static inline bool lang_key_room(fw_lang_state *st) {
    if (st->memory_full && *st->memory_full) {
        st->stats.memory_refusals++;
        if (st->memory_refusals_to)
            (*st->memory_refusals_to)++;
        return false;
    }
    if (!st->rs->max_keys || st->stats.keys < st->rs->max_keys)
        return true;
    st->stats.key_overflows++;
    if (st->key_overflows_to)
        (*st->key_overflows_to)++;
    return false;
}

/* An alert of rule @p ri folded into an earlier one: counted in the
 * state's stats and where the engine asked (a built-in's counter). */
static inline void lang_deduplicated(fw_lang_state *st, size_t ri) {
    st->stats.deduplicated++;
    if (st->dedupe_to[ri])
        (*st->dedupe_to[ri])++;
}

void lang_pop_oldest(fw_lang_state *st, lkey *k, const ltab *t);
void lang_evict_before(fw_lang_state *st, lkey *k, int64_t start, const ltab *t);
bool lang_push(fw_lang_state *st, const ltab *t, lkey *k, int64_t ts, fw_dec amount,
               fw_str id, uint32_t mask, const fw_dec *vals);
fw_xval lang_result(const ltab *t, const lkey *k, size_t a);
void lang_ranged_eval(fw_lang_state *st, size_t ri, lkey *k, fw_expr_ctx *ctx,
                      fw_lang_alert_fn fn, void *opaque);
bool lang_ranged_check(const fw_lang_state *st, char *errstr, size_t errstr_size);

/* lang_history.c: prev. and is_new */
bool lang_xtest(fw_lang_state *st, const fw_expr *e, const fw_expr_ctx *ctx);
const fw_txn *lang_prev_view(fw_lang_state *st, const fw_lang_rule *r, const ltab *tb,
                             const lkey *k, const fw_txn *t);
bool lang_prev_keep(const ltab *tb, lkey *k, const fw_txn *t);
uint32_t lang_seen_purge(lkey *k, int64_t before);
void lang_seen_add(fw_lang_state *st, const fw_lang_rule *r, lkey *k, uint64_t h, int64_t ts);
void lang_hist_update(fw_lang_state *st, const fw_lang_rule *r, lkey *k,
                      const fw_expr_ctx *ctx);
int lang_is_new_hook(void *ud, int site, fw_str value, int64_t lookback_ms);
void lang_filter_hist(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                      void *opaque);

/* lang_seq.c: sequences */
uint32_t lang_seq_bound(const fw_lang_state *st);
uint32_t lang_seq_expire(lkey *k, int64_t now, int64_t within);
bool lang_pm_complete(const fw_lang_rule *r, const lpm *p);
/* lang_seq_eval past its gate: @p visible and @p first are where's and the
 * first step's results when the group has live counts (else worked out here). */
void lang_seq_run(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                  void *opaque, bool visible, bool first);
/* One transaction of a sequence rule (lang_seq.c). Its gate is inline, in
 * the caller's frame: most records of most keys stop here. */
static inline void lang_seq_eval(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx,
                                 fw_lang_alert_fn fn, void *opaque) {
    bool visible = false, first = false;
    if (st->behind)
        return; /* in event-time order only, as the built-ins' sequences */
    const ltab *tb = &st->tab[st->group_of[ri]];
    if (tb->live) {
        /* No history: where and the first step read only the record, so
         * judge them first; a record that cannot start a match does nothing
         * unless its key is there, and the live counts say when it is not. */
        const fw_lang_rule *r = &st->rs->rules[ri];
        visible = !r->where || fw_expr_test_inline(r->where, ctx);
        first = visible && fw_expr_test_inline(r->steps[0].pred, ctx);
        if (!first) {
            size_t c = st->key_class[ri];
            fw_str v = txn_key_field(ctx->txn, st->kc_off[c * (size_t)FW_LANG_MAX_GROUP]);
            if (!v.ptr || !tb->live[lang_live_slot(v.ptr, v.len)])
                return;
        }
    }
    lang_seq_run(st, ri, ctx, fn, opaque, visible, first);
}

/* lang_score.c: score rules */
void lang_score_eval(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                     void *opaque);

#endif
