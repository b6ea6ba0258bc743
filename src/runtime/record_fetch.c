/* record_fetch.c — one committed record read back by offset (record_fetch.h). */
#include "record_fetch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_os.h"

/* Further on in the partition read than this: assigned afresh at the offset
 * instead of reading through the records in between. */
#define FW_FETCH_SKIP_MAX 2000

struct fw_record_fetch {
    rd_kafka_t *rk;
    rd_kafka_message_t *last;  /* the record returned last */
    char topic[256];           /* the partition assigned, and where it is read to */
    int32_t partition;
    int64_t next;              /* -1: nothing assigned */
};

fw_record_fetch *fw_record_fetch_new(rd_kafka_t *rk) {
    fw_record_fetch *f = calloc(1, sizeof(*f));
    if (!f) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    f->rk = rk;
    f->next = -1;
    return f;
}

void fw_record_fetch_destroy(fw_record_fetch *f) {
    if (!f)
        return;
    if (f->last)
        rd_kafka_message_destroy(f->last);
    rd_kafka_consumer_close(f->rk);
    rd_kafka_destroy(f->rk);
    free(f);
}

static bool assign_at(fw_record_fetch *f, const char *topic, int32_t partition, int64_t offset,
                      char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(f->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        snprintf(errstr, errstr_size, "assign %s[%" PRId32 "]@%" PRId64 ": %s", topic,
                 partition, offset, rd_kafka_err2str(err));
        f->next = -1;
        return false;
    }
    snprintf(f->topic, sizeof(f->topic), "%s", topic);
    f->partition = partition;
    f->next = offset;
    return true;
}

const rd_kafka_message_t *fw_record_fetch_get(fw_record_fetch *f, const char *topic,
                                              int32_t partition, int64_t offset,
                                              int timeout_ms, char *errstr,
                                              size_t errstr_size) {
    if (f->last) {
        rd_kafka_message_destroy(f->last);
        f->last = NULL;
    }
    bool here = f->next >= 0 && f->partition == partition && !strcmp(f->topic, topic) &&
                offset >= f->next && offset - f->next <= FW_FETCH_SKIP_MAX;
    if (!here && !assign_at(f, topic, partition, offset, errstr, errstr_size))
        return NULL;
    int64_t deadline = fw_mono_ms() + timeout_ms;
    bool afresh = !here;
    for (;;) {
        int64_t left = deadline - fw_mono_ms();
        if (left <= 0) {
            snprintf(errstr, errstr_size, "%s[%" PRId32 "]@%" PRId64 ": not read within %d ms",
                     topic, partition, offset, timeout_ms);
            f->next = -1; /* where it stands is not known: assigned afresh next time */
            return NULL;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->rk, (int)(left < 100 ? left : 100));
        if (!m)
            continue;
        bool ours = m->rkt && m->partition == partition &&
                    !strcmp(rd_kafka_topic_name(m->rkt), topic);
        if (!ours) { /* a leftover of an earlier assignment */
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && !afresh) {
            /* Told while reading on from the last record asked for: the end
             * may be an old one, from before the record was written. */
            rd_kafka_message_destroy(m);
            if (!assign_at(f, topic, partition, offset, errstr, errstr_size))
                return NULL;
            afresh = true;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (!m->err && m->offset > offset)) {
            snprintf(errstr, errstr_size, "%s[%" PRId32 "]@%" PRId64 ": no such record (%s)",
                     topic, partition, offset,
                     m->err ? "past the end of the partition" : "compacted or deleted");
            f->next = m->err ? -1 : m->offset + 1;
            rd_kafka_message_destroy(m);
            return NULL;
        }
        if (m->err) {
            snprintf(errstr, errstr_size, "%s[%" PRId32 "]@%" PRId64 ": %s", topic, partition,
                     offset, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            f->next = -1;
            return NULL;
        }
        f->next = m->offset + 1;
        if (m->offset == offset) {
            f->last = m;
            return m;
        }
        rd_kafka_message_destroy(m); /* on the way to it */
    }
}
