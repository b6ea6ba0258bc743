/* generate.c — `fraudwatch generate`: writes synthetic, labelled transactions
 * (the model in core/gen_model.c) as NDJSON to a file or stdout, or produces
 * them to a Kafka topic keyed by account_id. This file holds only the I/O:
 * options, the output buffer, the producer, pacing, signals and progress. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "fw_time.h"
#include "gen_model.h"
#include "kafka_conf.h"
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
    double fraud_ratio;
    uint64_t seed;
    uint64_t customers;
    uint64_t partitions;
    double weights[FW_GEN_MAX_SCENARIOS]; /* --scenarios; all 0: every scenario alike */
    bool quiet;
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

static void usage(FILE *out) {
    fprintf(out,
        "Usage: fraudwatch generate [OPTIONS]\n\n"
        "Writes synthetic, labelled transactions (one JSON object each, with is_fraud,\n"
        "scenario and scenario_instance labels the engine ignores) to a Kafka topic\n"
        "keyed by account_id, or with --output to a file as NDJSON. The same options\n"
        "give byte-identical records.\n\n"
        "Output:\n"
        "  -t, --topic NAME         topic to produce to (default %s; env INPUT_TOPIC,\n"
        "                           KAFKA_SOURCE_TOPIC or KAFKA_TOPIC); created when missing\n"
        "      --partitions N       partitions when creating the topic (default %d;\n"
        "                           replication factor 1)\n"
        "  -o, --output FILE        write NDJSON to FILE instead of Kafka ('-' = stdout)\n"
        "  -n, --count N            transactions to write (default %d); 0 = until Ctrl-C,\n"
        "                           for Kafka or stdout only\n"
        "      --interval SECONDS   wall-clock pause between transactions (default 0)\n"
        "      --rate N             transactions per second (default 0 = as fast as\n"
        "                           possible); exclusive with --interval\n\n"
        "Data:\n"
        "      --seed N             random seed (default %d)\n"
        "      --fraud-ratio F      fraction of fraudulent transactions, 0..1 (default %g)\n"
        "      --customers N        population size, 1..%u (default %d)\n"
        "      --start TIME         event time of the first transaction: ISO-8601 with a\n"
        "                           zone, or 'now' (default 2024-01-01T00:00:00Z for\n"
        "                           --output, now for Kafka)\n"
        "      --scenarios LIST     the fraud mix: name[=weight],... with relative rates\n"
        "                           (weight 1 when left out; default: all, alike), e.g.\n"
        "                           fan_in=2,cycle,structuring\n\n"
        "  Event time advances by simulated arrivals, not by the wall clock: %.0f\n"
        "  transactions per customer per day on average (10000 customers: a mean gap of\n"
        "  2.16 s), busier at midday and in the evening (UTC) than at night.\n\n"
        "  Fraud scenarios (in parentheses the rule meant to catch it if named otherwise):\n",
        GEN_DEFAULT_TOPIC, GEN_DEFAULT_PARTITIONS, GEN_DEFAULT_COUNT, GEN_DEFAULT_SEED,
        GEN_DEFAULT_RATIO, FW_GEN_MAX_CUSTOMERS, GEN_DEFAULT_CUSTOMERS,
        FW_GEN_TX_PER_CUSTOMER_DAY);
    for (int i = 0; i < fw_gen_nscenarios; i++) { /* from the table, within 80 columns */
        const fw_gen_scenario *sc = &fw_gen_scenarios[i];
        int col = fprintf(out, "    %-18s %s", sc->name, sc->summary ? sc->summary : "");
        if (sc->targets && *sc->targets && strcmp(sc->targets, sc->name)) {
            if (col + (int)strlen(sc->targets) + 3 > 80)
                fprintf(out, "\n%22s", "");
            fprintf(out, " (%s)", sc->targets);
        }
        fputc('\n', out);
    }
    fputs("\n"
          "  Legitimate behaviour some rules flag (false positives, on purpose):\n"
          "    large purchases    1 record in 20000 is a purchase above 5000 (high_amount)\n"
          "    travel             a trip abroad every 100-300 days, 2-14 days long;\n"
          "                       flights take real time, but on 1 trip in 10 the phone\n"
          "                       reports home now and then (location_jump)\n"
          "    payday             the 25th (or the Friday before): salaries of about 2500\n"
          "                       at 06:00-10:00 UTC, then rent, bills and shopping; 1 in\n"
          "                       150 pays 2-3 transfers above 1000 within 25 min\n"
          "                       (velocity); 1 salary in 1500 is above 5000 (high_amount)\n"
          "  See docs/generator.md.\n\n", out);
    fputs(fw_kafka_opts_help, out);
    fprintf(out,
        "  Producer defaults: linger.ms=" GEN_LINGER_MS ", message.timeout.ms="
        GEN_MSG_TIMEOUT_MS " (-X overrides).\n"
        "  An unreachable broker fails the command after %d s.\n"
        "\nOther:\n"
        "  -q, --quiet              no progress lines (the final summary stays)\n"
        "      --progress           progress lines even when stderr is not a terminal\n"
        "  -h, --help               this help\n\n"
        "On a terminal, a progress line on stderr is rewritten about once a second:\n"
        "transactions, percent of --count, rate, ETA, elapsed time and the fraud share;\n"
        "elsewhere only with --progress, one line each time. A summary line ends the run. Ctrl-C or SIGTERM stops, completes the fraud instances\n"
        "in progress, flushes and prints the summary. Exit status: 0 done, 1 a write or\n"
        "delivery failed, 2 bad options.\n", GEN_TOPIC_TIMEOUT_MS / 1000);
}

static bool parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi,
                      uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "fraudwatch generate: %s: expected an integer in %" PRIu64 "..%" PRIu64
                        ", got \"%s\"\n", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "fraudwatch generate: %s: expected a number in %g..%g, got \"%s\"\n",
                flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

enum { OPT_INTERVAL = 256, OPT_RATE, OPT_RATIO, OPT_SEED, OPT_START, OPT_CUSTOMERS,
       OPT_PARTITIONS, OPT_SCENARIOS, OPT_PROGRESS };

/* @returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, gen_opts *o) {
    static const struct option longopts[] = {
        { "bootstrap-servers", required_argument, NULL, 'b' },
        { "topic", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, OPT_INTERVAL },
        { "rate", required_argument, NULL, OPT_RATE },
        { "fraud-ratio", required_argument, NULL, OPT_RATIO },
        { "seed", required_argument, NULL, OPT_SEED },
        { "output", required_argument, NULL, 'o' },
        { "start", required_argument, NULL, OPT_START },
        { "customers", required_argument, NULL, OPT_CUSTOMERS },
        { "partitions", required_argument, NULL, OPT_PARTITIONS },
        { "scenarios", required_argument, NULL, OPT_SCENARIOS },
        { "kafka-config", required_argument, NULL, 'X' },
        { "quiet", no_argument, NULL, 'q' },
        { "progress", no_argument, NULL, OPT_PROGRESS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char errstr[512];
    memset(o, 0, sizeof(*o));
    fw_kafka_opts_init(&o->kafka);
    const char *envs[] = { "INPUT_TOPIC", "KAFKA_SOURCE_TOPIC", "KAFKA_TOPIC" };
    o->topic = GEN_DEFAULT_TOPIC;
    for (int i = 2; i >= 0; i--) { /* the first one set wins */
        const char *v = getenv(envs[i]);
        if (v && *v)
            o->topic = v;
    }
    o->count = GEN_DEFAULT_COUNT;
    o->fraud_ratio = GEN_DEFAULT_RATIO;
    o->seed = GEN_DEFAULT_SEED;
    o->customers = GEN_DEFAULT_CUSTOMERS;
    o->partitions = GEN_DEFAULT_PARTITIONS;
    bool have_rate = false, have_interval = false;

    optind = 0; /* glibc: rescan from scratch, so the command can run twice in a process */
    int c;
    while ((c = getopt_long(argc, argv, "b:t:n:o:X:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o->kafka.bootstrap = optarg; break;
        case 't': o->topic = optarg; break;
        case 'o': o->output = optarg; break;
        case 'q': o->quiet = true; break;
        case OPT_PROGRESS: o->progress = FW_PROGRESS_ALWAYS; break;
        case 'h': usage(stdout); return 0;
        case 'n':
            if (!parse_u64("--count", optarg, 0, UINT64_MAX, &o->count))
                return 2;
            break;
        case OPT_INTERVAL:
            if (!parse_double("--interval", optarg, 0, 86400, &o->interval_s))
                return 2;
            have_interval = o->interval_s > 0;
            break;
        case OPT_RATE:
            if (!parse_double("--rate", optarg, 0, 1e9, &o->rate))
                return 2;
            have_rate = o->rate > 0;
            break;
        case OPT_RATIO:
            if (!parse_double("--fraud-ratio", optarg, 0, 1, &o->fraud_ratio))
                return 2;
            break;
        case OPT_SEED:
            if (!parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed))
                return 2;
            break;
        case OPT_START: o->start = optarg; break;
        case OPT_CUSTOMERS:
            if (!parse_u64("--customers", optarg, 1, FW_GEN_MAX_CUSTOMERS, &o->customers))
                return 2;
            break;
        case OPT_PARTITIONS:
            if (!parse_u64("--partitions", optarg, 1, 100000, &o->partitions))
                return 2;
            break;
        case OPT_SCENARIOS:
            if (!fw_gen_parse_scenarios(optarg, o->weights, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch generate: --scenarios: %s\n", errstr);
                return 2;
            }
            break;
        case 'X':
            if (fw_kafka_opts_add(&o->kafka, optarg, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch generate: %s\n", errstr);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "Run 'fraudwatch generate --help' for the options.\n");
            return 2;
        }
    }
    if (o->quiet) /* --quiet wins over --progress */
        o->progress = FW_PROGRESS_NEVER;
    if (optind < argc) {
        fprintf(stderr, "fraudwatch generate: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (have_rate && have_interval) {
        fprintf(stderr, "fraudwatch generate: --rate and --interval are exclusive\n");
        return 2;
    }
    if (o->count == 0 && o->output && strcmp(o->output, "-")) {
        fprintf(stderr, "fraudwatch generate: --count 0 (until Ctrl-C) needs Kafka or "
                        "--output -, not a file\n");
        return 2;
    }
    if (!*o->topic) {
        fprintf(stderr, "fraudwatch generate: --topic is empty\n");
        return 2;
    }
    return -1;
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

static void summary(const fw_gen_stats *st, const gen_sink *s, int64_t elapsed_ns,
                    bool interrupted) {
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
    if (opened) {
        int64_t t_start = fw_mono_ns();
        bool ok = generate_loop(&o, g, &s, t_start);
        if (s.fp || s.buf)
            ok &= file_close(&s);
        else
            kafka_close(&s);
        summary(fw_gen_get_stats(g), &s, fw_mono_ns() - t_start, fw_stop_requested());
        rc = ok && !s.failed ? 0 : 1;
    } else {
        if (s.fp || s.buf)
            file_close(&s);
    }
    fw_stop_uninstall();
    fw_gen_destroy(g);
    return rc;
}
