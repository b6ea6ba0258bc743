/* time_guard.c — holds event-time jumps until later records confirm or
 * contradict them (time_guard.h). A few comparisons per record while nothing
 * is held; a held record costs one pass over the (small) hold queue per
 * record until it is decided. */
#include "time_guard.h"

#include <string.h>

void fw_time_guard_init(fw_time_guard *g, int64_t max_jump_ms) {
    memset(g, 0, sizeof(*g));
    g->max_jump_ms = max_jump_ms;
    g->newest = INT64_MIN;
}

/* a + b without overflow (b >= 0). */
static int64_t add_sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
static int64_t sub_sat(int64_t a, int64_t b) { return a < INT64_MIN + b ? INT64_MIN : a - b; }

/* Reports and removes held record @p i. */
static void decide(fw_time_guard *g, uint32_t i, bool accepted, fw_time_guard_fn fn,
                   void *opaque) {
    fw_time_guard_held h = g->held[i];
    memmove(&g->held[i], &g->held[i + 1], sizeof(h) * (g->nheld - i - 1));
    g->nheld--;
    g->slot_used[h.slot] = false;
    if (accepted) {
        if (h.ts > g->newest)
            g->newest = h.ts;
    } else {
        g->rejected++;
    }
    fw_time_guard_verdict v = { .slot = h.slot, .accepted = accepted, .ts = h.ts,
                                .reference = g->newest != INT64_MIN ? g->newest
                                                                    : h.contradicted_by,
                                .contradictions = h.contradicts };
    fn(opaque, &v);
}

/* Whether @p ts is close enough to the newest accepted time to need no vote. */
static bool within(const fw_time_guard *g, int64_t ts) {
    return g->newest != INT64_MIN && ts <= add_sat(g->newest, g->max_jump_ms);
}

/* Decides, in arrival order, every held record the votes so far settle. */
static void sweep(fw_time_guard *g, fw_time_guard_fn fn, void *opaque) {
    for (uint32_t i = 0; i < g->nheld;) {
        const fw_time_guard_held *h = &g->held[i];
        if (h->contradicts >= FW_TIME_GUARD_CONTRADICTIONS)
            decide(g, i, false, fn, opaque);
        else if (h->confirms > h->contradicts || (h->contradicts == 0 && within(g, h->ts))) {
            decide(g, i, true, fn, opaque);
            i = 0; /* the newest time moved: an earlier one may now be within reach */
        } else
            i++;
    }
}

bool fw_time_guard_offer(fw_time_guard *g, int64_t ts, uint32_t *slot, fw_time_guard_fn fn,
                         void *opaque) {
    if (g->max_jump_ms <= 0)
        return true;
    if (g->nheld == 0 && within(g, ts)) { /* the common case */
        if (ts > g->newest)
            g->newest = ts;
        return true;
    }
    /* This record votes on every held one. */
    for (uint32_t i = 0; i < g->nheld; i++) {
        fw_time_guard_held *h = &g->held[i];
        if (ts >= sub_sat(h->ts, g->max_jump_ms)) {
            h->confirms++;
        } else {
            h->contradicts++;
            h->contradicted_by = ts;
        }
    }
    sweep(g, fn, opaque);
    if (within(g, ts)) {
        if (ts > g->newest)
            g->newest = ts;
        return true;
    }
    if (g->nheld == FW_TIME_GUARD_MAX_HELD) /* full: the oldest is decided as at the end */
        decide(g, 0, g->held[0].contradicts == 0, fn, opaque);
    uint32_t s = 0;
    while (g->slot_used[s])
        s++;
    g->slot_used[s] = true;
    g->held[g->nheld++] = (fw_time_guard_held){ .ts = ts, .slot = s,
                                                .contradicted_by = INT64_MIN };
    g->held_total++;
    *slot = s;
    return false;
}

void fw_time_guard_finish(fw_time_guard *g, fw_time_guard_fn fn, void *opaque) {
    while (g->nheld)
        decide(g, 0, g->held[0].contradicts == 0, fn, opaque);
}
