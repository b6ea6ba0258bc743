/* kafka_conf.h — librdkafka settings shared by every Kafka client we make:
 * bootstrap servers (with the seeds' environment names), SASL/SSL from the
 * environment, and pass-through `-X key=value` properties. */
#ifndef FW_KAFKA_CONF_H
#define FW_KAFKA_CONF_H

#include <stdbool.h>
#include <librdkafka/rdkafka.h>
#include "fw_err.h"

#define FW_KAFKA_MAX_PROPS 64
#define FW_KAFKA_DEFAULT_BOOTSTRAP "localhost:9092"

typedef struct fw_kafka_opts {
    const char *bootstrap;               /* never NULL after init */
    const char *props[FW_KAFKA_MAX_PROPS][2]; /* key, value: borrowed strings */
    int nprops;
    char storage[FW_KAFKA_MAX_PROPS][512];    /* owns "key\0value" of -X arguments */
} fw_kafka_opts;

/** @brief Defaults, then the environment: KAFKA_BOOTSTRAP_SERVERS or
 *  KAFKA_BROKER_ADDRESS; KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
 *  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION,
 *  KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION. */
void fw_kafka_opts_init(fw_kafka_opts *o);

/** @brief Adds a librdkafka property given as "key=value" (the -X flag). */
fw_err fw_kafka_opts_add(fw_kafka_opts *o, const char *kv, char *errstr, size_t errstr_size);

/** @brief The value of property @p key given with -X (or the environment),
 *  or NULL: defaults we choose give way to it. */
const char *fw_kafka_opts_get(const fw_kafka_opts *o, const char *key);

/** @brief A new librdkafka conf with bootstrap.servers and every property set.
 *  @returns NULL with @p errstr naming the rejected property. */
rd_kafka_conf_t *fw_kafka_conf_new(const fw_kafka_opts *o, char *errstr, size_t errstr_size);

/** @brief Sets one property or fails naming it. */
fw_err fw_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                         char *errstr, size_t errstr_size);

/** @brief The settings of an exactly-once group reader: cooperative-sticky,
 *  read_committed, no automatic commit or offset store, partition EOF
 *  events, @p offset_reset_latest or earliest. The engine's consumer, and
 *  `fraudwatch pipe`'s that measures its ceiling with the same settings. */
fw_err fw_kafka_conf_eos_consumer(rd_kafka_conf_t *conf, const char *group_id,
                                  bool offset_reset_latest, char *errstr, size_t errstr_size);

/** @brief The settings of a transactional writer: @p transactional_id,
 *  linger.ms 5, lz4 unless -X compression.type says otherwise (a staged
 *  run writes each transaction again per stage: the broker stores a quarter
 *  of the bytes), and retry.backoff.ms 20 unless -X says otherwise (commits
 *  back to back). The engine's producer and `fraudwatch pipe`'s. */
fw_err fw_kafka_conf_eos_producer(rd_kafka_conf_t *conf, const fw_kafka_opts *o,
                                  const char *transactional_id, char *errstr,
                                  size_t errstr_size);

/** @brief A consumer that reads partitions it is assigned by hand, from
 *  outside any group, committed data only, with partition EOF events:
 *  the changelog restorer and the profiles follower. Its client id is
 *  fraudwatch-INSTANCE-ROLE.
 *  @returns NULL with @p errstr saying why. */
rd_kafka_t *fw_kafka_reader_new(const fw_kafka_opts *o, const char *instance_id,
                                const char *role, char *errstr, size_t errstr_size);

/** @brief rd_kafka_committed() that asks again, with a short backoff, while
 *  the group coordinator is busy, moving or slow (timeouts, coordinator not
 *  available or loading) or a partition's offsets are in a transaction not
 *  yet complete, for at most @p budget_ms in all. Each retry is
 *  reported to @p on_retry (may be NULL) with the error and the attempt.
 *  @returns the last error (RD_KAFKA_RESP_ERR_NO_ERROR on success). */
rd_kafka_resp_err_t fw_kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                       int64_t budget_ms,
                                       void (*on_retry)(void *opaque, rd_kafka_resp_err_t err,
                                                        int attempt),
                                       void *opaque);

#endif
