/* kafka_conf.c — building librdkafka configurations from options and env. */
#include "kafka_conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_os.h"

static void add_env(fw_kafka_opts *o, const char *env, const char *key) {
    const char *v = getenv(env);
    if (v && *v && o->nprops < FW_KAFKA_MAX_PROPS) {
        o->props[o->nprops][0] = key;
        o->props[o->nprops][1] = v;
        o->nprops++;
    }
}

void fw_kafka_opts_init(fw_kafka_opts *o) {
    memset(o, 0, sizeof(*o));
    const char *b = getenv("KAFKA_BOOTSTRAP_SERVERS");
    if (!b || !*b)
        b = getenv("KAFKA_BROKER_ADDRESS");
    o->bootstrap = b && *b ? b : FW_KAFKA_DEFAULT_BOOTSTRAP;
    add_env(o, "KAFKA_SECURITY_PROTOCOL", "security.protocol");
    add_env(o, "KAFKA_SASL_MECHANISM", "sasl.mechanism");
    add_env(o, "KAFKA_SASL_USERNAME", "sasl.username");
    add_env(o, "KAFKA_SASL_PASSWORD", "sasl.password");
    add_env(o, "KAFKA_SSL_CA_LOCATION", "ssl.ca.location");
    add_env(o, "KAFKA_SSL_CERTIFICATE_LOCATION", "ssl.certificate.location");
    add_env(o, "KAFKA_SSL_KEY_LOCATION", "ssl.key.location");
}

fw_err fw_kafka_opts_add(fw_kafka_opts *o, const char *kv, char *errstr, size_t errstr_size) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(errstr, errstr_size, "--kafka-config: expected KEY=VALUE, got \"%s\"", kv);
        return FW_ERR_INVALID;
    }
    if (o->nprops >= FW_KAFKA_MAX_PROPS) {
        snprintf(errstr, errstr_size, "--kafka-config: more than %d properties",
                 FW_KAFKA_MAX_PROPS);
        return FW_ERR_LIMIT;
    }
    size_t len = strlen(kv);
    char *slot = o->storage[o->nprops];
    if (len >= sizeof(o->storage[0])) {
        snprintf(errstr, errstr_size, "--kafka-config: \"%.40s...\" is longer than %zu bytes",
                 kv, sizeof(o->storage[0]) - 1);
        return FW_ERR_LIMIT;
    }
    memcpy(slot, kv, len + 1);
    slot[eq - kv] = '\0';
    o->props[o->nprops][0] = slot;
    o->props[o->nprops][1] = slot + (eq - kv) + 1;
    o->nprops++;
    return FW_OK;
}

fw_err fw_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                         char *errstr, size_t errstr_size) {
    char rderr[256];
    if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "Kafka property %s: %s", key, rderr);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

const char *fw_kafka_opts_get(const fw_kafka_opts *o, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < o->nprops; i++) /* the last one given wins, as in the conf */
        if (!strcmp(o->props[i][0], key))
            v = o->props[i][1];
    return v;
}

rd_kafka_conf_t *fw_kafka_conf_new(const fw_kafka_opts *o, char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (fw_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, errstr, errstr_size))
        goto fail;
    for (int i = 0; i < o->nprops; i++)
        if (fw_kafka_conf_set(conf, o->props[i][0], o->props[i][1], errstr, errstr_size))
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

fw_err fw_kafka_conf_eos_consumer(rd_kafka_conf_t *conf, const char *group_id,
                                  bool offset_reset_latest, char *errstr, size_t errstr_size) {
    const char *props[][2] = {
        { "group.id", group_id },
        { "partition.assignment.strategy", "cooperative-sticky" },
        { "isolation.level", "read_committed" },
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
        { "auto.offset.reset", offset_reset_latest ? "latest" : "earliest" },
        /* --exit-at-end, and a stage's idle input partitions (send_watermark). */
        { "enable.partition.eof", "true" },
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (fw_kafka_conf_set(conf, props[i][0], props[i][1], errstr, errstr_size))
            return FW_ERR_INVALID;
    return FW_OK;
}

fw_err fw_kafka_conf_eos_producer(rd_kafka_conf_t *conf, const fw_kafka_opts *o,
                                  const char *transactional_id, char *errstr,
                                  size_t errstr_size) {
    if (fw_kafka_conf_set(conf, "transactional.id", transactional_id, errstr, errstr_size) ||
        fw_kafka_conf_set(conf, "linger.ms", "5", errstr, errstr_size))
        return FW_ERR_INVALID;
    if (!fw_kafka_opts_get(o, "compression.type") &&
        fw_kafka_conf_set(conf, "compression.type", "lz4", errstr, errstr_size))
        return FW_ERR_INVALID;
    /* A transaction's offsets often reach the coordinator before it has
     * finished the previous commit: CONCURRENT_TRANSACTIONS, retried after
     * this. librdkafka's 100 ms made one commit in ten take 100-500 ms, and
     * every record waits for it; 20 ms is the Java client's for this case. */
    if (!fw_kafka_opts_get(o, "retry.backoff.ms") &&
        fw_kafka_conf_set(conf, "retry.backoff.ms", "20", errstr, errstr_size))
        return FW_ERR_INVALID;
    return FW_OK;
}

/* No commits, so the group id only satisfies librdkafka; partition EOF on,
 * so a caller knows when it has read everything there was. */
rd_kafka_t *fw_kafka_reader_new(const fw_kafka_opts *o, const char *instance_id,
                                const char *role, char *errstr, size_t errstr_size) {
    char rderr[256], client_id[256];
    rd_kafka_conf_t *conf = fw_kafka_conf_new(o, errstr, errstr_size);
    if (!conf)
        return NULL;
    snprintf(client_id, sizeof(client_id), "fraudwatch-%s-%s", instance_id, role);
    if (fw_kafka_conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
        fw_kafka_conf_set(conf, "group.id", client_id, errstr, errstr_size) ||
        fw_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, errstr_size) ||
        fw_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size) ||
        fw_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* They read partitions to the end (a restore holds up failover): fetch
     * big (librdkafka's is 1 MB a partition), and a fetch at the end waits
     * 100 ms, not 500, before the end is known. -X wins. */
    static const char *const fetch[][2] = {
        { "max.partition.fetch.bytes", "16777216" },
        { "fetch.max.bytes", "67108864" },
        { "queued.min.messages", "1000000" },
        { "fetch.wait.max.ms", "100" },
    };
    for (size_t i = 0; i < sizeof(fetch) / sizeof(fetch[0]); i++)
        if (!fw_kafka_opts_get(o, fetch[i][0]) &&
            fw_kafka_conf_set(conf, fetch[i][0], fetch[i][1], errstr, errstr_size)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!rk) {
        snprintf(errstr, errstr_size, "%s consumer: %s", role, rderr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static bool committed_retriable(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
        return true;
    default:
        return false;
    }
}

rd_kafka_resp_err_t fw_kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                       int64_t budget_ms,
                                       void (*on_retry)(void *opaque, rd_kafka_resp_err_t err,
                                                        int attempt),
                                       void *opaque) {
    int64_t give_up = fw_mono_ms() + budget_ms;
    for (int attempt = 1;; attempt++) {
        int64_t left = give_up - fw_mono_ms();
        rd_kafka_resp_err_t err =
            rd_kafka_committed(rk, parts, (int)(left < 1 ? 1 : left > 30000 ? 30000 : left));
        /* librdkafka asks again for offsets of a transaction not yet
         * complete, but only a few times; then the partition carries the
         * error and its offset is not known. */
        for (int i = 0; !err && i < parts->cnt; i++)
            if (parts->elems[i].err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT)
                err = RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT;
        if (!err || !committed_retriable(err) || fw_mono_ms() >= give_up)
            return err;
        if (on_retry)
            on_retry(opaque, err, attempt);
        fw_sleep_ms(attempt < 5 ? 200 * attempt : 1000);
    }
}
