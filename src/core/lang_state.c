/* lang_state.c — evaluating language rules (lang_rules.h) and their keyed
 * state. Per rule, a chained hash table maps a group key to its lookback
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
 * time order with which `each` bands they matched, and windows are scored by
 * a scan as they slide (docs/rule-language.md#score-rules).
 *
 * A "ranged" group (an aggregate with "window"/"slide", or with "consume")
 * keeps its ring sorted by (time, transaction id), late events inserted in
 * place, and no running totals: each evaluation finds the window's events
 * by binary search and aggregates that range (aligned windows are visited
 * earliest first with two cursors, so count, sum, avg and stddev cost
 * O(window/slide + events of the span) per transaction; min, max and
 * count_distinct scan each window's events)..
 *
 * A filter or sequence rule that reads `prev.` or `is_new` keeps, per key,
 * its history: the previous transaction (the fields it reads, copied into a
 * per-key buffer that only grows) and a bounded hash set of (field, value)
 * -> last seen. Records behind the watermark neither see nor change it. */
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

#define KEY_SEED 0x6c616e67u /* group keys' hash: one seed, so rules grouped alike share it */
#define SWEEP_BUCKETS 4
#define SPARE_KEYS 1024 /* quiet keys a group keeps for reuse */ /* hash buckets fw_lang_eval sweeps per transaction */
#define STATE_MAGIC 0x4c      /* 'L': first byte of a serialized key, then the version */
#define STATE_VERSION 2       /* 2: the part's shape id follows the header */
#define GROUP_MAX_AGGS 32     /* columns of one group: an event's mask has 32 bits */

typedef struct lev {
    int64_t ts;
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
} lpm;

/* A key's previous transaction, for prev.: the numbers, and the text fields
 * the rule reads (PF_* order) one after another in buf. */
#define PF_N 12
#define PREV_INLINE 96 /* text bytes of prev kept inside the key; longer records use the heap */
typedef struct lprev {
    int64_t ts;
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

typedef struct lkey {
    struct lkey *next;        /* hash chain */
    uint64_t hash;
    uint64_t overflow;        /* events dropped at max_window_events */
    uint64_t seq_head;        /* sequence number of the oldest event: deques hold these */
    uint32_t head, n, cap;    /* ring of events: oldest at head */
    uint32_t setcap;          /* slots of each count_distinct multiset: 2^k >= 2 x cap */
    lev *ev;
    fw_dec *val;              /* cap x naggs: the event's value per aggregate */
    uint64_t *dq;             /* cap per min/max aggregate: their deques */
    lslot *set;               /* setcap per count_distinct aggregate */
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
    lprev *prev;              /* history rules: the previous transaction; NULL: none yet */
    lprev *prev_mem;          /* its storage in this allocation (with PREV_INLINE bytes of
                                 text), so a new key costs one allocation */
    lseen *seen;              /* history rules: is_new's set (open addressing, 2^k slots) */
    uint32_t nseen, seencap;
    int64_t used;             /* the last transaction's time that looked it up */
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
    bool ranged;                   /* window/slide or consume: sorted ring, no running totals */
    int64_t keep_ms;               /* events older than t - keep_ms can no longer count */
    lkey *spare;                   /* quiet keys freed by expiry, kept for reuse (linked
                                      by next, with their arrays): no malloc per new key */
    uint32_t nspare;
    int64_t grace;                 /* the background sweep leaves a key used this recently */
    uint8_t pf[PF_N], npf;         /* history: the PF_* fields prev keeps (the id first) */
} ltab;

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

struct fw_lang_state {
    const fw_lang_rules *rs;
    ltab *tab;                /* the groups */
    size_t ntab;
    size_t *group_of, *member_of; /* per rule: its group and place in it (SIZE_MAX: disabled) */
    size_t *pool;             /* the groups' member and base arrays */
    /* Per fw_lang_phase: the enabled rules it runs, in file order, and how
     * many; chosen once here, not per transaction. */
    size_t *phase_rules[3], nphase[3];
    size_t sweep_tab, sweep_bucket; /* the background sweep's cursor */
    /* This transaction's group key, made once for all rules with one group_by. */
    size_t *key_class;        /* per rule: the first rule with the same group_by */
    size_t kc_class;          /* the class keybuf holds; SIZE_MAX: none yet */
    bool kc_ok;
    size_t kc_len;
    uint64_t kc_hash;
    fw_lang_stats stats;
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
    fw_str evidence[FW_LANG_EVIDENCE_MAX];
    fw_str *evall;            /* ranged alerts: every event of the window (max_window_events) */
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
    char keybuf[FW_LANG_MAX_KEY], entity[FW_LANG_MAX_KEY];
    /* A score alert's window start and severity, and a scan's count_distinct
     * set (grows to the largest window seen, then is reused). */
    uint64_t record;          /* records evaluated: a number for this one */
    uint64_t *alerted;        /* per rule: the record it last raised an alert on (signals) */
    int64_t sc_start;
    size_t sc_nev;
    const fw_rule_common *sc_rc;
    uint64_t *scratch;
    size_t scratch_cap;
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

static fw_str *txn_str(fw_txn *t, int pf) { return (fw_str *)((char *)t + pf_field[pf].off); }

/* Aggregate rules share state by shape; filters, sequences and scores keep
 * their own, and so does a consuming rule (it removes events from its state)
 * and a backfill rule (its part is replayed alone, so its id must not depend
 * on its neighbours). */
static bool same_shape(const fw_lang_rule *a, const fw_lang_rule *b) {
    if (a->kind != FW_LANG_AGGREGATE || b->kind != FW_LANG_AGGREGATE || a->consume ||
        b->consume || a->backfill || b->backfill || a->window_ms != b->window_ms || a->slide_ms != b->slide_ms ||
        a->ngroup != b->ngroup || a->lookback_ms != b->lookback_ms ||
        !a->where_src != !b->where_src || (a->where_src && strcmp(a->where_src, b->where_src)))
        return false;
    for (size_t i = 0; i < a->ngroup; i++)
        if (strcmp(a->group_src[i], b->group_src[i]))
            return false;
    return true;
}

static uint64_t hash_str(uint64_t h, const char *s) {
    s = s ? s : "";
    return fw_hash64(s, strlen(s) + 1, h); /* with its NUL: "ab","c" differs from "a","bc" */
}

/* A group's identity in the changelog: a hash of everything its bytes depend
 * on (kind, group_by, lookback, where, each member's id and each column's
 * function, argument and where), not its index, which moves when a rule is
 * added before it. So a restart with the same rules finds its state, and a
 * changed shape finds no state rather than foreign bytes. A changed having or
 * param keeps the id: the state is the same. */
static uint64_t part_id(const fw_lang_rules *rs, const ltab *t) {
    const fw_lang_rule *r = t->lead;
    uint64_t h = fw_hash64(&r->kind, 1, 0x70617274u);
    char lb[32];
    snprintf(lb, sizeof(lb), "%" PRId64, r->lookback_ms);
    h = hash_str(h, lb);
    if (r->window_ms) { /* only when set: a lookback rule's id is what it was before windows */
        snprintf(lb, sizeof(lb), "w%" PRId64 "/%" PRId64, r->window_ms, r->slide_ms);
        h = hash_str(h, lb);
    }
    if (r->consume)
        h = hash_str(h, "consume");
    for (size_t g = 0; g < r->ngroup; g++)
        h = hash_str(h, r->group_src[g]);
    h = hash_str(h, r->kind != FW_LANG_FILTER ? r->where_src : NULL);
    if (r->kind == FW_LANG_SCORE) { /* its slides, memory, average and bands shape the bytes */
        char sl[64];
        snprintf(sl, sizeof(sl), "%" PRId64 "/%" PRId64, r->slide_ms, r->memory_ms);
        h = hash_str(hash_str(h, sl), r->avg_src);
        for (size_t i = 0; i < r->nbands; i++)
            h = hash_str(hash_str(h, r->bands[i].signal >= 0 ? "signal"
                                     : r->bands[i].each     ? "each"
                                                            : "if"),
                         r->bands[i].src);
    }
    if (r->prev_fields || r->nseen || r->no_skip) { /* history bytes follow: they are the shape */
        char hist[64];
        snprintf(hist, sizeof(hist), "h%" PRIx64 "/%zu/%d", r->prev_fields, r->nseen, r->no_skip);
        h = hash_str(h, hist);
        for (size_t i = 0; i < r->nseen; i++)
            h = fw_hash64(&r->seen_field[i], sizeof(int), h);
    }
    for (size_t i = 0; i < r->nsteps; i++) { /* a sequence: its steps give the bytes their meaning */
        char how[32];
        snprintf(how, sizeof(how), "%d/%u", (int)r->steps[i].contig, r->steps[i].times);
        h = hash_str(hash_str(h, how), r->steps[i].src);
    }
    for (size_t m = 0; m < t->nmember; m++)
        h = hash_str(h, rs->rules[t->member[m]].id);
    for (size_t a = 0; a < t->naggs; a++) {
        h = hash_str(h, t->agg[a]->of);
        h = hash_str(h, t->agg[a]->where_src);
    }
    return h;
}

fw_lang_state *fw_lang_state_new(const fw_lang_rules *rs) {
    fw_lang_state *st = calloc(1, sizeof(*st));
    size_t n = rs->n ? rs->n : 1;
    if (!st)
        return NULL;
    fw_buf_init(&st->deleted, 0);
    st->rs = rs;
    for (int f = 0; f < PF_N; f++)
        st->pf_bit[f] = fw_txn_field_index(pf_field[f].name, strlen(pf_field[f].name));
    st->tab = calloc(n, sizeof(*st->tab));
    st->group_of = malloc(n * sizeof(size_t));
    st->member_of = malloc(n * sizeof(size_t));
    st->pool = malloc(2 * n * sizeof(size_t));
    st->alerted = calloc(n, sizeof(uint64_t));
    st->key_class = malloc(n * sizeof(size_t));
    for (int ph = 0; ph < 3; ph++)
        st->phase_rules[ph] = malloc(n * sizeof(size_t));
    if (!st->tab || !st->group_of || !st->member_of || !st->pool || !st->alerted ||
        !st->key_class || !st->phase_rules[0] || !st->phase_rules[1] || !st->phase_rules[2]) {
        fw_lang_state_destroy(st);
        return NULL;
    }
    for (size_t i = 0; i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        size_t c = 0;
        for (; c < i; c++) {
            const fw_lang_rule *o = &rs->rules[c];
            bool same = o->ngroup == r->ngroup;
            for (size_t g = 0; g < r->ngroup && same; g++)
                same = !strcmp(o->group_src[g], r->group_src[g]);
            if (same)
                break;
        }
        st->key_class[i] = c;
    }
    /* Group the enabled rules, then lay out each group's members and columns. */
    for (size_t i = 0; i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        st->group_of[i] = st->member_of[i] = SIZE_MAX;
        if (!r->common.enabled)
            continue;
        size_t g = 0;
        while (g < st->ntab && !(same_shape(st->tab[g].lead, r) &&
                                 st->tab[g].naggs + r->naggs <= GROUP_MAX_AGGS))
            g++;
        if (g == st->ntab) {
            st->tab[st->ntab].score = r->kind == FW_LANG_SCORE;
            st->tab[st->ntab++].lead = r;
        }
        st->group_of[i] = g;
        st->member_of[i] = st->tab[g].nmember++;
        st->tab[g].naggs += r->naggs;
        st->phase_rules[FW_LANG_ALL][st->nphase[FW_LANG_ALL]++] = i;
        int ph = fw_lang_rule_on_arrival(r) ? FW_LANG_ON_ARRIVAL : FW_LANG_IN_ORDER;
        st->phase_rules[ph][st->nphase[ph]++] = i;
    }
    size_t off = 0;
    bool need_cd = false, need_all = false;
    for (size_t g = 0; g < st->ntab; g++) {
        ltab *t = &st->tab[g];
        t->ranged = t->lead->window_ms || t->lead->consume;
        t->keep_ms = t->lead->lookback_ms + (t->ranged ? rs->allowed_lateness_ms : 0);
        t->member = st->pool + off;
        t->base = st->pool + rs->n + off;
        off += t->nmember;
        t->naggs = 0;
    }
    for (size_t i = 0; i < rs->n; i++) {
        if (st->group_of[i] == SIZE_MAX)
            continue;
        ltab *t = &st->tab[st->group_of[i]];
        const fw_lang_rule *r = &rs->rules[i];
        t->member[st->member_of[i]] = i;
        t->base[st->member_of[i]] = t->naggs;
        for (size_t a = 0; a < r->naggs; a++) {
            fw_lang_fn fn = r->aggs[a].fn;
            t->agg[t->naggs] = &r->aggs[a];
            bool cd = fn == FW_LANG_COUNT_DISTINCT;
            if (t->ranged) { /* no deques, no multisets: ranges are scanned */
                need_cd = need_cd || cd;
                need_all = true;
                t->slot[t->naggs++] = -1;
                continue;
            }
            t->slot[t->naggs++] = t->score ? -1 /* scores scan their windows */
                                  : fn == FW_LANG_MIN || fn == FW_LANG_MAX ? (int8_t)t->nmm++
                                  : fn == FW_LANG_COUNT_DISTINCT     ? (int8_t)t->ncd++
                                                                     : -1;
        }
    }
    for (size_t g = 0; g < st->ntab; g++) {
        ltab *t = &st->tab[g];
        const fw_lang_rule *r = t->lead;
        t->id = part_id(rs, t);
        t->grace = r->lookback_ms;
        if (r->prev_fields && r->prev_within_ms > t->grace)
            t->grace = r->prev_within_ms;
        if (r->seen_keep_ms > t->grace)
            t->grace = r->seen_keep_ms;
        for (int f = 0; f < PF_N; f++)
            if (r->prev_fields &&
                (f == 0 || (st->pf_bit[f] >= 0 && (r->prev_fields >> st->pf_bit[f] & 1))))
                t->pf[t->npf++] = (uint8_t)f;
        need_all = need_all || t->ranged;
    }
    uint32_t maxev = rs->max_window_events ? rs->max_window_events : 1;
    if (need_all && !(st->evall = malloc(maxev * sizeof(*st->evall)))) {
        fw_lang_state_destroy(st);
        return NULL;
    }
    if (need_cd) {
        uint64_t cap = 16;
        while (cap < 2 * (uint64_t)maxev)
            cap *= 2;
        if (!(st->cd = calloc(cap, sizeof(*st->cd)))) {
            fw_lang_state_destroy(st);
            return NULL;
        }
        st->cd_mask = (uint32_t)(cap - 1);
    }
    return st;
}

static char *prev_inline(const lkey *k) { return k->prev_mem ? (char *)(k->prev_mem + 1) : NULL; }

/* Forgets the key's prev, freeing what lives outside the key. */
static void prev_drop(lkey *k) {
    if (!k->prev)
        return;
    if (k->prev->buf != prev_inline(k))
        free(k->prev->buf);
    if (k->prev != k->prev_mem)
        free(k->prev);
    k->prev = NULL;
}

static void key_unlink(fw_lang_state *st, size_t r, lkey *k, bool tomb);

static void key_free(lkey *k) {
    if (!k)
        return;
    free(k->ev);
    free(k->val);
    free(k->dq);
    free(k->set);
    free(k->pm);
    prev_drop(k);
    free(k->seen);
    free(k);
}

void fw_lang_state_destroy(fw_lang_state *st) {
    if (!st)
        return;
    for (size_t r = 0; st->tab && r < st->ntab; r++) {
        for (size_t b = 0; b < st->tab[r].nbucket; b++)
            for (lkey *k = st->tab[r].bucket[b], *nx; k; k = nx) {
                nx = k->next;
                key_free(k);
            }
        for (lkey *k = st->tab[r].spare, *nx; k; k = nx) {
            nx = k->next;
            key_free(k);
        }
        free(st->tab[r].bucket);
    }
    free(st->tab);
    free(st->group_of);
    free(st->member_of);
    free(st->pool);
    free(st->key_class);
    for (int ph = 0; ph < 3; ph++)
        free(st->phase_rules[ph]);
    free(st->dirty);
    free(st->scratch);
    free(st->alerted);
    free(st->evall);
    free(st->cd);
    fw_buf_fini(&st->deleted);
    free(st);
}

/* ---- the table ---- */

static lkey *key_find(const fw_lang_state *st, size_t r, const char *key, size_t len, uint64_t h) {
    const ltab *t = &st->tab[r];
    if (!t->nbucket)
        return NULL;
    for (lkey *k = t->bucket[h & (t->nbucket - 1)]; k; k = k->next)
        if (k->hash == h && k->keylen == len && !memcmp(k->key, key, len))
            return k;
    return NULL;
}

static bool tab_grow(ltab *t) {
    size_t nb = t->nbucket ? t->nbucket * 2 : 64;
    lkey **b = calloc(nb, sizeof(*b));
    if (!b)
        return false;
    for (size_t i = 0; i < t->nbucket; i++)
        for (lkey *k = t->bucket[i], *nx; k; k = nx) {
            nx = k->next;
            k->next = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
        }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = nb;
    return true;
}

static lkey *key_add(fw_lang_state *st, size_t r, const char *key, size_t len, uint64_t h) {
    ltab *t = &st->tab[r];
    if (t->nkeys >= t->nbucket && !tab_grow(t))
        return NULL;
    lkey *k = t->spare;
    if (k && k->keycap >= len) {
        /* A quiet key freed by expiry: its arrays are empty (no events, partial
         * matches or seen values), so only the header and totals start afresh. */
        t->spare = k->next;
        t->nspare--;
        lkey keep = *k;
        memset(k, 0, offsetof(lkey, key));
        k->ev = keep.ev, k->val = keep.val, k->dq = keep.dq, k->set = keep.set;
        k->cap = keep.cap, k->setcap = keep.setcap;
        k->pm = keep.pm, k->pmcap = keep.pmcap;
        k->seen = keep.seen, k->seencap = keep.seencap;
        k->run = keep.run, k->last = keep.last, k->prev_mem = keep.prev_mem;
        k->keycap = keep.keycap;
        memset(k->run, 0, t->naggs * sizeof(lrun));
    } else {
        /* The running totals follow the header (i128 wants 16-byte alignment),
         * then the members' last alerts. */
        size_t cap = len < 48 ? 48 : len;
        size_t hdr = (sizeof(lkey) + cap + 15) & ~(size_t)15;
        size_t tail = t->naggs * sizeof(lrun) + t->nmember * sizeof(int64_t);
        tail = (tail + 15) & ~(size_t)15;
        if (!(k = calloc(1, hdr + tail + (t->npf ? sizeof(lprev) + PREV_INLINE : 0))))
            return NULL;
        k->keycap = (uint16_t)cap;
        k->run = (lrun *)((char *)k + hdr);
        k->last = (int64_t *)(k->run + t->naggs);
        if (t->npf)
            k->prev_mem = (lprev *)((char *)k + hdr + tail);
    }
    for (size_t m = 0; m < t->nmember; m++)
        k->last[m] = INT64_MIN;
    k->sc_seen = INT64_MIN;
    k->hash = h;
    k->part = (uint16_t)r;
    k->keylen = (uint16_t)len;
    memcpy(k->key, key, len);
    k->next = t->bucket[h & (t->nbucket - 1)];
    t->bucket[h & (t->nbucket - 1)] = k;
    t->nkeys++;
    st->stats.keys++;
    return k;
}

/* Marks @p k changed (for the changelog), once per flush. */
static void mark(fw_lang_state *st, lkey *k) {
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

/* Frees @p k; @p tomb: it leaves the changelog too (expiry), not when
 * restoring, where the log already says what it holds. */
static void key_remove(fw_lang_state *st, size_t r, lkey *k, bool tomb) {
    key_unlink(st, r, k, tomb);
    key_free(k);
}

/* Unlinks quiet key @p k (expiry) and keeps it for reuse, up to SPARE_KEYS. */
static void key_retire(fw_lang_state *st, size_t r, lkey *k) {
    ltab *t = &st->tab[r];
    key_unlink(st, r, k, true);
    if (k->n || k->npm || k->nseen || t->nspare >= SPARE_KEYS || k->cap > 64 ||
        k->pmcap > 64 || k->seencap > 64) { /* only small ones: spares hold their arrays */
        key_free(k);
        return;
    }
    prev_drop(k);
    k->next = t->spare;
    t->spare = k;
    t->nspare++;
}

static void key_unlink(fw_lang_state *st, size_t r, lkey *k, bool tomb) {
    ltab *t = &st->tab[r];
    if (k->dirty) { /* off the list: its tombstone is its latest state */
        lkey *last = st->dirty[--st->ndirty];
        st->dirty[k->dirty_idx] = last;
        last->dirty_idx = k->dirty_idx;
    }
    if (tomb && st->track) {
        uint16_t hdr[2] = { (uint16_t)r, k->keylen };
        fw_buf_append(&st->deleted, hdr, sizeof(hdr));
        fw_buf_append(&st->deleted, k->key, k->keylen);
    }
    for (lkey **p = &t->bucket[k->hash & (t->nbucket - 1)]; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    t->nkeys--;
    st->stats.keys--;
    st->stats.events -= k->n;
}

/* ---- windows ---- */

static fw_dec val_of_seq(const lkey *k, size_t naggs, uint64_t seq, size_t a) {
    uint32_t i = (uint32_t)((k->head + (seq - k->seq_head)) % k->cap);
    return k->val[(size_t)i * naggs + a];
}

/* The multiset of count_distinct aggregate slot @p c: linear probing, deletion
 * by backward shift, so no tombstones pile up. */
static void set_add(lkey *k, lrun *u, size_t c, uint64_t h) {
    lslot *t = k->set + (size_t)c * k->setcap;
    uint32_t mask = k->setcap - 1, i;
    h |= 1; /* never 0 (empty) */
    i = (uint32_t)h & mask;
    while (t[i].h && t[i].h != h)
        i = (i + 1) & mask;
    if (!t[i].h) {
        t[i].h = h;
        u->ndistinct++;
    }
    t[i].cnt++;
}

static void set_remove(lkey *k, lrun *u, size_t c, uint64_t h) {
    lslot *t = k->set + (size_t)c * k->setcap;
    uint32_t mask = k->setcap - 1, i;
    h |= 1;
    i = (uint32_t)h & mask;
    while (t[i].h && t[i].h != h)
        i = (i + 1) & mask;
    if (!t[i].h || --t[i].cnt)
        return;
    u->ndistinct--;
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        if (!t[j].h)
            break;
        uint32_t home = (uint32_t)t[j].h & mask;
        /* It stays when its home is cyclically in (i, j]. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        t[i] = t[j];
        i = j;
    }
    t[i] = (lslot){ 0, 0 };
}

static void pop_oldest(fw_lang_state *st, lkey *k, const ltab *t) {
    uint32_t i = k->head;
    for (size_t a = 0; a < t->naggs && !t->score && !t->ranged; a++) {
        if (!(k->ev[i].mask & (1u << a)))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        lrun *u = &k->run[a];
        u->cnt--;
        switch (t->agg[a]->fn) {
        case FW_LANG_MIN:
        case FW_LANG_MAX: {
            uint64_t *q = k->dq + (size_t)t->slot[a] * k->cap;
            if (u->dq_n && q[u->dq_head] == k->seq_head) {
                u->dq_head = (u->dq_head + 1) % k->cap;
                u->dq_n--;
            }
            break;
        }
        case FW_LANG_COUNT_DISTINCT:
            set_remove(k, u, (size_t)t->slot[a], (uint64_t)d);
            break;
        default:
            u->sum -= d;
            u->sumsq -= (i128)d * d;
        }
    }
    k->head = (k->head + 1) % k->cap;
    k->seq_head++;
    k->n--;
    st->stats.events--;
}

static void evict_before(fw_lang_state *st, lkey *k, int64_t start, const ltab *t) {
    while (k->n && k->ev[k->head].ts < start)
        pop_oldest(st, k, t);
}

/* Doubles the ring (up to max) and re-lays out what hangs on its size: the
 * deques (same sequence numbers, linearized) and the multisets (rebuilt). */
static bool ring_grow(lkey *k, const ltab *t, uint32_t max) {
    size_t naggs = t->naggs;
    uint32_t nc = k->cap ? (k->cap * 2 > max ? max : k->cap * 2) : (max < 8 ? max : 8);
    uint32_t nsc = 16;
    while (t->ncd && nsc < 2 * (uint64_t)nc)
        nsc *= 2;
    lev *ev = malloc((size_t)nc * sizeof(*ev));
    fw_dec *val = malloc((size_t)nc * (naggs ? naggs : 1) * sizeof(*val));
    uint64_t *dq = t->nmm ? malloc((size_t)nc * t->nmm * sizeof(*dq)) : NULL;
    lslot *set = t->ncd ? calloc((size_t)nsc * t->ncd, sizeof(*set)) : NULL;
    if (!ev || !val || (t->nmm && !dq) || (t->ncd && !set)) {
        free(ev);
        free(val);
        free(dq);
        free(set);
        return false;
    }
    for (uint32_t j = 0; j < k->n; j++) {
        uint32_t i = (k->head + j) % k->cap;
        ev[j] = k->ev[i];
        memcpy(val + (size_t)j * naggs, k->val + (size_t)i * naggs, naggs * sizeof(*val));
    }
    for (size_t a = 0; a < naggs && !t->score; a++) {
        lrun *u = &k->run[a];
        if ((t->agg[a]->fn == FW_LANG_MIN || t->agg[a]->fn == FW_LANG_MAX) && t->slot[a] >= 0) {
            uint64_t *from = k->dq + (size_t)t->slot[a] * k->cap, *to = dq + (size_t)t->slot[a] * nc;
            for (uint32_t j = 0; j < u->dq_n; j++)
                to[j] = from[(u->dq_head + j) % k->cap];
            u->dq_head = 0;
        }
    }
    free(k->ev);
    free(k->val);
    free(k->dq);
    free(k->set);
    k->ev = ev;
    k->val = val;
    k->dq = dq;
    k->set = set;
    k->head = 0;
    k->cap = nc;
    k->setcap = nsc;
    for (size_t a = 0; a < naggs && !t->score; a++) {
        if (t->agg[a]->fn != FW_LANG_COUNT_DISTINCT || t->slot[a] < 0)
            continue; /* a ranged group has no multisets */
        k->run[a].ndistinct = 0;
        for (uint32_t j = 0; j < k->n; j++)
            if (ev[j].mask & (1u << a))
                set_add(k, &k->run[a], (size_t)t->slot[a], (uint64_t)val[(size_t)j * naggs + a]);
    }
    return true;
}

/* Whether kept event @p e sorts after (ts, id): the built-ins' order, time
 * then transaction id. */
static bool ev_after(const lev *e, int64_t ts, fw_str id) {
    if (e->ts != ts)
        return e->ts > ts;
    size_t il = id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX;
    size_t n = e->idlen < il ? e->idlen : il;
    int c = n ? memcmp(e->id, id.ptr, n) : 0;
    return c ? c > 0 : e->idlen > il;
}

/* Appends one event (a ranged group: in order); at max_window_events the
 * oldest makes room (counted). */
static bool push(fw_lang_state *st, const ltab *t, lkey *k, int64_t ts, fw_str id,
                 uint32_t mask, const fw_dec *vals) {
    uint32_t max = st->rs->max_window_events ? st->rs->max_window_events : 1;
    if (k->n == max) {
        pop_oldest(st, k, t);
        k->overflow++;
        st->stats.overflow++;
    }
    if (k->n == k->cap && !ring_grow(k, t, max))
        return false;
    uint32_t i = (k->head + k->n) % k->cap;
    if (t->ranged) { /* in (time, id) order: a late event moves the newer ones up */
        uint32_t j = k->n;
        while (j > 0 && ev_after(&k->ev[(k->head + j - 1) % k->cap], ts, id)) {
            uint32_t from = (k->head + j - 1) % k->cap, to = (k->head + j) % k->cap;
            k->ev[to] = k->ev[from];
            memcpy(k->val + (size_t)to * t->naggs, k->val + (size_t)from * t->naggs,
                   t->naggs * sizeof(*k->val));
            j--;
        }
        i = (k->head + j) % k->cap;
    }
    uint64_t seq = k->seq_head + k->n;
    lev *e = &k->ev[i];
    e->ts = ts;
    e->mask = mask;
    e->idlen = (uint8_t)(id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX);
    if (e->idlen)
        memcpy(e->id, id.ptr, e->idlen);
    for (size_t a = 0; a < t->naggs; a++) {
        fw_dec d = vals[a];
        k->val[(size_t)i * t->naggs + a] = d;
        if (!(mask & (1u << a)) || t->score || t->ranged)
            continue;
        lrun *u = &k->run[a];
        u->cnt++;
        switch (t->agg[a]->fn) {
        case FW_LANG_MIN:
        case FW_LANG_MAX: {
            /* Drop from the back what this value outlives and beats. */
            uint64_t *q = k->dq + (size_t)t->slot[a] * k->cap;
            bool is_min = t->agg[a]->fn == FW_LANG_MIN;
            while (u->dq_n) {
                fw_dec back = val_of_seq(k, t->naggs, q[(u->dq_head + u->dq_n - 1) % k->cap], a);
                if (is_min ? back < d : back > d)
                    break;
                u->dq_n--;
            }
            q[(u->dq_head + u->dq_n) % k->cap] = seq;
            u->dq_n++;
            break;
        }
        case FW_LANG_COUNT_DISTINCT:
            set_add(k, u, (size_t)t->slot[a], (uint64_t)d);
            break;
        default:
            u->sum += d;
            u->sumsq += (i128)d * d;
        }
    }
    k->n++;
    st->stats.events++;
    return true;
}

static fw_xval num(fw_dec v) { return (fw_xval){ .type = FW_XT_NUM, .u.num = v }; }
static const fw_xval missing = { .type = FW_XT_MISSING };

static fw_xval of_i128(i128 v) {
    if (v > FW_DEC_MAX || v < FW_DEC_MIN)
        return missing; /* beyond what a decimal holds: no value rather than a wrong one */
    return num((fw_dec)v);
}

/* count, sum, avg, stddev from running totals @p u; min, max, count_distinct
 * need more than totals (result(), range_result()). */
static fw_xval run_result(fw_lang_fn fn, const lrun *u) {
    fw_dec d;
    switch (fn) {
    case FW_LANG_COUNT:
        return fw_dec_of_int(u->cnt, &d) ? num(d) : missing;
    case FW_LANG_SUM:
        return of_i128(u->sum);
    case FW_LANG_AVG: {
        if (!u->cnt)
            return missing;
        /* Half-even to four places, as fw_dec_div. */
        i128 q = u->sum / u->cnt, rem = u->sum % u->cnt;
        i128 twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > u->cnt || (twice == u->cnt && (q & 1)))
            q += u->sum < 0 ? -1 : 1;
        return of_i128(q);
    }
    case FW_LANG_STDDEV: {
        if (!u->cnt)
            return missing;
        /* Population standard deviation: sqrt(n*sumsq - sum^2) / n, in units. */
        i128 num2 = (i128)u->cnt * u->sumsq - u->sum * u->sum;
        double sd = sqrt((double)(num2 < 0 ? 0 : num2)) / (double)u->cnt;
        return num((fw_dec)llround(sd));
    }
    default:
        return missing;
    }
}

static fw_xval result(const ltab *t, const lkey *k, size_t a) {
    const lrun *u = &k->run[a];
    fw_dec d;
    switch (t->agg[a]->fn) {
    case FW_LANG_COUNT_DISTINCT:
        return fw_dec_of_int((int64_t)u->ndistinct, &d) ? num(d) : missing;
    case FW_LANG_MIN:
    case FW_LANG_MAX: {
        /* The deque's front is the window's extreme. */
        if (!u->dq_n)
            return missing;
        return num(val_of_seq(k, t->naggs, k->dq[(size_t)t->slot[a] * k->cap + u->dq_head], a));
    }
    default:
        return run_result(t->agg[a]->fn, u);
    }
}

/* ---- evaluation ---- */

/* Appends "field=value" for each key field; false when one is missing. */
static bool make_key(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx, size_t *len) {
    size_t o = 0;
    for (size_t g = 0; g < r->ngroup; g++) {
        fw_xval v = fw_expr_eval(r->group[g], ctx);
        char tmp[FW_DEC_STR_MAX];
        fw_str s;
        if (v.type == FW_XT_STR || v.type == FW_XT_ANY) {
            s = v.u.s;
        } else if (v.type == FW_XT_NUM) {
            s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
        } else {
            return false;
        }
        if (!s.ptr)
            return false;
        /* memcpy, not snprintf: this runs per transaction and group. */
        size_t nlen = strlen(r->group_src[g]), need = (g ? 1 : 0) + nlen + 1 + s.len;
        if (need >= sizeof(st->keybuf) - o)
            return false; /* longer than FW_LANG_MAX_KEY: treated as missing */
        if (g)
            st->keybuf[o++] = '\x1f';
        memcpy(st->keybuf + o, r->group_src[g], nlen);
        o += nlen;
        st->keybuf[o++] = '=';
        memcpy(st->keybuf + o, s.ptr, s.len);
        o += s.len;
        st->keybuf[o] = '\0';
    }
    *len = o;
    return true;
}

static void put(char *buf, size_t *o, const char *s, size_t n) {
    if (*o >= FW_LANG_REASON_MAX - 1)
        return;
    if (n > FW_LANG_REASON_MAX - 1 - *o)
        n = FW_LANG_REASON_MAX - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
}

static void put_val(char *buf, size_t *o, fw_xval v) {
    char tmp[64];
    int w = 0;
    switch (v.type) {
    case FW_XT_NUM:
        w = fw_dec_format(v.u.num, tmp, sizeof(tmp));
        break;
    case FW_XT_STR:
    case FW_XT_ANY:
        put(buf, o, v.u.s.ptr ? v.u.s.ptr : "", v.u.s.ptr ? v.u.s.len : 0);
        return;
    case FW_XT_BOOL:
        w = snprintf(tmp, sizeof(tmp), "%s", v.u.b ? "true" : "false");
        break;
    case FW_XT_DUR:
        w = fw_rules_duration_format(v.u.ms, tmp, sizeof(tmp));
        break;
    case FW_XT_TIME:
        w = snprintf(tmp, sizeof(tmp), "%" PRId64, v.u.ms);
        break;
    default:
        w = snprintf(tmp, sizeof(tmp), "(missing)");
    }
    put(buf, o, tmp, w > 0 && (size_t)w < sizeof(tmp) ? (size_t)w : 0);
}

static size_t render_reason(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx) {
    size_t o = 0;
    char dur[32];
    if (!r->reason) { /* default: the values, or the predicate */
        put(st->reason, &o, r->id, strlen(r->id));
        put(st->reason, &o, ": ", 2);
        if (r->kind == FW_LANG_FILTER) {
            put(st->reason, &o, r->when_src, strlen(r->when_src));
        } else if (r->kind == FW_LANG_SCORE) {
            for (size_t v = 0; v < 1 + r->nbands + r->naggs; v++) {
                if (v)
                    put(st->reason, &o, ", ", 2);
                put(st->reason, &o, st->values[v].name, strlen(st->values[v].name));
                put(st->reason, &o, "=", 1);
                put_val(st->reason, &o, st->values[v].value);
            }
            int w = fw_rules_duration_format(r->lookback_ms, dur, sizeof(dur));
            put(st->reason, &o, " within ", 8);
            put(st->reason, &o, dur, (size_t)w);
        } else {
            for (size_t a = 0; a < r->naggs; a++) {
                if (a)
                    put(st->reason, &o, ", ", 2);
                put(st->reason, &o, r->aggs[a].name, strlen(r->aggs[a].name));
                put(st->reason, &o, "=", 1);
                put_val(st->reason, &o, st->slots[a]);
            }
            int w = fw_rules_duration_format(r->lookback_ms, dur, sizeof(dur));
            put(st->reason, &o, " within ", 8);
            put(st->reason, &o, dur, (size_t)w);
        }
    }
    for (size_t i = 0; r->reason && i < r->ntpl; i++) {
        const fw_lang_tpl *t = &r->tpl[i];
        switch (t->kind) {
        case FW_TPL_TEXT:
            put(st->reason, &o, t->text, t->len);
            break;
        case FW_TPL_AGG:
            put_val(st->reason, &o, st->slots[t->index]);
            break;
        case FW_TPL_PARAM:
            put_val(st->reason, &o, r->params[t->index].value);
            break;
        case FW_TPL_LOOKBACK: {
            int w = fw_rules_duration_format(r->lookback_ms, dur, sizeof(dur));
            put(st->reason, &o, dur, (size_t)w);
            break;
        }
        case FW_TPL_FIELD:
            put_val(st->reason, &o, fw_expr_eval(t->field, ctx));
            break;
        case FW_TPL_VALUE:
            put_val(st->reason, &o, st->values[t->index].value);
            break;
        }
    }
    st->reason[o] = '\0';
    return o;
}

/* Appends @p v's text to the entity buffer at *o (truncating); false when missing. */
static bool put_entity(fw_lang_state *st, size_t *o, fw_xval v) {
    char tmp[FW_DEC_STR_MAX];
    fw_str s;
    if (v.type == FW_XT_STR || v.type == FW_XT_ANY)
        s = v.u.s;
    else if (v.type == FW_XT_NUM)
        s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
    else
        return false;
    if (!s.ptr) /* present even when empty, as the built-ins judge it */
        return false;
    size_t room = sizeof(st->entity) - 1 - *o;
    size_t n = s.len < room ? s.len : room;
    memcpy(st->entity + *o, s.ptr, n);
    *o += n;
    return true;
}

/* The rule's "entity": its type, and its id into st->entity. The alerting
 * transaction belongs to the key, so the group_by values are its own. */
static const char *entity_name(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx,
                               size_t *len) {
    size_t o = 0;
    if (!r->entity_is_array) {
        for (size_t g = 0; g < r->ngroup; g++) {
            if (g && o + 2 < sizeof(st->entity)) {
                memcpy(st->entity + o, "->", 2);
                o += 2;
            }
            (void)put_entity(st, &o, fw_expr_eval(r->group[g], ctx));
        }
        *len = o;
        return r->entity[0].type;
    }
    for (size_t j = 0; j < r->nentity; j++) {
        o = 0;
        if (put_entity(st, &o, fw_expr_eval(r->entity[j].id, ctx))) {
            *len = o;
            return r->entity[j].type;
        }
    }
    /* None present: the transaction names it, as a built-in's last resort. */
    *len = 0;
    (void)put_entity(st, len, (fw_xval){ .type = FW_XT_STR, .u.s = ctx->txn->transaction_id });
    return "transaction";
}

static void emit(fw_lang_state *st, const fw_lang_rule *r, lkey *k, size_t m,
                 const fw_expr_ctx *ctx, fw_lang_alert_fn fn, void *opaque, const lpm *pm,
                 const lrange *rg) {
    const fw_txn *t = ctx->txn;
    if (st->replay) /* the replayed past alerts nowhere: no callback, no dedupe stamp */
        return;
    if (k) {
        int64_t *last = &k->last[m];
        if (*last != INT64_MIN && llabs(t->ts_ms - *last) < st->rs->dedupe_window_ms) {
            st->stats.deduplicated++;
            return;
        }
        if (*last == INT64_MIN || t->ts_ms > *last)
            *last = t->ts_ms;
        mark(st, k);
    }
    size_t elen;
    const char *etype = "key";
    if (r->nentity) {
        etype = entity_name(st, r, ctx, &elen);
    } else if (k) {
        memcpy(st->entity, k->key, k->keylen);
        for (size_t i = 0; i < k->keylen; i++)
            if (st->entity[i] == '\x1f')
                st->entity[i] = ',';
        elen = k->keylen;
    } else {
        int w = snprintf(st->entity, sizeof(st->entity), "transaction_id=%.*s",
                         (int)t->transaction_id.len, t->transaction_id.ptr);
        elen = w < 0 ? 0 : (size_t)w < sizeof(st->entity) ? (size_t)w : sizeof(st->entity) - 1;
    }
    fw_lang_alert a = { .rule = r, .rc = &r->common, .entity_type = etype, .entity = { st->entity, elen },
                        .event_time = t->ts_ms,
                        .window_start = t->ts_ms, .window_end = t->ts_ms,
                        .values = st->values, .nvalues = r->naggs,
                        .evidence = st->evidence, .evidence_bound = FW_LANG_EVIDENCE_MAX,
                        .window_bound = st->rs->max_window_events, .txn = t };
    if (r->kind == FW_LANG_SCORE) { /* score_eval laid out the evidence and values */
        a.window_start = st->sc_start;
        a.window_end = st->sc_start + r->lookback_ms;
        a.window_overflow = k->overflow;
        a.nevidence = st->sc_nev;
        a.nvalues = 1 + r->nbands + r->naggs;
        a.rc = st->sc_rc;
    } else if (rg) { /* a ranged rule: its window, and every event of it, oldest first */
        a.window_start = rg->start;
        a.window_end = rg->end;
        a.window_overflow = k->overflow;
        a.evidence = st->evall;
        a.evidence_bound = st->rs->max_window_events;
        for (uint32_t j = rg->lo; j < rg->hi; j++) {
            const lev *e = &k->ev[(k->head + j) % k->cap];
            st->evall[a.nevidence++] = (fw_str){ e->id, e->idlen };
        }
    } else if (pm) { /* a sequence: the match's first transactions and the one completing it */
        a.window_start = pm->start;
        a.window_end = pm->start + r->lookback_ms;
        a.window_overflow = k->overflow;
        a.window_bound = FW_LANG_SEQ_MAX_PARTIALS;
        a.evidence_bound = FW_LANG_SEQ_EVIDENCE + 1;
        for (uint32_t j = 0; j < pm->nmatched && j < FW_LANG_SEQ_EVIDENCE; j++)
            st->evidence[a.nevidence++] = (fw_str){ pm->id[j], pm->idlen[j] };
        if (pm->nmatched > FW_LANG_SEQ_EVIDENCE) /* the completing one was not kept */
            st->evidence[a.nevidence++] = t->transaction_id;
    } else if (r->kind == FW_LANG_AGGREGATE && k) {
        a.window_start = t->ts_ms - r->lookback_ms;
        a.window_overflow = k->overflow;
        /* The newest FW_LANG_EVIDENCE_MAX events, oldest first. */
        uint32_t skip = k->n > FW_LANG_EVIDENCE_MAX ? k->n - FW_LANG_EVIDENCE_MAX : 0;
        for (uint32_t j = skip; j < k->n; j++) {
            const lev *e = &k->ev[(k->head + j) % k->cap];
            st->evidence[a.nevidence++] = (fw_str){ e->id, e->idlen };
        }
    } else {
        if (ctx->prev && r->kind == FW_LANG_FILTER) { /* the two records compared */
            st->evidence[a.nevidence++] = ctx->prev->transaction_id;
            a.window_start = ctx->prev->ts_ms;
            a.window_end = ctx->prev->ts_ms + r->prev_within_ms;
        }
        st->evidence[a.nevidence++] = t->transaction_id;
    }
    for (size_t i = 0; i < r->naggs && r->kind != FW_LANG_SCORE; i++)
        st->values[i] = (fw_lang_value){ .name = r->aggs[i].name, .value = st->slots[i] };
    size_t rl = render_reason(st, r, ctx);
    a.reason = (fw_str){ st->reason, rl };
    st->stats.alerts++;
    st->alerted[r - st->rs->rules] = st->record; /* for score rules' signal bands */
    fn(opaque, &a);
}

/* Rule @p r's group key for this transaction in st->keybuf, and its hash:
 * made once per transaction for all the rules grouped alike. */
static bool rule_key(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx,
                     size_t *len, uint64_t *h) {
    size_t c = st->key_class[r - st->rs->rules];
    if (c != st->kc_class) {
        st->kc_class = c;
        st->kc_ok = make_key(st, r, ctx, &st->kc_len);
        if (st->kc_ok)
            st->kc_hash = fw_hash64(st->keybuf, st->kc_len, KEY_SEED);
    }
    *len = st->kc_len;
    *h = st->kc_hash;
    return st->kc_ok;
}

/* The key in st->keybuf (rule_key), made when new. */
static lkey *key_get(fw_lang_state *st, size_t ri, size_t len, int64_t now) {
    uint64_t h = st->kc_hash;
    lkey *k = key_find(st, ri, st->keybuf, len, h);
    if (!k)
        k = key_add(st, ri, st->keybuf, len, h);
    if (k && now > k->used)
        k->used = now;
    return k;
}

/* The value aggregate @p g takes from this transaction (a count_distinct: the
 * value's hash); false when it does not count in it (its where, a missing value). */
static bool agg_value(const fw_lang_agg *g, const fw_expr_ctx *ctx, fw_dec *out) {
    *out = 0;
    if (g->where && !fw_expr_test(g->where, ctx))
        return false;
    if (!g->arg)
        return true;
    fw_xval v = fw_expr_eval(g->arg, ctx);
    if (g->fn == FW_LANG_COUNT_DISTINCT) {
        char tmp[FW_DEC_STR_MAX];
        fw_str s = v.u.s;
        if (v.type == FW_XT_NUM)
            s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
        else if ((v.type != FW_XT_STR && v.type != FW_XT_ANY) || !s.ptr)
            return false;
        *out = (fw_dec)fw_hash64(s.ptr, s.len, 0x64697374u);
        return true;
    }
    if (v.type == FW_XT_NUM) {
        *out = v.u.num;
        return true;
    }
    /* an extra field holding a number (the loader allows text only from one) */
    return (v.type == FW_XT_ANY || v.type == FW_XT_STR) && v.u.s.ptr &&
           fw_dec_parse(v.u.s.ptr, v.u.s.len, out) == FW_OK;
}

/* Counts the transaction in group @p gi's window when it has every key field
 * and passes where; sets t->cur to its key (NULL when it does not count). */
static void count_in_group(fw_lang_state *st, size_t gi, const fw_expr_ctx *ctx) {
    ltab *t = &st->tab[gi];
    const fw_lang_rule *r = t->lead;
    const fw_txn *txn = ctx->txn;
    size_t len = 0;
    lkey *k;
    t->cur = NULL;
    uint64_t h;
    /* where first: it is cheaper than building the key, and most transactions fail it */
    if (r->kind != FW_LANG_AGGREGATE || (r->where && !fw_expr_test(r->where, ctx)) ||
        !rule_key(st, r, ctx, &len, &h))
        return;
    fw_dec vals[GROUP_MAX_AGGS];
    uint32_t mask = 0;
    for (size_t a = 0; a < t->naggs; a++)
        if (agg_value(t->agg[a], ctx, &vals[a]))
            mask |= 1u << a;
    if (!(k = key_get(st, gi, len, txn->ts_ms)))
        return;
    mark(st, k);
    evict_before(st, k, txn->ts_ms - t->keep_ms, t);
    if (t->ranged && k->n >= (st->rs->max_window_events ? st->rs->max_window_events : 1)) {
        /* Full: a ranged part keeps the events it has and drops this one
         * (counted), as the built-ins' windows do, so its windows still
         * name the same transactions; it is still evaluated. */
        k->overflow++;
        st->stats.overflow++;
        t->cur = k;
        return;
    }
    if (push(st, t, k, txn->ts_ms, txn->transaction_id, mask, vals))
        t->cur = k;
}

/* ---- history: prev. and is_new ---- */

static bool has_history(const fw_lang_rule *r) { return r->prev_fields || r->nseen; }

static fw_str txn_cstr(const fw_txn *t, int pf) {
    return *(const fw_str *)((const char *)t + pf_field[pf].off);
}

/* Evaluates @p e with is_new reading its own call sites. */
static bool xtest(fw_lang_state *st, const fw_expr *e, const fw_expr_ctx *ctx) {
    st->cur_expr = e;
    bool r = fw_expr_test(e, ctx);
    st->cur_expr = NULL;
    return r;
}

/* The key's previous transaction as the evaluator reads it; NULL when there
 * is none, it is older than prev_within, or this record is behind the
 * watermark (its place in order has passed). */
static const fw_txn *prev_view(fw_lang_state *st, const fw_lang_rule *r, const ltab *tb,
                               const lkey *k, const fw_txn *t) {
    const lprev *p = k->prev;
    if (!r->prev_fields || !p || st->behind || t->ts_ms - p->ts > r->prev_within_ms)
        return NULL;
    fw_txn *v = &st->prevtxn;
    v->ts_ms = p->ts;
    v->amount = p->amount;
    v->lat = p->lat;
    v->lon = p->lon;
    v->has = p->has;
    v->type = (fw_txn_type)p->type;
    size_t off = 0;
    for (uint8_t i = 0; i < tb->npf; i++) { /* the fields the rule reads: it reads no other */
        int f = tb->pf[i];
        fw_str *s = txn_str(v, f);
        *s = p->len[f] < 0 ? FW_STR_NULL : (fw_str){ p->buf + off, (size_t)p->len[f] };
        off += p->len[f] < 0 ? 0 : (size_t)p->len[f];
    }
    return v;
}

/* Copies what the rule reads of @p t (and its id, for evidence) into the
 * key's lprev; its buffer grows to the longest record and is then reused. */
static bool prev_keep(const ltab *tb, lkey *k, const fw_txn *t) {
    lprev *p = k->prev;
    if (!p) {
        if (!(p = k->prev_mem ? k->prev_mem : calloc(1, sizeof(*p))))
            return false;
        memset(p, 0, sizeof(*p));
        k->prev = p;
        if (p == k->prev_mem) {
            p->buf = prev_inline(k);
            p->cap = PREV_INLINE;
        }
        for (int f = 0; f < PF_N; f++)
            p->len[f] = -1; /* a field the rule does not read stays absent */
    }
    size_t need = 0;
    int32_t len[PF_N];
    for (uint8_t i = 0; i < tb->npf; i++) {
        int f = tb->pf[i];
        fw_str s = txn_cstr(t, f);
        len[f] = s.ptr && s.len < INT32_MAX ? (int32_t)s.len : -1;
        need += len[f] > 0 ? (size_t)len[f] : 0;
    }
    if (!p->buf || need > p->cap) {
        size_t cap = p->cap * 2 > need ? p->cap * 2 : need < 32 ? 32 : need;
        /* The text is copied afresh below: the old bytes need not move. */
        char *nb = p->buf == prev_inline(k) ? malloc(cap) : realloc(p->buf, cap);
        if (!nb)
            return false;
        p->buf = nb;
        p->cap = (uint32_t)cap;
    }
    size_t off = 0;
    for (uint8_t i = 0; i < tb->npf; i++) { /* in PF_* order: prev_view reads them so */
        int f = tb->pf[i];
        p->len[f] = len[f];
        if (len[f] > 0) {
            memcpy(p->buf + off, txn_cstr(t, f).ptr, (size_t)len[f]);
            off += (size_t)len[f];
        }
    }
    p->ts = t->ts_ms;
    p->amount = t->amount;
    p->lat = t->lat;
    p->lon = t->lon;
    p->has = t->has;
    p->type = (uint8_t)t->type;
    return true;
}

static uint64_t seen_hash(int field, fw_str v) {
    return fw_hash64(v.ptr, v.len, 0x6e657700u + (uint64_t)(int64_t)field) | 1; /* never 0 */
}

static lseen *seen_find(const lkey *k, uint64_t h) {
    if (!k->seencap)
        return NULL;
    uint32_t mask = k->seencap - 1, i = (uint32_t)h & mask;
    for (; k->seen[i].h; i = (i + 1) & mask)
        if (k->seen[i].h == h)
            return &k->seen[i];
    return NULL;
}

/* Deletes slot @p i by backward shift (no tombstones). */
static void seen_del(lkey *k, uint32_t i) {
    lseen *t = k->seen;
    uint32_t mask = k->seencap - 1;
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        if (!t[j].h)
            break;
        uint32_t home = (uint32_t)t[j].h & mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        t[i] = t[j];
        i = j;
    }
    t[i] = (lseen){ 0, 0 };
    k->nseen--;
}

/* Forgets values last seen before @p before. @returns how many. */
static uint32_t seen_purge(lkey *k, int64_t before) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < k->seencap; i++)
        while (k->seen[i].h && k->seen[i].last < before) { /* the shift refills slot i */
            seen_del(k, i);
            n++;
        }
    return n;
}

static void seen_put(lseen *t, uint32_t cap, lseen e) {
    uint32_t i = (uint32_t)e.h & (cap - 1);
    while (t[i].h)
        i = (i + 1) & (cap - 1);
    t[i] = e;
}

/* Remembers that the key had @p h at @p ts. At max_window_events values the
 * expired go first, then the least recently seen (counted as overflow). */
static void seen_add(fw_lang_state *st, const fw_lang_rule *r, lkey *k, uint64_t h, int64_t ts) {
    lseen *e = seen_find(k, h);
    if (e) {
        if (ts > e->last)
            e->last = ts;
        return;
    }
    uint32_t max = st->rs->max_window_events ? st->rs->max_window_events : 1;
    if (k->nseen >= max)
        seen_purge(k, ts - r->seen_keep_ms);
    if (k->nseen >= max) {
        uint32_t old = 0;
        for (uint32_t i = 0; i < k->seencap; i++)
            if (k->seen[i].h && (!k->seen[old].h || k->seen[i].last < k->seen[old].last))
                old = i;
        seen_del(k, old);
        k->overflow++;
        st->stats.overflow++;
    }
    if ((k->nseen + 1u) * 2 > k->seencap) {
        uint32_t cap = k->seencap ? k->seencap * 2 : 8;
        lseen *nt = calloc(cap, sizeof(*nt));
        if (!nt)
            return;
        for (uint32_t i = 0; i < k->seencap; i++)
            if (k->seen[i].h)
                seen_put(nt, cap, k->seen[i]);
        free(k->seen);
        k->seen = nt;
        k->seencap = cap;
    }
    seen_put(k->seen, k->seencap, (lseen){ h, ts });
    k->nseen++;
}

/* The text is_new asks about for field @p f (a field index, or -2 - slot). */
static fw_str seen_value(const fw_lang_state *st, int f, const fw_expr_ctx *ctx) {
    const fw_txn *t = ctx->txn;
    if (f < 0) {
        size_t slot = (size_t)(-2 - f);
        return slot < ctx->nextra ? ctx->extra[slot] : FW_STR_NULL;
    }
    for (int p = 0; p < PF_N; p++) {
        if (st->pf_bit[p] != f)
            continue;
        if (p == 5 && t->type != FW_TXN_TYPE_OTHER) /* type: its name, as the evaluator reads it */
            return t->type == FW_TXN_TYPE_NONE ? FW_STR_NULL : fw_str_c(fw_txn_type_name(t->type));
        return txn_cstr(t, p);
    }
    return FW_STR_NULL;
}

/* After the rule has judged the record: it becomes the key's prev, and its
 * values are seen now. Records behind the watermark change nothing. */
static void hist_update(fw_lang_state *st, const fw_lang_rule *r, lkey *k,
                        const fw_expr_ctx *ctx) {
    const fw_txn *t = ctx->txn;
    if (st->behind)
        return;
    if (r->prev_fields)
        (void)prev_keep(&st->tab[st->group_of[r - st->rs->rules]], k, t);
    for (size_t i = 0; i < r->nseen; i++) {
        fw_str v = seen_value(st, r->seen_field[i], ctx);
        if (v.ptr)
            seen_add(st, r, k, seen_hash(r->seen_field[i], v), t->ts_ms);
    }
    mark(st, k);
}

static int is_new_hook(void *ud, int site, fw_str value, int64_t lookback_ms) {
    fw_lang_state *st = ud;
    if (!st->cur_expr || !st->hist)
        return -1;
    fw_expr_is_new_site s;
    fw_expr_is_new_get(st->cur_expr, (size_t)site, &s);
    const lseen *e = seen_find(st->hist, seen_hash(s.field >= 0 ? s.field : -2 - s.extra_slot, value));
    /* Seen at exactly lookback before counts as seen, as a window's bound does. */
    return !e || st->prevtxn_now - e->last > lookback_ms;
}

/* ---- sequences ---- */

static uint32_t seq_bound(const fw_lang_state *st) {
    uint32_t b = st->rs->max_window_events;
    return b && b < FW_LANG_SEQ_MAX_PARTIALS ? b : FW_LANG_SEQ_MAX_PARTIALS;
}

/* Drops the partial matches that can no longer end before start + within:
 * those with start <= now - within. @returns how many. */
static uint32_t seq_expire(lkey *k, int64_t now, int64_t within) {
    uint32_t j = 0;
    while (j < k->npm && now - k->pm[j].start >= within)
        j++;
    if (j) {
        memmove(k->pm, k->pm + j, (k->npm - j) * sizeof(*k->pm));
        k->npm -= j;
    }
    return j;
}

static void pm_note(lpm *p, fw_str id) {
    if (p->nmatched < FW_LANG_SEQ_EVIDENCE) {
        size_t n = id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX;
        memcpy(p->id[p->nmatched], id.ptr, n);
        p->idlen[p->nmatched] = (uint8_t)n;
    }
    p->nmatched++;
}

static bool pm_complete(const fw_lang_rule *r, const lpm *p) {
    return p->step + 1u == r->nsteps && p->cnt == r->steps[p->step].times;
}

/* One transaction of a sequence rule's key (docs/rule-language.md#sequence-rules):
 * expire, advance every partial match oldest first (a strict step or a
 * repetition not matched kills it), start one when the first step matches;
 * the oldest completed match alerts and consumes every partial match of the
 * key (skip past the last event). Allocates only to grow a key's array. */
static void seq_eval(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                     void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    const fw_txn *t = ctx->txn;
    size_t gi = st->group_of[ri], len = 0;
    bool hist = has_history(r);
    uint64_t h;
    if (st->behind || !rule_key(st, r, ctx, &len, &h))
        return; /* in event-time order only, as the built-ins' sequences */
    lkey *k = key_find(st, gi, st->keybuf, len, h);
    if (hist && !k && !(k = key_add(st, gi, st->keybuf, len, h)))
        return; /* prev and is_new remember every transaction of the key */
    if (k && t->ts_ms > k->used)
        k->used = t->ts_ms;
    if (hist) {
        ctx->prev = prev_view(st, r, &st->tab[gi], k, t);
        st->hist = k;
    }
    /* A transaction failing `where` is invisible: it neither matches nor breaks. */
    bool visible = !r->where || xtest(st, r->where, ctx);
    bool first = visible && xtest(st, r->steps[0].pred, ctx);
    if (!k && !first)
        return; /* nothing to advance, nothing to start: no key made */
    if (!k && !(k = key_add(st, gi, st->keybuf, len, h)))
        return;
    if (t->ts_ms > k->used)
        k->used = t->ts_ms;
    mark(st, k);
    int done = -1;
    if (!visible)
        goto out;
    seq_expire(k, t->ts_ms, r->lookback_ms);
    uint32_t keep = 0;
    for (uint32_t j = 0; j < k->npm; j++) {
        lpm *p = &k->pm[j];
        const fw_lang_step *cur = &r->steps[p->step];
        bool matched = false, alive = true;
        if (p->cnt < cur->times) { /* a repetition is strict */
            if ((alive = matched = xtest(st, cur->pred, ctx)))
                p->cnt++;
        } else if (xtest(st, r->steps[p->step + 1].pred, ctx)) {
            p->step++;
            p->cnt = 1;
            matched = true;
        } else { /* relaxed: skipped; strict: the very next one did not match */
            alive = r->steps[p->step + 1].contig == FW_LANG_FOLLOWED_BY;
        }
        if (!alive)
            continue;
        if (matched) {
            pm_note(p, t->transaction_id);
            if (pm_complete(r, p)) {
                if (done < 0) {
                    st->done = *p;
                    done = 1;
                }
                if (r->no_skip)
                    continue; /* a match consumes itself only */
            }
        }
        k->pm[keep++] = *p;
    }
    k->npm = keep;
    if ((done < 0 || r->no_skip) && first) {
        lpm p = { .start = t->ts_ms, .step = 0, .cnt = 1 };
        pm_note(&p, t->transaction_id);
        if (pm_complete(r, &p)) {
            if (done < 0) {
                st->done = p;
                done = 1;
            }
        } else {
            uint32_t bound = seq_bound(st);
            if (k->npm == bound) { /* full: the oldest goes, counted */
                memmove(k->pm, k->pm + 1, (k->npm - 1) * sizeof(*k->pm));
                k->npm--;
                k->overflow++;
                st->stats.overflow++;
            }
            if (k->npm == k->pmcap) {
                uint32_t cap = k->pmcap ? (k->pmcap * 2 > bound ? bound : k->pmcap * 2) : 2;
                lpm *np = realloc(k->pm, cap * sizeof(*np));
                if (!np)
                    goto out;
                k->pm = np;
                k->pmcap = cap;
            }
            k->pm[k->npm++] = p;
        }
    }
    if (done >= 0) {
        if (!r->no_skip)
            k->npm = 0; /* a match consumes every partial match of its key */
        ctx->slots = NULL;
        ctx->nslots = 0;
        emit(st, r, k, st->member_of[ri], ctx, fn, opaque, &st->done, NULL);
    }
out:
    if (hist)
        hist_update(st, r, k, ctx);
    ctx->prev = NULL;
    st->hist = NULL;
}

/* A filter reading prev. or is_new: the key first (its history), then when. */
static void filter_hist(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                        void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t len = 0;
    lkey *k;
    uint64_t h;
    if (!rule_key(st, r, ctx, &len, &h) ||
        !(k = key_get(st, st->group_of[ri], len, ctx->txn->ts_ms)))
        return;
    ctx->prev = prev_view(st, r, &st->tab[st->group_of[ri]], k, ctx->txn);
    st->hist = k;
    if (xtest(st, r->when, ctx))
        emit(st, r, k, st->member_of[ri], ctx, fn, opaque, NULL, NULL);
    hist_update(st, r, k, ctx);
    ctx->prev = NULL;
    st->hist = NULL;
}

/* ---- ranged rules: aligned windows, consume ---- */

static const lev *ev_at(const lkey *k, uint32_t j) { return &k->ev[(k->head + j) % k->cap]; }

/* The first event at or after @p ts (@p after: after it), by binary search. */
static uint32_t ev_find(const lkey *k, int64_t ts, bool after) {
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t e = ev_at(k, mid)->ts;
        if (after ? e <= ts : e < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds (@p sign 1) or removes (-1) event @p j in the subtractable columns
 * [from, to) of @p acc: count, sum, avg, stddev. */
static void acc_event(const ltab *t, const lkey *k, uint32_t j, lrun *acc, size_t from,
                      size_t to, int sign) {
    uint32_t i = (k->head + j) % k->cap;
    for (size_t a = from; a < to; a++) {
        fw_lang_fn fn = t->agg[a]->fn;
        if (!(k->ev[i].mask & (1u << a)) || fn == FW_LANG_MIN || fn == FW_LANG_MAX ||
            fn == FW_LANG_COUNT_DISTINCT)
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        acc[a].cnt += sign;
        acc[a].sum += sign * (i128)d;
        acc[a].sumsq += sign * (i128)d * d;
    }
}

/* Column @p a over events [lo, hi): the running @p u for the subtractable
 * functions, a scan for min, max and count_distinct. */
static fw_xval range_result(fw_lang_state *st, const ltab *t, const lkey *k, uint32_t lo,
                            uint32_t hi, size_t a, const lrun *u) {
    fw_lang_fn fn = t->agg[a]->fn;
    if (fn != FW_LANG_MIN && fn != FW_LANG_MAX && fn != FW_LANG_COUNT_DISTINCT)
        return run_result(fn, u);
    bool any = false;
    fw_dec best = 0;
    uint64_t distinct = 0;
    if (fn == FW_LANG_COUNT_DISTINCT && ++st->cd_gen == 0) { /* wrapped: start clean */
        memset(st->cd, 0, ((size_t)st->cd_mask + 1) * sizeof(*st->cd));
        st->cd_gen = 1;
    }
    for (uint32_t j = lo; j < hi; j++) {
        uint32_t i = (k->head + j) % k->cap;
        if (!(k->ev[i].mask & (1u << a)))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        if (fn == FW_LANG_COUNT_DISTINCT) {
            uint64_t h = (uint64_t)d | 1;
            uint32_t p = (uint32_t)h & st->cd_mask;
            while (st->cd[p].gen == st->cd_gen && st->cd[p].h != h)
                p = (p + 1) & st->cd_mask;
            if (st->cd[p].gen != st->cd_gen) {
                st->cd[p] = (lcd){ h, st->cd_gen };
                distinct++;
            }
        } else if (!any || (fn == FW_LANG_MIN ? d < best : d > best)) {
            best = d;
            any = true;
        }
    }
    fw_dec v;
    if (fn == FW_LANG_COUNT_DISTINCT)
        return fw_dec_of_int((int64_t)distinct, &v) ? num(v) : missing;
    return any ? num(best) : missing;
}

/* The rule's having over events [lo, hi) with totals @p acc. */
static bool range_having(fw_lang_state *st, const ltab *t, const lkey *k, size_t ri,
                         const lrange *rg, const lrun *acc, fw_expr_ctx *ctx) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t base = t->base[st->member_of[ri]];
    for (size_t a = 0; a < r->naggs; a++)
        st->slots[a] = range_result(st, t, k, rg->lo, rg->hi, base + a, &acc[base + a]);
    ctx->slots = st->slots;
    ctx->nslots = r->naggs;
    return fw_expr_test(r->having, ctx);
}

/* Drops events [lo, hi) of @p k: what a consuming rule reported. */
static void cut(fw_lang_state *st, lkey *k, const ltab *t, uint32_t lo, uint32_t hi) {
    uint32_t gone = hi - lo;
    for (uint32_t j = hi; j < k->n; j++) {
        uint32_t from = (k->head + j) % k->cap, to = (k->head + j - gone) % k->cap;
        k->ev[to] = k->ev[from];
        memcpy(k->val + (size_t)to * t->naggs, k->val + (size_t)from * t->naggs,
               t->naggs * sizeof(*k->val));
    }
    k->n -= gone;
    st->stats.events -= gone;
}

/* A ranged rule on the transaction just counted in key @p k
 * (docs/rule-language.md#windows-and-consume): with "window", the aligned
 * windows holding t, earliest first, until one satisfies having; with a
 * lookback, [t - lookback, t]. The range that alerts is the alert's window
 * and evidence; a consuming rule then drops its events, deduplicated or not. */
static void ranged_eval(fw_lang_state *st, size_t ri, lkey *k, fw_expr_ctx *ctx,
                        fw_lang_alert_fn fn, void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    const ltab *t = &st->tab[st->group_of[ri]];
    size_t base = t->base[st->member_of[ri]];
    int64_t ts = ctx->txn->ts_ms;
    lrun acc[GROUP_MAX_AGGS];
    lrange rg;
    bool hit = false;
    memset(acc + base, 0, r->naggs * sizeof(*acc));
    if (r->window_ms) {
        int64_t s = r->slide_ms, last = ts / s * s - (ts % s < 0 ? s : 0);
        int64_t first = last - r->window_ms + s;
        uint32_t lo = ev_find(k, first, false), hi = lo;
        for (int64_t start = first; start <= last && !hit; start += s) {
            uint32_t nhi = ev_find(k, start + r->window_ms, false);
            uint32_t nlo = ev_find(k, start, false);
            for (; hi < nhi; hi++)
                acc_event(t, k, hi, acc, base, base + r->naggs, 1);
            for (; lo < nlo; lo++)
                acc_event(t, k, lo, acc, base, base + r->naggs, -1);
            rg = (lrange){ start, start + r->window_ms, lo, hi };
            hit = range_having(st, t, k, ri, &rg, acc, ctx);
        }
    } else {
        rg = (lrange){ ts - r->lookback_ms, ts, ev_find(k, ts - r->lookback_ms, false),
                       ev_find(k, ts, true) };
        for (uint32_t j = rg.lo; j < rg.hi; j++)
            acc_event(t, k, j, acc, base, base + r->naggs, 1);
        hit = range_having(st, t, k, ri, &rg, acc, ctx);
    }
    if (!hit)
        return;
    emit(st, r, k, st->member_of[ri], ctx, fn, opaque, NULL, &rg);
    if (r->consume && !st->replay) { /* no alert, so nothing consumed */
        cut(st, k, t, rg.lo, rg.hi);
        mark(st, k);
    }
}

/* ---- scores ---- */

/* Forgets everything a score key holds: after its memory of quiet the key
 * starts afresh, as a built-in entity idle past its horizon does. */
static void score_reset(fw_lang_state *st, const ltab *t, lkey *k) {
    while (k->n)
        pop_oldest(st, k, t);
    k->avg_sum = 0;
    k->avg_n = 0;
    k->episode = false;
    for (size_t m = 0; m < t->nmember; m++)
        k->last[m] = INT64_MIN;
}

/* Appends an event and moves it back to its place in time order (arrivals
 * out of order within the allowed lateness); equal times keep arrival order. */
static bool score_push(fw_lang_state *st, const ltab *t, lkey *k, int64_t ts, fw_str id,
                       uint32_t mask, const fw_dec *vals) {
    if (!push(st, t, k, ts, id, mask, vals))
        return false;
    size_t na = t->naggs;
    for (uint32_t j = k->n - 1; j > 0; j--) {
        uint32_t i = (k->head + j) % k->cap, p = (k->head + j - 1) % k->cap;
        if (k->ev[p].ts <= k->ev[i].ts)
            break;
        lev e = k->ev[p];
        k->ev[p] = k->ev[i];
        k->ev[i] = e;
        for (size_t a = 0; a < na; a++) {
            fw_dec d = k->val[(size_t)p * na + a];
            k->val[(size_t)p * na + a] = k->val[(size_t)i * na + a];
            k->val[(size_t)i * na + a] = d;
        }
    }
    return true;
}

/* The first event (by position from the oldest) at or after @p ts. */
static uint32_t score_find(const lkey *k, int64_t ts) {
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (k->ev[(k->head + mid) % k->cap].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Aggregate @p a over events [lo, hi) by a scan: windows slide, so a score
 * keeps no running totals. count_distinct uses the state's scratch set. */
static fw_xval score_agg(fw_lang_state *st, const ltab *t, const lkey *k, size_t a, uint32_t lo,
                         uint32_t hi) {
    const fw_lang_agg *g = t->agg[a];
    uint32_t bit = 1u << (16 + a);
    int64_t cnt = 0;
    i128 sum = 0, sumsq = 0;
    fw_dec ext = 0;
    size_t cap = 16, mask;
    if (g->fn == FW_LANG_COUNT_DISTINCT) {
        while (cap < 2 * (size_t)(hi - lo))
            cap *= 2;
        if (cap > st->scratch_cap) {
            uint64_t *p = realloc(st->scratch, cap * sizeof(*p));
            if (!p)
                return missing;
            st->scratch = p;
            st->scratch_cap = cap;
        }
        memset(st->scratch, 0, cap * sizeof(*st->scratch));
    }
    mask = cap - 1;
    for (uint32_t j = lo; j < hi; j++) {
        uint32_t i = (k->head + j) % k->cap;
        if (!(k->ev[i].mask & bit))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        if (g->fn == FW_LANG_COUNT_DISTINCT) {
            uint64_t h = (uint64_t)d | 1;
            size_t s = (size_t)h & mask;
            while (st->scratch[s] && st->scratch[s] != h)
                s = (s + 1) & mask;
            if (!st->scratch[s]) {
                st->scratch[s] = h;
                cnt++;
            }
            continue;
        }
        if (!cnt || (g->fn == FW_LANG_MIN ? d < ext : d > ext))
            ext = d;
        cnt++;
        sum += d;
        sumsq += (i128)d * d;
    }
    fw_dec d;
    switch (g->fn) {
    case FW_LANG_COUNT:
    case FW_LANG_COUNT_DISTINCT:
        return fw_dec_of_int(cnt, &d) ? num(d) : missing;
    case FW_LANG_SUM:
        return of_i128(sum);
    case FW_LANG_MIN:
    case FW_LANG_MAX:
        return cnt ? num(ext) : missing;
    case FW_LANG_AVG: {
        if (!cnt)
            return missing;
        i128 q = sum / cnt, rem = sum % cnt, twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > cnt || (twice == cnt && (q & 1)))
            q += sum < 0 ? -1 : 1;
        return of_i128(q);
    }
    case FW_LANG_STDDEV: {
        if (!cnt)
            return missing;
        i128 num2 = (i128)cnt * sumsq - sum * sum;
        return num((fw_dec)llround(sqrt((double)(num2 < 0 ? 0 : num2)) / (double)cnt));
    }
    }
    return missing;
}

typedef struct score_pts {
    fw_dec points[FW_LANG_MAX_BANDS]; /* each band's points, this transaction */
    i128 if_max;                      /* what the `if` bands can add at most */
    bool if_neg;                      /* an `if` band takes points away: always evaluated */
} score_pts;

/* Adds (@p d 1) or removes (-1) event @p j's `each` bands to @p cnt. */
static inline void score_count(const lkey *k, uint32_t j, int64_t *cnt, int d) {
    for (uint32_t m = k->ev[(k->head + j) % k->cap].mask & 0xffffu; m; m &= m - 1)
        cnt[__builtin_ctz(m)] += d;
}

/* The score of the window holding events [lo, hi), whose `each` bands matched
 * @p cnt times, into *score; with @p full, the alert's values too (score,
 * each band's points, the aggregates). The `if` bands are evaluated only when
 * they can decide (@p full: always). */
static void score_window(fw_lang_state *st, const fw_lang_rule *r, const ltab *t, const lkey *k,
                         fw_expr_ctx *ctx, const score_pts *sp, uint32_t lo, uint32_t hi,
                         const int64_t *cnt, fw_dec alert_at, bool full, i128 *score) {
    i128 sc = 0, each[FW_LANG_MAX_BANDS];
    for (size_t b = 0; b < r->nbands; b++)
        if (r->bands[b].each)
            sc += (each[b] = (i128)sp->points[b] * cnt[b]);
    bool need = full || sp->if_neg || (sc < alert_at && sc + sp->if_max >= alert_at);
    if (need && r->naggs) {
        for (size_t a = 0; a < r->naggs; a++)
            st->slots[a] = score_agg(st, t, k, a, lo, hi);
        ctx->slots = st->slots;
        ctx->nslots = r->naggs;
    }
    for (size_t b = 0; b < r->nbands; b++) {
        if (r->bands[b].each)
            continue;
        each[b] = need && fw_expr_test(r->bands[b].pred, ctx) ? sp->points[b] : 0;
        sc += each[b];
    }
    *score = sc;
    if (!full)
        return;
    st->values[0] = (fw_lang_value){ .name = "score", .value = of_i128(sc) };
    for (size_t b = 0; b < r->nbands; b++)
        st->values[1 + b] = (fw_lang_value){ .name = r->bands[b].name, .value = of_i128(each[b]) };
    for (size_t a = 0; a < r->naggs; a++)
        st->values[1 + r->nbands + a] = (fw_lang_value){ .name = r->aggs[a].name,
                                                         .value = st->slots[a] };
}

/* One transaction of a score rule's key (docs/rule-language.md#score-rules):
 * forget a key quiet past its memory; judge the transaction's `each` bands
 * against the average of the key's earlier ones (avg_before); keep it, in
 * time order, for window + allowed lateness; then score every aligned window
 * holding it, earliest first, and alert on the first reaching alert_at (once
 * per episode when `episodes`). Allocates only for a new key or a ring or
 * scratch set reaching a size not reached before. */
static void score_eval(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                       void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t gi = st->group_of[ri], len = 0;
    ltab *t = &st->tab[gi];
    const fw_txn *txn = ctx->txn;
    int64_t ts = txn->ts_ms;
    uint64_t h;
    if (!rule_key(st, r, ctx, &len, &h))
        return;
    lkey *k = key_find(st, gi, st->keybuf, len, h);
    if (k && k->sc_seen != INT64_MIN && ts - k->sc_seen > r->memory_ms + st->rs->dedupe_window_ms) {
        score_reset(st, t, k);
        mark(st, k);
    }
    if (r->where && !fw_expr_test(r->where, ctx)) {
        if (k && ts > k->sc_seen) { /* seen all the same: it keeps the memory alive */
            k->sc_seen = ts;
            mark(st, k);
        }
        return;
    }
    if (!k && !(k = key_add(st, gi, st->keybuf, len, h)))
        return;
    mark(st, k);
    if (ts > k->sc_seen)
        k->sc_seen = ts;
    /* The `each` bands, with avg_before: the key's earlier transactions only. */
    fw_xval avg = missing;
    if (r->avg && k->avg_n) {
        i128 q, rem;
        if (k->avg_sum >= INT64_MIN && k->avg_sum <= INT64_MAX) { /* usual sums: 64-bit division */
            int64_t sum = (int64_t)k->avg_sum;
            q = sum / k->avg_n;
            rem = sum % k->avg_n;
        } else {
            q = k->avg_sum / k->avg_n;
            rem = k->avg_sum % k->avg_n;
        }
        i128 twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > k->avg_n || (twice == k->avg_n && (q & 1)))
            q += k->avg_sum < 0 ? -1 : 1;
        avg = of_i128(q);
    }
    ctx->slots = &avg;
    ctx->nslots = 1;
    uint32_t mask = 0;
    for (size_t b = 0; b < r->nbands; b++) {
        const fw_lang_band *bd = &r->bands[b];
        if (bd->signal >= 0 ? st->alerted[bd->signal] == st->record
                            : bd->each && fw_expr_test(bd->pred, ctx))
            mask |= 1u << b;
    }
    ctx->slots = NULL;
    ctx->nslots = 0;
    fw_dec vals[FW_LANG_MAX_AGGS];
    for (size_t a = 0; a < r->naggs; a++)
        if (agg_value(&r->aggs[a], ctx, &vals[a]))
            mask |= 1u << (16 + a);
    if (r->avg) {
        fw_xval v = fw_expr_eval(r->avg, ctx);
        if (v.type == FW_XT_NUM) {
            k->avg_sum += v.u.num;
            k->avg_n++;
        }
    }
    evict_before(st, k, ts - r->lookback_ms - st->rs->allowed_lateness_ms, t);
    if (!score_push(st, t, k, ts, txn->transaction_id, mask, vals))
        return;
    score_pts sp = { .if_max = 0 };
    for (size_t b = 0; b < r->nbands; b++) {
        fw_xval p = fw_expr_eval(r->bands[b].points, ctx);
        sp.points[b] = p.type == FW_XT_NUM ? p.u.num : 0;
        if (!r->bands[b].each) {
            sp.if_neg = sp.if_neg || sp.points[b] < 0;
            sp.if_max += sp.points[b] > 0 ? sp.points[b] : 0;
        }
    }
    fw_xval at = fw_expr_eval(r->alert_at, ctx);
    if (at.type != FW_XT_NUM)
        return; /* no threshold: nothing can reach it */
    int64_t last_start = ts / r->slide_ms * r->slide_ms;
    if (ts % r->slide_ms < 0)
        last_start -= r->slide_ms;
    /* The windows holding it, earliest first, by two pointers: each event
     * enters and leaves the running counts once. */
    int64_t hit = INT64_MIN, first = last_start - r->lookback_ms + r->slide_ms;
    int64_t cnt[FW_LANG_MAX_BANDS] = { 0 };
    uint32_t lo = score_find(k, first), hi = lo;
    /* A bound first: no window holds more of an `each` band than the events
     * of them all do, so when those (at points >= 0) and every `if` band
     * together stay below alert_at, none can reach it, and the windows are
     * not visited. Most transactions of most keys end here. */
    bool can = sp.if_neg;
    if (!can) {
        int64_t tot[FW_LANG_MAX_BANDS] = { 0 };
        int64_t end = last_start + r->lookback_ms;
        for (uint32_t j = lo; j < k->n && k->ev[(k->head + j) % k->cap].ts < end; j++)
            score_count(k, j, tot, 1);
        i128 most = sp.if_max;
        for (size_t b = 0; b < r->nbands && !can; b++)
            if (r->bands[b].each) {
                can = sp.points[b] < 0;
                most += (i128)sp.points[b] * tot[b];
            }
        can = can || most >= at.u.num;
    }
    for (int64_t start = first; can && start <= last_start; start += r->slide_ms) {
        i128 sc;
        while (hi < k->n && k->ev[(k->head + hi) % k->cap].ts < start + r->lookback_ms)
            score_count(k, hi++, cnt, 1);
        while (lo < hi && k->ev[(k->head + lo) % k->cap].ts < start)
            score_count(k, lo++, cnt, -1);
        if (start + r->lookback_ms <= ts)
            continue;
        /* The `each` bands first, here: score_window only when the `if`
         * bands can decide (as it would find itself). */
        sc = 0;
        for (size_t b = 0; b < r->nbands; b++)
            if (r->bands[b].each)
                sc += (i128)sp.points[b] * cnt[b];
        if (sp.if_neg || (sc < at.u.num && sc + sp.if_max >= at.u.num))
            score_window(st, r, t, k, ctx, &sp, lo, hi, cnt, at.u.num, false, &sc);
        if (sc >= at.u.num) {
            hit = start;
            break;
        }
    }
    bool was = k->episode;
    if (r->episodes)
        k->episode = hit != INT64_MIN;
    if (hit == INT64_MIN)
        return;
    size_t m = st->member_of[ri];
    if (r->episodes && was) { /* the same episode: counted, not raised again */
        st->stats.deduplicated++;
        return;
    }
    if (k->last[m] != INT64_MIN && llabs(ts - k->last[m]) < st->rs->dedupe_window_ms) {
        st->stats.deduplicated++;
        return;
    }
    i128 sc;
    score_window(st, r, t, k, ctx, &sp, lo, hi, cnt, at.u.num, true, &sc);
    st->sc_start = hit;
    st->sc_rc = &r->common;
    for (size_t i = 0; i < r->nsev; i++)
        if (sc >= r->sev[i].at)
            st->sc_rc = &r->sev[i].common;
    /* Evidence: the window's transactions that scored in an `each` band, then
     * this one when it did not (it completed the score all the same). */
    size_t nev = 0;
    for (uint32_t j = lo; j < hi && nev < FW_LANG_EVIDENCE_MAX; j++) {
        const lev *e = &k->ev[(k->head + j) % k->cap];
        if (e->mask & 0xffffu)
            st->evidence[nev++] = (fw_str){ e->id, e->idlen };
    }
    if (!(mask & 0xffffu) && nev < FW_LANG_EVIDENCE_MAX)
        st->evidence[nev++] = txn->transaction_id;
    st->sc_nev = nev;
    ctx->slots = NULL;
    ctx->nslots = 0;
    emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
}

static void eval_rule(
fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                      void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t gi = st->group_of[ri], m = st->member_of[ri], len = 0;
    ltab *t = &st->tab[gi];
    lkey *k = NULL;
    ctx->slots = NULL;
    ctx->nslots = 0;
    if (r->kind == FW_LANG_FILTER && has_history(r)) {
        filter_hist(st, ri, ctx, fn, opaque);
        return;
    }
    if (r->kind == FW_LANG_FILTER) {
        if (!fw_expr_test(r->when, ctx))
            return;
        if (r->ngroup) {
            uint64_t h;
            if (!rule_key(st, r, ctx, &len, &h) || !(k = key_get(st, gi, len, ctx->txn->ts_ms)))
                return;
        }
        emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
        return;
    }
    if (r->kind == FW_LANG_SEQUENCE) {
        seq_eval(st, ri, ctx, fn, opaque);
        return;
    }
    if (r->kind == FW_LANG_SCORE) {
        score_eval(st, ri, ctx, fn, opaque);
        return;
    }
    if (!(k = t->cur))
        return;
    if (t->ranged) {
        ranged_eval(st, ri, k, ctx, fn, opaque);
        return;
    }
    for (size_t a = 0; a < r->naggs; a++)
        st->slots[a] = result(t, k, t->base[m] + a);
    ctx->slots = st->slots;
    ctx->nslots = r->naggs;
    if (fw_expr_test(r->having, ctx))
        emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
}

bool fw_lang_rule_on_arrival(const fw_lang_rule *r) {
    return r->kind == FW_LANG_FILTER && !r->ngroup;
}

static int in_list(void *ud, int id, fw_str value) {
    return fw_lang_list_contains(((const fw_lang_state *)ud)->rs, id, value);
}

static void sweep_some(fw_lang_state *st, int64_t watermark);

/* Every group counts the transaction first; then the rules, in file order,
 * read their columns, so alerts come in rule order whatever the grouping. */
void fw_lang_eval(fw_lang_state *st, const fw_lang_input *in, int64_t watermark,
                  fw_lang_alert_fn fn, void *opaque) {
    st->record++;
    fw_expr_memo memo = { .amount_set = false };
    fw_expr_ctx ctx = { .txn = in->txn, .profile = in->profile, .extra = in->extra,
                        .nextra = in->nextra, .in_list = in_list, .is_new = is_new_hook,
                        .ud = st, .memo = &memo };
    st->behind = in->behind;
    st->kc_class = SIZE_MAX;
    st->prevtxn_now = in->txn->ts_ms;
    if (in->phase != FW_LANG_ON_ARRIVAL)
        for (size_t g = 0; g < st->ntab; g++)
            if (st->tab[g].lead->kind == FW_LANG_AGGREGATE && /* only they count here */
                (!st->replay || st->tab[g].lead->backfill))
                count_in_group(st, g, &ctx);
    int ph = in->phase == FW_LANG_ON_ARRIVAL ? FW_LANG_ON_ARRIVAL
             : in->phase == FW_LANG_ALL      ? FW_LANG_ALL
                                             : FW_LANG_IN_ORDER;
    /* Replay builds the backfill rules' state only (their parts are their own). */
    for (size_t i = 0; i < st->nphase[ph]; i++)
        if (!st->replay || st->rs->rules[st->phase_rules[ph][i]].backfill)
            eval_rule(st, st->phase_rules[ph][i], &ctx, fn, opaque);
    /* Once per transaction: the ordered phase (or ALL) sees every one; the
     * arrival phase sees them again. */
    if (watermark != INT64_MIN && in->phase != FW_LANG_ON_ARRIVAL)
        sweep_some(st, watermark);
}

/* Frees what no rule can need at @p watermark in key @p k of group @p gi;
 * @p lazy (the background sweep): only a key not used within the group's
 * grace, so a busy key is not freed and made again. @returns true if freed. */
static bool expire_key(fw_lang_state *st, size_t gi, lkey *k, int64_t watermark, bool lazy) {
    ltab *t = &st->tab[gi];
    if (lazy && watermark - k->used <= t->grace)
        return false;
    uint32_t had = k->n, dropped = 0;
    if (t->score) {
        /* Later transactions are at least watermark - lateness: past seen +
         * memory + dedupe, every one would start the key afresh. */
        int64_t late = st->rs->allowed_lateness_ms;
        evict_before(st, k, watermark - t->lead->lookback_ms - late, t);
        if (k->sc_seen == INT64_MIN ||
            watermark - late - k->sc_seen > t->lead->memory_ms + st->rs->dedupe_window_ms) {
            key_retire(st, gi, k);
            return true;
        }
        if (k->n != had)
            mark(st, k);
        return false;
    }
    evict_before(st, k, watermark - t->keep_ms, t);
    if (t->lead->kind == FW_LANG_SEQUENCE)
        dropped = seq_expire(k, watermark, t->lead->lookback_ms);
    if (k->prev && watermark - k->prev->ts > t->lead->prev_within_ms) {
        prev_drop(k); /* no later record can read it */
        dropped++;
    }
    if (k->nseen)
        dropped += seen_purge(k, watermark - t->lead->seen_keep_ms);
    bool quiet = !k->n && !k->npm && !k->prev && !k->nseen;
    for (size_t m = 0; m < t->nmember && quiet; m++)
        quiet = k->last[m] == INT64_MIN || k->last[m] + st->rs->dedupe_window_ms <= watermark;
    if (quiet) {
        key_retire(st, gi, k);
        return true;
    }
    if (k->n != had || dropped)
        mark(st, k);
    return false;
}

size_t fw_lang_expire(fw_lang_state *st, int64_t watermark) {
    size_t freed = 0;
    for (size_t gi = 0; gi < st->ntab; gi++) {
        ltab *t = &st->tab[gi];
        for (size_t b = 0; b < t->nbucket; b++)
            for (lkey *k = t->bucket[b], *nx; k; k = nx) {
                nx = k->next;
                freed += expire_key(st, gi, k, watermark, false);
            }
    }
    return freed;
}

const fw_lang_rules *fw_lang_state_rules(const fw_lang_state *st) { return st->rs; }

/* The background sweep: SWEEP_BUCKETS buckets per transaction, round robin
 * over the groups, so freeing memory costs O(1) per transaction rather than
 * a pause over every key (windows drop old events as their key is used
 * anyway: a sweep only frees memory). A pass over n keys takes about n / 4
 * transactions. */
static void sweep_some(fw_lang_state *st, int64_t watermark) {
    for (int n = 0; n < SWEEP_BUCKETS && st->ntab; n++) {
        if (st->sweep_tab >= st->ntab)
            st->sweep_tab = 0;
        ltab *t = &st->tab[st->sweep_tab];
        if (st->sweep_bucket >= t->nbucket) {
            st->sweep_tab++;
            st->sweep_bucket = 0;
            continue;
        }
        for (lkey *k = t->bucket[st->sweep_bucket++], *nx; k; k = nx) {
            nx = k->next;
            (void)expire_key(st, st->sweep_tab, k, watermark, true);
        }
    }
}

void fw_lang_state_stats(const fw_lang_state *st, fw_lang_stats *out) {
    *out = st->stats;
    out->parts = st->ntab;
}

void fw_lang_state_foreach(const fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key), void *opaque) {
    for (size_t ri = 0; ri < st->ntab; ri++)
        for (size_t b = 0; b < st->tab[ri].nbucket; b++)
            for (lkey *k = st->tab[ri].bucket[b]; k; k = k->next)
                fn(opaque, ri, (fw_str){ k->key, k->keylen });
}

/* ---- changelog bytes: little-endian, versioned ---- */

static bool put_u64(fw_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return fw_buf_append(b, x, 8);
}

static bool get_u64(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    if (end - *p < 8)
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return true;
}

bool fw_lang_state_write_key(const fw_lang_state *st, size_t part, fw_str key, fw_buf *out) {
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        return true;
    const ltab *t = &st->tab[part];
    const lkey *k = key_find(st, part, key.ptr, key.len, fw_hash64(key.ptr, key.len, KEY_SEED));
    if (!k)
        return true; /* nothing held: a tombstone */
    uint8_t hdr[4] = { STATE_MAGIC, STATE_VERSION, (uint8_t)t->naggs, (uint8_t)t->nmember };
    bool ok = fw_buf_append(out, hdr, 4) && put_u64(out, t->id);
    for (size_t m = 0; m < t->nmember && ok; m++)
        ok = put_u64(out, (uint64_t)k->last[m]);
    ok = ok && put_u64(out, k->overflow) && put_u64(out, k->n);
    for (uint32_t j = 0; j < k->n && ok; j++) {
        uint32_t i = (k->head + j) % k->cap;
        const lev *e = &k->ev[i];
        ok = put_u64(out, (uint64_t)e->ts) && put_u64(out, e->mask) &&
             fw_buf_putc(out, (char)e->idlen) && fw_buf_append(out, e->id, e->idlen);
        for (size_t a = 0; a < t->naggs && ok; a++)
            ok = put_u64(out, (uint64_t)k->val[(size_t)i * t->naggs + a]);
    }
    if (t->score) /* then its running average, last transaction and episode */
        ok = ok && put_u64(out, (uint64_t)k->avg_sum) &&
             put_u64(out, (uint64_t)((unsigned __int128)k->avg_sum >> 64)) &&
             put_u64(out, (uint64_t)k->avg_n) && put_u64(out, (uint64_t)k->sc_seen) &&
             fw_buf_putc(out, k->episode ? 1 : 0);
    if (t->lead->kind == FW_LANG_SEQUENCE) { /* then its partial matches, oldest first */
        ok = ok && put_u64(out, k->npm);
        for (uint32_t j = 0; j < k->npm && ok; j++) {
            const lpm *pm = &k->pm[j];
            ok = put_u64(out, (uint64_t)pm->start) &&
                 put_u64(out, pm->step | (uint64_t)pm->cnt << 16 | (uint64_t)pm->nmatched << 32);
            for (uint32_t e = 0; e < pm->nmatched && e < FW_LANG_SEQ_EVIDENCE && ok; e++)
                ok = fw_buf_putc(out, (char)pm->idlen[e]) &&
                     fw_buf_append(out, pm->id[e], pm->idlen[e]);
        }
    }
    if (has_history(t->lead)) { /* prev (0 or 1), then is_new's (hash, last seen) pairs */
        const lprev *pv = k->prev;
        ok = ok && put_u64(out, pv != NULL);
        if (pv) {
            uint64_t bits[3];
            memcpy(&bits[0], &pv->amount, 8);
            memcpy(&bits[1], &pv->lat, 8);
            memcpy(&bits[2], &pv->lon, 8);
            ok = ok && put_u64(out, (uint64_t)pv->ts) && put_u64(out, bits[0]) &&
                 put_u64(out, bits[1]) && put_u64(out, bits[2]) &&
                 put_u64(out, pv->has | (uint64_t)pv->type << 32);
            size_t off = 0;
            for (int f = 0; f < PF_N && ok; f++) {
                ok = put_u64(out, (uint64_t)(int64_t)pv->len[f]);
                if (ok && pv->len[f] > 0) {
                    ok = fw_buf_append(out, pv->buf + off, (size_t)pv->len[f]);
                    off += (size_t)pv->len[f];
                }
            }
        }
        ok = ok && put_u64(out, k->nseen);
        for (uint32_t i = 0; i < k->seencap && ok; i++)
            if (k->seen[i].h)
                ok = put_u64(out, k->seen[i].h) && put_u64(out, (uint64_t)k->seen[i].last);
    }
    return ok && !out->overflow;
}

fw_err fw_lang_state_read_key(fw_lang_state *st, size_t part, fw_str key, const void *p,
                              size_t n, char *errstr, size_t errstr_size) {
#define BAD(...) do { if (errstr && errstr_size) snprintf(errstr, errstr_size, __VA_ARGS__); \
                      return FW_ERR_INVALID; } while (0)
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        BAD("language rule state: part %zu or key of %zu bytes out of range", part, key.len);
    const ltab *t = &st->tab[part];
    const char *id = t->lead->id;
    uint64_t h = fw_hash64(key.ptr, key.len, KEY_SEED);
    lkey *k = key_find(st, part, key.ptr, key.len, h);
    if (k)
        key_remove(st, part, k, false);
    if (n == 0)
        return FW_OK;
    const uint8_t *s = p, *end = s + n;
    uint64_t over, cnt;
    if (n < 4 || s[0] != STATE_MAGIC || s[1] != STATE_VERSION)
        BAD("%s: state of an unknown format", id);
    if (s[2] != t->naggs || s[3] != t->nmember)
        BAD("%s: state with %u aggregates of %u rules, the state has %zu of %zu (its shape "
            "changed)", id, s[2], s[3], t->naggs, t->nmember);
    s += 4;
    uint64_t shape;
    if (!get_u64(&s, end, &shape) || shape != t->id)
        BAD("%s: state of another shape (group_by, lookback, where or aggregates changed)", id);
    int64_t last[FW_LANG_MAX_RULES];
    for (size_t m = 0; m < t->nmember; m++) {
        uint64_t v;
        if (!get_u64(&s, end, &v))
            BAD("%s: state truncated", id);
        last[m] = (int64_t)v;
    }
    if (!get_u64(&s, end, &over) || !get_u64(&s, end, &cnt))
        BAD("%s: state truncated", id);
    if (cnt > st->rs->max_window_events)
        BAD("%s: state with %" PRIu64 " events, above max_window_events %u", id, cnt,
            st->rs->max_window_events);
    if (!(k = key_add(st, part, key.ptr, key.len, h)))
        return FW_ERR_NOMEM;
    memcpy(k->last, last, t->nmember * sizeof(*last));
    k->overflow = over;
    for (uint64_t j = 0; j < cnt; j++) {
        uint64_t ts, mask;
        fw_dec vals[GROUP_MAX_AGGS];
        if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &mask) || s >= end)
            goto trunc;
        uint8_t idlen = *s++;
        if (idlen > FW_LANG_TXN_ID_MAX || end - s < idlen)
            goto trunc;
        fw_str tid = { (const char *)s, idlen };
        s += idlen;
        for (size_t a = 0; a < t->naggs; a++) {
            uint64_t v;
            if (!get_u64(&s, end, &v))
                goto trunc;
            vals[a] = (fw_dec)v;
        }
        if (j && (int64_t)ts < k->ev[(k->head + k->n - 1) % k->cap].ts && t->score) {
            key_remove(st, part, k, false);
            BAD("%s: state with events out of time order", id);
        }
        if (!push(st, t, k, (int64_t)ts, tid, (uint32_t)mask, vals)) {
            key_remove(st, part, k, false);
            return FW_ERR_NOMEM;
        }
    }
    if (t->score) {
        uint64_t lo, hi, an, seen;
        if (!get_u64(&s, end, &lo) || !get_u64(&s, end, &hi) || !get_u64(&s, end, &an) ||
            !get_u64(&s, end, &seen) || s >= end || *s > 1 || (int64_t)an < 0)
            goto trunc;
        k->avg_sum = (i128)((unsigned __int128)hi << 64 | lo);
        k->avg_n = (int64_t)an;
        k->sc_seen = (int64_t)seen;
        k->episode = *s++ != 0;
    }
    if (t->lead->kind == FW_LANG_SEQUENCE) {
        const fw_lang_rule *r = t->lead;
        uint64_t npm;
        if (!get_u64(&s, end, &npm))
            goto trunc;
        if (npm > seq_bound(st)) {
            key_remove(st, part, k, false);
            BAD("%s: state with %" PRIu64 " partial matches, above the bound %u", id, npm,
                seq_bound(st));
        }
        if (npm && !(k->pm = calloc(npm, sizeof(*k->pm)))) {
            key_remove(st, part, k, false);
            return FW_ERR_NOMEM;
        }
        k->pmcap = (uint32_t)npm;
        for (uint64_t j = 0; j < npm; j++) {
            lpm *pm = &k->pm[j];
            uint64_t ts, w;
            if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &w))
                goto trunc;
            *pm = (lpm){ .start = (int64_t)ts, .step = (uint16_t)w, .cnt = (uint16_t)(w >> 16),
                         .nmatched = (uint32_t)(w >> 32) };
            if (pm->step >= r->nsteps || !pm->cnt || pm->cnt > r->steps[pm->step].times ||
                pm_complete(r, pm)) {
                key_remove(st, part, k, false);
                BAD("%s: a partial match at step %u, %u times: not of this rule", id,
                    pm->step, pm->cnt);
            }
            for (uint32_t e = 0; e < pm->nmatched && e < FW_LANG_SEQ_EVIDENCE; e++) {
                if (s >= end || *s > FW_LANG_TXN_ID_MAX || end - s - 1 < *s)
                    goto trunc;
                pm->idlen[e] = *s++;
                memcpy(pm->id[e], s, pm->idlen[e]);
                s += pm->idlen[e];
            }
            k->npm++;
        }
    }
    if (has_history(t->lead)) {
        uint64_t has_prev, nseen;
        if (!get_u64(&s, end, &has_prev) || has_prev > 1)
            goto trunc;
        if (has_prev) {
            uint64_t ts, bits[3], w;
            int32_t len[PF_N];
            if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &bits[0]) ||
                !get_u64(&s, end, &bits[1]) || !get_u64(&s, end, &bits[2]) ||
                !get_u64(&s, end, &w))
                goto trunc;
            /* Slices of the record, then one fw_txn made of them, copied as live. */
            fw_txn *v = &st->prevtxn;
            memset(v, 0, sizeof(*v));
            for (int f = 0; f < PF_N; f++) {
                uint64_t l;
                if (!get_u64(&s, end, &l) || ((int64_t)l >= 0 && (uint64_t)(end - s) < l) ||
                    (int64_t)l < -1)
                    goto trunc;
                len[f] = (int32_t)(int64_t)l;
                *txn_str(v, f) = len[f] < 0 ? FW_STR_NULL : (fw_str){ (const char *)s, (size_t)len[f] };
                s += len[f] < 0 ? 0 : len[f];
            }
            v->ts_ms = (int64_t)ts;
            memcpy(&v->amount, &bits[0], 8);
            memcpy(&v->lat, &bits[1], 8);
            memcpy(&v->lon, &bits[2], 8);
            v->has = (uint32_t)w;
            v->type = (fw_txn_type)(w >> 32);
            /* Every field as written: the rule's mask picks the same ones again. */
            if (!prev_keep(t, k, v)) {
                key_remove(st, part, k, false);
                return FW_ERR_NOMEM;
            }
            for (int f = 0; f < PF_N; f++)
                if (k->prev->len[f] != len[f])
                    goto trunc; /* a field the rule does not read: not this rule's bytes */
        }
        if (!get_u64(&s, end, &nseen))
            goto trunc;
        if (nseen > (st->rs->max_window_events ? st->rs->max_window_events : 1)) {
            key_remove(st, part, k, false);
            BAD("%s: state with %" PRIu64 " seen values, above max_window_events", id, nseen);
        }
        for (uint64_t i = 0; i < nseen; i++) {
            uint64_t hv, seen_at;
            if (!get_u64(&s, end, &hv) || !get_u64(&s, end, &seen_at) || !(hv & 1))
                goto trunc;
            seen_add(st, t->lead, k, hv, (int64_t)seen_at);
        }
        if (k->nseen != nseen)
            goto trunc;
    }
    if (s != end) {
        key_remove(st, part, k, false);
        BAD("%s: %zu bytes after the state", id, (size_t)(end - s));
    }
    return FW_OK;
trunc:
    key_remove(st, part, k, false);
    BAD("%s: state truncated", id);
#undef BAD
}

/* ---- changes for the changelog ---- */

void fw_lang_state_track_changes(fw_lang_state *st) { st->track = true; }

void fw_lang_state_set_replay(fw_lang_state *st, bool on) { st->replay = on; }

bool fw_lang_state_touch_key(fw_lang_state *st, size_t part, fw_str key) {
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        return false;
    lkey *k = key_find(st, part, key.ptr, key.len, fw_hash64(key.ptr, key.len, KEY_SEED));
    if (k)
        mark(st, k);
    return k != NULL;
}

size_t fw_lang_state_nparts(const fw_lang_state *st) { return st ? st->ntab : 0; }

const fw_lang_rule *fw_lang_state_part_rule(const fw_lang_state *st, size_t part) {
    return part < st->ntab ? st->tab[part].lead : NULL;
}

uint64_t fw_lang_state_part_id(const fw_lang_state *st, size_t part) {
    return part < st->ntab ? st->tab[part].id : 0;
}

size_t fw_lang_state_find_part(const fw_lang_state *st, uint64_t id) {
    for (size_t g = 0; g < st->ntab; g++)
        if (st->tab[g].id == id)
            return g;
    return SIZE_MAX;
}

void fw_lang_state_changes(fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key, bool held),
                           void *opaque) {
    for (size_t off = 0; off + 4 <= st->deleted.len;) {
        uint16_t hdr[2];
        memcpy(hdr, st->deleted.data + off, sizeof(hdr));
        fn(opaque, hdr[0], (fw_str){ st->deleted.data + off + 4, hdr[1] }, false);
        off += 4u + hdr[1];
    }
    fw_buf_reset(&st->deleted);
    for (uint32_t i = 0; i < st->ndirty; i++) {
        lkey *k = st->dirty[i];
        k->dirty = false;
        fn(opaque, k->part, (fw_str){ k->key, k->keylen }, true);
    }
    st->ndirty = 0;
}
