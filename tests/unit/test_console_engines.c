/* test_console_engines.c — what the engine page reads from an engine's
 * /metrics (console_engines.c): counters summed over their series, the
 * lowest watermark, and the alert latency p99 from histogram buckets whose
 * other labels end in le=" too; lines it does not know are skipped. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "console_engines.h"

static void test_parse(void **state) {
    (void)state;
    static const char text[] =
        "# HELP fraudwatch_transactions_read_total records read\n"
        "# TYPE fraudwatch_transactions_read_total counter\n"
        "fraudwatch_transactions_read_total{partition=\"0\"} 1000\n"
        "fraudwatch_transactions_read_total{partition=\"1\"} 500\n"
        "fraudwatch_transactions_read_total_extra 99\n"
        "fraudwatch_alerts_total{rule=\"velocity\"} 7\n"
        "fraudwatch_alerts_total{rule=\"cycle\"} 3\n"
        "fraudwatch_consumer_lag_records{partition=\"0\"} 40\n"
        "fraudwatch_consumer_lag_records{partition=\"2\"} 2\n"
        "fraudwatch_watermark_seconds{partition=\"0\"} 1700000100.5\n"
        "fraudwatch_watermark_seconds{partition=\"1\"} 1700000000\n"
        "fraudwatch_watermark_seconds{partition=\"2\"} 0\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"velocity\",le=\"0.01\"} 50\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"velocity\",le=\"0.05\"} 60\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"velocity\",le=\"+Inf\"} 60\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"cycle\",le=\"0.01\"} 30\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"cycle\",le=\"0.05\"} 38\n"
        "fraudwatch_alert_latency_seconds_bucket{rule=\"cycle\",le=\"+Inf\"} 40\n"
        "garbage line\n"
        "fraudwatch_alerts_total{rule=\"x\"} notanumber";
    fw_engine_sample s;
    fw_engine_metrics_parse(text, sizeof(text) - 1, &s);
    assert_true(s.has_read);
    assert_true(s.transactions_read == 1500);
    assert_true(s.alerts == 10);
    assert_true(s.has_lag);
    assert_true(s.lag == 42);
    assert_true(s.has_watermark);
    assert_true(s.min_watermark_s == 1700000000); /* 0: a partition without one yet */
    /* 100 alerts: 80 within 10 ms, 98 within 50 ms, so p99 is past 50 ms. */
    assert_true(s.has_p99);
    if (!isinf(s.latency_p99_s))
        fail_msg("p99 %g, expected +Inf (98 of 100 within 0.05)", s.latency_p99_s);
}

static void test_empty(void **state) {
    (void)state;
    fw_engine_sample s;
    fw_engine_metrics_parse("", 0, &s);
    assert_false(s.has_read);
    assert_false(s.has_p99);
    assert_false(s.has_watermark);
    assert_false(s.has_lag);
    static const char one[] = "fraudwatch_alert_latency_seconds_bucket{le=\"0.5\"} 5\n"
                              "fraudwatch_alert_latency_seconds_bucket{le=\"+Inf\"} 5";
    fw_engine_metrics_parse(one, sizeof(one) - 1, &s);
    assert_true(s.has_p99);
    assert_true(s.latency_p99_s == 0.5);
}

/* Processing latency (from the input record's timestamp) wins over latency from
 * event time, which a backlog makes huge; an engine without it falls back. */
static void test_processing_latency_first(void **state) {
    (void)state;
    static const char both[] =
        "fraudwatch_alert_latency_seconds_bucket{le=\"0.5\"} 0\n"
        "fraudwatch_alert_latency_seconds_bucket{le=\"+Inf\"} 10\n"
        "fraudwatch_processing_latency_seconds_bucket{le=\"0.025\"} 10\n"
        "fraudwatch_processing_latency_seconds_bucket{le=\"0.5\"} 10\n"
        "fraudwatch_processing_latency_seconds_bucket{le=\"+Inf\"} 10\n";
    fw_engine_sample s;
    fw_engine_metrics_parse(both, sizeof(both) - 1, &s);
    if (!s.has_p99 || s.latency_p99_s != 0.025)
        fail_msg("p99 %g (has %d), expected 0.025 from the processing latency",
                 s.latency_p99_s, s.has_p99);
    /* No alert measured by the processing histogram yet: from event time. */
    static const char empty_processing[] =
        "fraudwatch_processing_latency_seconds_bucket{le=\"+Inf\"} 0\n"
        "fraudwatch_alert_latency_seconds_bucket{le=\"2.5\"} 4\n"
        "fraudwatch_alert_latency_seconds_bucket{le=\"+Inf\"} 4\n";
    fw_engine_metrics_parse(empty_processing, sizeof(empty_processing) - 1, &s);
    if (!s.has_p99 || s.latency_p99_s != 2.5)
        fail_msg("p99 %g (has %d), expected 2.5 from event time", s.latency_p99_s, s.has_p99);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_processing_latency_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
