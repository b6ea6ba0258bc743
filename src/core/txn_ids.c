/* txn_ids.c — recently seen transaction ids (txn_ids.h): a ring in arrival
 * order for expiry, an open-addressing table (linear probing, backward-shift
 * deletion) for lookup, and the changelog chunks that carry both across a
 * restart. */
#include "txn_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bytes.h"
#include "fw_hash.h"

#define FW_TXN_IDS_SEED 0x7478696473ULL   /* "txids" */
#define FW_TXN_IDS_VERSION 1
#define FW_TXN_IDS_MIN_CAP 1024u
#define ENTRY_BYTES 32u
#define GAP UINT32_MAX

void fw_txn_ids_init(fw_txn_ids *s, uint32_t max) {
    memset(s, 0, sizeof(*s));
    s->max = max;
}

void fw_txn_ids_fini(fw_txn_ids *s) {
    free(s->ring);
    free(s->table);
    free(s->staged);
    memset(s, 0, sizeof(*s));
}

uint64_t fw_txn_ids_hash(fw_str id) { return fw_hash64(id.ptr, id.len, FW_TXN_IDS_SEED); }

static fw_txn_id *at(const fw_txn_ids *s, uint64_t seq) { return &s->ring[seq & (s->cap - 1)]; }

static void table_put(fw_txn_ids *s, uint32_t ring_idx) {
    uint32_t mask = s->tcap - 1, i = (uint32_t)s->ring[ring_idx].hash & mask;
    while (s->table[i])
        i = (i + 1) & mask;
    s->table[i] = ring_idx + 1;
}

/* Removes ring entry @p ring_idx from the table, shifting back the entries
 * after it that would otherwise become unreachable. */
static void table_del(fw_txn_ids *s, uint32_t ring_idx) {
    uint32_t mask = s->tcap - 1, i = (uint32_t)s->ring[ring_idx].hash & mask;
    while (s->table[i] != ring_idx + 1) {
        if (!s->table[i])
            return; /* not indexed (cannot happen; nothing to do) */
        i = (i + 1) & mask;
    }
    for (;;) {
        s->table[i] = 0;
        uint32_t k = i;
        for (;;) {
            k = (k + 1) & mask;
            if (!s->table[k])
                return;
            uint32_t home = (uint32_t)s->ring[s->table[k] - 1].hash & mask;
            bool stays = i <= k ? (i < home && home <= k) : (i < home || home <= k);
            if (!stays)
                break;
        }
        s->table[i] = s->table[k];
        i = k;
    }
}

static uint32_t ceil_pow2(uint32_t n) {
    uint32_t c = 1;
    while (c < n && c < (1u << 31))
        c <<= 1;
    return c;
}

/* Doubles the ring (up to the power of two holding max) and rebuilds the
 * table. @returns false when out of memory or already at the largest size. */
static bool grow(fw_txn_ids *s) {
    uint32_t limit = ceil_pow2(s->max);
    uint32_t cap = s->cap ? s->cap * 2 : (limit < FW_TXN_IDS_MIN_CAP ? limit : FW_TXN_IDS_MIN_CAP);
    if (s->cap >= limit || s->oom)
        return false;
    fw_txn_id *ring = malloc(sizeof(*ring) * cap);
    uint32_t *table = calloc((size_t)cap * 2, sizeof(*table));
    if (!ring || !table) {
        free(ring);
        free(table);
        s->oom = true;
        return false;
    }
    for (uint64_t q = s->head; q < s->tail; q++)
        ring[q & (cap - 1)] = *at(s, q);
    free(s->ring);
    free(s->table);
    s->ring = ring;
    s->table = table;
    s->cap = cap;
    s->tcap = cap * 2;
    for (uint64_t q = s->head; q < s->tail; q++)
        if (at(s, q)->idlen != GAP)
            table_put(s, (uint32_t)(q & (cap - 1)));
    return true;
}

static void pop_oldest(fw_txn_ids *s) {
    if (at(s, s->head)->idlen != GAP)
        table_del(s, (uint32_t)(s->head & (s->cap - 1)));
    s->head++;
}

const fw_txn_id *fw_txn_ids_find(const fw_txn_ids *s, uint64_t hash, size_t idlen) {
    if (!s->table)
        return NULL;
    uint32_t mask = s->tcap - 1;
    for (uint32_t i = (uint32_t)hash & mask; s->table[i]; i = (i + 1) & mask) {
        const fw_txn_id *e = &s->ring[s->table[i] - 1];
        if (e->hash == hash && e->idlen == idlen)
            return e;
    }
    return NULL;
}

void fw_txn_ids_add(fw_txn_ids *s, uint64_t hash, size_t idlen, int64_t ts,
                    const fw_txn_pos *pos) {
    if (!s->max)
        return;
    if (fw_txn_ids_count(s) >= s->max || (fw_txn_ids_count(s) == s->cap && !grow(s))) {
        if (!s->cap)
            return; /* no memory at all: duplicates go undetected, never a crash */
        pop_oldest(s);
        s->evicted++;
    }
    fw_txn_id *e = at(s, s->tail);
    *e = (fw_txn_id){ .hash = hash, .ts = ts, .offset = pos ? pos->offset : -1,
                      .partition = pos ? pos->partition : -1,
                      .idlen = idlen < GAP ? (uint32_t)idlen : GAP - 1 };
    table_put(s, (uint32_t)(s->tail & (s->cap - 1)));
    s->tail++;
}

void fw_txn_ids_expire(fw_txn_ids *s, int64_t before) {
    /* Arrival order is event order up to the out-of-orderness: an entry
     * behind a newer one waits for it, which only keeps it longer. */
    while (s->head < s->tail && at(s, s->head)->ts < before)
        pop_oldest(s);
}

/* ---- changelog ---- */

static void chunk_key(uint64_t chunk, char key[9]) {
    key[0] = 'D';
    for (int i = 0; i < 8; i++)
        key[1 + i] = (char)(chunk >> (56 - 8 * i));
}

void fw_txn_ids_changes(fw_txn_ids *s, fw_buf *scratch, fw_txn_ids_change_fn fn, void *opaque) {
    char key[9];
    uint64_t live_chunk = s->head / FW_TXN_IDS_CHUNK;
    for (uint64_t c = s->next_tomb; c < live_chunk; c++) /* every entry of these has left */
        if (c * FW_TXN_IDS_CHUNK < s->written) {
            chunk_key(c, key);
            fn(opaque, (fw_str){ key, 9 }, NULL, 0);
        }
    if (live_chunk > s->next_tomb)
        s->next_tomb = live_chunk;
    if (s->tail <= s->written)
        return;
    uint64_t from = s->written > s->head ? s->written : s->head;
    for (uint64_t c = from / FW_TXN_IDS_CHUNK; c * FW_TXN_IDS_CHUNK < s->tail; c++) {
        uint64_t lo = c * FW_TXN_IDS_CHUNK, hi = lo + FW_TXN_IDS_CHUNK;
        if (lo < s->head)
            lo = s->head;
        if (hi > s->tail)
            hi = s->tail;
        fw_buf_reset(scratch);
        fw_buf_putc(scratch, FW_TXN_IDS_VERSION);
        fw_buf_put_u64le(scratch, lo);
        for (uint64_t q = lo; q < hi; q++) {
            const fw_txn_id *e = at(s, q);
            fw_buf_put_u64le(scratch, e->hash);
            fw_buf_put_u64le(scratch, (uint64_t)e->ts);
            fw_buf_put_u64le(scratch, (uint64_t)e->offset);
            fw_buf_put_u64le(scratch, (uint64_t)(uint32_t)e->partition | (uint64_t)e->idlen << 32);
        }
        chunk_key(c, key);
        fn(opaque, (fw_str){ key, 9 }, scratch->data, scratch->len);
    }
    s->written = s->tail;
}

fw_err fw_txn_ids_restore(fw_txn_ids *s, fw_str key, const void *value, size_t len,
                          char *errstr, size_t errstr_size) {
    if (key.len != 9) {
        snprintf(errstr, errstr_size, "changelog: bad transaction-id chunk key");
        return FW_ERR_INVALID;
    }
    if (!value)
        return FW_OK;
    const unsigned char *p = value;
    uint64_t chunk = 0;
    for (int i = 0; i < 8; i++)
        chunk = chunk << 8 | (unsigned char)key.ptr[1 + i];
    if (len < 9 || p[0] != FW_TXN_IDS_VERSION || (len - 9) % ENTRY_BYTES) {
        snprintf(errstr, errstr_size, "changelog: transaction-id chunk of an unknown version "
                                      "or a torn length (%zu bytes)", len);
        return FW_ERR_INVALID;
    }
    uint64_t first = fw_load_u64le(p + 1);
    size_t n = (len - 9) / ENTRY_BYTES;
    if (first / FW_TXN_IDS_CHUNK != chunk || first % FW_TXN_IDS_CHUNK + n > FW_TXN_IDS_CHUNK) {
        snprintf(errstr, errstr_size, "changelog: transaction-id chunk %llu holds entries of "
                 "another chunk", (unsigned long long)chunk);
        return FW_ERR_INVALID;
    }
    if (s->nstaged + n > s->staged_cap) {
        size_t cap = s->staged_cap ? s->staged_cap : FW_TXN_IDS_CHUNK;
        while (cap < s->nstaged + n)
            cap *= 2;
        struct fw_txn_id_seq *st = realloc(s->staged, sizeof(*st) * cap);
        if (!st) {
            snprintf(errstr, errstr_size, "changelog: out of memory");
            return FW_ERR_NOMEM;
        }
        s->staged = st;
        s->staged_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = p + 9 + i * ENTRY_BYTES;
        uint64_t last = fw_load_u64le(q + 24);
        s->staged[s->nstaged++] = (struct fw_txn_id_seq){
            .seq = first + i,
            .id = { .hash = fw_load_u64le(q), .ts = (int64_t)fw_load_u64le(q + 8),
                    .offset = (int64_t)fw_load_u64le(q + 16),
                    .partition = (int32_t)(uint32_t)last, .idlen = (uint32_t)(last >> 32) },
        };
    }
    return FW_OK;
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = ((const struct fw_txn_id_seq *)a)->seq, y = ((const struct fw_txn_id_seq *)b)->seq;
    return x < y ? -1 : x > y;
}

void fw_txn_ids_restore_finish(fw_txn_ids *s) {
    if (!s->nstaged)
        return;
    qsort(s->staged, s->nstaged, sizeof(*s->staged), by_seq);
    uint64_t lo = s->staged[0].seq, hi = s->staged[s->nstaged - 1].seq + 1;
    s->next_tomb = lo / FW_TXN_IDS_CHUNK; /* chunks before the first are deleted already */
    if (s->max && hi - lo > s->max)
        lo = hi - s->max;
    s->head = s->tail = s->written = lo;
    size_t k = 0;
    for (uint64_t q = lo; q < hi && s->max; q++) {
        while (k < s->nstaged && s->staged[k].seq < q)
            k++;
        if (k < s->nstaged && s->staged[k].seq == q && s->staged[k].id.idlen != GAP) {
            const fw_txn_id *e = &s->staged[k].id;
            fw_txn_pos pos = { .partition = e->partition, .offset = e->offset };
            fw_txn_ids_add(s, e->hash, e->idlen, e->ts, &pos);
        } else { /* a hole: keeps the numbering, matches nothing, leaves first */
            if (fw_txn_ids_count(s) == s->cap && !grow(s))
                break;
            *at(s, s->tail) = (fw_txn_id){ .ts = INT64_MIN, .idlen = GAP };
            s->tail++;
        }
    }
    s->written = s->tail;
    free(s->staged);
    s->staged = NULL;
    s->nstaged = s->staged_cap = 0;
}
