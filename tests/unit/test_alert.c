/* test_alert.c — alert ids (deterministic, sensitive to rule, entity and
 * evidence only) and the alert JSON document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "alert.h"

static fw_rule_common rc = { .enabled = true, .version = 3, .severity = FW_SEV_HIGH };

static fw_alert make(const fw_txn *t, const fw_evidence *ev, size_t nev) {
    return (fw_alert){ .rule = FW_RULE_HIGH_AMOUNT, .rc = &rc, .entity_type = "account",
                       .entity_id = FW_STR_LIT("A1"), .event_time = t->ts_ms,
                       .detected_at = t->ts_ms, .window_start = -1, .window_end = -1,
                       .reason = "amount 7500.00 is above \"the\" limit", .evidence = ev,
                       .nevidence = nev, .txn = t };
}

static const char raw[] = "{\"transaction_id\":\"t1\",\"amount\":7500}";

static fw_txn sample_txn(void) {
    return (fw_txn){ .transaction_id = FW_STR_LIT("t1"), .ts_ms = 1704067200000,
                     .amount = 7500, .amount_raw = FW_STR_LIT("7500"),
                     .raw = { raw, sizeof(raw) - 1 }, .raw_is_json = true };
}

static void test_id_is_deterministic_and_sensitive(void **state) {
    (void)state;
    fw_txn t = sample_txn();
    fw_evidence ev = { .transaction_id = FW_STR_LIT("t1"), .ts_ms = t.ts_ms,
                       .amount_raw = FW_STR_LIT("7500") };
    fw_buf scratch;
    fw_buf_init(&scratch, 0);
    char a[FW_ALERT_ID_LEN + 1], b[FW_ALERT_ID_LEN + 1];
    fw_alert al = make(&t, &ev, 1);
    fw_alert_id(&al, &scratch, a);
    fw_alert_id(&al, &scratch, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), FW_ALERT_ID_LEN);
    assert_memory_equal(a, "fw-", 3);
    /* Pinned: ids must never change across versions for the same alert. */
    assert_string_equal(a, "fw-a34aea9dcd298995aa600f29b12a25fb");

    /* Detection time, reason and version do not change the id... */
    al.detected_at += 1000;
    al.reason = "other words";
    fw_alert_id(&al, &scratch, b);
    assert_string_equal(a, b);
    /* ...but entity and evidence do. */
    al.entity_id = FW_STR_LIT("A2");
    fw_alert_id(&al, &scratch, b);
    assert_string_not_equal(a, b);
    al = make(&t, &ev, 1);
    fw_evidence ev2 = ev;
    ev2.transaction_id = FW_STR_LIT("t2");
    al.evidence = &ev2;
    fw_alert_id(&al, &scratch, b);
    assert_string_not_equal(a, b);
    /* Layout cannot collide: ("A1","t1") vs ("A1t","1"). */
    al = make(&t, &ev, 1);
    al.entity_id = FW_STR_LIT("A1t");
    fw_evidence ev3 = ev;
    ev3.transaction_id = FW_STR_LIT("1");
    al.evidence = &ev3;
    fw_alert_id(&al, &scratch, b);
    assert_string_not_equal(a, b);
    fw_buf_fini(&scratch);
}

static void test_json_document(void **state) {
    (void)state;
    fw_txn t = sample_txn();
    fw_evidence ev = { .transaction_id = FW_STR_LIT("t1"), .ts_ms = t.ts_ms,
                       .amount_raw = FW_STR_LIT("7500") };
    fw_alert al = make(&t, &ev, 1);
    fw_buf scratch, out;
    fw_buf_init(&scratch, 0);
    fw_buf_init(&out, 0);
    assert_true(fw_alert_write_json(&al, &scratch, &out));
    char id[FW_ALERT_ID_LEN + 1];
    fw_alert_id(&al, &scratch, id);
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "{\"alert_id\":\"%s\",\"rule\":\"high_amount\",\"rule_version\":3,"
             "\"severity\":\"high\",\"entity_type\":\"account\",\"entity_id\":\"A1\","
             "\"event_time\":\"2024-01-01T00:00:00.000Z\","
             "\"detected_at\":\"2024-01-01T00:00:00.000Z\","
             "\"reason\":\"amount 7500.00 is above \\\"the\\\" limit\","
             "\"evidence\":[{\"transaction_id\":\"t1\",\"timestamp\":"
             "\"2024-01-01T00:00:00.000Z\",\"amount\":7500}],"
             "\"transaction\":{\"transaction_id\":\"t1\",\"amount\":7500}}",
             id);
    assert_string_equal(out.data, expected);
    /* A bounded buffer reports overflow instead of writing half a document. */
    fw_buf small;
    fw_buf_init(&small, 64);
    assert_false(fw_alert_write_json(&al, &scratch, &small));
    fw_buf_fini(&small);
    fw_buf_fini(&scratch);
    fw_buf_fini(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_is_deterministic_and_sensitive),
        cmocka_unit_test(test_json_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
