/* test_lang_backfill.c — "backfill": true (docs/live-rules.md#backfill), the
 * pure part: the key (accepted by aggregate, sequence and score rules, written
 * back, refused elsewhere naming the field), a backfill rule's own state part,
 * replay mode (state built, no alert, no dedupe stamp, nothing consumed), the
 * list of backfill rules a live change started empty, and the move of a
 * scratch engine's part into the live engine (changelog included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "lang_rules.h"
#include "rules.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1704067200000LL

static fw_lang_rules *parse(const fw_rules *r, const char *doc, char *err, size_t errsz) {
    fw_lang_rules *rs = NULL;
    if (fw_lang_rules_parse_json(doc, strlen(doc), r, &rs, err, errsz) != FW_OK)
        return NULL;
    return rs;
}

/* ---- the key ---- */

typedef struct key_case {
    const char *name;
    const char *rule;    /* one rule object */
    const char *error;   /* a substring of the message; NULL: accepted with backfill true */
} key_case;

static const key_case key_cases[] = {
    { "aggregate", "{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
                   "\"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 4\", "
                   "\"backfill\": true}", NULL },
    { "sequence", "{\"id\": \"s\", \"type\": \"sequence\", \"group_by\": \"account_id\", "
                  "\"within\": \"1h\", \"steps\": [{\"when\": \"amount > 1\"}, {\"followed_by\": "
                  "\"amount > 2\"}], \"backfill\": true}", NULL },
    { "score", "{\"id\": \"sc\", \"type\": \"score\", \"group_by\": \"account_id\", \"window\": "
               "\"1h\", \"slide\": \"10m\", \"bands\": [{\"name\": \"big\", \"each\": \"amount > 1\", "
               "\"points\": 1}], \"alert_at\": 3, \"backfill\": true}", NULL },
    { "filter: no state to backfill", "{\"id\": \"f\", \"type\": \"filter\", \"when\": "
                                      "\"amount > 1\", \"backfill\": true}",
      "rules[0].backfill: unknown key in a filter rule" },
    { "not a boolean", "{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
                       "\"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": "
                       "\"n >= 4\", \"backfill\": \"yes\"}",
      "rules[0].backfill: expected true or false, got" },
};

static void test_key(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    for (size_t i = 0; i < N(key_cases); i++) {
        const key_case *kc = &key_cases[i];
        char doc[1024], err[512] = "";
        snprintf(doc, sizeof(doc), "{\"rules\": [%s]}", kc->rule);
        fw_lang_rules *rs = parse(&r, doc, err, sizeof(err));
        if (kc->error) {
            if (rs || !strstr(err, kc->error))
                fail_msg("%s: got \"%s\", expected an error with \"%s\"", kc->name,
                         rs ? "(accepted)" : err, kc->error);
            continue;
        }
        if (!rs)
            fail_msg("%s: refused: %s", kc->name, err);
        if (!rs->rules[0].backfill)
            fail_msg("%s: backfill false after parsing, expected true", kc->name);
        fw_buf b;
        fw_buf_init(&b, 0);
        assert_true(fw_lang_rules_write_json(rs, &b, ""));
        if (!strstr(b.data, "\"backfill\": true"))
            fail_msg("%s: show wrote %.*s, expected \"backfill\": true in it", kc->name,
                     (int)b.len, b.data);
        fw_buf_fini(&b);
        fw_lang_rules_destroy(rs);
    }
}

/* ---- the part ---- */

static const char two_rules[] =
    "{\"rules\": ["
    "{\"id\": \"plain\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": "
    "\"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 10\"},"
    "{\"id\": \"bf\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": "
    "\"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 4\", \"backfill\": true}]}";
static const char only_bf[] =
    "{\"rules\": ["
    "{\"id\": \"bf\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": "
    "\"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 4\", \"backfill\": true}]}";

static void test_own_part(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    char err[512];
    fw_lang_rules *two = parse(&r, two_rules, err, sizeof(err)), *one = parse(&r, only_bf, err,
                                                                              sizeof(err));
    assert_non_null(two);
    assert_non_null(one);
    fw_lang_state *s2 = fw_lang_state_new(two), *s1 = fw_lang_state_new(one);
    /* Same shape as "plain", yet a part of its own. */
    if (fw_lang_state_nparts(s2) != 2)
        fail_msg("%zu parts for a plain and a backfill rule of one shape, expected 2",
                 fw_lang_state_nparts(s2));
    uint64_t id1 = fw_lang_state_part_id(s1, 0);
    size_t p = fw_lang_state_find_part(s2, id1);
    if (p == SIZE_MAX || strcmp(fw_lang_state_part_rule(s2, p)->id, "bf"))
        fail_msg("the backfill rule's part id %016llx alone is not its part beside another",
                 (unsigned long long)id1);
    fw_lang_state_destroy(s2);
    fw_lang_state_destroy(s1);
    fw_lang_rules_destroy(two);
    fw_lang_rules_destroy(one);
}

/* ---- replay, the list, the move ---- */

typedef struct alerts {
    int n;
    size_t nevidence;
} alerts;

static void capture(void *opaque, const fw_alert *a) {
    alerts *c = opaque;
    if (a->rule != FW_RULE_LANG)
        return;
    c->n++;
    c->nevidence = a->nevidence;
}

static void feed(fw_engine *e, int i, alerts *c) {
    char id[16];
    snprintf(id, sizeof(id), "t%d", i);
    fw_txn t = { .transaction_id = fw_str_c(id), .ts_ms = T0 + i * 60000LL,
                 .account_id = fw_str_c("A1"), .amount = 20, .amount_raw = fw_str_c("20") };
    fw_engine_process(e, &t, &(fw_engine_out){ .opaque = c, .alert = capture });
}

static fw_engine *engine(const fw_rules *r) {
    char err[256];
    fw_engine *e = fw_engine_new(r, err, sizeof(err));
    assert_non_null(e);
    return e;
}

static const char count1_bf[] =
    "{\"rules\": [{\"id\": \"bf\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
    "\"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 1\", "
    "\"backfill\": true}]}";
static const char consume_bf[] =
    "{\"rules\": [{\"id\": \"bf\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
    "\"lookback\": \"1h\", \"consume\": true, \"aggregates\": {\"n\": \"count\"}, "
    "\"having\": \"n >= 2\", \"backfill\": true}]}";

static const char seq_bf[] =
    "{\"rules\": [{\"id\": \"bf\", \"type\": \"sequence\", \"group_by\": \"account_id\", "
    "\"within\": \"1h\", \"steps\": [{\"when\": \"amount > 1\"}, {\"followed_by\": "
    "\"amount > 2\"}], \"backfill\": true}]}";

typedef struct replay_case {
    const char *name;
    const char *doc;
    int replayed;              /* events fed in replay mode */
    int live_alerts;           /* after one more event live */
    size_t evidence;           /* of that alert */
} replay_case;

static const replay_case replay_cases[] = {
    /* No dedupe stamp in replay: the live event alerts although the rule
     * "would have" alerted a minute before. */
    { "count >= 1: no alert replayed, none deduplicated", count1_bf, 5, 1, 6 },
    /* A consuming rule consumes nothing in replay: all 4 events are evidence. */
    { "consume: nothing consumed in replay", consume_bf, 3, 1, 4 },
    /* A partial match built in replay completes at the first live event;
     * two replayed events complete a match silently (and clear it, as live). */
    { "sequence: a replayed partial match completes live", seq_bf, 1, 1, 2 },
    { "sequence: a match completed in replay is silent and cleared", seq_bf, 2, 0, 0 },
};

static void test_replay(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0;
    for (size_t i = 0; i < N(replay_cases); i++) {
        const replay_case *rc = &replay_cases[i];
        char err[512];
        fw_lang_rules *rs = parse(&r, rc->doc, err, sizeof(err));
        if (!rs)
            fail_msg("%s: %s", rc->name, err);
        fw_engine *e = engine(&r);
        assert_int_equal(fw_engine_set_lang(e, rs, err, sizeof(err)), FW_OK);
        fw_engine_lang_set_replay(e, true);
        alerts c = { 0 };
        for (int k = 1; k <= rc->replayed; k++)
            feed(e, k, &c);
        if (c.n || fw_engine_stats_get(e)->lang_alerts)
            fail_msg("%s: %d alerts (%llu counted) in replay mode, expected 0", rc->name, c.n,
                     (unsigned long long)fw_engine_stats_get(e)->lang_alerts);
        fw_engine_lang_set_replay(e, false);
        feed(e, rc->replayed + 1, &c);
        if (c.n != rc->live_alerts || c.nevidence != rc->evidence)
            fail_msg("%s: %d alerts with %zu evidence live, expected %d with %zu", rc->name,
                     c.n, c.nevidence, rc->live_alerts, rc->evidence);
        fw_engine_destroy(e);
        fw_lang_rules_destroy(rs);
    }
}

static const char plain_only[] =
    "{\"rules\": [{\"id\": \"plain\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
    "\"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 10\"}]}";

typedef struct changes {
    int lang_values;
} changes;

static void on_change(void *opaque, fw_str key, const void *value, size_t len) {
    (void)len;
    if (key.len && key.ptr[0] == 'L' && value)
        ((changes *)opaque)->lang_values++;
}

typedef struct move_case {
    const char *name;
    bool adopt;          /* the scratch part moved into the live engine */
    int alerts;          /* live, at the 4th event */
    size_t evidence;
} move_case;

static const move_case move_cases[] = {
    { "backfilled: the 4th event alerts with the 3 before it", true, 1, 4 },
    { "not backfilled: starts empty, no alert", false, 0, 0 },
};

static void test_list_and_move(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0;
    char err[512];
    fw_lang_rules *a = parse(&r, plain_only, err, sizeof(err));
    fw_lang_rules *b = parse(&r, two_rules, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    fw_engine_backfill bf[4];
    /* A first set (a start: state from the changelog) lists none. */
    fw_engine *fresh = engine(&r);
    assert_int_equal(fw_engine_set_lang(fresh, b, err, sizeof(err)), FW_OK);
    assert_int_equal(fw_engine_lang_backfill(fresh, bf, N(bf)), 0);
    /* The same set again: the part existed, nothing to replay. */
    assert_int_equal(fw_engine_set_lang(fresh, b, err, sizeof(err)), FW_OK);
    assert_int_equal(fw_engine_lang_backfill(fresh, bf, N(bf)), 0);
    fw_engine_destroy(fresh);
    /* From no language rules (a pipeline's engine starts so) to a set: a change. */
    fresh = engine(&r);
    assert_int_equal(fw_engine_set_lang(fresh, NULL, err, sizeof(err)), FW_OK);
    assert_int_equal(fw_engine_set_lang(fresh, b, err, sizeof(err)), FW_OK);
    size_t nn = fw_engine_lang_backfill(fresh, bf, N(bf));
    if (nn != 1)
        fail_msg("%zu backfill rules listed after a change from none, expected 1", nn);
    fw_engine_destroy(fresh);
    for (size_t i = 0; i < N(move_cases); i++) {
        const move_case *mc = &move_cases[i];
        fw_engine *live = engine(&r), *scratch = engine(&r);
        fw_engine_track_changes(live);
        assert_int_equal(fw_engine_set_lang(live, a, err, sizeof(err)), FW_OK);
        alerts c = { 0 };
        for (int k = 1; k <= 3; k++)
            feed(live, k, &c);
        changes ch = { 0 };
        fw_engine_changes(live, on_change, &ch);
        assert_int_equal(fw_engine_set_lang(live, b, err, sizeof(err)), FW_OK);
        size_t n = fw_engine_lang_backfill(live, bf, N(bf));
        if (n != 1 || strcmp(bf[0].rule->id, "bf"))
            fail_msg("%s: %zu backfill rules listed (first %s), expected 1: bf", mc->name, n,
                     n ? bf[0].rule->id : "-");
        /* The replay: the same 3 events through a scratch engine. */
        assert_int_equal(fw_engine_set_lang(scratch, b, err, sizeof(err)), FW_OK);
        fw_engine_lang_set_replay(scratch, true);
        alerts sc = { 0 };
        for (int k = 1; k <= 3; k++)
            feed(scratch, k, &sc);
        assert_int_equal(sc.n, 0);
        if (mc->adopt) {
            size_t moved = 0;
            /* Replay runs the backfill rules only: "plain" built nothing. */
            fw_lang_state *ls = fw_lang_state_new(b);
            size_t pp = strcmp(fw_lang_state_part_rule(ls, 0)->id, "plain") ? 1 : 0;
            uint64_t plain_id = fw_lang_state_part_id(ls, pp);
            fw_lang_state_destroy(ls);
            assert_int_equal(fw_engine_lang_adopt(live, scratch, plain_id, &moved, err,
                                                  sizeof(err)), FW_OK);
            if (moved != 0)
                fail_msg("%s: %zu keys of the non-backfill rule built in replay, expected 0",
                         mc->name, moved);
            assert_int_equal(fw_engine_lang_adopt(live, scratch, bf[0].part_id, &moved, err,
                                                  sizeof(err)), FW_OK);
            if (moved != 1)
                fail_msg("%s: %zu keys moved, expected 1 (A1)", mc->name, moved);
            /* Moved keys go to the changelog; the list is done. */
            ch = (changes){ 0 };
            fw_engine_changes(live, on_change, &ch);
            if (ch.lang_values != 1)
                fail_msg("%s: %d language changelog values after the move, expected 1",
                         mc->name, ch.lang_values);
            assert_int_equal(fw_engine_lang_backfill(live, bf, N(bf)), 0);
        }
        feed(live, 4, &c);
        if (c.n != mc->alerts || c.nevidence != mc->evidence)
            fail_msg("%s: %d alerts with %zu evidence at the 4th event, expected %d with %zu",
                     mc->name, c.n, c.nevidence, mc->alerts, mc->evidence);
        fw_engine_destroy(live);
        fw_engine_destroy(scratch);
    }
    fw_lang_rules_destroy(a);
    fw_lang_rules_destroy(b);
}

static void test_adopt_missing_part(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    char err[512] = "";
    fw_lang_rules *a = parse(&r, plain_only, err, sizeof(err));
    fw_engine *live = engine(&r), *scratch = engine(&r);
    assert_int_equal(fw_engine_set_lang(live, a, err, sizeof(err)), FW_OK);
    size_t moved = 7;
    assert_int_equal(fw_engine_lang_adopt(live, scratch, 42, &moved, err, sizeof(err)),
                     FW_ERR_INVALID);
    assert_int_equal(moved, 0);
    if (!strstr(err, "not in the scratch engine"))
        fail_msg("message \"%s\", expected it to name the scratch engine", err);
    fw_engine_destroy(live);
    fw_engine_destroy(scratch);
    fw_lang_rules_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_own_part),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_list_and_move),
        cmocka_unit_test(test_adopt_missing_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
