/* topics.h — creating and checking the engine's topics with the Admin API.
 * Topics are created by fraudwatch (the broker does not auto-create them). */
#ifndef FW_TOPICS_H
#define FW_TOPICS_H

#include <stdbool.h>
#include "kafka_conf.h"

typedef struct fw_topic_spec {
    const char *name;
    int partitions;          /* for creation; and the required count when must_match */
    int replication_factor;
    bool compacted;          /* created with cleanup.policy=compact (changelogs, profiles);
                                an existing one that is not gets a warning */
    bool must_compact;       /* an existing one that is not compacted is refused */
    bool must_match;         /* co-partitioned with the input: existing count must equal */
} fw_topic_spec;

/**
 * @brief Creates each topic that does not exist; checks those that do.
 * An existing topic with a different partition count is an error when
 * must_match, else a warning on stderr. A topic that is compacted or
 * must_compact must have a cleanup.policy containing "compact" (read with
 * DescribeConfigs): if not, a must_compact one is an error whose message
 * names the topic, the policy found and the kafka-configs.sh command that
 * fixes it; the others get a warning. On success, spec[i].partitions
 * holds the topic's actual partition count.
 * @returns FW_OK, or an error with @p errstr naming the topic.
 */
fw_err fw_topics_ensure(const fw_kafka_opts *o, fw_topic_spec *specs, int n, int timeout_ms,
                        char *errstr, size_t errstr_size);

#endif
