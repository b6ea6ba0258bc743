/* backfill.c — replays an input partition into a scratch pipeline whose
 * language rules raise no alert, and moves the backfill rules' state into
 * the live engine (backfill.h). */
#include "backfill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fw_os.h"
#include "lang_rules.h"

#define FW_BACKFILL_TIMEOUT_MS 30000   /* no record nor end of partition for this long: give up */
#define FW_BACKFILL_PROGRESS_MS 5000

/* The replayed past's outputs are not outputs: the live run gave them. */
static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)opaque, (void)a, (void)key, (void)json; /* replay mode raises none */
}
static void on_dead_letter(void *opaque, const fw_dead_letter *dl) {
    (void)dl;
    ((fw_backfill_stats *)opaque)->dead_letters++;
}
static void on_late(void *opaque, const fw_late_record *lr) {
    (void)lr;
    ((fw_backfill_stats *)opaque)->late++;
}

int64_t fw_backfill_from(const fw_rules *rules, const fw_engine_backfill *bf, size_t nbf,
                         int64_t watermark) {
    int64_t span = 0;
    for (size_t i = 0; i < nbf; i++) {
        const fw_lang_rule *r = bf[i].rule;
        int64_t s = r->kind == FW_LANG_SCORE && r->memory_ms > r->lookback_ms ? r->memory_ms
                                                                            : r->lookback_ms;
        if (s > span)
            span = s;
    }
    int64_t back = span + rules->time.allowed_lateness_ms + rules->time.max_future_skew_ms;
    return watermark - back > 0 ? watermark - back : 0;
}

bool fw_backfill_run(rd_kafka_t *reader, const char *topic, int32_t partition, int64_t from_ms,
                     int64_t to_offset, const fw_pipeline_conf *conf, fw_engine *live,
                     const fw_engine_backfill *bf, size_t nbf, size_t *keys,
                     const char *instance_id, fw_backfill_stats *st) {
    char errstr[512];
    int64_t t0 = fw_mono_ms();
    memset(st, 0, sizeof(*st));
    st->first_ts_ms = st->last_ts_ms = INT64_MIN;
    fw_pipeline_conf sc = *conf;
    for (int i = 0; i < FW_RULE__COUNT; i++) /* only the language rules build state */
        sc.rules.common[i].enabled = false;
    fw_pipeline *pl = fw_pipeline_new(&sc, errstr, sizeof(errstr));
    if (!pl) {
        fw_log(instance_id, "backfill %s[%" PRId32 "]: %s", topic, partition, errstr);
        return false;
    }
    fw_engine_lang_set_replay(fw_pipeline_engine(pl), true);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = from_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(reader, parts, 30000);
    int64_t start = parts->elems[0].offset;
    if (!err)
        err = parts->elems[0].err;
    bool ok = !err;
    if (err)
        fw_log(instance_id, "backfill %s[%" PRId32 "]: offsets_for_times: %s", topic, partition,
              rd_kafka_err2str(err));
    if (ok && start >= 0 && start < to_offset) {
        parts->elems[0].offset = start;
        if ((err = rd_kafka_assign(reader, parts))) {
            fw_log(instance_id, "backfill %s[%" PRId32 "]: assign: %s", topic, partition,
                  rd_kafka_err2str(err));
            ok = false;
        }
        fw_pipeline_out out = { .opaque = st, .alert = on_alert,
                                .dead_letter = on_dead_letter, .late = on_late };
        int64_t last_seen = fw_mono_ms(), last_log = last_seen;
        bool done = !ok;
        while (!done) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 200);
            int64_t now = fw_mono_ms();
            if (now - last_log >= FW_BACKFILL_PROGRESS_MS) {
                fw_log(instance_id, "backfill %s[%" PRId32 "]: %" PRIu64 " records so far, at "
                      "offset %" PRId64 " of %" PRId64, topic, partition, st->records,
                      m ? m->offset : -1, to_offset);
                last_log = now;
            }
            if (!m) {
                if (now - last_seen > FW_BACKFILL_TIMEOUT_MS) {
                    fw_log(instance_id, "backfill %s[%" PRId32 "]: nothing read for %d s",
                          topic, partition, FW_BACKFILL_TIMEOUT_MS / 1000);
                    ok = false;
                    done = true;
                }
                continue;
            }
            last_seen = now;
            if (m->partition != partition) {
                /* a leftover of an earlier read: not this partition's */
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                done = true;
            } else if (m->err) {
                fw_log(instance_id, "backfill %s[%" PRId32 "]: %s", topic, partition,
                      rd_kafka_message_errstr(m));
            } else if (m->offset >= to_offset) {
                done = true; /* the live task processes it */
            } else {
                rd_kafka_timestamp_type_t tstype;
                int64_t ref = rd_kafka_message_timestamp(m, &tstype);
                bool has_ts = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ref >= 0;
                fw_source_ref src = { .topic = topic, .partition = partition,
                                      .offset = m->offset,
                                      .ref_time_name = has_ts ? "the record's Kafka timestamp"
                                                              : "the wall clock",
                                      .ref_time_ms = has_ts ? ref : fw_wall_ms() };
                fw_pipeline_process(pl, m->payload ? m->payload : "", m->len, &src, &out);
                int64_t et = fw_pipeline_engine_stats(pl)->max_event_time;
                if (st->first_ts_ms == INT64_MIN)
                    st->first_ts_ms = et;
                st->last_ts_ms = et;
                st->records++;
                done = m->offset + 1 >= to_offset;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(reader, NULL);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    /* Not advanced to the end: the records its reorder buffer still holds
     * are in the live engine's buffer too, and it evaluates them itself. */
    for (size_t i = 0; i < nbf; i++)
        keys[i] = 0;
    for (size_t i = 0; ok && i < nbf; i++) {
        size_t moved = 0;
        if (fw_engine_lang_adopt(live, fw_pipeline_engine(pl), bf[i].part_id, &moved, errstr,
                                 sizeof(errstr)) != FW_OK) {
            fw_log(instance_id, "backfill %s[%" PRId32 "]: rule %s: %s", topic, partition,
                  bf[i].rule->id, errstr);
            ok = false;
        }
        keys[i] = moved;
        st->keys += moved;
    }
    fw_pipeline_destroy(pl);
    st->elapsed_ms = fw_mono_ms() - t0;
    return ok;
}
