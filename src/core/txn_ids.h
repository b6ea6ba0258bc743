/* txn_ids.h — the transaction ids one partition has seen recently, to drop
 * the duplicates upstream retries produce.
 *
 * Each id is kept as a 64-bit hash plus its length (two different ids collide
 * with odds of about n^2 / 2^65), its event time and where it was first seen.
 * Entries live in a ring in arrival order, indexed by an open-addressing
 * table; they leave from the ring's old end when their event time falls
 * behind the horizon (fw_txn_ids_expire) or, when max ids are held, early
 * (counted). Memory: 32 bytes of ring and 8 of table per id, grown by
 * doubling up to max; nothing is allocated per id.
 *
 * For the changelog every entry has a sequence number; entries are written
 * in chunks of FW_TXN_IDS_CHUNK consecutive numbers (the open chunk rewritten
 * while it fills), and a chunk whose entries have all left is deleted. */
#ifndef FW_TXN_IDS_H
#define FW_TXN_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fw_err.h"
#include "fw_str.h"

#define FW_TXN_IDS_CHUNK 2048u   /* ids per changelog record (64 KiB) */

/** Where a transaction was first seen. */
typedef struct fw_txn_pos {
    int32_t partition;   /* Kafka partition; -1: a file */
    int64_t offset;      /* Kafka offset, or the file's line; -1: unknown */
} fw_txn_pos;

typedef struct fw_txn_id {
    uint64_t hash;
    int64_t ts;          /* event time */
    int64_t offset;
    int32_t partition;
    uint32_t idlen;      /* UINT32_MAX: a gap left by restore, never matched */
} fw_txn_id;

typedef struct fw_txn_ids {
    uint32_t max;            /* ids held at most */
    fw_txn_id *ring;         /* cap entries; sequence number s lives at s & (cap - 1) */
    uint32_t cap;            /* a power of two */
    uint32_t *table;         /* tcap slots: ring index + 1, 0 = empty; linear probing */
    uint32_t tcap;           /* 2 * cap */
    uint64_t head, tail;     /* live sequence numbers: [head, tail) */
    uint64_t written;        /* sequence numbers below this are in the changelog */
    uint64_t next_tomb;      /* first chunk not yet deleted from the changelog */
    uint64_t evicted;        /* forgotten early because max were held */
    /* Restore: entries gathered in any order, put in place on first use. */
    struct fw_txn_id_seq { uint64_t seq; fw_txn_id id; } *staged;
    size_t nstaged, staged_cap;
    bool oom;                /* growth failed once: the oldest are forgotten instead */
} fw_txn_ids;

/** @brief An empty set holding at most @p max ids (allocates on first add). */
void fw_txn_ids_init(fw_txn_ids *s, uint32_t max);
void fw_txn_ids_fini(fw_txn_ids *s);

/** @brief Ids held now. */
static inline uint64_t fw_txn_ids_count(const fw_txn_ids *s) { return s->tail - s->head; }

/** @brief The hash fw_txn_ids_find and fw_txn_ids_add take. */
uint64_t fw_txn_ids_hash(fw_str id);

/** @brief The entry of an id, or NULL when it was not seen (or was forgotten). */
const fw_txn_id *fw_txn_ids_find(const fw_txn_ids *s, uint64_t hash, size_t idlen);

/** @brief Remembers an id (not already held); when max are held the oldest
 *  is forgotten first (counted in evicted). */
void fw_txn_ids_add(fw_txn_ids *s, uint64_t hash, size_t idlen, int64_t ts,
                    const fw_txn_pos *pos);

/** @brief Forgets, from the oldest, the ids with event time before @p before. */
void fw_txn_ids_expire(fw_txn_ids *s, int64_t before);

/** Receives a changelog record as fw_engine_changes does (value NULL: delete). */
typedef void (*fw_txn_ids_change_fn)(void *opaque, fw_str key, const void *value, size_t len);

/** @brief Emits the chunk deletions and the chunks changed since the last
 *  call; keys are 'D' and the chunk number (8 bytes, big-endian). */
void fw_txn_ids_changes(fw_txn_ids *s, fw_buf *scratch, fw_txn_ids_change_fn fn, void *opaque);

/** @brief Takes one chunk record (the latest of its key); a NULL value is
 *  ignored. Call fw_txn_ids_restore_finish after the last one. */
fw_err fw_txn_ids_restore(fw_txn_ids *s, fw_str key, const void *value, size_t len,
                          char *errstr, size_t errstr_size);

/** @brief Puts the restored entries in place (a no-op when none are staged). */
void fw_txn_ids_restore_finish(fw_txn_ids *s);

#endif
