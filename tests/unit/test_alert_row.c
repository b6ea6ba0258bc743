/* test_alert_row.c — what the console stores of an alert record
 * (alert_row.c): the columns of a real alert, the optional members, and
 * every way a record is refused, each with the reason the dead_letters
 * table will hold. A row is reused across records, as the ingest does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alert_row.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char alert[] =
    "{\"alert_id\":\"fw-a34aea9dcd298995aa600f29b12a25fb\",\"rule\":\"high_amount\","
    "\"rule_version\":3,\"severity\":\"high\",\"entity_type\":\"account\",\"entity_id\":"
    "\"A\\u00e91\",\"event_time\":\"2024-01-01T00:00:01.500Z\",\"detected_at\":"
    "\"2024-01-01T00:00:02Z\",\"reason\":\"amount 7500.5 is above\",\"shadow\":true,"
    "\"evidence\":[{\"transaction_id\":\"t1\",\"merchant_id\":\"\\u0000<script>\"}]}";

static void test_columns(void **state) {
    (void)state;
    fw_alert_row row = { 0 };
    char why[256] = "";
    bool ok = fw_alert_row_parse(&row, alert, sizeof(alert) - 1, why, sizeof(why));
    if (!ok)
        fail_msg("refused: %s", why);
    assert_string_equal(row.alert_id, "fw-a34aea9dcd298995aa600f29b12a25fb");
    assert_string_equal(row.rule, "high_amount");
    assert_string_equal(row.severity, "high");
    assert_string_equal(row.entity_type, "account");
    assert_string_equal(row.entity_id, "A\xc3\xa9" "1"); /* unescaped: é */
    assert_string_equal(row.reason, "amount 7500.5 is above");
    assert_int_equal(row.event_time_ms, 1704067201500LL);
    assert_int_equal(row.detected_at_ms, 1704067202000LL);
    assert_int_equal(row.rule_version, 3);
    assert_true(row.shadow);

    /* The same row again, for a smaller alert without the optional members. */
    static const char small[] = "{\"alert_id\":\"b\",\"rule\":\"r\",\"severity\":\"low\","
                                "\"entity_type\":\"card\",\"entity_id\":\"c\",\"event_time\":"
                                "\"2024-01-01T00:00:00Z\"}";
    ok = fw_alert_row_parse(&row, small, sizeof(small) - 1, why, sizeof(why));
    if (!ok)
        fail_msg("refused: %s", why);
    assert_string_equal(row.alert_id, "b");
    assert_string_equal(row.reason, "");
    assert_int_equal(row.detected_at_ms, INT64_MIN);
    assert_int_equal(row.rule_version, INT64_MIN);
    assert_false(row.shadow);
    fw_alert_row_fini(&row);
}

static void test_refused(void **state) {
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        { "not json", "not JSON: expected a value, got 'not' (line 1, column 1)" },
        { "[1]", "not a JSON object" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"event_time\":\"2024-01-01T00:00:00Z\"}", "missing \"entity_id\"" },
        { "{\"alert_id\":1,\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"2024-01-01T00:00:00Z\"}",
          "\"alert_id\" is not a string" },
        { "{\"alert_id\":\"\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"2024-01-01T00:00:00Z\"}",
          "\"alert_id\" is empty" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\\u0000\",\"event_time\":\"2024-01-01T00:00:00Z\"}",
          "\"entity_id\" holds U+0000, which a text column cannot" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"yesterday\"}",
          "\"event_time\" is not an ISO 8601 time: \"yesterday\"" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"2024-01-01T00:00:00Z\",\"rule_version\":1.5}",
          "\"rule_version\" is not a version number" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"2024-01-01T00:00:00Z\",\"shadow\":\"yes\"}",
          "\"shadow\" is not true or false" },
        { "{\"alert_id\":\"a\",\"rule\":\"r\xff\",\"severity\":\"s\",\"entity_type\":\"t\","
          "\"entity_id\":\"e\",\"event_time\":\"2024-01-01T00:00:00Z\"}", NULL },
    };
    fw_alert_row row = { 0 };
    for (size_t i = 0; i < N(cases); i++) {
        char why[256] = "";
        bool ok = fw_alert_row_parse(&row, cases[i].json, strlen(cases[i].json), why,
                                     sizeof(why));
        if (ok)
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        if (cases[i].why && strcmp(why, cases[i].why))
            fail_msg("case %zu: why \"%s\", expected \"%s\"", i, why, cases[i].why);
        if (!cases[i].why && strncmp(why, "not JSON: ", 10)) /* bad UTF-8 */
            fail_msg("case %zu: why \"%s\", expected a JSON error", i, why);
    }
    /* Too long to be an alert: refused before it is parsed. */
    static char big[FW_ALERT_ROW_MAX_BYTES + 2];
    memset(big, ' ', sizeof(big));
    char why[256];
    assert_false(fw_alert_row_parse(&row, big, sizeof(big), why, sizeof(why)));
    assert_non_null(strstr(why, "more than an alert may have"));
    fw_alert_row_fini(&row);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
