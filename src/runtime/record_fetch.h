/* record_fetch.h — reads one committed record back from where it was
 * written: a stage keeps only the fields its rules read, and its alert shows
 * the whole record, read again from the input (or the account topic) at its
 * offset. Alerts are few next to records, so one at a time, with a consumer
 * of its own that keeps its place when the next record asked for is further
 * on in the same partition. */
#ifndef FW_RECORD_FETCH_H
#define FW_RECORD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef struct fw_record_fetch fw_record_fetch;

/** @brief A fetcher reading with @p rk (fw_kafka_lookup_new; owned from now
 *  on, closed and destroyed by fw_record_fetch_destroy). NULL: out of
 *  memory (@p rk destroyed). */
fw_record_fetch *fw_record_fetch_new(rd_kafka_t *rk);

/** @brief Closes and frees; NULL is a no-op. */
void fw_record_fetch_destroy(fw_record_fetch *f);

/**
 * @brief The value of the record at @p offset of @p topic [@p partition],
 * waiting at most @p timeout_ms. The message stays valid until the next call
 * or destroy.
 * @returns NULL with @p errstr saying why: not there (compacted away, past
 * the end, deleted by retention) or no answer in time.
 */
const rd_kafka_message_t *fw_record_fetch_get(fw_record_fetch *f, const char *topic,
                                              int32_t partition, int64_t offset,
                                              int timeout_ms, char *errstr, size_t errstr_size);

#endif
