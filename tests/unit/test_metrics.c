/* test_metrics.c — `fraudwatch run --metrics-port` (metrics.c): the text
 * exposition of a small snapshot, exactly; label escaping; every line of a
 * full exposition well-formed; counters held when a snapshot goes backwards;
 * the publish interval driven by given times; and the HTTP server on a
 * loopback port picked by the kernel, scraped with libcurl: /metrics,
 * /health, 404, 405, HEAD, keep-alive, a port in use, and scrapes racing
 * publishes (each scrape one consistent snapshot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fw_skip.h"
#include "metrics.h"

/* ---- helpers --------------------------------------------------------------------- */

static void assert_text(const char *got, const char *want) {
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        size_t from = i > 60 ? i - 60 : 0;
        fail_msg("output differs at byte %zu:\n got: ...%.120s\nwant: ...%.120s", i, got + from,
                 want + from);
    }
}

static char *format(const fw_metrics_conf *c, const fw_metrics_snapshot *s) {
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_metrics_format(&b, c, s));
    assert_true(fw_buf_putc(&b, '\0'));
    return b.data; /* freed by the caller */
}

/* The value of the first sample line starting with @p series (name and
 * labels, as written); fails the test when there is none. */
static uint64_t value_of(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        if (!strncmp(line, series, n) && line[n] == ' ') {
            char *end;
            uint64_t v = strtoull(line + n + 1, &end, 10);
            if (*end != '\n' && *end != '\0')
                fail_msg("%s: not an integer value", series);
            return v;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    fail_msg("no series %s in:\n%s", series, text);
    return 0;
}

/* ---- the text format ------------------------------------------------------------- */

static const char small_want[] =
    "# HELP fraudwatch_info This fraudwatch run: its mode and instance id.\n"
    "# TYPE fraudwatch_info gauge\n"
    "fraudwatch_info{mode=\"file\",instance_id=\"node-1\"} 1\n"
    "# HELP fraudwatch_start_time_seconds Start time of the process since the Unix epoch in "
    "seconds.\n"
    "# TYPE fraudwatch_start_time_seconds gauge\n"
    "fraudwatch_start_time_seconds 1700000000.250\n"
    "# HELP fraudwatch_transactions_read_total Input records read, dead letters included.\n"
    "# TYPE fraudwatch_transactions_read_total counter\n"
    "fraudwatch_transactions_read_total 1000\n"
    "# HELP fraudwatch_alerts_total Alerts raised, by rule.\n"
    "# TYPE fraudwatch_alerts_total counter\n"
    "fraudwatch_alerts_total{rule=\"high_amount\"} 7\n"
    "fraudwatch_alerts_total{rule=\"velocity\"} 0\n"
    "fraudwatch_alerts_total{rule=\"small_then_large\"} 0\n"
    "fraudwatch_alerts_total{rule=\"rapid_small\"} 0\n"
    "fraudwatch_alerts_total{rule=\"location_jump\"} 0\n"
    "fraudwatch_alerts_total{rule=\"account_takeover\"} 0\n"
    "fraudwatch_alerts_total{rule=\"structuring\"} 2\n"
    "fraudwatch_alerts_total{rule=\"risk_score\"} 0\n"
    "fraudwatch_alerts_total{rule=\"fan_in\"} 0\n"
    "fraudwatch_alerts_total{rule=\"fan_out\"} 0\n"
    "fraudwatch_alerts_total{rule=\"cycle\"} 0\n"
    "fraudwatch_alerts_total{rule=\"mule_cashout\"} 0\n"
    "fraudwatch_alerts_total{rule=\"ml_score\"} 0\n"
    "# HELP fraudwatch_alerts_deduplicated_total Alerts folded into an earlier one of the "
    "same rule and entity, by rule.\n"
    "# TYPE fraudwatch_alerts_deduplicated_total counter\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"high_amount\"} 3\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"velocity\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"small_then_large\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"rapid_small\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"location_jump\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"account_takeover\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"structuring\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"risk_score\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"fan_in\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"fan_out\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"cycle\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"mule_cashout\"} 0\n"
    "fraudwatch_alerts_deduplicated_total{rule=\"ml_score\"} 0\n"
    "# HELP fraudwatch_dead_letters_total Records that could not be decoded or were refused "
    "(event time too far ahead, duplicate transaction id).\n"
    "# TYPE fraudwatch_dead_letters_total counter\n"
    "fraudwatch_dead_letters_total 4\n"
    "# HELP fraudwatch_late_records_total Records later than the allowed lateness, not "
    "applied.\n"
    "# TYPE fraudwatch_late_records_total counter\n"
    "fraudwatch_late_records_total 5\n"
    "# HELP fraudwatch_behind_watermark_total Records behind the watermark but within the "
    "allowed lateness.\n"
    "# TYPE fraudwatch_behind_watermark_total counter\n"
    "fraudwatch_behind_watermark_total 6\n"
    "# HELP fraudwatch_duplicates_total Transactions whose id was seen before: dead letters, "
    "not applied.\n"
    "# TYPE fraudwatch_duplicates_total counter\n"
    "fraudwatch_duplicates_total 0\n"
    "# HELP fraudwatch_over_limit_total Events or entities refused or released early because "
    "a configured limit was reached, by limit.\n"
    "# TYPE fraudwatch_over_limit_total counter\n"
    "fraudwatch_over_limit_total{limit=\"entities\"} 1\n"
    "fraudwatch_over_limit_total{limit=\"window_events\"} 0\n"
    "fraudwatch_over_limit_total{limit=\"reorder_buffer\"} 0\n"
    "fraudwatch_over_limit_total{limit=\"entity_id_length\"} 9\n"
    "fraudwatch_over_limit_total{limit=\"transfers_weighed\"} 0\n"
    "fraudwatch_over_limit_total{limit=\"transaction_ids\"} 0\n"
    "fraudwatch_over_limit_total{limit=\"memory\"} 0\n"
    "# HELP fraudwatch_entities Entities in keyed state now.\n"
    "# TYPE fraudwatch_entities gauge\n"
    "fraudwatch_entities 321\n"
    "# HELP fraudwatch_watermark_seconds Event-time watermark (the lowest of the assigned "
    "partitions' in Kafka mode) since the Unix epoch in seconds.\n"
    "# TYPE fraudwatch_watermark_seconds gauge\n"
    "fraudwatch_watermark_seconds 1704067200.123\n";

static void small_snapshot(fw_metrics_snapshot *s) {
    fw_metrics_snapshot_init(s);
    s->transactions = 1000;
    s->alerts[FW_RULE_HIGH_AMOUNT] = 7;
    s->alerts[FW_RULE_STRUCTURING] = 2;
    s->deduplicated[FW_RULE_HIGH_AMOUNT] = 3;
    s->dead_letters = 4;
    s->late = 5;
    s->behind_watermark = 6;
    s->over_limit[FW_LIMIT_ENTITIES] = 1;
    s->over_limit[FW_LIMIT_ENTITY_ID] = 9;
    s->entities = 321;
    s->watermark_ms = 1704067200123; /* 2024-01-01T00:00:00.123Z */
    /* Not shown in file mode without ml_score: */
    s->commits = 11;
    s->ml_scored = 12;
}

static void test_format_file_mode_exact(void **state) {
    (void)state;
    assert_int_equal(FW_RULE__COUNT, 13); /* the expected text lists 13 rules */
    fw_metrics_conf c = { .instance_id = "node-1", .start_time_s = 1700000000.25 };
    fw_metrics_snapshot s;
    small_snapshot(&s);
    char *got = format(&c, &s);
    assert_text(got, small_want);
    free(got);

    /* No watermark yet: no series, rather than a made-up value. */
    s.watermark_ms = INT64_MIN;
    got = format(&c, &s);
    assert_null(strstr(got, "watermark_seconds"));
    free(got);
}

static const char kafka_ml_tail[] =
    "# HELP fraudwatch_kafka_transactions_committed_total Kafka transactions committed.\n"
    "# TYPE fraudwatch_kafka_transactions_committed_total counter\n"
    "fraudwatch_kafka_transactions_committed_total 11\n"
    "# HELP fraudwatch_kafka_transactions_aborted_total Kafka transactions aborted (their "
    "input is read again).\n"
    "# TYPE fraudwatch_kafka_transactions_aborted_total counter\n"
    "fraudwatch_kafka_transactions_aborted_total 1\n"
    "# HELP fraudwatch_changelog_records_total State changelog records produced.\n"
    "# TYPE fraudwatch_changelog_records_total counter\n"
    "fraudwatch_changelog_records_total 250\n"
    "# HELP fraudwatch_input_key_mismatch_total Input records whose Kafka key is not their "
    "account_id (or that have none).\n"
    "# TYPE fraudwatch_input_key_mismatch_total counter\n"
    "fraudwatch_input_key_mismatch_total 4\n"
    "# HELP fraudwatch_input_repartitioned_total Input records not on their account's "
    "partition (no key, another key, another partitioner), sent there through "
    "GROUP-repartition-account_id.\n"
    "# TYPE fraudwatch_input_repartitioned_total counter\n"
    "fraudwatch_input_repartitioned_total 2\n"
    "# HELP fraudwatch_alert_latency_seconds From an alert's event time to the engine "
    "producing it. On live traffic event time is about when the input was sent: ordered "
    "rules show their wait for the watermark here.\n"
    "# TYPE fraudwatch_alert_latency_seconds histogram\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.005\"} 2\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.01\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.025\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.05\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.1\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.25\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"0.5\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"1\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"2.5\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"5\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"10\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"15\"} 3\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"30\"} 4\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"60\"} 4\n"
    "fraudwatch_alert_latency_seconds_bucket{le=\"+Inf\"} 5\n"
    "fraudwatch_alert_latency_seconds_sum 110.010\n"
    "fraudwatch_alert_latency_seconds_count 5\n"
    "# HELP fraudwatch_processing_latency_seconds From the Kafka timestamp of the input "
    "record whose processing raised an alert (its append time on a LogAppendTime topic, its "
    "producer's send time otherwise; carried through the stage topics) to the engine "
    "producing it.\n"
    "# TYPE fraudwatch_processing_latency_seconds histogram\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.005\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.01\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.025\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.05\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.1\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.25\"} 1\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"0.5\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"1\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"2.5\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"5\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"10\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"15\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"30\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"60\"} 2\n"
    "fraudwatch_processing_latency_seconds_bucket{le=\"+Inf\"} 2\n"
    "fraudwatch_processing_latency_seconds_sum 0.304\n"
    "fraudwatch_processing_latency_seconds_count 2\n"
    "# HELP fraudwatch_commit_seconds How long each Kafka transaction took to commit (its "
    "changelog, offsets and commit): no record is processed meanwhile, so it bounds latency.\n"
    "# TYPE fraudwatch_commit_seconds histogram\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.005\"} 0\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.01\"} 1\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.025\"} 2\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.05\"} 2\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.1\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.25\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"0.5\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"1\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"2.5\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"5\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"10\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"15\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"30\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"60\"} 3\n"
    "fraudwatch_commit_seconds_bucket{le=\"+Inf\"} 3\n"
    "fraudwatch_commit_seconds_sum 0.090\n"
    "fraudwatch_commit_seconds_count 3\n"
    "# HELP fraudwatch_restore_seconds How long each restore of newly assigned partitions' "
    "state from their changelogs took: their records wait meanwhile.\n"
    "# TYPE fraudwatch_restore_seconds histogram\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.005\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.01\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.025\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.05\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.1\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.25\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"0.5\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"1\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"2.5\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"5\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"10\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"15\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"30\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"60\"} 0\n"
    "fraudwatch_restore_seconds_bucket{le=\"+Inf\"} 0\n"
    "fraudwatch_restore_seconds_sum 0.000\n"
    "fraudwatch_restore_seconds_count 0\n"
    "# HELP fraudwatch_restoring_partitions Partitions whose state is being restored from "
    "their changelogs now.\n"
    "# TYPE fraudwatch_restoring_partitions gauge\n"
    "fraudwatch_restoring_partitions 2\n"
    "# HELP fraudwatch_restore_in_progress_seconds How long the restore running now has run "
    "(0: none).\n"
    "# TYPE fraudwatch_restore_in_progress_seconds gauge\n"
    "fraudwatch_restore_in_progress_seconds 1.500\n"
    "# HELP fraudwatch_rebalances_total Rebalances this instance took part in, by what they "
    "did to it: partitions assigned, revoked, or lost (its session timed out).\n"
    "# TYPE fraudwatch_rebalances_total counter\n"
    "fraudwatch_rebalances_total{kind=\"assigned\"} 0\n"
    "fraudwatch_rebalances_total{kind=\"revoked\"} 0\n"
    "fraudwatch_rebalances_total{kind=\"lost\"} 0\n"
    "# HELP fraudwatch_assigned_partitions Input partitions assigned to this instance now.\n"
    "# TYPE fraudwatch_assigned_partitions gauge\n"
    "fraudwatch_assigned_partitions 3\n"
    "# HELP fraudwatch_ml_scored_transactions_total Transactions scored by the ml_score "
    "model.\n"
    "# TYPE fraudwatch_ml_scored_transactions_total counter\n"
    "fraudwatch_ml_scored_transactions_total 12\n"
    "# HELP fraudwatch_ml_unscored_transactions_total Transactions ml_score could not score "
    "(scoring failed, no model).\n"
    "# TYPE fraudwatch_ml_unscored_transactions_total counter\n"
    "fraudwatch_ml_unscored_transactions_total 13\n"
    "# HELP fraudwatch_ml_batches_total ml_score batches scored or failed.\n"
    "# TYPE fraudwatch_ml_batches_total counter\n"
    "fraudwatch_ml_batches_total 14\n"
    "# HELP fraudwatch_ml_failed_batches_total ml_score batches that failed.\n"
    "# TYPE fraudwatch_ml_failed_batches_total counter\n"
    "fraudwatch_ml_failed_batches_total 1\n"
    "# HELP fraudwatch_ml_remote_retries_total --api-endpoint: HTTP attempts after a failed "
    "one.\n"
    "# TYPE fraudwatch_ml_remote_retries_total counter\n"
    "fraudwatch_ml_remote_retries_total 0\n"
    "# HELP fraudwatch_ml_remote_timeouts_total --api-endpoint: HTTP attempts that timed out.\n"
    "# TYPE fraudwatch_ml_remote_timeouts_total counter\n"
    "fraudwatch_ml_remote_timeouts_total 0\n"
    "# HELP fraudwatch_ml_model_reloads_total Reloads of a changed model file, by result (a "
    "failed one keeps the old model).\n"
    "# TYPE fraudwatch_ml_model_reloads_total counter\n"
    "fraudwatch_ml_model_reloads_total{result=\"ok\"} 2\n"
    "fraudwatch_ml_model_reloads_total{result=\"failed\"} 3\n";

static void test_format_kafka_and_ml(void **state) {
    (void)state;
    fw_metrics_conf c = { .kafka = true, .ml = true, .instance_id = "node-1",
                          .start_time_s = 1700000000.25 };
    fw_metrics_snapshot s;
    small_snapshot(&s);
    s.aborts = 1;
    s.changelog_records = 250;
    s.key_mismatch = 4;
    s.rekeyed = 2;
    s.assigned_partitions = 3;
    s.ml_unscored = 13;
    s.ml_batches = 14;
    s.ml_failed_batches = 1;
    s.model_reloads = 2;
    s.model_reload_failures = 3;
    /* A future event time counts as 0; over a minute goes to +Inf. */
    const int64_t latencies_ms[] = { -5, 3, 7, 20000, 90000 };
    for (size_t i = 0; i < sizeof(latencies_ms) / sizeof(latencies_ms[0]); i++)
        fw_latency_observe(&s.alert_latency, latencies_ms[i]);
    fw_latency_observe(&s.commit_time, 8);
    fw_latency_observe(&s.commit_time, 12);
    fw_latency_observe(&s.commit_time, 70);
    fw_latency_observe(&s.processing_latency, 4);
    fw_latency_observe(&s.processing_latency, 300);
    s.restoring_partitions = 2;
    s.restore_running_ms = 1500;
    char *got = format(&c, &s);
    /* The file-mode text with mode="kafka", then the Kafka and model parts. */
    fw_buf want;
    fw_buf_init(&want, 0);
    const char *file = strstr(small_want, "mode=\"file\"");
    assert_non_null(file);
    fw_buf_append(&want, small_want, (size_t)(file - small_want));
    fw_buf_puts(&want, "mode=\"kafka\"");
    fw_buf_puts(&want, file + strlen("mode=\"file\""));
    fw_buf_puts(&want, kafka_ml_tail);
    fw_buf_putc(&want, '\0');
    assert_text(got, want.data);
    fw_buf_fini(&want);
    free(got);
}

/* Live rules: one info series per rule with its version, enabled and shadow,
 * and the updates by result; absent when rules are not followed. */
static void test_format_rules(void **state) {
    (void)state;
    fw_metrics_conf c = { .kafka = true, .instance_id = "node-1" };
    fw_metrics_snapshot s;
    small_snapshot(&s);
    char *got = format(&c, &s);
    if (strstr(got, "fraudwatch_rule_"))
        fail_msg("rule series without rules_known: %s", strstr(got, "fraudwatch_rule_"));
    free(got);
    fw_rules r;
    fw_rules_defaults(&r);
    r.common[FW_RULE_VELOCITY].version = 3;
    r.common[FW_RULE_CYCLE].shadow = true;
    r.common[FW_RULE_ML_SCORE].enabled = false;
    s.rules_known = true;
    memcpy(s.rules, r.common, sizeof(s.rules));
    s.rule_updates[FW_RULE_UPDATE_ACCEPTED] = 4;
    s.rule_updates[FW_RULE_UPDATE_REJECTED] = 1;
    got = format(&c, &s);
    static const struct {
        const char *series;
        uint64_t v;
    } want[] = {
        { "fraudwatch_rule_info{rule=\"velocity\",version=\"3\",enabled=\"1\",shadow=\"0\"}", 1 },
        { "fraudwatch_rule_info{rule=\"cycle\",version=\"1\",enabled=\"1\",shadow=\"1\"}", 1 },
        { "fraudwatch_rule_info{rule=\"ml_score\",version=\"1\",enabled=\"0\",shadow=\"0\"}", 1 },
        { "fraudwatch_rule_updates_total{result=\"accepted\"}", 4 },
        { "fraudwatch_rule_updates_total{result=\"rejected\"}", 1 },
        { "fraudwatch_rule_updates_total{result=\"deleted\"}", 0 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t v = value_of(got, want[i].series);
        if (v != want[i].v)
            fail_msg("%s: expected %llu, got %llu", want[i].series,
                     (unsigned long long)want[i].v, (unsigned long long)v);
    }
    free(got);
    /* A language rule under a built-in's id runs instead of it: one series,
     * the language rule's, so no two series share a label set. */
    s.nlang_rules = 2;
    snprintf(s.lang_rule_id[0], sizeof(s.lang_rule_id[0]), "velocity");
    s.lang_rules[0] = (fw_rule_common){ .enabled = true, .version = 7 };
    snprintf(s.lang_rule_id[1], sizeof(s.lang_rule_id[1]), "crypto_merchants");
    s.lang_rules[1] = (fw_rule_common){ .enabled = true, .version = 2 };
    got = format(&c, &s);
    size_t nvel = 0;
    for (const char *p = got; (p = strstr(p, "fraudwatch_rule_info{rule=\"velocity\"")); p++)
        nvel++;
    if (nvel != 1 ||
        value_of(got, "fraudwatch_rule_info{rule=\"velocity\",version=\"7\",enabled=\"1\","
                      "shadow=\"0\"}") != 1 ||
        value_of(got, "fraudwatch_rule_info{rule=\"crypto_merchants\",version=\"2\","
                      "enabled=\"1\",shadow=\"0\"}") != 1)
        fail_msg("%zu velocity series (want 1, the language rule's version 7):\n%s", nvel, got);
    free(got);
}

static void escaped(const char *in, const char *want) {
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_metrics_label_escape(&b, in));
    fw_buf_putc(&b, '\0');
    if (strcmp(b.data ? b.data : "", want))
        fail_msg("escape(\"%s\") gave \"%s\", expected \"%s\"", in, b.data, want);
    fw_buf_fini(&b);
}

static void test_label_escaping(void **state) {
    (void)state;
    escaped("plain-id_1.2", "plain-id_1.2");
    escaped("a\"b", "a\\\"b");
    escaped("back\\slash", "back\\\\slash");
    escaped("two\nlines", "two\\nlines");
    escaped("\\\"\n", "\\\\\\\"\\n");
    escaped("tab\there", "tab\there"); /* only \, " and line feed are escaped */
    escaped("caf\xc3\xa9", "caf\xc3\xa9");  /* valid UTF-8 kept */
    escaped("bad\xff\xc3", "bad??");        /* invalid UTF-8: bytes above 0x7f as '?' */
    escaped("", "");

    /* Through the exposition: the one user-supplied label value. */
    fw_metrics_conf c = { .instance_id = "node \"7\"\\a\nb" };
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    char *got = format(&c, &s);
    assert_non_null(strstr(got, "\nfraudwatch_info{mode=\"file\",instance_id="
                                "\"node \\\"7\\\"\\\\a\\nb\"} 1\n"));
    free(got);
}

static bool metric_name(const char *s, size_t n) {
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* Every line of a full exposition is a # HELP, a # TYPE or a sample of the
 * family last typed (a histogram's: _bucket with le, _sum, _count); each
 * family once, its HELP then TYPE first; counters end in _total; every name
 * has the fraudwatch_ prefix. */
static void test_every_line_well_formed(void **state) {
    (void)state;
    fw_metrics_conf c = { .kafka = true, .ml = true, .instance_id = "x" };
    fw_metrics_snapshot s;
    small_snapshot(&s);
    s.scrape_wall_ms = s.watermark_ms + 2500; /* the event-time lag too */
    char *text = format(&c, &s);
    assert_true(text[strlen(text) - 1] == '\n');
    char family[128] = "", seen[4096] = " ";
    bool helped = false, typed = false, histogram = false;
    int families = 0, samples = 0;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (!strncmp(line, "# HELP ", 7)) {
            const char *name = line + 7, *sp = strchr(name, ' ');
            assert_non_null(sp);
            assert_true(metric_name(name, (size_t)(sp - name)));
            assert_true(sp[1] != '\0'); /* some help text */
            snprintf(family, sizeof(family), "%.*s", (int)(sp - name), name);
            char key[140];
            snprintf(key, sizeof(key), " %s ", family);
            if (strstr(seen, key))
                fail_msg("family %s twice", family);
            strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
            if (strncmp(family, "fraudwatch_", 11))
                fail_msg("%s lacks the fraudwatch_ prefix", family);
            helped = true;
            typed = false;
            families++;
        } else if (!strncmp(line, "# TYPE ", 7)) {
            size_t n = strlen(family);
            assert_true(helped && !typed);
            assert_true(!strncmp(line + 7, family, n) && line[7 + n] == ' ');
            const char *type = line + 8 + n;
            if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram"))
                fail_msg("%s: type %s", family, type);
            histogram = !strcmp(type, "histogram");
            bool total = n > 6 && !strcmp(family + n - 6, "_total");
            if (!strcmp(type, "counter") != total)
                fail_msg("%s: a counter name ends in _total, and only a counter's", family);
            typed = true;
        } else {
            size_t n = strlen(family);
            assert_true(typed);
            if (strncmp(line, family, n))
                fail_msg("sample \"%s\" outside its family %s", line, family);
            if (histogram) {
                const char *sfx = line + n;
                size_t k = !strncmp(sfx, "_bucket{le=\"", 12) ? 7
                           : !strncmp(sfx, "_sum ", 5)         ? 4
                           : !strncmp(sfx, "_count ", 7)       ? 6
                                                               : 0;
                if (!k)
                    fail_msg("histogram sample \"%s\": not _bucket{le=...}, _sum or _count",
                             line);
                n += k;
            }
            if (line[n] != ' ' && line[n] != '{')
                fail_msg("sample \"%s\" outside its family %s", line, family);
            const char *v = line[n] == '{' ? strstr(line, "} ") : line + n;
            assert_non_null(v);
            v += v[0] == '}' ? 2 : 1;
            char *end;
            strtod(v, &end);
            if (end == v || *end)
                fail_msg("sample \"%s\": bad value", line);
            samples++;
        }
    }
    assert_int_equal(families, 33);
    assert_int_equal(samples, 2 + 1 + 2 * FW_RULE__COUNT + 4 + FW_LIMIT__COUNT + 3 + 5 + 4 + 3 +
                                  4 * (FW_METRICS_LATENCY_BUCKETS + 2) + 2 + 3 + 2);
    free(text);
}

/* ---- publishing ----------------------------------------------------------------- */

static fw_metrics *start(const fw_metrics_conf *c) {
    char err[256] = "";
    fw_metrics *m = fw_metrics_new(c, err, sizeof(err));
    if (!m)
        fail_msg("fw_metrics_new: %s", err);
    assert_true(fw_metrics_port(m) > 0);
    return m;
}

static const fw_metrics_conf loopback = { .bind = "127.0.0.1", .port = 0, .kafka = true,
                                          .instance_id = "t", .start_time_s = 1.5 };

typedef struct http {
    long status;
    char content_type[128];
    char allow[64];
    fw_buf body;
    long connects; /* new connections this request opened */
} http;

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
    fw_buf_append(opaque, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque) {
    http *h = opaque;
    size_t len = size * n;
    if (len > 7 && !strncasecmp(p, "Allow: ", 7))
        snprintf(h->allow, sizeof(h->allow), "%.*s", (int)(len - 7), p + 7);
    char *cr = strpbrk(h->allow, "\r\n");
    if (cr)
        *cr = '\0';
    return len;
}

/* One request with @p curl (reused: keep-alive); @p method NULL is GET. */
static void request(CURL *curl, int port, const char *method, const char *path, http *h) {
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    memset(h, 0, sizeof(*h));
    fw_buf_init(&h->body, 0);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &h->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(curl, CURLOPT_NOBODY, method && !strcmp(method, "HEAD") ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                     method && strcmp(method, "HEAD") ? method : NULL);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method ? method : "GET", path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &h->status);
    char *ct = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(h->content_type, sizeof(h->content_type), "%s", ct ? ct : "");
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &h->connects);
    fw_buf_putc(&h->body, '\0');
}

static char *scrape(int port) {
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    http h;
    request(curl, port, NULL, "/metrics", &h);
    curl_easy_cleanup(curl);
    assert_int_equal(h.status, 200);
    return h.body.data;
}

/* Time is given, never waited for: due before the first publish, then once
 * FW_METRICS_PUBLISH_MS have passed since the last one. */
static void test_publish_interval(void **state) {
    (void)state;
    assert_false(fw_metrics_due(NULL, 0));
    fw_metrics_publish(NULL, NULL, 0); /* a no-op without a server */
    fw_metrics *m = start(&loopback);
    assert_true(fw_metrics_due(m, 5000));
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    fw_metrics_publish(m, &s, 5000);
    assert_false(fw_metrics_due(m, 5000));
    assert_false(fw_metrics_due(m, 5000 + FW_METRICS_PUBLISH_MS - 1));
    assert_true(fw_metrics_due(m, 5000 + FW_METRICS_PUBLISH_MS));
    fw_metrics_publish(m, &s, 5150);
    assert_false(fw_metrics_due(m, 5200));
    assert_true(fw_metrics_due(m, 5250));
    fw_metrics_destroy(m);
    fw_metrics_destroy(NULL);
}

/* An aborted transaction rolls an engine back: its counters go down until the
 * replay catches up. Scrapes never see a counter go down; gauges follow. */
static void test_counters_never_go_down(void **state) {
    (void)state;
    fw_metrics *m = start(&loopback);
    int port = fw_metrics_port(m);
    char *text = scrape(port); /* before any publish: zeros, no watermark */
    assert_int_equal(value_of(text, "fraudwatch_transactions_read_total"), 0);
    assert_null(strstr(text, "fraudwatch_watermark_seconds"));
    free(text);

    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    s.transactions = 100;
    s.alerts[FW_RULE_VELOCITY] = 5;
    s.over_limit[FW_LIMIT_WINDOW_EVENTS] = 2;
    s.commits = 3;
    s.entities = 50;
    s.assigned_partitions = 3;
    s.watermark_ms = 2000;
    fw_metrics_publish(m, &s, 0);
    s.alerts[FW_RULE_VELOCITY] = 4; /* rolled back */
    s.over_limit[FW_LIMIT_WINDOW_EVENTS] = 1;
    s.transactions = 120;
    s.entities = 20;                /* a gauge: may go down */
    s.assigned_partitions = 1;
    s.watermark_ms = 1500;
    fw_metrics_publish(m, &s, 100);
    text = scrape(port);
    assert_int_equal(value_of(text, "fraudwatch_transactions_read_total"), 120);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"velocity\"}"), 5);
    assert_int_equal(value_of(text, "fraudwatch_over_limit_total{limit=\"window_events\"}"), 2);
    assert_int_equal(value_of(text, "fraudwatch_kafka_transactions_committed_total"), 3);
    assert_int_equal(value_of(text, "fraudwatch_entities"), 20);
    assert_int_equal(value_of(text, "fraudwatch_assigned_partitions"), 1);
    assert_non_null(strstr(text, "\nfraudwatch_watermark_seconds 1.500\n"));
    free(text);
    s.alerts[FW_RULE_VELOCITY] = 7; /* the replay passed it */
    fw_metrics_publish(m, &s, 200);
    text = scrape(port);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"velocity\"}"), 7);
    free(text);
    fw_metrics_destroy(m);
}

/* The runner's histograms and the consumer lag reach /metrics as published
 * (the histograms once stayed at zero: publish did not copy them). */
static int64_t fake_wall;
static int64_t fake_wall_clock(void) { return fake_wall; }

static void test_published_histograms_and_lag(void **state) {
    (void)state;
    fw_metrics_conf c = loopback;
    c.wall_clock_ms = fake_wall_clock;
    fake_wall = 1704067260000;
    fw_metrics *m = start(&c);
    int port = fw_metrics_port(m);
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    fw_latency_observe(&s.alert_latency, 3);
    fw_latency_observe(&s.alert_latency, 40);
    fw_latency_observe(&s.commit_time, 20);
    fw_latency_observe(&s.processing_latency, 700);
    s.watermark_ms = 1704067200000; /* a minute behind the wall clock */
    s.nlag = 2;
    s.lag[0].partition = 0;
    s.lag[0].records = 12;
    s.lag[1].partition = 5;
    s.lag[1].records = 0;
    fw_metrics_publish(m, &s, 0);
    char *text = scrape(port);
    assert_int_equal(value_of(text, "fraudwatch_alert_latency_seconds_count"), 2);
    assert_int_equal(value_of(text, "fraudwatch_alert_latency_seconds_bucket{le=\"0.005\"}"), 1);
    assert_int_equal(value_of(text, "fraudwatch_commit_seconds_count"), 1);
    assert_int_equal(value_of(text, "fraudwatch_consumer_lag_records{partition=\"0\"}"), 12);
    assert_int_equal(value_of(text, "fraudwatch_consumer_lag_records{partition=\"5\"}"), 0);
    assert_int_equal(value_of(text, "fraudwatch_processing_latency_seconds_bucket{le=\"0.5\"}"),
                     0);
    assert_int_equal(value_of(text, "fraudwatch_processing_latency_seconds_bucket{le=\"1\"}"),
                     1);
    assert_non_null(strstr(text, "\nfraudwatch_event_time_lag_seconds 60.000\n"));
    assert_int_equal(value_of(text, "fraudwatch_restoring_partitions"), 0);
    free(text);
    /* The wall clock is read at the scrape: the lag grows while the watermark stands. */
    fake_wall += 4500;
    text = scrape(port);
    assert_non_null(strstr(text, "\nfraudwatch_event_time_lag_seconds 64.500\n"));
    free(text);
    /* A restore reports progress: the gauges show it without a publish. */
    fw_metrics_restoring(m, 3, 2250, "restoring the state of 3 partitions");
    text = scrape(port);
    assert_int_equal(value_of(text, "fraudwatch_restoring_partitions"), 3);
    assert_non_null(strstr(text, "\nfraudwatch_restore_in_progress_seconds 2.250\n"));
    free(text);
    s.nlag = 1; /* partition 5 given up */
    fw_metrics_publish(m, &s, 100);
    text = scrape(port);
    assert_null(strstr(text, "partition=\"5\""));
    free(text);
    fw_metrics_destroy(m);
}

/* /health and /ready with a fed clock: ok while the loop publishes, 503
 * "stalled" once it has not for longer than the limit, 503 "failed" with the
 * reason after a fatal error; /ready 503 with why until the runner says ready. */
static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static void probe_is(CURL *curl, int port, const char *path, long status, const char *body) {
    http h;
    request(curl, port, NULL, path, &h);
    if (h.status != status || strcmp(h.body.data ? h.body.data : "", body))
        fail_msg("%s: %ld \"%s\", expected %ld \"%s\"", path, h.status,
                 h.body.data ? h.body.data : "", status, body);
    fw_buf_fini(&h.body);
}

static void test_health_and_ready(void **state) {
    (void)state;
    fw_metrics_conf c = loopback;
    c.health_timeout_ms = 5000;
    c.clock_ms = fake_clock;
    fake_now = 1000;
    fw_metrics *m = start(&c);
    int port = fw_metrics_port(m);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    probe_is(curl, port, "/health", 200, "ok"); /* nothing published yet: not stalled */
    probe_is(curl, port, "/ready", 503, "not ready: starting\n");
    fw_metrics_set_ready(m, false, "joining the consumer group");
    probe_is(curl, port, "/ready", 503, "not ready: joining the consumer group\n");
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    fw_metrics_publish(m, &s, 0);
    fw_metrics_set_ready(m, true, NULL);
    probe_is(curl, port, "/ready", 200, "ready");
    fake_now = 6000; /* 5,000 ms since the loop turned: still within the limit */
    probe_is(curl, port, "/health", 200, "ok");
    fake_now = 6001;
    probe_is(curl, port, "/health", 503,
             "stalled: the processing loop has not turned for 5001 ms "
             "(--health-timeout-ms 5000)\n");
    probe_is(curl, port, "/ready", 200, "ready"); /* readiness is the runner's word */
    fw_metrics_publish(m, &s, 100);            /* it turns again */
    probe_is(curl, port, "/health", 200, "ok");
    /* A long restore reports progress: alive, and not ready until it ends. */
    fake_now = 20000;
    fw_metrics_restoring(m, 2, 14000, "restoring the state of 2 partitions: 9 records");
    fake_now = 24000;
    probe_is(curl, port, "/health", 200, "ok");
    probe_is(curl, port, "/ready", 503,
             "not ready: restoring the state of 2 partitions: 9 records\n");
    fake_now = 25001;
    probe_is(curl, port, "/health", 503,
             "stalled: the processing loop has not turned for 5001 ms "
             "(--health-timeout-ms 5000)\n");
    fw_metrics_publish(m, &s, 200);
    fw_metrics_set_ready(m, true, NULL);
    probe_is(curl, port, "/ready", 200, "ready");
    fw_metrics_set_failed(m, "transactional producer fenced: another instance took over");
    probe_is(curl, port, "/health", 503,
             "failed: transactional producer fenced: another instance took over\n");
    probe_is(curl, port, "/ready", 503,
             "failed: transactional producer fenced: another instance took over\n");
    fw_metrics_set_failed(m, "stopped on error: 12 records read"); /* an effect, not the cause */
    probe_is(curl, port, "/health", 503,
             "failed: transactional producer fenced: another instance took over\n");
    curl_easy_cleanup(curl);
    fw_metrics_destroy(m);
}

/* ---- the Kafka runner's tally ------------------------------------------------------ */

/* Alerts emitted in transactions that commit or abort, in the order of a run
 * with aborts and a rebalance. After each step the per-rule counts, their sum
 * and what a snapshot publishes are those of the committed transactions. */
typedef struct tally_step {
    const char *what;
    int velocity, high_amount, dead_letters, mismatches; /* emitted in the open transaction */
    bool commit;                                         /* else abort */
    uint64_t want_velocity, want_high_amount, want_total, want_rolled_back;
    uint64_t want_dead_letters, want_mismatches;
} tally_step;

static const tally_step tally_steps[] = {
    { "first commit", 3, 2, 1, 1, true, 3, 2, 5, 0, 1, 1 },
    { "abort (SIGSTOP past the timeout)", 4, 1, 1, 2, false, 3, 2, 5, 5, 1, 1 },
    { "the replay commits", 4, 1, 1, 2, true, 7, 3, 10, 5, 2, 3 },
    { "nothing in the transaction", 0, 0, 0, 0, true, 7, 3, 10, 5, 2, 3 },
    { "abort (partitions lost)", 0, 6, 0, 0, false, 7, 3, 10, 11, 2, 3 },
    { "abort again", 1, 0, 0, 1, false, 7, 3, 10, 12, 2, 3 },
    { "commit on revoke", 2, 6, 0, 1, true, 9, 9, 18, 12, 2, 4 },
};

static void test_tally(void **state) {
    (void)state;
    fw_tally t;
    memset(&t, 0, sizeof(t));
    for (size_t i = 0; i < sizeof(tally_steps) / sizeof(tally_steps[0]); i++) {
        const tally_step *c = &tally_steps[i];
        t.open.alerts[FW_RULE_VELOCITY] += (uint64_t)c->velocity;
        t.open.alerts[FW_RULE_HIGH_AMOUNT] += (uint64_t)c->high_amount;
        t.open.dead_letters += (uint64_t)c->dead_letters;
        t.open.key_mismatch += (uint64_t)c->mismatches;
        if (c->commit)
            fw_tally_commit(&t);
        else
            fw_tally_abort(&t);
        print_message("step %zu: %s\n", i, c->what);
        assert_int_equal(t.committed.alerts[FW_RULE_VELOCITY], c->want_velocity);
        assert_int_equal(t.committed.alerts[FW_RULE_HIGH_AMOUNT], c->want_high_amount);
        assert_int_equal(fw_tally_alerts(&t.committed), c->want_total);
        assert_int_equal(t.rolled_back_alerts, c->want_rolled_back);
        assert_int_equal(t.committed.dead_letters, c->want_dead_letters);
        assert_int_equal(t.committed.key_mismatch, c->want_mismatches);
        assert_int_equal(fw_tally_alerts(&t.open), 0);
        fw_metrics_snapshot s;
        fw_metrics_snapshot_init(&s);
        s.alerts[FW_RULE_CYCLE] = 99; /* an engine's count: replaced */
        fw_metrics_set_tally(&s, &t.committed);
        uint64_t sum = 0;
        for (int r = 0; r < FW_RULE__COUNT; r++)
            sum += s.alerts[r];
        assert_int_equal(sum, c->want_total);
        assert_int_equal(s.key_mismatch, c->want_mismatches);
    }
}

/* Language rules (fw_alert.rule == FW_RULE_LANG) are counted by id: in the
 * tally, committed-only like the built-ins, in the total, and in
 * fraudwatch_alerts_total{rule="<id>"} right after the built-ins' series. */
typedef struct lang_step {
    const char *what;
    int crypto, refunds, velocity; /* emitted in the open transaction */
    bool commit;
    uint64_t want_crypto, want_refunds, want_total, want_rolled_back;
} lang_step;

static const lang_step lang_steps[] = {
    { "first commit", 2, 0, 1, true, 2, 0, 3, 0 },
    { "abort", 5, 1, 0, false, 2, 0, 3, 6 },
    { "the replay commits, refunds first", 5, 1, 0, true, 7, 1, 9, 6 },
    { "commit", 0, 3, 2, true, 7, 4, 14, 6 },
};

/* The value of rule @p id in @p c; UINT64_MAX when it has none. */
static uint64_t lang_count(const fw_lang_counts *c, const char *id) {
    for (uint32_t i = 0; i < c->n; i++)
        if (!strcmp(c->id[i], id))
            return c->alerts[i];
    return UINT64_MAX;
}

static void test_lang_rules_counted(void **state) {
    (void)state;
    fw_tally *t = calloc(1, sizeof(*t));
    fw_metrics_snapshot *s = malloc(sizeof(*s));
    assert_non_null(t);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(lang_steps) / sizeof(lang_steps[0]); i++) {
        const lang_step *c = &lang_steps[i];
        if (c->refunds) /* first seen before crypto in this transaction: order differs */
            fw_lang_counts_add(&t->open.lang, "refund_ratio", (uint64_t)c->refunds);
        for (int k = 0; k < c->crypto; k++)
            fw_lang_counts_add(&t->open.lang, "crypto_merchants", 1);
        t->open.alerts[FW_RULE_VELOCITY] += (uint64_t)c->velocity;
        if (c->commit)
            fw_tally_commit(t);
        else
            fw_tally_abort(t);
        print_message("step %zu: %s\n", i, c->what);
        assert_int_equal(lang_count(&t->committed.lang, "crypto_merchants"), c->want_crypto);
        if (c->want_refunds)
            assert_int_equal(lang_count(&t->committed.lang, "refund_ratio"), c->want_refunds);
        assert_int_equal(fw_tally_alerts(&t->committed), c->want_total);
        assert_int_equal(t->rolled_back_alerts, c->want_rolled_back);
        assert_int_equal(fw_tally_alerts(&t->open), 0);
    }

    fw_metrics_snapshot_init(s);
    fw_metrics_set_tally(s, &t->committed);
    fw_metrics_conf conf = { .instance_id = "node-1", .kafka = true };
    char *text = format(&conf, s);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"crypto_merchants\"}"), 7);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"refund_ratio\"}"), 4);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"velocity\"}"), 3);
    /* After the last built-in, inside the family (one # HELP / # TYPE). */
    const char *last = strstr(text, "fraudwatch_alerts_total{rule=\"ml_score\"}");
    const char *crypto = strstr(text, "fraudwatch_alerts_total{rule=\"crypto_merchants\"}");
    const char *dedup = strstr(text, "# HELP fraudwatch_alerts_deduplicated_total");
    assert_non_null(last);
    assert_true(last < crypto && crypto < dedup);
    free(text);

    /* Declared rules show at 0; an id past the bound (or too long) is counted,
     * never dropped from the total. */
    fw_lang_counts *lc = calloc(1, sizeof(*lc));
    assert_non_null(lc);
    char id[32];
    for (int k = 0; k < FW_LANG_MAX_RULES; k++) {
        snprintf(id, sizeof(id), "r%d", k);
        fw_lang_counts_add(lc, id, 0);
    }
    fw_lang_counts_add(lc, "one_too_many", 2);
    fw_lang_counts_add(lc, NULL, 1);
    fw_lang_counts_add(lc, "r7", 5);
    assert_int_equal(lc->n, FW_LANG_MAX_RULES);
    assert_int_equal(lc->unnamed, 3);
    assert_int_equal(lang_count(lc, "r7"), 5);
    assert_int_equal(fw_lang_counts_total(lc), 8);
    fw_metrics_snapshot_init(s);
    s->lang_alerts = *lc;
    text = format(&conf, s);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"r0\"}"), 0);
    assert_int_equal(value_of(text, "fraudwatch_alerts_total{rule=\"" FW_METRICS_LANG_OTHER
                                    "\"}"), 3);
    free(text);
    free(lc);
    free(s);
    free(t);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static void test_http(void **state) {
    (void)state;
    fw_metrics *m = start(&loopback);
    int port = fw_metrics_port(m);
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    s.transactions = 42;
    s.alerts[FW_RULE_HIGH_AMOUNT] = 2;
    fw_metrics_publish(m, &s, 0);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    http h;

    /* /metrics: exactly the published snapshot's exposition. */
    request(curl, port, NULL, "/metrics", &h);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(h.connects, 1);
    char *want = format(&loopback, &s);
    assert_text(h.body.data, want);
    free(want);
    fw_buf_fini(&h.body);

    /* Kept alive: the next requests reuse the connection. */
    request(curl, port, NULL, "/health", &h);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.body.data, "ok");
    assert_int_equal(h.connects, 0);
    fw_buf_fini(&h.body);
    request(curl, port, "HEAD", "/metrics", &h);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.body.data, "");
    assert_int_equal(h.connects, 0);
    fw_buf_fini(&h.body);

    request(curl, port, NULL, "/metricsx", &h);
    assert_int_equal(h.status, 404);
    fw_buf_fini(&h.body);
    request(curl, port, NULL, "/", &h);
    assert_int_equal(h.status, 404);
    fw_buf_fini(&h.body);
    request(curl, port, "POST", "/metrics", &h);
    assert_int_equal(h.status, 405);
    assert_string_equal(h.allow, "GET, HEAD");
    fw_buf_fini(&h.body);
    request(curl, port, "DELETE", "/health", &h);
    assert_int_equal(h.status, 405);
    assert_string_equal(h.allow, "GET, HEAD");
    fw_buf_fini(&h.body);
    request(curl, port, "POST", "/nope", &h);
    assert_int_equal(h.status, 404);
    fw_buf_fini(&h.body);
    request(curl, port, NULL, "/health", &h); /* still serving */
    assert_int_equal(h.status, 200);
    fw_buf_fini(&h.body);
    curl_easy_cleanup(curl);

    /* The port is taken now: a second server says which port, and why. */
    fw_metrics_conf taken = loopback;
    taken.port = port;
    char err[256] = "";
    assert_null(fw_metrics_new(&taken, err, sizeof(err)));
    char needle[64];
    snprintf(needle, sizeof(needle), "cannot listen on port %d of 127.0.0.1", port);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
    fw_metrics_destroy(m);

    fw_metrics_conf bad = loopback;
    bad.bind = "localhost"; /* a name, not an address */
    err[0] = '\0';
    assert_null(fw_metrics_new(&bad, err, sizeof(err)));
    assert_non_null(strstr(err, "\"localhost\" is not an IPv4 or IPv6 address"));
    assert_true(fw_metrics_bind_valid("0.0.0.0"));
    assert_true(fw_metrics_bind_valid("::1"));
    assert_false(fw_metrics_bind_valid("localhost"));
    assert_false(fw_metrics_bind_valid("1.2.3"));
    assert_false(fw_metrics_bind_valid(""));
}

static void test_ipv6_loopback(void **state) {
    (void)state;
    fw_metrics_conf c = loopback;
    c.bind = "::1";
    char err[256] = "";
    fw_metrics *m = fw_metrics_new(&c, err, sizeof(err));
    if (!m) {
        print_message("fw_metrics_new on ::1: %s\n", err);
        FW_SKIP("cannot listen on ::1 (no IPv6 on this machine?)");
    }
    CURL *curl = curl_easy_init();
    char url[64];
    snprintf(url, sizeof(url), "http://[::1]:%d/health", fw_metrics_port(m));
    fw_buf body;
    fw_buf_init(&body, 0);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(curl);
    fw_buf_fini(&body);
    fw_metrics_destroy(m);
}

/* Scrapes race publishes: every publish sets every counter to one value i,
 * so a scrape that mixed two snapshots would show two values. */
typedef struct race {
    int port;
    atomic_int done;
    int scrapes;
    char error[256];
} race;

static void *scraper(void *opaque) {
    race *r = opaque;
    CURL *curl = curl_easy_init();
    uint64_t last = 0;
    while (!atomic_load(&r->done) || r->scrapes < 3) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", r->port);
        fw_buf body;
        fw_buf_init(&body, 0);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        CURLcode rc = curl_easy_perform(curl);
        fw_buf_putc(&body, '\0');
        if (rc != CURLE_OK) {
            snprintf(r->error, sizeof(r->error), "scrape: %s", curl_easy_strerror(rc));
            fw_buf_fini(&body);
            break;
        }
        r->scrapes++;
        /* Every counter sample of this scrape has the same value. */
        uint64_t v = UINT64_MAX;
        for (const char *line = body.data, *nl; *line; line = nl + 1) {
            if (!(nl = strchr(line, '\n')))
                break;
            char one[256];
            snprintf(one, sizeof(one), "%.*s", (int)(nl - line), line);
            const char *sp = strrchr(one, ' ');
            if (one[0] == '#' || !sp || !strstr(one, "_total"))
                continue;
            uint64_t x = strtoull(sp + 1, NULL, 10);
            if (v == UINT64_MAX)
                v = x;
            else if (x != v) {
                snprintf(r->error, sizeof(r->error), "scrape %d mixes %" PRIu64 " and %" PRIu64,
                         r->scrapes, v, x);
                break;
            }
        }
        if (!r->error[0] && v < last)
            snprintf(r->error, sizeof(r->error), "went down from %" PRIu64 " to %" PRIu64, last,
                     v);
        last = v;
        fw_buf_fini(&body);
        if (r->error[0])
            break;
    }
    curl_easy_cleanup(curl);
    return NULL;
}

static void test_scrapes_race_publishes(void **state) {
    (void)state;
    fw_metrics_conf c = loopback;
    c.ml = true;
    fw_metrics *m = start(&c);
    race r = { .port = fw_metrics_port(m) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, scraper, &r), 0);
    fw_metrics_snapshot s;
    fw_metrics_snapshot_init(&s);
    for (uint64_t i = 1; i <= 200000; i++) {
        uint64_t *counters[] = { &s.transactions, &s.dead_letters, &s.late, &s.behind_watermark,
                                 &s.duplicates, &s.commits, &s.aborts, &s.changelog_records,
                                 &s.key_mismatch, &s.rekeyed, &s.ml_scored,
                                 &s.ml_unscored, &s.ml_batches, &s.ml_failed_batches,
                                 &s.model_reloads, &s.model_reload_failures,
                                 &s.rebalances[0], &s.rebalances[1], &s.rebalances[2],
                                 &s.ml_remote_retries, &s.ml_remote_timeouts };
        for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
            *counters[k] = i;
        for (int k = 0; k < FW_RULE__COUNT; k++)
            s.alerts[k] = s.deduplicated[k] = i;
        for (int k = 0; k < FW_LIMIT__COUNT; k++)
            s.over_limit[k] = i;
        fw_metrics_publish(m, &s, (int64_t)i);
    }
    atomic_store(&r.done, 1);
    pthread_join(t, NULL);
    if (r.error[0])
        fail_msg("%s", r.error);
    assert_true(r.scrapes >= 3);
    fw_metrics_destroy(m);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_file_mode_exact),
        cmocka_unit_test(test_format_kafka_and_ml),
        cmocka_unit_test(test_format_rules),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_every_line_well_formed),
        cmocka_unit_test(test_publish_interval),
        cmocka_unit_test(test_published_histograms_and_lag),
        cmocka_unit_test(test_health_and_ready),
        cmocka_unit_test(test_counters_never_go_down),
        cmocka_unit_test(test_tally),
        cmocka_unit_test(test_lang_rules_counted),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_scrapes_race_publishes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return FW_SKIP_STATUS(rc);
}
