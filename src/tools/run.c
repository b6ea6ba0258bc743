/* run.c — `fraudwatch run`: its options table, then file mode or Kafka mode. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "file_runner.h"
#include "http_guard.h"
#include "kafka_runtime.h"
#include "lang_live.h"
#include "lang_rules.h"
#include "memlimit.h"
#include "metrics.h"
#include "options.h"
#include "rules_file.h"
#include "schema.h"
#include "run_conf.h"

#define NB FW_OPT_NBSP

static const char run_usage[] =
    "Usage: fraudwatch run [OPTIONS]\n"
    "\n"
    "Reads transactions, runs the detectors and writes alerts. With --input it\n"
    "runs over a file (backtesting); otherwise it joins a Kafka consumer group and\n"
    "writes alerts, dead letters and input offsets in one transaction per commit\n"
    "interval (exactly once). Every option can also be set in the environment\n"
    "(FW_ names; the seeds' names too); a flag wins over the environment.\n";

static fw_err set_instance_id(void *conf, const char *name, const char *v, char *errstr,
                              size_t errstr_size) {
    fw_run_conf *c = conf;
    if (!*v || strlen(v) >= sizeof(c->instance_id)) {
        snprintf(errstr, errstr_size, "%s: expected 1 to %zu characters", name,
                 sizeof(c->instance_id) - 1);
        return FW_ERR_INVALID;
    }
    snprintf(c->instance_id, sizeof(c->instance_id), "%s", v);
    return FW_OK;
}

/* A comma-separated list of field names into c->colocated (NULL-terminated). */
static fw_err set_colocated(void *conf, const char *name, const char *v, char *errstr,
                            size_t errstr_size) {
    fw_run_conf *c = conf;
    size_t n = 0, len = strlen(v);
    if (len >= sizeof(c->colocated_buf)) {
        snprintf(errstr, errstr_size, "%s: at most %zu characters", name,
                 sizeof(c->colocated_buf) - 1);
        return FW_ERR_INVALID;
    }
    memcpy(c->colocated_buf, v, len + 1);
    for (char *f = c->colocated_buf, *next; f; f = next) {
        next = strchr(f, ',');
        if (next)
            *next++ = '\0';
        if (!*f)
            continue;
        if (n == FW_RUN_MAX_COLOCATED) {
            snprintf(errstr, errstr_size, "%s: at most %d fields", name, FW_RUN_MAX_COLOCATED);
            return FW_ERR_INVALID;
        }
        if (!strcmp(f, "account_id")) {
            snprintf(errstr, errstr_size, "%s: account_id is the input's key already", name);
            return FW_ERR_INVALID;
        }
        c->colocated[n++] = f;
    }
    c->colocated[n] = NULL;
    return FW_OK;
}

static fw_err set_offset_reset(void *conf, const char *name, const char *v, char *errstr,
                               size_t errstr_size) {
    int i;
    if (fw_opt_parse_choice(name, v, "earliest|latest", &i, errstr, errstr_size))
        return FW_ERR_INVALID;
    ((fw_run_conf *)conf)->offset_reset_latest = i == 1;
    return FW_OK;
}

static fw_err set_max_memory(void *conf, const char *name, const char *v, char *errstr,
                             size_t errstr_size) {
    char why[160];
    if (!fw_memlimit_parse(v, fw_memlimit_allowed(), &((fw_run_conf *)conf)->max_memory, why,
                           sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", name, why);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static fw_err set_input_format(void *conf, const char *name, const char *v, char *errstr,
                               size_t errstr_size) {
    static const fw_input_format formats[] = { FW_INPUT_JSON, FW_INPUT_SEMICOLON,
                                               FW_INPUT_CSV };
    int i;
    if (fw_opt_parse_choice(name, v, "json|semicolon|csv", &i, errstr, errstr_size))
        return FW_ERR_INVALID;
    ((fw_run_conf *)conf)->pipeline.format = formats[i];
    return FW_OK;
}

/* Seed 001 sets FRAUD_THRESHOLD=5000 (an amount); seed 000 sets 0.8 (a
 * probability, for the model). Above 1 it can only be an amount: the amount
 * limit takes it and says so; at most 1, --fraud-threshold takes it. */
static fw_err set_amount_limit(void *conf, const char *name, const char *v, char *errstr,
                               size_t errstr_size) {
    fw_run_conf *c = conf;
    double d;
    if (fw_opt_parse_amount(name, v, &d, errstr, errstr_size))
        return FW_ERR_INVALID;
    if (!strcmp(name, "FRAUD_THRESHOLD")) {
        if (d > 1) {
            c->pipeline.rules.high_amount.limit = d;
            snprintf(c->env_note, sizeof(c->env_note),
                     "FRAUD_THRESHOLD=%s is above 1, so it is taken as seed 001's high_amount "
                     "limit (an amount), not as ml_score's probability; FW_AMOUNT_LIMIT says "
                     "so without doubt", v);
        }
        return FW_OK;
    }
    c->pipeline.rules.high_amount.limit = d;
    c->env_note[0] = '\0'; /* this name decided, not FRAUD_THRESHOLD */
    return FW_OK;
}

static fw_err set_fraud_threshold(void *conf, const char *name, const char *v, char *errstr,
                                  size_t errstr_size) {
    fw_run_conf *c = conf;
    double d;
    if (!strcmp(name, "FRAUD_THRESHOLD")) {
        if (fw_opt_parse_amount(name, v, &d, errstr, errstr_size))
            return FW_ERR_INVALID;
        if (d <= 1)
            c->pipeline.rules.ml_score.threshold = d;
        return FW_OK; /* above 1: the amount limit's (set_amount_limit) */
    }
    if (fw_opt_parse_probability(name, v, &d, errstr, errstr_size))
        return FW_ERR_INVALID;
    c->pipeline.rules.ml_score.threshold = d;
    return FW_OK;
}

static fw_err set_help(void *conf, const char *name, const char *v, char *errstr,
                       size_t errstr_size);
static fw_err set_help_markdown(void *conf, const char *name, const char *v, char *errstr,
                                size_t errstr_size);

#define OFF(field) offsetof(fw_run_conf, field)

/* `run`'s options: getopt, the environment, --help and the README's table
 * (run --help-markdown, checked by tests/cli/readme_options.sh) come from here. */
static const fw_opt run_opts[] = {
    { .section = "File mode:", .name = "input", .short_flag = 'i', .arg = "FILE",
      .env = { "FW_INPUT" }, .type = FW_OPT_STRING, .offset = OFF(input_file),
      .help = "transactions, one per line ('-' = stdin); selects file mode" },
    { .name = "output", .short_flag = 'o', .arg = "FILE", .env = { "FW_OUTPUT" },
      .type = FW_OPT_STRING, .offset = OFF(output_file), .def = "'-' = stdout",
      .help = "alerts as NDJSON" },
    { .name = "dlq", .arg = "FILE", .env = { "FW_DLQ" }, .type = FW_OPT_STRING,
      .offset = OFF(dlq_file), .def = "one line each on stderr",
      .help = "dead letters as NDJSON" },
    { .name = "late", .arg = "FILE", .env = { "FW_LATE" }, .type = FW_OPT_STRING,
      .offset = OFF(late_file), .def = "counted only",
      .help = "records too late to apply, as NDJSON" },

    { .section = "Kafka mode:", .name = "input-topic", .arg = "TOPIC",
      .env = { "FW_INPUT_TOPIC", "INPUT_TOPIC", "KAFKA_SOURCE_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(input_topic), .def = "transactions",
      .help = "transactions" },
    { .name = "output-topic", .arg = "TOPIC",
      .env = { "FW_OUTPUT_TOPIC", "OUTPUT_TOPIC", "KAFKA_SINK_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(output_topic), .def = "fraud-alerts",
      .help = "alerts" },
    { .name = "dlq-topic", .arg = "TOPIC", .env = { "FW_DLQ_TOPIC", "DLQ_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(dlq_topic), .def = "transactions-dlq",
      .help = "dead letters" },
    { .name = "late-topic", .arg = "TOPIC", .env = { "FW_LATE_TOPIC", "LATE_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(late_topic), .def = "transactions-late",
      .help = "records later than the allowed lateness" },
    { .name = "changelog-topic", .arg = "TOPIC", .env = { "FW_CHANGELOG_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(changelog_topic), .def = "GROUP-state-changelog",
      .help = "compacted state changelog, partitioned like the input; an existing one "
              "that is not compacted is refused" },
    { .name = "idle-timeout-ms", .arg = "N", .env = { "FW_IDLE_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 86400000, .offset = OFF(idle_timeout_ms),
      .def = "10000",
      .help = "a partition without records this long, read to the end the broker "
              "gives, releases what it holds and advances with the wall clock" },
    { .name = "group-id", .short_flag = 'g', .arg = "ID",
      .env = { "FW_GROUP_ID", "GROUP_ID", "KAFKA_GROUP_ID" }, .type = FW_OPT_STRING,
      .offset = OFF(group_id), .def = "fraudwatch", .help = "consumer group" },
    { .name = "instance-id", .arg = "ID", .env = { "FW_INSTANCE_ID" },
      .type = FW_OPT_STRING, .set = set_instance_id, .def = "host name",
      .help = "stable name of this instance, gives the transactional id "
              "fraudwatch-GROUP-INSTANCE. Give each instance on one host its own." },
    { .name = "colocated", .arg = "FIELDS", .env = { "FW_COLOCATED" },
      .type = FW_OPT_STRING, .set = set_colocated, .def = "none",
      .help = "comma-separated fields each value of which belongs to one account "
              "(e.g. customer_id,card_id when each customer has one account): rules "
              "grouped by them run on the input's partitions, with no repartition topic" },
    { .name = "input-partitioner", .arg = "NAME", .env = { "FW_INPUT_PARTITIONER" },
      .type = FW_OPT_CHOICE, .choices = FW_PARTITIONER_CHOICES,
      .offset = OFF(input_partitioner), .def = "consistent_random",
      .help = "how the input's producers partition by key: consistent_random (librdkafka's "
              "default, and fraudwatch generate's and produce's), murmur2_random (the Java "
              "client's), fnv1a_random (Sarama's). With several partitions, a record not on "
              "its account's partition (no key, another key) is repartitioned by account "
              "through GROUP-repartition-account_id; a wrong NAME repartitions nearly every "
              "record (counted and logged)" },
    { .name = "partitions", .arg = "N", .env = { "FW_PARTITIONS" }, .type = FW_OPT_INT,
      .min = 1, .max = 100000, .offset = OFF(partitions), .def = "3",
      .help = "partitions of topics fraudwatch creates" },
    { .name = "replication-factor", .arg = "N", .env = { "FW_REPLICATION_FACTOR" },
      .type = FW_OPT_INT, .min = 1, .max = 100, .offset = OFF(replication_factor),
      .def = "1", .help = "of topics fraudwatch creates" },
    { .name = "commit-interval-ms", .arg = "N", .env = { "FW_COMMIT_INTERVAL_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 600000, .offset = OFF(commit_interval_ms),
      .def = "100", .help = "one Kafka transaction per interval" },
    { .name = "session-timeout-ms", .arg = "N", .env = { "FW_SESSION_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 3600000, .offset = OFF(session_timeout_ms),
      .def = "3000",
      .help = "consumer group session: the partitions of an instance that died (kill -9, "
              "crash) move to the others after this long. The broker must allow it: "
              "group.min.session.timeout.ms (Kafka's default 6000) at most N" },
    { .name = "heartbeat-interval-ms", .arg = "N", .env = { "FW_HEARTBEAT_INTERVAL_MS" },
      .type = FW_OPT_INT, .min = 0, .max = 3600000, .offset = OFF(heartbeat_interval_ms),
      .def = "0 = a third of the session timeout",
      .help = "consumer group heartbeat" },
    { .name = "static-membership", .env = { "FW_STATIC_MEMBERSHIP" }, .type = FW_OPT_FLAG,
      .offset = OFF(static_membership),
      .help = "join as the static member fraudwatch-GROUP-INSTANCE (group.instance.id): a "
              "restart within the session timeout keeps its partitions without a "
              "rebalance. Off by default: librdkafka before 2.2.0 mishandles partitions "
              "whose owner changed under cooperative-sticky (docs/benchmarks.md, "
              "\"Failover\")" },
    { .name = "offset-reset", .arg = "WHERE", .env = { "FW_OFFSET_RESET" },
      .type = FW_OPT_CHOICE, .choices = "earliest|latest", .set = set_offset_reset,
      .def = "earliest", .help = "earliest|latest, where a new group starts" },
    { .name = "exit-at-end", .env = { "FW_EXIT_AT_END" }, .type = FW_OPT_FLAG,
      .offset = OFF(exit_at_end),
      .help = "stop once every assigned partition is read to its end (backfills, "
              "benchmarks)" },
    { .name = "stats-interval", .arg = "S", .env = { "FW_STATS_INTERVAL" },
      .type = FW_OPT_INT, .min = 0, .max = 86400, .offset = OFF(stats_interval_s),
      .def = "10; 0 = off", .help = "progress line on stderr every S seconds" },

    FW_OPTS_KAFKA(fw_run_conf, kafka),

    { .section = "Monitoring (docs/monitoring.md), both modes:", .name = "metrics-port",
      .arg = "N", .env = { "FW_METRICS_PORT", "METRICS_PORT" }, .type = FW_OPT_INT,
      .min = 0, .max = 65535, .offset = OFF(metrics_port), .def = "0 = off",
      .help = "serve Prometheus metrics (GET /metrics), GET /health (200 while the "
              "processing loop turns and has not failed, else 503 and why) and GET /ready "
              "(200 once in the group with every assigned partition restored) on port N" },
    { .name = "health-timeout-ms", .arg = "N", .env = { "FW_HEALTH_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 1000, .max = 3600000, .offset = OFF(health_timeout_ms),
      .def = "60000",
      .help = "Kafka mode: /health answers 503 once the processing loop has not turned for "
              "this long (a state restore turns it: it reports progress every second)" },
    { .name = "metrics-bind", .alias = "bind", .arg = "ADDR",
      .env = { "FW_METRICS_BIND", "METRICS_BIND" }, .type = FW_OPT_ADDRESS,
      .offset = OFF(metrics_bind), .def = "127.0.0.1," NB "this" NB "host" NB "only",
      .help = "IPv4 or IPv6 address they listen on. --bind" NB "0.0.0.0 opens them to "
              "the network; there is no authentication. (-b is not --bind but "
              "--bootstrap-servers)" },

    { .section = "Detection:", .name = "rules", .short_flag = 'r', .arg = "FILE",
      .env = { "FW_RULES", "RULES_FILE" }, .type = FW_OPT_STRING, .offset = OFF(rules_file),
      .def = "built-in defaults",
      .help = "rules file (JSON, docs/rules.md) applied over the built-in defaults; see "
              "'fraudwatch rules'" },
    { .name = "max-memory", .arg = "SIZE", .env = { "FW_MAX_MEMORY" }, .type = FW_OPT_STRING,
      .set = set_max_memory, .def = "75%",
      .help = "once the process's resident memory is above SIZE (75%, 4G, 512M, or 0 for no "
              "limit; a share of the container's memory limit, else of the machine's), no new "
              "key of state is made: new accounts, cards and rule keys go undetected by stateful "
              "rules (counted: over_limit{limit=\"memory\"}) until memory falls again; keys "
              "already held go on" },
    { .name = "profiles", .arg = "FILE", .env = { "FW_PROFILES" }, .type = FW_OPT_STRING,
      .offset = OFF(profiles_file), .def = "none",
      .help = "customer profiles, NDJSON ({\"customer_id\",\"avg_amount\",\"home_country\"}; "
              "seed 004's user_id, avg_transaction, country too)" },
    { .name = "profiles-topic", .arg = "TOPIC",
      .env = { "FW_PROFILES_TOPIC", "PROFILES_TOPIC" }, .type = FW_OPT_STRING,
      .offset = OFF(profiles_topic), .def = "customer-profiles", .flags = FW_OPT_EMPTY_OK,
      .help = "Kafka mode: compacted profiles topic read in full and kept current ('' for "
              "none)" },
    { .name = "rules-topic", .arg = "TOPIC", .env = { "FW_RULES_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(rules_topic), .def = "fraudwatch-rules",
      .flags = FW_OPT_EMPTY_OK,
      .help = "Kafka mode: compacted control topic of live rule changes (key: rule id, "
              "value: a rules-file entry), read in full and followed; --rules also reloads "
              "on SIGHUP ('' for none; docs/live-rules.md)" },
    { .name = "rules-status-topic", .arg = "TOPIC", .env = { "FW_RULES_STATUS_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(rules_status_topic),
      .def = "fraudwatch-rules-status", .flags = FW_OPT_EMPTY_OK,
      .help = "Kafka mode: each rule change accepted or rejected, and why ('' for none)" },
    { .name = "lists", .arg = "FILE", .env = { "FW_LISTS" }, .type = FW_OPT_STRING,
      .offset = OFF(lists_file), .def = "none",
      .help = "named lists for `in list(\"name\")` ({\"name\": [\"v\", ...]}) over the rules "
              "file's \"lists\"; Kafka mode reloads it on SIGHUP (docs/live-rules.md)" },
    { .name = "lists-topic", .arg = "TOPIC", .env = { "FW_LISTS_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(lists_topic), .def = "fraudwatch-lists",
      .flags = FW_OPT_EMPTY_OK,
      .help = "Kafka mode: compacted topic of named lists (key: list name, value: JSON array "
              "of strings) over --lists, read in full and followed ('' for none)" },
    { .name = "input-format", .arg = "FMT", .env = { "FW_INPUT_FORMAT", "INPUT_FORMAT" },
      .type = FW_OPT_CHOICE, .choices = "json|semicolon|csv", .set = set_input_format,
      .def = "json",
      .help = "json, semicolon: seed 003's '<timestamp>;<origin>;<target>;<amount>', or "
              "csv: RFC 4180 lines, columns named by the first line (file mode) or "
              "--csv-header" },
    { .name = "csv-header", .arg = "NAMES", .env = { "FW_CSV_HEADER" },
      .type = FW_OPT_STRING, .offset = OFF(pipeline.csv_header), .def = "the file's first line",
      .help = "the CSV column names, e.g. \"id,ts,amount\"; required for csv in Kafka mode" },
    { .name = "schema", .arg = "FILE", .env = { "FW_SCHEMA" }, .type = FW_OPT_STRING,
      .offset = OFF(schema_file), .def = "the rules file's \"schema\" section, else ours",
      .help = "records in another team's spelling: a mapping of our fields to their names "
              "or dotted paths, timestamp format, type/channel values (docs/schema.md; "
              "check it with 'fraudwatch schema check')" },
    { .name = "amount-limit", .arg = "X",
      .env = { "FW_AMOUNT_LIMIT", "AMOUNT_THRESHOLD", "FRAUD_THRESHOLD" },
      .type = FW_OPT_AMOUNT, .set = set_amount_limit, .flags = FW_OPT_AFTER_FILE,
      .def = "5000",
      .help = "high_amount fires when amount > X; FRAUD_THRESHOLD counts only above 1, as "
              "seed 001 uses it. Precedence: this flag, then the rules file, then the env" },
    { .name = "max-record-bytes", .arg = "N", .env = { "FW_MAX_RECORD_BYTES" },
      .type = FW_OPT_SIZE, .min = 64, .max = 64L << 20,
      .offset = OFF(pipeline.max_record_bytes), .def = "65536",
      .help = "larger records are dead letters" },
    { .name = "max-future-skew", .arg = "DUR", .env = { "FW_MAX_FUTURE_SKEW" },
      .type = FW_OPT_DURATION, .offset = OFF(pipeline.rules.time.max_future_skew_ms),
      .flags = FW_OPT_AFTER_FILE, .def = "5m, rules time.max_future_skew",
      .help = "Kafka mode: an event time more than DUR ahead of its message's timestamp "
              "(or the wall clock) is a dead letter (off = no check)" },
    { .name = "max-event-time-jump", .arg = "DUR", .env = { "FW_MAX_EVENT_TIME_JUMP" },
      .type = FW_OPT_DURATION, .offset = OFF(pipeline.rules.time.max_event_time_jump_ms),
      .flags = FW_OPT_AFTER_FILE, .def = "1h, rules time.max_event_time_jump",
      .help = "file mode: a record more than DUR ahead of the newest accepted waits for "
              "later records to confirm it; contradicted by 3 it is a dead letter (off = "
              "no check). Precedence of both: this flag, then the rules file, then the "
              "env. A transaction id seen before is a dead letter too (rules "
              "time.duplicate_margin, docs/schema.md)" },

    { .section = "Model score (rule ml_score, docs/model.md):", .name = "model",
      .arg = "FILE", .env = { "FW_MODEL", "MODEL_PATH" }, .type = FW_OPT_STRING,
      .offset = OFF(scorer.model_path), .def = "none, ml_score off",
      .help = "XGBoost JSON model from 'fraudwatch train'; reloaded when the file changes, "
              "a model that fails to load keeps the old one" },
    { .name = "fraud-threshold", .arg = "P", .env = { "FW_FRAUD_THRESHOLD", "FRAUD_THRESHOLD" },
      .type = FW_OPT_PROBABILITY, .set = set_fraud_threshold, .flags = FW_OPT_AFTER_FILE,
      .def = "0.8",
      .help = "alert when the probability > P; FRAUD_THRESHOLD counts only when at most 1. "
              "Precedence: this flag, then the rules file, then the env" },
    { .name = "api-endpoint", .arg = "URL", .env = { "FW_API_ENDPOINT", "API_ENDPOINT_URL" },
      .type = FW_OPT_STRING, .offset = OFF(scorer.endpoint), .def = "none",
      .help = "score with a remote /predict service instead (seed 000's): batches sent "
              "asynchronously; on failure the rules keep running and the unscored "
              "transactions are counted" },
    { .name = "api-timeout-ms", .arg = "N", .env = { "FW_API_TIMEOUT_MS", "API_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 3600000, .offset = OFF(scorer.remote.timeout_ms),
      .def = "10000", .help = "per request" },
    { .name = "api-retries", .arg = "N", .env = { "FW_API_RETRIES" }, .type = FW_OPT_INT,
      .min = 0, .max = 100, .offset = OFF(scorer.remote.retries), .def = "2",
      .help = "further attempts after a failure" },
    { .name = "api-token", .arg = "TOKEN", .env = { "FW_API_TOKEN" }, .type = FW_OPT_STRING,
      .offset = OFF(scorer.remote.token), .def = "none",
      .help = "sent as \"Authorization: Bearer TOKEN\" to a service that asks for one "
              "(serve --token); the env keeps it out of ps" },

    { .section = "Other:", .name = "quiet", .short_flag = 'q', .env = { "FW_QUIET" },
      .type = FW_OPT_FLAG, .offset = OFF(quiet), .help = "no progress lines" },
    { .name = "progress", .env = { "FW_PROGRESS" }, .type = FW_OPT_FLAG,
      .offset = OFF(progress),
      .help = "file mode: progress (bytes of the input, percent, rate, ETA) on stderr "
              "every --stats-interval seconds even when stderr is not a terminal; on one a "
              "line is rewritten every second anyway" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .set = set_help,
      .help = "this text" },
    { .name = "test-abort-every", .arg = "N", .env = { "FW_TEST_ABORT_EVERY" },
      .type = FW_OPT_INT, .min = 0, .max = 1000000, .offset = OFF(test_abort_every),
      .flags = FW_OPT_HIDDEN,
      .help = "tests: abort every Nth Kafka transaction just before its commit, after its "
              "alerts, changelog records and offsets went in, as a failed commit would" },
    { .name = "help-markdown", .type = FW_OPT_HELP, .set = set_help_markdown,
      .flags = FW_OPT_HIDDEN, .help = "the README's table of these options" },
};

#define RUN_NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

const fw_opt *fw_run_options(size_t *n) {
    *n = RUN_NOPTS;
    return run_opts;
}

void fw_run_help(FILE *out) {
    fputs(run_usage, out);
    fw_opts_help(out, run_opts, RUN_NOPTS);
}

static fw_err set_help(void *conf, const char *name, const char *v, char *errstr,
                       size_t errstr_size) {
    (void)conf, (void)name, (void)v, (void)errstr, (void)errstr_size;
    fw_run_help(stdout);
    return FW_ERR_NOT_FOUND;
}

static fw_err set_help_markdown(void *conf, const char *name, const char *v, char *errstr,
                                size_t errstr_size) {
    (void)conf, (void)name, (void)v, (void)errstr, (void)errstr_size;
    fw_opts_markdown(stdout, run_opts, RUN_NOPTS);
    return FW_ERR_NOT_FOUND;
}

/* Defaults only: the environment is applied by fw_run_conf_parse, from the table. */
void fw_run_conf_init(fw_run_conf *c) {
    memset(c, 0, sizeof(*c));
    fw_rules_defaults(&c->pipeline.rules);
    c->pipeline.format = FW_INPUT_JSON;
    c->pipeline.max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    c->output_file = "-";
    fw_kafka_opts_init(&c->kafka); /* also KAFKA_SECURITY_PROTOCOL and the like */
    c->input_topic = "transactions";
    c->output_topic = "fraud-alerts";
    c->dlq_topic = "transactions-dlq";
    c->late_topic = "transactions-late";
    c->idle_timeout_ms = 10000;
    c->profiles_topic = "customer-profiles";
    c->rules_topic = "fraudwatch-rules";
    c->rules_status_topic = "fraudwatch-rules-status";
    c->lists_topic = "fraudwatch-lists";
    c->group_id = "fraudwatch";
    if (gethostname(c->instance_id, sizeof(c->instance_id) - 1) != 0)
        snprintf(c->instance_id, sizeof(c->instance_id), "default");
    c->partitions = 3;
    c->replication_factor = 1;
    c->commit_interval_ms = 100;
    c->session_timeout_ms = 3000; /* failover in seconds; librdkafka's own is 45000 */
    c->stats_interval_s = 10;
    char why[160];
    if (!fw_memlimit_parse("75%", fw_memlimit_allowed(), &c->max_memory, why, sizeof(why)))
        c->max_memory = 0; /* the machine's memory cannot be read: no limit */
    c->metrics_port = 0;
    c->health_timeout_ms = 60000;
    c->metrics_bind = "127.0.0.1"; /* safe by default: no authentication */
    fw_remote_conf_defaults(&c->scorer.remote);
}

fw_err fw_run_conf_parse(fw_run_conf *c, int argc, char **argv, char *errstr,
                         size_t errstr_size) {
    const char *after[RUN_NOPTS] = { 0 }; /* flags that win over the rules file */
    fw_err err;
    if ((err = fw_opts_env(run_opts, RUN_NOPTS, c, errstr, errstr_size)) ||
        (err = fw_opts_parse(run_opts, RUN_NOPTS, c, argc, argv, after, errstr, errstr_size)))
        return err == FW_ERR_NOT_FOUND ? err : FW_ERR_INVALID;
    if (c->rules_file) {
        char why[480];
        if (fw_rules_load_file(&c->pipeline.rules, c->rules_file, why, sizeof(why)) != FW_OK) {
            snprintf(errstr, errstr_size, "--rules: %s", why);
            return FW_ERR_INVALID;
        }
    }
    if (c->rules_file || c->lists_file) {
        /* The language rules of the file and its lists, with --lists over them;
         * a list no source has yet is not an error (a lists topic may bring
         * it): `in list` is false until then, and the runner says so. */
        char why[700];
        fw_lang_live *ll = fw_lang_live_new(&c->pipeline.rules);
        fw_err rc = ll ? fw_lang_live_load_files(ll, c->rules_file, c->lists_file, false, NULL,
                                                 NULL, why, sizeof(why))
                       : FW_ERR_NOMEM;
        fw_lang_rules_destroy(c->lang);
        c->lang = NULL;
        if (rc == FW_OK)
            fw_lang_live_take(ll, &c->lang);
        fw_lang_live_destroy(ll);
        if (rc != FW_OK) {
            snprintf(errstr, errstr_size, "%s: %s",
                     c->lists_file && strstr(why, c->lists_file) == why ? "--lists" : "--rules",
                     rc == FW_ERR_NOMEM && !ll ? "out of memory" : why);
            return FW_ERR_INVALID;
        }
        if (c->lang && !c->lang->n) { /* no language rules: nothing to keep */
            fw_lang_rules_destroy(c->lang);
            c->lang = NULL;
        }
        c->pipeline.lang = c->lang;
    }
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
    if (c->heartbeat_interval_ms >= c->session_timeout_ms) {
        snprintf(errstr, errstr_size, "--heartbeat-interval-ms %d: must be below "
                 "--session-timeout-ms %d (a third of it is usual)",
                 c->heartbeat_interval_ms, c->session_timeout_ms);
        return FW_ERR_INVALID;
    }
    if (c->scorer.remote.token) {
        char why[160];
        if (!fw_http_token_valid(c->scorer.remote.token, why, sizeof(why))) {
            snprintf(errstr, errstr_size, "--api-token (or FW_API_TOKEN): %s", why);
            return FW_ERR_INVALID;
        }
    }
    /* Flags over the rules file, which was read after them. */
    if (fw_opts_reapply(run_opts, RUN_NOPTS, c, after, errstr, errstr_size))
        return FW_ERR_INVALID;
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
    if (!c->quiet && !c->input_file) { /* a service says what it runs with, and from where */
        fprintf(stderr, "fraudwatch: configuration (option, value, where it came from):\n");
        fw_opts_print_effective(stderr, "fraudwatch:   ", run_opts, RUN_NOPTS,
                                c->rules_file ? "rules file or default" : NULL);
    }
    fw_profiles *profiles = fw_profiles_new();
    if (!profiles) {
        fprintf(stderr, "fraudwatch run: out of memory\n");
        return 1;
    }
    if (c->profiles_file &&
        fw_profiles_load_file(profiles, c->profiles_file, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch run: --profiles: %s\n", errstr);
        fw_profiles_destroy(profiles);
        return 2;
    }
    c->pipeline.profiles = profiles;
    if (c->env_note[0])
        fprintf(stderr, "fraudwatch run: %s\n", c->env_note);
    errstr[0] = '\0';
    fw_scorer *scorer = fw_scorer_new(&c->scorer, errstr, sizeof(errstr));
    if (!scorer && errstr[0]) {
        /* A model that does not load, or an endpoint that is no URL: found
         * before the work starts, in what the options name, so usage (2). */
        bool model = c->scorer.model_path && c->scorer.model_path[0] &&
                     !(c->scorer.endpoint && c->scorer.endpoint[0]);
        fprintf(stderr, "fraudwatch run: %s%s\n", model ? "--model: " : "", errstr);
        fw_profiles_destroy(profiles);
        return 2;
    }
    if (scorer && !c->quiet)
        fprintf(stderr, "fraudwatch: ml_score with %s, threshold %.2f\n",
                fw_scorer_describe(scorer), c->pipeline.rules.ml_score.threshold);
    fw_metrics *metrics = NULL;
    if (c->metrics_port) {
        fw_metrics_conf mc = { .bind = c->metrics_bind, .port = c->metrics_port,
                               .kafka = !c->input_file, .ml = scorer != NULL,
                               .instance_id = c->instance_id,
                               .health_timeout_ms = c->input_file ? 0 : c->health_timeout_ms };
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
    if (c->input_file) /* file mode reads at once; Kafka mode says when it is ready */
        fw_metrics_set_ready(metrics, true, NULL);
    else
        fw_metrics_set_ready(metrics, false, "joining the consumer group");
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
    fw_lang_rules_destroy(conf.lang);
    conf.lang = NULL;
    return rc;
}
