/* run.c — `fraudwatch run`: options, then file mode or Kafka mode. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "file_runner.h"
#include "http_guard.h"
#include "kafka_runtime.h"
#include "metrics.h"
#include "options.h"
#include "rules_file.h"
#include "schema.h"
#include "run_conf.h"

static const char run_help[] =
    "Usage: fraudwatch run [OPTIONS]\n"
    "\n"
    "Reads transactions, runs the detectors and writes alerts. With --input it\n"
    "runs over a file (backtesting); otherwise it joins a Kafka consumer group and\n"
    "writes alerts, dead letters and input offsets in one transaction per commit\n"
    "interval (exactly once).\n"
    "\n"
    "File mode:\n"
    "  -i, --input FILE              transactions, one per line ('-' = stdin)\n"
    "  -o, --output FILE             alerts as NDJSON (default '-' = stdout)\n"
    "      --dlq FILE                dead letters as NDJSON (default: one line each\n"
    "                                on stderr)\n"
    "      --late FILE               records too late to apply, as NDJSON (default:\n"
    "                                counted only)\n"
    "      --progress                progress (bytes of the input, percent, rate,\n"
    "                                ETA) on stderr every --stats-interval seconds\n"
    "                                even when stderr is not a terminal; on one a\n"
    "                                line is rewritten every second anyway\n"
    "\n"
    "Kafka mode:\n"
    "      --input-topic TOPIC       (default transactions; env INPUT_TOPIC or\n"
    "                                KAFKA_SOURCE_TOPIC)\n"
    "      --output-topic TOPIC      alerts (default fraud-alerts; env OUTPUT_TOPIC or\n"
    "                                KAFKA_SINK_TOPIC)\n"
    "      --dlq-topic TOPIC         dead letters (default transactions-dlq; env DLQ_TOPIC)\n"
    "      --late-topic TOPIC        records later than the allowed lateness (default\n"
    "                                transactions-late; env LATE_TOPIC)\n"
    "      --changelog-topic TOPIC   compacted state changelog, partitioned like the input\n"
    "                                (default GROUP-state-changelog); an existing one\n"
    "                                that is not compacted is refused\n"
    "      --idle-timeout-ms N       a partition without records this long releases what\n"
    "                                it holds and advances with the wall clock (default\n"
    "                                10000; env FW_IDLE_TIMEOUT_MS)\n"
    "  -g, --group-id ID             consumer group (default fraudwatch; env GROUP_ID)\n"
    "      --instance-id ID          stable name of this instance, gives the\n"
    "                                transactional id fraudwatch-GROUP-ID (default: host\n"
    "                                name; env FW_INSTANCE_ID). Give each instance on one\n"
    "                                host its own.\n"
    "      --partitions N            partitions of topics fraudwatch creates (default 3;\n"
    "                                env FW_PARTITIONS)\n"
    "      --replication-factor N    of topics fraudwatch creates (default 1;\n"
    "                                env FW_REPLICATION_FACTOR)\n"
    "      --commit-interval-ms N    one Kafka transaction per interval (default 100;\n"
    "                                env FW_COMMIT_INTERVAL_MS)\n"
    "      --offset-reset WHERE      earliest|latest, where a new group starts\n"
    "                                (default earliest)\n"
    "      --exit-at-end             stop once every assigned partition is read to its\n"
    "                                end (backfills, benchmarks)\n"
    "      --stats-interval S        progress line on stderr every S seconds\n"
    "                                (default 10; 0 = off)\n"
    "%s"
    "\n"
    "Monitoring (docs/monitoring.md), both modes:\n"
    "      --metrics-port N          serve Prometheus metrics (GET /metrics) and\n"
    "                                GET /health on port N (default 0 = off;\n"
    "                                env METRICS_PORT)\n"
    "      --metrics-bind ADDR, --bind ADDR\n"
    "                                IPv4 or IPv6 address they listen on (default\n"
    "                                127.0.0.1, this host only; env METRICS_BIND).\n"
    "                                --bind 0.0.0.0 opens them to the network; there\n"
    "                                is no authentication. (-b is not --bind but\n"
    "                                --bootstrap-servers)\n"
    "\n"
    "Detection:\n"
    "  -r, --rules FILE              rules file (JSON, docs/rules.md) applied over the\n"
    "                                built-in defaults (env RULES_FILE); see\n"
    "                                'fraudwatch rules'\n"
    "      --profiles FILE           customer profiles, NDJSON ({\"customer_id\",\"avg_amount\",\n"
    "                                \"home_country\"}; seed 004's user_id, avg_transaction,\n"
    "                                country too)\n"
    "      --profiles-topic TOPIC    Kafka mode: compacted profiles topic read in full and\n"
    "                                kept current (default customer-profiles; env\n"
    "                                PROFILES_TOPIC; '' for none)\n"
    "      --input-format FMT        json (default), semicolon: seed 003's\n"
    "                                '<timestamp>;<origin>;<target>;<amount>', or csv:\n"
    "                                RFC 4180 lines, columns named by the first line\n"
    "                                (file mode) or --csv-header (env INPUT_FORMAT)\n"
    "      --csv-header NAMES        the CSV column names, e.g. \"id,ts,amount\"; required\n"
    "                                for csv in Kafka mode (env FW_CSV_HEADER)\n"
    "      --schema FILE             records in another team's spelling: a mapping\n"
    "                                of our fields to their names or dotted paths,\n"
    "                                timestamp format, type/channel values (env FW_SCHEMA;\n"
    "                                else the rules file's \"schema\" section; docs/schema.md;\n"
    "                                check it with 'fraudwatch schema check')\n"
    "      --amount-limit X          high_amount fires when amount > X (default 5000;\n"
    "                                env AMOUNT_THRESHOLD, or FRAUD_THRESHOLD when it\n"
    "                                is above 1, as seed 001 uses it). Precedence:\n"
    "                                this flag, then the rules file, then the env\n"
    "      --max-record-bytes N      larger records are dead letters (default 65536)\n"
    "      --max-future-skew DUR     Kafka mode: an event time more than DUR ahead of its\n"
    "                                message's timestamp (or the wall clock) is a dead\n"
    "                                letter (default 5m, rules time.max_future_skew;\n"
    "                                env FW_MAX_FUTURE_SKEW; off = no check)\n"
    "      --max-event-time-jump DUR file mode: a record more than DUR ahead of the newest\n"
    "                                accepted waits for later records to confirm it;\n"
    "                                contradicted by 3 it is a dead letter (default 1h,\n"
    "                                rules time.max_event_time_jump; env\n"
    "                                FW_MAX_EVENT_TIME_JUMP; off = no check). Precedence of\n"
    "                                both: this flag, then the rules file, then the env.\n"
    "                                A transaction id seen before is a dead letter too\n"
    "                                (rules time.duplicate_margin, docs/schema.md)\n"
    "\n"
    "Model score (rule ml_score, docs/model.md):\n"
    "      --model FILE              XGBoost JSON model from 'fraudwatch train' (env\n"
    "                                MODEL_PATH); reloaded when the file changes, a\n"
    "                                model that fails to load keeps the old one\n"
    "      --fraud-threshold P       alert when the probability > P (default 0.8; env\n"
    "                                FRAUD_THRESHOLD when at most 1). Precedence: this\n"
    "                                flag, then the rules file, then the env\n"
    "      --api-endpoint URL        score with a remote /predict service instead\n"
    "                                (seed 000's env API_ENDPOINT_URL): batches sent\n"
    "                                asynchronously; on failure the rules keep running\n"
    "                                and the unscored transactions are counted\n"
    "      --api-timeout-ms N        per request (default 10000; env API_TIMEOUT_MS)\n"
    "      --api-retries N           further attempts after a failure (default 2)\n"
    "      --api-token TOKEN         sent as \"Authorization: Bearer TOKEN\" to a service\n"
    "                                that asks for one (serve --token; env\n"
    "                                FW_API_TOKEN, which keeps it out of ps)\n"
    "\n"
    "  -q, --quiet                   no progress lines\n"
    "  -h, --help                    this text\n";

enum {
    OPT_DLQ = 256, OPT_INPUT_TOPIC, OPT_OUTPUT_TOPIC, OPT_DLQ_TOPIC, OPT_INSTANCE_ID,
    OPT_PARTITIONS, OPT_RF, OPT_COMMIT_INTERVAL, OPT_OFFSET_RESET, OPT_EXIT_AT_END,
    OPT_STATS_INTERVAL, OPT_INPUT_FORMAT, OPT_AMOUNT_LIMIT, OPT_MAX_RECORD_BYTES,
    OPT_SCHEMA, OPT_CSV_HEADER, OPT_LATE, OPT_LATE_TOPIC, OPT_CHANGELOG_TOPIC, OPT_IDLE_TIMEOUT, OPT_PROFILES,
    OPT_PROFILES_TOPIC, OPT_MODEL, OPT_FRAUD_THRESHOLD, OPT_API_ENDPOINT, OPT_API_TIMEOUT,
    OPT_API_RETRIES, OPT_API_TOKEN, OPT_METRICS_PORT, OPT_METRICS_BIND, OPT_BIND, OPT_MAX_FUTURE_SKEW,
    OPT_MAX_EVENT_TIME_JUMP, OPT_PROGRESS,
};

/* Flags whose value must win over the rules file, which is read after them. */
typedef struct late_flags {
    bool amount_limit, fraud_threshold, future_skew, time_jump;
    double amount, probability;
    int64_t future_skew_ms, time_jump_ms;
} late_flags;

static const struct option run_options[] = {
    { "input", required_argument, NULL, 'i' },
    { "output", required_argument, NULL, 'o' },
    { "dlq", required_argument, NULL, OPT_DLQ },
    { "late", required_argument, NULL, OPT_LATE },
    { "late-topic", required_argument, NULL, OPT_LATE_TOPIC },
    { "changelog-topic", required_argument, NULL, OPT_CHANGELOG_TOPIC },
    { "idle-timeout-ms", required_argument, NULL, OPT_IDLE_TIMEOUT },
    { "bootstrap-servers", required_argument, NULL, 'b' },
    { "kafka-config", required_argument, NULL, 'X' },
    { "input-topic", required_argument, NULL, OPT_INPUT_TOPIC },
    { "output-topic", required_argument, NULL, OPT_OUTPUT_TOPIC },
    { "dlq-topic", required_argument, NULL, OPT_DLQ_TOPIC },
    { "group-id", required_argument, NULL, 'g' },
    { "instance-id", required_argument, NULL, OPT_INSTANCE_ID },
    { "partitions", required_argument, NULL, OPT_PARTITIONS },
    { "replication-factor", required_argument, NULL, OPT_RF },
    { "commit-interval-ms", required_argument, NULL, OPT_COMMIT_INTERVAL },
    { "offset-reset", required_argument, NULL, OPT_OFFSET_RESET },
    { "exit-at-end", no_argument, NULL, OPT_EXIT_AT_END },
    { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
    { "progress", no_argument, NULL, OPT_PROGRESS },
    { "metrics-port", required_argument, NULL, OPT_METRICS_PORT },
    { "metrics-bind", required_argument, NULL, OPT_METRICS_BIND },
    { "bind", required_argument, NULL, OPT_BIND }, /* serve's name for it */
    { "max-future-skew", required_argument, NULL, OPT_MAX_FUTURE_SKEW },
    { "max-event-time-jump", required_argument, NULL, OPT_MAX_EVENT_TIME_JUMP },
    { "input-format", required_argument, NULL, OPT_INPUT_FORMAT },
    { "schema", required_argument, NULL, OPT_SCHEMA },
    { "csv-header", required_argument, NULL, OPT_CSV_HEADER },
    { "rules", required_argument, NULL, 'r' },
    { "profiles", required_argument, NULL, OPT_PROFILES },
    { "profiles-topic", required_argument, NULL, OPT_PROFILES_TOPIC },
    { "amount-limit", required_argument, NULL, OPT_AMOUNT_LIMIT },
    { "max-record-bytes", required_argument, NULL, OPT_MAX_RECORD_BYTES },
    { "model", required_argument, NULL, OPT_MODEL },
    { "fraud-threshold", required_argument, NULL, OPT_FRAUD_THRESHOLD },
    { "api-endpoint", required_argument, NULL, OPT_API_ENDPOINT },
    { "api-timeout-ms", required_argument, NULL, OPT_API_TIMEOUT },
    { "api-retries", required_argument, NULL, OPT_API_RETRIES },
    { "api-token", required_argument, NULL, OPT_API_TOKEN },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const char *env2(const char *a, const char *b) {
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? v : NULL;
}

/* Integer in [lo, hi] or an error naming @p what. */
static fw_err parse_long(const char *what, const char *s, long lo, long hi, long *out,
                         char *errstr, size_t errstr_size) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        snprintf(errstr, errstr_size, "%s: expected an integer from %ld to %ld, got \"%s\"",
                 what, lo, hi, s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}

static fw_err parse_amount(const char *what, const char *s, double *out, char *errstr,
                           size_t errstr_size) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e15) {
        snprintf(errstr, errstr_size, "%s: expected a non-negative amount, got \"%s\"", what,
                 s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}

/* A duration as rules files write it ("5m", "1h30m"), or 0 / "off". */
static fw_err parse_span(const char *what, const char *s, int64_t *out, char *errstr,
                         size_t errstr_size) {
    if (!strcmp(s, "off") || !strcmp(s, "0")) {
        *out = 0;
        return FW_OK;
    }
    int64_t ms;
    if (fw_rules_duration_parse(s, strlen(s), &ms) != FW_OK || ms > FW_RULES_MAX_DURATION_MS) {
        snprintf(errstr, errstr_size,
                 "%s: expected a duration like \"5m\" (at most 30 days) or off, got \"%s\"",
                 what, s);
        return FW_ERR_INVALID;
    }
    *out = ms;
    return FW_OK;
}

static fw_err parse_format(const char *what, const char *s, fw_input_format *out,
                           char *errstr, size_t errstr_size) {
    if (!strcmp(s, "json"))
        *out = FW_INPUT_JSON;
    else if (!strcmp(s, "semicolon"))
        *out = FW_INPUT_SEMICOLON;
    else if (!strcmp(s, "csv"))
        *out = FW_INPUT_CSV;
    else {
        snprintf(errstr, errstr_size, "%s: expected json, semicolon or csv, got \"%s\"", what,
                 s);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

void fw_run_conf_init(fw_run_conf *c) {
    memset(c, 0, sizeof(*c));
    fw_rules_defaults(&c->pipeline.rules);
    c->pipeline.format = FW_INPUT_JSON;
    c->pipeline.max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    c->output_file = "-";
    fw_kafka_opts_init(&c->kafka);
    c->input_topic = env2("INPUT_TOPIC", "KAFKA_SOURCE_TOPIC");
    if (!c->input_topic)
        c->input_topic = "transactions";
    c->output_topic = env2("OUTPUT_TOPIC", "KAFKA_SINK_TOPIC");
    if (!c->output_topic)
        c->output_topic = "fraud-alerts";
    c->dlq_topic = env2("DLQ_TOPIC", NULL);
    if (!c->dlq_topic)
        c->dlq_topic = "transactions-dlq";
    c->late_topic = env2("LATE_TOPIC", NULL);
    if (!c->late_topic)
        c->late_topic = "transactions-late";
    c->idle_timeout_ms = 10000;
    c->rules_file = env2("RULES_FILE", NULL);
    c->schema_file = env2("FW_SCHEMA", NULL);
    c->pipeline.csv_header = env2("FW_CSV_HEADER", NULL);
    const char *pt = getenv("PROFILES_TOPIC");
    c->profiles_topic = pt ? pt : "customer-profiles";
    c->group_id = env2("GROUP_ID", "KAFKA_GROUP_ID");
    if (!c->group_id)
        c->group_id = "fraudwatch";
    const char *inst = env2("FW_INSTANCE_ID", NULL);
    if (inst)
        snprintf(c->instance_id, sizeof(c->instance_id), "%s", inst);
    else if (gethostname(c->instance_id, sizeof(c->instance_id) - 1) != 0)
        snprintf(c->instance_id, sizeof(c->instance_id), "default");
    c->partitions = 3;
    c->replication_factor = 1;
    c->commit_interval_ms = 100;
    c->stats_interval_s = 10;
    c->metrics_port = 0;
    c->metrics_bind = "127.0.0.1"; /* safe by default: no authentication */
    fw_remote_conf_defaults(&c->scorer.remote);
    c->scorer.model_path = env2("MODEL_PATH", NULL);
    c->scorer.endpoint = env2("API_ENDPOINT_URL", NULL);
    c->scorer.remote.token = env2("FW_API_TOKEN", NULL);
}

/* Environment values that need validation; applied before flags so flags win. */
static fw_err apply_env(fw_run_conf *c, char *errstr, size_t errstr_size) {
    const char *v;
    long n;
    if ((v = env2("FW_PARTITIONS", NULL))) {
        if (parse_long("FW_PARTITIONS", v, 1, 100000, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->partitions = (int)n;
    }
    if ((v = env2("FW_REPLICATION_FACTOR", NULL))) {
        if (parse_long("FW_REPLICATION_FACTOR", v, 1, 100, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->replication_factor = (int)n;
    }
    if ((v = env2("FW_COMMIT_INTERVAL_MS", NULL))) {
        if (parse_long("FW_COMMIT_INTERVAL_MS", v, 1, 600000, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->commit_interval_ms = (int)n;
    }
    if ((v = env2("FW_IDLE_TIMEOUT_MS", NULL))) {
        if (parse_long("FW_IDLE_TIMEOUT_MS", v, 1, 86400000, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->idle_timeout_ms = (int)n;
    }
    if ((v = env2("INPUT_FORMAT", NULL)) &&
        parse_format("INPUT_FORMAT", v, &c->pipeline.format, errstr, errstr_size))
        return FW_ERR_INVALID;
    if ((v = env2("AMOUNT_THRESHOLD", NULL))) {
        if (parse_amount("AMOUNT_THRESHOLD", v, &c->pipeline.rules.high_amount.limit, errstr,
                         errstr_size))
            return FW_ERR_INVALID;
    } else if ((v = env2("FRAUD_THRESHOLD", NULL))) {
        /* Seed 001 sets FRAUD_THRESHOLD=5000 (an amount); seed 000 sets 0.8 (a
         * probability, for the model). Above 1 it can only be an amount. */
        double d;
        if (parse_amount("FRAUD_THRESHOLD", v, &d, errstr, errstr_size))
            return FW_ERR_INVALID;
        if (d > 1) {
            c->pipeline.rules.high_amount.limit = d;
            snprintf(c->env_note, sizeof(c->env_note),
                     "FRAUD_THRESHOLD=%s is above 1, so it is taken as seed 001's high_amount "
                     "limit (an amount), not as ml_score's probability; AMOUNT_THRESHOLD says "
                     "so without doubt", v);
        } else {
            c->pipeline.rules.ml_score.threshold = d;
        }
    }
    if ((v = env2("FW_MAX_FUTURE_SKEW", NULL)) &&
        parse_span("FW_MAX_FUTURE_SKEW", v, &c->pipeline.rules.time.max_future_skew_ms, errstr,
                   errstr_size))
        return FW_ERR_INVALID;
    if ((v = env2("FW_MAX_EVENT_TIME_JUMP", NULL)) &&
        parse_span("FW_MAX_EVENT_TIME_JUMP", v, &c->pipeline.rules.time.max_event_time_jump_ms,
                   errstr, errstr_size))
        return FW_ERR_INVALID;
    if ((v = env2("METRICS_PORT", NULL))) {
        if (parse_long("METRICS_PORT", v, 0, 65535, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->metrics_port = (int)n;
    }
    if ((v = env2("METRICS_BIND", NULL))) {
        if (!fw_metrics_bind_valid(v)) {
            snprintf(errstr, errstr_size,
                     "METRICS_BIND: expected an IPv4 or IPv6 address, got \"%s\"", v);
            return FW_ERR_INVALID;
        }
        c->metrics_bind = v;
    }
    if ((v = env2("API_TIMEOUT_MS", NULL))) {
        if (parse_long("API_TIMEOUT_MS", v, 1, 3600000, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        c->scorer.remote.timeout_ms = (int)n;
    }
    return FW_OK;
}

fw_err fw_run_conf_parse(fw_run_conf *c, int argc, char **argv, char *errstr,
                         size_t errstr_size) {
    if (apply_env(c, errstr, errstr_size))
        return FW_ERR_INVALID;
    int opt;
    long n;
    late_flags lf = { 0 };
    optind = 0; /* full re-initialisation: tests parse several command lines */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:o:b:X:g:r:qh", run_options, NULL)) != -1) {
        switch (opt) {
        case 'i': c->input_file = optarg; break;
        case 'o': c->output_file = optarg; break;
        case OPT_DLQ: c->dlq_file = optarg; break;
        case OPT_LATE: c->late_file = optarg; break;
        case OPT_LATE_TOPIC: c->late_topic = optarg; break;
        case OPT_CHANGELOG_TOPIC: c->changelog_topic = optarg; break;
        case OPT_IDLE_TIMEOUT:
            if (parse_long("--idle-timeout-ms", optarg, 1, 86400000, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->idle_timeout_ms = (int)n;
            break;
        case 'b': c->kafka.bootstrap = optarg; break;
        case 'X':
            if (fw_kafka_opts_add(&c->kafka, optarg, errstr, errstr_size))
                return FW_ERR_INVALID;
            break;
        case OPT_INPUT_TOPIC: c->input_topic = optarg; break;
        case OPT_OUTPUT_TOPIC: c->output_topic = optarg; break;
        case OPT_DLQ_TOPIC: c->dlq_topic = optarg; break;
        case 'g': c->group_id = optarg; break;
        case OPT_INSTANCE_ID:
            if (!*optarg || strlen(optarg) >= sizeof(c->instance_id)) {
                snprintf(errstr, errstr_size, "--instance-id: expected 1 to %zu characters",
                         sizeof(c->instance_id) - 1);
                return FW_ERR_INVALID;
            }
            snprintf(c->instance_id, sizeof(c->instance_id), "%s", optarg);
            break;
        case OPT_PARTITIONS:
            if (parse_long("--partitions", optarg, 1, 100000, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->partitions = (int)n;
            break;
        case OPT_RF:
            if (parse_long("--replication-factor", optarg, 1, 100, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->replication_factor = (int)n;
            break;
        case OPT_COMMIT_INTERVAL:
            if (parse_long("--commit-interval-ms", optarg, 1, 600000, &n, errstr,
                           errstr_size))
                return FW_ERR_INVALID;
            c->commit_interval_ms = (int)n;
            break;
        case OPT_OFFSET_RESET:
            if (!strcmp(optarg, "earliest"))
                c->offset_reset_latest = false;
            else if (!strcmp(optarg, "latest"))
                c->offset_reset_latest = true;
            else {
                snprintf(errstr, errstr_size,
                         "--offset-reset: expected earliest or latest, got \"%s\"", optarg);
                return FW_ERR_INVALID;
            }
            break;
        case OPT_EXIT_AT_END: c->exit_at_end = true; break;
        case OPT_STATS_INTERVAL:
            if (parse_long("--stats-interval", optarg, 0, 86400, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->stats_interval_s = (int)n;
            break;
        case OPT_METRICS_PORT:
            if (parse_long("--metrics-port", optarg, 0, 65535, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->metrics_port = (int)n;
            break;
        case OPT_METRICS_BIND:
        case OPT_BIND:
            if (!fw_metrics_bind_valid(optarg)) {
                snprintf(errstr, errstr_size,
                         "%s: expected an IPv4 or IPv6 address, got \"%s\"",
                         opt == OPT_BIND ? "--bind" : "--metrics-bind", optarg);
                return FW_ERR_INVALID;
            }
            c->metrics_bind = optarg;
            break;
        case OPT_INPUT_FORMAT:
            if (parse_format("--input-format", optarg, &c->pipeline.format, errstr,
                             errstr_size))
                return FW_ERR_INVALID;
            break;
        case OPT_AMOUNT_LIMIT:
            if (parse_amount("--amount-limit", optarg, &lf.amount, errstr, errstr_size))
                return FW_ERR_INVALID;
            lf.amount_limit = true;
            break;
        case OPT_MAX_FUTURE_SKEW:
            if (parse_span("--max-future-skew", optarg, &lf.future_skew_ms, errstr, errstr_size))
                return FW_ERR_INVALID;
            lf.future_skew = true;
            break;
        case OPT_MAX_EVENT_TIME_JUMP:
            if (parse_span("--max-event-time-jump", optarg, &lf.time_jump_ms, errstr,
                           errstr_size))
                return FW_ERR_INVALID;
            lf.time_jump = true;
            break;
        case OPT_MODEL: c->scorer.model_path = optarg; break;
        case OPT_FRAUD_THRESHOLD:
            if (fw_opt_parse_probability("--fraud-threshold", optarg, &lf.probability, errstr,
                                         errstr_size))
                return FW_ERR_INVALID;
            lf.fraud_threshold = true;
            break;
        case OPT_API_ENDPOINT: c->scorer.endpoint = optarg; break;
        case OPT_API_TIMEOUT:
            if (parse_long("--api-timeout-ms", optarg, 1, 3600000, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->scorer.remote.timeout_ms = (int)n;
            break;
        case OPT_API_TOKEN: c->scorer.remote.token = optarg; break;
        case OPT_API_RETRIES:
            if (parse_long("--api-retries", optarg, 0, 100, &n, errstr, errstr_size))
                return FW_ERR_INVALID;
            c->scorer.remote.retries = (int)n;
            break;
        case 'r': c->rules_file = optarg; break;
        case OPT_PROFILES: c->profiles_file = optarg; break;
        case OPT_SCHEMA: c->schema_file = optarg; break;
        case OPT_CSV_HEADER: c->pipeline.csv_header = optarg; break;
        case OPT_PROFILES_TOPIC: c->profiles_topic = optarg; break;
        case OPT_MAX_RECORD_BYTES:
            if (parse_long("--max-record-bytes", optarg, 64, 64L << 20, &n, errstr,
                           errstr_size))
                return FW_ERR_INVALID;
            c->pipeline.max_record_bytes = (size_t)n;
            break;
        case 'q': c->quiet = true; break;
        case OPT_PROGRESS: c->progress = true; break;
        case 'h':
            printf(run_help, fw_kafka_opts_help);
            return FW_ERR_NOT_FOUND;
        case ':':
            snprintf(errstr, errstr_size, "option %s needs a value", argv[optind - 1]);
            return FW_ERR_INVALID;
        default:
            snprintf(errstr, errstr_size, "unknown option %s", argv[optind - 1]);
            return FW_ERR_INVALID;
        }
    }
    if (optind < argc) {
        snprintf(errstr, errstr_size, "unexpected argument \"%s\"", argv[optind]);
        return FW_ERR_INVALID;
    }
    if (c->rules_file &&
        fw_rules_load_file(&c->pipeline.rules, c->rules_file, errstr, errstr_size) != FW_OK)
        return FW_ERR_INVALID;
    if (c->schema_file) {
        char why[480];
        fw_schema_destroy(c->schema);
        if (!(c->schema = fw_schema_load_file(c->schema_file, why, sizeof(why)))) {
            snprintf(errstr, errstr_size, "--schema (or FW_SCHEMA): %s", why);
            return FW_ERR_INVALID;
        }
        c->pipeline.schema = c->schema;
    } else if (c->rules_file) {
        /* No --schema: the rules file's "schema" section, if it has one. */
        char why[480];
        bool present;
        if (!(c->schema = fw_schema_load_rules_file(c->rules_file, &present, why,
                                                    sizeof(why))) && present) {
            snprintf(errstr, errstr_size, "--rules: %s", why);
            return FW_ERR_INVALID;
        }
        c->pipeline.schema = c->schema;
    }
    if (c->pipeline.format == FW_INPUT_CSV && !c->input_file && !c->pipeline.csv_header) {
        snprintf(errstr, errstr_size, "--input-format csv: Kafka mode needs --csv-header "
                 "(or FW_CSV_HEADER) with the column names: a partition has no first line");
        return FW_ERR_INVALID;
    }
    if (c->scorer.remote.token) {
        char why[160];
        if (!fw_http_token_valid(c->scorer.remote.token, why, sizeof(why))) {
            snprintf(errstr, errstr_size, "--api-token (or FW_API_TOKEN): %s", why);
            return FW_ERR_INVALID;
        }
    }
    if (lf.amount_limit) {
        c->pipeline.rules.high_amount.limit = lf.amount;
        c->env_note[0] = '\0'; /* the flag decided, not the environment */
    }
    if (lf.fraud_threshold)
        c->pipeline.rules.ml_score.threshold = lf.probability;
    if (lf.future_skew)
        c->pipeline.rules.time.max_future_skew_ms = lf.future_skew_ms;
    if (lf.time_jump)
        c->pipeline.rules.time.max_event_time_jump_ms = lf.time_jump_ms;
    snprintf(c->changelog_name, sizeof(c->changelog_name), "%s",
             c->changelog_topic ? c->changelog_topic : "");
    if (!c->changelog_topic)
        snprintf(c->changelog_name, sizeof(c->changelog_name), "%.280s-state-changelog",
                 c->group_id);
    return FW_OK;
}

static int run_main(fw_run_conf *c, int argc, char **argv) {
    char errstr[512];
    fw_run_conf_init(c);
    fw_err err = fw_run_conf_parse(c, argc, argv, errstr, sizeof(errstr));
    if (err == FW_ERR_NOT_FOUND)
        return 0;
    if (err) {
        fprintf(stderr, "fraudwatch run: %s\n(see fraudwatch run --help)\n", errstr);
        return 2;
    }
    fw_profiles *profiles = fw_profiles_new();
    if (!profiles) {
        fprintf(stderr, "fraudwatch run: out of memory\n");
        return 1;
    }
    if (c->profiles_file &&
        fw_profiles_load_file(profiles, c->profiles_file, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch run: %s\n", errstr);
        fw_profiles_destroy(profiles);
        return 2;
    }
    c->pipeline.profiles = profiles;
    if (c->env_note[0])
        fprintf(stderr, "fraudwatch run: %s\n", c->env_note);
    errstr[0] = '\0';
    fw_scorer *scorer = fw_scorer_new(&c->scorer, errstr, sizeof(errstr));
    if (!scorer && errstr[0]) {
        fprintf(stderr, "fraudwatch run: %s\n", errstr);
        fw_profiles_destroy(profiles);
        return 1;
    }
    if (scorer && !c->quiet)
        fprintf(stderr, "fraudwatch: ml_score with %s, threshold %.2f\n",
                fw_scorer_describe(scorer), c->pipeline.rules.ml_score.threshold);
    fw_metrics *metrics = NULL;
    if (c->metrics_port) {
        fw_metrics_conf mc = { .bind = c->metrics_bind, .port = c->metrics_port,
                               .kafka = !c->input_file, .ml = scorer != NULL,
                               .instance_id = c->instance_id };
        if (!(metrics = fw_metrics_new(&mc, errstr, sizeof(errstr)))) {
            fprintf(stderr, "fraudwatch run: %s\n", errstr);
            fw_scorer_destroy(scorer);
            fw_profiles_destroy(profiles);
            return 1;
        }
        if (!c->quiet)
            fprintf(stderr, "fraudwatch: metrics on http://%s%s%s:%d/metrics\n",
                    strchr(c->metrics_bind, ':') ? "[" : "", c->metrics_bind,
                    strchr(c->metrics_bind, ':') ? "]" : "", fw_metrics_port(metrics));
    }
    int rc = c->input_file ? fw_file_run(c, scorer, metrics)
                             : fw_kafka_run(c, profiles, scorer, metrics);
    fw_metrics_destroy(metrics); /* after the runner's last publish */
    fw_scorer_destroy(scorer);
    fw_profiles_destroy(profiles);
    return rc;
}

int fw_cmd_run(int argc, char **argv) {
    static fw_run_conf conf; /* large (Kafka property storage); one per process */
    int rc = run_main(&conf, argc, argv);
    fw_schema_destroy(conf.schema); /* NULL when none was loaded */
    conf.schema = NULL;
    return rc;
}
