/* event_buffer.h — the event-time reorder buffer of one partition. Arriving
 * transactions wait here until the watermark passes them, then leave in
 * event-time order, ties broken by transaction id: an order that does not
 * depend on arrival, so any shuffle within the out-of-orderness bound gives
 * the same detector input and the same alerts. */
#ifndef FW_EVENT_BUFFER_H
#define FW_EVENT_BUFFER_H

#include <stdint.h>
#include "fw_pool.h"
#include "txn.h"

/** A buffered transaction: the fw_txn and every byte it points to, in one
 *  pool block (the original record and any unescaped strings). */
typedef struct fw_buffered {
    fw_txn txn;
    size_t block_size;  /* for fw_pool_free */
    bool persisted;     /* written to the changelog */
    uint32_t slot;      /* its changelog key ('b' + slot; engine.c), 0: none or the
                           key of an older release ('B' + time + id) */
} fw_buffered;

/** A heap entry: the order's keys beside the pointer, so sifting compares
 *  without touching the transaction (a cache miss each, in a buffer of
 *  10 s of traffic); only equal times and id prefixes look further. */
typedef struct fw_heap_ent {
    int64_t ts;
    uint64_t id8;        /* the id's first 8 bytes, big-endian, zero-padded */
    fw_buffered *b;
} fw_heap_ent;

typedef struct fw_event_buffer {
    fw_heap_ent *heap;   /* binary min-heap on (ts, transaction_id) */
    uint32_t n, cap;
    uint32_t max;        /* configured maximum; a full buffer releases early */
    fw_pool *pool;
} fw_event_buffer;

void fw_event_buffer_init(fw_event_buffer *b, fw_pool *pool, uint32_t max);
void fw_event_buffer_fini(fw_event_buffer *b);

/** @brief Copies @p t (and what it points to) into the buffer.
 *  @returns the copy, NULL when out of memory. */
fw_buffered *fw_event_buffer_push(fw_event_buffer *b, const fw_txn *t);

/** @brief The earliest buffered transaction, or NULL. */
const fw_txn *fw_event_buffer_peek(const fw_event_buffer *b);

/** @brief Removes the earliest (after its use) and returns its memory. */
void fw_event_buffer_pop(fw_event_buffer *b);

/** @brief Total order of release: event time, then transaction id bytes. */
int fw_txn_order(const fw_txn *a, const fw_txn *b);

/** @brief Keeps only the buffered transactions @p keep says yes to (the
 *  others' memory returns to the pool), in heap order again. */
void fw_event_buffer_filter(fw_event_buffer *b, bool (*keep)(void *opaque, fw_buffered *c),
                            void *opaque);

/** @brief Makes a self-contained copy of @p t in one pool block. */
fw_buffered *fw_txn_clone(fw_pool *pool, const fw_txn *t);
void fw_txn_clone_free(fw_pool *pool, fw_buffered *c);

#endif
