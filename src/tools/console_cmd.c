/* console_cmd.c — `fraudwatch console`: the analysts' side. It stores every
 * alert of the alert topic in PostgreSQL exactly once (console_ingest.h) and
 * serves them as a JSON API (console_http.h, docs/api.md). */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_store.h"
#include "commands.h"
#include "console_http.h"
#include "console_feedback.h"
#include "console_ingest.h"
#include "http_guard.h"
#include "fw_os.h"
#include "kafka_conf.h"
#include "options.h"

static const char console_usage[] =
    "Usage: fraudwatch console --database-url URL [OPTIONS]\n"
    "\n"
    "The analysts' side. Reads the alert topic read_committed in its own consumer\n"
    "group and stores every alert in PostgreSQL exactly once: upserted by alert_id,\n"
    "with the consumed offsets written in the same database transaction, so a crash\n"
    "or a replay neither doubles nor loses an alert. A record that is not an alert\n"
    "is stored in dead_letters with the reason. The schema's migrations are applied\n"
    "at start. A JSON API serves the stored alerts (docs/api.md); it binds\n"
    "127.0.0.1 unless told otherwise. scripts/postgres-local runs a local database.\n"
    "Every option can also be set in the environment; a flag wins.\n"
    "Exit status: 0 stopped (SIGINT, SIGTERM, or --exit-at-end), 1 a database,\n"
    "Kafka or HTTP failure at start or a fatal Kafka error, 2 bad options.\n";

typedef struct console_conf {
    fw_kafka_opts kafka;
    const char *database_url, *alerts_topic, *group_id, *bind, *token, *engines;
    const char *feedback_topic;
    int port, batch_ms, batch_max;
    bool exit_at_end;
} console_conf;

#define OFF(field) offsetof(console_conf, field)

static const fw_opt console_opts[] = {
    { .section = "Store:", .name = "database-url", .short_flag = 'd', .arg = "URL",
      .env = { "FW_DATABASE_URL", "DATABASE_URL" }, .type = FW_OPT_STRING,
      .offset = OFF(database_url),
      .help = "PostgreSQL connection URI or libpq string (required), such as what "
              "scripts/postgres-local url prints; never printed" },
    { .name = "alerts-topic", .arg = "TOPIC",
      .env = { "FW_ALERTS_TOPIC", "FW_OUTPUT_TOPIC", "OUTPUT_TOPIC", "KAFKA_SINK_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(alerts_topic), .def = "fraud-alerts",
      .help = "the topic the engines write their alerts to" },
    { .name = "group-id", .short_flag = 'g', .arg = "ID", .env = { "FW_CONSOLE_GROUP_ID" },
      .type = FW_OPT_STRING, .offset = OFF(group_id), .def = "fraudwatch-console",
      .help = "the console's consumer group; its offsets are kept in the database under "
              "this name" },
    { .name = "batch-ms", .arg = "N", .env = { "FW_CONSOLE_BATCH_MS" }, .type = FW_OPT_INT,
      .min = 1, .max = 60000, .offset = OFF(batch_ms), .def = "100",
      .help = "a batch of alerts is committed to the database at most this long after its "
              "first record" },
    { .name = "batch-max", .arg = "N", .env = { "FW_CONSOLE_BATCH_MAX" }, .type = FW_OPT_INT,
      .min = 1, .max = 100000, .offset = OFF(batch_max), .def = "1000",
      .help = "or once it holds this many records" },
    { .name = "feedback-topic", .arg = "TOPIC", .env = { "FW_FEEDBACK_TOPIC" },
      .type = FW_OPT_STRING, .offset = OFF(feedback_topic), .def = "alert-feedback",
      .flags = FW_OPT_EMPTY_OK,
      .help = "compacted topic the analysts' verdicts are published to, keyed by alert id "
              "(\"\": none; they stay in the database)" },
    { .name = "exit-at-end", .short_flag = 'e', .env = { "FW_EXIT_AT_END" },
      .type = FW_OPT_FLAG, .offset = OFF(exit_at_end),
      .help = "stop once every assigned partition is stored to its end (tests, backfills)" },
    { .section = "HTTP:", .name = "bind", .arg = "ADDR", .env = { "FW_CONSOLE_BIND" },
      .type = FW_OPT_ADDRESS, .offset = OFF(bind), .def = "127.0.0.1",
      .help = "address the API listens on" },
    { .name = "port", .short_flag = 'p', .arg = "N", .env = { "FW_CONSOLE_PORT", "CONSOLE_PORT" },
      .type = FW_OPT_INT, .min = -1, .max = 65535, .offset = OFF(port), .def = "8090",
      .help = "port of the API (0: any free one, printed; -1: no HTTP)" },
    { .name = "token", .arg = "TOKEN", .env = { "CONSOLE_TOKEN", "FW_CONSOLE_TOKEN" },
      .type = FW_OPT_STRING, .offset = OFF(token),
      .help = "what writes (verdicts, assignments, notes) must send as Authorization: "
              "Bearer TOKEN; without it every write is refused with 401. Prefer the "
              "environment: a flag shows in ps" },
    { .name = "engines", .arg = "URLS", .env = { "FW_CONSOLE_ENGINES" }, .type = FW_OPT_STRING,
      .offset = OFF(engines),
      .help = "the engines' /metrics URLs, comma-separated, for the engine page "
              "(throughput, event-time lag, alert latency)" },
    FW_OPTS_KAFKA(console_conf, kafka),
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP,
      .help = "this text" },
};

static fw_err console_check(void *conf, char *errstr, size_t errstr_size) {
    const console_conf *c = conf;
    if (!c->database_url || !*c->database_url) {
        snprintf(errstr, errstr_size, "--database-url is required (or FW_DATABASE_URL; "
                 "scripts/postgres-local url prints a local one)");
        return FW_ERR_INVALID;
    }
    if (c->token && *c->token && !fw_http_token_valid(c->token, errstr, errstr_size))
        return FW_ERR_INVALID;
    if (!c->alerts_topic || !*c->alerts_topic) {
        snprintf(errstr, errstr_size, "--alerts-topic must not be empty");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opts_cmd console_cmd = {
    .name = "console", .usage = console_usage, .opts = console_opts,
    .nopts = sizeof(console_opts) / sizeof(console_opts[0]), .check = console_check,
};

int fw_cmd_console(int argc, char **argv) {
    console_conf c = { .alerts_topic = "fraud-alerts", .group_id = "fraudwatch-console",
                       .feedback_topic = "alert-feedback",
                       .bind = "127.0.0.1", .port = 8090, .batch_ms = 100, .batch_max = 1000 };
    fw_kafka_opts_init(&c.kafka);
    int rc = fw_opts_main(&console_cmd, &c, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    char errstr[1024], desc[256];
    fw_console_http *http = NULL;
    fw_ingest *in = NULL;
    fw_console_engines *engines = NULL;
    fw_feedback *feedback = NULL;
    fw_store *st = fw_store_open(c.database_url, true, errstr, sizeof(errstr));
    if (!st) {
        fprintf(stderr, "fraudwatch console: %s\n", errstr);
        return 1;
    }
    fprintf(stderr, "fraudwatch console: %s\n", fw_store_describe(st, desc, sizeof(desc)));
    rc = 1;
    int port = c.port;
    if (c.engines && *c.engines &&
        !(engines = fw_console_engines_new(c.engines, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch console: %s\n", errstr);
        goto out;
    }
    if (c.feedback_topic && *c.feedback_topic &&
        !(feedback = fw_feedback_new(&c.kafka, c.feedback_topic, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch console: %s\n", errstr);
        goto out;
    }
    if (port >= 0) {
        fw_console_http_conf hc = { .bind = c.bind, .db_url = c.database_url,
                                    .token = c.token, .engines = engines };
        if (!(http = fw_console_http_start(&hc, &port, errstr, sizeof(errstr)))) {
            fprintf(stderr, "fraudwatch console: %s\n", errstr);
            goto out;
        }
        /* Never the token itself. */
        fprintf(stderr, "fraudwatch console: on http://%s%s%s:%d/ (API under /api/; writes %s)\n",
                strchr(c.bind, ':') ? "[" : "", c.bind, strchr(c.bind, ':') ? "]" : "", port,
                c.token && *c.token ? "need the token" : "refused: no CONSOLE_TOKEN");
    }
    fw_ingest_conf ic = { .kafka = &c.kafka, .topic = c.alerts_topic, .group_id = c.group_id,
                          .batch_ms = c.batch_ms, .batch_max = c.batch_max,
                          .exit_at_end = c.exit_at_end };
    if (!(in = fw_ingest_new(&ic, st, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch console: %s\n", errstr);
        goto out;
    }
    fprintf(stderr, "fraudwatch console: storing the alerts of %s (group %s)\n", c.alerts_topic,
            c.group_id);
    fw_stop_install();
    int step = 1;
    int64_t publish_at = 0;
    uint64_t published = 0;
    while (!fw_stop_requested() && (step = fw_ingest_step(in, 100)) > 0) {
        if (feedback && fw_mono_ms() >= publish_at) { /* verdicts out twice a second */
            int n = fw_feedback_publish(feedback, st, errstr, sizeof(errstr));
            if (n < 0)
                fprintf(stderr, "fraudwatch console: feedback: %s\n", errstr);
            published += n > 0 ? (uint64_t)n : 0;
            publish_at = fw_mono_ms() + 500;
        }
    }
    if (feedback) {
        int n = fw_feedback_publish(feedback, st, errstr, sizeof(errstr));
        published += n > 0 ? (uint64_t)n : 0;
    }
    rc = step < 0 ? 1 : 0;
    fw_ingest_stats stats;
    fw_ingest_close(in, &stats); /* stores what is pending first */
    in = NULL;
    int64_t rows = fw_store_count(st, false, errstr, sizeof(errstr));
    fprintf(stderr, "fraudwatch console: stopped: %" PRIu64 " alert records stored, %" PRIu64
            " dead letters, %" PRIu64 " batches, %" PRIu64 " refused by the database, %" PRIu64
            " verdicts published; the store holds %" PRId64 " alerts\n", stats.alerts,
            stats.dead_letters, stats.batches, stats.failures, published, rows);
out:
    fw_ingest_close(in, NULL);
    fw_console_http_stop(http);
    fw_console_engines_free(engines);
    fw_feedback_free(feedback);
    fw_store_close(st);
    return rc;
}
