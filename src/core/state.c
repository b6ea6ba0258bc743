/* state.c — chained hash table of entities and bounded event lists. */
#include "state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"

#define INITIAL_BUCKETS 1024

const char *fw_entity_kind_name(fw_entity_kind k) {
    static const char *const names[FW_ENT__COUNT] = { "account", "card", "customer",
                                                      "account_pair", "inbound",
                                                      "features" };
    return (unsigned)k < FW_ENT__COUNT ? names[k] : "unknown";
}

bool fw_state_init(fw_state *s, uint32_t max_entities, uint32_t max_window_events) {
    memset(s, 0, sizeof(*s));
    s->buckets = calloc(INITIAL_BUCKETS, sizeof(*s->buckets));
    if (!s->buckets)
        return false;
    s->nbuckets = INITIAL_BUCKETS;
    s->max_entities = max_entities;
    s->max_window_events = max_window_events;
    return true;
}

static void entity_free(fw_entity *e) {
    free(e->recent.mem);
    free(e->win.mem);
    free(e->feat);
    fw_distinct_destroy(e->distinct);
    free(e);
}

/* A blank entity: from the free list when there is one (keeping its event
 * arrays' memory), else newly allocated. */
static fw_entity *entity_alloc(fw_state *s) {
    fw_entity *e = s->free_list;
    if (!e)
        return calloc(1, sizeof(*e));
    s->free_list = e->next;
    fw_evlist recent = e->recent, win = e->win;
    fw_feat_state *feat = e->feat;
    fw_distinct *distinct = e->distinct;
    fw_evlist_clear(&recent);
    fw_evlist_clear(&win);
    memset(e, 0, sizeof(*e));
    e->recent = recent;
    e->win = win;
    e->feat = feat;
    e->distinct = distinct; /* kept for its memory; not valid until rebuilt */
    return e;
}

void fw_state_fini(fw_state *s) {
    for (uint32_t i = 0; i < s->nbuckets; i++) {
        fw_entity *e = s->buckets[i];
        while (e) {
            fw_entity *next = e->next;
            entity_free(e);
            e = next;
        }
    }
    while (s->free_list) {
        fw_entity *next = s->free_list->next;
        entity_free(s->free_list);
        s->free_list = next;
    }
    free(s->buckets);
    memset(s, 0, sizeof(*s));
}

/* Doubles the table when it holds more entities than buckets. */
static void maybe_grow(fw_state *s) {
    if (s->stats.entities <= s->nbuckets || s->nbuckets >= (1u << 30))
        return;
    uint32_t n = s->nbuckets * 2;
    fw_entity **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (uint32_t i = 0; i < s->nbuckets; i++) {
        fw_entity *e = s->buckets[i];
        while (e) {
            fw_entity *next = e->next;
            uint32_t j = (uint32_t)(e->hash & (n - 1));
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    s->sweep_cursor = 0;
}

static fw_entity *lookup(fw_state *s, uint8_t kind, const char *key, size_t keylen,
                         bool create) {
    uint64_t h = fw_hash64(key, keylen, 0x5eed0000u + kind);
    uint32_t i = (uint32_t)(h & (s->nbuckets - 1));
    for (fw_entity *e = s->buckets[i]; e; e = e->next)
        if (e->hash == h && e->kind == kind && e->keylen == keylen &&
            memcmp(e->key, key, keylen) == 0)
            return e;
    if (!create)
        return NULL;
    if (s->memory_full) {
        s->stats.memory_refusals++;
        return NULL;
    }
    if (s->stats.entities >= s->max_entities) {
        s->stats.entity_overflows++;
        return NULL;
    }
    fw_entity *e = entity_alloc(s);
    if (e && kind == FW_ENT_FEATURES && !e->feat && !(e->feat = malloc(sizeof(*e->feat)))) {
        e->next = s->free_list; /* keep it for the next entity that needs no history */
        s->free_list = e;
        e = NULL;
    }
    if (!e) {
        s->stats.entity_overflows++;
        return NULL;
    }
    if (kind == FW_ENT_FEATURES)
        fw_feat_state_init(e->feat);
    e->hash = h;
    e->kind = kind;
    e->keylen = (uint8_t)keylen;
    memcpy(e->key, key, keylen);
    e->last_ts = INT64_MIN;
    e->reported_until = INT64_MIN;
    for (int r = 0; r < FW_RULE__COUNT; r++)
        e->last_alert[r] = INT64_MIN;
    e->next = s->buckets[i];
    s->buckets[i] = e;
    s->stats.entities++;
    s->stats.created++;
    maybe_grow(s);
    return e;
}

fw_entity *fw_state_get(fw_state *s, fw_entity_kind kind, fw_str key, bool create) {
    if (!key.ptr || key.len == 0 || key.len > FW_ID_MAX)
        return NULL;
    return lookup(s, (uint8_t)kind, key.ptr, key.len, create);
}

fw_entity *fw_state_get_pair(fw_state *s, fw_str account, fw_str counterparty, bool create) {
    if (!account.ptr || !counterparty.ptr || !account.len || !counterparty.len ||
        account.len > FW_ID_MAX || counterparty.len > FW_ID_MAX)
        return NULL;
    char key[2 * FW_ID_MAX + 1];
    memcpy(key, account.ptr, account.len);
    key[account.len] = '\x1f'; /* unit separator: not in any sane id */
    memcpy(key + account.len + 1, counterparty.ptr, counterparty.len);
    return lookup(s, FW_ENT_PAIR, key, account.len + 1 + counterparty.len, create);
}

/* fw_state_expire's walk of buckets [b, end): frees each entity past its
 * kind's horizon (and not awaiting a model score). */
static inline void sweep_run(fw_state *s, fw_entity **b, fw_entity **end, int64_t watermark,
                             const int64_t horizon_ms[FW_ENT__COUNT], fw_expire_fn fn,
                             void *opaque) {
    for (; b < end; b++) {
        if (!*b)
            continue;
        fw_entity **pp = b;
        while (*pp) {
            fw_entity *e = *pp;
            if (e->last_ts != INT64_MIN && watermark - e->last_ts > horizon_ms[e->kind] &&
                !e->ml_pending) {
                *pp = e->next;
                if (fn)
                    fn(opaque, e);
                e->next = s->free_list;
                s->free_list = e;
                s->stats.entities--;
                s->stats.expired++;
            } else {
                pp = &e->next;
            }
        }
    }
}

void fw_state_expire(fw_state *s, int64_t watermark, const int64_t horizon_ms[FW_ENT__COUNT],
                     uint32_t budget, fw_expire_fn fn, void *opaque) {
    if (!s->stats.entities)
        return; /* nothing to free: language rules alone keep no entity (fw_detect) */
    uint32_t n = budget && budget < s->nbuckets ? budget : s->nbuckets;
    uint32_t cur = s->sweep_cursor;
    /* The budget as at most two runs of adjacent buckets (the second after
     * wrapping): an empty bucket then costs a load and a test, and the
     * cursor is worked out once. */
    uint32_t first = n < s->nbuckets - cur ? n : s->nbuckets - cur;
    sweep_run(s, s->buckets + cur, s->buckets + cur + first, watermark, horizon_ms, fn, opaque);
    if (n > first)
        sweep_run(s, s->buckets, s->buckets + (n - first), watermark, horizon_ms, fn, opaque);
    s->sweep_cursor = (cur + n) & (s->nbuckets - 1);
    /* The next call's first entities: cache misses with many entities, asked
     * for now so they arrive while the next record is processed. */
    fw_entity **next = s->buckets + s->sweep_cursor;
    uint32_t ahead = n < s->nbuckets - s->sweep_cursor ? n : s->nbuckets - s->sweep_cursor;
    for (uint32_t i = 0; i < ahead; i++)
        if (next[i])
            __builtin_prefetch(next[i]);
}

static int evrec_cmp(const fw_evrec *a, const fw_evrec *b) {
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    size_t n = a->idlen < b->idlen ? a->idlen : b->idlen;
    int c = memcmp(a->id, b->id, n);
    return c ? c : (a->idlen > b->idlen) - (a->idlen < b->idlen);
}

fw_units fw_units_of(double amount) {
    if (!(amount > 0))
        return 0;
    double u = nearbyint(amount * FW_UNITS_PER_1);
    return u >= 9223372036854775807.0 ? (fw_units)INT64_MAX : (fw_units)(uint64_t)u;
}

static fw_units own_units(const fw_evrec *r) {
    return r->flags & FW_EV_CASHED ? 0 : fw_units_of(r->amount);
}

/* Sums before record @p i: from the previous record, or for the first
 * live one from its own running sum (the records before it are gone). */
static fw_units units_before(const fw_evlist *l, uint32_t i) {
    if (i == 0)
        return l->n ? l->ev[0].cum - own_units(&l->ev[0]) : 0;
    return l->ev[i - 1].cum;
}

fw_units fw_evlist_units(const fw_evlist *l, uint32_t i, uint32_t j) {
    return j > i ? l->ev[j - 1].cum - units_before(l, i) : 0;
}

void fw_evlist_recount(fw_evlist *l, uint32_t from) {
    fw_units u = from < l->n ? units_before(l, from) : 0;
    for (uint32_t i = from; i < l->n; i++) {
        u += own_units(&l->ev[i]);
        l->ev[i].cum = u;
    }
}

uint32_t fw_evlist_search(const fw_evlist *l, int64_t ts, bool after) {
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (after ? l->ev[mid].ts <= ts : l->ev[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void fw_evlist_drop_front(fw_evlist *l, uint32_t k) {
    if (k >= l->n) {
        fw_evlist_clear(l);
        return;
    }
    l->ev += k;
    l->n -= k;
}

void fw_evlist_clear(fw_evlist *l) {
    l->n = 0;
    l->ev = l->mem;
}

void fw_evlist_trim(fw_evlist *l, int64_t keep_from) {
    if (l->n && l->ev[0].ts < keep_from)
        fw_evlist_drop_front(l, fw_evlist_find(l, keep_from, false));
}

/* Room for one more record at the end: compacts when the dead front is at
 * least as long as the live part (so each record moves O(1) times), else
 * grows, up to twice the window limit. */
static bool make_room(fw_state *s, fw_evlist *l) {
    uint32_t off = l->mem ? (uint32_t)(l->ev - l->mem) : 0;
    if (off + l->n < l->cap)
        return true;
    uint64_t limit = 2 * (uint64_t)s->max_window_events;
    if (off > 0 && (off >= l->n || l->cap >= limit)) {
        memmove(l->mem, l->ev, sizeof(fw_evrec) * l->n);
        l->ev = l->mem;
        return true;
    }
    uint64_t cap = l->cap ? 2 * (uint64_t)l->cap : 4;
    if (cap > limit)
        cap = limit;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    if (cap <= l->cap)
        return false;
    fw_evrec *p = realloc(l->mem, sizeof(*p) * cap);
    if (!p)
        return false;
    l->mem = p;
    l->ev = p + off;
    l->cap = (uint32_t)cap;
    return true;
}

bool fw_evlist_insert(fw_state *s, fw_evlist *l, const fw_evrec *ev, int64_t keep_from) {
    fw_evlist_trim(l, keep_from);
    if (l->n >= s->max_window_events || !make_room(s, l)) {
        s->stats.window_overflows++;
        return false;
    }
    uint32_t i = l->n; /* almost always appended: events arrive in time order */
    while (i > 0 && evrec_cmp(&l->ev[i - 1], ev) > 0)
        i--;
    fw_units units = units_before(l, i);
    memmove(l->ev + i + 1, l->ev + i, sizeof(fw_evrec) * (l->n - i));
    l->ev[i] = *ev;
    l->ev[i].cum = units + own_units(ev);
    l->n++;
    if (i + 1 < l->n) /* an event behind the newest: the later ones' sums move */
        fw_evlist_recount(l, i + 1);
    return true;
}
