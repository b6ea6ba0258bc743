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
#include "json.h"
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
    fw_lang_live *ll;         /* language rules and lists: --rules, --lists, both topics */
    const char *lists_topic;  /* "": none */
    const char *rules_file, *lists_file; /* reloaded on SIGHUP; NULL: none */
    uint64_t counts[FW_RULE_UPDATE__COUNT];
};

static void logf_(const fw_rules_follower *rf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const fw_rules_follower *rf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fw_vlog(rf->instance_id, fmt, ap);
    va_end(ap);
}

fw_rules_follower *fw_rules_follower_new(const fw_kafka_opts *kafka, const char *topic,
                                         const char *status_topic, int replication_factor,
                                         const char *instance_id, const fw_rules *base,
                                         const fw_rules_follow_lang *lang, char *errstr,
                                         size_t errstr_size) {
    const char *lists_topic = lang && lang->lists_topic ? lang->lists_topic : "";
    /* One partition: a handful of records a day, read by every instance. */
    fw_topic_spec specs[3] = {
        { .name = topic, .partitions = 1, .replication_factor = replication_factor,
          .compacted = true, .must_compact = true },
        { .name = lists_topic, .partitions = 1, .replication_factor = replication_factor,
          .compacted = true, .must_compact = true },
        { .name = status_topic, .partitions = 1, .replication_factor = replication_factor },
    };
    fw_topic_spec want[3];
    int nwant = 0;
    if (topic[0])
        want[nwant++] = specs[0];
    if (lists_topic[0])
        want[nwant++] = specs[1];
    /* No rules topic: only SIGHUP reloads (no status). */
    if (!topic[0])
        status_topic = "";
    else if (status_topic[0])
        want[nwant++] = specs[2];
    if (nwant && fw_topics_ensure(kafka, want, nwant, 30000, errstr, errstr_size))
        return NULL;
    fw_rules_follower *rf = calloc(1, sizeof(*rf));
    if (!rf) {
        snprintf(errstr, errstr_size, "rules follower: out of memory");
        return NULL;
    }
    rf->topic = topic;
    rf->status_topic = status_topic;
    rf->lists_topic = lists_topic;
    rf->rules_file = lang ? lang->rules_file : NULL;
    rf->lists_file = lang ? lang->lists_file : NULL;
    rf->instance_id = instance_id;
    rf->base = *base;
    rf->live = *base;
    fw_lang_rules *first = NULL;
    if (!(rf->ll = fw_lang_live_new(base)) ||
        fw_lang_live_load_files(rf->ll, rf->rules_file, rf->lists_file, false, NULL, NULL,
                                errstr, errstr_size) != FW_OK)
        goto fail;
    fw_lang_live_take(rf->ll, &first); /* the runtime starts with these already */
    fw_lang_rules_destroy(first);
    if (!topic[0] && !lists_topic[0])
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
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
    for (int t = 0; t < 2; t++)
        if (specs[t].name[0])
            for (int p = 0; p < specs[t].partitions; p++)
                rd_kafka_topic_partition_list_add(parts, specs[t].name, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
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

/* A language rule's or a list's verdict: counted, logged when rejected,
 * written to the status topic. */
static void lang_verdict(fw_rules_follower *rf, const char *what, const char *key,
                         const char *where, int version, fw_lang_live_result r,
                         const char *err) {
    fw_rule_update u = r == FW_LANG_LIVE_ACCEPTED ? FW_RULE_UPDATE_ACCEPTED
                       : r == FW_LANG_LIVE_REJECTED ? FW_RULE_UPDATE_REJECTED
                                                    : FW_RULE_UPDATE_DELETED;
    count(rf, u);
    if (u == FW_RULE_UPDATE_REJECTED)
        logf_(rf, "%s: rejected%s%s: %s (the previous version keeps running)", what,
              where[0] ? " " : "", where, err);
    else
        logf_(rf, "%s: %s%s%s (version %d)", what, fw_rule_update_name(u), where[0] ? " " : "",
              where, version);
    write_status(rf, key, version, u,
                 u == FW_RULE_UPDATE_REJECTED ? err
                 : r == FW_LANG_LIVE_UNCHANGED ? "tombstone: the topic held no record for it"
                 : u == FW_RULE_UPDATE_DELETED ? "tombstone: back to --rules, or removed"
                                               : "");
}

static void apply_lang_record(fw_rules_follower *rf, const rd_kafka_message_t *m,
                              const char *rule, bool list) {
    char err[600], where[160], what[80], skey[80];
    int version = 0;
    fw_str key = { m->key, m->key_len };
    snprintf(where, sizeof(where), "%s[%" PRId32 "]@%" PRId64, rd_kafka_topic_name(m->rkt),
             m->partition, m->offset);
    fw_lang_live_result r =
        list ? fw_lang_live_apply_list(rf->ll, key, m->payload, m->len, err, sizeof(err))
             : fw_lang_live_apply(rf->ll, key, m->payload, m->len, &version, err, sizeof(err));
    snprintf(what, sizeof(what), "%s %s", list ? "list" : "rule", rule);
    snprintf(skey, sizeof(skey), "%s%s", list ? "list:" : "", rule); /* lists: "list:<name>" */
    lang_verdict(rf, what, skey, where, version, r, err);
}

/* Whether a record's value is a JSON object with a "type": a language rule. */
static bool typed_record(const rd_kafka_message_t *m) {
    if (!m->payload)
        return false;
    fw_arena a = { 0 };
    fw_json *root = NULL;
    char err[64];
    bool typed = fw_arena_init(&a, fw_json_arena_bound(m->len)) &&
                 fw_json_parse(m->payload, m->len, &a, &root, err, sizeof(err)) == FW_OK &&
                 root->type == FW_JSON_OBJECT && fw_json_get(root, "type");
    fw_arena_fini(&a);
    return typed;
}

/* Whether a rules-topic record is a language rule's: no built-in has its id,
 * or it is written in the language under a built-in's id (a typed value, or
 * the tombstone of such a rule running in @p ll; it then runs instead of the
 * built-in). */
static bool lang_record(const rd_kafka_message_t *m, const fw_lang_live *ll) {
    char name[72];
    if (!m->key_len || m->key_len > 64)
        return false;
    snprintf(name, sizeof(name), "%.*s", (int)m->key_len, (const char *)m->key);
    return fw_rule_by_name(name) == FW_RULE__COUNT || typed_record(m) ||
           (!m->payload && ll && fw_lang_live_version(ll, name) > 0);
}

static void apply_record(fw_rules_follower *rf, const rd_kafka_message_t *m) {
    char err[600], rule[72];
    fw_rule_id id;
    fw_str key = { m->key, m->key_len };
    snprintf(rule, sizeof(rule), "%.*s", (int)(key.len > 64 ? 64 : key.len),
             key.ptr ? key.ptr : "");
    if (rf->lists_topic[0] && !strcmp(rd_kafka_topic_name(m->rkt), rf->lists_topic)) {
        apply_lang_record(rf, m, rule, true);
        return;
    }
    if (lang_record(m, rf->ll)) {
        apply_lang_record(rf, m, rule, false);
        return;
    }
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

static void reload_report(void *opaque, const char *id, int version, fw_lang_live_result r,
                          const char *reason) {
    char what[80];
    snprintf(what, sizeof(what), "rule %s", id);
    lang_verdict(opaque, what, id, "(SIGHUP)", version, r, reason);
}

/* The language rules and lists of the files: a rule that changes must raise
 * its version; the topics' records stay in force. */
static void reload_lang(fw_rules_follower *rf) {
    char err[800];
    if (!rf->rules_file && !rf->lists_file)
        return;
    if (fw_lang_live_load_files(rf->ll, rf->rules_file, rf->lists_file, true, reload_report, rf,
                                err, sizeof(err)) != FW_OK) {
        count(rf, FW_RULE_UPDATE_REJECTED);
        logf_(rf, "SIGHUP: %s (the language rules and lists in force keep running)", err);
    }
}

static void reload_builtins(fw_rules_follower *rf, const char *file) {
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

void fw_rules_follower_reload(fw_rules_follower *rf, const char *file) {
    if (file)
        reload_builtins(rf, file);
    reload_lang(rf);
}

bool fw_rules_follower_take(fw_rules_follower *rf, fw_rules *out) {
    if (!rf || !rf->changed)
        return false;
    *out = rf->live;
    rf->changed = false;
    return true;
}

bool fw_rules_follower_take_lang(fw_rules_follower *rf, fw_lang_rules **out) {
    *out = NULL;
    return rf && fw_lang_live_take(rf->ll, out);
}

const fw_lang_rules *fw_rules_follower_lang(const fw_rules_follower *rf) {
    return rf ? fw_lang_live_current(rf->ll) : NULL;
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
    fw_lang_live_destroy(rf->ll);
    free(rf);
}

/* ---- commands ---- */

fw_err fw_rules_topic_read(const fw_kafka_opts *kafka, const char *topic,
                           int replication_factor, const fw_rules *base, fw_rules *live,
                           bool held[FW_RULE__COUNT], bool *bad, fw_lang_live *ll,
                           char *errstr, size_t errstr_size) {
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
        } else if (lang_record(m, ll)) {
            char err[600];
            int v;
            if (ll)
                fw_lang_live_apply(ll, (fw_str){ m->key, m->key_len }, m->payload, m->len, &v,
                                   err, sizeof(err));
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

fw_err fw_rules_topic_publish_raw(const fw_kafka_opts *kafka, const char *topic,
                                  const char *const *keys, const char *const *values, size_t n,
                                  char *errstr, size_t errstr_size) {
    char es[256];
    rd_kafka_resp_err_t *results = calloc(n + 1, sizeof(*results));
    rd_kafka_conf_t *conf = results ? fw_kafka_conf_new(kafka, errstr, errstr_size) : NULL;
    if (!conf || fw_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        if (!results)
            snprintf(errstr, errstr_size, "out of memory");
        free(results);
        return FW_ERR_INVALID;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_publish_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        free(results);
        snprintf(errstr, errstr_size, "producer: %s", es);
        return FW_ERR_IO;
    }
    fw_err rc = FW_OK;
    for (size_t i = 0; i < n && rc == FW_OK; i++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(keys[i], strlen(keys[i])),
            RD_KAFKA_V_VALUE((void *)values[i], values[i] ? strlen(values[i]) : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&results[i]),
            RD_KAFKA_V_END);
        if (err) {
            snprintf(errstr, errstr_size, "%s to %s: %s", keys[i], topic, rd_kafka_err2str(err));
            rc = FW_ERR_IO;
        }
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR && rc == FW_OK) {
        snprintf(errstr, errstr_size, "%s: not delivered within 30 s", topic);
        rc = FW_ERR_IO;
    }
    for (size_t i = 0; i < n && rc == FW_OK; i++)
        if (results[i]) {
            snprintf(errstr, errstr_size, "%s to %s: %s", keys[i], topic,
                     rd_kafka_err2str(results[i]));
            rc = FW_ERR_IO;
        }
    rd_kafka_destroy(rk);
    free(results);
    return rc;
}

fw_err fw_rules_topic_publish(const fw_kafka_opts *kafka, const char *topic,
                              const fw_rules *want, const bool which[FW_RULE__COUNT],
                              char *errstr, size_t errstr_size) {
    const char *keys[FW_RULE__COUNT];
    char *values[FW_RULE__COUNT];
    size_t n = 0;
    fw_err rc = FW_OK;
    fw_buf b;
    fw_buf_init(&b, 0);
    for (int i = 0; i < FW_RULE__COUNT && rc == FW_OK; i++) {
        if (!which[i])
            continue;
        const char *name = fw_rule_name((fw_rule_id)i);
        b.len = 0;
        if (!fw_rules_write_rule_json(want, (fw_rule_id)i, &b) || !fw_buf_putc(&b, '\0') ||
            !(values[n] = strdup(b.data))) {
            snprintf(errstr, errstr_size, "%s: cannot be written", name);
            rc = FW_ERR_INVALID;
            break;
        }
        keys[n++] = name;
    }
    fw_buf_fini(&b);
    if (rc == FW_OK)
        rc = fw_rules_topic_publish_raw(kafka, topic, keys, (const char *const *)values, n,
                                        errstr, errstr_size);
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    return rc;
}
