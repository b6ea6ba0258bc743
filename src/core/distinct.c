/* distinct.c — keys by latest time: an open-addressing table of node
 * indices (linear probing, deletion by backward shift, so no tombstones
 * pile up) over a node array threaded into a list ordered by time. */
#include "distinct.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

typedef struct node {
    uint64_t key;
    int64_t ts;        /* the key's latest time */
    uint32_t prev, next; /* the time-ordered list; NIL at its ends */
} node;

struct fw_distinct {
    node *nodes;
    uint32_t nnodes, cap;  /* nodes in use or on the free list; allocated */
    uint32_t free_node;    /* freed nodes, chained through next */
    uint32_t *slots;       /* node index + 1; 0 = empty */
    uint32_t nslots;       /* power of two, at least twice the keys */
    uint32_t size;
    uint32_t head, tail;   /* oldest and newest */
};

fw_distinct *fw_distinct_new(void) {
    fw_distinct *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->free_node = d->head = d->tail = NIL;
    return d;
}

void fw_distinct_destroy(fw_distinct *d) {
    if (!d)
        return;
    free(d->nodes);
    free(d->slots);
    free(d);
}

void fw_distinct_clear(fw_distinct *d) {
    if (d->slots)
        memset(d->slots, 0, sizeof(*d->slots) * d->nslots);
    d->nnodes = d->size = 0;
    d->free_node = d->head = d->tail = NIL;
}

uint32_t fw_distinct_size(const fw_distinct *d) { return d->size; }

static uint32_t slot_of(const fw_distinct *d, uint64_t key) {
    uint64_t h = key * 0x9e3779b97f4a7c15ull; /* keys are hashes already; spread the top bits */
    return (uint32_t)(h >> 32) & (d->nslots - 1);
}

/* The slot holding @p key, or the empty slot where it would go. */
static uint32_t find(const fw_distinct *d, uint64_t key) {
    uint32_t i = slot_of(d, key);
    while (d->slots[i] && d->nodes[d->slots[i] - 1].key != key)
        i = (i + 1) & (d->nslots - 1);
    return i;
}

static bool grow_slots(fw_distinct *d) {
    uint32_t n = d->nslots ? d->nslots * 2 : 16;
    uint32_t *s = calloc(n, sizeof(*s));
    if (!s)
        return false;
    uint32_t *old = d->slots, oldn = d->nslots;
    d->slots = s;
    d->nslots = n;
    for (uint32_t i = 0; i < oldn; i++)
        if (old[i])
            d->slots[find(d, d->nodes[old[i] - 1].key)] = old[i];
    free(old);
    return true;
}

static void unlink_node(fw_distinct *d, uint32_t i) {
    node *x = &d->nodes[i];
    if (x->prev != NIL)
        d->nodes[x->prev].next = x->next;
    else
        d->head = x->next;
    if (x->next != NIL)
        d->nodes[x->next].prev = x->prev;
    else
        d->tail = x->prev;
}

/* Links node @p i in time order: after the newest node not later than it
 * (equal times keep noting order). Walks back from the newest end. */
static void link_node(fw_distinct *d, uint32_t i) {
    node *x = &d->nodes[i];
    uint32_t after = d->tail;
    while (after != NIL && d->nodes[after].ts > x->ts)
        after = d->nodes[after].prev;
    x->prev = after;
    x->next = after == NIL ? d->head : d->nodes[after].next;
    if (x->next != NIL)
        d->nodes[x->next].prev = i;
    else
        d->tail = i;
    if (after != NIL)
        d->nodes[after].next = i;
    else
        d->head = i;
}

bool fw_distinct_note(fw_distinct *d, uint64_t key, int64_t ts) {
    if ((d->size + 1) * 2 > d->nslots && !grow_slots(d))
        return false;
    uint32_t s = find(d, key);
    if (d->slots[s]) {
        uint32_t i = d->slots[s] - 1;
        if (d->nodes[i].ts >= ts)
            return true;
        unlink_node(d, i);
        d->nodes[i].ts = ts;
        link_node(d, i);
        return true;
    }
    uint32_t i = d->free_node;
    if (i != NIL) {
        d->free_node = d->nodes[i].next;
    } else {
        if (d->nnodes == d->cap) {
            uint32_t cap = d->cap ? d->cap * 2 : 8;
            node *n = realloc(d->nodes, sizeof(*n) * cap);
            if (!n)
                return false;
            d->nodes = n;
            d->cap = cap;
        }
        i = d->nnodes++;
    }
    d->nodes[i] = (node){ .key = key, .ts = ts };
    d->slots[s] = i + 1;
    d->size++;
    link_node(d, i);
    return true;
}

/* Empties slot @p i and shifts back the entries of its probe run that
 * would no longer be found past the gap. */
static void delete_slot(fw_distinct *d, uint32_t i) {
    uint32_t mask = d->nslots - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->slots[j])
            break;
        uint32_t home = slot_of(d, d->nodes[d->slots[j] - 1].key);
        /* The entry at j may move to the gap at i unless its home lies
         * cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            d->slots[i] = d->slots[j];
            i = j;
        }
    }
    d->slots[i] = 0;
}

void fw_distinct_forget_before(fw_distinct *d, int64_t ts) {
    while (d->head != NIL && d->nodes[d->head].ts < ts) {
        uint32_t i = d->head;
        delete_slot(d, find(d, d->nodes[i].key));
        unlink_node(d, i);
        d->nodes[i].next = d->free_node;
        d->free_node = i;
        d->size--;
    }
}

uint32_t fw_distinct_count_since(const fw_distinct *d, int64_t from, bool inclusive,
                                 uint32_t limit) {
    uint32_t n = 0;
    for (uint32_t i = d->tail; i != NIL && n < limit; i = d->nodes[i].prev) {
        int64_t t = d->nodes[i].ts;
        if (inclusive ? t < from : t <= from)
            break;
        n++;
    }
    return n;
}
