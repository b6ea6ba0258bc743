/* test_engine.c — the detectors, table-driven: each case feeds transactions
 * with explicit timestamps and lists the alerts it must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "engine.h"
#include "engine_int.h" /* e->lang: which state runs */
#include "lang_rules.h"

#include <string.h>

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
        int high = 0; /* velocity fires early too, on the third above 1000 */
        for (int j = 0; j < c.n; j++)
            high += c.rule[j] == FW_RULE_HIGH_AMOUNT;
        if (high != cases[i].alerts)
            fail_msg("amount %s: expected %d high_amount alerts, got %d", cases[i].raw,
                     cases[i].alerts, high);
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
    /* The shipped definition's reason template (rules/builtin-rules.json). */
    assert_string_equal(c.reason[0], "amount 150.5 is above the high_amount limit of 100");
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

/* ---- native entity state only while a native detector reads it ----
 * Entities (an account's outflows, a receiver's inbound transfers) serve the
 * native detectors alone (fan_out, fan_in, cycle, mule_cashout). When every enabled one is replaced by a language rule of its id,
 * none is created, swept or written to the changelog; one native detector
 * left running brings its state back, and a live change decides again. */

static fw_lang_rules *filters(const fw_rules *r, const char *const *ids, size_t n) {
    char doc[1024];
    size_t o = (size_t)snprintf(doc, sizeof(doc), "{\"rules\": [");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(doc + o, sizeof(doc) - o,
                              "%s{\"id\": \"%s\", \"type\": \"filter\","
                              " \"when\": \"amount > 1000000\"}",
                              i ? ", " : "", ids[i]);
    snprintf(doc + o, sizeof(doc) - o, "]}");
    fw_lang_rules *rs = NULL;
    char err[512];
    if (fw_lang_rules_parse_json(doc, strlen(doc), r, &rs, err, sizeof(err)) != FW_OK)
        fail_msg("rules: %s", err);
    return rs;
}

static void count_entity_record(void *opaque, fw_str key, const void *value, size_t len) {
    (void)len;
    if (key.len && key.ptr[0] == 'E' && value)
        ++*(int *)opaque;
}

typedef struct state_case {
    const char *name;
    const char *replaced[3];  /* language rules of these built-ins' ids */
    size_t nreplaced;
    bool kept;                /* entities expected */
} state_case;

/* fan_out and fan_in are the native detectors left enabled: one of each
 * kind of entity they read (a sender's outflows, a receiver's inbound). */
static const state_case state_cases[] = {
    { "both replaced: no native state", { "fan_out", "fan_in" }, 2, false },
    { "fan_in native: receivers kept", { "fan_out" }, 1, true },
    { "fan_out native: senders kept", { "fan_in" }, 1, true },
};

static void feed_ids(fw_engine *e, int from, int to) {
    captured c = { 0 };
    for (int i = from; i < to; i++) {
        char id[16], acct[16], card[16], cust[16];
        snprintf(id, sizeof(id), "t%d", i);
        snprintf(acct, sizeof(acct), "A%d", i % 7);
        snprintf(card, sizeof(card), "C%d", i % 5);
        snprintf(cust, sizeof(cust), "U%d", i % 3);
        /* Transfers from 7 senders to 3 receivers (the customers' ids). */
        fw_txn t = { .transaction_id = fw_str_c(id), .ts_ms = 1704067200000 + i * 60000LL,
                     .account_id = fw_str_c(acct), .card_id = fw_str_c(card),
                     .customer_id = fw_str_c(cust), .counterparty_id = fw_str_c(cust),
                     .type = FW_TXN_TRANSFER,
                     .amount = 20, .amount_raw = fw_str_c("20") };
        fw_engine_process(e, &t, &(fw_engine_out){ .opaque = &c, .alert = capture });
    }
}

static void state_rules(fw_rules *r) {
    fw_rules_defaults(r);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        r->common[i].enabled = false;
    r->common[FW_RULE_FAN_OUT].enabled = true;
    r->common[FW_RULE_FAN_IN].enabled = true;
}

static void test_native_state_only_when_read(void **state) {
    (void)state;
    fw_rules r;
    state_rules(&r);
    char err[256];
    for (size_t i = 0; i < sizeof(state_cases) / sizeof(state_cases[0]); i++) {
        const state_case *sc = &state_cases[i];
        fw_engine *e = fw_engine_new(&r, err, sizeof(err));
        assert_non_null(e);
        fw_engine_track_changes(e);
        fw_lang_rules *rs = filters(&r, sc->replaced, sc->nreplaced);
        assert_int_equal(fw_engine_set_lang(e, rs, err, sizeof(err)), FW_OK);
        feed_ids(e, 0, 50);
        const fw_state_stats *ss = fw_engine_state_stats(e);
        int records = 0;
        fw_engine_changes(e, count_entity_record, &records);
        printf("  %s: %llu entities created, %d entity changelog records\n", sc->name,
               (unsigned long long)ss->created, records);
        if (sc->kept && (ss->created == 0 || ss->entities == 0 || records == 0))
            fail_msg("%s: created %llu, live %llu, records %d; expected some", sc->name,
                     (unsigned long long)ss->created, (unsigned long long)ss->entities,
                     records);
        if (!sc->kept && (ss->created != 0 || ss->entities != 0 || records != 0))
            fail_msg("%s: created %llu, live %llu, records %d; expected none", sc->name,
                     (unsigned long long)ss->created, (unsigned long long)ss->entities,
                     records);
        fw_engine_destroy(e);
        fw_lang_rules_destroy(rs);
    }
}

/* Rules changed live: the decision follows each fw_engine_set_lang. */
static void test_native_state_follows_live_change(void **state) {
    (void)state;
    fw_rules r;
    state_rules(&r);
    char err[256];
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    assert_non_null(e);
    const char *all[] = { "fan_out", "fan_in" };
    fw_lang_rules *a = filters(&r, all, 2), *b = filters(&r, all, 1);
    assert_int_equal(fw_engine_set_lang(e, a, err, sizeof(err)), FW_OK);
    feed_ids(e, 0, 20);
    uint64_t before = fw_engine_state_stats(e)->created;
    assert_int_equal(fw_engine_set_lang(e, b, err, sizeof(err)), FW_OK); /* fan_in native */
    feed_ids(e, 20, 40);
    uint64_t during = fw_engine_state_stats(e)->created;
    assert_int_equal(fw_engine_set_lang(e, a, err, sizeof(err)), FW_OK); /* replaced again */
    feed_ids(e, 40, 60);
    uint64_t after = fw_engine_state_stats(e)->created;
    printf("  entities created: %llu all replaced, %llu with fan_in native (3 receivers), "
           "%llu replaced again\n", (unsigned long long)before, (unsigned long long)during,
           (unsigned long long)after);
    assert_int_equal(before, 0);
    assert_int_equal(during, 3);
    assert_int_equal(after, during);
    fw_engine_destroy(e);
    fw_lang_rules_destroy(a);
    fw_lang_rules_destroy(b);
}

/* A live change of a native rule alone leaves the language state as it is
 * (no key serialized and moved over to a new state); a change of a shipped
 * built-in compiles its definition again into a new state. */
static void test_native_change_leaves_language_state(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    char err[256];
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    assert_non_null(e);
    feed_ids(e, 0, 50);
    const struct fw_lang_state *first = e->lang;
    r.fan_in.min_senders = 7;
    r.common[FW_RULE_FAN_IN].version = 2;
    assert_int_equal(fw_engine_set_rules(e, &r, err, sizeof(err)), FW_OK);
    assert_ptr_equal(e->lang, first);
    r.velocity.min_count = 4;
    r.common[FW_RULE_VELOCITY].version = 2;
    assert_int_equal(fw_engine_set_rules(e, &r, err, sizeof(err)), FW_OK);
    assert_ptr_not_equal(e->lang, first);
    const fw_lang_rule *v = fw_lang_rules_find(fw_lang_state_rules(e->lang), "velocity");
    assert_non_null(v);
    assert_int_equal(v->common.version, 2);
    fw_engine_destroy(e);
}

/* The transaction ids of the high_amount alerts, in the order raised. */
typedef struct high_ids {
    char ids[64][16];
    int n;
} high_ids;

static void capture_high(void *opaque, const fw_alert *a) {
    high_ids *h = opaque;
    if (a->rule == FW_RULE_HIGH_AMOUNT && h->n < 64)
        snprintf(h->ids[h->n++], 16, "%.*s", (int)a->txn->transaction_id.len,
                 a->txn->transaction_id.ptr);
}

static void count_buffered_record(void *opaque, fw_str key, const void *value, size_t len) {
    (void)len;
    if (key.len && (key.ptr[0] == 'b' || key.ptr[0] == 'B') && value)
        ++*(int *)opaque;
}

/* An engine with only rules @p a and @p b on (FW_RULE__COUNT: none);
 * @p track: recording changes for the changelog. */
static fw_engine *engine_with(fw_rule_id a, fw_rule_id b, bool track) {
    char err[256];
    fw_rules r;
    fw_rules_defaults(&r);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        r.common[i].enabled = i == (int)a || i == (int)b;
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    if (!e)
        fail_msg("engine: %s", err);
    if (track)
        fw_engine_track_changes(e);
    return e;
}

/* Feeds 200 transactions out of order within the bound (event times go back
 * up to 9 s), every 10th above high_amount's limit, and counts the buffered
 * records in the changelog halfway into @p b_mid; @returns the largest
 * number buffered after any of them. */
static uint64_t feed_out_of_order(fw_engine *e, high_ids *h, int *b_mid) {
    uint64_t most = 0;
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", i);
        fw_txn t = txn(id, i % 2 ? "A1" : "A2", i % 10 ? 20 : 9000, i % 10 ? "20" : "9000");
        t.ts_ms += i * 1000LL - (i % 4) * 3000LL;
        fw_engine_process(e, &t, &(fw_engine_out){ .opaque = h, .alert = capture_high });
        if (i == 100)
            fw_engine_changes(e, count_buffered_record, b_mid);
        uint64_t b = fw_engine_stats_get(e)->buffered;
        most = b > most ? b : most;
    }
    fw_engine_advance(e, INT64_MAX, &(fw_engine_out){ .opaque = h, .alert = capture_high });
    return most;
}

/* Rules judged on arrival only (high_amount; velocity, which fires early):
 * nothing waits for the watermark, so nothing is buffered and no
 * transaction is written to the changelog to wait there. The alerts are
 * those of an engine that buffers for an ordered rule (small_then_large)
 * beside it, in the same order. */
static void test_nothing_in_order_nothing_buffered(void **state) {
    (void)state;
    fw_engine *alone = engine_with(FW_RULE_HIGH_AMOUNT, FW_RULE__COUNT, true);
    fw_engine *early = engine_with(FW_RULE_HIGH_AMOUNT, FW_RULE_VELOCITY, true);
    fw_engine *ordered = engine_with(FW_RULE_HIGH_AMOUNT, FW_RULE_SMALL_THEN_LARGE, true);

    high_ids a = { .n = 0 }, v = { .n = 0 }, o = { .n = 0 };
    int b_alone = 0, b_early = 0, b_ordered = 0;
    uint64_t most_alone = feed_out_of_order(alone, &a, &b_alone);
    uint64_t most_early = feed_out_of_order(early, &v, &b_early);
    uint64_t most_ordered = feed_out_of_order(ordered, &o, &b_ordered);
    printf("  high_amount alone: at most %llu buffered, %d buffered changelog records; with "
           "velocity: %llu, %d; with small_then_large: %llu, %d\n",
           (unsigned long long)most_alone, b_alone, (unsigned long long)most_early, b_early,
           (unsigned long long)most_ordered, b_ordered);
    if (most_alone != 0 || b_alone != 0 || most_early != 0 || b_early != 0)
        fail_msg("buffered %llu and wrote %d buffered records alone, %llu and %d with velocity; "
                 "want 0 and 0", (unsigned long long)most_alone, b_alone,
                 (unsigned long long)most_early, b_early);
    if (most_ordered == 0 || b_ordered == 0)
        fail_msg("with small_then_large %llu buffered, %d buffered records: the comparison "
                 "means nothing", (unsigned long long)most_ordered, b_ordered);
    if (v.n != a.n)
        fail_msg("high_amount alerts: %d alone, %d with velocity", a.n, v.n);
    if (a.n != 20 || a.n != o.n)
        fail_msg("high_amount alerts: %d alone, %d with small_then_large; want 20 each", a.n,
                 o.n);
    for (int i = 0; i < a.n; i++)
        if (strcmp(a.ids[i], o.ids[i]) || strcmp(a.ids[i], v.ids[i]))
            fail_msg("alert %d: %s alone, %s with velocity, %s with small_then_large", i,
                     a.ids[i], v.ids[i], o.ids[i]);
    const fw_engine_stats *st = fw_engine_stats_get(alone);
    if (st->released + st->late + st->behind_watermark != st->transactions)
        fail_msg("alone: released %llu + late %llu + behind %llu != transactions %llu",
                 (unsigned long long)st->released, (unsigned long long)st->late,
                 (unsigned long long)st->behind_watermark,
                 (unsigned long long)st->transactions);
    fw_engine_destroy(alone);
    fw_engine_destroy(early);
    fw_engine_destroy(ordered);
}

static int count_rule(const captured *c, fw_rule_id rule) {
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += c->rule[i] == rule;
    return n;
}

/* velocity fires early (docs/rules.md#early-firing): its alert leaves with
 * the record that completes the count, not when the watermark passes it
 * (10 s later). A record behind the watermark within the allowed lateness
 * still counts; one beyond it counts nowhere (it is late). */
static void test_velocity_fires_on_arrival(void **state) {
    (void)state;
    fw_engine *e = engine_with(FW_RULE_VELOCITY, FW_RULE__COUNT, false);
    captured c = { 0 };
    const fw_engine_out out = { .opaque = &c, .alert = capture };
    static const struct {
        const char *id, *account;
        int64_t at_s; /* event time, seconds after the first */
        int velocity; /* alerts so far, right after it */
    } feed[] = {
        { "v1", "A1", 0, 0 },    { "v2", "A1", 1, 0 },    { "v3", "A1", 2, 1 },
        { "far", "A9", 3600, 1 }, /* the watermark moves to 59:50 */
        { "l1", "A2", 3, 1 },    { "l2", "A2", 4, 1 },    { "l3", "A2", 5, 1 }, /* late */
        { "b1", "A3", 3540, 1 }, { "b2", "A3", 3541, 1 }, { "b3", "A3", 3542, 2 }, /* behind */
    };
    for (size_t i = 0; i < sizeof(feed) / sizeof(feed[0]); i++) {
        fw_txn t = txn(feed[i].id, feed[i].account, 1500, "1500");
        t.ts_ms += feed[i].at_s * 1000;
        fw_engine_process(e, &t, &out);
        int v = count_rule(&c, FW_RULE_VELOCITY);
        if (v != feed[i].velocity || fw_engine_stats_get(e)->buffered != 0)
            fail_msg("after %s: %d velocity alerts, %llu buffered; want %d and 0", feed[i].id, v,
                     (unsigned long long)fw_engine_stats_get(e)->buffered, feed[i].velocity);
    }
    const fw_engine_stats *st = fw_engine_stats_get(e);
    if (st->late != 3 || st->behind_watermark != 3)
        fail_msg("late %llu, behind the watermark %llu; want 3 and 3",
                 (unsigned long long)st->late, (unsigned long long)st->behind_watermark);
    assert_string_equal(c.entity_id[0], "A1");
    assert_string_equal(c.entity_id[1], "A3");
    fw_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_amount_boundaries),
        cmocka_unit_test(test_velocity_fires_on_arrival),
        cmocka_unit_test(test_high_amount_reason_and_entity),
        cmocka_unit_test(test_disabled_rule_is_silent),
        cmocka_unit_test(test_native_state_only_when_read),
        cmocka_unit_test(test_native_state_follows_live_change),
        cmocka_unit_test(test_native_change_leaves_language_state),
        cmocka_unit_test(test_nothing_in_order_nothing_buffered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
