/* changelog_restore.h — rebuilding tasks' keyed state from their partitions
 * of the state changelogs, on assignment and after an aborted transaction.
 * The changelog is co-partitioned with the input, so partition p of the
 * changelog holds the state of input partition p. */
#ifndef FW_CHANGELOG_RESTORE_H
#define FW_CHANGELOG_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "engine.h"

/** Key of the record every commit writes to each changelog partition it
 *  changes. Its value is the commit's token, which is also the metadata of
 *  the offsets committed for that partition's task. The restore reads the
 *  record and never restores it into an engine. */
#define FW_CHANGELOG_COMMIT_KEY "C"

/** One partition for fw_changelog_restore_all. */
typedef struct fw_restore_job {
    const char *topic;
    int32_t partition;
    fw_engine *engine;   /* fresh */
    /* The token of the last commit whose offsets the group holds for this
     * task, or NULL/"" when none is known. A commit returns before the
     * broker has written its markers, and until then a read_committed read
     * ends before that commit's records, while the group already serves
     * its offsets. So the read goes on past the end until this token's
     * record has been read. Without the wait, state is lost at a handover. */
    const char *expect;
    size_t keys;         /* out: keys restored */
    bool ok;             /* out: read to its end and applied */
} fw_restore_job;

/** What a restore tells its caller while it runs; every member may be NULL/0. */
typedef struct fw_restore_hooks {
    /* Once per job whose end came before its expected commit. */
    void (*on_wait)(void *opaque, const fw_restore_job *job);
    /* While the partitions are read, at most every progress_ms (0: 1000),
     * once more when every one is at its end, and after each is applied:
     * the changelog records read so far. A long restore is alive, not stuck. */
    void (*on_progress)(void *opaque, uint64_t records);
    int64_t progress_ms;
    void *opaque;
} fw_restore_hooks;

/** @brief Reads each job's partition of its changelog topic to its end (and on
 *  to its expected commit, if it has one) with
 *  @p reader (made by fw_kafka_reader_new: read_committed, partition EOF on;
 *  assigned here and unassigned before returning) and puts the latest
 *  record of every key into the job's fresh engine; a tombstone as latest
 *  record restores nothing. All @p n partitions (a rebalance's) are
 *  assigned together and read side by side: one wait for the broker, not
 *  one each. A record an engine refuses is skipped and logged (the first
 *  five), prefixed with fraudwatch[@p instance_id]. @p hooks (may be NULL)
 *  hears of each job that waits for its expected commit (the wait is
 *  logged either way) and of the progress.
 *  @returns false when a partition could not be read to its end (its task
 *  must not process input then; its job says which); the reason is logged. */
bool fw_changelog_restore_all(rd_kafka_t *reader, fw_restore_job *jobs, size_t n,
                              const char *instance_id, const fw_restore_hooks *hooks);

#endif
