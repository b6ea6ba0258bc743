/* consume.c — `fraudwatch consume`: reads a topic the way a downstream
 * system would (read_committed by default) and prints each message, raw or
 * as a readable alert line. Used by the demo and the integration tests. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kafka_conf.h"
#include "fw_os.h"

static const char consume_help[] =
    "Usage: fraudwatch consume --topic TOPIC [OPTIONS]\n"
    "\n"
    "Prints the messages of a topic, one per line, from the beginning, reading\n"
    "only committed transactions (as a downstream consumer of alerts does).\n"
    "\n"
    "  -t, --topic TOPIC          topic to read (required)\n"
    "      --format FMT           raw (default): the value; pretty: an alert as a\n"
    "                             readable line; dlq: a dead letter's headers and value\n"
    "  -n, --count N              stop after N messages (default: no limit)\n"
    "  -e, --exit-at-end          stop once every partition is read to its end\n"
    "      --timeout-ms N         with -n or -e: give up after N ms (default 60000)\n"
    "      --read-uncommitted     also show messages of open or aborted transactions\n"
    "%s"
    "  -h, --help                 this text\n";

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
    static fw_kafka_opts ko;
    fw_kafka_opts_init(&ko);
    const char *topic = NULL, *format = "raw";
    long count = -1, timeout_ms = 60000;
    bool exit_at_end = false, uncommitted = false;
    char errstr[512];
    static const struct option opts[] = {
        { "topic", required_argument, NULL, 't' },
        { "format", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "exit-at-end", no_argument, NULL, 'e' },
        { "timeout-ms", required_argument, NULL, 'T' },
        { "read-uncommitted", no_argument, NULL, 'U' },
        { "bootstrap-servers", required_argument, NULL, 'b' },
        { "kafka-config", required_argument, NULL, 'X' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "t:n:eb:X:h", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 't': topic = optarg; break;
        case 'f':
            if (strcmp(optarg, "raw") && strcmp(optarg, "pretty") && strcmp(optarg, "dlq")) {
                fprintf(stderr, "fraudwatch consume: --format: expected raw, pretty or dlq, "
                                "got \"%s\"\n", optarg);
                return 2;
            }
            format = optarg;
            break;
        case 'n':
        case 'T':
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 0) {
                fprintf(stderr, "fraudwatch consume: %s: expected a number, got \"%s\"\n",
                        opt == 'n' ? "--count" : "--timeout-ms", optarg);
                return 2;
            }
            *(opt == 'n' ? &count : &timeout_ms) = v;
            break;
        case 'e': exit_at_end = true; break;
        case 'U': uncommitted = true; break;
        case 'b': ko.bootstrap = optarg; break;
        case 'X':
            if (fw_kafka_opts_add(&ko, optarg, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch consume: %s\n", errstr);
                return 2;
            }
            break;
        case 'h': printf(consume_help, fw_kafka_opts_help); return 0;
        default: fprintf(stderr, "(see fraudwatch consume --help)\n"); return 2;
        }
    }
    if (!topic) {
        fprintf(stderr, "fraudwatch consume: --topic is required\n");
        return 2;
    }
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&ko, errstr, sizeof(errstr));
    if (!conf ||
        fw_kafka_conf_set(conf, "group.id", "fraudwatch-consume", errstr, sizeof(errstr)) ||
        fw_kafka_conf_set(conf, "isolation.level",
                          uncommitted ? "read_uncommitted" : "read_committed", errstr,
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
    int rc = 1;
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
            if (!strcmp(format, "pretty"))
                print_pretty(m);
            else if (!strcmp(format, "dlq"))
                print_dlq(m);
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
