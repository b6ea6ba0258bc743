/* produce.c — `fraudwatch produce`: replays a file of records into a topic,
 * one line per message, keyed by account_id (or another field, or none)
 * when the line decodes (else no key) or by a key given on the line
 * (--key-separator), optionally paced. Malformed lines are sent too: that
 * is how the dead-letter path is exercised end to end. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "kafka_conf.h"
#include "options.h"
#include "progress.h"
#include "topics.h"
#include "txn.h"
#include "fw_os.h"

static const char produce_usage[] =
    "Usage: fraudwatch produce --topic TOPIC --input FILE [OPTIONS]\n"
    "\n"
    "Sends each line of FILE as one message, keyed by its account_id (--key: another\n"
    "field, or none; lines that do not decode are sent without a key). Creates the\n"
    "topic if it is missing.\n"
    "Every option can also be set in the environment (FW_ names); a flag wins.\n"
    "Exit status: 0 done, 1 a Kafka error or a message not delivered, 2 bad\n"
    "options or an input file that cannot be opened.\n";

typedef struct produce_conf {
    fw_kafka_opts kafka;
    const char *topic;
    const char *input;
    const char *key_sep;  /* NULL: keyed by key_field */
    int key_field;        /* produce_key_field */
    double rate;          /* messages per second; 0: as fast as possible */
    int partitions;       /* if the topic is created */
    int partition;        /* RD_KAFKA_PARTITION_UA: by the key's hash */
    bool quiet, progress;
} produce_conf;

#define OFF(field) offsetof(produce_conf, field)

/* --key's choices, in this order. */
typedef enum produce_key_field {
    KEY_ACCOUNT_ID, KEY_CUSTOMER_ID, KEY_CARD_ID, KEY_MERCHANT_ID, KEY_COUNTERPARTY_ID,
    KEY_NONE,
} produce_key_field;

/* `produce`'s options: getopt, the environment and --help come from here. */
static const fw_opt produce_opts[] = {
    { .section = "Sending:", .name = "topic", .short_flag = 't', .arg = "TOPIC",
      .env = { "FW_PRODUCE_TOPIC" }, .type = FW_OPT_STRING, .offset = OFF(topic),
      .help = "destination (required)" },
    { .name = "input", .short_flag = 'i', .arg = "FILE", .env = { "FW_PRODUCE_INPUT" },
      .type = FW_OPT_STRING, .offset = OFF(input),
      .help = "records, one per line ('-' = stdin; required)" },
    { .name = "key-separator", .arg = "SEP", .env = { "FW_PRODUCE_KEY_SEPARATOR" },
      .type = FW_OPT_STRING, .offset = OFF(key_sep),
      .help = "each line is KEY SEP RECORD: KEY is the message key, whatever the record "
              "says (as kafka-console-producer's parse.key; e.g. to test records keyed "
              "wrongly)" },
    { .name = "key", .arg = "FIELD", .env = { "FW_PRODUCE_KEY" }, .type = FW_OPT_CHOICE,
      .choices = "account_id|customer_id|card_id|merchant_id|counterparty_id|none",
      .offset = OFF(key_field), .def = "account_id",
      .help = "the field of each record that keys its message; none: no key (the "
              "producer spreads such messages over the partitions). A record without the "
              "field, or that does not decode, is sent without a key" },
    { .name = "partition", .arg = "N", .env = { "FW_PRODUCE_PARTITION" }, .type = FW_OPT_INT,
      .min = 0, .max = 99999, .offset = OFF(partition), .def = "chosen by the key's hash",
      .help = "send every message to partition N" },
    { .name = "rate", .arg = "N", .env = { "FW_PRODUCE_RATE" }, .type = FW_OPT_AMOUNT,
      .offset = OFF(rate), .def = "0 = as fast as possible", .help = "messages per second" },
    { .name = "partitions", .arg = "N", .env = { "FW_PARTITIONS" }, .type = FW_OPT_INT,
      .min = 1, .max = 100000, .offset = OFF(partitions), .def = "3",
      .help = "partitions if the topic is created" },
    FW_OPTS_KAFKA(produce_conf, kafka),
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP,
      .help = "this text" },
    FW_OPTS_PROGRESS(produce_conf, quiet, progress),
};

static fw_err produce_check(void *conf, char *errstr, size_t errstr_size) {
    const produce_conf *c = conf;
    if (!c->topic || !*c->topic || !c->input || !*c->input) {
        snprintf(errstr, errstr_size, "--topic and --input are required (or "
                 "FW_PRODUCE_TOPIC and FW_PRODUCE_INPUT)");
        return FW_ERR_INVALID;
    }
    if (c->key_sep && !*c->key_sep) {
        snprintf(errstr, errstr_size, "--key-separator: expected a non-empty string, "
                 "got \"\"");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opts_cmd produce_cmd = {
    .name = "produce", .usage = produce_usage, .opts = produce_opts,
    .nopts = sizeof(produce_opts) / sizeof(produce_opts[0]), .check = produce_check,
};

/* @returns -1 to go on, else the exit status. */
static int produce_parse(produce_conf *c, int argc, char **argv) {
    memset(c, 0, sizeof(*c));
    fw_kafka_opts_init(&c->kafka); /* also KAFKA_SECURITY_PROTOCOL and the like */
    c->partitions = 3;
    c->partition = RD_KAFKA_PARTITION_UA;
    return fw_opts_main(&produce_cmd, c, argc, argv, NULL);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    if (m->err) {
        (*(uint64_t *)opaque)++;
        fprintf(stderr, "fraudwatch produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

int fw_cmd_produce(int argc, char **argv) {
    produce_conf c;
    int rc = produce_parse(&c, argc, argv);
    if (rc >= 0)
        return rc;
    const char *topic = c.topic, *input = c.input, *key_sep = c.key_sep;
    double rate = c.rate;
    long partition = c.partition;
    char errstr[512];
    /* Before any broker is asked: a missing file is a usage error. */
    FILE *in = !strcmp(input, "-") ? stdin : fopen(input, "r");
    if (!in) {
        fprintf(stderr, "fraudwatch produce: --input: cannot open %s: %s\n", input,
                strerror(errno));
        return 2;
    }
    fw_topic_spec spec = { .name = topic, .partitions = c.partitions,
                           .replication_factor = 1 };
    if (fw_topics_ensure(&c.kafka, &spec, 1, 30000, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch produce: %s\n", errstr);
        if (in != stdin)
            fclose(in);
        return 1;
    }
    if (partition != RD_KAFKA_PARTITION_UA && partition >= spec.partitions) {
        fprintf(stderr, "fraudwatch produce: --partition: topic %s has %d partitions, no "
                        "partition %ld\n", topic, spec.partitions, partition);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    uint64_t failed = 0, sent = 0;
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&c.kafka, errstr, sizeof(errstr));
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
    double t0 = fw_mono_s();
    fw_progress pr;
    fw_progress_init(&pr, "fraudwatch produce", NULL, fw_progress_file_size(in),
                     fw_progress_mode_of(c.quiet, c.progress), t0);
    uint64_t bytes = 0;
    while (!fw_stop_requested() && (n = getline(&line, &cap, in)) >= 0) {
        bytes += (uint64_t)n;
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
        } else if (c.key_field != KEY_NONE &&
                   fw_txn_decode_json(line, len, &scratch, 0, &txn, &derr) == FW_OK) {
            const fw_str by[] = { txn.account_id, txn.customer_id, txn.card_id,
                                  txn.merchant_id, txn.counterparty_id };
            key = by[c.key_field];
            if (!key.len)
                key = FW_STR_NULL;
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
        if (sent % 1024 == 0 || rate > 0) {
            double now = fw_mono_s();
            if (fw_progress_due(&pr, now)) {
                char detail[48];
                snprintf(detail, sizeof(detail), "%" PRIu64 " sent", sent);
                fw_progress_update(&pr, bytes, now, detail);
            }
        }
    }
    {
        char detail[48];
        snprintf(detail, sizeof(detail), "%" PRIu64 " sent", sent);
        fw_progress_end(&pr, bytes, fw_mono_s(), detail);
    }
    rd_kafka_flush(rk, 60000);
    if (rd_kafka_outq_len(rk) > 0) {
        fprintf(stderr, "fraudwatch produce: %d messages not delivered\n",
                rd_kafka_outq_len(rk));
        failed++;
    }
    if (!c.quiet)
        fprintf(stderr, "fraudwatch produce: %" PRIu64 " messages sent to %s, %" PRIu64
                        " failed\n", sent, topic, failed);
    free(line);
    fw_arena_fini(&scratch);
    if (in != stdin)
        fclose(in);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}
