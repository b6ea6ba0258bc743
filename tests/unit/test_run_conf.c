/* test_run_conf.c — `fraudwatch run` options: defaults, the seeds'
 * environment names, flags over environment, and errors naming the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "run_conf.h"

static const char *const env_names[] = {
    "INPUT_TOPIC", "KAFKA_SOURCE_TOPIC", "OUTPUT_TOPIC", "KAFKA_SINK_TOPIC", "DLQ_TOPIC",
    "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKER_ADDRESS", "GROUP_ID", "KAFKA_GROUP_ID",
    "FW_INSTANCE_ID", "FW_PARTITIONS", "FW_COMMIT_INTERVAL_MS", "AMOUNT_THRESHOLD",
    "FRAUD_THRESHOLD", "INPUT_FORMAT", "FW_REPLICATION_FACTOR", "RULES_FILE",
    "FW_IDLE_TIMEOUT_MS", "LATE_TOPIC", "METRICS_PORT", "METRICS_BIND", "FW_MAX_FUTURE_SKEW", "FW_API_TOKEN",
    "FW_MAX_EVENT_TIME_JUMP", "FW_SESSION_TIMEOUT_MS", "FW_HEARTBEAT_INTERVAL_MS",
    "FW_STATIC_MEMBERSHIP",
};

static int clear_env(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    return 0;
}

static fw_run_conf conf;
static char errstr[512];

static fw_err parse(int argc, char **argv) {
    fw_run_conf_init(&conf);
    errstr[0] = '\0';
    return fw_run_conf_parse(&conf, argc, argv, errstr, sizeof(errstr));
}

static void test_defaults(void **state) {
    (void)state;
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_string_equal(conf.input_topic, "transactions");
    assert_string_equal(conf.output_topic, "fraud-alerts");
    assert_string_equal(conf.dlq_topic, "transactions-dlq");
    assert_string_equal(conf.group_id, "fraudwatch");
    assert_string_equal(conf.kafka.bootstrap, "localhost:9092");
    assert_int_equal(conf.commit_interval_ms, 100);
    assert_int_equal(conf.partitions, 3);
    assert_true(conf.pipeline.rules.high_amount.limit == 5000.0);
    assert_int_equal(conf.pipeline.format, FW_INPUT_JSON);
    assert_null(conf.input_file);
    assert_true(conf.instance_id[0] != '\0');
    assert_int_equal(conf.metrics_port, 0); /* off */
    assert_string_equal(conf.metrics_bind, "127.0.0.1"); /* this host only */
}

/* Failover in seconds (issue 14): the group session and heartbeat. */
static void test_group_session(void **state) {
    (void)state;
    static const struct {
        const char *env_session, *env_heartbeat;
        char *args[5];
        fw_err want;
        int session, heartbeat;
        bool static_membership;
        const char *err_has;
    } cases[] = {
        { NULL, NULL, { NULL }, FW_OK, 3000, 0, false, NULL },
        { "6000", NULL, { NULL }, FW_OK, 6000, 0, false, NULL },
        { "6000", "500", { "--session-timeout-ms", "2000", NULL }, FW_OK, 2000, 500, false,
          NULL },
        { NULL, NULL, { "--static-membership", NULL }, FW_OK, 3000, 0, true, NULL },
        { NULL, NULL, { "--heartbeat-interval-ms", "3000", NULL }, FW_ERR_INVALID, 0, 0,
          false, "--heartbeat-interval-ms 3000: must be below --session-timeout-ms 3000" },
        { NULL, "1000", { "--session-timeout-ms", "1000", NULL }, FW_ERR_INVALID, 0, 0,
          false, "--heartbeat-interval-ms 1000: must be below --session-timeout-ms 1000" },
        { NULL, NULL, { "--session-timeout-ms", "0", NULL }, FW_ERR_INVALID, 0, 0, false,
          "--session-timeout-ms" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_env(NULL);
        if (cases[i].env_session)
            setenv("FW_SESSION_TIMEOUT_MS", cases[i].env_session, 1);
        if (cases[i].env_heartbeat)
            setenv("FW_HEARTBEAT_INTERVAL_MS", cases[i].env_heartbeat, 1);
        char *argv[6] = { "run" };
        int argc = 1;
        for (int a = 0; cases[i].args[a]; a++)
            argv[argc++] = cases[i].args[a];
        fw_err got = parse(argc, argv);
        printf("case %zu: want %d got %d, session %d (want %d), heartbeat %d (want %d), "
               "errstr \"%s\"\n", i, cases[i].want, got, conf.session_timeout_ms,
               cases[i].session, conf.heartbeat_interval_ms, cases[i].heartbeat, errstr);
        assert_int_equal(got, cases[i].want);
        if (got == FW_OK) {
            assert_int_equal(conf.session_timeout_ms, cases[i].session);
            assert_int_equal(conf.heartbeat_interval_ms, cases[i].heartbeat);
            assert_int_equal(conf.static_membership, cases[i].static_membership);
        } else {
            assert_non_null(strstr(errstr, cases[i].err_has));
        }
    }
    clear_env(NULL);
}

static void test_metrics_options(void **state) {
    (void)state;
    setenv("METRICS_PORT", "9464", 1);
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_int_equal(conf.metrics_port, 9464);
    char *argv2[] = { "run", "--metrics-port", "9100", "--metrics-bind", "::1", NULL };
    assert_int_equal(parse(5, argv2), FW_OK); /* the flag wins */
    assert_int_equal(conf.metrics_port, 9100);
    assert_string_equal(conf.metrics_bind, "::1");
    char *argv3[] = { "run", "--metrics-port", "0", NULL };
    assert_int_equal(parse(3, argv3), FW_OK); /* 0 turns the environment's off */
    assert_int_equal(conf.metrics_port, 0);
    setenv("METRICS_PORT", "http", 1);
    assert_int_equal(parse(1, argv), FW_ERR_INVALID);
    assert_non_null(strstr(errstr, "METRICS_PORT"));
    unsetenv("METRICS_PORT");
}

/* --bind is serve's name for --metrics-bind; METRICS_BIND sets it, a flag wins. */
static void test_metrics_bind(void **state) {
    (void)state;
    char *argv[] = { "run", "--bind", "0.0.0.0", NULL };
    assert_int_equal(parse(3, argv), FW_OK);
    assert_string_equal(conf.metrics_bind, "0.0.0.0");
    assert_string_equal(conf.kafka.bootstrap, "localhost:9092"); /* -b is not --bind */
    setenv("METRICS_BIND", "::", 1);
    char *argv1[] = { "run", NULL };
    assert_int_equal(parse(1, argv1), FW_OK);
    assert_string_equal(conf.metrics_bind, "::");
    char *argv2[] = { "run", "--metrics-bind", "10.0.0.1", NULL };
    assert_int_equal(parse(3, argv2), FW_OK);
    assert_string_equal(conf.metrics_bind, "10.0.0.1");
    setenv("METRICS_BIND", "anywhere", 1);
    assert_int_equal(parse(1, argv1), FW_ERR_INVALID);
    assert_non_null(strstr(errstr, "METRICS_BIND"));
    assert_non_null(strstr(errstr, "\"anywhere\""));
}

/* FRAUD_THRESHOLD above 1 is seed 001's amount: taken so, and said so. */
static void test_fraud_threshold_note(void **state) {
    (void)state;
    setenv("FRAUD_THRESHOLD", "1.5", 1);
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_true(conf.pipeline.rules.high_amount.limit == 1.5);
    if (!strstr(conf.env_note, "FRAUD_THRESHOLD=1.5 is above 1, so it is taken as seed 001's "
                               "high_amount limit"))
        fail_msg("note: \"%s\"", conf.env_note);
    char *argv1[] = { "run", "--amount-limit", "7000", NULL };
    assert_int_equal(parse(3, argv1), FW_OK);
    assert_string_equal(conf.env_note, "");
    setenv("FRAUD_THRESHOLD", "0.7", 1);
    assert_int_equal(parse(1, argv), FW_OK);
    assert_string_equal(conf.env_note, "");
    assert_true(conf.pipeline.rules.ml_score.threshold == 0.7);
}

static void test_api_token(void **state) {
    (void)state;
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_null(conf.scorer.remote.token);
    setenv("FW_API_TOKEN", "from-env", 1);
    assert_int_equal(parse(1, argv), FW_OK);
    assert_string_equal(conf.scorer.remote.token, "from-env");
    char *argv1[] = { "run", "--api-token", "from-flag", NULL };
    assert_int_equal(parse(3, argv1), FW_OK);
    assert_string_equal(conf.scorer.remote.token, "from-flag");
    /* A space or a line break would let a token forge headers: refused, unnamed. */
    char *argv2[] = { "run", "--api-token", "se cret\r\nX-Evil: 1", NULL };
    assert_int_equal(parse(3, argv2), FW_ERR_INVALID);
    assert_non_null(strstr(errstr, "--api-token"));
    assert_null(strstr(errstr, "se cret"));
}

static void test_seed_env_names(void **state) {
    (void)state;
    setenv("KAFKA_SOURCE_TOPIC", "src", 1);   /* seed 001 */
    setenv("KAFKA_SINK_TOPIC", "sink", 1);
    setenv("KAFKA_BROKER_ADDRESS", "b1:9092", 1); /* seed 000 */
    setenv("FRAUD_THRESHOLD", "7000", 1);      /* seed 001: an amount */
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_string_equal(conf.input_topic, "src");
    assert_string_equal(conf.output_topic, "sink");
    assert_string_equal(conf.kafka.bootstrap, "b1:9092");
    assert_true(conf.pipeline.rules.high_amount.limit == 7000.0);
    /* The first names win over the second ones. */
    setenv("INPUT_TOPIC", "in", 1);
    setenv("OUTPUT_TOPIC", "out", 1);
    setenv("KAFKA_BOOTSTRAP_SERVERS", "b2:9092", 1);
    assert_int_equal(parse(1, argv), FW_OK);
    assert_string_equal(conf.input_topic, "in");
    assert_string_equal(conf.output_topic, "out");
    assert_string_equal(conf.kafka.bootstrap, "b2:9092");
}

static void test_fraud_threshold_probability_is_not_an_amount(void **state) {
    (void)state;
    setenv("FRAUD_THRESHOLD", "0.8", 1); /* seed 000: a model probability */
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_OK);
    assert_true(conf.pipeline.rules.high_amount.limit == 5000.0);
}

static void test_flags_override_env(void **state) {
    (void)state;
    setenv("INPUT_TOPIC", "env-in", 1);
    setenv("FW_COMMIT_INTERVAL_MS", "250", 1);
    char *argv[] = { "run", "--input-topic", "flag-in", "--amount-limit", "100.5",
                     "-X", "security.protocol=SSL", "--input-format", "semicolon",
                     "--instance-id", "node-7", NULL };
    assert_int_equal(parse(11, argv), FW_OK);
    assert_string_equal(conf.input_topic, "flag-in");
    assert_int_equal(conf.commit_interval_ms, 250);
    assert_true(conf.pipeline.rules.high_amount.limit == 100.5);
    assert_int_equal(conf.pipeline.format, FW_INPUT_SEMICOLON);
    assert_string_equal(conf.instance_id, "node-7");
    assert_int_equal(conf.kafka.nprops, 1);
    assert_string_equal(conf.kafka.props[0][0], "security.protocol");
    assert_string_equal(conf.kafka.props[0][1], "SSL");
}

static void test_file_mode(void **state) {
    (void)state;
    char *argv[] = { "run", "-i", "tx.ndjson", "-o", "alerts.ndjson", "--dlq", "dlq.ndjson",
                     NULL };
    assert_int_equal(parse(7, argv), FW_OK);
    assert_string_equal(conf.input_file, "tx.ndjson");
    assert_string_equal(conf.output_file, "alerts.ndjson");
    assert_string_equal(conf.dlq_file, "dlq.ndjson");
}

/* Each bad command line is rejected with a message naming the option. */
static void test_errors_name_the_option(void **state) {
    (void)state;
    static const struct {
        const char *args[3];
        const char *needle;
    } cases[] = {
        { { "--partitions", "0" }, "--partitions" },
        { { "--partitions", "3x" }, "--partitions" },
        { { "--commit-interval-ms", "-5" }, "--commit-interval-ms" },
        { { "--amount-limit", "abc" }, "--amount-limit" },
        { { "--amount-limit", "-1" }, "--amount-limit" },
        { { "--input-format", "xml" }, "--input-format" },
        { { "--offset-reset", "middle" }, "--offset-reset" },
        { { "--metrics-port", "65536" }, "--metrics-port" },
        { { "--metrics-port", "-1" }, "--metrics-port" },
        { { "--metrics-port", "9x" }, "--metrics-port" },
        { { "--metrics-bind", "localhost" }, "--metrics-bind" },
        { { "--metrics-bind", "300.1.1.1" }, "--metrics-bind" },
        { { "--max-future-skew", "5" }, "--max-future-skew" },
        { { "--max-future-skew", "-5m" }, "--max-future-skew" },
        { { "--max-future-skew", "31d" }, "--max-future-skew" },
        { { "--max-event-time-jump", "soon" }, "--max-event-time-jump" },
        { { "--bind", "localhost" }, "--bind" },
        { { "-X", "novalue" }, "--kafka-config" },
        { { "--no-such-flag" }, "--no-such-flag" },
        { { "--input" }, "--input" },
        { { "stray" }, "stray" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[4] = { "run", (char *)cases[i].args[0], (char *)cases[i].args[1], NULL };
        int argc = cases[i].args[1] ? 3 : 2;
        assert_int_equal(parse(argc, argv), FW_ERR_INVALID);
        if (!strstr(errstr, cases[i].needle))
            fail_msg("case %zu: error \"%s\" does not name \"%s\"", i, errstr,
                     cases[i].needle);
    }
    setenv("FW_PARTITIONS", "many", 1);
    char *argv[] = { "run", NULL };
    assert_int_equal(parse(1, argv), FW_ERR_INVALID);
    assert_non_null(strstr(errstr, "FW_PARTITIONS"));
}

/* Flag over rules file over environment over defaults. */
static void test_rules_file_precedence(void **state) {
    (void)state;
    char path[] = "/tmp/fw-test-rules-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char doc[] = "{\"rules\":[{\"id\":\"high_amount\",\"params\":{\"limit\":9000}},"
                       "{\"id\":\"velocity\",\"enabled\":false}]}";
    assert_int_equal(write(fd, doc, sizeof(doc) - 1), (ssize_t)(sizeof(doc) - 1));
    close(fd);
    setenv("AMOUNT_THRESHOLD", "7000", 1);
    char *argv1[] = { "run", "--rules", path, NULL };
    assert_int_equal(parse(3, argv1), FW_OK);
    assert_true(conf.pipeline.rules.high_amount.limit == 9000.0);
    assert_false(conf.pipeline.rules.common[FW_RULE_VELOCITY].enabled);
    char *argv2[] = { "run", "--amount-limit", "100", "--rules", path, NULL };
    assert_int_equal(parse(5, argv2), FW_OK);
    assert_true(conf.pipeline.rules.high_amount.limit == 100.0);
    /* A file that does not set the limit leaves the environment's. */
    const char doc2[] = "{\"rules\":[{\"id\":\"velocity\",\"enabled\":false}]}";
    FILE *f = fopen(path, "w");
    fputs(doc2, f);
    fclose(f);
    assert_int_equal(parse(3, argv1), FW_OK);
    assert_true(conf.pipeline.rules.high_amount.limit == 7000.0);
    /* A bad file is rejected with its path and the field. */
    f = fopen(path, "w");
    fputs("{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":\"soon\"}}]}", f);
    fclose(f);
    assert_int_equal(parse(3, argv1), FW_ERR_INVALID);
    if (!strstr(errstr, path) || !strstr(errstr, "window"))
        fail_msg("error \"%s\" does not name the file and the field", errstr);
    unlink(path);
}

/* The event-time bounds: defaults, env, rules file, flag, in that order of
 * precedence; 0 and "off" turn a check off. */
static void test_event_time_bounds(void **state) {
    (void)state;
    static const struct {
        const char *env_skew, *file, *flag_skew, *flag_jump;
        int64_t skew, jump;
    } cases[] = {
        { NULL, NULL, NULL, NULL, 300000, 3600000 },
        { "10m", NULL, NULL, NULL, 600000, 3600000 },
        { "off", NULL, NULL, NULL, 0, 3600000 },
        { "10m", "{\"time\":{\"max_future_skew\":\"1m\",\"max_event_time_jump\":\"2h\"}}",
          NULL, NULL, 60000, 7200000 },
        { "10m", "{\"time\":{\"max_future_skew\":\"1m\"}}", "30s", "0", 30000, 0 },
        { NULL, NULL, "1h30m", "off", 5400000, 0 },
    };
    char path[] = "/tmp/fw-test-time-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsetenv("FW_MAX_FUTURE_SKEW");
        if (cases[i].env_skew)
            setenv("FW_MAX_FUTURE_SKEW", cases[i].env_skew, 1);
        char *argv[8] = { "run" };
        int argc = 1;
        if (cases[i].file) {
            FILE *f = fopen(path, "w");
            fputs(cases[i].file, f);
            fclose(f);
            argv[argc++] = "--rules";
            argv[argc++] = path;
        }
        if (cases[i].flag_skew) {
            argv[argc++] = "--max-future-skew";
            argv[argc++] = (char *)cases[i].flag_skew;
        }
        if (cases[i].flag_jump) {
            argv[argc++] = "--max-event-time-jump";
            argv[argc++] = (char *)cases[i].flag_jump;
        }
        if (parse(argc, argv) != FW_OK)
            fail_msg("case %zu: %s", i, errstr);
        if (conf.pipeline.rules.time.max_future_skew_ms != cases[i].skew ||
            conf.pipeline.rules.time.max_event_time_jump_ms != cases[i].jump)
            fail_msg("case %zu: skew %lld jump %lld, expected %lld %lld", i,
                     (long long)conf.pipeline.rules.time.max_future_skew_ms,
                     (long long)conf.pipeline.rules.time.max_event_time_jump_ms,
                     (long long)cases[i].skew, (long long)cases[i].jump);
    }
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_seed_env_names, clear_env),
        cmocka_unit_test_setup(test_fraud_threshold_probability_is_not_an_amount, clear_env),
        cmocka_unit_test_setup(test_flags_override_env, clear_env),
        cmocka_unit_test_setup(test_file_mode, clear_env),
        cmocka_unit_test_setup(test_metrics_options, clear_env),
        cmocka_unit_test_setup(test_group_session, clear_env),
        cmocka_unit_test_setup(test_metrics_bind, clear_env),
        cmocka_unit_test_setup(test_api_token, clear_env),
        cmocka_unit_test_setup(test_fraud_threshold_note, clear_env),
        cmocka_unit_test_setup(test_errors_name_the_option, clear_env),
        cmocka_unit_test_setup(test_rules_file_precedence, clear_env),
        cmocka_unit_test_setup(test_event_time_bounds, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
