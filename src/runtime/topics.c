/* topics.c — creates missing topics and checks existing ones, using the
 * cluster metadata and the Admin API's CreateTopics and DescribeConfigs
 * (partition counts, and the cleanup policy of topics that must be compacted). */
#include "topics.h"
#include "fw_os.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Partition count of @p name with a leader for each partition, 0 when the
 * topic is unknown, -1 when it exists but is not ready yet. */
static int topic_partitions(const struct rd_kafka_metadata *md, const char *name) {
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, name))
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return 0;
        if (t->err || t->partition_cnt == 0)
            return -1;
        for (int p = 0; p < t->partition_cnt; p++)
            if (t->partitions[p].leader < 0)
                return -1;
        return t->partition_cnt;
    }
    return 0;
}

static fw_err create_topics(rd_kafka_t *rk, fw_topic_spec *specs, int *missing, int nmissing,
                            int timeout_ms, char *errstr, size_t errstr_size) {
    fw_err ret = FW_OK;
    rd_kafka_NewTopic_t *nts[64];
    char rderr[256];
    int n = 0;
    for (int i = 0; i < nmissing && n < 64; i++) {
        fw_topic_spec *s = &specs[missing[i]];
        nts[n] = rd_kafka_NewTopic_new(s->name, s->partitions, s->replication_factor, rderr,
                                       sizeof(rderr));
        if (!nts[n]) {
            snprintf(errstr, errstr_size, "topic %s: %s", s->name, rderr);
            ret = FW_ERR_INVALID;
            goto out;
        }
        if (s->compacted)
            rd_kafka_NewTopic_set_config(nts[n], "cleanup.policy", "compact");
        n++;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, rderr, sizeof(rderr));
    rd_kafka_CreateTopics(rk, nts, (size_t)n, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(errstr, errstr_size, "creating topics: no answer within %d ms", timeout_ms);
        ret = FW_ERR_KAFKA;
    } else if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "creating topics: %s", rd_kafka_event_error_string(ev));
        ret = FW_ERR_KAFKA;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            /* Another instance may have created it between our look and our create. */
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(errstr, errstr_size, "creating topic %s: %s",
                         rd_kafka_topic_result_name(res[i]),
                         rd_kafka_topic_result_error_string(res[i]));
                ret = FW_ERR_KAFKA;
            } else {
                fprintf(stderr, "fraudwatch: created topic %s\n",
                        rd_kafka_topic_result_name(res[i]));
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
out:
    for (int i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nts[i]);
    return ret;
}

/* The fix of a topic that is not compacted, for the operator. */
static int fix_hint(char *buf, size_t size, const fw_kafka_opts *o, const char *topic) {
    return snprintf(buf, size,
                    "fix it with: kafka-configs.sh --bootstrap-server %s --alter "
                    "--entity-type topics --entity-name %s --add-config cleanup.policy=compact",
                    o->bootstrap, topic);
}

/* Describes the configs of the specs that are meant to be compacted and
 * checks that their cleanup.policy contains "compact": a compacted topic
 * keeps the latest record of every key for ever, a deleting one loses what is
 * older than its retention. Refuses a must_compact topic that is not; warns
 * about the others. */
static fw_err check_compaction(rd_kafka_t *rk, const fw_kafka_opts *o, const fw_topic_spec *specs,
                               int n, int timeout_ms, char *errstr, size_t errstr_size) {
    fw_err ret = FW_OK;
    rd_kafka_ConfigResource_t *res[64];
    char rderr[256], hint[512];
    size_t nres = 0;
    for (int i = 0; i < n && nres < 64; i++)
        if (specs[i].compacted || specs[i].must_compact)
            res[nres++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, specs[i].name);
    if (nres == 0)
        return FW_OK;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, rderr, sizeof(rderr));
    rd_kafka_DescribeConfigs(rk, res, nres, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(errstr, errstr_size, "describing topic configs: no answer within %d ms",
                 timeout_ms);
        ret = FW_ERR_KAFKA;
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "describing topic configs: %s",
                 rd_kafka_event_error_string(ev));
        ret = FW_ERR_KAFKA;
        goto out;
    }
    size_t cnt;
    const rd_kafka_ConfigResource_t **got = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    for (size_t i = 0; i < cnt && !ret; i++) {
        const char *topic = rd_kafka_ConfigResource_name(got[i]);
        if (rd_kafka_ConfigResource_error(got[i])) {
            snprintf(errstr, errstr_size, "topic %s: cannot read its cleanup.policy: %s", topic,
                     rd_kafka_ConfigResource_error_string(got[i]));
            ret = FW_ERR_KAFKA;
            break;
        }
        const fw_topic_spec *spec = NULL;
        for (int j = 0; j < n && !spec; j++)
            if (!strcmp(specs[j].name, topic))
                spec = &specs[j];
        size_t nent;
        const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(got[i], &nent);
        const char *policy = NULL;
        for (size_t e = 0; e < nent && !policy; e++)
            if (!strcmp(rd_kafka_ConfigEntry_name(ents[e]), "cleanup.policy"))
                policy = rd_kafka_ConfigEntry_value(ents[e]);
        if (!spec || (policy && strstr(policy, "compact")))
            continue;
        fix_hint(hint, sizeof(hint), o, topic);
        if (spec->must_compact) {
            snprintf(errstr, errstr_size,
                     "topic %s has cleanup.policy=%s but must be compacted (cleanup.policy="
                     "compact): it keeps the latest record of every key, and deleting old "
                     "segments would lose state; %s",
                     topic, policy ? policy : "(not reported)", hint);
            ret = FW_ERR_INVALID;
        } else {
            fprintf(stderr, "fraudwatch: warning: topic %s has cleanup.policy=%s but is meant "
                            "to be compacted: records older than its retention are deleted; "
                            "%s\n", topic, policy ? policy : "(not reported)", hint);
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < nres; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    return ret;
}

fw_err fw_topics_ensure(const fw_kafka_opts *o, fw_topic_spec *specs, int n, int timeout_ms,
                        char *errstr, size_t errstr_size) {
    fw_err ret = FW_OK;
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = fw_kafka_conf_new(o, errstr, errstr_size);
    if (!conf)
        return FW_ERR_INVALID;
    char rderr[256];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "Kafka client: %s", rderr);
        return FW_ERR_KAFKA;
    }
    int64_t deadline = fw_mono_ms() + timeout_ms;
    bool created = false;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int left = (int)(deadline - fw_mono_ms());
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, left > 100 ? left : 100);
        if (err) {
            snprintf(errstr, errstr_size, "cannot reach Kafka at %s: %s", o->bootstrap,
                     rd_kafka_err2str(err));
            ret = FW_ERR_KAFKA;
            goto out;
        }
        int missing[64], nmissing = 0, notready = 0;
        for (int i = 0; i < n; i++) {
            int have = topic_partitions(md, specs[i].name);
            if (have == 0 && nmissing < 64)
                missing[nmissing++] = i;
            else if (have < 0)
                notready++;
            else if (have != specs[i].partitions && !created) {
                if (specs[i].must_match) {
                    snprintf(errstr, errstr_size,
                             "topic %s has %d partitions but must have %d "
                             "(co-partitioned with the input)",
                             specs[i].name, have, specs[i].partitions);
                    ret = FW_ERR_INVALID;
                    rd_kafka_metadata_destroy(md);
                    goto out;
                }
                if (specs[i].partitions > 0)
                    fprintf(stderr, "fraudwatch: topic %s exists with %d partitions "
                                    "(configured %d); using it as it is\n",
                            specs[i].name, have, specs[i].partitions);
                specs[i].partitions = have;
            } else {
                specs[i].partitions = have;
            }
        }
        rd_kafka_metadata_destroy(md);
        if (nmissing == 0 && notready == 0) {
            /* Created ones too: another client may have created it first. */
            int left_ms = (int)(deadline - fw_mono_ms());
            ret = check_compaction(rk, o, specs, n, left_ms > 5000 ? left_ms : 5000, errstr,
                                   errstr_size);
            break;
        }
        if (fw_mono_ms() > deadline) {
            snprintf(errstr, errstr_size, "topics not ready after %d ms (%d missing, %d "
                     "without leaders)", timeout_ms, nmissing, notready);
            ret = FW_ERR_KAFKA;
            goto out;
        }
        if (nmissing && !created) {
            ret = create_topics(rk, specs, missing, nmissing, timeout_ms, errstr, errstr_size);
            if (ret)
                goto out;
            created = true;
        }
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000L };
        nanosleep(&ts, NULL); /* wait for the new topics' leaders */
    }
out:
    rd_kafka_destroy(rk);
    return ret;
}
