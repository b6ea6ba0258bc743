/* fw_pool.c — size-class free lists over malloc. */
#include "fw_pool.h"

#include <stdlib.h>
#include <string.h>

static int size_class(size_t n) {
    int c = 0;
    size_t sz = 64;
    while (sz < n && c < FW_POOL_CLASSES - 1) {
        sz <<= 1;
        c++;
    }
    return sz >= n ? c : -1;
}

void fw_pool_init(fw_pool *p) { memset(p, 0, sizeof(*p)); }

void fw_pool_fini(fw_pool *p) {
    for (int c = 0; c < FW_POOL_CLASSES; c++) {
        void *b = p->free[c];
        while (b) {
            void *next;
            memcpy(&next, b, sizeof(next));
            free(b);
            b = next;
        }
        p->free[c] = NULL;
    }
}

void *fw_pool_alloc(fw_pool *p, size_t n) {
    int c = size_class(n);
    if (c < 0)
        return NULL;
    void *b = p->free[c];
    if (b) {
        memcpy(&p->free[c], b, sizeof(void *));
    } else {
        b = malloc((size_t)64 << c);
        if (!b)
            return NULL;
        p->mallocs++;
    }
    p->live_bytes += (uint64_t)64 << c;
    return b;
}

void fw_pool_free(fw_pool *p, void *block, size_t n) {
    if (!block)
        return;
    int c = size_class(n);
    memcpy(block, &p->free[c], sizeof(void *));
    p->free[c] = block;
    p->live_bytes -= (uint64_t)64 << c;
}
