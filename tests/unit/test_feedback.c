/* test_feedback.c — verdicts tallied per rule version (feedback.c): the
 * latest record of an alert counts (as on the compacted topic), rows come
 * sorted by rule, version and shadow, precision leaves "not sure" out, and
 * records that are not feedback are refused with the reason and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "feedback.h"

static void add(fw_feedback_tally *t, const char *json) {
    char why[160] = "";
    if (!fw_feedback_tally_add(t, json, strlen(json), why, sizeof(why)))
        fail_msg("refused (%s): %s", why, json);
}

static void test_tally(void **state) {
    (void)state;
    fw_feedback_tally *t = fw_feedback_tally_new();
    assert_non_null(t);
    add(t, "{\"alert_id\":\"a1\",\"verdict\":\"confirmed_fraud\",\"rule\":\"velocity\","
           "\"rule_version\":2,\"shadow\":false}");
    add(t, "{\"alert_id\":\"a2\",\"verdict\":\"false_positive\",\"rule\":\"velocity\","
           "\"rule_version\":2}");
    add(t, "{\"alert_id\":\"a3\",\"verdict\":\"false_positive\",\"rule\":\"velocity\","
           "\"rule_version\":2}");
    /* a3 judged again: the latest verdict counts */
    add(t, "{\"alert_id\":\"a3\",\"verdict\":\"confirmed_fraud\",\"rule\":\"velocity\","
           "\"rule_version\":2}");
    add(t, "{\"alert_id\":\"a4\",\"verdict\":\"not_sure\",\"rule\":\"velocity\","
           "\"rule_version\":2}");
    add(t, "{\"alert_id\":\"a5\",\"verdict\":\"false_positive\",\"rule\":\"velocity\","
           "\"rule_version\":3,\"shadow\":true}");
    add(t, "{\"alert_id\":\"a6\",\"verdict\":\"not_sure\",\"rule\":\"cycle\"}");
    size_t n;
    const fw_feedback_row *r = fw_feedback_tally_rows(t, &n);
    assert_int_equal(n, 3);
    assert_int_equal(fw_feedback_tally_alerts(t), 6);
    assert_string_equal(r[0].rule, "cycle");
    assert_true(r[0].rule_version == INT64_MIN);
    assert_true(fw_feedback_precision(&r[0]) < 0); /* nothing but "not sure" */
    assert_string_equal(r[1].rule, "velocity");
    assert_int_equal(r[1].rule_version, 2);
    assert_false(r[1].shadow);
    assert_int_equal(r[1].confirmed, 2);
    assert_int_equal(r[1].false_positive, 1);
    assert_int_equal(r[1].not_sure, 1);
    if (fw_feedback_precision(&r[1]) != 2.0 / 3.0)
        fail_msg("precision %g, expected 2/3", fw_feedback_precision(&r[1]));
    assert_int_equal(r[2].rule_version, 3);
    assert_true(r[2].shadow);
    assert_true(fw_feedback_precision(&r[2]) == 0);
    fw_feedback_tally_free(t);
}

static void test_refused(void **state) {
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        { "nope", "not a JSON object" },
        { "[]", "not a JSON object" },
        { "{\"verdict\":\"not_sure\",\"rule\":\"r\"}", "no alert_id" },
        { "{\"alert_id\":\"\",\"verdict\":\"not_sure\",\"rule\":\"r\"}", "no alert_id" },
        { "{\"alert_id\":\"a\",\"verdict\":\"not_sure\"}", "no rule (or one over 127 bytes)" },
        { "{\"alert_id\":\"a\",\"verdict\":\"yes\",\"rule\":\"r\"}",
          "verdict is not confirmed_fraud, false_positive or not_sure" },
        { "{\"alert_id\":\"a\",\"verdict\":\"not_sure\",\"rule\":\"r\",\"rule_version\":\"2\"}",
          "rule_version is not a whole number" },
    };
    fw_feedback_tally *t = fw_feedback_tally_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[160] = "";
        if (fw_feedback_tally_add(t, cases[i].json, strlen(cases[i].json), why, sizeof(why)))
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        if (strcmp(why, cases[i].why))
            fail_msg("case %zu: why \"%s\", expected \"%s\"", i, why, cases[i].why);
    }
    assert_int_equal(fw_feedback_tally_bad(t), 7);
    assert_int_equal(fw_feedback_tally_alerts(t), 0);
    /* Many alerts: the table grows and keeps every one. */
    for (int i = 0; i < 5000; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"alert_id\":\"id-%d\",\"verdict\":\"%s\",\"rule\":\"r\"}",
                 i, i % 4 ? "false_positive" : "confirmed_fraud");
        add(t, json);
    }
    size_t n;
    const fw_feedback_row *r = fw_feedback_tally_rows(t, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].confirmed, 1250);
    assert_int_equal(r[0].false_positive, 3750);
    fw_feedback_tally_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
