/* pipe.c — `fraudwatch pipe`: the ceiling for Kafka benchmarks. It does
 * what the engine does around its work and nothing else. It reads the input
 * read_committed in a consumer group and writes every record unchanged to
 * another topic. One transaction per commit interval carries the records and
 * the input offsets. The producer settings are the engine's (lz4, linger
 * 5 ms). scripts/bench-kafka.sh reports the engine's rate as a share of
 * this one's. */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kafka_conf.h"
#include "options.h"
#include "topics.h"
#include "fw_os.h"

static const char pipe_usage[] =
    "Usage: fraudwatch pipe --input-topic TOPIC --output-topic TOPIC [OPTIONS]\n"
    "\n"
    "The ceiling for Kafka benchmarks: an exactly-once consume-produce pipe\n"
    "with the engine's settings that does no work. It reads the input\n"
    "read_committed in a consumer group and copies every record, key and value,\n"
    "to the output topic. One transaction per commit interval carries the\n"
    "records and the input offsets, as `run` does. With --exit-at-end it stops\n"
    "once every assigned partition is read to its end. It then prints its rate\n"
    "from the first record read to the last commit, as `run` does in its\n"
    "`stopped:` line. It is a measuring tool: any Kafka error stops it.\n"
    "Every option can also be set in the environment (FW_ names); a flag wins.\n"
    "Exit status: 0 done, 1 a Kafka error, 2 bad options.\n";

typedef struct pipe_conf {
    fw_kafka_opts kafka;
    const char *input_topic, *output_topic, *group_id;
    int commit_interval_ms;
    bool exit_at_end;
} pipe_conf;

#define OFF(field) offsetof(pipe_conf, field)

static const fw_opt pipe_opts[] = {
    { .section = "Topics:", .name = "input-topic", .arg = "TOPIC",
      .env = { "FW_INPUT_TOPIC", "INPUT_TOPIC", "KAFKA_SOURCE_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(input_topic), .help = "records to copy (required)" },
    { .name = "output-topic", .arg = "TOPIC",
      .env = { "FW_OUTPUT_TOPIC", "OUTPUT_TOPIC", "KAFKA_SINK_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(output_topic),
      .help = "where they go (required); created with the input's partition count" },
    { .section = "Processing:", .name = "group-id", .short_flag = 'g', .arg = "ID",
      .env = { "FW_GROUP_ID", "GROUP_ID", "KAFKA_GROUP_ID" }, .type = FW_OPT_STRING,
      .offset = OFF(group_id), .def = "fraudwatch-pipe",
      .help = "consumer group; the transactional id is fraudwatch-pipe-GROUP" },
    { .name = "commit-interval-ms", .arg = "N", .env = { "FW_COMMIT_INTERVAL_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 600000, .offset = OFF(commit_interval_ms),
      .def = "100", .help = "one Kafka transaction per interval" },
    { .name = "exit-at-end", .short_flag = 'e', .env = { "FW_EXIT_AT_END" },
      .type = FW_OPT_FLAG, .offset = OFF(exit_at_end),
      .help = "stop once every assigned partition is read to its end" },
    FW_OPTS_KAFKA(pipe_conf, kafka),
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP,
      .help = "this text" },
};

static fw_err pipe_check(void *conf, char *errstr, size_t errstr_size) {
    const pipe_conf *c = conf;
    const char *missing = !c->input_topic || !*c->input_topic     ? "--input-topic"
                          : !c->output_topic || !*c->output_topic ? "--output-topic"
                                                                   : NULL;
    if (missing) {
        snprintf(errstr, errstr_size, "%s is required", missing);
        return FW_ERR_INVALID;
    }
    if (!strcmp(c->input_topic, c->output_topic)) {
        snprintf(errstr, errstr_size, "--output-topic must differ from --input-topic (%s)",
                 c->input_topic);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opts_cmd pipe_cmd = {
    .name = "pipe", .usage = pipe_usage, .opts = pipe_opts,
    .nopts = sizeof(pipe_opts) / sizeof(pipe_opts[0]), .check = pipe_check,
};

/* One input partition: where to commit, and whether it is read to its end. */
typedef struct pipe_part {
    int64_t next;  /* offset after the last record copied; -1: none yet */
    bool dirty;    /* records copied in the open transaction */
    bool assigned;
    bool at_end;
} pipe_part;

typedef struct pipe_state {
    const pipe_conf *c;
    rd_kafka_t *consumer, *producer;
    pipe_part *parts;
    int nparts;
    bool txn_open, failed;
    bool ever_assigned; /* closing before the first assignment crashes librdkafka 2.0.2 */
    uint64_t records, bytes, commits;
    int64_t first_ms, last_commit_ms, txn_started_ms;
} pipe_state;

static bool txn_check(pipe_state *s, rd_kafka_error_t *error, const char *what) {
    if (!error)
        return true;
    fprintf(stderr, "fraudwatch pipe: %s: %s\n", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    s->failed = true;
    return false;
}

static void commit(pipe_state *s) {
    if (!s->txn_open || s->failed)
        return;
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(s->nparts);
    for (int p = 0; p < s->nparts; p++)
        if (s->parts[p].dirty)
            rd_kafka_topic_partition_list_add(offsets, s->c->input_topic, p)->offset =
                s->parts[p].next;
    if (offsets->cnt > 0) {
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(s->consumer);
        txn_check(s,
                  rd_kafka_send_offsets_to_transaction(s->producer, offsets, cgmd, 30000),
                  "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    if (s->failed ||
        !txn_check(s, rd_kafka_commit_transaction(s->producer, 60000), "commit_transaction"))
        return;
    s->txn_open = false;
    s->commits++;
    s->last_commit_ms = fw_mono_ms();
    for (int p = 0; p < s->nparts; p++)
        s->parts[p].dirty = false;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    pipe_state *s = opaque;
    rd_kafka_error_t *error = NULL;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (!assign)
        commit(s); /* before giving them up, as the engine does */
    s->ever_assigned = s->ever_assigned || assign;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p >= 0 && p < s->nparts)
            s->parts[p] = (pipe_part){ .next = -1, .assigned = assign };
    }
    error = assign ? rd_kafka_incremental_assign(rk, parts)
                   : rd_kafka_incremental_unassign(rk, parts);
    txn_check(s, error, "rebalance");
}

static bool all_at_end(const pipe_state *s) {
    int n = 0;
    for (int p = 0; p < s->nparts; p++) {
        if (s->parts[p].assigned && !s->parts[p].at_end)
            return false;
        n += s->parts[p].assigned;
    }
    return n > 0;
}

static void copy(pipe_state *s, rd_kafka_message_t *m) {
    if (!s->txn_open) {
        if (!txn_check(s, rd_kafka_begin_transaction(s->producer), "begin_transaction"))
            return;
        s->txn_open = true;
        s->txn_started_ms = fw_mono_ms();
    }
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                s->producer, RD_KAFKA_V_TOPIC(s->c->output_topic),
                RD_KAFKA_V_PARTITION(m->partition), RD_KAFKA_V_KEY(m->key, m->key_len),
                RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(s->producer, 10);
    if (err) {
        fprintf(stderr, "fraudwatch pipe: produce: %s\n", rd_kafka_err2str(err));
        s->failed = true;
        return;
    }
    if (s->records++ == 0)
        s->first_ms = fw_mono_ms();
    s->bytes += m->len;
    pipe_part *pp = &s->parts[m->partition];
    pp->next = m->offset + 1;
    pp->dirty = true;
    pp->at_end = false;
}

static rd_kafka_t *client(pipe_state *s, rd_kafka_type_t type, char *errstr, size_t n) {
    const pipe_conf *c = s->c;
    char tid[512];
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&c->kafka, errstr, n);
    if (!conf)
        return NULL;
    snprintf(tid, sizeof(tid), "fraudwatch-pipe-%s", c->group_id);
    bool consumer = type == RD_KAFKA_CONSUMER;
    if (consumer ? fw_kafka_conf_eos_consumer(conf, c->group_id, false, errstr, n)
                 : fw_kafka_conf_eos_producer(conf, &c->kafka, tid, errstr, n)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (consumer)
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, n);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* The input's partition count, from the broker. */
static int partitions_of(rd_kafka_t *rk, const char *topic, char *errstr, size_t n) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    int count = -1;
    if (!err && md->topic_cnt == 1 && !md->topics[0].err)
        count = md->topics[0].partition_cnt;
    else
        snprintf(errstr, n, "input topic %s: %s", topic,
                 rd_kafka_err2str(err ? err : md->topic_cnt ? md->topics[0].err
                                                            : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    if (md)
        rd_kafka_metadata_destroy(md);
    return count;
}

int fw_cmd_pipe(int argc, char **argv) {
    pipe_conf c = { .group_id = "fraudwatch-pipe", .commit_interval_ms = 100 };
    fw_kafka_opts_init(&c.kafka);
    int rc = fw_opts_main(&pipe_cmd, &c, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    char errstr[512];
    pipe_state s = { .c = &c };
    rc = 1;
    if (!(s.producer = client(&s, RD_KAFKA_PRODUCER, errstr, sizeof(errstr))) ||
        (s.nparts = partitions_of(s.producer, c.input_topic, errstr, sizeof(errstr))) < 0) {
        fprintf(stderr, "fraudwatch pipe: %s\n", errstr);
        goto out;
    }
    fw_topic_spec out_spec = { .name = c.output_topic, .partitions = s.nparts,
                               .replication_factor = 1 };
    if (fw_topics_ensure(&c.kafka, &out_spec, 1, 30000, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch pipe: %s\n", errstr);
        goto out;
    }
    s.parts = calloc((size_t)s.nparts, sizeof(*s.parts));
    if (!s.parts || !txn_check(&s, rd_kafka_init_transactions(s.producer, 60000),
                               "init_transactions"))
        goto out;
    if (!(s.consumer = client(&s, RD_KAFKA_CONSUMER, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch pipe: %s\n", errstr);
        goto out;
    }
    rd_kafka_poll_set_consumer(s.consumer);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c.input_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(s.consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        fprintf(stderr, "fraudwatch pipe: subscribe: %s\n", rd_kafka_err2str(err));
        goto out;
    }
    fw_stop_install();
    while (!fw_stop_requested() && !s.failed) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s.consumer, 50);
        if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < s.nparts)
                s.parts[m->partition].at_end = true;
        } else if (m && m->err) {
            fprintf(stderr, "fraudwatch pipe: consumer: %s\n", rd_kafka_message_errstr(m));
        } else if (m && m->partition >= 0 && m->partition < s.nparts &&
                   s.parts[m->partition].assigned) {
            copy(&s, m);
        }
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_poll(s.producer, 0);
        if (s.txn_open && fw_mono_ms() - s.txn_started_ms >= c.commit_interval_ms)
            commit(&s);
        if (c.exit_at_end && all_at_end(&s)) {
            commit(&s);
            break;
        }
    }
    commit(&s);
    if (s.failed)
        goto out;
    double secs = s.records ? (double)(s.last_commit_ms - s.first_ms) / 1000.0 : 0;
    printf("fraudwatch pipe: %" PRIu64 " records (%.1f MB) copied in %.2f s from the first "
           "record read to the last commit: %.0f records/s, %" PRIu64 " commits\n",
           s.records, (double)s.bytes / 1e6, secs,
           secs > 0 ? (double)s.records / secs : 0.0, s.commits);
    rc = 0;
out:
    if (s.consumer) {
        for (int64_t until = fw_mono_ms() + 10000; !s.ever_assigned && fw_mono_ms() < until;) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s.consumer, 100);
            if (m) /* not copied, not committed: read again next time */
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(s.consumer);
        rd_kafka_destroy(s.consumer);
    }
    if (s.producer) {
        rd_kafka_flush(s.producer, 10000);
        rd_kafka_destroy(s.producer);
    }
    free(s.parts);
    return rc;
}
