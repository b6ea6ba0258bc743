/* produce.c — `fraudwatch produce`: replays a file of records into a topic,
 * one line per message, keyed by account_id when the line decodes (else no
 * key) or by a key given on the line (--key-separator), optionally paced. Malformed lines are sent too: that is how the
 * dead-letter path is exercised end to end. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "kafka_conf.h"
#include "topics.h"
#include "txn.h"
#include "fw_os.h"

static const char produce_help[] =
    "Usage: fraudwatch produce --topic TOPIC --input FILE [OPTIONS]\n"
    "\n"
    "Sends each line of FILE as one message, keyed by its account_id (lines that\n"
    "do not decode are sent without a key). Creates the topic if it is missing.\n"
    "\n"
    "  -t, --topic TOPIC          destination (required)\n"
    "  -i, --input FILE           records, one per line ('-' = stdin; required)\n"
    "      --key-separator SEP    each line is KEY SEP RECORD: KEY is the message key,\n"
    "                             whatever the record says (as kafka-console-producer's\n"
    "                             parse.key; e.g. to test records keyed wrongly)\n"
    "      --partition N          send every message to partition N (default: chosen\n"
    "                             by the key's hash)\n"
    "      --rate N               messages per second (default 0 = as fast as possible)\n"
    "      --partitions N         partitions if the topic is created (default 3)\n"
    "%s"
    "  -q, --quiet                no progress lines\n"
    "  -h, --help                 this text\n";

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    if (m->err) {
        (*(uint64_t *)opaque)++;
        fprintf(stderr, "fraudwatch produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

int fw_cmd_produce(int argc, char **argv) {
    static fw_kafka_opts ko;
    fw_kafka_opts_init(&ko);
    const char *topic = NULL, *input = NULL, *key_sep = NULL;
    double rate = 0;
    long partitions = 3, partition = RD_KAFKA_PARTITION_UA;
    bool quiet = false;
    char errstr[512];
    static const struct option opts[] = {
        { "topic", required_argument, NULL, 't' },
        { "input", required_argument, NULL, 'i' },
        { "rate", required_argument, NULL, 'r' },
        { "partitions", required_argument, NULL, 'p' },
        { "key-separator", required_argument, NULL, 'k' },
        { "partition", required_argument, NULL, 'P' },
        { "bootstrap-servers", required_argument, NULL, 'b' },
        { "kafka-config", required_argument, NULL, 'X' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "t:i:b:X:qh", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 't': topic = optarg; break;
        case 'i': input = optarg; break;
        case 'r':
            errno = 0;
            rate = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(rate >= 0)) {
                fprintf(stderr, "fraudwatch produce: --rate: expected a number >= 0, got "
                                "\"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'p':
            errno = 0;
            partitions = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || partitions < 1 || partitions > 100000) {
                fprintf(stderr, "fraudwatch produce: --partitions: expected 1 to 100000, got "
                                "\"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'P':
            errno = 0;
            partition = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || partition < 0 || partition >= 100000) {
                fprintf(stderr, "fraudwatch produce: --partition: expected 0 to 99999, got "
                                "\"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'k':
            if (!*optarg) {
                fprintf(stderr, "fraudwatch produce: --key-separator: expected a non-empty "
                                "string, got \"\"\n");
                return 2;
            }
            key_sep = optarg;
            break;
        case 'b': ko.bootstrap = optarg; break;
        case 'X':
            if (fw_kafka_opts_add(&ko, optarg, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch produce: %s\n", errstr);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'h': printf(produce_help, fw_kafka_opts_help); return 0;
        default: fprintf(stderr, "(see fraudwatch produce --help)\n"); return 2;
        }
    }
    if (!topic || !input) {
        fprintf(stderr, "fraudwatch produce: --topic and --input are required\n");
        return 2;
    }
    fw_topic_spec spec = { .name = topic, .partitions = (int)partitions,
                           .replication_factor = 1 };
    if (fw_topics_ensure(&ko, &spec, 1, 30000, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch produce: %s\n", errstr);
        return 1;
    }
    if (partition != RD_KAFKA_PARTITION_UA && partition >= spec.partitions) {
        fprintf(stderr, "fraudwatch produce: --partition: topic %s has %d partitions, no "
                        "partition %ld\n", topic, spec.partitions, partition);
        return 2;
    }
    FILE *in = !strcmp(input, "-") ? stdin : fopen(input, "r");
    if (!in) {
        fprintf(stderr, "fraudwatch produce: cannot open %s: %s\n", input, strerror(errno));
        return 1;
    }
    uint64_t failed = 0, sent = 0;
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&ko, errstr, sizeof(errstr));
    rd_kafka_t *rk = NULL;
    if (!conf ||
        fw_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)) ||
        fw_kafka_conf_set(conf, "linger.ms", "10", errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch produce: %s\n", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        fclose(in);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &failed);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch produce: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        fclose(in);
        return 1;
    }
    fw_stop_install();
    fw_arena scratch;
    fw_arena_init(&scratch, FW_TXN_DEFAULT_MAX_BYTES + 64);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    double t0 = fw_mono_s(), last = t0;
    while (!fw_stop_requested() && (n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        fw_txn txn;
        fw_decode_error derr;
        fw_str key = FW_STR_NULL;
        char *value = line;
        fw_arena_reset(&scratch);
        if (key_sep) {
            line[len] = '\0';
            char *sep = strstr(line, key_sep);
            if (!sep) {
                fprintf(stderr, "fraudwatch produce: %s: line %" PRIu64 " has no key "
                                "separator \"%s\"\n", input, sent + 1, key_sep);
                failed++;
                break;
            }
            key = (fw_str){ .ptr = line, .len = (size_t)(sep - line) };
            value = sep + strlen(key_sep);
            len -= (size_t)(value - line);
        } else if (fw_txn_decode_json(line, len, &scratch, 0, &txn, &derr) == FW_OK) {
            key = txn.account_id;
        }
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_PARTITION((int32_t)partition),
                                        RD_KAFKA_V_KEY(key.ptr, key.len),
                                        RD_KAFKA_V_VALUE(value, len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        if (err) {
            fprintf(stderr, "fraudwatch produce: %s\n", rd_kafka_err2str(err));
            failed++;
            break;
        }
        sent++;
        rd_kafka_poll(rk, 0);
        if (rate > 0) { /* pace against the schedule, not per message, so it does not drift */
            double due = t0 + (double)sent / rate;
            for (double now = fw_mono_s(); now < due && !fw_stop_requested(); now = fw_mono_s()) {
                struct timespec ts = { 0, (long)((due - now) * 1e9) };
                nanosleep(&ts, NULL);
            }
        }
        double now = fw_mono_s();
        if (!quiet && now - last >= 1.0) {
            fprintf(stderr, "fraudwatch produce: %" PRIu64 " sent (%.0f/s)\n", sent,
                    (double)sent / (now - t0));
            last = now;
        }
    }
    rd_kafka_flush(rk, 60000);
    if (rd_kafka_outq_len(rk) > 0) {
        fprintf(stderr, "fraudwatch produce: %d messages not delivered\n",
                rd_kafka_outq_len(rk));
        failed++;
    }
    if (!quiet)
        fprintf(stderr, "fraudwatch produce: %" PRIu64 " messages sent to %s, %" PRIu64
                        " failed\n", sent, topic, failed);
    free(line);
    fw_arena_fini(&scratch);
    if (in != stdin)
        fclose(in);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}
