/* repartition.h — what the Kafka runtime needs to run a stage (stage.h)
 * behind a repartition topic: the topics' names, the watermark records the
 * input tasks send down, and the minimum a stage task takes over them.
 *
 * A stage task's event time is the minimum of the watermarks of every input
 * partition (its upstream): a window closes there only when every input
 * partition has passed it. An input task writes its watermark to every
 * partition of every repartition topic in the transaction that commits its
 * records, as a record with no value and two headers (FW_WM_HEADER_SOURCE:
 * the input partition; FW_WM_HEADER_WATERMARK: epoch ms, or "idle:" and
 * epoch ms (or "idle" alone, with no event time yet) for an input partition
 * read to its end and silent for the idle timeout: it holds nobody back while
 * another is not idle; when all are, the stage follows the highest (their
 * wall-clock advance). A record an idle partition gets later may arrive behind a stage's
 * watermark, as it may behind its own after the idle advance. */
#ifndef FW_REPARTITION_H
#define FW_REPARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_WM_HEADER_SOURCE "fw.wm.source"
#define FW_WM_HEADER_WATERMARK "fw.wm"

/** @brief Writes a watermark header value into @p out: @p wm (INT64_MIN:
 *  none yet), marked idle or not. */
void fw_upstream_wm_format(char *out, size_t size, int64_t wm, bool idle);

/** @brief "<group>-repartition-<name>" in @p out, the stage's name with
 *  every byte a topic name may not hold replaced by '_'. */
void fw_repartition_topic(char *out, size_t size, const char *group, const char *stage_name);

/** @brief The changelog of a stage's tasks: "<changelog>-<name>", sanitized
 *  the same way. */
void fw_repartition_changelog(char *out, size_t size, const char *changelog,
                              const char *stage_name);

/** The watermarks a stage task has heard from its upstream partitions. */
typedef struct fw_upstream_wm {
    int64_t *wm;        /* per input partition; INT64_MIN: not heard yet, or idle with none */
    bool *idle;         /* per input partition: it said it is idle */
    int32_t n;
} fw_upstream_wm;

bool fw_upstream_wm_init(fw_upstream_wm *u, int32_t partitions);
void fw_upstream_wm_fini(fw_upstream_wm *u);

/** @brief Takes one watermark record's headers (values as written, not
 *  NUL-terminated). @returns false for a record it cannot read (source out
 *  of range, value not a number, "idle" or "idle:" and a number): the
 *  caller counts and logs it. */
bool fw_upstream_wm_take(fw_upstream_wm *u, const void *source, size_t source_len,
                         const void *value, size_t value_len);

/** @brief The minimum over the upstream partitions that are not idle;
 *  INT64_MIN while one of them has not been heard from. When all are idle
 *  (read to their end; --exit-at-end's end too), the highest watermark they
 *  gave (INT64_MIN: none gave one): nothing waits upstream. */
int64_t fw_upstream_wm_min(const fw_upstream_wm *u);

/** @brief Every upstream partition said it is idle (--exit-at-end: all
 *  read to their end, and all they sent is before that). */
bool fw_upstream_wm_all_idle(const fw_upstream_wm *u);

/** @brief The upstream partition the minimum comes from (the first not
 *  heard from, else the lowest not idle); -1 when all are idle. */
int32_t fw_upstream_wm_holder(const fw_upstream_wm *u);

#endif
