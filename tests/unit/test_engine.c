/* test_engine.c — the detectors, table-driven: each case feeds transactions
 * with explicit timestamps and lists the alerts it must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "engine.h"

typedef struct captured {
    int n;
    fw_rule_id rule[8];
    char entity_type[8][16];
    char entity_id[8][32];
    char reason[8][256];
} captured;

static void capture(void *opaque, const fw_alert *a) {
    captured *c = opaque;
    if (c->n >= 8)
        return;
    c->rule[c->n] = a->rule;
    snprintf(c->entity_type[c->n], 16, "%s", a->entity_type);
    snprintf(c->entity_id[c->n], 32, "%.*s", (int)a->entity_id.len, a->entity_id.ptr);
    snprintf(c->reason[c->n], 256, "%s", a->reason);
    c->n++;
}

static fw_txn txn(const char *id, const char *account, double amount, const char *raw) {
    return (fw_txn){ .transaction_id = fw_str_c(id), .ts_ms = 1704067200000,
                     .account_id = account ? fw_str_c(account) : FW_STR_NULL,
                     .amount = amount, .amount_raw = fw_str_c(raw) };
}

static void test_high_amount_boundaries(void **state) {
    (void)state;
    static const struct {
        double amount;
        const char *raw;
        int alerts;
    } cases[] = {
        { 0, "0", 0 },           { 4999.99, "4999.99", 0 }, { 5000, "5000", 0 },
        { 5000.0, "5000.00", 0 }, { 5000.01, "5000.01", 1 }, { 1e9, "1e9", 1 },
    };
    fw_rules rules;
    fw_rules_defaults(&rules);
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        captured c = { 0 };
        fw_txn t = txn("t", "A1", cases[i].amount, cases[i].raw);
        fw_engine_process(e, &t, &(fw_engine_out){ .opaque = &c, .alert = capture });
        if (c.n != cases[i].alerts)
            fail_msg("amount %s: expected %d alerts, got %d", cases[i].raw, cases[i].alerts,
                     c.n);
    }
    assert_int_equal(fw_engine_stats_get(e)->transactions, 6);
    assert_int_equal(fw_engine_stats_get(e)->alerts[FW_RULE_HIGH_AMOUNT], 2);
    fw_engine_destroy(e);
}

static void test_high_amount_reason_and_entity(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    rules.high_amount.limit = 100;
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    captured c = { 0 };
    fw_txn t = txn("t1", "ACC-9", 150.5, "150.5");
    fw_engine_process(e, &t, &(fw_engine_out){ .opaque = &c, .alert = capture });
    assert_int_equal(c.n, 1);
    assert_int_equal(c.rule[0], FW_RULE_HIGH_AMOUNT);
    assert_string_equal(c.entity_type[0], "account");
    assert_string_equal(c.entity_id[0], "ACC-9");
    assert_string_equal(c.reason[0], "amount 150.50 is above the high_amount limit of 100.00");
    /* No account: the card, then the customer, then the transaction itself. */
    fw_txn card = txn("t2", NULL, 500, "500");
    card.card_id = fw_str_c("CARD-1");
    fw_engine_process(e, &card, &(fw_engine_out){ .opaque = &c, .alert = capture });
    assert_string_equal(c.entity_type[1], "card");
    assert_string_equal(c.entity_id[1], "CARD-1");
    fw_txn bare = txn("t3", NULL, 500, "500");
    fw_engine_process(e, &bare, &(fw_engine_out){ .opaque = &c, .alert = capture });
    assert_string_equal(c.entity_type[2], "transaction");
    assert_string_equal(c.entity_id[2], "t3");
    fw_engine_destroy(e);
}

static void test_disabled_rule_is_silent(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    rules.common[FW_RULE_HIGH_AMOUNT].enabled = false;
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    captured c = { 0 };
    fw_txn t = txn("t1", "A", 1e6, "1e6");
    fw_engine_process(e, &t, &(fw_engine_out){ .opaque = &c, .alert = capture });
    assert_int_equal(c.n, 0);
    fw_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_amount_boundaries),
        cmocka_unit_test(test_high_amount_reason_and_entity),
        cmocka_unit_test(test_disabled_rule_is_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
