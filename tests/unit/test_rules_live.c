/* test_rules_live.c — live rule changes (rules_live.c, fw_engine_set_rules):
 * each control-topic record against the rule it must leave in force or the
 * message naming the fault, the push plan, the change description, and a
 * windowed rule whose state survives a parameter change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "rules.h"
#include "rules_file.h"
#include "rules_live.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct apply_case {
    const char *name;
    const char *key;
    const char *value;    /* NULL: tombstone */
    fw_err rc;
    const char *err;      /* a substring of the message, on failure */
    int min_count;        /* velocity.min_count afterwards */
    int version;          /* velocity's version afterwards */
} apply_case;

/* Live starts at velocity version 2, min_count 4; the base at 1 and 3. */
static const apply_case apply_cases[] = {
    { "higher version applies", "velocity",
      "{\"id\": \"velocity\", \"version\": 3, \"params\": {\"min_count\": 5}}", FW_OK, NULL, 5,
      3 },
    { "unnamed params come from the base", "velocity", "{\"id\": \"velocity\", \"version\": 3}",
      FW_OK, NULL, 3, 3 },
    { "same version refused", "velocity",
      "{\"id\": \"velocity\", \"version\": 2, \"params\": {\"min_count\": 5}}", FW_ERR_INVALID,
      "version 2 does not increase (version 2 runs)", 4, 2 },
    { "lower version refused", "velocity",
      "{\"id\": \"velocity\", \"version\": 1, \"params\": {\"min_count\": 5}}", FW_ERR_INVALID,
      "version 1 does not increase", 4, 2 },
    { "no version refused", "velocity", "{\"id\": \"velocity\"}", FW_ERR_INVALID,
      "version 1 does not increase", 4, 2 },
    { "invalid param names its path", "velocity",
      "{\"id\": \"velocity\", \"version\": 3, \"params\": {\"min_count\": 0}}", FW_ERR_INVALID,
      "rules[0].params.min_count", 4, 2 },
    { "unknown param named", "velocity",
      "{\"id\": \"velocity\", \"version\": 3, \"params\": {\"min_cuont\": 2}}", FW_ERR_INVALID,
      "min_cuont", 4, 2 },
    { "invalid JSON", "velocity", "{\"id\": \"velocity\", ", FW_ERR_INVALID, "invalid JSON",
      4, 2 },
    { "id other than the key", "velocity", "{\"id\": \"high_amount\", \"version\": 9}",
      FW_ERR_INVALID, "id: \"high_amount\" is not the record's key \"velocity\"", 4, 2 },
    { "unknown key", "velocty", "{\"id\": \"velocty\", \"version\": 9}", FW_ERR_INVALID,
      "key: unknown rule \"velocty\"", 4, 2 },
    { "empty key", "", "{}", FW_ERR_INVALID, "key: expected a rule id", 4, 2 },
    { "not an object", "velocity", "[1]", FW_ERR_INVALID, "rules[0]", 4, 2 },
    /* The value is one entry: it cannot close the array and reach other sections. */
    { "no escape from the entry", "velocity",
      "{\"id\": \"velocity\", \"version\": 3}], \"time\": {\"dedupe_window\": \"1m\"}, "
      "\"rules\": [{\"id\": \"fan_in\"}", FW_ERR_INVALID, "invalid JSON", 4, 2 },
    { "tombstone: back to the base", "velocity", NULL, FW_OK, NULL, 3, 1 },
};

static void live_start(fw_rules *base, fw_rules *live) {
    fw_rules_defaults(base);
    *live = *base;
    live->velocity.min_count = 4;
    live->common[FW_RULE_VELOCITY].version = 2;
}

static void test_apply_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < N(apply_cases); i++) {
        const apply_case *c = &apply_cases[i];
        fw_rules base, live, before;
        live_start(&base, &live);
        before = live;
        char err[512];
        fw_rule_id id;
        fw_err rc = fw_rules_live_apply(&live, &base, fw_str_c(c->key), c->value,
                                        c->value ? strlen(c->value) : 0, &id, err, sizeof(err));
        if (rc != c->rc)
            fail_msg("[%s] rc: expected %d, got %d (%s)", c->name, c->rc, rc, err);
        if (c->err && !strstr(err, c->err))
            fail_msg("[%s] message: expected it to contain \"%s\", got \"%s\"", c->name, c->err,
                     err);
        if (live.velocity.min_count != c->min_count)
            fail_msg("[%s] min_count: expected %d, got %d", c->name, c->min_count,
                     live.velocity.min_count);
        if (live.common[FW_RULE_VELOCITY].version != c->version)
            fail_msg("[%s] version: expected %d, got %d", c->name, c->version,
                     live.common[FW_RULE_VELOCITY].version);
        /* Nothing but velocity may change. */
        for (int r = 0; r < FW_RULE__COUNT; r++)
            if (r != FW_RULE_VELOCITY && !fw_rules_rule_equal(&live, &before, (fw_rule_id)r))
                fail_msg("[%s] rule %s changed", c->name, fw_rule_name((fw_rule_id)r));
        if (memcmp(&live.time, &before.time, sizeof(live.time)) ||
            memcmp(&live.limits, &before.limits, sizeof(live.limits)))
            fail_msg("[%s] the time or limits section changed", c->name);
        if (rc != FW_OK && memcmp(&live, &before, sizeof(live)))
            fail_msg("[%s] a refused record changed the rule set", c->name);
    }
}

static void test_plan(void **state) {
    (void)state;
    fw_rules live, want;
    bool changed[FW_RULE__COUNT];
    fw_rules_defaults(&live);
    live.common[FW_RULE_VELOCITY].version = 4;
    want = live;
    assert_int_equal(fw_rules_live_plan(&live, &want, changed), 0);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        assert_false(changed[i]);
    /* Version alone is no change; a parameter is, and its version must rise. */
    want.common[FW_RULE_VELOCITY].version = 9;
    want.common[FW_RULE_HIGH_AMOUNT].version = 1;
    want.high_amount.limit = 3000;
    want.fan_in.min_senders = 7;
    want.common[FW_RULE_FAN_IN].version = 5;
    want.common[FW_RULE_CYCLE].shadow = true;
    assert_int_equal(fw_rules_live_plan(&live, &want, changed), 3);
    assert_false(changed[FW_RULE_VELOCITY]);
    assert_true(changed[FW_RULE_HIGH_AMOUNT]);
    assert_true(changed[FW_RULE_FAN_IN]);
    assert_true(changed[FW_RULE_CYCLE]);
    assert_int_equal(want.common[FW_RULE_HIGH_AMOUNT].version, 2); /* raised above 1 */
    assert_int_equal(want.common[FW_RULE_FAN_IN].version, 5);      /* already above */
    assert_int_equal(want.common[FW_RULE_CYCLE].version, 2);
}

static void test_describe_and_write(void **state) {
    (void)state;
    fw_rules a, b;
    fw_rules_defaults(&a);
    b = a;
    char out[256];
    assert_int_equal(fw_rules_describe_change(&a, &b, FW_RULE_VELOCITY, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    b.velocity.min_count = 4;
    b.velocity.window_ms = 20 * 60000;
    b.common[FW_RULE_VELOCITY].shadow = true;
    assert_int_equal(fw_rules_describe_change(&a, &b, FW_RULE_VELOCITY, out, sizeof(out)), 3);
    assert_string_equal(out, "shadow false → true, min_count 3 → 4, window 30m → 20m");
    b.high_amount.limit = 1500.5;
    assert_int_equal(fw_rules_describe_change(&a, &b, FW_RULE_HIGH_AMOUNT, out, sizeof(out)), 1);
    assert_string_equal(out, "limit 5000 → 1500.5");
    /* Truncation keeps a terminated string. */
    assert_int_equal(fw_rules_describe_change(&a, &b, FW_RULE_VELOCITY, out, 10), 3);
    assert_int_equal(strlen(out), 9);

    /* A written entry is a record that applies back to the same rule. */
    b.common[FW_RULE_VELOCITY].version = 7;
    fw_buf buf;
    fw_buf_init(&buf, 0);
    assert_true(fw_rules_write_rule_json(&b, FW_RULE_VELOCITY, &buf));
    fw_rules live = a;
    char err[256];
    fw_rule_id id;
    assert_int_equal(fw_rules_live_apply(&live, &a, fw_str_c("velocity"), buf.data, buf.len,
                                         &id, err, sizeof(err)),
                     FW_OK);
    assert_int_equal(id, FW_RULE_VELOCITY);
    assert_true(fw_rules_rule_equal(&live, &b, FW_RULE_VELOCITY));
    fw_buf_fini(&buf);
}

/* ---- the engine keeps state across a change ---- */

typedef struct captured {
    int n;
    int version[8];
    size_t nevidence[8];
} captured;

static void capture(void *opaque, const fw_alert *a) {
    captured *c = opaque;
    if (a->rule != FW_RULE_VELOCITY || c->n >= 8)
        return;
    c->version[c->n] = a->rc->version;
    c->nevidence[c->n] = a->nevidence;
    c->n++;
}

static void feed(fw_engine *e, int i, captured *c) {
    char id[16];
    snprintf(id, sizeof(id), "t%d", i);
    fw_txn t = { .transaction_id = fw_str_c(id), .ts_ms = 1704067200000 + i * 60000LL,
                 .account_id = fw_str_c("A1"), .amount = 2000, .amount_raw = fw_str_c("2000") };
    fw_engine_process(e, &t, &(fw_engine_out){ .opaque = c, .alert = capture });
}

static void test_engine_keeps_state(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0; /* released at once: no waiting on the watermark */
    for (int keep = 1; keep >= 0; keep--) {
        char err[256];
        fw_engine *e = fw_engine_new(&r, err, sizeof(err));
        assert_non_null(e);
        captured c = { 0 };
        feed(e, 1, &c);
        feed(e, 2, &c);
        assert_int_equal(c.n, 0);
        fw_rules next = r;
        next.velocity.min_count = 4;
        next.common[FW_RULE_VELOCITY].version = 2;
        if (keep) {
            assert_int_equal(fw_engine_set_rules(e, &next, err, sizeof(err)), FW_OK);
        } else { /* what a restart without state would see */
            fw_engine_destroy(e);
            e = fw_engine_new(&next, err, sizeof(err));
        }
        feed(e, 3, &c);
        assert_int_equal(c.n, 0); /* 3 events: enough for the old rule, not the new */
        feed(e, 4, &c);
        if (keep) {
            if (c.n != 1)
                fail_msg("state kept: expected 1 alert after the 4th event, got %d", c.n);
            assert_int_equal(c.version[0], 2);
            if (c.nevidence[0] < 4)
                fail_msg("evidence: expected at least 4 transactions, got %zu", c.nevidence[0]);
        } else {
            assert_int_equal(c.n, 0);
        }
        fw_engine_destroy(e);
    }
}

/* A rule disabled at start and enabled live runs from the switch on: the
 * engine's plan of detectors follows the rules (it is built from them). */
static void test_engine_enables_a_rule(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0;
    r.common[FW_RULE_VELOCITY].enabled = false;
    char err[256];
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    assert_non_null(e);
    captured c = { 0 };
    for (int i = 1; i <= 3; i++)
        feed(e, i, &c);
    assert_int_equal(c.n, 0);
    fw_rules next = r;
    next.common[FW_RULE_VELOCITY].enabled = true;
    next.common[FW_RULE_VELOCITY].version = 2;
    assert_int_equal(fw_engine_set_rules(e, &next, err, sizeof(err)), FW_OK);
    for (int i = 4; i <= 6; i++)
        feed(e, i, &c);
    if (c.n != 1)
        fail_msg("enabled live: expected 1 velocity alert from the 3 events after the switch, "
                 "got %d", c.n);
    assert_int_equal(c.version[0], 2);
    fw_engine_destroy(e);
}

static void test_engine_refuses_time_and_limits(void **state) {
    (void)state;
    fw_rules r, next;
    fw_rules_defaults(&r);
    char err[256];
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    next = r;
    next.time.dedupe_window_ms = 1;
    assert_int_equal(fw_engine_set_rules(e, &next, err, sizeof(err)), FW_ERR_INVALID);
    assert_string_equal(err, "time: cannot change while the engine runs");
    next = r;
    next.limits.max_entities = 7;
    assert_int_equal(fw_engine_set_rules(e, &next, err, sizeof(err)), FW_ERR_INVALID);
    assert_string_equal(err, "limits: cannot change while the engine runs");
    fw_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_cases),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_describe_and_write),
        cmocka_unit_test(test_engine_keeps_state),
        cmocka_unit_test(test_engine_enables_a_rule),
        cmocka_unit_test(test_engine_refuses_time_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
