/* distinct.h — distinct keys of a sliding window, counted in O(limit).
 *
 * fan_in, fan_out and risk_score ask "how many distinct counterparties
 * (merchants) since time T?", and only up to a limit (5 senders, 21
 * merchants). Scanning the window answers it in O(window): one busy key
 * with thousands of events, most of them with the same few counterparties,
 * made every one of its transactions cost thousands of steps. This index
 * keeps each key's latest time in a list ordered by that time, newest
 * last, so the answer is a walk from the newest key that stops at the limit
 * or at T. Events noted in time order cost O(1); an older one walks back
 * to its place. Memory: one node per distinct key (40 bytes with its hash
 * slots), grown by doubling, never per event once warm. */
#ifndef FW_DISTINCT_H
#define FW_DISTINCT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fw_distinct fw_distinct;

/** @brief An empty index. @returns NULL when out of memory. */
fw_distinct *fw_distinct_new(void);

/** @brief Frees the index; NULL is a no-op. */
void fw_distinct_destroy(fw_distinct *d);

/** @brief Forgets every key, keeping the memory. */
void fw_distinct_clear(fw_distinct *d);

/** @brief Notes @p key at @p ts: its latest time becomes the later of the
 *  two. @returns false when out of memory (the index is then incomplete:
 *  the caller must stop trusting it). */
bool fw_distinct_note(fw_distinct *d, uint64_t key, int64_t ts);

/** @brief Forgets the keys whose latest time is before @p ts. */
void fw_distinct_forget_before(fw_distinct *d, int64_t ts);

/** @brief Keys whose latest time is after @p from (at or after it when
 *  @p inclusive), counting no further than @p limit. */
uint32_t fw_distinct_count_since(const fw_distinct *d, int64_t from, bool inclusive,
                                 uint32_t limit);

/** @brief Keys held now. */
uint32_t fw_distinct_size(const fw_distinct *d);

#endif
