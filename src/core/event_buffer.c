/* event_buffer.c — min-heap of self-contained transaction copies. */
#include "event_buffer.h"

#include <stdlib.h>
#include <string.h>

int fw_txn_order(const fw_txn *a, const fw_txn *b) {
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    size_t n = a->transaction_id.len < b->transaction_id.len ? a->transaction_id.len
                                                              : b->transaction_id.len;
    int c = n ? memcmp(a->transaction_id.ptr, b->transaction_id.ptr, n) : 0;
    if (c)
        return c;
    return (a->transaction_id.len > b->transaction_id.len) -
           (a->transaction_id.len < b->transaction_id.len);
}

/* The string fields of a transaction, for cloning. */
#define TXN_STR_FIELDS(X)                                                                      \
    X(transaction_id) X(ts_raw) X(amount_raw) X(account_id) X(card_id) X(customer_id)          \
    X(type_raw) X(currency) X(merchant_id) X(merchant_category) X(country)                     \
    X(counterparty_id) X(channel)

/* @p extras: copy the captured extra fields too (a constant in each caller,
 * so a record without them pays one test). */
__attribute__((always_inline)) static inline fw_buffered *clone(fw_pool *pool, const fw_txn *t,
                                                               bool extras) {
    /* Strings inside the raw record move with it; others (unescaped into the
     * decoder's arena, or given by a caller) are copied after it. */
    const char *lo = t->raw.ptr, *hi = t->raw.ptr ? t->raw.ptr + t->raw.len : NULL;
    size_t extra = 0;
#define SIZE_OF(f)                                                                             \
    if (t->f.ptr && !(t->f.ptr >= lo && t->f.ptr + t->f.len <= hi))                            \
        extra += t->f.len;
    TXN_STR_FIELDS(SIZE_OF)
    if (extras)
        for (unsigned i = 0; t->extra_mask >> i; i++)
            if (t->extra_mask & (1u << i)) {
                SIZE_OF(extra[i])
            }
#undef SIZE_OF
    size_t size = sizeof(fw_buffered) + t->raw.len + extra;
    fw_buffered *c = fw_pool_alloc(pool, size);
    if (!c)
        return NULL;
    memcpy(&c->txn, t, FW_TXN_ZEROED); /* extras and extra[] only when captured */
    c->block_size = size;
    c->persisted = false;
    c->slot = 0;
    char *raw = (char *)(c + 1), *tail = raw + t->raw.len;
    if (t->raw.len)
        memcpy(raw, t->raw.ptr, t->raw.len);
    c->txn.raw.ptr = t->raw.ptr ? raw : NULL;
#define REBASE(f)                                                                              \
    if (t->f.ptr) {                                                                            \
        if (t->f.ptr >= lo && t->f.ptr + t->f.len <= hi) {                                     \
            c->txn.f.ptr = raw + (t->f.ptr - lo);                                              \
        } else {                                                                               \
            if (t->f.len)                                                                      \
                memcpy(tail, t->f.ptr, t->f.len);                                              \
            c->txn.f.ptr = tail;                                                               \
            tail += t->f.len;                                                                  \
        }                                                                                      \
    }
    TXN_STR_FIELDS(REBASE)
    if (extras) {
        c->txn.extras = t->extras;
        for (unsigned i = 0; t->extra_mask >> i; i++)
            if (t->extra_mask & (1u << i)) {
                c->txn.extra[i] = t->extra[i];
                REBASE(extra[i])
            }
    }
#undef REBASE
    return c;
}

static fw_buffered *clone_extras(fw_pool *pool, const fw_txn *t) { return clone(pool, t, true); }

fw_buffered *fw_txn_clone(fw_pool *pool, const fw_txn *t) {
    return t->extra_mask ? clone_extras(pool, t) : clone(pool, t, false);
}

void fw_txn_clone_free(fw_pool *pool, fw_buffered *c) {
    if (c)
        fw_pool_free(pool, c, c->block_size);
}

void fw_event_buffer_init(fw_event_buffer *b, fw_pool *pool, uint32_t max) {
    memset(b, 0, sizeof(*b));
    b->pool = pool;
    b->max = max;
}

void fw_event_buffer_fini(fw_event_buffer *b) {
    for (uint32_t i = 0; i < b->n; i++)
        fw_txn_clone_free(b->pool, b->heap[i].b);
    free(b->heap);
    memset(b, 0, sizeof(*b));
}

static bool less(const fw_heap_ent *h, uint32_t i, uint32_t j) {
    if (h[i].ts != h[j].ts)
        return h[i].ts < h[j].ts;
    if (h[i].id8 != h[j].id8) /* orders as memcmp of the ids would */
        return h[i].id8 < h[j].id8;
    return fw_txn_order(&h[i].b->txn, &h[j].b->txn) < 0;
}

static void swap(fw_heap_ent *h, uint32_t i, uint32_t j) {
    fw_heap_ent t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static fw_heap_ent entry(fw_buffered *b) {
    unsigned char first[8] = { 0 };
    size_t n = b->txn.transaction_id.len < 8 ? b->txn.transaction_id.len : 8;
    memcpy(first, b->txn.transaction_id.ptr, n);
    uint64_t id8;
    memcpy(&id8, first, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    id8 = __builtin_bswap64(id8); /* big-endian: integer order is byte order */
#endif
    return (fw_heap_ent){ .ts = b->txn.ts_ms, .id8 = id8, .b = b };
}

fw_buffered *fw_event_buffer_push(fw_event_buffer *b, const fw_txn *t) {
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 1024;
        fw_heap_ent *h = realloc(b->heap, sizeof(*h) * cap);
        if (!h)
            return NULL;
        b->heap = h;
        b->cap = cap;
    }
    fw_buffered *c = fw_txn_clone(b->pool, t);
    if (!c)
        return NULL;
    uint32_t i = b->n++;
    b->heap[i] = entry(c);
    while (i > 0 && less(b->heap, i, (i - 1) / 2)) {
        swap(b->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return c;
}

const fw_txn *fw_event_buffer_peek(const fw_event_buffer *b) {
    return b->n ? &b->heap[0].b->txn : NULL;
}

static void sift_down(fw_heap_ent *h, uint32_t n, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && less(h, l, m))
            m = l;
        if (r < n && less(h, r, m))
            m = r;
        if (m == i)
            return;
        swap(h, i, m);
        i = m;
    }
}

void fw_event_buffer_pop(fw_event_buffer *b) {
    if (!b->n)
        return;
    fw_txn_clone_free(b->pool, b->heap[0].b);
    b->heap[0] = b->heap[--b->n];
    sift_down(b->heap, b->n, 0);
}

void fw_event_buffer_filter(fw_event_buffer *b, bool (*keep)(void *opaque, fw_buffered *c),
                            void *opaque) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (keep(opaque, b->heap[i].b))
            b->heap[n++] = b->heap[i];
        else
            fw_txn_clone_free(b->pool, b->heap[i].b);
    }
    b->n = n;
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(b->heap, n, i);
}
