/* test_eval.c — the metrics of `fraudwatch eval` (eval.h) on hand-made labels
 * and alerts: reading labels from a record, TP/FP per alert, instances caught,
 * rule FN through targets, untargeted and unknown scenarios, detection delay
 * (earliest alert, latest instance transaction), nearest-rank statistics and
 * set scores. Every expectation is worked out by hand in the comments. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "eval.h"
#include "gen_model.h"

/* cmocka has no double assertion: print both values when they differ. */
#define assert_ratio(actual, expected)                                                    \
    do {                                                                                  \
        double a_ = (actual), e_ = (expected);                                            \
        if (!(fabs(a_ - e_) < 1e-9))                                                      \
            fail_msg("%s is %.12g, expected %.12g", #actual, a_, e_);                     \
    } while (0)
#define assert_nan(actual)                                                                \
    do {                                                                                  \
        double a_ = (actual);                                                             \
        if (!isnan(a_))                                                                   \
            fail_msg("%s is %.12g, expected undefined (NaN)", #actual, a_);               \
    } while (0)

static fw_str S(const char *s) { return s ? fw_str_c(s) : FW_STR_NULL; }

/* ------------------------------------------------------------ label scanning */

static void test_scan_generated_record(void **state) {
    (void)state;
    const char *line =
        "{\"transaction_id\":\"tx-42-7\",\"timestamp\":\"2024-01-01T00:00:08.550Z\","
        "\"account_id\":\"acct-98\",\"amount\":46.53,\"lat\":48.9,\"channel\":\"pos\","
        "\"is_fraud\":true,\"scenario\":\"velocity\",\"scenario_instance\":\"si-42-3\"}";
    fw_eval_line_labels ll;
    assert_int_equal(fw_eval_scan_labels(line, strlen(line), &ll), FW_OK);
    assert_true(fw_str_eq_c(ll.transaction_id, "tx-42-7"));
    assert_true(fw_str_eq_c(ll.timestamp, "2024-01-01T00:00:08.550Z"));
    assert_true(ll.has_label);
    assert_true(ll.is_fraud);
    assert_false(ll.id_escaped);
    assert_true(fw_str_eq_c(ll.scenario, "velocity"));
    assert_true(fw_str_eq_c(ll.instance, "si-42-3"));
}

static void test_scan_variants(void **state) {
    (void)state;
    fw_eval_line_labels ll;
    /* Legitimate: labelled, not fraud. */
    const char *legit = "{\"transaction_id\":\"a\",\"is_fraud\":false}";
    assert_int_equal(fw_eval_scan_labels(legit, strlen(legit), &ll), FW_OK);
    assert_true(ll.has_label);
    assert_false(ll.is_fraud);
    /* No label at all; nested values and strings with braces are skipped. */
    const char *none = " { \"transaction_id\" : 17 , \"x\" : {\"is_fraud\":true,\"a\":[1,\"}\"]},"
                       "\"s\":\"\\\"is_fraud\\\":true\" } ";
    assert_int_equal(fw_eval_scan_labels(none, strlen(none), &ll), FW_OK);
    assert_false(ll.has_label);
    assert_true(fw_str_eq_c(ll.transaction_id, "17"));
    /* A scenario without is_fraud means fraud; is_fraud:false wins over a scenario. */
    const char *scen = "{\"transaction_id\":\"b\",\"scenario\":\"x\"}";
    assert_int_equal(fw_eval_scan_labels(scen, strlen(scen), &ll), FW_OK);
    assert_true(ll.has_label && ll.is_fraud);
    const char *veto = "{\"scenario\":\"x\",\"is_fraud\":false,\"transaction_id\":\"c\"}";
    assert_int_equal(fw_eval_scan_labels(veto, strlen(veto), &ll), FW_OK);
    assert_true(ll.has_label);
    assert_false(ll.is_fraud);
    /* null is no label. */
    const char *null = "{\"transaction_id\":\"d\",\"is_fraud\":null}";
    assert_int_equal(fw_eval_scan_labels(null, strlen(null), &ll), FW_OK);
    assert_false(ll.has_label);
    /* An id with escapes is flagged, not unescaped. */
    const char *esc = "{\"transaction_id\":\"e\\\"1\",\"is_fraud\":true}";
    assert_int_equal(fw_eval_scan_labels(esc, strlen(esc), &ll), FW_OK);
    assert_true(ll.id_escaped);
    assert_true(fw_str_eq_c(ll.transaction_id, "e\\\"1"));
    /* Not an object, truncated, garbage between members. */
    const char *bad[] = { "", "[1]", "{\"a\":", "{\"a\":1", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
                          "{\"a\":\"open}", "{1:2}" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fw_eval_scan_labels(bad[i], strlen(bad[i]), &ll) != FW_ERR_INVALID)
            fail_msg("accepted malformed record %s", bad[i]);
}

/* ------------------------------------------------------------ labels */

static void test_labels_instances_and_duplicates(void **state) {
    (void)state;
    fw_eval_labels *l = fw_eval_labels_new();
    assert_non_null(l);
    assert_int_equal(fw_eval_labels_add(l, S("l1"), 0, false, S(NULL), S(NULL)), FW_OK);
    assert_int_equal(fw_eval_labels_add(l, S("f1"), 100, true, S("alpha"), S("i1")), FW_OK);
    assert_int_equal(fw_eval_labels_add(l, S("f2"), 50, true, S("alpha"), S("i1")), FW_OK);
    assert_int_equal(fw_eval_labels_add(l, S("f3"), 70, true, S("alpha"), S(NULL)), FW_OK);
    assert_int_equal(fw_eval_labels_add(l, S("f4"), 70, true, S(NULL), S(NULL)), FW_OK);
    /* The same fraud id again: counted as a duplicate, changes nothing. */
    assert_int_equal(fw_eval_labels_add(l, S("f1"), 1, true, S("beta"), S("i9")), FW_OK);
    /* Fraud without an id cannot be matched to alerts. */
    assert_int_equal(fw_eval_labels_add(l, S(NULL), 1, true, S("alpha"), S("i1")),
                     FW_ERR_INVALID);
    assert_int_equal(fw_eval_labels_records(l), 7);
    assert_int_equal(fw_eval_labels_fraud(l), 4);
    assert_int_equal(fw_eval_labels_duplicate_ids(l), 1);
    /* i1 (f1, f2), f3 alone (no instance name), f4 alone: 3 instances. */
    assert_int_equal(fw_eval_labels_instances(l), 3);
    assert_int_equal(fw_eval_labels_nscenarios(l), 2);
    const fw_eval_scenario_info *alpha = fw_eval_labels_scenario(l, 0);
    assert_string_equal(alpha->name, "alpha");
    assert_int_equal(alpha->instances, 2);
    assert_int_equal(alpha->transactions, 3);
    assert_false(alpha->known);
    uint32_t unnamed = fw_eval_labels_find_scenario(l, S(FW_EVAL_UNNAMED_SCENARIO));
    assert_int_equal(unnamed, 1);
    assert_int_equal(fw_eval_labels_find_scenario(l, S("beta")), FW_EVAL_NONE);
    fw_eval_labels_destroy(l);
}

static void test_labels_known_scenario_takes_table_targets(void **state) {
    (void)state;
    assert_true(fw_gen_nscenarios > 0);
    fw_eval_labels *l = fw_eval_labels_new();
    const char *name = fw_gen_scenarios[0].name;
    assert_int_equal(fw_eval_labels_add(l, S("f1"), 0, true, S(name), S("i1")), FW_OK);
    const fw_eval_scenario_info *si = fw_eval_labels_scenario(l, 0);
    assert_true(si->known);
    assert_ptr_equal(si->targets, fw_gen_scenarios[0].targets);
    fw_eval_labels_destroy(l);
}

static void test_targets_mask(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_rule_mask v = (fw_rule_mask)1 << FW_RULE_VELOCITY;
    fw_rule_mask h = (fw_rule_mask)1 << FW_RULE_HIGH_AMOUNT;
    assert_int_equal(fw_eval_targets_mask("velocity", &rules), v);
    assert_int_equal(fw_eval_targets_mask(" velocity , high_amount ,", &rules), v | h);
    /* Unknown ids count as no rule; so do NULL and "". */
    assert_int_equal(fw_eval_targets_mask("no_such_rule,velocity", &rules), v);
    assert_int_equal(fw_eval_targets_mask("no_such_rule", &rules), 0);
    assert_int_equal(fw_eval_targets_mask(NULL, &rules), 0);
    assert_int_equal(fw_eval_targets_mask("", &rules), 0);
    /* A disabled rule targets nothing. */
    rules.common[FW_RULE_VELOCITY].enabled = false;
    assert_int_equal(fw_eval_targets_mask("velocity,high_amount", &rules), h);
}

/* ------------------------------------------------------------ scoring */

typedef struct mini_alert {
    fw_alert a;
    fw_evidence ev[4];
    fw_txn trigger;
} mini_alert;

/* An alert of @p rule decided at @p at, resting on @p n ids at times @p ts;
 * the last one is the triggering transaction. */
static const fw_alert *alert_of(mini_alert *m, fw_rule_id rule, int64_t at, size_t n,
                                const char *const *ids, const int64_t *ts) {
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < n; i++)
        m->ev[i] = (fw_evidence){ .transaction_id = S(ids[i]), .ts_ms = ts[i] };
    m->trigger = (fw_txn){ .transaction_id = S(ids[n - 1]), .ts_ms = ts[n - 1] };
    m->a = (fw_alert){ .rule = rule, .detected_at = at, .evidence = m->ev, .nevidence = n,
                       .txn = &m->trigger, .entity_type = "account", .entity_id = S("A") };
    return &m->a;
}

/*
 * Ground truth:
 *   scenario "alpha" (targets velocity): instance a1 = f1@1000, f2@2000;
 *                                        instance a2 = f3@5000
 *   scenario "beta"  (targets ""):      instance b1 = f4@3000 → not targeted
 *   scenario "gamma" (targets a rule id that does not exist): instance g1 = f5@4000
 *   legitimate: l1, l2
 * Alerts:
 *   A1 velocity  at 2600: l1@1500, f2@2000, f1@1000 (trigger last: f1) → TP, catches a1
 *   A2 velocity  at 2100: f1@1000, f2@2000 → TP, catches a1 earlier (the one that counts)
 *   A3 velocity  at 9000: l2@9000 → FP
 *   A4 high_amount at 3500: f4@3000 → TP, catches b1 (high_amount targets nothing here)
 */
static void test_rule_and_scenario_figures(void **state) {
    (void)state;
    fw_eval_labels *l = fw_eval_labels_new();
    fw_eval_labels_add(l, S("l1"), 1500, false, S(NULL), S(NULL));
    fw_eval_labels_add(l, S("f1"), 1000, true, S("alpha"), S("a1"));
    fw_eval_labels_add(l, S("f2"), 2000, true, S("alpha"), S("a1"));
    fw_eval_labels_add(l, S("f3"), 5000, true, S("alpha"), S("a2"));
    fw_eval_labels_add(l, S("f4"), 3000, true, S("beta"), S("b1"));
    fw_eval_labels_add(l, S("f5"), 4000, true, S("gamma"), S("g1"));
    fw_eval_labels_add(l, S("l2"), 9000, false, S(NULL), S(NULL));
    assert_int_equal(fw_eval_labels_set_targets(l, 0, "velocity"), FW_OK);
    assert_int_equal(fw_eval_labels_set_targets(l, 1, ""), FW_OK);
    assert_int_equal(fw_eval_labels_set_targets(l, 2, "no_such_rule"), FW_OK);

    fw_eval_run *run = fw_eval_run_new(l);
    assert_non_null(run);
    mini_alert m;
    static const char *const a1[] = { "l1", "f2", "f1" };
    static const int64_t a1t[] = { 1500, 2000, 1000 };
    assert_int_equal(fw_eval_run_alert(run, alert_of(&m, FW_RULE_VELOCITY, 2600, 3, a1, a1t)),
                     FW_OK);
    static const char *const a2[] = { "f1", "f2" };
    static const int64_t a2t[] = { 1000, 2000 };
    fw_eval_run_alert(run, alert_of(&m, FW_RULE_VELOCITY, 2100, 2, a2, a2t));
    static const char *const a3[] = { "l2" };
    static const int64_t a3t[] = { 9000 };
    fw_eval_run_alert(run, alert_of(&m, FW_RULE_VELOCITY, 9000, 1, a3, a3t));
    static const char *const a4[] = { "f4" };
    static const int64_t a4t[] = { 3000 };
    fw_eval_run_alert(run, alert_of(&m, FW_RULE_HIGH_AMOUNT, 3500, 1, a4, a4t));

    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_eval_report rep;
    assert_int_equal(fw_eval_report_build(run, &rules, 4000, &rep), FW_OK);

    /* velocity: 3 alerts, 2 TP, 1 FP; targets alpha (2 instances), caught a1: FN 1. */
    const fw_eval_rule_figures *v = &rep.rule[FW_RULE_VELOCITY];
    assert_int_equal(v->alerts, 3);
    assert_int_equal(v->tp, 2);
    assert_int_equal(v->fp, 1);
    assert_int_equal(v->target_instances, 2);
    assert_int_equal(v->caught, 1);
    assert_int_equal(v->fn, 1);
    assert_int_equal(v->caught_any, 1);
    assert_ratio(v->q.precision, 2.0 / 3);
    assert_ratio(v->q.recall, 0.5);
    assert_ratio(v->q.f1, 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5));
    assert_ratio(v->alerts_per_1000, 0.75); /* 3 alerts in 4,000 transactions */
    /* Delay of a1: earliest alert A2 (2100) minus a1's latest transaction in it (2000). */
    assert_int_equal(v->delay.n, 1);
    assert_int_equal(v->delay.median_ms, 100);
    /* Time to detect: 2100 minus a1's first transaction (1000). */
    assert_int_equal(v->from_start.median_ms, 1100);

    /* high_amount: 1 TP alert; it caught b1, but targets nothing: recall undefined. */
    const fw_eval_rule_figures *h = &rep.rule[FW_RULE_HIGH_AMOUNT];
    assert_int_equal(h->alerts, 1);
    assert_int_equal(h->tp, 1);
    assert_int_equal(h->fp, 0);
    assert_int_equal(h->target_instances, 0);
    assert_int_equal(h->fn, 0);
    assert_int_equal(h->caught_any, 1);
    assert_ratio(h->q.precision, 1.0);
    assert_nan(h->q.recall);
    assert_int_equal(h->delay.median_ms, 500);

    /* A rule without alerts: precision undefined, 0 per 1,000. */
    assert_int_equal(rep.rule[FW_RULE_STRUCTURING].alerts, 0);
    assert_nan(rep.rule[FW_RULE_STRUCTURING].q.precision);
    assert_ratio(rep.rule[FW_RULE_STRUCTURING].alerts_per_1000, 0.0);

    /* Scenarios. */
    assert_int_equal(rep.nscenarios, 3);
    const fw_eval_scenario_figures *alpha = &rep.scenario[0], *beta = &rep.scenario[1],
                                   *gamma = &rep.scenario[2];
    assert_string_equal(alpha->info->name, "alpha");
    assert_int_equal(alpha->targets, (fw_rule_mask)1 << FW_RULE_VELOCITY);
    assert_int_equal(alpha->instances, 2);
    assert_int_equal(alpha->caught, 1);
    assert_ratio(alpha->recall, 0.5);
    assert_int_equal(alpha->caught_by, (fw_rule_mask)1 << FW_RULE_VELOCITY);
    assert_int_equal(alpha->caught_by_rule[FW_RULE_VELOCITY], 1);
    assert_int_equal(alpha->delay.median_ms, 100);
    /* beta: not targeted by any rule, yet caught (by high_amount). */
    assert_int_equal(beta->targets, 0);
    assert_int_equal(beta->caught, 1);
    assert_int_equal(beta->caught_by, (fw_rule_mask)1 << FW_RULE_HIGH_AMOUNT);
    /* gamma: its only target is unknown, so it is untargeted; nothing caught it. */
    assert_int_equal(gamma->targets, 0);
    assert_int_equal(gamma->caught, 0);
    assert_ratio(gamma->recall, 0.0);
    assert_int_equal(gamma->delay.n, 0);

    /* Overall: 4 alerts, 3 TP; targeted = alpha only (1 of 2); all: a1, b1 of 4. */
    assert_int_equal(rep.all.transactions, 4000);
    assert_int_equal(rep.all.fraud_transactions, 5);
    assert_int_equal(rep.all.instances, 4);
    assert_int_equal(rep.all.alerts, 4);
    assert_int_equal(rep.all.tp, 3);
    assert_int_equal(rep.all.fp, 1);
    assert_ratio(rep.all.precision, 0.75);
    assert_int_equal(rep.all.targeted_instances, 2);
    assert_int_equal(rep.all.targeted_caught, 1);
    assert_ratio(rep.all.recall_targeted, 0.5);
    assert_int_equal(rep.all.caught, 2);
    assert_ratio(rep.all.recall_all, 0.5);
    assert_ratio(rep.all.alerts_per_1000, 1.0);
    fw_eval_report_free(&rep);

    /* The same run under a rule set without velocity: alpha is no longer targeted,
     * and nothing is: targeted recall is undefined. */
    rules.common[FW_RULE_VELOCITY].enabled = false;
    assert_int_equal(fw_eval_report_build(run, &rules, 4000, &rep), FW_OK);
    assert_false(rep.rule[FW_RULE_VELOCITY].enabled);
    assert_int_equal(rep.scenario[0].targets, 0);
    assert_int_equal(rep.all.targeted_instances, 0);
    assert_nan(rep.all.recall_targeted);
    fw_eval_report_free(&rep);

    fw_eval_run_destroy(run);
    fw_eval_labels_destroy(l);
}

/* An alert whose evidence spans two instances catches both, each with its own
 * latest transaction; a trigger outside the evidence counts too. */
static void test_alert_spanning_instances(void **state) {
    (void)state;
    fw_eval_labels *l = fw_eval_labels_new();
    fw_eval_labels_add(l, S("x1"), 100, true, S("s"), S("X"));
    fw_eval_labels_add(l, S("x2"), 400, true, S("s"), S("X"));
    fw_eval_labels_add(l, S("y1"), 300, true, S("s"), S("Y"));
    fw_eval_labels_add(l, S("z1"), 700, true, S("s"), S("Z"));
    fw_eval_labels_set_targets(l, 0, "risk_score");
    fw_eval_run *run = fw_eval_run_new(l);
    mini_alert m;
    static const char *const ids[] = { "x1", "y1", "x2" };
    static const int64_t ts[] = { 100, 300, 400 };
    const fw_alert *a = alert_of(&m, FW_RULE_RISK_SCORE, 1000, 3, ids, ts);
    /* Trigger z1, not in the evidence. */
    m.trigger = (fw_txn){ .transaction_id = S("z1"), .ts_ms = 700 };
    fw_eval_run_alert(run, a);
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_eval_report rep;
    fw_eval_report_build(run, &rules, 10, &rep);
    const fw_eval_rule_figures *r = &rep.rule[FW_RULE_RISK_SCORE];
    assert_int_equal(r->alerts, 1);
    assert_int_equal(r->tp, 1);
    assert_int_equal(r->caught, 3);
    assert_int_equal(r->fn, 0);
    /* Delays: X 1000-400 = 600, Y 1000-300 = 700, Z 1000-700 = 300 → sorted 300 600 700. */
    assert_int_equal(r->delay.n, 3);
    assert_int_equal(r->delay.median_ms, 600);
    assert_int_equal(r->delay.p95_ms, 700);
    assert_int_equal(r->delay.max_ms, 700);
    fw_eval_report_free(&rep);
    fw_eval_run_destroy(run);
    fw_eval_labels_destroy(l);
}

/*
 * Language rules are scored by id, one row each after the built-ins.
 * Ground truth: scenario "crypto" (targets crypto_merchants): instances c1 =
 * f1@1000, f2@2000 and c2 = f3@5000; legitimate l1.
 * Declared: crypto_merchants, quiet_rule (no alerts).
 * Alerts:
 *   L1 crypto_merchants at 2500: f1@1000, f2@2000 → TP, catches c1 (delay 500)
 *   L2 crypto_merchants at 6000: l1@6000 → FP
 *   L3 refund_ratio (undeclared: a row of its own when first seen) at 5200:
 *      f3@5000 → TP, catches c2, which it does not target
 *   B1 velocity at 3000: f2@2000 → TP, catches c1 later than L1
 */
static void test_language_rules(void **state) {
    (void)state;
    fw_eval_labels *l = fw_eval_labels_new();
    fw_eval_labels_add(l, S("f1"), 1000, true, S("crypto"), S("c1"));
    fw_eval_labels_add(l, S("f2"), 2000, true, S("crypto"), S("c1"));
    fw_eval_labels_add(l, S("f3"), 5000, true, S("crypto"), S("c2"));
    fw_eval_labels_add(l, S("l1"), 6000, false, S(NULL), S(NULL));
    assert_int_equal(fw_eval_labels_set_targets(l, 0, " crypto_merchants "), FW_OK);
    fw_eval_run *run = fw_eval_run_new(l);
    assert_non_null(run);
    static const char *const declared[] = { "crypto_merchants", "quiet_rule" };
    assert_int_equal(fw_eval_run_set_lang_rules(run, declared, 2), FW_OK);

    fw_rule_common shadow = { .enabled = true, .shadow = true, .version = 3 };
    mini_alert m;
    static const char *const l1[] = { "f1", "f2" };
    static const int64_t l1t[] = { 1000, 2000 };
    const fw_alert *a = alert_of(&m, FW_RULE_LANG, 2500, 2, l1, l1t);
    m.a.rule_name = "crypto_merchants";
    m.a.rc = &shadow;
    assert_int_equal(fw_eval_run_alert(run, a), FW_OK);
    static const char *const l2[] = { "l1" };
    static const int64_t l2t[] = { 6000 };
    a = alert_of(&m, FW_RULE_LANG, 6000, 1, l2, l2t);
    m.a.rule_name = "crypto_merchants";
    m.a.rc = &shadow;
    assert_int_equal(fw_eval_run_alert(run, a), FW_OK);
    static const char *const l3[] = { "f3" };
    static const int64_t l3t[] = { 5000 };
    a = alert_of(&m, FW_RULE_LANG, 5200, 1, l3, l3t);
    m.a.rule_name = "refund_ratio";
    assert_int_equal(fw_eval_run_alert(run, a), FW_OK);
    static const char *const b1[] = { "f2" };
    static const int64_t b1t[] = { 2000 };
    assert_int_equal(fw_eval_run_alert(run, alert_of(&m, FW_RULE_VELOCITY, 3000, 1, b1, b1t)),
                     FW_OK);
    /* A language alert without a name, or with one too long, is refused. */
    a = alert_of(&m, FW_RULE_LANG, 1, 1, b1, b1t);
    assert_int_equal(fw_eval_run_alert(run, a), FW_ERR_INVALID);

    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_eval_report rep;
    assert_int_equal(fw_eval_report_build(run, &rules, 1000, &rep), FW_OK);
    assert_int_equal(rep.nlang, 3);
    assert_string_equal(rep.lang[0].id, "crypto_merchants");
    assert_string_equal(rep.lang[1].id, "quiet_rule");
    assert_string_equal(rep.lang[2].id, "refund_ratio");

    /* crypto_merchants: 2 alerts, 1 TP; targets c1 and c2, caught c1: FN 1. */
    const fw_eval_rule_figures *c = &rep.lang[0].fig;
    assert_true(rep.lang[0].shadow);
    assert_true(c->enabled);
    assert_int_equal(c->alerts, 2);
    assert_int_equal(c->tp, 1);
    assert_int_equal(c->fp, 1);
    assert_int_equal(c->target_instances, 2);
    assert_int_equal(c->caught, 1);
    assert_int_equal(c->fn, 1);
    assert_ratio(c->q.precision, 0.5);
    assert_ratio(c->q.recall, 0.5);
    assert_ratio(c->alerts_per_1000, 2.0);
    assert_int_equal(c->delay.n, 1);
    assert_int_equal(c->delay.median_ms, 500);
    assert_int_equal(c->from_start.median_ms, 1500);

    /* quiet_rule: a row at 0. */
    assert_int_equal(rep.lang[1].fig.alerts, 0);
    assert_int_equal(rep.lang[1].fig.target_instances, 0);
    assert_nan(rep.lang[1].fig.q.precision);

    /* refund_ratio: targets nothing, caught c2. */
    const fw_eval_rule_figures *rr = &rep.lang[2].fig;
    assert_false(rep.lang[2].shadow);
    assert_int_equal(rr->alerts, 1);
    assert_int_equal(rr->tp, 1);
    assert_int_equal(rr->target_instances, 0);
    assert_int_equal(rr->caught_any, 1);
    assert_nan(rr->q.recall);

    /* The scenario: targeted by the language rule; both instances caught; c1's
     * delay from L1 (2500 - 2000), the earliest alert, not velocity's. */
    const fw_eval_scenario_figures *sf = &rep.scenario[0];
    assert_int_equal(sf->targets, 0);
    assert_true(sf->lang_targets);
    assert_int_equal(sf->caught, 2);
    assert_int_equal(sf->caught_by_lang[0], 1);
    assert_int_equal(sf->caught_by_lang[1], 0);
    assert_int_equal(sf->caught_by_lang[2], 1);
    assert_int_equal(sf->caught_by_rule[FW_RULE_VELOCITY], 1);
    assert_int_equal(sf->delay.n, 2);
    assert_int_equal(sf->delay.median_ms, 200); /* c2: 5200 - 5000; c1: 500 */
    assert_int_equal(sf->delay.max_ms, 500);

    /* Totals include the language rules: 4 alerts, 3 TP; targeted via the language rule. */
    assert_int_equal(rep.all.alerts, 4);
    assert_int_equal(rep.all.tp, 3);
    assert_int_equal(rep.all.targeted_instances, 2);
    assert_int_equal(rep.all.targeted_caught, 2);
    fw_eval_report_free(&rep);

    /* Bounds: an id of FW_LANG_MAX_ID bytes is refused; at most FW_LANG_MAX_RULES rules. */
    char long_id[FW_LANG_MAX_ID + 1];
    memset(long_id, 'x', FW_LANG_MAX_ID);
    long_id[FW_LANG_MAX_ID] = '\0';
    const char *lp = long_id;
    assert_int_equal(fw_eval_run_set_lang_rules(run, &lp, 1), FW_ERR_INVALID);
    char ids[FW_LANG_MAX_RULES][16];
    fw_err err = FW_OK;
    size_t k = 0;
    for (; k < FW_LANG_MAX_RULES && !err; k++) {
        snprintf(ids[k], sizeof(ids[k]), "r%zu", k);
        const char *id = ids[k];
        err = fw_eval_run_set_lang_rules(run, &id, 1);
    }
    /* 3 columns existed: the 254th new id is the first refused */
    assert_int_equal(err, FW_ERR_LIMIT);
    assert_int_equal(k, FW_LANG_MAX_RULES - 3 + 1);
    fw_eval_run_destroy(run);
    fw_eval_labels_destroy(l);
}

/* ------------------------------------------------------------ statistics */

static void test_delay_nearest_rank(void **state) {
    (void)state;
    int64_t five[] = { 5, 1, 3, 2, 4 };
    fw_eval_delay d = fw_eval_delay_of(five, 5);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.median_ms, 3);
    assert_int_equal(d.p95_ms, 5);
    assert_int_equal(d.max_ms, 5);
    int64_t twenty[20];
    for (int i = 0; i < 20; i++)
        twenty[i] = 20 - i; /* 20..1 */
    d = fw_eval_delay_of(twenty, 20);
    assert_int_equal(d.median_ms, 10); /* rank ceil(0.5 * 20) = 10 */
    assert_int_equal(d.p95_ms, 19);    /* rank ceil(0.95 * 20) = 19 */
    int64_t one[] = { -7 };
    d = fw_eval_delay_of(one, 1);
    assert_int_equal(d.median_ms, -7);
    assert_int_equal(d.p95_ms, -7);
    d = fw_eval_delay_of(NULL, 0);
    assert_int_equal(d.n, 0);
}

static void test_ratio_and_set_score(void **state) {
    (void)state;
    fw_eval_ratio q = fw_eval_ratio_of(0, 0, 0);
    assert_nan(q.precision);
    assert_nan(q.recall);
    assert_nan(q.f1);
    q = fw_eval_ratio_of(0, 3, 2);
    assert_ratio(q.precision, 0.0);
    assert_ratio(q.recall, 0.0);
    assert_ratio(q.f1, 0.0);
    q = fw_eval_ratio_of(3, 1, 3);
    assert_ratio(q.precision, 0.75);
    assert_ratio(q.recall, 0.5);
    assert_ratio(q.f1, 0.6);

    /* Accounts 0..5; fraud: 0, 1, 2. Rule bits: 1 = velocity, 2 = structuring. */
    const uint8_t truth[] = { 1, 1, 1, 0, 0, 0 };
    const fw_rule_mask flags[] = { 1, 3, 0, 2, 0, 1 };
    fw_eval_set_score s = fw_eval_score_set(truth, flags, 6, 3);
    assert_int_equal(s.flagged, 4);
    assert_int_equal(s.tp, 2);
    assert_int_equal(s.fp, 2);
    assert_int_equal(s.fn, 1);
    assert_ratio(s.q.precision, 0.5);
    assert_ratio(s.q.recall, 2.0 / 3);
    s = fw_eval_score_set(truth, flags, 6, 2); /* structuring alone: accounts 1, 3 */
    assert_int_equal(s.flagged, 2);
    assert_int_equal(s.tp, 1);
    assert_int_equal(s.fp, 1);
    assert_int_equal(s.fn, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_generated_record),
        cmocka_unit_test(test_scan_variants),
        cmocka_unit_test(test_labels_instances_and_duplicates),
        cmocka_unit_test(test_labels_known_scenario_takes_table_targets),
        cmocka_unit_test(test_targets_mask),
        cmocka_unit_test(test_rule_and_scenario_figures),
        cmocka_unit_test(test_alert_spanning_instances),
        cmocka_unit_test(test_language_rules),
        cmocka_unit_test(test_delay_nearest_rank),
        cmocka_unit_test(test_ratio_and_set_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
