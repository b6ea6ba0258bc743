/* test_lang_live.c — language rules and named lists changed live
 * (lang_live.c, fw_engine_set_lang): each rules-topic record against the
 * version left running or the parser's message, tombstones, lists records,
 * the push plan, and the engine's state carried across a change (kept for an
 * unchanged shape, empty for a new one, tombstoned in the changelog). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "lang_live.h"
#include "lang_rules.h"
#include "rules.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char base_doc[] =
    "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 2,"
    " \"group_by\": \"account_id\", \"lookback\": \"1h\","
    " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 5\"}]}";

static fw_lang_live *live_new(void) {
    fw_rules r;
    char err[512];
    fw_rules_defaults(&r);
    fw_lang_live *ll = fw_lang_live_new(&r);
    assert_non_null(ll);
    fw_err rc = fw_lang_live_set_base(ll, base_doc, strlen(base_doc), false, NULL, NULL, err,
                                      sizeof(err));
    if (rc != FW_OK)
        fail_msg("base: %s", err);
    return ll;
}

typedef struct apply_case {
    const char *name;
    const char *key;
    const char *value;            /* NULL: tombstone */
    fw_lang_live_result result;
    const char *err;              /* a substring of the message, when rejected */
    int version;                  /* running after the record */
    size_t nrules;                /* rules in force after it */
} apply_case;

static const apply_case apply_cases[] = {
    { "new filter rule", "big", "{\"id\": \"big\", \"type\": \"filter\", \"when\": \"amount > 10\"}",
      FW_LANG_LIVE_ACCEPTED, NULL, 1, 2 },
    { "base rule raised", "bursts",
      "{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 3, \"group_by\": \"account_id\","
      " \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 4\"}",
      FW_LANG_LIVE_ACCEPTED, NULL, 3, 1 },
    { "same version refused", "bursts",
      "{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 2, \"group_by\": \"account_id\","
      " \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 4\"}",
      FW_LANG_LIVE_REJECTED, "version 2 does not increase (version 2 runs)", 2, 1 },
    { "parser's message with did-you-mean", "big",
      "{\"id\": \"big\", \"type\": \"filter\", \"when\": \"ammount > 10\"}", FW_LANG_LIVE_REJECTED,
      "rules[0].when: unknown field \"ammount\", did you mean \"amount\"?", 0, 1 },
    { "JSON fault with line and column", "big", "{\"id\": \"big\", \"type\": ",
      FW_LANG_LIVE_REJECTED, "invalid JSON", 0, 1 },
    { "id other than the key", "big",
      "{\"id\": \"small\", \"type\": \"filter\", \"when\": \"amount > 10\"}", FW_LANG_LIVE_REJECTED,
      "id: \"small\" is not the record's key \"big\"", 0, 1 },
    { "no type", "big", "{\"id\": \"big\", \"when\": \"amount > 10\"}", FW_LANG_LIVE_REJECTED,
      "no built-in rule", 0, 1 },
    { "an unknown list is not an error", "blk",
      "{\"id\": \"blk\", \"type\": \"filter\", \"when\": \"card_id in list(\\\"later\\\")\"}",
      FW_LANG_LIVE_ACCEPTED, NULL, 1, 2 },
    { "tombstone of a rule the topic lacks", "bursts", NULL, FW_LANG_LIVE_UNCHANGED, NULL, 2, 1 },
    { "empty key", "", "{}", FW_LANG_LIVE_REJECTED, "key: expected a rule id", 0, 1 },
};

static void test_apply(void **state) {
    (void)state;
    for (size_t i = 0; i < N(apply_cases); i++) {
        const apply_case *c = &apply_cases[i];
        fw_lang_live *ll = live_new();
        char err[600];
        int version = -1;
        fw_lang_live_result r =
            fw_lang_live_apply(ll, fw_str_c(c->key), c->value, c->value ? strlen(c->value) : 0,
                               &version, err, sizeof(err));
        if (r != c->result)
            fail_msg("%s: result %d, expected %d (%s)", c->name, r, c->result, err);
        if (c->err && !strstr(err, c->err))
            fail_msg("%s: message \"%s\", expected it to contain \"%s\"", c->name, err, c->err);
        if (version != c->version)
            fail_msg("%s: version %d, expected %d", c->name, version, c->version);
        const fw_lang_rules *rs = fw_lang_live_current(ll);
        size_t n = rs ? rs->n : 0;
        if (n != c->nrules)
            fail_msg("%s: %zu rules in force, expected %zu", c->name, n, c->nrules);
        fw_lang_live_destroy(ll);
    }
}

/* A topic record over a base rule, then its tombstone: the base comes back;
 * a rule only the topic had goes away. */
static void test_tombstones(void **state) {
    (void)state;
    fw_lang_live *ll = live_new();
    char err[600];
    int v;
    fw_lang_rules *taken = NULL;
    assert_true(fw_lang_live_take(ll, &taken)); /* the base */
    fw_lang_rules_destroy(taken);
    const char *raise = "{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 7,"
                        " \"group_by\": \"account_id\", \"lookback\": \"1h\","
                        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 9\"}";
    const char *add = "{\"id\": \"big\", \"type\": \"filter\", \"when\": \"amount > 10\"}";
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("bursts"), raise, strlen(raise), &v, err,
                                        sizeof(err)), FW_LANG_LIVE_ACCEPTED);
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("big"), add, strlen(add), &v, err,
                                        sizeof(err)), FW_LANG_LIVE_ACCEPTED);
    assert_true(fw_lang_live_in_topic(ll, "bursts"));
    assert_int_equal(fw_lang_live_version(ll, "bursts"), 7);
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("bursts"), NULL, 0, &v, err, sizeof(err)),
                     FW_LANG_LIVE_DELETED);
    if (v != 2)
        fail_msg("tombstone: version %d running, expected the base's 2", v);
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("big"), NULL, 0, &v, err, sizeof(err)),
                     FW_LANG_LIVE_DELETED);
    assert_int_equal(v, 0);
    const fw_lang_rules *rs = fw_lang_live_current(ll);
    assert_non_null(rs);
    assert_int_equal(rs->n, 1);
    assert_string_equal(rs->rules[0].having_src, "count >= 5");
    assert_true(fw_lang_live_take(ll, &taken));
    assert_non_null(taken);
    assert_int_equal(taken->n, 1);
    fw_lang_rules_destroy(taken);
    assert_false(fw_lang_live_take(ll, &taken)); /* nothing new since */
    fw_lang_live_destroy(ll);
}

/* Lists: a rule naming a list nobody gave runs (false); a lists record
 * brings the list, the file layer is beneath the topic's, and a bad record
 * names the list. */
static void test_lists(void **state) {
    (void)state;
    fw_lang_live *ll = live_new();
    char err[600];
    int v;
    const char *rule = "{\"id\": \"blk\", \"type\": \"filter\","
                       " \"when\": \"merchant_id in list(\\\"bad_merchants\\\")\"}";
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("blk"), rule, strlen(rule), &v, err,
                                        sizeof(err)), FW_LANG_LIVE_ACCEPTED);
    const fw_lang_rules *rs = fw_lang_live_current(ll);
    const fw_lang_rule *r = fw_lang_rules_find(rs, "blk");
    assert_non_null(r);
    assert_int_equal(rs->nlists, 1);
    assert_true(rs->lists[0].missing);
    assert_int_equal(fw_lang_list_contains(rs, 0, fw_str_c("m1")), -1);

    const char *file = "{\"bad_merchants\": [\"m1\"]}";
    assert_int_equal(fw_lang_live_set_lists_file(ll, file, strlen(file), err, sizeof(err)), FW_OK);
    rs = fw_lang_live_current(ll);
    assert_int_equal(fw_lang_list_contains(rs, 0, fw_str_c("m1")), 1);
    assert_int_equal(fw_lang_list_contains(rs, 0, fw_str_c("m2")), 0);

    const char *topic = "[\"m2\", \"m3\"]";
    assert_int_equal(fw_lang_live_apply_list(ll, fw_str_c("bad_merchants"), topic, strlen(topic),
                                             err, sizeof(err)), FW_LANG_LIVE_ACCEPTED);
    rs = fw_lang_live_current(ll);
    if (fw_lang_list_contains(rs, 0, fw_str_c("m2")) != 1 ||
        fw_lang_list_contains(rs, 0, fw_str_c("m1")) != 0)
        fail_msg("the topic's list must win over the file's: m2 %d (want 1), m1 %d (want 0)",
                 fw_lang_list_contains(rs, 0, fw_str_c("m2")),
                 fw_lang_list_contains(rs, 0, fw_str_c("m1")));

    const char *bad = "[\"m2\", 3]";
    assert_int_equal(fw_lang_live_apply_list(ll, fw_str_c("bad_merchants"), bad, strlen(bad),
                                             err, sizeof(err)), FW_LANG_LIVE_REJECTED);
    if (!strstr(err, "lists.bad_merchants: expected strings only"))
        fail_msg("bad list: message \"%s\"", err);
    assert_int_equal(fw_lang_list_contains(fw_lang_live_current(ll), 0, fw_str_c("m2")), 1);

    assert_int_equal(fw_lang_live_apply_list(ll, fw_str_c("bad_merchants"), NULL, 0, err,
                                             sizeof(err)), FW_LANG_LIVE_DELETED);
    assert_int_equal(fw_lang_list_contains(fw_lang_live_current(ll), 0, fw_str_c("m1")), 1);
    fw_lang_live_destroy(ll);
}

/* A list may pass the 1 MiB of a rules file (it comes from a lists file or
 * topic), up to FW_LANG_MAX_LIST_VALUES values: one more is refused. */
static void test_list_limits(void **state) {
    (void)state;
    fw_lang_live *ll = live_new();
    char err[600];
    size_t max = FW_LANG_MAX_LIST_VALUES;
    size_t cap = 8 * (max + 1) + 16;
    char *v = malloc(cap);
    assert_non_null(v);
    size_t o = 0;
    v[o++] = '[';
    for (size_t i = 0; i < max; i++)
        o += (size_t)snprintf(v + o, cap - o, "%s\"%zx\"", i ? "," : "", i % 0x100000);
    v[o++] = ']';
    assert_true(o > ((size_t)1 << 20));
    fw_lang_live_result r = fw_lang_live_apply_list(ll, fw_str_c("big"), v, o, err, sizeof(err));
    if (r != FW_LANG_LIVE_ACCEPTED)
        fail_msg("a list of %zu values (%zu bytes): %s", max, o, err);
    o--; /* one more value */
    o += (size_t)snprintf(v + o, cap - o, ",\"x\"]");
    r = fw_lang_live_apply_list(ll, fw_str_c("big"), v, o, err, sizeof(err));
    assert_int_equal(r, FW_LANG_LIVE_REJECTED);
    if (!strstr(err, "lists.big: 1000001 values, above the 1000000 a list may have"))
        fail_msg("one value too many: message \"%s\"", err);
    free(v);
    fw_lang_live_destroy(ll);
}

/* A SIGHUP reload: a changed rule must raise its version; the topic's stay. */
static void test_reload(void **state) {
    (void)state;
    fw_lang_live *ll = live_new();
    char err[600];
    const char *same_version =
        "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 2,"
        " \"group_by\": \"account_id\", \"lookback\": \"1h\","
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 3\"}]}";
    assert_int_equal(fw_lang_live_set_base(ll, same_version, strlen(same_version), true, NULL,
                                           NULL, err, sizeof(err)), FW_OK);
    assert_string_equal(fw_lang_live_current(ll)->rules[0].having_src, "count >= 5");
    const char *raised =
        "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 3,"
        " \"group_by\": \"account_id\", \"lookback\": \"1h\","
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 3\"}]}";
    assert_int_equal(fw_lang_live_set_base(ll, raised, strlen(raised), true, NULL, NULL, err,
                                           sizeof(err)), FW_OK);
    assert_string_equal(fw_lang_live_current(ll)->rules[0].having_src, "count >= 3");
    const char *broken = "{\"rules\": [{\"id\": \"x\", \"type\": \"filter\", \"when\": \"+\"}]}";
    assert_int_equal(fw_lang_live_set_base(ll, broken, strlen(broken), true, NULL, NULL, err,
                                           sizeof(err)), FW_ERR_INVALID);
    assert_non_null(strstr(err, "rules[0].when"));
    assert_int_equal(fw_lang_live_version(ll, "bursts"), 3);
    fw_lang_live_destroy(ll);
}

typedef struct planned {
    int n;
    char id[4][FW_LANG_MAX_ID];
    int live[4], version[4];
} planned;

static void on_plan(void *opaque, const char *id, int live_version, int version,
                    const char *entry) {
    planned *p = opaque;
    (void)entry;
    assert_true(p->n < 4);
    snprintf(p->id[p->n], sizeof(p->id[0]), "%s", id);
    p->live[p->n] = live_version;
    p->version[p->n++] = version;
}

static void test_plan(void **state) {
    (void)state;
    fw_lang_live *ll = live_new();
    char err[600];
    planned p = { 0 };
    /* bursts unchanged but for spacing and its version; big is new; having changed on b2. */
    const char *doc =
        "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 1,"
        " \"group_by\":\"account_id\",\"lookback\":\"1h\","
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 5\"},"
        " {\"id\": \"big\", \"type\": \"filter\", \"when\": \"amount > 10\"}]}";
    assert_int_equal(fw_lang_live_plan(ll, doc, strlen(doc), on_plan, &p, err, sizeof(err)),
                     FW_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.id[0], "big");
    assert_int_equal(p.live[0], 0);
    assert_int_equal(p.version[0], 1);
    const char *doc2 =
        "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 1,"
        " \"group_by\":\"account_id\",\"lookback\":\"1h\","
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 4\"}]}";
    p.n = 0;
    assert_int_equal(fw_lang_live_plan(ll, doc2, strlen(doc2), on_plan, &p, err, sizeof(err)),
                     FW_OK);
    assert_int_equal(p.n, 1);
    if (p.version[0] != 3)
        fail_msg("push of a changed rule at version 1 over live 2: version %d, expected 3",
                 p.version[0]);
    fw_lang_live_destroy(ll);
}

/* ---- the engine across a change ---- */

typedef struct alerts {
    int n;
    char last[FW_LANG_MAX_ID];
    int version;
} alerts;

static void capture(void *opaque, const fw_alert *a) {
    alerts *c = opaque;
    if (a->rule != FW_RULE_LANG)
        return;
    c->n++;
    snprintf(c->last, sizeof(c->last), "%s", a->rule_name);
    c->version = a->rc->version;
}

static void feed(fw_engine *e, int i, alerts *c) {
    char id[16];
    snprintf(id, sizeof(id), "t%d", i);
    fw_txn t = { .transaction_id = fw_str_c(id), .ts_ms = 1704067200000 + i * 60000LL,
                 .account_id = fw_str_c("A1"), .amount = 20, .amount_raw = fw_str_c("20") };
    fw_engine_process(e, &t, &(fw_engine_out){ .opaque = c, .alert = capture });
}

static fw_lang_rules *rules_of(const fw_rules *r, const char *having, const char *lookback,
                               int version) {
    char doc[600];
    snprintf(doc, sizeof(doc),
             "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": %d,"
             " \"group_by\": \"account_id\", \"lookback\": \"%s\", \"params\": {\"min\": 5},"
             " \"aggregates\": {\"count\": \"count\"}, \"having\": \"%s\"}]}",
             version, lookback, having);
    fw_lang_rules *rs = NULL;
    char err[512];
    if (fw_lang_rules_parse_json(doc, strlen(doc), r, &rs, err, sizeof(err)) != FW_OK)
        fail_msg("rules: %s", err);
    return rs;
}

typedef struct changes {
    int lang_tombstones, lang_values;
} changes;

static void on_change(void *opaque, fw_str key, const void *value, size_t len) {
    changes *c = opaque;
    (void)len;
    if (key.len && key.ptr[0] == 'L')
        value ? c->lang_values++ : c->lang_tombstones++;
}

typedef struct carry_case {
    const char *name;
    const char *having, *lookback; /* after the change; before: count >= $min (5), 1h */
    int alerts_after_4th;          /* 3 events before the change, 1 after */
    int tombstones;                /* of the old part in the changelog */
} carry_case;

static const carry_case carry_cases[] = {
    { "having changed: state kept", "count >= 4", "1h", 1, 0 },
    { "param in having, same text: state kept", "count >= $min - 1", "1h", 1, 0 },
    { "lookback changed: a new shape starts empty", "count >= 4", "2h", 0, 1 },
};

static void test_engine_carries_state(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0;
    for (size_t i = 0; i < N(carry_cases); i++) {
        const carry_case *cc = &carry_cases[i];
        char err[256];
        fw_engine *e = fw_engine_new(&r, err, sizeof(err));
        assert_non_null(e);
        fw_engine_track_changes(e);
        fw_lang_rules *a = rules_of(&r, "count >= $min", "1h", 1);
        fw_lang_rules *b = rules_of(&r, cc->having, cc->lookback, 2);
        assert_int_equal(fw_engine_set_lang(e, a, err, sizeof(err)), FW_OK);
        alerts c = { 0 };
        for (int k = 1; k <= 3; k++)
            feed(e, k, &c);
        changes ch = { 0 };
        fw_engine_changes(e, on_change, &ch);
        assert_int_equal(c.n, 0);
        assert_int_equal(fw_engine_set_lang(e, b, err, sizeof(err)), FW_OK);
        fw_lang_rules_destroy(a); /* the old set may go once every task switched */
        feed(e, 4, &c);
        if (c.n != cc->alerts_after_4th)
            fail_msg("%s: %d alerts after the 4th event, expected %d", cc->name, c.n,
                     cc->alerts_after_4th);
        if (c.n)
            assert_int_equal(c.version, 2);
        ch = (changes){ 0 };
        fw_engine_changes(e, on_change, &ch);
        if (ch.lang_tombstones != cc->tombstones)
            fail_msg("%s: %d language tombstones, expected %d", cc->name, ch.lang_tombstones,
                     cc->tombstones);
        fw_engine_destroy(e);
        fw_lang_rules_destroy(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_list_limits),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_engine_carries_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
