/* profiles_follow.c — a reader of the whole profiles topic that feeds
 * fw_profiles between batches of the processing loop. */
#include "profiles_follow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fw_os.h"
#include "topics.h"

#define FW_PROFILES_CATCH_UP_MS 120000 /* start-up read to the end gives up after */
#define FW_PROFILES_LOGGED_ERRORS 10

struct fw_profiles_follower {
    rd_kafka_t *rk;          /* assigned every partition of the topic */
    const char *topic;
    const char *instance_id; /* log prefix */
    fw_profiles *profiles;
    uint64_t updates, errors;
};

static void logf_(const fw_profiles_follower *pf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const fw_profiles_follower *pf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fw_vlog(pf->instance_id, fmt, ap);
    va_end(ap);
}

fw_profiles_follower *fw_profiles_follower_new(const fw_kafka_opts *kafka, const char *topic,
                                               int partitions, int replication_factor,
                                               const char *instance_id, fw_profiles *profiles,
                                               char *errstr, size_t errstr_size) {
    fw_topic_spec spec = { .name = topic, .partitions = partitions,
                           .replication_factor = replication_factor, .compacted = true };
    if (fw_topics_ensure(kafka, &spec, 1, 30000, errstr, errstr_size))
        return NULL;
    fw_profiles_follower *pf = calloc(1, sizeof(*pf));
    if (!pf) {
        snprintf(errstr, errstr_size, "profiles follower: out of memory");
        return NULL;
    }
    pf->topic = topic;
    pf->instance_id = instance_id;
    pf->profiles = profiles;
    pf->rk = fw_kafka_reader_new(kafka, instance_id, "profiles", errstr, errstr_size);
    if (!pf->rk) {
        free(pf);
        return NULL;
    }
    /* fw_topics_ensure gave the partition count of an existing topic. */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(spec.partitions);
    for (int p = 0; p < spec.partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(pf->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return pf;
}

void fw_profiles_follower_poll(fw_profiles_follower *pf, bool to_end) {
    if (!pf)
        return;
    int64_t deadline = fw_mono_ms() + FW_PROFILES_CATCH_UP_MS;
    int eof = 0, nparts = -1;
    if (to_end) {
        rd_kafka_topic_partition_list_t *a = NULL;
        if (!rd_kafka_assignment(pf->rk, &a)) {
            nparts = a->cnt;
            rd_kafka_topic_partition_list_destroy(a);
        }
    }
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(pf->rk, to_end ? 200 : 0);
        if (!m) {
            if (!to_end || eof >= nparts || fw_mono_ms() > deadline)
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else if (m->err) {
            logf_(pf, "profiles: %s", rd_kafka_message_errstr(m));
        } else {
            char err[300];
            if (fw_profiles_apply(pf->profiles, (fw_str){ m->key, m->key_len }, m->payload,
                                  m->len, err, sizeof(err)) == FW_OK)
                pf->updates++;
            else if (pf->errors++ < FW_PROFILES_LOGGED_ERRORS)
                logf_(pf, "profiles %s[%" PRId32 "]@%" PRId64 ": %s (skipped)", pf->topic,
                      m->partition, m->offset, err);
        }
        rd_kafka_message_destroy(m);
        if (to_end && eof >= nparts)
            break;
    }
    if (to_end)
        logf_(pf, "profiles: %zu customers from %s", fw_profiles_count(pf->profiles), pf->topic);
}

uint64_t fw_profiles_follower_updates(const fw_profiles_follower *pf) {
    return pf ? pf->updates : 0;
}

uint64_t fw_profiles_follower_errors(const fw_profiles_follower *pf) {
    return pf ? pf->errors : 0;
}

void fw_profiles_follower_destroy(fw_profiles_follower *pf) {
    if (!pf)
        return;
    if (pf->rk) {
        rd_kafka_consumer_close(pf->rk);
        rd_kafka_destroy(pf->rk);
    }
    free(pf);
}
