/* time_guard.h — file mode's defence against one record moving event time.
 *
 * Without a Kafka timestamp to check an event time against, the records
 * around it are the only reference. A record more than max_jump ahead of the
 * newest event time accepted so far is held (as is the very first record,
 * which has nothing to compare with) until the records after it decide:
 *   - a later record at or after it (>= held - max_jump) confirms it;
 *   - a later record further back contradicts it.
 * A held record is accepted once its confirmations outnumber its
 * contradictions, and rejected after FW_TIME_GUARD_CONTRADICTIONS
 * contradictions. At the end of input (or when the hold queue is full, for
 * its oldest record) an uncontradicted record is accepted, a contradicted one
 * rejected. Pure: it sees only event times and hands out slot numbers; the
 * caller keeps the held records' bytes in its slots. */
#ifndef FW_TIME_GUARD_H
#define FW_TIME_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#define FW_TIME_GUARD_MAX_HELD 64        /* records held at once */
#define FW_TIME_GUARD_CONTRADICTIONS 3   /* later records behind it that reject a jump */

/** What the guard decided about a held record. */
typedef struct fw_time_guard_verdict {
    uint32_t slot;          /* the slot the record was held in (free after the call) */
    bool accepted;          /* false: rejected, a dead letter */
    int64_t ts;             /* its event time */
    int64_t reference;      /* the newest accepted event time (or, before any, the
                               newest record that contradicted it); INT64_MIN: none */
    uint32_t contradictions;
} fw_time_guard_verdict;

typedef void (*fw_time_guard_fn)(void *opaque, const fw_time_guard_verdict *v);

typedef struct fw_time_guard_held {
    int64_t ts;
    uint32_t slot;
    uint32_t confirms, contradicts;
    int64_t contradicted_by;   /* event time of the newest record that contradicted it */
} fw_time_guard_held;

typedef struct fw_time_guard {
    int64_t max_jump_ms;       /* 0: off, everything is accepted at once */
    int64_t newest;            /* newest accepted event time; INT64_MIN: none yet */
    fw_time_guard_held held[FW_TIME_GUARD_MAX_HELD]; /* in arrival order */
    uint32_t nheld;
    bool slot_used[FW_TIME_GUARD_MAX_HELD];
    uint64_t held_total;       /* records ever held */
    uint64_t rejected;         /* records rejected */
} fw_time_guard;

/** @brief An empty guard; @p max_jump_ms 0 turns it off. */
void fw_time_guard_init(fw_time_guard *g, int64_t max_jump_ms);

/**
 * @brief Offers the event time of the next record. First reports, through
 * @p fn in arrival order, what this record decided about the held ones; then
 * returns true when the record itself is accepted now (the caller applies it
 * after those), or false when it is held in *@p slot (the caller copies it
 * there and waits for its verdict).
 */
bool fw_time_guard_offer(fw_time_guard *g, int64_t ts, uint32_t *slot, fw_time_guard_fn fn,
                         void *opaque);

/** @brief End of input: decides every held record, in arrival order. */
void fw_time_guard_finish(fw_time_guard *g, fw_time_guard_fn fn, void *opaque);

#endif
