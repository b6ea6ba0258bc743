/* generate.c — `fraudwatch generate`: writes synthetic, labelled transactions
 * (the model in core/gen_model.c) as NDJSON to a file or stdout, or produces
 * them to a Kafka topic keyed by account_id. This file holds only the I/O:
 * options, the output buffer, the producer, pacing, signals and progress. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "fw_time.h"
#include "gen_model.h"
#include "kafka_conf.h"
#include "options.h"
#include "topics.h"
#include "fw_os.h"
#include "progress.h"

#define GEN_DEFAULT_TOPIC "transactions"
#define GEN_DEFAULT_COUNT 1000
#define GEN_DEFAULT_RATIO 0.01
#define GEN_DEFAULT_SEED 42
#define GEN_DEFAULT_CUSTOMERS 10000
#define GEN_DEFAULT_PARTITIONS 3
#define GEN_DEFAULT_FILE_START_MS 1704067200000LL /* 2024-01-01T00:00:00Z */
#define GEN_FILE_BUF (4u << 20)          /* bytes per write(2) to the output file */
#define GEN_TOPIC_TIMEOUT_MS 15000       /* broker unreachable: give up after this */
#define GEN_MSG_TIMEOUT_MS "30000"       /* default message.timeout.ms */
#define GEN_LINGER_MS "5"                /* default linger.ms */
#define GEN_MAX_BEHIND_NS 1000000000LL   /* pacing: beyond this behind, stop catching up */

typedef struct gen_opts {
    fw_kafka_opts kafka;
    const char *topic;
    const char *output;     /* NULL: Kafka; "-": stdout */
    const char *start;      /* NULL: the default for the output */
    uint64_t count;         /* 0: unbounded */
    double interval_s;      /* seconds between records; 0: none */
    double rate;            /* records per second; 0: as fast as possible */
    bool wall_clock;        /* each record's event time is when it is written */
    double fraud_ratio;
    uint64_t seed;
    int customers;
    int partitions;
    double weights[FW_GEN_MAX_SCENARIOS]; /* --scenarios; all 0: every scenario alike */
    struct gen_hot {
        fw_gen_hot_field field;
        double share;
    } hot;                                /* --hot-key; NONE: off */
    bool quiet;
    bool progress_flag;        /* --progress */
    fw_progress_mode progress; /* from --quiet and --progress */
} gen_opts;

/* Where records go: a buffered file, or a Kafka producer. */
typedef struct gen_sink {
    const char *name;       /* for messages: the path, "stdout" or the topic and servers */
    char name_buf[600];
    FILE *fp;
    bool close_fp;
    char *buf;
    size_t len;
    rd_kafka_t *rk;
    const char *topic;
    int flush_timeout_ms;
    uint64_t delivered;     /* delivery reports: OK */
    uint64_t failed;        /* delivery reports: failed, and messages never flushed */
    char first_error[256];
} gen_sink;

static const char gen_usage[] =
    "Usage: fraudwatch generate [OPTIONS]\n\n"
    "Writes synthetic, labelled transactions (one JSON object each, with is_fraud,\n"
    "scenario and scenario_instance labels the engine ignores) to a Kafka topic\n"
    "keyed by account_id, or with --output to a file as NDJSON. The same options\n"
    "give byte-identical records. Every option can also be set in the environment\n"
    "(FW_ names; the older ones too); a flag wins over the environment.\n";

/* After the options: the model in a few lines, the scenarios from their table. */
static void gen_epilogue(FILE *out) {
    fprintf(out,
        "\nEvent time advances by simulated arrivals, not by the wall clock: %.0f\n"
        "transactions per customer per day on average (10000 customers: a mean gap of\n"
        "2.16 s), busier at midday and in the evening (UTC) than at night.\n\n"
        "Fraud scenarios (in parentheses the rule meant to catch it if named otherwise):\n",
        FW_GEN_TX_PER_CUSTOMER_DAY);
    for (int i = 0; i < fw_gen_nscenarios; i++) { /* from the table, within 80 columns */
        const fw_gen_scenario *sc = &fw_gen_scenarios[i];
        int col = fprintf(out, "  %-18s %s", sc->name, sc->summary ? sc->summary : "");
        if (sc->targets && *sc->targets && strcmp(sc->targets, sc->name)) {
            if (col + (int)strlen(sc->targets) + 3 > 80)
                fprintf(out, "\n%20s", "");
            fprintf(out, " (%s)", sc->targets);
        }
        fputc('\n', out);
    }
    fprintf(out, "\n"
          "Legitimate behaviour some rules flag (false positives, on purpose):\n"
          "  large purchases    1 record in 20000 is a purchase above 5000 (high_amount)\n"
          "  travel             a trip abroad every 100-300 days, 2-14 days long;\n"
          "                     flights take real time, but on 1 trip in 10 the phone\n"
          "                     reports home now and then (location_jump)\n"
          "  payday             the 25th (or the Friday before): salaries of about 2500\n"
          "                     at 06:00-10:00 UTC, then rent, bills and shopping; 1 in\n"
          "                     150 pays 2-3 transfers above 1000 within 25 min\n"
          "                     (velocity); 1 salary in 1500 is above 5000 (high_amount)\n"
          "See docs/generator.md.\n\n"
          "Producer defaults: linger.ms=" GEN_LINGER_MS ", message.timeout.ms="
          GEN_MSG_TIMEOUT_MS " (-X overrides).\n"
          "An unreachable broker fails the command after %d s.\n\n"
          "On a terminal, a progress line on stderr is rewritten about once a second:\n"
          "transactions, percent of --count, rate, ETA, elapsed time and the fraud\n"
          "share; elsewhere only with --progress, one line each time. A summary line\n"
          "ends the run. Ctrl-C or SIGTERM stops, completes the fraud instances in\n"
          "progress, flushes and prints the summary. Exit status: 0 done, 1 a write or\n"
          "delivery failed, 2 bad options or an output file that cannot be opened.\n",
          GEN_TOPIC_TIMEOUT_MS / 1000);
}

static fw_err set_scenarios(void *field, const char *name, const char *v, char *errstr,
                            size_t errstr_size) {
    char why[256];
    if (!fw_gen_parse_scenarios(v, field, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", name, why);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static fw_err set_hot_key(void *field, const char *name, const char *v, char *errstr,
                          size_t errstr_size) {
    struct gen_hot *h = field;
    char why[256];
    if (!fw_gen_parse_hot_key(v, &h->field, &h->share, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", name, why);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

#define OFF(field) offsetof(gen_opts, field)

/* `generate`'s options: getopt, the environment and --help come from here. */
static const fw_opt gen_opts_table[] = {
    { .section = "Output:", .name = "topic", .short_flag = 't', .arg = "NAME",
      .env = { "FW_INPUT_TOPIC", "INPUT_TOPIC", "KAFKA_SOURCE_TOPIC", "KAFKA_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(topic), .def = GEN_DEFAULT_TOPIC,
      .help = "topic to produce to (run's --input-topic); created when missing" },
    { .name = "partitions", .arg = "N", .env = { "FW_PARTITIONS" }, .type = FW_OPT_INT,
      .min = 1, .max = 100000, .offset = OFF(partitions), .def = "3",
      .help = "partitions when creating the topic (replication factor 1)" },
    { .name = "output", .short_flag = 'o', .arg = "FILE", .env = { "FW_GENERATE_OUTPUT" },
      .type = FW_OPT_STRING, .offset = OFF(output),
      .help = "write NDJSON to FILE instead of Kafka ('-' = stdout)" },
    { .name = "count", .short_flag = 'n', .arg = "N", .env = { "FW_GENERATE_COUNT" },
      .type = FW_OPT_U64, .offset = OFF(count), .def = "1000",
      .help = "transactions to write; 0 = until Ctrl-C, for Kafka or stdout only" },
    { .name = "interval", .arg = "SECONDS", .env = { "FW_GENERATE_INTERVAL" },
      .type = FW_OPT_AMOUNT, .offset = OFF(interval_s), .def = "0",
      .help = "wall-clock pause between transactions, at most 86400" },
    { .name = "rate", .arg = "N", .env = { "FW_GENERATE_RATE" }, .type = FW_OPT_AMOUNT,
      .offset = OFF(rate), .def = "0 = as fast as possible",
      .help = "transactions per second, at most 1e9; exclusive with --interval" },
    { .name = "wall-clock", .env = { "FW_GENERATE_WALL_CLOCK" }, .type = FW_OPT_FLAG,
      .offset = OFF(wall_clock),
      .help = "each transaction's timestamp is the wall-clock time it is written, as on "
              "real traffic (with --rate: latency measurements, the demo); the mix and "
              "order stay, the gaps between them are the pace's" },

    { .section = "Data:", .name = "seed", .short_flag = 's', .arg = "N",
      .env = { "FW_GENERATE_SEED" }, .type = FW_OPT_U64, .offset = OFF(seed), .def = "42", .help = "random seed" },
    { .name = "fraud-ratio", .arg = "F", .env = { "FW_GENERATE_FRAUD_RATIO" },
      .type = FW_OPT_PROBABILITY, .offset = OFF(fraud_ratio), .def = "0.01",
      .help = "fraction of fraudulent transactions, 0..1" },
    { .name = "customers", .arg = "N", .env = { "FW_GENERATE_CUSTOMERS" }, .type = FW_OPT_INT,
      .min = 1, .max = FW_GEN_MAX_CUSTOMERS, .offset = OFF(customers), .def = "10000",
      .help = "population size, 1..10000000" },
    { .name = "start", .arg = "TIME", .env = { "FW_GENERATE_START" }, .type = FW_OPT_STRING,
      .offset = OFF(start), .def = "2024-01-01T00:00:00Z for --output, now for Kafka",
      .help = "event time of the first transaction: ISO-8601 with a zone, or 'now'" },
    { .name = "scenarios", .arg = "LIST", .env = { "FW_GENERATE_SCENARIOS" },
      .type = FW_OPT_STRING, .offset = OFF(weights), .set = set_scenarios,
      .def = "all, alike",
      .help = "the fraud mix: name[=weight],... with relative rates (weight 1 when left "
              "out), e.g. fan_in=2,cycle,structuring" },
    { .name = "hot-key", .arg = "FIELD=SHARE", .env = { "FW_GENERATE_HOT_KEY" },
      .type = FW_OPT_STRING, .offset = OFF(hot), .set = set_hot_key, .def = "none",
      .help = "for load tests: one key carries SHARE (0..1) of all records; FIELD "
              "account_id (acct-0: everyday traffic only, no fraud, payday or trips) or "
              "merchant_id (one online merchant, normal purchases only: at most about 0.85), "
              "e.g. merchant_id=0.3" },

    FW_OPTS_KAFKA(gen_opts, kafka),

    { .section = "Other:", .name = "quiet", .short_flag = 'q', .env = { "FW_QUIET" },
      .type = FW_OPT_FLAG, .offset = OFF(quiet),
      .help = "no progress lines (the final summary stays)" },
    { .name = "progress", .env = { "FW_PROGRESS" }, .type = FW_OPT_FLAG,
      .offset = OFF(progress_flag),
      .help = "progress lines even when stderr is not a terminal" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

/* The checks across options, after env and flags. */
static fw_err gen_check(void *conf, char *errstr, size_t errstr_size) {
    const gen_opts *o = conf;
    if (o->interval_s > 86400) {
        snprintf(errstr, errstr_size, "--interval: expected at most 86400 seconds, got %g",
                 o->interval_s);
        return FW_ERR_INVALID;
    }
    if (o->rate > 1e9) {
        snprintf(errstr, errstr_size, "--rate: expected at most 1e9 per second, got %g",
                 o->rate);
        return FW_ERR_INVALID;
    }
    if (o->rate > 0 && o->interval_s > 0) {
        snprintf(errstr, errstr_size, "--rate and --interval are exclusive");
        return FW_ERR_INVALID;
    }
    if (o->count == 0 && o->output && strcmp(o->output, "-")) {
        snprintf(errstr, errstr_size, "--count 0 (until Ctrl-C) needs Kafka or --output -, "
                 "not a file");
        return FW_ERR_INVALID;
    }
    if (!*o->topic) {
        snprintf(errstr, errstr_size, "--topic is empty");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opts_cmd gen_cmd = {
    .name = "generate", .usage = gen_usage, .epilogue = gen_epilogue, .opts = gen_opts_table,
    .nopts = sizeof(gen_opts_table) / sizeof(gen_opts_table[0]), .check = gen_check,
};

/* @returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, gen_opts *o) {
    memset(o, 0, sizeof(*o));
    fw_kafka_opts_init(&o->kafka); /* also KAFKA_SECURITY_PROTOCOL and the like */
    o->topic = GEN_DEFAULT_TOPIC;
    o->count = GEN_DEFAULT_COUNT;
    o->fraud_ratio = GEN_DEFAULT_RATIO;
    o->seed = GEN_DEFAULT_SEED;
    o->customers = GEN_DEFAULT_CUSTOMERS;
    o->partitions = GEN_DEFAULT_PARTITIONS;
    int rc = fw_opts_main(&gen_cmd, o, argc, argv, NULL);
    o->progress = fw_progress_mode_of(o->quiet, o->progress_flag);
    return rc;
}

static bool resolve_start(const gen_opts *o, int64_t *ms) {
    if (!o->start) {
        if (o->output) {
            *ms = GEN_DEFAULT_FILE_START_MS;
            return true;
        }
    } else if (strcmp(o->start, "now")) {
        if (fw_time_parse_iso8601(o->start, strlen(o->start), ms) == FW_OK)
            return true;
        fprintf(stderr, "fraudwatch generate: --start: expected ISO-8601 with a zone "
                        "(2024-01-01T00:00:00Z) or 'now', got \"%s\"\n", o->start);
        return false;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return true;
}

/* ------------------------------------------------------------- file sink */

static bool file_open(gen_sink *s, const char *path) {
    s->buf = malloc(GEN_FILE_BUF);
    if (!s->buf) {
        fprintf(stderr, "fraudwatch generate: out of memory\n");
        return false;
    }
    if (!strcmp(path, "-")) {
        s->fp = stdout;
        s->name = "stdout";
        return true;
    }
    s->fp = fopen(path, "wb");
    if (!s->fp) {
        fprintf(stderr, "fraudwatch generate: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    s->close_fp = true;
    s->name = path;
    return true;
}

static bool file_flush(gen_sink *s) {
    if (s->len && fwrite(s->buf, 1, s->len, s->fp) != s->len) {
        fprintf(stderr, "fraudwatch generate: writing %s: %s\n", s->name, strerror(errno));
        s->len = 0;
        return false;
    }
    s->len = 0;
    if (fflush(s->fp)) {
        fprintf(stderr, "fraudwatch generate: writing %s: %s\n", s->name, strerror(errno));
        return false;
    }
    return true;
}

static bool file_close(gen_sink *s) {
    bool ok = true;
    if (s->fp) {
        ok = file_flush(s);
        if (s->close_fp && fclose(s->fp)) {
            fprintf(stderr, "fraudwatch generate: closing %s: %s\n", s->name, strerror(errno));
            ok = false;
        }
        s->fp = NULL;
    }
    free(s->buf);
    s->buf = NULL;
    return ok;
}

/* ------------------------------------------------------------ Kafka sink */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    gen_sink *s = opaque;
    if (!m->err) {
        s->delivered++;
        return;
    }
    if (!s->failed)
        snprintf(s->first_error, sizeof(s->first_error), "%s", rd_kafka_err2str(m->err));
    s->failed++;
}

static bool has_prop(const fw_kafka_opts *ko, const char *key) {
    for (int i = 0; i < ko->nprops; i++)
        if (!strcmp(ko->props[i][0], key))
            return true;
    return false;
}

static bool kafka_open(gen_sink *s, gen_opts *o) {
    char errstr[512];
    fw_topic_spec spec = {
        .name = o->topic,
        .partitions = (int)o->partitions,
        .replication_factor = 1,
    };
    if (fw_topics_ensure(&o->kafka, &spec, 1, GEN_TOPIC_TIMEOUT_MS, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch generate: %s%s%s%s\n", errstr,
                strstr(errstr, o->kafka.bootstrap) ? "" : " (bootstrap servers ",
                strstr(errstr, o->kafka.bootstrap) ? "" : o->kafka.bootstrap,
                strstr(errstr, o->kafka.bootstrap) ? "" : ")");
        return false;
    }
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&o->kafka, errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "fraudwatch generate: %s\n", errstr);
        return false;
    }
    /* Our defaults, unless -X said otherwise. */
    static const char *const defaults[][2] = {
        { "linger.ms", GEN_LINGER_MS },
        { "message.timeout.ms", GEN_MSG_TIMEOUT_MS },
        { "client.id", "fraudwatch-generate" },
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!has_prop(&o->kafka, defaults[i][0]) &&
            fw_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof(errstr))) {
            fprintf(stderr, "fraudwatch generate: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
            return false;
        }
    char tmo[32];
    size_t tmo_len = sizeof(tmo);
    long msg_timeout = 30000;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", tmo, &tmo_len) == RD_KAFKA_CONF_OK)
        msg_timeout = strtol(tmo, NULL, 10);
    s->flush_timeout_ms = (int)(msg_timeout > 0 && msg_timeout < 600000 ? msg_timeout : 600000)
                          + 5000;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, s);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!s->rk) { /* conf is still ours when rd_kafka_new fails */
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "fraudwatch generate: Kafka producer: %s\n", errstr);
        return false;
    }
    s->topic = o->topic;
    snprintf(s->name_buf, sizeof(s->name_buf), "topic %s at %s", o->topic, o->kafka.bootstrap);
    s->name = s->name_buf;
    return true;
}

/* Simulated time runs ahead of the wall clock, and the engine refuses an
 * event time further than max_future_skew ahead of its message's timestamp:
 * such a record's timestamp is its event time. Others keep the wall clock
 * (0), so retention never sees timestamps from a --start in the past. */
static bool kafka_emit(gen_sink *s, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t ts_ms) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ts_ms > fw_wall_ms() ? ts_ms : 0), RD_KAFKA_V_END);
        if (!err) {
            rd_kafka_poll(s->rk, 0); /* serve delivery reports */
            return true;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (!s->failed)
                snprintf(s->first_error, sizeof(s->first_error), "%s", rd_kafka_err2str(err));
            s->failed++;
            return false;
        }
        rd_kafka_poll(s->rk, 100); /* full queue: wait for deliveries to make room */
    }
}

static void kafka_close(gen_sink *s) {
    if (!s->rk)
        return;
    rd_kafka_flush(s->rk, s->flush_timeout_ms);
    int left = rd_kafka_outq_len(s->rk);
    if (left > 0) {
        if (!s->failed)
            snprintf(s->first_error, sizeof(s->first_error),
                     "%d messages not delivered within %d ms", left, s->flush_timeout_ms);
        s->failed += (uint64_t)left;
    }
    rd_kafka_destroy(s->rk);
    s->rk = NULL;
}

/* --------------------------------------------------------------- running */

static void fmt_rate(double per_s, char *out, size_t n) {
    if (per_s >= 1e6)
        snprintf(out, n, "%.2fM/s", per_s / 1e6);
    else if (per_s >= 1e3)
        snprintf(out, n, "%.1fk/s", per_s / 1e3);
    else
        snprintf(out, n, "%.1f/s", per_s);
}

/* What a progress line adds to count, percent, rate and ETA. */
static const char *progress_detail(const fw_gen_stats *st, const gen_sink *s, char *out,
                                   size_t size) {
    double pct = st->records ? 100.0 * (double)st->fraud / (double)st->records : 0.0;
    if (s->rk)
        snprintf(out, size, "%" PRIu64 " delivered, fraud %" PRIu64 " (%.2f%%)", s->delivered,
                 st->fraud, pct);
    else
        snprintf(out, size, "fraud %" PRIu64 " (%.2f%%)", st->fraud, pct);
    return out;
}

static void summary(const fw_gen *g, const gen_sink *s, int64_t elapsed_ns,
                    bool interrupted) {
    const fw_gen_stats *st = fw_gen_get_stats(g);
    char hot[32];
    char rate[32], scen[1024];
    double secs = (double)elapsed_ns / 1e9;
    fmt_rate(secs > 0 ? (double)st->records / secs : 0, rate, sizeof(rate));
    size_t off = 0;
    for (int i = 0; i < fw_gen_nscenarios && off < sizeof(scen); i++)
        off += (size_t)snprintf(scen + off, sizeof(scen) - off, " %s=%" PRIu64 "/%" PRIu64,
                                fw_gen_scenarios[i].name, st->scen_txns[i],
                                st->scen_instances[i]);
    fprintf(stderr,
            "fraudwatch generate: %s%" PRIu64 " transactions to %s in %.2f s (%s); "
            "fraud %" PRIu64 " (%.2f%%) in %" PRIu64 " instances, by scenario "
            "(transactions/instances):%s; legitimate large %" PRIu64 ", abroad %" PRIu64
            " (home signal %" PRIu64 "), salaries %" PRIu64 " (payday rushes %" PRIu64 ")",
            interrupted ? "interrupted after " : "", st->records, s->name, secs, rate,
            st->fraud, st->records ? 100.0 * (double)st->fraud / (double)st->records : 0.0,
            st->instances, scen, st->legit_large, st->abroad, st->home_signal, st->salaries,
            st->payday_rush);
    if (st->skipped_busy || st->skipped_full)
        fprintf(stderr, "; instances not started: %" PRIu64 " no idle customer, %" PRIu64
                        " schedule full", st->skipped_busy, st->skipped_full);
    if (fw_gen_hot_key_id(g, hot))
        fprintf(stderr, "; hot key %s %" PRIu64 " (%.2f%%)", hot, st->hot,
                st->records ? 100.0 * (double)st->hot / (double)st->records : 0.0);
    if (s->rk || s->delivered || s->failed)
        fprintf(stderr, "; delivered %" PRIu64 ", failed %" PRIu64, s->delivered, s->failed);
    fputc('\n', stderr);
    if (s->failed)
        fprintf(stderr, "fraudwatch generate: delivery failed: %s\n", s->first_error);
}

/* Sleeps until record @p i is due (the first is due at once); flushes a
 * file first, so a reader sees records as they are paced. */
static bool pace(gen_sink *s, int64_t period_ns, int64_t *base_ns, uint64_t i) {
    int64_t due = *base_ns + (int64_t)i * period_ns, now = fw_mono_ns();
    if (now - due > GEN_MAX_BEHIND_NS) { /* stalled: carry on from here, no burst */
        *base_ns = now - (int64_t)i * period_ns;
        return true;
    }
    if (now >= due)
        return true;
    if (s->fp && !file_flush(s))
        return false;
    struct timespec ts = { .tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL };
    while (!fw_stop_requested() &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    return true;
}

static bool generate_loop(const gen_opts *o, fw_gen *g, gen_sink *s, int64_t t_start) {
    int64_t period_ns = o->interval_s > 0 ? (int64_t)(o->interval_s * 1e9)
                        : o->rate > 0     ? (int64_t)(1e9 / o->rate)
                                          : 0;
    if (o->rate > 0 && period_ns == 0)
        period_ns = 1;
    int64_t base_ns = t_start;
    bool draining = false, ok = true;
    fw_progress pr;
    fw_progress_init(&pr, "fraudwatch generate", "transactions", o->count, o->progress,
                     (double)t_start / 1e9);
    char detail[128];
    char rec[FW_GEN_JSON_MAX + 1], key[32];
    fw_gen_txn t;
    for (uint64_t i = 0;; i++) {
        if (fw_stop_requested() && !draining) {
            fw_gen_drain(g); /* finish the open fraud instances, then stop */
            draining = true;
        }
        if (s->failed) /* the broker refuses: stop here, report at the end */
            break;
        if (!fw_gen_next(g, &t))
            break;
        if (period_ns && !draining && !pace(s, period_ns, &base_ns, i)) {
            ok = false;
            break;
        }
        if (o->wall_clock)
            t.ts_ms = fw_wall_ms();
        if (s->fp) {
            if (s->len + FW_GEN_JSON_MAX + 1 > GEN_FILE_BUF && !file_flush(s)) {
                ok = false;
                break;
            }
            s->len += fw_gen_format_json(g, &t, s->buf + s->len);
            s->buf[s->len++] = '\n';
        } else {
            size_t n = fw_gen_format_json(g, &t, rec);
            size_t kn = fw_gen_format_key(&t, key);
            if (!kafka_emit(s, key, kn, rec, n, t.ts_ms))
                break;
        }
        if (period_ns || (i & 1023) == 1023) {
            double now = fw_mono_s();
            if (fw_progress_due(&pr, now))
                fw_progress_update(&pr, fw_gen_get_stats(g)->records, now,
                                   progress_detail(fw_gen_get_stats(g), s, detail,
                                                   sizeof(detail)));
        }
    }
    fw_progress_end(&pr, fw_gen_get_stats(g)->records, fw_mono_s(),
                    progress_detail(fw_gen_get_stats(g), s, detail, sizeof(detail)));
    return ok;
}

int fw_cmd_generate(int argc, char **argv) {
    gen_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    int64_t start_ms;
    if (!resolve_start(&o, &start_ms))
        return 2;
    fw_gen_conf conf = {
        .seed = o.seed,
        .customers = (uint32_t)o.customers,
        .fraud_ratio = o.fraud_ratio,
        .start_ms = start_ms,
        .count = o.count,
    };
    memcpy(conf.weights, o.weights, sizeof(conf.weights));
    conf.hot_field = o.hot.field;
    conf.hot_share = o.hot.share;
    char errstr[256];
    fw_gen *g = fw_gen_new(&conf, errstr, sizeof(errstr));
    if (!g) {
        fprintf(stderr, "fraudwatch generate: %s\n", errstr);
        return 2;
    }

    fw_stop_install();

    gen_sink s;
    memset(&s, 0, sizeof(s));
    rc = 1;
    bool opened = o.output ? file_open(&s, o.output) : kafka_open(&s, &o);
    if (!opened && o.output)
        rc = 2; /* an output file that cannot be opened: found before any work */
    if (opened) {
        int64_t t_start = fw_mono_ns();
        bool ok = generate_loop(&o, g, &s, t_start);
        if (s.fp || s.buf)
            ok &= file_close(&s);
        else
            kafka_close(&s);
        summary(g, &s, fw_mono_ns() - t_start, fw_stop_requested());
        rc = ok && !s.failed ? 0 : 1;
    } else {
        if (s.fp || s.buf)
            file_close(&s);
    }
    fw_stop_uninstall();
    fw_gen_destroy(g);
    return rc;
}
