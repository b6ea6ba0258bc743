/* rules_follow.c — a reader of the whole rules control topic that checks each
 * record as it arrives, writes the verdict to the status topic, and hands the
 * resulting rule set to the runtime, which switches its tasks at the next
 * transaction boundary. */
#include "rules_follow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_os.h"
#include "fw_time.h"
#include "rules_file.h"
#include "rules_live.h"
#include "topics.h"

#define FW_RULES_CATCH_UP_MS 120000 /* start-up read to the end gives up after */

struct fw_rules_follower {
    rd_kafka_t *rk;           /* assigned every partition of the topic */
    rd_kafka_t *status;       /* plain producer of status records; NULL: none */
    const char *topic;
    const char *status_topic;
    const char *instance_id;  /* log prefix and the status records' "instance" */
    fw_rules base;            /* what a tombstone puts back: --rules, flags, defaults */
    fw_rules live;            /* base + every accepted record */
    bool in_topic[FW_RULE__COUNT]; /* the topic holds a record (not a tombstone) for it:
                                      a SIGHUP reload leaves such a rule alone */
    bool changed;             /* live changed since the runtime last took it */
    uint64_t counts[FW_RULE_UPDATE__COUNT];
};

static void logf_(const fw_rules_follower *rf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const fw_rules_follower *rf, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fraudwatch[%s]: ", rf->instance_id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

fw_rules_follower *fw_rules_follower_new(const fw_kafka_opts *kafka, const char *topic,
                                         const char *status_topic, int replication_factor,
                                         const char *instance_id, const fw_rules *base,
                                         char *errstr, size_t errstr_size) {
    /* One partition: a handful of records a day, read by every instance. */
    fw_topic_spec specs[2] = {
        { .name = topic, .partitions = 1, .replication_factor = replication_factor,
          .compacted = true, .must_compact = true },
        { .name = status_topic, .partitions = 1, .replication_factor = replication_factor },
    };
    /* No rules topic: only SIGHUP reloads (no reader, no status). */
    if (!topic[0])
        status_topic = "";
    else if (fw_topics_ensure(kafka, specs, status_topic[0] ? 2 : 1, 30000, errstr,
                              errstr_size))
        return NULL;
    fw_rules_follower *rf = calloc(1, sizeof(*rf));
    if (!rf) {
        snprintf(errstr, errstr_size, "rules follower: out of memory");
        return NULL;
    }
    rf->topic = topic;
    rf->status_topic = status_topic;
    rf->instance_id = instance_id;
    rf->base = *base;
    rf->live = *base;
    if (!topic[0])
        return rf;
    if (!(rf->rk = fw_kafka_reader_new(kafka, instance_id, "rules", errstr, errstr_size)))
        goto fail;
    if (status_topic[0]) {
        rd_kafka_conf_t *conf = fw_kafka_conf_new(kafka, errstr, errstr_size);
        char id[300], es[256];
        snprintf(id, sizeof(id), "fraudwatch-%s-rules-status", instance_id);
        if (!conf || fw_kafka_conf_set(conf, "client.id", id, errstr, errstr_size)) {
            if (conf)
                rd_kafka_conf_destroy(conf);
            goto fail;
        }
        if (!(rf->status = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es)))) {
            rd_kafka_conf_destroy(conf);
            snprintf(errstr, errstr_size, "rules status producer: %s", es);
            goto fail;
        }
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(specs[0].partitions);
    for (int p = 0; p < specs[0].partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rf->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return rf;
fail:
    fw_rules_follower_destroy(rf);
    return NULL;
}

/* {rule, version, status, reason, time, instance} keyed by rule id. */
static void write_status(fw_rules_follower *rf, const char *rule, int version,
                         fw_rule_update result, const char *reason) {
    if (!rf->status)
        return;
    fw_buf b;
    char when[32];
    fw_buf_init(&b, 0);
    fw_time_format(fw_wall_ms(), when);
    fw_buf_puts(&b, "{\"rule\":");
    fw_buf_json_str(&b, fw_str_c(rule));
    fw_buf_printf(&b, ",\"version\":%d,\"status\":\"%s\",\"reason\":", version,
                  fw_rule_update_name(result));
    fw_buf_json_str(&b, fw_str_c(reason));
    fw_buf_printf(&b, ",\"time\":\"%s\",\"instance\":", when);
    fw_buf_json_str(&b, fw_str_c(rf->instance_id));
    fw_buf_putc(&b, '}');
    if (!b.overflow) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rf->status, RD_KAFKA_V_TOPIC(rf->status_topic),
            RD_KAFKA_V_KEY(rule, strlen(rule)), RD_KAFKA_V_VALUE(b.data, b.len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
            logf_(rf, "rules status to %s: %s", rf->status_topic, rd_kafka_err2str(err));
    }
    fw_buf_fini(&b);
}

static void count(fw_rules_follower *rf, fw_rule_update u) { rf->counts[u]++; }

static void apply_record(fw_rules_follower *rf, const rd_kafka_message_t *m) {
    char err[600], rule[72];
    fw_rule_id id;
    fw_str key = { m->key, m->key_len };
    snprintf(rule, sizeof(rule), "%.*s", (int)(key.len > 64 ? 64 : key.len),
             key.ptr ? key.ptr : "");
    fw_err rc = fw_rules_live_apply(&rf->live, &rf->base, key, m->payload, m->len, &id, err,
                                    sizeof(err));
    if (rc != FW_OK) {
        count(rf, FW_RULE_UPDATE_REJECTED);
        logf_(rf, "rule %s: rejected %s[%" PRId32 "]@%" PRId64 ": %s (the previous version "
                  "keeps running)", rule, rf->topic, m->partition, m->offset, err);
        write_status(rf, rule, id < FW_RULE__COUNT ? rf->live.common[id].version : 0,
                     FW_RULE_UPDATE_REJECTED, err);
        return;
    }
    fw_rule_update u = m->payload ? FW_RULE_UPDATE_ACCEPTED : FW_RULE_UPDATE_DELETED;
    rf->in_topic[id] = m->payload != NULL;
    rf->changed = true;
    count(rf, u);
    write_status(rf, rule, rf->live.common[id].version, u,
                 m->payload ? "" : "tombstone: back to --rules or the default");
}

void fw_rules_follower_poll(fw_rules_follower *rf, bool to_end) {
    if (!rf || !rf->rk)
        return;
    int64_t deadline = fw_mono_ms() + FW_RULES_CATCH_UP_MS;
    int eof = 0, nparts = -1;
    if (to_end) {
        rd_kafka_topic_partition_list_t *a = NULL;
        if (!rd_kafka_assignment(rf->rk, &a)) {
            nparts = a->cnt;
            rd_kafka_topic_partition_list_destroy(a);
        }
    }
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rf->rk, to_end ? 200 : 0);
        if (!m) {
            if (!to_end || eof >= nparts || fw_mono_ms() > deadline)
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof++;
        else if (m->err)
            logf_(rf, "rules: %s", rd_kafka_message_errstr(m));
        else
            apply_record(rf, m);
        rd_kafka_message_destroy(m);
        if (to_end && eof >= nparts)
            break;
    }
    if (rf->status)
        rd_kafka_poll(rf->status, 0);
    if (to_end)
        logf_(rf, "rules: %" PRIu64 " accepted, %" PRIu64 " rejected, %" PRIu64
                  " deleted from %s", rf->counts[FW_RULE_UPDATE_ACCEPTED],
              rf->counts[FW_RULE_UPDATE_REJECTED], rf->counts[FW_RULE_UPDATE_DELETED],
              rf->topic);
}

void fw_rules_follower_reload(fw_rules_follower *rf, const char *file) {
    char err[600];
    fw_rules next, want;
    fw_rules_defaults(&next);
    if (fw_rules_load_file(&next, file, err, sizeof(err)) != FW_OK) {
        count(rf, FW_RULE_UPDATE_REJECTED);
        logf_(rf, "SIGHUP: %s (the rules in force keep running)", err);
        return;
    }
    if (memcmp(&next.time, &rf->base.time, sizeof(next.time)) ||
        memcmp(&next.limits, &rf->base.limits, sizeof(next.limits))) {
        count(rf, FW_RULE_UPDATE_REJECTED);
        logf_(rf, "SIGHUP: %s: the time and limits sections cannot change while running "
                  "(restart to change them; the rules in force keep running)", file);
        return;
    }
    want = rf->live;
    int changes = 0;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        fw_rule_id id = (fw_rule_id)i;
        const char *name = fw_rule_name(id);
        if (rf->in_topic[i] || (!fw_rules_live_differs(&rf->live, &next, id) &&
                                next.common[i].version == rf->live.common[i].version))
            continue;
        if (next.common[i].version <= rf->live.common[i].version) {
            snprintf(err, sizeof(err), "%s: version %d does not increase (version %d runs)",
                     file, next.common[i].version, rf->live.common[i].version);
            count(rf, FW_RULE_UPDATE_REJECTED);
            logf_(rf, "rule %s: SIGHUP rejected: %s (the previous version keeps running)", name,
                  err);
            write_status(rf, name, rf->live.common[i].version, FW_RULE_UPDATE_REJECTED, err);
            continue;
        }
        fw_rules_copy_rule(&want, &next, id);
        count(rf, FW_RULE_UPDATE_ACCEPTED);
        write_status(rf, name, next.common[i].version, FW_RULE_UPDATE_ACCEPTED, file);
        changes++;
    }
    rf->base = next;
    rf->live = want;
    if (changes)
        rf->changed = true;
    logf_(rf, "SIGHUP: %s reloaded, %d rule(s) changed", file, changes);
}

bool fw_rules_follower_take(fw_rules_follower *rf, fw_rules *out) {
    if (!rf || !rf->changed)
        return false;
    *out = rf->live;
    rf->changed = false;
    return true;
}

void fw_rules_follower_counts(const fw_rules_follower *rf,
                              uint64_t out[FW_RULE_UPDATE__COUNT]) {
    for (int u = 0; u < FW_RULE_UPDATE__COUNT; u++)
        out[u] = rf ? rf->counts[u] : 0;
}

void fw_rules_follower_destroy(fw_rules_follower *rf) {
    if (!rf)
        return;
    if (rf->rk) {
        rd_kafka_consumer_close(rf->rk);
        rd_kafka_destroy(rf->rk);
    }
    if (rf->status) {
        rd_kafka_flush(rf->status, 5000);
        rd_kafka_destroy(rf->status);
    }
    free(rf);
}

/* ---- commands ---- */

fw_err fw_rules_topic_read(const fw_kafka_opts *kafka, const char *topic,
                           int replication_factor, const fw_rules *base, fw_rules *live,
                           bool held[FW_RULE__COUNT], bool *bad, char *errstr,
                           size_t errstr_size) {
    fw_topic_spec spec = { .name = topic, .partitions = 1,
                           .replication_factor = replication_factor, .compacted = true,
                           .must_compact = true };
    if (fw_topics_ensure(kafka, &spec, 1, 30000, errstr, errstr_size))
        return FW_ERR_IO;
    rd_kafka_t *rk = fw_kafka_reader_new(kafka, "cli", "rules", errstr, errstr_size);
    if (!rk)
        return FW_ERR_IO;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(spec.partitions);
    for (int p = 0; p < spec.partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    *live = *base;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        held[i] = false;
        if (bad)
            bad[i] = false;
    }
    fw_err rc = FW_OK;
    int eof = 0;
    int64_t deadline = fw_mono_ms() + 30000;
    while (eof < spec.partitions) {
        if (fw_mono_ms() > deadline) {
            snprintf(errstr, errstr_size, "%s: not read to its end within 30 s", topic);
            rc = FW_ERR_IO;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else if (m->err) {
            snprintf(errstr, errstr_size, "%s: %s", topic, rd_kafka_message_errstr(m));
            rc = FW_ERR_IO;
        } else {
            char err[600];
            fw_rule_id id;
            fw_err ok = fw_rules_live_apply(live, base, (fw_str){ m->key, m->key_len },
                                            m->payload, m->len, &id, err, sizeof(err));
            if (ok == FW_OK)
                held[id] = m->payload != NULL;
            if (bad && id < FW_RULE__COUNT)
                bad[id] = ok != FW_OK;
        }
        rd_kafka_message_destroy(m);
        if (rc != FW_OK)
            break;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

static void on_publish_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err && m->_private)
        *(rd_kafka_resp_err_t *)m->_private = m->err;
}

fw_err fw_rules_topic_publish(const fw_kafka_opts *kafka, const char *topic,
                              const fw_rules *want, const bool which[FW_RULE__COUNT],
                              char *errstr, size_t errstr_size) {
    char es[256];
    rd_kafka_resp_err_t results[FW_RULE__COUNT] = { 0 };
    rd_kafka_conf_t *conf = fw_kafka_conf_new(kafka, errstr, errstr_size);
    if (!conf || fw_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return FW_ERR_INVALID;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_publish_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "producer: %s", es);
        return FW_ERR_IO;
    }
    fw_err rc = FW_OK;
    fw_buf b;
    fw_buf_init(&b, 0);
    for (int i = 0; i < FW_RULE__COUNT && rc == FW_OK; i++) {
        if (!which[i])
            continue;
        const char *name = fw_rule_name((fw_rule_id)i);
        b.len = 0;
        if (!fw_rules_write_rule_json(want, (fw_rule_id)i, &b)) {
            snprintf(errstr, errstr_size, "%s: cannot be written", name);
            rc = FW_ERR_INVALID;
            break;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(name, strlen(name)),
            RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(&results[i]), RD_KAFKA_V_END);
        if (err) {
            snprintf(errstr, errstr_size, "%s to %s: %s", name, topic, rd_kafka_err2str(err));
            rc = FW_ERR_IO;
        }
    }
    fw_buf_fini(&b);
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR && rc == FW_OK) {
        snprintf(errstr, errstr_size, "%s: not delivered within 30 s", topic);
        rc = FW_ERR_IO;
    }
    for (int i = 0; i < FW_RULE__COUNT && rc == FW_OK; i++)
        if (results[i]) {
            snprintf(errstr, errstr_size, "%s to %s: %s", fw_rule_name((fw_rule_id)i), topic,
                     rd_kafka_err2str(results[i]));
            rc = FW_ERR_IO;
        }
    rd_kafka_destroy(rk);
    return rc;
}
