/* fw_pool.h — a recycling allocator with power-of-two size classes. Blocks
 * freed go to a free list and are handed out again, so a steady stream of
 * buffered events causes no malloc at all once the pool has warmed up. */
#ifndef FW_POOL_H
#define FW_POOL_H

#include <stddef.h>
#include <stdint.h>

#define FW_POOL_CLASSES 24 /* 64 B .. 512 MiB */

typedef struct fw_pool {
    void *free[FW_POOL_CLASSES];  /* singly linked through the first word */
    uint64_t live_bytes;          /* handed out and not yet returned */
    uint64_t mallocs;             /* times the pool had to go to malloc */
} fw_pool;

void fw_pool_init(fw_pool *p);
/** @brief Frees every block on the free lists (live blocks are the caller's). */
void fw_pool_fini(fw_pool *p);
/** @returns a block of at least @p n bytes, or NULL. */
void *fw_pool_alloc(fw_pool *p, size_t n);
/** @brief Returns a block of the size it was allocated with. */
void fw_pool_free(fw_pool *p, void *block, size_t n);

#endif
