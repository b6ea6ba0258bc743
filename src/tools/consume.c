/* consume.c — `fraudwatch consume`: reads a topic the way a downstream
 * system would (read_committed by default) and prints each message, raw or
 * as a readable alert line. Used by the demo and the integration tests. */
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
#include "fw_os.h"
#include "fw_time.h"

#define NB FW_OPT_NBSP

static const char consume_usage[] =
    "Usage: fraudwatch consume --topic TOPIC [OPTIONS]\n"
    "\n"
    "Prints the messages of a topic, one per line, from the beginning, reading\n"
    "only committed transactions (as a downstream consumer of alerts does).\n"
    "Every option can also be set in the environment (FW_ names); a flag wins.\n"
    "Exit status: 0 done, 1 a Kafka error or the timeout, 2 bad options.\n";

enum { CONSUME_RAW, CONSUME_PRETTY, CONSUME_DLQ, CONSUME_LATENCY, CONSUME_META };

typedef struct consume_conf {
    fw_kafka_opts kafka;
    const char *topic;
    int format;           /* CONSUME_RAW, _PRETTY or _DLQ */
    int count;            /* -1: no limit */
    int timeout_ms;       /* with count or exit_at_end */
    bool exit_at_end;
    bool uncommitted;
} consume_conf;

static fw_err set_format(void *field, const char *name, const char *v, char *errstr,
                         size_t errstr_size) {
    return fw_opt_parse_choice(name, v, "raw|pretty|dlq|latency|meta", field, errstr, errstr_size);
}

#define OFF(field) offsetof(consume_conf, field)

/* `consume`'s options: getopt, the environment and --help come from here. */
static const fw_opt consume_opts[] = {
    { .section = "Reading:", .name = "topic", .short_flag = 't', .arg = "TOPIC",
      .env = { "FW_CONSUME_TOPIC" }, .type = FW_OPT_STRING, .offset = OFF(topic),
      .help = "topic to read (required)" },
    { .name = "format", .arg = "FMT", .env = { "FW_CONSUME_FORMAT" }, .type = FW_OPT_CHOICE,
      .choices = "raw|pretty|dlq|latency|meta", .offset = OFF(format), .set = set_format,
      .def = "raw",
      .help = "raw: the value; pretty: an alert as a readable line; latency: an alert's "
              "rule, then ms from its event time to its Kafka timestamp (the engine's "
              "produce) and to its arrival here (scripts/bench-latency; a transaction: from its "
              "timestamp, as \"(record)\"); dlq: a dead "
              "letter's headers and value; meta: partition, offset, Kafka timestamp (ms, "
              "and whether the producer's or the broker's append time), key and value" },
    { .name = "count", .short_flag = 'n', .arg = "N", .env = { "FW_CONSUME_COUNT" },
      .type = FW_OPT_INT, .min = 0, .max = INT_MAX, .offset = OFF(count),
      .def = "no limit", .help = "stop after N messages" },
    { .name = "exit-at-end", .short_flag = 'e', .env = { "FW_EXIT_AT_END" },
      .type = FW_OPT_FLAG, .offset = OFF(exit_at_end),
      .help = "stop once every partition is read to its end" },
    { .name = "timeout-ms", .arg = "N", .env = { "FW_CONSUME_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 0, .max = INT_MAX, .offset = OFF(timeout_ms),
      .def = "60000", .help = "with -n or -e: give up after N ms (exit status 1)" },
    { .name = "read-uncommitted", .env = { "FW_CONSUME_READ_UNCOMMITTED" },
      .type = FW_OPT_FLAG, .offset = OFF(uncommitted),
      .help = "also show messages of open or aborted transactions" },
    FW_OPTS_KAFKA(consume_conf, kafka),
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP,
      .help = "this text" },
};

static fw_err consume_check(void *conf, char *errstr, size_t errstr_size) {
    const consume_conf *c = conf;
    if (!c->topic || !*c->topic) {
        snprintf(errstr, errstr_size, "--topic (or FW_CONSUME_TOPIC) is required");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opts_cmd consume_cmd = {
    .name = "consume", .usage = consume_usage, .opts = consume_opts,
    .nopts = sizeof(consume_opts) / sizeof(consume_opts[0]), .check = consume_check,
};

/* @returns -1 to go on, else the exit status. */
static int consume_parse(consume_conf *c, int argc, char **argv) {
    memset(c, 0, sizeof(*c));
    fw_kafka_opts_init(&c->kafka); /* also KAFKA_SECURITY_PROTOCOL and the like */
    c->format = CONSUME_RAW;
    c->count = -1;
    c->timeout_ms = 60000;
    return fw_opts_main(&consume_cmd, c, argc, argv, NULL);
}

/* Value of a string field "key":"..." in our own alert JSON (display only). */
static int json_field(const char *js, size_t n, const char *key, const char **val) {
    char pat[64];
    int plen = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    for (size_t i = 0; i + (size_t)plen <= n; i++) {
        if (memcmp(js + i, pat, (size_t)plen))
            continue;
        size_t s = i + (size_t)plen, e = s;
        while (e < n && js[e] != '"')
            e += js[e] == '\\' ? 2 : 1;
        *val = js + s;
        return (int)((e < n ? e : n) - s);
    }
    *val = "";
    return 0;
}

static void print_pretty(const rd_kafka_message_t *m) {
    const char *js = m->payload, *v[6];
    size_t n = m->len;
    static const char *keys[] = { "event_time", "rule", "severity", "entity_type",
                                  "entity_id", "reason" };
    int len[6];
    for (int i = 0; i < 6; i++)
        len[i] = json_field(js, n, keys[i], &v[i]);
    printf("ALERT %.*s %-16.*s %-8.*s %.*s=%.*s  %.*s\n", len[0], v[0], len[1], v[1], len[2],
           v[2], len[3], v[3], len[4], v[4], len[5], v[5]);
}

/* "RULE ENGINE_MS VISIBLE_MS": from the alert's event time (its input's,
 * with event time = wall-clock time) to the alert's Kafka timestamp, and to
 * now, when a read_committed reader has it. A transaction (no rule: what
 * `fraudwatch pipe` copies) is timed from its own timestamp as "(record)". */
static void print_latency(const rd_kafka_message_t *m, int64_t now) {
    const char *js = m->payload, *rule, *et;
    int rlen = json_field(js, m->len, "rule", &rule);
    int elen = json_field(js, m->len, "event_time", &et);
    if (!rlen && !elen) {
        rule = "(record)";
        rlen = 8;
        elen = json_field(js, m->len, "timestamp", &et);
    }
    int64_t event_ms;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (!rlen || !elen || fw_time_parse_iso8601(et, (size_t)elen, &event_ms) ||
        tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
        fprintf(stderr, "fraudwatch consume: offset %" PRId64 ": neither an alert with an "
                "event_time nor a record with a timestamp, or no Kafka timestamp: skipped\n",
                m->offset);
        return;
    }
    printf("%.*s %" PRId64 " %" PRId64 "\n", rlen, rule, ts - event_ms, now - event_ms);
}

/* "PARTITION OFFSET TIMESTAMP_MS create|append|none KEY VALUE", where an
 * absent key is "-". */
static void print_meta(const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    const char *kind = type == RD_KAFKA_TIMESTAMP_CREATE_TIME      ? "create"
                       : type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "append"
                                                                    : "none";
    printf("%" PRId32 " %" PRId64 " %" PRId64 " %s %.*s %.*s\n", m->partition, m->offset, ts,
           kind, m->key ? (int)m->key_len : 1, m->key ? (const char *)m->key : "-", (int)m->len,
           m->payload ? (const char *)m->payload : "");
}

static void print_dlq(const rd_kafka_message_t *m) {
    rd_kafka_headers_t *hdrs = NULL;
    printf("DEAD LETTER");
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t sz;
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &sz); i++)
            printf(" %s=%.*s", name, (int)sz, (const char *)val);
    }
    printf(" value=%.*s\n", (int)m->len, m->payload ? (const char *)m->payload : "");
}

int fw_cmd_consume(int argc, char **argv) {
    consume_conf c;
    int rc = consume_parse(&c, argc, argv);
    if (rc >= 0)
        return rc;
    const char *topic = c.topic;
    long count = c.count, timeout_ms = c.timeout_ms;
    bool exit_at_end = c.exit_at_end;
    char errstr[512];
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&c.kafka, errstr, sizeof(errstr));
    if (!conf ||
        fw_kafka_conf_set(conf, "group.id", "fraudwatch-consume", errstr, sizeof(errstr)) ||
        fw_kafka_conf_set(conf, "isolation.level",
                          c.uncommitted ? "read_uncommitted" : "read_committed", errstr,
                          sizeof(errstr)) ||
        fw_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) ||
        fw_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch consume: %s\n", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "fraudwatch consume: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rc = 1;
    bool *eof = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "fraudwatch consume: topic %s: %s\n", topic,
                rd_kafka_err2str(err ? err : md->topic_cnt ? md->topics[0].err
                                                           : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    int nparts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_poll_set_consumer(rk);
    if ((err = rd_kafka_assign(rk, parts))) {
        fprintf(stderr, "fraudwatch consume: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }
    fw_stop_install();
    eof = calloc((size_t)nparts + 1, sizeof(bool)); /* per partition, by index */
    int at_end = 0;
    long seen = 0;
    int64_t deadline = fw_mono_ms() + timeout_ms;
    bool bounded = count >= 0 || exit_at_end;
    while (!fw_stop_requested() && (count < 0 || seen < count)) {
        if (bounded && fw_mono_ms() > deadline) {
            fprintf(stderr, "fraudwatch consume: timed out after %ld ms with %ld messages\n",
                    timeout_ms, seen);
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        bool known = eof && m->partition >= 0 && m->partition < nparts;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (known && !eof[m->partition]) {
                eof[m->partition] = true;
                at_end++;
            }
        } else if (m->err) {
            fprintf(stderr, "fraudwatch consume: %s\n", rd_kafka_message_errstr(m));
        } else {
            if (known && eof[m->partition]) {
                eof[m->partition] = false;
                at_end--;
            }
            seen++;
            if (c.format == CONSUME_PRETTY)
                print_pretty(m);
            else if (c.format == CONSUME_DLQ)
                print_dlq(m);
            else if (c.format == CONSUME_LATENCY)
                print_latency(m, fw_wall_ms());
            else if (c.format == CONSUME_META)
                print_meta(m);
            else
                printf("%.*s\n", (int)m->len, m->payload ? (const char *)m->payload : "");
            fflush(stdout);
        }
        rd_kafka_message_destroy(m);
        if (exit_at_end && at_end >= nparts)
            break;
    }
    rc = 0;
out:
    free(eof);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
