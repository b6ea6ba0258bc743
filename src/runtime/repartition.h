/* repartition.h — what the Kafka runtime needs to run a stage (stage.h)
 * behind a repartition topic: the topics' names, the watermark records the
 * input tasks send down, and the minimum a stage task takes over them.
 *
 * A stage task's event time is the minimum of the watermarks of every input
 * partition (its upstream): a window closes there only when every input
 * partition has passed it. An input task writes its watermark to every
 * partition of every repartition topic in the transaction that commits its
 * records, as a record with no value and two headers (FW_WM_HEADER_SOURCE:
 * the input partition; FW_WM_HEADER_WATERMARK: epoch ms, or "idle" for an
 * input partition that has had no record for the idle timeout, so that it
 * holds nobody back: a record it gets later may arrive behind a stage's
 * watermark, as it may behind its own after the idle advance). */
#ifndef FW_REPARTITION_H
#define FW_REPARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_WM_HEADER_SOURCE "fw.wm.source"
#define FW_WM_HEADER_WATERMARK "fw.wm"
#define FW_WM_IDLE INT64_MAX /* the value of an "idle" watermark record */

/** @brief "<group>-repartition-<name>" in @p out, the stage's name with
 *  every byte a topic name may not hold replaced by '_'. */
void fw_repartition_topic(char *out, size_t size, const char *group, const char *stage_name);

/** @brief The changelog of a stage's tasks: "<changelog>-<name>", sanitized
 *  the same way. */
void fw_repartition_changelog(char *out, size_t size, const char *changelog,
                              const char *stage_name);

/** The watermarks a stage task has heard from its upstream partitions. */
typedef struct fw_upstream_wm {
    int64_t *wm;        /* per input partition; INT64_MIN: not heard yet (wait for it) */
    int32_t n;
} fw_upstream_wm;

bool fw_upstream_wm_init(fw_upstream_wm *u, int32_t partitions);
void fw_upstream_wm_fini(fw_upstream_wm *u);

/** @brief Takes one watermark record's headers (values as written, not
 *  NUL-terminated). @returns false for a record it cannot read (source out
 *  of range, value not a number or "idle"): the caller counts and logs it. */
bool fw_upstream_wm_take(fw_upstream_wm *u, const void *source, size_t source_len,
                         const void *value, size_t value_len);

/** @brief The minimum over the upstream partitions that are not idle;
 *  INT64_MIN while one has not been heard from, or when all are idle. */
int64_t fw_upstream_wm_min(const fw_upstream_wm *u);

#endif
